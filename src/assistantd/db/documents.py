"""Queries shared by the document tables (id, project, body, plus indexed columns).

Stores call these with their table, their schema class and equality filters on indexed columns
(`thread_id=...`); this is the only place the paging and project-scoping SQL is written.
Objects go in and come out as API schemas.

The statements of a single object (insert, read, update, patch, delete) and `select_rows` run
straight on the driver connection, in the transaction SQLAlchemy opened (db/direct.py):
building and executing a SQLAlchemy statement costs several times the indexed query itself,
and requests make several. The SQL is the same text SQLAlchemy would send. Pages go through
SQLAlchemy Core on PostgreSQL.
"""

from __future__ import annotations

import functools
import logging
import sqlite3
import typing
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

import orjson
from pydantic import BaseModel, ValidationError
from sqlalchemy import JSON, Table, cast, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from assistantd.db import direct as db_direct
from assistantd.pagination import PageParams
from assistantd.schemas import Page

M = TypeVar("M", bound=BaseModel)

log = logging.getLogger(__name__)


def load(model: type[M], body: str | bytes, where: str = "") -> M | None:
    """A stored object, or None (logged) if its row no longer reads as `model`: one broken row
    (say, written by an older version that let a bad value in) must not fail a list, a sweep,
    the start-up or another project; it is skipped wherever objects are read."""
    try:
        return model.model_validate_json(body)
    except (ValidationError, ValueError) as error:
        log.error("skipping an unreadable stored %s %s: %s", model.__name__, where, error)
        return None


class Document(Protocol):
    """What a stored object is: a model with an id."""

    @property
    def id(self) -> str: ...

    def model_dump_json(self) -> str: ...


def load_all(model: type[M], bodies: Sequence[str | bytes], where: str = "") -> list[M]:
    """`load` for many rows, without the unreadable ones."""
    return [obj for obj in (load(model, body, where) for body in bodies) if obj is not None]


@functools.cache
def _page_class(model: type[M]) -> type[Page[M]]:
    """Page[model], made once: pydantic's own generic lookup costs ~0.3 ms a call."""
    # Page[model] spelled as the call it is: mypy takes a subscript by a variable for a type
    return typing.cast(type[Page[M]], Page.__class_getitem__(model))


def sqlite_connection(conn: AsyncConnection) -> sqlite3.Connection | None:
    """The raw sqlite3 connection under `conn` (None on other databases)."""
    return db_direct.sqlite_connection(conn)


def _where(names: Sequence[str]) -> str:
    return " AND ".join(f"{name} = ?" for name in names)


async def insert_doc(
    conn: AsyncConnection, table: Table, project: str, obj: Document, **columns: Any
) -> None:
    values = {"id": obj.id, "project": project, "body": obj.model_dump_json(), **columns}
    if "ord" in table.c and "ord" not in values:
        values["ord"] = values["id"]  # our ids sort by creation (see tables._ord)
    if not db_direct.direct(conn):
        await conn.execute(insert(table).values(**values))
        return
    names = ", ".join(values)
    marks = ", ".join("?" for _ in values)
    sql = f"INSERT INTO {table.name} ({names}) VALUES ({marks})"
    await db_direct.execute(conn, sql, tuple(values.values()))


async def upsert_doc(
    conn: AsyncConnection, table: Table, project: str, obj: Document, **columns: Any
) -> None:
    """Insert the object, or replace the body of the one stored with its id (in `project`):
    one statement where the database takes it, else an update and, if it found nothing, an
    insert (what the writers of a growing message or step did before)."""
    if not db_direct.direct(conn):
        query = update(table).where(table.c.id == obj.id).values(body=obj.model_dump_json())
        if not (await conn.execute(query.where(table.c.project == project))).rowcount:
            await insert_doc(conn, table, project, obj, **columns)
        return
    values = {"id": obj.id, "project": project, "body": obj.model_dump_json(), **columns}
    if "ord" in table.c and "ord" not in values:
        values["ord"] = values["id"]
    names = ", ".join(values)
    marks = ", ".join("?" for _ in values)
    sql = (
        f"INSERT INTO {table.name} ({names}) VALUES ({marks}) ON CONFLICT (id) DO UPDATE "
        f"SET body = excluded.body WHERE {table.name}.project = excluded.project"
    )
    await db_direct.execute(conn, sql, tuple(values.values()))


