"""Containers: archives and compressed streams opened in memory (gzip, xz and legacy lzma, bzip2
and zstd streams, zip and the formats built on it such as jar, whl and docx, tar, and so the
tarballs compressed with any of those streams, 7z, and the encoded parts of MIME messages).

Containers are recognised by their magic bytes, never by a file name: the engine sees bytes only.
A MIME message has none: its base64 and quoted-printable parts are told by their headers, which
the prefilter's needles find (``MIME_MARKERS``).
Expansion is bounded against bombs (expanded bytes and members per scanned blob, expansion ratio
per member); a bound that stops expansion and a damaged archive both become problems that the
report shows, never silence. A key in a container's bytes is not missed because its structure
gave up or lied: what the structure does not account for is scanned too, as raw bytes (data
appended after a gzip stream, the rest of a bomb a limit stopped, bytes between zip members, a
zip's comment), with the compressed streams and zip members found there by their own headers (a
member the central directory leaves out, every member of a zip that lost its directory). Text in
the headers is scanned too: every name listed (a link's target, a zip member's name in its local
header when the central directory names it otherwise, a gzip stream's file name) as a name
(``Entry``), and the other text fields as raw bytes (``Field``). Every
decompressor is imported only when its container is met (py7zr, the heaviest, only for a 7z
archive); one that cannot be imported makes a note naming the package, never a silent skip.

A tar member is handed on as a view of the tar's bytes, not a copy (see ``hvscan.buffers``): a
tar.gz holding one big file held the file twice, and tars nested in tars once per level. So
the openers take views as well as bytes; a tar member's padding, when it is not zeros, is
scanned as raw bytes too.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Callable, Generator, Iterator
from typing import TYPE_CHECKING, Any, NamedTuple

from hvscan.buffers import Buffer, find, startswith
from hvscan.units import counted

if TYPE_CHECKING:
    import tarfile
    import zipfile

    from _typeshed import WriteableBuffer

_GZIP = b"\x1f\x8b"
_XZ = b"\xfd7zXZ\x00"
# A legacy .lzma stream: the usual properties byte (lc=3, lp=0, pb=2) and a dictionary size that
# is a multiple of 64 KiB, as every encoder writes it.
_LZMA_ALONE = b"\x5d\x00\x00"
_BZIP2 = b"BZh"
# After "BZh" and the block size digit: a block's magic, or the end of an empty stream.
_BZIP2_BLOCKS = (b"1AY&SY", b"\x17rE8P\x90")
_ZSTD = b"\x28\xb5\x2f\xfd"
_SEVEN_ZIP = b"7z\xbc\xaf\x27\x1c"
# Attempts at decompressing what looks like the start of a stream but is not, after the end of a
# stream, before the rest is only scanned as raw bytes; nor may they read, all together, more
# than the rest of the file: a file of nothing but such starts would cost minutes.
_FALSE_STARTS = 64
_LOCAL_FILE = b"PK\x03\x04"
_ZIP = (_LOCAL_FILE, b"PK\x05\x06")
_TAR_MAGIC_AT = 257
_CHUNK = 1 << 16
# Decompressed output is taken at most this much at a time and gathered in a BytesIO, whose
# value is handed over without a copy: a member up to --max-archive-size is held once, not
# again as its pieces, their join and a cut of it (a gzip bomb cost three times the limit).
_OUTPUT_CHUNK = 1 << 20
# A member smaller than this never trips the ratio limit: small, very repetitive files compress
# far beyond any ratio a bomb would be told apart by.
RATIO_FLOOR = 1 << 20


def kind(data: bytes) -> str | None:
    """``gzip``, ``xz``, ``lzma``, ``bzip2``, ``zstd``, ``zip``, ``7z``, ``tar`` or None, from
    the magic bytes (all within ``engine.SIGNATURE_BYTES``)."""
    if data.startswith(_GZIP):
        return "gzip"
    if data.startswith(_ZIP):
        return "zip"
    if data.startswith(_XZ):
        return "xz"
    if data.startswith(_ZSTD):
        return "zstd"
    if data.startswith(_BZIP2) and data[3:4] in b"123456789" and data[4:10] in _BZIP2_BLOCKS:
        return "bzip2"
    if data.startswith(_SEVEN_ZIP):
        return "7z"
    if data.startswith(_LZMA_ALONE) and _lzma_alone_header(data[:13]):
        return "lzma"
    if data[_TAR_MAGIC_AT:_TAR_MAGIC_AT + 5] == b"ustar":
        return "tar"
    return None


# A MIME message (an .eml, an mbox, a message saved anywhere in a file) is no file format with
# magic bytes: what tells its encoded parts is their Content-Transfer-Encoding header, which
# these needles of the prefilter's single pass find (in the header's usual spellings).
MIME_MARKERS = frozenset({b"ransfer-Encoding", b"ransfer-encoding", b"RANSFER-ENCODING"})


def _lzma_alone_header(head: bytes) -> bool:
    """Whether ``head`` is a legacy .lzma header: a dictionary size that encoders write (2^n or
    2^n + 2^(n-1)) and an uncompressed size that is unknown (all ones) or below 1 TiB."""
    if len(head) < 13:
        return False
    dictionary = int.from_bytes(head[1:5], "little")
    size = int.from_bytes(head[5:13], "little")
    top = dictionary.bit_length() - 1
    return top >= 12 and dictionary in (1 << top, 3 << (top - 1)) and (
        size == (1 << 64) - 1 or size < 1 << 40)


class Budget:
    """What is left to expand for one scanned blob, across all its nested containers."""

    def __init__(self, *, max_bytes: int, max_members: int, ratio: int) -> None:
        self.max_bytes = max_bytes
        self.max_members = max_members
        self.ratio = ratio
        self.bytes_left = max_bytes
        self.members_left = max_members

    @property
    def expanded(self) -> int:
        """Bytes expanded so far."""
        return self.max_bytes - self.bytes_left

    def allowance(self, compressed: int) -> tuple[int, str]:
        """How many bytes a member of ``compressed`` bytes may expand to, and why not more."""
        by_ratio = max(self.ratio * compressed, RATIO_FLOOR)
        if self.bytes_left <= by_ratio:
            return self.bytes_left, self._bytes_limit()
        return by_ratio, f"an expansion ratio above {self.ratio}:1 (--max-archive-ratio)"

    def exhausted(self) -> str | None:
        """Why nothing more may be expanded, if so."""
        if self.members_left <= 0:
            return (f"the limit of {self.max_members} archive members per scanned file "
                    "(--max-archive-members)")
        if self.bytes_left <= 0:
            return self._bytes_limit()
        return None

    def take(self, size: int) -> None:
        self.bytes_left -= size

    def _bytes_limit(self) -> str:
        return f"the limit of {self.max_bytes} expanded bytes per scanned file (--max-archive-size)"


class Member(NamedTuple):
    """A file inside a container. ``name`` is None for a compressed stream, which has none."""

    name: str | None
    layer: str
    data: Buffer


class Problem(NamedTuple):
    """A damaged part, or a limit that stopped expansion (``limit``), about member ``name``
    (None: the container itself). ``informational`` when nothing was left unscanned for it
    (data appended after a stream, a member the central directory leaves out but read all the
    same): else part of the container could not be scanned."""

    name: str | None
    message: str
    limit: bool = False
    informational: bool = False


class Entry(NamedTuple):
    """A name the archive lists with no content read under it here: a directory, a link or
    another special entry, a member a limit kept from being opened, an empty 7z member; or
    another name its headers hold (a link's target, a zip member's name in its local header
    that the central directory contradicts or in a Unicode Path extra field, a gzip stream's
    file name). The engine scans every
    listed name (a member's too) as a name."""

    name: str


class Raw(NamedTuple):
    """The container's own bytes from ``offset`` to ``end`` (None: to the end of the container)
    are not accounted for by its structure, or could not be read as a container: they are to be
    scanned as they are."""

    offset: int
    end: int | None = None


class Field(NamedTuple):
    """Text the container's headers hold from ``offset`` to ``end``, beside its members' names:
    a tar member's PAX records, a zip member's comment and extra fields (but a Unicode Path
    block, a name), a gzip stream's comment and extra field. Scanned as raw bytes, as ``Raw``,
    but in the container's chain (its structure holds them), after one prefilter pass over
    them all found a needle."""

    offset: int
    end: int


Item = Member | Problem | Entry | Raw | Field


def expand(data: Buffer, container: str, budget: Budget) -> Iterator[Item]:
    if container in _CODECS:
        return _stream(data, _CODECS[container], budget)
    if container in ("7z", "mime"):
        # Read by libraries (py7zr, email) that take bytes: a view (a tar member) is copied.
        return (_seven_zip if container == "7z" else _mime)(bytes(data), budget)
    opener = {"zip": _zip, "tar": _tar}[container]
    return opener(data, budget)


class _Codec(NamedTuple):
    """A compressed stream format. ``new`` makes a decompressor with the interface of the
    standard library's (``decompress(data, max_length)``, ``eof``, ``unused_data``); zlib's
    hands back the input it has not read (``unconsumed_tail``), the others keep it and say
    whether they need more (``needs_input``). ``start`` is how a stream begins, looked for in
    the bytes after one; ``package`` the module that ``new`` imports."""

    name: str
    start: bytes
    new: Callable[[], Any]
    errors: Callable[[], tuple[type[Exception], ...]]
    package: str
    tail: bool = False
    # The text in a stream's header, from where the stream starts (gzip's alone has any).
    header: Callable[[Buffer, int], Iterator[Item]] | None = None


def _zlib_gzip() -> Any:
    import zlib

    return zlib.decompressobj(zlib.MAX_WBITS | 16)


def _zlib_errors() -> tuple[type[Exception], ...]:
    import zlib

    return (zlib.error,)


def _lzma_new(format_name: str) -> Callable[[], Any]:
    def new() -> Any:
        import lzma

        return lzma.LZMADecompressor(getattr(lzma, format_name))

    return new


def _lzma_errors() -> tuple[type[Exception], ...]:
    import lzma

    return (lzma.LZMAError, EOFError)


def _bz2_new() -> Any:
    import bz2

    return bz2.BZ2Decompressor()


def _bz2_errors() -> tuple[type[Exception], ...]:
    return (OSError, EOFError, ValueError)


def zstd_module() -> Any:
    """The zstd module: the standard library's from Python 3.14 on, else its backport."""
    try:
        import compression.zstd as zstd  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        import backports.zstd as zstd  # type: ignore[import-untyped,unused-ignore]
    return zstd


def _zstd_new() -> Any:
    return zstd_module().ZstdDecompressor()


def _zstd_errors() -> tuple[type[Exception], ...]:
    return (zstd_module().ZstdError, EOFError)


def _gzip_header(data: Buffer, at: int) -> Iterator[Item]:
    """The text in the header of the gzip stream at ``at`` (RFC 1952): its file name (FNAME),
    which gunzip names the file it writes, as a name; its extra field (FEXTRA) and comment
    (FCOMMENT) as text. zlib reads past them all."""
    flags = data[at + 3] if len(data) > at + 3 else 0
    start = at + 10
    if flags & 4 and len(data) >= start + 2:
        size = int.from_bytes(data[start:start + 2], "little")
        yield Field(start + 2, min(start + 2 + size, len(data)))
        start += 2 + size
    for flag in (8, 16):
        if flags & flag:
            end = find(data, b"\0", start)
            if end < 0:
                return
            if flag == 8:
                yield Entry(bytes(data[start:end]).decode("utf-8", "surrogateescape"))
            else:
                yield Field(start, end)
            start = end + 1


_CODECS = {
    "gzip": _Codec("gzip", _GZIP + b"\x08", _zlib_gzip, _zlib_errors, "zlib", tail=True,
                   header=_gzip_header),
    "xz": _Codec("xz", _XZ, _lzma_new("FORMAT_XZ"), _lzma_errors, "lzma"),
    "lzma": _Codec("lzma", _LZMA_ALONE, _lzma_new("FORMAT_ALONE"), _lzma_errors, "lzma"),
    "bzip2": _Codec("bzip2", _BZIP2, _bz2_new, _bz2_errors, "bz2"),
    "zstd": _Codec("zstd", _ZSTD, _zstd_new, _zstd_errors, "backports.zstd"),
}


def _raw_deflate() -> Any:
    import zlib

    return zlib.decompressobj(-15)


# A zip member's data: deflate without a header.
_RAW_DEFLATE = _Codec("deflate", b"", _raw_deflate, _zlib_errors, "zlib", tail=True)


class _Inflated(NamedTuple):
    """A stream decompressed from ``data[start:]``: ``end`` is where it ends in ``data`` when
    ``complete``, else how far the input was surely read; ``error`` says why it stopped short,
    if the data is damaged."""

    output: bytes
    end: int
    complete: bool
    error: str = ""
    # How many bytes it produced (``output`` is empty when they went into a caller's buffer).
    produced: int = 0


def _inflate(data: Buffer, start: int, codec: _Codec, most: int, stop: int | None = None,
             into: io.BytesIO | None = None) -> _Inflated:
    """Decompress the stream at ``start``, at most ``most`` bytes of it, reading no further
    than ``stop``; the output is gathered in ``into`` when given (several streams that make one
    file), else returned."""
    stop = len(data) if stop is None else stop
    errors = codec.errors()
    inflater = codec.new()
    gathered = io.BytesIO() if into is None else into
    produced, fed = 0, start
    # Where the input not yet surely read begins: a decompressor that keeps its input has read
    # all it was given only once it asks for more.
    unread = start
    pending: Buffer = b""
    try:
        while produced < most and not inflater.eof:
            if not pending if codec.tail else inflater.needs_input:
                if fed >= stop:
                    break
                # Input goes in by chunks: feeding it whole would copy the unread tail per call.
                unread = fed
                pending = data[fed:min(fed + _CHUNK, stop)]
                fed += len(pending)
            piece = inflater.decompress(pending, min(most - produced, _OUTPUT_CHUNK))
            gathered.write(piece)
            produced += len(piece)
            pending = inflater.unconsumed_tail if codec.tail else b""
    except errors as exc:
        read = fed - len(pending) if codec.tail else unread
        return _Inflated(_given(gathered, into), read, False, f"({exc})", produced)
    if inflater.eof:
        end = fed - len(pending) - len(inflater.unused_data)
    elif codec.tail or inflater.needs_input:
        end = fed - len(pending)
    else:
        end = unread
    return _Inflated(_given(gathered, into), end, inflater.eof, produced=produced)


def _given(gathered: io.BytesIO, into: io.BytesIO | None) -> bytes:
    """What ``_inflate`` returns of its output: all of it, unless it went into the caller's
    buffer (taken without a copy: a BytesIO hands over its bytes when nothing else holds them)."""
    return gathered.getvalue() if into is None else b""


def _stream(data: Buffer, codec: _Codec, budget: Budget) -> Iterator[Item]:
    name = codec.name
    if reason := budget.exhausted():
        yield Problem(None, f"{name} stream not decompressed: {reason}", limit=True)
        return
    try:
        codec.new()
    except ImportError:
        yield Problem(None, f"{name} stream not decompressed: the {codec.package} package "
                      "cannot be imported; scanned as raw bytes")
        yield Raw(0)
        return
    cap, why = budget.allowance(len(data))
    gathered = io.BytesIO()
    produced = start = 0
    starts: list[int] = []
    while True:  # one stream after another: a multi-stream file is one file
        starts.append(start)
        stream = _inflate(data, start, codec, cap + 1 - produced, into=gathered)
        produced += stream.produced
        if produced > cap or not stream.complete or stream.end == len(data):
            break
        start = stream.end
        if not startswith(data, codec.start, start):
            break
    output = _gathered(gathered, cap)
    budget.take(len(output))
    if stream.error and not output:
        # Nothing came out: the magic bytes lied, or the stream is damaged from the start.
        yield Problem(None, f"damaged {name} stream {stream.error}: scanned as raw bytes")
        yield from _after_stream(data, 0, codec, budget)
        return
    if codec.header:
        for at in starts:
            yield from codec.header(data, at)
    # What the stream does not account for is scanned as it is: data appended after it, a
    # member whose magic bytes lie, the rest of a bomb and whatever was appended to it.
    searched = rest = 0
    if produced > cap:
        # A decompressor that keeps its input may not tell how far it read: the rest may then
        # hold the stopped stream's own start, which is not looked for again.
        rest, searched = stream.end, start + 1
        yield Problem(None, f"decompression stopped after {cap} bytes: {why}; the "
                      f"{len(data) - rest} bytes not decompressed scanned as raw bytes",
                      limit=True)
    elif not stream.complete and not start:
        rest = stream.end if stream.error else len(data)
        failure = (f"damaged {name} stream {stream.error}" if stream.error
                   else f"truncated {name} stream")
        after = f", and the {len(data) - rest} bytes from the damage on as raw bytes"
        yield Problem(None, f"{failure}: scanned the {produced} bytes decompressed before it"
                      f"{after if rest < len(data) else ''}")
    else:
        rest = stream.end if stream.complete else start
        if rest < len(data):
            yield Problem(None, f"{len(data) - rest} bytes after the end of the {name} stream: "
                          "scanned as they are", informational=stream.complete)
    yield Member(None, name, output)
    yield from _after_stream(data, rest, codec, budget, searched)


def _after_stream(data: Buffer, start: int, codec: _Codec, budget: Budget,
                  searched: int = 0) -> Iterator[Item]:
    """The bytes from ``start`` on, which the stream before them does not account for: streams
    of its format found there (from ``searched`` on) by their first bytes (appended after other
    data, or after a bomb that a limit stopped) decompressed, the rest scanned as raw bytes."""
    raw, search = start, max(start, searched)
    false_starts = false_read = 0
    while (at := find(data, codec.start, search)) >= 0 and not budget.exhausted():
        if false_starts == _FALSE_STARTS or false_read > len(data) - start:
            yield Problem(None, f"{false_starts} {codec.name} headers that start no stream "
                          f"after byte {start}: the rest from byte {at} scanned as raw bytes only")
            break
        cap, why = budget.allowance(len(data) - at)
        stream = _inflate(data, at, codec, cap + 1)
        # What a false start decompressed counts too: many of them cost no more than the budget.
        budget.take(min(len(stream.output), cap))
        if not stream.complete and len(stream.output) <= cap:
            # Not a stream after all (the check of its checksum included).
            false_starts += 1
            false_read += max(stream.end - at, 1)
            search = at + 1
            continue
        if at > raw:
            yield Raw(raw, at)
        if codec.header:
            yield from codec.header(data, at)
        if len(stream.output) > cap:
            yield Problem(None, f"{codec.name} stream at byte {at}: decompression stopped "
                          f"after {cap} bytes: {why}", limit=True)
        yield Member(None, codec.name, stream.output[:cap])
        raw, search = stream.end, max(stream.end, at + 1)
    if raw < len(data):
        yield Raw(raw)


def _zip(data: Buffer, budget: Budget) -> Iterator[Item]:
    import zipfile

    try:
        archive = zipfile.ZipFile(_file(data))
        listed = archive.infolist()
        members = [info for info in listed if not info.is_dir()]
        directories = [Entry(info.filename) for info in listed if info.is_dir()]
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        yield Problem(None, f"damaged zip archive ({exc}): members read from their local "
                      "headers, the rest scanned as raw bytes")
        yield from _unlisted(data, [], budget)
        return
    yield from directories
    spans, text = _layout(data, archive.start_dir, listed)
    yield from text
    for index, info in enumerate(members):
        if reason := budget.exhausted():
            yield _not_opened(f"{len(members) - index} more", reason)
            yield from (Entry(left.filename) for left in members[index:])
            return
        budget.members_left -= 1
        if info.flag_bits & 0x1:
            yield Problem(info.filename, "encrypted member: cannot be scanned")
            continue
        yield from _zip_member(archive, info, budget)
    yield from _unlisted(data, spans, budget)


def _zip_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, budget: Budget) -> Iterator[Item]:
    import copy
    import zipfile
    import zlib

    cap, why = budget.allowance(info.compress_size)
    gathered = io.BytesIO()
    produced = 0
    problem: Problem | None = None
    # zipfile checks the CRC as it reads the end and then drops what it read; without the CRC
    # it reads all, and the check is made here, so a damaged member is still scanned.
    unchecked = copy.copy(info)
    del unchecked.CRC
    try:
        with archive.open(unchecked) as stream:
            # What is kept of a damaged member is what was read before the damage.
            while produced <= cap and (piece := stream.read(min(_OUTPUT_CHUNK,
                                                                  cap + 1 - produced))):
                gathered.write(piece)
                produced += len(piece)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as exc:
        problem = Problem(info.filename, f"damaged member ({exc}): scanned the {produced} bytes "
                          "read before the damage")
    except NotImplementedError as exc:
        problem = Problem(info.filename, f"cannot be decompressed ({exc})")
    output = _gathered(gathered, cap)
    if produced > cap:
        problem = Problem(info.filename, f"decompression stopped after {cap} bytes: {why}",
                          limit=True)
    elif problem is None and zlib.crc32(output) != info.CRC:
        problem = Problem(info.filename, "damaged member (bad CRC-32): scanned as read")
    budget.take(len(output))
    if problem:
        yield problem
    if output or not problem:
        yield Member(info.filename, "zip", output)


