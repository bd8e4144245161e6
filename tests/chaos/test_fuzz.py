"""Fuzzing (issue 8): bad input never escapes as an untyped exception or a partial write.

Every reader of outside input is fed documents generated from Amazon's own schemas
(hypothesis-jsonschema) and valid documents with random mutations (:mod:`fuzzkit`):

- API mappers (orders 2026 and v0, inventory, listings) and their page readers: they map, or
  raise :class:`MalformedResponseError`; what maps fits the mirror's columns (no NUL, no
  out-of-range number), so no bad value can fail later as a database error.
- notifications (:func:`envelope.parse`): an :class:`Envelope` or :class:`InvalidNotification`.
- report documents as bytes (tabs, quotes, CR, NUL, invalid UTF-8, GZIP) through
  :func:`lines`, :func:`table_rows` and each report type's sink: a rejected row is kept with
  its reason, only a broken document raises, and only :class:`MalformedResponseError`.
- the SNS webhook's readers (:func:`sns.load`, :func:`sns.message_of`, :func:`sns.verify`):
  only :class:`Rejected`.
- operator commands through click's runner, against a database that is not there: exit code
  0, 1 or 2 with one line, never a traceback.
- a page whose n-th document is bad writes nothing (the runner maps the page first).

Defaults keep the file under a minute; ``SPSYNC_FUZZ_EXAMPLES=2000`` hunts longer.
"""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from functools import cache
from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import example, given
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema

import worker.cli as cli
from tests.chaos.fuzzkit import (
    ARG,
    GARBAGE,
    NASTY,
    argv,
    flat_files,
    fuzz,
    json_problem,
    model,
    model_schema,
    mutated,
    opt,
    seeds,
    storable,
    time_limit,
)
from tests.logkit import restored_logging
from tests.notificationkit import inventory_change, listing_change, order_change, report_finished
from worker.config import Settings
from worker.crypto import new_key_spec
from worker.db.reports import ReportRecord
from worker.notifications.envelope import SCHEMAS, Envelope, InvalidNotification, parse
from worker.spapi.errors import MalformedResponseError
from worker.sync import inventory, listings, orders, report_types
from worker.sync.orders_mapping import map_item_2026, map_item_v0, map_order_2026, map_order_v0
from worker.sync.registry import INVENTORY, LISTINGS, ORDERS
from worker.sync.report_parse import lines, table_rows
from worker.sync.runner import StreamRun
from worker.web import sns

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(time_limit())]

MARKET = seeds()["marketplace"][0]
ORDER_ID = "111-0000000-0000001"


def flat(result: Any) -> Iterator[Any]:
    if isinstance(result, tuple | list):
        for part in result:
            yield from flat(part)
    else:
        yield result


def result_or_typed_error(fn: Callable[[Any], Any], arg: Any,
                          typed: type[Exception]) -> tuple[bool, Any]:
    """(True, ``fn(arg)``), or (False, None) when it raised ``typed`` with a storable message;
    any other exception propagates (and fails the test)."""
    try:
        return True, fn(arg)
    except typed as exc:
        message = str(exc)
    assert json_problem(message) is None, "the error message itself is not storable"
    return False, None


def maps_or_malformed(mapper: Callable[[Any], Any], doc: Any) -> Any:
    """``mapper(doc)``: its rows, all storable, or None when it raised the typed error."""
    mapped, result = result_or_typed_error(mapper, doc, MalformedResponseError)
    for row in flat(result) if mapped else ():
        assert storable(row) == [], storable(row)
    return result


# ---------------------------------------------------------------- API payload mappers

# name: (Swagger file, definition, seed documents, mapper)
API: dict[str, tuple[str, str, str, Callable[[Any], Any]]] = {
    "orders 2026": ("orders_2026-01-01", "Order", "order_2026", map_order_2026),
    "order items 2026": ("orders_2026-01-01", "OrderItem", "order_2026",
                         lambda d: map_item_2026(ORDER_ID, d)),
    "orders v0": ("ordersV0", "Order", "order_v0", map_order_v0),
    "order items v0": ("ordersV0", "OrderItem", "item_v0", lambda d: map_item_v0(ORDER_ID, d)),
    "inventory": ("fbaInventoryV1", "InventorySummary", "inventory",
                  lambda d: inventory.map_summary(MARKET, d)),
    "listings": ("listingsItems_2021-08-01", "Item", "listing",
                 lambda d: listings.map_item(MARKET, d)),
}


