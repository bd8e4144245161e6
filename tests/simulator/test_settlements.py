"""Settlement reports: scheduled by the simulator from the ledger's closed payout groups,
listed by getReports, downloaded in Amazon's V2 flat-file layout, announced when they
appear, re-issued on demand, and equal to ``/_sim/truth/settlements``."""

from __future__ import annotations

import asyncio
import re
from decimal import Decimal
from typing import Any

import pytest

from simulator import SimConfig
from simulator.clock import Clock
from simulator.remote import SimulatorClient
from simulator.settlement_book import PERIOD, last_period_end
from simulator.state import build_simulator
from worker.notifications.envelope import parse

from .reportkit import REPORTS, REPORTS_MODEL, decode, document_info, download, tsv
from .simkit import MakeSim, Sim, schema_errors, until
from .test_notifications import Queue, app_token, destination, subscribe, validate_official

SETTLEMENT = "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2"
# Amazon's list, https://developer-docs.amazon.com/sp-api/docs/settlement-reports-attributes
CITED_COLUMNS = [
    "settlement-id", "settlement-start-date", "settlement-end-date", "deposit-date",
    "total-amount", "currency", "transaction-type", "order-id", "merchant-order-id",
    "adjustment-id", "shipment-id", "marketplace-name", "amount-type", "amount-description",
    "amount", "fulfillment-id", "posted-date", "posted-date-time", "order-item-code",
    "merchant-order-item-id", "merchant-adjustment-item-id", "sku", "quantity-purchased",
]
FILE_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+00:00$")
AMOUNT = re.compile(r"^-?\d+\.\d{2}$")
DAY = 86_400


@pytest.fixture
def queue(sqs_server: Any) -> Queue:
    return Queue(sqs_server)


async def truth(sim: Sim, spid: str) -> list[dict[str, Any]]:
    resp = await sim.client.get("/_sim/truth/settlements", params={"seller_id": spid})
    assert resp.status == 200
    settlements: list[dict[str, Any]] = (await resp.json())["settlements"]
    return settlements


async def finance_groups(sim: Sim, spid: str) -> list[dict[str, Any]]:
    resp = await sim.client.get("/_sim/truth/finances", params={"seller_id": spid})
    assert resp.status == 200
    groups: list[dict[str, Any]] = (await resp.json())["groups"]
    return groups


async def listed(sim: Sim, token: str, params: dict[str, str]) -> tuple[list[dict[str, Any]],
                                                                        int]:
    """Every page of getReports (each schema-checked) and the number of pages."""
    found: list[dict[str, Any]] = []
    query, pages = {"reportTypes": SETTLEMENT, **params}, 0
    while True:
        status, body, _ = await sim.get(REPORTS, token, query)
        assert status == 200, body
        assert schema_errors(REPORTS_MODEL, "GetReportsResponse", body) == []
        found += body["reports"]
        pages += 1
        if "nextToken" not in body:
            return found, pages
        query = {"nextToken": body["nextToken"]}


async def document(sim: Sim, token: str, report_id: str) -> tuple[list[str], list[list[str]]]:
    status, report, _ = await sim.get(f"{REPORTS}/{report_id}", token)
    assert status == 200 and report["processingStatus"] == "DONE", report
    info = await document_info(sim, token, report["reportDocumentId"])
    assert schema_errors(REPORTS_MODEL, "ReportDocument", info) == []
    status, raw, _ = await download(sim, info)
    assert status == 200
    return tsv(decode(info, raw))


async def test_get_reports_lists_exactly_the_truths_settlements(make_sim: MakeSim) -> None:
    sim = await make_sim(orders_per_seller=300, history_days=60)
    spid, token = (await sim.seller())["selling_partner_id"], await sim.access_token()
    settlements = await truth(sim, spid)
    assert len(settlements) >= 3
    reports, pages = await listed(sim, token, {"pageSize": "2"})
    assert pages == (len(settlements) + 1) // 2
    assert sorted(r["reportId"] for r in reports) == sorted(s["reportId"] for s in settlements)
    by_id = {s["reportId"]: s for s in settlements}
    for report in reports:
        settlement = by_id[report["reportId"]]
        assert report["processingStatus"] == "DONE" and report["reportType"] == SETTLEMENT
        # Created when its period closed: Amazon schedules it, nobody asked.
        assert report["createdTime"] == settlement["endDate"] == report["dataEndTime"]
        assert report["dataStartTime"] == settlement["startDate"]
    since = sorted(s["endDate"] for s in settlements)[1]
    later, _ = await listed(sim, token, {"createdSince": since})
    assert sorted(r["reportId"] for r in later) == sorted(
        s["reportId"] for s in settlements if s["endDate"] >= since)
    others, _ = await listed(sim, token, {"reportTypes": "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_"
                                                         "LAST_UPDATE_GENERAL"})
    assert others == []  # settlement reports show only under their own type


