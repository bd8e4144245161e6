"""The beat schedule as data: named entries that expire after about one interval."""

from __future__ import annotations

from typing import Any

from worker.config import Settings


def beat_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    every = settings.dispatch_interval_seconds
    return {
        "dispatch-due-streams": {
            "task": "spsync.dispatch_due",
            "schedule": every,
            # A tick nobody ran in time is replaced by the next one, not piled up.
            "options": {"expires": every},
        },
        # Inbox notifications whose enqueued task was lost or failed: retried, then parked.
        "sweep-notifications-inbox": {
            "task": "spsync.process_inbox",
            "schedule": every,
            "options": {"expires": every},
        },
        # Write-back: send due outbox commands, reconcile lost answers, poll operations.
        "process-outbox": {
            "task": "spsync.process_outbox",
            "schedule": every,
            "options": {"expires": every},
        },
    }
