"""The console entry point, and the pre-commit hook's fast path.

As the entry point it owns what every run shares before any scanning: a closed standard error,
an interrupt (exit 130), and writing the report to standard output (``write_stdout``, which the
full command line uses too), all without importing more than this module.

``hvscan staged`` runs on every commit and nearly always finds nothing, so that answer must cost
little more than starting Python. Plain ``hvscan staged`` (no option, no argument) is first tried
here, without click, rules, engine or dataclasses: one ``git diff --cached --raw`` and one
``git cat-file --batch`` read the staged blobs, as the staged source does. The answer is given
here only when it is provably the full command's: every staged file is plain text under 1 MiB (so
there is no container or UTF-16/32 text for the engine to open or decode whole), none holds any
of the engine's prefilter needles (so the engine would match nothing), and no configuration file
or ``HVSCAN_*`` variable could change what is looked for. Anything else (a needle, a binary or
large file, a submodule, an unmerged path, a git error, a configuration) goes to the full command
line, which decides and reports. The tests check that ``NEEDLES`` are the engine's, that what the
engine scans whole is never plain text here, and that both paths print the same report.

``hvscan dir [--hook] FILE...`` (the ``hvscan`` pre-commit hook, which passes the changed
files' names) is tried here the same way when every argument is a regular file, not a symbolic
link, and outside /proc, /sys and /dev: each file is read once (as the walker does, however many
names it has), and the answer is given here only under the same conditions. Whether a link may
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

from hvscan.units import counted, format_size, parse_size

# Engine(load_builtin_rules()).prefilter.needles: what the full scan looks for, encoded forms
# included. tests/test_fastpath.py fails, printing the new value, when rules or decoders change it.
NEEDLES = (
    b"hv_live_", b"hv_test_",
    b"aHZfbGl2ZV", b"aHZfdGVzdF", b"h2X2xpdmVf", b"h2X3Rlc3Rf", b"odl9saXZlX", b"odl90ZXN0X",
    b"aAB2AF8AbABpAHYAZQBf", b"aAB2AF8AdABlAHMAdABf", b"gAdgBfAGwAaQB2AGUAX",
    b"gAdgBfAHQAZQBzAHQAX", b"oAHYAXwBsAGkAdgBlAF", b"oAHYAXwB0AGUAcwB0AF",
    b"h\x00v\x00_\x00l\x00i\x00v\x00e\x00_", b"h\x00v\x00_\x00t\x00e\x00s\x00t\x00_",
    b"h\x00\x00\x00v\x00\x00\x00_\x00\x00\x00l\x00\x00\x00i\x00\x00\x00v\x00\x00\x00e\x00\x00\x00_",
    b"h\x00\x00\x00v\x00\x00\x00_\x00\x00\x00t\x00\x00\x00e\x00\x00\x00s\x00\x00\x00t\x00\x00\x00_",
    b"%68%76%5", b"hv%5", b"\\x68\\x76\\x5", b"hv\\x5", b"\\u0068\\u0076\\u005", b"hv\\u005",
    b"hv=5", b"RANSFER-ENCODING", b"ransfer-Encoding", b"ransfer-encoding",
    b"9kbDkwWlhOMF", b"9kbDlzYVhabF", b"FIWmZiR2wyWl", b"FIWmZkR1Z6ZE", b"JTY4JTc2JT",
    b"U2OCU3NiU1", b"YUhaZmJHbDJaV", b"YUhaZmRHVnpkR", b"aDJYM1JsYzNSZ", b"aDJYMnhwZG1WZ",
    b"aHYlN", b"b2RsOTBaWE4wW", b"b2RsOXNhWFpsW", b"gyWDJ4cGRtVm", b"gyWDNSbGMzUm", b"h2JT",
    b"hSFpmYkdsMlpW", b"hSFpmZEdWemRG", b"lNjglNzYlN", b"oMlgyeHBkbVZm", b"oMlgzUmxjM1Jm",
    b"odiU1", b"vZGw5MFpYTjBY", b"vZGw5c2FYWmxY",
    b"&#104;&#118;&#95;&#108;&#105;&#118;&#101;&#95;",
    b"&#104;&#118;&#95;&#116;&#101;&#115;&#116;&#95;",
    b"&#x68;&#x76;&#x5", b"hv&#95;live&#95;", b"hv&#95;test&#95;", b"hv&#x5",
    b"hv&lowbar;live&lowbar;", b"hv&lowbar;test&lowbar;",
)
# The full scan searches larger blobs in one Hyperscan pass; here each needle is one pass.
_LARGE_BLOB = 1 << 20
# Modes of blobs whose content is what gets committed: files, executables, symbolic links.
_BLOB_MODES = (b"100644", b"100755", b"120000")
# Control characters that no plain text holds (tab, line breaks, form feed and escape are fine).
# What the engine scans in full without a needle (a container, a UTF-16/32 text) has one of them,
# or invalid UTF-8, in its first bytes.
_BINARY = bytes([*range(0x00, 0x09), *range(0x0E, 0x1B), *range(0x1C, 0x20), 0x7F])
# hvscan.sources.files.SYSTEM_DIRS (tests/test_fastpath.py checks): never read here either.
SYSTEM_DIRS = ("/proc", "/sys", "/dev")


def main() -> None:
    _hold_closed_streams()
    try:
        _fast_or_full(sys.argv[1:])
    except KeyboardInterrupt:  # on the fast path; the full command line has its own guard
        from hvscan.runner import interrupted

        interrupted()


def _fast_or_full(args: list[str]) -> None:
    report = None
    if args in (["staged"], ["git", "--staged"]):
        report = clean_staged_report(".")
    elif args[:1] == ["dir"] and not any(a.startswith("-") for a in _dir_operands(args)):
        paths = _dir_operands(args) or ["."]
        if all(os.path.isfile(path) for path in paths):
            report = clean_files_report(paths)
        elif all(paths) and not _configuration_may_apply(_configuration_start(paths[0])):
            scan_with_defaults(paths)
    if report is not None:
        write_stdout(report)
        sys.exit(0)
    from hvscan.cli import main as full_main

    full_main()


def _hold_closed_streams() -> None:
    """Python makes a standard stream that was closed (``2>&-``) None. Its descriptor is given
    /dev/null, so that no file opened later takes its number (git's messages or a report would
    be written into that file). Messages for a closed standard error go nowhere (they would fail,
    or print them into the report on standard output); the exit code still tells. A closed
    standard input or output stays None: the commands that need it say so."""
    for name in ("stdin", "stdout", "stderr"):
        if getattr(sys, name) is None:
            held = os.open(os.devnull, os.O_RDWR)  # the lowest free descriptor: this one
            if name == "stderr":
                sys.stderr = open(held, "w", closefd=False)  # noqa: SIM115 (for the whole run)


def write_stdout(text: str) -> None:
    """Write ``text`` (a report) to standard output, flushed. A report that cannot be written (a
    full disk, a reader that closed the pipe, standard output closed) ends the run with one line
    and exit code 2: a verdict nobody received is no verdict."""
    try:
        if sys.stdout is None:
            import errno

            raise OSError(errno.EBADF, os.strerror(errno.EBADF))
        sys.stdout.write(text)
        sys.stdout.flush()
    except OSError as exc:
        # What is still buffered would fail again when Python exits, with a traceback.
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (for the rest of the run)
        sys.stderr.write("hvscan: error: cannot write the report to standard output: "
                         f"{exc.strerror or exc}\n")
        sys.exit(2)


def _dir_operands(args: list[str]) -> list[str]:
    """The arguments after ``dir`` (and after ``--hook``, which changes nothing when none of
    them starts with '-')."""
    return args[2:] if args[1:2] == ["--hook"] else args[1:]


def clean_staged_report(repo: str) -> str | None:
    """The text report of ``hvscan staged`` when the staged change provably holds nothing to
    report, or None when the full scan must decide."""
    if _configuration_may_apply(repo):
        return None
    listing = _git(repo, "diff", "--cached", "--raw", "-z", "-M", "--no-abbrev", "--no-relative",
                   "--ignore-submodules=none")
    ids = _staged_blob_ids(listing) if listing is not None else None
    if ids is None:
        return None
    total = 0
    if ids:
        # Not gitcmd.CatFile, the sources' reader: using it would cost this path the imports
        # of hvscan.sources (dataclasses, typing), pathlib, threading and tempfile. Anything
        # unexpected here falls back to the full command, which reads the blobs with CatFile.
        output = _git(repo, "cat-file", "--batch", input=b"".join(i + b"\n" for i in ids))
        if output is None:
            return None
        offset = 0
        for _ in ids:
            end = output.find(b"\n", offset)
            header = output[offset:end].split()
            if len(header) != 3 or header[1] != b"blob":
                return None
            size = int(header[2])
            data = output[end + 1:end + 1 + size]
            if (size >= _LARGE_BLOB or not _plain_text(data)
                    or any(needle in data for needle in NEEDLES)):
                return None
            total += size
            offset = end + 1 + size + 1
    return _clean_report(len(ids), total)


def clean_files_report(paths: list[str]) -> str | None:
    """The text report of ``hvscan dir PATH...`` when every path is a regular file that provably
    holds nothing to report, or None when the full scan must decide."""
    if _configuration_may_apply(os.path.dirname(paths[0]) or "."):
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
        if (len(data) >= _LARGE_BLOB or not _plain_text(data)
                or any(needle in data for needle in NEEDLES)):
            return None
        total += len(data)
    return _clean_report(len(seen), total)


def scan_with_defaults(paths: list[str]) -> None:
    """``hvscan dir PATH...`` with every option at its default; exits with its exit code."""
    from hvscan import runner
    from hvscan.sources.files import DEFAULT_MAX_FILE_SIZE

    max_file_size = parse_size(DEFAULT_MAX_FILE_SIZE)
    assert max_file_size is not None
    produce = runner.walker([os.fsencode(path) for path in paths], max_file_size)
    runner.guarded(lambda: runner.scan_and_report(produce))


def _configuration_start(path: str) -> str:
    """Where the full command line starts looking for configuration for a scan of ``path``
    (the directory, or a file's directory); a path that does not exist is looked up from its
    directory, which also covers the current directory and its parents."""
    return path if os.path.isdir(path) else os.path.dirname(path) or "."


def _clean_report(files: int, total: int) -> str:
    return (f"hvscan: scanned {counted(files, 'file')} ({format_size(total)}); "
            "0 findings\n")


def _staged_blob_ids(listing: bytes) -> list[bytes] | None:
    """The staged blob of each added or changed file, or None for anything the fast path does
    not decide (an unmerged path, a submodule, output it does not expect)."""
    fields = listing.split(b"\0")
    ids: list[bytes] = []
    index = 0
    while index < len(fields) and fields[index]:
        header = fields[index].split()
        if len(header) != 5 or not header[0].startswith(b":"):
            return None
        new_mode, new_id, status = header[1], header[3], header[4][:1]
        index += 3 if status in (b"R", b"C") else 2
        if status == b"D":
            continue
        if status not in (b"A", b"M", b"R", b"T") or new_mode not in _BLOB_MODES:
            return None
        ids.append(new_id)
    return ids


def _plain_text(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return not any(byte in data for byte in _BINARY)


def _configuration_may_apply(repo: str) -> bool:
    """Whether a setting could come from the environment or a file: any ``HVSCAN_*`` variable
    (not ``HESEDVID_*``: only ``--verify``, never taken here, reads them), or a
    ``.hvscan.toml``, or a ``pyproject.toml`` with a ``tool.hvscan`` table, in the directory or
    above it up to the repository's top (the first directory holding ``.git``), where the
    configuration is looked up. A ``.hvscanignore`` there sends the run to the full command too:
    it cannot change a clean answer, but a malformed one must fail the same way."""
    if any(name.startswith("HVSCAN_") for name in os.environ):
        return True
    directory = os.path.abspath(repo)
    while True:
        if any(os.path.exists(os.path.join(directory, name))
               for name in (".hvscan.toml", ".hvscanignore")):
            return True
        if _pyproject_configures_hvscan(os.path.join(directory, "pyproject.toml")):
            return True
        parent = os.path.dirname(directory)
        if parent == directory or os.path.exists(os.path.join(directory, ".git")):
            return False
        directory = parent


def _pyproject_configures_hvscan(path: str) -> bool:
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        return False
    except OSError:
        return True
    if b"hvscan" not in data:
        return False
    import tomllib

    try:
        tool = tomllib.loads(data.decode("utf-8")).get("tool")
    except (UnicodeDecodeError, tomllib.TOMLDecodeError, RecursionError):
        return True
    return isinstance(tool, dict) and "hvscan" in tool


def _git(repo: str, *args: str, input: bytes | None = None) -> bytes | None:
    import subprocess

    from hvscan import gitenv

    try:
        done = subprocess.run(gitenv.command(repo, *args), input=input, capture_output=True,
                              env=gitenv.environment(), check=False)
    except OSError:
        return None
    return done.stdout if done.returncode == 0 else None
