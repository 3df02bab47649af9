"""The supervisor: the container's main process (under docker-init), stdlib only.

It owns the container's stdin/stdout, which carry protocol frames to and from the host, and one
kernel child process that runs user code. User code never sees the host channel: the kernel's
stdin is /dev/null and its stdout/stderr are a pipe that the supervisor turns into `log` events.

Requests (host → here): `exec {id, code, timeout, grace}`, `interrupt`, `restart`, `ping`.
Events (here → host): `ready`, `warm` (heavy imports done), `log {id, text}`, `image {id}` + PNG,
`done {id, status, fresh, files}`, `restarted`, `pong`.

It owns timeouts (SIGINT, then SIGKILL of the kernel's process group after a grace, then a
respawn), OOM detection, output caps, and the /mnt/data snapshot that finds changed files.
"""

from __future__ import annotations

import codecs
import contextlib
import os
import selectors
import shutil
import signal
import subprocess
import sys
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING or __package__:  # imported from the package (the host, the tests)
    from . import protocol
else:  # run as a script inside the container, beside protocol.py
    import protocol

DATA_DIR = os.environ.get("SANDBOX_DATA_DIR", "/mnt/data")
LOG_HEAD = 512 * 1024  # stored logs per call: the first 512 KiB ...
LOG_TAIL = 512 * 1024  # ... and the last 512 KiB, with a marker in between
CHUNK_BYTES = 4096
CHUNK_SECONDS = 0.05
MAX_IMAGES = 10
MAX_IMAGE_BYTES = 5 * 1000 * 1000
MAX_SCAN = 10_000
MAX_DEPTH = 16
MAX_REPORTED = 1000
KERNEL = os.path.join(os.path.dirname(os.path.abspath(__file__)), "kernel.py")
MPL_BAKED = "/opt/assistantd/mpl"


def snapshot(root: str) -> dict[str, tuple[int, int, int]]:
    """path → (size, mtime_ns, inode) for regular files; symlinks are never followed."""
    found: dict[str, tuple[int, int, int]] = {}
    stack = [(root, "", 0)]
    while stack and len(found) < MAX_SCAN:
        path, rel, depth = stack.pop()
        try:
            entries = list(os.scandir(path))
        except OSError:
            continue
        for entry in entries:
            name = f"{rel}{entry.name}"
            try:
                if entry.is_dir(follow_symlinks=False):
                    if depth < MAX_DEPTH and entry.name != "__pycache__":
                        stack.append((entry.path, name + "/", depth + 1))
                elif entry.is_file(follow_symlinks=False):
                    st = entry.stat(follow_symlinks=False)
                    found[name] = (st.st_size, st.st_mtime_ns, st.st_ino)
            except OSError:
                continue
            if len(found) >= MAX_SCAN:
                break
    return found


def oom_kills() -> int | None:
    """The cgroup's OOM-kill counter (cgroup v1 or v2), if this container can see it."""
    for path, key in (
        ("/sys/fs/cgroup/memory/memory.oom_control", "oom_kill"),
        ("/sys/fs/cgroup/memory.events", "oom_kill"),
    ):
        try:
            with open(path) as fh:
                for line in fh:
                    name, _, value = line.partition(" ")
                    if name == key:
                        return int(value)
        except (OSError, ValueError):
            continue
    return None


class Exec:
    """Bookkeeping for the one call in flight."""

    def __init__(self, message: dict[str, Any]) -> None:
        self.id = message.get("id")
        self.code = str(message.get("code", ""))
        now = time.monotonic()
        self.deadline = now + float(message.get("timeout", 120))
        self.grace = float(message.get("grace", 3))
        self.kill_at: float | None = None
        self.status: str | None = None  # forced status: "timeout" / "killed"
        self.images = 0
        self.log_bytes = 0
        self.tail = bytearray()
        self.decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self.before: dict[str, tuple[int, int, int]] = {}
        self.oom_before = oom_kills()


