"""The customer report as one self-contained HTML page (private).

One file: the figures are embedded as base64 PNG ``data:`` URIs, the style
sheet is inline, there is no script and nothing is fetched from the network.
It reads on a laptop screen (tables scroll sideways when too wide) and prints
(a print style sheet keeps tables and figures from splitting across pages).
"""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from custrel.report import CustomerReport, ReportTable

__all__: list[str] = []

_CSS = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
  color: #1d2630; background: #fff; margin: 0; }
main { max-width: 1240px; margin: 0 auto; padding: 24px 28px 48px; }
h1 { font-size: 1.6em; margin: 0 0 4px; }
h2 { font-size: 1.15em; margin: 28px 0 8px; border-bottom: 1px solid #d5dbe1; padding-bottom: 3px; }
p.meta { color: #56636f; margin: 0 0 18px; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(460px, 1fr));
  gap: 4px 32px; align-items: start; }
section { break-inside: avoid; page-break-inside: avoid; min-width: 0; }
section.wide { grid-column: 1 / -1; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; font-size: 0.92em; }
th, td { padding: 3px 10px; border-bottom: 1px solid #e6eaee; text-align: left;
  white-space: nowrap; }
th { background: #f2f5f8; font-weight: 600; }
td.num, th.num { text-align: right; }
p.failed { background: #fff4e5; border-left: 4px solid #e08a00; padding: 8px 12px; margin: 4px 0; }
figure { margin: 8px 0 16px; break-inside: avoid; page-break-inside: avoid; }
figure img { max-width: 100%; height: auto; border: 1px solid #e6eaee; }
figcaption { color: #56636f; font-size: 0.9em; }
ul.notes { padding-left: 20px; }
ul.notes li { margin: 3px 0; }
@media print {
  body { font-size: 10.5pt; }
  main { max-width: none; padding: 0; }
  .grid { display: block; }
  .scroll { overflow: visible; }
  h2 { break-after: avoid; page-break-after: avoid; }
  th { background: #eee !important; -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  a { color: inherit; text-decoration: none; }
}
@page { margin: 14mm; }
"""

_FIGURE_CAPTIONS = {
    "pyramid.png": "Customer pyramid: customers and value per tier",
    "concentration.png": "Concentration of value (Lorenz or whale curve)",
    "rfm_heatmap.png": "RFM: customers per recency and frequency score",
    "value_curve.png": "The most valuable customer's value per period and lifecycle stage",
    "survival.png": "Survival by acquisition cohort (Kaplan-Meier)",
    "stage_mix.png": "Lifecycle stage mix",
}


def _e(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _table(t: ReportTable, *, cell: Any) -> str:
    wide = ' class="wide"' if len(t.columns) > 4 else ""
    parts = [f"<section{wide}><h2>{_e(t.title)}</h2>"]
    if t.message:
        parts.append(f'<p class="failed"><strong>Not computed:</strong> {_e(t.message)}</p>')
        parts.append("</section>")
        return "".join(parts)
    numeric = [
        i > 0 and any(isinstance(row[i], int | float) for row in t.rows)
        for i in range(len(t.columns))
    ]
    head = "".join(
        f'<th class="num">{_e(c)}</th>' if numeric[i] else f"<th>{_e(c)}</th>"
        for i, c in enumerate(t.columns)
    )
    body = []
    for row in t.rows:
        tds = "".join(
            f'<td class="num">{_e(cell(x))}</td>'
            if i > 0 and isinstance(x, int | float)
            else f"<td>{_e(cell(x))}</td>"
            for i, x in enumerate(row)
        )
        body.append(f"<tr>{tds}</tr>")
    parts.append(
        f'<div class="scroll"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div></section>"
    )
    return "".join(parts)


def report_html(report: CustomerReport, *, title: str, top: int) -> str:
    """Render ``report`` as one HTML document (UTF-8 text)."""
    import numpy as np

    from custrel import __version__
    from custrel.report import _fmt_cell

    def cell(x: Any) -> str:
        if isinstance(x, np.generic):
            x = x.item()
        if isinstance(x, float) and x != x:
            return "–"  # not computed (NaN)
        return _fmt_cell(x)

    tables = [_table(t, cell=cell) for t in report.tables]
    if top:
        tables.append(_table(report.top_table(top), cell=cell))
    figures = []
    for name, png in report.figures.items():
        data = base64.b64encode(png).decode("ascii")
        caption = _FIGURE_CAPTIONS.get(name, name)
        figures.append(
            f'<figure><img src="data:image/png;base64,{data}" alt="{_e(caption)}">'
            f"<figcaption>{_e(caption)}</figcaption></figure>"
        )
    notes = "".join(f"<li>{_e(n)}</li>" for n in report.notes)
    params = report.parameters
    given = params.get("input")
    source = given.get("path") if isinstance(given, Mapping) else given
    meta = [f"custrel {__version__}", f"{report.n_customers:,} customers"]
    if "observation_end" in params:
        meta.append(f"window ends {params['observation_end']}")
    if source:
        meta.append(f"input {source}")
    fig_html = f'<h2>Figures</h2><div class="grid">{"".join(figures)}</div>' if figures else ""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_CSS}</style></head>"
        f"<body><main><h1>{_e(title)}</h1>"
        f'<p class="meta">{_e(" · ".join(meta))}</p>'
        f'<div class="grid">{"".join(tables)}</div>{fig_html}'
        f'<section><h2>Notes</h2><ul class="notes">{notes}</ul></section>'
        "</main></body></html>\n"
    )