_LOCAL_HEADER = struct.Struct("<4s5H3I2H")


def _layout(data: Buffer, directory: int,
            listed: list[zipfile.ZipInfo]) -> tuple[list[tuple[int, int]], list[Item]]:
    """The bytes the central directory accounts for: each listed member's local header and
    data, and the directory itself up to the end record (the archive comment is not); and the
    text in those headers beside the names the directory lists: each member's comment and extra
    fields (in the directory and in its local header), and its name in its local header when
    the directory names it otherwise (zipfile refuses to read the member; other tools extract
    it under that name)."""
    spans = []
    text: list[Item] = []
    for info in listed:
        at = info.header_offset
        header = data[at:at + _LOCAL_HEADER.size]
        if len(header) == _LOCAL_HEADER.size and startswith(header, _LOCAL_FILE):
            *_, name, extra = _LOCAL_HEADER.unpack(header)
            begin = at + _LOCAL_HEADER.size
            local = _zip_name(data[begin:begin + name], info.flag_bits)
            if local != info.orig_filename:
                text.append(Entry(local))
            text += _zip_extra(data, begin + name, min(begin + name + extra, len(data)))
            end = begin + name + extra + info.compress_size
            if info.flag_bits & 0x8:  # a data descriptor follows, its signature optional
                end += 16 if startswith(data, b"PK\x07\x08", end) else 12
            spans.append((at, end))
    end = directory
    while startswith(data, b"PK\x01\x02", end) and len(data) >= end + 46:
        name, extra, comment = struct.unpack_from("<3H", data, end + 28)
        fields = end + 46 + name
        text += _zip_extra(data, fields, min(fields + extra, len(data)))
        if comment:
            text.append(Field(fields + extra, min(fields + extra + comment, len(data))))
        end = fields + extra + comment
    if startswith(data, b"PK\x06\x06", end):  # zip64 end record and locator
        end += 12 + int.from_bytes(data[end + 4:end + 12], "little")
    if startswith(data, b"PK\x06\x07", end):
        end += 20
    if startswith(data, b"PK\x05\x06", end):
        end += 22
    spans.append((directory, end))
    return sorted(spans), text


