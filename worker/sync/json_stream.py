"""A JSON report document parsed while it downloads, in flat memory (``ijson``'s push
interface): the entries of one top-level array one by one, and the ``reportSpecification``
object wherever it stands (before or after the data).

The bytes are fed as they arrive (inflated when GZIP), never joined into lines: Amazon's
JSON documents can be one line of hundreds of MB. Two C-backed coroutines read the same bytes
(one for the entries, one for the specification), which costs less than building the
entries from parse events in Python.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncGenerator, AsyncIterable
from typing import Any

import ijson

from worker.spapi.errors import MalformedResponseError
from worker.sync.report_parse import TruncatedDocumentError

SPECIFICATION = "reportSpecification"


class JsonEntries:
    """Push parser: :meth:`feed` bytes, then take :meth:`entries`; :meth:`close` at the end."""

    def __init__(self, section: str) -> None:
        self._entries = ijson.sendable_list()
        self._specs = ijson.sendable_list()
        # floats, not Decimal: the entries are stored as JSONB (raw) as well as mapped
        self._items = ijson.items_coro(self._entries, f"{section}.item", use_float=True)
        self._spec = ijson.items_coro(self._specs, SPECIFICATION, use_float=True)
        self.specification: Any = None

    def feed(self, data: bytes) -> None:
        if not data:
            return
        try:
            self._items.send(data)
            self._spec.send(data)
        except ijson.JSONError as exc:
            raise MalformedResponseError(f"JSON report document does not parse: {exc}") \
                from None
        self._take_spec()

    def entries(self) -> list[Any]:
        out = list(self._entries)
        del self._entries[:]
        return out

    def close(self) -> None:
        try:
            self._items.close()
            self._spec.close()
        except ijson.IncompleteJSONError:
            raise TruncatedDocumentError("JSON report document ends early") from None
        except ijson.JSONError as exc:
            raise MalformedResponseError(f"JSON report document does not parse: {exc}") \
                from None
        self._take_spec()

    def _take_spec(self) -> None:
        if self._specs:
            self.specification = self._specs[0]
            del self._specs[:]


async def entries(chunks: AsyncIterable[bytes], *, gzip: bool,
                  parser: JsonEntries) -> AsyncGenerator[Any, None]:
    """The entries of ``parser``'s array in the (possibly GZIP) byte stream, as they arrive;
    ``parser.specification`` is set once the document's specification was read (at the
    latest when this ends)."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS) if gzip else None
    async for chunk in chunks:
        try:
            data = inflater.decompress(chunk) if inflater else chunk
        except zlib.error:
            raise MalformedResponseError("report document is not valid GZIP data") from None
        parser.feed(data)
        for entry in parser.entries():
            yield entry
    if inflater is not None:
        parser.feed(inflater.flush())
        if not inflater.eof:
            raise TruncatedDocumentError("report document ends in the middle of its GZIP stream")
    parser.close()
    for entry in parser.entries():
        yield entry
