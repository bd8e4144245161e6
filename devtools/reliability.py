"""``docs/reliability.md`` from a chaos run: the scenarios' records and pytest's verdicts.

The chaos suite (``tests/chaos``) appends one JSON record per scenario it completes
(``tests/chaos/record.py``); pytest's JUnit XML says which tests passed, failed or were
skipped and how long each took. :func:`render` turns both into the page, so the table is
always the last run's, never hand-edited.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET  # our own pytest's output, not untrusted input
from dataclasses import dataclass
from pathlib import Path
from typing import Any

GUARANTEES = """\
## What spsync promises

- **At-least-once fetch, effectively-once rows.** A page's rows and the checkpoint after
  them commit in one transaction; a worker killed at any instant resumes at the last
  committed page, so a page may be fetched twice (at most the one in flight per kill) but
  is written once: upserts are keyed on Amazon's ids and never replace a newer
  `LastUpdateDate` with an older one. Every request is counted in `sync_runs.api_calls` as
  it leaves, also those of a worker killed before it committed their page.
- **Never over quota.** Every call takes a token from a Redis bucket shared by all processes
  (seller + region + operation), with one token of Amazon's burst kept in reserve. A Redis
  that restarts empty loses every bucket: a bucket created on it while it is younger than
  burst/rate starts with what could have refilled since it started (one call at least, the
  spare token then owed), in every process that used the previous Redis, in pool children
  forked after the restart, and in processes started after a survivor noticed it.
- **Workers outlive Redis.** A worker whose Redis (its broker) dies, even repeatedly and while
  it runs tasks, keeps running and reconnects for as long as the outage lasts; the tasks
  running at that moment finish.
- **Bad input is never half-written.** A page that does not map raises a typed error before
  anything is written; a report row that does not parse is kept in `report_rows` with its
  line and reason; a notification that breaks its schema is parked.
- **Onboarding only by invitation, for the seller it names.** `/oauth/start` opens only for
  an operator's single-use link; a callback's seller id is checked against that link before
  the code is exchanged and confirmed with Amazon before anything is written, so no caller
  can replace a connected seller's token or register an id that is not its own. The web app
  limits requests per address and disconnects slow clients.
- **One bad row blocks nothing.** Postgres refuses outbox params and notification payloads
  nested deeper than 32 levels or larger than their size limit; an outbox row or a
  notification that still cannot be read or validated is rejected or parked once, with its
  reason, and the rows behind it are sent or processed in the same sweep.
- **At-most-once write-back.** An outbox command is committed as `sending` before its
  request leaves and is sent again only after an attempt Amazon certainly did not apply
  (429, connection never opened, no LWA token).
- **The change feed skips nothing and repeats nothing.** `spsync_changes` returns a change
  only once every transaction older than the one that wrote it has ended, so a reader that
  stores the position of what it read never passes a change that commits later, however
  many workers write at once; deleted rows leave tombstones. `worker.feed.follow_in_db`
  commits the consumer's writes with its position: each change is applied once, however
  the consumer is killed (`follow`, for callbacks with effects outside the database, is
  at-least-once).
- **A few LWA attempts per seller during an LWA outage.** A failed refresh (5xx, 429,
  timeout) pauses that seller's refreshes in every process for a shared cool-down (1 s,
  doubling per consecutive failure up to 30 s); callers wait it out, or keep using a cached
  token with a minute left, so LWA sees one attempt per pause, not one per caller and retry.

## What it does not promise

- **Exactly-once write-back.** When Amazon's answer to a write is lost (timeout, reset, 5xx,
  a worker killed mid-request), spsync reconciles from Amazon's state (the shipment is
  visible, the listing is gone or patched) and otherwise marks the command `unknown` for an
  operator; it never resends blindly. An `unknown` command may have been applied, and one
  `accepted` by reconciliation means Amazon shows the goal state, not that this request
  caused it.
- **Freshness under Amazon's quotas.** Syncs wait for quota rather than exceed it: a seller
  whose data changes faster than its quota allows falls behind (the lag is a metric and an
  alert), it is never throttled into errors.
- **One report per request.** `createReport` is retried after a 5xx or a timeout like a
  read. When Amazon had created the report before its answer was lost, the retry creates a
  second one and the first is left unread at Amazon: one `createReport` token spent,
  nothing wrong in the mirror (the backfill follows the report whose id it received).
- **Syncs on time through a long LWA outage.** A sync that needs a new token waits out the
  cool-downs for up to a minute, then fails with `LwaCoolingDown` and its task retries later;
  once LWA answers again, syncs resume within one cool-down (up to 30 s).
