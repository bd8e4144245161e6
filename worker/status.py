"""What operators (``status``, ``sellers show``) and the demo's progress display read."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, TextClause, select, text

from worker.db.models import SyncRun, SyncState
from worker.ratelimit.bucket import bucket_key, fill_ratio, read_state, split_name
from worker.sync import registry
from worker.sync.declaration import StreamKind

_STATUS_SQL = """
SELECT s.id AS seller_id, s.selling_partner_id, s.region, s.enabled, s.disabled_reason,
       s.orders_api_version, s.finances_api_version,
       st.stream, st.cursor, st.last_success_at, st.last_error, st.locked_by, st.due_at,
       st.disabled_reason AS stream_disabled,
       {rows} AS rows, {children} AS child_rows,
       COALESCE(r.pages, 0) AS pages, COALESCE(r.api_calls, 0) AS api_calls,
       COALESCE(r.throttled, 0) AS throttled, COALESCE(r.runs, 0) AS runs,
       COALESCE(r.failed, 0) AS failed_runs
FROM sellers s
JOIN sync_state st ON st.seller_id = s.id
LEFT JOIN LATERAL (
    SELECT sum(pages) AS pages, sum(api_calls) AS api_calls, sum(throttled) AS throttled,
           count(*) AS runs, count(*) FILTER (WHERE status = 'failed') AS failed
    FROM sync_runs sr WHERE sr.seller_id = s.id AND sr.stream = st.stream
) r ON true
ORDER BY s.id, st.stream
"""


def _status_sql() -> TextClause:
    """One count per stream of its kind's table (and child table), from the registry."""
    kinds = registry.synced()
    rows = [(k, k.table) for k in kinds]
    children = [(k, k.children.table) for k in kinds if k.children]
    return text(_STATUS_SQL.format(rows=_count_case(rows), children=_count_case(children)))


def _count_case(tables: list[tuple[StreamKind, str]]) -> str:
    """``CASE <stream's kind> WHEN ... THEN (count of its rows) ... ELSE 0 END``. Names come
    from the declarations, which allow plain lower-case names only."""
    whens = []
    for kind, table in tables:
        market = (" AND t.marketplace_id = split_part(st.stream, ':', 2)"
                  if kind.per_marketplace else "")
        if table == "report_rows" and kind.report is not None:  # a configured report type:
            # its type matched GET_[A-Z0-9_]+ (worker.config.report_streams)
            market = (f" AND t.report_type = '{kind.report.report_type}' "  # noqa: S608
                      "AND t.report_id IN "
                      "(SELECT r.id FROM reports r WHERE r.seller_id = s.id AND "
                      "r.marketplace_ids = ARRAY[split_part(st.stream, ':', 2)])")
        whens.append(f"WHEN '{kind.name}' THEN (SELECT count(*) FROM {table} t "  # noqa: S608
                     f"WHERE t.seller_id = s.id{market})")
    if not whens:
        return "0"
    return f"CASE split_part(st.stream, ':', 1) {' '.join(whens)} ELSE 0 END"


def collect(conn: Connection, now: datetime | None = None) -> list[dict[str, Any]]:
    now = now or datetime.now(UTC)
    rows = [dict(r._mapping) for r in conn.execute(_status_sql())]
    for r in rows:
        r["lag_seconds"] = _lag(r["cursor"], now)
        r["api_version"] = registry.fallback_version(r["stream"], r)
    return rows


# Rows still in play or waiting for an operator; done notifications and accepted or
# rejected commands are history (``notifications list`` / ``outbox list`` show them).
INBOX_OPEN = ("pending", "parked")
OUTBOX_OPEN = ("pending", "sending", "polling", "unknown", "failed")


def backlog(conn: Connection) -> dict[str, dict[str, int]]:
    """Notifications and write-back commands by status, for the statuses still open."""
    def counts(table: str, statuses: tuple[str, ...]) -> dict[str, int]:
        found: dict[str, int] = dict(conn.execute(text(
            f"SELECT status, count(*) FROM {table} WHERE status = ANY(:s) "  # noqa: S608
            "GROUP BY status"), {"s": list(statuses)}).all())
        return {status: int(found.get(status, 0)) for status in statuses}

    return {"inbox": counts("notifications_inbox", INBOX_OPEN),
            "outbox": counts("outbox", OUTBOX_OPEN)}


def _lag(cursor: datetime | None, now: datetime) -> float | None:
    return round((now - cursor).total_seconds(), 1) if cursor else None


