"""The RFM heat map (private; see custrel.plot)."""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np

from custrel import _numeric
from custrel import _validate as v
from custrel._plotting import pyplot
from custrel.errors import InvalidInputError, InvalidTypeError
from custrel.rfm import DIMENSIONS, RFMScores, RFMSegments

__all__ = ["plot_rfm_heatmap"]

_LABELS = {"recency": "recency score (5 = most recent)", "frequency": "frequency score"}
_VALUES = ("customers", "share", "mean_monetary_value", "total_monetary_value")


def plot_rfm_heatmap(
    scores: RFMScores | RFMSegments,
    *,
    x: str = "recency",
    y: str = "frequency",
    value: str = "customers",
    title: str | None = None,
) -> Any:
    """Draw a k × k heat map of two RFM scores, one cell per score pair.

    Parameters
    ----------
    scores : RFMScores or RFMSegments
        The result of :func:`custrel.rfm_scores` (or of
        :func:`custrel.rfm_segments`, whose scores are used).
    x, y : {"recency", "frequency", "monetary_value"}
        The scores on the horizontal and vertical axes (default recency
        against frequency, the usual RFM grid); they must differ.
    value : {"customers", "share", "mean_monetary_value", "total_monetary_value"}
        What a cell shows: the number of customers (default), their share of
        all customers, or the mean / total monetary value of the customers in
        it. Empty cells are blank (a mean over no customers is undefined).
    title : str, optional
        The figure title.

    Returns
    -------
    matplotlib.figure.Figure
        Not attached to pyplot, so it needs no closing; save it with
        ``fig.savefig(path)``.

    Raises
    ------
    InvalidTypeError
        If ``scores`` is not an RFMScores or RFMSegments.
    InvalidInputError
        On an unknown dimension or value, or ``x == y``.
    MissingDependencyError
        If matplotlib is not installed.

    Examples
    --------
    >>> import custrel
    >>> from custrel.plot import plot_rfm_heatmap
    >>> t = custrel.RFMTable.from_arrays(
    ...     customer_id=range(6), recency=[1, 2, 3, 4, 5, 6],
    ...     frequency=[6, 5, 4, 3, 2, 1], monetary_value=[60, 50, 40, 30, 20, 10],
    ... )
    >>> fig = plot_rfm_heatmap(custrel.rfm_scores(t, k=3))
    >>> fig.axes[0].get_xlabel()
    'recency score (5 = most recent)'
    >>> int(fig.axes[0].images[0].get_array().sum())
    6
    """
    if isinstance(scores, RFMSegments):
        scores = scores.scores
    if not isinstance(scores, RFMScores):
        raise InvalidTypeError(
            f"scores must be an RFMScores or RFMSegments, got {type(scores).__name__}"
        )
    v.choice(x, "x", DIMENSIONS)
    v.choice(y, "y", DIMENSIONS)
    v.choice(value, "value", _VALUES)
    if x == y:
        raise InvalidInputError(f"x and y must be different dimensions, got {x!r} twice")
    pyplot()  # checks that matplotlib is installed and selects a file backend
    figure_mod = importlib.import_module("matplotlib.figure")
    k = scores.k
    xs, ys = scores.scores(x) - 1, scores.scores(y) - 1
    pos = ys * k + xs
    counts = _numeric.bincount(pos, minlength=k * k).reshape(k, k).astype(float)
    money = np.asarray(scores.table.monetary_value, dtype=np.float64)
    totals = _numeric.bincount(pos, weights=money, minlength=k * k).reshape(k, k)
    with np.errstate(invalid="ignore", divide="ignore"):
        grid = {
            "customers": counts,
            "share": counts / max(len(scores), 1),
            "mean_monetary_value": np.where(counts > 0, totals / counts, np.nan),
            "total_monetary_value": np.where(counts > 0, totals, np.nan),
        }[value]
    fig = figure_mod.Figure(figsize=(1.2 * k + 2.0, 1.0 * k + 1.5))
    ax = fig.add_subplot()
    shown = np.ma.masked_invalid(np.where(counts > 0, grid, np.nan))
    im = ax.imshow(shown, origin="lower", cmap="viridis", aspect="auto")
    fig.colorbar(im, ax=ax, label=value.replace("_", " "))
    ticks = np.arange(k)
    ax.set_xticks(ticks, [str(i + 1) for i in ticks])
    ax.set_yticks(ticks, [str(i + 1) for i in ticks])
    ax.set_xlabel(_LABELS.get(x, f"{x.replace('_', ' ')} score"))
    ax.set_ylabel(_LABELS.get(y, f"{y.replace('_', ' ')} score"))
    vmax = float(np.nanmax(grid)) if np.isfinite(grid).any() else 0.0
    for (row, col), c in np.ndenumerate(counts):
        if c == 0:
            continue
        val = grid[row, col]
        text = f"{val:.0%}" if value == "share" else f"{val:,.0f}"
        colour = "black" if vmax and val > 0.6 * vmax else "white"
        ax.text(col, row, text, ha="center", va="center", fontsize=8, color=colour)
    ax.set_title(title or f"RFM {value.replace('_', ' ')} by {x} and {y} score")
    return fig
