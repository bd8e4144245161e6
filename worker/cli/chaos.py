"""``celery -A worker`` chaos: run the fault-injection suite, optionally write the report."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import click

from worker.cli.common import operator_command


@click.command(help="Run the chaos suite (tests/chaos: crashes, remote faults, infrastructure "
               "restarts, token storms, fuzzing) from a spsync checkout, against "
               "DATABASE_URL/REDIS_URL (or embedded servers); --report rewrites "
               "docs/reliability.md from the results.\n\n"
               "Example: celery -A worker chaos --rounds 20 --report")
@click.option("--rounds", default=20, show_default=True, type=click.IntRange(1, 1000),
              help="Crash rounds (the bounded CI run uses 2).")
@click.option("--report", is_flag=True, help="Write docs/reliability.md.")
@click.option("--checkout", default=".", show_default=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="The spsync checkout holding tests/chaos and docs/.")
@operator_command
def chaos(rounds: int, report: bool, checkout: Path) -> None:
    from worker.reliability import read_junit, read_records, render

    suite = checkout / "tests" / "chaos"
    if not suite.is_dir():
        raise click.ClickException(f"no {suite}: run this from a spsync checkout (the suite "
                                   "is not installed with the package), or pass --checkout")
    with tempfile.TemporaryDirectory(prefix="spsync-chaos-") as tmp:
        results, junit = Path(tmp) / "records.jsonl", Path(tmp) / "junit.xml"
        argv = [sys.executable, "-m", "pytest", "tests/chaos", "-m", "chaos", "-q",
                "-p", "no:cacheprovider", f"--chaos-rounds={rounds}", f"--junitxml={junit}"]
        started = time.monotonic()
        done = subprocess.run(argv, cwd=checkout, check=False,  # noqa: S603 - our own suite
                              env=dict(os.environ, SPSYNC_CHAOS_RESULTS=str(results)))
        seconds = time.monotonic() - started
        if report:
            page = render(read_records(results), read_junit(junit), rounds=rounds,
                          when=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
                          seconds=seconds,
                          command=f"celery -A worker chaos --rounds {rounds} --report")
            out = checkout / "docs" / "reliability.md"
            out.write_text(page, encoding="utf-8")
            click.echo(f"wrote {out}")
    if done.returncode != 0:
        raise click.ClickException(f"the chaos suite failed (pytest exit {done.returncode})")
