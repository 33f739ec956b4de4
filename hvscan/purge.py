"""The purge plan (``hvscan purge-plan``): from a history audit's findings, the files that remove
every key from a repository's history with git filter-repo.

- ``KeyBlobs`` watches the audit before attribution and keeps, per key, every blob that holds
  it, and those that hold it encoded (base64, UTF-16, inside an archive...): text replacement
  cannot reach those, so the plan strips the blobs.
- ``make_plan`` gathers the keys (suppressed ones too, unless asked not to), where each was
  found, the blobs to strip and the messages and names that hold a key encoded (no git
  filter-repo option rewrites those: they are listed for a fix by hand). A key as it is in a
  file, directory or ref name is renamed by git filter-repo's ``--filename-callback`` and
  ``--refname-callback`` (``RENAME``), which read the keys from ``replacements.txt`` when the
  script runs. The refs that point at a blob or a
  tree holding a key, rather than at a commit, are found by the command (git filter-repo leaves
  them as they are: the plan deletes them). ``REFS_PROGRAM``, which purge.sh runs on the
  mirror's ref names with the same renaming, stops before a rename onto an existing ref,
  deletes the refs named with a key that reach no commit, points HEAD at its renamed branch
  and keeps keys out of git filter-repo's messages and records.
- ``check_output`` and ``write`` make the plan's directory: ``replacements.txt`` (the one file
  that holds the keys, mode 0600; git filter-repo reads it with ``--replace-text`` for files and
  ``--replace-message`` for commit and tag messages), ``blobs-to-strip.txt`` and
  ``refs-to-delete.txt`` when needed,
  ``purge.sh`` (the one script that carries it out on a mirror clone) and ``PLAN.md`` (every
  step, in order). Nothing but ``replacements.txt`` holds a key: the rest shows keys redacted
  and names from the scanned content as reports show them (``hvscan/shown.py``).
"""

from __future__ import annotations

import contextlib
import datetime
import os
import re
import stat
from collections import defaultdict
from typing import TYPE_CHECKING, NamedTuple

from hvscan import __version__
from hvscan.repos import redact
from hvscan.rules import severity_rank
from hvscan.shown import escape, shown

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from hvscan.model import Finding
    from hvscan.scan import ScanResult

REPLACEMENTS = "replacements.txt"
BLOBS = "blobs-to-strip.txt"
REFS = "refs-to-delete.txt"
SCRIPT = "purge.sh"
PLAN = "PLAN.md"
FILES = (REPLACEMENTS, BLOBS, REFS, SCRIPT, PLAN)
# What each key becomes: git filter-repo's own default text.
REMOVED = b"***REMOVED***"
# The directory holds the keys: only its owner may enter it.
DIRECTORY_MODE = 0o700


class PlanError(Exception):
    """The plan's directory cannot be used; one line."""


class Place(NamedTuple):
    """One place a key was found, as the plan shows it (names shown as reports show them)."""

    commit: str | None  # the commit, or the tag object of a tag message
    where: str  # a path, a ref, "commit message", "message of tag NAME", "blob ID"
    unreachable: bool
    encoding: str  # "plain", or the encodings that hid it ("base64", "zip>gzip"...)
    message: bool  # a commit or tag message, not a file
    name: str | None = None  # in a name, not content: "path" (a file or directory), "ref"


class PurgeKey(NamedTuple):
    secret: str  # written to replacements.txt, and nowhere else
    redacted: str
    sha256: str
    rule_id: str
    severity: str
    places: tuple[Place, ...]
    stripped: tuple[str, ...]  # blobs holding the key encoded: stripped whole
    by_hand: tuple[Place, ...]  # messages and names holding it encoded: no filter-repo option
    suppressed: tuple[str, ...]  # why, when every finding of the key was suppressed


class Plan(NamedTuple):
    repository: str
    origin: str | None  # the repository's origin URL, without credentials
    keys: tuple[PurgeKey, ...]
    blobs: dict[str, str]  # blob id -> what holds it, for blobs-to-strip.txt and PLAN.md
    # Refs pointing at a blob or tree holding a key, as git has them (undecodable bytes as
    # surrogates): deleted through refs-to-delete.txt.
    refs: tuple[str, ...]
    unscanned: tuple[str, ...]
    excluded: tuple[str, ...]
    # Refs pointing at a blob or a tree whose names hold a key (shown redacted): git
    # filter-repo cannot rename them and refs-to-delete.txt, which holds no key, cannot name
    # them; purge.sh deletes them, finding them by their names as it runs.
    refs_named: tuple[str, ...] = ()


