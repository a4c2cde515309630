"""The offline provider and the local token estimate (pure, no servers)."""

from __future__ import annotations

import json
import time

import pytest

from services.llm.adapters.offline import LABEL, answer
from services.llm.domain import tokens
from services.llm.domain.model import LENGTH, STOP, GenerateRequest

pytestmark = pytest.mark.timeout(10)

REPORT = (
    "Sales in Q3 rose 12.5% to $4,200,000 across 37 stores. The northern region led growth "
    "while the southern region declined -3%. Management expects margins to recover next quarter "
    "as inventory clears. Inventory levels remain high in 12 stores, and stores in the south "
    "carry the most inventory."
)


def test_token_estimate_counts_words_and_punctuation() -> None:
    assert tokens.estimate_tokens("Hello, world!") == 4
    assert tokens.estimate_tokens("a", "b c", "") == 3
    assert tokens.estimate_tokens("  \n ") == 0


def test_truncate_keeps_a_prefix_of_at_most_n_tokens() -> None:
    assert tokens.truncate_to_tokens("one two, three", 3) == ("one two,", True)
    assert tokens.truncate_to_tokens("one two", 5) == ("one two", False)
    assert tokens.truncate_to_tokens("one", 0) == ("", True)


def test_answer_is_labelled_and_digests_the_prompt() -> None:
    c = answer(GenerateRequest(prompt=REPORT))
    assert c.text.startswith(LABEL)
    assert "not a model's answer" in c.text
    assert "Summary: Sales in Q3 rose 12.5% to $4,200,000 across 37 stores. The northern region" in c.text
    # "Q3" is a name, not a number; signs and currency symbols stay with their number.
    assert "Key numbers: 12.5%, $4,200,000, 37, -3%, 12\n" in c.text
    assert c.text.endswith("Keywords: stores, inventory, region, sales, rose")
    assert c.finish_reason == STOP


def test_answer_is_deterministic_and_depends_on_the_prompt() -> None:
    req = GenerateRequest(prompt=REPORT, system="be brief", temperature=1.5)
    assert answer(req) == answer(GenerateRequest(prompt=REPORT, system="be brief", temperature=1.5))
    assert answer(req).text != answer(GenerateRequest(prompt="Plan the Berlin launch for 3 May.")).text


def test_usage_is_the_documented_estimate() -> None:
    req = GenerateRequest(prompt=REPORT, system="You are terse.")
    c = answer(req)
    assert c.usage.estimated
    assert c.usage.input_tokens == tokens.estimate_tokens("You are terse.", REPORT)
    assert c.usage.output_tokens == tokens.estimate_tokens(c.text)


@pytest.mark.parametrize("limit", [1, 4, 10, 25])
def test_max_output_tokens_is_honoured(limit: int) -> None:
    c = answer(GenerateRequest(prompt=REPORT, max_output_tokens=limit))
    assert c.usage.output_tokens <= limit
    assert c.finish_reason == LENGTH
    if limit >= 4:
        assert c.text.startswith(LABEL)


def test_stop_sequence_cuts_the_answer() -> None:
    c = answer(GenerateRequest(prompt=REPORT, stop=("Key numbers",)))
    assert "Summary:" in c.text
    assert "Key numbers" not in c.text
    assert c.finish_reason == STOP


def test_json_mode_returns_a_labelled_json_object() -> None:
    c = answer(GenerateRequest(prompt=REPORT, json_mode=True))
    doc = json.loads(c.text)
    assert doc["offline_provider"] is True
    assert doc["summary"].startswith("Sales in Q3 rose 12.5%")
    assert doc["key_numbers"] == ["12.5%", "$4,200,000", "37", "-3%", "12"]
    assert doc["keywords"][:2] == ["stores", "inventory"]


@pytest.mark.parametrize("limit", [1, 7, 12, 20, 33, 60, 200])
def test_json_mode_stays_valid_json_under_any_token_limit(limit: int) -> None:
    tricky = 'He said "ship it" \\ now.\nNext line: 5 ünits at 3.5€. ' + REPORT
    c = answer(GenerateRequest(prompt=tricky, json_mode=True, max_output_tokens=limit))
    doc = json.loads(c.text)
    assert doc["offline_provider"] is True
    assert c.usage.output_tokens <= max(limit, 7)  # 7: the smallest object there is


def test_answers_in_well_under_a_millisecond() -> None:
    req = GenerateRequest(prompt=REPORT * 4, system="Summarise.", max_output_tokens=200)
    best = min(_mean_seconds(req, 200) for _ in range(5))
    assert best < 0.0005, f"{best * 1e6:.0f} µs per answer"


def _mean_seconds(req: GenerateRequest, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        answer(req)
    return (time.perf_counter() - start) / n
