"""`labs-audit`: verify the read models against the log, tell an execution's story, export events.

Exit status: 0 fine, 1 a difference was found (verify) or nothing is known of the execution
(story), 2 the audit could not run (bad arguments, unreachable log or database).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TextIO

from audit import verify
from audit.export import export_lines, parse_time
from audit.settings import AuditSettings
from audit.story import tell
from labs_core.errors import LabsError
from labs_core.eventlog import EventLog


def parser() -> argparse.ArgumentParser:
    """The command line."""
    p = argparse.ArgumentParser(
        prog="labs-audit",
        description="Audit the agent runtime from its event log. Reads NATS_URL, DATABASE_URL, STREAM_NAME, "
        "SUBJECT_PREFIX, RUNTIME_SCHEMA, TOOLS_SCHEMA, METRICS_SCHEMA.",
    )
    sub = p.add_subparsers(dest="command", required=True)
    v = sub.add_parser(
        "verify", help="rebuild every read model from sequence 1 and diff it with the live one"
    )
    v.add_argument("--service", action="append", choices=sorted(verify.SERVICES), help="only these services")
    s = sub.add_parser("story", help="an execution's story from the log alone")
    s.add_argument("execution_id")
    e = sub.add_parser("export", help="events appended in [since, until) as JSON lines")
    e.add_argument(
        "--since", required=True, help="ISO 8601 time (UTC if naive) or a duration ago: 30m, 2h, 7d"
    )
    e.add_argument("--until", default="", help="ISO 8601 time or a duration ago; default now")
    e.add_argument(
        "--subject-filter", default="", help="NATS subject filter, e.g. agents.execution.*.requested"
    )
    return p


async def amain(argv: Sequence[str], settings: AuditSettings | None = None, out: TextIO | None = None) -> int:
    """Run one command; returns the exit status. Settings come from the environment unless given."""
    out = out or sys.stdout
    args = parser().parse_args(list(argv))
    settings = settings or AuditSettings()
    now = datetime.now(UTC)
    if args.command == "export":
        try:
            since = parse_time(args.since, now=now)
            until = parse_time(args.until, now=now) if args.until else now
        except ValueError as exc:
            print(f"labs-audit: --since/--until: {exc}", file=sys.stderr)
            return 2
    try:
        eventlog = await EventLog.connect(
            settings.nats_url, stream=settings.stream_name, prefix=settings.subject_prefix, name="labs-audit"
        )
    except LabsError as exc:
        print(f"labs-audit: {exc}", file=sys.stderr)
        return 2
    try:
        if args.command == "verify":
            reports = await verify.verify_all(eventlog, settings, only=args.service or ())
            for line in verify.render(reports):
                print(line, file=out)
            if any(r.error for r in reports):
                return 2 if all(not r.differences for r in reports) else 1
            bad = [r for r in reports if r.differences]
            print(
                f"{'DIFFERENCES in ' + str(len(bad)) + ' projection(s)' if bad else 'all read models match the log'}",
                file=out,
            )
            return 1 if bad else 0
        if args.command == "story":
            events = await eventlog.read_aggregate("execution", args.execution_id)
            for line in tell(args.execution_id, events):
                print(line, file=out)
            return 0 if events else 1
        async for line in export_lines(eventlog, since, until, args.subject_filter):
            print(line, file=out)
        return 0
    except (LabsError, OSError) as exc:
        print(f"labs-audit: {exc}", file=sys.stderr)
        return 2
    finally:
        await eventlog.close()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `labs-audit` script."""
    logging.basicConfig(level=logging.WARNING)
    return asyncio.run(amain(sys.argv[1:] if argv is None else argv))
