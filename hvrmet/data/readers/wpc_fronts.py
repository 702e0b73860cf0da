"""WPC coded surface-analysis bulletins (fronts, troughs, highs and lows), decoded by
:func:`metpy.io.parse_wpc_surface_bulletin`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from hvrmet.data.readers._common import add_provenance, check_ending, check_file, reading
from hvrmet.errors import FormatError

__all__ = ["read_wpc_fronts"]


def read_wpc_fronts(path: str | Path, *, sha256: str = "", year: int | None = None) -> xr.Dataset:
    """Read a WPC surface bulletin.

    Returns
    -------
    xarray.Dataset
        On dim ``feature``: ``feature`` type (``HIGH``, ``LOW``, ``COLD``, ``WARM``,
        ``STNRY``, ``OCFNT``, ``TROF``), ``strength`` (hPa for pressure centres), ``valid``
        time, the geometry as WKT, and ``lat``/``lon`` of each feature's first point;
        every vertex is in ``vertex_lat``/``vertex_lon`` on dim ``vertex`` with
        ``vertex_feature`` giving its feature index.
    """
    from metpy.io import parse_wpc_surface_bulletin

    p = check_file(path)
    with reading(p, "WPC surface bulletin"):
        check_ending(p, (b"$$",), strip=b" \r\n\t")
        df = parse_wpc_surface_bulletin(str(p), year=year)
        if df.empty:
            raise FormatError(p, "no front or pressure centre decoded")
        vlat, vlon, vfeat, lat0, lon0 = [], [], [], [], []
        for i, geom in enumerate(df["geometry"]):
            coords = np.asarray(geom.coords)
            vlon.extend(coords[:, 0]); vlat.extend(coords[:, 1]); vfeat.extend([i] * len(coords))
            lon0.append(coords[0, 0]); lat0.append(coords[0, 1])
        ds = xr.Dataset(
            {"feature_type": ("feature", df["feature"].astype(str).to_numpy()),
             # pressure centres give hPa; fronts a coded strength (WK, MDT, STG), kept as text
             "strength": ("feature", pd.to_numeric(df["strength"], errors="coerce").to_numpy(np.float64),
                          {"units": "hPa"}),
             "strength_code": ("feature", df["strength"].fillna("").astype(str).to_numpy()),
             "geometry_wkt": ("feature", np.array([g.wkt for g in df["geometry"]])),
             "vertex_lat": ("vertex", np.array(vlat), {"units": "degree_north"}),
             "vertex_lon": ("vertex", np.array(vlon), {"units": "degree_east"}),
             "vertex_feature": ("vertex", np.array(vfeat))},
            coords={"feature": np.arange(len(df)),
                    "valid": ("feature", df["valid"].to_numpy("datetime64[ns]")),
                    "lat": ("feature", np.array(lat0), {"units": "degree_north"}),
                    "lon": ("feature", np.array(lon0), {"units": "degree_east"})})
        ds.attrs["title"] = f"WPC surface analysis valid {df['valid'].iloc[0]}"
    return add_provenance(ds, p, sha256, "wpc_fronts")