async def get_doc(
    conn: AsyncConnection,
    table: Table,
    project: str,
    object_id: str,
    model: type[M],
    **filters: str,
) -> M | None:
    where = {"id": object_id, "project": project, **filters}
    if not db_direct.direct(conn):
        query = select(table.c.body).where(*(table.c[k] == v for k, v in where.items()))
        body = (await conn.execute(query)).scalar_one_or_none()
    else:
        sql = f"SELECT body FROM {table.name} WHERE {_where(list(where))}"
        found = await db_direct.rows(conn, sql, tuple(where.values()))
        body = found[0][0] if found else None
    return None if body is None else load(model, body, f"{table.name}:{object_id}")


async def update_doc(
    conn: AsyncConnection, table: Table, project: str, obj: Document, **columns: Any
) -> bool:
    """Replace the stored object; False if there was none."""
    values = {"body": obj.model_dump_json(), **columns}
    object_id = obj.id
    if not db_direct.direct(conn):
        query = (
            update(table)
            .where(table.c.id == object_id, table.c.project == project)
            .values(**values)
        )
        return bool((await conn.execute(query)).rowcount)
    sets = ", ".join(f"{name} = ?" for name in values)
    sql = f"UPDATE {table.name} SET {sets} WHERE id = ? AND project = ?"
    return bool(await db_direct.execute(conn, sql, (*values.values(), object_id, project)))


def changed(old: BaseModel, new: BaseModel) -> dict[str, Any]:
    """The fields of `new` that differ from `old` (what a writer changed)."""
    return {
        name: getattr(new, name)
        for name in type(new).model_fields
        if getattr(old, name) != getattr(new, name)
    }


async def patch_doc(
    conn: AsyncConnection,
    table: Table,
    object_id: str,
    model: type[M],
    changes: dict[str, Any],
    *,
    expect: dict[str, Any] | None = None,
    read: M | None = None,
    **columns: Callable[[M], Any],
) -> M | None:
    """Compare-and-set on what a writer changes: set only `changes` on the stored object, and
    only if its fields still hold `expect`; None (nothing written) otherwise. Other fields keep
    whatever another writer stored meanwhile. The row is locked while it is read (PostgreSQL;
    SQLite's writes are serialised already). `columns` derive indexed columns from the result.

    `read`: the object as this writer last read or wrote it. While the stored body is still
    exactly that one's, nobody changed anything meanwhile, so the result is `read` with
    `changes`: one UPDATE on that condition writes it, without reading the row first (a round
    trip and a parse fewer). Only if it changed meanwhile is the row read as above.
    """
    fast = db_direct.direct(conn)
    if fast and read is not None and _holds(read, expect):
        merged = read.model_copy(update=changes)
        values = {"body": merged.model_dump_json(), **{k: f(merged) for k, f in columns.items()}}
        sets = ", ".join(f"{name} = ?" for name in values)
        sql = f"UPDATE {table.name} SET {sets} WHERE id = ? AND body = ?"
        args = (*values.values(), object_id, read.model_dump_json())
        if await db_direct.execute(conn, sql, args) == 1:
            return merged
    if not fast:
        query = select(table.c.body).where(table.c.id == object_id).with_for_update()
        body = (await conn.execute(query)).scalar_one_or_none()
    else:  # SQLite's writes are serialised: no row lock there
        lock = "" if sqlite_connection(conn) is not None else " FOR UPDATE"
        sql = f"SELECT body FROM {table.name} WHERE id = ?{lock}"
        found = await db_direct.rows(conn, sql, (object_id,))
        body = found[0][0] if found else None
    current = None if body is None else load(model, body, object_id)
    if current is None:
        return None
    if not _holds(current, expect):
        return None
    merged = current.model_copy(update=changes)
    values = {"body": merged.model_dump_json(), **{k: f(merged) for k, f in columns.items()}}
    if not fast:
        await conn.execute(update(table).where(table.c.id == object_id).values(**values))
    else:
        sets = ", ".join(f"{name} = ?" for name in values)
        sql = f"UPDATE {table.name} SET {sets} WHERE id = ?"
        await db_direct.execute(conn, sql, (*values.values(), object_id))
    return merged


