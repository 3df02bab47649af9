"""The running parts of one server, typed: built once in the lifespan, handed to routes by the
`AppServices` dependency (instead of untyped attributes on `app.state`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request

from assistantd.db.engine import Database
from assistantd.effects import Targets
from assistantd.events.broker import Broker
from assistantd.events.cancels import CancelChannel
from assistantd.executor.loop import RunExecutor
from assistantd.executor.scheduler import Scheduler
from assistantd.file_search.engine import FileSearchEngine
from assistantd.files.blobs import BlobStore
from assistantd.files.service import FileHolder
from assistantd.models.service import ModelCatalog
from assistantd.observability import Telemetry
from assistantd.settings import Settings
from assistantd.tools.code_interpreter.follow import SessionManifests
from assistantd.tools.code_interpreter.sandbox import Sandbox
from assistantd.upstream import UpstreamClient
from assistantd.vector_stores.ingestion import Ingestor

if TYPE_CHECKING:  # auth reads the services too
    from assistantd.auth import Authenticator


@dataclass(frozen=True)
class Services:
    settings: Settings
    db: Database
    blobs: BlobStore
    manifests: SessionManifests  # this server's name in the /mnt/data manifests
    broker: Broker
    cancels: CancelChannel
    upstream: UpstreamClient
    models: ModelCatalog
    scheduler: Scheduler
    executor: RunExecutor
    sandbox: Sandbox | None
    ingestor: Ingestor
    file_search: FileSearchEngine
    telemetry: Telemetry
    authenticator: Authenticator
    file_holders: tuple[FileHolder, ...]  # what lets go of a deleted file (the vector stores)

    def targets(self) -> Targets:
        """What the effects declared on write transactions are delivered to."""
        return Targets(
            broker=self.broker,
            scheduler=self.scheduler,
            cancels=self.cancels,
            ingestor=self.ingestor,
            sandbox=self.sandbox,
            blobs=self.blobs,
            includes=self.executor.includes,
        )


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def _services(request: Request) -> Services:
    """`get_services` as a dependency: async, since FastAPI runs a plain function dependency in
    a worker thread (a thread hop per request, milliseconds on a busy machine)."""
    return get_services(request)


AppServices = Annotated[Services, Depends(_services)]
