"""How hvscan starts git: the one place that builds git's command line and environment.

The scanned repository is hostile (docs/security.md), and so is its own configuration
(``.git/config`` and whatever it includes). Every git process hvscan starts gets the settings
below on its command line, where they win over every configuration file: no setting of the
repository can make git run a program (signature verification, fsmonitor, pagers, external diff
and textconv drivers, ssh, credential and askpass helpers, hooks), fetch a missing object (no
transport is allowed, so a partial clone's missing object is an error), or show anything but the
real objects (replace refs, grafts and the commit-graph cache ignored, output in UTF-8). Filters
are never applied: no command hvscan runs reads the work tree or asks cat-file for
``--filters`` or ``--textconv``.

Imports nothing but ``os`` (and ``subprocess`` to run git): the pre-commit hook's fast path
(hvscan/fastpath.py) runs git through it too.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import subprocess

# Below a file that is never a directory, nothing exists: a hooks directory with no hook, a
# graft file that is never there.
NOWHERE = os.path.join(os.devnull, "hvscan-nothing-here")

# Each one a ``-c`` option. An empty value unsets a program (git then runs none) and, for
# credential.helper, forgets every helper configured before it.
NEUTRAL_CONFIG: dict[str, str] = {
    "core.fsmonitor": "false",
    "core.hooksPath": NOWHERE,
    "core.pager": "cat",
    "core.askPass": "",
    "core.sshCommand": "",
    "credential.helper": "",
    "diff.external": "",
    "log.showSignature": "false",
    "gpg.program": "",
    "gpg.openpgp.program": "",
    "gpg.x509.program": "",
    "gpg.ssh.program": "",
    "gpg.ssh.defaultKeyCommand": "",
    "protocol.allow": "never",
    # The repository's own core.useReplaceRefs=true overrides GIT_NO_REPLACE_OBJECTS.
    "core.useReplaceRefs": "false",
    # The commit-graph file is a cache of every commit's parents that git trusts without
    # checking: a forged one hides commits. Parents are read from the commits themselves.
    "core.commitGraph": "false",
    # Another encoding would garble the log output that lists what a range adds.
    "i18n.logOutputEncoding": "UTF-8",
}

# Options these subcommands always get, right after their name: never show or verify
# signatures, never run a diff or textconv driver (the raw output hvscan reads needs neither).
SUBCOMMAND_OPTIONS: dict[str, tuple[str, ...]] = {
    "log": ("--no-show-signature", "--no-ext-diff", "--no-textconv"),
    "diff": ("--no-ext-diff", "--no-textconv"),
}


def command(repo: str, *args: str, repository_settings: tuple[str, ...] = ()) -> list[str]:
    """``git -C repo args...`` with the repository's executable configuration neutralised.
    ``repository_settings`` names settings of NEUTRAL_CONFIG to take from the repository after
    all (only where git merely reports them, such as the hooks directory's path)."""
    options = [part for name, value in NEUTRAL_CONFIG.items() if name not in repository_settings
               for part in ("-c", f"{name}={value}")]
    subcommand = next((index for index, arg in enumerate(args) if not arg.startswith("-")),
                      len(args))
    extra = SUBCOMMAND_OPTIONS.get(args[subcommand], ()) if subcommand < len(args) else ()
    return ["git", "--no-pager", "--no-replace-objects", *options, "-C", repo,
            *args[:subcommand + 1], *extra, *args[subcommand + 1:]]


def environment() -> dict[str, str]:
    """The environment of every git process: the caller's (a user's or CI job's own settings
    are trusted), with parseable output, no prompt, no transport at all (the list of allowed
    protocols is empty: the repository's protocol.<name>.allow cannot widen it, so no fetch,
    hence no ssh or helper, ever starts), no replace refs and no grafts."""
    return {**os.environ, "LC_ALL": "C", "GIT_PAGER": "cat", "GIT_TERMINAL_PROMPT": "0",
            "GIT_ASKPASS": "", "GIT_ALLOW_PROTOCOL": "", "GIT_NO_REPLACE_OBJECTS": "1",
            "GIT_GRAFT_FILE": NOWHERE}


# What a clone or fetch of a repository the user named (``hvscan/repos.py``) sets on top of the
# user's own git configuration, which it uses (credential helpers, ssh settings, proxies): no
# hook runs, no fsmonitor, no submodule is fetched, and only the transport of the URL given.
TRANSPORT_CONFIG: dict[str, str] = {
    "core.hooksPath": NOWHERE,
    "core.fsmonitor": "false",
    "protocol.allow": "never",
    "fetch.recurseSubmodules": "false",
    "submodule.recurse": "false",
}


def transport_command(protocol: str, *args: str) -> list[str]:
    """``git args...`` for a clone or fetch over ``protocol`` (file, https, ssh...), the only
    transport allowed: the one place hvscan lets git reach another repository. The user's git
    configuration applies (credentials come from it, never from hvscan); the repository that
    receives the objects is a mirror hvscan made, whose configuration git wrote."""
    options = [part for name, value in {**TRANSPORT_CONFIG,
                                        f"protocol.{protocol}.allow": "always"}.items()
               for part in ("-c", f"{name}={value}")]
    return ["git", "--no-pager", *options, *args]


# git's variables that choose the repository, work tree, index or object store a command works
# on (``git rev-parse --local-env-vars``). Inside a hook or an alias run in the caller's own
# repository they are set, and they win over ``-C``: a fetch --prune into a mirror would prune
# the caller's branches, and an audit of a named repository would read the caller's.
REPOSITORY_VARIABLES = ("GIT_DIR", "GIT_WORK_TREE", "GIT_IMPLICIT_WORK_TREE", "GIT_INDEX_FILE",
                        "GIT_OBJECT_DIRECTORY", "GIT_ALTERNATE_OBJECT_DIRECTORIES",
                        "GIT_COMMON_DIR", "GIT_NAMESPACE", "GIT_PREFIX",
                        "GIT_INTERNAL_SUPER_PREFIX", "GIT_SHALLOW_FILE")


def forget_callers_repository() -> None:
    """Drop ``REPOSITORY_VARIABLES`` from this process's environment (and so its children's),
    for a run whose every repository is named explicitly (several, or a remote's mirror)."""
    for name in REPOSITORY_VARIABLES:
        os.environ.pop(name, None)


def forget_callers_repository_unless(repo: str) -> None:
    """For a command given one repository by name (its REPO argument): drop
    ``REPOSITORY_VARIABLES`` as ``forget_callers_repository`` does, unless ``repo`` is the very
    repository they designate, whose variables are what git handed its hook (the temporary
    index of ``git commit -a``, a push's quarantined objects). A command given no REPO works
    on the caller's repository, variables and all."""
    given = {name: os.environ[name] for name in REPOSITORY_VARIABLES if name in os.environ}
    if not given:
        return
    callers = _git_dir(".")
    forget_callers_repository()
    if callers is not None and callers == _git_dir(repo):
        os.environ.update(given)


def _git_dir(repo: str) -> str | None:
    """The real path of the git directory of the repository at (or above) ``repo``, as this
    process's environment designates it; None when there is none that git will read."""
    try:
        done = run_git(repo, "rev-parse", "--absolute-git-dir")
    except OSError:
        return None
    if done.returncode != 0:
        return None
    return os.path.realpath(os.fsdecode(done.stdout.rstrip(b"\n")))


def transport_environment(protocol: str) -> dict[str, str]:
    """The environment of a clone or fetch: the caller's without ``REPOSITORY_VARIABLES`` (the
    receiving repository is the mirror named on the command line), with no prompt (a run must
    never wait for a password; credential helpers still answer) and ``protocol`` the only one
    allowed."""
    caller = {name: value for name, value in os.environ.items()
              if name not in REPOSITORY_VARIABLES}
    return {**caller, "LC_ALL": "C", "GIT_TERMINAL_PROMPT": "0", "GIT_ALLOW_PROTOCOL": protocol}


def run_git(repo: str, *args: str, input: bytes | None = None,
        repository_settings: tuple[str, ...] = ()) -> subprocess.CompletedProcess[bytes]:
    """Run ``git -C repo args...`` as ``command`` builds it, in ``environment()``, never through
    a shell, and wait for it; its output is captured. OSError when git cannot be started."""
    import subprocess

    return subprocess.run(command(repo, *args, repository_settings=repository_settings),
                          input=input, capture_output=True, check=False, env=environment())
