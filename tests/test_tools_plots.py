"""Plot tools on real cases: PNG + JSON sidecar that match the data, no download, borders drawn."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from hvrmet.tools import call_tool


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("plots")


def _check(res, out_dir: Path, kind: str, units: str, lat: float, lon: float, valid: str) -> dict:
    """The tool ran, wrote a real PNG and a sidecar whose fields match the data."""
    assert res.ok, res.error
    assert len(res.figures) == 1
    fig = res.figures[0]
    png, side = Path(fig.png), Path(fig.sidecar)
    assert png.parent.resolve() == (out_dir / "figures").resolve() and png.stem == side.stem
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert 15_000 < png.stat().st_size < 400_000
    meta = json.loads(side.read_text())
    assert meta["kind"] == kind == fig.kind == res.values["kind"].value
    assert meta["units"] == units
    assert meta["valid_time"] == valid == res.values["valid_time"].value
    assert meta["case"] == res.arguments["case"]
    lon0, lon1, lat0, lat1 = meta["extent"]
    assert lon0 <= lon <= lon1 and lat0 <= lat <= lat1, (meta["extent"], lat, lon)
    assert res.values["figure_path"].value == str(png)
    read = {(f.path, f.sha256) for f in res.files}
    assert meta["source_files"] and {(f["path"], f["sha256"]) for f in meta["source_files"]} <= read
    return meta


def test_skewt_and_hodograph(data_dir, load, out_dir):
    import metpy.calc as mpcalc

    from hvrmet.tools.sounding_calc import profile_from_dataset

    ds = load("may1999", "sounding")
    prof = profile_from_dataset(ds)
    cape, cin = mpcalc.surface_based_cape_cin(prof.p, prof.t, prof.td)
    res = call_tool("plot_skewt", {"case": "may1999"}, out_dir=str(out_dir))
    meta = _check(res, out_dir, "skewt", "degC", 35.18, -97.44, "1999-05-04T00:00:00Z")
    assert "OUN" in meta["title"] and "00:00 UTC Tue 04 May 1999" in meta["title"] and "Norman" in meta["title"]
    assert res.value("sbcape") == pytest.approx(cape.to("J/kg").m, abs=0.1)
    assert res.value("sbcin") == pytest.approx(cin.to("J/kg").m, abs=0.1)
    assert 2000 < res.value("sbcape") < 3500  # 3 May 1999 OUN 00 UTC: large CAPE

    res = call_tool("plot_hodograph", {"case": "may1999"}, out_dir=str(out_dir))
    _check(res, out_dir, "hodograph", "knot", 35.18, -97.44, "1999-05-04T00:00:00Z")
    rm, _lm, _mean = mpcalc.bunkers_storm_motion(prof.p_w, prof.u, prof.v, prof.z_w)
    assert res.value("bunkers_right_speed") == pytest.approx(float(np.hypot(rm[0].m, rm[1].m)), abs=0.05)


def test_radar_ppi_reflectivity_and_velocity(data_dir, load, out_dir):
    ds = load("may1999", "radar_volume")  # the sweep tree: one node per sweep
    lat, lon = ds.attrs["site_latitude"], ds.attrs["site_longitude"]
    res = call_tool("plot_radar_ppi", {"case": "may1999"}, out_dir=str(out_dir))
    sw0 = ds["sweep_0"].ds
    t0 = np.datetime_as_string(np.nanmin(sw0["time"].values), unit="s") + "Z"
    meta = _check(res, out_dir, "radar_ppi", "dBZ", lat, lon, t0)
    assert res.value("sweep_index") == 0 and res.value("elevation") == pytest.approx(0.44, abs=0.01)
    assert res.value("max_reflectivity") == pytest.approx(float(np.nanmax(sw0["reflectivity"].values)))
    assert res.values["max_abs_velocity"].value is None
    assert meta["colour_scale"] == {"cmap": "NWSReflectivity", "vmin": 5.0, "vmax": 80.0}
    assert "KTLX" in meta["title"] and "us_states" in meta["map_layers"]
    assert "us_counties" in meta["map_layers"]  # on by default at storm scale over the US
    # 230 km around KTLX spans about +-2.6 degrees of longitude
    assert meta["extent"][1] - meta["extent"][0] == pytest.approx(2 * 230 / (111.32 * np.cos(np.radians(lat))), rel=0.1)

    res = call_tool("plot_radar_ppi", {"case": "may1999", "field": "velocity", "elevation": "1.5 degree",
                                       "max_range": 120, "counties": True}, out_dir=str(out_dir))
    s = int(res.value("sweep_index"))
    assert res.ok and s == 3 and res.value("elevation") == pytest.approx(1.45, abs=0.01)
    sw = ds[f"sweep_{s}"].ds
    t3 = np.datetime_as_string(np.nanmin(sw["time"].values), unit="s") + "Z"
    meta = _check(res, out_dir, "radar_ppi", "m/s", lat, lon, t3)
    assert res.value("max_abs_velocity") == pytest.approx(float(np.nanmax(np.abs(sw["radial_velocity"].values))))
    nyquist = float(np.nanmedian(sw["nyquist_velocity"].values))
    assert meta["colour_scale"]["cmap"] == "NWSVelocity"  # +- the sweep's Nyquist velocity, not a fixed 30 m/s
    assert meta["colour_scale"]["vmin"] == pytest.approx(-nyquist, abs=0.01) and meta["colour_scale"]["vmax"] < 30
    assert "us_counties" in meta["map_layers"]
    # a sweep without the field is refused with the sweeps that have it
    bad = call_tool("plot_radar_ppi", {"case": "may1999", "field": "velocity", "sweep": 0}, out_dir=str(out_dir))
    assert not bad.ok and "sweeps with radial_velocity" in bad.error


def test_composite_reflectivity_level2_and_level3(data_dir, load, out_dir):
    from hvrmet.calc.radar import max_gate

    ds = load("may1999", "radar_volume")
    lat, lon = ds.attrs["site_latitude"], ds.attrs["site_longitude"]
    res = call_tool("plot_composite_reflectivity", {"case": "may1999"}, out_dir=str(out_dir))
    _check(res, out_dir, "composite_reflectivity", "dBZ", lat, lon, "1999-05-03T23:56:21Z")
    g = max_gate(ds)
    assert res.value("max_reflectivity") == pytest.approx(g["value"])
    assert res.value("max_reflectivity_lat") == pytest.approx(g["lat"], abs=0.03)
    assert res.value("max_reflectivity_lon") == pytest.approx(g["lon"], abs=0.03)

    l3 = load("mci20160526", "level3_composite_reflectivity")
    res = call_tool("plot_composite_reflectivity", {"case": "mci20160526", "role": "level3_composite_reflectivity"},
                    out_dir=str(out_dir))
    meta = _check(res, out_dir, "composite_reflectivity", "dBZ", 39.498, -94.742, "2016-05-26T21:54:08Z")
    assert res.value("max_reflectivity") == pytest.approx(float(np.nanmax(l3["data"].values)))
    assert meta["variables"] == ["Composite Reflectivity"]


def test_field_maps(data_dir, load, out_dir):
    ds = load("cyclone2010", "analysis")
    res = call_tool("plot_field_map", {"case": "cyclone2010", "variable": "mslp", "contour_variable":
                                       "geopotential_height", "contour_level": 500, "barb_level": "300 hPa"},
                    out_dir=str(out_dir))
    meta = _check(res, out_dir, "field_map", "hPa", 47.8, -93.6, "2010-10-26T12:00:00Z")
    mslp = ds["Pressure_reduced_to_MSL_msl"].values / 100.0
    assert res.value("field_min") == pytest.approx(float(np.nanmin(mslp)), abs=0.01)
    assert res.value("field_max") == pytest.approx(float(np.nanmax(mslp)), abs=0.01)
    assert 955 < res.value("field_min") < 975  # the record low over Minnesota
    assert meta["variables"] == ["mslp", "geopotential_height", "wind"] and meta["barb_level_hpa"] == 300

    g = load("gfs20210130", "analysis")
    res = call_tool("plot_field_map", {"case": "gfs20210130", "variable": "temperature", "level": 300,
                                       "time_index": 1, "lon_min": -130, "lon_max": -60, "lat_min": 20,
                                       "lat_max": 60}, out_dir=str(out_dir))
    t1 = np.datetime_as_string(g["time3"].values[1], unit="s") + "Z"
    meta = _check(res, out_dir, "field_map", "degC", 40.0, -95.0, t1)
    assert meta["level"] == "300 hPa"
    assert meta["map_box"] == [-130, -60, 20, 60]
    assert -131 < meta["extent"][0] < -125 and -65 < meta["extent"][1] < -59
    lon = ((g["lon"].values + 180) % 360) - 180
    box = np.ix_((g["lat"].values >= 20) & (g["lat"].values <= 60), (lon >= -130) & (lon <= -60))
    t = g["Temperature_isobaric"].values[1, 0][box] - 273.15
    assert res.value("field_max") == pytest.approx(float(t.max()), abs=0.01)
    bad = call_tool("plot_field_map", {"case": "gfs20210130", "variable": "temperature", "level": 500},
                    out_dir=str(out_dir))
    assert not bad.ok and "no 500 hPa level" in bad.error


def test_composite_sequence(data_dir, load, out_dir):
    ds = load("fmi20170509", "composite_sequence")
    res = call_tool("plot_composite_sequence", {"case": "fmi20170509", "frames": 6}, out_dir=str(out_dir))
    meta = _check(res, out_dir, "composite_sequence", "dBZ", 62.0, 25.0, "2017-05-09T10:45:00Z")
    idx = meta["frame_indices"]
    assert res.value("frames_shown") == 6 and idx[0] == 0 and idx[-1] == ds.sizes["time"] - 1
    assert meta["frame_times"][-1] == np.datetime_as_string(ds["time"].values[-1], unit="s") + "Z"
    assert res.value("max_value") == pytest.approx(float(np.nanmax(ds["precip"].values[idx])), abs=0.01)
    assert meta["colour_scale"]["cmap"] == "NWSReflectivity"


def test_no_download_while_rendering_every_kind(data_dir, out_dir, tmp_path, monkeypatch):
    """Every map kind renders with downloads made impossible and cartopy's data_dir empty."""
    import cartopy
    import cartopy.io
    import pooch

    from hvrmet.plot import basemap

    def refuse(*a, **k):
        raise AssertionError(f"a download was attempted: {a[:2]}")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    monkeypatch.setattr(cartopy.io.Downloader, "acquire_resource", refuse)
    monkeypatch.setattr(cartopy.io.Downloader, "path", refuse)
    monkeypatch.setattr(pooch, "retrieve", refuse)
    monkeypatch.setattr(pooch.Pooch, "fetch", refuse)
    try:
        import requests
        monkeypatch.setattr(requests.Session, "request", refuse)
    except ImportError:
        pass
    empty = tmp_path / "cartopy_data"
    empty.mkdir()
    monkeypatch.setitem(cartopy.config, "data_dir", empty)
    basemap._outlines.cache_clear()  # shapefiles are read again under the patches
    nodl = out_dir / "nodownload"
    calls = [("plot_skewt", {"case": "may1999"}), ("plot_hodograph", {"case": "may1999"}),
             ("plot_radar_ppi", {"case": "may1999", "counties": True}),
             ("plot_composite_reflectivity", {"case": "mci20160526", "role": "level3_composite_reflectivity"}),
             ("plot_field_map", {"case": "cyclone2010", "barb_level": 300}),
             ("plot_composite_sequence", {"case": "fmi20170509", "frames": 2})]
    for name, args in calls:
        res = call_tool(name, args, out_dir=str(nodl))
        assert res.ok, f"{name}: {res.error}"
        assert Path(res.figures[0].png).stat().st_size > 15_000
    assert not any(empty.iterdir())


