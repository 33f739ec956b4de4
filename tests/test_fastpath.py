"""The hook's fast path: it answers only when the full command would say the same."""

from __future__ import annotations

import base64
import gzip
import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from archives import STREAMS, make_7z, make_tar, make_zip
from gitrepo import GitRepo
from hvscan_run import Run, entry_and_full
from keygen import make_key

from hvscan import fastpath
from hvscan.engine import Engine
from hvscan.rules import load_builtin_rules
from hvscan.sources import files

FULL_COMMAND = [sys.executable, "-c", "from hvscan.cli import main; main()", "staged"]


def test_system_dirs_are_the_walkers() -> None:
    assert tuple(os.fsdecode(d) for d in files.SYSTEM_DIRS) == fastpath.SYSTEM_DIRS


def both_paths(repo: GitRepo, run_hvscan: Run) -> tuple[str | None, bytes, bytes]:
    """The fast path's answer, what `hvscan staged` prints, and what the full command prints."""
    fast = fastpath.clean_staged_report(str(repo.path))
    hook = run_hvscan("staged", cwd=repo.path, env=repo.env)
    full = subprocess.run(FULL_COMMAND, cwd=repo.path, env=repo.env, capture_output=True,
                          check=False)
    assert hook.returncode == full.returncode
    return fast, hook.stdout, full.stdout


def test_clean_changes_are_answered_fast_with_the_full_report(repo: GitRepo,
                                                              run_hvscan: Run) -> None:
    fast, hook, full = both_paths(repo, run_hvscan)  # nothing staged, no commit yet
    assert fast == hook.decode() == full.decode()
    assert fast == "hvscan: scanned 0 files (0 B); 0 findings\n"
    repo.write("a.py", "print('hello')\n" * 200)
    repo.write("docs/é.md", "Set HV_API_KEY.\tTabs,\r\nCRLF, \x1b[1mESC\n")
    repo.add("a.py", "docs/é.md")
    fast, hook, full = both_paths(repo, run_hvscan)
    assert fast == hook.decode() == full.decode()
    assert fast == "hvscan: scanned 2 files (3.0 KB); 0 findings\n"
    repo.commit("two files")
    repo.git("mv", "a.py", "b.py")
    repo.git("rm", "-q", "docs/é.md")
    fast, hook, full = both_paths(repo, run_hvscan)
    assert fast == hook.decode() == full.decode()
    assert fast == "hvscan: scanned 1 file (2.9 KB); 0 findings\n"


@pytest.mark.parametrize("content", [
    f"key = '{make_key('live', 1)}'\n".encode(),
    b"docs say hv_test_ then 32 characters\n",  # a needle without a key: the engine decides
    # Three encodings deep: no needle, but a long base64 run (the prefilter's run needle).
    b"token: " + base64.b64encode(base64.b64encode(base64.b64encode(
        make_key("live", 2).encode()))) + b"\n",
    b"binary\x00data",
    b"\xff\xfe not UTF-8",
    b"large text\n" * (1 << 17),  # over 1 MiB: the full scan's single Hyperscan pass is faster
])
def test_anything_that_might_matter_goes_to_the_full_scan(repo: GitRepo, run_hvscan: Run,
                                                          content: bytes) -> None:
    repo.write("f", content)
    repo.add("f")
    fast, hook, full = both_paths(repo, run_hvscan)
    assert fast is None and hook == full


def test_what_the_engine_scans_whole_is_never_plain_text() -> None:
    engine = Engine(load_builtin_rules())
    text = "hello, wörld\n" * 100
    members = {"a.txt": text.encode()}
    whole = [*(compress(text.encode()) for compress in STREAMS.values()), make_7z(members),
             make_zip(members, zipfile.ZIP_STORED), make_tar(members),
             *(text.encode(codec) for codec in ("utf-16", "utf-16-le", "utf-16-be", "utf-32",
                                                "utf-32-le", "utf-32-be"))]
    for data in whole:
        assert engine.needs_full_scan(data)
        assert not fastpath._plain_text(data)
    plain = [text.encode(), b"\xef\xbb\xbf" + text.encode(), b"tab\tcr\r\nff\x0cesc\x1b[0m\n"]
    for data in plain:
        assert not engine.needs_full_scan(data)
        assert fastpath._plain_text(data)


def test_unmerged_and_submodule_entries_go_to_the_full_scan(repo: GitRepo, tmp_path: Path,
                                                            run_hvscan: Run) -> None:
    sub = GitRepo(tmp_path / "sub", repo.env)
    commit = sub.commit_file("x", "x", "s")
    repo.git("update-index", "--add", "--cacheinfo", f"160000,{commit},lib")
    fast, hook, full = both_paths(repo, run_hvscan)
    assert fast is None and b"note: skipped lib: submodule" in hook and hook == full