class KeyBlobs:
    """The audit's ``scanned`` hook: per key, every blob holding it (``holding``) and those
    holding it encoded (``encoded``), attributed or not."""

    def __init__(self) -> None:
        self.holding: dict[str, set[str]] = defaultdict(set)
        self.encoded: dict[str, set[str]] = defaultdict(set)

    def __call__(self, result: ScanResult) -> None:
        for finding in result.findings:
            blob = finding.history.blob if finding.history else None
            # A key in a tree's names is no blob's: no blob stripping or text replacement reaches
            # it (one in an archive member's name is the archive's, encoded: stripped).
            if blob is not None and not (finding.history and finding.history.in_tree):
                self.holding[finding.secret].add(blob)
                if finding.encoding != "plain":
                    self.encoded[finding.secret].add(blob)


def purged_findings(result: ScanResult, skip_suppressed: bool) -> list[Finding]:
    """The findings whose keys the plan removes: suppressed ones too unless ``skip_suppressed``."""
    return result.findings + ([] if skip_suppressed else result.suppressed)


def objects_holding_keys(findings: list[Finding], blobs: KeyBlobs) -> set[str]:
    """The blobs, trees (in their entries' names) and tag objects that hold the keys of
    ``findings``: a ref pointing at one of them, or at a tree holding one, is not a commit that
    git filter-repo would rewrite."""
    objects = {blob for secret in {f.secret for f in findings}
               for blob in blobs.holding.get(secret, ())}
    trees = {f.history.blob for f in findings
             if f.in_name and f.history and f.history.in_tree and f.history.blob}
    return objects | trees | {f.history.tag_object for f in findings
                              if f.source == "tag-message" and f.history and f.history.tag_object}


def make_plan(result: ScanResult, blobs: KeyBlobs, findings: list[Finding], *,
              repository: str, origin: str | None, refs: list[str], loose: list[str],
              excluded: tuple[str, ...], unscanned: list[str]) -> Plan:
    """The plan for the keys of ``findings`` (``purged_findings`` of ``result``, a whole-history
    audit with every occurrence and unreachable objects), deleting ``refs`` and, of ``loose``
    (the refs pointing at a blob or a tree), those named with a key."""

    def text(value: str) -> str:
        return shown(value, result.engine)

    by_key: dict[str, list[Finding]] = defaultdict(list)
    for finding in findings:
        by_key[finding.secret].append(finding)
    labels: dict[str, set[str]] = defaultdict(set)
    for finding in findings:
        if finding.history and finding.history.blob and finding.path:
            labels[finding.history.blob].add(text(finding.path))
    keys = []
    for secret, found in by_key.items():
        places = tuple(dict.fromkeys(_place(f, text) for f in found))
        first = found[0]
        keys.append(PurgeKey(
            secret=secret, redacted=escape(first.secret_redacted),
            sha256=first.secret_sha256, rule_id=first.rule_id,
            severity=max((f.severity for f in found), key=severity_rank),
            places=places, stripped=tuple(sorted(blobs.encoded.get(secret, ()))),
            by_hand=tuple(p for p in places if (p.message or p.name) and p.encoding != "plain"),
            suppressed=tuple(sorted({f.suppression for f in found if f.suppression}))
            if all(f.suppression for f in found) else ()))
    keys.sort(key=lambda k: (-severity_rank(k.severity), k.redacted, k.sha256))
    stripped = {blob: ", ".join(sorted(labels[blob])) or "a version of a file holding the key"
                for key in keys for blob in key.stripped}
    named = [ref for ref in loose if text(ref) != escape(ref)]  # a key in the name: redacted
    return Plan(text(repository), origin and text(redact(origin)), tuple(keys),
                dict(sorted(stripped.items())), tuple(sorted(set(refs) - set(named))),
                tuple(text(line) for line in unscanned),
                tuple(escape(pattern) for pattern in excluded),
                tuple(text(ref) for ref in sorted(named)))


def _place(finding: Finding, show: Callable[[str], str]) -> Place:
    history = finding.history
    commit = finding.commit
    if finding.source == "commit-message":
        where = "commit message"
    elif finding.source == "tag-message":
        where = f"message of tag {show(history.tag or '?') if history else '?'}"
        commit = history.tag_object if history else None
    elif finding.path:
        where = show(finding.path)
    else:
        where = f"blob {history.blob if history else '?'}"
    # A name inside a blob (an archive member's) is that blob's content: stripped whole.
    in_blob = bool(history and history.blob and not history.in_tree)
    name = None if not finding.in_name or in_blob else "ref" if finding.source == "ref" else "path"
    return Place(commit, where, bool(history and history.unreachable), finding.encoding,
                 finding.source in ("commit-message", "tag-message"), name)


