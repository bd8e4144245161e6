"""The write path's JSON encoding (worker/db/upsert.py ``dumps``): orjson where it can, and
exactly what ``json.dumps`` did where orjson refuses, so a document that was stored before
is stored the same way now."""

from __future__ import annotations

import json

import pytest

from worker.db.upsert import dumps, jsonb


def _parsed(value: bytes | str) -> object:
    return json.loads(value)


@pytest.mark.parametrize("doc", [
    {"orderId": "111-1", "items": [{"qty": 2, "price": "9.99"}], "ok": True, "none": None},
    ["a", 1, 2.5, {"nested": {"deep": []}}],
    {"text": "na\u00efve \u00fcn\u00efcode \u2713"},
])
def test_documents_read_back_as_they_were(doc):
    assert _parsed(dumps(doc)) == doc


def test_what_orjson_refuses_is_encoded_as_json_dumps_would():
    big = {"n": 2**70}  # past 64 bits: orjson raises
    assert dumps(big) == json.dumps(big)
    assert _parsed(dumps(big)) == big


def test_non_string_keys_become_strings_as_json_dumps_makes_them():
    assert _parsed(dumps({1: "a", 2: "b"})) == json.loads(json.dumps({1: "a", 2: "b"}))


def test_the_jsonb_wrapper_uses_it():
    assert jsonb({"a": 1}).dumps is dumps
