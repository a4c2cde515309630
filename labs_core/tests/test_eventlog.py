"""The event log against a real nats-server: dedup, optimistic concurrency, reads."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from labs.events.v1 import agent_pb2, listing_pb2

from labs_core.errors import ConcurrencyConflict
from labs_core.eventlog import EventLog, new_event


def created(listing_id: str, title: str = "Lamp", price: int = 1000):
    return new_event(
        "listing",
        listing_id,
        listing_created=listing_pb2.ListingCreated(listing_id=listing_id, title=title, price_cents=price),
    )


def price(listing_id: str, old: int, new: int):
    return new_event(
        "listing",
        listing_id,
        listing_price_changed=listing_pb2.ListingPriceChanged(
            listing_id=listing_id, old_price_cents=old, new_price_cents=new
        ),
    )


async def test_same_message_id_is_stored_once(eventlog: EventLog) -> None:
    a = await eventlog.append(created("l1"), msg_id="cmd-1")
    b = await eventlog.append(created("l1"), msg_id="cmd-1")
    assert not a.duplicate and b.duplicate
    assert b.sequence == a.sequence
    history = await eventlog.read_aggregate("listing", "l1")
    assert [e.sequence for e in history] == [a.sequence]
    assert await eventlog.last_sequence() == 1


async def test_racing_appends_one_wins_the_other_conflicts(eventlog: EventLog) -> None:
    first = await eventlog.append(created("l2"), expected_sequence=0)
    results = await asyncio.gather(
        eventlog.append(price("l2", 1000, 900), expected_sequence=first.sequence),
        eventlog.append(price("l2", 1000, 800), expected_sequence=first.sequence),
        return_exceptions=True,
    )
    wins = [r for r in results if not isinstance(r, BaseException)]
    losses = [r for r in results if isinstance(r, BaseException)]
    assert len(wins) == 1 and len(losses) == 1
    assert isinstance(losses[0], ConcurrencyConflict)
    history = await eventlog.read_aggregate("listing", "l2")
    assert len(history) == 2


async def test_conflict_maps_to_aborted() -> None:
    import grpc

    from labs_core.grpcutil import status_code_for

    assert status_code_for(ConcurrencyConflict("listing/x", 3)) == grpc.StatusCode.ABORTED


async def test_new_aggregate_expectation_refuses_existing(eventlog: EventLog) -> None:
    await eventlog.append(created("l3"), expected_sequence=0)
    with pytest.raises(ConcurrencyConflict):
        await eventlog.append(created("l3"), expected_sequence=0)


async def test_other_aggregates_do_not_disturb_expectations(eventlog: EventLog) -> None:
    a = await eventlog.append(created("l4"), expected_sequence=0)
    await eventlog.append(created("l5"), expected_sequence=0)
    ok = await eventlog.append(price("l4", 1000, 1), expected_sequence=a.sequence)
    assert ok.sequence == 3


async def test_read_aggregate_and_first_sequence(eventlog: EventLog) -> None:
    await eventlog.append(created("x"))
    await eventlog.append(created("a"))
    await eventlog.append(price("a", 1000, 500))
    hist = await eventlog.read_aggregate("listing", "a")
    assert [e.event.WhichOneof("payload") for e in hist] == ["listing_created", "listing_price_changed"]
    assert hist[0].subject == f"{eventlog.prefix}.listing.a.created"
    assert await eventlog.first_sequence("listing", "a") == 2
    assert await eventlog.first_sequence("listing", "missing") is None


async def test_read_at_gets_exactly_the_sequences_asked(eventlog: EventLog) -> None:
    seqs = [(await eventlog.append(created(f"r{i}"))).sequence for i in range(4)]
    got = await eventlog.read_at([seqs[2], seqs[0], seqs[2], seqs[3] + 100], at_once=2)
    assert sorted(got) == [seqs[0], seqs[2]]  # asked twice, answered once; past the end: left out
    assert got[seqs[2]].event.aggregate_id == "r2" and got[seqs[2]].sequence == seqs[2]
    assert got[seqs[0]].subject == f"{eventlog.prefix}.listing.r0.created"
    assert await eventlog.read_at([]) == {}


async def test_subscribe_from_a_sequence(eventlog: EventLog) -> None:
    for i in range(5):
        await eventlog.append(created(f"s{i}"))
    got: list[int] = []
    async with asyncio.timeout(10):
        async for batch in eventlog.subscribe([f"{eventlog.prefix}.listing.>"], 3):
            got.extend(e.sequence for e in batch)
            if got and got[-1] == 5:
                break
    assert got == [3, 4, 5]
    assert await eventlog.pending_count([f"{eventlog.prefix}.listing.>"], 2) == 4


def test_subject_matcher() -> None:
    from labs_core.eventlog.log import SubjectMatcher

    m = SubjectMatcher(["a.execution.>", "a.agent.*.registered"])
    assert m("a.execution.x.requested") and m("a.execution.x")
    assert m("a.agent.MARKET.registered")
    assert not m("a.execution") and not m("a.agent.MARKET.other") and not m("a.listing.x.created")
    assert not m("b.execution.x.requested")


def test_subject_matcher_agrees_with_token_matching() -> None:
    """The compiled matcher gives what matching token by token gives, on every combination."""
    import itertools

    from labs_core.eventlog.log import SubjectMatcher

    def _matches(f: list[str], tokens: list[str]) -> bool:
        for i, ft in enumerate(f):
            if ft == ">":
                return len(tokens) > i
            if i >= len(tokens) or (ft != "*" and ft != tokens[i]):
                return False
        return len(tokens) == len(f)

    filters = ["a.execution.>", "a.execution.*.requested", "a.*.x.>", "a.llmcall.*.recorded", "a.b.c", "*.>"]
    tokens = ["a", "b", "c", "x", "execution", "llmcall", "requested", "recorded", "a-b", "r+q"]
    subjects = [".".join(t) for n in range(1, 5) for t in itertools.product(tokens, repeat=n)]
    for k in range(1, 3):
        for fs in itertools.combinations(filters, k):
            m = SubjectMatcher(fs)
            for s in subjects:
                want = any(_matches(f.split("."), s.split(".")) for f in fs)
                assert m(s) == want, (fs, s)


async def test_subscribe_to_several_subjects_keeps_order_and_skips_the_rest(eventlog: EventLog) -> None:
    p = eventlog.prefix
    for i in range(30):
        await eventlog.append(created(f"m{i}"))
        await eventlog.append(new_event("execution", f"e{i}", execution_requested=_req()))
    got: list[int] = []
    async with asyncio.timeout(10):
        async for batch in eventlog.subscribe([f"{p}.execution.>", f"{p}.agent.>"], 1, batch_size=7):
            got += [e.sequence for e in batch]
            assert all(".execution." in e.subject for e in batch)
            if len(got) == 30:
                break
    assert got == list(range(2, 61, 2))


def _req():
    from labs.events.v1 import execution_pb2

    return execution_pb2.ExecutionRequested(agent_type="MARKET", action="a")


async def test_replay_merges_one_consumer_per_subject_in_order_and_ends(eventlog: EventLog) -> None:
    p = eventlog.prefix
    for i in range(40):
        await eventlog.append(created(f"m{i}"))
        if i % 3 == 0:
            await eventlog.append(new_event("execution", f"e{i}", execution_requested=_req()))
        if i % 7 == 0:
            await eventlog.append(
                new_event("agent", "MARKET", agent_registered=agent_pb2.AgentRegistered(agent_type="MARKET"))
            )
    subjects = [f"{p}.execution.>", f"{p}.agent.>"]
    want: list[int] = []
    async with asyncio.timeout(10):
        async for batch in eventlog.subscribe(subjects, 1):
            want += [e.sequence for e in batch]
            if len(want) == 20:
                break
    head = await eventlog.last_sequence()
    async with asyncio.timeout(20):
        for size in (1, 3, 1000):
            got = [[e.sequence for e in b] async for b in eventlog.replay(subjects, 1, batch_size=size)]
            assert [s for b in got for s in b] == want, size
            assert all(0 < len(b) <= size for b in got)
        # Overlapping filters give each event once; a filter with no events ends at once.
        overlap = [f"{p}.execution.>", f"{p}.execution.*.requested", f"{p}.agent.>", f"{p}.nothing.>"]
        assert [e.sequence async for b in eventlog.replay(overlap) for e in b] == want
        # From a sequence, up to a bound, with events appended after the bound.
        await eventlog.append(new_event("execution", "late", execution_requested=_req()))
        mid = want[7]
        got2 = [e.sequence async for b in eventlog.replay(subjects, mid, until=head) for e in b]
        assert got2 == want[7:]
        assert [e.sequence async for b in eventlog.replay(subjects, head + 1, until=head) for e in b] == []
        assert [e.subject.split(".")[1] async for b in eventlog.replay([f"{p}.listing.>"], 1) for e in b] == [
            "listing"
        ] * 40


async def test_the_stream_is_compressed_and_an_uncompressed_one_is_brought_to_it(eventlog: EventLog) -> None:
    from nats.js import api

    info = await eventlog.js.stream_info(eventlog.stream)
    assert info.config.compression == api.StoreCompression.S2
    # A stream created before compression was on (an older `make up`): upgraded in place, data kept.
    await eventlog.append(created("l-old"))
    info.config.compression = api.StoreCompression.NONE
    await eventlog.js.update_stream(info.config)
    assert (await eventlog.js.stream_info(eventlog.stream)).config.compression == api.StoreCompression.NONE
    again = await eventlog.ensure_stream()
    assert again.config.compression == api.StoreCompression.S2
    assert [e.event.aggregate_id for e in await eventlog.read_aggregate("listing", "l-old")] == ["l-old"]
    off = await eventlog.ensure_stream(compression="none")
    assert off.config.compression == api.StoreCompression.NONE


async def test_a_subscription_ends_when_its_tasks_cancellation_was_swallowed(eventlog: EventLog) -> None:
    """On Python 3.11 an awaited asyncio.wait_for (inside nats-py's API calls) can swallow a
    cancellation; the subscription must still end instead of waiting for events forever."""
    entered = asyncio.Event()

    async def owner() -> None:
        try:
            entered.set()
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            pass  # swallowed, as wait_for may do; the task still counts the request
        async for _ in eventlog.subscribe([f"{eventlog.prefix}.listing.>"], 1):
            pass

    task = asyncio.create_task(owner())
    await entered.wait()
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=5)
    assert done, "the subscription kept waiting after its task was cancelled"
    assert task.cancelled()


async def _first_live_batches(eventlog: EventLog, linger_s: float) -> list[list[int]]:
    """Batches a live subscription hands over while 6 events arrive 10 ms apart."""
    got: list[list[int]] = []
    start = await eventlog.last_sequence() + 1

    async def read() -> None:
        async for batch in eventlog.subscribe([f"{eventlog.prefix}.listing.>"], start, linger_s=linger_s):
            got.append([e.sequence for e in batch])
            if sum(map(len, got)) >= 6:
                return

    reader = asyncio.create_task(read())
    await asyncio.sleep(0.2)  # the consumer is live and caught up
    for i in range(6):
        await eventlog.append(created(f"lg-{int(linger_s * 1000)}-{i}"))
        await asyncio.sleep(0.01)
    await asyncio.wait_for(reader, 5)
    return got


async def test_a_live_batch_lingers_only_when_asked(eventlog: EventLog) -> None:
    at_once = await _first_live_batches(eventlog, 0.0)
    assert len(at_once) >= 4  # each event handed over as it comes (the machine may pair a few)
    lingering = await _first_live_batches(eventlog, 0.5)
    assert len(lingering) == 1 and len(lingering[0]) == 6  # all six within the first's 0.5 s


async def test_an_urgent_event_ends_the_linger(eventlog: EventLog) -> None:
    start = await eventlog.last_sequence() + 1
    handed: list[tuple[float, list[str]]] = []
    loop = asyncio.get_running_loop()

    async def read() -> None:
        async for batch in eventlog.subscribe(
            [f"{eventlog.prefix}.listing.>"],
            start,
            linger_s=2.0,
            urgent=lambda subject: subject.endswith(".price_changed"),
        ):
            handed.append((loop.time(), [e.event.WhichOneof("payload") for e in batch]))
            return

    reader = asyncio.create_task(read())
    await asyncio.sleep(0.2)
    t0 = loop.time()
    await eventlog.append(created("u1"))
    await eventlog.append(created("u2"))
    await asyncio.sleep(0.05)
    await eventlog.append(price("u1", 1000, 900))
    await asyncio.wait_for(reader, 5)
    at, kinds = handed[0]
    assert kinds == ["listing_created", "listing_created", "listing_price_changed"]
    assert at - t0 < 1.0  # not the 2 s linger


async def test_replay_over_its_own_connection_equals_replay_through_the_client(eventlog: EventLog) -> None:
    from urllib.parse import urlparse

    from labs_core.eventlog.wire import WireConnection

    p = eventlog.prefix
    for i in range(120):
        # A few events far larger than one read from the socket (1 MB): frames cut across reads.
        title = "x" * 400_000 if i % 40 == 5 else f"Lamp {i}"
        await eventlog.append(created(f"m{i}", title=title))
        if i % 4 == 0:
            await eventlog.append(new_event("execution", f"e{i}", execution_requested=_req()))
    subjects = [f"{p}.listing.*.created", f"{p}.execution.*.requested"]
    through_client = EventLog(eventlog.nc, eventlog.stream, eventlog.prefix)
    through_client.replay_over_wire = False
    async with asyncio.timeout(20):
        for size in (1, 7, 5000):
            wire = [
                (e.sequence, e.subject, e.event)
                async for b in eventlog.replay(subjects, 1, batch_size=size)
                for e in b
            ]
            client = [
                (e.sequence, e.subject, e.event)
                async for b in through_client.replay(subjects, 1, batch_size=size)
                for e in b
            ]
            assert wire == client, size
            assert len(wire) == 150
            assert sum(ev.listing_created.title == "x" * 400_000 for _, _, ev in wire) == 3
        # The wire path is the one taken on this (plain) server; TLS is left to the client.
        conn = await WireConnection.open(eventlog.nc.connected_url)
        assert conn is not None
        await conn.close()
        assert await WireConnection.open(urlparse("tls://127.0.0.1:4222")) is None
        # No consumer is left behind.
        assert [c async for c in _consumer_names(eventlog)] == []


async def _consumer_names(eventlog: EventLog):
    for info in await eventlog.js.consumers_info(eventlog.stream):
        yield info.name


def test_replay_reads_each_event_through_one_consumer_only() -> None:
    from labs_core.eventlog.log import _covering

    assert _covering(["a.execution.>", "a.agent.>", "a.execution.*.requested", "a.llm.*.m", "a.agent.>"]) == [
        "a.execution.>",
        "a.agent.>",
        "a.llm.*.m",
    ]
    assert _covering(["a.*.x", "a.b.x", "a.b.*", "a.b.>", "a.b", "a.*"]) == ["a.*.x", "a.b.>", "a.*"]
    # `a.*.>` is covered by `a.>`, not the other way round; `a.*` does not cover `a.b.c`.
    assert _covering(["a.*.>", "a.>"]) == ["a.>"]
    assert _covering(["a.*", "a.b.c"]) == ["a.*", "a.b.c"]


async def test_replay_over_its_own_connection_to_a_server_that_wants_a_password(tmp_path: Path) -> None:
    import subprocess
    from urllib.parse import urlparse

    from deploy.local.servers import ServerProcess, free_port, nats_server_binary, wait_port
    from labs_core.eventlog.wire import WireConnection

    port = free_port()
    cmd = [nats_server_binary(), "-js", "-sd", str(tmp_path / "js"), "-a", "127.0.0.1", "-p", str(port)]
    proc = subprocess.Popen(
        [*cmd, "--user", "reader", "--pass", "s3cret"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    srv = ServerProcess("nats", proc, f"nats://reader:s3cret@127.0.0.1:{port}", tmp_path / "nats.log")
    try:
        wait_port(port, 15, proc, "nats-server")
        async with asyncio.timeout(20):
            log = await EventLog.connect(srv.url, stream="AUTHED", prefix="authed")
            try:
                await log.ensure_stream()
                for i in range(5):
                    await log.append(created(f"a{i}"))
                assert [e.sequence async for b in log.replay(["authed.listing.>"]) for e in b] == [
                    1,
                    2,
                    3,
                    4,
                    5,
                ]
                conn = await WireConnection.open(log.nc.connected_url)
                assert conn is not None  # the credentials of the URL are used
                await conn.close()
                # A URL without them: the wire reader stands aside (replay uses the client then).
                assert await WireConnection.open(urlparse(f"nats://127.0.0.1:{port}")) is None
            finally:
                await log.close()
    finally:
        srv.stop()


@pytest.mark.parametrize("bad", ["", "*", ">", "a.b", "a b", "x\x00", "a\tb", "é"])
async def test_an_id_that_is_not_one_literal_subject_token_never_becomes_a_subject(
    eventlog: EventLog, bad: str
) -> None:
    from labs_core.errors import InvalidArgument

    with pytest.raises(InvalidArgument):
        await eventlog.read_aggregate("execution", bad)
    with pytest.raises(InvalidArgument):
        await eventlog.first_sequence("execution", bad)
