"""The host folders bind-mounted at /mnt/data: `<root>/<session_key>` and `<root>/.pool/<token>`.

Owns safe names and paths, and all host-side file access to them. The folders are written by
untrusted code, so every read and write goes through directory fds with O_NOFOLLOW, and reads
accept regular files only. Blocking: call from a worker thread. Folders outlive containers.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import stat
from pathlib import Path

from .events import SandboxFileError

SESSION_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
POOL_DIR = ".pool"
STATE_DIR = ".state"  # markers outside any mount: "this session's kernel has run code"
MAX_NAME_BYTES = 255
MAX_PATH_PARTS = 32


def check_session_key(key: str) -> str:
    if not SESSION_KEY.fullmatch(key) or ".." in key:
        raise SandboxFileError(f"invalid sandbox session key {key!r}")
    return key


def check_name(name: str) -> str:
    """One path component that is safe to create: no separators, control chars, `.`/`..`."""
    if (
        not name
        or name in (".", "..")
        or "/" in name
        or any(ord(ch) < 32 or ord(ch) == 127 for ch in name)
        or len(name.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES
    ):
        raise SandboxFileError(f"invalid file name {name!r}")
    return name


def split_relative(path: str) -> list[str]:
    """`a/b.csv`, `/mnt/data/a/b.csv` or `sandbox:/mnt/data/a/b.csv` → ["a", "b.csv"]."""
    for prefix in ("sandbox:", "/mnt/data/", "mnt/data/"):
        if path.startswith(prefix):
            path = path[len(prefix) :]
    path = path.lstrip("/")
    parts = [part for part in path.split("/") if part not in ("", ".")]
    if not parts or len(parts) > MAX_PATH_PARTS:
        raise SandboxFileError(f"invalid path {path!r}")
    return [check_name(part) for part in parts]


class SessionFiles:
    def __init__(self, root: Path, uid: int, gid: int) -> None:
        self.root = root
        self._uid = uid
        self._gid = gid

    def _own(self, path: Path | int) -> None:
        """Make a folder writable by the sandbox user. As non-root we can't chown: open it up."""
        if os.geteuid() == 0:
            if isinstance(path, int):
                os.fchown(path, self._uid, self._gid)
            else:
                os.chown(path, self._uid, self._gid)
        elif not isinstance(path, int):
            path.chmod(0o777)

    def session_dir(self, key: str, *, create: bool = True) -> Path:
        path = self.root / check_session_key(key)
        if create and not path.is_dir():
            path.mkdir(parents=True, exist_ok=True)
            self._own(path)
        return path

    def new_pool_dir(self) -> Path:
        path = self.root / POOL_DIR / secrets.token_hex(8)
        path.mkdir(parents=True)
        self._own(path)
        return path

    def clear_pool_dirs(self) -> None:
        shutil.rmtree(self.root / POOL_DIR, ignore_errors=True)

    def remove_dir(self, path: Path) -> None:
        shutil.rmtree(path, ignore_errors=True)

    def adopt(self, pool_dir: Path, key: str) -> Path:
        """Make a pool container's (bind-mounted) folder the session's folder.

        The mount follows the directory, not its name, so renaming it on the host is invisible
        to the running container. Files already in the session folder (uploads) move into it.
        """
        target = self.root / check_session_key(key)
        if target.is_dir():
            for name in os.listdir(target):
                os.rename(target / name, pool_dir / name)
            target.rmdir()
        os.rename(pool_dir, target)
        return target

    def delete(self, key: str) -> None:
        shutil.rmtree(self.session_dir(key, create=False), ignore_errors=True)
        (self.root / STATE_DIR / key).unlink(missing_ok=True)

    def mark_ran(self, key: str) -> None:
        (self.root / STATE_DIR).mkdir(parents=True, exist_ok=True)
        (self.root / STATE_DIR / check_session_key(key)).touch()

    def has_run(self, key: str) -> bool:
        return (self.root / STATE_DIR / check_session_key(key)).exists()

    def put(self, key: str, name: str, data: bytes) -> None:
        """Write `/mnt/data/<name>` atomically; never through a symlink planted by user code."""
        check_name(name)
        dfd = os.open(self.session_dir(key), os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        tmp = f".upload-{secrets.token_hex(6)}"
        try:
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
            fd = os.open(tmp, flags, 0o644, dir_fd=dfd)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                if os.geteuid() == 0:
                    os.fchown(fd, self._uid, self._gid)
            finally:
                os.close(fd)
            os.rename(tmp, name, src_dir_fd=dfd, dst_dir_fd=dfd)
        except IsADirectoryError as exc:
            os.unlink(tmp, dir_fd=dfd)
            raise SandboxFileError(f"/mnt/data/{name} is a directory") from exc
        finally:
            os.close(dfd)

    def usage(self, key: str) -> int:
        """Bytes stored in the session folder (symlinks count as themselves, never followed)."""
        total = 0
        for top, dirs, names in os.walk(self.session_dir(key, create=False), followlinks=False):
            for name in (*dirs, *names):
                with contextlib.suppress(OSError):
                    total += os.lstat(os.path.join(top, name)).st_blocks * 512
        return total

    def remove(self, key: str, relative_path: str) -> None:
        """Delete one file of the session; like `read`, never through a symlinked directory."""
        parts = split_relative(relative_path)
        flags_dir = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
        try:
            fd = os.open(self.session_dir(key, create=False), flags_dir)
        except OSError:
            return
        try:
            for part in parts[:-1]:
                nxt = os.open(part, flags_dir, dir_fd=fd)
                os.close(fd)
                fd = nxt
            os.unlink(parts[-1], dir_fd=fd)  # unlink never follows a final symlink
        except OSError:
            pass  # already gone, or not reachable without following a link
        finally:
            os.close(fd)

    def read(self, key: str, relative_path: str, max_bytes: int) -> bytes:
        """Read a regular file under the session folder; symlinks anywhere → error."""
        parts = split_relative(relative_path)
        flags_dir = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
        try:
            fd = os.open(self.session_dir(key, create=False), flags_dir)
        except OSError as exc:
            raise SandboxFileError(f"no files for session {key!r}") from exc
        try:
            for part in parts[:-1]:
                nxt = os.open(part, flags_dir, dir_fd=fd)
                os.close(fd)
                fd = nxt
            flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY
            nxt = os.open(parts[-1], flags, dir_fd=fd)
            os.close(fd)
            fd = nxt
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise SandboxFileError(f"{relative_path!r} is not a regular file")
            if info.st_size > max_bytes:
                raise SandboxFileError(f"{relative_path!r} is larger than {max_bytes} bytes")
            chunks = []
            remaining = max_bytes + 1
            while remaining > 0:
                chunk = os.read(fd, min(remaining, 1 << 20))
                if not chunk:
                    break
                chunks.append(chunk)
                remaining -= len(chunk)
            if remaining <= 0:
                raise SandboxFileError(f"{relative_path!r} is larger than {max_bytes} bytes")
            return b"".join(chunks)
        except SandboxFileError:
            raise
        except OSError as exc:  # ENOENT, ELOOP (a symlink), ENOTDIR, EACCES, ...
            raise SandboxFileError(f"cannot read {relative_path!r}: {exc.strerror}") from exc
        finally:
            os.close(fd)
