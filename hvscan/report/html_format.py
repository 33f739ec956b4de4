"""The HTML report: one self-contained page an auditor can open in a browser or attach to a ticket.

``page`` renders the JSON report (``json_format.report_dict``, docs/report-format.md): the
summary and the ``scan`` record, the revoke list (the report's ``keys``, in their order), each
key's exposure drawn as an inline SVG timeline, the findings table with filters, and what could
not be scanned. The page is built here, in Python, so it reads the same without its script; the
script only filters the table.

Nothing is loaded from anywhere: the style sheet and the script are inline, and the page's
Content-Security-Policy allows exactly those two (by their SHA-256) and forbids every other load,
so neither a network request nor an inline script smuggled in by a hostile name can run. Names
from the scanned content arrive escaped and redacted (``hvscan.shown``); every string is
HTML-escaped here on top. The JSON report travels in the page as a data block
(``script#hvscan-report``, for tools), with ``<``, ``>``, ``&`` and the line separators written
as ``\\u`` escapes, so no name can end the block.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
from typing import Any

from hvscan.model import NAME_MARK, moment
from hvscan.report import ReportOptions
from hvscan.report.json_format import report_dict
from hvscan.rules import SEVERITIES
from hvscan.scan import ScanResult
from hvscan.units import counted, format_size

# Worst first, as the revoke list and the severity filter show them.
WORST_FIRST = tuple(reversed(SEVERITIES))
# Statuses the findings table's status filter offers: a row carries one of the first two and
# one of the others (docs/report-format.md, "HTML").
STATUSES = ("active", "suppressed", "live", "invalid", "unknown", "unverified")
# A timeline draws at most this many paths; the key's introductions table lists them all.
MAX_LANES = 12

STYLE = """
:root { color-scheme: light; --critical: #8b0000; --high: #c62828; --medium: #ef6c00;
  --low: #2e7d32; --info: #546e7a; --line: #d0d7de; --muted: #57606a; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0;
  color: #1f2328; background: #f6f8fa; }
header, section { max-width: 1200px; margin: 0 auto; padding: 12px 24px; }
header { padding-top: 20px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 18px 0 8px; border-bottom: 1px solid var(--line); }
.verdict { font-size: 16px; margin: 6px 0 12px; }
.verdict.clean { color: var(--low); }
.verdict.dirty { color: var(--high); font-weight: 600; }
dl.scan { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 0; }
dl.scan dt { color: var(--muted); }
dl.scan dd { margin: 0; overflow-wrap: anywhere; }
.counts { display: flex; flex-wrap: wrap; gap: 8px; margin: 12px 0 0; padding: 0;
  list-style: none; }
.counts li { background: #fff; border: 1px solid var(--line); border-radius: 6px;
  padding: 6px 12px; min-width: 90px; }
.counts b { display: block; font-size: 20px; }
table { border-collapse: collapse; width: 100%; background: #fff; }
th, td { border: 1px solid var(--line); padding: 4px 8px; text-align: left;
  vertical-align: top; overflow-wrap: anywhere; }
th { background: #eaeef2; white-space: nowrap; }
code { font: 12px ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; }
.sev, .flag, td.word { white-space: nowrap; }
.sev { display: inline-block; border-radius: 10px; padding: 0 8px; color: #fff;
  font-size: 12px; font-weight: 600; }
.sev.critical { background: var(--critical); } .sev.high { background: var(--high); }
.sev.medium { background: var(--medium); } .sev.low { background: var(--low); }
.sev.info { background: var(--info); }
.flag { display: inline-block; border: 1px solid var(--line); border-radius: 10px;
  padding: 0 8px; font-size: 12px; margin: 0 4px 2px 0; background: #fff; }
.flag.bad { border-color: var(--high); color: var(--high); font-weight: 600; }
.flag.good { border-color: var(--low); color: var(--low); }
article.key { background: #fff; border: 1px solid var(--line); border-radius: 6px;
  padding: 10px 14px; margin: 0 0 14px; }
article.key h3 { font-size: 15px; margin: 0 0 6px; }
article.key p { margin: 4px 0; }
.timeline { overflow-x: auto; margin: 8px 0; }
.timeline svg { display: block; }
svg text { font: 11px system-ui, sans-serif; fill: #1f2328; }
svg .axis { fill: var(--muted); }
svg .head { font-weight: 700; }
svg .pushed { fill: var(--high); font-weight: 700; }
svg .grid { stroke: #eaeef2; }
svg .present { stroke: var(--medium); stroke-width: 4; }
svg .live { stroke: var(--high); stroke-width: 4; }
svg .elsewhere { stroke: var(--medium); stroke-width: 2; stroke-dasharray: 4 3; }
svg .intro { fill: var(--medium); stroke: #fff; stroke-width: 1.5; }
svg .intro.unreachable { fill: #fff; stroke: var(--medium); stroke-width: 2; }
svg .removed { stroke: var(--low); stroke-width: 3; }
svg .at-head { fill: var(--high); }
.filters { display: flex; flex-wrap: wrap; gap: 8px 16px; align-items: center;
  margin: 0 0 8px; }
.muted { color: var(--muted); }
details summary { cursor: pointer; white-space: nowrap; }
"""

SCRIPT = """
(function () {
  "use strict";
  var ids = ["f-severity", "f-rule", "f-path", "f-status"];
  var controls = ids.map(function (id) { return document.getElementById(id); });
  var table = document.getElementById("findings-table");
  if (!table || controls.indexOf(null) !== -1) { return; }
  var rows = Array.prototype.slice.call(table.tBodies[0].rows);
  var count = document.getElementById("f-count");
  function apply() {
    var severity = controls[0].value, rule = controls[1].value;
    var path = controls[2].value.toLowerCase(), status = controls[3].value;
    var shown = 0;
    rows.forEach(function (row) {
      var data = row.dataset;
      var keep = (!severity || data.severity === severity) &&
        (!rule || data.rule === rule) &&
        (!path || data.path.toLowerCase().indexOf(path) !== -1) &&
        (!status || data.status.split(" ").indexOf(status) !== -1);
      row.hidden = !keep;
      if (keep) { shown += 1; }
    });
    count.textContent = shown + " of " + rows.length + " findings shown";
  }
  controls.forEach(function (control) {
    control.addEventListener("input", apply);
    control.addEventListener("change", apply);
  });
  apply();
})();
"""


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


# Only the page's own style sheet and script; nothing else, from anywhere.
CSP = (f"default-src 'none'; style-src {_csp_hash(STYLE)}; script-src {_csp_hash(SCRIPT)}; "
       "base-uri 'none'; form-action 'none'")


def render(result: ScanResult, options: ReportOptions) -> str:
    return page(report_dict(result, options))


def page(report: dict[str, Any]) -> str:
    """The HTML page of a JSON report (``report_dict``'s dict)."""
    findings: list[dict[str, Any]] = report["findings"]
    keys: list[dict[str, Any]] = report["keys"]
    parts = [
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n",
        f"<meta http-equiv=\"Content-Security-Policy\" content=\"{_e(CSP)}\">\n",
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n",
        "<meta name=\"referrer\" content=\"no-referrer\">\n",
        f"<title>hvscan report: {_e(_verdict(keys, findings))}</title>\n",
        f"<style>{STYLE}</style>\n</head>\n<body>\n",
        _summary(report, keys),
        _revoke_list(keys),
        _findings(report),
        _unscanned(report),
        f"<script type=\"application/json\" id=\"hvscan-report\">{_script_json(report)}"
        "</script>\n",
        f"<script>{SCRIPT}</script>\n</body>\n</html>\n",
    ]
    return "".join(parts)


def _e(value: object) -> str:
    """``value`` as HTML text or attribute value; None as the empty string."""
    return "" if value is None else html.escape(str(value), quote=True)


def _script_json(report: dict[str, Any]) -> str:
    """The report as JSON that cannot end or confuse the ``<script>`` element holding it."""
    text = json.dumps(report, indent=1, ensure_ascii=True, sort_keys=False)
    for char, escaped in (("&", "\\u0026"), ("<", "\\u003c"), (">", "\\u003e"),
                          ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(char, escaped)
    return text


def _verdict(keys: list[dict[str, Any]], findings: list[dict[str, Any]]) -> str:
    if not findings:
        return "no keys found"
    return f"{counted(len(keys), 'key')} to revoke ({counted(len(findings), 'finding')})"


def _severity(severity: str) -> str:
    return f"<span class=\"sev {_e(severity)}\">{_e(severity)}</span>"


def _short(commit: str | None) -> str:
    """A commit id as the page shows it: 12 digits, the full id on hover."""
    if commit is None:
        return "<span class=\"muted\">none</span>"
    return f"<code title=\"{_e(commit)}\">{_e(commit[:12])}</code>"


def _date(date: str | None) -> str:
    """A date as tables show it: the day, the whole date and time on hover."""
    return "" if date is None else f"<span title=\"{_e(date)}\">{_e(date[:10])}</span>"


def _summary(report: dict[str, Any], keys: list[dict[str, Any]]) -> str:
    findings = report["findings"]
    scan = report.get("scan") or {}
    stats = report["stats"]
    verdict = _verdict(keys, findings)
    refs = scan.get("refs")
    refs_text = "" if refs is None else (
        f"<details><summary>{counted(len(refs), 'ref')}</summary>"
        + "".join(f"<code>{_e(ref)}</code><br>" for ref in refs) + "</details>")
    duration = scan.get("duration")
    rows = [
        ("Command", f"hvscan {_e(scan['command'])}" if scan.get("command") else ""),
        ("Repository", f"<code>{_e(scan['repository'])}</code>" if scan.get("repository")
         else ""),
        ("HEAD", f"<code>{_e(scan['head'])}</code>" if scan.get("head") else ""),
        ("Refs scanned", refs_text),
        ("hvscan version", _e(scan.get("version", report["version"]))),
        ("Started", _e(scan.get("started"))),
        ("Duration", "" if duration is None else f"{duration:.3f} s"),
    ]
    pushed = sum(1 for k in keys if k["pushed"])
    in_head = sum(1 for k in keys if k["in_head"])
    counts = [
        ("keys to revoke", len(keys)),
        *((f"{severity} keys", n) for severity in WORST_FIRST
          if (n := sum(1 for k in keys if k["severity"] == severity))),
        ("pushed", pushed), ("still in HEAD", in_head), ("findings", len(findings)),
        ("suppressed", stats["suppressed"]), ("files scanned", stats["files_scanned"]),
        ("scanned", format_size(stats["bytes_scanned"])),
        ("skipped", stats["files_skipped"]), ("errors", stats["errors"]),
        ("notes", stats["notes"]),
    ]
    return (
        "<header id=\"summary\">\n<h1>hvscan report</h1>\n"
        f"<p class=\"verdict {'dirty' if findings else 'clean'}\">{_e(verdict.capitalize())}"
        "</p>\n<dl class=\"scan\">"
        + "".join(f"<dt>{name}</dt><dd>{value or '<span class=muted>unknown</span>'}</dd>"
                  for name, value in rows)
        + "</dl>\n<ul class=\"counts\">"
        + "".join(f"<li><b>{_e(value)}</b>{_e(name)}</li>" for name, value in counts)
        + "</ul>\n</header>\n"
    )


def _exposure(key: dict[str, Any]) -> str:
    """What the key's exposure says, as flags: pushed, at HEAD, removed, unreachable."""
    flags = []
    if key["pushed"]:
        flags.append("<span class=\"flag bad\">pushed</span>")
    elif key["pushed"] is False:
        flags.append("<span class=\"flag\">not pushed</span>")
    if key["in_head"]:
        flags.append("<span class=\"flag bad\">in HEAD</span>")
    elif key["in_head"] is False:
        flags.append("<span class=\"flag good\">not in HEAD</span>")
    if key["removed_in"]:
        flags.append(f"<span class=\"flag\">removed in {counted(len(key['removed_in']), 'commit')}"
                     "</span>")
    if any(i["unreachable"] for i in key["introductions"]):
        flags.append("<span class=\"flag\">unreachable objects</span>")
    return "".join(flags) or "<span class=\"muted\">unknown</span>"


def _verification(verification: dict[str, Any] | None) -> str:
    if verification is None:
        return "<span class=\"muted\">not verified</span>"
    status = verification["status"]
    kind = {"live": " bad", "invalid": " good"}.get(status, "")
    return (f"<span class=\"flag{kind}\" title=\"{_e(verification.get('detail'))}\">"
            f"{_e(status)}</span>")


def _key_id(key: dict[str, Any]) -> str:
    return f"key-{_e(key['secret_sha256'][:16])}"


def _revoke_list(keys: list[dict[str, Any]]) -> str:
    if not keys:
        return ("<section id=\"revoke\">\n<h2>Keys to revoke</h2>\n"
                "<p>No key to revoke.</p>\n</section>\n")
    rows = []
    cards = []
    # A report of several repositories (a many-repository audit, hvscan merge) names each
    # key's; one repository's report has no such column.
    several = any("repositories" in key for key in keys)
    for number, key in enumerate(keys, 1):
        shown = key.get("secret", key["secret_redacted"])  # the key itself: --show-secrets
        first = key["first"]
        first_text = (f"{_short(first['commit'])} {_date(first['date'])}" if first["commit"]
                      else _e(first["path"]))
        rows.append(
            f"<tr><td>{number}</td><td>{_severity(key['severity'])}</td>"
            f"<td class=\"word\"><a href=\"#{_key_id(key)}\"><code>{_e(shown)}</code></a></td>"
            f"<td>{_e(key['rule_id'])} <span class=\"muted\">({_e(key['key_type'])})</span></td>"
            f"<td>{_verification(key['verification'])}</td><td>{_exposure(key)}</td>"
            f"<td>{len(key['introductions'])}</td><td>{first_text}</td>"
            + (f"<td>{_repositories(key)}</td>" if several else "") + "</tr>\n")
        cards.append(_key_card(number, key, shown))
    return (
        "<section id=\"revoke\">\n<h2>Keys to revoke</h2>\n"
        "<p class=\"muted\">Worst first: severity, then exposure (pushed, still in HEAD, "
        "introductions). Revoke each key before purging it from history.</p>\n"
        "<table id=\"revoke-table\"><thead><tr><th>#</th><th>severity</th><th>key</th>"
        "<th>rule</th><th>verification</th><th>exposure</th><th>introductions</th>"
        "<th>first introduced</th>" + ("<th>repositories</th>" if several else "")
        + "</tr></thead>\n<tbody>\n" + "".join(rows)
        + "</tbody></table>\n</section>\n<section id=\"timelines\">\n<h2>Exposure</h2>\n"
        "<p class=\"muted\">Each row is a path, time runs left to right: a dot where a commit "
        "introduced the key (hollow: no ref reaches it), a bar while the path held it, a green "
        "stroke where a commit on HEAD's history removed it, a red diamond where HEAD still holds "
        "it; a dashed bar stays in history outside HEAD (another branch).</p>\n"
        + "".join(cards) + "</section>\n"
    )


def _repositories(key: dict[str, Any]) -> str:
    return " ".join(f"<code>{_e(name)}</code>" for name in key.get("repositories") or [])


def _key_card(number: int, key: dict[str, Any], shown: str) -> str:
    refs = key["refs"]
    refs_text = ("".join(
        f"<span class=\"flag{' bad' if ref.startswith('refs/remotes/') else ''}\">"
        f"<code>{_e(ref)}</code></span>" for ref in refs)
        if refs else "<span class=\"muted\">none known</span>")
    head = ("".join(f"<code>{_e(path)}</code> " for path in key["head_paths"])
            if key["head_paths"] else "<span class=\"muted\">no file</span>")
    removed = "".join(
        f"<li>{_short(r['commit'])} {_e(r['date'])} from <code>{_e(r['path'])}</code></li>"
        for r in key["removed_in"])
    introductions = "".join(
        f"<tr><td>{_short(i['commit'])}</td><td><code>{_e(_lane_name(i))}</code></td>"
        f"<td>{_e(i['author'])}</td><td>{_e(i['date'])}</td><td>{_e(i['source'])}"
        f"{' (unreachable)' if i['unreachable'] else ''}</td></tr>"
        for i in key["introductions"])
    return (
        f"<article class=\"key\" id=\"{_key_id(key)}\">\n"
        f"<h3>{number}. {_severity(key['severity'])} <code>{_e(shown)}</code> "
        f"<span class=\"muted\">{_e(key['rule_id'])}, {counted(key['findings'], 'finding')}"
        f"</span></h3>\n"
        f"<p>{_exposure(key)} verification: {_verification(key['verification'])}</p>\n"
        f"<div class=\"timeline\">{_timeline(key)}</div>\n"
        + (f"<p>Repositories ({len(key['repositories'])}): {_repositories(key)}</p>\n"
           if "repositories" in key else "")
        + f"<p>Reached from: {refs_text}</p>\n"
        f"<p>At HEAD in: {head}</p>\n"
        + (f"<p>Removed in:</p><ul>{removed}</ul>\n" if removed else "")
        + f"<details><summary>{counted(len(key['introductions']), 'introduction')}</summary>"
        "<table><thead><tr><th>commit</th><th>path</th><th>author</th><th>date</th>"
        f"<th>source</th></tr></thead><tbody>{introductions}</tbody></table></details>\n"
        f"<p><b>Fix:</b> {_e(key['remediation'])}</p>\n"
        f"<p class=\"muted\">SHA-256 <code>{_e(key['secret_sha256'])}</code></p>\n"
        "</article>\n"
    )


def _lane_name(introduction: dict[str, Any]) -> str:
    """The timeline's row for an introduction: its path, or where a key without one was."""
    if introduction["path"] is not None:
        return str(introduction["path"])
    return {"commit-message": "(commit message)", "tag-message": "(tag message)"}.get(
        introduction["source"], "(object without a path)")


# The timeline's geometry, in pixels.
LABEL_WIDTH = 230
SLOT_WIDTH = 96
LANE_HEIGHT = 26
TOP = 40


def _timeline(key: dict[str, Any]) -> str:
    """The key's exposure as an SVG picture: one row per path, time from left to right (one
    column per distinct date, in order), a dot where a commit introduced it (hollow when no ref
    reaches it), a bar while a path held it, a green stroke where a commit on HEAD's history
    removed it, and in the last column whether HEAD still holds it and whether it was pushed.
    A bar that neither ends in a removal nor reaches HEAD is dashed: the key stays in history
    there (on another branch, or removed outside HEAD's history). Outside a history audit the
    last column is the scan, and a bar reaches it."""
    introductions = key["introductions"]
    removals = key["removed_in"]
    head_paths = set(key["head_paths"])
    lanes: list[str] = []
    for name in [*map(_lane_name, introductions), *(r["path"] for r in removals),
                 *key["head_paths"]]:
        if name not in lanes:
            lanes.append(name)
    hidden = len(lanes) - MAX_LANES
    lanes = lanes[:MAX_LANES]
    # One instant may be written in two time zones: the text decides between them.
    dates = sorted({e["date"] for e in [*introductions, *removals]},
                   key=lambda date: (moment(date), date or ""))
    slot = {date: index for index, date in enumerate(dates)}
    end = len(dates)

    def x(index: int) -> int:
        return LABEL_WIDTH + SLOT_WIDTH // 2 + index * SLOT_WIDTH

    height = TOP + LANE_HEIGHT * (len(lanes) + (hidden > 0)) + 8
    width = x(end) + SLOT_WIDTH // 2 + 10
    title = f"Exposure of {key['secret_redacted']}"
    parts = [f"<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"exposure\" width=\"{width}\" "
             f"height=\"{height}\" viewBox=\"0 0 {width} {height}\" role=\"img\" "
             f"aria-label=\"{_e(title)}\"><title>{_e(title)}</title>"]
    for date, index in slot.items():
        parts.append(f"<line class=\"grid\" x1=\"{x(index)}\" y1=\"{TOP - 8}\" x2=\"{x(index)}\" "
                     f"y2=\"{height - 4}\"/><text class=\"axis\" x=\"{x(index)}\" y=\"14\" "
                     f"text-anchor=\"middle\">{_e((date or 'undated')[:10])}</text>")
    head_label = "HEAD" if key["in_head"] is not None else "scan"
    parts.append(f"<text class=\"head\" x=\"{x(end)}\" y=\"14\" text-anchor=\"middle\">"
                 f"{head_label}</text>")
    if key["pushed"]:
        parts.append(f"<text class=\"pushed\" x=\"{x(end)}\" y=\"28\" text-anchor=\"middle\">"
                     "pushed</text>")
    for number, lane in enumerate(lanes):
        y = TOP + number * LANE_HEIGHT + LANE_HEIGHT // 2
        label = lane if len(lane) <= 34 else lane[:16] + "\u2026" + lane[-16:]
        parts.append(f"<text x=\"4\" y=\"{y + 4}\"><title>{_e(lane)}</title>{_e(label)}</text>")
        events = sorted(
            [(slot[i["date"]], 1, i) for i in introductions if _lane_name(i) == lane]
            + [(slot[r["date"]], 0, r) for r in removals if r["path"] == lane],
            key=lambda event: (event[0], event[1]))
        since: int | None = None
        marks = []
        for index, is_introduction, event in events:
            if is_introduction:
                since = index if since is None else since
                kind = " unreachable" if event.get("unreachable") else ""
                marks.append(f"<circle class=\"intro{kind}\" cx=\"{x(index)}\" cy=\"{y}\" r=\"6\">"
                             f"<title>introduced in {_e(event['commit'])} by "
                             f"{_e(event['author'])} on {_e(event['date'])}</title></circle>")
            else:
                if since is not None:
                    parts.append(_bar("present", x(since), x(index), y))
                    since = None
                marks.append(f"<line class=\"removed\" x1=\"{x(index)}\" y1=\"{y - 8}\" "
                             f"x2=\"{x(index)}\" y2=\"{y + 8}\"><title>removed in "
                             f"{_e(event['commit'])} on {_e(event['date'])}</title></line>")
        if lane in head_paths:
            parts.append(_bar("live", x(end if since is None else since), x(end), y))
            marks.append(f"<rect class=\"at-head\" x=\"{x(end) - 6}\" y=\"{y - 6}\" width=\"12\" "
                         f"height=\"12\" transform=\"rotate(45 {x(end)} {y})\"><title>still at "
                         f"HEAD: {_e(lane)}</title></rect>")
        elif since is not None:
            # Outside a history audit what was found is there at the scan: no HEAD to compare.
            history = key["in_head"] is not None
            parts.append(_bar("elsewhere" if history else "present", x(since), x(end), y))
        parts += marks
    if hidden > 0:
        y = TOP + len(lanes) * LANE_HEIGHT + LANE_HEIGHT // 2
        parts.append(f"<text class=\"axis\" x=\"4\" y=\"{y + 4}\">and "
                     f"{counted(hidden, 'more path')} (see the introductions)</text>")
    parts.append("</svg>")
    return "".join(parts)


def _bar(kind: str, start: int, end: int, y: int) -> str:
    return f"<line class=\"{kind}\" x1=\"{start}\" y1=\"{y}\" x2=\"{end}\" y2=\"{y}\"/>"


def _where(finding: dict[str, Any]) -> str:
    if finding["path"] is None:
        return _lane_name(finding)
    mark = NAME_MARK if finding.get("in_name") else ""
    return f"{finding['path']}{mark}:{finding['line']}:{finding['column']}"


def _findings(report: dict[str, Any]) -> str:
    rows = [(f, None) for f in report["findings"]] + [
        (f, f["suppression"]) for f in report.get("suppressed", [])]
    if not rows:
        return "<section id=\"findings\">\n<h2>Findings</h2>\n<p>No findings.</p>\n</section>\n"
    severities = [s for s in WORST_FIRST if any(f["severity"] == s for f, _ in rows)]
    rules = sorted({f["rule_id"] for f, _ in rows})
    body = []
    for finding, suppression in rows:
        verification = finding["verification"]
        status = ["active" if suppression is None else "suppressed",
                  verification["status"] if verification else "unverified"]
        status_text = (status[0] if suppression is None else f"suppressed ({suppression})")
        severity, rule = _e(finding["severity"]), _e(finding["rule_id"])
        body.append(
            f"<tr data-severity=\"{severity}\" data-rule=\"{rule}\" "
            f"data-path=\"{_e(finding['path'] or '')}\" data-status=\"{_e(' '.join(status))}\">"
            f"<td>{_severity(finding['severity'])}</td><td class=\"word\">{rule}</td>"
            f"<td class=\"word\"><code>{_e(finding.get('secret', finding['secret_redacted']))}"
            "</code></td>"
            f"<td><code>{_e(_where(finding))}</code></td>"
            f"<td class=\"word\">{_e(finding['source'])}"
            f"{'' if finding['encoding'] == 'plain' else ' ' + _e(finding['encoding'])}</td>"
            f"<td class=\"word\">{_short(finding['commit']) if finding['commit'] else ''}</td>"
            f"<td>{_e(finding['author'])}</td><td class=\"word\">{_date(finding['date'])}</td>"
            f"<td>{_e(status_text)} {_verification(verification)}</td>"
            f"<td><details><summary>fix</summary>{_e(finding['remediation'])}<br>"
            f"<span class=\"muted\">fingerprint <code>{_e(finding['fingerprint'])}</code>"
            "</span></details></td></tr>\n")

    def choice(name: str, label: str, values: list[str]) -> str:
        options = "".join(f"<option value=\"{_e(v)}\">{_e(v)}</option>" for v in values)
        return (f"<label>{label} <select id=\"f-{name}\"><option value=\"\">all</option>"
                f"{options}</select></label>")

    return (
        "<section id=\"findings\">\n<h2>Findings</h2>\n<div class=\"filters\">"
        + choice("severity", "Severity", severities) + choice("rule", "Rule", rules)
        + "<label>Path <input id=\"f-path\" type=\"search\" placeholder=\"contains\"></label>"
        + choice("status", "Status", list(STATUSES))
        + f"<span id=\"f-count\" class=\"muted\">{len(rows)} of {len(rows)} findings shown"
        "</span></div>\n<table id=\"findings-table\"><thead><tr><th>severity</th><th>rule</th>"
        "<th>key</th><th>where</th><th>source</th><th>commit</th><th>author</th><th>date</th>"
        "<th>status</th><th>fix</th></tr></thead>\n<tbody>\n" + "".join(body)
        + "</tbody></table>\n</section>\n"
    )


def _unscanned(report: dict[str, Any]) -> str:
    """Skipped files, errors and notes: what the scan could not fully read."""
    tables = [
        ("Not scanned (errors)", "errors", ("path", "message")),
        ("Skipped", "skipped", ("path", "reason")),
        ("Notes", "notes", ("path", "commit", "message")),
    ]
    parts = []
    for title, name, columns in tables:
        entries = report[name]
        if entries:
            parts.append(
                f"<h3>{title}</h3><table id=\"{name}-table\"><thead><tr>"
                + "".join(f"<th>{c}</th>" for c in columns) + "</tr></thead><tbody>"
                + "".join("<tr>" + "".join(f"<td>{_e(entry[c])}</td>" for c in columns)
                          + "</tr>" for entry in entries)
                + "</tbody></table>\n")
    if not parts:
        return ""
    return "<section id=\"unscanned\">\n<h2>What was not fully scanned</h2>\n" + "".join(
        parts) + "</section>\n"
