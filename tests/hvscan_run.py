"""The type of the ``run_hvscan`` fixture (conftest.py): runs the installed console script with
the given arguments and returns the finished process."""

from __future__ import annotations

import subprocess
from collections.abc import Callable

Run = Callable[..., subprocess.CompletedProcess[bytes]]
