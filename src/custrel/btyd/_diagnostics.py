"""The classic BTYD diagnostics as data.

Frequency-recency matrix, calibration/holdout comparison and repeat-purchase histogram.
"""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from custrel import _numeric
from custrel import _validate as v
from custrel._lazy import LazyModule
from custrel.btyd._base import RepeatPurchaseModel
from custrel.btyd._common import _wsum
from custrel.btyd._summary import BTYDSummary
from custrel.errors import (
    InvalidInputError,
    InvalidTypeError,
)

special = LazyModule("scipy.special")  # imported on first use (import time)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


# ---------------------------------------------------------------------------
# Diagnostics as data
# ---------------------------------------------------------------------------


def _check_model(model: Any, name: str = "model") -> RepeatPurchaseModel:
    if not isinstance(model, RepeatPurchaseModel):
        raise InvalidTypeError(
            f"{name} must be a fitted BG/NBD, MBG/NBD, Pareto/NBD or BG/BB model, "
            f"got {type(model).__name__}"
        )
    return model


@attrs.frozen(eq=False)
class FrequencyRecencyMatrix:
    """A model quantity over a grid of frequency and recency at one age T.

    Attributes
    ----------
    frequency : numpy.ndarray
        Row values (0, 1, ..., max_frequency).
    recency : numpy.ndarray
        Column values (from 0 to T).
    values : numpy.ndarray
        ``values[i, j]`` for ``frequency[i]`` and ``recency[j]``; NaN where
        the combination is impossible (recency > 0 without repeat purchases).
    quantity : str
        ``"expected_purchases"`` or ``"probability_alive"``.
    T : float
        The customers' age.
    t : float
        The forecast window for expected purchases.
    """

    frequency: FloatArray = attrs.field(converter=v.readonly)
    recency: FloatArray = attrs.field(converter=v.readonly)
    values: FloatArray = attrs.field(converter=v.readonly)
    quantity: str
    T: float
    t: float


def frequency_recency_matrix(
    model: RepeatPurchaseModel,
    T: float,
    *,
    quantity: str = "expected_purchases",
    t: float = 1.0,
    max_frequency: int | None = None,
    n_recency: int | None = None,
) -> FrequencyRecencyMatrix:
    """Expected purchases or P(alive) over a frequency x recency grid (Fader et al. 2005).

    Parameters
    ----------
    model : BGNBDModel, MBGNBDModel, ParetoNBDModel or BGBBModel
        A fitted repeat-purchase model.
    T : float
        The age of the customers (for example the calibration length).
    quantity : {"expected_purchases", "probability_alive"}
        What to tabulate.
    t : float
        Forecast window for ``"expected_purchases"``.
    max_frequency : int, optional
        Largest frequency row (default: ``T`` rounded down, at least 1).
    n_recency : int, optional
        Number of recency columns from 0 to T (default: ``max_frequency + 1``).

    Returns
    -------
    FrequencyRecencyMatrix

    Raises
    ------
    InvalidTypeError
        If ``model`` is not a repeat-purchase model.
    InvalidInputError
        On a negative T or t, or an unknown quantity.

    Examples
    --------
    >>> from custrel.btyd import BGNBDModel, frequency_recency_matrix
    >>> m = BGNBDModel.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
    >>> fr = frequency_recency_matrix(m, 38.86, quantity="probability_alive", max_frequency=2,
    ...                               n_recency=2)
    >>> fr.values.round(2).tolist()
    [[1.0, nan], [0.15, 0.75], [0.03, 0.81]]
    """
    mod = _check_model(model)
    big_t = v.scalar(T, "T", low=0.0)
    tt = v.scalar(t, "t", low=0.0)
    v.choice(quantity, "quantity", ("expected_purchases", "probability_alive"))
    kmax = (
        max(int(big_t), 1)
        if max_frequency is None
        else v.positive_int(max_frequency, "max_frequency")
    )
    ncol = kmax + 1 if n_recency is None else v.positive_int(n_recency, "n_recency", minimum=2)
    if mod._discrete:
        ncol = int(big_t) + 1
    v.check_budget(
        float(kmax + 1) * ncol,
        "the frequency x recency grid",
        budget=v.max_cells(),
        culprit=f"{kmax + 1} frequencies x {ncol} recencies (T={big_t:g})",
        env="CUSTREL_MAX_CELLS",
        hint="pass a smaller max_frequency or n_recency",
    )
    freq = np.arange(kmax + 1, dtype=np.float64)
    if mod._discrete:
        rec = np.arange(int(big_t) + 1, dtype=np.float64)
    else:
        rec = np.linspace(0.0, big_t, ncol)
    ff, rr = np.meshgrid(freq, rec, indexing="ij")
    valid = ~((ff == 0) & (rr > 0))
    if mod._discrete:
        valid &= (ff <= rr) | (ff == 0)
    fx, rx = ff[valid], rr[valid]
    tx = np.full(fx.shape, big_t)
    if quantity == "probability_alive":
        vals = mod._alive(fx, rx, tx)
    else:
        vals = mod._conditional(np.asarray(tt), fx, rx, tx)
    out = np.full(ff.shape, np.nan)
    out[valid] = vals
    return FrequencyRecencyMatrix(
        frequency=freq, recency=rec, values=out, quantity=quantity, T=big_t, t=tt
    )


