"""Typed reads of Amazon JSON fields: each either returns a value or raises the typed error.

Messages name the field, never its value (values may be PII or secrets).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from worker.spapi.errors import MalformedResponseError


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
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise bad(f"{what}.{key} is not a non-negative integer")
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
    return parsed.astimezone(UTC)


def money(value: Any, what: str, *, amount_key: str, currency_key: str) -> tuple[Decimal, str]:
    doc = obj(value, what)
    raw_amount = doc.get(amount_key)
    try:
        amount = Decimal(str(raw_amount))
    except InvalidOperation:
        raise bad(f"{what}.{amount_key} is not a decimal") from None
    if raw_amount is None or isinstance(raw_amount, bool) or not amount.is_finite():
        raise bad(f"{what}.{amount_key} is not a decimal")
    return amount, req_str(doc, currency_key, what)
