"""The file-system source: walking, skipping and reporting what cannot be read."""

from __future__ import annotations

import errno
import json
import os
import socket
import stat
from collections.abc import Callable, Iterable
from io import FileIO
from pathlib import Path
from typing import Any

import pytest
from hvscan_run import Run
from keygen import key_sha256, make_key

from hvscan.findings import redact
from hvscan.model import Origin
from hvscan.sources import Blob, Failed, Names, Skipped, files, readahead
from hvscan.sources.files import walk


def events(*roots: bytes | str, max_size: int = 1 << 30, follow: bool = False) -> list[object]:
    return contents(walk([os.fsencode(r) for r in roots], max_size, follow_symlinks=follow))


def contents(evts: Iterable[object]) -> list[object]:
    """The events about contents: not the names (tested on their own below)."""
    return [e for e in evts if not isinstance(e, Names)]


def skipped(evts: list[object]) -> dict[str, str]:
    return {e.path: e.reason for e in evts if isinstance(e, Skipped)}


def blobs(evts: list[object]) -> dict[str, bytes]:
    return {e.origin.path: e.data for e in evts if isinstance(e, Blob)}  # type: ignore[union-attr]


def test_walks_sorted_and_skips_git_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "x.txt").write_bytes(b"x")
    (tmp_path / "a.txt").write_bytes(b"a")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "config").write_bytes(b"secret")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / ".git").write_bytes(b"gitdir: elsewhere")
    monkeypatch.chdir(tmp_path)
    assert list(blobs(events("."))) == ["a.txt", "b/x.txt"]
    assert list(blobs(events("b"))) == ["b/x.txt"]
    assert list(blobs(events("b/x.txt"))) == ["b/x.txt"]
    assert list(blobs(events(str(tmp_path)))) == ["a.txt", "b/x.txt"]


def test_symlink_loops_end_and_duplicates_are_read_once(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f.txt").write_bytes(b"f")
    (tmp_path / "d" / "loop").symlink_to(tmp_path)
    (tmp_path / "link.txt").symlink_to(tmp_path / "d" / "f.txt")
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    evts = events(str(tmp_path))
    assert list(blobs(evts).values()) == [b"f"]
    assert Skipped("dangling", "broken symbolic link", informational=True) in evts


def test_fifo_and_socket_are_skipped_with_a_note(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(tmp_path / "sock"))
    try:
        evts = events(str(tmp_path))
    finally:
        sock.close()
    reasons = {e.path: e.reason for e in evts if isinstance(e, Skipped)}
    assert reasons == {"pipe": "not a regular file (FIFO)", "sock": "not a regular file (socket)"}


@pytest.mark.skipif(os.geteuid() != 0, reason="only root makes device nodes")
def test_device_is_skipped(tmp_path: Path) -> None:
    os.mknod(tmp_path / "null", 0o600 | stat.S_IFCHR, os.makedev(1, 3))
    assert skipped(events(str(tmp_path))) == {"null": "not a regular file (device)"}


SYSTEM = "which hvscan never reads (/proc, /sys and /dev)"


@pytest.mark.parametrize("path", ["/dev/null", "/proc/kmsg", "/proc/self/", "/sys", "/proc"])
def test_proc_sys_and_dev_are_never_read_even_named(path: str) -> None:
    # /proc/kmsg blocks a reader forever; /proc/self/ leads to / through a link (issue 11, #7).
    shown = path.rstrip("/")
    assert events(path, follow=True) == [Skipped(shown, f"in {path[:5].rstrip('/')}, {SYSTEM}")]


def test_links_into_proc_are_never_followed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            ) -> None:
    (tmp_path / "environ").symlink_to("/proc/self/environ")
    (tmp_path / "dev").symlink_to("/dev")
    monkeypatch.chdir(tmp_path)
    for follow in (False, True):
        reasons = skipped(events(".", "environ", follow=follow))
        assert reasons["environ"] == f"in /proc, {SYSTEM}"
        assert reasons["dev"] == f"in /dev, {SYSTEM}"
    (tmp_path / "root").symlink_to("/")
    # Followed on request, a link to / shows the system directories as notes, never their
    # files (the rest of / is excluded here, not to walk it all).
    wanted = ("root/", "root/proc/", "root/sys/", "root/dev/")
    evts = contents(walk([b"root"], 1 << 30, lambda path: path not in wanted,
                         follow_symlinks=True))
    assert evts == [Skipped(f"root/{d}", f"in /{d}, {SYSTEM}") for d in ("dev", "proc", "sys")]


