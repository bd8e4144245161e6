"""Login with Amazon (LWA): refresh-token grant with one access token shared by all processes.

The token for a seller lives in Redis (``lwa:tok:<seller>``), AES-256-GCM encrypted with the
keyring that protects refresh tokens (``SPSYNC_TOKEN_KEYS``): a Redis dump, replica or backup
holds no usable token. The value is ``<key id>:<expires_at>:<nonce + ciphertext>``, the key name
and expiry bound to the ciphertext; one this process cannot open (a key it does not list, an
older plaintext entry, a tampered value) is a cache miss, so a rotation costs at most a refresh.
A caller that finds it missing or
within ``refresh_margin`` (5 min) of expiry takes ``lwa:lock:<seller>`` (SET NX PX); only the
lock holder calls LWA, everybody else waits for the new token to appear. So N concurrent
callers with an expired token cause exactly one refresh, across any number of processes.
``invalid_grant`` is published under ``lwa:err:<seller>`` so waiters fail fast with
:class:`InvalidGrantError` instead of queueing refreshes that cannot succeed.

Any other failed refresh (LWA 5xx or 429, a timeout, a refused connection) starts a cool-down
shared by every process: ``lwa:cool:<seller>`` lives :func:`cooldown_seconds` (1 s after the
first failure, doubling per consecutive failure up to 30 s; ``lwa:fails:<seller>`` counts them).
Nobody asks LWA for that seller while it lasts: callers wait it out (one caller then tries),
or use the cached token while it has :data:`STILL_USABLE` seconds left, so an outage costs LWA
a few attempts per seller instead of one per caller and retry. A caller whose wait would run
past its patience (twice the lock's TTL) gets :class:`LwaCoolingDown` at once; the client does
not retry it inline, the task retries later.

Grantless operations (Notifications destinations, ...) take an *application* token instead:
a ``client_credentials`` grant with a ``scope`` and no refresh token
(:func:`grantless_token`). :meth:`LwaTokenProvider.grantless_token` caches it the same
way, under ``lwa:tok:grantless:<client_id>:<scope>``.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import structlog
from cryptography.exceptions import InvalidTag

from worker.config import ConfigError
from worker.crypto import Keyring
from worker.metrics import TOKEN_REFRESH_FAILURES
from worker.spapi.clock import ClockWatch
from worker.spapi.errors import (
    AuthError,
    InvalidGrantError,
    LwaCoolingDown,
    RetriableError,
    ServerError,
    SpApiError,
)

log = structlog.get_logger(__name__)

NOTIFICATIONS_SCOPE = "sellingpartnerapi::notifications"
STILL_USABLE = 60.0  # seconds a cached token must have left to be used while LWA cools down
Granter = Callable[[], Awaitable[tuple[str, float]]]  # one LWA grant: (token, expires_in)

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def needs_refresh(expires_at: float, now: float, margin: float) -> bool:
    """True when a token expiring at ``expires_at`` should be replaced at ``now``."""
    return now >= expires_at - margin


def cooldown_seconds(failures: int, first: float, cap: float) -> float:
    """How long nobody refreshes after ``failures`` consecutive failed refreshes."""
    return min(cap, first * 2.0 ** (max(1, failures) - 1))


@dataclass(frozen=True)
class LwaApp:
    client_id: str
    client_secret: str
    token_url: str


class LwaTokenProvider:
    """Access tokens per seller, cached in Redis and refreshed under a distributed lock."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        redis: Any,
        app: LwaApp,
        *,
        keyring: Keyring,
        refresh_margin: float = 300.0,
        lock_ttl: float = 30.0,
        poll_interval: float = 0.05,
        cooldown_first: float = 1.0,
        cooldown_max: float = 30.0,
        clock: Callable[[], float] = time.time,
        clock_watch: ClockWatch | None = None,
    ) -> None:
        self._session = session
        self._redis = redis
        self._app = app
        self._keys = keyring
        self._margin = refresh_margin
        self._lock_ttl = lock_ttl
        self._poll = poll_interval
        self._cooldown = (cooldown_first, cooldown_max)
        self._clock = clock
        self._watch = clock_watch
        self._release = redis.register_script(_RELEASE)
        self._local: dict[str, tuple[str, float]] = {}
        self._local_locks: dict[str, asyncio.Lock] = {}

    async def access_token(self, seller: str, refresh_token: str) -> str:
        """A valid access token for ``seller`` (selling partner id)."""
        return await self._token(seller, lambda: self._grant(seller, refresh_token))

    async def grantless_token(self, scope: str = NOTIFICATIONS_SCOPE) -> str:
        """A valid application (grantless) access token for ``scope``."""
        return await self._token(self.grantless_id(scope), lambda: grantless_token(
            self._session, self._app, scope, clock=self._watch))

    def grantless_id(self, scope: str) -> str:
        """Where a grantless token is cached (in place of a seller id): per app and scope."""
        return f"grantless:{self._app.client_id}:{scope}"

    async def _token(self, seller: str, grant: Granter) -> str:
        cached = self._local.get(seller)
        if cached and not needs_refresh(cached[1], self._clock(), self._margin):
            return cached[0]
        lock = self._local_locks.setdefault(seller, asyncio.Lock())
        async with lock:  # one Redis conversation per process per seller
            token, expires_at = await self._shared_token(seller, grant)
            self._local[seller] = (token, expires_at)
            return token

    async def invalidate(self, seller: str, token: str) -> None:
        """Drop ``token`` (the server said it expired) so the next call refreshes."""
        self._local.pop(seller, None)
        cached = await self._cached(seller)
        if cached and cached[0] == token:
            await self._redis.delete(_tok_key(seller))

    async def _shared_token(self, seller: str, grant: Granter) -> tuple[str, float]:
        deadline = self._clock() + self._lock_ttl * 2
        while True:
            cached = await self._cached(seller)
            if cached and not needs_refresh(cached[1], self._clock(), self._margin):
                return cached
            cooling = await self._blocked_for(seller)
            if cooling > 0:
                if cached and cached[1] - self._clock() >= STILL_USABLE:
                    return cached  # LWA is failing, not this token: keep using it meanwhile
                await self._wait_out(seller, cooling, deadline)
                continue
            owner = uuid.uuid4().hex
            got = await self._redis.set(
                _lock_key(seller), owner, nx=True, px=int(self._lock_ttl * 1000)
            )
            if got:
                try:
                    return await self._refresh_locked(seller, grant)
                finally:
                    await self._release(keys=[_lock_key(seller)], args=[owner])
            if self._clock() > deadline:
                raise ServerError("timed out waiting for another process's LWA refresh",
                                  seller=seller, operation="lwa.refresh")
            await asyncio.sleep(self._poll)

    async def _refresh_locked(self, seller: str, grant: Granter) -> tuple[str, float]:
        fresh = await self._read_cache(seller)  # someone may have refreshed just before us
        if fresh:
            return fresh
        try:
            token, expires_in = await grant()
        except SpApiError as exc:
            TOKEN_REFRESH_FAILURES.labels(seller, exc.code or type(exc).__name__).inc()
            if isinstance(exc, InvalidGrantError):
                await self._redis.set(_err_key(seller), exc.detail,
                                      px=int(self._lock_ttl * 1000))
            elif isinstance(exc, RetriableError):
                await self._start_cooldown(seller)  # before the lock is released
            raise
        expires_at = self._clock() + expires_in
        pipe = self._redis.pipeline(transaction=False)
        pipe.set(_tok_key(seller), self._seal(seller, token, expires_at),
                 px=max(1, int(expires_in * 1000)))
        pipe.delete(_fails_key(seller))  # the next failure starts over at the first pause
        await pipe.execute()
        log.info("lwa.refreshed", seller=seller, expires_in=expires_in)
        return token, expires_at

    async def _start_cooldown(self, seller: str) -> None:
        first, cap = self._cooldown
        failures = int(await self._redis.incr(_fails_key(seller)))
        pause = cooldown_seconds(failures, first, cap)
        pipe = self._redis.pipeline(transaction=False)
        pipe.set(_cool_key(seller), failures, px=max(1, int(pause * 1000)))
        # the count outlives the pause by the cap: an outage keeps it growing, a quiet
        # spell after a lone failure forgets it
        pipe.pexpire(_fails_key(seller), max(1, int((pause + cap) * 1000)))
        await pipe.execute()
        log.warning("lwa.cooldown", seller=seller, failures=failures, seconds=pause)

    async def _blocked_for(self, seller: str) -> float:
        """Seconds of the shared cool-down left; raises the published invalid_grant."""
        pipe = self._redis.pipeline(transaction=False)
        pipe.get(_err_key(seller))
        pipe.pttl(_cool_key(seller))
        err, cool_ms = await pipe.execute()
        if err:
            text = err.decode() if isinstance(err, bytes) else str(err)
            raise InvalidGrantError(text, seller=seller, operation="lwa.refresh", status=400,
                                    code="invalid_grant")
        return max(0, int(cool_ms)) / 1000

    async def _wait_out(self, seller: str, cooling: float, deadline: float) -> None:
        if self._clock() + cooling > deadline:
            raise LwaCoolingDown(f"LWA refreshes for this seller pause {cooling:.1f} s more "
                                 "after failures", seller=seller, operation="lwa.refresh",
                                 retry_after=cooling)
        await asyncio.sleep(cooling)

    async def _grant(self, seller: str, refresh_token: str) -> tuple[str, float]:
        form = {
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": self._app.client_id,
            "client_secret": self._app.client_secret,
        }
        return await exchange(self._session, self._app.token_url, form, seller=seller,
                              clock=self._watch)

    async def _read_cache(self, seller: str) -> tuple[str, float] | None:
        cached = await self._cached(seller)
        if cached is None or needs_refresh(cached[1], self._clock(), self._margin):
            return None
        return cached

    async def _cached(self, seller: str) -> tuple[str, float] | None:
        """The shared (token, expires_at), or None when absent or unreadable here."""
        raw = await self._redis.get(_tok_key(seller))
        return self._open(seller, raw) if raw else None

    def _seal(self, seller: str, token: str, expires_at: float) -> bytes:
        expiry = repr(expires_at)
        blob, kid = self._keys.encrypt(token, _tok_aad(seller, expiry))
        return f"{kid}:{expiry}:".encode() + blob

    def _open(self, seller: str, raw: bytes | str) -> tuple[str, float] | None:
        data = raw.encode() if isinstance(raw, str) else raw
        try:
            kid, expiry, blob = data.split(b":", 2)
            expires_at = float(expiry)
            token = self._keys.decrypt(blob, kid.decode(), _tok_aad(seller, expiry.decode()))
        except (ValueError, UnicodeDecodeError, ConfigError, InvalidTag):
            return None  # another key, an older plaintext entry, or tampered: refresh
        return token, expires_at


