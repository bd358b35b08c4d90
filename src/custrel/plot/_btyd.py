"""Diagnostic figures of the BTYD models (private; see custrel.plot)."""

from __future__ import annotations

from typing import Any

import numpy as np

from custrel._plotting import pyplot, subplots, tight
from custrel.btyd import FrequencyRecencyMatrix, HoldoutComparison, RepeatPurchaseHistogram
from custrel.btyd._predictions import TrackingResult
from custrel.errors import InvalidInputError, InvalidTypeError

__all__ = [
    "plot_calibration_holdout",
    "plot_frequency_recency_matrix",
    "plot_repeat_purchases",
    "plot_tracking",
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
    tight(fig)
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
    tight(fig)
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
    tight(fig)
    return fig


_TRACKING_KINDS = ("both", "cumulative", "incremental")


def plot_tracking(tracking: TrackingResult, *, kind: str = "both", title: str | None = None) -> Any:
    """Draw actual and expected repeat transactions by calendar period (the tracking plot).

    Parameters
    ----------
    tracking : TrackingResult
        The result of :meth:`RepeatPurchaseModel.expected_cumulative_transactions
        <custrel.btyd.RepeatPurchaseModel.expected_cumulative_transactions>`.
    kind : {"both", "cumulative", "incremental"}
        Cumulative totals (Fader, Hardie & Lee 2005, fig. 1), repeat
        transactions per period, or both side by side (default).
    title : str, optional
        The figure title.

    Returns
    -------
    matplotlib.figure.Figure
        Actual (solid) and model (dashed) lines over time; a dotted vertical
        line marks the end of the calibration period when the result has one.

    Raises
    ------
    InvalidTypeError
        If ``tracking`` is not a :class:`~custrel.btyd.TrackingResult`.
    InvalidInputError
        If ``kind`` is not one of the three.
    MissingDependencyError
        If matplotlib is not installed.

    Examples
    --------
    >>> from custrel import BGNBDModel, TransactionLog
    >>> from custrel.plot import plot_tracking
    >>> m = BGNBDModel.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
    >>> log = TransactionLog.from_arrays(customer_id=[1, 1, 2, 2], time=[0.0, 2.0, 3.0, 9.0])
    >>> fig = plot_tracking(m.expected_cumulative_transactions(log, [5.0, 10.0]))
    >>> [ax.get_ylabel() for ax in fig.axes]
    ['cumulative repeat transactions', 'repeat transactions per period']
    """
    if not isinstance(tracking, TrackingResult):
        raise InvalidTypeError(
            "tracking must be a TrackingResult (from expected_cumulative_transactions), "
            f"got {type(tracking).__name__}"
        )
    if not isinstance(kind, str) or kind not in _TRACKING_KINDS:  # (an array compares elementwise)
        raise InvalidInputError(f"kind must be one of {list(_TRACKING_KINDS)!r}, got {kind!r}")
    panels = ["cumulative", "incremental"] if kind == "both" else [kind]
    if len(panels) == 1:
        fig, ax = subplots((6.4, 4.0))
        axes = [ax]
    else:
        pyplot()  # checks that matplotlib is installed and selects a file backend
        from matplotlib.figure import Figure

        fig = Figure(figsize=(11.0, 4.0))
        axes = list(fig.subplots(1, 2))
    time = np.asarray(tracking.time)
    cal = tracking.calibration_end
    cal_x: Any = None
    if cal is not None:
        cal_x = np.datetime64(str(cal), "s") if np.issubdtype(time.dtype, np.datetime64) else cal
    for ax, panel in zip(axes, panels, strict=True):
        if panel == "cumulative":
            actual, expected = tracking.actual_cumulative, tracking.expected_cumulative
            ax.set_ylabel("cumulative repeat transactions")
        else:
            actual, expected = tracking.actual_incremental, tracking.expected_incremental
            ax.set_ylabel("repeat transactions per period")
        ax.plot(time, actual, label="actual")
        ax.plot(time, expected, linestyle="--", label="model")
        if cal_x is not None:
            ax.axvline(cal_x, color="grey", linestyle=":", label="end of calibration")
        ax.set_xlabel("time")
        ax.legend()
    fig.suptitle(title if title is not None else "Tracking: actual vs model repeat transactions")
    if np.issubdtype(time.dtype, np.datetime64):
        fig.autofmt_xdate()
    tight(fig)
    return fig
