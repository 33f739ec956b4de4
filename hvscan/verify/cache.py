"""The verification cache (``--verify-cache FILE``): live and invalid answers between runs.

Entries are keyed by the SHA-256 of (rule, endpoint, key hash) and hold the status, the HTTP
status and the time, never a key; they expire. Unknown answers are never kept: an outage must not
outlive the run. Runs sharing the file add to it: each merges its answers into what the file
holds when it saves, under a lock (``FILE.lock``, which stays).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hvscan.verify.policy import Outcome, VerifyError, classify

if TYPE_CHECKING:
    from hvscan.rules import Verify


def cache_id(rule_id: str, endpoint: str, key_hash: str) -> str:
    return hashlib.sha256("\0".join((rule_id, endpoint, key_hash)).encode()).hexdigest()


@dataclass
class DiskCache:
    path: Path
    ttl: float
    entries: dict[str, dict[str, Any]]

    @classmethod
    def load(cls, path: Path, ttl: float) -> DiskCache:
        return cls(path, ttl, _read_entries(path, ttl))

    def get(self, entry_id: str, spec: Verify) -> Outcome | None:
        """The cached answer, described as the rule describes its status today."""
        entry = self.entries.get(entry_id)
        if entry is None:
            return None
        status, http_status = entry["status"], entry["http_status"]
        detail = classify(spec, http_status, True).detail + " (cached answer)"
        return Outcome(status, http_status, detail, entry["time"], cached=True)

    def put(self, entry_id: str, outcome: Outcome) -> None:
        if outcome.status in ("live", "invalid") and not outcome.cached:
            self.entries[entry_id] = {"status": outcome.status,
                                      "http_status": outcome.http_status,
                                      "time": outcome.checked_at}

    def save(self) -> None:
        """Merge the entries into the file (the newer answer wins), read again under the lock
        and replaced whole, so that a run writing at the same time loses nothing."""
        import fcntl

        from hvscan.atomic import write_atomically

        lock = self.path.with_name(self.path.name + ".lock")
        try:
            # Private: which keys were found, by hash, is nobody else's business.
            handle = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise VerifyError(f"cannot lock verification cache {lock}: {exc.strerror}") from None
        try:
            fcntl.flock(handle, fcntl.LOCK_EX)
            merged = _read_entries(self.path, self.ttl)
            for entry_id, entry in self.entries.items():
                if entry_id not in merged or merged[entry_id]["time"] < entry["time"]:
                    merged[entry_id] = entry
            text = json.dumps({"version": 1, "entries": merged}, indent=1, sort_keys=True)
            write_atomically(self.path, (text + "\n").encode("utf-8"), 0o600)
        except OSError as exc:
            raise VerifyError(f"cannot write verification cache {self.path}: "
                              f"{exc.strerror}") from None
        finally:
            os.close(handle)  # releases the lock


def _read_entries(path: Path, ttl: float) -> dict[str, dict[str, Any]]:
    """The unexpired entries of the cache file; none when it does not exist yet."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise VerifyError(f"cannot read verification cache {path}: {exc.strerror}") from None
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise VerifyError(f"{path} is not a verification cache (not JSON)") from None
    if not isinstance(data, dict) or data.get("version") != 1 \
            or not isinstance(data.get("entries"), dict):
        raise VerifyError(f"{path} is not a verification cache of this hvscan version")
    now = time.time()
    return {k: v for k, v in data["entries"].items() if _valid_entry(v) and now - v["time"] < ttl}


def _valid_entry(entry: Any) -> bool:
    return (isinstance(entry, dict) and entry.get("status") in ("live", "invalid")
            and isinstance(entry.get("http_status"), int)
            and isinstance(entry.get("time"), (int, float)))
