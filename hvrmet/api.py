"""The Python API (filled in below)."""
