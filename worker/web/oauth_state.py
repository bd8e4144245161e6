"""OAuth ``state``: random, single use, valid for 10 minutes, kept in Redis.

Only a hash of the state is stored (a Redis dump reveals no usable link). Redeeming is one
``GETDEL``: of two callbacks racing with the same state, exactly one gets it. A state names
the invitation that opened the consent, which says what the callback may do.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import asdict, dataclass
from typing import Any

STATE_TTL_SECONDS = 600
_PREFIX = "spsync:oauth:state:"


@dataclass(frozen=True)
class PendingConsent:
    region: str  # NA | EU | FE: where the seller is sent, and what the seller is registered as
    # The invitation that opened this consent (worker/db/invitations.py): it says which
    # seller, if any, the callback may name.
    invitation_id: int


def _key(state: str) -> str:
    return _PREFIX + hashlib.sha256(state.encode()).hexdigest()


async def issue(redis: Any, consent: PendingConsent, ttl: int = STATE_TTL_SECONDS) -> str:
    """A fresh state for one consent round-trip (``redis`` is a ``redis.asyncio.Redis``)."""
    state = secrets.token_urlsafe(32)
    await redis.set(_key(state), json.dumps(asdict(consent)), ex=ttl, nx=True)
    return state


async def redeem(redis: Any, state: str) -> PendingConsent | None:
    """The consent ``state`` was issued for, once; None when unknown, used or expired."""
    if not state or len(state) > 200:
        return None
    raw = await redis.getdel(_key(state))
    if raw is None:
        return None
    try:
        data = json.loads(raw)
        return PendingConsent(region=str(data["region"]), invitation_id=int(data["invitation_id"]))
    except (ValueError, KeyError, TypeError):  # a state issued before invitations existed
        return None
