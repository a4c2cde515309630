"""The gateway: HTTP/JSON <-> gRPC edge driven by the google.api.http annotations; no database."""