def _zip_extra(data: Buffer, start: int, end: int) -> list[Item]:
    """The zip extra field ``data[start:end]``: text, but a Unicode Path block's name (0x7075),
    which is the member's name to the tools that read it (zipfile from Python 3.12 on), as a
    name: found once, whichever Python reads it."""
    items: list[Item] = []
    at = kept = start
    while at + 4 <= end:
        kind, size = struct.unpack_from("<2H", data, at)
        if kind == 0x7075 and size > 5:
            if at > kept:
                items.append(Field(kept, at))
            stop = min(at + 4 + size, end)
            items.append(Entry(bytes(data[at + 9:stop]).decode("utf-8", "surrogateescape")))
            kept = stop
        at += 4 + size
    if end > kept:
        items.append(Field(kept, end))
    return items


def _zip_name(raw: Buffer, flags: int) -> str:
    """A name from a zip header, as zipfile reads it: UTF-8 when the flag says so, else cp437
    (a name that is not UTF-8 kept byte for byte, as the engine encodes names back)."""
    if flags & 0x800:
        return bytes(raw).decode("utf-8", "surrogateescape")
    return bytes(raw).decode("cp437")


def _unlisted(data: Buffer, spans: list[tuple[int, int]], budget: Budget) -> Iterator[Item]:
    """What the central directory does not account for (all of a zip without one): members
    found by their local headers, and the other bytes as they are. A zip whose directory leaves
    a member out is read by other tools than this one, and keys in it are keys all the same."""
    covered = 0
    stopped: str | None = None
    for start, end in [*spans, (len(data), len(data))]:
        if start > covered:
            if stopped:
                yield Raw(covered, start)
            else:
                stopped = yield from _gap(data, covered, start, budget)
        covered = max(covered, end)
    if stopped:
        yield _not_opened("unlisted", stopped)


