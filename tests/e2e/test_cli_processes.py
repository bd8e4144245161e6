"""The operator commands as separate ``celery -A worker`` processes, for what only a process
shows: the built-ins Celery would put in place of our ``migrate`` and ``status`` when it loads
its plugins in a fresh interpreter, a configuration refused before any command runs, a worker
that will not start, and bytes on stdin that are not UTF-8. Everything else about the commands
is tested in-process (``tests/clikit.py``, ``tests/integration/test_cli*.py``); so is
``changes tail`` but for ``--follow``, which runs until stopped.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading

import pytest
from sqlalchemy import create_engine, text

from tests.clikit import command_env
from tests.e2e.procs import wait
from tests.feedkit import new_seller, order
from worker.config import Settings
from worker.db.engine import sqlalchemy_url
from worker.db.mirror import upsert_orders
from worker.runtime import Runtime

pytestmark = pytest.mark.e2e


def celery(*args: str, env: dict[str, str], stdin: str | bytes = "",
           ) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(  # noqa: S603 - this interpreter, fixed arguments, no shell
        [sys.executable, "-m", "celery", "-A", "worker", *args],
        input=stdin.encode() if isinstance(stdin, str) else stdin, env=env,
        capture_output=True, timeout=60, check=False)
    return subprocess.CompletedProcess(done.args, done.returncode,
                                       done.stdout.decode(errors="replace"),
                                       done.stderr.decode(errors="replace"))


@pytest.fixture
def env(clean) -> dict[str, str]:
    return command_env(clean)


def _sellers(env: dict[str, str]) -> int:
    rt = Runtime(Settings(database_url=env["DATABASE_URL"], redis_url=env["REDIS_URL"],
                          token_keys=env["SPSYNC_TOKEN_KEYS"]))
    with rt.engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM sellers")).scalar_one()


def test_our_migrate_and_status_replace_celerys_builtins(env):
    assert "Create or upgrade the database schema" in celery("migrate", "--help", env=env).stdout
    assert "last success" in celery("status", "--help", env=env).stdout
    done = celery("migrate", env=env)
    assert done.returncode == 0 and "latest schema revision" in done.stdout


def test_bad_configuration_stops_with_one_clear_line(env):
    result = celery("status", env={**env, "SPSYNC_REGIONS": "NA,MOON"})
    assert result.returncode == 1
    assert result.stderr.strip() == ("Error: invalid SPSYNC_REGIONS: unknown region MOON "
                                     "(expected some of NA, EU, FE)")


def test_a_stdin_that_is_not_utf8_fails_with_one_line(env):
    result = celery("sellers", "add", "--selling-partner-id", "A1BAD", "--region", "NA",
                    "--marketplace-ids", "ATVPDKIKX0DER", stdin=b"Atzr|\xff\xfe\n", env=env)
    assert result.returncode == 1
    assert result.stderr.strip().startswith("Error: ")
    assert len(result.stderr.strip().splitlines()) == 1
    assert _sellers(env) == 0


def test_worker_refuses_to_start_without_lwa_credentials(env):
    result = celery("worker", "--pool", "solo",
                    env={k: v for k, v in env.items() if not k.startswith("SPSYNC_LWA")})
    assert result.returncode != 0
    assert "SPSYNC_LWA_CLIENT_ID" in result.stderr + result.stdout


def test_changes_tail_follow_prints_changes_as_they_commit(env):
    """``changes tail --follow`` keeps running and prints what commits after it started."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "worker", "changes", "tail", "--after", "0",
         "--follow", "--json"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout or []), daemon=True)
    reader.start()
    engine = create_engine(sqlalchemy_url(env["DATABASE_URL"]))
    try:
        with engine.begin() as conn:
            seller = new_seller(conn, "A1TAILF")
            upsert_orders(conn, seller, [order("O-1", 1), order("O-2", 1)])
        wait(lambda: len(lines) >= 2 or proc.poll() is not None, 30, "two lines")
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
    finally:
        proc.terminate()
        proc.wait(10)
        engine.dispose()
    keys = [json.loads(line)["key"]["amazon_order_id"] for line in lines]
    assert keys == ["O-1", "O-2"]
