"""``hvscan git`` over several repositories (``REPO...``, ``--repos-file``, a clone URL,
``--shard``): each repository audited by the one history pipeline (``git.audit_history`` through
``runner.scan_and_verify``) in its own process, ``--jobs`` at a time, and the reports joined into
one document (``hvscan.report.merge``, the mechanism ``hvscan merge`` uses for shards).

A remote is mirrored first (``hvscan.repos.mirror``). A repository that cannot be cloned or read
is an error in the report, naming it, and the run exits 2; the others are still audited. On a
terminal one progress line counts repositories, objects and bytes (the workers send what they
have read, five times a second at most, over a queue the command drains on a thread);
otherwise a line per finished repository goes to standard error. ``--format jsonl`` on
standard output writes each repository's findings as it finishes, then the rest of the report.

The audits of remotes' mirrors in one worker process share the objects they screened clean
(``hvscan.shared``: one set per worker and run, handed down to each audit): a fork's audit does
not read again what its project's audit found nothing in, and its report is unchanged. Local
paths never take part: their objects may not match their ids (docs/security.md).

With ``--state FILE`` (``--incremental``) each repository's audit is the incremental one
(``hvscan.incremental``): one file holds every repository's entry (keyed by its git directory,
a remote's mirror's for a URL), each worker opens it for the repositories it audits, and SQLite's
locking orders their writes (``hvscan/state.py``). A file hvscan cannot use is refused before
any audit, as for one repository; one that fails a repository's audit later is that
repository's error, and one that fails only to record what an audit found is an error beside
that audit's findings (``hvscan.incremental``).

A run interrupted (SIGINT) or terminated (SIGTERM, which ``runner.guarded`` raises as
``Terminated``) ends its worker processes and the answers' manager at once, without waiting for
their audits: nothing of it outlives the command. They leave Ctrl-C, which a terminal sends
to the whole process group, to the command. A worker sent SIGTERM during an audit unwinds it
first, as the command does (the git processes it started and their helpers are ended, a half
clone removed), then dies of the signal; between audits, and the manager always, it dies of it
at once.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, NoReturn

from hvscan.runner import HvscanError, OutputOptions, Terminated, internal_error

if TYPE_CHECKING:
    from collections.abc import Callable, Generator, Iterator
    from concurrent.futures import Future

    from hvscan.report import ReportOptions
    from hvscan.repos import Repo
    from hvscan.runner import ScanSettings
    from hvscan.settings.options import ScanOptions, VerifyOptions
    from hvscan.shared import SharedObjects
    from hvscan.sources.gitstream import StreamStats
    from hvscan.sources.history import HistoryOptions, ProgressFactory
    from hvscan.verify.step import RunAnswers


class Repositories(NamedTuple):
    """The repositories a ``hvscan git`` run was given, and how to audit them."""

    given: tuple[str, ...] = ()
    repos_file: Path | None = None
    clone_dir: Path | None = None
    jobs: int | None = None
    shard: str | None = None

    def many(self) -> bool:
        """Whether this is a many-repository audit: more than one repository, a list, a shard
        or a URL. One local path is the one-repository audit, its report as it always was."""
        from hvscan.repos import parse

        return (len(self.given) > 1 or self.repos_file is not None or self.shard is not None
                or any(not parse(given).local for given in self.given))


class Task(NamedTuple):
    """One repository's audit, as a worker process receives it (everything picklable);
    ``live``: send its progress to the command's display; ``state``: the state file of an
    incremental audit."""

    repo: Repo
    clone_dir: Path
    history: HistoryOptions
    settings: ScanSettings
    verify: VerifyOptions
    report: ReportOptions
    live: bool = False
    state: Path | None = None


class Audited(NamedTuple):
    """What a worker sends back: the repository's JSON report in the many-repository shape."""

    repository: str
    report: dict[str, Any]
    error: str | None
    seconds: float


