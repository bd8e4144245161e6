"""ORDER_CHANGE notifications: from message sent to SQS to the order's row committed.

Usage::

    python -m benchmarks.notify_latency                    # 1,000 notifications at 20/s
    python -m benchmarks.notify_latency --count 100        # smoke check

What runs, all on loopback: a real SQS endpoint (moto in server mode, in this process), the
simulator (``celery -A worker simulator`` subprocess) with ``--sellers`` sellers, a scratch
database, ``--workers`` real ``celery -A worker worker`` processes, and the consumer
(``worker.notifications.consumer.run``, the loop behind ``celery -A worker notifications
consume``) in a thread of this process. Each seller is registered and warmed up first (one
notification each, so LWA tokens are cached, as in steady state). Then ``--count``
ORDER_CHANGE notifications for existing orders, round-robin over the sellers, are sent at
``--rate`` per second; each message's send time is taken right before ``SendMessage``.

Latency of one notification = ``notifications_inbox.processed_at`` (``clock_timestamp()``
when the inbox row is marked done, which is after the ``getOrder`` refresh's rows were
committed in their own transaction) minus its send time; same host, same clock. Also
``inbox_p95_s``: send -> inbox row inserted (``received_at``, the consumer's transaction
start). The simulator's time scale (default 100) scales getOrder's quota (0.5/s, burst 30
per seller): at ``--rate`` 20 over 10 sellers each seller gets 2/s, within the scaled quota,
so the figure is spsync's own latency, not a quota wait. Prints one JSON line; asserts
nothing about time. Target (issue 7): p95 <= 2 s.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from benchmarks.services import (
    bench_redis,
    child_env,
    log,
    quiet,
    register_sim_sellers,
    scratch_databases,
    sim_runtime,
    simulator,
    stop_process,
)
from devtools.order_flow import percentile


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_workers(env: dict[str, str], n: int, logs: Path) -> list[subprocess.Popen[str]]:
    return [subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "celery", "-A", "worker", "worker", "-Q", "spsync", "-c", "2",
         "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "WARNING",
         "-n", f"bench{i}@%h"],
        env=env, stdout=(logs / f"w{i}.log").open("w"), stderr=subprocess.STDOUT, text=True)
        for i in range(n)]


def _done(rt: Any, prefix: str) -> dict[str, tuple[float, float]]:
    """NotificationId -> (received_at, processed_at) as epoch seconds, for done rows."""
    from sqlalchemy import text

    with rt.engine.begin() as conn:
        rows = conn.execute(text(
            "SELECT notification_id, extract(epoch FROM received_at), "
            "extract(epoch FROM processed_at) FROM notifications_inbox "
            "WHERE status = 'done' AND notification_id LIKE :p"), {"p": prefix + "%"}).all()
    return {r[0]: (float(r[1]), float(r[2])) for r in rows}


def _wait_done(rt: Any, prefix: str, count: int, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        done = _done(rt, prefix)
        if len(done) >= count or time.monotonic() > deadline:
            return done
        time.sleep(0.2)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--rate", type=float, default=20.0, help="notifications per second")
    ap.add_argument("--sellers", type=int, default=10)
    ap.add_argument("--workers", type=int, default=2, help="worker processes (2 slots each)")
    ap.add_argument("--time-scale", type=float, default=100.0)
    args = ap.parse_args(argv)
    quiet()
    from moto.server import ThreadedMotoServer

    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ.setdefault(key, "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    port = _free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    moto.start()
    endpoint = f"http://127.0.0.1:{port}"
    try:
        with bench_redis() as (redis_url, _), scratch_databases(1) as (db,), \
                simulator(args.sellers, args.time_scale, 20) as sim_url, \
                tempfile.TemporaryDirectory() as logs:
            # This process enqueues Celery tasks: its app must use the benchmark's broker.
            os.environ.update(REDIS_URL=redis_url, DATABASE_URL=db)
            print(json.dumps(_run(args, endpoint, redis_url, db, sim_url, Path(logs))))
    finally:
        moto.stop()


def _run(args: Any, endpoint: str, redis_url: str, db: str, sim_url: str,
         logs: Path) -> dict[str, Any]:
    import boto3

    from simulator.remote import SimulatorClient
    from tests.notificationkit import order_change
    from worker.notifications.consumer import SqsSource, enqueue_processing, run

    rt = sim_runtime(db, redis_url, sim_url)
    spids = list(register_sim_sellers(rt, sim_url))
    orders = {s: [o["AmazonOrderId"] for o in SimulatorClient(sim_url).truth(s)["orders"]]
              for s in spids}
    sqs = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1")
    queue = sqs.create_queue(QueueName="spsync-bench")["QueueUrl"]
    workers = _start_workers(child_env(rt), args.workers, logs)
    stop = threading.Event()
    source = SqsSource(queue, client=sqs, wait_seconds=1)
    consumer = threading.Thread(target=run, args=(rt.engine, source, enqueue_processing),
                                kwargs={"stop": stop}, daemon=True)
    consumer.start()
    try:
        for n, spid in enumerate(spids):  # warm-up: one per seller (LWA token, connections)
            sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(
                order_change(spid, orders[spid][0], notification_id=f"warm-{n}")))
        if len(_wait_done(rt, "warm-", len(spids), 120)) < len(spids):
            raise RuntimeError(f"warm-up did not finish; worker logs in {logs}")
        log(f"warm; sending {args.count} at {args.rate}/s")
        sent: dict[str, float] = {}
        started = time.monotonic()
        for i in range(args.count):
            spid = spids[i % len(spids)]
            nid = f"bench-{i}"
            body = json.dumps(order_change(spid, orders[spid][i % len(orders[spid])],
                                           notification_id=nid))
            delay = started + i / args.rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            sent[nid] = time.time()
            sqs.send_message(QueueUrl=queue, MessageBody=body)
        done = _wait_done(rt, "bench-", args.count, 60 + args.count / args.rate)
    finally:
        stop.set()
        consumer.join(10)
        for w in workers:
            stop_process(w)
    latency = [done[n][1] - sent[n] for n in sent if n in done]
    inbox = [done[n][0] - sent[n] for n in sent if n in done]
    if not latency:
        raise RuntimeError("no notification was processed")
    return {
        "benchmark": "notify_latency", "count": args.count, "processed": len(latency),
        "rate_per_s": args.rate, "sellers": args.sellers, "workers": args.workers,
        "time_scale": args.time_scale,
        "p50_s": round(statistics.median(latency), 3),
        "p95_s": round(percentile(latency, 0.95), 3),
        "max_s": round(max(latency), 3),
        "inbox_p95_s": round(percentile(inbox, 0.95), 3),
    }


if __name__ == "__main__":
    main()
