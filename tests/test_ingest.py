"""Acceptance of ingestion: every data file of the manifest becomes a case (or is out of
scope, with its reason in docs/data-scope.md), cases are built from folders, diagnoses run
on folders of each new radar format, and bad input is one line with exit status 2.

The SPC outlook and storm-report tests write small files in SPC's published layouts
(tmp_path): no real SPC outlook or local-storm-report file is in the data folder, so those
have no real-data acceptance here.
"""

from __future__ import annotations

import csv
import fnmatch
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from hvrmet.cases import get_case, load_role
from hvrmet.cases.assemble import assemble_case, case_yaml, load_context, write_case
from hvrmet.cases.model import CONTEXT_ONLY_ROLES, Case
from hvrmet.data.readers import READERS
from hvrmet.data.sniff import sniff
from hvrmet.errors import CaseError, DataError, FormatError, VariableMissing

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("HVRMET_DATA_DIR") or ROOT.parent / "shared" / "data")
pytestmark = pytest.mark.realdata


def _out_of_scope() -> dict[str, str]:
    """The table of docs/data-scope.md: path pattern -> reason."""
    table = {}
    for line in (ROOT / "docs" / "data-scope.md").read_text().splitlines():
        m = re.match(r"^\|\s*`([^`]+)`\s*\|\s*(.+?)\s*\|\s*$", line)
        if m:
            table[m.group(1)] = m.group(2)
    return table


def _manifest() -> list[str]:
    if not (DATA / "MANIFEST.tsv").is_file():
        return []
    with open(DATA / "MANIFEST.tsv", newline="") as fh:
        return [r["path"] for r in csv.DictReader(fh, delimiter="\t")]


OUT_OF_SCOPE = _out_of_scope()


def _scope_reason(path: str) -> str | None:
    return next((why for pat, why in OUT_OF_SCOPE.items() if fnmatch.fnmatchcase(path, pat)), None)


def _walk_groups() -> list[tuple[str, list[str]]]:
    """In-scope manifest files grouped as ``hvrmet cases new`` would take them: the
    composite frames of one folder together, every other file on its own."""
    groups: dict[str, list[str]] = {}
    for path in _manifest():
        if _scope_reason(path):
            continue
        try:
            kind = sniff(DATA / path).kind
        except DataError:
            kind = "unknown"
        key = str(Path(path).parent) + "/*" if kind == "composite" else path
        groups.setdefault(key, []).append(path)
    return sorted(groups.items())


GROUPS = _walk_groups()


def test_scope_table_names_real_files_with_reasons():
    paths = _manifest()
    assert len(OUT_OF_SCOPE) >= 10
    for pat, why in OUT_OF_SCOPE.items():
        assert len(why) > 10, pat
        assert any(fnmatch.fnmatchcase(p, pat) for p in paths), f"{pat} matches no manifest file"
    assert len(GROUPS) > 80


@pytest.mark.parametrize("key,paths", GROUPS, ids=[k for k, _ in GROUPS])
def test_every_file_loads_through_cases_new(key, paths, tmp_path):
    """Each in-scope file (a folder of composite frames together) becomes a case through
    ``cases new`` and every role of it loads through ``cases load``'s functions."""
    files = [DATA / p for p in paths]
    formats = {sniff(f).format for f in files}
    missing = sorted(f for f in formats if f not in READERS)
    if missing:
        pytest.skip(f"reader {', '.join(missing)} has not landed yet")
    asm = assemble_case(files, case_id="walk")
    used = {str(f.path.resolve()) for f in asm.files}
    left = [str(f) for f in files if str(f.resolve()) not in used]
    assert not left, f"left out: {left}; warnings: {asm.warnings}"
    assert asm.case.notes and "read from the data" in asm.case.notes
    out = write_case(asm.case, tmp_path / "walk.yaml")
    case = get_case(str(out))
    for role in case.roles:
        ds = load_role(case, role)
        assert ds.attrs.get("source_sha256"), role


