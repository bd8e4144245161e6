"""Login with Amazon: the token endpoint and the access tokens SP-API calls present.

Mirrors LWA's observable contract: form-encoded ``POST /auth/o2/token`` with
``refresh_token``, ``authorization_code`` and ``client_credentials`` grants, OAuth error
bodies (``invalid_request``, ``invalid_client`` 401, ``invalid_grant``, ``invalid_scope``,
``unsupported_grant_type``), access tokens that expire after ``token_ttl_seconds``.
A ``client_credentials`` grant names a ``scope`` (only ``sellingpartnerapi::notifications``
exists here) and issues a *grantless* token: bound to the application, no seller, no
refresh token. The gateway takes it for grantless operations only, and a seller's token
for seller operations only (:meth:`Lwa.seller_for`, :meth:`Lwa.check_grantless`).
Authorization codes are minted by ``POST /_sim/auth-codes`` or the consent page
(:mod:`consent`; single use, 5 minutes); re-authorizing a revoked seller issues a new
refresh token, as Amazon does.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from aiohttp import web

from .clock import Clock
from .config import SimConfig
from .errors import TOKEN_EXPIRED, TOKEN_INVALID, WRONG_TOKEN_KIND, unauthorized
from .faults import LWA_OPERATION, LWA_OUTAGE, FaultBook
from .generate import hex_text, seeded, token_text
from .spec import GRANTLESS_SCOPES
from .world import World

CODE_TTL_SECONDS = 300.0
GRANT_TYPES = ("refresh_token", "authorization_code", "client_credentials")
SCOPES = frozenset(GRANTLESS_SCOPES.values())
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost"})


@dataclass(frozen=True)
class Application:
    """The one SP-API application: LWA credentials and its Seller Central identity."""

    client_id: str
    client_secret: str
    application_id: str  # amzn1.sp.solution.<uuid>, what the consent URL names

    def accepts_redirect(self, uri: str) -> bool:
        """The registered redirect-URI policy: any plain-http loopback URI.

        Amazon only redirects to URIs registered for the app; the simulator cannot know
        the app's address in advance, so it registers every ``http://127.0.0.1[:port]/…``
        and ``http://localhost[:port]/…`` and nothing else (a fragment is refused, as
        OAuth redirect URIs must not carry one).
        """
        try:
            parts = urlsplit(uri)
            port = parts.port  # ValueError when malformed or out of range
        except ValueError:
            return False
        return (
            parts.scheme == "http"
            and parts.hostname in LOOPBACK_HOSTS
            and port != 0
            and not parts.username
            and not parts.password
            and not parts.fragment
        )


@dataclass
class LwaStats:
    grants: int = 0  # every successful grant, whatever its type
    refresh_grants: int = 0
    errors: int = 0


@dataclass(frozen=True)
class AccessToken:
    """What an issued access token stands for: a seller, or (grantless) only its scopes."""

    seller_id: str | None  # None: a grantless token
    expiry: float
    scopes: frozenset[str] = field(default_factory=frozenset)


@dataclass
class LwaResult:
    status: int
    body: dict[str, object]


def _oauth_error(status: int, error: str, description: str) -> LwaResult:
    return LwaResult(status, {"error": error, "error_description": description})


def _missing(name: str) -> LwaResult:
    return _oauth_error(
        400, "invalid_request", f"The request is missing a required parameter : {name}"
    )


def _bad_grant(name: str) -> LwaResult:
    return _oauth_error(
        400, "invalid_grant", f"The request has an invalid grant parameter : {name}"
    )


class Lwa:
    """LWA state: the application, each seller's refresh token, codes, access tokens."""

    def __init__(self, config: SimConfig, clock: Clock, world: World) -> None:
        rng = seeded(config, "application")
        self.app = Application(
            client_id="amzn1.application-oa2-client." + hex_text(rng, 32),
            client_secret="amzn1.oa2-cs.v1." + hex_text(rng, 64),
            # Drawn after the credentials so adding it left them unchanged per seed.
            application_id="amzn1.sp.solution."
            + str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        )
        self.config = config
        self.clock = clock
        self.stats = LwaStats()
        self.revoked: set[str] = set()
        self.refresh_tokens: dict[str, str] = {}  # seller_id → current refresh token
        self._seller_by_refresh: dict[str, str] = {}
        self._indices = {s.seller_id: s.index for s in world.sellers.values()}
        self._generations = dict.fromkeys(self._indices, 0)
        self._codes: dict[str, tuple[str, float]] = {}  # code → (seller_id, expiry)
        self._access: dict[str, AccessToken] = {}
        for seller_id in self._indices:
            self._set_refresh_token(seller_id)

    def _set_refresh_token(self, seller_id: str) -> None:
        rng = seeded(
            self.config, "refresh-token", self._indices[seller_id], self._generations[seller_id]
        )
        old = self.refresh_tokens.get(seller_id)
        self._seller_by_refresh.pop(old or "", None)
        token = "Atzr|IwEB" + token_text(rng, 120)
        self.refresh_tokens[seller_id] = token
        self._seller_by_refresh[token] = seller_id

    def grant(self, form: Mapping[str, str]) -> LwaResult:
        result = self._grant(form)
        if result.status == 200:
            self.stats.grants += 1
            self.stats.refresh_grants += int(form.get("grant_type") == "refresh_token")
        else:
            self.stats.errors += 1
        return result

    def _grant(self, form: Mapping[str, str]) -> LwaResult:
        grant_type = form.get("grant_type", "")
        if not grant_type:
            return _missing("grant_type")
        if grant_type not in GRANT_TYPES:
            return _oauth_error(
                400,
                "unsupported_grant_type",
                "The authorization grant type is not supported by the authorization server",
            )
        for name in ("client_id", "client_secret"):
            if not form.get(name):
                return _missing(name)
        if (
            form["client_id"] != self.app.client_id
            or form["client_secret"] != self.app.client_secret
        ):
            return _oauth_error(401, "invalid_client", "Client authentication failed")
        if grant_type == "refresh_token":
            return self._refresh(form.get("refresh_token", ""))
        if grant_type == "client_credentials":
            return self._client_credentials(form.get("scope", ""))
        return self._exchange(form.get("code", ""))

    def _refresh(self, refresh_token: str) -> LwaResult:
        if not refresh_token:
            return _missing("refresh_token")
        seller_id = self._seller_by_refresh.get(refresh_token)
        if seller_id is None or seller_id in self.revoked:
            return _bad_grant("refresh_token")
        return self._issue(seller_id)

    def _exchange(self, code: str) -> LwaResult:
        if not code:
            return _missing("code")
        seller_id, expiry = self._codes.pop(code, ("", 0.0))  # single use: gone once tried
        if not seller_id or self.clock.now() > expiry:
            return _bad_grant("code")
        if seller_id in self.revoked:
            self._reauthorize(seller_id)
        return self._issue(seller_id)

    def _client_credentials(self, scope: str) -> LwaResult:
        scopes = frozenset(scope.split())  # OAuth: space-delimited
        if not scopes:
            return _missing("scope")
        if not scopes <= SCOPES:
            return _oauth_error(
                400, "invalid_scope", "The requested scope is invalid, unknown, or malformed."
            )
        token = self._new_token(AccessToken(None, self._expiry(), scopes))
        return LwaResult(
            200,
            {
                "access_token": token,
                "scope": " ".join(sorted(scopes)),
                "token_type": "bearer",
                "expires_in": self.config.token_ttl_seconds,
            },
        )

    def _reauthorize(self, seller_id: str) -> None:
        self._generations[seller_id] += 1
        self._set_refresh_token(seller_id)
        self.revoked.discard(seller_id)

    def _issue(self, seller_id: str) -> LwaResult:
        ttl = self.config.token_ttl_seconds
        token = self._new_token(AccessToken(seller_id, self._expiry()))
        return LwaResult(
            200,
            {
                "access_token": token,
                "refresh_token": self.refresh_tokens[seller_id],
                "token_type": "bearer",
                "expires_in": ttl,
            },
        )

    def _expiry(self) -> float:
        return self.clock.now() + self.config.token_ttl_seconds

    def _new_token(self, access: AccessToken) -> str:
        token = "Atza|IwEB" + secrets.token_urlsafe(96)
        self._forget_long_expired()
        self._access[token] = access
        return token

    def _forget_long_expired(self) -> None:
        # Bounded memory for long demos; a token a full TTL past expiry reads as invalid.
        if len(self._access) < 10_000:
            return
        cutoff = self.clock.now() - self.config.token_ttl_seconds
        self._access = {t: v for t, v in self._access.items() if v.expiry > cutoff}

    def new_code(self, seller_id: str) -> str:
        code = "AN" + secrets.token_hex(10)
        self._codes[code] = (seller_id, self.clock.now() + CODE_TTL_SECONDS)
        return code

    def principal(self, form: Mapping[str, str]) -> str:
        """Whom a grant is for, as faults name it: the seller of a refresh token, else the
        application."""
        seller_id = self._seller_by_refresh.get(form.get("refresh_token", ""))
        return seller_id or self.app.application_id

    def revoke(self, seller_id: str) -> None:
        self.revoked.add(seller_id)

    def seller_for(self, access_token: str | None) -> str:
        """The seller an ``x-amz-access-token`` belongs to, or 403 as SP-API answers
        (also for a grantless token: it stands for no seller)."""
        access = self._valid(access_token)
        if access.seller_id is None:
            raise unauthorized(WRONG_TOKEN_KIND)
        return access.seller_id

    def check_grantless(self, access_token: str | None, scope: str) -> None:
        """403 unless ``access_token`` is a live grantless token carrying ``scope``."""
        access = self._valid(access_token)
        if access.seller_id is not None or scope not in access.scopes:
            raise unauthorized(WRONG_TOKEN_KIND)

    def _valid(self, access_token: str | None) -> AccessToken:
        access = self._access.get(access_token or "")
        if access is None:
            raise unauthorized(TOKEN_INVALID)
        if self.clock.now() > access.expiry:
            raise unauthorized(TOKEN_EXPIRED)
        return access


