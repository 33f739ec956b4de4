"""hvscan: find leaked HesedVid API keys."""

__version__ = "0.1.0"
