"""Suppression: inline allow comments, ignore files, and how suppressed findings are reported."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from gitrepo import GitRepo
from hvscan_run import Run
from hypothesis import given
from hypothesis import strategies as st
from keygen import key_sha256, make_key
from reading import CountingBytes

from hvscan import scan
from hvscan.baseline import Baseline
from hvscan.engine import Engine
from hvscan.findings import make_finding
from hvscan.lines import Locator
from hvscan.model import Origin
from hvscan.rules import load_builtin_rules
from hvscan.sources import Blob
from hvscan.suppress import IgnoreFileError, InlineAllow, Suppressor, load_ignore_file

KEY = make_key("live", 7)
ENGINE = Engine(load_builtin_rules(), allow_marker=InlineAllow)


def allowed_inline(data: bytes, start: int, end: int, foreign: bool = True) -> bool:
    """Whether the line holding ``data[start:end]`` carries the marker, as the engine asks."""
    return InlineAllow(data, foreign)(*Locator(data).line_bounds(start, end))


def _utf8_and_utf16(markers: list[str]) -> list[bytes]:
    return [marker.encode(codec) for marker in markers
            for codec in ("utf-8", "utf-16-le", "utf-16-be")]


def reference_allowed(data: bytes, start: int, end: int, foreign: bool = True) -> bool:
    """The definition: one of the markers' forms lies within the span's line, or (the nextline
    pragma) within the line before it."""
    line_start = data.rfind(b"\n", 0, start) + 1
    line_end = data.find(b"\n", end)
    line = data[line_start:len(data) if line_end < 0 else line_end]
    before = data[data.rfind(b"\n", 0, line_start - 1) + 1:line_start - 1] if line_start else b""
    on_line = ["hvscan:allow"] + (
        ["gitleaks:allow", "pragma: allowlist secret", "trufflehog:ignore"] if foreign else [])
    on_line_before = ["pragma: allowlist nextline secret"] if foreign else []
    return (any(marker in line for marker in _utf8_and_utf16(on_line))
            or any(marker in before for marker in _utf8_and_utf16(on_line_before)))


def span(data: bytes, needle: str = KEY) -> tuple[int, int]:
    start = data.index(needle.encode())
    return start, start + len(needle)


@pytest.mark.parametrize(
    "text",
    [
        f'API = "{KEY}"  # hvscan:allow\n',
        f"// hvscan:allow test fixture\nx\n{KEY} /* hvscan:allow */",
        f"first line\r\napi_key: {KEY} # hvscan:allow\r\nlast\r\n",
        f"<!-- hvscan:allow -->{KEY}",
    ],
)
def test_marker_on_the_key_line_allows_it(text: str) -> None:
    data = text.encode()
    assert allowed_inline(data, *span(data))
    assert allowed_inline(data, *span(data), foreign=False)


@pytest.mark.parametrize(
    "text",
    [
        f'API = "{KEY}"  # gitleaks:allow\n',
        f"// gitleaks:allow fixture\nx\n{KEY} /* gitleaks:allow */",
        f'password = "{KEY}"  # pragma: allowlist secret\n',
        f"first\r\nkey: {KEY} # pragma: allowlist secret\r\nlast\r\n",
        f'API = "{KEY}"  // trufflehog:ignore\n',
        f"x = 1\n# pragma: allowlist nextline secret\nAPI = '{KEY}'\n",
        f"# pragma: allowlist nextline secret\r\nAPI = '{KEY}'\r\n",
        f"<!-- pragma: allowlist nextline secret -->\n{KEY} {KEY}",
    ],
)
def test_other_scanners_markers_allow_it_unless_turned_off(text: str) -> None:
    data = text.encode()
    assert allowed_inline(data, *span(data))
    assert not allowed_inline(data, *span(data), foreign=False)


@pytest.mark.parametrize(
    "text",
    [
        f"# pragma: allowlist nextline secret\n\nAPI = '{KEY}'\n",  # two lines before
        f"API = '{KEY}'  # pragma: allowlist nextline secret\n",  # its own line
        f"API = '{KEY}'\n# pragma: allowlist nextline secret\n",  # the line after
        f"API = '{KEY}'  # pragma: allowlist-secret\n",  # detect-secrets' variants: not these
        f"API = '{KEY}'  # PRAGMA: ALLOWLIST SECRET\n",
        f"API = '{KEY}'  # gitleaks: allow\n",
        f"# gitleaks:allow\nAPI = '{KEY}'\n",  # only the nextline pragma looks at the line before
    ],
)
def test_other_scanners_markers_elsewhere_or_misspelt_do_not(text: str) -> None:
    data = text.encode()
    assert not allowed_inline(data, *span(data))


@pytest.mark.parametrize(
    "text",
    [
        f"# hvscan:allow\nAPI = '{KEY}'\n",
        f"API = '{KEY}'\n# hvscan:allow\n",
        f"API = '{KEY}'  # hvscan: allow\n",
        f"API = '{KEY}'  # HVSCAN:ALLOW\n",
    ],
)
def test_marker_elsewhere_or_misspelt_does_not(text: str) -> None:
    data = text.encode()
    assert not allowed_inline(data, *span(data))


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
@pytest.mark.parametrize("marker", ["hvscan:allow", "gitleaks:allow"])
def test_marker_in_utf16_text(codec: str, marker: str) -> None:
    data = f"a\nkey = {KEY} # {marker}\nb\n".encode(codec)
    start = data.index(KEY.encode(codec))
    assert allowed_inline(data, start, start + len(KEY.encode(codec)))
    other = f"# {marker}\nkey = {KEY}\n".encode(codec)
    start = other.index(KEY.encode(codec))
    assert not allowed_inline(other, start, start + len(KEY.encode(codec)))
    before = f"# pragma: allowlist nextline secret\nkey = {KEY}\n".encode(codec)
    start = before.index(KEY.encode(codec))
    assert allowed_inline(before, start, start + len(KEY.encode(codec)))


LINES = st.lists(st.sampled_from([b"x", b"\n", b"hvscan:allow", b"hvscan:allo", b"w",
                                   "hvscan:allow".encode("utf-16-le"), b"\0", b"gitleaks:allow",
                                   b"pragma: allowlist secret", b"trufflehog:ignore",
                                   b"pragma: allowlist nextline secret",
                                   "pragma: allowlist nextline secret".encode("utf-16-be")]),
                 max_size=40).map(b"".join)


@given(data=LINES, picks=st.lists(st.tuples(st.integers(0, 1 << 16), st.integers(0, 30)),
                                  max_size=12), foreign=st.booleans())
def test_lines_asked_in_order_agree_with_the_definition(
        data: bytes, picks: list[tuple[int, int]], foreign: bool) -> None:
    spans = sorted((start := pick % (len(data) + 1), min(len(data), start + width))
                   for pick, width in picks)
    locator, allowed = Locator(data), InlineAllow(data, foreign)
    for start, end in spans:
        assert (allowed(*locator.line_bounds(start, end))
                == reference_allowed(data, start, end, foreign))


@pytest.mark.parametrize(("foreign", "passes"), [(False, 4), (True, 6)])
def test_many_keys_on_one_long_line_search_it_once(foreign: bool, passes: int) -> None:
    # The marker used to be looked for in the whole line again for every key on it. Now each
    # form is looked for once in all: the lines' ends (2 passes), a NUL byte (none: no UTF-16
    # form is looked for), hvscan:allow (found on the long line) and, for the key on the next
    # line, the long line before it and the nextline pragma in it (2 more with foreign markers).
    data = CountingBytes(b"x" * 4_000_000 + b" # hvscan:allow\nnext line")
    locator, allowed = Locator(data), InlineAllow(data, foreign)
    for start in range(0, 4_000_000, 4000):
        assert allowed(*locator.line_bounds(start, start + 40))
    assert not allowed(*locator.line_bounds(4_000_020, 4_000_021))
    assert data.examined <= passes * len(data)


def test_ignore_file_entries(tmp_path: Path) -> None:
    fingerprint, sha = "ab" * 16, "cd" * 32
    path = tmp_path / ".hvscanignore"
    path.write_text(f"# accepted on review\n\n{fingerprint.upper()}  # fixture\n  {sha}\n")
    assert load_ignore_file(path) == frozenset({fingerprint, sha})


@pytest.mark.parametrize("line", ["src/app.py:12", "ab" * 15, "zz" * 16, "ab" * 16 + " extra"])
def test_ignore_file_bad_line_names_file_and_line(tmp_path: Path, line: str) -> None:
    path = tmp_path / ".hvscanignore"
    path.write_text(f"# header\n{line}\n")
    with pytest.raises(IgnoreFileError, match=r"\.hvscanignore:2: .* is neither a fingerprint"):
        load_ignore_file(path)


def test_missing_ignore_file(tmp_path: Path) -> None:
    with pytest.raises(IgnoreFileError, match="cannot read ignore file"):
        load_ignore_file(tmp_path / "nope")


def scanned(text: str, suppressor: Suppressor, source: str = "file") -> scan.ScanResult:
    origin = Origin(source=source, path="app/settings.py", commit="c" * 40 if source == "history"
                    else None)
    result = scan.Pipeline(ENGINE).run(iter([Blob(text.encode(), origin)]))
    scan.settle(result, None, suppressor)
    return result


@pytest.mark.parametrize("source", ["file", "stdin", "staged", "history"])
def test_pipeline_suppresses_inline_for_every_source(source: str) -> None:
    result = scanned(f"a = '{KEY}'  # hvscan:allow\nb = '{make_key('test', 8)}'\n",
                     Suppressor(), source)
    assert [f.rule_id for f in result.findings] == ["hesedvid-test-key"]
    assert [f.suppression for f in result.suppressed] == ["inline"]
    assert result.stats.suppressed == 1


def test_the_engine_reads_the_marker_so_sources_keeping_only_matches_get_it() -> None:
    # The history audit keeps matches, not blobs, until it knows where a key was introduced.
    allowed, plain = ENGINE.scan(f"{KEY} # hvscan:allow\n{make_key('test', 8)}\n".encode())
    assert allowed.allowed and not plain.allowed
    finding = make_finding(allowed, Origin(source="history", path="a.py", commit="c" * 40))
    assert finding.suppression == "inline"


def test_reasons_in_order() -> None:
    (match,) = ENGINE.scan(KEY.encode())
    finding = make_finding(match, Origin(source="file", path="a.py"))
    sha = key_sha256(KEY)
    baseline = Baseline(frozenset({(finding.rule_id, sha)}))
    assert Suppressor().reason(finding) is None
    assert Suppressor(baseline=baseline).reason(finding) == "baseline"
    by_fingerprint = Suppressor(frozenset({finding.fingerprint}), baseline)
    assert by_fingerprint.reason(finding) == "ignore-file"
    assert Suppressor(frozenset({sha})).reason(finding) == "ignore-file"
    (allowed,) = ENGINE.scan(f"{KEY} # hvscan:allow".encode())
    inline = make_finding(allowed, Origin(source="file", path="a.py"))
    assert by_fingerprint.reason(inline) == "inline"


# Through the real command


@pytest.fixture
def repo(repo: GitRepo) -> Path:
    """The shared empty repository's directory, holding a key and an allowed one."""
    repo.write("src/app.py", f'KEY = "{KEY}"\n')
    repo.write("src/fixture.py", f'KEY = "{make_key("test", 9)}"  # hvscan:allow\n')
    return repo.path