def test_cases_new_cli_then_load(tmp_path):
    """One real run of the command line: a folder of two files, the YAML, then cases load."""
    folder = tmp_path / "may1999"
    folder.mkdir()
    for name in ("KTLX19990503_235621.gz", "may4_sounding.txt"):
        (folder / name).symlink_to(DATA / "metpy" / "staticdata" / name)
    env = {**os.environ, "HVRMET_DATA_DIR": str(DATA), "MPLBACKEND": "Agg"}
    out = tmp_path / "case.yaml"
    run = subprocess.run([sys.executable, "-m", "hvrmet.cli", "cases", "new", str(folder), "--out", str(out)],
                         capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stderr
    case = get_case(str(out))
    assert case.roles == ["radar_volume", "sounding"]
    assert case.location.radar_site == "KTLX" and abs(case.location.lat - 35.333) < 0.01
    assert case.time.strftime("%Y-%m-%d %H:%M") == "1999-05-03 23:56"
    assert case.events == [] and "read from the data" in case.notes
    run = subprocess.run([sys.executable, "-m", "hvrmet.cli", "cases", "load", str(out)],
                         capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr


def test_roles_from_a_mixed_folder(tmp_path):
    """Radar volumes in time order, one composite sequence by glob, Level III by product,
    the sounding nearest the case time; files left out are one warning line each."""
    links = {
        "a.hdf": "open-radar-data/data/T_PAZA63_C_LFPW_20230420065541.h5",
        "b.hdf": "open-radar-data/data/T_PAZA63_C_LFPW_20230420065041.h5",
        "ncr": "metpy/staticdata/nids/Level3_MCI_NCR_20160526_2154.nids",
        "tv0": "metpy/staticdata/nids/Level3_MCI_TV0_20160526_2154.nids",
        "notes.txt": None,
    }
    for name, key in links.items():
        if key is None:
            (tmp_path / name).write_text("field notes, not data\n")
        else:
            (tmp_path / name).symlink_to(DATA / key)
    comp = tmp_path / "opera"
    comp.mkdir()
    for hhmm in ("1800", "1815", "1830"):
        name = f"T_PAAH21_C_EUOC_20180824{hhmm}00.hdf"
        (comp / name).symlink_to(DATA / "pysteps-data/radar/OPERA/20180824" / name)
    asm = assemble_case([tmp_path])
    files = {f.role: f for f in asm.case.files}
    assert files["radar_volume"].path == "b.hdf" and files["radar_volume_2"].path == "a.hdf"  # time order
    assert files["composite_sequence"].glob and files["composite_sequence"].options == {"importer": "opera_hdf5"}
    assert files["level3_composite_reflectivity"].format == "nexrad_level3"
    assert files["level3_velocity"].path == "tv0"
    assert any("notes.txt" in w for w in asm.warnings) and len(asm.warnings) == 1
    assert asm.case.time.strftime("%Y-%m-%d %H:%M") == "2023-04-20 06:50"  # the first radar volume
    assert "frave" in (asm.case.location.radar_site or "")
    ds = load_role(get_case(str(write_case(asm.case, tmp_path / "c.yaml"))), "composite_sequence")
    assert ds.sizes["time"] == 3


@pytest.mark.parametrize("what,keys", [
    ("odim", ["open-radar-data/data/T_PAGZ35_C_ENMI_20170421090837.hdf"]),
    ("cfradial", ["open-radar-data/data/MLL2217907250U.003.nc"]),
    ("iris", ["open-radar-data/data/SUR210819000227.RAWKPJV"]),
    ("opera", [f"pysteps-data/radar/OPERA/20180824/T_PAAH21_C_EUOC_20180824{t}00.hdf"
               for t in ("1800", "1815", "1830", "1845")]),
])
def test_diagnose_a_folder(what, keys, tmp_path):
    """``hvrmet diagnose FOLDER`` runs to a report, and no tool fails for a format reason."""
    formats = {sniff(DATA / k).format for k in keys}
    if any(f not in READERS for f in formats):
        pytest.skip(f"reader {', '.join(sorted(formats))} has not landed yet")
    folder = tmp_path / what
    folder.mkdir()
    for k in keys:
        (folder / Path(k).name).symlink_to(DATA / k)
    out = tmp_path / "out"
    env = {**os.environ, "HVRMET_DATA_DIR": str(DATA), "MPLBACKEND": "Agg"}
    run = subprocess.run([sys.executable, "-m", "hvrmet.cli", "diagnose", str(folder), "--out", str(out),
                          "--no-figures", "--json"], capture_output=True, text=True, env=env, timeout=600)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert "Traceback" not in run.stderr
    traces = list(out.rglob("trace.json"))
    assert len(traces) == 1 and (traces[0].parent / "report.md").is_file()
    evidence = json.loads(traces[0].read_text())["evidence"]
    assert evidence
    bad = [f"{e['tool']}: {e['error']}" for e in evidence if not e["ok"] and e.get("error")
           and re.search(r"format|cannot read|cannot be read", e["error"], re.I)]
    assert not bad, bad
    assert any(e["ok"] for e in evidence if e["tool"] != "describe_case_setting")


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "HVRMET_DATA_DIR": str(DATA), "MPLBACKEND": "Agg"}
    return subprocess.run([sys.executable, "-m", "hvrmet.cli", *args], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=300)


def test_unknown_file_and_empty_folder_are_one_line(tmp_path):
    unknown = tmp_path / "mystery.bin"
    unknown.write_bytes(b"\x00\x01\x02 not any format " * 40)
    empty = tmp_path / "empty"
    empty.mkdir()
    for args in (["cases", "new", str(unknown)], ["cases", "new", str(empty)],
                 ["diagnose", str(unknown), "--out", str(tmp_path / "o")],
                 ["diagnose", str(empty), "--out", str(tmp_path / "o")]):
        run = _cli(*args, cwd=tmp_path)
        assert run.returncode == 2, (args, run.stdout, run.stderr)
        lines = [ln for ln in run.stderr.splitlines() if ln.strip()]
        assert len(lines) == 1 and "Traceback" not in run.stderr, (args, run.stderr)
        assert str(unknown if "mystery" in args[-1] or "mystery" in " ".join(args) else empty) in lines[0]


def test_unknown_format_in_a_case_is_one_line(tmp_path):
    """A case file naming a format no reader has: one line, exit 2 (was a traceback)."""
    case = tmp_path / "c.yaml"
    case.write_text("id: c\ntitle: t\ntime: 2020-01-01T00:00:00Z\nlocation: {lat: 0, lon: 0}\n"
                    f"files:\n  - {{role: sounding, format: nosuchformat, path: {DATA}/metpy/staticdata/may4_sounding.txt}}\n")
    for args in (["cases", "load", str(case)], ["cases", "show", str(case)]):
        run = _cli(*args, cwd=tmp_path)
        assert run.returncode == 2 and "Traceback" not in run.stderr + run.stdout, run.stderr
        said = " ".join((run.stdout + run.stderr).split())
        assert "unknown data format" in said and "nosuchformat" in said, said


def test_unreadable_file_in_a_folder_is_a_warning(tmp_path):
    (tmp_path / "vol.hdf").symlink_to(DATA / "open-radar-data/data/T_PAGZ35_C_ENMI_20170421090837.hdf")
    cut = tmp_path / "cut.gz"
    cut.write_bytes((DATA / "metpy/staticdata/KTLX19990503_235621.gz").read_bytes()[:5000])
    asm = assemble_case([tmp_path])
    assert asm.case.roles == ["radar_volume"]
    assert len(asm.warnings) == 1 and str(cut) in asm.warnings[0]
    with pytest.raises(DataError):
        assemble_case([cut])


_KLIX = DATA / "open-radar-data/data/KLIX20050828_180149.gz"


def _legacy_without_site(dst: Path) -> Path:
    """A copy of the real message-1 KLIX volume whose volume header names no radar (four
    NUL bytes where the ICAO id goes, as in the 1990s archive files, e.g. KTLX 1999)."""
    import gzip

    raw = bytearray(gzip.decompress(_KLIX.read_bytes()))
    assert raw[:9] == b"AR2V0001." and raw[20:24] == b"KLIX"
    raw[20:24] = b"\0\0\0\0"
    dst.write_bytes(gzip.compress(bytes(raw)))
    return dst


def test_legacy_level2_reads_its_site_from_the_volume_header(tmp_path):
    """KLIX's message-1 volume names its radar in the volume header: no --site needed;
    time from MetPy's own read of the file, place from Py-ART's NEXRAD site table."""
    import pyart
    from metpy.io import Level2File

    f = tmp_path / _KLIX.name
    f.write_bytes(_KLIX.read_bytes())  # a copy: outside the registry, no catalogue case helps
    asm = assemble_case([f])
    lat, lon, _ = pyart.io.nexrad_common.get_nexrad_location("KLIX")
    assert asm.case.location.radar_site == "KLIX"
    assert abs(asm.case.location.lat - lat) < 1e-3 and abs(asm.case.location.lon - lon) < 1e-3
    assert asm.case.time.replace(tzinfo=None) == Level2File(str(_KLIX)).dt.replace(tzinfo=None, microsecond=0)


def test_legacy_level2_without_site_says_what_is_missing(tmp_path):
    """A message-1 volume that records no site, in a folder whose other file carries no time
    (an untitled sounding): the error says the volume was not read for want of a site and
    how to give it (--site), not just that no file gives a time."""
    import pyart
    from metpy.io import Level2File

    folder = tmp_path / "legacy"
    folder.mkdir()
    vol = _legacy_without_site(folder / "KLIX20050828_180149.gz")
    (folder / "may4_sounding.txt").write_bytes((DATA / "metpy/staticdata/may4_sounding.txt").read_bytes())
    with pytest.raises(CaseError) as info:
        assemble_case([folder])
    said = str(info.value)
    assert "records no radar site" in said and "--site KLIX" in said and vol.name in said, said
    assert "a climatology, an untitled sounding" not in said, said
    # alone: the reader's own error says the same, one line through the command line
    with pytest.raises(FormatError, match=r"records no radar site.*--site XXXX.*starts with KLIX"):
        assemble_case([vol])
    run = _cli("cases", "new", str(folder), cwd=tmp_path)
    lines = [ln for ln in run.stderr.splitlines() if ln.strip()]
    assert run.returncode == 2 and len(lines) == 1 and "--site KLIX" in lines[0], run.stderr
    # a name that gives no hint: the option is still named
    other = _legacy_without_site(tmp_path / "volume.gz")
    with pytest.raises(CaseError, match=r"no file that could be read gives a time: volume.gz .*--site and the radar"):
        assemble_case([other, folder / "may4_sounding.txt"])
    # given the site, the volume gives the case its time (MetPy's read) and place (Py-ART's table)
    asm = assemble_case([folder], site="KLIX")
    lat, lon, _ = pyart.io.nexrad_common.get_nexrad_location("KLIX")
    assert asm.case.roles == ["radar_volume", "sounding"] and asm.case.location.radar_site == "KLIX"
    assert abs(asm.case.location.lat - lat) < 1e-3 and abs(asm.case.location.lon - lon) < 1e-3
    assert asm.case.time.replace(tzinfo=None) == Level2File(str(vol)).dt.replace(tzinfo=None, microsecond=0)


# --- sniffing ---------------------------------------------------------------------------

@pytest.mark.parametrize("key,fmt,importer", [
    ("open-radar-data/data/T_PAGZ35_C_ENMI_20170421090837.hdf", "odim_h5", None),
    ("open-radar-data/data/T_PAZC63_C_LFPW_20230420065228.h5", "odim_h5", None),
    ("pysteps-data/radar/OPERA/20180824/T_PAAH21_C_EUOC_20180824180000.hdf", "composite", "opera_hdf5"),
    ("pysteps-data/radar/KNMI/2010/08/RAD_NL25_RAP_5min_201008260000.h5", "composite", "knmi_hdf5"),
    ("pysteps-data/radar/bom/prcp-cscn/2/2018/06/16/2_20180616_100000.prcp-cscn.nc", "composite", "bom_rf3"),
    ("pysteps-data/mrms/2019/06/10/PrecipRate_00.00_20190610-000000.grib2", "composite", "mrms_grib"),
    ("pysteps-data/radar/mch/20150515/AQC151351545F_00005.801.gif", "composite", "mch_gif"),
    ("open-radar-data/data/example_plot_ppi_single_sweep.nc", "cfradial1", None),
    ("open-radar-data/data/cfrad.20211011_201733.023_to_20211011_201745.299_DOW8_RHI.nc", "cfradial1", None),
    ("open-radar-data/data/SUR210819000227.RAWKPJV", "iris", None),
    ("open-radar-data/data/sample_rainbow_5_59.vol", "rainbow", None),
    ("open-radar-data/data/nexrad_level2_chunks_KLOT.tar.gz", "nexrad_level2", None),
    ("metpy/staticdata/Level2_KFTG_20150430_1419.ar2v", "nexrad_level2", None),
    ("metpy/staticdata/KTLX19990503_235621.gz", "nexrad_level2", None),
    ("metpy/staticdata/nids/KLZK_H0C_20200814_0417", "nexrad_level3", None),
    ("metpy/staticdata/nids/sn.last", "nexrad_level3", None),
    ("metpy/staticdata/Level3_Composite_dhr_1km_20180309_2225.gini", "gini", None),
    ("metpy/staticdata/GFS_test.nc", "netcdf", None),
    ("xarray-data/eraint_uvz.nc", "netcdf", None),
    ("xarray-data/era5-2mt-2019-03-uk.grib", "grib", None),
    ("metpy/staticdata/may4_sounding.txt", "uwyo_sounding", None),
    ("metpy/staticdata/UPA_obs.csv", "upper_air_csv", None),
    ("metpy/staticdata/SFC_obs.csv", "surface_csv", None),
    ("metpy/staticdata/metar_20190701_1200.txt", "metar", None),
    ("metpy/staticdata/WPC_sfc_fronts_lowres_20210628_1800.txt", "wpc_fronts", None),
    ("metpy/staticdata/nhc_wind_prob_2021082012.zip", "nhc_windprob", None),
])
def test_sniffing_real_files(key, fmt, importer, tmp_path):
    """The content decides, not the name: a copy under a meaningless name sniffs alike."""
    found = sniff(DATA / key)
    assert found.format == fmt and found.options.get("importer") == importer, found
    renamed = tmp_path / "data.bin"
    renamed.symlink_to(DATA / key)
    assert sniff(renamed).format == fmt


def test_sniffing_written_layouts(tmp_path):
    """Layouts with no real file here, written as the formats define them."""
    cases = {
        "igra2.txt": ("#USM00072357 2011 05 22 12 1100   93 ncdc-gts ncdc-gts  352200  -974400\n"
                      "21 -9999  96600   357A  246A  970  -9999   180    46\n", "igra2"),
        "sharppy.txt": ("%TITLE%\n OUN   110522/1200\n\n   LEVEL       HGHT       TEMP       DWPT       WDIR       WSPD\n"
                        "-------------------------------------------------------------------\n%RAW%\n"
                        " 966.00,   357.00,    24.60,    19.60,   180.00,    9.00\n%END%\n", "sharppy"),
        "uf.bin": (b"UF" + bytes(200), "uf"),
        "uf_rec.bin": (b"\x00\x00\x10\x00UF" + bytes(200), "uf"),
        "rainbow.vol": ('<volume version="5.34.16" datetime="2013-07-17T11:08:11" type="vol">\n' + "x" * 100, "rainbow"),
    }
    for name, (content, fmt) in cases.items():
        p = tmp_path / name
        (p.write_bytes if isinstance(content, bytes) else p.write_text)(content)
        assert sniff(p).format == fmt, name
    for bad in (b"", b"just some words\n", b"\x00" * 64):
        p = tmp_path / "bad"
        p.write_bytes(bad)
        with pytest.raises(FormatError, match=str(p)):
            sniff(p)


# --- SPC outlooks and storm reports (files written here in SPC's layouts) ---------------

def _ring(lon0, lat0, lon1, lat1):
    return [[[lon0, lat0], [lon1, lat0], [lon1, lat1], [lon0, lat1], [lon0, lat0]]]


def _feature(dn, label, label2, ring, valid="202105261300", expire="202105271200", issue="202105260545"):
    return {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": ring},
            "properties": {"DN": dn, "VALID": valid, "EXPIRE": expire, "ISSUE": issue, "LABEL": label,
                           "LABEL2": label2, "stroke": "#000000", "fill": "#FFFFFF"}}


def _write_outlook(folder: Path) -> dict[str, Path]:
    """A day-1 outlook as SPC publishes it: one GeoJSON per layer (cat, torn, sigtorn, wind,
    hail), features with DN/VALID/EXPIRE/ISSUE/LABEL/LABEL2/stroke/fill."""
    layers = {
        "cat": [_feature(2, "TSTM", "General Thunderstorms Risk", _ring(-104, 30, -90, 42)),
                _feature(3, "MRGL", "Marginal Risk", _ring(-102, 32, -94, 39)),
                _feature(4, "SLGT", "Slight Risk", _ring(-100, 33, -96, 37)),
                _feature(5, "ENH", "Enhanced Risk", _ring(-99, 34, -97, 36))],
        "torn": [_feature(2, "0.02", "2% Tornado Risk", _ring(-101, 33, -95, 38)),
                 _feature(5, "0.05", "5% Tornado Risk", _ring(-99.5, 34, -96.5, 36.5)),
                 _feature(10, "0.10", "10% Tornado Risk", _ring(-98.5, 34.8, -97, 35.8))],
        "sigtorn": [_feature(10, "SIGN", "10% Significant Tornado Risk", _ring(-98.5, 34.8, -97, 35.8))],
        "wind": [_feature(15, "0.15", "15% Wind Risk", _ring(-100, 33, -96, 37))],
        "hail": [_feature(30, "0.30", "30% Hail Risk", _ring(-99, 34, -96, 37))],
    }
    out = {}
    for name, feats in layers.items():
        p = folder / f"day1otlk_20210526_1300_{name}.lyr.geojson"
        p.write_text(json.dumps({"type": "FeatureCollection", "features": feats}))
        out[name] = p
    return out


def test_spc_outlook_geojson_layers(tmp_path):
    """SPC's published GeoJSON layers (written here: no real outlook is in the data folder)."""
    from hvrmet.data.readers.spc_outlook import read_spc_outlook
    from hvrmet.data.readers.spc_outlook import outlook_at

    layers = _write_outlook(tmp_path)
    for p in layers.values():
        assert sniff(p).format == "spc_outlook"
    dss = [read_spc_outlook(p) for p in layers.values()]
    cat = dss[0]
    assert list(cat.label.values) == ["TSTM", "MRGL", "SLGT", "ENH"] and list(cat.risk_rank.values) == [1, 2, 3, 4]
    assert cat.attrs["valid_start"] == "2021-05-26T13:00" and cat.attrs["valid_end"] == "2021-05-27T12:00"
    assert float(dss[1].probability.values[-1]) == pytest.approx(10.0)
    assert bool(dss[2].significant.values[0]) and dss[2].hazard.values[0] == "tornado"
    at = outlook_at(dss, 35.3, -97.5)  # inside the ENH, 10 % tornado, hatched, 15 % wind, 30 % hail
    assert at["categorical"] == "ENH" and at["rank"] == 4
    assert at["tornado_probability"] == 10 and at["tornado_significant"] is True
    assert at["wind_probability"] == 15 and at["hail_probability"] == 30
    assert "ENH/Enhanced Risk" in at["covering"] and "SIGN/10% Significant Tornado Risk" in at["covering"]
    far = outlook_at(dss, 45.0, -80.0)
    assert far["categorical"] == "NONE" and far["tornado_probability"] == 0 and far["highest_anywhere"] == "ENH"
    assert outlook_at(dss[:1], 35.3, -97.5)["tornado_probability"] is None  # no tornado layer read


def test_spc_outlook_shapefile_zip(tmp_path):
    """SPC's zip of shapefile layers (written with pyshp in SPC's field layout)."""
    import zipfile

    import shapefile

    from hvrmet.data.readers.spc_outlook import read_spc_outlook

    zpath = tmp_path / "day1otlk_20210526_1300-shp.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        for layer, recs in {"cat": [(4, "SLGT", "Slight Risk", (-100, 33, -96, 37))],
                            "torn": [(5, "0.05", "5% Tornado Risk", (-99, 34, -97, 36))]}.items():
            stem = tmp_path / f"day1otlk_20210526_1300_{layer}"
            with shapefile.Writer(str(stem), shapeType=shapefile.POLYGON) as w:
                for fname in ("DN", "VALID", "EXPIRE", "ISSUE", "LABEL", "LABEL2", "stroke", "fill"):
                    w.field(fname, "N" if fname == "DN" else "C", size=10 if fname == "DN" else 80)
                for dn, label, label2, (x0, y0, x1, y1) in recs:
                    w.poly([[[x0, y0], [x0, y1], [x1, y1], [x1, y0], [x0, y0]]])
                    w.record(dn, "202105261300", "202105271200", "202105260545", label, label2, "#000", "#fff")
            for ext in (".shp", ".shx", ".dbf"):
                zf.write(str(stem) + ext, stem.name + ext)
    assert sniff(zpath).format == "spc_outlook"
    ds = read_spc_outlook(zpath)
    assert sorted(ds.hazard.values) == ["categorical", "tornado"] and ds.attrs["issued"] == "2021-05-26T05:45"
    shp = tmp_path / "day1otlk_20210526_1300_cat.shp"
    assert sniff(shp).format == "spc_outlook" and read_spc_outlook(shp).label.values[0] == "SLGT"


