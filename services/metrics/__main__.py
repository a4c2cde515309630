"""`python -m services.metrics`: read the settings, serve until SIGINT/SIGTERM."""

from __future__ import annotations

from labs_core.entry import run_service
from services.metrics.bootstrap import serve
from services.metrics.config import Settings


def main() -> None:
    """Entry point."""
    run_service("metrics", Settings, serve)


if __name__ == "__main__":
    main()
