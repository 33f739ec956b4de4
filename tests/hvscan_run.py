"""The type of the ``run_hvscan`` fixture (conftest.py): runs the installed console script with
the given arguments and returns the finished process. ``entry_and_full`` runs hvscan's entry
point (the fast path first) and the full command line alike, and checks they say the same."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

Run = Callable[..., subprocess.CompletedProcess[bytes]]

# hvscan's entry point, saying on stderr whether the run needed click (the full command line).
ENTRY = ("import sys\nfrom hvscan import fastpath\nsys.argv[0] = 'hvscan'\ntry:\n"
         "    fastpath.main()\nfinally:\n"
         "    sys.stderr.write(f'click imported: {\"click\" in sys.modules}\\n')\n")


FULL_ENTRY = "import sys\nfrom hvscan.cli import main\nsys.argv[0] = 'hvscan'\nmain()\n"


# The scan record's time (JSON, JSONL, SARIF): when each of the two runs started and how long
# it took, which no two runs share.
_TIMES = re.compile(rb'("started": ?)"[^"]*"|("duration": ?)[0-9.e-]+')


def untimed(output: bytes) -> bytes:
    """``output`` with the scan record's start and duration blanked."""
    return _TIMES.sub(lambda m: (m.group(1) or m.group(2)) + b"null", output)


def entry_and_full(cwd: Path, *args: str, env: dict[str, str] | None = None,
                   ) -> tuple[subprocess.CompletedProcess[bytes], bool]:
    """What `hvscan ARGS` does, checked against the full command line (same output and exit
    code), and whether it took the full command line."""
    entry = subprocess.run([sys.executable, "-c", ENTRY, *args], cwd=cwd, env=env,
                           capture_output=True, check=False)
    full = subprocess.run([sys.executable, "-c", FULL_ENTRY, *args], cwd=cwd, env=env,
                          capture_output=True, check=False)
    assert ((entry.returncode, untimed(entry.stdout))
            == (full.returncode, untimed(full.stdout)))
    assert entry.stderr.endswith(b"click imported: False\n") or entry.stderr.endswith(
        b"click imported: True\n"), entry.stderr
    assert entry.stderr.replace(b"click imported: False\n", b"").replace(
        b"click imported: True\n", b"") == full.stderr
    return entry, entry.stderr.endswith(b"True\n")
