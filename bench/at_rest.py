"""Stream bytes at rest: what the benchmark's executions take on disk once their blocks are sealed.

nats-server compresses a file-store block (S2) when the block is full and a new one is started;
the block being written stays uncompressed. A run's messages therefore sit partly in sealed,
compressed blocks and partly in the open block, and the directory's growth over one run says
little about either. Here a run's messages (subjects, headers and bodies as stored) are copied
into a scratch stream of the same kind whose blocks are small enough (4 MB, from its byte limit)
that some are sealed during the copy; the compression of the sealed blocks, applied to the run's
exact message bytes per execution, is the figure at rest.

The benchmark's executions resemble one another (one category, cached tool answers, the offline
model's fixed text), and S2 finds that repetition across executions in a block: executions with
distinct content take more.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from nats.js import api

#: The scratch stream: with a byte limit nats-server sizes its blocks smaller (4 MB here, measured
#: below as sealed bytes over sealed blocks); the live stream's blocks are 8 MB, which compress
#: at least as well (more history to match against).
PROBE_STREAM = "BENCH_AT_REST"
PROBE_MAX_BYTES = 16 * 1024 * 1024
#: Copy at most this many bytes (below the limit: nothing is discarded).
COPY_BYTES = 9 * 1024 * 1024

_EXPECTED_SEQ = "Nats-Expected-Last-Subject-Sequence"
_EXPECTED_SUBJ = "Nats-Expected-Last-Subject-Sequence-Subject"


def _probe_prefix(prefix: str) -> str:
    """A subject prefix of the same length as `prefix` (so every subject keeps its size)."""
    return ("atrest" * (len(prefix) // 6 + 1))[: len(prefix)]


async def stream_at_rest(
    js: Any,
    streams_dir: Path,
    first_seq: int,
    last_seq: int,
    *,
    stream: str = "AGENTS",
    prefix: str = "agents",
) -> dict[str, Any]:
    """Copy the messages `first_seq..last_seq` of `stream` (up to COPY_BYTES) into a scratch
    stream and measure its sealed blocks; the scratch stream is deleted at the end."""
    t0 = time.perf_counter()
    probe = _probe_prefix(prefix)
    with_cfg = api.StreamConfig(
        name=PROBE_STREAM,
        subjects=[f"{probe}.>"],
        storage=api.StorageType.FILE,
        compression=api.StoreCompression.S2,
        max_bytes=PROBE_MAX_BYTES,
        discard=api.DiscardPolicy.NEW,
    )
    await js.add_stream(with_cfg)
    try:
        sub = await js.pull_subscribe(
            f"{prefix}.>",
            durable=None,
            stream=stream,
            config=api.ConsumerConfig(
                deliver_policy=api.DeliverPolicy.BY_START_SEQUENCE,
                opt_start_seq=first_seq,
                ack_policy=api.AckPolicy.NONE,
                mem_storage=True,
            ),
        )
        copied_bytes = copied = 0
        #: The scratch stream's sequence of the last message on each aggregate filter.
        last_on: dict[str, int] = {}
        pending: list[Any] = []
        done = False
        while not done:
            try:
                msgs = await sub.fetch(500, timeout=2)
            except TimeoutError:
                break
            for m in msgs:
                if m.metadata.sequence.stream > last_seq or copied_bytes >= COPY_BYTES:
                    done = True
                    break
                subject = probe + m.subject[len(prefix) :]
                headers = dict(m.headers or {})
                if _EXPECTED_SUBJ in headers:
                    filt = probe + headers[_EXPECTED_SUBJ][len(prefix) :]
                    headers[_EXPECTED_SUBJ] = filt
                    headers[_EXPECTED_SEQ] = str(last_on.get(filt, 0))
                copied += 1
                seq = copied  # the scratch stream is empty and takes every message, in order
                # Every aggregate filter this subject falls under ("<prefix>.<type>.<id>.>").
                parts = subject.split(".")
                last_on[".".join(parts[:3]) + ".>"] = seq
                pending.append(js.publish(subject, m.data, headers=headers or None))
                copied_bytes += (
                    len(m.subject) + len(m.data) + sum(len(k) + len(v) + 4 for k, v in headers.items())
                )
                if len(pending) >= 256:
                    await asyncio.gather(*pending)
                    pending = []
        if pending:
            await asyncio.gather(*pending)
        await sub.unsubscribe()
        await asyncio.sleep(0.5)  # let the server finish compressing the last sealed block
        state = (await js.stream_info(PROBE_STREAM)).state
        folder = streams_dir / PROBE_STREAM / "msgs"
        blocks = sorted(folder.glob("*.blk"), key=lambda p: int(p.stem))
        sizes = [p.stat().st_size for p in blocks]
        if len(sizes) < 2:
            return {"messages": state.messages, "sealed_blocks": 0, "note": "too few bytes to seal a block"}
        open_block = sizes[-1]  # uncompressed: its file holds the raw records
        sealed_raw = state.bytes - open_block
        ratio = sum(sizes[:-1]) / sealed_raw
        return {
            "label": "the full-speed run's messages copied into a scratch S2 stream; its sealed blocks measured",
            "messages": state.messages,
            "message_bytes": state.bytes,
            "sealed_blocks": len(sizes) - 1,
            "block_raw_bytes": sealed_raw // (len(sizes) - 1),
            "sealed_raw_bytes": sealed_raw,
            "sealed_disk_bytes": sum(sizes[:-1]),
            "s2_ratio": ratio,
            "seconds": round(time.perf_counter() - t0, 2),
        }
    finally:
        await js.delete_stream(PROBE_STREAM)
