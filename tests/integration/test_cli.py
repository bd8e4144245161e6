"""The operator commands, run as Celery runs them (``tests/clikit.py``: Celery's own ``celery``
group, in this process; ``tests/e2e/test_cli_processes.py`` runs the real processes)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from importlib.metadata import entry_points
from types import ModuleType

import click
import pytest
from click.testing import CliRunner
from sqlalchemy import text

from schedules.beat import beat_schedule
from tests.clikit import celery, command_env
from worker.config import Settings
from worker.db.state import claim_due
from worker.sync.catalog import streams_for

from .helpers import table

pytestmark = pytest.mark.integration


@pytest.fixture
def env(clean) -> dict[str, str]:
    return command_env(clean)


def _all_commands(module: ModuleType) -> tuple[dict[str, click.Command], set[str]]:
    """Every click command in ``module`` (worker.cli, devtools.cli) by its full name ("sellers
    show"), and the names of the top-level ones (those no group of the module contains)."""
    defined = {id(c): c for c in vars(module).values() if isinstance(c, click.Command)}
    nested = {id(sub) for g in defined.values() if isinstance(g, click.Group)
              for sub in g.commands.values()}
    out: dict[str, click.Command] = {}

    def walk(cmd: click.Command, path: str) -> None:
        out[path] = cmd
        for name, sub in getattr(cmd, "commands", {}).items():
            walk(sub, f"{path} {name}")

    top = {str(c.name) for i, c in defined.items() if i not in nested}
    for name in top:
        walk(next(c for c in defined.values() if c.name == name), name)
    return out, top


def test_every_command_is_registered_and_its_help_has_an_example():
    from devtools import cli as devtools_cli
    from worker import cli

    commands: dict[str, click.Command] = {}
    for module in (cli, devtools_cli):  # the operator commands, the development commands
        found, top = _all_commands(module)
        registered = {e.name for e in entry_points(group="celery.commands")
                      if e.value.startswith(f"{module.__name__}:")}
        assert registered == top  # a command without an entry point never reaches celery
        commands |= found
    assert {"migrate", "simulator", "demo", "sellers", "sellers add", "sellers list",
            "sellers show", "sellers enable", "sellers disable", "sellers reauth", "backfill",
            "status"} <= set(commands)
    for path, cmd in commands.items():
        result = CliRunner().invoke(cmd, ["--help"], prog_name=f"celery -A worker {path}")
        assert result.exit_code == 0, (path, result.output)
        lines = [line.strip() for line in result.output.splitlines()]
        assert any(line.startswith("Example: ") for line in lines), (path, result.output)


def test_subcommand_help_reaches_celery(env):
    shown = celery("sellers", "disable", "--help", env=env)
    assert shown.returncode == 0 and "Example: celery -A worker sellers disable" in shown.stdout


def test_sellers_add_list_and_status(env):
    token = "Atzr|cli-test-refresh-token"
    added = celery("sellers", "add", "--selling-partner-id", "A1CLITEST", "--region", "eu",
                   "--marketplace-ids", "A1PA6795UKMFR9,A1F83G8C2ARO7P", env=env,
                   stdin=token + "\n")
    assert added.returncode == 0, added.stderr
    listed = json.loads(celery("sellers", "list", "--json", env=env).stdout)
    assert [(s["selling_partner_id"], s["region"], s["orders_api"]) for s in listed] == [
        ("A1CLITEST", "EU", "2026-01-01")]
    status = json.loads(celery("status", "--json", env=env).stdout)["streams"]
    shown = {r["stream"]: r["rows"] for r in status if r["selling_partner_id"] == "A1CLITEST"}
    assert set(shown.values()) == {0}
    markets = ("A1PA6795UKMFR9", "A1F83G8C2ARO7P")
    assert {"orders", "finances", "payouts", "settlements"} <= set(shown)  # one each a seller
    assert {f"{k}:{m}" for k in ("inventory", "listings", "catalog", "prices", "returns")
            for m in markets} <= set(shown)  # and one a marketplace of these
    assert set(shown) == set(streams_for(list(markets)))  # every stream of the registry
    everything = added.stdout + added.stderr + json.dumps(listed) + json.dumps(status)
    assert "cli-test-refresh-token" not in everything
    stored = table_bytes(env)
    assert b"cli-test-refresh-token" not in stored


def table_bytes(env) -> bytes:
    rt = _runtime(env)
    return b"".join(bytes(r[0]) for r in table(rt, "SELECT refresh_token_enc FROM sellers"))


@pytest.mark.parametrize(
    ("args", "stdin", "needle"),
    [
        (["--region", "NA", "--marketplace-ids", "A1PA6795UKMFR9"], "Atzr|x\n", "region EU"),
        (["--region", "NA", "--marketplace-ids", "NOPE"], "Atzr|x\n", "unknown marketplace"),
        (["--region", "NA", "--marketplace-ids", "ATVPDKIKX0DER"], "not-a-token\n", "Atzr|"),
        (["--region", "NA", "--marketplace-ids", ",,,"], "Atzr|x\n", "at least one marketplace"),
        (["--region", "NA", "--marketplace-ids", "ATVPDKIKX0DER"], "Atzr|a\x00b\n",
         "printable ASCII"),
        (["--region", "NA", "--marketplace-ids", "ATVPDKIKX0DER"], "Atzr|" + "x" * 3000 + "\n",
         "at most 2,048"),
    ],
)
def test_sellers_add_rejects_bad_input_with_one_line(env, args, stdin, needle):
    result = celery("sellers", "add", "--selling-partner-id", "A1BAD", *args, env=env,
                    stdin=stdin)
    assert result.returncode != 0
    assert needle in result.stderr and "Traceback" not in result.stderr
    assert len([x for x in result.stderr.splitlines() if x.startswith("Error")]) == 1
    assert table(_runtime(env), "SELECT count(*) FROM sellers") == [(0,)]


def test_dispatcher_claims_each_due_stream_once(env, runtime_for, start_sim):
    sim = start_sim(sellers=3, orders_per_seller=1)
    rt = runtime_for(sim)
    from .helpers import register

    register(rt, sim)
    now = datetime.now(UTC) + timedelta(seconds=1)  # new streams come due a millisecond apart
    hold = timedelta(minutes=5)
    with rt.engine.connect() as a, rt.engine.connect() as b, a.begin(), b.begin():
        first = claim_due(a, now, limit=2, hold=hold)
        second = claim_due(b, now, limit=100, hold=hold)  # skips rows `a` has locked
    total = table(rt, "SELECT count(*) FROM sync_state")[0][0]  # every stream of 3 sellers
    assert len(first) == 2 and len(second) == total - 2 and not set(first) & set(second)
    with rt.engine.begin() as conn:
        assert claim_due(conn, now, limit=100, hold=hold) == []  # all pushed ahead by `hold`
        assert len(claim_due(conn, now + hold, limit=100, hold=hold)) == total


def test_beat_schedule_is_data_that_expires_after_one_interval():
    schedule = beat_schedule(Settings(dispatch_interval_seconds=12))
    assert {e["task"] for e in schedule.values()} >= {"spsync.dispatch_due",
                                                      "spsync.process_inbox"}
    for entry in schedule.values():
        assert entry["task"].startswith("spsync.")
        assert entry["options"]["expires"] <= entry["schedule"]  # a late tick is dropped
    dispatch = next(e for e in schedule.values() if e["task"] == "spsync.dispatch_due")
    assert dispatch["schedule"] == 12 and dispatch["options"]["expires"] == 12


def test_dispatcher_only_claims_this_deployments_regions(runtime_for, start_sim):
    sim = start_sim(sellers=3, orders_per_seller=1)  # one seller each in NA, EU, FE
    rt = runtime_for(sim)
    from .helpers import register

    ids = register(rt, sim)
    regions = {s["selling_partner_id"]: s["region"] for s in sim.world()["sellers"]}
    with rt.engine.begin() as conn:
        pairs = claim_due(conn, datetime.now(UTC), limit=100, hold=timedelta(minutes=1),
                          regions=("EU", "FE"))
    claimed = {sid for sid, _ in pairs}
    assert claimed == {ids[s] for s, r in regions.items() if r in ("EU", "FE")}
    assert {stream for _, stream in pairs} >= {"orders"}


def test_migrate_gives_existing_sellers_the_streams_they_lack(env):
    added = celery("sellers", "add", "--selling-partner-id", "A1OLDSELLER", "--region", "NA",
                   "--marketplace-ids", "ATVPDKIKX0DER", env=env, stdin="Atzr|old\n")
    assert added.returncode == 0, added.stderr
    rt = _runtime(env)
    with rt.engine.begin() as conn:  # as it was before listings and the money streams existed
        conn.execute(text("DELETE FROM sync_state WHERE stream LIKE 'listings:%' "
                          "OR stream NOT IN ('orders', 'inventory:ATVPDKIKX0DER')"))
    assert celery("migrate", env=env).returncode == 0
    streams = {r[0] for r in table(rt, "SELECT stream FROM sync_state")}
    assert streams == set(streams_for(["ATVPDKIKX0DER"]))
    assert {"listings:ATVPDKIKX0DER", "finances", "catalog:ATVPDKIKX0DER"} <= streams


def _runtime(env):
    from worker.runtime import Runtime

    return Runtime(Settings(database_url=env["DATABASE_URL"], redis_url=env["REDIS_URL"],
                            token_keys=env["SPSYNC_TOKEN_KEYS"]))


def test_status_counts_open_notifications_and_write_back_commands(env):
    from worker.notifications import inbox
    from worker.outbox.enqueue import enqueue_command

    added = celery("sellers", "add", "--selling-partner-id", "A1CLIOPEN", "--region", "NA",
                   "--marketplace-ids", "ATVPDKIKX0DER", env=env, stdin="Atzr|open\n")
    assert added.returncode == 0, added.stderr
    rt = _runtime(env)
    with rt.engine.begin() as conn:
        seller_id = conn.execute(text("SELECT id FROM sellers")).scalar_one()
        inbox.park_invalid(conn, "m-1", "{not json", "not JSON", "sqs")
        inbox.park_invalid(conn, "m-2", "[]", "not an object", "sqs")
        for sku in ("SKU-1", "SKU-2", "SKU-3"):
            enqueue_command(conn, seller_id, "deleteListingsItem",
                            {"sku": sku, "marketplaceIds": ["ATVPDKIKX0DER"]})
    shown = json.loads(celery("status", "--json", env=env).stdout)
    assert shown["inbox"] == {"pending": 0, "parked": 2}
    assert shown["outbox"] == {"pending": 3, "sending": 0, "polling": 0, "unknown": 0,
                               "failed": 0}
    text_out = celery("status", env=env).stdout
    assert "inbox: 0 pending, 2 parked" in text_out
    assert "outbox: 3 pending, 0 sending, 0 polling, 0 unknown, 0 failed" in text_out
