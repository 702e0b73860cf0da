"""The report's words for people: names of the measured numbers, conditions and statuses
in plain language, places as ``35.24°N 97.68°W``. Deterministic: the same evidence gives
the same sentences."""

from __future__ import annotations

import math
import re

__all__ = ["quantity_name", "op_words", "meaning_words", "status_words", "hazard_words", "latlon_text",
           "compass", "bearing_deg", "value_words"]

#: The measured numbers the cards judge, as a forecaster names them.
QUANTITY_NAMES = {
    "sbcape": "surface-based CAPE", "mlcape": "mixed-layer CAPE", "mucape": "most-unstable CAPE",
    "sbcin": "surface-based CIN", "mlcin": "mixed-layer CIN", "dcape": "downdraft CAPE",
    "lcl_height": "LCL height", "lifted_index": "lifted index", "showalter_index": "Showalter index",
    "total_totals": "total totals index", "k_index": "K index",
    "shear_0_1km": "0–1 km bulk shear", "shear_0_6km": "0–6 km bulk shear",
    "srh_0_1km": "0–1 km storm-relative helicity", "srh_0_3km": "0–3 km storm-relative helicity",
    "stp": "significant tornado parameter (STP)", "scp": "supercell composite parameter (SCP)",
    "ship": "significant hail parameter (SHIP)", "lapse_rate_700_500": "700–500 hPa lapse rate",
    "freezing_level": "freezing level", "wet_bulb_zero_height": "wet-bulb zero height",
    "precipitable_water": "precipitable water", "bunkers_right_speed": "Bunkers right-mover speed",
    "max_reflectivity": "maximum reflectivity", "max_composite_reflectivity": "maximum composite reflectivity",
    "area_ge_40dbz": "area of composite reflectivity ≥ 40 dBZ", "max_echo_top": "highest 18 dBZ echo top",
    "max_vil": "maximum VIL", "max_rotational_velocity": "rotational velocity of the strongest couplet",
    "mesocyclone_flag": "mesocyclone-strength couplet", "cell_count": "number of storm cells",
    "debris_signature_flag": "tornado debris signature", "height_50dbz_above_freezing":
    "height of 50 dBZ above the freezing level", "max_hail_size": "largest expected hail size",
    "max_posh": "highest probability of severe hail", "mesocyclone_count": "number of mesocyclone detections",
    "strongest_strength_rank": "strength rank of the strongest mesocyclone", "tvs_count": "number of TVS detections",
    "mean_motion_speed": "mean storm motion", "max_accumulation": "largest rainfall accumulation",
    "max_area": "largest area over the rain-rate threshold", "max_rain_rate": "highest rain rate",
    "p99_wet_rain_rate": "99th percentile of wet rain rates", "max_duration": "longest duration of heavy rain",
    "motion_speed": "speed of the rain field", "ffg_exceeded": "flash-flood guidance exceeded",
    "rainstorm_signal": "rainstorm warning signal", "short_duration_heavy_rain": "short-duration heavy rain",
    "deepening_rate": "central-pressure deepening rate", "bergerons": "deepening rate (bergerons)",
    "min_pressure": "lowest pressure", "max_fall": "largest pressure fall", "max_wind_speed": "strongest jet wind",
    "max_wind_gust": "strongest gust", "max_anomaly": "largest height anomaly",
    "max_frontogenesis": "strongest frontogenesis", "max_warm_advection": "strongest warm advection",
    "max_relative_vorticity": "largest relative vorticity", "distance_inland": "distance inland",
    "tropical_cyclone_exposure": "exposure to tropical cyclones", "tropical_cyclone_season": "tropical cyclone season",
    "max_prob_34kt": "highest probability of 34 kt winds", "max_prob_50kt": "highest probability of 50 kt winds",
    "max_prob_64kt": "highest probability of 64 kt winds", "point_prob_34kt": "probability of 34 kt winds at the place",
    "point_prob_50kt": "probability of 50 kt winds at the place",
    "point_prob_64kt": "probability of 64 kt winds at the place",
    "area_over_threshold_at_lead": "nowcast area over the threshold",
}

_OPS = {">=": "at least", ">": "above", "<=": "at most", "<": "below", "==": "equal to", "!=": "not equal to"}
_NOT_OPS = {">=": "below", ">": "not above", "<=": "above", "<": "not below", "==": "not equal to",
            "!=": "equal to"}
_MEANINGS = {"supports": "supports", "weakly_supports": "weakly supports", "refutes": "refutes"}
_STATUS = {"supported": "Supported", "refuted": "Refuted", "inconclusive": "Left open", "not_assessed": "Not assessed",
           "proposed": "Still open", "rejected": "Rejected"}


def quantity_name(field: str) -> str:
    """A measured number's name for people (``srh_0_1km`` -> ``0–1 km storm-relative
    helicity``); a name not in the table is spelled out from the field."""
    if field in QUANTITY_NAMES:
        return QUANTITY_NAMES[field]
    text = re.sub(r"(\d+)_(\d+)(km|m|hpa)\b", r"\1–\2 \3", field)
    return text.replace("_", " ")


def op_words(op: str, met: bool | None = True) -> str:
    """``>=`` as ``at least`` (``below`` when the condition is not met)."""
    table = _OPS if met or met is None else _NOT_OPS
    return table.get(op, op)


def meaning_words(meaning: str) -> str:
    return _MEANINGS.get(meaning, meaning.replace("_", " "))


def status_words(status: str) -> str:
    return _STATUS.get(status, status.replace("_", " ").capitalize())


def hazard_words(hazard: str) -> str:
    """``tornadic_supercell`` -> ``tornadic supercell``."""
    return hazard.replace("_", " ")


def value_words(value: str) -> str:
    """A printed value for people: ``True``/``False`` as ``yes``/``no``."""
    return {"True": "yes", "False": "no"}.get(value, value)


def latlon_text(lat: float, lon: float) -> str:
    """``35.24°N 97.68°W``."""
    return f"{abs(lat):.2f}°{'N' if lat >= 0 else 'S'} {abs(lon):.2f}°{'E' if lon >= 0 else 'W'}"


_POINTS = ("N", "NNE", "NE", "ENE", "E", "ESE", "SE", "SSE", "S", "SSW", "SW", "WSW", "W", "WNW", "NW", "NNW")


def compass(bearing: float) -> str:
    """A bearing (degree from north) as a 16-point compass direction."""
    return _POINTS[int(((bearing % 360.0) + 11.25) // 22.5) % 16]


def bearing_deg(lat0: float, lon0: float, lat: float, lon: float) -> float:
    """The initial great-circle bearing from ``(lat0, lon0)`` to ``(lat, lon)``, degree."""
    p0, p1 = math.radians(lat0), math.radians(lat)
    dl = math.radians(lon - lon0)
    x = math.sin(dl) * math.cos(p1)
    y = math.cos(p0) * math.sin(p1) - math.sin(p0) * math.cos(p1) * math.cos(dl)
    return math.degrees(math.atan2(x, y)) % 360.0
