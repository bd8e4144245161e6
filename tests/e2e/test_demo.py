"""The README's first command, against the configured services and a running simulator."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from worker.crypto import new_key_spec

pytestmark = pytest.mark.e2e


def test_demo_syncs_every_seller_until_the_mirror_matches(clean, start_sim, tmp_path):
    sim = start_sim(sellers=3, orders_per_seller=120, time_scale=60, changes_per_minute=30)
    env = dict(os.environ)
    env.update(DATABASE_URL=clean.database_url, REDIS_URL=clean.redis_url,
               SPSYNC_TOKEN_KEYS=new_key_spec("demo"), SPSYNC_DATA_DIR=str(tmp_path))
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "celery", "-A", "worker", "demo", "--json", "--spapi-url",
         sim.url, "--time-scale", "60", "--timeout", "150"],
        env=env, capture_output=True, text=True, timeout=330, check=False)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    truth_orders = sum(len(sim.client.truth(s["selling_partner_id"])["orders"])
                       for s in sim.world()["sellers"])
    assert summary["matches_truth"] is True
    assert summary["sellers"] == 3 and summary["orders"] == truth_orders
    assert summary["api_calls"] > 0 and summary["order_items"] >= summary["orders"]
    _warehouse_ran(summary, "polling")  # this simulator publishes no notifications
    _back_office_synced(summary, result.stdout)
    assert "Atzr|" not in result.stdout + result.stderr  # no refresh token is ever printed


def test_demo_with_its_own_simulator_also_delivers_notifications(clean, tmp_path):
    """Exactly the README's command (no --spapi-url): simulator, embedded SQS, consumer."""
    env = dict(os.environ)
    env.update(DATABASE_URL=clean.database_url, REDIS_URL=clean.redis_url,
               SPSYNC_TOKEN_KEYS=new_key_spec("demo"), SPSYNC_DATA_DIR=str(tmp_path))
    result = subprocess.run(
        [sys.executable, "-m", "celery", "-A", "worker", "demo", "--json",
         "--orders-per-seller", "80", "--timeout", "150"],
        env=env, capture_output=True, text=True, timeout=330, check=False)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["matches_truth"] is True and summary["sellers"] == 3
    notes = summary["notifications"]
    assert notes.get("done", 0) > 0 and notes.get("parked", 0) == 0  # changes were pushed
    assert "notifications: sellers subscribed" in result.stdout
    _warehouse_ran(summary, "notifications")
    _back_office_synced(summary, result.stdout)
    assert "Atzr|" not in result.stdout + result.stderr


def _warehouse_ran(summary: dict, path: str) -> None:
    """The demo's last act, the order-to-warehouse recipe: every order it placed reached the
    WMS stub once and came back shipped, at Amazon and in the mirror."""
    w = summary["order_to_warehouse"]
    assert w["path"] == path and w["placed"] == 6
    assert (w["received"], w["missed"], w["duplicates"]) == (6, 0, 0)
    assert w["shipped_back"] == 6 and w["p95_s"] is not None


def _back_office_synced(summary: dict, stdout: str) -> None:
    """Returns, fees, sales and traffic and catalog synced for every seller, and the summary
    says so (every other kind is listed too). Returns are 5 % of shipped orders, refunded
    days after shipping: a demo-sized world may have none inside the look-back yet."""
    kinds = summary["other_streams"]
    for kind in ("returns", "fee-estimates", "sales-traffic", "catalog"):
        k = kinds[kind]
        assert k["synced"] == k["streams"] >= 3, (kind, k)
        assert k["rows"] > 0 or kind == "returns", (kind, k)
    assert {"finances", "ledger", "order-metrics", "prices"} <= set(kinds)
    assert "other streams: " in stdout and "returns " in stdout
