"""Run one load phase in N spawned processes that start together and stop at one deadline.

Not a benchmark itself. Each child imports its load (the heavy part), waits at a barrier
with the parent, then runs ``target(job, deadline)`` where ``deadline`` is a
``time.monotonic()`` value (system-wide on Linux, so every process shares it). The parent
calls ``at_deadline()`` exactly when the window closes (so a load whose callers overrun the
deadline, e.g. sleeping in a retry, is measured over the same window as any other), waits
``grace`` seconds for the children's own counters, then stops every child it started.
"""

from __future__ import annotations

import multiprocessing
import queue
import time
from collections.abc import Callable
from multiprocessing.process import BaseProcess
from multiprocessing.synchronize import Barrier
from typing import Any, TypeVar

from benchmarks.services import STARTUP_TIMEOUT, log, quiet

T = TypeVar("T")
Target = Callable[[Any, float], dict[str, int]]


def _child(target: Target, job: Any, ready: Barrier, seconds: float,
           results: multiprocessing.Queue[dict[str, int]]) -> None:
    quiet()
    ready.wait(STARTUP_TIMEOUT)
    results.put(target(job, time.monotonic() + seconds))


def _collect(results: multiprocessing.Queue[dict[str, int]], count: int,
             grace: float) -> list[dict[str, int]]:
    got: list[dict[str, int]] = []
    until = time.monotonic() + grace
    while len(got) < count and (left := until - time.monotonic()) > 0:
        try:
            got.append(results.get(timeout=left))
        except queue.Empty:
            break
    return got


def _stop(procs: list[BaseProcess]) -> None:
    for proc in procs:
        proc.join(timeout=2)
        if proc.is_alive():
            proc.terminate()
            proc.join(timeout=5)
        if proc.is_alive():
            proc.kill()
            proc.join(timeout=5)


def run_phase(target: Target, jobs: list[Any], seconds: float, at_deadline: Callable[[], T],
              *, grace: float = 5.0) -> tuple[T, list[dict[str, int]]]:
    """Run ``target`` once per job, each in its own spawned process, for ``seconds``.

    Returns ``at_deadline()``'s value and the counters of the children that finished within
    ``grace`` seconds of the deadline (the others are stopped and left out).
    """
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Barrier(len(jobs) + 1)
    results: multiprocessing.Queue[dict[str, int]] = ctx.Queue()
    procs: list[BaseProcess] = [
        ctx.Process(target=_child, args=(target, job, ready, seconds, results), daemon=True)
        for job in jobs
    ]
    try:
        for proc in procs:
            proc.start()
        ready.wait(STARTUP_TIMEOUT)
        deadline = time.monotonic() + seconds
        time.sleep(seconds)
        time.sleep(max(0.0, deadline - time.monotonic()))
        snapshot = at_deadline()
        finished = _collect(results, len(jobs), grace)
        if len(finished) < len(jobs):
            log(f"{len(jobs) - len(finished)} of {len(jobs)} processes overran the "
                f"{grace:.0f}s grace period; stopped")
        return snapshot, finished
    finally:
        ready.abort()
        _stop(procs)
