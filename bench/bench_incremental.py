"""Benchmark: an incremental re-audit (``hvscan git --state FILE``) after one new commit, against
a full audit of the same history, side by side.

    flock /work/wt/bench.lock python bench/bench_incremental.py             # sqlalchemy
    python bench/bench_incremental.py --repo /path/to/bare/mirror --runs 5
    flock /work/wt/bench.lock python bench/bench_incremental.py --many 4 --jobs 2

The repository (default: the sqlalchemy mirror in /work/.mirror) is cloned with ``--mirror``
into a temporary directory, so that the commits the benchmark adds never reach the original.
Then:

1. the first audit with ``--state`` (everything read, the state file written), timed once;
2. each run: a full audit (``hvscan git REPO``, no state), then one new commit on the default
   branch adding a clean file and a re-audit with ``--state``, then one new commit adding a key
   and a re-audit with ``--state`` (its attribution walks only the new commit);
3. at the end, the last re-audit's findings are compared with a full audit's (they must be the
   same), and its statistics must show that only the new blob and the blobs holding keys were
   read.

With ``--many N`` the same over N repositories in one many-repository run (``hvscan git
REPO... --jobs J``, one state file): mirrors of ``--repo`` and of hvscan's own repository,
alternately, the new commits going to the first only; the last re-audit's findings and keys
must equal a full run's.

Times are wall-clock (best and median of the runs) and CPU (user + system of hvscan and every
git process it started, the least of the runs: the steadier figure on a busy machine); peak
memory is hvscan's own Python process (ru_maxrss; git's children are not counted).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, NamedTuple

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from gitrepo import git_env  # noqa: E402
from harness import hvscan_with_rss, loadavg, timed  # noqa: E402
from keygen import make_key  # noqa: E402

MIRROR = Path("/work/.mirror/sqlalchemy+sqlalchemy/repo")
# hvscan's own repository (flask's mirror in /work/.mirror lacks an object: no audit of it is
# complete, so none is recorded).
OTHER = HERE.parent


def git(repo: Path, *args: str, env: dict[str, str], input: bytes | None = None) -> str:
    done = subprocess.run(["git", "-C", str(repo), *args], input=input, env=env,
                          capture_output=True, check=True)
    return done.stdout.decode().strip()


def add_commit(repo: Path, name: str, content: str, env: dict[str, str]) -> str:
    """One new commit on HEAD's branch of the bare ``repo`` adding file ``name``."""
    index = {**env, "GIT_INDEX_FILE": str(repo / "bench-index")}
    git(repo, "read-tree", "HEAD", env=index)
    blob = git(repo, "hash-object", "-w", "--stdin", env=index, input=content.encode())
    git(repo, "update-index", "--add", "--cacheinfo", f"100644,{blob},{name}", env=index)
    tree = git(repo, "write-tree", env=index)
    commit = git(repo, "commit-tree", tree, "-p", "HEAD", "-m", f"add {name}", env=index)
    git(repo, "update-ref", "HEAD", commit, env=index)
    os.unlink(repo / "bench-index")
    return commit


class Audit(NamedTuple):
    wall: float
    cpu: float  # user + system of hvscan and every git process it started
    report: dict[str, Any]
    rss_kib: int


def audit(repos: list[Path], work: Path, *options: str) -> Audit:
    """Times, JSON report and peak RSS (of the command's process) of ``hvscan git REPO...
    OPTIONS``."""
    report, rss = work / "report.json", work / "hvscan.rss"
    wall, cpu, done = timed(hvscan_with_rss(rss, "git", *map(str, repos), "--no-progress",
                                          "--format", "json", "-o", str(report), *options))
    if done.returncode not in (0, 1):
        raise SystemExit(f"hvscan failed (exit {done.returncode}): "
                         f"{done.stderr.decode(errors='replace').strip()}")
    return Audit(wall, cpu, json.loads(report.read_text()), int(rss.read_text()))


def row(name: str, audits: list[Audit], full: float) -> str:
    best = min(a.wall for a in audits)
    return (f"| {name} | {best:.2f} | {statistics.median(a.wall for a in audits):.2f} | "
            f"{100 * best / full:.1f}% | {min(a.cpu for a in audits):.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", type=Path, default=MIRROR,
                        help="a bare repository or mirror to clone (default: sqlalchemy's)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--many", type=int, default=1, metavar="N",
                        help="audit N repositories in one run (mirrors of --repo and hvscan's)")
    parser.add_argument("--jobs", type=int, default=2, help="--jobs of a run with --many")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hvscan-bench-incremental-") as temporary:
        work = Path(temporary)
        env = git_env(work / "home")
        sources = [args.repo if n % 2 == 0 else OTHER for n in range(args.many)]
        repos = [work / f"repo-{n}.git" for n in range(args.many)]
        for source, repo in zip(sources, repos, strict=True):
            subprocess.run(["git", "clone", "-q", "--mirror", str(source), str(repo)],
                           check=True)
        options = ("--jobs", str(args.jobs)) if args.many > 1 else ()
        state = ("--state", str(work / "state.sqlite3"), *options)
        first = audit(repos, work, *state)
        full: list[Audit] = []
        clean: list[Audit] = []
        keyed: list[Audit] = []
        for run in range(args.runs):
            full.append(audit(repos, work, *options))
            add_commit(repos[0], f"bench-clean-{run}.txt", f"nothing to see {run}\n", env)
            clean.append(audit(repos, work, *state))
            key = make_key("live", f"bench-incremental-{run}")
            add_commit(repos[0], f"bench_key_{run}.py", f"API_KEY = '{key}'\n", env)
            keyed.append(audit(repos, work, *state))
        reference = audit(repos, work, *options).report
        last = keyed[-1].report
        if (last["findings"], last["keys"]) != (reference["findings"], reference["keys"]):
            raise SystemExit("the incremental re-audit's findings differ from a full audit's")
        commits = sum(int(git(repo, "rev-list", "--all", "--count", env=env)) for repo in repos)
        best_full = min(a.wall for a in full)
        peak = max(a.rss_kib for a in [first, *full, *clean, *keyed])
        what = (str(args.repo) if args.many == 1 else
                f"{args.many} repositories ({', '.join(sorted(map(str, set(sources))))}), "
                f"--jobs {args.jobs}")
        print(f"\n{what}: {commits:,} commits; {args.runs} runs; load average {loadavg()}")
        print(f"first audit with --state (reads everything, writes the state): "
              f"{first.wall:.2f} s")
        print("| audit | best (s) | median (s) | best / full audit | CPU (s) |")
        print("| --- | ---: | ---: | ---: | ---: |")
        print(row("full audit (no state)", full, best_full))
        print(row("re-audit after a clean commit", clean, best_full))
        print(row("re-audit after a commit adding a key", keyed, best_full))
        print(f"last re-audit: {last['stats']['files_scanned']} files read, "
              f"{len(last['findings'])} findings, the same as a full audit's")
        print(f"hvscan peak RSS (the command's Python process): {peak / 1024:.0f} MB")


if __name__ == "__main__":
    main()
