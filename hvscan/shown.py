"""Scanned text as hvscan shows it: keys redacted, control characters escaped.

File and archive member names, commit authors, tag names, and the notes and errors about them
come from the scanned content, which is hostile. Every string a report prints (every format,
the baseline file, the lines on standard error) goes through ``shown`` first:

- a key in it, found by the scan's own engine (its rules, and the encodings it decodes), is
  replaced by its redacted form (``hv_live_abcd...wxyz``), unless the user asked for
  --show-secrets;
- then control characters (C0, DEL, C1), the Unicode line and paragraph separators, the bidi
  controls that reorder a line on screen (U+061C, U+200E, U+200F, U+202A-U+202E,
  U+2066-U+2069), lone surrogates and the non-characters U+FFFE, U+FFFF are written as
  ``\\xNN`` or ``\\uNNNN``, the notation of undecodable bytes in paths.

So nothing the content controls can move a terminal's cursor, forge a line of a report, reorder
what a reader sees or print a key the report would redact. Formats add their own syntax's
escaping on top (JSON, XML, CSV quoting, workflow commands). Both steps are idempotent.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hvscan.engine import Engine
    from hvscan.model import Finding
    from hvscan.scan import ScanResult

_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff\ufffe\uffff]"
)


def escape(text: str) -> str:
    """``text`` with every character that could control a terminal, forge a line or reorder
    one written as ``\\xNN`` (below U+0100) or ``\\uNNNN``."""
    return _UNSAFE.sub(_escaped, text)


def _escaped(found: re.Match[str]) -> str:
    code = ord(found.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def redact_keys(text: str, engine: Engine) -> str:
    """``text`` with every key ``engine`` finds in it (plain or encoded) replaced by the key's
    redacted form, as a finding shows it."""
    from hvscan.findings import redact

    data = text.encode("utf-8", "surrogateescape")
    # The engine's own prefilter, for the common case of a name with none of its needles:
    # strings are small, and a long report has many. A NUL may start UTF-16 text, which the
    # engine recognises without a needle. (A long base64 run is the prefilter's one needle
    # that is no literal.)
    if b"\0" not in data and not _needles(engine.prefilter.needles).search(data) and not \
            engine.prefilter.run_hits(data):
        return text
    # A match inside an archive member (the text itself looks like an archive) has no place
    # in the text to replace: the text is shown, escaped, as it is.
    matches = sorted((m for m in engine.scan(data) if m.member is None),
                     key=lambda m: (m.start, -m.end))
    if not matches:
        return text
    pieces: list[bytes] = []
    done = 0
    for match in matches:
        if match.start < done:  # inside a key already redacted
            continue
        pieces += [data[done:match.start], redact(match.secret, match.body).encode()]
        done = match.end
    pieces.append(data[done:])
    return b"".join(pieces).decode("utf-8", "surrogateescape")


@cache
def _needles(needles: tuple[bytes, ...]) -> re.Pattern[bytes]:
    return re.compile(b"|".join(re.escape(needle) for needle in needles))


def shown(text: str, engine: Engine | None, show_secrets: bool = False) -> str:
    """``text`` from the scanned content as any report prints it (see the module's docstring);
    without ``engine`` keys cannot be recognised, and only control characters are escaped."""
    if engine is not None and not show_secrets:
        text = redact_keys(text, engine)
    return escape(text)


def reported(result: ScanResult, show_secrets: bool = False) -> ScanResult:
    """A copy of ``result`` holding only what reports may print: every string of its findings,
    keys, skipped files, errors, notes and scan record ``shown``, and without --show-secrets no
    key at all (a finding's or key entry's ``secret`` is its redacted form). Hashes and
    fingerprints are the originals'."""
    from hvscan.scan import ScanResult

    @cache  # descriptions, authors, commits and dates repeat across findings
    def text(value: str) -> str:
        return shown(value, result.engine, show_secrets)

    copy = ScanResult(result.engine)
    copy.stats = result.stats
    copy.findings = [_finding(f, text, show_secrets) for f in result.findings]
    copy.suppressed = [_finding(f, text, show_secrets) for f in result.suppressed]
    copy.skipped = [_strings(s, text) for s in result.skipped]
    copy.errors = [_strings(e, text) for e in result.errors]
    copy.notes = [_strings(n, text) for n in result.notes]
    copy.scan = _strings(result.scan, text)
    copy.keys = [k._replace(**_shown_fields(k, k._fields, text, show_secrets))
                 for k in result.keys]
    return copy


def _finding(finding: Finding, text: Callable[[str], str], show_secrets: bool) -> Finding:
    return finding.replace(**_shown_fields(finding, finding.FIELDS, text, show_secrets))


def _shown_fields(record: Any, names: Iterable[str], text: Callable[[str], str],
                  show_secrets: bool) -> dict[str, Any]:
    """The fields ``names`` of a finding or a key entry as reports show them."""
    changes = {name: _strings(getattr(record, name), text)
               for name in names if name not in _OWN_FIELDS}
    # The key's own fields need no search for keys: one is the key, shown only when asked for,
    # the other its redacted form (a user rule's key may still hold control characters). Its
    # hashes are hvscan's hex digits.
    changes["secret_redacted"] = escape(record.secret_redacted)
    changes["secret"] = escape(record.secret) if show_secrets else changes["secret_redacted"]
    return changes


_OWN_FIELDS = {"hints", "secret", "secret_redacted", "secret_sha256", "fingerprint"}


def _strings(value: Any, text: Callable[[str], str]) -> Any:
    """``value`` with ``text`` applied to every string in it, through dicts, lists and named
    tuples (a finding's history record and verification, a note, a skipped file)."""
    if isinstance(value, str):
        return text(value)
    if isinstance(value, dict):
        return {name: _strings(item, text) for name, item in value.items()}
    if isinstance(value, list):
        return [_strings(item, text) for item in value]
    if isinstance(value, tuple):
        items = [_strings(item, text) for item in value]
        return type(value)(*items) if hasattr(value, "_fields") else tuple(items)
    return value
