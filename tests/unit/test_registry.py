"""The stream registry: its declarations are sound, the docs' table is theirs, settings reach
them, and the modules that read stream facts name no stream themselves."""

from __future__ import annotations

import ast
import dataclasses
from datetime import timedelta
from pathlib import Path

import pytest

from worker.config import STREAM_KNOBS, ConfigError, Settings
from worker.spapi.operations import operation
from worker.sync import registry
from worker.sync.catalog import plan
from worker.sync.declaration import UNITS, UnknownStreamError
from worker.sync.registry import INVENTORY, LISTINGS, ORDERS, SALES_TRAFFIC

ROOT = Path(__file__).resolve().parents[2]
# Everything that used to encode a stream fact (an if/startswith chain, a SQL CASE on the
# stream's prefix, an operation lookup, a per-stream setting) and now reads the registry.
READERS = ["worker/sync/catalog.py", "worker/status.py", "worker/metrics.py",
           "worker/web/scrape.py", "worker/sync/service.py", "worker/sync/runner.py",
           "worker/sync/backfill.py", "worker/notifications/refresh.py", "worker/config.py",
           "worker/cli/run.py", "worker/sync/dispatch.py", "tasks/dispatch.py",
           "worker/outbox/commands.py", "worker/web/onboarding.py"]


def stream_modules() -> set[str]:
    """The modules the declarations take their queries and mappers from."""
    return {fn.__module__ for k in registry.synced()
            for e in (k.endpoint, *k.by_api_version.values()) if e is not None
            for fn in (e.query, e.write)}


