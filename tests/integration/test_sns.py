"""POST /notifications/sns against real Postgres and Redis: a small aiohttp server plays AWS
(serves the signing certificate over http, its intermediate at its AIA URL, answers the
SubscribeURL), the test CA (tests/snskit.py) is the only trusted root, and messages are signed
here as SNS signs them. Subscription, inbox once per message, replays, forgeries, untrusted
certificates, parking, the certificate cache, and retry-safety when something on our side
fails."""

from __future__ import annotations

import io
import json
import uuid
from typing import Any

import pytest
import redis as sync_redis
from aiohttp import web
from aiohttp.test_utils import TestClient
from cryptography.hazmat.primitives import serialization
from prometheus_client import REGISTRY
from pydantic import SecretStr
from sqlalchemy import text

from tests.snskit import (
    ISSUER,
    ROOT,
    TOPIC,
    Signer,
    confirmation,
    make_signer,
    notification,
    self_signed,
    sign,
)
from worker.config import Settings
from worker.crypto import new_key_spec
from worker.logging import configure_logging
from worker.runtime import Runtime
from worker.web.app import Web, WebConfig, create_app
from worker.web.sns import MAX_BODY, SEEN_KEY, SEEN_SECONDS
from worker.web.sns_certs import CERTS

pytestmark = pytest.mark.integration

CERT_PATH = "/SimpleNotificationService-test.pem"
ISSUER_PATH = "/issuer.cer"
SELLER = "A2SNSTESTSELLER"


def order_change(notification_id: str) -> dict[str, Any]:
    """A schema-valid ORDER_CHANGE (OrderChangeNotification.json's required fields)."""
    return {
        "NotificationVersion": "1.0", "NotificationType": "ORDER_CHANGE", "PayloadVersion": "1.0",
        "EventTime": "2026-03-01T10:00:00.000Z",
        "Payload": {"OrderChangeNotification": {
            "NotificationLevel": "OrderLevel", "SellerId": SELLER,
            "AmazonOrderId": "111-0000000-0000001", "OrderChangeType": "OrderStatusChange",
            "OrderChangeTrigger": {"TimeOfOrderChange": "2026-03-01T10:00:00.000Z",
                                   "ChangeReason": "Order status changed"},
            "Summary": {
                "MarketplaceId": "ATVPDKIKX0DER", "OrderStatus": "Unshipped",
                "PurchaseDate": "2026-03-01T09:58:00.000Z", "DestinationPostalCode": "98101",
                "FulfillmentType": "MFN", "OrderType": "StandardOrder",
                "OrderItems": [{"OrderItemId": "OI-1", "SellerSKU": "SKU-1",
                                "SupplySourceId": "supply-1", "Quantity": 1}],
            },
        }},
        "NotificationMetadata": {
            "ApplicationId": "amzn1.sellerapps.app.test", "SubscriptionId": "sub-1",
            "PublishTime": "2026-03-01T10:00:01.000Z", "NotificationId": notification_id,
        },
    }


def eventbridge(detail: dict[str, Any]) -> dict[str, Any]:
    """The event EventBridge publishes to SNS for an SP-API notification."""
    return {"version": "0", "id": str(uuid.uuid4()), "detail-type": detail["NotificationType"],
            "source": "aws.partner/sellingpartnerapi.amazon/amzn1.sellerapps.app.test",
            "account": "123456789012", "time": "2026-03-01T10:00:01Z", "region": "us-east-1",
            "resources": [], "detail": detail}


