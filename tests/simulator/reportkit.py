"""Helpers for the Reports/Listings/Inventory tests: create a report, wait for it on the
simulated clock, fetch and decode its document, parse TSV."""

from __future__ import annotations

import gzip
import json
from typing import Any

from .simkit import Sim

REPORTS = "/reports/2021-06-30/reports"
DOCUMENTS = "/reports/2021-06-30/documents"
REPORTS_MODEL = "reports_2021-06-30"
ORDERS_REPORT = "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_UPDATE_GENERAL"


async def create(sim: Sim, token: str, body: dict[str, Any]) -> tuple[int, Any]:
    resp = await sim.client.post(REPORTS, json=body, headers={"x-amz-access-token": token})
    return resp.status, await resp.json(content_type=None)


async def create_ok(sim: Sim, token: str, body: dict[str, Any]) -> str:
    status, created = await create(sim, token, body)
    assert status == 202, created
    report_id: str = created["reportId"]
    return report_id


async def finished(sim: Sim, token: str, report_id: str) -> dict[str, Any]:
    """The report after its whole processing delay has passed on the simulated clock."""
    sim.clock.advance(sim.config.report_delay_seconds / sim.config.time_scale + 1)
    status, report, _ = await sim.get(f"{REPORTS}/{report_id}", token)
    assert status == 200, report
    return dict(report)


async def document_info(sim: Sim, token: str, document_id: str,
                        **params: str) -> dict[str, Any]:
    status, info, _ = await sim.get(f"{DOCUMENTS}/{document_id}", token, params or None)
    assert status == 200, info
    return dict(info)


async def download(sim: Sim, info: dict[str, Any]) -> tuple[int, bytes, Any]:
    """(status, raw body, headers) of a document URL, without decompression."""
    resp = await sim.client.session.get(info["url"], auto_decompress=False)
    return resp.status, await resp.read(), resp.headers


def decode(info: dict[str, Any], raw: bytes) -> str:
    data = gzip.decompress(raw) if info.get("compressionAlgorithm") == "GZIP" else raw
    return data.decode("utf-8")


def tsv(text: str) -> tuple[list[str], list[list[str]]]:
    lines = text.split("\n")
    assert lines[-1] == ""
    header, *rows = (line.split("\t") for line in lines[:-1])
    return header, rows


async def report_text(sim: Sim, token: str, body: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """Create, finish, download and decode one report: (its document info, the text)."""
    report = await finished(sim, token, await create_ok(sim, token, body))
    assert report["processingStatus"] == "DONE", report
    info = await document_info(sim, token, report["reportDocumentId"])
    status, raw, _ = await download(sim, info)
    assert status == 200
    return info, decode(info, raw)


def json_document(text: str) -> Any:
    return json.loads(text)
