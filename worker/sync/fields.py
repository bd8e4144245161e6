"""Typed reads of Amazon JSON fields: each either returns a value or raises the typed error.

Messages name the field, never its value (values may be PII or secrets).

A value is also refused when the mirror's columns cannot hold it (``worker/db/models.py``):
quantities are ``integer``, money is ``numeric(18, 4)``, and text and ``jsonb`` hold no NUL
character, no lone surrogate (``json.loads`` makes one of ``"\\ud800"``) and, in ``jsonb``,
no NaN or Infinity. Such a value would otherwise fail the page's write as an untyped
database error, after the mapping said the page was fine.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from worker.spapi.errors import MalformedResponseError

MAX_INT = 2**31 - 1  # integer columns
MONEY_LIMIT = Decimal("99999999999999.99995")  # numeric(18, 4) rounds this up to 10^14
UNSTORABLE_TEXT = re.compile("[\x00\ud800-\udfff]")  # what Postgres text cannot hold


def bad(what: str) -> MalformedResponseError:
    return MalformedResponseError(f"unexpected payload: {what}")


def obj(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise bad(f"{what} is not an object")
    return value


def opt_obj(doc: dict[str, Any], key: str, what: str) -> dict[str, Any]:
    value = doc.get(key)
    return {} if value is None else obj(value, f"{what}.{key}")


def req_str(doc: dict[str, Any], key: str, what: str) -> str:
    value = doc.get(key)
    if not isinstance(value, str) or not value:
        raise bad(f"{what}.{key} is missing or not a string")
    return value


def opt_str(doc: dict[str, Any], key: str, what: str) -> str | None:
    value = doc.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise bad(f"{what}.{key} is not a string")
    return value


def int_field(doc: dict[str, Any], key: str, what: str, *, required: bool) -> int | None:
    value = doc.get(key)
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_INT:
        raise bad(f"{what}.{key} is not a non-negative integer (up to 2^31 - 1)")
    return value


def parse_time(value: Any, what: str) -> datetime:
    """ISO 8601 with an offset or ``Z`` -> aware UTC datetime."""
    if not isinstance(value, str):
        raise bad(f"{what} is missing or not a date-time")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise bad(f"{what} is not ISO 8601") from None
    if parsed.tzinfo is None:
        raise bad(f"{what} has no timezone")
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00:00+01:00 is before datetime's year 1 in UTC
        raise bad(f"{what} is out of range") from None


def money(value: Any, what: str, *, amount_key: str, currency_key: str) -> tuple[Decimal, str]:
    doc = obj(value, what)
    raw_amount = doc.get(amount_key)
    try:
        amount = Decimal(str(raw_amount))
    except InvalidOperation:
        raise bad(f"{what}.{amount_key} is not a decimal") from None
    if raw_amount is None or isinstance(raw_amount, bool) or not amount.is_finite():
        raise bad(f"{what}.{amount_key} is not a decimal")
    return fits_money(amount, f"{what}.{amount_key}"), req_str(doc, currency_key, what)


def fits_money(amount: Decimal, what: str) -> Decimal:
    """``amount`` (finite) when a ``numeric(18, 4)`` column holds it."""
    if abs(amount) >= MONEY_LIMIT:
        raise bad(f"{what} is out of range")
    return amount


def storable(doc: Any, what: str) -> None:
    """Refuse a JSON document holding what Postgres cannot store, naming where."""
    where = unstorable(doc)
    if where is not None:
        raise bad(f"{what} holds a NUL, a lone surrogate, NaN or Infinity at {where}")


def storable_text(value: str) -> bool:
    return UNSTORABLE_TEXT.search(value) is None


def unstorable(doc: Any) -> str | None:
    """The path (``/key/0/...``) of the first value of a JSON document that Postgres cannot
    store, or None. Iterative: a document nested deeper than Python's stack still answers."""
    stack: list[tuple[Any, Any]] = [(doc, None)]  # (node, (parent's path, key) or None)
    while stack:
        node, at = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                if not (isinstance(key, str) and storable_text(key)):
                    return _path((at, key))
                stack.append((value, (at, key)))
        elif isinstance(node, list):
            stack.extend((value, (at, i)) for i, value in enumerate(node))
        elif (isinstance(node, str) and not storable_text(node)) or (
                isinstance(node, float) and not math.isfinite(node)):
            return _path(at)
    return None


def _path(at: Any) -> str:
    parts: list[str] = []
    while at is not None:
        at, key = at
        parts.append(ascii(key)[1:-1][:40] if isinstance(key, str) else str(key))
    return ("/" + "/".join(reversed(parts)))[:200]  # keys escaped: the path is plain ASCII