def _pixel_at(fig, ax, lon: float, lat: float) -> float:
    """Darkest grey level (0-255) within 2 px of a geographic point of a drawn figure."""
    import cartopy.crs as ccrs
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    img = np.asarray(canvas.buffer_rgba())[..., :3].mean(axis=2)
    x, y = ax.projection.transform_point(lon, lat, ccrs.PlateCarree())
    px, py = ax.transData.transform((x, y))
    row, col = int(round(img.shape[0] - py)), int(round(px))
    return float(img[row - 2:row + 3, col - 2:col + 3].min())


def test_state_borders_are_drawn(data_dir):
    """Oklahoma's border with Texas (Red River) shows as dark pixels only with the states layer."""
    import shapely
    from cartopy.io.shapereader import Reader

    from hvrmet.plot.basemap import _metpy_shapefile
    from hvrmet.plot.maps import radar_map

    rec = next(r for r in Reader(str(_metpy_shapefile("us_states_20m"))).records() if r.attributes["NAME"] == "Oklahoma")
    hits = shapely.intersection(rec.geometry.boundary, shapely.LineString([(-97.5, 30), (-97.5, 40)]))
    border_lat = min(p.y for p in getattr(hits, "geoms", [hits]))
    assert 33.5 < border_lat < 34.2  # the Red River south of Oklahoma City
    empty = (np.full((360, 10), np.nan), np.arange(360) + 0.5, np.arange(10) * 1000.0, 0.5)
    values = {}
    for states in (True, False):
        res = radar_map(site="KTLX", lat=35.333, lon=-97.278, title="t", max_range_km=230, ring_km=250,
                        counties=False, states=states, polar=empty, places=False)
        values[states] = _pixel_at(res.fig, res.ax, -97.5, border_lat)
    assert values[True] < 90 and values[False] > 220, values


