"""Limits: timeouts, interrupts, memory, processes, output and file floods."""

from __future__ import annotations

import asyncio
import time

import pytest

from assistantd.tools.code_interpreter.events import LogChunk
from assistantd.tools.code_interpreter.sandbox import DockerSandbox

from .conftest import run

pytestmark = pytest.mark.docker


async def test_timeout_interrupts_and_keeps_state(sandbox: DockerSandbox) -> None:
    await run(sandbox, "limits-timeout", "x = 42")
    result = await run(sandbox, "limits-timeout", "while True: pass", timeout_s=1.0)
    assert result.status == "timeout"
    assert "KeyboardInterrupt" in result.logs
    after = await run(sandbox, "limits-timeout", "x")
    assert after.logs == "42\n"
    assert after.done is not None and not after.done.session_reset
    sleeper = await run(sandbox, "limits-timeout", "import time; time.sleep(1e9)", timeout_s=0.5)
    assert sleeper.status == "timeout"


async def test_interrupt_keeps_state(sandbox: DockerSandbox) -> None:
    await run(sandbox, "limits-interrupt", "y = 7")
    task = asyncio.create_task(run(sandbox, "limits-interrupt", "import time; time.sleep(60)"))
    await asyncio.sleep(0.5)
    await sandbox.interrupt("limits-interrupt")
    result = await task
    assert result.status == "error" and "KeyboardInterrupt" in result.logs
    assert (await run(sandbox, "limits-interrupt", "y")).logs == "7\n"


async def test_sigint_ignoring_loop_is_killed_and_files_kept(sandbox: DockerSandbox) -> None:
    code = (
        "import signal, time\n"
        "open('kept.txt', 'w').write('yes')\n"
        "z = 1\n"
        "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
        "while True: time.sleep(0.01)\n"
    )
    result = await run(sandbox, "limits-sigint", code, timeout_s=1.0)
    assert result.status == "timeout"
    assert "kernel killed" in result.logs
    assert result.done is not None and [f.path for f in result.done.files] == ["kept.txt"]
    after = await run(sandbox, "limits-sigint", "print(open('kept.txt').read()); 'z' in globals()")
    assert after.logs == "yes\nFalse\n"
    assert after.done is not None and after.done.session_reset


async def test_memory_bomb_reports_oom_and_recovers(sandbox: DockerSandbox) -> None:
    await run(sandbox, "limits-oom", "open('before.txt', 'w').write('x'); v = 1")
    result = await run(sandbox, "limits-oom", "b = bytearray(2 * 1024**3)")
    assert result.status == "oom", result.logs
    assert "memory limit" in result.logs
    after = await run(
        sandbox, "limits-oom", "import os; os.path.exists('before.txt'), 'v' in dir()"
    )
    assert after.status == "ok" and after.logs == "(True, False)\n"
    assert after.done is not None and after.done.session_reset


async def test_fork_bomb_contained(sandbox: DockerSandbox) -> None:
    code = (
        "import os, time\n"
        "pids = []\n"
        "try:\n"
        "    for _ in range(1000):\n"
        "        pid = os.fork()\n"
        "        if pid == 0:\n"
        "            time.sleep(30)\n"
        "            os._exit(0)\n"
        "        pids.append(pid)\n"
        "except OSError as exc:\n"
        "    print('stopped', exc.errno, len(pids) < 128)\n"
        "for pid in pids:\n"
        "    os.kill(pid, 9)\n"
        "    os.waitpid(pid, 0)\n"
    )
    result = await run(sandbox, "limits-fork", code)
    assert result.logs == "stopped 11 True\n", result.logs
    assert (await run(sandbox, "limits-fork", "print(1)")).logs == "1\n"


async def test_huge_output_truncated(sandbox: DockerSandbox) -> None:
    result = await run(sandbox, "limits-output", "print('x' * 5_000_000 + 'END')")
    assert result.status == "ok"
    assert len(result.logs) <= 1024 * 1024 + 200
    assert "bytes of output truncated" in result.logs
    assert result.logs.startswith("xxx") and result.logs.endswith("END\n")
    flood = await run(sandbox, "limits-output", "while True: print('y' * 1000)", timeout_s=2.0)
    assert flood.status == "timeout" and len(flood.logs) <= 1024 * 1024 + 500
    assert (await run(sandbox, "limits-output", "print('alive')")).logs == "alive\n"


async def test_thousands_of_files(sandbox: DockerSandbox) -> None:
    code = (
        "import os\nos.makedirs('many')\n"
        "for i in range(3000):\n    open(f'many/f{i}.txt', 'w').write(str(i))\n"
    )
    result = await run(sandbox, "limits-files", code)
    assert result.status == "ok"
    assert result.done is not None and len(result.done.files) == 1000  # capped report
    again = await run(sandbox, "limits-files", "len(os.listdir('many'))")
    assert again.logs == "3000\n" and again.done is not None and again.done.files == []


