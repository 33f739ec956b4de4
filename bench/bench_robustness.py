"""Robustness benchmark: time on long lines, and hvscan's peak memory on inputs built to strain
it (issue 11).

    .venv/bin/python bench/bench_robustness.py                 # both parts
    .venv/bin/python bench/bench_robustness.py --only time     # or: memory
    .venv/bin/python bench/bench_robustness.py --revision main --size 10 --keys 100
                                                 # an earlier hvscan, on a smaller line

(time) a file that is one line of ``--size`` MB (default 100) holding ``--keys`` keys (default
    1,000), plain, base64-encoded and percent-encoded, and for reference the plain keys on short
    lines: ``hvscan dir FILE --format json``, best wall and CPU time of ``--rounds``, after
    checking that every key is found.
(memory) the peak resident memory of hvscan's own process (ru_maxrss at exit; git's children
    are not counted), for:
      - the one-line file above: ``hvscan dir`` and ``hvscan stdin``;
      - 1 GiB piped into ``hvscan stdin`` by a generator, ten times the default
        --max-file-size (only the first 100 MiB are read);
      - a gzip of 10 GiB of zeros (a 10 MB file, written compressed without ever expanding it);
      - a UTF-16 text of 95 MiB, and the same with the keyword's UTF-16 and UTF-32 forms at
        every alignment after it (six whole re-readings);
      - (``--only archives``) a tar.gz holding one 250 MiB text file, and five tars nested in
        one another around a 90 MiB text file, keys at every 4 MiB of the text (random words:
        it compresses about 4:1, within --max-archive-ratio);
      - (``--only history``) a repository whose one commit holds a 100 MB blob (the default
        --max-file-size), and one holding a 300 MB blob, with the default limit (not read, a
        note) and with ``--max-file-size 1GB``: ``hvscan git``.

``--revision REV`` runs the hvscan of that git revision instead (exported with ``git archive``
under bench/work/ and put first on PYTHONPATH), for before-and-after figures. Keys are built at
run time (tests/keygen.py); every input lives under bench/work/robustness/ and is deleted at
the end (the generated repository and the big files are the reason: about 800 MB in all).
"""

from __future__ import annotations

import argparse
import base64
import os
import random
import shutil
import struct
import subprocess
import sys
import tarfile
import time
import urllib.parse
import zlib
from collections.abc import Callable
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
WORK = BENCH / "work"
sys.path.insert(0, str(REPO / "tests"))

from harness import export_revision, hvscan_with_rss, loadavg, timed  # noqa: E402
from keygen import make_key  # noqa: E402

