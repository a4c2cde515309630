"""`python -m services.runtime [worker|api]`: the runtime service (API and worker by default)."""

from __future__ import annotations

import sys

from labs_core.entry import run_service
from services.runtime.bootstrap import serve
from services.runtime.config import Settings


def main() -> None:
    """Entry point; an optional argument picks the role (`worker` for an extra worker)."""
    role = sys.argv[1] if len(sys.argv) > 1 else ""
    run_service("runtime", lambda: Settings(runtime_role=role) if role else Settings(), serve)


if __name__ == "__main__":
    main()
