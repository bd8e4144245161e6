"""What tests/chaos/test_fuzz.py generates inputs with, and what it checks outputs against.

- :func:`model_schema`: a definition of one of Amazon's Swagger 2.0 models as a draft-07 JSON
  schema for ``hypothesis_jsonschema.from_schema``. hypothesis-jsonschema reads Swagger's
  ``definitions`` as they are (a Swagger 2.0 schema object is a JSON Schema subset); the
  conversion only keeps the definitions the type reaches, drops the vendor (``x-``) and
  Swagger-only keys, and caps arrays at :data:`MAX_ITEMS` (an order with 40 generated items
  costs 40 times as long and tests nothing more than one with 3).
- :func:`mutated`: a valid document with a few random mutations (a key dropped, a value
  replaced by garbage of any JSON type, a huge or hostile string, nested junk).
- :func:`storable`: whether a mapped row would survive the mirror's column types (a row that
  maps but that Postgres refuses is bad input escaping as an untyped database error).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import os
from collections.abc import Callable, Iterator
from datetime import datetime
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

DRAFT_07 = "http://json-schema.org/draft-07/schema#"
SWAGGER_ONLY = frozenset({"example", "discriminator", "readOnly", "xml", "externalDocs"})
NAMED = frozenset({"properties", "patternProperties", "definitions"})  # keys are names there
MAX_ITEMS = 3
INT4 = 2**31  # order_items, inventory_summaries and listings_items quantities are integer
NUMERIC_18_4 = Decimal("99999999999999.99995")  # numeric(18, 4) rounds this to 10^14


def examples(default: int) -> int:
    """``SPSYNC_FUZZ_EXAMPLES`` overrides every test's (small) default for a longer hunt."""
    return int(os.environ.get("SPSYNC_FUZZ_EXAMPLES") or default)


def time_limit() -> float:
    """pytest-timeout's limit for one fuzz test: the default, or 0.6 s per example for a
    longer hunt (2000 examples of the biggest schemas take 5 to 10 minutes)."""
    return max(300.0, 0.6 * examples(0))


def fuzz(default: int) -> settings:
    return settings(max_examples=examples(default), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


# ---------------------------------------------------------------- schemas


@cache
def model(name: str) -> dict[str, Any]:
    text = resources.files("worker.spapi_models").joinpath(f"{name}.json").read_text("utf-8")
    return dict(json.loads(text))


def model_schema(spec: str, definition: str,
                 require: dict[str, tuple[str, ...]] | None = None) -> dict[str, Any]:
    """``#/definitions/<definition>`` of Swagger file ``spec`` as a draft-07 schema.

    ``require`` adds required properties to definitions: blocks the model calls optional but
    that Amazon sends to spsync because it asks for them (``includedData``)."""
    definitions = model(spec)["definitions"]
    reached: dict[str, Any] = {}
    todo = [definition]
    while todo:
        name = todo.pop()
        if name not in reached:
            reached[name] = _clean(definitions[name])
            extra = (require or {}).get(name, ())
            if extra:
                reached[name]["required"] = sorted({*reached[name].get("required", ()), *extra})
            todo.extend(_refs(reached[name]))
    return {"$schema": DRAFT_07, "$ref": f"#/definitions/{definition}", "definitions": reached}


def _clean(node: Any, named: bool = False) -> Any:
    if isinstance(node, list):
        return [_clean(v) for v in node]
    if not isinstance(node, dict):
        return node
    if named:  # {property name: schema}: every key is kept, however it is spelled
        return {k: _clean(v) for k, v in node.items()}
    clean = {k: _clean(v, k in NAMED) for k, v in node.items()
             if not k.startswith("x-") and k not in SWAGGER_ONLY}
    if clean.get("type") == "array" and "maxItems" not in clean:
        clean["maxItems"] = max(MAX_ITEMS, clean.get("minItems", 0))
    return clean


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/definitions/"):
            yield ref.removeprefix("#/definitions/")
        for v in node.values():
            yield from _refs(v)
    elif isinstance(node, list):
        for v in node:
            yield from _refs(v)


# ---------------------------------------------------------------- hostile values

# Strings that break more than the average one: NUL, lone surrogates (json.loads makes them
# from "\ud800"), bidi and zero-width characters, dates at the ends of datetime's range.
NASTY = st.sampled_from([
    "", " ", "\x00", "a\x00b", "\ud800", "x\udfffy", "\u202e\u200b", "\r", "\n", "\t", '"',
    "\\", "null", "NaN", "-Infinity", "1E+999999", "-0", "0x10", "²", "١٢", "9" * 5000,
    "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "2026-02-30T00:00:00Z",
    "2026-01-01T00:00:00", "2026-01-01", "Z", "\U0001d7d9\U0001d7da", "\uff9f",
    "\ufeff2026-01-01T00:00:00Z",
])
HOSTILE_TEXT = st.one_of(
    NASTY,
    st.text(st.characters(codec=None, exclude_categories=()), max_size=30),  # incl. surrogates
    st.text(max_size=30),
    st.integers(70_000, 200_000).map(lambda n: "é" * n),  # past csv's 128 KiB field limit
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.datetimes().map(lambda d: d.isoformat()),
)
NUMBERS = st.one_of(
    st.integers(),
    st.integers(min_value=INT4 - 2, max_value=2**70),
    st.integers(max_value=-1),
    st.floats(),  # NaN and Infinity too: json.loads accepts both
    st.sampled_from([0, -1, 1.5, 1e308, INT4, INT4 - 1, 10**14, 10**30]),
)
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, HOSTILE_TEXT)
GARBAGE = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(HOSTILE_TEXT, inner, max_size=4)),
    max_leaves=12,
)


