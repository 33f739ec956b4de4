"""``hvscan purge-plan`` through the installed console script, and its plan carried out for real:
git filter-repo (from the test extras) runs the written purge.sh on a mirror clone of a
repository with keys in files, renamed files, a branch, tags, commit and tag messages, and
``hvscan git --include-unreachable`` then finds nothing."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from gitrepo import DatedRepo
from hvscan_run import Run
from keygen import make_key

# Hostile names: a file, the plan's directory and the mirror, with spaces, quotes, a line
# break and shell syntax in them.
HOSTILE_FILE = "we ird \"name\" 'q'\n$(x).txt"
HOSTILE_DIR = "pl an 'q' \"d\"\n$(touch pwned)`x`"
HOSTILE_MIRROR = "mir ror 'q'\n\".git"


def _bin() -> str:
    """The directory of the test environment's scripts: hvscan and git-filter-repo."""
    here = str(Path(sys.executable).parent)
    assert shutil.which("git-filter-repo", path=here), (
        "git-filter-repo is not installed: install the test extras (pip install -e '.[test]')")
    return here


class Leaky:
    def __init__(self, repo: DatedRepo) -> None:
        self.repo = repo
        self.keys = {name: make_key(kind, f"purge-{name}") for name, kind in (
            ("file", "live"), ("message", "live"), ("branch", "test"), ("encoded", "live"),
            ("tag_message", "live"), ("lightweight", "test"), ("hostile", "live"),
            ("unreachable", "test"), ("blob_tag", "live"), ("note", "test"))}


@pytest.fixture
def leaky(dated_repo: DatedRepo) -> Leaky:
    """Keys everywhere a history holds them; none left at HEAD's files but the hostile one."""
    repo = dated_repo
    leak = Leaky(repo)
    keys = leak.keys
    repo.write("README", "hello\n")
    repo.write("config.py", f"KEY = '{keys['file']}'\n")
    repo.commit("first")
    repo.commit(f"debugging with {keys['message']}")
    repo.git("mv", "config.py", "settings.py")
    repo.commit("rename")
    repo.git("checkout", "-q", "-b", "feature")
    encoded = base64.b64encode(keys["encoded"].encode()).decode()
    repo.write("deploy/secret.yaml", f"data:\n  key: {encoded}\n")
    repo.write("feature.py", f"TOKEN = \"{keys['branch']}\"\n")
    repo.commit("feature")
    # A later version of the file: the encoded key is in a blob that introduces nothing.
    repo.write("deploy/secret.yaml", f"data:\n  key: {encoded}\n  other: 1\n")
    repo.commit("more feature")
    repo.git("checkout", "-q", "main")
    repo.git("tag", "-a", "v1", "-m", f"release, built with {keys['tag_message']}")
    repo.git("checkout", "-q", "--detach")
    repo.write("only-tagged.txt", f"{keys['lightweight']}\n")
    repo.commit("reached by a lightweight tag only")
    repo.git("tag", "lw")
    repo.git("checkout", "-q", "main")
    # A tag of a blob (no commit: git filter-repo leaves it as it is) and a note.
    blob = repo.out("hash-object", "-w", "--stdin", input=f"{keys['blob_tag']}\n".encode())
    repo.git("tag", "-a", "-m", "a blob", "blob-tag", blob)
    repo.git("notes", "add", "-m", f"deployed with {keys['note']}")
    repo.write(HOSTILE_FILE, f"k={keys['hostile']}\n")
    repo.write("settings.py", "import os\nKEY = os.environ['KEY']\n")
    repo.commit("hostile name; the key moves to the environment")
    repo.write("scratch.txt", f"{keys['unreachable']}\n")
    repo.commit("scratch")
    repo.git("reset", "-q", "--hard", "HEAD~1")  # the scratch commit: unreachable but stored
    return leak


def _plan(run_hvscan: Run, leak: Leaky, out: Path, *args: str) -> subprocess.CompletedProcess[
        bytes]:
    return run_hvscan("purge-plan", leak.repo.path, "--output", out, *args)


def _no_key_in(leak: Leaky, *texts: bytes) -> None:
    for text in texts:
        for name, key in leak.keys.items():
            assert key.encode() not in text, name


