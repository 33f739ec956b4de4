"""hvscan/purge.py: the expressions file's lines, shell words, URLs without credentials, the
plan's directory. The plan carried out for real: tests/test_cli_purge_plan.py."""

from __future__ import annotations

import hashlib
import os
import re
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from keygen import make_key

from hvscan import purge
from hvscan.purge import Plan, PurgeKey


def _key(secret: str) -> PurgeKey:
    return PurgeKey(secret, "redacted", "0" * 64, "rule", "high", (), (), (), ())


def _plan(*secrets: str) -> Plan:
    return Plan("repo", None, tuple(_key(s) for s in secrets), {}, (), (), ())


def test_a_key_is_a_literal_line() -> None:
    key = make_key()
    assert purge.replacement_line(key) == f"literal:{key}==>***REMOVED***\n".encode()


@pytest.mark.parametrize("secret", ["a\nb c", "x\r\ny", "==>\n(.*)", "\u00e9\n\\"])
def test_a_key_with_a_line_break_is_an_escaped_regex(secret: str) -> None:
    line = purge.replacement_line(secret)
    assert line.count(b"\n") == 1 and b"\r" not in line
    # As git filter-repo reads it: the pattern before the last '==>', after 'regex:'.
    pattern, replacement = line.rstrip(b"\r\n").rsplit(b"==>", 1)
    assert pattern.startswith(b"regex:") and replacement == b"***REMOVED***"
    data = secret.encode()
    assert re.compile(pattern[6:]).fullmatch(data)
    assert not re.compile(pattern[6:]).search(data[:-1])


def test_longer_keys_are_replaced_first() -> None:
    short, long = "abc", "xxabcxx"
    lines = purge.replacements(_plan(short, long, short)).splitlines()
    assert lines == [b"literal:xxabcxx==>***REMOVED***", b"literal:abc==>***REMOVED***"]


@pytest.mark.parametrize("text", ["plain/path.git", "with space", "it's", "a\nb", "$(x)`y`",
                                  "tab\there", "-dash", "\u00e9t\u00e9", "nul\x01", "\\", ""])
def test_a_shell_word_is_the_text_and_safe_to_show(text: str) -> None:
    word = purge.sh_word(text)
    assert "\n" not in word and "\x01" not in word and "\t" not in word
    said = subprocess.run(["bash", "-c", f"printf %s {word}"], capture_output=True,
                          check=True).stdout
    assert said == text.encode()


def test_a_fence_no_line_closes() -> None:
    block = purge._fenced(["a ```` b", "c"])
    assert block.startswith("`````\n") and block.endswith("\n`````")


def test_check_output(tmp_path: Path) -> None:
    purge.check_output(tmp_path / "new", force=False)
    (tmp_path / "empty").mkdir()
    purge.check_output(tmp_path / "empty", force=False)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(purge.PlanError, match="is not empty"):
        purge.check_output(tmp_path / "full", force=False)
    purge.check_output(tmp_path / "full", force=True)
    (tmp_path / "link").symlink_to(tmp_path / "empty")
    with pytest.raises(purge.PlanError, match="symbolic link"):
        purge.check_output(tmp_path / "link", force=True)


def test_write_never_follows_a_link_planted_in_the_directory(tmp_path: Path) -> None:
    out = tmp_path / "plan"
    out.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_text("kept\n")
    # A link where a plan file goes is replaced, never written through.
    os.symlink(elsewhere, out / purge.REPLACEMENTS)
    written = purge.write(out, _plan(make_key()))
    assert written == [purge.REPLACEMENTS, purge.SCRIPT, purge.PLAN]
    assert elsewhere.read_text() == "kept\n"
    assert not os.path.islink(out / purge.REPLACEMENTS)
    assert stat.S_IMODE(os.stat(out / purge.REPLACEMENTS).st_mode) == 0o600


def test_the_script_strips_blobs_and_deletes_refs_only_when_there_are_some() -> None:
    bare = purge.script(_plan("k"))
    assert "--strip-blobs-with-ids" not in bare and "refs-to-delete.txt" not in bare
    assert "@" not in bare
    both = purge.script(_plan("k")._replace(blobs={"a" * 40: "x"}, refs=("refs/tags/t",)))
    assert '--strip-blobs-with-ids "$here/blobs-to-strip.txt"' in both
    assert ('LC_ALL=C sed \'s/^/delete /\' <"$here/refs-to-delete.txt" | git -C "$mirror" '
            'update-ref') in both
    for script in (bare, both):
        assert subprocess.run(["bash", "-n"], input=script.encode(), check=False).returncode == 0


def _callback(argument: str) -> Any:
    """The renaming callback as git filter-repo makes it from the script's body (its
    ``make_callback``): the body indented into a function of the argument."""
    body = purge.RENAME.replace("NAME", argument)
    namespace: dict[str, Any] = {}
    exec(f"def callback({argument}, _do_not_use_this_var=None):\n  "
         + "\n  ".join(body.splitlines()), {}, namespace)
    return namespace["callback"]


