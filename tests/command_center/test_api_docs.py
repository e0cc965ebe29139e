"""/docs is the API reference the README points to: every route of /openapi.json on one page, readable
offline and under the console's Content-Security-Policy (no script, nothing from elsewhere)."""

from __future__ import annotations

from html import escape

from tests.command_center.helpers import Served


async def test_docs_lists_every_route_and_schema_with_no_script(served: Served) -> None:
    spec = (await served.anon.get("/openapi.json")).json()
    page = await served.anon.get("/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    html = page.text
    assert "<script" not in html.lower() and "http://" not in html and "https://" not in html
    for path, operations in spec["paths"].items():
        for method in operations:
            assert f"{method.upper()}</span> <code>{escape(path)}</code>" in html, (method, path)
    for name in spec["components"]["schemas"]:
        assert f'id="schema-{escape(name)}"' in html, name
    assert 'href="#schema-' in html  # bodies and answers link their schemas
    css = await served.anon.get("/static/docs.css")
    assert css.status_code == 200 and "text/css" in css.headers["content-type"]
