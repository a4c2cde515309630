"""Use cases: invoking a tool, seeding the catalogue."""