@attrs.frozen(eq=False)
class HoldoutComparison:
    """Calibration-period frequency against holdout purchases, actual and predicted.

    Attributes
    ----------
    frequency : numpy.ndarray
        Calibration frequency of each group (the last group holds this
        frequency and above).
    n_customers : numpy.ndarray
        Customers in each group (sum of weights).
    actual : numpy.ndarray
        Mean holdout purchases per customer in each group.
    predicted : numpy.ndarray
        Mean conditional expected purchases over the holdout window.
    holdout_duration : float
        Length of the holdout window.
    """

    frequency: FloatArray = attrs.field(converter=v.readonly)
    n_customers: FloatArray = attrs.field(converter=v.readonly)
    actual: FloatArray = attrs.field(converter=v.readonly)
    predicted: FloatArray = attrs.field(converter=v.readonly)
    holdout_duration: float

    def mean_absolute_error(self) -> float:
        """Customer-weighted mean absolute difference of predicted and actual group means."""
        w = self.n_customers
        return _wsum(w, np.abs(self.predicted - self.actual)) / float(w.sum())


def calibration_holdout_comparison(
    model: RepeatPurchaseModel, summary: BTYDSummary, *, max_frequency: int = 7
) -> HoldoutComparison:
    """Mean holdout purchases by calibration frequency, actual and predicted (FHL 2005, fig. 4).

    Parameters
    ----------
    model : BGNBDModel, MBGNBDModel, ParetoNBDModel or BGBBModel
        A model fitted on the calibration columns of ``summary``.
    summary : BTYDSummary
        A summary with a holdout window (``rfm_summary(..., calibration_end=...)``).
    max_frequency : int
        Customers with this frequency or more form the last group.

    Returns
    -------
    HoldoutComparison

    Raises
    ------
    InvalidInputError
        If the summary has no holdout window.

    Examples
    --------
    >>> from custrel import (BGNBDModel, TransactionLog, rfm_summary,
    ...                      calibration_holdout_comparison)
    >>> log = TransactionLog.from_arrays(customer_id=[1, 1, 1, 2, 2, 3],
    ...                                  time=[0.0, 2.0, 6.0, 1.0, 3.0, 2.0], amount=[5.0] * 6)
    >>> s = rfm_summary(log, calibration_end=4.0, observation_end=8.0)
    >>> m = BGNBDModel.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
    >>> c = calibration_holdout_comparison(m, s, max_frequency=1)
    >>> c.n_customers.tolist(), c.actual.tolist(), c.predicted.round(3).tolist()
    ([1.0, 2.0], [0.0, 0.5], [0.139, 0.403])
    """
    mod = _check_model(model)
    if not isinstance(summary, BTYDSummary):
        raise InvalidTypeError(f"summary must be a BTYDSummary, got {type(summary).__name__}")
    if summary.holdout_frequency is None or summary.holdout_duration is None:
        raise InvalidInputError(
            "summary has no holdout window; build it with rfm_summary(..., calibration_end=...)"
        )
    kmax = v.positive_int(max_frequency, "max_frequency")
    v.check_budget(
        float(kmax + 1),
        "the frequency groups",
        budget=v.max_periods(),
        culprit=f"max_frequency={kmax}",
        env="CUSTREL_MAX_PERIODS",
    )
    x, tx, big_t = np.asarray(summary.frequency), np.asarray(summary.recency), np.asarray(summary.T)
    w = np.asarray(summary.weights)
    pred = mod._conditional(np.asarray(summary.holdout_duration), x, tx, big_t)
    group = np.minimum(x, kmax).astype(np.int64)
    n = _numeric.bincount(group, weights=w, minlength=kmax + 1)
    act = _numeric.bincount(
        group, weights=w * np.asarray(summary.holdout_frequency), minlength=kmax + 1
    )
    prd = _numeric.bincount(group, weights=w * pred, minlength=kmax + 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return HoldoutComparison(
            frequency=np.arange(kmax + 1, dtype=np.float64),
            n_customers=n,
            actual=act / n,
            predicted=prd / n,
            holdout_duration=float(summary.holdout_duration),
        )


@attrs.frozen(eq=False)
class RepeatPurchaseHistogram:
    """Customers by number of repeat purchases in the calibration window, actual and expected.

    Attributes
    ----------
    frequency : numpy.ndarray
        0, 1, ..., max_frequency; the last bin holds this frequency and above.
    actual : numpy.ndarray
        Customers with each frequency (sum of weights).
    expected : numpy.ndarray
        Expected customers: the sum over customers of P(X(T_i) = k) (last
        bin: the rest, so both columns add up to the number of customers).
    """

    frequency: FloatArray = attrs.field(converter=v.readonly)
    actual: FloatArray = attrs.field(converter=v.readonly)
    expected: FloatArray = attrs.field(converter=v.readonly)

    def chi_square(self) -> float:
        """Pearson's statistic sum((actual - expected)^2 / expected)."""
        return float(np.sum((self.actual - self.expected) ** 2 / self.expected))


def repeat_purchase_histogram(
    model: RepeatPurchaseModel, summary: BTYDSummary, *, max_frequency: int = 7
) -> RepeatPurchaseHistogram:
    """Actual and expected numbers of customers by repeat purchases (FHL 2005, fig. 2).

    Parameters
    ----------
    model : BGNBDModel, MBGNBDModel, ParetoNBDModel or BGBBModel
        A model fitted on ``summary``.
    summary : BTYDSummary
        The calibration summary (each customer's own T is used).
    max_frequency : int
        The last bin holds this frequency and above.

    Returns
    -------
    RepeatPurchaseHistogram

    Examples
    --------
    >>> from custrel import BGNBDModel, repeat_purchase_histogram
    >>> m = BGNBDModel.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
    >>> h = repeat_purchase_histogram(m, m.simulate(2000, 39.0, rng=1), max_frequency=3)
    >>> h.actual.tolist(), h.expected.round(0).tolist()
    ([1196.0, 374.0, 182.0, 248.0], [1148.0, 399.0, 171.0, 283.0])
    """
    mod = _check_model(model)
    if not isinstance(summary, BTYDSummary):
        raise InvalidTypeError(f"summary must be a BTYDSummary, got {type(summary).__name__}")
    kmax = v.positive_int(max_frequency, "max_frequency")
    x, big_t, w = np.asarray(summary.frequency), np.asarray(summary.T), np.asarray(summary.weights)
    # one evaluation per distinct T
    (uniq_t,), wt, _ = _numeric.compress_rows([big_t], w)
    v.check_budget(
        float(kmax + 1),
        "the histogram bins",
        budget=v.max_periods(),
        culprit=f"max_frequency={kmax}",
        env="CUSTREL_MAX_PERIODS",
    )
    v.check_budget(
        float(kmax) * len(uniq_t),
        "the histogram probabilities (bins x distinct T)",
        budget=v.max_cells(),
        culprit=f"max_frequency={kmax} for {len(uniq_t)} distinct T",
        env="CUSTREL_MAX_CELLS",
    )
    k = np.arange(kmax, dtype=np.float64)
    probs = np.stack([mod._pmf(np.full(len(uniq_t), kk), uniq_t) for kk in k], axis=1)
    expected = np.empty(kmax + 1)
    expected[:kmax] = (wt[:, None] * probs).sum(axis=0)
    expected[kmax] = float(w.sum()) - expected[:kmax].sum()
    actual = _numeric.bincount(np.minimum(x, kmax).astype(np.int64), weights=w, minlength=kmax + 1)
    return RepeatPurchaseHistogram(
        frequency=np.arange(kmax + 1, dtype=np.float64), actual=actual, expected=expected
    )
