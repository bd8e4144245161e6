"""Notifications in the simulator: grantless tokens, destinations, subscriptions, and the
messages a change publishes to a real SQS endpoint (moto's server)."""

from __future__ import annotations

import asyncio
import json
import socket
import time
import uuid
from importlib import resources
from typing import Any

import pytest
from jsonschema import Draft7Validator

from simulator.spec import all_operations
from worker.notifications.envelope import parse

from .reportkit import ORDERS_REPORT, REPORTS, create_ok
from .simkit import MakeSim, Sim, schema_errors, until

MODEL = "notificationsV1"
DESTINATIONS = "/notifications/v1/destinations"
SUBSCRIPTIONS = "/notifications/v1/subscriptions"
SCOPE = "sellingpartnerapi::notifications"
SCHEMA_FILES = {
    "ORDER_CHANGE": "OrderChangeNotification",
    "FBA_INVENTORY_AVAILABILITY_CHANGES": "FBAInventoryAvailabilityChangeNotification",
    "LISTINGS_ITEM_STATUS_CHANGE": "ListingsItemStatusChangeNotification",
    "REPORT_PROCESSING_FINISHED": "ReportProcessingFinishedNotification",
    "TRANSACTION_UPDATE": "TransactionUpdateNotification",
}


# --- helpers ---------------------------------------------------------------------------

async def grantless(sim: Sim, scope: str = SCOPE) -> tuple[int, dict[str, Any]]:
    app = (await sim.sellers())["application"]
    return await sim.token_response(grant_type="client_credentials", scope=scope,
                                    client_id=app["client_id"],
                                    client_secret=app["client_secret"])


async def app_token(sim: Sim) -> str:
    status, body = await grantless(sim)
    assert status == 200, body
    token: str = body["access_token"]
    return token


async def call(sim: Sim, method: str, path: str, token: str,
               body: Any = None) -> tuple[int, Any]:
    resp = await sim.client.request(method, path, json=body,
                                    headers={"x-amz-access-token": token})
    return resp.status, await resp.json(content_type=None)


def arn(name: str) -> str:
    return f"arn:aws:sqs:us-east-1:123456789012:{name}"


async def destination(sim: Sim, token: str, queue_arn: str, name: str = "spsync") -> str:
    status, body = await call(sim, "POST", DESTINATIONS, token, {
        "name": name, "resourceSpecification": {"sqs": {"arn": queue_arn}}})
    assert status == 200, body
    assert schema_errors(MODEL, "CreateDestinationResponse", body) == []
    destination_id: str = body["payload"]["destinationId"]
    return destination_id


async def subscribe(sim: Sim, seller_token: str, kind: str, destination_id: str,
                    version: str = "1.0") -> dict[str, Any]:
    status, body = await call(sim, "POST", f"{SUBSCRIPTIONS}/{kind}", seller_token,
                              {"payloadVersion": version, "destinationId": destination_id})
    assert status == 200, body
    assert schema_errors(MODEL, "CreateSubscriptionResponse", body) == []
    payload: dict[str, Any] = body["payload"]
    return payload


async def stats(sim: Sim) -> dict[str, Any]:
    body: dict[str, Any] = (await sim.stats())["notifications"]
    return body


async def settled(sim: Sim, done: int, within: float = 15.0) -> dict[str, Any]:
    """Stats once ``done`` messages were sent or failed and nothing is pending."""
    return await until(lambda: stats(sim),
                       lambda now: now["sent"] + now["failed"] >= done and now["pending"] == 0,
                       within=within)


def validate_official(message: dict[str, Any], kind: str) -> None:
    name = SCHEMA_FILES[kind]
    text = resources.files("worker.spapi_models").joinpath(f"{name}.json").read_text("utf-8")
    errors = [e.message for e in Draft7Validator(json.loads(text)).iter_errors(message)]
    assert errors == [], (kind, errors)