def test_the_renaming_callback_names_each_key_by_its_hash(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key, other, broken = make_key(), make_key("test", 1), "a\nkey"
    (tmp_path / purge.REPLACEMENTS).write_bytes(purge.replacements(_plan(key, other, broken)))
    monkeypatch.setenv("HVSCAN_REPLACEMENTS", str(tmp_path / purge.REPLACEMENTS))

    def removed(secret: str) -> bytes:
        return f"REMOVED-{hashlib.sha256(secret.encode()).hexdigest()[:16]}".encode()

    rename = _callback("filename")
    assert rename(f"d-{key}/{other}.txt-{key}".encode()) == (
        b"d-" + removed(key) + b"/" + removed(other) + b".txt-" + removed(key))
    assert rename(b"x" + broken.encode() + b"y") == b"x" + removed(broken) + b"y"
    assert rename(b"clean/name") == b"clean/name"
    assert _callback("refname")(f"refs/tags/v-{key}".encode()) == b"refs/tags/v-" + removed(key)


def test_the_script_renames_only_when_names_hold_keys() -> None:
    content = purge.Place("c" * 40, "a.txt", False, "plain", False)
    in_path = content._replace(name="path")
    in_ref = content._replace(where="refs/heads/x", name="ref")
    encoded = in_path._replace(encoding="base64")

    def script(*places: purge.Place) -> str:
        return purge.script(_plan("k")._replace(keys=(_key("k")._replace(places=places),)))

    assert "callback" not in script(content, encoded) and "HVSCAN_REPLACEMENTS=" in script()
    both = script(content, in_path, in_ref)
    assert '--filename-callback "$filenames"' in both and '--refname-callback "$refnames"' in both
    assert '--refname-callback' not in script(in_path)
    for text in (both, script(in_ref)):
        assert subprocess.run(["bash", "-n"], input=text.encode(), check=False).returncode == 0


def _refs_program(what: str, mirror: Path, data: bytes = b"") -> subprocess.CompletedProcess[
        bytes]:
    """purge.sh's program on ref names, as it runs it (its renaming body in place)."""
    program = purge.script(_plan("k")).split("<<'EOF_REFS'\n", 1)[1].split("EOF_REFS\n", 1)[0]
    return subprocess.run([sys.executable, "-c", program, what, str(mirror)], input=data,
                          capture_output=True, check=False, timeout=60)


def test_git_filter_repo_s_messages_are_renamed_and_a_collision_said(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = make_key("live", "in-a-warning")
    (tmp_path / purge.REPLACEMENTS).write_bytes(purge.replacements(_plan(key)))
    monkeypatch.setenv("HVSCAN_REPLACEMENTS", str(tmp_path / purge.REPLACEMENTS))
    removed = f"REMOVED-{hashlib.sha256(key.encode()).hexdigest()[:16]}".encode()
    warning = f"warning: refs/tags/lwb-{key}: Unexpected object of type blob\n".encode()
    done = _refs_program("conceal", tmp_path, warning)
    assert (done.returncode, done.stdout) == (0, warning.replace(key.encode(), removed))
    done = _refs_program("conceal", tmp_path, b"File renaming caused colliding pathnames!\n")
    assert done.returncode == 3


def test_a_symbolic_ref_naming_a_key_fails_the_run(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, gitenv: dict[str, str]) -> None:
    key = make_key("live", "symbolic")
    (tmp_path / purge.REPLACEMENTS).write_bytes(purge.replacements(_plan(key)))
    monkeypatch.setenv("HVSCAN_REPLACEMENTS", str(tmp_path / purge.REPLACEMENTS))
    for name, value in gitenv.items():
        monkeypatch.setenv(name, value)
    mirror = tmp_path / "mirror.git"
    subprocess.run(["git", "init", "-q", "--bare", str(mirror)], check=True)
    subprocess.run(["git", "-C", str(mirror), "symbolic-ref", "refs/heads/alias",
                    f"refs/heads/x-{key}"], check=True)
    blob = subprocess.run(["git", "-C", str(mirror), "hash-object", "-w", "--stdin"],
                          input=b"x\n", capture_output=True, check=True).stdout.strip()
    tree = subprocess.run(["git", "-C", str(mirror), "mktree"], capture_output=True,
                          input=b"100644 blob " + blob + b"\tx\n", check=True).stdout.strip()
    commit = subprocess.run(["git", "-C", str(mirror), "commit-tree", "-m", "x", tree],
                            capture_output=True, check=True).stdout.strip()
    subprocess.run([b"git", b"-C", bytes(mirror), b"update-ref", f"refs/heads/x-{key}".encode(),
                    commit], check=True)
    done = _refs_program("after", mirror)
    assert done.returncode == 1 and key.encode() not in done.stdout
    assert done.stdout.decode().startswith("the symbolic ref refs/heads/alias names a ref whose")