async def test_documents_follow_the_cited_layout_and_sum_to_their_group(
    make_sim: MakeSim,
) -> None:
    sim = await make_sim(orders_per_seller=300, history_days=60, sellers=3)
    for index in range(3):
        seller = await sim.seller(index)
        spid, token = seller["selling_partner_id"], await sim.access_token(index)
        groups = {(g["FinancialEventGroupStart"], g["OriginalTotal"]["CurrencyCode"]): g
                  for g in await finance_groups(sim, spid)}
        settlements = await truth(sim, spid)
        assert settlements
        for settlement in settlements:
            header, rows = await document(sim, token, settlement["reportId"])
            assert header == CITED_COLUMNS
            assert all(len(row) == len(header) for row in rows)
            summary, *lines = [dict(zip(header, row, strict=True)) for row in rows]
            assert summary["settlement-id"] == settlement["settlementId"]
            assert [summary[c] for c in CITED_COLUMNS[1:4]] == [
                settlement[k].replace("Z", "+00:00")
                for k in ("startDate", "endDate", "depositDate")]
            assert all(FILE_DATE.match(summary[c]) for c in CITED_COLUMNS[1:4])
            assert not any(summary[c] for c in CITED_COLUMNS[6:])
            assert lines == settlement["lines"] and lines
            amounts = [Decimal(line["amount"]) for line in lines]
            assert all(AMOUNT.match(line["amount"]) for line in lines)
            assert Decimal(summary["total-amount"]) == sum(amounts)
            assert summary["total-amount"] == settlement["totalAmount"]
            group = groups[(settlement["startDate"], settlement["currency"])]
            assert group["ProcessingStatus"] == "Closed"
            assert Decimal(str(group["OriginalTotal"]["CurrencyAmount"])) == sum(amounts)
            assert {line["settlement-id"] for line in lines} == {settlement["settlementId"]}
            kinds = {(line["transaction-type"], line["amount-type"], line["amount-description"])
                     for line in lines}
            assert ("Order", "ItemPrice", "Principal") in kinds
            assert ("Order", "ItemFees", "Commission") in kinds
            assert all(FILE_DATE.match(line["posted-date-time"])
                       and settlement["startDate"] <= line["posted-date-time"].replace(
                           "+00:00", "Z") < settlement["endDate"] for line in lines)
        # Every closed group of the ledger is a settlement, and no open one is.
        closed = {k for k, g in groups.items() if g["ProcessingStatus"] == "Closed"}
        assert closed == {(s["startDate"], s["currency"]) for s in settlements}


async def test_a_period_closing_makes_a_settlement_and_announces_it(
    make_sim: MakeSim, sqs_server: Any, queue: Queue,
) -> None:
    sim = await make_sim(orders_per_seller=300, sqs_endpoint_url=sqs_server.endpoint_url)
    spid = (await sim.seller())["selling_partner_id"]
    dest = await destination(sim, await app_token(sim), queue.arn)
    await subscribe(sim, await sim.access_token(), "REPORT_PROCESSING_FINISHED", dest)
    before = await truth(sim, spid)
    await sim.idle()
    assert "REPORT_PROCESSING_FINISHED" not in (await sim.stats())["notifications"]["by_type"]
    now = sim.clock.now()
    sim.clock.advance(last_period_end(now) + PERIOD - now + 1)
    after = await until(lambda: truth(sim, spid), lambda found: len(found) > len(before))
    known = {s["reportId"] for s in before}
    assert [s for s in after if s["reportId"] in known] == before
    new = [s for s in after if s["reportId"] not in known]
    assert new and all(s["endDate"] == max(x["endDate"] for x in after) for s in new)
    await until(sim.stats, lambda stats: stats["notifications"]["sent"] >= len(new))
    await sim.idle()
    messages = await queue.drain()
    assert len(messages) == len(new)
    for message in messages:
        validate_official(message, "REPORT_PROCESSING_FINISHED")
    announced = {parse(m).payload["reportProcessingFinishedNotification"]["reportId"]
                 for m in messages}
    assert announced == {s["reportId"] for s in new}
    token = await sim.access_token()
    reports, _ = await listed(sim, token, {"createdSince": new[0]["endDate"]})
    assert {r["reportId"] for r in reports} == announced


