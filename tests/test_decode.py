"""Text decoders: base64, UTF-16/32, percent-encoding and escapes, nested, through the engine."""

from __future__ import annotations

import base64
import json
import tracemalloc
from collections.abc import Callable
from unittest import mock

import pytest
from hidden import (
    Hidden,
    assert_found_once,
    b64,
    hex_escape,
    hidden_keys,
    mixed_case_hex,
    percent,
    unicode_escape,
    wrap,
)
from hvscan_run import Run
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from keygen import make_key

from hvscan import decode
from hvscan.containers import MIME_MARKERS
from hvscan.decode import needle_table
from hvscan.engine import Engine, Limits
from hvscan.rules import load_builtin_rules

RULES = load_builtin_rules()
ENGINE = Engine(RULES)
KEYWORDS = [k for rule in RULES for k in rule.keywords]


def found(data: bytes, engine: Engine = ENGINE) -> list[tuple[str, str, int, int]]:
    return [(m.secret, m.encoding, m.line, m.column)
            for m in engine.scan(data) if not m.placeholder]


# --- needles -------------------------------------------------------------------------------


@settings(max_examples=150)
@given(before=st.binary(max_size=7), after=st.binary(max_size=7), depth=st.integers(1, 2))
def test_every_needle_of_a_chain_occurs_in_that_encoding(
    before: bytes, after: bytes, depth: int
) -> None:
    table = needle_table(KEYWORDS, depth)
    for keyword in KEYWORDS:
        text = keyword.decode()
        encoded = [
            (("base64",), base64.b64encode(before + keyword + after)),
            (("utf-16",), before + text.encode("utf-16-le") + after),
            (("utf-16",), before + text.encode("utf-16-be") + after),
            (("utf-32",), before + text.encode("utf-32-be") + after),
            (("base64", "utf-16"), base64.b64encode(before + text.encode("utf-16-le") + after)),
        ]
        for chain, data in encoded:
            if len(chain) > depth:
                continue
            assert any(needle in data for needle, infos in table.items()
                       if any(info.chain == chain for info in infos)), (keyword, chain)


def test_needles_grow_with_depth_until_no_encoding_wraps_another() -> None:
    sizes = [len(needle_table(KEYWORDS, depth)) for depth in range(4)]
    assert sizes[0] == 0
    assert sizes[0] < sizes[1] < sizes[2] == sizes[3]


def test_percent_and_escape_needles_serve_both_hex_cases() -> None:
    table = needle_table(KEYWORDS, 1)
    key = make_key("test", 1)
    for text in (percent(key, "X"), percent(key, "x"), hex_escape(key, "X"),
                 hex_escape(key, "x"), unicode_escape(key, "X"), unicode_escape(key, "x"),
                 key.replace("_", "%5f"), key.replace("_", "%5F")):
        assert any(needle in text.encode() for needle in table), text


# --- base64 --------------------------------------------------------------------------------


