"""What /proc says about the processes a test started, and what they started in turn: the
tests that stop a run check that nothing of it is left running (Linux only)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple


class Process(NamedTuple):
    pid: int
    name: str
    state: str
    parent: int
    group: int
    session: int

    def __str__(self) -> str:
        return f"{self.pid} ({self.name}) {self.state}"


def processes() -> list[Process]:
    """Every process /proc lists."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text()
        except (OSError, ValueError):  # not a process, or one that just ended
            continue
        name_starts, name_ends = stat.index("("), stat.rindex(")")
        state, parent, group, session = stat[name_ends + 2:].split()[:4]
        found.append(Process(int(stat[:name_starts]), stat[name_starts + 1:name_ends], state,
                             int(parent), int(group), int(session)))
    return found


def running(where: list[Process]) -> list[str]:
    """The processes of ``where`` still running, each as ``pid (name) state``. Not the zombies:
    they have ended, and only wait for whoever adopted them (a stopped worker's git, say) to
    collect their exit status."""
    return [str(process) for process in where if process.state != "Z"]


def in_group(group: int) -> list[str]:
    """The processes of process group ``group`` still running."""
    return running([process for process in processes() if process.group == group])


def in_sessions(sessions: set[int]) -> list[str]:
    """The processes of the sessions ``sessions`` still running: a process keeps its session
    when its parent dies and it is adopted, which its parent chain does not show."""
    return running([process for process in processes() if process.session in sessions])


def still_running(look: Callable[[], list[str]], since: float, within: float = 10) -> list[str]:
    """What ``look`` finds still running once it finds nothing, or ``within`` seconds after
    ``since`` (a time.monotonic() reading: when the run was stopped)."""
    left = look()
    while left and time.monotonic() - since < within:
        time.sleep(0.1)
        left = look()
    return left


def assert_stopped(left: list[str], returncode: int, code: int, out: bytes, err: bytes,
                   line: str) -> None:
    """A stopped run left nothing running, exited ``code`` and said one ``line``, no more."""
    assert left == []
    assert returncode == code, err
    assert err.decode().strip() == line and out == b""


def descendants(pid: int) -> list[Process]:
    """The processes ``pid`` started, and those they started, as they are now."""
    children: dict[int, list[Process]] = {}
    for process in processes():
        children.setdefault(process.parent, []).append(process)
    found, waiting = [], [pid]
    while waiting:
        for child in children.get(waiting.pop(), []):
            found.append(child)
            waiting.append(child.pid)
    return found
