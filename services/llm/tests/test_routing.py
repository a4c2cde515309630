"""Fallbacks, retries, Retry-After and the circuit breaker, with real SDKs against fake servers."""

from __future__ import annotations

import asyncio
import time

import pytest

from services.llm.adapters.offline import LABEL
from services.llm.bootstrap import build_proxy
from services.llm.domain.errors import AllProvidersFailed, UnknownModel
from services.llm.domain.model import GenerateRequest
from services.llm.tests.conftest import SettingsFactory
from services.llm.tests.fakes import FakeGemini, FakeOpenAI, Reply

pytestmark = [
    pytest.mark.timeout(20),
    pytest.mark.filterwarnings("ignore:Inheritance class AiohttpClientSession:DeprecationWarning"),
]

ASK = GenerateRequest(prompt="What changed in Q3 sales?")


@pytest.mark.parametrize("status", [429, 500, 503])
async def test_falls_back_on_rate_limit_and_server_errors(
    make_settings: SettingsFactory, gemini_server: FakeGemini, openai_server: FakeOpenAI, status: int
) -> None:
    gemini_server.default = Reply(status=status)
    openai_server.script(Reply(text="from openai", input_tokens=10, output_tokens=5))
    proxy = build_proxy(make_settings(gemini=gemini_server, openai=openai_server, llm_retry_attempts=2))
    try:
        g = await proxy.generate(ASK)
    finally:
        await proxy.aclose()
    assert (g.text, g.provider, g.model) == ("from openai", "openai", "gpt-4o-mini")
    assert g.fallbacks == (f"gemini: {status}",)
    assert g.cost_usd == 0.0000045  # priced as the model that answered
    assert len(gemini_server.seen) == 2  # retried once, then fell back


async def test_falls_back_on_timeout_without_retrying(
    make_settings: SettingsFactory, gemini_server: FakeGemini, openai_server: FakeOpenAI
) -> None:
    gemini_server.default = Reply(delay_s=10.0)
    proxy = build_proxy(make_settings(gemini=gemini_server, openai=openai_server, gemini_timeout_s=0.3))
    try:
        started = time.monotonic()
        g = await proxy.generate(ASK)
        elapsed = time.monotonic() - started
    finally:
        await proxy.aclose()
    assert g.provider == "openai" and g.fallbacks == ("gemini: timeout",)
    assert 0.3 <= elapsed < 2.0
    assert len(gemini_server.seen) == 1


async def test_openai_timeout_falls_back_to_gemini(
    make_settings: SettingsFactory, gemini_server: FakeGemini, openai_server: FakeOpenAI
) -> None:
    openai_server.default = Reply(delay_s=10.0)
    proxy = build_proxy(make_settings(gemini=gemini_server, openai=openai_server, openai_timeout_s=0.3))
    try:
        g = await proxy.generate(GenerateRequest(prompt="hi", model="gpt-4o-mini"))
    finally:
        await proxy.aclose()
    assert (g.provider, g.fallbacks) == ("gemini", ("openai: timeout",))
    assert len(openai_server.seen) == 1


async def test_falls_back_when_nothing_listens(make_settings: SettingsFactory) -> None:
    gone_gemini, gone_openai = FakeGemini(), FakeOpenAI()
    for server in (gone_gemini, gone_openai):
        await server.start()
        await server.stop()  # the port is closed now
    proxy = build_proxy(make_settings(gemini=gone_gemini, openai=gone_openai))
    try:
        g = await proxy.generate(ASK)
    finally:
        await proxy.aclose()
    assert g.provider == "offline"
    assert g.fallbacks == ("gemini: connection error", "openai: connection error")


async def test_falls_back_when_a_key_is_missing(
    make_settings: SettingsFactory, openai_server: FakeOpenAI
) -> None:
    proxy = build_proxy(make_settings(openai=openai_server))
    try:
        g = await proxy.generate(ASK)
    finally:
        await proxy.aclose()
    assert g.provider == "openai" and g.fallbacks == ("gemini: unconfigured",)


async def test_no_keys_at_all_gives_the_labelled_offline_answer(make_settings: SettingsFactory) -> None:
    proxy = build_proxy(make_settings())
    g = await proxy.generate(ASK)
    assert g.provider == "offline" and g.model == "offline"
    assert g.fallbacks == ("gemini: unconfigured", "openai: unconfigured")
    assert g.text.startswith(LABEL)
    assert g.usage.estimated and g.cost_usd == 0.0


async def test_an_openai_model_falls_back_to_gemini(
    make_settings: SettingsFactory, gemini_server: FakeGemini, openai_server: FakeOpenAI
) -> None:
    openai_server.default = Reply(status=500)
    proxy = build_proxy(make_settings(gemini=gemini_server, openai=openai_server, llm_retry_attempts=1))
    try:
        g = await proxy.generate(GenerateRequest(prompt="hi", model="gpt-4o"))
    finally:
        await proxy.aclose()
    assert (g.provider, g.model, g.fallbacks) == ("gemini", "gemini-2.0-flash", ("openai: 500",))


async def test_a_request_fault_is_not_retried(
    make_settings: SettingsFactory, gemini_server: FakeGemini, openai_server: FakeOpenAI
) -> None:
    openai_server.default = Reply(status=400)
    proxy = build_proxy(make_settings(gemini=gemini_server, openai=openai_server))
    try:
        g = await proxy.generate(GenerateRequest(prompt="hi", model="gpt-4o"))
        assert g.fallbacks == ("openai: 400",)
        assert len(openai_server.seen) == 1
        assert proxy.available("openai")
    finally:
        await proxy.aclose()


