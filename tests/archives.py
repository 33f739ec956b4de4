"""Archives and compressed streams built in memory, for tests and benchmarks that need them."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import tarfile
import zipfile
from collections.abc import Callable


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


def make_7z(members: dict[str, bytes]) -> bytes:
    import py7zr

    buffer = io.BytesIO()
    with py7zr.SevenZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(data, name)
    return buffer.getvalue()


def _zstd(data: bytes) -> bytes:
    # Made with the compressor, not hvscan's code (the benchmark builds archives for an older
    # hvscan too); with a checksum, as the zstd command line writes it.
    try:
        import compression.zstd as zstd  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        import backports.zstd as zstd  # type: ignore[import-untyped,unused-ignore]
    return bytes(zstd.compress(data, options={zstd.CompressionParameter.checksum_flag: 1}))


# A compressed stream's layer name in a finding's chain: how to make one.
STREAMS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": gzip.compress,
    "xz": lzma.compress,
    "lzma": lambda data: lzma.compress(data, format=lzma.FORMAT_ALONE),
    "bzip2": bz2.compress,
    "zstd": _zstd,
}


def format_heads() -> dict[str, bytes]:
    """The first bytes of a real file of every format the engine opens by its first bytes (a
    tar's whole first header): random bytes after them make a damaged file of that format."""
    heads = {name: compress(b"x" * 100)[:12] for name, compress in STREAMS.items()}
    return heads | {"zip": make_zip({"a": b"x"})[:34], "tar": make_tar({"a": b"x"})[:512],
                    "7z": make_7z({"a": b"x"})[:32], "utf-16": "\ufeffx".encode("utf-16-le"),
                    "utf-32": "\ufeffx".encode("utf-32-le"),
                    "eml": b"MIME-Version: 1.0\nContent-Transfer-Encoding: base64\n\n"}


def make_eml(body: str, attachments: dict[str, bytes], body_encoding: str = "quoted-printable",
             ) -> bytes:
    """A MIME message, as mail clients save it (.eml): a text body, and attachments in base64."""
    from email.message import EmailMessage

    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "ops@example.com", "dev@example.com", "x"
    message.set_content(body, cte=body_encoding)
    for name, data in attachments.items():
        message.add_attachment(data, maintype="application", subtype="octet-stream",
                               filename=name)
    if message.is_multipart():
        message.set_boundary("=-hvscan-test-boundary-=")  # a random one would be drawn otherwise
    return bytes(message)
