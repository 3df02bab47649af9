"""The sandbox's container configuration, inspected without an engine."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistantd.settings import Settings
from assistantd.tools.code_interpreter import docker_config as dc
from assistantd.tools.code_interpreter.events import SandboxFileError
from assistantd.tools.code_interpreter.session_files import (
    check_name,
    check_session_key,
    split_relative,
)


@pytest.fixture
def kwargs(tmp_path: Path) -> dict[str, object]:
    settings = Settings(data_dir=tmp_path)
    return dc.create_kwargs(
        settings, name="n", mount_dir=tmp_path / "sandbox" / "thread_1", labels={"a": "b"}
    )


def test_hostconfig_has_no_dangerous_flags(kwargs: dict[str, object], tmp_path: Path) -> None:
    hc = kwargs["host_config"]
    assert isinstance(hc, dict)
    assert not hc.get("Privileged")
    assert not hc.get("CapAdd")
    assert hc["CapDrop"] == ["ALL"]
    assert hc["NetworkMode"] == "none"
    assert hc["ReadonlyRootfs"] is True
    assert "no-new-privileges:true" in hc["SecurityOpt"]
    assert not any("seccomp" in opt or "apparmor" in opt for opt in hc["SecurityOpt"])
    for key in ("PidMode", "UsernsMode", "UTSMode", "CgroupnsMode"):
        assert hc.get(key) in (None, ""), key
    assert hc["IpcMode"] == "private"
    assert not hc.get("Devices") and not hc.get("DeviceRequests") and not hc.get("VolumesFrom")
    assert not hc.get("Mounts") and not hc.get("PortBindings") and not hc.get("Links")
    assert hc["Binds"] == [f"{tmp_path / 'sandbox' / 'thread_1'}:/mnt/data:rw"]
    assert all("docker.sock" not in bind for bind in hc["Binds"])
    assert hc["Memory"] == hc["MemorySwap"] == 1024**3
    assert hc["NanoCpus"] == 10**9
    assert hc["PidsLimit"] == 128
    assert hc["Init"] is True
    assert hc["LogConfig"]["Type"] == "none"
    assert set(hc["Tmpfs"]) == {"/tmp"} and "size=" in hc["Tmpfs"]["/tmp"]
    limits = {u["Name"]: u["Hard"] for u in hc["Ulimits"]}
    assert set(limits) == {"nofile", "fsize", "core"} and limits["core"] == 0
    assert "Runtime" not in hc or hc["Runtime"] is None


def test_container_user_and_env(kwargs: dict[str, object]) -> None:
    assert kwargs["user"] == "10001:10001"
    assert not str(kwargs["user"]).startswith("0")
    env = kwargs["environment"]
    assert isinstance(env, dict)
    assert set(env) <= {
        "PATH", "HOME", "LANG", "MPLBACKEND", "PYTHONDONTWRITEBYTECODE",
        "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
    }  # fmt: skip
    assert kwargs["tty"] is False and kwargs["stdin_open"] is True


@pytest.mark.parametrize("name", ["", ".", "..", "a/b", "a\x00b", "x\n", "a" * 256])
def test_bad_names_rejected(name: str) -> None:
    with pytest.raises(SandboxFileError):
        check_name(name)


@pytest.mark.parametrize("key", ["", "../x", "a/b", ".pool", "a..b", "x" * 200])
def test_bad_session_keys_rejected(key: str) -> None:
    with pytest.raises(SandboxFileError):
        check_session_key(key)


def test_relative_paths() -> None:
    assert split_relative("sandbox:/mnt/data/a/b.csv") == ["a", "b.csv"]
    assert split_relative("/mnt/data/x.png") == ["x.png"]
    assert split_relative("./x") == ["x"]
    with pytest.raises(SandboxFileError):
        split_relative("../etc/passwd")
