"""Objects shared between the audits of one many-repository run (hvscan/shared.py): what an
audit of a verified mirror screened clean is not read again by the next one in the same worker,
the reports are those of audits that read everything, and local paths never take part."""

from __future__ import annotations

import json
import os
import subprocess
import zlib
from pathlib import Path
from typing import Any

import pytest
from gitrepo import DatedRepo, GitRepo
from hvscan_run import untimed
from keygen import key_sha256, make_key

from hvscan.shared import SharedObjects


def test_the_set_is_bounded_and_kept_per_screen() -> None:
    shared = SharedObjects(cap=3)
    shared.publish("rules-1", [b"a", b"b"])
    shared.publish("rules-1", [b"c", b"d", b"e"])  # full at three: the rest is not added
    assert shared.clean("rules-1") == {b"a", b"b", b"c"}
    # What another screen dropped says nothing about this one.
    assert shared.clean("rules-2") == set()
    shared.publish("rules-2", [b"x"])
    assert shared.clean("rules-2") == {b"x"}


class Mirrors:
    """A project and three remotes that forked it (audited through their file:// URLs), each
    adding a key of its own: in a file, in a file's name, in a commit message."""

    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.root, self.env = root, env
        project = DatedRepo(root / "project", env)
        for n in range(12):
            project.write(f"src/module_{n}.py", f"VALUE = {n}\n" * (n + 1))
            project.commit(f"module {n}")
        self.project = objects(project.path, env)
        self.keys = [make_key("live", seed) for seed in (601, 602, 603)]
        self.urls = []
        for index, kind in enumerate(("blob", "name", "message")):
            fork = DatedRepo(root / f"work-{kind}", env)
            fork.git("pull", "-q", str(project.path), "main")
            key = self.keys[index]
            if kind == "blob":
                fork.write("settings.py", f"KEY = '{key}'\n")
            elif kind == "name":
                fork.write(f"keys/{key}.txt", "where\n")
            fork.commit(f"deploy with {key}" if kind == "message" else f"{kind} fork")
            bare = root / f"{kind}.git"
            fork.git("clone", "-q", "--bare", str(fork.path), str(bare))
            self.urls.append(f"file://{bare}")

    def mirror(self, url: str) -> str:
        """Where the runs fetch ``url`` into (made by the first)."""
        from hvscan.repos import mirror_path, parse

        return os.path.realpath(mirror_path(parse(url), self.root / "clones"))


def objects(path: Path | str, env: dict[str, str]) -> set[str]:
    """The ids of every object in the store of the repository at ``path``."""
    listing = subprocess.run(["git", "-C", str(path), "cat-file", "--batch-all-objects",
                              "--batch-check=%(objectname)"], env=env, capture_output=True,
                             check=True)
    return set(listing.stdout.decode().split())


