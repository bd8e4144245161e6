"""Notifications end to end with real processes: `notifications setup` subscribes a seller,
the simulator publishes to a real SQS endpoint (moto) when orders change, `notifications
consume` inboxes them and a `celery worker` refreshes exactly those orders, with no beat
running. The consumer is SIGKILLed mid-way and restarted: nothing is lost or doubled."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import settings_for
from tests.e2e.procs import env_for, start, stop, wait
from tests.integration.helpers import ORDER_PATH, register, table
from worker.runtime import Runtime

pytestmark = pytest.mark.e2e


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603
        [sys.executable, "-m", "celery", "-A", "worker", *args], env=env,
        capture_output=True, text=True, timeout=60, check=False)


def _consumer(env: dict[str, str], queue_url: str, endpoint: str,
              log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "celery", "-A", "worker", "notifications", "consume",
         "--queue-url", queue_url, "--sqs-endpoint-url", endpoint, "--wait", "1",
         "--visibility-timeout", "2"],
        env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True)


def _mirrored(rt: Runtime, sim: Any, spid: str, order_ids: list[str]) -> bool:
    truth = {o["AmazonOrderId"]: o["LastUpdateDate"] for o in sim.client.truth(spid)["orders"]}
    rows = dict(table(rt, "SELECT amazon_order_id, to_char(last_update_date AT TIME ZONE 'UTC', "
                          "'YYYY-MM-DD\"T\"HH24:MI:SS') FROM orders"))
    return all(rows.get(o) and truth[o].startswith(rows[o]) for o in order_ids)


def test_changed_orders_arrive_through_sqs_without_polling(start_sim, clean, sqs_server,
                                                           tmp_path):
    sim = start_sim(sellers=1, orders_per_seller=10, sqs_endpoint_url=sqs_server.endpoint_url,
                    time_scale=50)
    settings = settings_for(clean, sim)
    rt = Runtime(settings)
    ((spid, _),) = register(rt, sim, kinds=ORDER_PATH).items()
    queue_url = sqs_server.new_queue()
    arn = "arn:aws:sqs:us-east-1:123456789012:" + queue_url.rsplit("/", 1)[1]
    env = env_for(settings)

    first = _cli("notifications", "setup", "--seller", spid, "--types", "ORDER_CHANGE",
                 "--sqs-arn", arn, env=env)
    assert first.returncode == 0, first.stderr
    assert "ORDER_CHANGE: subscribed" in first.stdout
    again = _cli("notifications", "setup", "--seller", spid, "--types", "ORDER_CHANGE",
                 "--sqs-arn", arn, env=env)
    assert again.returncode == 0 and "ORDER_CHANGE: already subscribed" in again.stdout
    assert "(reused)" in again.stdout
    listed = json.loads(_cli("notifications", "list", "--seller", spid, "--json",
                             env=env).stdout)
    assert listed["ORDER_CHANGE"] is not None and listed["LISTINGS_ITEM_STATUS_CHANGE"] is None

    procs = [start("worker", env, tmp_path / "worker.log"),
             _consumer(env, queue_url, sqs_server.endpoint_url, tmp_path / "consumer.log")]
    try:
        changed = sim.client.mutate(spid, 3)
        wait(lambda: _mirrored(rt, sim, spid, changed), 60, "the changed orders")
        assert table(rt, "SELECT count(*) FROM orders")[0][0] == len(set(changed))

        os.killpg(procs[1].pid, signal.SIGKILL)  # the consumer dies, messages keep coming
        procs[1].wait()
        more = sim.client.mutate(spid, 3)
        procs[1] = _consumer(env, queue_url, sqs_server.endpoint_url, tmp_path / "c2.log")
        wait(lambda: _mirrored(rt, sim, spid, changed + more), 60, "the later changes")
        sent = sim.client.notification_stats()["sent"]
        wait(lambda: table(rt, "SELECT count(*) FROM notifications_inbox")[0][0] >= sent, 30,
              "every notification in the inbox")
    finally:
        stop(procs)

    inbox = table(rt, "SELECT status, count(*) FROM notifications_inbox GROUP BY status")
    assert dict(inbox) == {"done": sent}  # each once, all refreshed
    assert table(rt, "SELECT count(*) FROM sync_runs")[0][0] == 0  # no stream sync ran

    removed = _cli("notifications", "remove", "--seller", spid, env=env)
    assert removed.returncode == 0 and "removed 1 subscription(s)" in removed.stdout


@pytest.mark.parametrize(("args", "says"), [
    (["--seller", "A1NOBODY", "--sqs-arn", "arn:aws:sqs:us-east-1:1:q"], "A1NOBODY"),
    (["--seller", "A1NOBODY", "--sqs-arn", "not-an-arn"], "--sqs-arn"),
    (["--seller", "1", "--types", "ORDER_EXPLODED", "--sqs-arn", "arn:aws:sqs:us-east-1:1:q"],
     "ORDER_EXPLODED"),
])
def test_setup_refuses_bad_input_with_one_line(start_sim, clean, args, says):
    sim = start_sim(sellers=1, orders_per_seller=1)
    settings = settings_for(clean, sim)
    register(Runtime(settings), sim)
    done = _cli("notifications", "setup", *args, env=env_for(settings))
    assert done.returncode != 0
    errors = [x for x in done.stderr.splitlines() if x.startswith("Error")]
    assert len(errors) == 1 and says in errors[0]
