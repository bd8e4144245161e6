"""Report-document URLs (signed, expiring), download faults, report faults and the
streaming generator for big reports."""

from __future__ import annotations

import gzip
import zlib
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from .reportkit import (
    ORDERS_REPORT,
    REPORTS_MODEL,
    create_ok,
    decode,
    document_info,
    download,
    finished,
    json_document,
    tsv,
)
from .simkit import MakeSim, Sim, schema_errors


async def _done_document(sim: Sim, token: str, report_type: str = ORDERS_REPORT) -> str:
    seller = await sim.seller()
    body = {"reportType": report_type, "marketplaceIds": seller["marketplace_ids"],
            "dataStartTime": sim.recent(29 * 86_400)}
    report = await finished(sim, token, await create_ok(sim, token, body))
    assert report["processingStatus"] == "DONE"
    document_id: str = report["reportDocumentId"]
    return document_id


async def _fault(sim: Sim, fault: str, **extra: Any) -> None:
    status, body = await sim.post("/_sim/faults", {"fault": fault, **extra})
    assert status == 200, body


def _with(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()} | changes
    return parts._replace(query=urlencode(query)).geturl()


async def test_url_expires_after_five_minutes_scaled_and_rejects_tampering(
    make_sim: MakeSim,
) -> None:
    sim = await make_sim(orders_per_seller=30, time_scale=60)  # URL lives 5 s
    token = await sim.access_token()
    info = await document_info(sim, token, await _done_document(sim, token))
    tampered = [
        _with(info["url"], expires=str(int(parse_qs(urlsplit(info["url"]).query)["expires"][0])
                                       + 60_000)),
        _with(info["url"], sig="0" * 64),
        info["url"].replace("amzn1.spdoc", "amzn1.spdoX"),
    ]
    for url in tampered:
        resp = await sim.client.session.get(url)
        assert resp.status == 403 and "SignatureDoesNotMatch" in await resp.text()
    assert (await download(sim, info))[0] == 200
    sim.clock.advance(5.5)
    status, raw, headers = await download(sim, info)
    assert status == 403 and b"<Code>AccessDenied</Code>" in raw
    assert headers["Content-Type"].startswith("application/xml")


async def test_content_encoding_header_when_asked(make_sim: MakeSim) -> None:
    sim = await make_sim(orders_per_seller=30)
    token = await sim.access_token()
    document_id = await _done_document(sim, token)
    info = await document_info(sim, token, document_id, enableContentEncodingUrlHeader="true")
    resp = await sim.client.session.get(info["url"])  # aiohttp decompresses by itself
    assert resp.headers["Content-Encoding"] == "gzip"
    assert (await resp.text()).startswith("amazon-order-id\t")


async def test_report_fatal_fires_once_with_an_error_document(make_sim: MakeSim) -> None:
    sim = await make_sim(orders_per_seller=10)
    token = await sim.access_token()
    await _fault(sim, "report_fatal")
    seller = await sim.seller()
    body = {"reportType": ORDERS_REPORT, "marketplaceIds": seller["marketplace_ids"],
            "dataStartTime": sim.recent(29 * 86_400)}
    fatal = await finished(sim, token, await create_ok(sim, token, body))
    assert fatal["processingStatus"] == "FATAL"
    assert schema_errors(REPORTS_MODEL, "Report", fatal) == []
    info = await document_info(sim, token, fatal["reportDocumentId"])
    status, raw, headers = await download(sim, info)
    assert status == 200 and headers["Content-Type"].startswith("application/json")
    assert "errorDetails" in json_document(decode(info, raw))
    after = await finished(sim, token, await create_ok(sim, token, body))
    assert after["processingStatus"] == "DONE"


async def test_report_cancelled_fires_once(make_sim: MakeSim) -> None:
    sim = await make_sim(orders_per_seller=10)
    token = await sim.access_token()
    await _fault(sim, "report_cancelled", operation="createReport")
    seller = await sim.seller()
    body = {"reportType": "GET_MERCHANT_LISTINGS_ALL_DATA",
            "marketplaceIds": seller["marketplace_ids"]}
    first = await finished(sim, token, await create_ok(sim, token, body))
    second = await finished(sim, token, await create_ok(sim, token, body))
    assert [first["processingStatus"], second["processingStatus"]] == ["CANCELLED", "DONE"]
    assert "reportDocumentId" not in first and "processingEndTime" in first
    status, body = await sim.post("/_sim/faults", {"fault": "report_fatal",
                                                   "operation": "getReport"})
    assert status == 400


