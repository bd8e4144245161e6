"""Shared fixtures: real Postgres + Redis (configured or embedded) and the simulator on loopback.

With ``DATABASE_URL``/``REDIS_URL`` set (CI), tests use those servers: a fresh database is
created per test process and dropped after; the Redis database in ``REDIS_URL`` is flushed
between tests (point it at a database index nobody else uses; with pytest-xdist, worker gwN
uses the N-th index after it, see :func:`redis_for_worker`). Without them, the embedded
servers under ``.spsync-test/`` are started once for the run, so a fresh laptop runs the
suite with pip alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# Celery's command group first: loading its plugins is what lets worker/cli keep our
# `migrate` and `status` over Celery's built-ins, which it cannot once a test module (e.g.
# tests/unit/test_fuzz_regressions.py) has imported worker.cli by itself. Without this, the
# status and migrate tests failed whenever another module was collected between the two.
import celery.bin.celery  # noqa: F401
import pytest
import redis
import structlog
from sqlalchemy import create_engine, make_url, text

from simulator.app import serve
from simulator.config import SimConfig
from simulator.remote import SimulatorClient
from tests.e2e.procs import OwnRedis, free_port
from worker import embedded
from worker.config import Settings, get_settings
from worker.crypto import new_key_spec
from worker.db.engine import migrate, sqlalchemy_url
from worker.runtime import Runtime

ROOT = Path(__file__).resolve().parents[1]

# structlog.testing.capture_logs cannot see a logger cached on its first use: whether a test
# captured an event depended on which test had logged through that module first in the same
# process. The tests configure structlog (worker/logging.py) with the cache off.
_configure = structlog.configure


def _configure_uncached(*args: Any, **kwargs: Any) -> None:
    _configure(*args, **{**kwargs, "cache_logger_on_first_use": False})


structlog.configure = _configure_uncached


@dataclass(frozen=True)
class Services:
    database_url: str
    redis_url: str


def pytest_configure(config: pytest.Config) -> None:
    """In the controlling process: without DATABASE_URL/REDIS_URL, start the embedded
    servers once and hand their URLs to every test process (pytest-xdist workers inherit
    the environment); stop them at the end if this run started them. In a worker: move
    REDIS_URL to the worker's own database index."""
    if hasattr(config, "workerinput"):
        # Everything in this process reads REDIS_URL (the Celery app's broker, the rate
        # limiter, subprocesses tests start): point it at this worker's own index once.
        os.environ["REDIS_URL"] = redis_for_worker(os.environ["REDIS_URL"], worker_number())
        get_settings.cache_clear()
        return
    if os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL"):
        return
    data_dir = ROOT / ".spsync-test"
    embedded_settings = Settings(data_dir=str(data_dir), database_url=None, redis_url=None)
    if not embedded.running(embedded_settings):
        config.add_cleanup(lambda: embedded.stop(embedded_settings))  # leave a laptop as found
    os.environ.setdefault("DATABASE_URL", embedded.ensure_postgres(data_dir))
    os.environ.setdefault("REDIS_URL", embedded.ensure_redis(data_dir))


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto``: two test processes per core (most tests wait on Postgres, Redis, the
    simulator or a child process rather than compute), at most 8 so that every worker has its
    own Redis database index of the 16; ``SPSYNC_TEST_WORKERS`` overrides."""
    wanted = os.environ.get("SPSYNC_TEST_WORKERS", "")
    if wanted.isdigit() and int(wanted) > 0:
        return min(int(wanted), 16)
    return max(1, min(2 * (os.cpu_count() or 1), 8))


def worker_number() -> int:
    """0 without pytest-xdist; N for its worker ``gwN``."""
    name = os.environ.get("PYTEST_XDIST_WORKER", "")
    return int(name[2:]) if name.startswith("gw") and name[2:].isdigit() else 0


def redis_for_worker(url: str, worker: int) -> str:
    """Worker N flushes the Redis database N after the one in ``url`` (of 16, wrapping), so
    parallel workers never flush each other's keys."""
    if worker == 0:
        return url
    parts = urlsplit(url)
    if parts.scheme == "unix":
        query = dict(parse_qsl(parts.query))
        query["db"] = str((int(query.get("db") or 0) + worker) % 16)
        return f"unix://{parts.path}?{urlencode(query)}"  # urlunsplit drops an empty netloc
    index = (int(parts.path.strip("/") or 0) + worker) % 16
    return urlunsplit(parts._replace(path=f"/{index}"))


