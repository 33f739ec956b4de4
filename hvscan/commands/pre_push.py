"""``hvscan pre-push``: scan what a push sends that the remote does not have yet, from git's
pre-push hook input or the pre-commit framework's variables."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, NoReturn

from hvscan.commands.common import in_repository, scan_git, standard_input
from hvscan.runner import HvscanError

if TYPE_CHECKING:
    from hvscan.runner import OutputOptions
    from hvscan.settings.options import ScanOptions, VerifyOptions


def run(remote: str | None, options: ScanOptions, output: OutputOptions,
        verify: VerifyOptions) -> NoReturn:
    from hvscan.sources import pushed

    push = pushed.from_pre_commit(os.environ)
    if push is None:
        hook_input = standard_input()
        if hook_input.isatty():
            raise HvscanError("hvscan pre-push reads the refs being pushed from standard input, "
                              "as git gives them to a pre-push hook")
        try:
            push = pushed.from_hook_input(hook_input.read(), remote)
        except pushed.PushInputError as exc:
            raise HvscanError(str(exc)) from None
    produce = in_repository(".", lambda pipeline: pipeline.run(
        pushed.read(".", push, pipeline.excluded)))
    scan_git(produce, options, output, verify, command="pre-push")
