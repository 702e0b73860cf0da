"""Level III products: hvrmet's decode against MetPy's Level3File opened directly, every
real file of the nids folder, the products' own counts (NST header: 44 cells), generated
case roles, the tools (a corrupt product among several is named, not fatal), and bad
input that would make MetPy hang."""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
import zlib
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import yaml

from hvrmet.data.readers import nexrad_level3 as l3
from hvrmet.data.readers.nexrad_level3 import is_level3_role, level3_roles, product_role, read_nexrad_level3
from hvrmet.errors import CaseError, DataError, FormatError

pytestmark = pytest.mark.usefixtures("data_dir")

NIDS = "metpy/staticdata/nids"


@pytest.fixture(scope="module")
def nids(data_dir) -> Path:
    return data_dir / NIDS


def _metpy(path: Path):
    from metpy.io import Level3File

    return Level3File(str(path))


def _read(nids: Path, name: str):
    return read_nexrad_level3(nids / name)


# ----------------------------------------------------------------------------- every file
def test_every_nids_file_decodes_or_says_why(nids):
    """Each real file decodes, and a field matches MetPy's own mapped values bin by bin."""
    files = sorted(p for p in nids.iterdir() if p.is_file())
    assert len(files) >= 39
    decoded = {}
    for p in files:
        try:
            ds = read_nexrad_level3(p)
        except DataError as exc:  # allowed, if it names the file and says what is wrong
            assert str(p) in str(exc) and len(exc.problem) > 10, exc
            continue
        f = _metpy(p)
        assert ds.attrs["product_code"] == f.header.code
        assert ds.attrs["product_name"] == f.product_name
        assert ds.attrs["product_role"] in level3_roles()
        decoded[p.name] = ds
        if "data" in ds.data_vars:
            pk = next(pk for layer in f.sym_block for pk in layer if "data" in pk)
            want = np.asarray(f.map_data(np.asarray(pk["data"])), dtype=np.float64)
            want *= 0.01 if f.header.code in (170, 172, 173, 174, 175) else 1.0
            got = ds["data"].values.astype(np.float64)
            assert got.shape == want.shape, p.name
            np.testing.assert_allclose(got, want, rtol=1e-6, equal_nan=True, err_msg=p.name)
            assert np.isfinite(ds["lat"].values).all() and np.isfinite(ds["lon"].values).all()
    assert len(decoded) == len(files), sorted(set(p.name for p in files) - set(decoded))


