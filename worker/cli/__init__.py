"""Operator commands, registered as celery subcommands (``celery -A worker <command>``).

Every command exits non-zero with one clear line on bad input and never prints a secret.
"""


from __future__ import annotations

import sys
from typing import Any

import click

# Celery ships its own ``migrate`` (move tasks between brokers) and ``status`` (list workers)
# and registers them *after* plugin commands, so ours would be silently replaced. When Celery
# loads this module through the ``celery.commands`` entry point, the group being built is a
# local named ``group`` in click-plugins' decorator; we make it keep our two names. Celery's
# worker listing stays available as ``celery -A worker inspect ping``.
# No supported way exists (checked for Celery 5.7 and click-plugins 1.1.1.2): Celery offers no
# hook to replace a built-in, click-plugins cannot override a command (click-contrib/
# click-plugins#29), and renaming ours would change the command every deployment runs before
# a rollout (compose's and Kubernetes' `migrate`). So the walk stays, guarded:
# tests/e2e/test_cli_processes.py fails if a Celery or click-plugins upgrade breaks this.
OURS = frozenset({"migrate", "status"})


class _KeepOurs(dict[str, Any]):
    def __setitem__(self, name: str, command: Any) -> None:
        if name in OURS and name in self and getattr(command, "callback", None) is not None \
                and not command.callback.__module__.startswith("worker."):
            return
        super().__setitem__(name, command)


def _claim_names() -> None:
    frame = sys._getframe(1)
    for _ in range(40):
        if frame is None:
            return
        group = frame.f_locals.get("group")
        if isinstance(group, click.Group) and not isinstance(group.commands, _KeepOurs):
            group.commands = _KeepOurs(group.commands)
            return
        frame = frame.f_back  # type: ignore[assignment]


_claim_names()

# The commands, re-exported for the entry points in pyproject.toml (``worker.cli:<name>``).
from worker.cli import invitations as _invitations  # noqa: E402, F401 - adds sellers invite...
from worker.cli.backfill import backfill  # noqa: E402
from worker.cli.changes import changes  # noqa: E402
from worker.cli.keys import rotate_key  # noqa: E402
from worker.cli.notifications import notifications  # noqa: E402
from worker.cli.outbox import listing, outbox, ship  # noqa: E402
from worker.cli.run import migrate  # noqa: E402
from worker.cli.sellers import sellers  # noqa: E402
from worker.cli.status import status  # noqa: E402
from worker.cli.web import web  # noqa: E402

__all__ = ["backfill", "changes", "listing", "migrate", "notifications", "outbox", "rotate_key",
           "sellers", "ship", "status", "web"]
