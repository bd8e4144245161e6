"""`celery -A worker backfill` as an operator runs it: bad arguments, dry run, a real run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import settings_for
from tests.e2e.procs import env_for
from worker.runtime import Runtime

from .helpers import register, table
from .test_cli import celery

pytestmark = pytest.mark.integration


@pytest.fixture
def sim_env(start_sim, clean):
    return _sim_env(start_sim, clean)


def _sim_env(start_sim, clean, **knobs):
    sim = start_sim(**({"sellers": 2, "orders_per_seller": 40, "time_scale": 1000, "seed": 3,
                        "history_days": 40} | knobs))
    settings = settings_for(clean, sim)
    rt = Runtime(settings)
    ids = register(rt, sim)
    env = env_for(settings) | {"SPSYNC_REPORT_POLL_SECONDS": "0.02",
                            "SPSYNC_REPORT_POLL_MAX_SECONDS": "0.05"}
    return sim, rt, ids, env


@pytest.mark.parametrize(("args", "needle"), [
    (["--since", "2026-01-01"], "exactly one of --seller"),
    (["--seller", "A1", "--all-sellers", "--since", "2026-01-01"], "exactly one of --seller"),
    (["--seller", "NOSUCHSELLER", "--since", "2026-01-01"], "no seller 'NOSUCHSELLER'"),
    (["--all-sellers"], "--since is required"),
    (["--all-sellers", "--since", "2026-13-01"], "Invalid value for '--since'"),
    (["--all-sellers", "--since", "2026-01-01", "--until", "2099-01-01"], "in the future"),
    (["--all-sellers", "--stream", "payments"], "Invalid value for '--stream'"),
    (["--seller", "99999999999999999999", "--since", "2026-01-01"],
     "no seller '99999999999999999999'"),  # past bigint
    (["--all-sellers", "--since", "0001-01-01"], "older than Amazon keeps orders data"),
    (["--all-sellers", "--stream", "sales-traffic", "--since", "2000-01-01"],
     "older than Amazon keeps sales-traffic data"),
    (["--all-sellers", "--stream", "finances"], "--since is required for --stream finances"),
    (["--all-sellers", "--stream", "settlements", "--since", "2026-01-01", "--until",
      "2025-06-01"], "--since must be before --until"),
    (["--all-sellers", "--stream", "settlements", "--since", "2000-01-01"],
     "older than Amazon keeps settlements data (90 days)"),
    (["--all-sellers", "--stream", "prices"], "Amazon keeps no history of it"),
    (["--all-sellers", "--stream", "catalog", "--since", "2026-01-01"],
     "catalog cannot be backfilled: searchCatalogItems answers what is true now"),
])
def test_bad_arguments_fail_with_one_clear_line_and_call_nothing(sim_env, args, needle):
    sim, rt, _, env = sim_env
    result = celery("backfill", *args, env=env)
    assert result.returncode != 0
    assert needle in result.stderr
    assert "Traceback" not in result.stderr
    assert table(rt, "SELECT count(*) FROM reports") == [(0,)]
    assert not [b for b in sim.client.stats()["buckets"] if b["operation"] == "createReport"]


def test_dry_run_then_run_then_rerun(sim_env):
    _sim, rt, ids, env = sim_env
    since = (datetime.now(UTC) - timedelta(days=45)).strftime("%Y-%m-%d")
    until = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    args = ["--all-sellers", "--since", since, "--until", until]
    dry = celery("backfill", *args, "--dry-run", env=env)
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.count(": create") == 2 * len(ids)  # two 30-day windows per seller
    assert table(rt, "SELECT count(*) FROM reports") == [(0,)]

    run = celery("backfill", *args, env=env)
    assert run.returncode == 0, run.stderr
    done = [line for line in run.stdout.splitlines() if line.startswith("done: ")]
    assert len(done) == len(ids) and all("2/2 reports" in line for line in done)
    (orders,), = table(rt, "SELECT count(*) FROM orders")
    assert orders > 0

    again = celery("backfill", *args, "--dry-run", env=env)
    assert again.stdout.count(": skip") == 2 * len(ids) and ": create" not in again.stdout
    rerun = celery("backfill", *args, env=env)
    assert rerun.returncode == 0 and "2 already done" in rerun.stdout
    assert "0 written" in rerun.stdout


def test_finances_through_the_api_then_a_rerun_reads_nothing(sim_env):
    sim, rt, ids, env = sim_env
    since = (datetime.now(UTC) - timedelta(days=45)).strftime("%Y-%m-%d")
    until = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    args = ["--all-sellers", "--stream", "finances", "--since", since]

    def calls() -> int:
        return sum(b["calls"] for b in sim.client.stats()["buckets"]
                   if b["operation"] == "listTransactions")

    dry = celery("backfill", *args, "--until", until, "--dry-run", env=env)
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.count("read through the API") == len(ids)
    assert table(rt, "SELECT count(*) FROM api_backfills") == [(0,)] and calls() == 0

    run = celery("backfill", *args, "--until", until, env=env)
    assert run.returncode == 0, run.stderr
    done = [line for line in run.stdout.splitlines() if line.startswith("done: ")]
    assert len(done) == len(ids) and all("(100%)" in line for line in done)
    (written,), = table(rt, "SELECT count(*) FROM financial_transactions")
    assert written > 0
    read = calls()
    rerun = celery("backfill", *args, "--until", until, env=env)
    assert rerun.returncode == 0 and rerun.stdout.count("already done") == len(ids)
    assert calls() == read
    # without --until it goes on to now: only the last hour is read (a page per seller)
    onward = celery("backfill", *args, env=env)
    assert onward.returncode == 0, onward.stderr
    assert calls() - read == len(ids)


def test_order_metrics_through_the_api_one_stream_a_marketplace(start_sim, clean):
    from .test_order_metrics_sync import _check, _stored, _truth

    sim, rt, ids, env = _sim_env(start_sim, clean, eu_marketplaces=2)
    since = (datetime.now(UTC) - timedelta(days=38)).replace(hour=0, minute=0, second=0,
                                                            microsecond=0)
    args = ["--all-sellers", "--stream", "order-metrics", "--since", f"{since:%Y-%m-%d}"]
    markets = {s["selling_partner_id"]: s["marketplace_ids"] for s in sim.world()["sellers"]}
    streams = sum(len(m) for m in markets.values())
    assert streams > len(ids)  # a seller with several marketplaces: one backfill each

    dry = celery("backfill", *args, "--dry-run", env=env)
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.count("read through the API") == streams
    run = celery("backfill", *args, env=env)
    assert run.returncode == 0, run.stderr
    done = [line for line in run.stdout.splitlines() if line.startswith("done: ")]
    assert len(done) == streams and all("(100%)" in line for line in done)
    today = datetime.now(UTC).date()
    days = [since.date() + timedelta(days=n) for n in range((today - since.date()).days + 1)]
    for spid, seller_id in ids.items():
        for market in markets[spid]:
            stored = _stored(rt, seller_id, market)
            assert sorted(stored) == days, (spid, market)
            _check(stored, _truth(sim, spid, market), days[:-1])  # today is still moving
    assert table(rt, "SELECT count(*) FROM sync_state WHERE stream LIKE 'order-metrics:%' "
                     "AND cursor IS NOT NULL") == [(0,)]  # the incremental syncs untouched
