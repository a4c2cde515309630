"""The one way a service process starts: settings, logging, tracing, uvloop, graceful stop."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

import uvloop

from labs_core import tracing
from labs_core.grpcutil import install_signal_handlers
from labs_core.settings import CommonSettings

S = TypeVar("S", bound=CommonSettings)


def run_service(
    name: str, settings_factory: Callable[[], S], serve: Callable[[S, asyncio.Event], Awaitable[None]]
) -> None:
    """Read the settings (a bad variable fails here, named), then serve until SIGINT/SIGTERM."""
    settings = settings_factory()
    logging.basicConfig(
        level=settings.log_level.upper(), format=f"%(asctime)s {name} %(levelname)s %(name)s: %(message)s"
    )
    tracing.setup(name)

    async def main() -> None:
        stop = asyncio.Event()
        install_signal_handlers(stop)
        try:
            await serve(settings, stop)
        finally:
            tracing.shutdown()

    uvloop.run(main())
