"""Placeholder detection: tell documentation examples and dummy values from real secrets.

Each named check looks at the random part of a match (the rule's ``body`` group). A real key's
body is 32 random characters; the checks below each have a negligible chance of firing on one
(estimated in the docstrings) while catching what people write in docs, tests and templates.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise

# The order people use when they type a "sequential" dummy value.
_SEQUENCE = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
_NEXT = {a: b for a, b in zip(_SEQUENCE, _SEQUENCE[1:] + _SEQUENCE[0], strict=True)}


def repeated_character(body: str) -> bool:
    """``aaaa...``: one character repeated."""
    return len(set(body)) == 1


def short_period(body: str) -> bool:
    """``abc123abc123...``: a unit of at most 8 characters repeated (random: ~62**-24)."""
    for period in range(1, min(8, len(body) // 2) + 1):
        if all(body[i] == body[i - period] for i in range(period, len(body))):
            return True
    return False


def sequential(body: str) -> bool:
    """``0123456789abcdef...`` or ``zyxw...``: at least half the steps go to the next (or
    previous) character of 0-9a-zA-Z, case-insensitively (random: far below 1e-20)."""
    if len(body) < 8:
        return False
    lowered = body.lower()
    forward = sum(_NEXT.get(a) == b for a, b in pairwise(lowered))
    backward = sum(_NEXT.get(b) == a for a, b in pairwise(lowered))
    return max(forward, backward) * 2 >= len(body) - 1


def single_case_letters(body: str) -> bool:
    """``YOURAPIKEYHERE...`` or ``examplekey...``: letters of one case only, no digit beyond a
    short suffix (random: (26/62)**28, about 3e-11)."""
    letters = body.rstrip("0123456789")
    if len(letters) < len(body) - 4 or not letters.isalpha():
        return False
    return letters.isupper() or letters.islower()


_PLACEHOLDER_WORDS = frozenset(
    {
        "your", "my", "the", "api", "key", "keys", "here", "goes", "go", "put", "paste",
        "insert", "replace", "example", "sample", "dummy", "fake", "test", "live", "secret",
        "token", "value", "demo", "placeholder", "real", "actual",
    }
)


def camel_case_words(body: str) -> bool:
    """``YourApiKeyGoesHere...``: capitalised words of two or more letters run together, one of
    them a word people use in placeholders, with at most a short digit suffix (random: the
    shape alone is about 1e-5, with the word far below 1e-9)."""
    letters = body.rstrip("0123456789")
    if len(letters) < len(body) - 4 or not letters.isalpha() or not letters[0].isupper():
        return False
    words: list[str] = []
    for char in letters:
        if char.isupper():
            if words and len(words[-1]) < 2:
                return False
            words.append(char)
        else:
            words[-1] += char
    if len(words[-1]) < 2 or len(words) < 3:
        return False
    return any(word.lower() in _PLACEHOLDER_WORDS for word in words)


CHECKS: dict[str, Callable[[str], bool]] = {
    "repeated-character": repeated_character,
    "short-period": short_period,
    "sequential": sequential,
    "single-case-letters": single_case_letters,
    "camel-case-words": camel_case_words,
}