def test_the_plan_carried_out_leaves_no_key(run_hvscan: Run, leaky: Leaky,
                                            tmp_path: Path) -> None:
    out = tmp_path / HOSTILE_DIR
    done = _plan(run_hvscan, leaky, out)
    assert done.returncode == 0, done.stderr
    assert b"purge plan for 10 keys written to" in done.stdout
    assert b"1 ref pointing at a blob or tree holding a key" in done.stdout
    # Both versions of the file hiding it: the later one introduces nothing, and is stripped too.
    assert b"2 blobs holding a key encoded" in done.stdout
    mirror = tmp_path / HOSTILE_MIRROR
    leaky.repo.git("clone", "-q", "--mirror", "--no-local", str(leaky.repo.path), str(mirror))
    env = {**leaky.repo.env, "PATH": _bin() + os.pathsep + os.environ["PATH"]}
    purged = subprocess.run(["bash", str(out / "purge.sh"), str(mirror)], cwd=tmp_path, env=env,
                            capture_output=True, check=False, timeout=300)
    assert purged.returncode == 0, purged.stderr.decode(errors="replace")
    assert b"0 findings" in purged.stdout  # its own check with hvscan
    assert b"push --force --mirror origin" in purged.stdout
    assert not (tmp_path / "pwned").exists()
    _no_key_in(leaky, purged.stdout, purged.stderr)

    audit = run_hvscan("git", "--include-unreachable", mirror)
    assert audit.returncode == 0, audit.stdout
    assert b"0 findings" in audit.stdout
    # Not one object of the mirror holds a key, in any form hvscan knows or not.
    objects = subprocess.run(["git", "-C", str(mirror), "cat-file", "--batch-all-objects",
                              "--batch"], capture_output=True, check=True, env=env).stdout
    _no_key_in(leaky, objects)
    assert base64.b64encode(leaky.keys["encoded"].encode()) not in objects

    def show(what: str) -> str:
        return subprocess.run(["git", "-C", str(mirror), *what.split()], capture_output=True,
                              check=True, env=env).stdout.decode()

    # What held no key is kept: refs, files, messages with the key replaced.
    assert show("for-each-ref --format=%(refname)").split() == [
        "refs/heads/feature", "refs/heads/main", "refs/notes/commits", "refs/tags/lw",
        "refs/tags/v1"]
    assert show("grep -h deployed refs/notes/commits") == "deployed with ***REMOVED***\n"
    assert show("cat-file -p v1").endswith("release, built with ***REMOVED***\n")
    assert "debugging with ***REMOVED***" in show("log --format=%s main")
    assert show("show main:README") == "hello\n"
    assert show("show main~1:settings.py") == "KEY = '***REMOVED***'\n"
    assert show("show lw:only-tagged.txt") == "***REMOVED***\n"
    assert "deploy/secret.yaml" not in show("ls-tree -r --name-only feature")
    assert show("show feature:feature.py") == 'TOKEN = "***REMOVED***"\n'
    names = subprocess.run(["git", "-C", str(mirror), "ls-tree", "-r", "-z", "--name-only",
                            "main"], capture_output=True, check=True, env=env).stdout
    assert HOSTILE_FILE.encode() in names.split(b"\0")


def test_only_replacements_holds_the_keys(run_hvscan: Run, leaky: Leaky, tmp_path: Path) -> None:
    out = tmp_path / "plan"
    done = _plan(run_hvscan, leaky, out)
    assert done.returncode == 0, done.stderr
    assert sorted(os.listdir(out)) == ["PLAN.md", "blobs-to-strip.txt", "purge.sh",
                                       "refs-to-delete.txt", "replacements.txt"]
    _no_key_in(leaky, done.stdout, done.stderr,
               *((out / name).read_bytes() for name in ("PLAN.md", "blobs-to-strip.txt",
                                                        "purge.sh", "refs-to-delete.txt")))
    assert (out / "refs-to-delete.txt").read_text() == "refs/tags/blob-tag\n"
    replacements = (out / "replacements.txt").read_bytes()
    assert sorted(replacements.splitlines()) == sorted(
        f"literal:{key}==>***REMOVED***".encode() for key in leaky.keys.values())
    plan = (out / "PLAN.md").read_text()
    for key in leaky.keys.values():
        assert f"`{key[:12]}...{key[-4:]}`" in plan  # redacted
    # Names from the repository are escaped, every commit and path listed.
    assert "we ird \"name\" 'q'\\x0a$(x).txt" in plan
    assert "message of tag v1" in plan and "commit message" in plan
    assert "settings.py" in plan and "config.py" in plan and "[unreachable]" in plan
    assert "git clone --mirror" in plan and "--replace-message" in plan
    assert plan.index("Revoke") < plan.index("git clone --mirror") < plan.index("purge.sh")


