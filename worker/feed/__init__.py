"""Following the change feed from Python: :func:`follow` and :func:`follow_in_db`.

Downstream systems that read spsync's database learn what changed from ``spsync_changes()``
(docs/schema.md, "The change feed"); this package is that reader, with each consumer's
position kept in ``feed_consumers``. It uses :mod:`worker.db` only.
"""

from __future__ import annotations

from worker.db.changes import Change
from worker.feed.follow import follow, follow_in_db

__all__ = ["Change", "follow", "follow_in_db"]