async def test_a_wrong_key_falls_back(
    make_settings: SettingsFactory, gemini_server: FakeGemini, openai_server: FakeOpenAI
) -> None:
    proxy = build_proxy(make_settings(gemini=gemini_server, openai=openai_server))
    openai_server.api_key = "another-key"  # the proxy still sends test-openai-key
    try:
        g = await proxy.generate(GenerateRequest(prompt="hi", model="gpt-4o"))
    finally:
        await proxy.aclose()
    assert g.provider == "gemini" and g.fallbacks == ("openai: 401",)


async def test_everything_failing_without_offline_lists_every_reason(
    make_settings: SettingsFactory, gemini_server: FakeGemini, openai_server: FakeOpenAI
) -> None:
    gemini_server.default = Reply(status=503, retry_delay="30s")
    openai_server.default = Reply(status=429, headers={"Retry-After": "20"})
    proxy = build_proxy(
        make_settings(gemini=gemini_server, openai=openai_server, allow_offline_fallback=False)
    )
    try:
        with pytest.raises(AllProvidersFailed) as e:
            await proxy.generate(ASK)
    finally:
        await proxy.aclose()
    assert e.value.failures == ("gemini: 503", "openai: 429")
    assert e.value.retry_after_s == 20.0
    # Hints longer than LLM_MAX_RETRY_AFTER_S are not waited for.
    assert len(gemini_server.seen) == 1 and len(openai_server.seen) == 1


async def test_offline_can_still_be_asked_for_by_name(make_settings: SettingsFactory) -> None:
    proxy = build_proxy(make_settings(allow_offline_fallback=False))
    with pytest.raises(AllProvidersFailed) as e:
        await proxy.generate(ASK)
    assert e.value.failures == ("gemini: unconfigured", "openai: unconfigured")
    g = await proxy.generate(GenerateRequest(prompt="hi", model="offline"))
    assert g.provider == "offline" and g.fallbacks == ()


async def test_retry_after_header_is_honoured(
    make_settings: SettingsFactory, gemini_server: FakeGemini, openai_server: FakeOpenAI
) -> None:
    openai_server.script(Reply(status=429, headers={"Retry-After": "0.4"}), Reply(text="second try"))
    proxy = build_proxy(make_settings(gemini=gemini_server, openai=openai_server))
    try:
        g = await proxy.generate(GenerateRequest(prompt="hi", model="gpt-4o-mini"))
    finally:
        await proxy.aclose()
    assert (g.text, g.provider, g.fallbacks) == ("second try", "openai", ())
    first, second = openai_server.seen
    assert second.at - first.at >= 0.4
    assert not gemini_server.seen


async def test_gemini_retry_info_is_honoured(
    make_settings: SettingsFactory, gemini_server: FakeGemini
) -> None:
    gemini_server.script(Reply(status=429, retry_delay="0.3s"), Reply(text="second try"))
    proxy = build_proxy(make_settings(gemini=gemini_server))
    try:
        g = await proxy.generate(ASK)
    finally:
        await proxy.aclose()
    assert (g.text, g.provider, g.fallbacks) == ("second try", "gemini", ())
    first, second = gemini_server.seen
    assert second.at - first.at >= 0.3


async def test_the_caller_deadline_bounds_the_wait(
    make_settings: SettingsFactory, gemini_server: FakeGemini
) -> None:
    gemini_server.default = Reply(delay_s=10.0)
    proxy = build_proxy(make_settings(gemini=gemini_server, gemini_timeout_s=5.0))
    try:
        started = time.monotonic()
        g = await proxy.generate(ASK, budget_s=0.3)
        elapsed = time.monotonic() - started
    finally:
        await proxy.aclose()
    assert g.provider == "offline"
    assert g.fallbacks == ("gemini: timeout", "openai: unconfigured")
    assert elapsed < 1.0


async def test_breaker_opens_after_n_failures_and_closes_after_cooldown(
    make_settings: SettingsFactory, gemini_server: FakeGemini, openai_server: FakeOpenAI
) -> None:
    gemini_server.default = Reply(status=500)
    proxy = build_proxy(
        make_settings(
            gemini=gemini_server,
            openai=openai_server,
            llm_retry_attempts=1,
            llm_breaker_threshold=2,
            llm_breaker_cooldown_s=0.5,
        )
    )
    try:
        for _ in range(2):
            assert (await proxy.generate(ASK)).fallbacks == ("gemini: 500",)
        assert not proxy.available("gemini")
        listed = {m.spec.name: m.available for m in proxy.list_models()}
        assert not listed["gemini-2.0-flash"] and listed["gpt-4o-mini"]
        g = await proxy.generate(ASK)
        assert g.provider == "openai" and g.fallbacks == ("gemini: circuit open",)
        assert len(gemini_server.seen) == 2  # the open breaker kept the third call away

        gemini_server.default = Reply(text="gemini is back")
        await asyncio.sleep(0.55)
        assert proxy.available("gemini")  # half-open: a probe may go
        g = await proxy.generate(ASK)
        assert (g.provider, g.text, g.fallbacks) == ("gemini", "gemini is back", ())
        assert proxy.breakers["gemini"].state.value == "closed"
    finally:
        await proxy.aclose()


async def test_unknown_model_is_refused(make_settings: SettingsFactory) -> None:
    proxy = build_proxy(make_settings())
    with pytest.raises(UnknownModel) as e:
        await proxy.generate(GenerateRequest(prompt="hi", model="gpt-17"))
    assert e.value.field == "model"
