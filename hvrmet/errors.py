"""Typed errors raised by hvrmet.

Every problem with input data (a missing, truncated, corrupted or mislabelled file, a
checksum mismatch, a variable the case lacks) is a :class:`DataError` whose message names
the file and what is wrong with it. A unit or quantity string that cannot be read (given by
a person or a model) is a :class:`UnitsError` whose message names the argument. The command
line prints such a message and exits non-zero, without a traceback.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "HvrmetError",
    "DataError",
    "DataFileMissing",
    "ChecksumMismatch",
    "FormatError",
    "VariableMissing",
    "CaseError",
    "UnitsError",
]


class HvrmetError(Exception):
    """Base class of every error hvrmet raises on purpose."""


class DataError(HvrmetError):
    """A data file cannot be used: the message names the file and the fault.

    Parameters
    ----------
    path
        The file concerned (``None`` when the fault is not tied to one file).
    problem
        What is wrong, in words a forecaster can act on.
    """

    def __init__(self, path: str | Path | None, problem: str) -> None:
        self.path = None if path is None else str(path)
        self.problem = problem
        where = f"{self.path}: " if self.path else ""
        super().__init__(f"{where}{problem}")


class DataFileMissing(DataError):
    """The file is not in the data folder, the cache, or on disk."""


class ChecksumMismatch(DataError):
    """The file's sha256 differs from the one in the data registry."""


class FormatError(DataError):
    """The file is truncated, corrupted, empty, or not of the format expected."""


class VariableMissing(DataError):
    """A variable, moment or role asked for is not in the file or the case."""


class CaseError(DataError):
    """A case id is unknown, or a case file is malformed or names a file it lacks."""


class UnitsError(HvrmetError, ValueError):
    """A unit or quantity string is not accepted: the message names the argument and the fault.

    A ``ValueError`` too, so a pydantic validator that raises it reports an invalid field.

    Parameters
    ----------
    name
        The argument the text was given for (``"resolution"``, ``"units"``).
    text
        The text as given (shortened in the message when long).
    problem
        What is wrong with it.
    """

    def __init__(self, name: str, text: object, problem: str) -> None:
        self.name = name
        self.text = text
        self.problem = problem
        shown = repr(text) if len(repr(text)) <= 48 else repr(text)[:40] + "...'"
        super().__init__(f"{name}: cannot read {shown}: {problem}")
