"""Identity, permissions and rate limits at the edge."""