def findings(done: subprocess.CompletedProcess[bytes]) -> list[dict[str, object]]:
    result: list[dict[str, object]] = json.loads(done.stdout)["findings"]
    return result


def test_inline_allow_is_counted_and_listed_on_demand(repo: Path, run_hvscan: Run) -> None:
    done = run_hvscan("dir", "--format", "json", cwd=repo)
    report = json.loads(done.stdout)
    assert [f["path"] for f in report["findings"]] == ["src/app.py"]
    assert report["stats"]["suppressed"] == 1 and "suppressed" not in report
    shown = json.loads(run_hvscan("dir", "--format", "json", "--show-suppressed",
                                  cwd=repo).stdout)
    (entry,) = shown["suppressed"]
    assert entry["path"] == "src/fixture.py" and entry["suppression"] == "inline"
    assert entry["secret_redacted"] and "secret" not in entry
    text = run_hvscan("dir", "--show-suppressed", cwd=repo).stdout.decode()
    assert "suppressed (inline): src/fixture.py:1:8: hesedvid-test-key [medium]" in text
    assert "1 finding (1 high); 1 suppressed" in text
    assert "src/fixture.py" not in run_hvscan("dir", cwd=repo).stdout.decode()


def test_inline_allow_on_stdin(run_hvscan: Run) -> None:
    done = run_hvscan("stdin", input=f"{KEY} # hvscan:allow\n".encode())
    assert done.returncode == 0 and "1 suppressed" in done.stdout.decode()