@pytest.mark.parametrize(
    "where", [".hvscan.toml", "pyproject.toml", "sub/.hvscan.toml", ".hvscanignore"])
def test_a_configuration_file_goes_to_the_full_scan(repo: GitRepo, where: str) -> None:
    repo.write("sub/a.txt", "clean\n")
    repo.add("sub/a.txt")
    start = str(repo.path / "sub")
    assert fastpath.clean_staged_report(start) is not None
    repo.write("pyproject.toml", "[project]\nname = 'uses-hvscan'\n")
    assert fastpath.clean_staged_report(start) is not None
    text = "[tool.hvscan]\nfail-on = 'high'\n" if where == "pyproject.toml" else "\n"
    repo.write(where, text)
    assert fastpath.clean_staged_report(start) is None


def test_configuration_is_looked_up_no_further_than_the_repository(tmp_path: Path,
                                                                   repo: GitRepo) -> None:
    (tmp_path / ".hvscan.toml").write_text("\n")  # above the repository
    assert fastpath.clean_staged_report(str(repo.path)) is not None


def test_an_hvscan_environment_variable_goes_to_the_full_scan(
        repo: GitRepo, monkeypatch: pytest.MonkeyPatch) -> None:
    assert fastpath.clean_staged_report(str(repo.path)) is not None
    monkeypatch.setenv("HVSCAN_FAIL_ON", "high")
    assert fastpath.clean_staged_report(str(repo.path)) is None


def test_not_a_repository_goes_to_the_full_scan(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    assert fastpath.clean_staged_report(str(tmp_path)) is None


def test_other_commands_and_options_reach_the_full_command_line(repo: GitRepo,
                                                                run_hvscan: Run) -> None:
    repo.write("a.txt", "clean\n")
    repo.add("a.txt")
    done = run_hvscan("staged", "--format", "json", cwd=repo.path, env=repo.env)
    assert done.returncode == 0 and done.stdout.startswith(b"{")
    assert run_hvscan("--version").stdout.startswith(b"hvscan, version")


# --- hvscan dir FILE... (the `hvscan` pre-commit hook) -------------------------------------

FULL_DIR = [sys.executable, "-c", "from hvscan.cli import main; main()", "dir"]


def dir_paths(cwd: Path, run_hvscan: Run, *paths: str,
              answer: Callable[[list[str]], str | None] = fastpath.clean_files_report,
              ) -> tuple[str | None, bytes, bytes]:
    """The fast path's answer, what `hvscan dir PATHS` prints, and what the full command
    prints, all run in ``cwd``."""
    here = Path.cwd()
    try:
        os.chdir(cwd)
        fast = answer(list(paths))
    finally:
        os.chdir(here)
    hook = run_hvscan("dir", *paths, cwd=cwd)
    full = subprocess.run([*FULL_DIR, *paths], cwd=cwd, capture_output=True, check=False)
    assert hook.returncode == full.returncode
    return fast, hook.stdout, full.stdout


def test_clean_files_are_answered_fast_with_the_full_report(tmp_path: Path,
                                                            run_hvscan: Run) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.py").write_text("print('hello')\n" * 200)
    (tmp_path / "sub" / "é.md").write_text("Set HV_API_KEY.\tTabs,\r\nCRLF\n")
    (tmp_path / "again.py").hardlink_to(tmp_path / "a.py")
    fast, hook, full = dir_paths(tmp_path, run_hvscan, "a.py", "sub/é.md", "again.py", "a.py")
    assert fast == hook.decode() == full.decode()
    assert fast == "hvscan: scanned 2 files (3.0 KB); 0 findings\n"  # each real file once


@pytest.mark.parametrize("content", [
    f"key = '{make_key('test', 3)}'\n".encode(),
    b"docs say hv_live_ then 32 characters\n",
    gzip.compress(b"hello"),
    b"\xff\xfe not UTF-8",
    b"large text\n" * (1 << 17),
])
def test_files_that_might_matter_go_to_the_full_scan(tmp_path: Path, run_hvscan: Run,
                                                     content: bytes) -> None:
    (tmp_path / "clean.txt").write_text("clean\n")
    (tmp_path / "f").write_bytes(content)
    fast, hook, full = dir_paths(tmp_path, run_hvscan, "clean.txt", "f")
    assert fast is None and hook == full


@pytest.mark.parametrize("paths", [(".",), ("missing.txt",), ("fifo",), ("a.txt", "sub"),
                                   ("link.txt",), ("sub/environ",), ("leak.txt",)])
def test_anything_but_regular_files_goes_to_the_full_scan(tmp_path: Path, run_hvscan: Run,
                                                          paths: tuple[str, ...]) -> None:
    # Links (to a file inside, or into /proc through a file or a directory) are the walker's
    # to judge: it may not follow them.
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.txt").write_text("clean\n")
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "link.txt").symlink_to("a.txt")
    (tmp_path / "sub" / "environ").symlink_to("/proc/self/environ")
    (tmp_path / "leak.txt").symlink_to("sub/environ")
    fast, hook, full = dir_paths(tmp_path, run_hvscan, *paths)
    assert fast is None and hook == full


