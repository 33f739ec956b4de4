"""Test keys built at run time: the repository itself never holds a key-shaped string."""

from __future__ import annotations

import random
import string

ALPHABET = string.ascii_letters + string.digits
PREFIXES = {"live": "hv_" + "live_", "test": "hv_" + "test_"}


def make_body(seed: int | str = 0, length: int = 32) -> str:
    rng = random.Random(seed)
    while True:
        body = "".join(rng.choice(ALPHABET) for _ in range(length))
        # A random body is a real-looking key; retry the vanishingly rare placeholder shapes so
        # tests never depend on them.
        from hvscan.placeholders import CHECKS

        if not any(check(body) for check in CHECKS.values()):
            return body


def make_key(kind: str = "live", seed: int | str = 0) -> str:
    return PREFIXES[kind] + make_body(seed)


def key_sha256(key: str) -> str:
    """A key's ``secret_sha256``, as reports carry it."""
    import hashlib

    return hashlib.sha256(key.encode()).hexdigest()
