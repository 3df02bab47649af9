"""Generating a background response again on the node that took it over (durable.py decides
when that is safe): its generation rebuilt from what the response stored (service.resume),
its events published to the stream the dead node opened, after what that node published."""

from __future__ import annotations

from assistantd.responses_api import background, generate, service
from assistantd.responses_api.code import CodeInterpreter
from assistantd.responses_api.durable import Durable, Lease, Resume
from assistantd.responses_api.file_search import FileSearch
from assistantd.responses_api.schemas import Response
from assistantd.services import Services


def resumer(services: Services, durable: Durable) -> Resume:
    async def resume(lease: Lease, project: str, response: Response, published: int) -> bool:
        generation = await service.resume(
            services.db,
            services.blobs,
            project,
            response,
            context_windows=services.settings.context_windows,
            durable=durable,
            lease=lease,
        )
        if generation is None:
            return False
        tools = generate.ServerTools(
            FileSearch(services.db, services.file_search),
            CodeInterpreter(services.db, services.sandbox, services.manifests, services.settings),
        )
        durable.adopt(lease)  # renewed by this node's heartbeat from now, its writes fenced
        emit = durable.publisher(response.id, published)
        work = generate.generate(generation, services.upstream, services.db, tools, emit)
        background.spawn(response, work)
        return True

    return resume
