"""Shared code of every service: settings, event log, projector, migrations, gRPC helpers."""
