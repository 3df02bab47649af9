"""The one retry policy for calls to the model server: chat completions (streamed or not), the
relayed endpoints, and the embeddings of file search.

A failure the caller calls retryable (connect errors, timeouts, 408, 429, 5xx: see
`errors.from_status`) is retried at most `retries` times. Each wait is the server's own hint
(`Retry-After`, read by `errors.retry_after`, at most 60 s) when it gave one, else exponential
backoff with jitter: `base_s * 2**attempt`, capped at `BACKOFF_MAX_S`, then drawn from the upper
half of that (so concurrent callers do not retry in step). Built on tenacity: `retrying` returns
its `AsyncRetrying`, used as

    async for attempt in retrying(retries=3, retryable=..., hint=...):
        with attempt:
            ...  # one try; an exception the policy retries is swallowed, any other re-raised

The last failure is re-raised as it is (never a `tenacity.RetryError`).
"""

from __future__ import annotations

import random
from collections.abc import Callable

from tenacity import AsyncRetrying, RetryCallState, stop_never

BACKOFF_BASE_S = 0.5
BACKOFF_MAX_S = 8.0


def backoff(attempt: int, base_s: float = BACKOFF_BASE_S, hint: float | None = None) -> float:
    """Seconds to wait before retry number `attempt` (0 for the first retry)."""
    if hint is not None:
        return hint
    ceiling = min(base_s * 2.0**attempt, BACKOFF_MAX_S)
    return ceiling * (0.5 + random.random() / 2)


def _no_hint(error: BaseException) -> float | None:
    return None


def retrying(
    *,
    retries: int,
    retryable: Callable[[BaseException], bool],
    hint: Callable[[BaseException], float | None] = _no_hint,
    base_s: float = BACKOFF_BASE_S,
    on_failure: Callable[[BaseException, bool], None] | None = None,
) -> AsyncRetrying:
    """The policy for one call: retry what `retryable` accepts, `retries` times at most.

    `on_failure(error, will_retry)` hears of every failed try that the policy judged (for the
    metrics); cancellation and other exceptions `retryable` refuses are re-raised at once.
    """

    def should_retry(state: RetryCallState) -> bool:
        outcome = state.outcome
        if outcome is None or not outcome.failed:
            return False
        error = outcome.exception()
        assert error is not None
        if not isinstance(error, Exception):  # CancelledError, GeneratorExit, ...
            return False
        again = retryable(error) and state.attempt_number <= retries
        if on_failure is not None:
            on_failure(error, again)
        return again

    def wait(state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome is not None else None
        return backoff(state.attempt_number - 1, base_s, None if error is None else hint(error))

    return AsyncRetrying(retry=should_retry, wait=wait, stop=stop_never, reraise=True)
