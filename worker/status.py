"""What operators (``status``) and the demo's progress display read from the mirror."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, text

_STATUS_SQL = text("""
SELECT s.id AS seller_id, s.selling_partner_id, s.region, s.enabled, s.disabled_reason,
       st.stream, st.cursor, st.last_success_at, st.last_error, st.locked_by, st.due_at,
       CASE WHEN st.stream = 'orders'
            THEN (SELECT count(*) FROM orders o WHERE o.seller_id = s.id)
            WHEN st.stream LIKE 'listings:%'
            THEN (SELECT count(*) FROM listings_items li WHERE li.seller_id = s.id
                  AND 'listings:' || li.marketplace_id = st.stream)
            ELSE (SELECT count(*) FROM inventory_summaries v WHERE v.seller_id = s.id
                  AND 'inventory:' || v.marketplace_id = st.stream) END AS rows,
       CASE WHEN st.stream = 'orders'
            THEN (SELECT count(*) FROM order_items i WHERE i.seller_id = s.id)
            ELSE 0 END AS child_rows,
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
""")


def collect(conn: Connection, now: datetime | None = None) -> list[dict[str, Any]]:
    now = now or datetime.now(UTC)
    rows = [dict(r._mapping) for r in conn.execute(_STATUS_SQL)]
    for r in rows:
        r["lag_seconds"] = round((now - r["cursor"]).total_seconds(), 1) if r["cursor"] else None
    return rows


def per_seller(rows: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """Fold ``collect``'s per-stream rows into one summary per seller."""
    out: dict[int, dict[str, Any]] = {}
    for r in rows:
        s = out.setdefault(r["seller_id"], {
            "seller_id": r["seller_id"], "selling_partner_id": r["selling_partner_id"],
            "region": r["region"], "orders": 0, "items": 0, "inventory": 0, "listings": 0,
            "pages": 0,
            "api_calls": 0, "throttled": 0, "synced": True})
        if r["stream"] == "orders":
            s["orders"], s["items"] = r["rows"], r["child_rows"]
        else:
            s[r["stream"].split(":", 1)[0]] += r["rows"]  # inventory / listings
        for k in ("pages", "api_calls", "throttled"):
            s[k] += r[k]
        s["synced"] = s["synced"] and r["last_success_at"] is not None
    return out


def render(rows: list[dict[str, Any]]) -> str:
    head = (f"{'seller':<16} {'reg':<3} {'stream':<24} {'rows':>7} {'items':>7} {'pages':>6} "
            f"{'calls':>6} {'429s':>5} {'lag':>8}  last success / error")
    lines = [head, "-" * len(head)]
    for r in rows:
        lag = f"{r['lag_seconds']:.0f}s" if r["lag_seconds"] is not None else "-"
        tail = r["last_error"] or (str(r["last_success_at"])[:19] if r["last_success_at"]
                                   else "never")
        if not r["enabled"]:
            tail = f"DISABLED: {r['disabled_reason']}"
        lines.append(f"{r['selling_partner_id']:<16} {r['region']:<3} {r['stream']:<24} "
                     f"{r['rows']:>7} {r['child_rows']:>7} {r['pages']:>6} {r['api_calls']:>6} "
                     f"{r['throttled']:>5} {lag:>8}  {tail[:60]}")
    return "\n".join(lines)