@pytest.fixture(scope="session")
def services() -> Iterator[Services]:
    """A fresh database for this test process (dropped after) and its own Redis index."""
    base_db, redis_url = os.environ["DATABASE_URL"], os.environ["REDIS_URL"]
    name = f"spsync_test_{os.getpid()}"
    admin = create_engine(sqlalchemy_url(base_db), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(base_db).set(database=name).render_as_string(hide_password=False)
    migrate(url)
    yield Services(url, redis_url)  # already this worker's own index (pytest_configure)
    from worker.db.engine import engine_for

    engine_for(url).dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def _scratch_database(services: Services) -> Iterator[str]:
    """One scratch database per test process, dropped at its end: DROP DATABASE forces a
    cluster-wide checkpoint, which took up to 20 s per test while the rest of the suite was
    writing."""
    name = f"spsync_schema_check_{os.getpid()}"
    admin = create_engine(sqlalchemy_url(services.database_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(services.database_url).set(database=name).render_as_string(
        hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def scratch_db(_scratch_database: str) -> str:
    """An empty database for migrations to run in: the scratch database's public schema
    dropped and created again (the migrations create nothing outside it)."""
    engine = create_engine(sqlalchemy_url(_scratch_database), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return _scratch_database


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    """A Redis server of the test's own, to kill and restart (``tests/e2e/procs.py``)."""
    server = OwnRedis(free_port(), tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_cluster() -> Iterator[Any]:
    """A Redis Cluster of the test's own: three masters, each with a replica, on free local
    ports (``devtools/redis_cluster.py``); the test may kill its nodes."""
    from devtools.redis_cluster import Cluster, available

    missing = available()
    if missing:
        raise RuntimeError(f"a Redis Cluster cannot be started here: {missing}")
    with Cluster() as cluster:
        yield cluster


_VHOSTS = iter(range(1_000_000))


def _rabbitmqctl(*args: str) -> None:
    import shutil
    import subprocess

    ctl = shutil.which("rabbitmqctl")
    if ctl is None:
        raise RuntimeError("rabbitmqctl not found: the RabbitMQ tests make a virtual host each")
    subprocess.run([ctl, "-q", *args], check=True, capture_output=True,  # noqa: S603
                   timeout=120)


@pytest.fixture
def rabbitmq() -> Iterator[str]:
    """A broker URL on a RabbitMQ virtual host of the test's own (the machine's RabbitMQ,
    ``RABBITMQ_URL``, default guest on 127.0.0.1:5672), deleted afterwards: nothing a test
    leaves in its queues reaches another test."""
    base = os.environ.get("RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672").rstrip("/")
    user = urlsplit(base).username or "guest"
    vhost = f"spsync_test_{os.getpid()}_{next(_VHOSTS)}"
    _rabbitmqctl("add_vhost", vhost)
    try:
        _rabbitmqctl("set_permissions", "-p", vhost, user, ".*", ".*", ".*")
        yield f"{base}/{vhost}"
    finally:
        _rabbitmqctl("delete_vhost", vhost)


@pytest.fixture(params=["redis", "rabbitmq"])
def broker_url(request: pytest.FixtureRequest) -> str | None:
    """The test once on each broker spsync supports: Redis (None: REDIS_URL's, the default)
    and RabbitMQ (a virtual host of the test's own)."""
    return request.getfixturevalue("rabbitmq") if request.param == "rabbitmq" else None


@pytest.fixture
def clean(services: Services) -> Services:
    """Empty mirror, change feed and Redis before each test that uses them (TRUNCATE fires
    no delete triggers, so the feed is emptied with it)."""
    engine = create_engine(sqlalchemy_url(services.database_url))
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE sellers, sync_runs, changes, feed_consumers "
                          "RESTART IDENTITY CASCADE"))
    engine.dispose()
    redis.Redis.from_url(services.redis_url).flushdb()
    return services


@pytest.fixture
def broker(clean: Services) -> Iterator[str]:
    """The Celery app's broker is the test's Redis (what ``enqueue.send`` publishes to), then
    back to what it was: an in-process ``celery`` command (``tests/clikit.py``) re-configures
    the global app, and its connection pool keeps whatever broker it was first built for."""
    from worker.app import app

    def use(url: str) -> None:
        app.conf.broker_url = url
        app._pool = None  # kombu's pools are per URL: the new URL's is found or made
        app.amqp._producer_pool = None

    saved = app.conf.broker_url
    use(clean.redis_url)
    yield clean.redis_url
    use(saved)


class Sim:
    """A simulator served from its own thread and event loop (so blocking callers work)."""

    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self._ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self.url = ""
        self._thread = threading.Thread(target=self._main, daemon=True)
        self._thread.start()
        if not self._ready.wait(15):
            raise RuntimeError("simulator did not start")
        self.client = SimulatorClient(self.url)

    def _main(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._task = self._loop.create_task(serve(self.config, "127.0.0.1", 0, ready=self._on))
        with contextlib.suppress(asyncio.CancelledError):
            self._loop.run_until_complete(self._task)

    def _on(self, url: str) -> None:
        self.url = url
        self._ready.set()

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._task.cancel)
        self._thread.join(10)

    def world(self) -> dict[str, Any]:
        return self.client.sellers()


@pytest.fixture
def start_sim() -> Iterator[Any]:
    sims: list[Sim] = []

    def start(**knobs: Any) -> Sim:
        sim = Sim(SimConfig(**knobs))
        sims.append(sim)
        return sim

    yield start
    for sim in sims:
        sim.stop()


def settings_for(services: Services, sim: Sim, **overrides: Any) -> Settings:
    app = sim.world()["application"]
    values: dict[str, Any] = {
        "database_url": services.database_url,
        "redis_url": services.redis_url,
        "spapi_url": sim.url,
        "lwa_token_url": sim.url + "/auth/o2/token",
        "lwa_client_id": app["client_id"],
        "lwa_client_secret": app["client_secret"],
        "token_keys": new_key_spec("test"),
        "orders_lag_seconds": sim.config.lag_seconds,
        "orders_overlap_seconds": 5.0,
        "orders_initial_days": sim.config.history_days + 2,
        "backoff_base_seconds": 0.01,
        "backoff_cap_seconds": 0.2,
        "max_inline_wait_seconds": 30.0,
        "log_format": "json",
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def runtime_for(clean: Services) -> Any:
    def make(sim: Sim, **overrides: Any) -> Runtime:
        return Runtime(settings_for(clean, sim, **overrides))

    return make


@dataclass(frozen=True)
class Sqs:
    endpoint_url: str

    def client(self) -> Any:
        import boto3

        return boto3.client("sqs", endpoint_url=self.endpoint_url, region_name="us-east-1",
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    def new_queue(self, name: str | None = None) -> str:
        """A fresh queue's URL (names are unique per test)."""
        import uuid

        return str(self.client().create_queue(
            QueueName=name or f"spsync-{uuid.uuid4().hex[:12]}")["QueueUrl"])


@pytest.fixture(scope="session")
def sqs_server() -> Iterator[Sqs]:
    """A real SQS endpoint: moto in server mode, on loopback, for the whole session."""
    import socket

    from moto.server import ThreadedMotoServer

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    for key, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                       ("AWS_DEFAULT_REGION", "us-east-1")):
        os.environ.setdefault(key, value)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield Sqs(f"http://127.0.0.1:{port}")
    server.stop()


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The end-to-end and chaos tests (worker processes, restarts, kills, timing windows) run
    one at a time on one xdist worker (``--dist loadgroup``), beside the other tests on the
    others: two of them at once on a 2-core CI machine starved each other's workers. The fuzz
    tests (CPU only, no clock) stay free."""
    for item in items:
        heavy = item.get_closest_marker("e2e") or item.get_closest_marker("chaos")
        if heavy and "test_fuzz" not in item.nodeid:
            item.add_marker(pytest.mark.xdist_group("heavy"))
