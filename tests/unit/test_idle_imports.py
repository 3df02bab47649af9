"""What a started server does not hold until a feature needs it (idle RSS, docs/performance.md):
the file format parsers (~22 MB), redis without a Redis URL (~7 MB), numpy (~15 MB, file search's
index and chunking import it where they use it) and the bpe_openai package's Python rank tables
(+66 MB)."""

from __future__ import annotations

import subprocess
import sys

DEFERRED = ("pypdf", "docx", "bs4", "bpe_openai", "redis", "numpy")


def test_the_app_imports_no_file_parser_nor_the_tokenizer_package() -> None:
    script = f"""
import sys
import assistantd.app
from assistantd import tokens
tokens.preload()
loaded = sorted(m for m in {DEFERRED!r} if m in sys.modules)
assert not loaded, loaded
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr


def test_parsing_imports_its_library_on_first_use() -> None:
    script = """
import sys
from assistantd.file_search.parsing import parse_file
assert "bs4" not in sys.modules
assert parse_file(b"<p>Hello</p><p>world</p>", "page.html") == "Hello\\nworld"
assert "bs4" in sys.modules and "pypdf" not in sys.modules
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
