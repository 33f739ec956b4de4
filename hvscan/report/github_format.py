"""The GitHub Actions report: workflow commands that the runner turns into annotations.

Each finding becomes ``::error`` (critical, high), ``::warning`` (medium) or ``::notice`` (low,
info) with its file, line and column, so it shows on the pull request's diff. Files that could
not be scanned are ``::error`` annotations and skipped files ``::notice`` ones (so are suppressed
findings, with --show-suppressed, and the engine's notes, on the file holding the archive member
or encoded text they are about). In an audit of history (``hvscan git``), the distinct keys are
one last ``::notice`` on the run ("hvscan: N distinct keys to revoke"), a line per key with
what to do about it (a pull request's annotations are on its files already). Everything that
comes from scanned content is escaped as the runner's toolkit does (``%`` as ``%25``, line
breaks as ``%0D``/``%0A``, and in properties ``:`` and ``,`` as ``%3A``/``%2C``): a file name
cannot end a command early or start a new one.
"""

from __future__ import annotations

from hvscan.model import Finding, Note
from hvscan.report import ReportOptions, finding_details, shown_secret
from hvscan.scan import ScanResult
from hvscan.units import counted

_COMMANDS = {"critical": "error", "high": "error", "medium": "warning"}
_DETAILS = {"repository": "Repository {}.", "commit": "Commit {}.", "encoding": "Encoded as {}.",
            "verification": "Verification: {}.", "fix": "Fix: {}", "fingerprint": "Fingerprint: {}"}


def render(result: ScanResult, options: ReportOptions) -> str:
    lines = [_finding_line(f, options) for f in result.findings]
    if options.show_suppressed:
        lines += [_finding_line(f, options) for f in result.suppressed]
    lines += [
        _command("error", e.message, file=e.path, title="hvscan could not scan this file")
        for e in result.errors
    ]
    lines += [
        _command("notice", s.reason, file=s.path, title="hvscan skipped this file")
        for s in result.skipped
    ]
    lines += [_note_line(note) for note in result.notes]
    if result.keys and result.findings and result.scan and result.scan.command == "git":
        lines.append(_keys_line(result, options))
    return "".join(line + "\n" for line in lines)


def _keys_line(result: ScanResult, options: ReportOptions) -> str:
    keys = result.keys
    lines = [f"{entry.secret if options.show_secrets else entry.secret_redacted} "
             f"[{entry.severity}] {entry.rule_id}: {entry.remediation}" for entry in keys]
    return _command("notice", "\n".join(lines),
                    title=f"hvscan: {counted(len(keys), 'distinct key')} to revoke")


def _note_line(note: Note) -> str:
    title = "hvscan could not look into all of this file"
    if note.path is None:
        return _command("notice", note.message, title=title)
    # An annotation can only point at a real file: the archive, for a note about its member.
    outer, _, member = note.path.partition("!")
    message = f"{member}: {note.message}" if member else note.message
    return _command("notice", message, file=outer, title=title)


def _finding_line(finding: Finding, options: ReportOptions) -> str:
    secret = shown_secret(finding, options)
    message = [f"{finding.description}: {secret} (severity {finding.severity})"]
    if finding.suppression:
        message.append(f"Suppressed ({finding.suppression}): reported, not counted.")
    if finding.path is None:
        message.append(f"Found in a {finding.source.replace('-', ' ')}, line {finding.line}.")
    elif finding.in_name:
        message.append(f"Found in the name {finding.path}, column {finding.column}: rename it.")
    message += [_DETAILS[name].format(text) for name, text in finding_details(finding).items()]
    # A key in a name is on the file as a whole: it has no line there.
    location: dict[str, str | int] = (
        {} if finding.path is None else {"file": finding.path} if finding.in_name
        else {"file": finding.path, "line": finding.line, "col": finding.column}
    )
    return _command(
        "notice" if finding.suppression else _COMMANDS.get(finding.severity, "notice"),
        "\n".join(message),
        **location,
        title=f"hvscan: {finding.rule_id}",
    )


def _command(name: str, message: str, **properties: str | int) -> str:
    props = ",".join(f"{key}={_escape_property(str(value))}" for key, value in properties.items())
    return f"::{name} {props}::{_escape_data(message)}"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")