@dataclass(frozen=True)
class Grant:
    """What LWA answered to an ``authorization_code`` grant."""

    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    expires_in: float


async def exchange(
    session: aiohttp.ClientSession, url: str, form: dict[str, str], *, seller: str | None,
    clock: ClockWatch | None = None,
) -> tuple[str, float]:
    """POST a grant to LWA; return (access_token, expires_in). Errors never echo the form."""
    body = await _post_grant(session, url, form, seller=seller, clock=clock)
    return str(body["access_token"]), float(body.get("expires_in", 3600))


async def grantless_token(
    session: aiohttp.ClientSession, app: LwaApp, scope: str = NOTIFICATIONS_SCOPE, *,
    clock: ClockWatch | None = None,
) -> tuple[str, float]:
    """One ``client_credentials`` grant: an application token for the grantless operations
    of ``scope``; (access_token, expires_in). Never logs or echoes the token."""
    form = {"grant_type": "client_credentials", "scope": scope,
            "client_id": app.client_id, "client_secret": app.client_secret}
    return await exchange(session, app.token_url, form, seller=None, clock=clock)


async def exchange_code(
    session: aiohttp.ClientSession, app: LwaApp, code: str, redirect_uri: str, *,
    seller: str | None, clock: ClockWatch | None = None,
) -> Grant:
    """Trade a seller's consent (``spapi_oauth_code``) for its refresh token."""
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
            "client_id": app.client_id, "client_secret": app.client_secret}
    body = await _post_grant(session, app.token_url, form, seller=seller, clock=clock)
    refresh = body.get("refresh_token")
    if not isinstance(refresh, str) or not refresh:
        raise AuthError("LWA answered the code grant without a refresh token", seller=seller,
                        operation="lwa.authorization_code", status=200)
    return Grant(str(body["access_token"]), refresh, float(body.get("expires_in", 3600)))


