#!/usr/bin/env python3
"""Reader benchmark: hvrmet's decode time per format beside the library's own read of the
same file (xradar, MetPy, xarray, pandas, pysteps importers called directly).

One run times every format: a warm-up read of each side (not counted: imports and caches),
then N timed reads of each side (hvrmet's first), median reported. hvrmet's time is the
whole reader (checks, decoding, CF names and units, provenance: the per-file sha256 cache
is cleared before every read, so a reader that hashes the file hashes it each time);
coordinates a reader leaves to be computed on first use (lat/lon of every Level III gate
or composite pixel) are not computed. The library's time is its own decode of the same
file with the data loaded into memory (lazy trees and datasets are ``.load()``-ed). A
composite sequence compares hvrmet's sequence loader with the pysteps importer called
frame by frame on the same files.

Usage::

    HVRMET_DATA_DIR=../shared/data python tools/bench_readers.py [-n 3] [--out out/bench/readers.json]
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import statistics
import sys
import time
import warnings
from pathlib import Path

warnings.filterwarnings("ignore")


def _data() -> Path:
    env = os.environ.get("HVRMET_DATA_DIR")
    here = Path(__file__).resolve().parents[1].parent / "shared" / "data"
    d = Path(env) if env else here
    if not (d / "MANIFEST.tsv").is_file():
        sys.exit("set HVRMET_DATA_DIR to the data folder (with MANIFEST.tsv)")
    os.environ["HVRMET_DATA_DIR"] = str(d)
    return d


def _xradar(fn_name: str):
    def read(path):
        import xradar

        tree = getattr(xradar.io, fn_name)(str(path))
        tree.load()
        return tree
    return read, f"xradar.io.{fn_name} + load"


def _level2_metpy(path):
    from metpy.io import Level2File

    return Level2File(str(path))


def _level3_metpy(path):
    from metpy.io import Level3File

    return Level3File(str(path))


def _gini_metpy(path):
    import xarray as xr
    from metpy.io import GiniFile

    return xr.open_dataset(GiniFile(str(path))).load()


def _xr_open(**kw):
    def read(path):
        import xarray as xr

        with xr.open_dataset(path, **kw) as ds:
            return ds.load()
    return read


def _uwyo_pandas(path):
    import pandas as pd

    lines = Path(path).read_text().splitlines()
    hdr = next(i for i, ln in enumerate(lines) if ln.split()[:3] == ["PRES", "HGHT", "TEMP"])
    return pd.read_fwf(path, skiprows=hdr + 3, header=None, widths=[7] * 11)


def _csv_pandas(path):
    import pandas as pd

    return pd.read_csv(path)


def _csv_pandas_xarray(path):
    """pandas' own read of a table into the model hvrmet returns (an xarray Dataset)."""
    import pandas as pd

    return pd.read_csv(path).to_xarray()


def _metar_metpy(path):
    from metpy.io import parse_metar_file

    return parse_metar_file(str(path), year=2019, month=7)


def _wpc_metpy(path):
    from metpy.io import parse_wpc_surface_bulletin

    return parse_wpc_surface_bulletin(str(path), year=2021)