# --------------------------------------------------------------------------- read at a glance
def _sidecar(res) -> dict:
    assert res.ok, res.error
    return json.loads(Path(res.figures[0].sidecar).read_text())


def _names(meta: dict) -> set[str]:
    return {p["name"] for p in meta["places"]}


def test_every_figure_kind_lists_its_marks_and_places(data_dir, load, out_dir):
    """Each figure kind, on real data, marks what the diagnosis tools find and labels the
    places a reader needs; its sidecar lists both (kind, lat/lon, label; place names)."""
    from hvrmet.tools.radar import RotationInput, detect_rotation
    from hvrmet.tools.context import ToolContext

    # radar PPI at storm scale: Oklahoma City and the towns by the storm, the rotation the
    # diagnosis found (detect_rotation with its defaults), the hail core and the cells
    res = call_tool("plot_radar_ppi", {"case": "may1999", "max_range": 100, "ring_spacing": 25}, out_dir=str(out_dir))
    meta = _sidecar(res)
    assert {"Oklahoma City", "Moore"} <= _names(meta) or {"Oklahoma City", "Norman"} <= _names(meta), _names(meta)
    assert "us_counties" in meta["map_layers"]
    rot = detect_rotation(RotationInput(case="may1999"), ToolContext("may1999")).table[0]
    marked = [m for m in meta["marks"] if m["kind"] == "rotation"]
    assert marked and marked[0]["lat"] == pytest.approx(rot["lat"], abs=1e-3)
    assert marked[0]["lon"] == pytest.approx(rot["lon"], abs=1e-3) and marked[0]["source"] == "detect_rotation"
    assert "Vrot 22 m/s" in marked[0]["label"] and marked[0]["tag"] == "MESO"
    assert " of " in marked[0]["near"] or marked[0]["near"].startswith("in ")  # "7 km W of Newcastle"
    kinds = {m["kind"] for m in meta["marks"]}
    assert {"rotation", "hail_core", "cell"} <= kinds
    assert all({"kind", "lat", "lon", "label"} <= set(m) for m in meta["marks"])
    assert all(meta["extent"][0] <= p["lon"] <= meta["extent"][1] and meta["extent"][2] <= p["lat"] <= meta["extent"][3]
               for p in meta["places"])
    assert res.values["marks_drawn"].value.startswith("MESO: Vrot 22 m/s")
    assert "Oklahoma City" in res.values["places_drawn"].value
    assert "Equivalent reflectivity factor (dBZ), 0.4° elevation" in meta["title"] and "23:56 UTC" in meta["title"]

    # velocity: the rotation marked on the velocity map, scale +- the Nyquist velocity
    meta = _sidecar(call_tool("plot_radar_ppi", {"case": "may1999", "field": "velocity"}, out_dir=str(out_dir)))
    assert [m["kind"] for m in meta["marks"]] == ["rotation"]
    assert meta["colour_scale"]["vmax"] == pytest.approx(26.1, abs=0.05) and meta["colour_scale"]["limit_from"] == "nyquist"
    assert "Oklahoma City" in _names(meta) and len(meta["places"]) >= 10

    # marks passed in are drawn too; places and found features can be turned off
    given = {"kind": "tvs", "lat": 35.33, "lon": -97.49, "label": "TVS reported at Moore"}
    meta = _sidecar(call_tool("plot_radar_ppi", {"case": "may1999", "marks": [given], "find_features": False,
                                                 "places": False}, out_dir=str(out_dir)))
    assert meta["places"] == [] and [(m["kind"], m["label"], m["source"]) for m in meta["marks"]] == [
        ("tvs", "TVS reported at Moore", "given")]
    assert "Moore" in meta["marks"][0]["near"]

    # composite of the volume and a Level III product with its own tables
    meta = _sidecar(call_tool("plot_composite_reflectivity", {"case": "may1999"}, out_dir=str(out_dir)))
    assert {"rotation", "cell"} <= {m["kind"] for m in meta["marks"]} and "Oklahoma City" in _names(meta)
    meta = _sidecar(call_tool("plot_composite_reflectivity", {"case": "mci20160526", "role":
                                                              "level3_composite_reflectivity"}, out_dir=str(out_dir)))
    kinds = [m["kind"] for m in meta["marks"]]
    assert "cell" in kinds and "mesocyclone" in kinds and "Kansas City" in _names(meta)

    # synoptic map: isobars every 4 hPa (no fill), the record low as an L over Minnesota
    res = call_tool("plot_field_map", {"case": "cyclone2010", "variable": "mslp", "contour_variable":
                                       "geopotential_height", "contour_level": 500, "barb_level": 300},
                    out_dir=str(out_dir))
    meta = _sidecar(res)
    assert meta["style"] == "contours" and meta["colour_scale"]["contours"][0]["step"] == 4.0
    assert "cmap" not in meta["colour_scale"]
    lows = [m for m in meta["marks"] if m["kind"] == "low"]
    deepest = min(lows, key=lambda m: m["value"])
    assert deepest["value"] == pytest.approx(res.value("field_min"), abs=0.6) and deepest["label"].startswith("L 9")
    assert 44 <= deepest["lat"] <= 50 and -100 <= deepest["lon"] <= -88
    assert res.value("deepest_low_value") == pytest.approx(deepest["value"], abs=0.05)
    assert any(m["kind"] == "high" for m in meta["marks"])
    assert "Chicago" in _names(meta) and len(meta["places"]) <= 14
    assert meta["title"].startswith("Mean sea-level pressure (hPa, every 4), 500 hPa geopotential height (dam)")
    assert "valid 12:00 UTC Tue 26 Oct 2010" in meta["title"]

    # skew-T and hodograph: the levels and storm motions marked, the station's town named
    meta = _sidecar(call_tool("plot_skewt", {"case": "may1999"}, out_dir=str(out_dir)))
    assert {"lcl", "lfc", "storm_motion"} <= {m["kind"] for m in meta["marks"]}
    assert _names(meta) == {"Norman"} and meta["barb_units"] == "knot" and "wind (kt)" in meta["title"]
    meta = _sidecar(call_tool("plot_hodograph", {"case": "may1999"}, out_dir=str(out_dir)))
    assert any(m["label"].startswith("Bunkers right mover") for m in meta["marks"]) and _names(meta) == {"Norman"}

    # composite sequence: the panels name the largest cities of the composite's area
    meta = _sidecar(call_tool("plot_composite_sequence", {"case": "fmi20170509", "frames": 2}, out_dir=str(out_dir)))
    assert {"Tampere", "Oulu"} & _names(meta) and meta["marks"] == []


