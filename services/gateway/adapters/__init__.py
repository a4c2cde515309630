"""Outbound adapters: long-lived gRPC channels to the backend services."""
