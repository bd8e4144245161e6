"""Stream a report document: decompress and parse while it downloads, memory flat.

Amazon's flat-file reports are tab-separated with a header row (a few are CSV); documents
may be GZIP compressed (``compressionAlgorithm``). A row that does not fit the header is
yielded as a rejected row with its line number, so the rest of the report still lands. A GZIP stream
that ends early raises :class:`TruncatedDocumentError`: the caller must not mark the
report done.
"""

from __future__ import annotations

import csv
import zlib
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator
from dataclasses import dataclass
from typing import NamedTuple

from worker.spapi.errors import MalformedResponseError


class TruncatedDocumentError(MalformedResponseError):
    """The document ended before its compressed stream did."""


class ParsedRow(NamedTuple):  # a tuple: millions are made per report
    line: int  # 1-based line number in the document (the header is line 1)
    values: dict[str, str] | None  # None when rejected
    error: str | None = None
    partial: dict[str, str] | None = None  # a rejected row's cells that fit the header


async def lines(chunks: AsyncIterable[bytes], *, gzip: bool,
                encoding: str = "utf-8") -> AsyncGenerator[str, None]:
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


async def table_rows(source: AsyncIterable[str]) -> AsyncIterator[ParsedRow]:
    """Rows of a delimited document keyed by its header: TSV (Amazon's flat files), or CSV
    when the header has commas and no tab. Misfits become rejected rows; never raises on a
    row, only on a document without a header."""
    header: list[str] | None = None
    dialect = _Dialect()
    split = _split_tsv
    number = 0
    async for text in _records(source, dialect):
        number += text.count("\n") + 1
        if header is None:
            if "\t" not in text and "," in text:
                dialect.csv, split = True, _split_csv
            header = [h.strip() for h in split(text)]
            if not any(header):
                raise MalformedResponseError("report document has an empty header row")
            continue
        if not text.strip():
            continue
        cells = split(text)
        line = number - text.count("\n")  # where the record starts
        if len(cells) != len(header):
            yield ParsedRow(line, None, f"expected {len(header)} columns, found {len(cells)}",
                            dict(zip(header, cells, strict=False)))
            continue
        yield ParsedRow(line, dict(zip(header, cells, strict=True)))
    if header is None:
        raise MalformedResponseError("report document is empty (no header row)")


@dataclass
class _Dialect:
    csv: bool = False  # decided by the header row


async def _records(source: AsyncIterable[str], dialect: _Dialect) -> AsyncIterator[str]:
    """Lines, except that a CSV record whose quotes are still open takes the next line too."""
    pending: str | None = None
    async for text in source:
        if pending is not None:
            text = pending + "\n" + text
            pending = None
        if dialect.csv and text.count('"') % 2:
            pending = text
            continue
        yield text
    if pending is not None:
        yield pending  # unbalanced to the end: the row is rejected by its column count


def _split_tsv(text: str) -> list[str]:
    return text.split("\t")


def _split_csv(text: str) -> list[str]:
    return next(csv.reader([text]), [])
