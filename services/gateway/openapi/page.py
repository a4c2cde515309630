"""The API reference page: one self-contained HTML document rendered from the OpenAPI document."""

from __future__ import annotations

import json
from html import escape
from typing import Any

_STYLE = """
body{font:15px/1.5 system-ui,sans-serif;margin:0;color:#1d1d1f;background:#fafafa}
header{background:#1d2733;color:#fff;padding:1.2em 2em}header p{margin:.2em 0 0;opacity:.8}
main{max-width:1000px;margin:0 auto;padding:1em 2em}
.op{background:#fff;border:1px solid #ddd;border-radius:6px;margin:.8em 0;padding:.6em 1em}
.verb{display:inline-block;min-width:4.5em;font-weight:700;font-family:monospace;color:#fff;
border-radius:3px;padding:0 .4em;text-align:center}
.get{background:#2b7bb9}.post{background:#2f9e44}.delete{background:#c92a2a}.put,.patch{background:#e67700}
code,pre{font-family:ui-monospace,monospace;font-size:13px}pre{background:#f3f3f3;padding:.6em;overflow:auto}
table{border-collapse:collapse}td,th{border-bottom:1px solid #eee;padding:.2em .8em .2em 0;text-align:left}
.perm{color:#6b4fbb}
"""


def _schema_text(schema: Any) -> str:
    if not isinstance(schema, dict):
        return ""
    ref = schema.get("$ref")
    if ref:
        name = ref.rsplit("/", 1)[-1]
        return f'<a href="#schema-{escape(name)}">{escape(name)}</a>'
    if schema.get("type") == "array":
        return "array of " + _schema_text(schema.get("items", {}))
    t = schema.get("type", "any")
    fmt = schema.get("format")
    return escape(f"{t}" + (f" ({fmt})" if fmt else ""))


def render_page(doc: dict[str, Any]) -> bytes:
    """The HTML reference of an OpenAPI document (no scripts, no external resources)."""
    info = doc.get("info", {})
    out = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        f"<title>{escape(info.get('title', 'API'))}</title><style>{_STYLE}</style></head><body>",
        f"<header><h1>{escape(info.get('title', 'API'))}</h1>",
        f"<p>version {escape(str(info.get('version', '')))} · OpenAPI {escape(doc.get('openapi', ''))} · "
        '<a style="color:#9cf" href="/openapi.json">/openapi.json</a> · '
        "authenticate with <code>Authorization: Bearer &lt;key&gt;</code></p></header><main>",
        "<h2>Operations</h2>",
    ]
    for path, item in doc.get("paths", {}).items():
        for verb, op in item.items():
            out.append(f'<div class=op id="{escape(op.get("operationId", ""))}">')
            out.append(
                f'<span class="verb {escape(verb)}">{escape(verb.upper())}</span> <code>{escape(path)}</code>'
            )
            out.append(
                f" — {escape(op.get('summary', ''))} <span class=perm>[{escape(op.get('x-labs-permission', ''))}]</span>"
            )
            out.append(f"<p>{escape(op.get('description', ''))}</p>")
            params = op.get("parameters", [])
            if params:
                out.append("<table><tr><th>parameter</th><th>in</th><th>type</th></tr>")
                for p in params:
                    out.append(
                        f"<tr><td><code>{escape(p['name'])}</code></td><td>{escape(p['in'])}</td>"
                        f"<td>{_schema_text(p.get('schema'))}</td></tr>"
                    )
                out.append("</table>")
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            if body:
                out.append(f"<p>body: {_schema_text(body)}</p>")
            for status, r in op.get("responses", {}).items():
                content = r.get("content", {})
                kinds = ", ".join(escape(k) for k in content)
                first_media: dict[str, Any] = next(iter(content.values()), {})
                first = first_media.get("schema")
                out.append(
                    f"<div>{escape(status)}: {escape(r.get('description', ''))} — {kinds} {_schema_text(first)}</div>"
                )
            out.append("</div>")
    out.append("<h2>Schemas</h2>")
    for name, schema in doc.get("components", {}).get("schemas", {}).items():
        out.append(f'<div class=op id="schema-{escape(name)}"><h3><code>{escape(name)}</code></h3>')
        props = schema.get("properties")
        if props:
            out.append("<table><tr><th>field</th><th>type</th></tr>")
            for field, fs in props.items():
                out.append(f"<tr><td><code>{escape(field)}</code></td><td>{_schema_text(fs)}</td></tr>")
            out.append("</table>")
        else:
            out.append(f"<pre>{escape(json.dumps(schema, indent=2))}</pre>")
        out.append("</div>")
    out.append("</main></body></html>")
    return "".join(out).encode()
