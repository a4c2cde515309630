-- The role execute_database_query runs as (SET LOCAL ROLE inside a READ ONLY transaction):
-- it may read this schema's read models and nothing else; it owns nothing and writes nothing.
DO $$
DECLARE
  r text := current_schema() || '_query_reader';
BEGIN
  BEGIN
    EXECUTE format('CREATE ROLE %I NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION NOBYPASSRLS', r);
  EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL; -- created by an earlier migration of a schema with the same name, or concurrently
  END;
  -- The service's own login must be able to SET ROLE to it.
  EXECUTE format('GRANT %I TO %I', r, current_user);
  EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I', current_schema(), r);
  EXECUTE format('GRANT SELECT ON ALL TABLES IN SCHEMA %I TO %I', current_schema(), r);
  -- Read models added by later migrations are readable too.
  EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT SELECT ON TABLES TO %I', current_schema(), r);
  -- Bookkeeping is not a read model.
  EXECUTE format('REVOKE ALL ON schema_migrations, projection_checkpoints FROM %I', r);
END
$$;