async def test_document_expired_fires_once(make_sim: MakeSim) -> None:
    sim = await make_sim(orders_per_seller=10)
    token = await sim.access_token()
    document_id = await _done_document(sim, token)
    await _fault(sim, "document_expired")
    expired = await document_info(sim, token, document_id)
    assert (await download(sim, expired))[0] == 403
    fresh = await document_info(sim, token, document_id)
    assert (await download(sim, fresh))[0] == 200


async def test_truncated_gzip_fires_once_on_a_gzip_download(make_sim: MakeSim) -> None:
    sim = await make_sim(orders_per_seller=60)
    token = await sim.access_token()
    info = await document_info(sim, token, await _done_document(sim, token))
    assert info["compressionAlgorithm"] == "GZIP"
    await _fault(sim, "document_truncated_gzip")
    status, raw, _ = await download(sim, info)
    assert status == 200
    with pytest.raises(EOFError):
        gzip.decompress(raw)
    partial = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(raw).decode()
    assert partial.startswith("amazon-order-id\t") and partial.count("\n") > 1
    status, raw, _ = await download(sim, info)
    full = gzip.decompress(raw).decode()
    assert full.startswith(partial) and len(full) > len(partial)


async def test_malformed_row_fires_once(make_sim: MakeSim) -> None:
    sim = await make_sim(orders_per_seller=60)
    token = await sim.access_token()
    info = await document_info(sim, token, await _done_document(sim, token))
    await _fault(sim, "document_malformed_row")
    header, rows = tsv(decode(info, (await download(sim, info))[1]))
    broken = [r for r in rows if len(r) != len(header)]
    assert len(broken) == 1
    header, rows = tsv(decode(info, (await download(sim, info))[1]))
    assert all(len(r) == len(header) for r in rows)
    listed = (await (await sim.client.get("/_sim/faults")).json())["faults"]
    assert listed == []


async def test_generator_streams_n_rows(make_sim: MakeSim) -> None:
    sim = await make_sim(orders_per_seller=1)
    token = await sim.access_token()
    seller_id = (await sim.seller())["selling_partner_id"]
    status, made = await sim.post("/_sim/reports/generate",
                                  {"seller_id": seller_id, "rows": 20_000})
    assert status == 200 and made["processingStatus"] == "DONE" and made["rows"] == 20_000
    _, report, _ = await sim.get(f"/reports/2021-06-30/reports/{made['reportId']}", token)
    assert report["processingStatus"] == "DONE"
    assert report["reportDocumentId"] == made["reportDocumentId"]
    info = await document_info(sim, token, made["reportDocumentId"])
    assert info["compressionAlgorithm"] == "GZIP"
    resp = await sim.client.session.get(info["url"], auto_decompress=False)
    assert "Content-Length" not in resp.headers  # streamed, chunk by chunk
    chunks = [chunk async for chunk in resp.content.iter_chunked(1 << 16)]
    assert len(chunks) > 1
    header, rows = tsv(gzip.decompress(b"".join(chunks)).decode())
    assert len(rows) == 20_000 and all(len(r) == len(header) for r in rows)
    assert [r[3] for r in rows] == sorted(r[3] for r in rows)
    for bad in ({"seller_id": seller_id, "rows": 0},
                {"seller_id": seller_id, "rows": 5, "report_type": "GET_FOO"}):
        assert (await sim.post("/_sim/reports/generate", bad))[0] == 400


async def test_a_prerendered_document_serves_the_same_rows_from_its_file(make_sim: MakeSim) -> None:
    sim = await make_sim(orders_per_seller=1)
    token = await sim.access_token()
    seller_id = (await sim.seller())["selling_partner_id"]
    status, made = await sim.post("/_sim/reports/generate",
                                  {"seller_id": seller_id, "rows": 3_000, "prerender": True})
    assert status == 200
    info = await document_info(sim, token, made["reportDocumentId"])
    header, rows = tsv(decode(info, (await download(sim, info))[1]))
    assert len(rows) == 3_000 and all(len(r) == len(header) for r in rows)
    again = await document_info(sim, token, made["reportDocumentId"])
    assert decode(again, (await download(sim, again))[1]) == decode(
        info, (await download(sim, info))[1])  # read twice: no shared file position
    bad = {"seller_id": seller_id, "rows": 5, "prerender": "yes"}
    assert (await sim.post("/_sim/reports/generate", bad))[0] == 400
