"""How deep and how large a JSON document may be where others write it: ``outbox.params``
(downstream systems ``INSERT`` rows) and ``notifications_inbox.payload`` (what Amazon pushed).

One rule, held in three places:

- where rows enter, by Postgres itself: migration 0005's triggers call
  ``spsync_json_problem(doc, max_depth, max_bytes)`` on every insert (and every update of
  the document) and refuse a document that breaks it, whoever writes it;
- where rows are read, in SQL before the document is decoded (:func:`sql_problem`): a row
  stored before the triggers existed, nested thousands of levels deep, would otherwise raise
  ``RecursionError`` inside the driver's JSON decoding, on every read of it;
- in Python (:func:`problem`), so that spsync's own writers (the CLI, ``enqueue_command``,
  the notification consumer) refuse such a document with a clear message first.

Depth counts containers: ``{}`` and ``[]`` are 1 deep, ``{"a": [1]}`` 2, a bare scalar 0.
Size is the length in bytes of the document as Postgres writes it out (``doc::text``:
``", "`` and ``": "`` separators, numbers in full, strings as UTF-8 with control
characters escaped), which :func:`problem` computes the same way.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, func, literal
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.types import Text


@dataclass(frozen=True)
class JsonLimit:
    column: str  # for messages: "outbox.params"
    depth: int  # containers nested at most this deep
    size: int  # bytes of its text form, at most


# The largest request the models allow is a createInboundPlan of 2,000 items (its
# maxItems) with 255-character MSKUs and 256-character lot codes, about 1.3 MB.
OUTBOX_PARAMS = JsonLimit("outbox.params", 32, 2 * 1024 * 1024)
# An SQS message (or SNS notification) holds at most 262,144 bytes; written out again by
# Postgres it may grow (spaces after separators, a number such as 1e300 in full), and a
# message that is not a notification is kept as {"raw": <its first 100,000 characters>}
# (escaped: at most 600 KB). Amazon's notifications are 5 to 8 levels deep.
INBOX_PAYLOAD = JsonLimit("notifications_inbox.payload", 32, 1024 * 1024)


def problem(doc: Any, limit: JsonLimit) -> str | None:
    """Why ``doc`` (decoded JSON) breaks ``limit``, in words; None when it does not.
    Iterative, and it stops at the first level or byte too many."""
    size, stack = 0, [(doc, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth > limit.depth:
                return f"nested deeper than {limit.depth} levels"
            size += 2 + 2 * max(len(value) - 1, 0)  # brackets, ", " between members
            if isinstance(value, dict):
                size += sum(2 + _text_size(str(k)) for k in value)  # key, ": "
                stack.extend((v, depth + 1) for v in value.values())
            else:
                stack.extend((v, depth + 1) for v in value)
        else:
            size += _scalar_size(value)
        if size > limit.size:
            return f"larger than {limit.size:,} bytes"
    return None


def _text_size(value: str) -> int:
    return len(json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass"))


def _scalar_size(value: Any) -> int:
    if value is None or value is True:
        return 4
    if value is False:
        return 5
    if isinstance(value, str):
        return _text_size(value)
    if isinstance(value, int):  # past 4,300 digits str() refuses: bound it instead
        if value.bit_length() <= 4000:
            return len(str(value))
        return 2 + math.ceil(value.bit_length() * math.log10(2))
    if isinstance(value, float) and math.isfinite(value):  # numeric prints it in full
        return len(format(Decimal(repr(value)), "f"))
    return len(str(value))


def sql_problem(document: InstrumentedAttribute[Any] | ColumnElement[Any],
                limit: JsonLimit) -> ColumnElement[str]:
    """The same check in SQL (migration 0005's function): NULL, or why ``document`` breaks
    ``limit``. Postgres walks at most ``limit.depth`` levels, so a document of any depth
    answers without decoding it in Python."""
    return func.spsync_json_problem(document, literal(limit.depth), literal(limit.size),
                                    type_=Text)


def decode(text: str | None, sql_found: str | None) -> tuple[Any, str | None]:
    """A document read as text next to its :func:`sql_problem`: (the value, None), or
    (None, why it cannot be used). Never raises."""
    if sql_found is not None:
        return None, sql_found
    if text is None:
        return None, "missing"
    try:
        return json.loads(text), None
    except (ValueError, RecursionError) as exc:
        return None, f"not readable as JSON ({type(exc).__name__})"
