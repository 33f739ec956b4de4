"""Containers: gzip, xz, lzma, bzip2 and zstd streams, zip (jar, whl, docx...), tar and the
tarballs, 7z; nested, damaged and bombs."""

from __future__ import annotations

import base64
import gzip
import io
import json
import random
import struct
import sys
import tarfile
import tracemalloc
import zipfile
import zlib
from pathlib import Path
from typing import Any

import pytest
from archives import STREAMS, make_7z, make_eml, make_sparse_tar, make_tar, make_zip
from gitrepo import GitRepo
from hidden import Hidden, assert_found_once, hidden_keys
from hvscan_run import Run
from hypothesis import given, settings
from hypothesis import strategies as st
from keygen import make_key

from hvscan.containers import RATIO_FLOOR, Budget, Member, Problem, expand, kind
from hvscan.engine import Engine, Limits
from hvscan.findings import fingerprint
from hvscan.rules import load_builtin_rules

RULES = load_builtin_rules()
ENGINE = Engine(RULES)


def found(data: bytes, engine: Engine = ENGINE) -> list[tuple[str, str | None, str, int, int]]:
    return [(m.secret, m.member, m.encoding, m.line, m.column)
            for m in engine.scan(data) if not m.placeholder]


def notes(data: bytes, engine: Engine = ENGINE) -> list[tuple[str | None, str, bool]]:
    return [(n.member, n.message, n.limit) for n in engine.inspect(data).notes]


def text_with(key: str, line: int = 3) -> bytes:
    return ("# settings\n" * (line - 1) + f"KEY={key}\n").encode()


def noise(size: int, seed: int = 0) -> bytes:
    """Text that does not compress much, so ratios stay ordinary."""
    rng = random.Random(seed)
    return bytes(rng.choice(b"abcdefghijklmnopqrstuvwxyz \n") for _ in range(size))


# --- recognition ----------------------------------------------------------------------------


def test_kind_by_magic_bytes() -> None:
    assert kind(gzip.compress(b"x")) == "gzip"
    assert kind(make_zip({"a": b"x"})) == "zip"
    assert kind(make_zip({})) == "zip"
    assert kind(make_tar({"a": b"x"})) == "tar"
    assert kind(b"PK is a nice name\n") is None
    assert kind(b"plain text " * 100) is None


def test_needs_full_scan_for_containers_only() -> None:
    assert ENGINE.needs_full_scan(gzip.compress(b"x"))
    assert ENGINE.needs_full_scan(make_zip({"a": b"x"}))
    assert ENGINE.needs_full_scan(make_tar({"a": b"x"}))
    assert not ENGINE.needs_full_scan(b"text\n")
    assert not ENGINE.needs_full_scan(base64.b64encode(gzip.compress(b"x")))
    assert not Engine(RULES, Limits(archive_depth=0)).needs_full_scan(gzip.compress(b"x"))


# --- each container -------------------------------------------------------------------------


def test_gzip_stream() -> None:
    key = make_key("live", 1)
    assert found(gzip.compress(text_with(key))) == [(key, None, "gzip", 3, 5)]


def test_multi_member_gzip() -> None:
    key = make_key("test", 2)
    data = gzip.compress(b"first\n") + gzip.compress(text_with(key, 1))
    assert found(data) == [(key, None, "gzip", 2, 5)]


@pytest.mark.parametrize("method", [zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED,
                                    zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA])
def test_zip_members(method: int) -> None:
    key = make_key("live", 3)
    data = make_zip({"README": b"hello\n", "conf/": b"", "conf/app.env": text_with(key)}, method)
    assert found(data) == [(key, "conf/app.env", "zip", 3, 5)]
    assert ENGINE.inspect(data).members == 2


def test_jar_wheel_and_docx_are_zips() -> None:
    key = make_key("test", 4)
    jar = make_zip({"META-INF/MANIFEST.MF": b"Manifest-Version: 1.0\n",
                    "app/config.properties": f"hesedvid.key={key}\n".encode()})
    docx = make_zip({"[Content_Types].xml": b"<Types/>",
                     "word/document.xml": f"<w:t>{key}</w:t>".encode()})
    assert [f[:3] for f in found(jar)] == [(key, "app/config.properties", "zip")]
    assert [f[:3] for f in found(docx)] == [(key, "word/document.xml", "zip")]


def test_tar_and_tar_gz() -> None:
    key = make_key("live", 5)
    tar = make_tar({"src/a.py": b"print()\n", "src/settings.py": text_with(key, 2)})
    assert found(tar) == [(key, "src/settings.py", "tar", 2, 5)]
    assert found(gzip.compress(tar)) == [(key, "src/settings.py", "gzip>tar", 2, 5)]


def test_nested_containers_and_encodings() -> None:
    key = make_key("test", 6)
    inner = make_zip({"deep/secret.yaml": f"value: {base64.b64encode(key.encode()).decode()}\n"
                      .encode()})
    jar = make_zip({"lib/inner.zip": inner, "other.txt": b"x"})
    bundle = gzip.compress(make_tar({"dist/app.jar": jar}))
    assert found(bundle) == [
        (key, "dist/app.jar!lib/inner.zip!deep/secret.yaml", "gzip>tar>zip>zip>base64", 1, 8)
    ]


def test_utf16_member_of_a_zip() -> None:
    key = make_key("live", 7)
    data = make_zip({"setup.ps1": f"\ufeff# setup\r\n$key = '{key}'\r\n".encode("utf-16-le")})
    assert found(data) == [(key, "setup.ps1", "zip>utf-16le", 2, 9)]


def test_empty_and_directory_only_archives() -> None:
    for data in (make_zip({}), make_zip({"a/": b"", "a/b/": b""}), make_tar({}),
                 gzip.compress(b"")):
        inspection = ENGINE.inspect(data)
        assert inspection.matches == [] and inspection.notes == []


# --- damaged archives: a note, the rest still scanned --------------------------------------