def _gap(data: Buffer, start: int, stop: int, budget: Budget) -> Generator[Item, None, str | None]:
    """The items of the unaccounted bytes ``data[start:stop]``; why no more members could be
    opened, if a limit stopped them (the rest is then scanned as raw bytes)."""
    raw = search = start
    while (header := find(data, _LOCAL_FILE, search, stop)) >= 0:
        if reason := budget.exhausted():
            yield Raw(raw, stop)
            return reason
        found = _local_member(data, header, stop, budget)
        if found is None:
            search = header + 1
            continue
        items, search = found
        if header > raw:
            yield Raw(raw, header)
        yield from items
        raw = search
    if stop > raw:
        yield Raw(raw, stop)
    return None


def _local_member(data: Buffer, at: int, stop: int,
                  budget: Budget) -> tuple[list[Item], int] | None:
    """The member whose local header is at ``at`` and where its data ends, if its header holds
    together and its data can be told apart (a stored member with its size only after the
    data is left to the raw bytes)."""
    header = data[at:at + _LOCAL_HEADER.size]
    if len(header) < _LOCAL_HEADER.size:
        return None
    _, _, flags, method, _, _, _, size, _, name_size, extra = _LOCAL_HEADER.unpack(header)
    begin = at + _LOCAL_HEADER.size + name_size + extra
    if begin > stop or method not in (0, 8) or (method == 0 and (flags & 0x8 or not size)):
        return None
    name = bytes(data[at + _LOCAL_HEADER.size:at + _LOCAL_HEADER.size + name_size]).decode(
        "utf-8" if flags & 0x800 else "cp437", "replace")
    unlisted = "member not listed in the zip's central directory"
    if flags & 0x1:
        budget.members_left -= 1
        return [Problem(name, f"encrypted {unlisted}: cannot be scanned")], min(begin + size, stop)
    if method == 0:
        stream = _Inflated(bytes(data[begin:begin + size]), min(begin + size, stop),
                           begin + size <= stop)
        cap = size
    else:
        cap, why = budget.allowance(size or stop - begin)
        stream = _inflate(data, begin, _RAW_DEFLATE, cap + 1, stop)
        if not stream.output and not stream.complete:
            return None
    output = stream.output[:cap]
    budget.take(len(output))
    budget.members_left -= 1
    if len(stream.output) > cap:
        message = f"decompression stopped after {cap} bytes: {why}"
    elif not stream.complete:
        message = f"damaged or truncated {unlisted}: scanned what was read"
    else:
        message = f"{unlisted}: read from its local header"
    return [Problem(name, message, limit=len(stream.output) > cap,
                    informational=stream.complete and len(stream.output) <= cap),
            Member(name, "zip", output)], stream.end


