"""Sources: where scanned bytes come from. They know nothing about keys or regexes.

Every source yields a stream of events: ``Blob`` (bytes to scan, their origin (``hvscan.model``)
and, for a change, the versions it replaces), ``Screened`` (content the source read through a
``Screen`` and found nothing in: scanned, nothing to report), ``Skipped`` (something
deliberately not scanned, with the reason: a note in the report), ``NotRead`` (content a limit
kept from being read: a note at its origin, as the engine's notes are) and ``Failed``
(something asked for that could not be scanned: an error that makes the run exit 2), and
``Names`` (the names of the files and directories it met, which hold keys too). Every
source's events go through the same ``scan.Pipeline``; the history audit's too
(``hvscan/sources/history.py``).

Records that never change are ``NamedTuple``s, here and across hvscan: defining one costs a
fraction of what a dataclass costs (whose methods are compiled at import, about 1 ms each on
every start; see docs/performance.md), and every run defines them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import NamedTuple

from hvscan.model import Origin


class Blob(NamedTuple):
    """Bytes to scan. ``previous``, when given, loads earlier versions of the same content
    (before an edit or a rename): keys found there are not new and are not reported. It is called
    only for a blob that has matches, so a source can make it as costly as it must. ``file`` is
    False for content that is no file (a commit or tag message): scanned, but not counted among
    the files scanned."""

    data: bytes
    origin: Origin
    previous: Callable[[], list[bytes]] | None = None
    file: bool = True


class Names(NamedTuple):
    """Names of files and directories (a path's last part each, as bytes: never holding a NUL
    or a ``/``) that the pipeline scans as it scans content. Many come at once, so that the
    prefilter looks at them in one pass; ``blob(i)`` makes the ``Blob`` of ``names[i]`` (its
    origin the path, with ``in_name``; ``file`` False), asked only for a name holding a needle
    of the engine's. Names are what a repository's users see and what git records: a key in
    one is a leak like a key in a file."""

    names: list[bytes]
    blob: Callable[[int], Blob]


class Screened(NamedTuple):
    """``files`` files of ``size`` bytes in all that a ``Screen`` passed as clean: they count as
    scanned, and they never had to be held in memory whole (a source that screens many small
    files at once, as the history's object stream does, sums them up in one event)."""

    origin: Origin
    size: int
    files: int = 1


class Screen(NamedTuple):
    """What the pipeline lends a source that reads big content: a look at it, window by window,
    before it is handed on (sources still know nothing of what is looked for). ``needs_engine``
    is asked about consecutive windows that overlap by ``overlap`` bytes, so nothing the engine
    looks for is cut in two unseen; ``at_start`` is true for the window that opens the content.
    Content for which no window needs the engine is a ``Screened`` event; the rest a ``Blob``.

    A source that reads many small pieces of content packed in big buffers (git's object
    stream) asks once per buffer for the ``spans`` where the engine's needles occur, and for a
    piece none lies in whether the engine ``needs_whole`` it anyway (an archive, UTF-16 text,
    recognised by its first bytes). ``needs_engine(window, True)`` is the two together.
    All may be called from several threads at once."""

    needs_engine: Callable[[memoryview, bool], bool]
    overlap: int
    spans: Callable[[memoryview], list[tuple[int, int]]]
    needs_whole: Callable[[memoryview], bool]


class Skipped(NamedTuple):
    """A path not read. ``informational`` when there is no content of its own to scan there (a
    broken symbolic link, a submodule's commit): else content was left unscanned."""

    path: str
    reason: str
    informational: bool = False


class NotRead(NamedTuple):
    """Content at ``origin`` that a limit kept from being read (in history, an object larger
    than --max-file-size): a note (``limit``) at its origin, placed as the engine's notes are;
    it counts as left unscanned."""

    origin: Origin
    reason: str


class Failed(NamedTuple):
    path: str
    message: str


Event = Blob | Names | Screened | Skipped | NotRead | Failed
Events = Iterator[Event]

# Whether a path (POSIX, relative, as reported; a directory with a trailing slash) is excluded
# by the user's configuration. Sources that can skip reading excluded paths take one; the
# pipeline applies it to every finding as well. Built by hvscan.excludes.path_filter.
Excluded = Callable[[str], bool]


def display_path(raw: bytes) -> str:
    """File names are bytes that may contain anything; reports show undecodable bytes as
    ``\\xNN`` so every path is printable, JSON-safe and the same on every machine."""
    return raw.decode("utf-8", "backslashreplace")
