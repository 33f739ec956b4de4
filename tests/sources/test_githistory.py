"""git plumbing for the history audit: which tips reach which commits (``tips_reaching``), with
one walk of everything or, after an earlier walk, of what lies between the new tips and the
earlier ones; both checked against ``git for-each-ref --contains`` and ``git merge-base
--is-ancestor``."""

from __future__ import annotations

from pathlib import Path

import pytest
from gitrepo import DatedRepo

from hvscan.sources import githistory
from hvscan.sources.githistory import Reach, tips_reaching


def truth(repo: DatedRepo, commits: list[str], extra: list[tuple[str, str]]
          ) -> dict[str, set[str]]:
    """What git says, one commit at a time."""
    found: dict[str, set[str]] = {}
    for commit in commits:
        found[commit] = set(repo.out("for-each-ref", "--contains", commit,
                                     "--format=%(refname)").split())
        for name, tip in extra:
            if repo.git("merge-base", "--is-ancestor", commit, tip, check=False).returncode == 0:
                found[commit].add(name)
    return found


def asked(repo: DatedRepo, commits: list[str], earlier: Reach | None = None,
          fresh: frozenset[str] = frozenset()) -> tuple[dict[str, set[str]], Reach]:
    extra = [("HEAD", repo.head())]
    found, reach = tips_reaching(repo.path, commits, extra, earlier, fresh)
    assert found == truth(repo, commits, extra)
    return found, reach


