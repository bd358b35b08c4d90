"""The BTYD summary: :func:`rfm_summary` and :class:`BTYDSummary`."""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from custrel import _numeric, _parallel
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
    threads: int | None = None,
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
    threads : int, optional
        How many cores to use (threads, or worker processes on Linux). By
        default the environment variable ``CUSTREL_THREADS`` (an integer
        >= 1), else every core this process may use; 1 runs on one thread.
        Logs under 200,000 rows always run on one. The result does not
        depend on it.

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
        ``observation_end`` or before the first purchase; if ``threads`` is
        below 1 or ``CUSTREL_THREADS`` is not an integer >= 1
        (``InvalidTypeError`` if ``threads`` is not an integer).
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

    **Work and memory.** The customers are split into contiguous ranges of
    about equal rows (at least 8 ranges for logs of 256k rows or more, so
    that the sort's temporaries are those of one range: the peak is below
    twice the log's columns); each range takes its rows in input order and
    is summarised on its own, so a customer's sums add the same amounts in
    the same order whatever the split: the result is identical for every
    ``threads``, to the last bit. With several threads the ranges run on
    threads (the sorts release the GIL), or, on Linux from 4 workers and
    4,000,000 rows, in forked worker processes that write their customers'
    results into shared memory (nothing is pickled).

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
    n_threads = _parallel.resolve_threads(threads)
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
    amount = log.amount if has_money else None
    # times as numbers without a float copy of the column: int64 seconds convert to the
    # float seconds of numeric_time() monotonically, so extremes convert exactly
    tnum = log.time.view(np.int64) if not numeric else log.time
    if amount is None:
        t_min = float(tnum.min())
    else:
        purchase = amount >= 0
        if not purchase.any():
            raise EmptyInputError(
                f"log has no purchase: all {log.n_rows} rows are returns or cancellations "
                "(negative amounts)"
            )
        big = np.iinfo(np.int64).max if not numeric else np.inf
        t_min = float(np.min(tnum, where=purchase, initial=big))
        del purchase
    end = (
        float(tnum.max())
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
    n_after = int(np.count_nonzero(tnum > end)) if observation_end is not None else 0
    cal_p = 0
    ratio = 0.0  # unused without a period: exact times
    origin = _time_value(log, t_min)
    if period is not None:
        # the period numbers of the earliest and latest rows bound every row's (they grow
        # with time): the whole log's span check, once, before the ranges number their rows
        _period_numbers(log, log.time[[int(np.argmin(tnum)), int(np.argmax(tnum))]], period, origin)
        cal_p = _end_period(log, cal, period, origin)
        ratio = log.unit_length(period, "period") / unit_len
    with_holdout = calibration_end is not None
    k = log.n_customers
    codes = log.customer_code
    # ranges bound the temporaries: at least 8 from 256k rows on, whatever the threads
    how = _parallel.plan(
        log.n_rows, n_threads, reduction="rfm_summary", min_parts=min(8, log.n_rows >> 15)
    )
    ranges, how = _parallel.split_codes(codes, k, how)
    fields: dict[str, tuple[Any, int]] = {
        "frequency": (np.float64, k),
        "recency": (np.float64, k),
        "T": (np.float64, k),
        "present": (np.bool_, k),
        "has_purchase": (np.bool_, k),
        "seen": (np.bool_, k),
        "n_returns": (np.int64, len(ranges)),
    }
    if has_money:
        fields["monetary_value"] = (np.float64, k)
    if with_holdout:
        fields["holdout_frequency"] = (np.float64, k)
        if has_money:
            fields["holdout_monetary_value"] = (np.float64, k)
    out = _parallel.Outputs(fields, shared=how.processes)
    per_customer = [name for name in fields if name != "n_returns"]

    def task(i: int) -> None:
        lo, hi = ranges[i]
        if len(ranges) == 1:
            c, times, a = codes, log.time, amount
        else:
            rows, _ = _parallel.select_range(codes, lo, hi, k)
            c = codes[rows]
            c -= lo
            times = log.time[rows]
            a = None if amount is None else amount[rows]
            del rows
        into = {name: out[name][lo:hi] for name in per_customer}
        out["n_returns"][i] = _summarize_range(
            log,
            c,
            times,
            a,
            into,
            end=end if n_after else None,
            cal=cal,
            period=period,
            origin=origin,
            cal_p=cal_p,
            unit_len=unit_len,
            ratio=ratio,
            holdout=with_holdout,
        )

    _parallel.run(task, how)
    got = out.release(threads=how.workers)
    present = got["present"]
    has_purchase = got["has_purchase"]
    n_excluded = int(np.count_nonzero(~present & has_purchase))
    n_returns_only = int(np.count_nonzero(got["seen"] & ~has_purchase))
    if not present.any():  # pragma: no cover - cal >= t_min guarantees a purchase
        raise EmptyInputError("no purchase falls in the calibration window")
    freq = got["frequency"][present]
    h_dur: float | None = None
    if with_holdout:
        if period is None:
            h_dur = (end - cal) / unit_len
        else:
            h_dur = (_end_period(log, end, period, origin) - cal_p) * ratio

    def kept(name: str) -> FloatArray | None:
        return got[name][present] if name in got else None

    return BTYDSummary(
        customer_id=log.customer_labels[present],
        frequency=freq,
        recency=got["recency"][present],
        T=got["T"][present],
        monetary_value=kept("monetary_value"),
        weights=np.ones(len(freq)),
        holdout_frequency=kept("holdout_frequency"),
        holdout_monetary_value=kept("holdout_monetary_value"),
        holdout_duration=h_dur,
        unit=unit,
        period=period,
        calibration_end=_time_value(log, cal),
        observation_end=_time_value(log, end),
        n_rows_after_end=n_after,
        n_customers_after_calibration=n_excluded,
        n_customers_returns_only=n_returns_only,
        n_returns=int(got["n_returns"].sum()),
    )


def _period_numbers(
    log: TransactionLog, times: npt.NDArray[Any], period: str | float, origin: Any
) -> IntArray:
    """:meth:`TransactionLog.period_index` of some of the log's times (the same arithmetic)."""
    rows = TransactionLog(
        np.broadcast_to(np.int64(0), times.shape), log.customer_labels[:1], times, None
    )
    return rows.period_index(period, origin=origin)


def _summarize_range(
    log: TransactionLog,
    codes: IntArray,
    times: npt.NDArray[Any],
    amount: FloatArray | None,
    into: dict[str, npt.NDArray[Any]],
    *,
    end: float | None,
    cal: float,
    period: str | float | None,
    origin: Any,
    cal_p: int,
    unit_len: float,
    ratio: float,
    holdout: bool,
) -> int:
    """The BTYD summary of one range of customers (codes ``0..k-1``) into ``into``; its kept returns.

    ``into`` holds the range's slice of each per-customer output; only the
    entries of customers with a calibration purchase (``into["present"]``)
    are set. Rows after ``end`` (if given) are left out first.
    """
    k = len(into["present"])
    t = log.numeric_time() if times is log.time else _numeric_times(log, times)
    if end is not None:
        keep = t <= end
        codes, times, t = codes[keep], times[keep], t[keep]
        amount = None if amount is None else amount[keep]
        del keep
    purchase = None if amount is None else amount >= 0
    if not len(codes):  # every row of these customers is after observation_end
        for name in ("present", "has_purchase", "seen"):
            into[name][:] = False
        return 0
    if period is None:
        # exact times: merge only identical instants; rank the distinct times
        uniq, pidx = np.unique(t, return_inverse=True)
        pidx = pidx.astype(np.int64).reshape(-1)
        hold = t > cal
    else:
        uniq = np.empty(0)
        pidx = _period_numbers(log, times, period, origin)
        hold = pidx > cal_p
    del times, t
    pmin = int(pidx.min())
    span = int(pidx.max()) - pmin + 1
    n_rows = len(codes)
    if k * 2 * span < 2**62:
        key = codes * (2 * span)
        key += hold * span
        key += pidx
        key -= pmin
        del pidx, hold
        if bool(np.all(key[1:] >= key[:-1])):
            skey, samount, spurch = key, amount, purchase
        elif int(key.max()) < (2**63 - 1) // max(n_rows, 1):
            # one plain sort of key * n + row (much faster than argsort, which
            # would be needed to carry the amounts along)
            key *= n_rows
            key += np.arange(n_rows, dtype=np.int64)
            key.sort()
            row = key % n_rows
            key //= n_rows
            skey = key
            samount = None if amount is None else amount[row]
            spurch = None if purchase is None else purchase[row]
            del row
        else:  # pragma: no cover - keys too large to pack with the row number
            order = np.argsort(key, kind="stable")
            skey = key[order]
            samount = None if amount is None else amount[order]
            spurch = None if purchase is None else purchase[order]
            del order
        del key
        new = np.empty(n_rows, dtype=bool)
        new[0] = True
        np.not_equal(skey[1:], skey[:-1], out=new[1:])
        starts = np.flatnonzero(new)
        del new
        mkey = skey[starts]
        del skey
        m_amount = None if samount is None else np.add.reduceat(samount, starts)
        m_purch = None if spurch is None else np.add.reduceat(spurch, starts, dtype=np.int64)
        del samount, spurch
        m_period = mkey % span
        m_period += pmin
        m_part = (mkey // span) % 2
        m_code = mkey // (2 * span)
        del mkey
    else:  # pragma: no cover - astronomically many periods times customers
        order = np.lexsort((pidx, hold, codes))
        sc, sh, sp = codes[order], hold[order], pidx[order]
        new = np.empty(len(sc), dtype=bool)
        new[0] = True
        new[1:] = (sc[1:] != sc[:-1]) | (sh[1:] != sh[:-1]) | (sp[1:] != sp[:-1])
        starts = np.flatnonzero(new)
        m_period, m_part, m_code = sp[starts], sh[starts].astype(np.int64), sc[starts]
        m_amount = None if amount is None else np.add.reduceat(amount[order], starts)
        m_purch = (
            None if purchase is None else np.add.reduceat(purchase[order], starts, dtype=np.int64)
        )
    del starts
    # a cell with at least one purchase row (every cell of a log without money)
    occasion = np.ones(len(m_code), dtype=bool) if m_purch is None else m_purch > 0
    del m_purch
    # per customer: every calibration cell's net amount (returns included) ...
    cal_mask = m_part == 0
    del m_part
    value_cal = (
        None
        if m_amount is None
        else _numeric.bincount(m_code[cal_mask], weights=m_amount[cal_mask], minlength=k)
    )
    # ... and the purchase occasions, sorted by period within each customer
    occ_cal = cal_mask & occasion
    c_code, c_period = m_code[occ_cal], m_period[occ_cal]
    n_cal = _numeric.bincount(c_code, minlength=k)
    present = n_cal > 0
    del n_cal
    into["present"][:] = present
    into["has_purchase"][:] = _numeric.bincount(m_code[occasion], minlength=k) > 0
    into["seen"][:] = _numeric.bincount(m_code, minlength=k) > 0
    if not len(c_code):  # no customer of the range bought in the calibration window
        return 0
    grp_start = np.flatnonzero(np.r_[True, c_code[1:] != c_code[:-1]])
    grp_end = np.r_[grp_start[1:], len(c_code)] - 1
    first_p = c_period[grp_start]
    last_p = c_period[grp_end]
    freq = (grp_end - grp_start).astype(np.float64)
    into["frequency"][present] = freq
    if period is None:
        first_t, last_t = uniq[first_p], uniq[last_p]
        into["recency"][present] = (last_t - first_t) / unit_len
        into["T"][present] = (cal - first_t) / unit_len
    else:
        into["recency"][present] = (last_p - first_p).astype(np.float64) * ratio
        into["T"][present] = (cal_p - first_p).astype(np.float64) * ratio
    if m_amount is not None and value_cal is not None:
        c_amount = m_amount[occ_cal]
        repeat_value = value_cal[present] - c_amount[grp_start]
        with np.errstate(invalid="ignore", divide="ignore"):
            into["monetary_value"][present] = np.where(
                freq > 0, repeat_value / np.maximum(freq, 1.0), np.nan
            )
    if holdout:
        h_mask = ~cal_mask
        h_occ = h_mask & occasion
        h_cnt = _numeric.bincount(m_code[h_occ], minlength=k).astype(np.float64)[present]
        into["holdout_frequency"][present] = h_cnt
        if m_amount is not None:
            h_sum = _numeric.bincount(m_code[h_mask], weights=m_amount[h_mask], minlength=k)[
                present
            ]
            with np.errstate(invalid="ignore", divide="ignore"):
                into["holdout_monetary_value"][present] = np.where(
                    h_cnt > 0, h_sum / np.maximum(h_cnt, 1.0), np.nan
                )
    if purchase is None:
        return 0
    return int(np.count_nonzero(~purchase & present[codes]))


def _numeric_times(log: TransactionLog, times: npt.NDArray[Any]) -> FloatArray:
    """:meth:`TransactionLog.numeric_time` of some of the log's times."""
    if log.time_kind == "numeric":
        return np.asarray(times, dtype=np.float64)
    return times.view(np.int64).astype(np.float64)


def _check_unit_range(log: Any, unit: Any, unit_len: float, period: Any) -> None:
    """Refuse a ``unit`` so small that the log's span or one period is no finite count of units.

    Recency and T are the span divided by ``unit`` (and, with a period, a period
    count times period / unit); a subnormal unit makes them inf or NaN.
    """
    tnum = log.time.view(np.int64) if log.time_kind == "datetime" else log.time
    # the extremes of numeric_time() without its float copy (the conversion is monotone)
    span = float(tnum.max()) - float(tnum.min())
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
