-- The read model keeps where an execution's large payloads are in the log instead of copies of
-- them: the output is the ExecutionCompleted event's, a tool call's arguments and result are its
-- ToolCallCompleted event's, and GetExecution reads those events by sequence (direct get). About
-- 60 % of the schema's bytes per execution were these copies.
--
-- The new columns can only be filled from the log, so the projection starts again from sequence
-- 1: its tables are emptied and its checkpoint removed, and the projector replays at start-up.
TRUNCATE executions, tool_calls, model_calls, failed_attempts, agents, agent_memory;
DELETE FROM projection_checkpoints WHERE projection = 'runtime.executions';

ALTER TABLE executions DROP COLUMN output;
ALTER TABLE executions ADD COLUMN output_seq bigint;
ALTER TABLE tool_calls DROP COLUMN arguments;
ALTER TABLE tool_calls DROP COLUMN result;
ALTER TABLE tool_calls ADD COLUMN seq bigint NOT NULL;
