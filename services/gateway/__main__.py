"""`python -m services.gateway`: read the settings and serve until SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import logging

from labs_core.grpcutil import install_signal_handlers
from services.gateway.bootstrap import serve
from services.gateway.config import Settings


async def _main(settings: Settings) -> None:
    stop = asyncio.Event()
    install_signal_handlers(stop)
    await serve(settings, stop)


def main() -> None:
    """Entry point."""
    settings = Settings()
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency, but the gateway runs without it
        asyncio.run(_main(settings))
    else:
        uvloop.run(_main(settings))


if __name__ == "__main__":
    main()
