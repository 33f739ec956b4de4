"""Making findings: a match placed in its origin (``hvscan.model.Finding``), with the secret
redacted, hashed and fingerprinted.

The fingerprint identifies "this key, found by this rule, in this file" and nothing more: no
line number (moving code keeps it), no absolute path and no commit (a baseline recorded on one
machine or from a directory scan applies on another or to history). A key in a file's name
is another finding than the same key in that file's content: its fingerprint says so.
"""

from __future__ import annotations

from hvscan.model import Finding, Match, Origin, member_path


def redact(secret: str, body: str) -> str:
    prefix = secret[: len(secret) - len(body)] if secret.endswith(body) else ""
    if len(body) < 12:
        return prefix + "*" * len(body)
    return f"{prefix}{body[:4]}...{body[-4:]}"


def secret_sha256(secret: str) -> str:
    # Imported here: a clean run never loads OpenSSL (a few ms of every start-up).
    import hashlib

    return hashlib.sha256(secret.encode("utf-8", "surrogateescape")).hexdigest()


def fingerprint(rule_id: str, path: str | None, key_hash: str, in_name: bool = False) -> str:
    import hashlib

    # A content finding's material is as it always was: its fingerprints stay valid.
    material = "\0".join((rule_id, path or "", key_hash, *(("name",) if in_name else ())))
    return hashlib.sha256(material.encode("utf-8", "surrogateescape")).hexdigest()[:32]


def make_finding(match: Match, origin: Origin) -> Finding:
    key_hash = secret_sha256(match.secret)
    path = member_path(origin.path, match.member)
    in_name = origin.in_name or match.in_name
    return Finding(
        rule_id=match.rule.id,
        description=match.rule.description,
        key_type=match.rule.key_type,
        severity=match.rule.severity,
        path=path,
        line=match.line,
        column=match.column,
        source=origin.source,
        encoding=match.encoding,
        secret_redacted=redact(match.secret, match.body),
        secret_sha256=key_hash,
        fingerprint=fingerprint(match.rule.id, path, key_hash, in_name),
        remediation=match.rule.remediation,
        secret=match.secret,
        commit=origin.commit,
        author=origin.author,
        date=origin.date,
        history=origin.history,
        suppression="inline" if match.allowed else None,
        in_name=in_name,
    )
