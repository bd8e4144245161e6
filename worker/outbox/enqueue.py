"""Putting a command into the outbox from Python (the CLI, tests, an embedding service).

Downstream systems may also ``INSERT`` rows themselves (docs/schema.md). A row whose
``params`` are bad is then ``rejected`` by the worker, never sent.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from worker.db.models import Seller
from worker.db.sellers import UnknownSellerError
from worker.outbox import store
from worker.outbox.params import InvalidParams, check
from worker.spapi.errors import InputError


class InvalidCommand(InputError, ValueError):
    """The command cannot be queued: an unknown command, bad params, or an
    ``idempotency_key`` already used for a different command."""


def enqueue_command(conn: Connection, seller_id: int, command: str, params: dict[str, Any],
                    idempotency_key: str | None = None) -> int:
    """Queue ``command`` for seller ``seller_id`` (``sellers.id``); the outbox row's id.

    ``params`` are checked now (see :mod:`worker.outbox.params`), so a bad command fails
    here with :class:`InvalidCommand` instead of later in the worker. With an
    ``idempotency_key``, queuing the same command again returns the first row's id and
    queues nothing. Runs in the caller's transaction: the row exists once that commits.
    """
    markets = conn.execute(select(Seller.marketplace_ids).where(Seller.id == seller_id)
                           ).scalar_one_or_none()
    if markets is None:
        raise UnknownSellerError(f"no seller with id {seller_id}")
    try:
        check(command, params, markets)
    except InvalidParams as exc:
        raise InvalidCommand(str(exc)) from None
    new_id = store.insert_command(conn, seller_id, command, params, idempotency_key)
    if new_id is not None:
        return new_id
    existing = store.by_key(conn, idempotency_key) if idempotency_key else None
    if existing is None:  # the conflicting row was deleted meanwhile: insert again
        return enqueue_command(conn, seller_id, command, params, idempotency_key)
    if (existing.seller_id, existing.command, existing.params) != (seller_id, command, params):
        raise InvalidCommand(f"idempotency_key {idempotency_key!r} is already used by outbox "
                             f"row {existing.id} for a different command")
    return existing.id
