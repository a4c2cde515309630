"""The OpenAPI document and API reference page, generated from the protos at start-up."""