class Queue:
    """One fresh moto queue, read from a thread (the simulator shares the test's loop)."""

    def __init__(self, sqs: Any) -> None:
        self.client = sqs.client()
        self.name = f"spsync-{uuid.uuid4().hex[:12]}"
        self.url = sqs.new_queue(self.name)
        attrs = self.client.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])
        self.arn: str = attrs["Attributes"]["QueueArn"]

    async def drain(self) -> list[dict[str, Any]]:
        def receive() -> list[dict[str, Any]]:
            out: list[dict[str, Any]] = []
            while True:
                reply = self.client.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10,
                                                    WaitTimeSeconds=0)
                batch = reply.get("Messages", [])
                if not batch:
                    return out
                out += [json.loads(m["Body"]) for m in batch]
                self.client.delete_message_batch(QueueUrl=self.url, Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(batch)])

        return await asyncio.to_thread(receive)


@pytest.fixture
def queue(sqs_server: Any) -> Queue:
    return Queue(sqs_server)


# --- LWA: grantless tokens ---------------------------------------------------------------

async def test_client_credentials_grant_issues_a_grantless_token(make_sim: MakeSim) -> None:
    sim = await make_sim(orders_per_seller=2)
    status, body = await grantless(sim)
    assert status == 200
    assert body["access_token"].startswith("Atza|")
    assert (body["scope"], body["token_type"]) == (SCOPE, "bearer")
    assert "refresh_token" not in body
    assert body["expires_in"] == sim.config.token_ttl_seconds


@pytest.mark.parametrize(("form", "status", "error"), [
    ({"scope": "sellingpartnerapi::migration"}, 400, "invalid_scope"),
    ({"scope": f"{SCOPE} profile"}, 400, "invalid_scope"),
    ({}, 400, "invalid_request"),
    ({"scope": SCOPE, "client_secret": "wrong"}, 401, "invalid_client"),
])
async def test_client_credentials_errors(make_sim: MakeSim, form: dict[str, str], status: int,
                                         error: str) -> None:
    sim = await make_sim(orders_per_seller=2)
    app = (await sim.sellers())["application"]
    fields = {"grant_type": "client_credentials", "client_id": app["client_id"],
              "client_secret": app["client_secret"], **form}
    got, body = await sim.token_response(**fields)
    assert (got, body["error"]) == (status, error)


def test_grantless_operations_come_from_the_model() -> None:
    grantless_ops = {k for k, op in all_operations().items() if op.grantless}
    assert grantless_ops == {"getDestinations", "createDestination", "getDestination",
                             "deleteDestination", "getSubscriptionById",
                             "deleteSubscriptionById"}
    assert {all_operations()[k].grantless_scope for k in grantless_ops} == {SCOPE}
    for name in ("createSubscription", "getSubscription"):
        op = all_operations()[name]
        assert (op.grantless, op.rate, op.burst) == (False, 1, 5)


async def test_each_token_kind_only_for_its_operations(make_sim: MakeSim) -> None:
    sim = await make_sim(orders_per_seller=2)
    seller_token, application = await sim.access_token(), await app_token(sim)
    denied = {"code": "Unauthorized", "message": "Access to requested resource is denied.",
              "details": ""}
    for token, method, path in (
        (seller_token, "GET", DESTINATIONS),
        (seller_token, "POST", DESTINATIONS),
        (seller_token, "DELETE", f"{SUBSCRIPTIONS}/ORDER_CHANGE/some-id"),
        (application, "GET", f"{SUBSCRIPTIONS}/ORDER_CHANGE"),
        (application, "POST", f"{SUBSCRIPTIONS}/ORDER_CHANGE"),
        (application, "GET", "/orders/2026-01-01/orders"),
    ):
        status, body = await call(sim, method, path, token, {} if method == "POST" else None)
        assert (status, body["errors"][0]) == (403, denied), (method, path)
    status, body = await call(sim, "GET", DESTINATIONS, application)
    assert (status, body) == (200, {"payload": []})
    sim.clock.advance(sim.config.token_ttl_seconds + 1)
    status, body = await call(sim, "GET", DESTINATIONS, application)
    assert status == 403 and "expired" in body["errors"][0]["details"]


