"""Projections of the tools service."""
