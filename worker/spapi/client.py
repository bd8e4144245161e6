"""The SP-API client: one ``call(operation, ...)`` that owns quota, auth, retries and errors.

Sending is a chain of small steps: take a token from the seller's bucket -> get an LWA access
token -> send once -> map the response. Call sites never sleep or retry; this module is the
only place that does (STYLE.md rule 5).

A call is made for a :class:`SellerAuth` (the seller's token) or, for grantless operations
(Notifications destinations, ...), for a :class:`GrantlessAuth`: the application's own
``client_credentials`` token, and a quota bucket keyed by the application
(``rl:{app:<region>}:<operation>``) rather than by a seller.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import aiohttp
import structlog

from worker.metrics import (
    BUCKET_FILL,
    BUCKET_LAST_WAIT,
    QUOTA_WAIT,
    RETRIES,
    SPAPI_CALLS,
    THROTTLED,
)
from worker.ratelimit.backoff import Backoff, parse_rate_limit, parse_retry_after
from worker.ratelimit.bucket import Priority, TokenBucket, bucket_key
from worker.spapi.auth import NOTIFICATIONS_SCOPE, LwaTokenProvider
from worker.spapi.clock import ClockWatch
from worker.spapi.documents import stream_document
from worker.spapi.errors import (
    AuthError,
    LwaCoolingDown,
    MalformedResponseError,
    QuotaWaitTooLong,
    RetriableError,
    ServerError,
    SpApiError,
    ThrottledError,
    error_for_response,
)
from worker.spapi.operations import Operation, operation
from worker.spapi.regions import region as region_info
from worker.spapi.sigv4 import Signer

log = structlog.get_logger(__name__)

USER_AGENT = "spsync/0.1 (Language=Python)"
NOT_SENT = "NotSent"  # ServerError.code when the connection never opened: nothing left
Query = Mapping[str, str | int | float | bool | list[str] | None]
OnSend = Callable[[], Awaitable[None]]  # awaited just before each request leaves


@dataclass(frozen=True)
class SellerAuth:
    """Who a call is made for: enough to pick the endpoint, bucket and access token."""

    selling_partner_id: str
    region: str
    refresh_token: str = field(repr=False)


@dataclass(frozen=True)
class GrantlessAuth:
    """A grantless call: made by the application itself in ``region``, with an LWA
    ``client_credentials`` token for ``scope``. ``selling_partner_id`` is what buckets,
    logs and metrics name instead of a seller."""

    region: str
    scope: str = NOTIFICATIONS_SCOPE
    selling_partner_id: str = "app"


Auth = SellerAuth | GrantlessAuth


@dataclass(frozen=True)
class Response:
    status: int
    body: Any
    request_id: str | None
    rate_limit: float | None


@dataclass
class CallStats:
    """Counters a sync reports in ``sync_runs`` and the demo shows (``calls``: requests
    sent, each counted as it leaves)."""

    calls: int = 0
    throttled: int = 0
    retries: int = 0
    waited_seconds: float = 0.0


def usable_burst(burst: int) -> int:
    """Keep one token of Amazon's burst in reserve.

    Calls leave at exactly the allowed rate, but reach Amazon with network jitter; a request
    arriving a few ms "early" would find an empty server bucket. One spare token absorbs up
    to 1/rate seconds of jitter for the price of one call per bucket lifetime.
    """
    return burst - 1 if burst > 1 else burst


PACING = 0.9  # of the rate, for an operation with a burst of 1 (see paced)


def paced(rate: float, burst: int) -> float:
    """The rate calls leave at. An operation with a burst of 1 has no token to keep in
    reserve (:func:`usable_burst`), so its calls are spaced 10 % wider than the rate instead:
    a request arriving early by up to a tenth of the interval (30 s at getCompetitiveSummary's
    0.033/s) still finds Amazon's token refilled."""
    return rate * PACING if burst <= 1 else rate


