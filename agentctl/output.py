"""Output: proto3 JSON for scripts, tables and one-line summaries for people."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from google.protobuf import json_format
from google.protobuf.message import Message


def to_obj(msg: Message) -> Any:
    """A message as proto3 JSON, integral numbers printed as integers (78, not 78.0)."""
    return _integral(json_format.MessageToDict(msg, always_print_fields_with_no_presence=True))


def _integral(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _integral(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_integral(v) for v in obj]
    if type(obj) is float and obj.is_integer() and abs(obj) < 2**53:
        return int(obj)
    return obj


def print_json(obj: Any, out: TextIO = sys.stdout) -> None:
    """One JSON document on one line."""
    print(json.dumps(obj, ensure_ascii=False, separators=(",", ":")), file=out, flush=True)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], out: TextIO = sys.stdout) -> None:
    """A plain aligned table."""
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    for n, r in enumerate(cells):
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip(), file=out)
        if n == 0:
            print("  ".join("-" * w for w in widths), file=out)
    out.flush()


def fmt_ms(ms: float) -> str:
    """Milliseconds for people."""
    if not ms:
        return "-"
    return f"{ms:.0f} ms" if ms < 10_000 else f"{ms / 1000:.1f} s"


class Spinner:
    """A progress indicator on stderr, only when stderr is a terminal."""

    FRAMES = "|/-\\"

    def __init__(self, stream: TextIO = sys.stderr) -> None:
        self.stream = stream
        self.on = stream.isatty()
        self.n = 0

    def tick(self, text: str) -> None:
        """Redraw the line."""
        if self.on:
            self.n += 1
            self.stream.write(f"\r{self.FRAMES[self.n % 4]} {text}\033[K")
            self.stream.flush()

    def done(self) -> None:
        """Clear the line."""
        if self.on:
            self.stream.write("\r\033[K")
            self.stream.flush()
