"""StringFieldDecoder: the `code` field streamed out of partial JSON arguments."""

from __future__ import annotations

import json

import pytest

from assistantd.executor.partial_json import StringFieldDecoder

CODE = 'import math\nprint("π ≈", math.pi)\t# \\ done 😀 \u00e9'
ARGS = json.dumps({"language": "python", "code": CODE, "other": {"code": "nested"}})


def feed_all(pieces: list[str], field: str = "code") -> str:
    decoder = StringFieldDecoder(field)
    return "".join(decoder.feed(piece) for piece in pieces)


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 64, 10_000])
def test_any_chunking_decodes_exactly(size: int) -> None:
    pieces = [ARGS[i : i + size] for i in range(0, len(ARGS), size)]
    assert feed_all(pieces) == CODE


def test_ascii_escaped_json_with_split_unicode_escapes() -> None:
    args = json.dumps({"code": CODE}, ensure_ascii=True)  # 😀 becomes \ud83d\ude00
    assert "\\ud83d\\ude00" in args
    assert feed_all(list(args)) == CODE


def test_streams_incrementally() -> None:
    decoder = StringFieldDecoder("code")
    assert decoder.feed('{"code": "pri') == "pri"
    assert decoder.feed("nt(1)\\") == "nt(1)"
    assert decoder.feed("n") == "\n"
    assert decoder.feed('", "x": 1}') == ""
    assert decoder.done


def test_key_order_nested_and_non_string_values() -> None:
    args = '{"a": {"code": "no"}, "b": ["code", "x"], "code": 5, "z": "\\"code\\"", "code": "yes"}'
    assert feed_all(list(args)) == "yes"


def test_missing_field_and_escaped_key() -> None:
    assert feed_all(['{"cod', 'ex": "no"}']) == ""
    assert feed_all(['{"c\\u006fde": "ok"}']) == ""  # keys with \u escapes are not matched
    assert feed_all(['{"c\\"ode": "no", "code":"ok"}']) == "ok"


def test_lone_surrogates_become_replacement_chars() -> None:
    assert feed_all(['{"code": "\\ud83d!"}']) == "\ufffd!"
    assert feed_all(['{"code": "\\uzzzz"}']) == "\ufffd"
