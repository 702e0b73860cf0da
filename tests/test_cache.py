"""The per-process dataset cache is bounded by count and by memory."""

import numpy as np
import xarray as xr

from hvrmet.tools.context import DatasetCache


def _ds(n: int) -> xr.Dataset:
    return xr.Dataset({"a": ("x", np.zeros(n))})  # 8 n bytes


def test_cache_evicts_by_memory_and_count():
    c = DatasetCache(maxsize=10, max_mb=1.0)
    for i in range(5):
        c.put((i,), _ds(50_000))  # 0.4 MB each
    assert list(c._data) == [(3,), (4,)]  # 0.8 MB kept, the oldest gone
    assert c.get((4,)) is not None and c.get((0,)) is None
    big = DatasetCache(maxsize=10, max_mb=0.1)
    big.put(("huge",), _ds(1_000_000))  # larger than the bound: the newest always stays
    assert list(big._data) == [("huge",)]
    few = DatasetCache(maxsize=2, max_mb=1000)
    for i in range(4):
        few.put((i,), _ds(10))
    assert list(few._data) == [(2,), (3,)]
