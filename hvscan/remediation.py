"""Remediation that fits the context: what to do about a finding, and about a key as a whole.

Every rule has a default text (``remediation`` in ``rules/*.toml``). Where a key was found
refines it (docs/report-format.md, "Remediation"):

- staged, never committed: take it out and use an environment variable; no history to purge;
- in commits being pushed (``hvscan pre-push``), not on the remote yet: rewrite the local
  commits first, with the exact ``git rebase -i <commit>^`` to run;
- in history a remote-tracking ref reaches (pushed): revoke first, then purge
  (``hvscan purge-plan``);
- verified invalid: already dead, purge at leisure;
- in a commit or tag message: text replacement in files does not reach it
  (``git filter-repo --replace-message``);
- in an object no ref reaches: expire the reflogs and prune;
- in a file's or directory's name: rename it first (then whatever its context says).

Plain functions of the findings, their key's ``Exposure`` and the ``ScanRecord``; nothing here
runs git or reads content.
"""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING, NamedTuple

from hvscan.model import moment

if TYPE_CHECKING:
    from hvscan.keys import Exposure, ScanRecord
    from hvscan.model import Finding
    from hvscan.scan import ScanResult

_PRUNE = "git reflog expire --expire-unreachable=now --all && git gc --prune=now"


def refine_findings(result: ScanResult) -> None:
    """Set each active finding's ``remediation`` to its rule's default refined by context (the
    default is read again from the engine's rules: refining twice changes nothing)."""
    for finding in result.findings:
        finding.remediation = for_finding(finding, result.exposure.get(finding.secret_sha256),
                                          result.scan, rule_default(result, finding))


def rule_default(result: ScanResult, finding: Finding) -> str:
    """The remediation text of ``finding``'s rule (its own text when the rule is unknown)."""
    rules = result.engine.rules if result.engine is not None else []
    return next((rule.remediation for rule in rules if rule.id == finding.rule_id),
                finding.remediation)


def for_finding(finding: Finding, exposure: Exposure | None, scan: ScanRecord | None,
                default: str) -> str:
    """What to do about ``finding``, ``default`` being its rule's text."""
    text = _in_context(finding, exposure, scan, default)
    if finding.in_name:
        return f"The key is in the name of {finding.path}, not in its content: rename it. {text}"
    return text


def _in_context(finding: Finding, exposure: Exposure | None, scan: ScanRecord | None,
                default: str) -> str:
    if finding.source == "staged":
        return _staged([finding.path])
    if scan is not None and scan.command == "pre-push":
        return _before_push(finding)
    status = finding.verification["status"] if finding.verification else None
    return _plan(_Context(
        status=status, pushed=exposure.pushed if exposure is not None else None,
        in_history=exposure is not None or finding.commit is not None, head_paths=(),
        unreachable=bool(finding.history and finding.history.unreachable),
        # A ref's name: ``for_finding`` says so first; the purge plan renames it.
        message=_message_place(finding), in_files=finding.source in ("history", "ref")),
        scan, default)


def for_key(findings: list[Finding], exposure: Exposure, scan: ScanRecord | None,
            default: str) -> str:
    """What to do about one key as a whole, given all its active ``findings`` (one at least),
    where it stands (``exposure``) and its rule's text (``default``)."""
    if all(f.source == "staged" for f in findings):
        return _staged([f.path for f in findings])
    if scan is not None and scan.command == "pre-push":
        return _before_push(min(findings, key=lambda f: (f.commit is None, moment(f.date))))
    statuses = {f.verification["status"] for f in findings if f.verification}
    messages = [place for place in map(_message_place, findings) if place]
    return _plan(_Context(
        status="invalid" if statuses == {"invalid"} else None, pushed=exposure.pushed,
        in_history=exposure.pushed is not None or any(f.commit for f in findings),
        head_paths=exposure.head_paths,
        unreachable=any(f.history and f.history.unreachable for f in findings),
        message=" and ".join(sorted(set(messages))),
        in_files=any(f.source == "history" for f in findings),
        refs=tuple(sorted({f.path for f in findings if f.source == "ref" and f.path}))),
        scan, default)


class _Context(NamedTuple):
    status: str | None  # verification's, when every finding has the same
    pushed: bool | None  # None: not a history audit
    in_history: bool  # in a commit (or a tag)
    head_paths: tuple[str, ...]  # HEAD's files holding it
    unreachable: bool  # in an object no ref reaches
    message: str  # "commit <id>", "tag <name>" when in a message; else ""
    in_files: bool  # in files of history (or the purge plan's renames)
    refs: tuple[str, ...] = ()  # the refs whose names hold it (a key's advice)


