"""The tool registry: typed diagnostic, radar, precipitation, surface and plotting tools.

Use :func:`list_tools`, :func:`get_tool` and :func:`call_tool`; declare new tools with
:func:`tool` (see :mod:`hvrmet.tools.registry`).
"""

from hvrmet.tools.registry import REGISTRY, Tool, ToolDefinitionError, call_tool, find_tool, get_tool, list_tools, tool
from hvrmet.tools.results import FigureRef, FileRef, ToolOutput, ToolResult, Value

__all__ = ["REGISTRY", "Tool", "ToolDefinitionError", "call_tool", "find_tool", "get_tool", "list_tools", "tool",
           "FigureRef", "FileRef", "ToolOutput", "ToolResult", "Value"]
