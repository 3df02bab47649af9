"""SSEDecoder fed with arbitrary chunk boundaries."""

from __future__ import annotations

import pytest

from assistantd.upstream.sse import SSEDecoder

STREAM = (
    b": keep-alive\n\n"
    b'data: {"a": 1}\n\n'
    b'event: message\r\nid: 7\r\ndata: {"b":\r\ndata: 2}\r\n\r\n'
    b"retry: 100\n"
    b'data:{"c": "\xc3\xa9"}\r\r'
    b"data: [DONE]\n\n"
)
EXPECTED = [b'{"a": 1}', b'{"b":\n2}', b'{"c": "\xc3\xa9"}', b"[DONE]"]


def decode_in(pieces: list[bytes]) -> list[bytes]:
    decoder = SSEDecoder()
    out = [event for piece in pieces for event in decoder.feed(piece)]
    return out + decoder.flush()


@pytest.mark.parametrize("size", [1, 2, 3, 7, 16, 1000])
def test_any_boundaries(size: int) -> None:
    pieces = [STREAM[i : i + size] for i in range(0, len(STREAM), size)]
    assert decode_in(pieces) == EXPECTED


def test_every_single_split_point() -> None:
    for cut in range(1, len(STREAM)):
        assert decode_in([STREAM[:cut], STREAM[cut:]]) == EXPECTED, cut


def test_unterminated_last_event_is_flushed() -> None:
    assert decode_in([b'data: {"x": 1}']) == [b'{"x": 1}']
    assert decode_in([b"data: a\n"]) == [b"a"]
    assert decode_in([b""]) == []
