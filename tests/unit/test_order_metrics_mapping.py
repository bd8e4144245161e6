"""getOrderMetrics: the window as one ``interval`` parameter, the single page, and the pure
mapping of an OrderMetricsInterval (the model's example maps; each bad field is a reason)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from worker.spapi.errors import MalformedResponseError
from worker.spapi_models import load
from worker.sync.endpoint import StreamSpec
from worker.sync.order_metrics import interval, map_metric
from worker.sync.paging import SinglePage
from worker.sync.registry import ORDER_METRICS
from worker.sync.windows import Window

US = "ATVPDKIKX0DER"


def _example() -> list[dict]:
    op = load("salesV1")["paths"]["/sales/v1/orderMetrics"]["get"]
    return op["responses"]["200"]["examples"]["payload"]["dayGranularity"]["metrics"]


def test_the_window_is_one_interval_from_its_first_midnight():
    w = Window(datetime(2026, 11, 1, 10, 30, tzinfo=UTC),
               datetime(2026, 11, 4, 8, 0, 5, tzinfo=UTC))
    assert interval(w) == {"interval": "2026-11-01T00:00:00Z--2026-11-04T08:00:05Z"}
    spec = StreamSpec("order-metrics:" + US, ORDER_METRICS.endpoint, US)
    assert spec.query(w, None, 0) == {  # type: ignore[arg-type]
        "marketplaceIds": [US], "granularity": "Day", "granularityTimeZone": "UTC",
        "interval": "2026-11-01T00:00:00Z--2026-11-04T08:00:05Z"}


def test_one_answer_is_the_last_page():
    pager = SinglePage()
    assert pager.first({"a": 1}) == {"a": 1} and not pager.done
    pager.next({"a": 1}, {"payload": []})
    assert pager.done and pager.token is None
    spec = StreamSpec("order-metrics:" + US, ORDER_METRICS.endpoint, US)
    assert spec.page({"payload": [{"x": 1}]}) == ([{"x": 1}], None)


def test_the_models_example_maps():
    row = map_metric(US, _example()[0])
    assert row["interval_start"] == datetime(2018, 5, 1, 7, tzinfo=UTC)  # -07:00 midnight
    assert row["interval_end"] == datetime(2018, 5, 2, 7, tzinfo=UTC)
    assert (row["unit_count"], row["order_item_count"], row["order_count"]) == (1, 1, 1)
    assert (row["total_sales"], row["total_sales_currency"]) == (Decimal("22.95"), "USD")
    assert row["average_unit_price"] == Decimal("22.95") and row["granularity"] == "Day"


GOOD = {"interval": "2026-11-01T00:00Z--2026-11-02T00:00Z", "unitCount": 2,
        "orderItemCount": 1, "orderCount": 1,
        "averageUnitPrice": {"amount": "5.00", "currencyCode": "USD"},
        "totalSales": {"amount": "10.00", "currencyCode": "USD"}}


@pytest.mark.parametrize(("change", "reason"), [
    ({"interval": "2026-11-01"}, "is not '<start>--<end>'"),
    ({"interval": "x--2026-11-02T00:00Z"}, "start is not ISO 8601"),
    ({"interval": "2026-11-02T00:00Z--2026-11-01T00:00Z"}, "ends before it starts"),
    ({"unitCount": -1}, "unitCount is not a non-negative integer"),
    ({"orderCount": None}, "orderCount is not a non-negative integer"),
    ({"totalSales": {"amount": "ten", "currencyCode": "USD"}}, "totalSales.amount is not"),
    ({"averageUnitPrice": None}, "averageUnitPrice"),
])
def test_each_bad_field_is_a_clear_reason(change, reason):
    with pytest.raises(MalformedResponseError) as caught:
        map_metric(US, {**GOOD, **change})
    assert reason in caught.value.detail