class Aws:
    """The AWS side: the signing certificate (with its chain unless told otherwise) and its
    issuer over http, and SubscribeURL visits."""

    def __init__(self, signer: Signer) -> None:
        self.signer = signer
        self.pem = signer.pem_with_chain
        self.cert_fetches = 0
        self.issuer_fetches = 0
        self.confirmations: list[dict[str, str]] = []
        self.confirm_status = 200
        self.base = ""

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get(CERT_PATH, self._cert)
        app.router.add_get(ISSUER_PATH, self._issuer)
        app.router.add_get("/", self._confirm)
        return app

    def serve(self, signer: Signer, pem: bytes | None = None) -> None:
        self.signer, self.pem = signer, signer.pem_with_chain if pem is None else pem

    async def _cert(self, request: web.Request) -> web.Response:
        self.cert_fetches += 1
        return web.Response(body=self.pem, content_type="application/x-x509-ca-cert")

    async def _issuer(self, request: web.Request) -> web.Response:
        self.issuer_fetches += 1  # DER, as Amazon's crt.*.amazontrust.com serve it
        return web.Response(body=ISSUER.cert.public_bytes(serialization.Encoding.DER),
                            content_type="application/pkix-cert")

    async def _confirm(self, request: web.Request) -> web.Response:
        if self.confirm_status != 200:
            return web.Response(status=self.confirm_status)
        self.confirmations.append(dict(request.query))
        return web.Response(text="<ConfirmSubscriptionResponse/>", content_type="text/xml")

    @property
    def cert_url(self) -> str:
        return self.base + CERT_PATH

    @property
    def issuer_url(self) -> str:
        return self.base + ISSUER_PATH

    @property
    def subscribe_url(self) -> str:
        return (f"{self.base}/?Action=ConfirmSubscription&TopicArn={TOPIC}"
                "&Token=2336412f37fb687f5d51e6e2425c464de12884c")


class Endpoint:
    def __init__(self, client: TestClient[Any, Any], rt: Runtime, aws: Aws) -> None:
        self.client = client
        self.rt = rt
        self.aws = aws

    async def post(self, body: dict[str, Any] | bytes) -> tuple[int, str]:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        kind = "" if isinstance(body, bytes) else str(body.get("Type"))
        resp = await self.client.post("/notifications/sns", data=data, headers={
            "Content-Type": "text/plain; charset=UTF-8", "x-amz-sns-message-type": kind})
        return resp.status, await resp.text()

    def signed(self, message: str, *, version: str = "2", **kw: Any) -> dict[str, Any]:
        return sign(notification(message, cert_url=self.aws.cert_url, **kw),
                    self.aws.signer.key, version)

    def inbox(self) -> list[Any]:
        with self.rt.engine.begin() as conn:
            return list(conn.execute(text(
                "SELECT notification_id, notification_type, source, status, "
                "selling_partner_id, error, payload FROM notifications_inbox ORDER BY id")))


@pytest.fixture(scope="module")
def signer() -> Signer:
    return make_signer(name="127.0.0.1")  # what SNS's certificate names, for the test host


@pytest.fixture(scope="module")
def trusted_roots(tmp_path_factory: pytest.TempPathFactory) -> str:
    return ROOT.write(tmp_path_factory.mktemp("ca") / "roots.pem")


@pytest.fixture
def logs() -> io.StringIO:
    stream = io.StringIO()
    configure_logging(Settings(log_format="json"), stream=stream)
    return stream


def _settings(clean: Any, roots: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": clean.database_url, "redis_url": clean.redis_url,
        "lwa_client_id": "amzn1.application-oa2-client.test",
        "lwa_client_secret": SecretStr("s"), "token_keys": new_key_spec("test"),
        "sns_cert_host_pattern": r"^127\.0\.0\.1$", "sns_allow_http_cert": True,
        "sns_ca_bundle": roots, "sns_issuer_host_pattern": r"^127\.0\.0\.1$",
        "sns_topic_arns": (TOPIC,), "log_format": "json",
    }
    return Settings(**{**values, **overrides})


@pytest.fixture
async def make_endpoint(clean, signer, trusted_roots, aiohttp_server, aiohttp_client) -> Any:
    CERTS.clear()  # process-wide; a port reused from another test must not hit it
    with Runtime(_settings(clean, trusted_roots)).engine.begin() as conn:
        conn.execute(text("TRUNCATE notifications_inbox RESTART IDENTITY"))
    aws = Aws(signer)
    server = await aiohttp_server(aws.app())
    aws.base = str(server.make_url("")).rstrip("/")

    async def make(**overrides: Any) -> Endpoint:
        rt = Runtime(_settings(clean, trusted_roots, **overrides))
        config = WebConfig(public_url="http://127.0.0.1", application_id="amzn1.sp.solution.t",
                           lwa=rt.lwa_app())
        client = await aiohttp_client(create_app(Web(rt, config)))
        return Endpoint(client, rt, aws)

    return make