@pytest.mark.parametrize("marker", ["# gitleaks:allow", "# pragma: allowlist secret",
                                    "// trufflehog:ignore"])
def test_foreign_markers_through_the_command_and_their_switch(
        repo: Path, run_hvscan: Run, marker: str) -> None:
    (repo / "src" / "app.py").write_text(f'KEY = "{KEY}"  {marker}\n')
    (repo / "src" / "next.py").write_text(
        f"# pragma: allowlist nextline secret\nKEY = '{make_key('live', 10)}'\n")
    done = run_hvscan("dir", "--format", "json", "--show-suppressed", cwd=repo)
    assert done.returncode == 0, done.stdout
    assert [s["suppression"] for s in json.loads(done.stdout)["suppressed"]] == ["inline"] * 3
    # Off: by option, by the configuration file, by variable; hvscan:allow still counts.
    off = run_hvscan("dir", "--format", "json", "--no-foreign-allow-markers", cwd=repo)
    assert off.returncode == 1
    assert sorted(f["path"] for f in findings(off)) == ["src/app.py", "src/next.py"]
    assert json.loads(off.stdout)["stats"]["suppressed"] == 1
    assert run_hvscan("dir", env={"HVSCAN_FOREIGN_ALLOW_MARKERS": "false"},
                      cwd=repo).returncode == 1
    (repo / ".hvscan.toml").write_text("foreign-allow-markers = false\n")
    assert run_hvscan("dir", cwd=repo).returncode == 1
    # The command line wins over the file.
    assert run_hvscan("dir", "--foreign-allow-markers", cwd=repo).returncode == 0


