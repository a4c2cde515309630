"""Replay's reader: a plain NATS connection of its own whose deliveries are parsed in bulk.

Reading one event through nats-py costs 11-14 µs before any projection code runs (its parser,
a header dict per message, a Msg, a subscription queue), more than decoding the event. Replay
needs none of that: the stream sequence and the pending count are in the JetStream reply
subject, the subject is in the frame, the headers are never read. So replay pulls through a
connection of its own and walks each chunk read from the socket with `bytes.find`, decoding
each delivered event straight into a StoredEvent.

Only plain `nats://` connections (optionally with user/password or a token in the URL) are
spoken here; `WireConnection.open` answers None for anything else (TLS, other credentials) and
replay falls back to the client.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from typing import Any, Protocol
from urllib.parse import ParseResult

from labs_core.errors import EventLogUnavailable

#: One read from the socket: big enough that a chunk holds hundreds of events.
_READ_SIZE = 1 << 20
#: No frame at all for this long (pull requests expire every few seconds, answered with a status).
_READ_TIMEOUT_S = 30.0
_CRLF = b"\r\n"


class WireConnection:
    """One plain NATS connection; frames of each subscription go to its sink."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.inbox = "_INBOX." + secrets.token_hex(11)
        self.sinks: dict[bytes, WireSink] = {}
        self._buf = b""

    @classmethod
    async def open(cls, url: ParseResult | None, name: str = "replay") -> WireConnection | None:
        """Connect and handshake; None when `url` is not a plain nats:// server (TLS, websocket)."""
        if url is None or url.scheme != "nats" or not url.hostname:
            return None
        try:
            reader, writer = await asyncio.open_connection(url.hostname, url.port or 4222, limit=_READ_SIZE)
        except OSError as e:
            raise EventLogUnavailable(f"replay cannot connect to {url.hostname}:{url.port}: {e}") from e
        conn = cls(reader, writer)
        try:
            async with asyncio.timeout(5):
                line = await reader.readline()
                if not line.startswith(b"INFO "):
                    raise EventLogUnavailable(f"replay: unexpected greeting {line[:80]!r}")
                info = json.loads(line[5:])
                # TLS, or credentials the URL does not carry (nkeys, JWT): left to the client.
                if (
                    info.get("tls_required")
                    or not info.get("headers", False)
                    or (info.get("auth_required") and not url.username)
                ):
                    await conn.close()
                    return None
                opts: dict[str, Any] = {
                    "verbose": False,
                    "pedantic": False,
                    "headers": True,
                    "no_responders": True,
                    "protocol": 1,
                    "lang": "python-replay",
                    "version": "1",
                    "name": name,
                }
                if url.username and url.password is not None:
                    opts["user"], opts["pass"] = url.username, url.password
                elif url.username:
                    opts["auth_token"] = url.username
                writer.write(b"CONNECT " + json.dumps(opts).encode() + b"\r\nPING\r\n")
                while True:
                    line = await reader.readline()
                    if not line:
                        raise EventLogUnavailable("replay: connection closed during handshake")
                    if line.startswith(b"PONG"):
                        break
                    if line.startswith(b"-ERR"):
                        raise EventLogUnavailable(f"replay: server refused: {line.strip().decode()}")
        except BaseException:
            await conn.close()
            raise
        return conn

    def subscribe(self, sink: WireSink) -> str:
        """A subscription of its own for `sink`; returns its inbox (the reply subject of pulls)."""
        sid = str(len(self.sinks) + 1)
        subject = f"{self.inbox}.{sid}"
        self.sinks[sid.encode()] = sink
        self.writer.write(f"SUB {subject} {sid}\r\n".encode())
        return subject

    def publish(self, subject: str, reply: str, body: bytes) -> None:
        self.writer.write(f"PUB {subject} {reply} {len(body)}\r\n".encode() + body + _CRLF)

    async def pump(self) -> None:
        """Read one chunk from the socket and hand every complete frame in it to its sink."""
        await self.writer.drain()
        try:
            async with asyncio.timeout(_READ_TIMEOUT_S):
                data = await self.reader.read(_READ_SIZE)
        except TimeoutError as e:
            raise EventLogUnavailable(f"replay: nothing read for {_READ_TIMEOUT_S:.0f} s") from e
        if not data:
            raise EventLogUnavailable("replay: the server closed the connection")
        buf = self._buf + data if self._buf else data
        self._buf = buf[self._parse(buf) :]

    def _parse(self, buf: bytes) -> int:
        """Dispatch the complete frames of `buf`; returns where the first incomplete one starts."""
        pos = 0
        end = len(buf)
        sinks = self.sinks
        find = buf.find
        while pos < end:
            eol = find(_CRLF, pos)
            if eol < 0:
                return pos
            op = buf[pos : pos + 4]
            if op == b"HMSG" or op == b"MSG ":
                args = buf[pos:eol].split()
                if op == b"HMSG":  # HMSG <subject> <sid> [reply] <header bytes> <total bytes>
                    hlen, total = int(args[-2]), int(args[-1])
                else:  # MSG <subject> <sid> [reply] <bytes>
                    hlen, total = 0, int(args[-1])
                start = eol + 2
                if start + total + 2 > end:
                    return pos
                sink = sinks.get(args[2])
                reply = args[3] if len(args) == (6 if op == b"HMSG" else 5) else b""
                if sink is not None:
                    if total == hlen:  # no payload: a status (no messages, expired, heartbeat)
                        head = buf[start : start + hlen]
                        sink.on_status(head[9:12] if head[8:9] == b" " else b"", head)
                    else:
                        sink.on_event(args[1], reply, buf[start + hlen : start + total])
                pos = start + total + 2
                continue
            if op == b"PING":
                self.writer.write(b"PONG\r\n")
            elif op == b"-ERR":
                raise EventLogUnavailable(f"replay: server error {buf[pos:eol].decode(errors='replace')}")
            # INFO (a cluster update), PONG, +OK: nothing to do.
            pos = eol + 2
        return pos

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(Exception):
            await self.writer.wait_closed()


class WireSink(Protocol):
    """What a subscription's frames go to."""

    def on_event(self, subject: bytes, reply: bytes, payload: bytes) -> None:
        """One message of the subscription: its subject, reply (ack) subject and payload."""

    def on_status(self, status: bytes, head: bytes) -> None:
        """A status frame (no messages, request expired, heartbeat): its code and raw headers."""


def ack_position(reply: bytes) -> tuple[int, int]:
    """(stream sequence, pending) from a JetStream ack subject, v1 or v2 form."""
    t = reply.split(b".")
    if len(t) == 9:  # $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>
        return int(t[5]), int(t[8])
    return int(t[7]), int(t[10])
