"""Real spsync processes for end-to-end tests: environment, start, wait, stop."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from worker.config import Settings


def env_for(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment that makes a child process use ``settings`` (plus ``extra``)."""
    env = dict(os.environ)
    secret = settings.lwa_client_secret.get_secret_value() if settings.lwa_client_secret else ""
    env.update({
        "DATABASE_URL": settings.database_url or "",
        "REDIS_URL": settings.redis_url or "",
        "SPSYNC_SPAPI_URL": str(settings.spapi_url),
        "SPSYNC_LWA_TOKEN_URL": str(settings.lwa_token_url),
        "SPSYNC_LWA_CLIENT_ID": str(settings.lwa_client_id),
        "SPSYNC_LWA_CLIENT_SECRET": secret,
        "SPSYNC_TOKEN_KEYS": settings.token_keys.get_secret_value() if settings.token_keys
        else "",
        "SPSYNC_ORDERS_LAG_SECONDS": str(settings.orders_lag_seconds),
        "SPSYNC_ORDERS_INITIAL_DAYS": str(settings.orders_initial_days),
        "SPSYNC_ORDERS_MAX_WINDOW_HOURS": str(settings.orders_max_window_hours),
        "SPSYNC_ORDERS_PAGE_SIZE": str(settings.orders_page_size),
        "SPSYNC_ORDERS_INTERVAL_SECONDS": "3600",
        "SPSYNC_DISPATCH_INTERVAL_SECONDS": "1",
        "SPSYNC_DISPATCH_CLAIM_SECONDS": "3",
        "SPSYNC_LOG_FORMAT": "json",
    })
    env.update(extra)
    return env


def start(kind: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """A ``celery -A worker worker`` (one slot) or ``beat``, logging to ``log``."""
    args = {
        "worker": ["worker", "-c", "1", "-Q", "spsync", "--without-gossip", "--without-mingle",
                   "--without-heartbeat", "-l", "INFO"],
        "beat": ["beat", "-l", "INFO", "-s", str(log.with_suffix(".schedule"))],
    }[kind]
    return start_celery(args, env, log)


def start_celery(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """``celery -A worker <args>`` in its own process group (so killpg stops all of it)."""
    return subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "celery", "-A", "worker", *args], env=env,
        stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True)


def wait(predicate: Callable[[], object], timeout: float, what: str,
         every: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(every)


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM each live process group; SIGKILL what has not ended 10 s later."""
    for p in procs:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGTERM)
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
