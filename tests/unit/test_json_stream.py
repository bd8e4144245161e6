"""The streaming JSON parser of large report documents: entries come out as the bytes arrive,
whatever the chunk boundaries (mid-token, mid-string, mid-number), the specification is
found before or after the data, a document cut short is a truncation (downloaded again), and
GZIP is inflated on the way."""

from __future__ import annotations

import asyncio
import gzip as gz
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from worker.spapi.errors import MalformedResponseError
from worker.sync.json_stream import JsonEntries, entries
from worker.sync.report_parse import TruncatedDocumentError

SPEC = {"reportType": "GET_BRAND_ANALYTICS_SEARCH_TERMS_REPORT",
        "reportOptions": {"reportPeriod": "WEEK"}, "dataStartTime": "2021-06-06",
        "dataEndTime": "2021-06-12", "marketplaceIds": ["ATVPDKIKX0DER"]}
ENTRIES = [{"departmentName": "Beauty", "searchTerm": f"term \u00e9 {n}",
            "searchFrequencyRank": n + 1, "clickedAsin": "B123456789", "clickShareRank": 1,
            "clickShare": 0.0771, "conversionShare": 0.1} for n in range(5)]


async def _chunks(data: bytes, size: int) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i:i + size]


def _read(data: bytes, size: int, *, gzip: bool = False) -> tuple[list[Any], Any]:
    parser = JsonEntries("dataByDepartmentAndSearchTerm")

    async def go() -> list[Any]:
        return [e async for e in entries(_chunks(data, size), gzip=gzip, parser=parser)]

    return asyncio.run(go()), parser.specification


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64, 10_000])
def test_entries_whatever_the_chunks(size):
    doc = json.dumps({"reportSpecification": SPEC,
                      "dataByDepartmentAndSearchTerm": ENTRIES}).encode()
    got, spec = _read(doc, size)
    assert got == ENTRIES and spec == SPEC


@pytest.mark.parametrize("size", [1, 5, 4096])
def test_the_specification_after_the_data(size):
    doc = json.dumps({"dataByDepartmentAndSearchTerm": ENTRIES, "reportSpecification": SPEC},
                     indent=2).encode()
    got, spec = _read(doc, size)
    assert got == ENTRIES and spec == SPEC


def test_entries_arrive_before_the_document_ends():
    doc = json.dumps({"dataByDepartmentAndSearchTerm": ENTRIES * 200,
                      "reportSpecification": SPEC}).encode()
    parser = JsonEntries("dataByDepartmentAndSearchTerm")
    parser.feed(doc[: len(doc) // 2])
    assert 0 < len(parser.entries()) < 1000 and parser.specification is None


def test_gzip_is_inflated():
    doc = json.dumps({"reportSpecification": SPEC,
                      "dataByDepartmentAndSearchTerm": ENTRIES}).encode()
    got, spec = _read(gz.compress(doc), 3, gzip=True)
    assert got == ENTRIES and spec == SPEC


def test_a_document_cut_short_is_a_truncation():
    doc = json.dumps({"dataByDepartmentAndSearchTerm": ENTRIES}).encode()
    with pytest.raises(TruncatedDocumentError):
        _read(doc[:-30], 16)
    with pytest.raises(TruncatedDocumentError):
        _read(gz.compress(doc)[:-8], 16, gzip=True)


def test_a_document_that_is_not_json_is_malformed():
    with pytest.raises(MalformedResponseError, match="does not parse"):
        _read(b'{"dataByDepartmentAndSearchTerm": [{"a": tru}]}', 4)


def test_no_specification_at_all():
    got, spec = _read(json.dumps({"dataByDepartmentAndSearchTerm": []}).encode(), 8)
    assert got == [] and spec is None