def add_bucket_fill(redis: Any, rows: list[dict[str, Any]]) -> None:
    """Set each ``collect`` row's ``bucket_fill`` (see :func:`fill_ratio`; None: no bucket)
    from the buckets in ``redis`` (a sync ``Redis`` or ``RedisCluster``), at Redis's clock."""
    from worker.spapi.client import usable_burst  # the burst the client's buckets hold
    from worker.spapi.operations import operation

    wanted = [(r, registry.operation_of(r["stream"], r)) for r in rows]
    keyed = [(r, operation(name), bucket_key(r["selling_partner_id"], r["region"], name))
             for r, name in wanted if name is not None]
    secs, micros = redis.time()  # not in the pipeline: a cluster's pipeline refuses TIME
    pipe = redis.pipeline(transaction=False)
    for _, _, name in keyed:
        hash_key, field = split_name(name)
        pipe.hmget(hash_key, field, f"{field}:rate")
    states = [read_state(*values) for values in pipe.execute()]
    now = secs + micros / 1_000_000
    for r in rows:
        r["bucket_fill"] = None
    for (r, op, _), state in zip(keyed, states, strict=True):
        r["bucket_fill"] = round(fill_ratio(state, now=now, default_rate=op.rate,
                                            burst=usable_burst(op.burst)), 4)


def redis_cluster_line(redis: Any) -> str | None:
    """A Redis Cluster's state in one line (None: one Redis, not a cluster); a cluster that
    is not ``ok`` says so instead of failing the whole status."""
    from worker.redis_clients import ClusterNotOk, client_is_cluster, cluster_state

    if not client_is_cluster(redis):
        return None
    try:
        return cluster_state(redis)
    except ClusterNotOk as exc:
        return exc.line


def queue_depth(broker_url: str, queue: str) -> int | None:
    """Messages waiting in Celery's ``queue``: on Redis, in every priority step's list; on
    RabbitMQ, what the queue holds ready (None: a broker of another kind, or a RabbitMQ
    that does not have the queue yet)."""
    import redis

    from worker.broker import is_amqp

    if is_amqp(broker_url):
        return _amqp_depth(broker_url, queue)
    if broker_url.startswith("redis+socket://"):  # kombu's spelling of a unix socket
        broker_url = "unix://" + broker_url[len("redis+socket://"):]
    if not broker_url.startswith(("redis://", "rediss://", "unix://")):
        return None
    from worker.broker import queue_keys

    client = redis.Redis.from_url(broker_url)
    try:
        with client.pipeline(transaction=False) as pipe:
            for key in queue_keys(queue):  # one list per priority step
                pipe.llen(key)
            return sum(int(n) for n in pipe.execute())
    finally:
        client.close()


def _amqp_depth(broker_url: str, queue: str) -> int | None:
    """Ready messages in ``queue`` (a passive declare: one attempt, nothing created)."""
    from amqp.exceptions import NotFound
    from kombu.connection import Connection as Broker

    with Broker(broker_url, connect_timeout=5) as conn:  # type: ignore[no-untyped-call]
        try:
            conn.connect()  # one attempt: an unreachable broker is "n/a", not a hang
            declared = conn.default_channel.queue_declare(queue, passive=True)
        except (NotFound, OSError, *conn.connection_errors):
            return None
        return int(declared.message_count)


def seller_streams(conn: Connection, seller_id: int,
                   now: datetime | None = None) -> list[dict[str, Any]]:
    """One seller's streams from ``sync_state``, with the lag behind ``now``."""
    now = now or datetime.now(UTC)
    rows = conn.execute(
        select(SyncState.stream, SyncState.cursor, SyncState.last_success_at,
               SyncState.last_error, SyncState.last_error_at, SyncState.due_at,
               SyncState.locked_by, SyncState.disabled_reason)
        .where(SyncState.seller_id == seller_id).order_by(SyncState.stream))
    out = []
    for r in rows:
        d = dict(r._mapping)
        d["lag_seconds"] = _lag(d["cursor"], now)
        out.append(d)
    return out


def seller_runs(conn: Connection, seller_id: int, limit: int = 5) -> list[dict[str, Any]]:
    """One seller's most recent ``sync_runs``, newest first."""
    rows = conn.execute(
        select(SyncRun.id, SyncRun.stream, SyncRun.status, SyncRun.worker, SyncRun.started_at,
               SyncRun.finished_at, SyncRun.pages, SyncRun.rows_written, SyncRun.api_calls,
               SyncRun.throttled, SyncRun.error_type, SyncRun.error)
        .where(SyncRun.seller_id == seller_id)
        .order_by(SyncRun.started_at.desc(), SyncRun.id.desc()).limit(limit))
    return [dict(r._mapping) for r in rows]


