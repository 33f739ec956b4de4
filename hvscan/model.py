"""The records every floor shares: where bytes came from, what the engine found in them, and
the findings and notes reports show. The bottom floor: it imports nothing of hvscan at run time.

- ``Origin``: where a blob came from (a path, a commit, a history record).
- ``Match`` and ``BlobNote``: what the engine found in one blob, placed by byte offsets and by
  archive member (``member_path`` joins a blob's path and a member's name).
- ``Finding``: a match placed in its origin, redacted, hashed and fingerprinted
  (``hvscan.findings.make_finding`` makes them); ``Note``: a ``BlobNote`` placed likewise.
- ``History``: what only a history audit knows about a finding (the blob, the other commits and
  paths carrying the key, unreachable history, the tag whose message holds it).

A key in a file's or directory's name rather than in its content has the file's path (a
directory's with a trailing ``/``) and ``in_name`` set, on its ``Origin`` and its ``Finding``:
one marker, which every report format shows (docs/report-format.md, "Keys in names"). A key in
an archive member's name is the engine's find: ``in_name`` on its ``Match``, and the finding's
path the member's (``outer.zip!conf/NAME``).

Records that never change are ``NamedTuple``s and ``Finding`` is a plain class, not a
dataclass: every run defines them, and a dataclass costs every start-up the import of
``dataclasses`` and about 1 ms per class (docs/performance.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from hvscan.rules import Rule


def member_path(path: str | None, member: str | None) -> str | None:
    """The path of an archive member: ``outer.zip!inner/file`` (nested: ``a.zip!b.jar!c``)."""
    if member is None:
        return path
    return f"{path}!{member}" if path else member


def place(path: str | None, source: str, history: History | None,
          in_name: bool = False) -> str:
    """Where a finding or note is, as the text report shows it: its path (``path (name)`` for a
    key in the name), else the blob that holds it (a blob no commit adds), else its source
    (``(commit-message)``)."""
    if path:
        return f"{path}{NAME_MARK}" if in_name else path
    if source == "history" and history is not None and history.blob:
        return f"(blob {history.blob})"
    return f"({source})"


# How the human-readable formats mark a place whose name, not content, holds the key.
NAME_MARK = " (name)"


def moment(date: str | None) -> float:
    """An ISO 8601 date as a timestamp, for sorting oldest first (whatever the time zones); no
    date sorts last, and so does one that is not a date (a JSON report given to ``hvscan
    merge`` may hold anything): the one reading of a date that every sort uses."""
    if not date:
        return float("inf")
    import datetime

    try:
        return datetime.datetime.fromisoformat(date).timestamp()
    except ValueError:
        return float("inf")


class History(NamedTuple):
    """What a history audit knows about a finding beyond its commit: ``blob`` holding the key,
    how many ``other_commits`` introduced the same key at the same path and at how many
    ``other_paths`` it was introduced, whether no ref reaches it (``unreachable``), and for a
    key in a tag's message the tag's name and object. None: not known for this finding.
    ``in_tree`` (never reported): ``blob`` is the tree whose entry's name holds the key, not a
    blob (a key in an archive member's name is in the blob holding the archive)."""

    blob: str | None = None
    other_commits: int | None = None
    other_paths: int | None = None
    unreachable: bool = False
    tag: str | None = None
    tag_object: str | None = None
    in_tree: bool = False

    def reported(self) -> dict[str, Any]:
        """The fields reports add to the finding's (docs/report-format.md), in their order."""
        fields: dict[str, Any] = {}
        if self.blob is not None:
            fields["blob"] = self.blob
        if self.other_commits is not None:
            fields["other_commits"] = self.other_commits
        if self.other_paths is not None:
            fields["other_paths"] = self.other_paths
        if self.unreachable:
            fields["unreachable"] = True
        if self.tag_object is not None:
            fields["tag"] = self.tag
            fields["tag_object"] = self.tag_object
        return fields


class Origin(NamedTuple):
    """Where a blob came from. ``path`` is POSIX, relative to the scan root (None for commit and
    tag messages); git sources also fill the commit fields, the history audit ``history``.
    ``in_name``: the blob is the name (the path's last part) of the file or directory at
    ``path``, not its content (a directory's path ends with ``/``)."""

    source: str
    path: str | None
    commit: str | None = None
    author: str | None = None
    date: str | None = None
    history: History | None = None
    in_name: bool = False


class Match(NamedTuple):
    """A key found in a blob. ``member`` names the archive member holding it (nested members
    joined by ``!``); ``encoding`` the chain of containers and encodings that hid it, outermost
    first. ``line``/``column`` count in the member (in the decoded text for a UTF-16/32 file);
    for encoded text they point at the encoded text. ``start``/``end`` are byte offsets there."""

    rule: Rule
    secret: str
    body: str
    start: int
    end: int
    line: int
    column: int
    encoding: str = "plain"
    placeholder: bool = False
    member: str | None = None
    # The key's line carries an inline allow marker (read by the marker reader the engine was
    # handed, hvscan.suppress.InlineAllow): read where the bytes are, so every source gets it,
    # including those that keep only matches.
    allowed: bool = False
    # The key is in the name of ``member`` (its last part; a directory's ends with ``/``), not
    # in its content: ``line`` and ``column`` count in that name.
    in_name: bool = False


class BlobNote(NamedTuple):
    """Something in a blob that could not be fully looked into; ``limit`` when one of the
    engine's limits stopped it. ``member`` as in ``Match``. ``informational`` when nothing was
    left unscanned for it (what ``--strict`` does not count)."""

    member: str | None
    message: str
    limit: bool = False
    informational: bool = False


class Note(NamedTuple):
    """A ``BlobNote`` placed in its origin, as reports show it: ``limit`` when a --max-* limit
    stopped decoding or expansion (raise it to look further); ``informational`` when nothing
    was left unscanned for it (see ``scan.left_unscanned``)."""

    path: str | None
    message: str
    limit: bool
    source: str
    commit: str | None = None
    informational: bool = False
    # The origin's history record: which git object the note is about (never reported; the
    # history audit's attribution places the note with it).
    history: History | None = None

    @property
    def place(self) -> str:
        """Where the note is, as reports show it."""
        where = place(self.path, self.source, self.history)
        return f"{where} (commit {self.commit})" if self.commit else where


class Finding:
    """A match placed in its origin. ``suppression`` says why it does not count (see
    hvscan/suppress.py; None for an active finding), ``untrusted_suppression`` what the change
    under scan tried to suppress it with (a range scan does not trust it). ``hints`` are facts
    read next to the match for a later step that asked for them (verification: the org ID);
    they are never reported. ``secret`` is never shown by ``repr``. ``in_name``: the key is in
    the name of the file or directory at ``path`` (its line and column count in that name),
    not in its content."""

    # Every field, in the order of the constructor's parameters.
    FIELDS = ("rule_id", "description", "key_type", "severity", "path", "line", "column",
              "source", "encoding", "secret_redacted", "secret_sha256", "fingerprint",
              "remediation", "secret", "commit", "author", "date", "verification",
              "suppression", "untrusted_suppression", "history", "hints", "repository",
              "in_name")
    _UNSHOWN = ("secret", "hints")

    def __init__(self, rule_id: str, description: str, key_type: str, severity: str,
                 path: str | None, line: int, column: int, source: str, encoding: str,
                 secret_redacted: str, secret_sha256: str, fingerprint: str, remediation: str,
                 secret: str, commit: str | None = None, author: str | None = None,
                 date: str | None = None, verification: dict[str, Any] | None = None,
                 suppression: str | None = None, untrusted_suppression: str | None = None,
                 history: History | None = None, hints: dict[str, str] | None = None,
                 repository: str | None = None, in_name: bool = False) -> None:
        self.rule_id = rule_id
        self.description = description
        self.key_type = key_type
        self.severity = severity
        self.path = path
        self.line = line
        self.column = column
        self.source = source
        self.encoding = encoding
        self.secret_redacted = secret_redacted
        self.secret_sha256 = secret_sha256
        self.fingerprint = fingerprint
        self.remediation = remediation
        self.secret = secret
        self.commit = commit
        self.author = author
        self.date = date
        self.verification = verification
        self.suppression = suppression
        self.untrusted_suppression = untrusted_suppression
        self.history = history
        self.hints: dict[str, str] = {} if hints is None else hints
        # The repository of a many-repository audit, as given (None: a one-repository run).
        self.repository = repository
        self.in_name = in_name

    def replace(self, **changes: Any) -> Finding:
        """A copy with ``changes`` applied."""
        return Finding(**{**{name: getattr(self, name) for name in self.FIELDS}, **changes})

    def source_fields(self) -> dict[str, Any]:
        """What reports add to the common fields for this finding's source, in their order
        (docs/report-format.md): ``repository`` (many-repository audits), ``in_name``, the
        history record's fields, then ``untrusted_suppression``."""
        fields: dict[str, Any] = {} if self.repository is None else {
            "repository": self.repository}
        if self.in_name:
            fields["in_name"] = True
        if self.history is not None:
            fields.update(self.history.reported())
        if self.untrusted_suppression is not None:
            fields["untrusted_suppression"] = self.untrusted_suppression
        return fields

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Finding):
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name)
                   for name in self.FIELDS if name != "hints")

    __hash__ = None  # type: ignore[assignment]  # mutable: as a dataclass's

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.FIELDS
                          if name not in self._UNSHOWN)
        return f"Finding({shown})"