@pytest.mark.parametrize("name,code,geometry,units,vmax", [
    ("KEAX_N0Q_20200817_0401.nids", 94, "radial", "dBZ", 55.5),            # digital reflectivity
    ("Level3_FTG_N0B_20220304_1820.nids", 153, "radial", "dBZ", 72.5),      # super-resolution reflectivity
    ("KLZK_H0V_20200812_1309", 154, "radial", "m/s", 44.5),                 # super-resolution velocity
    ("KLZK_H0W_20200812_1305", 155, "radial", "m/s", 15.0),                 # spectrum width
    ("KLZK_H0C_20200814_0417", 167, "radial", "1", 1.0517),                 # dual-pol correlation coefficient
    ("KGJX_N0F_20200817_0551.nids", 113, "radial", "dB", 12.0),                  # power removed control
    ("Level3_MCI_TV0_20160526_2154.nids", 182, "radial", "m/s", 54.5),      # TDWR velocity
    ("Level3_DEN_TZ0_20200804_2226.nids", 180, "radial", "dBZ", 66.0),      # TDWR reflectivity
    ("Level3_MCI_TR0_20160526_2154.nids", 181, "radial", "dBZ", 55.0),      # TDWR legacy 16-level
    ("Level3_MCI_TZL_20160526_2154.nids", 186, "radial", "dBZ", 57.0),      # TDWR long range
    ("Level3_MCI_DHR_20160526_2154.nids", 32, "radial", "dBZ", 53.5),       # digital hybrid scan
    ("Level3_MCI_DSP_20160526_2154.nids", 138, "radial", "inch", 4.34),     # digital storm total precipitation
    ("Level3_MCI_N1P_20160526_2154.nids", 78, "radial", "inch", 1.0),       # one-hour precipitation
    ("KRAX_DTA_20200818_0454.nids", 172, "radial", "inch", 2.38),           # digital storm total accumulation
    ("Level3_MCI_NVL_20160526_2154.nids", 57, "raster", "kg/m^2", 50.0),    # VIL
    ("Level3_MCI_NET_20160526_2154.nids", 41, "raster", "kft", 45.0),       # echo tops
    ("Level3_MCI_NCR_20160526_2154.nids", 37, "raster", "dBZ", 60.0),       # composite reflectivity
    ("Level3_MCI_DPA_20160526_2154.nids", 81, "raster", "dBA", 13.75),      # digital precipitation array
])
def test_fields_against_metpy(nids, name, code, geometry, units, vmax):
    ds = _read(nids, name)
    f = _metpy(nids / name)
    assert ds.attrs["product_code"] == code == f.header.code and ds.attrs["geometry"] == geometry
    assert ds["data"].attrs["units"] == units
    assert float(np.nanmax(ds["data"].values)) == pytest.approx(vmax, abs=1e-3)
    pk = f.sym_block[0][0]
    if geometry == "radial":
        assert ds.sizes["azimuth"] == len(pk["start_az"]) and ds.sizes["range"] == len(pk["data"][0])
        assert float(ds.range[-1]) <= f.max_range * 1000.0
        if "el_angle" in f.metadata:
            assert ds.attrs["elevation_angle"] == pytest.approx(f.metadata["el_angle"])
    else:
        assert ds["data"].shape == np.asarray(pk["data"]).shape
    if code == 172:  # hundredths of an inch in MetPy's mapping; the header's maximum is 2.4 in
        assert float(np.nanmax(ds["data"].values)) == pytest.approx(f.metadata["max"], abs=0.05)


def test_vad_wind_profile_against_metpy(nids):
    ds = _read(nids, "Level3_MCI_NVW_20160526_2154.nids")
    f = _metpy(nids / "Level3_MCI_NVW_20160526_2154.nids")
    barbs = [(d, s) for pk in f.sym_block[0] if "direc" in pk for d, s in zip(pk["direc"], pk["speed"])]
    assert ds.attrs["table"] == "vad_winds" and ds.sizes["row"] == len(barbs) == 119
    assert sorted(zip(ds.wind_direction.values, ds.wind_speed.values)) == sorted((float(d), float(s)) for d, s in barbs)
    latest = ds.where(ds.time_hhmm == "2154", drop=True)
    assert latest.sizes["row"] > 0 and set(latest.height_kft.values) <= set(range(1, 51))
    assert ds.wind_speed.attrs["units"] == "knot"


# ----------------------------------------------------------------------------- storm tracks
def _storm_id_packets(f) -> list[dict]:
    return [pk for layer in f.sym_block for pk in layer if pk.get("type") == "Storm ID"]