def test_file_modes(run_hvscan: Run, leaky: Leaky, tmp_path: Path) -> None:
    out = tmp_path / "new" / "plan"
    old = os.umask(0)  # the modes do not depend on the caller's umask
    try:
        assert _plan(run_hvscan, leaky, out).returncode == 0
    finally:
        os.umask(old)
    modes = {name: stat.S_IMODE(os.stat(out / name).st_mode) for name in os.listdir(out)}
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o700
    assert modes == {"replacements.txt": 0o600, "blobs-to-strip.txt": 0o600,
                     "refs-to-delete.txt": 0o600, "purge.sh": 0o700, "PLAN.md": 0o600}


def test_a_non_empty_directory_is_refused_unless_forced(run_hvscan: Run, leaky: Leaky,
                                                        tmp_path: Path) -> None:
    out = tmp_path / "plan"
    out.mkdir(mode=0o755)
    (out / "notes.txt").write_text("mine\n")
    done = _plan(run_hvscan, leaky, out)
    assert done.returncode == 2 and done.stdout == b""
    [line] = done.stderr.decode().splitlines()
    assert line.startswith("hvscan: error: ") and "is not empty" in line and "--force" in line
    assert os.listdir(out) == ["notes.txt"]
    assert _plan(run_hvscan, leaky, out, "--force").returncode == 0
    assert "PLAN.md" in os.listdir(out) and (out / "notes.txt").read_text() == "mine\n"
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o700
    # Again: the plan's own files are replaced.
    assert _plan(run_hvscan, leaky, out, "--force").returncode == 0


@pytest.mark.parametrize("where", ["file", "work tree"])
def test_a_bad_directory_is_refused(run_hvscan: Run, leaky: Leaky, tmp_path: Path,
                                    where: str) -> None:
    out = tmp_path / "a-file" if where == "file" else leaky.repo.path / "purge"
    if where == "file":
        out.write_text("x")
    done = _plan(run_hvscan, leaky, out, "--force")
    assert done.returncode == 2 and done.stdout == b""
    if where == "file":  # the command line's own check: a usage error
        assert b"is a file" in done.stderr
    else:
        [line] = done.stderr.decode().splitlines()
        assert line.startswith("hvscan: error: ") and "inside the work tree" in line
    assert not (leaky.repo.path / "purge").exists()


def test_suppressed_keys_are_purged_unless_asked(run_hvscan: Run, dated_repo: DatedRepo,
                                                 tmp_path: Path) -> None:
    allowed, other = make_key("live", "allowed"), make_key("live", "other")
    dated_repo.write("a.py", f"A = '{allowed}'  # hvscan:allow\nB = '{other}'\n")
    dated_repo.commit("keys")
    done = run_hvscan("purge-plan", dated_repo.path, "-o", tmp_path / "all")
    assert b"2 keys" in done.stdout and b"(suppressed: purged anyway)" in done.stdout
    assert allowed.encode() in (tmp_path / "all" / "replacements.txt").read_bytes()
    done = run_hvscan("purge-plan", dated_repo.path, "-o", tmp_path / "some",
                      "--skip-suppressed")
    assert b"1 key " in done.stdout
    assert (tmp_path / "some" / "replacements.txt").read_bytes() == (
        f"literal:{other}==>***REMOVED***\n".encode())


def test_nothing_to_purge_writes_nothing(run_hvscan: Run, dated_repo: DatedRepo,
                                         tmp_path: Path) -> None:
    dated_repo.write("a.txt", "clean\n")
    dated_repo.commit("clean")
    done = run_hvscan("purge-plan", dated_repo.path, "-o", tmp_path / "plan")
    assert done.returncode == 0 and b"nothing to purge" in done.stdout
    assert not (tmp_path / "plan").exists()


def test_a_key_encoded_in_a_message_is_left_for_a_fix_by_hand(
        run_hvscan: Run, dated_repo: DatedRepo, tmp_path: Path) -> None:
    key = make_key("live", "in-message")
    dated_repo.commit(f"config blob {base64.b64encode(key.encode()).decode()}")
    done = run_hvscan("purge-plan", dated_repo.path, "-o", tmp_path / "plan")
    assert done.returncode == 0
    assert b"warning: 1 message holding a key encoded: fix by hand" in done.stdout
    plan = (tmp_path / "plan" / "PLAN.md").read_text()
    assert "## Messages to fix by hand" in plan and "commit message  [base64]" in plan


