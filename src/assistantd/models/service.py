"""The model catalogue: the upstream's `/models` list, cached briefly, so `models.list()` works
as a health check or a model picker. When the upstream has no such endpoint (or it fails), the
list is the models this server knows of: those named in `ASSISTANTD_CONTEXT_WINDOWS` and those
the project's assistants use.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from assistantd.assistants import store as assistants_store
from assistantd.errors import NotFoundError
from assistantd.models.schemas import Model, ModelList
from assistantd.upstream import UpstreamClient, UpstreamError

log = logging.getLogger(__name__)

CACHE_S = 60.0
FALLBACK_CACHE_S = 5.0  # retry an upstream that failed soon, but not on every request
MAX_ASSISTANTS_SCANNED = 1000


class ModelCatalog:
    def __init__(self, upstream: UpstreamClient, configured: list[str]) -> None:
        self._upstream = upstream
        self._configured = configured
        self._cached: list[Model] | None = None
        self._until = 0.0

    async def catalogue(self, conn: AsyncConnection, project: str) -> ModelList:
        relayed = await self._relayed()
        if relayed:
            return ModelList(data=relayed)
        names = dict.fromkeys(self._configured)
        for name in await _assistant_models(conn, project):
            names.setdefault(name, None)
        return ModelList(data=[Model(id=name) for name in names])

    async def get(self, conn: AsyncConnection, project: str, model_id: str) -> Model:
        for model in (await self.catalogue(conn, project)).data:
            if model.id == model_id:
                return model
        raise NotFoundError(
            f"The model '{model_id}' does not exist", param="model", code="model_not_found"
        )

    async def _relayed(self) -> list[Model]:
        now = time.monotonic()
        if self._cached is not None and now < self._until:
            return self._cached
        try:
            raw = await self._upstream.list_models()
            models = [_model(item) for item in raw if isinstance(item, dict) and item.get("id")]
        except UpstreamError as error:
            log.info("the upstream lists no models (%s); showing the known ones", error.message)
            models = []
        self._cached = models
        self._until = now + (CACHE_S if models else FALLBACK_CACHE_S)
        return models


def _model(item: dict[str, Any]) -> Model:
    created = item.get("created")
    owned_by = item.get("owned_by")
    return Model(
        id=str(item["id"]),
        created=created if isinstance(created, int) and not isinstance(created, bool) else 0,
        owned_by=owned_by if isinstance(owned_by, str) else "assistantd",
    )


async def _assistant_models(conn: AsyncConnection, project: str) -> list[str]:
    return await assistants_store.models_in_use(conn, project, MAX_ASSISTANTS_SCANNED)
