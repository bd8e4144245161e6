"""Reports API: lifecycle on the scaled clock, bodies per the model, documents that
download, gunzip and parse, and rows that agree with the simulator's truth."""

from __future__ import annotations

from typing import Any

from .reportkit import (
    DOCUMENTS,
    ORDERS_REPORT,
    REPORTS,
    REPORTS_MODEL,
    create,
    create_ok,
    decode,
    document_info,
    download,
    finished,
    json_document,
    report_text,
    tsv,
)
from .simkit import EPOCH, MakeSim, Sim, schema_errors

ORDER_HEADER = [
    "amazon-order-id", "merchant-order-id", "purchase-date", "last-updated-date",
    "order-status", "fulfillment-channel", "sales-channel", "order-channel",
    "ship-service-level", "product-name", "sku", "asin", "item-status", "quantity", "currency",
    "item-price", "item-tax", "shipping-price", "shipping-tax", "gift-wrap-price",
    "gift-wrap-tax", "item-promotion-discount", "ship-promotion-discount", "ship-city",
    "ship-state", "ship-postal-code", "ship-country", "promotion-ids", "is-business-order",
    "purchase-order-number", "price-designation",
]


async def _orders_body(sim: Sim, days: float = 29, index: int = 0) -> dict[str, Any]:
    seller = await sim.seller(index)
    return {"reportType": ORDERS_REPORT, "marketplaceIds": seller["marketplace_ids"],
            "dataStartTime": sim.recent(days * 86_400), "dataEndTime": sim.recent(0)}


async def test_lifecycle_follows_the_scaled_delay_and_bodies_follow_the_model(
    make_sim: MakeSim,
) -> None:
    sim = await make_sim(time_scale=10, report_delay_seconds=30)  # 3 s of simulated time
    token = await sim.access_token()
    status, created = await create(sim, token, await _orders_body(sim))
    assert status == 202 and schema_errors(REPORTS_MODEL, "CreateReportResponse", created) == []
    path = f"{REPORTS}/{created['reportId']}"
    seen = []
    for step in (0, 1, 2.5):
        sim.clock.advance(step)
        _, report, _ = await sim.get(path, token)
        assert schema_errors(REPORTS_MODEL, "Report", report) == []
        seen.append(report)
    assert [r["processingStatus"] for r in seen] == ["IN_QUEUE", "IN_PROGRESS", "DONE"]
    assert "processingStartTime" not in seen[0] and "processingEndTime" not in seen[1]
    assert "reportDocumentId" not in seen[1]
    assert {"processingStartTime", "processingEndTime", "reportDocumentId"} <= set(seen[2])
    info = await document_info(sim, token, seen[2]["reportDocumentId"])
    assert schema_errors(REPORTS_MODEL, "ReportDocument", info) == []
    assert info["compressionAlgorithm"] == "GZIP"
    status, raw, headers = await download(sim, info)
    assert status == 200 and headers["Content-Type"] == "application/gzip"
    header, rows = tsv(decode(info, raw))
    assert header == ORDER_HEADER and rows and all(len(r) == len(header) for r in rows)


async def test_order_rows_agree_with_truth(make_sim: MakeSim) -> None:
    sim = await make_sim(orders_per_seller=40, sellers=4)
    seller = await sim.seller(3)  # US + CA
    token = await sim.access_token(3)
    await sim.post("/_sim/mutate", {"seller_id": seller["selling_partner_id"], "count": 5})
    _, text = await report_text(sim, token, await _orders_body(sim, index=3))
    _, rows = tsv(text)
    truth = await sim.truth(seller["selling_partner_id"])
    expected = {
        (o["AmazonOrderId"], i["SellerSKU"]): (o, i)
        for o in truth for i in o["OrderItems"]
        if o["LastUpdateDate"] >= sim.recent(29 * 86_400)
    }
    got = {(r[0], r[10]): r for r in rows}
    assert got.keys() == expected.keys() and len(rows) == len(got)
    for key, row in got.items():
        order, item = expected[key]
        assert row[4] == order["OrderStatus"] and row[11] == item["ASIN"]
        assert row[3].replace("+00:00", "Z") == order["LastUpdateDate"]
        assert int(row[13]) == item["QuantityOrdered"]
        if order["OrderStatus"] != "Pending":
            assert row[15] == item["ItemPrice"]["Amount"]
            assert row[14] == item["ItemPrice"]["CurrencyCode"]
        assert row[23:27] == ["", "", "", ""]  # no ship-to PII


