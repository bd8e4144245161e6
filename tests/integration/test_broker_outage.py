"""A worker whose Redis dies under it: the two moments that ended it (``worker/broker.py``).

On losing the broker, Celery's consumer collects its connection and then closes it, ignoring
connection errors (``Consumer.on_connection_error_after_connected``). The first test takes a
kombu connection built by spsync's Celery app into the state of a worker whose Redis was
killed while it ran a task and waited for the next one, and does the same. The second
registers a pool child that has already gone, as the reconnected consumer does.
"""

from __future__ import annotations

import contextlib
import socket

import pytest
from kombu import Connection, Consumer, Exchange, Message, Queue
from kombu.common import ignore_errors

from tests.e2e.procs import OwnRedis
from worker.app import app

pytestmark = pytest.mark.integration


def _mid_task(url: str) -> tuple[Connection, list[Message]]:
    """A worker's connection: the task channel, holding one unacknowledged message (a task
    running with acks_late) and waiting in BRPOP for the next one, and the remote-control
    mailbox (an auto-delete fanout queue) on a channel of its own, opened after it."""
    conn = app.connection_for_read(url)
    queue = Queue("probe")
    conn.Producer().publish({"task": "probe"}, routing_key="probe", declare=[queue])
    channel = conn.default_channel
    channel.basic_qos(0, 2, False)
    received: list[Message] = []
    Consumer(channel, [queue], callbacks=[lambda _body, msg: received.append(msg)]).consume()
    conn.drain_events(timeout=5)
    mailbox = Queue("probe.pidbox", Exchange("probe.pidbox", type="fanout"), auto_delete=True)
    Consumer(conn.channel(), [mailbox], callbacks=[lambda *_: None]).consume()
    with contextlib.suppress(socket.timeout):
        conn.drain_events(timeout=0.05)  # the next BRPOP is sent and stays in flight
    return conn, received


def test_a_worker_closing_its_connection_after_redis_died_gets_a_connection_error(
        own_redis: OwnRedis) -> None:
    conn, received = _mid_task(own_redis.url)
    assert len(received) == 1 and not received[0].acknowledged
    own_redis.kill()
    with contextlib.suppress(Exception):  # what Celery does first, ignoring every error
        conn.collect(socket_timeout=1)
    try:
        ignore_errors(conn, conn.close)  # then this: only connection errors are ignored
    except AttributeError as exc:  # before the fix: the worker's "Unrecoverable error"
        pytest.fail(f"closing the connection raised {exc!r}")


def test_a_pool_child_gone_when_the_worker_reconnects_is_skipped() -> None:
    """A SIGKILLed pool child that the worker has untracked but not yet replaced has no fd
    (``_sentinel_poll`` None) when the reconnected consumer registers the pool again:
    kombu 5.7.0 raises ValueError for it, which celery 5.7.0's helper does not skip."""
    from celery.concurrency import asynpool
    from kombu.asynchronous import Hub

    hub = Hub()
    try:
        asynpool.iterate_file_descriptors_safely([None], None, hub.add_reader, print)
        assert not hub.readers
    finally:
        hub.close()


_PROBE = """
import gc, json, os, sys
from collections import Counter
from worker.app import app
from worker.broker import open_publisher
from worker.enqueue import send

def kinds():
    gc.collect()  # a poller kombu dropped is closed when collected: count what is held
    c = Counter()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        c[target.split(":")[0] if ":" in target else "file"] += 1
    return dict(c)

before = kinds()
open_publisher(app)
opened = kinds()
if sys.argv[1] == "send":
    send("spsync.process_outbox")
print(json.dumps({"before": before, "opened": opened, "sent": kinds()}))
"""


def _probe(redis_url: str, action: str) -> dict[str, dict[str, int]]:
    import json
    import os
    import subprocess
    import sys

    env = {**os.environ, "REDIS_URL": redis_url}
    env.pop("SPSYNC_BROKER_URL", None)
    out = subprocess.run([sys.executable, "-c", _PROBE, action], env=env, check=True,  # noqa: S603
                         capture_output=True, text=True, timeout=60).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def test_a_process_holds_its_publishing_connection_before_its_first_publish(
        own_redis: OwnRedis) -> None:
    """A pool child opens what it publishes through at start (``open_publisher``, run on
    ``worker_process_init``): its first publish, however late, opens no descriptor."""
    seen = _probe(own_redis.url, "send")
    assert seen["opened"] != seen["before"]  # it did open something
    assert seen["sent"] == seen["opened"]


def test_a_publisher_that_cannot_connect_is_left_to_its_first_publish(
        own_redis: OwnRedis) -> None:
    own_redis.kill()
    seen = _probe(own_redis.url, "none")  # returns (logged), does not raise or hang
    assert seen["opened"].get("socket", 0) == seen["before"].get("socket", 0)
