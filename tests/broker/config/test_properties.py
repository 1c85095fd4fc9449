"""`config.properties`: the edge cases of ``java.util.Properties.load``, and a writer round trip."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from brook_broker.config.properties import (
    PropertiesSyntaxError,
    dump_properties,
    load_properties,
    parse_properties,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("a=b", {"a": "b"}, id="equals"),
        pytest.param("a:b", {"a": "b"}, id="colon"),
        pytest.param("a b", {"a": "b"}, id="space"),
        pytest.param("a\tb", {"a": "b"}, id="tab"),
        pytest.param("a \t = \t b", {"a": "b"}, id="whitespace around separator"),
        pytest.param("a  b = c", {"a": "b = c"}, id="whitespace ends key, later = is value"),
        pytest.param("a = = b", {"a": "= b"}, id="only one separator is eaten"),
        pytest.param("a=b  ", {"a": "b  "}, id="trailing whitespace kept"),
        pytest.param("   a=b", {"a": "b"}, id="leading whitespace dropped"),
        pytest.param("a", {"a": ""}, id="key only"),
        pytest.param("a=", {"a": ""}, id="empty value"),
        pytest.param("=b", {"": "b"}, id="empty key"),
        pytest.param("# c\n! c\n  # indented\na=1", {"a": "1"}, id="comments"),
        pytest.param("a=1 # not a comment", {"a": "1 # not a comment"}, id="hash inside value"),
        pytest.param("\n\n   \t\na=1\n\n", {"a": "1"}, id="blank lines"),
        pytest.param("a=1\r\nb=2\rc=3\n", {"a": "1", "b": "2", "c": "3"}, id="all line endings"),
        pytest.param("a=one \\\n     two", {"a": "one two"}, id="continuation drops indent"),
        pytest.param("a=x\\\r\n  y\\\n  z", {"a": "xyz"}, id="continuations over CRLF"),
        pytest.param("a=x\\\\\nb=y", {"a": "x\\", "b": "y"}, id="even backslashes do not continue"),
        pytest.param("a=x\\\\\\\n y", {"a": "x\\y"}, id="odd backslashes continue"),
        pytest.param("a=x\\\n\nb=y", {"a": "x", "b": "y"}, id="continuation into a blank line"),
        pytest.param(
            "a=x\\\n# not a comment", {"a": "x# not a comment"}, id="continued line is not a comment"
        ),
        pytest.param("# comment \\\na=1", {"a": "1"}, id="comments never continue"),
        pytest.param("a=x\\", {"a": "x"}, id="backslash at end of input dropped"),
        pytest.param("a=\\t\\n\\r\\f", {"a": "\t\n\r\f"}, id="escapes"),
        pytest.param("a=\\u0041\\u00e9\\u20AC", {"a": "Aé€"}, id="unicode escapes"),
        pytest.param("a=\\q\\=\\:\\ \\#", {"a": "q=: #"}, id="other escapes are the character"),
        pytest.param("k\\ e\\=y\\:=v", {"k e=y:": "v"}, id="escaped separators in key"),
        pytest.param("\\#a=1", {"#a": "1"}, id="escaped comment char"),
        pytest.param("a=1\na=2", {"a": "2"}, id="last wins"),
        pytest.param("a=\f b", {"a": "b"}, id="form feed is whitespace"),
        pytest.param("a=\u0085b\u2028c", {"a": "\u0085b\u2028c"}, id="no unicode line breaks"),
    ],
)
def test_parse(text: str, expected: dict[str, str]) -> None:
    assert parse_properties(text) == expected


@pytest.mark.parametrize("text", ["a=\\u12", "a=\\u12G4", "\\uZZZZ=b"])
def test_malformed_unicode_escape(text: str) -> None:
    with pytest.raises(PropertiesSyntaxError, match=r"Malformed \\uxxxx encoding"):
        parse_properties(text)


def test_load_reads_utf8_and_falls_back_to_latin1(tmp_path: Path) -> None:
    utf8 = tmp_path / "utf8.properties"
    utf8.write_bytes("\ufefflog.dirs=/data/caf\u00e9\n".encode())
    assert load_properties(utf8) == {"log.dirs": "/data/caf\u00e9"}
    latin1 = tmp_path / "latin1.properties"
    latin1.write_bytes(b"log.dirs=/data/caf\xe9\n")
    assert load_properties(latin1) == {"log.dirs": "/data/caf\u00e9"}


def test_dump_header_and_escapes() -> None:
    text = dump_properties({"a b": " lead", "#k": "v=1:2", "multi": "l1\nl2"}, header="written by\ntests")
    assert text.splitlines()[:2] == ["# written by", "# tests"]
    assert parse_properties(text) == {"a b": " lead", "#k": "v=1:2", "multi": "l1\nl2"}


_TEXT = st.text(max_size=30)  # every code point but lone surrogates


@given(st.dictionaries(_TEXT, _TEXT, max_size=8))
def test_dump_then_parse_round_trips(values: dict[str, str]) -> None:
    assert parse_properties(dump_properties(values)) == values
