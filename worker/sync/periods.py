"""Whole reporting periods (Brand Analytics reports): pure arithmetic on UTC dates.

Amazon's Brand Analytics reports take a ``reportPeriod`` (DAY, WEEK, MONTH, QUARTER) and
"Requests cannot span multiple periods": ``dataStartTime`` must be a period's first day and
``dataEndTime`` its last (a WEEK runs Sunday to Saturday, e.g. 2021-06-06..2021-06-12 in
``sellingPartnerSearchTermsReport.json``; a MONTH is a calendar month, a QUARTER starts in
January, April, July or October). A stream of these reports reads each period once it has
ended and Amazon has published it; its cursor is the end of the last period read (the
midnight after its last day).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

PERIODS = ("DAY", "WEEK", "MONTH", "QUARTER")


@dataclass(frozen=True)
class Period:
    """One reporting period: ``first`` and ``last`` are dates (both inclusive)."""

    name: str
    first: date
    last: date

    @property
    def start(self) -> datetime:
        """Its first day's midnight (UTC): ``dataStartTime``."""
        return datetime.combine(self.first, time(), tzinfo=UTC)

    @property
    def end(self) -> datetime:
        """A second before the midnight after its last day: ``dataEndTime`` (Amazon reads its
        date, the time is ignored)."""
        return self.after - timedelta(seconds=1)

    @property
    def after(self) -> datetime:
        """The midnight after its last day: the cursor once it was read."""
        return datetime.combine(self.last + timedelta(days=1), time(), tzinfo=UTC)


def period_of(name: str, day: date) -> Period:
    """The period named ``name`` that holds ``day``."""
    if name == "DAY":
        return Period(name, day, day)
    if name == "WEEK":
        first = day - timedelta(days=(day.weekday() + 1) % 7)  # back to Sunday
        return Period(name, first, first + timedelta(days=6))
    if name == "MONTH":
        first = day.replace(day=1)
        return Period(name, first, _next_month(first, 1) - timedelta(days=1))
    if name == "QUARTER":
        first = date(day.year, (day.month - 1) // 3 * 3 + 1, 1)
        return Period(name, first, _next_month(first, 3) - timedelta(days=1))
    raise ValueError(f"unknown report period {name!r} (one of {', '.join(PERIODS)})")


def _next_month(first: date, months: int) -> date:
    n = first.month - 1 + months
    return date(first.year + n // 12, n % 12 + 1, 1)


def following(period: Period) -> Period:
    return period_of(period.name, period.last + timedelta(days=1))


def preceding(period: Period) -> Period:
    return period_of(period.name, period.first - timedelta(days=1))


def due(name: str, cursor: datetime | None, now: datetime, publish_lag: timedelta,
        first_reach: int) -> list[Period]:
    """The periods a run at ``now`` asks for, oldest first: every period after ``cursor``
    that ended at least ``publish_lag`` before ``now`` (Amazon publishes a period some days
    after it ends). A first run (no cursor) reads the last ``first_reach`` such periods.
    A cursor inside a period (the period setting changed) reads that period whole."""
    ceiling = now - publish_lag
    # the period holding the ceiling's day has not ended; the one before it has
    p = preceding(period_of(name, ceiling.astimezone(UTC).date()))
    out: list[Period] = []
    while (len(out) < first_reach) if cursor is None else (p.after > cursor):
        out.append(p)
        p = preceding(p)
    return out[::-1]


def within(name: str, since: datetime, until: datetime) -> list[Period]:
    """The whole periods that start on or after ``since``'s day and end by ``until``, oldest
    first (a backfill's)."""
    p = period_of(name, since.astimezone(UTC).date())
    if p.first < since.astimezone(UTC).date():
        p = following(p)
    out: list[Period] = []
    while p.after <= until:
        out.append(p)
        p = following(p)
    return out