@pytest.mark.parametrize("lead", [b"", b"x", b"xy", b"xyz", b"key=\x00"])
def test_base64_at_every_alignment(lead: bytes) -> None:
    key = make_key("live", 2)
    encoded = b64(lead + key.encode() + b"\n")
    line = f"token: {encoded}\n"
    # The column is that of the base64 character holding the key's first bits.
    assert found(f"# config\n{line}".encode()) == [
        (key, "base64", 2, 8 + len(lead) * 4 // 3)
    ]


def test_base64_url_safe_unpadded() -> None:
    key = make_key("test", 3)
    for lead in (b"", b"\xfb", b"\xfb\xff"):  # bytes that put - and _ into the encoding
        text = base64.urlsafe_b64encode(lead + key.encode() + b"\xff").rstrip(b"=")
        assert (b"-" in text or b"_" in text) or not lead
        assert [f[:2] for f in found(b'"' + text + b'"')] == [(key, "base64")]


def test_kubernetes_secret_manifest() -> None:
    live, test = make_key("live", 4), make_key("test", 5)
    manifest = (
        "apiVersion: v1\n"
        "kind: Secret\n"
        "metadata:\n"
        "  name: hesedvid\n"
        "type: Opaque\n"
        "data:\n"
        f"  HESEDVID_API_KEY: {b64(live)}\n"
        f"  HESEDVID_TEST_KEY: {b64(test)}\n"
        f"  username: {b64('admin')}\n"
    )
    assert found(manifest.encode()) == [(live, "base64", 7, 21), (test, "base64", 8, 22)]


def test_match_offsets_cover_the_encoded_key() -> None:
    key = make_key("live", 6)
    data = f"a = '{b64('xy' + key)}'".encode()
    (match,) = ENGINE.scan(data)
    assert match.start == 5 + 2 and match.end > match.start
    assert key.encode() in base64.b64decode(data[5:-1])
    assert data[match.start:match.end].isalnum()


def test_wrapped_base64_is_joined_across_lines() -> None:
    key = make_key("live", 7)
    for width_before in range(0, 76, 7):
        first, last = (width_before + 1) * 4 // 3, (width_before + 9) * 4 // 3 + 1
        if first // 76 != last // 76:
            continue  # a line break inside the encoded prefix hides it (see README)
        payload = ("a" * width_before + "\n" + key + "\nmore text\n").encode()
        wrapped = base64.encodebytes(payload).decode()  # 76-character lines
        indented = "".join(f"    {line}\n" for line in wrapped.splitlines())
        for text in (wrapped, indented, wrapped.replace("\n", "\r\n")):
            assert [f[:2] for f in found(f"blob: |\n{text}".encode())] == [(key, "base64")], (
                width_before, text)


def test_base64_glued_to_other_characters_still_decodes() -> None:
    key = make_key("test", 8)
    assert [f[:2] for f in found(f"Basic:abc{b64(key)}".encode())] == [(key, "base64")]


def test_invalid_base64_is_a_note_and_the_rest_is_scanned() -> None:
    key, other = make_key("live", 9), make_key("test", 10)
    broken = b64(key)[:30]  # the key's prefix, then the text stops
    data = f"first: {broken}\nsecond: {other}\nthird: {b64(key)[:20]}*{b64(key)[20:]}\n"
    inspection = ENGINE.inspect(data.encode())
    assert [(m.secret, m.line) for m in inspection.matches] == [(other, 2)]
    messages = [n.message for n in inspection.notes]
    assert messages == [
        "base64 text at line 1, column 8 holds an encoded key prefix but no complete key "
        "(truncated or invalid base64)",
        "base64 text at line 3, column 8 holds an encoded key prefix but no complete key "
        "(truncated or invalid base64)",
    ]
    assert not any(n.limit for n in inspection.notes)


def test_placeholder_in_base64_is_a_placeholder() -> None:
    prefix = make_key("live")[:-32]
    (match,) = ENGINE.scan(b64(prefix + "x" * 32).encode())
    assert match.placeholder and match.encoding == "base64"


# --- percent-encoding and escapes -----------------------------------------------------------


@pytest.mark.parametrize("encode", [
    lambda k: percent(k, "X"),
    lambda k: percent(k, "x"),
    lambda k: k.replace("_", "%5F"),
    lambda k: k.replace("_", "%5f"),
], ids=["upper", "lower", "underscores-upper", "underscores-lower"])
def test_percent_encoding(encode: Callable[[str], str]) -> None:
    key = make_key("live", 11)
    url = f"https://example.invalid/cb?next=%2Fhome&api_key={encode(key)}&x=1\n"
    assert found(("GET\n" + url).encode()) == [(key, "percent", 2, url.index("api_key=") + 9)]


@pytest.mark.parametrize("encode", [
    lambda k: hex_escape(k, "x"),
    lambda k: hex_escape(k, "X"),
    lambda k: unicode_escape(k, "x"),
    lambda k: unicode_escape(k, "X"),
    lambda k: k.replace("_", "\\x5f"),
    lambda k: k.replace("_", "\\u005F"),
], ids=["hex", "HEX", "unicode", "UNICODE", "hex-underscores", "unicode-underscores"])
def test_backslash_escapes(encode: Callable[[str], str]) -> None:
    key = make_key("test", 12)
    source = f'x = 1\nKEY = "{encode(key)}"\n'
    assert found(source.encode()) == [(key, "escape", 2, 8)]


@pytest.mark.parametrize("escape", [hex_escape, unicode_escape, percent])
def test_any_character_of_the_body_escaped(escape: Callable[[str], str]) -> None:
    # Only keys escaped from their first character on were found.
    key = make_key("test", 27)
    text = key[:10] + escape(key[10]) + key[11:20] + escape(key[20:23]) + key[23:]
    chain = "percent" if escape is percent else "escape"
    assert found(f'token = "{text}"\n'.encode()) == [(key, chain, 1, 10)]
    # A backslash or percent sign after a placeholder is no escape: no region, no note; nor
    # is an escape after a redacted key's body (GitHub annotations end lines with %0A).
    placeholder = (b'{"k": "hv_test_XXXXXXXXXXXX\\"} 100% hv_live_abcdefgh%\n'
                   b"::error::hv_live_Ab3x****%0Afix it\n")
    assert ENGINE.inspect(placeholder).notes == []


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
@pytest.mark.parametrize("cut", range(1, 12))
def test_quoted_printable_soft_line_break_anywhere_in_the_key(cut: int, newline: str) -> None:
    # A break inside the prefix was found in MIME parts only, not in plain quoted-printable text.
    key = make_key("test", 36)
    text = f"Subject line=20here\nThe token is {key[:cut]}={newline}{key[cut:]} ok\n"
    assert found(text.encode()) == [(key, "quoted-printable", 2, 14)]
    escaped = text.replace("_", "=5F", 1) if cut > 2 else text
    assert [f[:2] for f in found(escaped.encode())] == [(key, "quoted-printable")]


@pytest.mark.parametrize("encode", [
    lambda k: k.replace("_", "\\_"),  # Markdown
    lambda k: k[0] + "\\x76" + k[2:],
    lambda k: "\\u0068" + k[1:],
    lambda k: k[:4] + "\\x69" + k[5:7] + "\\u005F" + k[8:],
    lambda k: "\\x68v\\u005f" + k[3:6] + "\\x" + k[6].encode().hex().upper() + k[7:],
], ids=["markdown", "h-x76", "u0068-v", "late-escapes", "mixed"])
def test_escapes_anywhere_in_the_prefix(encode: Callable[[str], str]) -> None:
    # Only a prefix escaped whole, or with its underscores escaped, was found.
    key = make_key("live", 34)
    assert found(f'x = 1\nKEY = "{encode(key)}"\n'.encode()) == [(key, "escape", 2, 8)]
    # Text about keys, with escapes, is no note.
    docs = b"Keys start with hv\\_live\\_ or h\\x76_test_; \\x68\\x76 is hv.\n"
    assert ENGINE.inspect(docs).notes == [] and ENGINE.inspect(docs).matches == []


@pytest.mark.parametrize("encode", [
    lambda k: "".join(f"&#{ord(c)};" for c in k),
    lambda k: "".join(f"&#x{ord(c):x};" for c in k),
    lambda k: k.replace("_", "&#95;"),
    lambda k: k.replace("_", "&#x5f;"),
    lambda k: "".join(f"&#X{ord(c):X};" for c in k),
    lambda k: k.replace("_", "&#X5F;"),
    lambda k: k[:12] + f"&#X{ord(k[12]):X};" + k[13:],
    lambda k: k.replace("_", "&lowbar;"),
    lambda k: k[:12] + f"&#{ord(k[12])};" + k[13:],
])
def test_html_character_references(encode: Callable[[str], str]) -> None:
    key = make_key("live", 28)
    page = f"<html>\n<p>token: {encode(key)}</p> &amp; &lt;\n"
    assert found(page.encode()) == [(key, "html", 2, 11)]


@pytest.mark.parametrize(("encode", "column"), [
    (lambda k: k.encode().hex(), 8),
    (lambda k: k.encode().hex().upper(), 8),
    (lambda k: "7" + (b"\x00" + k.encode()).hex(), 11),  # a digit glued on, the key off grid
    # "068765f0" holds a needle off the grid, in front of the key's run
    (lambda k: (b"\x06\x87\x65\xf0" + k.encode()).hex(), 16),
])
def test_hex_runs(encode: Callable[[str], str], column: int) -> None:
    key = make_key("test", 29)
    text = f"# dump\ntoken: {encode(key)}\n"
    assert found(text.encode()) == [(key, "hex", 2, column)]


@given(mask=st.integers(0, (1 << 80) - 1))
def test_hex_in_any_mix_of_cases(mask: int) -> None:
    key = make_key("live", 35)
    digits = "".join(d.upper() if mask >> at & 1 else d for at, d in enumerate(key.encode().hex()))
    assert found(f"v = {digits};\n".encode()) == [(key, "hex", 1, 5)]


def test_hex_in_sql_dump_and_json() -> None:
    key = make_key("live", 30)
    sql = f"INSERT INTO `keys` VALUES (1,0x{key.encode().hex().upper()},NULL);\n"
    assert found(sql.encode()) == [(key, "hex", 1, 32)]
    document = json.dumps({"blob": (b"id=" + key.encode() + b"&x=1").hex()})
    assert found(document.encode()) == [(key, "hex", 1, 17)]


def test_hex_run_of_a_prefix_without_a_key_finds_nothing() -> None:
    key = make_key("live", 31)
    for text in (key[:20].encode().hex(), (key[:12] + "!" + key[13:]).encode().hex().upper()):
        assert found(f"value = {text}\n".encode()) == []


def test_json_with_unicode_escapes() -> None:
    key = make_key("live", 13)
    document = json.dumps({"k": key}).replace(key, unicode_escape(key))
    assert json.loads(document)["k"] == key
    assert [f[:2] for f in found(document.encode())] == [(key, "escape")]


# --- UTF-16 and UTF-32 ----------------------------------------------------------------------


@pytest.mark.parametrize(("codec", "name"), [
    ("utf-16-le", "utf-16le"), ("utf-16-be", "utf-16be"),
    ("utf-32-le", "utf-32le"), ("utf-32-be", "utf-32be"),
])
@pytest.mark.parametrize("bom", [True, False])
def test_wide_text_with_and_without_bom(codec: str, name: str, bom: bool) -> None:
    key = make_key("live", 14)
    text = f"[settings]\r\nname = été\r\n  key = {key}\r\n"
    data = (("\ufeff" if bom else "") + text).encode(codec)
    # Lines and columns are counted in the decoded text, without the BOM.
    assert found(data) == [(key, name, 3, 9)]
    (match,) = ENGINE.scan(data)
    width = 2 if "16" in codec else 4
    assert match.start == (bom + text.index(key)) * width


def test_utf16_with_characters_outside_the_bmp() -> None:
    key = make_key("test", 15)
    data = f"😀😀 {key}".encode("utf-16-le")
    (match,) = ENGINE.scan(data)
    assert (match.encoding, match.column, match.start) == ("utf-16le", 4, 10)


@pytest.mark.parametrize("offset", [0, 1, 2, 3])
def test_utf16_strings_inside_binary_data(offset: int) -> None:
    key = make_key("live", 16)
    data = bytes(range(7, 7 + offset)) + b"\x00\x00" + key.encode("utf-16-le") + b"\x00\x01"
    assert [f[:2] for f in found(data)] in ([(key, "utf-16le")], [(key, "utf-16be")])


@pytest.mark.parametrize(("codec", "name"), [
    ("utf-16-le", "utf-16le"), ("utf-16-be", "utf-16be"),
    ("utf-32-le", "utf-32le"), ("utf-32-be", "utf-32be"),
])
@pytest.mark.parametrize("offset", range(8))
@pytest.mark.parametrize("around", [b"\x00", b"A", b"\xff", b"\x01\x02\x03"])
def test_wide_strings_in_binary_data_at_every_alignment(
    codec: str, name: str, offset: int, around: bytes
) -> None:
    # Missed before: UTF-16LE at odd offsets after a non-NUL byte, UTF-16BE at odd offsets
    # before one, UTF-32BE off a multiple of 4, UTF-32LE at 3 mod 4.
    key = make_key("live", 40 + offset)
    data = (around * 8)[:offset] + key.encode(codec) + around * 4
    inspection = ENGINE.inspect(data)
    (match,) = inspection.matches
    assert inspection.notes == []
    assert match.secret == key and data[match.start:match.end].decode(match.encoding) == key
    if around != b"\x00":  # else the bytes read as the key in either byte order
        assert (match.encoding, match.start) == (name, offset)


def test_wide_string_readable_in_both_byte_orders_is_found_once() -> None:
    # NULs on both sides: the bytes read as UTF-16LE at one offset and UTF-16BE at the next.
    key = make_key("test", 41)
    data = b"\x07\x00\x00" + key.encode("utf-16-le") + b"\x00\x00\x07"
    (match,) = ENGINE.scan(data)
    assert match.secret == key
    assert data[match.start:match.end].decode(match.encoding) == key


def test_plain_and_utf16_keys_in_one_file() -> None:
    plain, wide = make_key("live", 17), make_key("test", 18)
    data = plain.encode() + b"\n\x00\x00\x00" + wide.encode("utf-16-le")
    assert sorted(f[:2] for f in found(data)) == sorted([(plain, "plain"), (wide, "utf-16le")])


# --- nesting and depth ----------------------------------------------------------------------


def test_powershell_encoded_command() -> None:
    key = make_key("live", 19)
    script = f"$env:HESEDVID_API_KEY = '{key}'; ./deploy.ps1"
    command = f"powershell.exe -NoProfile -EncodedCommand {b64(script.encode('utf-16-le'))}"
    assert [f[:2] for f in found(command.encode())] == [(key, "base64>utf-16le")]


@pytest.mark.parametrize(("codec", "name", "bom"), [
    ("utf-16-le", "utf-16le", ""), ("utf-16-be", "utf-16be", ""), ("utf-32-le", "utf-32le", ""),
    ("utf-32-be", "utf-32be", ""), ("utf-16-le", "utf-16le", "\ufeff"),
    ("utf-16-be", "utf-16be", "\ufeff"),
])
def test_encoded_text_inside_utf16_and_utf32_files(codec: str, name: str, bom: str) -> None:
    key, other, third = make_key("test", 20), make_key("live", 30), make_key("live", 31)
    text = f"line one\nvalue={b64(key)}\nurl=/x?k={percent(other)}\ns='{hex_escape(third)}'\n"
    assert found((bom + text).encode(codec)) == [
        (key, f"{name}>base64", 2, 7), (other, f"{name}>percent", 3, 10),
        (third, f"{name}>escape", 4, 4)]


def test_wide_text_is_recognised_by_its_bom_or_its_ascii_start() -> None:
    key = make_key("test", 32)
    text = "€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€\n" + f"value={b64(key)}\n"
    # Without a BOM, text that does not start with ASCII is not recognised as UTF-16 (only
    # the key's own UTF-16 form is looked for)...
    assert found(text.encode("utf-16-le")) == []
    # ...with one, it is.
    assert [f[:2] for f in found(("\ufeff" + text).encode("utf-16-le"))] == [
        (key, "utf-16le>base64")]
    assert ENGINE.needs_full_scan(("\ufeff" + text).encode("utf-16-le"))
    assert ENGINE.needs_full_scan("plain text, long enough\n".encode("utf-16-be"))
    assert not ENGINE.needs_full_scan(b"plain text\x00with a zero byte here and there\n")
    assert not ENGINE.needs_full_scan(text.encode("utf-16-le"))


@pytest.mark.parametrize("inner", [0, 1, 2])
@pytest.mark.parametrize("outer", [0, 1, 2])
def test_base64_inside_base64_at_every_alignment(inner: int, outer: int) -> None:
    # Base64 of base64 was not decoded: a Kubernetes .dockerconfigjson secret hid its keys.
    key = make_key("live", 21)
    text = b64(b"\x01" * outer + b64(b"\x02" * inner + key.encode()).encode())
    assert found(f"x: {text}\n".encode()) == [
        (key, "base64>base64", 1, 4 + (outer + inner * 4 // 3) * 4 // 3)]


def test_kubernetes_dockerconfigjson_secret() -> None:
    key = make_key("test", 25)
    config = json.dumps({"auths": {"registry.example.com": {
        "username": "deploy", "password": key, "auth": b64(f"deploy:{key}")}}})
    secret = f"kind: Secret\ndata:\n  .dockerconfigjson: {b64(config)}\n"
    assert [f[:3] for f in found(secret.encode())] == [(key, "base64", 3),
                                                       (key, "base64>base64", 3)]


def test_percent_encoding_inside_base64() -> None:
    key = make_key("live", 26)
    token = b64(f"redirect=https://example.com/cb?key={percent(key)}")
    assert [f[:2] for f in found(token.encode())] == [(key, "base64>percent")]


@pytest.mark.parametrize("alignments", [(0, 0, 0), (1, 2, 0), (2, 0, 1), (2, 2, 2)])
def test_base64_three_deep_at_any_alignment(alignments: tuple[int, int, int]) -> None:
    # No needle is composed three deep: the outer run is found by its shape.
    key = make_key("live", 27)
    first, second, third = (b"\x03" * n for n in alignments)
    text = b64(third + b64(second + b64(first + key.encode()).encode()).encode())
    lead = (len(third) + (len(second) + len(first) * 4 // 3) * 4 // 3) * 4 // 3
    assert found(f"x: {text}\n".encode()) == [(key, "base64>base64>base64", 1, 4 + lead)]


def gnu_base64(data: bytes) -> bytes:
    """What ``base64`` (coreutils) writes: 76-character lines, each ended by a newline."""
    return base64.encodebytes(data)


@pytest.mark.parametrize("filler", [0, 1, 2, 30, 200, 5000])
@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_three_deep_wrapped_at_76_columns_by_the_base64_tool(filler: int, newline: str) -> None:
    # printf ... | base64 | base64 | base64: each layer wrapped, the outer one found by the
    # shape of its first line and joined with the lines that continue it.
    key = make_key("live", 40 + filler)
    text = gnu_base64(gnu_base64(gnu_base64(b"." * filler + key.encode())))
    assert text.count(b"\n") > 1
    # The outer character holding the key's first bits, counted through each layer's newlines.
    inner = filler * 4 // 3
    middle = inner + inner // 76
    middle = middle * 4 // 3 + (middle * 4 // 3) // 76
    outer = middle * 4 // 3
    block = text.decode().replace("\n", newline)
    document = f"kind: Secret{newline}data: |{newline}{block}".encode()
    assert found(document) == [(key, "base64>base64>base64", 3 + outer // 76, 1 + outer % 76)]


@pytest.mark.parametrize("lead", ["secret: ", "  token: ", "    "])
def test_three_deep_wrapped_after_text_on_its_first_line(lead: str) -> None:
    # Pasted base64 output after a key, a YAML plain scalar folded over indented lines.
    key = make_key("test", 41)
    text = b64(b"\x07" + b64(b"\x07" + b64(b"\x07" + key.encode()).encode()).encode())
    indent = " " * (len(lead) - len(lead.lstrip()) + 2)
    folded = wrap(text, newline="\n" + indent)
    assert folded.count("\n") >= 1
    lead_chars = (1 + (1 + 4 // 3) * 4 // 3) * 4 // 3
    assert found(f"x: 1\n{lead}{folded}\ny: 2\n".encode()) == [
        (key, "base64>base64>base64", 2, len(lead) + 1 + lead_chars)]


@pytest.mark.parametrize("filler", [0, 2, 200])
@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_three_deep_wrapped_in_a_json_string(filler: int, newline: str) -> None:
    # The base64 tool's output kept in a JSON string: its newlines are escaped (\n).
    key = make_key("test", 43 + filler)
    text = gnu_base64(gnu_base64(gnu_base64(b"." * filler + key.encode()))).decode()
    document = json.dumps({"id": 7, "secret": text.replace("\n", newline)})
    assert "\\n" in document
    inner = filler * 4 // 3
    middle = inner + inner // 76
    middle = middle * 4 // 3 + (middle * 4 // 3) // 76
    outer = middle * 4 // 3
    column = document.index('"secret": "') + 12 + outer + outer // 76 * 2 * len(newline)
    assert found(document.encode()) == [(key, "base64>base64>base64", 1, column)]


@pytest.mark.parametrize("width", [72, 76])
def test_three_deep_wrapped_at_the_wrap_widths_of_long_lines(width: int) -> None:
    key = make_key("live", 42)
    text = b64(b64(b64(b"." * 200 + key.encode())))
    assert [f[:2] for f in found(f"v:\n{wrap(text, width)}\n".encode())] == [
        (key, "base64>base64>base64")]


@settings(max_examples=150)
@given(data=st.binary(max_size=3000), layers=st.integers(1, 3), width=st.sampled_from([72, 76]),
       newline=st.sampled_from(["\n", "\r\n", "\\n"]))
def test_random_wrapped_base64_finds_nothing(
    data: bytes, layers: int, width: int, newline: str
) -> None:
    # Wrapped base64 of random bytes (PEM bodies, attachments, images) and of that base64, on
    # lines or in a JSON string.
    text = data
    for _ in range(layers):
        text = (wrap(b64(text), width, newline) + newline).encode()
    inspection = ENGINE.inspect(b'blob: "' + text + b'"\n')
    assert inspection.matches == [] and inspection.notes == []


def test_helm_values_holding_a_dockerconfigjson_secret() -> None:
    # A Secret manifest, base64 in a chart's values: the key three deep.
    key = make_key("test", 28)
    config = json.dumps({"auths": {"registry.example.com": {"auth": b64(f"deploy:{key}")}}})
    manifest = f"kind: Secret\ndata:\n  .dockerconfigjson: {b64(config)}\n"
    values = f"# values.yaml\nsecrets:\n  registry: {b64(manifest)}\n"
    assert [f[:3] for f in found(values.encode())] == [(key, "base64>base64>base64", 3)]


def test_json_escaped_base64_inside_base64() -> None:
    # JSON may escape base64's slashes; the escapes are decoded before the base64.
    key = make_key("live", 29)
    inner = b64(b"\xff\xfe\xfd" * 5 + key.encode()).replace("/", "\\/")
    assert "\\/" in inner
    text = b64(json.dumps({"token": inner}).replace("\\\\/", "\\/"))
    assert [f[:2] for f in found(f"{text}\n".encode())] == [(key, "base64>escape>base64")]


def test_percent_escaped_base64_of_base64() -> None:
    # A URL's query escapes + / = of a token.
    key = make_key("live", 30)
    token = b64(b64(b"\xfb\xff" + key.encode()).encode() + b"\xff\xff\xff")
    query = token.replace("+", "%2B").replace("/", "%2F").replace("=", "%3D")
    assert "%2F" in query
    # The key's first bits: inner character 2, outer character (2 * 4 // 3) = 2.
    assert not query[:3].count("%")
    assert found(f"GET /cb?state={query}&x=1\n".encode()) == [
        (key, "percent>base64>base64", 1, 15 + 2)]


def test_fully_percent_encoded_base64_of_base64() -> None:
    # Every character escaped (%61%47...): no + / = need be there to tell escaped base64.
    key = make_key("live", 34)
    token = b64(b"\x01" + b64(key).encode())
    assert not set(token) & set("+/=")
    assert found(f"GET /cb?state={percent(token)}&x=1\n".encode()) == [
        (key, "percent>base64>base64", 1, 15 + 3 * 1)]


@pytest.mark.parametrize("inner", [hex_escape, lambda k: f"&#95;{k}", unicode_escape])
def test_base64_of_base64_around_any_encoding(inner: Callable[[str], str]) -> None:
    key = make_key("test", 31)
    text = b64(b"\x05" + b64(b"\x06\x06" + inner(key).encode()).encode())
    assert [f[0] for f in found(f"v={text}\n".encode())] == [key]


def no_escape_needle() -> tuple[str, str]:
    """A key, and base64 of base64 of it holding neither ``h`` nor ``v``, whose ``\\x68`` and
    ``\\x76`` are the escapes' needles: escaped, it is found by its shape alone."""
    return next((key, text) for key in map(make_key, ["live"] * 500, range(500))
                for text in [b64(b"\x01" + b64(key).encode())]
                if not set(text) & set("hv"))


@pytest.mark.parametrize(("encode", "chain", "width", "head"), [
    (lambda t: t.encode().hex(), "hex", 2, 0),
    (lambda t: t.encode().hex().upper(), "hex", 2, 0),
    (lambda t: mixed_case_hex(t.encode(), b"\x93\x5c\x21"), "hex", 2, 0),
    (lambda t: "0x" + t.encode().hex().upper(), "hex", 2, 2),  # a SQL dump's literal
    (lambda t: "0x" + t.encode().hex(), "hex", 2, 2),
    (lambda t: "7" + t.encode().hex(), "hex", 2, 1),  # a digit glued to the front
    (lambda t: "key_" + t.encode().hex(), "hex", 2, 4),  # other text glued to the front
    (lambda t: t.encode().hex() + "\\n", "hex", 2, 0),  # ended by an escaped newline
    (hex_escape, "escape", 4, 0),
    (lambda t: hex_escape(t, "X"), "escape", 4, 0),
    (unicode_escape, "escape", 6, 0),
])
def test_three_deep_under_hex(encode: Callable[[str], str], chain: str, width: int,
                              head: int) -> None:
    # The outer hex run is found by its shape: no needle of the key is in it.
    key, inner = no_escape_needle()
    # The key's first bits: the outer base64's character 1 (after \x01), written as ``width``
    # characters.
    lead = 1
    text = f"INSERT INTO t VALUES (1,{encode(inner)},NULL);\n"
    assert found(text.encode()) == [(key, f"{chain}>base64>base64", 1, 25 + head + width * lead)]


def test_runs_of_escapes_of_other_characters_are_no_escaped_base64() -> None:
    # A regular expression's table of Unicode punctuation is all escapes, but of no base64:
    # it is not unescaped (flask's history holds 22 such runs, 368 KB).
    table = "".join(f"\\u{code:04x}" for code in range(0x2010, 0x2060)).encode()
    assert decode._escapes_of(table) is None
    assert decode._escapes_of(unicode_escape(b64(b64("x" * 40))).encode()) is not None


@pytest.mark.parametrize("width", [72, 76])
@pytest.mark.parametrize("indent", ["", "  "])
def test_three_deep_under_hex_wrapped(width: int, indent: str) -> None:
    # Lines of hex digits as wide as base64 wraps at are joined as wrapped base64 is.
    key = make_key("test", 45)
    digits = b64(b"\x01" + b64(key.encode() + b" " * 30).encode()).encode().hex()
    block = wrap(digits, width, "\n" + indent)
    assert block.count("\n") > 1
    assert found(f"data: |\n{indent}{block}\n".encode()) == [
        (key, "hex>base64>base64", 2, 1 + len(indent) + 2)]


@pytest.mark.parametrize(("inner", "chain"), [
    (hex_escape, "escape"), (percent, "percent"), (lambda k: k.replace("_", "&#95;"), "html"),
    (lambda k: k.encode("utf-16-le"), "utf-16le"),
])
def test_hex_of_base64_around_any_encoding(inner: Callable[[str], str | bytes],
                                           chain: str) -> None:
    key = make_key("test", 43)
    encoded = inner(key)
    text = b64(b"\x05\x06" + (encoded.encode() if isinstance(encoded, str) else encoded))
    assert [f[:2] for f in found(f"blob = '{text.encode().hex()}'\n".encode())] == [
        (key, f"hex>base64>{chain}")]


def test_hashes_are_no_hit_and_hex_of_text_is() -> None:
    # Hex runs are common (hashes, checksums in lock files): one that reads as hex of text on
    # neither grid is no hit of the prefilter's run needle; hex of base64 of base64 is.
    import hashlib

    hashes = "".join(f"sha512 = {hashlib.sha512(bytes([n])).hexdigest()}\n" for n in range(30))
    assert decode.LONG_RUN.pattern not in ENGINE.prefilter.hits(hashes.encode())
    assert ENGINE.prefilter.spans(hashes.encode()) == []
    key = make_key("live", 44)
    deep = f"{hashes}checksum = {b64(b64(key)).encode().hex()}\n".encode()
    assert decode.LONG_RUN.pattern in ENGINE.prefilter.hits(deep)
    assert found(deep) == [(key, "hex>base64>base64", 31, 12)]


def test_long_base64_runs_without_a_key_find_nothing() -> None:
    # PEM lines, base64 of binary data and of text without a key, long identifiers and rules.
    blob = bytes(range(256)) * 8
    text = "\n".join([base64.encodebytes(blob).decode(), b64(blob), b64(b64(b64("x" * 300))),
                      "test_" * 30, "-" * 80, "%2F" * 30, "\\/" * 30, b64(b64("hv_live_"))])
    inspection = ENGINE.inspect(text.encode())
    assert inspection.matches == [] and inspection.notes == []


def test_runs_that_cannot_hold_a_key_are_no_hit_of_the_prefilter() -> None:
    # A lock file's hashes (base64 of binary data) never reach the decoders: in a history
    # audit, a blob holding only those is passed over by the stream's prefilter. (About one
    # hash in a hundred reads as text on some grid by chance: these 30 do not.)
    import random

    rng = random.Random(0)
    lock = "".join(f'  integrity: "sha512-{b64(rng.randbytes(64))}"\n' for _ in range(30))
    hits = ENGINE.prefilter.hits(lock.encode())
    assert decode.LONG_RUN.pattern not in hits
    assert ENGINE.prefilter.spans(lock.encode()) == []
    deep = f"{lock}  token: {b64(b64(b64(make_key('live', 34))))}\n".encode()
    assert decode.LONG_RUN.pattern in ENGINE.prefilter.hits(deep)
    assert [f[1] for f in found(deep)] == ["base64>base64>base64"]


@pytest.mark.parametrize("filler", [0, 49_122, 65_000, 300_000])  # 49_122: across windows
@pytest.mark.parametrize("width", [None, 76])
def test_three_deep_in_a_long_base64_run_is_found_once(filler: int, width: int | None) -> None:
    # A long run (or block of wrapped lines) is decoded a window at a time; windows overlap,
    # the key is reported once.
    key = make_key("live", 33)
    text = b64(b"." * filler + b64(b64(key)).encode() + b"." * 5000)
    if width:
        text = "|\n" + wrap(text, width)
    assert [f[:2] for f in found(f"blob: {text}\n".encode())] == [
        (key, "base64>base64>base64")]


def test_three_deep_needs_decode_depth_three() -> None:
    key = make_key("live", 32)
    text = b64(b64(b64(key))).encode()
    assert found(text, Engine(RULES, Limits(decode_depth=2))) == []
    assert [f[1] for f in found(text)] == ["base64>base64>base64"]


def test_decode_depth_limits_nesting() -> None:
    key = make_key("test", 22)
    command = f"powershell -enc {b64(key.encode('utf-16-le'))}"
    two = command.encode()
    three = ("\ufeff" + command).encode("utf-16-le")  # a script saved as UTF-16
    one, two_deep = Engine(RULES, Limits(decode_depth=1)), Engine(RULES, Limits(decode_depth=2))
    assert found(two, one) == []
    assert [f[:2] for f in found(two)] == [(key, "base64>utf-16le")]
    assert found(three, two_deep) == []
    assert [f[:2] for f in found(three)] == [(key, "utf-16le>base64>utf-16le")]
    nested = b64(b64(key)).encode()
    assert found(nested, one) == []
    assert [f[:2] for f in found(("\ufeff" + b64(b64(key))).encode("utf-16-le"))] == [
        (key, "utf-16le>base64>base64")]


def test_decode_depth_zero_decodes_nothing() -> None:
    key = make_key("live", 23)
    engine = Engine(RULES, Limits(decode_depth=0))
    # Only the keywords, and the markers of MIME parts (containers, which this leaves open).
    assert engine.prefilter.needles == (*KEYWORDS, *sorted(MIME_MARKERS))
    for data in (b64(key).encode(), key.encode("utf-16-le"), percent(key).encode()):
        assert engine.inspect(data).matches == [] and engine.inspect(data).notes == []


# --- properties -----------------------------------------------------------------------------

@settings(max_examples=300)
@given(hidden=hidden_keys(contexts=("text",), max_containers=0))
def test_any_encoded_key_in_random_text_is_found_once_with_its_chain(hidden: Hidden) -> None:
    assert_found_once(ENGINE, hidden)


BASE64_TEXT = st.text(st.sampled_from(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_%\\=\n "), max_size=600)


@settings(max_examples=300)
@given(text=BASE64_TEXT, layers=st.integers(0, 3))
def test_random_base64_runs_find_nothing(text: str, layers: int) -> None:
    # Long runs are decoded by their shape: random ones (and their base64) hold no key.
    for _ in range(layers):
        text = b64(text)
    inspection = ENGINE.inspect(text.encode())
    assert inspection.matches == [] and inspection.notes == []


def hex_runs(data: st.SearchStrategy[bytes]) -> st.SearchStrategy[str]:
    """Runs of hex digits of ``data``: lower, upper or mixed case, after a ``0x``, a digit or
    other text, or before an escape."""
    return st.tuples(data, st.binary(max_size=4), st.sampled_from(["", "0x", "0X", "7", "k_"]),
                     st.sampled_from(["", "\\n", "_x"])).map(
        lambda t: t[2] + mixed_case_hex(t[0], t[1]) + t[3])


# Hex of random bytes (a hash), of text (base64 of anything), of mostly text; decimal numbers.
HEX_RUNS = st.one_of(
    hex_runs(st.binary(min_size=26, max_size=300)),
    hex_runs(st.binary(min_size=20, max_size=200).map(lambda data: b64(data).encode())),
    hex_runs(st.tuples(st.binary(max_size=12), st.text(st.characters(max_codepoint=126),
                                                       min_size=20, max_size=200)).map(
        lambda t: t[0] + t[1].encode())),
    st.text("0123456789", min_size=52, max_size=200))


@settings(max_examples=300)
@given(text=st.one_of(BASE64_TEXT, st.binary(min_size=52, max_size=400).map(
    lambda data: b64(data)), st.text("ABCDEFGHabcdefgh0123", min_size=52, max_size=200),
    HEX_RUNS))
def test_a_run_the_prefilter_rules_out_is_one_the_decoders_would_not_decode(text: str) -> None:
    # The prefilter's rule for runs (decode._may_hold_key) must never drop a run that the
    # decoders would have decoded: on a run it rules out, they find no region at all.
    data = text.encode()
    for start, end in decode.runs(data, decode._RUN_CHARS, 52):
        run = data[start:end]
        if not decode._may_hold_key(run):
            assert list(decode._run_regions(run, [(0, len(run))])) == []


@settings(max_examples=300)
@given(text=HEX_RUNS, layers=st.integers(0, 2))
def test_random_hex_runs_find_nothing(text: str, layers: int) -> None:
    # Hex runs are decoded by their shape: random ones, of text or not, hold no key.
    for _ in range(layers):
        text = b64(text).encode().hex()
    inspection = ENGINE.inspect(f"value = {text};\n".encode())
    assert inspection.matches == [] and inspection.notes == []


@settings(max_examples=200)
@given(text=st.text(st.characters(min_codepoint=32, max_codepoint=126), min_size=26,
                    max_size=300), prefix=st.binary(max_size=4), lead=st.sampled_from(["", "0x"]))
def test_a_run_of_hex_of_text_is_decoded_back_to_the_text(text: str, prefix: bytes,
                                                          lead: str) -> None:
    # Printable text in hex, in any case: a run worth a look, decoded whole (unless its hex
    # has no letter: it would be a number).
    assume(not text.encode().hex().isdigit())
    run = (lead + mixed_case_hex(text.encode(), prefix)).encode()
    assert decode._may_hold_key(run)
    (region,) = decode._run_regions(run, [(0, len(run))])
    assert (region.encoding, region.data, region.origin(0)) == ("hex", text.encode(), len(lead))


@settings(max_examples=200)
@given(data=st.binary(max_size=2048), seed=st.integers(0, 100))
def test_random_bytes_around_encoded_prefixes_never_crash(data: bytes, seed: int) -> None:
    key = make_key("live", seed)
    pieces = [b64(key)[:14], percent(key)[:20], hex_escape(key)[:24], unicode_escape(key)[:30],
              key.encode().hex()[:30], key.encode().hex().upper()[:50], b64(b64(b64(key)))[:70],
              "0x" + b64(b64(key)).encode().hex()[:120], hex_escape(b64(b64(key)))[:200]]
    blob = data.join(p.encode() for p in pieces) + key.encode("utf-16-le")[:20] + data
    inspection = ENGINE.inspect(blob)
    assert all(note.message for note in inspection.notes)


# --- the command line -----------------------------------------------------------------------


def test_cli_reports_encoding_and_honours_max_decode_depth(run_hvscan: Run) -> None:
    key = make_key("live", 24)
    data = f"token: {b64(key)}\n".encode()
    done = run_hvscan("stdin", "--format", "json", input=data)
    assert done.returncode == 1, done.stderr
    (finding,) = json.loads(done.stdout)["findings"]
    assert (finding["encoding"], finding["line"], finding["column"]) == ("base64", 1, 8)
    off = run_hvscan("stdin", "--max-decode-depth", "0", input=data)
    assert off.returncode == 0, off.stderr
    text = run_hvscan("stdin", input=data).stdout.decode()
    assert "<stdin>:1:8: hesedvid-live-key [high]" in text and "encoded as base64" in text
    assert key not in text


def test_cli_finds_three_deep_under_hex_in_a_sql_dump(run_hvscan: Run) -> None:
    # The default scan: a base64 token of base64 stored as a SQL dump's hex literal.
    key = make_key("test", 46)
    literal = b64(b64(key)).encode().hex().upper()
    data = f"-- dump\nINSERT INTO `tokens` VALUES (7,0x{literal});\n".encode()
    done = run_hvscan("stdin", "--format", "json", input=data)
    assert done.returncode == 1, done.stderr
    (finding,) = json.loads(done.stdout)["findings"]
    assert (finding["encoding"], finding["line"], finding["column"]) == (
        "hex>base64>base64", 2, 34)  # the first digit after 0x
    assert run_hvscan("stdin", "--max-decode-depth", "2", input=data).returncode == 0


def test_cli_shows_invalid_base64_note(run_hvscan: Run) -> None:
    key = make_key("test", 25)
    done = run_hvscan("stdin", "--format", "json", input=f"x: {b64(key)[:25]}\n".encode())
    report = json.loads(done.stdout)
    assert done.returncode == 0, done.stderr
    assert report["stats"]["notes"] == 1 and report["stats"]["limits_hit"] == 0
    (note,) = report["notes"]
    assert note["path"] == "<stdin>" and "line 1, column 4" in note["message"]
    text = run_hvscan("stdin", input=f"x: {b64(key)[:25]}\n".encode()).stdout.decode()
    assert "note: <stdin>: base64 text at line 1, column 4" in text
    assert "1 note" in text.splitlines()[-1]


def test_an_encoded_prefix_alone_is_text_about_keys_not_a_note() -> None:
    # Documentation that shows what encoded prefixes look like (`hv%5Flive%5F...`).
    prefix = make_key("live")[:-32]
    encoded = prefix.replace("_", "%5F")
    inspection = ENGINE.inspect(f"| `{encoded}...` | `{b64(prefix)}` |\n".encode())
    assert inspection.matches == [] and inspection.notes == []


def test_line_after_an_unwrapped_run_is_not_glued_onto_the_key() -> None:
    # Found by the encoding property: a 56-character run, then a line starting "M0", was joined
    # as wrapped base64 and the key gained a 33rd body character.
    key = make_key("live", 0)
    data = f"# settings\n {b64(bytes(2) + key.encode())}\nM0".encode()
    assert [f[:2] for f in found(data)] == [(key, "base64")]


def test_utf16le_text_starting_with_nul_is_not_utf32() -> None:
    # Found by the encoding property: BOM + U+0000 in UTF-16LE are the UTF-32LE BOM's bytes.
    key = make_key("live", 0)
    data = f"\ufeff\x00 {b64(key)} ".encode("utf-16-le")
    assert [f[:2] for f in found(data)] == [(key, "utf-16le>base64")]
    utf32 = f"\ufeff{key}".encode("utf-32-le")
    assert [f[:2] for f in found(utf32)] == [(key, "utf-32le")]


# --- whole UTF-16/32 re-readings: as decoded whole, held once -----------------------------

WIDE_CLASSES = [(2, 0), (2, 1), (4, 0), (4, 1), (4, 2), (4, 3)]


@pytest.mark.parametrize("piece", [4, 8, 1 << 20])
@given(data=st.binary(max_size=80) | st.text(max_size=30).map(lambda t: t.encode("utf-16-le")),
       picks=st.lists(st.integers(0, 1 << 16), max_size=8))
def test_wide_reading_in_pieces_is_the_whole_reading(piece: int, data: bytes,
                                                     picks: list[int]) -> None:
    # Pieces of 4 bytes cut surrogate pairs and every character in two; the result, and where
    # its offsets come from, must not show it.
    with mock.patch.object(decode, "PIECE", piece):
        for width, cls in WIDE_CLASSES:
            region = decode._wide_region(data, *decode._reading(width, cls))
            big = (cls + 1) % width == 0
            codec = decode._WIDE_CODECS[width, big][1]
            grid = 0 if big else cls
            grid = len(decode._BOMS[codec]) if grid == 0 and data.startswith(
                decode._BOMS[codec]) else grid
            stop = grid + (len(data) - grid) // width * width
            text = data[grid:stop].decode(codec, "replace")
            assert region.data == text.encode("utf-8")
            # Offsets asked in order: each stretch since the last one is decoded on its own.
            source, last = grid, 0
            for offset in sorted(pick % (len(region.data) + 1) for pick in picks):
                stretch = region.data[last:offset].decode("utf-8", "replace")
                units = len(stretch.encode("utf-16-le")) // 2 if width == 2 else len(stretch)
                source, last = source + units * width, offset
                assert region.origin(offset) == source


def test_a_wide_reading_is_held_once() -> None:
    # The buffer used to be copied, decoded into a str and encoded again, all at once: four
    # times the result at the peak. Python's allocations are traced, nothing is timed.
    data = ("lorem ipsum dolor sit amet\n" * 600_000).encode("utf-16-le")
    tracemalloc.start()
    try:
        region = decode._wide_region(data, 2, 0, False)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(region.data) == len(data) // 2
    assert peak < 1.5 * len(region.data)
