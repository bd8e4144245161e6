"""The body constraints :mod:`bodies` does not check: ``minLength``, ``maxLength`` and
``pattern`` on strings, ``minimum`` and ``maximum`` on numbers.

Walks the same model definition after :func:`bodies.parse` accepted the body (so types and
required fields are already right); the first violation is a 400 ``InvalidInput`` naming
the field, never its value (an address is personal data).
"""

from __future__ import annotations

import re
from typing import Any

from .errors import invalid_input
from .spec import definition


def check(model: str, name: str, body: Any) -> None:
    _walk(model, {"$ref": f"#/definitions/{name}"}, body, "")


def _walk(model: str, schema: dict[str, Any], value: Any, where: str) -> None:
    if "$ref" in schema:
        schema = definition(model, schema["$ref"].rsplit("/", 1)[-1])
    if isinstance(value, str):
        _string(schema, value, where)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        _number(schema, value, where)
    elif isinstance(value, dict):
        properties = schema.get("properties", {})
        for key, item in value.items():
            if key in properties:
                _walk(model, properties[key], item, f"{where}.{key}" if where else key)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _walk(model, schema.get("items", {}), item, f"{where}[{index}]")


def _string(schema: dict[str, Any], value: str, where: str) -> None:
    low, high = schema.get("minLength"), schema.get("maxLength")
    if (low is not None and len(value) < low) or (high is not None and len(value) > high):
        raise invalid_input(f"'{where}' must be {low or 0} to {high} characters long.")
    pattern = schema.get("pattern")
    if pattern is not None and not re.search(pattern, value):
        raise invalid_input(f"'{where}' must match {pattern}.")


def _number(schema: dict[str, Any], value: float, where: str) -> None:
    low, high = schema.get("minimum"), schema.get("maximum")
    if (low is not None and value < low) or (high is not None and value > high):
        raise invalid_input(f"'{where}' must be between {low} and {high}.")
