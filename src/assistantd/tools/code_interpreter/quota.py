"""The size limit of a session's /mnt/data.

/mnt/data is a host folder (no per-mount size limit on overlay2/ext4), so the limit is kept
after each call instead: if the folder outgrew `sandbox_data_bytes`, the files that call wrote
are removed and the call reports that it went over.
"""

from __future__ import annotations

from .events import ChangedFile
from .session_files import SessionFiles


def enforce_quota(files: SessionFiles, key: str, changed: list[ChangedFile], limit: int) -> bool:
    """True (and the call's files removed) when the session's folder is over `limit` bytes.
    Blocking (walks the folder): run it off the event loop."""
    if files.usage(key) <= limit:
        return False
    for item in changed:
        files.remove(key, item.path)
    return True
