"""`python -m services.llm`: read the settings, serve until SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import logging

from labs_core.grpcutil import install_signal_handlers
from services.llm.bootstrap import serve
from services.llm.config import Settings


async def main() -> None:
    """Run the llm service."""
    settings = Settings()
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    stop = asyncio.Event()
    install_signal_handlers(stop)
    await serve(settings, stop)


if __name__ == "__main__":
    try:
        import uvloop
    except ImportError:
        asyncio.run(main())
    else:
        uvloop.run(main())
