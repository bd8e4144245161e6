"""A received notification, validated against Amazon's JSON schema for its type.

The four schemas (``worker/spapi_models/*Notification.json``) disagree on casing:
``ReportProcessingFinishedNotification`` is camelCase (``notificationType``, ``payload``),
the others PascalCase. :func:`parse` reads either, validates the whole message against the
schema of its type, and returns the few fields spsync routes on. Whatever a message holds,
:func:`parse` raises nothing but :class:`InvalidNotification`, and a message it returns can
be stored as it is (no NUL, lone surrogate, NaN or Infinity for ``jsonb`` to refuse, and
within :data:`worker.db.jsonlimits.INBOX_PAYLOAD`'s depth and size, which the inbox's
trigger enforces).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft7Validator

from worker.db.jsonlimits import INBOX_PAYLOAD, problem
from worker.sync.fields import unstorable

SCHEMAS = {
    "ORDER_CHANGE": "OrderChangeNotification",
    "FBA_INVENTORY_AVAILABILITY_CHANGES": "FBAInventoryAvailabilityChangeNotification",
    "LISTINGS_ITEM_STATUS_CHANGE": "ListingsItemStatusChangeNotification",
    "REPORT_PROCESSING_FINISHED": "ReportProcessingFinishedNotification",
    "TRANSACTION_UPDATE": "TransactionUpdateNotification",
}
# Amazon's listings schema disagrees with itself: its NotificationType enum says
# LISTINGS_ITEM_STATUS_CHANGED, its own example (and the subscription type) says
# LISTINGS_ITEM_STATUS_CHANGE. Both are accepted and stored under the subscription type.
ALIASES = {"LISTINGS_ITEM_STATUS_CHANGED": "LISTINGS_ITEM_STATUS_CHANGE"}
_ENUM_SPELLING = {"LISTINGS_ITEM_STATUS_CHANGE": "LISTINGS_ITEM_STATUS_CHANGED"}


class InvalidNotification(ValueError):
    """Not a notification spsync knows, or one that breaks its schema; the message says where
    (never the payload's values)."""


@dataclass(frozen=True)
class Envelope:
    notification_id: str  # Amazon's NotificationId (or a digest of the body when absent)
    notification_type: str
    event_time: datetime | None
    selling_partner_id: str | None
    payload: dict[str, Any]  # the type's payload object (e.g. OrderChangeNotification)
    message: dict[str, Any]  # the whole message as received


@cache
def _validator(name: str) -> Draft7Validator:
    text = resources.files("worker.spapi_models").joinpath(f"{name}.json").read_text("utf-8")
    return Draft7Validator(json.loads(text))


def _get(obj: Mapping[str, Any], name: str) -> Any:
    """``name`` in PascalCase or camelCase."""
    if name in obj:
        return obj[name]
    return obj.get(name[0].lower() + name[1:])


def parse(message: Mapping[str, Any]) -> Envelope:
    if not isinstance(message, Mapping):
        raise InvalidNotification("a notification must be a JSON object")
    sent = _get(message, "NotificationType")
    kind = ALIASES.get(sent, sent) if isinstance(sent, str) else ""  # a list is unhashable
    if kind not in SCHEMAS:
        raise InvalidNotification(f"unknown notification type {str(sent)[:60]!r}")
    unfit = unstorable(message)  # the inbox keeps the message as jsonb
    if unfit is not None:
        raise InvalidNotification(f"{kind} holds a NUL, a lone surrogate, NaN or Infinity at "
                                  f"{unfit}"[:300])
    too_big = problem(message, INBOX_PAYLOAD)  # also before jsonschema recurses into it
    if too_big is not None:
        raise InvalidNotification(f"{kind} is {too_big}")
    checked = dict(message)
    if kind in _ENUM_SPELLING:
        checked["NotificationType"] = _ENUM_SPELLING[kind]
    errors = sorted(_validator(SCHEMAS[kind]).iter_errors(checked), key=lambda e: list(e.path))
    if errors:
        where = "/".join(str(p) for p in errors[0].absolute_path) or "(root)"
        raise InvalidNotification(f"{kind} breaks its schema at {where}: "
                                  f"{errors[0].validator} {errors[0].validator_value!r}"[:300])
    payload = _get(message, "Payload") or {}
    if not isinstance(payload, Mapping):  # a schema without a required Payload lets it by
        raise InvalidNotification(f"{kind} has a Payload that is not an object")
    meta = _get(message, "NotificationMetadata") or {}
    nid = _get(meta, "NotificationId") if isinstance(meta, Mapping) else None
    return Envelope(
        notification_id=str(nid) if nid else _digest(message),
        notification_type=str(kind),
        event_time=_time(_get(message, "EventTime")),
        selling_partner_id=_seller(kind, payload),
        payload=dict(payload),
        message=dict(message),
    )


def _digest(message: Mapping[str, Any]) -> str:
    body = json.dumps(message, sort_keys=True, separators=(",", ":")).encode()
    return "sha256:" + hashlib.sha256(body).hexdigest()


def _time(value: Any) -> datetime | None:
    """An aware EventTime; None when absent or unreadable (the schemas do not check formats)."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def _seller(kind: str, payload: Mapping[str, Any]) -> str | None:
    if kind == "ORDER_CHANGE":
        inner = payload.get("OrderChangeNotification") or {}
        return inner.get("SellerId") if isinstance(inner, Mapping) else None
    if kind == "REPORT_PROCESSING_FINISHED":
        inner = payload.get("reportProcessingFinishedNotification") or {}
        return inner.get("sellerId") if isinstance(inner, Mapping) else None
    if kind == "TRANSACTION_UPDATE":
        inner = payload.get("TransactionUpdateNotification") or {}
        meta = inner.get("SellingPartnerMetadata") if isinstance(inner, Mapping) else None
        return meta.get("SellingPartnerId") if isinstance(meta, Mapping) else None
    value = payload.get("SellerId")
    return str(value) if value else None
