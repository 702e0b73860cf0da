"""The data registry: every real data file the project knows, by public URL and sha256.

Built on :mod:`pooch`, as MetPy's own test data are. The registry table
(``registry.tsv`` beside this module, written by ``tools/build_data_manifest.py``)
lists each file's key (its path inside a data folder, e.g.
``metpy/staticdata/KTLX19990503_235621.gz``), public URL and sha256.

Where a file comes from, in order:

1. the folder named by ``HVRMET_DATA_DIR`` (or given to :class:`DataRegistry`), when the
   file is there: it is served in place after its sha256 is checked;
2. otherwise pooch's cache (``HVRMET_CACHE_DIR`` or the user cache), downloading from the
   public URL on a connected machine.

A checksum mismatch raises :class:`~hvrmet.errors.ChecksumMismatch`; a file that is
neither in the data folder nor downloadable raises :class:`~hvrmet.errors.DataFileMissing`.
"""

from __future__ import annotations

import csv
import fnmatch
import functools
import hashlib
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import pooch

from hvrmet.errors import ChecksumMismatch, DataError, DataFileMissing

__all__ = ["RegistryEntry", "DataRegistry", "default_registry", "fetch", "file_sha256",
           "configure_metpy"]

ENV_DATA_DIR = "HVRMET_DATA_DIR"
ENV_CACHE_DIR = "HVRMET_CACHE_DIR"


@dataclass(frozen=True)
class RegistryEntry:
    """One registered data file."""

    key: str
    url: str
    sha256: str
    size_bytes: int
    what: str
    event_date: str
    format: str
    license: str


