"""One customer report composed from the algorithm modules.

:func:`customer_report` turns a :class:`~custrel.TransactionLog` into one row
per customer (the per-customer summary, and the value, tier, segment, stage
and model columns the other modules add) plus summary tables, and states
every assumption a number depends on. It is what ``custrel demo`` and
``custrel report`` print and write: plain text for the terminal
(:meth:`CustomerReport.format`, 100 columns wide), a CSV or Parquet table with
a JSON sidecar (:meth:`CustomerReport.save`) and a self-contained HTML page
(:meth:`CustomerReport.to_html`).

A section whose model cannot be computed on the data (too short a history,
no repeat buyers, a fit that does not converge) does not vanish: its table
says "not computed" with the reason, its columns are NaN, and the rest of the
report goes on.
"""

from __future__ import annotations

import io
import os
import textwrap
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from custrel import _validate as v
from custrel.errors import CustrelError, EmptyInputError, InvalidInputError, InvalidTypeError
from custrel.models import CustomerSummary, TransactionLog

__all__ = ["COLUMN_DESCRIPTIONS", "SECTIONS", "CustomerReport", "ReportTable", "customer_report"]

Progress = Callable[[str], None]

#: Width of the terminal report in characters: no printed line is longer.
WIDTH = 100

#: What each per-customer column of the report means (the sidecar's column dictionary).
COLUMN_DESCRIPTIONS: Mapping[str, str] = {
    "customer_id": "the customer's id, as read",
    "first_purchase": "time of the customer's first purchase in the window",
    "last_purchase": "time of the customer's last purchase in the window",
    "n_purchases": "purchase occasions in the window (orders when lines are grouped); "
    "returns and cancellations are not purchases",
    "n_purchase_days": "distinct days with a purchase",
    "total_amount": "sum of the amounts in the window, net of returns (negative amounts)",
    "mean_amount": "total_amount / n_purchases",
    "historical_profit": "sum of TV - (C1+C2+C3+C4) + IB per customer "
    "(the amount when the log has no cost columns)",
    "clv_retention": "retention-based lifetime value (Dwyer's constant-retention model); "
    "NaN when not computed",
    "recency_score": "RFM recency score, 1..5 by quantiles, recent = high",
    "frequency_score": "RFM frequency score, 1..5 by quantiles",
    "monetary_score": "RFM monetary score, 1..5 by quantiles",
    "rfm_cell": "the three RFM scores as one cell label, e.g. 545",
    "rfm_score": "sum of the three RFM scores",
    "segment": "RFM segment from the default rule table",
    "tier": "customer pyramid tier: platinum top 5 %, gold next 15 %, iron next 30 %, lead rest",
    "abc_class": "ABC class: A = first 65 % of value, B next 20 %, C the rest",
    "stage": "lifecycle stage (exploration, formation, stability, decline, lapsed, too_new)",
    "stage_margin": "distance to the nearest threshold that would change the stage",
    "tenure_periods": "periods since the customer's first purchase",
    "expected_purchases_next": "BG/NBD expected repeat purchases in the next month (period); "
    "NaN when not computed",
    "p_alive": "BG/NBD probability that the customer is still active; NaN when not computed",
    "expected_spend": "Gamma-Gamma expected spend per purchase; NaN when not computed",
    "clv_bgnbd": "12 months (periods) of BG/NBD expected purchases x expected spend, "
    "discounted at 1 % per month; NaN when not computed",
}


@attrs.frozen
class ReportTable:
    """A small summary table of a report (totals, per tier, per segment, ...).

    Attributes
    ----------
    title : str
        What the table shows.
    columns : tuple of str
        Column headers.
    rows : tuple of tuple
        The rows, values already in display form (str, int or float).
    message : str
        Empty for a computed table; otherwise why the section could not be
        computed (the table then has no rows and says so in place).
    """

    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    message: str = ""

    @property
    def failed(self) -> bool:
        """True when the section behind this table could not be computed."""
        return bool(self.message)

    def format(self, width: int = WIDTH) -> str:
        """Render as aligned plain text no wider than ``width`` characters.

        Text cells too long to fit are shortened with ``…`` (the CSV keeps
        them whole); a failed section prints its reason under its title.

        Examples
        --------
        >>> t = ReportTable("Totals", ("measure", "value"), (("customers", 1200),))
        >>> print(t.format())
        Totals
        ------
        measure    value
        ---------  -----
        customers  1,200
        """
        width = v.positive_int(width, "width", minimum=20)
        title = _clip(self.title, width)
        lines = [title, "-" * len(title)]
        if self.message:
            lines += textwrap.wrap(
                f"not computed: {self.message}", width, break_long_words=True
            ) or ["not computed"]
            return "\n".join(lines)
        cells = [list(self.columns)] + [[_fmt_cell(x) for x in row] for row in self.rows]
        widths = [max(len(r[i]) for r in cells) for i in range(len(self.columns))]
        # numbers right-aligned, text left-aligned; a header follows its column's numbers
        is_num = [[isinstance(x, int | float | np.number) for x in row] for row in self.rows]
        right = [
            [i > 0 and any(r[i] for r in is_num) for i in range(len(self.columns))],
            *([i > 0 and flag for i, flag in enumerate(r)] for r in is_num),
        ]
        widths = _fit_widths(widths, width)
        for j, row in enumerate(cells):
            lines.append(
                "  ".join(
                    _clip(c, w).rjust(w) if right[j][i] else _clip(c, w).ljust(w)
                    for i, (c, w) in enumerate(zip(row, widths, strict=True))
                ).rstrip()
            )
            if j == 0:
                lines.append("  ".join("-" * w for w in widths))
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """The table as plain JSON-ready data (title, columns, rows, message)."""
        return {
            "title": self.title,
            "columns": list(self.columns),
            "rows": [[_json_value(x) for x in row] for row in self.rows],
            "message": self.message,
        }


def _flag(value: Any, name: str) -> bool:
    if not isinstance(value, bool | np.bool_):
        raise InvalidTypeError(
            f"{name} must be True or False, got {type(value).__name__} {value!r}"
        )
    return bool(value)


