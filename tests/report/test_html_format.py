"""The HTML report: golden pages, escaping of hostile names, the JSON data block, the fallback
key list, and the page in a real browser (headless Chromium from the operating system's
packages, driven by Selenium): revoke list, timelines, filters, no network, screenshots.

``HVSCAN_UPDATE_GOLDEN=1 pytest tests/report/test_html_format.py`` rewrites the golden pages and
the screenshots in docs/images/ (docs/audit.md shows them).
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from conftest import UPDATE_GOLDEN
from report_sample import (
    AUDIT_REPOSITORY,
    HOSTILE_AUTHOR,
    HOSTILE_PATH,
    SCAN_STARTED,
    audit_scan,
    sample_audit,
    sample_keys,
)

from hvscan import __version__
from hvscan.report import ReportOptions
from hvscan.report.html_format import CSP, MAX_LANES, STYLE, page, render
from hvscan.report.json_format import report_dict
from hvscan.scan import ScanResult

DOCS_IMAGES = Path(__file__).parents[2] / "docs" / "images"


def empty_audit() -> dict[str, Any]:
    report = report_dict(ScanResult(), ReportOptions())
    report["scan"] = audit_scan()
    report["keys"] = []
    return report


class Page(HTMLParser):
    """What a browser's parser makes of a page: elements by tag, the text of each element with
    an id, and the text of script elements."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self.text = ""
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        if self.lasttag == "script":
            self.scripts.append(data)
        self.text += data


def data_block(text: str) -> dict[str, Any]:
    found = re.search(r'<script type="application/json" id="hvscan-report">(.*?)</script>',
                      text, re.S)
    assert found
    parsed: dict[str, Any] = json.loads(found.group(1))
    return parsed


def masked(text: str) -> str:
    return text.replace(__version__, "<version>")


def test_golden(golden: Callable[[str, str], None]) -> None:
    report = sample_audit()
    golden("audit.json", json.dumps(report, indent=2) + "\n")
    golden("audit.html", masked(page(report)))
    golden("empty.html", masked(page(empty_audit())))


def test_hostile_names_stay_text() -> None:
    text = page(sample_audit())
    parsed = Page(text)
    # No element, attribute or script from a name: one data block and the page's own script.
    assert {tag for tag, _ in parsed.tags} <= {
        "html", "head", "meta", "title", "style", "body", "header", "h1", "h2", "h3", "p",
        "dl", "dt", "dd", "ul", "li", "b", "details", "summary", "code", "section", "table",
        "thead", "tbody", "tr", "th", "td", "a", "span", "article", "div", "svg", "line",
        "text", "circle", "rect", "br", "label", "select", "option", "input", "script"}
    assert not any("onerror" in attrs for _, attrs in parsed.tags)
    assert [attrs.get("type") for tag, attrs in parsed.tags if tag == "script"] == [
        "application/json", None]
    assert "<img" not in text and "<script>alert" not in text
    # The names are there, as text a reader sees.
    assert HOSTILE_PATH in parsed.text and HOSTILE_AUTHOR in parsed.text
    assert text.count("</script>") == 2


def test_data_block_is_the_json_report_and_cannot_end_its_script() -> None:
    report = sample_audit()
    report["findings"][0]["remediation"] += " \u2028\u2029 <!-- --> &amp;"
    text = page(report)
    block = text.split('id="hvscan-report">')[1].split("</script>")[0]
    assert not set("<>&\u2028\u2029") & set(block)
    assert data_block(text) == report


def test_revoke_list_follows_the_keys_order_and_shows_their_exposure() -> None:
    report = sample_audit()
    text = page(report)
    revoke = text.split('id="revoke-table"')[1].split("</table>")[0]
    redacted = [k["secret_redacted"] for k in report["keys"]]
    assert [revoke.index(r) for r in redacted] == sorted(revoke.index(r) for r in redacted)
    assert revoke.count("<tr><td>") == 3
    assert 'class="flag bad">pushed' in revoke and 'class="flag bad">in HEAD' in revoke
    assert text.count('<svg xmlns="http://www.w3.org/2000/svg" class="exposure"') == 3
    # The first key: two paths, one removal, still at HEAD in the other.
    first = text.split("<article")[1]
    assert first.count('<circle class="intro"') == 2
    assert first.count('<line class="removed"') == 1
    assert first.count('<rect class="at-head"') == 1
    assert "refs/remotes/origin/main" in first and AUDIT_REPOSITORY in text
    assert SCAN_STARTED in text and "1.234 s" in text


def test_timeline_dashes_what_stays_outside_head_and_marks_unreachable_objects() -> None:
    report = sample_audit()
    feature = report["keys"][1]
    feature["introductions"][0]["unreachable"] = True
    card = page(report).split("<article")[2]
    assert card.count('<line class="elsewhere"') == 2  # a branch's file and a commit message
    assert '<circle class="intro unreachable"' in card
    assert "(commit message)" in card and "unreachable objects" in card


