"""A thread's /mnt/data follows it from node to node through the blob store.

Sandbox sessions belong to the node (the process) that runs them. The files a thread's code
wrote are already Files in the blob store (`assistants_output`); this adds one small object per
thread, its manifest: which path holds which File, and which process ran the code last. Before
a code call the runner reads it; when another process (another node, or this node before a
restart) ran the thread's code last, the files it names are written into this node's
/mnt/data (those whose File differs from what this process last knew), and the model is told
that the Python session is new. After the call the manifest names this process and the
thread's files.

Only top-level files of /mnt/data follow (the sandbox's `put_file` writes a single name);
a file the code deleted stays in the manifest and so comes back on the next node.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field

import orjson

from assistantd.errors import APIError
from assistantd.files.blobs import BlobMissingError, BlobStore

MAX_FILES = 500  # the newest paths a manifest keeps

log = logging.getLogger(__name__)


def manifest_key(session: str) -> str:
    return f"sandbox-{session}.json"


@dataclass
class Manifest:
    node: str
    files: dict[str, str] = field(default_factory=dict)  # /mnt/data path -> file id


class SessionManifests:
    def __init__(self, blobs: BlobStore) -> None:
        self._blobs = blobs
        self.node = secrets.token_hex(8)  # this process: a restart is another node

    async def load(self, session: str) -> Manifest | None:
        """The thread's manifest; None when it has none (or it can't be read: the call goes on
        with this node's own files, which is what a single node always had)."""
        try:
            raw = orjson.loads(await self._blobs.read(manifest_key(session)))
            return Manifest(str(raw["node"]), {str(k): str(v) for k, v in raw["files"].items()})
        except BlobMissingError:
            return None
        except (APIError, orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
            log.warning("the /mnt/data manifest of %s is unreadable", session, exc_info=True)
            return None

    async def save(self, session: str, files: dict[str, str]) -> None:
        kept = dict(list(files.items())[-MAX_FILES:])
        body = orjson.dumps({"node": self.node, "files": kept})
        try:
            await self._blobs.put_bytes(manifest_key(session), body)
        except APIError:
            log.warning("the /mnt/data manifest of %s was not saved", session, exc_info=True)


async def forget(blobs: BlobStore, session: str) -> None:
    """The thread is gone: so is its manifest (best effort: a leftover is a few bytes)."""
    try:
        await blobs.delete(manifest_key(session))
    except APIError:
        log.warning("the /mnt/data manifest of %s was not deleted", session, exc_info=True)
