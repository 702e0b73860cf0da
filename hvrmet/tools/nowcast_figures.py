"""Nowcast figure tools: observed vs forecast panels, and CSI/HSS per lead time.

Both read the case's composite sequence through the tool context (the files and their
sha256 go into the result and the sidecar), put it on the 5-minute grid as the
nowcasting package does (:func:`hvrmet.nowcast.dataset.sequence_from_dataset`: dBZ,
Marshall-Palmer for rain rates, continental mosaics cropped to the 512 x 512 window with
the most rain) and verify only against frames observed at a native data time: a frame
the 5-minute grid interpolated is never an analysis time and never an observation.
Every score is pysteps' (``det_cat_fct`` on one forecast, the accumulated contingency
tables of :class:`hvrmet.nowcast.verification.Verifier` over several analyses; an event
is ``value > threshold``; pixels outside the coverage in either field are left out).

The sidecar of each figure lists the method(s), the analysis time(s), the lead times and
thresholds drawn, and every score the figure shows.
"""

from __future__ import annotations

import time as _time

import numpy as np
from pydantic import Field, field_validator

from hvrmet.errors import VariableMissing
from hvrmet.plot.sidecar import FigureMeta, figure_stem, iso_time, save_figure
from hvrmet.tools.context import ToolContext
from hvrmet.tools.inputs import CaseInput, quantity
from hvrmet.tools.registry import tool
from hvrmet.tools.results import FigureRef, ToolOutput, Value

__all__: list[str] = []

METHODS = ("persistence", "extrapolation", "sprog", "pa_net", "metok", "impa_net")
N_IN = 6
STEP = 5.0


def _as_list(v):
    """One number (or a quantity already converted to the field's units) as a list of one."""
    return [v] if isinstance(v, (int, float)) and not isinstance(v, bool) else v


def _check_leads(v: list[float]) -> list[float]:
    out = []
    for x in v:
        x = float(x)
        if not (STEP <= x <= 60.0) or abs(x / STEP - round(x / STEP)) > 1e-6:
            raise ValueError(f"lead {x:g} min is not a multiple of 5 minutes from 5 to 60")
        out.append(float(round(x / STEP) * STEP))
    if len(set(out)) != len(out):
        raise ValueError("lead times repeat")
    return sorted(out)


def _check_thresholds(v: list[float]) -> list[float]:
    out = [float(x) for x in v]
    if any(not (0.0 <= x <= 70.0) for x in out):
        raise ValueError("thresholds must be from 0 to 70 dBZ")
    if len(set(out)) != len(out):
        raise ValueError("thresholds repeat")
    return sorted(out)


def _check_methods(v: list[str]) -> list[str]:
    bad = [m for m in v if m not in METHODS]
    if bad:
        raise ValueError(f"unknown method(s) {bad}; known: {', '.join(METHODS)}")
    if len(set(v)) != len(v):
        raise ValueError("methods repeat")
    return list(v)


class NowcastPanelsInput(CaseInput):
    """A case's composite sequence, a method, an analysis frame, lead times and thresholds."""

    role: str = Field("composite_sequence", description="case role of the radar composite sequence")
    method: str = Field("extrapolation", description="nowcasting method: persistence, extrapolation, sprog, "
                        "pa_net, metok or impa_net")
    leads: list[float] = Field(default_factory=lambda: [10.0, 30.0, 60.0], min_length=1, max_length=6,
                               description="lead times of the panels, multiples of 5 from 5 to 60 [minute]",
                               json_schema_extra={"units": "minute"})
    thresholds: list[float] = Field(default_factory=lambda: [35.0, 45.0], min_length=1, max_length=4,
                                    description="reflectivity thresholds drawn as contours and scored [dBZ]",
                                    json_schema_extra={"units": "dBZ"})
    frame: int = quantity(-1, units="1", description="index of the analysis frame on the 5-minute grid (-1: the "
                          "latest native frame whose lead times all have a native observation, or else the most "
                          "of them)", ge=-1000, le=1000)
    window: int = quantity(256, units="1", description="side of the square window drawn and scored, pixels: the "
                           "one with the most pixel-times >= 35 dBZ from the analysis to the last lead (0: the "
                           "whole domain)", ge=0, le=4096)

    @field_validator("leads", "thresholds", mode="before")
    @classmethod
    def one_or_more(cls, v):
        return _as_list(v)

    @field_validator("leads")
    @classmethod
    def valid_leads(cls, v: list[float]) -> list[float]:
        return _check_leads(v)

    @field_validator("thresholds")
    @classmethod
    def valid_thresholds(cls, v: list[float]) -> list[float]:
        return _check_thresholds(v)

    @field_validator("method")
    @classmethod
    def valid_method(cls, v: str) -> str:
        return _check_methods([v])[0]