@functools.lru_cache(maxsize=4096)
def _hash_cached(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_sha256(path: str | Path) -> str:
    """Return the sha256 of a file, hex-encoded; cached per (path, size, mtime).

    Raises
    ------
    DataFileMissing
        If the file does not exist.
    """
    p = Path(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        raise DataFileMissing(p, "file not found") from None
    if not p.is_file():
        raise DataFileMissing(p, "not a regular file")
    return _hash_cached(str(p.resolve()), st.st_size, st.st_mtime_ns)


def _load_table() -> dict[str, RegistryEntry]:
    text = resources.files("hvrmet.data").joinpath("registry.tsv").read_text()
    table = {}
    for rec in csv.DictReader(text.splitlines(), delimiter="\t"):
        rec["size_bytes"] = int(rec["size_bytes"])
        entry = RegistryEntry(**rec)
        table[entry.key] = entry
    return table


class DataRegistry:
    """The registered data files and where to get them.

    Parameters
    ----------
    data_dir
        A local folder laid out like the registry keys (``HVRMET_DATA_DIR`` if ``None``).
    cache_dir
        pooch's download cache (``HVRMET_CACHE_DIR`` or the user cache if ``None``).
    """

    def __init__(self, data_dir: str | Path | None = None,
                 cache_dir: str | Path | None = None) -> None:
        if data_dir is None:
            data_dir = os.environ.get(ENV_DATA_DIR) or None
        self.data_dir = Path(data_dir).resolve() if data_dir else None
        self.entries = _load_table()
        self._pooch = pooch.create(
            path=cache_dir or os.environ.get(ENV_CACHE_DIR) or pooch.os_cache("hvrmet"),
            base_url="",
            registry={k: f"sha256:{e.sha256}" for k, e in self.entries.items()},
            urls={k: e.url for k, e in self.entries.items()},
        )

    def __contains__(self, key: str) -> bool:
        return key in self.entries

    @property
    def cache_dir(self) -> Path:
        """pooch's download cache."""
        return Path(self._pooch.abspath).resolve()

    def keys(self) -> list[str]:
        """All registered keys, sorted."""
        return sorted(self.entries)

    def glob(self, pattern: str) -> list[str]:
        """Registered keys matching a shell pattern, sorted (no listing of folders)."""
        return sorted(k for k in self.entries if fnmatch.fnmatchcase(k, pattern))

    def entry(self, key: str) -> RegistryEntry:
        """The registry row of ``key``."""
        try:
            return self.entries[key]
        except KeyError:
            raise DataFileMissing(key, "not in the hvrmet data registry") from None

    def verify(self, key: str, path: str | Path) -> str:
        """Check a local copy of ``key`` against the registry; return its sha256."""
        expected = self.entry(key).sha256
        got = file_sha256(path)
        if got != expected:
            raise ChecksumMismatch(
                path, f"sha256 {got} does not match the registry's {expected} for {key}; "
                      "the file is corrupted or not the registered one")
        return got

    def fetch(self, key: str) -> Path:
        """Return a verified local path for ``key``, downloading it if need be."""
        self.entry(key)
        if self.data_dir is not None:
            local = self.data_dir / key
            if local.is_file():
                self.verify(key, local)
                return local
        try:
            return Path(self._pooch.fetch(key, progressbar=False))
        except ValueError as exc:  # pooch: hash mismatch after download
            raise ChecksumMismatch(key, str(exc)) from None
        except Exception as exc:  # network unreachable, HTTP error
            where = f" and not in {self.data_dir}" if self.data_dir else ""
            raise DataFileMissing(
                key, f"cannot be downloaded from {self.entry(key).url} ({type(exc).__name__})"
                     f"{where}; set {ENV_DATA_DIR} to a folder holding the data") from None


@functools.lru_cache(maxsize=8)
def _registry_for(data_dir: str | None) -> DataRegistry:
    return DataRegistry(data_dir)


def default_registry() -> DataRegistry:
    """The registry for the current ``HVRMET_DATA_DIR`` (one instance per folder)."""
    reg = _registry_for(os.environ.get(ENV_DATA_DIR) or None)
    configure_metpy(reg)
    return reg


def fetch(key: str) -> Path:
    """Shorthand for ``default_registry().fetch(key)``."""
    return default_registry().fetch(key)


def configure_metpy(registry: DataRegistry | None = None) -> Path | None:
    """Point MetPy's own test-data lookup at the local copy of its static data.

    MetPy finds its US state and county shapefiles and station tables through
    ``metpy.cbook.get_test_data``, whose folder comes from ``TEST_DATA_DIR``. With a local
    data folder this makes MetPy's map features work with no download. Returns the folder
    used, or ``None`` when there is no local copy.
    """
    registry = registry or _registry_for(os.environ.get(ENV_DATA_DIR) or None)
    if registry.data_dir is None:
        return None
    static = registry.data_dir / "metpy" / "staticdata"
    if not static.is_dir():
        return None
    os.environ.setdefault("TEST_DATA_DIR", str(static))
    import sys
    cbook = sys.modules.get("metpy.cbook")
    if cbook is not None and hasattr(cbook, "POOCH"):
        cbook.POOCH.path = Path(os.environ["TEST_DATA_DIR"])
    return static


def resolve(key_or_path: str | Path, data_dir: str | Path | None = None) -> tuple[Path, str]:
    """Find a file by registry key or path; return ``(path, sha256)``.

    A registered key is fetched and verified. Any other path is taken relative to
    ``data_dir`` (when not absolute) and hashed for provenance; if its relative path is
    also a registry key, it is verified against the registry too.
    """
    reg = default_registry() if data_dir is None else _registry_for(str(Path(data_dir).resolve()))
    key = str(key_or_path)
    if data_dir is None and key in reg:
        path = reg.fetch(key)
        return path, reg.entry(key).sha256
    p = Path(key_or_path)
    if not p.is_absolute() and data_dir is not None:
        p = Path(data_dir) / p
    if not p.exists():
        if key in reg:
            path = reg.fetch(key)
            return path, reg.entry(key).sha256
        raise DataFileMissing(p, "file not found")
    if key in reg:
        return p, reg.verify(key, p)
    if not p.is_file():
        raise DataError(p, "not a regular file")
    return p, file_sha256(p)
