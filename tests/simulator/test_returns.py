"""Returns and reimbursements reports: Amazon's cited layouts, derived from the ledger's
refunds (so money and returns agree), deterministic for a seed, equal to
``/_sim/truth/returns``, and back-dated (a line dated before a report can appear only in a
later one)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from simulator import SimConfig
from simulator.clock import Clock
from simulator.returns import DAMAGED_SHARE, truth
from simulator.state import build_simulator

from .reportkit import create_ok, decode, document_info, download, finished, tsv
from .simkit import MakeSim, Sim

FBA = "GET_FBA_FULFILLMENT_CUSTOMER_RETURNS_DATA"
MFN = "GET_FLAT_FILE_RETURNS_DATA_BY_RETURN_DATE"
REIMBURSEMENTS = "GET_FBA_REIMBURSEMENTS_DATA"
# Amazon's lists of each type's attributes:
# https://developer-docs.amazon.com/sp-api/docs/fba-customer-concessions-reports-attributes
# https://developer-docs.amazon.com/sp-api/docs/returns-reports-attributes
# https://developer-docs.amazon.com/sp-api/docs/fba-payments-reports-attributes
CITED = {
    FBA: ["return-date", "order-id", "sku", "asin", "fnsku", "product-name", "quantity",
          "fulfillment-center-id", "detailed-disposition", "reason", "status",
          "license-plate-number", "customer-comments"],
    MFN: ["Order ID", "Order date", "Return request date", "Return request status",
          "Amazon RMA ID", "Merchant RMA ID", "Label type", "Label cost", "Currency code",
          "Return carrier", "Tracking ID", "Label to be paid by", "A-to-Z Claim", "Is prime",
          "ASIN", "Merchant SKU", "Item Name", "Return quantity", "Return Reason", "In policy",
          "Return type", "Resolution", "Invoice number", "Return delivery date",
          "Order Amount", "Order quantity", "SafeT Action reason", "SafeT claim id",
          "SafeT claim state", "SafeT claim creation time",
          "SafeT claim reimbursement amount", "Refunded Amount"],
    REIMBURSEMENTS: ["approval-date", "reimbursement-id", "case-id", "amazon-order-id",
                     "reason", "sku", "fnsku", "asin", "product-name", "condition",
                     "currency-unit", "amount-per-unit", "amount-total",
                     "quantity-reimbursed-cash", "quantity-reimbursed-inventory",
                     "quantity-reimbursed-total", "original-reimbursement-id",
                     "original-reimbursement-type"],
}
TRUTH = {FBA: "returns", MFN: "returns_mfn", REIMBURSEMENTS: "reimbursements"}
DATE_COLUMN = {FBA: "return-date", MFN: "Return request date", REIMBURSEMENTS: "approval-date"}
FILE_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+00:00$")
DAY = 86_400


async def sim_truth(sim: Sim, spid: str) -> dict[str, list[dict[str, Any]]]:
    resp = await sim.client.get("/_sim/truth/returns", params={"seller_id": spid})
    assert resp.status == 200
    body: dict[str, list[dict[str, Any]]] = await resp.json()
    return body


async def refunds(sim: Sim, spid: str) -> dict[str, str]:
    """Refunded order id -> its refund's posted date, from the finances truth."""
    resp = await sim.client.get("/_sim/truth/finances", params={"seller_id": spid})
    body = await resp.json()
    return {r["relatedIdentifierValue"]: t["postedDate"]
            for t in body["transactions"] if t["transactionType"] == "Refund"
            for r in t["relatedIdentifiers"] if r["relatedIdentifierName"] == "ORDER_ID"}


async def report(sim: Sim, token: str, report_type: str, market: str, start: float,
                 end: float) -> tuple[str, list[str], list[dict[str, str]]]:
    """(processing status, header, rows) of one report over [start, end]."""
    body = {"reportType": report_type, "marketplaceIds": [market],
            "dataStartTime": _iso(start), "dataEndTime": _iso(end)}
    done = await finished(sim, token, await create_ok(sim, token, body))
    if done["processingStatus"] != "DONE":
        return done["processingStatus"], [], []
    info = await document_info(sim, token, done["reportDocumentId"])
    _, raw, _ = await download(sim, info)
    header, rows = tsv(decode(info, raw))
    return "DONE", header, [dict(zip(header, row, strict=True)) for row in rows]


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(int(epoch), tz=UTC).isoformat()


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