FILLER = b"lorem ipsum dolor sit amet, consectetur adipiscing elit "
FORMS: dict[str, Callable[[str], bytes]] = {
    "plain": lambda key: key.encode(),
    "base64": lambda key: base64.b64encode(f'{{"key":"{key}"}}'.encode()),
    "percent": lambda key: urllib.parse.quote(f'key="{key}"', safe="").encode(),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=("time", "memory", "archives", "history"))
    parser.add_argument("--size", type=int, default=100, help="MB in the one-line file")
    parser.add_argument("--keys", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--revision", help="git revision of hvscan to run instead of this one")
    args = parser.parse_args()
    work = WORK / "robustness"
    work.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    if args.revision:
        env["PYTHONPATH"] = str(export_revision(REPO, args.revision, WORK))
    print(f"hvscan: {args.revision or 'this checkout'}; load average at start {loadavg()}")
    try:
        if args.only in (None, "time"):
            time_part(work, args.size * 1_000_000, args.keys, args.rounds, env)
        if args.only in (None, "memory"):
            memory_part(work, args.size * 1_000_000, args.keys, env)
        if args.only in (None, "memory", "archives"):
            archives_part(work, env)
        if args.only in (None, "memory", "history"):
            history_part(work, env)
    finally:
        shutil.rmtree(work)
    print(f"\nload average at end {loadavg()}")


def one_line(path: Path, size: int, keys: int, form: Callable[[str], bytes],
             newline: bool = False) -> None:
    """``size`` bytes of filler holding ``keys`` keys, evenly spread; on one line unless
    ``newline`` ends each stretch of filler."""
    share = size // keys
    with path.open("wb") as out:
        for seed in range(keys):
            tail = b" k=" + form(make_key("live", seed)) + (b"\n" if newline else b" ")
            stretch = share - len(tail)
            out.write((FILLER * (stretch // len(FILLER) + 1))[:stretch] + tail)


def hvscan(*args: str) -> list[str]:
    return [sys.executable, "-m", "hvscan", *args]


def time_part(work: Path, size: int, keys: int, rounds: int, env: dict[str, str]) -> None:
    print(f"\n(time) one line of {size / 1e6:.0f} MB holding {keys} keys: hvscan dir FILE "
          f"--format json, best of {rounds}\n")
    print("| keys written | wall s | CPU s |\n|---|---:|---:|")
    cases = [(name, form, False) for name, form in FORMS.items()]
    cases.append(("plain, on short lines", FORMS["plain"], True))
    for name, form, newline in cases:
        path = work / "line.txt"
        one_line(path, size, keys, form, newline)
        argv = hvscan("dir", str(path), "--format", "json", "--max-file-size", "1GB")
        best_wall = best_cpu = float("inf")
        for _ in range(rounds):
            wall, cpu, done = timed(argv, env=env, cwd=work)
            found = done.stdout.count(b'"rule_id"')
            if found != keys:
                raise SystemExit(f"{name}: {found} of {keys} keys found "
                                 f"(exit {done.returncode}): {done.stderr[-300:]!r}")
            best_wall, best_cpu = min(best_wall, wall), min(best_cpu, cpu)
        print(f"| {name} | {best_wall:.2f} | {best_cpu:.2f} |")
        path.unlink()


def row(label: str, argv_tail: list[str], work: Path, env: dict[str, str],
        **kwargs: object) -> None:
    """A table row: hvscan's exit code, peak memory and wall time on ``argv_tail``."""
    started = time.perf_counter()
    mib, code = peak(argv_tail, work, env, **kwargs)  # type: ignore[arg-type]
    print(f"| {label} | hvscan {' '.join(argv_tail[:1])} | {code} | {mib:.0f} | "
          f"{time.perf_counter() - started:.1f} |")


def peak(argv_tail: list[str], work: Path, env: dict[str, str], *,
         stdin: Path | Callable[[], subprocess.Popen[bytes]] | None = None) -> tuple[float, int]:
    """hvscan's peak resident memory (MiB) and exit code, running ``hvscan ARGV_TAIL``."""
    rss_file = work / "rss"
    feeder = None
    source = None
    if isinstance(stdin, Path):
        source = stdin.open("rb")
    elif stdin is not None:
        feeder = stdin()
        source = feeder.stdout
    try:
        done = subprocess.run(hvscan_with_rss(rss_file, *argv_tail), stdin=source,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
                              cwd=work, check=False)
    finally:
        if source is not None:
            source.close()
        if feeder is not None:
            feeder.kill()
            feeder.wait()
    if done.returncode not in (0, 1):
        raise SystemExit(f"hvscan {' '.join(argv_tail)}: exit {done.returncode}: "
                         f"{done.stderr[-300:]!r}")
    return int(rss_file.read_text()) / 1024, done.returncode


def memory_part(work: Path, size: int, keys: int, env: dict[str, str]) -> None:
    print("\n(memory) peak resident memory of hvscan's own process\n")
    print(TABLE_HEAD)

    line = work / "line.txt"
    one_line(line, size, keys, FORMS["plain"])
    label = f"one line, {size / 1e6:.0f} MB, {keys} keys"
    row(label, ["dir", str(line), "--format", "json"], work, env)
    row(label, ["stdin", "--format", "json"], work, env, stdin=line)
    line.unlink()

    def gibibyte() -> subprocess.Popen[bytes]:
        return subprocess.Popen(["head", "-c", str(1 << 30), "/dev/zero"],
                                stdout=subprocess.PIPE)

    row("1 GiB of zeros, piped", ["stdin", "--format", "json"], work, env, stdin=gibibyte)

    bomb = work / "zeros.gz"
    gzip_of_zeros(bomb, 10 << 30)
    row("gzip of 10 GiB of zeros (10 MB)", ["dir", str(bomb), "--format", "json"], work, env)
    bomb.unlink()

    wide = work / "utf16.txt"
    text = (FILLER + b"\n").decode() * (95 * 2**20 // 2 // (len(FILLER) + 1))
    wide.write_bytes((text + f"k={make_key('live', 1)}\n").encode("utf-16"))
    del text
    row("UTF-16 text, 95 MiB", ["dir", str(wide), "--format", "json"], work, env)
    # The keyword's UTF-16 form at the other alignment and its UTF-32 form at all four: the
    # text is re-read six ways (and the UTF-32 text read as UTF-16 holds UTF-16 text).
    keyword = "hv_" + "live_"
    with wide.open("ab") as out:
        out.write(b"x" + keyword.encode("utf-16-le"))
        for pad in range(4):
            out.write(b"y" * pad + keyword.encode("utf-32-le") + b"z" * (4 - pad))
    row("the same, re-read six ways", ["dir", str(wide), "--format", "json"], work, env)
    wide.unlink()



TABLE_HEAD = "| input | command | exit | peak MiB | seconds |\n|---|---|---:|---:|---:|"


def archives_part(work: Path, env: dict[str, str]) -> None:
    print("\n(memory) archives: peak resident memory of hvscan's own process\n")
    print(TABLE_HEAD)
    text = work / "big.txt"
    words_with_keys(text, 250 << 20)
    archive = work / "one.tar.gz"
    with tarfile.open(archive, "w:gz", compresslevel=1) as tar:
        tar.add(text, "big.txt")
    text.unlink()
    label = f"a tar.gz of {archive.stat().st_size / 1e6:.0f} MB holding one 250 MiB text file"
    row(label, ["dir", str(archive), "--format", "json"], work, env)
    archive.unlink()

    words_with_keys(text, 90 << 20)
    inner = text
    for level in range(5):
        outer = work / f"level{level}.tar"
        with tarfile.open(outer, "w") as tar:
            tar.add(inner, inner.name)
        inner.unlink()
        inner = outer
    row("five tars nested around a 90 MiB text file", ["dir", str(inner), "--format", "json"],
        work, env)
    inner.unlink()


def history_part(work: Path, env: dict[str, str]) -> None:
    print("\n(memory) history: peak resident memory of hvscan's own process\n")
    print(TABLE_HEAD)
    for size, raised in ((100_000_000, False), (300_000_000, False), (300_000_000, True)):
        repo = work / "repo"
        if not repo.exists():
            repository_with_a_big_blob(repo, size)
        limit = ["--max-file-size", "1GB"] if raised else []
        row(f"one {size // 1_000_000} MB blob in history{' (--max-file-size 1GB)' * raised}",
            ["git", str(repo), "--no-progress", "--format", "json", *limit], work, env)
        if size == 100_000_000:
            shutil.rmtree(repo)


def words_with_keys(path: Path, size: int) -> None:
    """``size`` bytes of random words on lines of about 70 characters, a key on a line of its
    own after every 4 MiB. The words are drawn once, for 4 MiB, and repeated: deflate looks
    back 32 KiB only, so the text compresses as random words do."""
    chosen = random.Random(0)
    vocabulary = ["".join(chosen.choices("abcdefghijklmnopqrstuvwxyz", k=chosen.randint(2, 9)))
                  for _ in range(300)]
    lines: list[str] = []
    length = 0
    while length < 4 << 20:
        lines.append(" ".join(chosen.choices(vocabulary, k=12)))
        length += len(lines[-1]) + 1
    block = ("\n".join(lines) + "\n").encode()[:4 << 20]
    with path.open("wb") as out:
        seed = written = 0
        while written < size:
            key = f"\nk={make_key('live', seed)}\n".encode()
            piece = (block + key)[:size - written]
            out.write(piece)
            written += len(piece)
            seed += 1


def gzip_of_zeros(path: Path, size: int) -> None:
    """A gzip stream of ``size`` zero bytes, written without expanding it: after a full flush
    deflate starts afresh, so one compressed 16 MiB block of zeros is repeated, and the
    trailer's CRC-32 and length are worked out."""
    chunk = bytes(16 << 20)
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    head = compressor.compress(chunk) + compressor.flush(zlib.Z_FULL_FLUSH)
    repeat = compressor.compress(chunk) + compressor.flush(zlib.Z_FULL_FLUSH)
    end = compressor.flush()[:-8]
    count = size // len(chunk)
    crc = 0
    for _ in range(count):
        crc = zlib.crc32(chunk, crc)
    with path.open("wb") as out:
        out.write(head)
        for _ in range(count - 1):
            out.write(repeat)
        out.write(end + struct.pack("<II", crc, count * len(chunk) & 0xFFFFFFFF))


def repository_with_a_big_blob(repo: Path, size: int) -> None:
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1",
           "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.invalid",
           "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.invalid"}
    subprocess.run(["git", "init", "-q", str(repo)], check=True, env=env)
    big = repo / "big.txt"
    one_line(big, size, size // 100_000, FORMS["plain"], newline=True)
    subprocess.run(["git", "-C", str(repo), "add", "big.txt"], check=True, env=env)
    subprocess.run(["git", "-C", str(repo), "commit", "-q", "-m", "big"], check=True, env=env)
    big.unlink()


if __name__ == "__main__":
    main()