# ---------------------------------------------------------------- mutations

Path = tuple[Any, ...]


def paths(doc: Any, at: Path = ()) -> Iterator[Path]:
    """Every position in ``doc``, the root first."""
    yield at
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from paths(v, (*at, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from paths(v, (*at, i))


def _drop(parent: Any, key: Any) -> None:
    del parent[key]


def _retype(value: Any) -> Any:
    """The same value in the wrong JSON type."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


MUTATIONS: st.SearchStrategy[tuple[str, Any]] = st.one_of(
    st.tuples(st.just("drop"), st.none()),
    st.tuples(st.just("null"), st.none()),
    st.tuples(st.just("retype"), st.none()),
    st.tuples(st.just("set"), GARBAGE),
    st.tuples(st.just("set"), HOSTILE_TEXT),
    st.tuples(st.just("add"), st.tuples(HOSTILE_TEXT, GARBAGE)),
)


def mutate(doc: Any, path: Path, how: tuple[str, Any]) -> Any:
    """``doc`` with one mutation at ``path`` (in place where it can; returns the new root)."""
    kind, arg = how
    if not path:
        return arg if kind == "set" else None if kind in ("null", "drop") else _retype(doc)
    parent = doc
    for step in path[:-1]:
        parent = parent[step]
    key = path[-1]
    if kind == "drop":
        _drop(parent, key)
    elif kind == "null":
        parent[key] = None
    elif kind == "retype":
        parent[key] = _retype(parent[key])
    elif kind == "set":
        parent[key] = arg
    elif isinstance(parent[key], dict):
        parent[key][arg[0]] = arg[1]
    else:
        parent[key] = {arg[0]: arg[1]}
    return doc


@st.composite
def mutated(draw: Callable[..., Any], doc: Any, most: int = 3) -> Any:
    """A deep copy of ``doc`` with 1..``most`` random mutations."""
    doc = copy.deepcopy(doc)
    for _ in range(draw(st.integers(1, most))):
        doc = mutate(doc, draw(st.sampled_from(list(paths(doc)))), draw(MUTATIONS))
    return doc


# ---------------------------------------------------------------- what Postgres accepts


def bad_text(value: str) -> bool:
    """Postgres text and jsonb hold no NUL; psycopg cannot encode a lone surrogate."""
    if "\x00" in value:
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def json_problem(value: Any, where: str = "") -> str | None:
    """Where ``value`` (a jsonb document) holds something Postgres refuses, or None."""
    if isinstance(value, str):
        return where if bad_text(value) else None
    if isinstance(value, float):
        return None if math.isfinite(value) else where
    if isinstance(value, dict):
        for k, v in value.items():
            found = (f"{where}/<key>" if bad_text(str(k)) else None) or json_problem(
                v, f"{where}/{k!r}"[:200])
            if found is not None:
                return found
    if isinstance(value, list):
        for i, v in enumerate(value):
            found = json_problem(v, f"{where}/{i}")
            if found is not None:
                return found
    return None


def column_problem(name: str, value: Any) -> str | None:
    if value is None or isinstance(value, bool | datetime):
        if isinstance(value, datetime) and value.tzinfo is None:
            return f"{name} is a naive datetime"
        return None
    if isinstance(value, int):
        return None if -INT4 <= value < INT4 else f"{name} is out of integer range"
    if isinstance(value, Decimal):
        ok = value.is_finite() and abs(value) < NUMERIC_18_4
        return None if ok else f"{name} does not fit numeric(18, 4)"
    if isinstance(value, str):
        return f"{name} holds NUL or a lone surrogate" if bad_text(value) else None
    found = json_problem(value)
    return None if found is None else f"{name} (jsonb) at {found}"


def storable(row: Any) -> list[str]:
    """Why Postgres would refuse ``row`` (a typed row dataclass or a column dict); [] if not."""
    columns = vars(row) if dataclasses.is_dataclass(row) else dict(row)
    return [p for p in (column_problem(k, v) for k, v in columns.items()) if p is not None]


# ---------------------------------------------------------------- valid documents


WORLD_START = 1_780_000_000  # fixed, so the seed documents are the same on every run


@cache
def seeds() -> dict[str, list[Any]]:
    """Valid documents of every shape, rendered by the simulator from one small world."""
    from simulator import listing_render, report_content, sales_traffic
    from simulator.catalog_gen import populate
    from simulator.config import SimConfig
    from simulator.generate import build_world
    from simulator.inventory import summary
    from simulator.orders_2026 import order_2026
    from simulator.orders_v0 import item_v0, order_v0

    config = SimConfig(sellers=1, orders_per_seller=12)
    seller = next(iter(build_world(config, WORLD_START).sellers.values()))
    populate(config, seller, WORLD_START)
    orders = list(seller.orders.values())[:6]
    market = seller.marketplaces[0]
    everything = frozenset(listing_render._DATASETS)
    skus = sorted(seller.listings)[:5]
    stock = sorted(k for k in seller.stock if k[0] == market.marketplace_id)[:5]
    return {
        "marketplace": [market.marketplace_id],
        "order_2026": [order_2026(o, frozenset({"FULFILLMENT", "PROCEEDS"})) for o in orders],
        "order_v0": [order_v0(o) for o in orders],
        "item_v0": [item_v0(i, o) for o in orders for i in o.items][:6],
        "inventory": [summary(seller.skus[k[1]], seller.stock[k], True) for k in stock],
        "listing": [listing_render.item(seller, s, [market.marketplace_id], everything)
                    for s in skus],
        "order_rows": report_content.order_rows(seller, True, 0, 2**40,
                                                seller.marketplace_ids)[:8],
        "listing_rows": report_content.listing_rows(seller, market)[:5],
        "myi_rows": report_content.myi_rows(seller, market)[:5],
        "sales_traffic": [sales_traffic.report(seller, market.marketplace_id,
                                               WORLD_START - 7 * 86400, WORLD_START, {})],
    }


# ---------------------------------------------------------------- flat files

FLAT_FILES = {  # report type: (simulator header, seed rows)
    "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_UPDATE_GENERAL": ("ORDER_COLUMNS", "order_rows"),
    "GET_MERCHANT_LISTINGS_ALL_DATA": ("LISTING_COLUMNS", "listing_rows"),
    "GET_FBA_MYI_UNSUPPRESSED_INVENTORY_DATA": ("MYI_COLUMNS", "myi_rows"),
}
CELL = st.one_of(HOSTILE_TEXT, st.sampled_from(["\t", '"', '""', "\r", "\r\n", "\n", "\x00",
                                                 ",", '"a,b"', "1,5", "-1", "2" * 12]))
TAIL = st.sampled_from([b"", b"\xff", b"\xc3", b"\xe2\x82", b"\x00", b"\r", b"\r\n", b'"'])


@st.composite
def flat_files(draw: Callable[..., Any], kind: str) -> bytes:
    """A flat file of ``kind`` (TSV, or CSV now and then): real rows with hostile cells,
    cells dropped or added, and a stray byte (invalid UTF-8, NUL, CR, a quote) anywhere."""
    from simulator import report_content

    columns, rows_of = FLAT_FILES.get(kind, ("MYI_COLUMNS", "myi_rows"))
    header = list(getattr(report_content, columns))
    rows = [list(r) for r in draw(st.lists(st.sampled_from(seeds()[rows_of]), max_size=6))]
    for _ in range(draw(st.integers(0, 4)) if rows else 0):
        row = draw(st.sampled_from(rows))
        at = draw(st.integers(0, max(len(row) - 1, 0)))
        how = draw(st.sampled_from(["set", "drop", "add"])) if row else "add"
        if how == "set":
            row[at] = draw(CELL)
        elif how == "drop":
            del row[at]
        else:
            row.insert(at, draw(CELL))
    sep = "," if draw(st.integers(0, 4)) == 0 else "\t"
    data = "\n".join(sep.join(r) for r in [header, *rows]).encode("utf-8", "surrogatepass")
    cut = draw(st.integers(0, len(data)))
    return data[:cut] + draw(TAIL) + data[cut:] + draw(TAIL)


# ---------------------------------------------------------------- command lines

# argv cannot hold NUL; undecodable bytes arrive as lone surrogates (surrogateescape)
ARG = st.one_of(
    st.text(st.characters(exclude_characters="\x00", codec="utf-8"), max_size=20),
    NASTY.filter(lambda s: "\x00" not in s and "\ud800" not in s and "\udfff" not in s),
    st.sampled_from(["-", "--", "--help", "\udcff", "a\udc80b", "-1", "0", "1e3", "nan"]),
)


def opt(name: str, *valid: str, required: bool = True) -> st.SearchStrategy[list[str]]:
    """``[name, value]`` with a valid or a hostile value; maybe ``[]`` when not required."""
    value = st.one_of(st.sampled_from(valid), ARG) if valid else ARG
    given = st.tuples(st.just(name), value).map(list)
    return given if required else st.one_of(st.just([]), given)


@st.composite
def argv(draw: Callable[..., Any], *parts: st.SearchStrategy[list[str]]) -> list[str]:
    """The options in a random order, now and then one missing or an unknown one added."""
    chosen = [draw(p) for p in parts]
    if draw(st.integers(0, 9)) == 0:
        del chosen[draw(st.integers(0, len(chosen) - 1))]
    chosen = draw(st.permutations(chosen))
    extra = draw(st.one_of(st.just([]), ARG.map(lambda a: [a])))
    return [a for p in chosen for a in p] + extra
