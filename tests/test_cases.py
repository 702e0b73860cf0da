"""The case catalogue and user case files."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from hvrmet.cases import ROLES, get_case, list_cases, load_case, load_role
from hvrmet.data.registry import default_registry
from hvrmet.errors import CaseError, DataError, VariableMissing

REQUIRED = ["may1999", "katrina2005", "superstorm1993", "cyclone2010", "oun20110522", "null-jan20",
            "null-dec9", "heatdome2021", "henri2021", "mci20160526", "mrms20190610", "mch20150515",
            "fmi", "knmi20100826", "bom20180616"]


def test_catalogue_has_required_cases():
    ids = {c.id for c in list_cases()}
    assert len(ids) >= 15
    assert set(REQUIRED) <= ids


def test_every_case_names_registered_files():
    reg = default_registry()
    for case in list_cases():
        assert case.events is not None and case.title and case.location
        for f in case.files:
            assert f.role in ROLES
            if f.path:
                assert f.path in reg, f"{case.id}: {f.path} not in the registry"
            else:
                assert len(reg.glob(f.glob)) >= 2, f"{case.id}: pattern {f.glob} matches too little"


@pytest.mark.parametrize("case_id", [c.id for c in list_cases()])
def test_every_case_loads(data_dir, load, case_id):
    case = get_case(case_id)
    for role in case.roles:
        ds = load(case_id, role)
        assert ds.data_vars, f"{case_id}/{role} decoded no variable"
        assert ds.attrs["source_sha256"] and all(len(s) == 64 for s in ds.attrs["source_sha256"])
        # gridded data carry lat/lon coordinates; a radar sweep tree its site's latitude at the root
        assert "lat" in ds.coords or "vertex_lat" in ds or "latitude" in ds.attrs or "latitude" in ds.coords \
            or "site_latitude" in ds.attrs or role in ("upper_air",), f"{case_id}/{role} has no position"


def test_unknown_case_and_role():
    with pytest.raises(CaseError, match="known cases: .*may1999"):
        get_case("may1998")
    with pytest.raises(VariableMissing, match="no file of role 'sounding'"):
        load_role(get_case("katrina2005"), "sounding")


def test_user_case_file_with_own_data_folder(tmp_path, data_dir):
    """A case written elsewhere, its files in another folder, needs no change to hvrmet."""
    mine = tmp_path / "my-data"
    (mine / "soundings").mkdir(parents=True)
    shutil.copyfile(data_dir / "metpy/staticdata/20110522_OUN_12Z.txt", mine / "soundings/oun.txt")
    case_file = tmp_path / "cases" / "joplin.yaml"
    case_file.parent.mkdir()
    case_file.write_text(yaml.safe_dump({
        "id": "joplin-env", "title": "OUN 12Z 22 May 2011", "time": "2011-05-22T12:00:00Z",
        "location": {"lat": 35.18, "lon": -97.44},
        "files": [{"role": "sounding", "format": "uwyo_sounding", "path": "soundings/oun.txt"}],
        "data_dir": "../my-data",
    }))
    case = get_case(str(case_file))
    ds = load_case(case)["sounding"]
    assert float(ds.pressure[1]) == 966.0
    assert Path(ds.attrs["source_file"]).resolve() == (mine / "soundings/oun.txt").resolve()
    # --data-dir overrides the file's own folder
    other = tmp_path / "other"
    shutil.copytree(mine, other)
    src = Path(load_role(get_case(case_file, other), "sounding").attrs["source_file"])
    assert src.resolve().is_relative_to(other.resolve())


def test_bad_case_file_is_case_error(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: Bad Id\ntitle: x\n")
    with pytest.raises(CaseError, match="invalid case"):
        get_case(bad)
    bad.write_text("id: ok\ntitle: x\ntime: 2020-01-01T00:00Z\nlocation: {lat: 0, lon: 0}\n"
                   "files: [{role: spaghetti, format: netcdf, path: x.nc}]\n")
    with pytest.raises(CaseError, match="unknown role"):
        get_case(bad)


def test_corrupted_file_in_user_case_is_data_error(tmp_path, data_dir):
    mine = tmp_path / "d"
    mine.mkdir()
    src = (data_dir / "metpy/staticdata/KTLX19990503_235621.gz").read_bytes()
    (mine / "vol.gz").write_bytes(src[: len(src) // 2])
    (tmp_path / "c.yaml").write_text(yaml.safe_dump({
        "id": "cut", "title": "cut volume", "time": "1999-05-03T23:56:00Z",
        "location": {"lat": 35.3, "lon": -97.3, "radar_site": "KTLX"},
        "files": [{"role": "radar_volume", "format": "nexrad_level2", "path": "vol.gz"}],
        "data_dir": "d"}))
    with pytest.raises(DataError) as info:
        load_case(get_case(tmp_path / "c.yaml"))
    assert "vol.gz" in str(info.value)


def test_netcdf_then_grib_exits_cleanly(data_dir):
    """The netCDF4 and eccodes wheels clash at exit if loaded in the wrong order."""
    code = ("from hvrmet.cases import get_case, load_role\n"
            "load_role(get_case('cyclone2010'), 'analysis')\n"
            "load_role(get_case('era5uk201903'), 'analysis')\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
