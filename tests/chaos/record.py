"""What a chaos scenario found, for ``docs/reliability.md``.

``celery -A worker chaos --report`` runs this suite with ``SPSYNC_CHAOS_RESULTS`` pointing at
a file; each scenario appends one JSON line there (nothing happens when it is unset, as in a
plain ``pytest`` run). The report renders those lines as the reliability table.
"""

from __future__ import annotations

import json
import os
from typing import Any


def record(scenario: str, *, injected: str, checked: str, result: str,
           figures: dict[str, Any] | None = None) -> None:
    path = os.environ.get("SPSYNC_CHAOS_RESULTS")
    if not path:
        return
    line = {"scenario": scenario, "injected": injected, "checked": checked, "result": result,
            "figures": figures or {}}
    with open(path, "a", encoding="utf-8") as out:
        out.write(json.dumps(line, default=str) + "\n")
