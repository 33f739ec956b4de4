"""The keyword prefilter: which of a set of literal needles occur in a buffer.

This is the cost every clean byte pays, so it must be close to one memory scan. Small buffers
use ``bytes.__contains__`` per needle (no import cost: the pre-commit hook scans small files).
Large buffers are searched with the Aho-Corasick crate's packed (Teddy) searcher, which with the
decoders' 24 needles runs about 1.7 times as fast as Hyperscan here; most buffers hold none, and
the few matches of those that do tell which needles they hold. A buffer with many matches goes
to Hyperscan, which tells which needles it holds in a single SIMD pass. Both release the GIL,
so reading the next buffer overlaps with searching this one. The decoders add many needles, so
once a run has made the per-needle path do a fair amount of work, small buffers go the large
way as well. ``hits`` may be called from several threads at once (the directory source screens
big files in reader threads): each thread gets its own Hyperscan scratch space.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from functools import cache
from typing import Any, NamedTuple

from hvscan.buffers import Buffer, find, runs

# Below this size, a few ``in`` passes cost less than Hyperscan's import and call overhead.
LARGE_BUFFER = 1 << 20
# Work (bytes times needles) the per-needle path may do in one run before Hyperscan's one-off
# import and compile (a few ms, about as long as this much work) is the cheaper way: a hook run
# over a few small files never pays it, a run over a tree soon does.
SMALL_PATH_WORK = 2 << 20
# The Teddy searcher lists every match: it is given a buffer this much at a time (overlapping by
# the longest needle less one byte), so a buffer full of needles costs a list of at most 256 Ki
# matches (about 32 MiB, briefly), not one per needle in the whole buffer. Each call also takes
# the GIL back, which other threads then wait for: 256 KiB cost the directory scan 4% more.
SEARCH_CHUNK = 1 << 20
# The searcher reports matches that do not overlap, leftmost first: a needle it passed over
# starts inside a reported match, and is looked for there. Past this many matches, Hyperscan
# answers for the whole buffer instead.
MATCHES_LOOKED_AT = 256


class Run(NamedTuple):
    """A needle that is no literal: ``length`` or more bytes in a row, each one of ``chars``
    (a long run of base64 text, which can hold a key under encodings too many for literal
    needles), that ``accept`` (given the run's bytes, as a memoryview or bytes) does not
    rule out (None: every run). Its hit is reported as ``pattern``, its Hyperscan expression
    (of the characters and length alone): one match where such a run starts, however long."""

    chars: bytes
    length: int
    # The decoders know which runs can hold a key (base64 of text does, a lock file's hashes
    # do not): asked here, a buffer whose runs cannot is no hit, and never reaches them.
    accept: Callable[[Buffer], bool] | None = None

    @property
    def pattern(self) -> bytes:
        members = b"".join(b"\\x%02x" % byte for byte in sorted(set(self.chars)))
        return b"[%s]{%d}" % (members, self.length)


class Prefilter:
    def __init__(self, needles: Iterable[bytes], shapes: Iterable[Run] = ()) -> None:
        self.needles: tuple[bytes, ...] = tuple(dict.fromkeys(needles))
        self.runs: tuple[Run, ...] = tuple(dict.fromkeys(shapes))
        # How much consecutive pieces of one content must overlap so that no needle is cut in
        # two unseen (the longest needle less one byte), and no run shortened below its length.
        self.overlap = max((*map(len, self.needles), *(run.length for run in self.runs)),
                           default=1) - 1
        # For each needle, the others that can start inside a match of it (the only ones the
        # searcher may pass over there): looked for in each match, rather than every needle.
        self._inside = [tuple(other for other in self.needles
                              if other != needle and _can_start_inside(needle, other))
                        for needle in self.needles]
        self._database: Any = None
        self._all_database: Any = None
        self._any_searcher: Any = None
        self._compiling = threading.Lock()
        self._per_thread = threading.local()
        # Updated without a lock: a lost update only delays the switch to Hyperscan.
        self._small_work = 0

    def hits(self, data: bytes | memoryview) -> frozenset[bytes]:
        """The needles that occur at least once in ``data``."""
        large = len(data) >= LARGE_BUFFER or self._small_work > SMALL_PATH_WORK
        if large:
            found = self._hits_teddy(data) if self._searcher() is not None else None
            if found is None and self._hyperscan_database() is not None:
                found = self._hits_hyperscan(data)
            if found is not None:
                return found | self.run_hits(data, large=True)
        self._small_work += len(data) * (len(self.needles) + len(self.runs))
        raw = data if isinstance(data, bytes) else bytes(data)
        return frozenset(needle for needle in self.needles if needle in raw) | self.run_hits(raw)

    def run_hits(self, data: Buffer, large: bool = False) -> frozenset[bytes]:
        """The runs that occur in ``data``, each as its ``pattern``. A run is no literal: it is
        looked for by a pass of its own (``run_spans``), which stops at the first accepted, and
        which Hyperscan makes only for ``large`` buffers (as for the needles, small ones are not
        worth its import). One database for needles and runs would spare that pass but took 25
        to 48 ms to compile, at every start-up, against about 1 ms for each of the two apart;
        and one that reports each run once (``[^c][c]{70}``) scans at a third of the speed."""
        return frozenset(run.pattern for run in self.runs
                         if next(run_spans(run, data, large), None) is not None)

    def spans(self, data: bytes | bytearray | memoryview) -> list[tuple[int, int]]:
        """Every occurrence of every needle as ``(start, end)``, sorted: for a source that
        prefilters a large buffer holding many objects and must tell which of them hit."""
        if self._all_matches_database() is not None:
            found: list[tuple[int, int]] = []
            lengths = [len(needle) for needle in self.needles]

            def on_match(needle_id: int, start: int, end: int, flags: int, context: Any) -> None:
                found.append((end - lengths[needle_id], end))

            self._all_database.scan(data, match_event_handler=on_match)
        else:
            raw = data if isinstance(data, bytes | bytearray) else bytes(data)
            found = [(start, start + len(needle))
                     for needle in self.needles for start in occurrences(raw, needle)]
        # A run is one span, however long: its first ``length`` bytes.
        found += [(start, start + run.length)
                  for run in self.runs for start, _ in run_spans(run, data)]
        return sorted(found)

    def _all_matches_database(self) -> Any:
        return self._built("_all_database",
                           lambda: _compile_hyperscan(self.needles, single_match=False))

    def _hyperscan_database(self) -> Any:
        return self._built("_database", lambda: _compile_hyperscan(self.needles))

    def _hits_teddy(self, data: bytes | memoryview) -> frozenset[bytes] | None:
        """The needles in ``data``, or None past MATCHES_LOOKED_AT matches."""
        view = memoryview(data)
        overlap = self.overlap
        found: set[bytes] = set()
        matches = 0
        for start in range(0, len(view), SEARCH_CHUNK):
            chunk = view[start:start + SEARCH_CHUNK + overlap]
            for index, begin, end in self._any_searcher.find_matches_as_indexes(chunk):
                matches += 1
                if matches > MATCHES_LOOKED_AT:
                    return None
                found.add(self.needles[index])
                if inside := self._inside[index]:
                    around = bytes(chunk[begin:end + overlap])
                    found.update(needle for needle in inside if needle in around)
        return frozenset(found)

    def _searcher(self) -> Any:
        return self._built("_any_searcher", lambda: _compile_searcher(self.needles))

    def _built(self, attribute: str, build: Callable[[], Any]) -> Any:
        """The matcher kept in ``attribute``, built on first use, once whatever the threads
        asking; None when it cannot be built here (its package is missing: False is kept)."""
        if getattr(self, attribute) is None:
            with self._compiling:
                if getattr(self, attribute) is None:
                    setattr(self, attribute, build() or False)
        return getattr(self, attribute) or None

    def _scratch(self) -> Any:
        scratch = getattr(self._per_thread, "scratch", None)
        if scratch is None:
            import hyperscan

            scratch = self._per_thread.scratch = hyperscan.Scratch(self._database)
        return scratch

    def _hits_hyperscan(self, data: bytes | memoryview) -> frozenset[bytes]:
        found: set[int] = set()

        def on_match(needle_id: int, start: int, end: int, flags: int, context: Any) -> None:
            found.add(needle_id)

        self._database.scan(data, match_event_handler=on_match, scratch=self._scratch())
        return frozenset(self.needles[i] for i in found)


def _can_start_inside(needle: bytes, other: bytes) -> bool:
    """Whether ``other`` can occur starting within an occurrence of ``needle`` (at its start,
    or later where the two agree on the bytes they share). Only the places holding ``other``'s
    first byte are compared: every Engine makes this table, at every start-up, for each pair of
    some 60 needles."""
    at = needle.find(other[:1])
    while at >= 0:
        if needle[at:at + len(other)] == other[:len(needle) - at]:
            return True
        at = needle.find(other[:1], at + 1)
    return False


def occurrences(data: Buffer | bytearray, needle: bytes) -> Iterator[int]:
    """Where ``needle`` starts in ``data``, every place, overlapping ones included."""
    at = find(data, needle)
    while at >= 0:
        yield at
        at = find(data, needle, at + 1)


def run_spans(run: Run, data: Buffer | bytearray,
              large: bool = True) -> Iterator[tuple[int, int]]:
    """Each run of ``run``'s characters at least its length long in ``data`` that its
    ``accept`` does not rule out, as (start, end)."""
    if run.accept is None:
        yield from _all_run_spans(run, data, large)
        return
    view = memoryview(data)
    for start, end in _all_run_spans(run, data, large):
        if run.accept(view[start:end]):
            yield start, end


def _all_run_spans(run: Run, data: Buffer | bytearray,
                   large: bool) -> Iterator[tuple[int, int]]:
    """Each run of ``run``'s characters at least its length long in ``data``, as (start, end).
    Hyperscan finds where the next one starts (a scan stopped at its first match, taken up
    again after the run), else (or for a buffer not ``large``) ``buffers.runs``: two C passes
    at about 250 MB/s, against several GB/s."""
    first_end = _run_scanner(run) if large else None
    if first_end is None:
        yield from runs(data, run.chars, run.length)
        return
    view, pos = memoryview(data), 0
    while pos < len(view) and (end := first_end(view[pos:])) >= 0:
        start = pos + end - run.length
        pos = start + run.length
        # The rest of the run: most runs are short (a lock file's hashes), so a small piece
        # first, then bigger ones (an embedded image's base64 may run for megabytes).
        size = 64
        while pos < len(view):
            piece = bytes(view[pos:pos + size])
            rest = len(piece.lstrip(run.chars))
            pos += len(piece) - rest
            if rest:
                break
            size = 4096
        yield start, pos


@cache
def _run_scanner(run: Run) -> Callable[[Buffer | bytearray], int] | None:
    """Where the first match of ``run`` in a buffer ends (-1 for none), by a Hyperscan scan
    stopped there; None without Hyperscan."""
    try:
        import hyperscan
    except ImportError:
        return None
    database: Any = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    database.compile(expressions=[run.pattern], ids=[0], elements=1,
                     flags=[hyperscan.HS_FLAG_SINGLEMATCH])
    per_thread = threading.local()

    def first_end(view: Buffer | bytearray) -> int:
        scratch = getattr(per_thread, "scratch", None)
        if scratch is None:
            scratch = per_thread.scratch = hyperscan.Scratch(database)
        ends: list[int] = []
        try:
            database.scan(view, match_event_handler=_stop, context=ends, scratch=scratch)
        except hyperscan.ScanTerminated:
            return ends[0]
        return -1

    return first_end


def _stop(run_id: int, start: int, end: int, flags: int, ends: list[int]) -> bool:
    ends.append(end)
    return True  # stops the scan: the first match is all a run's search needs


def _compile_hyperscan(needles: tuple[bytes, ...], single_match: bool = True) -> Any:
    try:
        import hyperscan
    except ImportError:  # no wheel for this platform: the portable path is still correct
        return None
    database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    # Hyperscan expressions are C strings: escape every byte so NULs and metacharacters are
    # literal.
    expressions = [b"".join(b"\\x%02x" % byte for byte in needle) for needle in needles]
    database.compile(
        expressions=expressions,
        ids=list(range(len(needles))),
        elements=len(needles),
        flags=[hyperscan.HS_FLAG_SINGLEMATCH if single_match else 0] * len(needles),
    )
    return database


def _compile_searcher(needles: tuple[bytes, ...]) -> Any:
    try:
        import ahocorasick_rs
    except ImportError:  # no wheel for this platform: Hyperscan alone gives the same answers
        return None
    # Leftmost-first is the match kind that uses the packed searcher; which needle wins where
    # two overlap does not matter: only whether there is any.
    return ahocorasick_rs.BytesAhoCorasick(
        list(needles), matchkind=ahocorasick_rs.MATCHKIND_LEFTMOST_FIRST)
