"""Run the example analytics queries (examples/analytics/*.sql) and print their results.

    python examples/analytics.py [DATABASE_URL]

DATABASE_URL defaults to the environment's. The queries read only the ``analytics_*``
views (docs/schema.md, "Analytics views"); docs/recipes/multi-seller-analytics.md shows
their output on the demo's data, and tests/integration/test_analytics_views.py runs them
against the simulator's.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from worker.db.engine import sqlalchemy_url

QUERIES = Path(__file__).resolve().parent / "analytics"


@dataclass(frozen=True)
class Result:
    name: str
    columns: list[str]
    rows: list[tuple[Any, ...]]


def run(url: str) -> list[Result]:
    """Every query's result, in file order, in one read-only transaction."""
    engine = create_engine(sqlalchemy_url(url))
    try:
        with engine.connect() as conn, conn.begin():
            conn.execute(text("SET TRANSACTION READ ONLY"))
            results = []
            for path in sorted(QUERIES.glob("*.sql")):
                found = conn.execute(text(path.read_text()))
                results.append(Result(path.stem, list(found.keys()),
                                      [tuple(r) for r in found]))
            return results
    finally:
        engine.dispose()


def table(result: Result) -> str:
    """A result as an aligned plain-text table (NULL shown as an empty cell)."""
    cells = [result.columns, *[["" if v is None else str(v) for v in r] for r in result.rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(result.columns))]
    lines = [" | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
             for row in cells]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    url = argv[1] if len(argv) > 1 else os.environ.get("DATABASE_URL", "")
    if not url:
        print("usage: python examples/analytics.py DATABASE_URL", file=sys.stderr)
        return 2
    for result in run(url):
        print(f"-- {result.name} ({len(result.rows)} rows)\n{table(result)}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
