"""Stream a report document: decompress and parse while it downloads, memory flat.

Amazon's flat-file reports are tab-separated with a header row; documents may be GZIP
compressed (``compressionAlgorithm``). A row that does not fit the header is yielded as a
rejected row with its line number, so the rest of the report still lands. A GZIP stream
that ends early raises :class:`TruncatedDocumentError`: the caller must not mark the
report done.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass

from worker.spapi.errors import MalformedResponseError


class TruncatedDocumentError(MalformedResponseError):
    """The document ended before its compressed stream did."""


@dataclass(frozen=True)
class ParsedRow:
    line: int  # 1-based line number in the document (the header is line 1)
    values: dict[str, str] | None  # None when rejected
    error: str | None = None
    partial: dict[str, str] | None = None  # a rejected row's cells that fit the header


async def lines(chunks: AsyncIterable[bytes], *, gzip: bool,
                encoding: str = "utf-8") -> AsyncIterator[str]:
    """Decoded lines of a (possibly GZIP) byte stream, without their line endings."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS) if gzip else None
    pending = b""
    async for chunk in chunks:
        try:
            data = inflater.decompress(chunk) if inflater else chunk
        except zlib.error:
            raise MalformedResponseError("report document is not valid GZIP data") from None
        pending += data
        *complete, pending = pending.split(b"\n")
        for raw in complete:
            yield _decode(raw, encoding)
    if inflater is not None:
        pending += inflater.flush()
        if not inflater.eof:
            raise TruncatedDocumentError("report document ends in the middle of its GZIP stream")
    if pending:
        yield _decode(pending, encoding)


def _decode(raw: bytes, encoding: str) -> str:
    # Some marketplaces' reports are not UTF-8 (Cp1252, Shift_JIS): never fail on a byte.
    return raw.rstrip(b"\r").decode(encoding, errors="replace")


async def tsv_rows(source: AsyncIterable[str]) -> AsyncIterator[ParsedRow]:
    """Rows of a tab-separated document keyed by its header; misfits become rejected rows."""
    header: list[str] | None = None
    number = 0
    async for text in source:
        number += 1
        if header is None:
            header = [h.strip() for h in text.split("\t")]
            if not any(header):
                raise MalformedResponseError("report document has an empty header row")
            continue
        if not text.strip():
            continue
        cells = text.split("\t")
        if len(cells) != len(header):
            yield ParsedRow(number, None, f"expected {len(header)} columns, found {len(cells)}",
                            dict(zip(header, cells, strict=False)))
            continue
        yield ParsedRow(number, dict(zip(header, cells, strict=True)))
    if header is None:
        raise MalformedResponseError("report document is empty (no header row)")
