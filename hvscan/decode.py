"""Text decoders: keys hidden by an encoding inside text (base64, UTF-16/32, percent, escapes,
quoted-printable, HTML/XML character references, runs of hex digits).

Clean text must not pay for decoding, so nothing is decoded blindly. Each decoder knows the
*forms* a literal takes once encoded (base64 at its three byte alignments, UTF-16/32 in either
byte order, percent-encoding and backslash escapes); those forms of the rules' keywords join the
prefilter's needles, and a decoder runs only on the *regions* around a form the prefilter found.
Encodings nest: the needles of a chain are the outer decoder's forms of the inner chain's needles,
up to the decode depth, along the few nestings worth their cost (see ``Decoder.contains``). A
whole UTF-16/32 text is also recognised by its first bytes (a BOM, or where the zero bytes fall),
like a container, and then scanned in full: what is encoded inside it needs no needles of its own.
"""

from __future__ import annotations

import bisect
import io
import re
from codecs import getincrementaldecoder, utf_8_decode
from collections.abc import Callable, Iterable, Iterator
from itertools import accumulate
from typing import NamedTuple

from hvscan.buffers import Buffer, find, rfind, runs, startswith
from hvscan.lines import PIECE
from hvscan.prefilter import Run, occurrences, run_spans

_ALNUM = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_HEX_DIGITS = b"0123456789abcdefABCDEF"
_HEX = frozenset(_HEX_DIGITS)
_BASE64 = _ALNUM + b"+/-_"
_FROM_URL_SAFE = bytes.maketrans(b"-_", b"+/")
_TO_URL_SAFE = bytes.maketrans(b"+/", b"-_")
_PERCENT_TEXT = _ALNUM + b"%-._~+"
_ESCAPE_TEXT = _ALNUM + b"\\_"
_HTML_TEXT = _ALNUM + b"&#;_"
# What quoted-printable text of a key and its surroundings holds on one line (soft line breaks
# join lines).
_QP_TEXT = _ALNUM + b"=_-.~+/:;,'\"<>()[]{}!?*&#$@|^` \t"
_HEX_BYTES = {f"{i:02{case}}".encode(): bytes([i]) for i in range(256) for case in "xX"}
# Shorter forms would fire on ordinary text too often to be a cheap check.
_MIN_FORM = 4
# Encoded text is cut out of its line; a region never reaches further than this from its needle.
_REACH = 1 << 16
# How far after a keyword an escape, or a soft line break, may still be in the key: its body
# with every character escaped (``\\u0041`` is six characters).
_KEY_REACH = 256
# Wrapped base64 is joined across lines only at the widths encoders wrap at (PEM and openssl 64,
# MIME and GNU base64 76, and the less common 60 and 72): a key's encoding that ends a line of
# another width, followed by a line that happens to start with base64 characters, is not a wrap,
# and joining them would glue a character onto the key and hide it.
_WRAP_WIDTHS = frozenset({60, 64, 72, 76})
_WIDEST_WRAP = max(_WRAP_WIDTHS)
_WIDE_UNIT = {"utf-16": 2, "utf-32": 4}
# (code unit size, big endian): the encoding's name in reports and its Python codec
_WIDE_CODECS = {(2, False): ("utf-16le", "utf-16-le"), (2, True): ("utf-16be", "utf-16-be"),
                (4, False): ("utf-32le", "utf-32-le"), (4, True): ("utf-32be", "utf-32-be")}
_BOMS = {"utf-16-le": b"\xff\xfe", "utf-16-be": b"\xfe\xff",
         "utf-32-le": b"\xff\xfe\x00\x00", "utf-32-be": b"\x00\x00\xfe\xff"}
# (BOM, code unit size, class), UTF-32 first: its little-endian BOM starts with UTF-16's.
_SNIFF_BOMS = ((_BOMS["utf-32-le"], 4, 0), (_BOMS["utf-32-be"], 4, 3),
               (_BOMS["utf-16-le"], 2, 0), (_BOMS["utf-16-be"], 2, 1))


class Needle(NamedTuple):
    """What a prefilter needle stands for: a rule keyword seen through ``chain`` (encodings,
    outermost first). ``phase`` places the needle on its encoding's grid: a base64 needle starts
    ``phase`` characters after a 4-character group boundary; for UTF-16/32 see ``_wide_forms``."""

    chain: tuple[str, ...]
    phase: int = 0
    # A hit of ``LONG_RUN``, not of a literal: the run is found in the buffer again.
    run: bool = False


class Region(NamedTuple):
    """Encoded text found in a buffer, decoded. ``origin`` maps an offset in ``data`` to the
    offset of the encoded text in the buffer. ``whole_text`` marks the whole buffer re-read in
    another text encoding (UTF-16/32), whose lines are counted in ``data``."""

    encoding: str
    data: bytes
    origin: Callable[[int], int]
    whole_text: bool = False


Found = list[tuple[bytes, Needle]]
Form = tuple[str, bytes, int]


class Decoder(NamedTuple):
    family: str
    forms: Callable[[bytes], list[Form]]
    regions: Callable[[Buffer, Found], Iterable[Region]]
    # Encodings this one is commonly wrapped around: needles are composed only along these,
    # which keeps the needle set, and so the cost of the prefilter pass, small.
    contains: frozenset[str]


NEEDLE_DEPTH = 2
# Deeper chains are found by the shape of their text: base64 (either alphabet; its ``+``, ``/``
# and ``=`` may be percent-escaped, or JSON-escaped as ``\/``) long enough to hold a key under
# two encodings or more, the prefilter's one non-literal needle (``LONG_RUN``). Its hit stands
# for base64 around anything, or percent-encoding or escapes around base64, so it is looked for
# where at least two encodings may still be decoded; a run is decoded with what needles would
# tell: its escapes, its grid (see ``_text_grid``). Any chain three deep makes a run of at least
# 70 characters at the top (base64 of base64 of a key's 40 bytes at any alignment), which the
# clean-text pass looks for; decoded text, which is small, is searched for the shortest run that
# can hold a key under one more encoding (53 characters: base64 of 40 bytes), which ordinary
# text has more of (PEM lines, long identifiers). Decoding one that holds no key costs
# microseconds. Hex digits, and ``\\x`` escapes, are among these characters: a run of hex of
# base64 (``hex>base64>base64``) is found by the same pass, and decoded as hex (``_hex_span``).
_RUN_CHARS = _BASE64 + b"%\\"


