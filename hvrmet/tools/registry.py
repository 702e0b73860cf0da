"""The one tool registry that the agents, the chat, the CLI and the benchmark all use.

A tool is declared once, with :func:`tool`::

    @tool(category="sounding", outputs={"sbcape": "J/kg", "sbcin": "J/kg"},
          example={}, needs=("sounding",))
    def compute_sbcape(args: SoundingInput, ctx: ToolContext) -> ToolOutput:
        '''Surface-based CAPE and CIN of the sounding. ...'''

The declaration is checked when it is made, not when the tool is first called: the name
must be ``verb_noun`` and a valid OpenAI function name, the function needs a docstring,
its input model must document every field, every numeric field must state its units, the
declared outputs must have units, and the example must be valid arguments for any case
with the data the tool needs (so it names no case). A bad declaration raises
:class:`ToolDefinitionError`.

:func:`call_tool` validates the arguments, runs the tool and returns a
:class:`~hvrmet.tools.results.ToolResult`; a failure of any kind comes back as a result
with ``ok=False`` and the error message, never as an exception.
"""

from __future__ import annotations

import inspect
import logging
import re
import time
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from hvrmet.units import units_in_text
from hvrmet.errors import HvrmetError
from hvrmet.tools.inputs import CaseInput, field_units
from hvrmet.tools.results import ToolOutput, ToolResult, Value

__all__ = ["Tool", "ToolDefinitionError", "tool", "get_tool", "find_tool", "list_tools", "call_tool",
           "REGISTRY", "CATEGORIES"]

log = logging.getLogger(__name__)

_NAME = re.compile(r"^[a-z]+(_[a-z0-9]+)+$")
CATEGORIES = ("sounding", "gridded", "radar", "level3", "precipitation", "surface", "plot",
              "nowcast", "knowledge", "context")


class ToolDefinitionError(TypeError):
    """A tool declaration is incomplete or malformed."""


@dataclass(frozen=True)
class Tool:
    """A registered tool."""

    name: str
    func: Callable[[Any, Any], ToolOutput]
    input_model: type[CaseInput]
    outputs: dict[str, str]
    category: str
    description: str
    example: dict[str, Any]
    needs: tuple[str, ...] = field(default=())
    #: output name -> the quantity it measures, where another tool's output measures the
    #: same one (see :func:`tool`)
    quantities: dict[str, str] = field(default_factory=dict)

    @property
    def summary(self) -> str:
        """The first paragraph of the docstring."""
        return self.description.strip().split("\n\n")[0].replace("\n", " ")

    def json_schema(self) -> dict[str, Any]:
        """The input model's JSON schema, with each field's units in its description."""
        return self.input_model.model_json_schema()


REGISTRY: dict[str, Tool] = {}


def _is_numeric(annotation: Any) -> bool:
    if annotation in (int, float):
        return True
    args = typing.get_args(annotation)
    return bool(args) and any(a in (int, float) for a in args) and \
        all(a in (int, float, type(None)) for a in args)


def _check_definition(name: str, func: Callable, model: type, outputs: dict[str, str],
                      category: str) -> None:
    problems = []
    if not _NAME.match(name) or len(name) > 64:
        problems.append(f"name {name!r} is not verb_noun (lower case, underscores, <= 64 chars)")
    if name in REGISTRY:
        problems.append(f"name {name!r} is already registered")
    if category not in CATEGORIES:
        problems.append(f"category {category!r} is not one of {CATEGORIES}")
    doc = inspect.getdoc(func)
    if not doc or len(doc.split()) < 5:
        problems.append("the function has no docstring (or a one-word one)")
    if not (isinstance(model, type) and issubclass(model, CaseInput)):
        problems.append("the input model must subclass hvrmet.tools.inputs.CaseInput")
    else:
        for fname, finfo in model.model_fields.items():
            if not finfo.description:
                problems.append(f"input field {fname!r} has no description")
            if _is_numeric(finfo.annotation) and field_units(model, fname) is None:
                problems.append(f"numeric input field {fname!r} states no units")
    if not outputs:
        problems.append("no outputs declared")
    for out, units in outputs.items():
        if not isinstance(units, str):
            problems.append(f"output {out!r} has no units string (use '1' for dimensionless, "
                            "'' for text)")
    if problems:
        raise ToolDefinitionError(f"tool {name}: " + "; ".join(problems))


def _check_quantities(name: str, outputs: dict[str, str], quantities: dict[str, str]) -> None:
    """Each declared quantity names an output, and keeps one unit across tools."""
    for out, qty in quantities.items():
        if out not in outputs:
            raise ToolDefinitionError(f"tool {name}: quantities names {out!r}, which is not among its outputs "
                                      f"({', '.join(sorted(outputs))})")
        if not re.fullmatch(r"[a-z][a-z0-9_]*", qty or ""):
            raise ToolDefinitionError(f"tool {name}: quantity {qty!r} of {out!r} must be a snake_case name")
        for other in REGISTRY.values():
            for o_out, o_qty in other.quantities.items():
                if other.name != name and o_qty == qty and other.outputs[o_out] != outputs[out]:
                    raise ToolDefinitionError(
                        f"tool {name}: quantity {qty!r} of {out!r} is in {outputs[out]!r}, but {other.name}."
                        f"{o_out} measures it in {other.outputs[o_out]!r}")


