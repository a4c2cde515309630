"""Adapters: the Postgres rollup reader and the JetStream queue probe."""