async def test_orders_report_window_is_at_most_30_days(make_sim: MakeSim) -> None:
    sim = await make_sim(orders_per_seller=5)
    token = await sim.access_token()
    status, body = await create(sim, token, await _orders_body(sim, days=31))
    assert status == 400 and schema_errors(REPORTS_MODEL, "ErrorList", body) == []
    assert "30 days" in body["errors"][0]["message"]
    future = {**await _orders_body(sim), "dataEndTime": "2999-01-01T00:00:00Z"}
    assert (await create(sim, token, future))[0] == 400
    for bad in ({"reportType": ORDERS_REPORT}, {"marketplaceIds": ["ATVPDKIKX0DER"]},
                {"reportType": "nonsense", "marketplaceIds": ["ATVPDKIKX0DER"]},
                {"reportType": ORDERS_REPORT, "marketplaceIds": ["A1PA6795UKMFR9"]},
                {"reportType": ORDERS_REPORT, "marketplaceIds": []}):
        status, body = await create(sim, token, bad)
        assert status == 400, bad
    resp = await sim.client.post(REPORTS, data=b"{not json",
                                 headers={"x-amz-access-token": token})
    assert resp.status == 400


async def test_listings_and_inventory_reports_agree_with_truth(make_sim: MakeSim) -> None:
    sim = await make_sim(orders_per_seller=5)
    seller = await sim.seller()
    spid, market = seller["selling_partner_id"], seller["marketplace_ids"][0]
    token = await sim.access_token()
    body = {"marketplaceIds": [market]}
    listings_body = {**body, "reportType": "GET_MERCHANT_LISTINGS_ALL_DATA"}
    _, text = await report_text(sim, token, listings_body)
    header, rows = tsv(text)
    assert header[:4] == ["item-name", "item-description", "listing-id", "seller-sku"]
    assert header[-1] == "status" and "asin1" in header and "fulfillment-channel" in header
    listings = (await (await sim.client.get("/_sim/truth/listings",
                                            params={"seller_id": spid})).json())["listings"]
    truth = {t["sku"]: t for t in listings if t["marketplaceId"] == market}
    by_sku = {r[3]: dict(zip(header, r, strict=True)) for r in rows}
    assert by_sku.keys() == truth.keys()
    for sku, row in by_sku.items():
        assert row["price"] == truth[sku]["price"] and row["asin1"] == truth[sku]["asin"]
        assert (row["status"] == "Active") == ("BUYABLE" in truth[sku]["status"])
    _, text = await report_text(
        sim, token, {**body, "reportType": "GET_FBA_MYI_UNSUPPRESSED_INVENTORY_DATA"})
    header, rows = tsv(text)
    assert header[:6] == ["sku", "fnsku", "asin", "product-name", "condition", "your-price"]
    stock = (await (await sim.client.get("/_sim/truth/inventory",
                                         params={"seller_id": spid})).json())["inventory"]
    expected = {s["sellerSku"]: s for s in stock if s["marketplaceId"] == market}
    mine = {r[0]: dict(zip(header, r, strict=True)) for r in rows}
    assert mine.keys() == expected.keys()
    for sku, row in mine.items():
        assert int(row["afn-fulfillable-quantity"]) == expected[sku]["fulfillableQuantity"]
        assert int(row["afn-reserved-quantity"]) == expected[sku]["reservedQuantity"]
        assert int(row["afn-unsellable-quantity"]) == expected[sku]["unfulfillableQuantity"]
        assert row["fnsku"] == expected[sku]["fnSku"]


async def test_sales_and_traffic_is_json_derived_from_orders(make_sim: MakeSim) -> None:
    sim = await make_sim(orders_per_seller=40)
    seller = await sim.seller()
    token = await sim.access_token()
    body = {"reportType": "GET_SALES_AND_TRAFFIC_REPORT",
            "marketplaceIds": seller["marketplace_ids"][:1],
            "dataStartTime": sim.recent(10 * 86_400), "dataEndTime": sim.recent(0),
            "reportOptions": {"dateGranularity": "WEEK", "asinGranularity": "SKU"}}
    _, text = await report_text(sim, token, body)
    doc = json_document(text)
    assert set(doc) == {"reportSpecification", "salesAndTrafficByDate", "salesAndTrafficByAsin"}
    assert doc["reportSpecification"]["reportOptions"] == body["reportOptions"]
    assert len(doc["salesAndTrafficByDate"]) in (2, 3)  # 11 days span 2 or 3 weeks
    for period in doc["salesAndTrafficByDate"]:
        assert {"date", "salesByDate", "trafficByDate"} <= set(period)
        assert {"orderedProductSales", "unitsOrdered", "shippedProductSales"} <= set(
            period["salesByDate"])
    units = sum(a["salesByAsin"]["unitsOrdered"] for a in doc["salesAndTrafficByAsin"])
    assert units == sum(p["salesByDate"]["unitsOrdered"] for p in doc["salesAndTrafficByDate"])
    assert all({"parentAsin", "childAsin", "sku"} <= set(a) for a in doc["salesAndTrafficByAsin"])
    bad = {**body, "reportOptions": {"dateGranularity": "YEAR"}}
    assert (await create(sim, token, bad))[0] == 400


