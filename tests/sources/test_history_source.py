"""The history source: every object read once, through the pipeline's screen, as ordinary
events; and the audit as the one pipeline over them, then attribution."""

from __future__ import annotations

import pytest
from archives import make_zip
from gitrepo import DatedRepo
from keygen import make_key

from hvscan.engine import Engine, Inspection
from hvscan.findings import fingerprint
from hvscan.history import audit
from hvscan.model import History
from hvscan.purge import KeyBlobs
from hvscan.rules import load_builtin_rules
from hvscan.scan import Pipeline, ScanResult
from hvscan.sources import Blob, Event, Events, Names, Screen, Screened
from hvscan.sources.history import HistoryOptions, HistorySource

ENGINE = Engine(load_builtin_rules())


def screen(wanted: bytes | None) -> Screen:
    """A screen that wants the content holding ``wanted`` (None: nothing), nothing else."""

    def spans(window: memoryview) -> list[tuple[int, int]]:
        at = bytes(window).find(wanted) if wanted else -1
        return [] if wanted is None or at < 0 else [(at, at + len(wanted))]

    return Screen(lambda window, at_start: bool(spans(window)), 0, spans, lambda window: False)


@pytest.fixture
def history(dated_repo: DatedRepo) -> DatedRepo:
    dated_repo.write("a.txt", "alpha\n")
    dated_repo.write("b.txt", "beta\n")
    dated_repo.commit("first")
    dated_repo.write("a.txt", f"alpha\nk = {make_key('live', 'source')}\n")
    dated_repo.commit("second: gamma")
    return dated_repo


def events(repo: DatedRepo, wanted: bytes | None) -> list[Event]:
    """The source's events about contents: not the names (the refs'; tested below)."""
    return [event for event in HistorySource(repo.path, HistoryOptions()).events(screen(wanted))
            if not isinstance(event, Names)]


def test_what_the_screen_passes_is_one_screened_event(history: DatedRepo) -> None:
    [screened] = events(history, None)
    assert isinstance(screened, Screened)
    assert (screened.origin.source, screened.files) == ("history", 3)
    assert screened.size == len("alpha\n") * 2 + len("beta\n") + len(
        f"k = {make_key('live', 'source')}\n")


def test_what_the_screen_wants_is_a_blob_event(history: DatedRepo) -> None:
    found = events(history, b"beta")
    blob = next(event for event in found if isinstance(event, Blob))
    oid = history.out("rev-parse", "HEAD:b.txt")
    assert blob == Blob(b"beta\n", blob.origin)
    assert blob.origin.history == History(blob=oid) and blob.origin.path is None
    assert found[-1] == Screened(found[-1].origin, len("alpha\n") * 2 + len(
        f"k = {make_key('live', 'source')}\n"), 2)


def test_a_message_the_screen_wants_is_a_blob_that_is_no_file(history: DatedRepo) -> None:
    [message, screened] = events(history, b"gamma")
    assert isinstance(message, Blob) and not message.file
    assert message.data == b"second: gamma\n"
    assert message.origin.source == "commit-message"
    assert message.origin.commit == history.out("rev-parse", "HEAD")
    assert isinstance(screened, Screened) and screened.files == 3


def test_the_audit_runs_the_one_pipeline_over_the_source_events(history: DatedRepo) -> None:
    calls: list[str] = []

    class Recording(Pipeline):
        def screen(self) -> Screen:
            calls.append("screen")
            return super().screen()

        def run(self, events: Events) -> ScanResult:
            calls.append("run")
            return super().run(events)

    result = audit(history.path, Recording(ENGINE), HistoryOptions())
    assert calls == ["screen", "run"]
    pipeline = Pipeline(ENGINE)
    direct = pipeline.run(HistorySource(history.path, HistoryOptions()).events(
        pipeline.screen()))
    # The counts are the pipeline's; attribution only places what it found.
    assert vars(result.stats) == vars(direct.stats)
    assert result.stats.files_scanned == 3
    [finding] = result.findings
    assert (finding.path, finding.commit) == ("a.txt", history.out("rev-parse", "HEAD"))
    assert [f.secret for f in direct.findings] == [finding.secret]


@pytest.mark.parametrize("audited", [{"commit_range": "HEAD~3..HEAD"}, {"since_commit": "HEAD~3"},
                                     {"branch": "main"}, {}])
