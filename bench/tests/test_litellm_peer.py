"""How the benchmark picks up the LiteLLM peer and reports it beside the llm proxy (issue 8)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bench.report import aims, llm_line, ratios
from bench.standalone import compare_with_litellm, litellm_venv, litellm_version

pytestmark = pytest.mark.timeout(10)

RESULT: dict[str, Any] = {
    "c1": {
        "direct": {"requests": 10, "rps": 500.0, "p50_ms": 1.8, "p99_ms": 2.2, "added_p50_ms": 0.0},
        "llm": {"requests": 10, "rps": 340.0, "p50_ms": 2.8, "p99_ms": 3.5, "added_p50_ms": 1.0},
        "litellm": {"requests": 10, "rps": 44.0, "p50_ms": 14.8, "p99_ms": 20.0, "added_p50_ms": 13.0},
    },
    "c32": {
        "direct": {"requests": 10, "rps": 540.0, "p50_ms": 57.0, "p99_ms": 90.0, "added_p50_ms": 0.0},
        "llm": {"requests": 10, "rps": 470.0, "p50_ms": 57.0, "p99_ms": 70.0, "added_p50_ms": 0.0},
        "litellm": {"requests": 10, "rps": 84.0, "p50_ms": 380.0, "p99_ms": 500.0, "added_p50_ms": 323.0},
    },
}


def _venv(tmp_path: Path, version: str = "1.2.3") -> Path:
    venv = tmp_path / ".venv-litellm"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "litellm").write_text("#!/bin/sh\n")
    (venv / "lib" / "python3.11" / "site-packages" / f"litellm-{version}.dist-info").mkdir(parents=True)
    return venv


def test_the_venv_is_used_only_in_a_full_run_when_litellm_is_installed(tmp_path: Path) -> None:
    venv = _venv(tmp_path)
    assert litellm_venv(False, venv) == (venv, None)
    assert litellm_version(venv) == "1.2.3"
    none, why = litellm_venv(True, venv)
    assert none is None and why is not None and "quick run" in why
    none, why = litellm_venv(False, tmp_path / "absent")
    assert none is None and why is not None and "make bench-deps" in why


def test_a_failed_install_is_skipped_with_its_reason(tmp_path: Path) -> None:
    venv = _venv(tmp_path)
    (venv / "install-failed.txt").write_text("Collecting litellm\nERROR: No matching distribution found\n")
    none, why = litellm_venv(False, venv)
    assert none is None and why is not None and "No matching distribution found" in why


def test_added_latencies_and_their_ratio_per_concurrency() -> None:
    cmp = compare_with_litellm(RESULT)
    assert cmp["c1"] == {
        "llm_added_p50_ms": 1.0,
        "litellm_added_p50_ms": 13.0,
        "litellm_over_llm": 13.0,
        "llm_rps": 340.0,
        "litellm_rps": 44.0,
    }
    assert cmp["c32"]["litellm_over_llm"] is None  # ours added nothing measurable: no ratio
    assert compare_with_litellm({"c1": {k: v for k, v in RESULT["c1"].items() if k != "litellm"}}) == {}


def test_the_report_shows_both_and_the_ratio_or_why_the_peer_was_skipped() -> None:
    llm = {"result": RESULT, "litellm_peer": {"version": "1.2.3", **compare_with_litellm(RESULT)}}
    out: dict[str, Any] = {"components_standalone": {"llm": llm}}
    line = llm_line(llm)
    assert "c=1 +1.00 ms" in line and "LiteLLM +13.00 ms" in line and "= 13.0x" in line
    assert "LiteLLM 1.2.3" in line
    assert ratios(out)["litellm_added_p50_over_llm_added_p50_c1"] == 13.0
    row = next(a for a in aims(out) if a["aim"].startswith("[issue 8]"))
    assert row["met"] is True and row["measured"] == 13.0

    without = {k: v for k, v in RESULT["c1"].items() if k != "litellm"}
    alone: dict[str, Any] = {"result": {"c1": without}, "litellm_peer": {"skipped": "quick run: ..."}}
    line = llm_line(alone)
    assert "c=1 +1.00 ms" in line and "LiteLLM peer skipped: quick run" in line
    out = {"components_standalone": {"llm": alone}}
    assert "litellm_added_p50_over_llm_added_p50_c1" not in ratios(out)
    row = next(a for a in aims(out) if a["aim"].startswith("[issue 8]"))
    assert row["met"] is None