class SpApiClient:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        tokens: LwaTokenProvider,
        bucket: TokenBucket,
        *,
        base_url: str | None = None,
        sandbox: bool = False,
        backoff: Backoff | None = None,
        max_inline_wait: float = 5.0,
        wait_log_threshold: float = 2.0,
        signer: Signer | None = None,
        stats: CallStats | None = None,
        clock: ClockWatch | None = None,
        on_send: OnSend | None = None,
    ) -> None:
        self._session = session
        self._tokens = tokens
        self._bucket = bucket
        self._base_url = base_url.rstrip("/") if base_url else None
        self._sandbox = sandbox
        self._backoff = backoff or Backoff()
        self._max_inline_wait = max_inline_wait
        self._wait_log_threshold = wait_log_threshold
        self._signer = signer
        self.stats = stats or CallStats()
        self._clock = clock or ClockWatch()
        self._on_send = on_send

    async def call(
        self,
        seller: Auth,
        operation_name: str,
        *,
        path_params: dict[str, str] | None = None,
        query: Query | None = None,
        body: Any = None,
        priority: Priority = Priority.INCREMENTAL,
        idempotent: bool = True,
    ) -> Response:
        """Call ``operation_name`` for ``seller``; retry throttling and 5xx; raise typed errors.

        ``seller`` is a :class:`GrantlessAuth` for a grantless operation.
        ``priority`` BACKFILL yields to incremental syncs of the same seller (see the bucket).
        ``idempotent=False`` (a write Amazon must not get twice) retries only what Amazon
        certainly did not apply (:func:`never_applied`); a 5xx, a timeout or a dropped
        connection is raised at once, since the request may have been applied.
        """
        op = operation(operation_name)
        url = self._url(seller, op, path_params, query)
        key = bucket_key(seller.selling_partner_id, seller.region, op.name)
        attempt = 0
        refreshed = False
        while True:
            try:
                return await self._attempt(seller, op, url, key, body, priority)
            except AuthError as exc:
                if refreshed or exc.code != "Unauthorized":
                    raise
                refreshed = True  # the cached access token may have expired server-side
                self.stats.retries += 1  # a retried call like any other (sync_runs.retries)
                RETRIES.labels(op.name, "expired_token").inc()
            except (LwaCoolingDown, QuotaWaitTooLong):
                # the token provider or the bucket waited all it would: the task retries later
                raise
            except RetriableError as exc:
                if not self._backoff.should_retry(attempt) or not (
                        idempotent or never_applied(exc, op.name)):
                    raise
                delay = self._backoff.delay(attempt, exc.retry_after)
                if delay > self._max_inline_wait:
                    if isinstance(exc, ThrottledError):
                        # Amazon asked for a long pause: give the worker slot back (the task
                        # re-queues itself with this countdown) instead of sleeping in it.
                        raise QuotaWaitTooLong(key, delay) from exc
                    raise  # a struggling server: the task's own bounded retries take over
                attempt += 1
                self.stats.retries += 1
                RETRIES.labels(op.name, _retry_reason(exc)).inc()
                log.warning("spapi.retry", seller=seller.selling_partner_id, operation=op.name,
                            status=exc.status, attempt=attempt, delay_s=round(delay, 2),
                            request_id=exc.request_id)
                await asyncio.sleep(delay)

    def download(self, url: str) -> AsyncIterator[bytes]:
        """A report document's bytes from its presigned URL (no token, no quota)."""
        return stream_document(self._session, url)

    def _url(
        self, seller: Auth, op: Operation, path_params: dict[str, str] | None,
        query: Query | None,
    ) -> str:
        if self._base_url:
            base = self._base_url
        else:
            info = region_info(seller.region)
            base = info.sandbox_endpoint if self._sandbox else info.endpoint
        url = base + op.url_path(path_params)
        if query:
            url += "?" + urlencode(_flatten_query(query))
        return url

    async def _attempt(
        self, seller: Auth, op: Operation, url: str, key: str, body: Any,
        priority: Priority,
    ) -> Response:
        # The access token first: a caller that waits for another's LWA refresh after it
        # reserved its slot would let the slot pass and then send together with every
        # other waiter the moment the token appears (a burst over Amazon's bucket).
        cache_id, token = await self._bucket.while_redis_is_down(
            key, lambda: self._access_token(seller))
        await self._take_quota(seller, op, key, priority)
        counted = await self._count_call()
        started = time.monotonic()
        try:
            resp = await self._send(seller, op, url, token, body)
        except AuthError as exc:
            if exc.code == "Unauthorized":
                await self._tokens.invalidate(cache_id, token)
            raise
        finally:
            if counted is not None:
                await counted
        log.info("spapi.call", seller=seller.selling_partner_id, operation=op.name,
                 method=op.method, path=op.path, status=resp.status, request_id=resp.request_id,
                 duration_ms=round((time.monotonic() - started) * 1000, 1))
        return resp

    async def _count_call(self) -> asyncio.Future[None] | None:
        """Count the request as it leaves, so a process killed while it is in flight has
        counted it (sync_runs.api_calls). ``on_send`` runs beside the request: waiting for it
        between the quota slot and the send would let a slow Redis bunch requests up."""
        self.stats.calls += 1
        if self._on_send is None:
            return None
        counting = asyncio.ensure_future(self._on_send())
        await asyncio.sleep(0)  # one loop step: its command is written before the request
        return counting

    async def _access_token(self, seller: Auth) -> tuple[str, str]:
        """(where the token is cached, the token): the seller's, or the application's."""
        if isinstance(seller, GrantlessAuth):
            cache_id = self._tokens.grantless_id(seller.scope)
            return cache_id, await self._tokens.grantless_token(seller.scope)
        cache_id = seller.selling_partner_id
        return cache_id, await self._tokens.access_token(cache_id, seller.refresh_token)

    async def _take_quota(
        self, seller: Auth, op: Operation, key: str, priority: Priority
    ) -> None:
        burst = usable_burst(op.burst)
        res = await self._bucket.acquire(key, paced(op.rate, op.burst), burst,
                                         self._max_inline_wait, priority, spare=op.burst > 1)
        self.stats.waited_seconds += res.wait
        QUOTA_WAIT.labels(op.name, str(priority)).observe(res.wait)
        BUCKET_FILL.labels(seller.selling_partner_id, op.name).set(1.0 - res.tokens / burst)
        BUCKET_LAST_WAIT.labels(seller.selling_partner_id, op.name).set(res.wait)
        if res.wait >= self._wait_log_threshold:
            log.warning("quota.long_wait", seller=seller.selling_partner_id, operation=op.name,
                        priority=str(priority), wait_s=round(res.wait, 2),
                        queued=max(0, -int(res.tokens)))

    async def _send(
        self, seller: Auth, op: Operation, url: str, token: str, body: Any
    ) -> Response:
        data = json.dumps(body).encode() if body is not None else b""
        headers = {"x-amz-access-token": token, "user-agent": USER_AGENT,
                   "accept": "application/json"}
        if body is not None:
            headers["content-type"] = "application/json"
        if self._signer:
            headers.update(self._signer.headers(op.method, url, data, region_info(seller.region)))
        ctx: dict[str, Any] = {"seller": seller.selling_partner_id, "operation": op.name}
        try:
            async with self._session.request(op.method, url, data=data or None,
                                             headers=headers) as http:
                raw = await http.read()
                request_id = http.headers.get("x-amzn-RequestId")
                rate = parse_rate_limit(http.headers.get("x-amzn-RateLimit-Limit"))
                retry_after = parse_retry_after(http.headers.get("Retry-After"))
                status = http.status
                server_date = http.headers.get("Date")
        except (aiohttp.ClientError, TimeoutError) as exc:
            SPAPI_CALLS.labels(op.name, "error").inc()
            code = NOT_SENT if isinstance(exc, aiohttp.ClientConnectorError) else None
            raise ServerError(f"network error: {type(exc).__name__}", code=code, **ctx) from None
        SPAPI_CALLS.labels(op.name, str(status)).inc()
        await self._clock.observe(server_date, op.name)
        ctx["request_id"] = request_id
        key = bucket_key(seller.selling_partner_id, seller.region, op.name)
        if rate:  # the server's usage plan beats the table, also on a 429
            await self._bucket.set_rate(key, paced(rate, op.burst))
        if status == 429:
            self.stats.throttled += 1
            THROTTLED.labels(op.name).inc()
            await self._bucket.drain(key, usable_burst(op.burst), op.rate)
        parsed = _parse_json(raw, status, ctx)
        if status >= 400:
            err = error_for_response(status, parsed, retry_after=retry_after, **ctx)
            log.warning("spapi.error", status=status, code=err.code, **ctx)
            raise err
        return Response(status, parsed, request_id, rate)


