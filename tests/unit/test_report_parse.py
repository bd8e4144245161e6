from __future__ import annotations

import gzip
import random

import pytest

from worker.spapi.errors import MalformedResponseError
from worker.sync.report_parse import TruncatedDocumentError, lines, table_rows

DOC = ("sku\tasin\tquantity\r\n"
       "SKU-1\tB0AAAAAAAA\t3\r\n"
       "SKU-2\tB0BBBBBBBB\r\n"           # a column short
       "\r\n"                             # blank lines are skipped
       "SKU-3\tB0CCCCCCCC\t7\r\n"
       "SKU-\u00e9\tB0DDDDDDDD\t1")        # no trailing newline, non-ASCII


async def _chunks(data: bytes, seed: int = 1):
    rng = random.Random(seed)
    i = 0
    while i < len(data):
        step = rng.randint(1, 17)  # chunk borders fall anywhere, even inside a character
        yield data[i:i + step]
        i += step


async def _collect(data: bytes, *, gz: bool):
    return [r async for r in table_rows(lines(_chunks(data), gzip=gz))]


@pytest.mark.parametrize("gz", [False, True])
async def test_rows_parse_across_arbitrary_chunk_borders(gz):
    raw = DOC.encode()
    rows = await _collect(gzip.compress(raw) if gz else raw, gz=gz)
    good = [r.values for r in rows if r.values]
    assert good == [
        {"sku": "SKU-1", "asin": "B0AAAAAAAA", "quantity": "3"},
        {"sku": "SKU-3", "asin": "B0CCCCCCCC", "quantity": "7"},
        {"sku": "SKU-\u00e9", "asin": "B0DDDDDDDD", "quantity": "1"},
    ]
    (rejected,) = [r for r in rows if r.values is None]
    assert rejected.line == 3 and "expected 3 columns, found 2" in rejected.error


async def test_truncated_gzip_is_an_error_not_a_short_report():
    data = gzip.compress(("sku\tq\n" + "SKU\t1\n" * 5000).encode())
    with pytest.raises(TruncatedDocumentError):
        await _collect(data[: len(data) // 2], gz=True)


async def test_garbage_instead_of_gzip_and_empty_documents_are_malformed():
    with pytest.raises(MalformedResponseError):
        await _collect(b"this is not gzip at all", gz=True)
    with pytest.raises(MalformedResponseError):
        await _collect(b"", gz=False)


async def test_invalid_bytes_never_stop_the_parse():
    rows = await _collect(b"sku\tname\nS1\tcaf\xe9\n", gz=False)
    assert rows[0].values["name"].startswith("caf")


async def test_csv_documents_with_quoted_commas_and_newlines():
    doc = (b'sku,name,qty\n'
           b'S1,"Mug, large",2\n'
           b'S2,"Two\nlines",1\n'
           b'S3,short\n'
           b'S4,"He said ""hi""",5\n')
    rows = await _collect(doc, gz=False)
    assert [(r.line, r.values) for r in rows if r.values] == [
        (2, {"sku": "S1", "name": "Mug, large", "qty": "2"}),
        (3, {"sku": "S2", "name": "Two\nlines", "qty": "1"}),
        (6, {"sku": "S4", "name": 'He said "hi"', "qty": "5"})]
    (bad,) = [r for r in rows if r.values is None]
    assert bad.line == 5 and bad.partial == {"sku": "S3", "name": "short"}
