"""Settings: where a scan's configuration comes from (the files and directories looked up,
``HVSCAN_*`` variables), shared by the full command line and the hook's fast path.

``discovery`` finds where configuration could come from, with ``os`` alone, so the fast path
decides from the same directories as the full command line (``hvscan/config.py``), which reads
and checks what it finds.
"""
