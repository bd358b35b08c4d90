"""Figures of the relationship lifecycle (private; see custrel.plot)."""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np

from custrel import _validate as v
from custrel._plotting import label, subplots, tight
from custrel.errors import InvalidInputError, InvalidTypeError
from custrel.lifecycle import (
    LAPSED,
    NO_ACTIVITY,
    TOO_NEW,
    KaplanMeierResult,
    StageClassification,
    StageRules,
    ValuePanel,
    stage_history,
)
from custrel.models import FOUR_STAGE

__all__ = ["plot_stage_mix", "plot_survival", "plot_value_curve"]

_STAGE_COLOURS = {
    "exploration": "#9ecae1",
    "formation": "#a1d99b",
    "stability": "#fdd49e",
    "decline": "#fc9272",
    LAPSED: "#bdbdbd",
    TOO_NEW: "#eeeeee",
    NO_ACTIVITY: "#ffffff",
}


def plot_value_curve(
    values: ValuePanel | Any,
    customer: Any = None,
    *,
    rules: StageRules | None = None,
    title: str | None = None,
) -> Any:
    """Draw one customer's value per period, shaded by the lifecycle stage of each period.

    The shading is :func:`custrel.stage_history`: the stage the classifier
    saw at the end of each period, using only data up to then, read from the
    smoothed series with its hysteresis (a stage is left only after
    ``rules.persistence`` disagreeing readings in a row), and grey once the customer has
    :data:`~custrel.lifecycle.LAPSED` (no value for ``rules.inactive_periods``
    periods). A dashed line draws the smoothed level the stages are read from.

    Parameters
    ----------
    values : ValuePanel or array-like of float
        A panel from :func:`custrel.value_panel` (then ``customer`` picks
        the row by its id; it may be omitted for a one-customer panel), or
        one customer's per-period values.
    customer : object, optional
        The customer id to draw from a panel.
    rules : StageRules, optional
        Thresholds of the stage classifier.
    title : str, optional
        Figure title (default: "Customer <id>: value and lifecycle stage").

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    InvalidInputError
        If ``customer`` is not in the panel, or is needed and missing.
    MissingDependencyError
        If matplotlib is not installed.

    Examples
    --------
    >>> from custrel.plot import plot_value_curve
    >>> fig = plot_value_curve([1, 2, 4, 8, 8, 8, 8, 8, 8, 8, 4, 2, 0, 0, 0])
    >>> [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    ['formation', 'stability', 'decline', 'lapsed', 'too_new']
    """
    if isinstance(values, ValuePanel):
        ids = values.customer_id
        if customer is None:
            if len(ids) != 1:
                raise InvalidInputError(f"customer is needed: the panel holds {len(ids)} customers")
            row = 0
        else:
            if np.ndim(customer) != 0:  # an array would compare elementwise
                raise InvalidTypeError(
                    f"customer must be one customer id, got "
                    f"{type(customer).__name__} {customer!r:.60}"
                )
            hit = np.flatnonzero(ids == customer)
            if len(hit) == 0:
                raise InvalidInputError(f"customer {customer!r} is not in the panel")
            row = int(hit[0])
        series = np.asarray(values.values[row], dtype=np.float64)
        x = values.period_start
        label = ids[row]
    else:
        series = v.as_float_array(values, "values", ndim=1)
        x = np.arange(len(series))
        label = customer if customer is not None else ""
    hist = stage_history(series[None, :], rules=rules)
    stages = hist.stages()[0]
    fig, ax = subplots((7.5, 3.8))
    xs = np.arange(len(series))
    shown: set[str] = set()
    start = 0
    for i in range(1, len(series) + 1):
        if i == len(series) or stages[i] != stages[start]:
            st = str(stages[start])
            ax.axvspan(
                start - 0.5,
                i - 0.5,
                color=_STAGE_COLOURS.get(st, "#dddddd"),
                alpha=0.8,
                label=None if st in shown else st,
                linewidth=0,
            )
            shown.add(st)
            start = i
    ax.plot(xs, series, color="#1f3b57", marker="o", markersize=3, linewidth=1.5)
    ax.plot(xs, hist.smoothed[0], color="#1f3b57", linestyle="--", linewidth=1.0, alpha=0.7)
    ticks = xs[:: max(1, len(xs) // 8)]
    ax.set_xticks(ticks)
    if isinstance(values, ValuePanel) and np.issubdtype(np.asarray(x).dtype, np.datetime64):
        ax.set_xticklabels([str(np.asarray(x)[t])[:10] for t in ticks], rotation=30, ha="right")
    else:
        ax.set_xticklabels([str(np.asarray(x)[t]) for t in ticks])
    ax.set_xlabel("period")
    ax.set_ylabel(values.value if isinstance(values, ValuePanel) else "value")
    ax.set_xlim(-0.5, len(series) - 0.5)
    order = [*FOUR_STAGE.stages, LAPSED, TOO_NEW, NO_ACTIVITY]
    handles, labels = ax.get_legend_handles_labels()
    pairs = sorted(zip(labels, handles, strict=True), key=lambda p: order.index(p[0]))
    ax.legend([h for _, h in pairs], [lab for lab, _ in pairs], loc="upper left", fontsize="small")
    ax.set_title(title or f"Customer {label}: value and lifecycle stage".replace("  ", " "))
    tight(fig)
    return fig


def plot_survival(
    km: KaplanMeierResult,
    *,
    max_groups: int = 12,
    group_labels: Any = None,
    time_unit: str = "periods",
    title: str | None = None,
) -> Any:
    """Draw Kaplan–Meier survival curves, one per cohort, with each median marked.

    Parameters
    ----------
    km : KaplanMeierResult
        From :func:`custrel.survival_from_log` or :func:`custrel.kaplan_meier`.
    max_groups : int
        Draw at most this many groups (the first ones, in label order).
    group_labels : sequence of str, optional
        One legend label per group of ``km`` (e.g. the calendar months a
        cohort covers); default ``"cohort <group>"``.
    time_unit : str
        What the lifetimes count, for the axis label (``"months"``).
    title : str, optional
        Figure title (default: "Survival by acquisition cohort").

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    InvalidTypeError
        If ``km`` is not a :class:`~custrel.lifecycle.KaplanMeierResult`.
    MissingDependencyError
        If matplotlib is not installed.

    Examples
    --------
    >>> import custrel
    >>> from custrel.plot import plot_survival
    >>> km = custrel.kaplan_meier([1, 2, 3, 4, 2, 6], groups=[0, 0, 0, 1, 1, 1])
    >>> [t.get_text() for t in plot_survival(km).axes[0].get_legend().get_texts()]
    ['cohort 0 (n=3)', 'cohort 1 (n=3)']
    >>> fig = plot_survival(km, group_labels=["2024-01", "2024-02"], time_unit="months")
    >>> fig.axes[0].get_legend().get_texts()[1].get_text(), fig.axes[0].get_xlabel()
    ('2024-02 (n=3)', 'lifetime (months since the first purchase)')
    """
    if not isinstance(km, KaplanMeierResult):
        raise InvalidTypeError(
            f"km must be a KaplanMeierResult (from kaplan_meier or survival_from_log), "
            f"got {type(km).__name__}"
        )
    k = v.positive_int(max_groups, "max_groups")
    groups = km.groups.tolist()
    if group_labels is None:
        names = [f"cohort {g}" for g in groups]
    else:
        if isinstance(group_labels, str | bytes):
            raise InvalidTypeError("group_labels must be a sequence of labels, not one string")
        names = [label(x) for x in group_labels]
        if len(names) != len(groups):
            raise InvalidInputError(
                f"group_labels has {len(names)} labels for the {len(groups)} groups of km"
            )
    unit = label(time_unit)
    fig, ax = subplots((7.5, 4.4))
    shown = list(zip(names, km.curves, strict=True))[:k]
    # distinct colours: a sequential map spread over the cohorts, oldest dark, newest light
    cmap = importlib.import_module("matplotlib").colormaps["viridis"]
    colours = [cmap(x) for x in np.linspace(0.0, 0.9, max(len(shown), 1))]
    for (name, c), colour in zip(shown, colours, strict=False):
        t = np.concatenate([[0.0], c.time])
        s = np.concatenate([[1.0], c.survival])
        ax.step(t, s, where="post", label=f"{name} (n={c.n})", color=colour, linewidth=1.6)
        med = c.median_lifetime()
        if np.isfinite(med):
            ax.plot([med], [0.5], marker="o", color=colour, markersize=4)
    ax.axhline(0.5, color="grey", linewidth=0.6, linestyle=":")
    ax.set_ylim(0.0, 1.02)
    ax.set_xlim(left=0.0)
    ax.set_xlabel(f"lifetime ({unit} since the first purchase)")
    ax.set_ylabel("share still active")
    ax.yaxis.set_major_formatter(lambda y, _pos: f"{100 * y:.0f}%")
    ax.legend(fontsize="small", title="acquired", title_fontsize="small", loc="upper right")
    ax.set_title(title or "Survival by acquisition cohort")
    tight(fig)
    return fig


def _percent(share: float) -> str:
    """A share as a whole percent; "<1%" rather than a misleading "0%" for a few customers."""
    pct = 100.0 * share
    return "<1%" if 0 < pct < 0.5 else f"{pct:.0f}%"


def plot_stage_mix(
    stages: StageClassification,
    *,
    title: str | None = None,
) -> Any:
    """Draw the stage mix of a customer base as a bar chart.

    Parameters
    ----------
    stages : StageClassification
        From :func:`custrel.classify_stages` or :func:`custrel.stages_from_log`.
    title : str, optional
        Figure title (default: "Lifecycle stage mix").

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    InvalidTypeError
        If ``stages`` is not a :class:`~custrel.lifecycle.StageClassification`.
    MissingDependencyError
        If matplotlib is not installed.

    Examples
    --------
    >>> import custrel
    >>> from custrel.plot import plot_stage_mix
    >>> fig = plot_stage_mix(custrel.classify_stages([[5, 9, 10, 10, 10, 10, 10, 10]]))
    >>> [t.get_text() for t in fig.axes[0].get_xticklabels()]  # empty stages are left out
    ['stability']
    """
    if not isinstance(stages, StageClassification):
        raise InvalidTypeError(f"stages must be a StageClassification, got {type(stages).__name__}")
    counts = stages.counts()
    # stages nobody is in are left out; the labels are words, not identifiers
    names = [s for s in counts if counts[s] > 0] or list(counts)
    n = max(sum(counts.values()), 1)
    fig, ax = subplots((7.5, 4.0))
    bars = ax.bar(
        range(len(names)),
        [counts[s] for s in names],
        color=[_STAGE_COLOURS.get(s, "#dddddd") for s in names],
        edgecolor="#555555",
    )
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels([s.replace("_", " ") for s in names])
    top = max(counts[s] for s in names) if names else 0
    for b, s in zip(bars, names, strict=True):
        ax.annotate(
            f"{counts[s]:,} ({_percent(counts[s] / n)})",
            (b.get_x() + b.get_width() / 2, b.get_height()),
            xytext=(0, 2),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize="small",
        )
    ax.set_ylim(0, max(top, 1) * 1.12)
    ax.set_ylabel("customers")
    ax.set_title(title or "Lifecycle stage mix")
    tight(fig)
    return fig