def _plan(context: _Context, scan: ScanRecord | None, default: str) -> str:
    """The urgency, the rule's text (unless the key is dead), then how to get it out."""
    dead = context.status == "invalid"
    parts = [_urgency(context), "" if dead else default]
    if context.head_paths:
        parts.append(f"Take it out of HEAD's {_files(context.head_paths)} first.")
    if context.refs:
        parts.append(f"It is in the name of {_refs(context.refs)}, which no content rewrite "
                     "reaches: the purge plan renames it, and a force-push of every ref "
                     "deletes the old name on the remote.")
    if context.message:
        parts.append(f"It is in the message of {context.message}, which --replace-text does "
                     f"not rewrite. {_purge(scan, dead, messages=True)}")
    elif context.in_files or context.refs:
        parts.append(_purge(scan, dead))
    elif dead and not context.in_history:
        parts.append("Remove it from the file at leisure.")
    if context.unreachable:
        parts.append(_unreachable())
    return " ".join(part for part in parts if part)


def _urgency(context: _Context) -> str:
    if context.status == "invalid":
        return "Already dead: the API rejects this key (verified invalid), so it needs no revoking."
    if context.pushed:
        return "Pushed (a remote-tracking ref reaches it): revoke it before anything else."
    if context.pushed is False:
        return ("No remote-tracking ref reaches it: if this repository was never pushed or "
                "shared, purging it before the first push is enough; otherwise revoke it first.")
    if context.in_history:
        return "Revoke it first: clones of this repository have it."
    return ""


def _message_place(finding: Finding) -> str:
    if finding.source == "tag-message" and finding.history is not None:
        return f"tag {finding.history.tag}"
    if finding.source == "commit-message":
        return f"commit {(finding.commit or '')[:12]}"
    return ""


def _staged(paths: list[str | None]) -> str:
    shown = sorted({path for path in paths if path})
    return (f"Staged, never committed: take the key out of {_files(shown)}, read it from an "
            "environment variable or a secret manager instead, and stage the change again; no "
            "commit holds it, so there is no history to purge (revoke it only if it was shared "
            "some other way).")


def _before_push(finding: Finding) -> str:
    commit = finding.commit or "<commit>"
    start = (f"Not on the remote yet: rewrite the local commits before pushing. Run "
             f"git rebase -i {commit}^ (git rebase -i --root if it is the first commit), ")
    if finding.source == "ref":  # a branch or tag named with the key: no commit to rewrite
        return ("Not on the remote yet: push the commits under a name without the key instead "
                "(git branch -m NEW for a branch; git tag NEW OLD, then git tag -d OLD for a "
                "tag).")
    if finding.source == "tag-message" and finding.history is not None:
        tag = finding.history.tag or "<tag>"
        return (f"Not on the remote yet: recreate tag {tag} without the key in its message "
                f"(git tag -f -a {shlex.quote(tag)} {commit}) before pushing it.")
    if finding.source == "commit-message":
        return (start + f"mark commit {commit[:12]} 'reword', take the key out of its message, "
                "finish the rebase and push again.")
    return (start + f"mark commit {commit[:12]} 'edit', take the key out of "
            f"{finding.path or 'the file'} (read it from an environment variable instead), "
            "git commit --amend -a, git rebase --continue, and push again.")


def _purge(scan: ScanRecord | None, dead: bool, *, messages: bool = False) -> str:
    repository = shlex.quote(scan.repository) if scan and scan.repository else "REPO"
    how = " (messages too: git filter-repo --replace-message)" if messages else ""
    when = ", at leisure" if dead else ""
    return (f"To purge it from history{when}: hvscan purge-plan {repository} --output DIR "
            f"writes the plan{how}.")


def _unreachable() -> str:
    return ("No ref reaches it (amended, rebased or dropped history), but the object stays in "
            f"the repository until the reflogs expire and git prunes it: {_PRUNE} (a remote "
            "that received it keeps it until it collects garbage).")


def _refs(refs: tuple[str, ...]) -> str:
    return f"ref {refs[0]}" if len(refs) == 1 else f"refs {', '.join(refs)}"


def _files(paths: tuple[str, ...] | list[str]) -> str:
    if not paths:
        return "the file"
    return paths[0] if len(paths) == 1 else f"files {', '.join(paths)}"
