"""The nowcast figure tools on real radar sequences: panels of observed vs forecast
reflectivity and CSI/HSS per lead time. Their sidecars list the leads and thresholds
drawn, observations come only from native data times, and every CSI/HSS equals pysteps'
own ``det_cat_fct`` on the same arrays."""

from __future__ import annotations

import json

import numpy as np
import pytest

import hvrmet._pysteps  # noqa: F401
from pysteps.verification import det_cat_fct, det_cat_fct_accum, det_cat_fct_compute, det_cat_fct_init

from hvrmet.nowcast import get_method
from hvrmet.nowcast import dataset as nd
from hvrmet.tools import call_tool, get_tool, list_tools

pytestmark = pytest.mark.usefixtures("data_dir")


def _sidecar(res) -> dict:
    assert res.ok, res.error
    assert len(res.figures) == 1
    return json.loads(open(res.figures[0].sidecar).read())


def test_registered_as_plot_tools():
    names = {t.name for t in list_tools("plot")}
    assert {"plot_nowcast_panels", "plot_nowcast_scores"} <= names
    for name in ("plot_nowcast_panels", "plot_nowcast_scores"):
        assert get_tool(name).needs == ("composite_sequence",)
    panels, scores = get_tool("plot_nowcast_panels").input_model, get_tool("plot_nowcast_scores").input_model
    # one value for a list, with units converted; lists sorted
    assert panels(case="fmi", leads="1 h", thresholds=40).leads == [60.0]
    assert panels(case="fmi", leads=[30, 10]).leads == [10.0, 30.0]
    assert scores(case="fmi", methods="metok").methods == ["metok"]