def test_a_shallow_clone_gets_no_plan(run_hvscan: Run, leaky: Leaky, tmp_path: Path) -> None:
    shallow = tmp_path / "shallow"
    leaky.repo.git("clone", "-q", "--depth", "1", f"file://{leaky.repo.path}", str(shallow))
    done = run_hvscan("purge-plan", shallow, "-o", tmp_path / "plan")
    assert done.returncode == 2
    assert b"no purge plan written" in done.stderr
    assert not (tmp_path / "plan").exists()


@pytest.mark.parametrize("kind", ["no argument", "work tree", "bare, not a mirror"])
def test_purge_sh_refuses_anything_but_a_mirror(run_hvscan: Run, leaky: Leaky,
                                                tmp_path: Path, kind: str) -> None:
    out = tmp_path / "plan"
    assert _plan(run_hvscan, leaky, out).returncode == 0
    target = leaky.repo.path
    if kind == "bare, not a mirror":
        target = tmp_path / "bare.git"
        leaky.repo.git("clone", "-q", "--bare", str(leaky.repo.path), str(target))
    env = {**leaky.repo.env, "PATH": _bin() + os.pathsep + os.environ["PATH"]}
    args = [] if kind == "no argument" else [str(target)]
    before = leaky.repo.out("rev-parse", "HEAD")
    done = subprocess.run(["bash", str(out / "purge.sh"), *args], env=env, capture_output=True,
                          check=False, timeout=60)
    assert done.returncode == 2
    assert done.stderr.startswith(b"purge.sh: ") and done.stdout == b""
    assert leaky.repo.out("rev-parse", "HEAD") == before


def test_excludes_are_said(run_hvscan: Run, dated_repo: DatedRepo, tmp_path: Path) -> None:
    dated_repo.write("fixtures/a.py", f"A = '{make_key('live', 'fixture')}'\n")
    dated_repo.commit("fixture")
    done = run_hvscan("purge-plan", dated_repo.path, "-o", tmp_path / "plan",
                      "--exclude", "fixtures/")
    assert done.returncode == 0 and b"nothing to purge" in done.stdout
    assert b"note: 1 exclude pattern in effect" in done.stdout


def test_extra_rules_are_purged_too_whatever_their_keys_hold(
        run_hvscan: Run, dated_repo: DatedRepo, tmp_path: Path) -> None:
    # A key holding the expressions file's own '==>' separator and a space.
    rules = tmp_path / "acme.toml"
    rules.write_text("[[rules]]\nid='acme'\ndescription='Acme'\nregex='acme==> [0-9]{6}'\n"
                     "keywords=['acme==>']\nkey_type='token'\nseverity='info'\n"
                     "remediation='Rotate.'\n")
    secret = "acme==> 493817"
    dated_repo.write("a.txt", f"token: {secret}\n")
    dated_repo.commit(f"acme {secret}")
    out = tmp_path / "plan"
    done = run_hvscan("purge-plan", dated_repo.path, "-o", out, "--rules", rules)
    assert done.returncode == 0, done.stderr
    assert secret.encode() not in done.stdout + (out / "PLAN.md").read_bytes()
    mirror = tmp_path / "mirror.git"
    dated_repo.git("clone", "-q", "--mirror", "--no-local", str(dated_repo.path), str(mirror))
    env = {**dated_repo.env, "PATH": _bin() + os.pathsep + os.environ["PATH"]}
    purged = subprocess.run(["bash", str(out / "purge.sh"), str(mirror)], env=env,
                            capture_output=True, check=False, timeout=300)
    assert purged.returncode == 0, purged.stderr
    objects = subprocess.run(["git", "-C", str(mirror), "cat-file", "--batch-all-objects",
                              "--batch"], capture_output=True, check=True, env=env).stdout
    assert secret.encode() not in objects
    assert b"token: ***REMOVED***\n" in objects and b"acme ***REMOVED***" in objects
    assert run_hvscan("git", "--include-unreachable", "--rules", rules, mirror).returncode == 0


def test_what_was_not_scanned_is_said_and_strict_writes_no_plan(
        run_hvscan: Run, dated_repo: DatedRepo, tmp_path: Path) -> None:
    dated_repo.write("small.txt", f"{make_key('live', 'small')}\n")
    dated_repo.write("big.txt", "x" * 4000 + f"\n{make_key('live', 'big')}\n")
    dated_repo.commit("keys")
    args = ("purge-plan", dated_repo.path, "--max-file-size", "1KB")
    done = run_hvscan(*args, "-o", tmp_path / "strict", "--strict")
    assert done.returncode == 2 and b"no purge plan written" in done.stderr
    assert not (tmp_path / "strict").exists()
    done = run_hvscan(*args, "-o", tmp_path / "plan")
    assert done.returncode == 0
    assert b"warning: 1 part of the history not scanned" in done.stdout
    plan = (tmp_path / "plan" / "PLAN.md").read_text()
    assert "## Not scanned" in plan and "big.txt" in plan


