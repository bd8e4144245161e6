"""The development commands: ``celery -A worker simulator``, ``simulator-env``, ``demo`` and
``chaos`` (the fault-injection suite and the scale and soak benchmarks, optionally written up
as ``docs/reliability.md``). Registered as celery subcommands like the operator commands
(``pyproject.toml``); nothing here is imported at start-up beyond click, so a plain install
without the ``demo`` extra still lists them."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from worker.cli.common import operator_command


@click.command(help="Run the SP-API simulator.\n\n"
               "Example: celery -A worker simulator --port 8700 --sellers 3 --time-scale 60")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8700, show_default=True, type=click.IntRange(0, 65535))
@click.option("--sellers", "n_sellers", default=3, show_default=True, type=click.IntRange(1))
@click.option("--orders-per-seller", default=200, show_default=True, type=click.IntRange(0))
@click.option("--seed", default=1, show_default=True, type=int)
@click.option("--history-days", default=30, show_default=True, type=click.IntRange(1, 3650),
              help="Days of order history the sellers start with.")
@click.option("--time-scale", default=1.0, show_default=True, type=click.FloatRange(min=0.001))
@click.option("--changes-per-minute", default=0.0, show_default=True,
              type=click.FloatRange(min=0))
@click.option("--sqs-endpoint-url", default=None, help="Publish notifications of subscribed "
              "sellers to queues on this SQS endpoint (e.g. a moto server).")
@operator_command
def simulator(host: str, port: int, n_sellers: int, orders_per_seller: int, seed: int,
              history_days: int, time_scale: float, changes_per_minute: float,
              sqs_endpoint_url: str | None) -> None:
    from simulator.app import run
    from simulator.config import SimConfig

    run(SimConfig(sellers=n_sellers, orders_per_seller=orders_per_seller, seed=seed,
                  history_days=history_days, time_scale=time_scale,
                  changes_per_minute=changes_per_minute, sqs_endpoint_url=sqs_endpoint_url),
        host, port)



@click.command(name="simulator-env",
               help="Print, as shell exports, the settings that point spsync at a running "
                    "simulator: its URL for SP-API and LWA, and its own LWA application (fake "
                    "credentials that work against nothing else). The web app, workers and "
                    "CLI then use them like any SPSYNC_* setting.\n\n"
                    "Example: eval \"$(celery -A worker simulator-env --spapi-url "
                    "http://127.0.0.1:8700)\"")
@click.option("--spapi-url", default="http://127.0.0.1:8700", show_default=True,
              help="The running simulator (celery -A worker simulator).")
@operator_command
def simulator_env(spapi_url: str) -> None:
    base = spapi_url.rstrip("/")
    env = {"SPSYNC_SPAPI_URL": base, "SPSYNC_LWA_TOKEN_URL": base + "/auth/o2/token",
           **_simulator_application(base)}
    click.echo("export " + " ".join(f"{name}={shlex.quote(value)}"
                                    for name, value in env.items()))


def _simulator_application(base: str) -> dict[str, str]:
    """The simulator's application as SPSYNC_LWA_* settings (its secret is printed on purpose:
    it is the simulator's, derived from its --seed, and opens nothing real)."""
    from urllib.error import URLError

    from simulator.remote import SimulatorClient

    try:
        app = SimulatorClient(base, timeout=5).sellers()["application"]
        return {"SPSYNC_LWA_CLIENT_ID": str(app["client_id"]),
                "SPSYNC_LWA_CLIENT_SECRET": str(app["client_secret"]),
                "SPSYNC_LWA_APP_ID": str(app["application_id"])}
    except (URLError, OSError, ValueError, KeyError, TypeError) as exc:
        raise click.ClickException(f"no simulator answers at {base} ({exc})") from None

@click.command(help="Run the end-to-end demo: simulator + worker + beat syncing 3 sellers.\n\n"
               "Example: celery -A worker demo --json")
@click.option("--spapi-url", default=None, help="Use this running simulator instead of "
              "starting one.")
@click.option("--json", "as_json", is_flag=True, help="End with one JSON summary line.")
@click.option("--orders-per-seller", default=300, show_default=True, type=click.IntRange(1))
@click.option("--time-scale", default=60.0, show_default=True, type=click.FloatRange(min=1))
@click.option("--timeout", default=110.0, show_default=True, type=click.FloatRange(min=5),
              help="Give up (exit 1) after this many seconds.")
@operator_command
def demo(spapi_url: str | None, as_json: bool, orders_per_seller: int, time_scale: float,
         timeout: float) -> None:
    from devtools.demo import DemoOptions, run_demo

    ok = run_demo(DemoOptions(spapi_url=spapi_url, as_json=as_json,
                              orders_per_seller=orders_per_seller, time_scale=time_scale,
                              timeout=timeout))
    sys.exit(0 if ok else 1)