- **No 429 after a Redis restart nobody saw.** When every process restarts together with an
  empty Redis (a host reboot), spsync cannot tell that Redis from a new one and starts its
  buckets full; if Amazon's were still partly spent, the first 429 of each bucket drains it.
  Two callers sharing one bucket across a restart (a backfill beside a sync) can likewise
  cost one 429.
- **A mirror of what Amazon does not return.** Buyer PII (BUYER/RECIPIENT) is never
  requested, and report rows are weaker than API rows at a tie.
"""


# What changed since the previous full run's page, newest first (edit with the code).
CHANGES = """\
## What changed since the previous run (2026-11-27)

An outside audit, tried as an attacker and a careless operator would, found these; each is
fixed with a regression test, and the suite gained the scenarios marked *new*.

- **Onboarding could be hijacked** (`selling_partner_id` was trusted): onboarding now needs
  an operator's single-use invitation; the callback is checked against it before the code
  is exchanged and confirmed with Amazon before any write. *New*: Onboarding abuse.
- **One malformed outbox row blocked the outbox** (3,000 levels of nesting): Postgres
  triggers refuse such documents, and readers reject or park what still cannot be read,
  once. *New*: Hostile rows.
- **The worker exited on 3 of 11 Redis kills** (kombu's close path after the connection was
  collected; a killed pool child's descriptor): both raise connection errors now and the
  worker retries the broker for as long as it is down. *New*: Redis kills.
- **429s after a Redis restart** (the restart guard died with each task): the memory of the
  Redis server lives for the process, pool children inherit it, later processes read a
  mark, and the spare token is owed. Checked by Redis kills.
- **LWA outage storms**: a failed refresh starts a shared, growing cool-down per seller
  (3,692 attempts in a 120 s outage before). Checked by Remote faults.
- **The soak's open-files check failed on a one-time step** (a pool child opening its broker
  connection at its first publish, possibly half an hour in: two epoll instances and two
  sockets): each pool child now opens it when it starts. Checked by Soak.
- Access tokens cached in Redis are encrypted; SNS certificates must chain to a CA and name
  SNS, and a foreign topic costs no fetch; `sync_runs.api_calls` counts calls as they leave;
  the web app limits requests per address and cuts off slow clients; the CLI refuses
  garbage in one line.
"""


@dataclass(frozen=True)
class Verdict:
    test: str
    outcome: str  # passed | failed | skipped | error
    seconds: float


def read_records(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def read_junit(path: Path) -> list[Verdict]:
    if not path.exists():
        return []
    root = ET.parse(path).getroot()  # noqa: S314 - written by our own pytest run
    out = []
    for case in root.iter("testcase"):
        outcome = "passed"
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                outcome = "failed" if child.tag == "failure" else child.tag
        name = f"{case.get('classname', '')}::{case.get('name', '')}".removeprefix(
            "tests.chaos.")
        out.append(Verdict(name, outcome, float(case.get("time") or 0.0)))
    return out


# Issue 8's targets for the two benchmarks the report runs beside the suite.
TICK_TARGET_S = 1.0
REDIS_TARGET_BYTES = 2048
SOAK_ROLES = ("worker", "pool", "beat")


def scale_record(fig: dict[str, Any]) -> dict[str, Any]:
    """The table row of ``benchmarks/scale.py``'s figures, judged against the targets."""
    tick, redis = float(fig["tick_max_s"]), float(fig["redis_bytes_per_seller"])
    # keeping up: the last tick finds about one tick's worth due, not a growing backlog
    keeps_up = float(fig["due_last_tick"]) <= 1.5 * max(1.0, float(fig["steady_due_per_tick"]))
    ok = tick <= TICK_TARGET_S and redis <= REDIS_TARGET_BYTES and keeps_up
    return {
        "scenario": "Scale",
        "injected": f"{fig['sellers']:,} sellers ({fig['sync_state_rows']:,} streams) on "
                    "staggered schedules; dispatcher ticks to the real broker",
        "checked": f"slowest tick <= {TICK_TARGET_S:g} s and no backlog left after it; "
                   f"Redis <= {REDIS_TARGET_BYTES // 1024} KB per seller (buckets + LWA "
                   "token)",
        "result": "pass" if ok else "FAIL",
        "figures": {"tick_p50_s": fig["tick_p50_s"], "tick_max_s": fig["tick_max_s"],
                    "enqueued_per_tick": fig["enqueued_per_tick"],
                    "ms_per_pair": fig.get("ms_per_pair", "-"),
                    "due_last_tick": fig["due_last_tick"],
                    "redis_bytes_per_seller": fig["redis_bytes_per_seller"],
                    "sync_state_bytes": fig["postgres_sync_state_bytes"]},
    }


