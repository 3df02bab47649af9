"""Checking the file ids a request names (tool resources, attachments, vector-store files).

Every id must name a file of the caller's project; an id from another project is reported
exactly like one that does not exist.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from assistantd.errors import InvalidRequestError
from assistantd.files import store


async def check_file_ids(
    conn: AsyncConnection, project: str, file_ids: list[str], param: str | list[str]
) -> None:
    """A 400 for the first id that names no file of the project. `param` names each id's
    field: a list (one per id), or a pattern with `{}` for its index (`files[{}].file_id`)."""
    missing = await store.missing_ids(conn, project, file_ids)
    if missing:
        index = file_ids.index(missing[0])
        name = param[index] if isinstance(param, list) else param.replace("{}", str(index))
        raise InvalidRequestError(f"No file found with id '{missing[0]}'.", param=name)
