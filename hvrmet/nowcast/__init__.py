"""Radar nowcasting: one registry of methods with one contract (pysteps style).

``get_method(name)`` returns ``forecast(frames, timesteps, **kw)``: ``frames`` is a
``(time, y, x)`` array of reflectivity in dBZ (NaN outside coverage), the last frame the
analysis time, 5 minutes apart; the result is ``(timesteps, y, x)`` in dBZ. An unknown
name raises an error listing the known ones.

Methods: ``persistence``, ``extrapolation`` (pysteps Lucas-Kanade motion and
semi-Lagrangian advection), ``sprog`` (pysteps S-PROG), and the learned models
``pa_net``, ``metok`` and ``impa_net`` (PyTorch; GPU when there is one, CPU otherwise).
The learned models predict a residual on the ``extrapolation`` forecast (pysteps
Lucas-Kanade motion, semi-Lagrangian advection of the last frame), from a head that
starts at zero: untrained, each returns exactly what ``extrapolation`` returns. Motion
and extrapolation can be shared between methods (``velocity=``, ``advected=``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

__all__ = ["get_method", "METHODS", "LEARNED"]

#: Method name -> "module:function" inside this package.
METHODS: dict[str, str] = {
    "persistence": "baselines:persistence",
    "extrapolation": "baselines:extrapolation",
    "sprog": "baselines:sprog",
    "pa_net": "learned:pa_net",
    "metok": "learned:metok",
    "impa_net": "learned:impa_net",
}
LEARNED = ("pa_net", "metok", "impa_net")


def get_method(name: str) -> Callable:
    """The ``forecast`` function of a nowcasting method.

    Raises
    ------
    ValueError
        If the name is unknown; the message lists the known methods.
    """
    if name not in METHODS:
        raise ValueError(f"unknown nowcasting method {name!r}; known methods: {', '.join(METHODS)}")
    mod, func = METHODS[name].split(":")
    return getattr(importlib.import_module(f"{__name__}.{mod}"), func)
