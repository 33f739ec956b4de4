"""The engine: bytes in, matches out, with exact line and column."""

from __future__ import annotations

import base64

import pytest
from archives import format_heads
from hidden import Hidden, assert_found_once, hidden_keys
from hypothesis import given, settings
from hypothesis import strategies as st
from keygen import make_body, make_key
from reading import CountingBytes

from hvscan.engine import Engine
from hvscan.rules import load_builtin_rules
from hvscan.suppress import InlineAllow

ENGINE = Engine(load_builtin_rules(), allow_marker=InlineAllow)
MAGIC_BYTES = format_heads()


def real(data: bytes) -> list[tuple[str, int, int]]:
    return [(m.secret, m.line, m.column) for m in ENGINE.scan(data) if not m.placeholder]


def test_finds_live_and_test_keys_with_types() -> None:
    live, test = make_key("live", 1), make_key("test", 2)
    matches = ENGINE.scan(f"a={live}\nb={test}\n".encode())
    assert [(m.rule.id, m.rule.key_type, m.secret) for m in matches] == [
        ("hesedvid-live-key", "live", live),
        ("hesedvid-test-key", "test", test),
    ]


def test_clean_buffer_has_no_matches() -> None:
    assert ENGINE.scan(b"nothing to see here\n" * 1000) == []


def test_token_longer_than_a_key_is_not_a_key() -> None:
    key = make_key("live", 3)
    assert real((key + "ABCDEFGH").encode()) == []
    assert real((key + "9").encode()) == []


def test_shorter_body_is_not_a_key() -> None:
    assert real(make_key("live", 4)[:-1].encode()) == []


@pytest.mark.parametrize("before", ["\\n", "%22", "\\", "_", "x", "9", "\t", "'", "=", ":"])
def test_no_condition_on_the_character_before(before: str) -> None:
    key = make_key("test", 5)
    assert real(f"{before}{key}".encode()) == [(key, 1, len(before) + 1)]


@pytest.mark.parametrize("after", ["", "\n", "\r\n", "_", "-", "\"", "%22", ".", " "])
def test_key_followed_by_non_alphanumeric(after: str) -> None:
    key = make_key("test", 6)
    assert real(f"{key}{after}".encode()) == [(key, 1, 1)]


def test_crlf_counts_once() -> None:
    key = make_key("live", 7)
    data = f"one\r\ntwo\r\n  {key}\r\n".encode()
    assert real(data) == [(key, 3, 3)]


def test_form_feed_and_unicode_separators_do_not_end_a_line() -> None:
    key = make_key("live", 8)
    data = f"a\fb\u2028c\u0085d\re{key}".encode()
    assert real(data) == [(key, 1, 10)]


def test_columns_count_characters_not_bytes() -> None:
    key = make_key("live", 9)
    data = f"héllo → {key}".encode()
    assert real(data) == [(key, 1, 9)]


def test_invalid_utf8_is_scanned_and_each_bad_byte_is_one_column() -> None:
    key = make_key("live", 10)
    data = b"\xff\xfe\x80" + key.encode() + b"\n\xc3" + key.encode()
    assert real(data) == [(key, 1, 4), (key, 2, 2)]


def test_start_and_end_of_file_without_trailing_newline() -> None:
    key = make_key("test", 11)
    assert real(key.encode()) == [(key, 1, 1)]
    assert real(f"x\ny {key}".encode()) == [(key, 2, 3)]


def test_a_utf8_byte_order_mark_is_no_character() -> None:
    key = make_key("live", 14)
    bom = "\ufeff".encode()
    assert real(bom + key.encode() + b"\n") == [(key, 1, 1)]
    encoded = base64.b64encode(key.encode())
    assert [(m.encoding, m.line, m.column) for m in ENGINE.scan(bom + encoded)] == [
        ("base64", 1, 1)]


def test_two_keys_on_one_line() -> None:
    a, b = make_key("live", 12), make_key("test", 13)
    assert real(f"{a},{b}".encode()) == [(a, 1, 1), (b, 1, len(a) + 2)]


def test_line_of_several_megabytes() -> None:
    key = make_key("live", 14)
    filler = "é" * 2_000_000
    data = f"first\n{filler}{key}{filler}{key}\nlast {key}".encode()
    assert real(data) == [
        (key, 2, 2_000_001),
        (key, 2, 4_000_001 + len(key)),
        (key, 3, 6),
    ]


