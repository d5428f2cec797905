"""``/api/docs``: the OpenAPI document as one plain HTML page (no script, no font, nothing
fetched from anywhere: it works offline and behind any firewall)."""

from __future__ import annotations

import json
import re
from html import escape
from typing import Any

from bot.web.api.problems import PROBLEMS, TYPE_BASE

_STYLE = """
body{font:15px/1.5 system-ui,sans-serif;margin:0 auto;max-width:60rem;padding:1rem 1.5rem;
color:#1d2330}
h1{margin-bottom:.2rem}h2{border-bottom:2px solid #dde2ea;padding-bottom:.2rem;margin-top:2.5rem}
.op{border:1px solid #dde2ea;border-radius:6px;margin:1rem 0;padding:.2rem 1rem .6rem}
.op h3{font-family:ui-monospace,monospace;font-size:1rem}
.m{display:inline-block;min-width:4.2rem;color:#fff;border-radius:4px;padding:0 .4rem;
text-align:center;margin-right:.4rem}
.GET{background:#2f7d4f}.POST{background:#2a5db0}.PUT,.PATCH{background:#8a5a00}
.DELETE{background:#b03a2e}
pre{background:#f4f6f9;padding:.6rem;border-radius:4px;overflow:auto;font-size:13px}
code{font-family:ui-monospace,monospace;font-size:.92em}
table{border-collapse:collapse;margin:.4rem 0}td,th{border:1px solid #dde2ea;
padding:.2rem .5rem;text-align:left;vertical-align:top}
details summary{cursor:pointer;color:#2a5db0}
nav a{margin-right:1rem}
"""


def _md(text: str) -> str:
    """The little Markdown the document uses: `code`, **bold**, list items, paragraphs."""
    out: list[str] = []
    items: list[str] = []

    def inline(line: str) -> str:
        line = escape(line)
        line = re.sub(r"`([^`]+)`", r"<code>\1</code>", line)
        return re.sub(r"\*\*([^*]+)\*\*", r"<b>\1</b>", line)

    def flush() -> None:
        if items:
            out.append("<ul>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>")
            items.clear()

    for paragraph in re.split(r"\n\s*\n", text.strip()):
        lines = paragraph.splitlines()
        if lines and lines[0].startswith("- "):
            for line in lines:
                if line.startswith("- "):
                    items.append(inline(line[2:]))
                elif items:
                    items[-1] += " " + inline(line.strip())
            flush()
        else:
            out.append(f"<p>{inline(' '.join(line.strip() for line in lines))}</p>")
    return "".join(out)


def _json(value: Any) -> str:
    return "<pre>" + escape(json.dumps(value, indent=2, ensure_ascii=False)) + "</pre>"


def _anchor(method: str, path: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", f"{method}-{path}".lower()).strip("-")


def _operation(method: str, path: str, op: dict[str, Any]) -> str:
    parts = [f'<div class="op" id="{_anchor(method, path)}">',
             f'<h3><span class="m {method.upper()}">{method.upper()}</span>'
             f"/api/v1{escape(path)}</h3>",
             f"<p><b>{escape(op.get('summary', ''))}</b></p>", _md(op.get("description", ""))]
    params = op.get("parameters", [])
    if params:
        parts.append("<table><tr><th>parameter</th><th>in</th><th>schema</th>"
                     "<th>description</th></tr>")
        for p in params:
            required = " (required)" if p.get("required") else ""
            parts.append(f"<tr><td><code>{escape(p['name'])}</code>{required}</td>"
                         f"<td>{escape(p['in'])}</td>"
                         f"<td><code>{escape(json.dumps(p.get('schema', {})))}</code></td>"
                         f"<td>{escape(p.get('description', ''))}</td></tr>")
        parts.append("</table>")
    body = op.get("requestBody")
    if body:
        content = body["content"]["application/json"]
        parts.append("<p>Request body (<code>application/json</code>):</p>")
        examples = content.get("examples")
        if examples:
            for example in examples.values():
                parts.append(f"<p>{escape(example.get('summary', ''))}</p>"
                             + _json(example["value"]))
        elif "example" in content:
            parts.append(_json(content["example"]))
        parts.append("<details><summary>schema</summary>" + _json(content["schema"])
                     + "</details>")
    parts.append("<p>Responses:</p><table><tr><th>status</th><th>meaning</th></tr>")
    shown: list[str] = []
    for status, response in op.get("responses", {}).items():
        parts.append(f"<tr><td>{escape(status)}</td>"
                     f"<td>{_md(response.get('description', ''))}</td></tr>")
        json_content = response.get("content", {}).get("application/json")
        if json_content is not None:
            shown.append(f"<p>{escape(status)}:</p>" + _json(json_content.get("example"))
                         + "<details><summary>schema</summary>"
                         + _json(json_content.get("schema")) + "</details>")
    parts.append("</table>")
    parts.extend(shown)
    parts.append("</div>")
    return "".join(parts)


def render(document: dict[str, Any]) -> str:
    info = document.get("info", {})
    tags = [tag["name"] for tag in document.get("tags", [])]
    by_tag: dict[str, list[str]] = {tag: [] for tag in tags}
    index: dict[str, list[str]] = {tag: [] for tag in tags}
    for path, methods in document.get("paths", {}).items():
        for method, op in methods.items():
            tag = (op.get("tags") or ["API"])[0]
            by_tag.setdefault(tag, []).append(_operation(method, path, op))
            index.setdefault(tag, []).append(
                f'<li><a href="#{_anchor(method, path)}"><code>{method.upper()} '
                f"{escape(path)}</code></a> {escape(op.get('summary', ''))}</li>")
    problems = "".join(
        f"<tr><td><code>{escape(TYPE_BASE + slug)}</code></td><td>{status}</td>"
        f"<td>{escape(title)}</td></tr>" for slug, (status, title) in PROBLEMS.items())
    descriptions = {tag["name"]: tag.get("description", "") for tag in document.get("tags", [])}
    sections = "".join(
        f'<h2 id="{_anchor("tag", tag)}">{escape(tag)}</h2>{_md(descriptions.get(tag, ""))}'
        + "".join(ops) for tag, ops in by_tag.items() if ops)
    contents = "".join(f"<h4>{escape(tag)}</h4><ul>{''.join(items)}</ul>"
                       for tag, items in index.items() if items)
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width,initial-scale=1">'
        f"<title>{escape(info.get('title', 'API'))}</title><style>{_STYLE}</style></head>"
        f"<body><h1>{escape(info.get('title', 'API'))}</h1>"
        f"<p>Version {escape(info.get('version', ''))} · base URL <code>/api/v1</code> · "
        '<a href="/api/v1/openapi.json">openapi.json</a></p>'
        f"{_md(info.get('description', ''))}"
        f"<h2>Contents</h2>{contents}"
        "<h2>Problems</h2><table><tr><th>type</th><th>status</th><th>title</th></tr>"
        f"{problems}</table>{sections}</body></html>"
    )
