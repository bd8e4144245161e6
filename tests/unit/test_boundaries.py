"""The production boundary and the layers: pyproject.toml's import-linter contracts hold, and
the task names that code below ``tasks`` enqueues by (``worker/enqueue.py``) are real tasks."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_the_import_contracts_hold(capsys: pytest.CaptureFixture[str]) -> None:
    from importlinter.cli import lint_imports

    kept = lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True)
    assert kept == 0, capsys.readouterr().out  # the report names each import that breaks one


def test_every_name_sent_by_worker_enqueue_is_a_registered_task() -> None:
    import tasks.notifications
    import tasks.sync  # noqa: F401 - registers the tasks
    from worker import enqueue
    from worker.app import app

    names = {value for name, value in vars(enqueue).items()  # the task-name constants
             if name.isupper() and not name.startswith("_") and isinstance(value, str)}
    assert names and names <= set(app.tasks), names - set(app.tasks)
