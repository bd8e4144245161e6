"""Order to warehouse: hand each new merchant-fulfilled order to a WMS moments after it lands
in spsync's mirror, and confirm its shipment to Amazon with the WMS's tracking number.

    python examples/order_to_warehouse.py --wms-url http://127.0.0.1:8081 \\
        [--database-url URL] [--since 2026-12-04T10:00:00Z] [--consumer wms]

DATABASE_URL defaults to the environment's. Two loops in one process
(docs/recipes/order-to-warehouse.md explains the path and its timing):

- **handoff**: follows spsync's change feed as consumer ``--consumer``
  (``worker.feed.follow``: woken by ``NOTIFY spsync_changes``, its position kept in
  ``feed_consumers``). For each order that changed (an ``orders`` or ``order_items`` change)
  it reads the order and its items from the mirror, and posts each merchant-fulfilled
  (``MFN``) order in status ``Unshipped`` that it has not handed over yet to the WMS's
  ``POST /orders``. Handed-over orders are recorded in ``wms_handoffs`` (this example's own
  table) after the WMS answered: a crash in between posts that order again, which the WMS
  takes as a repeat (it is idempotent by order id), never loses one. ``--since`` skips
  orders purchased before it (a go-live date: the backlog stays where it is).
- **ship-back**: reads the WMS's ``GET /shipments`` and queues, for each, a
  ``confirmShipment`` in spsync's outbox (``worker.outbox.enqueue.enqueue_command``, what
  ``celery -A worker ship`` does) with idempotency key ``wms-ship:<order id>``, so a
  shipment read twice is queued once. spsync's worker sends it at Amazon's quota and the
  order's next sync mirrors it as shipped.

The WMS stand-in is ``python -m devtools.wms_stub``. Stop with Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import threading
import urllib.error
import urllib.request
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, text

from worker.db.changes import Change
from worker.db.engine import engine_for
from worker.feed import follow
from worker.outbox.enqueue import InvalidCommand, enqueue_command

ENTITIES = ("orders", "order_items")
SHIP_POLL_SECONDS = 1.0
RETRY_SECONDS = 5.0
HTTP_TIMEOUT = 10.0

TABLE = """
CREATE TABLE IF NOT EXISTS wms_handoffs (
    seller_id bigint NOT NULL REFERENCES sellers (id) ON DELETE CASCADE,
    amazon_order_id text NOT NULL,
    handed_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    outcome text NOT NULL,  -- accepted | repeat | refused: <the WMS's answer>
    PRIMARY KEY (seller_id, amazon_order_id))
"""

# The changed orders that are the WMS's to ship and not handed over yet, with their items.
READY = text("""
SELECT o.seller_id, s.selling_partner_id AS seller, o.amazon_order_id AS order_id,
       o.marketplace_id, o.purchase_date,
       json_agg(json_build_object('order_item_id', i.order_item_id, 'sku', i.seller_sku,
                                  'quantity', i.quantity_ordered)
                ORDER BY i.order_item_id) AS items
FROM unnest(CAST(:sellers AS bigint[]), CAST(:orders AS text[])) AS c(seller_id, order_id)
JOIN orders o ON o.seller_id = c.seller_id AND o.amazon_order_id = c.order_id
JOIN sellers s ON s.id = o.seller_id
JOIN order_items i ON i.seller_id = o.seller_id AND i.amazon_order_id = o.amazon_order_id
WHERE o.order_status = 'UNSHIPPED' AND o.fulfillment_channel = 'MFN'
  AND o.purchase_date >= CAST(:since AS timestamptz)
  AND NOT EXISTS (SELECT 1 FROM wms_handoffs h
                  WHERE h.seller_id = o.seller_id AND h.amazon_order_id = o.amazon_order_id)
GROUP BY o.seller_id, s.selling_partner_id, o.amazon_order_id, o.marketplace_id,
         o.purchase_date
ORDER BY o.purchase_date
""")


def say(message: str) -> None:
    print(message, flush=True)


def _post(url: str, body: dict[str, Any]) -> str:
    """The WMS's verdict on one order: ``accepted``, ``repeat`` (it had it already) or
    ``refused: ...`` (a 4xx: this order will not go in as it is, so it is not retried).
    Raises ``OSError`` when the WMS cannot take it now (down, 5xx): the batch is retried."""
    request = urllib.request.Request(  # noqa: S310 - main() admits http(s) URLs only
        url, data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT) as resp:  # noqa: S310
            return "accepted" if resp.status == 201 else "repeat"
    except urllib.error.HTTPError as exc:
        if 400 <= exc.code < 500:
            return f"refused: {exc.code} {exc.read(300).decode(errors='replace')}"
        raise


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=HTTP_TIMEOUT) as resp:  # noqa: S310
        return json.loads(resp.read())


def changed_orders(changes: list[Change]) -> list[tuple[int, str]]:
    """The (seller id, order id) pairs an orders or order_items change touched, once each,
    in feed order; deletions are left out (a removed order is no longer the WMS's)."""
    seen: dict[tuple[int, str], None] = {}
    for c in changes:
        if c.entity in ENTITIES and c.operation != "delete":
            order_id = c.key.get("amazon_order_id")
            if isinstance(order_id, str):
                seen[(c.seller_id, order_id)] = None
    return list(seen)


def hand_over(engine: Engine, wms_url: str, since: datetime,
              changes: list[Change]) -> int:
    """Post the ready orders among ``changes`` to the WMS; how many were posted. Raises if
    the WMS cannot be reached, so the batch is handed over again (``follow`` keeps its
    position)."""
    pairs = changed_orders(changes)
    if not pairs:
        return 0
    with engine.begin() as conn:
        ready = conn.execute(READY, {"sellers": [p[0] for p in pairs],
                                     "orders": [p[1] for p in pairs], "since": since}).all()
    for row in ready:
        outcome = _post(f"{wms_url}/orders", {
            "order_id": row.order_id, "seller": row.seller,
            "marketplace_id": row.marketplace_id,
            "purchase_date": row.purchase_date.isoformat(), "items": row.items})
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO wms_handoffs (seller_id, amazon_order_id, outcome) "
                              "VALUES (:s, :o, :outcome) ON CONFLICT DO NOTHING"),
                         {"s": row.seller_id, "o": row.order_id, "outcome": outcome})
        say(f"handed {row.order_id} ({row.seller}) to the WMS: {outcome}")
    return len(ready)


