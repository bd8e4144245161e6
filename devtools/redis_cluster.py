"""A real Redis Cluster on local ports, for tests and benchmarks: ``masters`` masters, each
with ``replicas`` replicas, every node its own ``redis-server --cluster-enabled yes``.

Nothing persists (no RDB, no AOF): a killed node comes back empty, as the machine's own
Redis does. ``cluster-node-timeout`` is short (1 s) so that a replica takes over a dead
master within a few seconds. Needs ``redis-server`` and ``redis-cli`` (Redis 7) on PATH.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import tempfile
import time
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from devtools.ports import free_port

NODE_TIMEOUT_MS = 1000


def available() -> str | None:
    """Why a cluster cannot be started here (None: it can)."""
    for tool in ("redis-server", "redis-cli"):
        if shutil.which(tool) is None:
            return f"{tool} is not on PATH"
    return None


def _binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise FileNotFoundError(f"{name} is not on PATH")
    return path


def _free_ports(n: int) -> list[int]:
    """``n`` ports free now, each with its cluster bus port (+10000) free too."""
    ports: list[int] = []
    while len(ports) < n:
        port = free_port()
        if port + 10000 > 65535 or port in ports:
            continue
        with socket.socket() as bus:
            try:
                bus.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        ports.append(port)
    return ports


@dataclass
class Cluster:
    masters: int = 3
    replicas: int = 1
    ports: list[int] = field(default_factory=list)
    procs: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="spsync-rc-")))

    @property
    def url(self) -> str:
        """spsync's spelling of the cluster: every node, as a new deployment would list them."""
        return "redis+cluster://" + ",".join(f"127.0.0.1:{p}" for p in self.ports)

    def start(self) -> Cluster:
        self.ports = _free_ports(self.masters * (1 + self.replicas))
        for port in self.ports:
            self._spawn(port)
        for port in self.ports:
            _wait_ping(port)
        nodes = [f"127.0.0.1:{p}" for p in self.ports]
        subprocess.run(  # noqa: S603 - fixed argv: the binary on PATH, our own ports
            [_binary("redis-cli"), "--cluster", "create", *nodes, "--cluster-replicas",
             str(self.replicas), "--cluster-yes"],
            check=True, capture_output=True, timeout=60)
        self.wait_ok()
        return self

    def _spawn(self, port: int) -> None:
        node_dir = self.workdir / str(port)
        node_dir.mkdir(parents=True, exist_ok=True)
        self.procs[port] = subprocess.Popen(  # noqa: S603 - fixed argv, as above
            [_binary("redis-server"), "--port", str(port), "--bind", "127.0.0.1",
             "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
             "--cluster-node-timeout", str(NODE_TIMEOUT_MS), "--save", "", "--appendonly", "no",
             "--dir", str(node_dir), "--logfile", str(node_dir / "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def client(self, port: int) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=port, socket_timeout=2)

    def info(self, port: int) -> dict[str, Any]:
        """``CLUSTER INFO`` of one node, as redis-py parses it."""
        with self.client(port) as c:
            return dict(c.execute_command("CLUSTER INFO"))

    def master_ports(self) -> list[int]:
        """The ports of the nodes serving slots now."""
        out = []
        for port, proc in self.procs.items():
            if proc.poll() is None:
                with self.client(port) as c:
                    if c.info("replication").get("role") == "master":
                        out.append(port)
        return out

    def replica_of(self, master: int) -> int:
        """The port of a live replica of the master on port ``master``."""
        with self.client(master) as c:
            replicas = [v for k, v in c.info("replication").items()
                        if k.startswith("slave") and isinstance(v, dict)]
        return int(next(r["port"] for r in replicas if r.get("state") == "online"))

    def master_of(self, key: str) -> int:
        """The port of the master serving ``key``'s slot now."""
        alive = next(p for p, proc in self.procs.items() if proc.poll() is None)
        with self.client(alive) as c:
            slot = int(c.execute_command("CLUSTER", "KEYSLOT", key))
            for start, end, master, *_ in c.execute_command("CLUSTER", "SLOTS"):
                if int(start) <= slot <= int(end):
                    return int(master[1])
        raise LookupError(f"no node serves slot {slot}")

    def wait_ok(self, timeout: float = 30.0, *, masters: int | None = None) -> None:
        """Until every live node says ``cluster_state:ok`` (and, if given, that many masters
        serve slots)."""
        deadline = time.monotonic() + timeout
        while True:
            alive = [p for p, proc in self.procs.items() if proc.poll() is None]
            try:
                states = [self.info(p).get("cluster_state") for p in alive]
                ok = all(s == "ok" for s in states)
                if ok and masters is not None:
                    ok = len(self.master_ports()) == masters
            except redis.RedisError:
                ok = False
            if ok:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"cluster not ok after {timeout}s: {states}")
            time.sleep(0.1)

    def kill(self, port: int) -> None:
        """SIGKILL one node (its replica takes over after ``cluster-node-timeout``)."""
        proc = self.procs[port]
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)

    def restart(self, port: int) -> None:
        """Start a killed node again, empty: it rejoins (its ``nodes.conf`` survives) as a
        replica of whichever node took its slots, and copies its data from it."""
        if self.procs[port].poll() is None:
            raise RuntimeError(f"node {port} is running")
        self._spawn(port)
        _wait_ping(port)

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.wait(timeout=10)
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> Cluster:
        try:
            return self.start()
        except BaseException:  # nodes already started must not outlive a failed start
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _wait_ping(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with redis.Redis(host="127.0.0.1", port=port, socket_timeout=0.5) as c:
                if c.ping():
                    return
        except redis.RedisError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


if __name__ == "__main__":  # python -m devtools.redis_cluster: a cluster until Ctrl-C
    with Cluster() as cluster:
        print(cluster.url, flush=True)
        with suppress(KeyboardInterrupt):
            signal.pause()
