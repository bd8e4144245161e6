"""Sellers: registration with an encrypted refresh token, lookup, enable/disable."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import Connection, func, select, update
from sqlalchemy.dialects.postgresql import insert

from worker.db.models import Seller
from worker.db.state import enable_streams, ensure_streams
from worker.spapi.identifiers import check_selling_partner_id

BIGINT_MAX = 2**63 - 1  # sellers.id (and every id spsync hands out) is a bigint


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
    finances_api_version: str = "2024-06-19"


def upsert_seller(
    conn: Connection,
    cipher: Cipher,
    *,
    selling_partner_id: str,
    region: str,
    marketplace_ids: list[str],
    refresh_token: str,
    streams: list[str],
    orders_api_version: str | None = None,
    name: str | None = None,
    finances_api_version: str | None = None,
) -> int:
    """Create or update (and re-enable) a seller; returns its id. Also creates its streams
    (``worker.sync.catalog.streams_for`` says which).

    ``orders_api_version`` None: 2026-01-01 for a new seller, unchanged for a known one (a
    seller re-authorizing through the web app keeps the API an operator chose); ``name``
    None likewise keeps a known seller's name, and ``finances_api_version`` None the finances
    API (2024-06-19 for a new seller; a sync moves a seller refused it to v0).
    """
    values = _values(cipher, selling_partner_id, region, marketplace_ids, refresh_token,
                     orders_api_version, name)
    if finances_api_version is not None:
        values["finances_api_version"] = finances_api_version
    keep = {"selling_partner_id", *(() if orders_api_version else ("orders_api_version",)),
            *(() if name else ("name",))}
    stmt = insert(Seller).values(**values)
    upsert = stmt.on_conflict_do_update(
        index_elements=[Seller.selling_partner_id],
        set_={k: stmt.excluded[k] for k in values if k not in keep}
        | {"updated_at": func.now()},
    ).returning(Seller.id)
    seller_id = int(conn.execute(upsert).scalar_one())
    ensure_streams(conn, seller_id, streams)
    enable_streams(conn, seller_id)  # registered again: its refused streams are tried again
    return seller_id


def create_seller(
    conn: Connection, cipher: Cipher, *, selling_partner_id: str, region: str,
    marketplace_ids: list[str], refresh_token: str, streams: list[str], name: str | None = None,
) -> int | None:
    """Insert a seller not known yet; None (and nothing written) when the id is taken."""
    values = _values(cipher, selling_partner_id, region, marketplace_ids, refresh_token,
                     None, name)
    stmt = insert(Seller).values(**values).on_conflict_do_nothing(
        index_elements=[Seller.selling_partner_id]).returning(Seller.id)
    found = conn.execute(stmt).scalar_one_or_none()
    if found is None:
        return None
    ensure_streams(conn, int(found), streams)
    return int(found)


def _values(cipher: Cipher, selling_partner_id: str, region: str, marketplace_ids: list[str],
            refresh_token: str, orders_api_version: str | None,
            name: str | None) -> dict[str, Any]:
    check_selling_partner_id(selling_partner_id)
    blob, kid = cipher.encrypt(refresh_token, aad=selling_partner_id)
    return {
        "selling_partner_id": selling_partner_id, "region": region.upper(),
        "marketplace_ids": marketplace_ids,
        "orders_api_version": orders_api_version or "2026-01-01",
        "refresh_token_enc": blob, "refresh_token_kid": kid, "name": name,
        "enabled": True, "disabled_reason": None,
    }


def get_seller(conn: Connection, seller_id: int, cipher: Cipher | None = None) -> SellerRecord:
    row = conn.execute(_SELECT.where(Seller.id == seller_id)).one_or_none()
    if row is None:
        raise UnknownSellerError(f"no seller with id {seller_id}")
    return _record(row, cipher)


def find_seller(conn: Connection, ref: str) -> SellerRecord:
    """By numeric id or selling partner id."""
    numeric = ref.isascii() and ref.isdigit()
    if numeric and int(ref) > BIGINT_MAX:  # no such id can exist (and Postgres would refuse it)
        raise UnknownSellerError(f"no seller {ref!r}")
    cond = Seller.id == int(ref) if numeric else Seller.selling_partner_id == ref
    row = conn.execute(_SELECT.where(cond)).one_or_none()
    if row is None:
        raise UnknownSellerError(f"no seller {ref!r}")
    return _record(row, None)


def seller_exists(conn: Connection, selling_partner_id: str) -> bool:
    return conn.execute(select(Seller.id).where(
        Seller.selling_partner_id == selling_partner_id)).first() is not None


def list_sellers(conn: Connection) -> list[SellerRecord]:
    return [_record(r, None) for r in conn.execute(_SELECT.order_by(Seller.id))]


def disable_seller(conn: Connection, seller_id: int, reason: str) -> None:
    conn.execute(update(Seller).where(Seller.id == seller_id).values(
        enabled=False, disabled_reason=reason[:500], updated_at=func.now()))


def enable_seller(conn: Connection, seller_id: int) -> None:
    """Let the dispatcher claim the seller's streams again, the ones Amazon refused it too
    (:func:`~worker.db.state.disable_stream`); clears ``disabled_reason``."""
    done = conn.execute(update(Seller).where(Seller.id == seller_id).values(
        enabled=True, disabled_reason=None, updated_at=func.now()))
    if not done.rowcount:
        raise UnknownSellerError(f"no seller with id {seller_id}")
    enable_streams(conn, seller_id)


def set_api_version(conn: Connection, seller_id: int, setting: str, version: str) -> None:
    """Move the seller to another API version for the kinds that read ``setting`` (a
    ``sellers`` column; its CHECK constraint refuses a version spsync cannot read)."""
    if setting not in ("orders_api_version", "finances_api_version"):
        raise ValueError(f"no API version setting {setting!r}")
    conn.execute(update(Seller).where(Seller.id == seller_id).values(
        {setting: version, "updated_at": func.now()}))


def set_refresh_token(conn: Connection, cipher: Cipher, seller_id: int,
                      refresh_token: str) -> str:
    """Store a new refresh token (encrypted, bound to the seller) and re-enable the seller.

    Returns the id of the key that encrypted it.
    """
    spid = conn.execute(select(Seller.selling_partner_id).where(Seller.id == seller_id)
                        .with_for_update()).scalar_one_or_none()
    if spid is None:
        raise UnknownSellerError(f"no seller with id {seller_id}")
    blob, kid = cipher.encrypt(refresh_token, aad=spid)
    conn.execute(update(Seller).where(Seller.id == seller_id).values(
        refresh_token_enc=blob, refresh_token_kid=kid, enabled=True, disabled_reason=None,
        updated_at=func.now()))
    enable_streams(conn, seller_id)  # a new grant may carry the roles a stream lacked
    return kid


def describe_seller(conn: Connection, seller_id: int) -> dict[str, Any]:
    """Everything about the seller row an operator may see: never the token, only whether
    one is stored and under which key id."""
    row = conn.execute(_SELECT.where(Seller.id == seller_id)).one_or_none()
    if row is None:
        raise UnknownSellerError(f"no seller with id {seller_id}")
    stored = row.refresh_token_enc is not None and bool(row.refresh_token_kid)
    return {
        "id": row.id, "selling_partner_id": row.selling_partner_id, "name": row.name,
        "region": row.region, "marketplace_ids": list(row.marketplace_ids),
        "orders_api": row.orders_api_version, "finances_api": row.finances_api_version,
        "enabled": row.enabled,
        "disabled_reason": row.disabled_reason,
        "refresh_token": {"stored": stored,
                          "key_id": row.refresh_token_kid if stored else None},
        "created_at": row.created_at, "updated_at": row.updated_at,
    }


_SELECT = select(*Seller.__table__.c)


def _record(row: Any, cipher: Cipher | None) -> SellerRecord:
    token = None
    if cipher is not None and row.refresh_token_enc is not None and row.refresh_token_kid:
        token = cipher.decrypt(row.refresh_token_enc, row.refresh_token_kid, row.selling_partner_id)
    return SellerRecord(
        id=row.id, selling_partner_id=row.selling_partner_id, region=row.region,
        marketplace_ids=list(row.marketplace_ids), orders_api_version=row.orders_api_version,
        enabled=row.enabled, disabled_reason=row.disabled_reason, refresh_token=token,
        finances_api_version=row.finances_api_version,
    )
