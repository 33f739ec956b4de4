"""How the benchmarks run what they measure: a command timed in wall-clock and CPU time, the
machine's load average, and where a tool is found."""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
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