def test_timeline_draws_at_most_max_lanes_paths() -> None:
    report = sample_audit()
    key = report["keys"][2]
    intro = key["introductions"][0]
    key["introductions"] = [{**intro, "path": f"copies/{n:02}.env",
                             "date": f"2024-06-{n + 1:02}T08:00:00Z"}
                            for n in range(MAX_LANES + 3)]
    key["removed_in"] = []
    card = page(report).split("<article")[3]
    svg = card.split("</svg>")[0]
    assert svg.count("<title>copies/") == MAX_LANES and "and 3 more paths" in svg
    assert card.count("<code>copies/") == MAX_LANES + 3  # the introductions table


def test_timeline_orders_dates_by_instant_undated_and_garbled_last() -> None:
    # Dates as model.moment reads them for every sort: by the instant whatever the zone (one
    # instant written in two zones: by the text), no date and what is no date (a report given
    # to hvscan merge may hold anything) last.
    report = sample_audit()
    key = report["keys"][2]
    intro = key["introductions"][0]
    dates = [None, "2024-06-02T01:00:00+02:00", "someday", "2024-06-01T23:00:00Z",
             "2024-06-01T08:00:00Z"]
    key["introductions"] = [{**intro, "path": f"copies/{n}.env", "date": date}
                            for n, date in enumerate(dates)]
    key["removed_in"] = []
    svg = page(report).split("<article")[3].split("</svg>")[0]
    assert re.findall(r'<text class="axis"[^>]*>([^<]*)</text>', svg) == [
        "2024-06-01", "2024-06-01", "2024-06-02", "undated", "someday"]


def test_keys_are_redacted_unless_show_secrets() -> None:
    keys = sample_keys()
    hidden = page(sample_audit())
    assert not any(key in hidden for key in keys.values())
    shown = page(sample_audit(show_secrets=True))
    revoke = shown.split('id="revoke-table"')[1].split("</table>")[0]
    assert keys["live"] in revoke and keys["history"] in revoke


def test_zero_findings() -> None:
    text = page(empty_audit())
    assert "No key to revoke." in text and "No findings." in text
    assert "Command</dt><dd>hvscan git" in text and "<svg" not in text


def test_suppressed_findings_are_rows_with_their_status(result: ScanResult) -> None:
    text = render(result, ReportOptions(show_suppressed=True))
    rows = re.findall(r'<tr data-severity=[^>]* data-status="([^"]*)">', text)
    assert rows == ["active unverified"] * 2 + ["active live", "active unverified",
                                                "suppressed unverified"]
    assert "suppressed (inline)" in text