def _gathered(gathered: io.BytesIO, cap: int) -> bytes:
    """At most ``cap`` bytes of what was gathered, without copying them."""
    gathered.truncate(cap)
    return gathered.getvalue()


def _tar(data: Buffer, budget: Budget) -> Iterator[Item]:
    import tarfile

    view = memoryview(data)
    try:
        archive = tarfile.TarFile(fileobj=_file(data), mode="r")
    except tarfile.TarError as exc:
        yield Problem(None, f"damaged tar archive ({exc}): scanned as raw bytes")
        yield Raw(0)
        return
    count = 0
    # Where the next member's headers start: the first member was read by TarFile itself.
    headers = 0
    while True:
        offset = archive.offset
        try:
            info = archive.next()
        except tarfile.TarError as exc:
            if offset < len(data):  # else the truncated last member was reported
                yield from _tar_damaged(count, offset, f" ({exc})")
            return
        if info is None:
            # tarfile ends quietly at a damaged or truncated header: only zeros may follow.
            if _not_zeros(view, archive.offset):
                yield from _tar_damaged(count, archive.offset, "")
            return
        if info.offset_data - headers > tarfile.BLOCKSIZE or info.issym() or info.islnk():
            yield from _tar_headers(view, headers, info)  # extended headers, or a link
        headers = archive.offset
        # tarfile reads a member of a type it does not know as a regular file, as tar does.
        if not (info.isreg() or info.type not in tarfile.SUPPORTED_TYPES):
            # A directory (its path ending with "/", as zip's), a link, a device: only a name.
            yield Entry(info.name + "/" * info.isdir())
            continue
        count += 1
        if reason := budget.exhausted():
            yield _not_opened("the remaining", reason)
            return
        budget.members_left -= 1
        if info.issparse():
            yield from _sparse(archive, info, budget, len(view))
            continue
        content = view[info.offset_data:info.offset_data + info.size]
        if len(content) < info.size:
            yield Problem(info.name, f"truncated member ({len(content)} of {info.size} bytes): "
                          "scanned what is there")
        yield Member(info.name, "tar", content)
        yield from _padding(view, info, archive.offset)