def _named(repo: DatedRepo) -> dict[str, str]:
    """Keys in names only: two files whose names differ by their keys alone, a directory, a
    branch, an annotated and a lightweight tag, an archive's member (the archive's content:
    stripped, not renamed) and a tree no commit holds, tagged (the tag is deleted). The keys, by
    where they are."""
    keys = {name: make_key("live", f"purge-name-{name}") for name in (
        "file", "twin", "directory", "branch", "annotated", "lightweight", "member", "tree")}
    bundle = io.BytesIO()
    with zipfile.ZipFile(bundle, "w") as archive:
        archive.writestr(f"conf/{keys['member']}.txt", "clean\n")
    repo.write("bundle.zip", bundle.getvalue())
    repo.write("README", "hello\n")
    repo.write(f"conf-{keys['file']}.txt", "one\n")
    repo.write(f"conf-{keys['twin']}.txt", "two\n")
    repo.write(f"dir-{keys['directory']}/a.txt", "in a directory\n")
    repo.commit("names")
    repo.git("branch", f"leak-{keys['branch']}")
    repo.git("tag", "-a", f"v1-{keys['annotated']}", "-m", "a release")
    repo.git("tag", f"lw-{keys['lightweight']}")
    blob = repo.out("hash-object", "-w", "--stdin", input=b"clean\n")
    tree = repo.out("mktree", input=f"100644 blob {blob}\tname-{keys['tree']}.txt\n".encode())
    repo.git("tag", "-a", "-m", "a tree", "tree-tag", tree)
    return keys


def test_keys_in_file_directory_and_ref_names_are_renamed(
        run_hvscan: Run, dated_repo: DatedRepo, tmp_path: Path) -> None:
    keys = _named(dated_repo)
    out = tmp_path / HOSTILE_DIR
    done = run_hvscan("purge-plan", dated_repo.path, "--output", out)
    assert done.returncode == 0, done.stderr
    assert b"6 names of files, directories or refs holding a key: renamed" in done.stdout
    assert b"1 blob holding a key encoded: stripped whole" in done.stdout
    assert b"1 ref pointing at a blob or tree holding a key: deleted" in done.stdout
    assert (out / "refs-to-delete.txt").read_text() == "refs/tags/tree-tag\n"
    assert b"fix by hand" not in done.stdout
    plan = (out / "PLAN.md").read_text()
    assert "## Names renamed" in plan and "renaming" in plan
    written = [(out / name).read_bytes() for name in os.listdir(out) if name != "replacements.txt"]
    for key in keys.values():
        for text in (done.stdout, done.stderr, *written):
            assert key.encode() not in text
    mirror = tmp_path / HOSTILE_MIRROR
    dated_repo.git("clone", "-q", "--mirror", "--no-local", str(dated_repo.path), str(mirror))
    env = {**dated_repo.env, "PATH": _bin() + os.pathsep + os.environ["PATH"]}
    purged = subprocess.run(["bash", str(out / "purge.sh"), str(mirror)], cwd=tmp_path, env=env,
                            capture_output=True, check=False, timeout=300)
    assert purged.returncode == 0, purged.stderr.decode(errors="replace")
    assert b"0 findings" in purged.stdout  # its own check with hvscan --include-unreachable
    objects = subprocess.run(["git", "-C", str(mirror), "cat-file", "--batch-all-objects",
                              "--batch"], capture_output=True, check=True, env=env).stdout
    for key in keys.values():
        assert key.encode() not in objects

    def removed(key: str) -> str:
        return f"REMOVED-{hashlib.sha256(key.encode()).hexdigest()[:16]}"

    def show(*args: str) -> list[str]:
        return subprocess.run(["git", "-C", str(mirror), *args], capture_output=True,
                              check=True, env=env).stdout.decode().split()

    assert show("for-each-ref", "--format=%(refname)") == sorted([
        f"refs/heads/leak-{removed(keys['branch'])}", "refs/heads/main",
        f"refs/tags/lw-{removed(keys['lightweight'])}",
        f"refs/tags/v1-{removed(keys['annotated'])}"])
    assert show("ls-tree", "-r", "--name-only", "main") == sorted([
        "README", f"conf-{removed(keys['file'])}.txt", f"conf-{removed(keys['twin'])}.txt",
        f"dir-{removed(keys['directory'])}/a.txt"])
    # The annotated tag is a new tag object, named as its ref, its message kept.
    tag = show("cat-file", "-p", f"v1-{removed(keys['annotated'])}")
    assert f"v1-{removed(keys['annotated'])}" in tag and "release" in tag


