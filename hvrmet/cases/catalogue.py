"""The case catalogue: the packaged cases, user case files, and loading their data.

A case is named by its catalogue id (``may1999``) or by the path of a YAML file of the
same form anywhere on disk. A user's case file names its files relative to a data folder:
``--data-dir`` on the command line, ``data_dir:`` in the file (relative to the file), or
``HVRMET_DATA_DIR``, in that order.
"""

from __future__ import annotations

import functools
import re
from importlib import resources
from pathlib import Path

import xarray as xr
import yaml
from pydantic import ValidationError

from hvrmet._resources import load_yaml
from hvrmet.cases.model import Case, CaseFile, Event, Location
from hvrmet.data.readers import get_reader
from hvrmet.data.registry import default_registry, resolve
from hvrmet.errors import CaseError, DataFileMissing, VariableMissing

__all__ = ["list_cases", "get_case", "case_files", "load_role", "load_case", "parse_case", "reader_options",
           "read_files"]


def parse_case(text: str, source: str) -> Case:
    """Validate a case's YAML text; ``source`` names it in error messages.

    The errors say what is wrong (the field, the line) and never quote the file's text:
    a path typed in the web page may name any file, and its lines must not come back."""
    try:
        raw = load_yaml(text)
    except yaml.YAMLError as exc:
        raise CaseError(source, f"not valid YAML{_yaml_where(exc)}") from None
    if not isinstance(raw, dict):
        raise CaseError(source, "a case file must be a YAML mapping")
    try:
        return Case.model_validate({**raw, "source_path": source})
    except ValidationError as exc:
        raise CaseError(source, f"invalid case: {_validation_errors(exc, text)}") from None


_QUOTED = re.compile(r"'([^']*)'|\"([^\"]*)\"")
#: The models at each place of a case file (list indexes left out), for the fields allowed there.
_MODELS_AT = {(): Case, ("location",): Location, ("files",): CaseFile, ("events",): Event}


