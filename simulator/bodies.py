"""Request bodies checked against their model definition (e.g. CreateReportSpecification).

A small walker over the subset of JSON Schema the SP-API models use for request bodies:
``$ref``, ``type``, ``required``, ``properties``, ``additionalProperties``, ``items``,
``minItems``/``maxItems``, ``enum`` and ``format: date-time``. The first violation
becomes a 400 ``InvalidInput`` naming the field.
"""

from __future__ import annotations

import json
from typing import Any

from .clock import parse_iso
from .errors import invalid_input
from .spec import definition

_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
}


def parse(model: str, name: str, raw: bytes) -> dict[str, Any]:
    """The JSON body as a dict, or 400 when it is not JSON or breaks the definition."""
    try:
        body = json.loads(raw or b"null")
    except ValueError:
        raise invalid_input("The request body is not valid JSON.") from None
    check(model, {"$ref": f"#/definitions/{name}"}, body, "body")
    result: dict[str, Any] = body
    return result


def check(model: str, schema: dict[str, Any], value: Any, where: str) -> None:
    if "$ref" in schema:
        schema = definition(model, schema["$ref"].rsplit("/", 1)[-1])
    _type(schema, value, where)
    if "enum" in schema and value not in schema["enum"]:
        raise invalid_input(f"'{where}' must be one of {', '.join(map(str, schema['enum']))}.")
    if schema.get("format") == "date-time" and isinstance(value, str):
        _date_time(value, where)
    if isinstance(value, dict):
        _object(model, schema, value, where)
    if isinstance(value, list):
        _array(model, schema, value, where)


def _type(schema: dict[str, Any], value: Any, where: str) -> None:
    kind = schema.get("type")
    if kind is None:
        return
    ok = isinstance(value, _TYPES[kind]) and not (
        kind in ("integer", "number") and isinstance(value, bool)
    )
    if not ok:
        raise invalid_input(f"'{where}' must be of type {kind}.")


def _date_time(value: str, where: str) -> None:
    try:
        parse_iso(value)
    except ValueError:
        raise invalid_input(f"'{where}' must be an ISO 8601 date-time; got '{value}'.") from None


def _object(model: str, schema: dict[str, Any], value: dict[str, Any], where: str) -> None:
    for name in schema.get("required", ()):
        if name not in value:
            raise invalid_input(f"Missing required field '{_join(where, name)}'.")
    properties = schema.get("properties", {})
    extra = schema.get("additionalProperties", True)
    for name, item in value.items():
        if name in properties:
            check(model, properties[name], item, _join(where, name))
        elif isinstance(extra, dict):
            check(model, extra, item, _join(where, name))


def _array(model: str, schema: dict[str, Any], value: list[Any], where: str) -> None:
    low, high = schema.get("minItems"), schema.get("maxItems")
    if (low is not None and len(value) < low) or (high is not None and len(value) > high):
        raise invalid_input(f"'{where}' must have between {low or 0} and {high} items.")
    for index, item in enumerate(value):
        check(model, schema.get("items", {}), item, f"{where}[{index}]")


def _join(where: str, name: str) -> str:
    return name if where == "body" else f"{where}.{name}"