def token_route(
    lwa: Lwa, faults: FaultBook | None = None
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """``POST /auth/o2/token``; an ``lwa_outage`` fault answers 503 instead."""
    outage = frozenset({LWA_OUTAGE})

    async def handle(request: web.Request) -> web.Response:
        form = await _form(request)
        if faults is not None and faults.take(LWA_OPERATION, lwa.principal(form), outage):
            result = _oauth_error(503, "temporarily_unavailable",
                                  "The authorization server is temporarily unavailable")
        else:
            result = lwa.grant(form)
        headers = {
            "Cache-Control": "no-store",
            "Pragma": "no-cache",
            "x-amzn-RequestId": str(uuid.uuid4()),
        }
        return web.json_response(result.body, status=result.status, headers=headers)

    return handle


async def _form(request: web.Request) -> dict[str, str]:
    """Form fields (LWA's documented encoding); JSON and HTTP Basic client auth also work."""
    if request.content_type == "application/json":
        try:
            data = json.loads(await request.text())
        except ValueError:
            data = {}
        form = {k: str(v) for k, v in data.items()} if isinstance(data, dict) else {}
    else:
        form = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
    for key, value in _basic_auth(request.headers.get("Authorization", "")).items():
        form.setdefault(key, value)
    return form


def _basic_auth(header: str) -> dict[str, str]:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return {}
    try:
        client_id, _, secret = base64.b64decode(encoded).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return {}
    return {"client_id": client_id, "client_secret": secret}
