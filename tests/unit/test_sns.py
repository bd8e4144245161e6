"""SNS message verification (worker/web/sns.py) with no services: a certificate from the test
CA (tests/snskit.py) signs messages the way SNS does (v1 SHA1withRSA, v2 SHA256withRSA), then
every forgery the endpoint must refuse. Strings-to-sign are written out by hand from AWS's
rule. The certificate's own trust (chain, name) is tests/unit/test_sns_certs.py's."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from yarl import URL

from tests.snskit import (
    CERT_URL,
    TOPIC,
    Signer,
    canonical,
    confirmation,
    make_signer,
    notification,
    sign,
    timestamp,
)
from worker.config import Settings
from worker.web.sns import (
    Policy,
    Rejected,
    SnsMessage,
    load,
    message_of,
    notification_of,
    policy_of,
    string_to_sign,
    verify,
)
from worker.web.sns_certs import CertCache

# --- fixtures and the check under test ---

@pytest.fixture(scope="module")
def signer() -> Signer:
    return make_signer()


class Certs:
    """A certificate source that records the URLs it is asked for."""

    def __init__(self, cert: x509.Certificate) -> None:
        self.cert = cert
        self.asked: list[str] = []

    async def __call__(self, url: URL) -> x509.Certificate:
        self.asked.append(str(url))
        return self.cert


AWS = policy_of(Settings())


async def check(fields: dict[str, Any], cert: x509.Certificate, *, policy: Policy = AWS,
                now: datetime | None = None) -> Certs:
    """The endpoint's path from body bytes to verified, raising :class:`Rejected`."""
    certs = Certs(cert)
    msg = message_of(load(json.dumps(fields).encode()))
    await verify(msg, policy, certs, now or datetime.now(UTC))
    return certs


async def refused(fields: dict[str, Any], cert: x509.Certificate, status: int,
                  **kw: Any) -> Rejected:
    with pytest.raises(Rejected) as exc:
        await check(fields, cert, **kw)
    assert exc.value.status == status, exc.value.reason
    return exc.value


# --- the string to sign ---

def test_notification_string_to_sign_follows_the_documented_order():
    fields = {"Type": "Notification", "MessageId": "m-1", "TopicArn": "arn:t", "Subject": "s",
              "Message": "hello\nworld", "Timestamp": "2026-01-01T00:00:00.000Z",
              "SignatureVersion": "2", "Signature": "x", "SigningCertURL": CERT_URL,
              "UnsubscribeURL": "u", "MessageAttributes": {"a": {"Type": "String"}}}
    assert string_to_sign(fields) == (
        b"Message\nhello\nworld\nMessageId\nm-1\nSubject\ns\n"
        b"Timestamp\n2026-01-01T00:00:00.000Z\nTopicArn\narn:t\nType\nNotification\n")
    without_subject = {k: v for k, v in fields.items() if k != "Subject"}
    assert string_to_sign(without_subject) == (
        b"Message\nhello\nworld\nMessageId\nm-1\n"
        b"Timestamp\n2026-01-01T00:00:00.000Z\nTopicArn\narn:t\nType\nNotification\n")
    assert string_to_sign({**fields, "Subject": None}) == string_to_sign(without_subject)


@pytest.mark.parametrize("kind", ["SubscriptionConfirmation", "UnsubscribeConfirmation"])
def test_confirmation_string_to_sign_follows_the_documented_order(kind):
    fields = {"Type": kind, "MessageId": "m-2", "Token": "tok", "TopicArn": "arn:t",
              "Message": "confirm", "SubscribeURL": "https://s/?a=b",
              "Timestamp": "2026-01-01T00:00:00.000Z", "Subject": "ignored"}
    assert string_to_sign(fields) == (
        b"Message\nconfirm\nMessageId\nm-2\nSubscribeURL\nhttps://s/?a=b\n"
        b"Timestamp\n2026-01-01T00:00:00.000Z\nToken\ntok\nTopicArn\narn:t\n"
        b"Type\n" + kind.encode() + b"\n")


def test_string_to_sign_is_utf8():
    fields = notification("caf\u00e9 \u2713", subject="\u00fc")
    assert string_to_sign(fields) == canonical(fields)
    assert "caf\u00e9".encode() in string_to_sign(fields)


# --- genuine messages pass ---

