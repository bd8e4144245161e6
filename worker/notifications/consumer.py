"""The SQS consumer: long-poll the destination queue, inbox each message, then delete it.

Why a separate long-running process (``celery -A worker notifications consume``) and not a
Celery bootstep: a long poll holds a connection for up to 20 s, and one consumer keeps up
with thousands of messages a second of inbox inserts, so it needs no share of every worker;
it scales on its own (several consumers on one queue are safe: SQS hands each message to one
of them at a time, and the inbox deduplicates redeliveries).

Order of effects per message, the whole safety argument:
1. parse + validate against the type's schema (a bad one is parked in the inbox, then deleted:
   it never blocks the queue nor comes back);
2. insert into ``notifications_inbox`` (deduplicated on NotificationId) and COMMIT;
3. delete from SQS; a crash between 2 and 3 means SQS redelivers after the visibility timeout
   and step 2 finds the NotificationId already there;
4. enqueue the targeted refresh (``spsync.process_notification``); if that is lost, the
   periodic sweep (``spsync.process_inbox``) picks the pending row up.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import structlog
from sqlalchemy import Engine

from worker.metrics import NOTIFICATION_LAG, NOTIFICATIONS
from worker.notifications import inbox
from worker.notifications.envelope import Envelope, InvalidNotification, parse

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Message:
    message_id: str
    receipt: str
    body: str


class Source(Protocol):
    def receive(self) -> list[Message]: ...
    def delete(self, messages: list[Message]) -> None: ...


@dataclass
class ConsumerStats:
    received: int = 0
    recorded: int = 0
    duplicates: int = 0
    parked: int = 0
    polls: int = 0
    errors: int = 0
    last_error: str | None = field(default=None)


class SqsSource:
    """One SQS queue through boto3 (long polling, batch delete)."""

    def __init__(self, queue_url: str, *, endpoint_url: str | None = None,
                 region: str | None = None, wait_seconds: int = 20,
                 visibility_timeout: int = 60, client: Any = None) -> None:
        import boto3

        self.queue_url = queue_url
        self._sqs = client or boto3.client("sqs", endpoint_url=endpoint_url,
                                           region_name=region or _region_of(queue_url))
        self._wait = wait_seconds
        self._visibility = visibility_timeout

    def receive(self) -> list[Message]:
        reply = self._sqs.receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=self._wait,
            VisibilityTimeout=self._visibility)
        return [Message(m["MessageId"], m["ReceiptHandle"], m["Body"])
                for m in reply.get("Messages", [])]

    def delete(self, messages: list[Message]) -> None:
        if not messages:
            return
        reply = self._sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=[
            {"Id": str(i), "ReceiptHandle": m.receipt} for i, m in enumerate(messages)])
        if reply.get("Failed"):  # they come back after the visibility timeout: harmless
            log.warning("sqs.delete_failed", count=len(reply["Failed"]))


def _region_of(queue_url: str) -> str:
    # https://sqs.<region>.amazonaws.com/<account>/<name>
    host = queue_url.split("/")[2] if "//" in queue_url else ""
    parts = host.split(".")
    return parts[1] if len(parts) > 2 and parts[0] == "sqs" else "us-east-1"


def consume_batch(engine: Engine, source: Source, enqueue: Callable[[int], None],
                  stats: ConsumerStats) -> int:
    """One receive: inbox every message, commit, delete them, enqueue the new ones."""
    messages = source.receive()
    stats.polls += 1
    stats.received += len(messages)
    if not messages:
        return 0
    fresh: list[int] = []
    with engine.begin() as conn:
        for m in messages:
            envelope = _envelope(m)
            if isinstance(envelope, str):
                if inbox.park_invalid(conn, m.message_id, m.body, envelope, "sqs"):
                    stats.parked += 1
                    NOTIFICATIONS.labels("INVALID", "parked").inc()
                log.warning("notification.invalid", message_id=m.message_id, error=envelope)
                continue
            inbox_id = inbox.record(conn, envelope, "sqs")
            if inbox_id is None:
                stats.duplicates += 1
            else:
                fresh.append(inbox_id)
                _observe_lag(envelope)
    source.delete(messages)  # only after the commit above
    stats.recorded += len(fresh)
    for inbox_id in fresh:
        enqueue(inbox_id)
    return len(messages)


def _envelope(m: Message) -> Envelope | str:
    try:
        return parse(json.loads(m.body))
    except (ValueError, InvalidNotification) as exc:  # JSONDecodeError is a ValueError
        return f"{type(exc).__name__}: {exc}"[:500]
    except RecursionError:  # nested past Python's stack: parked too, never retried
        return "not a notification: JSON nested too deep to read"


def _observe_lag(envelope: Envelope) -> None:
    meta = envelope.message.get("NotificationMetadata") or envelope.message.get(
        "notificationMetadata") or {}
    published = meta.get("PublishTime") or meta.get("publishTime") if isinstance(meta, dict) \
        else None
    try:
        sent = datetime.fromisoformat(str(published).replace("Z", "+00:00")) if published \
            else envelope.event_time
    except ValueError:
        sent = envelope.event_time
    if sent is not None:
        NOTIFICATION_LAG.observe(max(0.0, (datetime.now(UTC) - sent).total_seconds()))


def run(engine: Engine, source: Source, enqueue: Callable[[int], None], *,
        stop: threading.Event, on_batch: Callable[[ConsumerStats], None] | None = None,
        error_pause: float = 5.0) -> ConsumerStats:
    """Consume until ``stop`` is set; an SQS or database outage pauses, never ends the loop."""
    stats = ConsumerStats()
    while not stop.is_set():
        try:
            if consume_batch(engine, source, enqueue, stats) and on_batch is not None:
                on_batch(stats)
        except Exception as exc:  # keep consuming; the message stays in SQS for later
            stats.errors += 1
            stats.last_error = f"{type(exc).__name__}: {exc}"[:300]
            log.error("notification.consume_failed", error_type=type(exc).__name__,
                      error=str(exc)[:300])
            stop.wait(error_pause)
    return stats


def enqueue_processing(inbox_id: int) -> None:
    """The default ``enqueue``: the Celery task that runs the targeted refresh, by name."""
    from worker import enqueue

    enqueue.send(enqueue.PROCESS_NOTIFICATION, inbox_id)