@pytest.fixture
async def endpoint(make_endpoint) -> Endpoint:
    return await make_endpoint()


def _events(logs: io.StringIO, name: str) -> list[dict[str, Any]]:
    lines = [json.loads(x) for x in logs.getvalue().splitlines() if x.startswith("{")]
    return [e for e in lines if e["event"] == name]


def _counted(kind: str, outcome: str) -> float:
    value = REGISTRY.get_sample_value("spsync_sns_messages_total",
                                      {"type": kind, "outcome": outcome})
    return value or 0.0


async def test_a_subscription_confirmation_visits_the_subscribe_url(endpoint, logs):
    aws = endpoint.aws
    body = sign(confirmation(cert_url=aws.cert_url, subscribe_url=aws.subscribe_url),
                aws.signer.key)

    assert await endpoint.post(body) == (200, "confirmed")

    assert len(aws.confirmations) == 1
    assert aws.confirmations[0]["Token"] == body["Token"]
    assert aws.confirmations[0]["TopicArn"] == TOPIC
    confirmed = _events(logs, "sns.subscription_confirmed")
    assert confirmed and confirmed[0]["topic_arn"] == TOPIC
    assert await endpoint.post(body) == (200, "already handled")  # a replay: no second visit
    assert len(aws.confirmations) == 1 and endpoint.inbox() == []


async def test_a_failed_confirmation_answers_502_and_the_retry_is_handled(endpoint):
    aws = endpoint.aws
    body = sign(confirmation(cert_url=aws.cert_url, subscribe_url=aws.subscribe_url),
                aws.signer.key)
    aws.confirm_status = 503
    assert (await endpoint.post(body))[0] == 502  # SNS retries a 5xx
    aws.confirm_status = 200
    assert await endpoint.post(body) == (200, "confirmed")
    assert len(aws.confirmations) == 1


async def test_an_unsubscribe_confirmation_is_acknowledged(endpoint, logs):
    aws = endpoint.aws
    body = sign(confirmation("UnsubscribeConfirmation", cert_url=aws.cert_url,
                             subscribe_url=aws.subscribe_url), aws.signer.key, "1")
    assert await endpoint.post(body) == (200, "unsubscribed")
    assert aws.confirmations == [] and endpoint.inbox() == []
    assert _events(logs, "sns.unsubscribe_confirmation")[0]["topic_arn"] == TOPIC


@pytest.mark.parametrize("wrapped", [True, False], ids=["eventbridge", "bare"])
@pytest.mark.parametrize("version", ["1", "2"])
async def test_a_notification_reaches_the_inbox_once(endpoint, wrapped, version):
    spapi = order_change(str(uuid.uuid4()))
    message = json.dumps(eventbridge(spapi) if wrapped else spapi)
    body = endpoint.signed(message, version=version)
    before = _counted("Notification", "recorded")

    assert await endpoint.post(body) == (200, "recorded")

    rows = endpoint.inbox()
    assert len(rows) == 1
    row = rows[0]
    assert (row.notification_id, row.notification_type, row.source, row.status,
            row.selling_partner_id) == (spapi["NotificationMetadata"]["NotificationId"],
                                        "ORDER_CHANGE", "sns", "pending", SELLER)
    assert row.payload == spapi  # the SP-API notification itself, not the EventBridge event
    assert _counted("Notification", "recorded") == before + 1

    replayed = _counted("Notification", "replayed")
    assert await endpoint.post(body) == (200, "already handled")
    assert len(endpoint.inbox()) == 1 and _counted("Notification", "replayed") == replayed + 1
    r = sync_redis.Redis.from_url(endpoint.rt.services.redis_url)
    assert SEEN_SECONDS - 10 < r.ttl(SEEN_KEY + body["MessageId"]) <= SEEN_SECONDS


async def test_the_same_notification_in_another_sns_message_is_a_duplicate(endpoint):
    spapi = order_change(str(uuid.uuid4()))
    first = endpoint.signed(json.dumps(spapi))
    second = endpoint.signed(json.dumps(eventbridge(spapi)))  # another MessageId
    assert await endpoint.post(first) == (200, "recorded")
    assert await endpoint.post(second) == (200, "duplicate")
    assert len(endpoint.inbox()) == 1


