"""Object ids with OpenAI's prefixes (`asst_`, `thread_`, `msg_`, `run_`, `step_`, `call_`,
`file-`, `vs_`, `vsfb_`; for Responses and Conversations `resp_`, `conv_`, `fc_`, `fco_`,
`fs_`, `ci_`, `cntr_`, `cfile_`).

Ids sort in creation order: the first 8 characters after the prefix encode the creation time in
milliseconds, the rest a per-process counter and random bits. Lists therefore page by id alone,
which gives the stable tie-break OpenAI needs for objects made in the same second.
"""

from __future__ import annotations

import secrets
import threading
import time

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_lock = threading.Lock()
_last_ms = 0
_counter = 0


def _base62(value: int, width: int) -> str:
    chars = []
    for _ in range(width):
        value, digit = divmod(value, 62)
        chars.append(_ALPHABET[digit])
    return "".join(reversed(chars))


def _next_stamp() -> tuple[int, int]:
    global _last_ms, _counter
    with _lock:
        now = time.time_ns() // 1_000_000
        if now <= _last_ms:
            now = _last_ms  # clock stepped back or same ms: keep order with the counter
            _counter += 1
        else:
            _last_ms, _counter = now, secrets.randbelow(62**3)
        return now, _counter


def new_id(prefix: str) -> str:
    """A fresh id: prefix + 8 chars of ms time + 4 chars of counter + 12 random chars."""
    ms, counter = _next_stamp()
    return prefix + _base62(ms, 8) + _base62(counter, 4) + _base62(secrets.randbits(71), 12)


def sort_key(prefix: str, created_at: int, counter: int) -> str:
    """A sort key like our ids' for an object made at `created_at` (unix seconds) elsewhere:
    objects imported with their own ids sort among ours by creation, `counter` breaking ties."""
    return prefix + _base62(created_at * 1000, 8) + _base62(counter % 62**4, 4) + "0" * 12


def created_at_of(object_id: str, prefix: str) -> int:
    """The unix second an id was made in (used to keep created_at consistent with id order)."""
    stamp = object_id[len(prefix) : len(prefix) + 8]
    value = 0
    for char in stamp:
        value = value * 62 + _ALPHABET.index(char)
    return value // 1000


ASSISTANT = "asst_"
THREAD = "thread_"
MESSAGE = "msg_"
RUN = "run_"
STEP = "step_"
CALL = "call_"
FILE = "file-"
VECTOR_STORE = "vs_"
FILE_BATCH = "vsfb_"
CONVERSATION = "conv_"
RESPONSE = "resp_"
FUNCTION_CALL = "fc_"
FUNCTION_CALL_OUTPUT = "fco_"
FILE_SEARCH_CALL = "fs_"
CODE_INTERPRETER_CALL = "ci_"
CONTAINER = "cntr_"
CONTAINER_FILE = "cfile_"