def per_seller(rows: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """Fold ``collect``'s per-stream rows into one summary per seller: rows by kind (and
    child rows by their label), pages, calls and 429s."""
    counted: dict[str, int] = {}
    for kind in registry.synced():
        counted[kind.name] = 0
        if kind.children:
            counted[kind.children.label] = 0
    out: dict[int, dict[str, Any]] = {}
    for r in rows:
        s = out.setdefault(r["seller_id"], {
            "seller_id": r["seller_id"], "selling_partner_id": r["selling_partner_id"],
            "region": r["region"], **counted, "pages": 0, "api_calls": 0, "throttled": 0,
            "synced": True})
        kind = registry.kind_of(r["stream"])
        s[kind.name] += r["rows"]
        if kind.children:
            s[kind.children.label] += r["child_rows"]
        for k in ("pages", "api_calls", "throttled"):
            s[k] += r[k]
        s["synced"] = s["synced"] and r["last_success_at"] is not None
    return out


def render(rows: list[dict[str, Any]], queue_depth: int | None = None,
           queue: str = "spsync", open_rows: dict[str, dict[str, int]] | None = None) -> str:
    """The ``status`` table; ``fill`` is the share of the quota bucket in use (>100%: calls
    queued for quota). ``open_rows``: :func:`backlog`, shown above the table."""
    depth = "n/a" if queue_depth is None else str(queue_depth)
    head = (f"{'seller':<16} {'reg':<3} {'stream':<24} {'rows':>7} {'items':>7} {'pages':>6} "
            f"{'calls':>6} {'429s':>5} {'fill':>5} {'lag':>8}  last success / error")
    lines = [f"queue {queue}: {depth} waiting"]
    for name, counts in (open_rows or {}).items():
        lines.append(f"{name}: " + ", ".join(f"{n} {status}" for status, n in counts.items()))
    lines += ["", head, "-" * len(head)]
    for r in rows:
        lag = f"{r['lag_seconds']:.0f}s" if r["lag_seconds"] is not None else "-"
        fill = r.get("bucket_fill")
        fill_text = f"{fill * 100:.0f}%" if fill is not None else "-"
        tail = r["last_error"] or (str(r["last_success_at"])[:19] if r["last_success_at"]
                                   else "never")
        if r.get("stream_disabled"):
            tail = f"STREAM DISABLED: {r['stream_disabled']}"
        if not r["enabled"]:
            tail = f"DISABLED: {r['disabled_reason']}"
        stream = r["stream"] + (f" ({r['api_version']})" if r.get("api_version") else "")
        lines.append(f"{r['selling_partner_id']:<16} {r['region']:<3} {stream:<24} "
                     f"{r['rows']:>7} {r['child_rows']:>7} {r['pages']:>6} {r['api_calls']:>6} "
                     f"{r['throttled']:>5} {fill_text:>5} {lag:>8}  {tail[:60]}")
    return "\n".join(lines)


def render_seller(seller: dict[str, Any], streams: list[dict[str, Any]],
                  runs: list[dict[str, Any]]) -> str:
    """``sellers show``: ``describe_seller``, ``seller_streams`` and ``seller_runs``."""
    token = seller["refresh_token"]
    lines = [
        f"seller {seller['selling_partner_id']} (id {seller['id']})",
        f"  name:           {seller['name'] or '-'}",
        f"  region:         {seller['region']}",
        f"  marketplaces:   {', '.join(seller['marketplace_ids'])}",
        f"  orders api:     {seller['orders_api']}",
        f"  finances api:   {seller['finances_api']}",
        "  state:          " + ("enabled" if seller["enabled"]
                                else f"disabled ({seller['disabled_reason']})"),
        "  refresh token:  " + (f"stored (key {token['key_id']})" if token["stored"]
                                else "missing"),
        f"  registered:     {_when(seller['created_at'])}",
        f"  updated:        {_when(seller['updated_at'])}",
        "",
        "streams:",
        f"  {'stream':<24} {'cursor':<19}  {'last success':<19}  {'lag':>8}  "
        f"{'due at':<19}  last error",
    ]
    for s in streams:
        lag = f"{s['lag_seconds']:.0f}s" if s["lag_seconds"] is not None else "-"
        error = s["last_error"] or "-"
        if s["last_error"] and s["last_error_at"]:
            error = f"{_when(s['last_error_at'])}: {error}"
        if s.get("disabled_reason"):
            error = f"DISABLED: {s['disabled_reason']}"
        lines.append(f"  {s['stream']:<24} {_when(s['cursor']):<19}  "
                     f"{_when(s['last_success_at']):<19}  {lag:>8}  {_when(s['due_at']):<19}  "
                     f"{error[:200 if s.get('disabled_reason') else 80]}")
    if not streams:
        lines.append("  (none)")
    lines += ["", f"recent runs (last {len(runs)}):" if runs else "recent runs: none"]
    if runs:
        lines.append(f"  {'id':>7}  {'stream':<24} {'status':<9}  {'started':<19}  "
                     f"{'pages':>6} {'rows':>7} {'calls':>6} {'429s':>5}  error")
    for r in runs:
        error = f"{r['error_type']}: {r['error']}" if r["error_type"] else (r["error"] or "")
        lines.append(f"  {r['id']:>7}  {r['stream']:<24} {r['status']:<9}  "
                     f"{_when(r['started_at']):<19}  {r['pages']:>6} {r['rows_written']:>7} "
                     f"{r['api_calls']:>6} {r['throttled']:>5}  {error[:80]}")
    return "\n".join(lines)


def _when(value: datetime | None) -> str:
    return f"{value.astimezone(UTC):%Y-%m-%d %H:%M:%S}" if value is not None else "-"
