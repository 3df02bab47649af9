"""Fixtures of the end-to-end tests that drive several `assistantd serve` processes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack

import openai
import pytest

from tests.conftest import KEY_A

Connect = Callable[[str], openai.OpenAI]


@pytest.fixture
def connect() -> Iterator[Connect]:
    """The official SDK for a node's URL. Every client is closed at teardown: an unclosed one's
    pooled sockets raise ResourceWarning wherever the garbage collector meets them, often in
    a later test."""
    with ExitStack() as stack:

        def open_client(url: str) -> openai.OpenAI:
            api = openai.OpenAI(base_url=f"{url}/v1", api_key=KEY_A, max_retries=0)
            return stack.enter_context(api)

        yield open_client
