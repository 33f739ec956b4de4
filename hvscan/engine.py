"""The detection engine: bytes in, matches out.

It knows rules and nothing else: no files, no git, no output formats. A scan runs the keyword
prefilter over the whole buffer, and only rules whose keywords occur run their regex. Line and
column are computed for matches only.

Decoding is part of the engine, so every source gets it: containers (``containers.py``) are
opened by their magic bytes, and encoded text (``decode.py``) is decoded only around the needles
the same single prefilter pass found, recursively up to the limits. The names of an archive's
members are scanned as names (``Match.in_name``), each part of a member's path once per archive,
after one prefilter pass over all its members' paths found a needle; so are the other names
its headers hold (a link's target...), and their other text fields as the archive's raw bytes,
after one prefilter pass over them all. What could not be looked
into (a damaged archive, a limit reached) comes back as notes beside the matches.

The records it returns (``Match``, ``BlobNote``) live in ``hvscan.model``. Whether a key's line
carries the inline allow marker is read by the ``AllowMarker`` the engine is handed (the
pipeline hands in ``hvscan.suppress.InlineAllow``): suppression's vocabulary stays there.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

from hvscan import containers
from hvscan.buffers import Buffer
from hvscan.decode import (
    LONG_RUN,
    Region,
    Spans,
    decoded_run_hits,
    family,
    looks_wide,
    needle_table,
    run_table,
)
from hvscan.lines import Locator
from hvscan.model import BlobNote, Match
from hvscan.placeholders import CHECKS
from hvscan.prefilter import Prefilter, occurrences
from hvscan.rules import Rule

if TYPE_CHECKING:
    from regex import Match as RegexMatch

    from hvscan.decode import Decoder, Found


# needs_full_scan reads only this much of a blob: every signature it looks for lies there
# (compressed streams', zip's and 7z's magic at the start, tar's at offset 257, the UTF-16/32
# sniff in 64 bytes).
SIGNATURE_BYTES = 512


class Limits(NamedTuple):
    """How far the engine looks into encoded text and containers (the CLI's ``--max-*``).
    ``archive_depth`` 0 leaves containers closed, ``decode_depth`` 0 leaves text undecoded."""

    decode_depth: int = 3
    archive_depth: int = 5
    archive_bytes: int = 256 * 1024**2
    archive_ratio: int = 200
    archive_members: int = 10_000


class Inspection:
    """What inspecting one blob found, and the archive work it took (a plain class, as
    ``scan.Stats`` is)."""

    def __init__(self, notes: list[BlobNote] | None = None) -> None:
        self.matches: list[Match] = []
        self.notes: list[BlobNote] = [] if notes is None else notes
        self.members = 0
        self.expanded_bytes = 0


# Made for one buffer, it tells whether the line between two offsets carries the allow marker.
AllowMarker = Callable[[Buffer], Callable[[int, int], bool]]


class Engine:
    def __init__(self, rules: list[Rule], limits: Limits | None = None, *,
                 allow_marker: AllowMarker | None = None) -> None:
        """Without ``allow_marker`` no match is ``allowed``."""
        self.rules = rules
        self.limits = limits or Limits()
        self.allow_marker = allow_marker
        self.keywords = tuple(dict.fromkeys(k for rule in rules for k in rule.keywords))
        self.needles = needle_table(self.keywords, self.limits.decode_depth)
        shapes = run_table(self.limits.decode_depth)
        markers = sorted(containers.MIME_MARKERS) if self.limits.archive_depth else []
        self.prefilter = Prefilter([*self.keywords, *self.needles, *markers],
                                   [LONG_RUN] if shapes else [])
        self.needles.update(shapes)

    def needs_full_scan(self, data: Buffer) -> bool:
        """Whether ``data`` must go through ``scan`` even when the prefilter found none of its
        needles in it (a source that prefilters large chunks itself asks this per blob).
        Text is covered by the needles, encoded text in it too; containers and whole UTF-16/32
        texts, recognised by their first bytes, are not. Only those first bytes are read, so
        ``data`` may be a memoryview into a larger buffer (the history audit asks this for
        every blob without copying it)."""
        limits = self.limits
        return (limits.archive_depth > 0 and _kind(data) is not None) or (
            limits.decode_depth > 0 and looks_wide(data))

    def scan(self, data: bytes) -> list[Match]:
        """The matches alone, for callers with no report to put notes in."""
        return self.inspect(data).matches

    def inspect(self, data: bytes) -> Inspection:
        hits = None if self.needs_full_scan(data) else self.prefilter.hits(data)
        inspection = Inspection()
        if hits is not None and not hits:
            return inspection  # the clean-text fast path: one prefilter pass and nothing else
        budget = containers.Budget(max_bytes=self.limits.archive_bytes,
                                   max_members=self.limits.archive_members,
                                   ratio=self.limits.archive_ratio)
        _Walk(self, inspection, budget, (data, hits) if hits is not None else None).document(
            data, (), None, 0)
        inspection.expanded_bytes = budget.expanded
        return inspection

    def _decoders(self, hits: frozenset[bytes], depth_left: int,
                 wide: bool) -> list[tuple[Decoder, Found]]:
        """The decoders worth running for these prefilter hits, with the needles they hit
        (``wide``: the text looks like UTF-16/32 whatever the needles say)."""
        grouped: dict[str, tuple[Decoder, Found]] = {}
        if wide:
            decoder = family("utf-16")
            grouped[decoder.family] = (decoder, [])
        for needle in hits:
            for info in self.needles.get(needle, ()):
                if len(info.chain) <= depth_left:
                    decoder = family(info.chain[0])
                    grouped.setdefault(decoder.family, (decoder, []))[1].append((needle, info))
        return [grouped[name] for name in sorted(grouped)]


# The items of a container that are no names: its own bytes, and its headers' text.
_UNNAMED = (containers.Raw, containers.Field)


class _Spot(NamedTuple):
    """A match (or, without ``rule``, encoded text that held a key prefix but no key) in the
    coordinates of the buffer being scanned; ``line`` is 0, and ``allowed`` None, until known
    (they are read in the text the user sees: the document, or a whole UTF-16/32 text)."""

    start: int
    end: int
    chain: tuple[str, ...]
    rule: Rule | None = None
    secret: str = ""
    body: str = ""
    line: int = 0
    column: int = 0
    allowed: bool | None = None


class _Placer(Locator):
    """Where spans of one buffer are, and whether their line carries the allow marker, read
    in one pass for spans asked in increasing order (see ``hvscan.lines``)."""

    def __init__(self, data: Buffer, allow_marker: AllowMarker | None) -> None:
        super().__init__(data)
        self._allow = allow_marker(data) if allow_marker is not None else None

    def allowed(self, start: int, end: int) -> bool:
        return self._allow is not None and self._allow(*self.line_bounds(start, end))


class _Walk:
    """One blob's inspection: containers opened, text decoded, matches and notes gathered."""

    def __init__(self, engine: Engine, out: Inspection, budget: containers.Budget,
                 searched: tuple[Buffer, frozenset[bytes]] | None = None) -> None:
        self.engine = engine
        self.out = out
        self.budget = budget
        # A buffer the prefilter has already searched, with its hits: the blob itself, which
        # ``Engine.inspect`` searched to tell whether it is clean (searched again, a file of
        # many MB holding a key would cost its prefilter pass twice).
        self.searched = searched

    def document(self, data: Buffer, chain: tuple[str, ...], member: str | None,
                 depth: int) -> None:
        """Scan a blob, an archive member or a decompressed stream; line numbers count here."""
        kind = _kind(data) if self.engine.limits.archive_depth else None
        if kind is None and self.engine.limits.archive_depth and not containers.MIME_MARKERS \
                .isdisjoint(self.hits(data)) and containers.holds_mime_parts(data):
            kind = "mime"
        if kind is None:
            self.text_document(data, 0, chain, member)
        elif depth < self.engine.limits.archive_depth:
            self.archive(data, kind, chain, member, depth)
        else:
            self.note(member, f"{kind} archive nested deeper than --max-archive-depth "
                      f"({self.engine.limits.archive_depth}): not opened, scanned as raw bytes",
                      limit=True)
            self.text_document(data, 0, chain, member)
        self.searched = None  # not to hold a member's bytes once it is done

    def archive(self, data: Buffer, kind: str, chain: tuple[str, ...], member: str | None,
                depth: int) -> None:
        # Every name it lists (a damaged or encrypted member's, a directory's, a link's too).
        names: dict[str, None] = {}
        fields: list[containers.Field] = []
        for item in containers.expand(data, kind, self.budget):
            if not isinstance(item, _UNNAMED) and item.name:
                names[item.name] = None
            if isinstance(item, containers.Field):
                fields.append(item)
            elif isinstance(item, containers.Member):
                self.out.members += item.name is not None
                # A .tar.gz (.tar.xz...) is one archive to its users: the tar in a compressed
                # stream (the member without a name) takes no level.
                tarball = item.name is None and _kind(item.data) == "tar"
                self.document(item.data, (*chain, item.layer), _join(member, item.name),
                              depth if tarball else depth + 1)
            elif isinstance(item, containers.Problem):
                self.note(_join(member, item.name), item.message, item.limit,
                          item.informational)
            elif isinstance(item, containers.Raw):
                self.text_document(data, item.offset, chain, member, item.end)
        if names and kind != "mime":  # a MIME part's name is in its headers, scanned as text
            self.names(list(names), (*chain, kind), member)
        if fields:
            # In the archive's chain, though read as its raw bytes are: a key in its headers is
            # the archive's, which a purge strips whole (rewriting the text would break it).
            self.fields(data, fields, (*chain, kind), member)

    def fields(self, data: Buffer, fields: list[containers.Field], chain: tuple[str, ...],
               member: str | None) -> None:
        """Scan the text fields of an archive's headers in ``data`` as its raw bytes are (in
        its lines and columns), with the archive's ``chain``: one prefilter pass over them all,
        joined by NUL, answers the common case (none holds a needle), as for its names; only
        then is each looked at alone."""
        pieces = [data[field.offset:field.end] for field in fields]
        if self.engine.prefilter.hits(b"\0".join(pieces)):
            for field in fields:
                self.text_document(data, field.offset, chain, member, field.end)

    def names(self, names: list[str], chain: tuple[str, ...], member: str | None) -> None:
        """Scan each part of the paths of an archive's members ``names`` as a name, as the
        sources' names are, each path once: ``a/b/c.txt`` names the directories ``a/``,
        ``a/b/`` and the file ``c.txt``. One prefilter pass over them all, joined by NUL,
        answers the common case (none holds a needle); only then is each looked at alone.

        A path's parts are kept as a tree of small ids, (parent's id, part, directory or not)
        each, never as the paths they make: a name of N parts costs N, where keeping each
        part's path cost N squared (a 317-byte tar.gz, one name "a/" * 64,000 and a needle,
        ran out of memory). A part without a needle cannot match, so the prefilter sees each
        part first, and a part's path is written out only for a match."""
        prefilter = self.engine.prefilter
        raw = [name.encode("utf-8", "surrogateescape") for name in names]
        if not prefilter.hits(b"\0".join(raw)):
            return
        nodes: dict[tuple[int, str, bool], int] = {}
        # The path text written out for matches: a limit, as for expanded bytes (a key in each
        # of a deep path's parts is a match per part, each at its own long path).
        written = 0
        for name, encoded in zip(names, raw, strict=True):
            if not prefilter.hits(encoded):
                continue
            parts = name.split("/")
            parent = 0
            for index, part in enumerate(parts):
                directory = index < len(parts) - 1
                node = (parent, part, directory)
                if node in nodes:
                    parent = nodes[node]
                    continue
                parent = nodes[node] = len(nodes) + 1
                text = part.encode("utf-8", "surrogateescape")
                spots = self.text(text, chain, 0) if part else []
                if not spots:
                    continue
                path = "/".join(parts[:index + 1]) + "/" * directory
                written += len(path)
                if written > self.engine.limits.archive_bytes:
                    self.note(member, "members' names not all scanned: their paths exceed "
                              f"{self.engine.limits.archive_bytes} bytes "
                              "(--max-archive-size)", limit=True)
                    return
                self.place(spots, text, 0, chain, _join(member, path), in_name=True)

    def text_document(self, data: Buffer, offset: int, chain: tuple[str, ...],
                      member: str | None, end: int | None = None) -> None:
        """Scan ``data[offset:end]`` as text, in ``data``'s lines and columns."""
        spots = self.text(data[offset:end] if offset or end is not None else data, chain, 0)
        if spots:
            self.place(spots, data, offset, chain, member)

    def place(self, spots: list[_Spot], data: Buffer, offset: int, chain: tuple[str, ...],
              member: str | None, *, in_name: bool = False) -> None:
        """Make matches and notes of the ``spots`` found in ``data[offset:]``, in ``data``'s
        lines and columns (``in_name``: ``data`` is the name of ``member``, not its content)."""
        placer = _Placer(data, self.engine.allow_marker)
        found: list[Match] = []
        for spot in sorted(spots, key=lambda s: s.start):
            start, end = spot.start + offset, spot.end + offset
            line, column = (spot.line, spot.column) if spot.line else placer.locate(start)
            if spot.rule is None:
                encodings = ">".join(spot.chain[len(chain):])
                self.note(member, f"{encodings} text at line {line}, column {column} holds "
                          f"an encoded key prefix but no complete key (truncated or invalid "
                          f"{encodings.rsplit('>', 1)[-1]})", informational=True)
                continue
            found.append(Match(
                rule=spot.rule, secret=spot.secret, body=spot.body, start=start, end=end,
                line=line, column=column, encoding=">".join(spot.chain) or "plain",
                placeholder=is_placeholder(spot.rule, spot.body), member=member,
                allowed=(spot.allowed if spot.allowed is not None
                         else placer.allowed(start, end)), in_name=in_name,
            ))
        found.sort(key=lambda m: (m.start, m.rule.id))
        self.out.matches.extend(found)

    def text(self, buf: Buffer, chain: tuple[str, ...], depth: int) -> list[_Spot]:
        """Matches in ``buf`` and in the encoded text within it, in ``buf``'s coordinates."""
        engine = self.engine
        hits = self.hits(buf)
        depth_left = engine.limits.decode_depth - depth
        if depth:  # decoded text: shorter runs too (see decode.LONG_RUN)
            hits |= decoded_run_hits(buf, depth_left)
        wide = depth_left > 0 and looks_wide(buf)
        if not hits and not wide:
            return []
        spots: list[_Spot] = []
        for rule in engine.rules:
            if hits.isdisjoint(rule.keywords):
                continue
            for found in rule.regex.finditer(buf):
                secret = found.group().decode("utf-8", "replace")
                spots.append(_Spot(found.start(), found.end(), chain, rule, secret,
                                   _body(found, secret)))
        for decoder, needles in engine._decoders(hits, depth_left, wide) if depth_left > 0 else ():
            for region in decoder.regions(buf, needles):
                spots.extend(self.region(region, chain, depth))
                # Let it go before the next is made: a whole UTF-16/32 re-reading is as big as
                # the buffer.
                del region
        return _distinct(spots)

    def hits(self, buf: Buffer) -> frozenset[bytes]:
        """The prefilter's hits in ``buf``: searched once, whether a MIME message or its text
        asks first."""
        if self.searched is None or self.searched[0] is not buf:
            self.searched = (buf, self.engine.prefilter.hits(buf))
        return self.searched[1]

    def region(self, region: Region, chain: tuple[str, ...], depth: int) -> list[_Spot]:
        inner_chain = (*chain, region.encoding)
        inner = self.text(region.data, inner_chain, depth + 1)
        if not inner:
            # A needle brought us here, so a key prefix is in there. Only a prefix that goes on
            # like a key's body makes a note: a bare prefix is text about keys (docs, needle
            # tables), and a note for each of those would bury the notes that matter.
            at = _truncated_key_at(region.data, self.engine.keywords)
            if at is None:
                return []
            inner = [_Spot(at, at + 1, inner_chain)]
        # A whole document re-read as UTF-16/32 counts its lines in the decoded text.
        placer = (_Placer(region.data, self.engine.allow_marker)
                  if region.whole_text and depth == 0 else None)
        moved: list[_Spot] = []
        for spot in sorted(inner, key=lambda s: s.start):
            line, column, allowed = spot.line, spot.column, spot.allowed
            if placer and not line:
                line, column = placer.locate(spot.start)
                allowed = placer.allowed(spot.start, spot.end)
            start = region.origin(spot.start)
            end = max(region.origin(spot.end), start + 1)
            moved.append(spot._replace(start=start, end=end, line=line, column=column,
                                 allowed=allowed))
        return moved

    def note(self, member: str | None, message: str, limit: bool = False,
             informational: bool = False) -> None:
        self.out.notes.append(BlobNote(member, message, limit, informational))


# Body characters after a decoded prefix that make it look like the start of a real key.
_TRUNCATED_BODY = 4


def _truncated_key_at(data: bytes, keywords: tuple[bytes, ...]) -> int | None:
    """The first keyword in ``data`` followed by at least a few alphanumeric characters."""
    starts = []
    for keyword in keywords:
        body = len(keyword)
        first = next((at for at in occurrences(data, keyword)
                      if _looks_like_a_body(data[at + body:at + body + _TRUNCATED_BODY])), None)
        if first is not None:
            starts.append(first)
    return min(starts, default=None)


def _looks_like_a_body(start: bytes) -> bool:
    return len(start) == _TRUNCATED_BODY and start.isalnum()


def _distinct(spots: list[_Spot]) -> list[_Spot]:
    """One spot per key occurrence. The same key can come back from one place more than once:
    a decoder's region can hold plain text too (an escape run that stops right before a plain
    key), and a UTF-16/32 string is read in both byte orders when its bytes allow both (see
    ``decode._wide_regions``), the two readings' spans then overlapping. Of spots of one key
    that overlap, the one with the shortest chain, the truthful one, is kept, else the first
    (the preferred reading); and an encoded prefix without a key is no note where a reading
    found the key."""
    if len(spots) < 2:
        return spots
    kept: dict[tuple[str, str], Spans] = {}
    keys, notes = Spans(), Spans()
    chosen: list[int] = []
    for index in sorted(range(len(spots)), key=lambda i: (spots[i].rule is None,
                                                         len(spots[i].chain), i)):
        spot = spots[index]
        span = spot.start, spot.end
        if spot.rule is None:
            if keys.overlaps(*span) or notes.overlaps(*span):
                continue
            notes.add(*span)
        else:
            group = kept.setdefault((spot.rule.id, spot.secret), Spans())
            if group.overlaps(*span):
                continue
            group.add(*span)
            keys.add(*span)
        chosen.append(index)
    return spots if len(chosen) == len(spots) else [spots[i] for i in sorted(chosen)]


def _kind(data: Buffer) -> str | None:
    """The container ``data`` is, from its first bytes (a view is not copied whole)."""
    return containers.kind(bytes(data[:SIGNATURE_BYTES]))


def _join(member: str | None, name: str | None) -> str | None:
    if name is None:
        return member
    return f"{member}!{name}" if member else name


def _body(found: RegexMatch[bytes], secret: str) -> str:
    body = found.groupdict().get("body")
    return body.decode("utf-8", "replace") if isinstance(body, bytes) else secret


def is_placeholder(rule: Rule, body: str) -> bool:
    if any(pattern.search(body) for pattern in rule.allow_regexes):
        return True
    return any(CHECKS[name](body) for name in rule.placeholder_checks)

