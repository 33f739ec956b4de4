"""Directory-scan benchmark: ``hvscan dir`` side by side with its peers and with the read floor.

Run it with the interpreter hvscan is installed in (it imports tests/keygen.py, which uses
hvscan), with ripgrep and Kingfisher on PATH or named with --rg / --kingfisher:

    .venv/bin/python bench/bench_dir.py            # everything, 5 timed rounds each
    .venv/bin/python bench/bench_dir.py --only a   # one part: a (source tree), b (generated
                                                   # 1 GiB tree), startup (one small file)
    .venv/bin/python bench/bench_dir.py --baseline OTHER/bin/hvscan   # also time another build

Three measurements, each printed as a table of medians (wall clock) with min, max, the median
CPU time (user + system, all threads and children) and ratios:

(a) a real source tree: SQLAlchemy at tag rel_2_0_45 (953 files, 25 MB), exported with
    ``git archive`` from a local clone (``--source-repo``; without one it is cloned with
    ``--depth 1``). ``hvscan dir`` against ripgrep with the same regex and against Kingfisher's
    directory scan restricted to a rule file for these keys only.
(b) a generated tree of at least 1 GiB of mixed text (code, logs, JSON, prose, base64, some
    invalid UTF-8) with a handful of keys and placeholders, built at run time from a fixed seed.
    ``hvscan dir`` against the floor of just reading the same files, two ways: ``cat`` (the
    kernel copying the page cache into one small reused buffer: the least any reader can
    spend) and a Python loop of ``open(path, "rb").read()`` (every file read whole into a bytes
    object: the least a Python program that holds each file in memory spends). ripgrep and
    Kingfisher are shown for reference.
(startup) ``hvscan dir`` on one small file (the pre-commit hook's case, answered by the fast
    path when the file is clean) and ``hvscan dir --format text`` on it (the full command line)
    against ``python -c pass`` and ``python -c 'import click'`` with the same interpreter.

Commands run round-robin (every command once per round, rounds repeated) so that load from
other processes on a shared machine hits them alike. Before timing, each part checks that every
tool finds exactly what it should, so a fast wrong answer cannot win. Keys are built at run time
(tests/keygen.py); the trees live under bench/work/ (git-ignored), and the generated one is
reused while its parameters are unchanged.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tarfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR.parent / "tests"))

from harness import find_tool, loadavg, timed  # noqa: E402
from keygen import make_key  # noqa: E402
from peers import KINGFISHER_RULES  # noqa: E402

SOURCE_TAG = "rel_2_0_45"
SOURCE_URL = "https://github.com/sqlalchemy/sqlalchemy.git"
LOCAL_MIRROR = Path("/work/.mirror/sqlalchemy+sqlalchemy/repo")
# The rules' regex without the look-ahead, which ripgrep's default engine lacks: "not followed by
# a letter or digit" becomes "followed by a non-alphanumeric byte or the end of the line". It
# selects the same lines.
RG_REGEX = r"hv_(?:live|test)_[A-Za-z0-9]{32}(?:[^A-Za-z0-9]|$)"
GENERATOR_VERSION = 3


@dataclass
class Command:
    name: str
    argv: list[str]
    ok_codes: tuple[int, ...] = (0,)
    # Number of findings in the output, for the correctness check before timing.
    count: Callable[[bytes], int] | None = None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=["a", "b", "startup"], action="append",
                        help="run only this part (repeatable)")
    parser.add_argument("--runs", type=int, default=5, help="timed rounds for parts a and b")
    parser.add_argument("--startup-runs", type=int, default=30, help="timed rounds for startup")
    parser.add_argument("--work", type=Path, default=BENCH_DIR / "work",
                        help="where trees are built (default: bench/work, git-ignored)")
    parser.add_argument("--source-repo", type=Path,
                        default=LOCAL_MIRROR if LOCAL_MIRROR.exists() else None,
                        help=f"a SQLAlchemy git repository holding tag {SOURCE_TAG}")
    parser.add_argument("--size-gib", type=float, default=1.0, help="size of the generated tree")
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--hvscan", default=find_tool("hvscan"))
    parser.add_argument("--baseline", metavar="HVSCAN",
                        help="another hvscan console script (say, of an older version) to time "
                             "in the same rounds, shown as 'baseline'")
    parser.add_argument("--rg", default=find_tool("rg"))
    parser.add_argument("--kingfisher", default=find_tool("kingfisher"))
    args = parser.parse_args()
    parts = args.only or ["a", "b", "startup"]
    if not args.hvscan:
        sys.exit("bench: no hvscan console script; install the project (pip install -e .)")
    args.work.mkdir(parents=True, exist_ok=True)
    _describe_machine(args)
    _compile_hvscan()
    if "a" in parts:
        part_a(args)
    if "b" in parts:
        part_b(args)
    if "startup" in parts:
        part_startup(args)
    print(f"\nload average at the end: {loadavg()}")


def part_a(args: argparse.Namespace) -> None:
    tree = _source_tree(args)
    files, size = _tree_size(tree)
    print(f"\n(a) source tree: SQLAlchemy {SOURCE_TAG}, {files} files, {size / 1e6:.1f} MB: {tree}")
    # Without options, a clean tree is answered without click (hvscan/fastpath.py); any option
    # takes the full command line, which is timed too.
    full = Command("hvscan dir --format text", [args.hvscan, "dir", "--format", "text",
                                                 str(tree)], count=_text_findings)
    commands = [*_hvscan(args, tree), full, *_peers(args, tree)]
    _check(commands, {c.name: 0 for c in commands})
    _report(_time(commands, args.runs), reference="hvscan dir")


def part_b(args: argparse.Namespace) -> None:
    tree, manifest = _generated_tree(args)
    expected = manifest["expected"]
    files, size = _tree_size(tree)
    print(f"\n(b) generated tree: {files} files, {size / 2**30:.2f} GiB, {len(expected)} keys, "
          f"{manifest['placeholders']} placeholders: {tree}")
    _check_findings(args, tree, expected)
    listing = args.work / "generated.files"
    listing.write_text("".join(f"{p}\n" for p in sorted(tree.rglob("*")) if p.is_file()))
    reader = (
        "import sys\n"
        "for name in open(sys.argv[1]).read().splitlines():\n"
        "    with open(name, 'rb') as f:\n"
        "        f.read()\n"
    )
    commands = [
        *_hvscan(args, tree),
        Command("cat (floor)", ["xargs", "-a", str(listing), "-d", "\\n", "cat"]),
        Command("python read loop (floor)", [sys.executable, "-c", reader, str(listing)]),
        *_peers(args, tree),
    ]
    # ripgrep has no placeholder logic: it also reports the documentation placeholders.
    _check(commands, {"hvscan dir": len(expected), "baseline": len(expected),
                      "kingfisher": len(expected),
                      "ripgrep": len(expected) + manifest["placeholders"]})
    _report(_time(commands, args.runs), reference="cat (floor)",
            also="python read loop (floor)")


def part_startup(args: argparse.Namespace) -> None:
    # A file in a project of its own (its top marked by .git, where the configuration lookup
    # stops), not in hvscan's checkout, whose pyproject.toml would be parsed for a [tool.hvscan].
    project = args.work / "startup-project"
    (project / ".git").mkdir(parents=True, exist_ok=True)
    small = project / "one-small-file.txt"
    small.write_text("nothing to see here\n")
    print(f"\n(startup) one small file, {args.startup_runs} rounds: {small}")
    # An option sends even a clean file through the full command line (click, rules, engine):
    # what any run over a directory pays before its first file.
    full = [args.hvscan, "dir", "--format", "text", str(small)]
    commands = [
        Command("python -c pass", [sys.executable, "-c", "pass"]),
        Command("python -c 'import click'", [sys.executable, "-c", "import click"]),
        *_hvscan(args, small),
        Command("hvscan dir --format text", full),
    ]
    _check(commands, {"hvscan dir": 0, "baseline": 0})
    _report(_time(commands, args.startup_runs), reference="hvscan dir")


def _compile_hvscan() -> None:
    """Write hvscan's byte-code files as ``pip install`` does. An editable install run with
    PYTHONDONTWRITEBYTECODE=1 would otherwise compile every hvscan module on every start
    (about 25 ms), which no installed copy does."""
    import hvscan

    subprocess.run([sys.executable, "-m", "compileall", "-q", str(Path(hvscan.__file__).parent)],
                   check=True)


def _hvscan(args: argparse.Namespace, tree: Path) -> list[Command]:
    scripts = {"hvscan dir": args.hvscan, "baseline": args.baseline}
    # Timed and checked with the default text report, as people run it (the exact keys are
    # checked through the JSON report by _check_findings).
    return [
        Command(name, [script, "dir", str(tree)], ok_codes=(0, 1), count=_text_findings)
        for name, script in scripts.items() if script
    ]


def _text_findings(out: bytes) -> int:
    """The number of findings in the summary line of a text report."""
    summary = out.decode().splitlines()[-1]
    return int(summary.split("; ")[1].split()[0])


def _peers(args: argparse.Namespace, tree: Path) -> list[Command]:
    """ripgrep and Kingfisher, or a line saying which is missing. Both are told to read every
    file hvscan reads: ripgrep ignores no file and searches binary files as text; Kingfisher
    extracts no archive and scans no git history."""
    commands = []
    if args.rg:
        commands.append(Command("ripgrep", [
            args.rg, "--count", "--no-ignore", "--hidden", "--text", RG_REGEX, str(tree),
        ], ok_codes=(0, 1), count=lambda out: sum(
            int(line.rsplit(b":", 1)[1]) for line in out.splitlines())))
    else:
        print("peer missing: ripgrep (apt-get install ripgrep, or pass --rg PATH)")
    if args.kingfisher:
        rules = args.work / "kingfisher-hesedvid.yml"
        rules.write_text(KINGFISHER_RULES)
        commands.append(Command("kingfisher", [
            args.kingfisher, "scan", str(tree), "--no-update-check", "--no-validate",
            "--load-builtins", "false", "--rules-path", str(rules), "--git-history", "none",
            "--no-extract-archives", "--format", "json", "--quiet",
        ], ok_codes=(0, 200), count=lambda out: len(json.loads(out)["findings"])))
    else:
        print("peer missing: kingfisher (pip install kingfisher-bin, or pass --kingfisher PATH)")
    return commands


def _check(commands: Sequence[Command], expected: dict[str, int]) -> None:
    """Run each tool once and compare its number of findings with what the tree holds."""
    for command in commands:
        if command.count is None:
            continue
        found = command.count(_run(command, capture=True)[2])
        if found != expected[command.name]:
            sys.exit(f"bench: {command.name} found {found}, expected {expected[command.name]}")
        print(f"checked: {command.name} finds {found}")


def _check_findings(args: argparse.Namespace, tree: Path, expected: list[list[object]]) -> None:
    out = subprocess.run([args.hvscan, "dir", "--format", "json", str(tree)],
                         capture_output=True, check=False)
    if out.returncode != 1:
        sys.exit(f"bench: hvscan exited {out.returncode}: {out.stderr.decode()[-500:]}")
    findings = json.loads(out.stdout)["findings"]
    got = sorted([f["path"], f["line"], f["secret_sha256"]] for f in findings)
    if got != sorted(expected):
        sys.exit(f"bench: hvscan found {len(got)} keys, expected {len(expected)}:\n"
                 f"  got      {got}\n  expected {sorted(expected)}")
    print("checked: hvscan reports exactly the planted keys (path, line, SHA-256)")


def _run(command: Command, capture: bool = False) -> tuple[float, float, bytes]:
    """Run once: wall-clock and CPU seconds and, when captured, its standard output."""
    wall, cpu, result = timed(command.argv,
                              stdout=subprocess.PIPE if capture else subprocess.DEVNULL)
    if result.returncode not in command.ok_codes:
        sys.exit(f"bench: {command.name} exited {result.returncode} "
                 f"(expected {command.ok_codes}): {result.stderr.decode()[-500:]}")
    return wall, cpu, result.stdout or b""


def _time(commands: Sequence[Command], runs: int) -> dict[str, list[tuple[float, float]]]:
    """(wall, CPU) seconds per command and round; one untimed warm-up round first (page cache,
    byte-code files)."""
    times: dict[str, list[tuple[float, float]]] = {c.name: [] for c in commands}
    for round_number in range(runs + 1):
        for command in commands:
            wall, cpu, _ = _run(command)
            if round_number:
                times[command.name].append((wall, cpu))
    return times


def _report(times: dict[str, list[tuple[float, float]]], reference: str,
            also: str | None = None) -> None:
    wall = {name: statistics.median(w for w, _ in values) for name, values in times.items()}
    cpu = {name: statistics.median(c for _, c in values) for name, values in times.items()}
    header = f"  {'command':<26} {'median':>9} {'min':>9} {'max':>9} {'CPU':>9}  x {reference}"
    if also:
        header += f"  x {also}"
    print(header)
    for name, values in times.items():
        walls = [w for w, _ in values]
        line = (f"  {name:<26} {_seconds(wall[name])} {_seconds(min(walls))} "
                f"{_seconds(max(walls))} {_seconds(cpu[name])}  "
                f"{wall[name] / wall[reference]:>{len(reference) + 2}.2f}")
        if also:
            line += f"  {wall[name] / wall[also]:>{len(also) + 2}.2f}"
        print(line)


def _seconds(value: float) -> str:
    return f"{value * 1000:7.1f}ms" if value < 10 else f"{value:8.2f}s"


# --- the trees -----------------------------------------------------------------------------


def _source_tree(args: argparse.Namespace) -> Path:
    tree = args.work / f"sqlalchemy-{SOURCE_TAG}"
    if tree.is_dir():
        return tree
    repo = args.source_repo
    if repo is None:
        repo = args.work / "sqlalchemy.git"
        if not repo.exists():
            print(f"cloning {SOURCE_URL} at {SOURCE_TAG} (shallow) into {repo}")
            subprocess.run(["git", "clone", "--quiet", "--bare", "--depth", "1", "--branch",
                            SOURCE_TAG, SOURCE_URL, str(repo)], check=True)
    archive = args.work / f"sqlalchemy-{SOURCE_TAG}.tar"
    subprocess.run(["git", f"--git-dir={repo}", "archive", "--output", str(archive),
                    SOURCE_TAG], check=True)
    partial = tree.with_suffix(".partial")
    shutil.rmtree(partial, ignore_errors=True)
    with tarfile.open(archive) as tar:
        tar.extractall(partial, filter="data")
    archive.unlink()
    partial.rename(tree)
    return tree


def _generated_tree(args: argparse.Namespace) -> tuple[Path, dict[str, Any]]:
    """A tree of mixed text with keys planted at known lines. Rebuilt only when the parameters
    change; the manifest records the expected findings (path, line, SHA-256 of the key) and
    the number of planted placeholders."""
    import hashlib

    target = int(args.size_gib * 2**30)
    tree = args.work / f"generated-{args.size_gib:g}g"
    manifest_path = tree / "MANIFEST.json"
    params = {"version": GENERATOR_VERSION, "seed": args.seed, "bytes": target}
    if manifest_path.exists():
        manifest = json.loads(manifest_path.read_text())
        if manifest["params"] == params:
            return tree, manifest
    print(f"generating {target / 2**30:.2f} GiB under {tree} (seed {args.seed}) ...")
    if tree.is_symlink() and not tree.exists():  # a link to a tree since removed: rebuilt here
        tree.unlink()
    shutil.rmtree(tree, ignore_errors=True)
    rng = random.Random(args.seed)
    pool = _text_pool(rng, 40 << 20)
    expected: list[list[object]] = []
    placeholders = 0
    written = 0
    index = 0
    while written < target:
        size = _file_size(rng)
        start = pool.find(b"\n", rng.randrange(len(pool) - size)) + 1
        data = pool[start:pool.rfind(b"\n", start, start + size) + 1]
        rel = _rel_path(index)
        # About one file in a hundred gets a key, as many others a decoy: the keywords occur
        # there, so those files go through the regex and the placeholder checks.
        if index % 97 == 5:
            keys = [make_key(rng.choice(["live", "test"]), f"bench-{index}-{n}")
                    for n in range(rng.randint(1, 2))]
            data, lines = _plant(rng, data, [f'API_KEY = "{key}"' for key in keys])
            expected += [[rel, line, hashlib.sha256(key.encode()).hexdigest()]
                         for line, key in zip(lines, keys, strict=True)]
        elif index % 89 == 7:
            data, _ = _plant(rng, data, _decoys(rng))
            placeholders += 1
        path = tree / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        written += len(data)
        index += 1
    manifest = {"params": params, "expected": expected, "placeholders": placeholders}
    manifest_path.write_text(json.dumps(manifest))
    return tree, manifest


def _rel_path(index: int) -> str:
    extension = (".py", ".log", ".json", ".md", ".txt", ".csv")[index % 6]
    return f"d{index % 16:02d}/s{index % 7}/f{index:05d}{extension}"


def _file_size(rng: random.Random) -> int:
    """Mostly small files, some medium, a few large: source trees, logs and dumps."""
    kind = rng.random()
    if kind < 0.70:
        return rng.randint(200, 64 << 10)
    if kind < 0.95:
        return rng.randint(64 << 10, 2 << 20)
    return rng.randint(8 << 20, 32 << 20)


def _decoys(rng: random.Random) -> list[str]:
    """Keyword hits that are no finding: a documentation placeholder, a token too long to be a
    key and one too short."""
    prefix = "hv_" + rng.choice(["live", "test"]) + "_"
    alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    return [
        f"export HESEDVID_KEY={prefix}{'x' * 32}",
        f"token = {prefix}{''.join(rng.choices(alnum, k=40))}",
        f"see {prefix}{''.join(rng.choices(alnum, k=12))}... in the docs",
    ]


def _plant(rng: random.Random, data: bytes, texts: list[str]) -> tuple[bytes, list[int]]:
    """Insert each text as a line of its own at a random place; returns the 1-based line
    numbers where they ended up."""
    lines = data.split(b"\n")
    at = sorted(rng.randrange(len(lines)) for _ in texts)
    for offset, (where, text) in enumerate(zip(at, texts, strict=True)):
        lines.insert(where + offset, text.encode())
    return b"\n".join(lines), [where + offset + 1 for offset, where in enumerate(at)]


def _text_pool(rng: random.Random, size: int) -> bytes:
    """Mixed text the way repositories hold it: code, logs, JSON, prose, base64 and some lines
    that are not UTF-8. No keyword of the rules occurs in it."""
    words = ["session", "query", "engine", "connection", "select", "where", "table", "column",
             "import", "return", "self", "value", "result", "config", "request", "response",
             "user", "token", "client", "server", "data", "error", "cache", "index", "the",
             "and", "with", "from", "that", "this", "for", "not", "None", "True", "False"]
    b64 = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/"
    chunks: list[bytes] = []
    total = 0
    while total < size:
        kind = rng.random()
        if kind < 0.35:
            indent = " " * (4 * rng.randint(0, 3))
            line = (f"{indent}{rng.choice(words)}_{rng.choice(words)} = "
                    f"{rng.choice(words)}.{rng.choice(words)}({rng.randint(0, 999)})").encode()
        elif kind < 0.55:
            line = (f"2024-05-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:"
                    f"{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}Z INFO "
                    f"{rng.choice(words)} id={rng.getrandbits(64):016x} "
                    f"took {rng.randint(1, 9999)}ms").encode()
        elif kind < 0.70:
            line = json.dumps({rng.choice(words): rng.choice(words),
                               "n": rng.randint(0, 10**6), "ok": rng.random() < 0.5}).encode()
        elif kind < 0.85:
            line = (" ".join(rng.choice(words) for _ in range(rng.randint(4, 16))) + ".").encode()
        elif kind < 0.97:
            line = "".join(rng.choices(b64, k=76)).encode()
        else:
            # Random bytes, mostly not UTF-8 (scanners must read bytes); no newline inside.
            line = rng.randbytes(rng.randint(8, 64)).replace(b"\n", b"\x80")
        chunks.append(line + b"\n")
        total += len(line) + 1
    return b"".join(chunks)


def _tree_size(tree: Path) -> tuple[int, int]:
    files = [p for p in tree.rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


# --- the machine ---------------------------------------------------------------------------


def _describe_machine(args: argparse.Namespace) -> None:
    cpu = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    print(f"machine: {cpu}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}, "
          f"Python {platform.python_version()}")
    print(f"load average at the start: {loadavg()}")
    for name, exe in (("hvscan", args.hvscan), ("baseline", args.baseline),
                      ("ripgrep", args.rg), ("kingfisher", args.kingfisher)):
        if exe:
            version = subprocess.run([exe, "--version"], capture_output=True, text=True,
                                     check=False).stdout.splitlines()
            print(f"  {name}: {exe} ({version[0] if version else '?'})")


if __name__ == "__main__":
    main()
