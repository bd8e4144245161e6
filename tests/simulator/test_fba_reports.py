"""FBA fee and inventory ledger reports: Amazon's cited layouts, derived from the world and
the money (:mod:`simulator.finances`), deterministic, back-dated ledger lines appearing only
once recorded, storage fees only once the month is charged, and equal to the truth."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from simulator import SimConfig, fba_reports, finances
from simulator.clock import Clock
from simulator.state import Simulator, build_simulator

from .reportkit import report_text, tsv
from .simkit import MakeSim

START = 1_795_000_000  # 2026-11-18
DAY = 86_400
# https://developer-docs.amazon.com/sp-api/docs/fba-inventory-reports-attributes
CITED_LEDGER = ["Date", "FNSKU", "ASIN", "MSKU", "Title", "EventType", "ReferenceID",
                "Quantity", "FulfillmentCenter", "Disposition", "Reason", "Country",
                "ReconciledQuantity", "UnreconciledQuantity"]
# https://developer-docs.amazon.com/sp-api/docs/fba-payments-reports-attributes (the first 23)
CITED_FEES = ["sku", "fnsku", "asin", "product-name", "product-group", "brand", "fulfilled-by",
              "has-local-inventory", "your-price", "sales-price", "longest-side",
              "median-side", "shortest-side", "length-and-girth", "unit-of-dimension",
              "item-package-weight", "unit-of-weight", "product-size-weight-band", "currency",
              "estimated-fee-total", "estimated-referral-fee-per-unit",
              "estimated-variable-closing-fee", "expected-domestic-fulfilment-fee-per-unit"]


def _sim(seed: int = 1) -> Simulator:
    return build_simulator(SimConfig(orders_per_seller=150, history_days=45, seed=seed),
                           Clock(start=START))


def _seller_with_stock(sim: Simulator) -> Any:
    return next(s for s in sim.world.sellers.values()
                if fba_reports.fba_skus(s, s.marketplaces[0]))


def test_fee_estimates_charge_what_the_money_charges() -> None:
    sim = _sim()
    seller = _seller_with_stock(sim)
    market = seller.marketplaces[0]
    rows = fba_reports.fee_rows(seller, market, sim.config.seed)
    assert len(rows) == len(fba_reports.fba_skus(seller, market))
    assert list(fba_reports.FEE_COLUMNS) == CITED_FEES
    for row in rows:
        cell = dict(zip(fba_reports.FEE_COLUMNS, row, strict=True))
        entry = seller.skus[cell["sku"]]
        price = entry.price(market)
        assert Decimal(cell["your-price"]) == price and cell["currency"] == market.currency
        # the Shipment transaction's fees for one unit of this SKU
        referral = finances._round(price * finances.REFERRAL_RATE, market)
        assert Decimal(cell["estimated-referral-fee-per-unit"]) == referral
        assert Decimal(cell["expected-domestic-fulfilment-fee-per-unit"]) == market.price(
            finances.FBA_FEE_USD)
        assert Decimal(cell["estimated-fee-total"]) == referral + market.price(
            finances.FBA_FEE_USD)


def test_storage_fees_appear_once_the_month_is_charged() -> None:
    sim = _sim()
    seller = _seller_with_stock(sim)
    market, seed, world = seller.marketplaces[0], sim.config.seed, sim.world
    october = date(2026, 10, 1)
    shown = fba_reports.published(seed, seller, october)
    assert datetime(2026, 11, 7, tzinfo=UTC).timestamp() <= shown <= datetime(
        2026, 11, 14, tzinfo=UTC).timestamp()
    window = (datetime(2026, 10, 20, tzinfo=UTC).timestamp(), shown + DAY)
    assert fba_reports.storage_rows(world, seller, market, seed, *window, shown - 1) == []
    rows = fba_reports.storage_rows(world, seller, market, seed, *window, shown)
    assert rows and {r[fba_reports.STORAGE_COLUMNS.index("month-of-charge")]
                     for r in rows} == {"2026-10"}
    assert len(rows) == len(fba_reports.fba_skus(seller, market))
    for row in rows:
        cell = dict(zip(fba_reports.STORAGE_COLUMNS, row, strict=True))
        volume = Decimal(cell["estimated-total-item-volume"])
        assert volume == ((Decimal(cell["average-quantity-on-hand"]) - Decimal(
            cell["average-quantity-pending-removal"])) * Decimal(cell["item-volume"])).quantize(
            Decimal("0.0001"))
        assert Decimal(cell["estimated-monthly-storage-fee"]) == (
            volume * Decimal(cell["storage-rate"])).quantize(Decimal("0.01"))
        assert cell["storage-rate"] == f"{market.price(Decimal('2.40')):.2f}"  # October


def test_the_ledger_follows_orders_and_back_dates_returns_and_adjustments() -> None:
    sim = _sim()
    seller = _seller_with_stock(sim)
    market, seed, world = seller.marketplaces[0], sim.config.seed, sim.world
    events = fba_reports.ledger_events(world, seller, market, seed)
    kinds = Counter(e.row[5] for e in events)
    assert set(kinds) == {"Shipments", "CustomerReturns", "Receipts", "Adjustments"}
    shipped = sum(i.quantity_shipped for o in seller.orders.values()
                  if o.marketplace == market and o.fulfillment_channel == "AFN"
                  and finances.posts_sale(o) for i in o.items)
    assert -sum(int(e.row[7]) for e in events if e.row[5] == "Shipments") == shipped
    late = [e for e in events if e.recorded > datetime.combine(
        e.day + timedelta(days=1), datetime.min.time(), UTC).timestamp() - 1]
    assert {e.row[5] for e in late} >= {"CustomerReturns", "Adjustments"}
    twice = Counter(e.row for e in events if e.row[5] == "Adjustments")
    assert max(twice.values()) == 2  # two identical lines: two units
    # A back-dated line shows up in a report of its day only once it is recorded.
    line = next(e for e in late if e.row[5] == "Adjustments" and e.recorded < START)
    when = datetime.combine(line.day, datetime.min.time(), UTC).timestamp()
    before = fba_reports.ledger_rows(world, seller, market, seed, when, when, line.recorded - 1)
    after = fba_reports.ledger_rows(world, seller, market, seed, when, when, line.recorded)
    assert list(line.row) not in before and list(line.row) in after
    assert all(r[0] == line.day.isoformat() for r in after)


def test_the_same_seed_gives_the_same_reports() -> None:
    def rendered(seed: int) -> list[Any]:
        sim = _sim(seed)
        out = []
        for seller in sim.world.sellers.values():
            for market in seller.marketplaces:
                for kind in fba_reports.TYPES:
                    out.append(fba_reports.rows_for(sim.world, seller, kind, market, seed,
                                                    START - 60 * DAY, START, START))
        return out

    assert rendered(3) == rendered(3)
    assert rendered(3) != rendered(4)


async def test_reports_and_truth_over_http(make_sim: MakeSim) -> None:
    sim = await make_sim(clock=Clock(start=START), orders_per_seller=150, history_days=45)
    seller = await sim.seller()
    spid, token = seller["selling_partner_id"], await sim.access_token()
    market = seller["marketplace_ids"][0]
    iso = datetime.fromtimestamp(START - 20 * DAY, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    _, text = await report_text(sim, token, {
        "reportType": fba_reports.LEDGER_DETAIL, "marketplaceIds": [market],
        "dataStartTime": iso})
    header, rows = tsv(text)
    assert header == CITED_LEDGER
    status, truth, _ = await sim.get(f"/_sim/truth/ledger?seller_id={spid}", token)
    assert status == 200
    first = (datetime.fromtimestamp(START - 20 * DAY, tz=UTC).date()).isoformat()
    expected = [[t[c] for c in CITED_LEDGER] for t in truth["ledger"]
                if t["marketplaceId"] == market and t["Date"] >= first
                and t["recorded"] <= sim.clock.now()]
    assert Counter(map(tuple, rows)) == Counter(map(tuple, expected))
    _, text = await report_text(sim, token, {
        "reportType": fba_reports.FEE_ESTIMATES, "marketplaceIds": [market],
        "dataStartTime": iso})
    header, rows = tsv(text)
    status, fees, _ = await sim.get(f"/_sim/truth/fees?seller_id={spid}", token)
    assert header == CITED_FEES and status == 200
    assert rows == [[f[c] for c in CITED_FEES] for f in fees["estimates"]
                    if f["marketplaceId"] == market]
    assert {f["month-of-charge"] for f in fees["storage"]} >= {"2026-09", "2026-10"}
    status, answer, _ = await sim.get("/_sim/truth/fees?seller_id=nobody", token)
    assert status == 400 and "error" in answer


def test_the_ledger_summary_sums_the_events_and_chains_its_balances() -> None:
    sim = _sim()
    seller = _seller_with_stock(sim)
    market, seed, world = seller.marketplaces[0], sim.config.seed, sim.world
    cols = fba_reports.SUMMARY_COLUMNS
    # https://developer-docs.amazon.com/sp-api/docs/fba-inventory-reports-attributes
    assert list(cols) == [
        "Date", "FNSKU", "ASIN", "MSKU", "Title", "Disposition", "StartingWarehouseBalance",
        "InTransitBetweenWarehouses", "Receipts", "CustomerShipments", "CustomerReturns",
        "VendorReturns", "WarehouseTransferIn/Out", "Found", "Lost", "Damaged", "Disposed",
        "OtherEvents", "EndingWarehouseBalance", "UnknownEvents", "Location"]
    rows = fba_reports.summary_rows(world, seller, market, seed, START - 60 * DAY, START, START)
    assert rows
    last: dict[tuple[str, str, str], int] = {}
    for row in rows:
        cell = dict(zip(cols, row, strict=True))
        moved = sum(int(cell[c]) for c in cols[7:18])
        assert int(cell["EndingWarehouseBalance"]) == int(cell["StartingWarehouseBalance"]) \
            + moved
        key = (cell["FNSKU"], cell["Disposition"], cell["Location"])
        if key in last:  # no event between two rows of a key: the balance carries over
            assert int(cell["StartingWarehouseBalance"]) == last[key]
        last[key] = int(cell["EndingWarehouseBalance"])
    events = fba_reports.ledger_rows(world, seller, market, seed, START - 60 * DAY, START,
                                     START)
    shipped = sum(int(e[7]) for e in events if e[5] == "Shipments")
    assert sum(int(r[cols.index("CustomerShipments")]) for r in rows) == shipped
    # a back-dated adjustment changes its day's row once recorded
    line = next(e for e in fba_reports.ledger_events(world, seller, market, seed)
                if e.row[5] == "Adjustments" and START - 50 * DAY < e.recorded < START
                and e.recorded > datetime.combine(e.day, datetime.min.time(), UTC).timestamp()
                + DAY)
    when = datetime.combine(line.day, datetime.min.time(), UTC).timestamp()
    assert fba_reports.summary_rows(world, seller, market, seed, when, when,
                                    line.recorded - 1) != fba_reports.summary_rows(
        world, seller, market, seed, when, when, line.recorded)
