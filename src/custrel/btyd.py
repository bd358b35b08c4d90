r"""Probabilistic "buy till you die" (BTYD) customer-base models.

Per-customer forecasts of repeat purchasing, survival and spend from each
customer's recency-frequency-monetary summary:

* :func:`rfm_summary` turns a :class:`~custrel.TransactionLog` into
  frequency, recency, T and mean repeat spend per customer (with an optional
  calibration / holdout split), and :meth:`BTYDSummary.compressed` merges
  identical customers into weighted rows;
* :func:`fit_bgnbd` (BG/NBD, Fader, Hardie & Lee 2005), :func:`fit_mbgnbd`
  (MBG/NBD, Batislam, Denizel & Filiztekin 2007) and :func:`fit_pareto_nbd`
  (Pareto/NBD, Schmittlein, Morrison & Colombo 1987) model repeat purchases
  in continuous time; :func:`fit_bgbb` (BG/BB, Fader, Hardie & Shang 2010)
  does so for discrete transaction opportunities; :func:`fit_gamma_gamma`
  (Fader, Hardie & Lee 2005) models the spend per transaction;
* every fit is a maximum-likelihood fit with analytic gradients in log space,
  accepts ``weights`` and returns a frozen model with ``params`` (the papers'
  own names), ``log_likelihood`` and ``standard_errors`` (from the Hessian),
  whose methods predict for many customers at once;
* :func:`frequency_recency_matrix`, :func:`calibration_holdout_comparison`
  and :func:`repeat_purchase_histogram` are the classic diagnostics as data
  (figures in :mod:`custrel.plot`).

Vocabulary (lifetimes / pymc-marketing): ``frequency`` is the number of
*repeat* purchases (purchase periods after the first), ``recency`` the age of
the customer at the last purchase (time from the first to the last purchase),
``T`` the age at the end of the observation window (time from the first
purchase to the end), ``monetary_value`` the mean spend of the repeat
purchases. Times are in one unit throughout (for example weeks).

Examples
--------
>>> from custrel import BGNBDModel, fit_bgnbd
>>> truth = BGNBDModel.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
>>> sim = truth.simulate(5000, T=39.0, rng=1)
>>> model = fit_bgnbd(sim.frequency, sim.recency, sim.T, weights=sim.weights)
>>> round(model.params["r"], 1), round(model.params["alpha"], 0)
(0.2, 4.0)
>>> model.probability_alive([0, 3], [0.0, 10.0], [39.0, 39.0]).round(2).tolist()
[1.0, 0.14]
"""

from __future__ import annotations

import abc
import types
import warnings
from collections.abc import Mapping
from typing import Any, ClassVar

import attrs
import numpy as np
import numpy.typing as npt

from custrel import _numeric, _pareto_nbd
from custrel import _validate as v
from custrel._lazy import LazyModule
from custrel._tabular import Tabular
from custrel.errors import (
    ConvergenceError,
    CustrelError,
    EmptyInputError,
    FitWarning,
    InvalidInputError,
    InvalidTypeError,
)
from custrel.models import TransactionLog

special = LazyModule("scipy.special")  # imported on first use (import time)

