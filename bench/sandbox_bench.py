"""Code-interpreter sandbox benchmark: prints figures, asserts nothing.

    PYTHONPATH=src python bench/sandbox_bench.py [--sessions 100] [--samples 10]

Needs a Docker engine and the sandbox image (`python -m assistantd.tools.code_interpreter.image
--offline`). Measures cold session start, first call with the warm pool, warm `print(1)`,
interrupt latency, and memory per idle session (pandas + matplotlib imported). Removes every
container it starts (stop() sweeps its run label) and its temp folder.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from assistantd.settings import Settings
from assistantd.tools.code_interpreter.events import Done, LogChunk
from assistantd.tools.code_interpreter.sandbox import DockerSandbox

HOST_RAM = 24 * 1024**3


async def call(sandbox: DockerSandbox, key: str, code: str) -> tuple[str, Done]:
    logs = ""
    async for event in sandbox.execute(key, code, timeout_s=60):
        if isinstance(event, LogChunk):
            logs += event.text
        elif isinstance(event, Done):
            return logs, event
    raise RuntimeError("no Done")


def settings(data_dir: Path, image: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "sandbox_image": image,
        "sandbox_instance": "bench",
        "sandbox_pool_size": 0,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


def ms(values: list[float]) -> str:
    values = sorted(values)
    p95 = values[min(len(values) - 1, int(len(values) * 0.95))]
    p50 = statistics.median(values)
    return f"p50 {p50 * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms (n={len(values)})"


def mem_available() -> int:
    with open("/proc/meminfo") as fh:
        for line in fh:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no MemAvailable")


def cgroup_rss(container_id: str) -> int | None:
    for path in (
        f"/sys/fs/cgroup/memory/docker/{container_id}/memory.stat",
        f"/sys/fs/cgroup/system.slice/docker-{container_id}.scope/memory.stat",
    ):
        try:
            stats = dict(line.split() for line in Path(path).read_text().splitlines())
        except OSError:
            continue
        return int(stats.get("total_rss", stats.get("anon", 0)))
    return None


async def bench_cold(data_dir: Path, image: str, samples: int) -> None:
    sandbox = DockerSandbox(settings(data_dir, image))
    await sandbox.start()
    try:
        times = []
        for i in range(samples):
            started = time.perf_counter()
            logs, _ = await call(sandbox, f"cold-{i}", "print(1)")
            times.append(time.perf_counter() - started)
            assert logs == "1\n"
            await sandbox.close_session(f"cold-{i}")
        print(f"cold session start → print(1) done:  {ms(times)}   (aim p50 ≤ 400 ms)")
        warm = []
        await call(sandbox, "warm", "print(1)")
        for _ in range(300):
            started = time.perf_counter()
            await call(sandbox, "warm", "print(1)")
            warm.append(time.perf_counter() - started)
        print(f"warm print(1) round trip:             {ms(warm)}   (aim p50 ≤ 5 ms)")
        await call(sandbox, "warm", "x = 123")
        latencies = []
        for _ in range(samples):
            task = asyncio.create_task(call(sandbox, "warm", "while True: pass"))
            await asyncio.sleep(0.3)
            started = time.perf_counter()
            await sandbox.interrupt("warm")
            _, done = await task
            latencies.append(time.perf_counter() - started)
            assert done.status == "error"
        logs, _ = await call(sandbox, "warm", "x")
        kept = logs == "123\n"
        print(f"interrupt → Done (variables kept={kept}): {ms(latencies)}   (aim ≤ 100 ms)")
    finally:
        await sandbox.stop()


async def bench_pool(data_dir: Path, image: str, samples: int) -> None:
    sandbox = DockerSandbox(settings(data_dir, image, sandbox_pool_size=2))
    await sandbox.start()
    try:
        times = []
        for i in range(samples):
            deadline = time.monotonic() + 60
            while (await sandbox.status())["pool"] < 2 and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.1)
            started = time.perf_counter()
            await call(sandbox, f"pool-{i}", "print(1)")
            times.append(time.perf_counter() - started)
            await sandbox.close_session(f"pool-{i}")
        print(f"first call with the warm pool:        {ms(times)}   (aim p50 ≤ 50 ms)")
    finally:
        await sandbox.stop()


async def bench_density(data_dir: Path, image: str, sessions: int) -> None:
    sandbox = DockerSandbox(settings(data_dir, image, sandbox_start_concurrency=4))
    await sandbox.start()
    try:
        before = mem_available()
        started = time.perf_counter()
        gate = asyncio.Semaphore(4)
        code = "import numpy, pandas, matplotlib.pyplot as plt\nplt.plot([1, 2]); plt.close('all')"

        async def one(i: int) -> None:
            async with gate:
                await call(sandbox, f"idle-{i}", code)

        await asyncio.gather(*(one(i) for i in range(sessions)))
        elapsed = time.perf_counter() - started
        await asyncio.sleep(2)
        used = before - mem_available()
        per = used / sessions
        ids = [c.id for c in sandbox._sessions.values()]
        rss = [r for r in (cgroup_rss(i) for i in ids) if r is not None]
        rss_note = f", cgroup rss mean {statistics.mean(rss) / 1024**2:.0f} MiB" if rss else ""
        print(
            f"{sessions} idle sessions (pandas+mpl loaded) started in {elapsed:.1f} s; host RAM "
            f"+{used / 1024**3:.2f} GiB = {per / 1024**2:.0f} MiB/session{rss_note}; "
            f"≈{int(HOST_RAM / per)} fit in 24 GiB   (aim ≥ 100)"
        )
    finally:
        started = time.perf_counter()
        await sandbox.stop()
        print(f"removed {sessions} sessions in {time.perf_counter() - started:.1f} s")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--image", default="assistantd-sandbox:latest")
    parser.add_argument("--samples", type=int, default=10)
    parser.add_argument("--sessions", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sandbox-bench-") as tmp:
        await bench_cold(Path(tmp), args.image, args.samples)
        await bench_pool(Path(tmp), args.image, args.samples)
        if args.sessions:
            await bench_density(Path(tmp), args.image, args.sessions)


if __name__ == "__main__":
    asyncio.run(main())
