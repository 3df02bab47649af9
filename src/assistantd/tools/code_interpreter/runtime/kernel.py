"""The kernel: runs user code in persistent globals, inside the sandbox container (stdlib only).

Started by the supervisor with stdin=/dev/null, stdout and stderr on one pipe the supervisor reads
(so anything user code prints, even at fd level or from subprocesses, is just log text), requests
on fd `argv[1]` and events on fd `argv[2]`. It owns: last-expression display, tracebacks without
kernel frames, matplotlib/PIL image capture, and pre-importing the heavy libraries. It does not
own timeouts, output caps or file tracking (the supervisor does), and it trusts nothing it runs.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import io
import os
import select
import signal
import sys
import threading
import traceback
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING or __package__:  # imported from the package (the host, the tests)
    from . import protocol
else:  # run as a script inside the container, beside protocol.py
    import protocol

PREIMPORT_IDLE_S = 0.2
PREIMPORTS = ("numpy", "pandas", "matplotlib", "matplotlib.pyplot", "PIL.Image")
FILENAME = "<cell>"


class Kernel:
    def __init__(self, req_fd: int, ev_fd: int) -> None:
        self._req_fd = req_fd
        self._ev_fd = ev_fd
        self._send_lock = threading.Lock()
        self._patched: set[str] = set()
        self.execs = 0
        self._main = threading.main_thread()
        self._in_exec = False
        self._critical = False  # main thread is writing a frame: defer KeyboardInterrupt
        self._pending = False
        self._preimporter: threading.Thread | None = None
        self._preimport_done = False
        self._exec_waiting = False  # tells the pre-import thread to stop at the next module
        # Keep the kernel's own module alive: user code gets a fresh `__main__`.
        self._own_module = sys.modules.get("__main__")
        # User code runs as `__main__`, so pickling classes it defines works.
        module = types.ModuleType("__main__")
        module.__dict__["__builtins__"] = builtins
        sys.modules["__main__"] = module
        self.ns: dict[str, Any] = module.__dict__

    # -- events -----------------------------------------------------------------------------

    def on_sigint(self, signum: int, frame: Any) -> None:
        """SIGINT interrupts user code only, and never in the middle of writing a frame."""
        if self._critical:
            self._pending = True
        elif self._in_exec:
            raise KeyboardInterrupt

    def send(self, message: dict[str, Any], payload: bytes = b"") -> None:
        frame = protocol.encode(message, payload)
        on_main = threading.current_thread() is self._main
        if on_main:
            self._critical = True
        try:
            with self._send_lock:
                view = memoryview(frame)
                while view:
                    view = view[os.write(self._ev_fd, view) :]
        finally:
            if on_main:
                self._critical = False
        if on_main and self._pending and self._in_exec:
            self._pending = False
            raise KeyboardInterrupt

    def emit_png(self, png: bytes) -> None:
        sys.stdout.flush()
        sys.stderr.flush()  # keep text printed before the image ahead of it
        self.send({"ev": "image"}, png)

    # -- image capture ----------------------------------------------------------------------

    @staticmethod
    def loaded(name: str) -> Any:
        """The module if fully imported; not while the pre-import thread is still running it."""
        module = sys.modules.get(name)
        if module is None or getattr(getattr(module, "__spec__", None), "_initializing", False):
            return None
        return module

    def ensure_patches(self) -> None:
        """Patch `pyplot.show` and `PIL.Image.Image.show` once their modules are loaded."""
        plt = self.loaded("matplotlib.pyplot")
        if plt is not None and "mpl" not in self._patched:
            self._patched.add("mpl")
            plt.show = lambda *args, **kwargs: self.harvest_figures()
        pil = self.loaded("PIL.Image")
        if pil is not None and "pil" not in self._patched:
            self._patched.add("pil")
            kernel = self

            def show(image: Any, *args: Any, **kwargs: Any) -> None:
                buf = io.BytesIO()
                image.save(buf, format="PNG")
                kernel.emit_png(buf.getvalue())

            pil.Image.show = show

    def harvest_figures(self) -> None:
        plt = self.loaded("matplotlib.pyplot")
        if plt is None:
            return
        for num in plt.get_fignums():
            fig = plt.figure(num)
            buf = io.BytesIO()
            try:
                fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
            except Exception:
                traceback.print_exc()
            else:
                self.emit_png(buf.getvalue())
            finally:
                plt.close(fig)

    # -- execution --------------------------------------------------------------------------

    def run(self, code: str) -> str:
        """Execute one cell; return "ok" or "error". Output goes to fds 1/2."""
        signal.signal(signal.SIGINT, self.on_sigint)
        self.ensure_patches()
        status = "ok"
        try:
            tree = ast.parse(code, FILENAME, "exec")
            last: ast.Expression | None = None
            if tree.body and isinstance(tree.body[-1], ast.Expr):
                last = ast.Expression(tree.body[-1].value)
                tree.body.pop()
            exec(compile(tree, FILENAME, "exec"), self.ns)
            if last is not None:
                value = eval(compile(last, FILENAME, "eval"), self.ns)
                if value is not None:
                    self.ns["_"] = value
                    print(repr(value))
        except BaseException as exc:  # includes KeyboardInterrupt and SystemExit from user code
            status = "error"
            self.print_user_traceback(exc)
        try:
            self.ensure_patches()
            self.harvest_figures()
        except BaseException as exc:
            status = "error"
            self.print_user_traceback(exc)
        sys.stdout.flush()
        sys.stderr.flush()
        return status

    @staticmethod
    def print_user_traceback(exc: BaseException) -> None:
        """Print the traceback as the user would expect it: no frames of this file."""
        here = os.path.abspath(__file__)
        te = traceback.TracebackException(type(exc), exc, exc.__traceback__)
        seen: set[int] = set()
        todo = [te]
        while todo:  # the exception and its chained causes/contexts
            item = todo.pop()
            if id(item) in seen:
                continue
            seen.add(id(item))
            frames = [f for f in item.stack if os.path.abspath(f.filename) != here]
            item.stack = traceback.StackSummary.from_list(frames)
            todo.extend(x for x in (item.__cause__, item.__context__) if x is not None)
        sys.stderr.write("".join(te.format()))

    def serve(self) -> None:
        reader = protocol.FrameReader()
        signal.signal(signal.SIGINT, self.on_sigint)
        self.send({"ev": "ready"})
        # Pre-import once idle, so a cold session's first call doesn't compete with it.
        while True:
            # (Re)start it after an idle moment; a call stops it between two modules.
            idle = not self._preimport_done and self._preimporter is None
            if idle and not select.select([self._req_fd], [], [], PREIMPORT_IDLE_S)[0]:
                self._preimporter = threading.Thread(target=self.preimport, daemon=True)
                self._preimporter.start()
                continue
            data = os.read(self._req_fd, 65536)
            if not data:
                return
            for message, _ in reader.feed(data):
                if message.get("op") == "exec":
                    self.handle_exec(message)

    def handle_exec(self, message: dict[str, Any]) -> None:
        fresh = self.execs == 0
        self.execs += 1
        self._in_exec = True  # from here on SIGINT interrupts this call
        try:
            if self._preimporter is not None:
                # Importing in two threads at once can hand one of them a partially initialised
                # module (importlib's answer to a cross-thread import cycle): stop it after the
                # module it is importing, then run the call alone.
                self._exec_waiting = True
                self._preimporter.join()
                self._preimporter = None
                self._exec_waiting = False
            status = self.run(str(message.get("code", "")))
        except KeyboardInterrupt as exc:  # while waiting, or between the cell and the harvest
            status = "error"
            self.print_user_traceback(exc)
        finally:
            self._in_exec = False
            self._pending = False
            self._exec_waiting = False
        signal.signal(signal.SIGINT, self.on_sigint)  # user code may have replaced it
        self.send({"ev": "done", "id": message.get("id"), "status": status, "fresh": fresh})

    def preimport(self) -> None:
        for name in PREIMPORTS:
            if self._exec_waiting:
                return  # resumed when idle again; already imported modules are instant
            with contextlib.suppress(Exception):
                __import__(name)
        self.ensure_patches()
        self._preimport_done = True
        self.send({"ev": "warm"})


def main() -> None:
    req_fd, ev_fd = int(sys.argv[1]), int(sys.argv[2])
    try:
        with open("/proc/self/oom_score_adj", "w") as fh:
            fh.write("1000")  # under memory pressure the kernel dies, not the supervisor
    except OSError:
        pass
    sys.path[0] = ""  # user modules in the working dir (/mnt/data), not the runtime's dir
    Kernel(req_fd, ev_fd).serve()


if __name__ == "__main__":
    main()