def run(repositories: Repositories, history: HistoryOptions, progress: bool | None,
        options: ScanOptions, output: OutputOptions, verify: VerifyOptions,
        state: Path | None = None) -> NoReturn:
    from hvscan import gitenv, repos
    from hvscan.report import merge
    from hvscan.report.jsonl_format import lines, record_line
    from hvscan.rules import load_rules
    from hvscan.runner import deliver, report_options
    from hvscan.streams import write_stdout

    gitenv.forget_callers_repository()  # every repository is named: none is the caller's
    try:
        names = list(repositories.given)
        if repositories.repos_file is not None:
            names += repos.read_list(repositories.repos_file)
        if not names:  # a list emptied by mistake must not pass as a clean audit
            raise HvscanError(f"--repos-file {repositories.repos_file}: no repository listed")
        shard = repos.parse_shard(repositories.shard) if repositories.shard else None
        selected = repos.select(names, shard)
    except repos.RepoError as exc:
        raise HvscanError(str(exc)) from None
    # The options' and rule files' errors once, here, rather than once per repository.
    verify.step()
    settings = options.settings(trust_inline=not history.is_range)
    load_rules(settings.rule_files, verify=not settings.rules_from_configuration)
    clone_dir = repositories.clone_dir or repos.default_clone_dir()
    if state is not None:
        _open_state(state, history)
    # A report's own options: nothing in the per-repository dicts is coloured.
    shown = report_options(output)._replace(color=False)
    display = sys.stderr.isatty() if progress is None else progress
    jobs = max(1, min(repositories.jobs or _cores(), len(selected)))
    # Each audit's share of the cores for its git processes: two audits on two cores that
    # each started two would inflate the same delta bases twice over, for no gain.
    history = dataclasses.replace(history, producers=max(1, _cores() // jobs))
    tasks = [Task(repo, clone_dir, history, settings, verify, shown, display,
                  state=state) for repo in selected]
    streaming = output.output_format == "jsonl" and output.output is None
    tracker = Tracker(len(tasks), display)
    reports = []
    # Closed here on an early end, not whenever it is collected: closing stops the workers.
    try:
        with contextlib.closing(audit_all(tasks, jobs, tracker)) as audits:
            for audited in audits:
                reports.append(audited.report)
                tracker.finished(audited)
                if streaming:
                    write_stdout("".join(record_line({"type": "finding", **finding})
                                         for finding in audited.report["findings"]))
    finally:
        tracker.close()
    merged = merge.merge(reports, "git")
    text = (lines(merged, findings=False) if streaming
            else merge.render(merged, output.output_format, report_options(output)))
    deliver(merge.without_findings(merged), text, output, merge.counts(merged))


def _open_state(state: Path, history: HistoryOptions) -> None:
    """Refuse a partial audit with a state file, and a state file that is not hvscan's, once
    before any repository is audited (one line, exit 2, the file left alone), as a
    one-repository audit does; make a new file here, so that the workers, each opening it for
    its own repositories, find it made."""
    from hvscan.commands.git import refuse_partial_with_state
    from hvscan.state import StateError, Store

    refuse_partial_with_state(history, staged_only=False)
    try:
        Store(state).close()
    except StateError as exc:
        raise HvscanError(str(exc)) from None


def _cores() -> int:
    """The cores this process may run on (a container's share, not the machine's)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def audit_all(tasks: list[Task], jobs: int, tracker: Tracker
              ) -> Generator[Audited, None, None]:
    """Each task's result as it finishes: in this process for one job, else in ``jobs`` worker
    processes (the audit is CPU-bound Python). Progress the tasks send reaches ``tracker``."""
    # Imported here: every ``hvscan git`` imports this module, few run several repositories.
    import multiprocessing
    import queue
    from concurrent.futures import ProcessPoolExecutor, as_completed

    from hvscan.verify.step import RunAnswers

    verifying = any(task.verify.verify for task in tasks)
    # Objects shared between the audits of verified mirrors: worth it from two on.
    sharing = sum(not task.repo.local for task in tasks) > 1
    if jobs == 1 or len(tasks) <= 1:
        channel: Any = queue.SimpleQueue()
        with _draining(channel, tracker):
            _listen(channel, RunAnswers({}, contextlib.nullcontext()) if verifying else None,
                    sharing)
            try:
                yield from map(audit, tasks)
            finally:
                _listen(None)  # nothing of this run outlives it in this process
        return
    channel = multiprocessing.SimpleQueue()
    # Exited in reverse: the children are stopped before the pool would wait for their audits.
    with _draining(channel, tracker), _shared_answers(verifying) as answers, \
            ProcessPoolExecutor(max_workers=min(jobs, len(tasks)), initializer=_work,
                                initargs=(channel, answers, sharing)) as pool, \
            _stopping_children():
        futures: list[Future[Audited]] = [pool.submit(_audit_in_worker, task)
                                          for task in tasks]
        try:
            for future in as_completed(futures):
                yield future.result()
        finally:
            for future in futures:
                future.cancel()


@contextlib.contextmanager
def _shared_answers(verifying: bool) -> Iterator[RunAnswers | None]:
    """The verification answers the worker processes share, in a manager process started only
    for a run that verifies: each key is sent to the API once per run, by the first worker to
    find it."""
    if not verifying:
        yield None
        return

    from multiprocessing.managers import SyncManager

    from hvscan.verify.step import RunAnswers

    manager = SyncManager()
    manager.start(_left_to_the_command)
    with manager:
        yield RunAnswers(manager.dict(), manager.Lock())


@contextlib.contextmanager
def _stopping_children() -> Iterator[None]:
    """End the run's worker processes and manager at once when the run ends early
    (interrupted, terminated, failed): their audits and requests are not waited for, and none
    outlives the command."""
    import multiprocessing

    try:
        yield
    except BaseException:
        children = multiprocessing.active_children()
        for child in children:
            child.terminate()
        for child in children:
            # One caught before it set SIGTERM's default (it inherited the command's handler)
            # may not end of it.
            child.join(_GRACE)
            if child.is_alive():
                child.kill()
                child.join()
        raise


# Seconds a worker or the manager has to end once terminated.
_GRACE = 5.0


def _left_to_the_command() -> None:
    """In a worker or the manager: Ctrl-C, which a terminal sends to the whole process group,
    is left to the command, which stops them all; SIGTERM ends the process at once, as by
    default (the command's handler, inherited through fork, would raise in the manager's
    server, or between a worker's audits). A worker then sets its own (``_work``)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _work(channel: Any, answers: RunAnswers | None, sharing: bool) -> None:
    """A worker process's start."""
    _left_to_the_command()
    signal.signal(signal.SIGTERM, _terminated_in_worker)
    _listen(channel, answers, sharing)


# Whether this worker process is auditing: SIGTERM then unwinds the audit before it ends it.
_auditing = False


def _audit_in_worker(task: Task) -> Audited:
    """``audit`` in a worker process. SIGTERM during it (the command stopping its workers) is
    raised as ``Terminated``: every ``finally`` on the way out runs (``repos.mirror`` ends its
    git's process group and removes its half clone; the history sources kill their git
    readers), and then the worker dies of the signal. Left to the pool, the exception would
    be sent back as the task's result, and the worker would take the next task."""
    global _auditing
    try:
        _auditing = True
        audited = audit(task)
        _auditing = False
    except Terminated:
        _die_of(signal.SIGTERM)
    except BaseException:  # a failure, sent back as the task's result: idle again
        _auditing = False
        raise
    return audited


def _terminated_in_worker(signum: int, frame: object) -> None:
    """A worker's SIGTERM handler: raise ``Terminated`` in an audit, else end the process of
    the signal at once (the pool's own code, waiting for a task, is not to be unwound)."""
    if _auditing:
        # Once: the pool, seeing another worker end, terminates this one again, and a second
        # Terminated would break off the unwinding (a clone's process group left to be
        # killed, its directory to be removed). ``_die_of`` ends the process after it.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise Terminated
    _die_of(signum)


def _die_of(signum: int) -> NoReturn:
    """End this process of the signal ``signum``, its default action, as a process that had
    no handler for it would end."""
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)  # delivered before the call returns: it is not blocked
    os._exit(128 + signum)  # as the shell reports such an end, were it ever to return


# Where this process sends its audits' progress, the run's verification answers its audits
# share, and the objects its audits of mirrors screened clean (``hvscan/shared.py``: one set
# per worker process, made afresh for each run; set by ``audit_all`` for its workers).
_channel: Any = None
_answers: RunAnswers | None = None
_shared: SharedObjects | None = None


def _listen(channel: Any, answers: RunAnswers | None = None, sharing: bool = False) -> None:
    global _channel, _answers, _shared
    from hvscan.shared import SharedObjects

    _channel, _answers = channel, answers
    _shared = SharedObjects() if sharing else None


@contextlib.contextmanager
def _draining(channel: Any, tracker: Tracker) -> Iterator[None]:
    """Hand what arrives on ``channel`` to ``tracker``, on a thread, until the block ends."""

    def drain() -> None:
        while (item := channel.get()) is not None:
            tracker.reading(*item)

    thread = threading.Thread(target=drain, daemon=True)
    thread.start()
    # Not on an early end: a worker stopped while sending may hold the queue's lock, and
    # the thread, a daemon, ends with the process.
    yield
    channel.put(None)
    thread.join()


def _sender(repository: str) -> ProgressFactory:
    """What the history audit of ``repository`` calls with its read statistics: sends them to
    the command, five times a second at most."""

    def factory(total: int) -> Callable[[StreamStats], None]:
        sent = 0.0

        def on_chunk(stats: StreamStats) -> None:
            nonlocal sent
            now = time.monotonic()
            if now - sent >= _SEND_INTERVAL:
                sent = now
                _channel.put((repository, stats.objects, stats.read_bytes))

        return on_chunk

    return factory


_SEND_INTERVAL = 0.2


def audit(task: Task) -> Audited:
    """Audit one repository (its mirror, for a remote): its JSON report, or an empty one with
    the error that kept it from being audited."""
    from hvscan.commands.git import audit_history
    from hvscan.report.json_format import report_dict
    from hvscan.report.merge import for_repository
    from hvscan.repos import RepoError, mirror
    from hvscan.runner import scan_and_verify
    from hvscan.scan import ScanResult
    from hvscan.shown import escape, reported

    started = time.monotonic()
    repo = task.repo
    error = None
    try:
        path = Path(repo.shown) if repo.local else mirror(repo, task.clone_dir)
        report_progress = _sender(repo.shown) if task.live and _channel is not None else None
        # Only a mirror hvscan fetched holds objects git hashed on arrival: a local path's
        # may not match their ids, and never skips or adds any (docs/security.md).
        shared = None if repo.local else _shared
        result = scan_and_verify(
            lambda pipeline: audit_history(pipeline, path, task.history, show_progress=False,
                                           report=report_progress, state=task.state,
                                           shared=shared),
            task.settings, task.verify.step(_answers), "git")
    except (HvscanError, RepoError) as exc:
        # The error's entry names the repository already.
        error, result = escape(str(exc).removeprefix(f"{repo.shown}: ")), ScanResult()
    except Exception as exc:
        # Anything else (a MemoryError on a hostile archive, a bug) is this repository's
        # error too, as ``runner.guarded`` words it: the others' results are still reported.
        if os.environ.get("HVSCAN_DEBUG"):
            raise
        error, result = internal_error(exc), ScanResult()
    report = report_dict(reported(result, task.report.show_secrets), task.report)
    return Audited(repo.shown, for_repository(report, repo.shown, error), error,
                   time.monotonic() - started)


class Tracker:
    """Progress across repositories on standard error: one progress line on a terminal, else
    a line per finished repository."""

    def __init__(self, total: int, display: bool) -> None:
        from hvscan.progress import Progress

        self.total = total
        self.done = self.objects = self.bytes = 0
        self.bar = Progress(total, "repositories") if display else None
        # What the repositories being audited have read so far (objects, bytes), and those
        # done (whose last word may arrive after their result).
        self.running: dict[str, tuple[int, int]] = {}
        self.ended: set[str] = set()
        self.lock = threading.Lock()  # the draining thread and the command both draw

    def reading(self, repository: str, objects: int, read_bytes: int) -> None:
        with self.lock:
            if repository not in self.ended:
                self.running[repository] = (objects, read_bytes)
                self._draw(now=False)

    def _draw(self, now: bool) -> None:
        if self.bar is not None:
            objects = self.objects + sum(done[0] for done in self.running.values())
            read_bytes = self.bytes + sum(done[1] for done in self.running.values())
            self.bar.update(self.done, read_bytes, f"{objects:,} objects", now=now)

    def finished(self, audited: Audited) -> None:
        from hvscan.units import counted, format_size

        stats = audited.report["stats"]
        with self.lock:
            self.done += 1
            self.objects += stats.get("files_scanned", 0)
            self.bytes += stats.get("bytes_scanned", 0)
            self.running.pop(audited.repository, None)
            self.ended.add(audited.repository)
            self._draw(now=True)
        if self.bar is not None:
            return
        # An audit may end with errors and findings both (its state file not updated).
        errors = stats.get("errors", 0)
        what = (f"error: {audited.error}" if audited.error else
                f"{counted(stats.get('findings', 0), 'finding')}, "
                + (f"{counted(errors, 'error')}, " if errors else "")
                + f"{counted(stats.get('files_scanned', 0), 'object')}, "
                f"{format_size(stats.get('bytes_scanned', 0))}")
        print(f"hvscan: [{self.done}/{self.total}] {audited.repository}: {what} "
              f"({audited.seconds:.1f} s)", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            with self.lock:
                self.bar.close()

