"""Stream a report document: decompress and parse while it downloads, memory flat.

Amazon's flat-file reports are tab-separated with a header row (a few are CSV); documents
may be GZIP compressed (``compressionAlgorithm``). A row that does not fit the header is
yielded as a rejected row with its line number, so the rest of the report still lands. A GZIP stream
that ends early raises :class:`TruncatedDocumentError`: the caller must not mark the
report done.

A row holding a NUL character (or a lone surrogate) is rejected too, its cells kept with
U+FFFD in their place: Postgres text and jsonb cannot hold them, so such a cell would fail
the write of the whole batch. A CSV row the ``csv`` module cannot split (a bare CR, a cell
over its 128 KiB limit) is rejected as well. Time is linear in the document's size, however
long a line or a quoted CSV cell runs.
"""

from __future__ import annotations

import csv
import zlib
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Callable
from dataclasses import dataclass
from typing import NamedTuple

from worker.spapi.errors import MalformedResponseError
from worker.sync.fields import UNSTORABLE_TEXT

MAX_RECORD = 1 << 20  # characters of a CSV record whose quoted cell spans lines


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
    head: list[bytes] = []  # the start of the current line, over the chunks it spans
    async for chunk in chunks:
        try:
            data = inflater.decompress(chunk) if inflater else chunk
        except zlib.error:
            raise MalformedResponseError("report document is not valid GZIP data") from None
        for raw in _complete(head, data):
            yield _decode(raw, encoding)
    if inflater is not None:
        last = _complete(head, inflater.flush())
        if not inflater.eof:
            raise TruncatedDocumentError("report document ends in the middle of its GZIP stream")
        for raw in last:
            yield _decode(raw, encoding)
    if head:
        yield _decode(b"".join(head), encoding)


def _complete(head: list[bytes], data: bytes) -> list[bytes]:
    """The lines ``data`` ends; its unended rest joins ``head`` (in place). Each byte is copied
    once however long its line is (``pending += chunk`` was quadratic in the line's length)."""
    *complete, rest = data.split(b"\n")
    if complete:
        complete[0] = b"".join([*head, complete[0]])
        head.clear()
    if rest:
        head.append(rest)
    return complete


def _decode(raw: bytes, encoding: str) -> str:
    # Some marketplaces' reports are not UTF-8 (Cp1252, Shift_JIS): never fail on a byte.
    return raw.rstrip(b"\r").decode(encoding, errors="replace")


async def table_rows(source: AsyncIterable[str]) -> AsyncIterator[ParsedRow]:
    """Rows of a delimited document keyed by its header: TSV (Amazon's flat files), or CSV
    when the header has commas and no tab. Misfits become rejected rows; never raises on a
    row, only on a document without a (readable) header."""
    header: list[str] | None = None
    dialect = _Dialect()
    split = _split_tsv
    number = 0
    async for text in _records(source, dialect):
        number += text.count("\n") + 1
        if header is None:
            if "\t" not in text and "," in text:
                dialect.csv, split = True, _split_csv
            header = _header(text, split)
            continue
        if not text.strip():
            continue
        line = number - text.count("\n")  # where the record starts
        yield _row(line, text, header, split)
    if header is None:
        raise MalformedResponseError("report document is empty (no header row)")


def _header(text: str, split: Callable[[str], list[str]]) -> list[str]:
    if UNSTORABLE_TEXT.search(text):
        raise MalformedResponseError("report document's header row holds a NUL character")
    try:
        header = [h.strip() for h in split(text)]
    except csv.Error:
        raise MalformedResponseError("report document's header row is not valid CSV") from None
    if not any(header):
        raise MalformedResponseError("report document has an empty header row")
    return header


def _row(line: int, text: str, header: list[str], split: Callable[[str], list[str]]) -> ParsedRow:
    unstorable = UNSTORABLE_TEXT.search(text) is not None
    try:
        cells = split(UNSTORABLE_TEXT.sub("\ufffd", text) if unstorable else text)
    except csv.Error:
        return ParsedRow(line, None, "row is not valid CSV (a bare CR, or a cell over 128 KiB)")
    if unstorable:
        return ParsedRow(line, None, "row holds a NUL character (shown as U+FFFD)",
                         dict(zip(header, cells, strict=False)))
    if len(cells) != len(header):
        return ParsedRow(line, None, f"expected {len(header)} columns, found {len(cells)}",
                         dict(zip(header, cells, strict=False)))
    return ParsedRow(line, dict(zip(header, cells, strict=True)))


@dataclass
class _Dialect:
    csv: bool = False  # decided by the header row


async def _records(source: AsyncIterable[str], dialect: _Dialect) -> AsyncIterator[str]:
    """Lines, except that a CSV record whose quotes are still open takes the next line too, up
    to :data:`MAX_RECORD` characters: an unclosed quote costs one rejected row, not the rest
    of the document (nor time quadratic in it)."""
    parts: list[str] = []
    size = 0
    quoted = False  # an odd number of quotes so far
    async for text in source:
        if dialect.csv and text.count('"') % 2:
            quoted = not quoted
        parts.append(text)
        size += len(text) + 1
        if quoted and size <= MAX_RECORD:
            continue
        yield parts[0] if len(parts) == 1 else "\n".join(parts)
        parts, size, quoted = [], 0, False
    if parts:
        yield "\n".join(parts)  # unbalanced to the end: the row is rejected by its column count


def _split_tsv(text: str) -> list[str]:
    return text.split("\t")


def _split_csv(text: str) -> list[str]:
    return next(csv.reader([text]), [])