class NowcastScoresInput(CaseInput):
    """A case's composite sequence, the methods, the analysis times and the thresholds."""

    role: str = Field("composite_sequence", description="case role of the radar composite sequence")
    methods: list[str] = Field(default_factory=lambda: ["persistence", "extrapolation"], min_length=1,
                               max_length=6, description="nowcasting methods to verify on the same inputs: "
                               "persistence, extrapolation, sprog, pa_net, metok, impa_net")
    thresholds: list[float] = Field(default_factory=lambda: [35.0, 45.0], min_length=1, max_length=4,
                                    description="reflectivity thresholds of CSI and HSS [dBZ]",
                                    json_schema_extra={"units": "dBZ"})
    lead_max: float = quantity(60.0, units="minute", description="longest lead time (5-minute steps)", ge=5, le=60)
    every: float = quantity(10.0, units="minute", description="minutes between analysis times (native frames "
                            "only)", ge=5, le=360)
    starts: int = quantity(4, units="1", description="most analysis times verified", ge=1, le=24)

    @field_validator("thresholds", mode="before")
    @classmethod
    def one_or_more(cls, v):
        return _as_list(v)

    @field_validator("methods", mode="before")
    @classmethod
    def one_method(cls, v):
        return [v] if isinstance(v, str) else v

    @field_validator("thresholds")
    @classmethod
    def valid_thresholds(cls, v: list[float]) -> list[float]:
        return _check_thresholds(v)

    @field_validator("methods")
    @classmethod
    def valid_methods(cls, v: list[str]) -> list[str]:
        return _check_methods(v)


# ------------------------------------------------------------------------ helpers

def _sequence(ctx: ToolContext, role: str):
    from hvrmet.nowcast.dataset import sequence_from_dataset

    ds = ctx.load(role)
    dbz, times, meta = sequence_from_dataset(ds, case_id=ctx.case.id)
    lat, lon = ds["lat"].values, ds["lon"].values
    if meta["crop"]:
        r, c, n = meta["crop"]["row"], meta["crop"]["col"], meta["crop"]["size"]
        lat, lon = lat[r:r + n, c:c + n], lon[r:r + n, c:c + n]
    return dbz, times, meta, lat, lon


def _sources(ctx: ToolContext) -> list[dict[str, str]]:
    seen, out = set(), []
    for f in ctx.files_read:
        if f.path not in seen:
            seen.add(f.path)
            out.append({"path": f.path, "sha256": f.sha256})
    return out


def _t(value) -> str:
    return str(np.datetime_as_string(np.datetime64(value, "m"))) + "Z"


def _finite(x) -> float | None:
    return None if x is None or not np.isfinite(float(x)) else float(x)


