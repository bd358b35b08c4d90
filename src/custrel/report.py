"""One customer report composed from the algorithm modules.

:func:`customer_report` turns a :class:`~custrel.TransactionLog` into one row
per customer (the per-customer summary, and the value, tier, segment, stage
and model columns the other modules add) plus summary tables, and states in
its header every assumption a number depends on. It is what ``custrel demo``
and ``custrel report`` print and write.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from custrel import _validate as v
from custrel.errors import InvalidInputError, InvalidTypeError
from custrel.models import CustomerSummary, TransactionLog

__all__ = ["SECTIONS", "CustomerReport", "ReportTable", "customer_report"]

Progress = Callable[[str], None]


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
    """

    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]

    def format(self) -> str:
        """Render as aligned plain text."""
        cells = [list(self.columns)] + [[_fmt_cell(x) for x in row] for row in self.rows]
        widths = [max(len(str(r[i])) for r in cells) for i in range(len(self.columns))]
        lines = [self.title, "-" * len(self.title)]
        for j, row in enumerate(cells):
            lines.append(
                "  ".join(
                    str(c).ljust(w) if i == 0 else str(c).rjust(w)
                    for i, (c, w) in enumerate(zip(row, widths, strict=True))
                )
            )
            if j == 0:
                lines.append("  ".join("-" * w for w in widths))
        return "\n".join(lines)


def _fmt_cell(x: Any) -> str:
    if isinstance(x, float | np.floating):
        if not np.isfinite(x):
            return str(x)
        return f"{x:,.2f}"
    if isinstance(x, int | np.integer):
        return f"{int(x):,}"
    return str(x)


@attrs.frozen(eq=False)
class CustomerReport:
    """Per-customer columns, summary tables and the assumptions behind them.

    Attributes
    ----------
    columns : Mapping[str, numpy.ndarray]
        One array per column, one row per customer, in display order.
    tables : tuple of ReportTable
        Summary tables (totals first).
    notes : tuple of str
        The header: what each column means and which model and assumptions
        produced it.
    """

    columns: Mapping[str, npt.NDArray[Any]]
    tables: tuple[ReportTable, ...]
    notes: tuple[str, ...]

    @property
    def n_customers(self) -> int:
        """Number of customer rows."""
        return len(next(iter(self.columns.values())))

    def to_csv(self, path: str | os.PathLike[str] | None = None) -> str:
        """Write the per-customer columns as CSV, the notes as leading ``#`` lines.

        Returns the CSV text; writes it to ``path`` too when given.
        """
        buf = io.StringIO()
        for note in self.notes:
            buf.write(f"# {note}\n")
        writer = csv.writer(buf, lineterminator="\n")
        names = list(self.columns)
        writer.writerow(names)
        lists = [_csv_values(self.columns[n]) for n in names]
        writer.writerows(zip(*lists, strict=True))
        text = buf.getvalue()
        if path is not None:
            with open(os.fspath(path), "w", encoding="utf-8", newline="") as fh:
                fh.write(text)
        return text

    def format(self, *, top: int = 10, sort_by: str | None = None) -> str:
        """Render the notes, the tables and the ``top`` customers as plain text.

        The customer table shows the key columns (ids, amounts, classes, stage
        and model predictions) plus ``sort_by``; :meth:`to_csv` writes them all.
        """
        top = v.positive_int(top, "top", minimum=0)
        parts = ["\n".join(f"# {n}" for n in self.notes)]
        parts += [t.format() for t in self.tables]
        if top:
            key = sort_by or "total_amount"
            if key not in self.columns:
                raise InvalidInputError(
                    f"sort_by must be one of {list(self.columns)!r}, got {key!r}"
                )
            order = np.argsort(-np.asarray(self.columns[key], dtype=float), kind="stable")[:top]
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
            parts.append(
                ReportTable(f"Top {len(rows)} customers by {key}", tuple(shown), rows).format()
            )
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


def _display(x: Any) -> Any:
    if isinstance(x, np.datetime64):
        return str(x.astype("datetime64[D]"))
    if isinstance(x, np.generic):
        return x.item()
    return x


