"""Builds the sandbox image: `build_image(tag=..., offline=...)` and `python -m` of this module.

Online: `sandbox/Dockerfile` (FROM python:3.12-slim + pinned pip packages). Offline (no registry):
an mmdebstrap'd Debian bookworm rootfs with Debian's python3 data stack, `docker import`ed as a
base, then a classic `docker build` that adds the same layer as the online Dockerfile
(`runtime/setup_image.sh`). The image carries a label with a hash of everything that went in, so
a rebuild with unchanged inputs is a no-op. The rootfs tarball is cached in
`$ASSISTANTD_SANDBOX_CACHE` (default `~/.cache/assistantd`) so CI's second run is fast.

Progress (the mmdebstrap phases, `docker import`, each `Step n/m` of the build) goes to a
`progress` callback, by default the log. It owns building only; running containers is
`sandbox.py`'s job, and building on a server's first start is `autobuild.py`'s.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import docker
from docker.errors import BuildError, ImageNotFound

log = logging.getLogger(__name__)

HASH_LABEL = "assistantd.sandbox.hash"
DEFAULT_TAG = "assistantd-sandbox:latest"
BASE_REPO = "assistantd-sandbox-base"
RUNTIME_DIR = Path(__file__).parent / "runtime"
RUNTIME_FILES = ("protocol.py", "kernel.py", "supervisor.py", "setup_image.sh")
REPO_ROOT = Path(__file__).resolve().parents[4]
ONLINE_DOCKERFILE = REPO_ROOT / "sandbox/Dockerfile"
Progress = Callable[[str], None]

SUITE = "bookworm"
PACKAGES = (
    "python3",
    "python3-numpy",
    "python3-pandas",
    "python3-matplotlib",
    "python3-scipy",
    "python3-pil",
    "python3-openpyxl",
    "python3-xlrd",
    "python3-tabulate",
    "tini",
)
MMDEBSTRAP_OPTIONS = (
    "--variant=essential",
    "--dpkgopt=path-exclude=/usr/share/doc/*",
    "--dpkgopt=path-exclude=/usr/share/man/*",
    "--dpkgopt=path-exclude=/usr/share/locale/*",
    "--dpkgopt=path-exclude=/usr/share/info/*",
)

# The offline top layer; mirrors sandbox/Dockerfile after its pip step. No `# syntax=` line:
# that would make BuildKit fetch a frontend from a registry.
OFFLINE_DOCKERFILE = """\
FROM {base}
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin PYTHONDONTWRITEBYTECODE=1
COPY runtime/ /opt/assistantd/runtime/
RUN sh /opt/assistantd/runtime/setup_image.sh
ENV LANG=C.UTF-8 MPLBACKEND=Agg HOME=/tmp MPLCONFIGDIR=/tmp/.mplconfig \
    OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