async def test_the_certificate_is_fetched_once(endpoint):
    for _ in range(3):
        body = endpoint.signed(json.dumps(order_change(str(uuid.uuid4()))))
        assert (await endpoint.post(body))[0] == 200
    assert len(endpoint.inbox()) == 3
    assert endpoint.aws.cert_fetches == 1


async def test_a_forged_notification_is_refused_and_stores_nothing(endpoint, logs):
    message = json.dumps(order_change(str(uuid.uuid4())))
    body = endpoint.signed(message)
    forged = {**body, "Message": message.replace("Unshipped", "Shipped")}
    other_key = {**sign(notification(message, cert_url=endpoint.aws.cert_url),
                        make_signer().key)}
    before = _counted("Notification", "rejected")

    for attempt in (forged, other_key):
        status, reason = await endpoint.post(attempt)
        assert status == 403 and "signature" in reason

    assert endpoint.inbox() == []
    assert _counted("Notification", "rejected") == before + 2
    rejected = _events(logs, "sns.rejected")
    assert len(rejected) == 2
    assert rejected[0]["topic_arn"] == TOPIC and rejected[0]["message_id"] == body["MessageId"]
    assert rejected[0]["reason"] == "signature does not verify"
    assert "111-0000000-0000001" not in logs.getvalue()  # never the message body
    r = sync_redis.Redis.from_url(endpoint.rt.services.redis_url)
    assert r.exists(SEEN_KEY + body["MessageId"]) == 0  # a forgery does not burn the id
    assert await endpoint.post(body) == (200, "recorded")


async def test_an_untrusted_certificate_url_is_refused_without_a_fetch(endpoint):
    message = json.dumps(order_change(str(uuid.uuid4())))
    for url in ("https://sns.us-east-1.amazonaws.com/SimpleNotificationService-x.pem",
                endpoint.aws.cert_url.replace("127.0.0.1", "localhost"),
                endpoint.aws.cert_url.replace(".pem", ".txt")):
        body = sign(notification(message, cert_url=url), endpoint.aws.signer.key)
        assert (await endpoint.post(body))[0] == 403
    assert endpoint.aws.cert_fetches == 0 and endpoint.inbox() == []


async def test_http_certificates_need_the_test_setting(make_endpoint):
    endpoint = await make_endpoint(sns_allow_http_cert=False)
    body = endpoint.signed(json.dumps(order_change(str(uuid.uuid4()))))
    assert await endpoint.post(body) == (403, "SigningCertURL is not https")
    assert endpoint.aws.cert_fetches == 0


@pytest.mark.parametrize("topics", [(), ("arn:aws:sns:us-east-1:999999999999:someone-else",)])
async def test_only_listed_topics_may_subscribe_or_deliver(make_endpoint, topics):
    endpoint = await make_endpoint(sns_topic_arns=topics)
    aws = endpoint.aws
    confirm = sign(confirmation(cert_url=aws.cert_url, subscribe_url=aws.subscribe_url),
                   aws.signer.key)  # genuinely signed, but not our topic
    status, reason = await endpoint.post(confirm)
    assert status == 403 and "SPSYNC_SNS_TOPIC_ARNS" in reason
    assert aws.confirmations == []
    note = endpoint.signed(json.dumps(order_change(str(uuid.uuid4()))))
    assert (await endpoint.post(note))[0] == 403 and endpoint.inbox() == []
    assert aws.cert_fetches == 0  # refused before any outbound request


async def test_a_stale_message_is_refused(endpoint):
    from datetime import UTC, datetime, timedelta

    body = endpoint.signed(json.dumps(order_change(str(uuid.uuid4()))),
                           at=datetime.now(UTC) - timedelta(hours=2))
    assert await endpoint.post(body) == (403, "Timestamp is more than one hour old")
    assert endpoint.inbox() == []


async def test_a_schema_invalid_notification_is_parked_and_acknowledged(endpoint):
    spapi = order_change(str(uuid.uuid4()))
    del spapi["Payload"]["OrderChangeNotification"]["AmazonOrderId"]
    for message in (json.dumps(eventbridge(spapi)), "not json at all"):
        body = endpoint.signed(message)
        assert await endpoint.post(body) == (200, "parked")  # SNS must not retry it
    rows = endpoint.inbox()
    assert [(r.notification_type, r.status, r.source) for r in rows] == [
        ("INVALID", "parked", "sns")] * 2
    assert rows[0].notification_id.startswith("invalid:sns:")
    assert "AmazonOrderId" in rows[0].error and rows[1].error.startswith("JSONDecodeError")


