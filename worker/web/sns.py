"""``POST /notifications/sns``: SP-API notifications bridged EventBridge -> SNS -> HTTPS.

SP-API delivers only to SQS or EventBridge; this endpoint serves users who route EventBridge
to an SNS topic with an HTTPS subscription. Nothing in a message is trusted before it is
verified as AWS documents it (``sns-verify-signature-of-message``):

1. the body is at most :data:`MAX_BODY` bytes of JSON holding the string fields of its
   ``Type`` (Notification, SubscriptionConfirmation, UnsubscribeConfirmation), else 400;
2. ``TopicArn`` is one of ``SPSYNC_SNS_TOPIC_ARNS``, else 403: a message for anybody else's
   topic costs no outbound request;
3. ``SigningCertURL`` is https on a host matching ``SPSYNC_SNS_CERT_HOST_PATTERN``
   (``sns.<region>.amazonaws.com[.cn]``, the parsed host matched whole) and ends in ``.pem``;
   ``Timestamp`` is under one hour old (SNS stops retrying after one hour) and at most five
   minutes ahead; else 403;
4. the certificate at that URL (fetched once, cached by URL once verified) chains to a trusted
   CA, is valid now and names SNS's signing host for that region
   (:mod:`worker.web.sns_certs`), and it verifies ``Signature`` over the type's
   string-to-sign: SHA1withRSA for SignatureVersion 1, SHA256withRSA for 2; else 403;
5. a MessageId handled in the last :data:`SEEN_SECONDS` is answered 200 and not handled again.

Then a SubscriptionConfirmation is confirmed by a GET on its SubscribeURL (which must be on an
SNS host too), and a Notification's ``Message`` (the SP-API notification, bare or as the
``detail`` of an EventBridge event) is written to the inbox and committed before the 200. A
schema-invalid one is parked and answered 200: SNS would only retry it. The workers process
the inbox; nothing else happens here.

Statuses are chosen for SNS's retry policy, which retries 5xx and network failures only: a
refused message is 400/403/413 (never retried), a failure on the way (database, Redis, the
certificate or SubscribeURL unreachable) is 5xx, so SNS delivers again.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import aiohttp
import structlog
from aiohttp import web
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from sqlalchemy import Engine
from yarl import URL

from worker.config import Settings
from worker.metrics import SNS_MESSAGES
from worker.notifications import inbox
from worker.notifications.envelope import InvalidNotification, parse
from worker.web.sns_certs import (
    CERTS,
    FETCH_TIMEOUT,
    MAX_CERT,
    CertSource,
    Rejected,
    Unavailable,
    fetch_verified,
    forbidden,
    read_capped,
    trust_of,
)

if TYPE_CHECKING:
    from worker.web.app import Web

log = structlog.get_logger(__name__)

# SNS messages are at most 256 KB; JSON-escaping the Message inside the envelope can grow it.
MAX_BODY = 512 * 1024
MAX_AGE = timedelta(hours=1)  # SNS's HTTP/S retries end within 3,600 s
MAX_AHEAD = timedelta(minutes=5)  # clock skew
SEEN_SECONDS = 70 * 60  # covers the whole window a Timestamp is accepted in (65 minutes)
SEEN_KEY = "spsync:sns:seen:"

NOTIFICATION = "Notification"
SUBSCRIBE = "SubscriptionConfirmation"
UNSUBSCRIBE = "UnsubscribeConfirmation"
# The string-to-sign of each Type: these keys in this order, each as "Key\nValue\n".
SIGNED: dict[str, tuple[str, ...]] = {
    NOTIFICATION: ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    SUBSCRIBE: ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn",
                "Type"),
    UNSUBSCRIBE: ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn",
                  "Type"),
}
OPTIONAL = frozenset({"Subject"})  # signed only when present
ENVELOPE = ("SignatureVersion", "Signature", "SigningCertURL")
ALGORITHMS: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    "1": hashes.SHA1,  # SignatureVersion 1 is SHA1withRSA, as AWS defines it
    "2": hashes.SHA256,
}


def _malformed(reason: str) -> Rejected:
    return Rejected(400, reason)


@dataclass(frozen=True)
class SnsMessage:
    type: str
    message_id: str
    topic_arn: str
    timestamp: datetime
    fields: Mapping[str, Any]  # the whole JSON body


def load(raw: bytes) -> dict[str, Any]:
    """The body as a JSON object, or :class:`Rejected` (400)."""
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise _malformed("body is not JSON") from None
    if not isinstance(body, dict):
        raise _malformed("body is not a JSON object")
    return body


def message_of(fields: Mapping[str, Any]) -> SnsMessage:
    """Check that ``fields`` hold what their Type needs (400 otherwise)."""
    kind = fields.get("Type")
    if not isinstance(kind, str) or kind not in SIGNED:
        raise _malformed("unknown Type")
    required = [k for k in (*SIGNED[kind], *ENVELOPE) if k not in OPTIONAL]
    missing = [k for k in required if not isinstance(fields.get(k), str)]
    missing += [k for k in OPTIONAL & set(SIGNED[kind])
                if fields.get(k) is not None and not isinstance(fields[k], str)]
    if missing:
        raise _malformed(f"missing or not a string: {', '.join(sorted(missing))}")
    try:
        timestamp = datetime.fromisoformat(fields["Timestamp"])
    except ValueError:
        raise _malformed("Timestamp is not an ISO 8601 time") from None
    if timestamp.tzinfo is None:
        raise _malformed("Timestamp has no time zone")
    return SnsMessage(kind, fields["MessageId"], fields["TopicArn"], timestamp, fields)


def string_to_sign(fields: Mapping[str, Any]) -> bytes:
    """What SNS signed for a message of this Type (AWS's documented fields and order)."""
    keys = SIGNED[fields["Type"]]
    return "".join(f"{k}\n{fields[k]}\n" for k in keys
                   if not (k in OPTIONAL and fields.get(k) is None)).encode("utf-8")


@dataclass(frozen=True)
class Policy:
    """Which URLs a message may send this endpoint to (certificate, SubscribeURL)."""

    host: re.Pattern[str]
    allow_http: bool = False  # tests and development only

    def cert_url(self, value: str) -> URL:
        url = self._trusted(value, "SigningCertURL")
        if not url.path.endswith(".pem") or url.query_string or url.fragment:
            raise forbidden("SigningCertURL is not a .pem file")
        return url

    def subscribe_url(self, value: str) -> URL:
        return self._trusted(value, "SubscribeURL")

    def _trusted(self, value: str, name: str) -> URL:
        try:
            url = URL(value)
        except (ValueError, TypeError):
            raise forbidden(f"{name} is not a URL") from None
        if url.scheme not in (("https", "http") if self.allow_http else ("https",)):
            raise forbidden(f"{name} is not https")
        if url.user is not None or url.password is not None or "@" in value.split("?")[0]:
            raise forbidden(f"{name} has user info")  # even empty: SNS never sends one
        if url.raw_host is None or not self.host.fullmatch(url.raw_host):
            raise forbidden(f"{name} is not on an SNS host")
        return url


def policy_of(settings: Settings) -> Policy:
    return _policy(settings.sns_cert_host_pattern, settings.sns_allow_http_cert)


@lru_cache(maxsize=8)
def _policy(pattern: str, allow_http: bool) -> Policy:
    return Policy(re.compile(pattern), allow_http)


def allowed_topic(topic_arn: str, allowed: tuple[str, ...]) -> None:
    """Anyone can point their own (genuinely signed) SNS topic here: only listed topics count."""
    if not allowed:
        raise forbidden("SPSYNC_SNS_TOPIC_ARNS lists no topic: every message is refused")
    if topic_arn not in allowed:
        raise forbidden("TopicArn is not in SPSYNC_SNS_TOPIC_ARNS")


def check_timestamp(timestamp: datetime, now: datetime) -> None:
    if now - timestamp > MAX_AGE:
        raise forbidden("Timestamp is more than one hour old")
    if timestamp - now > MAX_AHEAD:
        raise forbidden("Timestamp is in the future")


def check_signature(cert: x509.Certificate, fields: Mapping[str, Any], now: datetime) -> None:
    """``Signature`` over :func:`string_to_sign` with ``cert``'s RSA key (PKCS#1 v1.5)."""
    algorithm = ALGORITHMS.get(fields["SignatureVersion"])
    if algorithm is None:
        raise forbidden("unknown SignatureVersion")
    key = cert.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise forbidden("signing certificate has no RSA key")
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        raise forbidden("signing certificate is not valid now")
    try:
        signature = base64.b64decode(fields["Signature"], validate=True)
        key.verify(signature, string_to_sign(fields), padding.PKCS1v15(), algorithm())
    except (binascii.Error, ValueError, InvalidSignature):
        raise forbidden("signature does not verify") from None


async def verify(msg: SnsMessage, policy: Policy, certificate: CertSource,
                 now: datetime) -> None:
    """Every check of AWS's procedure, cheapest first; :class:`Rejected` on the first miss."""
    url = policy.cert_url(msg.fields["SigningCertURL"])
    check_timestamp(msg.timestamp, now)
    if msg.fields["SignatureVersion"] not in ALGORITHMS:
        raise forbidden("unknown SignatureVersion")
    if msg.type == SUBSCRIBE:
        policy.subscribe_url(msg.fields["SubscribeURL"])
    check_signature(await certificate(url), msg.fields, now)


async def confirm(session: aiohttp.ClientSession, url: URL) -> None:
    """GET the SubscribeURL, which is how SNS learns this endpoint wants the topic."""
    try:
        async with session.get(url, allow_redirects=False, timeout=FETCH_TIMEOUT) as resp:
            await read_capped(resp.content, MAX_CERT)
            if resp.status != 200:
                raise Unavailable(f"SubscribeURL answered HTTP {resp.status}")
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise Unavailable(f"SubscribeURL unreachable ({type(exc).__name__})") from None


def notification_of(message: str) -> Any:
    """The SP-API notification in a Notification's ``Message``: the JSON itself, or the
    ``detail`` of the EventBridge event carrying it."""
    body = json.loads(message)
    if isinstance(body, dict) and "detail-type" in body and isinstance(body.get("detail"), dict):
        return body["detail"]
    return body


def store(engine: Engine, msg: SnsMessage) -> str:
    """Inbox the notification in ``msg`` (one committed transaction): its outcome."""
    text = str(msg.fields["Message"])
    try:
        envelope = parse(notification_of(text))
    except (ValueError, RecursionError, InvalidNotification) as exc:
        error = f"{type(exc).__name__}: {exc}"[:500]
        with engine.begin() as conn:
            inbox.park_invalid(conn, msg.message_id, text, error, "sns")
        log.warning("notification.invalid", source="sns", message_id=msg.message_id,
                    error=error)
        return "parked"
    with engine.begin() as conn:
        inbox_id = inbox.record(conn, envelope, "sns")
    return "recorded" if inbox_id is not None else "duplicate"


async def handle(request: web.Request) -> web.Response:
    """The route: read, verify, answer a replay, then act on the message."""
    from worker.web.app import WEB  # app imports this module for its routes

    deps = request.app[WEB]
    policy = policy_of(deps.rt.settings)
    fields: Mapping[str, Any] = {}
    try:
        fields = load(await _read_body(request))
        msg = message_of(fields)
        allowed_topic(msg.topic_arn, deps.rt.settings.sns_topic_arns)  # before any fetch
        now = datetime.now(UTC)
        await verify(msg, policy, _certificates(deps.session, deps.rt.settings, now), now)
    except Rejected as exc:
        return _rejected(fields, exc)
    except Unavailable as exc:
        return _unavailable(fields, str(exc))
    key = SEEN_KEY + msg.message_id
    if not await deps.redis.set(key, "1", nx=True, ex=SEEN_SECONDS):
        _count(msg.type, "replayed")
        return web.Response(text="already handled")
    try:
        outcome = await _act(deps, msg, policy)
    except Unavailable as exc:
        await deps.redis.delete(key)  # so SNS's retry is handled
        return _unavailable(fields, str(exc))
    except BaseException:  # the database or Redis failed: 500, SNS retries, so forget it
        await deps.redis.delete(key)
        _count(msg.type, "failed")
        raise
    _count(msg.type, outcome)
    log.info("sns.handled", type=msg.type, outcome=outcome, topic_arn=msg.topic_arn,
             message_id=msg.message_id)
    return web.Response(text=outcome)


def _certificates(session: aiohttp.ClientSession | None, settings: Settings,
                  now: datetime) -> CertSource:
    assert session is not None  # opened with the app
    trust = trust_of(settings)

    async def get(url: URL) -> x509.Certificate:
        return await CERTS.get(url, lambda u: fetch_verified(session, u, trust, now))

    return get


async def _read_body(request: web.Request) -> bytes:
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise Rejected(413, "body is too large")
    # The app read it already, within its deadline and size cap (worker/web/app.py).
    body = await request.read()
    if len(body) > MAX_BODY:
        raise Rejected(413, "body is too large")
    return body


async def _act(deps: Web, msg: SnsMessage, policy: Policy) -> str:
    if msg.type == SUBSCRIBE:
        assert deps.session is not None  # opened with the app
        await confirm(deps.session, policy.subscribe_url(msg.fields["SubscribeURL"]))
        log.info("sns.subscription_confirmed", topic_arn=msg.topic_arn)
        return "confirmed"
    if msg.type == UNSUBSCRIBE:
        log.info("sns.unsubscribe_confirmation", topic_arn=msg.topic_arn)
        return "unsubscribed"
    return await asyncio.to_thread(store, deps.rt.engine, msg)


def _ids(fields: Mapping[str, Any]) -> dict[str, str | None]:
    """TopicArn, MessageId and Type of a message for a log line (bounded, never the body)."""
    def value(name: str) -> str | None:
        v = fields.get(name)
        return v[:200] if isinstance(v, str) else None
    return {"topic_arn": value("TopicArn"), "message_id": value("MessageId"),
            "type": value("Type")}


def _label(fields: Mapping[str, Any]) -> str:
    kind = fields.get("Type")
    return kind if isinstance(kind, str) and kind in SIGNED else "unknown"


def _count(kind: str, outcome: str) -> None:
    SNS_MESSAGES.labels(type=kind, outcome=outcome).inc()


def _rejected(fields: Mapping[str, Any], exc: Rejected) -> web.Response:
    log.warning("sns.rejected", reason=exc.reason, status=exc.status, **_ids(fields))
    _count(_label(fields), "rejected")
    return web.Response(status=exc.status, text=exc.reason)


def _unavailable(fields: Mapping[str, Any], reason: str) -> web.Response:
    log.error("sns.unavailable", reason=reason, **_ids(fields))
    _count(_label(fields), "failed")
    return web.Response(status=502, text=reason)
