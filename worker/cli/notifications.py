"""``celery -A worker`` notifications setup|list|remove|consume."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import click

from worker.cli.common import cli_runtime, operator_command


@click.group(help="SP-API notifications: subscribe sellers to an SQS destination, and consume "
             "the queue into the inbox.\n\nExample: celery -A worker notifications consume")
def notifications() -> None:
    pass


_TYPES_HELP = ("Comma-separated: ORDER_CHANGE, FBA_INVENTORY_AVAILABILITY_CHANGES, "
               "LISTINGS_ITEM_STATUS_CHANGE, REPORT_PROCESSING_FINISHED, TRANSACTION_UPDATE "
               "(default: all five).")


def _types(value: str | None) -> list[str]:
    from worker.notifications.setup import TYPES

    return [t.strip().upper() for t in value.split(",") if t.strip()] if value else list(TYPES)


def _with_seller(seller_ref: str, work: Callable[[Any, Any, Any], Awaitable[Any]]) -> Any:
    """Run ``work(client, app_auth, seller_auth)`` for one registered seller."""
    from worker.db.sellers import find_seller, get_seller
    from worker.spapi.client import GrantlessAuth, SellerAuth

    rt = cli_runtime()
    with rt.engine.begin() as conn:
        seller = get_seller(conn, find_seller(conn, seller_ref).id, rt.keyring)
    auth = SellerAuth(seller.selling_partner_id, seller.region, seller.refresh_token or "")

    async def go() -> Any:
        async with rt.spapi() as client:
            return await work(client, GrantlessAuth(seller.region), auth)

    return asyncio.run(go())


@notifications.command("setup", help="Subscribe a seller to notification types, delivered to "
                       "an SQS queue: reuses the application's destination for that queue (or "
                       "creates it, with a grantless token) and creates each missing "
                       "subscription. Running it again changes nothing.\n\n"
                       "Example: celery -A worker notifications setup --seller A1B2C3 "
                       "--types ORDER_CHANGE --sqs-arn arn:aws:sqs:us-east-1:123456789012:spsync")
@click.option("--seller", "seller_ref", required=True, help="Selling partner id (or spsync id).")
@click.option("--types", "types", default=None, help=_TYPES_HELP)
@click.option("--sqs-arn", required=True, help="arn:aws:sqs:<region>:<account>:<queue>")
@operator_command
def notifications_setup(seller_ref: str, types: str | None, sqs_arn: str) -> None:
    from worker.notifications.setup import setup

    if not sqs_arn.startswith("arn:aws:sqs:") or sqs_arn.count(":") != 5:
        raise click.UsageError("--sqs-arn must look like arn:aws:sqs:<region>:<account>:<name>")
    kinds = _types(types)
    result = _with_seller(seller_ref, lambda c, app, auth: setup(c, app, auth, kinds, sqs_arn))
    made = "created" if result.destination_created else "reused"
    click.echo(f"destination {result.destination_id} ({made}) for {sqs_arn}")
    for kind, sub in result.subscriptions.items():
        state = "subscribed" if kind in result.created else "already subscribed"
        click.echo(f"  {kind}: {state} ({sub.subscription_id})")


@notifications.command("list", help="A seller's subscription for each type.\n\n"
                       "Example: celery -A worker notifications list --seller A1B2C3")
@click.option("--seller", "seller_ref", required=True, help="Selling partner id (or spsync id).")
@click.option("--types", "types", default=None, help=_TYPES_HELP)
@click.option("--json", "as_json", is_flag=True)
@operator_command
def notifications_list(seller_ref: str, types: str | None, as_json: bool) -> None:
    from worker.notifications.setup import list_subscriptions

    kinds = _types(types)
    subs = _with_seller(seller_ref, lambda c, _app, auth: list_subscriptions(c, auth, kinds))
    if as_json:
        click.echo(json.dumps({k: (None if s is None else {
            "subscription_id": s.subscription_id, "destination_id": s.destination_id,
            "payload_version": s.payload_version}) for k, s in subs.items()}))
        return
    for kind, sub in subs.items():
        click.echo(f"{kind}: " + ("not subscribed" if sub is None else
                                  f"{sub.subscription_id} -> destination {sub.destination_id}"))


@notifications.command("remove", help="Delete a seller's subscriptions (all types unless "
                       "--types); --delete-destination also deletes the destination when no "
                       "other seller uses it.\n\n"
                       "Example: celery -A worker notifications remove --seller A1B2C3")
@click.option("--seller", "seller_ref", required=True, help="Selling partner id (or spsync id).")
@click.option("--types", "types", default=None, help=_TYPES_HELP)
@click.option("--delete-destination", is_flag=True)
@operator_command
def notifications_remove(seller_ref: str, types: str | None, delete_destination: bool) -> None:
    from worker.notifications.setup import remove

    kinds = _types(types)
    result = _with_seller(seller_ref, lambda c, app, auth: remove(
        c, app, auth, kinds, delete_destination=delete_destination))
    for kind, sub_id in result.removed.items():
        click.echo(f"  {kind}: removed ({sub_id})")
    click.echo(f"removed {len(result.removed)} subscription(s)"
               + ("; destination deleted" if result.destination_deleted else ""))


@notifications.command("consume", help="Long-poll the SQS queue and put every notification "
                       "into notifications_inbox (deduplicated, schema-checked), deleting each "
                       "message only after its row is committed; workers then refresh exactly "
                       "what changed. Runs until SIGTERM/SIGINT; run one or several.\n\n"
                       "Example: celery -A worker notifications consume --queue-url "
                       "https://sqs.us-east-1.amazonaws.com/123456789012/spsync")
@click.option("--queue-url", default=None, help="Default: SPSYNC_SQS_QUEUE_URL.")
@click.option("--sqs-endpoint-url", default=None,
              help="Another SQS endpoint (e.g. moto). Default: SPSYNC_SQS_ENDPOINT_URL or AWS.")
@click.option("--wait", "wait_seconds", default=20, show_default=True,
              type=click.IntRange(0, 20), help="Long-poll seconds (SQS allows at most 20).")
@click.option("--visibility-timeout", default=60, show_default=True,
              type=click.IntRange(1, 43200), help="Seconds a received message stays hidden; "
              "one taken by a consumer that died comes back after this.")
@operator_command
def notifications_consume(queue_url: str | None, sqs_endpoint_url: str | None,
                          wait_seconds: int, visibility_timeout: int) -> None:
    import signal
    import threading
    import time

    from worker.notifications.consumer import (
        ConsumerStats,
        SqsSource,
        enqueue_processing,
        run,
    )

    rt = cli_runtime()
    url = queue_url or rt.settings.sqs_queue_url
    if not url:
        raise click.UsageError("give --queue-url or set SPSYNC_SQS_QUEUE_URL")
    _check_queue_url(url)
    source = SqsSource(url, endpoint_url=sqs_endpoint_url or rt.settings.sqs_endpoint_url,
                       wait_seconds=wait_seconds, visibility_timeout=visibility_timeout)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    shown = [0.0]

    def progress(s: ConsumerStats) -> None:  # at most one line every 10 s
        if time.monotonic() - shown[0] >= 10:
            shown[0] = time.monotonic()
            click.echo(f"received {s.received}, new {s.recorded}, duplicates {s.duplicates}, "
                       f"parked {s.parked}, errors {s.errors}")

    if rt.settings.metrics_port:  # receive latency, parked messages: scraped like a worker
        from worker import metrics

        metrics.serve(rt.settings.metrics_port)
    click.echo(f"consuming {url}")
    stats = run(rt.engine, source, enqueue_processing, stop=stop, on_batch=progress)
    click.echo(f"stopped: received {stats.received}, new {stats.recorded}, duplicates "
               f"{stats.duplicates}, parked {stats.parked}, errors {stats.errors}")


def _check_queue_url(url: str) -> None:
    """An SQS queue URL, ``http(s)://<host>/<account>/<queue>``: anything else would make
    the consumer retry a queue that cannot exist, for ever (an outage it waits out)."""
    try:
        parts = urlsplit(url)
        scheme, host, path = parts.scheme, parts.hostname, parts.path.strip("/").split("/")
    except ValueError:  # e.g. an unclosed [IPv6 literal
        scheme, host, path = "", None, []
    if scheme not in ("http", "https") or not host or len(path) != 2 or not all(path) or any(
            c.isspace() for c in url):
        raise click.UsageError("the queue URL must look like https://sqs.<region>."
                               "amazonaws.com/<account>/<queue>")
