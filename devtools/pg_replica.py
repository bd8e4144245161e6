"""A PostgreSQL primary and its streaming replica on local ports, for tests: where heavy
downstream readers belong (the change feed, the analytics views) is a hot standby.

Both are new clusters in a temporary directory (``initdb``; the replica by
``pg_basebackup -R``, streaming from the primary), run with the machine's PostgreSQL
binaries (``pg_ctl`` on PATH or under ``/usr/lib/postgresql/<version>/bin``). PostgreSQL
refuses to run as root: as root, the clusters belong to, and run as, the ``postgres`` user.
Nothing is durable (``fsync=off``): they live as long as the test.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg

from devtools.ports import free_port


def bindir() -> Path | None:
    """Where ``initdb``, ``pg_ctl`` and ``pg_basebackup`` are (None: not on this machine)."""
    on_path = shutil.which("pg_ctl")  # maybe a symlink into the server's own bin directory
    if on_path and all((Path(on_path).resolve().parent / tool).exists()
                       for tool in ("initdb", "pg_basebackup")):
        return Path(on_path).resolve().parent
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
                   key=lambda p: int(Path(p).parent.parent.name))
    return Path(found[-1]).parent if found else None


@dataclass
class Node:
    port: int
    data: Path

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"


class Pair:
    """``primary`` and ``replica`` (a hot standby streaming from it), started by
    :meth:`start`, stopped and deleted by :meth:`stop`."""

    def __init__(self) -> None:
        found = bindir()
        if found is None:
            raise FileNotFoundError("PostgreSQL's server binaries (initdb, pg_ctl) not found")
        self.bin = found
        self.root = Path(tempfile.mkdtemp(prefix="spsync-pg-", dir="/tmp"))
        self.user = "postgres" if os.geteuid() == 0 else None
        self.primary = Node(free_port(), self.root / "primary")
        self.replica = Node(free_port(), self.root / "replica")

    def _run(self, tool: str, *args: str) -> None:
        argv = [str(self.bin / tool), *args]
        if self.user:
            argv = ["runuser", "-u", self.user, "--", *argv]
        done = subprocess.run(argv, capture_output=True, timeout=120, check=False)  # noqa: S603
        if done.returncode:
            err = done.stderr.decode(errors="replace").strip()
            raise RuntimeError(f"{tool} failed ({done.returncode}): {err[-800:]}")

    def start(self) -> Pair:
        if self.user:
            entry = pwd.getpwnam(self.user)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        self._run("initdb", "-D", str(self.primary.data), "-U", "postgres", "--auth=trust",
                  "--no-sync", "-E", "UTF8", "--locale=C")
        self._configure(self.primary)
        self._start(self.primary)
        self._run("pg_basebackup", "-h", "127.0.0.1", "-p", str(self.primary.port),
                  "-U", "postgres", "-D", str(self.replica.data), "-R", "-X", "stream",
                  "-c", "fast", "--no-sync")
        self._configure(self.replica)
        self._start(self.replica)
        return self

    def _configure(self, node: Node) -> None:
        settings = {
            "port": str(node.port), "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": f"'{self.root}'", "fsync": "off",
            "full_page_writes": "off", "wal_level": "replica",
            "max_wal_senders": "5", "hot_standby": "on", "shared_buffers": "64MB",
            "wal_receiver_status_interval": "1s", "hot_standby_feedback": "on",
        }
        extra = "".join(f"{k} = {v}\n" for k, v in settings.items())
        conf = node.data / "postgresql.conf"
        conf.write_text(conf.read_text() + "\n# devtools/pg_replica.py\n" + extra)

    def _start(self, node: Node) -> None:
        self._run("pg_ctl", "-D", str(node.data), "-l", str(node.data / "server.log"),
                  "-w", "-t", "60", "start")

    def stop(self) -> None:
        for node in (self.replica, self.primary):
            if (node.data / "postmaster.pid").exists():
                with contextlib.suppress(subprocess.SubprocessError):
                    self._run("pg_ctl", "-D", str(node.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def wait_replayed(self, timeout: float = 30.0) -> None:
        """Until the replica has replayed everything the primary has written so far."""
        with psycopg.connect(self.primary.url(), autocommit=True) as p:
            # the insert position: every commit made so far, flushed or not
            target = p.execute("SELECT pg_current_wal_insert_lsn()").fetchone()[0]  # type: ignore[index]
        deadline = time.monotonic() + timeout
        with psycopg.connect(self.replica.url(), autocommit=True) as r:
            while True:
                done = r.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn",
                                 (target,)).fetchone()
                if done and done[0]:
                    return
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the replica has not replayed {target} in {timeout}s")
                time.sleep(0.02)

    def __enter__(self) -> Pair:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def pair() -> Iterator[Pair]:
    with Pair() as started:
        yield started
