"""Component benchmarks that bring their own processes: the gateway, the tools registry, the llm proxy.

Each is a module of its service (`python -m services.<name>.bench_<name>`) printing one JSON
object; it is run as a child with a time bound and its answer is kept as it printed it.

The llm proxy is measured beside its peer, the LiteLLM proxy, when `make bench-deps` installed
it into the throwaway venv `.venv-litellm` (full runs only; a quick run skips it). A peer that
is missing, did not install, or makes the run fail is reported as skipped with the reason, and
our proxy is then measured alone.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from deploy.local.config import ROOT

#: The venv `make bench-deps` installs `litellm[proxy]` into (never a project dependency).
LITELLM_VENV = ROOT / ".venv-litellm"

#: (label, module, full-run arguments, quick-run arguments)
SCRIPTS: tuple[tuple[str, str, list[str], list[str]], ...] = (
    (
        "gateway",
        "services.gateway.bench_gateway",
        ["--requests", "6000"],
        ["--requests", "1500", "--seconds", "8"],
    ),
    ("tools", "services.tools.bench_tools", [], ["--calls", "2000", "--seconds", "15"]),
    ("llm", "services.llm.bench_llm", ["--time-limit", "20"], ["--requests", "300", "--time-limit", "15"]),
)


def _last_json(text: str) -> Any:
    """The last JSON object printed (scripts may log lines before it)."""
    start = text.rfind("\n{")
    start = start + 1 if start >= 0 else text.find("{")
    return json.loads(text[start:])


def litellm_venv(quick: bool, venv: Path = LITELLM_VENV) -> tuple[Path | None, str | None]:
    """The LiteLLM venv to measure, or None and why it is skipped."""
    if quick:
        return None, "quick run: the LiteLLM peer is measured by `make bench` only"
    failed = venv / "install-failed.txt"
    if failed.exists():
        tail = failed.read_text().strip().splitlines()
        return None, f"litellm[proxy] did not install: {tail[-1] if tail else '?'} (see {venv}/install.log)"
    if not (venv / "bin" / "litellm").exists():
        return None, f"{venv} holds no litellm: run `make bench-deps`"
    return venv, None


def litellm_version(venv: Path) -> str | None:
    """The litellm version installed in `venv` (from its dist-info), if any."""
    for d in sorted(venv.glob("lib/python*/site-packages/litellm-*.dist-info")):
        return d.name[len("litellm-") : -len(".dist-info")]
    return None


def compare_with_litellm(result: dict[str, Any]) -> dict[str, Any]:
    """Per concurrency: the added p50 over direct of our proxy and of LiteLLM, and their ratio."""
    out: dict[str, Any] = {}
    for conc, rows in result.items():
        if not isinstance(rows, dict) or "llm" not in rows or "litellm" not in rows:
            continue
        ours, peer = rows["llm"]["added_p50_ms"], rows["litellm"]["added_p50_ms"]
        out[conc] = {
            "llm_added_p50_ms": ours,
            "litellm_added_p50_ms": peer,
            "litellm_over_llm": round(peer / ours, 2) if ours > 0 else None,
            "llm_rps": rows["llm"]["rps"],
            "litellm_rps": rows["litellm"]["rps"],
        }
    return out


def _run(module: str, args: list[str], timeout_s: float) -> dict[str, Any]:
    t = time.monotonic()
    try:
        r = subprocess.run(
            [sys.executable, "-m", module, *args],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return {"error": f"did not finish within {timeout_s:.0f} s"}
    if r.returncode != 0:
        return {"error": f"exit {r.returncode}", "stderr_tail": r.stderr[-800:]}
    try:
        return {"result": _last_json(r.stdout), "seconds": round(time.monotonic() - t, 1)}
    except ValueError:
        return {"error": "no JSON in its output", "stdout_tail": r.stdout[-800:]}


def run_all(
    quick: bool, timeout_s: float, litellm: Path = LITELLM_VENV, only: list[str] | None = None
) -> dict[str, Any]:
    """Run each script that exists (or those in `only`); a missing or failing one is reported, not fatal."""
    out: dict[str, Any] = {}
    for label, module, full_args, quick_args in SCRIPTS:
        if only and label not in only:
            continue
        if importlib.util.find_spec(module) is None:
            out[label] = {"skipped": f"{module} does not exist"}
            continue
        args = quick_args if quick else full_args
        if label != "llm":
            out[label] = _run(module, args, timeout_s)
            continue
        venv, skipped = litellm_venv(quick, litellm)
        if venv is not None:
            out[label] = _run(module, [*args, "--litellm", str(venv)], timeout_s)
            if "result" in out[label]:
                peer = {"version": litellm_version(venv), **compare_with_litellm(out[label]["result"])}
                out[label]["litellm_peer"] = peer
                continue
            failed = out[label]
            skipped = f"the run with LiteLLM failed ({failed['error']}); measured again without it"
            out[label] = _run(module, args, timeout_s)
            out[label]["litellm_failed_run"] = failed
        else:
            out[label] = _run(module, args, timeout_s)
        out[label]["litellm_peer"] = {"skipped": skipped}
    return out


def main() -> None:
    """`python -m bench.standalone [--quick] [--only llm ...]`: the result JSON, then the llm line."""
    import argparse

    from bench.report import llm_line

    ap = argparse.ArgumentParser(prog="python -m bench.standalone", description=__doc__)
    ap.add_argument("--quick", action="store_true", help="the bench-quick sizes (no LiteLLM peer)")
    ap.add_argument("--only", nargs="+", choices=[s[0] for s in SCRIPTS], help="these components only")
    ns = ap.parse_args()
    out = run_all(ns.quick, timeout_s=60 if ns.quick else 240, only=ns.only)
    print(json.dumps(out, indent=2))
    if "llm" in out:
        print(llm_line(out["llm"]))


if __name__ == "__main__":
    main()
