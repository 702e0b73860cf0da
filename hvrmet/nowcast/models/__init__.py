"""The learned nowcasting networks: PA-Net, MeTok/HyAGTransformer and IMPA-Net.

Every model is a ``torch.nn.Module`` whose ``forward(x)`` maps ``(B, 6, H, W)``
reflectivity on the scale dBZ / 70 (clipped to [0, 1]; 0 = no echo), 5 minutes apart, to
the next 12 frames ``(B, 12, H, W)`` on the same scale. ``H`` and ``W`` may be any
multiple of 16 (train on 128x128, infer on 256x256 or larger): position enters through
convolutions only. Each model has ``config`` (its constructor's keyword arguments),
``aux_loss`` (a scalar set on every forward, 0 if none) and ``stats`` (diagnostics of the
last forward).

>>> from hvrmet.nowcast.models import build_model
>>> model = build_model("pa_net")            # default, small configuration
>>> same = build_model("pa_net", **model.config)
"""

from __future__ import annotations

import torch

from hvrmet.nowcast.models.common import DBZ_SCALE, NowcastModel, count_parameters, state_dict_nbytes
from hvrmet.nowcast.models.impa_net import IMPANet
from hvrmet.nowcast.models.metok import MeTok
from hvrmet.nowcast.models.pa_net import PANet

__all__ = ["MODELS", "build_model", "PANet", "MeTok", "IMPANet", "NowcastModel", "DBZ_SCALE",
           "count_parameters", "state_dict_nbytes"]

#: Registry name -> model class.
MODELS: dict[str, type[NowcastModel]] = {"pa_net": PANet, "metok": MeTok, "impa_net": IMPANet}


def build_model(name: str, **config) -> torch.nn.Module:
    """A new (untrained) model by name, with ``config`` overriding its defaults.

    Raises
    ------
    ValueError
        If ``name`` is unknown (the message lists the known ones).
    """
    if name not in MODELS:
        raise ValueError(f"unknown nowcasting model {name!r}; known models: {', '.join(MODELS)}")
    return MODELS[name](**config)
