"""Diagnostic figures of the BTYD models (private; see custrel.plot)."""

from __future__ import annotations

from typing import Any

import numpy as np

from custrel._plotting import subplots
from custrel.btyd import FrequencyRecencyMatrix, HoldoutComparison, RepeatPurchaseHistogram
from custrel.errors import InvalidTypeError

__all__ = [
    "plot_calibration_holdout",
    "plot_frequency_recency_matrix",
    "plot_repeat_purchases",
]


def plot_frequency_recency_matrix(
    matrix: FrequencyRecencyMatrix, *, title: str | None = None
) -> Any:
    """Draw a frequency/recency matrix as a heat map (Fader, Hardie & Lee 2005, fig. 6).

    Parameters
    ----------
    matrix : FrequencyRecencyMatrix
        The result of :func:`custrel.frequency_recency_matrix`.
    title : str, optional
        The figure title (default: names the quantity and T).

    Returns
    -------
    matplotlib.figure.Figure
        Frequency on the vertical axis (0 at the top), recency on the
        horizontal axis; impossible cells (NaN) are left blank.

    Raises
    ------
    InvalidTypeError
        If ``matrix`` is not a :class:`~custrel.btyd.FrequencyRecencyMatrix`.
    MissingDependencyError
        If matplotlib is not installed.

    Examples
    --------
    >>> from custrel import BGNBDModel, frequency_recency_matrix
    >>> from custrel.plot import plot_frequency_recency_matrix
    >>> m = BGNBDModel.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
    >>> fig = plot_frequency_recency_matrix(frequency_recency_matrix(m, 38.86, max_frequency=5))
    >>> fig.axes[0].get_xlabel(), fig.axes[0].get_ylabel()
    ('recency', 'frequency')
    """
    if not isinstance(matrix, FrequencyRecencyMatrix):
        raise InvalidTypeError(
            "matrix must be a FrequencyRecencyMatrix (from frequency_recency_matrix), "
            f"got {type(matrix).__name__}"
        )
    fig, ax = subplots((6.4, 4.8))
    values = np.ma.masked_invalid(np.asarray(matrix.values))
    rec = np.asarray(matrix.recency)
    freq = np.asarray(matrix.frequency)
    extent = (float(rec[0]), float(rec[-1]), float(freq[-1]) + 0.5, float(freq[0]) - 0.5)
    image = ax.imshow(values, aspect="auto", interpolation="nearest", extent=extent, cmap="viridis")
    label = (
        "P(alive)"
        if matrix.quantity == "probability_alive"
        else f"expected purchases in the next {matrix.t:g}"
    )
    fig.colorbar(image, ax=ax, label=label)
    ax.set_xlabel("recency")
    ax.set_ylabel("frequency")
    ax.set_title(
        title if title is not None else f"{label} by frequency and recency (T = {matrix.T:g})"
    )
    fig.tight_layout()
    return fig


def plot_calibration_holdout(comparison: HoldoutComparison, *, title: str | None = None) -> Any:
    """Draw mean holdout purchases by calibration frequency, actual and predicted.

    Parameters
    ----------
    comparison : HoldoutComparison
        The result of :func:`custrel.calibration_holdout_comparison`.
    title : str, optional
        The figure title.

    Returns
    -------
    matplotlib.figure.Figure
        Two lines (actual, predicted) over the calibration frequency; the
        last group holds that frequency and more.

    Raises
    ------
    InvalidTypeError
        If ``comparison`` is not a :class:`~custrel.btyd.HoldoutComparison`.
    MissingDependencyError
        If matplotlib is not installed.
    """
    if not isinstance(comparison, HoldoutComparison):
        raise InvalidTypeError(
            "comparison must be a HoldoutComparison (from calibration_holdout_comparison), "
            f"got {type(comparison).__name__}"
        )
    fig, ax = subplots((6.4, 4.0))
    f = np.asarray(comparison.frequency)
    ax.plot(f, comparison.actual, marker="o", label="actual")
    ax.plot(f, comparison.predicted, marker="s", linestyle="--", label="model")
    ticks = [str(int(v)) for v in f]
    ticks[-1] += "+"
    ax.set_xticks(f, ticks)
    ax.set_xlabel("repeat purchases in the calibration period")
    ax.set_ylabel(f"mean purchases in the holdout ({comparison.holdout_duration:g})")
    ax.legend()
    ax.set_title(title if title is not None else "Conditional expectations: calibration vs holdout")
    fig.tight_layout()
    return fig


def plot_repeat_purchases(histogram: RepeatPurchaseHistogram, *, title: str | None = None) -> Any:
    """Draw actual and expected customers by number of repeat purchases (FHL 2005, fig. 2).

    Parameters
    ----------
    histogram : RepeatPurchaseHistogram
        The result of :func:`custrel.repeat_purchase_histogram`.
    title : str, optional
        The figure title.

    Returns
    -------
    matplotlib.figure.Figure
        Paired bars, actual and model, per frequency; the last bar holds that
        frequency and more.

    Raises
    ------
    InvalidTypeError
        If ``histogram`` is not a :class:`~custrel.btyd.RepeatPurchaseHistogram`.
    MissingDependencyError
        If matplotlib is not installed.
    """
    if not isinstance(histogram, RepeatPurchaseHistogram):
        raise InvalidTypeError(
            "histogram must be a RepeatPurchaseHistogram (from repeat_purchase_histogram), "
            f"got {type(histogram).__name__}"
        )
    fig, ax = subplots((6.4, 4.0))
    f = np.asarray(histogram.frequency)
    ax.bar(f - 0.2, histogram.actual, width=0.4, label="actual")
    ax.bar(f + 0.2, histogram.expected, width=0.4, label="model")
    ticks = [str(int(v)) for v in f]
    ticks[-1] += "+"
    ax.set_xticks(f, ticks)
    ax.set_xlabel("repeat purchases")
    ax.set_ylabel("customers")
    ax.legend()
    ax.set_title(title if title is not None else "Repeat purchases: actual vs model")
    fig.tight_layout()
    return fig
