"""Serving on a real socket: ``serve`` with port 0, and ``run`` as a process."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp

from simulator import SimConfig, serve

REPO = Path(__file__).resolve().parents[2]


async def test_serve_binds_port_zero_and_stops_when_cancelled() -> None:
    ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    server = asyncio.create_task(
        serve(SimConfig(sellers=1, orders_per_seller=2), "127.0.0.1", 0, ready=ready.set_result)
    )
    url = await asyncio.wait_for(ready, 5)
    assert not url.endswith(":0")
    async with aiohttp.ClientSession() as session, session.get(f"{url}/_sim/sellers") as resp:
        assert resp.status == 200
        assert len((await resp.json())["sellers"]) == 1
    server.cancel()
    await asyncio.gather(server, return_exceptions=True)
    assert server.cancelled()


def test_run_prints_one_line_and_exits_cleanly_on_sigterm() -> None:
    args = ["-m", "simulator", "--port", "0", "--sellers", "1", "--orders-per-seller", "1"]
    # S603: a fixed argument list running this interpreter, no shell and no outside input.
    proc = subprocess.Popen(  # noqa: S603
        [sys.executable, *args], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line.startswith("spsync simulator listening on http://127.0.0.1:")
        assert int(line.rsplit(":", 1)[1]) > 0
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        assert proc.stdout.read() == ""
    finally:
        if proc.poll() is None:
            proc.kill()
