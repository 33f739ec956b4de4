"""The model layer: the records every floor shares, and the import layering above it."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from keygen import make_key

from hvscan.engine import Engine
from hvscan.findings import make_finding
from hvscan.model import Finding, History, Note, Origin, member_path, moment
from hvscan.rules import load_builtin_rules

PACKAGE = Path(__file__).resolve().parent.parent / "hvscan"


def a_finding(origin: Origin) -> Finding:
    [match] = Engine(load_builtin_rules()).scan(f"k = {make_key('live', 'model')}\n".encode())
    return make_finding(match, origin)


def test_member_paths_join_with_a_bang() -> None:
    assert member_path("a.zip", None) == "a.zip"
    assert member_path("a.zip", "b.jar!c.txt") == "a.zip!b.jar!c.txt"
    assert member_path(None, "inner.txt") == "inner.txt"


def test_moment_sorts_by_instant_with_no_date_and_no_date_at_all_last() -> None:
    assert moment("2024-06-02T01:00:00+02:00") == moment("2024-06-01T23:00:00Z")
    assert moment("2024-06-01T08:00:00Z") < moment("2024-06-01T23:00:00Z")
    # A report given to hvscan merge may hold anything: what is no date sorts as none.
    assert moment(None) == moment("") == moment("someday") == float("inf")


def test_a_finding_never_shows_its_key_in_repr_and_copies_apart() -> None:
    finding = a_finding(Origin("file", "x.py"))
    assert finding.secret not in repr(finding) and finding.secret_redacted in repr(finding)
    moved = finding.replace(path="y.py")
    assert (moved.path, finding.path) == ("y.py", "x.py")
    assert moved != finding and moved.replace(path="x.py") == finding
    # Hints are never reported and do not make two findings differ.
    assert finding.replace(hints={"org_id": "o"}) == finding


def test_history_fields_are_reported_in_the_documented_order() -> None:
    placed = History(blob="b10b", other_commits=0, other_paths=2)
    assert list(placed.reported().items()) == [("blob", "b10b"), ("other_commits", 0),
                                               ("other_paths", 2)]
    tag = History(tag="v1", tag_object="7a9", unreachable=True)
    assert list(tag.reported()) == ["unreachable", "tag", "tag_object"]
    finding = a_finding(Origin("history", None, history=History(blob="b10b")))
    finding.untrusted_suppression = "inline"
    assert finding.source_fields() == {"blob": "b10b", "untrusted_suppression": "inline"}
    assert a_finding(Origin("file", "x.py")).source_fields() == {}


def test_a_note_says_where_it_is() -> None:
    assert Note("a.zip!b", "damaged", False, "file").place == "a.zip!b"
    assert Note(None, "damaged", False, "commit-message", "c0ffee").place == (
        "(commit-message) (commit c0ffee)")


def test_the_pipeline_and_its_records_load_without_dataclasses() -> None:
    """Every run loads the model: it must not cost the start-up the import of dataclasses."""
    modules = "hvscan.model, hvscan.sources.files, hvscan.scan, hvscan.engine, hvscan.findings"
    code = f"import sys, {modules}; print('dataclasses' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True)
    assert done.stdout == b"False\n"


# --- layering: each floor imports only the floors below ------------------------------------


def runtime_imports(path: Path) -> set[str]:
    """The hvscan modules ``path`` imports when it runs (``if TYPE_CHECKING:`` blocks are for
    the type checker only), wherever in the module the import statement is."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only = {id(node) for block in ast.walk(tree) if isinstance(block, ast.If)
                   and ast.unparse(block.test) == "TYPE_CHECKING"
                   for statement in block.body for node in ast.walk(statement)}
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            assert not node.level, f"{path}: hvscan's imports are absolute"
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return {name for name in found if name.split(".")[0] == "hvscan" and _module(name)}


def _module(name: str) -> bool:
    parts = name.split(".")
    return (PACKAGE.parent.joinpath(*parts).with_suffix(".py").is_file()
            or (PACKAGE.parent.joinpath(*parts) / "__init__.py").is_file())


def module_graph() -> dict[str, set[str]]:
    graph = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        name = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        name = name.removesuffix(".__init__")
        graph[name] = runtime_imports(path) - {name}
    return graph


def test_the_model_imports_nothing_of_hvscan() -> None:
    assert runtime_imports(PACKAGE / "model.py") == set()


def test_the_engine_does_not_import_suppression_sources_or_reports() -> None:
    graph = module_graph()
    for name in ("hvscan.engine", "hvscan.decode", "hvscan.containers", "hvscan.prefilter"):
        assert not {m for m in graph[name] if m.startswith(
            ("hvscan.suppress", "hvscan.sources", "hvscan.report", "hvscan.scan"))}, name


def test_sources_know_nothing_of_keys_findings_or_reports() -> None:
    graph = module_graph()
    for name, imported in graph.items():
        if name.startswith("hvscan.sources"):
            assert not {m for m in imported if m.startswith((
                "hvscan.engine", "hvscan.findings", "hvscan.scan", "hvscan.report",
                "hvscan.suppress", "hvscan.attribution"))}, name


def cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """An import cycle in ``graph`` (module -> modules it imports), or None."""
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> list[str] | None:
        if name in path:
            return [*path[path.index(name):], name]
        if name in done:
            return None
        for imported in sorted(graph.get(name, ())):
            found = visit(imported, [*path, name])
            if found:
                return found
        done.add(name)
        return None

    for name in sorted(graph):
        found = visit(name, [])
        if found:
            return found
    return None


# The command line's floor: the entry point (fastpath), the click command line it falls back to,
# and the runner both reach.
COMMAND_LINE = ("hvscan.__main__", "hvscan.cli", "hvscan.fastpath", "hvscan.runner")


def test_there_are_no_import_cycles_below_the_command_line() -> None:
    graph = {name: imported for name, imported in module_graph().items()
             if name not in COMMAND_LINE}
    assert cycle(graph) is None


def test_there_are_no_import_cycles() -> None:
    assert cycle(module_graph()) is None


def test_a_cycle_is_seen() -> None:
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None
