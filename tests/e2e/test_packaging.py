"""Packaging checks that need no registry: the compose file is valid for Docker Compose and
builds and shares what the code interpreter needs, and the server image's Dockerfile runs the
server as a non-root user with a health check. (Its code interpreter running in a container is
tests/docker/test_compose_server.py.)"""

from __future__ import annotations

from pathlib import Path

from tests.support.compose import ROOT, bind_mounts, compose_config


def test_compose_file_is_accepted() -> None:
    assert set(compose_config()["services"]) == {"assistantd", "postgres", "sandbox-image"}


def test_compose_builds_the_sandbox_and_shares_its_folders_by_path(tmp_path: Path) -> None:
    """Compose builds the sandbox image before the server starts; the server drives sandboxes
    through the host's socket and finds each thread's folder at the path the engine uses."""
    folder = str(tmp_path / "sandbox")
    services = compose_config(ASSISTANTD_SANDBOX_HOST_DIR=folder)["services"]
    builder, server = services["sandbox-image"], services["assistantd"]
    assert builder["build"]["dockerfile"] == "sandbox/Dockerfile"
    assert Path(builder["build"]["context"]) == ROOT
    env = server["environment"]
    assert builder["image"] == env["ASSISTANTD_SANDBOX_IMAGE"]
    assert server["depends_on"]["sandbox-image"] == {"condition": "service_completed_successfully"}
    assert env["ASSISTANTD_SANDBOX_BUILD"] == "false"
    mounts = bind_mounts(server)
    assert mounts["/var/run/docker.sock"] == "/var/run/docker.sock"
    assert env["ASSISTANTD_SANDBOX_DIR"] == folder and mounts[folder] == folder
    # The default folder is absolute, the same on both sides, too.
    default = compose_config()["services"]["assistantd"]
    sandbox_dir = default["environment"]["ASSISTANTD_SANDBOX_DIR"]
    assert sandbox_dir.startswith("/") and bind_mounts(default)[sandbox_dir] == sandbox_dir


def test_dockerfile_runs_unprivileged_with_healthcheck() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "\nUSER assistantd\n" in dockerfile
    assert "HEALTHCHECK" in dockerfile and "/healthz" in dockerfile
    assert '"serve", "--host", "0.0.0.0"' in dockerfile
