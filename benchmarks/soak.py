"""Soak: a steady multi-seller sync for a long while; do the processes' memory or files grow?

Usage::

    python -m benchmarks.soak --minutes 30       # full run
    python -m benchmarks.soak --minutes 1        # smoke check

What runs, all on loopback: the simulator (``celery -A worker simulator`` subprocess) with
``--sellers`` sellers of 200 orders each whose data keeps changing (``--changes-per-minute``
per seller: new and updated orders, inventory and listings), at ``--time-scale`` (default 60,
which also scales the SP-API quotas); a scratch database; the benchmark Redis (broker and
buckets). The sellers are registered, then a real ``celery -A worker worker`` (prefork,
``--concurrency`` pool processes, queue ``spsync``) and a real ``celery -A worker beat`` run
as children, configured as ``devtools/demo.py`` configures its own: every stream is due again
``--interval`` seconds after its sync (default 10 s), beat ticks every 2 s (dispatcher, inbox
sweep, outbox), the orders lag is Amazon's two minutes at the time scale. So each stream
syncs again and again for the whole run: with 4 sellers ~2 syncs a second, each a fresh
``asyncio.run`` with its own aiohttp session and async Redis client, as in production.

Every ``--sample-seconds`` (10) this process reads, for each role, ``VmRSS`` from
``/proc/<pid>/status`` and the number of entries of ``/proc/<pid>/fd``: ``worker`` (the
Celery main process), ``pool`` (its child processes, found by their parent pid in
``/proc/*/stat``, summed; ``pool_pids`` counts the distinct ones seen, more than
``--concurrency`` means a child was replaced), ``beat``.

Figures per role: ``rss_mb_start`` / ``fds_start`` = the first sample after the warm-up (2
minutes or 20 % of the run, whichever is shorter: imports, the first full sync, pools
filling), ``rss_mb_end`` / ``fds_end`` = the last sample, ``rss_mb_per_hour`` /
``fds_per_hour`` = least-squares slope over the samples after the warm-up, and
``rss_mb_resid_sd`` = the standard deviation of the samples around that line (the noise to
read the slope against: a slope times the run's length well inside a few of these is no
growth), ``rss_mb_per_hour_late`` = the slope over the second half of those samples (caches
that fill up, yarl's URL caches or SQLAlchemy's statement cache, grow early and then stop; a
leak keeps its slope); ``fds_per_hour_late`` the same for open files (a pool child opens its
first connection of a kind the first time it runs such a task, then holds it);
``fd_kinds_start`` / ``fd_kinds_end`` name the open files of those two samples by kind
(socket, pipe, epoll...), so a step in the count says what was opened.
``sync_runs`` counts the runs recorded in the database by status; ``api_calls`` /
``throttled`` are the simulator's counters; ``error_lines`` counts lines the worker and beat
logged at error level. Prints one JSON line; asserts nothing.
Target (issue 8): no growth beyond noise.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import text

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

ROLES = ("worker", "pool", "beat")


@dataclass
class Series:
    """One role's samples: (seconds since start, RSS MB, open fds)."""

    t: list[float] = field(default_factory=list)
    rss_mb: list[float] = field(default_factory=list)
    fds: list[int] = field(default_factory=list)
    pids: set[int] = field(default_factory=set)
    # what the open files are, by kind (socket, pipe, anon_inode:[eventpoll], a path), summed
    # over the role's processes: one entry per sample, so a step in ``fds`` can be named
    fd_kinds: list[dict[str, int]] = field(default_factory=list)


# --- /proc ----------------------------------------------------------------------------------


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0  # a zombie has no VmRSS


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def fd_kinds(pid: int) -> Counter[str]:
    """``pid``'s open files by kind: ``socket``, ``pipe``, ``anon_inode:[eventpoll]``, or the
    file's path (numbers dropped, so every socket counts as one kind)."""
    kinds: Counter[str] = Counter()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        with contextlib.suppress(OSError):  # closed between listing and reading
            kinds[re.sub(r":\[\d+\]$", "", os.readlink(f"/proc/{pid}/fd/{fd}"))] += 1
    return kinds


