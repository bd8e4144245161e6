"""spsync: mirror Amazon SP-API data for many sellers into Postgres.

``celery -A worker`` finds the Celery app through :func:`__getattr__` (lazily, so importing a
sub-package, such as ``worker.spapi_models`` from the simulator, does not build the Celery app).
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    if name in {"celery", "app"}:
        from worker.app import app

        return app
    raise AttributeError(name)
