"""Onboarding invitations: the only way into ``/oauth/start``. Callers own the transactions.

An operator issues one (``sellers invite`` for a new seller, ``sellers reauth`` for a known
one) and hands its URL to the seller. Only the SHA-256 of the secret is stored, so the table
(or a dump of it) opens nothing. An invitation is *used* by the callback that stores its
seller, in that same transaction (:func:`consume`): a seller who abandons the consent page
or whose code Amazon refuses can open the same link again until it expires.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import Connection, func, insert, select, update

from worker.db.models import OnboardingInvitation, Seller

# ``secrets.token_urlsafe(32)``: 43 characters of the URL-safe base64 alphabet.
_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")
MAX_TTL = timedelta(days=30)


@dataclass(frozen=True)
class Invitation:
    id: int
    seller_id: int | None  # set: re-authorize exactly this seller
    selling_partner_id: str | None  # that seller's id (None for a new seller)
    region: str | None  # None: the seller picks one at /oauth/start?region=
    name: str | None
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None
    used_by: str | None
    revoked_at: datetime | None

    @property
    def for_new_seller(self) -> bool:
        return self.seller_id is None

    def state(self, now: datetime) -> str:
        if self.used_at is not None:
            return "used"
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if self.expires_at <= now else "open"


def link(base_url: str, token: str) -> str:
    """The URL a seller opens: the web app's ``/oauth/start`` with the invitation."""
    return f"{base_url.rstrip('/')}/oauth/start?{urlencode({'invitation': token})}"


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def create(conn: Connection, *, now: datetime, ttl: timedelta, region: str | None = None,
           name: str | None = None, seller_id: int | None = None) -> tuple[str, Invitation]:
    """A new invitation and its secret (shown once, never stored)."""
    if not timedelta(minutes=1) <= ttl <= MAX_TTL:
        raise ValueError(f"an invitation lives between 1 minute and {MAX_TTL.days} days")
    token = secrets.token_urlsafe(32)
    new_id = conn.execute(insert(OnboardingInvitation).values(
        token_sha256=_digest(token), seller_id=seller_id, region=region, name=name,
        expires_at=now + ttl).returning(OnboardingInvitation.id)).scalar_one()
    found = get(conn, int(new_id))
    assert found is not None
    return token, found


_I = OnboardingInvitation
_SELECT = (select(_I.id, _I.seller_id, Seller.selling_partner_id, _I.region, _I.name,
                  _I.created_at, _I.expires_at, _I.used_at, _I.used_by, _I.revoked_at)
           .outerjoin(Seller, Seller.id == _I.seller_id))


def get(conn: Connection, invitation_id: int) -> Invitation | None:
    row = conn.execute(_SELECT.where(OnboardingInvitation.id == invitation_id)).one_or_none()
    return None if row is None else _invitation(row)


def find_open(conn: Connection, token: str, now: datetime) -> Invitation | None:
    """The invitation behind ``token`` if it can still be used; None for anything else."""
    if not isinstance(token, str) or not _TOKEN.fullmatch(token):
        return None
    row = conn.execute(_SELECT.where(
        OnboardingInvitation.token_sha256 == _digest(token))).one_or_none()
    if row is None:
        return None
    found = _invitation(row)
    return found if found.state(now) == "open" else None


def consume(conn: Connection, invitation_id: int, selling_partner_id: str,
            now: datetime) -> bool:
    """Mark the invitation used by ``selling_partner_id``; False if it was no longer open
    (used by a racing callback, revoked or expired meanwhile): the caller rolls back."""
    done = conn.execute(update(OnboardingInvitation).where(
        OnboardingInvitation.id == invitation_id, OnboardingInvitation.used_at.is_(None),
        OnboardingInvitation.revoked_at.is_(None), OnboardingInvitation.expires_at > now,
    ).values(used_at=func.now(), used_by=selling_partner_id))
    return bool(done.rowcount)


def revoke(conn: Connection, invitation_id: int) -> bool:
    """Close an open invitation; False if there is none with that id still open."""
    done = conn.execute(update(OnboardingInvitation).where(
        OnboardingInvitation.id == invitation_id, OnboardingInvitation.used_at.is_(None),
        OnboardingInvitation.revoked_at.is_(None)).values(revoked_at=func.now()))
    return bool(done.rowcount)


def recent(conn: Connection, limit: int = 100) -> list[Invitation]:
    rows = conn.execute(_SELECT.order_by(OnboardingInvitation.id.desc()).limit(limit))
    return [_invitation(r) for r in rows]


def _invitation(row: Any) -> Invitation:
    return Invitation(*row)
