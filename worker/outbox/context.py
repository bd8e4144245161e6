"""What one outbox run works with: its timing knobs, the connection, the client, the sellers.

The timing derives from the settings that bound a request, so no knob can make a live
sender's row look abandoned. A send is cut at ``send_deadline``: the client's own 429
retries and quota waits plus an LWA refresh and the request itself all fit in it. A
``sending`` row therefore has no live sender once ``lease`` (twice that) has passed since
it was claimed.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy import Connection

from worker.config import Settings
from worker.crypto import Keyring
from worker.db.sellers import SellerRecord, get_seller
from worker.db.workqueue import Retries
from worker.metrics import OUTBOX_COMMANDS
from worker.spapi.client import SellerAuth, SpApiClient

log = structlog.get_logger("worker.outbox")


@dataclass(frozen=True)
class Timing:
    send_deadline: float  # seconds one send may take, everything included; then: answer lost
    lease: timedelta  # a 'sending' row older than this has no live sender: reconcile it
    settle: timedelta  # after a lost answer, wait this long before reading Amazon's state
    reconcile_window: timedelta  # look for the effect this long after sending, then 'unknown'
    poll_first: float  # seconds to the first getInboundOperationStatus; pauses grow to...
    poll_max: float
    poll_timeout: timedelta  # an operation still IN_PROGRESS after this: 'unknown'
    retry_base: float  # a command Amazon certainly did not apply (429, no connection)
    retry_cap: float  # waits retry_base x 2^(attempt-1), at most retry_cap, then again
    max_attempts: int  # ... up to this many attempts; then 'failed'

    @classmethod
    def from_settings(cls, s: Settings) -> Timing:
        tries = s.max_retries + 1  # the client's own 429 retries
        deadline = 2 * s.http_timeout_seconds + tries * 2 * s.max_inline_wait_seconds
        lease = timedelta(seconds=2 * deadline)
        return cls(
            send_deadline=deadline, lease=lease, settle=timedelta(seconds=10),
            reconcile_window=2 * lease, poll_first=5.0, poll_max=60.0,
            poll_timeout=timedelta(hours=2), retry_base=30.0, retry_cap=900.0, max_attempts=5,
        )

    @property
    def retries(self) -> Retries:
        """A command Amazon certainly did not apply: sent again later, then ``failed``."""
        return Retries(self.max_attempts, self.retry_base, self.retry_cap)

    def poll_delay(self, age: timedelta) -> float:
        """Pauses between polls grow with the operation's age (half of it), within bounds."""
        return min(self.poll_max, max(self.poll_first, age.total_seconds() / 2))


def utc_now() -> datetime:
    return datetime.now(UTC)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class Context:
    conn: Connection
    client: SpApiClient
    keyring: Keyring
    timing: Timing
    worker: str = field(default_factory=worker_name)
    now: Callable[[], datetime] = utc_now
    visited: set[int] = field(default_factory=set)  # rows this sweep handled: once each
    _sellers: dict[int, SellerRecord] = field(default_factory=dict)

    def seller(self, seller_id: int) -> SellerRecord:
        """The seller (with its refresh token), read once per run; call in a transaction."""
        if seller_id not in self._sellers:
            self._sellers[seller_id] = get_seller(self.conn, seller_id, self.keyring)
        return self._sellers[seller_id]

    def auth(self, seller_id: int) -> SellerAuth:
        seller = self._sellers[seller_id]
        return SellerAuth(seller.selling_partner_id, seller.region, seller.refresh_token or "")


def entered(command: str, status: str, outbox_id: int, seller: str, **event: object) -> None:
    """A row entered ``status`` (committed): count it and log it."""
    OUTBOX_COMMANDS.labels(command, status).inc()
    level = log.warning if status in ("failed", "unknown") else log.info
    level("outbox.status", outbox_id=outbox_id, command=command, status=status, seller=seller,
          **event)
