"""The expert policy's reasoning over every catalogue case: no hypothesis refuted without
a met refuting condition, no measured number counted twice in one posterior, and every
posterior equal to the sum the report prints."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hvrmet.agents.accounting import logistic, measurement_key, number_key
from hvrmet.agents.configuration import Configuration
from hvrmet.agents.state import Evidence
from hvrmet.cases import list_cases
from hvrmet.runs import diagnose

pytestmark = pytest.mark.realdata

CASES = [c.id for c in list_cases()]


@pytest.fixture(scope="module")
def runs(tmp_path_factory, data_dir):
    """Every catalogue case diagnosed once; the decoded data are dropped after each case so
    the module never holds the whole catalogue's data at once (two suites may run side by
    side on one machine)."""
    import gc

    from hvrmet.tools.context import CACHE

    out = tmp_path_factory.mktemp("reasoning")
    cfg = Configuration(out_dir=str(out), figures=False)
    states = {}
    for c in CASES:
        states[c] = diagnose(c, cfg)
        CACHE.clear()
        gc.collect()
    return states


@pytest.mark.parametrize("case", CASES)
def test_accounting_invariants(runs, case):
    state = runs[case]
    evidence = {e["id"]: Evidence.model_validate(e) for e in state["evidence"]}
    md = Path(state["report"]["markdown"]).read_text()
    for h in state["hypotheses"]:
        led = h.get("ledger")
        if h.get("signoff") or led is None:
            continue
        counted = [c for c in led["contributions"] if c["counted"]]
        # no measured number contributes twice to one posterior
        keys = [f"{c['evidence_id']}|{c['tool']}.{c['field']}" if c["tool"] == "(hypothesis)" else
                number_key(evidence[c["evidence_id"]], c["field"]) for c in counted]
        assert len(keys) == len(set(keys)), (case, h["id"], keys)
        # ... nor twice through two search windows that found it at the same place
        same = [measurement_key(evidence[c["evidence_id"]], c["field"]) for c in counted if c["tool"] != "(hypothesis)"]
        same = [m for m in same if m is not None]
        assert len(same) == len(set(same)), (case, h["id"])
        # the posterior is the printed sum
        total = led["logit_prior"] + sum(c["weight"] for c in counted)
        assert led["total"] == pytest.approx(total, abs=1e-5)
        assert h["posterior"] == pytest.approx(logistic(total), abs=1e-3)
        line = re.search(rf"### {h['id']} .*?Posterior as a sum: (.*?) = ([+-][0-9.]+) -> posterior ([0-9.]+)", md, re.S)
        assert line, (case, h["id"])
        printed = [float(x) for x in re.findall(r"[+-][0-9]+\.[0-9]+", line.group(1))]
        assert sum(printed) == pytest.approx(float(line.group(2)), abs=0.01 * (len(printed) + 1))
        assert float(line.group(3)) == pytest.approx(h["posterior"], abs=0.006)
        # refuted only with a counted, met refuting condition
        if h["status"] == "refuted":
            assert any(c["met"] and c["meaning"] == "refutes" for c in counted), (case, h["id"])
        # not assessed only when nothing was tested
        if h["status"] == "not_assessed":
            assert not any(c["met"] is not None for c in led["contributions"]), (case, h["id"])


def test_quiet_radar_volume_alone_counts_its_maximum_once(tmp_path, data_dir):
    """A radar volume alone whose strongest echo is 15 dBZ (Avesnes, northern France, 20 April
    2023: the maximum of DBZH over every sweep, read here by xradar) weighs for 'no severe
    hazard' with what the null card names: weak echoes, no mesocyclone-strength couplet and
    no deep column. The composite's maximum and the strongest gate are that one 15 dBZ
    (the registry declares them one quantity), so two cards' "under 40 dBZ" count once:
    one full piece and two half pieces, 2 of the 3 that 'supported' needs, so the null is
    left open and nothing else is accepted."""
    import numpy as np
    import xradar
    import yaml

    rel = "open-radar-data/data/T_PAZB63_C_LFPW_20230420065125.h5"
    tree = xradar.io.open_odim_datatree(str(data_dir / rel))
    zmax = max(float(np.nanmax(tree[n].ds["DBZH"].values)) for n in tree.children if n.startswith("sweep_"))
    assert zmax == pytest.approx(15.0, abs=0.5)
    case = {"id": "quiet-odim", "title": "one quiet ODIM volume", "time": "2023-04-20T06:50:44Z",
            "location": {"lat": 50.1283, "lon": 3.8118},
            "files": [{"role": "radar_volume", "format": "odim_h5", "path": rel}], "data_dir": str(data_dir)}
    path = tmp_path / "quiet-odim.yaml"
    path.write_text(yaml.safe_dump(case))
    state = diagnose(str(path), Configuration(out_dir=str(tmp_path / "out"), figures=False))
    null = next(h for h in state["hypotheses"] if h["hazard"] == "no_severe_hazard")
    assert null["status"] == "inconclusive", null["rationale"]
    led = null["ledger"]
    assert led["pieces"] == pytest.approx(2.0) and led["strong_pieces"] == 1
    counted = {(c["tool"], c["field"]): c for c in led["contributions"] if c["counted"]}
    maxima = {("find_max_reflectivity", "max_reflectivity"),
              ("compute_composite_reflectivity", "max_composite_reflectivity")}
    (one,) = maxima & set(counted)
    assert counted[one]["value"] == pytest.approx(zmax, abs=0.5) and counted[one]["meaning"] == "supports"
    (other,) = maxima - {one}
    twin = [c for c in led["contributions"] if (c["tool"], c["field"]) == other and c["met"]]
    assert twin and all(not c["counted"] and c["note"].startswith("same number as") for c in twin)
    assert counted[("detect_rotation", "mesocyclone_flag")]["value"] is False
    assert counted[("compute_vil", "max_vil")]["value"] < 5
    assert not any(h["status"] == "supported" for h in state["hypotheses"] if h["hazard"] != "no_severe_hazard")
