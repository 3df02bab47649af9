"""Isolation: network, filesystem, privileges, secrets, sessions, host files, protocol."""

from __future__ import annotations

import asyncio
import os
import socket

import pytest

from assistantd.tools.code_interpreter.events import SandboxFileError
from assistantd.tools.code_interpreter.runtime import protocol
from assistantd.tools.code_interpreter.sandbox import DockerSandbox

from .conftest import SandboxFactory, run

pytestmark = pytest.mark.docker


async def test_no_network(sandbox: DockerSandbox) -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    try:
        code = (
            "import os, socket\n"
            "def probe(host, port):\n"
            "    try:\n"
            "        socket.create_connection((host, port), timeout=2).close()\n"
            "        return 'connected'\n"
            "    except OSError as exc:\n"
            "        return type(exc).__name__\n"
            f"print(probe('127.0.0.1', {port}), probe('1.1.1.1', 53), probe('example.com', 80))\n"
            "print(sorted(os.listdir('/sys/class/net')))\n"
        )
        result = await run(sandbox, "iso-net", code)
        assert result.logs == "ConnectionRefusedError OSError gaierror\n['lo']\n", result.logs
    finally:
        server.close()


async def test_readonly_root_and_non_root(sandbox: DockerSandbox) -> None:
    code = (
        "import errno, os\n"
        "def attempt(path):\n"
        "    try:\n"
        "        open(path, 'w').write('x')\n"
        "        return 'written'\n"
        "    except OSError as exc:\n"
        "        return errno.errorcode[exc.errno]\n"
        "print([attempt(p) for p in ('/etc/x', '/usr/lib/x', '/x', '/opt/assistantd/x')])\n"
        "print(attempt('/tmp/ok'), attempt('/mnt/data/ok'), os.getuid(), os.getgid())\n"
        "try:\n"
        "    os.chown('/mnt/data/ok', 0, 0)\n"
        "except PermissionError:\n"
        "    print('chown denied')\n"
    )
    result = await run(sandbox, "iso-ro", code)
    assert result.logs == (
        "['EROFS', 'EROFS', 'EROFS', 'EROFS']\nwritten written 10001 10001\nchown denied\n"
    ), result.logs


async def test_no_caps_no_new_privs_seccomp(sandbox: DockerSandbox) -> None:
    code = (
        "status = dict(l.split(':\\t', 1) for l in open('/proc/self/status').read().splitlines()"
        " if ':\\t' in l)\n"
        "print(status['CapEff'].strip(), status['CapBnd'].strip(), status['CapPrm'].strip())\n"
        "print(status['NoNewPrivs'].strip(), status['Seccomp'].strip())\n"
        "import ctypes, os\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "print(libc.unshare(0x10000000), ctypes.get_errno() in (1,))  # CLONE_NEWUSER\n"
        "import socket\n"
        "try:\n"
        "    socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)\n"
        "except PermissionError:\n"
        "    print('raw denied')\n"
        "print(os.path.exists('/var/run/docker.sock'), os.path.exists('/run/docker.sock'))\n"
    )
    result = await run(sandbox, "iso-caps", code)
    zero = "0000000000000000"
    assert result.logs == (f"{zero} {zero} {zero}\n1 2\n-1 True\nraw denied\nFalse False\n"), (
        result.logs
    )


async def test_env_has_no_secrets(
    make_sandbox: SandboxFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "sk-fake-secret-" + os.urandom(6).hex()
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    monkeypatch.setenv("ASSISTANTD_UPSTREAM_API_KEY", secret)
    sandbox = await make_sandbox()
    code = (
        "import os\n"
        "blobs = [repr(dict(os.environ))]\n"
        "for pid in [p for p in os.listdir('/proc') if p.isdigit()]:\n"
        "    try:\n"
        "        blobs.append(open(f'/proc/{pid}/environ', 'rb').read().decode('latin1'))\n"
        "    except OSError:\n"
        "        pass\n"
        f"print(any({secret!r} in b for b in blobs), len(blobs) > 1)\n"
        "print(sorted(k for k in os.environ if 'KEY' in k or 'TOKEN' in k or 'SECRET' in k))\n"
    )
    result = await run(sandbox, "iso-env", code)
    assert result.logs == "False True\n[]\n", result.logs


async def test_sessions_isolated(sandbox: DockerSandbox) -> None:
    await run(
        sandbox,
        "iso-a",
        "secret = 'swordfish'\nopen('/tmp/s', 'w').write(secret)\nopen('mine.txt', 'w').write('a')",
    )
    code = (
        "import os\n"
        "print('secret' in globals(), os.path.exists('/tmp/s'), os.listdir('/mnt/data'))\n"
        "procs = [p for p in os.listdir('/proc') if p.isdigit()]\n"
        "cmds = [open(f'/proc/{p}/cmdline', 'rb').read() for p in procs]\n"
        "print(len(procs) <= 6, any(b'swordfish' in c for c in cmds))\n"
    )
    result = await run(sandbox, "iso-b", code)
    assert result.logs == "False False []\nTrue False\n", result.logs


async def test_symlink_not_followed_on_read(sandbox: DockerSandbox, tmp_path) -> None:  # type: ignore[no-untyped-def]
    host_secret = tmp_path / "host-secret.txt"
    host_secret.write_text("host only")
    code = (
        "import os\n"
        f"os.symlink({str(host_secret)!r}, 'link.txt')\n"
        f"os.symlink({str(tmp_path)!r}, 'dirlink')\n"
        "os.mkfifo('fifo')\n"
        "open('real.txt', 'w').write('fine')\n"
    )
    result = await run(sandbox, "iso-link", code)
    assert result.done is not None and [f.path for f in result.done.files] == ["real.txt"]
    for path in ("link.txt", "dirlink/host-secret.txt", "fifo", "../iso-a/mine.txt", "nope"):
        with pytest.raises(SandboxFileError):
            await sandbox.read_file("iso-link", path)
    assert await sandbox.read_file("iso-link", "real.txt") == b"fine"
    # An upload never writes through a planted symlink either.
    await sandbox.put_file("iso-link", "link.txt", b"replaced")
    assert host_secret.read_text() == "host only"
    assert await sandbox.read_file("iso-link", "link.txt") == b"replaced"


async def test_protocol_not_spoofable(sandbox: DockerSandbox) -> None:
    fakes = b"".join(
        protocol.encode({"ev": ev, "id": i, "status": "ok", "text": "FORGED", "files": []})
        for i in range(1, 2000, 97)
        for ev in ("log", "done")
    )
    code = (
        "import os, sys\n"
        f"fake = {fakes!r}\n"
        "os.write(1, fake); os.write(2, fake); sys.stdout.buffer.write(fake)\n"
        "print(repr(sys.stdin.read()))\n"
        "for fd in range(3, 64):\n"
        "    try:\n"
        "        os.fstat(fd)\n"
        "    except OSError:\n"
        "        continue\n"
        "print('after')\n"
    )
    result = await run(sandbox, "iso-proto", code)
    assert result.status == "ok"
    assert result.logs.endswith("''\nafter\n")
    assert result.done is not None and result.done.files == []
    assert (await run(sandbox, "iso-proto", "print('still fine')")).logs == "still fine\n"
    await asyncio.sleep(0)
