"""Units: bounded parsing of unit and quantity strings, and formatting for people.

Unit strings come from people (the command line's ``--arg resolution='3 km'``, the chat's
``/check``, the web page) and from a model's tool calls. pint evaluates such a string as an
expression, so ``'9**9**9 km'`` would hang it. Every string is therefore checked here
first, against a small grammar, before pint sees it:

* at most :data:`MAX_LENGTH` characters;
* one optional signed decimal number first (``3``, ``-1.5``, ``.5``, ``1.5e3``; an exponent
  of at most 3 digits, and the number must be finite);
* then unit names, joined by ``*``, ``/`` or spaces (``m/s``, ``J kg-1``, ``kg/(m^2 s)``);
* a unit name may carry an integer power of at most 2 digits, after ``**`` or ``^`` or
  written straight after it (``m**2``, ``m^2``, ``m2``, ``s-1``, ``s**-1``);
* parentheses one level deep at most; at most :data:`MAX_FACTORS` unit names; no other
  character or operator;
* every unit name must be known to the project's pint registry (``metpy.units.units``;
  ``%`` is ``percent``), and ``dimensionless`` means no units.

A string outside it raises :class:`~hvrmet.errors.UnitsError` (a ``ValueError``) whose
message names the argument, at once. A string inside it is then read by pint, so it means
what pint says it means.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache
from typing import Any

from hvrmet.errors import UnitsError

__all__ = ["MAX_LENGTH", "MAX_FACTORS", "parse_units", "parse_quantity", "format_units", "UnitsError"]

MAX_LENGTH = 64
MAX_FACTORS = 8
_MAX_POWER_DIGITS = 2
_MAX_EXPONENT_DIGITS = 3
_HINT = "write a number and units such as '3 km', '500 hPa', 'm/s', 'J kg-1' or 'm**2/s**2'"

_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE]([+-]?\d+))?")
_NAME = re.compile(r"(?:[^\W\d]|°)+|%")
_SPACE = re.compile(r"[ \t]+")
_POWER = re.compile(r"(?:\*\*|\^)[ \t]*([+-]?\d+)")
_ATTACHED_POWER = re.compile(r"[+-]?\d+")


def _registry():
    from metpy.units import units

    return units


@lru_cache(maxsize=4096)
def _known(unit_name: str) -> bool:
    if unit_name == "dimensionless":
        return True
    try:
        return bool(_registry().parse_unit_name(unit_name))
    except Exception:  # noqa: BLE001 - anything pint cannot name is unknown
        return False


def _check(text: Any, name: str, *, number: bool) -> str:
    """Validate ``text`` against the grammar; return it stripped, or raise UnitsError."""
    if not isinstance(text, str):
        raise UnitsError(name, text, f"expected text, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise UnitsError(name, text, f"longer than {MAX_LENGTH} characters")
    s = text.strip()
    if not s:
        raise UnitsError(name, text, "empty; " + _HINT)

    def bad(problem: str) -> UnitsError:
        return UnitsError(name, text, f"{problem} ({_HINT})")

    i, n = 0, len(s)
    last = "start"  # the kind of the previous token: start, number, name, power, op, (, )
    m = _NUMBER.match(s)
    if m:
        exp = m.group(1)
        if exp is not None and len(exp.lstrip("+-")) > _MAX_EXPONENT_DIGITS:
            raise bad(f"the number's exponent has more than {_MAX_EXPONENT_DIGITS} digits")
        if not math.isfinite(float(m.group(0))):
            raise bad("the number is not finite")
        if not number and float(m.group(0)) != 1.0:
            raise bad("units only are expected here, without a number")
        i, last = m.end(), "number"
    depth, factors = 0, 0
    while i < n:
        c = s[i]
        sp = _SPACE.match(s, i)
        if sp:
            i = sp.end()
            continue
        nm = _NAME.match(s, i)
        if nm:
            unit = nm.group(0)
            if not _known(unit):
                raise bad(f"{unit!r} is not a known unit")
            factors += 1
            if factors > MAX_FACTORS:
                raise bad(f"more than {MAX_FACTORS} unit names")
            i, last = nm.end(), "name"
            pw = _ATTACHED_POWER.match(s, i)
            if pw:  # udunits style: m2, s-1
                if len(pw.group(0).lstrip("+-")) > _MAX_POWER_DIGITS:
                    raise bad(f"a power of more than {_MAX_POWER_DIGITS} digits")
                i, last = pw.end(), "power"
            continue
        if s.startswith(("**", "^"), i):
            if last not in ("name", ")"):
                raise bad("a power ('**' or '^') may follow only a unit name or ')'")
            pw = _POWER.match(s, i)
            if not pw:
                raise bad("a power must be an integer")
            if len(pw.group(1).lstrip("+-")) > _MAX_POWER_DIGITS:
                raise bad(f"a power of more than {_MAX_POWER_DIGITS} digits")
            i, last = pw.end(), "power"
            continue
        if c in "*/":
            if last in ("start", "op", "("):
                raise bad(f"{c!r} must come between units")
            i, last = i + 1, "op"
            continue
        if c == "(":
            if depth >= 1:
                raise bad("parentheses nested more than one level")
            depth, i, last = depth + 1, i + 1, "("
            continue
        if c == ")":
            if depth == 0 or last in ("start", "op", "("):
                raise bad("unbalanced or empty parentheses")
            depth, i, last = depth - 1, i + 1, ")"
            continue
        if c.isdigit() or c in "+-":
            raise bad("a number may come only first (powers go after a unit name)")
        raise bad(f"character {c!r} is not allowed")
    if last == "op":
        raise bad("no units after the operator")
    if depth:
        raise bad("unbalanced parentheses")
    return s


@lru_cache(maxsize=512)
def _pint_units(s: str):
    reg = _registry()
    if s == "dimensionless":
        return reg.dimensionless
    return reg.parse_units(s)


@lru_cache(maxsize=512)
def _pint_quantity(s: str) -> tuple[Any, Any]:
    q = _registry().Quantity(s)
    return q.magnitude, q.units


def parse_units(text: str, *, name: str):
    """The pint units of ``text`` (``''``, ``'1'`` and ``'dimensionless'`` are dimensionless).

    Raises :class:`~hvrmet.errors.UnitsError`, naming ``name``, for text outside the
    grammar of the module docstring or that pint cannot read.
    """
    if isinstance(text, str) and text.strip() in ("", "1"):
        return _registry().dimensionless
    s = _check(text, name, number=False)
    try:
        return _pint_units(s)
    except Exception as exc:  # noqa: BLE001 - pint's own errors, reported with the name
        raise UnitsError(name, text, f"pint cannot read it: {exc}") from None


def parse_quantity(text: str, *, name: str):
    """The pint quantity of ``text``: a number and units (``'3 km'``); a bare number is
    dimensionless, bare units have magnitude 1.

    Raises :class:`~hvrmet.errors.UnitsError`, naming ``name``, for text outside the
    grammar of the module docstring, that pint cannot read, or whose magnitude is not finite.
    """
    s = _check(text, name, number=True)
    try:
        mag, unit = _pint_quantity(s)
    except Exception as exc:  # noqa: BLE001 - pint's own errors, reported with the name
        raise UnitsError(name, text, f"pint cannot read it: {exc}") from None
    if not math.isfinite(float(mag)):
        raise UnitsError(name, text, "the number is not finite")
    return _registry().Quantity(mag, unit)


#: pint's short spellings that forecasters write otherwise: a temperature difference is
#: a kelvin, knots are kt, latitudes and longitudes are degrees north and east.
_FOR_PEOPLE = {"Δ°C": "K", "kn": "kt", "degrees_N": "°N", "degrees_E": "°E", "d": "day", "°": "°"}


def format_units(u: Any) -> str:
    """Short units for people: ``'m/s'``, ``'J/kg'``, ``'m²/s²'``, ``'K'`` for a
    temperature difference, ``'kt'``; ``''`` when dimensionless. Text that is not units
    (a label) comes back as it is."""
    if u is None:
        return ""
    if isinstance(u, str):
        return _format_units_text(u)
    return _format_pint_units(u)


@lru_cache(maxsize=1024)
def _format_units_text(u: str) -> str:
    """:func:`format_units` of text (memoised: the report formats the same few units
    thousands of times)."""
    if u.strip() in ("", "1", "dimensionless"):
        return ""
    try:
        parsed = parse_units(u, name="units")
    except ValueError:
        return u
    return _format_pint_units(parsed)


def _format_pint_units(u: Any) -> str:
    u = getattr(u, "units", u)
    if u.dimensionless and str(u) in ("dimensionless", ""):
        return ""
    text = f"{u:~P}"
    parts = []
    for token in _split_units(text):
        parts.append(_FOR_PEOPLE.get(token, token))
    return "".join(parts)


def _split_units(text: str) -> list[str]:
    """``'Δ°C/km'`` -> ``['Δ°C', '/', 'km']`` (unit names apart from their operators and powers)."""
    out, cur = [], ""
    for ch in text:
        if ch in "/·* " or ch in "⁰¹²³⁴⁵⁶⁷⁸⁹⁻":
            if cur:
                out.append(cur)
                cur = ""
            out.append(ch)
        else:
            cur += ch
    if cur:
        out.append(cur)
    return out


_NUMBER_UNITS = re.compile(r"(?P<num>(?<![\w.])[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?) "
                           r"(?P<units>[A-Za-z_°%][A-Za-z0-9_°%^*/.\-]*)")


def units_in_text(text: str) -> str:
    """Text with the units after each number written for people (``227.6 m^2/s^2`` ->
    ``227.6 m²/s²``, ``-8.85 delta_degC`` -> ``-8.85 K``, ``2.668 1`` -> ``2.668``);
    words that are not units stay as they are."""
    if not text:
        return text

    def repl(m: re.Match) -> str:
        token = m.group("units").rstrip(".,;:)")
        tail = m.group("units")[len(token):]
        try:
            parse_units(token, name="units")
        except ValueError:
            return m.group(0)
        human = format_units(token)
        return f"{m.group('num')} {human}{tail}" if human else f"{m.group('num')}{tail}"

    return _BARE_ONE.sub(r"\1", _NUMBER_UNITS.sub(repl, text))


# pint's "1" (dimensionless) after a number, before punctuation or the end
_BARE_ONE = re.compile(r"(\d) 1(?=[,;)\]]|$)")