def pysteps_scores(forecast: np.ndarray, observed: np.ndarray, threshold: float) -> dict:
    """pysteps ``det_cat_fct`` (CSI, POD, FAR, HSS and the table) of one forecast field
    against one observed field, on the pixels where both are finite."""
    import hvrmet._pysteps  # noqa: F401
    from pysteps.verification import det_cat_fct, det_cat_fct_accum, det_cat_fct_init

    mask = np.isfinite(forecast) & np.isfinite(observed)
    f, o = np.asarray(forecast, np.float64)[mask], np.asarray(observed, np.float64)[mask]
    with np.errstate(divide="ignore", invalid="ignore"):
        s = det_cat_fct(f, o, float(threshold), ["CSI", "POD", "FAR", "HSS"])
    ct = det_cat_fct_init(float(threshold))
    det_cat_fct_accum(ct, f, o)
    return {"CSI": _finite(s["CSI"]), "POD": _finite(s["POD"]), "FAR": _finite(s["FAR"]),
            "HSS": _finite(s["HSS"]), "hits": int(ct["hits"]), "misses": int(ct["misses"]),
            "false_alarms": int(ct["false_alarms"]), "correct_negatives": int(ct["correct_negatives"]),
            "pixels": int(mask.sum())}


def _pick_frame(native: np.ndarray, steps: list[int], frame: int, n: int) -> int:
    if frame >= 0 or frame < -1:
        a = frame if frame >= 0 else n + frame
        if not (N_IN - 1 <= a < n):
            raise ValueError(f"analysis frame {frame} leaves fewer than {N_IN} input frames "
                             f"(the sequence has {n} frames at 5 min)")
        return a
    best, best_n = None, -1
    for a in range(N_IN - 1, n):
        if not native[a]:
            continue
        k = sum(1 for s in steps if a + s < n and native[a + s])
        if k >= best_n and k > 0:  # latest with the most observed leads
            best, best_n = a, k
    if best is None:
        raise ValueError(f"no native analysis frame with {N_IN} input frames has a native observation at "
                         f"the lead times {', '.join(f'{s * STEP:g}' for s in steps)} min")
    return best


def _extent_km(meta: dict, shape: tuple[int, int], lat: np.ndarray) -> tuple[tuple[float, float, float, float], str]:
    """Panel extent in km from the lower-left corner, and the image origin (north up)."""
    dy, dx = meta["pixel_km"]
    ny, nx = shape
    mid = nx // 2
    col = lat[:, mid]
    ok = np.isfinite(col)
    north_first = bool(ok.any() and col[ok][0] > col[ok][-1])
    return (0.0, nx * dx, 0.0, ny * dy), ("upper" if north_first else "lower")


def _figure_out(ctx: ToolContext, stem: str, meta: FigureMeta, fig, values: dict, summary: str,
                t0: float, warnings: list[str]) -> ToolOutput:
    meta.source_files = _sources(ctx)
    saved = save_figure(fig, ctx.out_dir, stem, meta)
    ref = FigureRef(png=saved.png, sidecar=saved.sidecar, kind=saved.kind)
    values = {"figure_path": Value(value=ref.png), "kind": Value(value=meta.kind),
              "valid_time": Value(value=meta.valid_time), **values}
    return ToolOutput(values=values, figures=[ref], warnings=warnings,
                      summary=f"{summary} -> {ref.png} ({_time.perf_counter() - t0:.1f} s)")


# -------------------------------------------------------------------------- tools

@tool(category="plot", needs=("composite_sequence",),
      example={"method": "extrapolation", "leads": [10, 30, 60], "thresholds": [35, 45]},
      outputs={"figure_path": "", "kind": "", "valid_time": "", "method": "", "analysis_time": "",
               "leads_drawn": "minute", "thresholds_drawn": "dBZ", "observed_leads": "minute",
               "csi_first_threshold": "1", "hss_first_threshold": "1"})
