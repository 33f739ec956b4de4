"""What the scanned repository's git configuration cannot do (hvscan/gitenv.py): run a program,
fetch a missing object, or hide history from the scan. Every hvscan command runs against a
repository whose configuration sets each known executable setting to a script that leaves a
marker."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import struct
from pathlib import Path

import pytest
from gitrepo import GitRepo
from hvscan_run import Run
from keygen import make_key

from hvscan import fastpath, gitenv

# Every setting of a repository's configuration that names a program git may run: each is set to
# a marker script named after it. ENABLERS are the settings that make git use them.
PROGRAMS = (
    "core.fsmonitor", "core.pager", "pager.log", "pager.diff", "pager.show", "core.askPass",
    "core.sshCommand", "core.gitProxy", "core.editor", "sequence.editor",
    "core.alternateRefsCommand", "credential.helper", "diff.external", "diff.hostile.command",
    "diff.hostile.textconv", "filter.hostile.clean", "filter.hostile.smudge",
    "filter.hostile.process", "gpg.program", "gpg.openpgp.program", "gpg.x509.program",
    "gpg.ssh.program", "gpg.ssh.defaultKeyCommand", "remote.origin.uploadpack",
    "remote.origin.receivepack", "merge.hostile.driver", "uploadpack.packObjectsHook",
    "interactive.diffFilter",
)
ENABLERS = {
    "log.showSignature": "true",
    "diff.hostile.cacheTextconv": "false",
    "filter.hostile.required": "true",
    "protocol.allow": "always",
    "protocol.ssh.allow": "always",
    "protocol.file.allow": "always",
    "remote.origin.url": "ssh://example.invalid/hostile.git",
    "remote.origin.fetch": "+refs/heads/*:refs/remotes/origin/*",
}
# githooks(5): every hook git knows, in the repository's core.hooksPath.
HOOKS = (
    "applypatch-msg", "pre-applypatch", "post-applypatch", "pre-commit", "pre-merge-commit",
    "prepare-commit-msg", "commit-msg", "post-commit", "pre-rebase", "post-checkout",
    "post-merge", "pre-push", "pre-receive", "update", "proc-receive", "post-receive",
    "post-update", "reference-transaction", "push-to-checkout", "pre-auto-gc", "post-rewrite",
    "sendemail-validate", "fsmonitor-watchman", "post-index-change",
)
# Signature armour of each format git verifies with its own gpg.*.program.
SIGNATURES = {
    "openpgp": ("-----BEGIN PGP SIGNATURE-----", "-----END PGP SIGNATURE-----"),
    "x509": ("-----BEGIN SIGNED MESSAGE-----", "-----END SIGNED MESSAGE-----"),
    "ssh": ("-----BEGIN SSH SIGNATURE-----", "-----END SSH SIGNATURE-----"),
}
KEY = make_key("live", 1010)
ZERO = "0" * 40


def marker_script(bin_dir: Path, markers: Path, name: str) -> str:
    """A script that records ``name`` in ``markers`` whenever anything runs it."""
    script = bin_dir / name
    script.write_text(f"#!/bin/sh\necho {name} >> '{markers}'\nexit 0\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


def sign_head(repo: GitRepo, armour: tuple[str, str]) -> None:
    """Make HEAD (on main) a copy of itself that carries a (bogus) signature in ``armour``."""
    header, _, message = repo.git("cat-file", "commit", "HEAD").stdout.partition(b"\n\n")
    signature = "\n ".join((armour[0], "", "AAAA", armour[1])).encode()
    raw = header + b"\ngpgsig " + signature + b"\n\n" + message
    commit = repo.out("hash-object", "-t", "commit", "-w", "--stdin", input=raw)
    repo.git("update-ref", "refs/heads/main", commit)


@pytest.fixture
def hostile(repo: GitRepo, tmp_path: Path) -> tuple[GitRepo, Path, str]:
    """A repository with a key in its history and every executable setting pointing at a
    marker script; its first commit; the file markers are written to."""
    markers = tmp_path / "markers"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    repo.write(".gitattributes", "* diff=hostile filter=hostile merge=hostile\n")
    base = repo.commit_file("README", "hello\n", "base")
    for kind, armour in SIGNATURES.items():  # each adds a key: every scan shows each commit
        repo.commit_file(f"{kind}.py", f"KEY = '{make_key('live', kind)}'\n", "add a key")
        sign_head(repo, armour)
    # Staged changes for `hvscan staged`, made now: once the configuration is hostile, the
    # test's own `git add` would run it.
    index = repo.path / ".git" / "index"
    for name, content in (("notes.txt", "nothing to see\n"), ("more.py", f"OTHER = '{KEY}'\n")):
        repo.write(name, content)
        repo.add(name)
        shutil.copy(index, tmp_path / f"index-{name}")
    repo.git("read-tree", "HEAD")
    for name in PROGRAMS:
        repo.git("config", name, marker_script(bin_dir, markers, name))
    for name, value in ENABLERS.items():
        repo.git("config", name, value)
    allowed = tmp_path / "allowed_signers"
    allowed.write_text("a@example.invalid ssh-ed25519 AAAA\n")
    repo.git("config", "gpg.ssh.allowedSignersFile", str(allowed))
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    for hook in HOOKS:
        os.replace(marker_script(bin_dir, markers, f"hook-{hook}"), hooks / hook)
    repo.git("config", "core.hooksPath", str(hooks))
    return repo, markers, base


def test_no_hvscan_command_runs_a_program_the_repository_configures(
        hostile: tuple[GitRepo, Path, str], run_hvscan: Run, tmp_path: Path) -> None:
    repo, markers, base = hostile
    head = repo.head()
    ran: dict[str, list[str]] = {}
    failed: dict[str, bytes] = {}

    def collect(what: str) -> None:
        if markers.exists():
            ran[what] = sorted(set(markers.read_text().split()))
            markers.unlink()

    def run(expected: int, *args: str, input: bytes | None = None,
            env: dict[str, str] | None = None) -> None:
        done = run_hvscan(*args, cwd=repo.path, input=input, env={**repo.env, **(env or {})})
        if done.returncode != expected:
            failed[" ".join(args)] = done.stdout + done.stderr
        collect(" ".join(args))

    def stage(name: str) -> None:
        shutil.copy(tmp_path / f"index-{name}", repo.path / ".git" / "index")

    run(1, "dir", ".")
    run(1, "stdin", input=f"K={KEY}\n".encode())
    stage("notes.txt")
    run(0, "staged")
    with pytest.MonkeyPatch.context() as patch:  # that was the fast path's answer
        for name in ("GIT_CONFIG_GLOBAL", "GIT_CONFIG_NOSYSTEM"):
            patch.setenv(name, repo.env[name])
        assert fastpath.clean_staged_report(str(repo.path)) is not None
    collect("the fast path's staged scan")
    stage("more.py")
    run(1, "staged", "--format", "json")
    run(1, "git", "--staged")
    push_line = f"refs/heads/main {head} refs/heads/main {ZERO}\n".encode()
    run(1, "pre-push", "origin", "ssh://example.invalid/hostile.git", input=push_line)
    run(1, "pre-push", env={"PRE_COMMIT_FROM_REF": base, "PRE_COMMIT_TO_REF": head,
                            "PRE_COMMIT_REMOTE_NAME": "origin"})
    run(1, "git")
    run(1, "git", "--range", f"{base}..{head}")
    run(1, "git", "--since-commit", base)
    run(1, "git", "--branch", "main")
    run(1, "git", "--include-unreachable")
    run(0, "baseline", "--git", "-o", str(tmp_path / "baseline.json"))
    run(0, "install-hook", "--force")
    run(0, "install-hook", "--pre-push", "--force")
    assert ran == {}, f"programs the repository configured ran: {ran}"
    assert failed == {}
    # install-hook still installs where git runs hooks: the repository's core.hooksPath.
    assert "hvscan" in (tmp_path / "hooks" / "pre-commit").read_text()


def child_of(repo: GitRepo, commit: str) -> str:
    return repo.out("rev-list", "--reverse", "--ancestry-path", f"{commit}..main").split()[0]


def hide_commit_by_replace(repo: GitRepo, hidden: str) -> None:
    """Replace the commit after ``hidden`` by a copy whose parent is ``hidden``'s parent."""
    child = child_of(repo, hidden)
    raw = repo.git("cat-file", "commit", child).stdout
    copy = raw.replace(f"parent {hidden}".encode(),
                       f"parent {repo.out('rev-parse', hidden + '~1')}".encode())
    replacement = repo.out("hash-object", "-t", "commit", "-w", "--stdin", input=copy)
    repo.git("replace", child, replacement)


