"""The demo's notification path: an embedded SQS endpoint (moto in server mode, like the
embedded Postgres and Redis), every simulated seller subscribed to it, a consumer process.

The simulator publishes a schema-valid notification to the queue whenever a subscribed
seller's data changes; ``celery -A worker notifications consume`` inboxes it and the demo's
worker refreshes exactly that order, SKU or listing, ahead of the next poll.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pydantic import AnyHttpUrl, SecretStr
from sqlalchemy import text

from worker.runtime import Runtime

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
               "AWS_DEFAULT_REGION": "us-east-1"}  # moto accepts any; nothing leaves the host
ACCOUNT = "123456789012"  # moto's account id
QUEUE = "spsync-demo"
TYPES = ("ORDER_CHANGE", "FBA_INVENTORY_AVAILABILITY_CHANGES", "LISTINGS_ITEM_STATUS_CHANGE")


@contextmanager
def embedded_sqs() -> Iterator[str]:
    """A moto SQS endpoint on a free loopback port, for the life of the block."""
    from moto.server import ThreadedMotoServer

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def subscribe_all(rt: Runtime, sim_url: str, world: dict[str, Any], endpoint: str) -> str:
    """Create the queue and subscribe every seller to it; the queue's URL."""
    import boto3

    sqs = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1",
                       aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
                       aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"])
    queue_url = str(sqs.create_queue(QueueName=QUEUE)["QueueUrl"])
    app = world["application"]
    sim_rt = Runtime(rt.settings.model_copy(update={
        "spapi_url": AnyHttpUrl(sim_url),
        "lwa_token_url": AnyHttpUrl(sim_url.rstrip("/") + "/auth/o2/token"),
        "lwa_client_id": app["client_id"],
        "lwa_client_secret": SecretStr(app["client_secret"])}))
    asyncio.run(_subscribe(sim_rt, world, f"arn:aws:sqs:us-east-1:{ACCOUNT}:{QUEUE}"))
    return queue_url


async def _subscribe(rt: Runtime, world: dict[str, Any], arn: str) -> None:
    from worker.notifications.setup import setup
    from worker.spapi.client import GrantlessAuth, SellerAuth

    async with rt.spapi() as client:
        for s in world["sellers"]:
            auth = SellerAuth(s["selling_partner_id"], s["region"], s["refresh_token"])
            await setup(client, GrantlessAuth(s["region"]), auth, TYPES, arn)


def consumer_args(queue_url: str, endpoint: str) -> list[str]:
    return ["notifications", "consume", "--queue-url", queue_url, "--sqs-endpoint-url",
            endpoint, "--wait", "1", "--visibility-timeout", "5"]


def inbox_counts(rt: Runtime, seller_ids: list[int]) -> dict[str, int]:
    """Notifications of these sellers by inbox status."""
    with rt.engine.begin() as conn:
        rows = conn.execute(text(
            "SELECT status, count(*) FROM notifications_inbox WHERE seller_id = ANY(:ids) "
            "GROUP BY status"), {"ids": seller_ids}).all()
    return {str(status): int(n) for status, n in rows}
