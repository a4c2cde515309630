"""Runs the sample projection in its own process so a test can SIGKILL it mid-batch."""

from __future__ import annotations

import asyncio
import sys

from labs_core.eventlog import EventLog
from labs_core.projector import Projector
from labs_core.tests.sample_projection import ListingTitles


async def main(nats_url: str, stream: str, prefix: str, db: str, schema: str, pause: float) -> None:
    log = await EventLog.connect(nats_url, stream=stream, prefix=prefix)
    projector = Projector(log, db, schema, ListingTitles(prefix, pause_after_apply=pause), batch_size=1000)
    await projector.run()


if __name__ == "__main__":
    a = sys.argv[1:]
    asyncio.run(main(a[0], a[1], a[2], a[3], a[4], float(a[5])))
