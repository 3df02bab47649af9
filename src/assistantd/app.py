"""The composition root: `create_app(settings)` wires the routers (v2, and the v1 shapes behind
`V1Router`), the middleware (request ids, metrics, body limits), the error handlers, the health
checks and the lifespan, which builds and later closes, in reverse, everything a request or a
run uses: the database (after migrations), blobs, the event broker, the upstream client, the
sandbox and the tool runners, file-search ingestion, the run executor and its scheduler, and the
authenticator. Tests inject the upstream transport, a sandbox or a span exporter here."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import httpx
import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from opentelemetry.sdk.trace.export import SpanExporter
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException
from starlette.responses import Response

from assistantd import __version__, tokens
from assistantd.assistants.router import router as assistants_router
from assistantd.auth import Authenticator
from assistantd.console.router import add_console
from assistantd.containers import service as containers_service
from assistantd.containers.router import router as containers_router
from assistantd.conversations.router import router as conversations_router
from assistantd.db.engine import Database, cut_off
from assistantd.db.migrate import upgrade_async
from assistantd.effects import Outbox
from assistantd.errors import (
    APIError,
    DatabaseUnavailableError,
    InvalidRequestError,
    MethodNotAllowedError,
    NotFoundError,
    ServerError,
)
from assistantd.events.backend import make_events
from assistantd.events.broker import Broker
from assistantd.executor.leased import LeasedScheduler
from assistantd.executor.loop import RunExecutor
from assistantd.executor.scheduler import Scheduler
from assistantd.file_search.embeddings import make_embedder
from assistantd.file_search.engine import FileSearchEngine
from assistantd.file_search.sqlite_extensions import (
    install_sqlite_extensions,
    register_sqlite_extensions,
)
from assistantd.files import service as files_service
from assistantd.files.blobs import make_blob_store
from assistantd.files.router import router as files_router
from assistantd.limits import BodyLimit, BodyTooLarge, too_large_error
from assistantd.messages.router import router as messages_router
from assistantd.models.router import router as models_router
from assistantd.models.service import ModelCatalog
from assistantd.observability import Metrics, Telemetry
from assistantd.observability.dumps import install_signal_dump
from assistantd.observability.endpoint import add_metrics_route
from assistantd.observability.middleware import Observe
from assistantd.observability.tracing import make_tracing
from assistantd.relay.router import router as relay_router
from assistantd.responses_api import background as responses_background
from assistantd.responses_api import takeover as responses_takeover
from assistantd.responses_api.durable import Durable
from assistantd.responses_api.router import router as responses_router
from assistantd.run_steps.router import router as run_steps_router
from assistantd.runs.router import router as runs_router
from assistantd.services import AppServices, Services, get_services
from assistantd.settings import Settings
from assistantd.threads.router import router as threads_router
from assistantd.tools.base import ToolRunner
from assistantd.tools.code_interpreter.follow import SessionManifests
from assistantd.tools.code_interpreter.runner import CodeInterpreterRunner
from assistantd.tools.code_interpreter.sandbox import DockerSandbox, Sandbox
from assistantd.tools.file_search import FileSearchRunner
from assistantd.upstream import UpstreamClient
from assistantd.v1.assistants_router import router as v1_assistants_router
from assistantd.v1.middleware import PREFIX as V1_PREFIX
from assistantd.v1.middleware import V1Router, public_path
from assistantd.v1.runs_router import router as v1_runs_router
from assistantd.v1.threads_router import router as v1_threads_router
from assistantd.validation import to_api_error
from assistantd.vector_stores import service as vector_stores_service
from assistantd.vector_stores.ingestion import Ingestor
from assistantd.vector_stores.router import router as vector_stores_router

log = logging.getLogger("assistantd")

API_PREFIX = "/v1"


def create_app(
    settings: Settings,
    *,
    migrate: bool = True,
    upstream_transport: httpx.AsyncBaseTransport | None = None,
    sandbox_factory: Callable[[Settings], Sandbox] = DockerSandbox,
    span_exporter: SpanExporter | None = None,
) -> FastAPI:
    metrics = Metrics() if settings.metrics != "off" else None
    telemetry = Telemetry(metrics, make_tracing(settings, span_exporter))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        if threading.current_thread() is threading.main_thread():  # signals are the main's
            install_signal_dump(asyncio.get_running_loop())  # kill -USR1: stacks on stderr
        await asyncio.to_thread(tokens.preload)  # not on the loop during the first run
        if migrate:
            await upgrade_async(settings.effective_database_url)
        register_sqlite_extensions()  # sqlite-vec for file search, before any connection opens
        db = Database(
            settings.effective_database_url,
            pool_size=settings.database.pool_size,
            pool_timeout_s=settings.database.pool_timeout_s,
        )
        install_sqlite_extensions(db.engine)
        blobs = make_blob_store(settings)
        await blobs.start()  # a wrong bucket or endpoint stops the start, saying why
        manifests = SessionManifests(blobs)  # this server's name in the /mnt/data manifests
        broker, cancels = make_events(settings)
        await broker.start()
        upstream = UpstreamClient(settings, transport=upstream_transport, metrics=metrics)
        sandbox = sandbox_factory(settings) if settings.sandbox.enabled else None
        runners: dict[str, ToolRunner] = {}
        if sandbox is not None:
            await sandbox.start()  # never raises for a missing engine: status() says why
            runners["code_interpreter"] = CodeInterpreterRunner(
                settings, sandbox, db, blobs, manifests=manifests, metrics=metrics
            )
        file_search = FileSearchEngine(db, make_embedder(settings))
        ingestor = Ingestor(db, blobs, file_search, metrics=metrics)
        runners["file_search"] = FileSearchRunner(db, file_search, telemetry=telemetry)
        executor = RunExecutor(settings, db, broker, upstream, blobs, runners, telemetry=telemetry)
        scheduler = _scheduler(settings, db, broker, executor)
        lag_watch = None
        if metrics is not None:
            _add_gauges(metrics, scheduler, ingestor, sandbox)
            if broker.shared:  # redis is imported only by a process that uses it
                from assistantd.events.redis_broker import RedisBroker

                assert isinstance(broker, RedisBroker)
                redis_broker = broker
                metrics.gauge(
                    "events_buffered",
                    "Stream events waiting to be flushed to Redis.",
                    lambda: redis_broker.buffered,
                )
                metrics.gauge(
                    "events_dropped",
                    "Stream events given up since start (Redis slow or unreachable).",
                    lambda: redis_broker.dropped,
                )
            lag_watch = asyncio.create_task(metrics.watch_loop_lag(), name="loop-lag")
        file_holders = (vector_stores_service.forget_file,)
        services = Services(
            settings=settings,
            db=db,
            blobs=blobs,
            manifests=manifests,
            broker=broker,
            cancels=cancels,
            upstream=upstream,
            models=ModelCatalog(upstream, list(settings.context_windows)),
            scheduler=scheduler,
            executor=executor,
            sandbox=sandbox,
            ingestor=ingestor,
            file_search=file_search,
            telemetry=telemetry,
            authenticator=Authenticator(settings.env_api_keys(), db),
            file_holders=file_holders,
        )
        targets = services.targets()
        db.outboxes = lambda: Outbox(targets)  # services declare effects; commits deliver them
        app.state.services = services
        durable = _durable_responses(settings, db, broker, scheduler)
        responses_background.configure(durable)
        if durable is not None:  # leases say which responses are another live node's
            durable.resume = responses_takeover.resumer(services, durable)
            await durable.start()
        else:
            async with db.write() as conn:  # what a stopped server left unfinished
                await responses_background.fail_unfinished(conn)
        await scheduler.start()
        # a cancel sent to any process reaches the one running the run
        await cancels.start(scheduler.cancel_local if cancels.distributed else scheduler.cancel)
        await ingestor.start()
        expiry = asyncio.create_task(
            files_service.expire_forever(db, blobs, file_holders), name="file-expiry"
        )
        reaper = asyncio.create_task(
            containers_service.reap_forever(db, sandbox, blobs), name="container-expiry"
        )
        try:
            yield
        finally:
            expiry.cancel()
            reaper.cancel()
            # In this order, each step even if one before it failed (the first failure is
            # raised at the end): the tasks that call the model (responses, runs, ingestion)
            # end before the HTTP clients close their pooled connections (the upstream's; the
            # embedder's, in file_search), and the database is disposed of in any case.
            steps: list[Callable[[], Awaitable[object]]] = [responses_background.stop_all]
            if durable is not None:
                steps.append(durable.stop)
            steps += [ingestor.stop, scheduler.stop, cancels.aclose, broker.aclose]
            steps.append(file_search.aclose)
            if sandbox is not None:
                steps.append(sandbox.stop)
            steps += [upstream.aclose, db.dispose, blobs.close]
            async with AsyncExitStack() as closing:  # runs them last to first
                closing.callback(telemetry.tracing.shutdown)
                if lag_watch is not None:
                    closing.callback(lag_watch.cancel)
                for step in reversed(steps):
                    closing.push_async_callback(step)

    app = FastAPI(
        title="assistantd",
        version=__version__,
        lifespan=lifespan,
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    v1_routers = (v1_assistants_router, v1_runs_router, v1_threads_router)
    # Tried in this order, each route's pattern in turn (~2 us a route): the routes that call
    # the model first (no other router's path matches theirs), runs before threads
    # (`/threads/runs` would match `/threads/{thread_id}`; tests/contract/test_route_order.py).
    routers = (
        runs_router,
        responses_router,
        relay_router,
        assistants_router,
        threads_router,
        messages_router,
        run_steps_router,
        files_router,
        vector_stores_router,
        models_router,
        conversations_router,
        containers_router,
    )
    if settings.role != "worker":  # a worker executes runs; it serves health and metrics only
        for router in routers:
            app.include_router(router, prefix=API_PREFIX)
        for router in v1_routers:  # reached through V1Router (OpenAI-Beta: assistants=v1)
            app.include_router(router, prefix=V1_PREFIX + API_PREFIX, include_in_schema=False)
        add_console(app)
    _add_health(app)
    _add_error_handlers(app)
    if metrics is not None:
        add_metrics_route(app, metrics, settings.metrics)
    app.add_middleware(V1Router)
    app.add_middleware(
        BodyLimit, json_limit=settings.max_json_body_bytes, upload_limit=settings.max_upload_bytes
    )
    # Outermost, so that every response (413s included) carries its request id.
    app.add_middleware(
        Observe,
        metrics=metrics,
        tracing=telemetry.tracing,
        access_log=settings.log_format == "json",
    )
    return app


def _scheduler(
    settings: Settings, db: Database, broker: Broker, executor: RunExecutor
) -> Scheduler:
    """In-process on SQLite (one node); leased jobs on PostgreSQL (any number of nodes)."""
    if db.is_sqlite:
        if settings.role != "all" or settings.workers > 1:
            raise RuntimeError(
                "several processes (workers > 1) and the api/worker roles need PostgreSQL: "
                "SQLite is one process's database (set ASSISTANTD_DATABASE_URL)"
            )
        return Scheduler(db, broker, executor)
    return LeasedScheduler(
        db,
        broker,
        executor,
        ttl_s=settings.lease.ttl_s,
        heartbeat_s=settings.lease.heartbeat_s,
        executes=settings.role != "api",
    )


def _durable_responses(
    settings: Settings, db: Database, broker: Broker, scheduler: Scheduler
) -> Durable | None:
    """Leased responses on PostgreSQL, named as this node's leased runs."""
    if not isinstance(scheduler, LeasedScheduler):
        return None
    return Durable(
        db,
        broker,
        node=scheduler.node,
        ttl_s=settings.lease.ttl_s,
        heartbeat_s=settings.lease.heartbeat_s,
        cancel_local=responses_background.cancel_local,
    )


