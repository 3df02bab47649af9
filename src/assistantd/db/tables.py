"""Table definitions (SQLAlchemy Core). Alembic migrations are the only path that creates them.

Resource tables are documents: a few indexed columns used for scoping, filtering and paging,
plus `body`, the object's JSON exactly as the API returns it. Every table carries `project`
and every query filters on it.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    false,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

ID = String(64)
PROJECT = String(128)


def _ord() -> Column[str]:
    """The sort key of a listed table: the id for objects made here (ids sort by creation),
    a key made from `created_at` for objects imported with their original ids."""
    return Column("ord", ID, nullable=False)


api_keys = Table(
    "api_keys",
    metadata,
    Column("key_hash", String(64), primary_key=True),
    Column("project", PROJECT, nullable=False),
    Column("name", String(256)),
    Column("created_at", BigInteger, nullable=False),
)

assistants = Table(
    "assistants",
    metadata,
    Column("id", ID, primary_key=True),
    Column("project", PROJECT, nullable=False),
    Column("body", Text, nullable=False),
    _ord(),
    Index(None, "project", "id"),
    Index(None, "project", "ord"),
)

threads = Table(
    "threads",
    metadata,
    Column("id", ID, primary_key=True),
    Column("project", PROJECT, nullable=False),
    Column("body", Text, nullable=False),
    _ord(),
    Index(None, "project", "id"),
    Index(None, "project", "ord"),
)

messages = Table(
    "messages",
    metadata,
    Column("id", ID, primary_key=True),
    Column("project", PROJECT, nullable=False),
    Column("thread_id", ID, ForeignKey("threads.id", ondelete="CASCADE"), nullable=False),
    Column("run_id", ID),
    Column("body", Text, nullable=False),
    _ord(),
    Index(None, "thread_id", "id"),
    Index(None, "thread_id", "ord"),
)

files = Table(
    "files",
    metadata,
    Column("id", ID, primary_key=True),
    Column("project", PROJECT, nullable=False),
    Column("purpose", String(32), nullable=False),
    Column("blob_key", String(256), nullable=False),
    Column("body", Text, nullable=False),
    Column("expires_at", BigInteger),  # `expires_after` on upload; swept when due
    Index(None, "project", "id"),
    Index(None, "expires_at"),
    _ord(),
    Index(None, "project", "purpose", "id"),
    Index(None, "project", "ord"),
    Index(None, "project", "purpose", "ord"),
)

runs = Table(
    "runs",
    metadata,
    Column("id", ID, primary_key=True),
    Column("project", PROJECT, nullable=False),
    Column("thread_id", ID, ForeignKey("threads.id", ondelete="CASCADE"), nullable=False),
    Column("status", String(32), nullable=False),
    Column("expires_at", BigInteger),
    Column("body", Text, nullable=False),
    _ord(),
    Index(None, "thread_id", "id"),
    Index(None, "status"),
    Index(None, "thread_id", "ord"),
)

# A run's lease (PostgreSQL, several nodes): the node executing it, until when (renewed by the
# node's heartbeat), and the attempt number every write of that execution is fenced with.
run_leases = Table(
    "run_leases",
    metadata,
    Column("run_id", ID, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("node", String(128)),
    Column("attempt", Integer, nullable=False),
    Column("expires_at", DateTime(timezone=True)),
    Index(None, "expires_at"),
    Index(None, "node"),
)

run_steps = Table(
    "run_steps",
    metadata,
    Column("id", ID, primary_key=True),
    Column("project", PROJECT, nullable=False),
    Column("thread_id", ID, ForeignKey("threads.id", ondelete="CASCADE"), nullable=False),
    Column("run_id", ID, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("body", Text, nullable=False),
    _ord(),
    Index(None, "run_id", "id"),
    Index(None, "thread_id", "id"),
    Index(None, "run_id", "ord"),
    Index(None, "thread_id", "ord"),
)

vector_stores = Table(
    "vector_stores",
    metadata,
    Column("id", ID, primary_key=True),
    Column("project", PROJECT, nullable=False),
    Column("expires_at", BigInteger),
    Column("body", Text, nullable=False),
    Index(None, "project", "id"),
)

vector_store_files = Table(
    "vector_store_files",
    metadata,
    Column(
        "vector_store_id",
        ID,
        ForeignKey("vector_stores.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("id", ID, primary_key=True),  # the file's id, as OpenAI reports it
    Column("project", PROJECT, nullable=False),
    Column("status", String(32), nullable=False),
    Column("batch_id", ID),
    Column("usage_bytes", BigInteger, nullable=False, default=0),
    Column("body", Text, nullable=False),
    Index(None, "batch_id"),
    Index(None, "status"),
)

vector_store_file_batches = Table(
    "vector_store_file_batches",
    metadata,
    Column("id", ID, primary_key=True),
    Column("project", PROJECT, nullable=False),
    Column(
        "vector_store_id",
        ID,
        ForeignKey("vector_stores.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("body", Text, nullable=False),
)

ITEM_ID = String(128)  # item ids may come from the client (`input=response.output`)

conversations = Table(
    "conversations",
    metadata,
    Column("id", ID, primary_key=True),
    Column("project", PROJECT, nullable=False),
    Column("body", Text, nullable=False),
    _ord(),
    Index(None, "project", "id"),
)

conversation_items = Table(
    "conversation_items",
    metadata,
    Column(
        "conversation_id",
        ID,
        ForeignKey("conversations.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("id", ITEM_ID, primary_key=True),
    Column("project", PROJECT, nullable=False),
    Column("body", Text, nullable=False),
    _ord(),  # insertion order: item ids need not sort (clients may bring their own)
    Index(None, "conversation_id", "ord"),
)

responses = Table(
    "responses",
    metadata,
    Column("id", ID, primary_key=True),
    Column("project", PROJECT, nullable=False),
    Column("status", String(32), nullable=False),
    Column("body", Text, nullable=False),
    Column("input", Text, nullable=False),  # the response's input items, a JSON list
    Index(None, "project", "id"),
)

response_leases = Table(  # as run_leases, for the responses generated on PostgreSQL
    "response_leases",
    metadata,
    Column("response_id", ID, ForeignKey("responses.id", ondelete="CASCADE"), primary_key=True),
    Column("node", String(128)),
    Column("attempt", Integer, nullable=False),
    Column("expires_at", DateTime(timezone=True)),
    Column("cancel", Boolean, nullable=False, server_default=false()),
    Index(None, "expires_at"),
    Index(None, "node"),
)

containers = Table(
    "containers",
    metadata,
    Column("id", ID, primary_key=True),
    Column("project", PROJECT, nullable=False),
    Column("body", Text, nullable=False),
    _ord(),
    Index(None, "project", "ord"),
)

container_files = Table(
    "container_files",
    metadata,
    Column("id", ID, primary_key=True),
    Column("project", PROJECT, nullable=False),
    Column("container_id", ID, ForeignKey("containers.id", ondelete="CASCADE"), nullable=False),
    Column("path", String(1024), nullable=False),
    Column("body", Text, nullable=False),
    _ord(),
    Index(None, "container_id", "ord"),
)
