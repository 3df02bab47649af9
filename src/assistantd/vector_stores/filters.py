"""OpenAI's attribute `filters` for file search, validated and evaluated on file attributes.

Owns the filter grammar: a comparison `{"type": eq|ne|gt|gte|lt|lte|in|nin, "key", "value"}`
or a compound `{"type": and|or, "filters": [...]}` (nested freely), and its evaluation against
one file's `attributes` (string, number or boolean values). Semantics chosen where OpenAI says
nothing: a missing key fails every comparison except `ne`/`nin`; ordering comparisons between a
string and a number fail rather than raise; booleans only compare equal to booleans.
It does not know about SQL: the index evaluates filters per file, then restricts its queries.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

AttributeValue = str | int | float | bool
Attributes = Mapping[str, AttributeValue]

_COMPARISONS = frozenset({"eq", "ne", "gt", "gte", "lt", "lte", "in", "nin"})
_COMPOUNDS = frozenset({"and", "or"})


class FilterError(ValueError):
    """A malformed filter; `param` is a dotted path into the request (e.g. `filters.filters.1`)."""

    def __init__(self, message: str, param: str) -> None:
        super().__init__(message)
        self.param = param


def validate_filter(spec: Any, param: str = "filters") -> None:
    """Raise FilterError unless `spec` is a well-formed comparison or compound filter."""
    if not isinstance(spec, Mapping):
        raise FilterError("A filter must be an object.", param)
    kind = spec.get("type")
    if kind in _COMPOUNDS:
        filters = spec.get("filters")
        if not isinstance(filters, list) or not filters:
            raise FilterError(f"'{kind}' needs a non-empty 'filters' array.", f"{param}.filters")
        for i, sub in enumerate(filters):
            validate_filter(sub, f"{param}.filters.{i}")
    elif kind in _COMPARISONS:
        if not isinstance(spec.get("key"), str):
            raise FilterError("A comparison filter needs a string 'key'.", f"{param}.key")
        value = spec.get("value")
        if kind in ("in", "nin"):
            if not isinstance(value, list) or not all(_is_scalar(v) for v in value):
                raise FilterError(f"'{kind}' needs an array 'value'.", f"{param}.value")
        elif not _is_scalar(value):
            raise FilterError("'value' must be a string, number or boolean.", f"{param}.value")
    else:
        raise FilterError(f"Unknown filter type {kind!r}.", f"{param}.type")


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
    if key not in attrs:
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
