"""`python -m services.tools`: read the settings, serve until SIGINT/SIGTERM."""

from __future__ import annotations

from labs_core.entry import run_service
from services.tools.bootstrap import serve
from services.tools.config import Settings


def main() -> None:
    """Entry point."""
    run_service("tools", Settings, serve)


if __name__ == "__main__":
    main()
