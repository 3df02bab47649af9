from __future__ import annotations

from typing import Any

import pytest

from assistantd.body import validate_body
from assistantd.errors import InvalidRequestError
from assistantd.file_search.filters import matches, matching_files
from assistantd.vector_stores.schemas import SearchRequest

ATTRS: dict[str, Any] = {"region": "eu", "year": 2024, "score": 4.5, "draft": False}


def eq(key: str, value: Any, kind: str = "eq") -> dict[str, Any]:
    return {"type": kind, "key": key, "value": value}


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (eq("region", "eu"), True),
        (eq("region", "us"), False),
        (eq("region", "us", "ne"), True),
        (eq("year", 2024), True),
        (eq("year", 2024.0), True),
        (eq("year", "2024"), False),  # no string/number coercion
        (eq("year", 2023, "gt"), True),
        (eq("year", 2024, "gte"), True),
        (eq("score", 4.5, "lt"), False),
        (eq("score", 4.5, "lte"), True),
        (eq("region", "a", "gt"), True),  # strings order lexically
        (eq("region", 1, "gt"), False),  # mixed kinds never order
        (eq("draft", False), True),
        (eq("draft", 0), False),  # booleans are not numbers
        (eq("draft", 0, "lt"), False),
        (eq("missing", "x"), False),
        (eq("missing", "x", "ne"), True),
        (eq("region", ["us", "eu"], "in"), True),
        (eq("region", ["us"], "nin"), True),
        ({"type": "and", "filters": [eq("region", "eu"), eq("year", 2020, "gt")]}, True),
        ({"type": "and", "filters": [eq("region", "eu"), eq("year", 2030, "gt")]}, False),
        ({"type": "or", "filters": [eq("region", "us"), eq("draft", False)]}, True),
        (
            {
                "type": "or",
                "filters": [
                    eq("region", "us"),
                    {"type": "and", "filters": [eq("year", 2024), eq("score", 5, "lt")]},
                ],
            },
            True,
        ),
    ],
)
def test_matches(spec: dict[str, Any], expected: bool) -> None:
    validate_body(SearchRequest, {"query": "q", "filters": spec})
    assert matches(spec, ATTRS) is expected


def test_no_attributes() -> None:
    assert not matches(eq("region", "eu"), None)
    assert matching_files(eq("region", "eu"), [("a", ATTRS), ("b", None), ("c", {})]) == {"a"}


@pytest.mark.parametrize(
    ("spec", "param"),
    [
        ("region", "filters"),
        ({"type": "like", "key": "a", "value": "b"}, "filters.type"),
        ({"type": ["eq"], "key": "a", "value": "b"}, "filters.type"),
        ({"type": "and", "filters": [{"type": ["eq"]}]}, "filters.filters[0].type"),
        ({"type": {"eq": 1}}, "filters.type"),
        ({"type": "eq", "key": 1, "value": "b"}, "filters.key"),
        ({"type": "eq", "key": "a", "value": "b", "extra": 1}, "filters.extra"),
        ({"type": "eq", "value": "b"}, "filters.key"),
        ({"type": "eq", "key": "a", "value": None}, "filters.value"),
        ({"type": "eq", "key": "a", "value": [1]}, "filters.value"),
        ({"type": "in", "key": "a", "value": "x"}, "filters.value"),
        ({"type": "and", "filters": []}, "filters.filters"),
        ({"type": "or", "filters": [eq("a", 1), {"type": "eq"}]}, "filters.filters[1].key"),
    ],
)
def test_validation(spec: Any, param: str) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        validate_body(SearchRequest, {"query": "q", "filters": spec})
    assert caught.value.param == param
