"""``celery -A worker`` ship, listing patch|delete, outbox list|show: write-back to Amazon.

Each command only queues a row in ``outbox`` (checked first, so a bad one fails here with
one line); a worker sends it at most once and records Amazon's answer. ``--wait`` follows
the row until it is final.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import click

from worker.cli.common import cli_runtime, operator_command
from worker.db.sellers import BIGINT_MAX
from worker.sync.fields import unstorable

FINAL = ("accepted", "rejected", "failed", "unknown")


def _queue(seller_ref: str, command: str, params: dict[str, Any], key: str | None,
           wait: float, defaulted: tuple[str, ...] = ()) -> None:
    """Check and queue the command; ``defaulted``: the ``params`` paths (``a.b``) whose
    value the command made up (a default such as now), not given by the operator."""
    from worker.db.sellers import find_seller
    from worker.outbox import store
    from worker.outbox.enqueue import InvalidCommand, enqueue_command

    unfit = unstorable([params, key])  # the row's params are jsonb, its key text
    if unfit is not None:
        where = "--key" if unfit == "/1" else "params" + unfit.removeprefix("/0")
        raise click.UsageError("an argument holds a NUL, an undecodable byte, NaN or Infinity "
                               f"(at {where})")
    rt = cli_runtime()
    try:
        with rt.engine.begin() as conn:
            seller = find_seller(conn, seller_ref)
            # A re-run with the same key is the same command, even if a default (the ship
            # date: now) came out different: report the first one, queue nothing. Anything
            # else under that key is another command: refused, never dropped in silence.
            earlier = store.by_key(conn, key) if key else None
            if earlier is not None:
                _same_command(earlier, seller.id, command, params, defaulted)
                outbox_id, verb = earlier.id, f"already queued ({earlier.status})"
            else:
                outbox_id, verb = enqueue_command(conn, seller.id, command, params,
                                                  key), "queued"
    except InvalidCommand as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"outbox {outbox_id}: {command} for {seller.selling_partner_id} {verb}")
    if wait > 0:
        row = _follow(rt, outbox_id, wait)
        click.echo(f"outbox {outbox_id}: {row['status']}"
                   + (f" ({row['error']})" if row.get("error") else ""))
        if row["status"] not in ("accepted", "pending", "sending", "polling"):
            raise click.ClickException(f"outbox {outbox_id} ended {row['status']}; "
                                       f"see `celery -A worker outbox show {outbox_id}`")


def _same_command(earlier: Any, seller_id: int, command: str, params: dict[str, Any],
                  defaulted: tuple[str, ...]) -> None:
    """Raise unless ``earlier`` (the row holding the key) is this very command."""
    mine, theirs = _without(params, defaulted), _without(earlier.params, defaulted)
    if (earlier.seller_id, earlier.command, theirs) != (seller_id, command, mine):
        raise click.ClickException(
            f"this --key is already used by outbox row {earlier.id} ({earlier.command}, "
            f"{earlier.status}) with other parameters: nothing queued; use another key")


def _without(params: Any, paths: tuple[str, ...]) -> Any:
    """``params`` without the values at ``paths`` (copied; ``params`` is left alone)."""
    if not isinstance(params, dict):
        return params
    out = json.loads(json.dumps(params))
    for path in paths:
        *parents, last = path.split(".")
        node = out
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(last, None)
    return out


def _follow(rt: Any, outbox_id: int, wait: float) -> dict[str, Any]:
    deadline = time.monotonic() + wait
    while True:
        row = _row(rt, outbox_id)
        if row["status"] in FINAL or time.monotonic() > deadline:
            return row
        time.sleep(0.5)


def _row(rt: Any, outbox_id: int) -> dict[str, Any]:
    from sqlalchemy import select

    from worker.db.models import OutboxCommand, Seller

    with rt.engine.begin() as conn:
        row = conn.execute(
            select(OutboxCommand.id, Seller.selling_partner_id, OutboxCommand.command,
                   OutboxCommand.status, OutboxCommand.attempts, OutboxCommand.error,
                   OutboxCommand.response, OutboxCommand.idempotency_key,
                   OutboxCommand.created_at, OutboxCommand.sent_at, OutboxCommand.finished_at)
            .join(Seller, Seller.id == OutboxCommand.seller_id)
            .where(OutboxCommand.id == outbox_id)).one_or_none()
    if row is None:
        raise click.ClickException(f"no outbox row {outbox_id}")
    return dict(row._mapping)


_WAIT = click.option("--wait", default=0.0, show_default=True, type=click.FloatRange(min=0),
                     help="Seconds to wait for Amazon's answer (0: just queue it).")
_KEY = click.option("--key", "key", default=None,
                    help="Idempotency key: queuing the same command with it again is a no-op; "
                    "another command with it is refused.")
_SELLER = click.option("--seller", "seller_ref", required=True,
                       help="Selling partner id (or spsync id).")


@click.command(help="Confirm a shipment (Orders v0 confirmShipment) through the outbox.\n\n"
               "Example: celery -A worker ship --seller A1B2C3 --order-id 113-1234567-1234567 "
               "--marketplace-id ATVPDKIKX0DER --package-ref 1 --carrier-code UPS "
               "--tracking 1Z999 --item 12345678901234:1 --wait 30")
@_SELLER
@click.option("--order-id", required=True)
@click.option("--marketplace-id", required=True)
@click.option("--package-ref", required=True, help="Your package reference (a positive number).")
@click.option("--carrier-code", required=True, help="e.g. UPS, USPS, FedEx, or Other.")
@click.option("--carrier-name", default=None, help="Required when --carrier-code is Other.")
@click.option("--tracking", "tracking_number", required=True)
@click.option("--ship-date", default=None, help="ISO 8601 (default: now, UTC).")
@click.option("--item", "items", multiple=True, required=True, metavar="ORDER_ITEM_ID:QTY",
              help="Repeat for each item shipped in this package.")
@_KEY
@_WAIT
@operator_command
def ship(seller_ref: str, order_id: str, marketplace_id: str, package_ref: str,
         carrier_code: str, carrier_name: str | None, tracking_number: str,
         ship_date: str | None, items: tuple[str, ...], key: str | None, wait: float) -> None:
    order_items = []
    for item in items:
        item_id, sep, qty = item.rpartition(":")
        if not sep or not item_id or not (qty.isascii() and qty.isdigit()) or len(qty) > 20:
            raise click.UsageError(f"--item must be ORDER_ITEM_ID:QTY, not {item[:60]!r}")
        order_items.append({"orderItemId": item_id, "quantity": int(qty)})
    package: dict[str, Any] = {
        "packageReferenceId": package_ref, "carrierCode": carrier_code,
        "trackingNumber": tracking_number, "orderItems": order_items,
        "shipDate": ship_date or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    if carrier_name:
        package["carrierName"] = carrier_name
    _queue(seller_ref, "confirmShipment", {"orderId": order_id, "marketplaceId": marketplace_id,
                                           "packageDetail": package}, key, wait,
           defaulted=() if ship_date else ("packageDetail.shipDate",))


@click.group(help="Change or delete a listing through the outbox.\n\n"
             "Example: celery -A worker listing delete --seller A1B2C3 --sku MY-SKU "
             "--marketplace-id ATVPDKIKX0DER")
def listing() -> None:
    pass


@listing.command("patch", help="Apply JSON Patch operations to a listing "
                 "(patchListingsItem).\n\n"
                 "Example: celery -A worker listing patch --seller A1B2C3 --sku MY-SKU "
                 "--marketplace-id ATVPDKIKX0DER --product-type PRODUCT --patches "
                 "'[{\"op\": \"replace\", \"path\": \"/attributes/fulfillment_availability\", "
                 "\"value\": [{\"fulfillment_channel_code\": \"DEFAULT\", \"quantity\": 5}]}]'")
@_SELLER
@click.option("--sku", required=True)
@click.option("--marketplace-id", "marketplace_ids", multiple=True, required=True)
@click.option("--product-type", required=True)
@click.option("--patches", required=True, help="A JSON array of {op, path, value} objects.")
@_KEY
@_WAIT
@operator_command
def listing_patch(seller_ref: str, sku: str, marketplace_ids: tuple[str, ...],
                  product_type: str, patches: str, key: str | None, wait: float) -> None:
    try:
        ops = json.loads(patches)
    except (ValueError, RecursionError):  # RecursionError: nested past Python's stack
        raise click.UsageError("--patches must be a JSON array") from None
    _queue(seller_ref, "patchListingsItem", {
        "sku": sku, "marketplaceIds": list(marketplace_ids), "productType": product_type,
        "patches": ops}, key, wait)


@listing.command("delete", help="Delete a listing (deleteListingsItem).\n\n"
                 "Example: celery -A worker listing delete --seller A1B2C3 --sku MY-SKU "
                 "--marketplace-id ATVPDKIKX0DER")
@_SELLER
@click.option("--sku", required=True)
@click.option("--marketplace-id", required=True)
@_KEY
@_WAIT
@operator_command
def listing_delete(seller_ref: str, sku: str, marketplace_id: str, key: str | None,
                   wait: float) -> None:
    _queue(seller_ref, "deleteListingsItem", {"sku": sku, "marketplaceIds": [marketplace_id]},
           key, wait)


@click.group(help="Inspect write-back commands.\n\nExample: celery -A worker outbox list "
             "--status unknown")
def outbox() -> None:
    pass


@outbox.command("list", help="The latest outbox rows, newest first.\n\n"
                "Example: celery -A worker outbox list --seller A1B2C3 --json")
@click.option("--seller", "seller_ref", default=None)
@click.option("--status", default=None, type=click.Choice(
    ["pending", "sending", "polling", "accepted", "rejected", "failed", "unknown"]))
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--json", "as_json", is_flag=True)
@operator_command
def outbox_list(seller_ref: str | None, status: str | None, limit: int, as_json: bool) -> None:
    from sqlalchemy import select

    from worker.db.models import OutboxCommand, Seller
    from worker.db.sellers import find_seller

    rt = cli_runtime()
    with rt.engine.begin() as conn:
        query = (select(OutboxCommand.id, Seller.selling_partner_id, OutboxCommand.command,
                        OutboxCommand.status, OutboxCommand.attempts, OutboxCommand.created_at,
                        OutboxCommand.error)
                 .join(Seller, Seller.id == OutboxCommand.seller_id)
                 .order_by(OutboxCommand.id.desc()).limit(limit))
        if seller_ref:
            query = query.where(OutboxCommand.seller_id == find_seller(conn, seller_ref).id)
        if status:
            query = query.where(OutboxCommand.status == status)
        rows = [dict(r._mapping) for r in conn.execute(query)]
    if as_json:
        click.echo(json.dumps(rows, default=str))
        return
    for r in rows:
        click.echo(f"{r['id']:>6}  {r['selling_partner_id']:<16} {r['command']:<19} "
                   f"{r['status']:<9} tries {r['attempts']}  {str(r['created_at'])[:19]}  "
                   f"{(r['error'] or '')[:60]}")


@outbox.command("show", help="One outbox row with Amazon's answer.\n\n"
                "Example: celery -A worker outbox show 42")
@click.argument("outbox_id", type=click.IntRange(1, BIGINT_MAX))
@operator_command
def outbox_show(outbox_id: int) -> None:
    click.echo(json.dumps(_row(cli_runtime(), outbox_id), default=str, indent=2))