__all__ = [
    "BGBBModel",
    "BGNBDModel",
    "BTYDModel",
    "BTYDSummary",
    "FrequencyRecencyMatrix",
    "GGompertzNBDModel",
    "GammaGammaModel",
    "HoldoutComparison",
    "MBGNBDModel",
    "ParetoNBDModel",
    "RepeatPurchaseHistogram",
    "RepeatPurchaseModel",
    "calibration_holdout_comparison",
    "fit_bgbb",
    "fit_bgnbd",
    "fit_gamma_gamma",
    "fit_ggomnbd",
    "fit_mbgnbd",
    "fit_pareto_nbd",
    "frequency_recency_matrix",
    "repeat_purchase_histogram",
    "rfm_summary",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def _gammaln(*args: Any, **kwargs: Any) -> Any:
    return special.gammaln(*args, **kwargs)


def _psi(*args: Any, **kwargs: Any) -> Any:
    return special.digamma(*args, **kwargs)


def _betaln(*args: Any, **kwargs: Any) -> Any:
    return special.betaln(*args, **kwargs)


def _wsum(w: FloatArray, values: FloatArray) -> float:
    """Weighted sum without BLAS (whose threads thrash on a busy machine)."""
    return float((w * values).sum())


def _wsums(w: FloatArray, *values: FloatArray) -> FloatArray:
    """Weighted sums of several arrays (a gradient), without BLAS."""
    return np.asarray([(w * v_).sum() for v_ in values], dtype=np.float64)


def _frozen_mapping(value: Mapping[str, float]) -> Mapping[str, float]:
    return types.MappingProxyType({str(k): float(x) for k, x in value.items()})


# ---------------------------------------------------------------------------
# RFM summary
# ---------------------------------------------------------------------------


@attrs.frozen(eq=False)
class BTYDSummary(Tabular):
    """Per-customer recency, frequency, age and repeat spend (the BTYD inputs).

    Build one with :func:`rfm_summary`; :meth:`compressed` merges identical
    rows into weighted ones.

    Attributes
    ----------
    customer_id : numpy.ndarray or None
        The customer ids (sorted), or ``None`` for a compressed summary whose
        rows are groups of customers.
    frequency : numpy.ndarray of float64
        Repeat purchases: the number of purchase periods after the first one.
    recency : numpy.ndarray of float64
        Time from the first to the last purchase (0 when ``frequency`` is 0).
    T : numpy.ndarray of float64
        Time from the first purchase to the end of the calibration window.
    monetary_value : numpy.ndarray of float64 or None
        Mean spend of the repeat purchase periods, the first purchase left
        out (Fader, Hardie & Lee 2005); NaN where ``frequency`` is 0 (the
        mean of no purchases). ``None`` in a compressed summary.
    weights : numpy.ndarray of float64
        Customers per row (1 for a per-customer summary).
    holdout_frequency : numpy.ndarray of float64 or None
        Purchase periods in the holdout window, when there is one.
    holdout_monetary_value : numpy.ndarray of float64 or None
        Mean spend of the holdout purchase periods (NaN where there were none).
    holdout_duration : float or None
        Length of the holdout window, in ``unit``.
    unit : str or float
        The time unit of recency, T and the holdout duration.
    period : str, float or None
        Purchases within one such period were merged into one; ``None`` if
        no merging was done.
    calibration_end, observation_end : date or float
        Ends of the calibration window and of the data (the same without a
        holdout).
    n_rows_after_end : int
        Rows of the log after ``observation_end`` that were left out.
    n_customers_after_calibration : int
        Customers whose first purchase falls after ``calibration_end``; they
        have no calibration history and are not in the summary.
    n_customers_returns_only : int
        Customers with returns or cancellations (negative amounts) but no
        purchase up to ``observation_end``; they are not in the summary.
    n_returns : int
        Return and cancellation rows up to ``observation_end`` whose amounts
        were netted into the summarised customers' values.
    """

    customer_id: npt.NDArray[Any] | None = attrs.field(converter=v.readonly_or_none)
    frequency: FloatArray = attrs.field(converter=v.readonly)
    recency: FloatArray = attrs.field(converter=v.readonly)
    T: FloatArray = attrs.field(converter=v.readonly)
    monetary_value: FloatArray | None = attrs.field(converter=v.readonly_or_none)
    weights: FloatArray = attrs.field(converter=v.readonly)
    holdout_frequency: FloatArray | None = attrs.field(default=None, converter=v.readonly_or_none)
    holdout_monetary_value: FloatArray | None = attrs.field(
        default=None, converter=v.readonly_or_none
    )
    holdout_duration: float | None = None
    unit: str | float = 1.0
    period: str | float | None = None
    calibration_end: Any = None
    observation_end: Any = None
    n_rows_after_end: int = 0
    n_customers_after_calibration: int = 0
    n_customers_returns_only: int = 0
    n_returns: int = 0

    def __len__(self) -> int:
        return len(self.frequency)

    @property
    def n_customers(self) -> float:
        """Number of customers (the sum of the weights)."""
        return float(self.weights.sum())

    def compressed(self) -> BTYDSummary:
        """Merge customers with identical (frequency, recency, T) into weighted rows.

        The weights count the customers of each row, so every fit gives the
        same estimates on the compressed summary as on the full one, with one
        likelihood evaluation per distinct row. The per-customer columns
        (``customer_id``, ``monetary_value`` and the holdout columns) do not
        survive the merge and are left out.

        Returns
        -------
        BTYDSummary
            Sorted by frequency, recency, T; ``customer_id`` is ``None``.

        Examples
        --------
        >>> from custrel import TransactionLog, rfm_summary
        >>> log = TransactionLog.from_arrays(customer_id=[1, 2, 3], time=[0.0, 0.0, 1.0],
        ...                                  amount=[5.0, 6.0, 7.0])
        >>> s = rfm_summary(log, observation_end=4.0).compressed()
        >>> s.T.tolist(), s.weights.tolist()
        ([3.0, 4.0], [1.0, 2.0])
        """
        (f, r, t), w, _ = _numeric.compress_rows(
            [np.asarray(self.frequency), np.asarray(self.recency), np.asarray(self.T)],
            np.asarray(self.weights),
        )
        return BTYDSummary(
            customer_id=None,
            frequency=f,
            recency=r,
            T=t,
            monetary_value=None,
            weights=w,
            holdout_duration=self.holdout_duration,
            unit=self.unit,
            period=self.period,
            calibration_end=self.calibration_end,
            observation_end=self.observation_end,
            n_rows_after_end=self.n_rows_after_end,
            n_customers_after_calibration=self.n_customers_after_calibration,
            n_customers_returns_only=self.n_customers_returns_only,
            n_returns=self.n_returns,
        )

    def repeat_buyers(self) -> BTYDSummary:
        """The customers with at least one repeat purchase (the Gamma-Gamma sample).

        Examples
        --------
        >>> from custrel import TransactionLog, rfm_summary
        >>> log = TransactionLog.from_arrays(customer_id=[1, 1, 2], time=[0.0, 2.0, 1.0],
        ...                                  amount=[5.0, 7.0, 3.0])
        >>> rfm_summary(log).repeat_buyers().customer_id.tolist()
        [1]
        """
        keep = np.asarray(self.frequency) > 0

        def sub(a: npt.NDArray[Any] | None) -> Any:
            return None if a is None else np.asarray(a)[keep]

        return attrs.evolve(
            self,
            customer_id=sub(self.customer_id),
            frequency=sub(self.frequency),
            recency=sub(self.recency),
            T=sub(self.T),
            monetary_value=sub(self.monetary_value),
            weights=sub(self.weights),
            holdout_frequency=sub(self.holdout_frequency),
            holdout_monetary_value=sub(self.holdout_monetary_value),
        )

    def to_arrays(self) -> dict[str, npt.NDArray[Any]]:
        """The per-row columns that are present, as a dict of copies."""
        names = (
            "customer_id",
            "frequency",
            "recency",
            "T",
            "monetary_value",
            "weights",
            "holdout_frequency",
            "holdout_monetary_value",
        )
        return {n: np.array(getattr(self, n)) for n in names if getattr(self, n) is not None}


def _end_period(log: TransactionLog, end_float: float, period: str | float, origin: Any) -> int:
    """The period index of one time, computed exactly as for the log's rows."""
    if log.time_kind == "datetime":
        when: Any = np.asarray([np.datetime64(int(end_float), "s")])
    else:
        when = np.asarray([end_float])
    one = TransactionLog.from_arrays(customer_id=[0], time=when, amount=[0.0])
    return int(one.period_index(period, origin=origin)[0])


def _time_value(log: TransactionLog, value: float) -> Any:
    return np.datetime64(int(value), "s") if log.time_kind == "datetime" else value


def _as_log(
    log: Any,
    customer_col: str | None,
    time_col: str | None,
    amount_col: str | None,
) -> TransactionLog:
    """The TransactionLog to summarise: ``log`` itself, or one read from a dataframe."""
    if isinstance(log, TransactionLog):
        given = [
            name
            for name, value in (
                ("customer_col", customer_col),
                ("time_col", time_col),
                ("amount_col", amount_col),
            )
            if value is not None
        ]
        if given:
            raise InvalidInputError(
                f"{given[0]} names a dataframe column, but log is a TransactionLog (whose "
                "columns are fixed); pass a dataframe, or leave the column names out"
            )
        return log
    is_frame = any(hasattr(log, attr) for attr in ("columns", "collect_schema", "schema"))
    if not is_frame or isinstance(log, type):
        raise InvalidTypeError(
            f"log must be a TransactionLog or a dataframe, got {type(log).__name__}"
        )
    for name, value in (
        ("customer_col", customer_col),
        ("time_col", time_col),
        ("amount_col", amount_col),
    ):
        if value is not None and not isinstance(value, str):
            raise InvalidTypeError(
                f"{name} must be a column name (str), got {type(value).__name__} {value!r}"
            )
    return TransactionLog.from_frame(
        log,
        customer_col="customer_id" if customer_col is None else customer_col,
        time_col="time" if time_col is None else time_col,
        amount_col=amount_col,
    )


def rfm_summary(
    log: Any,
    *,
    customer_col: str | None = None,
    time_col: str | None = None,
    amount_col: str | None = None,
    unit: str | float | None = None,
    period: str | float | None = "day",
    observation_end: Any = None,
    calibration_end: Any = None,
) -> BTYDSummary:
    r"""Frequency, recency, T and mean repeat spend per customer.

    Parameters
    ----------
    log : TransactionLog or dataframe
        The transactions: a :class:`~custrel.TransactionLog`, or a dataframe
        (pandas, polars, pyarrow, ... through the ``frames`` extra) whose
        columns are named by ``customer_col``, ``time_col`` and
        ``amount_col``; it is read with :meth:`TransactionLog.from_frame`.
    customer_col, time_col : str, optional
        For a dataframe: the customer and time columns (default
        ``"customer_id"`` and ``"time"``).
    amount_col : str, optional
        For a dataframe: the amount column. Without one (the default) the
        summary has no money (``monetary_value`` is ``None``), which is all
        a BG/NBD, MBG/NBD, Pareto/NBD or BG/BB fit needs.
    unit : str or float, optional
        The time unit of recency and T: ``"day"``, ``"week"``, ``"month"``,
        ``"quarter"``, ``"year"`` or a number of days for a log with calendar
        times (default ``"week"``); a positive number in the log's own time
        for a numeric log (default 1).
    period : str, float or None
        Purchases of one customer in the same period are merged into one
        purchase whose amount is their sum (default ``"day"``; periods as in
        :meth:`TransactionLog.period_index`). With a period, times are
        measured in whole periods, converted to ``unit`` by the nominal
        period length (a month is 365.25/12 days). ``None`` merges only
        purchases at the very same time and keeps exact times. Numeric logs
        have no ``"day"``: give a number or ``None`` (the default ``"day"``
        becomes ``None`` for them).
    observation_end : date or float, optional
        End of the data (inclusive); later rows are left out and counted in
        :attr:`BTYDSummary.n_rows_after_end`. Defaults to the last time in the
        log.
    calibration_end : date or float, optional
        End of the calibration window (inclusive). Purchases after it, up to
        ``observation_end``, form the holdout window: their count and mean
        spend per customer are in the holdout columns. Customers whose first
        purchase is after it are not in the summary (their number is in
        :attr:`BTYDSummary.n_customers_after_calibration`). With a ``period``
        the split follows whole periods: the period that contains
        ``calibration_end`` belongs to the calibration window.

    Returns
    -------
    BTYDSummary

    Raises
    ------
    InvalidTypeError
        If ``log`` is neither a :class:`~custrel.TransactionLog` nor a
        dataframe, or a column name is not a string.
    InvalidInputError
        If a unit or period does not fit the log's kind of time, a column
        name is given with a TransactionLog, or ``calibration_end`` is after
        ``observation_end`` or before the first purchase.
    EmptyInputError
        If the log has no purchase (empty, or returns only).

    Notes
    -----
    **Returns.** A row with a negative amount is a return or cancellation:
    it is netted into the customer's value but is never a purchase
    occasion, so it counts toward no frequency, recency, first purchase or
    T. A period (or instant) is a purchase occasion when it holds at least
    one purchase (amount >= 0, zero included); its amount is the net sum of
    all its rows, so a customer who buys once and returns it has frequency
    0 and a first purchase of net value 0. Returns in periods without a
    purchase add to the repeat value. Customers with returns only are left
    out and counted (:attr:`BTYDSummary.n_customers_returns_only`), as are
    the return rows netted (:attr:`BTYDSummary.n_returns`). A mean repeat
    spend can therefore be 0 or negative; the Gamma-Gamma model needs
    positive ones.

    For customer :math:`i` with purchase occasions
    :math:`t_0 < t_1 < \dots < t_x` in the calibration window ending at
    :math:`\tau`: frequency :math:`x`, recency :math:`t_x - t_0`,
    :math:`T = \tau - t_0`, monetary value :math:`\frac{1}{x}(V - s_0)`
    with :math:`V` the customer's net value in the window and :math:`s_0`
    that of the first occasion (the first purchase is left out, as in Fader,
    Hardie & Lee 2005 and lifetimes). One sort of a composite (customer,
    window, period) integer key and :func:`numpy.bincount`; no Python loop
    over rows.

    References
    ----------
    Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). "Counting your
    customers" the easy way: an alternative to the Pareto/NBD model.
    *Marketing Science* 24(2), 275-284.

    Examples
    --------
    >>> from custrel import TransactionLog, rfm_summary
    >>> log = TransactionLog.from_arrays(
    ...     customer_id=["a", "a", "a", "b"],
    ...     time=["2024-01-01", "2024-01-08", "2024-01-08", "2024-01-15"],
    ...     amount=[10.0, 4.0, 6.0, 3.0],
    ... )
    >>> s = rfm_summary(log, unit="week", observation_end="2024-01-29")
    >>> s.frequency.tolist(), s.recency.tolist(), s.T.tolist(), s.monetary_value.tolist()
    ([1.0, 0.0], [1.0, 0.0], [4.0, 2.0], [10.0, nan])

    A dataframe, with or without money; a return is not a purchase:

    >>> import pandas as pd
    >>> df = pd.DataFrame({"cust": ["a", "a", "b", "c"], "day": [0.0, 3.0, 1.0, 2.0],
    ...                    "paid": [20.0, -20.0, 5.0, -5.0]})
    >>> rfm_summary(df, customer_col="cust", time_col="day").monetary_value is None
    True
    >>> s = rfm_summary(df, customer_col="cust", time_col="day", amount_col="paid")
    >>> s.customer_id.tolist(), s.frequency.tolist(), s.n_customers_returns_only, s.n_returns
    (['a', 'b'], [0.0, 0.0], 1, 1)
    """
    log = _as_log(log, customer_col, time_col, amount_col)
    if log.n_rows == 0:
        raise EmptyInputError("log is empty; at least one transaction is needed")
    numeric = log.time_kind == "numeric"
    if unit is None:
        unit = 1.0 if numeric else "week"
    unit_len = log.unit_length(unit, "unit")
    if not (
        period is None
        or isinstance(period, str)
        or (
            isinstance(period, int | float | np.integer | np.floating)
            and not isinstance(period, bool)
        )
    ):
        raise InvalidTypeError(
            f"period must be a period name, a number or None, got {type(period).__name__} {period!r}"
        )
    if numeric and period == "day":
        period = None
    if period is not None:
        log.unit_length(period, "period")  # refuses an unknown name, nan, inf or <= 0 as period
    _check_unit_range(log, unit, unit_len, period)
    has_money = log.has_amount
    purchase = np.asarray(log.is_purchase, dtype=bool)  # amount >= 0 (all rows without money)
    t = log.numeric_time()
    if not purchase.any():
        raise EmptyInputError(
            f"log has no purchase: all {log.n_rows} rows are returns or cancellations "
            "(negative amounts)"
        )
    t_min = float(t[purchase].min())
    end = (
        float(t.max())
        if observation_end is None
        else log.to_time_float(observation_end, "observation_end")
    )
    if end < t_min:
        raise InvalidInputError(
            f"observation_end {observation_end!r} is before the first purchase in the log "
            f"({_time_value(log, t_min)})"
        )
    if calibration_end is None:
        cal = end
    else:
        cal = log.to_time_float(calibration_end, "calibration_end")
        if cal > end:
            raise InvalidInputError(
                f"calibration_end {calibration_end!r} is after observation_end "
                f"{_time_value(log, end)}; the holdout window would be empty"
            )
        if cal < t_min:
            raise InvalidInputError(
                f"calibration_end {calibration_end!r} is before the first purchase in the log "
                f"({_time_value(log, t_min)}); no customer has a calibration history"
            )
    keep = t <= end
    n_after = int(log.n_rows - np.count_nonzero(keep))
    codes = log.customer_code
    amount = log.amount if has_money else np.zeros(log.n_rows)
    if period is None:
        # exact times: merge only identical instants; rank the distinct times
        tt = t if n_after == 0 else t[keep]
        uniq, pidx = np.unique(tt, return_inverse=True)
        pidx = pidx.astype(np.int64).reshape(-1)
        cal_p = int(np.searchsorted(uniq, cal, side="right")) - 1
        end_p = cal_p
        ratio = 0.0  # unused: exact times below
    else:
        origin = _time_value(log, t_min)
        pidx = log.period_index(period, origin=origin)
        if n_after:
            pidx = pidx[keep]
        cal_p = _end_period(log, cal, period, origin)
        end_p = cal_p
        ratio = log.unit_length(period, "period") / unit_len
        uniq = np.empty(0)
    if n_after:
        codes, amount, tt_all, purchase = codes[keep], amount[keep], t[keep], purchase[keep]
    else:
        tt_all = t
    holdout = (tt_all > cal if period is None else pidx > cal_p).astype(np.int64)
    k = log.n_customers
    pmin = int(pidx.min())
    span = int(pidx.max()) - pmin + 1
    n_purch = purchase.astype(np.int64)
    if k * 2 * span < 2**62:
        key = codes * (2 * span)
        key += holdout * span
        key += pidx
        key -= pmin
        n_rows = len(key)
        if bool(np.all(key[1:] >= key[:-1])):
            skey, samount, spurch = key, amount, n_purch
        elif int(key.max()) < (2**63 - 1) // max(n_rows, 1):
            # one plain sort of key * n + row (much faster than argsort, which
            # would be needed to carry the amounts along)
            packed = key * n_rows
            packed += np.arange(n_rows, dtype=np.int64)
            packed.sort()
            skey, row = np.divmod(packed, n_rows)
            samount, spurch = amount[row], n_purch[row]
        else:  # pragma: no cover - keys too large to pack with the row number
            order = np.argsort(key)
            skey, samount, spurch = key[order], amount[order], n_purch[order]
        new = np.empty(len(skey), dtype=bool)
        new[0] = True
        np.not_equal(skey[1:], skey[:-1], out=new[1:])
        starts = np.flatnonzero(new)
        mkey = skey[starts]
        m_amount = np.add.reduceat(samount, starts)
        m_purch = np.add.reduceat(spurch, starts)
        m_period = mkey % span + pmin
        m_part = (mkey // span) % 2
        m_code = mkey // (2 * span)
    else:  # pragma: no cover - astronomically many periods times customers
        order = np.lexsort((pidx, holdout, codes))
        sc, sh, sp = codes[order], holdout[order], pidx[order]
        new = np.empty(len(sc), dtype=bool)
        new[0] = True
        new[1:] = (sc[1:] != sc[:-1]) | (sh[1:] != sh[:-1]) | (sp[1:] != sp[:-1])
        starts = np.flatnonzero(new)
        m_period, m_part, m_code = sp[starts], sh[starts], sc[starts]
        m_amount = np.add.reduceat(amount[order], starts)
        m_purch = np.add.reduceat(n_purch[order], starts)
    occasion = m_purch > 0  # a cell with at least one purchase row
    # per customer: every calibration cell's net amount (returns included) ...
    cal_mask = m_part == 0
    value_cal = np.bincount(m_code[cal_mask], weights=m_amount[cal_mask], minlength=k)
    # ... and the purchase occasions, sorted by period within each customer
    occ_cal = cal_mask & occasion
    c_code, c_period, c_amount = m_code[occ_cal], m_period[occ_cal], m_amount[occ_cal]
    n_cal = np.bincount(c_code, minlength=k)
    present = n_cal > 0
    has_purchase = np.bincount(m_code[occasion], minlength=k) > 0
    seen = np.bincount(m_code, minlength=k) > 0
    n_excluded = int(np.count_nonzero(~present & has_purchase))
    n_returns_only = int(np.count_nonzero(seen & ~has_purchase))
    if not present.any():  # pragma: no cover - cal >= t_min guarantees a purchase
        raise EmptyInputError("no purchase falls in the calibration window")
    grp_start = np.flatnonzero(np.r_[True, c_code[1:] != c_code[:-1]])
    grp_end = np.r_[grp_start[1:], len(c_code)] - 1
    first_p = c_period[grp_start]
    last_p = c_period[grp_end]
    repeat_value = value_cal[present] - c_amount[grp_start]
    freq = (grp_end - grp_start).astype(np.float64)
    if period is None:
        first_t, last_t = uniq[first_p], uniq[last_p]
        recency = (last_t - first_t) / unit_len
        big_t = (cal - first_t) / unit_len
    else:
        recency = (last_p - first_p).astype(np.float64) * ratio
        big_t = (end_p - first_p).astype(np.float64) * ratio
    monetary: FloatArray | None = None
    if has_money:
        with np.errstate(invalid="ignore", divide="ignore"):
            monetary = np.where(freq > 0, repeat_value / np.maximum(freq, 1.0), np.nan)
    labels = log.customer_labels[present]
    returns_kept = ~purchase & present[codes]
    h_freq: FloatArray | None = None
    h_money: FloatArray | None = None
    h_dur: float | None = None
    if calibration_end is not None:
        h_mask = ~cal_mask
        h_occ = h_mask & occasion
        h_cnt = np.bincount(m_code[h_occ], minlength=k).astype(np.float64)[present]
        h_freq = h_cnt
        if has_money:
            h_sum = np.bincount(m_code[h_mask], weights=m_amount[h_mask], minlength=k)[present]
            with np.errstate(invalid="ignore", divide="ignore"):
                h_money = np.where(h_cnt > 0, h_sum / np.maximum(h_cnt, 1.0), np.nan)
        if period is None:
            h_dur = (end - cal) / unit_len
        else:
            origin = _time_value(log, t_min)
            h_dur = (_end_period(log, end, period, origin) - cal_p) * ratio
    return BTYDSummary(
        customer_id=labels,
        frequency=freq,
        recency=recency,
        T=big_t,
        monetary_value=monetary,
        weights=np.ones(len(freq)),
        holdout_frequency=h_freq,
        holdout_monetary_value=h_money,
        holdout_duration=h_dur,
        unit=unit,
        period=period,
        calibration_end=_time_value(log, cal),
        observation_end=_time_value(log, end),
        n_rows_after_end=n_after,
        n_customers_after_calibration=n_excluded,
        n_customers_returns_only=n_returns_only,
        n_returns=int(np.count_nonzero(returns_kept)),
    )


def _check_unit_range(log: Any, unit: Any, unit_len: float, period: Any) -> None:
    """Refuse a ``unit`` so small that the log's span or one period is no finite count of units.

    Recency and T are the span divided by ``unit`` (and, with a period, a period
    count times period / unit); a subnormal unit makes them inf or NaN.
    """
    t = log.numeric_time()
    span = float(np.max(t) - np.min(t))
    longest = max(span, float(log.unit_length(period, "period")) if period is not None else 0.0)
    unit_len = float(unit_len)
    if longest / unit_len > _MAX_UNITS or not np.isfinite(longest / unit_len):
        raise InvalidInputError(
            f"unit={unit!r} is too small for this log: its span of {span:g} (in the log's time) "
            f"would be {longest / unit_len:.3g} units, beyond {_MAX_UNITS:.0e}; "
            "pass a larger unit"
        )


# Recency and T beyond this many units are refused (a subnormal ``unit``).
_MAX_UNITS = 1e15


# ---------------------------------------------------------------------------
# Validation of the summary columns
# ---------------------------------------------------------------------------


def _as_rfm(
    frequency: Any,
    recency: Any,
    T: Any,
    *,
    discrete: bool = False,
    allow_scalar: bool = False,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Validate (frequency, recency, T) and broadcast them to one shape."""
    ndim: int | tuple[int, ...] = (0, 1) if allow_scalar else 1
    x = v.as_float_array(frequency, "frequency", ndim=ndim)
    tx = v.as_float_array(recency, "recency", ndim=ndim)
    big_t = v.as_float_array(T, "T", ndim=ndim)
    if allow_scalar:
        if not x.shape == tx.shape == big_t.shape:
            try:
                x, tx, big_t = (np.array(a) for a in np.broadcast_arrays(x, tx, big_t))
            except ValueError:
                raise InvalidInputError(
                    f"frequency, recency and T must have the same length, got "
                    f"{x.size}, {tx.size} and {big_t.size}"
                ) from None
    else:
        v.check_same_length(frequency=x, recency=tx, T=big_t)
    v.check_range(x, "frequency", low=0.0)
    v.check_integer_valued(x, "frequency")
    v.check_range(tx, "recency", low=0.0)
    v.check_range(big_t, "T", low=0.0)
    bad = tx > big_t
    if bad.any():
        i = v.first_bad(bad)
        raise InvalidInputError(
            f"recency must be <= T, got recency {float(tx[i])!r} > T {float(big_t[i])!r} "
            f"at {v.where(i)}; recency is the age at the last purchase, T the age at the end"
        )
    bad = (x == 0) & (tx > 0)
    if bad.any():
        i = v.first_bad(bad)
        raise InvalidInputError(
            f"recency must be 0 where frequency is 0, got recency {float(tx[i])!r} at "
            f"{v.where(i)}; a customer without repeat purchases has recency 0"
        )
    if discrete:
        v.check_integer_valued(tx, "recency")
        v.check_integer_valued(big_t, "T")
        bad = (x > tx) & (x > 0)
        if bad.any():
            i = v.first_bad(bad)
            raise InvalidInputError(
                f"frequency must be <= recency for discrete opportunities, got frequency "
                f"{float(x[i])!r} > recency {float(tx[i])!r} at {v.where(i)}; recency is the "
                "number of the opportunity with the last transaction"
            )
    return x, tx, big_t


def _horizon(t: Any, name: str = "t", *, discrete: bool = False) -> FloatArray:
    arr = v.as_float_array(t, name, ndim=(0, 1))
    v.check_range(arr, name, low=0.0)
    if discrete:
        v.check_integer_valued(arr, name)
    return arr


def _fit_weights(weights: Any, n: int) -> FloatArray:
    return v.weights_array(weights, n)


def _initial(
    initial: Mapping[str, float] | None, names: tuple[str, ...], default: FloatArray
) -> FloatArray:
    if initial is None:
        return default
    if not isinstance(initial, Mapping):
        raise InvalidTypeError(
            f"initial must be a mapping of parameter names to values, got {type(initial).__name__}"
        )
    unknown = sorted(set(initial) - set(names))
    if unknown:
        raise InvalidInputError(
            f"initial has unknown parameter {unknown[0]!r}; the parameters are {list(names)!r}"
        )
    out = default.copy()
    for i, name in enumerate(names):
        if name in initial:
            out[i] = v.scalar(initial[name], f"initial[{name!r}]", low=0.0, low_inclusive=False)
    return out


def _warn_fit(model: str, fit: _numeric.MaximumLikelihood) -> None:
    if not np.all(np.isfinite(fit.standard_errors)):
        warnings.warn(
            f"{model}: the observed information matrix is not positive definite; "
            "standard errors are NaN",
            FitWarning,
            stacklevel=3,
        )


# ---------------------------------------------------------------------------
# Fitted models: shared fields and methods
# ---------------------------------------------------------------------------


def _readonly_matrix(arr: Any) -> FloatArray:
    return v.readonly(np.asarray(arr, dtype=np.float64))


def _psi_diff(x: FloatArray, t: FloatArray) -> FloatArray:
    """psi(x + t) - psi(x) for x > 0, t >= 0, without cancellation for large x.

    For x >= 1000 from the asymptotic series psi(x) = ln x - 1/(2x) - 1/(12x^2)
    + 1/(120x^4) - ..., each difference written in closed form (the next term
    is below 1e-18 relative); below, directly.
    """
    xb, tb = np.broadcast_arrays(x, t)
    big = xb >= 1000.0
    xs = np.where(big, xb, 1000.0)
    y = xs + tb
    q = tb / xs / y  # t / (x (x + t)) = 1/x - 1/(x + t)
    q2 = q * (2.0 / y + q)  # 1/x^2 - 1/(x + t)^2
    asym = np.log1p(tb / xs) + 0.5 * q + q2 / 12.0 - q2 * ((1.0 / xs) ** 2 + (1.0 / y) ** 2) / 120.0
    out: FloatArray = np.where(big, asym, _psi(xb + tb) - _psi(np.where(big, 1.0, xb)))
    return out


_BGBB_SHORT = 32  # BG/BB windows up to this many opportunities are summed term by term


def _discounted_sum(
    future: Any, horizon: int, period: float, rate: float, shape: tuple[int, ...]
) -> FloatArray:
    """sum_k (future(k p) - future((k-1) p)) / (1 + rate)^k for k = 1..horizon.

    ``horizon`` has been checked against the period budget by the caller, so
    the loop is bounded. A discount factor that overflows (a negative rate
    over a long horizon) raises instead of returning inf.
    """
    total = np.zeros(shape)
    prev = np.zeros(shape)
    log_growth = -np.log1p(rate)
    for k in range(1, horizon + 1):
        cum = np.asarray(future(np.asarray(k * period)), dtype=np.float64)
        with np.errstate(over="ignore"):
            factor = np.exp(k * log_growth)
        if not np.isfinite(factor):
            raise InvalidInputError(
                f"discount_rate {rate!r} over horizon {horizon} discounts by a factor beyond "
                "the float range; use a discount_rate >= 0 or a shorter horizon"
            )
        total += (cum - prev) * factor
        prev = cum
    if not np.all(np.isfinite(total)):
        raise InvalidInputError(
            f"the discounted value over horizon {horizon} with discount_rate {rate!r} exceeds "
            "the float range; use a larger discount_rate or a shorter horizon"
        )
    return total


def _as_rng(rng: Any) -> np.random.Generator:
    """:func:`_validate.as_rng`, with numpy's refusal of a seed turned into InvalidInputError."""
    try:
        return v.as_rng(rng)
    except (ValueError, TypeError, OverflowError) as exc:
        if isinstance(exc, CustrelError):
            raise
        raise InvalidInputError(
            f"rng must be a numpy.random.Generator, a non-negative int seed or None, got "
            f"{rng!r} ({exc})"
        ) from None


def _geometric(p: FloatArray, rng: np.random.Generator) -> FloatArray:
    """Trials up to and including the first success (>= 1), as floats; inf where p = 0."""
    u = 1.0 - rng.random(p.shape[0])  # in (0, 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        k = np.floor(np.log(u) / np.log1p(-np.minimum(p, 1.0))) + 1.0
    out: FloatArray = np.where(p >= 1.0, 1.0, np.where(p <= 0.0, np.inf, np.maximum(k, 1.0)))
    return out


_MAX_SIMULATED_RATE = 1e15  # Poisson means beyond this are not simulated


def _poisson_counts(mean: FloatArray, rng: np.random.Generator, big_t: FloatArray) -> FloatArray:
    """Poisson draws, refusing means numpy cannot draw (naming T, which made them so)."""
    top = float(np.max(mean)) if mean.shape[0] else 0.0
    if not top <= _MAX_SIMULATED_RATE:
        i = int(np.argmax(mean))
        raise InvalidInputError(
            f"T {float(big_t[i])!r} at row {i} gives an expected {top:.3g} purchases in the "
            f"simulation, more than {_MAX_SIMULATED_RATE:.0e}; simulate a shorter window"
        )
    out: FloatArray = rng.poisson(mean).astype(np.float64)
    return out


def _broadcast_customers(*arrays: FloatArray) -> tuple[FloatArray, ...]:
    """Broadcast per-customer columns (scalars allowed) to one shape."""
    return tuple(np.array(a) for a in np.broadcast_arrays(*arrays))


@attrs.frozen(eq=False, repr=False)
class BTYDModel:
    """Base of the fitted BTYD models: the fields and methods they all share.

    Build a model with a ``fit_*`` function, or with :meth:`from_params` from
    known parameters.

    Attributes
    ----------
    params : Mapping[str, float]
        The estimates, by the papers' parameter names (read-only).
    log_likelihood : float
        The maximised log-likelihood (weighted sum over customers); NaN for a
        model built from known parameters.
    standard_errors : Mapping[str, float]
        Standard errors from the inverse Hessian of the log-likelihood.
    covariance : numpy.ndarray
        Estimated covariance matrix of the estimates, in the order of ``params``.
    n_customers : float
        Customers the model was fitted on (the sum of the weights).
    n_iterations : int
        Optimizer iterations.
    message : str
        The optimizer's message.
    """

    params: Mapping[str, float] = attrs.field(converter=_frozen_mapping)
    log_likelihood: float
    standard_errors: Mapping[str, float] = attrs.field(converter=_frozen_mapping)
    covariance: FloatArray = attrs.field(converter=_readonly_matrix)
    n_customers: float
    n_iterations: int = 0
    message: str = ""

    _param_names: ClassVar[tuple[str, ...]] = ()

    def __repr__(self) -> str:
        ps = ", ".join(f"{k}={self.params[k]:.4g}" for k in self._param_names)
        return (
            f"{type(self).__name__}({ps}, log_likelihood={self.log_likelihood:.6g}, "
            f"n_customers={self.n_customers:g})"
        )

    def _theta(self) -> FloatArray:
        return np.asarray([self.params[k] for k in self._param_names], dtype=np.float64)

    @classmethod
    def _from_values(
        cls, values: Any, *, log_likelihood: float = float("nan"), n_customers: float = 0.0
    ) -> Any:
        vals = np.asarray(values, dtype=np.float64)
        k = len(cls._param_names)
        return cls(
            params=dict(zip(cls._param_names, vals.tolist(), strict=True)),
            log_likelihood=log_likelihood,
            standard_errors=dict.fromkeys(cls._param_names, float("nan")),
            covariance=np.full((k, k), np.nan),
            n_customers=n_customers,
        )

    @classmethod
    def from_params(cls, params: Mapping[str, float]) -> Any:
        """A model with known parameters (for example published ones), without a fit.

        Parameters
        ----------
        params : Mapping[str, float]
            Every parameter of the model by its name, each > 0.

        Returns
        -------
        BTYDModel
            The model of the class it is called on, with NaN log-likelihood
            and standard errors and 0 customers.

        Examples
        --------
        >>> from custrel import BGNBDModel
        >>> BGNBDModel.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}).params["b"]
        2.426

        Raises
        ------
        InvalidInputError
            If a parameter is missing, unknown or not positive.
        """
        if not isinstance(params, Mapping):
            raise InvalidTypeError(f"params must be a mapping, got {type(params).__name__}")
        names = cls._param_names
        extra = sorted(set(params) - set(names))
        missing = [n for n in names if n not in params]
        if extra or missing:
            raise InvalidInputError(
                f"params must name exactly {list(names)!r}; "
                + (f"missing {missing!r}" if missing else f"unknown {extra!r}")
            )
        vals = [v.scalar(params[n], f"params[{n!r}]", low=0.0, low_inclusive=False) for n in names]
        return cls._from_values(vals)

    def summary(self) -> dict[str, tuple[float, float]]:
        """Each parameter's estimate and standard error: ``{name: (estimate, se)}``."""
        return {k: (self.params[k], self.standard_errors[k]) for k in self._param_names}


@attrs.frozen(eq=False, repr=False)
class RepeatPurchaseModel(BTYDModel, abc.ABC):
    """Base of the repeat-purchase models (BG/NBD, MBG/NBD, Pareto/NBD, BG/BB).

    They share one set of prediction methods, so diagnostics, CLV and
    reports work with any of them.

    Attributes
    ----------
    params, log_likelihood, standard_errors, covariance, n_customers, n_iterations, message
        As :class:`BTYDModel`.
    """

    _discrete: ClassVar[bool] = False

    # -- model-specific kernels (vectorised; inputs already validated) --------

    @abc.abstractmethod
    def _ll(self, x: FloatArray, tx: FloatArray, big_t: FloatArray) -> FloatArray:
        """Model-specific kernel; each model defines it."""

    @abc.abstractmethod
    def _expected(self, t: FloatArray) -> FloatArray:
        """Model-specific kernel; each model defines it."""

    @abc.abstractmethod
    def _alive(self, x: FloatArray, tx: FloatArray, big_t: FloatArray) -> FloatArray:
        """Model-specific kernel; each model defines it."""

    @abc.abstractmethod
    def _conditional(
        self, t: FloatArray, x: FloatArray, tx: FloatArray, big_t: FloatArray
    ) -> FloatArray:
        """Model-specific kernel; each model defines it."""

    @abc.abstractmethod
    def _pmf(self, n: FloatArray, t: FloatArray) -> FloatArray:
        """Model-specific kernel; each model defines it."""

    @abc.abstractmethod
    def _simulate(
        self, n_customers: int, big_t: FloatArray, rng: np.random.Generator
    ) -> tuple[FloatArray, FloatArray]:
        """Model-specific kernel; each model defines it."""

    # -- public predictions ----------------------------------------------------

    def customer_log_likelihood(self, frequency: Any, recency: Any, T: Any) -> FloatArray:
        """Each customer's log-likelihood under the fitted parameters.

        Parameters
        ----------
        frequency, recency, T : array_like
            Summary columns (scalars broadcast).

        Returns
        -------
        numpy.ndarray
            One log-likelihood per customer; their (weighted) sum over the
            fitting data is :attr:`log_likelihood`.

        Examples
        --------
        >>> from custrel import BGNBDModel
        >>> m = BGNBDModel.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
        >>> round(float(m.customer_log_likelihood(2, 30.43, 38.86)), 3)
        -9.459
        """
        x, tx, big_t = _as_rfm(frequency, recency, T, discrete=self._discrete, allow_scalar=True)
        return self._ll(x, tx, big_t)

    def expected_purchases(self, t: Any) -> FloatArray:
        """Expected repeat purchases in (0, t] of a new customer, E[X(t)].

        Parameters
        ----------
        t : float or array_like
            Time since the first purchase, in the model's time unit (a whole
            number of opportunities for BG/BB).

        Returns
        -------
        numpy.ndarray
            Non-negative, increasing in ``t``, 0 at ``t = 0``.

        Examples
        --------
        >>> from custrel import BGNBDModel
        >>> m = BGNBDModel.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
        >>> m.expected_purchases([39.0, 78.0]).round(3).tolist()
        [1.197, 1.861]
        """
        tt = _horizon(t, discrete=self._discrete)
        return self._expected(tt)

    def conditional_expected_purchases(
        self, t: Any, frequency: Any, recency: Any, T: Any
    ) -> FloatArray:
        """Expected purchases in (T, T + t] of customers with the given history.

        Parameters
        ----------
        t : float or array_like
            Length of the forecast window (broadcasts against the customers).
        frequency, recency, T : array_like
            Each customer's summary.

        Returns
        -------
        numpy.ndarray
            E[Y(t) | frequency, recency, T], one per customer.

        Examples
        --------
        >>> from custrel import BGNBDModel
        >>> m = BGNBDModel.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
        >>> m.conditional_expected_purchases(39.0, [0, 2], [0.0, 30.43], [38.86, 38.86]).round(3).tolist()
        [0.195, 1.226]
        """
        x, tx, big_t = _as_rfm(frequency, recency, T, discrete=self._discrete, allow_scalar=True)
        tt = _horizon(t, discrete=self._discrete)
        if tt.ndim == 1 and x.ndim == 1 and tt.shape != x.shape and tt.shape != (1,):
            raise InvalidInputError(
                f"t has {tt.shape[0]} values but there are {x.shape[0]} customers; give one "
                "forecast window, or one per customer"
            )
        return self._conditional(tt, x, tx, big_t)

    def probability_alive(self, frequency: Any, recency: Any, T: Any) -> FloatArray:
        """Probability that each customer is still active at T.

        Parameters
        ----------
        frequency, recency, T : array_like
            Each customer's summary.

        Returns
        -------
        numpy.ndarray
            P(alive | frequency, recency, T) in [0, 1].

        Examples
        --------
        >>> from custrel import BGNBDModel
        >>> m = BGNBDModel.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
        >>> m.probability_alive([0, 2, 2], [0.0, 30.43, 5.0], 38.86).round(3).tolist()
        [1.0, 0.727, 0.124]
        """
        x, tx, big_t = _as_rfm(frequency, recency, T, discrete=self._discrete, allow_scalar=True)
        return self._alive(x, tx, big_t)

    def probability_of_purchases(self, n: Any, t: Any) -> FloatArray:
        """Probability that a new customer makes exactly ``n`` repeat purchases in (0, t].

        Parameters
        ----------
        n : int or array_like of int
            Numbers of purchases (>= 0).
        t : float or array_like
            Time since the first purchase (broadcasts against ``n``).

        Returns
        -------
        numpy.ndarray
            P(X(t) = n); summed over all ``n`` it is 1.

        Examples
        --------
        >>> from custrel import BGNBDModel
        >>> m = BGNBDModel.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
        >>> m.probability_of_purchases([0, 1, 2], 39.0).round(3).tolist()
        [0.574, 0.199, 0.085]
        """
        nn = v.as_float_array(n, "n", ndim=(0, 1))
        v.check_range(nn, "n", low=0.0)
        v.check_integer_valued(nn, "n")
        tt = _horizon(t, discrete=self._discrete)
        return self._pmf(nn, tt)

    def customer_lifetime_value(
        self,
        frequency: Any,
        recency: Any,
        T: Any,
        spend: Any,
        *,
        horizon: int,
        discount_rate: float,
        margin: float = 1.0,
        period: float = 1.0,
    ) -> FloatArray:
        r"""Discounted value of each customer's expected future purchases.

        Parameters
        ----------
        frequency, recency, T : array_like
            Each customer's summary.
        spend : float or array_like
            Expected spend per future purchase, per customer (for example
            :meth:`GammaGammaModel.conditional_expected_spend`).
        horizon : int
            Number of future periods to value.
        discount_rate : float
            Discount rate per period (0.01 is 1 % a period; > -1).
        margin : float
            Share of the spend that is profit (1 values revenue).
        period : float
            Length of one period in the model's time unit (for example
            ``52 / 12`` weeks for months); a whole number for BG/BB.

        Returns
        -------
        numpy.ndarray
            CLV per customer.

        Raises
        ------
        InvalidInputError
            If a column is invalid, ``spend`` has neither one value nor one
            per customer, ``horizon`` exceeds the period budget
            (``CUSTREL_MAX_PERIODS``, default 1,000,000) or ``horizon`` times
            the customers exceeds the cell budget (``CUSTREL_MAX_CELLS``), or
            the discounting leaves the float range (a negative rate over a
            long horizon).

        Notes
        -----
        .. math::

            \mathrm{CLV} = m\,\bar s \sum_{k=1}^{H}
            \frac{E[Y(k\,p)] - E[Y((k-1)\,p)]}{(1+d)^{k}}

        with :math:`E[Y(\cdot)]` the conditional expected purchases, cash
        flows at the end of each period (as in lifetimes). One pass per
        period, vectorised over customers: memory proportional to the number
        of customers.

        Examples
        --------
        >>> from custrel import BGNBDModel
        >>> m = BGNBDModel.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
        >>> m.customer_lifetime_value([0, 2], [0.0, 30.43], 38.86, [35.17, 24.66], horizon=12,
        ...                           discount_rate=0.01, margin=0.3, period=52 / 12).round(2).tolist()
        [2.5, 10.86]
        """
        x, tx, big_t = _as_rfm(frequency, recency, T, discrete=self._discrete, allow_scalar=True)
        s = v.as_float_array(spend, "spend", ndim=(0, 1))
        h = v.positive_int(horizon, "horizon")
        d = v.discount_rate(discount_rate)
        mg = v.scalar(margin, "margin")
        p = v.scalar(period, "period", low=0.0, low_inclusive=False)
        if self._discrete and p != round(p):
            raise InvalidInputError(
                f"period must be a whole number of opportunities for BG/BB, got {p!r}"
            )
        if s.ndim == 1 and x.ndim == 1 and s.shape != x.shape:
            raise InvalidInputError(
                f"spend has {s.shape[0]} values but there are {x.size} customers; give one "
                "spend per customer or a single value"
            )
        v.check_budget(
            float(h),
            "the CLV horizon",
            budget=v.max_periods(),
            culprit=f"horizon={h!r}",
            env="CUSTREL_MAX_PERIODS",
            hint="value a shorter horizon or longer periods",
        )
        v.check_budget(
            float(h) * max(x.size, 1),
            "the CLV forecast (periods x customers)",
            budget=v.max_cells(),
            culprit=f"horizon={h!r} for {x.size} customers",
            env="CUSTREL_MAX_CELLS",
            hint="value the customers in batches",
        )
        x, tx, big_t, s = _broadcast_customers(x, tx, big_t, s)
        out: FloatArray = mg * s * self._discounted_purchases(h, p, d, x, tx, big_t)
        return out

    def _discounted_purchases(
        self,
        horizon: int,
        period: float,
        rate: float,
        x: FloatArray,
        tx: FloatArray,
        big_t: FloatArray,
    ) -> FloatArray:
        """Sum over periods of the discounted expected purchases in each period."""
        return _discounted_sum(
            lambda t: self._conditional(t, x, tx, big_t), horizon, period, rate, x.shape
        )

    def simulate(
        self, n_customers: int, T: Any, *, rng: np.random.Generator | int | None = None
    ) -> BTYDSummary:
        """Simulate customers from the fitted parameters.

        Parameters
        ----------
        n_customers : int
            How many customers.
        T : float or array_like
            Each customer's age at the end of the window (a scalar applies to
            all); whole opportunities for BG/BB.
        rng : numpy.random.Generator, int or None
            Randomness (an int seeds a new generator).

        Returns
        -------
        BTYDSummary
            ``frequency``, ``recency``, ``T`` and unit weights, ids ``0..n-1``;
            no monetary values.

        Raises
        ------
        InvalidInputError
            If ``n_customers`` exceeds the cell budget, a BG/BB ``T`` the
            period budget, a ``T`` would give more than 1e15 expected
            purchases, or ``rng`` is a seed numpy refuses.

        Examples
        --------
        >>> from custrel import BGNBDModel
        >>> m = BGNBDModel.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
        >>> sim = m.simulate(3, 39.0, rng=1)
        >>> sim.frequency.tolist(), sim.recency.round(2).tolist()
        ([0.0, 11.0, 0.0], [0.0, 13.02, 0.0])
        """
        n = v.positive_int(n_customers, "n_customers")
        v.check_budget(
            float(n),
            "the simulation",
            budget=v.max_cells(),
            culprit=f"n_customers={n}",
            env="CUSTREL_MAX_CELLS",
            hint="simulate in batches",
        )
        big_t = v.as_float_array(T, "T", ndim=(0, 1))
        v.check_range(big_t, "T", low=0.0)
        if self._discrete:
            v.check_integer_valued(big_t, "T")
            top = float(np.max(big_t))
            v.check_budget(
                top,
                "the simulated opportunities",
                budget=v.max_periods(),
                culprit=f"T={top:g}",
                env="CUSTREL_MAX_PERIODS",
            )
        if big_t.ndim == 1 and len(big_t) != n:
            raise InvalidInputError(f"T has {len(big_t)} values but n_customers is {n}")
        big_t = np.broadcast_to(big_t, (n,)).astype(np.float64)
        gen = _as_rng(rng)
        with np.errstate(over="ignore"):
            x, tx = self._simulate(n, big_t, gen)
        if not (np.all(np.isfinite(x)) and np.all(np.isfinite(tx))):  # pragma: no cover - guarded
            raise ConvergenceError("the simulation produced non-finite values")
        return BTYDSummary(
            customer_id=np.arange(n),
            frequency=x,
            recency=tx,
            T=big_t,
            monetary_value=None,
            weights=np.ones(n),
        )


# ---------------------------------------------------------------------------
# BG/NBD and MBG/NBD
# ---------------------------------------------------------------------------


def _nbd_loglik(
    theta: FloatArray,
    x: FloatArray,
    tx: FloatArray,
    big_t: FloatArray,
    *,
    modified: bool,
    w: FloatArray | None = None,
) -> tuple[FloatArray, FloatArray | None]:
    """Per-customer log-likelihood and (with ``w``) the weighted gradient."""
    r, alpha, a, b = (float(p) for p in theta)
    rx = r + x
    log_at = np.log(alpha + big_t)
    log_atx = np.log(alpha + tx)
    a1 = _gammaln(rx) - _gammaln(r) + r * np.log(alpha)
    shift = 1.0 if modified else 0.0
    a2 = _gammaln(a + b) + _gammaln(b + x + shift) - _gammaln(b) - _gammaln(a + b + x + shift)
    a3 = -rx * log_at
    has4 = np.ones(x.shape, dtype=bool) if modified else x > 0
    bx = b + x - 1.0 + shift  # b + x - 1 (BG/NBD), b + x (MBG/NBD)
    bx_safe = np.where(has4, bx, 1.0)
    a4 = np.where(has4, np.log(a) - np.log(bx_safe) - rx * log_atx, -np.inf)
    lse = np.logaddexp(a3, a4)
    ll: FloatArray = a1 + a2 + lse
    if w is None:
        return ll, None
    pi = np.exp(a4 - lse)
    q = 1.0 - pi
    dr = _psi(rx) - _psi(r) + np.log(alpha) - q * log_at - pi * log_atx
    dalpha = r / alpha - q * rx / (alpha + big_t) - pi * rx / (alpha + tx)
    d_ab = _psi(a + b) - _psi(a + b + x + shift)
    da = d_ab + pi / a
    db = d_ab + _psi(b + x + shift) - _psi(b) - pi / bx_safe
    grad = _wsums(w, dr, dalpha, da, db)
    return ll, grad


@attrs.frozen
class _NBDData:
    """Fitting data with the per-frequency weight totals the fast likelihood needs."""

    x: FloatArray
    tx: FloatArray
    big_t: FloatArray
    w: FloatArray
    x_unique: FloatArray
    x_index: IntArray
    w_by_x: FloatArray

    @classmethod
    def of(cls, x: FloatArray, tx: FloatArray, big_t: FloatArray, w: FloatArray) -> _NBDData:
        xu, xi = np.unique(x, return_inverse=True)
        xi = xi.astype(np.int64).reshape(-1)
        return cls(
            x,
            tx,
            big_t,
            w,
            xu,
            xi,
            np.bincount(xi, weights=w, minlength=len(xu)).astype(np.float64),
        )


def _nbd_total(theta: FloatArray, d: _NBDData, *, modified: bool) -> tuple[float, FloatArray]:
    """Weighted total log-likelihood and gradient, as :func:`_nbd_loglik` summed.

    Terms that depend on the frequency only (the gamma and digamma functions)
    are evaluated once per distinct frequency and weighted by that
    frequency's total weight; only the logarithms of alpha + T and
    alpha + t_x and the mixing of the two likelihood terms are per row.
    """
    r, alpha, a, b = (float(p) for p in theta)
    shift = 1.0 if modified else 0.0
    xu, wu, xi = d.x_unique, d.w_by_x, d.x_index
    rxu = r + xu
    has_u = np.ones(xu.shape, dtype=bool) if modified else xu > 0
    bx_u = np.where(has_u, b + xu - 1.0 + shift, 1.0)
    # per distinct frequency
    a12 = (
        _gammaln(rxu)
        - _gammaln(r)
        + r * np.log(alpha)
        + _gammaln(a + b)
        + _gammaln(b + xu + shift)
        - _gammaln(b)
        - _gammaln(a + b + xu + shift)
    )
    c4_u = np.where(has_u, np.log(a) - np.log(bx_u), -np.inf)
    d_ab_u = _psi(a + b) - _psi(a + b + xu + shift)
    # per row
    rx = rxu[xi]
    log_at = np.log(alpha + d.big_t)
    log_atx = np.log(alpha + d.tx)
    a3 = -rx * log_at
    a4 = c4_u[xi] - rx * log_atx
    lse = np.logaddexp(a3, a4)
    pi = np.exp(a4 - lse)
    w = d.w
    ll = float((wu * a12).sum()) + _wsum(w, lse)
    wpi = w * pi
    wq = w - wpi
    dr = (
        float(np.sum(wu * (_psi(rxu) - _psi(r) + np.log(alpha))))
        - float((wq * log_at).sum())
        - float((wpi * log_atx).sum())
    )
    dalpha = (
        r / alpha * float(wu.sum())
        - float((wq * rx / (alpha + d.big_t)).sum())
        - float((wpi * rx / (alpha + d.tx)).sum())
    )
    pi_by_x = np.bincount(xi, weights=wpi, minlength=len(xu))
    da = float((wu * d_ab_u).sum()) + float(pi_by_x.sum()) / a
    db = float(np.sum(wu * (d_ab_u + _psi(b + xu + shift) - _psi(b))) - (pi_by_x / bx_u).sum())
    return ll, np.asarray([dr, dalpha, da, db])


_NF_FAST_MAX = 30.0  # closed form only while its 2F1 parameters stay this small ...
_NF_FAST_GAP = 1e-3  # ... a stays this far from its removable singularity at 1 ...
_NF_FAST_MIN_C = 0.5  # ... and a + b - 1 this far above its pole at 0
_NF_DROP = 46.0  # quadrature window: e-folds below the peak bound that are kept
_NF_TAIL = 1e-6  # tails beyond the window follow a first-order model within this
_NF_STEP = 0.5  # largest trapezoid step in logit(p)
_NF_MAX_NODES = 4096  # nodes per element (cap; typical elements need 40-120)
_NF_BISECT = 64  # bisection steps that place the window ends (cap)
_NF_CHUNK = 2048  # elements evaluated together (memory: chunk x nodes)


def _log_sig(y: FloatArray) -> FloatArray:
    """log(1 / (1 + e^-y)), stable for any real y."""
    out: FloatArray = -np.logaddexp(0.0, -y)
    return out


def _log_ratio(u: FloatArray, log_u: FloatArray, fn: str) -> FloatArray:
    """log(log1p(w)/w) (``fn="log1p"``, u = w) or log(-expm1(-u)/u) (``fn="expm1"``), u >= 0."""
    small = u < 1e-8
    safe = np.where(small, 1.0, u)
    with np.errstate(divide="ignore", over="ignore"):
        if fn == "log1p":
            big = np.log(np.logaddexp(0.0, np.where(small, 0.0, log_u))) - np.where(
                small, 0.0, log_u
            )
        else:
            big = np.log(-np.expm1(-safe)) - np.log(safe)
    out: FloatArray = np.where(small, np.log1p(-0.5 * np.minimum(u, 1e-8)), big)
    return out


def _nbd_future_closed(
    t: FloatArray, r: FloatArray, alpha: FloatArray, a: FloatArray, b: FloatArray
) -> FloatArray:
    """The closed form c/(a-1) [1 - (1-z)^(a-1) 2F1(c-r, a-1; c; z)], c = a+b-1 (Euler)."""
    c = a + b - 1.0
    z = t / (alpha + t)
    with np.errstate(all="ignore"):
        tail = np.exp((a - 1.0) * np.log1p(-z)) * special.hyp2f1(c - r, a - 1.0, c, z)
        out: FloatArray = c / (a - 1.0) * (1.0 - tail)
    return out


def _nbd_future_quadrature(
    log_k: FloatArray, r: FloatArray, a: FloatArray, b: FloatArray
) -> FloatArray:
    """E over p ~ Beta(a, b) of phi(p) = (1 - (1 + k p)^-r) / p, by the trapezoidal rule.

    In ``y = logit(p)`` the integrand ``p^a (1-p)^b phi(p) / B(a, b)`` is
    analytic in the strip ``|Im y| < pi`` and decays exponentially at both
    ends, so the trapezoidal rule converges exponentially in the step. The
    window keeps everything within ``_NF_DROP`` e-folds of a bound on the
    peak (log phi falls by at most 1 per unit of y); where it reaches the
    tails, their trapezoid sums are added in closed form from the first-order
    expansions ``f ~ (r k / B) e^(a y) (1 - c_1 e^y)`` (left) and
    ``f ~ (phi(1) / B) e^(-b y) (1 - c_2 e^-y)`` (right). The step is the
    smaller of ``_NF_STEP`` and 0.6 over the square root of the largest
    curvature of the Beta part in the window. Everything is in log space, so
    no parameter size overflows it.
    """
    log_r = np.log(r)
    log_beta = _betaln(a, b)
    yb = np.log(a) - np.log(b)
    lb_peak = a * _log_sig(yb) + b * _log_sig(-yb)
    # left tail: p ~ e^y, (1+e^y)^-(a+b) ~ 1 - (a+b) e^y, phi ~ r k (1 - (r+1) k p / 2)
    log_c1 = np.logaddexp(np.log(a + b + 1.0), np.log(0.5 * (r + 1.0)) + log_k)
    yl_tail = np.log(_NF_TAIL) - log_c1
    # right tail: 1 - p ~ e^-y, phi(p) ~ phi(1) + phi'(1) (p - 1)
    l1 = np.logaddexp(0.0, log_k)  # log1p(k)
    with np.errstate(over="ignore"):
        k = np.exp(log_k)
    log_u1 = log_r + log_k + _log_ratio(k, log_k, "log1p")  # log(r log1p(k)), no underflow
    u1 = r * l1
    big = u1 > 1e-8
    safe = np.where(big, u1, 1.0)
    tiny = np.where(big, 0.0, u1)
    log_phi1 = np.where(big, np.log(-np.expm1(-safe)), log_u1 + np.log1p(-0.5 * tiny))
    log_em1 = np.where(big, safe + np.log(-np.expm1(-safe)), log_u1 + np.log1p(0.5 * tiny))
    with np.errstate(over="ignore"):
        slope1 = np.exp(log_r + log_k - l1 - log_em1) - 1.0  # phi'(1) / phi(1), in [-1, 0]
    yr_tail = np.log(a + b + 2.0) - np.log(_NF_TAIL)

    def lb(y: FloatArray) -> FloatArray:
        out: FloatArray = a * _log_sig(y) + b * _log_sig(-y) - lb_peak
        return out

    def bisect(fn: Any, lo: FloatArray, hi: FloatArray) -> FloatArray:
        for _ in range(_NF_BISECT):  # fn(lo) < 0 <= fn(hi); a fixed number of halvings
            mid = 0.5 * (lo + hi)
            neg = fn(mid) < 0.0
            lo = np.where(neg, mid, lo)
            hi = np.where(neg, hi, mid)
        return hi

    # the window: left, the bound lb + (yb - y) falls to -drop (only for a > 1: else it
    # never does and the left tail model is used); right, lb falls to -drop
    def g_left(y: FloatArray) -> FloatArray:
        out: FloatArray = lb(y) + (yb - y) + _NF_DROP
        return out

    def g_right(y: FloatArray) -> FloatArray:
        out: FloatArray = -(lb(y) + _NF_DROP)
        return out

    # a tail point beyond the peak, or still above the cut: the tail model takes over there
    left_inside = (yl_tail >= yb) | (a <= 1.0) | (g_left(yl_tail) > 0.0)
    yl_cut = np.where(left_inside, yl_tail, bisect(g_left, yl_tail, np.maximum(yb, yl_tail)))
    use_l = left_inside
    yl = yl_cut
    right_inside = (yr_tail <= yb) | (g_right(yr_tail) < 0.0)
    yr_cut = np.where(right_inside, yr_tail, bisect(g_right, np.minimum(yb, yr_tail), yr_tail))
    use_r = right_inside
    yr = yr_cut
    yr = np.maximum(yr, yl + 1e-12)
    ystar = np.clip(0.0, yl, yr)
    curv = (a + b) * np.exp(_log_sig(ystar) + _log_sig(-ystar))
    step = np.minimum(_NF_STEP, 0.6 / np.sqrt(curv))
    nodes = np.clip(np.ceil((yr - yl) / step), 8, _NF_MAX_NODES).astype(np.int64)
    out = np.empty(a.shape[0])
    # elements grouped by their node count (rounded up to a power of 2)
    bucket = np.ceil(np.log2(nodes)).astype(np.int64)
    for bk in np.unique(bucket):
        sel = np.flatnonzero(bucket == bk)
        n = int(2**bk)
        for lo in range(0, sel.shape[0], _NF_CHUNK):
            idx = sel[lo : lo + _NF_CHUNK]
            out[idx] = _nbd_trapezoid(
                n,
                yl[idx],
                yr[idx],
                log_k[idx],
                r[idx],
                a[idx],
                b[idx],
                log_beta[idx],
                use_l[idx],
                use_r[idx],
                log_phi1[idx],
                slope1[idx],
            )
    return out


def _nbd_trapezoid(
    n: int,
    yl: FloatArray,
    yr: FloatArray,
    log_k: FloatArray,
    r: FloatArray,
    a: FloatArray,
    b: FloatArray,
    log_beta: FloatArray,
    use_l: npt.NDArray[np.bool_],
    use_r: npt.NDArray[np.bool_],
    log_phi1: FloatArray,
    slope1: FloatArray,
) -> FloatArray:
    """One group of :func:`_nbd_future_quadrature`: ``n`` steps from ``yl`` to ``yr``.

    The Beta part is taken relative to its mode ``yb = log(a/b)`` (nodes at
    offsets ``d`` from it, ``log(sigma(y)/sigma(yb)) = -log1p(sigma(-yb)
    expm1(-d))``) and normalised by :func:`_log_beta_mode`, so that no two
    large logarithms are subtracted: for ``a``, ``b`` near 1e7 a direct
    ``a log p + b log(1-p) - log B(a, b)`` would lose 1e-9 of the result and
    with it the monotonicity in ``t``.
    """
    h = (yr - yl) / n
    yb = np.log(a) - np.log(b)
    d = (yl - yb)[:, None] + h[:, None] * np.arange(n + 1)[None, :]
    y = yb[:, None] + d
    ls = _log_sig(y)
    sb = np.exp(_log_sig(yb))[:, None]
    sb_neg = np.exp(_log_sig(-yb))[:, None]
    with np.errstate(over="ignore"):
        lb_rel = -a[:, None] * np.log1p(sb_neg * np.expm1(-d)) - b[:, None] * np.log1p(
            sb * np.expm1(d)
        )
    log_w = log_k[:, None] + ls  # log(k p)
    with np.errstate(over="ignore"):
        w = np.exp(log_w)
    l1 = np.logaddexp(0.0, log_w)  # log1p(k p)
    u = r[:, None] * l1
    with np.errstate(divide="ignore"):
        log_u = np.log(u)
    log_phi = (
        np.log(r)[:, None]
        + log_k[:, None]
        + _log_ratio(w, log_w, "log1p")
        + _log_ratio(u, log_u, "expm1")
    )
    lf = _log_beta_mode(a, b)[:, None] + lb_rel + log_phi
    lf[:, 0] += np.where(use_l, 0.0, np.log(0.5))
    lf[:, -1] += np.where(use_r, 0.0, np.log(0.5))

    def log_geo(s: FloatArray) -> FloatArray:  # log sum_{j>=1} e^(-s h j)
        out: FloatArray = -s * h - np.log(-np.expm1(-s * h))
        return out

    with np.errstate(divide="ignore", invalid="ignore"):
        base = np.log(r) + log_k
        main = base + a * yl + log_geo(a)
        log_c = np.logaddexp(np.log(a + b), np.log(0.5 * (r + 1.0)) + log_k)
        corr = base + (a + 1.0) * yl + log_geo(a + 1.0) + log_c
        left = main + np.log1p(-np.minimum(np.exp(corr - main), 0.5))
        c2 = a + b + slope1
        rmain = log_phi1 - b * yr + log_geo(b)
        rcorr = log_phi1 - (b + 1.0) * yr + log_geo(b + 1.0)
        right = rmain + np.log1p(np.clip(-c2 * np.exp(rcorr - rmain), -0.5, 0.5))
    left = np.where(use_l, left - log_beta, -np.inf)
    right = np.where(use_r, right - log_beta, -np.inf)
    total = special.logsumexp(np.concatenate([lf, left[:, None], right[:, None]], axis=1), axis=1)
    out: FloatArray = np.exp(total + np.log(h))
    return out


def _stirling_rest(z: FloatArray) -> FloatArray:
    """lnGamma(z) - ((z - 1/2) ln z - z + ln(2 pi)/2): the Stirling series' remainder."""
    big = z >= 30.0
    zs = np.where(big, z, 30.0)
    series = 1.0 / (12.0 * zs) - 1.0 / (360.0 * zs**3) + 1.0 / (1260.0 * zs**5)
    zd = np.where(big, 1.0, z)
    direct = _gammaln(zd) - ((zd - 0.5) * np.log(zd) - zd + 0.5 * np.log(2.0 * np.pi))
    out: FloatArray = np.where(big, series, direct)
    return out


def _log_beta_mode(a: FloatArray, b: FloatArray) -> FloatArray:
    """Log of the Beta(a, b) density at its mean, in logit p: no cancellation.

    That is ``a log(a/(a+b)) + b log(b/(a+b)) - log B(a, b)``.

    By Stirling's formula this is ``(log a + log b - log(a+b) - log 2 pi)/2
    - w(a) - w(b) + w(a+b)`` with ``w`` the series' small remainder; every
    term is of order ``log(a + b)`` however large ``a`` and ``b`` are.
    """
    out: FloatArray = (
        0.5 * (np.log(a) + np.log(b) - np.log(a + b) - np.log(2.0 * np.pi))
        - _stirling_rest(a)
        - _stirling_rest(b)
        + _stirling_rest(a + b)
    )
    return out


def _nbd_future(
    t: FloatArray, r: FloatArray, alpha: FloatArray, a: FloatArray, b: FloatArray
) -> FloatArray:
    r"""E[(1 - e^{-\lambda p t}) / p] over lambda ~ Gamma(r, alpha), p ~ Beta(a, b) (broadcast).

    The expected purchases in ``(0, t]`` of an active BG/NBD customer
    (Fader, Hardie & Lee 2005, eq. 9 and 10 without the P(alive) factor):
    ``c/(a-1) [1 - (alpha/(alpha+t))^r 2F1(r, b; c; t/(alpha+t))]``,
    ``c = a+b-1``. The closed form (after Euler's transformation) serves
    where its hypergeometric parameters are moderate (``|c-r|``, ``a`` at
    most 30, ``c >= 0.5``) and ``a`` is at least ``1e-3`` from its removable
    singularity at 1, and only when the value is finite and within
    ``[0, r t / alpha]`` (E[lambda] t bounds it). Every other element, large
    or small parameters, ``a`` near or at 1, ``a + b`` near 1 and long
    horizons included, is integrated over ``p`` by
    :func:`_nbd_future_quadrature`, which is finite for every positive
    parameter and is checked against the closed form (and against
    arbitrary-precision values) in the tests.
    """
    t, r, alpha, a, b = np.broadcast_arrays(t, r, alpha, a, b)
    shape = t.shape
    t, r, alpha, a, b = (np.asarray(q, dtype=np.float64).ravel() for q in (t, r, alpha, a, b))
    out = np.zeros(t.shape[0])
    pos = np.flatnonzero(t > 0)
    if pos.shape[0] == 0:
        return out.reshape(shape)
    tp, rp, alp, ap, bp = t[pos], r[pos], alpha[pos], a[pos], b[pos]
    c = ap + bp - 1.0
    fast = (
        (np.abs(ap - 1.0) >= _NF_FAST_GAP)
        & (c >= _NF_FAST_MIN_C)
        & (np.abs(c - rp) <= _NF_FAST_MAX)
        & (ap <= _NF_FAST_MAX)
    )
    val = np.full(pos.shape[0], np.nan)
    if fast.any():
        f = np.flatnonzero(fast)
        closed = _nbd_future_closed(tp[f], rp[f], alp[f], ap[f], bp[f])
        bound = rp[f] * (tp[f] / alp[f]) * (1.0 + 1e-9)
        ok = np.isfinite(closed) & (closed >= 0.0) & (closed <= bound)
        val[f[ok]] = closed[ok]
    rest = np.flatnonzero(np.isnan(val))
    if rest.shape[0]:
        log_k = np.log(tp[rest]) - np.log(alp[rest])
        val[rest] = _nbd_future_quadrature(log_k, rp[rest], ap[rest], bp[rest])
    out[pos] = val
    return out.reshape(shape)


@attrs.frozen(eq=False, repr=False)
class BGNBDModel(RepeatPurchaseModel):
    r"""A fitted BG/NBD model (Fader, Hardie & Lee 2005); build it with :func:`fit_bgnbd`.

    While active, a customer buys at a Poisson rate :math:`\lambda \sim
    \mathrm{Gamma}(r, \alpha)`; after each repeat purchase the customer drops
    out with probability :math:`p \sim \mathrm{Beta}(a, b)`.

    Attributes
    ----------
    params : Mapping[str, float]
        ``r``, ``alpha`` (shape and rate of the purchase-rate distribution,
        ``alpha`` in the time unit of the data), ``a``, ``b``.
    log_likelihood : float
        The maximised log-likelihood (weighted sum over customers).
    standard_errors : Mapping[str, float]
        Standard errors of the estimates from the observed information
        (inverse Hessian); NaN when it is not positive definite.
    covariance : numpy.ndarray
        Estimated covariance matrix, in the order of ``params``.
    n_customers : float
        Customers the model was fitted on (the sum of the weights).
    n_iterations : int
        Optimizer iterations.
    message : str
        The optimizer's message.

    Notes
    -----
    .. math::

        E[X(t)] = \frac{a+b-1}{a-1}\left[1 - \left(\frac{\alpha}{\alpha+t}\right)^{r}
        {}_2F_1\!\left(r, b; a+b-1; \tfrac{t}{\alpha+t}\right)\right]

    .. math::

        P(\text{alive}\mid x, t_x, T) = \left[1 + \delta_{x>0}\frac{a}{b+x-1}
        \left(\frac{\alpha+T}{\alpha+t_x}\right)^{r+x}\right]^{-1}

    The bracket is the expectation of :math:`(1 - e^{-\lambda p t})/p`, finite
    for every positive parameter; the closed form has removable singularities
    at :math:`a = 1` and :math:`a + b = 1` and loses all accuracy for large
    :math:`a`, :math:`b` or :math:`r`. It is used (after Euler's
    transformation, :math:`(1-z)^{a-1}\,{}_2F_1(a+b-1-r, a-1; a+b+x-1; z)`,
    whose parameters do not grow with :math:`x`) only where its parameters
    are moderate; elsewhere, the singular points included, the expectation
    over :math:`p` is integrated by the trapezoidal rule in
    :math:`\operatorname{logit} p`, which converges exponentially. So
    predictions are finite and non-negative over the whole parameter range.

    References
    ----------
    Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). "Counting your
    customers" the easy way: an alternative to the Pareto/NBD model.
    *Marketing Science* 24(2), 275-284.
    """

    _param_names: ClassVar[tuple[str, ...]] = ("r", "alpha", "a", "b")
    _modified: ClassVar[bool] = False

    def _ll(self, x: FloatArray, tx: FloatArray, big_t: FloatArray) -> FloatArray:
        return _nbd_loglik(self._theta(), x, tx, big_t, modified=self._modified)[0]

    def _shift(self) -> float:
        return 1.0 if self._modified else 0.0

    def _expected(self, t: FloatArray) -> FloatArray:
        r, alpha, a, b = self._theta()
        if (
            self._modified
        ):  # E[(1-p)/p (...)] over Beta(a, b) = b/(a+b) E[(...)/p] over Beta(a, b+1)
            out: FloatArray = b / (a + b) * _nbd_future(t, r, alpha, a, b + 1.0)
            return out
        return _nbd_future(t, r, alpha, a, b)

    def _alive(self, x: FloatArray, tx: FloatArray, big_t: FloatArray) -> FloatArray:
        r, alpha, a, b = self._theta()
        # 1 / (1 + a / (b + x - 1) * ((alpha + T) / (alpha + t_x))^(r + x)), from the log
        # of the odds: exp(-log(1 + e^o)) lies in [0, 1] for every o, and no power overflows
        bx = b + x - 1.0 + self._shift()
        has = np.ones(x.shape, dtype=bool) if self._modified else x > 0
        log_odds = (
            (r + x) * np.log1p((big_t - tx) / (alpha + tx))
            + np.log(a)
            - np.log(np.where(has, bx, 1.0))
        )
        out: FloatArray = np.where(has, np.exp(-np.logaddexp(0.0, log_odds)), 1.0)
        return out

    def _alive_expected(self, t: FloatArray, x: FloatArray, big_t: FloatArray) -> FloatArray:
        """Expected purchases in (T, T + t] of a customer known to be active."""
        r, alpha, a, b = self._theta()
        # an active customer's posterior: Gamma(r + x, alpha + T) and Beta(a, b + x [+ 1])
        return _nbd_future(t, r + x, alpha + big_t, a, b + x + self._shift())

    def _conditional(
        self, t: FloatArray, x: FloatArray, tx: FloatArray, big_t: FloatArray
    ) -> FloatArray:
        out: FloatArray = self._alive(x, tx, big_t) * self._alive_expected(t, x, big_t)
        return out

    def _discounted_purchases(
        self,
        horizon: int,
        period: float,
        rate: float,
        x: FloatArray,
        tx: FloatArray,
        big_t: FloatArray,
    ) -> FloatArray:
        # the forecast of an active customer depends on (x, T) only: one evaluation per
        # distinct pair and period, then one multiplication by P(alive) per customer
        (xu, tu), _, inv = _numeric.compress_rows([x.ravel(), big_t.ravel()], np.ones(x.size))
        total = _discounted_sum(
            lambda t: self._alive_expected(t, xu, tu), horizon, period, rate, xu.shape
        )
        out: FloatArray = self._alive(x, tx, big_t) * total[inv].reshape(x.shape)
        return out

    def _pmf(self, n: FloatArray, t: FloatArray) -> FloatArray:
        r, alpha, a, b = self._theta()
        s = self._shift()
        has = (n > 0) | self._modified
        with np.errstate(divide="ignore", invalid="ignore"):
            log_nb = (
                _gammaln(r + n)
                - _gammaln(r)
                - _gammaln(n + 1.0)
                + r * (np.log(alpha) - np.log(alpha + t))
                + np.where(n > 0, n * (np.log(t) - np.log(alpha + t)), 0.0)
            )
            z = t / (alpha + t)
            tail = np.where(n > 0, special.betainc(np.maximum(n, 1.0), r, z), 1.0)
        first = np.exp(_betaln(a, b + n + s) - _betaln(a, b) + log_nb)
        second_w = np.exp(_betaln(a + 1.0, np.where(has, b + n - 1.0 + s, 1.0)) - _betaln(a, b))
        out: FloatArray = first + np.where(has, second_w * tail, 0.0)
        return out

    def _simulate(
        self, n_customers: int, big_t: FloatArray, rng: np.random.Generator
    ) -> tuple[FloatArray, FloatArray]:
        r, alpha, a, b = self._theta()
        lam = rng.gamma(r, 1.0 / alpha, n_customers)
        p = rng.beta(a, b, n_customers)
        # repeat purchases before dropping out (unbounded time); numpy's geometric draw
        # needs p > 0: the rare p that underflowed to (nearly) 0 get the same count drawn
        # in floating point (inf for p = 0), not an error
        tiny = p <= 1e-12
        k = rng.geometric(np.where(tiny, 1.0, p)).astype(np.float64)
        if tiny.any():
            k[tiny] = _geometric(p[tiny], rng)
        k -= self._shift()
        n_events = _poisson_counts(lam * big_t, rng, big_t)
        x = np.minimum(n_events, k)
        # the x-th of n uniform event times on (0, T] is T * Beta(x, n - x + 1)
        xs = np.maximum(x, 1.0)
        tx = np.where(x > 0, big_t * rng.beta(xs, np.where(x > 0, n_events - xs + 1.0, 1.0)), 0.0)
        return x, tx


@attrs.frozen(eq=False, repr=False)
class MBGNBDModel(BGNBDModel):
    r"""A fitted MBG/NBD model (Batislam, Denizel & Filiztekin 2007); see :func:`fit_mbgnbd`.

    As BG/NBD, except that a customer may also drop out right after the
    first purchase (at time 0), so a customer without repeat purchases is not
    certainly active.

    Attributes
    ----------
    params : Mapping[str, float]
        ``r``, ``alpha``, ``a``, ``b``.
    log_likelihood : float
        The maximised log-likelihood (weighted sum).
    standard_errors : Mapping[str, float]
        Standard errors from the inverse Hessian.
    covariance : numpy.ndarray
        Estimated covariance matrix.
    n_customers : float
        Customers fitted on (sum of the weights).
    n_iterations : int
        Optimizer iterations.
    message : str
        The optimizer's message.

    Notes
    -----
    .. math::

        L = \frac{B(a, b+x+1)}{B(a,b)}\frac{\Gamma(r+x)\alpha^r}{\Gamma(r)(\alpha+T)^{r+x}}
        + \frac{B(a+1, b+x)}{B(a,b)}\frac{\Gamma(r+x)\alpha^r}{\Gamma(r)(\alpha+t_x)^{r+x}}

    .. math::

        E[X(t)] = \frac{b}{a-1}\left[1 - \left(\frac{\alpha}{\alpha+t}\right)^{r}
        {}_2F_1\!\left(r, b+1; a+b; \tfrac{t}{\alpha+t}\right)\right]

    (derived from :math:`E[X(t)\mid\lambda,p] = \frac{1-p}{p}(1-e^{-\lambda p t})`;
    the tests check it by numerical integration).

    References
    ----------
    Batislam, E. P., Denizel, M. & Filiztekin, A. (2007). Empirical
    validation and comparison of models for customer base analysis.
    *International Journal of Research in Marketing* 24(3), 201-209.
    """

    _modified: ClassVar[bool] = True


def _count_data(
    frequency: Any,
    recency: Any,
    T: Any,
    weights: Any,
    *,
    discrete: bool = False,
    max_frequency: float | None = None,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, float]:
    """Validate and compress the fitting data; returns x, tx, T, w and the total weight."""
    x, tx, big_t = _as_rfm(frequency, recency, T, discrete=discrete)
    if max_frequency is not None:  # checked before compression, so the row is the caller's
        v.check_range(
            x, "frequency", high=max_frequency, hint="a purchase count beyond 2**53 cannot be exact"
        )
    w = _fit_weights(weights, len(x))
    if not np.any(x > 0):
        raise InvalidInputError(
            f"frequency is 0 for all {len(x)} rows: without repeat purchases the model "
            "cannot be estimated; use a longer calibration window"
        )
    (x, tx, big_t), w, _ = _numeric.compress_rows([x, tx, big_t], w)
    return x, tx, big_t, w, float(w.sum())


def _start_rate(x: FloatArray, big_t: FloatArray, w: FloatArray) -> float:
    """A scale-aware start for a rate parameter: total time over total purchases."""
    time = _wsum(w, big_t)
    count = _wsum(w, x)
    if time <= 0.0:
        return 1.0
    return time / max(count, 0.1 * float(w.sum()), 1e-12)


def _fit_nbd(
    frequency: Any,
    recency: Any,
    T: Any,
    weights: Any,
    initial: Mapping[str, float] | None,
    *,
    modified: bool,
) -> BGNBDModel:
    cls = MBGNBDModel if modified else BGNBDModel
    label = "MBG/NBD" if modified else "BG/NBD"
    x, tx, big_t, w, total = _count_data(frequency, recency, T, weights)
    x0 = _initial(initial, cls._param_names, np.asarray([1.0, _start_rate(x, big_t, w), 1.0, 1.0]))

    data = _NBDData.of(x, tx, big_t, w)

    def loglik(theta: FloatArray) -> tuple[float, FloatArray]:
        return _nbd_total(theta, data, modified=modified)

    fit = _numeric.maximize_log_likelihood(
        loglik, x0, total_weight=total, model=label, names=cls._param_names
    )
    _warn_fit(label, fit)
    return cls(
        params=dict(zip(cls._param_names, fit.params.tolist(), strict=True)),
        log_likelihood=fit.log_likelihood,
        standard_errors=dict(zip(cls._param_names, fit.standard_errors.tolist(), strict=True)),
        covariance=fit.covariance,
        n_customers=total,
        n_iterations=fit.n_iterations,
        message=fit.message,
    )


_FIT_PARAMS_DOC = """
    frequency : array_like
        Repeat purchases per customer (whole numbers >= 0).
    recency : array_like
        Age at the last purchase (0 where frequency is 0), <= T.
    T : array_like
        Age at the end of the calibration window.
    weights : array_like, optional
        Customers per row (> 0), for example from :meth:`BTYDSummary.compressed`.
    initial : Mapping[str, float], optional
        Starting values for some or all parameters."""


def fit_bgnbd(
    frequency: Any,
    recency: Any,
    T: Any,
    *,
    weights: Any = None,
    initial: Mapping[str, float] | None = None,
) -> BGNBDModel:
    r"""Fit the BG/NBD model by maximum likelihood.

    Parameters
    ----------
    frequency : array_like
        Repeat purchases per customer (whole numbers >= 0).
    recency : array_like
        Age at the last purchase (0 where frequency is 0), <= T.
    T : array_like
        Age at the end of the calibration window.
    weights : array_like, optional
        Customers per row (> 0), for example from :meth:`BTYDSummary.compressed`.
    initial : Mapping[str, float], optional
        Starting values for some or all of ``r``, ``alpha``, ``a``, ``b``.

    Returns
    -------
    BGNBDModel

    Raises
    ------
    InvalidInputError
        If a column is empty, not finite, negative, a frequency is not whole,
        recency exceeds T, recency is positive without repeat purchases, or a
        weight is not positive.
    ConvergenceError
        If the optimizer fails (the message is the optimizer's).

    Notes
    -----
    Customer log-likelihood (Fader, Hardie & Lee 2005, eq. 6):

    .. math::

        L = \frac{B(a, b+x)}{B(a,b)}\frac{\Gamma(r+x)\alpha^r}{\Gamma(r)(\alpha+T)^{r+x}}
        + \delta_{x>0}\frac{B(a+1, b+x-1)}{B(a,b)}
        \frac{\Gamma(r+x)\alpha^r}{\Gamma(r)(\alpha+t_x)^{r+x}}

    evaluated in log space (``gammaln``, ``logaddexp``) with its analytic
    gradient; the search runs over the logarithms of the parameters with
    BFGS. Identical rows are merged into weighted rows first. Standard
    errors come from the inverse of the Hessian of the log-likelihood
    (central differences of the analytic gradient).

    References
    ----------
    Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). "Counting your
    customers" the easy way: an alternative to the Pareto/NBD model.
    *Marketing Science* 24(2), 275-284.

    Examples
    --------
    >>> from custrel import BGNBDModel, fit_bgnbd
    >>> truth = BGNBDModel.from_params({"r": 0.5, "alpha": 5.0, "a": 1.5, "b": 4.0})
    >>> sim = truth.simulate(3000, T=52.0, rng=7)
    >>> m = fit_bgnbd(sim.frequency, sim.recency, sim.T)
    >>> {k: round(x, 1) for k, x in m.params.items()}
    {'r': 0.5, 'alpha': 5.0, 'a': 1.7, 'b': 4.7}
    >>> m.expected_purchases([13.0, 52.0]).round(2).tolist()
    [0.9, 2.11]
    """
    return _fit_nbd(frequency, recency, T, weights, initial, modified=False)


def fit_mbgnbd(
    frequency: Any,
    recency: Any,
    T: Any,
    *,
    weights: Any = None,
    initial: Mapping[str, float] | None = None,
) -> MBGNBDModel:
    r"""Fit the MBG/NBD model (Batislam, Denizel & Filiztekin 2007) by maximum likelihood.

    Parameters
    ----------
    frequency : array_like
        Repeat purchases per customer (whole numbers >= 0).
    recency : array_like
        Age at the last purchase (0 where frequency is 0), <= T.
    T : array_like
        Age at the end of the calibration window.
    weights : array_like, optional
        Customers per row (> 0).
    initial : Mapping[str, float], optional
        Starting values for some or all of ``r``, ``alpha``, ``a``, ``b``.

    Returns
    -------
    MBGNBDModel

    Raises
    ------
    InvalidInputError
        As :func:`fit_bgnbd`.
    ConvergenceError
        If the optimizer fails.

    Notes
    -----
    The likelihood is in :class:`MBGNBDModel`; the fit works as in
    :func:`fit_bgnbd`.

    References
    ----------
    Batislam, E. P., Denizel, M. & Filiztekin, A. (2007). Empirical
    validation and comparison of models for customer base analysis.
    *International Journal of Research in Marketing* 24(3), 201-209.

    Examples
    --------
    >>> from custrel import MBGNBDModel, fit_mbgnbd
    >>> truth = MBGNBDModel.from_params({"r": 0.5, "alpha": 5.0, "a": 1.5, "b": 4.0})
    >>> sim = truth.simulate(3000, T=52.0, rng=7)
    >>> m = fit_mbgnbd(sim.frequency, sim.recency, sim.T)
    >>> bool(m.probability_alive(0, 0, 52)[()] < 1.0)
    True
    """
    model = _fit_nbd(frequency, recency, T, weights, initial, modified=True)
    assert isinstance(model, MBGNBDModel)
    return model


# ---------------------------------------------------------------------------
# Pareto/NBD (the mathematics live in custrel._pareto_nbd)
# ---------------------------------------------------------------------------


@attrs.frozen(eq=False, repr=False)
class ParetoNBDModel(RepeatPurchaseModel):
    r"""A fitted Pareto/NBD model (Schmittlein, Morrison & Colombo 1987); see :func:`fit_pareto_nbd`.

    While active, a customer buys at a Poisson rate :math:`\lambda \sim
    \mathrm{Gamma}(r, \alpha)`; the active lifetime is exponential with rate
    :math:`\mu \sim \mathrm{Gamma}(s, \beta)`.

    Attributes
    ----------
    params : Mapping[str, float]
        ``r``, ``alpha``, ``s``, ``beta`` (``alpha`` and ``beta`` in the time
        unit of the data).
    log_likelihood : float
        The maximised log-likelihood (weighted sum).
    standard_errors : Mapping[str, float]
        Standard errors from the inverse Hessian.
    covariance : numpy.ndarray
        The variances on the diagonal (off-diagonal entries are NaN: the
        Pareto/NBD fit reports standard errors only).
    n_customers : float
        Customers fitted on (sum of the weights).
    n_iterations : int
        Optimizer iterations.
    message : str
        The optimizer's message.

    Notes
    -----
    The likelihood and the predictions are evaluated without the Gauss
    hypergeometric function's overflow for large frequencies and long T
    (see the module ``custrel._pareto_nbd``).

    References
    ----------
    Schmittlein, D. C., Morrison, D. G. & Colombo, R. (1987). Counting your
    customers: who are they and what will they do next? *Management Science*
    33(1), 1-24.
    Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). A note on
    implementing the Pareto/NBD model in MATLAB.
    """

    _param_names: ClassVar[tuple[str, ...]] = ("r", "alpha", "s", "beta")

    def _ll(self, x: FloatArray, tx: FloatArray, big_t: FloatArray) -> FloatArray:
        out = _pareto_nbd.log_likelihood(self._theta(), x.ravel(), tx.ravel(), big_t.ravel())
        return np.asarray(out, dtype=np.float64).reshape(x.shape)

    def _expected(self, t: FloatArray) -> FloatArray:
        out = _pareto_nbd.expected_purchases(self._theta(), t.ravel())
        return np.asarray(out, dtype=np.float64).reshape(t.shape)

    def _alive(self, x: FloatArray, tx: FloatArray, big_t: FloatArray) -> FloatArray:
        out = _pareto_nbd.probability_alive(self._theta(), x.ravel(), tx.ravel(), big_t.ravel())
        return np.asarray(out, dtype=np.float64).reshape(x.shape)

    def _conditional(
        self, t: FloatArray, x: FloatArray, tx: FloatArray, big_t: FloatArray
    ) -> FloatArray:
        # inputs are validated: the kernels of _pareto_nbd directly, on copies of the
        # broadcast columns (never on broadcast views)
        tb, xb, txb, tb2 = (a.ravel() for a in _broadcast_customers(t, x, tx, big_t))
        prm = self._theta()
        r, alpha, s, beta = (float(q) for q in prm)
        alive = _pareto_nbd._alive(prm, xb, txb, tb2)
        out = alive * (r + xb) / (alpha + tb2) * _pareto_nbd.growth(s, tb, beta + tb2)
        shape = np.broadcast_shapes(np.shape(t), np.shape(x), np.shape(tx), np.shape(big_t))
        return np.asarray(out, dtype=np.float64).reshape(shape)

    def _discounted_purchases(
        self,
        horizon: int,
        period: float,
        rate: float,
        x: FloatArray,
        tx: FloatArray,
        big_t: FloatArray,
    ) -> FloatArray:
        # P(alive) once per customer; only the closed-form growth term depends on t
        r, alpha, s, beta = (float(q) for q in self._theta())
        xr, txr, tr = x.ravel(), tx.ravel(), big_t.ravel()
        factor = _pareto_nbd._alive(self._theta(), xr, txr, tr) * (r + xr) / (alpha + tr)
        base = beta + tr
        total = _discounted_sum(
            lambda t: _pareto_nbd.growth(s, np.broadcast_to(t, base.shape), base),
            horizon,
            period,
            rate,
            base.shape,
        )
        out: FloatArray = (factor * total).reshape(x.shape)
        return out

    def _pmf(self, n: FloatArray, t: FloatArray) -> FloatArray:
        nb, tb = _broadcast_customers(n, t)
        out = _pareto_nbd.probability_of_purchases(self._theta(), nb.ravel(), tb.ravel())
        return np.asarray(out, dtype=np.float64).reshape(nb.shape)

    def _simulate(
        self, n_customers: int, big_t: FloatArray, rng: np.random.Generator
    ) -> tuple[FloatArray, FloatArray]:
        out = _pareto_nbd.simulate(self._theta(), n_customers, big_t, rng)
        return (
            np.asarray(out["frequency"], dtype=np.float64),
            np.asarray(out["recency"], dtype=np.float64),
        )


def fit_pareto_nbd(
    frequency: Any,
    recency: Any,
    T: Any,
    *,
    weights: Any = None,
    initial: Mapping[str, float] | None = None,
) -> ParetoNBDModel:
    r"""Fit the Pareto/NBD model by maximum likelihood.

    Parameters
    ----------
    frequency : array_like
        Repeat purchases per customer (whole numbers >= 0).
    recency : array_like
        Age at the last purchase (0 where frequency is 0), <= T.
    T : array_like
        Age at the end of the calibration window.
    weights : array_like, optional
        Customers per row (> 0).
    initial : Mapping[str, float], optional
        Starting values for some or all of ``r``, ``alpha``, ``s``, ``beta``.

    Returns
    -------
    ParetoNBDModel

    Raises
    ------
    InvalidInputError
        As :func:`fit_bgnbd`.
    ConvergenceError
        If the optimizer fails.

    Notes
    -----
    Identical rows are merged into weighted rows, then the likelihood of
    Fader, Hardie & Lee (2005, "A note on implementing the Pareto/NBD model
    in MATLAB"), written so that it stays finite for every customer, is
    maximised over the logarithms of the parameters.

    References
    ----------
    Schmittlein, D. C., Morrison, D. G. & Colombo, R. (1987). Counting your
    customers: who are they and what will they do next? *Management Science*
    33(1), 1-24.

    Examples
    --------
    >>> from custrel import ParetoNBDModel, fit_pareto_nbd
    >>> truth = ParetoNBDModel.from_params({"r": 0.55, "alpha": 10.6, "s": 0.61, "beta": 11.7})
    >>> sim = truth.simulate(4000, T=39.0, rng=11)
    >>> m = fit_pareto_nbd(sim.frequency, sim.recency, sim.T)
    >>> sorted(m.params)
    ['alpha', 'beta', 'r', 's']
    >>> float(m.probability_alive(0, 0.0, 0.0))
    1.0
    """
    x, tx, big_t, w, total = _count_data(
        frequency, recency, T, weights, max_frequency=_pareto_nbd.MAX_FREQUENCY
    )
    names = ParetoNBDModel._param_names
    x0 = (
        None
        if initial is None
        else _initial(
            initial,
            names,
            np.asarray([1.0, _start_rate(x, big_t, w), 1.0, _start_rate(x, big_t, w)]),
        )
    )
    fit = _pareto_nbd.fit(x, tx, big_t, w, x0=x0)
    se = np.asarray(fit.standard_errors, dtype=np.float64)
    cov = np.full((4, 4), np.nan)
    np.fill_diagonal(cov, se**2)
    return ParetoNBDModel(
        params=dict(zip(names, np.asarray(fit.params, dtype=np.float64).tolist(), strict=True)),
        log_likelihood=float(fit.log_likelihood),
        standard_errors=dict(zip(names, se.tolist(), strict=True)),
        covariance=cov,
        n_customers=total,
        n_iterations=int(fit.n_iterations),
        message=str(fit.message),
    )


# ---------------------------------------------------------------------------
# BG/BB (discrete opportunities)
# ---------------------------------------------------------------------------


def _bgbb_terms(
    x: FloatArray, tx: FloatArray, n: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, npt.NDArray[np.bool_]]:
    """The (M, G, D) arguments of each likelihood term and the mask of real terms.

    Term j of customer i is B(alpha + x, beta + M) B(gamma + G, delta + D) /
    (B(alpha, beta) B(gamma, delta)); column 0 is the "alive throughout" term,
    columns 1.. the "dropped out after opportunity tx + i" terms.
    """
    width = int(np.max(n - tx)) if len(n) else 0
    v.check_budget(
        float(len(x)) * (width + 1),
        "the BG/BB likelihood terms (distinct histories x opportunities after the last "
        "transaction)",
        budget=v.max_cells(),
        culprit=f"T - recency = {width}",
        env="CUSTREL_MAX_CELLS",
    )
    i = np.arange(width, dtype=np.float64)[None, :]
    mask_rest = i < (n - tx)[:, None]
    m = np.concatenate([(n - x)[:, None], tx[:, None] - x[:, None] + i], axis=1)
    g = np.concatenate([np.zeros((len(x), 1)), np.ones((len(x), width))], axis=1)
    d = np.concatenate([n[:, None], tx[:, None] + i], axis=1)
    mask = np.concatenate([np.ones((len(x), 1), dtype=bool), mask_rest], axis=1)
    m = np.where(mask, m, 0.0)
    d = np.where(mask, d, 0.0)
    return m, g, d, x[:, None] + np.zeros_like(m), mask


def _bgbb_loglik(
    theta: FloatArray, x: FloatArray, tx: FloatArray, n: FloatArray, w: FloatArray | None = None
) -> tuple[FloatArray, FloatArray | None]:
    alpha, beta, gamma, delta = (float(p) for p in theta)
    m, g, d, xx, mask = _bgbb_terms(x, tx, n)
    log_terms = (
        _betaln(alpha + xx, beta + m)
        - _betaln(alpha, beta)
        + _betaln(gamma + g, delta + d)
        - _betaln(gamma, delta)
    )
    log_terms = np.where(mask, log_terms, -np.inf)
    ll: FloatArray = special.logsumexp(log_terms, axis=1)
    if w is None:
        return ll, None
    soft = np.exp(log_terms - ll[:, None])
    ab = _psi(alpha + beta + xx + m)
    gd = _psi(gamma + delta + g + d)
    da = (soft * (_psi(alpha + xx) - ab)).sum(axis=1) - (_psi(alpha) - _psi(alpha + beta))
    db = (soft * (_psi(beta + m) - ab)).sum(axis=1) - (_psi(beta) - _psi(alpha + beta))
    dg = (soft * (_psi(gamma + g) - gd)).sum(axis=1) - (_psi(gamma) - _psi(gamma + delta))
    dd = (soft * (_psi(delta + d) - gd)).sum(axis=1) - (_psi(delta) - _psi(gamma + delta))
    return ll, _wsums(w, da, db, dg, dd)


@attrs.frozen(eq=False, repr=False)
class BGBBModel(RepeatPurchaseModel):
    r"""A fitted BG/BB model (Fader, Hardie & Shang 2010); build it with :func:`fit_bgbb`.

    At each discrete transaction opportunity an active customer buys with
    probability :math:`p \sim \mathrm{Beta}(\alpha, \beta)`; before each
    opportunity the customer drops out with probability
    :math:`\theta \sim \mathrm{Beta}(\gamma, \delta)`. ``frequency`` is the
    number of transactions in the ``T`` opportunities (the first purchase,
    which defined the cohort, not counted) and ``recency`` the number of the
    opportunity with the last one; ``t`` counts future opportunities.

    Attributes
    ----------
    params : Mapping[str, float]
        ``alpha``, ``beta``, ``gamma``, ``delta``.
    log_likelihood : float
        The maximised log-likelihood (weighted sum).
    standard_errors : Mapping[str, float]
        Standard errors from the inverse Hessian.
    covariance : numpy.ndarray
        Estimated covariance matrix.
    n_customers : float
        Customers fitted on (sum of the weights).
    n_iterations : int
        Optimizer iterations.
    message : str
        The optimizer's message.

    Notes
    -----
    .. math::

        E[X(n^*)\mid x, t_x, n] = \frac{1}{L}\frac{B(\alpha+x+1, \beta+n-x)}{B(\alpha,\beta)}
        \frac{\delta}{\gamma-1}\frac{\Gamma(\gamma+\delta)}{\Gamma(1+\delta)}
        \left[\frac{\Gamma(1+\delta+n)}{\Gamma(\gamma+\delta+n)} -
        \frac{\Gamma(1+\delta+n+n^*)}{\Gamma(\gamma+\delta+n+n^*)}\right]

    written as :math:`\frac{T_0}{L}\,\frac{\alpha+x}{\alpha+\beta+n}\,
    \sum_{i=1}^{n^*} E[(1-\theta)^i]` (:math:`T_0` the "alive through
    :math:`n`" term of the likelihood, :math:`\theta \sim
    \mathrm{Beta}(\gamma, \delta+n)`), the sum evaluated without the
    removable singularity at :math:`\gamma = 1` and without cancellation for
    large :math:`\gamma`, :math:`\delta + n` or :math:`n^*`.
    ``probability_alive`` is the probability of being active at opportunity
    :math:`n + 1`, :math:`\frac{T_0}{L}\frac{\delta+n}{\gamma+\delta+n}`: a
    product of two numbers in [0, 1]. Predictions are finite for every
    positive parameter.

    References
    ----------
    Fader, P. S., Hardie, B. G. S. & Shang, J. (2010). Customer-base analysis
    in a discrete-time noncontractual setting. *Marketing Science* 29(6),
    1086-1108.
    """

    _param_names: ClassVar[tuple[str, ...]] = ("alpha", "beta", "gamma", "delta")
    _discrete: ClassVar[bool] = True

    def _ll(self, x: FloatArray, tx: FloatArray, big_t: FloatArray) -> FloatArray:
        # discrete histories repeat: evaluate the (customers x terms) sum once per
        # distinct (x, t_x, n), so memory follows the distinct histories, not the customers
        (xu, txu, nu), _, inv = _numeric.compress_rows(
            [x.ravel(), tx.ravel(), big_t.ravel()], np.ones(x.size)
        )
        return _bgbb_loglik(self._theta(), xu, txu, nu)[0][inv].reshape(x.shape)

    def _future(self, t: FloatArray, n: FloatArray) -> FloatArray:
        r"""F(t, n): expected opportunities survived among the next t, alive at n.

        :math:`\sum_{i=1}^{t} E[(1-\theta)^i]` for :math:`\theta \sim
        \mathrm{Beta}(\gamma, d)`, :math:`d = \delta + n`, is
        :math:`d\,(1 - e^{\Delta})/(\gamma - 1)` with
        :math:`\Delta = \ln\frac{\Gamma(1+d+t)\,\Gamma(\gamma+d)}
        {\Gamma(\gamma+d+t)\,\Gamma(1+d)} = (1-\gamma) R`. Written as
        :math:`F = d R\,(1 - e^{-v})/v`, :math:`v = (\gamma-1) R`, it has no
        singularity at :math:`\gamma = 1` (the last factor is 1 at
        :math:`v = 0`). :math:`R` is taken without cancellation: for
        :math:`t \le 32` as :math:`\sum_{j<t} \log(1+u_j)/u_j / (\gamma+d+j)`,
        :math:`u_j = (1-\gamma)/(\gamma+d+j)`; for longer windows as the mean of
        :math:`\psi(c+d+t) - \psi(c+d)` over :math:`c \in [1, \gamma]` (8-point
        Gauss-Legendre) when :math:`|\gamma - 1| \le 1/2`, and from two
        ``betaln`` values otherwise. Non-negative, increasing in ``t`` and
        finite for every positive parameter.
        """
        _, _, gamma, delta = self._theta()
        tb, nb = np.broadcast_arrays(np.asarray(t, dtype=np.float64), n)
        d = delta + nb
        g1 = gamma - 1.0
        short = tb <= _BGBB_SHORT
        r_val = np.empty(tb.shape)
        if short.any():
            j = np.arange(_BGBB_SHORT, dtype=np.float64)
            ds, ts = d[short][:, None], tb[short][:, None]
            u = -g1 / (gamma + ds + j)
            small = np.abs(u) < 1e-12
            lr = np.where(small, 1.0 - 0.5 * u, np.log1p(u) / np.where(small, 1.0, u))
            r_val[short] = np.sum(np.where(j < ts, lr / (gamma + ds + j), 0.0), axis=1)
        long_ = ~short
        if long_.any():
            dl, tl = d[long_], tb[long_]
            # the mean over c in [1, gamma] by Gauss-Legendre where the nearest pole of the
            # integrand (c = -d) is at least 3 half-widths from the interval's centre
            quad = 0.5 * (1.0 + gamma) + dl >= 1.5 * abs(g1)
            r_long = np.empty(dl.shape)
            if quad.any():
                nodes, weights = _numeric.gauss_legendre(16)
                c = 1.0 + 0.5 * g1 * (1.0 + nodes)
                dd, tt = dl[quad][:, None], tl[quad][:, None]
                r_long[quad] = np.sum(0.5 * weights * _psi_diff(c + dd, tt), axis=1)
            if not quad.all():  # d small against gamma: no cancellation in the betaln values
                dq, tq = dl[~quad], tl[~quad]
                if g1 > 0:
                    r_long[~quad] = (_betaln(1.0 + dq + tq, g1) - _betaln(1.0 + dq, g1)) / -g1
                else:
                    r_long[~quad] = (_betaln(gamma + dq, -g1) - _betaln(gamma + dq + tq, -g1)) / -g1
            r_val[long_] = r_long
        r_val = np.maximum(r_val, 0.0)  # R >= 0 exactly: each term is positive
        v_ = g1 * r_val
        tiny = np.abs(v_) < 1e-12
        with np.errstate(over="ignore"):
            ratio = np.where(tiny, 1.0 - 0.5 * v_, -np.expm1(-v_) / np.where(tiny, 1.0, v_))
        out: FloatArray = d * r_val * ratio
        return out

    def _expected(self, t: FloatArray) -> FloatArray:
        alpha, beta, _, _ = self._theta()
        out: FloatArray = alpha / (alpha + beta) * self._future(t, np.zeros_like(t))
        return out

    def _alive_share(self, x: FloatArray, tx: FloatArray, big_t: FloatArray) -> FloatArray:
        """Log of T_0 / L: the share of the "alive through opportunity n" term in L (<= 0).

        With ``m`` the largest log-term, ``log(T_0/L) = (l_0 - m) - log(sum e^(l_j - m))``;
        the first part is <= 0 and the sum holds the term ``e^0 = 1``, so its log
        is >= 0: the share never exceeds 1, also in floating point.
        """
        (xu, txu, nu), _, inv = _numeric.compress_rows(
            [x.ravel(), tx.ravel(), big_t.ravel()], np.ones(x.size)
        )
        alpha, beta, gamma, delta = self._theta()
        m, g, d, xx, mask = _bgbb_terms(xu, txu, nu)
        log_terms = (
            _betaln(alpha + xx, beta + m)
            - _betaln(alpha, beta)
            + _betaln(gamma + g, delta + d)
            - _betaln(gamma, delta)
        )
        log_terms = np.where(mask, log_terms, -np.inf)
        top = np.max(log_terms, axis=1)
        share = (log_terms[:, 0] - top) - np.log(np.sum(np.exp(log_terms - top[:, None]), axis=1))
        out: FloatArray = share[inv].reshape(x.shape)
        return out

    def _alive(self, x: FloatArray, tx: FloatArray, big_t: FloatArray) -> FloatArray:
        # P(alive at n + 1) = T_0 / L * B(gamma, delta + n + 1) / B(gamma, delta + n),
        # the last ratio being (delta + n) / (gamma + delta + n): a product of two
        # numbers in [0, 1] (no ratio of two separately computed likelihoods)
        _, _, gamma, delta = self._theta()
        log_keep = np.log1p(-gamma / (gamma + delta + big_t))
        out: FloatArray = np.exp(self._alive_share(x, tx, big_t) + log_keep)
        return out

    def _conditional_factor(self, x: FloatArray, tx: FloatArray, big_t: FloatArray) -> FloatArray:
        """E[p | alive through n, history] * T_0 / L: the t-free factor of the forecast."""
        alpha, beta, _, _ = self._theta()
        out: FloatArray = np.exp(self._alive_share(x, tx, big_t)) * (
            (alpha + x) / (alpha + beta + big_t)
        )
        return out

    def _conditional(
        self, t: FloatArray, x: FloatArray, tx: FloatArray, big_t: FloatArray
    ) -> FloatArray:
        out: FloatArray = self._conditional_factor(x, tx, big_t) * self._future(t, big_t)
        return out

    def _discounted_purchases(
        self,
        horizon: int,
        period: float,
        rate: float,
        x: FloatArray,
        tx: FloatArray,
        big_t: FloatArray,
    ) -> FloatArray:
        factor = self._conditional_factor(x, tx, big_t)
        (nu,), _, inv = _numeric.compress_rows([big_t.ravel()], np.ones(big_t.size))
        total = _discounted_sum(lambda t: self._future(t, nu), horizon, period, rate, nu.shape)
        out: FloatArray = factor * total[inv].reshape(big_t.shape)
        return out

    def _pmf(self, n: FloatArray, t: FloatArray) -> FloatArray:
        alpha, beta, gamma, delta = self._theta()
        xb, nb = np.broadcast_arrays(n, t)
        shape = xb.shape
        xv, nv = xb.ravel().astype(np.float64), nb.ravel().astype(np.float64)
        possible = xv <= nv
        xs = np.where(possible, xv, 0.0)

        def lchoose(a: FloatArray, b: FloatArray) -> FloatArray:
            res: FloatArray = _gammaln(a + 1.0) - _gammaln(b + 1.0) - _gammaln(a - b + 1.0)
            return res

        first = (
            lchoose(nv, xs)
            + _betaln(alpha + xs, beta + nv - xs)
            - _betaln(alpha, beta)
            + _betaln(gamma, delta + nv)
            - _betaln(gamma, delta)
        )
        width = int(nv.max()) if len(nv) else 0
        v.check_budget(
            float(len(nv)) * (width + 1),
            "the BG/BB purchase probabilities (values x opportunities)",
            budget=v.max_cells(),
            culprit=f"t = {width}",
            env="CUSTREL_MAX_CELLS",
        )
        i = np.arange(width, dtype=np.float64)[None, :]
        mask = (i >= xs[:, None]) & (i < nv[:, None])
        ii = np.where(mask, i, xs[:, None])
        rest = (
            lchoose(ii, xs[:, None])
            + _betaln(alpha + xs[:, None], beta + ii - xs[:, None])
            - _betaln(alpha, beta)
            + _betaln(gamma + 1.0, delta + ii)
            - _betaln(gamma, delta)
        )
        total = np.exp(first) + np.where(mask, np.exp(rest), 0.0).sum(axis=1)
        out: FloatArray = np.where(possible, total, 0.0).reshape(shape)
        return out

    def _simulate(
        self, n_customers: int, big_t: FloatArray, rng: np.random.Generator
    ) -> tuple[FloatArray, FloatArray]:
        alpha, beta, gamma, delta = self._theta()
        p = rng.beta(alpha, beta, n_customers)
        theta = rng.beta(gamma, delta, n_customers)
        # opportunities survived: alive at opportunity k with probability (1 - theta)^k
        lifetime = _geometric(theta, rng) - 1.0
        active = np.minimum(lifetime, big_t)
        # the active opportunities are independent Bernoulli(p) trials; read them from
        # the last one back: the failures after the last purchase are geometric, and
        # the trials before it are still independent (no loop over opportunities)
        trailing = np.minimum(_geometric(p, rng) - 1.0, active)
        tx = active - trailing  # the opportunity of the last purchase (0: none)
        bought = tx > 0
        earlier = rng.binomial(np.where(bought, tx - 1.0, 0.0).astype(np.int64), p)
        x = np.where(bought, 1.0 + earlier, 0.0)
        return x, np.where(bought, tx, 0.0)


def fit_bgbb(
    frequency: Any,
    recency: Any,
    T: Any,
    *,
    weights: Any = None,
    initial: Mapping[str, float] | None = None,
) -> BGBBModel:
    r"""Fit the BG/BB model for discrete transaction opportunities by maximum likelihood.

    Parameters
    ----------
    frequency : array_like
        Transactions in the ``T`` opportunities (whole numbers >= 0).
    recency : array_like
        The opportunity (1..T) of the last transaction; 0 without any.
    T : array_like
        Number of opportunities (whole numbers).
    weights : array_like, optional
        Customers per row (> 0), for example the counts of a
        recency/frequency table.
    initial : Mapping[str, float], optional
        Starting values for some or all of ``alpha``, ``beta``, ``gamma``,
        ``delta``.

    Returns
    -------
    BGBBModel

    Raises
    ------
    InvalidInputError
        As :func:`fit_bgnbd`, and if a value is not a whole number or
        frequency exceeds recency.
    ConvergenceError
        If the optimizer fails.

    Notes
    -----
    Customer likelihood (Fader, Hardie & Shang 2010, eq. 5):

    .. math::

        L = \frac{B(\alpha+x, \beta+n-x)}{B(\alpha,\beta)}\frac{B(\gamma, \delta+n)}{B(\gamma,\delta)}
        + \sum_{i=0}^{n-t_x-1}\frac{B(\alpha+x, \beta+t_x-x+i)}{B(\alpha,\beta)}
        \frac{B(\gamma+1, \delta+t_x+i)}{B(\gamma,\delta)}

    summed in log space (``logsumexp`` over a customers-by-terms matrix),
    with the analytic gradient (digamma functions weighted by each term's
    share).

    References
    ----------
    Fader, P. S., Hardie, B. G. S. & Shang, J. (2010). Customer-base analysis
    in a discrete-time noncontractual setting. *Marketing Science* 29(6),
    1086-1108.

    Examples
    --------
    >>> from custrel import fit_bgbb
    >>> m = fit_bgbb([0, 1, 3, 6, 2, 1], [0, 1, 5, 6, 6, 3], [6] * 6,
    ...              weights=[300, 100, 120, 150, 80, 60])
    >>> bool(0.0 < m.probability_alive(3, 5, 6)[()] < 1.0)
    True
    """
    x, tx, n, w, total = _count_data(frequency, recency, T, weights, discrete=True)
    names = BGBBModel._param_names
    x0 = _initial(initial, names, np.ones(4))

    def loglik(theta: FloatArray) -> tuple[float, FloatArray]:
        ll, grad = _bgbb_loglik(theta, x, tx, n, w)
        assert grad is not None
        return _wsum(w, ll), grad

    fit = _numeric.maximize_log_likelihood(
        loglik, x0, total_weight=total, model="BG/BB", names=names
    )
    _warn_fit("BG/BB", fit)
    return BGBBModel(
        params=dict(zip(names, fit.params.tolist(), strict=True)),
        log_likelihood=fit.log_likelihood,
        standard_errors=dict(zip(names, fit.standard_errors.tolist(), strict=True)),
        covariance=fit.covariance,
        n_customers=total,
        n_iterations=fit.n_iterations,
        message=fit.message,
    )


# ---------------------------------------------------------------------------
# Gamma-Gamma spend model
# ---------------------------------------------------------------------------


def _gg_loglik(
    theta: FloatArray, x: FloatArray, m: FloatArray, w: FloatArray | None = None
) -> tuple[FloatArray, FloatArray | None]:
    p, q, gamma = (float(t) for t in theta)
    px = p * x
    log_m = np.log(m)
    log_x = np.log(x)
    log_gxm = np.log(gamma + x * m)
    ll: FloatArray = (
        _gammaln(px + q)
        - _gammaln(px)
        - _gammaln(q)
        + q * np.log(gamma)
        + (px - 1.0) * log_m
        + px * log_x
        - (px + q) * log_gxm
    )
    if w is None:
        return ll, None
    psi_pq = _psi(px + q)
    dp = x * (psi_pq - _psi(px) + log_m + log_x - log_gxm)
    dq = psi_pq - _psi(q) + np.log(gamma) - log_gxm
    dg = q / gamma - (px + q) / (gamma + x * m)
    return ll, _wsums(w, dp, dq, dg)


def _as_spend(
    frequency: Any, monetary_value: Any, *, allow_scalar: bool, allow_zero: bool
) -> tuple[FloatArray, FloatArray]:
    ndim: int | tuple[int, ...] = (0, 1) if allow_scalar else 1
    x = v.as_float_array(frequency, "frequency", ndim=ndim)
    m = v.as_float_array(monetary_value, "monetary_value", ndim=ndim, finite=False)
    if allow_scalar:
        try:
            x, m = (np.array(a) for a in np.broadcast_arrays(x, m))
        except ValueError:
            raise InvalidInputError(
                f"frequency and monetary_value must have the same length, got {x.size} and {m.size}"
            ) from None
    else:
        v.check_same_length(frequency=x, monetary_value=m)
    v.check_integer_valued(x, "frequency")
    hint = "the Gamma-Gamma model needs repeat buyers; select them with BTYDSummary.repeat_buyers()"
    v.check_range(x, "frequency", low=0.0 if allow_zero else 1.0, hint="" if allow_zero else hint)
    v.check_range(
        x,
        "frequency",
        high=_pareto_nbd.MAX_FREQUENCY,
        hint="a purchase count beyond 2**53 cannot be exact",
    )
    # monetary_value may be NaN only where frequency is 0 (the mean of no purchases)
    check = x > 0
    v.check_finite(np.where(check, m, 1.0), "monetary_value")
    v.check_range(
        np.where(check, m, 1.0),
        "monetary_value",
        low=0.0,
        low_inclusive=False,
        hint="the Gamma-Gamma model needs positive mean spends",
    )
    return x, m


@attrs.frozen(eq=False, repr=False)
class GammaGammaModel(BTYDModel):
    r"""A fitted Gamma-Gamma spend model; build it with :func:`fit_gamma_gamma`.

    A customer's transaction values are Gamma(:math:`p`, :math:`\nu`) with a
    customer-specific :math:`\nu \sim \mathrm{Gamma}(q, \gamma)`, independent
    of the purchase process.

    Attributes
    ----------
    params : Mapping[str, float]
        ``p``, ``q``, ``gamma`` (``gamma`` in money units).
    log_likelihood : float
        The maximised log-likelihood (weighted sum).
    standard_errors : Mapping[str, float]
        Standard errors from the inverse Hessian.
    covariance : numpy.ndarray
        Estimated covariance matrix.
    n_customers : float
        Customers fitted on (sum of the weights).
    n_iterations : int
        Optimizer iterations.
    message : str
        The optimizer's message.
    frequency_spend_correlation : float
        Weighted Pearson correlation of frequency and mean spend in the
        fitting data; the model assumes it is close to 0.

    Notes
    -----
    .. math::

        E[Z\mid p, q, \gamma, \bar z, x] = \frac{q-1}{px+q-1}\frac{p\gamma}{q-1}
        + \frac{px}{px+q-1}\bar z = \frac{p(\gamma + x\bar z)}{px+q-1}

    a weighted mean of the population mean :math:`p\gamma/(q-1)` (infinite
    when :math:`q \le 1`) and the customer's own mean :math:`\bar z`.

    References
    ----------
    Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). RFM and CLV: using
    iso-value curves for customer base analysis. *Journal of Marketing
    Research* 42(4), 415-430.
    Fader, P. S. & Hardie, B. G. S. (2013). The Gamma-Gamma model of
    monetary value.
    """

    frequency_spend_correlation: float = float("nan")

    _param_names: ClassVar[tuple[str, ...]] = ("p", "q", "gamma")

    def customer_log_likelihood(self, frequency: Any, monetary_value: Any) -> FloatArray:
        """Each repeat buyer's log-likelihood of its mean spend.

        Parameters
        ----------
        frequency : array_like
            Repeat purchases (>= 1).
        monetary_value : array_like
            Mean repeat spend (> 0).

        Returns
        -------
        numpy.ndarray
            The log density of the mean spend given the frequency.
        """
        x, m = _as_spend(frequency, monetary_value, allow_scalar=True, allow_zero=False)
        return _gg_loglik(self._theta(), x, m)[0]

    def expected_spend(self) -> float:
        """The population mean spend per transaction, p·gamma/(q - 1) (inf if q <= 1).

        Examples
        --------
        >>> from custrel import GammaGammaModel
        >>> gg = GammaGammaModel.from_params({"p": 6.25, "q": 3.74, "gamma": 15.44})
        >>> round(gg.expected_spend(), 2)
        35.22
        """
        p, q, gamma = self._theta()
        return float(p * gamma / (q - 1.0)) if q > 1.0 else float("inf")

    def conditional_expected_spend(self, frequency: Any, monetary_value: Any) -> FloatArray:
        """Expected spend per future transaction of each customer.

        Parameters
        ----------
        frequency : array_like
            Repeat purchases (>= 0).
        monetary_value : array_like
            Mean repeat spend; ignored (may be NaN) where frequency is 0,
            which gives the population mean.

        Returns
        -------
        numpy.ndarray
            E[Z | frequency, monetary_value].

        Examples
        --------
        >>> from custrel.btyd import GammaGammaModel
        >>> gg = GammaGammaModel.from_params({"p": 6.25, "q": 3.74, "gamma": 15.44})
        >>> [round(float(z), 2) for z in gg.conditional_expected_spend([0, 2], [float("nan"), 22.35])]
        [35.22, 24.66]
        """
        x, m = _as_spend(frequency, monetary_value, allow_scalar=True, allow_zero=True)
        p, q, gamma = self._theta()
        xm = np.where(x > 0, x * np.where(x > 0, m, 0.0), 0.0)
        with np.errstate(divide="ignore"):
            out: FloatArray = p * (gamma + xm) / (p * x + q - 1.0)
        return np.where(p * x + q - 1.0 > 0, out, np.inf)

    def simulate(
        self, frequency: Any, *, rng: np.random.Generator | int | None = None
    ) -> FloatArray:
        """Simulate each customer's mean spend over its ``frequency`` repeat purchases.

        Parameters
        ----------
        frequency : array_like
            Repeat purchases per customer (>= 1).
        rng : numpy.random.Generator, int or None
            Randomness.

        Returns
        -------
        numpy.ndarray
            Simulated mean spends (monetary_value).
        """
        x = v.as_float_array(frequency, "frequency", ndim=1)
        v.check_integer_valued(x, "frequency")
        v.check_range(x, "frequency", low=1.0)
        gen = _as_rng(rng)
        p, q, gamma = self._theta()
        nu = gen.gamma(q, 1.0 / gamma, len(x))
        out: FloatArray = gen.gamma(p * x, 1.0 / (nu * x))
        return out


def fit_gamma_gamma(
    frequency: Any,
    monetary_value: Any,
    *,
    weights: Any = None,
    initial: Mapping[str, float] | None = None,
    max_correlation: float = 0.3,
    on_infinite_mean: str = "raise",
) -> GammaGammaModel:
    r"""Fit the Gamma-Gamma spend model by maximum likelihood.

    Parameters
    ----------
    frequency : array_like
        Repeat purchases per customer (whole numbers >= 1: repeat buyers only).
    monetary_value : array_like
        Mean spend of the repeat purchases (> 0).
    weights : array_like, optional
        Customers per row (> 0).
    initial : Mapping[str, float], optional
        Starting values for some or all of ``p``, ``q``, ``gamma``.
    max_correlation : float
        The model assumes spend is independent of frequency; if the absolute
        (weighted Pearson) correlation of the two exceeds this, a
        :class:`~custrel.FitWarning` says so. The correlation is stored in
        :attr:`GammaGammaModel.frequency_spend_correlation` either way.
    on_infinite_mean : {"raise", "warn"}
        What to do when the estimate ``q`` is at most 1, where the mean
        spend :math:`p\gamma/(q-1)` does not exist (the spends have too
        heavy a tail for the model): ``"raise"`` (default) raises
        :class:`~custrel.ConvergenceError`; ``"warn"`` returns the model with
        a :class:`~custrel.FitWarning`, and its :meth:`~GammaGammaModel.expected_spend`
        is then ``inf`` (as is the conditional expected spend of customers
        with :math:`px + q \le 1`).

    Returns
    -------
    GammaGammaModel

    Raises
    ------
    InvalidInputError
        If a frequency is below 1 or not whole, a monetary value is not
        positive and finite, a weight is not positive, or the lengths differ.
    ConvergenceError
        If the optimizer fails, or (by default) the estimate of ``q`` is at
        most 1, so that the expected spend is infinite.

    Warns
    -----
    FitWarning
        When frequency and spend are correlated beyond ``max_correlation``,
        and with ``on_infinite_mean="warn"`` when ``q <= 1``.

    Notes
    -----
    Log-likelihood of the mean spend :math:`\bar z` of :math:`x` repeat
    transactions (Fader, Hardie & Lee 2005; Fader & Hardie 2013):

    .. math::

        \ell = \ln\Gamma(px+q) - \ln\Gamma(px) - \ln\Gamma(q) + q\ln\gamma
        + (px-1)\ln\bar z + px\ln x - (px+q)\ln(\gamma + x\bar z)

    maximised over the logarithms of the parameters with its analytic
    gradient.

    References
    ----------
    Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). RFM and CLV: using
    iso-value curves for customer base analysis. *Journal of Marketing
    Research* 42(4), 415-430.

    Examples
    --------
    >>> import numpy as np
    >>> from custrel import GammaGammaModel, fit_gamma_gamma
    >>> truth = GammaGammaModel.from_params({"p": 6.25, "q": 3.74, "gamma": 15.44})
    >>> x = np.random.default_rng(3).integers(1, 10, 4000).astype(float)
    >>> gg = fit_gamma_gamma(x, truth.simulate(x, rng=3))
    >>> round(gg.expected_spend(), 0)
    35.0
    """
    x, m = _as_spend(frequency, monetary_value, allow_scalar=False, allow_zero=False)
    w = _fit_weights(weights, len(x))
    limit = v.scalar(max_correlation, "max_correlation", low=0.0, high=1.0)
    policy = v.choice(on_infinite_mean, "on_infinite_mean", ("raise", "warn"))
    total = float(w.sum())
    # Pearson's r is scale-free: scale both columns to at most 1 so that the
    # squares cannot overflow for huge (finite) values.
    xs, ms = x / float(np.max(x)), m / float(np.max(m))
    mx, mm_s = _wsum(w, xs) / total, _wsum(w, ms) / total
    mm = _wsum(w, m / total)
    cov = _wsum(w, (xs - mx) * (ms - mm_s))
    var_x, var_m = _wsum(w, (xs - mx) ** 2), _wsum(w, (ms - mm_s) ** 2)
    corr = float(cov / np.sqrt(var_x * var_m)) if var_x > 0 and var_m > 0 else float("nan")
    if np.isfinite(corr) and abs(corr) > limit:
        warnings.warn(
            f"frequency and monetary_value are correlated (Pearson {corr:.3f}, beyond "
            f"max_correlation {limit:g}); the Gamma-Gamma model assumes independence",
            FitWarning,
            stacklevel=2,
        )
    (x, m), w, _ = _numeric.compress_rows([x, m], w)
    names = GammaGammaModel._param_names
    x0 = _initial(initial, names, np.asarray([2.0, 3.0, max(mm, 1e-6)]))

    def loglik(theta: FloatArray) -> tuple[float, FloatArray]:
        ll, grad = _gg_loglik(theta, x, m, w)
        assert grad is not None
        return _wsum(w, ll), grad

    fit = _numeric.maximize_log_likelihood(
        loglik, x0, total_weight=total, model="Gamma-Gamma", names=names
    )
    _warn_fit("Gamma-Gamma", fit)
    p_hat, q_hat, g_hat = (float(val) for val in fit.params)
    if q_hat <= 1.0:
        text = (
            f"Gamma-Gamma: the estimate q = {q_hat:.4g} is <= 1 (p = {p_hat:.4g}, "
            f"gamma = {g_hat:.4g}), where the expected spend p*gamma/(q-1) is infinite: "
            "the mean spends have too heavy a tail for the model (look for outliers or "
            "returns in monetary_value)"
        )
        if policy == "raise":
            raise ConvergenceError(text + "; pass on_infinite_mean='warn' to keep the fit")
        warnings.warn(text, FitWarning, stacklevel=2)
    return GammaGammaModel(
        params=dict(zip(names, fit.params.tolist(), strict=True)),
        log_likelihood=fit.log_likelihood,
        standard_errors=dict(zip(names, fit.standard_errors.tolist(), strict=True)),
        covariance=fit.covariance,
        n_customers=total,
        n_iterations=fit.n_iterations,
        message=fit.message,
        frequency_spend_correlation=corr,
    )


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
    n = np.bincount(group, weights=w, minlength=kmax + 1)
    act = np.bincount(group, weights=w * np.asarray(summary.holdout_frequency), minlength=kmax + 1)
    prd = np.bincount(group, weights=w * pred, minlength=kmax + 1)
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
    actual = np.bincount(np.minimum(x, kmax).astype(np.int64), weights=w, minlength=kmax + 1)
    return RepeatPurchaseHistogram(
        frequency=np.arange(kmax + 1, dtype=np.float64), actual=actual, expected=expected
    )


# GGompertz/NBD builds on RepeatPurchaseModel and the count helpers above, so its
# module is imported once they exist (an import at the top would be circular).
from custrel._ggomnbd import GGompertzNBDModel, fit_ggomnbd  # noqa: E402