def renamed(plan: Plan, name: str) -> list[Place]:
    """The places of ``plan``'s keys in names of the kind ``name`` ("path", "ref") that the
    script renames: the keys as they are (an encoded one is left for a fix by hand), in the
    commits and refs git filter-repo rewrites. Not a name in a tree no commit holds (a tag of
    the tree is deleted; an unreachable one is not in a mirror), nor a ref left for a
    deletion by hand."""
    return [place for key in plan.keys for place in key.places
            if place.name == name and place.encoding == "plain" and place.commit is not None
            and place.where not in plan.refs_named]


def replacement_line(secret: str) -> bytes:
    """One line of git filter-repo's expressions file that replaces ``secret`` by REMOVED. A
    key is literal text unless it holds a line break, which a line cannot: then a regular
    expression of escaped bytes."""
    data = secret.encode("utf-8", "surrogateescape")
    if b"\n" in data or b"\r" in data:
        pattern = b"".join(bytes([c]) if chr(c).isalnum() and c < 0x80 else b"\\x%02x" % c
                           for c in data)
        return b"regex:" + pattern + b"==>" + REMOVED + b"\n"
    return b"literal:" + data + b"==>" + REMOVED + b"\n"


def replacements(plan: Plan) -> bytes:
    # Longest first: git filter-repo replaces literals in turn, and a key inside a longer one
    # (rules of other vendors) must not leave the longer one's remains behind.
    secrets = sorted({key.secret for key in plan.keys}, key=lambda s: (-len(s), s))
    return b"".join(replacement_line(secret) for secret in secrets)


_PLAIN_WORD = re.compile(r"[A-Za-z0-9@%+=:,./_-]+")


def sh_word(text: str) -> str:
    """``text`` as one word of a POSIX shell command line that is also safe to show: quoted,
    and with bash's ``$'...'`` escapes when it holds control characters or undecodable bytes."""
    if _PLAIN_WORD.fullmatch(text):
        return text
    if escape(text) == text:
        return "'" + text.replace("'", "'\\''") + "'"
    data = os.fsencode(text)
    return "$'" + "".join(chr(c) if 0x20 <= c < 0x7f and c not in b"'\\" else f"\\x{c:02x}"
                          for c in data) + "'"