def spec_of(kind: Any, api_version: str = "2026-01-01") -> Any:
    """The runner's spec of ``kind``'s stream in :data:`MARKET` (if it is split by it)."""
    return kind.spec(kind.stream(MARKET if kind.per_marketplace else None), api_version)


# name: (a page of one seed document, the page reader). One document, so that mutations
# land on the envelope (records, pagination, tokens, counts) as often as on the record.
PAGES: dict[str, tuple[Callable[[], Any], Callable[[Any], Any]]] = {
    "searchOrders": (lambda: {"orders": seeds()["order_2026"][:1],
                              "pagination": {"nextToken": "t"},
                              "lastUpdatedBefore": "2026-01-01T00:00:00Z"}, spec_of(ORDERS).page),
    "getOrders": (lambda: {"payload": {"Orders": seeds()["order_v0"][:1], "NextToken": "t"}},
                  spec_of(ORDERS, "v0").page),
    "getInventorySummaries": (lambda: {"payload": {"inventorySummaries": seeds()["inventory"][:1]},
                                       "pagination": {"nextToken": "t"}}, spec_of(INVENTORY).page),
    "searchListingsItems": (lambda: {"numberOfResults": 1001, "items": seeds()["listing"][:1],
                                     "pagination": {"nextToken": "t"}}, spec_of(LISTINGS).page),
}


# spsync asks searchOrders for FULFILLMENT and PROCEEDS: those blocks come with every order
INCLUDED = {"Order": ("fulfillment", "proceeds")}


@cache
def schema_docs(spec: str, definition: str) -> st.SearchStrategy[Any]:
    """One strategy per definition: hypothesis-jsonschema resolves a schema once per object."""
    return from_schema(model_schema(spec, definition, INCLUDED if spec.startswith(
        "orders_2026") else None))


def seed_docs(kind: str, name: str) -> list[Any]:
    docs = seeds()[kind]
    if name == "order items 2026":  # the items embedded in the orders
        return [item for doc in docs for item in doc["orderItems"]]
    return list(docs)


@pytest.mark.parametrize("name", list(API))
@fuzz(20)
@given(data=st.data())
def test_schema_documents_map_or_are_malformed(name: str, data: st.DataObject) -> None:
    spec, definition, _, mapper = API[name]
    maps_or_malformed(mapper, data.draw(schema_docs(spec, definition), label="doc"))


@pytest.mark.parametrize("name", list(API))
@fuzz(60)
@given(data=st.data())
def test_mutated_real_documents_map_or_are_malformed(name: str, data: st.DataObject) -> None:
    _, _, kind, mapper = API[name]
    doc = data.draw(st.sampled_from(seed_docs(kind, name)).flatmap(mutated), label="doc")
    maps_or_malformed(mapper, doc)


@pytest.mark.parametrize("name", list(API))
def test_the_seed_documents_themselves_map(name: str) -> None:
    _, _, kind, mapper = API[name]
    for doc in seed_docs(kind, name):
        assert maps_or_malformed(mapper, doc) is not None


@pytest.mark.parametrize("name", list(PAGES))
@fuzz(60)
@given(data=st.data())
def test_page_readers_read_or_reject(name: str, data: st.DataObject) -> None:
    real, page = PAGES[name]
    body = data.draw(st.one_of(mutated(real()), GARBAGE), label="body")
    try:
        records, token = page(body)
    except MalformedResponseError:
        return
    assert isinstance(records, list) and (token is None or isinstance(token, str))


# ---------------------------------------------------------------- a bad page writes nothing


class Reached(Exception):
    """The page's transaction was about to open."""


class Conn:
    """A connection whose first transaction stops the run (nothing is written before)."""

    def begin(self) -> Any:
        raise Reached


def page_run(spec: Any) -> StreamRun[Any]:
    seller = SimpleNamespace(id=1, selling_partner_id="A1FUZZ", region="NA",
                             refresh_token="Atzr|x", marketplace_ids=[MARKET])
    return StreamRun(spec=spec, conn=Conn(), client=SimpleNamespace(), seller=seller,
                     run_id=1, policy=None, page_size=100, now=lambda: datetime.now(UTC))


SPECS: dict[str, tuple[Any, Callable[[list[Any]], Any], str]] = {
    "orders 2026": (spec_of(ORDERS), lambda docs: {"orders": docs}, "order_2026"),
    "inventory": (spec_of(INVENTORY),
                  lambda docs: {"payload": {"inventorySummaries": docs}}, "inventory"),
    "listings": (spec_of(LISTINGS),
                 lambda docs: {"items": docs}, "listing"),
}


