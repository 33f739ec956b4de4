"""Containers: archives and compressed streams opened in memory (gzip, zip and the formats
built on it such as jar, whl and docx, tar, and so tar.gz).

Containers are recognised by their magic bytes, never by a file name: the engine sees bytes only.
Expansion is bounded against bombs (expanded bytes and members per scanned blob, expansion ratio
per member); a bound that stops expansion and a damaged archive both become problems that the
report shows, never silence. A key in a container's bytes is not missed because its structure
gave up or lied: what the structure does not account for is scanned too, as raw bytes (data
appended after a gzip stream, the rest of a bomb a limit stopped, bytes between zip members, a
zip's comment, a tar member's padding when it is not zeros), with the gzip streams and zip
members found there by their own headers (a member the central directory leaves out, every
member of a zip that lost its directory). zlib, zipfile and tarfile are imported only when a
container is met.

A tar member is handed on as a view of the tar's bytes, not a copy (see ``hvscan.buffers``): a
tar.gz holding one big file held the file twice, and tars nested in tars once per level. So
the openers take views as well as bytes.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING, NamedTuple

from hvscan.buffers import Buffer, find, startswith
from hvscan.units import counted

if TYPE_CHECKING:
    import tarfile
    import zipfile

    from _typeshed import WriteableBuffer

_GZIP = b"\x1f\x8b"
# A gzip member's first bytes: the magic and deflate, the only compression method it has.
_GZIP_MEMBER = _GZIP + b"\x08"
# Attempts at decompressing what looks like the start of a gzip stream but is not, after the end
# of a stream, before the rest is only scanned as raw bytes; nor may they read, all together,
# more than the rest of the file: a file of nothing but such starts would cost minutes.
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
    """``gzip``, ``zip``, ``tar`` or None, from the magic bytes."""
    if data.startswith(_GZIP):
        return "gzip"
    if data.startswith(_ZIP):
        return "zip"
    if data[_TAR_MAGIC_AT:_TAR_MAGIC_AT + 5] == b"ustar":
        return "tar"
    return None


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


class Raw(NamedTuple):
    """The container's own bytes from ``offset`` to ``end`` (None: to the end of the container)
    are not accounted for by its structure, or could not be read as a container: they are to be
    scanned as they are."""

    offset: int
    end: int | None = None


Item = Member | Problem | Raw


def expand(data: Buffer, container: str, budget: Budget) -> Iterator[Item]:
    opener = {"gzip": _gzip, "zip": _zip, "tar": _tar}[container]
    return opener(data, budget)


class _Inflated(NamedTuple):
    """A deflate stream decompressed from ``data[start:]``: ``end`` is where it ends in ``data``
    when ``complete``, else how far the input was read; ``error`` says why it stopped short,
    if the data is damaged."""

    output: bytes
    end: int
    complete: bool
    error: str = ""
    # How many bytes it produced (``output`` is empty when they went into a caller's buffer).
    produced: int = 0


def _inflate(data: Buffer, start: int, wbits: int, most: int, stop: int | None = None,
             into: io.BytesIO | None = None) -> _Inflated:
    """Decompress the stream at ``start`` (``wbits`` as zlib takes them), at most ``most``
    bytes of it, reading no further than ``stop``; the output is gathered in ``into`` when
    given (several streams that make one file), else returned."""
    import zlib

    stop = len(data) if stop is None else stop
    inflater = zlib.decompressobj(wbits)
    gathered = io.BytesIO() if into is None else into
    produced, fed = 0, start
    pending: Buffer = b""
    try:
        while produced < most and not inflater.eof:
            if not pending:
                if fed >= stop:
                    break
                # Input goes in by chunks: feeding it whole would copy the unread tail per call.
                pending = data[fed:min(fed + _CHUNK, stop)]
                fed += len(pending)
            piece = inflater.decompress(pending, min(most - produced, _OUTPUT_CHUNK))
            gathered.write(piece)
            produced += len(piece)
            pending = inflater.unconsumed_tail
    except zlib.error as exc:
        return _Inflated(_given(gathered, into), fed - len(pending), False, f"({exc})", produced)
    end = fed - len(pending) - len(inflater.unused_data)
    return _Inflated(_given(gathered, into), end, inflater.eof, produced=produced)


def _given(gathered: io.BytesIO, into: io.BytesIO | None) -> bytes:
    """What ``_inflate`` returns of its output: all of it, unless it went into the caller's
    buffer (taken without a copy: a BytesIO hands over its bytes when nothing else holds them)."""
    return gathered.getvalue() if into is None else b""


def _gzip(data: Buffer, budget: Budget) -> Iterator[Item]:
    import zlib

    if reason := budget.exhausted():
        yield Problem(None, f"gzip stream not decompressed: {reason}", limit=True)
        return
    cap, why = budget.allowance(len(data))
    gathered = io.BytesIO()
    produced = start = 0
    while True:  # one gzip member after another: a multi-member stream is one file
        stream = _inflate(data, start, zlib.MAX_WBITS | 16, cap + 1 - produced, into=gathered)
        produced += stream.produced
        if produced > cap or not stream.complete or stream.end == len(data):
            break
        start = stream.end
        if not startswith(data, _GZIP, start):
            break
    output = _gathered(gathered, cap)
    budget.take(len(output))
    if stream.error and not output:
        # Nothing came out: the magic bytes lied, or the stream is damaged from the start.
        yield Problem(None, f"damaged gzip stream {stream.error}: scanned as raw bytes")
        yield from _after_stream(data, 0, budget)
        return
    # What the stream does not account for is scanned as it is: data appended after it, a
    # member whose magic bytes lie, the rest of a bomb and whatever was appended to it.
    if produced > cap:
        rest = stream.end
        yield Problem(None, f"decompression stopped after {cap} bytes: {why}; the "
                      f"{len(data) - rest} bytes not decompressed scanned as raw bytes",
                      limit=True)
    elif not stream.complete and not start:
        rest = stream.end if stream.error else len(data)
        failure = f"damaged gzip stream {stream.error}" if stream.error else "truncated gzip stream"
        after = f", and the {len(data) - rest} bytes from the damage on as raw bytes"
        yield Problem(None, f"{failure}: scanned the {produced} bytes decompressed before it"
                      f"{after if rest < len(data) else ''}")
    else:
        rest = stream.end if stream.complete else start
        if rest < len(data):
            yield Problem(None, f"{len(data) - rest} bytes after the end of the gzip stream: "
                          "scanned as they are", informational=stream.complete)
    yield Member(None, "gzip", output)
    yield from _after_stream(data, rest, budget)


def _after_stream(data: Buffer, start: int, budget: Budget) -> Iterator[Item]:
    """The bytes from ``start`` on, which the gzip stream before them does not account for:
    gzip streams found there by their first bytes (appended after other data, or after a bomb
    that a limit stopped) decompressed, the rest scanned as raw bytes."""
    import zlib

    raw = search = start
    false_starts = false_read = 0
    while (at := find(data, _GZIP_MEMBER, search)) >= 0 and not budget.exhausted():
        if false_starts == _FALSE_STARTS or false_read > len(data) - start:
            yield Problem(None, f"{false_starts} gzip headers that start no stream after byte "
                          f"{start}: the rest from byte {at} scanned as raw bytes only")
            break
        cap, why = budget.allowance(len(data) - at)
        stream = _inflate(data, at, zlib.MAX_WBITS | 16, cap + 1)
        # What a false start decompressed counts too: many of them cost no more than the budget.
        budget.take(min(len(stream.output), cap))
        if not stream.complete and len(stream.output) <= cap:
            # Not a gzip stream after all (the check of its CRC-32 included).
            false_starts += 1
            false_read += stream.end - at
            search = at + 1
            continue
        if at > raw:
            yield Raw(raw, at)
        if len(stream.output) > cap:
            yield Problem(None, f"gzip stream at byte {at}: decompression stopped after {cap} "
                          f"bytes: {why}", limit=True)
        yield Member(None, "gzip", stream.output[:cap])
        raw = search = stream.end
    if raw < len(data):
        yield Raw(raw)


def _zip(data: Buffer, budget: Budget) -> Iterator[Item]:
    import zipfile

    try:
        archive = zipfile.ZipFile(_file(data))
        listed = archive.infolist()
        members = [info for info in listed if not info.is_dir()]
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        yield Problem(None, f"damaged zip archive ({exc}): members read from their local "
                      "headers, the rest scanned as raw bytes")
        yield from _unlisted(data, [], budget)
        return
    for index, info in enumerate(members):
        if reason := budget.exhausted():
            yield _not_opened(f"{len(members) - index} more", reason)
            return
        budget.members_left -= 1
        if info.flag_bits & 0x1:
            yield Problem(info.filename, "encrypted member: cannot be scanned")
            continue
        yield from _zip_member(archive, info, budget)
    yield from _unlisted(data, _listed_spans(data, archive.start_dir, listed), budget)


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


def _listed_spans(data: Buffer, directory: int,
                  listed: list[zipfile.ZipInfo]) -> list[tuple[int, int]]:
    """The bytes the central directory accounts for: each listed member's local header and
    data, and the directory itself up to the end record (the archive comment is not)."""
    spans = []
    for info in listed:
        at = info.header_offset
        header = data[at:at + _LOCAL_HEADER.size]
        if len(header) == _LOCAL_HEADER.size and startswith(header, _LOCAL_FILE):
            *_, name, extra = _LOCAL_HEADER.unpack(header)
            end = at + _LOCAL_HEADER.size + name + extra + info.compress_size
            if info.flag_bits & 0x8:  # a data descriptor follows, its signature optional
                end += 16 if startswith(data, b"PK\x07\x08", end) else 12
            spans.append((at, end))
    end = directory
    while startswith(data, b"PK\x01\x02", end) and len(data) >= end + 46:
        name, extra, comment = struct.unpack_from("<3H", data, end + 28)
        end += 46 + name + extra + comment
    if startswith(data, b"PK\x06\x06", end):  # zip64 end record and locator
        end += 12 + int.from_bytes(data[end + 4:end + 12], "little")
    if startswith(data, b"PK\x06\x07", end):
        end += 20
    if startswith(data, b"PK\x05\x06", end):
        end += 22
    spans.append((directory, end))
    return sorted(spans)


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
        stream = _inflate(data, begin, -15, cap + 1, stop)
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
        # tarfile reads a member of a type it does not know as a regular file, as tar does.
        if not (info.isreg() or info.type not in tarfile.SUPPORTED_TYPES):
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
