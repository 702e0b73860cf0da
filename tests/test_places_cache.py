"""The gazetteer kept decoded in the user cache reads back as the package's own file
(parsed here directly with gzip and json), and a broken cache is ignored."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest


@pytest.fixture()
def fresh(monkeypatch, tmp_path):
    from hvrmet.plot import places

    monkeypatch.setenv("HVRMET_CACHE_DIR", str(tmp_path))
    places.gazetteer.cache_clear()
    yield places, tmp_path
    places.gazetteer.cache_clear()


def test_the_cached_gazetteer_is_the_shipped_one(fresh):
    places, tmp = fresh
    first = places.gazetteer()                       # decoded, then kept
    (cached,) = tmp.glob("gazetteer-*.npz")
    places.gazetteer.cache_clear()
    second = places.gazetteer()                      # read from the cache
    with gzip.open(places._gazetteer_file(), "rt", encoding="utf-8") as fh:
        rows = json.load(fh)
    assert len(second.name) == len(rows) == len(first.name)
    biggest = max(rows, key=lambda r: int(r.get("population") or 0))
    assert (second.name[0], second.lat[0], second.lon[0]) == (biggest["city"], biggest["latitude"], biggest["longitude"])
    for a, b in [(first.name, second.name), (first.admin1, second.admin1), (first.country, second.country)]:
        assert list(a) == list(b)
    assert np.array_equal(first.population, second.population) and np.array_equal(first.lat, second.lat)
    assert cached.stat().st_size < 20e6


def test_a_broken_cache_is_ignored_with_a_warning(fresh, caplog):
    places, tmp = fresh
    places.gazetteer()
    (cached,) = tmp.glob("gazetteer-*.npz")
    cached.write_bytes(b"not a numpy file")
    places.gazetteer.cache_clear()
    with caplog.at_level("WARNING", logger="hvrmet.plot.places"):
        g = places.gazetteer()
    assert len(g.name) > 100_000 and any("unreadable gazetteer cache" in r.getMessage() for r in caplog.records)
