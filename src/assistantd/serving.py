"""`assistantd serve`: uvicorn with a drain on SIGTERM, in one process or `workers` of them.

SIGTERM (or Ctrl-C) first drains: the node stops taking runs, answers new run requests 503
with `Retry-After`, lets running runs finish within `drain_window_s`, then hands the rest to
other nodes (PostgreSQL) or ends them (SQLite), which ends their open streams; only then does
uvicorn's own shutdown run. A second signal stops at once.

With `workers` > 1 (PostgreSQL only) uvicorn's supervisor runs that many processes on one
socket; each is a node of its own (its own leases). Migrations run once, before them, in a
child process (`db/migrate.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import socket
from types import FrameType
from typing import TYPE_CHECKING, Any

import uvicorn
import uvicorn.supervisors.multiprocess as uvicorn_multiprocess

from assistantd.settings import Settings

if TYPE_CHECKING:
    from fastapi import FastAPI

log = logging.getLogger(__name__)

_apps: list[FastAPI] = []  # the app of this process (the server finds its scheduler here)


def app_from_env() -> FastAPI:
    """The app factory of worker processes: settings from the environment; the parent
    migrated already."""
    from assistantd.app import create_app

    app = create_app(Settings(), migrate=False)
    _apps.append(app)
    return app


class DrainingServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, drain_window_s: float) -> None:
        super().__init__(config)
        self._drain_window_s = drain_window_s
        self._drain: asyncio.Task[None] | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        freeze_startup_heap()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        # Open event streams end first (runs still streaming were drained or handed over):
        # uvicorn would otherwise wait for them until its graceful-shutdown timeout.
        from assistantd.responses import stop_streams

        stopped = stop_streams()
        if stopped:
            log.info("shutting down: %d open event streams closed", stopped)
        await super().shutdown(sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        services = getattr(_apps[-1].state, "services", None) if _apps else None
        scheduler = None if services is None else services.scheduler
        if self._drain is not None or self.should_exit or scheduler is None:
            super().handle_exit(sig, frame)  # a second signal, or nothing to drain: stop now
            return
        loop = asyncio.get_event_loop()
        loop.call_soon_threadsafe(self._start_drain, scheduler, sig, frame)

    def _start_drain(self, scheduler: Any, sig: int, frame: FrameType | None) -> None:
        if self._drain is None:
            self._drain = asyncio.get_running_loop().create_task(
                self._drain_then_exit(scheduler, sig, frame)
            )

    async def _drain_then_exit(self, scheduler: Any, sig: int, frame: FrameType | None) -> None:
        running, window = scheduler.in_flight(), self._drain_window_s
        log.info("draining: no new runs; %d running get %.0f s to finish", running, window)
        with contextlib.suppress(Exception):
            await scheduler.drain(self._drain_window_s)
        with contextlib.suppress(Exception):
            await scheduler.stop()  # what is left: handed over (or ended); its streams close
        super().handle_exit(sig, frame)


def freeze_startup_heap() -> None:
    """Move what start-up made (modules, classes, the app and its services: ~200k objects,
    alive as long as the process) out of the collector's sight: a full collection no longer
    walks them (~100 ms of CPU each on the development machine, with every stream stopped).
    Collected first, so start-up's own garbage is not kept for good."""
    gc.collect()
    gc.freeze()


def serve(settings: Settings, host: str, port: int, log_level: str) -> int:
    from assistantd.db.migrate import MigrationError, upgrade_in_child

    # Before the app (whose start would otherwise migrate in this process), and once for all
    # the workers: alembic stays out of the processes that serve.
    try:
        asyncio.run(upgrade_in_child(settings.effective_database_url))
    except MigrationError as error:
        log.error("not serving: %s", error)
        return 1
    json_logs = settings.log_format == "json"
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": log_level,
        "timeout_graceful_shutdown": 10,
        # JSON: uvicorn's loggers go through ours, and the app writes the access lines
        # (with the request id); text: uvicorn's own format and access log, as before.
        "log_config": None if json_logs else uvicorn.config.LOGGING_CONFIG,
        "access_log": not json_logs,
    }
    if settings.workers == 1:
        from assistantd.app import create_app  # not in the supervisor of workers: it serves none

        app = create_app(settings, migrate=False)
        _apps.append(app)
        DrainingServer(uvicorn.Config(app, **options), settings.drain_window_s).run()
        return 0
    config = uvicorn.Config(
        "assistantd.serving:app_from_env",
        factory=True,
        workers=settings.workers,
        # The supervisor kills a worker that does not answer its ping in time. A starting
        # worker (imports, the tokenizer's build) can miss uvicorn's 5 s on a loaded machine
        # and was then killed and restarted over and over; a hung one is still replaced.
        timeout_worker_healthcheck=30,
        **options,
    )
    # uvicorn's supervisor makes its worker processes' servers in `Process.server`: ours drain.
    uvicorn_multiprocess.Process = _DrainingProcess  # type: ignore[misc]
    uvicorn_multiprocess.Multiprocess(config, sockets=[config.bind_socket()]).run()
    return 0


class _DrainingProcess(uvicorn_multiprocess.Process):
    """A worker process of uvicorn's supervisor whose server drains on SIGTERM."""

    @property
    def server(self) -> uvicorn.Server:
        if self._server is None:
            self._server = DrainingServer(self.config, Settings().drain_window_s)
        return self._server
