"""Report documents and their presigned URLs.

A document is a recipe for its lines, never a finished blob: stored documents replay a
list of lines taken from the world, generated ones (benchmarks) make each line on the
fly, so serving a 1 GB document keeps memory flat. A document larger than
:data:`GZIP_THRESHOLD` bytes is served gzip-compressed and announced with
``compressionAlgorithm: GZIP``, as Amazon does for large reports.

URLs look like ``<origin>/_sim/documents/<id>?expires=<epoch ms>&sig=<hmac>`` (plus
``&ce=gzip`` when ``enableContentEncodingUrlHeader`` was asked for). The HMAC, keyed
from the seed, covers id, expiry and ``ce``; changing any of them breaks the signature.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO
from urllib.parse import quote, urlencode

GZIP_THRESHOLD = 4096  # bytes of plain text above which a document is served as GZIP
TSV = "text/tab-separated-values"
JSON = "application/json"


@dataclass(frozen=True)
class Document:
    document_id: str
    seller_id: str
    media_type: str  # TSV or JSON
    lines: Callable[[], Iterator[str]]  # a fresh iterator over the lines, "\n"-terminated
    line_count: int
    size: int  # bytes of plain text (an estimate for generated documents)
    # The GZIP bytes, made beforehand in an anonymous temporary file (see downloads.prerender)
    blob: IO[bytes] | None = None

    @property
    def compressed(self) -> bool:
        return self.size > GZIP_THRESHOLD

    @property
    def tabular(self) -> bool:
        return self.media_type == TSV


def stored(document_id: str, seller_id: str, media_type: str, lines: list[str]) -> Document:
    """A document over lines already taken from the world."""
    size = sum(len(line.encode()) for line in lines)
    return Document(document_id, seller_id, media_type, lambda: iter(lines), len(lines), size)


def tsv_lines(header: tuple[str, ...], rows: list[list[str]]) -> list[str]:
    return ["\t".join(header) + "\n", *("\t".join(row) + "\n" for row in rows)]


@dataclass(frozen=True)
class SignedUrl:
    document_id: str
    expires_ms: int
    content_encoding: bool
    signature: str


class DocumentStore:
    def __init__(self, seed: int) -> None:
        self._key = hashlib.sha256(f"spsync-simulator-documents:{seed}".encode()).digest()
        self._documents: dict[str, Document] = {}
        self._later: dict[str, Callable[[], Document]] = {}

    def add(self, document: Document) -> None:
        self._documents[document.document_id] = document

    def add_later(self, document_id: str, make: Callable[[], Document]) -> None:
        """A document made by ``make`` when first asked for (for reports Amazon makes by
        itself, which most callers never download)."""
        self._later[document_id] = make

    def get(self, document_id: str) -> Document | None:
        make = self._later.pop(document_id, None)
        if make is not None:
            self._documents[document_id] = make()
        return self._documents.get(document_id)

    def url(self, origin: str, document_id: str, expires: float, content_encoding: bool) -> str:
        expires_ms = int(expires * 1000)
        query = {"expires": str(expires_ms)}
        if content_encoding:
            query["ce"] = "gzip"
        query["sig"] = self.signature(document_id, expires_ms, content_encoding)
        return f"{origin}/_sim/documents/{quote(document_id)}?{urlencode(query)}"

    def signature(self, document_id: str, expires_ms: int, content_encoding: bool) -> str:
        message = f"{document_id}\n{expires_ms}\n{'gzip' if content_encoding else ''}"
        return hmac.new(self._key, message.encode(), hashlib.sha256).hexdigest()

    def verify(self, signed: SignedUrl) -> bool:
        expected = self.signature(signed.document_id, signed.expires_ms, signed.content_encoding)
        return hmac.compare_digest(expected, signed.signature)
