"""The order-to-warehouse recipe, driven and measured: place orders in the simulator, run the
recipe's example (``examples/order_to_warehouse.py``) as a child process, read what reached
the WMS stand-in (``devtools/wms_stub.py``). The demo, ``benchmarks/order_to_wms.py`` and the
recipe's test use it.

Latency of one order = the WMS stub's ``received_at`` minus the moment just before the
simulator was asked to place it (same host, same clock).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from simulator.remote import SimulatorClient

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "order_to_warehouse.py"
ATTEMPTS = 5  # tries per order: the simulator places none when no item is offered


def place_orders(sim: SimulatorClient, sellers: list[str], count: int,
                 rate: float) -> dict[str, float]:
    """``count`` new merchant-fulfilled Unshipped orders, round-robin over ``sellers``, at
    ``rate`` per second; order id -> epoch second just before it was placed. (Fewer only if
    a seller is out of stock for :data:`ATTEMPTS` drawn orders in a row.)"""
    placed: dict[str, float] = {}
    started = time.monotonic()
    for i in range(count):
        delay = started + i / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        for _ in range(ATTEMPTS):  # a seller out of stock for the drawn items sells nothing
            at = time.time()
            got = sim.mutate(sellers[i % len(sellers)], 1, kind="unshipped")
            if got:
                placed[got[0]] = at
                break
    return placed


def wms_orders(wms_url: str) -> dict[str, dict[str, Any]]:
    """What the WMS stub received: order id -> the order with ``received_at``, ``receipts``."""
    with urllib.request.urlopen(f"{wms_url}/orders", timeout=10) as resp:  # noqa: S310
        return {o["order_id"]: o for o in json.loads(resp.read())}


def wait_received(wms_url: str, orders: list[str] | dict[str, float], timeout: float
                  ) -> dict[str, dict[str, Any]]:
    """Poll the stub until every one of ``orders`` arrived or ``timeout`` passed."""
    deadline = time.monotonic() + timeout
    while True:
        got = wms_orders(wms_url)
        if all(o in got for o in orders) or time.monotonic() > deadline:
            return got
        time.sleep(0.25)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def latency(placed: dict[str, float], received: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """``placed`` / ``received`` counts, ``missed`` (placed, never received), ``duplicates``
    (receipts beyond the first), latency p50/p95/max in seconds (None if nothing arrived)."""
    seconds = [float(received[o]["received_at"]) - t for o, t in placed.items() if o in received]
    return {
        "placed": len(placed), "received": len(seconds),
        "missed": sum(1 for o in placed if o not in received),
        "duplicates": sum(int(received[o]["receipts"]) - 1 for o in placed if o in received),
        "p50_s": round(statistics.median(seconds), 3) if seconds else None,
        "p95_s": round(percentile(seconds, 0.95), 3) if seconds else None,
        "max_s": round(max(seconds), 3) if seconds else None,
    }


@contextmanager
def recipe(env: dict[str, str], wms_url: str, log: Path, *, since: str | None = None,
           consumer: str = "wms") -> Iterator[subprocess.Popen[bytes]]:
    """``examples/order_to_warehouse.py`` as a child process (``env`` holds DATABASE_URL),
    stopped with SIGTERM at the end of the block."""
    if not EXAMPLE.exists():
        raise FileNotFoundError(f"{EXAMPLE} is missing (the examples ship with the source)")
    argv = [sys.executable, str(EXAMPLE), "--wms-url", wms_url, "--consumer", consumer,
            *(["--since", since] if since else [])]
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, env={**os.environ, **env}, stdout=out,  # noqa: S603
                                stderr=subprocess.STDOUT)
        try:
            yield proc
        finally:
            stop(proc)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL after 15 s."""
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
