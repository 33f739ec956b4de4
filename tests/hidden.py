"""Keys hidden the ways hvscan must see through, for the property tests: a generated key through
an encoding, in random text (plain or a whole UTF-16/32 text, with or without a BOM) or spliced
into random bytes at any offset (also as a UTF-16/32 string), wrapped in containers; with where
the engine must report it. tests/test_decode.py, tests/test_containers.py and tests/test_engine.py
draw from the one strategy, each over the part it owns."""

from __future__ import annotations

import base64
import zipfile
from collections.abc import Callable, Sequence
from typing import NamedTuple

from archives import STREAMS, make_7z, make_eml, make_tar, make_zip
from hypothesis import assume
from hypothesis import strategies as st
from keygen import make_key

from hvscan.containers import kind
from hvscan.engine import Engine


def b64(data: bytes | str) -> str:
    raw = data.encode() if isinstance(data, str) else data
    return base64.b64encode(raw).decode()


def percent(text: str, case: str = "X") -> str:
    return "".join(f"%{b:02{case}}" for b in text.encode())


def hex_escape(text: str, case: str = "x") -> str:
    return "".join(f"\\x{b:02{case}}" for b in text.encode())


def unicode_escape(text: str, case: str = "x") -> str:
    return "".join(f"\\u{ord(c):04{case}}" for c in text)


def soft_break(text: str, prefix: bytes, newline: str = "\n", escape: bool = False) -> str:
    """The key ``text`` in quoted-printable text (its underscores escaped if ``escape``), cut
    by a soft line break at a place that ``prefix`` picks, in its prefix or its body."""
    cut = 1 + sum(prefix) % (len(text) - 1)
    head, tail = text[:cut], text[cut:]
    if escape:
        head = head.replace("_", "=5F")
    return f"{head}={newline}{tail}"


def escape_some(text: str, prefix: bytes, escape: Callable[[str], str]) -> str:
    """The key ``text`` with the characters of its body that ``prefix`` picks escaped."""
    body = text.index("_", 3) + 1
    picked = {body + byte % (len(text) - body) for byte in prefix} or {len(text) - 1}
    return "".join(escape(char) if at in picked else char for at, char in enumerate(text))


def escaped(text: str, escapes: dict[str, str]) -> str:
    return "".join(escapes.get(char, char) for char in text)


def wrap(text: str, width: int = 76, newline: str = "\n") -> str:
    """``text`` cut into lines of ``width`` characters, as the base64 tool and MIME write it."""
    return newline.join(text[at:at + width] for at in range(0, len(text), width))


# A URL's query escapes base64's + / =; a JSON string may escape its slashes.
URL_ESCAPES = {"+": "%2B", "/": "%2F", "=": "%3D"}
JSON_ESCAPES = {"/": "\\/"}
# Bytes whose base64 is "////": appended after the key, they make sure a layer's text holds
# characters to escape.
SLASHES = b"\xff\xff\xff"


_CUTS = {1: (0, 4), 2: (0, 2, 4), 3: (0, 1, 3, 4)}
# Every character of base64 percent-encoded, as some URL encoders write it.
ALL_PERCENT = {chr(c): f"%{c:02X}" for c in range(32, 127)}
_ESCAPES = {"json": JSON_ESCAPES, "url": URL_ESCAPES, "percent": ALL_PERCENT}


