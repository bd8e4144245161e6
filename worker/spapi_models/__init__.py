"""Amazon's official SP-API OpenAPI models, vendored unmodified (Apache-2.0, see LICENSE/NOTICE).

Both the client's operation table (checked by a unit test) and the simulator's request
validation read these files, so the two can never disagree about the contract.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


@cache
def load(name: str) -> dict[str, Any]:
    """Return a parsed model, e.g. ``load("orders_2026-01-01")``."""
    with (HERE / f"{name}.json").open(encoding="utf-8") as fh:
        data: dict[str, Any] = json.load(fh)
    return data