#: format -> (data key, library reader, its label). Readers not installed are reported as such.
CASES = {
    "nexrad_level2 (msg 31)": ("nexrad_level2", "metpy/staticdata/Level2_KFTG_20150430_1419.ar2v",
                               _level2_metpy, "metpy.io.Level2File"),
    "nexrad_level2 (msg 1)": ("nexrad_level2", "open-radar-data/data/KLIX20050828_180149.gz",
                              _level2_metpy, "metpy.io.Level2File"),
    "nexrad_level2 (chunks tar)": ("nexrad_level2", "open-radar-data/data/nexrad_level2_chunks_KLOT.tar.gz",
                                   None, ""),
    "odim_h5 (PVOL)": ("odim_h5", "open-radar-data/data/T_PAGZ35_C_ENMI_20170421090837.hdf",
                       *_xradar("open_odim_datatree")),
    "odim_h5 (SCAN)": ("odim_h5", "open-radar-data/data/T_PAZA63_C_LFPW_20230420065041.h5",
                       *_xradar("open_odim_datatree")),
    "cfradial1": ("cfradial1", "open-radar-data/data/MLL2217907250U.003.nc", *_xradar("open_cfradial1_datatree")),
    "iris": ("iris", "open-radar-data/data/SUR210819000227.RAWKPJV", *_xradar("open_iris_datatree")),
    "rainbow": ("rainbow", "open-radar-data/data/2013051000000600dBZ.vol", *_xradar("open_rainbow_datatree")),
    "nexrad_level3 (N0Q)": ("nexrad_level3", "metpy/staticdata/nids/KDDC_N0Q_20200817_0501.nids",
                            _level3_metpy, "metpy.io.Level3File"),
    "nexrad_level3 (NCR table)": ("nexrad_level3", "metpy/staticdata/nids/Level3_MCI_NCR_20160526_2154.nids",
                                  _level3_metpy, "metpy.io.Level3File"),
    "uwyo_sounding": ("uwyo_sounding", "metpy/staticdata/20110522_OUN_12Z.txt", _uwyo_pandas, "pandas.read_fwf"),
    "upper_air_csv": ("upper_air_csv", "metpy/staticdata/UPA_obs.csv", _csv_pandas_xarray,
                      "pandas.read_csv + DataFrame.to_xarray"),
    "surface_csv": ("surface_csv", "metpy/staticdata/SFC_obs.csv", _csv_pandas_xarray,
                    "pandas.read_csv + DataFrame.to_xarray"),
    "metar": ("metar", "metpy/staticdata/metar_20190701_1200.txt", _metar_metpy, "metpy.io.parse_metar_file"),
    "wpc_fronts": ("wpc_fronts", "metpy/staticdata/WPC_sfc_fronts_20210628_1800.txt", _wpc_metpy,
                   "metpy.io.parse_wpc_surface_bulletin"),
    "netcdf (GFS)": ("netcdf", "metpy/staticdata/GFS_test.nc", _xr_open(), "xarray.open_dataset + load"),
    "netcdf (ERA-Interim)": ("netcdf", "xarray-data/eraint_uvz.nc", _xr_open(), "xarray.open_dataset + load"),
    "grib (ERA5)": ("grib", "xarray-data/era5-2mt-2019-03-uk.grib",
                    _xr_open(engine="cfgrib", backend_kwargs={"indexpath": ""}), "xarray cfgrib + load"),
    "gini": ("gini", "metpy/staticdata/WEST-CONUS_4km_WV_20151208_2200.gini", _gini_metpy,
             "metpy.io.GiniFile via xarray"),
}

#: formats whose library read above converts to xarray: the tokenizer alone is timed too and
#: printed in the note (hvrmet's fixed costs, a Dataset and the checks, dominate small tables)
PLAIN = {"upper_air_csv": (_csv_pandas, "pandas.read_csv alone"), "surface_csv": (_csv_pandas, "pandas.read_csv alone")}

#: composite sequences: label -> (importer, glob of the frames, how many frames)
SEQUENCES = {
    "composite: OPERA opera_hdf5": ("opera_hdf5", "pysteps-data/radar/OPERA/20180824/*.hdf", 6),
    "composite: KNMI knmi_hdf5": ("knmi_hdf5", "pysteps-data/radar/KNMI/2010/08/RAD_NL25_RAP_5min_*.h5", 12),
    "composite: MeteoSwiss mch_gif": ("mch_gif", "pysteps-data/radar/mch/20150515/AQC*.gif", 12),
    "composite: FMI fmi_pgm": ("fmi_pgm", "pysteps-data/radar/fmi/pgm/20160928/*.pgm.gz", 12),
    "composite: BoM bom_rf3": ("bom_rf3", "pysteps-data/radar/bom/prcp-cscn/2/2018/06/16/*.nc", 12),
}


def _fresh(fn):
    """``fn`` with hvrmet's per-file sha256 cache cleared first (the hash is part of a read)."""
    from hvrmet.data.registry import _hash_cached

    def run():
        _hash_cached.cache_clear()
        return fn()
    return run


def _why(exc: Exception) -> str:
    if isinstance(exc, NotImplementedError):
        return "no library reader"
    return f"{type(exc).__name__}: {str(exc).splitlines()[0][:90] if str(exc) else ''}"