def _add_gauges(
    metrics: Metrics, scheduler: Scheduler, ingestor: Ingestor, sandbox: Sandbox | None
) -> None:
    metrics.gauge("runs_in_flight", "Runs with a task in this process.", scheduler.in_flight)
    metrics.gauge(
        "ingestion_queue_depth", "Vector store files being ingested or waiting.", ingestor.queued
    )
    counts = sandbox.counts if isinstance(sandbox, DockerSandbox) else lambda: (0, 0)
    metrics.gauge("sandbox_sessions", "Threads with a live sandbox.", lambda: counts()[0])
    metrics.gauge("sandbox_pool", "Warm sandboxes waiting for a thread.", lambda: counts()[1])


def _add_health(app: FastAPI) -> None:
    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> Response:
        return Response(b'{"status":"ok"}', media_type="application/json")

    @app.get("/readyz", include_in_schema=False)
    async def readyz(services: AppServices) -> Response:
        checks: dict[str, Any] = {"database": await _database_check(services.db)}
        ready = all(check["ok"] for check in checks.values())
        # The sandbox is optional: without it everything but the code interpreter works.
        checks["sandbox"] = (
            await services.sandbox.status()
            if services.sandbox is not None
            else {"available": False, "reason": "disabled by settings"}
        )
        body = {"status": "ready" if ready else "not_ready", "checks": checks}
        return Response(
            orjson.dumps(body), status_code=200 if ready else 503, media_type="application/json"
        )


