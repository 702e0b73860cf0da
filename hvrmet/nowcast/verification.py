"""Verification of reflectivity nowcasts, accumulate-then-compute as pysteps does.

:class:`Verifier` collects, per lead time (5, 10, ... min):

* the contingency table of each reflectivity threshold (pysteps
  ``det_cat_fct_init/accum/compute``; an event is ``value > threshold``, pysteps'
  convention) -> CSI, POD, FAR, HSS;
* the fractions skill score of each threshold and neighbourhood scale in pixels (pysteps
  ``fss_init/accum/compute``; an event is ``value >= threshold``, pysteps' convention);
* the radially averaged power spectral density of forecast and observation (pysteps
  ``utils.spectral.rapsd`` with numpy's FFT) of the reflectivity above the no-rain floor,
  summed per wavelength band (:data:`RAPSD_EDGES_KM`, four bands per octave, so grids of
  different sizes and pixel sizes can be pooled); the ratio forecast / observed per band
  is 1 for a forecast with the observed texture and falls below 1 for a smoothed one.
  ``RAPSD_ratio`` per lead time is the mean of the band ratios at wavelengths below
  ``rapsd_max_km`` (32 km).

Pixels where either field is NaN (outside the coverage) are left out: removed from the
contingency tables, counted as "no event" in both fields for the FSS (so they add nothing
to its sums), and set to the floor in both fields for the spectra.

:func:`evaluate` runs several methods on the same inputs of held-out events and verifies
them against the following observed frames -- only frames observed at a native data time
(a frame the 5-min grid interpolated between two native frames is never a verifying
observation, and never an analysis time), on the full domain or a crop, analysis times
every ``every_min`` minutes, per-lead tables in the result.
"""

from __future__ import annotations

import functools
import time
import warnings
from collections.abc import Callable, Sequence

import numpy as np

from hvrmet.nowcast import get_method
from hvrmet.nowcast.dataset import FLOOR_DBZ, STEP_MIN, event_sequence, heaviest_window

__all__ = ["Verifier", "summary", "evaluate", "pooled_scores", "analysis_starts", "lead_table",
           "RAPSD_EDGES_KM", "CATEGORICAL_SCORES"]

CATEGORICAL_SCORES = ("CSI", "POD", "FAR", "HSS")
#: Edges of the wavelength bands the spectra are pooled in (km): 1 km to 2048 km, four
#: bands per octave.
RAPSD_EDGES_KM = 2.0 ** np.arange(0.0, 11.0 + 1e-9, 0.25)


