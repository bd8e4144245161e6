"""The pure layer's guard (tests/unit/conftest.py) refuses processes and connections here,
and leaves in-process plumbing alone: socketpairs (asyncio's self-pipe), fakeredis."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
from collections.abc import Iterator

import fakeredis
import pytest
from sqlalchemy import create_engine, text

from tests.unit.conftest import RULE, Layer, LayerViolation


@pytest.fixture
def layer(pure_layer: Layer) -> Iterator[Layer]:
    """The guard, for tests that trip it on purpose: what it refused is checked, then forgiven
    (else the guard fails the test at teardown)."""
    yield pure_layer
    pure_layer.refused.clear()


def _fork_and_leave() -> None:
    if os.fork() == 0:  # only if the guard is broken: the child leaves at once
        os._exit(0)


def test_starting_a_process_is_refused(layer: Layer) -> None:
    with pytest.raises(LayerViolation, match="tests/unit is the pure layer") as raised:
        subprocess.run([sys.executable, "-c", "pass"], check=False)
    assert str(raised.value).startswith(RULE)
    with pytest.raises(LayerViolation):
        _fork_and_leave()
    with pytest.raises(LayerViolation):
        os.system("true")  # noqa: S605, S607

    async def spawn() -> None:
        await asyncio.create_subprocess_exec(sys.executable, "-c", "pass")

    with pytest.raises(LayerViolation):
        asyncio.run(spawn())
    assert len(layer.refused) == 4


def test_connecting_or_serving_is_refused(layer: Layer) -> None:
    with socket.socket() as sock, pytest.raises(LayerViolation, match=r"127\.0\.0\.1"):
        sock.connect(("127.0.0.1", 9))
    with socket.socket() as sock, pytest.raises(LayerViolation):
        sock.connect_ex(("127.0.0.1", 9))
    with pytest.raises(LayerViolation):
        socket.create_connection(("127.0.0.1", 9), timeout=1)
    with socket.socket() as sock, pytest.raises(LayerViolation, match="binding"):
        sock.bind(("127.0.0.1", 0))
    with socket.socket(socket.AF_UNIX) as sock, pytest.raises(LayerViolation):
        sock.connect("/nonexistent/redis.sock")

    async def serve() -> None:
        await asyncio.start_server(lambda _r, _w: None, "127.0.0.1", 0)

    with pytest.raises(LayerViolation):
        asyncio.run(serve())
    with pytest.raises(LayerViolation, match="Postgres"):
        create_engine("postgresql+psycopg://nobody@127.0.0.1:9/none").connect()
    assert len(layer.refused) == 7


def test_a_refusal_the_code_swallows_is_still_recorded(layer: Layer) -> None:
    """Code that catches connection errors (a health check, a retry loop) cannot hide one:
    the guard fails the test at teardown for anything in ``refused``."""
    with contextlib.suppress(Exception):  # what such code does
        socket.create_connection(("127.0.0.1", 9), timeout=1)
    assert layer.refused == ["connecting a socket to ('127.0.0.1', 9)"]


def test_in_process_plumbing_keeps_working() -> None:
    left, right = socket.socketpair()  # what asyncio's event loop wakes itself with
    with left, right:
        left.sendall(b"x")
        assert right.recv(1) == b"x"

    async def roundtrip() -> object:
        redis = fakeredis.FakeAsyncRedis()
        await redis.set("k", b"v")
        await asyncio.sleep(0)
        return await redis.get("k")

    assert asyncio.run(roundtrip()) == b"v"
    engine = create_engine("sqlite://")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT 1")).scalar() == 1