def _holds(obj: BaseModel, expect: dict[str, Any] | None) -> bool:
    return all(getattr(obj, name) == value for name, value in (expect or {}).items())


async def select_rows(
    conn: AsyncConnection,
    table: Table,
    columns: Sequence[str],
    *,
    order_by: str | None = None,
    **filters: str,
) -> list[tuple[Any, ...]]:
    """`columns` of the rows where every filter holds (equality), in `order_by` order."""
    if not db_direct.direct(conn):
        query = select(*(table.c[name] for name in columns)).where(
            *(table.c[key] == value for key, value in filters.items())
        )
        if order_by is not None:
            query = query.order_by(table.c[order_by])
        return [tuple(row) for row in await conn.execute(query)]
    sql = f"SELECT {', '.join(columns)} FROM {table.name} WHERE {_where(list(filters))}"
    if order_by is not None:
        sql += f" ORDER BY {order_by}"
    return [tuple(row) for row in await db_direct.rows(conn, sql, tuple(filters.values()))]


async def delete_doc(
    conn: AsyncConnection, table: Table, project: str, object_id: str, **filters: str
) -> bool:
    where = {"id": object_id, "project": project, **filters}
    if not db_direct.direct(conn):
        query = delete(table).where(*(table.c[k] == v for k, v in where.items()))
        return bool((await conn.execute(query)).rowcount)
    sql = f"DELETE FROM {table.name} WHERE {_where(list(where))}"
    return bool(await db_direct.execute(conn, sql, tuple(where.values())))


async def page_docs(
    conn: AsyncConnection,
    table: Table,
    project: str,
    params: PageParams,
    model: type[M],
    **filters: str,
) -> Page[M]:
    """One page of `table` rows of `project` matching `filters`, ordered and cut by the sort key."""
    rows, first_id, last_id, has_more = await _page_rows(conn, table, project, params, filters)
    return _page_class(model)(
        data=load_all(model, [body for _, body in rows], table.name),
        first_id=first_id,
        last_id=last_id,
        has_more=has_more,
    )


class RawPage:
    """A page whose objects are served as stored: each body already is the object's JSON, so
    a list skips parsing and re-serialising every object. Renders like `Page`."""

    def __init__(
        self, bodies: list[str], first_id: str | None, last_id: str | None, has_more: bool
    ) -> None:
        self.bodies = bodies
        self.first_id = first_id
        self.last_id = last_id
        self.has_more = has_more

    def model_dump_json(self) -> str:
        head = orjson.dumps({"object": "list"}).decode()[:-1]
        tail = orjson.dumps(
            {"first_id": self.first_id, "last_id": self.last_id, "has_more": self.has_more}
        ).decode()[1:]
        return f'{head},"data":[{",".join(self.bodies)}],{tail}'


async def page_raw(
    conn: AsyncConnection, table: Table, project: str, params: PageParams, **filters: str
) -> RawPage:
    """Like `page_docs`, for objects that are shown exactly as stored."""
    rows = await _page_rows(conn, table, project, params, filters)
    return RawPage([body for _, body in rows[0]], *rows[1:])


async def page_raw_by_metadata(
    conn: AsyncConnection, table: Table, project: str, params: PageParams, metadata: dict[str, str]
) -> RawPage:
    """Like `page_raw`, keeping only objects whose metadata has each key with its value."""
    rows = await _page_rows(conn, table, project, params, {}, metadata)
    return RawPage([body for _, body in rows[0]], *rows[1:])