def test_truncated_gzip_keeps_what_was_decompressed() -> None:
    key = make_key("live", 8)
    data = gzip.compress(text_with(key) + noise(200_000), compresslevel=1)
    cut = data[: len(data) // 2]
    assert found(cut) == [(key, None, "gzip", 3, 5)]
    ((member, message, limit),) = notes(cut)
    assert member is None and not limit
    assert message.startswith("truncated gzip stream: scanned the ")
    assert message.endswith(" bytes decompressed before it")


def test_corrupt_gzip_is_a_note() -> None:
    data = bytearray(gzip.compress(noise(50_000)))
    data[len(data) // 2:len(data) // 2 + 40] = b"\xff" * 40
    ((_, message, limit),) = notes(bytes(data))
    assert message.startswith("damaged gzip stream (") and not limit


def test_gzip_magic_without_a_gzip_stream_is_scanned_as_raw_bytes() -> None:
    key = make_key("live", 26)
    data = b"\x1f\x8b" + key.encode()
    assert found(data) == [(key, None, "plain", 1, 3)]
    ((_, message, limit),) = notes(data)
    assert message.startswith("damaged gzip stream (") and not limit
    assert message.endswith("): scanned as raw bytes")


def test_bytes_after_a_gzip_stream_are_scanned() -> None:
    key = make_key("test", 9)
    data = gzip.compress(b"log\n") + b"\ntrailer " + key.encode()
    assert [f[:3] for f in found(data)] == [(key, None, "plain")]
    ((_, message, _),) = notes(data)
    assert message.endswith("bytes after the end of the gzip stream: scanned as they are")


def test_bytes_after_a_gzip_bomb_are_scanned() -> None:
    # They were not: decompression stopped at the limit and the rest of the file was dropped.
    key = make_key("live", 30)
    data = gzip.compress(b"\0" * (8 << 20)) + f"\nKEY={key}\n".encode()
    engine = Engine(RULES, Limits(archive_bytes=1 << 20))
    assert [f[:3] for f in found(data, engine)] == [(key, None, "plain")]
    ((member, message, limit),) = notes(data, engine)
    assert member is None and limit
    assert message.endswith(" bytes not decompressed scanned as raw bytes")


def test_gzip_streams_after_a_bomb_or_after_appended_data_are_decompressed() -> None:
    key, other = make_key("test", 34), make_key("live", 35)
    bomb = gzip.compress(b"\0" * (8 * RATIO_FLOOR))
    hidden = gzip.compress(text_with(key))
    engine = Engine(RULES, Limits(archive_ratio=100))
    inspection = engine.inspect(bomb + b"\x1f\x8b\x08 not a stream " + hidden)
    assert [(m.secret, m.encoding, m.line) for m in inspection.matches] == [(key, "gzip", 3)]
    assert [n.limit for n in inspection.notes] == [True]
    logs = gzip.compress(b"log\n") + b"appended text\n" + gzip.compress(text_with(other, 1))
    assert [f[:3] for f in found(logs)] == [(other, None, "gzip")]


@pytest.mark.parametrize("start", [b"\x1f\x8b\x08\x00", b"\x1f\x8b\x08"])  # FLG 0x1f: a name
def test_many_false_gzip_starts_end_the_search_with_a_note(start: bytes) -> None:
    key = make_key("live", 36)
    data = gzip.compress(b"log\n") + start * 100_000 + f"\n{key}\n".encode()
    inspection = ENGINE.inspect(data)
    assert [(m.secret, m.encoding) for m in inspection.matches] == [(key, "plain")]
    assert inspection.notes[-1].message.endswith("scanned as raw bytes only")
    assert not inspection.notes[-1].informational


def test_damaged_gzip_member_after_a_good_one_is_scanned_as_raw_bytes() -> None:
    # Gzip magic bytes that lie after a complete stream: the rest was dropped with a note.
    key = make_key("test", 31)
    stream = gzip.compress(b"log\n")
    data = stream + b"\x1f\x8b\x08junk " + key.encode() + b"\n"
    assert [f[:3] for f in found(data)] == [(key, None, "plain")]
    ((_, message, limit),) = notes(data)
    assert not limit and message == (f"{len(data) - len(stream)} bytes after "
                                     "the end of the gzip stream: scanned as they are")


def test_gzip_damaged_in_the_middle_scans_the_rest_as_raw_bytes() -> None:
    key = make_key("live", 32)
    data = bytearray(gzip.compress(noise(300_000), compresslevel=1))
    data[1000:1040] = b"\xff" * 40
    damaged = bytes(data) + f"\nKEY={key}\n".encode()
    assert [f[:3] for f in found(damaged)] == [(key, None, "plain")]
    ((_, message, _),) = notes(damaged)
    assert message.startswith("damaged gzip stream (")
    assert message.endswith(" bytes from the damage on as raw bytes")


@pytest.mark.parametrize("method", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_truncated_zip_is_read_from_its_local_headers(method: int) -> None:
    key = make_key("live", 10)
    data = make_zip({"a.env": text_with(key), "b.bin": noise(5000)}, method)
    cut = data[:data.index(b"PK\x01\x02")]  # the central directory is gone
    assert found(cut) == [(key, "a.env", "zip", 3, 5)]
    assert [n[1] for n in notes(cut[:-100])][1:] == [
        "member not listed in the zip's central directory: read from its local header",
        "damaged or truncated member not listed in the zip's central directory: scanned what "
        "was read"]
    (damaged, *unlisted) = notes(cut)
    assert damaged[0] is None and damaged[1].startswith("damaged zip archive (")
    assert damaged[1].endswith("members read from their local headers, the rest scanned as "
                               "raw bytes")
    assert [n[:2] for n in unlisted] == [
        ("a.env", "member not listed in the zip's central directory: read from its local header"),
        ("b.bin", "member not listed in the zip's central directory: read from its local header"),
    ]


def test_members_read_from_local_headers_count_toward_the_member_limit() -> None:
    key = make_key("live", 33)
    members = {f"f{i:02}.txt": b"x\n" for i in range(20)} | {"z.txt": text_with(key)}
    data = make_zip(members, zipfile.ZIP_STORED)
    cut = data[:data.index(b"PK\x01\x02")]
    engine = Engine(RULES, Limits(archive_members=5))
    inspection = engine.inspect(cut)
    assert inspection.members == 5
    # One note for the limit, not one per member left closed; what they hold is still seen raw.
    assert [(n.member, n.limit) for n in inspection.notes][-1:] == [(None, True)]
    assert len(inspection.notes) == 1 + 5 + 1
    assert inspection.notes[-1].message == (
        "unlisted members not opened: the limit of 5 archive members per scanned file "
        "(--max-archive-members)")
    assert [(m.secret, m.member, m.encoding) for m in inspection.matches] == [(key, None, "plain")]


def without_directory_entry(data: bytes, name: str) -> bytes:
    """``data``, a zip, with ``name`` left out of its central directory (its local header and
    data stay where they are)."""
    directory = data.index(b"PK\x01\x02")
    entries, at = [], directory
    while data.startswith(b"PK\x01\x02", at):
        sizes = struct.unpack_from("<3H", data, at + 28)
        entries.append(data[at:at + 46 + sum(sizes)])
        at += 46 + sum(sizes)
    kept = b"".join(e for e in entries if e[46:46 + len(name)] != name.encode())
    count = len(entries) - 1
    end = data[at:at + 8] + struct.pack("<2H2I", count, count, len(kept), directory)
    return data[:directory] + kept + end + data[at + 20:]


@pytest.mark.parametrize("method", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_member_left_out_of_the_central_directory_is_read(method: int) -> None:
    # It was missed with no note: zipfile lists only what the central directory lists.
    key = make_key("test", 27)
    data = without_directory_entry(make_zip(
        {"a.txt": b"hello\n", "hidden.env": text_with(key, 3), "b.txt": b"bye\n"}, method),
        "hidden.env")
    assert [i.filename for i in zipfile.ZipFile(io.BytesIO(data)).infolist()] == ["a.txt", "b.txt"]
    assert found(data) == [(key, "hidden.env", "zip", 3, 5)]
    assert notes(data) == [("hidden.env", "member not listed in the zip's central directory: "
                            "read from its local header", False)]


def test_bytes_outside_a_zips_members_are_scanned() -> None:
    # Between members and in the archive comment: nothing in the central directory covers them.
    first, second = make_key("live", 28), make_key("test", 29)
    data = make_zip({"a.txt": b"hello\n", "b.txt": b"bye\n"})
    second_header = data.index(b"PK\x03\x04", 4)
    shift = len(f"\n{first}\n")
    padded = data[:second_header] + f"\n{first}\n".encode() + data[second_header:]
    archive = zipfile.ZipFile(io.BytesIO(data))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as out:
        for info in archive.infolist():
            out.writestr(info, archive.read(info))
        out.comment = f"built by ci {second}".encode()
    commented = buffer.getvalue()
    assert [f[:3] for f in found(commented)] == [(second, None, "plain")]
    # The directory still points at the right place once the inserted text is accounted for.
    directory = padded.index(b"PK\x01\x02")
    fixed = bytearray(padded)
    second_entry = padded.index(b"PK\x01\x02", directory + 4)
    struct.pack_into("<I", fixed, second_entry + 42, second_header + shift)
    end = padded.index(b"PK\x05\x06")
    struct.pack_into("<I", fixed, end + 16, directory)
    assert [i.filename for i in zipfile.ZipFile(io.BytesIO(bytes(fixed))).infolist()] == [
        "a.txt", "b.txt"]
    assert [f[:3] for f in found(bytes(fixed))] == [(first, None, "plain")]
    assert notes(bytes(fixed)) == []


def test_zip_member_with_a_bad_checksum() -> None:
    key = make_key("test", 11)
    data = bytearray(make_zip({"x.txt": b"y" * 100 + text_with(key, 1)}, zipfile.ZIP_STORED))
    data[data.index(b"yyyy") + 10] = ord("z")
    assert [f[:3] for f in found(bytes(data))] == [(key, "x.txt", "zip")]
    ((member, message, _),) = notes(bytes(data))
    assert (member, message) == ("x.txt", "damaged member (bad CRC-32): scanned as read")


def test_encrypted_zip_member_is_a_note() -> None:
    key = make_key("live", 12)
    data = bytearray(make_zip({"open.txt": text_with(key), "locked.txt": b"secret"},
                              zipfile.ZIP_STORED))
    # Set the "encrypted" flag of the second member in its local and central headers.
    local = data.index(b"PK\x03\x04", 1)
    central = data.index(b"PK\x01\x02", data.index(b"PK\x01\x02") + 4)
    data[local + 6] |= 1
    data[central + 8] |= 1
    assert [f[:2] for f in found(bytes(data))] == [(key, "open.txt")]
    assert notes(bytes(data)) == [("locked.txt", "encrypted member: cannot be scanned", False)]


@pytest.mark.parametrize("cut", [1024 + 8, 2560 + 8])  # in the second and the third header
def test_damaged_tar_keeps_members_before_the_damage(cut: int) -> None:
    first, last = make_key("live", 13), make_key("test", 14)
    data = make_tar({"a.txt": text_with(first, 1), "b.txt": noise(1000),
                     "c.txt": text_with(last, 1)})
    assert len(data) > 3000
    damaged = data[:cut] + b"\x01" * 64 + data[cut + 64:]
    result = found(damaged)
    assert (first, "a.txt", "tar", 1, 5) in result
    assert any(key == last for key, *_ in result)  # in its member or in the raw rest
    assert notes(damaged)


def test_truncated_tar_member() -> None:
    key = make_key("live", 15)
    content = text_with(key, 1) + noise(2000)
    cut = make_tar({"a.txt": content})[:1200]
    assert found(cut) == [(key, "a.txt", "tar", 1, 5)]
    assert notes(cut) == [("a.txt", f"truncated member ({1200 - 512} of {len(content)} bytes): "
                           "scanned what is there", False)]


# --- depth and bomb limits: a note, never silence ------------------------------------------


def test_archive_depth_limit() -> None:
    key = make_key("test", 16)
    three = make_zip({"l1.zip": make_zip({"l2.zip": make_zip(
        {"l3.txt": text_with(key, 1)}, zipfile.ZIP_STORED)}, zipfile.ZIP_STORED)})
    assert found(three) == [(key, "l1.zip!l2.zip!l3.txt", "zip>zip>zip", 1, 5)]
    shallow = Engine(RULES, Limits(archive_depth=2))
    # The third zip stays closed; its stored member is still seen in its raw bytes.
    assert [f[:3] for f in found(three, shallow)] == [(key, "l1.zip!l2.zip", "zip>zip")]
    assert notes(three, shallow) == [(
        "l1.zip!l2.zip",
        "zip archive nested deeper than --max-archive-depth (2): not opened, scanned as raw "
        "bytes", True)]


def test_a_tar_gz_is_one_level() -> None:
    key = make_key("live", 17)
    data = gzip.compress(make_tar({"k.txt": text_with(key, 1)}))
    assert [f[:2] for f in found(data, Engine(RULES, Limits(archive_depth=1)))] == [
        (key, "k.txt")]


def test_archive_depth_zero_leaves_containers_closed() -> None:
    key = make_key("live", 18)
    engine = Engine(RULES, Limits(archive_depth=0))
    data = make_zip({"a.txt": text_with(key)}, zipfile.ZIP_STORED)
    assert [f[:3] for f in found(data, engine)] == [(key, None, "plain")]
    assert engine.inspect(gzip.compress(text_with(key))).notes == []


def test_expansion_ratio_limit() -> None:
    key = make_key("test", 19)
    bomb = gzip.compress(b"\0" * (8 * RATIO_FLOOR) + text_with(key))
    inspection = Engine(RULES, Limits(archive_ratio=100)).inspect(bomb)
    assert inspection.matches == []
    ((member, message, limit),) = [(n.member, n.message, n.limit) for n in inspection.notes]
    assert limit and member is None
    assert message.startswith(f"decompression stopped after {RATIO_FLOOR} bytes: an expansion "
                              "ratio above 100:1 (--max-archive-ratio); the ")
    assert message.endswith(" bytes not decompressed scanned as raw bytes")
    assert inspection.expanded_bytes == RATIO_FLOOR


def test_small_members_never_trip_the_ratio() -> None:
    key = make_key("live", 20)
    data = make_zip({"zeros.txt": b"\0" * (RATIO_FLOOR // 2) + text_with(key, 1)})
    assert [f[:2] for f in found(data, Engine(RULES, Limits(archive_ratio=2)))] == [
        (key, "zeros.txt")]


def test_expanded_size_limit() -> None:
    key = make_key("test", 21)
    members = {f"part{i}.txt": noise(400_000, i) for i in range(5)}
    members["part5.txt"] = text_with(key)
    engine = Engine(RULES, Limits(archive_bytes=1_000_000))
    inspection = engine.inspect(make_zip(members))
    assert inspection.matches == [] and inspection.expanded_bytes == 1_000_000
    assert [(n.member, n.limit) for n in inspection.notes] == [("part2.txt", True), (None, True)]
    assert inspection.notes[0].message == (
        "decompression stopped after 200000 bytes: the limit of 1000000 expanded bytes per "
        "scanned file (--max-archive-size)")
    assert inspection.notes[1].message == (
        "3 more members not opened: the limit of 1000000 expanded bytes per scanned file "
        "(--max-archive-size)")


def test_member_count_limit() -> None:
    key = make_key("live", 22)
    members = {f"f{i:02}.txt": b"x\n" for i in range(20)}
    members["z.txt"] = text_with(key)
    engine = Engine(RULES, Limits(archive_members=5))
    inspection = engine.inspect(make_zip(members))
    assert inspection.matches == [] and inspection.members == 5
    assert [(n.message, n.limit) for n in inspection.notes] == [(
        "16 more members not opened: the limit of 5 archive members per scanned file "
        "(--max-archive-members)", True)]
    tar_inspection = engine.inspect(make_tar(members))
    assert tar_inspection.members == 5 and tar_inspection.notes[0].limit


def test_zip_bomb_of_nested_archives_stops_at_the_size_limit() -> None:
    layer = make_zip({"zeros": b"\0" * (4 << 20)})
    for level in range(3):
        layer = make_zip({f"{level}-{i}.zip": layer for i in range(8)})
    inspection = Engine(RULES, Limits(archive_bytes=32 << 20)).inspect(layer)
    assert inspection.expanded_bytes <= 32 << 20
    assert any(n.limit for n in inspection.notes)


# The decompressor's own state, which the standard library allocates through Python too: xz's
# dictionary (8 MiB at the default preset), bzip2's block buffers.
WINDOWS = {"xz": 9 << 20, "bzip2": 4 << 20}


@pytest.mark.parametrize("layer", ["gzip", "zip", "xz", "bzip2", "zstd"])
def test_a_bomb_is_held_once_in_memory(layer: str) -> None:
    # A 10 GiB gzip of zeros used to take three times --max-archive-size (its decompressed
    # pieces, their join and a cut of that): the expanded bytes are now gathered where they
    # stay. Python's own allocations are traced, nothing is timed.
    zeros = b"\0" * (64 << 20)
    bomb = make_zip({"zeros": zeros}) if layer == "zip" else STREAMS[layer](zeros)
    del zeros
    limit = 16 << 20
    budget = Budget(max_bytes=limit, max_members=10, ratio=1 << 20)
    tracemalloc.start()
    try:
        items = list(expand(bomb, layer, budget))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    (member,) = [item for item in items if isinstance(item, Member)]
    assert len(member.data) == limit and budget.expanded == limit
    assert [item.limit for item in items if isinstance(item, Problem)] == [True]
    assert peak < 1.5 * limit + WINDOWS.get(layer, 0), peak


# --- xz, lzma, bzip2, zstd and 7z ----------------------------------------------------------

NEW_STREAMS = [name for name in STREAMS if name != "gzip"]


@pytest.mark.parametrize("stream", NEW_STREAMS)
def test_compressed_streams_and_their_tarballs_by_magic_bytes(stream: str) -> None:
    key = make_key("live", 40)
    compress = STREAMS[stream]
    assert kind(compress(b"x")) == stream
    assert ENGINE.needs_full_scan(compress(b"x"))
    assert found(compress(text_with(key))) == [(key, None, stream, 3, 5)]
    tarball = compress(make_tar({"etc/app.env": text_with(key, 2)}))
    assert found(tarball) == [(key, "etc/app.env", f"{stream}>tar", 2, 5)]
    # A tarball is one level, as a .tar.gz is.
    limits = Limits(archive_depth=1)
    assert [f[:3] for f in found(tarball, Engine(RULES, limits))] == [
        (key, "etc/app.env", f"{stream}>tar")]
    two = compress(b"first\n") + compress(text_with(key, 1))
    assert found(two) == [(key, None, stream, 2, 5)]


def test_legacy_lzma_is_told_by_its_whole_header() -> None:
    # Its magic is three bytes: binary data that starts with them is no stream (no false note).
    assert kind(STREAMS["lzma"](b"x")) == "lzma"
    assert kind(b"\x5d\x00\x00" + bytes(range(40))) is None
    assert kind(b"\x5d\x00\x00\x80\x00" + b"\xff" * 8) == "lzma"
    assert kind(b"\x5d\x00\x00\x81\x00" + b"\xff" * 8) is None


def test_7z_archive_members() -> None:
    key = make_key("test", 41)
    data = make_7z({"README": b"hello\n", "conf/app.env": text_with(key),
                    "inner.tar.xz": STREAMS["xz"](make_tar({"k.txt": text_with(key, 1)}))})
    assert kind(data) == "7z" and ENGINE.needs_full_scan(data)
    assert found(data) == [(key, "conf/app.env", "7z", 3, 5),
                           (key, "inner.tar.xz!k.txt", "7z>xz>tar", 1, 5)]
    assert ENGINE.inspect(data).members == 4


def test_7z_member_names_that_climb_out_or_repeat_do_not_hide_members() -> None:
    # py7zr refused the whole archive for one member named as a path that climbs out, and
    # renamed a repeated name: nothing is written to disk, every member is read.
    import py7zr

    key = make_key("live", 55)
    buffer = io.BytesIO()
    with py7zr.SevenZipFile(buffer, "w") as archive:
        archive.writestr(text_with(key, 1), "a\\..\\..\\c.txt")
        archive.writestr(text_with(key, 2), "same.txt")
        archive.writestr(text_with(key, 3), "same.txt")
    assert found(buffer.getvalue()) == [(key, "a/../../c.txt", "7z", 1, 5),
                                        (key, "same.txt", "7z", 2, 5),
                                        (key, "same.txt", "7z", 3, 5)]


@pytest.mark.parametrize("stream", NEW_STREAMS)
def test_magic_bytes_without_a_stream_are_scanned_as_raw_bytes(stream: str) -> None:
    key = make_key("live", 42)
    data = STREAMS[stream](b"x")[:13] + b"\n" + key.encode()
    assert [f[:3] for f in found(data)] == [(key, None, "plain")]
    ((_, message, limit),) = notes(data)
    assert message.startswith(f"damaged {stream} stream (") and not limit
    assert message.endswith("): scanned as raw bytes")


@pytest.mark.parametrize("stream", NEW_STREAMS)
def test_truncated_or_damaged_stream_is_a_note_and_what_follows_is_scanned(stream: str) -> None:
    key = make_key("test", 43)
    data = STREAMS[stream](text_with(key) + noise(400_000))
    ((_, message, limit),) = notes(data[:len(data) // 2])
    assert message.startswith(f"truncated {stream} stream: scanned the ") and not limit
    damaged = bytearray(data)
    damaged[len(data) // 2:len(data) // 2 + 64] = b"\xff" * 64
    damaged += f"\nKEY={key}\n".encode()
    inspection = ENGINE.inspect(bytes(damaged))
    assert inspection.notes and inspection.notes[0].message.startswith(f"damaged {stream} stream")
    assert not inspection.notes[0].informational
    assert (key, "plain") in [(m.secret, m.encoding) for m in inspection.matches]


def test_damaged_7z_is_a_note_and_scanned_as_raw_bytes() -> None:
    key = make_key("live", 44)
    data = make_7z({"a.txt": noise(3000)})
    damaged = data[:len(data) - 20] + f"\nKEY={key}\n".encode()
    inspection = ENGINE.inspect(damaged)
    assert [(m.secret, m.encoding) for m in inspection.matches] == [(key, "plain")]
    ((note),) = inspection.notes
    assert note.message.startswith("damaged 7z archive (") and not note.limit


@pytest.mark.parametrize("stream", NEW_STREAMS)
def test_stream_bomb_stops_at_the_ratio_limit_and_what_follows_is_scanned(stream: str) -> None:
    key, other = make_key("test", 45), make_key("live", 46)
    bomb = STREAMS[stream](b"\0" * (8 * RATIO_FLOOR) + text_with(key))
    inspection = Engine(RULES, Limits(archive_ratio=100)).inspect(
        bomb + f"\nKEY={other}\n".encode())
    assert key not in [m.secret for m in inspection.matches if m.encoding != "plain"]
    assert (other, "plain") in [(m.secret, m.encoding) for m in inspection.matches]
    ((member, message, limit),) = [(n.member, n.message, n.limit) for n in inspection.notes]
    assert limit and member is None
    assert message.startswith(f"decompression stopped after {RATIO_FLOOR} bytes: an expansion "
                              "ratio above 100:1 (--max-archive-ratio)")
    assert inspection.expanded_bytes == RATIO_FLOOR


def test_7z_bomb_and_member_limits() -> None:
    key = make_key("live", 47)
    data = make_7z({"zeros": b"\0" * (16 << 20), "k.txt": text_with(key)})
    inspection = Engine(RULES, Limits(archive_bytes=4 << 20, archive_ratio=1 << 20)).inspect(data)
    assert inspection.matches == [] and inspection.expanded_bytes == 4 << 20
    ((member, message, limit),) = [(n.member, n.message, n.limit) for n in inspection.notes]
    assert member == "zeros" and limit
    assert message.startswith(f"decompression stopped after {4 << 20} bytes: the limit of ")
    many = make_7z({f"f{i:02}.txt": b"x\n" for i in range(20)} | {"z.txt": text_with(key)})
    inspection = Engine(RULES, Limits(archive_members=5)).inspect(many)
    assert inspection.matches == [] and inspection.members == 5
    assert [(n.message, n.limit) for n in inspection.notes] == [(
        "the remaining members not opened: the limit of 5 archive members per scanned file "
        "(--max-archive-members)", True)]


@pytest.mark.parametrize(("module", "data"), [
    ("py7zr", lambda: make_7z({"a.txt": b"x"})),
    ("backports.zstd", lambda: STREAMS["zstd"](b"x")),
])
def test_a_missing_decompressor_is_a_note_naming_its_package(
        monkeypatch: pytest.MonkeyPatch, module: str, data: Any) -> None:
    blob = data()
    key = make_key("test", 48)
    monkeypatch.setitem(sys.modules, module, None)
    monkeypatch.setitem(sys.modules, "compression.zstd", None)
    inspection = ENGINE.inspect(blob + f"\n{key}\n".encode())
    ((note),) = inspection.notes
    assert f"the {module} package cannot be imported" in note.message and not note.informational
    assert [(m.secret, m.encoding) for m in inspection.matches] == [(key, "plain")]


# --- MIME messages -------------------------------------------------------------------------


def test_mime_parts_are_members_named_by_their_file_names() -> None:
    key = make_key("live", 50)
    mail = make_eml("Hello,\nthe settings are attached.\n",
                    {"attachment.zip": make_zip({"config.env": text_with(key)}),
                     "notes.txt": text_with(key, 2)})
    assert found(mail) == [(key, "attachment.zip!config.env", "base64>zip", 3, 5),
                           (key, "notes.txt", "base64", 2, 5)]
    assert ENGINE.inspect(mail).notes == []
    # An mbox, or a message saved after other text: the same parts, each message's own.
    mbox = b"From ops Mon Jan  5 10:00:00 2026\n" + mail + b"\nFrom ops Mon Jan  5 11:00:00 2026\n"
    assert [f[:3] for f in found(b"saved message:\n\n" + mbox + mail)] == 2 * [
        (key, "attachment.zip!config.env", "base64>zip"), (key, "notes.txt", "base64")]


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
@pytest.mark.parametrize("cut", [1, 5, 8, 20])
def test_quoted_printable_body_with_a_soft_break_anywhere_in_the_key(cut: int,
                                                                    newline: str) -> None:
    key = make_key("test", 51)
    encoded = f"{key[:cut]}={newline}{key[cut:]}".replace("_", "=5F") if cut > 5 else (
        f"{key[:cut]}={newline}{key[cut:]}")
    headers = ("From: ops@example.com", "MIME-Version: 1.0",
               "Content-Type: text/plain; charset=utf-8",
               "Content-Transfer-Encoding: quoted-printable", "", f"line one=3D1{newline}KEY=3D")
    mail = (newline.join(headers) + encoded + newline).encode()
    assert found(mail) == [(key, "part 1 (text/plain)", "quoted-printable", 2, 5)]


def test_text_about_mime_headers_is_no_message() -> None:
    key = make_key("live", 54)
    text = f'HEADER = "Content-Transfer-Encoding: base64"\nKEY={key}\n'.encode()
    engine = Engine(RULES, Limits(archive_depth=1))
    for data in (text, make_zip({"mail.py": text})):
        inspection = engine.inspect(data)
        assert [m.encoding for m in inspection.matches] == ["plain" if data is text else "zip"]
        assert inspection.notes == [] and inspection.members == (data is not text)


def test_damaged_mime_part_is_a_note_and_scanned_as_far_as_it_decodes() -> None:
    key = make_key("live", 52)
    mail = make_eml("hi\n", {"a.txt": text_with(key, 1) + noise(3000)})
    body = mail.index(b"\n\n", mail.index(b"Content-Disposition")) + 2
    cut = next(mail[:at] for at in range(body + 400, body + 404)
               if len(mail[body:at].replace(b"\n", b"")) % 4 == 1)
    inspection = ENGINE.inspect(cut)
    assert ("a.txt", "base64") in [(m.member, m.encoding) for m in inspection.matches]
    ((note),) = inspection.notes
    assert (note.member, note.message) == ("a.txt", "damaged base64 part (truncated): scanned "
                                           "what decoded, and the part as it is")
    broken = mail[:body] + b"\x00\xff\x00" + mail[body:]
    inspection = ENGINE.inspect(broken)
    assert [n.message.split(":")[0] for n in inspection.notes] == [
        "damaged base64 part (characters outside base64)"]
    assert key in [m.secret for m in inspection.matches]


def test_mime_bomb_stops_at_the_limits() -> None:
    key = make_key("test", 53)
    bomb = make_zip({"zeros": b"\0" * (8 << 20), "k.txt": text_with(key)})
    mail = make_eml("hi\n", {"bomb.zip": bomb, **{f"{i}.txt": b"x" for i in range(5)}})
    inspection = Engine(RULES, Limits(archive_bytes=4 << 20)).inspect(mail)
    assert any(n.limit for n in inspection.notes) and inspection.expanded_bytes <= 4 << 20
    few = Engine(RULES, Limits(archive_members=3)).inspect(mail)
    assert few.notes[-1].message == ("the remaining MIME part members not opened: the limit of 3 "
                                     "archive members per scanned file (--max-archive-members)")
    assert few.members == 3


def test_a_key_in_the_padding_after_a_tar_member_is_found() -> None:
    # Tar readers pass over the padding that rounds a member's data up to 512 bytes: what is
    # hidden there was never scanned, nor said to be.
    key = make_key("live", 42)
    tar = bytearray(make_tar({"a.txt": b"hello\n", "b.txt": b"world\n"}))
    tar[512 + 6 + 100:512 + 6 + 100 + len(key)] = key.encode()
    assert [m.secret for m in ENGINE.scan(bytes(tar))] == [key]
    assert notes(bytes(tar)) == [("a.txt", "bytes other than zeros in the padding after the "
                                  "member's data: scanned as raw bytes", False)]


def test_a_tar_member_of_a_type_tar_does_not_know_is_scanned() -> None:
    # tar and tarfile read it as a regular file; it was passed over as a link or a directory.
    key = make_key("live", 43)
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as archive:
        info = tarfile.TarInfo("odd")
        content = f"k = '{key}'\n".encode()
        info.size, info.type = len(content), b"Z"
        archive.addfile(info, io.BytesIO(content))
    assert found(out.getvalue()) == [(key, "odd", "tar", 1, 6)]


def test_a_sparse_tar_member_is_expanded_within_the_limits() -> None:
    # A sparse member was read whole, holes and all: a few stored bytes can stand for any size
    # of zeros, and were expanded beyond any --max-archive-* limit.
    key = make_key("live", 44)
    stored = f"k = '{key}'\n".encode()
    size = 64 << 20
    small = make_sparse_tar("s.txt", stored, 100, 1000)
    assert found(small) == [(key, "s.txt", "tar", 1, 106)]
    assert notes(small) == []
    bomb = make_sparse_tar("s.txt", stored, size - 100, size)
    tracemalloc.start()
    try:
        inspection = ENGINE.inspect(bomb)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < size / 8
    assert [(m.secret, m.member) for m in inspection.matches] == [(key, None)]  # stored data
    assert [(n.member, n.message, n.limit) for n in inspection.notes] == [
        ("s.txt", f"sparse member expanded no further than {RATIO_FLOOR} bytes: an expansion "
         "ratio above 200:1 (--max-archive-ratio); its stored data scanned as raw bytes", True)]


def test_a_tar_member_is_a_view_of_the_tar_not_a_copy() -> None:
    # A tar member was a copy of its bytes: a tar.gz holding one 250 MiB file took 595 MiB (the
    # expanded tar and the member), and tars nested in tars held a copy per level. The key is at
    # the far end of the innermost member, so its text is searched, located and checked for the
    # allow marker there. Python's own allocations are traced, nothing is timed.
    size = 24 << 20
    key = make_key("live", 41)
    nested = b"x" * size + f"\nk = '{key}'\n".encode()
    for level in range(3):
        nested = make_tar({f"level{level}.tar" if level else "big.txt": nested})
    archive = gzip.compress(nested, 1)
    del nested
    engine = Engine(RULES, Limits(archive_ratio=1 << 20))  # the filler compresses well
    tracemalloc.start()
    try:
        got = found(archive, engine)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert got == [(key, "level2.tar!level1.tar!big.txt", "gzip>tar>tar>tar", 2, 6)]
    assert peak < 1.5 * size


# --- members' names ------------------------------------------------------------------------


def named(data: bytes, engine: Engine = ENGINE) -> list[tuple[str, str | None, str, int, int]]:
    """The keys found in members' names (``found``'s fields), placeholders left out."""
    return [(m.secret, m.member, m.encoding, m.line, m.column)
            for m in engine.scan(data) if m.in_name and not m.placeholder]


ARCHIVERS = {"zip": make_zip, "tar": make_tar, "7z": make_7z,
             "gzip>tar": lambda members: gzip.compress(make_tar(members))}


@pytest.mark.parametrize("layers", sorted(ARCHIVERS))
def test_keys_in_member_names_are_found_in_each_part_of_their_paths_once(layers: str) -> None:
    key, other = make_key("live", 60), make_key("test", 61)
    archive = ARCHIVERS[layers]({f"conf/dir-{key}/a.txt": b"clean\n",
                                 f"conf/dir-{key}/b.txt": b"clean\n",
                                 f"top-{other}.txt": b"clean\n"})
    assert sorted(named(archive)) == [(key, f"conf/dir-{key}/", layers, 1, 5),
                                      (other, f"top-{other}.txt", layers, 1, 5)]
    # Only the names: the members' content is clean.
    assert all(m.in_name for m in ENGINE.scan(archive))


def test_a_key_in_a_nested_member_name_is_at_its_member_path() -> None:
    key = make_key("live", 62)
    inner = gzip.compress(make_tar({f"cfg/{key}.env": b"clean\n"}))
    outer = make_zip({"dist/inner.tar.gz": inner, "readme.txt": text_with(key)})
    assert found(outer) == [(key, f"dist/inner.tar.gz!cfg/{key}.env", "zip>gzip>tar", 1, 1),
                            (key, "readme.txt", "zip", 3, 5)]
    assert [m.in_name for m in ENGINE.scan(outer)] == [True, False]


def test_member_names_go_through_the_decoders_and_placeholder_checks() -> None:
    key = make_key("live", 63)
    encoded = key.replace("_", "%5F")
    decoy = key[:-32] + "YourApiKeyGoesHereYourApiKeyGoes"
    archive = make_zip({f"{encoded}.txt": b"x", f"{decoy}.txt": b"x"})
    assert named(archive) == [(key, f"{encoded}.txt", "zip>percent", 1, 1)]
    assert [m.placeholder for m in ENGINE.scan(archive) if m.secret == decoy] == [True]


def test_a_member_read_in_part_is_named_once() -> None:
    key = make_key("live", 64)
    cut = make_tar({f"{key}.txt": noise(2000)})[:1200]  # a problem and a member, one name
    assert named(cut) == [(key, f"{key}.txt", "tar", 1, 1)]


def test_an_encrypted_member_is_named_though_not_read() -> None:
    key = make_key("live", 67)
    data = bytearray(make_zip({f"locked-{key}.txt": b"secret"}, zipfile.ZIP_STORED))
    data[data.index(b"PK\x03\x04") + 6] |= 1  # the "encrypted" flag, local and central
    data[data.index(b"PK\x01\x02") + 8] |= 1
    assert named(bytes(data)) == [(key, f"locked-{key}.txt", "zip", 1, 8)]
    assert notes(bytes(data)) == [(f"locked-{key}.txt", "encrypted member: cannot be scanned",
                                   False)]


def test_names_with_nothing_read_under_them_are_scanned() -> None:
    key = make_key("live", 68)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, kind in ((f"empty-{key}", tarfile.DIRTYPE), (f"link-{key}", tarfile.SYMTYPE)):
            info = tarfile.TarInfo(name)
            info.type, info.linkname = kind, "elsewhere"
            archive.addfile(info)
    assert named(buffer.getvalue()) == [(key, f"empty-{key}/", "tar", 1, 7),
                                        (key, f"link-{key}", "tar", 1, 6)]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.mkdir(f"empty-{key}")
    assert named(buffer.getvalue()) == [(key, f"empty-{key}/", "zip", 1, 7)]
    assert named(make_7z({f"void-{key}.txt": b""})) == [(key, f"void-{key}.txt", "7z", 1, 6)]


def test_members_a_limit_left_unopened_are_named() -> None:
    key = make_key("live", 69)
    archive = make_zip({"a.txt": b"clean\n", f"b-{key}.txt": b"clean\n"})
    engine = Engine(RULES, Limits(archive_members=1))
    assert named(archive, engine) == [(key, f"b-{key}.txt", "zip", 1, 3)]
    assert [limit for *_, limit in notes(archive, engine)] == [True]


def deep_name_tar(depth: int, end: str) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        archive.addfile(tarfile.TarInfo("a/" * depth + end))
    return buffer.getvalue()


def test_a_deep_member_name_costs_memory_linear_in_its_depth() -> None:
    # A needle but no key at the end of the path: each directory's path kept as text cost
    # the depth squared (a 317-byte tar.gz of 64,000 parts ran out of memory).
    needle = make_key("live", 70)[:8]
    peaks = []
    for depth in (4000, 16000):
        data = deep_name_tar(depth, "x" + needle)
        tracemalloc.start()
        try:
            assert ENGINE.inspect(data).matches == []
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
    assert peaks[1] < 6 * peaks[0], peaks  # 4 times the depth: 16 times the memory before


def test_a_key_at_the_end_of_a_deep_member_name_is_found_at_its_path() -> None:
    key = make_key("live", 71)
    path = "a/" * 3000 + f"cfg-{key}"
    assert named(deep_name_tar(3000, f"cfg-{key}")) == [(key, path, "tar", 1, 5)]


def test_keys_in_every_part_of_a_deep_member_name_stop_at_the_size_limit() -> None:
    key = make_key("live", 72)
    data = make_tar({f"{key}/" * 2000 + "x": b""})
    engine = Engine(RULES, Limits(archive_bytes=1 << 20))
    inspection = engine.inspect(data)
    # Paths of 41, 82, ... characters: as many as fit in 1 MiB.
    assert 200 < len(inspection.matches) < 300
    assert [(note.message.startswith("members' names not all scanned"), note.limit)
            for note in inspection.notes] == [(True, True)]


def test_a_mime_part_is_named_in_its_headers_scanned_as_text() -> None:
    key = make_key("live", 65)
    mail = make_eml("Hello\n", {f"{key}.txt": b"clean\n"})
    assert [m.in_name for m in ENGINE.scan(mail)] == [False]


# --- text in archives' headers -------------------------------------------------------------


def header_keys(data: bytes, engine: Engine = ENGINE) -> list[tuple[str, str | None, bool]]:
    """The keys found in ``data`` (placeholders left out): secret, member path, in a name."""
    return [(m.secret, m.member, m.in_name) for m in engine.scan(data) if not m.placeholder]


def tar_of(*infos: tuple[tarfile.TarInfo, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for info, data in infos:
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.mark.parametrize("kind", [tarfile.SYMTYPE, tarfile.LNKTYPE])
def test_a_links_target_in_a_tar_is_scanned_as_a_name(kind: bytes) -> None:
    key = make_key("live", 80)
    link = tarfile.TarInfo("link")
    link.type, link.linkname = kind, f"conf/{key}.env"  # a PAX record: longer than 100 bytes
    assert header_keys(tar_of((link, b""))) == [(key, f"conf/{key}.env", True)]
    link.linkname = key  # in the header itself
    assert header_keys(gzip.compress(tar_of((link, b"")))) == [(key, key, True)]


def test_pax_records_in_a_tar_are_scanned_as_text() -> None:
    comment, owner, group, global_record = (make_key("live", seed) for seed in range(81, 85))
    noted = tarfile.TarInfo("a.txt")
    noted.pax_headers = {"comment": f"deployed with {comment}", "uname": owner}
    short = tarfile.TarInfo("b.txt")
    short.gname = group[:31]  # the header's own field holds 32 bytes: no key fits, not scanned
    owned = tarfile.TarInfo("c.txt")
    owned.pax_headers = {"gname": group}  # a longer name: a PAX record
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT,
                      pax_headers={"note": global_record}) as archive:
        for info in (noted, short, owned):
            archive.addfile(info, io.BytesIO(b""))
    data = buffer.getvalue()
    assert sorted(header_keys(data)) == sorted([(comment, None, False), (owner, None, False),
                                                (group, None, False),
                                                (global_record, None, False)])
    # In the tar's chain: the tar's structure holds them (a purge strips the tar whole).
    assert {m.encoding for m in ENGINE.scan(gzip.compress(data))} == {"gzip>tar"}


def test_a_long_path_in_a_pax_record_is_found_once_as_a_name() -> None:
    key = make_key("live", 85)
    path = "d/" * 60 + f"{key}.txt"
    assert header_keys(tar_of((tarfile.TarInfo(path), b"clean"))) == [(key, path, True)]


def test_a_zip_members_comment_and_extra_fields_are_scanned_as_text() -> None:
    comment, extra, local_extra = (make_key("live", seed) for seed in (86, 87, 88))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        info = zipfile.ZipInfo("a.txt")
        info.comment = f"built by {comment}".encode()
        info.extra = struct.pack("<2H", 0xCAFE, 40) + extra.encode()
        archive.writestr(info, b"clean")
    data = bytearray(buffer.getvalue())
    # The local header's extra field: zipfile writes the central one's there; made distinct.
    at = data.index(extra.encode())
    data[at:at + 40] = local_extra.encode()
    assert sorted(header_keys(bytes(data))) == sorted([(comment, None, False),
                                                       (extra, None, False),
                                                       (local_extra, None, False)])


def test_a_zip_members_unicode_path_is_a_name_found_once() -> None:
    key = make_key("live", 93)
    name = f"conf/{key}.env".encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        info = zipfile.ZipInfo("conf/app.env")
        # The Unicode Path block (in the local header and the central directory): the name
        # zipfile reads from Python 3.12 on, in place of the header's own.
        info.extra = struct.pack("<2HBL", 0x7075, 5 + len(name), 1,
                                 zlib.crc32(b"conf/app.env")) + name + b"\x01\x02\x00\x00"
        archive.writestr(info, b"clean")
    assert header_keys(buffer.getvalue()) == [(key, f"conf/{key}.env", True)]


def test_a_zip_members_local_name_that_the_directory_contradicts_is_a_name() -> None:
    key = make_key("live", 89)
    data = bytearray(make_zip({key: b"hello"}, zipfile.ZIP_STORED))
    central = data.index(b"PK\x01\x02")
    data[central:] = data[central:].replace(key.encode(), b"Q" * len(key))
    assert header_keys(bytes(data)) == [(key, key, True)]
    assert [message.startswith("damaged member") for _, message, _ in notes(bytes(data))] == [
        True]


def test_a_gzip_streams_file_name_is_a_name_and_its_comment_and_extra_text() -> None:
    name, comment, extra = (make_key("live", seed) for seed in (90, 91, 92))
    body = gzip.compress(b"clean\n")
    header = (body[:3] + bytes([4 | 8 | 16]) + body[4:10] + struct.pack("<H", 41)
              + extra.encode() + b" " + f"{name}.txt".encode() + b"\0" + comment.encode() + b"\0")
    data = header + body[10:]
    assert gzip.decompress(data) == b"clean\n"
    assert sorted(header_keys(data)) == sorted([(name, f"{name}.txt", True),
                                                (comment, None, False), (extra, None, False)])
    # A second stream's header too; and a damaged stream's bytes are scanned once, as raw bytes.
    assert len(header_keys(gzip.compress(b"x") + data)) == 3
    damaged = header + b"\xff" * 20
    assert sorted(m.in_name for m in ENGINE.scan(damaged)) == [False, False, False]


def test_header_text_without_needles_costs_one_prefilter_pass() -> None:
    calls: list[int] = []
    engine = Engine(RULES)
    hits = engine.prefilter.hits

    def counted(data: Any) -> Any:
        calls.append(len(data))
        return hits(data)

    engine.prefilter.hits = counted  # type: ignore[method-assign]
    infos = []
    for index in range(200):
        info = tarfile.TarInfo(f"f{index}")
        info.pax_headers = {"comment": f"build {index}"}
        infos.append((info, b""))
    engine.inspect(tar_of(*infos))
    # One pass over the 200 names joined, one over the 200 comments joined, not one each (the
    # other calls are the empty members' content).
    assert len([size for size in calls if size]) == 2


# --- properties -----------------------------------------------------------------------------

@settings(max_examples=60)
@given(hidden=hidden_keys(contexts=("text",), min_containers=1, max_containers=3))
def test_key_in_nested_containers_is_found_once_with_path_and_chain(hidden: Hidden) -> None:
    assert_found_once(ENGINE, hidden)


@settings(max_examples=150)
@given(data=st.binary(max_size=3000), cut=st.integers(0, 3000))
def test_damaged_containers_never_crash(data: bytes, cut: int) -> None:
    for container in (*(compress(data) for compress in STREAMS.values()),
                      make_zip({"a": data, "b": data}), make_7z({"a": data, "b": data}),
                      make_tar({"a": data}), gzip.compress(make_tar({"a": data}))):
        damaged = container[:cut] + data[:64] + container[cut + 64:]
        inspection = ENGINE.inspect(damaged)
        assert all(note.message for note in inspection.notes)


# --- the command line -----------------------------------------------------------------------


def test_cli_reports_member_paths_notes_and_stats(tmp_path: Path, run_hvscan: Run) -> None:
    key = make_key("live", 23)
    (tmp_path / "dist").mkdir()
    (tmp_path / "dist" / "bundle.zip").write_bytes(
        make_zip({"conf/app.env": text_with(key, 2), "other.txt": b"x\n"}))
    (tmp_path / "logs.tar.gz").write_bytes(gzip.compress(make_tar({"a.log": b"fine\n"}))[:-8])
    done = run_hvscan("dir", ".", cwd=tmp_path)
    out = done.stdout.decode()
    assert done.returncode == 1, done.stderr
    assert "dist/bundle.zip!conf/app.env:2:5: hesedvid-live-key [high]" in out
    assert "encoded as zip" in out
    assert "note: logs.tar.gz: truncated gzip stream" in out
    assert "3 archive members opened" in out.splitlines()[-1]
    assert "1 note" in out.splitlines()[-1]
    assert key not in out

    report = json.loads(run_hvscan("dir", ".", "--format", "json", cwd=tmp_path).stdout)
    (finding,) = report["findings"]
    assert (finding["path"], finding["encoding"], finding["line"]) == (
        "dist/bundle.zip!conf/app.env", "zip", 2)
    assert report["stats"]["archive_members"] == 3
    assert report["stats"]["bytes_decompressed"] > 0
    assert (report["stats"]["notes"], report["stats"]["limits_hit"]) == (1, 0)
    (note,) = report["notes"]
    assert note["path"] == "logs.tar.gz" and note["source"] == "file" and not note["limit"]


def test_cli_reports_a_key_in_a_member_name_as_a_name(tmp_path: Path, run_hvscan: Run) -> None:
    key = make_key("live", 66)
    (tmp_path / "bundle.zip").write_bytes(make_zip({f"conf/{key}.txt": b"clean\n"}))
    done = run_hvscan("dir", ".", "--format", "json", "--show-secrets", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    (finding,) = json.loads(done.stdout)["findings"]
    path = f"bundle.zip!conf/{key}.txt"
    assert (finding["path"], finding["in_name"], finding["column"]) == (path, True, 1)
    assert finding["fingerprint"] == fingerprint(finding["rule_id"], path,
                                                 finding["secret_sha256"], True)
    assert finding["remediation"].startswith(f"The key is in the name of {path}")
    # Suppressed as every name is, by its fingerprint.
    (tmp_path / ".hvscanignore").write_text(finding["fingerprint"] + "\n")
    done = run_hvscan("dir", ".", "--format", "json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["stats"]["suppressed"] == 1


def test_cli_finds_keys_in_every_new_format_by_its_bytes(tmp_path: Path, run_hvscan: Run,
                                                          repo: GitRepo) -> None:
    key = make_key("test", 49)
    files = {f"dist/{name}.bin": compress(make_tar({"app.env": text_with(key, 2)}))
             for name, compress in STREAMS.items()} | {
             "dist/bundle.7z": make_7z({"conf/app.env": text_with(key, 2)})}
    for name, data in files.items():
        repo.write(name, data)
    report = json.loads(run_hvscan("dir", ".", "--format", "json", cwd=repo.path).stdout)
    assert sorted((f["path"], f["encoding"], f["line"], f["column"])
                  for f in report["findings"]) == sorted(
        [(f"dist/{name}.bin!app.env", f"{name}>tar", 2, 5) for name in STREAMS]
        + [("dist/bundle.7z!conf/app.env", "7z", 2, 5)])
    assert report["notes"] == []
    piped = run_hvscan("stdin", "--format", "json", input=files["dist/zstd.bin"])
    assert [f["encoding"] for f in json.loads(piped.stdout)["findings"]] == ["zstd>tar"]
    repo.add(".")
    staged = json.loads(run_hvscan("staged", "--format", "json", cwd=repo.path,
                                   env=repo.env).stdout)
    assert len(staged["findings"]) == len(files)
    repo.commit("bundles")
    history = json.loads(run_hvscan("git", "--format", "json", cwd=repo.path, env=repo.env).stdout)
    assert len(history["findings"]) == len(files)


def test_cli_limit_options(tmp_path: Path, run_hvscan: Run) -> None:
    key = make_key("test", 24)
    (tmp_path / "a.zip").write_bytes(make_zip({f"{i}.txt": b"x" for i in range(4)}
                                              | {"k.txt": text_with(key)}))
    done = run_hvscan("dir", str(tmp_path), "--format", "json", "--max-archive-members", "2")
    report = json.loads(done.stdout)
    assert done.returncode == 0, done.stderr
    assert report["stats"]["limits_hit"] == 1 and report["notes"][0]["limit"]
    assert "--max-archive-members" in report["notes"][0]["message"]
    assert run_hvscan("dir", str(tmp_path), "--max-archive-depth", "0").returncode == 0
    assert run_hvscan("dir", str(tmp_path)).returncode == 1
    bad = run_hvscan("dir", str(tmp_path), "--max-archive-size", "lots")
    assert bad.returncode == 2 and b"Traceback" not in bad.stderr


@pytest.mark.parametrize(("fmt", "expected"), [
    ("jsonl", '"type":"note","path":"logs.tar.gz!a.log.gz"'),
    ("sarif", '"text": "logs.tar.gz!a.log.gz: truncated gzip stream'),
    ("github", "::notice file=logs.tar.gz,title=hvscan could not look into all of this file::"
               "a.log.gz: truncated gzip stream"),
])
def test_notes_in_other_report_formats(
    tmp_path: Path, run_hvscan: Run, fmt: str, expected: str
) -> None:
    (tmp_path / "logs.tar.gz").write_bytes(gzip.compress(make_tar(
        {"a.log.gz": gzip.compress(b"fine\n" * 100)[:-8]})))
    done = run_hvscan("dir", ".", "--format", fmt, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert expected in done.stdout.decode()
