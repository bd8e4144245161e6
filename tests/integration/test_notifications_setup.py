"""``worker.notifications.setup`` against the simulator, real Redis and a real SQS endpoint
(moto's server): grantless destination calls, per-seller subscriptions, idempotent reruns,
listing, removal, and a change arriving in the queue as a valid notification."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
import redis

from worker.notifications.envelope import parse
from worker.notifications.setup import TYPES, list_subscriptions, remove, setup
from worker.spapi.auth import NOTIFICATIONS_SCOPE
from worker.spapi.client import GrantlessAuth, SellerAuth
from worker.spapi.errors import AuthError

pytestmark = pytest.mark.integration


def _auth(seller: dict[str, Any]) -> SellerAuth:
    return SellerAuth(seller["selling_partner_id"], seller["region"], seller["refresh_token"])


def _wait_for(check: Any, within: float = 15.0) -> Any:
    deadline = time.monotonic() + within
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.fixture
def world(sqs_server: Any, start_sim: Any, runtime_for: Any) -> Any:
    # time_scale: the usage plans (1 request/s) the client adopts from the rate header
    sim = start_sim(sellers=2, orders_per_seller=5, sqs_endpoint_url=sqs_server.endpoint_url,
                    time_scale=20)
    url = sqs_server.new_queue()
    sqs = sqs_server.client()
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    return sim, runtime_for(sim), sqs, url, arn


def test_setup_is_idempotent_lists_and_removes(world: Any) -> None:
    sim, rt, sqs, url, arn = world
    listing = sim.world()
    first, second = (_auth(s) for s in listing["sellers"])
    app = GrantlessAuth(first.region)

    async def scenario() -> dict[str, Any]:
        out: dict[str, Any] = {}
        async with rt.spapi() as client:
            out["one"] = await setup(client, app, first, TYPES, arn)
        async with rt.spapi() as client:  # a fresh process: tokens come from Redis
            out["two"] = await setup(client, app, first, TYPES, arn)
            out["other"] = await setup(client, GrantlessAuth(second.region), second,
                                       ["ORDER_CHANGE"], arn)
            out["destinations"] = (await client.call(app, "getDestinations")).body["payload"]
            out["listed"] = await list_subscriptions(client, first)
            with pytest.raises(AuthError):  # a seller token never works on grantless calls
                await client.call(first, "getDestinations")
        return out

    out = asyncio.run(scenario())
    one, two, other = out["one"], out["two"], out["other"]
    assert one.destination_created and set(one.created) == set(TYPES)
    assert (two.destination_created, two.created) == (False, ())
    assert two.destination_id == one.destination_id == other.destination_id
    assert two.subscriptions == one.subscriptions and two.elsewhere == {}
    assert other.created == ("ORDER_CHANGE",)
    assert [d["resource"]["sqs"]["arn"] for d in out["destinations"]] == [arn]
    assert out["listed"] == one.subscriptions
    assert one.subscriptions["REPORT_PROCESSING_FINISHED"].payload_version == "2020-09-04"
    assert one.subscriptions["ORDER_CHANGE"].payload_version == "1.0"
    # One client_credentials grant served every grantless call (cached in Redis), and the
    # token itself is never what the cache key names.
    stats = sim.client.stats()
    # seller 1, seller 2, the application; +1: the 403 above made seller 1's token refresh
    assert stats["lwa"]["grants"] == 4
    assert stats["notifications"]["subscriptions"] == len(TYPES) + 1
    keys = {k.decode() for k in redis.Redis.from_url(rt.services.redis_url).keys("lwa:tok:*")}
    assert any(k.endswith(f":{NOTIFICATIONS_SCOPE}") for k in keys)

    # A change for the subscribed seller arrives in the queue as a valid notification.
    changed = sim.client.mutate(first.selling_partner_id, 1)
    received = _wait_for(lambda: sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                                     WaitTimeSeconds=1).get("Messages"))
    envelope = parse(json.loads(received[0]["Body"]))
    assert (envelope.notification_type, envelope.selling_partner_id) == (
        "ORDER_CHANGE", first.selling_partner_id)
    assert envelope.payload["OrderChangeNotification"]["AmazonOrderId"] == changed[0]
    meta = envelope.message["NotificationMetadata"]
    assert meta["SubscriptionId"] == one.subscriptions["ORDER_CHANGE"].subscription_id
    assert meta["ApplicationId"] == listing["application"]["application_id"]

    # On demand, through the blocking control client: three more, about existing orders.
    assert sim.client.notify(first.selling_partner_id, count=3) == {"published": 3}
    _wait_for(lambda: sim.client.notification_stats()["sent"] == 4)
    assert sim.client.notification_stats()["by_type"] == {
        "ORDER_CHANGE": {"sent": 4, "failed": 0}}

    async def teardown() -> dict[str, Any]:
        out: dict[str, Any] = {}
        async with rt.spapi() as client:
            out["kept"] = await remove(client, app, first, delete_destination=True)
            out["after"] = await list_subscriptions(client, first)
            out["again"] = await remove(client, app, first)
            out["last"] = await remove(client, GrantlessAuth(second.region), second,
                                       delete_destination=True)
            out["destinations"] = (await client.call(app, "getDestinations")).body["payload"]
        return out

    done = asyncio.run(teardown())
    assert set(done["kept"].removed) == set(TYPES)
    assert done["kept"].destination_deleted is False  # the second seller still uses it
    assert done["after"] == dict.fromkeys(TYPES)
    assert (done["again"].removed, done["again"].destination_deleted) == ({}, False)
    assert list(done["last"].removed) == ["ORDER_CHANGE"] and done["last"].destination_deleted
    assert done["destinations"] == []


def test_setup_rejects_unknown_types(world: Any) -> None:
    sim, rt, _, _, arn = world
    seller = _auth(sim.world()["sellers"][0])

    async def scenario() -> None:
        async with rt.spapi() as client:
            await setup(client, GrantlessAuth(seller.region), seller, ["ANY_OFFER_CHANGED"], arn)

    with pytest.raises(ValueError, match="unsupported notification types"):
        asyncio.run(scenario())