# --- destinations ------------------------------------------------------------------------

async def test_destination_crud_and_conflict(make_sim: MakeSim) -> None:
    sim = await make_sim(orders_per_seller=2)
    token = await app_token(sim)
    first = await destination(sim, token, arn("one"))
    status, body = await call(sim, "POST", DESTINATIONS, token, {
        "name": "again", "resourceSpecification": {"sqs": {"arn": arn("one")}}})
    assert status == 409 and body["errors"][0]["code"] == "Conflict"
    assert arn("one") in body["errors"][0]["details"]
    second = await destination(sim, token, arn("two"), name="other")
    status, body = await call(sim, "GET", DESTINATIONS, token)
    assert status == 200 and schema_errors(MODEL, "GetDestinationsResponse", body) == []
    assert {d["destinationId"]: d["resource"]["sqs"]["arn"] for d in body["payload"]} == {
        first: arn("one"), second: arn("two")}
    status, body = await call(sim, "GET", f"{DESTINATIONS}/{first}", token)
    assert status == 200 and schema_errors(MODEL, "GetDestinationResponse", body) == []
    assert body["payload"] == {"destinationId": first, "name": "spsync",
                               "resource": {"sqs": {"arn": arn("one")}}}
    status, body = await call(sim, "DELETE", f"{DESTINATIONS}/{first}", token)
    assert (status, body) == (200, {})
    for method in ("GET", "DELETE"):
        status, body = await call(sim, method, f"{DESTINATIONS}/{first}", token)
        assert (status, body["errors"][0]["code"]) == (404, "NotFound")
    await destination(sim, token, arn("one"))  # its arn is free again


@pytest.mark.parametrize("body", [
    {"resourceSpecification": {"sqs": {"arn": arn("x")}}},
    {"name": "x"},
    {"name": "x", "resourceSpecification": {}},
    {"name": "x", "resourceSpecification": {"sqs": {"arn": "arn:aws:sns:us-east-1:1:x"}}},
    {"name": "x", "resourceSpecification": {"sqs": {"arn": "arn:aws:sqs:us-east-1:x"}}},
    {"name": "x", "resourceSpecification": {"sqs": {}}},
    {"name": "x" * 257, "resourceSpecification": {"sqs": {"arn": arn("x")}}},
    {"name": "x", "resourceSpecification": {"sqs": {"arn": arn("x")},
                                            "eventBridge": {"region": "us-east-1",
                                                            "accountId": "1"}}},
    {"name": "x", "resourceSpecification": {"eventBridge": {"region": "us-east-1"}}},
    {"name": 5, "resourceSpecification": {"sqs": {"arn": arn("x")}}},
])
async def test_destination_validation(make_sim: MakeSim, body: dict[str, Any]) -> None:
    sim = await make_sim(orders_per_seller=2)
    status, answer = await call(sim, "POST", DESTINATIONS, await app_token(sim), body)
    assert (status, answer["errors"][0]["code"]) == (400, "InvalidInput"), answer


async def test_event_bridge_destination(make_sim: MakeSim) -> None:
    sim = await make_sim(orders_per_seller=2)
    token = await app_token(sim)
    spec = {"eventBridge": {"region": "us-east-1", "accountId": "123456789012"}}
    status, body = await call(sim, "POST", DESTINATIONS, token,
                              {"name": "bridge", "resourceSpecification": spec})
    assert status == 200 and schema_errors(MODEL, "CreateDestinationResponse", body) == []
    assert body["payload"]["resource"]["eventBridge"]["accountId"] == "123456789012"
    status, _ = await call(sim, "POST", DESTINATIONS, token,
                           {"name": "bridge", "resourceSpecification": spec})
    assert status == 409


# --- subscriptions -----------------------------------------------------------------------

