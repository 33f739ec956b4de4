"""The repositories of a many-repository audit (``hvscan git REPO... --repos-file FILE``): what
each argument names, how it is shown, which shard it falls in, and the local mirror of a remote.

An argument is a local path, or a clone URL: ``https://``, ``http://``, ``ssh://``, ``git://``,
``file://``, scp-like ``user@host:path`` (ssh), or ``owner/name`` (on ``DEFAULT_HOST``; an
existing local path of that name wins). A URL is shown everywhere without its user
information (``https://user:token@host/x`` is ``https://host/x``), and cloned with ``git clone
--mirror`` into the clone directory (a stable name per normalised URL), fetched again
(``--prune``) on later runs: every ref of the remote, pull-request heads included, is audited.
That clone is the one transport hvscan starts (``gitenv.transport_command``), with the user's
git configuration and credential helpers; the scans themselves allow none. It runs in a session
of its own, ended with its remote helpers however the call ends (a run stopped by SIGTERM or
Ctrl-C leaves no git behind, and ``mirror`` no half clone).

``--shard I/N`` keeps the repositories whose normalised name's SHA-256, read as a number, is
``I - 1`` modulo ``N`` (I is 1-based): stable across runs, machines and list orders.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlsplit

from hvscan import gitenv

DEFAULT_HOST = "github.com"
SCHEMES = ("https", "http", "ssh", "git", "file")
# user@host:path, git's scp-like syntax for ssh (a user is required: "host:path" could be a
# local file name with a colon).
_SCP = re.compile(r"^(?P<user>[^@/:\s]+)@(?P<host>[^@/:\s]+):(?P<path>[^/].*|/.+)$")
_SHORTHAND = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*/[A-Za-z0-9._-]+$")


class RepoError(Exception):
    """A repository list or a shard that cannot be read, or a clone that failed: one line."""


class Repo(NamedTuple):
    """One repository to audit. ``shown`` is how reports name it (as given, user information
    removed), ``key`` its normalised name (shard and clone directory), ``url`` what git clones
    (None for a local path) and ``protocol`` the transport that clone may use."""

    shown: str
    key: str
    url: str | None = None
    protocol: str | None = None

    @property
    def local(self) -> bool:
        return self.url is None


def parse(given: str) -> Repo:
    """What the argument ``given`` names."""
    scp = _SCP.match(given)
    scheme = given.split("://", 1)[0].lower() if "://" in given else None
    if scheme is not None:
        if scheme not in SCHEMES:
            raise RepoError(f"{redact(given)}: unsupported URL scheme {scheme!r} "
                            f"(use one of {', '.join(SCHEMES)})")
        parts = urlsplit(given)
        host = (parts.hostname or "").lower()
        port = f":{parts.port}" if parts.port else ""
        return Repo(redact(given), _normal(scheme if scheme != "http" else "https", host + port,
                                           parts.path), given, scheme)
    if scp:
        return Repo(redact(given), _normal("ssh", scp["host"].lower(), scp["path"]), given, "ssh")
    if not os.path.lexists(given) and _SHORTHAND.match(given):
        url = f"https://{DEFAULT_HOST}/{given}.git"
        return Repo(given, _normal("https", DEFAULT_HOST, given), url, "https")
    return Repo(given, os.path.abspath(given))


def _normal(scheme: str, host: str, path: str) -> str:
    """One name per repository, whatever the spelling: no user, lower-case host, no trailing
    ``/`` or ``.git``, ``file://`` paths absolute."""
    path = "/" + path.strip("/")
    path = path.removesuffix(".git").rstrip("/")
    return f"{scheme}://{host}{path}"


def redact(text: str) -> str:
    """``text`` (a URL) without user information: credentials are never shown or logged."""
    if "://" not in text:
        return text
    scheme, rest = text.split("://", 1)
    authority, slash, path = rest.partition("/")
    return f"{scheme}://{authority.rpartition('@')[2]}{slash}{path}"


def read_list(path: Path) -> list[str]:
    """The repositories listed in ``path``: one a line, ``#`` starts a comment, blank lines
    ignored."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise RepoError(f"--repos-file {path}: {reason}") from None
    lines = (line.split("#", 1)[0].strip() for line in text.splitlines())
    return [line for line in lines if line]


def parse_shard(text: str) -> tuple[int, int]:
    """``I/N`` (1 <= I <= N) as (I, N)."""
    index, slash, total = text.partition("/")
    if not (slash and index.isdigit() and total.isdigit()) or not 1 <= int(index) <= int(total):
        raise RepoError(f"--shard {text!r}: expected I/N with 1 <= I <= N (I is 1-based)")
    return int(index), int(total)


def in_shard(repo: Repo, shard: tuple[int, int]) -> bool:
    index, total = shard
    digest = hashlib.sha256(repo.key.encode("utf-8", "surrogateescape")).digest()
    return int.from_bytes(digest, "big") % total == index - 1


def select(given: list[str], shard: tuple[int, int] | None) -> list[Repo]:
    """The repositories named in ``given`` (each once, in order), those of ``shard`` only."""
    repos: dict[str, Repo] = {}
    for text in given:
        repo = parse(text)
        repos.setdefault(repo.key, repo)
    return [repo for repo in repos.values() if shard is None or in_shard(repo, shard)]


def default_clone_dir() -> Path:
    """Where mirrors are kept unless --clone-dir says: the user's cache directory."""
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "hvscan" / "repos"