# A tar header block; where it holds its type and its size; the types of the extended headers
# before a member's own (PAX: x, g, X).
_TAR_BLOCK, _TAR_TYPE, _TAR_SIZE = 512, 156, slice(124, 136)
_TAR_EXTENDED, _TAR_PAX = frozenset(b"xgXLK"), frozenset(b"xgX")
# The PAX records that are the member's names (scanned as names, not again as text).
_PAX_NAMES = frozenset({b"path", b"linkpath"})


def _tar_headers(view: memoryview, offset: int, info: tarfile.TarInfo) -> list[Item]:
    """The text in the headers of the member ``info``, whose headers start at ``offset``: its
    link's target as a name; as text, its PAX records (a comment, an owner's name, any record
    an archiver adds, global ones too), but the paths. A header's own owner fields hold 32
    bytes, too few for a key (a longer name is a PAX record). (A list, not a generator: this
    runs for every member, and a generator's overhead showed.)"""
    found: list[Item] = [Entry(info.linkname)] if info.issym() or info.islnk() else []
    at, stop = offset, min(info.offset_data, len(view)) - _TAR_BLOCK  # up to its own header
    while at < stop and view[at + _TAR_TYPE] in _TAR_EXTENDED:
        size = _tar_number(bytes(view[at + _TAR_SIZE.start:at + _TAR_SIZE.stop]))
        data = at + _TAR_BLOCK
        if view[at + _TAR_TYPE] in _TAR_PAX:
            found += _pax_values(bytes(view[data:data + size]), data)
        at = data + -(-size // _TAR_BLOCK) * _TAR_BLOCK
    return found


def _tar_number(field: bytes) -> int:
    """A tar header's number: octal digits, or base-256 when the first bit is set (GNU)."""
    if field[0] & 0x80:
        return int.from_bytes(field[1:], "big")
    digits = field.split(b"\0", 1)[0].strip()
    return int(digits, 8) if digits and digits.isdigit() and b"8" not in digits and \
        b"9" not in digits else 0


def _pax_values(records: bytes, offset: int) -> list[Field]:
    """The PAX records ``length key=value\\n`` in ``records``, which start at ``offset`` in
    the tar, but the paths: as few fields as the paths leave (keys and lengths are text too)."""
    fields = []
    at = kept = 0
    while at < len(records):
        space = records.find(b" ", at, at + 24)
        length = records[at:space] if space > at else b""
        if not length.isdigit() or int(length) <= space - at:
            break
        end = min(at + int(length), len(records))
        equals = records.find(b"=", space + 1, end)
        if equals < 0:
            break
        if records[space + 1:equals] in _PAX_NAMES:
            if at > kept:
                fields.append(Field(offset + kept, offset + at))
            kept = end
        at = end
    if len(records) > kept:
        fields.append(Field(offset + kept, offset + len(records)))
    return fields


def _padding(view: memoryview, info: tarfile.TarInfo, next_header: int) -> Iterator[Item]:
    """The member's padding up to the next header, as raw bytes if it is not all zeros: tar
    readers pass over it, and a key hidden there is a key all the same."""
    end = info.offset_data + info.size
    if _not_zeros(view[:next_header], end):
        yield Problem(info.name, "bytes other than zeros in the padding after the member's "
                      "data: scanned as raw bytes", informational=True)
        yield Raw(end, min(next_header, len(view)))


def _tar_damaged(count: int, offset: int, reason: str) -> Iterator[Item]:
    yield Problem(None, f"damaged tar archive after {counted(count, 'member')}{reason}: "
                  f"the rest (from byte {offset}) scanned as raw bytes")
    yield Raw(offset)


def _sparse(archive: tarfile.TarFile, info: tarfile.TarInfo, budget: Budget,
            tar_size: int) -> Iterator[Item]:
    """A sparse member with its holes filled with zeros, as tar extracts it, within the
    expansion limits: a few stored bytes may stand for any size of zeros. When it cannot be
    expanded in full, its stored data is scanned as raw bytes too."""
    import tarfile

    # (offset, size) pairs (typeshed has the attribute as bytes).
    entries: list[tuple[int, int]] = getattr(info, "sparse", None) or []
    stored = sum(size for _, size in entries)
    cap, why = budget.allowance(stored)
    gathered = io.BytesIO()
    produced = 0
    problem: Problem | None = None
    try:
        stream = archive.extractfile(info)
        while stream and produced <= cap and (piece := stream.read(min(_OUTPUT_CHUNK,
                                                                         cap + 1 - produced))):
            gathered.write(piece)
            produced += len(piece)
    except tarfile.TarError as exc:
        problem = Problem(info.name, f"damaged sparse member ({exc}): scanned the {produced} "
                          "bytes read before the damage, and its stored data as raw bytes")
    output = _gathered(gathered, cap)
    budget.take(len(output))
    if produced > cap:
        problem = Problem(info.name, f"sparse member expanded no further than {cap} bytes: "
                          f"{why}; its stored data scanned as raw bytes", limit=True)
    if problem:
        yield problem
        yield Raw(info.offset_data, min(info.offset_data + stored, tar_size))
    yield Member(info.name, "tar", output)


def _not_zeros(view: memoryview, start: int) -> bool:
    """Whether anything but zero bytes follows ``start``."""
    return any(bytes(view[at:at + _OUTPUT_CHUNK]).strip(b"\0")
               for at in range(start, len(view), _OUTPUT_CHUNK))


def _file(data: Buffer) -> io.BytesIO | _ViewFile:
    """``data`` as a file, without a copy (a BytesIO copies what is not bytes)."""
    return io.BytesIO(data) if isinstance(data, bytes) else _ViewFile(data)


class _ViewFile(io.RawIOBase):
    """A read-only file over a view."""

    def __init__(self, view: memoryview) -> None:
        super().__init__()
        self._view = view
        self._at = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        target = memoryview(buffer).cast("B")
        piece = self._view[self._at:self._at + len(target)]
        target[:len(piece)] = piece
        self._at += len(piece)
        return len(piece)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._at, io.SEEK_END: len(self._view)}[whence]
        if base + offset < 0:
            raise ValueError("negative seek position")
        self._at = base + offset
        return self._at

    def tell(self) -> int:
        return self._at