def test_summarize_spc_outlook_tool(tmp_path):
    """The built-in tool reads the case's spc_outlook and its numbered layers together."""
    from hvrmet.tools import call_tool

    _write_outlook(tmp_path)
    asm = assemble_case([tmp_path], case_id="spc", lat=35.3, lon=-97.5, time="2021-05-26T20:00:00Z")
    assert sorted(asm.case.roles) == ["spc_outlook"] + [f"spc_outlook_{n}" for n in range(2, 6)]
    path = write_case(asm.case, tmp_path / "spc.yaml")
    r = call_tool("summarize_spc_outlook", {"case": str(path)})
    assert r.ok, r.error
    v = {k: x.value for k, x in r.values.items()}
    assert v["categorical_risk"] == "ENH" and v["categorical_rank"] == 4 and v["tornado_probability"] == 10
    assert v["significant_tornado"] is True and v["hail_probability"] == 30 and v["wind_probability"] == 15
    assert v["any_severe_probability"] is None and v["valid_start"] == "2021-05-26T13:00" and len(r.files) == 5


_LSR = """Time,F_Scale,Location,County,State,Lat,Lon,Comments
2250,EF3,2 SW Moore,Cleveland,OK,35.31,-97.52,Tornado crossed I-35. (OUN)
0105,UNK,3 N Piedmont,Canadian,OK,35.69,-97.75,Brief tornado reported by storm chasers. (OUN)
Time,Speed,Location,County,State,Lat,Lon,Comments
2310,65,Norman,Cleveland,OK,35.22,-97.44,Measured gust at Max Westheimer airport. (OUN)
2320,UNK,5 E Noble,Cleveland,OK,35.14,-97.30,Trees down, power lines down. (OUN)
Time,Size,Location,County,State,Lat,Lon,Comments
2235,175,Newcastle,McClain,OK,35.25,-97.60,Golf ball size hail. (OUN)
"""


