"""Archives built in memory, for tests and benchmarks that need zip and tar files."""

from __future__ import annotations

import io
import tarfile
import zipfile


def make_zip(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def make_tar(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def make_sparse_tar(name: str, stored: bytes, at: int, size: int) -> bytes:
    """A tar holding one GNU sparse member of ``size`` bytes: zeros, but ``stored`` at ``at``
    (tarfile writes no sparse members: the header is patched by hand)."""
    info = tarfile.TarInfo(name)
    info.size = len(stored)
    header = bytearray(info.tobuf(tarfile.GNU_FORMAT))
    header[156:157] = tarfile.GNUTYPE_SPARSE
    header[386:410] = b"%011o\0%011o\0" % (at, len(stored))  # the one (offset, size) entry
    header[482] = 0  # no extension blocks
    header[483:495] = b"%011o\0" % size
    header[148:156] = b" " * 8
    header[148:156] = b"%06o\0 " % sum(header)
    padding = bytes(-len(stored) % tarfile.BLOCKSIZE)
    return bytes(header) + stored + padding + bytes(2 * tarfile.BLOCKSIZE)
