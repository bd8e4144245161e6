"""The operator commands run as Celery runs them, in the test's own process.

:func:`celery` invokes Celery's own ``celery`` click group with ``-A worker`` and the given
arguments, environment and stdin, and answers like ``subprocess.run`` would (``returncode``,
``stdout``, ``stderr``): the same entry points, the same option parsing, the same one-line
errors, without a new interpreter (about a second of CPU each, most of the suite's CLI time).
What only a real process shows (a worker refusing to start, a port already in use, bytes on
stdin that are not UTF-8, the built-ins our ``migrate``/``status`` replace when Celery loads
its plugins) stays in ``tests/e2e/test_cli_processes.py``, which runs ``celery`` as operators do.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from celery.bin.celery import celery as celery_group
from click.testing import CliRunner

from tests.logkit import restored_logging
from worker.config import get_settings
from worker.crypto import new_key_spec


@dataclass(frozen=True)
class Ran:
    """What ``subprocess.run(..., capture_output=True, text=True)`` answers, for a command."""

    returncode: int
    stdout: str
    stderr: str


def command_env(services: Any) -> dict[str, str]:
    """An operator's environment for ``services`` (a ``Services``): this process's, pointed at
    the test's database and Redis, with a fresh key and JSON logs, and the broker in Redis."""
    env = dict(os.environ)
    env.update(DATABASE_URL=services.database_url, REDIS_URL=services.redis_url,
               SPSYNC_TOKEN_KEYS=new_key_spec("cli"), SPSYNC_LOG_FORMAT="json")
    env.pop("SPSYNC_BROKER_URL", None)
    return env


@contextmanager
def environ(env: dict[str, str]) -> Iterator[None]:
    """``os.environ`` is exactly ``env`` inside (a child process's environment), then restored;
    settings read from it are read again on both sides."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    get_settings.cache_clear()
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
        get_settings.cache_clear()


def celery(*args: str, env: dict[str, str], stdin: str = "") -> Ran:
    """``celery -A worker <args>`` with ``env`` as its environment and ``stdin`` on its input."""
    with environ(env), restored_logging():
        result = CliRunner().invoke(celery_group, ["-A", "worker", *args], input=stdin,
                                    prog_name="celery")
    stderr = result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        # What a process would have printed on dying of it: the tests look for "Traceback".
        stderr += "Traceback (most recent call last):\n" + "".join(
            traceback.format_exception(result.exception))
    return Ran(result.exit_code, result.stdout, stderr)
