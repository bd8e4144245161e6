"""`rotate-key`, `web`, `simulator`, `simulator-env` and `notifications consume` as an operator
runs them: happy path and bad input."""

from __future__ import annotations

import shlex

import pytest
from click.testing import CliRunner

import worker.cli as cli
from tests.logkit import restored_logging
from worker.config import load_settings
from worker.crypto import new_key_spec

from .helpers import table
from .test_cli import celery
from .test_cli_sellers import TOKEN, add, env, error_lines, rds, rt  # noqa: F401 - fixtures

pytestmark = pytest.mark.integration


def test_rotate_key_re_encrypts_and_reports(rt, env):  # noqa: F811
    for n in range(3):
        add(rt, f"A1ROT{n}")
    newer = {**env, "SPSYNC_TOKEN_KEYS": f"{new_key_spec('k2')},{env['SPSYNC_TOKEN_KEYS']}"}
    done = celery("rotate-key", "--batch", "2", env=newer)
    assert done.returncode == 0, done.stderr
    assert "3 token(s) to re-encrypt with key k2" in done.stdout
    assert "done: 3 re-encrypted, 0 already under k2, 0 left" in done.stdout
    assert {r[0] for r in table(rt, "SELECT refresh_token_kid FROM sellers")} == {"k2"}
    again = celery("rotate-key", env=newer)
    assert again.returncode == 0 and "done: 0 re-encrypted, 3 already under k2" in again.stdout
    assert TOKEN not in done.stdout + done.stderr + again.stdout + again.stderr


def test_rotate_key_without_the_old_key_names_the_sellers_and_changes_nothing(rt, env):  # noqa: F811
    add(rt, "A1LOST")
    lost = {**env, "SPSYNC_TOKEN_KEYS": new_key_spec("k9")}  # the old key is not listed
    done = celery("rotate-key", env=lost)
    assert done.returncode != 0
    (line,) = error_lines(done.stderr)
    assert "A1LOST" in line and "SPSYNC_TOKEN_KEYS" in line
    assert table(rt, "SELECT refresh_token_kid FROM sellers")[0][0] == "cli"


def test_rotate_key_with_an_unreachable_database_is_one_line_not_a_traceback():
    """A finding of tests/chaos/test_fuzz.py (it was an OperationalError's traceback). It
    connects (to a port nothing listens on), so it is here rather than in the pure
    tests/unit/test_fuzz_regressions.py."""
    nowhere = {"DATABASE_URL": "postgresql://postgres@127.0.0.1:1/x",
               "REDIS_URL": "redis://127.0.0.1:1/0", "SPSYNC_TOKEN_KEYS": new_key_spec()}
    with restored_logging():  # the command configures logging onto the runner's stderr
        result = CliRunner().invoke(cli.rotate_key, [], env=nowhere)  # was OperationalError
    assert isinstance(result.exception, SystemExit) and result.exit_code == 1
    assert result.output.startswith("Error: Postgres unreachable or failing: connection ")
    assert len(result.output.strip().splitlines()) == 1


@pytest.fixture
def busy_port():
    """A loopback port something already listens on."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield str(sock.getsockname()[1])


@pytest.mark.parametrize("command", ["web", "simulator"])
def test_a_port_in_use_fails_with_one_line(env, busy_port, command):  # noqa: F811
    done = celery(command, "--port", busy_port, env={
        **env, "SPSYNC_LWA_APP_ID": "amzn1.sp.solution.x", "SPSYNC_LWA_CLIENT_ID": "id",
        "SPSYNC_LWA_CLIENT_SECRET": "s"})
    assert done.returncode == 1
    (line,) = error_lines(done.stderr)
    assert "address already in use" in line and "Traceback" not in done.stderr


@pytest.mark.parametrize(("args", "says"), [
    (["notifications", "consume", "--queue-url", "not a url"], "queue URL must look like"),
    (["notifications", "consume", "--queue-url", "https://sqs.us-east-1.amazonaws.com/q"],
     "queue URL must look like"),
    (["rotate-key", "--batch", "0"], "--batch"),
    (["web", "--port", "70000"], "--port"),
    (["web", "--spapi-url", "http://127.0.0.1:1"], "no simulator answers"),
    (["simulator-env", "--spapi-url", "http://127.0.0.1:1"], "no simulator answers"),
    (["simulator", "--sellers", "0"], "--sellers"),
    (["demo", "--time-scale", "0.5"], "--time-scale"),
    (["status", "--jsn"], "--jsn"),
    (["migrate", "extra"], "extra"),
    (["chaos", "--checkout", "no-such-checkout"], "spsync checkout"),
    (["chaos", "--rounds", "0"], "--rounds"),
])
def test_bad_arguments_fail_with_one_line(env, args, says):  # noqa: F811
    done = celery(*args, env={**env, "SPSYNC_LWA_APP_ID": "amzn1.sp.solution.x",
                              "SPSYNC_LWA_CLIENT_ID": "id", "SPSYNC_LWA_CLIENT_SECRET": "s"})
    assert done.returncode != 0
    (line,) = error_lines(done.stderr)
    assert says in line


def test_simulator_env_exports_the_simulators_own_application(start_sim, monkeypatch):
    """``eval "$(celery -A worker simulator-env)"``: ordinary settings that point spsync at a
    running simulator, with its own LWA application; the web app, workers and CLI read them
    like any other setting (production code knows nothing of the simulator)."""
    from devtools.cli import simulator_env

    sim = start_sim(sellers=1, orders_per_seller=1)
    shown = CliRunner().invoke(simulator_env, ["--spapi-url", sim.url + "/"])
    assert shown.exit_code == 0, shown.output
    words = shlex.split(shown.output)
    assert words[0] == "export"
    for name, value in (word.split("=", 1) for word in words[1:]):
        monkeypatch.setenv(name, value)
    settings, app = load_settings(), sim.world()["application"]
    assert str(settings.spapi_url).rstrip("/") == sim.url
    assert str(settings.lwa_token_url) == sim.url + "/auth/o2/token"
    assert settings.lwa_client_secret is not None
    assert (settings.lwa_client_id, settings.lwa_client_secret.get_secret_value(),
            settings.lwa_app_id) == (app["client_id"], app["client_secret"],
                                     app["application_id"])
