"""Download a report document from its presigned URL, as a stream of byte chunks.

The URL is Amazon's (S3, presigned, short-lived): no access token, no quota, no SigV4. A
403 means the URL expired (or its signature does not hold): the caller asks
``getReportDocument`` for a fresh one. A 5xx or a broken connection is retriable. The URL
carries a signature, so it never appears in an error or a log line.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp

from worker.spapi.errors import InputError, NotFoundError, ServerError

CHUNK_BYTES = 256 * 1024
# A stalled download fails after this long without a byte (the whole may take much longer).
READ_STALL_SECONDS = 300.0


class DocumentUrlExpiredError(InputError):
    """The presigned document URL was refused (expired): fetch the document again."""


async def stream_document(session: aiohttp.ClientSession, url: str) -> AsyncIterator[bytes]:
    """Yield the document's bytes as they arrive (still compressed if it is GZIP)."""
    op = "downloadReportDocument"
    try:
        # auto_decompress off: a GZIP document is inflated by the parser, as it streams
        timeout = aiohttp.ClientTimeout(total=None, sock_read=READ_STALL_SECONDS)
        async with session.get(url, timeout=timeout, auto_decompress=False) as http:
            if http.status == 403:
                raise DocumentUrlExpiredError("report document URL was refused (expired?)",
                                              status=403, operation=op)
            if http.status == 404:
                raise NotFoundError("report document not found", status=404, operation=op)
            if http.status >= 500:
                raise ServerError("report document download failed", status=http.status,
                                  operation=op)
            if http.status >= 400:
                raise InputError("report document download refused", status=http.status,
                                 operation=op)
            async for chunk in http.content.iter_chunked(CHUNK_BYTES):
                yield chunk
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise ServerError(f"report document download broke: {type(exc).__name__}",
                          operation=op) from None
