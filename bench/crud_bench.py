"""CRUD throughput of one assistantd process beside a hello-world endpoint of the same app.

Starts `assistantd serve` (one process, SQLite by default or ASSISTANTD_DATABASE_URL) on a free
port, then drives it with wrk (Debian package `wrk`) at 32 connections for each request kind:
GET /healthz (the hello-world baseline, same app and middleware), POST /threads,
POST /threads/{id}/messages, GET /threads/{id}/messages?limit=20, GET /assistants/{id}.
Prints requests/s and p99 for each, the ratio to hello-world, and the server's CPU per request
(its utime + stime over the run, from /proc: the figure that holds on a busy machine, where
the throughput is that of the cores the server gets). Never asserts on time.

    .venv/bin/python bench/crud_bench.py [--seconds 10] [--connections 32]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

KEY = "sk-bench"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "ASSISTANTD_DATA_DIR": str(data_dir), "ASSISTANTD_API_KEYS": KEY}
    command = [
        sys.executable,
        "-m",
        "assistantd",
        "serve",
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]
    process = subprocess.Popen(command, env=env)
    for _ in range(200):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.05)
    process.kill()
    raise SystemExit("server did not start")


def cpu_s(pid: int) -> float:
    """The process's user + system CPU so far, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wrk(
    url: str, seconds: int, connections: int, method: str = "GET", body: str | None = None
) -> tuple[float, float, int]:
    """(requests/s, p99 ms, requests) from one wrk run."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(f'wrk.method = "{method}"\n')
        script.write(f'wrk.headers["Authorization"] = "Bearer {KEY}"\n')
        script.write('wrk.headers["Content-Type"] = "application/json"\n')
        if body is not None:
            script.write(f"wrk.body = {json.dumps(body)}\n")
    output = subprocess.run(
        [
            "wrk",
            "-t",
            "2",
            "-c",
            str(connections),
            "-d",
            f"{seconds}s",
            "--latency",
            "-s",
            script.name,
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    os.unlink(script.name)
    if "Non-2xx" in output:
        raise SystemExit(f"errors during the run:\n{output}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    requests = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    p99_text = re.search(r"99%\s+([\d.]+)(us|ms|s)", output)
    assert p99_text is not None
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99_text.group(2)]
    return rps, float(p99_text.group(1)) * scale, requests


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("needs wrk (apt-get install wrk)")
    data_dir = Path(tempfile.mkdtemp(prefix="assistantd-bench-"))
    port = free_port()
    server = start_server(data_dir, port)
    base = f"http://127.0.0.1:{port}"
    try:
        headers = {"Authorization": f"Bearer {KEY}"}
        assistant = httpx.post(
            f"{base}/v1/assistants", json={"model": "gpt-4o"}, headers=headers
        ).json()["id"]
        thread = httpx.post(f"{base}/v1/threads", json={}, headers=headers).json()["id"]
        for i in range(30):
            httpx.post(
                f"{base}/v1/threads/{thread}/messages",
                headers=headers,
                json={"role": "user", "content": f"message {i}"},
            )
        message = json.dumps({"role": "user", "content": "Hello, how are you today?"})
        cases = [
            ("hello-world GET /healthz", "read", f"{base}/healthz", "GET", None),
            ("POST /threads", "write", f"{base}/v1/threads", "POST", "{}"),
            (
                "POST /threads/{id}/messages",
                "write",
                f"{base}/v1/threads/{thread}/messages",
                "POST",
                message,
            ),
            (
                "GET /threads/{id}/messages",
                "read",
                f"{base}/v1/threads/{thread}/messages?limit=20",
                "GET",
                None,
            ),
            ("GET /assistants/{id}", "read", f"{base}/v1/assistants/{assistant}", "GET", None),
        ]
        wrk(f"{base}/healthz", 2, args.connections)  # warm-up
        results = []
        for name, kind, url, method, body in cases:
            before = cpu_s(server.pid)
            rps, p99, requests = wrk(url, args.seconds, args.connections, method, body)
            cpu_us = (cpu_s(server.pid) - before) / requests * 1e6
            results.append((name, kind, rps, p99, cpu_us))
    finally:
        server.terminate()
        server.wait(timeout=20)
        shutil.rmtree(data_dir, ignore_errors=True)
    hello, hello_cpu = results[0][2], results[0][4]
    print(
        f"{'request':34} {'req/s':>9} {'p99 ms':>8} {'x hello':>8} {'CPU us':>8} {'x hello':>8}"
        f"  (c={args.connections}; the last two: server CPU per request, hello-world's over it)"
    )
    for name, _kind, rps, p99, cpu_us in results:
        print(
            f"{name:34} {rps:9.0f} {p99:8.1f} {rps / hello:8.2f} {cpu_us:8.0f}"
            f" {hello_cpu / cpu_us:8.2f}"
        )
    # The aims of issue 13 (docs/performance.md).
    for kind, aim in (("write", 0.35), ("read", 0.6)):
        worst = min(rps for _name, k, rps, _p99, _cpu in results[1:] if k == kind)
        costliest = max(cpu for _name, k, _rps, _p99, cpu in results[1:] if k == kind)
        print(
            f"slowest {kind}: {worst / hello:.2f}x hello-world (aim >= {aim}x); by server CPU"
            f" per request {hello_cpu / costliest:.2f}x"
        )
    worst_p99 = max(p99 for _name, _kind, _rps, p99, _cpu in results[1:])
    print(f"worst p99: {worst_p99:.1f} ms (aim <= 30 ms)")


if __name__ == "__main__":
    main()
