"""The follow loop: read a batch after the consumer's position, hand it over, commit the
position; when caught up, wait for ``NOTIFY spsync_changes`` (or poll).

Two guarantees, one per entry point:

- :func:`follow_in_db`: the callback gets the transaction's connection; its writes commit
  together with the new position, or neither does. A consumer whose copy lives in this
  database applies every change exactly once, however it is killed and restarted.
- :func:`follow`: the callback runs outside any transaction and the position is committed
  after it returns. A crash in between hands the same batch over again: at-least-once, so a
  callback with effects outside this database (a queue, an API, a file) must be idempotent.

NOTIFY only wakes the loop; what it reads is always the feed. A notification lost (a
connection dropped, a follower started after it) costs at most ``poll_seconds``. ``stop()``
is asked before every batch and after every wait, so it takes effect within ``poll_seconds``.

Reading from a streaming replica (a hot standby, where heavy readers belong): the feed reads
the same there, and skips nothing, because a standby's snapshot counts every transaction it
has not seen end as running (``docs/schema.md``, "The change feed"). A standby refuses
``LISTEN`` and every write, so :func:`follow` takes ``read_from=<replica>``: the changes are
read there, while the consumer's position is kept and ``LISTEN`` runs on the primary; after a
notification it waits (at most ``poll_seconds``) until the replica has replayed what the
primary had written, then reads. :func:`tail` on a replica polls.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
from sqlalchemy import Connection, Engine, text

from worker.db import changes as feed
from worker.db.changes import Change
from worker.db.engine import engine_for

Stop = Callable[[], bool]
# A notification can arrive while an older transaction still holds the feed back; look
# again this soon rather than after a whole poll interval.
RETRY_SECONDS = 0.1


def follow(engine_or_url: Engine | str, consumer: str, handle: Callable[[list[Change]], Any],
           *, batch: int = 500, stop: Stop | None = None, poll_seconds: float = 5.0,
           read_from: Engine | str | None = None) -> None:
    """Hand every change to ``handle`` in batches, at least once, until ``stop()`` is true.

    The position is committed after ``handle`` returns; if ``handle`` raises, it is not, and
    the error propagates (the next run starts with the same batch). ``read_from``: a
    streaming replica of ``engine_or_url`` (the primary) to read the changes from.
    """
    engine = _engine(engine_or_url)
    reader = _engine(read_from) if read_from is not None else engine

    def step() -> tuple[int, bool]:
        with engine.begin() as conn:
            position = feed.claim(conn, consumer)
        with reader.begin() as conn:
            changes = feed.read(conn, position, batch)
        if changes:
            handle(changes)
            with engine.begin() as conn:
                feed.advance(conn, consumer, changes[-1].position)
            position = changes[-1].position
        return len(changes), _pending(reader, position, len(changes), batch)

    _loop(engine, step, stop, poll_seconds, replica=reader if reader is not engine else None)


def follow_in_db(engine_or_url: Engine | str, consumer: str,
                 handle: Callable[[Connection, list[Change]], Any], *, batch: int = 500,
                 stop: Stop | None = None, poll_seconds: float = 5.0) -> None:
    """Hand every change to ``handle(conn, changes)`` in the transaction that commits the
    consumer's position: exactly once for writes made through ``conn``. The consumer's row is
    locked meanwhile, so two followers of one name take turns instead of both applying."""
    engine = _engine(engine_or_url)

    def step() -> tuple[int, bool]:
        with engine.begin() as conn:
            position = feed.claim(conn, consumer)
            changes = feed.read(conn, position, batch)
            if changes:
                handle(conn, changes)
                feed.advance(conn, consumer, changes[-1].position)
                position = changes[-1].position
        return len(changes), _pending(engine, position, len(changes), batch)

    _loop(engine, step, stop, poll_seconds)


def tail(engine_or_url: Engine | str, after: int, handle: Callable[[list[Change]], Any], *,
         batch: int = 500, stop: Stop | None = None, poll_seconds: float = 5.0) -> None:
    """Hand every change after ``after`` to ``handle`` until ``stop()`` is true, keeping the
    position in memory only (no consumer row): ``celery -A worker changes tail --follow``.
    On a streaming replica it polls every ``poll_seconds`` (a standby refuses ``LISTEN``)."""
    engine = _engine(engine_or_url)
    position = after

    def step() -> tuple[int, bool]:
        nonlocal position
        with engine.begin() as conn:
            changes = feed.read(conn, position, batch)
        if changes:
            handle(changes)
            position = changes[-1].position
        return len(changes), _pending(engine, position, len(changes), batch)

    _loop(engine, step, stop, poll_seconds)


def _engine(engine_or_url: Engine | str) -> Engine:
    return engine_for(engine_or_url) if isinstance(engine_or_url, str) else engine_or_url


def _pending(engine: Engine, position: int, read: int, batch: int) -> bool:
    """Whether to read again at once (a full batch) or soon (changes not readable yet)."""
    if read >= batch:
        return True
    with engine.begin() as conn:
        return feed.pending_after(conn, position)


def _loop(engine: Engine, step: Callable[[], tuple[int, bool]], stop: Stop | None,
          poll_seconds: float, *, replica: Engine | None = None) -> None:
    """``step`` until ``stop()``; between steps, wait for a notification on ``engine`` (a
    primary) or ``poll_seconds``, then, with a ``replica`` to read from, for it to replay
    what the primary had written by then."""
    done = stop or (lambda: False)
    with _wakeups(engine) as wakeups:
        while not done():
            read, more = step()
            if more:
                if not read:
                    time.sleep(RETRY_SECONDS)
                continue
            wakeups(poll_seconds)
            if replica is not None:
                replayed(engine, replica, poll_seconds)


def in_recovery(engine: Engine) -> bool:
    """Whether ``engine`` is a standby (a streaming replica)."""
    with engine.connect() as conn:
        return bool(conn.execute(text("SELECT pg_is_in_recovery()")).scalar())


def replayed(primary: Engine, replica: Engine, timeout: float) -> bool:
    """Wait (at most ``timeout``) until ``replica`` has replayed all the WAL ``primary`` had
    inserted when asked (its insert position: a commit made with ``synchronous_commit=off``
    is past the written one); whether it had."""
    with primary.connect() as conn:
        target = conn.execute(text("SELECT pg_current_wal_insert_lsn()")).scalar()
    deadline = time.monotonic() + timeout
    with replica.connect() as conn:
        while True:
            if conn.execute(text("SELECT pg_last_wal_replay_lsn() >= CAST(:t AS pg_lsn)"),
                            {"t": target}).scalar():
                return True
            if time.monotonic() >= deadline:
                return False
            conn.rollback()  # a new snapshot for the next look
            time.sleep(RETRY_SECONDS / 5)


@contextlib.contextmanager
def _wakeups(engine: Engine) -> Iterator[Callable[[float], None]]:
    """:func:`listening` on a primary; on a standby, which refuses ``LISTEN``, a sleep."""
    if in_recovery(engine):
        yield time.sleep
        return
    with listening(engine) as wait:
        yield wait


@contextlib.contextmanager
def listening(engine: Engine) -> Iterator[Callable[[float], None]]:
    """``LISTEN spsync_changes`` on a connection of its own; yields ``wait(seconds)``, which
    returns at the first notification (draining the others) or after ``seconds``."""
    url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url, autocommit=True) as listener:
        listener.execute(f"LISTEN {feed.CHANNEL}")

        def wait(seconds: float) -> None:
            for _ in listener.notifies(timeout=seconds, stop_after=1):
                pass
            for _ in listener.notifies(timeout=0):  # what else arrived meanwhile
                pass

        yield wait