@pytest.mark.parametrize("version", ["1", "2"])
@pytest.mark.parametrize("subject", [None, "ORDER_CHANGE"])
async def test_a_signed_notification_verifies(signer, version, subject):
    fields = sign(notification('{"a": 1}', subject=subject), signer.key, version)
    certs = await check(fields, signer.cert)
    assert certs.asked == [CERT_URL]


@pytest.mark.parametrize("version", ["1", "2"])
@pytest.mark.parametrize("kind", ["SubscriptionConfirmation", "UnsubscribeConfirmation"])
async def test_signed_confirmations_verify(signer, version, kind):
    await check(sign(confirmation(kind), signer.key, version), signer.cert)


@pytest.mark.parametrize("host", ["sns.eu-west-1.amazonaws.com", "sns.cn-north-1.amazonaws.com.cn",
                                  "sns.us-gov-west-1.amazonaws.com"])
async def test_every_sns_region_host_is_trusted(signer, host):
    url = f"https://{host}/SimpleNotificationService-abc.pem"
    certs = await check(sign(notification("m", cert_url=url), signer.key), signer.cert)
    assert certs.asked == [url]


# --- forgeries ---

async def test_a_signature_by_another_key_is_refused(signer):
    other = make_signer()
    fields = sign(notification("m"), other.key)
    assert "does not verify" in (await refused(fields, signer.cert, 403)).reason


@pytest.mark.parametrize(("field", "value"), [
    ("Message", '{"a": 2}'), ("MessageId", "another-id"), ("TopicArn", TOPIC + "-evil"),
    ("Subject", "added after signing"), ("Timestamp", None),
])
async def test_a_notification_altered_after_signing_is_refused(signer, field, value):
    fields = sign(notification('{"a": 1}'), signer.key)
    fields[field] = value if value is not None else timestamp(
        datetime.now(UTC) - timedelta(minutes=1))
    await refused(fields, signer.cert, 403)


@pytest.mark.parametrize("field", ["SubscribeURL", "Token", "Message"])
async def test_a_confirmation_altered_after_signing_is_refused(signer, field):
    fields = sign(confirmation(), signer.key)
    fields[field] = fields[field].replace("3", "4").replace("You", "We")
    await refused(fields, signer.cert, 403)


async def test_a_signature_checked_with_the_other_version_is_refused(signer):
    fields = sign(notification("m"), signer.key, "1")
    await refused({**fields, "SignatureVersion": "2"}, signer.cert, 403)
    fields = sign(notification("m"), signer.key, "2")
    await refused({**fields, "SignatureVersion": "1"}, signer.cert, 403)


@pytest.mark.parametrize("signature", ["", "not base64 !", base64.b64encode(b"x" * 256).decode()])
async def test_a_garbage_signature_is_refused(signer, signature):
    fields = {**sign(notification("m"), signer.key), "Signature": signature}
    await refused(fields, signer.cert, 403)


@pytest.mark.parametrize("version", ["3", "0", "", "2 "])
async def test_an_unknown_signature_version_is_refused_before_any_fetch(signer, version):
    fields = {**sign(notification("m"), signer.key), "SignatureVersion": version}
    certs = Certs(signer.cert)
    with pytest.raises(Rejected) as exc:
        await verify(message_of(fields), AWS, certs, datetime.now(UTC))
    assert exc.value.status == 403 and "SignatureVersion" in exc.value.reason
    assert certs.asked == []


