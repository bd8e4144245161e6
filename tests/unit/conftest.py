"""tests/unit is the pure layer: a unit test starts no process and opens no connection.

The layers, by what a test starts (README, "Tests"): ``tests/unit`` nothing at all;
``tests/integration`` Postgres, Redis and the simulator, in the test's own process;
``tests/e2e`` processes; ``tests/chaos`` faults. :func:`pure_layer` holds every test here to
the first rule: starting a process (``subprocess``, ``os.fork``, ``os.posix_spawn``...),
connecting a socket (TCP or Unix: Redis, Postgres, HTTP, SQS), binding or listening on one (a
server), or opening a Postgres connection (libpq connects outside Python's ``socket``) raises
:class:`LayerViolation`, and the test fails even if the code under test swallowed that error.
``socket.socketpair`` keeps working: asyncio's event loop wakes itself through one, and it
reaches nothing outside the process. fakeredis opens no socket, so it is fine here.
"""

from __future__ import annotations

import _posixsubprocess  # what subprocess and multiprocessing fork and exec with
import os
import socket
import subprocess
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pytest

RULE = ("tests/unit is the pure layer: no processes, no servers, no network connections. "
        "A test that needs Postgres, Redis, the simulator or any server belongs in "
        "tests/integration; one that starts processes in tests/e2e")

# (owner, attribute, what calling it does): refused for the test's duration.
PROCESSES = [
    (subprocess.Popen, "_execute_child", "starting a process (subprocess)"),
    (_posixsubprocess, "fork_exec", "starting a process (fork_exec)"),
    (os, "fork", "forking (os.fork)"),
    (os, "forkpty", "forking (os.forkpty)"),
    (os, "posix_spawn", "starting a process (os.posix_spawn)"),
    (os, "posix_spawnp", "starting a process (os.posix_spawnp)"),
    (os, "system", "starting a process (os.system)"),
]
SOCKETS = [  # asyncio's loop.create_connection and create_server come down to these
    (socket.socket, "connect", "connecting a socket to"),
    (socket.socket, "connect_ex", "connecting a socket to"),
    (socket.socket, "bind", "binding a socket (a server) to"),
    (socket.socket, "listen", "listening on a socket (a server)"),
]
POSTGRES = "connecting to Postgres (psycopg)"  # libpq connects outside Python's socket

REPORTS = pytest.StashKey[list[pytest.TestReport]]()


class LayerViolation(RuntimeError):
    """A unit test started a process or opened a connection."""


@dataclass
class Layer:
    """What the guard refused during this test; the test fails if anything was."""

    refused: list[str] = field(default_factory=list)

    def refuser(self, what: str) -> Callable[..., Any]:
        def refuse(*args: Any, **kwargs: Any) -> Any:
            if len(args) >= 2 and isinstance(args[0], socket.socket):
                what_where = f"{what} {args[1]!r}"  # the address
            else:
                what_where = what
            self.refused.append(what_where)
            raise LayerViolation(f"{RULE} (refused: {what_where})")

        return refuse


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item) -> Generator[None, pytest.TestReport,
                                                                pytest.TestReport]:
    """Keep the test's setup and call reports: a refusal they already show is not reported
    again at teardown."""
    report = yield
    item.stash.setdefault(REPORTS, []).append(report)
    return report


@pytest.fixture(autouse=True)
def pure_layer(request: pytest.FixtureRequest) -> Iterator[Layer]:
    """Refuse processes and connections for the test and its function-scoped fixtures."""
    layer = Layer()
    with pytest.MonkeyPatch.context() as patch:
        for owner, name, what in [*PROCESSES, *SOCKETS]:
            if hasattr(owner, name):  # os.forkpty, os.posix_spawn: not on every platform
                patch.setattr(owner, name, layer.refuser(what))
        patch.setattr(psycopg, "connect", layer.refuser(POSTGRES))  # SQLAlchemy's way in
        for cls in (psycopg.Connection, psycopg.AsyncConnection):
            patch.setattr(cls, "connect", classmethod(layer.refuser(POSTGRES)))
        yield layer
    shown = any(r.failed and RULE in r.longreprtext for r in request.node.stash.get(REPORTS, []))
    if layer.refused and not shown:
        # The code under test caught the refusal (as a connection error, say): fail anyway.
        pytest.fail(f"{RULE}; this test tried: {'; '.join(layer.refused)}", pytrace=False)
