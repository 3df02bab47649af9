"""Dropping a mapped file's clean pages: what is dropped, what is left, that reads still work."""

from __future__ import annotations

import mmap
import os
import sys
from pathlib import Path

import pytest

from assistantd import tokens
from assistantd.pages import _clean_mappings, drop_clean_pages

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="/proc/self/smaps is Linux's")

SMAPS = """\
7f0000000000-7f0000200000 r--p 00000000 08:01 42   /lib/tables.so
Rss:                2048 kB
Private_Dirty:         0 kB
Anonymous:             0 kB
7f0000200000-7f0000300000 r-xp 00200000 08:01 42   /lib/tables.so
Rss:                1024 kB
Private_Dirty:         0 kB
7f0000300000-7f0000301000 r--p 00300000 08:01 42   /lib/tables.so
Rss:                   4 kB
Private_Dirty:         4 kB
Anonymous:             4 kB
7f0000301000-7f0000302000 r--p 00301000 08:01 42   /lib/tables.so
Rss:                   4 kB
Private_Dirty:         4 kB
Anonymous:             0 kB
7f0000400000-7f0000500000 r--p 00000000 08:01 43   /lib/other.so
Rss:                1024 kB
Private_Dirty:         0 kB
"""


def test_only_the_clean_read_only_mappings_of_the_file_are_chosen() -> None:
    # The code (r-xp), the relocated part (anonymous: its own pages) and other files stay; a
    # mapping whose page-cache pages are dirty (a file just written) has no page of its own.
    assert _clean_mappings("/lib/tables.so", SMAPS) == [
        (0x7F0000000000, 0x7F0000200000),
        (0x7F0000301000, 0x7F0000302000),
    ]


def _resident_kb(path: str) -> int:
    resident, inside = 0, False
    with open("/proc/self/smaps", encoding="utf-8") as smaps:
        for line in smaps:
            fields = line.split()
            if "-" in fields[0] and len(fields) >= 5:
                inside = len(fields) >= 6 and fields[5] == path
            elif inside and fields[0] == "Rss:":
                resident += int(fields[1])
    return resident


@pytest.mark.parametrize("written_back", [True, False], ids=["written-back", "just-written"])
def test_the_pages_of_a_read_file_go_and_come_back_when_read(
    tmp_path: Path, written_back: bool
) -> None:
    path = tmp_path / "tables.bin"
    data = os.urandom(4 << 20)
    with open(path, "wb") as file:
        file.write(data)
        file.flush()
        if written_back:
            os.fsync(file.fileno())  # else the page cache's copies are still dirty (an install)
    with open(path, "rb") as file:
        mapped = mmap.mmap(file.fileno(), 0, flags=mmap.MAP_PRIVATE, prot=mmap.PROT_READ)
    try:
        assert mapped[:] == data  # every page read: resident
        assert _resident_kb(str(path)) >= 4096
        assert drop_clean_pages(str(path)) == 4 << 20
        assert _resident_kb(str(path)) == 0
        assert mapped[:] == data  # read again from the file, unchanged
    finally:
        mapped.close()


def test_the_tokenizers_tables_are_not_resident_once_built() -> None:
    tokens.preload()
    module = sys.modules["bpe_openai._bindings"].__file__
    assert module is not None
    assert _resident_kb(os.path.realpath(module)) < 8 * 1024  # the code, not the 32 MB tables
    assert tokens.tokenizer(tokens.FALLBACK_ENCODING).count("hello world") == 2