@click.command(help="Run the chaos suite (tests/chaos: crashes, remote faults, infrastructure "
               "restarts, Redis kills, token storms, fuzzing), then the scale and soak "
               "benchmarks, from a spsync checkout, against DATABASE_URL/REDIS_URL (or "
               "embedded servers); "
               "--report rewrites docs/reliability.md from the results.\n\n"
               "The suite alone, quickly; then the full run (about an hour) and the page:\n\n"
               "Example: celery -A worker chaos --rounds 3 --soak-minutes 0 --scale-sellers 0"
               "\n\nExample: celery -A worker chaos --report")
@click.option("--rounds", default=20, show_default=True, type=click.IntRange(1, 1000),
              help="Rounds per scenario: SIGKILLs, fault rounds, token storms; Redis kills: "
                   "11 for 20 (CI runs 3).")
@click.option("--fuzz-examples", default=200, show_default=True,
              type=click.IntRange(1, 100_000),
              help="Examples per fuzz test (the bounded CI run uses 15 to 150).")
@click.option("--soak-minutes", default=30.0, show_default=True,
              type=click.FloatRange(0, 24 * 60), help="Length of the soak; 0 skips it.")
@click.option("--scale-sellers", default=10000, show_default=True,
              type=click.IntRange(0, 1_000_000), help="Sellers of the scale run; 0 skips it.")
@click.option("--report", is_flag=True, help="Write docs/reliability.md.")
@click.option("--checkout", default=".", show_default=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="The spsync checkout holding tests/chaos, benchmarks/ and docs/.")
@operator_command
def chaos(rounds: int, fuzz_examples: int, soak_minutes: float, scale_sellers: int, report: bool,
          checkout: Path) -> None:
    from devtools.reliability import read_junit, read_records, render, scale_record, soak_record

    suite = checkout / "tests" / "chaos"
    if not suite.is_dir():
        raise click.ClickException(f"no {suite}: run this from a spsync checkout (the suite "
                                   "is not installed with the package), or pass --checkout")
    with tempfile.TemporaryDirectory(prefix="spsync-chaos-") as tmp:
        results, junit = Path(tmp) / "records.jsonl", Path(tmp) / "junit.xml"
        argv = [sys.executable, "-m", "pytest", "tests/chaos", "-m", "chaos", "-q",
                "-p", "no:cacheprovider", "-n", "0",  # one scenario at a time: they time things
                f"--chaos-rounds={rounds}", f"--junitxml={junit}"]
        started = time.monotonic()
        done = subprocess.run(argv, cwd=checkout, check=False,  # noqa: S603 - our own suite
                              env=dict(os.environ, SPSYNC_CHAOS_RESULTS=str(results),
                                       SPSYNC_FUZZ_EXAMPLES=str(fuzz_examples)))
        records = read_records(results)
        failed = [] if done.returncode == 0 else [f"the chaos suite (pytest exit "
                                                  f"{done.returncode})"]
        benchmarks: list[tuple[str, list[str], Callable[[dict[str, Any]], dict[str, Any]]]] = []
        if scale_sellers:
            benchmarks.append(("Scale", ["benchmarks.scale", "--sellers", str(scale_sellers)],
                               scale_record))
        if soak_minutes:
            benchmarks.append(("Soak", ["benchmarks.soak", "--minutes", f"{soak_minutes:g}"],
                               soak_record))
        for scenario, args, to_record in benchmarks:
            row = _benchmark(checkout, scenario, args, to_record)
            records.append(row)
            if row["result"] != "pass":
                failed.append(f"{scenario.lower()} ({row['result']})")
        seconds = time.monotonic() - started
        if report:
            command = (f"celery -A worker chaos --rounds {rounds} --fuzz-examples "
                       f"{fuzz_examples} --soak-minutes {soak_minutes:g} --scale-sellers "
                       f"{scale_sellers} --report")
            page = render(records, read_junit(junit), rounds=rounds,
                          when=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
                          seconds=seconds, command=command)
            out = checkout / "docs" / "reliability.md"
            out.write_text(page, encoding="utf-8")
            click.echo(f"wrote {out}")
    if failed:
        raise click.ClickException("failed: " + "; ".join(failed))


def _benchmark(checkout: Path, scenario: str, args: list[str],
               to_record: Callable[[dict[str, Any]], dict[str, Any]]) -> dict[str, Any]:
    """Run ``python -m <benchmark>`` (its progress on stderr, shown) and judge its JSON line."""
    from devtools.reliability import benchmark_failed

    command = "python -m " + " ".join(args)
    click.echo(f"{scenario.lower()}: {command}", err=True)
    done = subprocess.run([sys.executable, "-m", *args], cwd=checkout, check=False,  # noqa: S603
                          stdout=subprocess.PIPE, text=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        return benchmark_failed(scenario, command, f"exit {done.returncode}, no figures")
    figures = json.loads(lines[-1])
    click.echo(json.dumps(figures), err=True)
    return to_record(figures)
