"""Streams the value of one top-level JSON string field out of partial JSON.

The code interpreter's tool call arrives as function arguments like `{"code": "print(1)\\n"}`,
a few characters at a time. `StringFieldDecoder("code").feed(piece)` returns the newly decoded
characters of that field's value, so `code_interpreter.input` deltas can be streamed while the
model is still writing. Escapes (`\\n`, `\\"`, `\\uXXXX`, surrogate pairs) are decoded even when
split across pieces. Other fields, nested values and a non-string value are skipped.
"""

from __future__ import annotations

_SIMPLE_ESCAPES = {
    '"': '"',
    "\\": "\\",
    "/": "/",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
}


class StringFieldDecoder:
    def __init__(self, field: str) -> None:
        self._field = field
        self._state = "scan"  # scan | string | after_key | value | done
        self._depth = 0
        self._expect_key = False  # in the top-level object, the next string is a key
        self._string_is_key = False
        self._key: list[str] = []
        self._escape: str | None = None  # pending escape text (starts with the backslash)
        self._high_surrogate: str | None = None

    @property
    def done(self) -> bool:
        return self._state == "done"

    def feed(self, piece: str) -> str:
        out: list[str] = []
        for char in piece:
            if self._state == "done":
                break
            if self._state == "value":
                self._value_char(char, out)
            elif self._state == "string":
                self._string_char(char)
            elif self._state == "after_key":
                self._after_key_char(char)
            else:
                self._scan_char(char)
        return "".join(out)

    # --- structure outside the wanted value ------------------------------------------------------

    def _scan_char(self, char: str) -> None:
        if char == '"':
            self._state = "string"
            self._string_is_key = self._depth == 1 and self._expect_key
            self._key = []
        elif char in "{[":
            self._depth += 1
            self._expect_key = self._depth == 1 and char == "{"
        elif char in "}]":
            self._depth -= 1
        elif char == "," and self._depth == 1:
            self._expect_key = True
        elif char == ":" and self._depth == 1:
            self._expect_key = False

    def _string_char(self, char: str) -> None:
        # Inside a skipped string (or a key): only escapes and the closing quote matter.
        if self._escape is not None:
            self._escape = None
            if self._string_is_key:
                self._key.append(_SIMPLE_ESCAPES.get(char, char))
            return
        if char == "\\":
            self._escape = "\\"
        elif char == '"':
            is_wanted = self._string_is_key and "".join(self._key) == self._field
            self._state = "after_key" if is_wanted else "scan"
        elif self._string_is_key:
            self._key.append(char)

    def _after_key_char(self, char: str) -> None:
        if char == '"':
            self._state = "value"
        elif char == ":" or char.isspace():
            self._expect_key = False
        else:  # not a string value: give up on this key and keep scanning
            self._state = "scan"
            self._scan_char(char)

    # --- the wanted value ------------------------------------------------------------------------

    def _value_char(self, char: str, out: list[str]) -> None:
        if self._escape is None:
            if char == "\\":
                self._escape = "\\"
            elif char == '"':
                self._state = "done"
            else:
                self._emit(char, out)
            return
        self._escape += char
        if len(self._escape) == 2 and char != "u":
            self._escape = None
            self._emit(_SIMPLE_ESCAPES.get(char, char), out)
        elif len(self._escape) == 6:  # \uXXXX complete
            code = self._escape[2:]
            self._escape = None
            try:
                self._emit(chr(int(code, 16)), out)
            except ValueError:
                self._emit("\ufffd", out)

    def _emit(self, char: str, out: list[str]) -> None:
        """Append a decoded char, pairing UTF-16 surrogates (`\\ud83d\\ude00` -> one emoji)."""
        point = ord(char)
        if 0xD800 <= point <= 0xDBFF:
            if self._high_surrogate is not None:
                out.append("\ufffd")
            self._high_surrogate = char
            return
        if self._high_surrogate is not None:
            high, self._high_surrogate = ord(self._high_surrogate), None
            if 0xDC00 <= point <= 0xDFFF:
                out.append(chr(0x10000 + ((high - 0xD800) << 10) + (point - 0xDC00)))
                return
            out.append("\ufffd")
        out.append(char)
