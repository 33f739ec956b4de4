"""The state file of incremental history audits (``hvscan git --state FILE``, ``--incremental``):
an SQLite database (the standard library's ``sqlite3``) that remembers, per repository, what its
last audit read and what it found there.

Per repository (its git directory's real path) and *fingerprint* (hvscan's version and code, the
rules, every file the user added included, the decoding and archive limits and
``--max-file-size``: everything that changes what a read object gives) it holds:

- the ``tips`` the audit started from: every object they reach was read;
- the ``objects`` in which the engine found something (findings or notes), with counts;
- the ``matches`` in them: rule, key hash (SHA-256), redacted key, member path (keys in it
  redacted), line, column and encoding. Never a full key: an incremental audit reads the flagged
  objects again, which recovers the keys in memory for verification and --show-secrets;
- the ``changes`` that set a file to a flagged blob (commit, parents, time, author, path, old
  and new blob): attribution then walks only the commits that are new (``sources/delta.py``).
- what attribution's walk of the commit graph learnt (``githistory.Reach``): the tip commits
  it started from (``reach_tips``) and, for each commit it asked about (those introducing or
  removing a key), which of them reach it (``reaching``): the next walk lists only the commits
  those tips do not reach.

A repository recorded with another fingerprint is read whole again (and recorded anew). A file
that is not an SQLite database, or one that another program made (its ``application_id``, its
``user_version`` and the ``hvscan_state`` table say so), is refused with one line: hvscan never
writes into it. Deleting the file is always safe: the next audit reads everything. Several runs
may share one file: it is in WAL mode, each write is one transaction, and a writer waits for
another (``busy_timeout``) rather than failing.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from hvscan import __version__
from hvscan.attribution import message_oid
from hvscan.keys import utc_now
from hvscan.shared import screen_key
from hvscan.shown import redact_keys
from hvscan.sources.delta import Since
from hvscan.sources.githistory import Commit, CommitChange, Reach

if TYPE_CHECKING:
    from collections.abc import Iterable

    from hvscan.engine import Engine
    from hvscan.model import Finding, History, Note

APPLICATION_ID = 0x68767363  # "hvsc"
SCHEMA_VERSION = 2  # 2: the reach tables
FORMAT = "hvscan incremental state"
# Seconds a run waits for another run's write to the same file.
BUSY_TIMEOUT = 60.0

_SCHEMA = """
CREATE TABLE hvscan_state (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE repositories (
    id INTEGER PRIMARY KEY,
    repository TEXT NOT NULL UNIQUE,
    fingerprint TEXT NOT NULL,
    version TEXT NOT NULL,
    audited TEXT NOT NULL,
    changes_known INTEGER NOT NULL
);
CREATE TABLE tips (
    repository INTEGER NOT NULL,
    oid TEXT NOT NULL,
    PRIMARY KEY (repository, oid)
) WITHOUT ROWID;
CREATE TABLE objects (
    repository INTEGER NOT NULL,
    oid TEXT NOT NULL,
    findings INTEGER NOT NULL,
    notes INTEGER NOT NULL,
    PRIMARY KEY (repository, oid)
) WITHOUT ROWID;
CREATE TABLE matches (
    repository INTEGER NOT NULL,
    oid TEXT NOT NULL,
    source TEXT NOT NULL,
    rule_id TEXT NOT NULL,
    secret_sha256 TEXT NOT NULL,
    secret_redacted TEXT NOT NULL,
    member TEXT,
    line INTEGER NOT NULL,
    "column" INTEGER NOT NULL,
    encoding TEXT NOT NULL
);
CREATE INDEX matches_by_object ON matches (repository, oid);
CREATE TABLE reach_tips (
    repository INTEGER NOT NULL,
    oid TEXT NOT NULL,
    PRIMARY KEY (repository, oid)
) WITHOUT ROWID;
CREATE TABLE reaching (
    repository INTEGER NOT NULL,
    commit_oid TEXT NOT NULL,
    tips TEXT NOT NULL,
    PRIMARY KEY (repository, commit_oid)
) WITHOUT ROWID;
CREATE TABLE changes (
    repository INTEGER NOT NULL,
    sequence INTEGER NOT NULL,
    path TEXT NOT NULL,
    old TEXT,
    new TEXT NOT NULL,
    commit_oid TEXT NOT NULL,
    parents TEXT NOT NULL,
    time INTEGER NOT NULL,
    date TEXT NOT NULL,
    author TEXT NOT NULL
);
"""


class StateError(Exception):
    """The state file cannot be used; the message is one line."""


class NotRecorded(StateError):
    """An audit's entry could not be written (the disk full, the file made read-only): the
    transaction is rolled back, the file keeps the last audit's entry, and the next audit reads
    again what this one read. ``detail``: the message without the file's name."""

    def __init__(self, path: Path, reason: str) -> None:
        self.path = path
        self.detail = (f"state not updated ({reason}): the next audit reads again what this "
                       "one read")
        super().__init__(f"{path}: {self.detail}")


class Flagged(NamedTuple):
    """What the engine found in one object: findings and notes (before attribution)."""

    findings: list[Finding]
    notes: int


def default_path() -> Path:
    """``--incremental``'s file: ``$XDG_CACHE_HOME/hvscan/state.sqlite3`` (default
    ``~/.cache``)."""
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "hvscan" / "state.sqlite3"


def code_digest() -> str:
    """The SHA-256 of hvscan's own code and built-in rules, as installed: a development build
    whose version did not move still invalidates what an older build recorded."""
    package = Path(__file__).parent
    digest = hashlib.sha256()
    for path in sorted([*package.rglob("*.py"), *package.rglob("*.toml")]):
        digest.update(str(path.relative_to(package)).encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()


def fingerprint(engine: Engine, max_file_size: int | None) -> str:
    """What decides what an object gives: hvscan's version and code, and ``shared.screen_key``
    (the rules, where a rule file lies not part of it, the engine's limits and the size limit)."""
    material = repr((__version__, code_digest(), screen_key(engine, max_file_size)))
    return hashlib.sha256(material.encode("utf-8", "surrogateescape")).hexdigest()


class Store:
    """An open state file (created when missing); StateError when it is not one of hvscan's."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Readable by its owner only, as the verification cache: it names what was found
            # where (SQLite gives its -wal and -shm files the same mode).
            with contextlib.suppress(FileExistsError):
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC,
                                 0o600))
            self._db = sqlite3.connect(path, timeout=BUSY_TIMEOUT, isolation_level=None)
        except OSError as exc:
            raise StateError(f"{path}: cannot create the state file ({exc.strerror})") from None
        except sqlite3.Error as exc:
            raise self._error(exc) from None
        try:
            self._open()
        except sqlite3.Error as exc:
            self._db.close()
            raise self._error(exc) from None
        except StateError:
            self._db.close()
            raise

    def _open(self) -> None:
        db = self._db
        db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT * 1000)}")
        if self._is_new():
            db.execute("BEGIN IMMEDIATE")
            if self._is_new():  # no other run made it meanwhile
                db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.execute("INSERT INTO hvscan_state VALUES ('format', ?)", (FORMAT,))
            db.execute("COMMIT")
        self._check()
        db.execute("PRAGMA journal_mode = WAL")

    def _is_new(self) -> bool:
        """An empty database (a new or empty file): nothing of anyone's in it."""
        application_id: int = self._db.execute("PRAGMA application_id").fetchone()[0]
        tables: int = self._db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        return application_id == 0 and tables == 0

    def _check(self) -> None:
        db = self._db
        if db.execute("PRAGMA application_id").fetchone()[0] != APPLICATION_ID:
            raise StateError(f"{self.path}: not an hvscan state file (another program's "
                             "database); name another file")
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version != SCHEMA_VERSION:
            raise StateError(f"{self.path}: hvscan state file of another format ({version}, "
                             f"this hvscan reads {SCHEMA_VERSION}); delete it (the next audit "
                             "reads everything)")
        row = db.execute("SELECT value FROM hvscan_state WHERE name = 'format'").fetchone()
        if row is None or row[0] != FORMAT:
            raise StateError(f"{self.path}: not an hvscan state file (no format record); "
                             "delete it (the next audit reads everything)")

    def _error(self, exc: sqlite3.Error) -> StateError:
        return StateError(f"{self.path}: cannot use the state file ({_reason(exc)}); delete "
                          "it (the next audit reads everything) or name another file")

    def since(self, repository: str, mark: str) -> Since | None:
        """What the last audit of ``repository`` with fingerprint ``mark`` read; None when there
        was none (or with another fingerprint: all must be read again)."""
        db = self._db
        try:
            # One read transaction: the entry as one audit recorded it, though another run (of
            # this repository, in another process) may replace it meanwhile.
            db.execute("BEGIN")
            try:
                return self._since(repository, mark)
            finally:
                if db.in_transaction:  # (an error may have ended it)
                    db.execute("COMMIT")
        except sqlite3.Error as exc:
            raise self._error(exc) from None

    def _since(self, repository: str, mark: str) -> Since | None:
        db = self._db
        row = db.execute("SELECT id, fingerprint, changes_known FROM repositories "
                         "WHERE repository = ?", (repository,)).fetchone()
        if row is None or row[1] != mark:
            return None
        key = row[0]
        tips = db.execute("SELECT oid FROM tips WHERE repository = ? ORDER BY oid",
                          (key,)).fetchall()
        flagged = db.execute("SELECT oid FROM objects WHERE repository = ? ORDER BY oid",
                             (key,)).fetchall()
        known = None
        if row[2]:
            known = tuple(
                CommitChange(Commit(oid, tuple(parents.split()), time, date, author),
                             sequence, path, old, new)
                for sequence, path, old, new, oid, parents, time, date, author in db.execute(
                    "SELECT sequence, path, old, new, commit_oid, parents, time, date, "
                    "author FROM changes WHERE repository = ?", (key,)).fetchall())
        reach = _reach(db, key)
        return Since(tuple(tip for (tip,) in tips), tuple(oid for (oid,) in flagged), known,
                     reach)

    def record(self, repository: str, mark: str, tips: list[str],
               flagged: dict[str, Flagged], found: list[CommitChange], engine: Engine,
               reach: Reach | None = None) -> None:
        """Replace what is known of ``repository``: the ``tips`` read from, the ``flagged``
        objects (keys in member paths redacted with ``engine``), the changes ``found`` that
        set files to flagged blobs and what the walk of the commit graph learnt (``reach``),
        in one transaction. Changes are kept only when no path or author in them spells a key
        (``engine`` looks): the next audit walks all again. NotRecorded when the file cannot
        be written."""
        audited = utc_now()
        keep = not any(redact_keys(change.path, engine) != change.path
                       or redact_keys(change.commit.author, engine) != change.commit.author
                       for change in found)
        db = self._db
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                row = db.execute("SELECT id FROM repositories WHERE repository = ?",
                                 (repository,)).fetchone()
                if row is not None:
                    for table in ("tips", "objects", "matches", "changes", "reach_tips",
                                  "reaching"):
                        db.execute(f"DELETE FROM {table} WHERE repository = ?",  # noqa: S608
                                   (row[0],))
                    db.execute("UPDATE repositories SET fingerprint = ?, version = ?, "
                               "audited = ?, changes_known = ? WHERE id = ?",
                               (mark, __version__, audited, keep, row[0]))
                    key = row[0]
                else:
                    key = db.execute("INSERT INTO repositories (repository, fingerprint, "
                                     "version, audited, changes_known) VALUES (?, ?, ?, ?, ?)",
                                     (repository, mark, __version__, audited, keep)).lastrowid
                db.executemany("INSERT INTO tips VALUES (?, ?)", ((key, tip) for tip in tips))
                db.executemany("INSERT INTO objects VALUES (?, ?, ?, ?)",
                               ((key, oid, len(got.findings), got.notes)
                                for oid, got in flagged.items()))
                db.executemany("INSERT INTO matches VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                               _match_rows(key, flagged, engine))
                db.executemany("INSERT INTO changes VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                               ((key, c.sequence, c.path, c.old, c.new, c.commit.oid,
                                 " ".join(c.commit.parents), c.commit.time, c.commit.date,
                                 c.commit.author) for c in (found if keep else [])))
                if reach is not None:
                    db.executemany("INSERT INTO reach_tips VALUES (?, ?)",
                                   ((key, tip) for tip in sorted(reach.tips)))
                    db.executemany("INSERT INTO reaching VALUES (?, ?, ?)",
                                   ((key, commit, " ".join(sorted(tips)))
                                    for commit, tips in reach.reaching.items()))
                db.execute("COMMIT")
            except BaseException:
                # SQLite may have rolled it back itself (a full disk, an I/O error): a
                # ROLLBACK then fails and its message would hide the reason.
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise NotRecorded(self.path, _reason(exc)) from None

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _reason(exc: sqlite3.Error) -> str:
    """SQLite's reason for a failure, one line."""
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _reach(db: sqlite3.Connection, key: int) -> Reach | None:
    """What the last audit's walk of the commit graph learnt (None: nothing)."""
    tips = frozenset(tip for (tip,) in db.execute(
        "SELECT oid FROM reach_tips WHERE repository = ?", (key,)))
    if not tips:
        return None
    return Reach(tips, {commit: frozenset(reaching.split()) for commit, reaching in db.execute(
        "SELECT commit_oid, tips FROM reaching WHERE repository = ?", (key,))})


def _match_rows(key: int, flagged: dict[str, Flagged],
                engine: Engine) -> Iterable[tuple[object, ...]]:
    for oid, got in flagged.items():
        for finding in got.findings:
            # Before attribution a blob's finding's path is the archive member's, if any: a
            # name from the scanned content, which may spell a key.
            member = redact_keys(finding.path, engine) if finding.path else None
            yield (key, oid, finding.source, finding.rule_id, finding.secret_sha256,
                   finding.secret_redacted, member, finding.line, finding.column,
                   finding.encoding)


def flagged_objects(findings: list[Finding], notes: list[Note],
                    reachable: set[str]) -> dict[str, Flagged]:
    """The objects refs reach that the pipeline's ``findings`` and ``notes`` (before
    attribution) are about, by id."""
    flagged: dict[str, Flagged] = {}
    for finding in findings:
        oid = object_id(finding.source, finding.commit, finding.history)
        if oid is not None and oid in reachable:
            flagged.setdefault(oid, Flagged([], 0)).findings.append(finding)
    for note in notes:
        oid = object_id(note.source, note.commit, note.history)
        if oid is not None and oid in reachable:
            got = flagged.get(oid, Flagged([], 0))
            flagged[oid] = got._replace(notes=got.notes + 1)
    return flagged


def object_id(source: str, commit: str | None, history: History | None) -> str | None:
    """The object a history finding or note is about: its blob, or the commit or tag object
    whose message it is in."""
    if history is not None and history.blob:
        return history.blob
    return message_oid(source, commit, history)