async def test_subscription_crud_and_conflict(make_sim: MakeSim) -> None:
    sim = await make_sim(orders_per_seller=2)
    seller, other, application = await sim.access_token(0), await sim.access_token(1), \
        await app_token(sim)
    dest = await destination(sim, application, arn("subs"))
    sub = await subscribe(sim, seller, "ORDER_CHANGE", dest)
    assert (sub["destinationId"], sub["payloadVersion"]) == (dest, "1.0")
    status, body = await call(sim, "POST", f"{SUBSCRIPTIONS}/ORDER_CHANGE", seller,
                              {"payloadVersion": "1.0", "destinationId": dest})
    assert (status, body["errors"][0]["code"]) == (409, "Conflict")
    assert (await subscribe(sim, other, "ORDER_CHANGE", dest))["subscriptionId"] != \
        sub["subscriptionId"]  # subscriptions are per seller
    status, body = await call(sim, "GET", f"{SUBSCRIPTIONS}/ORDER_CHANGE", seller)
    assert status == 200 and schema_errors(MODEL, "GetSubscriptionResponse", body) == []
    assert body["payload"] == sub
    status, _ = await call(sim, "GET", f"{SUBSCRIPTIONS}/ORDER_CHANGE?payloadVersion=2.0",
                           seller)
    assert status == 404
    status, body = await call(sim, "GET", f"{SUBSCRIPTIONS}/LISTINGS_ITEM_STATUS_CHANGE",
                              seller)
    assert (status, body["errors"][0]["code"]) == (404, "NotFound")
    by_id = f"{SUBSCRIPTIONS}/ORDER_CHANGE/{sub['subscriptionId']}"
    status, body = await call(sim, "GET", by_id, application)
    assert status == 200 and schema_errors(MODEL, "GetSubscriptionByIdResponse", body) == []
    assert body["payload"] == sub
    status, _ = await call(sim, "DELETE", f"{DESTINATIONS}/{dest}", application)
    assert status == 409  # it still has subscriptions
    status, _ = await call(
        sim, "DELETE", f"{SUBSCRIPTIONS}/FBA_INVENTORY_AVAILABILITY_CHANGES/"
                       f"{sub['subscriptionId']}", application)
    assert status == 404  # the id is of another type
    status, body = await call(sim, "DELETE", by_id, application)
    assert (status, body) == (200, {})
    assert (await call(sim, "DELETE", by_id, application))[0] == 404
    assert (await call(sim, "GET", f"{SUBSCRIPTIONS}/ORDER_CHANGE", seller))[0] == 404
    await subscribe(sim, seller, "ORDER_CHANGE", dest)  # free again


@pytest.mark.parametrize(("kind", "body"), [
    ("ORDER_CHANGE", {"destinationId": "D"}),
    ("ORDER_CHANGE", {"payloadVersion": "1.0"}),
    ("ORDER_CHANGE", {"payloadVersion": "9.9", "destinationId": "D"}),
    ("ORDER_CHANGE", {"payloadVersion": "1.0", "destinationId": "no-such-destination"}),
    ("ANY_OFFER_CHANGED", {"payloadVersion": "1.0", "destinationId": "D"}),
    ("ORDER_CHANGE", {"payloadVersion": "1.0", "destinationId": "D",
                      "processingDirective": {"filterExpression": "x == `y`"}}),
    ("ORDER_CHANGE", {"payloadVersion": "1.0", "destinationId": "D",
                      "processingDirective": {"eventFilter": {"marketplaceIds": ["X"]}}}),
    ("ORDER_CHANGE", {"payloadVersion": "1.0", "destinationId": "D",
                      "processingDirective": {"eventFilter": {
                          "eventFilterType": "ORDER_CHANGE", "orderChangeTypes": ["Nope"]}}}),
    ("REPORT_PROCESSING_FINISHED", {"payloadVersion": "1.0", "destinationId": "D",
                                    "processingDirective": {"eventFilter": {
                                        "eventFilterType": "ORDER_CHANGE"}}}),
])
async def test_subscription_validation(make_sim: MakeSim, kind: str,
                                       body: dict[str, Any]) -> None:
    sim = await make_sim(orders_per_seller=2)
    dest = await destination(sim, await app_token(sim), arn("v"))
    if body.get("destinationId") == "D":
        body = {**body, "destinationId": dest}
    status, answer = await call(sim, "POST", f"{SUBSCRIPTIONS}/{kind}",
                                await sim.access_token(), body)
    assert (status, answer["errors"][0]["code"]) == (400, "InvalidInput"), answer