def imported(path: Path) -> set[str]:
    """Modules imported by ``path``, and ``package.name`` for each ``from package import name``
    (a module or not)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            out |= {node.module, *(f"{node.module}.{a.name}" for a in node.names)}
    return out


def identifiers(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    return [n.id if isinstance(n, ast.Name) else n.attr if isinstance(n, ast.Attribute)
            else n.arg for n in ast.walk(tree) if isinstance(n, ast.Name | ast.Attribute | ast.arg)]


def literals(path: Path) -> list[str]:
    """The string constants of a module, docstrings left out."""
    tree = ast.parse(path.read_text())
    docs = {id(node.body[0].value) for node in ast.walk(tree)
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef |
                          ast.AsyncFunctionDef)
            and node.body and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant)}
    return [node.value for node in ast.walk(tree) if isinstance(node, ast.Constant)
            and isinstance(node.value, str) and id(node) not in docs]


@pytest.mark.parametrize("module", READERS)
def test_no_reader_names_a_stream(module):
    def names(text: str, name: str) -> bool:
        return (text == name or text.startswith(f"{name}:")  # a stream, a stream's prefix
                or f"'{name}" in text  # in SQL
                or any(f"{name}_{knob}" in text.lower() for knob in STREAM_KNOBS))  # a setting

    path = ROOT / module
    found = [text for text in literals(path) + identifiers(path) for kind in registry.KINDS
             if names(text, kind.name)]
    assert found == [], f"{module} names a stream: {found}"
    assert not imported(path) & stream_modules(), f"{module} reads a stream's module"


def test_the_docs_table_of_streams_is_the_registry_s():
    page = (ROOT / "docs" / "schema.md").read_text()
    assert registry.streams_table() in page, "run python -m worker.sync.registry"


def test_the_declarations_shown_in_adding_a_stream_are_the_real_ones():
    page = (ROOT / "docs" / "adding-a-stream.md").read_text()
    source = (ROOT / "worker" / "sync" / "registry.py").read_text()
    shown = page.split("```python\n")[1:]
    assert len(shown) == 2
    for block in shown:
        assert block.split("```")[0] in source


CURRENT = {"orders_api_version": "2026-01-01", "finances_api_version": "2024-06-19"}


def test_declared_operations_are_in_the_operation_table():
    for kind in registry.synced():
        operation(kind.operation(CURRENT))  # what paces it: a report's, a refresh's...
        if kind.endpoint is None:
            continue
        for endpoint in (kind.endpoint, *kind.by_api_version.values()):
            operation(endpoint.operation)  # raises for an operation spsync has no quota of
            if endpoint.lookup:
                operation(endpoint.lookup.operation)


def test_kinds_are_unique_and_name_their_streams():
    assert len({k.name for k in registry.KINDS}) == len(registry.KINDS)
    assert registry.streams_for(["A", "B"]) == [
        "orders", "inventory:A", "inventory:B", "listings:A", "listings:B", "finances",
        "payouts", "settlements", "catalog:A", "catalog:B", "prices:A", "prices:B",
        "sales-traffic:A", "sales-traffic:B", "returns:A", "returns:B", "returns-mfn:A",
        "returns-mfn:B", "reimbursements:A",
        "reimbursements:B", "fee-estimates:A", "fee-estimates:B", "storage-fees:A",
        "storage-fees:B", "ledger:A", "ledger:B", "ledger-summary:A", "ledger-summary:B",
        "order-metrics:A", "order-metrics:B", "inbound", "search-terms:A", "search-terms:B",
        "search-query-performance:A", "search-query-performance:B"]
    assert registry.kind_of("listings:A") is LISTINGS and LISTINGS.marketplace_of("listings:A") \
        == "A"
    for stream in ("inventory:", "orders:A", "sales-traffic", "payments", "listings"):
        with pytest.raises(UnknownStreamError):
            registry.kind_of(stream)
    current = {"orders_api_version": "2026-01-01", "finances_api_version": "2024-06-19"}
    older = {"orders_api_version": "v0", "finances_api_version": "v0"}
    assert registry.operation_of("orders", older) == "getOrders"
    assert registry.operation_of("orders", current) == "searchOrders"
    assert registry.operation_of("inventory:A", older) == "getInventorySummaries"
    assert registry.operation_of("finances", current) == "listTransactions"
    assert registry.operation_of("finances", older) == "listFinancialEvents"
    assert registry.operation_of("payments", older) is None
    # what status shows beside a stream: the seller's version where it is not the main one
    assert [registry.fallback_version(s, older) for s in ("orders", "finances", "payouts")] \
        == ["v0", "v0", None]
    assert registry.fallback_version("finances", current) is None
    assert registry.label("listings:A") == "listings"
    assert [k.name for k in registry.backfilled()] == [
        "orders", "inventory", "listings", "sales-traffic", "returns", "returns-mfn",
        "reimbursements", "fee-estimates", "storage-fees", "ledger", "ledger-summary",
        "search-terms", "search-query-performance"]
    assert registry.kind_of("returns-mfn:A") is registry.RETURNS_MFN
    assert registry.operation_of("reimbursements:A", current) == "createReport"
    assert SALES_TRAFFIC.synced and SALES_TRAFFIC.streams(["A"]) == ["sales-traffic:A"]
    assert registry.operation_of("sales-traffic:A", current) == "createReport"
    assert registry.operation_of("order-metrics:A", current) == "getOrderMetrics"


def test_a_periodic_kind_takes_only_its_report_periods():
    settings = Settings(search_terms_period="MONTH", search_query_performance_period="QUARTER")
    assert registry.SEARCH_TERMS.tuned(settings).policy.period == "MONTH"
    assert registry.SEARCH_QUERY_PERFORMANCE.tuned(settings).policy.period == "QUARTER"
    assert registry.SEARCH_TERMS.tuned(Settings()).policy.period == "WEEK"
    assert registry.SEARCH_TERMS.setting_names() == [
        "SPSYNC_SEARCH_TERMS_INTERVAL_SECONDS", "SPSYNC_SEARCH_TERMS_PERIOD"]
    # the schema of search query performance has no DAY period
    with pytest.raises(ConfigError, match="SPSYNC_SEARCH_QUERY_PERFORMANCE_PERIOD"):
        registry.SEARCH_QUERY_PERFORMANCE.tuned(Settings(search_query_performance_period="DAY"))
    assert "period" not in registry.ORDERS.tuning.tunable  # type: ignore[union-attr]


def test_every_knob_has_a_unit():
    assert set(UNITS) == set(STREAM_KNOBS)


def test_the_defaults_are_the_documented_ones():
    s = Settings()
    orders, inventory, listings = (k.tuned(s) for k in (ORDERS, INVENTORY, LISTINGS))
    assert (orders.interval, orders.lag, orders.overlap, orders.max_span, orders.initial,
            orders.page_size) == (timedelta(seconds=300), timedelta(seconds=120),
                                  timedelta(seconds=60), timedelta(hours=168),
                                  timedelta(days=30), 100)
    assert (inventory.interval, inventory.overlap, inventory.page_size) == (
        timedelta(seconds=900), timedelta(seconds=300), 50)
    assert (listings.interval, listings.overlap, listings.page_size) == (
        timedelta(seconds=900), timedelta(seconds=300), 20)


def test_settings_tune_only_the_knobs_a_kind_takes(monkeypatch):
    monkeypatch.setenv("SPSYNC_LISTINGS_INTERVAL_SECONDS", "60")
    monkeypatch.setenv("SPSYNC_LISTINGS_PAGE_SIZE", "5")  # fixed by the model: not a knob
    s = Settings(orders_page_size=10, orders_lag_seconds=0.5, inventory_overlap_seconds=7)
    assert ORDERS.tuned(s).page_size == 10 and ORDERS.tuned(s).lag == timedelta(seconds=0.5)
    assert INVENTORY.tuned(s).overlap == timedelta(seconds=7)
    assert LISTINGS.tuned(s).interval == timedelta(seconds=60)
    assert LISTINGS.tuned(s).page_size == 20


def test_a_page_size_past_what_the_operation_takes_is_refused():
    assert ORDERS.tuning is not None
    small = dataclasses.replace(ORDERS.tuning, max_page_size=50)
    with pytest.raises(ConfigError, match="invalid SPSYNC_ORDERS_PAGE_SIZE: at most 50"):
        small.tuned(Settings(orders_page_size=60).stream("orders"), ORDERS.env_prefix)


def test_a_plan_is_read_from_the_declaration():
    from worker.db.sellers import SellerRecord

    seller = SellerRecord(1, "A1", "NA", ["ATVPDKIKX0DER"], "v0", True, None)
    p = plan(Settings(orders_page_size=20), seller, "orders")
    assert (p.kind, p.spec.operation, p.page_size, p.interval) == (
        ORDERS, "getOrders", 20, timedelta(minutes=5))
    p = plan(Settings(), seller, "listings:ATVPDKIKX0DER")
    assert (p.spec.marketplace_id, p.spec.operation, p.policy.lag) == (
        "ATVPDKIKX0DER", "searchListingsItems", timedelta(0))
    with pytest.raises(UnknownStreamError, match="known: orders"):
        plan(Settings(), seller, "listings:A2EUQ1WTGCTBG2")
