"""A PostgreSQL server of the tests' own (initdb into a temp dir, a free port) that a fault test
may stop and start again, made with the binaries of the shared server scripts/services installs
(so pgvector is there too). As root it runs as the `postgres` user, since PostgreSQL refuses
to run as root."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support.server import free_port


def _bin_dir() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not found:
        if os.environ.get("CI"):
            pytest.fail("CI must run the PostgreSQL fault tests: PostgreSQL is not installed")
        pytest.skip("the PostgreSQL fault tests need PostgreSQL (scripts/services installs it)")
    return found[-1].parent


class PrivatePostgres:
    def __init__(self, workdir: Path) -> None:
        """`workdir`: a new directory of its own, which the `postgres` user can reach."""
        self._bin = _bin_dir()
        self._data = workdir / "pgdata"
        self._socket = workdir / "pgsock"
        self.port = free_port()
        self.url = f"postgresql+asyncpg://assistantd:assistantd@127.0.0.1:{self.port}/assistantd"
        self._as: list[str] = []
        if os.geteuid() == 0:
            self._as = ["runuser", "-u", "postgres", "--"]
            user = pwd.getpwnam("postgres")
            for path in (workdir, self._socket):
                path.mkdir(exist_ok=True)
                shutil.chown(path, user.pw_uid, user.pw_gid)
        else:
            self._socket.mkdir(exist_ok=True)

    def _run(self, *argv: str) -> None:
        env = {**os.environ, "PGPASSWORD": "assistantd"}  # createdb's login
        done = subprocess.run([*self._as, *argv], capture_output=True, env=env)
        if done.returncode:
            raise RuntimeError(f"{argv[0]} failed: {done.stderr.decode(errors='replace')}")

    def init(self) -> None:
        password = self._data.parent / "pw"
        password.write_text("assistantd\n")
        if self._as:
            shutil.chown(password, "postgres")
        self._run(
            str(self._bin / "initdb"), "-D", str(self._data), "-U", "assistantd",
            "--pwfile", str(password), "-A", "scram-sha-256", "--no-sync",
        )  # fmt: skip
        self.start()
        self._run(
            str(self._bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port),
            "-U", "assistantd", "assistantd",
        )  # fmt: skip

    def start(self) -> None:
        options = f"-p {self.port} -k {self._socket} -c listen_addresses=127.0.0.1 -c fsync=off"
        # The server's output goes to a log file: on our pipes it would keep them open for ever.
        log = str(self._data.parent / "postgres.log")
        self._run(
            str(self._bin / "pg_ctl"), "-D", str(self._data), "-o", options, "-l", log, "-w",
            "start",
        )  # fmt: skip

    def stop(self) -> None:
        """A fast shutdown: open connections are ended, as on a restart of the server."""
        self._run(str(self._bin / "pg_ctl"), "-D", str(self._data), "-m", "fast", "-w", "stop")


@contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    # Not under pytest's tmp_path: that is private to root, and the server runs as `postgres`.
    workdir = Path(tempfile.mkdtemp(prefix="assistantd-pg-"))
    try:
        server = PrivatePostgres(workdir)
        server.init()
        try:
            yield server
        finally:
            with contextlib.suppress(RuntimeError):  # already stopped by the test
                server.stop()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
