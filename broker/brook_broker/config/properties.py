"""Java ``.properties`` files, read exactly as ``java.util.Properties.load`` reads them.

`config.broker` reads ``server.properties`` through `load_properties`; the CLI and tests
write files with `dump_properties`. Kafka parses its files with the JDK, so the same text
must give the same keys and values here: comments (``#``, ``!``), the three separators
(``=``, ``:``, whitespace), continuation lines ending in an odd number of backslashes, and
the escapes ``\\t \\n \\r \\f \\uXXXX`` (any other escaped character stands for itself).

The JDK reads an ``InputStream`` as ISO-8859-1; `load_properties` decodes UTF-8 first,
falling back to ISO-8859-1, because every ASCII file reads the same either way and a
UTF-8 path in ``log.dirs`` should not turn into mojibake.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

__all__ = ["PropertiesSyntaxError", "dump_properties", "load_properties", "parse_properties"]

_WHITESPACE = " \t\f"
_LINE_ENDS = "\r\n"
_SIMPLE_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "f": "\f"}
# Characters `dump_properties` escapes so that they survive as part of a key or value.
_DUMP_ESCAPES = {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r", "\f": "\\f"}


class PropertiesSyntaxError(ValueError):
    """The only error the JDK reports while loading: a malformed ``\\uXXXX`` escape."""


def parse_properties(text: str) -> dict[str, str]:
    """Parse properties text; a later key replaces an earlier one, as in ``Hashtable.put``."""
    result: dict[str, str] = {}
    for line in _logical_lines(text):
        key, value = _split_key_value(line)
        result[_unescape(key)] = _unescape(value)
    return result


def load_properties(path: Path) -> dict[str, str]:
    """Read and parse a properties file (UTF-8, or ISO-8859-1 when it is not valid UTF-8)."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("iso-8859-1")
    return parse_properties(text.removeprefix("\ufeff"))


def dump_properties(values: Mapping[str, str], *, header: str | None = None) -> str:
    """Write `values` as properties text that `parse_properties` (and the JDK) reads back equal.

    Non-ASCII characters are kept as they are: the text is meant to be written as UTF-8.
    """
    lines = [f"# {line}" for line in header.splitlines()] if header else []
    lines.extend(
        f"{_escape(key, is_key=True)}={_escape(value, is_key=False)}" for key, value in values.items()
    )
    return "\n".join(lines) + "\n" if lines else ""


def _logical_lines(text: str) -> Iterator[str]:
    """Yield logical lines: comments and blank lines dropped, continuations joined.

    Mirrors the JDK's ``LineReader``: leading whitespace is skipped on every natural line,
    a comment is recognised only at the start of a logical line (so a comment never
    continues), and a trailing backslash at the very end of the input is dropped.
    """
    natural = _natural_lines(text)
    for first in natural:
        line = first.lstrip(_WHITESPACE)
        if not line or line[0] in "#!":
            continue
        parts: list[str] = []
        while _ends_with_continuation(line):
            parts.append(line[:-1])
            following = next(natural, None)
            if following is None:
                line = ""
                break
            line = following.lstrip(_WHITESPACE)
        parts.append(line)
        yield "".join(parts)


def _natural_lines(text: str) -> Iterator[str]:
    """Split on ``\\n``, ``\\r`` or ``\\r\\n``, like the JDK (``str.splitlines`` knows too many ends)."""
    start = 0
    index = 0
    length = len(text)
    while index < length:
        char = text[index]
        if char in _LINE_ENDS:
            yield text[start:index]
            if char == "\r" and index + 1 < length and text[index + 1] == "\n":
                index += 1
            start = index + 1
        index += 1
    if start < length:
        yield text[start:]


def _ends_with_continuation(line: str) -> bool:
    # An odd number of trailing backslashes escapes the line terminator; an even number is
    # a run of escaped backslashes.
    trailing = len(line) - len(line.rstrip("\\"))
    return trailing % 2 == 1


def _split_key_value(line: str) -> tuple[str, str]:
    """Find the end of the key (first unescaped ``=``, ``:`` or whitespace) and the value's start."""
    key_end = len(line)
    value_start = len(line)
    has_separator = False
    escaped = False
    for index, char in enumerate(line):
        if not escaped and char in "=:":
            key_end, value_start, has_separator = index, index + 1, True
            break
        if not escaped and char in _WHITESPACE:
            key_end, value_start = index, index + 1
            break
        escaped = char == "\\" and not escaped
    # Whitespace after the key, then at most one `=` or `:` if whitespace ended the key.
    while value_start < len(line):
        char = line[value_start]
        if char not in _WHITESPACE:
            if has_separator or char not in "=:":
                break
            has_separator = True
        value_start += 1
    return line[:key_end], line[value_start:]


def _unescape(text: str) -> str:
    if "\\" not in text:
        return text
    out: list[str] = []
    index = 0
    length = len(text)
    while index < length:
        char = text[index]
        index += 1
        if char != "\\":
            out.append(char)
            continue
        if index >= length:
            # A lone trailing backslash (only possible at the end of the input) is dropped.
            break
        char = text[index]
        index += 1
        if char == "u":
            digits = text[index : index + 4]
            if len(digits) < 4 or any(d not in "0123456789abcdefABCDEF" for d in digits):
                raise PropertiesSyntaxError("Malformed \\uxxxx encoding.")
            out.append(chr(int(digits, 16)))
            index += 4
        else:
            out.append(_SIMPLE_ESCAPES.get(char, char))
    return "".join(out)


def _escape(text: str, *, is_key: bool) -> str:
    out: list[str] = []
    for index, char in enumerate(text):
        if char in _DUMP_ESCAPES:
            out.append(_DUMP_ESCAPES[char])
        elif char in "=:#!":
            # Separators end a key; comment markers would start a comment at line start.
            out.append("\\" + char)
        elif char == " " and (is_key or index == 0):
            # Inside a value only a leading space would be swallowed by the separator.
            out.append("\\ ")
        elif ord(char) < 0x20 or 0xD800 <= ord(char) <= 0xDFFF:
            # Control characters and lone surrogates: spell them so the file stays text.
            out.append(f"\\u{ord(char):04X}")
        else:
            out.append(char)
    return "".join(out)