def test_a_key_encoded_in_a_name_is_left_for_a_fix_by_hand(
        run_hvscan: Run, dated_repo: DatedRepo, tmp_path: Path) -> None:
    key = make_key("live", "name-encoded-0")  # its base64 holds no '/'
    dated_repo.write(f"blob-{base64.b64encode(key.encode()).decode()}.txt", "x\n")
    dated_repo.commit("an encoded key in a name")
    done = run_hvscan("purge-plan", dated_repo.path, "-o", tmp_path / "plan")
    assert done.returncode == 0, done.stderr
    assert b"warning: 1 name holding a key encoded: fix by hand" in done.stdout
    assert b"renamed" not in done.stdout
    plan = (tmp_path / "plan" / "PLAN.md").read_text()
    assert "## Names to fix by hand" in plan and "[path name, base64]" in plan
    assert "## Names renamed" not in plan
    assert "--filename-callback" not in (tmp_path / "plan" / "purge.sh").read_text()


def _removed(key: str) -> str:
    return f"REMOVED-{hashlib.sha256(key.encode()).hexdigest()[:16]}"


def _purge(repo: DatedRepo, out: Path, mirror: Path,
           origin: Path | None = None) -> subprocess.CompletedProcess[bytes]:
    """A mirror clone of ``origin`` (else of ``repo``) at ``mirror``, purged by the plan in
    ``out``: purge.sh's run."""
    repo.git("clone", "-q", "--mirror", "--no-local", str(origin or repo.path), str(mirror))
    env = {**repo.env, "PATH": _bin() + os.pathsep + os.environ["PATH"]}
    return subprocess.run(["bash", str(out / "purge.sh"), str(mirror)], cwd=out.parent, env=env,
                          capture_output=True, check=False, timeout=300)


def _refs(repo: DatedRepo, git_dir: Path) -> list[bytes]:
    return repo.git("--git-dir", str(git_dir), "for-each-ref", "--format=%(refname)"
                    ).stdout.splitlines()


def test_refs_named_with_a_key_at_no_commit_are_deleted_never_shown(
        run_hvscan: Run, dated_repo: DatedRepo, tmp_path: Path) -> None:
    # A tag of a blob holding a key, itself named with one, cannot be listed in
    # refs-to-delete.txt (no file but replacements.txt holds a key); a tag of a clean blob or
    # tree named with a key is no commit git filter-repo renames: git fast-export skips it,
    # printing its name in clear. purge.sh deletes both kinds, found by name as it runs.
    keys = {name: make_key("live", f"loose-{name}") for name in (
        "named", "inside", "lightweight", "annotated")}
    dated_repo.write("README", "hello\n")
    dated_repo.commit("first")
    blob = dated_repo.out("hash-object", "-w", "--stdin", input=f"{keys['inside']}\n".encode())
    dated_repo.git("tag", "-a", "-m", "a blob", f"t-{keys['named']}", blob)
    clean = dated_repo.out("hash-object", "-w", "--stdin", input=b"clean\n")
    dated_repo.git("tag", f"lwb-{keys['lightweight']}", clean)
    dated_repo.git("tag", "-a", "-m", "a tree", f"tree-{keys['annotated']}", "HEAD^{tree}")
    out = tmp_path / "plan"
    done = run_hvscan("purge-plan", dated_repo.path, "-o", out)
    assert done.returncode == 0, done.stderr
    assert (b"3 refs named with a key, pointing at a blob or tree: deleted, found by name as "
            b"purge.sh runs") in done.stdout
    assert b"renamed" not in done.stdout and b"refs-to-delete" not in done.stdout
    assert sorted(os.listdir(out)) == ["PLAN.md", "purge.sh", "replacements.txt"]
    plan = (out / "PLAN.md").read_text()
    assert "## Refs deleted by name" in plan and "## Names renamed" not in plan
    assert f"refs/tags/lwb-{keys['lightweight'][:12]}..." in plan
    purged = _purge(dated_repo, out, tmp_path / "mirror.git")
    assert purged.returncode == 0, purged.stderr.decode(errors="replace")
    assert b"deleted 3 ref(s) named with a key" in purged.stdout
    assert b"0 findings" in purged.stdout
    assert _refs(dated_repo, tmp_path / "mirror.git") == [b"refs/heads/main"]
    for key in keys.values():
        for text in (done.stdout, done.stderr, purged.stdout, purged.stderr,
                     (out / "PLAN.md").read_bytes(), (out / "purge.sh").read_bytes()):
            assert key.encode() not in text


