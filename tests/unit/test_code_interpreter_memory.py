"""The code interpreter's per-thread and per-run memory stays bounded (the server runs for
months; every thread it ever saw must not stay in memory)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import pytest

from assistantd.tools.code_interpreter import runner as runner_module
from assistantd.tools.code_interpreter.recent import RecentMap
from assistantd.tools.code_interpreter.runner import CodeInterpreterRunner
from tests.conftest import make_settings


def test_recent_map_keeps_the_most_recently_used() -> None:
    seen = RecentMap[set[str]](3, set)
    for key in ("a", "b", "c"):
        seen[key].add(key)
    seen["a"]  # used again: "b" is now the oldest
    seen["d"].add("d")
    assert len(seen) == 3
    assert "b" not in seen
    assert seen.get("a") == {"a"} and seen.get("d") == {"d"}
    assert seen.get("b") is None and "b" not in seen  # get never adds
    assert seen.pop("a") == {"a"} and seen.pop("a") is None
    with pytest.raises(ValueError):
        RecentMap[int](0, int)


def test_runner_memory_is_bounded(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    unused = cast(Any, object())
    runner = CodeInterpreterRunner(settings, unused, unused, unused)
    threads = runner_module.RECENT_THREADS + 100
    for i in range(threads):
        runner._staged[f"thread_{i}"].add(f"file-{i}")
        runner._made[f"thread_{i}"][f"out{i}.csv"] = f"file-out-{i}"
        runner._images[f"run_{i}"].append(f"file-img-{i}")
    assert len(runner._staged) == runner_module.RECENT_THREADS
    assert len(runner._made) == runner_module.RECENT_THREADS
    assert len(runner._images) == runner_module.RECENT_RUNS
    last = f"thread_{threads - 1}"
    assert "thread_0" not in runner._staged and runner._staged.get(last) == {f"file-{threads - 1}"}