async def test_reports_follow_the_cited_layouts_and_equal_the_truth(make_sim: MakeSim) -> None:
    sim = await make_sim(orders_per_seller=800, history_days=60, sellers=1)
    seller = await sim.seller()
    spid, token = seller["selling_partner_id"], await sim.access_token()
    market = seller["marketplace_ids"][0]
    now = sim.clock.now()
    known = await sim_truth(sim, spid)
    assert all(known[name] for name in TRUTH.values()), {k: len(v) for k, v in known.items()}
    refunded = await refunds(sim, spid)
    for report_type, name in TRUTH.items():
        start = now - 30 * DAY
        status, header, rows = await report(sim, token, report_type, market, start, now - 60)
        expected = [t["row"] for t in known[name] if t["marketplaceId"] == market
                    and start <= _epoch(t["event"]) <= now - 60]
        assert (status == "DONE") == bool(expected)
        if not expected:
            continue
        assert header == CITED[report_type]
        assert rows == expected  # oldest first, as the truth
        for row in rows:
            assert FILE_DATE.match(row[DATE_COLUMN[report_type]])
            order = row.get("order-id") or row.get("Order ID") or row["amazon-order-id"]
            assert order in refunded  # money and returns agree
        if report_type == FBA:  # dated by the refund
            assert all(row["return-date"] == refunded[row["order-id"]].replace("Z", "+00:00")
                       for row in rows)
        if report_type == REIMBURSEMENTS:
            for row in rows:
                assert Decimal(row["amount-total"]) == Decimal(row["amount-per-unit"]) * int(
                    row["quantity-reimbursed-cash"])
    fba_orders = {t["row"]["order-id"] for t in known["returns"]}
    damaged = {t["row"]["amazon-order-id"] for t in known["reimbursements"]}
    assert damaged <= fba_orders
    assert not fba_orders & {t["row"]["Order ID"] for t in known["returns_mfn"]}
    share = len(known["reimbursements"]) / len(known["returns"])
    assert 0 < share < 3 * DAMAGED_SHARE / 100


async def test_a_back_dated_line_appears_only_in_a_later_report(make_sim: MakeSim) -> None:
    clock = Clock()
    sim = await make_sim(clock=clock, orders_per_seller=3000, history_days=60, sellers=1)
    spid = (await sim.seller())["selling_partner_id"]
    looked, seen = clock.now(), await sim_truth(sim, spid)
    appeared: dict[str, list[tuple[float, dict[str, Any]]]] = {n: [] for n in TRUTH.values()}
    for _ in range(12):  # a look a day: each new line was dated before the previous look
        clock.advance(DAY)
        now = await sim_truth(sim, spid)
        for name in TRUTH.values():
            old = [t["row"] for t in seen[name]]
            assert all(row in [t["row"] for t in now[name]] for row in old)  # none vanish
            for line in now[name]:
                if line["row"] not in old:
                    assert _epoch(line["event"]) < looked < _epoch(line["recorded"])
                    appeared[name].append((looked, line))
        looked, seen = clock.now(), now
    assert all(appeared.values()), {k: len(v) for k, v in appeared.items()}
    # Not recorded at the look before it appeared (above); a report asked for now holds it.
    token = await sim.access_token()
    _, line = appeared["returns"][-1]
    event, market = _epoch(line["event"]), line["marketplaceId"]
    _, _, rows = await report(sim, token, FBA, market, event - 1, clock.now() - 60)
    assert line["row"] in rows
    assert _epoch(line["recorded"]) - event <= 10 * DAY


def test_the_lines_are_a_function_of_the_seed_and_the_clock() -> None:
    start = Clock().now()
    one, two = (build_simulator(SimConfig(sellers=2, orders_per_seller=500, seed=11),
                                Clock(start)) for _ in range(2))
    other = build_simulator(SimConfig(sellers=2, orders_per_seller=500, seed=12), Clock(start))
    for a, b, c in zip(one.world.sellers.values(), two.world.sellers.values(),
                       other.world.sellers.values(), strict=True):
        assert truth(one, a) == truth(two, b)
        assert truth(one, a) != truth(other, c)


async def test_an_unknown_seller_has_no_truth(make_sim: MakeSim) -> None:
    sim = await make_sim()
    resp = await sim.client.get("/_sim/truth/returns", params={"seller_id": "nobody"})
    assert resp.status == 400
