"""Real cases: the catalogue and user case files (see :mod:`hvrmet.cases.catalogue`)."""

from hvrmet.cases.catalogue import case_files, get_case, list_cases, load_case, load_role, parse_case
from hvrmet.cases.model import ROLES, Case, CaseFile, Event, Location

__all__ = ["Case", "CaseFile", "Event", "Location", "ROLES", "case_files", "get_case",
           "list_cases", "load_case", "load_role", "parse_case"]