def never_applied(exc: SpApiError, operation: str) -> bool:
    """Whether Amazon certainly did not apply the ``operation`` request that raised ``exc``:
    a 429 (Amazon throttles before doing anything), a connection that never opened, or an
    error of an earlier step (the LWA token) so that the request never left."""
    return isinstance(exc, ThrottledError) or exc.code == NOT_SENT or exc.operation != operation


def _retry_reason(exc: RetriableError) -> str:
    if isinstance(exc, ThrottledError):
        return "throttled"
    return "server" if exc.status else "network"


def _parse_json(raw: bytes, status: int, ctx: dict[str, Any]) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        if status >= 400:
            return None  # the status alone says what went wrong
        raise MalformedResponseError(
            f"response body is not valid JSON ({len(raw)} bytes)", status=status, **ctx
        ) from None


def _flatten_query(query: Query) -> list[tuple[str, str]]:
    """SP-API arrays are comma-separated; booleans are lower-case; None means absent."""
    pairs: list[tuple[str, str]] = []
    for name, value in query.items():
        if value is None:
            continue
        if isinstance(value, bool):
            pairs.append((name, "true" if value else "false"))
        elif isinstance(value, list | tuple):
            pairs.append((name, ",".join(str(v) for v in value)))
        else:
            pairs.append((name, str(value)))
    return pairs


__all__ = [
    "Auth", "CallStats", "GrantlessAuth", "Response", "SellerAuth", "SpApiClient", "SpApiError",
    "ThrottledError",
]
