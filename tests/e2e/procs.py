"""Real processes for end-to-end tests: spsync's (environment, start, wait, stop) and a Redis
server of the test's own that it can kill and restart."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import redis

from devtools.ports import free_port as free_port  # the tests' one way to get a port
from worker.config import Settings
from worker.embedded import _redis_binary


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
        **{f"SPSYNC_{kind}_{knob}".upper(): str(value)  # the stream knobs set (e.g. orders lag)
           for kind, knobs in settings.streams.items()
           for knob, value in knobs.model_dump(exclude_none=True).items()},
        "SPSYNC_ORDERS_INTERVAL_SECONDS": "3600",
        # the simulator finishes a report in a fraction of a second: poll it that often
        "SPSYNC_REPORT_POLL_SECONDS": "0.05", "SPSYNC_REPORT_POLL_MAX_SECONDS": "0.5",
        "SPSYNC_DISPATCH_INTERVAL_SECONDS": "1",
        "SPSYNC_DISPATCH_CLAIM_SECONDS": "3",
        "SPSYNC_LOG_FORMAT": "json",
    })
    if settings.broker_url:
        env["SPSYNC_BROKER_URL"] = settings.broker_url
    env.update(extra)
    return env



def simulator_env(url: str, env: dict[str, str]) -> dict[str, str]:
    """What ``eval "$(celery -A worker simulator-env --spapi-url URL)"`` exports: the
    simulator's URL and its own LWA application as SPSYNC_* settings."""
    done = subprocess.run(  # noqa: S603 - this interpreter, our own command
        [sys.executable, "-m", "celery", "-A", "worker", "simulator-env", "--spapi-url", url],
        env=env, capture_output=True, text=True, timeout=60, check=True)
    words = shlex.split(done.stdout)
    assert words[0] == "export", done.stdout
    return dict(word.split("=", 1) for word in words[1:])

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


@dataclass
class OwnRedis:
    """A Redis server on ``port``, without persistence: killed, it comes back empty."""

    port: int
    workdir: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(  # noqa: S603 - our own binary, fixed arguments
            [_redis_binary(), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait(self._pings, 10, "Redis to start", every=0.02)

    def kill(self) -> None:
        """SIGKILL: gone at once, with everything it held."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()

    def restart(self) -> None:
        """Gone and back, empty: what a Redis without persistence does after a crash."""
        self.kill()
        self.start()

    stop = kill

    def _pings(self) -> bool:
        try:
            return bool(redis.Redis.from_url(self.url, socket_connect_timeout=0.5).ping())
        except redis.RedisError:
            return False
