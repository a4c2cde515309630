"""`python -m services.llm`: read the settings, serve until SIGINT/SIGTERM."""

from __future__ import annotations

from labs_core.entry import run_service
from services.llm.bootstrap import serve
from services.llm.config import Settings


def main() -> None:
    """Entry point."""
    run_service("llm", Settings, serve)


if __name__ == "__main__":
    main()