def tool(*, category: str, outputs: dict[str, str], example: dict[str, Any],
         name: str | None = None, needs: tuple[str, ...] = (),
         quantities: dict[str, str] | None = None) -> Callable:
    """Declare and register a tool (see the module docstring).

    Parameters
    ----------
    category
        One of :data:`CATEGORIES`.
    outputs
        Every value the tool returns, by name, with its units (pint syntax; ``"1"`` for a
        dimensionless number, ``""`` for text or a flag).
    example
        The tool's own arguments of an example run, without ``case``: they fit any case
        with the data in ``needs`` (the test suite runs each on a real case of its own
        choosing); shown by ``hvrmet tools schema``.
    needs
        Case roles the tool reads (any one of them suffices), for documentation and for
        the agents' planning.
    quantities
        Outputs that measure a quantity another tool's output also measures, by name: the
        column-maximum composite's largest value and the volume's strongest gate are one
        ``volume_max_reflectivity``. Two such outputs of calls on the same files, in the
        same window, with the same value, are one measured number to the evidence
        accounting (:func:`hvrmet.agents.accounting.quantity_key`), counted once.
        Each must name a declared output; one quantity keeps one unit across tools.
    """

    def register(func: Callable) -> Callable:
        tool_name = name or func.__name__
        try:
            hints = typing.get_type_hints(func)
        except NameError:  # annotations naming local classes under postponed evaluation
            hints = {k: p.annotation for k, p in inspect.signature(func).parameters.items()}
        model = hints.get("args")
        if isinstance(model, str):
            raise ToolDefinitionError(f"tool {tool_name}: cannot resolve the input model {model!r}")
        _check_definition(tool_name, func, model, outputs, category)
        _check_quantities(tool_name, outputs, quantities or {})
        if "case" in example:
            raise ToolDefinitionError(f"tool {tool_name}: the example names a case ({example['case']!r}); give only "
                                      "the tool's own arguments, which must fit any case with its data")
        try:
            model.model_validate({"case": "any-case", **example})
        except ValidationError as exc:
            raise ToolDefinitionError(f"tool {tool_name}: example arguments invalid: {exc}") from None
        REGISTRY[tool_name] = Tool(name=tool_name, func=func, input_model=model, outputs=dict(outputs),
                                   category=category, description=inspect.getdoc(func) or "",
                                   example=dict(example), needs=tuple(needs),
                                   quantities=dict(quantities or {}))
        return func

    return register


def _load_all() -> None:
    from hvrmet.tools import _builtin_modules  # noqa: F401  (registers the built-in tools)


def list_tools(category: str | None = None) -> list[Tool]:
    """All registered tools (of one category), sorted by name."""
    _load_all()
    return sorted((t for t in REGISTRY.values() if category in (None, t.category)), key=lambda t: t.name)


def find_tool(name: str) -> Tool | None:
    """A tool by name, or ``None`` when no tool of that name is registered."""
    _load_all()
    return REGISTRY.get(name)


def get_tool(name: str) -> Tool:
    """A tool by name; an unknown name raises ``KeyError`` listing the known ones."""
    _load_all()
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown tool {name!r}; known tools: {', '.join(sorted(REGISTRY))}") from None


def call_tool(name: str, arguments: dict[str, Any], *, out_dir: str | None = None) -> ToolResult:
    """Validate ``arguments``, run the tool and return its result; never raises.

    Errors (an unknown tool, invalid arguments, a case or role that does not exist, bad
    data, a failure inside the computation) come back as ``ok=False`` with the message.
    """
    from hvrmet.tools.context import ToolContext

    t0 = time.perf_counter()
    args_copy = dict(arguments or {})

    def fail(exc_type: str, message: str, ctx: ToolContext | None = None) -> ToolResult:
        log.info("tool %s failed: %s: %s", name, exc_type, message)
        return ToolResult(tool=name, arguments=args_copy, ok=False, error=message, error_type=exc_type,
                          files=ctx.files_read if ctx else [], seconds=time.perf_counter() - t0)

    try:
        t = get_tool(name)
    except KeyError as exc:
        return fail("UnknownTool", str(exc.args[0]))
    try:
        args = t.input_model.model_validate(args_copy)
    except ValidationError as exc:
        msg = "; ".join(f"{'.'.join(str(x) for x in e['loc']) or 'arguments'}: {e['msg']}"
                        for e in exc.errors())
        return fail("InvalidArguments", f"invalid arguments for {name}: {msg}")
    ctx = None
    try:
        ctx = ToolContext(args.case, args.data_dir, args.files, out_dir=out_dir)
        out = t.func(args, ctx)
    except HvrmetError as exc:
        return fail(type(exc).__name__, str(exc), ctx)
    except Exception as exc:  # noqa: BLE001 - reported to the caller as data, with its type
        log.debug("tool %s raised", name, exc_info=True)
        return fail(type(exc).__name__, f"{name} failed: {type(exc).__name__}: {exc}", ctx)
    missing = [k for k in t.outputs if k not in out.values]
    extra = [k for k in out.values if k not in t.outputs]
    if missing or extra:
        return fail("OutputMismatch", f"{name} returned outputs {sorted(out.values)}; declared "
                                      f"{sorted(t.outputs)} (missing {missing}, undeclared {extra})", ctx)
    values = {}
    for k, v in out.values.items():
        declared = t.outputs[k]
        values[k] = v if v.units or not declared else Value(value=v.value, units=declared, note=v.note)
    return ToolResult(tool=name, arguments=args.model_dump(exclude_defaults=False), ok=True,
                      values=values, summary=units_in_text(out.summary), files=_dedupe(ctx.files_read),
                      figures=out.figures, warnings=out.warnings, table=out.table,
                      seconds=time.perf_counter() - t0, cache_hits=ctx.cache_hits)


def _dedupe(files):
    seen, out = set(), []
    for f in files:
        key = (f.path, f.sha256)
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out
