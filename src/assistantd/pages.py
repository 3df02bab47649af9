"""Give back the resident pages of a file this process mapped, read once and no longer needs.

The tokenizer's compiled module carries its rank tables in its read-only data (32 MB for
o200k_base). Building a tokenizer reads them into its own heap; the file's pages stay mapped
and counted in the process's RSS although nothing reads them again. They are clean copies of
the file, so the kernel may drop them at any time; `drop_clean_pages` asks it to now
(`madvise(MADV_DONTNEED)`), mapping by mapping. A later read of one faults it back in from
the file: correctness never depends on this. A mapping with a page of its own (relocations or
other written data, copied on write: `Anonymous` above zero) is left alone, since dropping it
would lose that page. (`Private_Dirty` is no guide: it also counts the page cache's own dirty
pages of a file written moments ago, e.g. a fresh install, which the kernel still writes back.)
Linux only; elsewhere it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import re

log = logging.getLogger(__name__)

_MADV_DONTNEED = 4
_MAPPING = re.compile(r"^([0-9a-f]+)-([0-9a-f]+) (\S{4}) \S+ \S+ \S+\s+(.*)$")


def _clean_mappings(path: str, smaps: str) -> list[tuple[int, int]]:
    """The (start, end) of each read-only mapping of `path` in an smaps text with no page of
    its own."""
    found: list[tuple[int, int]] = []
    current: tuple[int, int] | None = None
    own_pages = 0
    for line in smaps.splitlines():
        mapping = _MAPPING.match(line)
        if mapping is not None:
            if current is not None and own_pages == 0:
                found.append(current)
            start, end, perms, name = mapping.groups()
            current = (int(start, 16), int(end, 16)) if name == path and perms == "r--p" else None
            own_pages = 0
        elif current is not None and line.startswith("Anonymous:"):
            own_pages += int(line.split()[1])
    if current is not None and own_pages == 0:
        found.append(current)
    return found


def drop_clean_pages(path: str) -> int:
    """Drop this process's resident pages of the clean read-only mappings of `path`; returns
    the bytes of the mappings advised."""
    try:
        with open("/proc/self/smaps", encoding="utf-8") as smaps:
            mappings = _clean_mappings(os.path.realpath(path), smaps.read())
    except OSError:
        return 0  # not Linux
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    libc.madvise.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
    dropped = 0
    for start, end in mappings:
        if libc.madvise(ctypes.c_void_p(start), end - start, _MADV_DONTNEED) == 0:
            dropped += end - start
        else:
            log.debug("madvise of %s failed: errno %d", path, ctypes.get_errno())
    return dropped