@pytest.fixture
def whole_walks(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The starts of every walk of the whole history ``tips_reaching`` makes."""
    walks: list[list[str]] = []
    walk = githistory._walk

    def counted(repo: object, bits: dict[str, int], starts: list[str]) -> dict[str, int]:
        walks.append(starts)
        return walk(repo, bits, starts)  # type: ignore[arg-type]

    monkeypatch.setattr(githistory, "_walk", counted)
    return walks


@pytest.fixture
def branches(dated_repo: DatedRepo) -> tuple[DatedRepo, list[str]]:
    """main: a - b - c - merge(topic); topic from a: t; an annotated tag on b and a tag of
    that tag; a remote-tracking ref at a; a stash entry on c; a branch whose history holds
    none of them."""
    repo = dated_repo
    a = repo.commit_file("a.txt", "a\n", "a")
    repo.git("update-ref", "refs/remotes/origin/main", a)
    repo.git("checkout", "-q", "--orphan", "lonely")
    repo.commit_file("lonely.txt", "alone\n", "lonely")
    repo.git("checkout", "-q", "-b", "topic", a)
    t = repo.commit_file("t.txt", "t\n", "t")
    repo.git("checkout", "-q", "main")
    b = repo.commit_file("b.txt", "b\n", "b")
    repo.git("tag", "-a", "v1", "-m", "v1", b)
    repo.git("tag", "-a", "v1-again", "-m", "a tag of a tag", "v1")
    c = repo.commit_file("c.txt", "c\n", "c")
    repo.write("c.txt", "stashed\n")
    repo.git("stash", "-q")
    repo.git("merge", "-q", "--no-ff", "-m", "merge topic", "topic")
    return repo, [a, b, c, t]


def test_every_tip_reaching_each_commit(branches: tuple[DatedRepo, list[str]]) -> None:
    repo, [a, b, c, t] = branches
    found, reach = asked(repo, [a, b, c, t])
    assert {"refs/tags/v1", "refs/tags/v1-again", "refs/heads/main", "HEAD"} <= found[b]
    assert "refs/heads/topic" not in found[b] and "refs/heads/lonely" not in found[b]
    assert found[t] == {"refs/heads/topic", "refs/heads/main", "HEAD"}
    assert "refs/stash" in found[c] and "refs/remotes/origin/main" in found[a]
    assert reach.reaching[t] == {repo.out("rev-parse", "topic"), repo.head()}


def test_a_grown_history_walks_only_what_is_new(branches: tuple[DatedRepo, list[str]],
                                               whole_walks: list[list[str]]) -> None:
    repo, commits = branches
    _, reach = asked(repo, commits)
    d = repo.commit_file("d.txt", "d\n", "d")  # on main's tip
    repo.git("checkout", "-q", "topic")
    repo.git("merge", "-q", "--no-ff", "-m", "merge main", "main")  # two earlier tips
    repo.git("tag", "-a", "v2", "-m", "v2", "HEAD")
    repo.git("update-ref", "refs/remotes/origin/main", "main")  # pushed now
    repo.git("checkout", "-q", "main")
    found, again = asked(repo, [*commits, d], reach, frozenset({d}))
    assert "refs/remotes/origin/main" in found[commits[1]]
    assert found[d] >= {"refs/tags/v2", "refs/heads/topic", "refs/heads/main"}
    # What this walk learnt serves the next one just as well.
    repo.commit_file("e.txt", "e\n", "e")
    asked(repo, [*commits, d], again)
    assert len(whole_walks) == 1  # the first


@pytest.mark.parametrize("change", ["old-base", "moved-back", "pruned"])
def test_new_tips_on_old_commits_are_walked_down_to_earlier_tips(
        branches: tuple[DatedRepo, list[str]], whole_walks: list[list[str]],
        change: str) -> None:
    repo, commits = branches
    b, c = commits[1:3]
    _, reach = asked(repo, commits)
    if change == "old-base":  # a new branch from a commit that was no tip
        repo.git("checkout", "-q", "-b", "from-c", c)
        repo.commit_file("f.txt", "f\n", "f")
        repo.git("checkout", "-q", "main")
    elif change == "moved-back":  # a ref now at a commit that was no tip
        repo.git("update-ref", "refs/heads/topic", c)
    else:  # an earlier tip is gone from the store
        gone = repo.commit_file("gone.txt", "gone\n", "gone")
        _, reach = asked(repo, commits, reach)
        repo.git("reset", "-q", "--hard", "HEAD~1")
        repo.git("stash", "clear")
        repo.git("reflog", "expire", "--expire=now", "--all")
        repo.git("gc", "-q", "--prune=now")
        assert repo.git("cat-file", "-e", gone, check=False).returncode != 0
    found, _ = asked(repo, commits, reach)
    assert "refs/heads/main" in found[b]
    assert len(whole_walks) == 1


def test_an_old_commit_asked_for_the_first_time_walks_everything(
        branches: tuple[DatedRepo, list[str]], whole_walks: list[list[str]]) -> None:
    repo, commits = branches
    _, reach = asked(repo, commits[1:])
    repo.commit_file("g.txt", "g\n", "g")
    asked(repo, commits, reach)
    assert len(whole_walks) == 2


def test_objects_to_skip_are_left_out_of_the_list_and_counted(tmp_path: Path,
                                                               gitenv: dict[str, str]) -> None:
    # What another audit screened clean (hvscan/shared.py) is never asked of git again; its
    # kind and size still count, so the statistics are those of a full read.
    repo = DatedRepo(tmp_path / "repo", gitenv)
    repo.write("a.txt", "alpha\n")
    repo.write("dir/b.txt", "bravo, a longer one\n")
    commit = repo.commit("two files")
    listed = repo.out("cat-file", "--batch-all-objects", "--batch-check").splitlines()
    sizes = {line.split()[0]: (line.split()[1], int(line.split()[2])) for line in listed}
    blob, tree = repo.out("rev-parse", "HEAD:dir/b.txt"), repo.out("rev-parse", "HEAD:dir")
    skip = {blob.encode(), tree.encode(), commit.encode()}

    def ids(lists: githistory.ObjectLists) -> set[str]:
        found = {line.decode() for part in lists.files for line in part.read().split()}
        lists.close()
        return found

    whole = githistory.list_objects(repo.path, 1, keep_commits=True)
    assert (whole.count, whole.skipped, whole.commits) == (len(sizes), 0, [commit])
    assert ids(whole) == set(sizes)
    left = githistory.list_objects(repo.path, 1, keep_commits=True, skip=skip)
    assert left.commits == [commit]  # every commit of the store, for --include-unreachable
    assert (left.count, left.skipped, left.skipped_blobs, left.skipped_blob_bytes) == (
        len(sizes) - 3, 3, 1, sizes[blob][1])
    assert ids(left) == set(sizes) - {blob, tree, commit}
