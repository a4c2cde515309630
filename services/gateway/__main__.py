"""`python -m services.gateway`: read the settings, serve until SIGINT/SIGTERM."""

from __future__ import annotations

from labs_core.entry import run_service
from services.gateway.bootstrap import serve
from services.gateway.config import Settings


def main() -> None:
    """Entry point."""
    run_service("gateway", Settings, serve)


if __name__ == "__main__":
    main()