def test_storm_tracks_all_cells_against_metpy(nids):
    name = "Level3_MCI_NST_20160526_2154.nids"
    ds = _read(nids, name)
    f = _metpy(nids / name)
    ids = _storm_id_packets(f)
    # the header's own count, the symbology's cells and the decoded table agree: 44
    assert f.metadata["num_storms"] == 44 == len(ids) == ds.sizes["row"] == ds.attrs["header_storm_count"]
    assert list(ds.storm_id.values) == [pk["id"] for pk in ids]
    assert np.allclose(ds.x_km.values, [pk["x"] for pk in ids]) and np.allclose(ds.y_km.values, [pk["y"] for pk in ids])
    # the text pages list 34 of them, the graphic pages 36; 8 are only in the symbology
    text_rows = [ln for page in f.tab_pages for ln in page.splitlines() if re.match(r"^\s+[A-Z]\d\s+\d+/", ln)]
    assert len(text_rows) == 34 == ds.attrs["tabular_storm_count"]
    assert ds.attrs["graphic_storm_count"] == 36
    sym_only = ds.where(ds.source == "symbology", drop=True)
    assert sym_only.sizes["row"] == 8
    w0 = ds.where(ds.storm_id == "W0", drop=True)
    assert (w0.azimuth.item(), w0.range_nm.item(), w0.motion_from.item(), w0.motion_speed.item()) == (111, 34, 228, 19)
    assert w0.max_reflectivity.item() == 60.0 and w0.max_reflectivity_height_kft.item() == 14.3
    # a cell only in the symbology: motion from its 15-min forecast position, as MetPy decodes it
    k = list(ds.storm_id.values).index("Y4")
    j = [pk["id"] for pk in ids].index("Y4")
    blocks = f.sym_block[0]
    start = blocks.index(ids[j])
    fc = next(pk for pk in blocks[start:] if "forecast storm position" in str(pk.get("markers")))
    (x0, y0), (x1, y1) = fc["track"][0], fc["track"][1]
    assert ds.motion_speed.values[k] == pytest.approx(math.hypot(x1 - x0, y1 - y0) / 0.25 / 1.852, rel=1e-6)
    assert ds.motion_from.values[k] == pytest.approx((math.degrees(math.atan2(x1 - x0, y1 - y0)) + 180) % 360)
    assert str(ds.motion_source.values[k]) == "symbology forecast track"
    # new cells have no motion; every cell has a position
    assert int(np.isfinite(ds.motion_speed.values).sum()) == 37
    assert np.isfinite(ds.lat.values).all() and ds.attrs["decode_warnings"] == []


def test_storm_tracks_tool_counts_every_cell(data_dir):
    from hvrmet.tools import call_tool

    res = call_tool("get_storm_tracks", {"case": "mci20160526", "radius": "500 km"})  # the whole product
    assert res.ok, res.error
    assert res.value("storm_count") == len(res.table) == res.value("header_storm_count") == 44
    assert res.values["fastest_storm_id"].value == "K5" and res.value("fastest_storm_speed") == 65.0
    assert res.value("mean_motion_speed") == pytest.approx(30.0, abs=3.0)  # the header's AVG SPEED 30 KTS
    assert res.value("mean_motion_direction") == pytest.approx(218.0, abs=5.0)
    assert res.values["mean_motion_speed"].units == "knot"
    assert any("only in the symbology" in w for w in res.warnings)


# ----------------------------------------------------------------------------- mesocyclones
def test_mesocyclones_against_metpy(nids):
    name = "Level3_MCI_NMD_20160526_2154.nids"
    ds = _read(nids, name)
    f = _metpy(nids / name)
    drawn = [pk for layer in f.sym_block for pk in layer if str(pk.get("type", "")).startswith("MDA")]
    assert ds.sizes["row"] == len(drawn) == ds.attrs["symbology_feature_count"] == 10
    assert f.metadata["min_strength_rank"] == 3 and ds.strength_rank.min() >= 3
    first = ds.isel(row=0)
    assert (str(first.circulation_id.values), str(first.storm_id.values)) == ("109", "E5")
    assert float(first.low_level_rotational_velocity) == 40.0 and float(first.max_rotational_velocity) == 74.0
    assert float(first.base_kft) == 2.0 and str(first.base_qualifier.values) == "<"
    assert float(first.depth_kft) == 34.0 and str(first.depth_qualifier.values) == ">"
    assert float(first.msi) == 5637.0 and np.isnan(float(first.motion_speed))
    assert set(ds.tvs.values) == {"N"}
    # the strongest circulation lies where the benchmark's geodesic puts it (127 deg / 31 nm)
    assert float(first.lat) == pytest.approx(39.1856, abs=0.01) and float(first.lon) == pytest.approx(-94.2113, abs=0.01)


def test_mesocyclone_tool(data_dir):
    from hvrmet.tools import call_tool

    res = call_tool("get_mesocyclones", {"case": "mci20160526"})
    assert res.ok and res.value("mesocyclone_count") == 10 and res.values["strongest_circulation_id"].value == "109"
    assert res.values["strongest_distance"].units == "km" and res.value("strongest_distance") > 0