def cut_by_grafts(repo: GitRepo, hidden: str) -> None:
    """Give the commit after ``hidden`` no parent at all in .git/info/grafts."""
    child = child_of(repo, hidden)
    (repo.path / ".git" / "info").mkdir(exist_ok=True)
    (repo.path / ".git" / "info" / "grafts").write_text(f"{child}\n")


def forge_commit_graph(repo: GitRepo, hidden: str) -> None:
    """Write the commit-graph file (git's cache of every commit's parents), then make it say
    that the commit after ``hidden`` has ``hidden``'s parent for its own: git reads parents
    from that file without checking it against the commits."""
    child = child_of(repo, hidden)
    repo.git("commit-graph", "write", "--reachable")
    path = repo.path / ".git" / "objects" / "info" / "commit-graph"
    data = bytearray(path.read_bytes())
    chunks = {bytes(data[at:at + 4]): struct.unpack(">Q", data[at + 4:at + 12])[0]
              for at in range(8, 8 + 12 * (data[6] + 1), 12)}
    lookup, commits = chunks[b"OIDL"], chunks[b"CDAT"]
    ids = [bytes(data[lookup + 20 * i:lookup + 20 * i + 20]).hex()
           for i in range((commits - lookup) // 20)]
    entry = commits + 36 * ids.index(child)  # tree id, first parent, second parent, date
    data[entry + 20:entry + 24] = struct.pack(">I", ids.index(repo.out("rev-parse", hidden + "~1")))
    path.chmod(0o644)
    path.write_bytes(bytes(data))


@pytest.fixture
def history(repo: GitRepo) -> tuple[GitRepo, str, str]:
    """base, then a commit adding a key, then one removing it, then one more: the repository,
    the first commit and the commit that added the key."""
    base = repo.commit_file("README", "hello\n", "base")
    added = repo.commit_file("sub/app.py", f"KEY = '{KEY}'\n", "add a key")
    repo.git("rm", "-q", "sub/app.py")
    repo.commit("remove it")
    repo.commit_file("other.txt", "more\n", "more")
    return repo, base, added


@pytest.mark.parametrize("hide", ["replace", "replace-with-useReplaceRefs", "grafts",
                                  "commit-graph"])
@pytest.mark.parametrize("mode", [(), ("--branch", "main"), ("--since-commit", "BASE")])
def test_replace_refs_and_grafts_cannot_hide_a_commit(
        history: tuple[GitRepo, str, str], run_hvscan: Run, hide: str,
        mode: tuple[str, ...]) -> None:
    repo, base, added = history
    if hide == "grafts":
        cut_by_grafts(repo, added)
    elif hide == "commit-graph":
        forge_commit_graph(repo, added)
    else:
        hide_commit_by_replace(repo, added)
        if hide == "replace-with-useReplaceRefs":
            repo.git("config", "core.useReplaceRefs", "true")
    assert added not in repo.out("log", "--format=%H", "main")  # git itself no longer shows it
    args = [base if arg == "BASE" else arg for arg in mode]
    done = run_hvscan("git", *args, "--format", "json", cwd=repo.path, env=repo.env)
    assert done.returncode == 1, done.stdout + done.stderr
    [finding] = json.loads(done.stdout)["findings"]
    assert (finding["commit"], finding["path"]) == (added, "sub/app.py")


@pytest.mark.parametrize("setting", [("i18n.logOutputEncoding", "UTF-16"),
                                     ("diff.relative", "true")])
def test_output_settings_cannot_hide_what_a_range_adds(
        history: tuple[GitRepo, str, str], run_hvscan: Run, setting: tuple[str, str]) -> None:
    repo, base, added = history
    repo.git("config", *setting)
    (repo.path / "elsewhere").mkdir()
    done = run_hvscan("git", "--range", f"{base}..main", "--format", "json",
                      cwd=repo.path / "elsewhere", env=repo.env)
    assert done.returncode == 1, done.stdout + done.stderr
    [finding] = json.loads(done.stdout)["findings"]
    assert (finding["commit"], finding["path"]) == (added, "sub/app.py")


def test_a_partial_clone_never_fetches_a_missing_object(
        history: tuple[GitRepo, str, str], run_hvscan: Run, tmp_path: Path) -> None:
    source, base, _ = history
    source.git("config", "uploadpack.allowFilter", "true")
    clone = tmp_path / "clone"
    source.git("clone", "-q", "--filter=blob:none", "--no-checkout",
               f"file://{source.path}", str(clone))
    markers = tmp_path / "markers"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("core.sshCommand", "remote.origin.uploadpack", "credential.helper"):
        source.git("-C", str(clone), "config", name, marker_script(bin_dir, markers, name))
    for name, value in ENABLERS.items():
        source.git("-C", str(clone), "config", name, value)
    for args in (("--range", f"{base}..main"), ("--branch", "main"), ()):
        done = run_hvscan("git", *args, cwd=clone, env=source.env)
        assert done.returncode == 2, (args, done.stdout + done.stderr)
        output = (done.stdout + done.stderr).decode()
        [error] = [line for line in output.splitlines()
                   if line.startswith(("error:", "hvscan: error:"))]
        assert "missing" in error and "partial clone" in error, (args, output)
        assert not markers.exists(), markers.read_text()
        if args[:1] == ("--range",):  # a blob the range adds: git's lazy fetch failed
            assert re.fullmatch("hvscan: error: object [0-9a-f]{40} is missing from this partial "
                                "clone and hvscan never fetches objects: scan a complete clone\n",
                                output), output


def test_git_takes_every_neutral_setting_over_the_repositorys(repo: GitRepo) -> None:
    for name in gitenv.NEUTRAL_CONFIG:
        repo.git("config", name, "from-the-repository")
    for name, value in gitenv.NEUTRAL_CONFIG.items():
        command = gitenv.command(str(repo.path), "config", "--get", name)
        assert repo.git(*command[1:]).stdout.decode() == value + "\n", name


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                    reason="needs root to give the repository another owner")
def test_a_repository_owned_by_someone_else_is_refused_as_git_refuses_it(
        history: tuple[GitRepo, str, str], run_hvscan: Run) -> None:
    """hvscan does not set safe.directory: git's dubious-ownership refusal stands."""
    repo, _, _ = history
    for path in (repo.path, *repo.path.rglob("*")):
        os.lchown(path, 65534, 65534)
    done = run_hvscan("git", cwd=repo.path, env=repo.env)
    assert done.returncode == 2
    assert done.stderr.startswith(b"hvscan: error: the repository at ")
    assert b"belongs to another user, so git refuses to read it (dubious ownership)" in done.stderr


class Caller:
    """A hook's or an alias's view: the caller's own (clean) repository, which git's variables
    designate, and another repository holding a committed key and a staged one."""

    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.repo = GitRepo(root / "caller", env)
        self.repo.commit_file("own.txt", "nothing\n", "own")
        self.other = GitRepo(root / "other", env)
        self.committed, self.staged = make_key("live", 71), make_key("live", 72)
        self.other.commit_file("app.py", f"KEY = '{self.committed}'\n", "key")
        self.other.write("new.py", f"KEY = '{self.staged}'\n")
        self.other.add("new.py")
        git_dir = self.repo.path / ".git"
        self.env = {**env, "GIT_DIR": str(git_dir), "GIT_WORK_TREE": str(self.repo.path),
                    "GIT_INDEX_FILE": str(git_dir / "index"),
                    "GIT_OBJECT_DIRECTORY": str(git_dir / "objects")}


@pytest.fixture
def caller(tmp_path: Path, repo: GitRepo) -> Caller:
    return Caller(tmp_path, repo.env)


def test_an_explicit_repository_is_audited_never_the_callers(run_hvscan: Run,
                                                             caller: Caller) -> None:
    # Inside a hook or an alias git's variables (GIT_DIR...) designate the caller's repository
    # and beat "-C": "hvscan git OTHER" read the caller's history and passed it as clean.
    done = run_hvscan("git", caller.other.path, "--format", "json", cwd=caller.repo.path,
                      env=caller.env)
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert report["scan"]["repository"] == str(caller.other.path)
    assert [f["path"] for f in report["findings"]] == ["app.py"]
    # Without REPO the current repository is the one the variables designate (git --git-dir).
    env = {**caller.env, "GIT_DIR": str(caller.other.path / ".git"),
           "GIT_WORK_TREE": str(caller.other.path),
           "GIT_INDEX_FILE": str(caller.other.path / ".git/index"),
           "GIT_OBJECT_DIRECTORY": str(caller.other.path / ".git/objects")}
    assert run_hvscan("git", cwd=caller.repo.path, env=env).returncode == 1


def test_an_explicit_repository_gets_its_own_purge_plan(run_hvscan: Run, caller: Caller,
                                                        tmp_path: Path) -> None:
    done = run_hvscan("purge-plan", caller.other.path, "--output", tmp_path / "plan",
                      cwd=caller.repo.path, env=caller.env)
    assert done.returncode == 0, done.stderr
    # Every object of the other repository: its staged blob too, which no commit holds.
    replaced = (tmp_path / "plan" / "replacements.txt").read_text().splitlines()
    assert sorted(replaced) == sorted(f"literal:{key}==>***REMOVED***"
                                      for key in (caller.committed, caller.staged))


def test_an_explicit_repositorys_own_index_is_scanned(run_hvscan: Run, caller: Caller) -> None:
    done = run_hvscan("staged", caller.other.path, "--format", "json", cwd=caller.repo.path,
                      env=caller.env)
    assert done.returncode == 1, done.stderr
    assert [f["path"] for f in json.loads(done.stdout)["findings"]] == ["new.py"]


def test_an_explicit_repository_gets_the_hook(run_hvscan: Run, caller: Caller) -> None:
    done = run_hvscan("install-hook", caller.other.path, cwd=caller.repo.path, env=caller.env)
    assert done.returncode == 0, done.stderr
    assert (caller.other.path / ".git/hooks/pre-commit").exists()
    assert not (caller.repo.path / ".git/hooks/pre-commit").exists()


def test_an_explicit_repositorys_history_is_recorded(run_hvscan: Run, caller: Caller,
                                                      tmp_path: Path) -> None:
    (caller.other.path / "app.py").unlink()  # its key is in the history only
    out = tmp_path / "baseline.json"
    done = run_hvscan("baseline", "--git", caller.other.path, "-o", out, cwd=caller.repo.path,
                      env=caller.env)
    assert done.returncode == 0, done.stderr
    assert sorted(e["path"] for e in json.loads(out.read_text())["findings"]) == [
        "app.py", "new.py"]


@pytest.mark.parametrize("named", [False, True])
def test_a_hook_scans_the_index_git_hands_it(hvscan_exe: str, caller: Caller,
                                             named: bool) -> None:
    # `git commit -a` hands its hook a temporary index (GIT_INDEX_FILE): "hvscan staged", and
    # "hvscan staged REPO" naming the same repository, scan that one, not .git/index.
    repo = caller.repo
    hook = repo.path / ".git" / "hooks" / "pre-commit"
    hook.write_text(f"#!/bin/sh\nexec {hvscan_exe} staged{' .' if named else ''}\n")
    hook.chmod(0o755)
    repo.write("own.txt", f"now {make_key('test', 73)}\n")
    blocked = repo.git("commit", "-a", "-m", "commit -a", check=False)
    assert blocked.returncode != 0 and b"own.txt:1:5" in blocked.stdout + blocked.stderr