def test_storm_reports_are_context_only(tmp_path):
    """Local storm reports in SPC's combined CSV layout (written here: no real file is in the
    data folder) load for scoring, never as a diagnosis input."""
    from hvrmet.data.readers.storm_reports import read_storm_reports
    from hvrmet.tools.context import ToolContext

    lsr = tmp_path / "210526_rpts.csv"
    lsr.write_text(_LSR)
    assert sniff(lsr).format == "storm_reports"
    ds = read_storm_reports(lsr)
    assert list(ds.hazard.values) == ["tornado", "tornado", "wind", "wind", "hail"]
    assert str(ds.time.values[0])[:16] == "2021-05-26T22:50" and str(ds.time.values[1])[:16] == "2021-05-27T01:05"
    assert ds.ef_rating.values[0] == 3 and ds.wind_speed.values[2] == 65 and ds.hail_size.values[4] == 1.75
    assert ds.comments.values[3] == "Trees down, power lines down. (OUN)"

    (tmp_path / "vol.hdf").symlink_to(DATA / "open-radar-data/data/T_PAGZ35_C_ENMI_20170421090837.hdf")
    asm = assemble_case([tmp_path], case_id="with-lsr")
    case = asm.case
    assert "storm_reports" not in case.roles and case.context_roles == ["storm_reports"]
    assert "storm_reports" in CONTEXT_ONLY_ROLES
    path = write_case(case, tmp_path / "case.yaml")
    text = path.read_text()
    assert "context:" in text
    loaded = get_case(str(path))
    assert load_context(loaded).sizes["report"] == 5
    with pytest.raises(VariableMissing, match="no file of role 'storm_reports'"):
        load_role(loaded, "storm_reports")
    ctx = ToolContext(str(path))
    assert not ctx.has("storm_reports")
    with pytest.raises(VariableMissing, match="context for scoring only"):
        ctx.load("storm_reports")
    explicit = ToolContext(str(path), files={"storm_reports": str(lsr)})
    with pytest.raises(VariableMissing, match="context for scoring only"):
        explicit.load("storm_reports")
    # never under files:, and the brain's view lists only the diagnosis roles
    bad = case.model_dump(mode="json", exclude={"source_path"})
    bad["files"] = bad["files"] + bad.pop("context")
    with pytest.raises(ValueError, match="context for scoring only"):
        Case.model_validate(bad)
    from hvrmet.agents.common import brain_context
    from hvrmet.agents.configuration import Configuration

    view = brain_context({"case": str(path), "loop": 0}, Configuration.resolve(None))
    assert "storm_reports" not in view.roles and "storm_reports" not in repr(view).replace(str(path), "")


