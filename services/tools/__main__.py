"""`python -m services.tools`: read the settings, serve until SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import logging

from labs_core.grpcutil import install_signal_handlers
from services.tools.bootstrap import serve
from services.tools.config import Settings


async def main() -> None:
    """Serve with settings from the environment."""
    settings = Settings()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stop = asyncio.Event()
    install_signal_handlers(stop)
    await serve(settings, stop)


if __name__ == "__main__":
    try:
        import uvloop

        uvloop.run(main())
    except ImportError:
        asyncio.run(main())