# The script. Paths are found when it runs, never written into it: any characters in the names
# of its directory and of the mirror are only ever expanded inside double quotes.
_SCRIPT = r"""#!/usr/bin/env bash
# Written by hvscan purge-plan @VERSION@: removes the keys listed in PLAN.md (next to this script)
# from the whole history of a fresh mirror clone. Usage: purge.sh /path/to/mirror.git
# It never prints a key; replacements.txt, next to it, holds them.
set -euo pipefail
unset CDPATH

die() { printf 'purge.sh: %s\n' "$*" >&2; exit 2; }

[ "$#" -eq 1 ] || die "usage: purge.sh /path/to/mirror.git (made with git clone --mirror)"

# Absolute paths, whatever characters the names hold (even a trailing line break).
script=${BASH_SOURCE[0]}
case $script in */*) here=${script%/*} ;; *) here=. ;; esac
here=$(cd -- "${here:-/}" && pwd -P && printf x) || die "cannot enter this script's directory"
here=${here%$'\nx'}
mirror=$(cd -- "$1" && pwd -P && printf x) || die "the mirror given is not a directory"
mirror=${mirror%$'\nx'}

[ -f "$here/replacements.txt" ] || die "replacements.txt is missing next to purge.sh"
command -v git >/dev/null 2>&1 || die "git is not installed"
usage=$(git filter-repo -h 2>&1) || die "git filter-repo is not installed (it is a Python \
package, git-filter-repo, and a single script; 2.47 or later)"
case $usage in
    *--sensitive-data-removal*) ;;
    *) die "git filter-repo is too old: 2.47 or later is needed (--sensitive-data-removal)" ;;
esac
bare=$(git -C "$mirror" rev-parse --is-bare-repository 2>/dev/null) || bare=false
[ "$bare" = true ] || die "the mirror given is not a bare repository: make a fresh one with \
git clone --mirror"
kind=$(git -C "$mirror" config --get remote.origin.mirror 2>/dev/null) || kind=
[ "$kind" = true ] || die "the repository given is not a mirror clone (remote.origin.mirror): \
make a fresh one with git clone --mirror"

command -v python3 >/dev/null 2>&1 || die "python3 is not installed (git filter-repo needs it)"
export HVSCAN_REPLACEMENTS="$here/replacements.txt"
# The refs' names, before and after the rewrite (hvscan.purge.REFS_PROGRAM).
refs_program=$(cat <<'EOF_REFS'
@REFS_PROGRAM@EOF_REFS
)
said=$(python3 -c "$refs_program" before "$mirror") || die "$said"
[ -z "$said" ] || printf '%s\n' "$said"
@REFS@
@RENAME@echo "purge.sh: rewriting every ref of the mirror with git filter-repo"
# Its messages pass through the renaming: no name it quotes can carry a key into a log.
status=0
{ git -C "$mirror" filter-repo \
    --sensitive-data-removal \
    --replace-text "$here/replacements.txt" \
    --replace-message "$here/replacements.txt"@STRIP@@CALLBACKS@ \
    2>&1 >&3 3>&- | python3 -c "$refs_program" conceal "$mirror" >&2 3>&-; } 3>&1 || status=$?
case $status in
    0) ;;
    3) die "renaming the keys in file names makes two names of one commit one (colliding \
pathnames, above): rename one of them by hand in the repository first; no ref was rewritten" ;;
    *) die "git filter-repo failed (above): do not push this mirror; make a fresh one" ;;
esac
# Its records name the old refs, keys included: renamed as the refs were, they stay valid for
# a later git filter-repo run on this mirror (a fix by hand), which reads them.
for record in ref-map changed-refs; do
    record="$mirror/filter-repo/$record"
    [ -f "$record" ] || continue
    python3 -c "$refs_program" conceal "$mirror" <"$record" >"$record.new"
    mv -f -- "$record.new" "$record"
done
head=$(python3 -c "$refs_program" after "$mirror") || die "$head"
qhead=$(printf '%q' "$head")
[ -z "$head" ] || echo "purge.sh: HEAD named a branch whose name held a key: it names the \
renamed branch now, $qhead"

echo "purge.sh: expiring reflogs and pruning every object no ref reaches"
git -C "$mirror" reflog expire --expire=now --expire-unreachable=now --all
git -C "$mirror" gc --quiet --prune=now --aggressive

if command -v hvscan >/dev/null 2>&1; then
    echo "purge.sh: checking the result: hvscan git --include-unreachable"
    status=0
    hvscan git --include-unreachable --fail-on info --no-progress -- "$mirror" || status=$?
    if [ "$status" -ne 0 ]; then
        die "hvscan still finds keys (or could not scan) in the mirror: do not push; see PLAN.md"
    fi
else
    echo "purge.sh: hvscan is not on PATH: check the mirror yourself (PLAN.md, step 3)"
fi

q=$(printf '%q' "$mirror")
cat <<EOF

purge.sh: done. Not run (see PLAN.md for each step):
  1. Make sure no one pushes meanwhile, then push every rewritten ref:
${head:+"       git -C $q -c remote.origin.mirror=false push origin $qhead
     and make it the default branch in the host's settings first (the default branch's
     name held a key; the host refuses to delete its current branch), then
"}       git -C $q push --force --mirror origin
     Refs the host hides (GitHub's refs/pull/*) are rejected: that is expected, see step 2.
  2. Ask your git host to drop its cached views, pull-request refs and other copies of the
     old commits; git filter-repo printed the first changed commits above for them.
  3. Every collaborator deletes their clone and clones again (or rebases their own unpushed
     work onto the new history); no one may push from an old clone: it brings the keys back.
  4. Delete the mirror once pushed (git filter-repo's records in it map the old history; no
     one may push from it again) and the plan's directory, which holds every key in
     replacements.txt:
       rm -rf -- $q $(printf '%q' "$here")
EOF
"""


# Before the rewrite: git fast-export would skip them, with a warning naming them.
_DELETE_REFS = """echo "purge.sh: deleting the refs that point at a blob or tree holding a key \
(refs-to-delete.txt)"
LC_ALL=C sed 's/^/delete /' <"$here/refs-to-delete.txt" | git -C "$mirror" update-ref --stdin
"""