def test_large_buffer_uses_the_same_results() -> None:
    # Above the prefilter's large-buffer threshold the prefilter takes another path.
    key = make_key("test", 15)
    data = b"x" * (3 << 20) + b"\n" + key.encode()
    assert real(data) == [(key, 2, 1)]



# --- placeholders never block -------------------------------------------------------------

VENDOR_EXAMPLE_BODY = "123456789abcdefghijklmnopqrstuvwxyz"  # 35 characters, as on the page

DECOY_BODIES = [
    "a" * 32,
    "0" * 32,
    "x" * 32,
    "X" * 32,
    "abcd" + "x" * 28,
    "1234" + "X" * 24 + "abcd",
    "0123456789abcdefghijklmnopqrstuv",
    VENDOR_EXAMPLE_BODY[:32],
    "zyxwvutsrqponmlkjihgfedcba987654",
    "YOURAPIKEYHEREYOURAPIKEYHERE1234",
    "yourapikeygoeshereyourapikeygoes",
    "YourApiKeyGoesHereYourApiKeyGoes",
    "InsertYourHesedVidApiKeyHere1234",
    "abc123abc123abc123abc123abc123ab",
    "ReplaceWithYourRealSecretTokenAb",
]


@pytest.mark.parametrize("body", DECOY_BODIES)
@pytest.mark.parametrize("kind", ["live", "test"])
def test_decoys_are_placeholders(kind: str, body: str) -> None:
    prefix = make_key(kind)[: -32]
    matches = ENGINE.scan(f'key = "{prefix}{body}"'.encode())
    assert len(matches) == 1
    assert matches[0].placeholder


def test_vendor_page_example_is_not_a_key() -> None:
    prefix = make_key("live")[:-32]
    page = f'-H "X-Api-Key: {prefix}{VENDOR_EXAMPLE_BODY}"'.encode()
    assert ENGINE.scan(page) == []


def test_text_placeholders_are_not_keys() -> None:
    for text in ("YOUR_API_KEY", "hv_live_YOUR_API_KEY", "hv_test_<your key>", "hv_live_..."):
        assert real(text.encode()) == []


@settings(max_examples=200)
@given(seed=st.integers(0, 2**32))
def test_random_bodies_are_not_placeholders(seed: int) -> None:
    # keygen retries placeholder shapes, so check the raw generator instead.
    import random

    from keygen import ALPHABET

    rng = random.Random(seed)
    body = "".join(rng.choice(ALPHABET) for _ in range(32))
    prefix = make_key("live")[:-32]
    matches = ENGINE.scan((prefix + body).encode())
    assert len(matches) == 1
    assert not matches[0].placeholder


# --- properties ---------------------------------------------------------------------------


@settings(max_examples=300)
@given(
    before=st.binary(max_size=300),
    after=st.binary(max_size=300),
    kind=st.sampled_from(["live", "test"]),
    seed=st.integers(0, 10_000),
)
def test_key_spliced_into_random_bytes_is_found_once_at_the_right_place(
    before: bytes, after: bytes, kind: str, seed: int
) -> None:
    key = make_key(kind, seed).encode()
    # The key must end at a non-alphanumeric byte and random bytes must not form another key.
    if after[:1].isalnum():
        after = b" " + after
    data = before + key + after
    expected_line = before.count(b"\n") + 1
    line_start = before.rfind(b"\n") + 1
    # A UTF-8 byte-order mark at the start of the data is no character (README).
    bom = 3 if line_start == 0 and before.startswith(b"\xef\xbb\xbf") else 0
    expected_column = len(before[line_start + bom:].decode("utf-8", "surrogateescape")) + 1
    found = [m for m in ENGINE.scan(data) if m.secret == key.decode()]
    assert [(m.line, m.column, m.start) for m in found] == [
        (expected_line, expected_column, len(before))
    ]


# The fuzzing property: every way of hiding a key (tests/hidden.py) at once, composed. Its
# example count is the profile's: modest in CI, as many as wanted in a long run
# (HVSCAN_FUZZ_EXAMPLES, see tests/conftest.py and the README's "Developing hvscan").
@given(hidden=hidden_keys())
def test_key_hidden_any_way_in_random_content_is_found_once_at_the_right_place(
    hidden: Hidden
) -> None:
    assert_found_once(ENGINE, hidden)


