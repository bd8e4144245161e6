"""The few HTML pages a seller or operator sees. Every value is escaped; none holds a secret."""

from __future__ import annotations

import math
from html import escape

from aiohttp import web

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title} - spsync</title>
<style>body{{font-family:system-ui,sans-serif;max-width:40em;margin:4em auto;line-height:1.5}}
</style></head>
<body><h1>{title}</h1><p>{message}</p></body></html>
"""


def page(title: str, message: str, status: int = 200,
         retry_after: float | None = None) -> web.Response:
    body = _PAGE.format(title=escape(title), message=escape(message))
    headers = {"Cache-Control": "no-store"}
    if retry_after is not None:
        headers["Retry-After"] = str(max(1, math.ceil(retry_after)))
    return web.Response(text=body, status=status, content_type="text/html", headers=headers)
