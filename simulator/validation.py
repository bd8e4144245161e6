"""Request parameters checked against the operation's parameter list from the model.

Covers what the models declare — required, type, ``maxItems``, array item and scalar
string enums, string ``pattern``/``minLength``/``maxLength`` and the integer ranges stated
in their prose — and returns typed values.
Cross-parameter rules (exactly one of createdAfter/lastUpdatedAfter, …) belong to
:mod:`windows` and the operation handlers.
Unknown query parameters are ignored, as Amazon does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from multidict import MultiMapping

from .errors import invalid_input
from .spec import Operation, Param

Params = dict[str, Any]


def validate(op: Operation, query: MultiMapping[str], path: Mapping[str, str]) -> Params:
    """Typed parameter values (defaults filled in) or ``ApiError`` 400 naming the parameter."""
    values: Params = {}
    for param in op.params:
        raw = _raw_values(param, query, path)
        if not raw:
            if param.required:
                raise invalid_input(f"Missing required parameter '{param.name}'.")
            if param.default is not None:
                default = param.default
                values[param.name] = list(default) if isinstance(default, tuple) else default
            continue
        values[param.name] = _typed(param, raw)
    return values


def _raw_values(param: Param, query: MultiMapping[str], path: Mapping[str, str]) -> list[str]:
    if param.location == "path":
        return [path[param.name]] if path.get(param.name) else []
    found = query.getall(param.name, [])
    if param.type != "array":
        return [v for v in found[:1] if v != ""]
    # Clients send arrays either as A,B or as repeated keys; Amazon accepts both.
    return [part.strip() for value in found for part in value.split(",") if part.strip()]


def _typed(param: Param, raw: list[str]) -> Any:
    if param.type == "array":
        return _array(param, raw)
    if param.type == "integer":
        return _integer(param, raw[0])
    if param.type == "boolean":
        return _boolean(param, raw[0])
    if param.enum and raw[0] not in param.enum:
        allowed = ", ".join(param.enum)
        raise invalid_input(
            f"'{param.name}' has an invalid value '{raw[0]}'. Allowed values: {allowed}."
        )
    return _string(param, raw[0])


def _string(param: Param, raw: str) -> str:
    low, high = param.min_length, param.max_length
    if (low is not None and len(raw) < low) or (high is not None and len(raw) > high):
        raise invalid_input(f"'{param.name}' must be {low} to {high} characters long.")
    if param.pattern is not None and not re.search(param.pattern, raw):
        raise invalid_input(f"'{param.name}' must match {param.pattern}.")
    return raw


def _array(param: Param, raw: list[str]) -> list[str]:
    if param.max_items is not None and len(raw) > param.max_items:
        raise invalid_input(
            f"'{param.name}' accepts at most {param.max_items} values; got {len(raw)}."
        )
    for value in raw:
        if param.items_enum and value not in param.items_enum:
            allowed = ", ".join(param.items_enum)
            raise invalid_input(
                f"'{param.name}' has an invalid value '{value}'. Allowed values: {allowed}."
            )
    return raw


def _integer(param: Param, raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise invalid_input(f"'{param.name}' must be an integer; got '{raw}'.") from None
    low, high = param.minimum, param.maximum
    if (low is not None and value < low) or (high is not None and value > high):
        raise invalid_input(f"'{param.name}' must be between {low} and {high}; got {value}.")
    return value


def _boolean(param: Param, raw: str) -> bool:
    lowered = raw.lower()
    if lowered not in ("true", "false"):
        raise invalid_input(f"'{param.name}' must be true or false; got '{raw}'.")
    return lowered == "true"
