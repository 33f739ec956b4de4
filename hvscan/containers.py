"""Containers: archives and compressed streams opened in memory (gzip, zip and the formats
built on it such as jar, whl and docx, tar, and so tar.gz).

Containers are recognised by their magic bytes, never by a file name: the engine sees bytes only.
Expansion is bounded against bombs (expanded bytes and members per scanned blob, expansion ratio
per member); a bound that stops expansion and a damaged archive both become problems that the
report shows, never silence. zlib, zipfile and tarfile are imported only when a container is met.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import TYPE_CHECKING, NamedTuple

from hvscan.units import counted

if TYPE_CHECKING:
    import tarfile
    import zipfile

_GZIP = b"\x1f\x8b"
_ZIP = (b"PK\x03\x04", b"PK\x05\x06")
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
    data: bytes


class Problem(NamedTuple):
    """A damaged part, or a limit that stopped expansion (``limit``), about member ``name``
    (None: the container itself)."""

    name: str | None
    message: str
    limit: bool = False


class Raw(NamedTuple):
    """The container's own bytes from ``offset`` on could not be read as a container: they are
    to be scanned as they are."""

    offset: int


Item = Member | Problem | Raw


def expand(data: bytes, container: str, budget: Budget) -> Iterator[Item]:
    opener = {"gzip": _gzip, "zip": _zip, "tar": _tar}[container]
    return opener(data, budget)


def _gzip(data: bytes, budget: Budget) -> Iterator[Item]:
    import zlib

    if reason := budget.exhausted():
        yield Problem(None, f"gzip stream not decompressed: {reason}", limit=True)
        return
    cap, why = budget.allowance(len(data))
    gathered = io.BytesIO()
    produced = fed = 0
    pending = b""
    inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
    failure = ""
    rest = -1
    try:
        while produced <= cap:
            if not pending and fed < len(data):
                # Input goes in by chunks: feeding it whole would copy the unread tail per call.
                pending = data[fed:fed + _CHUNK]
                fed += len(pending)
            piece = inflater.decompress(pending, min(cap + 1 - produced, _OUTPUT_CHUNK))
            gathered.write(piece)
            produced += len(piece)
            pending = inflater.unconsumed_tail
            if inflater.eof:
                unused = inflater.unused_data
                if not unused and fed == len(data):
                    break
                if not (unused + data[fed:fed + 2]).startswith(_GZIP):
                    rest = fed - len(unused)
                    break
                inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)  # a multi-member stream
                pending = unused
            elif not pending and not piece and fed == len(data):
                failure = "truncated gzip stream"
                break
    except zlib.error as exc:
        failure = f"damaged gzip stream ({exc})"
    output = _gathered(gathered, cap)
    budget.take(len(output))
    if produced > cap:
        yield Problem(None, f"decompression stopped after {cap} bytes: {why}", limit=True)
    elif failure and not output:
        # Nothing came out: the magic bytes lied, or the stream is damaged from the start.
        yield Problem(None, f"{failure}: scanned as raw bytes")
        yield Raw(0)
        return
    elif failure:
        yield Problem(None, f"{failure}: scanned the {produced} bytes decompressed before it")
    yield Member(None, "gzip", output)
    if rest >= 0:
        yield Problem(None, f"{len(data) - rest} bytes after the end of the gzip stream: "
                      "scanned as they are")
        yield Raw(rest)


def _zip(data: bytes, budget: Budget) -> Iterator[Item]:
    import zipfile

    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = [info for info in archive.infolist() if not info.is_dir()]
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        yield Problem(None, f"damaged zip archive ({exc}): scanned as raw bytes")
        yield Raw(0)
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


def _gathered(gathered: io.BytesIO, cap: int) -> bytes:
    """At most ``cap`` bytes of what was gathered, without copying them."""
    gathered.truncate(cap)
    return gathered.getvalue()


def _tar(data: bytes, budget: Budget) -> Iterator[Item]:
    import tarfile

    try:
        archive = tarfile.TarFile(fileobj=io.BytesIO(data), mode="r")
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
            if data[archive.offset:].strip(b"\0"):
                yield from _tar_damaged(count, archive.offset, "")
            return
        if not info.isreg():
            continue
        count += 1
        if reason := budget.exhausted():
            yield _not_opened("the remaining", reason)
            return
        budget.members_left -= 1
        content = data[info.offset_data:info.offset_data + info.size]
        if info.issparse():
            content = _sparse(archive, info)
        elif len(content) < info.size:
            yield Problem(info.name, f"truncated member ({len(content)} of {info.size} bytes): "
                          "scanned what is there")
        yield Member(info.name, "tar", content)


def _tar_damaged(count: int, offset: int, reason: str) -> Iterator[Item]:
    yield Problem(None, f"damaged tar archive after {counted(count, 'member')}{reason}: "
                  f"the rest (from byte {offset}) scanned as raw bytes")
    yield Raw(offset)


def _sparse(archive: tarfile.TarFile, info: tarfile.TarInfo) -> bytes:
    stream = archive.extractfile(info)
    return stream.read() if stream else b""


def _not_opened(members: str, reason: str) -> Problem:
    return Problem(None, f"{members} members not opened: {reason}", limit=True)