async def test_file_size_limit(make_sandbox) -> None:  # type: ignore[no-untyped-def]
    sandbox = await make_sandbox(sandbox_max_file_bytes=10 * 1024**2, sandbox_tmp_bytes=8 * 1024**2)
    code = (
        "import errno\n"
        "def attempt(path, n):\n"
        "    try:\n"
        "        with open(path, 'wb') as fh:\n"
        "            fh.write(b'0' * n)\n"
        "        return 'ok'\n"
        "    except OSError as exc:\n"
        "        return errno.errorcode[exc.errno]\n"
        "print(attempt('big.bin', 11 * 1024**2), attempt('/tmp/big', 9 * 1024**2))\n"
    )
    result = await run(sandbox, "limits-fsize", code)
    assert result.logs == "EFBIG ENOSPC\n", result.logs


async def test_image_cap(sandbox: DockerSandbox) -> None:
    code = (
        "import matplotlib.pyplot as plt\nfor i in range(12):\n    plt.figure(); plt.plot([0, i])\n"
    )
    result = await run(sandbox, "limits-images", code)
    assert len(result.images) == 10
    assert result.logs.count("[image dropped") == 2


async def test_abandoned_call_is_interrupted(sandbox: DockerSandbox) -> None:
    await run(sandbox, "limits-abandon", "kept = 5")
    stream = sandbox.execute("limits-abandon", "import time\nprint('go')\ntime.sleep(60)")
    first = await anext(stream)
    assert first == LogChunk("go\n")
    await stream.aclose()  # the consumer walks away (e.g. the run was cancelled)
    started = time.monotonic()
    after = await run(sandbox, "limits-abandon", "kept")
    # Not a speed check: had the abandoned call not been interrupted, this would wait 60 s.
    assert time.monotonic() - started < 30
    assert after.logs == "5\n" and after.done is not None and not after.done.session_reset


async def test_sessions_run_concurrently(sandbox: DockerSandbox) -> None:
    keys = [f"limits-par-{i}" for i in range(3)]
    await asyncio.gather(*(run(sandbox, key, "pass") for key in keys))  # start all three
    code = "import time; start = time.time(); time.sleep(1.5); print(start, time.time())"
    results = await asyncio.gather(*(run(sandbox, key, code) for key in keys))
    windows = [tuple(map(float, r.logs.split())) for r in results]
    # Every session was running at one moment: the calls overlapped, none waited for another.
    assert max(start for start, _ in windows) < min(end for _, end in windows)


async def test_kernel_dying_between_calls_is_replaced(sandbox: DockerSandbox) -> None:
    code = "import os, threading\nk = 1\nthreading.Timer(0.2, lambda: os._exit(3)).start()"
    assert (await run(sandbox, "limits-exit", code)).status == "ok"
    await asyncio.sleep(1.0)
    after = await run(sandbox, "limits-exit", "'k' in globals()")
    assert after.logs == "False\n"
    assert after.done is not None and after.done.session_reset


async def test_interrupt_while_preimport_runs(sandbox: DockerSandbox) -> None:
    await run(sandbox, "limits-int-warm", "u = 3")
    await asyncio.sleep(0.4)  # the idle kernel starts pre-importing; the next call waits for it
    task = asyncio.create_task(run(sandbox, "limits-int-warm", "while True: pass"))
    await asyncio.sleep(0.1)
    await sandbox.interrupt("limits-int-warm")
    result = await task
    assert result.status == "error" and "KeyboardInterrupt" in result.logs
    after = await run(sandbox, "limits-int-warm", "u")
    assert after.logs == "3\n" and after.done is not None and not after.done.session_reset


async def test_mnt_data_quota(make_sandbox) -> None:  # type: ignore[no-untyped-def]
    sandbox = await make_sandbox(sandbox_data_bytes=8 * 1024**2)
    kept = await run(sandbox, "limits-quota", "open('small.bin', 'wb').write(b'1' * 1024**2)")
    assert kept.done is not None and not kept.done.quota_exceeded
    code = "for i in range(3):\n    open(f'big{i}.bin', 'wb').write(b'0' * 4 * 1024**2)"
    over = await run(sandbox, "limits-quota", code)
    assert over.done is not None and over.done.quota_exceeded and over.done.files == []
    listing = await run(sandbox, "limits-quota", "import os; sorted(os.listdir('.'))")
    assert listing.logs == "['small.bin']\n"  # this call's files went, earlier ones stayed
