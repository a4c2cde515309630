"""The service layer: routing, retries, fallbacks, circuit breakers, tokens and cost."""
