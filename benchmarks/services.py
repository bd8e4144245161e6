"""What every benchmark needs around the code it measures: Redis, the simulator, quiet logs.

Not a benchmark itself. Everything here stays on 127.0.0.1 (or a unix socket) and every
process started here is stopped by the context manager that started it.

Postgres (:func:`scratch_databases`): fresh databases created from ``DATABASE_URL`` when set,
else on an embedded server in a temporary directory; migrated, and dropped afterwards.

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
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any

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


def stop_process(proc: subprocess.Popen[str], *, grace: float = 10.0,
                 group: bool = False) -> None:
    """SIGTERM, then SIGKILL after ``grace`` seconds: never leave a child behind. ``group``:
    the SIGKILL goes to its process group (one it leads: a Celery worker and its pool)."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            if group:
                os.killpg(proc.pid, signal.SIGKILL)
            else:
                proc.kill()
            proc.wait(10)


def _tail(stream: IO[bytes], limit: int = 2000) -> str:
    stream.seek(0)
    return stream.read().decode(errors="replace")[-limit:]


@contextmanager
def simulator(sellers: int, time_scale: float, orders_per_seller: int,
              changes_per_minute: float = 0.0, sqs_endpoint_url: str | None = None,
              history_days: int = 30) -> Iterator[str]:
    """Run ``celery -A worker simulator`` on a free loopback port; yield its base URL.

    ``changes_per_minute``: per seller, new and updated orders (and inventory, listings)
    while it runs; 0 keeps the data still. ``sqs_endpoint_url``: where it delivers the
    notifications of subscribed sellers.
    """
    argv = [sys.executable, "-m", "celery", "-A", "worker", "simulator", "--host", "127.0.0.1",
            "--port", "0", "--sellers", str(sellers), "--orders-per-seller",
            str(orders_per_seller), "--time-scale", str(time_scale),
            "--changes-per-minute", str(changes_per_minute), "--history-days",
            str(history_days),
            *(["--sqs-endpoint-url", sqs_endpoint_url] if sqs_endpoint_url else [])]
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=errors, text=True)  # noqa: S603
        try:
            url = _announced_url(proc, STARTUP_TIMEOUT)
            if url is None:
                raise RuntimeError(f"simulator did not start:\n{_tail(errors)}")
            yield url
        finally:
            stop_process(proc)


@contextmanager
def scratch_databases(count: int = 1) -> Iterator[list[str]]:
    """``count`` freshly migrated databases (URLs), dropped afterwards.

    Created from ``DATABASE_URL`` when set, else on an embedded Postgres in a temporary
    directory that is stopped and removed afterwards (as ``tests/conftest.py`` does).
    """
    from sqlalchemy import create_engine, make_url, text

    from worker import embedded
    from worker.config import Settings
    from worker.db.engine import engine_for, migrate, sqlalchemy_url

    base, data_dir = os.environ.get("DATABASE_URL"), None
    names = [f"spsync_bench_{os.getpid()}_{n}" for n in range(count)]
    try:
        if not base:
            data_dir = Path(tempfile.mkdtemp(prefix="spsync-bench-"))
            base = embedded.ensure_postgres(data_dir)
        admin = create_engine(sqlalchemy_url(base), isolation_level="AUTOCOMMIT")
        urls = [make_url(base).set(database=n).render_as_string(hide_password=False)
                for n in names]
        try:
            with admin.connect() as conn:
                for name in names:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
                    conn.execute(text(f'CREATE DATABASE "{name}"'))
            for url in urls:
                migrate(url)
            yield urls
        finally:
            for url in urls:
                engine_for(url).dispose()
            with admin.connect() as conn:
                for name in names:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
    finally:
        if data_dir is not None:
            embedded.stop(Settings(data_dir=str(data_dir), database_url=None, redis_url=None))
            shutil.rmtree(data_dir, ignore_errors=True)


def sim_runtime(database_url: str, redis_url: str, sim_url: str, **overrides: Any) -> Any:
    """A Runtime pointed at the simulator (its demo LWA application), quiet logs."""
    from simulator.remote import SimulatorClient
    from worker.config import Settings
    from worker.crypto import new_key_spec
    from worker.runtime import Runtime

    app = SimulatorClient(sim_url).sellers()["application"]
    values: dict[str, Any] = {
        "database_url": database_url, "redis_url": redis_url, "spapi_url": sim_url,
        "lwa_token_url": sim_url + "/auth/o2/token", "lwa_client_id": app["client_id"],
        "lwa_client_secret": app["client_secret"], "token_keys": new_key_spec("bench"),
        "max_inline_wait_seconds": 30.0, "report_poll_seconds": 0.05,
        "report_poll_max_seconds": 0.5, "log_format": "json", "log_level": "WARNING",
    }
    return Runtime(Settings(**(values | overrides)))


def child_env(rt: Any, **settings: str) -> dict[str, str]:
    """The environment of a ``celery -A worker`` child pointed where ``rt`` is (database,
    Redis, the simulator and its LWA application, the token keys), quiet JSON logs, plus
    ``settings`` (``SPSYNC_*`` names). Reports are polled every 50 ms (the simulator finishes
    them in a fraction of a second), so the report streams' first runs do not hold the pool."""
    s = rt.settings
    return {**os.environ, "SPSYNC_REPORT_POLL_SECONDS": "0.05",
            "SPSYNC_REPORT_POLL_MAX_SECONDS": "0.5", "DATABASE_URL": rt.services.database_url,
            "REDIS_URL": rt.services.redis_url, "SPSYNC_SPAPI_URL": str(s.spapi_url),
            "SPSYNC_LWA_TOKEN_URL": str(s.lwa_token_url),
            "SPSYNC_LWA_CLIENT_ID": str(s.lwa_client_id),
            "SPSYNC_LWA_CLIENT_SECRET": s.lwa_client_secret.get_secret_value(),
            "SPSYNC_TOKEN_KEYS": s.token_keys.get_secret_value(), "SPSYNC_LOG_LEVEL": "WARNING",
            "SPSYNC_LOG_FORMAT": "json", **settings}


def register_sim_sellers(rt: Any, sim_url: str,
                         kinds: tuple[str, ...] | None = None) -> dict[str, int]:
    """Register every simulated seller in ``rt``'s database: selling partner id -> id. With
    ``kinds``, only those kinds' streams (default: every stream a seller has)."""
    from simulator.remote import SimulatorClient
    from worker.db.sellers import upsert_seller
    from worker.sync.catalog import streams_for

    ids = {}
    with rt.engine.begin() as conn:
        for s in SimulatorClient(sim_url).sellers()["sellers"]:
            ids[s["selling_partner_id"]] = upsert_seller(
                conn, rt.keyring, selling_partner_id=s["selling_partner_id"],
                region=s["region"], marketplace_ids=s["marketplace_ids"],
                refresh_token=s["refresh_token"],
                streams=[st for st in streams_for(s["marketplace_ids"])
                         if kinds is None or st.partition(":")[0] in kinds])
    return ids