@pytest.mark.parametrize(("body", "status"), [
    (b"{not json", 400),
    (b'{"Type": "Notification"}', 400),
    (json.dumps({"Type": "SubscriptionDeleted", "MessageId": "m"}).encode(), 400),
    (b" " * (MAX_BODY + 1), 413),
])
async def test_malformed_bodies_are_refused(endpoint, body, status):
    assert (await endpoint.post(body))[0] == status
    assert endpoint.inbox() == [] and endpoint.aws.cert_fetches == 0


async def test_a_database_failure_answers_500_and_the_retry_is_handled(make_endpoint, clean):
    broken = await make_endpoint(database_url="postgresql://postgres@127.0.0.1:1/nowhere")
    body = broken.signed(json.dumps(order_change(str(uuid.uuid4()))))
    before = _counted("Notification", "failed")
    assert (await broken.post(body))[0] == 500  # SNS retries a 5xx...
    assert _counted("Notification", "failed") == before + 1
    r = sync_redis.Redis.from_url(clean.redis_url)
    assert r.exists(SEEN_KEY + body["MessageId"]) == 0  # ...and the retry is not a "replay"
    working = await make_endpoint()
    assert await working.post(body) == (200, "recorded")
    assert len(working.inbox()) == 1


# -- the certificate itself must be trusted: a chain to the trust store, SNS's name

async def test_a_certificate_no_trusted_ca_vouches_for_is_refused(endpoint, logs):
    forger = self_signed("127.0.0.1")  # right name, right URL, nobody's signature on it
    endpoint.aws.serve(forger)
    body = sign(notification(json.dumps(order_change(str(uuid.uuid4()))),
                             cert_url=endpoint.aws.cert_url), forger.key)
    for _ in range(2):
        status, reason = await endpoint.post(body)
        assert status == 403
        assert reason == "signing certificate is not trusted for 127.0.0.1: no chain to a " \
                         "trusted CA"
    assert endpoint.aws.cert_fetches == 2  # a refused certificate is not cached
    assert endpoint.inbox() == []
    assert _events(logs, "sns.rejected")[0]["reason"] == reason


async def test_a_trusted_certificate_for_another_name_is_refused(endpoint):
    other = make_signer(name="sns.evil.example")  # our CA's, but not for this host
    endpoint.aws.serve(other)
    body = sign(notification(json.dumps(order_change(str(uuid.uuid4()))),
                             cert_url=endpoint.aws.cert_url), other.key)
    status, reason = await endpoint.post(body)
    assert status == 403 and "not trusted for 127.0.0.1" in reason
    assert endpoint.inbox() == []


async def test_the_intermediate_comes_from_the_certificates_aia_url_once(endpoint):
    aws = endpoint.aws
    leaf = make_signer(name="127.0.0.1", aia_url=aws.issuer_url)
    aws.serve(leaf, leaf.pem)  # the leaf alone, as SNS serves it
    for _ in range(3):
        body = sign(notification(json.dumps(order_change(str(uuid.uuid4()))),
                                 cert_url=aws.cert_url), leaf.key)
        assert await endpoint.post(body) == (200, "recorded")
    assert (aws.cert_fetches, aws.issuer_fetches) == (1, 1)  # verified once, then cached


async def test_an_aia_url_on_another_host_is_not_followed(endpoint):
    aws = endpoint.aws
    leaf = make_signer(name="127.0.0.1", aia_url=aws.issuer_url.replace("127.0.0.1",
                                                                        "localhost"))
    aws.serve(leaf, leaf.pem)
    body = sign(notification(json.dumps(order_change(str(uuid.uuid4()))),
                             cert_url=aws.cert_url), leaf.key)
    status, reason = await endpoint.post(body)
    assert status == 403 and reason.endswith("no chain to a trusted CA")
    assert aws.issuer_fetches == 0 and endpoint.inbox() == []