def test_links_leaving_the_scanned_directories_are_skipped_with_a_note(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(b"outside")
    tree = tmp_path / "tree"
    (tree / "d").mkdir(parents=True)
    (tree / "d" / "in.txt").write_bytes(b"inside")
    (tree / "to-file").symlink_to(outside / "secret.txt")
    (tree / "to-dir").symlink_to(outside)
    (tree / "inner").symlink_to("d/in.txt")
    monkeypatch.chdir(tree)
    evts = events(".")
    assert blobs(evts) == {"d/in.txt": b"inside"}  # the inner link is the same file
    note = files.LINK_OUTSIDE
    assert skipped(evts) == {"to-dir": note, "to-file": note}
    assert blobs(events(".", follow=True)) == {"d/in.txt": b"inside", "to-dir/secret.txt":
                                               b"outside"}
    # A named directory is a root wherever it is; the current directory one for named files.
    assert blobs(events(str(outside))) == {"secret.txt": b"outside"}
    assert blobs(events("inner")) == {"inner": b"inside"}
    assert skipped(events("to-file", "to-dir")) == {"to-file": note, "to-dir": note}
    # A named file that is no link is read, whatever links lead to its directory (/tmp on macOS).
    assert blobs(events("to-dir/secret.txt")) == {"to-dir/secret.txt": b"outside"}
    monkeypatch.chdir(tmp_path)
    assert blobs(events("tree/to-dir")) == {"tree/to-dir/secret.txt": b"outside"}


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read anything")
def test_unreadable_file_is_an_error(tmp_path: Path) -> None:
    target = tmp_path / "locked.txt"
    target.write_bytes(b"x")
    target.chmod(0)
    assert any(isinstance(e, Failed) for e in events(str(tmp_path)))


def test_read_error_is_reported_and_the_walk_goes_on(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "bad.txt").write_bytes(b"bad")
    (tmp_path / "ok.txt").write_bytes(b"ok")
    opened = readahead.open_regular

    def failing(path: bytes) -> FileIO:
        if path.endswith(b"bad.txt"):
            raise OSError(errno.EIO, "Input/output error")
        return opened(path)

    monkeypatch.setattr(readahead, "open_regular", failing)
    evts = events(str(tmp_path / "bad.txt"), str(tmp_path / "ok.txt"))
    # Two absolute roots outside the current directory: each shown whole.
    assert evts[0] == Failed(str(tmp_path / "bad.txt"), "Input/output error")
    assert isinstance(evts[1], Blob) and evts[1].data == b"ok"


def test_a_file_turned_into_a_fifo_is_not_waited_for(tmp_path: Path) -> None:
    # Found regular, then replaced by a FIFO with no writer: opening must not block.
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(OSError, match="no longer a regular file"):
        readahead.open_regular(os.fsencode(tmp_path / "fifo"))


def test_missing_path_is_an_error(tmp_path: Path) -> None:
    (event,) = events(str(tmp_path / "missing"))
    assert isinstance(event, Failed)


def test_oversized_file_is_listed(tmp_path: Path) -> None:
    (tmp_path / "big.bin").write_bytes(b"x" * 100)
    (tmp_path / "small.txt").write_bytes(b"x")
    evts = events(str(tmp_path), max_size=10)
    assert list(blobs(evts)) == ["small.txt"]
    (skip,) = [e for e in evts if isinstance(e, Skipped)]
    assert skip.path == "big.bin" and "max-file-size" in skip.reason


def test_undecodable_file_names(tmp_path: Path) -> None:
    raw = os.fsencode(tmp_path) + b"/caf\xe9\n.txt"
    with open(raw, "wb") as handle:
        handle.write(b"data")
    assert blobs(events(str(tmp_path))) == {"caf\\xe9\n.txt": b"data"}


def test_relative_roots_are_normalised(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Reported paths feed fingerprints: "./b", "b/" and "b" must give the same ones.
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "x.txt").write_bytes(b"x")
    monkeypatch.chdir(tmp_path)
    for root in ("./b", "b/", "b//", "./b/../b"):
        assert list(blobs(events(root))) == ["b/x.txt"], root
    assert list(blobs(events("./b/x.txt"))) == ["b/x.txt"]


def test_excluded_paths_are_not_read_and_directories_not_entered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "keep").mkdir()
    (tmp_path / "keep" / "a.txt").write_bytes(b"a")
    (tmp_path / "keep" / "a.log").write_bytes(b"log")
    (tmp_path / "skip").mkdir()
    (tmp_path / "skip" / "inner.txt").write_bytes(b"i")
    monkeypatch.chdir(tmp_path)
    asked: list[str] = []

    def excluded(path: str) -> bool:
        asked.append(path)
        return path == "skip/" or path.endswith(".log")

    found = contents(walk([b"."], 1 << 30, excluded))
    assert list(blobs(found)) == ["keep/a.txt"]
    assert asked == ["keep/", "keep/a.log", "keep/a.txt", "skip/"]  # skip/ never listed
    assert contents(walk([b"skip"], 1 << 30, excluded)) == []
    assert contents(walk([b"keep/a.log"], 1 << 30, excluded)) == []
    # The scan root itself, "." or absolute, has no reported path to match.
    assert list(blobs(walk([os.fsencode(tmp_path / "skip")], 1 << 30, excluded))) == [
        "inner.txt"]


