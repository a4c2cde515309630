"""Rendering a report (title, columns, rows) as json, csv, markdown or html. Pure functions."""

from __future__ import annotations

import csv
import html
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

FORMATS = ("json", "csv", "markdown", "html")
MEDIA_TYPES = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "markdown": "text/markdown; charset=utf-8",
    "html": "text/html; charset=utf-8",
}
# A cell starting with one of these is read as a formula by spreadsheets (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Report:
    """A computed report: what it is about, its table and a few headline figures."""

    kind: str
    title: str
    columns: tuple[str, ...]
    rows: tuple[Mapping[str, Any], ...]
    summary: Mapping[str, Any] = field(default_factory=dict)
    filters: Mapping[str, Any] = field(default_factory=dict)
    generated_at: str = ""


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.6g}" if abs(v) < 1e15 else repr(v)
    return str(v)


def to_json(r: Report) -> str:
    """The report as one JSON document."""
    doc = {
        "kind": r.kind,
        "title": r.title,
        "generated_at": r.generated_at,
        "filters": dict(r.filters),
        "summary": dict(r.summary),
        "columns": list(r.columns),
        "rows": [dict(row) for row in r.rows],
    }
    return json.dumps(doc, ensure_ascii=False, indent=2, default=str)


def to_csv(r: Report) -> str:
    """RFC 4180 CSV: a header row, CRLF line ends, quoted where needed, formulas defused."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    w.writerow(r.columns)
    for row in r.rows:
        cells = []
        for c in r.columns:
            v = row.get(c)
            s = _cell(v)
            if isinstance(v, str) and s.startswith(_FORMULA_START):
                s = "'" + s
            cells.append(s)
        w.writerow(cells)
    return buf.getvalue()


def _md(s: str) -> str:
    return s.replace("\\", "\\\\").replace("|", "\\|").replace("\r\n", "<br>").replace("\n", "<br>")


def to_markdown(r: Report) -> str:
    """A markdown heading, the headline figures and a pipe table."""
    out = [f"# {_md(r.title)}", ""]
    if r.summary:
        out += [f"- **{_md(str(k))}**: {_md(_cell(v))}" for k, v in r.summary.items()] + [""]
    out.append("| " + " | ".join(_md(c) for c in r.columns) + " |")
    out.append("|" + "|".join(" --- " for _ in r.columns) + "|")
    for row in r.rows:
        out.append("| " + " | ".join(_md(_cell(row.get(c))) for c in r.columns) + " |")
    if not r.rows:
        out.append("| " + " | ".join("" for _ in r.columns) + " |")
    return "\n".join(out) + "\n"


def to_html(r: Report) -> str:
    """A standalone HTML document with the figures and a real table; every value escaped."""
    e = html.escape
    head = "".join(f'<th scope="col">{e(c)}</th>' for c in r.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{e(_cell(row.get(c)))}</td>" for c in r.columns) + "</tr>\n" for row in r.rows
    )
    summary = "".join(f"<dt>{e(str(k))}</dt><dd>{e(_cell(v))}</dd>" for k, v in r.summary.items())
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{e(r.title)}</title>\n"
        "<style>body{font-family:sans-serif}table{border-collapse:collapse}"
        "th,td{border:1px solid #ccc;padding:4px 8px;text-align:left}</style>\n"
        f"</head>\n<body>\n<h1>{e(r.title)}</h1>\n<p>Generated {e(r.generated_at)}</p>\n"
        f"<dl>{summary}</dl>\n<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}</tbody>\n</table>\n"
        "</body>\n</html>\n"
    )


def render(r: Report, fmt: str) -> str:
    """The report in one of FORMATS."""
    return {"json": to_json, "csv": to_csv, "markdown": to_markdown, "html": to_html}[fmt](r)