def test_a_ref_renamed_onto_an_existing_one_stops_the_purge(
        run_hvscan: Run, dated_repo: DatedRepo, tmp_path: Path) -> None:
    key = make_key("live", "ref-collision")
    dated_repo.write("README", "hello\n")
    dated_repo.commit("first")
    for name in (f"br-{_removed(key)}", f"br-{key}"):
        dated_repo.git("checkout", "-q", "-b", name, "main")
        dated_repo.write("own.txt", f"{name[:10]}\n")
        dated_repo.commit("its own commit")
    dated_repo.git("checkout", "-q", "main")
    out = tmp_path / "plan"
    assert run_hvscan("purge-plan", dated_repo.path, "-o", out).returncode == 0
    mirror = tmp_path / "mirror.git"
    purged = _purge(dated_repo, out, mirror)
    assert purged.returncode == 2, purged.stderr
    [line] = purged.stderr.decode().splitlines()
    assert line == (f"purge.sh: renaming the keys in ref names would make two refs one, "
                    f"refs/heads/br-{_removed(key)}: rename or delete one of them in the "
                    "repository first; nothing was changed")
    assert key.encode() not in purged.stdout
    # Nothing was changed: both branches and their commits are there.
    assert sorted(_refs(dated_repo, mirror)) == sorted(
        _refs(dated_repo, dated_repo.path / ".git"))


def test_files_renamed_onto_one_name_stop_the_purge(
        run_hvscan: Run, dated_repo: DatedRepo, tmp_path: Path) -> None:
    key = make_key("live", "path-collision")
    dated_repo.write(f"conf-{key}.txt", "one\n")
    dated_repo.write(f"conf-{_removed(key)}.txt", "two\n")
    dated_repo.commit("two names that the renaming makes one")
    out = tmp_path / "plan"
    assert run_hvscan("purge-plan", dated_repo.path, "-o", out).returncode == 0
    mirror = tmp_path / "mirror.git"
    purged = _purge(dated_repo, out, mirror)
    assert purged.returncode == 2, purged.stderr
    last = purged.stderr.decode().splitlines()[-1]
    assert last.startswith("purge.sh: renaming the keys in file names makes two names of one "
                           "commit one (colliding pathnames, above)")
    assert key.encode() not in purged.stdout + purged.stderr
    assert _refs(dated_repo, mirror) == [b"refs/heads/main"]
    assert dated_repo.out("--git-dir", str(mirror), "rev-parse", "main") == dated_repo.out(
        "rev-parse", "main")


def test_a_default_branch_named_with_a_key_is_renamed_and_pushed(
        run_hvscan: Run, dated_repo: DatedRepo, tmp_path: Path) -> None:
    # The shared repository's default branch (its HEAD) is named with a key: git filter-repo
    # renames the branch but leaves HEAD naming the old one, and the host refuses to delete its
    # current branch. The plan's steps, carried out on a bare repository standing for the host.
    key = make_key("live", "head-branch")
    dated_repo.write("README", "hello\n")
    dated_repo.commit("first")
    dated_repo.git("branch", "-m", "main", f"head-{key}")
    host = tmp_path / "host.git"
    dated_repo.git("clone", "-q", "--bare", str(dated_repo.path), str(host))
    assert (host / "HEAD").read_text() == f"ref: refs/heads/head-{key}\n"
    out = tmp_path / "plan"
    done = run_hvscan("purge-plan", host, "-o", out)
    assert done.returncode == 0, done.stderr
    mirror = tmp_path / "mirror.git"
    purged = _purge(dated_repo, out, mirror, origin=host)
    assert purged.returncode == 0, purged.stderr.decode(errors="replace")
    branch = f"refs/heads/head-{_removed(key)}"
    assert (mirror / "HEAD").read_text() == f"ref: {branch}\n"
    step = f"git -C {mirror} -c remote.origin.mirror=false push origin {branch}"
    assert step.encode() in purged.stdout
    # Nothing in the mirror's files holds a key in clear: HEAD, git filter-repo's records.
    for path in mirror.rglob("*"):
        if path.is_file():
            assert key.encode() not in path.read_bytes(), path
    # git filter-repo's records are kept, renamed, for a later run of it (a fix by hand).
    assert branch.encode() in (mirror / "filter-repo" / "ref-map").read_bytes()
    env = {**dated_repo.env, "PATH": _bin() + os.pathsep + os.environ["PATH"]}
    subprocess.run(["git", "-C", str(mirror), "filter-repo", "--message-callback",
                    "return message"], env=env, capture_output=True, check=True, timeout=120)
    # The steps: push the renamed branch, make it the host's default branch, push --mirror.
    dated_repo.git("-C", str(mirror), "-c", "remote.origin.mirror=false", "push", "-q",
                   "origin", branch)
    dated_repo.git("--git-dir", str(host), "symbolic-ref", "HEAD", branch)
    dated_repo.git("--git-dir", str(mirror), "push", "-q", "--force", "--mirror", "origin")
    assert _refs(dated_repo, host) == [branch.encode()]
    # The old objects stay in the host's store until its garbage collection (step 6).
    dated_repo.git("--git-dir", str(host), "reflog", "expire", "--expire=now", "--all")
    dated_repo.git("--git-dir", str(host), "gc", "-q", "--prune=now")
    assert run_hvscan("git", "--include-unreachable", host).returncode == 0


