"""Projections of the metrics service."""
