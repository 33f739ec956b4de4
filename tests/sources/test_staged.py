"""The staged source and ``hvscan staged``: the index, not the working tree; only added keys."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from archives import make_zip
from gitrepo import GitRepo
from hvscan_run import Run
from keygen import key_sha256, make_key

from hvscan.findings import redact
from hvscan.sources import Blob, Failed, Names, Skipped
from hvscan.sources.staged import read


def staged(repo: GitRepo, run_hvscan: Run, *args: str) -> tuple[int, dict[str, Any]]:
    done = run_hvscan("staged", "--format", "json", *args, cwd=repo.path, env=repo.env)
    assert done.stderr == b"" or done.returncode == 2, done.stderr
    report = json.loads(done.stdout) if done.stdout else {}
    return done.returncode, report


def found(report: dict[str, Any]) -> list[tuple[str, int, int, str]]:
    return [(f["path"], f["line"], f["column"], f["secret_sha256"][:12])
            for f in report["findings"]]


def sha(key: str) -> str:
    """The start of a key's ``secret_sha256``, as ``found`` lists it."""
    return key_sha256(key)[:12]


def contents(repo: GitRepo) -> list[object]:
    """The staged source's events about contents: not the names (tested on their own below)."""
    return [e for e in read(repo.path) if not isinstance(e, Names)]


def test_before_the_first_commit(repo: GitRepo, run_hvscan: Run) -> None:
    repo.write("app.py", f"\n\nTOKEN = '{make_key()}'\n")
    repo.add("app.py")
    code, report = staged(repo, run_hvscan)
    assert code == 1
    assert found(report) == [("app.py", 3, 10, sha(make_key()))]
    assert report["findings"][0]["source"] == "staged"
    assert report["findings"][0]["commit"] is None
    assert report["stats"]["files_scanned"] == 1


def test_reads_the_index_not_the_working_tree(repo: GitRepo, run_hvscan: Run) -> None:
    # `git add -p` stages part of the edits; what is staged is what gets scanned.
    repo.write("a.txt", f"key = {make_key('live', 1)}\n")
    repo.add("a.txt")
    repo.write("a.txt", "key = from_the_environment()\n")
    repo.write("b.txt", "clean\n")
    repo.add("b.txt")
    repo.write("b.txt", f"later = {make_key('live', 2)}\n")
    code, report = staged(repo, run_hvscan)
    assert code == 1
    assert found(report) == [("a.txt", 1, 7, sha(make_key("live", 1)))]


def test_staged_file_deleted_from_the_working_tree(repo: GitRepo, run_hvscan: Run) -> None:
    repo.write("gone.env", f"HV={make_key('test', 3)}\n")
    repo.add("gone.env")
    (repo.path / "gone.env").unlink()
    code, report = staged(repo, run_hvscan)
    assert code == 1 and found(report) == [("gone.env", 1, 4, sha(make_key("test", 3)))]


def test_partial_staging_with_add_patch(repo: GitRepo, run_hvscan: Run) -> None:
    lines = [f"line {i}\n" for i in range(40)]
    repo.commit_file("big.py", "".join(lines), "base")
    lines[2] = f"first = '{make_key('live', 4)}'\n"
    lines[35] = f"second = '{make_key('live', 5)}'\n"
    repo.write("big.py", "".join(lines))
    # Stage the first hunk only, as `git add -p` does when answered "y" then "n".
    repo.git("add", "-p", "big.py", input=b"y\nn\n")
    code, report = staged(repo, run_hvscan)
    assert code == 1
    assert found(report) == [("big.py", 3, 10, sha(make_key("live", 4)))]


def test_key_already_in_head_is_not_reported_again(repo: GitRepo, run_hvscan: Run) -> None:
    old, new = make_key("live", 6), make_key("test", 7)
    repo.commit_file("conf.py", f"A = '{old}'\n", "old key")
    repo.write("conf.py", f"# edited\nA = '{old}'\nB = '{new}'\n")
    repo.add("conf.py")
    code, report = staged(repo, run_hvscan)
    assert code == 1
    assert found(report) == [("conf.py", 3, 6, sha(new))]
    assert report["stats"]["preexisting_ignored"] == 1
    # The same old key copied into another file is new there.
    repo.write("copy.py", f"A = '{old}'\n")
    repo.add("copy.py")
    code, report = staged(repo, run_hvscan)
    assert sorted(found(report)) == [("conf.py", 3, 6, sha(new)), ("copy.py", 1, 6, sha(old))]