# What a name holding a key becomes: the key replaced by REMOVED- and the first 16 digits of its
# SHA-256 (PLAN.md's key table), which keeps two names that differed by their keys apart and
# is valid in a ref name (no '*'). The body of git filter-repo's --filename-callback and
# --refname-callback (NAME: the argument's name); it reads the keys from replacements.txt
# (HVSCAN_REPLACEMENTS) as the script runs, once: no key is written anywhere else.
RENAME = """import hashlib, os, re
global _hvscan_keys
try:
    keys = _hvscan_keys
except NameError:
    keys = _hvscan_keys = []
    with open(os.environ["HVSCAN_REPLACEMENTS"], "rb") as lines:
        for line in lines:
            kind, _, key = line.rstrip(b"\\n").rsplit(b"==>", 1)[0].partition(b":")
            keys.append(re.compile(re.escape(key) if kind == b"literal" else key))
for key in keys:
    NAME = key.sub(lambda found: b"REMOVED-"
                   + hashlib.sha256(found.group()).hexdigest()[:16].encode(), NAME)
return NAME
"""

# The program purge.sh runs on the mirror's ref names (python3, which git filter-repo needs
# anyway; arguments: what to do, the mirror), the renaming of RENAME as its function ``rename``.
# "before" the rewrite: stop, changing nothing, when a new name would be an existing ref's or
# another new one's (git filter-repo would move the one ref onto the other, silently losing its
# commits); delete the refs named with a key that reach no commit (git fast-export skips them,
# printing their names, and they would stay). "conceal": copy git filter-repo's messages, each
# key in them renamed; exit 3 when they say that renamed files collide. "after": point HEAD at
# its branch renamed (git filter-repo leaves HEAD as it is), print that branch; fail when a
# symbolic ref still names a key. A failure prints its one line on stdout and exits 1.
REFS_PROGRAM = """import subprocess, sys
def rename(name):
@BODY@
def git(*args, data=None):
    done = subprocess.run(["git", "-C", mirror, *args], input=data, capture_output=True)
    if done.returncode != 0:
        print("git " + args[0] + " failed in the mirror"); sys.exit(1)
    return done.stdout
def shown(name):
    return "".join(chr(c) if 0x20 <= c < 0x7f else "\\\\x%02x" % c for c in name)
what, mirror = sys.argv[1:]
if what == "conceal":
    collided = False
    for line in sys.stdin.buffer:
        collided = collided or b"colliding pathnames" in line
        sys.stdout.buffer.write(rename(line)); sys.stdout.buffer.flush()
    sys.exit(3 if collided else 0)
if what == "before":
    names = git("for-each-ref", "--format=%(refname)").splitlines()
    new, loose = {}, []
    for name in names:
        to = rename(name)
        if to == name:
            continue
        if git("cat-file", "-t", name + b"^{}").strip() not in (b"commit",):
            loose.append(name)
        elif to in new or to in names:
            print("renaming the keys in ref names would make two refs one, " + shown(to)
                  + ": rename or delete one of them in the repository first; nothing was "
                  "changed"); sys.exit(1)
        else:
            new[to] = name
    if loose:
        git("update-ref", "--stdin", data=b"".join(b"delete " + n + b"\\n" for n in loose))
        print("purge.sh: deleted %d ref(s) named with a key that reach no commit (git "
              "filter-repo cannot rename them)" % len(loose))
if what == "after":
    head = subprocess.run(["git", "-C", mirror, "symbolic-ref", "-q", "HEAD"],
                          capture_output=True).stdout.rstrip(b"\\n")
    if head and rename(head) != head:
        git("show-ref", "--verify", "--quiet", rename(head))
        git("symbolic-ref", "HEAD", rename(head))
        sys.stdout.buffer.write(rename(head))
    listing = git("for-each-ref", "--format=%(refname) %(symref)").splitlines()
    for name, _, target in (line.partition(b" ") for line in listing):
        if rename(target) != target:
            print("the symbolic ref " + shown(rename(name)) + " names a ref whose name holds a "
                  "key: delete it, or point it elsewhere (git symbolic-ref)"); sys.exit(1)
"""


def script(plan: Plan) -> str:
    strip = (' \\\n    --strip-blobs-with-ids "$here/blobs-to-strip.txt"' if plan.blobs else "")
    callbacks = rename = ""
    for name, argument in (("path", "filename"), ("ref", "refname")):
        if renamed(plan, name):
            rename += (f"{argument}s=$(cat <<'EOF_{argument.upper()}'\n"
                       f"{RENAME.replace('NAME', argument)}EOF_{argument.upper()}\n)\n")
            callbacks += f' \\\n    --{argument}-callback "${argument}s"'
    if rename:
        rename = ("# The callbacks that rename the names holding a key (hvscan.purge.RENAME).\n"
                  + rename)
    body = "".join(f"    {line}\n" for line in RENAME.replace("NAME", "name").splitlines())
    return (_SCRIPT.replace("@VERSION@", __version__).replace("@STRIP@", strip)
            .replace("@REFS_PROGRAM@", REFS_PROGRAM.replace("@BODY@\n", body))
            .replace("@RENAME@", rename).replace("@CALLBACKS@", callbacks)
            .replace("@REFS@\n", _DELETE_REFS if plan.refs else ""))