async def _post_grant(
    session: aiohttp.ClientSession, url: str, form: dict[str, str], *, seller: str | None,
    clock: ClockWatch | None,
) -> dict[str, Any]:
    grant = form.get("grant_type", "")
    operation = f"lwa.{'refresh' if grant == 'refresh_token' else grant}"
    started = time.monotonic()
    try:
        async with session.post(url, data=form) as resp:
            status = resp.status
            date = resp.headers.get("Date")
            body: Any = await resp.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, json.JSONDecodeError) as exc:
        raise ServerError(f"LWA unreachable or invalid reply: {type(exc).__name__}",
                          seller=seller, operation=operation) from None
    log.info("lwa.grant", seller=seller, status=status, grant=grant,
             duration_ms=round((time.monotonic() - started) * 1000, 1))
    if clock is not None:
        await clock.observe(date, operation)
    if status == 200 and isinstance(body, dict) and "access_token" in body:
        return body
    error = body.get("error") if isinstance(body, dict) else None
    description = str(body.get("error_description", ""))[:200] if isinstance(body, dict) else ""
    kw: dict[str, Any] = {"seller": seller, "operation": operation, "status": status,
                          "code": error}
    what = {"refresh_token": "refresh token", "client_credentials": "client credentials"}.get(
        grant, "authorization code")
    if error == "invalid_grant":
        raise InvalidGrantError(f"LWA rejected the {what}: {description}", **kw)
    if status >= 500 or status == 429:
        raise ServerError(f"LWA error {error or status}", **kw)
    raise AuthError(f"LWA error {error or status}: {description}", **kw)


def cache_keys(seller: str) -> list[str]:
    """The Redis keys holding a seller's cached access token, its published refresh error
    and its refresh cool-down.

    Deleting them after a new refresh token was stored makes the next call refresh at once.
    """
    return [_tok_key(seller), _err_key(seller), _cool_key(seller), _fails_key(seller)]


def _tok_key(seller: str) -> str:
    return f"lwa:tok:{seller}"


def _tok_aad(seller: str, expiry: str) -> str:
    """What a cached token's ciphertext is bound to: its key and its expiry."""
    return f"{_tok_key(seller)}|{expiry}"


def _lock_key(seller: str) -> str:
    return f"lwa:lock:{seller}"


def _err_key(seller: str) -> str:
    return f"lwa:err:{seller}"


def _cool_key(seller: str) -> str:
    return f"lwa:cool:{seller}"


def _fails_key(seller: str) -> str:
    return f"lwa:fails:{seller}"