def _may_hold_key(run: Buffer) -> bool:
    """Whether a run found by its shape is worth a look. A run of plain base64 on one line (no
    escapes, not as wide as encoders wrap, within one window) is decoded only on a grid on which
    it reads as text (``_run_regions``): one with none (a lock file's hashes, base64 of binary
    data) is passed over by the prefilter already, so that a blob holding only such runs never
    reaches the decoders. A run of hex digits is decoded only where it reads as hex of text
    (``_hex_span``): a hash does not. Any other run is looked at whole."""
    if len(run) > _REACH or len(run) in _WRAP_WIDTHS:
        return True
    text = bytes(run)
    return (b"%" in text or b"\\" in text or _text_grid(text) is not None
            or _hex_span(text) is not None)


LONG_RUN = Run(_RUN_CHARS, 70, _may_hold_key)
_SHORT_RUN = Run(_RUN_CHARS, 52, _may_hold_key)
# More than the longest encoding of a key that a long run decodes (base64 of base64 of a key
# with every character escaped is under 300 characters).
_RUN_OVERLAP = 1024
_RUN_NEEDLE = Needle(("base64", "*"), run=True)


def decoded_run_hits(buf: Buffer, depth_left: int) -> frozenset[bytes]:
    """The short-run needle's hit in decoded text that holds a run of ``_SHORT_RUN`` worth a
    look."""
    return frozenset({_SHORT_RUN.pattern}) if depth_left >= len(_RUN_NEEDLE.chain) and next(
        run_spans(_SHORT_RUN, buf, large=False), None) is not None else frozenset()


def run_table(depth: int) -> dict[bytes, tuple[Needle, ...]]:
    """The run needles (the prefilter's, and decoded text's), where decoding goes deep enough
    for them."""
    if depth < len(_RUN_NEEDLE.chain):
        return {}
    return {LONG_RUN.pattern: (_RUN_NEEDLE,), _SHORT_RUN.pattern: (_RUN_NEEDLE,)}


def needle_table(keywords: Iterable[bytes], depth: int) -> dict[bytes, tuple[Needle, ...]]:
    """Every needle for chains of at most ``depth`` (and NEEDLE_DEPTH) encodings around
    ``keywords``."""
    table: dict[bytes, list[Needle]] = {}
    frontier: list[tuple[bytes, tuple[str, ...]]] = [(k, ()) for k in dict.fromkeys(keywords)]
    for _ in range(min(depth, NEEDLE_DEPTH)):
        grown: list[tuple[bytes, tuple[str, ...]]] = []
        for literal, chain in frontier:
            for decoder in DECODERS:
                if chain and chain[0] not in decoder.contains:
                    continue
                for encoding, form, phase in decoder.forms(literal):
                    needle = Needle((encoding, *chain), phase)
                    entries = table.setdefault(form, [])
                    if needle not in entries:
                        entries.append(needle)
                        grown.append((form, needle.chain))
        frontier = grown
    return {form: tuple(needles) for form, needles in table.items()}


def family(encoding: str) -> Decoder:
    return _WIDE_DECODER if encoding in _WIDE_UNIT else _BY_FAMILY[encoding]


class Spans:
    """Disjoint spans already seen (spans added that overlap or touch merge), so that each run
    is decoded once however many needles it holds (a lookup costs a bisection, whatever the
    number of runs)."""

    def __init__(self) -> None:
        self._starts: list[int] = []
        self._ends: list[int] = []

    def covers(self, pos: int) -> bool:
        index = bisect.bisect_right(self._starts, pos) - 1
        return index >= 0 and pos < self._ends[index]

    def overlaps(self, start: int, end: int) -> bool:
        index = bisect.bisect_left(self._starts, end) - 1
        return index >= 0 and self._ends[index] > start

    def add(self, start: int, end: int) -> None:
        low = bisect.bisect_left(self._ends, start)
        high = bisect.bisect_right(self._starts, end)
        if low < high:
            start, end = min(start, self._starts[low]), max(end, self._ends[high - 1])
        self._starts[low:high] = [start]
        self._ends[low:high] = [end]


# --- base64 --------------------------------------------------------------------------------