async def test_other_types_small_tsv_and_empty_windows_are_cancelled(make_sim: MakeSim) -> None:
    sim = await make_sim(orders_per_seller=5)
    seller = await sim.seller()
    token = await sim.access_token()
    body = {"reportType": "GET_FBA_FULFILLMENT_LONGTERM_STORAGE_FEE_CHARGES_DATA",  # no content
            "marketplaceIds": seller["marketplace_ids"]}
    info, text = await report_text(sim, token, body)
    assert "compressionAlgorithm" not in info
    header, rows = tsv(text)
    assert 0 < len(rows) <= 10 and all(len(r) == len(header) for r in rows)
    _, _, headers = await download(sim, info)
    assert headers["Content-Type"] == "text/tab-separated-values; charset=UTF-8"
    empty = {"reportType": ORDERS_REPORT, "marketplaceIds": seller["marketplace_ids"],
             "dataStartTime": EPOCH, "dataEndTime": "2000-01-02T00:00:00Z"}
    report = await finished(sim, token, await create_ok(sim, token, empty))
    assert report["processingStatus"] == "CANCELLED" and "reportDocumentId" not in report


async def test_cancel_only_in_queue_and_unknown_ids(make_sim: MakeSim) -> None:
    sim = await make_sim(orders_per_seller=5)
    token = await sim.access_token()
    report_id = await create_ok(sim, token, await _orders_body(sim))
    resp = await sim.client.delete(f"{REPORTS}/{report_id}", headers={"x-amz-access-token": token})
    assert resp.status == 200 and await resp.read() == b""
    report = await finished(sim, token, report_id)
    assert report["processingStatus"] == "CANCELLED" and "processingEndTime" not in report
    done = await finished(sim, token, await create_ok(sim, token, await _orders_body(sim)))
    resp = await sim.client.delete(f"{REPORTS}/{done['reportId']}",
                                   headers={"x-amz-access-token": token})
    assert resp.status == 400
    for path in (f"{REPORTS}/123", f"{DOCUMENTS}/amzn1.spdoc.nothing"):
        status, body, _ = await sim.get(path, token)
        assert status == 404 and schema_errors(REPORTS_MODEL, "ErrorList", body) == []
    other = await sim.access_token(1)  # another seller cannot see this report or document
    assert (await sim.get(f"{REPORTS}/{report_id}", other))[0] == 404
    assert (await sim.get(f"{DOCUMENTS}/{done['reportDocumentId']}", other))[0] == 404


async def test_get_reports_pages_newest_first_and_filters(make_sim: MakeSim) -> None:
    sim = await make_sim(orders_per_seller=5)
    token = await sim.access_token()
    ids = []
    for n in range(5):
        ids.append(await create_ok(sim, token, await _orders_body(sim)))
        sim.clock.advance(40 if n == 1 else 2)  # the first two finish, the others do not
    params: dict[str, Any] = {"reportTypes": ORDERS_REPORT, "pageSize": 2}
    seen: list[str] = []
    while True:
        status, body, _ = await sim.get(REPORTS, token, params)
        assert status == 200 and schema_errors(REPORTS_MODEL, "GetReportsResponse", body) == []
        seen += [r["reportId"] for r in body["reports"]]
        if "nextToken" not in body:
            break
        params = {"nextToken": body["nextToken"]}
    assert seen == ids[::-1]
    status, body, _ = await sim.get(REPORTS, token, {"reportTypes": ORDERS_REPORT,
                                                     "pageSize": 2})
    both = {"reportTypes": ORDERS_REPORT, "nextToken": body["nextToken"]}
    assert (await sim.get(REPORTS, token, both))[0] == 400
    assert (await sim.get(REPORTS, token, {}))[0] == 400
    _, body, _ = await sim.get(REPORTS, token, {"reportTypes": ORDERS_REPORT,
                                                "processingStatuses": "DONE"})
    assert [r["reportId"] for r in body["reports"]] == ids[:2][::-1]  # older ones are done
    _, body, _ = await sim.get(REPORTS, token, {"reportTypes": "GET_OTHER"})
    assert body == {"reports": []}