def plot_nowcast_panels(args: NowcastPanelsInput, ctx: ToolContext) -> ToolOutput:
    """Observed vs forecast reflectivity panels at several lead times, with threshold contours.

    Runs one nowcasting method from a native analysis frame (its six 5-min input frames
    up to it) on the whole domain and draws, on the window with the most rain (``window``
    pixels; 0: all of it), per lead time the observed frame above and the forecast below,
    the thresholds as contours of each field, and the observed first-threshold contour
    dashed on the forecast. A lead whose frame was not observed at a native data time
    (an interpolated 5-min frame or past the end) shows no observation and gets no
    score. Returns pysteps' CSI and HSS at the first threshold per lead (null where not
    observed); the sidecar has CSI/POD/FAR/HSS and the table of every lead and threshold.
    """
    from hvrmet.nowcast import get_method
    from hvrmet.plot.nowcast import nowcast_panels_figure

    t0 = _time.perf_counter()
    dbz, times, meta, lat, lon = _sequence(ctx, args.role)
    native = ~np.asarray(meta["interpolated"], dtype=bool)
    steps = [int(round(x / STEP)) for x in args.leads]
    n = len(dbz)
    try:
        a = _pick_frame(native, steps, args.frame, n)
    except ValueError as exc:
        raise VariableMissing(ctx.case.id, str(exc)) from None
    warnings = []
    if not native[a]:
        warnings.append(f"analysis frame {a} ({_t(times[a])}) is an interpolated 5-min frame, not a native one")
    inp = np.array(dbz[a - N_IN + 1:a + 1])
    fc = np.asarray(get_method(args.method)(inp.copy(), max(steps)))
    box = None
    if args.window and (dbz.shape[1] > args.window or dbz.shape[2] > args.window):
        from hvrmet.nowcast.dataset import heaviest_window

        seen = [a] + [a + s for s in steps if a + s < n and native[a + s]]  # observed frames only
        r, c = heaviest_window(dbz[seen], args.window)
        box = {"row": int(r), "col": int(c), "size": int(args.window)}
        sl = (slice(r, r + args.window), slice(c, c + args.window))
        dbz = dbz[(slice(None),) + sl]
        fc = fc[(slice(None),) + sl]
        lat, lon = lat[sl], lon[sl]
    observed, forecast, valid, rows, notes = [], [], [], [], []
    for lead, s in zip(args.leads, steps):
        f = fc[s - 1]
        forecast.append(f)
        vt = times[a] + np.timedelta64(int(lead), "m")
        valid.append(_t(vt))
        o = np.array(dbz[a + s]) if a + s < n and native[a + s] else None
        observed.append(o)
        parts = []
        for thr in args.thresholds:
            sc = pysteps_scores(f, o, thr) if o is not None else None
            rows.append({"lead_min": lead, "threshold_dbz": thr, "observed": o is not None,
                         "valid_time": _t(vt), **(sc or {})})
            if sc is not None and sc["CSI"] is not None:
                parts.append(f"CSI{thr:g} {sc['CSI']:.2f}")
        notes.append(" ".join(parts) if o is not None else "not verified")
    extent, origin = _extent_km(meta, dbz.shape[1:], lat)
    title = (f"{ctx.case.id}: {args.method} from {_t(times[a])} (analysis frame {a}); observed (top) vs "
             f"forecast (bottom), contours {', '.join(f'{t:g}' for t in args.thresholds)} dBZ")
    fig, info = nowcast_panels_figure(observed, forecast, args.leads, args.thresholds, analysis=np.array(dbz[a]),
                                      extent_km=extent, origin=origin, title=title, valid_times=valid,
                                      panel_notes=notes, method=args.method)
    first = args.thresholds[0]
    by_lead = {r["lead_min"]: r for r in rows if r["threshold_dbz"] == first}
    csi = [by_lead[x].get("CSI") for x in args.leads]
    hss = [by_lead[x].get("HSS") for x in args.leads]
    obs_leads = [x for x, o in zip(args.leads, observed) if o is not None]
    fmeta = FigureMeta(kind="nowcast_panels", variables=["reflectivity"], valid_time=iso_time(times[a]),
                       units="dBZ", title=title, case=ctx.case.id,
                       extent=[float(np.nanmin(lon)), float(np.nanmax(lon)), float(np.nanmin(lat)),
                               float(np.nanmax(lat))], colour_scale=info,
                       extra={"method": args.method, "analysis_time": _t(times[a]), "analysis_frame": int(a),
                              "input_frames": N_IN, "leads_min": list(args.leads),
                              "thresholds_dbz": list(args.thresholds), "valid_times": valid,
                              "observed_leads_min": obs_leads,
                              "observations": "only frames observed at a native data time",
                              "scores_by": "pysteps det_cat_fct, event = value > threshold, pixels finite in both",
                              "scores": rows, "domain": [int(dbz.shape[1]), int(dbz.shape[2])],
                              "crop": meta["crop"], "window": box, "pixel_km": list(meta["pixel_km"]),
                              "native_step_min": meta["native_step_min"], "time_source": meta["time_source"]})
    stem = figure_stem("plot_nowcast_panels", ctx.case.id, method=args.method, frame=int(a), window=int(args.window),
                       leads="-".join(f"{x:g}" for x in args.leads),
                       thr="-".join(f"{x:g}" for x in args.thresholds))
    values = {"method": Value(value=args.method), "analysis_time": Value(value=_t(times[a])),
              "leads_drawn": Value(value=list(args.leads), units="minute"),
              "thresholds_drawn": Value(value=list(args.thresholds), units="dBZ"),
              "observed_leads": Value(value=obs_leads, units="minute"),
              "csi_first_threshold": Value(value=[None if v is None else round(v, 4) for v in csi], units="1",
                                           note=f"CSI at {first:g} dBZ per lead (null: no native observation)"),
              "hss_first_threshold": Value(value=[None if v is None else round(v, 4) for v in hss], units="1",
                                           note=f"HSS at {first:g} dBZ per lead (null: no native observation)")}
    shown = ", ".join(f"+{x:g} min CSI{first:g} {c:.2f}" for x, c in zip(args.leads, csi) if c is not None)
    return _figure_out(ctx, stem, fmeta, fig, values,
                       f"{args.method} nowcast panels from {_t(times[a])}: {shown or 'no lead observed'}", t0,
                       warnings)