@pytest.mark.parametrize("url", [
    "http://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem",
    "ftp://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem",
    "https://sns.us-east-1.amazonaws.com.evil.com/SimpleNotificationService-abc.pem",
    "https://evil-sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem",
    "https://sns.us-east-1.amazonaws.com.cn.evil.com/x.pem",
    "https://evilsns.us-east-1.amazonaws.com/x.pem",
    "https://sns.us-east-1.evilamazonaws.com/x.pem",
    "https://sns.amazonaws.com/x.pem",  # no region
    "https://sns.us-east-1.amazonaws.com./x.pem",  # trailing dot: another name to a resolver
    "https://sns.us_east_1.amazonaws.com/x.pem",
    "https://s3.amazonaws.com/sns.us-east-1.amazonaws.com/x.pem",
    "https://evil.com/sns.us-east-1.amazonaws.com/x.pem",
    "https://evil.com/?u=https://sns.us-east-1.amazonaws.com/x.pem",
    "https://sns.us-east-1.amazonaws.com@evil.com/x.pem",  # userinfo: the host is evil.com
    "https://evil.com@sns.us-east-1.amazonaws.com/x.pem",  # userinfo on the right host
    "https://user:pw@sns.us-east-1.amazonaws.com/x.pem",
    "https://@sns.us-east-1.amazonaws.com/x.pem",
    "https://sns.us-east-1.amazonaws.com\\@evil.com/x.pem",
    "https://sns.us-east-1.amazonaws.com%2eevil.com/x.pem",
    "https://sns.us-east-1.amazonaws.com%40evil.com/x.pem",
    "https://sn\u0455.us-east-1.amazonaws.com/x.pem",  # Cyrillic dze: an IDN look-alike
    "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.txt",
    "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem.exe",
    "https://sns.us-east-1.amazonaws.com/x.pem?redirect=https://evil.com/x.pem",
    "https://sns.us-east-1.amazonaws.com/",
    "//sns.us-east-1.amazonaws.com/x.pem",
    "/SimpleNotificationService-abc.pem",
    "",
])
async def test_an_untrusted_signing_cert_url_is_refused_before_any_fetch(signer, url):
    fields = sign(notification("m", cert_url=url), signer.key)
    certs = Certs(signer.cert)
    with pytest.raises(Rejected) as exc:
        await verify(message_of(fields), AWS, certs, datetime.now(UTC))
    assert exc.value.status == 403 and "SigningCertURL" in exc.value.reason
    assert certs.asked == []


@pytest.mark.parametrize("url", [
    "http://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription",
    "https://sns.us-east-1.amazonaws.com.evil.com/?Action=ConfirmSubscription",
    "https://sns.us-east-1.amazonaws.com@evil.com/?Action=ConfirmSubscription",
    "https://evil.com/?Action=ConfirmSubscription&h=sns.us-east-1.amazonaws.com",
])
async def test_a_subscription_with_an_untrusted_subscribe_url_is_refused(signer, url):
    fields = sign(confirmation(subscribe_url=url), signer.key)
    assert "SubscribeURL" in (await refused(fields, signer.cert, 403)).reason


@pytest.mark.parametrize(("age", "ok"), [
    (timedelta(minutes=59), True), (timedelta(minutes=61), False),
    (timedelta(days=3), False), (-timedelta(minutes=4), True), (-timedelta(minutes=6), False),
])
async def test_stale_and_future_timestamps_are_refused(signer, age, ok):
    now = datetime.now(UTC)
    fields = sign(notification("m", at=now - age), signer.key)
    if ok:
        await check(fields, signer.cert, now=now)
    else:
        assert "Timestamp" in (await refused(fields, signer.cert, 403, now=now)).reason


async def test_a_certificate_that_is_not_valid_now_is_refused():
    now = datetime.now(UTC)
    expired = make_signer(now - timedelta(days=60), now - timedelta(days=1))
    await refused(sign(notification("m"), expired.key), expired.cert, 403)


async def test_a_certificate_without_an_rsa_key_is_refused(signer):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1)
            .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=1))
            .sign(key, hashes.SHA256()))
    assert "RSA" in (await refused(sign(notification("m"), signer.key), cert, 403)).reason


# --- malformed bodies: 400 ---

@pytest.mark.parametrize("body", [b"", b"not json", b"[1, 2]", b'"Notification"', b"\xff\xfe",
                                  b"[" * 100_000])
def test_a_body_that_is_not_a_json_object_is_malformed(body):
    with pytest.raises(Rejected) as exc:
        load(body)
    assert exc.value.status == 400


@pytest.mark.parametrize("kind", ["Notifications", "notification", "SubscribeConfirmation", "",
                                  None, 1, ["Notification"], {"a": 1}])
def test_an_unknown_type_is_malformed(signer, kind):
    fields = {**sign(notification("m"), signer.key), "Type": kind}
    with pytest.raises(Rejected) as exc:
        message_of(fields)
    assert exc.value.status == 400 and "Type" in exc.value.reason


NOTIFICATION_FIELDS = ["Message", "MessageId", "Timestamp", "TopicArn", "SignatureVersion",
                       "Signature", "SigningCertURL"]
CONFIRMATION_FIELDS = [*NOTIFICATION_FIELDS, "SubscribeURL", "Token"]


