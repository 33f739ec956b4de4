"""Objects shared between the history audits of one many-repository run: the object ids that an
audit of a verified mirror read and screened clean, which later audits in the same worker
process do not read again.

Forks and mirrors of one project hold most of its objects under the same ids, and an
organisation's audit would otherwise inflate and screen every one of them once per repository.
An object the stream's screen dropped (no needle inside, not needed whole, not too large: see
``sources/gitstream.py``) gives nothing downstream, so another audit with the same screen may
count it (its kind and size, which git's listing gives) without reading it: its report is the
same.

The trust rule (docs/security.md): an id names its content only if git hashed that content.
Objects hvscan fetched into its own mirror (``repos.mirror``: ``clone --mirror --no-local``,
then ``fetch``) were hashed on arrival; a local repository given as a path may hold bytes that do
not match their ids. So only audits of mirrors publish and skip (``commands/many.py`` decides);
local paths never do.

One ``SharedObjects`` lives in each worker process for one run (``--jobs 1``: the command's
process, for that run), is handed down explicitly to each audit, and holds the ids under one
screen key (``screen_key``: the rules, the engine's limits, ``--max-file-size``); an audit under
another key starts it afresh. Its memory is bounded: at most ``CAP`` ids (about 110 bytes
each), after which nothing more is added.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hvscan.engine import Engine

# Ids one worker keeps at most: about 55 MB. Enough for a few large projects' histories (flask's
# has 47,000 objects); past it, later audits read what the set could not hold, as without it.
CAP = 500_000


def screen_key(engine: Engine, max_file_size: int | None) -> str:
    """What decides which objects the screen drops (and what the engine makes of the rest): the
    rules (where a rule file lies is not part of it), the engine's limits and the size limit."""
    material = repr(([rule._replace(origin="") for rule in engine.rules],
                     tuple(engine.limits), max_file_size))
    return hashlib.sha256(material.encode("utf-8", "surrogateescape")).hexdigest()


class SharedObjects:
    """The ids (hexadecimal, as git lists them) of objects audits of verified mirrors screened
    clean under one screen key, up to ``cap`` of them."""

    def __init__(self, cap: int = CAP) -> None:
        self.cap = cap
        self._screen: str | None = None
        self._ids: set[bytes] = set()

    def clean(self, screen: str) -> set[bytes]:
        """The ids screened clean under ``screen`` (the set itself: an audit reads it while no
        other audit of this process publishes)."""
        if screen != self._screen:  # one run audits with one screen: this only guards
            self._screen, self._ids = screen, set()
        return self._ids

    def room(self, screen: str) -> int:
        """How many more ids under ``screen`` it takes: an audit gathers no more than that."""
        return max(0, self.cap - len(self.clean(screen)))

    def publish(self, screen: str, ids: list[bytes]) -> None:
        """Add ``ids``, which an audit that ended without error read and screened clean under
        ``screen``, while there is room."""
        self.clean(screen).update(ids[:self.room(screen)])
