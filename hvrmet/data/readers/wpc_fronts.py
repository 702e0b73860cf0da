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
        import shapely

        geoms = np.asarray(df["geometry"].to_numpy(), dtype=object)
        xy, vfeat = shapely.get_coordinates(geoms, return_index=True)  # every vertex, and its feature
        vlon, vlat = xy[:, 0], xy[:, 1]
        first = np.searchsorted(vfeat, np.arange(len(geoms)))  # each feature's first vertex
        if len(first) and (first.max() >= len(vfeat) or not np.array_equal(vfeat[first], np.arange(len(geoms)))):
            raise FormatError(p, "a front or pressure centre has no coordinates: the bulletin is corrupted")
        lon0, lat0 = vlon[first], vlat[first]
        ds = xr.Dataset(
            {"feature_type": ("feature", df["feature"].astype(str).to_numpy()),
             # pressure centres give hPa; fronts a coded strength (WK, MDT, STG), kept as text
             "strength": ("feature", pd.to_numeric(df["strength"], errors="coerce").to_numpy(np.float64),
                          {"units": "hPa"}),
             "strength_code": ("feature", df["strength"].fillna("").astype(str).to_numpy()),
             "geometry_wkt": ("feature", np.asarray(shapely.to_wkt(geoms, rounding_precision=-1), dtype=str)),
             "vertex_lat": ("vertex", vlat, {"units": "degree_north"}),
             "vertex_lon": ("vertex", vlon, {"units": "degree_east"}),
             "vertex_feature": ("vertex", vfeat)},
            coords={"feature": np.arange(len(df)),
                    "valid": ("feature", df["valid"].to_numpy("datetime64[ns]")),
                    "lat": ("feature", np.array(lat0), {"units": "degree_north"}),
                    "lon": ("feature", np.array(lon0), {"units": "degree_east"})})
        ds.attrs["title"] = f"WPC surface analysis valid {df['valid'].iloc[0]}"
    return add_provenance(ds, p, sha256, "wpc_fronts")
