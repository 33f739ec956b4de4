"""Entry point for ``python -m hvscan``."""

from hvscan.cli import main

main()
