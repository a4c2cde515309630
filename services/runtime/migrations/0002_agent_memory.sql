-- Agent memory: the latest value of each key per agent type, projected from memory_written events.
CREATE TABLE agent_memory (
  agent_type text NOT NULL,
  key text NOT NULL,
  value jsonb NOT NULL,
  execution_id text NOT NULL,
  updated_at timestamptz NOT NULL,
  version bigint NOT NULL,
  PRIMARY KEY (agent_type, key)
);
-- The agent type of each execution, so memory events (which do not repeat it) are attributed.
CREATE INDEX executions_id_type ON executions (execution_id) INCLUDE (agent_type);