@pytest.mark.parametrize("name", list(SPECS))
@fuzz(30)
@given(data=st.data())
def test_a_page_with_one_bad_document_writes_nothing(name: str, data: st.DataObject) -> None:
    """The runner maps the whole page before it opens the page's transaction (rows and
    checkpoint together), so a bad document anywhere in it, say the 3rd, writes nothing."""
    spec, body_of, kind = SPECS[name]
    docs = seeds()[kind][:4]
    at = data.draw(st.integers(0, len(docs) - 1), label="bad document")
    docs[at] = data.draw(mutated(docs[at]), label="mutated")
    run = page_run(spec)
    try:
        asyncio.run(run._store_page(body_of(docs), SimpleNamespace(
            cursor=None, window_start=None, window_end=None, next_token=None)))
    except MalformedResponseError:
        return  # raised before the page's transaction: nothing of the page was written
    except Reached:  # the mutation left the page valid: every row mapped, and storable
        page = asyncio.run(spec.rows(run, docs))
        rows = [*page.orders, *page.items] if isinstance(page, orders.OrderPage) else page
        assert all(storable(r) == [] for r in rows)


# ---------------------------------------------------------------- notifications

NOTIFICATIONS = [
    order_change("A1FUZZ", ORDER_ID), listing_change("A1FUZZ", "SKU-1", MARKET),
    report_finished("A1FUZZ", "r-1", "d-1"), inventory_change("A1FUZZ", "SKU-1", MARKET),
]


@cache
def notification_docs(name: str) -> st.SearchStrategy[Any]:
    return from_schema(model(name))


def parses_or_invalid(message: Any) -> Envelope | None:
    parsed, envelope = result_or_typed_error(parse, message, InvalidNotification)
    if not parsed:
        return None
    assert envelope.notification_type in SCHEMAS
    assert isinstance(envelope.notification_id, str) and json_problem(envelope.message) is None
    assert envelope.selling_partner_id is None or isinstance(envelope.selling_partner_id, str)
    assert envelope.event_time is None or envelope.event_time.tzinfo is not None
    assert isinstance(envelope.payload, dict)
    return envelope


@pytest.mark.parametrize("name", sorted(SCHEMAS.values()))
@fuzz(15)
@given(data=st.data())
def test_schema_notifications_parse_or_are_invalid(name: str, data: st.DataObject) -> None:
    parses_or_invalid(data.draw(notification_docs(name), label="message"))


@fuzz(150)
@given(message=st.sampled_from(NOTIFICATIONS).flatmap(mutated))
def test_mutated_notifications_parse_or_are_invalid(message: Any) -> None:
    parses_or_invalid(message)


def test_the_seed_notifications_parse() -> None:
    assert all(parses_or_invalid(m) is not None for m in NOTIFICATIONS)


# ---------------------------------------------------------------- report documents

REPORT_TYPES = [report_types.ORDERS_BY_UPDATE, report_types.LISTINGS_ALL, report_types.FBA_MYI,
                "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE"]  # the last one: rows kept as they are


def report(kind: str) -> ReportRecord:
    return ReportRecord(id=1, seller_id=1, report_id="r-1", report_type=kind,
                        marketplace_ids=[MARKET], processing_status="DONE", document_id="d-1",
                        ingest_status="loading", rows_read=0, rows_written=0, rows_rejected=0,
                        error=None)


async def chunks(data: bytes, size: int) -> AsyncIterator[bytes]:
    for at in range(0, len(data), size):
        yield data[at:at + size]


async def ingest(kind: str, data: bytes, size: int, gzipped: bool) -> Any:
    """What worker/sync/reports.py does with a flat file, up to (not including) the write."""
    sink = report_types.sink_for(report(kind))
    body = gzip.compress(data) if gzipped else data
    async for row in table_rows(lines(chunks(body, size), gzip=gzipped)):
        sink.accept(row)
    if isinstance(sink, report_types.OrdersSink) and sink.group:
        sink._close_group()  # what flush(final=True) does first
    return sink


def check_sink(sink: Any) -> None:
    for entry in sink.rejected:
        assert entry["error"] and json_problem(entry) is None, entry
    for row in getattr(sink, "rows", []):
        assert (storable(row) if not isinstance(row, dict) else json_problem(row)) in ([], None)
    for order, items in getattr(sink, "orders", []):
        assert [storable(order), *(storable(i) for i in items)] == [[]] * (len(items) + 1)


