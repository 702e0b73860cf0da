"""The diagnosis report: one model built from the final state, rendered three ways.

* :mod:`.model` - :func:`build_report` (state -> :class:`Report`) and the value formatting;
* :mod:`.markdown`, :mod:`.html` - ``report.md`` and the self-contained ``report.html``;
* :mod:`.tables` - the hypotheses and evidence as rows of strings (the chat's tables);
* :mod:`.node` - the graph node :func:`report` that writes the files.
"""

from __future__ import annotations

from hvrmet.agents.report.html import render_html
from hvrmet.agents.report.markdown import render_markdown
from hvrmet.agents.report.model import (Report, build_report, evidence_entries, format_value, hypothesis_entries,
                                        key_values, outcome_of)
from hvrmet.agents.report.node import FIGURES_BY_ROLE, report
from hvrmet.agents.report.tables import Rows, evidence_rows, hypothesis_rows, report_tables

__all__ = ["report", "FIGURES_BY_ROLE", "Report", "build_report", "hypothesis_entries", "evidence_entries",
           "outcome_of", "render_markdown", "render_html", "Rows", "hypothesis_rows", "evidence_rows",
           "report_tables", "format_value", "key_values"]
