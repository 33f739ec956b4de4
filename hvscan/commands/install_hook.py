"""``hvscan install-hook``: install a git hook that runs hvscan, for repositories without the
pre-commit framework."""

from __future__ import annotations

from pathlib import Path

from hvscan.runner import HvscanError


def run(given: Path | None, pre_push: bool, force: bool) -> None:
    """Install the hook in the repository ``given`` (REPO), else in the current one."""
    from hvscan import hooks
    from hvscan.commands.common import named_repository
    from hvscan.sources.gitcmd import GitError

    try:
        path, action = hooks.install(named_repository(given),
                                     hooks.PRE_PUSH if pre_push else hooks.PRE_COMMIT,
                                     force=force)
    except hooks.HookExistsError as exc:
        raise HvscanError(str(exc)) from None
    except GitError as exc:
        raise HvscanError(f"git: {exc}") from None
    except OSError as exc:
        raise HvscanError(f"cannot write the hook: {exc.strerror or exc}") from None
    print(f"hvscan: {action} {path}")
