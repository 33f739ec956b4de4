"""Benchmark: many repositories and shard merging (docs/scale.md).

    flock /work/wt/bench.lock python bench/bench_repos.py            # 40 repositories, --jobs 2
    flock /work/wt/bench.lock python bench/bench_repos.py --forms urls --repos 10 \
        --merge-reports 20
    flock /work/wt/bench.lock python bench/bench_repos.py --skip-repos   # the merge only

1. ``--repos`` bare clones (hard-linked, under different names) of real projects: flask's
   mirror in /work/.mirror and hvscan's own repository, alternately, measured in two forms
   (``--forms``, both by default):

   - ``urls``, an organisation's audit: each clone given as a ``file://`` URL, mirrored into
     a clone directory under ``--work`` by a first run that is not timed; every timed run
     fetches its mirrors again, as a real run does. Audits of mirrors share the objects they
     screened clean (hvscan/shared.py): the many-repository run reads each project's objects
     about once per worker.
   - ``local``: each clone given as a path. No sharing: a local repository's objects may not
     match their ids (docs/security.md).

   Each is audited alone (``hvscan git REPO``, one after the other: the sum of their wall
   times), then all at once (``hvscan git --repos-file LIST --jobs J``). Target: the
   many-repository run within 1.2x of the sum / J. While it runs, the memory of hvscan's own
   processes (the command and its worker processes, git's children not counted) is sampled
   every 20 ms from /proc and summed: its peak is shown (target: under 200 MB). Each process
   counts its proportional set size (Pss: pages shared with the others, as the workers share
   the command's copy-on-write, count once in the sum); the peak summed resident set (Rss,
   shared pages counted in each) is shown too.
2. ``--merge-reports`` JSON shard reports of ``--findings`` findings each (generated: 10
   repositories a report, keys shared across reports; written as a shard run writes its
   report, indented) joined with ``hvscan merge --format json``. Target: under 2 s.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from harness import loadavg, timed  # noqa: E402

SOURCES = [Path("/work/.mirror/pallets+flask/repo"), HERE.parent]
HVSCAN = [sys.executable, "-m", "hvscan"]


def make_repos(count: int, work: Path) -> list[Path]:
    repos = []
    for n in range(count):
        source = SOURCES[n % len(SOURCES)]
        target = work / f"{source.parent.name if source.name == 'repo' else 'hvscan'}-{n:02d}.git"
        if not target.is_dir():
            subprocess.run(["git", "clone", "-q", "--bare", str(source), str(target)],
                           check=True)
        repos.append(target)
    return repos


class Sampler(threading.Thread):
    """Peaks of the summed memory (Pss and Rss) of ``pid`` and its Python descendants."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = self.peak_rss = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            pss, rss = self._total()
            self.peak, self.peak_rss = max(self.peak, pss), max(self.peak_rss, rss)
            time.sleep(0.02)

    def _total(self) -> tuple[int, int]:
        children: dict[int, list[int]] = {}
        names: dict[int, str] = {}
        rss: dict[int, int] = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                status = Path(f"/proc/{entry}/status").read_text()
            except OSError:
                continue
            fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
            pid = int(entry)
            children.setdefault(int(fields["PPid"]), []).append(pid)
            names[pid] = fields["Name"].strip()
            rss[pid] = int(fields.get("VmRSS", "0 kB").split()[0]) * 1024
        pss = total_rss = 0
        todo = [self.pid]
        while todo:
            pid = todo.pop()
            if names.get(pid, "").startswith("python"):  # hvscan's own, not git
                pss += _pss(pid)
                total_rss += rss.get(pid, 0)
            todo += children.get(pid, [])
        return pss, total_rss


def _pss(pid: int) -> int:
    try:
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0
    return next((int(line.split()[1]) * 1024 for line in rollup.splitlines()
                 if line.startswith("Pss:")), 0)


def many_repositories(count: int, jobs: int, work: Path, form: str) -> None:
    repos = make_repos(count, work)
    names = [f"file://{repo}" for repo in repos] if form == "urls" else [str(r) for r in repos]
    clones = ["--clone-dir", str(work / "clones")] if form == "urls" else []
    listing = work / f"repos-{form}.txt"
    listing.write_text("".join(f"{name}\n" for name in names))
    if form == "urls":  # not timed: the mirrors are made
        warm = subprocess.run([*HVSCAN, "git", "--repos-file", str(listing), *clones, "--jobs",
                               str(jobs), "--format", "json", "-o", os.devnull],
                              capture_output=True, check=False)
        assert warm.returncode in (0, 1), warm.stderr
    single = single_cpu = 0.0
    for name in names:
        run = timed([*HVSCAN, "git", name, *clones, "--format", "json", "-o", os.devnull])
        assert run.done.returncode in (0, 1), run.done.stderr
        single += run.wall
        single_cpu += run.cpu
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    process = subprocess.Popen([*HVSCAN, "git", "--repos-file", str(listing), *clones,
                                "--jobs", str(jobs), "--format", "json", "-o",
                                str(work / f"all-{form}.json")], stderr=subprocess.PIPE)
    sampler = Sampler(process.pid)
    sampler.start()
    _, stderr = process.communicate()
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    sampler.stop.set()
    sampler.join()
    assert process.returncode in (0, 1), stderr
    ideal = single / jobs
    print(f"{count} repositories as {'file:// URLs' if form == 'urls' else 'local paths'}, "
          f"--jobs {jobs}: many-repository run {wall:.1f} s; "
          f"sum of single audits {single:.1f} s, / {jobs} = {ideal:.1f} s; "
          f"ratio {wall / ideal:.2f} (target <= 1.2)")
    print(f"CPU time (hvscan and git): many-repository run {cpu:.1f} s, single audits "
          f"{single_cpu:.1f} s")
    print(f"peak memory of hvscan's processes (summed Pss): {sampler.peak / 2**20:.0f} MB "
          f"(target < 200 MB); summed Rss {sampler.peak_rss / 2**20:.0f} MB")


