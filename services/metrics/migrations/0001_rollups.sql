-- Metrics read model: rollups of execution events per agent type and time bucket.
-- Every rollup table is kept at several grains (grain_s = 60, 900, 3600 seconds); bucket is the
-- start of the grain bucket (UTC, epoch-aligned). Rows only ever grow by adding deltas.

-- Working state: what the projection remembers of each execution, to attribute events that do not
-- repeat the agent type and to measure latency (terminal time - request time, in nanoseconds).
CREATE TABLE executions (
  execution_id text PRIMARY KEY,
  agent_type text NOT NULL,
  requested_ns bigint,          -- NULL when the request was never seen
  status text,                  -- terminal status, NULL while the execution has not ended
  finished_ns bigint
);

-- Executions that ended in the bucket (by terminal event time), their latency, and the model
-- usage recorded in the bucket (by model call time).
CREATE TABLE agent_rollups (
  grain_s integer NOT NULL,
  bucket timestamptz NOT NULL,
  agent_type text NOT NULL,
  completed bigint NOT NULL DEFAULT 0,
  failed bigint NOT NULL DEFAULT 0,
  cancelled bigint NOT NULL DEFAULT 0,
  timed_out bigint NOT NULL DEFAULT 0,
  latency_count bigint NOT NULL DEFAULT 0,
  latency_sum_ns bigint NOT NULL DEFAULT 0,
  latency_min_ns bigint,
  latency_max_ns bigint,
  tokens_in bigint NOT NULL DEFAULT 0,
  tokens_out bigint NOT NULL DEFAULT 0,
  cost_usd numeric NOT NULL DEFAULT 0,   -- exact: sums do not depend on batch boundaries
  model_calls bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (grain_s, bucket, agent_type)
);

-- Latency histogram: count of executions per fixed log-spaced bucket (index into the bounds in
-- services/metrics/domain/histogram.py). Sparse: only non-empty buckets have a row.
CREATE TABLE latency_histogram (
  grain_s integer NOT NULL,
  bucket timestamptz NOT NULL,
  agent_type text NOT NULL,
  le_index smallint NOT NULL,
  count bigint NOT NULL,
  PRIMARY KEY (grain_s, bucket, agent_type, le_index)
);

-- Tool calls and tool errors per tool.
CREATE TABLE tool_rollups (
  grain_s integer NOT NULL,
  bucket timestamptz NOT NULL,
  agent_type text NOT NULL,
  tool text NOT NULL,
  calls bigint NOT NULL DEFAULT 0,
  errors bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (grain_s, bucket, agent_type, tool)
);

-- Errors per category: executions that ended with it, attempts retried after it, and the most
-- recent message (the one with the highest stream sequence).
CREATE TABLE error_rollups (
  grain_s integer NOT NULL,
  bucket timestamptz NOT NULL,
  agent_type text NOT NULL,
  category text NOT NULL,
  failures bigint NOT NULL DEFAULT 0,
  retries bigint NOT NULL DEFAULT 0,
  example text NOT NULL DEFAULT '',
  example_seq bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (grain_s, bucket, agent_type, category)
);

-- Custom metrics (metric_updated): the sum of deltas per name.
CREATE TABLE custom_metric_rollups (
  grain_s integer NOT NULL,
  bucket timestamptz NOT NULL,
  agent_type text NOT NULL,
  name text NOT NULL,
  value numeric NOT NULL DEFAULT 0,
  updates bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (grain_s, bucket, agent_type, name)
);