def _sort_column(table: Table) -> str:
    return "ord" if "ord" in table.c else "id"


async def _page_rows(
    conn: AsyncConnection,
    table: Table,
    project: str,
    params: PageParams,
    filters: dict[str, str],
    metadata: dict[str, str] | None = None,
) -> tuple[list[tuple[str, str]], str | None, str | None, bool]:
    ascending = params.order == "asc"
    # With only `before`, the page is the `limit` objects nearest to the cursor: scan backwards.
    backwards = params.before is not None and params.after is None
    conditions: list[tuple[str, str, str]] = [("project", "=", project)]
    conditions += [(name, "=", value) for name, value in filters.items()]
    if params.after:
        conditions.append(("cursor", ">" if ascending else "<", params.after))
    if params.before:
        conditions.append(("cursor", "<" if ascending else ">", params.before))
    rows = await _select_page(
        conn, table, conditions, ascending != backwards, params.limit + 1, metadata or {}
    )
    has_more = len(rows) > params.limit
    rows = rows[: params.limit]
    if backwards:
        rows.reverse()
    first, last = (rows[0][0], rows[-1][0]) if rows else (None, None)
    return rows, first, last, has_more


async def _select_page(
    conn: AsyncConnection,
    table: Table,
    conditions: list[tuple[str, str, str]],
    ascending: bool,
    limit: int,
    metadata: dict[str, str],
) -> list[tuple[str, str]]:
    """Rows ordered by the table's sort column. A `cursor` condition compares with the sort key
    of the object it names (in the same project), or with the id itself when there is none (a
    deleted object's id is still a position). `metadata` filters on the body's metadata."""
    sort = _sort_column(table)
    project = conditions[0][2]
    # The cursor is looked up within the same scope (ids are unique per conversation only).
    equal = [condition for condition in conditions if condition[1] == "="]
    raw = sqlite_connection(conn)
    if raw is None:
        ops = {"=": "__eq__", "<": "__lt__", ">": "__gt__"}
        clauses = []
        for name, op, value in conditions:
            if name == "cursor":
                scope = [table.c[k] == v for k, _, v in equal if k != "project"]
                position = (
                    select(table.c[sort])
                    .where(table.c.id == value, table.c.project == project, *scope)
                    .scalar_subquery()
                )
                clauses.append(getattr(table.c[sort], ops[op])(func.coalesce(position, value)))
            else:
                clauses.append(getattr(table.c[name], ops[op])(value))
        for meta_key, meta_value in metadata.items():
            path = ("metadata", meta_key)
            clauses.append(cast(table.c.body, JSON)[path].as_string() == meta_value)
        query = select(table.c.id, table.c.body).where(*clauses)
        order = table.c[sort].asc() if ascending else table.c[sort].desc()
        return [
            (row.id, row.body) for row in await conn.execute(query.order_by(order).limit(limit))
        ]
    parts: list[str] = []
    args: list[str | int] = []
    for name, op, value in conditions:
        if name == "cursor":
            pairs = [(k, v) for k, _, v in equal if k != "project"]
            extra = "".join(f" AND {k} = ?" for k, _ in pairs)
            parts.append(
                f"{sort} {op} COALESCE((SELECT {sort} FROM {table.name} "
                f"WHERE id = ? AND project = ?{extra}), ?)"
            )
            args += [value, project, *(v for _, v in pairs), value]
        else:
            parts.append(f"{name} {op} ?")
            args.append(value)
    for key, value in metadata.items():
        parts.append("json_extract(body, ?) = ?")
        args += ['$.metadata."' + key.replace('"', '""') + '"', value]
    sql = (
        f"SELECT id, body FROM {table.name} WHERE {' AND '.join(parts)} "
        f"ORDER BY {sort} {'ASC' if ascending else 'DESC'} LIMIT ?"
    )
    return list(raw.execute(sql, (*args, limit)).fetchall())
