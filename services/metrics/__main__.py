"""`python -m services.metrics`: the metrics service, configured from the environment."""

from __future__ import annotations

import asyncio
import logging

from labs_core.grpcutil import install_signal_handlers
from services.metrics.bootstrap import serve
from services.metrics.config import Settings


async def main() -> None:
    """Read settings, stop on SIGINT/SIGTERM, serve."""
    settings = Settings()
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    stop = asyncio.Event()
    install_signal_handlers(stop)
    await serve(settings, stop)


if __name__ == "__main__":
    asyncio.run(main())