def test_case_yaml_round_trip(tmp_path):
    (tmp_path / "s.txt").symlink_to(DATA / "metpy/staticdata/20110522_OUN_12Z.txt")
    asm = assemble_case([tmp_path / "s.txt"])
    case = asm.case
    assert case.roles == ["sounding"] and case.time.strftime("%Y-%m-%d %H") == "2011-05-22 12"
    assert abs(case.location.lat - 35.2) < 0.3 and "station" in case.location.place  # OUN from the station tables
    again = get_case(str(write_case(case, tmp_path / "c.yaml")))
    assert again.model_dump(exclude={"source_path"}) == case.model_dump(exclude={"source_path"})
    assert case_yaml(case).startswith("id: ")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CaseError, match="no data file"):
        assemble_case([tmp_path / "empty"])


def test_igra2_file_becomes_a_case(tmp_path):
    """An IGRA2 sounding written in NCEI's fixed-width layout (no IGRA2 file is in the data
    folder): station, time and position come from its header line."""
    if "igra2" not in READERS:
        pytest.skip("reader igra2 has not landed yet")

    def rec(t, et, p, pf, z, zf, tt, tf, rh, dpd, wd, ws):
        return f"{t} {et:>5} {p:>6}{pf}{z:>5}{zf}{tt:>5}{tf}{rh:>5} {dpd:>5} {wd:>5} {ws:>5}"

    rows = [rec("21", -9999, 95900, "B", 345, "B", 222, "B", -9999, 32, 160, 93),
            rec("10", -9999, 85000, " ", 1457, " ", 160, "B", -9999, 40, 190, 150),
            rec("10", -9999, 70000, " ", 3100, " ", 40, "B", -9999, 50, 220, 200),
            rec("10", -9999, 50000, " ", 5800, " ", -120, "B", -9999, 80, 240, 250)]
    f = tmp_path / "USM00072357-data.txt"
    f.write_text("#USM00072357 1999 05 04 00 2315    4 ncdc-gts ncdc-gts  352333  -974408\n" + "\n".join(rows) + "\n")
    asm = assemble_case([f])
    assert asm.case.roles == ["sounding"] and asm.case.files[0].format == "igra2"
    assert asm.case.time.strftime("%Y-%m-%d %H") == "1999-05-04 00"
    assert asm.case.location.lat == pytest.approx(35.2333) and asm.case.location.lon == pytest.approx(-97.4408)
    ds = load_role(get_case(str(write_case(asm.case, tmp_path / "c.yaml"))), "sounding")
    assert ds.sizes["level"] == 4


