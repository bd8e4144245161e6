"""deploy/'s commands run: what tests/unit/test_deploy.py cannot tell without a process.

Every container runs a ``celery -A worker`` command that the CLI really has (``celery -A
worker --help`` lists it), with options it accepts (``... --help``: click rejects an unknown
option before printing help); every ``celery -A worker ...`` the deploy docs name exists. The
compose files validate against the compose spec (check-jsonschema ships the schema that
``docker compose`` validates with). The trial's SQS queue is created by the one-shot's own
command against a real moto server, where the simulator publishes and the consumer reads.
The files themselves are parsed and cross-checked in tests/unit/test_deploy.py.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from urllib.parse import urlsplit

import pytest

from tests.deploykit import (
    COMPOSE,
    DEPLOY,
    NOT_CELERY,
    ROOT,
    TRIAL,
    argv,
    command_lines,
    compose,
    environment,
    option,
    trial,
    with_trial,
)

pytestmark = pytest.mark.e2e


# --- celery's CLI, asked once ----------------------------------------------------------------


def _celery(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    # Nothing here connects anywhere; placeholders make sure that loading settings could never
    # start the embedded servers instead.
    env.update(DATABASE_URL="postgresql://nobody@127.0.0.1:9/unused",
               REDIS_URL="redis://127.0.0.1:9/0")
    # S603: this interpreter with a fixed argument list, no shell.
    return subprocess.run(  # noqa: S603
        [sys.executable, "-m", "celery", "-A", "worker", *args], cwd=ROOT, env=env,
        capture_output=True, text=True, timeout=180, check=False,
    )


def _command_names(help_text: str) -> frozenset[str]:
    section = help_text.split("Commands:", 1)[-1]
    return frozenset(re.findall(r"^  ([a-z][\w-]*)", section, re.MULTILINE))


@cache
def celery_commands() -> frozenset[str]:
    result = _celery("--help")
    assert result.returncode == 0, result.stderr
    return _command_names(result.stdout)


# Command groups whose subcommands the docs name (celery -A worker sellers add, ...).
GROUPS = ("sellers", "notifications", "outbox", "listing")


@cache
def group_commands(group: str) -> frozenset[str]:
    result = _celery(group, "--help")
    assert result.returncode == 0, result.stderr
    return _command_names(result.stdout)


def flower_installed() -> bool:
    return "flower" in celery_commands()


# --- commands -------------------------------------------------------------------------------------


def test_every_command_is_one_the_cli_has():
    known = celery_commands()
    unknown = {line[3]: where for line, where in command_lines().items()
               if line[3] not in known and not (line[3] == "flower" and not flower_installed())}
    assert not unknown, f"celery -A worker has no such command (it has {sorted(known)})"


def test_every_command_line_is_accepted():
    """Each command line with --help: click rejects an unknown option before printing help."""
    lines = [line for line in command_lines()
             if line[3] in celery_commands()]  # flower: see tests/unit/test_deploy.py
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda line: _celery(*line[3:], "--help"), lines))
    rejected = {" ".join(line): r.stderr.strip()[-300:]
                for line, r in zip(lines, results, strict=True) if r.returncode != 0}
    assert not rejected


def test_commands_named_in_the_docs_exist():
    texts = {str(p.relative_to(DEPLOY)): p.read_text() for p in DEPLOY.rglob("*")
             if p.is_file() and p.suffix in {".md", ".yml", ".yaml", ""}}
    missing = set()
    for where, text in texts.items():
        for sub, subsub in re.findall(r"celery -A worker ([a-z][a-z-]*)(?: ([a-z][a-z-]*))?",
                                      text):
            if sub == "flower" and not flower_installed():
                continue
            if sub not in celery_commands():
                missing.add((where, sub))
            elif sub in GROUPS and subsub and subsub not in group_commands(sub):
                missing.add((where, f"{sub} {subsub}"))
    assert not missing


# --- docker compose -----------------------------------------------------------------------------


def test_compose_files_follow_the_compose_spec():
    # check-jsonschema ships the compose-spec schema (the one `docker compose` validates with).
    result = subprocess.run(  # noqa: S603 - this interpreter, fixed arguments, no shell
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec",
         str(COMPOSE), str(TRIAL)], capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_trial_sqs_is_created_where_the_consumer_reads(monkeypatch):
    """The trial's queue, end to end against a real moto server on loopback: the one-shot's own
    command creates it, the simulator's publisher sends to the ARN that deploy/README.md tells
    `notifications setup` to use, and the consumer's SqsSource, configured as the overlay
    configures it, receives the message."""
    import asyncio

    from devtools.demo_notifications import embedded_sqs
    from simulator.config import SimConfig
    from simulator.publisher import Outgoing, SqsSender
    from worker.notifications.consumer import SqsSource

    services = compose()["services"]
    for name, prefix in NOT_CELERY.items():
        assert services[name]["profiles"] == ["trial"], f"{name}: a trial stand-in only"
        assert argv(services[name]["command"])[:len(prefix)] == prefix, name
    sqs, creator = services["sqs"], services["sqs-queue"]
    moto = argv(sqs["command"])
    port = option(moto, "-p")
    assert option(moto, "-H") == "0.0.0.0"  # noqa: S104 - reached from the other containers
    result = subprocess.run(  # noqa: S603 - this interpreter, fixed arguments, no shell
        [sys.executable, *moto[1:3], "--help"], capture_output=True, text=True, timeout=60,
        check=False)
    assert result.returncode == 0, "moto's server (moto[server]) must be in the image"
    assert f"http://127.0.0.1:{port}/" in " ".join(sqs["healthcheck"]["test"])
    assert creator["depends_on"]["sqs"]["condition"] == "service_healthy"
    assert trial()["services"]["notifications"]["depends_on"]["sqs-queue"]["condition"] == \
        "service_completed_successfully"

    made, consumer = environment(creator), with_trial("notifications")
    for key in ("SPSYNC_SQS_ENDPOINT_URL", "SPSYNC_SQS_QUEUE_URL", "AWS_ACCESS_KEY_ID",
                "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"):
        assert consumer[key] == made[key], key
    endpoint = urlsplit(consumer["SPSYNC_SQS_ENDPOINT_URL"])
    assert (endpoint.hostname, str(endpoint.port)) == ("sqs", port)
    assert option(argv(services["simulator"]["command"]), "--sqs-endpoint-url") == \
        consumer["SPSYNC_SQS_ENDPOINT_URL"], "the simulator must publish where the consumer reads"
    queue_url = consumer["SPSYNC_SQS_QUEUE_URL"]
    queue = urlsplit(queue_url)
    assert (queue.scheme, queue.netloc) == (endpoint.scheme, endpoint.netloc)
    account, name = queue.path.strip("/").split("/")
    region = made["AWS_DEFAULT_REGION"]
    assert region == SimConfig().sqs_region, "moto keeps queues per region"
    arn = f"arn:aws:sqs:{region}:{account}:{name}"
    assert f"--sqs-arn {arn}" in (DEPLOY / "README.md").read_text()

    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"):
        monkeypatch.setenv(key, consumer[key])
    with embedded_sqs() as local:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SPSYNC_")}
        command = argv(creator["command"])
        result = subprocess.run(  # noqa: S603 - this interpreter, the file's own code
            [sys.executable, *command[1:]], env=env | made | {"SPSYNC_SQS_ENDPOINT_URL": local},
            capture_output=True, text=True, timeout=60, check=False)
        assert result.returncode == 0, result.stderr[-500:]

        async def publish() -> str | None:
            sender = SqsSender(SimConfig(sqs_endpoint_url=local))
            sent: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
            sender.put(Outgoing("ORDER_CHANGE", arn, '{"trial": true}'))
            task = asyncio.create_task(sender.run(
                lambda _kind, error: sent.done() or sent.set_result(error)))
            try:
                return await asyncio.wait_for(sent, 30)
            finally:
                task.cancel()

        assert asyncio.run(publish()) is None
        source = SqsSource(queue_url, endpoint_url=local, wait_seconds=2)
        messages = source.receive()
        source.delete(messages)
    assert [m.body for m in messages] == ['{"trial": true}']