def _csv_values(arr: npt.NDArray[Any]) -> list[Any]:
    if np.issubdtype(arr.dtype, np.datetime64):
        return [str(x) for x in arr.astype("datetime64[s]")]
    if arr.dtype.kind == "f":
        return [repr(round(x, 6)) if np.isfinite(x) else "nan" for x in arr.tolist()]
    return list(arr.tolist())


def _summary_columns(summary: CustomerSummary) -> dict[str, npt.NDArray[Any]]:
    return {
        "customer_id": summary.customer_id,
        "first_purchase": summary.first,
        "last_purchase": summary.last,
        "n_purchases": summary.n_purchases,
        "n_purchase_days": summary.n_periods,
        "total_amount": summary.total_amount,
        "mean_amount": summary.mean_amount,
    }


def _totals_table(log: TransactionLog, summary: CustomerSummary) -> ReportTable:
    totals = summary.totals()
    return ReportTable(
        "Totals",
        ("measure", "value"),
        (
            ("transactions in window", int(totals["purchases"])),
            ("transactions after window (left out)", summary.n_rows_after_end),
            ("customers", int(totals["customers"])),
            ("total amount", totals["total_amount"]),
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
    plots_dir: str | None


@attrs.frozen
class _Section:
    columns: dict[str, npt.NDArray[Any]]
    tables: list[ReportTable]
    notes: list[str]
    figures: list[str] = attrs.field(factory=list)


def _table_from_rows(title: str, rows: list[dict[str, Any]], keys: tuple[str, ...]) -> ReportTable:
    return ReportTable(title, keys, tuple(tuple(r[k] for k in keys) for r in rows))


def _pyramid_section(ctx: _Context) -> _Section:
    from custrel import pyramid

    ids = ctx.summary.customer_id
    value = _customer_profit(ctx.summary)
    basis = (
        "profit (TV - costs + indirect benefit; the log has cost columns)"
        if ctx.summary.total_profit is not None
        else "total_amount (revenue net of returns; the log has no cost columns for profit)"
    )
    pyr = pyramid.customer_pyramid(value, customer_id=ids)
    abc = pyramid.abc_analysis(value, customer_id=ids)
    columns = {"tier": pyr.labels(), "abc_class": abc.labels()}
    tables = [
        _table_from_rows(
            "Customer pyramid (tiers by customer count: top 5 % / 15 % / 30 % / 50 %)",
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
    figures: list[str] = []
    if ctx.plots_dir is not None:
        from custrel import plot

        figures.append(_save(plot.plot_pyramid(pyr), ctx.plots_dir, "pyramid.png"))
        curve = (
            pyramid.lorenz_curve(value) if bool((value >= 0).all()) else pyramid.whale_curve(value)
        )
        figures.append(_save(plot.plot_lorenz(curve), ctx.plots_dir, "concentration.png"))
    return _Section(columns, tables, notes, figures)


def _table_from_columns(
    title: str, cols: Mapping[str, npt.NDArray[Any]], keys: tuple[str, ...]
) -> ReportTable:
    lists = [cols[k].tolist() for k in keys]
    return ReportTable(title, keys, tuple(zip(*lists, strict=True)))


def _customer_profit(summary: CustomerSummary) -> npt.NDArray[np.float64]:
    """Per-customer profit in the window; without profit columns it is the amount."""
    return summary.total_amount if summary.total_profit is None else summary.total_profit


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
    try:
        value = clv.historical_value(ctx.log, freq=period, discount_rate=0.1, margin=1.0)
    except InvalidInputError as exc:
        columns["clv_retention"] = np.full(len(profit), np.nan)
        notes = [
            (
                "historical_profit: sum of TV - (C1+C2+C3+C4) + IB per customer "
                "(the amount when the log has no cost columns)"
            ),
            f"clv_retention not computed (nan): {exc}",
        ]
        return _Section(
            columns, [ReportTable("Customer value", ("measure", "value"), tuple(rows))], notes
        )
    if not np.array_equal(value.customer_id, ctx.summary.customer_id):  # pragma: no cover
        raise RuntimeError("value section is not aligned with the summary")
    columns = {"historical_profit": value.historical_profit, "clv_retention": value.clv}
    rows += [
        (f"observed retention rate per {unit}", value.retention_rate),
        ("customer equity (sum of clv_retention)", value.customer_equity()),
    ]
    notes = [value.header().replace("clv:", "clv_retention:", 1)]
    return _Section(
        columns, [ReportTable("Customer value", ("measure", "value"), tuple(rows))], notes
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
    used = scores.levels_used()
    collapsed = {dim: levels for dim, levels in used.items() if len(levels) < scores.k}
    unit = getattr(table, "unit", "day")
    notes = [
        (
            f"RFM at {_display(ctx.summary.observation_end)}: recency in {unit}s since the last "
            f"purchase; frequency = transactions; monetary = sum of amounts; scores 1..{scores.k} "
            "by quantiles, recent = high, equal values always share a score"
        ),
        "segment: the default rule table, which covers every score triple exactly once",
    ]
    if collapsed:
        notes.append(
            "RFM scores on tied data use only these levels: "
            + "; ".join(f"{dim} {list(levels)}" for dim, levels in collapsed.items())
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
    figures: list[str] = []
    if ctx.plots_dir is not None:
        from custrel import plot

        figures.append(_save(plot.plot_rfm_heatmap(segments), ctx.plots_dir, "rfm_heatmap.png"))
    return _Section(columns, tables, notes, figures)


def _btyd_section(ctx: _Context) -> _Section:
    import warnings

    from custrel import btyd
    from custrel.errors import CustrelError

    calendar = ctx.log.time_kind == "datetime"
    unit: str | float = "week" if calendar else 1.0
    step = 52.0 / 12.0 if calendar else 1.0
    unit_word = "weeks" if calendar else "time units"
    next_word = "month" if calendar else "period"
    n = ctx.summary.n_customers
    summary = btyd.rfm_summary(ctx.log, unit=unit, observation_end=ctx.summary.observation_end)
    columns: dict[str, npt.NDArray[Any]] = {}
    notes: list[str] = []
    rows: list[tuple[Any, ...]] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            c = summary.compressed()
            bg = btyd.fit_bgnbd(c.frequency, c.recency, c.T, weights=c.weights)
        except CustrelError as exc:
            nan = np.full(n, np.nan)
            columns = {"expected_purchases_next": nan, "p_alive": nan, "clv_bgnbd": nan}
            notes.append(
                f"expected_purchases_next, p_alive, clv_bgnbd not computed (nan): BG/NBD fit failed: {exc}"
            )
            return _Section(columns, [], notes)
        f, r, t = summary.frequency, summary.recency, summary.T
        columns["expected_purchases_next"] = bg.conditional_expected_purchases(step, f, r, t)
        columns["p_alive"] = bg.probability_alive(f, r, t)
        rows += [(f"BG/NBD {k}", float(val)) for k, val in bg.params.items()]
        rows.append(("BG/NBD log-likelihood", float(bg.log_likelihood)))
        try:
            repeat = summary.repeat_buyers()
            gg = btyd.fit_gamma_gamma(repeat.frequency, repeat.monetary_value)
            spend = gg.conditional_expected_spend(f, summary.monetary_value)
            columns["expected_spend"] = spend
            columns["clv_bgnbd"] = bg.customer_lifetime_value(
                f, r, t, spend, horizon=12, discount_rate=0.01, margin=1.0, period=step
            )
            rows += [(f"Gamma-Gamma {k}", float(val)) for k, val in gg.params.items()]
        except CustrelError as exc:
            columns["expected_spend"] = np.full(n, np.nan)
            columns["clv_bgnbd"] = np.full(n, np.nan)
            notes.append(
                f"expected_spend and clv_bgnbd not computed (nan): Gamma-Gamma fit failed: {exc}"
            )
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
    notes += [f"BTYD warning: {w.message}" for w in caught]
    table = ReportTable("Probabilistic model (BTYD) fits", ("parameter", "value"), tuple(rows))
    return _Section(columns, [table], notes)


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
    figures: list[str] = []
    if ctx.plots_dir is not None:
        from custrel import plot

        panel = lifecycle.value_panel(ctx.log, period=period, observation_end=end)
        best = panel.customer_id[int(np.argmax(panel.values.sum(axis=1)))]
        figures.append(_save(plot.plot_value_curve(panel, best), ctx.plots_dir, "value_curve.png"))
        km = lifecycle.survival_from_log(
            ctx.log, period=period, inactive_periods=lapse, cohort_periods=3, observation_end=end
        )
        figures.append(_save(plot.plot_survival(km), ctx.plots_dir, "survival.png"))
        figures.append(_save(plot.plot_stage_mix(stages), ctx.plots_dir, "stage_mix.png"))
    return _Section(columns, tables, notes, figures)


def _save(fig: Any, directory: str, name: str) -> str:
    path = os.path.join(directory, name)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    from custrel._plotting import pyplot

    pyplot().close(fig)
    return path


#: The report's sections in display order: name -> builder.
_SECTIONS: dict[str, Callable[[_Context], _Section]] = {
    "value": _value_section,
    "rfm": _rfm_section,
    "pyramid": _pyramid_section,
    "lifecycle": _lifecycle_section,
    "btyd": _btyd_section,
}

#: Section names accepted by :func:`customer_report`.
SECTIONS: tuple[str, ...] = tuple(_SECTIONS)


def customer_report(
    log: TransactionLog,
    *,
    observation_end: Any = None,
    sections: tuple[str, ...] | None = None,
    plots_dir: str | os.PathLike[str] | None = None,
    progress: Progress | None = None,
) -> CustomerReport:
    """Build the per-customer report of a transaction log.

    Parameters
    ----------
    log : TransactionLog
        The transactions.
    observation_end : date or number, optional
        End of the observation window (inclusive); defaults to the last time
        in the log. Later rows are left out and counted in the totals.
    sections : tuple of str, optional
        Which sections to add to the per-customer summary; all of
        :data:`SECTIONS` by default.
    plots_dir : path-like, optional
        Where to write the report's figures as PNG files (needs the ``plot``
        extra); no figures when omitted.
    progress : callable, optional
        Called with a short message as each step starts (the command line
        prints these on stderr).

    Returns
    -------
    CustomerReport

    Raises
    ------
    InvalidInputError
        If a section name is unknown, or ``observation_end`` is before the
        first purchase.

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
    say = progress or (lambda _msg: None)
    say(f"summarising {log.n_rows:,} transactions of {log.n_customers:,} customers")
    summary = log.summarize(observation_end=observation_end)
    window = log if summary.n_rows_after_end == 0 else log.between(end=summary.observation_end)
    plots = None
    if plots_dir is not None:
        plots = os.fspath(plots_dir)
        os.makedirs(plots, exist_ok=True)
    ctx = _Context(window, summary, plots)
    columns: dict[str, npt.NDArray[Any]] = _summary_columns(summary)
    notes: list[str] = [
        "custrel customer report: one row per customer",
        (
            f"observation window ends {_display(summary.observation_end)} (inclusive); "
            "amounts are net of returns (negative amounts)"
        ),
        "n_purchases counts transactions; n_purchase_days counts distinct days with a purchase",
    ]
    tables: list[ReportTable] = [_totals_table(log, summary)]
    figures: list[str] = []
    for name in chosen:
        say(f"computing {name}")
        section = _SECTIONS[name](ctx)
        for col, values in section.columns.items():
            if len(values) != summary.n_customers:  # pragma: no cover - a section bug
                raise RuntimeError(f"section {name} gave {len(values)} rows for column {col}")
            columns[col] = values
        tables += section.tables
        notes += section.notes
        figures += section.figures
    if figures:
        notes.append("figures: " + ", ".join(figures))
    return CustomerReport(columns=columns, tables=tuple(tables), notes=tuple(notes))