def test_a_composite_folder_takes_the_whole_composite_as_its_area(tmp_path):
    """With no place given, a folder of composite frames gives the grid's centre and, as its
    area of interest, the distance to the grid's farthest corner (checked with pyproj on
    the corner pixels' positions: within a pixel diagonal of the corners' edges); a place
    given by the user has no area."""
    from pyproj import Geod

    comp = tmp_path / "opera"
    comp.mkdir()
    for hhmm in ("1800", "1815"):
        name = f"T_PAAH21_C_EUOC_20180824{hhmm}00.hdf"
        (comp / name).symlink_to(DATA / "pysteps-data/radar/OPERA/20180824" / name)
    asm = assemble_case([comp])
    loc = asm.case.location
    assert loc.radius_km is not None and "whole composite" in asm.case.notes
    ds = load_role(get_case(str(write_case(asm.case, tmp_path / "c.yaml"))), "composite_sequence")
    lat, lon = ds.lat.values, ds.lon.values
    corners = [(0, 0), (0, -1), (-1, 0), (-1, -1)]
    _, _, d = Geod(ellps="WGS84").inv([loc.lon] * 4, [loc.lat] * 4, [float(lon[c]) for c in corners],
                                      [float(lat[c]) for c in corners])
    assert 0 <= loc.radius_km - max(d) / 1000.0 <= 3.0  # OPERA's 2 km pixels: half a diagonal is 1.4 km
    given = assemble_case([comp], lat=loc.lat, lon=loc.lon)
    assert given.case.location.radius_km is None