def confirm_params(shipment: dict[str, Any]) -> dict[str, Any]:
    """The confirmShipment parameters for one WMS shipment; ``KeyError``/``TypeError``/
    ``ValueError`` for a shipment that lacks what Amazon needs."""
    shipped = datetime.fromtimestamp(float(shipment["shipped_at"]), tz=UTC)
    return {
        "orderId": str(shipment["order_id"]),
        "marketplaceId": str(shipment["marketplace_id"]),
        "packageDetail": {
            "packageReferenceId": "1",
            "carrierCode": str(shipment["carrier_code"]),
            "trackingNumber": str(shipment["tracking_number"]),
            "shipDate": shipped.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "orderItems": [{"orderItemId": str(i["order_item_id"]),
                            "quantity": int(i["quantity"])} for i in shipment["items"]],
        },
    }


def queue_shipment(conn: Connection, shipment: dict[str, Any]) -> int | None:
    """Queue one shipment's confirmShipment; the outbox row's id, or None (one line said
    why) for a shipment that cannot be confirmed."""
    try:
        params = confirm_params(shipment)
        seller_id = conn.execute(text("SELECT id FROM sellers WHERE selling_partner_id = :s"),
                                 {"s": str(shipment["seller"])}).scalar_one_or_none()
        if seller_id is None:
            raise ValueError("unknown seller")
        return enqueue_command(conn, int(seller_id), "confirmShipment", params,
                               f"wms-ship:{params['orderId']}")
    except (KeyError, TypeError, ValueError, InvalidCommand) as exc:
        say(f"shipment {str(shipment.get('seq'))[:20]} not confirmed: {str(exc)[:200]}")
        return None


def ship_back(engine: Engine, wms_url: str, stop: threading.Event) -> None:
    """Queue a confirmShipment for every shipment the WMS reports, until ``stop``."""
    after = 0
    while not stop.is_set():
        try:
            shipments = _get(f"{wms_url}/shipments?after={after}")
        except (OSError, ValueError) as exc:
            say(f"WMS shipments unreadable ({type(exc).__name__}); retrying")
            stop.wait(RETRY_SECONDS)
            continue
        for shipment in shipments if isinstance(shipments, list) else []:
            if not isinstance(shipment, dict):
                continue
            with engine.begin() as conn:
                outbox_id = queue_shipment(conn, shipment)
            if outbox_id is not None:
                say(f"shipment of {shipment['order_id']} queued (outbox {outbox_id})")
            seq = shipment.get("seq")
            after = max(after, seq if isinstance(seq, int) else after)
        if not shipments:
            stop.wait(SHIP_POLL_SECONDS)


def ensure_table(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text(TABLE))


def run(database_url: str, wms_url: str, since: datetime, consumer: str,
        stop: threading.Event) -> None:
    engine = engine_for(database_url)
    ensure_table(engine)
    shipper = threading.Thread(target=ship_back, args=(engine, wms_url, stop), daemon=True)
    shipper.start()
    say(f"following the change feed as {consumer!r}; WMS at {wms_url}")
    try:
        while not stop.is_set():
            try:
                follow(engine, consumer,
                       lambda changes: hand_over(engine, wms_url, since, changes),
                       stop=stop.is_set, poll_seconds=2.0)
            except OSError as exc:  # the WMS is down: the same batch again, later
                say(f"the WMS cannot take orders now ({type(exc).__name__}); retrying in "
                    f"{RETRY_SECONDS:g} s")
                stop.wait(RETRY_SECONDS)
    finally:
        stop.set()
        shipper.join(10)


def _since(value: str | None) -> datetime:
    if value is None:
        return datetime(1970, 1, 1, tzinfo=UTC)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise SystemExit(f"--since must be an ISO 8601 date-time, not {value[:40]!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--wms-url", required=True)
    ap.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    ap.add_argument("--since", default=None, help="skip orders purchased before (ISO 8601)")
    ap.add_argument("--consumer", default="wms", help="the change feed consumer's name")
    args = ap.parse_args(argv)
    if not args.database_url:
        raise SystemExit("set DATABASE_URL or pass --database-url")
    if not args.wms_url.startswith(("http://", "https://")):
        raise SystemExit("--wms-url must be an http(s) URL")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        run(args.database_url, args.wms_url.rstrip("/"), _since(args.since), args.consumer,
            stop)
    except KeyboardInterrupt:
        stop.set()


if __name__ == "__main__":
    main()
