"""A session's /mnt/data (a thread's, a container's) follows it from node to node through the
blob store.

Sandbox sessions belong to the node (the process) that runs them. The files a thread's code
wrote are already Files in the blob store (`assistants_output`), a container's files are kept
there too (containers/service.py); this adds one small object per session, its manifest: which
path holds which object, which process wrote the manifest last (`node`) and which ran the
session's code last (`ran`). Before a code call it is read: when another process (another
node, or this node before a restart) wrote it last, the files it names are written into this
node's /mnt/data (those that differ from what this process last knew); when another process
ran the code last, the model is told that the Python session is new. After the call the
manifest names this process and the session's files.

Only top-level files of /mnt/data follow (the sandbox's `put_file` writes a single name);
a file the code deleted stays in the manifest and so comes back on the next node.

On several nodes the manifest is written as the run's write (`transaction`, fenced by the
run's lease): an execution whose run was taken over cannot name its files in it. Its node then
drops its copy of the session (`dropped`), so the next call there brings every file again.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import orjson

from assistantd.errors import APIError
from assistantd.files.blobs import BlobMissingError, BlobStore
from assistantd.tools.code_interpreter.events import SandboxError

if TYPE_CHECKING:
    from assistantd.tools.code_interpreter.sandbox import Sandbox

MAX_FILES = 500  # the newest paths a manifest keeps

log = logging.getLogger(__name__)


def manifest_key(session: str) -> str:
    return f"sandbox-{session}.json"


@dataclass
class Manifest:
    node: str  # the process that wrote it last
    files: dict[str, str] = field(default_factory=dict)  # /mnt/data path -> file id
    ran: str | None = None  # the process that ran the session's code last


class SessionManifests:
    def __init__(self, blobs: BlobStore, node: str | None = None) -> None:
        """One per server (Services.manifests): `node` names it (a restart is another node)."""
        self.blobs = blobs
        self.node = node or secrets.token_hex(8)
        self._dropped: set[str] = set()  # sessions whose copy on this node was thrown away

    def dropped(self, session: str) -> None:
        """This node's copy of the session is gone: the next `follow` brings all its files
        and says the Python session is new, even when the manifest names this node."""
        self._dropped.add(session)

    def take_dropped(self, session: str) -> bool:
        """Whether the session was dropped here since the last time this was asked."""
        if session not in self._dropped:
            return False
        self._dropped.discard(session)
        return True

    async def load(self, session: str) -> Manifest | None:
        """The thread's manifest; None when it has none (or it can't be read: the call goes on
        with this node's own files, which is what a single node always had)."""
        try:
            raw = orjson.loads(await self.blobs.read(manifest_key(session)))
            files = {str(k): str(v) for k, v in raw["files"].items()}
            ran = raw.get("ran")
            return Manifest(str(raw["node"]), files, None if ran is None else str(ran))
        except BlobMissingError:
            return None
        except (APIError, orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
            log.warning("the /mnt/data manifest of %s is unreadable", session, exc_info=True)
            return None

    async def save(
        self,
        session: str,
        files: dict[str, str],
        *,
        ran: str | None,
        transaction: Callable[[], AbstractAsyncContextManager[object]] | None = None,
    ) -> None:
        """`ran`: who ran the code last (this node after a code call; as it was after an
        upload). With `transaction` (a run's fenced write), the object is written inside it:
        a stale execution's manifest is refused (`Fenced`) and a takeover waits for it."""
        kept = dict(list(files.items())[-MAX_FILES:])
        body = orjson.dumps({"node": self.node, "files": kept, "ran": ran})
        try:
            if transaction is None:
                await self.blobs.put_bytes(manifest_key(session), body)
            else:
                async with transaction():
                    await self.blobs.put_bytes(manifest_key(session), body)
        except APIError:
            log.warning("the /mnt/data manifest of %s was not saved", session, exc_info=True)


@dataclass(frozen=True)
class Followed:
    reset: bool  # another process ran the code last: the kernel here is not that one
    stale: bool  # the manifest does not name this process as the last to run the code


async def follow(
    manifests: SessionManifests,
    sandbox: Sandbox,
    session: str,
    made: dict[str, str],
    blob_key: Callable[[str], str] = str,
) -> Followed:
    """Bring the session's files here when another process wrote its manifest last. `made`
    (path -> id, what this process knows is in its /mnt/data) is brought up to date;
    `blob_key(id)` names an id's bytes."""
    dropped = manifests.take_dropped(session)  # this node's copy is gone: bring it all again
    manifest = await manifests.load(session)
    if manifest is None:
        return Followed(reset=False, stale=True)
    followed = Followed(
        reset=manifest.ran is not None and (manifest.ran != manifests.node or dropped),
        stale=manifest.node != manifests.node or manifest.ran != manifests.node,
    )
    if manifest.node == manifests.node and not dropped:
        for path, file_id in manifest.files.items():
            made.setdefault(path, file_id)  # what the caller forgot (it keeps recent sessions)
        return followed
    for path, file_id in manifest.files.items():
        if made.get(path) == file_id:
            continue  # this node has that version already
        if "/" in path:  # nested paths don't follow (put_file writes one name); still linked
            made[path] = file_id
            continue
        try:
            data = await manifests.blobs.read(blob_key(file_id))
            await sandbox.put_file(session, path, data)
        except (APIError, SandboxError):
            continue  # its bytes were deleted since, or the name is refused here
        made[path] = file_id
    return followed


async def forget(blobs: BlobStore, session: str) -> None:
    """The thread is gone: so is its manifest (best effort: a leftover is a few bytes)."""
    try:
        await blobs.delete(manifest_key(session))
    except APIError:
        log.warning("the /mnt/data manifest of %s was not deleted", session, exc_info=True)
