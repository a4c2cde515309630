"""Adapters: the event log (listing events) and the Postgres read model."""