@pytest.fixture
def mirrors(tmp_path: Path, gitenv: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Mirrors:
    for name, value in gitenv.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    return Mirrors(tmp_path, gitenv)


def run(mirrors: Mirrors, monkeypatch: pytest.MonkeyPatch, *args: str
        ) -> tuple[dict[str, str], dict[str, int]]:
    """``hvscan git ARGS`` in this process (its workers forked from it): each repository's
    report (JSON, times blanked), and how many objects each audited store was asked for
    (``git cat-file --batch``'s input: counted in the workers too, through a file)."""
    from click.testing import CliRunner

    from hvscan import cli
    from hvscan.commands import many
    from hvscan.sources import history

    asked = mirrors.root / "asked.log"
    asked.write_text("")
    stream, audit_all = history.stream_objects, many.audit_all

    def counted(repo: Path, oids: Any) -> Any:
        count = oids.read().count(b"\n")
        oids.seek(0)
        with asked.open("a") as log:
            log.write(f"{os.path.realpath(repo)} {count}\n")
        return stream(repo, oids)

    reports: dict[str, str] = {}

    def kept(*given: Any) -> Any:
        for audited in audit_all(*given):
            reports[audited.repository] = untimed(json.dumps(audited.report).encode()).decode()
            yield audited

    with monkeypatch.context() as patch:
        patch.setattr(history, "stream_objects", counted)
        patch.setattr(many, "audit_all", kept)
        done = CliRunner().invoke(cli.cli, ["git", *args, "--clone-dir",
                                            str(mirrors.root / "clones"), "--format", "json"])
    assert done.exit_code == 1, done.output
    reads: dict[str, int] = {}
    for line in asked.read_text().splitlines():
        path, count = line.rsplit(" ", 1)
        reads[path] = reads.get(path, 0) + int(count)
    return reports, reads


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_mirrors_skip_what_another_screened_clean_with_the_same_reports(
        mirrors: Mirrors, monkeypatch: pytest.MonkeyPatch, jobs: str) -> None:
    from hvscan.commands import many

    alone = {}
    for url in mirrors.urls:  # one repository a run: nothing to share
        report, _ = run(mirrors, monkeypatch, url)
        alone.update(report)
    together, reads = run(mirrors, monkeypatch, *mirrors.urls, "--jobs", jobs)
    # Findings, keys, statistics, notes, skips, errors: each repository's report is the same.
    assert together == alone
    for url, key in zip(mirrors.urls, mirrors.keys, strict=True):
        report = json.loads(together[url])
        assert [f["secret_sha256"] for f in report["findings"]] == [key_sha256(key)]
    paths = [mirrors.mirror(url) for url in mirrors.urls]
    stores = {path: objects(path, mirrors.env) for path in paths}
    assert set(reads) == set(paths)
    # The project's objects are screened clean by the first audit of each worker; the audits
    # after it read only what their fork added.
    own = {path: len(held - mirrors.project) for path, held in stores.items()}
    if jobs == "1":
        first, *later = paths
        assert reads[first] == len(stores[first])
        assert all(reads[path] <= own[path] < len(stores[path]) for path in later)
    else:  # two workers, three audits: one worker audits two
        assert sum(reads.values()) <= sum(map(len, stores.values())) - len(mirrors.project)
    assert many._shared is None  # nothing of the run is left in this process
    # The next run starts afresh: its first audit reads everything again.
    _, again = run(mirrors, monkeypatch, *mirrors.urls, "--jobs", "1")
    assert again[paths[0]] == len(stores[paths[0]])


def loose_object(repo: GitRepo, oid: str) -> Path:
    return repo.path / ".git" / "objects" / oid[:2] / oid[2:]


def forge(repo: GitRepo, oid: str, content: bytes) -> None:
    """Put ``content`` (a blob) in ``repo``'s store under ``oid``, which is not its id: git
    reads a loose object without checking its id (a hand-made repository can do this)."""
    path = loose_object(repo, oid)
    path.chmod(0o644)
    path.write_bytes(zlib.compress(b"blob %d\0" % len(content) + content))


def test_local_repositories_never_skip_nor_publish(
        mirrors: Mirrors, monkeypatch: pytest.MonkeyPatch) -> None:
    """A local path's objects may not match their ids: one could pre-clear an id another
    repository holds a key under, or hold a key under an id a mirror holds clean. Neither
    hides a key, whatever the order."""
    hiding = DatedRepo(mirrors.root / "hiding", mirrors.env)  # a key under a clean blob's id
    hiding.write("src/module_0.py", "VALUE = 0\n")  # as the project has it: every mirror too
    hiding.commit("looks clean")
    clean = hiding.out("rev-parse", "HEAD:src/module_0.py")
    assert clean in mirrors.project
    local_key = make_key("live", 604)
    forge(hiding, clean, f"KEY = '{local_key}'\n".encode())
    # Clean bytes under the id of the blob fork "blob" holds its key in.
    clearing = DatedRepo(mirrors.root / "clearing", mirrors.env)
    key_file = f"KEY = '{mirrors.keys[0]}'\n"
    clearing.write("settings.py", key_file)
    clearing.commit("the fork's key file")
    forge(clearing, clearing.out("rev-parse", "HEAD:settings.py"), b"nothing here\n")
    # "clearing" first: had it published, "blob"'s key would be skipped; "hiding" last: had it
    # skipped what the mirrors published, its key would be.
    order = ["clearing", *mirrors.urls, "hiding"]
    reports, reads = run(mirrors, monkeypatch, *order, "--jobs", "1")
    found = {(url, f["secret_sha256"]) for url, report in reports.items()
             for f in json.loads(report)["findings"]}
    assert (mirrors.urls[0], key_sha256(mirrors.keys[0])) in found
    assert ("hiding", key_sha256(local_key)) in found
    for repo in (clearing, hiding):  # asked for every object of their stores
        assert reads[os.path.realpath(repo.path)] == len(objects(repo.path, mirrors.env))


def test_a_first_incremental_audit_shares_too(mirrors: Mirrors,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    # With --state, the first audit of each repository reads the whole store: the mirrors
    # after the first read only what their fork added, and each report is still the same.
    state = str(mirrors.root / "state.sqlite3")
    alone = {}
    for url in mirrors.urls:
        report, _ = run(mirrors, monkeypatch, url)
        alone.update(report)
    first, reads = run(mirrors, monkeypatch, *mirrors.urls, "--state", state, "--jobs", "1")
    assert first == alone
    later = [mirrors.mirror(url) for url in mirrors.urls[1:]]
    assert all(reads[path] <= len(objects(path, mirrors.env) - mirrors.project)
               for path in later)
    # The next run reads what is new (nothing) and what was flagged: every key again.
    again, _ = run(mirrors, monkeypatch, *mirrors.urls, "--state", state, "--jobs", "1")
    for url in mirrors.urls:
        before, after = json.loads(alone[url]), json.loads(again[url])
        assert after["findings"] == before["findings"] and after["keys"] == before["keys"]
