"""git plumbing for incremental audits: the tips, which earlier tips are still there and still
reached, and the objects that are new since them."""

from __future__ import annotations

from gitrepo import DatedRepo

from hvscan.sources.delta import delta_objects, grown_changes, lost, present, ref_tips
from hvscan.sources.githistory import CommitChange, changes, stash_entries


def listed(repo: DatedRepo, tips: list[str], old: list[str],
           flagged: tuple[str, ...] = ()) -> tuple[list[str], list[str]]:
    lists, missing = delta_objects(repo.path, tips, old, flagged, 2)
    try:
        return [line.decode().strip() for part in lists.files for line in part], missing
    finally:
        lists.close()


def test_tips_are_every_ref_every_head_and_stash_entries(dated_repo: DatedRepo) -> None:
    dated_repo.write("a.txt", "a\n")
    first = dated_repo.commit("first")
    dated_repo.git("tag", "-a", "v1", "-m", "v1")
    dated_repo.write("a.txt", "b\n")
    dated_repo.git("stash", "-q")
    dated_repo.write("a.txt", "c\n")
    dated_repo.git("stash", "-q")
    dated_repo.git("checkout", "-q", "--detach")
    dated_repo.git("worktree", "add", "-q", "--detach", "../elsewhere")
    dated_repo.git("-C", "../elsewhere", "commit", "-q", "--allow-empty", "-m", "detached")
    elsewhere = dated_repo.out("-C", "../elsewhere", "rev-parse", "HEAD")
    stash = stash_entries(dated_repo.path)
    tips = ref_tips(dated_repo.path, stash)
    tag = dated_repo.out("rev-parse", "refs/tags/v1")
    assert set(tips) == {first, tag, elsewhere, *stash} and len(stash) == 2
    assert tips == sorted(tips)


def test_new_objects_are_those_the_old_tips_do_not_reach(dated_repo: DatedRepo) -> None:
    dated_repo.write("a.txt", "a\n")
    old = dated_repo.commit("first")
    dated_repo.write("b.txt", "b\n")
    new = dated_repo.commit("second")
    blob = dated_repo.out("rev-parse", "HEAD:b.txt")
    tree = dated_repo.out("rev-parse", "HEAD^{tree}")
    old_blob = dated_repo.out("rev-parse", "HEAD:a.txt")
    assert listed(dated_repo, [new], [old]) == ([new, tree, blob], [])
    # The flagged objects come last, each once.
    assert listed(dated_repo, [new], [old], (blob, old_blob)) == (
        [new, tree, blob, old_blob], [])
    assert not lost(dated_repo.path, [old], [new])


def test_rewritten_history_is_seen(dated_repo: DatedRepo) -> None:
    dated_repo.write("a.txt", "a\n")
    base = dated_repo.commit("first")
    dated_repo.write("b.txt", "b\n")
    dropped = dated_repo.commit("dropped")
    dated_repo.git("reset", "-q", "--hard", base)
    assert lost(dated_repo.path, [dropped], [base])
    assert not lost(dated_repo.path, [base], [dropped])
    dated_repo.git("reflog", "expire", "--expire=now", "--all")
    dated_repo.git("gc", "-q", "--prune=now")
    assert present(dated_repo.path, (base, dropped)) == [base]


def test_grown_changes_are_a_whole_walk(dated_repo: DatedRepo) -> None:
    """The known changes and those of the new commits are what a walk of everything finds,
    in the same order of age."""
    dated_repo.write("a.txt", "key\n")
    dated_repo.commit("first")
    blob = dated_repo.out("rev-parse", "HEAD:a.txt")
    old = dated_repo.head()
    known = changes(dated_repo.path, ["--all"], {blob})
    dated_repo.write("b.txt", "key\n")
    dated_repo.commit("copy")
    dated_repo.write("c.txt", "key\n")
    dated_repo.commit("another copy")
    everything = changes(dated_repo.path, ["--all"], {blob})
    grown = grown_changes(dated_repo.path, tuple(known), [dated_repo.head()], [old], {blob})

    def order(found: list[CommitChange]) -> list[tuple[str, str]]:
        return [(c.commit.oid, c.path) for c in sorted(found, key=lambda c: c.sequence)]

    assert order(grown) == order(everything)


def test_an_empty_repository_has_no_tips(dated_repo: DatedRepo) -> None:
    assert ref_tips(dated_repo.path, []) == []
    assert listed(dated_repo, [], []) == ([], [])
