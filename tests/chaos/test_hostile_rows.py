"""Hostile rows (issue 14, part 2): outbox commands and inbox notifications written with SQL,
as a downstream system (or anyone with ``INSERT`` on those tables) writes them, between
good ones.

``rounds`` batches (``--chaos-rounds``); each holds good rows and hostile ones drawn at
random from the seed: nesting 33 to 5,000 levels deep, documents past the size limit,
the wrong JSON type at the root or in a field, NUL escapes and lone surrogates, integers
past int32, a 100,000-character SKU, a notification of another type than its row says.
Each hostile document is inserted twice: as a downstream system would (migration 0005's
triggers decide) and with triggers off, as a row stored before them would be.

Checked, per batch: Postgres refuses exactly what breaks the depth or size rule (and the
NUL and lone-surrogate escapes jsonb cannot hold); one outbox sweep and one inbox sweep
send every good command (``accepted``) and process every good notification (``done``),
and settle every hostile row that got in: ``rejected`` / ``parked`` with a one-line
reason, never sent, never retried, no traceback logged.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from structlog.testing import capture_logs

from tests.chaos.record import record
from tests.integration.helpers import register, table
from tests.integration.test_outbox import FAST, Shop, listing_skus, price
from tests.notificationkit import order_change
from worker.db.jsonlimits import INBOX_PAYLOAD, OUTBOX_PARAMS, JsonLimit
from worker.notifications.process import process_pending
from worker.outbox.run import process_due
from worker.runtime import Runtime

pytestmark = [pytest.mark.chaos, pytest.mark.integration]

GOOD_PER_ROUND = 2


@dataclass(frozen=True)
class Hostile:
    kind: str
    document: str  # JSON text, as an INSERT would carry it
    refused_at_entry: str | None  # what Postgres says when it refuses it, or None


def _deep(rng: random.Random, limit: JsonLimit, wrap: Callable[[str], str]) -> Hostile:
    depth = rng.choice([limit.depth + 1, rng.randint(limit.depth + 2, 5000)])
    opener, closer = rng.choice([("[", "]"), ('{"a": ', "}")])
    return Hostile("deep", wrap(opener * depth + "1" + closer * depth),
                   f"nested deeper than {limit.depth} levels")


def _huge(rng: random.Random, limit: JsonLimit, wrap: Callable[[str], str]) -> Hostile:
    if rng.random() < 0.5:
        inner = json.dumps("x" * (limit.size + rng.randint(1, 1000)))
    else:  # many small values: large only as a whole
        inner = json.dumps([rng.randint(0, 9)] * (limit.size // 3 + 1))
    return Hostile("huge", wrap(inner), f"larger than {limit.size:,} bytes")


def _unstorable(rng: random.Random, wrap: Callable[[str], str]) -> Hostile:
    escape = rng.choice(["\\u0000", "a\\u0000b", "\\ud800", "x\\udfffy"])
    return Hostile("unstorable", wrap(f'"{escape}"'), "")  # jsonb refuses the escape itself


def hostile_params(rng: random.Random, market: str) -> tuple[str, Hostile]:
    """(command, a hostile params document) that must never reach Amazon."""
    def field(value: str) -> str:
        return '{"sku": ' + value + ', "marketplaceIds": ["' + market + '"]}'

    kinds: list[Callable[[], tuple[str, Hostile]]] = [
        lambda: ("deleteListingsItem", _deep(rng, OUTBOX_PARAMS, field)),
        lambda: ("createInboundPlan", _huge(rng, OUTBOX_PARAMS, lambda v: '{"items": ' + v
                                            + "}")),
        lambda: ("deleteListingsItem", _unstorable(rng, field)),
        lambda: (rng.choice(["confirmShipment", "patchListingsItem"]), Hostile(
            "root type", rng.choice(['"params"', "42", "null", "[]", "true", "1e400"]), None)),
        lambda: ("deleteListingsItem", Hostile("field type", field(rng.choice(
            ["7", "null", "[\"A\"]", "{}", "1e400"])), None)),
        lambda: ("deleteListingsItem", Hostile("long sku", field(json.dumps("S" * 100_000)),
                                               None)),
        lambda: ("confirmShipment", Hostile("int32", json.dumps({
            "orderId": "111-1234567-1234567", "marketplaceId": market, "packageDetail": {
                "packageReferenceId": "1", "carrierCode": "UPS", "trackingNumber": "1Z",
                "shipDate": "2026-01-01T00:00:00Z", "orderItems": [
                    {"orderItemId": "1", "quantity": rng.choice([2**31, 10**20])}]}}), None)),
    ]
    return rng.choice(kinds)()


def hostile_payload(rng: random.Random, spid: str, order_id: str) -> tuple[str, Hostile]:
    """(the row's notification_type, a hostile payload) that must be parked."""
    valid = order_change(spid, order_id)
    broken = json.loads(json.dumps(valid))
    del broken[rng.choice(["NotificationMetadata", "Payload", "EventTime"])]

    def wrap(value: str) -> str:
        return '{"NotificationType": "ORDER_CHANGE", "Payload": ' + value + "}"

    kinds: list[Callable[[], tuple[str, Hostile]]] = [
        lambda: ("ORDER_CHANGE", _deep(rng, INBOX_PAYLOAD, wrap)),
        lambda: ("ORDER_CHANGE", _huge(rng, INBOX_PAYLOAD, wrap)),
        lambda: ("ORDER_CHANGE", _unstorable(rng, wrap)),
        lambda: ("ORDER_CHANGE", Hostile("root type", rng.choice(['"x"', "[]", "0"]), None)),
        lambda: ("ORDER_CHANGE", Hostile("schema", json.dumps(broken), None)),
        lambda: ("LISTINGS_ITEM_STATUS_CHANGE", Hostile("other type", json.dumps(valid), None)),
    ]
    return rng.choice(kinds)()


@dataclass
class Tally:
    refused: Counter[str]
    stored: list[int]


def insert_both_ways(rt: Runtime, sql: str, row: Hostile, values: dict[str, Any],
                     tally: Tally) -> None:
    """Through the triggers, then with them off: check what Postgres refuses."""
    for unchecked in (False, True):
        unique = {"n": f"{values['n']}-{unchecked}"} if "n" in values else {}
        got = _insert(rt, sql, {**values, **unique, "d": row.document}, unchecked)
        if isinstance(got, int):
            assert unchecked or row.refused_at_entry is None, (row.kind, "got in")
            tally.stored.append(got)
            continue
        tally.refused[row.kind] += 1
        if row.kind == "unstorable":  # jsonb's own input rules, triggers or not
            assert got in ("unsupported Unicode escape sequence",
                           "invalid input syntax for type json"), got
        else:  # the triggers' rule, and only theirs
            assert not unchecked and got.endswith(f" is {row.refused_at_entry}"), (row.kind, got)


def _insert(rt: Runtime, sql: str, values: dict[str, Any], unchecked: bool) -> int | str:
    """The new row's id, or the first line of Postgres's refusal."""
    try:
        with rt.engine.begin() as conn:
            if unchecked:  # as before migration 0005
                conn.execute(text("SET LOCAL session_replication_role = replica"))
            return int(conn.execute(text(sql), values).scalar_one())
    except DBAPIError as exc:
        return str(exc.orig).splitlines()[0]


OUTBOX_SQL = ("INSERT INTO outbox (seller_id, command, params) VALUES (:s, :c, "
              "CAST(:d AS jsonb)) RETURNING id")
INBOX_SQL = ("INSERT INTO notifications_inbox (notification_id, notification_type, "
             "selling_partner_id, source, payload) VALUES (:n, :k, :p, 'sqs', "
             "CAST(:d AS jsonb)) RETURNING id")


def statuses(rt: Runtime, table_name: str, ids: list[int]) -> dict[int, tuple[str, str]]:
    rows = table(rt, f"SELECT id, status, coalesce(error, '') FROM {table_name} "
                     "WHERE id = ANY(:i)", i=ids)
    return {r[0]: (r[1], r[2]) for r in rows}


def test_hostile_rows_among_good_ones_are_settled_once_and_block_nothing(
        start_sim: Any, runtime_for: Any, rounds: int, seed: int) -> None:
    rng = random.Random(seed)
    sim = start_sim(sellers=1, orders_per_seller=60, time_scale=1000, seed=seed % 1000 + 1)
    rt: Runtime = runtime_for(sim)
    ((spid, seller_id),) = register(rt, sim).items()
    shop = Shop(sim, rt, spid, seller_id, sim.world()["sellers"][0]["marketplace_ids"][0])
    skus = list(listing_skus(shop).items())
    orders = [o["AmazonOrderId"] for o in sim.client.truth(spid)["orders"]]
    outbox, inbox = Tally(Counter(), []), Tally(Counter(), [])
    good_out: list[int] = []
    good_in: list[int] = []
    logs: list[dict[str, Any]] = []
    for n in range(rounds):
        stored_before = len(outbox.stored), len(inbox.stored)
        for i in range(GOOD_PER_ROUND):
            sku, product_type = skus[(n * GOOD_PER_ROUND + i) % len(skus)]
            with rt.engine.begin() as conn:
                good_out.append(conn.execute(text(OUTBOX_SQL), {
                    "s": seller_id, "c": "patchListingsItem",
                    "d": json.dumps(price(shop, sku, product_type, 10 + n))}).scalar_one())
                good_in.append(conn.execute(text(INBOX_SQL), {
                    "n": f"good-{n}-{i}", "k": "ORDER_CHANGE", "p": spid,
                    "d": json.dumps(order_change(spid, rng.choice(orders)))}).scalar_one())
            command, params = hostile_params(rng, shop.market)
            insert_both_ways(rt, OUTBOX_SQL, params, {"s": seller_id, "c": command}, outbox)
            kind, payload = hostile_payload(rng, spid, rng.choice(orders))
            insert_both_ways(rt, INBOX_SQL, payload, {"n": f"bad-{n}-{i}", "k": kind, "p": spid},
                             inbox)
        with capture_logs() as caught:  # one sweep each settles the whole batch
            sent = asyncio.run(process_due(rt, timing=FAST, limit=10_000)).sent
            handled = asyncio.run(process_pending(rt, limit=10_000))
        logs += caught
        assert sent == GOOD_PER_ROUND + len(outbox.stored) - stored_before[0]
        assert handled == GOOD_PER_ROUND + len(inbox.stored) - stored_before[1]

    out_status = statuses(rt, "outbox", good_out + outbox.stored)
    in_status = statuses(rt, "notifications_inbox", good_in + inbox.stored)
    assert {out_status[i][0] for i in good_out} == {"accepted"}
    assert {in_status[i][0] for i in good_in} == {"done"}
    for i in outbox.stored:
        status, error = out_status[i]
        assert status == "rejected" and error.startswith("invalid params, not sent: params"), (
            status, error)
        assert "\n" not in error and len(error) < 300
    for i in inbox.stored:
        status, error = in_status[i]
        assert status == "parked" and error.startswith("invalid, not processed: "), (
            status, error)
        assert "\n" not in error and len(error) < 600
    assert not [e for e in logs if e.get("log_level") in ("error", "critical")
                or "exc_info" in e], "a traceback was logged"
    assert asyncio.run(process_due(rt, timing=FAST)).total == 0  # settled once
    assert asyncio.run(process_pending(rt)) == 0
    assert sim.client.writes()["patchListingsItem"]["received"] == len(good_out)
    assert set(sim.client.writes()) == {"patchListingsItem"}  # nothing hostile ever left

    figures = {"seed": seed, "rounds": rounds, "good_commands": len(good_out),
               "good_notifications": len(good_in),
               "refused_at_entry": sum(outbox.refused.values()) + sum(inbox.refused.values()),
               "rejected_commands": len(outbox.stored), "parked_notifications": len(inbox.stored),
               "refused_by_kind": dict(outbox.refused + inbox.refused)}
    print(f"\nhostile rows: {figures}")
    record("Hostile rows", injected="outbox commands and notifications INSERTed by SQL among "
                                    "good ones: nested 33-5,000 levels, past the size limit, "
                                    "wrong JSON types, NUL/surrogate escapes, int32 overflow, "
                                    "100,000-char SKU, a notification of another type",
           checked="Postgres refuses what breaks depth/size; each hostile row that got in is "
                   "rejected/parked once with a one-line reason and never sent; every good "
                   "row is sent/processed in the same sweep; no traceback",
           result="pass", figures=figures)
