"""Baseline files: the findings a team has accepted, so later scans report only new ones.

The file holds, per finding, its fingerprint, rule, path, the key's SHA-256 and its redacted form:
never the key, never a line number or a commit, never a date or hvscan's version. Entries are
unique and sorted and the JSON is written the same way every time, so recording an unchanged
repository again gives a byte-identical file, and nothing in it moves when code moves.

A finding is in the baseline when its rule recorded the same key (by hash), wherever the key now
sits: moving it to another line or file, or finding it in history, does not make it new.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hvscan.committed import CommittedFile
    from hvscan.model import Finding

FORMAT_KEY = "hvscan_baseline"
FORMAT_VERSION = 1
_FIELDS = ("fingerprint", "rule_id", "path", "secret_sha256", "secret_redacted")
_HEX_LENGTHS = {"fingerprint": 32, "secret_sha256": 64}
_HEX = re.compile(r"[0-9a-f]+")


class BaselineError(Exception):
    """A baseline file is missing, unreadable or not in hvscan's baseline format."""


@dataclass(frozen=True)
class Baseline:
    keys: frozenset[tuple[str, str]]

    def contains(self, finding: Finding) -> bool:
        return (finding.rule_id, finding.secret_sha256) in self.keys


def entries(findings: Iterable[Finding]) -> list[dict[str, Any]]:
    unique = {
        f.fingerprint: {
            "fingerprint": f.fingerprint,
            "rule_id": f.rule_id,
            "path": f.path,
            "secret_sha256": f.secret_sha256,
            "secret_redacted": f.secret_redacted,
        }
        for f in findings
    }
    return sorted(unique.values(), key=lambda e: (e["path"] or "", e["rule_id"], e["fingerprint"]))


def dumps(items: list[dict[str, Any]]) -> str:
    import json

    document = {FORMAT_KEY: FORMAT_VERSION, "findings": items}
    return json.dumps(document, indent=2, ensure_ascii=True) + "\n"


def write(path: Path, findings: Iterable[Finding]) -> int:
    """Write the baseline atomically (a failed run never leaves half a file); returns the
    number of entries."""
    from hvscan.atomic import write_atomically

    items = entries(findings)
    try:
        # Readable by all: a baseline is meant to be committed and shared.
        write_atomically(path, dumps(items).encode("ascii"), 0o644)
    except OSError as exc:
        raise BaselineError(f"cannot write baseline {path}: {exc.strerror or exc}") from None
    return len(items)


def load(path: Path | CommittedFile) -> Baseline:
    import json

    from hvscan.committed import read_bytes

    try:
        document = json.loads(read_bytes(path))
    except OSError as exc:
        raise BaselineError(f"{path}: cannot read baseline: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise BaselineError(f"{path}: baseline is not valid JSON: {exc}") from None
    except RecursionError:
        raise BaselineError(f"{path}: not an hvscan baseline (nested too deeply)") from None
    if not isinstance(document, dict) or document.get(FORMAT_KEY) != FORMAT_VERSION:
        raise BaselineError(
            f"{path}: not an hvscan baseline (expected \"{FORMAT_KEY}\": {FORMAT_VERSION}; "
            "write one with 'hvscan baseline')"
        )
    items = document.get("findings")
    if not isinstance(items, list):
        raise BaselineError(f"{path}: field 'findings' must be a list")
    keys: set[tuple[str, str]] = set()
    for index, item in enumerate(items):
        keys.add(_entry_key(path, index, item))
    return Baseline(frozenset(keys))


def _entry_key(path: Path | CommittedFile, index: int, item: Any) -> tuple[str, str]:
    where = f"{path}: findings[{index}]"
    if not isinstance(item, dict):
        raise BaselineError(f"{where}: must be an object")
    unknown = set(item) - set(_FIELDS)
    if unknown:
        raise BaselineError(f"{where}: unknown field {sorted(unknown)[0]!r}")
    for name, length in _HEX_LENGTHS.items():
        value = item.get(name)
        if not isinstance(value, str) or len(value) != length or not _HEX.fullmatch(value):
            raise BaselineError(f"{where}: field {name!r} must be {length} lowercase hex digits")
    if not isinstance(item.get("rule_id"), str) or not item["rule_id"]:
        raise BaselineError(f"{where}: field 'rule_id' must be a non-empty string")
    return item["rule_id"], item["secret_sha256"]
