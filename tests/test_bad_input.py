"""Bad input: every reader turns missing, empty, truncated, byte-flipped and wrong-format
copies of the real files into a DataError naming the file, never another exception."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from hvrmet.data.readers import get_reader
from hvrmet.errors import ChecksumMismatch, DataError, DataFileMissing, FormatError

pytestmark = pytest.mark.usefixtures("data_dir")

#: (format, registry key(s) of a real file, reader options)
SAMPLES = [
    ("nexrad_level2", ["metpy/staticdata/KTLX19990503_235621.gz"], {"site": "KTLX"}),
    ("nexrad_level2", ["open-radar-data/data/KLBB20160601_150025_V06"], {}),
    ("nexrad_level2", ["open-radar-data/data/nexrad_level2_chunks_KLOT.tar.gz"], {}),  # real-time chunks
    ("odim_h5", ["open-radar-data/data/T_PAGZ35_C_ENMI_20170421090837.hdf"], {}),  # polar volume
    ("odim_h5", ["open-radar-data/data/T_PAZA63_C_LFPW_20230420065041.h5"], {}),  # single scan
    ("iris", ["open-radar-data/data/SUR210819000227.RAWKPJV"], {}),  # 2-byte moments
    ("iris", ["open-radar-data/data/cor-main131125105503.RAW2049"], {}),  # 1-byte moments, 10 sweeps
    ("rainbow", ["open-radar-data/data/2013051000000600dBZ.vol"], {}),
    ("rainbow", ["open-radar-data/data/sample_rainbow_5_59.vol"], {}),
    ("cfradial1", ["open-radar-data/data/MLL2217907250U.003.nc"], {}),
    ("cfradial1", ["open-radar-data/data/cfrad.20211011_223602.712_to_20211011_223612.091_DOW8_RHI.nc"], {}),  # RHI
    ("nexrad_level3", ["metpy/staticdata/nids/Level3_MCI_NST_20160526_2154.nids"], {}),
    ("nexrad_level3", ["metpy/staticdata/nids/Level3_MCI_TZL_20160526_2154.nids"], {}),
    ("nexrad_level3", ["metpy/staticdata/nids/Level3_MCI_NMD_20160526_2154.nids"], {}),  # MetPy hangs on its cuts
    ("nexrad_level3", ["metpy/staticdata/nids/Level3_MCI_NCR_20160526_2154.nids"], {}),  # field + storm table
    ("nexrad_level3", ["metpy/staticdata/nids/KLZK_H0C_20200814_0417"], {}),  # no WMO trailer, bz2 inside
    ("nexrad_level3", ["metpy/staticdata/nids/Level3_MCI_NVW_20160526_2154.nids"], {}),  # VAD wind profile
    ("uwyo_sounding", ["metpy/staticdata/may4_sounding.txt"], {}),
    ("uwyo_sounding", ["metpy/staticdata/20110522_OUN_12Z.txt"], {}),  # title line, 71 levels
    ("uwyo_sounding", ["metpy/staticdata/dec9_sounding.txt"], {}),  # gaps, repeated levels, top 7.5 hPa
    ("upper_air_csv", ["metpy/staticdata/UPA_obs.csv"], {}),
    ("netcdf", ["metpy/staticdata/GFS_test.nc"], {}),
    ("netcdf", ["xarray-data/eraint_uvz.nc"], {}),
    ("grib", ["xarray-data/era5-2mt-2019-03-uk.grib"], {}),
    ("netcdf", ["metpy/staticdata/GFS_global.nc"], {}),  # global grid, 3 times, one level
    ("grib", ["pysteps-data/mrms/2019/06/10/PrecipRate_00.00_20190610-000000.grib2"], {}),  # one GRIB2 message
    ("surface_csv", ["metpy/staticdata/SFC_obs.csv"], {}),
    ("metar", ["metpy/staticdata/metar_20190701_1200.txt"], {}),
    ("wpc_fronts", ["metpy/staticdata/WPC_sfc_fronts_20210628_1800.txt"], {}),
    ("nhc_windprob", ["metpy/staticdata/nhc_wind_prob_2021082012.zip"], {}),
    ("gini", ["metpy/staticdata/WEST-CONUS_4km_WV_20151208_2200.gini"], {}),
    ("composite", ["pysteps-data/radar/mch/20150515/AQC151351545F_00005.801.gif",
                   "pysteps-data/radar/mch/20150515/AQC151351550F_00005.801.gif"], {"importer": "mch_gif"}),
    ("composite", ["pysteps-data/radar/fmi/pgm/20160928/201609281445_fmi.radar.composite.lowest_FIN_SUOMI1.pgm.gz",
                   "pysteps-data/radar/fmi/pgm/20160928/201609281450_fmi.radar.composite.lowest_FIN_SUOMI1.pgm.gz"],
     {"importer": "fmi_pgm"}),
    ("composite", ["pysteps-data/radar/KNMI/2010/08/RAD_NL25_RAP_5min_201008260000.h5",
                   "pysteps-data/radar/KNMI/2010/08/RAD_NL25_RAP_5min_201008260005.h5"], {"importer": "knmi_hdf5"}),
    ("composite", ["pysteps-data/radar/bom/prcp-cscn/2/2018/06/16/2_20180616_100000.prcp-cscn.nc",
                   "pysteps-data/radar/bom/prcp-cscn/2/2018/06/16/2_20180616_100600.prcp-cscn.nc"], {"importer": "bom_rf3"}),
    ("composite", ["pysteps-data/mrms/2019/06/10/PrecipRate_00.00_20190610-000000.grib2",
                   "pysteps-data/mrms/2019/06/10/PrecipRate_00.00_20190610-000200.grib2"], {"importer": "mrms_grib"}),
]
IDS = [f"{fmt}:{Path(keys[0]).name}" for fmt, keys, _ in SAMPLES]
#: A file of another format, to hand every reader something it cannot read.
WRONG = {"default": "metpy/staticdata/WPC_sfc_fronts_20210628_1800.txt",
         "wpc_fronts": "metpy/staticdata/may4_sounding.txt",
         "metar": "metpy/staticdata/GFS_test.nc"}


def _read(fmt, paths, opts):
    reader = get_reader(fmt)
    if fmt == "composite":
        return reader(paths, **opts)
    return reader(paths[0], **opts)


def _copies(tmp_path, data_dir, keys):
    out = []
    for k in keys:
        dst = tmp_path / Path(k).name
        shutil.copyfile(data_dir / k, dst)
        out.append(dst)
    return out


def _expect_data_error(fmt, paths, opts, target):
    with pytest.raises(DataError) as info:
        _read(fmt, paths, opts)
    assert str(target) in str(info.value), f"message does not name the file: {info.value}"


@pytest.mark.parametrize("fmt,keys,opts", SAMPLES, ids=IDS)
def test_missing_and_empty(tmp_path, data_dir, fmt, keys, opts):
    paths = _copies(tmp_path, data_dir, keys)
    gone = tmp_path / "absent.bin"
    with pytest.raises(DataFileMissing):
        _read(fmt, [gone] + paths[1:], opts)
    paths[-1].write_bytes(b"")
    _expect_data_error(fmt, paths, opts, paths[-1])


@pytest.mark.parametrize("fmt,keys,opts", SAMPLES, ids=IDS)
def test_truncated(tmp_path, data_dir, fmt, keys, opts):
    """Truncated at several offsets: a DataError, or (rarely, where a cut falls on a record
    boundary) a dataset; never another exception."""
    raised = 0
    src = data_dir / keys[-1]
    size = src.stat().st_size
    for frac in (0.02, 0.3, 0.6, 0.97):
        paths = _copies(tmp_path, data_dir, keys)
        paths[-1].write_bytes(src.read_bytes()[: max(1, int(size * frac))])
        try:
            _read(fmt, paths, opts)
        except DataError as exc:
            assert str(paths[-1]) in str(exc)
            raised += 1
    assert raised >= 2, f"only {raised} of 4 truncations detected"


@pytest.mark.parametrize("fmt,keys,opts", SAMPLES, ids=IDS)
def test_byte_flipped(tmp_path, data_dir, fmt, keys, opts):
    """Bytes flipped in the header and body: DataError or a dataset, never another error;
    and through the registry the copy is always caught by its sha256."""
    from hvrmet.data.registry import DataRegistry

    rng = np.random.default_rng(0)
    src = data_dir / keys[-1]
    raw = bytearray(src.read_bytes())
    for where in (slice(0, 64), slice(len(raw) // 3, len(raw) // 3 + 4096)):
        blob = bytearray(raw)
        idx = rng.integers(where.start, min(where.stop, len(raw)), size=16)
        for i in idx:
            blob[i] ^= 0xFF
        paths = _copies(tmp_path, data_dir, keys)
        paths[-1].write_bytes(bytes(blob))
        try:
            _read(fmt, paths, opts)
        except DataError as exc:
            assert str(paths[-1]) in str(exc)
    fake = tmp_path / "datadir"
    (fake / keys[-1]).parent.mkdir(parents=True)
    (fake / keys[-1]).write_bytes(bytes(blob))
    with pytest.raises(ChecksumMismatch, match="does not match the registry"):
        DataRegistry(fake, cache_dir=tmp_path / "cache").fetch(keys[-1])


@pytest.mark.parametrize("fmt,keys,opts", SAMPLES, ids=IDS)
def test_wrong_format(tmp_path, data_dir, fmt, keys, opts):
    wrong = WRONG.get(fmt, WRONG["default"])
    paths = _copies(tmp_path, data_dir, keys)
    paths[-1].write_bytes((data_dir / wrong).read_bytes())
    if fmt == "composite":  # frame times come from names: keep the name, change the content
        pass
    _expect_data_error(fmt, paths, opts, paths[-1])


def test_sounding_missing_levels_is_format_error(tmp_path, data_dir):
    text = (data_dir / "metpy/staticdata/may4_sounding.txt").read_text().splitlines()
    bad = tmp_path / "bad.txt"
    bad.write_text("\n".join(text[:6]))  # header and two levels only
    with pytest.raises(FormatError, match="truncated"):
        get_reader("uwyo_sounding")(bad)


def test_unknown_format_lists_known():
    with pytest.raises(ValueError, match="known formats: .*nexrad_level2"):
        get_reader("nexrad_level4")
