"""The console entry point, and the pre-commit hook's fast path.

As the entry point it owns what every run shares before any scanning: a closed standard error,
an interrupt (exit 130), and writing the report to standard output (``hvscan/streams.py``, which
the full command line uses too), all without importing more than this module.

``hvscan staged`` runs on every commit and nearly always finds nothing, so that answer must cost
little more than starting Python. Plain ``hvscan staged`` (no option, no argument) is first tried
here, without click, rules, engine or dataclasses: one ``git diff --cached --raw`` and one
``git cat-file --batch`` read the staged blobs, as the staged source does. The answer is given
here only when it is provably the full command's: every staged file is plain text under 1 MiB (so
there is no container or UTF-16/32 text for the engine to open or decode whole), none holds any
of the engine's prefilter needles (so the engine would match nothing), no staged path does
(the full scan scans the names along them too), and no configuration file
or ``HVSCAN_*`` variable could change what is looked for. Anything else (a needle, a binary or
large file, a submodule, an unmerged path, a git error) is scanned by the full scan with every
option at its default, as hvscan/commands/staged.py runs it, only without click: a commit with a
key is blocked at little more than the scan's cost. A configuration goes to the full command
line, which reads it. The tests check that ``NEEDLES`` are the engine's (hvscan/needles.py
writes them), that what the engine scans whole is never plain text here, and that both paths
print the same report (tests/test_fastpath_differential.py on generated trees).

``hvscan dir [--hook] FILE...`` (the ``hvscan`` pre-commit hook, which passes the changed
files' names) is tried here the same way when every argument is a regular file, not a symbolic
link, and outside /proc, /sys and /dev: each file is read once (as the walker does, however many
names it has), and the answer is given here only under the same conditions (the arguments
holding no needle: the walker scans the names along them). Whether a link may
be followed, or a system file is skipped, the walker decides (hvscan/sources/files.py). An
argument starting with '-' (an option, or in ``--hook`` mode perhaps a file's name) goes to the
full command line, which decides what it is.

``hvscan dir [--hook] [DIR...]`` without options (a CI job's scan of its checkout) runs here too
when no configuration could apply: it is then the scan the full command line would run with
every option at its default, and ``runner.py`` runs it, as it does for the command line, only
without click (about a third of the full command line's start-up). Whatever the tree holds, the
report and the exit code are the full command's. Any option goes to the full command line.
"""

from __future__ import annotations

import os
import stat
import sys

# What the full scan looks for, encoded forms included: computed from the engine by
# hvscan/needles.py (tests/test_needles.py checks that they are the engine's).
from hvscan._needles import NEEDLES, RUNS
from hvscan.buffers import runs
from hvscan.gitformat import STAGED_DIFF, batch_objects, raw_entries
from hvscan.settings.discovery import configuration_may_apply, start_dir
from hvscan.streams import hold_closed_streams, write_stdout
from hvscan.summary import clean
from hvscan.units import parse_size

# The full scan searches larger blobs in one Hyperscan pass; here each needle is one pass.
_LARGE_BLOB = 1 << 20
# Modes of blobs whose content is what gets committed: files, executables, symbolic links.
_BLOB_MODES = ("100644", "100755", "120000")
# Control characters that no plain text holds (tab, line breaks, form feed and escape are fine).
# What the engine scans in full without a needle (a container, a UTF-16/32 text) has one of them,
# or invalid UTF-8, in its first bytes.
_BINARY = bytes([*range(0x00, 0x09), *range(0x0E, 0x1B), *range(0x1C, 0x20), 0x7F])
# hvscan.sources.files.SYSTEM_DIRS (tests/test_fastpath.py checks): never read here either.
SYSTEM_DIRS = ("/proc", "/sys", "/dev")


def main() -> None:
    hold_closed_streams()
    try:
        _fast_or_full(sys.argv[1:])
    except KeyboardInterrupt:  # on the fast path; the full command line has its own guard
        from hvscan.runner import interrupted

        interrupted()


def _fast_or_full(args: list[str]) -> None:
    report = None
    if args in (["staged"], ["git", "--staged"]):
        if not configuration_may_apply(start_dir(".")):  # else: the full command line reads it
            staged = read_staged(".")
            report = _clean_staged_report(staged) if staged is not None else None
            if report is None:
                scan_staged_with_defaults(".", staged)
    elif args[:1] == ["dir"] and not any(a.startswith("-") for a in _dir_operands(args)):
        paths = _dir_operands(args) or ["."]
        if all(os.path.isfile(path) for path in paths):
            report = clean_files_report(paths)
        elif all(paths) and not configuration_may_apply(start_dir(paths[0])):
            scan_with_defaults(paths)
    if report is not None:
        write_stdout(report)
        sys.exit(0)
    from hvscan.cli import main as full_main

    full_main()


def _dir_operands(args: list[str]) -> list[str]:
    """The arguments after ``dir`` (and after ``--hook``, which changes nothing when none of
    them starts with '-')."""
    return args[2:] if args[1:2] == ["--hook"] else args[1:]


def clean_staged_report(repo: str) -> str | None:
    """The text report of ``hvscan staged`` when the staged change provably holds nothing to
    report, or None when the full scan must decide."""
    if configuration_may_apply(start_dir(repo)):
        return None
    staged = read_staged(repo)
    return None if staged is None else _clean_staged_report(staged)


# What the fast path read of a staged change: git's raw listing, and the staged blob of each
# added or changed file (by id) in the listing's order.
Staged = tuple[bytes, list[str], dict[str, bytes]]


