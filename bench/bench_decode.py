"""Decoder benchmark: what decoding costs clean text, and how fast a tree of archives is scanned.

    python bench/bench_decode.py                          # corpus: this Python's stdlib
    python bench/bench_decode.py --corpus DIR --rounds 9  # any tree of files

Three measurements, printed as Markdown tables:

(1) clean text, engine only: every file of the corpus read into memory once, then scanned
    file by file with ``Engine.scan`` by
      - ``before``: the engine as it was before decoders (the parent of the commit that added
        hvscan/decode.py, exported with ``git archive`` under bench/work/),
      - ``off``: this engine with ``--max-decode-depth 0 --max-archive-depth 0``,
      - ``on``: this engine with its default limits.
    Each runs in its own process; the best of ``--repeat`` passes counts (the first pass also
    pays for importing and compiling Hyperscan).
(2) clean text, end to end: ``hvscan dir CORPUS --format json`` for the same three.
(3) a tree of archives generated at run time from corpus files (zip, jar holding a zip, tar.gz,
    gz, tar.xz, tar.bz2, tar.zst, 7z, and mail saved as .eml with a zip attached) with keys
    planted in some members, plain and base64-encoded: ``hvscan dir`` end to end,
    after checking that it finds every planted key and nothing else; ``before`` for reference
    (it cannot open the archives).

Commands run round-robin, ``--rounds`` times, so that load from other processes on a shared
machine hits them alike; the best time of each is reported. Times are CPU times (user + system,
of the process or of the ``hvscan`` child), which other processes on a busy machine disturb far
less than wall-clock times; wall-clock times of the end-to-end runs are shown beside them.
Keys are built at run time (tests/keygen.py); everything generated lives under bench/work/
(git-ignored).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import subprocess
import sys
import sysconfig
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
WORK = BENCH / "work"
sys.path.insert(0, str(REPO / "tests"))

from archives import STREAMS, make_7z, make_eml, make_tar, make_zip  # noqa: E402
from harness import export_revision, loadavg, timed  # noqa: E402
from keygen import make_key  # noqa: E402

CONFIGS = ("before", "off", "on")
OFF_OPTIONS = ["--max-decode-depth", "0", "--max-archive-depth", "0"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=Path(sysconfig.get_paths()["stdlib"]))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=5, help="engine passes per process")
    parser.add_argument("--archives", type=int, default=120)
    parser.add_argument("--baseline-rev", help="git revision of the engine before decoders")
    parser.add_argument("--measure", choices=("before", "off", "on"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(_measure_engine(args.measure, args.corpus, args.repeat)))
        return

    revision = args.baseline_rev or _before_decoders()
    baseline = export_revision(REPO, revision, WORK)
    print(f"before decoders: {revision} ({baseline.name.removeprefix('baseline-')})")
    sources = {"before": baseline, "off": REPO, "on": REPO}
    print(f"corpus {args.corpus}; load average at start {loadavg()}")
    _engine_table(sources, args)
    _end_to_end_table(sources, args)
    _archive_table(sources, args)
    print(f"\nload average at end {loadavg()}")


# --- (1) engine only -----------------------------------------------------------------------


def _load_corpus(corpus: Path) -> list[bytes]:
    blobs = []
    for root, dirs, files in os.walk(corpus):
        dirs[:] = sorted(d for d in dirs if d != ".git")
        for name in sorted(files):
            path = os.path.join(root, name)
            if os.path.isfile(path) and os.path.getsize(path) < 100 << 20:
                with open(path, "rb") as handle:
                    blobs.append(handle.read())
    return blobs


def _measure_engine(config: str, corpus: Path, repeat: int) -> dict[str, Any]:
    from hvscan import engine as engine_module
    from hvscan.rules import load_builtin_rules

    blobs = _load_corpus(corpus)
    rules = load_builtin_rules()
    if config == "off":
        engine = engine_module.Engine(rules, engine_module.Limits(decode_depth=0,
                                                                  archive_depth=0))
    else:
        engine = engine_module.Engine(rules)
    best, matches = float("inf"), 0
    for _ in range(repeat):
        started = time.process_time()
        matches = sum(len(engine.scan(blob)) for blob in blobs)
        best = min(best, time.process_time() - started)
    return {"seconds": best, "bytes": sum(map(len, blobs)), "files": len(blobs),
            "matches": matches, "needles": len(engine.prefilter.needles)}


def _engine_table(sources: dict[str, Path], args: argparse.Namespace) -> None:
    results: dict[str, list[dict[str, Any]]] = {c: [] for c in CONFIGS}
    for _ in range(args.rounds):
        for config in CONFIGS:
            done = _run([sys.executable, __file__, "--measure", config, "--corpus",
                         str(args.corpus), "--repeat", str(args.repeat)], sources[config])
            results[config].append(json.loads(done.stdout))
    best = {c: min(results[c], key=lambda r: r["seconds"]) for c in CONFIGS}
    first = best["before"]
    print(f"\n(1) engine only: {first['files']} files, {first['bytes'] / 1e6:.1f} MB in memory, "
          f"best of {args.rounds} processes x {args.repeat} passes\n")
    print("| engine | needles | CPU time | throughput | vs before |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for config in CONFIGS:
        row = best[config]
        print(f"| {config} | {row['needles']} | {row['seconds'] * 1000:.1f} ms | "
              f"{row['bytes'] / row['seconds'] / 1e6:,.0f} MB/s | "
              f"{row['seconds'] / first['seconds']:.2f}x |")


# --- (2) end to end ------------------------------------------------------------------------


def _hvscan(source: Path, target: Path, *options: str) -> tuple[float, float, dict[str, Any]]:
    """Wall-clock and CPU seconds of one ``hvscan dir`` run, and its report."""
    elapsed, cpu, done = timed([sys.executable, "-m", "hvscan", "dir", str(target), "--format",
                                "json", *options], cwd=WORK, env=_env(source))
    if done.returncode not in (0, 1):
        raise SystemExit(f"hvscan failed ({done.returncode}): {done.stderr.decode()}")
    return elapsed, cpu, json.loads(done.stdout)


def _end_to_end_table(sources: dict[str, Path], args: argparse.Namespace) -> None:
    options = {"before": [], "off": OFF_OPTIONS, "on": []}
    wall: dict[str, list[float]] = {c: [] for c in CONFIGS}
    cpu: dict[str, list[float]] = {c: [] for c in CONFIGS}
    for _ in range(args.rounds):
        for config in CONFIGS:
            elapsed, used, _ = _hvscan(sources[config], args.corpus, *options[config])
            wall[config].append(elapsed)
            cpu[config].append(used)
    print(f"\n(2) end to end: hvscan dir {args.corpus} --format json, best of {args.rounds}\n")
    print("| engine | CPU time | vs before | wall clock |")
    print("| --- | ---: | ---: | ---: |")
    for config in CONFIGS:
        print(f"| {config} | {min(cpu[config]) * 1000:.0f} ms | "
              f"{min(cpu[config]) / min(cpu['before']):.2f}x | {min(wall[config]) * 1000:.0f} ms |")


# --- (3) a tree of archives ----------------------------------------------------------------


# Each archive is one of these, in turn (the layers a finding's chain starts with).
KINDS = ("zip", "jar", "tar.gz", "gz", "tar.xz", "tar.bz2", "tar.zst", "7z", "eml")
LAYERS = ("zip", "gzip", "xz", "bzip2", "zstd", "7z", "base64")


def _archive_tree(corpus: Path, count: int) -> tuple[Path, int]:
    """Archives built from corpus files; every tenth holds a key (alternately plain and
    base64). Returns the tree and the number of planted keys."""
    tree = WORK / f"archives-{len(KINDS)}-kinds-{count}"
    marker = tree / ".complete"
    planted = len(range(0, count, 10))
    if marker.exists():
        return tree, planted
    rng = random.Random(4)
    texts = [b for b in _load_corpus(corpus) if 200 < len(b) < 200_000]
    tree.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        members = {f"src/{index}/{n}.txt": rng.choice(texts) for n in range(30)}
        if index % 10 == 0:
            key = make_key("live" if index % 20 else "test", index)
            value = key if index % 20 else base64.b64encode(key.encode()).decode()
            members[f"src/{index}/settings.env"] = f"# deploy\nHESEDVID_API_KEY={value}\n".encode()
        kind = KINDS[index % len(KINDS)]
        if kind == "zip":
            data = make_zip(members)
        elif kind == "jar":
            inner = dict(list(members.items())[len(members) // 2:])
            outer = dict(list(members.items())[:len(members) // 2])
            outer["lib/inner.zip"] = make_zip(inner)
            data = make_zip(outer)
        elif kind == "gz":
            data = STREAMS["gzip"](b"".join(members.values()))
        elif kind.startswith("tar."):
            stream = {"gz": "gzip", "xz": "xz", "bz2": "bzip2", "zst": "zstd"}[kind[4:]]
            data = STREAMS[stream](make_tar(members))
        elif kind == "7z":
            data = make_7z(members)
        else:
            data = make_eml("Logs attached.\n", {"logs.zip": make_zip(members)})
        (tree / f"{index}.{kind}").write_bytes(data)
    marker.write_bytes(b"")
    return tree, planted


def _archive_table(sources: dict[str, Path], args: argparse.Namespace) -> None:
    tree, planted = _archive_tree(args.corpus, args.archives)
    size = sum(p.stat().st_size for p in tree.iterdir() if p.is_file())
    *_, report = _hvscan(sources["on"], tree)
    findings = report["findings"]
    if len(findings) != planted or not all(f["encoding"].startswith(LAYERS)
                                           for f in findings):
        raise SystemExit(f"expected {planted} keys in archive members, got "
                         f"{[(f['path'], f['encoding']) for f in findings]}")
    times: dict[str, list[float]] = {"before": [], "on": []}
    for _ in range(args.rounds):
        for config in times:
            times[config].append(_hvscan(sources[config], tree)[1])
    stats = report["stats"]
    best = min(times["on"])
    print(f"\n(3) {args.archives} archives ({size / 1e6:.1f} MB on disk; {', '.join(KINDS)}), "
          f"{stats['archive_members']} members, "
          f"{stats['bytes_decompressed'] / 1e6:.1f} MB decompressed; {planted} planted keys, "
          f"all found; best of {args.rounds}\n")
    print("| engine | CPU time | on-disk MB/s | decompressed MB/s | archives/s |")
    print("| --- | ---: | ---: | ---: | ---: |")
    print(f"| on | {best * 1000:.0f} ms | {size / best / 1e6:.1f} | "
          f"{stats['bytes_decompressed'] / best / 1e6:.1f} | {args.archives / best:.0f} |")
    before = min(times["before"])
    print(f"| before (archives not opened) | {before * 1000:.0f} ms | {size / before / 1e6:.1f} "
          f"| - | - |")


# --- helpers -------------------------------------------------------------------------------


def _before_decoders() -> str:
    added = subprocess.run(["git", "-C", str(REPO), "log", "--diff-filter=A", "--format=%H",
                            "--", "hvscan/decode.py"], capture_output=True, check=True)
    commits = added.stdout.decode().split()
    if not commits:
        raise SystemExit("cannot find the commit that added hvscan/decode.py: use --baseline-rev")
    return commits[-1] + "^"


def _run(command: list[str], source: Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(command, capture_output=True, check=True, cwd=WORK, env=_env(source))


def _env(source: Path) -> dict[str, str]:
    """The environment of a run that imports hvscan from ``source``. Runs start in bench/work
    (made here), so that no checkout in the working directory shadows ``source``."""
    WORK.mkdir(exist_ok=True)
    return {**os.environ, "PYTHONPATH": str(source)}


if __name__ == "__main__":
    main()