# ----------------------------------------------------------------------------- storm attributes
def test_storm_attributes_every_row_against_metpy(nids):
    name = "Level3_MCI_NCR_20160526_2154.nids"
    ds = _read(nids, name)
    f = _metpy(nids / name)
    rows = [it["text"] for page in f.graph_pages for it in page
            if "text" in it and re.match(r"^\s+[A-Z]\d\s", it["text"])]
    assert ds.sizes["storm"] == len(rows) == 32
    assert list(ds.storm_id.values) == [r.split()[0] for r in rows]
    w0 = ds.where(ds.storm_id == "W0", drop=True)
    assert (w0.storm_prob_severe_hail.item(), w0.storm_prob_hail.item(), w0.storm_max_hail_size.item()) == (60, 100, 1.5)
    assert w0.storm_vil.item() == 52.0 and w0.storm_top_kft.item() == 31.1
    # the three rows the old pattern dropped: sizes given as an upper bound
    bounded = ds.where(ds.storm_max_hail_size_qualifier == "<", drop=True)
    assert sorted(bounded.storm_id.values) == ["F5", "P5", "U1"] and set(bounded.storm_max_hail_size.values) == {0.5}
    p5 = ds.where(ds.storm_id == "P5", drop=True)
    assert np.isnan(p5.storm_motion_speed.item())  # NEW
    assert set(ds.storm_tvs.values) == {"NONE"}


def test_hail_index_and_structure_tools(data_dir):
    from hvrmet.tools import call_tool

    hail = call_tool("get_hail_index", {"case": "mci20160526", "min_posh": 50, "radius": "500 km"})  # the whole product
    assert hail.ok and hail.value("storms_in_table") == 32 and hail.value("storms_with_posh") == 4
    assert hail.values["max_hail_storm_id"].value == "W0" and hail.value("max_hail_size") == 1.5
    assert hail.value("max_posh") == 60.0 and hail.value("max_poh") == 100.0
    assert {r["storm_id"] for r in hail.table} == {"W0", "E5", "Q1", "R2"}
    assert all({"prob_severe_hail", "prob_hail", "max_hail_size"} <= set(r) for r in hail.table)
    st = call_tool("get_storm_structure", {"case": "mci20160526", "radius": "500 km"})
    assert st.ok, st.error
    assert st.value("storm_count") == 32 and st.values["tallest_storm_id"].value == "W0"
    assert st.value("max_top") == 31.1 and st.values["max_top"].units == "kft"
    assert st.value("max_vil") == 52.0 and st.value("max_reflectivity") == 63.0


# ----------------------------------------------------------------------------- products with no real file here
# The data folder has no TVS (NTV), hail index (NHI), storm structure (NSS) or enhanced echo
# tops (EET) file: these decoders are checked on structures shaped as MetPy decodes them.
def _fake(sym=(), tab=(), graph=(), metadata=None):
    return SimpleNamespace(sym_block=[list(sym)], tab_pages=list(tab), graph_pages=list(graph),
                           metadata=metadata or {}, lat=39.498, lon=-94.742, height=1090)


def test_tvs_table_from_metpy_structures():
    tab = ("                         Tornado Vortex Signature\n"
           " Feat  Storm   AZ/RAN  AVGDV  LLDV  MXDV/Hgt   Depth    Base/Top   MXSHR/Hgt\n"
           "  TVS    Q0   246/ 21    61    82    91/ 3.9    >12.8  < 1.2/ 14.0    55/ 1.2\n"
           " ETVS    F4   100/ 40    40    45    60/ 8.0      9.0    5.0/ 14.0    30/ 6.0")
    x, y = l3._azran_xy(246, 21)
    x2, y2 = l3._azran_xy(100, 40)
    f = _fake(sym=[{"x": x + 0.25, "y": y, "type": "TVS"}, {"x": x2, "y": y2 - 0.5, "type": "ETVS"}],
              tab=[tab], metadata={"num_tvs": 1, "num_etvs": 1})
    warnings: list[str] = []
    ds = l3._tvs(Path("ntv"), f, warnings)
    assert ds.sizes["row"] == 2 and warnings == []
    q0 = ds.isel(row=0)
    assert str(q0.feature_type.values) == "TVS" and str(q0.storm_id.values) == "Q0"
    assert float(q0.max_shear) == pytest.approx(0.055) and float(q0.max_shear_height_kft) == 1.2
    assert float(q0.low_level_delta_velocity) == 82.0 and str(q0.depth_qualifier.values) == ">"
    assert float(q0.top_kft) == 14.0 and str(q0.source.values) == "tabular+symbology"
    assert ds.max_shear.attrs["units"] == "1/s" and np.isfinite(ds.lat.values).all()
    ds2 = l3._tvs(Path("ntv"), _fake(sym=[{"x": 1.0, "y": 2.0, "type": "TVS"}], metadata={"num_tvs": 2, "num_etvs": 0}),
                  warnings)
    assert ds2.sizes["row"] == 1 and "counts 2 TVS" in warnings[-1]