def _not_opened(members: str, reason: str) -> Problem:
    return Problem(None, f"{members} members not opened: {reason}", limit=True)


class _SevenZipStopped(Exception):
    """Raised from a 7z member's writer to stop extraction at a limit."""

    def __init__(self, name: str, reason: str, produced: int | None = None) -> None:
        super().__init__(reason)
        self.name, self.reason, self.produced = name, reason, produced


def _seven_zip(data: bytes, budget: Budget) -> Iterator[Item]:
    try:
        import py7zr
        from py7zr.io import Py7zIO, WriterFactory
    except ImportError:
        yield Problem(None, "7z archive not opened: the py7zr package cannot be imported; "
                      "scanned as raw bytes")
        yield Raw(0)
        return

    class Writer(Py7zIO):
        """One member's output, gathered up to its allowance (py7zr writes it in pieces)."""

        def __init__(self, name: str) -> None:
            self.name, self.gathered = name, io.BytesIO()
            self.cap, self.why = budget.allowance(len(data))

        def write(self, piece: bytes | bytearray) -> int:
            room = self.cap - self.gathered.tell()
            self.gathered.write(piece[:room])
            budget.take(min(len(piece), room))
            if len(piece) > room:
                raise _SevenZipStopped(self.name, self.why, self.cap)
            return len(piece)

        def read(self, size: int | None = None) -> bytes:
            return b""

        def seek(self, offset: int, whence: int = 0) -> int:
            return self.gathered.tell()

        def flush(self) -> None:
            return None

        def size(self) -> int:
            return self.gathered.tell()

    class Factory(WriterFactory):
        def __init__(self) -> None:
            self.made: list[Writer] = []
            self.names: dict[str, str] = {}

        def create(self, filename: str) -> Py7zIO:
            name = self.names.get(filename, filename)
            if reason := budget.exhausted():
                raise _SevenZipStopped(name, reason)
            budget.members_left -= 1
            self.made.append(Writer(name))
            return self.made[-1]

    factory = Factory()
    problems: list[Problem] = []
    try:
        with py7zr.SevenZipFile(io.BytesIO(data)) as archive:
            if archive.needs_password():
                yield Problem(None, "encrypted 7z archive: cannot be scanned")
                return
            # py7zr checks members' names as paths to write to, and refuses the whole archive
            # for one that would climb out (``a\\..\\..\\b``), or renames duplicates: nothing is
            # written here, so each member is extracted under its index and reported under its
            # own name.
            for index, info in enumerate(archive.files):
                factory.names[str(index)] = info.filename
                info._file_info["filename"] = str(index)
            # Every name it lists, whatever is extracted (directories, empty files, those after
            # a limit).
            yield from (Entry(name) for name in factory.names.values())
            archive.extract(factory=factory)
    except _SevenZipStopped as stop:
        if stop.produced is None:
            problems.append(_not_opened("the remaining", stop.reason))
        else:
            problems.append(Problem(stop.name, f"decompression stopped after {stop.produced} "
                                    f"bytes: {stop.reason}; the members after it not opened",
                                    limit=True))
    except (py7zr.exceptions.ArchiveError, py7zr.exceptions.PasswordRequired, OSError,
            EOFError, ValueError, KeyError, IndexError, TypeError, struct.error) as exc:
        problems.append(Problem(None, f"damaged 7z archive ({type(exc).__name__}: {exc}): "
                                f"scanned the {counted(len(factory.made), 'member')} read before "
                                "the damage, and the archive as raw bytes"))
    yield from problems
    for writer in factory.made:
        if writer.gathered.tell():
            yield Member(writer.name, "7z", writer.gathered.getvalue())
    if problems and not problems[0].limit:
        yield Raw(0)


