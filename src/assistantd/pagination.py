"""Cursor pagination shared by every list endpoint.

Ids sort in creation order (see ids.py), so a page is a range scan on the id: `after`/`before`
are exclusive cursors compared to the id, whatever the object they name (an id from another
project or a deleted object is just a position). An empty `after=` is treated as absent, as the
3.x SDK sends it that way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Query

from assistantd.errors import InvalidRequestError


@dataclass(frozen=True, slots=True)
class PageParams:
    limit: int
    order: Literal["asc", "desc"]
    after: str | None
    before: str | None


def _check_limit(limit: int, maximum: int) -> int:
    if limit < 1:
        raise InvalidRequestError(
            f"Invalid 'limit': integer below minimum value. Expected a value >= 1, but got "
            f"{limit} instead.",
            param="limit",
            code="integer_below_min_value",
        )
    if limit > maximum:
        raise InvalidRequestError(
            f"Invalid 'limit': integer above maximum value. Expected a value <= {maximum}, but "
            f"got {limit} instead.",
            param="limit",
            code="integer_above_max_value",
        )
    return limit


async def page_params(
    limit: Annotated[int, Query()] = 20,
    order: Annotated[Literal["asc", "desc"], Query()] = "desc",
    after: Annotated[str | None, Query()] = None,
    before: Annotated[str | None, Query()] = None,
) -> PageParams:
    """FastAPI dependency for `limit` (1-100), `order`, `after`, `before`."""
    return PageParams(_check_limit(limit, 100), order, after or None, before or None)


async def file_page_params(
    limit: Annotated[int, Query()] = 10_000,
    order: Annotated[Literal["asc", "desc"], Query()] = "desc",
    after: Annotated[str | None, Query()] = None,
) -> PageParams:
    """`GET /files` pages differently: limit 1-10,000 (default 10,000) and no `before`."""
    return PageParams(_check_limit(limit, 10_000), order, after or None, None)