class Supervisor:
    def __init__(self) -> None:
        self.out_fd = sys.stdout.fileno()
        self.sel = selectors.DefaultSelector()
        self.host_reader = protocol.FrameReader()
        self.kernel: subprocess.Popen[bytes] | None = None
        self.kernel_ready = False
        self.req_w = -1
        self.out_r = -1
        self.ev_r = -1
        self.ev_reader = protocol.FrameReader()
        self.pending: list[dict[str, Any]] = []  # execs waiting for a ready kernel
        self.current: Exec | None = None
        self.buf = bytearray()
        self.buf_since = 0.0
        self.watched: set[int] = set()
        self.env = self.kernel_env()

    # -- host channel -----------------------------------------------------------------------

    def send(self, message: dict[str, Any], payload: bytes = b"") -> None:
        view = memoryview(protocol.encode(message, payload))
        while view:
            view = view[os.write(self.out_fd, view) :]

    # -- kernel lifecycle -------------------------------------------------------------------

    @staticmethod
    def kernel_env() -> dict[str, str]:
        env = dict(os.environ)
        env.pop("SANDBOX_DATA_DIR", None)
        # matplotlib wants a writable config dir; copy the font cache baked into the image.
        mpl = "/tmp/.mplconfig"
        if os.path.isdir(MPL_BAKED) and not os.path.isdir(mpl):
            with contextlib.suppress(OSError):
                shutil.copytree(MPL_BAKED, mpl)
        env["MPLCONFIGDIR"] = mpl
        return env

    def spawn(self) -> None:
        req_r, self.req_w = os.pipe()
        self.ev_r, ev_w = os.pipe()
        self.out_r, out_w = os.pipe()
        self.kernel = subprocess.Popen(
            [sys.executable, "-u", KERNEL, str(req_r), str(ev_w)],
            stdin=subprocess.DEVNULL,
            stdout=out_w,
            stderr=out_w,
            pass_fds=(req_r, ev_w),
            cwd=DATA_DIR,
            env=self.env,
            start_new_session=True,  # its own process group, killed as a whole
        )
        for fd in (req_r, ev_w, out_w):
            os.close(fd)
        self.kernel_ready = False
        self.ev_reader = protocol.FrameReader()
        for fd, tag in ((self.out_r, "out"), (self.ev_r, "ev")):
            os.set_blocking(fd, False)
            self.sel.register(fd, selectors.EVENT_READ, tag)
            self.watched.add(fd)

    def unwatch(self, fd: int) -> None:
        if fd in self.watched:
            self.watched.discard(fd)
            self.sel.unregister(fd)

    def kill_kernel(self) -> int | None:
        """SIGKILL the kernel's process group, reap it, close its pipes; return its exit code."""
        kernel, self.kernel = self.kernel, None
        if kernel is None:
            return None
        with contextlib.suppress(OSError):
            os.killpg(kernel.pid, signal.SIGKILL)
        code = kernel.wait()
        self.drain_output()
        for fd in (self.out_r, self.ev_r):
            self.unwatch(fd)
            os.close(fd)
        os.close(self.req_w)
        self.kernel_ready = False
        return code

    def respawn(self) -> None:
        self.kill_kernel()
        self.spawn()

    # -- output -----------------------------------------------------------------------------

    def drain_output(self) -> None:
        """Read whatever the kernel's stdout/stderr pipe holds right now."""
        while True:
            try:
                data = os.read(self.out_r, 65536)
            except BlockingIOError:
                return
            except OSError:
                return
            if not data:
                return
            self.add_output(data)

    def add_output(self, data: bytes) -> None:
        cur = self.current
        if cur is None:
            return  # a background process printing between calls: dropped
        if cur.log_bytes < LOG_HEAD:
            keep = data[: LOG_HEAD - cur.log_bytes]
            if not self.buf:
                self.buf_since = time.monotonic()
            self.buf += keep
            data = data[len(keep) :]
            cur.log_bytes += len(keep)
        if data:
            cur.log_bytes += len(data)
            cur.tail += data
            del cur.tail[: max(0, len(cur.tail) - LOG_TAIL)]
        if len(self.buf) >= CHUNK_BYTES:
            self.flush_logs()

    def flush_logs(self, final: bool = False) -> None:
        cur = self.current
        if cur is None:
            return
        text = cur.decoder.decode(bytes(self.buf), final=final)
        self.buf.clear()
        if text:
            self.send({"ev": "log", "id": cur.id, "text": text})

    def finish_logs(self, note: str = "") -> None:
        """Flush everything, with the truncation marker and the kept tail at the end."""
        cur = self.current
        assert cur is not None
        self.flush_logs(final=True)
        dropped = cur.log_bytes - LOG_HEAD - len(cur.tail)
        text = ""
        if dropped > 0:
            text += f"\n[... {dropped} bytes of output truncated ...]\n"
        if cur.tail:
            text += cur.tail.decode("utf-8", "replace")
        text += note
        if text:
            self.send({"ev": "log", "id": cur.id, "text": text})

    # -- requests ---------------------------------------------------------------------------

    def on_request(self, message: dict[str, Any]) -> None:
        op = message.get("op")
        if op == "exec":
            self.pending.append(message)
            self.maybe_start()
        elif op == "interrupt":
            cur = self.current
            if cur is not None and self.kernel is not None and cur.kill_at is None:
                self.signal_kernel()
                cur.kill_at = time.monotonic() + cur.grace
        elif op == "restart":
            if self.current is not None:
                self.end_killed("killed", "\n[kernel restarted; variables were reset]\n")
            else:
                self.respawn()
            self.send({"ev": "restarted"})
        elif op == "ping":
            self.send({"ev": "pong"})

    def signal_kernel(self) -> None:
        if self.kernel is not None:
            with contextlib.suppress(OSError):
                os.kill(self.kernel.pid, signal.SIGINT)

    def maybe_start(self) -> None:
        if self.current is not None or not self.pending or not self.kernel_ready:
            return
        cur = Exec(self.pending.pop(0))
        cur.before = snapshot(DATA_DIR)
        self.current = cur
        self.buf.clear()
        os.write(self.req_w, protocol.encode({"op": "exec", "id": cur.id, "code": cur.code}))

    def end(self, status: str, fresh: bool, note: str = "") -> None:
        cur = self.current
        assert cur is not None
        self.finish_logs(note)
        after = snapshot(DATA_DIR)
        files = [
            {"path": path, "size": meta[0]}
            for path, meta in sorted(after.items())
            if cur.before.get(path) != meta
        ]
        self.current = None
        self.send(
            {
                "ev": "done",
                "id": cur.id,
                "status": status,
                "fresh": fresh,
                "files": files[:MAX_REPORTED],
                "files_truncated": len(files) > MAX_REPORTED,
            }
        )
        self.maybe_start()

    def end_killed(self, status: str, note: str) -> None:
        """The kernel is gone mid-call: report, then start a fresh one (files stay)."""
        self.kill_kernel()
        self.end(status, fresh=False, note=note)
        self.spawn()

    # -- kernel events ----------------------------------------------------------------------

    def on_kernel_event(self, message: dict[str, Any], payload: bytes) -> None:
        ev = message.get("ev")
        cur = self.current
        if ev == "ready":
            self.kernel_ready = True
            self.send({"ev": "ready"})
            self.maybe_start()
        elif ev == "warm":
            self.send({"ev": "warm"})
        elif ev == "image" and cur is not None:
            self.drain_output()
            self.flush_logs()
            if cur.images < MAX_IMAGES and len(payload) <= MAX_IMAGE_BYTES:
                cur.images += 1
                self.send({"ev": "image", "id": cur.id}, payload)
            else:
                self.add_output(b"\n[image dropped: at most 10 images of 5 MB per call]\n")
        elif ev == "done" and cur is not None and message.get("id") == cur.id:
            self.drain_output()
            self.end(cur.status or str(message.get("status")), bool(message.get("fresh")))

    def on_kernel_exit(self) -> None:
        cur = self.current
        kernel = self.kernel
        assert kernel is not None
        code = kernel.returncode
        if cur is None:
            # Died between calls (e.g. os._exit from a thread): be ready again, without spinning.
            time.sleep(0.2)
            self.respawn()
            return
        oom_now = oom_kills()
        if code == -signal.SIGKILL and (oom_now is None or oom_now != cur.oom_before):
            note = "\n[kernel killed: memory limit exceeded; variables were reset, files kept]\n"
            self.end_killed("oom", note)
        else:
            self.end_killed("killed", f"\n[kernel exited ({code}); variables were reset]\n")

    # -- main loop --------------------------------------------------------------------------

    def tick(self) -> None:
        """Timers: log chunk flush, call deadline, kill after grace, kernel death."""
        now = time.monotonic()
        cur = self.current
        if cur is not None and self.buf and now - self.buf_since >= CHUNK_SECONDS:
            self.flush_logs()
        if cur is not None and cur.kill_at is None and now >= cur.deadline:
            cur.status = "timeout"
            self.signal_kernel()
            cur.kill_at = now + cur.grace
        elif cur is not None and cur.kill_at is not None and now >= cur.kill_at:
            status = cur.status or "killed"
            why = "timed out" if status == "timeout" else "interrupted"
            self.end_killed(status, f"\n[{why}: kernel killed; variables were reset, files kept]\n")
        elif self.kernel is not None and self.kernel.poll() is not None:
            self.drain_output()
            self.on_kernel_exit()

    def run(self) -> None:
        os.set_blocking(sys.stdin.fileno(), False)
        self.sel.register(sys.stdin.fileno(), selectors.EVENT_READ, "host")
        self.spawn()
        while True:
            for key, _ in self.sel.select(timeout=CHUNK_SECONDS / 2):
                if key.data == "host":
                    try:
                        data = os.read(key.fd, 65536)
                    except BlockingIOError:
                        continue
                    if not data:
                        self.kill_kernel()
                        return  # the host hung up: the container ends
                    for message, _ in self.host_reader.feed(data):
                        self.on_request(message)
                elif key.data == "out":
                    try:
                        data = os.read(key.fd, 65536)
                    except BlockingIOError:
                        continue
                    if data:
                        self.add_output(data)
                    else:
                        self.unwatch(key.fd)  # EOF; the exit is noticed by tick()
                elif key.data == "ev":
                    self.read_kernel_events(key.fd)
            self.tick()

    def read_kernel_events(self, fd: int) -> None:
        try:
            data = os.read(fd, 1 << 20)
        except BlockingIOError:
            return
        if not data:
            self.unwatch(fd)  # EOF; the exit is noticed by tick()
            return
        try:
            frames = self.ev_reader.feed(data)
        except protocol.ProtocolError:
            if self.current is not None:
                self.end_killed("killed", "\n[kernel sent a malformed frame; restarted]\n")
            else:
                self.respawn()
            return
        for message, payload in frames:
            self.on_kernel_event(message, payload)


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # docker kill -s INT must not end the session
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    Supervisor().run()


if __name__ == "__main__":
    main()