@settings(max_examples=300)
@given(data=st.binary(max_size=4096))
def test_random_bytes_never_crash(data: bytes) -> None:
    for match in ENGINE.scan(data):
        assert data[match.start:match.end].decode() == match.secret


@settings(max_examples=300)
@given(data=st.binary(max_size=2048), label=st.sampled_from(sorted(MAGIC_BYTES)))
def test_random_bytes_labelled_as_any_format_never_crash(data: bytes, label: str) -> None:
    labelled = MAGIC_BYTES[label] + data
    for match in ENGINE.scan(labelled):
        assert match.secret


@settings(max_examples=100)
@given(data=st.binary(min_size=0, max_size=200), seed=st.integers(0, 100))
def test_random_bytes_around_keyword_never_crash(data: bytes, seed: int) -> None:
    key = make_key("live", seed).encode()
    ENGINE.scan(data + key[:12] + data + key[:-1] + data)


def test_body_is_exposed_for_redaction() -> None:
    key = make_key("live", 16)
    (match,) = ENGINE.scan(key.encode())
    assert match.body == key[-32:] == make_body(16)


@pytest.mark.parametrize("before", [b"\\u0068\\u0076\\u005", b"\\x68\\x76\\x5", b"%68%76%5"])
def test_plain_key_after_a_broken_escape_run_is_found_once_as_plain(before: bytes) -> None:
    # Found by the splice property: the escape decoder's region ran into the plain key.
    key = make_key("live", 0)
    matches = ENGINE.scan(before + key.encode())
    assert [(m.secret, m.start, m.encoding) for m in matches] == [(key, len(before), "plain")]


def test_a_blob_holding_a_key_is_searched_by_the_prefilter_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine = Engine(load_builtin_rules())
    searched: list[int] = []
    search = engine.prefilter.hits

    def counted(data: bytes | memoryview) -> frozenset[bytes]:
        searched.append(len(data))
        return search(data)

    monkeypatch.setattr(engine.prefilter, "hits", counted)
    data = b"x\n" * 1000 + make_key("live", 3).encode() + b"\n"
    assert [m.line for m in engine.inspect(data).matches] == [1001]
    assert searched == [len(data)]


# --- long lines cost linear time ----------------------------------------------------------


def test_many_keys_on_one_long_line_are_placed_in_one_pass() -> None:
    # 300 keys, plain and encoded, on one line of 3 MB, then a second line that allows its
    # key: each used to send the locator, the allow check and the decoders back over the
    # whole line (minutes for 100 MB). The bytes searched are counted, not timed.
    import base64
    import urllib.parse

    keys = [make_key("live", seed) for seed in range(300)]
    forms = [
        lambda k: k.encode(),
        lambda k: base64.b64encode(f'{{"key":"{k}"}}'.encode()),
        lambda k: urllib.parse.quote(f'key="{k}"', safe="").encode(),
    ]
    filler = b"lorem ipsum, " * 770
    parts = [filler + b" " + forms[index % 3](k) + b" " for index, k in enumerate(keys)]
    last = make_key("test", 300)
    data = CountingBytes(b"".join(parts) + f"\nx = {last}  # hvscan:allow\n".encode())
    matches = [m for m in ENGINE.scan(data) if not m.placeholder]
    assert [(m.secret, m.line, m.allowed) for m in matches] == [
        *((k, 1, False) for k in keys), (last, 2, True)]
    part_start = 0
    for part, match in zip(parts, matches, strict=False):
        # An ASCII line: the column is the offset's, within the key's own part of the line.
        assert part_start + len(filler) < match.start < part_start + len(part)
        assert match.column == match.start + 1
        part_start += len(part)
    assert data.examined <= 40 * len(data)


def test_the_allow_marker_is_read_only_by_the_marker_the_engine_is_handed() -> None:
    data = f"x = {make_key('live', 'allow-handed')}  # hvscan:allow\n".encode()
    assert [m.allowed for m in ENGINE.scan(data)] == [True]
    assert [m.allowed for m in Engine(load_builtin_rules()).scan(data)] == [False]
