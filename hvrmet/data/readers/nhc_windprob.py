"""NHC tropical-cyclone wind-speed probability archives (zipped shapefiles of 34, 50 and
64 kt cumulative probability contours), read with pyshp."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import numpy as np
import xarray as xr

from hvrmet.data.readers._common import add_provenance, check_file, reading
from hvrmet.errors import FormatError

__all__ = ["read_nhc_windprob"]


def read_nhc_windprob(path: str | Path, *, sha256: str = "") -> xr.Dataset:
    """Read an NHC wind-speed probability zip.

    Returns
    -------
    xarray.Dataset
        On dim ``contour``: ``threshold`` (knot: 34, 50 or 64), ``probability`` (percent,
        the contour's lower bound), ``period_h`` (forecast period, hours), ``area_km2`` and
        the bounding box; all polygon vertices are in ``vertex_lat``/``vertex_lon`` with
        ``vertex_contour`` (the contour they belong to) and ``vertex_ring`` (the ring: a
        contour may have several outer rings and holes, one per storm or gap).
    """
    import shapefile
    from pyproj import Geod

    p = check_file(path)
    with reading(p, "NHC wind-probability zip"):
        zf = zipfile.ZipFile(p)
        stems = sorted({n[:-4] for n in zf.namelist() if n.endswith(".shp")})
        if not stems:
            raise FormatError(p, "no shapefile in the archive")
        geod = Geod(ellps="WGS84")
        recs: dict[str, list] = {k: [] for k in ("threshold", "probability", "period_h", "area_km2",
                                                 "lat_min", "lat_max", "lon_min", "lon_max")}
        vlat, vlon, vcont, vpart = [], [], [], []
        nring = 0
        issued = None
        for stem in stems:
            m = re.match(r"(\d{10})_wsp(\d+)knt(\d+)hr", Path(stem).name)
            if not m:
                raise FormatError(p, f"unexpected member {stem}")
            issued = m.group(1)
            kt, hours = int(m.group(2)), int(m.group(3))
            rdr = shapefile.Reader(shp=io.BytesIO(zf.read(stem + ".shp")),
                                   shx=io.BytesIO(zf.read(stem + ".shx")),
                                   dbf=io.BytesIO(zf.read(stem + ".dbf")))
            fields = [f[0] for f in rdr.fields[1:]]
            for sr in rdr.iterShapeRecords():
                rec = dict(zip(fields, sr.record))
                prob = _probability(rec)
                pts = np.asarray(sr.shape.points, dtype=np.float64)
                if pts.size == 0:
                    continue
                parts = list(sr.shape.parts) + [len(pts)]
                area = 0.0
                for a, b in zip(parts[:-1], parts[1:]):
                    ring = pts[a:b]
                    area += geod.polygon_area_perimeter(ring[:, 0], ring[:, 1])[0]
                idx = len(recs["threshold"])
                recs["threshold"].append(kt); recs["probability"].append(prob)
                recs["period_h"].append(hours); recs["area_km2"].append(abs(area) / 1e6)
                recs["lon_min"].append(pts[:, 0].min()); recs["lon_max"].append(pts[:, 0].max())
                recs["lat_min"].append(pts[:, 1].min()); recs["lat_max"].append(pts[:, 1].max())
                vlon.extend(pts[:, 0]); vlat.extend(pts[:, 1]); vcont.extend([idx] * len(pts))
                for a, b in zip(parts[:-1], parts[1:]):  # one ring id per ring (outer rings and holes)
                    vpart.extend([nring] * (b - a))
                    nring += 1
        units = {"threshold": "knot", "probability": "percent", "period_h": "hour",
                 "area_km2": "km^2", "lat_min": "degree_north", "lat_max": "degree_north",
                 "lon_min": "degree_east", "lon_max": "degree_east"}
        ds = xr.Dataset({k: ("contour", np.asarray(v, np.float64), {"units": units[k]})
                         for k, v in recs.items()},
                        coords={"contour": np.arange(len(recs["threshold"]))})
        ds["vertex_lat"] = ("vertex", np.asarray(vlat), {"units": "degree_north"})
        ds["vertex_lon"] = ("vertex", np.asarray(vlon), {"units": "degree_east"})
        ds["vertex_contour"] = ("vertex", np.asarray(vcont))
        ds["vertex_ring"] = ("vertex", np.asarray(vpart, dtype=np.int64))
        ds.attrs["issued"] = f"{issued[:4]}-{issued[4:6]}-{issued[6:8]}T{issued[8:10]}:00"
        ds.attrs["title"] = f"NHC wind-speed probabilities issued {ds.attrs['issued']} UTC"
    return add_provenance(ds, p, sha256, "nhc_windprob")


def _probability(rec: dict) -> float:
    for key in ("PERCENTAGE", "PWIND", "PROB", "Percentage"):
        if key in rec:
            text = str(rec[key]).strip().rstrip("%")
            low = re.match(r"[<>]?\s*(\d+)", text)
            if low:
                return float(low.group(1))
    raise ValueError(f"no probability field in record {rec}")