def layered(key: str, prefix: bytes, layers: Sequence[str]) -> tuple[str, int]:
    """``key`` through ``layers``, innermost first: "base64" after some of ``prefix``'s bytes
    (each base64 layer gets a piece of the 4; "////" after the key's bits), or "json" or "url"
    escapes of some characters of base64 text, "percent" of all of them. Also the outer
    character that holds the key's first bits: each layer's characters before that point
    encode the prefix's bytes alone."""
    cuts = _CUTS[layers.count("base64")]
    text, before, piece = key.encode(), b"", 0
    for layer in layers:
        if layer == "base64":
            head = prefix[cuts[piece]:cuts[piece + 1]]
            piece += 1
            text = b64(head + text + SLASHES).encode()
            before = b64(head + before)[:(len(head) + len(before)) * 4 // 3].encode()
        else:
            text = escaped(text.decode(), _ESCAPES[layer]).encode()
            before = escaped(before.decode(), _ESCAPES[layer]).encode()
    return text.decode(), len(before)


def _layers(*layers: str) -> tuple[Callable[[str, bytes], str], Callable[[bytes], int]]:
    # The lead does not depend on the key: "hv_" stands in for it.
    return (lambda k, p: layered(k, p, layers)[0], lambda p: layered("hv_", p, layers)[1])


def _hexed(form: Callable[[str, bytes], str], width: int, head: int,
           *layers: str) -> tuple[Callable[[str, bytes], str], Callable[[bytes], int]]:
    """``layers`` (see ``layered``) written in hex by ``form``, which takes ``width`` characters
    a byte after ``head`` characters (``0x``)."""
    return (lambda k, p: form(layered(k, p, layers)[0], p),
            lambda p: head + width * layered("hv_", p, layers)[1])


def escape_anywhere(text: str, prefix: bytes) -> str:
    """The key ``text`` with the characters ``prefix`` picks (in its prefix or its body, at
    least one) escaped, each as ``\\xXX`` or ``\\uXXXX`` in either case, as the byte picks."""
    picked = {byte % len(text): byte for byte in prefix} or {0: 0}
    forms = (lambda c: f"\\x{ord(c):02x}", lambda c: f"\\x{ord(c):02X}",
             lambda c: f"\\u{ord(c):04x}", lambda c: f"\\u{ord(c):04X}")
    return "".join(forms[picked[at] % 4](char) if at in picked else char
                   for at, char in enumerate(text))


def mixed_case_hex(data: bytes, prefix: bytes) -> str:
    """``data`` in hex, each digit's case picked by the bits of ``prefix``."""
    bits = int.from_bytes(prefix or b"\x5a", "big")
    return "".join(digit.upper() if bits >> (at % (8 * max(len(prefix), 1))) & 1 else digit
                   for at, digit in enumerate(data.hex()))


# name: (chain, encode(key, prefix bytes), characters before the key's first encoded bits)
ENCODINGS: dict[str, tuple[str, Callable[[str, bytes], str], Callable[[bytes], int]]] = {
    "plain": ("plain", lambda k, p: k, lambda p: 0),
    "base64": ("base64", lambda k, p: b64(p + k.encode()), lambda p: len(p) * 4 // 3),
    "base64-url": ("base64", lambda k, p: base64.urlsafe_b64encode(
        p + k.encode() + b"~").decode().rstrip("="), lambda p: len(p) * 4 // 3),
    # 76-character lines, as MIME and GNU base64 write them; the key is on the first.
    "base64-wrapped": ("base64", lambda k, p: base64.encodebytes(
        p + k.encode() + b"\n" + bytes(range(32, 92))).decode().rstrip("\n"),
        lambda p: len(p) * 4 // 3),
    "percent": ("percent", lambda k, p: percent(k), lambda p: 0),
    "percent-lower": ("percent", lambda k, p: percent(k, "x"), lambda p: 0),
    "percent-underscores": ("percent", lambda k, p: k.replace("_", "%5F"), lambda p: 0),
    "hex-escape": ("escape", lambda k, p: hex_escape(k), lambda p: 0),
    # A hex string in JSON ending with the hex of a quote; a SQL dump's upper-case literal.
    "hex": ("hex", lambda k, p: (p + k.encode() + b'"').hex(), lambda p: 2 * len(p)),
    "hex-sql": ("hex", lambda k, p: "0x" + (p + k.encode() + b"'").hex().upper(),
                lambda p: 2 + 2 * len(p)),
    "html-decimal": ("html", lambda k, p: "".join(f"&#{ord(c)};" for c in k), lambda p: 0),
    "html-hex": ("html", lambda k, p: "".join(f"&#x{ord(c):x};" for c in k), lambda p: 0),
    "html-hex-capital": ("html", lambda k, p: "".join(f"&#X{ord(c):X};" for c in k), lambda p: 0),
    "html-underscores": ("html", lambda k, p: k.replace("_", "&lowbar;" if p[:1] < b"\x80"
                                                        else "&#95;"), lambda p: 0),
    "html-in-body": ("html", lambda k, p: escape_some(k, p, lambda c: f"&#x{ord(c):X};"),
                     lambda p: 0),
    "escapes-in-body": ("escape", lambda k, p: escape_some(k, p, unicode_escape), lambda p: 0),
    # Any characters, of the prefix too, escaped; Markdown's escaped underscores.
    "escapes-anywhere": ("escape", escape_anywhere, lambda p: 0),
    "markdown": ("escape", lambda k, p: k.replace("_", "\\_"), lambda p: 0),
    "hex-mixed-case": ("hex", lambda k, p: mixed_case_hex(k.encode() + b"'", p), lambda p: 0),
    "percent-in-body": ("percent", lambda k, p: escape_some(k, p, percent), lambda p: 0),
    "quoted-printable": ("quoted-printable", lambda k, p: soft_break(k, p), lambda p: 0),
    "quoted-printable-crlf": ("quoted-printable", lambda k, p: soft_break(k, p, "\r\n"),
                              lambda p: 0),
    "quoted-printable-escaped": ("quoted-printable", lambda k, p: soft_break(
        k, p, escape=True), lambda p: 0),
    "unicode-escape": ("escape", lambda k, p: unicode_escape(k, "X"), lambda p: 0),
    # Nested: a Kubernetes .dockerconfigjson secret (base64 of JSON holding base64), a URL in
    # a token; each layer at any alignment, URL-safe without padding too. The report points at
    # the outer character that holds the first bits of the inner run's character that holds
    # the key's first bits.
    "base64>base64": ("base64>base64", lambda k, p: b64(p[2:] + b64(p[:2] + k.encode()).encode()),
                      lambda p: (len(p[2:]) + len(p[:2]) * 4 // 3) * 4 // 3),
    "base64-url>base64": ("base64>base64", lambda k, p: base64.urlsafe_b64encode(
        p[2:] + b64(p[:2] + k.encode()).encode()).decode().rstrip("="),
        lambda p: (len(p[2:]) + len(p[:2]) * 4 // 3) * 4 // 3),
    "base64>percent": ("base64>percent", lambda k, p: b64(p + percent(k).encode()),
                       lambda p: len(p) * 4 // 3),
    # Three deep, found by the shape of the outer run (a long run of base64, its escapes
    # decoded first): base64 three times, a JSON string of base64 in base64, base64 of base64
    # in a URL's query; base64 around base64 around anything.
    "base64>base64>base64": ("base64>base64>base64", *_layers("base64", "base64", "base64")),
    "base64>escape>base64": ("base64>escape>base64", *_layers("base64", "json", "base64")),
    "percent>base64>base64": ("percent>base64>base64", *_layers("base64", "base64", "url")),
    "percent-all>base64>base64": ("percent>base64>base64",
                                  *_layers("base64", "base64", "percent")),
    # The outer layer wrapped at 76 columns, as the base64 tool writes it (the key's first bits
    # on its first line, which may follow other text).
    "base64>base64>base64-wrapped": ("base64>base64>base64", lambda k, p: wrap(
        layered(k, p, ("base64",) * 3)[0]), _layers("base64", "base64", "base64")[1]),
    # Hex around base64 of base64 (found by the shape of the hex run): a hex string, a SQL
    # dump's literal, digits of either case, every character escaped as C and Python write it.
    "hex>base64>base64": ("hex>base64>base64", *_hexed(
        lambda t, p: t.encode().hex(), 2, 0, "base64", "base64")),
    "hex-sql>base64>base64": ("hex>base64>base64", *_hexed(
        lambda t, p: "0x" + t.encode().hex().upper(), 2, 2, "base64", "base64")),
    "hex-mixed-case>base64>base64": ("hex>base64>base64", *_hexed(
        lambda t, p: mixed_case_hex(t.encode(), p), 2, 0, "base64", "base64")),
    "hex-escape>base64>base64": ("escape>base64>base64", *_hexed(
        lambda t, p: hex_escape(t, "X" if p[:1] < b"\x80" else "x"), 4, 0, "base64", "base64")),
    "base64>base64>escape": ("base64>base64>escape",
                             lambda k, p: b64(p[2:] + b64(p[:2] + hex_escape(k).encode())
                                              .encode()),
                             lambda p: (len(p[2:]) + len(p[:2]) * 4 // 3) * 4 // 3),
    # The UTF-16 text may start at an odd offset of the decoded bytes; after a NUL, its bytes
    # would read as the key in big endian as well.
    "base64>utf-16le": ("base64>utf-16le",
                        lambda k, p: b64(p.rstrip(b"\0") + k.encode("utf-16-le")),
                        lambda p: len(p.rstrip(b"\0")) * 4 // 3),
}
# A whole text's codec: its name in the chain ("" for UTF-8, which is no encoding)
TEXT_CODECS = {"utf-8": "", "utf-16-le": "utf-16le", "utf-16-be": "utf-16be",
               "utf-32-le": "utf-32le", "utf-32-be": "utf-32be"}
WIDE_CODECS = {codec: name for codec, name in TEXT_CODECS.items() if name}
# What may stand right before and after an encoded key: nothing that could continue it.
SEPARATORS = " \n\t\"',;:()[]{}<>|"
# No U+FEFF: at the start of a text it is a byte-order mark, no character.
FILLER = st.text(st.characters(codec="utf-8", exclude_characters="%\\&\ufeff"), max_size=120)

def mail_name(name: str) -> str:
    """A file name as mail clients keep it: printable, without surrounding white space."""
    return name.strip() if name.isprintable() and name.strip() else "attachment.bin"


def _attached(name: str, data: bytes) -> tuple[bytes, str]:
    return make_eml("Hello,\n", {name: data}), name


# name: wrap(member name, data) -> (container, the member's name in the path, or None)
CONTAINERS: dict[str, Callable[[str, bytes], tuple[bytes, str | None]]] = {
    "zip": lambda name, data: (make_zip({name: data}), name),
    "stored-zip": lambda name, data: (make_zip({name: data}, zipfile.ZIP_STORED), name),
    "tar": lambda name, data: (make_tar({name: data}), name),
    "7z": lambda name, data: (make_7z({name: data}), name),
    "eml": lambda name, data: _attached(mail_name(name), data),
    **{stream: (lambda name, data, compress=compress: (compress(data), None))
       for stream, compress in STREAMS.items()},
}
LAYER = {**{name: name for name in CONTAINERS}, "stored-zip": "zip", "eml": "base64"}
# "." and ".." name no file (7z archives refuse them).
MEMBER_NAMES = st.text(st.characters(codec="utf-8", exclude_characters="\0/!\\"), min_size=1,
                       max_size=12).filter(lambda name: name not in (".", ".."))
CONTEXTS = ("text", "bytes", "wide-in-bytes")


class Hidden(NamedTuple):
    """A key hidden in ``data``, and where the engine must report it: in ``member`` (its
    ``document``), with the encoding chain ``chain``, at ``line``/``column`` and byte offset
    ``start`` of the document. ``wide``: a UTF-16/32 string in binary data, whose bytes may
    read as the key in either byte order (the report then names either, at its own offset);
    its line and column are not checked (they count in a re-reading of binary data)."""

    data: bytes
    key: str
    document: bytes
    member: str | None
    chain: str
    line: int
    column: int
    start: int | None
    wide: bool = False


@st.composite
def hidden_keys(draw: st.DrawFn, contexts: Sequence[str] = CONTEXTS, min_containers: int = 0,
                max_containers: int = 2) -> Hidden:
    key = make_key(draw(st.sampled_from(["live", "test"])), draw(st.integers(0, 10_000)))
    context = draw(st.sampled_from(contexts))
    left, right = draw(st.sampled_from(SEPARATORS)), draw(st.sampled_from(SEPARATORS))
    start: int | None = None
    if context == "wide-in-bytes":
        codec = draw(st.sampled_from(sorted(WIDE_CODECS)))
        before, after = draw(st.binary(max_size=300)), draw(st.binary(max_size=300))
        document = before + (left + key + right).encode(codec) + after
        chain, start, line, column = WIDE_CODECS[codec], len(before) + len(
            left.encode(codec)), 0, 0
    else:
        chain, encode, lead = ENCODINGS[draw(st.sampled_from(sorted(ENCODINGS)))]
        prefix = draw(st.binary(max_size=4))
        encoded = encode(key, prefix)
        if context == "bytes":
            head = draw(st.binary(max_size=300)) + left.encode()
            document = head + encoded.encode() + right.encode() + draw(st.binary(max_size=300))
            start = len(head) + lead(prefix)
            # A UTF-8 byte-order mark that starts the data is no character.
            shown_head = head.decode("utf-8", "surrogateescape").removeprefix("\ufeff")
        else:
            codec = draw(st.sampled_from(sorted(TEXT_CODECS)))
            bom = draw(st.booleans())  # a BOM is no character, in UTF-8 too
            before = draw(FILLER)
            wide_chain = TEXT_CODECS[codec]
            assume(not wide_chain or ">" not in chain)
            if wide_chain and chain != "plain" and not bom:
                # What is inside a UTF-16/32 text is found when the text is recognised: by its
                # BOM, or by the zero bytes of ASCII text at its start.
                before = "# settings for the deployment tool\n" + before
            shown_head = before + left
            text = f"{shown_head}{encoded}{right}{draw(FILLER)}"
            document = (("\ufeff" if bom else "") + text).encode(codec)
            chain = ">".join(c for c in (wide_chain, chain) if c and c != "plain") or "plain"
        line_start = shown_head.rfind("\n") + 1
        line, column = shown_head.count("\n") + 1, len(shown_head) - line_start + lead(prefix) + 1
    # Random bytes that happen to start like a container make another test.
    assume(kind(document) is None)
    data, members, layers = document, [], []
    wrappers = st.lists(st.sampled_from(sorted(CONTAINERS)), min_size=min_containers,
                        max_size=max_containers)
    for wrapper in draw(wrappers):
        data, member = CONTAINERS[wrapper](draw(MEMBER_NAMES), data)
        layers.insert(0, LAYER[wrapper])
        if member is not None:
            members.insert(0, member)
    full_chain = ">".join([*layers, chain]) if chain != "plain" or not layers else ">".join(layers)
    return Hidden(data, key, document, "!".join(members) or None, full_chain, line, column,
                  start, context == "wide-in-bytes")


def assert_found_once(engine: Engine, hidden: Hidden) -> None:
    """The engine reports the hidden key exactly once, where ``hidden`` says."""
    hits = [m for m in engine.scan(hidden.data) if m.secret == hidden.key]
    assert len(hits) == 1, hits
    (match,) = hits
    assert match.member == hidden.member
    if hidden.wide:
        layers, _, name = match.encoding.rpartition(">")
        assert layers == hidden.chain.rpartition(">")[0]
        codec = next(c for c, n in WIDE_CODECS.items() if n == name)
        assert hidden.document[match.start:match.end].decode(codec) == hidden.key
        if match.encoding == hidden.chain:
            assert match.start == hidden.start
        return
    assert match.encoding == hidden.chain
    assert (match.line, match.column) == (hidden.line, hidden.column)
    if hidden.start is not None:
        assert match.start == hidden.start
