"""Settings, without click: where a scan's configuration comes from and what a command runs with.

- ``discovery``: where configuration is looked up (the directories from the scan's start to the
  repository's top, ``HVSCAN_*`` variables), with ``os`` (and ``tomllib`` for a
  ``pyproject.toml`` that mentions hvscan): the hook's fast path decides from the same places as
  the full command line.
- ``checks``: what each setting's value may be (converters with click's messages).
- ``options``: the typed records a command runs with (scan, output, verification options).

Reading and resolving the files and variables is hvscan/config.py's, on top of these.
"""
