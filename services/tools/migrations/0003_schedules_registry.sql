-- Schedules, their fired occurrences, and tools registered at run time by other services.
-- Times come from the events' occurred_at (or the occurrence's own nominal time).
CREATE TABLE schedules (
  id text COLLATE "C" PRIMARY KEY,
  cron text NOT NULL,
  timezone text NOT NULL,
  agent_type text NOT NULL,
  action text NOT NULL,
  input jsonb NOT NULL DEFAULT '{}'::jsonb,
  missed_policy text NOT NULL,
  description text NOT NULL DEFAULT '',
  created_by text NOT NULL DEFAULT '',
  status text NOT NULL,
  created_at timestamptz NOT NULL,
  cancelled_at timestamptz,
  cancel_reason text NOT NULL DEFAULT '',
  -- The latest occurrence fired or passed over: the scheduler continues after it.
  last_occurrence_at timestamptz,
  fired_count integer NOT NULL DEFAULT 0,
  skipped_count integer NOT NULL DEFAULT 0
);
CREATE INDEX schedules_status ON schedules (status, id);

CREATE TABLE schedule_occurrences (
  schedule_id text COLLATE "C" NOT NULL,
  occurrence_at timestamptz NOT NULL,
  execution_id text NOT NULL,
  request_id text NOT NULL,
  fired_at timestamptz NOT NULL,
  skipped_before integer NOT NULL DEFAULT 0,
  error text NOT NULL DEFAULT '',
  PRIMARY KEY (schedule_id, occurrence_at)
);

CREATE TABLE remote_tools (
  name text COLLATE "C" PRIMARY KEY,
  definition jsonb NOT NULL,
  address text NOT NULL,
  status text NOT NULL,
  registered_at timestamptz NOT NULL,
  retired_at timestamptz,
  retire_reason text NOT NULL DEFAULT '',
  last_sequence bigint NOT NULL
);
