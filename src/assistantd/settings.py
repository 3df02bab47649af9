"""Settings: one `Settings` object read from the environment (prefix ASSISTANTD_) and `.env`.

Nothing reads the environment anywhere else; `create_app(settings)` and the CLI pass it down.
The parts of the server with several settings have a group each (`settings.database`,
`.upstream`, `.s3`, `.embedding`, `.redis`, `.events`, `.lease`, `.sandbox`); the rest are
top-level. In the environment every setting keeps its flat name: `ASSISTANTD_UPSTREAM_BASE_URL`
is `settings.upstream.base_url` (the first word after the prefix names the group), and
`Settings(upstream_base_url=...)` is accepted the same way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Self

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url

# Unknown names are ignored, as at the top level: the environment may hold other ASSISTANTD_
# variables (docker-compose.nodes.yml's ASSISTANTD_SANDBOX_HOST_DIR, image.py's _CACHE).
_GROUP = ConfigDict(extra="ignore")


def _absolute(value: Path | None) -> Path | None:
    """Every path is made absolute once, here, against the directory the server started in:
    the Docker engine takes only absolute bind paths (a relative one reads as a volume name),
    and nothing later depends on the working directory."""
    return None if value is None else value.expanduser().resolve()


class DatabaseSettings(BaseModel):
    """The database (db/)."""

    model_config = _GROUP

    @field_validator("url")
    @classmethod
    def _absolute_sqlite(cls, value: str | None) -> str | None:
        if value is None or not value.startswith("sqlite"):
            return value
        url = make_url(value)
        if not url.database or url.database == ":memory:" or url.database.startswith("file:"):
            return value
        database = str(Path(url.database).expanduser().resolve())
        return url.set(database=database).render_as_string(hide_password=False)

    url: str | None = None
    """SQLAlchemy async URL; default: SQLite file `assistantd.db` in `data_dir`."""
    pool_size: int | None = Field(default=None, ge=1)
    """Pooled connections, each kept open once opened; default 64 on SQLite, 30 on PostgreSQL."""
    pool_timeout_s: float = Field(default=30.0, gt=0)
    """How long a request waits for a pooled connection before a 503 with Retry-After."""


class UpstreamSettings(BaseModel):
    """The upstream model server (upstream/)."""

    model_config = _GROUP

    base_url: str = "https://api.openai.com/v1"
    api_key: str | None = None
    timeout_s: float = 600.0
    connect_timeout_s: float = 10.0
    max_retries: int = 3


class S3Settings(BaseModel):
    """The S3-compatible bucket of `blob_store=s3` (files/s3.py)."""

    model_config = _GROUP

    bucket: str | None = None
    endpoint_url: str | None = None
    """Unset for AWS; e.g. `http://minio:9000`, a Garage node, or R2's account endpoint."""
    region: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None
    """Unset: boto3's own chain (AWS_* variables, profile, instance role)."""
    prefix: str = ""
    """Put before every key, e.g. `assistantd/`, to share a bucket."""
    addressing_style: Literal["auto", "path", "virtual"] = "auto"
    """`path` for servers without per-bucket host names (MinIO, Garage by default)."""
    create_bucket: bool = False
    """Make the bucket on start when it is missing (handy with a fresh MinIO)."""


class EmbeddingSettings(BaseModel):
    """The file search embedder (file_search/embeddings.py)."""

    model_config = _GROUP

    model: str = "local"
    """`local` (the packaged multilingual model, no network) or an upstream embeddings model."""
    dimensions: int = 1536
    """Vector size of an upstream embeddings model (ignored for `local`)."""


class RedisSettings(BaseModel):
    """Redis, for live events and cancels between processes (events/)."""

    model_config = _GROUP

    url: str | None = None
    """Redis for live events and cancels between processes, e.g. `redis://127.0.0.1:6379/0`.
    Unset: the in-process broker (one process only)."""
    prefix: str = "assistantd:"
    """Prefix of every Redis key and channel (several deployments can share one Redis)."""


class EventsSettings(BaseModel):
    """Run event streams kept in Redis (events/redis_broker.py)."""

    model_config = _GROUP

    ttl_s: int = 600
    """How long a run's stream segment stays readable (resumable) after its last event."""
    maxlen: int = 10_000
    """Events kept per stream segment in Redis (older ones are trimmed)."""


