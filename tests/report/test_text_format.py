"""The text report (its golden file is checked in tests/report/test_init.py)."""

from __future__ import annotations

from collections.abc import Callable

from report_sample import name_result


def test_a_key_in_a_name_is_marked_where_it_is(render: Callable[..., str]) -> None:
    lines = render("text", name_result()).splitlines()
    places = [line.split(": hesedvid")[0] for line in lines if ": hesedvid-live-key [" in line]
    assert [place.rsplit(" (name):", 1)[1] for place in places] == ["1:8", "1:5"]
    assert places[0].startswith("config-hv_live_") and ".txt" in places[0]
    assert places[1].startswith("sub/dir-hv_live_") and places[1].endswith("/ (name):1:5")
    assert "rename it" in render("text", name_result())
