"""Sellers: registration with an encrypted refresh token, lookup, enable/disable."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import Connection, func, select, update
from sqlalchemy.dialects.postgresql import insert

from worker.db.models import Seller
from worker.db.state import ensure_streams


class Cipher(Protocol):
    def encrypt(self, plaintext: str, aad: str) -> tuple[bytes, str]: ...
    def decrypt(self, blob: bytes, kid: str, aad: str) -> str: ...


class UnknownSellerError(LookupError):
    pass


@dataclass(frozen=True)
class SellerRecord:
    id: int
    selling_partner_id: str
    region: str
    marketplace_ids: list[str]
    orders_api_version: str
    enabled: bool
    disabled_reason: str | None
    refresh_token: str | None = field(default=None, repr=False)


def upsert_seller(
    conn: Connection,
    cipher: Cipher,
    *,
    selling_partner_id: str,
    region: str,
    marketplace_ids: list[str],
    refresh_token: str,
    streams: list[str],
    orders_api_version: str = "2026-01-01",
    name: str | None = None,
) -> int:
    """Create or update (and re-enable) a seller; returns its id. Also creates its streams
    (``worker.sync.catalog.streams_for`` says which)."""
    blob, kid = cipher.encrypt(refresh_token, aad=selling_partner_id)
    values = {
        "selling_partner_id": selling_partner_id, "region": region.upper(),
        "marketplace_ids": marketplace_ids, "orders_api_version": orders_api_version,
        "refresh_token_enc": blob, "refresh_token_kid": kid, "name": name,
        "enabled": True, "disabled_reason": None,
    }
    stmt = insert(Seller).values(**values)
    upsert = stmt.on_conflict_do_update(
        index_elements=[Seller.selling_partner_id],
        set_={k: stmt.excluded[k] for k in values if k != "selling_partner_id"}
        | {"updated_at": func.now()},
    ).returning(Seller.id)
    seller_id = int(conn.execute(upsert).scalar_one())
    ensure_streams(conn, seller_id, streams)
    return seller_id


def get_seller(conn: Connection, seller_id: int, cipher: Cipher | None = None) -> SellerRecord:
    row = conn.execute(_SELECT.where(Seller.id == seller_id)).one_or_none()
    if row is None:
        raise UnknownSellerError(f"no seller with id {seller_id}")
    return _record(row, cipher)


def find_seller(conn: Connection, ref: str) -> SellerRecord:
    """By numeric id or selling partner id."""
    cond = Seller.id == int(ref) if ref.isdigit() else Seller.selling_partner_id == ref
    row = conn.execute(_SELECT.where(cond)).one_or_none()
    if row is None:
        raise UnknownSellerError(f"no seller {ref!r}")
    return _record(row, None)


def list_sellers(conn: Connection) -> list[SellerRecord]:
    return [_record(r, None) for r in conn.execute(_SELECT.order_by(Seller.id))]


def disable_seller(conn: Connection, seller_id: int, reason: str) -> None:
    conn.execute(update(Seller).where(Seller.id == seller_id).values(
        enabled=False, disabled_reason=reason[:500], updated_at=func.now()))


_SELECT = select(*Seller.__table__.c)


def _record(row: Any, cipher: Cipher | None) -> SellerRecord:
    token = None
    if cipher is not None and row.refresh_token_enc is not None and row.refresh_token_kid:
        token = cipher.decrypt(row.refresh_token_enc, row.refresh_token_kid, row.selling_partner_id)
    return SellerRecord(
        id=row.id, selling_partner_id=row.selling_partner_id, region=row.region,
        marketplace_ids=list(row.marketplace_ids), orders_api_version=row.orders_api_version,
        enabled=row.enabled, disabled_reason=row.disabled_reason, refresh_token=token,
    )
