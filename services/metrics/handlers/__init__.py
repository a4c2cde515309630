"""Use cases of the metrics service."""