def test_keys_in_the_names_history_adds_are_found_where_they_arrived(
        dated_repo: DatedRepo, audited: dict[str, str]) -> None:
    key = make_key("live", 90)
    dated_repo.write("base.txt", "base\n")
    dated_repo.write(f"kept-{key}/a.txt", "clean\n")  # before the range
    before = dated_repo.commit("base")
    dated_repo.write(f"dir-{key}/a.txt", "clean\n")
    dated_repo.write(f"sub/deep-{key}.txt", "clean\n")
    adding = dated_repo.commit("a directory and a file named with a key")
    dated_repo.write(f"dir-{key}/b.txt", "clean\n")
    dated_repo.write(f"kept-{key}/b.txt", "clean\n")
    dated_repo.write("sub/other.txt", "clean\n")
    dated_repo.commit("more files in them: new trees holding the same names")
    name = b"x\n\xff" + key.encode()
    dated_repo.write(name, "clean\n")
    last = dated_repo.commit("a file named with a key")
    result = audit(dated_repo.path, Pipeline(ENGINE), HistoryOptions(**audited))
    found = {(f.path, f.commit) for f in result.findings}
    assert {(f.in_name, f.source) for f in result.findings} == {(True, "history")}
    # The tree holding the name (whole store), or nothing (a range names the commit alone).
    assert all((f.history is not None and f.history.blob is not None) == (not audited)
               for f in result.findings)
    expected = {(f"dir-{key}/", adding), (f"sub/deep-{key}.txt", adding),
                (name.decode("utf-8", "backslashreplace"), last)}
    if "branch" in audited or not audited:  # the whole branch or store: the first commit too
        expected.add((f"kept-{key}/", before))
    else:  # a name the range's parent has already is not new
        assert result.stats.preexisting_ignored == 1
    assert found == expected and len(result.findings) == len(expected)
    (entry,) = [entry for entry in result.exposure.values()]
    assert {(i.path, i.commit) for i in entry.introductions} == expected
    # Placed at its path, a finding's fingerprint is the one every other scan gives it.
    placed = next(f for f in result.findings if f.path == f"dir-{key}/")
    assert placed.fingerprint == fingerprint(placed.rule_id, placed.path,
                                             placed.secret_sha256, True)


def test_a_key_in_an_archive_member_name_is_placed_as_the_archive_content_is(
        dated_repo: DatedRepo) -> None:
    key = make_key("live", 94)
    dated_repo.write("README", "clean\n")
    dated_repo.commit("base")
    dated_repo.write("dist/release.zip", make_zip({f"conf/{key}.txt": b"clean\n"}))
    adding = dated_repo.commit("an archive whose member is named with a key")
    holding = KeyBlobs()
    result = audit(dated_repo.path, Pipeline(ENGINE), HistoryOptions(), scanned=holding)
    (finding,) = result.findings
    path = f"dist/release.zip!conf/{key}.txt"
    assert (finding.path, finding.commit, finding.in_name, finding.encoding) == (
        path, adding, True, "zip")
    blob = dated_repo.out("rev-parse", f"{adding}:dist/release.zip")
    assert finding.history == History(blob=blob, other_commits=0, other_paths=0)
    assert finding.fingerprint == fingerprint(finding.rule_id, path, finding.secret_sha256, True)
    (entry,) = result.exposure.values()
    assert (entry.in_head, entry.head_paths) == (True, (path,))
    # The purge plan strips the blob: no text replacement reaches a name in an archive.
    assert holding.encoded[key] == {blob}


@pytest.mark.parametrize("audited", [{}, {"branch": "main"}])
def test_a_key_in_a_name_head_holds_is_in_head(dated_repo: DatedRepo,
                                               audited: dict[str, str]) -> None:
    key = make_key("live", 95)
    dated_repo.write(f"conf/dir-{key}/a.txt", "clean\n")
    dated_repo.write(f"top-{key}.txt", "clean\n")
    dated_repo.commit("names with a key")
    dated_repo.git("branch", f"feature-{key}")  # its name is no path of HEAD's

    def head(**options: str) -> tuple[bool | None, tuple[str, ...]]:
        (entry,) = audit(dated_repo.path, Pipeline(ENGINE), HistoryOptions(**options)
                         ).exposure.values()
        return entry.in_head, entry.head_paths

    assert head(**audited) == (True, (f"conf/dir-{key}/", f"top-{key}.txt"))
    dated_repo.git("rm", "-q", f"top-{key}.txt")
    dated_repo.commit("one name gone")
    assert head(**audited) == (True, (f"conf/dir-{key}/",))
    dated_repo.git("rm", "-q", "-r", "conf")
    dated_repo.commit("all gone")
    assert head(**audited) == (False, ())


