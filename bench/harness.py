"""How the benchmarks run what they measure: a command timed in wall-clock and CPU time, hvscan
run so that it reports its own peak memory, an earlier revision of hvscan to compare with, the
machine's load average, and where a tool is found."""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, NamedTuple


class Timed(NamedTuple):
    wall: float
    # User + system seconds of the command, its threads and every process it waited for.
    cpu: float
    done: subprocess.CompletedProcess[bytes]


def timed(argv: Sequence[str], *, stdout: int | IO[bytes] = subprocess.PIPE,
          stderr: int | IO[bytes] = subprocess.PIPE, cwd: Path | None = None,
          env: dict[str, str] | None = None) -> Timed:
    """Run ``argv`` once, without a shell and whatever its exit code; the caller judges that."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(argv, stdout=stdout, stderr=stderr, cwd=cwd, env=env, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return Timed(wall, cpu, done)


def loadavg() -> str:
    """The 1, 5 and 15 minute load averages, to print beside the figures they disturb."""
    try:
        return " ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        return "unknown"


def find_tool(name: str) -> str | None:
    """The program ``name`` next to this interpreter (the virtual environment the benchmark
    runs in, where pip puts peers such as Kingfisher), else on PATH."""
    return shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)


# Runs hvscan's command line in this interpreter; at exit it writes the process's own peak
# resident set (ru_maxrss, KiB) to the file named first. git's children are not counted: they
# are separate processes (a wait4 on the command would fold theirs in).
RSS_WRAPPER = """
import atexit, resource, sys
out = sys.argv.pop(1)
atexit.register(lambda: open(out, "w").write(
    str(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)))
sys.argv[0] = "hvscan"
from hvscan.cli import main
main()
"""


def hvscan_with_rss(rss_file: Path, *args: str) -> list[str]:
    """The argv that runs ``hvscan ARGS`` and leaves its peak memory in ``rss_file``."""
    return [sys.executable, "-c", RSS_WRAPPER, str(rss_file), *args]


def export_revision(repo: Path, revision: str, work: Path) -> Path:
    """hvscan's package and rules at ``revision`` of ``repo``, exported with ``git archive``
    under ``work`` (once per commit): run it with PYTHONPATH set to the returned directory."""
    sha = subprocess.run(["git", "-C", str(repo), "rev-parse", revision], capture_output=True,
                         check=True).stdout.decode().strip()
    target = work / f"baseline-{sha[:12]}"
    if not (target / "hvscan").is_dir():
        target.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile() as archive:
            subprocess.run(["git", "-C", str(repo), "archive", sha, "hvscan", "rules"],
                           stdout=archive, check=True)
            archive.seek(0)
            with tarfile.open(fileobj=archive) as tar:
                tar.extractall(target, filter="data")
    return target
