"""What reports show of scanned text: keys in names redacted, control characters escaped, in
every format, the baseline file and standard error (hostile file, member and author names)."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from archives import make_zip
from gitrepo import GitRepo
from hvscan_run import Run

from hvscan.engine import Engine
from hvscan.model import History, Note, Origin
from hvscan.report import FORMATS
from hvscan.rules import load_builtin_rules
from hvscan.scan import ScanResult
from hvscan.shown import escape, redact_keys, reported, shown
from hvscan.sources import Failed, Skipped

KEY_SHAPE = re.compile(r"hv_(live|test)_[A-Za-z0-9]{32}")
# Characters that move a terminal's cursor, end or forge a line, or reorder one on screen.
UNSAFE = ["\x00", "\x07", "\t", "\n", "\r", "\x1b", "\x7f", "\x85", "\x9b", "\u061c", "\u200e",
          "\u200f", "\u2028", "\u2029", "\u202a", "\u202e", "\u2066", "\u2069", "\udcff",
          "\ufffe"]
# A file name that, printed raw, erases its own line and forges a clean summary.
FORGED = "x\r\x1b[2K\x1b[1Ahvscan: scanned 1 file (1 B); 0 findings\n\x1b[8m"


@pytest.fixture
def engine() -> Engine:
    return Engine(load_builtin_rules())


@pytest.mark.parametrize("char", UNSAFE)
def test_unsafe_characters_are_escaped(char: str) -> None:
    text = escape(f"a{char}b")
    assert char not in text
    assert re.fullmatch(r"a\\(x[0-9a-f]{2}|u[0-9a-f]{4})b", text)


def test_escaping_keeps_printable_text_and_is_idempotent() -> None:
    printable = 'dir/Zoë "名前" <&> 100%::,=-@ \\x41 ü.env'
    assert escape(printable) == printable
    assert escape(escape(FORGED)) == escape(FORGED)
    assert escape(FORGED).isprintable()


def test_keys_in_text_are_redacted_plain_and_encoded(engine: Engine, key: Callable[..., str]
                                                     ) -> None:
    live, test = key("live", "shown-1"), key("test", "shown-2")
    text = redact_keys(f"a/{live}.txt!{test.replace('_', '%5F')}/x", engine)
    assert text == f"a/{live[:12]}...{live[-4:]}.txt!{test[:12]}...{test[-4:]}/x"
    assert redact_keys(text, engine) == text
    assert shown(f"{live}\n", engine) == f"{live[:12]}...{live[-4:]}\\x0a"
    assert shown(f"{live}\n", engine, show_secrets=True) == f"{live}\\x0a"
    assert shown(f"{live}\n", None) == f"{live}\\x0a"  # no engine: escaped only


def test_reported_copy_holds_no_key_and_keeps_hashes(engine: Engine, key: Callable[..., str]
                                                     ) -> None:
    from hvscan.findings import make_finding

    name, found = key("live", "shown-name"), key("live", "shown-found")
    result = ScanResult(engine)
    match = engine.scan(f"k = {found}\n".encode())[0]
    origin = Origin("history", f"dir/{name}", "c0ffee", f"Eve\x1b[2A <{name}@x>", "2024",
                    History(tag=f"v1\n{name}", tag_object="7a9"))
    result.findings.append(make_finding(match, origin))
    result.skipped.append(Skipped(f"{name}\x1b", "broken symbolic link"))
    result.errors.append(Failed(f"{name}\r", "Permission denied"))
    result.notes.append(Note(f"a.zip!{name}", "damaged", False, "file"))
    for show_secrets in (False, True):
        copy = reported(result, show_secrets)
        texts = _strings([vars(f) for f in copy.findings] + [copy.skipped, copy.errors,
                                                              copy.notes])
        assert all(escape(text) == text for text in texts)
        assert any(KEY_SHAPE.search(text) for text in texts) is show_secrets
        assert copy.findings[0].fingerprint == result.findings[0].fingerprint
        assert copy.findings[0].secret_sha256 == result.findings[0].secret_sha256
    hidden = reported(result).findings[0]
    assert hidden.author == f"Eve\\x1b[2A <{name[:12]}...{name[-4:]}@x>"
    assert hidden.history == History(tag=f"v1\\x0a{name[:12]}...{name[-4:]}", tag_object="7a9")
    assert hidden.secret == hidden.secret_redacted
    assert result.findings[0].path == f"dir/{name}"  # the original is left alone


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list | tuple):
        return [text for item in value for text in _strings(item)]
    return []


# The reproductions, through the real command line.

def _no_key_anywhere(*texts: bytes) -> None:
    for text in texts:
        assert KEY_SHAPE.search(text.decode("utf-8", "replace")) is None


@pytest.mark.parametrize("name", FORMATS)
def test_a_key_in_a_file_name_is_redacted_in_every_format(
    name: str, tmp_path: Path, key: Callable[..., str], run_hvscan: Run
) -> None:
    in_name, inside = key("live", "name-1"), key("test", "name-2")
    (tmp_path / f"{in_name}.env").write_text(f"K={inside}\n")
    done = run_hvscan("dir", "--format", name, ".", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    _no_key_anywhere(done.stdout, done.stderr)
    assert f"{in_name[:12]}...{in_name[-4:]}.env" in done.stdout.decode()
    shown_secrets = run_hvscan("dir", "--format", name, "--show-secrets", ".", cwd=tmp_path)
    assert in_name in shown_secrets.stdout.decode()


@pytest.mark.parametrize("name", FORMATS)
def test_a_key_as_a_zip_member_name_is_redacted_in_every_format(
    name: str, tmp_path: Path, key: Callable[..., str], run_hvscan: Run
) -> None:
    member, inside = key("live", "member-1"), key("live", "member-2")
    (tmp_path / "bundle.zip").write_bytes(make_zip({f"conf/{member}": f"K={inside}\n".encode()}))
    done = run_hvscan("dir", "--format", name, ".", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    _no_key_anywhere(done.stdout, done.stderr)
    assert f"{member[:12]}...{member[-4:]}" in done.stdout.decode()


def test_the_baseline_file_holds_no_key_from_names(
    tmp_path: Path, key: Callable[..., str], run_hvscan: Run
) -> None:
    in_name, member, inside = key("live", "base-1"), key("test", "base-2"), key("live", "base-3")
    (tmp_path / f"{in_name}\x1b[2J.env").write_text(f"K={inside}\n")
    (tmp_path / "b.zip").write_bytes(make_zip({member: f"K={inside}\n".encode()}))
    done = run_hvscan("baseline", "--output", "base.json", ".", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    text = (tmp_path / "base.json").read_bytes()
    _no_key_anywhere(text, done.stderr)
    paths = sorted(entry["path"] for entry in json.loads(text)["findings"])
    # The file's and the member's names hold a key of their own: a finding (and an entry) each.
    assert paths == [*[f"b.zip!{member[:12]}...{member[-4:]}"] * 2,
                     *[f"{in_name[:12]}...{in_name[-4:]}\\x1b[2J.env"] * 2]


def test_a_file_name_cannot_forge_the_summary_line(
    tmp_path: Path, key: Callable[..., str], run_hvscan: Run
) -> None:
    (tmp_path / FORGED).write_text(f"K={key('live', 'forged')}\n")
    done = run_hvscan("dir", ".", cwd=tmp_path)
    assert done.returncode == 1
    out = done.stdout.decode()
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f]", out)
    lines = out.splitlines()
    assert [line for line in lines if line.startswith("hvscan:")] == [lines[-1]]
    assert lines[-1].startswith("hvscan: scanned 1 file") and "1 finding (1 high)" in lines[-1]
    assert lines[0].startswith(escape(FORGED) + ":1:3: hesedvid-live-key")


def test_names_on_standard_error_are_escaped(tmp_path: Path, run_hvscan: Run) -> None:
    # A skipped file named by 'hvscan baseline'; a path that could not be scanned named on
    # standard error because the report is not text.
    os.mkfifo(tmp_path / f"pipe{FORGED}")
    noted = run_hvscan("baseline", "--output", str(tmp_path / "b.json"), str(tmp_path))
    missing = run_hvscan("dir", "--format", "json", str(tmp_path / f"gone{FORGED}"))
    assert missing.returncode == 2
    for done in (noted, missing):
        assert not re.search("[\x00-\x08\x0b-\x1f\x7f]", done.stderr.decode())
    assert f"note: skipped pipe{escape(FORGED)}: not a regular file" in noted.stderr.decode()
    assert f"hvscan: error: {tmp_path}/gone{escape(FORGED)}: " in missing.stderr.decode()


def test_an_author_name_cannot_move_the_terminal_cursor(
    repo: GitRepo, key: Callable[..., str], run_hvscan: Run
) -> None:
    # Up two lines and erase them: printed raw, the finding's own lines would vanish.
    author = "Mallory\x1b[2A\x1b[2K\x1b[1A\x1b[2K\r\u202e"
    repo.write("app.env", f"K={key('live', 'author')}\n")
    repo.add("app.env")
    repo.commit("add", f"--author={author} <m@example.invalid>")
    done = run_hvscan("git", str(repo.path), env=repo.env)
    assert done.returncode == 1, done.stderr
    out = done.stdout.decode()
    assert "\x1b" not in out and "\r" not in out and "\u202e" not in out
    assert "by Mallory\\x1b[2A\\x1b[2K\\x1b[1A\\x1b[2K\\x0d\\u202e <" in out


def test_github_commands_cannot_be_forged_by_a_file_name(
    tmp_path: Path, key: Callable[..., str], run_hvscan: Run
) -> None:
    name = "a,line=99:b%0A\n::error file=x::0 findings\r"
    (tmp_path / name).write_text(f"K={key('live', 'github')}\n")
    done = run_hvscan("dir", "--format", "github", ".", cwd=tmp_path)
    lines = done.stdout.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith("::error file=")
    props = lines[0].split("::")[1].split(" ", 1)[1]
    assert props.startswith("file=a%2Cline=99%3Ab%250A\\x0a%3A%3Aerror file=x%3A%3A0 findings"
                            "\\x0d,line=1,col=3,")


def test_the_strict_list_of_what_was_left_unscanned_is_escaped(
    tmp_path: Path, key: Callable[..., str], run_hvscan: Run
) -> None:
    # A file over --max-file-size is left unscanned: --strict names it on standard error.
    name = f"big{FORGED}{key('live', 'strict-list')}"
    (tmp_path / name).write_text("x" * 2000)
    done = run_hvscan("dir", "--strict", "--max-file-size", "1000", ".", cwd=tmp_path)
    assert done.returncode == 2
    err = done.stderr.decode()
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f]", err)
    assert not KEY_SHAPE.search(err)
    assert "--strict: 1 part of the input left unscanned" in err and escape("big" + FORGED) in err
