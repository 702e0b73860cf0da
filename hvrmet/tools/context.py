"""What a running tool can reach: the case, its place and time, its decoded data (cached
per process), and where to write figures. The context records every file read, with its
sha256, and builds the window a tool searches (:meth:`ToolContext.window`)."""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from hvrmet.cases import Case, get_case
from hvrmet.cases.model import CONTEXT_ONLY_ROLES
from hvrmet.cases.catalogue import case_files, read_files, reader_options
from hvrmet.data.sniff import sniff
from hvrmet.data.registry import file_sha256
from hvrmet.errors import VariableMissing
from hvrmet.tools.results import FileRef
from hvrmet.tools.window import Window, window_of

__all__ = ["ToolContext", "DatasetCache", "CACHE"]


def _nbytes(ds) -> int:
    if isinstance(ds, tuple):  # a derived product: its arrays and datasets
        return sum(_nbytes(x) for x in ds)
    try:
        return int(ds.nbytes)
    except Exception:  # noqa: BLE001 - an object without a size counts as small
        return 0


class DatasetCache:
    """Decoded datasets keyed by their files' paths and sha256 (LRU, per process), bounded
    by count and by memory (``max_mb``: the newest entry always stays)."""

    def __init__(self, maxsize: int = 24, max_mb: float = 3000.0) -> None:
        self.maxsize = maxsize
        self.max_bytes = int(max_mb * 1e6)
        self._data: OrderedDict[tuple, xr.Dataset] = OrderedDict()
        self._sizes: dict[tuple, int] = {}
        self._lock = threading.RLock()
        self.hits = 0
        self.misses = 0

    def get(self, key: tuple) -> xr.Dataset | None:
        with self._lock:
            ds = self._data.get(key)
            if ds is not None:
                self._data.move_to_end(key)
                self.hits += 1
            return ds

    def put(self, key: tuple, ds: xr.Dataset) -> None:
        with self._lock:
            self.misses += 1
            self._data[key] = ds
            self._sizes[key] = _nbytes(ds)
            self._data.move_to_end(key)
            while len(self._data) > 1 and (len(self._data) > self.maxsize
                                            or sum(self._sizes.values()) > self.max_bytes):
                old, _ = self._data.popitem(last=False)
                self._sizes.pop(old, None)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self._sizes.clear()
            self.hits = self.misses = 0


CACHE = DatasetCache(int(os.environ.get("HVRMET_CACHE_DATASETS", "24")),
                     float(os.environ.get("HVRMET_CACHE_MB", "3000")))


class ToolContext:
    """The case a tool call works on, its data by role, and the output folder."""

    def __init__(self, case: str, data_dir: str | None = None, files: dict[str, str] | None = None,
                 out_dir: str | Path | None = None) -> None:
        self.case: Case = get_case(case, data_dir)
        self.explicit = dict(files or {})
        self.out_dir = Path(out_dir or os.environ.get("HVRMET_OUT_DIR", "out")) / "figures"
        self.files_read: list[FileRef] = []
        self.cache_hits = 0

    @property
    def place(self) -> tuple[float, float, str]:
        """The case's place: latitude, longitude (degree) and its name (from the case file,
        or for a case built from a folder, from its data; the case's notes say which)."""
        loc = self.case.location
        return float(loc.lat), float(loc.lon), loc.place or ""

    @property
    def case_time(self):
        """The case's reference time (naive UTC ``datetime``)."""
        return self.case.time

    def window(self, kind: str, args=None, *, box=None, start=None, end=None,
               center: tuple[float, float] | None = None) -> Window:
        """The window a tool searches: around the case's place and time, with the defaults
        of ``kind`` (:data:`hvrmet.tools.window.DEFAULTS`) unless ``args`` (a
        :class:`~hvrmet.tools.inputs.WindowInput`) gives ``radius`` / ``time_window``;
        ``box``, ``start`` and ``end`` limit it further (a box given without a radius
        replaces the default radius); ``center`` (lat, lon) moves it off the case's place.
        A case whose place is a region (``location.radius_km``) searches at least that far."""
        lat, lon, name = self.place
        if center is not None:
            lat, lon, name = float(center[0]), float(center[1]), "the point asked for"
        area = self.case.location.radius_km if center is None else None
        return window_of(kind, lat, lon, self.case_time, radius_km=getattr(args, "radius", None),
                         time_window_h=getattr(args, "time_window", None), box=box, start=start, end=end,
                         place=name, area_km=area)

    def has(self, role: str) -> bool:
        """Whether the case (or the explicit files) provide ``role`` (never a context-only one)."""
        return role not in CONTEXT_ONLY_ROLES and (role in self.explicit or role in self.case.roles)

    def load(self, role: str) -> xr.Dataset:
        """The decoded dataset of ``role`` (from the cache when already decoded).

        A context-only role (:data:`~hvrmet.cases.model.CONTEXT_ONLY_ROLES`, e.g. the local
        storm reports kept for scoring) is refused, from the case and from explicit files."""
        return self._dataset(*self._source(role))

    def derived(self, role: str, name: str, make: Callable[[xr.Dataset], Any]) -> Any:
        """``make(self.load(role))``, computed once per process for the same files (kept in
        the dataset cache beside the decoded data, under ``name``): a product several tools
        need, such as a composite's quality-controlled rain rates. The files count as read
        by this call, as :meth:`load` counts them. What ``make`` returns is shared between
        callers: treat it as read-only (numpy arrays in it are made read-only)."""
        source = self._source(role)
        key = ("derived", name, source[3])
        got = CACHE.get(key)
        if got is not None:
            self.cache_hits += 1
            return got
        got = make(self._dataset(*source))
        for a in (got if isinstance(got, tuple) else (got,)):
            if isinstance(a, np.ndarray):
                a.flags.writeable = False
        CACHE.put(key, got)
        return got

    def _dataset(self, fmt: str, paths: list, options: dict, key: tuple) -> xr.Dataset:
        """The decoded dataset of one source (:meth:`_source`), from the cache when there."""
        ds = CACHE.get(key)
        if ds is not None:
            self.cache_hits += 1
            return ds
        ds = read_files(fmt, paths, options)
        CACHE.put(key, ds)
        return ds

    def _source(self, role: str) -> tuple[str, list, dict, tuple]:
        """The format, files, reader options and cache key of ``role``; its files are
        recorded as read."""
        if role in CONTEXT_ONLY_ROLES:
            raise VariableMissing(self.case.source_path or self.case.id,
                                  f"role {role!r} is context for scoring only: the diagnosis may not read it")
        if role in self.explicit:
            path = Path(self.explicit[role]).expanduser()
            if not path.is_absolute() and self.case.resolved_data_dir():
                path = self.case.resolved_data_dir() / path
            found = sniff(path)  # the format and the options its content implies (a composite's importer)
            fmt = found.format
            paths = [(path, file_sha256(path))]
            options = reader_options(self.case, fmt, found.options)
        else:
            if role not in self.case.roles:
                raise VariableMissing(self.case.source_path or self.case.id,
                                      f"case {self.case.id!r} has no file of role {role!r}; "
                                      f"its roles: {', '.join(self.case.roles) or 'none'}")
            entry = self.case.file(role)
            fmt = entry.format
            options = reader_options(self.case, fmt, entry.options)
            paths = case_files(self.case, role)
        for p, sha in paths:
            self.files_read.append(FileRef(path=str(p), sha256=sha, role=role))
        key = (fmt, tuple(str(p) for p, _ in paths), tuple(s for _, s in paths),
               tuple(sorted((k, repr(v)) for k, v in options.items())))
        return fmt, paths, options, key
