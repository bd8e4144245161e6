"""OAuth ``state``: random, single use, valid for 10 minutes, kept in Redis.

Only a hash of the state is stored (a Redis dump reveals no usable link). Redeeming is one
``GETDEL``: of two callbacks racing with the same state, exactly one gets it.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from typing import Any

STATE_TTL_SECONDS = 600
_PREFIX = "spsync:oauth:state:"


@dataclass(frozen=True)
class PendingConsent:
    region: str  # NA | EU | FE: where the seller is sent, and what the seller is registered as


def _key(state: str) -> str:
    return _PREFIX + hashlib.sha256(state.encode()).hexdigest()


async def issue(redis: Any, consent: PendingConsent, ttl: int = STATE_TTL_SECONDS) -> str:
    """A fresh state for one consent round-trip (``redis`` is a ``redis.asyncio.Redis``)."""
    state = secrets.token_urlsafe(32)
    await redis.set(_key(state), json.dumps({"region": consent.region}), ex=ttl, nx=True)
    return state


async def redeem(redis: Any, state: str) -> PendingConsent | None:
    """The consent ``state`` was issued for, once; None when unknown, used or expired."""
    if not state or len(state) > 200:
        return None
    raw = await redis.getdel(_key(state))
    if raw is None:
        return None
    return PendingConsent(region=str(json.loads(raw)["region"]))