def children(pid: int) -> list[int]:
    """Direct children of ``pid`` (the 4th field of ``/proc/<child>/stat`` is its parent)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue  # exited meanwhile
        # comm (2nd field) may hold spaces and parentheses: split after its closing one
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry))
    return found


def sample(series: dict[str, Series], procs: dict[str, int], t: float) -> None:
    """Add one sample per role; the pool's figures are its processes' sums."""
    for role, pids in (("worker", [procs["worker"]]), ("pool", children(procs["worker"])),
                       ("beat", [procs["beat"]])):
        rss, fds, kinds = 0, 0, Counter[str]()
        for pid in pids:
            try:
                rss, fds = rss + rss_kb(pid), fds + open_fds(pid)
                kinds.update(fd_kinds(pid))
            except (OSError, ValueError):
                continue  # a pool process replaced between listing and reading
        s = series[role]
        s.t.append(t)
        s.rss_mb.append(rss / 1024)
        s.fds.append(fds)
        s.pids.update(pids)
        s.fd_kinds.append(dict(kinds))


# --- figures --------------------------------------------------------------------------------


def slope_per_hour(t: list[float], y: list[float]) -> tuple[float, float]:
    """Least-squares slope of ``y`` over ``t`` (seconds), per hour; and the residuals' SD."""
    if len(t) < 3:
        return 0.0, 0.0
    fit = statistics.linear_regression(t, y)
    resid = [v - (fit.intercept + fit.slope * x) for x, v in zip(t, y, strict=True)]
    return fit.slope * 3600, statistics.pstdev(resid)


def figures(s: Series, warmup: float) -> dict[str, Any]:
    keep = [i for i, t in enumerate(s.t) if t >= warmup] or list(range(len(s.t)))
    t = [s.t[i] for i in keep]
    rss = [s.rss_mb[i] for i in keep]
    fds = [float(s.fds[i]) for i in keep]
    rss_slope, rss_sd = slope_per_hour(t, rss)
    half = len(t) // 2
    late_slope, _ = slope_per_hour(t[half:], rss[half:])
    fd_slope, _ = slope_per_hour(t, fds)
    late_fd_slope, _ = slope_per_hour(t[half:], fds[half:])
    return {"rss_mb_start": round(rss[0], 1), "rss_mb_end": round(rss[-1], 1),
            "rss_mb_per_hour": round(rss_slope, 2), "rss_mb_resid_sd": round(rss_sd, 2),
            "rss_mb_per_hour_late": round(late_slope, 2),
            "fds_start": int(fds[0]), "fds_end": int(fds[-1]),
            "fds_per_hour": round(fd_slope, 2), "fds_per_hour_late": round(late_fd_slope, 2),
            "fd_kinds_start": s.fd_kinds[keep[0]] if s.fd_kinds else {},
            "fd_kinds_end": s.fd_kinds[keep[-1]] if s.fd_kinds else {}}


# --- children -------------------------------------------------------------------------------


def soak_env(rt: Any, args: Any) -> dict[str, str]:
    every = str(args.interval)
    return child_env(rt, **{
        "SPSYNC_ORDERS_LAG_SECONDS": str(round(120 / args.time_scale, 3)),
        "SPSYNC_ORDERS_OVERLAP_SECONDS": "5", "SPSYNC_ORDERS_INITIAL_DAYS": "45",
        "SPSYNC_ORDERS_INTERVAL_SECONDS": every, "SPSYNC_INVENTORY_INTERVAL_SECONDS": every,
        "SPSYNC_LISTINGS_INTERVAL_SECONDS": every,
        "SPSYNC_INVENTORY_OVERLAP_SECONDS": "5", "SPSYNC_LISTINGS_OVERLAP_SECONDS": "5",
        "SPSYNC_DISPATCH_INTERVAL_SECONDS": "2", "SPSYNC_DISPATCH_CLAIM_SECONDS": "60",
        "SPSYNC_MAX_INLINE_WAIT_SECONDS": "30"})


def start(role: str, argv: list[str], env: dict[str, str], logs: Path) -> subprocess.Popen[str]:
    with (logs / f"{role}.log").open("w") as out:
        return subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "celery", "-A", "worker", *argv], env=env, stdout=out,
            stderr=subprocess.STDOUT, text=True, start_new_session=True)


# --- the run --------------------------------------------------------------------------------