def test_options_and_configuration_go_to_the_full_scan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / ".git").mkdir()  # the top of the project: configuration is not looked up above
    (tmp_path / "a.txt").write_text("clean\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["hvscan", "dir", "--format", "json", "a.txt"])
    with pytest.raises(SystemExit) as done:
        fastpath.main()
    # Answered by the full command line: the fast path writes only the text report.
    assert done.value.code == 0 and json.loads(capsys.readouterr().out)["findings"] == []
    assert fastpath.clean_files_report(["a.txt"]) is not None
    (tmp_path / ".hvscan.toml").write_text("exclude = ['a.txt']\n")
    assert fastpath.clean_files_report(["a.txt"]) is None


def test_a_malformed_ignore_file_fails_the_same_way_on_both_paths(
    tmp_path: Path, run_hvscan: Run
) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "a.txt").write_text("clean\n")
    (tmp_path / ".hvscanignore").write_text("not a fingerprint\n")
    done = run_hvscan("dir", "a.txt", cwd=tmp_path)
    assert done.returncode == 2, done.stdout


# --- hvscan dir [DIR...] (a CI job's scan of its checkout) ----------------------------------

def build_tree(root: Path) -> None:
    (root / ".git").mkdir()
    (root / ".git" / "leak").write_text(f"{make_key('live', 5)}\n")  # not the tree's
    (root / "src" / "deep" / "er").mkdir(parents=True)
    (root / "src" / "deep" / "er" / "a.py").write_text("print('hello')\n" * 200)
    (root / "src" / "b.bin").write_bytes(bytes(range(256)) * 4)
    (root / "big.log").write_bytes(b"a clean line of a log\n" * 40_000)  # screened
    (root / "wide.txt").write_bytes("plain words\n".encode("utf-16"))
    (root / "docs.md").write_text("keys start with hv_live_ and go on for 32 characters\n")
    (root / "link.py").symlink_to(root / "src" / "deep" / "er" / "a.py")


@pytest.mark.parametrize("args", [("dir",), ("dir", "."), ("dir", "src", "big.log"),
                                  ("dir", "src", "missing")])
def test_trees_are_scanned_without_click_with_the_full_report(tmp_path: Path,
                                                              args: tuple[str, ...]) -> None:
    build_tree(tmp_path)
    done, took_full = entry_and_full(tmp_path, *args)
    assert not took_full
    if args[-1] == "missing":
        assert done.returncode == 2 and b"error: missing" in done.stdout
    else:
        assert done.returncode == 0 and done.stdout.endswith(b"; 0 findings\n")


@pytest.mark.parametrize("name, content", [
    ("key.env", f"HESEDVID_API_KEY={make_key('live', 6)}\n".encode()),
    ("placeholder.md", f"use {'hv_test_' + 'x' * 32} in examples\n".encode()),
    ("archive.zip", make_zip({"a.txt": b"clean\n"}, zipfile.ZIP_STORED)),
    ("src/late-key.txt", b"clean\n" * 100_000 + make_key("test", 7).encode()),
    ("pipe", None),
    ("dangling", b"nowhere"),
], ids=["key", "placeholder", "archive", "key after a screened megabyte", "fifo", "dangling"])
def test_whatever_a_tree_holds_the_report_is_the_full_commands(
    tmp_path: Path, name: str, content: bytes | None
) -> None:
    build_tree(tmp_path)
    if content is None:
        os.mkfifo(tmp_path / name)
    elif name == "dangling":
        (tmp_path / name).symlink_to(tmp_path / content.decode())
    else:
        (tmp_path / name).write_bytes(content)
    done, took_full = entry_and_full(tmp_path, "dir")
    assert not took_full
    assert not done.stdout.endswith(b"; 0 findings\n")  # the report says what was there


@pytest.mark.parametrize("setting", [".hvscan.toml", "HVSCAN_FAIL_ON"])
def test_a_configured_tree_goes_to_the_full_command_line(tmp_path: Path, setting: str) -> None:
    build_tree(tmp_path)
    env = dict(os.environ)
    if setting == ".hvscan.toml":
        (tmp_path / setting).write_text("exclude = ['big.log']\n")
    else:
        env[setting] = "critical"
    _, took_full = entry_and_full(tmp_path / "src", "dir", ".", env=env)
    assert took_full