def test_csp_allows_only_the_pages_own_style_and_script() -> None:
    directives = dict(d.strip().split(" ", 1) for d in CSP.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["style-src"].startswith("'sha256-")
    assert directives["script-src"].startswith("'sha256-")
    text = page(empty_audit())
    assert text.index("Content-Security-Policy") < text.index("<style>")
    assert f"<style>{STYLE}</style>" in text
    assert not re.search(r"(src|href)=\"(https?:|//)", text)
    assert " style=" not in text  # inline style attributes would be blocked


# --- in a real browser ---------------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.skip("headless Chromium is not installed (Debian: apt-get install chromium "
                    "chromium-driver; .ci/run installs them where apt-get is available)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--window-size=1280,1000",
                     "--force-device-scale-factor=1", "--hide-scrollbars"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    # The system's driver, given by path: Selenium downloads nothing.
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()


def open_page(browser: Any, tmp_path: Path, report: dict[str, Any]) -> str:
    path = tmp_path / "report.html"
    path.write_text(page(report), encoding="utf-8")
    url = path.as_uri()
    # Forget the previous page's requests and messages.
    browser.get_log("performance")
    browser.get_log("browser")
    browser.get(url)
    return url


def visible_rows(browser: Any) -> list[Any]:
    return [row for row in browser.find_elements("css selector", "#findings-table tbody tr")
            if row.is_displayed()]


def test_browser_renders_revoke_list_and_timelines(browser: Any, tmp_path: Path) -> None:
    url = open_page(browser, tmp_path, sample_audit())
    rows = browser.find_elements("css selector", "#revoke-table tbody tr")
    assert [r.find_element("css selector", "code").text for r in rows] == [
        k["secret_redacted"] for k in sample_audit()["keys"]]
    svgs = browser.find_elements("css selector", "svg.exposure")
    assert len(svgs) == 3
    for svg in svgs:
        assert svg.size["width"] > 300 and svg.size["height"] > 40
    dots = browser.find_elements("css selector", "svg.exposure circle")
    assert len(dots) == 5 and all(d.size["width"] > 0 for d in dots)
    bars = browser.find_elements("css selector", "svg.exposure line.live")
    assert len(bars) == 1 and bars[0].size["width"] > 50
    # The style sheet applied (its hash is in the policy): badges are coloured.
    badge = browser.find_element("css selector", "#revoke-table .sev.high")
    assert badge.value_of_css_property("background-color") == "rgba(198, 40, 40, 1)"
    # Hostile names are shown as text; no element, script or dialog came from them.
    cells = [c.text for c in browser.find_elements("css selector", "#findings-table td")]
    assert any(HOSTILE_PATH in c for c in cells) and HOSTILE_AUTHOR in cells
    assert browser.execute_script("return document.images.length") == 0
    assert browser.execute_script("return document.scripts.length") == 2
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []
    # Nothing but the page itself was requested.
    requested = [json.loads(e["message"])["message"] for e in browser.get_log("performance")]
    urls = {m["params"]["request"]["url"] for m in requested
            if m["method"] == "Network.requestWillBeSent"}
    assert urls == {url}
    assert browser.execute_script("return performance.getEntriesByType('resource').length") == 0


def test_browser_filters_findings(browser: Any, tmp_path: Path) -> None:
    from selenium.webdriver.support.ui import Select

    open_page(browser, tmp_path, sample_audit())
    count = browser.find_element("id", "f-count")
    assert len(visible_rows(browser)) == 5 and count.text == "5 of 5 findings shown"
    Select(browser.find_element("id", "f-severity")).select_by_value("medium")
    assert {r.get_attribute("data-severity") for r in visible_rows(browser)} == {"medium"}
    assert count.text == "2 of 5 findings shown"
    Select(browser.find_element("id", "f-severity")).select_by_value("")
    path = browser.find_element("id", "f-path")
    path.send_keys("DEPLOY/")  # case-insensitive
    assert [r.get_attribute("data-path") for r in visible_rows(browser)] == ["deploy/app.env"]
    path.clear()
    path.send_keys("onerror")
    assert [r.get_attribute("data-path") for r in visible_rows(browser)] == [HOSTILE_PATH]
    path.clear()
    path.send_keys(" ")  # clear() fires no input event: type and delete
    path.send_keys("\b")
    Select(browser.find_element("id", "f-status")).select_by_value("invalid")
    assert [r.get_attribute("data-path") for r in visible_rows(browser)] == [HOSTILE_PATH]
    Select(browser.find_element("id", "f-status")).select_by_value("suppressed")
    assert visible_rows(browser) == [] and count.text == "0 of 5 findings shown"
    Select(browser.find_element("id", "f-status")).select_by_value("")
    Select(browser.find_element("id", "f-rule")).select_by_value("hesedvid-test-key")
    assert len(visible_rows(browser)) == 2


def test_browser_blocks_remote_loads(browser: Any, tmp_path: Path) -> None:
    open_page(browser, tmp_path, sample_audit())
    # Even markup that got into the page could not load anything: the policy refuses it.
    violated = browser.execute_async_script("""
        var done = arguments[arguments.length - 1];
        document.addEventListener("securitypolicyviolation", function (event) {
          done(event.effectiveDirective);
        });
        var image = document.createElement("img");
        image.src = "http://127.0.0.1:9/x.png";
        document.body.appendChild(image);
    """)
    assert violated == "img-src"


def test_browser_zero_findings(browser: Any, tmp_path: Path) -> None:
    open_page(browser, tmp_path, empty_audit())
    assert "No findings." in browser.find_element("id", "findings").text
    assert browser.find_elements("css selector", "svg") == []
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []


def element_png(browser: Any, selector: str) -> bytes:
    """A picture of the first element ``selector`` finds, whole even where it is taller than
    the window (an element's own screenshot stops at the window's edge)."""
    import base64

    box = browser.execute_script(
        "var box = document.querySelector(arguments[0]).getBoundingClientRect();"
        "return [box.left + scrollX, box.top + scrollY, box.width, box.height];", selector)
    clip = dict(zip(("x", "y", "width", "height"), box, strict=True), scale=1)
    shot = browser.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "clip": clip, "captureBeyondViewport": True})
    return base64.b64decode(shot["data"])


def test_browser_screenshots(browser: Any, tmp_path: Path) -> None:
    """The sample report's screenshots (docs/audit.md): checked here, written to docs/images/
    with HVSCAN_UPDATE_GOLDEN=1."""
    open_page(browser, tmp_path, sample_audit())
    shots = {
        "report-summary.png": browser.get_screenshot_as_png(),
        "report-timeline.png": element_png(browser, "article.key"),
        "report-findings.png": element_png(browser, "#findings"),
    }
    for name, png in shots.items():
        assert png.startswith(b"\x89PNG\r\n\x1a\n")
        width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
        assert width > 600 and height > 150, name
        if UPDATE_GOLDEN:
            DOCS_IMAGES.mkdir(exist_ok=True)
            (DOCS_IMAGES / name).write_bytes(png)


def test_a_key_in_a_name_is_marked_in_the_findings_table() -> None:
    from report_sample import name_result

    from hvscan.report import ReportOptions
    from hvscan.report.html_format import page
    from hvscan.report.json_format import report_dict
    from hvscan.shown import reported

    html = page(report_dict(reported(name_result()), ReportOptions()))
    assert html.count(" (name):1:") == 2