def test_rename_keeps_the_source_keys_and_reports_new_ones(repo: GitRepo,
                                                            run_hvscan: Run) -> None:
    old, new = make_key("live", 8), make_key("live", 9)
    body = "".join(f"setting_{i} = {i}\n" for i in range(30))
    repo.commit_file("settings.py", f"KEY = '{old}'\n{body}", "settings")
    (repo.path / "config").mkdir()
    repo.git("mv", "settings.py", "config/settings.py")
    code, report = staged(repo, run_hvscan)
    assert (code, found(report)) == (0, [])
    assert report["stats"]["files_scanned"] == 1
    repo.write("config/settings.py", f"KEY = '{old}'\n{body}OTHER = '{new}'\n")
    repo.add("config/settings.py")
    code, report = staged(repo, run_hvscan)
    assert code == 1 and found(report) == [("config/settings.py", 32, 10, sha(new))]


def test_binary_file_is_scanned_as_bytes(repo: GitRepo, run_hvscan: Run) -> None:
    repo.write("blob.bin", b"\x00\x01\xff" * 100 + make_key("live", 10).encode() + b"\x00\x02")
    repo.add("blob.bin")
    code, report = staged(repo, run_hvscan)
    assert code == 1 and [f[0] for f in found(report)] == ["blob.bin"]


def test_deletions_only_pass_and_say_what_was_scanned(repo: GitRepo, run_hvscan: Run) -> None:
    repo.commit_file("old.py", f"K = '{make_key('live', 11)}'\n", "old")
    repo.git("rm", "-q", "old.py")
    code, report = staged(repo, run_hvscan)
    assert (code, found(report), report["stats"]["files_scanned"]) == (0, [], 0)
    done = run_hvscan("staged", cwd=repo.path, env=repo.env)
    assert b"scanned 0 files (0 B); 0 findings" in done.stdout


def test_text_summary_counts_files_and_bytes(repo: GitRepo, run_hvscan: Run) -> None:
    repo.write("one.txt", "x" * 1000)
    repo.write("two.txt", "y" * 1000)
    repo.add("one.txt", "two.txt")
    done = run_hvscan("staged", cwd=repo.path, env=repo.env)
    assert done.returncode == 0
    assert done.stdout == b"hvscan: scanned 2 files (2.0 KB); 0 findings\n"


def test_unreadable_staged_blob_fails_instead_of_passing(repo: GitRepo,
                                                         run_hvscan: Run) -> None:
    repo.write("a.txt", "some content\n")
    repo.add("a.txt")
    blob = repo.out("rev-parse", ":a.txt")
    (repo.path / ".git" / "objects" / blob[:2] / blob[2:]).unlink()
    done = run_hvscan("staged", cwd=repo.path, env=repo.env)
    assert done.returncode == 2
    assert f"a.txt: staged blob {blob} is missing" in done.stdout.decode()
    assert b"scan incomplete" in done.stdout


def test_unmerged_path_is_an_error(repo: GitRepo, run_hvscan: Run) -> None:
    repo.commit_file("f.txt", "base\n", "base")
    repo.git("checkout", "-q", "-b", "side")
    repo.write("f.txt", "side\n")
    repo.commit("side", "-a")
    repo.git("checkout", "-q", "main")
    repo.write("f.txt", "main\n")
    repo.commit("main", "-a")
    repo.git("merge", "-q", "side", check=False)
    done = run_hvscan("staged", cwd=repo.path, env=repo.env)
    assert done.returncode == 2
    assert b"f.txt: unmerged" in done.stdout


def test_merge_in_progress_does_not_report_the_merged_branch_keys(repo: GitRepo,
                                                                 run_hvscan: Run) -> None:
    theirs, evil = make_key("live", 12), make_key("live", 13)
    repo.commit_file("base.txt", "base\n", "base")
    repo.git("checkout", "-q", "-b", "side")
    repo.commit_file("side.py", f"K = '{theirs}'\n", "side")
    repo.git("checkout", "-q", "main")
    repo.commit_file("main.txt", "main\n", "main")
    repo.git("merge", "-q", "--no-commit", "--no-ff", "side")
    code, report = staged(repo, run_hvscan)
    assert (code, found(report)) == (0, [])
    # A key that the merge resolution itself adds is reported.
    repo.write("side.py", f"K = '{theirs}'\nE = '{evil}'\n")
    repo.add("side.py")
    code, report = staged(repo, run_hvscan)
    assert code == 1 and found(report) == [("side.py", 2, 6, sha(evil))]


def test_merge_head_must_hold_object_ids(repo: GitRepo, run_hvscan: Run) -> None:
    """MERGE_HEAD's entries reach git's command line: anything but an object id is refused."""
    repo.commit_file("base.txt", "base\n", "base")
    (repo.path / ".git" / "MERGE_HEAD").write_text("--output=x\n")
    repo.write("a.py", f"K = '{make_key('live', 14)}'\n")
    repo.add("a.py")
    done = run_hvscan("staged", cwd=repo.path, env=repo.env)
    assert done.returncode == 2 and not (repo.path / "x").exists()
    assert done.stderr == (b"hvscan: error: git: MERGE_HEAD holds '--output=x', which is not an "
                           b"object id\n")


