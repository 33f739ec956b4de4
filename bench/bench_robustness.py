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
      - a repository whose one commit holds a 300 MB blob: ``hvscan git``.

``--revision REV`` runs the hvscan of that git revision instead (exported with ``git archive``
under bench/work/ and put first on PYTHONPATH), for before-and-after figures. Keys are built at
run time (tests/keygen.py); every input lives under bench/work/robustness/ and is deleted at
the end (the generated repository and the big files are the reason: about 800 MB in all).
"""

from __future__ import annotations

import argparse
import base64
import os
import shutil
import struct
import subprocess
import sys
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
    parser.add_argument("--only", choices=("time", "memory"))
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
    print("| input | command | exit | peak MiB | seconds |\n|---|---|---:|---:|---:|")

    def row(label: str, argv_tail: list[str], **kwargs: object) -> None:
        started = time.perf_counter()
        mib, code = peak(argv_tail, work, env, **kwargs)  # type: ignore[arg-type]
        print(f"| {label} | hvscan {' '.join(argv_tail[:1])} | {code} | {mib:.0f} | "
              f"{time.perf_counter() - started:.1f} |")

    line = work / "line.txt"
    one_line(line, size, keys, FORMS["plain"])
    label = f"one line, {size / 1e6:.0f} MB, {keys} keys"
    row(label, ["dir", str(line), "--format", "json"])
    row(label, ["stdin", "--format", "json"], stdin=line)
    line.unlink()

    def gibibyte() -> subprocess.Popen[bytes]:
        return subprocess.Popen(["head", "-c", str(1 << 30), "/dev/zero"],
                                stdout=subprocess.PIPE)

    row("1 GiB of zeros, piped", ["stdin", "--format", "json"], stdin=gibibyte)

    bomb = work / "zeros.gz"
    gzip_of_zeros(bomb, 10 << 30)
    row("gzip of 10 GiB of zeros (10 MB)", ["dir", str(bomb), "--format", "json"])
    bomb.unlink()

    wide = work / "utf16.txt"
    text = (FILLER + b"\n").decode() * (95 * 2**20 // 2 // (len(FILLER) + 1))
    wide.write_bytes((text + f"k={make_key('live', 1)}\n").encode("utf-16"))
    del text
    row("UTF-16 text, 95 MiB", ["dir", str(wide), "--format", "json"])
    # The keyword's UTF-16 form at the other alignment and its UTF-32 form at all four: the
    # text is re-read six ways (and the UTF-32 text read as UTF-16 holds UTF-16 text).
    keyword = "hv_" + "live_"
    with wide.open("ab") as out:
        out.write(b"x" + keyword.encode("utf-16-le"))
        for pad in range(4):
            out.write(b"y" * pad + keyword.encode("utf-32-le") + b"z" * (4 - pad))
    row("the same, re-read six ways", ["dir", str(wide), "--format", "json"])
    wide.unlink()

    repo = work / "repo"
    repository_with_a_big_blob(repo, 300_000_000)
    row("one 300 MB blob in history", ["git", str(repo), "--no-progress", "--format", "json"])


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
