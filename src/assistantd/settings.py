"""Settings: one `Settings` object read from the environment (prefix ASSISTANTD_) and `.env`.

Nothing reads the environment anywhere else; `create_app(settings)` and the CLI pass it down.
The fields are grouped in sections, one per part of the server that reads them (storage, the
upstream model, the API, runs, file bytes, file search, several processes and nodes,
observability, the sandbox); each keeps its flat name, `ASSISTANTD_<FIELD>` in the environment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Self

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ASSISTANTD_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    # -- storage: the data folder and the database (db/) -------------------------------------------
    data_dir: Path = Path("./data")
    database_url: str | None = None
    """SQLAlchemy async URL; default: SQLite file `assistantd.db` in `data_dir`."""
    database_pool_size: int | None = Field(default=None, ge=1)
    """Pooled connections; default 64 on SQLite, 30 on PostgreSQL (10 kept open, 20 more)."""
    database_pool_timeout_s: float = Field(default=30.0, gt=0)
    """How long a request waits for a pooled connection before a 503 with Retry-After."""

    # -- the upstream model server (upstream/) -----------------------------------------------------
    upstream_base_url: str = "https://api.openai.com/v1"
    upstream_api_key: str | None = None
    upstream_timeout_s: float = 600.0
    upstream_connect_timeout_s: float = 10.0
    upstream_max_retries: int = 3

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
    s3_bucket: str | None = None
    s3_endpoint_url: str | None = None
    """Unset for AWS; e.g. `http://minio:9000`, a Garage node, or R2's account endpoint."""
    s3_region: str | None = None
    s3_access_key_id: str | None = None
    s3_secret_access_key: str | None = None
    """Unset: boto3's own chain (AWS_* variables, profile, instance role)."""
    s3_prefix: str = ""
    """Put before every key, e.g. `assistantd/`, to share a bucket."""
    s3_addressing_style: Literal["auto", "path", "virtual"] = "auto"
    """`path` for servers without per-bucket host names (MinIO, Garage by default)."""
    s3_create_bucket: bool = False
    """Make the bucket on start when it is missing (handy with a fresh MinIO)."""

    # -- file search (file_search/) ----------------------------------------------------------------
    embedding_model: str = "local"
    """`local` (the packaged multilingual model, no network) or an upstream embeddings model."""
    embedding_dimensions: int = 1536
    """Vector size of an upstream embeddings model (ignored for `local`)."""

    # -- several processes (events/) ---------------------------------------------------------------
    redis_url: str | None = None
    """Redis for live events and cancels between processes, e.g. `redis://127.0.0.1:6379/0`.
    Unset: the in-process broker (one process only)."""
    redis_prefix: str = "assistantd:"
    """Prefix of every Redis key and channel (several deployments can share one Redis)."""
    events_ttl_s: int = 600
    """How long a run's stream segment stays readable (resumable) after its last event."""
    events_maxlen: int = 10_000
    """Events kept per stream segment in Redis (older ones are trimmed)."""

    # -- several processes and nodes (executor/leased.py, docs/scaling.md) -------------------------
    workers: int = Field(default=1, ge=1)
    """Processes `assistantd serve` starts on this machine (more than 1 needs PostgreSQL)."""
    role: Literal["all", "api", "worker"] = "all"
    """`all`: serve the API and execute runs; `api`: serve only (runs go to workers);
    `worker`: execute only (health and metrics stay served). Not `all` needs PostgreSQL."""
    lease_ttl_s: float = Field(default=10.0, gt=0)
    """A run's lease lasts this long past its node's last heartbeat (PostgreSQL): a node that
    dies has its runs taken over by another that long after."""
    lease_heartbeat_s: float = Field(default=1.0, gt=0)
    """How often a node renews its leases, looks for runs to take over and for cancels."""
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
    sandbox_enabled: bool = True
    """Run the code interpreter in Docker; off, runs that call it fail with a clear error."""
    sandbox_docker_url: str = "unix:///var/run/docker.sock"
    sandbox_image: str = "assistantd-sandbox:latest"
    sandbox_dir: Path | None = None
    """Host folder of the threads' /mnt/data folders; default `data_dir/sandbox`. The engine
    bind-mounts them by this path, so a server in a container must see them at the same path
    as the engine's host does (see docker-compose.yml)."""
    sandbox_build: bool = True
    """Build the sandbox image in the background when the engine answers but it is missing."""
    sandbox_build_wait_s: float = 900.0
    """How long a code call made while the image is being built waits for it."""
    sandbox_instance: str = "default"
    """Label of this server's containers; on start, leftovers with the same label are removed."""
    sandbox_pool_size: int = 2
    """Pre-started, pre-imported containers waiting for a thread's first code call."""
    sandbox_idle_timeout_s: float = 20 * 60
    sandbox_max_life_s: float = 60 * 60
    sandbox_reap_interval_s: float = 15.0
    sandbox_exec_timeout_s: float = 120.0
    sandbox_kill_grace_s: float = 3.0
    """After a timeout or interrupt, SIGINT first; SIGKILL the kernel this much later."""
    sandbox_start_timeout_s: float = 30.0
    sandbox_start_concurrency: int = 4
    sandbox_memory_bytes: int = 1024**3
    sandbox_cpus: float = 1.0
    sandbox_pids_limit: int = 128
    sandbox_tmp_bytes: int = 64 * 1024**2
    sandbox_nofile: int = 1024
    sandbox_max_file_bytes: int = 512 * 1024**2
    """RLIMIT_FSIZE in the container: the largest file user code can write."""
    sandbox_data_bytes: int = 2 * 1024**3
    """Quota of a thread's /mnt/data; a call that outgrows it loses the files it wrote."""
    sandbox_max_read_bytes: int = 512 * 1024**2
    sandbox_uid: int = 10001
    sandbox_gid: int = 10001
    sandbox_runtime: str | None = None
    """Optional OCI runtime, e.g. `runsc` (gVisor), registered in the engine's daemon.json."""

    # -- validation and derived values -------------------------------------------------------------

    @field_validator("metrics")
    @classmethod
    def _metrics_mode(cls, value: str) -> str:
        if value in ("open", "off") or (value.startswith("token:") and len(value) > 6):
            return value
        raise ValueError("ASSISTANTD_METRICS must be `open`, `off` or `token:SECRET`")

    @field_validator("data_dir", "sandbox_dir")
    @classmethod
    def _absolute(cls, value: Path | None) -> Path | None:
        """Every path is made absolute once, here, against the directory the server started in:
        the Docker engine takes only absolute bind paths (a relative one reads as a volume name),
        and nothing later depends on the working directory."""
        return None if value is None else value.expanduser().resolve()

    @field_validator("database_url")
    @classmethod
    def _absolute_sqlite(cls, value: str | None) -> str | None:
        if value is None or not value.startswith("sqlite"):
            return value
        url = make_url(value)
        if not url.database or url.database == ":memory:" or url.database.startswith("file:"):
            return value
        database = str(Path(url.database).expanduser().resolve())
        return url.set(database=database).render_as_string(hide_password=False)

    @model_validator(mode="after")
    def _s3_needs_bucket(self) -> Self:
        if self.blob_store == "s3" and not self.s3_bucket:
            raise ValueError("ASSISTANTD_BLOB_STORE=s3 needs ASSISTANTD_S3_BUCKET")
        return self

    @model_validator(mode="after")
    def _default_sandbox_dir(self) -> Self:
        if self.sandbox_dir is None:
            self.sandbox_dir = self.data_dir / "sandbox"
        return self

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data_dir / 'assistantd.db'}"

    @property
    def sandbox_files_dir(self) -> Path:
        """Where each thread's /mnt/data lives on this machine (`sandbox_dir`, made absolute)."""
        assert self.sandbox_dir is not None  # set by _default_sandbox_dir
        return self.sandbox_dir

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
