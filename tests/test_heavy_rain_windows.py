"""The window rule of the heavy-rain criteria of ``classify_heavy_rain``, by hand (the
real composites are in ``test_tools_precipitation.py``)."""

from __future__ import annotations


def test_reached_needs_every_window_for_false():
    """A criterion on several windows, by hand: true as soon as a covered window reached it,
    false only when every window is covered, otherwise not computable with what the covered
    windows showed and the first window missing."""
    from hvrmet.tools.precipitation import _reached

    note = lambda h, what: f"shorter than the {h} h window of {what}"
    best = {1: (10.0, (0, 0), 0), 3: (20.0, (0, 0), 0)}
    assert _reached([3], [1, 3, 6], best, note, "x").value is True
    assert _reached([], [1, 3], best, note, "x").value is False
    v = _reached([], [1, 3, 6, 12], best, note, "guidance")
    assert v.value is None and v.note == ("not reached in the covered 1 h, 3 h window(s); "
                                          "shorter than the 6 h window of the guidance")
    v = _reached([], [3, 6], {}, note, "signal")
    assert v.value is None and v.note == "shorter than the 3 h window of the signal"
    v = _reached([], [6], {1: best[1]}, note, "y")
    assert v.value is None and v.note == "shorter than the 6 h window of the y"
