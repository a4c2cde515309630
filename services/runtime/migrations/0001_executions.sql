-- The runtime's read models: executions and their calls, and the registered agents.
CREATE TABLE executions (
  execution_id text PRIMARY KEY,
  task_id text NOT NULL,
  agent_type text NOT NULL,
  action text NOT NULL,
  input jsonb NOT NULL,
  status text NOT NULL,
  output jsonb,
  error_category text,
  error_message text,
  error_attempt int,
  attempts int NOT NULL DEFAULT 0,
  queued_at timestamptz NOT NULL,
  started_at timestamptz,
  finished_at timestamptz,
  tokens_in bigint NOT NULL DEFAULT 0,
  tokens_out bigint NOT NULL DEFAULT 0,
  cost_usd double precision NOT NULL DEFAULT 0,
  request_id text NOT NULL DEFAULT '',
  submitted_by text NOT NULL DEFAULT '',
  timeout_ms int NOT NULL DEFAULT 0,
  max_tokens bigint NOT NULL DEFAULT 0,
  max_cost_usd double precision NOT NULL DEFAULT 0,
  cancel_requested_at timestamptz,
  cancel_requested_by text,
  cancel_reason text,
  phases jsonb,
  tool_call_count int NOT NULL DEFAULT 0,
  version bigint NOT NULL
);
CREATE INDEX executions_by_agent ON executions (agent_type, queued_at DESC, execution_id DESC);
CREATE INDEX executions_running ON executions (agent_type) WHERE status IN ('RUNNING', 'RETRYING');

CREATE TABLE tool_calls (
  execution_id text NOT NULL,
  attempt int NOT NULL,
  step int NOT NULL,
  tool text NOT NULL,
  arguments jsonb NOT NULL,
  result jsonb,
  duration_us bigint NOT NULL,
  outcome text NOT NULL,
  error_message text NOT NULL DEFAULT '',
  PRIMARY KEY (execution_id, attempt, step)
);

CREATE TABLE model_calls (
  execution_id text NOT NULL,
  attempt int NOT NULL,
  step int NOT NULL,
  provider text NOT NULL,
  model text NOT NULL,
  tokens_in bigint NOT NULL,
  tokens_out bigint NOT NULL,
  cost_usd double precision NOT NULL,
  duration_us bigint NOT NULL,
  outcome text NOT NULL,
  PRIMARY KEY (execution_id, attempt, step)
);

CREATE TABLE failed_attempts (
  execution_id text NOT NULL,
  attempt int NOT NULL,
  category text NOT NULL,
  message text NOT NULL,
  retry_delay_ms int NOT NULL,
  failed_at timestamptz NOT NULL,
  PRIMARY KEY (execution_id, attempt)
);

CREATE TABLE agents (
  agent_type text PRIMARY KEY,
  version int NOT NULL,
  description text NOT NULL,
  actions text[] NOT NULL,
  allowed_tools text[] NOT NULL,
  timeout_ms int NOT NULL,
  max_timeout_ms int NOT NULL,
  max_attempts int NOT NULL,
  initial_delay_ms int NOT NULL,
  max_delay_ms int NOT NULL,
  jitter double precision NOT NULL,
  definition_hash text NOT NULL,
  registered_at timestamptz NOT NULL
);