@tool(category="plot", needs=("composite_sequence",),
      example={"methods": ["persistence", "extrapolation"], "thresholds": [35, 45], "starts": 2},
      outputs={"figure_path": "", "kind": "", "valid_time": "", "methods": "", "analysis_times": "",
               "leads_drawn": "minute", "thresholds_drawn": "dBZ", "csi_mean_first_threshold": "1",
               "hss_mean_last_threshold": "1"})
def plot_nowcast_scores(args: NowcastScoresInput, ctx: ToolContext) -> ToolOutput:
    """CSI and HSS against lead time for several nowcasting methods on the same inputs.

    Verifies every method from the same native analysis frames (every ``every`` minutes,
    at most ``starts``), with the Lucas-Kanade motion and extrapolation shared, only
    against frames observed at a native data time (as ``hvrmet nowcast eval`` does),
    accumulating pysteps' contingency tables per lead time over the analyses; draws CSI
    (left) and HSS (right) per lead, one colour per method and one line style per
    threshold. Returns each method's mean CSI at the first threshold and mean HSS at the
    last over the leads; the sidecar has every value drawn and the analysis times.
    """
    from hvrmet.nowcast.verification import evaluate
    from hvrmet.plot.nowcast import nowcast_scores_figure

    t0 = _time.perf_counter()
    seq = _sequence(ctx, args.role)
    cid = ctx.case.id
    try:
        res = evaluate(list(args.methods), [cid], every_min=args.every, starts=int(args.starts),
                       lead_max_min=args.lead_max, thresholds=tuple(args.thresholds), scales=(1,),
                       loader=lambda _c: seq[:3])
    except ValueError as exc:
        raise VariableMissing(cid, str(exc)) from None
    case = res["cases"][cid]
    if not case["analysis_times"]:
        raise VariableMissing(cid, "no native analysis frame with 6 input frames has a native observation after it")
    per = res["per_case"][cid]
    first = per[args.methods[0]]["scores"]
    leads = [float(x) for x in first["lead_times_min"]]
    n_pairs = [int(x) for x in first["n_pairs"]]
    scores = {m: {s: {thr: [_finite(v) for v in per[m]["scores"][s][thr]] for thr in args.thresholds}
                  for s in ("CSI", "POD", "FAR", "HSS")} for m in args.methods}
    plotted = {m: {s: {thr: [np.nan if v is None else v for v in scores[m][s][thr]] for thr in args.thresholds}
                   for s in ("CSI", "HSS")} for m in args.methods}
    t1, t2 = args.thresholds[0], args.thresholds[-1]

    def mean(v):
        x = np.asarray([np.nan if a is None else a for a in v], dtype=float)
        return round(float(np.nanmean(x)), 4) if np.isfinite(x).any() else None

    csi_mean = {m: mean(scores[m]["CSI"][t1]) for m in args.methods}
    hss_mean = {m: mean(scores[m]["HSS"][t2]) for m in args.methods}
    title = (f"{cid}: {len(case['analysis_times'])} analyses from {case['analysis_times'][0]}, every "
             f"{args.every:g} min; verified at native observation times (pysteps)")
    fig = nowcast_scores_figure(leads, plotted, args.thresholds, title=title, n_pairs=n_pairs)
    lat, lon = seq[3], seq[4]
    fmeta = FigureMeta(kind="nowcast_scores", variables=["reflectivity"], valid_time=iso_time(case["analysis_times"][0]),
                       units="1", title=title, case=cid,
                       extent=[float(np.nanmin(lon)), float(np.nanmax(lon)), float(np.nanmin(lat)),
                               float(np.nanmax(lat))],
                       extra={"methods": list(args.methods), "analysis_times": case["analysis_times"],
                              "leads_min": leads, "thresholds_dbz": list(args.thresholds),
                              "verified_leads_min": case["verified_leads_min"], "n_pairs": n_pairs,
                              "observations": "only frames observed at a native data time",
                              "scores_by": "pysteps det_cat_fct_init/accum/compute per lead over the analyses, "
                                           "event = value > threshold",
                              "scores": {m: {s: {f"{thr:g}": v for thr, v in by.items()} for s, by in sc.items()}
                                         for m, sc in scores.items()},
                              f"CSI{t1:g}_mean": csi_mean, f"HSS{t2:g}_mean": hss_mean,
                              "domain": case["domain"], "crop": case["event_crop"],
                              "pixel_km": list(case["pixel_km"]), "native_step_min": case["native_step_min"]})
    stem = figure_stem("plot_nowcast_scores", cid, methods="-".join(args.methods),
                       thr="-".join(f"{x:g}" for x in args.thresholds), every=float(args.every),
                       starts=int(args.starts), lead=float(args.lead_max))
    values = {"methods": Value(value=list(args.methods)), "analysis_times": Value(value=case["analysis_times"]),
              "leads_drawn": Value(value=leads, units="minute"),
              "thresholds_drawn": Value(value=list(args.thresholds), units="dBZ"),
              "csi_mean_first_threshold": Value(value=[csi_mean[m] for m in args.methods], units="1",
                                                note=f"mean CSI at {t1:g} dBZ over the leads, per method"),
              "hss_mean_last_threshold": Value(value=[hss_mean[m] for m in args.methods], units="1",
                                               note=f"mean HSS at {t2:g} dBZ over the leads, per method")}
    shown = ", ".join(f"{m} CSI{t1:g} {csi_mean[m]:.3f}" for m in args.methods if csi_mean[m] is not None)
    return _figure_out(ctx, stem, fmeta, fig, values,
                       f"CSI/HSS per lead on {len(case['analysis_times'])} analyses: {shown}", t0, [])
