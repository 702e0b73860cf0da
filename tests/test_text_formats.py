"""Text formats done right, on the real files: each measured fault of the text readers as a
test, with the expected numbers computed here independently (pandas reading the file the
way MetPy's examples do, MetPy's calc functions).

Faults: a complete UWyo sounding without a final newline was refused as truncated; a
sounding with a K header was read as °C (SBCAPE 0, LCL 9.7 km); byte-flipped METAR files
could hang the decoder; a sounding cut at a record boundary lost data silently; decoding
errors said only the exception class.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import metpy.calc as mpcalc
import numpy as np
import pandas as pd
import pytest
from metpy.units import units

from hvrmet.data.readers import get_reader
from hvrmet.data.readers._common import ReaderWarning, plain_reason, reading
from hvrmet.errors import DataError, FormatError

pytestmark = pytest.mark.usefixtures("data_dir")

STATIC = "metpy/staticdata"
#: The real UWyo soundings and the header lines before their first level.
SOUNDINGS = {"may4_sounding.txt": 4, "20110522_OUN_12Z.txt": 6, "jan20_sounding.txt": 4,
             "dec9_sounding.txt": 4}
NAMES = ["PRES", "HGHT", "TEMP", "DWPT", "RELH", "MIXR", "DRCT", "SKNT", "THTA", "THTE", "THTV"]
VARS = {"PRES": "pressure", "HGHT": "height", "TEMP": "temperature", "DWPT": "dewpoint",
        "DRCT": "wind_direction", "SKNT": "wind_speed"}


def _src(data_dir: Path, name: str) -> Path:
    return data_dir / STATIC / name


def _pandas(data_dir: Path, name: str) -> pd.DataFrame:
    """The sounding as MetPy's examples read it (``pandas.read_fwf`` past the header), with
    explicit 7-character columns; repeated pressure levels keep their first line, as the
    readers do."""
    df = pd.read_fwf(_src(data_dir, name), skiprows=SOUNDINGS[name], widths=[7] * 11, names=NAMES)
    df = df[pd.to_numeric(df["PRES"], errors="coerce").notna()].astype(float).reset_index(drop=True)
    return df[np.r_[True, np.diff(df["PRES"].to_numpy()) != 0]].reset_index(drop=True)


def _assert_same_levels(ds, df: pd.DataFrame, tol: dict | None = None) -> None:
    tol = tol or {}
    assert ds.sizes["level"] == len(df)
    for col, var in VARS.items():
        np.testing.assert_allclose(ds[var].values, df[col].to_numpy(), atol=tol.get(var, 1e-9),
                                   equal_nan=True, err_msg=var)


def _rewrite(data_dir: Path, name: str, out: Path, *, units_line: str, convert) -> Path:
    """The real sounding rewritten in the UWyo layout with ``convert(col, value)`` applied
    to each number and ``units_line`` as its units line."""
    lines = _src(data_dir, name).read_text().splitlines()
    hdr = SOUNDINGS[name]
    body = []
    for ln in lines[hdr:]:
        cells = [ln[7 * k:7 * k + 7].strip() for k in range(11)]
        new = []
        for col, cell in zip(NAMES, cells):
            if not cell:
                new.append(" " * 7)
                continue
            v = convert(col, float(cell))
            new.append(next(t for t in (f"{v:7.2f}", f"{v:7.1f}", f"{v:7.0f}") if len(t) == 7))
        body.append("".join(new))
    head = lines[:hdr]
    head[hdr - 2] = units_line
    out.write_text("\n".join(head + body) + "\n")
    return out


def _units_line(**given: str) -> str:
    default = dict(zip(NAMES, ["hPa", "m", "C", "C", "%", "g/kg", "deg", "knot", "K", "K", "K"]))
    default.update(given)
    return "".join(f"{default[n]:>7}" for n in NAMES)


def _case(tmp_path: Path, path: Path, fmt: str = "uwyo_sounding") -> str:
    (tmp_path / f"{path.stem}.yaml").write_text(
        f"id: {path.stem.replace('_', '-').replace('.', '-')}\ntitle: rewritten sounding\n"
        "time: 1999-05-04T00:00Z\nlocation: {lat: 35.2, lon: -97.4}\n"
        f"files: [{{role: sounding, format: {fmt}, path: {path.name}}}]\ndata_dir: .\n")
    return str(tmp_path / f"{path.stem}.yaml")


def _metpy_sb(df: pd.DataFrame) -> tuple[float, float, float]:
    """SBCAPE (J/kg), LCL pressure (hPa) and LCL height above ground (m), with MetPy, from
    the levels with temperature."""
    d = df[df["TEMP"].notna()]
    p = d["PRES"].to_numpy() * units.hPa
    t = d["TEMP"].to_numpy() * units.degC
    td = d["DWPT"].to_numpy() * units.degC
    z = d["HGHT"].to_numpy()
    cape, _ = mpcalc.surface_based_cape_cin(p, t, td)
    lcl_p, _ = mpcalc.lcl(p[0], t[0], td[0])
    lcl_z = float(np.interp(np.log(lcl_p.m), np.log(p.m[::-1]), (z - z[0])[::-1]))
    return float(cape.m), float(lcl_p.m), lcl_z


# --- 1. no final newline ---------------------------------------------------------------

@pytest.mark.parametrize("name", list(SOUNDINGS))
def test_uwyo_without_final_newline_reads_the_same(tmp_path, data_dir, name):
    src = _src(data_dir, name)
    cut = tmp_path / name
    cut.write_bytes(src.read_bytes().rstrip(b"\r\n"))
    read = get_reader("uwyo_sounding")
    a, b = read(src), read(cut)
    _assert_same_levels(b, _pandas(data_dir, name))
    for v in ("pressure", "height", "temperature", "dewpoint", "wind_speed"):
        np.testing.assert_array_equal(a[v].values, b[v].values)


def test_uwyo_cut_mid_record_is_truncated(tmp_path, data_dir):
    raw = _src(data_dir, "may4_sounding.txt").read_bytes()
    read = get_reader("uwyo_sounding")
    data_start = raw.index(b"\n 1000.0") + 1
    bounds = {i + 1 for i, b in enumerate(raw) if b == 0x0A}
    f = tmp_path / "cut.txt"
    for cut in list(range(data_start + 3 * 78 + 1, len(raw) - 1, 5)) + [len(raw) - 1]:
        f.write_bytes(raw[:cut])
        if cut in bounds or cut + 1 in bounds:  # at a line end: a complete file as far as it goes
            continue
        with pytest.raises(FormatError, match=r"cut short after \d+ of 77 characters.*: the file is truncated"):
            read(f)


def test_uwyo_cut_at_record_boundary_is_not_silent(tmp_path, data_dir):
    """The UWyo layout has no level count: a file cut at a line end still reads, but the
    dataset says it may be cut, and the sounding tools pass that on as a warning."""
    from hvrmet.tools import call_tool

    raw = _src(data_dir, "may4_sounding.txt").read_bytes()
    lines = raw.splitlines(keepends=True)
    f = tmp_path / "half.txt"
    f.write_bytes(b"".join(lines[:18]))
    ds = get_reader("uwyo_sounding")(f)
    assert ds.sizes["level"] == 14
    assert ds.attrs["completeness"].startswith("not verifiable")
    assert any("cut short" in n and f"{float(ds.pressure[-1]):g} hPa" in n for n in ds.attrs["reader_notes"])
    res = call_tool("compute_sbcape", {"case": _case(tmp_path, f)})
    assert res.ok and any("cut short" in w for w in res.warnings)


# --- 2. header units honoured, plausibility -------------------------------------------

def test_kelvin_header_gives_the_same_cape_and_lcl(tmp_path, data_dir):
    from hvrmet.tools import call_tool

    kelvin = _rewrite(data_dir, "may4_sounding.txt", tmp_path / "may4_kelvin.txt",
                      units_line=_units_line(TEMP="K", DWPT="K"),
                      convert=lambda c, v: v + 273.15 if c in ("TEMP", "DWPT") else v)
    assert " 295.35" in kelvin.read_text()
    ds = get_reader("uwyo_sounding")(kelvin)
    df = _pandas(data_dir, "may4_sounding.txt")
    assert ds.temperature.attrs["units"] == "degC" and ds.temperature.attrs["file_units"] == "K"
    _assert_same_levels(ds, df, {"temperature": 1e-9, "dewpoint": 1e-9})
    cape, lcl_p, lcl_z = _metpy_sb(df)
    assert cape == pytest.approx(2470, abs=5)  # the known value for that evening
    res = call_tool("compute_sbcape", {"case": _case(tmp_path, kelvin)})
    assert res.ok, res.error
    assert res.values["sbcape"].value == pytest.approx(cape, abs=0.01)
    assert res.values["lcl_pressure"].value == pytest.approx(lcl_p, abs=0.01)
    assert res.values["lcl_height"].value == pytest.approx(lcl_z, abs=0.5)
    assert res.values["lcl_height"].value < 1500  # not the 9.7 km of K read as °C


def test_celsius_header_with_kelvin_numbers_is_refused(tmp_path, data_dir):
    wrong = _rewrite(data_dir, "may4_sounding.txt", tmp_path / "may4_k_as_c.txt",
                     units_line=_units_line(),
                     convert=lambda c, v: v + 273.15 if c in ("TEMP", "DWPT") else v)
    with pytest.raises(FormatError, match=r"column TEMP: 295\.35 °C \(line 6\) is not a plausible "
                                          r"temperature .* — are the units K\?") as info:
        get_reader("uwyo_sounding")(wrong)
    assert str(wrong) in str(info.value)


def test_fahrenheit_feet_pascal_and_ms_are_converted(tmp_path, data_dir):
    f = _rewrite(data_dir, "may4_sounding.txt", tmp_path / "may4_imperial.txt",
                 units_line=_units_line(PRES="Pa", HGHT="ft", TEMP="F", DWPT="°F", SKNT="m/s"),
                 convert=lambda c, v: {"PRES": v * 100.0, "HGHT": v / 0.3048, "TEMP": v * 1.8 + 32.0,
                                       "DWPT": v * 1.8 + 32.0, "SKNT": v * 0.514444}.get(c, v))
    ds = get_reader("uwyo_sounding")(f)
    assert ds.pressure.attrs["file_units"] == "Pa" and ds.height.attrs["file_units"] == "ft"
    assert ds.wind_speed.attrs["units"] == "knot"
    orig = get_reader("uwyo_sounding")(_src(data_dir, "may4_sounding.txt"))
    for v, tol in (("pressure", 1e-6), ("height", 0.02), ("temperature", 0.003), ("dewpoint", 0.003),
                   ("wind_speed", 0.01)):
        np.testing.assert_allclose(ds[v].values, orig[v].values, atol=tol, equal_nan=True, err_msg=v)
    kt = _rewrite(data_dir, "may4_sounding.txt", tmp_path / "may4_kt.txt",
                  units_line=_units_line(SKNT="kt", PRES="mb", TEMP="degC"), convert=lambda c, v: v)
    np.testing.assert_allclose(get_reader("uwyo_sounding")(kt).wind_speed.values, orig.wind_speed.values,
                               equal_nan=True)


@pytest.mark.parametrize("given,convert,pattern", [
    ({"HGHT": "m"}, lambda c, v: v / 0.3048 if c == "HGHT" else v, r"disagree: .* are the HGHT units feet\?"),
    ({"PRES": "hPa"}, lambda c, v: v * 100 if c == "PRES" else v, r"column PRES: 100000 hPa .* are the units Pa\?"),
    ({"TEMP": "K"}, lambda c, v: v, r"column TEMP: .* are the units °C\?"),
    ({"SKNT": "knot"}, lambda c, v: v * 10 if c == "SKNT" else v, r"column SKNT: .* not a plausible wind speed"),
    ({"DRCT": "deg"}, lambda c, v: v + 200 if c == "DRCT" else v, r"column DRCT: .* not a plausible wind direction"),
    ({"DWPT": "C"}, lambda c, v: v + 8 if c == "DWPT" else v, r"column DWPT: dew point .* above the temperature"),
    ({"TEMP": "C", "DWPT": "C"}, lambda c, v: (v * 1.8 + 32) if c in ("TEMP", "DWPT") else v,
     r"column TEMP: .* are the units °F\?|disagree"),
    ({"TEMP": "degR"}, lambda c, v: v, r"column TEMP: unknown units 'degR'"),
    ({"HGHT": "hPa"}, lambda c, v: v, r"column HGHT: units 'hPa' are not units of height"),
])
def test_implausible_numbers_are_refused_with_the_reason(tmp_path, data_dir, given, convert, pattern):
    f = _rewrite(data_dir, "may4_sounding.txt", tmp_path / "bad.txt", units_line=_units_line(**given),
                 convert=convert)
    with pytest.raises(FormatError, match=pattern):
        get_reader("uwyo_sounding")(f)


def test_out_of_order_levels_are_refused(tmp_path, data_dir):
    lines = _src(data_dir, "may4_sounding.txt").read_text().splitlines()
    lines[10], lines[11] = lines[11], lines[10]
    f = tmp_path / "swapped.txt"
    f.write_text("\n".join(lines) + "\n")
    with pytest.raises(FormatError, match=r"column PRES: pressure rises from 850 to 867.9 hPa \(line 12\)"):
        get_reader("uwyo_sounding")(f)


def test_real_soundings_pass_the_plausibility_checks(data_dir):
    for name in SOUNDINGS:
        ds = get_reader("uwyo_sounding")(_src(data_dir, name))
        assert ds.attrs["levels_with_temperature"] > 20
    upa = get_reader("upper_air_csv")(data_dir / STATIC / "UPA_obs.csv")
    assert upa.sizes["obs"] == 221


def test_sounding_indexable_by_pressure_and_height(data_dir):
    ds = get_reader("uwyo_sounding")(_src(data_dir, "20110522_OUN_12Z.txt"))
    assert float(ds.sel(pressure=500, method="nearest").pressure) == 500.0
    assert float(ds.sel(pressure=497, method="nearest").temperature) == float(
        ds.temperature[int(np.argmin(np.abs(ds.pressure.values - 497)))])
    lev = ds.sel(height=3000, method="nearest")
    assert abs(float(lev.height) - 3000) < 300 and int(lev.level) == int(np.argmin(np.abs(ds.height.values - 3000)))
    assert ds.sel(level=0).pressure == 1000.0
    dec9 = get_reader("uwyo_sounding")(_src(data_dir, "dec9_sounding.txt"))  # repeated levels dropped
    assert float(dec9.sel(pressure=20, method="nearest").wind_direction) == 0.0
    assert any("repeated pressure" in n for n in dec9.attrs["reader_notes"])


# --- upper-air CSV units ---------------------------------------------------------------

def test_upper_air_csv_header_units(tmp_path, data_dir):
    src = data_dir / STATIC / "UPA_obs.csv"
    df = pd.read_csv(src)
    conv = df.copy()
    conv["temperature"] = df["temperature"] + 273.15
    conv["dewpoint"] = df["dewpoint"] + 273.15
    conv["height"] = df["height"] / 0.3048
    conv["speed"] = df["speed"] * 1852.0 / 3600.0
    conv = conv.rename(columns={"temperature": "temperature (K)", "dewpoint": "dewpoint [K]",
                                "height": "height (ft)", "speed": "speed (m/s)", "pressure": "pressure (mb)"})
    f = tmp_path / "upa_units.csv"
    conv.to_csv(f, index=False)
    ds = get_reader("upper_air_csv")(f)
    for col, tol in (("temperature", 1e-9), ("dewpoint", 1e-9), ("height", 1e-6), ("speed", 1e-6),
                     ("pressure", 0)):
        np.testing.assert_allclose(ds[col].values, df[col].to_numpy(), atol=tol, equal_nan=True, err_msg=col)
    wrong = df.copy()
    wrong["temperature"] = df["temperature"] + 273.15
    g = tmp_path / "upa_wrong.csv"
    wrong.to_csv(g, index=False)
    with pytest.raises(FormatError, match=r"column temperature: .* \(line 2\) is not a plausible temperature .*"
                                          r"are the units K\?"):
        get_reader("upper_air_csv")(g)



@pytest.mark.parametrize("stamp,want", [
    ("1993-03-14", "1993-03-14T00:00"),
    ("1993-03-14 12:00", "1993-03-14T12:00"),
    ("1993-03-14T12:00:00Z", "1993-03-14T12:00"),
    ("1993-03-14T14:00+02:00", "1993-03-14T12:00"),  # an offset: converted to UTC
    ("14 Mar 1993 12:00", "1993-03-14T12:00"),       # not ISO 8601: through pandas
])
def test_upper_air_csv_times(tmp_path, data_dir, stamp, want):
    """The time column in several spellings gives the instant written by hand (UTC)."""
    df = pd.read_csv(data_dir / STATIC / "UPA_obs.csv")
    df["time"] = stamp
    f = tmp_path / "upa_times.csv"
    df.to_csv(f, index=False)
    ds = get_reader("upper_air_csv")(f)
    assert (ds["time"].values == np.datetime64(want, "ns")).all()

# --- IGRA2 and SHARPpy -----------------------------------------------------------------

def _may4_levels(data_dir: Path) -> pd.DataFrame:
    """may4's levels as MetPy's example reads them: ``pandas.read_fwf(skiprows=5)`` (which
    also skips the below-ground 1000 hPa line, leaving the 30 measured levels)."""
    return pd.read_fwf(_src(data_dir, "may4_sounding.txt"), skiprows=5, usecols=[0, 1, 2, 3, 6, 7],
                       names=["pressure", "height", "temperature", "dewpoint", "direction", "speed"])


def _igra2_text(df: pd.DataFrame, numlev: int | None = None) -> str:
    """The levels written in the IGRA2 data layout. The layout is real (header and
    fixed-width records as in NCEI's igra2-data-format.txt); the file is synthetic: the
    numbers are may4_sounding.txt's, converted to IGRA2's units (Pa, tenths of °C,
    dew-point depression, tenths of m/s), with nominal level types and no elapsed time."""
    def i(v: float, scale: float = 1.0) -> int:
        return -9999 if np.isnan(v) else int(round(v * scale))

    out = [f"#USM00072357 1999 05 04 00 2315 {numlev or len(df):4d} ncdc-gts ncdc-gts  352333  -974408"]
    for k, r in df.iterrows():
        lt = "21" if k == 0 else ("10" if r.pressure in (925, 850, 700, 500, 400, 300, 250) else "20")
        dpd = i(r.temperature - r.dewpoint, 10)
        out.append(f"{lt} {-9999:5d} {i(r.pressure, 100):6d}{'B' if k else ' '}{i(r.height):5d} "
                   f"{i(r.temperature, 10):5d}B{-9999:5d} {dpd:5d} {i(r.direction):5d} {i(r.speed * 0.514444, 10):5d}")
    return "\n".join(out) + "\n"


def _sharppy_text(df: pd.DataFrame) -> str:
    out = ["%TITLE%", " OUN   990504/0000", "",
           "   LEVEL       HGHT       TEMP       DWPT       WDIR       WSPD",
           "-------------------------------------------------------------------", "%RAW%"]
    for _, r in df.iterrows():
        out.append(", ".join(f"{-9999.0 if np.isnan(v) else v:10.2f}" for v in
                             (r.pressure, r.height, r.temperature, r.dewpoint, r.direction, r.speed)))
    return "\n".join(out + ["%END%"]) + "\n"


def test_igra2_and_sharppy_read_the_same_levels(tmp_path, data_dir):
    from hvrmet.calc.sounding import diagnostics, profile_from_dataset

    df = _may4_levels(data_dir)
    assert len(df) == 30
    (tmp_path / "may4-igra2.txt").write_text(_igra2_text(df))
    (tmp_path / "may4.sharppy").write_text(_sharppy_text(df))
    ig = get_reader("igra2")(tmp_path / "may4-igra2.txt")
    sh = get_reader("sharppy")(tmp_path / "may4.sharppy")
    uw = get_reader("uwyo_sounding")(_src(data_dir, "may4_sounding.txt")).isel(level=slice(1, None))
    ref = df.rename(columns={"pressure": "PRES", "height": "HGHT", "temperature": "TEMP", "dewpoint": "DWPT",
                             "direction": "DRCT", "speed": "SKNT"})
    _assert_same_levels(sh, ref)
    _assert_same_levels(ig, ref, {"wind_speed": 0.1, "pressure": 1e-9})  # IGRA2 wind: tenths of m/s
    assert ig.attrs["time"].startswith("1999-05-04T00:00") and sh.attrs["time"].startswith("1999-05-04T00:00")
    assert ig.attrs["latitude"] == pytest.approx(35.2333) and ig.attrs["igra_numlev"] == 30
    assert sh.attrs["station"] == "OUN" and ig.attrs["surface_level"] == 0
    assert set(ig.xindexes) >= {"pressure", "height"}
    assert float(sh.sel(pressure=500, method="nearest").temperature) == -14.9
    for ds in (ig, sh):
        for v in ("temperature", "dewpoint", "wind_direction", "wind_speed"):
            assert ds[v].attrs["units"] == uw[v].attrs["units"]
    sb = {n: diagnostics(profile_from_dataset(d.assign_attrs(sha256="")))["sbcape"][0]
          for n, d in (("uwyo", uw), ("igra2", ig), ("sharppy", sh))}
    assert sb["igra2"] == pytest.approx(sb["uwyo"], abs=0.01) and sb["sharppy"] == pytest.approx(sb["uwyo"], abs=0.01)


def test_igra2_truncation_and_selection(tmp_path, data_dir):
    df = _may4_levels(data_dir)
    text = _igra2_text(df)
    lines = text.splitlines()
    read = get_reader("igra2")
    f = tmp_path / "short-igra2.txt"
    f.write_text("\n".join(lines[:-5]) + "\n")  # a header that promises more levels than present
    with pytest.raises(FormatError, match="promises 30 levels but only 25 follow: the file is truncated"):
        read(f)
    f.write_text(text[:-20])  # the last record cut mid-line
    with pytest.raises(FormatError, match="truncated"):
        read(f)
    f.write_text(text.rstrip("\n"))  # complete, no final newline
    assert read(f).sizes["level"] == 30
    two = text + text.replace("1999 05 04 00 2315", "1999 05 04 12 1115")
    f.write_text(two)
    with pytest.raises(DataError, match="holds 2 soundings .* reader option time"):
        read(f)
    assert read(f, time="1999-05-04T12:00Z").attrs["time"].startswith("1999-05-04T12:00")
    assert "  -149B" in text  # 500 hPa: -14.9 °C
    f.write_text(text.replace("  -149B", "  2851B", 1))  # as if 285.1 K were written as °C
    with pytest.raises(FormatError, match="not a plausible temperature|disagree"):
        read(f)


def test_sharppy_truncation_and_units(tmp_path, data_dir):
    df = _may4_levels(data_dir)
    text = _sharppy_text(df)
    read = get_reader("sharppy")
    f = tmp_path / "cut.sharppy"
    f.write_text(text[: text.index("%END%")])
    with pytest.raises(FormatError, match=r"no %END% line after the data: the file is truncated"):
        read(f)
    f.write_text(text[: text.index("%END%") - 30] + "\n%END%\n")
    with pytest.raises(FormatError, match="values, the columns are 6"):
        read(f)
    kelvin = df.assign(temperature=df.temperature + 273.15, dewpoint=df.dewpoint + 273.15)
    f.write_text(_sharppy_text(kelvin).replace("TEMP       DWPT", "TEMP(K)    DWPT(K)"))
    np.testing.assert_allclose(read(f).temperature.values, df.temperature.to_numpy(), atol=1e-9)
    f.write_text(_sharppy_text(kelvin))
    with pytest.raises(FormatError, match=r"column TEMP: .* are the units K\?"):
        read(f)


@pytest.mark.parametrize("fmt", ["igra2", "sharppy"])
def test_new_formats_bad_input(tmp_path, data_dir, fmt):
    """Empty, truncated at several offsets, byte-flipped and wrong-format copies: a
    DataError naming the file (or, for a cut that leaves a complete file, a dataset)."""
    text = (_igra2_text if fmt == "igra2" else _sharppy_text)(_may4_levels(data_dir)).encode()
    read = get_reader(fmt)
    f = tmp_path / "snd.txt"
    raised = 0
    for frac in (0.02, 0.3, 0.6, 0.97):
        f.write_bytes(text[: int(len(text) * frac)])
        try:
            read(f)
        except DataError as exc:
            assert str(f) in str(exc)
            raised += 1
    assert raised == 4
    rng = np.random.default_rng(0)
    for where in (slice(0, 64), slice(len(text) // 3, len(text) // 3 + 400)):
        blob = bytearray(text)
        for i in rng.integers(where.start, where.stop, size=16):
            blob[i] ^= 0xFF
        f.write_bytes(bytes(blob))
        with pytest.raises(DataError, match=str(f)):
            read(f)
    for other in (_src(data_dir, "may4_sounding.txt"), data_dir / STATIC / "UPA_obs.csv"):
        f.write_bytes(other.read_bytes())
        with pytest.raises(FormatError, match=str(f)):
            read(f)


# --- 3. METAR under a time limit -------------------------------------------------------

_FLIP_SCRIPT = textwrap.dedent("""
    import sys, warnings, numpy as np
    from pathlib import Path
    from hvrmet.data.readers import get_reader
    from hvrmet.errors import DataError
    src, out = Path(sys.argv[1]), Path(sys.argv[2])
    raw = src.read_bytes()
    rng = np.random.default_rng(0)  # the flips of tests/test_bad_input.py::test_byte_flipped
    for k, where in enumerate((slice(0, 64), slice(len(raw) // 3, len(raw) // 3 + 4096))):
        blob = bytearray(raw)
        for i in rng.integers(where.start, min(where.stop, len(raw)), size=16):
            blob[i] ^= 0xFF
        f = out / f"flip{k}" / src.name
        f.parent.mkdir()
        f.write_bytes(bytes(blob))
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            try:
                ds = get_reader("metar")(f)
                print("read", k, ds.attrs["reports_skipped_garbled"], ds.sizes["obs"],
                      sum("skipped" in str(x.message) for x in w), flush=True)
            except DataError as exc:
                print("error", k, str(f) in str(exc), exc, flush=True)
""")


def test_metar_byte_flips_end_quickly(tmp_path, data_dir):
    """The two byte-flipped copies of the bad-input corpus: a partial read with a warning
    (the garbled reports skipped and counted) or a DataError. In a subprocess whose
    timeout is only a hang guard, generous for a busy machine."""
    env = dict(os.environ, MPLBACKEND="Agg")
    proc = subprocess.run([sys.executable, "-W", "ignore::DeprecationWarning", "-c", _FLIP_SCRIPT,
                           str(data_dir / STATIC / "metar_20190701_1200.txt"), str(tmp_path)],
                          capture_output=True, text=True, timeout=900, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = [ln.split() for ln in proc.stdout.splitlines() if ln.startswith(("read", "error"))]
    assert len(rows) == 2, proc.stdout
    for row in rows:
        if row[0] == "read":
            skipped, obs, warned = int(row[2]), int(row[3]), int(row[4])
            assert obs > 8000 and warned == (1 if skipped else 0)
        else:
            assert row[2] == "True"


def test_metar_garbled_and_failing_reports_are_skipped_and_counted(tmp_path, data_dir, monkeypatch):
    import metpy.io.metar as mm

    raw = (data_dir / STATIC / "metar_20190701_1200.txt").read_bytes()
    f = tmp_path / "metar_20190701_1200.txt"
    f.write_bytes(raw.replace(b"KRCM 011155Z AUTO 00000KT", b"KRCM 011155Z AU\xff\xfe 00000KT", 1))
    with pytest.warns(ReaderWarning, match="1 of 18985 reports skipped: they hold bytes that are not text"):
        ds = get_reader("metar")(f)
    assert ds.attrs["reports_skipped_garbled"] == 1
    krcm = ds.time.values[ds.station.values == "KRCM"]
    assert len(krcm) == 2 and np.datetime64("2019-07-01T11:55") not in krcm
    real = mm.parse_metar

    def fragile(text, *a, **k):
        if text.startswith("KIPJ"):
            raise IndexError("list index out of range")
        return real(text, *a, **k)

    monkeypatch.setattr(mm, "parse_metar", fragile)
    with pytest.warns(ReaderWarning, match="the METAR decoder failed on them"):
        ds = get_reader("metar")(data_dir / STATIC / "metar_20190701_1200.txt")
    assert ds.attrs["reports_skipped_decoder_failed"] == 3 and "KIPJ" not in set(ds.station.values)


def test_metar_time_limit(tmp_path, data_dir, monkeypatch):
    """A decoder that stalls is stopped by the file's time limit (no wall-clock assert: the
    limit itself is what is tested)."""
    import time

    import metpy.io.metar as mm

    def stall(text, *a, **k):
        time.sleep(0.05)
        raise mm.ParseError("never")

    monkeypatch.setattr(mm, "parse_metar", stall)
    with pytest.raises(FormatError, match=r"decoding stopped after 0\.3 s .* time_limit_s"):
        get_reader("metar")(data_dir / STATIC / "metar_20190701_1200.txt", time_limit_s=0.3)


# --- 4. error messages in plain words --------------------------------------------------

def _bare(problem: str) -> bool:
    """True for a message that is only an exception class (and its raw text): what the
    readers said before ('cannot be read as X: OSError')."""
    import re

    m = re.match(r"^cannot be read as [^:]+: (.*)$", problem)
    return bool(m) and (re.match(r"^[A-Za-z_.]*(Error|error|Exception|Warning)\b", m.group(1)) is not None)


def test_plain_reason_words():
    import bz2
    import gzip
    import struct
    import zlib

    cases = {
        EOFError("Compressed file ended before the end-of-stream marker was reached"): "ends early",
        OSError(): "cannot be read",
        OSError("[Errno -101] NetCDF: HDF error: '/x'"): "HDF5/NetCDF",
        OSError("[Errno -51] NetCDF: Unknown file format: '/x'"): "not HDF5/NetCDF",
        OSError("Unable to synchronously open file (truncated file: eof = 10)"): "ends early",
        KeyError("PRES"): "a field expected in this format is missing: PRES",
        ValueError("cannot reshape array of size 3 into shape (2,2)"): "size its header gives",
        ValueError("month must be in 1..12"): "date or time",
        UnicodeDecodeError("utf-8", b"\xd2", 0, 1, "invalid start byte"): "not text in the expected encoding",
        TypeError("data type '>u19' not understood"): "impossible value",
        RuntimeError("End of resource reached when reading message"): "ends early",
    }
    for data, fn in ((b"not gzip", gzip.decompress), (b"BZh9garbage", bz2.decompress),
                     (b"\x78\x9c\x00\x00", zlib.decompress), (b"\x01", lambda b: struct.unpack(">I", b))):
        try:
            fn(data)
        except Exception as exc:  # noqa: BLE001
            cases[exc] = ""
    for exc, words in cases.items():
        text = plain_reason(exc)
        assert words in text, (exc, text)
        assert not _bare(f"cannot be read as X: {text}"), text
        assert text.endswith(")") and f"{type(exc).__name__}" in text.rsplit("(", 2)[-2] + text, text


def test_reading_names_file_and_plain_words(tmp_path):
    f = tmp_path / "x.bin"
    with pytest.raises(FormatError) as info:
        with reading(f, "NetCDF"):
            raise OSError()
    msg = str(info.value)
    assert msg.startswith(str(f)) and "cannot be read as NetCDF: the file cannot be read" in msg
    assert msg.endswith("(OSError)")


@pytest.mark.parametrize("fmt,key", [
    ("uwyo_sounding", "may4_sounding.txt"), ("upper_air_csv", "UPA_obs.csv"), ("surface_csv", "SFC_obs.csv"),
    ("wpc_fronts", "WPC_sfc_fronts_20210628_1800.txt"), ("metar", "metar_20190701_1200.txt"),
    ("netcdf", "GFS_test.nc"), ("nexrad_level2", "KTLX19990503_235621.gz"),
])
def test_reader_errors_are_plain_words(tmp_path, data_dir, fmt, key):
    """Truncated, byte-flipped and wrong-format copies: every error names the file and is
    not just an exception class."""
    raw = (data_dir / STATIC / key).read_bytes()
    f = tmp_path / key
    opts = {"site": "KTLX"} if fmt == "nexrad_level2" else {}
    blobs = [raw[: len(raw) // 3], raw[: len(raw) * 9 // 10]]
    rng = np.random.default_rng(1)
    for where in (slice(0, 64), slice(len(raw) // 2, len(raw) // 2 + 4096)):
        b = bytearray(raw)
        for i in rng.integers(where.start, min(where.stop, len(raw)), size=16):
            b[i] ^= 0xFF
        blobs.append(bytes(b))
    blobs.append((data_dir / STATIC / ("GFS_test.nc" if fmt != "netcdf" else "UPA_obs.csv")).read_bytes())
    messages = []
    for blob in blobs:
        f.write_bytes(blob)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                get_reader(fmt)(f, **opts)
            except DataError as exc:
                assert str(f) in str(exc)
                messages.append(exc.problem)
    assert messages
    assert not [m for m in messages if _bare(m)], messages
