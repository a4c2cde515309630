-- executions_id_type duplicated the primary key's index and only cost writes.
DROP INDEX IF EXISTS executions_id_type;