def test_hail_index_from_metpy_structures():
    x, y = l3._azran_xy(111, 34)
    f = _fake(sym=[{"x": [x, 10.0], "y": [y, 10.0], "POH": [100, 20], "POSH": [60, 0], "Max Size": [2, 0],
                    "type": "HDA"},
                   {"x": [x, 10.0], "y": [y, 10.0], "id": ["W0", "E5"], "type": "Storm ID"}],
              graph=[[{"x": 0, "y": 1, "text": " STORM ID        W0        E5"},
                      {"x": 0, "y": 11, "text": " AZ/RAN    111/ 34    45/  8"},
                      {"x": 0, "y": 21, "text": " POSH/POH   60/100     0/ 20"},
                      {"x": 0, "y": 31, "text": " MAX SIZE    1.50     <0.50"}]])
    ds = l3._hail_index(Path("nhi"), f, [])
    assert list(ds.storm_id.values) == ["W0", "E5"]
    assert list(ds.prob_severe_hail.values) == [60, 0] and list(ds.prob_hail.values) == [100, 20]
    assert ds.max_hail_size.values[0] == 1.5 and str(ds.max_hail_size_qualifier.values[1]) == "<"
    from hvrmet.calc.level3 import hail_summary

    s = hail_summary(ds.prob_severe_hail.values, ds.prob_hail.values, ds.max_hail_size.values, min_posh=50,
                     mehs_qualifier=ds.max_hail_size_qualifier.values)
    assert s["hits"] == [0] and s["largest"] == 0 and s["max_hail_size"] == 1.5


def test_storm_structure_from_metpy_structures():
    tab = ("                            STORM STRUCTURE\n"
           " STORM     AZ/RAN     BASE     TOP     CELL BASED VIL   MAX REF   HEIGHT\n"
           "  W0     111/ 34      <2.0     31.1          52            60      14.3\n"
           "  E5     145/ 27       3.1     25.2          38            60      25.2")
    ds = l3._storm_structure(Path("nss"), _fake(tab=[tab]), [])
    assert list(ds.storm_id.values) == ["W0", "E5"] and list(ds.top_kft.values) == [31.1, 25.2]
    assert str(ds.base_qualifier.values[0]) == "<" and ds.vil.attrs["units"] == "kg/m^2"


def test_enhanced_echo_tops_mapping_gives_topped_flag():
    """The EET mapper returns (values, topped); the field keeps both."""
    from metpy.io.nexrad import DigitalEETMapper

    mapper = DigitalEETMapper(SimpleNamespace(thresholds=[0x7F, 1, 2, 0x80] + [0] * 12))
    f = SimpleNamespace(map_data=mapper, product_name="Enhanced Echo Tops", max_range=345.0, metadata={},
                        lat=39.5, lon=-94.7, height=1090)
    packet = {"start_az": [0.0, 1.0], "end_az": [1.0, 2.0], "data": [[0, 12, 140], [52, 2, 0]], "first": 0}
    ds = l3._field(Path("eet"), f, packet, 135, [])
    assert ds["data"].attrs["units"] == "kft"
    assert ds["data"].values[0, 1] == 10.0 and ds["data"].values[0, 2] == 10.0 and ds["data"].values[1, 0] == 50.0
    assert ds["topped"].values[0, 2] and not ds["topped"].values[0, 1]


