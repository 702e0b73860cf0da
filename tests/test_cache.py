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


def test_derived_products_are_made_once_read_only_and_sized():
    """ToolContext.derived: one computation per process for the same files, shared by later
    calls (and other contexts); the arrays it returns are read-only; the files count as read
    by each call; a tuple's arrays count toward the memory bound."""
    import pytest

    from hvrmet.tools.context import CACHE, ToolContext, _nbytes

    calls = []

    def make(ds):
        calls.append(1)
        return np.asarray(ds["precip"].values[:2], dtype=np.float32) * 2, {"n": 2}

    CACHE.clear()
    a = ToolContext("fmi20170509")
    arr, rep = a.derived("composite_sequence", "test_product", make)
    b = ToolContext("fmi20170509")
    arr2, _ = b.derived("composite_sequence", "test_product", make)
    assert len(calls) == 1 and arr2 is arr and rep == {"n": 2}
    assert not arr.flags.writeable
    with pytest.raises(ValueError):
        arr[0, 0, 0] = 1.0
    ds = a.load("composite_sequence")
    assert np.array_equal(arr, np.asarray(ds["precip"].values[:2], dtype=np.float32) * 2, equal_nan=True)
    assert b.files_read and {f.role for f in b.files_read} == {"composite_sequence"}
    assert len(b.files_read) == len({f.path for f in b.files_read})  # recorded once per call
    other, _ = a.derived("composite_sequence", "another_product", make)
    assert len(calls) == 2 and other is not arr
    assert _nbytes((arr, {"n": 2}, _ds(100))) == arr.nbytes + 800


def test_a_derived_array_alone_is_read_only_too():
    from hvrmet.tools.context import CACHE, ToolContext

    CACHE.clear()
    arr = ToolContext("fmi20170509").derived("composite_sequence", "bare_array",
                                             lambda ds: np.zeros((3, 4), dtype=np.float32))
    assert isinstance(arr, np.ndarray) and not arr.flags.writeable
