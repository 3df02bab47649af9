"""The one place that decides how a sandbox container is created (pure; no engine needed).

Every hardening control of the checklist in docs/sandbox-hardening.md is a keyword here;
`tests/unit/test_sandbox_config.py` fails on any dangerous flag.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from docker.types import HostConfig, LogConfig, Ulimit

from assistantd.settings import Settings

API_VERSION = "1.41"  # Docker 20.10; newer engines accept it
DATA_MOUNT = "/mnt/data"
COMMAND = ["python3", "/opt/assistantd/runtime/supervisor.py"]
LABEL_SANDBOX = "assistantd.sandbox"
LABEL_INSTANCE = "assistantd.instance"
LABEL_RUN = "assistantd.run"
LABEL_SESSION = "assistantd.session"
POOL_SESSION = "-pool-"


def environment(settings: Settings) -> dict[str, str]:
    """The allow-listed environment: nothing of the host's is passed on."""
    threads = str(max(1, int(settings.sandbox.cpus)))
    return {
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": "/tmp",
        "LANG": "C.UTF-8",
        "MPLBACKEND": "Agg",
        "PYTHONDONTWRITEBYTECODE": "1",
        "OPENBLAS_NUM_THREADS": threads,
        "OMP_NUM_THREADS": threads,
    }


def host_config(settings: Settings, mount_dir: Path) -> dict[str, Any]:
    memory = settings.sandbox.memory_bytes
    config: dict[str, Any] = HostConfig(
        version=API_VERSION,
        binds={str(mount_dir): {"bind": DATA_MOUNT, "mode": "rw"}},
        network_mode="none",
        read_only=True,
        tmpfs={"/tmp": f"rw,nosuid,nodev,size={settings.sandbox.tmp_bytes}"},
        cap_drop=["ALL"],
        security_opt=["no-new-privileges:true"],
        pids_limit=settings.sandbox.pids_limit,
        mem_limit=memory,
        memswap_limit=memory,  # no swap
        nano_cpus=int(settings.sandbox.cpus * 1e9),
        ulimits=[
            Ulimit(name="nofile", soft=settings.sandbox.nofile, hard=settings.sandbox.nofile),
            Ulimit(
                name="fsize",
                soft=settings.sandbox.max_file_bytes,
                hard=settings.sandbox.max_file_bytes,
            ),
            Ulimit(name="core", soft=0, hard=0),
        ],
        log_config=LogConfig(type=LogConfig.types.NONE),
        init=True,
        ipc_mode="private",
        runtime=settings.sandbox.runtime,
    )
    return config


def create_kwargs(
    settings: Settings, *, name: str, mount_dir: Path, labels: dict[str, str]
) -> dict[str, Any]:
    """Arguments for `docker.APIClient.create_container`."""
    return {
        "image": settings.sandbox.image,
        "command": COMMAND,
        "name": name,
        "hostname": "sandbox",
        "user": f"{settings.sandbox.uid}:{settings.sandbox.gid}",
        "working_dir": DATA_MOUNT,
        "environment": environment(settings),
        "labels": labels,
        "stdin_open": True,
        "tty": False,
        "detach": True,
        "host_config": host_config(settings, mount_dir),
    }
