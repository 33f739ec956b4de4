"""The summary line that ends every text report and that the other formats print on standard
error (``hvscan: scanned 2 files (3.0 KB); 0 findings``): its shape, shared by the text report
(hvscan/report/text_format.py, which adds the parts a scan may have) and the hook's fast path
(which only ever reports a clean scan). Imports nothing but hvscan/units.py."""

from __future__ import annotations

from hvscan.units import counted, format_size


def scanned(files: int, size: int) -> str:
    return f"scanned {counted(files, 'file')} ({format_size(size)})"


def line(parts: list[str]) -> str:
    return "hvscan: " + "; ".join(parts)


def clean(files: int, size: int) -> str:
    """The summary of a scan that found nothing and had nothing to note."""
    return line([scanned(files, size), counted(0, "finding")])