def test_submodule_entry_is_noted_not_scanned(repo: GitRepo, tmp_path: Path) -> None:
    sub = GitRepo(tmp_path / "sub", repo.env)
    commit = sub.commit_file("x", "x", "sub")
    repo.git("update-index", "--add", "--cacheinfo", f"160000,{commit},vendor/lib")
    events = contents(repo)
    # Informational: the submodule's content is not this repository's to scan (--strict).
    assert events == [Skipped("vendor/lib",
                              "submodule commit (scan the submodule's own repository)", True)]


def test_odd_file_names(repo: GitRepo) -> None:
    name = b"new\nline \xff.txt"
    repo.write(name, "data")
    repo.add(name)
    events = contents(repo)
    assert len(events) == 1 and isinstance(events[0], Blob)
    assert events[0].origin.path == "new\nline \\xff.txt" and events[0].data == b"data"


def test_works_from_a_subdirectory(repo: GitRepo, run_hvscan: Run) -> None:
    repo.write("deep/er/x.py", f"K = '{make_key('live', 14)}'\n")
    repo.add("deep/er/x.py")
    done = run_hvscan("staged", "--format", "json", cwd=repo.path / "deep", env=repo.env)
    assert done.returncode == 1
    assert json.loads(done.stdout)["findings"][0]["path"] == "deep/er/x.py"


@pytest.mark.parametrize("where", ["not-a-repo", "missing"])
def test_not_a_repository_is_a_clear_error(tmp_path: Path, gitenv: dict[str, str],
                                           run_hvscan: Run, where: str) -> None:
    (tmp_path / "not-a-repo").mkdir()
    done = run_hvscan("staged", str(tmp_path / where), cwd=tmp_path,
                      env={**gitenv, "GIT_CEILING_DIRECTORIES": str(tmp_path)})
    assert done.returncode == 2
    assert done.stderr.count(b"\n") == 1 and b"Traceback" not in done.stderr


def test_failed_events_are_reported_for_each_problem(repo: GitRepo) -> None:
    repo.write("a", "a")
    repo.add("a")
    blob = repo.out("rev-parse", ":a")
    (repo.path / ".git" / "objects" / blob[:2] / blob[2:]).unlink()
    assert contents(repo) == [Failed("a", f"staged blob {blob} is missing from the "
                                            "object store")]


def test_excluded_paths_are_neither_read_nor_reported(repo: GitRepo, run_hvscan: Run) -> None:
    repo.write("vendor/lib.py", f"K = '{make_key('live', 15)}'\n")
    repo.write("app.py", "print('app')\n")
    repo.add("vendor/lib.py", "app.py")
    code, report = staged(repo, run_hvscan, "--exclude", "vendor/")
    assert (code, found(report), report["stats"]["files_scanned"]) == (0, [], 1)
    repo.write(".hvscan.toml", 'exclude = ["vendor/"]\n')
    code, report = staged(repo, run_hvscan)
    assert (code, found(report), report["stats"]["files_scanned"]) == (0, [], 1)


def test_git_dash_dash_staged_is_hvscan_staged(repo: GitRepo, run_hvscan: Run) -> None:
    repo.write("app.py", f"TOKEN = '{make_key('test', 3)}'\n")
    repo.add("app.py")
    via_git = run_hvscan("git", "--staged", "--format", "json", cwd=repo.path, env=repo.env)
    assert via_git.returncode == 1
    _, report = staged(repo, run_hvscan)
    assert json.loads(via_git.stdout)["findings"] == report["findings"]
    repo.write("app.py", "TOKEN = os.environ['HV']\n")
    repo.add("app.py")
    clean = run_hvscan("git", "--staged", cwd=repo.path, env=repo.env)
    assert clean.returncode == 0, clean.stdout
    assert b"scanned 1 file" in clean.stdout


def test_git_staged_refuses_history_options(repo: GitRepo, run_hvscan: Run) -> None:
    done = run_hvscan("git", "--staged", "--all-occurrences", cwd=repo.path, env=repo.env)
    assert done.returncode == 2
    assert b"cannot be combined" in done.stderr


