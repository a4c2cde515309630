"""One long-lived gRPC channel per backend service, shared by the HTTP and gRPC doors."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping

import grpc

from labs_core import grpcutil

_CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", 16 * 1024 * 1024),
    ("grpc.max_send_message_length", 16 * 1024 * 1024),
    ("grpc.keepalive_time_ms", 30_000),
    # A backend that comes back is found within a couple of seconds, not gRPC's default 2 minutes.
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.min_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 2_000),
]


class UnknownBackend(LookupError):
    """A route names a backend that has no address in the settings."""


class Backends:
    """Channels to the backends, opened lazily on first use and closed together."""

    def __init__(self, addresses: Mapping[str, str]) -> None:
        self.addresses = dict(addresses)
        self._channels: dict[str, grpc.aio.Channel] = {}

    def address(self, name: str) -> str:
        """The host:port of a backend."""
        try:
            return self.addresses[name]
        except KeyError:
            raise UnknownBackend(
                f"no address for backend {name!r}; known: {sorted(self.addresses)}"
            ) from None

    def channel(self, name: str) -> grpc.aio.Channel:
        """The backend's channel (created inside the running event loop on first use)."""
        ch = self._channels.get(name)
        if ch is None:
            ch = grpcutil.channel(self.address(name), options=_CHANNEL_OPTIONS)
            self._channels[name] = ch
        return ch

    async def close(self) -> None:
        """Close every channel (idempotent)."""
        channels, self._channels = list(self._channels.values()), {}
        for ch in channels:
            with contextlib.suppress(Exception):
                await ch.close()