def _fenced(lines: list[str]) -> str:
    """``lines`` in a Markdown code block whose fence no line can close."""
    longest = max((len(run) for line in lines for run in re.findall("`+", line)), default=0)
    fence = "`" * max(3, longest + 1)
    return "\n".join([fence, *lines, fence])


def plan_text(plan: Plan, directory: Path) -> str:
    """PLAN.md: every step, in order, and every key with where it was found (redacted)."""
    here = sh_word(os.path.abspath(os.fsdecode(directory)))
    count = len(plan.keys)
    clone = sh_word(plan.origin) if plan.origin else "URL-OF-THE-SHARED-REPOSITORY"
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    out = [
        f"# Purge plan: {count} key{'s' * (count != 1)} to remove from the history",
        "",
        f"Written by hvscan {__version__} on {when} from the whole history of "
        f"`{plan.repository}`: every ref, every object no ref reaches, every commit and tag "
        "message.",
        "",
        f"> **This directory holds the keys.** `{REPLACEMENTS}` contains every key below in "
        "full (mode 0600). Never commit, copy or attach it; delete the whole directory when "
        "the purge is done (step 8).",
        "",
        "## Steps",
        "",
        "1. **Revoke and rotate every key below first**, in the HesedVid dashboard (Settings ->"
        " API Keys). Purging does not un-leak a key: clones, forks, caches and CI logs keep it."
        " `hvscan git --verify` then reports the old keys `invalid`.",
        "2. **Make a fresh mirror clone** of the repository everyone pushes to, outside any "
        "work tree, and ask everyone to stop pushing until step 5:",
        "",
        f"       git clone --mirror {clone} purge-mirror.git",
        "",
        "3. **Run the purge** on it (needs git filter-repo 2.47 or later):",
        "",
        f"       bash {here}/{SCRIPT} purge-mirror.git",
        "",
        "   It checks that it was given a bare mirror, rewrites every ref with git filter-repo "
        f"(`--sensitive-data-removal`, `--replace-text {REPLACEMENTS}` for files, "
        f"`--replace-message {REPLACEMENTS}` for commit and tag messages, which text "
        "replacement alone leaves as they are"
        + (f", `--strip-blobs-with-ids {BLOBS}` for the files that hold a key encoded"
           if plan.blobs else "")
        + (", `--filename-callback` and `--refname-callback` for the file, directory and ref "
           "names that hold a key (see Names renamed)"
           if renamed(plan, "path") or renamed(plan, "ref") else "")
        + (f", deletes the refs in `{REFS}`" if plan.refs else "")
        + "), expires the reflogs, runs `git gc --prune=now --aggressive` and, when hvscan is "
        "on PATH, checks the result. Each key becomes `***REMOVED***`. Every commit id "
        "changes from the first commit that held a key on; git notes stay filed under the old "
        "ids (git filter-repo does not move them).",
        "4. **Verify** (purge.sh does it when it can; run the same options you gave "
        "purge-plan, `--rules` included):",
        "",
        "       hvscan git --include-unreachable purge-mirror.git",
        "",
        "   It must exit 0. If it does not, do not push: see what it still finds.",
        "5. **Force-push every ref**:",
        "",
        "       git -C purge-mirror.git push --force --mirror origin",
        "",
        "   Unprotect protected branches first. `--mirror` also deletes refs pushed since the "
        "clone: that is why no one may push meanwhile. Refs the host hides (GitHub's "
        "`refs/pull/*`) are rejected: step 6 is for them. When the default branch's name held "
        "a key (purge.sh then says it renamed HEAD's branch), the host refuses to delete its "
        "current branch: first push the renamed branch alone (`git -C purge-mirror.git -c "
        "remote.origin.mirror=false push origin refs/heads/NEW-NAME`, as purge.sh prints it), "
        "make it the default branch in the host's settings, then push every ref as above.",
        "6. **Ask your git host** to drop cached views of the old commits, pull-request refs and "
        "diffs, and to run garbage collection (GitHub: contact support, with the first changed "
        "commits git filter-repo printed). Forks keep their copies: ask their owners too.",
        "7. **Every collaborator, and you**: delete every clone made before the purge and clone "
        "again. Unpushed work is rebased onto the new history first (`git fetch`, then "
        "`git rebase --onto origin/BRANCH OLD-BASE BRANCH`); never push from an old clone or "
        "merge old branches: they bring the keys back. Your own clone "
        f"`{plan.repository}` holds them too, also in objects no ref reaches.",
        "8. **Delete the mirror**, once pushed (git filter-repo's records in it map the old "
        "history, and no one may push from it again), **and this directory**, which holds "
        "every key:",
        "",
        f"       rm -rf -- purge-mirror.git {here}",
        "",
        "## Keys",
        "",
        "| # | key | sha256 | rule | severity | places | removed by |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    names = renamed(plan, "path") + renamed(plan, "ref")
    for number, key in enumerate(plan.keys, 1):
        how = ["text replacement"]
        if key.stripped:
            how.append(f"stripping {len(key.stripped)} blob{'s' * (len(key.stripped) != 1)}")
        if any(place in names for place in key.places):
            how.append("renaming")
        if key.by_hand:
            how.append("**a fix by hand** (see below)")
        redacted = key.redacted.replace("|", "\\|").replace("`", "'")
        out.append(f"| {number} | `{redacted}` | `{key.sha256[:16]}` | {key.rule_id} | "
                   f"{key.severity} | {len(key.places)} | {', '.join(how)} |")
    out += ["", "## Where each key was found", "",
            "Every commit that introduced it, at every path, and every message holding it "
            "(unreachable: in the audited repository, but no ref reaches it; a mirror clone "
            "does not have it unless the host does)."]
    for number, key in enumerate(plan.keys, 1):
        lines = [f"{p.commit or '(no commit)'}  {p.where}"
                 + (f"  [{p.name} name]" if p.name else "")
                 + (f"  [{p.encoding}]" if p.encoding != "plain" else "")
                 + ("  [unreachable]" if p.unreachable else "") for p in key.places]
        out += ["", f"{number}. `{key.redacted}` ({key.rule_id})"
                + (f", suppressed ({', '.join(key.suppressed)}) and purged anyway"
                   if key.suppressed else ""), "", _fenced(lines)]
    if plan.blobs:
        out += ["", "## Blobs stripped whole", "",
                "These hold a key encoded (base64, UTF-16, inside an archive...), where "
                f"text replacement cannot reach it. `{BLOBS}` lists them; git filter-repo "
                "removes these versions of the files from every commit. Add what you still "
                "need back, without the key, after the purge.", "",
                _fenced([f"{blob}  {label}" for blob, label in plan.blobs.items()])]
    if plan.refs:
        out += ["", "## Refs deleted", "",
                "These refs point at a blob or a tree holding a key (directly or through "
                "annotated tags), not at a commit: git filter-repo rewrites commits and leaves "
                f"them as they are, so purge.sh deletes them (`{REFS}`) and the force-push "
                "deletes them on the remote. Make them again, without the key, if you need them.",
                "", _fenced([escape(ref) for ref in plan.refs])]
    if plan.refs_named:
        out += ["", "## Refs deleted by name", "",
                "These refs point at a blob or a tree (directly or through annotated tags), not "
                "at a commit, and their names hold a key: git filter-repo can neither rename "
                f"them nor leave them out of its messages, and `{REFS}`, which holds no key, "
                "cannot name them. purge.sh deletes every such ref of the mirror before the "
                "rewrite, finding them by the keys of replacements.txt as it runs; the "
                "force-push deletes them on the remote.", "", _fenced(list(plan.refs_named))]
    # A name is shown once, whatever number of keys it holds, as it ends up: each of them
    # renamed (a name is shown with every key in it redacted).
    shown_names = {(place.commit, place.where): place.where for place in names}
    for key in plan.keys:
        for place in shown_names:
            shown_names[place] = shown_names[place].replace(
                key.redacted, "REMOVED-" + key.sha256[:16])
    if shown_names:
        out += ["", "## Names renamed", "",
                "These file, directory and ref names hold a key. purge.sh renames them in "
                "every commit and ref: each key in a name becomes `REMOVED-` and the first 16 "
                "digits of its sha256 (the table above), which keeps apart names that differed "
                "only by their keys; an annotated tag renamed gets a new tag object. The "
                "force-push deletes the old refs on the remote and pushes the new ones; tell "
                "whoever uses a renamed branch or tag. When a new name would be that of an "
                "existing ref, or of another renamed one, purge.sh stops before any change "
                "(and git filter-repo stops when two files of a commit would get one name): "
                "rename one of them in the repository first, and make the plan again.", "",
                _fenced([f"{commit or '?'}  {where}  ->  {final}"
                         for (commit, where), final in shown_names.items()])]
    by_hand = [place for key in plan.keys for place in key.by_hand]
    messages = [place for place in by_hand if place.message]
    if messages:
        out += ["", "## Messages to fix by hand", "",
                "These commit or tag messages hold a key encoded, which no text replacement"
                " reaches: after purge.sh, rewrite them with `git filter-repo "
                "--message-callback` (or `git rebase -i` and `git tag -f`) before pushing.", "",
                _fenced([f"{p.commit or '?'}  {p.where}  [{p.encoding}]" for p in messages])]
    encoded_names = [place for place in by_hand if place.name]
    if encoded_names:
        out += ["", "## Names to fix by hand", "",
                "These file, directory or ref names hold a key encoded, which the renaming (of "
                "each key as it is) does not reach, and purge.sh's check will still find them: "
                "rename them with `git filter-repo --filename-callback` or "
                "`--refname-callback` (or `git mv`, `git branch -m`, `git tag` and `git tag -d` "
                "on a history rewritten by hand) before pushing.", "",
                _fenced([f"{p.commit or '?'}  {p.where}  [{p.name} name, {p.encoding}]"
                         for p in encoded_names])]
    if plan.unscanned:
        out += ["", "## Not scanned", "",
                "The audit could not look into these, so keys in them are not in this plan: "
                "raise the limits (`--max-file-size`, `--max-archive-*`) and make the plan "
                "again, or remove them too.", "", _fenced(list(plan.unscanned))]
    if plan.excluded:
        out += ["", "## Excluded paths", "",
                "Keys found only at paths matching these patterns (`--exclude` or the "
                "configuration) are not in this plan; a key found elsewhere too is replaced "
                "everywhere.", "", _fenced(list(plan.excluded))]
    return "\n".join(out) + "\n"


def check_output(directory: Path, force: bool) -> None:
    """Refuse a ``directory`` that is not one, or holds anything, unless ``force``."""
    try:
        mode = os.lstat(directory).st_mode
    except FileNotFoundError:
        return
    except OSError as exc:
        raise PlanError(f"{directory}: {exc.strerror}") from None
    if stat.S_ISLNK(mode):  # the keys go where the name says, not where a link leads
        raise PlanError(f"{directory} is a symbolic link: give the directory itself")
    if not stat.S_ISDIR(mode):
        raise PlanError(f"{directory}: not a directory")
    if os.listdir(directory) and not force:
        raise PlanError(f"{directory} is not empty: give a new or empty directory, or --force "
                        "to replace the plan's files in it")


def write(directory: Path, plan: Plan) -> list[str]:
    """Write the plan into ``directory`` (made, mode 0700; the plan's files of an earlier run
    replaced) and return the names of the files written."""
    try:
        parent = os.path.dirname(os.path.abspath(directory))
        os.makedirs(parent, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            os.mkdir(directory, DIRECTORY_MODE)
        os.chmod(directory, DIRECTORY_MODE)
        for name in FILES:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(directory, name))
        files = [(REPLACEMENTS, replacements(plan), 0o600)]
        if plan.blobs:
            files.append((BLOBS, "".join(f"{blob}\n" for blob in plan.blobs).encode(), 0o600))
        if plan.refs:  # as git has them: a ref's name holds no line break
            files.append((REFS, "".join(f"{ref}\n" for ref in plan.refs)
                          .encode("utf-8", "surrogateescape"), 0o600))
        files += [(SCRIPT, script(plan).encode(), 0o700),
                  (PLAN, plan_text(plan, directory).encode(), 0o600)]
        for name, data, mode in files:
            _create(os.path.join(directory, name), data, mode)
    except OSError as exc:
        raise PlanError(f"cannot write the plan into {directory}: {exc.strerror}") from None
    return [name for name, _, _ in files]


def _create(path: str, data: bytes, mode: int) -> None:
    """A new file (never an existing one, nor through a link) with ``mode`` whatever the
    umask: the keys' file is never readable by anyone else, not even for a moment."""
    handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode & 0o600)
    with os.fdopen(handle, "wb") as out:
        os.fchmod(out.fileno(), mode)
        out.write(data)
