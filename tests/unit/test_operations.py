"""The operation table must say exactly what Amazon's models say."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from worker.spapi.operations import OPERATIONS
from worker.spapi_models import HERE, load

SHARED = Path(__file__).resolve().parents[3] / "shared" / "spapi-models"


def _find(model: dict, operation_id: str) -> tuple[str, str, dict]:
    for path, methods in model["paths"].items():
        for method, op in methods.items():
            if isinstance(op, dict) and op.get("operationId") == operation_id:
                return method.upper(), path, op
    raise AssertionError(f"{operation_id} not in model")


@pytest.mark.parametrize("name", sorted(OPERATIONS))
def test_operation_matches_the_official_model(name):
    op = OPERATIONS[name]
    method, path, spec = _find(load(op.model), name)
    assert (op.method, op.path) == (method, path)
    rate, burst = re.search(r"\|\s*([\d.]+)\s*\|\s*(\d+)\s*\|", spec["description"]).groups()
    assert (op.rate, op.burst) == (float(rate), int(burst))


@pytest.mark.skipif(not SHARED.exists(), reason="no shared/ checkout beside the repo")
def test_vendored_models_are_unmodified_copies():
    for f in HERE.glob("*.json"):
        assert f.read_bytes() == (SHARED / f.name).read_bytes(), f.name