@functools.lru_cache(maxsize=16)
def _radial_bins(m: int, n: int) -> tuple[np.ndarray, np.ndarray, int]:
    """pysteps' rounded radius of every pixel (its ``compute_centred_coord_array``), the
    pixel counts per radius, and the number of radii ``rapsd`` keeps."""
    s1 = np.arange(-(m // 2), m // 2 + 1) if m % 2 else np.arange(-(m // 2), m // 2)
    s2 = np.arange(-(n // 2), n // 2 + 1) if n % 2 else np.arange(-(n // 2), n // 2)
    r = np.sqrt(s2[None, :] ** 2 + s1[:, None] ** 2).round().astype(np.int64).ravel()
    big = max(m, n)
    nr = big // 2 + 1 if big % 2 else big // 2
    return r, np.bincount(r, minlength=nr)[:nr], nr


def rapsd(field: np.ndarray, d: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """pysteps' :func:`~pysteps.utils.spectral.rapsd` (numpy FFT, not normalised) with
    the radial means taken by one ``bincount`` instead of one mask per radius (the same
    numbers to rounding; hundreds of times faster on a 1000 x 1000 grid). Returns the
    spectrum and the frequencies (``return_freq=True``)."""
    m, n = field.shape
    r, counts, nr = _radial_bins(m, n)
    psd = np.fft.fftshift(np.fft.fft2(field))
    psd = np.abs(psd) ** 2 / psd.size
    sums = np.bincount(r, weights=psd.ravel(), minlength=nr)[:nr]
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    freq = np.fft.fftfreq(max(m, n), d=d)[np.arange(nr)]
    return out, freq


def _nan_if_none(x):
    return float("nan") if x is None else float(x)


class Verifier:
    """Accumulates forecast/observation pairs of reflectivity (dBZ) per lead time.

    Parameters
    ----------
    thresholds
        Reflectivity thresholds (dBZ) of the categorical scores and the FSS.
    scales
        FSS neighbourhood sizes (pixels).
    lead_times
        Maximum number of lead times (5-min steps) of a forecast.
    pixel_km
        Pixel size (km) for the spectra; each :meth:`accumulate` may give its own.
    rapsd_max_km
        The ``RAPSD_ratio`` summary averages the band ratios below this wavelength.
    floor
        The no-rain reflectivity; the spectra are of ``max(dBZ, floor) - floor``.
    """

    def __init__(self, thresholds: Sequence[float] = (20, 35, 45), scales: Sequence[int] = (1, 2, 4, 8, 16, 32),
                 lead_times: int = 12, pixel_km: float = 1.0, rapsd_max_km: float = 32.0,
                 floor: float = FLOOR_DBZ, step_min: float = STEP_MIN):
        import hvrmet._pysteps  # noqa: F401
        from pysteps import verification as pv

        if int(lead_times) < 1:
            raise ValueError(f"lead_times must be >= 1; got {lead_times}")
        if not len(thresholds):
            raise ValueError("thresholds must name at least one threshold")
        self.thresholds = tuple(thresholds)
        self.scales = tuple(int(s) for s in scales)
        self.lead_times = int(lead_times)
        self.pixel_km = float(pixel_km)
        self.rapsd_max_km = float(rapsd_max_km)
        self.floor = float(floor)
        self.step_min = float(step_min)
        self._ct = [{thr: pv.det_cat_fct_init(thr) for thr in self.thresholds} for _ in range(self.lead_times)]
        self._fss = [{(thr, s): pv.fss_init(thr, s) for thr in self.thresholds for s in self.scales}
                     for _ in range(self.lead_times)]
        nb = len(RAPSD_EDGES_KM) - 1
        self._psd = np.zeros((self.lead_times, 2, nb))  # forecast, observed sums per band
        self._psd_n = np.zeros((self.lead_times, nb))
        self.n_pairs = np.zeros(self.lead_times, np.int64)
        self.n_pixels = np.zeros(self.lead_times, np.int64)

    # ------------------------------------------------------------------ accumulate
    def accumulate(self, forecast, observed, pixel_km: float | None = None) -> None:
        """Add one forecast ``(T, y, x)`` and its observation ``(T, y, x)`` (dBZ); frame
        ``i`` is lead time ``i + 1``, ``T <= lead_times``."""
        import hvrmet._pysteps  # noqa: F401
        from pysteps import verification as pv

        f_all = np.asarray(forecast, dtype=np.float64)
        o_all = np.asarray(observed, dtype=np.float64)
        if f_all.ndim != 3:
            raise ValueError(f"forecast must be (time, y, x); got shape {f_all.shape}")
        if o_all.shape != f_all.shape:
            raise ValueError(f"observed must have the forecast's shape {f_all.shape}; got {o_all.shape}")
        if f_all.shape[0] > self.lead_times:
            raise ValueError(f"forecast has {f_all.shape[0]} lead times; this Verifier holds {self.lead_times}")
        d = self.pixel_km if pixel_km is None else float(pixel_km)
        for i in range(f_all.shape[0]):
            f, o = f_all[i], o_all[i]
            mask = np.isfinite(f) & np.isfinite(o)
            if not mask.any():
                continue
            self.n_pairs[i] += 1
            self.n_pixels[i] += int(mask.sum())
            fm, om = f[mask], o[mask]
            for thr in self.thresholds:
                pv.det_cat_fct_accum(self._ct[i][thr], fm, om)
            fn, on = np.where(mask, f, np.nan), np.where(mask, o, np.nan)
            for key, obj in self._fss[i].items():
                pv.fss_accum(obj, fn, on)
            pf, po, lam = self._spectra(f, o, mask, d)
            b = np.digitize(lam, RAPSD_EDGES_KM) - 1
            ok = (b >= 0) & (b < self._psd_n.shape[1])
            for k in np.unique(b[ok]):
                sel = ok & (b == k)
                self._psd[i, 0, k] += pf[sel].mean()
                self._psd[i, 1, k] += po[sel].mean()
                self._psd_n[i, k] += 1

    def _spectra(self, f, o, mask, d):
        """RAPSD of both fields (floor outside ``mask``) and the wavelengths (km)."""
        ff = np.where(mask, np.maximum(f, self.floor), self.floor) - self.floor
        oo = np.where(mask, np.maximum(o, self.floor), self.floor) - self.floor
        pf, freq = rapsd(ff, d=d)
        po, _ = rapsd(oo, d=d)
        with np.errstate(divide="ignore"):
            lam = np.where(freq > 0, 1.0 / np.where(freq > 0, freq, 1.0), np.inf)
        return pf, po, lam

    def merge(self, other: "Verifier") -> "Verifier":
        """Add the accumulations of another Verifier with the same settings (in place)."""
        if (other.thresholds, other.scales, other.lead_times) != (self.thresholds, self.scales, self.lead_times):
            raise ValueError("cannot merge Verifiers with different thresholds, scales or lead times")
        for i in range(self.lead_times):
            for thr in self.thresholds:
                a, b = self._ct[i][thr], other._ct[i][thr]
                if b["hits"] is None:
                    continue
                if a["hits"] is None:
                    self._ct[i][thr] = {**b, **{k: np.copy(b[k]) for k in ("hits", "misses", "false_alarms",
                                                                           "correct_negatives")}}
                    continue
                for k in ("hits", "misses", "false_alarms", "correct_negatives"):
                    a[k] = a[k] + b[k]
            for key in self._fss[i]:
                for k in ("sum_fct_sq", "sum_fct_obs", "sum_obs_sq"):
                    self._fss[i][key][k] += other._fss[i][key][k]
        self._psd += other._psd
        self._psd_n += other._psd_n
        self.n_pairs += other.n_pairs
        self.n_pixels += other.n_pixels
        return self

    # --------------------------------------------------------------------- compute
    def compute(self) -> dict:
        """The scores per lead time.

        Returns
        -------
        dict
            ``lead_times_min``; ``CSI``/``POD``/``FAR``/``HSS`` -> threshold -> list per
            lead; ``FSS`` -> threshold -> scale -> list per lead; ``RAPSD_ratio`` -> list per
            lead; ``rapsd`` -> ``wavelength_km`` (band centres) and ``ratio`` (lead x band);
            ``n_pairs``, ``n_pixels`` per lead. NaN where a score is undefined (e.g. no
            observed and no forecast event).
        """
        import hvrmet._pysteps  # noqa: F401
        from pysteps import verification as pv

        nl = self.lead_times
        out: dict = {"lead_times_min": [self.step_min * (i + 1) for i in range(nl)],
                     "thresholds": list(self.thresholds), "scales": list(self.scales),
                     "n_pairs": self.n_pairs.tolist(), "n_pixels": self.n_pixels.tolist()}
        cat = {s: {thr: [float("nan")] * nl for thr in self.thresholds} for s in CATEGORICAL_SCORES}
        fss = {thr: {s: [float("nan")] * nl for s in self.scales} for thr in self.thresholds}
        with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)
            for i in range(nl):
                for thr in self.thresholds:
                    ct = self._ct[i][thr]
                    if ct["hits"] is not None:
                        res = pv.det_cat_fct_compute(ct, list(CATEGORICAL_SCORES))
                        for s in CATEGORICAL_SCORES:
                            cat[s][thr][i] = _nan_if_none(res[s])
                if self.n_pairs[i]:
                    for (thr, s), obj in self._fss[i].items():
                        fss[thr][s][i] = float(pv.fss_compute(obj))
            ratio = self._psd[:, 0] / self._psd[:, 1]
            ratio[self._psd_n == 0] = np.nan
        out.update(cat)
        out["FSS"] = fss
        centres = np.sqrt(RAPSD_EDGES_KM[:-1] * RAPSD_EDGES_KM[1:])
        small = RAPSD_EDGES_KM[1:] <= self.rapsd_max_km * (1 + 1e-9)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            out["RAPSD_ratio"] = [float(np.nanmean(r[small])) if np.isfinite(r[small]).any() else float("nan")
                                  for r in ratio]
        used = self._psd_n.sum(axis=0) > 0
        out["rapsd"] = {"wavelength_km": centres[used].round(3).tolist(), "max_km": self.rapsd_max_km,
                        "ratio": ratio[:, used].tolist()}
        return out


def summary(result: dict, max_lead_min: float = 60.0) -> dict:
    """Headline numbers of :meth:`Verifier.compute`'s result, means over lead times 5 to
    ``max_lead_min`` minutes (NaN lead times skipped): ``CSI35`` (CSI at 35 dBZ),
    ``HSS45`` (HSS at 45 dBZ), and, when present, ``FSS35_16px`` (FSS at 35 dBZ, 16
    pixels) and ``RAPSD_ratio``. A threshold or scale the result lacks is left out.
    Keys are e.g. ``CSI35_mean_5_60min``."""
    lt = np.asarray(result["lead_times_min"], dtype=float)
    sel = (lt >= 5.0) & (lt <= max_lead_min)

    def mean(values) -> float:
        v = np.asarray(values, dtype=float)[sel]
        return float(np.nanmean(v)) if np.isfinite(v).any() else float("nan")

    def pick(table: dict, key: float):
        for k, v in table.items():
            if float(k) == float(key):
                return v
        return None

    tag = f"5_{int(max_lead_min)}min"
    out = {}
    for name, score, thr in (("CSI35", "CSI", 35), ("HSS45", "HSS", 45)):
        v = pick(result[score], thr)
        if v is not None:
            out[f"{name}_mean_{tag}"] = mean(v)
    fss35 = pick(result["FSS"], 35)
    if fss35 is not None and pick(fss35, 16) is not None:
        out[f"FSS35_16px_mean_{tag}"] = mean(pick(fss35, 16))
    out[f"RAPSD_ratio_mean_{tag}"] = mean(result["RAPSD_ratio"])
    return out


def pooled_scores(ver: Verifier, csi_thr: float = 35.0, hss_thr: float = 45.0) -> dict:
    """CSI at ``csi_thr`` and HSS at ``hss_thr`` from the contingency tables summed over
    every lead time, and the RAPSD ratio averaged over the leads (NaN where undefined)."""
    import hvrmet._pysteps  # noqa: F401
    from pysteps import verification as pv

    out = {}
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        for name, score, thr in (("CSI35", "CSI", csi_thr), ("HSS45", "HSS", hss_thr)):
            tab = {k: 0.0 for k in ("hits", "misses", "false_alarms", "correct_negatives")}
            seen = False
            for i in range(ver.lead_times):
                ct = ver._ct[i].get(thr)
                if ct is None or ct["hits"] is None:
                    continue
                seen = True
                for k in tab:
                    tab[k] += float(ct[k])
            if not seen or tab["hits"] + tab["misses"] == 0:
                out[name] = float("nan")
                continue
            ct = pv.det_cat_fct_init(thr)
            for k, v in tab.items():
                ct[k] = np.float64(v)
            out[name] = _nan_if_none(pv.det_cat_fct_compute(ct, [score])[score])
        r = ver.compute()["RAPSD_ratio"]
        out["RAPSD_ratio"] = float(np.nanmean(r)) if np.isfinite(r).any() else float("nan")
    return out


def analysis_starts(native: Sequence[bool], times, n_in: int = 6, every_min: float = 30.0,
                    starts: int | None = None, min_leads: int = 1, step_min: float = STEP_MIN,
                    lead_times: int = 12) -> list[int]:
    """Indices of the analysis frames: native frames (never interpolated) from the
    ``n_in``-th on, at least ``every_min`` minutes apart, each with at least ``min_leads``
    native observed frames among its next ``lead_times`` frames; the first ``starts``."""
    native = np.asarray(native, dtype=bool)
    t = np.asarray(times).astype("datetime64[s]")
    out, last = [], None
    for a in range(n_in - 1, len(native) - 1):
        if not native[a]:
            continue
        if int(native[a + 1:a + 1 + lead_times].sum()) < int(min_leads):
            continue
        if last is not None and (t[a] - t[last]) / np.timedelta64(1, "m") < every_min - 1e-6:
            continue
        out.append(a)
        last = a
        if starts is not None and len(out) >= int(starts):
            break
    return out


def lead_table(scores: dict) -> list[dict]:
    """One row per lead time of :meth:`Verifier.compute`'s result: lead (min), pairs,
    CSI/POD/FAR/HSS at each threshold, FSS at each threshold and scale, RAPSD ratio."""
    rows = []
    for i, lt in enumerate(scores["lead_times_min"]):
        r = {"lead_min": lt, "n_pairs": scores["n_pairs"][i]}
        for s in CATEGORICAL_SCORES:
            for thr, v in scores[s].items():
                r[f"{s}{float(thr):g}"] = v[i]
        for thr, by in scores["FSS"].items():
            for sc, v in by.items():
                r[f"FSS{float(thr):g}_{sc}px"] = v[i]
        r["RAPSD_ratio"] = scores["RAPSD_ratio"][i]
        rows.append(r)
    return rows


def evaluate(method_names: list[str], case_ids: list[str], forecast_fn_getter: Callable = get_method, *,
             every_min: float = 30.0, starts: int | None = None, crop: int | None = None, n_in: int = 6,
             lead_max_min: float = 60.0, min_leads: int = 1, thresholds: Sequence[float] = (20, 35, 45),
             scales: Sequence[int] = (1, 4, 16), method_kwargs: dict | None = None,
             share_motion: bool = True, progress: Callable | None = None,
             loader: Callable | None = None) -> dict:
    """Verify nowcasting methods on held-out events, all on the same inputs.

    For each event (:func:`~hvrmet.nowcast.dataset.event_sequence`, dBZ every 5 min, on
    its full domain -- MRMS: the 512 x 512 event window the dataset keeps -- or, with
    ``crop``, the ``crop`` x ``crop`` window with the most pixel-times >= 35 dBZ), the
    analysis times are native frames every ``every_min`` minutes
    (:func:`analysis_starts`, at most ``starts`` per event). Every method gets the same
    ``n_in`` frames and forecasts ``lead_max_min / 5`` steps; a lead is verified only
    where its observed frame is a native one (interpolated frames are NaN in the
    observation, so they add nothing). With ``share_motion`` the Lucas-Kanade motion is
    computed once per analysis and given to ``extrapolation`` and the learned models
    (``velocity``), and the extrapolation once and given to the learned models
    (``advected``); S-PROG estimates its own motion, on dBR. ``loader`` (default
    :func:`~hvrmet.nowcast.dataset.event_sequence`) turns an entry of ``case_ids`` into
    ``(dbz5, times5, meta)``, e.g. from a sequence a tool has already loaded.

    Returns
    -------
    dict
        ``methods`` -> name -> ``scores``, ``summary``, ``per_lead`` (rows),
        ``n_forecasts``, ``seconds_per_forecast``; ``per_case`` -> case -> name -> the same
        (no timing); ``cases`` -> case -> domain, analysis times, verified lead times;
        ``settings``.
    """
    from hvrmet.nowcast import LEARNED
    from hvrmet.nowcast.baselines import extrapolation, motion_field

    if not method_names:
        raise ValueError("method_names must name at least one method")
    if not case_ids:
        raise ValueError("case_ids must name at least one event")
    if float(every_min) <= 0 or int(min_leads) < 1 or int(n_in) < 1:
        raise ValueError("every_min must be > 0, min_leads and n_in >= 1")
    lead_times = int(round(float(lead_max_min) / STEP_MIN))
    if lead_times < 1:
        raise ValueError(f"lead_max_min must be at least {STEP_MIN:g} minutes; got {lead_max_min}")
    fns = {name: forecast_fn_getter(name) for name in method_names}
    method_kwargs = method_kwargs or {}
    mk = dict(thresholds=thresholds, scales=scales, lead_times=lead_times)
    total = {name: Verifier(**mk) for name in method_names}
    seconds = {name: 0.0 for name in method_names}
    count = {name: 0 for name in method_names}
    shared_s = {"motion": 0.0, "advection": 0.0}
    per_case, cases = {}, {}
    for cid in case_ids:
        dbz, times, meta = (loader or event_sequence)(cid)
        native = ~np.asarray(meta["interpolated"], dtype=bool)
        window = None
        if crop and (dbz.shape[1] > crop or dbz.shape[2] > crop):
            r, c = heaviest_window(dbz, crop)
            dbz = dbz[:, r:r + crop, c:c + crop]
            window = {"row": r, "col": c, "size": int(crop)}
        pixel_km = float(np.sqrt(meta["pixel_km"][0] * meta["pixel_km"][1]))
        analyses = analysis_starts(native, times, n_in, every_min, starts, min_leads, lead_times=lead_times)
        ver = {name: Verifier(pixel_km=pixel_km, **mk) for name in method_names}
        verified = []
        for a in analyses:
            inp = np.array(dbz[a - n_in + 1:a + 1])
            obs = np.array(dbz[a + 1:a + 1 + lead_times])
            nat = native[a + 1:a + 1 + lead_times]
            obs[~nat] = np.nan                      # never verify against an interpolated frame
            verified.append([float(STEP_MIN * (j + 1)) for j in range(len(obs)) if nat[j]])
            shared = {}
            if share_motion:
                t0 = time.perf_counter()
                v = motion_field(inp)
                shared_s["motion"] += time.perf_counter() - t0
                t0 = time.perf_counter()
                adv = extrapolation(inp, lead_times, velocity=v)
                shared_s["advection"] += time.perf_counter() - t0
                shared = {"velocity": v, "advected": adv}
            for name, fn in fns.items():
                kw = dict(method_kwargs.get(name, {}))
                if shared and (name == "extrapolation" or name in LEARNED):
                    kw.setdefault("velocity", shared["velocity"])
                    if name in LEARNED:
                        kw.setdefault("advected", shared["advected"])
                t0 = time.perf_counter()
                fc = np.asarray(fn(inp.copy(), lead_times, **kw))
                seconds[name] += time.perf_counter() - t0
                count[name] += 1
                fc = fc[:len(obs)]
                if fc.shape != obs.shape:
                    raise ValueError(f"method {name!r} returned shape {fc.shape}; expected {obs.shape}")
                ver[name].accumulate(fc, obs, pixel_km)
            if progress is not None:
                progress(cid, a)
        per_case[cid] = {}
        for name, v in ver.items():
            s = v.compute()
            per_case[cid][name] = {"scores": s, "summary": summary(s, lead_max_min), "per_lead": lead_table(s)}
            total[name].merge(v)
        cases[cid] = {"crop": window, "event_crop": meta["crop"], "pixel_km": meta["pixel_km"],
                      "domain": [int(dbz.shape[1]), int(dbz.shape[2])],
                      "native_step_min": meta["native_step_min"],
                      "analysis_times": [str(np.datetime_as_string(np.datetime64(times[a], "m"))) + "Z"
                                         for a in analyses],
                      "verified_leads_min": verified, "max_dbz": float(np.nanmax(dbz))}
    methods = {}
    n_an = max(1, sum(len(c["analysis_times"]) for c in cases.values()))
    for name, v in total.items():
        s = v.compute()
        methods[name] = {"scores": s, "summary": summary(s, lead_max_min), "per_lead": lead_table(s),
                         "n_forecasts": count[name],
                         "seconds_per_forecast": seconds[name] / count[name] if count[name] else float("nan")}
    return {"methods": methods, "per_case": per_case, "cases": cases,
            "settings": {"every_min": every_min, "starts": starts, "crop": crop, "full_domain": not crop,
                         "n_in": n_in, "lead_max_min": lead_max_min, "lead_times": lead_times,
                         "min_leads": min_leads, "thresholds": list(thresholds), "scales": list(scales),
                         "native_only": True, "share_motion": share_motion,
                         "shared_seconds_per_analysis": {k: v / n_an for k, v in shared_s.items()}}}