class LeaseSettings(BaseModel):
    """Leases of runs and background responses (PostgreSQL; docs/scaling.md)."""

    model_config = _GROUP

    ttl_s: float = Field(default=10.0, gt=0)
    """A run's lease lasts this long past its node's last heartbeat (PostgreSQL): a node that
    dies has its runs taken over by another that long after."""
    heartbeat_s: float = Field(default=1.0, gt=0)
    """How often a node renews its leases, looks for runs to take over and for cancels."""


class SandboxSettings(BaseModel):
    """The code interpreter's Docker sandbox (tools/code_interpreter)."""

    model_config = _GROUP

    @field_validator("dir")
    @classmethod
    def _absolute_dir(cls, value: Path | None) -> Path | None:
        return _absolute(value)

    enabled: bool = True
    """Run the code interpreter in Docker; off, runs that call it fail with a clear error."""
    docker_url: str = "unix:///var/run/docker.sock"
    image: str = "assistantd-sandbox:latest"
    dir: Path | None = None
    """Host folder of the threads' /mnt/data folders; default `data_dir/sandbox`. The engine
    bind-mounts them by this path, so a server in a container must see them at the same path
    as the engine's host does (see docker-compose.yml)."""
    build: bool = True
    """Build the sandbox image in the background when the engine answers but it is missing."""
    build_wait_s: float = 900.0
    """How long a code call made while the image is being built waits for it."""
    instance: str = "default"
    """Label of this server's containers; on start, leftovers with the same label are removed."""
    pool_size: int = 2
    """Pre-started, pre-imported containers waiting for a thread's first code call."""
    idle_timeout_s: float = 20 * 60
    max_life_s: float = 60 * 60
    reap_interval_s: float = 15.0
    exec_timeout_s: float = 120.0
    kill_grace_s: float = 3.0
    """After a timeout or interrupt, SIGINT first; SIGKILL the kernel this much later."""
    start_timeout_s: float = 30.0
    start_concurrency: int = 4
    memory_bytes: int = 1024**3
    cpus: float = 1.0
    pids_limit: int = 128
    tmp_bytes: int = 64 * 1024**2
    nofile: int = 1024
    max_file_bytes: int = 512 * 1024**2
    """RLIMIT_FSIZE in the container: the largest file user code can write."""
    data_bytes: int = 2 * 1024**3
    """Quota of a thread's /mnt/data; a call that outgrows it loses the files it wrote."""
    max_read_bytes: int = 512 * 1024**2
    uid: int = 10001
    gid: int = 10001
    runtime: str | None = None
    """Optional OCI runtime, e.g. `runsc` (gVisor), registered in the engine's daemon.json."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ASSISTANTD_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        # ASSISTANTD_<GROUP>_<FIELD>: split once, after the group's name
        env_nested_delimiter="_",
        env_nested_max_split=1,
    )

    # -- storage: the data folder and the database (db/) -------------------------------------------
    data_dir: Path = Path("./data")
    database: DatabaseSettings = Field(default_factory=lambda: DatabaseSettings())

    # -- the upstream model server (upstream/) -----------------------------------------------------
    upstream: UpstreamSettings = Field(default_factory=lambda: UpstreamSettings())

    context_windows: dict[str, int] = Field(default_factory=dict)
    """Extra or overriding model context sizes, e.g. `{"llama3.1": 131072}` (JSON in the env)."""

    # -- the API: keys and request limits (auth.py, body.py) ---------------------------------------
    api_keys: str = ""
    """Comma-separated `KEY=PROJECT` entries; a bare `KEY` belongs to project `default`."""

    max_upload_bytes: int = 512 * 1024 * 1024
    max_json_body_bytes: int = 32 * 1024 * 1024

    poll_after_ms: int = 100
    """Sent as `openai-poll-after-ms` so the SDK's pollers ask again soon."""

    # -- runs (runs/, executor/) -------------------------------------------------------------------
    run_expiry_seconds: int = 600
    """A run waiting for tool outputs expires this long after it was created."""

    # -- where file bytes live (files/blobs.py) ----------------------------------------------------
    blob_store: Literal["local", "s3"] = "local"
    """`local`: `data_dir/files` (one node); `s3`: an S3-compatible bucket every node reaches."""

    s3: S3Settings = Field(default_factory=lambda: S3Settings())

    # -- file search (file_search/) ----------------------------------------------------------------
    embedding: EmbeddingSettings = Field(default_factory=lambda: EmbeddingSettings())

    # -- several processes (events/) ---------------------------------------------------------------
    redis: RedisSettings = Field(default_factory=lambda: RedisSettings())
    events: EventsSettings = Field(default_factory=lambda: EventsSettings())

    # -- several processes and nodes (executor/leased.py, docs/scaling.md) -------------------------
    lease: LeaseSettings = Field(default_factory=lambda: LeaseSettings())
    workers: int = Field(default=1, ge=1)
    """Processes `assistantd serve` starts on this machine (more than 1 needs PostgreSQL)."""
    role: Literal["all", "api", "worker"] = "all"
    """`all`: serve the API and execute runs; `api`: serve only (runs go to workers);
    `worker`: execute only (health and metrics stay served). Not `all` needs PostgreSQL."""
    drain_window_s: float = Field(default=20.0, ge=0)
    """On SIGTERM, running runs get this long to finish before they are handed to other nodes
    (one node: failed, as on any stop); new runs are refused with 503 meanwhile."""

    # -- observability (observability/) ------------------------------------------------------------
    metrics: str = "open"
    """`GET /metrics`: `open` (the default), `off`, or `token:SECRET` (needs `Bearer SECRET`)."""
    log_format: Literal["text", "json"] = "text"
    """`text` or `json` (one JSON object a line, each with the request id)."""
    tracing: bool = False
    """Export OpenTelemetry traces; on by itself when an OTLP endpoint is set."""
    otlp_endpoint: str | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "otlp_endpoint", "ASSISTANTD_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"
        ),
    )
    """OTLP/HTTP collector base URL, e.g. `http://127.0.0.1:4318` (spans go to `/v1/traces`)."""
    trace_content: bool = False
    """Put message text into spans (off: only ids, models, sizes and timings)."""

    # -- code-interpreter sandbox (tools/code_interpreter) -----------------------------------------
    sandbox: SandboxSettings = Field(default_factory=lambda: SandboxSettings())

    # -- validation and derived values -------------------------------------------------------------

    @field_validator("metrics")
    @classmethod
    def _metrics_mode(cls, value: str) -> str:
        if value in ("open", "off") or (value.startswith("token:") and len(value) > 6):
            return value
        raise ValueError("ASSISTANTD_METRICS must be `open`, `off` or `token:SECRET`")

    @field_validator("data_dir")
    @classmethod
    def _absolute_data_dir(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @model_validator(mode="before")
    @classmethod
    def _flat_names(cls, data: Any) -> Any:
        """`Settings(upstream_base_url=...)` is `Settings(upstream={"base_url": ...})`, as
        in the environment (where the flat names are split the same way)."""
        if not isinstance(data, dict):
            return data
        folded: dict[str, Any] = {}
        for key, value in data.items():
            group, _, field = key.partition("_")
            if field and group in _GROUPS:
                merged = folded.setdefault(group, dict(data.get(group) or {}))
                merged[field] = value
            elif key not in _GROUPS:
                folded[key] = value
        for group in _GROUPS:
            if group in data and group not in folded:
                folded[group] = data[group]
        return folded

    @model_validator(mode="after")
    def _s3_needs_bucket(self) -> Self:
        if self.blob_store == "s3" and not self.s3.bucket:
            raise ValueError("ASSISTANTD_BLOB_STORE=s3 needs ASSISTANTD_S3_BUCKET")
        return self

    @model_validator(mode="after")
    def _default_sandbox_dir(self) -> Self:
        if self.sandbox.dir is None:
            self.sandbox.dir = self.data_dir / "sandbox"
        return self

    @property
    def effective_database_url(self) -> str:
        if self.database.url:
            return self.database.url
        return f"sqlite+aiosqlite:///{self.data_dir / 'assistantd.db'}"

    @property
    def sandbox_files_dir(self) -> Path:
        """Where each thread's /mnt/data lives on this machine (`sandbox.dir`, made absolute)."""
        assert self.sandbox.dir is not None  # set by _default_sandbox_dir
        return self.sandbox.dir

    def env_api_keys(self) -> dict[str, str]:
        """The configured keys as {key: project}."""
        keys: dict[str, str] = {}
        for entry in self.api_keys.split(","):
            entry = entry.strip()
            if not entry:
                continue
            key, _, project = entry.partition("=")
            keys[key.strip()] = project.strip() or "default"
        return keys


_GROUPS = frozenset(
    name
    for name, field in Settings.model_fields.items()
    if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel)
)
