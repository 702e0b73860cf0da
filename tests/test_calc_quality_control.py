"""Quality control of rain composites (:func:`hvrmet.calc.precipitation.quality_control`),
by hand: the Jennings (1950) world-record envelope and the isolated-spike rules on
synthetic fields; the real composites are in ``test_tools_precipitation.py``."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr


def test_record_envelope_is_jennings_by_hand():
    from hvrmet.calc.precipitation import record_rain_rate_mm_h

    # Jennings (1950): P = 16.6 D^0.475 inches, D in hours; 25.4 mm per inch
    assert record_rain_rate_mm_h(60) == pytest.approx(16.6 * 25.4, rel=1e-12)                   # 421.6 mm in 1 h
    assert record_rain_rate_mm_h(15) == pytest.approx(16.6 * 25.4 * 0.25 ** 0.475 * 4, rel=1e-12)
    assert 872 < record_rain_rate_mm_h(15) < 874
    # the 1-min world record (Unionville, Maryland, 4 July 1956: 1.23 in) lies under the envelope
    assert 1.23 * 25.4 * 60 < record_rain_rate_mm_h(1) < 3620
    for bad in (0, -5, float("nan")):
        with pytest.raises(ValueError, match="duration_min"):
            record_rain_rate_mm_h(bad)


def test_quality_control_rules_by_hand():
    from hvrmet.calc.precipitation import qc_note, quality_control, record_rain_rate_mm_h

    y, x = np.mgrid[0:20, 0:20]
    cell = (100.0 * np.exp(-((y - 10) ** 2 + (x - 10) ** 2) / 8.0)).astype(np.float32)  # a 100 mm/h cell
    rate = np.stack([cell.copy() for _ in range(3)])
    rate[:, 0:5, 15:20] = 2.0
    rate[0, 2, 17] = 200.0            # a lone spike in frame 0 only: 100 x its neighbours
    rate[1, 17, 2], rate[2, 17, 2] = 80.0, 60.0   # a hot pixel in two frames ...
    rate[0, 17, 2] = 0.4              # ... whose third frame is quiet: masked there too
    rate[1, 0, 0] = 5000.0            # above the 1-min envelope (3618 mm/h)
    rate[2, 19, 19] = np.nan
    rate[2, 18, 19], rate[2, 19, 18], rate[2, 18, 18] = np.nan, np.nan, np.nan
    rate[2, 19, 19] = 50.0            # no valid neighbour: not judged
    clean, rep = quality_control(rate, 1.0)
    assert rep == {"record_mm_h": round(record_rain_rate_mm_h(1.0), 1), "duration_min": 1.0, "above_record": 1,
                   "spikes": 3, "fixed_pixels": 1, "removed": 5, "frames": 3}
    assert np.isnan(clean[0, 2, 17]) and clean[1, 2, 17] == 2.0
    assert np.isnan(clean[:, 17, 2]).all()
    assert np.isnan(clean[1, 0, 0]) and clean[2, 19, 19] == 50.0
    np.testing.assert_array_equal(clean[:, 8:13, 8:13], rate[:, 8:13, 8:13])  # the cell is untouched
    assert rate[0, 2, 17] == 200.0    # the input is not modified
    note = qc_note(rep)
    assert "1 value(s) above the world-record" in note and "3 isolated" in note and "1 fixed pixel" in note
    assert note.endswith(" (in 3 frame(s) of the whole grid)")
    assert qc_note(quality_control(cell, 1.0)[1]) is None


@pytest.mark.parametrize("value, neighbour, removed", [
    (30.0, 2.9, True),       # at the 30 mm/h floor and over 10 x the neighbour
    (29.9, 0.0, False),      # under the floor
    (30.0, 3.0, False),      # exactly 10 x: not more
    (31.0, 3.0, True),
])
def test_quality_control_spike_boundaries(value, neighbour, removed):
    from hvrmet.calc.precipitation import quality_control

    a = np.full((5, 5), neighbour, np.float32)
    a[2, 2] = value
    clean, rep = quality_control(a, 5.0)
    assert np.isnan(clean[2, 2]) == removed and rep["spikes"] == int(removed)


def test_quality_control_record_boundary_and_units():
    from hvrmet.calc.precipitation import quality_control, record_rain_rate_mm_h

    cap5 = record_rain_rate_mm_h(5.0)
    a = np.full((2, 5, 5), 0.9 * cap5, np.float32)      # a wide field: no spike
    a[0, 2, 2] = np.float32(cap5) - 1.0
    a[1, 2, 2] = np.float32(cap5) + 1.0
    clean, rep = quality_control(a, 5.0)
    assert np.isfinite(clean[0, 2, 2]) and np.isnan(clean[1, 2, 2]) and rep["above_record"] == 1
    # the same value as a 1-min rate sample is within the record
    assert quality_control(a, 1.0)[1]["above_record"] == 0
    with pytest.raises(ValueError, match="rate must be"):
        quality_control(np.zeros(4), 5.0)


def test_value_duration_follows_the_product_unit():
    from hvrmet.calc.precipitation import RATE_SAMPLE_MIN, value_duration_min

    def seq(units, accutime=None, step=5.0):
        attrs = {"units": units, **({"accutime_min": accutime} if accutime else {})}
        return xr.Dataset({"precip": (("time", "y", "x"), np.zeros((1, 2, 2)), attrs)}, attrs={"timestep_min": step})

    assert value_duration_min(seq("mm", 6.0)) == 6.0
    assert value_duration_min(seq("mm", None, 15.0)) == 15.0          # the time step when no accutime
    assert value_duration_min(seq("mm/h")) == RATE_SAMPLE_MIN == 1.0
    assert value_duration_min(seq("dBZ")) == 1.0


def test_qc_note_names_each_rule_only_when_it_removed_something():
    from hvrmet.calc.precipitation import QC_PREFIX, qc_note

    base = {"record_mm_h": 3618.0, "duration_min": 1.0, "above_record": 0, "spikes": 0, "fixed_pixels": 0,
            "removed": 0}
    assert qc_note(base) is None
    only_spikes = qc_note(dict(base, spikes=2, removed=2))
    assert only_spikes.startswith(QC_PREFIX) and "2 isolated" in only_spikes
    assert "world-record" not in only_spikes and "fixed" not in only_spikes
    rec = qc_note(dict(base, above_record=1, removed=1))
    assert "1 value(s) above the world-record rain envelope (3618 mm/h over 1 min" in rec and "isolated" not in rec
    fixed = qc_note(dict(base, spikes=2, fixed_pixels=1, removed=3))
    assert "1 fixed pixel(s) spiking in 2 frames or more" in fixed


def test_quality_control_of_one_frame_keeps_its_shape():
    from hvrmet.calc.precipitation import quality_control

    a = np.full((4, 4), 1.0, np.float32)
    a[1, 1] = 50.0
    clean, rep = quality_control(a, 5.0)
    assert clean.shape == (4, 4) and clean.dtype == np.float32 and np.isnan(clean[1, 1]) and rep["spikes"] == 1
    assert rep["fixed_pixels"] == 0                                  # one frame: never "fixed"
    clean2, rep2 = quality_control(a, 5.0, spike_ratio=60.0)
    assert np.isfinite(clean2[1, 1]) and rep2["removed"] == 0
    clean3, _ = quality_control(a, 5.0, spike_min_mm_h=60.0)
    assert np.isfinite(clean3[1, 1])
    stack = np.stack([a, a])
    assert quality_control(stack, 5.0, fixed_frames=3)[1]["fixed_pixels"] == 0
    assert quality_control(stack, 5.0, fixed_frames=2)[1]["fixed_pixels"] == 1


def test_quality_control_at_the_grid_edge_next_to_gaps_and_in_float64():
    from hvrmet.calc.precipitation import quality_control

    a = np.full((6, 6), 1.0)                 # float64 in, float32 out, input untouched
    a[0, 3] = 80.0                           # a spike on the grid's edge: the outside is no neighbour
    a[3, 3] = 90.0                           # a spike beside missing pixels
    a[2, 2:5] = np.nan
    clean, rep = quality_control(a, 5.0)
    assert clean.dtype == np.float32 and a.dtype == np.float64 and a[0, 3] == 80.0
    assert np.isnan(clean[0, 3]) and np.isnan(clean[3, 3]) and rep["spikes"] == 2
    assert rep["record_mm_h"] == 1554.2       # to 0.1 mm/h


def test_quality_control_ratio_applies_over_dry_neighbours():
    from hvrmet.calc.precipitation import qc_note, quality_control

    a = np.zeros((5, 5), np.float32)
    a[2, 2] = 40.0
    assert quality_control(a, 5.0, spike_ratio=50.0)[1]["spikes"] == 1   # 40 > 50 x 0
    b = np.full((2, 5, 5), 1.0, np.float32)
    b[:, 2, 2] = 40.0
    b[0, 0, 0] = 9000.0
    note = qc_note(quality_control(b, 5.0)[1])
    assert note.count("; ") == 2 and "Jennings 1950); 2 isolated" in note
