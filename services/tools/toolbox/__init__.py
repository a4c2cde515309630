"""The tools themselves, grouped by category, each registered on an explicit Registry."""
