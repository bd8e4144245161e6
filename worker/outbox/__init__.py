"""Write-back through the ``outbox`` table: Amazon gets each command at most once.

Downstream systems (or :func:`enqueue_command`) insert rows with ``seller_id``,
``command`` (confirmShipment, patchListingsItem, deleteListingsItem, createInboundPlan),
``params`` (:mod:`worker.outbox.params`) and an optional ``idempotency_key``. The
``spsync.process_outbox`` task (beat, every dispatch interval) sweeps the table
(:func:`worker.outbox.run.process_due`)::

    pending ──claim: params bad──────────────────────────────> rejected   (never sent)
    pending ──claim: commit 'sending' BEFORE the request──> sending
    sending ──2xx──> accepted | rejected (INVALID, issues kept) | polling (createInboundPlan)
    sending ──certainly not applied, transient (429, no connection)──> pending (later)
                                            ... after Timing.max_attempts ──> failed
    sending ──certainly not applied, final (Amazon's 4xx, authorization gone)──> failed
    sending ──answer lost (5xx, timeout, reset, worker died)──> reconcile ──> accepted
                                            | failed (provably not applied) | unknown
    polling ──getInboundOperationStatus──> accepted (SUCCESS) | rejected (FAILED) | unknown

**The guarantee: at-most-once sending.** ``sending`` is committed before a request
leaves. A command is transmitted again only when the previous attempt certainly was not
applied and may work later: Amazon answered 429 (it throttles before doing anything), the
connection never opened, or the LWA token could not be had (the request never left). A
4xx refusal is not applied either, but it is final (``failed``). Every other outcome ends
the sending for good: a 5xx, a timeout, a dropped connection, an unreadable answer, or a
worker that died after committing ``sending``. The command is reconciled instead:
Amazon's state is read (getOrderItems, getListingsItem) and, if it shows the effect, the
command is ``accepted``; otherwise, after a window, it is ``unknown``, for an operator to
check and re-queue by hand. It is never retried blindly. Retries inside
``SpApiClient.call`` obey the same rule (``idempotent=False``). A ``sending`` row whose
worker may still be alive is not touched: it is reconciled only once its lease
(:class:`worker.outbox.context.Timing`) has run out.

What this does *not* give: exactly-once. A command whose answer is lost, and whose effect
cannot be seen, stays ``unknown`` even if Amazon did apply it. And ``accepted`` by
reconciliation means that Amazon's state shows the goal (the items shipped, the listing
gone), not that this very request caused it.
"""

from __future__ import annotations

from worker.outbox.commands import COMMANDS
from worker.outbox.enqueue import InvalidCommand, enqueue_command

__all__ = ["COMMANDS", "InvalidCommand", "enqueue_command"]