def soak(args: Any, procs: dict[str, subprocess.Popen[str]], logs: Path) -> dict[str, Series]:
    series = {role: Series() for role in ROLES}
    pids = {role: p.pid for role, p in procs.items()}
    started = time.monotonic()
    deadline = started + args.minutes * 60
    next_at = started
    while (now := time.monotonic()) < deadline:
        dead = [role for role, p in procs.items() if p.poll() is not None]
        if dead:
            raise RuntimeError(f"{', '.join(dead)} exited early; logs in {logs}")
        sample(series, pids, now - started)
        if len(series["worker"].t) % 6 == 1:
            w, p = series["worker"], series["pool"]
            log(f"{now - started:5.0f}s worker {w.rss_mb[-1]:.1f} MB / {w.fds[-1]} fds, "
                f"pool {p.rss_mb[-1]:.1f} MB / {p.fds[-1]} fds")
        next_at += args.sample_seconds
        time.sleep(max(0.0, min(next_at, deadline) - time.monotonic()))
    sample(series, pids, time.monotonic() - started)
    return series


def run_counts(rt: Any) -> dict[str, int]:
    with rt.engine.begin() as conn:
        rows = conn.execute(text("SELECT status, count(*) FROM sync_runs GROUP BY status")).all()
    return {str(status): int(n) for status, n in rows}


def _run(args: Any, db: str, redis_url: str, sim_url: str, logs: Path) -> dict[str, Any]:
    from simulator.remote import SimulatorClient

    rt = sim_runtime(db, redis_url, sim_url)
    register_sim_sellers(rt, sim_url)
    env = soak_env(rt, args)
    procs = {
        "worker": start("worker", ["worker", "-Q", "spsync", "-c", str(args.concurrency),
                                   "--without-gossip", "--without-mingle", "--without-heartbeat",
                                   "-l", "WARNING", "-n", "soak@%h"], env, logs),
        "beat": start("beat", ["beat", "-l", "WARNING", "-s", str(logs / "celerybeat-schedule")],
                      env, logs),
    }
    try:
        series = soak(args, procs, logs)
    finally:
        for proc in procs.values():
            # warm shutdown (running tasks finish), then the worker and its pool
            stop_process(proc, grace=30, group=True)
    warmup = min(120.0, 0.2 * args.minutes * 60)
    stats = SimulatorClient(sim_url).stats()
    out: dict[str, Any] = {
        "benchmark": "soak", "minutes": args.minutes, "sellers": args.sellers,
        "time_scale": args.time_scale, "changes_per_minute": args.changes_per_minute,
        "interval_s": args.interval, "concurrency": args.concurrency,
        "samples": len(series["worker"].t), "warmup_s": round(warmup),
    }
    for role in ROLES:
        out[role] = figures(series[role], warmup)
    out["pool"]["pool_pids"] = len(series["pool"].pids)
    out["sync_runs"] = run_counts(rt)
    out["api_calls"] = sum(b["calls"] for b in stats.get("buckets", []))
    out["throttled"] = sum(b["throttled"] for b in stats.get("buckets", []))
    out["error_lines"] = error_lines(logs)
    return out


def error_lines(logs: Path) -> int:
    """Lines logged at error level by the worker and beat (structlog JSON or Celery's own)."""
    return sum(1 for role in ("worker", "beat")
               for line in (logs / f"{role}.log").read_text(errors="replace").splitlines()
               if '"level": "error"' in line or "ERROR/" in line or "CRITICAL/" in line)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--sellers", type=int, default=4)
    ap.add_argument("--time-scale", type=float, default=60.0)
    ap.add_argument("--changes-per-minute", type=float, default=30.0, help="per seller")
    ap.add_argument("--interval", type=float, default=10.0,
                    help="seconds between two syncs of one stream")
    ap.add_argument("--concurrency", type=int, default=2, help="worker pool processes")
    ap.add_argument("--sample-seconds", type=float, default=10.0)
    args = ap.parse_args(argv)
    if args.minutes <= 0 or args.sellers < 1 or args.sample_seconds <= 0:
        ap.error("--minutes, --sellers and --sample-seconds must be positive")
    quiet()
    with bench_redis() as (redis_url, _), scratch_databases(1) as (db,), \
            simulator(args.sellers, args.time_scale, 200, args.changes_per_minute) as sim_url, \
            tempfile.TemporaryDirectory(prefix="spsync-soak-") as logs:
        print(json.dumps(_run(args, db, redis_url, sim_url, Path(logs))))


if __name__ == "__main__":
    main()