async def test_a_reissue_is_a_new_report_of_the_same_settlement(make_sim: MakeSim) -> None:
    sim = await make_sim(orders_per_seller=200)
    spid, token = (await sim.seller())["selling_partner_id"], await sim.access_token()
    first = (await truth(sim, spid))[0]
    status, again = await sim.post("/_sim/settlements/reissue",
                                   {"seller_id": spid, "settlement_id": first["settlementId"]})
    assert status == 200, again
    assert again["settlementId"] == first["settlementId"]
    assert again["reportId"] != first["reportId"]
    assert again["lines"][:-1] == first["lines"] and again["lines"] != first["lines"]
    correction = again["lines"][-1]
    assert correction["transaction-type"] == "other-transaction"
    assert Decimal(again["totalAmount"]) == Decimal(first["totalAmount"]) + Decimal(
        correction["amount"])
    assert (await truth(sim, spid))[0] == again  # the truth holds the latest issue
    reports, _ = await listed(sim, token, {})
    both = [r for r in reports if r["reportId"] in (first["reportId"], again["reportId"])]
    assert len(both) == 2 and both[0]["reportId"] == again["reportId"]  # newest first
    assert both[0]["reportDocumentId"] != both[1]["reportDocumentId"]
    _, rows = await document(sim, token, again["reportId"])
    assert rows[0][0] == first["settlementId"] and rows[0][4] == again["totalAmount"]
    assert len(rows) == len(first["lines"]) + 2
    client = SimulatorClient(str(sim.client.make_url("")))
    third = await asyncio.to_thread(client.reissue_settlement, spid, first["settlementId"])
    assert (third["settlementId"], len(third["lines"])) == (first["settlementId"],
                                                            len(again["lines"]) + 1)
    remote = await asyncio.to_thread(client.truth_settlements, spid)
    assert remote == {"settlements": await truth(sim, spid)}
    assert remote["settlements"][0]["reportId"] == third["reportId"]
    for body in ({"seller_id": spid, "settlement_id": "1"},
                 {"seller_id": "nobody", "settlement_id": first["settlementId"]}):
        status, answer = await sim.post("/_sim/settlements/reissue", body)
        assert status == 400 and "error" in answer


def test_settlements_are_the_same_for_the_same_seed() -> None:
    def rendered(seed: int, looks: int) -> list[list[dict[str, Any]]]:
        sim = build_simulator(SimConfig(orders_per_seller=150, history_days=45, seed=seed),
                              Clock(start=1_795_000_000))
        for seller_id in list(sim.world.sellers)[:looks]:  # looked at in another order
            sim.reports.of(seller_id)
        return [[s.render() for s in sim.settlements.latest(seller_id)]
                for seller_id in sim.world.sellers]

    first = rendered(1, 0)
    assert first == rendered(1, 2) and all(first)
    other = rendered(2, 0)
    assert {s["settlementId"] for ss in other for s in ss}.isdisjoint(
        {s["settlementId"] for ss in first for s in ss})


def test_the_watch_finds_a_new_settlement_of_a_seller_nobody_looked_at() -> None:
    clock = Clock(start=1_795_000_000)
    sim = build_simulator(SimConfig(orders_per_seller=150, history_days=45), clock)
    assert sim.reports.newly_finished(clock.now()) == []  # the past is never announced
    clock.advance(last_period_end(clock.now()) + PERIOD - clock.now() + 1)
    announced = sim.reports.newly_finished(clock.now())
    assert sim.reports.newly_finished(clock.now()) == []  # each once
    latest = [s for seller_id in sim.world.sellers for s in sim.settlements.latest(seller_id)
              if s.group.end == last_period_end(clock.now())]
    assert latest and sorted(r.report_id for r in announced) == sorted(
        s.report.report_id for s in latest)
