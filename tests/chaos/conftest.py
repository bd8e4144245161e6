"""Chaos suites: ``--chaos-rounds N`` sets how hard they push (default: a CI-sized run).

``python -m pytest tests/chaos -m chaos --chaos-rounds 20`` is the full run. pytest reads
this file's option only when ``tests/chaos`` (or a file in it) is on the command line; for
a whole-suite run set ``SPSYNC_CHAOS_ROUNDS=20`` instead. Every chaos test prints its seed;
``SPSYNC_CHAOS_SEED=<seed>`` replays one.
"""

from __future__ import annotations

import os
import random
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, text

from tests.chaos.record import record
from tests.integration.helpers import mirror, table, truth
from worker.db.sellers import upsert_seller
from worker.runtime import Runtime

DEFAULT_ROUNDS = int(os.environ.get("SPSYNC_CHAOS_ROUNDS") or 3)
_fuzz_outcomes: Counter[str] = Counter()  # test_fuzz.py's verdicts, for its one record


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--chaos-rounds", type=int, default=DEFAULT_ROUNDS,
                     help=f"rounds of chaos per scenario (default {DEFAULT_ROUNDS}, or "
                          "SPSYNC_CHAOS_ROUNDS; the full run: 20)")


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if "test_fuzz.py::" in report.nodeid and (report.when == "call" or report.outcome != "passed"):
        _fuzz_outcomes[report.outcome] += 1


def pytest_sessionfinish(session: pytest.Session) -> None:
    """The fuzzing scenario's record: one row for the whole file (its tests are many),
    written by the controlling process (pytest-xdist workers report their tests to it)."""
    if not _fuzz_outcomes or hasattr(session.config, "workerinput"):
        return
    examples = os.environ.get("SPSYNC_FUZZ_EXAMPLES") or "15-150 (defaults)"
    record("Fuzzing",
           injected="documents generated from Amazon's JSON models (hypothesis-jsonschema) and "
                    "mutated real pages, notifications, report files (TSV, CSV, GZIP), SNS "
                    "bodies, operator command arguments",
           checked="each input maps or raises the typed input error, never another exception; "
                   "a page with one bad document writes nothing; commands fail in one line",
           result="pass" if set(_fuzz_outcomes) == {"passed"} else "FAIL",
           figures={"tests": sum(_fuzz_outcomes.values()), **_fuzz_outcomes,
                    "examples_per_test": examples})


@pytest.fixture
def rounds(request: pytest.FixtureRequest) -> int:
    # getoption's default covers a run where this conftest loaded after option parsing
    return max(1, int(request.config.getoption("chaos_rounds", default=DEFAULT_ROUNDS)))


@pytest.fixture
def seed() -> int:
    """The run's seed: from SPSYNC_CHAOS_SEED when replaying, else a fresh one (printed)."""
    value = int(os.environ.get("SPSYNC_CHAOS_SEED") or random.SystemRandom().randrange(10**6))
    print(f"\nchaos seed {value} (replay: SPSYNC_CHAOS_SEED={value})")
    return value


# ---------------------------------------------------------------- shared oracles


def register_orders_only(rt: Runtime, sim: Any) -> dict[str, int]:
    """Register every simulated seller with just the orders stream; spid -> seller id."""
    ids = {}
    with rt.engine.begin() as conn:
        for s in sim.world()["sellers"]:
            ids[s["selling_partner_id"]] = upsert_seller(
                conn, rt.keyring, selling_partner_id=s["selling_partner_id"],
                region=s["region"], marketplace_ids=s["marketplace_ids"],
                refresh_token=s["refresh_token"], streams=["orders"])
    return ids


def converged(rt: Runtime, sim: Any, ids: dict[str, int]) -> bool:
    return all(mirror(rt, seller_id) == truth(sim, spid) for spid, seller_id in ids.items())


def integrity_problems(rt: Runtime) -> dict[str, int]:
    """Rows that must never exist, by kind (all zero when the mirror is sound)."""
    checks = {
        "duplicate orders": "SELECT count(*) - count(DISTINCT (seller_id, amazon_order_id)) "
                            "FROM orders",
        "duplicate items": "SELECT count(*) - count(DISTINCT (seller_id, amazon_order_id, "
                           "order_item_id)) FROM order_items",
        "items without their order": "SELECT count(*) FROM order_items i WHERE NOT EXISTS ("
                                     "SELECT 1 FROM orders o WHERE o.seller_id = i.seller_id "
                                     "AND o.amazon_order_id = i.amazon_order_id)",
        "orders without items": "SELECT count(*) FROM orders o WHERE NOT EXISTS (SELECT 1 "
                                "FROM order_items i WHERE i.seller_id = o.seller_id "
                                "AND i.amazon_order_id = o.amazon_order_id)",
        "runs still running": "SELECT count(*) FROM sync_runs WHERE status = 'running'",
    }
    return {what: int(table(rt, sql)[0][0]) for what, sql in checks.items()}


def checkpoints_ahead(rt: Runtime, sim: Any, ids: dict[str, int],
                      overlap: timedelta) -> list[str]:
    """Orders the committed checkpoint claims but the mirror lacks: empty when sound.

    "Ahead" for the orders stream: ``sync_state.cursor`` = C says every window up to C was
    read to its last page, so every order whose LastUpdateDate is before C - overlap (the
    slack the windows overlap by: Amazon's timestamps are whole seconds and a change may
    land in the second a window closes on) must be in the mirror at exactly that version:
    status, LastUpdateDate and items. The cursor and the mirror are read in one snapshot;
    the truth after it (an order that changes meanwhile gets a LastUpdateDate past C).
    """
    with rt.engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn, \
            conn.begin():
        cursors = dict(conn.execute(text(
            "SELECT seller_id, cursor FROM sync_state WHERE stream = 'orders'")).all())
        mirrored = {seller_id: _mirror_in(conn, seller_id) for seller_id in ids.values()}
    problems = []
    for spid, seller_id in ids.items():
        cursor = cursors.get(seller_id)
        if cursor is None:
            continue
        for order_id, version in truth(sim, spid).items():
            if version[1] < cursor - overlap and mirrored[seller_id].get(order_id) != version:
                problems.append(f"{spid} {order_id} updated {version[1]:%H:%M:%S} < cursor "
                                f"{cursor:%H:%M:%S}: mirror has "
                                f"{mirrored[seller_id].get(order_id)}, truth {version}")
    return problems


def _mirror_in(conn: Connection, seller_id: int) -> dict[str, Any]:
    orders = conn.execute(text("SELECT amazon_order_id, order_status, last_update_date "
                               "FROM orders WHERE seller_id = :s"), {"s": seller_id}).all()
    items = conn.execute(text("SELECT amazon_order_id, order_item_id, quantity_ordered, "
                              "quantity_shipped FROM order_items WHERE seller_id = :s"),
                         {"s": seller_id}).all()
    out: dict[str, Any] = {o: (st, lud, {}) for o, st, lud in orders}
    for o, i, q, qs in items:
        out[o][2][i] = (q, qs)
    return out


def syncing_pids(rt: Runtime) -> set[int]:
    """The pids holding a (seller, stream) lock right now (``locked_by`` = host:pid)."""
    rows = table(rt, "SELECT locked_by FROM sync_state WHERE locked_by IS NOT NULL")
    return {int(r[0].rsplit(":", 1)[1]) for r in rows}


def search_calls(sim: Any, operation: str = "searchOrders") -> int:
    """Calls of ``operation`` the simulator counted, over every seller (429s included)."""
    return sum(int(b["calls"]) for b in sim.client.stats()["buckets"]
               if b["operation"] == operation)
