"""The generic loop with fake pages and a clock of the test's own (no server, no database):
windows cut against the injected ``now``, each page's token checkpointed, a rejected stored
token restarting its window once."""

from __future__ import annotations

import asyncio
import dataclasses
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from worker.db.state import Checkpoint
from worker.spapi.errors import InputError
from worker.sync import runner
from worker.sync.endpoint import Endpoint, StreamSpec, Written
from worker.sync.paging import NewestFirst
from worker.sync.registry import tokens
from worker.sync.runner import StreamRun
from worker.sync.windows import Bounds, WindowPolicy, iso

T = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
POLICY = WindowPolicy(lag=timedelta(minutes=2), overlap=timedelta(minutes=1),
                      max_span=timedelta(days=7), initial=timedelta(days=1))


async def rows(scope: Any, records: list[Any]) -> list[Any]:
    return records


def write(conn: Any, seller_id: int, page: list[Any]) -> Written:
    return Written(len(page))


TOY = Endpoint(operation="listToys", paginator=tokens("next", "next"), records=("items",),
               query=lambda seller, market, size: {"size": size},
               bounds=Bounds("after", "before"), rows=rows, write=write)


@dataclass
class FakeAmazon:
    """Pages by token (None: a window's first page); ``refuse``: tokens answered 400."""

    pages: dict[str | None, Any]
    refuse: set[str] = field(default_factory=set)
    sent: list[dict[str, Any]] = field(default_factory=list)
    stats: Any = field(default_factory=lambda: SimpleNamespace(calls=0, throttled=0, retries=0))

    async def call(self, auth: Any, operation: str, path_params: Any = None,
                   query: Any = None, priority: Any = None) -> Any:
        self.sent.append(query)
        self.stats.calls += 1
        if query.get("next") in self.refuse:
            raise InputError("token expired", code="InvalidInput")
        return SimpleNamespace(body=self.pages[query.get("next")])


@pytest.fixture
def saved(monkeypatch: pytest.MonkeyPatch) -> list[Checkpoint]:
    """The checkpoints the run commits, in order (the first one is what it starts from)."""
    checkpoints = [Checkpoint(T - timedelta(hours=1), None, None, None)]
    monkeypatch.setattr(runner.state, "load_checkpoint", lambda *a: checkpoints[-1])
    monkeypatch.setattr(runner.state, "save_checkpoint",
                        lambda conn, seller, stream, cp: checkpoints.append(cp))
    monkeypatch.setattr(runner.state, "add_to_run", lambda *a, **k: None)
    return checkpoints


def run(amazon: FakeAmazon, now: datetime, endpoint: Endpoint[Any] = TOY) -> StreamRun[Any]:
    seller = SimpleNamespace(id=1, selling_partner_id="A1", region="NA", refresh_token="x")
    job = StreamRun(StreamSpec("toys", endpoint), SimpleNamespace(begin=nullcontext), amazon,
                    seller, 1, POLICY, 10, now=lambda: now)  # type: ignore[arg-type]
    asyncio.run(job.run())
    return job


def test_a_window_ends_at_the_injected_now_minus_the_lag_and_pages_by_token(saved):
    amazon = FakeAmazon({None: {"items": [1, 2], "next": "p2"}, "p2": {"items": [3]}})
    job = run(amazon, T)
    start, end = T - timedelta(hours=1, minutes=1), T - timedelta(minutes=2)
    assert amazon.sent == [{"size": 10, "after": iso(start), "before": iso(end)},
                           {"size": 10, "after": iso(start), "before": iso(end), "next": "p2"}]
    assert saved[1:] == [Checkpoint(T - timedelta(hours=1), start, end, "p2"),
                         Checkpoint(end, None, None, None)]
    assert (job.totals.pages, job.totals.rows, job.totals.windows) == (2, 3, 1)


def test_a_clock_moved_forward_is_a_new_window_without_waiting(saved):
    amazon = FakeAmazon({None: {"items": [1]}})
    run(amazon, T)
    run(amazon, T + timedelta(minutes=10))  # ten minutes later, in no time
    assert saved[-1].cursor == T + timedelta(minutes=8)
    assert amazon.sent[-1]["after"] == iso(T - timedelta(minutes=3))  # the cursor - overlap


def test_a_refused_stored_token_restarts_its_window_once(saved):
    saved[0] = Checkpoint(T - timedelta(hours=1), T - timedelta(hours=2), T - timedelta(hours=1),
                          "stale")
    amazon = FakeAmazon({None: {"items": [1, 2]}}, refuse={"stale"})
    job = run(amazon, T)
    assert [q.get("next") for q in amazon.sent] == ["stale", None, None]  # restart, next window
    assert job.client.stats.retries == 1 and saved[-1].cursor == T - timedelta(minutes=2)


def test_a_second_refusal_in_the_same_window_fails_the_run(saved):
    amazon = FakeAmazon({None: {"items": [1], "next": "p2"}}, refuse={"p2"})
    saved[0] = Checkpoint(T - timedelta(hours=1), T - timedelta(hours=2), T - timedelta(hours=1),
                          "p2")
    with pytest.raises(InputError):
        run(amazon, T)
    assert [q.get("next") for q in amazon.sent] == ["p2", None, "p2"]


# A list without a date filter, newest first (Inbound listInboundPlans): no window parameters,
# the window ends at the first record older than its start.
NEWEST = dataclasses.replace(TOY, bounds=None, newest_first=NewestFirst(("at",)))


def _toys(*minutes_ago: int) -> list[dict[str, str]]:
    return [{"at": iso(T - timedelta(minutes=m))} for m in minutes_ago]


def test_a_newest_first_list_ends_its_window_at_the_first_older_record(saved):
    # the window: [cursor - overlap, now - lag] = [T - 61 min, T - 2 min]
    amazon = FakeAmazon({None: {"items": _toys(1, 30), "next": "p2"},
                         "p2": {"items": _toys(60, 62, 63), "next": "p3"},
                         "p3": {"items": _toys(90)}})
    job = run(amazon, T, NEWEST)
    assert [q.get("next") for q in amazon.sent] == [None, "p2"]  # p3 is never asked
    assert amazon.sent[0] == {"size": 10}
    end = T - timedelta(minutes=2)
    assert saved[1:] == [Checkpoint(T - timedelta(hours=1), T - timedelta(minutes=61), end,
                                    "p2"),
                         Checkpoint(end, None, None, None)]
    assert job.totals.rows == 3  # the newer-than-the-window one too (newer wins)


def test_a_killed_newest_first_run_resumes_at_its_saved_token(saved):
    start, end = T - timedelta(minutes=61), T - timedelta(minutes=2)
    saved[0] = Checkpoint(T - timedelta(hours=1), start, end, "p2")  # died after page one
    amazon = FakeAmazon({"p2": {"items": _toys(60, 62), "next": "p3"}})
    job = run(amazon, T, NEWEST)
    assert [q.get("next") for q in amazon.sent] == ["p2"]
    assert saved[-1] == Checkpoint(end, None, None, None) and job.totals.rows == 1