def test_pressure_centres_and_places_on_synthetic_fields():
    """H/L centres come from local extrema that stand out; place labels never overlap."""
    from hvrmet.plot.marks import pressure_centres
    from hvrmet.plot.places import compass_point, describe_point, nearest_place

    lat = np.arange(60.0, 19.0, -1.0)
    lon = np.arange(-130.0, -59.0, 1.0)
    lo2, la2 = np.meshgrid(lon, lat)
    p = 1012 - 40 * np.exp(-((lo2 + 95) ** 2 + (la2 - 47) ** 2) / 40) + 16 * np.exp(-((lo2 + 70) ** 2 + (la2 - 35) ** 2) / 80)
    marks = pressure_centres(p, lat, lon, window_km=1000, min_depth=3, min_depth_high=2)
    assert [(m.kind, m.lat, m.lon) for m in marks] == [("low", 47.0, -95.0), ("high", 35.0, -70.0)]
    assert marks[0].label == "L 972 hPa" and marks[1].label == "H 1028 hPa"
    assert pressure_centres(np.full_like(p, 1012.0), lat, lon) == []
    assert compass_point(0) == "N" and compass_point(250) == "WSW" and compass_point(359) == "N"
    moore = nearest_place(35.34, -97.49)
    assert moore["name"] == "Moore" and moore["distance_km"] < 1.0
    assert describe_point(35.237, -97.68).endswith("of Newcastle")
