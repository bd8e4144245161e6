"""One sweep of the outbox, what ``spsync.process_outbox`` runs: reconcile, poll, send.

Plain Python over a :class:`~worker.runtime.Runtime`, so tests call it directly. Any number
of sweeps may run at once (several workers, overlapping beat ticks): every row is claimed
with SKIP LOCKED and a committed state change, so no two sweeps work on the same row.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

import structlog
from sqlalchemy.exc import SQLAlchemyError

from worker.outbox.context import Context, Timing, utc_now
from worker.outbox.follow import poll_next, reconcile_next
from worker.outbox.send import send_next
from worker.runtime import Runtime

log = structlog.get_logger(__name__)


@dataclass
class Sweep:
    reconciled: int = 0
    polled: int = 0
    sent: int = 0  # claimed from pending: sent, or rejected for bad params

    @property
    def total(self) -> int:
        return self.reconciled + self.polled + self.sent


async def process_due(rt: Runtime, *, timing: Timing | None = None, limit: int = 200,
                      now: Callable[[], datetime] = utc_now) -> Sweep:
    """Work off what is due, at most ``limit`` rows of each kind: first the rows whose
    answer was lost (oldest first), then the operations to poll, then the new commands.
    ``now`` is the clock (tests move it instead of waiting out a lease)."""
    timing = timing or Timing.from_settings(rt.settings)
    sweep = Sweep()
    async with rt.spapi() as client:
        with rt.engine.connect() as conn:
            ctx = Context(conn, client, rt.keyring, timing, now=now)
            sweep.reconciled = await _drain(reconcile_next, ctx, limit)
            sweep.polled = await _drain(poll_next, ctx, limit)
            sweep.sent = await _drain(send_next, ctx, limit)
    if sweep.total:
        log.info("outbox.sweep", reconciled=sweep.reconciled, polled=sweep.polled,
                 sent=sweep.sent)
    return sweep


async def _drain(step: Callable[[Context], Awaitable[bool]], ctx: Context, limit: int) -> int:
    """Run ``step`` until nothing is due. A row whose step raises is left as it was (a
    ``sending`` row stays so, to be reconciled) and skipped for the rest of the sweep, so
    one bad row never blocks the rows behind it; a database error ends the sweep."""
    done = 0
    while done < limit:
        try:
            if not await step(ctx):
                break
        except SQLAlchemyError:
            raise
        except Exception as exc:
            log.exception("outbox.step_failed", step=step.__name__,
                          error_type=type(exc).__name__)
        done += 1
    return done


__all__ = ["Sweep", "Timing", "process_due", "utc_now"]