# ----------------------------------------------------------------------------- roles
def test_a_role_for_every_product_of_metpys_table():
    from metpy.io import Level3File

    roles = level3_roles()
    assert {product_role(c) for c in Level3File.prod_spec_map} == set(roles)
    assert "level3_tornado_vortex_signature" in roles and "(product code 61)" in roles["level3_tornado_vortex_signature"]
    assert "level3_hail_index" in roles and "level3_enhanced_echo_tops" in roles
    assert is_level3_role("level3_tdwr_base_velocity_2") and is_level3_role("level3_velocity_2", ["level3_velocity"])
    assert not is_level3_role("level3_spaghetti") and not is_level3_role("sounding")


def test_case_with_generated_roles(tmp_path, data_dir):
    from hvrmet.cases import get_case
    from hvrmet.cases.model import ROLES, CaseFile
    from hvrmet.tools import call_tool

    for role in [r for r in ROLES if r.startswith("level3_")]:  # the hand-written roles still hold
        assert CaseFile(role=role, format="nexrad_level3", path="x.nids").role == role
    case_file = tmp_path / "tdwr.yaml"
    case_file.write_text(yaml.safe_dump({
        "id": "mci-tdwr", "title": "TDWR MCI tilts", "time": "2016-05-26T21:54:00Z",
        "location": {"lat": 39.3, "lon": -94.5, "radar_site": "TMCI"},
        "files": [{"role": "level3_tdwr_base_velocity", "format": "nexrad_level3",
                   "path": f"{NIDS}/Level3_MCI_TV0_20160526_2154.nids"},
                  {"role": "level3_tdwr_base_velocity_2", "format": "nexrad_level3",
                   "path": f"{NIDS}/Level3_MCI_TV1_20160526_2154.nids"},
                  {"role": "level3_storm_tracking_information", "format": "nexrad_level3",
                   "path": f"{NIDS}/Level3_MCI_NST_20160526_2154.nids"}],
        "data_dir": str(data_dir)}))
    case = get_case(case_file)
    assert case.roles[1] == "level3_tdwr_base_velocity_2"
    res = call_tool("summarize_level3_field", {"case": str(case_file), "role": "level3_tdwr_base_velocity_2",
                                              "radius": "500 km"})  # the whole product
    assert res.ok and res.values["max_value"].units == "m/s" and res.value("max_value") == 36.5
    tracks = call_tool("get_storm_tracks", {"case": str(case_file), "radius": "500 km"})  # default role falls back on the generated one
    assert tracks.ok and tracks.value("storm_count") == 44
    bad = tmp_path / "bad.yaml"
    bad.write_text(case_file.read_text().replace("level3_tdwr_base_velocity_2", "level3_spaghetti"))
    with pytest.raises(CaseError, match="unknown role"):
        get_case(bad)


# ----------------------------------------------------------------------------- several products
def test_tvs_check_uses_the_products_that_read(tmp_path, data_dir, nids):
    from hvrmet.tools import call_tool

    ok = call_tool("get_tvs_detections", {"case": "mci20160526"})
    assert ok.ok and ok.value("tvs_count") == 0 and ok.value("products_checked") == 2
    assert ok.values["products_failed"].value == ""
    raw = (nids / "Level3_MCI_NMD_20160526_2154.nids").read_bytes()
    cut = tmp_path / "nmd_cut.nids"
    cut.write_bytes(raw[: int(len(raw) * 0.99)])
    res = call_tool("get_tvs_detections", {"case": "mci20160526", "files": {"level3_mesocyclone": str(cut)}})
    assert res.ok, res.error
    assert res.value("products_checked") == 1 and res.value("tvs_count") == 0  # the NCR table still read
    assert res.values["products_failed"].value == "level3_mesocyclone"
    assert any(str(cut) in w and "truncated" in w for w in res.warnings)
    assert "could not read level3_mesocyclone" in res.summary
    # the same corrupt file alone: nothing left to read is an error that names it
    alone = call_tool("get_mesocyclones", {"case": "mci20160526", "files": {"level3_mesocyclone": str(cut)}})
    assert not alone.ok and str(cut) in alone.error


