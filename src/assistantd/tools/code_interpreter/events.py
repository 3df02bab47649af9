"""What a sandbox call yields (`LogChunk`, `Image`, `Done`) and the errors a sandbox raises.

Pure data: no Docker, no I/O. The run executor maps these onto run-step `logs`/`image` outputs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

DoneStatus = Literal["ok", "error", "timeout", "oom", "killed"]


@dataclass(frozen=True, slots=True)
class ChangedFile:
    """A regular file under /mnt/data that is new or changed by this call."""

    path: str
    """Relative to /mnt/data, `/`-separated."""
    size: int


@dataclass(frozen=True, slots=True)
class LogChunk:
    """stdout/stderr text, streamed in order (~50 ms or 4 KiB per chunk)."""

    text: str


@dataclass(frozen=True, slots=True)
class Image:
    """A PNG from `plt.show()`, an open figure at the end of the call, or `PIL.Image.show()`."""

    png: bytes


@dataclass(frozen=True, slots=True)
class Done:
    """The last event of every call.

    status: ok; error (an exception, incl. KeyboardInterrupt after `interrupt`); timeout (the
    call ran over; variables survive unless the kernel had to be killed); oom (the kernel hit
    the memory limit and was restarted); killed (the kernel or container died otherwise).
    session_reset: this call ran on a fresh kernel although the session had run code before,
    so earlier variables are gone (files in /mnt/data stay). Tell the model.
    """

    status: DoneStatus
    files: list[ChangedFile] = field(default_factory=list)
    session_reset: bool = False
    quota_exceeded: bool = False
    """/mnt/data outgrew its quota: the files this call wrote were removed."""


SandboxEvent = LogChunk | Image | Done


class SandboxError(Exception):
    """Base of the sandbox's errors."""


class SandboxUnavailable(SandboxError):
    """No usable engine or image: the code interpreter is off. Code never runs on the host."""


class SandboxFileError(SandboxError):
    """A rejected file name or path, or a file that is missing, too large or not regular."""