def test_refs_named_in_any_bytes_are_deleted(run_hvscan: Run, dated_repo: DatedRepo,
                                              tmp_path: Path) -> None:
    key = make_key("live", "odd-ref-names")
    dated_repo.write("README", "hello\n")
    dated_repo.commit("first")
    blob = dated_repo.out("hash-object", "-w", "--stdin", input=f"{key}\n".encode())
    for name in (b"rel-\xff\xfe", "rel-\u202ex".encode()):
        dated_repo.git("update-ref", b"refs/tags/" + name, blob)
    out = tmp_path / "plan"
    done = run_hvscan("purge-plan", dated_repo.path, "-o", out)
    assert done.returncode == 0, done.stderr
    assert b"2 refs pointing at a blob or tree holding a key" in done.stdout
    assert (out / "refs-to-delete.txt").read_bytes() == (
        "refs/tags/rel-\u202ex\n".encode() + b"refs/tags/rel-\xff\xfe\n")
    plan = (out / "PLAN.md").read_text()
    assert "refs/tags/rel-\\udcff\\udcfe" in plan and "refs/tags/rel-\\u202ex" in plan
    assert "\u202e" not in plan
    purged = _purge(dated_repo, out, tmp_path / "mirror.git")
    assert purged.returncode == 0, purged.stderr.decode(errors="replace")
    assert _refs(dated_repo, tmp_path / "mirror.git") == [b"refs/heads/main"]


def test_a_name_holding_several_keys_is_shown_once_as_it_ends_up(
        run_hvscan: Run, dated_repo: DatedRepo, tmp_path: Path) -> None:
    one, two = make_key("live", "first-of-two"), make_key("test", "second-of-two")
    dated_repo.write(f"a-{one}-{two}.txt", "x\n")
    dated_repo.commit("two keys in one name")
    out = tmp_path / "plan"
    assert run_hvscan("purge-plan", dated_repo.path, "-o", out).returncode == 0
    renamed = (out / "PLAN.md").read_text().split("## Names renamed")[1].split("\n```")[1]
    [line] = renamed.strip().splitlines()
    assert line.endswith(f"  ->  a-{_removed(one)}-{_removed(two)}.txt")


def test_a_key_in_an_archives_header_strips_the_archive(run_hvscan: Run, dated_repo: DatedRepo,
                                                        tmp_path: Path) -> None:
    # A PAX comment: plain text in the tar's bytes, but its record's length is the tar's, so
    # text replacement would break the archive: the blob is stripped whole.
    import tarfile

    key = make_key("live", "pax-comment")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        info = tarfile.TarInfo("a.txt")
        info.size, info.pax_headers = 5, {"comment": key}
        archive.addfile(info, io.BytesIO(b"clean"))
    dated_repo.write("dist/a.tar", buffer.getvalue())
    dated_repo.commit("an archive")
    blob = dated_repo.out("rev-parse", "HEAD:dist/a.tar")
    done = run_hvscan("purge-plan", dated_repo.path, "-o", tmp_path / "plan")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "plan" / "blobs-to-strip.txt").read_text().split() == [blob]
