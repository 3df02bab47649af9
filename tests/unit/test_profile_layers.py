"""bench/profile_layers.py: py-spy's raw stacks counted by the innermost layer, server only."""

from __future__ import annotations

from bench.profile_layers import summarise

BENCH = 'process 10:"python bench/scale_bench.py"'
SERVER = 'process 11:"python -m assistantd serve --port 1"'
LOOP = "Runner.run (asyncio/runners.py:118)"
OURS = "run (assistantd/executor/loop.py:50)"


def test_each_sample_counts_in_the_innermost_layer_of_the_server_only() -> None:
    lines = [
        f"{BENCH};{SERVER};{LOOP};{OURS};_read (httpcore/_async/http11.py:9) 7\n",
        f"{BENCH};{SERVER};{LOOP};{OURS};execute (asyncpg/connection.py:3) 5\n",
        f"{BENCH};{SERVER};{LOOP};{OURS} 2\n",
        f"{BENCH};{SERVER};{LOOP} 1\n",
        f"{BENCH};{SERVER};<lambda> (somewhere/else.py:1) 4\n",
        # the bench's own process and a child of it that is not the server: left out
        f"{BENCH};{LOOP};_read (httpcore/_async/http11.py:9) 100\n",
        f'{BENCH};process 12:"python bench/lean_load.py";{LOOP} 50\n',
    ]
    assert summarise(lines, "assistantd serve") == {
        "upstream HTTP (httpx, httpcore, anyio)": 7,
        "database (asyncpg, SQLAlchemy, ours)": 5,
        "ours: executor": 2,
        "event loop (uvloop, asyncio)": 1,
        "other": 4,
    }