async def test_report_subscriptions_take_the_schema_payload_version(make_sim: MakeSim) -> None:
    sim = await make_sim(orders_per_seller=2)
    dest = await destination(sim, await app_token(sim), arn("r"))
    sub = await subscribe(sim, await sim.access_token(), "REPORT_PROCESSING_FINISHED", dest,
                          version="2020-09-04")
    assert sub["payloadVersion"] == "2020-09-04"


# --- publishing --------------------------------------------------------------------------

async def test_order_changes_publish_valid_unique_messages(make_sim: MakeSim, sqs_server: Any,
                                                           queue: Queue) -> None:
    sim = await make_sim(orders_per_seller=10, sellers=2,
                         sqs_endpoint_url=sqs_server.endpoint_url)
    listing = await sim.sellers()
    spid, other = (s["selling_partner_id"] for s in listing["sellers"])
    dest = await destination(sim, await app_token(sim), queue.arn)
    sub = await subscribe(sim, await sim.access_token(0), "ORDER_CHANGE", dest)
    status, changed = await sim.post("/_sim/mutate", {"seller_id": spid, "count": 6})
    assert status == 200
    status, _ = await sim.post("/_sim/mutate", {"seller_id": other, "count": 4})
    assert status == 200  # not subscribed: publishes nothing
    counts = await settled(sim, 6)
    assert (counts["sent"], counts["failed"]) == (6, 0)
    assert counts["by_type"] == {"ORDER_CHANGE": {"sent": 6, "failed": 0}}
    messages = await queue.drain()
    assert len(messages) == 6
    envelopes = [parse(m) for m in messages]
    for message in messages:
        validate_official(message, "ORDER_CHANGE")
    assert len({e.notification_id for e in envelopes}) == 6
    assert {e.selling_partner_id for e in envelopes} == {spid}
    assert sorted(e.payload["OrderChangeNotification"]["AmazonOrderId"] for e in envelopes) \
        == sorted(changed["changed"])
    meta = messages[0]["NotificationMetadata"]
    assert meta["ApplicationId"] == listing["application"]["application_id"]
    assert meta["SubscriptionId"] == sub["subscriptionId"]
    truth = {o["AmazonOrderId"]: o for o in await sim.truth(spid)}
    last = messages[-1]["Payload"]["OrderChangeNotification"]
    assert last["Summary"]["OrderStatus"] == truth[last["AmazonOrderId"]]["OrderStatus"]


async def test_no_subscription_no_message(make_sim: MakeSim, sqs_server: Any,
                                          queue: Queue) -> None:
    sim = await make_sim(orders_per_seller=5, sqs_endpoint_url=sqs_server.endpoint_url)
    application = await app_token(sim)
    dest = await destination(sim, application, queue.arn)
    sub = await subscribe(sim, await sim.access_token(), "ORDER_CHANGE", dest)
    spid = (await sim.seller())["selling_partner_id"]
    status, _ = await call(sim, "DELETE", f"{SUBSCRIPTIONS}/ORDER_CHANGE/"
                                          f"{sub['subscriptionId']}", application)
    assert status == 200
    assert (await sim.post("/_sim/mutate", {"seller_id": spid, "count": 3}))[0] == 200
    status, body = await sim.post("/_sim/notify", {"seller_id": spid})
    assert status == 400 and "no ORDER_CHANGE subscription" in body["error"]
    await sim.idle()  # nothing pending, and the background loops have run since
    assert (await stats(sim))["sent"] == 0
    assert await queue.drain() == []


