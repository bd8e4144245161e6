"""Whole reporting periods: week, month and quarter boundaries, and what a run asks for given
its cursor and the time (periods Amazon has published, never one still running)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from worker.sync.periods import Period, due, following, period_of, within

LAG = timedelta(days=3)


def test_a_week_runs_sunday_to_saturday_as_in_amazons_example():
    # sellingPartnerSearchTermsReport.json: WEEK 2021-06-06 (a Sunday) .. 2021-06-12
    for day in range(6, 13):
        assert period_of("WEEK", date(2021, 6, day)) == Period("WEEK", date(2021, 6, 6),
                                                               date(2021, 6, 12))
    assert period_of("WEEK", date(2021, 6, 13)).first == date(2021, 6, 13)
    assert period_of("WEEK", date(2025, 1, 1)) == Period("WEEK", date(2024, 12, 29),
                                                         date(2025, 1, 4))  # across years


def test_months_quarters_and_days():
    assert period_of("MONTH", date(2024, 2, 10)) == Period("MONTH", date(2024, 2, 1),
                                                           date(2024, 2, 29))
    assert period_of("MONTH", date(2026, 12, 31)) == Period("MONTH", date(2026, 12, 1),
                                                            date(2026, 12, 31))
    assert period_of("QUARTER", date(2026, 11, 5)) == Period("QUARTER", date(2026, 10, 1),
                                                             date(2026, 12, 31))
    assert period_of("QUARTER", date(2026, 3, 31)).first == date(2026, 1, 1)
    assert period_of("DAY", date(2026, 3, 31)) == Period("DAY", date(2026, 3, 31),
                                                         date(2026, 3, 31))
    assert following(period_of("MONTH", date(2026, 12, 3))).first == date(2027, 1, 1)
    with pytest.raises(ValueError, match="unknown report period"):
        period_of("YEAR", date(2026, 1, 1))


def test_a_period_is_asked_as_whole_days_and_its_end_is_the_next_cursor():
    week = period_of("WEEK", date(2021, 6, 9))
    assert week.start == datetime(2021, 6, 6, tzinfo=UTC)
    assert week.end == datetime(2021, 6, 12, 23, 59, 59, tzinfo=UTC)
    assert week.after == datetime(2021, 6, 13, tzinfo=UTC)


def _at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_a_first_run_reads_the_last_published_weeks():
    # Saturday 2026-12-05: the week of 11-29 is running; the week of 11-22 ended on 11-29 and
    # is published 3 days later, so it is the newest to ask.
    got = due("WEEK", None, _at(2026, 12, 5, 1), LAG, 4)
    assert [p.first for p in got] == [date(2026, 11, 1), date(2026, 11, 8), date(2026, 11, 15),
                                      date(2026, 11, 22)]


def test_a_week_is_asked_only_once_published():
    cursor = _at(2026, 11, 29)  # the week of 11-22 was read
    assert due("WEEK", cursor, _at(2026, 12, 8, 23, 59), LAG, 4) == []  # 12-06 + 3 days
    got = due("WEEK", cursor, _at(2026, 12, 9), LAG, 4)
    assert [(p.first, p.last) for p in got] == [(date(2026, 11, 29), date(2026, 12, 5))]
    # weeks missed (the stream was off) are all read, oldest first
    got = due("WEEK", cursor, _at(2026, 12, 30), LAG, 4)
    assert [p.first for p in got] == [date(2026, 11, 29), date(2026, 12, 6),
                                      date(2026, 12, 13), date(2026, 12, 20)]


def test_months_and_quarters_wait_for_their_end_too():
    assert [p.first for p in due("MONTH", None, _at(2026, 12, 3, 23), LAG, 2)] == [
        date(2026, 9, 1), date(2026, 10, 1)]  # November is published on December 4th
    assert [p.first for p in due("MONTH", None, _at(2026, 12, 4), LAG, 2)] == [
        date(2026, 10, 1), date(2026, 11, 1)]
    assert due("MONTH", _at(2026, 12, 1), _at(2026, 12, 30), LAG, 2) == []
    assert [p.first for p in due("QUARTER", _at(2026, 7, 1), _at(2026, 12, 5), LAG, 1)] == [
        date(2026, 7, 1)]


def test_a_cursor_inside_a_period_reads_that_period_whole():
    # the period setting changed from WEEK to MONTH after the week of 11-22 was read
    got = due("MONTH", _at(2026, 11, 29), _at(2027, 1, 10), LAG, 4)
    assert [p.first for p in got] == [date(2026, 11, 1), date(2026, 12, 1)]


def test_a_backfill_asks_the_whole_periods_inside_its_range():
    got = within("WEEK", _at(2026, 10, 28, 15), _at(2026, 11, 25))
    assert [(p.first, p.last) for p in got] == [(date(2026, 11, 1), date(2026, 11, 7)),
                                                (date(2026, 11, 8), date(2026, 11, 14)),
                                                (date(2026, 11, 15), date(2026, 11, 21))]
    assert [p.first for p in within("WEEK", _at(2026, 11, 1), _at(2026, 11, 21, 23))] == [
        date(2026, 11, 1), date(2026, 11, 8)]  # the week ending on the 21st is not over
    assert [p.first for p in within("WEEK", _at(2026, 11, 1), _at(2026, 11, 8))] == [
        date(2026, 11, 1)]  # a Sunday --since: its week, ended exactly at --until
    assert within("MONTH", _at(2026, 11, 2), _at(2026, 12, 31)) == []
