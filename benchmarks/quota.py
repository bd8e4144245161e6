"""How much of Amazon's quota spsync uses, and how often it is throttled, beside a peer library.

Usage: ``python -m benchmarks.quota --workers 8 --sellers 20 --seconds 60``

One simulator (subprocess) holds 2 x sellers sellers at ``--time-scale 600``, where getOrders
allows 0.0167 x 600 ~= 10 calls/s per seller (burst 20). Two phases run one after the other
(the machine has 2 cores):

1. **spsync**: ``--workers`` processes, each pulling getOrders for *all* of the first
   ``sellers`` sellers through the real client (every process shares each seller's bucket in
   Redis: the point of the design).
2. **peer**: the same load through ``python-amazon-sp-api`` (``sp_api``) for the other
   ``sellers`` sellers, in ``--workers`` processes with a thread per seller, wrapped in the
   library's own documented ``throttle_retry()`` (its default way to handle 429s). It is
   pointed at the simulator through two public seams: the ``auth_token_client_class``
   constructor argument (a subclass of its ``AccessTokenClient`` whose ``scheme``/``host``
   are the simulator's) and the client's ``endpoint`` attribute, set after construction.

Figures come from the simulator's own counters (``/_sim/stats``), per phase and seller:
``utilization = sum(calls - throttled) / sum(max_allowed)`` where max_allowed = burst + rate x
seconds since that bucket's first call; ``throttled_ratio = throttled / calls``. Prints one
JSON line. Uses ``REDIS_URL`` (default redis://127.0.0.1:6379/14, flushed first).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import redis

from benchmarks.load import pull_in_process
from worker.sandbox.remote import SandboxClient

TIME_SCALE = 600.0


def start_simulator(sellers: int) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "celery", "-A", "worker", "sandbox", "--port", "0",
         "--sellers", str(sellers), "--orders-per-seller", "20", "--time-scale",
         str(TIME_SCALE)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        if "listening on" in line:
            return proc, line.rsplit(" ", 1)[-1].strip()
    raise RuntimeError("simulator did not start")


def phase_figures(stats: dict[str, Any], seller_ids: set[str]) -> dict[str, float]:
    buckets = [b for b in stats["buckets"]
               if b["seller_id"] in seller_ids and b["operation"] == "getOrders"]
    calls = sum(b["calls"] for b in buckets)
    throttled = sum(b["throttled"] for b in buckets)
    allowed = sum(b["max_allowed"] for b in buckets)
    return {"utilization": round((calls - throttled) / allowed, 4) if allowed else 0.0,
            "throttled_ratio": round(throttled / calls, 5) if calls else 0.0,
            "calls": calls, "throttled": throttled}


def quiet() -> None:
    """Warnings and errors only, on stderr: stdout carries the one JSON line."""
    from worker.config import Settings
    from worker.logging import configure_logging

    configure_logging(Settings(log_level="WARNING", log_format="json"), stream=sys.stderr)


def run_ours(url: str, redis_url: str, app: dict[str, str], sellers: list[dict[str, Any]],
             workers: int, seconds: float) -> None:
    args = (url, redis_url, app, sellers, seconds)
    with multiprocessing.get_context("spawn").Pool(workers, initializer=quiet) as pool:
        pool.map(pull_in_process, [args] * workers)


def peer_process(args: tuple[str, dict[str, str], list[dict[str, Any]], float]) -> int:
    """One peer process: a thread per seller calling sp_api's get_orders until the deadline."""
    url, app, sellers, seconds = args
    from sp_api.api import Orders
    from sp_api.auth import AccessTokenClient
    from sp_api.base import Marketplaces
    from sp_api.util import throttle_retry

    class SimulatorTokenClient(AccessTokenClient):  # type: ignore[misc]
        scheme = url.split("//")[0] + "//"
        host = url.split("//")[1]

    deadline = time.monotonic() + seconds
    after = (datetime.now(UTC) - timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")

    def loop(seller: dict[str, Any]) -> None:
        client = Orders(Marketplaces.US, refresh_token=seller["refresh_token"],
                        credentials={"lwa_app_id": app["client_id"],
                                     "lwa_client_secret": app["client_secret"]},
                        auth_token_client_class=SimulatorTokenClient)
        client.endpoint = url
        get_orders = throttle_retry()(client.get_orders)
        while time.monotonic() < deadline:
            get_orders(LastUpdatedAfter=after, MarketplaceIds=seller["marketplace_ids"])

    threads = [threading.Thread(target=loop, args=(s,)) for s in sellers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return len(threads)


def run_peer(url: str, app: dict[str, str], sellers: list[dict[str, Any]], workers: int,
             seconds: float) -> None:
    with multiprocessing.get_context("spawn").Pool(workers, initializer=quiet) as pool:
        pool.map(peer_process, [(url, app, sellers, seconds)] * workers)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--sellers", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--skip-peer", action="store_true")
    opts = parser.parse_args()
    quiet()
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/14")
    redis.Redis.from_url(redis_url).flushdb()
    proc, url = start_simulator(2 * opts.sellers)
    try:
        sim = SandboxClient(url)
        world = sim.sellers()
        ours, peers = world["sellers"][:opts.sellers], world["sellers"][opts.sellers:]
        print(f"spsync: {opts.workers} processes x {opts.sellers} sellers for {opts.seconds}s",
              file=sys.stderr)
        run_ours(url, redis_url, world["application"], ours, opts.workers, opts.seconds)
        result = phase_figures(sim.stats(), {s["selling_partner_id"] for s in ours})
        if not opts.skip_peer:
            print("peer: python-amazon-sp-api, same load", file=sys.stderr)
            run_peer(url, world["application"], peers, opts.workers, opts.seconds)
            peer = phase_figures(sim.stats(), {s["selling_partner_id"] for s in peers})
            result |= {f"peer_{k}": v for k, v in peer.items()}
    finally:
        proc.terminate()
        proc.wait(10)
    result |= {"workers": opts.workers, "sellers": opts.sellers, "seconds": opts.seconds}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