def _yaml_where(exc: yaml.YAMLError) -> str:
    """Where a YAML error is and what kind it is, without the file's text (no snippet,
    and a quoted text longer than an escape is left out)."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    problem = getattr(exc, "problem", None)
    if not problem:
        return where

    def token(m: re.Match) -> str:  # a character, an escape or a token name ('<scalar>') stays
        inner = m[1] if m[1] is not None else m[2]
        return m[0] if len(inner) <= 2 or re.fullmatch(r"<[a-z ]+>", inner) else "'...'"

    problem = _QUOTED.sub(token, str(problem))
    return f"{where}: {problem}"


def _line_of(node: yaml.Node | None, loc: tuple) -> int | None:
    """The line (1-based) of the YAML node at ``loc``, as deep as the file has it (a
    mapping entry's line is its key's)."""
    line = None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            pair = next(((k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == str(part)),
                        None)
            if pair is None:
                break
            line, node = pair[0].start_mark.line + 1, pair[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


def _validation_errors(exc: ValidationError, text: str) -> str:
    """A case's validation errors as ``field (line N): what is wrong``, without the input
    values, and unknown fields counted with their lines (their names are the file's text)."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        root = None
    known = {name for m in _MODELS_AT.values() for name in m.model_fields}

    def where(loc: tuple) -> str:
        return ".".join(str(x) if isinstance(x, int) or x in known else "?" for x in loc)

    out, unknown = [], {}
    for e in exc.errors(include_url=False, include_input=False, include_context=False):
        loc = tuple(e["loc"])
        line = _line_of(root, loc)
        if e["type"] == "extra_forbidden":
            unknown.setdefault(loc[:-1], []).append(line)
            continue
        out.append(f"{where(loc) or 'the case'}{f' (line {line})' if line else ''}: "
                   f"{e['msg'].removeprefix('Value error, ')}")
    for parent, lines in unknown.items():
        nums = sorted({n for n in lines if n})
        at = (f" at line{'s' if len(nums) > 1 else ''} {', '.join(map(str, nums[:10]))}{', ...' if len(nums) > 10 else ''}"
              if nums else "")
        model = _MODELS_AT.get(tuple(x for x in parent if not isinstance(x, int)))
        allowed = f" (allowed: {', '.join(f for f in model.model_fields if f != 'source_path')})" if model else ""
        out.append(f"{where(parent) or 'the case'}: {len(lines)} unknown field{'s' if len(lines) > 1 else ''}{at}{allowed}")
    return "; ".join(out)


@functools.cache
def _catalogue() -> dict[str, Case]:
    out = {}
    for entry in sorted(resources.files("hvrmet.cases").joinpath("catalogue").iterdir(),
                        key=lambda e: e.name):
        if entry.name.endswith(".yaml"):
            case = parse_case(entry.read_text(), f"hvrmet/cases/catalogue/{entry.name}")
            case.source_path = None
            out[case.id] = case
    return out


def list_cases() -> list[Case]:
    """The packaged cases, sorted by id."""
    return [c for _, c in sorted(_catalogue().items())]


def get_case(id_or_path: str | Path, data_dir: str | Path | None = None) -> Case:
    """A packaged case by id, or a user's case from a YAML file.

    Parameters
    ----------
    id_or_path
        A catalogue id or the path of a case YAML file.
    data_dir
        The data folder for the case's relative paths (overrides the file's own).
    """
    key = str(id_or_path)
    cat = _catalogue()
    if key in cat and not Path(key).is_file():
        case = cat[key].model_copy()
    else:
        p = Path(key)
        if not (p.suffix in (".yaml", ".yml") or p.is_file()):
            raise CaseError(None, f"unknown case {key!r}; known cases: {', '.join(sorted(cat))} "
                                  "(or give the path of a case YAML file)")
        if not p.is_file():
            raise CaseError(p, "case file not found")
        try:
            text = p.read_text()
        except UnicodeDecodeError:
            raise CaseError(p, "not a case file (not UTF-8 text)") from None
        case = parse_case(text, str(p.resolve()))
    if data_dir is not None:
        case = case.model_copy(update={"data_dir": str(Path(data_dir).resolve())})
    return case


def case_files(case: Case, role: str) -> list[tuple[Path, str]]:
    """The local paths and sha256 of the file(s) of ``role``, fetched and verified."""
    try:
        entry = case.file(role)
    except KeyError as exc:
        raise VariableMissing(case.source_path or case.id, str(exc.args[0])) from None
    ddir = case.resolved_data_dir()
    if entry.path is not None:
        return [resolve(entry.path, ddir)]
    return [resolve(k, ddir) for k in _expand(entry, ddir, case)]


def _expand(entry: CaseFile, ddir: Path | None, case: Case) -> list[str]:
    pattern = entry.glob or ""
    if ddir is not None:
        keys = sorted(str(p.relative_to(ddir)) for p in ddir.glob(pattern) if p.is_file())
    else:
        keys = default_registry().glob(pattern)
    if not keys:
        raise DataFileMissing(pattern, f"no file matches the {entry.role} pattern of case {case.id}")
    return keys


def load_role(case: Case, role: str) -> xr.Dataset:
    """Decode the data of one role into an :class:`xarray.Dataset`."""
    entry = case.file(role) if role in case.roles else None
    if entry is None:
        raise VariableMissing(case.source_path or case.id,
                              f"case {case.id!r} has no file of role {role!r}; "
                              f"its roles: {', '.join(case.roles)}")
    return read_files(entry.format, case_files(case, role), reader_options(case, entry.format, entry.options))


def reader_options(case: Case, fmt: str, options: dict) -> dict:
    """A file's reader options, with the case's radar site for Level II volumes that
    carry none (message-1 files)."""
    opts = dict(options)
    if fmt == "nexrad_level2" and "site" not in opts and case.location.radar_site:
        opts["site"] = case.location.radar_site
    return opts


def read_files(fmt: str, files: list[tuple[Path, str]], options: dict) -> xr.Dataset:
    """Decode ``(path, sha256)`` files with the reader of ``fmt`` (a sequence for
    composites, exactly one file otherwise)."""
    reader = get_reader(fmt)
    if fmt == "composite":
        return reader([p for p, _ in files], sha256=[s for _, s in files], **options)
    (path, sha), = files
    return reader(path, sha256=sha, **options)


def load_case(case: Case) -> dict[str, xr.Dataset]:
    """Decode every file of a case; returns datasets by role."""
    return {role: load_role(case, role) for role in case.roles}
