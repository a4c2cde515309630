"""`python -m services.runtime [worker|api]`: the runtime service (API and worker by default)."""

from __future__ import annotations

import asyncio
import logging
import sys

import uvloop

from labs_core.grpcutil import install_signal_handlers
from services.runtime.bootstrap import serve
from services.runtime.config import Settings


async def _main() -> None:
    overrides = {"runtime_role": sys.argv[1]} if len(sys.argv) > 1 else {}
    settings = Settings(**overrides)  # type: ignore[arg-type]
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s runtime %(levelname)s %(name)s: %(message)s"
    )
    stop = asyncio.Event()
    install_signal_handlers(stop)
    await serve(settings, stop)


if __name__ == "__main__":
    uvloop.run(_main())
