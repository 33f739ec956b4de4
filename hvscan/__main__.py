"""Entry point for ``python -m hvscan``."""

from hvscan.fastpath import main

main()
