"""``GET /_sim/documents/{id}``: the "S3" behind report-document URLs.

No SP-API auth (the URL is presigned). A bad signature or a past expiry gets 403 with an
S3-style XML error (``SignatureDoesNotMatch`` / ``AccessDenied``), an unknown id 404
``NoSuchKey``. The body is streamed in ~64 KiB chunks, gzip-compressed on the fly when
the document is GZIP; ``Content-Type`` is the document's (TSV or JSON, UTF-8), or
``application/gzip`` for a compressed body unless the URL asked for
``Content-Encoding: gzip``. Download faults (see :mod:`faults`) fire here.
"""

from __future__ import annotations

import os
import tempfile
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import replace
from typing import IO

from aiohttp import web

from .documents import GZIP_THRESHOLD, Document, SignedUrl
from .faults import DOCUMENT_MALFORMED_ROW, DOCUMENT_TRUNCATED_GZIP
from .state import Simulator

CHUNK_BYTES = 64 * 1024
FAULT_OPERATION = "getReportDocument"


def add_routes(app: web.Application, sim: Simulator) -> None:
    async def route(request: web.Request) -> web.StreamResponse:
        return await download(sim, request)

    app.router.add_get("/_sim/documents/{document_id}", route)


async def download(sim: Simulator, request: web.Request) -> web.StreamResponse:
    signed = _signed(request)
    if signed is None or not sim.documents.verify(signed):
        return _s3_error(403, "SignatureDoesNotMatch",
                         "The request signature we calculated does not match the signature "
                         "you provided. Check your key and signing method.")
    if sim.clock.now() * 1000 > signed.expires_ms:
        return _s3_error(403, "AccessDenied", "Request has expired")
    document = sim.documents.get(signed.document_id)
    if document is None:
        return _s3_error(404, "NoSuchKey", "The specified key does not exist.")
    return await _stream(sim, request, document, signed.content_encoding)


def _signed(request: web.Request) -> SignedUrl | None:
    query = request.query
    try:
        expires_ms = int(query.get("expires", ""))
    except ValueError:
        return None
    return SignedUrl(
        document_id=request.match_info["document_id"],
        expires_ms=expires_ms,
        content_encoding=query.get("ce") == "gzip",
        signature=query.get("sig", ""),
    )


def _s3_error(status: int, code: str, message: str) -> web.Response:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message>"
        f"<RequestId>{uuid.uuid4().hex[:16].upper()}</RequestId></Error>"
    )
    return web.Response(status=status, text=body, content_type="application/xml")


async def _stream(
    sim: Simulator, request: web.Request, document: Document, content_encoding: bool
) -> web.StreamResponse:
    truncated = document.compressed and _take(sim, document, DOCUMENT_TRUNCATED_GZIP)
    malformed = document.tabular and _take(sim, document, DOCUMENT_MALFORMED_ROW)
    response = web.StreamResponse(headers=_headers(document, content_encoding))
    await response.prepare(request)
    if document.blob is not None and not truncated and not malformed:
        for data in _file_chunks(document.blob):
            await response.write(data)
        await response.write_eof()
        return response
    lines = document.lines()
    if malformed:
        lines = _malformed(lines, max(1, document.line_count // 2))
    if document.compressed:
        limit = document.line_count // 2 if truncated else None
        for data in _gzip(_chunks(lines, limit), finish=not truncated):
            await response.write(data)
    else:
        for chunk in _chunks(lines, None):
            await response.write(chunk)
    await response.write_eof()
    return response


def prerender(document: Document) -> Document:
    """The document with its GZIP bytes made now, into an anonymous temporary file (gone
    when the simulator exits), so a download costs I/O only: a benchmark then measures the
    client, not this generator. Faults still apply (they regenerate from the lines)."""
    blob = tempfile.TemporaryFile()  # noqa: SIM115 (lives as long as the document)
    for data in _gzip(_chunks(document.lines(), None), finish=True):
        blob.write(data)
    blob.flush()
    return replace(document, blob=blob, size=max(document.size, GZIP_THRESHOLD + 1))


def _file_chunks(blob: IO[bytes]) -> Iterator[bytes]:
    offset = 0
    while data := os.pread(blob.fileno(), CHUNK_BYTES, offset):  # no shared file position
        offset += len(data)
        yield data


def _take(sim: Simulator, document: Document, fault: str) -> bool:
    kinds = frozenset({fault})
    return sim.faults.take(FAULT_OPERATION, document.seller_id, kinds) is not None


def _headers(document: Document, content_encoding: bool) -> dict[str, str]:
    media = f"{document.media_type}; charset=UTF-8"
    if not document.compressed:
        return {"Content-Type": media}
    if content_encoding:
        return {"Content-Type": media, "Content-Encoding": "gzip"}
    return {"Content-Type": "application/gzip"}


def _chunks(lines: Iterator[str], limit: int | None) -> Iterator[bytes]:
    """~64 KiB batches of encoded lines; only the first ``limit`` lines when given."""
    batch: list[str] = []
    size = 0
    for index, line in enumerate(lines):
        if limit is not None and index >= limit:
            break
        batch.append(line)
        size += len(line)
        if size >= CHUNK_BYTES:
            yield "".join(batch).encode()
            batch, size = [], 0
    if batch:
        yield "".join(batch).encode()


def _gzip(chunks: Iterator[bytes], finish: bool) -> Iterator[bytes]:
    """A gzip stream; without ``finish`` it stops mid-stream (no final block, no trailer)."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    for chunk in chunks:
        data = compressor.compress(chunk)
        if not finish:  # make what was sent decodable, as a cut connection would leave it
            data += compressor.flush(zlib.Z_SYNC_FLUSH)
        if data:
            yield data
    if finish:
        yield compressor.flush()


def _malformed(lines: Iterator[str], target: int) -> Iterator[str]:
    """Line ``target`` (a data row) loses its last two columns."""
    for index, line in enumerate(lines):
        if index == target:
            fields = line.rstrip("\n").split("\t")
            line = "\t".join(fields[: max(1, len(fields) - 2)]) + "\n"
        yield line