def test_what_the_fast_path_read_is_not_read_again(repo: GitRepo, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from hvscan import fastpath

    repo.write("a.txt", "clean\n")
    repo.write("b.py", f"K = '{make_key('live', 11)}'\n")
    repo.add("a.txt", "b.py")
    monkeypatch.chdir(repo.path)
    for name, value in repo.env.items():
        monkeypatch.setenv(name, value)
    read_by_fast_path = fastpath.read_staged(".")
    assert read_by_fast_path is not None
    listing, _, blobs = read_by_fast_path
    expected = [(e.origin.path, e.data) for e in read(repo.path) if isinstance(e, Blob)]
    # Not a repository at all: every byte must come from what was handed over.
    given = read(tmp_path / "nowhere", listing=listing, blobs=blobs)
    assert [(e.origin.path, e.data) for e in given if isinstance(e, Blob)] == expected
    assert [path for path, _ in expected] == ["a.txt", "b.py"]


def named(report: dict[str, Any]) -> list[tuple[str, int, str]]:
    return [(f["path"], f["column"], f["secret_sha256"][:12]) for f in report["findings"]
            if f.get("in_name")]


def test_keys_in_staged_names_are_found_once(repo: GitRepo, run_hvscan: Run) -> None:
    key = make_key("live", 50)
    shown = redact(key, key[-32:])
    repo.write(f"config-{key}.txt", "clean\n")
    repo.write(f"dir-{key}/a.txt", "clean\n")
    repo.write(f"dir-{key}/b.txt", "clean\n")
    name = b"new\nline \xff" + key.encode()
    repo.write(name, "clean\n")
    repo.add(f"config-{key}.txt", f"dir-{key}", name)
    code, report = staged(repo, run_hvscan)
    assert code == 1
    assert named(report) == [(f"config-{shown}.txt", 8, sha(key)), (f"dir-{shown}/", 5, sha(key)),
                             (f"new\\x0aline \\xff{shown}", 7, sha(key))]
    assert {f["source"] for f in report["findings"]} == {"staged"}
    assert report["stats"]["files_scanned"] == 4
    assert "rename it" in report["findings"][0]["remediation"]


def test_names_head_already_has_are_not_new(repo: GitRepo, run_hvscan: Run) -> None:
    key = make_key("test", 51)
    repo.write(f"dir-{key}/a.txt", "clean\n")
    repo.write(f"old-{key}.txt", "the old file's own text\n")
    repo.add(f"dir-{key}", f"old-{key}.txt")
    repo.commit("names")
    # An edit in the directory HEAD has, a new file there, a rename keeping the key's name.
    repo.write(f"dir-{key}/a.txt", "edited\n")
    repo.write(f"dir-{key}/b.txt", "clean\n")
    repo.add(f"dir-{key}")
    repo.git("mv", f"old-{key}.txt", f"moved-{key}.txt")
    code, report = staged(repo, run_hvscan)
    assert code == 0 and report["findings"] == []
    assert report["stats"]["preexisting_ignored"] == 2
    repo.git("mv", f"dir-{key}", "plain")  # the new name holds no key
    code, report = staged(repo, run_hvscan)
    assert code == 0 and report["stats"]["preexisting_ignored"] == 1


def test_keys_in_staged_archive_member_names_are_names(repo: GitRepo, run_hvscan: Run) -> None:
    key = make_key("live", 54)
    repo.write("bundle.zip", make_zip({f"conf/{key}.txt": b"clean\n"}))
    repo.add("bundle.zip")
    code, report = staged(repo, run_hvscan)
    assert code == 1
    (finding,) = report["findings"]
    assert (finding["path"], finding["in_name"], finding["encoding"], finding["source"]) == (
        f"conf/{redact(key, key[-32:])}.txt".join(("bundle.zip!", "")), True, "zip", "staged")
    repo.commit("the archive")
    # An edit of the archive that keeps the member's name adds no key.
    repo.write("bundle.zip", make_zip({f"conf/{key}.txt": b"edited\n", "b.txt": b"x\n"}))
    repo.add("bundle.zip")
    code, report = staged(repo, run_hvscan)
    assert code == 0 and report["stats"]["preexisting_ignored"] == 1


def test_names_along_an_excluded_file_are_each_filtered_by_their_own_path(
        repo: GitRepo, run_hvscan: Run) -> None:
    key = make_key("live", 53)
    repo.write(f"cfg/{key}/data.lock", "x\n")
    repo.write(f"lock-{key}.lock", "x\n")
    repo.add("cfg", f"lock-{key}.lock")
    code, report = staged(repo, run_hvscan, "--exclude", "*.lock")
    # The directory is no excluded path (as ``dir`` and ``git --range`` see it); the files are.
    assert code == 1
    assert named(report) == [(f"cfg/{redact(key, key[-32:])}/", 1, sha(key))]
    assert report["stats"]["files_scanned"] == 0


def test_a_staged_name_is_no_clean_change_for_the_fast_path(repo: GitRepo,
                                                            run_hvscan: Run) -> None:
    from hvscan.fastpath import clean_staged_report

    key = make_key("live", 52)
    repo.write(f"k-{key}", "clean\n")
    repo.add(f"k-{key}")
    assert clean_staged_report(str(repo.path)) is None
    done = run_hvscan("staged", cwd=repo.path, env=repo.env)
    assert done.returncode == 1 and b"(name):1:3:" in done.stdout