def test_different_files_never_share_a_reported_path(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    top = tmp_path.resolve()
    for part in ("a/x", "b/y", "here/sub"):
        (top / part).mkdir(parents=True)
        (top / part / "config.py").write_bytes(part.encode())
    monkeypatch.chdir(top / "here")
    a, b = top / "a/x/config.py", top / "b/y/config.py"
    # Alone, an absolute root keeps its paths: a file shows its name, a directory's files are
    # relative to it.
    assert list(blobs(events(str(a)))) == ["config.py"]
    assert list(blobs(events(str(top / "a")))) == ["x/config.py"]
    # Among several, absolute roots outside the current directory are shown whole, those below
    # it relative to it.
    assert blobs(events(str(a), str(b))) == {str(a): b"a/x", str(b): b"b/y"}
    assert list(blobs(events(str(top / "a"), str(top / "b")))) == [str(a), str(b)]
    assert list(blobs(events(str(top / "here"), str(a)))) == ["sub/config.py", str(a)]
    assert list(blobs(events(".", str(top / "here/sub")))) == ["sub/config.py"]  # read once


def test_the_command_line_tells_same_named_files_apart(
        tmp_path: Path, key: Callable[..., str], run_hvscan: Run) -> None:
    top = tmp_path.resolve()
    for part in ("a/x", "b/y"):
        (top / part).mkdir(parents=True)
        (top / part / "config.py").write_text(f"k={key('live', part)}\n")
    done = run_hvscan("dir", "--format", "json", top / "a/x/config.py", top / "b/y/config.py",
                      cwd=top / "a")
    paths = [f["path"] for f in json.loads(done.stdout)["findings"]]
    assert paths == ["x/config.py", str(top / "b/y/config.py")]


def dir_report(run_hvscan: Run, cwd: Path, *args: str) -> tuple[int, dict[str, Any]]:
    done = run_hvscan("dir", *args, "--format", "json", cwd=cwd)
    return done.returncode, json.loads(done.stdout)


def named_findings(report: dict[str, Any], key: str = "findings") -> list[tuple[str, int, str]]:
    return [(f["path"], f["column"], f["secret_sha256"]) for f in report[key]
            if f.get("in_name")]


def test_keys_in_file_and_directory_names_are_found_once(tmp_path: Path,
                                                         run_hvscan: Run) -> None:
    key, other = make_key("live", 40), make_key("test", 41)
    # Names are bytes: a newline and bytes that are not UTF-8 around the key.
    (tmp_path / f"config-{key}.txt").write_text("clean\n")
    directory = tmp_path / "sub" / f"dir-{other}"
    directory.mkdir(parents=True)
    for name in ("a.txt", "b.txt"):  # two files below it: the directory's name is one finding
        (directory / name).write_text("clean\n")
    (tmp_path / os.fsdecode(b"odd\n\xff" + key.encode() + b"-")).write_text("clean\n")
    code, report = dir_report(run_hvscan, tmp_path, ".")
    assert code == 1
    assert named_findings(report) == [
        (f"config-{redacted(key)}.txt", 8, key_sha256(key)),
        (f"odd\\x0a\\xff{redacted(key)}-", 2, key_sha256(key)),
        (f"sub/dir-{redacted(other)}/", 5, key_sha256(other)),
    ]
    assert all(f["in_name"] for f in report["findings"]) and len(report["findings"]) == 3
    assert report["findings"][1]["line"] == 2  # the newline in the name starts its second line
    assert report["stats"]["files_scanned"] == 4  # names are no files



@pytest.mark.parametrize("order", [0, 1])
def test_a_name_two_roots_pass_is_found_once(tmp_path: Path, run_hvscan: Run,
                                             order: int) -> None:
    # The walk of "." lists sub/, whose entry dir-KEY is also on the other root's path.
    key = make_key("live", 43)
    (tmp_path / "sub" / f"dir-{key}" / "deeper").mkdir(parents=True)
    (tmp_path / "sub" / f"dir-{key}" / "deeper" / "a.txt").write_text("clean\n")
    roots = [".", f"sub/dir-{key}/deeper/a.txt"]
    code, report = dir_report(run_hvscan, tmp_path, *roots[order:], *roots[:order])
    assert code == 1 and named_findings(report) == [
        (f"sub/dir-{redacted(key)}/", 5, key_sha256(key))]

def test_a_named_files_path_and_its_directories_are_scanned(tmp_path: Path,
                                                            run_hvscan: Run) -> None:
    # The pre-commit hook names the changed files: their directories' names are committed too.
    key = make_key("live", 42)
    (tmp_path / f"d-{key}").mkdir()
    (tmp_path / f"d-{key}" / "a.py").write_text("clean\n")
    (tmp_path / f"d-{key}" / "b.py").write_text("clean\n")
    code, report = dir_report(run_hvscan, tmp_path, "--hook", f"d-{key}/a.py", f"d-{key}/b.py")
    assert code == 1 and named_findings(report) == [(f"d-{redacted(key)}/", 3, key_sha256(key))]


def test_keys_in_names_are_suppressed_and_excluded_as_content_findings(
        tmp_path: Path, run_hvscan: Run) -> None:
    key, other = make_key("live", 43), make_key("live", 44)
    (tmp_path / f"a-{key}.txt").write_text("clean\n")
    (tmp_path / f"b-{other}.txt").write_text(f"{other}\n")  # also in its content
    (tmp_path / "skip").mkdir()
    (tmp_path / "skip" / f"c-{other}").write_text("clean\n")
    _, report = dir_report(run_hvscan, tmp_path, ".", "--exclude", "skip/")
    content = [f for f in report["findings"] if not f.get("in_name")]
    assert len(named_findings(report)) == 2 and len(content) == 1
    name_print = next(f["fingerprint"] for f in report["findings"]
                      if f.get("in_name") and f["secret_sha256"] == key_sha256(other))
    assert name_print != content[0]["fingerprint"]  # the name and the content: two findings
    (tmp_path / "skip" / f"c-{other}").unlink()
    # The ignore file by fingerprint: only the name's finding of that key.
    (tmp_path / "ignore").write_text(f"{name_print}\n{key_sha256(key)}\n")
    _, report = dir_report(run_hvscan, tmp_path, ".", "--ignore-file", "ignore",
                           "--show-suppressed", "--exclude", "ignore")
    assert [f.get("in_name", False) for f in report["findings"]] == [False]
    assert sorted(f["suppression"] for f in report["suppressed"]) == ["ignore-file"] * 2
    # A baseline records name findings as it records the others, and they are accepted.
    done = run_hvscan("baseline", ".", "--output", "base.json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    code, report = dir_report(run_hvscan, tmp_path, ".", "--baseline", "base.json")
    assert code == 0 and report["findings"] == [] and report["stats"]["suppressed"] == 3


def redacted(key: str) -> str:
    return redact(key, key[-32:])


def test_a_directorys_names_are_one_event(tmp_path: Path) -> None:
    for name in ("plain.txt", "hv_notes.md"):
        (tmp_path / name).write_text("clean\n")
    (names,) = [e for e in walk([os.fsencode(tmp_path)], 1 << 30) if isinstance(e, Names)]
    assert names.names == [b"hv_notes.md", b"plain.txt"]
    assert names.blob(0).origin == Origin("file", "hv_notes.md", in_name=True)
    assert names.blob(0).file is False
