"""State files of incremental audits (hvscan/state.py) made to fail as a full disk does, for the
tests of one repository's and several repositories' audits."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

# The error of an audit whose record could not be written to a full state file.
NOT_UPDATED = ("state not updated (database or disk is full): the next audit reads again what "
               "this one read")


def fill_up(store: Path, how: str = "ROLLBACK") -> None:
    """Make every later record in ``store`` fail as a full disk does: SQLite rolls the
    transaction back itself (``ROLLBACK``), or only the statement (``ABORT``)."""
    with closing(sqlite3.connect(store)) as db:
        db.execute(f"CREATE TRIGGER full BEFORE INSERT ON tips BEGIN "
                   f"SELECT RAISE({how}, 'database or disk is full'); END")


def make_room(store: Path) -> None:
    """Undo ``fill_up``."""
    with closing(sqlite3.connect(store)) as db:
        db.execute("DROP TRIGGER full")