SOAK_SHARE = 0.01  # growth under 1% of a process's RSS over the run is allocator noise


def soak_growth(role: dict[str, Any], minutes: float) -> tuple[float, float, float]:
    """(MB the process grows over the run at its late slope, the noise allowed, fds it grows
    over the run at their late slope: a connection opened once, the first time a pool child
    runs a task that needs it, is a step, not a leak; a leak keeps its slope to the end)."""
    hours = minutes / 60
    late = role.get("rss_mb_per_hour_late", role["rss_mb_per_hour"])
    grown = float(late) * hours
    noise = max(SOAK_SHARE * float(role["rss_mb_end"]), 3 * float(role["rss_mb_resid_sd"]))
    late_fds = role.get("fds_per_hour_late", role["fds_per_hour"])
    return grown, noise, float(late_fds) * hours


def soak_record(fig: dict[str, Any]) -> dict[str, Any]:
    """The table row of ``benchmarks/soak.py``'s figures: growth beyond noise fails it.

    No growth beyond noise: per process, the RSS slope over the second half of the samples
    after the warm-up (a cache filling up grows early, then stops; a leak keeps its slope),
    projected over the run, stays under 1% of its RSS or three residual SDs, whichever is
    larger; its open files grow by less than two descriptors over the run."""
    minutes = float(fig["minutes"])
    ok, figures = True, {}
    for role in SOAK_ROLES:
        grown, noise, fds = soak_growth(fig[role], minutes)
        ok = ok and grown <= noise and fds < 2
        figures[f"{role}_rss_mb"] = f"{fig[role]['rss_mb_start']}->{fig[role]['rss_mb_end']}"
        figures[f"{role}_mb_per_hour"] = (f"{fig[role]['rss_mb_per_hour']} (late "
                                          f"{fig[role].get('rss_mb_per_hour_late', '-')})")
        figures[f"{role}_fds"] = f"{fig[role]['fds_start']}->{fig[role]['fds_end']}"
    runs = fig.get("sync_runs") or {}
    ok = ok and not runs.get("failed")
    return {
        "scenario": "Soak",
        "injected": f"{minutes:g} min of steady sync: {fig['sellers']} sellers whose data "
                    "keeps changing, real worker + beat",
        "checked": "worker, pool and beat: RSS at its late slope grows less than 1% (or 3 "
                   "residual SDs) over the run, open files flat at their late slope; no "
                   "failed run",
        "result": "pass" if ok else "FAIL",
        "figures": figures | {"sync_runs": sum(runs.values()), "api_calls": fig["api_calls"],
                              "throttled": fig["throttled"]},
    }


def benchmark_failed(scenario: str, command: str, detail: str) -> dict[str, Any]:
    return {"scenario": scenario, "injected": f"`{command}`", "checked": "-",
            "result": f"FAIL: {detail}", "figures": {}}


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _figures(figures: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v}" for k, v in figures.items()) or "-"


def render(records: list[dict[str, Any]], verdicts: list[Verdict], *, rounds: int,
           when: str, seconds: float, command: str) -> str:
    passed = sum(v.outcome == "passed" for v in verdicts)
    lines = [
        "# Reliability: how spsync is tested, and what it promises",
        "",
        "Generated by `celery -A worker chaos --report` (do not edit by hand). Last run: "
        f"{when}, {rounds} rounds, {seconds:.0f} s, {passed}/{len(verdicts)} tests passed.",
        f"Command: `{command}`.",
        "",
        "## Scenarios",
        "",
        "| scenario | what is injected | what is checked | result | figures |",
        "|---|---|---|---|---|",
    ]
    for r in records:
        lines.append(f"| {_cell(r['scenario'])} | {_cell(r['injected'])} | "
                     f"{_cell(r['checked'])} | {_cell(r['result'])} | "
                     f"{_cell(_figures(r.get('figures') or {}))} |")
    if not records:
        lines.append("| (no scenario completed) | | | | |")
    lines += ["", "## Tests", "", "| test | outcome | seconds |", "|---|---|---|"]
    lines += [f"| `{_cell(v.test)}` | {v.outcome} | {v.seconds:.1f} |" for v in verdicts]
    return "\n".join(lines) + "\n\n" + CHANGES + "\n" + GUARANTEES