def _base64_forms(literal: bytes) -> list[Form]:
    import binascii

    forms: list[Form] = []
    for align in range(3):
        encoded = binascii.b2a_base64(bytes(align) + literal + bytes(2), newline=False)
        # Keep the characters made only of the literal's bits: character i holds bits
        # [6i, 6i + 6) and the literal occupies bits [8 * align, 8 * (align + len)).
        first = -(-8 * align // 6)
        stable = encoded[first:8 * (align + len(literal)) // 6]
        for variant in dict.fromkeys((stable, stable.translate(_TO_URL_SAFE))):
            forms.append(("base64", variant, first))
    return forms


def _base64_regions(buf: Buffer, found: Found) -> list[Region]:
    regions: list[Region] = []
    done = Spans()
    # The runs to decode: the shortest whose needle hit (decoded text's, else the prefilter's).
    long_runs = [run for run in (_SHORT_RUN, LONG_RUN)
                 if any(info.run and needle == run.pattern for needle, info in found)][:1]
    for needle, info in found:
        if info.run:
            continue
        for pos in occurrences(buf, needle):
            if done.covers(pos) or (long_runs and _escaped_run(buf, pos)):
                continue
            segments = _base64_run(buf, pos, info.phase)
            done.add(min(segments[0][0], pos), segments[-1][1])
            regions.append(_base64_region(buf, segments))
    if long_runs:
        regions += _long_run_regions(buf, done, long_runs[0])
    return regions


def _escaped_run(buf: Buffer, pos: int) -> bool:
    """Whether the needle at ``pos`` is in a long run with escapes: that run is decoded whole,
    its escapes first (see ``_long_run_regions``), not cut at its first escape."""
    start, end = _span_start(buf, pos, _RUN_CHARS), _span_end(buf, pos, _RUN_CHARS)
    return end - start >= _SHORT_RUN.length and _escapes_of(bytes(buf[start:end])) is not None


# Base64's own characters escaped: a URL's query escapes + / =, JSON may escape /.
_BASE64_ESCAPES = {"percent": (b"%2B", b"%2F", b"%3D", b"%2b", b"%2f", b"%3d"),
                   "escape": (b"\\/", b"\\u002F", b"\\u002f", b"\\u002B", b"\\u002b")}


def _escapes_of(text: bytes) -> tuple[str, bytes, Callable[[bytes], tuple[bytes, int]]] | None:
    """How ``text`` escapes base64's characters, if it does: other escapes (``\\u00e9`` in
    text, a stray ``%``) make no escaped base64. Base64 with every character escaped
    (``%61%47...``, ``\\x61\\x47...``) need have no ``+ / =``: a run that is all escapes but a
    character or two (glued to its ends) is unescaped too."""
    for encoding, marker, unit in (("percent", b"%", _percent_unit),
                                   ("escape", b"\\", _escape_unit)):
        if marker in text and (any(escape in text for escape in _BASE64_ESCAPES[encoding])
                               or all(_unescaped_chars(part, encoding) <= 2
                                      for part in (text[:32], text))):
            return encoding, marker, unit
    return None


# The escapes of one character of base64: ``%XX``; ``\\xXX`` and ``\\u00XX`` (runs of other
# ``\\u`` escapes, Unicode tables in regular expressions, are not base64: not unescaped).
_CHAR_ESCAPES = {"percent": ((b"%", 3),), "escape": ((b"\\x", 4), (b"\\u00", 6))}


def _unescaped_chars(text: bytes, encoding: str) -> int:
    """About how many characters of ``text`` are not in a character's escape (an escape cut at
    the end of ``text`` counts whole: a slice of escapes has none)."""
    return len(text) - sum(width * text.count(start) for start, width in _CHAR_ESCAPES[encoding])


def _long_run_regions(buf: Buffer, done: Spans, run: Run) -> Iterator[Region]:
    """Each long run no needle has decoded, with the lines that continue it if it is the first
    line of wrapped base64 (``_wrapped_block``), a window of at most _REACH characters at a time
    (windows overlap by more than any key's encoding three deep): a run of megabytes (an
    embedded image) is never copied or decoded whole."""
    step = _REACH - _RUN_OVERLAP
    for start, end in run_spans(run, buf):
        if done.overlaps(start, end):
            continue
        lines = _wrapped_block(buf, start, end)
        if len(lines) > 1:
            done.add(start, lines[-1][1])  # the lines after the first are no runs of their own
        offsets = _offsets(lines)
        for low in range(0, offsets[-1], step):
            yield from _run_regions(buf, _within(lines, offsets, low,
                                                 min(offsets[-1], low + _REACH)))
            if low + _REACH >= offsets[-1]:
                break


def _wrapped_block(buf: Buffer, start: int, end: int) -> list[tuple[int, int]]:
    """The run (start, end) and, if it is a line of plain base64 as wide as encoders wrap at,
    the lines that continue it (``_join_wrapped``). The run may follow other text on its line
    (``secret: `` and pasted ``base64`` output, a YAML plain scalar folded over lines): the
    lines that follow, of its very width but the last, tell the wrap."""
    lines = [(start, end)]
    if end - start in _WRAP_WIDTHS and not bytes(buf[start:end]).strip(_BASE64):
        _join_wrapped(buf, lines, first_whole=False)
    return lines if len(lines) > 1 else _escaped_lines(buf, start, end) or lines


# A newline in a JSON (or JavaScript, Python...) string: wrapped base64 held in one.
_ESCAPED_NEWLINES = (b"\\n", b"\\r\\n")


def _escaped_lines(buf: Buffer, start: int, end: int) -> list[tuple[int, int]] | None:
    """The lines of wrapped base64 in the run (start, end) if it is one held in a string, its
    newlines escaped (``\\n``): lines of one wrap width, each ended by the same escape, then a
    shorter last one; None for any other run."""
    width = find(buf, b"\\", start, min(end, start + _WIDEST_WRAP + 1)) - start
    if width not in _WRAP_WIDTHS:  # most runs: no escaped newline where a wrap would put one
        return None
    head = bytes(buf[start:start + width + len(_ESCAPED_NEWLINES[-1])])
    separator = next((s for s in _ESCAPED_NEWLINES if head.startswith(s, width)), b"")
    if not separator or head[:width].strip(_BASE64):
        return None
    lines: list[tuple[int, int]] = []
    pos, step = start, width + len(separator)
    while pos < end:
        piece = bytes(buf[pos:min(end, pos + step)])
        if len(piece) == step and piece.endswith(separator) and not piece[:width].strip(_BASE64):
            lines.append((pos, pos + width))
            pos += step
            continue
        last = len(piece) - len(piece.lstrip(_BASE64))
        if 0 < last <= width:
            lines.append((pos, pos + last))
        break
    return lines if len(lines) > 1 else None


def _offsets(pieces: list[tuple[int, int]]) -> list[int]:
    """Where each of ``pieces`` (spans of the buffer, read one after the other) starts in their
    joined text, and the joined text's length."""
    return list(accumulate((end - start for start, end in pieces), initial=0))


def _within(pieces: list[tuple[int, int]], offsets: list[int], low: int,
            high: int) -> list[tuple[int, int]]:
    """The parts of ``pieces`` between characters ``low`` and ``high`` of their joined text
    (``offsets``: see ``_offsets``); found by bisection: a block of wrapped base64 may have a
    hundred thousand lines, and is cut into windows."""
    if len(pieces) == 1:  # most runs: one line
        start, end = pieces[0]
        return [(start + low, min(end, start + high))]
    first = max(bisect.bisect_right(offsets, low) - 1, 0)
    last = bisect.bisect_left(offsets, high, first)
    cut: list[tuple[int, int]] = []
    for (start, end), offset in zip(pieces[first:last], offsets[first:last], strict=True):
        begin, stop = max(low - offset, 0), min(high - offset, end - start)
        if begin < stop:
            cut.append((start + begin, start + stop))
    return cut


def _run_regions(buf: Buffer, pieces: list[tuple[int, int]]) -> Iterator[Region]:
    """A long run (one piece, or the lines of wrapped base64) unescaped if it holds escapes,
    else read as base64 on the grid that reads as text (what comes before the run may be glued
    to it); a run of hex digits that reads as hex of text is decoded as hex."""
    text = b"".join(bytes(buf[start:end]) for start, end in pieces)
    hexed = _hex_run_region(pieces, text)
    if hexed is not None:
        yield hexed
        return
    escapes = _escapes_of(text)
    if escapes is not None:  # one piece: only plain base64 is joined across lines
        yield _unescape(buf, pieces[0], *escapes)
        return
    # base64, less any stray % or backslash
    plain = b"%" not in text and b"\\" not in text
    for low, high in [(0, len(text))] if plain else runs(text, _BASE64, _SHORT_RUN.length):
        grid = _text_grid(text[low:high])
        if grid is not None:
            segments = _within(pieces, _offsets(pieces), low + grid, high)
            last_start, last_end = segments[-1]
            after = bytes(buf[last_end:last_end + 2])
            segments[-1] = (last_start, last_end + len(after) - len(after.lstrip(b"=")))
            yield _base64_region(buf, segments)


# What the first character of each 4-character group of base64 is when the bytes encoded are
# ASCII (below 0x80: their top six bits are below 32).
_ASCII_FIRST = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef"


def _text_grid(text: bytes) -> int | None:
    """The grid (offset modulo 4) on which ``text`` reads as base64 of ASCII text, the only kind
    that can hold an encoded key: on it, at least three quarters of the groups (a few bytes of
    binary data may come before or after the text) start with a character of _ASCII_FIRST; on
    another grid, or in base64 of binary data (a PEM line), about half do. None if no grid does:
    the run is not decoded."""
    if text == text.lower():
        # No capital: a path, a hash, a rule of dashes. Base64 of text has capitals: a group's
        # first character is one unless its byte is a letter from h to z.
        return None
    scores = [len(firsts) - len(firsts.translate(None, _ASCII_FIRST))
              for firsts in (text[grid::4] for grid in range(4))]
    best = max(range(4), key=scores.__getitem__)
    return best if 4 * scores[best] >= 3 * len(text[best::4]) else None


def _base64_run(buf: Buffer, pos: int, phase: int) -> list[tuple[int, int]]:
    """The base64 text around ``pos`` as (start, end) pieces of ``buf``: the needle fixes the
    4-character grid, so characters glued to the front of the run are left out; wrapped lines
    are joined."""
    left = _span_start(buf, pos, _BASE64)
    start = left + (pos - phase - left) % 4
    end = _span_end(buf, pos, _BASE64)
    segments = [(start, end)]
    if start == left:
        while (previous := _wrapped_line_before(buf, segments[0][0])) is not None:
            segments.insert(0, previous)
    _join_wrapped(buf, segments)
    last_start, last_end = segments[-1]
    after = bytes(buf[last_end:last_end + 2])
    padding = len(after) - len(after.lstrip(b"="))
    segments[-1] = (last_start, last_end + padding)
    return segments


def _span_start(buf: Buffer, pos: int, chars: bytes) -> int:
    # Newlines are looked for within reach only: on a long line holding many needles, a search
    # to the line's start for each would cost time quadratic in the line's length.
    low = max(rfind(buf, b"\n", max(0, pos - _REACH), pos) + 1, pos - _REACH)
    before = bytes(buf[low:pos])
    return pos - (len(before) - len(before.rstrip(chars)))


def _span_end(buf: Buffer, pos: int, chars: bytes) -> int:
    high = find(buf, b"\n", pos, pos + _REACH)
    high = min(len(buf), pos + _REACH) if high < 0 else high
    return high - len(bytes(buf[pos:high]).lstrip(chars))


def _line_start(buf: Buffer, pos: int) -> int | None:
    """Where the line holding ``pos`` starts, if only indentation (within reach) comes before
    ``pos``."""
    reach = max(0, pos - _REACH)
    low = rfind(buf, b"\n", reach, pos) + 1
    if not low and reach:
        return None  # a line longer than the reach: not wrapped text
    return low if not bytes(buf[low:pos]).strip(b" \t") else None


def _wrapped_line_before(buf: Buffer, start: int) -> tuple[int, int] | None:
    low = _line_start(buf, start)
    if not low:
        return None
    end = low - 1
    if end and buf[end - 1] == 0x0D:
        end -= 1
    begin = _span_start(buf, end, _BASE64)
    width = end - begin
    if width not in _WRAP_WIDTHS or _line_start(buf, begin) is None:
        return None
    return begin, end


def _join_wrapped(buf: Buffer, segments: list[tuple[int, int]], first_whole: bool = True) -> None:
    """Append to ``segments`` (base64 text ending at the last one) the lines that continue it:
    while the last is a line as wide as encoders wrap at, the next line's base64, if it is no
    wider (lines of one width, then a shorter last one, which ends the text). The first segment
    must fill its line if ``first_whole`` (the others always do)."""
    while (following := _wrapped_line_after(buf, segments[-1], first_whole or len(segments) > 1)):
        width, next_width = (end - start for start, end in (segments[-1], following))
        if next_width > width:
            return
        segments.append(following)
        if next_width < width:
            return


def _wrapped_line_after(buf: Buffer, segment: tuple[int, int],
                        whole: bool = True) -> tuple[int, int] | None:
    start, end = segment
    width = end - start
    if width not in _WRAP_WIDTHS or (whole and _line_start(buf, start) is None):
        return None
    following = end + 2 if buf[end:end + 2] == b"\r\n" else end + 1
    if bytes(buf[end:following]).strip(b"\r") != b"\n":
        return None
    indent = bytes(buf[following:following + 64])
    begin = following + len(indent) - len(indent.lstrip(b" \t"))
    stop = _span_end(buf, begin, _BASE64)
    return (begin, stop) if stop > begin else None


def _base64_region(buf: Buffer, segments: list[tuple[int, int]]) -> Region:
    import binascii

    text = b"".join(buf[s:e] for s, e in segments).translate(_FROM_URL_SAFE).rstrip(b"=")
    usable = len(text) - (1 if len(text) % 4 == 1 else 0)
    data = binascii.a2b_base64(text[:usable] + b"=" * (-usable % 4))
    offsets = [0]
    for start, end in segments:
        offsets.append(offsets[-1] + end - start)

    def origin(offset: int) -> int:
        char = min(offset * 4 // 3, offsets[-1])
        index = min(bisect.bisect_right(offsets, char) - 1, len(segments) - 1)
        return segments[index][0] + char - offsets[index]

    return Region("base64", data, origin)


# --- percent-encoding and backslash escapes ------------------------------------------------


def _hex_forms(encoding: str, literal: bytes, escape: Callable[[int], str],
               codes: list[int], partial: bool = True) -> list[Form]:
    """``literal`` with every character escaped, and (if ``partial``) with only those that are
    not letters or digits escaped. Each form is cut before its first hex letter, so one needle
    serves upper- and lower-case hex (and keywords that share a prefix share it)."""
    forms: dict[bytes, None] = {}
    for escape_all in (True, False) if partial else (True,):
        form = ""
        for code in codes:
            if not escape_all and code < 128 and code in _ALNUM:
                form += chr(code)
                continue
            escaped = escape(code)
            letter = next((i for i, char in enumerate(escaped) if char in "ABCDEF"), None)
            if letter is not None:
                form += escaped[:letter]
                break
            form += escaped
        if len(form) >= _MIN_FORM and form.encode() != literal:
            forms[form.encode()] = None
    return [(encoding, form, 0) for form in forms]


# Percent-encoding and escapes also hold the literal as it is, with characters of the key's body
# escaped after it (``hv_live_\x41bc...``): that form is the keyword's own needle, and costs the
# prefilter nothing; the text after it is decoded only if an escape follows (``_spans``).
def _percent_forms(literal: bytes) -> list[Form]:
    return [("percent", literal, 0),
            *_hex_forms("percent", literal, lambda c: f"%{c:02X}", list(literal))]


def _escape_forms(literal: bytes) -> list[Form]:
    """Backslash escapes of any of the literal's characters, mixed with plain ones
    (``h\\x76_live_``, ``\\u0068v_...``, Markdown's ``hv\\_live\\_``): the escape of its first
    or second character, its first two characters and a backslash (an escaped third), the
    literal's first three bytes (an escape later in the keyword) and the literal itself (an
    escape in the key's body); from any of these the run around is decoded. Every keyword that
    shares its first characters shares these forms (``hv``: eight needles in all, whatever the
    keywords)."""
    forms: list[Form] = [("escape", literal, 0)]
    if len(literal) > 3:
        forms += [("escape", literal[:3], 0), ("escape", literal[:2] + b"\\", 0)]
    for code in literal[:2]:
        for escaped in (f"\\x{code:02X}", f"\\u{code:04X}"):
            letter = next((i for i, char in enumerate(escaped) if char in "ABCDEF"), None)
            form = escaped[:letter].encode()
            if len(form) >= _MIN_FORM:
                forms.append(("escape", form, 0))
    return forms


def _utf16_units(text: str) -> list[int]:
    # Worked out here rather than with the codec, whose import start-up would pay.
    units: list[int] = []
    for char in text:
        code = ord(char)
        if code > 0xFFFF:
            code -= 0x10000
            units += [0xD800 | code >> 10, 0xDC00 | code & 0x3FF]
        else:
            units.append(code)
    return units


def _quoted_printable_forms(literal: bytes) -> list[Form]:
    """The literal as quoted-printable text holds it. A soft line break (``=`` and a newline)
    or an ``=XX`` escape may cut it anywhere: in the key's body (the literal as it is), after
    the literal's first three bytes (those bytes: ``hv_``, the escapes' needle too), after its
    first two (they and an ``=``: ``hv=``, a break or the third character escaped), or after its
    first (``h=``, a newline and the next two). The text after a needle without an ``=`` is
    decoded only where a break or an escape follows it. Keywords that share their first three
    bytes share these needles: five in all."""
    forms: list[Form] = [("quoted-printable", literal, 0)]
    if len(literal) > 3:
        forms += [("quoted-printable", literal[:3], 0), ("quoted-printable", literal[:2] + b"=", 0),
                  *(("quoted-printable", literal[:1] + b"=" + newline + literal[1:3], 0)
                    for newline in (b"\n", b"\r\n"))]
    return forms


def _quoted_printable_regions(buf: Buffer, found: Found) -> list[Region]:
    """The quoted-printable text around each needle: on the needle's line and the lines soft
    line breaks join to it. Around a keyword as it is, only where a soft line break follows
    (else there is nothing to decode: the plain scan sees the key)."""
    regions: list[Region] = []
    done = Spans()
    for needle, _ in found:
        for pos in occurrences(buf, needle):
            if done.covers(pos) or (b"=" not in needle and not _escape_in_body(
                    buf, pos + len(needle), b"=", _quoted_printable_unit)):
                continue
            start, end = _span_start(buf, pos, _QP_TEXT), _quoted_printable_end(buf, pos)
            done.add(start, end)
            regions.append(_unescape(buf, (start, end), "quoted-printable", b"=",
                                     _quoted_printable_unit))
    return regions


def _quoted_printable_end(buf: Buffer, pos: int) -> int:
    end, reach = pos, pos + _REACH
    while end < reach:
        end = _span_end(buf, end, _QP_TEXT)
        following = end + (2 if buf[end:end + 2] == b"\r\n" else 1)
        if buf[end - 1:end] != b"=" or bytes(buf[end:following]).strip(b"\r") != b"\n":
            break
        end = following
    return min(end, reach)


def _quoted_printable_unit(part: bytes) -> tuple[bytes, int]:
    """What follows an ``=``: a soft line break, which stands for nothing, or an escaped byte."""
    if part.startswith(b"\n"):
        return b"", 1
    if part.startswith(b"\r\n"):
        return b"", 2
    return _percent_unit(part)


def _percent_regions(buf: Buffer, found: Found) -> list[Region]:
    return [_unescape(buf, span, "percent", b"%", _percent_unit)
            for span in _spans(buf, found, _PERCENT_TEXT, b"%", _percent_unit)]


def _escape_regions(buf: Buffer, found: Found) -> list[Region]:
    return [_unescape(buf, span, "escape", b"\\", _escape_unit)
            for span in _spans(buf, found, _ESCAPE_TEXT, b"\\", _escape_unit)]


def _spans(buf: Buffer, found: Found, chars: bytes, marker: bytes,
           unit: Callable[[bytes], tuple[bytes, int]]) -> list[tuple[int, int]]:
    """The runs of ``chars`` around the needles; around a needle without an escape in it (the
    keyword itself), only a run in which an escape follows it."""
    spans: list[tuple[int, int]] = []
    done = Spans()
    for needle, _ in found:
        for pos in occurrences(buf, needle):
            if done.covers(pos) or (marker not in needle and not _escape_in_body(
                    buf, pos + len(needle), marker, unit)):
                continue
            spans.append((_span_start(buf, pos, chars), _span_end(buf, pos, chars)))
            done.add(*spans[-1])
    return spans


def _escape_in_body(buf: Buffer, pos: int, marker: bytes,
                    unit: Callable[[bytes], tuple[bytes, int]]) -> bool:
    """Whether the key body that may start at ``pos`` (after a keyword) holds an escape: the
    run of letters, digits and escapes there, within a key's reach, has one. An escape after
    the body (a redacted key's ``****%0A``) is not the key's."""
    run = bytes(buf[pos:min(len(buf), pos + _KEY_REACH)])
    pos += len(run) - len(run.lstrip(_ALNUM))
    return buf[pos:pos + 1] == marker and unit(bytes(buf[pos + 1:pos + 12]))[1] > 0


def _html_forms(literal: bytes) -> list[Form]:
    """The literal in HTML/XML text: as it is (character references in the key's body after
    it), with character references in decimal, in hex after ``&#x`` or ``&#X`` (cut before the
    first hex letter), its first two characters and a reference, and the underscore's name; the
    references' forms made of the literal's first three bytes, which keywords share (``hv_``):
    the decoded run holds the rest."""
    head = literal[:3]
    named = head.replace(b"_", b"&lowbar;")
    return [("html", literal, 0),
            *_hex_forms("html", head, lambda c: f"&#{c};", list(head), partial=False),
            *_hex_forms("html", head, lambda c: f"&#x{c:X};", list(head), partial=False),
            *_hex_forms("html", head, lambda c: f"&#X{c:X};", list(head), partial=False),
            # A reference for the third character, in any notation.
            *([("html", literal[:2] + b"&#", 0)] if len(literal) > 3 else []),
            *([("html", named, 0)] if named != head else [])]


def _html_regions(buf: Buffer, found: Found) -> list[Region]:
    return [_unescape(buf, span, "html", b"&", _html_unit)
            for span in _spans(buf, found, _HTML_TEXT, b"&", _html_unit)]


_HTML_REFERENCE = re.compile(rb"#([0-9]{1,7});|#[xX]([0-9a-fA-F]{1,6});|(lowbar|UnderBar);")


def _html_unit(part: bytes) -> tuple[bytes, int]:
    """What a character reference after an ``&`` stands for and the characters it takes."""
    found = _HTML_REFERENCE.match(part)
    if found is None:
        return b"", 0
    if found.group(3):
        return b"_", found.end()
    code = int(found.group(1)) if found.group(1) else int(found.group(2), 16)
    if code > 0x10FFFF:
        return b"", 0
    return chr(code).encode("utf-8", "surrogatepass"), found.end()


def _percent_unit(part: bytes) -> tuple[bytes, int]:
    """The byte a ``%XX`` escape stands for and the characters it takes after the ``%``."""
    byte = _HEX_BYTES.get(part[:2])
    return (byte, 2) if byte is not None else (b"", 0)


def _escape_unit(part: bytes) -> tuple[bytes, int]:
    """What a ``\\xXX``, ``\\uXXXX``, JSON's ``\\/`` or Markdown's ``\\_`` escape stands for and
    the characters it takes after the backslash."""
    if part[:1] == b"x" and (byte := _HEX_BYTES.get(part[1:3])) is not None:
        return byte, 3
    if part[:1] in (b"/", b"_"):  # JSON's \/, Markdown's \_
        return part[:1], 1
    digits = part[1:5]
    if part[:1] == b"u" and len(digits) == 4 and all(c in _HEX for c in digits):
        return chr(int(digits, 16)).encode("utf-8", "surrogatepass"), 5
    return b"", 0


def _unescape(buf: Buffer, span: tuple[int, int], encoding: str, marker: bytes,
              unit: Callable[[bytes], tuple[bytes, int]]) -> Region:
    start, end = span
    parts = bytes(buf[start:end]).split(marker)
    decoded = [parts[0]]
    for part in parts[1:]:
        value, used = unit(part)
        decoded.append(value + part[used:] if used else marker + part)
    anchors: list[tuple[int, int]] = []

    def origin(offset: int) -> int:
        if not anchors:  # worked out on the first match only: most regions have none
            _anchor(anchors, parts, start, marker, unit)
        index = bisect.bisect_right(anchors, (offset, end)) - 1
        return min(anchors[index][1] + offset - anchors[index][0], end)

    return Region(encoding, b"".join(decoded), origin)


def _anchor(anchors: list[tuple[int, int]], parts: list[bytes], start: int, marker: bytes,
            unit: Callable[[bytes], tuple[bytes, int]]) -> None:
    """(offset in the decoded data, offset in the buffer) where each run that maps one to one
    begins: every escape, and the text after it."""
    anchors.append((0, start))
    decoded, source = len(parts[0]), start + len(parts[0])
    for part in parts[1:]:
        value, used = unit(part)
        if used:
            anchors.append((decoded, source))
            decoded += len(value)
            source += 1 + used
        else:
            decoded += 1
            source += 1
        anchors.append((decoded, source))
        decoded += len(part) - used
        source += len(part) - used


# --- hexadecimal ----------------------------------------------------------------------------


def _hex_run_forms(literal: bytes) -> list[Form]:
    """The literal's first three bytes as a run of hex digits, lower- and upper-case (``0x...``
    SQL literals, ``X'...'``, hex strings in JSON hold the same run). Not cut before a hex letter
    as the escapes' forms are: the digits before it (``68765``) are an ordinary number. Three
    bytes, which keywords share (``hv_``, ``68765f``): each needle more past 64 makes the
    prefilter's pass ten times slower (docs/performance.md), and the engine checks the rest."""
    head = literal[:3].hex()
    return [("hex", head.encode(), 0), ("hex", head.upper().encode(), 0)]


def _hex_regions(buf: Buffer, found: Found) -> list[Region]:
    """The hex run around each needle, decoded in pairs on the needle's grid (a digit glued to
    the front of the run is left out, as a ``0x`` prefix is)."""
    regions: list[Region] = []
    # One per grid: a needle that straddles two bytes of a run does not hide the run's key.
    done = (Spans(), Spans())
    for needle, _ in found:
        for pos in occurrences(buf, needle):
            if done[pos % 2].covers(pos):
                continue
            left = _span_start(buf, pos, _HEX_DIGITS)
            start = left + (pos - left) % 2
            end = _span_end(buf, pos, _HEX_DIGITS)
            end -= (end - start) % 2
            done[pos % 2].add(start, end)
            regions.append(Region("hex", bytes.fromhex(bytes(buf[start:end]).decode()),
                                  _hex_origin(start)))
    return regions


def _hex_origin(start: int) -> Callable[[int], int]:
    return lambda offset: start + 2 * offset


# The first hex digit of a byte of ASCII text, which base64 (or any printable text) is made of.
_TEXT_HIGH_DIGITS = b"234567"
# The fewest hex digits decoded by their shape: a short run's.
_LEAST_HEX = _SHORT_RUN.length


def _hex_span(text: bytes) -> tuple[int, int] | None:
    """Where hex of text is in ``text``, a run found by its shape (hex of base64 around a key,
    the outer layer of a chain three deep), on its grid: the hex digits that start the run
    (after a ``0x``, a SQL dump's literal) or end it (after other text glued to it: ``\\n``,
    ``key_``), at least a short run's length of them, a digit glued to their front left out;
    the grid being the one on which at least three bytes in four are ASCII text (their first
    digit is 2 to 7, as for one byte in three of a hash's). None for any other run: base64,
    paths and URLs (most told by a few characters), a number, a hash, hex of binary data; it is
    not decoded."""
    least = _LEAST_HEX
    # A glance first, as cheap as can be (most runs are base64, or paths and URLs, with hex
    # digits here and there): enough digits starting the run (after a ``0x`` or not) make its
    # characters 3 to ``least`` digits, enough ending it its last ``least``; a few characters
    # tell that most runs have neither.
    if len(text) < least or not (
            (text[2] in _HEX and text[3] in _HEX and text[least - 1] in _HEX
             and not text[2:least].translate(None, _HEX_DIGITS))
            or (text[-1] in _HEX and text[-2] in _HEX and text[-least] in _HEX
                and not text[-least:].translate(None, _HEX_DIGITS))):
        return None
    lead = 2 if text[:2] in (b"0x", b"0X") else 0
    head = len(text) - len(text[lead:].lstrip(_HEX_DIGITS))
    tail = len(text.rstrip(_HEX_DIGITS))
    start, end = (lead, head) if head - lead >= len(text) - tail else (tail, len(text))
    digits = text[start:end]
    if len(digits) < least or digits.isdigit():
        return None
    best, best_score = None, 0
    for grid in (start, start + 1):
        firsts = text[grid:end - 1:2]  # the first digit of each whole byte
        score = len(firsts) - len(firsts.translate(None, _TEXT_HIGH_DIGITS))
        if 4 * score >= 3 * len(firsts) and score > best_score:
            best, best_score = grid, score
    return None if best is None else (best, best + (end - best) // 2 * 2)


def _hex_run_region(pieces: list[tuple[int, int]], text: bytes) -> Region | None:
    """The hex of text in the run ``text`` (made of ``pieces`` of the buffer) decoded, if it
    has some (``_hex_span``); the decoded bytes map back to the first digit of their pair, as
    the hex decoder's do."""
    span = _hex_span(text)
    if span is None:
        return None
    start, end = span
    offsets = _offsets(pieces)

    def origin(offset: int) -> int:
        char = min(start + 2 * offset, end)
        index = min(bisect.bisect_right(offsets, char) - 1, len(pieces) - 1)
        return pieces[index][0] + char - offsets[index]

    return Region("hex", bytes.fromhex(text[start:end].decode()), origin)


# --- UTF-16 and UTF-32 ---------------------------------------------------------------------


def _wide_forms(literal: bytes) -> list[Form]:
    """One form per code unit size: for ASCII and Latin-1 text the little-endian form without
    its trailing NULs also occurs in big-endian text. ``phase`` added to where a form occurs gives
    the text's class (see ``_wide_regions``)."""
    try:
        text = literal.decode("utf-8")
    except UnicodeDecodeError:
        return []
    forms: dict[tuple[str, bytes, int], None] = {}
    for name, width, units in (("utf-16", 2, _utf16_units(text)),
                               ("utf-32", 4, [ord(char) for char in text])):
        little = b"".join(unit.to_bytes(width, "little") for unit in units).rstrip(b"\0")
        big = b"".join(unit.to_bytes(width, "big") for unit in units)
        stripped = len(big) - len(big.lstrip(b"\0"))
        forms[(name, little, 0)] = None
        forms[(name, big[stripped:], (width - 1 - stripped) % width)] = None
    return list(forms)


def looks_wide(buf: Buffer) -> bool:
    """Whether ``buf`` starts as UTF-16/32 text (see ``_sniff``)."""
    return _sniff(buf) is not None


def _sniff(buf: Buffer) -> tuple[int, int] | None:
    """The (code unit size, class) of a buffer that starts as UTF-16/32 text: by its BOM, or by
    its first 64 bytes holding zeros where ASCII text in that encoding has them and nowhere else.
    Cheap enough for every blob: ordinary text has no zero byte there."""
    start = bytes(buf[:68])
    for bom, width, cls in _SNIFF_BOMS:
        if start.startswith(bom) and (width == 2 or _utf32_units(start[4:], big=cls != 0)):
            return width, cls
    head = start[:64]
    if len(head) < 8 or 0 not in head:
        return None
    for width in (4, 2):
        head = head[:len(head) // width * width]
        columns = [head[i::width].count(0) * width / len(head) for i in range(width)]
        for zero_free, cls in ((0, 0), (width - 1, width - 1)):  # little, big endian
            if columns[zero_free] <= 0.25 and all(
                    share >= 0.75 for i, share in enumerate(columns) if i != zero_free):
                return width, cls
    return None


def _utf32_units(data: bytes, *, big: bool) -> bool:
    """Whether ``data`` reads as UTF-32 code units (all below U+110000). UTF-16LE text that
    starts with U+0000 begins with the bytes of the UTF-32LE BOM; what follows tells them apart."""
    units = len(data) // 4 * 4
    return all(
        int.from_bytes(data[i:i + 4], "big" if big else "little") < 0x110000
        for i in range(0, units, 4)
    )


# A whole-buffer reading of UTF-16/32 text: (code unit size, grid, big endian), the grid being
# the offset modulo the unit size at which the code units start.
Reading = tuple[int, int, bool]


def _wide_regions(buf: Buffer, found: Found) -> Iterator[Region]:
    """Re-read ``buf`` as UTF-16/32 once per reading a needle calls for, and in the reading
    ``_sniff`` finds. An ASCII keyword's form is the same in both byte orders (see
    ``_wide_forms``), and ASCII text in little endian on grid ``g`` reads the same in big endian
    on grid ``g + 1`` but for one edge: the big-endian reading loses the first character when a
    non-NUL byte comes before the text, the little-endian one the last when a non-NUL byte comes
    after it. So each needle occurrence is read in the byte order that puts the text at the start
    of the buffer (which tells a BOM-less file's byte order), else in little endian, the common
    one; and also in the other byte order, on its grid, unless the bytes that order needs beside
    the needle (the NULs the form was stripped of) are not NUL. That second reading is listed
    last: the engine keeps one match per key occurrence, the first reading's. The readings are made
    one at a time: each is a re-reading of the whole buffer."""
    sniffed = _sniff(buf)
    first: dict[Reading, None] = dict.fromkeys([_reading(*sniffed)] if sniffed else [])
    second: dict[Reading, None] = {}
    for needle, info in found:
        width = _WIDE_UNIT[info.chain[0]]
        for pos in occurrences(buf, needle):
            cls = (pos + info.phase) % width
            first.setdefault(_reading(width, cls))
            other = _other_reading(buf, pos, len(needle), width, cls)
            if other is not None:
                second.setdefault(other)
            if sum(w == width for w, _, _ in (*first, *second)) == 2 * width:
                break
    # The two never share a reading: a second reading is never a preferred one.
    return (_wide_region(buf, *reading) for reading in (*first, *second))


def _reading(width: int, cls: int) -> Reading:
    """The preferred reading of text of class ``cls``: ASCII text in little endian on grid
    ``cls`` and in big endian on grid ``cls + 1`` are both of class ``cls``."""
    big = (cls + 1) % width == 0
    return width, 0 if big else cls, big


def _other_reading(buf: Buffer, pos: int, size: int, width: int, cls: int) -> Reading | None:
    """The reading in the other byte order of the needle at ``pos``, if the bytes beside the
    needle that its code units take in that order are NUL, as they are in such text."""
    _, _, big = _reading(width, cls)
    if big:
        grid = cls
        tail = bytes(buf[pos + size:pos + size + (grid - pos - size) % width])
        return (width, grid, False) if not tail.strip(b"\0") else None
    grid = (cls + 1) % width
    lead = (pos - grid) % width
    head = bytes(buf[pos - lead:pos]) if pos >= lead else b"\1"
    return (width, grid, True) if not head.strip(b"\0") else None


def _wide_region(buf: Buffer, width: int, grid: int, big: bool) -> Region:
    name, codec = _WIDE_CODECS[width, big]
    if grid == 0 and startswith(buf, _BOMS[codec]):
        grid = len(_BOMS[codec])
    stop = grid + (len(buf) - grid) // width * width
    # Re-encoded a piece at a time into a BytesIO taken without a copy: neither the slice nor
    # the whole decoded str is ever held beside the result.
    decoder = getincrementaldecoder(codec)("replace")
    gathered, view = io.BytesIO(), memoryview(buf)
    for start in range(grid, stop, PIECE):  # PIECE is a multiple of every code unit's size
        end = min(stop, start + PIECE)
        gathered.write(decoder.decode(view[start:end], end == stop).encode("utf-8"))
    data = gathered.getvalue()
    return Region(name, data, _WideOrigin(data, grid, width), whole_text=True)


class _WideOrigin:
    """Maps UTF-8 offsets back to UTF-16/32 offsets; offsets asked in increasing order (as
    matches come) cost one pass in all."""

    def __init__(self, data: bytes, base: int, width: int) -> None:
        self._data, self._width = data, width
        self._offset, self._source = 0, base
        self._base = base

    def __call__(self, offset: int) -> int:
        if offset < self._offset:
            self._offset, self._source = 0, self._base
        # Decoded a piece at a time, as the whole stretch would be: a far match does not copy
        # and re-encode everything before it at once.
        view, done, units = memoryview(self._data), self._offset, 0
        while done < offset:
            stop = min(offset, done + PIECE)
            text, used = utf_8_decode(view[done:stop], "replace", stop == offset)
            units += len(text.encode("utf-16-le")) // 2 if self._width == 2 else len(text)
            done += used
        self._offset, self._source = offset, self._source + units * self._width
        return self._source


# Base64 around UTF-16 (PowerShell's -EncodedCommand), around base64 (Kubernetes secrets of
# .dockerconfigjson, base64 in JSON in base64) and around percent-encoding (URLs in tokens): the
# nestings real leaks take. Needles are composed NEEDLE_DEPTH encodings deep: a third would
# multiply them by ten, and the prefilter's cost about as much (bench/bench_decode.py); deeper
# chains are found under an outer layer recognised whole (a UTF-16/32 text, a container, a MIME
# part). What sits in a whole UTF-16/32 text is found through _sniff.
_BASE64_DECODER = Decoder("base64", _base64_forms, _base64_regions,
                          frozenset({"utf-16", "base64", "percent"}))
_WIDE_DECODER = Decoder("wide", _wide_forms, _wide_regions, frozenset())
DECODERS = (
    _BASE64_DECODER,
    Decoder("percent", _percent_forms, _percent_regions, frozenset()),
    Decoder("escape", _escape_forms, _escape_regions, frozenset()),
    Decoder("quoted-printable", _quoted_printable_forms, _quoted_printable_regions, frozenset()),
    Decoder("html", _html_forms, _html_regions, frozenset()),
    Decoder("hex", _hex_run_forms, _hex_regions, frozenset()),
    _WIDE_DECODER,
)
_BY_FAMILY = {decoder.family: decoder for decoder in DECODERS}