async def test_sqs_down_never_fails_the_api(make_sim: MakeSim) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}"
    sim = await make_sim(orders_per_seller=5, sqs_endpoint_url=dead)
    dest = await destination(sim, await app_token(sim), arn("nowhere"))
    await subscribe(sim, await sim.access_token(), "ORDER_CHANGE", dest)
    spid = (await sim.seller())["selling_partner_id"]
    status, body = await sim.post("/_sim/mutate", {"seller_id": spid, "count": 3})
    assert status == 200 and len(body["changed"]) == 3
    status, _, _ = await sim.get("/orders/2026-01-01/orders", await sim.access_token(),
                                 {"lastUpdatedAfter": sim.recent(86_400 * 60)})
    assert status == 200
    counts = await settled(sim, 3, within=30)
    assert (counts["sent"], counts["failed"]) == (0, 3)
    assert counts["last_error"]


async def test_without_an_endpoint_messages_count_as_failed(make_sim: MakeSim) -> None:
    sim = await make_sim(orders_per_seller=5)
    dest = await destination(sim, await app_token(sim), arn("nowhere"))
    await subscribe(sim, await sim.access_token(), "ORDER_CHANGE", dest)
    spid = (await sim.seller())["selling_partner_id"]
    assert (await sim.post("/_sim/notify", {"seller_id": spid, "count": 2}))[0] == 200
    counts = await settled(sim, 2)
    assert (counts["failed"], counts["last_error"]) == (2, "no sqs_endpoint_url configured")


async def test_every_type_publishes_schema_valid_messages(make_sim: MakeSim, sqs_server: Any,
                                                          queue: Queue) -> None:
    sim = await make_sim(orders_per_seller=5, sqs_endpoint_url=sqs_server.endpoint_url,
                         report_delay_seconds=10)
    seller_token = await sim.access_token()
    dest = await destination(sim, await app_token(sim), queue.arn)
    for kind in SCHEMA_FILES:
        await subscribe(sim, seller_token, kind, dest)
    spid = (await sim.seller())["selling_partner_id"]
    market = (await sim.seller())["marketplace_ids"][0]
    assert (await sim.post("/_sim/mutate", {"seller_id": spid, "count": 2,
                                            "kind": "inventory"}))[0] == 200
    # Only a listing change that flips its status is a LISTINGS_ITEM_STATUS_CHANGE (the
    # seeded stream flips some of these six).
    assert (await sim.post("/_sim/mutate", {"seller_id": spid, "count": 6,
                                            "kind": "listings"}))[0] == 200
    # orders move on: those that ship post their sale (TRANSACTION_UPDATE)
    _, moved = await sim.post("/_sim/mutate", {"seller_id": spid, "count": 20})
    truth = {o["AmazonOrderId"]: o for o in await sim.truth(spid)}
    shipped = {o for o in moved["changed"] if truth[o]["OrderStatus"] == "Shipped"}
    assert shipped
    report_id = await create_ok(sim, seller_token, {"reportType": ORDERS_REPORT,
                                                    "marketplaceIds": [market]})
    await sim.idle()  # the finished-report watch has looked at the report since
    assert (await stats(sim))["by_type"].get("REPORT_PROCESSING_FINISHED") is None
    sim.clock.advance(11)
    status, report, _ = await sim.get(f"{REPORTS}/{report_id}", seller_token)
    assert status == 200
    await until(lambda: stats(sim), lambda now: "REPORT_PROCESSING_FINISHED" in now["by_type"])
    counts = await settled(sim, 3)
    assert counts["failed"] == 0
    messages = await queue.drain()
    kinds = [parse(m).notification_type for m in messages]
    assert kinds.count("FBA_INVENTORY_AVAILABILITY_CHANGES") == 2
    assert kinds.count("REPORT_PROCESSING_FINISHED") == 1
    assert kinds.count("LISTINGS_ITEM_STATUS_CHANGE") >= 1
    sales = [parse(m).payload["TransactionUpdateNotification"] for m in messages
             if parse(m).notification_type == "TRANSACTION_UPDATE"]
    assert {s["RelatedIdentifiers"][0]["RelatedIdentifierValue"] for s in sales} == shipped
    for message, kind in zip(messages, kinds, strict=True):
        validate_official(message, kind)
    finished = next(parse(m) for m in messages
                    if parse(m).notification_type == "REPORT_PROCESSING_FINISHED")
    inner = finished.payload["reportProcessingFinishedNotification"]
    assert (inner["reportId"], inner["processingStatus"]) == (report_id,
                                                             report["processingStatus"])
    assert inner.get("reportDocumentId") == report.get("reportDocumentId")
    assert finished.selling_partner_id == spid
    assert len({parse(m).notification_id for m in messages}) == len(messages)