def test_panels_sidecar_and_pysteps_csi(tmp_path):
    leads, thresholds = [10.0, 30.0, 60.0], [35.0, 45.0]
    res = call_tool("plot_nowcast_panels", {"case": "fmi", "method": "persistence", "leads": leads,
                                            "thresholds": thresholds, "window": 256}, out_dir=str(tmp_path))
    side = _sidecar(res)
    assert side["kind"] == "nowcast_panels" and side["method"] == "persistence"
    assert side["leads_min"] == leads and side["thresholds_dbz"] == thresholds
    assert res.values["leads_drawn"].value == leads and res.values["thresholds_drawn"].value == thresholds
    assert side["source_files"] and all(len(f["sha256"]) == 64 for f in side["source_files"])
    assert {(r["lead_min"], r["threshold_dbz"]) for r in side["scores"]} == {(x, t) for x in leads for t in thresholds}

    dbz, times, meta = nd.event_sequence("fmi")
    a = side["analysis_frame"]
    assert not meta["interpolated"][a] and side["analysis_time"].startswith(str(times[a])[:16])
    w = side["window"]
    sl = (slice(w["row"], w["row"] + w["size"]), slice(w["col"], w["col"] + w["size"]))
    fc = get_method("persistence")(np.array(dbz[a - 5:a + 1]), 12)
    for r in side["scores"]:
        s = int(r["lead_min"] // 5)
        assert r["observed"] and not meta["interpolated"][a + s]
        f, o = fc[s - 1][sl].astype(np.float64), np.array(dbz[a + s][sl], dtype=np.float64)
        ok = np.isfinite(f) & np.isfinite(o)
        want = det_cat_fct(f[ok], o[ok], r["threshold_dbz"], ["CSI", "HSS"])
        ct = det_cat_fct_init(r["threshold_dbz"])
        det_cat_fct_accum(ct, f[ok], o[ok])
        assert [r[k] for k in ("hits", "misses", "false_alarms", "correct_negatives")] == \
            [int(ct[k]) for k in ("hits", "misses", "false_alarms", "correct_negatives")]
        # the sidecar keeps 4 decimals (hvrmet.plot.sidecar)
        assert r["CSI"] == pytest.approx(want["CSI"], abs=5e-5)
        assert r["HSS"] == pytest.approx(want["HSS"], abs=5e-5)
        # pysteps on the raw arrays (NaN is "no event" there): the same CSI
        assert r["CSI"] == pytest.approx(det_cat_fct(f, o, r["threshold_dbz"], ["CSI"])["CSI"], abs=5e-5)
    csi35 = [r["CSI"] for r in side["scores"] if r["threshold_dbz"] == 35.0]
    assert res.values["csi_first_threshold"].value == [round(c, 4) for c in csi35]
    assert csi35[0] > csi35[-1] > 0.0  # persistence loses skill with lead time


def test_panels_observe_only_native_times(tmp_path):
    """BoM is observed every 6 min: on the 5-min grid most frames are interpolated and
    must show no observation and get no score."""
    leads = [5.0, 10.0, 15.0, 20.0, 25.0, 30.0]
    res = call_tool("plot_nowcast_panels", {"case": "bom20180616", "method": "persistence", "leads": leads,
                                            "thresholds": [35.0]}, out_dir=str(tmp_path))
    side = _sidecar(res)
    _, times, meta = nd.event_sequence("bom20180616")
    native = set(np.asarray(meta["native_times"], dtype="datetime64[m]").tolist())
    a = side["analysis_frame"]
    assert np.datetime64(times[a], "m").item() in native
    for r in side["scores"]:
        vt = np.datetime64(r["valid_time"].rstrip("Z"), "m").item()
        assert r["observed"] == (vt in native), r
        assert ("CSI" in r) == r["observed"]
    assert side["observed_leads_min"] == [r["lead_min"] for r in side["scores"] if r["observed"]]
    assert 0 < len(side["observed_leads_min"]) < len(leads)
    got = res.values["csi_first_threshold"].value
    assert [c is None for c in got] == [not r["observed"] for r in side["scores"]]


def test_scores_sidecar_and_pysteps_tables(tmp_path):
    methods, thresholds = ["persistence", "extrapolation"], [35.0, 45.0]
    res = call_tool("plot_nowcast_scores", {"case": "fmi", "methods": methods, "thresholds": thresholds,
                                            "starts": 2, "every": 10, "lead_max": 30}, out_dir=str(tmp_path))
    side = _sidecar(res)
    assert side["kind"] == "nowcast_scores" and side["methods"] == methods
    assert side["leads_min"] == [5.0, 10.0, 15.0, 20.0, 25.0, 30.0] and side["thresholds_dbz"] == thresholds
    assert len(side["analysis_times"]) == 2

    dbz, times, meta = nd.event_sequence("fmi")
    stamp = [str(np.datetime_as_string(np.datetime64(t, "m"))) + "Z" for t in times]
    analyses = [stamp.index(t) for t in side["analysis_times"]]
    assert all(not meta["interpolated"][a] for a in analyses)
    fc = {a: get_method("persistence")(np.array(dbz[a - 5:a + 1]), 6) for a in analyses}
    for thr in thresholds:
        for i, lead in enumerate(side["leads_min"]):
            ct = det_cat_fct_init(thr)
            for a in analyses:
                f, o = fc[a][i].astype(np.float64), np.array(dbz[a + i + 1], dtype=np.float64)
                ok = np.isfinite(f) & np.isfinite(o)
                det_cat_fct_accum(ct, f[ok], o[ok])
            want = det_cat_fct_compute(ct, ["CSI", "HSS"])
            got = side["scores"]["persistence"]
            # the sidecar keeps 4 decimals (hvrmet.plot.sidecar)
            assert got["CSI"][f"{thr:g}"][i] == pytest.approx(want["CSI"], abs=5e-5), (thr, lead)
            assert got["HSS"][f"{thr:g}"][i] == pytest.approx(want["HSS"], abs=5e-5), (thr, lead)
    csi = side["scores"]["extrapolation"]["CSI"]["35"]
    assert res.values["csi_mean_first_threshold"].value[1] == pytest.approx(np.mean(csi), abs=1e-4)
    # the extrapolation beats persistence at 35 dBZ on this event, as the README's table says
    assert np.mean(csi) > np.mean(side["scores"]["persistence"]["CSI"]["35"])


def test_bad_requests_are_error_results():
    for args in ({"case": "fmi", "leads": [7]}, {"case": "fmi", "thresholds": [99]},
                 {"case": "fmi", "method": "magic"}, {"case": "fmi", "leads": "3 kg"}):
        res = call_tool("plot_nowcast_panels", args)
        assert not res.ok and res.error_type == "InvalidArguments", args
    res = call_tool("plot_nowcast_scores", {"case": "fmi", "methods": ["persistence", "persistence"]})
    assert not res.ok and res.error_type == "InvalidArguments"
    res = call_tool("plot_nowcast_scores", {"case": "may1999"})
    assert not res.ok and res.error
