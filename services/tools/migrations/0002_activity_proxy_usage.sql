-- Model usage as the model proxy recorded it (ModelCallRecorded, correlated to the execution):
-- it includes calls a tool made on the execution's behalf (generate_content), which the
-- runtime's own ModelCallCompleted events do not see.
ALTER TABLE activity_executions
  ADD COLUMN proxy_calls integer NOT NULL DEFAULT 0,
  ADD COLUMN proxy_tokens_in bigint NOT NULL DEFAULT 0,
  ADD COLUMN proxy_tokens_out bigint NOT NULL DEFAULT 0,
  ADD COLUMN proxy_cost_usd double precision NOT NULL DEFAULT 0;