async def test_notify_on_demand_and_paced(make_sim: MakeSim, sqs_server: Any,
                                          queue: Queue) -> None:
    sim = await make_sim(orders_per_seller=5, sqs_endpoint_url=sqs_server.endpoint_url)
    dest = await destination(sim, await app_token(sim), queue.arn)
    await subscribe(sim, await sim.access_token(), "ORDER_CHANGE", dest)
    spid = (await sim.seller())["selling_partner_id"]
    order_id = (await sim.truth(spid))[0]["AmazonOrderId"]
    status, body = await sim.post("/_sim/notify", {"seller_id": spid, "order_id": order_id})
    assert (status, body) == (200, {"published": 1})
    started = time.monotonic()
    status, body = await sim.post("/_sim/notify", {"seller_id": spid, "count": 12,
                                                   "rate": 40})
    assert (status, body) == (200, {"scheduled": 12, "rate": 40.0})
    counts = await settled(sim, 13)
    assert counts["sent"] == 13 and time.monotonic() - started >= 11 / 40
    messages = await queue.drain()
    assert messages[0]["Payload"]["OrderChangeNotification"]["AmazonOrderId"] == order_id
    assert len({parse(m).notification_id for m in messages}) == 13
    for bad in ({"seller_id": spid, "order_id": "nope"}, {"seller_id": spid, "type": "X"},
                {"seller_id": spid, "count": 0}, {"seller_id": spid, "rate": 0},
                {"seller_id": "nobody"}):
        assert (await sim.post("/_sim/notify", bad))[0] == 400, bad


async def test_order_change_event_filter(make_sim: MakeSim) -> None:
    """Only what the subscription's eventFilter lets through is published (the simulator's
    order changes are all OrderStatusChange)."""
    sim = await make_sim(orders_per_seller=5, sellers=2)
    dest = await destination(sim, await app_token(sim), arn("filtered"))
    for index, event_filter in enumerate((
        {"eventFilterType": "ORDER_CHANGE", "orderChangeTypes": ["BuyerRequestedChange"]},
        {"eventFilterType": "ORDER_CHANGE", "orderChangeTypes": ["OrderStatusChange"],
         "marketplaceIds": (await sim.seller(1))["marketplace_ids"]},
    )):
        status, body = await call(sim, "POST", f"{SUBSCRIPTIONS}/ORDER_CHANGE",
                                  await sim.access_token(index),
                                  {"payloadVersion": "1.0", "destinationId": dest,
                                   "processingDirective": {"eventFilter": event_filter}})
        assert status == 200 and schema_errors(MODEL, "CreateSubscriptionResponse", body) == []
        assert body["payload"]["processingDirective"]["eventFilter"] == event_filter
    for index in (0, 1):
        spid = (await sim.seller(index))["selling_partner_id"]
        assert (await sim.post("/_sim/mutate", {"seller_id": spid, "count": 3}))[0] == 200
    counts = await settled(sim, 3)  # no endpoint: what was published counts as failed
    await sim.idle()  # nothing pending, and the background loops have run since
    assert (await stats(sim))["failed"] == counts["failed"] == 3  # seller 1's only