# ----------------------------------------------------------------------------- bad input
def _run_isolated(code: str, timeout: float = 300.0) -> str:
    """Run ``code`` in a fresh interpreter (a hang guard: the test fails, never blocks)."""
    env = {**os.environ, "MPLBACKEND": "Agg"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout, env=env)
    return out.stdout + out.stderr


def test_truncated_mesocyclone_product_fails_fast(tmp_path, nids):
    """MetPy loops forever on this 1 %-truncated file; the size check stops it first."""
    raw = (nids / "Level3_MCI_NMD_20160526_2154.nids").read_bytes()
    cut = tmp_path / "nmd99.nids"
    cut.write_bytes(raw[: int(len(raw) * 0.99)])
    out = _run_isolated(
        "from hvrmet.data.readers.nexrad_level3 import read_nexrad_level3\n"
        "from hvrmet.errors import DataError\n"
        f"try:\n    read_nexrad_level3({str(cut)!r})\nexcept DataError as e:\n    print('DATAERROR', e)\n")
    assert "DATAERROR" in out and str(cut) in out, out
    assert "message length of 3334 bytes" in out and "truncated" in out


def _corrupt_tab_length(raw: bytes) -> bytes:
    """The NMD file with the first line length of its tabular block set to 32767 (same size)."""
    from metpy.io.nexrad import Level3File

    head, body, tail = raw[:41], raw[41:-4], raw[-4:]
    d = zlib.decompressobj()
    data = bytearray(d.decompress(body))
    rest = d.unused_data
    msg = 54  # the inner WMO header
    desc = Level3File.prod_desc_fmt.unpack_from(data, msg + Level3File.header_fmt.size)
    at = msg + 2 * desc.tab_off + 8 + Level3File.header_fmt.size + Level3File.prod_desc_fmt.size + 4
    data[at:at + 2] = (32767).to_bytes(2, "big")
    return head + zlib.compress(bytes(data)) + rest + tail


def test_corrupted_length_field_is_a_format_error(tmp_path, nids):
    """A length field past the end (MetPy would loop forever): the strict buffer refuses it."""
    bad = tmp_path / "nmd_len.nids"
    bad.write_bytes(_corrupt_tab_length((nids / "Level3_MCI_NMD_20160526_2154.nids").read_bytes()))
    out = _run_isolated(
        "from hvrmet.data.readers.nexrad_level3 import read_nexrad_level3\n"
        "from hvrmet.errors import DataError\n"
        f"try:\n    read_nexrad_level3({str(bad)!r})\nexcept DataError as e:\n    print('DATAERROR', e)\n")
    assert "DATAERROR" in out and str(bad) in out and "corrupted" in out, out


def test_parse_time_limit(monkeypatch, nids):
    """A parse that never ends is stopped and reported as a corrupted file."""

    class Forever:
        def __init__(self, filename):
            while True:
                pass

    monkeypatch.setattr(l3, "_strict_classes", lambda: Forever)
    monkeypatch.setattr(l3, "PARSE_TIME_LIMIT_S", 0.5)
    with pytest.raises(FormatError, match="did not finish decoding the product within 0.5 s"):
        read_nexrad_level3(nids / "Level3_MCI_NMD_20160526_2154.nids")


def test_size_mismatch_both_ways(tmp_path, nids):
    raw = (nids / "KLZK_H0V_20200812_1309").read_bytes()  # no zlib framing, no trailer
    (tmp_path / "long").write_bytes(raw + b"\0" * 10)
    with pytest.raises(FormatError, match="longer than its product"):
        read_nexrad_level3(tmp_path / "long")
    (tmp_path / "short").write_bytes(raw[:-10])
    with pytest.raises(FormatError, match=r"gives a message length of 160332 bytes but 160322 are present"):
        read_nexrad_level3(tmp_path / "short")
