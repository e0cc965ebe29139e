"""The API reference at ``/docs``: the OpenAPI document (``/openapi.json``) rendered as one HTML page on the
server. No script and no CDN: it reads in a control room with no internet and under the console's
Content-Security-Policy, which a Swagger page (scripts and styles from a CDN, inline code) would break.

Every route is listed by tag with its method, path, summary, who may call it (bearer token or hotel API
key), parameters, body and answers; the schemas follow with each field's type, bounds and description.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from html import escape
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

router = APIRouter(tags=["docs"])

METHODS = ("get", "post", "put", "patch", "delete")
BOUNDS = ("minimum", "maximum", "minLength", "maxLength", "pattern", "default", "format")


@router.get("/docs", include_in_schema=False)
async def api_reference(request: Request) -> HTMLResponse:
    spec = request.app.openapi()
    return HTMLResponse(render(spec), headers={"Cache-Control": "no-cache"})


def render(spec: Mapping[str, Any]) -> str:
    info = spec.get("info", {})
    title = escape(str(info.get("title", "API")))
    by_tag: dict[str, list[str]] = defaultdict(list)
    for path, operations in spec.get("paths", {}).items():
        for method in METHODS:
            if method in operations:
                op = operations[method]
                by_tag[(op.get("tags") or ["other"])[0]].append(_operation(method, path, op))
    toc = "".join(f'<li><a href="#tag-{escape(t)}">{escape(t)}</a></li>' for t in sorted(by_tag))
    sections = "".join(
        f'<section id="tag-{escape(t)}"><h2>{escape(t)}</h2>{"".join(ops)}</section>'
        for t, ops in sorted(by_tag.items())
    )
    schemas = spec.get("components", {}).get("schemas", {})
    schema_html = "".join(_schema(name, schema) for name, schema in sorted(schemas.items()))
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<title>{title}: API reference</title><link rel="stylesheet" href="/static/docs.css"></head><body>'
        f"<h1>{title}: API reference</h1>"
        f"<p>Version {escape(str(info.get('version', '')))}. The machine-readable document is "
        '<a href="/openapi.json">/openapi.json</a>. Staff send <code>Authorization: Bearer &lt;token&gt;'
        "</code> (from <code>/auth/verify</code>); hotel systems send <code>X-API-Key</code>.</p>"
        f'<nav><ul>{toc}<li><a href="#schemas">schemas</a></li></ul></nav>{sections}'
        f'<section id="schemas"><h2>Schemas</h2>{schema_html}</section></body></html>'
    )


def _operation(method: str, path: str, op: Mapping[str, Any]) -> str:
    anchor = escape(op.get("operationId", f"{method}-{path}"))
    parts = [
        f'<article id="{anchor}"><h3><span class="method {method}">{method.upper()}</span> '
        f"<code>{escape(path)}</code> {escape(op.get('summary', ''))}</h3>"
    ]
    if op.get("description"):
        parts.append(f"<p>{escape(op['description'])}</p>")
    callers = sorted({name for requirement in op.get("security", []) for name in requirement})
    parts.append(f'<p class="who">{escape(", ".join(callers)) if callers else "No credentials"}</p>')
    params = op.get("parameters", [])
    if params:
        rows = "".join(
            f"<tr><td><code>{escape(p['name'])}</code></td><td>{escape(p.get('in', ''))}</td>"
            f"<td>{'yes' if p.get('required') else ''}</td><td>{_type(p.get('schema', {}))}</td>"
            f"<td>{escape(p.get('description', ''))}</td></tr>"
            for p in params
        )
        parts.append(
            "<table><tr><th>parameter</th><th>in</th><th>required</th><th>type</th><th>meaning</th></tr>"
            f"{rows}</table>"
        )
    body = op.get("requestBody", {}).get("content", {})
    for media, content in body.items():
        parts.append(f"<p>Body ({escape(media)}): {_type(content.get('schema', {}))}</p>")
    answers = "".join(
        f"<li><b>{escape(code)}</b> {escape(r.get('description', ''))}{_answer_type(r)}</li>"
        for code, r in op.get("responses", {}).items()
    )
    parts.append(f'<ul class="answers">{answers}</ul></article>')
    return "".join(parts)


def _answer_type(response: Mapping[str, Any]) -> str:
    content = response.get("content", {}).get("application/json")
    return f": {_type(content['schema'])}" if content and content.get("schema") else ""


def _schema(name: str, schema: Mapping[str, Any]) -> str:
    required = set(schema.get("required", []))
    rows = "".join(
        f"<tr><td><code>{escape(field)}</code></td><td>{'yes' if field in required else ''}</td>"
        f"<td>{_type(prop)}</td><td>{escape(prop.get('description', ''))}</td></tr>"
        for field, prop in schema.get("properties", {}).items()
    )
    table = (
        f"<table><tr><th>field</th><th>required</th><th>type</th><th>meaning</th></tr>{rows}</table>"
        if rows
        else ""
    )
    about = f"<p>{escape(schema['description'])}</p>" if schema.get("description") else ""
    return f'<article id="schema-{escape(name)}"><h3>{escape(name)}</h3>{about}{table}</article>'


def _type(schema: Mapping[str, Any]) -> str:
    """A schema as one line of HTML: references linked, unions with |, arrays as list[...], bounds."""
    if "$ref" in schema:
        name = str(schema["$ref"]).rsplit("/", 1)[-1]
        return f'<a href="#schema-{escape(name)}">{escape(name)}</a>'
    for union in ("anyOf", "oneOf", "allOf"):
        if union in schema:
            return " | ".join(_type(s) for s in schema[union])
    if "enum" in schema:
        return " | ".join(f"<code>{escape(repr(v))}</code>" for v in schema["enum"])
    kind = str(schema.get("type", "any"))
    kind = f"list[{_type(schema.get('items', {}))}]" if kind == "array" else escape(kind)
    bounds = ", ".join(f"{k} {escape(str(schema[k]))}" for k in BOUNDS if k in schema)
    return f"{kind} <small>({bounds})</small>" if bounds else kind