def _text(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise InvalidTypeError(f"{name} must be a string, got {type(value).__name__} {value!r}")
    return value


def _path(value: Any, name: str) -> str:
    if isinstance(value, bool) or not isinstance(value, str | os.PathLike):
        raise InvalidTypeError(
            f"{name} must be a file path (str or os.PathLike), got {type(value).__name__}"
        )
    p = os.fspath(value)
    if not isinstance(p, str):
        raise InvalidTypeError(f"{name} must be a text path, got bytes {p!r}")
    return p


def _fit_widths(widths: list[int], width: int) -> list[int]:
    """Shrink the widest columns (never below 6 characters) until the row fits."""
    out = list(widths)
    for _ in range(10 * len(out) + 10):  # bounded: each pass shrinks one column or stops
        total = sum(out) + 2 * (len(out) - 1)
        if total <= width:
            break
        i = max(range(len(out)), key=lambda k: out[k])
        if out[i] <= 6:
            break
        out[i] = max(6, out[i] - (total - width))
    return out


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def _fmt_cell(x: Any) -> str:
    if isinstance(x, float | np.floating):
        if not np.isfinite(x):
            return str(float(x))
        return f"{x:,.2f}"
    if isinstance(x, int | np.integer):
        return f"{int(x):,}"
    text = str(x)
    # one line per cell: a newline or tab inside an id would break the layout
    return text.replace("\r", "\\r").replace("\n", "\\n").replace("\t", "\\t")


def _json_value(x: Any) -> Any:
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and not np.isfinite(x):
        return None
    if isinstance(x, str | int | float | bool) or x is None:
        return x
    return str(x)


@attrs.frozen(eq=False)
class CustomerReport:
    """Per-customer columns, summary tables and the assumptions behind them.

    Attributes
    ----------
    columns : Mapping[str, numpy.ndarray]
        One read-only array per column, one row per customer, in display order.
    tables : tuple of ReportTable
        Summary tables (totals first); a section that could not be computed
        has a table whose ``message`` says why.
    notes : tuple of str
        The full notes: what each column means and which model and
        assumptions produced it (the sidecar and the HTML page carry them).
    short_notes : tuple of str
        One short line per topic, printed after the tables of the terminal
        report.
    figures : Mapping[str, bytes]
        The report's figures as PNG bytes, by file name (empty unless asked
        for with ``figures=True`` or ``plots_dir``).
    parameters : Mapping[str, object]
        The settings the report was computed with (observation end, sections,
        periods; the command line adds its input file and intake options).
    """

    columns: Mapping[str, npt.NDArray[Any]] = attrs.field(converter=v.freeze)
    tables: tuple[ReportTable, ...]
    notes: tuple[str, ...]
    short_notes: tuple[str, ...] = ()
    figures: Mapping[str, bytes] = attrs.field(factory=dict, converter=v.freeze)
    parameters: Mapping[str, Any] = attrs.field(factory=dict, converter=v.freeze)

    @property
    def n_customers(self) -> int:
        """Number of customer rows."""
        return len(next(iter(self.columns.values())))

    def to_frame(self, backend: str = "pandas") -> Any:
        """The per-customer columns as a dataframe of ``backend`` (needs that library).

        ``backend`` is ``"pandas"``, ``"polars"`` or ``"pyarrow"``. The frame
        owns its data: editing it never changes the report.

        Examples
        --------
        >>> from custrel import TransactionLog
        >>> log = TransactionLog.from_arrays(customer_id=[1, 2], time=[0.0, 1.0], amount=[5.0, 3.0])
        >>> customer_report(log, sections=("pyramid",)).to_frame()["tier"].tolist()
        ['platinum', 'lead']
        """
        from custrel._tabular import native_frame

        return native_frame(dict(self.columns), backend)

    def to_csv(self, path: str | os.PathLike[str] | None = None, *, neutralize: bool = True) -> str:
        """The per-customer columns as CSV text: the header on line 1, RFC 4180 quoting.

        Returns the CSV text; writes it to ``path`` too when given (use
        :meth:`save` to write the JSON sidecar with the notes as well).

        Parameters
        ----------
        path : path-like, optional
            Where to write the text (UTF-8, CRLF line ends as RFC 4180 says).
        neutralize : bool
            Guard against spreadsheet formula injection (OWASP): a text cell
            that starts with ``=``, ``+``, ``-``, ``@``, a tab, a carriage
            return or an apostrophe gets one leading apostrophe ``'``. Remove
            one leading ``'`` from text cells that start with it to get the
            original back. Numbers are written as numbers and never changed;
            an empty cell is a value that was not computed (NaN).

        Returns
        -------
        str

        Examples
        --------
        >>> from custrel import TransactionLog
        >>> log = TransactionLog.from_arrays(
        ...     customer_id=["=1+1", "b"], time=[0.0, 1.0], amount=[5.0, 3.0])
        >>> text = customer_report(log, sections=()).to_csv()
        >>> text.splitlines()[1].split(",")[0]
        "'=1+1"
        """
        from custrel._output import csv_text

        neutralize = _flag(neutralize, "neutralize")
        target = None if path is None else _path(path, "path")
        text = csv_text(self.columns, neutralize=neutralize)
        if target is not None:
            with open(target, "w", encoding="utf-8", newline="") as fh:
                fh.write(text)
        return text

    def sidecar(self) -> dict[str, Any]:
        """The notes, parameters, tables and column dictionary as JSON-ready data.

        :meth:`save` writes this next to the table as ``<file>.json``.
        """
        from custrel._output import sidecar

        return sidecar(self)

    def save(self, path: str | os.PathLike[str], *, neutralize: bool = True) -> tuple[str, str]:
        """Write the per-customer table and its JSON sidecar; returns both paths.

        ``.parquet`` files are written with pyarrow (typed columns, no
        neutralisation needed); any other name is CSV (see :meth:`to_csv`).
        The sidecar ``<path>.json`` holds the notes, the parameters, the
        summary tables, the column dictionary, the custrel version and, from
        the command line, the input file's SHA-256.

        Raises
        ------
        MissingDependencyError
            For a ``.parquet`` path when pyarrow is not installed.
        """
        from custrel._output import save

        return save(self, _path(path, "path"), neutralize=_flag(neutralize, "neutralize"))

    def to_html(self, *, title: str = "custrel customer report", top: int = 20) -> str:
        """The report as one self-contained HTML page (figures embedded, no network).

        It shows the tables, the figures (when the report has them), the
        ``top`` customers and the full notes, and prints cleanly.
        """
        from custrel._html import report_html

        title = _text(title, "title")
        top = v.positive_int(top, "top", minimum=0)
        return report_html(self, title=title, top=top)

    def top_table(self, top: int = 10, sort_by: str | None = None) -> ReportTable:
        """The ``top`` customers by ``sort_by`` (default ``total_amount``) as a table."""
        top = v.positive_int(top, "top", minimum=0)
        key = "total_amount" if sort_by is None else _text(sort_by, "sort_by")
        if key not in self.columns:
            raise InvalidInputError(f"sort_by must be one of {list(self.columns)!r}, got {key!r}")
        values = np.asarray(self.columns[key])
        if values.dtype.kind in "iufb":
            sort_key = -values.astype(float)
            sort_key[np.isnan(sort_key)] = np.inf
            order = np.argsort(sort_key, kind="stable")[:top]
        else:
            order = np.argsort(values.astype(str), kind="stable")[:top]
        shown = [c for c in _TOP_COLUMNS if c in self.columns]
        if key not in shown:
            shown.insert(1, key)
        rows = tuple(
            tuple(
                str(_display(self.columns[c][i]))
                if c == "customer_id"
                else _display(self.columns[c][i])
                for c in shown
            )
            for i in order.tolist()
        )
        headers = tuple(_SHORT_HEADERS.get(c, c) for c in shown)
        return ReportTable(f"Top {len(rows)} customers by {key}", headers, rows)

    def format(self, *, top: int = 10, sort_by: str | None = None, width: int = WIDTH) -> str:
        """Render the tables, the ``top`` customers and short notes as plain text.

        No line is wider than ``width`` characters. The customer table shows
        the key columns (ids, amounts, classes, stage and model predictions)
        plus ``sort_by``; :meth:`save` writes them all, and the full notes.
        """
        top = v.positive_int(top, "top", minimum=0)
        width = v.positive_int(width, "width", minimum=20)
        parts = [t.format(width) for t in self.tables]
        if top:
            parts.append(self.top_table(top, sort_by).format(width))
        notes = ["Notes", "-----"]
        for n in self.short_notes or self.notes:
            notes += textwrap.wrap(n, width, initial_indent="- ", subsequent_indent="  ")
        notes += textwrap.wrap(
            "full notes, column dictionary and parameters: the .json sidecar written with "
            "--out (CustomerReport.save) and the HTML report (--html)",
            width,
            initial_indent="- ",
            subsequent_indent="  ",
        )
        parts.append("\n".join(notes))
        return "\n\n".join(parts) + "\n"


#: The columns the printed top-customer table shows (the CSV has them all).
_TOP_COLUMNS = (
    "customer_id",
    "n_purchases",
    "total_amount",
    "tier",
    "abc_class",
    "segment",
    "stage",
    "p_alive",
    "expected_purchases_next",
    "clv_bgnbd",
)

#: Short headers of the printed top-customer table (the CSV keeps the full names).
_SHORT_HEADERS = {
    "customer_id": "customer",
    "n_purchases": "purchases",
    "total_amount": "amount",
    "abc_class": "abc",
    "expected_purchases_next": "exp_next",
    "clv_bgnbd": "clv",
}


def _display(x: Any) -> Any:
    if isinstance(x, np.datetime64):
        return str(x.astype("datetime64[D]"))
    if isinstance(x, np.generic):
        return x.item()
    return x


def _money(values: npt.NDArray[np.float64] | None) -> npt.NDArray[np.float64]:
    """An amount column of the summary; the report checked up front that the log has amounts."""
    if values is None:  # pragma: no cover - customer_report refuses logs without amounts
        raise InvalidInputError("the customer report needs amounts: this log has no amount column")
    return values


def _summary_columns(summary: CustomerSummary) -> dict[str, npt.NDArray[Any]]:
    return {
        "customer_id": summary.customer_id,
        "first_purchase": summary.first,
        "last_purchase": summary.last,
        "n_purchases": summary.n_purchases,
        "n_purchase_days": summary.n_periods,
        "total_amount": _money(summary.total_amount),
        "mean_amount": _money(summary.mean_amount),
    }


def _totals_table(summary: CustomerSummary, returns: int) -> ReportTable:
    totals = summary.totals()
    return ReportTable(
        "Totals",
        ("measure", "value"),
        (
            ("purchases in window", int(totals["purchases"])),
            ("returns netted (negative amounts)", returns),
            ("transactions after window (left out)", summary.n_rows_after_end),
            ("customers", int(totals["customers"])),
            (
                "customers with returns only (not in the table)",
                int(getattr(summary, "n_return_only_customers", 0)),
            ),
            ("total amount of these customers (net of returns)", totals["total_amount"]),
            ("amount per customer", totals["amount_per_customer"]),
            ("amount per purchase", totals["amount_per_purchase"]),
            (
                "customers with one purchase",
                int(np.count_nonzero(summary.n_purchases == 1)),
            ),
            (
                "time span",
                f"{_display(summary.first.min())} .. {_display(summary.observation_end)}",
            ),
        ),
    )


@attrs.frozen
class _Context:
    """What every section reads: the window's log and its per-customer summary."""

    log: TransactionLog  # rows inside the observation window only
    summary: CustomerSummary
    figures: bool


@attrs.frozen
class _Section:
    columns: dict[str, npt.NDArray[Any]]
    tables: list[ReportTable]
    notes: list[str]
    short: list[str] = attrs.field(factory=list)
    figures: list[tuple[str, Any]] = attrs.field(factory=list)
    #: the customers of ``columns``' rows when they are not the summary's (a model
    #: may leave out customers with returns only); the report aligns them by id
    customer_id: npt.NDArray[Any] | None = None


def _table_from_rows(title: str, rows: list[dict[str, Any]], keys: tuple[str, ...]) -> ReportTable:
    return ReportTable(title, keys, tuple(tuple(r[k] for k in keys) for r in rows))


_PYRAMID_TITLE = "Customer pyramid (tiers by customer count: top 5 % / 15 % / 30 % / 50 %)"


def _pyramid_section(ctx: _Context) -> _Section:
    from custrel import pyramid

    ids = ctx.summary.customer_id
    value = _customer_profit(ctx.summary)
    on_profit = ctx.summary.total_profit is not None
    basis = (
        "profit (TV - costs + indirect benefit; the log has cost columns)"
        if on_profit
        else "total_amount (revenue net of returns; the log has no cost columns for profit)"
    )
    pyr = pyramid.customer_pyramid(value, customer_id=ids)
    abc = pyramid.abc_analysis(value, customer_id=ids)
    columns = {"tier": pyr.labels(), "abc_class": abc.labels()}
    tables = [
        _table_from_rows(
            _PYRAMID_TITLE,
            pyr.rows(),
            ("tier", "count", "customer_share", "value", "value_share", "mean_value", "role"),
        ),
        _table_from_rows(
            "ABC analysis (A up to 65 % of value, B up to 85 %)",
            abc.rows(),
            ("class", "count", "customer_share", "value", "value_share", "mean_value"),
        ),
    ]
    notes = [
        (
            f"tier: customer pyramid on {basis}: platinum top 5 % of customers, gold next 15 %, "
            "iron next 30 %, lead the rest; ties never split; customers with a loss are lead"
        ),
        "abc_class: A = customers making up the first 65 % of value, B the next 20 %, C the rest",
    ]
    short = [
        (
            f"tier, abc_class: ranked on {'profit' if on_profit else 'net amount'}; "
            "tiers top 5/15/30/50 % of customers; ABC at 65/85 % of value"
        )
    ]
    figures: list[tuple[str, Any]] = []
    if ctx.figures:
        from custrel import plot

        figures.append(("pyramid.png", plot.plot_pyramid(pyr)))
        curve = (
            pyramid.lorenz_curve(value) if bool((value >= 0).all()) else pyramid.whale_curve(value)
        )
        figures.append(("concentration.png", plot.plot_lorenz(curve)))
    return _Section(columns, tables, notes, short, figures)


def _table_from_columns(
    title: str, cols: Mapping[str, npt.NDArray[Any]], keys: tuple[str, ...]
) -> ReportTable:
    lists = [cols[k].tolist() for k in keys]
    return ReportTable(title, keys, tuple(zip(*lists, strict=True)))


def _customer_profit(summary: CustomerSummary) -> npt.NDArray[np.float64]:
    """Per-customer profit in the window; without profit columns it is the amount."""
    return _money(summary.total_amount) if summary.total_profit is None else summary.total_profit


def _value_period(log: TransactionLog) -> tuple[str | float, str]:
    """The longest calendar period of which the log spans at least two and a half."""
    if log.time_kind == "numeric":
        return 1.0, "period"
    t = log.numeric_time()
    span_days = (float(t.max()) - float(t.min())) / 86400.0
    for freq, days in (("year", 365.25), ("quarter", 91.3), ("month", 30.44), ("week", 7.0)):
        if span_days >= 2.5 * days:
            return freq, freq
    return "day", "day"


def _value_section(ctx: _Context) -> _Section:
    from custrel import clv

    period, unit = _value_period(ctx.log)
    profit = _customer_profit(ctx.summary)
    columns: dict[str, npt.NDArray[Any]] = {"historical_profit": profit}
    rows: list[tuple[Any, ...]] = [("historical profit", float(profit.sum()))]
    title = "Customer value"
    try:
        value = clv.historical_value(ctx.log, freq=period, discount_rate=0.1, margin=1.0)
    except InvalidInputError as exc:
        columns["clv_retention"] = np.full(len(profit), np.nan)
        notes = [
            COLUMN_DESCRIPTIONS["historical_profit"].join(("historical_profit: ", "")),
            f"clv_retention not computed (nan): {exc}",
        ]
        tables = [
            ReportTable(title, ("measure", "value"), tuple(rows)),
            ReportTable("Retention-based lifetime value", (), (), message=str(exc)),
        ]
        return _Section(columns, tables, notes, [_first_words(notes[1])])
    columns = {"historical_profit": value.historical_profit, "clv_retention": value.clv}
    rows += [
        (f"observed retention rate per {unit}", value.retention_rate),
        ("customer equity (sum of clv_retention)", value.customer_equity()),
    ]
    notes = [value.header().replace("clv:", "clv_retention:", 1)]
    ids = value.customer_id  # may hold customers with returns only; the report aligns by id
    short = [
        f"clv_retention: constant-retention CLV per {unit}, retention "
        f"{value.retention_rate:.3f}, discount 10 % per year"
        if unit == "year"
        else f"clv_retention: constant-retention CLV per {unit}, retention "
        f"{value.retention_rate:.3f}, discount 10 % per {unit}"
    ]
    return _Section(
        columns,
        [ReportTable(title, ("measure", "value"), tuple(rows))],
        notes,
        short,
        customer_id=ids,
    )


def _rfm_section(ctx: _Context) -> _Section:
    from custrel import rfm

    table = rfm.rfm_table(ctx.log, ctx.summary.observation_end)
    scores = rfm.rfm_scores(table, on_collapse="ignore")
    segments = rfm.rfm_segments(scores)
    arrays = segments.to_arrays()
    keep = (
        "recency_score",
        "frequency_score",
        "monetary_score",
        "rfm_cell",
        "rfm_score",
        "segment",
    )
    columns = {k: arrays[k] for k in keep}
    ids = arrays.get("customer_id")
    used = scores.levels_used()
    collapsed = {dim: levels for dim, levels in used.items() if len(levels) < scores.k}
    unit = getattr(table, "unit", "day")
    notes = [
        (
            f"RFM at {_display(ctx.summary.observation_end)}: recency in {unit}s since the last "
            f"purchase; frequency = purchases (returns are not purchases); monetary = sum of "
            f"amounts net of returns; scores 1..{scores.k} by quantiles, recent = high, equal "
            "values always share a score"
        ),
        "segment: the default rule table, which covers every score triple exactly once",
    ]
    short = [f"RFM: scores 1..{scores.k} by quantiles at {_display(ctx.summary.observation_end)}"]
    if collapsed:
        text = "RFM scores on tied data use only these levels: " + "; ".join(
            f"{dim} {list(levels)}" for dim, levels in collapsed.items()
        )
        notes.append(text)
        short[0] += "; tied data: " + "; ".join(
            f"{dim} {list(levels)}" for dim, levels in collapsed.items()
        )
    tables = [
        _table_from_columns(
            "RFM segments",
            segments.summary(),
            (
                "segment",
                "customers",
                "share",
                "mean_recency",
                "mean_frequency",
                "mean_monetary_value",
            ),
        )
    ]
    figures: list[tuple[str, Any]] = []
    if ctx.figures:
        from custrel import plot

        figures.append(("rfm_heatmap.png", plot.plot_rfm_heatmap(segments)))
    return _Section(columns, tables, notes, short, figures, customer_id=ids)


_BTYD_TITLE = "Probabilistic model (BTYD) fits"


def _btyd_section(ctx: _Context) -> _Section:
    # No warnings.catch_warnings here: it swaps process-global state, so other
    # threads' warnings would land in this report's notes and a filter could be
    # left behind. The report instead asks for diagnostics the fits return.
    from custrel import btyd

    calendar = ctx.log.time_kind == "datetime"
    unit: str | float = "week" if calendar else 1.0
    step = 52.0 / 12.0 if calendar else 1.0
    unit_word = "weeks" if calendar else "time units"
    next_word = "month" if calendar else "period"
    n = ctx.summary.n_customers
    summary = btyd.rfm_summary(ctx.log, unit=unit, observation_end=ctx.summary.observation_end)
    columns: dict[str, npt.NDArray[Any]] = {}
    notes: list[str] = []
    short: list[str] = []
    rows: list[tuple[Any, ...]] = []
    tables: list[ReportTable] = []
    try:
        c = summary.compressed()
        bg = btyd.fit_bgnbd(c.frequency, c.recency, c.T, weights=c.weights)
    except CustrelError as exc:
        nan = np.full(n, np.nan)
        columns = {
            "expected_purchases_next": nan,
            "p_alive": nan,
            "expected_spend": nan,
            "clv_bgnbd": nan,
        }
        reason = f"BG/NBD fit failed: {exc}"
        notes.append(
            f"expected_purchases_next, p_alive, expected_spend, clv_bgnbd not computed (nan): {reason}"
        )
        short.append("BTYD not computed (columns are empty): " + _first_words(reason))
        return _Section(columns, [ReportTable(_BTYD_TITLE, (), (), message=reason)], notes, short)
    f, r, t = summary.frequency, summary.recency, summary.T
    ids = getattr(summary, "customer_id", None)
    columns["expected_purchases_next"] = bg.conditional_expected_purchases(step, f, r, t)
    columns["p_alive"] = bg.probability_alive(f, r, t)
    rows += [(f"BG/NBD {k}", float(val)) for k, val in bg.params.items()]
    rows.append(("BG/NBD log-likelihood", float(bg.log_likelihood)))
    notes += _standard_error_notes("BG/NBD", bg)
    try:
        repeat = summary.repeat_buyers()
        corr = _pearson(repeat.frequency, repeat.monetary_value)
        gg = btyd.fit_gamma_gamma(repeat.frequency, repeat.monetary_value, max_correlation=1.0)
        spend = gg.conditional_expected_spend(f, summary.monetary_value)
        columns["expected_spend"] = spend
        columns["clv_bgnbd"] = bg.customer_lifetime_value(
            f, r, t, spend, horizon=12, discount_rate=0.01, margin=1.0, period=step
        )
        rows += [(f"Gamma-Gamma {k}", float(val)) for k, val in gg.params.items()]
        notes += _standard_error_notes("Gamma-Gamma", gg)
        if np.isfinite(corr) and abs(corr) > 0.3:
            notes.append(
                f"BTYD caution: frequency and spend per purchase of repeat buyers are correlated "
                f"(Pearson {corr:.3f}); the Gamma-Gamma model assumes they are independent"
            )
    except CustrelError as exc:
        columns["expected_spend"] = np.full(n, np.nan)
        columns["clv_bgnbd"] = np.full(n, np.nan)
        reason = f"Gamma-Gamma fit failed: {exc}"
        notes.append(f"expected_spend and clv_bgnbd not computed (nan): {reason}")
        tables.append(ReportTable("Lifetime value (BG/NBD x Gamma-Gamma)", (), (), message=reason))
    notes.insert(
        0,
        (
            f"BTYD: BG/NBD (Fader, Hardie & Lee 2005) fitted on this window with time in {unit_word}; "
            f"expected_purchases_next = expected repeat purchases in the next {next_word}; "
            "p_alive = probability the customer is still active; expected_spend = Gamma-Gamma "
            f"expected spend per purchase; clv_bgnbd = 12 {next_word}s of expected purchases x "
            f"expected spend, margin 1, discounted at 1 % per {next_word}"
        ),
    )
    short.insert(
        0,
        f"BTYD: BG/NBD + Gamma-Gamma in {unit_word}; clv_bgnbd = 12 {next_word}s, "
        f"1 % discount per {next_word}",
    )
    short += [_first_words(n) for n in notes[1:]]
    table = ReportTable(_BTYD_TITLE, ("parameter", "value"), tuple(rows))
    return _Section(columns, [table, *tables], notes, short, customer_id=ids)


def _pearson(x: npt.NDArray[np.float64], y: npt.NDArray[np.float64] | None) -> float:
    if y is None or len(x) < 2:
        return float("nan")
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    dx, dy = x - x.mean(), y - y.mean()
    den = float(np.sqrt((dx * dx).sum() * (dy * dy).sum()))
    return float((dx * dy).sum() / den) if den > 0 else float("nan")


def _standard_error_notes(model: str, fit: Any) -> list[str]:
    errors = getattr(fit, "standard_errors", {})
    bad = [k for k, val in errors.items() if not np.isfinite(val)]
    if not bad:
        return []
    return [
        (
            f"{model}: the observed information matrix is not positive definite; standard errors "
            f"of {', '.join(bad)} are NaN (the estimates may be poorly identified)"
        )
    ]


def _report_period(log: TransactionLog) -> str | float:
    return "month" if log.time_kind == "datetime" else 1.0


def _lifecycle_section(ctx: _Context) -> _Section:
    from custrel import lifecycle

    period = _report_period(ctx.log)
    end = ctx.summary.observation_end
    rules = lifecycle.StageRules()
    lapse = rules.inactive_periods  # one rule for "lapsed" stages and for churn
    stages = lifecycle.stages_from_log(ctx.log, period=period, observation_end=end, rules=rules)
    churn = lifecycle.churn_rate(
        ctx.log, period=period, inactive_periods=lapse, observation_end=end
    )
    columns = {
        "stage": stages.stages(),
        "stage_margin": stages.margin,
        "tenure_periods": stages.tenure,
    }
    counts, mix, live = stages.counts(), stages.mix(), stages.active_mix()
    unit = "month" if period == "month" else "period"
    tables = [
        ReportTable(
            "Lifecycle stage mix",
            ("stage", "customers", "share", "share of live customers"),
            tuple((name, counts[name], mix[name], live.get(name, "")) for name in counts),
        ),
        ReportTable(
            "Churn",
            ("measure", "value"),
            (
                (f"churn rate per {unit} (pooled)", churn.rate),
                (f"mean lifetime in {unit}s (1 / churn)", churn.mean_lifetime()),
            ),
        ),
    ]
    notes = [
        (
            f"stage: four-stage lifecycle model (exploration, formation, stability, decline) "
            f"read from each customer's {unit}ly amounts smoothed over about two of its own "
            f"purchase gaps (at least {rules.window} {unit}s), relative to its own peak, trend "
            f"and tenure; a change counts only when it exceeds the customer's own noise and is "
            f"seen {rules.persistence} {unit}s in a row; decline = still buying, clearly less"
        ),
        (
            f"lapsed: no purchase for {lapse} {unit}s (the churn rule, so lapsed = lost); "
            "too_new: too few periods to judge; stage_margin: distance to the nearest "
            "threshold that would change the stage (0 on a boundary or while a stage is held)"
        ),
        (
            f"churn: a customer is lost after {lapse} {unit}s without a purchase; "
            "mean lifetime = 1 / churn rate"
        ),
    ]
    short = [
        (
            f"stage: four-stage lifecycle on {unit}ly amounts; lapsed (= churned) after {lapse} "
            f"{unit}s without a purchase"
        )
    ]
    figures: list[tuple[str, Any]] = []
    if ctx.figures:
        from custrel import plot

        panel = lifecycle.value_panel(ctx.log, period=period, observation_end=end)
        best = panel.customer_id[int(np.argmax(panel.values.sum(axis=1)))]
        figures.append(("value_curve.png", plot.plot_value_curve(panel, best)))
        cohort = 3
        km = lifecycle.survival_from_log(
            ctx.log,
            period=period,
            inactive_periods=lapse,
            cohort_periods=cohort,
            observation_end=end,
        )
        labels = _cohort_labels(ctx.log, km.groups, cohort, period)
        figures.append(
            (
                "survival.png",
                plot.plot_survival(
                    km,
                    group_labels=labels,
                    time_unit=f"{unit}s",
                    title=f"Survival by acquisition cohort ({cohort} {unit}s each)",
                ),
            )
        )
        figures.append(("stage_mix.png", plot.plot_stage_mix(stages)))
    # stages cover every customer of the log, returns-only ones too: align by id
    return _Section(columns, tables, notes, short, figures, customer_id=stages.customer_id)


def _cohort_labels(
    log: TransactionLog, groups: npt.NDArray[Any], cohort: int, period: str | float
) -> list[str]:
    """Cohort numbers as the calendar months they cover (``2021-01..2021-03``)."""
    if period != "month" or log.time_kind != "datetime":
        return [f"periods {int(g) * cohort}..{int(g) * cohort + cohort - 1}" for g in groups]
    first = np.asarray(log.time).min().astype("datetime64[M]")
    out = []
    for g in groups.tolist():
        start = first + np.timedelta64(int(g) * cohort, "M")
        stop = start + np.timedelta64(cohort - 1, "M")
        out.append(f"{start}..{stop}" if cohort > 1 else str(start))
    return out


def _first_words(text: str, limit: int = 160) -> str:
    """The first sentence-like part of a note, at most ``limit`` characters."""
    return _clip(" ".join(text.split()), limit)


#: The report's sections in display order: name -> builder.
_SECTIONS: dict[str, Callable[[_Context], _Section]] = {
    "value": _value_section,
    "rfm": _rfm_section,
    "pyramid": _pyramid_section,
    "lifecycle": _lifecycle_section,
    "btyd": _btyd_section,
}

_SECTION_TITLES = {
    "value": "Customer value",
    "rfm": "RFM segments",
    "pyramid": _PYRAMID_TITLE,
    "lifecycle": "Lifecycle stage mix",
    "btyd": _BTYD_TITLE,
}

#: Section names accepted by :func:`customer_report`.
SECTIONS: tuple[str, ...] = tuple(_SECTIONS)

#: A calendar log spanning more years than this is refused: one date is almost surely mistyped.
MAX_SPAN_YEARS = 200


@attrs.frozen
class SpanProblem:
    """A time that makes the report's per-period panel absurdly large (private helper)."""

    row: int  # 0-based row of the log holding the culprit time
    text: str  # the culprit time as written in messages
    message: str  # the whole explanation, without the position


def span_problem(log: TransactionLog, observation_end: Any = None) -> SpanProblem | None:
    """Check the log's time span against the report's budget, in O(rows).

    The lifecycle section builds a customers x months panel; one mistyped
    date (``9999-01-01``) would make it tens of gigabytes. Returns the row of
    the time farthest from the median (the likely typo) when the span is more
    than :data:`MAX_SPAN_YEARS` years of a calendar log, or the panel exceeds
    the cell budget (``CUSTREL_MAX_CELLS``) or period budget
    (``CUSTREL_MAX_PERIODS``); ``None`` when the span is fine.
    """
    if log.n_rows == 0:
        return None
    t = log.numeric_time()
    keep = None
    if observation_end is not None:
        end = log.to_time_float(observation_end, "observation_end")
        keep = t <= end
        if not keep.any():
            return None
        t = t[keep]
    lo, hi = float(t.min()), float(t.max())
    calendar = log.time_kind == "datetime"
    period_seconds = 30.436875 * 86400.0 if calendar else 1.0
    periods = (hi - lo) / period_seconds + 1.0
    cells = periods * float(log.n_customers)
    years = (hi - lo) / (365.2425 * 86400.0) if calendar else 0.0
    too_long = calendar and years > MAX_SPAN_YEARS
    if not (too_long or periods > v.max_periods() or cells > v.max_cells()):
        return None
    med = float(np.median(t))
    pick_high = (hi - med) >= (med - lo)
    sub = int(np.argmax(t) if pick_high else np.argmin(t))
    row = int(np.flatnonzero(keep)[sub]) if keep is not None else sub
    value = log.time[row]
    text = (
        str(np.datetime64(value, "s")).replace("T00:00:00", "") if calendar else f"{float(value):g}"
    )
    which = "latest" if pick_high else "earliest"
    if too_long:
        why = (
            f"the log spans {years:,.0f} years, more than the {MAX_SPAN_YEARS} a customer log "
            f"can plausibly span: the {which} date {text} looks mistyped"
        )
    else:
        unit = "months" if calendar else "time units"
        budget = (
            f"the report's customer x period panel would need {cells:,.0f} cells "
            f"({log.n_customers:,} customers x {periods:,.0f} {unit}), more than the budget "
            f"(CUSTREL_MAX_CELLS={v.max_cells():,}, CUSTREL_MAX_PERIODS={v.max_periods():,})"
        )
        # without the extreme time, is the span fine? then that one time is the culprit
        rest = np.delete(t, sub)
        rest_periods = (
            (float(rest.max()) - float(rest.min())) / period_seconds + 1.0 if len(rest) else 1.0
        )
        one_culprit = (
            rest_periods <= v.max_periods()
            and rest_periods * float(log.n_customers) <= v.max_cells()
        )
        if one_culprit:
            why = f"{budget}: the {which} time {text} is the culprit"
        elif calendar:
            why = f"{budget}: the dates themselves span too long for one report"
        else:
            why = (
                f"{budget}: the times span {hi - lo:,.0f} units; numbers such as {text} look "
                "like epoch seconds, so give dates (or times in days or weeks) instead"
            )
    return SpanProblem(row, text, why + "; correct it or end the window before it")


def customer_report(
    log: TransactionLog,
    *,
    observation_end: Any = None,
    sections: tuple[str, ...] | None = None,
    plots_dir: str | os.PathLike[str] | None = None,
    figures: bool = False,
    progress: Progress | None = None,
) -> CustomerReport:
    """Build the per-customer report of a transaction log.

    Parameters
    ----------
    log : TransactionLog
        The transactions. Negative amounts are returns: they reduce the
        customer's value and are never purchases.
    observation_end : date or number, optional
        End of the observation window (inclusive); defaults to the last time
        in the log. Later rows are left out and counted in the totals.
    sections : tuple of str, optional
        Which sections to add to the per-customer summary; all of
        :data:`SECTIONS` by default.
    plots_dir : path-like, optional
        Where to write the report's figures as PNG files (needs the ``plot``
        extra); no files when omitted.
    figures : bool
        Draw the figures and keep them in :attr:`CustomerReport.figures`
        (for :meth:`CustomerReport.to_html`); implied by ``plots_dir``.
    progress : callable, optional
        Called with a short message as each step starts (the command line
        prints these on stderr).

    Returns
    -------
    CustomerReport
        A section that cannot be computed on this log (too short a history,
        no repeat buyers, a fit that fails) has a table saying why, NaN
        columns where it has columns, and a note; the report goes on.

    Raises
    ------
    InvalidInputError
        If a section name is unknown, ``observation_end`` is before the first
        purchase, or one time makes the span absurd (a mistyped far-future
        date: the message names its row and value).

    Examples
    --------
    >>> from custrel import TransactionLog
    >>> from custrel.report import customer_report
    >>> log = TransactionLog.from_arrays(customer_id=[1, 1, 2], time=[0.0, 2.0, 1.0], amount=[5.0, 7.0, 3.0])
    >>> rep = customer_report(log, sections=("pyramid",))
    >>> rep.columns["total_amount"].tolist(), rep.columns["tier"].tolist()
    ([12.0, 3.0], ['platinum', 'lead'])
    """
    if not isinstance(log, TransactionLog):
        raise InvalidTypeError(f"log must be a TransactionLog, got {type(log).__name__}")
    chosen = SECTIONS if sections is None else tuple(sections)
    for name in chosen:
        v.choice(name, "sections", SECTIONS)
    if not getattr(log, "has_amount", True):
        raise InvalidInputError(
            "the customer report needs amounts: this log has no amount column; "
            "pass amount_col=... (or amount=...) when building it"
        )
    say = progress or (lambda _msg: None)
    say(f"summarising {log.n_rows:,} transactions of {log.n_customers:,} customers")
    problem = span_problem(log, observation_end)  # O(rows), before any panel is allocated
    if problem is not None:
        raise InvalidInputError(f"time at row {problem.row}: {problem.message}")
    summary = log.summarize(observation_end=observation_end)
    if summary.n_customers == 0:
        raise EmptyInputError(
            "no purchases in the window: every row up to "
            f"{_display(summary.observation_end)} is a return or cancellation (negative amount)"
        )
    window = log if summary.n_rows_after_end == 0 else log.between(end=summary.observation_end)
    plots = None
    if plots_dir is not None:
        plots = os.fspath(plots_dir)
        os.makedirs(plots, exist_ok=True)
    ctx = _Context(window, summary, figures or plots is not None)
    columns: dict[str, npt.NDArray[Any]] = _summary_columns(summary)
    amount = np.asarray(window.amount)
    returns = int(np.count_nonzero(amount < 0))
    returned = float(-amount[amount < 0].sum()) if returns else 0.0
    end_text = _display(summary.observation_end)
    notes: list[str] = [
        "custrel customer report: one row per customer",
        (
            f"observation window ends {end_text} (inclusive); amounts are net of returns: "
            f"{_count(returns, 'return or cancellation', 'returns or cancellations')} "
            f"(negative amounts, {returned:,.2f} in all) "
            "reduce the customers' value and are not counted as purchases"
        ),
        "n_purchases counts purchase occasions; n_purchase_days counts distinct days with a purchase",
    ]
    short: list[str] = [
        (
            f"window ends {end_text} (inclusive); {_count(returns, 'return')} netted "
            f"({returned:,.2f}), never counted as purchases"
        )
    ]
    intake = getattr(log, "intake", None)
    if intake is not None:
        text = _intake_note(intake)
        notes.append(text)
        short.append(text)
    left_out = int(getattr(summary, "n_return_only_customers", 0))
    if left_out:
        amount_out = float(getattr(summary, "return_only_amount", 0.0))
        text = (
            f"{_count(left_out, 'customer')} with returns only (amount {amount_out:,.2f}) made no "
            "purchase in the window: they are counted in the totals, not in the per-customer table"
        )
        notes.append(text)
        short.append(text)
    tables: list[ReportTable] = [_totals_table(summary, returns)]
    pngs: dict[str, bytes] = {}
    written: list[str] = []
    for name in chosen:
        say(f"computing {name}")
        try:
            section = _SECTIONS[name](ctx)
        except CustrelError as exc:
            # the section says so in place instead of vanishing or failing the report
            reason = str(exc)
            tables.append(ReportTable(_SECTION_TITLES[name], (), (), message=reason))
            notes.append(f"{name} section not computed: {reason}")
            short.append(_first_words(f"{name} section not computed: {reason}"))
            continue
        for col, values in section.columns.items():
            columns[col] = _align(summary.customer_id, section.customer_id, values, name, col)
        tables += section.tables
        notes += section.notes
        short += section.short
        for fname, fig in section.figures:
            pngs[fname] = _png(fig)
            if plots is not None:
                path = os.path.join(plots, fname)
                with open(path, "wb") as fh:
                    fh.write(pngs[fname])
                written.append(path)
    if written:
        notes.append("figures: " + ", ".join(written))
        short.append(f"{len(written)} figures written to {plots}")
    parameters = {
        "observation_end": str(end_text),
        "sections": list(chosen),
        "time_kind": log.time_kind,
        "lifecycle_period": str(_report_period(log)),
    }
    return CustomerReport(
        columns=columns,
        tables=tuple(tables),
        notes=tuple(notes),
        short_notes=tuple(short),
        figures=pngs,
        parameters=parameters,
    )


def _align(
    ids: npt.NDArray[Any],
    section_ids: npt.NDArray[Any] | None,
    values: npt.NDArray[Any],
    section: str,
    column: str,
) -> npt.NDArray[Any]:
    """A section's column on the summary's rows; customers it left out get an empty value.

    A model may leave out customers (one with returns only has no purchase to
    score); their cells are NaN for numbers and "" for text, never a made-up value.
    """
    values = np.asarray(values)
    if section_ids is None or (len(section_ids) == len(ids) and np.array_equal(section_ids, ids)):
        if len(values) != len(ids):  # pragma: no cover - a section bug
            raise RuntimeError(f"section {section} gave {len(values)} rows for column {column}")
        return values
    if len(section_ids) != len(values):  # pragma: no cover - a section bug
        raise RuntimeError(f"section {section} gave {len(values)} rows for {len(section_ids)} ids")
    position = {_key(x): i for i, x in enumerate(section_ids.tolist())}
    rows = np.array([position.get(_key(x), -1) for x in ids.tolist()], dtype=np.int64)
    found = rows >= 0
    if values.dtype.kind in "iufb":
        out: npt.NDArray[Any] = np.full(len(ids), np.nan)
        out[found] = values[rows[found]]
        if values.dtype.kind in "iub" and found.all():  # pragma: no cover - same rows
            out = out.astype(values.dtype)
    else:
        out = np.full(len(ids), "", dtype=object if values.dtype == object else values.dtype)
        out[found] = values[rows[found]]
    return out


def _key(x: Any) -> tuple[type, Any]:
    # 1 and "1" are two customers: the type is part of the key
    return (type(x), x)


def _count(n: int, one: str, many: str | None = None) -> str:
    """``1 return``, ``2 returns``: a count with its noun."""
    return f"{n:,} {one if n == 1 else (many or one + 's')}"


def _intake_note(intake: Any) -> str:
    """The log's intake bookkeeping (rows read, lines grouped, rows skipped) as one note."""
    parts = [f"read {_count(int(getattr(intake, 'rows_read', 0)), 'row')}"]
    grouped = int(getattr(intake, "orders_grouped", 0))
    if grouped:
        parts.append(f"{_count(grouped, 'invoice line')} merged into their orders")
    skipped = int(getattr(intake, "skipped_missing_customer", 0))
    if skipped:
        amount = float(getattr(intake, "skipped_amount", 0.0))
        parts.append(
            f"{_count(skipped, 'row')} without a customer id skipped (amount {amount:,.2f})"
        )
    return "intake: " + "; ".join(parts)


def _png(fig: Any) -> bytes:
    """A figure as PNG bytes (custrel's figures are not attached to pyplot: nothing to close)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    return buf.getvalue()