def read_staged(repo: str) -> Staged | None:
    """The staged change as ``git diff --cached --raw`` lists it and one ``git cat-file
    --batch`` gives its blobs, or None for anything the fast path does not read (an unmerged
    path, a submodule, a git error, output it does not expect)."""
    listing = _git(repo, *STAGED_DIFF)
    ids = _staged_blob_ids(listing) if listing is not None else None
    if listing is None or ids is None:
        return None
    blobs: dict[str, bytes] = {}
    if ids:
        # One cat-file answered whole, not gitcmd.CatFile's stream (its module costs this path
        # threading, tempfile and pathlib), read with the same header parser.
        output = _git(repo, "cat-file", "--batch",
                      input=b"".join(i.encode("ascii") + b"\n" for i in ids))
        if output is None:
            return None
        try:
            objects = batch_objects(output, len(ids))
        except ValueError:
            return None
        for object_id, found in zip(ids, objects, strict=True):
            if found is None or found[0] != "blob":
                return None
            blobs[object_id] = found[1]
    return listing, ids, blobs


def _clean_staged_report(staged: Staged) -> str | None:
    listing, ids, blobs = staged
    if not all(map(_provably_clean, blobs.values())):
        return None
    if not _names_clean([entry[5] for entry in raw_entries(listing) if entry[0] != "D"]):
        return None
    return clean(len(ids), sum(len(blobs[i]) for i in ids)) + "\n"


def clean_files_report(paths: list[str]) -> str | None:
    """The text report of ``hvscan dir PATH...`` when every path is a regular file that provably
    holds nothing to report, or None when the full scan must decide."""
    if configuration_may_apply(start_dir(paths[0])) or not _names_clean(
            [os.fsencode(path) for path in paths]):
        return None
    seen: set[tuple[int, int]] = set()
    total = 0
    for path in paths:
        real = os.path.realpath(path)
        if os.path.islink(path) or any(real == top or real.startswith(top + "/")
                                       for top in SYSTEM_DIRS):
            return None
        try:
            info = os.stat(path)
            if not stat.S_ISREG(info.st_mode) or info.st_size >= _LARGE_BLOB:
                return None
            if (info.st_dev, info.st_ino) in seen:
                continue
            seen.add((info.st_dev, info.st_ino))
            with open(path, "rb") as handle:
                data = handle.read(_LARGE_BLOB)
        except OSError:
            return None
        if not _provably_clean(data):
            return None
        total += len(data)
    return clean(len(seen), total) + "\n"


def scan_staged_with_defaults(repo: str, staged: Staged | None) -> None:
    """``hvscan staged`` with every option at its default, as hvscan/commands/staged.py runs
    it, from what the fast path read (``staged``, unless None); exits with its exit code. For
    a change with a match, this is the commit being blocked: no click, no option parsing, and
    no second listing or reading of the staged blobs."""
    from hvscan import runner
    from hvscan.commands.common import git_errors_as_one_line
    from hvscan.commands.staged import staged_change

    produce = staged_change(repo, staged)
    runner.guarded(lambda: git_errors_as_one_line(
        lambda: runner.scan_and_report(produce, command="staged")))


def scan_with_defaults(paths: list[str]) -> None:
    """``hvscan dir PATH...`` with every option at its default; exits with its exit code."""
    from hvscan import runner
    from hvscan.sources.files import DEFAULT_MAX_FILE_SIZE

    max_file_size = parse_size(DEFAULT_MAX_FILE_SIZE)
    assert max_file_size is not None
    produce = runner.walker([os.fsencode(path) for path in paths], max_file_size)
    runner.guarded(lambda: runner.scan_and_report(produce, command="dir"))


def _staged_blob_ids(listing: bytes) -> list[str] | None:
    """The staged blob of each added or changed file, or None for anything the fast path does
    not decide (an unmerged path, a submodule, output it does not expect)."""
    try:
        entries = raw_entries(listing)
    except ValueError:
        return None
    ids: list[str] = []
    for status, _old_modes, new_mode, _old_ids, new_id, _path, _old_paths in entries:
        if status == "D":
            continue
        if status not in ("A", "M", "R", "T") or new_mode not in _BLOB_MODES:
            return None
        ids.append(new_id)
    return ids


def _provably_clean(data: bytes) -> bool:
    """Whether the full scan provably finds nothing in ``data``: small plain text holding none
    of the engine's needles (see the module's docstring)."""
    return (len(data) < _LARGE_BLOB and _plain_text(data)
            and not any(needle in data for needle in NEEDLES)
            and not any(next(runs(data, chars, length), None) for chars, length in RUNS))


def _names_clean(paths: list[bytes]) -> bool:
    """Whether the full scan provably finds nothing in the names along ``paths``: none holds a
    needle (joined by NUL, which no path holds: a needle across two paths only sends the
    change to the full scan, which looks at each name alone)."""
    joined = b"\0".join(paths)
    return (not any(needle in joined for needle in NEEDLES)
            and not any(next(runs(joined, chars, length), None) for chars, length in RUNS))


def _plain_text(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return not any(byte in data for byte in _BINARY)


def _git(repo: str, *args: str, input: bytes | None = None) -> bytes | None:
    from hvscan import gitenv

    try:
        done = gitenv.run_git(repo, *args, input=input)
    except OSError:
        return None
    return done.stdout if done.returncode == 0 else None
