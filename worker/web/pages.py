"""The few HTML pages a seller or operator sees. Every value is escaped; none holds a secret."""

from __future__ import annotations

from html import escape

from aiohttp import web

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title} - spsync</title>
<style>body{{font-family:system-ui,sans-serif;max-width:40em;margin:4em auto;line-height:1.5}}
</style></head>
<body><h1>{title}</h1><p>{message}</p></body></html>
"""


def page(title: str, message: str, status: int = 200) -> web.Response:
    body = _PAGE.format(title=escape(title), message=escape(message))
    return web.Response(text=body, status=status, content_type="text/html",
                        headers={"Cache-Control": "no-store"})
