"""Generate Python code from proto/ into gen/python (the one way protos become code).

Usage: python scripts/gen_proto.py [--out DIR] [--check]
--check regenerates into a scratch folder and fails if gen/python differs (a stale file).
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import sys
import tempfile
from pathlib import Path

import grpc_tools
from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTO = ROOT / "proto"
GEN = ROOT / "gen" / "python"


def _include_dirs() -> list[Path]:
    from google.api import annotations_pb2

    googleapis = Path(annotations_pb2.__file__).resolve().parent.parent.parent
    well_known = Path(grpc_tools.__file__).resolve().parent / "_proto"
    return [PROTO, googleapis, well_known]


def generate(out: Path) -> None:
    """Run protoc over every .proto under proto/ into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    files = sorted(str(p.relative_to(PROTO)) for p in PROTO.rglob("*.proto"))
    args = ["protoc", *(f"-I{d}" for d in _include_dirs())]
    args += [f"--python_out={out}", f"--pyi_out={out}", f"--grpc_python_out={out}", *files]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    for d in [out, *(p for p in out.rglob("*") if p.is_dir())]:
        if d == out:
            continue
        init = d / "__init__.py"
        if not init.exists():
            init.write_text("")


def _differences(a: Path, b: Path) -> list[str]:
    diffs: list[str] = []
    cmp = filecmp.dircmp(a, b, ignore=["__pycache__"])

    def walk(c: filecmp.dircmp[str], rel: str) -> None:
        diffs.extend(f"only in committed: {rel}{n}" for n in c.left_only)
        diffs.extend(f"missing from committed: {rel}{n}" for n in c.right_only)
        for name in c.common_files:
            if not filecmp.cmp(Path(c.left) / name, Path(c.right) / name, shallow=False):
                diffs.append(f"stale: {rel}{name}")
        for name, sub in c.subdirs.items():
            walk(sub, f"{rel}{name}/")

    walk(cmp, "")
    return diffs


def sync() -> int:
    """Regenerate into a scratch folder, then write only what changed (others may be importing)."""
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp) / "python"
        generate(fresh)
        n = 0
        for f in fresh.rglob("*"):
            if f.is_dir():
                continue
            target = GEN / f.relative_to(fresh)
            if not target.exists() or not filecmp.cmp(f, target, shallow=False):
                target.parent.mkdir(parents=True, exist_ok=True)
                tmp_target = target.with_suffix(target.suffix + ".tmp")
                shutil.copyfile(f, tmp_target)
                tmp_target.replace(target)
                n += 1
        if GEN.exists():
            for f in list(GEN.rglob("*")):
                if f.is_file() and "__pycache__" not in f.parts and not (fresh / f.relative_to(GEN)).exists():
                    f.unlink()
                    n += 1
    return n


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true")
    ns = parser.parse_args()
    if not ns.check:
        changed = sync()
        print(f"gen/python: {changed} file(s) written or removed")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp) / "python"
        generate(fresh)
        diffs = _differences(GEN, fresh)
    for d in diffs:
        print(d, file=sys.stderr)
    if diffs:
        print("gen/python is stale: run `make proto`", file=sys.stderr)
        return 1
    print("gen/python is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