def mirror_path(repo: Repo, clone_dir: Path) -> Path:
    """The mirror of ``repo`` in ``clone_dir``: a readable name and a hash of its key."""
    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", repo.key.split("://", 1)[-1]).strip("._")[-80:]
    digest = hashlib.sha256(repo.key.encode("utf-8", "surrogateescape")).hexdigest()[:16]
    return clone_dir / f"{readable}-{digest}.git"


def mirror(repo: Repo, clone_dir: Path) -> Path:
    """The up-to-date local mirror of the remote ``repo``: cloned the first time, fetched
    (``--prune``) after. RepoError, naming the repository as shown, when git fails."""
    assert repo.url is not None and repo.protocol is not None
    target = mirror_path(repo, clone_dir)
    if target.is_dir():
        _transport(repo, "-C", str(target), "fetch", "--prune", "--quiet", "--no-write-fetch-head",
                   repo.url, "+refs/*:refs/*")
        return target
    try:
        clone_dir.mkdir(parents=True, exist_ok=True)
        # Cloned aside and renamed: a run that stops half-way, or one running at the same time,
        # never leaves a half mirror under the final name.
        work = tempfile.mkdtemp(prefix=".clone-", dir=clone_dir)
    except OSError as exc:
        raise RepoError(f"--clone-dir {clone_dir}: {exc.strerror}") from None
    try:
        _transport(repo, "clone", "--mirror", "--quiet", "--no-local", repo.url,
                   os.path.join(work, "mirror"))
        if repo.shown != repo.url:
            # git wrote the URL, credentials included, into the mirror's configuration: the
            # cache keeps none (every fetch names the URL it was given).
            _set_origin(os.path.join(work, "mirror"), repo.shown)
        try:
            os.rename(os.path.join(work, "mirror"), target)
        except OSError:
            if not target.is_dir():  # else: another run made it meanwhile, which will do
                raise RepoError(f"{repo.shown}: cannot create {target}") from None
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target


def _set_origin(mirror: str, url: str) -> None:
    from hvscan.sources.gitcmd import GitError, git

    try:
        git(mirror, "config", "remote.origin.url", url)
    except GitError as exc:
        raise RepoError(f"{url}: {exc}") from None


def _transport(repo: Repo, *args: str) -> None:
    """Run the clone or fetch ``args`` of ``repo``; RepoError with git's last line when it
    fails. Whatever ends the call (SIGTERM raised as ``runner.Terminated``, Ctrl-C), git and
    the remote helpers it started end with it."""
    assert repo.protocol is not None
    try:
        # Its own session: its process group holds git and its remote helpers (git-remote-http,
        # ssh), which killing git alone would leave running, and no terminal to prompt on.
        process = subprocess.Popen(gitenv.transport_command(repo.protocol, *args),
                                   env=gitenv.transport_environment(repo.protocol),
                                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, start_new_session=True)
    except FileNotFoundError:
        raise RepoError("git is not installed or not on PATH") from None
    try:
        _, stderr = process.communicate()
    finally:
        _end_group(process)
    if process.returncode != 0:
        lines = [line for line in stderr.decode("utf-8", "replace").splitlines()
                 if line.strip()]
        detail = redact_all(lines[-1]) if lines else f"exit {process.returncode}"
        action = "fetch" if "fetch" in args else "clone"
        raise RepoError(f"{repo.shown}: git {action} failed: {detail}")


# Seconds git has to end of SIGTERM before its process group is killed: less than a worker
# of a many-repository run has to end (``commands/many.py``).
_GIT_GRACE = 2.0


def _end_group(process: subprocess.Popen[bytes]) -> None:
    """End what is left of ``process``'s process group, git first. SIGTERM lets git remove its
    lock files and half-written packs (a ``.lock`` left in a mirror would fail its next fetch);
    SIGKILL then ends what is still running, remote helpers included."""
    import signal

    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(_GIT_GRACE)
    # Also after git ended by itself: none of its helpers outlives the call. (No process
    # left: no group. One not ours, were the id ever reused at once: not for us to end.)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    if process.stderr is not None:
        process.stderr.close()


def redact_all(text: str) -> str:
    """Every URL in ``text`` (git's message may quote one) without user information."""
    return re.sub(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"]+", lambda m: redact(m.group()), text)
