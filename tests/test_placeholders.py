"""Placeholder checks: each fires on its shape and not on random bodies."""

from __future__ import annotations

import random

import pytest
from keygen import ALPHABET

from hvscan.placeholders import CHECKS


@pytest.mark.parametrize(
    ("check", "body"),
    [
        ("repeated-character", "Z" * 32),
        ("short-period", "abcdefg1" * 4),
        ("short-period", "ab" * 16),
        ("sequential", "0123456789abcdefghijklmnopqrstuv"),
        ("sequential", "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"),
        ("sequential", "zyxwvutsrqponmlkjihgfedcba987654"),
        ("single-case-letters", "EXAMPLEKEYEXAMPLEKEYEXAMPLEKEY12"),
        ("single-case-letters", "thisisnotarealkeyjustsometextok"),
        ("camel-case-words", "YourApiKeyGoesHereYourApiKeyGoes"),
        ("camel-case-words", "PutYourSecretHereForTheDemoOk123"),
    ],
)
def test_check_fires_on_its_shape(check: str, body: str) -> None:
    assert CHECKS[check](body)


def test_camel_case_needs_a_placeholder_word() -> None:
    assert not CHECKS["camel-case-words"]("AbcdEfghIjklMnopQrstUvwxYzabCdef")


def test_no_check_fires_on_random_bodies() -> None:
    rng = random.Random(20261128)
    fired = 0
    for _ in range(50_000):
        body = "".join(rng.choice(ALPHABET) for _ in range(32))
        fired += any(check(body) for check in CHECKS.values())
    assert fired == 0
