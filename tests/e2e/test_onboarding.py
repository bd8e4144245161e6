"""A seller connects through `celery -A worker web`, a real worker syncs it without beat's help,
and the encryption key is rotated while the worker keeps syncing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import settings_for
from tests.e2e.procs import env_for, free_port, simulator_env, start, stop, wait
from tests.integration.helpers import mirror, table, truth
from worker.crypto import new_key_spec
from worker.runtime import Runtime

pytestmark = pytest.mark.e2e


def _web(env: dict[str, str], port: int, sim_url: str, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "celery", "-A", "worker", "web", "--host", "127.0.0.1",
         "--port", str(port), "--spapi-url", sim_url],
        env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True)


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:  # noqa: S310 - loopback
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError:
        return 0, ""


def test_onboard_sync_and_rotate_keys_with_a_worker_running(start_sim, clean, tmp_path):
    sim = start_sim(sellers=1, orders_per_seller=40, time_scale=500, seed=5)
    old, new = new_key_spec("old"), new_key_spec("new")
    settings = settings_for(clean, sim, token_keys=old)
    spid = sim.world()["sellers"][0]["selling_partner_id"]
    rt = Runtime(settings)

    # The web app knows only the old key, and the simulator's own LWA application as
    # `simulator-env` exports it.
    web_env = {k: v for k, v in env_for(settings).items() if not k.startswith("SPSYNC_LWA_")}
    web_env.pop("SPSYNC_SPAPI_URL")
    web_env |= simulator_env(sim.url, web_env)
    # Workers list the new key first (it encrypts) and keep the old one (it decrypts).
    worker_env = {**env_for(settings), "SPSYNC_TOKEN_KEYS": f"{new},{old}",
                  "SPSYNC_ORDERS_INTERVAL_SECONDS": "1"}
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    procs = [_web(web_env, port, sim.url, tmp_path / "web.log"),
             start("worker", worker_env, tmp_path / "worker.log")]
    try:
        wait(lambda: _get(base + "/healthz")[0] == 200, 30, "the web app to be healthy")
        invited = subprocess.run(  # noqa: S603 - the operator's link, as a seller gets it
            [sys.executable, "-m", "celery", "-A", "worker", "sellers", "invite", "--region",
             "NA", "--base-url", base], env=web_env, capture_output=True, text=True, timeout=60)
        assert invited.returncode == 0, invited.stderr
        status, page = _get(invited.stdout.strip())  # urllib follows the redirects
        assert status == 200 and "connected" in page, page
        seller_id = int(table(rt, "SELECT id FROM sellers WHERE selling_partner_id = :s",
                              s=spid)[0][0])
        assert _kids(rt) == ["old"]

        # No beat runs: only the web app's enqueue can have started this sync.
        wait(lambda: mirror(rt, seller_id) == truth(sim, spid), 60, "the first sync")

        procs.append(start("beat", worker_env, tmp_path / "beat.log"))  # syncs keep coming
        wait(lambda: _runs(rt) >= 3, 60, "syncs before the rotation")
        rotated = subprocess.run(
            [sys.executable, "-m", "celery", "-A", "worker", "rotate-key"],
            env=worker_env, capture_output=True, text=True, timeout=60)
        assert rotated.returncode == 0, rotated.stderr
        assert "1 re-encrypted" in rotated.stdout
        assert _kids(rt) == ["new"]
        after = _runs(rt)
        wait(lambda: _runs(rt) >= after + 3, 60, "syncs after the rotation")
    finally:
        stop(procs)

    failed = table(rt, "SELECT count(*) FROM sync_runs WHERE status = 'failed'")[0][0]
    assert failed == 0
    for secret in (sim.world()["sellers"][0]["refresh_token"], old.split(":")[1],
                   new.split(":")[1]):
        assert secret not in rotated.stdout + rotated.stderr
        for log in tmp_path.glob("*.log"):
            assert secret not in log.read_text()
    queued = _web_events(tmp_path / "web.log", "oauth.seller_connected")
    assert queued and queued[0]["queued"] >= 3  # orders + inventory + listings streams


def _kids(rt: Runtime) -> list[str]:
    return [r[0] for r in table(rt, "SELECT refresh_token_kid FROM sellers")]


def _runs(rt: Runtime) -> int:
    return int(table(rt, "SELECT count(*) FROM sync_runs WHERE status = 'succeeded'")[0][0])


def _web_events(log: Path, name: str) -> list[dict[str, Any]]:
    events = []
    for line in log.read_text().splitlines():
        if line.startswith("{"):
            event = json.loads(line)
            if event.get("event") == name:
                events.append(event)
    return events


def test_web_refuses_to_start_without_an_application_id(clean, tmp_path):
    env = {**os.environ, "DATABASE_URL": clean.database_url, "REDIS_URL": clean.redis_url,
           "SPSYNC_TOKEN_KEYS": new_key_spec(), "SPSYNC_LWA_CLIENT_ID": "id",
           "SPSYNC_LWA_CLIENT_SECRET": "secret"}
    env.pop("SPSYNC_LWA_APP_ID", None)
    started = time.monotonic()
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "celery", "-A", "worker", "web", "--port", str(free_port())],
        env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and time.monotonic() - started < 60
    lines = [x for x in done.stderr.splitlines() if x.strip()]
    assert lines[-1].startswith("Error:") and "SPSYNC_LWA_APP_ID" in lines[-1]
