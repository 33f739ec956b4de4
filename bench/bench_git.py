"""Benchmark: ``hvscan git`` against the read floor, gitleaks and Kingfisher, side by side.

    python bench/bench_git.py                      # the sqlalchemy and flask mirrors
    python bench/bench_git.py --repo /path/to/repo --runs 5

gitleaks and Kingfisher are taken from this interpreter's directory, else from PATH.

For each repository, each run times every tool once, in turn (so machine noise hits all of them
alike), and the table shows the best and median wall time of the runs, the ratio to the floor
and to the fastest peer, the least CPU time (user + system of the tool and all the processes it
started, git included), and hvscan's peak memory (its own Python process: ru_maxrss of the
process that runs the CLI, git's children not counted).

- floor: ``git cat-file --batch-all-objects --batch --unordered | cat >/dev/null``, what any
  reader of every object in the store must pay;
- hvscan: ``hvscan git REPO``;
- gitleaks: ``gitleaks git REPO`` with a config holding only a HesedVid rule;
- kingfisher: ``kingfisher scan REPO --git-history full --no-update-check --no-validate
  --load-builtins false --rules-path RULES`` with a rule for these keys only.

Before timing, each tool scans a small generated repository holding one key built at run time,
and must find it: a peer that finds nothing there would be timed doing nothing useful.

The default repositories are clones, made under /tmp, of the bare mirrors in /work/.mirror:
sqlalchemy with ``--mirror`` (every ref), flask with ``--bare`` (its mirror's pull-request refs
reach a blob missing from the store, which every tool rightly reports as an error).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from gitrepo import GitRepo, git_env  # noqa: E402
from harness import find_tool, hvscan_with_rss, loadavg, timed  # noqa: E402
from keygen import make_key  # noqa: E402
from peers import GITLEAKS_CONFIG, KINGFISHER_RULES  # noqa: E402

MIRRORS = {
    "sqlalchemy": (Path("/work/.mirror/sqlalchemy+sqlalchemy/repo"), "--mirror"),
    "flask": (Path("/work/.mirror/pallets+flask/repo"), "--bare"),
}

@dataclass
class Tool:
    name: str
    command: list[str]


def tools(repo: Path, work: Path, rss_file: Path) -> list[Tool]:
    found = [
        Tool("floor", ["sh", "-c", f"git -C '{repo}' cat-file --batch-all-objects --batch "
                                   "--unordered | cat >/dev/null"]),
        Tool("hvscan", hvscan_with_rss(rss_file, "git", str(repo), "--no-progress",
                                       "--format", "json", "-o", str(work / "hvscan.json"))),
    ]
    gitleaks = find_tool("gitleaks")
    if gitleaks:
        found.append(Tool("gitleaks", [gitleaks, "git", str(repo), "--config",
                                       str(work / "gitleaks.toml"), "--no-banner",
                                       "--log-level", "error", "--exit-code", "0",
                                       "--report-path", str(work / "gitleaks.json")]))
    kingfisher = find_tool("kingfisher")
    if kingfisher:
        found.append(Tool("kingfisher", [kingfisher, "scan", str(repo), "--git-history", "full",
                                         "--no-update-check", "--no-validate",
                                         "--load-builtins", "false", "--rules-path",
                                         str(work / "kingfisher.yml"), "--format", "json",
                                         "--output", str(work / "kingfisher.json")]))
    return found


def write_configs(work: Path) -> None:
    (work / "gitleaks.toml").write_text(GITLEAKS_CONFIG)
    (work / "kingfisher.yml").write_text(KINGFISHER_RULES)


def sanity_repo(work: Path) -> tuple[Path, str]:
    key = make_key("live", "bench-sanity")
    repo = GitRepo(work / "sanity", git_env(work))
    repo.commit_file("settings.py", f"API_KEY = '{key}'\n", "key")
    return repo.path, key


def check_finds_key(tool: Tool, work: Path, key: str) -> None:
    if tool.name == "floor":
        return
    for report in work.glob(f"{tool.name}.json"):
        report.unlink()
    subprocess.run(tool.command, capture_output=True, check=False, timeout=600)
    report = work / f"{tool.name}.json"
    text = report.read_text(errors="replace") if report.exists() else ""
    if key[:12] not in text and key[-4:] not in text:
        raise SystemExit(f"{tool.name} did not find the key in the sanity repository; "
                         f"its rule or options are wrong: {tool.command}")


def clone(name: str, into: Path) -> Path:
    source, mode = MIRRORS[name]
    target = into / f"{name}.git"
    if not target.exists():
        print(f"cloning {source} ({mode}) into {target}", file=sys.stderr)
        subprocess.run(["git", "clone", "-q", mode, str(source), str(target)], check=True)
    return target


def commit_count(repo: Path) -> int:
    out = subprocess.run(["git", "-C", str(repo), "rev-list", "--all", "--count"],
                         capture_output=True, check=True)
    return int(out.stdout)


def time_once(tool: Tool) -> tuple[float, float]:
    """Wall time, and CPU time (user + system) of the tool and every process it waited for."""
    elapsed, cpu, done = timed(tool.command)
    if done.returncode not in (0, 1):
        message = done.stderr.decode(errors="replace").strip().splitlines()[-1:]
        raise SystemExit(f"{tool.name} failed (exit {done.returncode}): {message}")
    return elapsed, cpu


def bench(repo: Path, runs: int, work: Path) -> None:
    rss_file = work / "hvscan.rss"
    selected = tools(repo, work, rss_file)
    times: dict[str, list[float]] = {tool.name: [] for tool in selected}
    cpu: dict[str, list[float]] = {tool.name: [] for tool in selected}
    peak_kib = 0
    for _ in range(runs):
        for tool in selected:
            elapsed, used = time_once(tool)
            times[tool.name].append(elapsed)
            cpu[tool.name].append(used)
            if tool.name == "hvscan":
                peak_kib = max(peak_kib, int(rss_file.read_text()))
    floor = min(times["floor"])
    peers = [name for name in times if name not in ("floor", "hvscan")]
    fastest_peer = min((min(times[name]) for name in peers), default=None)
    print(f"\n{repo.name}: {commit_count(repo):,} commits; {runs} runs; load average "
          f"{loadavg()}")
    print("| tool | best (s) | median (s) | best / floor | fastest peer / best | CPU (s) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, values in times.items():
        best = min(values)
        versus_peer = f"{fastest_peer / best:.2f}x" if fastest_peer and name == "hvscan" else ""
        print(f"| {name} | {best:.2f} | {statistics.median(values):.2f} | "
              f"{best / floor:.2f} | {versus_peer} | {min(cpu[name]):.1f} |")
    print(f"hvscan peak RSS (Python process): {peak_kib / 1024:.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", action="append", type=Path,
                        help="a repository to benchmark (repeatable; default: the mirrors)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--clone-dir", type=Path, default=Path("/tmp/hvscan-bench"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hvscan-bench-") as temporary:
        work = Path(temporary)
        write_configs(work)
        sanity, key = sanity_repo(work)
        for tool in tools(sanity, work, work / "hvscan.rss"):
            check_finds_key(tool, work, key)
        repos = args.repo
        if not repos:
            args.clone_dir.mkdir(parents=True, exist_ok=True)
            repos = [clone(name, args.clone_dir) for name in MIRRORS]
        for repo in repos:
            bench(repo, args.runs, work)


if __name__ == "__main__":
    main()