@pytest.mark.parametrize("field", NOTIFICATION_FIELDS)
@pytest.mark.parametrize("how", ["absent", "null", "number"])
def test_a_notification_missing_a_field_is_malformed(signer, field, how):
    fields = sign(notification("m"), signer.key)
    if how == "absent":
        del fields[field]
    else:
        fields[field] = None if how == "null" else 7
    with pytest.raises(Rejected) as exc:
        message_of(fields)
    assert exc.value.status == 400 and field in exc.value.reason


@pytest.mark.parametrize("field", CONFIRMATION_FIELDS)
def test_a_confirmation_missing_a_field_is_malformed(signer, field):
    fields = sign(confirmation(), signer.key)
    del fields[field]
    with pytest.raises(Rejected) as exc:
        message_of(fields)
    assert exc.value.status == 400 and field in exc.value.reason


def test_a_subject_that_is_not_a_string_is_malformed(signer):
    with pytest.raises(Rejected) as exc:
        message_of({**sign(notification("m"), signer.key), "Subject": {"x": 1}})
    assert exc.value.status == 400 and "Subject" in exc.value.reason


@pytest.mark.parametrize("value", ["yesterday", "2026-01-01T00:00:00"])
def test_a_timestamp_without_zone_or_unparseable_is_malformed(signer, value):
    with pytest.raises(Rejected) as exc:
        message_of({**sign(notification("m"), signer.key), "Timestamp": value})
    assert exc.value.status == 400


def test_message_of_keeps_the_routing_fields(signer):
    fields = sign(notification("m", at=datetime(2026, 3, 1, 10, tzinfo=UTC),
                               message_id="mid"), signer.key)
    msg = message_of(fields)
    assert msg == SnsMessage("Notification", "mid", TOPIC,
                             datetime(2026, 3, 1, 10, 0, 0, 123000, tzinfo=UTC), fields)


# --- the test knobs ---

async def test_http_and_another_host_only_with_the_test_settings(signer):
    url = "http://127.0.0.1:8123/SimpleNotificationService-test.pem"
    fields = sign(notification("m", cert_url=url), signer.key)
    await refused(fields, signer.cert, 403)
    https_local = {**fields, "SigningCertURL": url.replace("http:", "https:")}
    await refused(https_local, signer.cert, 403, policy=policy_of(
        Settings(sns_allow_http_cert=True)))
    local = policy_of(Settings(sns_cert_host_pattern=r"^127\.0\.0\.1$", sns_allow_http_cert=True))
    await check(fields, signer.cert, policy=local)
    await refused(sign(notification("m", cert_url=url.replace("127.0.0.1", "127.0.0.10")),
                       signer.key), signer.cert, 403, policy=local)


def test_the_default_pattern_is_anchored():
    pattern = re.compile(Settings().sns_cert_host_pattern)
    assert pattern.fullmatch("sns.ap-southeast-2.amazonaws.com")
    assert not pattern.fullmatch("sns.ap-southeast-2.amazonaws.com.evil.com")
    assert not pattern.fullmatch("sns.ap-southeast-2.amazonaws.com\n")


# --- the certificate cache and the Message ---

async def test_the_cache_fetches_each_url_once_and_stays_bounded(signer):
    cache = CertCache(size=2)
    fetched: list[str] = []

    async def fetch(url: URL) -> x509.Certificate:
        fetched.append(str(url))
        return signer.cert

    for name in ["a", "a", "b", "a", "c", "a", "b"]:
        assert await cache.get(URL(f"https://sns.us-east-1.amazonaws.com/{name}.pem"),
                               fetch) is signer.cert
    # a, b, then c evicts b (a was used more recently), then b evicts c
    assert [u.rsplit("/", 1)[1] for u in fetched] == ["a.pem", "b.pem", "c.pem", "b.pem"]


def test_the_notification_is_read_bare_or_from_an_eventbridge_event():
    spapi = {"NotificationType": "ORDER_CHANGE", "Payload": {}}
    event = {"version": "0", "id": "e-1", "detail-type": "ORDER_CHANGE",
             "source": "aws.partner/sellingpartnerapi.amazon/amzn1.sellerapps.app.x",
             "account": "123456789012", "time": "2026-03-01T10:00:00Z", "region": "us-east-1",
             "resources": [], "detail": spapi}
    assert notification_of(json.dumps(spapi)) == spapi
    assert notification_of(json.dumps(event)) == spapi
    with pytest.raises(json.JSONDecodeError):
        notification_of("not json")