def test_a_submodule_named_with_a_key_in_head_is_in_head(dated_repo: DatedRepo) -> None:
    key = make_key("live", 96)
    dated_repo.write("README", "clean\n")
    base = dated_repo.commit("base")
    dated_repo.git("update-index", "--add", "--cacheinfo", f"160000,{base},sub-{key}")
    dated_repo.git("commit", "-q", "-m", "a submodule named with a key")  # no add -A: kept
    result = audit(dated_repo.path, Pipeline(ENGINE), HistoryOptions())
    assert [(f.path, f.in_name) for f in result.findings] == [(f"sub-{key}", True)]
    (entry,) = result.exposure.values()
    assert (entry.in_head, entry.head_paths) == (True, (f"sub-{key}",))


def test_a_name_below_the_root_is_placed_however_many_trees_hold_it(
        dated_repo: DatedRepo, monkeypatch: pytest.MonkeyPatch) -> None:
    # Past MAX_FIND_OBJECT_ARGS trees (a directory changed thousands of times), git log is not
    # given them to find: its raw diff must still list the directories' changes.
    from hvscan.sources import githistory

    key = make_key("live", 92)
    dated_repo.write(f"src/dir-{key}/keep", "clean\n")
    adding = dated_repo.commit("a directory named with a key")
    for n in range(3):
        dated_repo.write("src/counter", f"{n}\n")
        dated_repo.commit(f"count {n}")
    monkeypatch.setattr(githistory, "MAX_FIND_OBJECT_ARGS", 1)
    result = audit(dated_repo.path, Pipeline(ENGINE), HistoryOptions())
    assert [(f.path, f.commit, f.in_name) for f in result.findings] == [
        (f"src/dir-{key}/", adding, True)]


@pytest.mark.parametrize("audited", [{"commit_range": "HEAD~1..HEAD"}, {"branch": "main"}])
def test_a_range_counts_a_renamed_name_as_kept(dated_repo: DatedRepo,
                                               audited: dict[str, str]) -> None:
    key = make_key("live", 93)
    dated_repo.write(f"file-{key}.txt", "clean\n")
    dated_repo.write(f"dir-{key}/a.txt", "clean\n")
    first = dated_repo.commit("names with a key")
    (dated_repo.path / "moved").mkdir()
    (dated_repo.path / "sub").mkdir()
    dated_repo.git("mv", f"file-{key}.txt", "moved/")  # git sees a deletion and an addition
    dated_repo.git("mv", f"dir-{key}", "sub/")
    dated_repo.write(f"sub/dir-{key}/a.txt", "edited on the way\n")
    dated_repo.commit("renamed")
    result = audit(dated_repo.path, Pipeline(ENGINE), HistoryOptions(**audited))
    whole = "branch" in audited  # the first commit is scanned too: only its names are new
    assert sorted((f.path, f.commit) for f in result.findings) == (
        [(f"dir-{key}/", first), (f"file-{key}.txt", first)] if whole else [])
    assert result.stats.preexisting_ignored == 2


def test_the_whole_store_audit_finds_keys_in_ref_names(dated_repo: DatedRepo) -> None:
    key = make_key("test", 91)
    dated_repo.write("a.txt", "clean\n")
    first = dated_repo.commit("first")
    dated_repo.write("b.txt", "clean\n")
    second = dated_repo.commit("second")
    dated_repo.git("branch", f"feature-{key}", first)
    dated_repo.git("tag", "-a", "-m", "a tag", f"v-{key}", second)
    result = audit(dated_repo.path, Pipeline(ENGINE), HistoryOptions())
    found = sorted((f.source, f.path, f.commit, f.in_name, f.column) for f in result.findings)
    assert found == [("ref", f"refs/heads/feature-{key}", first, True, 20),
                     ("ref", f"refs/tags/v-{key}", second, True, 13)]
    (entry,) = result.exposure.values()
    assert f"refs/heads/feature-{key}" in entry.refs


def test_a_name_in_many_versions_of_its_tree_is_inspected_once_and_placed_first(
        dated_repo: DatedRepo, monkeypatch: pytest.MonkeyPatch) -> None:
    key = make_key("live", 92)
    name = f"top-{key}".encode()
    dated_repo.write(name, "clean\n")
    dated_repo.write("counter.txt", "0\n")
    first = dated_repo.commit("the key-named file")
    for number in range(1, 12):  # 12 versions of the root tree, each holding the name
        dated_repo.write("counter.txt", f"{number}\n")
        dated_repo.commit(f"counter {number}")
    engine = Engine(load_builtin_rules())
    inspect = engine.inspect
    names: list[bytes] = []

    def counted(data: bytes) -> Inspection:
        names.extend([data] if data == name else [])
        return inspect(data)

    monkeypatch.setattr(engine, "inspect", counted)
    result = audit(dated_repo.path, Pipeline(engine), HistoryOptions())
    assert names == [name]
    assert [(f.path, f.commit, f.in_name) for f in result.findings] == [
        (name.decode(), first, True)]
