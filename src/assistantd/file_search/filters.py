"""OpenAI's attribute `filters` for file search, validated and evaluated on file attributes.

Owns the filter grammar, as pydantic models (`Filter`, a union discriminated by `type`): a
comparison `{"type": eq|ne|gt|gte|lt|lte, "key", "value"}`, a list comparison
`{"type": in|nin, "key", "value": [...]}` or a compound `{"type": and|or, "filters": [...]}`
(nested freely); and its evaluation against one file's `attributes` (string, number or
boolean values), on the filter as plain data (`model_dump()`). Semantics chosen where OpenAI says
nothing: a missing key fails every comparison except `ne`/`nin`; ordering comparisons between a
string and a number fail rather than raise; booleans only compare equal to booleans.
It does not know about SQL: the index evaluates filters per file, then restricts its queries.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any, Literal

from pydantic import Field

from assistantd.schemas import RequestSchema

AttributeValue = str | int | float | bool
Attributes = Mapping[str, AttributeValue]


class ComparisonFilter(RequestSchema):
    type: Literal["eq", "ne", "gt", "gte", "lt", "lte"]
    key: str
    value: str | int | float | bool


class ListComparisonFilter(RequestSchema):
    type: Literal["in", "nin"]
    key: str
    value: list[str | int | float | bool]


class CompoundFilter(RequestSchema):
    type: Literal["and", "or"]
    filters: Annotated[list[Filter], Field(min_length=1)]


Filter = Annotated[
    ComparisonFilter | ListComparisonFilter | CompoundFilter, Field(discriminator="type")
]
CompoundFilter.model_rebuild()


def _is_scalar(value: Any) -> bool:
    return isinstance(value, str | int | float | bool)


def _same_kind(a: AttributeValue, b: AttributeValue) -> bool:
    """Comparable: both booleans, both strings, or both (non-boolean) numbers."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool)
    return isinstance(a, str) == isinstance(b, str)


def _equal(a: AttributeValue, b: AttributeValue) -> bool:
    return _same_kind(a, b) and a == b


_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
}


def matches(spec: Mapping[str, Any], attributes: Attributes | None) -> bool:
    """Whether a file with `attributes` passes a (validated) filter."""
    kind = spec["type"]
    if kind == "and":
        return all(matches(sub, attributes) for sub in spec["filters"])
    if kind == "or":
        return any(matches(sub, attributes) for sub in spec["filters"])
    attrs = attributes or {}
    key, value = spec["key"], spec["value"]
    if key not in attrs or not _is_scalar(attrs[key]):  # a stored null counts as missing
        return kind in ("ne", "nin")
    actual = attrs[key]
    if kind == "eq":
        return _equal(actual, value)
    if kind == "ne":
        return not _equal(actual, value)
    if kind in ("in", "nin"):
        found = any(_equal(actual, v) for v in value)
        return found if kind == "in" else not found
    if isinstance(actual, bool) or not _same_kind(actual, value):
        return False
    return _ORDER[kind](actual, value)


def matching_files(
    spec: Mapping[str, Any], files: Sequence[tuple[str, Attributes | None]]
) -> set[str]:
    """The ids among `(file_id, attributes)` pairs that pass the filter."""
    return {file_id for file_id, attrs in files if matches(spec, attrs)}
