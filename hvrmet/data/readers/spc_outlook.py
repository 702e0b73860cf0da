"""SPC convective outlooks: categorical risk and tornado/wind/hail probability polygons.

The Storm Prediction Center publishes each outlook layer (``cat``, ``torn``, ``sigtorn``,
``wind``, ``sigwind``, ``hail``, ``sighail``; ``prob``/``sigprob`` from day 3) as GeoJSON
(``day1otlk_cat.lyr.geojson``), as a shapefile, and all layers together as a zip of
shapefiles (``day1otlk_YYYYMMDD_HHMM-shp.zip``). Every polygon carries the fields SPC
defines: ``DN`` (the risk's number: 2 TSTM ... 8 HIGH on the categorical layer, the
percentage on the probabilistic ones), ``LABEL`` (``TSTM``/``MRGL``/``SLGT``/``ENH``/
``MDT``/``HIGH``, a probability ``0.05``, or ``SIGN`` for the hatched significant area),
``LABEL2`` (``Slight Risk``, ``5% Tornado Risk``, ``10% Significant Tornado Risk``),
``VALID``/``EXPIRE``/``ISSUE`` (``YYYYMMDDHHMM`` UTC) and the colours. This reader takes a
GeoJSON file (one layer or several), a ``.shp`` with its ``.dbf`` beside it, or a zip of
either, and reads the hazard of each polygon from ``LABEL2`` (or else from the layer's
name as SPC writes it).
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path

import numpy as np
import xarray as xr

from hvrmet.data.readers._common import add_provenance, check_file, reading
from hvrmet.errors import FormatError

__all__ = ["read_spc_outlook", "outlook_at", "CATEGORICAL", "HAZARDS"]

#: Categorical risk labels in increasing order (rank 1 ... 6) and SPC's DN for each.
CATEGORICAL = {"TSTM": (1, 2), "MRGL": (2, 3), "SLGT": (3, 4), "ENH": (4, 5), "MDT": (5, 6), "HIGH": (6, 8)}
CATEGORICAL_NAMES = {"TSTM": "General Thunderstorms", "MRGL": "Marginal", "SLGT": "Slight", "ENH": "Enhanced",
                     "MDT": "Moderate", "HIGH": "High"}
#: Hazards of the probabilistic layers (``any_severe`` is day 3's and days 4-8's).
HAZARDS = ("tornado", "wind", "hail", "any_severe")
_LAYER_HAZARD = [(re.compile(r"torn", re.I), "tornado"), (re.compile(r"wind", re.I), "wind"),
                 (re.compile(r"hail", re.I), "hail"), (re.compile(r"prob", re.I), "any_severe")]


def read_spc_outlook(path: str | Path, *, sha256: str = "") -> xr.Dataset:
    """Read an SPC convective outlook.

    Returns
    -------
    xarray.Dataset
        On dim ``polygon``: ``hazard`` (``categorical``, ``tornado``, ``wind``, ``hail`` or
        ``any_severe``), ``label``, ``label2``, ``dn``, ``risk_rank`` (1 TSTM ... 6 HIGH on
        the categorical layer, 0 elsewhere), ``probability`` (percent, NaN on the
        categorical layer and on significant areas), ``significant`` (the hatched area of
        10 % or greater probability of significant severe weather), ``area_km2``, the
        bounding box, and ``wkt`` (the polygon in WKT, degrees); all vertices in
        ``vertex_lat``/``vertex_lon`` with ``vertex_polygon``. The attributes give the
        valid period and issue time (ISO, UTC) and the layers read.
    """
    p = check_file(path)
    with reading(p, "SPC convective outlook"):
        layers = list(_layers(p))
        rows = [row for layer, feats in layers for row in _rows(p, layer, feats)]
        ds = _dataset(rows)
        for key in ("valid", "expire", "issue"):
            vals = sorted({r[key] for r in rows if r[key]})
            if vals:
                ds.attrs[{"valid": "valid_start", "expire": "valid_end", "issue": "issued"}[key]] = vals[0]
        ds.attrs["layers"] = [layer for layer, _ in layers]
        ds.attrs["title"] = (f"SPC convective outlook valid {ds.attrs.get('valid_start', '?')} to "
                             f"{ds.attrs.get('valid_end', '?')} UTC ({len(rows)} polygons)")
    return add_provenance(ds, p, sha256, "spc_outlook")


def _layers(p: Path):
    """``(layer name, [(properties, shapely geometry), ...])`` for each layer of the file."""
    name = p.name.lower()
    if name.endswith(".zip"):
        with zipfile.ZipFile(p) as zf:
            names = zf.namelist()
            shps = sorted(n for n in names if n.lower().endswith(".shp"))
            geos = sorted(n for n in names if n.lower().endswith((".geojson", ".json")))
            if not shps and not geos:
                raise FormatError(p, "no shapefile or GeoJSON in the archive")
            for n in shps:
                stem = n[:-4]
                member = {ext: next((m for m in names if m.lower() == (stem + ext).lower()), None)
                          for ext in (".shp", ".shx", ".dbf")}
                if member[".dbf"] is None:
                    raise FormatError(p, f"{n} has no .dbf table in the archive")
                yield Path(stem).name, _shapefile(*(io.BytesIO(zf.read(member[e])) if member[e] else None
                                                    for e in (".shp", ".shx", ".dbf")))
            for n in geos:
                yield Path(n).name, _geojson(zf.read(n))
        return
    if name.endswith(".shp"):
        dbf = next((c for c in (p.with_suffix(".dbf"), p.with_suffix(".DBF")) if c.is_file()), None)
        if dbf is None:
            raise FormatError(p, "no .dbf table beside the shapefile")
        shx = next((c for c in (p.with_suffix(".shx"), p.with_suffix(".SHX")) if c.is_file()), None)
        with open(p, "rb") as shp, open(dbf, "rb") as dbf_fh:
            shx_fh = open(shx, "rb") if shx else None
            try:
                yield p.stem, _shapefile(shp, shx_fh, dbf_fh)
            finally:
                if shx_fh:
                    shx_fh.close()
        return
    yield p.name, _geojson(p.read_bytes())


def _shapefile(shp, shx, dbf) -> list:
    import shapefile
    from shapely.geometry import shape

    rdr = shapefile.Reader(shp=shp, shx=shx, dbf=dbf)
    fields = [f[0] for f in rdr.fields[1:]]
    out = []
    for sr in rdr.iterShapeRecords():
        props = dict(zip(fields, sr.record))
        geo = sr.shape.__geo_interface__
        out.append((props, shape(geo) if geo.get("coordinates") else None))
    return out


def _geojson(raw: bytes) -> list:
    from shapely.geometry import shape

    doc = json.loads(raw)
    if not isinstance(doc, dict) or not isinstance(doc.get("features"), list):
        raise ValueError("not a GeoJSON FeatureCollection")
    return [(f.get("properties") or {}, shape(f["geometry"]) if f.get("geometry") else None)
            for f in doc["features"]]


def _iso(text) -> str:
    t = re.sub(r"\D", "", str(text or ""))
    if len(t) >= 12:
        return f"{t[:4]}-{t[4:6]}-{t[6:8]}T{t[8:10]}:{t[10:12]}"
    return ""


def _rows(p: Path, layer: str, feats: list) -> list[dict]:
    from pyproj import Geod

    geod = Geod(ellps="WGS84")
    rows = []
    for props, geom in feats:
        pr = {str(k).upper(): v for k, v in props.items()}
        if geom is None or geom.is_empty:
            continue
        if geom.geom_type not in ("Polygon", "MultiPolygon"):
            raise FormatError(p, f"layer {layer}: a {geom.geom_type}, not a polygon")
        label = str(pr.get("LABEL", "")).strip().upper()
        label2 = str(pr.get("LABEL2", "")).strip()
        try:
            dn = int(float(pr.get("DN", 0) or 0))
        except (TypeError, ValueError):
            dn = 0
        significant = label == "SIGN" or label.startswith("CIG") or "significant" in label2.lower() \
            or bool(re.search(r"(^|_)sig", layer, re.I))
        if label in CATEGORICAL:
            hazard, rank, prob = "categorical", CATEGORICAL[label][0], np.nan
        else:
            hazard = _hazard(label2, layer)
            if hazard is None:
                raise FormatError(p, f"layer {layer}: polygon {label or '?'} ({label2 or 'no LABEL2'}) of no "
                                     "known hazard (tornado, wind, hail or any severe)")
            rank = 0
            prob = np.nan if significant else _probability(label, label2, dn)
        shell = geom.geoms if geom.geom_type == "MultiPolygon" else [geom]
        area = sum(abs(geod.geometry_area_perimeter(g)[0]) for g in shell) / 1e6
        lon0, lat0, lon1, lat1 = geom.bounds
        rows.append({"hazard": hazard, "label": label, "label2": label2, "dn": dn, "risk_rank": rank,
                     "probability": prob, "significant": bool(significant and hazard != "categorical"),
                     "area_km2": area, "lat_min": lat0, "lat_max": lat1, "lon_min": lon0, "lon_max": lon1,
                     "wkt": geom.wkt, "layer": layer, "geometry": geom,
                     "valid": _iso(pr.get("VALID_ISO") or pr.get("VALID")),
                     "expire": _iso(pr.get("EXPIRE_ISO") or pr.get("EXPIRE")),
                     "issue": _iso(pr.get("ISSUE_ISO") or pr.get("ISSUE"))})
    return rows


def _hazard(label2: str, layer: str) -> str | None:
    low = label2.lower()
    for word, hazard in (("tornado", "tornado"), ("wind", "wind"), ("hail", "hail"),
                         ("any severe", "any_severe"), ("severe", "any_severe")):
        if word in low:
            return hazard
    for pat, hazard in _LAYER_HAZARD:
        if pat.search(layer):
            return hazard
    return None


def _probability(label: str, label2: str, dn: int) -> float:
    m = re.fullmatch(r"0?\.(\d+)", label)
    if m:
        return float(f"0.{m.group(1)}") * 100.0
    m = re.match(r"\s*(\d+)\s*%", label2) or re.fullmatch(r"(\d+)%?", label)
    if m:
        return float(m.group(1))
    if dn > 0:
        return float(dn)
    raise ValueError(f"no probability in polygon {label!r} ({label2!r})")


def _dataset(rows: list[dict]) -> xr.Dataset:
    n = len(rows)
    units = {"dn": "1", "risk_rank": "1", "probability": "percent", "area_km2": "km^2",
             "lat_min": "degree_north", "lat_max": "degree_north", "lon_min": "degree_east", "lon_max": "degree_east"}
    data = {}
    for key in ("hazard", "label", "label2", "wkt", "layer", "valid", "expire", "issue"):
        data[key] = ("polygon", np.array([r[key] for r in rows], dtype=object) if n else np.array([], dtype=object))
    data["significant"] = ("polygon", np.array([r["significant"] for r in rows], dtype=bool))
    for key, u in units.items():
        data[key] = ("polygon", np.array([r[key] for r in rows], dtype=np.float64), {"units": u})
    ds = xr.Dataset(data, coords={"polygon": np.arange(n)})
    vlat, vlon, vpoly = [], [], []
    for i, r in enumerate(rows):
        geom = r["geometry"]
        for g in (geom.geoms if geom.geom_type == "MultiPolygon" else [geom]):
            xy = np.asarray(g.exterior.coords)
            vlon.extend(xy[:, 0]); vlat.extend(xy[:, 1]); vpoly.extend([i] * len(xy))
    ds["vertex_lat"] = ("vertex", np.asarray(vlat, np.float64), {"units": "degree_north"})
    ds["vertex_lon"] = ("vertex", np.asarray(vlon, np.float64), {"units": "degree_east"})
    ds["vertex_polygon"] = ("vertex", np.asarray(vpoly, np.int64))
    return ds


def outlook_at(datasets: list, lat: float, lon: float) -> dict:
    """The outlook at a point from the polygons of one or more outlook datasets.

    Returns a dict: ``categorical`` (highest categorical LABEL covering the point, ``NONE``
    outside every categorical polygon, ``None`` when no categorical layer was read),
    ``rank`` (0-6), per hazard the highest probability covering the point (0 outside,
    ``None`` when the hazard's layer was not read) and whether a significant (hatched) area
    covers it, the highest categorical risk anywhere, and the covering polygons as
    ``LABEL/LABEL2`` strings.
    """
    from shapely import wkt
    from shapely.geometry import Point

    pt = Point(((lon + 180.0) % 360.0) - 180.0, lat)
    cover, read = [], set()
    best_cat, best_any = (0, "NONE"), (0, "NONE")
    prob: dict[str, float] = {}
    sig: dict[str, bool] = {}
    for ds in datasets:
        for i in range(ds.sizes.get("polygon", 0)):
            hazard = str(ds.hazard.values[i])
            read.add(hazard)
            label, label2 = str(ds.label.values[i]), str(ds.label2.values[i])
            rank = int(ds.risk_rank.values[i])
            if hazard == "categorical" and rank > best_any[0]:
                best_any = (rank, label)
            if not wkt.loads(str(ds.wkt.values[i])).covers(pt):
                continue
            cover.append(f"{label}/{label2}" if label2 else label)
            if hazard == "categorical":
                best_cat = max(best_cat, (rank, label))
            elif bool(ds.significant.values[i]):
                sig[hazard] = True
            else:
                prob[hazard] = max(prob.get(hazard, 0.0), float(ds.probability.values[i]))
    out = {"categorical": best_cat[1] if "categorical" in read else None,
           "rank": best_cat[0] if "categorical" in read else None,
           "highest_anywhere": best_any[1] if "categorical" in read else None,
           "covering": cover}
    for h in HAZARDS:
        out[f"{h}_probability"] = prob.get(h, 0.0) if h in read else None
        out[f"{h}_significant"] = sig.get(h, False) if h in read else None
    return out