_MIME_ENCODED = rb"(?im)^content-transfer-encoding:\s*(base64|quoted-printable)\b"
_MIME_BOUNDARY = rb'(?i)\bboundary\s*=\s*(?:"([^"\r\n]+)"|([^\s;]+))'


def holds_mime_parts(data: Buffer) -> bool:
    """Whether ``data`` holds a base64 or quoted-printable MIME part (asked only of data in
    which the prefilter found one of the MIME_MARKERS)."""
    import re

    return re.search(_MIME_ENCODED, data) is not None


def _mime(data: bytes, budget: Budget) -> Iterator[Item]:
    """The base64 and quoted-printable parts of the MIME messages in ``data``, each found by
    its Content-Transfer-Encoding header, wherever the message starts: each is decoded (by the
    standard library's email package) into a member named by its file name, or by its place and
    type; the rest (headers, boundaries, parts in plain text) is scanned as raw bytes."""
    import re

    boundaries = {b"\n--" + (m.group(1) or m.group(2)) for m in re.finditer(_MIME_BOUNDARY, data)}
    # Where a part ends: one pattern for every boundary, so that finding each part's end reads
    # on only to the nearest one (a search per boundary read every mbox to its end, per part).
    part_ends = re.compile(b"|".join(map(re.escape, sorted({*boundaries, b"\nFrom "}))))
    blank_line = re.compile(rb"\r?\n\r?\n")  # the end of a part's headers
    raw = count = 0
    for marker in re.finditer(_MIME_ENCODED, data):
        if marker.start() < raw:
            continue  # inside a part already taken (a message attached as text)
        headers = _mime_headers_start(data, marker.start())
        blank = blank_line.search(data, marker.end())
        if blank is None:
            continue
        body = blank.end()
        found_end = part_ends.search(data, body - 1)
        end = found_end.start() if found_end else len(data)
        if reason := budget.exhausted():
            yield _not_opened("the remaining MIME part", reason)
            break
        count += 1
        name, content, damage = _mime_part(data[headers:blank.start()], data[body:end], count)
        cap, why = budget.allowance(end - body)
        budget.members_left -= 1
        budget.take(min(len(content), cap))
        if body > raw:
            yield Raw(raw, body)
        if len(content) > cap:
            yield Problem(name, f"decoding stopped after {cap} bytes: {why}", limit=True)
        if damage:
            yield Problem(name, f"damaged {marker.group(1).decode().lower()} part ({damage}): "
                          "scanned what decoded, and the part as it is")
        yield Member(name, marker.group(1).decode().lower(), content[:cap])
        # A damaged part's text is scanned too: what did not decode may hold encoded keys.
        raw = body if damage else end
    if raw < len(data):
        yield Raw(raw)


def _mime_headers_start(data: bytes, at: int) -> int:
    """Where the header block holding the line at ``at`` starts: after the blank line, boundary
    or mbox separator line above it."""
    start = at
    while start > 0:
        above = data.rfind(b"\n", 0, start - 1) + 1
        line = data[above:start].strip()
        if not line or line.startswith((b"--", b"From ")):
            break
        start = above
    return start


def _mime_part(headers: bytes, body: bytes, count: int) -> tuple[str, bytes, str]:
    """The part's name, its decoded content, and what was wrong with its encoding, if anything.
    Base64 is decoded here, as far as it goes: the email package hands back a damaged part
    undecoded."""
    import email
    import email.policy

    part = email.message_from_bytes(headers + b"\n\n", policy=email.policy.compat32)
    name = part.get_filename() or f"part {count} ({part.get_content_type()})"
    if part.get("Content-Transfer-Encoding", "").strip().lower() != "base64":
        import quopri

        return name, quopri.decodestring(body), ""
    return name, *_base64_body(body)


def _base64_body(body: bytes) -> tuple[bytes, str]:
    import binascii
    import re

    text = re.sub(rb"\s+", b"", body).split(b"=", 1)[0]
    clean = re.sub(rb"[^A-Za-z0-9+/]+", b"", text)
    damage = "characters outside base64" if len(clean) < len(text) else ""
    if len(clean) % 4 == 1:
        clean = clean[:-1]
        damage = damage or "truncated"
    return binascii.a2b_base64(clean + b"=" * (-len(clean) % 4)), damage
