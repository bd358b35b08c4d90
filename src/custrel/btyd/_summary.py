"""The BTYD summary: :func:`rfm_summary` and :class:`BTYDSummary`."""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from custrel import _numeric
from custrel import _validate as v
from custrel._lazy import LazyModule
from custrel._tabular import Tabular
from custrel.errors import (
    EmptyInputError,
    InvalidInputError,
    InvalidTypeError,
)
from custrel.models import TransactionLog

special = LazyModule("scipy.special")  # imported on first use (import time)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


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