USER 10001:10001
WORKDIR /mnt/data
CMD ["python3", "/opt/assistantd/runtime/supervisor.py"]
"""


def cache_dir() -> Path:
    default = Path("~/.cache/assistantd").expanduser()
    return Path(os.environ.get("ASSISTANTD_SANDBOX_CACHE", default)).expanduser()


def rootfs_hash() -> str:
    spec = json.dumps([SUITE, PACKAGES, MMDEBSTRAP_OPTIONS]).encode()
    return hashlib.sha256(spec).hexdigest()[:16]


def content_hash(*, offline: bool) -> str:
    """Hash of every input of the image: runtime files, package list, build recipe."""
    digest = hashlib.sha256()
    for name in RUNTIME_FILES:
        digest.update(name.encode() + b"\0" + (RUNTIME_DIR / name).read_bytes() + b"\0")
    if offline:
        digest.update(rootfs_hash().encode() + OFFLINE_DOCKERFILE.encode())
    else:
        for path in (REPO_ROOT / "sandbox/Dockerfile", REPO_ROOT / "sandbox/requirements.txt"):
            digest.update(path.read_bytes())
    return digest.hexdigest()[:24]


def rootfs_cached() -> bool:
    return (cache_dir() / f"rootfs-{SUITE}-{rootfs_hash()}.tar").exists()


def ensure_rootfs(progress: Progress = log.info) -> Path:
    """The cached Debian rootfs tarball, made by mmdebstrap if missing (~1.5-4 min)."""
    directory = cache_dir()
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"rootfs-{SUITE}-{rootfs_hash()}.tar"
    if target.exists():
        return target
    if shutil.which("mmdebstrap") is None:
        raise RuntimeError("mmdebstrap is not installed (apt-get install mmdebstrap)")
    partial = target.with_suffix(".tmp.tar")  # mmdebstrap picks the format from the suffix
    cmd = [
        "mmdebstrap",
        *MMDEBSTRAP_OPTIONS,
        "--include=" + ",".join(PACKAGES),
        SUITE,
        str(partial),
    ]
    progress("making the Debian rootfs: " + " ".join(cmd))
    _run_reporting(cmd, progress)
    partial.rename(target)
    return target


def _run_reporting(cmd: list[str], progress: Progress) -> None:
    """Run `cmd`, passing its info, warning and error lines (`I:`, `W:`, `E:`) to `progress`."""
    with subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, errors="replace"
    ) as process:
        assert process.stderr is not None
        tail: list[str] = []
        for line in process.stderr:
            line = line.strip()
            if line[:2] in ("I:", "W:", "E:"):
                progress(f"mmdebstrap {line}")
            tail = [*tail[-19:], line]
    if process.returncode:
        raise RuntimeError(f"mmdebstrap failed ({process.returncode}): " + " | ".join(tail[-5:]))


def base_tag() -> str:
    return f"{BASE_REPO}:{rootfs_hash()}"


def ensure_base(client: docker.DockerClient, progress: Progress = log.info) -> str:
    """The imported rootfs as a local image tag."""
    tag = base_tag()
    try:
        client.images.get(tag)
        return tag
    except ImageNotFound:
        pass
    tarball = ensure_rootfs(progress)
    progress(f"importing the rootfs into Docker as {tag}")
    client.api.import_image_from_file(str(tarball), repository=BASE_REPO, tag=rootfs_hash())
    return tag


def _offline_context(directory: Path, base: str) -> None:
    (directory / "runtime").mkdir()
    for name in RUNTIME_FILES:
        shutil.copy2(RUNTIME_DIR / name, directory / "runtime" / name)
    (directory / "Dockerfile").write_text(OFFLINE_DOCKERFILE.format(base=base))


def _online_context(directory: Path) -> None:
    if not ONLINE_DOCKERFILE.exists():
        raise RuntimeError("sandbox/Dockerfile not found: use a source checkout or --offline")
    (directory / "sandbox").mkdir()
    for name in ("Dockerfile", "requirements.txt"):
        shutil.copy2(REPO_ROOT / "sandbox" / name, directory / "sandbox" / name)
    runtime = directory / "src/assistantd/tools/code_interpreter/runtime"
    runtime.mkdir(parents=True)
    for name in RUNTIME_FILES:
        shutil.copy2(RUNTIME_DIR / name, runtime / name)


def build_image(
    *,
    tag: str = DEFAULT_TAG,
    offline: bool,
    client: docker.DockerClient | None = None,
    progress: Progress = log.info,
) -> str:
    """Build (or find up to date) the sandbox image; return its id."""
    client = client or docker.from_env(timeout=600)
    want = content_hash(offline=offline)
    try:
        image = client.images.get(tag)
        if image.labels.get(HASH_LABEL) == want:
            return str(image.id)
    except ImageNotFound:
        pass
    with tempfile.TemporaryDirectory(prefix="assistantd-sandbox-") as tmp:
        context = Path(tmp)
        if offline:
            _offline_context(context, ensure_base(client, progress))
            dockerfile, network = "Dockerfile", "none"
        else:
            _online_context(context)
            dockerfile, network = "sandbox/Dockerfile", "default"
        stream = client.api.build(
            path=str(context),
            dockerfile=dockerfile,
            tag=tag,
            labels={HASH_LABEL: want},
            network_mode=network,
            pull=not offline,
            rm=True,
            forcerm=True,
            decode=True,
        )
        _follow_build(stream, progress)
    return str(client.images.get(tag).id)


def _follow_build(stream: Any, progress: Progress) -> None:
    """Report each `Step n/m : ...` of a build stream; raise BuildError on its error."""
    lines: list[dict[str, Any]] = []
    for chunk in stream:
        lines.append(chunk)
        if "error" in chunk:
            raise BuildError(str(chunk["error"]).strip(), lines)
        text = str(chunk.get("stream", "")).strip()
        if text.startswith("Step "):
            progress(text)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Build the code-interpreter sandbox image.")
    parser.add_argument("--offline", action="store_true", help="Debian rootfs, no registry")
    parser.add_argument("--tag", default=DEFAULT_TAG)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    started = time.monotonic()
    image_id = build_image(tag=args.tag, offline=args.offline)
    print(f"{args.tag} {image_id} ({time.monotonic() - started:.1f}s)", file=sys.stderr)
    print(image_id)


if __name__ == "__main__":
    main()