async def _database_check(db: Database) -> dict[str, Any]:
    try:
        await db.ping()
    except Exception as exc:  # readiness reports any failure rather than raising it
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    return {"ok": True, "dialect": db.engine.dialect.name}


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(APIError)
    async def api_error(_request: Request, exc: APIError) -> Response:
        return exc.response()

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, exc: RequestValidationError) -> Response:
        return to_api_error(exc.errors(), exc.body).response()

    @app.exception_handler(BodyTooLarge)
    async def body_too_large(request: Request, _exc: BodyTooLarge) -> Response:
        return too_large_error(get_services(request).settings.max_json_body_bytes).response()

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        if isinstance(exc.__cause__, BodyTooLarge):
            return await body_too_large(request, exc.__cause__)
        if exc.status_code == 404:
            return NotFoundError(
                f"Invalid URL ({request.method} {public_path(request.url.path)})"
            ).response()
        if exc.status_code == 405:
            return MethodNotAllowedError(
                f"Invalid method for URL ({request.method} {public_path(request.url.path)})"
            ).response()
        if exc.status_code < 500:  # e.g. a malformed multipart body
            return InvalidRequestError(str(exc.detail)).response()
        return await unexpected(request, exc)

    # Registered by class, so that they answer inside the middleware (an `Exception` handler
    # only runs outside it): PostgreSQL down or restarting is a 503 to retry, not a 500.
    @app.exception_handler(sa_exc.DBAPIError)
    @app.exception_handler(ConnectionError)
    async def database_error(request: Request, exc: Exception) -> Response:
        if not cut_off(exc):
            return await unexpected(request, exc)
        log.warning("database unavailable on %s %s: %s", request.method, request.url.path, exc)
        return DatabaseUnavailableError().response()

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return ServerError().response()
