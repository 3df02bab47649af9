"""A compose file (docker-compose.yml, docker-compose.nodes.yml) as Docker Compose resolves it
(`config`), for checks that need no registry."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def compose_command() -> list[str] | None:
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    probe = (
        subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
        if shutil.which("docker")
        else None
    )
    return ["docker", "compose"] if probe is not None and probe.returncode == 0 else None


def compose_config(
    *, file: str = "docker-compose.yml", profiles: tuple[str, ...] = (), **env: str
) -> dict[str, Any]:
    """The resolved compose file, with `env` set for its `${...}` interpolation."""
    compose = compose_command()
    if compose is None:
        if os.environ.get("CI"):
            pytest.fail("CI installs docker-compose (scripts/services); it is missing")
        pytest.skip("neither docker-compose nor the compose plugin is installed")
    result = subprocess.run(
        [
            *compose,
            "-f",
            str(ROOT / file),
            *(arg for profile in profiles for arg in ("--profile", profile)),
            "config",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    config: dict[str, Any] = yaml.safe_load(result.stdout)
    return config


def bind_mounts(service: dict[str, Any]) -> dict[str, str]:
    """A service's `volumes` as {source: target} (short syntax, as `config` prints it)."""
    mounts: dict[str, str] = {}
    for entry in service.get("volumes", []):
        if isinstance(entry, dict):
            mounts[str(entry["source"])] = str(entry["target"])
        else:
            source, target, *_ = str(entry).split(":")
            mounts[source] = target
    return mounts