@pytest.mark.parametrize("args", [("dir", "."), ("dir", "src/deep/er/a.py"), ("staged",)])
def test_the_vendors_variables_do_not_matter_without_verify(
    tmp_path: Path, gitenv: dict[str, str], args: tuple[str, ...]
) -> None:
    # Only --verify reads them, and the fast path never verifies: a value the full command
    # would refuse with --verify (plain http to another host) changes nothing here.
    build_tree(tmp_path)
    subprocess.run(["git", "init", "-q", str(tmp_path)], env=gitenv, check=True,
                   capture_output=True)
    env = {**gitenv, "HESEDVID_API_BASE": "http://staging.internal",
           "HESEDVID_ORG_ID": "not/an/org"}
    done, took_full = entry_and_full(tmp_path, *args, env=env)
    assert not took_full
    assert done.returncode == 0 and done.stdout.endswith(b"; 0 findings\n")


@pytest.mark.parametrize("args", [
    ("dir", "--hook", "src/deep/er/a.py"),  # answered fast: a plain file
    ("dir", "--hook", "src"),  # a tree, without click
    ("dir", "--hook", "-notes.txt", "docs.md"),  # a file named like an option: full path
    ("dir", "--hook", "--exit-zero", "key.txt"),  # a file that is an option's name: exit 2
    ("dir", "--hook", "--fail-on=critical", "key.txt"),  # no such file: the option
    ("dir", "--hook", "key.txt", "--hook"),  # a second --hook that is no file: the flag again
])
def test_hook_mode_gives_the_full_commands_answer(tmp_path: Path,
                                                  args: tuple[str, ...]) -> None:
    build_tree(tmp_path)
    (tmp_path / "-notes.txt").write_text(f"K={make_key('live', 8)}\n")
    (tmp_path / "--exit-zero").write_text("named like an option\n")
    (tmp_path / "key.txt").write_text(f"K={make_key('live', 9)}\n")
    done, took_full = entry_and_full(tmp_path, *args)
    assert took_full == any(arg.startswith("-") for arg in args[2:])
    expected = {"src/deep/er/a.py": 0, "src": 0, "-notes.txt": 1, "--exit-zero": 2,
                "--fail-on=critical": 0, "key.txt": 1}[args[2]]
    assert done.returncode == expected, done


def test_configuration_is_found_through_a_linked_directory(tmp_path: Path) -> None:
    # The reproduction: work/link leads to real/sub, whose configuration is real's. The
    # fast path once looked up work/ and the parents of the link's name, and gave an all-clear.
    (tmp_path / ".git").mkdir()
    (tmp_path / "real" / "sub").mkdir(parents=True)
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "link").symlink_to(Path("..", "real", "sub"))
    (tmp_path / "real" / ".hvscan.toml").write_text('rules = ["extra.toml"]\n')
    (tmp_path / "real" / "extra.toml").write_text(
        "[[rules]]\nid='acme'\ndescription='Acme'\nregex='acme_[0-9]{6}'\n"
        "keywords=['acme_']\nkey_type='token'\nseverity='high'\nremediation='Rotate.'\n")
    (tmp_path / "real" / "sub" / "f.txt").write_text("token acme_123456\n")
    for args in (("dir", "work/link/f.txt"), ("dir", "--hook", "work/link/f.txt"),
                 ("dir", "work/link")):
        done, _ = entry_and_full(tmp_path, *args)
        assert done.returncode == 1 and b"acme" in done.stdout, done


@pytest.mark.parametrize("args", [("staged",), ("git", "--staged")])
def test_a_staged_key_is_reported_without_click(repo: GitRepo, args: tuple[str, ...]) -> None:
    # The blocked commit: the full scan with its defaults, the full command line's report.
    repo.write("a.py", f"KEY = '{make_key('live', 10)}'\n")
    repo.add("a.py")
    done, took_full = entry_and_full(repo.path, *args, env=repo.env)
    assert done.returncode == 1 and b"a.py:1" in done.stdout and not took_full
    repo.write(".hvscan.toml", 'fail-on = "critical"\n')
    done, took_full = entry_and_full(repo.path, *args, env=repo.env)
    assert done.returncode == 0 and took_full


def test_a_file_named_with_a_key_goes_to_the_full_scan(tmp_path: Path, run_hvscan: Run) -> None:
    key = make_key("live", 62)
    (tmp_path / f"config-{key}.txt").write_text("clean\n")
    fast, hook, full = dir_paths(tmp_path, run_hvscan, f"config-{key}.txt")
    assert fast is None and hook == full and b"(name):1:8:" in hook
