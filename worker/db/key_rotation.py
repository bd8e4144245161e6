"""Re-encrypt every stored refresh token with the keyring's newest key, resumably.

Rows are taken in small batches (``FOR NO KEY UPDATE SKIP LOCKED``), each batch one
transaction, so an interrupted rotation keeps what it did and the next run continues with the
rows still under an old key. ``NO KEY``: every transaction that writes a seller's mirror rows
holds a ``KEY SHARE`` lock on its ``sellers`` row (the foreign-key check), which a plain
``FOR UPDATE`` would conflict with, so a busy seller would be skipped for as long as it syncs.
A row another writer really holds (an operator's reauth) is waited for, up to ``wait``
seconds. Workers keep running throughout: every process must already list the new key (first)
and the old ones (after it), so each row decrypts before and after its rewrite.
A row whose key is not in the keyring is reported, never touched.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Engine, func, select, update

from worker.crypto import Keyring
from worker.db.models import Seller


@dataclass
class Rotation:
    rotated: int = 0
    already_current: int = 0
    unreadable: list[str] = field(default_factory=list)  # selling partner ids (key missing)
    remaining: int = 0  # under an old key when this run started
    left: int = 0  # under an old key when it ended (unreadable, or locked by a writer)


def pending(engine: Engine, primary: str) -> int:
    """Tokens not yet under ``primary``."""
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(Seller).where(
            Seller.refresh_token_enc.is_not(None),
            Seller.refresh_token_kid.is_distinct_from(primary))).scalar_one())


def rotate(engine: Engine, keyring: Keyring, *, batch: int = 100,
           progress: Callable[[Rotation], None] | None = None, wait: float = 30.0) -> Rotation:
    """Re-encrypt with ``keyring.primary`` every token under another key; rows locked by
    another writer are retried for up to ``wait`` seconds, then counted in ``left``."""
    result = Rotation(remaining=pending(engine, keyring.primary))
    with engine.connect() as conn:
        result.already_current = int(conn.execute(select(func.count()).select_from(Seller)
                                                  .where(Seller.refresh_token_kid
                                                         == keyring.primary)).scalar_one())
    skip: set[int] = set()  # unreadable rows: seen once, never retried in this run
    deadline = time.monotonic() + wait
    while True:
        with engine.begin() as conn:  # one transaction per batch: the locks hold to the end
            rows = conn.execute(
                select(Seller.id, Seller.selling_partner_id, Seller.refresh_token_enc,
                       Seller.refresh_token_kid)
                .where(Seller.refresh_token_enc.is_not(None),
                       Seller.refresh_token_kid.is_distinct_from(keyring.primary),
                       Seller.id.not_in(skip) if skip else Seller.id.is_not(None))
                .order_by(Seller.id).limit(batch)
                .with_for_update(skip_locked=True, key_share=True)).all()
            for row in rows:
                kid = row.refresh_token_kid or ""
                if kid not in keyring.keys:
                    skip.add(row.id)
                    result.unreadable.append(row.selling_partner_id)
                    continue
                plain = keyring.decrypt(row.refresh_token_enc, kid, row.selling_partner_id)
                blob, new_kid = keyring.encrypt(plain, row.selling_partner_id)
                conn.execute(update(Seller).where(Seller.id == row.id).values(
                    refresh_token_enc=blob, refresh_token_kid=new_kid, updated_at=func.now()))
                result.rotated += 1
        if rows:
            if progress is not None:
                progress(result)
            continue
        if pending(engine, keyring.primary) <= len(skip) or time.monotonic() >= deadline:
            break
        time.sleep(0.2)  # what is left is held by another writer's transaction
    result.left = pending(engine, keyring.primary)
    return result