@pytest.mark.parametrize("kind", REPORT_TYPES)
@fuzz(60)
@given(data=st.data())
def test_report_documents_reject_rows_not_the_ingest(kind: str, data: st.DataObject) -> None:
    doc = data.draw(st.one_of(flat_files(kind), st.binary(max_size=300)), label="document")
    size = data.draw(st.integers(1, 64), label="chunk size")
    gzipped = data.draw(st.booleans(), label="gzip")
    try:
        sink = asyncio.run(ingest(kind, doc, size, gzipped))
    except MalformedResponseError:
        return  # a document without a header: the report fails, clearly
    check_sink(sink)


@fuzz(40)
@given(doc=st.one_of(GARBAGE, st.sampled_from(seeds()["sales_traffic"]).flatmap(mutated)))
def test_json_reports_reject_rows_not_the_ingest(doc: Any) -> None:
    for read in (report_types.sales_and_traffic_rows, report_types.json_rows):
        try:
            rows = read(doc)
        except MalformedResponseError:
            continue
        for row in rows:
            assert json_problem(row) is None, row


# ---------------------------------------------------------------- SNS webhook


SNS_VALUES = {  # one plausible value per field, so that deeper checks get their turn
    "Timestamp": datetime.now(UTC).isoformat(), "SignatureVersion": "2", "Signature": "AAAA",
    "SigningCertURL": "https://sns.us-east-1.amazonaws.com/cert.pem",
    "SubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription",
}


@cache
def sns_shaped() -> st.SearchStrategy[Any]:
    """Bodies shaped like SNS messages: the right keys with plausible or hostile values."""
    keys = sorted({*sns.ENVELOPE, *(k for keys in sns.SIGNED.values() for k in keys)} - {"Type"})
    value = st.one_of(NASTY, st.text(max_size=20), GARBAGE)
    return st.fixed_dictionaries({"Type": st.sampled_from([*sns.SIGNED, "Other"])}, optional={
        k: st.one_of(st.just(SNS_VALUES.get(k, "x")), value) for k in keys})


@fuzz(150)
@given(raw=st.one_of(st.binary(max_size=200), sns_shaped().map(
    lambda d: json.dumps(d).encode("utf-8", errors="surrogatepass"))))
@example(raw=b'{"Type": "Notification", "Timestamp": "2026-01-01T00:00:00+01:00"}')
def test_sns_bodies_are_read_or_rejected(raw: bytes) -> None:
    policy = sns.policy_of(Settings())
    rejected: sns.Rejected | None = None
    try:
        msg = sns.message_of(sns.load(raw))
        asyncio.run(sns.verify(msg, policy, _no_certificate, datetime.now(UTC)))
    except sns.Rejected as exc:
        rejected = exc
    assert rejected is not None  # nothing here is signed
    assert rejected.status in (400, 403, 413) and json_problem(rejected.reason) is None


async def _no_certificate(url: Any) -> Any:
    raise sns.Rejected(403, "test: no certificate is fetched")


# ---------------------------------------------------------------- operator commands

NOWHERE = {  # a Postgres and a Redis that refuse every connection: nothing real happens
    "DATABASE_URL": "postgresql://postgres@127.0.0.1:1/x", "REDIS_URL": "redis://127.0.0.1:1/0",
    "SPSYNC_TOKEN_KEYS": new_key_spec(), "SPSYNC_LWA_CLIENT_ID": "fuzz",
    "SPSYNC_LWA_CLIENT_SECRET": "fuzz", "SPSYNC_LOG_FORMAT": "json",
}
PAST_BIGINT = "99999999999999999999"
SELLER = opt("--seller", "A1FUZZ", "1", PAST_BIGINT)


def positional(*valid: str) -> st.SearchStrategy[list[str]]:
    return st.one_of(st.sampled_from(valid), ARG).map(lambda a: [a])


