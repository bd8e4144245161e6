"""The inventory, listings and reports operations share the gateway: usage plans from the
models, the common faults, and the blocking ``SimulatorClient`` helpers."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest

from simulator.remote import SimulatorClient
from simulator.spec import all_operations

from .reportkit import ORDERS_REPORT, REPORTS, create_ok, finished
from .simkit import MakeSim, Sim, schema_errors

LISTINGS, REPORTS_MODEL = "listingsItems_2021-08-01", "reports_2021-06-30"


def test_usage_plans_come_from_the_models() -> None:
    plans = {k: (op.rate, op.burst, op.status) for k, op in all_operations().items()}
    assert {k: v for k, v in plans.items() if k in {
        "getInventorySummaries", "getListingsItem", "searchListingsItems", "createReport",
        "getReports", "getReport", "cancelReport", "getReportDocument"}} == {
        "getInventorySummaries": (Decimal("2"), 2, 200),
        "getListingsItem": (Decimal("5"), 10, 200),
        "searchListingsItems": (Decimal("5"), 5, 200),
        "createReport": (Decimal("0.0167"), 15, 202),
        "getReports": (Decimal("0.0222"), 10, 200),
        "getReport": (Decimal("2"), 15, 200),
        "cancelReport": (Decimal("0.0222"), 10, 200),
        "getReportDocument": (Decimal("0.0167"), 15, 200),
    }


async def _calls(sim: Sim) -> dict[str, tuple[str, dict[str, Any], str, str]]:
    seller = await sim.seller()
    spid, market = seller["selling_partner_id"], seller["marketplace_ids"][0]
    token = await sim.access_token()
    body = {"reportType": ORDERS_REPORT, "marketplaceIds": [market],
            "dataStartTime": sim.recent(20 * 86_400)}
    report = await finished(sim, token, await create_ok(sim, token, body))
    sku = (await (await sim.client.get("/_sim/truth/listings", params={"seller_id": spid})
                  ).json())["listings"][0]["sku"]
    return {
        "getInventorySummaries": ("/fba/inventory/v1/summaries", {
            "granularityType": "Marketplace", "granularityId": market, "marketplaceIds": market,
        }, "fbaInventoryV1", "GetInventorySummariesResponse"),
        "getListingsItem": (f"/listings/2021-08-01/items/{spid}/{sku}",
                            {"marketplaceIds": market}, LISTINGS, "Item"),
        "searchListingsItems": (f"/listings/2021-08-01/items/{spid}",
                                {"marketplaceIds": market}, LISTINGS, "ItemSearchResults"),
        "getReports": (REPORTS, {"reportTypes": ORDERS_REPORT}, REPORTS_MODEL,
                       "GetReportsResponse"),
        "getReport": (f"{REPORTS}/{report['reportId']}", {}, REPORTS_MODEL, "Report"),
        "getReportDocument": (f"/reports/2021-06-30/documents/{report['reportDocumentId']}",
                              {}, REPORTS_MODEL, "ReportDocument"),
    }


async def test_malformed_fault_breaks_each_new_schema_once(make_sim: MakeSim) -> None:
    sim = await make_sim(orders_per_seller=20)
    token = await sim.access_token()
    for operation, (path, params, model, definition) in (await _calls(sim)).items():
        await sim.post("/_sim/faults", {"operation": operation, "fault": "malformed"})
        status, body, _ = await sim.get(path, token, params)
        assert status == 200 and schema_errors(model, definition, body), operation
        _, body, _ = await sim.get(path, token, params)
        assert schema_errors(model, definition, body) == [], operation


@pytest.mark.parametrize(("fault", "status"), [("http_503", 503), ("throttle", 429)])
async def test_common_faults_hit_create_report(make_sim: MakeSim, fault: str,
                                               status: int) -> None:
    sim = await make_sim(orders_per_seller=5)
    token = await sim.access_token()
    market = (await sim.seller())["marketplace_ids"][0]
    await sim.post("/_sim/faults", {"operation": "createReport", "fault": fault})
    resp = await sim.client.post(REPORTS, json={"reportType": ORDERS_REPORT,
                                                "marketplaceIds": [market]},
                                 headers={"x-amz-access-token": token})
    assert resp.status == status and resp.headers["x-amzn-RateLimit-Limit"] == "0.0167"


async def test_remote_client_helpers(make_sim: MakeSim) -> None:
    sim = await make_sim(orders_per_seller=5)
    spid = (await sim.seller())["selling_partner_id"]
    client = SimulatorClient(str(sim.client.make_url("")))
    listings = await asyncio.to_thread(client.truth_listings, spid)
    assert set(listings["listings"][0]) == {"sku", "marketplaceId", "status", "asin", "issues",
                                            "price", "quantity", "onHand", "oversold"}
    inventory = await asyncio.to_thread(client.truth_inventory, spid)
    assert set(inventory["inventory"][0]) == {
        "marketplaceId", "sellerSku", "fnSku", "asin", "fulfillableQuantity",
        "inboundWorkingQuantity", "inboundShippedQuantity", "inboundReceivingQuantity",
        "reservedQuantity", "unfulfillableQuantity", "lastUpdatedTime"}
    made = await asyncio.to_thread(client.generate_report, spid, 10)
    assert made["processingStatus"] == "DONE" and made["rows"] == 10
    changed = await asyncio.to_thread(client.mutate, spid, 2, "listings")
    assert len(changed) == 2
