"""Packaging checks that need no registry: the compose file is valid for Docker Compose, and
the server image's Dockerfile runs the server as a non-root user with a health check."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _compose() -> list[str] | None:
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    probe = (
        subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
        if shutil.which("docker")
        else None
    )
    return ["docker", "compose"] if probe is not None and probe.returncode == 0 else None


def test_compose_file_is_accepted() -> None:
    compose = _compose()
    if compose is None:
        if os.environ.get("CI"):
            pytest.fail("CI installs docker-compose (scripts/services); it is missing")
        pytest.skip("neither docker-compose nor the compose plugin is installed")
    result = subprocess.run(
        [*compose, "-f", str(ROOT / "docker-compose.yml"), "config", "-q"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_dockerfile_runs_unprivileged_with_healthcheck() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "\nUSER assistantd\n" in dockerfile
    assert "HEALTHCHECK" in dockerfile and "/healthz" in dockerfile
    assert '"serve", "--host", "0.0.0.0"' in dockerfile
