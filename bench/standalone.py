"""Component benchmarks that bring their own processes: the gateway, the tools registry, the llm proxy.

Each is a module of its service (`python -m services.<name>.bench_<name>`) printing one JSON
object; it is run as a child with a time bound and its answer is kept as it printed it.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import time
from typing import Any

#: (label, module, full-run arguments, quick-run arguments)
SCRIPTS: tuple[tuple[str, str, list[str], list[str]], ...] = (
    (
        "gateway",
        "services.gateway.bench_gateway",
        ["--requests", "6000"],
        ["--requests", "1500", "--seconds", "8"],
    ),
    ("tools", "services.tools.bench_tools", [], ["--calls", "2000", "--seconds", "15"]),
    ("llm", "services.llm.bench_llm", [], ["--requests", "300", "--time-limit", "15"]),
)


def _last_json(text: str) -> Any:
    """The last JSON object printed (scripts may log lines before it)."""
    start = text.rfind("\n{")
    start = start + 1 if start >= 0 else text.find("{")
    return json.loads(text[start:])


def run_all(quick: bool, timeout_s: float) -> dict[str, Any]:
    """Run each script that exists; a missing or failing one is reported, not fatal."""
    out: dict[str, Any] = {}
    for label, module, full_args, quick_args in SCRIPTS:
        if importlib.util.find_spec(module) is None:
            out[label] = {"skipped": f"{module} does not exist"}
            continue
        t = time.monotonic()
        try:
            r = subprocess.run(
                [sys.executable, "-m", module, *(quick_args if quick else full_args)],
                capture_output=True,
                text=True,
                timeout=timeout_s,
                check=False,
            )
        except subprocess.TimeoutExpired:
            out[label] = {"error": f"did not finish within {timeout_s:.0f} s"}
            continue
        if r.returncode != 0:
            out[label] = {"error": f"exit {r.returncode}", "stderr_tail": r.stderr[-800:]}
            continue
        try:
            out[label] = {"result": _last_json(r.stdout), "seconds": round(time.monotonic() - t, 1)}
        except ValueError:
            out[label] = {"error": "no JSON in its output", "stdout_tail": r.stdout[-800:]}
    return out