def _time_pair(hv, lib, n: int) -> tuple[float | None, str, float | None, str]:
    """Median seconds of ``hv`` and of ``lib`` (``None``: no library call) over ``n`` reads
    each after one warm-up each, and why a side failed. hvrmet's reads come first, then the
    library's: the libraries keep files open in their caches (xarray's file manager), and
    reads of the same file interleaved with them run slower on HDF5/NetCDF files."""
    out: list = []
    for fn in (hv, lib):
        if fn is None:
            out += [None, ""]
            continue
        try:
            fn()  # warm-up: imports, caches
            times = []
            for _ in range(n):
                t0 = time.perf_counter()
                fn()
                times.append(time.perf_counter() - t0)
            out += [statistics.median(times), ""]
        except Exception as exc:  # noqa: BLE001 - reported in the table
            out += [None, _why(exc)]
    return out[0], out[1], out[2], out[3]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", type=int, default=3, help="timed reads per format (median reported)")
    ap.add_argument("--out", default="out/bench/readers.json", help="JSON results")
    args = ap.parse_args(argv)
    data = _data()
    from hvrmet.data.readers import READERS, get_reader

    rows = []
    for label, (fmt, key, lib, lib_label) in CASES.items():
        path = data / key
        row = {"format": label, "reader": fmt, "file": key, "size_bytes": path.stat().st_size,
               "library": lib_label or "-"}
        if fmt not in READERS:
            row.update(hvrmet_s=None, library_s=None, note=f"hvrmet reader {fmt} not installed")
        else:
            reader = get_reader(fmt)
            row["hvrmet_s"], note_h, row["library_s"], note_l = _time_pair(
                _fresh(lambda: reader(path)), (lambda: lib(path)) if lib else None, args.n)
            if not lib:
                note_l = "no library call reads the chunks tar as one volume (xradar and MetPy take the chunk files)"
            if label in PLAIN and row["hvrmet_s"]:
                plain, plain_label = PLAIN[label]
                _, _, row["library_plain_s"], _ = _time_pair(None, lambda: plain(path), args.n)
                if row["library_plain_s"]:
                    note_l = (f"{plain_label}: {row['library_plain_s']:.4f} s, "
                              f"ratio {row['hvrmet_s'] / row['library_plain_s']:.1f}")
            row["note"] = "; ".join(x for x in (f"hvrmet: {note_h}" if note_h else "",
                                                 f"library: {note_l}" if note_l else "") if x)
        rows.append(row)
        _print_row(row)
    import hvrmet._pysteps  # noqa: F401
    from pysteps import io as psio

    from hvrmet.data.readers.composite import IMPORTER_DEFAULTS, read_composite

    for label, (importer, pattern, n_frames) in SEQUENCES.items():
        frames = sorted(glob.glob(str(data / pattern)))[:n_frames]
        imp = psio.get_method(importer, "importer")
        kw = IMPORTER_DEFAULTS.get(importer, {})
        row = {"format": label, "reader": "composite", "file": f"{pattern} ({len(frames)} frames)",
               "size_bytes": sum(os.path.getsize(f) for f in frames), "library": f"pysteps {importer} x{len(frames)}"}
        row["hvrmet_s"], note_h, row["library_s"], note_l = _time_pair(
            _fresh(lambda: read_composite(frames, importer=importer)), lambda: [imp(f, **kw) for f in frames], args.n)
        row["note"] = "; ".join(x for x in (f"hvrmet: {note_h}" if note_h else "",
                                             f"library: {note_l}" if note_l else "") if x)
        rows.append(row)
        _print_row(row)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"n": args.n, "rows": rows}, indent=1))
    print(f"\nmedian of {args.n} reads after one warm-up; wrote {out}")
    return 0


_HEADER_DONE = []


def _print_row(row: dict) -> None:
    if not _HEADER_DONE:
        print(f"| {'format':30} | {'hvrmet (s)':>10} | {'library (s)':>11} | {'ratio':>6} | library | note |")
        print(f"|{'-' * 32}|{'-' * 12}|{'-' * 13}|{'-' * 8}|---|---|")
        _HEADER_DONE.append(1)
    h, lib = row.get("hvrmet_s"), row.get("library_s")
    ratio = f"{h / lib:6.1f}" if h and lib else "     -"
    fmt = lambda v: f"{v:10.3f}" if v is not None else f"{'-':>10}"  # noqa: E731
    print(f"| {row['format']:30} | {fmt(h)} | {fmt(lib):>11} | {ratio} | {row['library']} | {row.get('note', '')} |",
          flush=True)


if __name__ == "__main__":
    sys.exit(main())