def shard_report(index: int, findings: int) -> dict[str, object]:
    """A shard's JSON report: ``findings`` findings over 10 repositories; keys shared across
    shards (key n of every shard is the same key)."""
    from hvscan import __version__

    found, keys = [], {}
    for n in range(findings):
        repository = f"https://example.invalid/org/repo-{index:03d}-{n % 10}"
        sha = f"{n % 500:064x}"
        found.append({
            "rule_id": "hesedvid-live-key", "description": "HesedVid live key",
            "key_type": "live", "severity": "high", "path": f"src/module_{n}.py",
            "line": n % 90 + 1, "column": 8, "source": "history", "encoding": "plain",
            "secret_redacted": "hv_live_Ab3d...9xYz", "secret_sha256": sha,
            "fingerprint": f"{index:04d}{n:028x}", "commit": f"{n:040x}",
            "author": "Ada <ada@example.invalid>", "date": "2024-03-01T12:00:00+00:00",
            "verification": None, "remediation": "Revoke the key.", "blob": f"{n:040x}",
            "other_commits": 0, "other_paths": 0, "repository": repository})
        intro = {"commit": f"{n:040x}", "path": f"src/module_{n}.py", "author": "Ada",
                 "date": f"2024-03-{n % 28 + 1:02d}T12:00:00+00:00", "source": "history",
                 "unreachable": False, "repository": repository}
        key = keys.setdefault(sha, {
            "secret_sha256": sha, "rule_id": "hesedvid-live-key", "key_type": "live",
            "severity": "high", "secret_redacted": "hv_live_Ab3d...9xYz",
            "verification": None, "findings": 0, "first": None, "introductions": [],
            "in_head": False, "head_paths": [], "removed_in": [], "refs": ["refs/heads/main"],
            "pushed": False, "remediation": "Revoke the key.", "repositories": []})
        key["findings"] += 1
        key["introductions"].append(intro)
        key["repositories"] = sorted({*key["repositories"], repository})
    return {"tool": "hvscan", "version": __version__, "findings": found,
            "stats": {"files_scanned": 1000, "bytes_scanned": 10**7, "findings": findings},
            "skipped": [], "errors": [], "notes": [], "keys": list(keys.values()),
            "scan": {"command": "git", "repository": None, "head": None, "refs": None,
                     "started": "2026-12-06T06:00:00Z", "duration": 10.0,
                     "repositories": [{"repository": f"https://example.invalid/org/"
                                       f"repo-{index:03d}-{r}", "head": "0" * 40,
                                       "refs": ["refs/heads/main"], "error": None}
                                      for r in range(10)]}}


def merging(reports: int, findings: int, work: Path) -> None:
    from hvscan.report import ReportOptions
    from hvscan.report.merge import render

    paths = []
    for index in range(reports):
        path = work / f"shard-{index:03d}.json"
        # As a shard run writes its report.
        path.write_text(render(shard_report(index, findings), "json", ReportOptions()))
        paths.append(str(path))
    size = sum(os.path.getsize(path) for path in paths)
    run = timed([*HVSCAN, "merge", *paths, "--format", "json", "-o", str(work / "merged.json")])
    assert run.done.returncode == 1, run.done.stderr
    merged = json.loads((work / "merged.json").read_text())
    assert len(merged["findings"]) == reports * findings
    print(f"merge of {reports} reports x {findings:,} findings ({size / 2**20:.0f} MB of JSON, "
          f"{len(merged['keys'])} keys): {run.wall:.2f} s wall, {run.cpu:.2f} s CPU "
          "(target < 2 s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repos", type=int, default=40)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--merge-reports", type=int, default=100)
    parser.add_argument("--findings", type=int, default=1000)
    parser.add_argument("--work", type=Path,
                        default=Path(tempfile.gettempdir()) / "hvscan-bench-repos")
    parser.add_argument("--forms", choices=("both", "urls", "local"), default="both",
                        help="the repositories as file:// URLs (mirrored), as local paths, or both")
    parser.add_argument("--skip-repos", action="store_true")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    print(f"load average before: {loadavg()}")
    if not args.skip_repos:
        for form in ("urls", "local") if args.forms == "both" else (args.forms,):
            many_repositories(args.repos, args.jobs, args.work, form)
    merging(args.merge_reports, args.findings, args.work)
    print(f"load average after: {loadavg()}")


if __name__ == "__main__":
    main()
