"""What every benchmark needs around the code it measures: Redis, the simulator, quiet logs.

Not a benchmark itself. Everything here stays on 127.0.0.1 (or a unix socket) and every
process started here is stopped by the context manager that started it.

Redis, in order of preference:

1. ``REDIS_URL`` when set (its database is flushed: point it at a scratch database);
2. the development server ``redis://127.0.0.1:6379/14`` when it answers (db 14 is the
   benchmarks' scratch database, flushed at start);
3. otherwise an embedded ``redis-server`` (``worker.embedded.ensure_redis``) in a temporary
   directory, shut down and removed afterwards.
"""

from __future__ import annotations

import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO

import redis

DEV_REDIS = "redis://127.0.0.1:6379/14"
STARTUP_TIMEOUT = 60.0


def log(message: str) -> None:
    """Progress goes to stderr: stdout carries only the one JSON line."""
    print(message, file=sys.stderr, flush=True)


def quiet() -> None:
    """Warnings and errors only, on stderr, for this process (parent or benchmark child)."""
    from worker.config import Settings
    from worker.logging import configure_logging

    configure_logging(Settings(log_level="WARNING", log_format="json"), stream=sys.stderr)


def _pings(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=0.5).ping())
    except (redis.RedisError, OSError):
        return False


@contextmanager
def bench_redis() -> Iterator[tuple[str, str]]:
    """Yield ``(url, kind)`` of a flushed Redis database; ``kind`` says which one it is."""
    url = os.environ.get("REDIS_URL")
    if url or _pings(DEV_REDIS):
        url, kind = (url, "REDIS_URL") if url else (DEV_REDIS, "127.0.0.1:6379/14")
        redis.Redis.from_url(url).flushdb()
        yield url, kind
        return
    from worker.embedded import ensure_redis

    data_dir = Path(tempfile.mkdtemp(prefix="spsync-bench-"))
    try:
        embedded = ensure_redis(data_dir)
        try:
            yield embedded, "embedded"
        finally:
            with suppress(redis.RedisError, OSError):
                redis.Redis.from_url(embedded).shutdown(nosave=True)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def _announced_url(proc: subprocess.Popen[str], timeout: float) -> str | None:
    """The URL from the simulator's ``... listening on http://...`` line, read off-thread."""
    lines: queue.Queue[str] = queue.Queue()
    stdout = proc.stdout
    assert stdout is not None

    def read() -> None:
        for line in stdout:
            lines.put(line)

    threading.Thread(target=read, daemon=True).start()
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        try:
            line = lines.get(timeout=min(left, 0.5))
        except queue.Empty:
            if proc.poll() is not None:
                return None
            continue
        if "listening on" in line:
            return line.rsplit(" ", 1)[-1].strip()
    return None


def stop_process(proc: subprocess.Popen[str]) -> None:
    """SIGTERM, then SIGKILL after 10 s: never leave a simulator behind."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def _tail(stream: IO[bytes], limit: int = 2000) -> str:
    stream.seek(0)
    return stream.read().decode(errors="replace")[-limit:]


@contextmanager
def simulator(sellers: int, time_scale: float, orders_per_seller: int) -> Iterator[str]:
    """Run ``celery -A worker sandbox`` on a free loopback port; yield its base URL."""
    argv = [sys.executable, "-m", "celery", "-A", "worker", "sandbox", "--host", "127.0.0.1",
            "--port", "0", "--sellers", str(sellers), "--orders-per-seller",
            str(orders_per_seller), "--time-scale", str(time_scale),
            "--changes-per-minute", "0"]
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=errors, text=True)  # noqa: S603
        try:
            url = _announced_url(proc, STARTUP_TIMEOUT)
            if url is None:
                raise RuntimeError(f"simulator did not start:\n{_tail(errors)}")
            yield url
        finally:
            stop_process(proc)
