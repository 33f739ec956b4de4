"""The detection engine: bytes in, matches out.

It knows rules and nothing else: no files, no git, no output formats. A scan runs the keyword
prefilter over the whole buffer, and only rules whose keywords occur run their regex. Line and
column are computed for matches only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from hvscan.placeholders import CHECKS
from hvscan.prefilter import Prefilter
from hvscan.rules import Rule

if TYPE_CHECKING:
    from regex import Match as RegexMatch


@dataclass(frozen=True)
class Match:
    rule: Rule
    secret: str
    body: str
    start: int
    end: int
    line: int
    column: int
    encoding: str = "plain"
    placeholder: bool = False


class Engine:
    def __init__(self, rules: list[Rule]) -> None:
        self.rules = rules
        self.prefilter = Prefilter(k for rule in rules for k in rule.keywords)

    def needs_full_scan(self, data: bytes | memoryview) -> bool:
        """Whether ``data`` must go through ``scan`` even when the prefilter found none of its
        needles in it (a source that prefilters large chunks itself asks this per blob).
        Plain text is fully covered by the needles."""
        return False

    def scan(self, data: bytes) -> list[Match]:
        hits = self.prefilter.hits(data)
        if not hits:
            return []
        matches: list[Match] = []
        locator = Locator(data)
        for rule in self.rules:
            if hits.isdisjoint(rule.keywords):
                continue
            for found in rule.regex.finditer(data):
                secret = found.group().decode("utf-8", "replace")
                body = _body(found, secret)
                line, column = locator.locate(found.start())
                matches.append(
                    Match(
                        rule=rule,
                        secret=secret,
                        body=body,
                        start=found.start(),
                        end=found.end(),
                        line=line,
                        column=column,
                        placeholder=is_placeholder(rule, body),
                    )
                )
        matches.sort(key=lambda m: (m.start, m.rule.id))
        return matches


def _body(found: RegexMatch[bytes], secret: str) -> str:
    body = found.groupdict().get("body")
    return body.decode("utf-8", "replace") if isinstance(body, bytes) else secret


def is_placeholder(rule: Rule, body: str) -> bool:
    if any(pattern.search(body) for pattern in rule.allow_regexes):
        return True
    return any(CHECKS[name](body) for name in rule.placeholder_checks)


class Locator:
    """Turns byte offsets into 1-based (line, column): lines end at LF only, columns count
    characters (undecodable bytes count as one each), so CRLF, form feeds and U+2028 behave as
    editors and other scanners show them. Offsets asked in increasing order cost one pass."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._offset = 0
        self._line = 1

    def locate(self, offset: int) -> tuple[int, int]:
        if offset < self._offset:
            self._offset, self._line = 0, 1
        self._line += self._data.count(b"\n", self._offset, offset)
        self._offset = offset
        line_start = self._data.rfind(b"\n", 0, offset) + 1
        column = len(self._data[line_start:offset].decode("utf-8", "surrogateescape")) + 1
        return self._line, column