COMMANDS: dict[str, tuple[Any, list[str], st.SearchStrategy[list[str]]]] = {
    "sellers add": (cli.sellers, ["add"], argv(
        opt("--selling-partner-id", "A1FUZZ"), opt("--region", "NA", "eu", "FE"),
        opt("--marketplace-ids", MARKET, f"{MARKET},A1PA6795UKMFR9", ",,", ",,,"),
        opt("--orders-api", "2026-01-01", "v0", required=False))),
    "sellers show": (cli.sellers, ["show"], argv(
        positional("1", "A1FUZZ", PAST_BIGINT, "0", "-1", "²"),
        st.sampled_from([[], ["--json"]]))),
    "sellers enable": (cli.sellers, ["enable"], argv(positional("1", PAST_BIGINT))),
    "sellers disable": (cli.sellers, ["disable"], argv(
        positional("1", PAST_BIGINT), opt("--reason", "closed", " ", required=False))),
    "outbox show": (cli.outbox, ["show"], argv(positional("1", PAST_BIGINT, "0", "-5"))),
    "listing delete": (cli.listing, ["delete"], argv(
        SELLER, opt("--sku", "SKU-1", "S" * 100_000), opt("--marketplace-id", MARKET),
        opt("--key", "k-1", required=False))),
    "backfill": (cli.backfill, [], argv(
        st.one_of(SELLER, st.just(["--all-sellers"])),
        opt("--stream", "orders", "listings", "sales-traffic", required=False),
        opt("--since", "2024-01-01", "2024-02-30", "0001-01-01", "9999-12-31T23:59",
            required=False),
        opt("--until", "2024-03-01", "2999-01-01", "0001-01-01T00:00:00", required=False),
        st.sampled_from([[], ["--dry-run"]]))),
    "ship": (cli.ship, [], argv(
        SELLER, opt("--order-id", ORDER_ID), opt("--marketplace-id", MARKET),
        opt("--package-ref", "1"), opt("--carrier-code", "UPS", "Other"),
        opt("--carrier-name", "Acme", required=False), opt("--tracking", "1Z999"),
        opt("--ship-date", "2026-01-01T00:00:00Z", required=False),
        opt("--item", "12345678901234:1", ":1", "x:", "a:b:2", "x:²", f"123:{PAST_BIGINT}",
            "1:2147483648", "1:" + "9" * 5000),
        opt("--wait", "0", "-1", "inf", "nan", required=False),
        opt("--key", "k-1", required=False))),
    "listing patch": (cli.listing, ["patch"], argv(
        SELLER, opt("--sku", "SKU-1"), opt("--marketplace-id", MARKET),
        opt("--product-type", "PRODUCT"),
        opt("--patches", "[]", '[{"op": "replace", "path": "/a", "value": [1]}]', "{", "1",
            '"x"', "[NaN]", "[" * 5000),
        opt("--wait", "0", "1e400", required=False))),
    "notifications setup": (cli.notifications, ["setup"], argv(
        SELLER, opt("--types", "ORDER_CHANGE", "order_change,ANY_OFFER_CHANGED", ",",
                    required=False),
        opt("--sqs-arn", "arn:aws:sqs:us-east-1:123456789012:q", "arn:aws:sqs:::::"))),
    "rotate-key": (cli.rotate_key, [], argv(
        opt("--batch", "1", "0", "10001", "100000000000000000000", required=False))),
}
TOKENS = st.one_of(  # stdin is bytes: it may not even be UTF-8
    st.just(b"Atzr|fuzz\n"), st.just(b""), st.binary(max_size=30),
    ARG.map(lambda t: t.encode("utf-8", errors="surrogateescape") + b"\n"))
KEYS = st.one_of(st.just(NOWHERE["SPSYNC_TOKEN_KEYS"]), st.sampled_from(
    ["", "k1", "k1:", ":abc", "k1:!!!", "k1:AAAA", f"k1:{'A' * 44},", "k1:" + "A" * 43 + "="]),
    st.text(st.characters(codec="ascii", exclude_characters="\x00"), max_size=30))


@pytest.fixture(scope="module")
def keep_logging() -> Iterator[None]:
    with restored_logging():
        yield


@pytest.mark.usefixtures("keep_logging")
@pytest.mark.parametrize("name", list(COMMANDS))
@fuzz(25)
@given(data=st.data())
def test_commands_fail_with_one_line_never_a_traceback(name: str, data: st.DataObject) -> None:
    command, prefix, args = COMMANDS[name]
    env = dict(NOWHERE)
    if name == "rotate-key":
        env["SPSYNC_TOKEN_KEYS"] = data.draw(KEYS, label="SPSYNC_TOKEN_KEYS")
    argv_ = [*prefix, *data.draw(args, label="argv")]
    stdin = data.draw(TOKENS, label="stdin") if name == "sellers add" else None
    result = CliRunner().invoke(command, argv_, input=stdin, env=env,
                                prog_name=f"celery -A worker {name}")
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"{type(result.exception).__name__}: {result.exception}")
    assert result.exit_code in (0, 1, 2), result.output
    assert "Traceback (most recent call last)" not in result.output