def test_text_report_shows_the_fingerprint_to_ignore(repo: Path, run_hvscan: Run) -> None:
    (finding,) = findings(run_hvscan("dir", "--format", "json", cwd=repo))
    text = run_hvscan("dir", cwd=repo).stdout.decode()
    assert f"  fingerprint: {finding['fingerprint']}\n" in text


def test_hvscanignore_at_the_repository_root(repo: Path, run_hvscan: Run) -> None:
    (finding,) = findings(run_hvscan("dir", "--format", "json", cwd=repo))
    (repo / ".hvscanignore").write_text(f"# reviewed\n{finding['fingerprint']}\n")
    for cwd, args in ((repo, ()), (repo.parent, (str(repo),))):
        done = run_hvscan("dir", *args, "--format", "json", "--show-suppressed", cwd=cwd)
        assert done.returncode == 0, (cwd, done.stdout)
        report = json.loads(done.stdout)
        assert report["findings"] == []
        assert sorted(s["suppression"] for s in report["suppressed"]) == ["ignore-file", "inline"]
    # Found from a subdirectory too; there paths (and so fingerprints) are relative to it, so
    # only the key's hash, which does not depend on the path, still matches.
    assert run_hvscan("dir", cwd=repo / "src").returncode == 1
    (repo / ".hvscanignore").write_text(f"{finding['secret_sha256']}\n")
    assert run_hvscan("dir", cwd=repo / "src").returncode == 0


def test_fingerprint_is_per_file_key_hash_is_everywhere(repo: Path, run_hvscan: Run) -> None:
    (finding,) = findings(run_hvscan("dir", "--format", "json", cwd=repo))
    (repo / "src" / "copy.py").write_text(f"K = '{KEY}'\n")
    (repo / ".hvscanignore").write_text(f"{finding['fingerprint']}\n")
    assert [f["path"] for f in findings(run_hvscan("dir", "--format", "json", cwd=repo))] == [
        "src/copy.py"]
    (repo / ".hvscanignore").write_text(f"{finding['secret_sha256']}\n")
    assert findings(run_hvscan("dir", "--format", "json", cwd=repo)) == []


def test_ignore_file_option_and_setting(repo: Path, tmp_path: Path, run_hvscan: Run) -> None:
    (finding,) = findings(run_hvscan("dir", "--format", "json", cwd=repo))
    elsewhere = tmp_path / "accepted.txt"
    elsewhere.write_text(finding["fingerprint"] + "\n")  # type: ignore[operator]
    assert run_hvscan("dir", "--ignore-file", str(elsewhere), cwd=repo).returncode == 0
    (repo / ".hvscan.toml").write_text(f'ignore-file = "{elsewhere}"\n')
    assert run_hvscan("dir", cwd=repo).returncode == 0


def test_bad_ignore_file_is_one_line_exit_2(repo: Path, run_hvscan: Run) -> None:
    (repo / ".hvscanignore").write_text("src/app.py:1\n")
    done = run_hvscan("dir", cwd=repo)
    err = done.stderr.decode()
    assert done.returncode == 2 and err.count("\n") == 1
    assert ".hvscanignore:1: 'src/app.py:1' is neither a fingerprint" in err
    done = run_hvscan("dir", "--ignore-file", "missing", cwd=repo)
    assert done.returncode == 2 and "cannot read ignore file" in done.stderr.decode()


def test_exit_zero_reports_but_passes(repo: Path, run_hvscan: Run) -> None:
    done = run_hvscan("dir", "--exit-zero", cwd=repo)
    assert done.returncode == 0 and "src/app.py:1:8" in done.stdout.decode()
    assert run_hvscan("dir", "--exit-zero", "missing", cwd=repo).returncode == 2
