"""The data registry: public URLs and sha256 for every file, local seeding, mismatches."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from hvrmet.data.registry import DataRegistry, default_registry, file_sha256
from hvrmet.errors import ChecksumMismatch, DataFileMissing

KEY = "metpy/staticdata/may4_sounding.txt"


def test_every_entry_has_url_and_sha256():
    reg = DataRegistry(data_dir=None)
    assert len(reg.keys()) > 400
    for k in reg.keys():
        e = reg.entry(k)
        assert e.url.startswith("https://") and e.url.endswith(k.split("/", 1)[1].split("staticdata/")[-1])
        assert len(e.sha256) == 64 and int(e.sha256, 16) >= 0
    assert reg.entry("metpy/staticdata/KTLX19990503_235621.gz").url == \
        "https://github.com/Unidata/MetPy/raw/v1.7.1/staticdata/KTLX19990503_235621.gz"


def test_registry_matches_metpy_manifest(data_dir):
    """Our sha256s agree with MetPy's own manifest of its static data."""
    theirs = {}
    for line in (data_dir / "metpy/src/metpy/static-data-manifest.txt").read_text().splitlines():
        name, sha = line.split()
        theirs[name] = sha
    reg = DataRegistry(data_dir)
    checked = 0
    for k in reg.glob("metpy/staticdata/*"):
        name = k.removeprefix("metpy/staticdata/")
        if name in theirs:
            assert reg.entry(k).sha256 == theirs[name], k
            checked += 1
    assert checked > 70


def test_fetch_from_local_folder_verifies(data_dir):
    reg = DataRegistry(data_dir)
    p = reg.fetch(KEY)
    # both sides resolved: the data folder may be reached through a symlink (../shared)
    assert p.resolve() == (data_dir / KEY).resolve()
    assert file_sha256(p) == reg.entry(KEY).sha256


def test_checksum_mismatch_names_file(tmp_path, data_dir):
    local = tmp_path / KEY
    local.parent.mkdir(parents=True)
    shutil.copyfile(data_dir / KEY, local)
    with open(local, "r+b") as fh:
        fh.seek(100)
        fh.write(b"9")
    with pytest.raises(ChecksumMismatch) as info:
        DataRegistry(tmp_path, cache_dir=tmp_path / "cache").fetch(KEY)
    assert str(local) in str(info.value)


def test_missing_everywhere_is_data_file_missing(tmp_path, monkeypatch):
    reg = DataRegistry(tmp_path / "empty", cache_dir=tmp_path / "cache")
    # an address nothing answers on: the download fails at once, as on an offline machine
    monkeypatch.setitem(reg._pooch.urls, KEY, "http://127.0.0.1:9/may4_sounding.txt")
    with pytest.raises(DataFileMissing, match="HVRMET_DATA_DIR"):
        reg.fetch(KEY)
    with pytest.raises(DataFileMissing, match="not in the hvrmet data registry"):
        reg.fetch("no/such/file.txt")


def test_metpy_uses_local_static_data(data_dir):
    default_registry()
    from metpy.cbook import get_test_data

    path = get_test_data("us_states_20m.shp", as_file_obj=False)
    # both sides resolved: the data folder may be reached through a symlink (../shared)
    assert Path(path).resolve().is_relative_to(data_dir.resolve())


def test_no_data_files_in_repository():
    """The repository lists data by sha256; it must never hold the files themselves."""
    import subprocess

    root = Path(__file__).resolve().parents[1]
    tracked = subprocess.run(["git", "ls-files"], cwd=root, capture_output=True, text=True).stdout.split()
    known = {e.sha256 for e in DataRegistry(None).entries.values()}
    hits = [f for f in tracked if (root / f).is_file() and file_sha256(root / f) in known]
    assert not hits
