"""``celery -A worker changes tail|positions|prune``: the change feed, for operators."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import click

from worker.cli.common import cli_runtime, operator_command


@click.group(help="The change feed downstream systems follow (docs/schema.md, \"The change "
             "feed\"): show it, each consumer's position, and prune what all have read.\n\n"
             "Example: celery -A worker changes tail --follow")
def changes() -> None:
    pass


@changes.command("tail", help="Changes in feed order: after --after POS, or else the last "
                 "--limit ones. One line each: position, entity, seller, operation, key, "
                 "changed_at. Only changes no running transaction can still add to are "
                 "shown.\n\nExample: celery -A worker changes tail --after 0 --json")
@click.option("--after", "after", default=None, metavar="POS",
              help="Start after this position (as the feed prints it; 0: the beginning).")
@click.option("--limit", "limit", default="20", show_default=True,
              help="Without --after: how many of the last changes to show; with it, how many "
                   "to read per batch.")
@click.option("--follow", "keep_going", is_flag=True,
              help="Keep printing changes as they commit (wakes on NOTIFY; Ctrl-C stops).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@operator_command
def changes_tail(after: str | None, limit: str, keep_going: bool, as_json: bool) -> None:
    from worker.db import changes as feed

    count = _whole(limit, "--limit", low=1, high=100_000)
    start = feed.parse_position(after) if after is not None else None
    rt = cli_runtime()
    with rt.engine.begin() as conn:
        shown = feed.read(conn, start, count) if start is not None else feed.latest(conn, count)
    position = _echo(shown, as_json, start or 0)
    if keep_going:
        _follow(rt.engine, position, count, as_json)


@changes.command("positions", help="Every consumer's position and lag: changes behind, and "
                 "the age of the oldest one it has not read.\n\n"
                 "Example: celery -A worker changes positions --json")
@click.option("--json", "as_json", is_flag=True, help="One JSON array.")
@operator_command
def changes_positions(as_json: bool) -> None:
    from worker.db import changes as feed

    rt = cli_runtime()
    with rt.engine.begin() as conn:
        rows = feed.lags(conn)
    now = datetime.now(UTC)
    listed = [{"consumer": r.name, "position": str(r.position), "behind": r.behind,
               "oldest_unread_age_seconds": round((now - r.oldest_unread).total_seconds(), 1)
               if r.oldest_unread else None, "updated_at": r.updated_at.isoformat()}
              for r in rows]
    if as_json:
        click.echo(json.dumps(listed))
        return
    if not listed:
        click.echo("no consumers")
    for r in listed:
        age = r["oldest_unread_age_seconds"]
        click.echo(f"{r['consumer']}: position {r['position']}, {r['behind']} behind"
                   + (f", oldest unread {age}s old" if age is not None else "")
                   + f", updated {r['updated_at']}")


@changes.command("prune", help="Delete the changes every registered consumer has read and "
                 "that are older than --keep-days. With no consumer registered, everything "
                 "older goes. Run it daily (e.g. a cron job).\n\n"
                 "Example: celery -A worker changes prune --keep-days 7")
@click.option("--keep-days", "keep_days", default="7", show_default=True,
              help="Keep changes younger than this many days (0 or more; fractions allowed).")
@operator_command
def changes_prune(keep_days: str) -> None:
    from worker.db import changes as feed

    try:
        days = float(keep_days)
    except ValueError:
        raise ValueError(f"--keep-days must be a number of days; got {keep_days!r}") from None
    if not 0 <= days <= 36_500:  # also refuses nan and inf
        raise ValueError(f"--keep-days must be between 0 and 36500; got {keep_days!r}")
    rt = cli_runtime()
    with rt.engine.begin() as conn:
        deleted = feed.prune(conn, days)
    click.echo(f"pruned {deleted} changes")


def _whole(value: str, name: str, *, low: int, high: int) -> int:
    if not value.strip().isdigit() or not low <= int(value) <= high:
        raise ValueError(f"{name} must be a whole number from {low} to {high}; got {value!r}")
    return int(value)


def _echo(rows: Iterable[Any], as_json: bool, position: int) -> int:
    """Print ``rows``; return the position of the last one (or ``position``)."""
    for c in rows:
        if as_json:
            click.echo(json.dumps({"position": str(c.position), "entity": c.entity,
                                   "seller": c.seller_id, "operation": c.operation,
                                   "key": c.key, "changed_at": c.changed_at.isoformat()}))
        else:
            click.echo(f"{c.position} {c.entity} seller={c.seller_id} {c.operation} "
                       f"{json.dumps(c.key, sort_keys=True)} {c.changed_at.isoformat()}")
        position = c.position
    return position


def _follow(engine: Any, position: int, batch: int, as_json: bool) -> None:
    """Print each change as it commits, without a consumer position of its own."""
    from worker.feed.follow import tail

    tail(engine, position, lambda rows: _echo(rows, as_json, position), batch=batch)
