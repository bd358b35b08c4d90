"""Value measurement from the textbooks (domain notes §2).

Period value and profit, the lifetime value of a profit stream, Dwyer's
retention and migration models, the customer-event ledger, the fitting
method's three-phase profit curve, customer delivered value, the acquisition
funnel and customer equity.

Every function works for one customer (1-D arrays over periods) and, where the
model is per customer, vectorised for many (2-D arrays, customers × periods);
the vectorised results equal the one-customer results row by row.

Conventions
-----------
* Periods are numbered from 1.
* ``discount_rate`` is per period. :func:`period_discount_rate` converts a
  yearly rate; :func:`lifetime_value` does it for you with ``periods_per_year``.
* Whenever money is discounted (``discount_rate != 0``) the caller states
  when it arrives: ``timing="start"`` discounts period ``t`` by
  ``(1 + d)^(t − 1)`` (the textbook's general form, domain notes §2.2: the first
  period is not discounted) and ``timing="end"`` by ``(1 + d)^t`` (Dwyer's
  closed form ``m·r/(1 + d − r)`` assumes this). There is no silent default:
  leaving ``timing`` out with a non-zero rate is an error.

"Domain notes §N" refers to the section of the documentation's domain notes
(:ref:`domain-2`) that defines the measure and gives the worked numbers.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import attrs
import numpy as np
import numpy.typing as npt

from custrel import _numeric
from custrel import _validate as v
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

if TYPE_CHECKING:
    from custrel._balance import BalanceSheet

__all__ = [
    "CLVResult",
    "ConstantRetention",
    "CustomCurveFit",
    "CustomerEquity",
    "DeliveredValue",
    "DwyerResult",
    "DwyerTable",
    "EventLedger",
    "Funnel",
    "HistoricalValue",
    "PeriodProfit",
    "PeriodProfitTable",
    "PeriodTotals",
    "ProfitCurve",
    "ProfitCurveFit",
    "RecencyStates",
    "RecencyValue",
    "RetentionProgramme",
    "acquisition_funnel",
    "balance_sheet_between",
    "constant_retention",
    "customer_equity",
    "delivered_value",
    "dwyer_migration",
    "dwyer_retention",
    "event_ledger",
    "fit_custom_curve",
    "fit_profit_curve",
    "historical_value",
    "lifetime_value",
    "period_discount_rate",
    "period_profit",
    "period_profit_from_log",
    "phase_decline",
    "phase_growth",
    "phase_saturation",
    "recency_states",
    "recency_value",
    "retention_programme",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Timing = Literal["start", "end"]

_TIMING_HINT = (
    "say whether money arrives at the start of each period (timing='start': period t is "
    "discounted by (1+d)^(t-1), domain notes §2.2) or at its end (timing='end': (1+d)^t, "
    "as in Dwyer's m·r/(1+d-r))"
)


# ---------------------------------------------------------------------------
# shared helpers
# ---------------------------------------------------------------------------


def _timing(timing: Any, discount_rate: float) -> str:
    """Validate ``timing``; it may be omitted only when nothing is discounted."""
    if timing is None:
        if discount_rate != 0.0:
            raise InvalidInputError(
                f"timing must be given when discount_rate is not 0 (got {discount_rate!r}); "
                + _TIMING_HINT
            )
        return "start"
    return v.choice(timing, "timing", ("start", "end"))


def _discount_factors(
    n_periods: int, discount_rate: float, timing: str, *, first: int = 1, start: int = 1
) -> FloatArray:
    """Factors for periods ``first .. first + n_periods − 1`` discounted to period ``start``."""
    t = np.arange(first, first + n_periods, dtype=np.float64)
    expo = t - start + (1.0 if timing == "end" else 0.0)
    out: FloatArray = np.power(1.0 + discount_rate, -expo)
    return out


def _freeze(value: Any) -> Any:
    """:func:`custrel._validate.freeze` under a name ProfitCurve's field ``v`` does not shadow."""
    return v.freeze(value)


def _curve_param(value: Any) -> Any:
    """A :class:`ProfitCurve` parameter: one float per customer, the curve's own read-only copy."""
    if value is None:
        raise InvalidTypeError("ProfitCurve parameters must be numbers (NaN: not known), got None")
    arr = v.as_float_array(value, "a ProfitCurve parameter", ndim=(0, 1), finite=False)
    return v.freeze(np.atleast_1d(arr))


def _float_or_frozen(value: Any) -> Any:
    """The converter of a field that is a float for one customer, an array for many."""
    if np.ndim(value) == 0:
        return float(value)
    return v.freeze(np.asarray(value, dtype=np.float64))


def _per_period(
    value: Any, name: str, n: int, *, low: float | None = None, horizon: str = "the horizon"
) -> FloatArray:
    """A scalar or a length-``n`` 1-D array, broadcast to ``n`` periods."""
    arr = v.as_float_array(value, name, ndim=(0, 1))
    if low is not None:
        v.check_range(arr, name, low=low)
    if arr.ndim == 1 and len(arr) != n:
        raise InvalidInputError(
            f"inconsistent lengths: {name} has {len(arr)} values but {horizon} has {n} periods"
        )
    return np.broadcast_to(arr, (n,)).astype(np.float64)


def _horizon(value: Any, name: str = "horizon", *, budget: bool = True) -> int:
    """A whole number of periods >= 1, within the period budget unless only a closed form uses it."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise InvalidTypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    if value < 1:
        raise InvalidInputError(f"{name} must be >= 1 period, got {int(value)}")
    if budget:
        _period_budget(float(value), f"{name}={int(value):,}")
    return int(value)


def _period_budget(n: float, culprit: str, *, rows: int = 1) -> None:
    """Refuse more periods (or rows x periods cells) than the budgets allow, before allocating."""
    v.check_budget(
        n, "the periods", budget=v.max_periods(), culprit=culprit, env="CUSTREL_MAX_PERIODS"
    )
    v.check_budget(
        n * rows, f"the table ({rows:,} rows x periods)", budget=v.max_cells(), culprit=culprit,
        env="CUSTREL_MAX_CELLS",
    )  # fmt: skip


def period_discount_rate(rate: float, periods_per_year: float) -> float:
    """Convert a yearly discount rate to the equivalent rate per period.

    Parameters
    ----------
    rate : float
        The yearly rate, > −1.
    periods_per_year : float
        Periods in a year (12 for months, 4 for quarters, 52.18 for weeks).

    Returns
    -------
    float
        ``(1 + rate)^(1 / periods_per_year) − 1``: compounding the period rate
        over a year gives back the yearly rate.

    Raises
    ------
    InvalidInputError
        If ``rate <= −1`` or ``periods_per_year <= 0``.

    Examples
    --------
    >>> from custrel.clv import period_discount_rate
    >>> round(period_discount_rate(0.1, 12), 6)
    0.007974
    """
    r = v.discount_rate(rate, "rate")
    ppy = v.scalar(periods_per_year, "periods_per_year", low=0.0, low_inclusive=False)
    with np.errstate(over="ignore"):
        out = float(np.power(1.0 + r, 1.0 / ppy) - 1.0)
    if not math.isfinite(out):
        raise InvalidInputError(
            f"periods_per_year={ppy!r} makes the period rate (1 + rate)^(1/{ppy!r}) - 1 "
            "overflow; a period is 1/periods_per_year of a year"
        )
    return out


# ---------------------------------------------------------------------------
# 2.1 period value and profit
# ---------------------------------------------------------------------------


@attrs.frozen
class PeriodProfit:
    """Transaction value, cost and profit per period (domain notes §2.1).

    Attributes
    ----------
    transaction_value : numpy.ndarray
        TV(t) = V_t · p_t.
    total_cost : numpy.ndarray
        C1_t + C2_t + C3_t + C4_t.
    indirect_benefit : numpy.ndarray
        IB_t.
    profit : numpy.ndarray
        P(t) = TV(t) − (C1 + C2 + C3 + C4) + IB.
    """

    transaction_value: FloatArray = attrs.field(converter=v.freeze)
    total_cost: FloatArray = attrs.field(converter=v.freeze)
    indirect_benefit: FloatArray = attrs.field(converter=v.freeze)
    profit: FloatArray = attrs.field(converter=v.freeze)


def period_profit(
    volume: Any,
    price: Any,
    *,
    product_cost: Any = 0.0,
    service_cost: Any = 0.0,
    marketing_cost: Any = 0.0,
    transaction_cost: Any = 0.0,
    indirect_benefit: Any = 0.0,
) -> PeriodProfit:
    """Transaction value and profit of each period from volumes, prices and costs.

    Parameters
    ----------
    volume, price : array_like
        V_t and p_t: 1-D over periods (one customer) or 2-D, customers ×
        periods. Scalars broadcast.
    product_cost, service_cost, marketing_cost, transaction_cost : array_like
        The costs C1..C4 the customer consumed, >= 0, broadcastable to the
        volume's shape.
    indirect_benefit : array_like
        IB_t, the value of referrals and word of mouth (negative for bad word
        of mouth).

    Returns
    -------
    PeriodProfit

    Raises
    ------
    InvalidInputError
        If a value is not finite, a cost is negative or the shapes do not
        broadcast.

    Notes
    -----
    ``TV(t) = V_t·p_t`` and ``P(t) = V_t·p_t − (C1_t + C2_t + C3_t + C4_t) + IB_t``
    (domain notes §2.1).

    Examples
    --------
    >>> from custrel.clv import period_profit
    >>> r = period_profit([10, 12], [5.0, 5.5], product_cost=[20, 24], indirect_benefit=[0, 3])
    >>> r.transaction_value.tolist(), r.profit.tolist()
    ([50.0, 66.0], [30.0, 45.0])
    """
    vol = v.as_float_array(volume, "volume", ndim=(0, 1, 2))
    pr = v.as_float_array(price, "price", ndim=(0, 1, 2))
    costs = []
    for name, val in (
        ("product_cost", product_cost),
        ("service_cost", service_cost),
        ("marketing_cost", marketing_cost),
        ("transaction_cost", transaction_cost),
    ):
        c = v.as_float_array(val, name, ndim=(0, 1, 2))
        v.check_range(c, name, low=0.0, hint="record credits as indirect_benefit")
        costs.append(c)
    ib = v.as_float_array(indirect_benefit, "indirect_benefit", ndim=(0, 1, 2))
    try:
        arrays = np.broadcast_arrays(vol, pr, *costs, ib)
    except ValueError:
        shapes = ", ".join(
            f"{n} {a.shape}"
            for n, a in zip(
                ("volume", "price", *(f"C{i}" for i in range(1, 5)), "indirect_benefit"),
                (vol, pr, *costs, ib),
                strict=True,
            )
        )
        raise InvalidInputError(f"the inputs do not broadcast to one shape: {shapes}") from None
    tv = arrays[0] * arrays[1]
    total = arrays[2] + arrays[3] + arrays[4] + arrays[5]
    ib_b = np.array(arrays[6], dtype=np.float64)
    return PeriodProfit(tv, total, ib_b, tv - total + ib_b)


@attrs.frozen(eq=False)
class PeriodProfitTable:
    """Per-customer, per-period value and profit bucketed from a log.

    Attributes
    ----------
    customer_id : numpy.ndarray
        The customers (rows), as :attr:`TransactionLog.customer_labels`.
    period : numpy.ndarray of int64
        The period numbers (columns), from 1.
    period_start : numpy.ndarray
        The start of each period on the log's time scale (``datetime64`` or
        float); for ``align="customer"`` it is the offset from each
        customer's first period instead.
    transaction_value, total_cost, indirect_benefit, profit : numpy.ndarray
        Customers × periods sums of the rows' TV, C1..C4, IB and profit;
        periods without transactions hold 0.
    n_transactions : numpy.ndarray of int64
        Customers × periods row counts.
    freq : str or float
        The period length.
    align : str
        ``"calendar"`` (one shared period grid) or ``"customer"`` (period 1 is
        each customer's first period with a transaction).
    """

    customer_id: npt.NDArray[Any] = attrs.field(converter=v.freeze)
    period: IntArray = attrs.field(converter=v.freeze)
    period_start: npt.NDArray[Any] = attrs.field(converter=v.freeze)
    transaction_value: FloatArray = attrs.field(converter=v.freeze)
    total_cost: FloatArray = attrs.field(converter=v.freeze)
    indirect_benefit: FloatArray = attrs.field(converter=v.freeze)
    profit: FloatArray = attrs.field(converter=v.freeze)
    n_transactions: IntArray = attrs.field(converter=v.freeze)
    freq: str | float
    align: str

    def clv(
        self,
        *,
        discount_rate: float = 0.0,
        periods_per_year: float | None = None,
        timing: Timing | None = None,
    ) -> CLVResult:
        """The discounted value of each customer's profit stream (see :func:`lifetime_value`)."""
        return lifetime_value(
            self.profit,
            discount_rate=discount_rate,
            periods_per_year=periods_per_year,
            timing=timing,
        )


def period_profit_from_log(
    log: TransactionLog,
    *,
    freq: str | float = "month",
    origin: Any = None,
    n_periods: int | None = None,
    align: Literal["calendar", "customer"] = "calendar",
) -> PeriodProfitTable:
    """Bucket a log's transactions into periods and sum TV, costs and profit.

    Parameters
    ----------
    log : TransactionLog
        Rows with, optionally, ``volume``, ``unit_price``, the four cost
        columns and ``indirect_benefit`` (see :meth:`TransactionLog.profit`;
        without volume and price the amount is the transaction value).
    freq : str or float
        ``"day"``, ``"week"``, ``"month"``, ``"quarter"``, ``"year"`` or a
        custom length (days for calendar logs, the log's own unit otherwise),
        as :meth:`TransactionLog.period_index`.
    origin : date or number, optional
        Start of period 1; defaults to the first row's time. Rows before it
        are an error (use :meth:`TransactionLog.between`).
    n_periods : int, optional
        Number of periods (columns); defaults to the last period with a row.
        Rows after it are an error, never dropped silently.
    align : {"calendar", "customer"}
        ``"customer"`` numbers each customer's periods from its own first
        period with a transaction (relationship age, what the fitting method
        needs).

    Returns
    -------
    PeriodProfitTable

    Raises
    ------
    InvalidInputError
        For rows outside ``origin .. n_periods``, an unknown ``freq``/``align``,
        sums of finite values beyond the float range (naming the customer and
        period), or a table wider than the budgets (``CUSTREL_MAX_PERIODS``
        periods, ``CUSTREL_MAX_CELLS`` customers x periods), checked before
        allocating and naming the time that made the span and its row.

    Notes
    -----
    One :func:`numpy.bincount` per column over the composite key
    ``customer × n_periods + period``: no Python loop over rows.

    Examples
    --------
    >>> from custrel import TransactionLog
    >>> from custrel.clv import period_profit_from_log
    >>> log = TransactionLog.from_arrays(
    ...     customer_id=["a", "a", "b", "a"],
    ...     time=["2024-01-03", "2024-01-20", "2024-02-02", "2024-03-09"],
    ...     amount=[10.0, 5.0, 7.0, 4.0],
    ...     product_cost=[4.0, 2.0, 3.0, 1.0],
    ... )
    >>> t = period_profit_from_log(log, freq="month")
    >>> t.period.tolist()
    [1, 2, 3]
    >>> t.profit.tolist()
    [[9.0, 0.0, 3.0], [0.0, 4.0, 0.0]]
    """
    if not isinstance(log, TransactionLog):
        raise InvalidTypeError(f"log must be a TransactionLog, got {type(log).__name__}")
    v.choice(align, "align", ("calendar", "customer"))
    k = log.n_customers
    _log_budget(log, freq, origin, k)
    if n_periods is not None:
        _period_budget(
            float(v.positive_int(n_periods, "n_periods")), f"n_periods={n_periods}", rows=k
        )
    idx = log.period_index(freq, origin=origin)
    if idx.min() < 0:
        row = int(np.argmin(idx))
        raise InvalidInputError(
            f"row {row} lies before origin {origin!r}; select rows with log.between(start=...)"
        )
    codes = log.customer_code
    if align == "customer":
        first = np.full(k, np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(first, codes, idx)
        idx = idx - first[codes]
    last = int(idx.max()) + 1
    if n_periods is None:
        n = last
    else:
        n = v.positive_int(n_periods, "n_periods")
        if last > n:
            row = int(np.argmax(idx))
            raise InvalidInputError(
                f"n_periods={n} but row {row} falls in period {int(idx[row]) + 1}; "
                "select rows with log.between(end=...) or raise n_periods"
            )
    key = codes * n + idx

    def _sum(w: FloatArray) -> FloatArray:
        out = _numeric.bincount(key, weights=w, minlength=k * n).reshape(k, n)
        return np.asarray(out, dtype=np.float64)

    tv = _sum(log.transaction_value())
    cost = _sum(log.total_cost())
    ib = (
        _sum(np.asarray(log.indirect_benefit))
        if log.indirect_benefit is not None
        else np.zeros((k, n))
    )
    profit = tv - cost + ib
    labels = log.customer_labels
    v.check_sums_finite(tv, _tv_name(log), labels=labels)
    v.check_sums_finite(cost, "the costs (C1 + C2 + C3 + C4)", labels=labels)
    v.check_sums_finite(ib, "indirect_benefit", labels=labels)
    v.check_sums_finite(profit, "the profit (TV - costs + IB)", labels=labels)
    counts = _numeric.bincount(key, minlength=k * n).reshape(k, n).astype(np.int64)
    if align == "customer":
        starts: npt.NDArray[Any] = np.arange(n, dtype=np.int64)
    elif log.time_kind == "datetime" and freq in ("month", "quarter", "year"):
        months = log.time.astype("datetime64[M]")
        m0 = months.min() if origin is None else np.datetime64(origin, "M")
        step = {"month": 1, "quarter": 3, "year": 12}[str(freq)]
        starts = m0 + np.arange(n) * np.timedelta64(step, "M")
    else:
        t = log.numeric_time()
        o = float(t.min()) if origin is None else log.to_time_float(origin, "origin")
        length = log.unit_length(freq, "freq")
        if log.time_kind == "datetime" and freq == "day":
            o = math.floor(o / 86400.0) * 86400.0
        fl = o + np.arange(n) * length
        starts = fl.astype(np.int64).astype("datetime64[s]") if log.time_kind == "datetime" else fl
    return PeriodProfitTable(
        customer_id=log.customer_labels,
        period=np.arange(1, n + 1, dtype=np.int64),
        period_start=starts,
        transaction_value=tv,
        total_cost=cost,
        indirect_benefit=ib,
        profit=profit,
        n_transactions=counts,
        freq=freq,
        align=align,
    )


def _tv_name(log: TransactionLog) -> str:
    """The log's column(s) a transaction value comes from, for messages."""
    if log.volume is not None and log.unit_price is not None:
        return "volume x unit_price"
    return "amount"


def _log_budget(log: TransactionLog, freq: str | float, origin: Any, customers: int) -> None:
    """Check a customers x periods table of ``log`` against the budgets before allocating it."""
    if origin is None:
        v.log_periods(log, freq, name="freq", customers=customers)
        return
    length = log.unit_length(freq, "freq")
    t0 = log.to_time_float(origin, "origin")
    with np.errstate(over="ignore", invalid="ignore"):
        span = (float(np.max(log.numeric_time())) - t0) / length + 1.0
    _period_budget(
        span, f"origin {origin!r} makes it span about {span:,.0f} periods", rows=customers
    )
    v.log_periods(log, freq, name="freq", customers=customers)


# ---------------------------------------------------------------------------
# 2.2 CLV of a profit stream, customer equity
# ---------------------------------------------------------------------------


@attrs.frozen(eq=False)
class CLVResult:
    """Discounted lifetime value of profit streams.

    Attributes
    ----------
    clv : float or numpy.ndarray
        The lifetime value: a float for one customer (1-D input), one value
        per customer (row) for 2-D input.
    present_value : numpy.ndarray or None
        The discounted profit of each period, the input's shape (``None``
        when computed with ``per_period=False``).
    discount_factor : numpy.ndarray
        The factor of each period, ``(1 + d)^−(t−1)`` or ``(1 + d)^−t``.
    discount_rate : float
        The rate per period actually used (after any yearly conversion).
    timing : str
        ``"start"`` or ``"end"``.
    """

    clv: float | FloatArray = attrs.field(converter=_float_or_frozen)
    present_value: FloatArray | None = attrs.field(converter=v.freeze)
    discount_factor: FloatArray = attrs.field(converter=v.freeze)
    discount_rate: float
    timing: str

    def customer_equity(self) -> float:
        """The sum of the CLVs (customer equity of the base)."""
        return float(np.sum(self.clv))


def lifetime_value(
    profit: Any,
    *,
    discount_rate: float = 0.0,
    periods_per_year: float | None = None,
    timing: Timing | None = None,
    per_period: bool = True,
) -> CLVResult:
    """Customer lifetime value of a profit stream (domain notes §2.2).

    Parameters
    ----------
    profit : array_like
        RP(t), t = 1..n: 1-D for one customer or 2-D, customers × periods.
    discount_rate : float
        Rate per period (> −1); 0 gives the plain sum.
    periods_per_year : float, optional
        When given, ``discount_rate`` is read as a yearly rate and converted
        with :func:`period_discount_rate`.
    timing : {"start", "end"}
        When the profit of a period arrives; required when the rate is not 0.
    per_period : bool
        Keep the per-period present values (an array the size of
        ``profit``); ``False`` skips it when only the CLVs are needed.

    Returns
    -------
    CLVResult

    Raises
    ------
    InvalidInputError
        If the profit is empty or not finite, the rate is <= −1 or the
        timing is missing or unknown.

    Notes
    -----
    ``CLV = Σ_{t=1..n} RP(t) / (1 + d)^(t−1)`` with ``timing="start"``
    (the textbook's form) and ``Σ RP(t) / (1 + d)^t`` with ``timing="end"``.
    One matrix-vector product for many customers; finiteness is checked on
    the totals first (a NaN or infinity in a row makes its total
    non-finite) and the full per-value check, which names the offending
    row and period, runs only then.

    Examples
    --------
    >>> from custrel.clv import lifetime_value
    >>> round(lifetime_value([100, 100, 100], discount_rate=0.1, timing="start").clv, 2)
    273.55
    >>> lifetime_value([[1, 2], [3, 4]]).clv.tolist()
    [3.0, 7.0]
    """
    p = v.as_float_array(profit, "profit", ndim=(1, 2), finite=False)
    d = v.discount_rate(discount_rate)
    if periods_per_year is not None:
        d = period_discount_rate(d, periods_per_year)
    tm = _timing(timing, d)
    if not isinstance(per_period, bool):
        raise InvalidTypeError(f"per_period must be a bool, got {type(per_period).__name__}")
    f = _discount_factors(p.shape[-1], d, tm)
    with np.errstate(over="ignore", invalid="ignore"):
        total = p @ f
    if not np.isfinite(total).all():
        v.check_finite(p, "profit")
        v.check_sums_finite(np.atleast_1d(total), "profit", label="row")
    return CLVResult(total, p * f if per_period else None, f, d, tm)


@attrs.frozen(eq=False)
class CustomerEquity:
    """Customer equity: the sum of the customers' lifetime values.

    Attributes
    ----------
    total : float
        Σ CLV over the base.
    n_customers : int
        Customers counted.
    mean : float
        total / n_customers.
    group_labels : numpy.ndarray or None
        The distinct groups (sorted), when groups were given.
    group_total : numpy.ndarray or None
        Σ CLV per group.
    group_count : numpy.ndarray or None
        Customers per group.
    """

    total: float
    n_customers: int
    mean: float
    group_labels: npt.NDArray[Any] | None = attrs.field(default=None, converter=v.freeze)
    group_total: FloatArray | None = attrs.field(default=None, converter=v.freeze)
    group_count: IntArray | None = attrs.field(default=None, converter=v.freeze)

    def share(self) -> FloatArray:
        """Each group's share of the total (0/0 gives nan)."""
        if self.group_total is None:
            raise InvalidInputError("share needs groups; pass groups= to customer_equity")
        with np.errstate(invalid="ignore", divide="ignore"):
            out: FloatArray = self.group_total / self.total
        return out


def customer_equity(values: Any, *, groups: Any = None) -> CustomerEquity:
    """Customer equity: the sum of the CLVs of a customer base.

    Parameters
    ----------
    values : array_like, CLVResult, EventLedger or HistoricalValue
        One CLV per customer (the ``clv`` of a result).
    groups : array_like, optional
        One group label per customer (a segment, a pyramid tier); the totals
        are then also given per group.

    Returns
    -------
    CustomerEquity

    Raises
    ------
    InvalidInputError
        If a value is not finite or ``groups`` has another length.

    Examples
    --------
    >>> from custrel.clv import customer_equity
    >>> e = customer_equity([100.0, 50.0, 25.0], groups=["a", "b", "a"])
    >>> e.total, e.group_total.tolist()
    (175.0, [125.0, 50.0])
    """
    raw = values.clv if isinstance(values, CLVResult | HistoricalValue | EventLedger) else values
    arr = v.as_float_array(raw, "values", ndim=(0, 1))
    arr = np.atleast_1d(arr)
    n = len(arr)
    with np.errstate(over="ignore", invalid="ignore"):
        total = float(np.sum(arr))
    if not math.isfinite(total):
        raise InvalidInputError(
            f"values add up to {total!r}: the CLVs are finite but their sum is beyond the "
            "float64 range (about 1.8e308); check their units"
        )
    if groups is None:
        return CustomerEquity(total, n, total / n)
    labels, inv = v.group_codes(groups, "groups", n)
    gt = _numeric.bincount(inv, weights=arr, minlength=len(labels))
    v.check_sums_finite(gt, "values", labels=labels, label="group")
    gc = _numeric.bincount(inv, minlength=len(labels)).astype(np.int64)
    return CustomerEquity(total, n, total / n, labels, gt, gc)


# ---------------------------------------------------------------------------
# 2.3 Dwyer's retention and migration models
# ---------------------------------------------------------------------------


@attrs.frozen(eq=False)
class DwyerTable:
    """The per-segment, per-period table of Dwyer's models (domain notes §2.3).

    One row per period (retention model) or per (period, segment)
    (migration model). Counts are expected numbers and may be fractional.

    Attributes
    ----------
    period : numpy.ndarray of int64
        The period, from 1.
    segment : numpy.ndarray of str
        ``"all"`` for the retention model and the first period of a tree;
        the purchase-history path (``"B"`` bought, ``"L"`` lapsed, one letter
        per earlier period) in a tree; ``"recency j"`` (``"recency k+"`` for
        the last, absorbing state) in the recency form.
    customers : numpy.ndarray
        Customers in the segment at the start of the period.
    rate : numpy.ndarray
        Retention rate (retention model) or buy rate (migration model).
    buyers, lapsed : numpy.ndarray
        customers × rate and customers − buyers.
    spend : numpy.ndarray
        Revenue per buyer.
    revenue : numpy.ndarray
        buyers × spend.
    cost : numpy.ndarray
        Contact (retention) cost per customer × customers + cost per buyer ×
        buyers.
    net : numpy.ndarray
        revenue − cost.
    discount_factor, present_value : numpy.ndarray
        The period's factor and net × factor.
    """

    period: IntArray = attrs.field(converter=v.freeze)
    segment: npt.NDArray[np.str_] = attrs.field(converter=v.freeze)
    customers: FloatArray = attrs.field(converter=v.freeze)
    rate: FloatArray = attrs.field(converter=v.freeze)
    buyers: FloatArray = attrs.field(converter=v.freeze)
    lapsed: FloatArray = attrs.field(converter=v.freeze)
    spend: FloatArray = attrs.field(converter=v.freeze)
    revenue: FloatArray = attrs.field(converter=v.freeze)
    cost: FloatArray = attrs.field(converter=v.freeze)
    net: FloatArray = attrs.field(converter=v.freeze)
    discount_factor: FloatArray = attrs.field(converter=v.freeze)
    present_value: FloatArray = attrs.field(converter=v.freeze)

    COLUMNS = (
        "period",
        "segment",
        "customers",
        "rate",
        "buyers",
        "lapsed",
        "spend",
        "revenue",
        "cost",
        "net",
        "discount_factor",
        "present_value",
    )

    def __len__(self) -> int:
        return len(self.period)

    def to_dict(self) -> dict[str, npt.NDArray[Any]]:
        """The columns as a dict of arrays (copies)."""
        return {c: np.array(getattr(self, c)) for c in self.COLUMNS}

    def rows(self) -> list[dict[str, Any]]:
        """The table as a list of row dicts."""
        cols = {c: getattr(self, c).tolist() for c in self.COLUMNS}
        return [{c: cols[c][i] for c in self.COLUMNS} for i in range(len(self))]

    def row(self, period: int, segment: str = "all") -> dict[str, Any]:
        """The row of one period and segment."""
        period = v.one_label(period, "period")
        segment = v.one_label(segment, "segment")
        hit = np.flatnonzero((self.period == period) & (self.segment == segment))
        if len(hit) == 0:
            raise InvalidInputError(f"no row for period {period} and segment {segment!r}")
        return self.rows()[int(hit[0])]


@attrs.frozen(eq=False)
class PeriodTotals:
    """A Dwyer table summed per period.

    Attributes
    ----------
    period : numpy.ndarray of int64
    customers, buyers, revenue, cost, net, present_value : numpy.ndarray
        Sums over the period's segments.
    """

    period: IntArray = attrs.field(converter=v.freeze)
    customers: FloatArray = attrs.field(converter=v.freeze)
    buyers: FloatArray = attrs.field(converter=v.freeze)
    revenue: FloatArray = attrs.field(converter=v.freeze)
    cost: FloatArray = attrs.field(converter=v.freeze)
    net: FloatArray = attrs.field(converter=v.freeze)
    present_value: FloatArray = attrs.field(converter=v.freeze)


@attrs.frozen(eq=False)
class DwyerResult:
    """Result of :func:`dwyer_retention` or :func:`dwyer_migration`.

    Attributes
    ----------
    table : DwyerTable
        The per-period (per-segment) table.
    model : str
        ``"retention"``, ``"migration_tree"`` or ``"migration_recency"``.
    n_customers : float
        The cohort size.
    acquisition_cost : float
        Cost per acquired customer, spent at the start (not discounted).
    discount_rate : float
        Per period.
    timing : str
        ``"start"`` or ``"end"``.
    """

    table: DwyerTable
    model: str
    n_customers: float
    acquisition_cost: float
    discount_rate: float
    timing: str

    @property
    def total_revenue(self) -> float:
        """Σ revenue over all rows."""
        return float(self.table.revenue.sum())

    @property
    def total_cost(self) -> float:
        """Σ contact and per-buyer cost (acquisition excluded)."""
        return float(self.table.cost.sum())

    @property
    def total_net(self) -> float:
        """Σ net (revenue − cost), not discounted."""
        return float(self.table.net.sum())

    @property
    def total_present_value(self) -> float:
        """Σ present value of the net."""
        return float(self.table.present_value.sum())

    @property
    def net_present_value(self) -> float:
        """Σ present value − acquisition cost of the cohort."""
        return self.total_present_value - self.acquisition_cost * self.n_customers

    @property
    def value_per_customer(self) -> float:
        """net_present_value / n_customers: the CLV of an acquired customer."""
        return self.net_present_value / self.n_customers

    def by_period(self) -> PeriodTotals:
        """The table summed per period."""
        t = self.table
        n = int(t.period.max())
        idx = t.period - 1

        def s(x: FloatArray) -> FloatArray:
            return np.asarray(_numeric.bincount(idx, weights=x, minlength=n), dtype=np.float64)

        return PeriodTotals(
            np.arange(1, n + 1, dtype=np.int64),
            s(t.customers),
            s(t.buyers),
            s(t.revenue),
            s(t.cost),
            s(t.net),
            s(t.present_value),
        )


def _cohort_size(n_customers: Any) -> float:
    return v.scalar(n_customers, "n_customers", low=0.0, low_inclusive=False)


def dwyer_retention(
    retention_rate: Any,
    spend: Any,
    *,
    n_customers: float = 1000.0,
    horizon: int | None = None,
    retention_cost: Any = 0.0,
    cost_per_buyer: Any = 0.0,
    acquisition_cost: float = 0.0,
    discount_rate: float = 0.0,
    timing: Timing | None = None,
) -> DwyerResult:
    """Dwyer's retention ("lost for good") model of a cohort (domain notes §2.3).

    Parameters
    ----------
    retention_rate : float or array_like
        r_t, the share of the period's customers who buy (and so stay); a
        scalar (then ``horizon`` is required) or one rate per period.
    spend : float or array_like
        Revenue per buyer, a scalar or one per period.
    n_customers : float
        Cohort size at the start (the textbook's 1,000).
    horizon : int, optional
        Number of periods; defaults to the length of ``retention_rate``.
    retention_cost : float or array_like
        Cost per customer at the start of each period (spent on everyone the
        firm tries to keep).
    cost_per_buyer : float or array_like
        Variable cost per buyer (product cost), per period or constant.
    acquisition_cost : float
        Cost per acquired customer, at time 0 (not discounted); it enters
        :attr:`DwyerResult.net_present_value`, not the table.
    discount_rate : float
        Per period.
    timing : {"start", "end"}
        Required when ``discount_rate`` is not 0.

    Returns
    -------
    DwyerResult
        Its :attr:`~DwyerResult.table` has one row per period and
        :attr:`~DwyerResult.total_revenue` the sum of the revenue.

    Raises
    ------
    InvalidInputError
        For rates outside [0, 1], negative spend or costs, inconsistent
        lengths or a missing horizon.

    Notes
    -----
    ``customers_1 = N``, ``buyers_t = customers_t · r_t``,
    ``customers_{t+1} = buyers_t``: a customer who does not buy is lost for
    good. Dwyer (1989) values the cohort, not a single customer.

    The textbook's table prints 46,700 for year 3 and a total of 172,700;
    476 × 100 = 47,600, so the total is 173,600 (domain notes §2.3).

    References
    ----------
    Dwyer, F. R. (1989). Customer lifetime valuation to support marketing
    decision making. Journal of Direct Marketing, 3(4), 8–15.

    Examples
    --------
    >>> from custrel.clv import dwyer_retention
    >>> r = dwyer_retention([0.70, 0.80, 0.85], 100.0, n_customers=1000)
    >>> r.table.revenue.round(6).tolist(), round(r.total_revenue, 6)
    ([70000.0, 56000.0, 47600.0], 173600.0)
    """
    return _retention(
        retention_rate,
        spend,
        n_customers=n_customers,
        horizon=horizon,
        retention_cost=retention_cost,
        cost_per_buyer=cost_per_buyer,
        acquisition_cost=acquisition_cost,
        discount_rate=discount_rate,
        timing=timing,
        names={},
    )


def _retention(
    retention_rate: Any,
    spend: Any,
    *,
    n_customers: float,
    horizon: int | None,
    retention_cost: Any,
    cost_per_buyer: Any,
    acquisition_cost: float,
    discount_rate: float,
    timing: Timing | None,
    names: Mapping[str, str],
) -> DwyerResult:
    """:func:`dwyer_retention`, its messages naming the arguments as the caller called them.

    ``names`` maps this function's argument names to the caller's (e.g.
    ``{"spend": "margin"}`` for :func:`retention_programme`).
    """

    def nm(arg: str) -> str:
        return names.get(arg, "the horizon" if arg == "horizon" else arg)

    rates_in = v.as_float_array(retention_rate, nm("retention_rate"), ndim=(0, 1))
    v.check_probability(rates_in, nm("retention_rate"))
    if horizon is None:
        if rates_in.ndim == 0:
            raise InvalidInputError(
                f"horizon is required when {nm('retention_rate')} is a single rate; "
                "pass horizon=..."
            )
        n = len(rates_in)
    else:
        n = _horizon(horizon)
    hz = nm("horizon")
    rates = _per_period(rates_in, nm("retention_rate"), n, horizon=hz)
    sp = _per_period(spend, nm("spend"), n, low=0.0, horizon=hz)
    rc = _per_period(retention_cost, nm("retention_cost"), n, low=0.0, horizon=hz)
    cb = _per_period(cost_per_buyer, nm("cost_per_buyer"), n, low=0.0, horizon=hz)
    n0 = _cohort_size(n_customers)
    acq = v.scalar(acquisition_cost, "acquisition_cost", low=0.0)
    d = v.discount_rate(discount_rate)
    tm = _timing(timing, d)
    surv = np.concatenate([[1.0], np.cumprod(rates)[:-1]])
    customers = n0 * surv
    buyers = customers * rates
    revenue = buyers * sp
    cost = customers * rc + buyers * cb
    net = revenue - cost
    f = _discount_factors(n, d, tm)
    table = DwyerTable(
        period=np.arange(1, n + 1, dtype=np.int64),
        segment=np.full(n, "all"),
        customers=customers,
        rate=rates,
        buyers=buyers,
        lapsed=customers - buyers,
        spend=sp,
        revenue=revenue,
        cost=cost,
        net=net,
        discount_factor=f,
        present_value=net * f,
    )
    return DwyerResult(table, "retention", n0, acq, d, tm)


@attrs.frozen
class ConstantRetention:
    """Closed forms of the retention model with a constant rate.

    Attributes
    ----------
    margin, retention_rate, discount_rate : float
        As given (rate per period).
    horizon : float
        Periods valued (``inf`` for no limit).
    churn_rate : float
        1 − r.
    expected_lifetime : float
        Expected number of periods as a customer counting the current one,
        ``1 / (1 − r)`` (domain notes §2.8), truncated to the horizon.
    expected_purchases : float
        Expected future purchases, ``r / (1 − r)`` (truncated to the horizon).
    clv : float
        Value of the future margins under ``timing``: ``m·r/(1 + d − r)`` for
        ``"end"``, ``m·r·(1 + d)/(1 + d − r)`` for ``"start"`` (finite-horizon
        sums when a horizon is given).
    clv_with_current : float
        Margin of the current period received now, plus the future ones at
        period ends: ``m·(1 + d)/(1 + d − r)``.
    timing : str
    """

    margin: float
    retention_rate: float
    discount_rate: float
    horizon: float
    churn_rate: float
    expected_lifetime: float
    expected_purchases: float
    clv: float
    clv_with_current: float
    timing: str


def constant_retention(
    margin: float,
    retention_rate: float,
    *,
    discount_rate: float = 0.0,
    horizon: int | None = None,
    timing: Timing | None = None,
) -> ConstantRetention:
    """Closed-form CLV and lifetime for a constant retention rate.

    Parameters
    ----------
    margin : float
        m, the margin per period of a retained customer.
    retention_rate : float
        r in [0, 1].
    discount_rate : float
        d per period.
    horizon : int, optional
        Number of future periods valued; unlimited by default.
    timing : {"start", "end"}
        Required when ``discount_rate`` is not 0.

    Returns
    -------
    ConstantRetention

    Raises
    ------
    InvalidInputError
        For r outside [0, 1], or r = 1 with d = 0 and no horizon (the value
        is infinite: give a horizon).

    Notes
    -----
    With ``q = r / (1 + d)`` and ``timing="end"``:
    ``CLV = m Σ_{t=1..n} q^t = m·q·(1 − q^n)/(1 − q)``, which tends to
    ``m·r/(1 + d − r)`` as n → ∞. ``timing="start"`` multiplies by
    ``1 + d``. ``clv_with_current = m + CLV_end`` (the margin of the period
    under way, now, plus the future): ``m·(1 + d)/(1 + d − r)``. The
    expected lifetime ``1/(1 − r)`` is the mean of the geometric number of
    periods a customer stays (mean lifetime = 1 / churn, domain notes §2.8).
    The same numbers come out of :func:`dwyer_retention` with a constant
    rate over a long horizon.

    References
    ----------
    Gupta, S. & Lehmann, D. R. (2003). Customers as assets. Journal of
    Interactive Marketing, 17(1), 9–24.

    Examples
    --------
    >>> from custrel.clv import constant_retention
    >>> c = constant_retention(100.0, 0.8, discount_rate=0.1, timing="end")
    >>> round(c.clv, 4), round(c.clv_with_current, 4), round(c.expected_lifetime, 6)
    (266.6667, 366.6667, 5.0)
    """
    m = v.scalar(margin, "margin")
    r = v.scalar(retention_rate, "retention_rate", low=0.0, high=1.0)
    d = v.discount_rate(discount_rate)
    tm = _timing(timing, d)
    n = math.inf if horizon is None else float(_horizon(horizon, budget=False))
    q = r / (1.0 + d)
    if math.isinf(n):
        if q >= 1.0:
            raise InvalidInputError(
                f"retention_rate={r!r} with discount_rate={d!r} gives an infinite value; "
                "give a horizon or a discount rate above 0"
            )
        s = q / (1.0 - q)
        life = math.inf if r == 1.0 else 1.0 / (1.0 - r)
        purchases = math.inf if r == 1.0 else r / (1.0 - r)
    else:
        s = n * q if q == 1.0 else q * (1.0 - q**n) / (1.0 - q)
        # lifetime counting the current period, at most n + 1 periods
        life = n + 1.0 if r == 1.0 else (1.0 - r ** (n + 1.0)) / (1.0 - r)
        purchases = life - 1.0
    clv_end = m * s
    value = clv_end * (1.0 + d) if tm == "start" else clv_end
    return ConstantRetention(
        margin=m,
        retention_rate=r,
        discount_rate=d,
        horizon=n,
        churn_rate=1.0 - r,
        expected_lifetime=life,
        expected_purchases=purchases,
        clv=value,
        clv_with_current=m + clv_end,
        timing=tm,
    )


def _path_key(key: Any) -> str:
    if isinstance(key, str):
        k = key.strip()
        if k in ("", "all"):
            return ""
        if set(k) - {"B", "L"}:
            raise InvalidInputError(
                f"purchase-history path {key!r} may hold only 'B' (bought) and 'L' (lapsed), "
                "one letter per earlier period; use 'all' or '' for the first period"
            )
        return k
    if isinstance(key, tuple):
        if not all(isinstance(x, bool | np.bool_) for x in key):
            raise InvalidTypeError(
                f"a purchase-history tuple must hold booleans (True = bought), got {key!r}"
            )
        return "".join("B" if x else "L" for x in key)
    raise InvalidTypeError(
        f"purchase-history paths must be strings like 'BL' or tuples of bools, got {key!r}"
    )


def _path_map(value: Any, name: str, *, low: float | None, high: float | None) -> dict[str, float]:
    out: dict[str, float] = {}
    for key, val in value.items():
        p = _path_key(key)
        if p in out:
            raise InvalidInputError(f"{name} gives path {p or 'all'!r} twice")
        out[p] = v.scalar(val, f"{name}[{key!r}]", low=low, high=high)
    return out


def _tree_value(value: Any, name: str, paths: list[str], *, low: float | None = 0.0) -> FloatArray:
    if isinstance(value, Mapping):
        m = _path_map(value, name, low=low, high=None)
        missing = [p for p in paths if p not in m]
        if missing:
            raise InvalidInputError(
                f"{name} has no value for purchase-history path {missing[0] or 'all'!r}"
            )
        extra = sorted(set(m) - set(paths))
        if extra:
            raise InvalidInputError(f"{name} gives path {extra[0]!r} that buy_rate does not have")
        return np.array([m[p] for p in paths], dtype=np.float64)
    s = v.scalar(value, name, low=low)
    return np.full(len(paths), s)


def _migration_tree(
    buy_rate: Mapping[Any, Any],
    spend: Any,
    *,
    n0: float,
    contact_cost: Any,
    cost_per_buyer: float,
) -> tuple[IntArray, list[str], FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    rates = _path_map(buy_rate, "buy_rate", low=0.0, high=1.0)
    if not rates:
        raise EmptyInputError("buy_rate is empty; give at least the first period's rate ('all')")
    depth = max(len(p) for p in rates)
    paths: list[str] = []
    periods: list[int] = []
    level = [""]
    for t in range(depth + 1):
        for p in level:
            if p not in rates:
                raise InvalidInputError(
                    f"buy_rate has no rate for purchase-history path {p or 'all'!r} "
                    f"(period {t + 1}); a tree of {depth + 1} periods needs all {2**t} paths "
                    f"of period {t + 1}"
                )
        paths.extend(level)
        periods.extend([t + 1] * len(level))
        level = [p + c for p in level for c in "BL"]
    sp = _tree_value(spend, "spend", paths)
    cc = _tree_value(contact_cost, "contact_cost", paths)
    r = np.array([rates[p] for p in paths])
    index = {p: i for i, p in enumerate(paths)}
    customers = np.zeros(len(paths))
    customers[0] = n0
    for i, p in enumerate(paths):
        if len(p) < depth:
            b = customers[i] * r[i]
            customers[index[p + "B"]] = b
            customers[index[p + "L"]] = customers[i] - b
    buyers = customers * r
    cost = customers * cc + buyers * cost_per_buyer
    return (
        np.asarray(periods, dtype=np.int64),
        ["all" if p == "" else p for p in paths],
        customers,
        r,
        buyers,
        sp,
        cost,
    )


def _recency_inputs(
    buy_rate: Any, spend: Any, contact_cost: Any, horizon: int | None
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Rates, spend and contact cost as (horizon, k) arrays."""
    br = v.as_float_array(buy_rate, "buy_rate", ndim=(1, 2))
    v.check_probability(br, "buy_rate", label="state")
    if br.ndim == 1:
        if horizon is None:
            raise InvalidInputError(
                "horizon is required when buy_rate gives one rate per recency state; "
                "pass horizon=... or a (periods × states) array"
            )
        n = _horizon(horizon)
        br = np.broadcast_to(br, (n, len(br)))
    else:
        n = br.shape[0]
        if horizon is not None and _horizon(horizon) != n:
            raise InvalidInputError(
                f"inconsistent lengths: buy_rate has {n} periods but horizon={horizon}"
            )
    k = br.shape[1]

    def grid(value: Any, name: str) -> FloatArray:
        a = v.as_float_array(value, name, ndim=(0, 1, 2), label="state")
        v.check_range(a, name, low=0.0, label="state")
        if a.ndim == 1 and len(a) != k:
            raise InvalidInputError(
                f"inconsistent lengths: {name} has {len(a)} states but buy_rate has {k}"
            )
        if a.ndim == 2 and a.shape != (n, k):
            raise InvalidInputError(
                f"inconsistent shapes: {name} is {a.shape} but buy_rate is {(n, k)}"
            )
        return np.broadcast_to(a, (n, k)).astype(np.float64)

    return br.astype(np.float64), grid(spend, "spend"), grid(contact_cost, "contact_cost")


def _recency_chain(
    initial: FloatArray,
    rates: FloatArray,
    spend: FloatArray,
    contact: FloatArray,
    cost_per_buyer: float,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Run the recency Markov chain for m starting distributions at once.

    ``initial`` is (m, k); returns customers, buyers, revenue, cost, each
    (m, horizon, k).
    """
    m, k = initial.shape
    n = rates.shape[0]
    cust = np.empty((m, n, k))
    x = initial.astype(np.float64, copy=True)
    for t in range(n):
        cust[:, t, :] = x
        b = x * rates[t]
        nxt = np.zeros_like(x)
        nxt[:, 0] = b.sum(axis=1)
        lapsed = x - b
        if k > 1:
            nxt[:, 1:] += lapsed[:, :-1]
        nxt[:, k - 1] += lapsed[:, k - 1]  # the last state is absorbing for non-buyers
        x = nxt
    buyers = cust * rates
    revenue = buyers * spend
    cost = cust * contact + buyers * cost_per_buyer
    return cust, buyers, revenue, cost


def dwyer_migration(
    buy_rate: Any,
    spend: Any,
    *,
    n_customers: float = 1000.0,
    horizon: int | None = None,
    initial: Any = None,
    contact_cost: Any = 0.0,
    cost_per_buyer: float = 0.0,
    acquisition_cost: float = 0.0,
    discount_rate: float = 0.0,
    timing: Timing | None = None,
) -> DwyerResult:
    """Dwyer's migration ("always a share") model of a cohort (domain notes §2.3).

    Two forms, chosen by the type of ``buy_rate``:

    * **tree** (a mapping): the buy rate, spend and contact cost of each
      purchase-history path. Keys are strings of ``"B"`` (bought) and
      ``"L"`` (lapsed), one letter per earlier period (``"LB"``: lapsed in
      period 1, bought in period 2), or tuples of bools; ``"all"`` (or
      ``""``) is the first period. A tree of n periods needs all
      ``2^(t−1)`` paths of each period t.
    * **recency** (an array): the Markov-chain form of Pfeifer & Carraway
      (2000). State j (index j − 1) holds customers whose last purchase was
      j periods ago; state k also holds those longer ago (absorbing). A
      buyer moves to state 1, a non-buyer from j to j + 1. ``buy_rate`` is
      (k,) (with ``horizon``) or (periods, k) for rates that change over
      time; ``spend`` and ``contact_cost`` are scalars, (k,) or
      (periods, k).

    Parameters
    ----------
    buy_rate : mapping or array_like
        See above; rates in [0, 1].
    spend : float, mapping or array_like
        Revenue per buyer (per path, or per state).
    n_customers : float
        Cohort size (the textbook's 1,000).
    horizon : int, optional
        Periods of the recency form when ``buy_rate`` is 1-D.
    initial : array_like, optional
        Recency form only: customers per state at the start (sums to the
        cohort); by default all ``n_customers`` are in state 1 (just
        acquired).
    contact_cost : float, mapping or array_like
        Cost per customer in the segment, each period.
    cost_per_buyer : float
        Variable cost per buyer.
    acquisition_cost : float
        Per acquired customer, at time 0.
    discount_rate : float
        Per period.
    timing : {"start", "end"}
        Required when ``discount_rate`` is not 0.

    Returns
    -------
    DwyerResult
        ``.table`` has one row per (period, segment); ``.total_revenue``
        sums it; :meth:`DwyerResult.by_period` gives per-period totals.

    Raises
    ------
    InvalidInputError
        For rates outside [0, 1], a path missing from the tree, negative
        spend or costs, inconsistent shapes, an ``initial`` that is negative.

    Notes
    -----
    Tree: ``buyers = customers · p(path)``; the path's buyers form segment
    ``path + "B"`` of the next period, its non-buyers ``path + "L"``; every
    period's segments add up to the cohort. Recency: the same with segments
    merged by periods since the last purchase. With zero reactivation
    (``buy_rate = [r_t, 0, …]``) the recency model equals
    :func:`dwyer_retention`.

    References
    ----------
    Dwyer, F. R. (1989). Customer lifetime valuation to support marketing
    decision making. Journal of Direct Marketing, 3(4), 8–15.
    Pfeifer, P. E. & Carraway, R. L. (2000). Modeling customer relationships
    as Markov chains. Journal of Interactive Marketing, 14(2), 43–55.

    Examples
    --------
    >>> from custrel.clv import dwyer_migration
    >>> rates = {"all": 0.7, "B": 0.8, "L": 0.4, "BB": 0.85, "LB": 0.75, "BL": 0.5, "LL": 0.3}
    >>> spend = {"all": 100, "B": 110, "L": 90, "BB": 90, "LB": 100, "BL": 90, "LL": 50}
    >>> m = dwyer_migration(rates, spend, n_customers=1000)
    >>> round(m.total_revenue, 6)
    203240.0
    >>> m.table.row(3, "LB")["revenue"]
    9000.0
    """
    n0 = _cohort_size(n_customers)
    cb = v.scalar(cost_per_buyer, "cost_per_buyer", low=0.0)
    acq = v.scalar(acquisition_cost, "acquisition_cost", low=0.0)
    d = v.discount_rate(discount_rate)
    tm = _timing(timing, d)
    if isinstance(buy_rate, Mapping):
        if initial is not None or horizon is not None:
            raise InvalidInputError(
                "initial and horizon belong to the recency form; a tree's depth sets its horizon"
            )
        period, seg, customers, rate, buyers, sp, cost = _migration_tree(
            buy_rate, spend, n0=n0, contact_cost=contact_cost, cost_per_buyer=cb
        )
        segment = np.asarray(seg)
        model = "migration_tree"
    else:
        rates, sp2, cc2 = _recency_inputs(buy_rate, spend, contact_cost, horizon)
        n, k = rates.shape
        if initial is None:
            init = np.zeros(k)
            init[0] = n0
        else:
            init = v.as_float_array(initial, "initial", ndim=1, label="state")
            v.check_range(init, "initial", low=0.0, label="state")
            if len(init) != k:
                raise InvalidInputError(
                    f"inconsistent lengths: initial has {len(init)} states but buy_rate has {k}"
                )
            if not math.isclose(float(init.sum()), n0, rel_tol=1e-9):
                raise InvalidInputError(
                    f"initial sums to {float(init.sum())!r} but n_customers={n0!r}; "
                    "pass n_customers=sum(initial)"
                )
        c3, b3, _, k3 = _recency_chain(init[None, :], rates, sp2, cc2, cb)
        customers, buyers, cost = c3[0].ravel(), b3[0].ravel(), k3[0].ravel()
        rate = rates.ravel()
        sp = sp2.ravel()
        period = np.repeat(np.arange(1, n + 1, dtype=np.int64), k)
        labels = [f"recency {j}" for j in range(1, k + 1)]
        if k > 1:
            labels[-1] = f"recency {k}+"
        segment = np.tile(np.asarray(labels), n)
        model = "migration_recency"
    revenue = buyers * sp
    net = revenue - cost
    f = _discount_factors(int(period.max()), d, tm)[period - 1]
    table = DwyerTable(
        period=period,
        segment=segment,
        customers=customers,
        rate=rate,
        buyers=buyers,
        lapsed=customers - buyers,
        spend=sp,
        revenue=revenue,
        cost=cost,
        net=net,
        discount_factor=f,
        present_value=net * f,
    )
    return DwyerResult(table, model, n0, acq, d, tm)


@attrs.frozen(eq=False)
class RecencyValue:
    """Expected value of customers by their recency state.

    Attributes
    ----------
    value : float or numpy.ndarray
        Expected present value of each customer's future net (float for one
        customer).
    state_value : numpy.ndarray
        The value of one customer starting in each state (state 1 first).
    horizon : int
    discount_rate : float
    timing : str
    """

    value: float | FloatArray = attrs.field(converter=_float_or_frozen)
    state_value: FloatArray = attrs.field(converter=v.freeze)
    horizon: int
    discount_rate: float
    timing: str


def recency_value(
    recency: Any,
    buy_rate: Any,
    spend: Any,
    *,
    horizon: int | None = None,
    contact_cost: Any = 0.0,
    cost_per_buyer: float = 0.0,
    discount_rate: float = 0.0,
    timing: Timing | None = None,
) -> RecencyValue:
    """Project the recency-migration model for each customer from its current state.

    Parameters
    ----------
    recency : int or array_like of int
        Each customer's state: periods since its last purchase (1 = bought
        in the last period); values above k fall in the last state k.
    buy_rate, spend, horizon, contact_cost, cost_per_buyer, discount_rate, timing
        As :func:`dwyer_migration` in its recency form.

    Returns
    -------
    RecencyValue

    Raises
    ------
    InvalidInputError
        For recency < 1 or not whole, and as :func:`dwyer_migration`.

    Notes
    -----
    All customers in one state share one expected value, so the chain is run
    once from each of the k states (a k × k identity start) and the values
    are gathered by state: O(k²·horizon + customers). Each value equals
    :func:`dwyer_migration` for a cohort of one customer in that state.

    Examples
    --------
    >>> from custrel.clv import recency_value
    >>> r = recency_value([1, 2, 5], [0.6, 0.3, 0.1], 100.0, horizon=3)
    >>> np.round(r.value, 2).tolist()
    [146.8, 79.9, 43.3]
    """
    rec = v.as_float_array(recency, "recency", ndim=(0, 1))
    v.check_integer_valued(rec, "recency")
    v.check_range(rec, "recency", low=1.0, hint="1 means bought in the last period")
    rates, sp, cc = _recency_inputs(buy_rate, spend, contact_cost, horizon)
    cb = v.scalar(cost_per_buyer, "cost_per_buyer", low=0.0)
    d = v.discount_rate(discount_rate)
    tm = _timing(timing, d)
    n, k = rates.shape
    # the chain runs from each of the k states: k x horizon x k cells
    _period_budget(float(n), f"{k:,} states x horizon={n:,} from each state", rows=k * k)
    _, _, rev, cost = _recency_chain(np.eye(k), rates, sp, cc, cb)
    f = _discount_factors(n, d, tm)
    state_value = ((rev - cost).sum(axis=2) * f).sum(axis=1)
    idx = np.minimum(rec, k).astype(np.int64) - 1  # clip first: 1e300 is state k
    return RecencyValue(state_value[idx], state_value, n, d, tm)


@attrs.frozen(eq=False)
class RecencyStates(Tabular, columns=("customer_id", "recency")):
    """Each customer's recency state at a date, for :func:`recency_value`.

    Attributes
    ----------
    customer_id : numpy.ndarray
        Customers with a purchase on or before the date (sorted ids).
    recency : numpy.ndarray of int64
        Periods since the last purchase: 1 when it fell in the last period
        before the date (``(at − last) < one period``), 2 the period before,
        and so on.
    at : datetime64 or float
        The date.
    freq : str or float
        The period length.
    n_later : int
        Customers of the log whose first purchase is after the date (not in
        the result). Returns (negative amounts) are no purchases: they set
        no recency, and a customer with returns only is in neither count.
    """

    customer_id: npt.NDArray[Any] = attrs.field(converter=v.freeze)
    recency: IntArray = attrs.field(converter=v.freeze)
    at: Any
    freq: str | float
    n_later: int


def recency_states(log: TransactionLog, at: Any, *, freq: str | float = "month") -> RecencyStates:
    """Periods since each customer's last purchase at a date (the recency state).

    Parameters
    ----------
    log : TransactionLog
        The transactions.
    at : date or number
        The date the states are read at; purchases after it are ignored.
    freq : str or float
        The period: a unit of :meth:`TransactionLog.unit_length` or a length.

    Returns
    -------
    RecencyStates

    Raises
    ------
    InvalidInputError
        If no purchase lies on or before ``at``.

    Notes
    -----
    ``recency = floor((at − last purchase) / period) + 1``; one
    ``maximum.at`` over the rows.

    Examples
    --------
    >>> from custrel import TransactionLog
    >>> from custrel.clv import recency_states, recency_value
    >>> log = TransactionLog.from_arrays(customer_id=[1, 1, 2, 3], time=[0.0, 9.5, 4.0, 11.0],
    ...                                  amount=[1.0, 1.0, 1.0, 1.0])
    >>> s = recency_states(log, 10.0, freq=1.0)
    >>> s.customer_id.tolist(), s.recency.tolist(), s.n_later
    ([1, 2], [1, 7], 1)
    >>> np.round(recency_value(s.recency, [0.5, 0.2, 0.1], 10.0, horizon=2).value, 2).tolist()
    [8.5, 2.4]
    """
    if not isinstance(log, TransactionLog):
        raise InvalidTypeError(f"log must be a TransactionLog, got {type(log).__name__}")
    t_at = log.to_time_float(at, "at")
    length = log.unit_length(freq, "freq")
    t = log.numeric_time()
    buys = log.is_purchase  # returns are no purchases (recency never counts them)
    keep = (t <= t_at) & buys
    if not keep.any():
        first = int(np.argmin(np.where(buys, t, np.inf))) if buys.any() else None
        seen = (
            "the log has no purchase" if first is None else f"the first is at {log.time[first]!r}"
        )
        raise InvalidInputError(f"no purchase lies on or before at={at!r}; {seen}")
    k = log.n_customers
    last = np.full(k, -np.inf)
    np.maximum.at(last, log.customer_code[keep], t[keep])
    present = np.isfinite(last)
    with np.errstate(over="ignore"):
        recf = np.floor((t_at - last[present]) / length) + 1
    if recf.size and float(recf.max()) > v.max_periods():
        i = int(np.argmax(recf))
        v.check_budget(
            float(recf[i]), "the recency state", budget=v.max_periods(),
            culprit=f"at={at!r} lies {float(recf[i]):,.0f} periods after customer "
            f"{log.customer_labels[present][i]!r}'s last purchase",
            env="CUSTREL_MAX_PERIODS", hint="a mistyped date? or pass a coarser freq",
        )  # fmt: skip
    rec = recf.astype(np.int64)
    buyer = _numeric.bincount(log.customer_code[buys], minlength=k) > 0
    return RecencyStates(
        log.customer_labels[present], rec, at, freq, int(np.count_nonzero(buyer & ~present))
    )


# ---------------------------------------------------------------------------
# 2.4 customer-event ledger
# ---------------------------------------------------------------------------


@attrs.frozen(eq=False)
class EventLedger:
    """Per-customer, per-period ledger of the customer-event method (domain notes §2.4).

    Attributes
    ----------
    customer_id : numpy.ndarray or None
        The customers (rows, sorted); ``None`` for a single customer, whose
        arrays are then 1-D over periods.
    period : numpy.ndarray of int64
        1 .. horizon.
    revenue, cost, net : numpy.ndarray
        Sums of the events' allocations per period (customers × periods).
    discount_factor : numpy.ndarray
        Per period.
    present_value : numpy.ndarray
        net × factor.
    clv : float or numpy.ndarray
        Σ present value per customer.
    n_events : numpy.ndarray of int64
        Events per customer and period.
    """

    customer_id: npt.NDArray[Any] | None
    period: IntArray = attrs.field(converter=v.freeze)
    revenue: FloatArray = attrs.field(converter=v.freeze)
    cost: FloatArray = attrs.field(converter=v.freeze)
    net: FloatArray = attrs.field(converter=v.freeze)
    discount_factor: FloatArray = attrs.field(converter=v.freeze)
    present_value: FloatArray = attrs.field(converter=v.freeze)
    clv: float | FloatArray = attrs.field(converter=_float_or_frozen)
    n_events: IntArray = attrs.field(converter=v.freeze)


def event_ledger(
    period: Any,
    *,
    revenue: Any = 0.0,
    cost: Any = 0.0,
    customer_id: Any = None,
    horizon: int | None = None,
    discount_rate: float = 0.0,
    timing: Timing | None = None,
) -> EventLedger:
    """Build the customer-event ledger from predicted events (domain notes §2.4).

    Parameters
    ----------
    period : array_like of int
        The period (from 1) each event occurs in.
    revenue, cost : float or array_like
        The revenue and the cost allocated to each event (a purchase brings
        revenue, a marketing action or a bad debt cost); cost >= 0.
    customer_id : array_like, optional
        The customer of each event; without it all events belong to one
        customer and the ledger's arrays are 1-D.
    horizon : int, optional
        Number of periods; defaults to the last event's period. An event
        after the horizon is an error, never dropped.
    discount_rate : float
        Per period.
    timing : {"start", "end"}
        Required when ``discount_rate`` is not 0.

    Returns
    -------
    EventLedger

    Raises
    ------
    InvalidInputError
        For periods < 1 or not whole, events after the horizon, negative
        costs, non-finite values or inconsistent lengths.

    Notes
    -----
    ``net(i, t) = Σ_{events of i in t} (revenue − cost)``,
    ``CLV_i = Σ_t net(i, t)·f(t)``. One :func:`numpy.bincount` per column.

    Examples
    --------
    >>> from custrel.clv import event_ledger
    >>> led = event_ledger([1, 1, 2, 3], revenue=[100, 0, 120, 0], cost=[60, 15, 70, 20])
    >>> led.net.tolist(), led.clv
    ([25.0, 50.0, -20.0], 55.0)
    """
    per = v.as_float_array(period, "period", ndim=1)
    v.check_integer_valued(per, "period")
    v.check_range(per, "period", low=1.0, hint="periods are numbered from 1")
    m = len(per)
    rev = _per_event(revenue, "revenue", m)
    cst = _per_event(cost, "cost", m)
    v.check_range(cst, "cost", low=0.0, hint="record income as revenue")
    d = v.discount_rate(discount_rate)
    tm = _timing(timing, d)
    if horizon is None:
        row = int(np.argmax(per))
        _period_budget(float(per[row]), f"period {float(per[row]):g} at row {row}")
        n = last = int(per[row])
    else:
        n = _horizon(horizon)
        last = int(per.max())
        if last > n:
            row = int(np.argmax(per))
            raise InvalidInputError(
                f"period must be <= horizon={n}, got {last} at row {row}; raise the horizon"
            )
    if customer_id is None:
        codes = np.zeros(m, dtype=np.int64)
        labels = None
        k = 1
    else:
        labels, codes = v.group_codes(customer_id, "customer_id", m, what="period")
        k = len(labels)
        _period_budget(float(n), f"{n:,} periods", rows=k)
    key = codes * n + (per.astype(np.int64) - 1)
    shape = (k, n)
    r = _numeric.bincount(key, weights=rev, minlength=k * n).reshape(shape)
    c = _numeric.bincount(key, weights=cst, minlength=k * n).reshape(shape)
    cnt = _numeric.bincount(key, minlength=k * n).reshape(shape).astype(np.int64)
    f = _discount_factors(n, d, tm)
    net = r - c
    pv = net * f
    total = pv.sum(axis=1)
    if labels is None:
        return EventLedger(
            None, np.arange(1, n + 1), r[0], c[0], net[0], f, pv[0], total[0], cnt[0]
        )
    v.check_sums_finite(pv, "revenue - cost", labels=labels)
    return EventLedger(labels, np.arange(1, n + 1), r, c, net, f, pv, total, cnt)


def _per_event(value: Any, name: str, m: int) -> FloatArray:
    arr = v.as_float_array(value, name, ndim=(0, 1))
    if arr.ndim == 1 and len(arr) != m:
        raise InvalidInputError(
            f"inconsistent lengths: {name} has {len(arr)} values but period has {m}"
        )
    return np.broadcast_to(arr, (m,)).astype(np.float64)


# ---------------------------------------------------------------------------
# 2.5 fitting method: the three-phase profit curve
# ---------------------------------------------------------------------------


def phase_growth(t: Any, h1: Any, v0: Any) -> FloatArray:
    """Phase I, fast growth: ``P1(t) = h1·t² + v``.

    Parameters
    ----------
    t : array_like
        Periods (months in the textbook's cases).
    h1 : float or array_like
        The growth coefficient.
    v0 : float or array_like
        The level v at t = 0.

    Returns
    -------
    numpy.ndarray

    Raises
    ------
    InvalidTypeError
        If an argument is None or not numeric.
    InvalidInputError
        If an argument is NaN or infinite (naming it), the shapes do not
        broadcast, or the value is beyond the float range.

    Examples
    --------
    >>> from custrel.clv import phase_growth
    >>> round(float(phase_growth(24, 0.025, 3.40)), 6)  # domain notes §2.5, case 1
    17.8
    """
    tt, a, b = _phase_args(t=t, h1=h1, v0=v0)
    with np.errstate(over="ignore", invalid="ignore"):
        out = a * tt**2 + b
    return _phase_out(out, "phase_growth")


def phase_saturation(t: Any, g1: Any, start_profit: Any, ceiling: Any, speed: Any) -> FloatArray:
    """Phase II, slow growth towards a ceiling.

    ``P2(t) = C − (C − P(g1))·exp(−k·(t − g1))`` for t > g1.

    Parameters
    ----------
    t : array_like
        Periods.
    g1 : float
        The last period of phase I.
    start_profit : float
        P(g1), where phase I ends (so the curve is continuous).
    ceiling : float
        C = P(g1) + N, the level profit approaches and never exceeds.
    speed : float
        k > 0: the share of the remaining headroom closed per period is
        ``1 − e^(−k)``.

    Returns
    -------
    numpy.ndarray

    Raises
    ------
    InvalidTypeError
        If an argument is None or not numeric.
    InvalidInputError
        If an argument is NaN or infinite (naming it), the shapes do not
        broadcast, or the value is beyond the float range.

    Examples
    --------
    >>> from custrel.clv import phase_saturation
    >>> np.round(phase_saturation([24, 25, 60], 24, 17.8, 20.0, 0.5), 3).tolist()
    [17.8, 18.666, 20.0]
    """
    tt, g, p0, c, k = _phase_args(
        t=t, g1=g1, start_profit=start_profit, ceiling=ceiling, speed=speed
    )
    v.check_range(k, "speed", low=0.0, low_inclusive=False, label="row")
    with np.errstate(over="ignore", invalid="ignore"):
        out = c - (c - p0) * np.exp(-k * (tt - g))
    return _phase_out(out, "phase_saturation")


def phase_decline(t: Any, g2: Any, start_profit: Any, h2: Any) -> FloatArray:
    """Phase III, fast decline: ``P3(t) = P(g2) − h2·(t − g2)²`` for t > g2.

    Parameters
    ----------
    t : array_like
        Periods.
    g2 : float
        The last period before the decline.
    start_profit : float
        P(g2), the profit where the decline starts.
    h2 : float
        The decline coefficient (the mirror of phase I's h1).

    Returns
    -------
    numpy.ndarray

    Raises
    ------
    InvalidTypeError
        If an argument is None or not numeric.
    InvalidInputError
        If an argument is NaN or infinite (naming it), the shapes do not
        broadcast, or the value is beyond the float range.

    Examples
    --------
    >>> from custrel.clv import phase_decline
    >>> phase_decline([37, 38, 39, 40, 41], 34, 12.0, 0.25).tolist()  # domain notes §2.5, case 3
    [9.75, 8.0, 5.75, 3.0, -0.25]
    """
    tt, g, p0, h = _phase_args(t=t, g2=g2, start_profit=start_profit, h2=h2)
    with np.errstate(over="ignore", invalid="ignore"):
        out = p0 - h * (tt - g) ** 2
    return _phase_out(out, "phase_decline")


def _phase_args(**params: Any) -> list[FloatArray]:
    """The phase functions' arguments as finite float arrays of one broadcast shape, in order."""
    arrs = []
    for name, value in params.items():
        if value is None:
            raise InvalidTypeError(f"{name} must be a number or an array of numbers, got None")
        arrs.append(v.as_float_array(value, name, ndim=(0, 1, 2)))
    try:
        np.broadcast_shapes(*(a.shape for a in arrs))
    except ValueError:
        shapes = ", ".join(f"{n} {a.shape}" for n, a in zip(params, arrs, strict=True))
        raise InvalidInputError(f"the inputs do not broadcast to one shape: {shapes}") from None
    return arrs


def _phase_out(out: Any, fn: str) -> FloatArray:
    """Refuse a phase value that left the float range (finite inputs, overflowing product)."""
    res: FloatArray = np.asarray(out, dtype=np.float64)
    if not np.all(np.isfinite(res)):
        raise InvalidInputError(
            f"{fn} is beyond the float range (about 1.8e308) for these arguments; "
            "check the units of t and the coefficients"
        )
    return res


def _smooth_speed(h1: FloatArray, v0: FloatArray, g1: FloatArray, c: FloatArray) -> FloatArray:
    """Phase II speed from a C¹ join: ``k = P1'(g1) / N = 2·h1·g1 / (C − P1(g1))``."""
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        slope = 2.0 * h1 * g1
        head = c - (h1 * g1**2 + v0)
        k = slope / head
    ok = np.isfinite(k) & (k > 0) & (slope > 0) & (head > 0)
    out: FloatArray = np.where(ok, k, np.nan)
    return out


@attrs.frozen(eq=False)
class ProfitCurve:
    """The three-phase inverted-U profit curve of the fitting method (domain notes §2.5).

    All attributes hold one value per customer.

    Attributes
    ----------
    h1, v : numpy.ndarray
        Phase I: ``P1(t) = h1·t² + v`` for t <= g1.
    g1 : numpy.ndarray
        Last period of phase I (``inf``: no phase II known).
    ceiling : numpy.ndarray
        C, the level phase II approaches (``nan``: unknown).
    speed : numpy.ndarray
        k of phase II (``nan``: unknown).
    g2 : numpy.ndarray
        Last period of phase II (``inf``: no decline known).
    h2 : numpy.ndarray
        Phase III: ``P3(t) = P(g2) − h2·(t − g2)²`` for t > g2.

    Notes
    -----
    See :func:`fit_profit_curve` for the forms and why they were chosen.
    """

    h1: FloatArray = attrs.field(converter=_curve_param)
    v: FloatArray = attrs.field(converter=_curve_param)
    g1: FloatArray = attrs.field(converter=_curve_param)
    ceiling: FloatArray = attrs.field(converter=_curve_param)
    speed: FloatArray = attrs.field(converter=_curve_param)
    g2: FloatArray = attrs.field(converter=_curve_param)
    h2: FloatArray = attrs.field(converter=_curve_param)

    def __attrs_post_init__(self) -> None:
        fields = {
            "h1": self.h1, "v0": self.v, "g1": self.g1, "ceiling": self.ceiling,
            "speed": self.speed, "g2": self.g2, "h2": self.h2,
        }  # fmt: skip
        n = {len(a) for a in fields.values()}
        if len(n) != 1:
            raise InvalidInputError(
                "the parameters must be scalars or arrays of one length (one per customer)"
            )
        for name in ("h1", "v0", "h2"):
            v.check_finite(fields[name], name)
        for name in ("g1", "g2"):
            if np.isnan(fields[name]).any() or np.isneginf(fields[name]).any():
                raise InvalidInputError(
                    f"{name} must be a period or inf (not known), got NaN or -inf"
                )
        for name in ("ceiling", "speed"):
            if np.isinf(fields[name]).any():
                i = int(np.flatnonzero(np.isinf(fields[name]))[0])
                raise InvalidInputError(
                    f"{name} must be finite or NaN (not known), got {float(fields[name][i])!r} "
                    f"at row {i}"
                )

    @classmethod
    def from_parameters(
        cls,
        h1: Any,
        v0: Any,
        *,
        g1: Any = math.inf,
        ceiling: Any = math.nan,
        speed: Any = None,
        g2: Any = math.inf,
        h2: Any = 0.0,
    ) -> ProfitCurve:
        """Build a curve from known parameters (scalars or one per customer).

        ``v0`` is the textbook's v (stored as :attr:`v`).
        ``speed=None`` joins phase II to phase I smoothly (same slope at g1,
        ``k = 2·h1·g1 / N``), which needs ``ceiling > P1(g1)`` and ``h1 > 0``.

        Raises
        ------
        InvalidInputError
            If ``g1 > g2``, a breakpoint is below 0 or a speed or h2 is
            negative.

        Examples
        --------
        >>> from custrel.clv import ProfitCurve
        >>> c = ProfitCurve.from_parameters(0.025, 3.40, g1=24, ceiling=20.0)
        >>> round(float(c.speed[0]), 6)  # 2·0.025·24 / 2.20
        0.545455
        """
        arrs = {
            "h1": _v_float(h1, "h1"),
            "v": _v_float(v0, "v0"),
            "g1": _v_float(g1, "g1", finite=False),
            "ceiling": _v_float(ceiling, "ceiling", finite=False),
            "g2": _v_float(g2, "g2", finite=False),
            "h2": _v_float(h2, "h2"),
        }
        if speed is not None:
            arrs["speed"] = _v_float(speed, "speed", finite=False)
        try:
            b = np.broadcast_arrays(*arrs.values())
        except ValueError:
            raise InvalidInputError(
                "the parameters must be scalars or arrays of one length (one per customer)"
            ) from None
        p = {k: np.atleast_1d(np.array(x, dtype=np.float64)) for k, x in zip(arrs, b, strict=True)}
        _check_breakpoints(p["g1"], p["g2"])
        v.check_range(p["h2"], "h2", low=0.0, hint="phase III falls; h2 is its speed")
        if "speed" not in p:
            p["speed"] = _smooth_speed(p["h1"], p["v"], p["g1"], p["ceiling"])
        else:
            sp = p["speed"]
            bad = ~(np.isnan(sp) | (sp > 0))
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                raise InvalidInputError(f"speed must be > 0, got {float(sp[i])!r} at row {i}")
        return cls(p["h1"], p["v"], p["g1"], p["ceiling"], p["speed"], p["g2"], p["h2"])

    def __len__(self) -> int:
        return len(self.h1)

    def evaluate(self, t: Any) -> FloatArray:
        """Profit at periods ``t`` for every customer: shape (customers, len(t)).

        Periods count from acquisition, so ``t`` must be finite and
        non-negative.

        Raises
        ------
        InvalidInputError
            If a period in ``t`` is negative or not finite, naming its row; if
            a customer's curve is asked beyond g1 but has no ceiling or speed,
            naming the customer row; if the profit at a period lies beyond the
            float range (a period far past the decline), naming the period and
            the customer row.
        """
        t1 = np.atleast_1d(v.as_float_array(t, "t", ndim=(0, 1)))
        v.check_range(t1, "t", low=0.0, hint="periods count from acquisition")
        tt = t1[None, :]
        h1, v0 = self.h1[:, None], self.v[:, None]
        g1, g2 = self.g1[:, None], self.g2[:, None]
        c, k, h2 = self.ceiling[:, None], self.speed[:, None], self.h2[:, None]
        ph1 = tt <= g1
        ph3 = tt > g2
        need2 = ~ph1
        missing = need2 & ~(np.isfinite(c) & np.isfinite(k))
        if missing.any():
            i, j = _first_bad2(missing)
            what = "ceiling" if not np.isfinite(self.ceiling[i]) else "speed"
            raise InvalidInputError(
                f"customer row {i} has no {what} for phase II, so its profit cannot be "
                f"projected to period {float(tt[0, j]):g} beyond g1={float(self.g1[i]):g}; "
                f"pass {what}= (from similar customers)"
            )
        with np.errstate(invalid="ignore", over="ignore"):
            g1f = np.where(np.isfinite(g1), g1, 0.0)
            pg1 = h1 * g1f**2 + v0
            tau = np.clip(np.minimum(tt, g2) - g1f, 0.0, None)
            p2 = np.where(need2, c - (c - pg1) * np.exp(-k * tau), 0.0)
            d3 = np.where(ph3, tt - np.where(np.isfinite(g2), g2, 0.0), 0.0)
            out: FloatArray = np.where(ph1, h1 * tt**2 + v0, p2 - h2 * d3**2)
        if not np.isfinite(out).all():
            i, j = _first_bad2(~np.isfinite(out))
            raise InvalidInputError(
                f"t: the profit of customer row {i} at period {float(tt[0, j]):g} (t row {j}) "
                "is beyond the float range; ask for periods nearer the customer's lifetime"
            )
        return out

    def present_value(
        self,
        start: int,
        horizon: int,
        *,
        discount_rate: float = 0.0,
        timing: Timing | None = None,
    ) -> FloatArray:
        """Present value of periods ``start .. start + horizon − 1``, per customer.

        Discounted to period ``start``: with ``timing="start"`` period
        ``start`` is not discounted, with ``"end"`` it is discounted once.
        """
        s = _horizon(start, "start")
        n = _horizon(horizon)
        d = v.discount_rate(discount_rate)
        tm = _timing(timing, d)
        p = self.evaluate(np.arange(s, s + n, dtype=np.float64))
        f = _discount_factors(n, d, tm)
        out: FloatArray = p @ f
        return out


def _first_bad2(mask: npt.NDArray[np.bool_]) -> tuple[int, int]:
    """(row, column) of the first True of a 2-D mask."""
    i, j = v.first_bad(mask)
    return int(i), int(j)


def _v_float(value: Any, name: str, *, finite: bool = True) -> FloatArray:
    """A scalar or 1-D float parameter (NaN/inf allowed when not ``finite``)."""
    if value is None:
        raise InvalidTypeError(f"{name} must be a number or one per customer, got None")
    arr = v.as_float_array(value, name, ndim=(0, 1), finite=False)
    if finite:
        v.check_finite(arr, name)
    else:
        bad = np.isneginf(arr)
        if bad.any():
            raise InvalidInputError(f"{name} must not be -inf")
    return arr


def _check_breakpoints(g1: FloatArray, g2: FloatArray) -> None:
    for name, g in (("g1", g1), ("g2", g2)):
        bad = ~np.isnan(g) & (g < 0)
        if bad.any() or np.isnan(g).any():
            i = int(np.flatnonzero(bad | np.isnan(g))[0])
            raise InvalidInputError(f"{name} must be a period >= 0, got {float(g[i])!r} at row {i}")
    bad = g1 > g2
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InvalidInputError(
            f"Cannot have g1={float(g1[i]):g} > g2={float(g2[i]):g} (row {i}): phase I "
            "(growth) must end before phase III (decline) starts"
        )


@attrs.frozen(eq=False)
class ProfitCurveFit:
    """Result of :func:`fit_profit_curve`.

    Attributes
    ----------
    curve : ProfitCurve
        The fitted curve (one set of parameters per customer).
    phase : int or numpy.ndarray
        The phase (1, 2 or 3) each customer is in at the last observed period.
    sse : float or numpy.ndarray
        Residual sum of squares of the fit.
    rmse : float or numpy.ndarray
        sqrt(sse / n_periods).
    relative_rmse : float or numpy.ndarray
        rmse divided by the mean absolute profit (0 for a perfect fit of an all-zero history,
        ``inf`` for an imperfect one).
    n_periods : int
        Length of the history (periods 1..n_periods).
    single : bool
        True when one customer (1-D history) was fitted; the per-customer
        results are then scalars.
    """

    curve: ProfitCurve
    phase: int | IntArray = attrs.field(converter=v.freeze)
    sse: float | FloatArray = attrs.field(converter=v.freeze)
    rmse: float | FloatArray = attrs.field(converter=v.freeze)
    relative_rmse: float | FloatArray = attrs.field(converter=v.freeze)
    n_periods: int
    single: bool

    def fitted(self) -> FloatArray:
        """The fitted profit over the history."""
        out = self.curve.evaluate(np.arange(1, self.n_periods + 1, dtype=np.float64))
        return out[0] if self.single else out

    def project(self, horizon: int, *, start: int | None = None) -> FloatArray:
        """Projected profit of ``horizon`` periods from ``start`` (default: the next period)."""
        s = self.n_periods + 1 if start is None else _horizon(start, "start")
        n = _horizon(horizon)
        out = self.curve.evaluate(np.arange(s, s + n, dtype=np.float64))
        return out[0] if self.single else out

    def present_value(
        self,
        horizon: int,
        *,
        start: int | None = None,
        discount_rate: float = 0.0,
        timing: Timing | None = None,
    ) -> float | FloatArray:
        """Present value of the projected profit (see :meth:`ProfitCurve.present_value`)."""
        s = self.n_periods + 1 if start is None else start
        pv = self.curve.present_value(s, horizon, discount_rate=discount_rate, timing=timing)
        return float(pv[0]) if self.single else pv


def _param(value: Any, name: str, n: int, *, finite: bool = False) -> FloatArray:
    arr = _v_float(value, name, finite=finite)
    if arr.ndim == 1 and len(arr) != n:
        raise InvalidInputError(
            f"inconsistent lengths: {name} has {len(arr)} values but there are {n} customers"
        )
    return np.broadcast_to(arr, (n,)).astype(np.float64)


def fit_profit_curve(
    profit: Any,
    *,
    g1: Any = None,
    g2: Any = None,
    ceiling: Any = None,
    speed: Any = None,
    max_relative_rmse: float = 0.25,
    on_poor_fit: Literal["warn", "raise"] = "warn",
) -> ProfitCurveFit:
    """Fit the three-phase profit curve to profit histories (domain notes §2.5).

    Parameters
    ----------
    profit : array_like
        P(t) for t = 1..T: 1-D for one customer or 2-D, customers × periods
        (at least 3 periods). :func:`period_profit_from_log` with
        ``align="customer"`` builds it from a log.
    g1, g2 : int or array_like, optional
        The last period of phase I and of phase II, as known from similar
        customers (they may lie beyond the history). ``None`` searches
        every whole period (see Notes); ``g1`` may then also turn out to be
        "no break" (inf).
    ceiling : float or array_like, optional
        C, the level phase II approaches (``P(g1) + N``). ``None`` fits N
        from the history when it covers phase II, else leaves it unknown.
    speed : float or array_like, optional
        k of phase II. ``None`` fits it when the history covers phase II,
        else joins phase II smoothly to phase I (``k = 2·h1·g1 / N``).
    max_relative_rmse : float
        A fit whose rmse exceeds this share of the mean absolute profit
        "fits no phase".
    on_poor_fit : {"warn", "raise"}
        Emit a :class:`~custrel.errors.FitWarning` (the default) or raise
        :class:`~custrel.errors.ConvergenceError`; both name the customers
        and their residuals. There is no silent option.

    Returns
    -------
    ProfitCurveFit

    Raises
    ------
    InvalidInputError
        For a history shorter than 3 periods, non-finite profits, ``g1 >
        g2``, non-positive speeds or ceilings, or a search over more than
        20,000 (g1, g2) pairs (a history of about 200
        periods with neither breakpoint given).
    ConvergenceError
        With ``on_poor_fit="raise"``, when a history fits no phase.

    Warns
    -----
    FitWarning
        When a history fits no phase (relative rmse above the limit).

    Notes
    -----
    **Forms.** The source lost its formulas (domain notes §2.5); these honour
    every parameter it states:

    * phase I: ``P1(t) = h1·t² + v`` (t <= g1) reproduces P(24) = 17.80;
    * phase II: ``P2(t) = C − (C − P1(g1))·e^(−k(t − g1))``
      (g1 < t <= g2): it starts where phase I ends, grows ever more slowly
      and approaches, never exceeds, the ceiling ``C = P1(g1) + N``. Its one
      extra parameter, the speed k, is fitted when the history covers phase
      II; when it does not (case 1) it follows from a smooth join, the same
      slope as phase I at g1, ``k = 2·h1·g1 / N``, so no judgement is
      needed;
    * phase III: ``P3(t) = P(g2) − h2·(t − g2)²`` (t > g2): the mirror
      image of phase I's fast growth, falling from P(g2) at a speed set by
      h2.

    **Fit.** For fixed breakpoints and k the curve is linear in
    ``(h1, v, N, h2)`` (with a known ceiling, N = C − P1(g1) is
    substituted), so each candidate is an exact linear least-squares
    problem, solved for all customers at once. k is found by a grid over
    [0.01, 10] followed by a golden-section search on log k per customer
    (variable projection). Unknown breakpoints are searched over whole
    periods (every phase keeps >= 3 points in phase I and >= 2 in the
    others) and the candidate with the smallest BIC,
    ``T·log(SSE/T) + p·log T``, is kept: so the **current phase** is the one
    the data support without overfitting. The same code runs for one
    customer and for many, so results agree row by row.

    User phase functions: :func:`fit_custom_curve` fits any curve
    ``f(t, *params)`` with :func:`scipy.optimize.least_squares`.

    Examples
    --------
    >>> from custrel.clv import fit_profit_curve, phase_growth
    >>> t = np.arange(1, 19)
    >>> fit = fit_profit_curve(phase_growth(t, 0.025, 3.40), g1=24, ceiling=20.0)
    >>> round(float(fit.curve.h1[0]), 6), round(float(fit.curve.v[0]), 6), fit.phase
    (0.025, 3.4, 1)
    >>> round(fit.present_value(60, discount_rate=0.0125, timing="start"), 2)
    819.29
    """
    y = v.as_float_array(profit, "profit", ndim=(1, 2))
    big = np.abs(y) > _MAX_FIT_MAGNITUDE
    if big.any():
        idx = v.first_bad(big)
        raise InvalidInputError(
            f"profit must be at most {_MAX_FIT_MAGNITUDE:g} in magnitude to fit (its squares "
            f"must stay in the float range), got {float(y[idx]):g} at {v.where(idx)}; "
            "rescale profit (e.g. to thousands)"
        )
    single = y.ndim == 1
    y2 = np.atleast_2d(y)
    n, T = y2.shape
    if T < 3:
        raise InvalidInputError(f"profit must cover at least 3 periods to fit a phase, got {T}")
    tol = v.scalar(max_relative_rmse, "max_relative_rmse", low=0.0, low_inclusive=False)
    v.choice(on_poor_fit, "on_poor_fit", ("warn", "raise"))
    t = np.arange(1, T + 1, dtype=np.float64)
    cvec = np.full(n, np.nan) if ceiling is None else _param(ceiling, "ceiling", n, finite=True)
    v.check_range(
        cvec[~np.isnan(cvec)], "ceiling", low=-_MAX_FIT_MAGNITUDE, high=_MAX_FIT_MAGNITUDE,
        hint="rescale profit and ceiling (e.g. to thousands)",
    )  # fmt: skip
    if speed is None:
        kvec = np.full(n, np.nan)
    else:
        kvec = _param(speed, "speed", n, finite=True)
        v.check_range(kvec, "speed", low=0.0, low_inclusive=False)
    search = g1 is None or g2 is None
    if not search:
        g1v, g2v = _param(g1, "g1", n), _param(g2, "g2", n)
        _break_budget(g1v, "g1")
        _break_budget(g2v, "g2")
        _check_breakpoints(g1v, g2v)
        k_out, beta, sse = _fit_given(y2, t, g1v, g2v, cvec, kvec)
    else:
        g1s = None if g1 is None else _scalar_break(g1, "g1")
        g2s = None if g2 is None else _scalar_break(g2, "g2")
        if g1s is not None and g2s is not None:  # pragma: no cover - search is False then
            raise AssertionError
        g1v, g2v, k_out, beta, sse = _fit_search(y2, t, g1s, g2s, cvec, kvec)
    h1, v0, nn, h2 = beta.T
    p_g1 = h1 * np.where(np.isfinite(g1v), g1v, 0.0) ** 2 + v0
    has2 = g1v < T
    c_out = np.where(np.isfinite(cvec), cvec, np.where(has2 & (g2v > g1v), p_g1 + nn, np.nan))
    smooth = _smooth_speed(h1, v0, g1v, c_out)
    k_final = np.where(np.isfinite(k_out), k_out, smooth)
    curve = ProfitCurve(h1, v0, g1v, c_out, k_final, g2v, h2)
    phase = np.where(g1v >= T, 1, np.where(g2v >= T, 2, 3)).astype(np.int64)
    rmse = np.sqrt(sse / T)
    scale = np.abs(y2).mean(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = np.where(
            scale > 0, rmse / np.where(scale > 0, scale, 1.0), np.where(sse > 0, np.inf, 0.0)
        )
    poor = rel > tol
    if poor.any():
        i = int(np.flatnonzero(poor)[0])
        msg = (
            f"{int(poor.sum())} of {n} profit histories fit no phase of the three-phase curve: "
            f"customer row {i} has rmse {float(rmse[i]):.4g} = {float(rel[i]):.3g} × its mean "
            f"absolute profit (limit max_relative_rmse={tol:g}); check the history or fit "
            "your own curve with fit_custom_curve"
        )
        if on_poor_fit == "raise":
            raise ConvergenceError(msg)
        warnings.warn(msg, FitWarning, stacklevel=2)
    if single:
        return ProfitCurveFit(
            curve, int(phase[0]), float(sse[0]), float(rmse[0]), float(rel[0]), T, True
        )
    return ProfitCurveFit(curve, phase, sse, rmse, rel, T, False)


def _scalar_break(value: Any, name: str) -> float:
    arr = _v_float(value, name, finite=False)
    if arr.ndim != 0:
        raise InvalidInputError(
            f"{name} must be a single period when the other breakpoint is searched "
            "(give both as arrays to fix them per customer)"
        )
    g = float(arr)
    if math.isnan(g) or g < 0:
        raise InvalidInputError(f"{name} must be a period >= 0, got {g!r}")
    _break_budget(arr, name)
    return g


def _break_budget(g: FloatArray, name: str) -> None:
    """A finite breakpoint is a period, within the period budget (inf: the phase never ends)."""
    finite = g[np.isfinite(g)] if g.ndim else (g[None] if np.isfinite(g) else g[None][:0])
    if finite.size and float(np.max(np.abs(finite))) > v.max_periods():
        top = float(finite[np.argmax(np.abs(finite))])
        v.check_budget(
            abs(top), f"{name} (a period number)", budget=v.max_periods(), culprit=f"{name}={top:g}",
            env="CUSTREL_MAX_PERIODS", hint="pass inf for a phase that never ends",
        )  # fmt: skip


_K_GRID = np.geomspace(0.01, 10.0, 31)
_K_SEARCH = np.geomspace(0.01, 10.0, 13)
_K_LO, _K_HI = math.log(0.005), math.log(20.0)
_GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0
_GOLDEN_STEPS = 30
_CHUNK = 512


def _design(
    t: FloatArray, g1: FloatArray, g2: FloatArray, known: npt.NDArray[np.bool_], k: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Design (m, 4, T) of the linear parameters (h1, v, N, h2) and the progress e (m, T).

    ``g1, g2, known, k`` are (m,): one row per customer, or m = 1 for a
    group that shares them. With the ceiling known, N = C − P1(g1) is
    substituted: the N column is zero and the offset is ``C·e``.
    """
    m, T = len(g1), len(t)
    tt = t[None, :]
    g1c, g2c = g1[:, None], g2[:, None]
    g1f = np.where(np.isfinite(g1c), g1c, 0.0)
    g2f = np.where(np.isfinite(g2c), g2c, 0.0)
    ph1 = tt <= g1c
    kc = np.where(np.isfinite(k), k, 0.0)[:, None]
    tau = np.minimum(tt, np.where(np.isfinite(g2c), g2c, np.inf)) - g1f
    e = -np.expm1(-kc * np.where(ph1, 0.0, tau))
    x = np.empty((m, 4, T))
    kn = known[:, None]
    np.copyto(x[:, 0], np.where(ph1, tt**2, g1f**2))
    x[:, 0] -= np.where(kn, g1f**2, 0.0) * e
    np.copyto(x[:, 1], 1.0 - np.where(kn, e, 0.0))
    np.copyto(x[:, 2], np.where(kn, 0.0, e))
    d = np.maximum(tt - np.where(np.isfinite(g2c), g2f, np.inf), 0.0)
    np.copyto(x[:, 3], -(d * d))
    return x, e


def _solve(y: FloatArray, x: FloatArray, off: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Least squares of ``y − off`` on ``x`` for each customer (row of y): (beta, sse).

    ``x`` is (n, 4, T), one design per customer. All-zero columns are
    parameters absent for that customer, fixed at 0; columns are scaled to
    unit norm before the normal equations. Row i's result depends on row i
    only, so one customer and many give the same numbers.
    """
    norm2 = np.einsum("npt,npt->np", x, x)
    zero = norm2 == 0.0
    s = np.where(zero, 1.0, 1.0 / np.sqrt(np.where(zero, 1.0, norm2)))
    xs = x * s[:, :, None]
    gram = np.einsum("npt,nqt->npq", xs, xs) + zero[:, :, None] * np.eye(4)[None, :, :]
    yo = y - off
    rhs = np.einsum("npt,nt->np", xs, yo)
    try:
        bs = np.linalg.solve(gram, rhs[:, :, None])[:, :, 0]
    except np.linalg.LinAlgError:
        bs = (np.linalg.pinv(gram) @ rhs[:, :, None])[:, :, 0]
    resid = yo - np.einsum("npt,np->nt", xs, bs)
    return bs * s, np.einsum("nt,nt->n", resid, resid)


def _fit_rows(
    y: FloatArray,
    t: FloatArray,
    g1: FloatArray,
    g2: FloatArray,
    c: FloatArray,
    k: FloatArray,
) -> tuple[FloatArray, FloatArray]:
    """Exact linear least squares per customer for per-customer g1, g2, C, k.

    Works through the customers in cache-sized chunks; each row's result
    depends on that row only.
    """
    n = y.shape[0]
    beta = np.empty((n, 4))
    sse = np.empty(n)
    for lo in range(0, n, _CHUNK):
        sl = slice(lo, min(lo + _CHUNK, n))
        known = np.isfinite(c[sl])
        x, e = _design(t, g1[sl], g2[sl], known, k[sl])
        beta[sl], sse[sl] = _solve(y[sl], x, np.where(known, c[sl], 0.0)[:, None] * e)
    return beta, sse


def _basis(x: FloatArray) -> FloatArray:
    """Orthonormal basis (T, rank) of the non-zero columns of one design (4, T)."""
    nz = (x * x).sum(axis=1) > 0.0
    u, sv, _ = np.linalg.svd(x[nz].T, full_matrices=False)
    keep = sv > sv[0] * 1e-10 if len(sv) else np.zeros(0, dtype=bool)
    out: FloatArray = u[:, keep]
    return out


def _grid_sse(
    y: FloatArray, c: FloatArray, designs: list[tuple[FloatArray, FloatArray]]
) -> tuple[FloatArray, FloatArray]:
    """SSE (n, D) of every shared design for every customer, and their ranks (D,).

    Uses ``SSE = ‖y − c·e‖² − ‖Qᵀ(y − c·e)‖²`` with Q an orthonormal basis of
    each design, so all designs are one matrix product per chunk of
    customers (c = 0 for customers without a known ceiling).
    """
    qs = [_basis(x) for x, _ in designs]
    ranks = np.array([q.shape[1] for q in qs], dtype=np.float64)
    w = np.concatenate([q.T for q in qs], axis=0)  # (P, T)
    qe = np.concatenate([q.T @ e for q, (_, e) in zip(qs, designs, strict=True)])
    es = np.stack([e for _, e in designs])  # (D, T)
    ee = (es * es).sum(axis=1)
    starts = np.concatenate([[0], np.cumsum(ranks[:-1])]).astype(np.int64)
    n = y.shape[0]
    out = np.empty((n, len(designs)))
    yy = (y * y).sum(axis=1)
    for lo in range(0, n, _CHUNK):
        hi = min(lo + _CHUNK, n)
        yc, cc = y[lo:hi], c[lo:hi, None]
        z = yc @ w.T - cc * qe[None, :]
        proj = np.add.reduceat(z * z, starts, axis=1) if len(starts) else 0.0
        out[lo:hi] = yy[lo:hi, None] - 2.0 * cc * (yc @ es.T) + cc**2 * ee[None, :] - proj
    return out, ranks


def _choose(
    y: FloatArray,
    t: FloatArray,
    c: FloatArray,
    known: bool,
    k_given: float,
    pairs: list[tuple[float, float, float]],
    grid: FloatArray,
) -> tuple[IntArray, FloatArray, IntArray]:
    """Pick, per customer, the breakpoint pair and grid k with the smallest BIC.

    ``pairs`` holds (g1, g2, number of searched breakpoints it uses).
    Returns the pair index, k (grid value or the given k) and the grid index
    (-1 when k was not fitted).
    """
    T = len(t)
    designs: list[tuple[FloatArray, FloatArray]] = []
    meta: list[tuple[int, float, int, float]] = []  # pair, k, grid index, extra params
    kn = np.array([known])
    for j, (a, b, free) in enumerate(pairs):
        has2 = a < T and b > a
        ks: list[tuple[float, int]]
        if has2 and math.isnan(k_given):
            ks = [(float(kk), i) for i, kk in enumerate(grid)]
        else:
            ks = [(1.0 if math.isnan(k_given) else k_given, -1)]
        for kk, gi in ks:
            x, e = _design(t, np.array([a]), np.array([b]), kn, np.array([kk]))
            designs.append((x[0], e[0]))
            meta.append((j, kk, gi, free + (1.0 if gi >= 0 else 0.0)))
    sse, ranks = _grid_sse(y, np.where(np.isfinite(c), c, 0.0), designs)
    extra = np.array([m[3] for m in meta])
    yy = (y * y).sum(axis=1)
    floor = 1e-24 * T + 1e-12 * yy
    bic = T * np.log(np.maximum(sse, floor[:, None]) / T) + (ranks + extra)[None, :] * math.log(T)
    best = np.argmin(bic, axis=1)
    pair = np.array([m[0] for m in meta], dtype=np.int64)[best]
    kbest = np.array([m[1] for m in meta])[best]
    gidx = np.array([m[2] for m in meta], dtype=np.int64)[best]
    return pair, kbest, gidx


def _speed_profile(
    y: FloatArray, t: FloatArray, g1: FloatArray, g2: FloatArray, c: FloatArray
) -> Callable[[FloatArray], FloatArray]:
    """The least-squares SSE of each customer as a function of u = log k.

    Only the phase-II progress ``e = 1 − exp(−k·τ)`` depends on k, so the
    normal equations are assembled from five inner products with e plus
    constants computed once: one exponential and five reductions over the
    customers × periods array per evaluation. (Used to locate k; the final
    fit recomputes the residuals directly.)
    """
    tt = t[None, :]
    g1c, g2c = g1[:, None], g2[:, None]
    g1f = np.where(np.isfinite(g1c), g1c, 0.0)
    ph1 = tt <= g1c
    tau = np.where(ph1, 0.0, np.minimum(tt, np.where(np.isfinite(g2c), g2c, np.inf)) - g1f)
    a_col = np.where(ph1, tt**2, g1f**2)
    d_col = np.maximum(tt - np.where(np.isfinite(g2c), g2c, np.inf), 0.0) ** 2
    n, T = y.shape
    known = np.isfinite(c)
    cc = np.where(known, c, 0.0)
    g2_ = g1f[:, 0] ** 2
    g4_ = g2_**2

    def dot(u: FloatArray, w: FloatArray) -> FloatArray:
        out: FloatArray = np.einsum("nt,nt->n", u, w)
        return out

    aa, a1, ad = dot(a_col, a_col), a_col.sum(axis=1), dot(a_col, d_col)
    d1, dd = d_col.sum(axis=1), dot(d_col, d_col)
    ay, y1, dy, yy = dot(a_col, y), y.sum(axis=1), dot(d_col, y), dot(y, y)
    eye = np.eye(4)[None, :, :]

    def sse(u: FloatArray) -> FloatArray:
        e = -np.expm1(-np.exp(u)[:, None] * tau)
        ae, e1, de, ee, ye = dot(a_col, e), e.sum(axis=1), dot(d_col, e), dot(e, e), dot(e, y)
        gram = np.zeros((n, 4, 4))
        rhs = np.zeros((n, 4))
        # unknown ceiling: columns A, 1, e, −D; known: A − g1²e, 1 − e, 0, −D and y − C·e
        kn = known
        gram[:, 0, 0] = np.where(kn, aa - 2 * g2_ * ae + g4_ * ee, aa)
        gram[:, 0, 1] = np.where(kn, a1 - ae - g2_ * e1 + g2_ * ee, a1)
        gram[:, 0, 2] = np.where(kn, 0.0, ae)
        gram[:, 0, 3] = np.where(kn, -(ad - g2_ * de), -ad)
        gram[:, 1, 1] = np.where(kn, T - 2 * e1 + ee, float(T))
        gram[:, 1, 2] = np.where(kn, 0.0, e1)
        gram[:, 1, 3] = np.where(kn, -(d1 - de), -d1)
        gram[:, 2, 2] = np.where(kn, 0.0, ee)
        gram[:, 2, 3] = np.where(kn, 0.0, -de)
        gram[:, 3, 3] = dd
        gram = gram + np.triu(gram, 1).transpose(0, 2, 1)
        rhs[:, 0] = np.where(kn, ay - cc * ae - g2_ * (ye - cc * ee), ay)
        rhs[:, 1] = np.where(kn, y1 - cc * e1 - (ye - cc * ee), y1)
        rhs[:, 2] = np.where(kn, 0.0, ye)
        rhs[:, 3] = np.where(kn, -(dy - cc * de), -dy)
        yty = np.where(kn, yy - 2 * cc * ye + cc**2 * ee, yy)
        diag = np.einsum("nii->ni", gram)
        zero = diag <= 0.0
        sc = np.where(zero, 1.0, 1.0 / np.sqrt(np.where(zero, 1.0, diag)))
        gs = gram * sc[:, :, None] * sc[:, None, :] + zero[:, :, None] * eye
        rs = np.where(zero, 0.0, rhs * sc)
        try:
            bs = np.linalg.solve(gs, rs[:, :, None])[:, :, 0]
        except np.linalg.LinAlgError:
            bs = (np.linalg.pinv(gs) @ rs[:, :, None])[:, :, 0]
        out: FloatArray = yty - np.einsum("ni,ni->n", bs, rs)
        return out

    return sse


def _refine_speed(
    y: FloatArray,
    t: FloatArray,
    g1: FloatArray,
    g2: FloatArray,
    c: FloatArray,
    gidx: IntArray,
    grid: FloatArray,
) -> FloatArray:
    """Golden-section search of log k per customer inside its grid bracket."""
    logs = np.log(grid)
    last = len(grid) - 1
    lo = np.where(gidx > 0, logs[np.maximum(gidx - 1, 0)], _K_LO)
    hi = np.where(gidx < last, logs[np.minimum(gidx + 1, last)], _K_HI)

    f = _speed_profile(y, t, g1, g2, c)
    a = hi - _GOLDEN * (hi - lo)
    b = lo + _GOLDEN * (hi - lo)
    fa, fb = f(a), f(b)
    for _ in range(_GOLDEN_STEPS):
        left = fa < fb  # the minimum lies in [lo, b]
        hi = np.where(left, b, hi)
        lo = np.where(left, lo, a)
        a_new = np.where(left, hi - _GOLDEN * (hi - lo), b)
        b_new = np.where(left, a, lo + _GOLDEN * (hi - lo))
        fnew = f(np.where(left, a_new, b_new))
        fa, fb = np.where(left, fnew, fb), np.where(left, fa, fnew)
        a, b = a_new, b_new
    u0 = (lo + hi) / 2.0

    def exact(u: FloatArray) -> FloatArray:
        return _fit_rows(y, t, g1, g2, c, np.exp(u))[1]

    # polish with the directly computed SSE: one parabola through u0 ± h
    # (the assembled normal equations lose digits on near-perfect fits)
    h = 1e-4
    s_m, s_0, s_p = exact(u0 - h), exact(u0), exact(u0 + h)
    curv = s_m - 2.0 * s_0 + s_p
    with np.errstate(invalid="ignore", divide="ignore"):
        step = np.where(curv > 0, -h * (s_p - s_m) / (2.0 * curv), 0.0)
    u1 = u0 + np.clip(step, -h, h)
    s_1 = exact(u1)
    u_best = np.where(s_1 < s_0, u1, u0)
    s_best = np.minimum(s_1, s_0)
    # never worse than the grid point it started from
    s_grid = exact(logs[gidx])
    out: FloatArray = np.exp(np.where(s_grid < s_best, logs[gidx], u_best))
    return out


def _fit_all(
    y: FloatArray,
    t: FloatArray,
    g1v: FloatArray,
    g2v: FloatArray,
    cvec: FloatArray,
    kvec: FloatArray,
    gidx: IntArray,
    grid: FloatArray,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Refine k where it was fitted on the grid, then solve each customer exactly."""
    need = gidx >= 0
    k = np.where(np.isnan(kvec), 1.0, kvec)
    if need.any():
        k[need] = _refine_speed(y[need], t, g1v[need], g2v[need], cvec[need], gidx[need], grid)
    beta, sse = _fit_rows(y, t, g1v, g2v, cvec, k)
    k_out = np.where(need | ~np.isnan(kvec), k, np.nan)
    return k_out, beta, sse


def _fit_given(
    y: FloatArray, t: FloatArray, g1: FloatArray, g2: FloatArray, c: FloatArray, k: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Fit with per-customer breakpoints: k on the grid then golden section, where unknown."""
    n = y.shape[0]
    known = np.isfinite(c)
    keys = np.column_stack([g1, g2, known, np.where(np.isnan(k), -1.0, k)])
    uniq, inv = np.unique(keys, axis=0, return_inverse=True)
    inv = inv.reshape(-1)
    gidx = np.full(n, -1, dtype=np.int64)
    for j, (a, b, kn, kk) in enumerate(uniq):
        rows = np.flatnonzero(inv == j)
        _, _, gi = _choose(
            y[rows], t, c[rows], bool(kn), math.nan if kk < 0 else float(kk), [(a, b, 0.0)], _K_GRID
        )
        gidx[rows] = gi
    return _fit_all(y, t, g1, g2, c, k, gidx, _K_GRID)


#: Largest profit magnitude fit_profit_curve accepts: its squares (the residual
#: sums) stay inside the float range.
_MAX_FIT_MAGNITUDE = 1e150

#: Most (g1, g2) breakpoint pairs :func:`fit_profit_curve` searches (a few ms each):
#: a history of about 200 periods with neither breakpoint given.
_MAX_BREAKPOINT_PAIRS = 20_000


def _fit_search(
    y: FloatArray,
    t: FloatArray,
    g1: float | None,
    g2: float | None,
    c: FloatArray,
    k: FloatArray,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """Search whole-period breakpoints; keep the smallest BIC per customer."""
    n, T = y.shape
    inf = math.inf
    span = max(T - 4, 0)
    count = span * (span + 1) / 2 if g1 is None and g2 is None else float(span)
    v.check_budget(
        count,
        "the breakpoint search over (g1, g2) pairs",
        budget=_MAX_BREAKPOINT_PAIRS,
        culprit=f"a history of {T:,} periods with neither g1 nor g2 given",
        hint="pass g1= or g2= (the search then runs over one breakpoint), or sum the "
        "history into coarser periods",
    )
    pairs: list[tuple[float, float, float]] = []
    if g1 is None and g2 is None:
        pairs.append((inf, inf, 0.0))
        for ia in range(3, T - 1):
            pairs.append((float(ia), inf, 1.0))
            pairs.extend((float(ia), float(ib), 2.0) for ib in range(ia + 2, T - 1))
    elif g1 is None:
        assert g2 is not None
        pairs.append((inf, inf, 0.0) if math.isinf(g2) else (g2, g2, 0.0))
        top = int(min(g2 - 2, T - 2))
        pairs.extend((float(ia), g2, 1.0) for ia in range(3, top + 1))
    else:
        pairs.append((g1, inf, 0.0))
        if g1 < T:
            pairs.extend((g1, float(ib), 1.0) for ib in range(max(int(g1) + 2, 3), T - 1))
    known = np.isfinite(c)
    keys = np.column_stack([known, np.where(np.isnan(k), -1.0, k)])
    uniq, inv = np.unique(keys, axis=0, return_inverse=True)
    inv = inv.reshape(-1)
    pair = np.zeros(n, dtype=np.int64)
    gidx = np.full(n, -1, dtype=np.int64)
    for j, (kn, kk) in enumerate(uniq):
        rows = np.flatnonzero(inv == j)
        p, _, gi = _choose(
            y[rows], t, c[rows], bool(kn), math.nan if kk < 0 else float(kk), pairs, _K_SEARCH
        )
        pair[rows], gidx[rows] = p, gi
    arr = np.asarray([(a, b) for a, b, _ in pairs])
    g1v, g2v = arr[pair, 0].copy(), arr[pair, 1].copy()
    k_out, beta, sse = _fit_all(y, t, g1v, g2v, c, k, gidx, _K_SEARCH)
    return g1v, g2v, k_out, beta, sse


@attrs.frozen(eq=False)
class CustomCurveFit:
    """Result of :func:`fit_custom_curve`.

    Attributes
    ----------
    func : callable
        The curve ``f(t, *params)``.
    params : numpy.ndarray
        Fitted parameters: (p,) for one customer, (customers, p) for many.
    sse : float or numpy.ndarray
        Residual sum of squares.
    n_periods : int
        Length of the history.
    """

    func: Callable[..., Any]
    params: FloatArray = attrs.field(converter=v.freeze)
    sse: float | FloatArray = attrs.field(converter=_float_or_frozen)
    n_periods: int

    def evaluate(self, t: Any) -> FloatArray:
        """The curve at periods ``t`` (per customer when many were fitted)."""
        tt = np.atleast_1d(v.as_float_array(t, "t", ndim=(0, 1)))
        rows = self.params[None, :] if self.params.ndim == 1 else self.params
        try:
            with np.errstate(all="ignore"):
                out = np.stack([_curve_values(self.func, tt, p) for p in rows])
        except CustrelError:
            raise
        except Exception as exc:
            raise InvalidInputError(f"func failed at t={tt.tolist()!r}: {exc}") from None
        if not np.all(np.isfinite(out)):
            i, j = v.first_bad(~np.isfinite(out))
            raise InvalidInputError(
                f"func gives {float(out[i, j])!r} at t={float(tt[j])!r} (customer row {i}); "
                "the fitted curve is not defined there"
            )
        return out[0] if self.params.ndim == 1 else out

    def present_value(
        self,
        horizon: int,
        *,
        start: int | None = None,
        discount_rate: float = 0.0,
        timing: Timing | None = None,
    ) -> float | FloatArray:
        """Present value of ``horizon`` periods from ``start`` (default: the next one)."""
        s = self.n_periods + 1 if start is None else _horizon(start, "start")
        n = _horizon(horizon)
        d = v.discount_rate(discount_rate)
        tm = _timing(timing, d)
        p = self.evaluate(np.arange(s, s + n, dtype=np.float64))
        pv = p @ _discount_factors(n, d, tm)
        return float(pv) if self.params.ndim == 1 else pv


def fit_custom_curve(
    profit: Any,
    func: Callable[..., Any],
    p0: Sequence[float],
    *,
    bounds: tuple[Any, Any] = (-np.inf, np.inf),
) -> CustomCurveFit:
    """Fit a user-supplied profit curve ``func(t, *params)`` by least squares.

    Parameters
    ----------
    profit : array_like
        P(t), t = 1..T, 1-D or customers × periods.
    func : callable
        ``func(t, *params) -> array`` of the same length as ``t``: your own
        phase function, or a piecewise curve built from
        :func:`phase_growth`, :func:`phase_saturation`, :func:`phase_decline`.
    p0 : sequence of float
        Starting values of the parameters.
    bounds : (lower, upper)
        Bounds as :func:`scipy.optimize.least_squares` takes them.

    Returns
    -------
    CustomCurveFit

    Raises
    ------
    InvalidTypeError
        If ``func`` is not callable.
    ConvergenceError
        If the optimizer fails, with its message and the customer row.

    Notes
    -----
    One :func:`scipy.optimize.least_squares` call (trust-region
    reflective) per customer: use the built-in :func:`fit_profit_curve`
    for large bases.

    Examples
    --------
    >>> from custrel.clv import fit_custom_curve
    >>> t = np.arange(1, 13)
    >>> fit = fit_custom_curve(5 + 2 * np.log(t), lambda t, a, b: a + b * np.log(t), [1.0, 1.0])
    >>> np.round(fit.params, 6).tolist()
    [5.0, 2.0]
    """
    from scipy.optimize import least_squares

    if not callable(func):
        raise InvalidTypeError(f"func must be callable, got {type(func).__name__}")
    y = v.as_float_array(profit, "profit", ndim=(1, 2))
    start = v.as_float_array(p0, "p0", ndim=1)
    lower, upper = _curve_bounds(bounds, start)
    y2 = np.atleast_2d(y)
    T = y2.shape[1]
    t = np.arange(1, T + 1, dtype=np.float64)
    params = np.empty((y2.shape[0], len(start)))
    sse = np.empty(y2.shape[0])
    for i, row in enumerate(y2):

        def resid(p: FloatArray, row: FloatArray = row) -> FloatArray:
            out: FloatArray = _curve_values(func, t, p) - row
            return out

        try:
            with np.errstate(all="ignore"):
                res = least_squares(resid, start, bounds=(lower, upper))
        except CustrelError:
            raise
        except Exception as exc:  # the user's func failed or gave NaN/inf
            raise InvalidInputError(f"func failed while fitting customer row {i}: {exc}") from None
        if not res.success:
            raise ConvergenceError(f"fit of customer row {i} failed: {res.message}")
        params[i] = res.x
        with np.errstate(over="ignore"):
            sse[i] = float(np.sum(res.fun**2))
        if not math.isfinite(sse[i]):
            raise InvalidInputError(
                f"the squared residuals of customer row {i} add up beyond the float range; "
                "rescale profit (e.g. to thousands)"
            )
    if y.ndim == 1:
        return CustomCurveFit(func, params[0], float(sse[0]), T)
    return CustomCurveFit(func, params, sse, T)


def _curve_values(func: Callable[..., Any], t: FloatArray, p: FloatArray) -> FloatArray:
    """``func(t, *p)`` as a float array of ``t``'s shape."""
    out = np.asarray(func(t, *p), dtype=np.float64)
    if out.shape != t.shape:
        out = np.broadcast_to(out, t.shape).astype(np.float64)
    return out


def _curve_bounds(bounds: Any, start: FloatArray) -> tuple[FloatArray, FloatArray]:
    """``bounds`` as (lower, upper) arrays of ``p0``'s length, ``p0`` inside them."""
    if isinstance(bounds, str | bytes) or np.ndim(bounds) == 0 or len(bounds) != 2:
        raise InvalidTypeError(
            f"bounds must be (lower, upper), each a number or one per parameter, got {bounds!r}"
        )
    m = len(start)
    out = []
    for side, value in zip(("lower", "upper"), bounds, strict=True):
        arr = v.as_float_array(value, f"bounds {side}", ndim=(0, 1), finite=False)
        if np.isnan(arr).any():
            raise InvalidInputError(f"bounds {side} must not be NaN; use -inf/inf for no bound")
        if arr.ndim == 1 and len(arr) != m:
            raise InvalidInputError(
                f"bounds {side} has {len(arr)} values but p0 has {m} parameters"
            )
        out.append(np.broadcast_to(arr, (m,)).astype(np.float64))
    lower, upper = out
    bad = ~((lower <= start) & (start <= upper) & (lower < upper))
    if bad.any():
        j = int(np.flatnonzero(bad)[0])
        raise InvalidInputError(
            f"p0[{j}]={float(start[j])!r} must lie within bounds "
            f"[{float(lower[j])!r}, {float(upper[j])!r}] (and lower < upper)"
        )
    return lower, upper


# ---------------------------------------------------------------------------
# 2.6 customer delivered value
# ---------------------------------------------------------------------------


@attrs.frozen(eq=False)
class DeliveredValue:
    """Customer delivered value of offerings (domain notes §2.6).

    Attributes
    ----------
    offerings : numpy.ndarray
        Offering labels (rows).
    total_value : numpy.ndarray
        TCV, the weighted sum of the value components.
    total_cost : numpy.ndarray
        TCC, the weighted sum of the cost components.
    absolute : numpy.ndarray
        TCDV = TCV − TCC.
    relative : numpy.ndarray
        TCV / TCC (``inf`` when TCC = 0 < TCV, ``nan`` when both are 0).
    value_weights, cost_weights : numpy.ndarray
        The component weights used.
    """

    offerings: npt.NDArray[Any] = attrs.field(converter=v.freeze)
    total_value: FloatArray = attrs.field(converter=v.freeze)
    total_cost: FloatArray = attrs.field(converter=v.freeze)
    absolute: FloatArray = attrs.field(converter=v.freeze)
    relative: FloatArray = attrs.field(converter=v.freeze)
    value_weights: FloatArray = attrs.field(converter=v.freeze)
    cost_weights: FloatArray = attrs.field(converter=v.freeze)

    def _scores(self, form: str) -> FloatArray:
        v.choice(form, "form", ("absolute", "relative"))
        out: FloatArray = self.absolute if form == "absolute" else self.relative
        return out

    def best(self, form: Literal["absolute", "relative"] = "absolute") -> Any:
        """The offering the customer is predicted to buy: the largest TCDV.

        Ties go to the first offering in input order; ``nan`` never wins.
        """
        s = self._scores(form)
        if np.isnan(s).all():
            raise InvalidInputError("every offering has an undefined relative value (0/0)")
        return self.offerings[int(np.nanargmax(s))].item()

    def compare(self, a: Any, b: Any, form: Literal["absolute", "relative"] = "absolute") -> Any:
        """Of offerings ``a`` and ``b``, the one with the larger TCDV (``None`` on a tie)."""
        s = self._scores(form)
        a, b = v.one_label(a, "a"), v.one_label(b, "b")
        idx = {x: i for i, x in enumerate(self.offerings.tolist())}
        for name in (a, b):
            if name not in idx:
                raise InvalidInputError(
                    f"offering {name!r} is not one of {self.offerings.tolist()!r}"
                )
        sa, sb = float(s[idx[a]]), float(s[idx[b]])
        if sa == sb:
            return None
        return a if sa > sb else b


def delivered_value(
    value: Any,
    cost: Any,
    *,
    value_weights: Any = None,
    cost_weights: Any = None,
    offerings: Any = None,
) -> DeliveredValue:
    """Customer delivered value, absolute and relative (Kotler; domain notes §2.6).

    Parameters
    ----------
    value : array_like
        Value components (product, service, personnel, image value, or any
        others) >= 0: 1-D for one offering or offerings × components.
    cost : array_like
        Cost components (monetary, time, energy, psychic cost) >= 0, the same
        number of rows.
    value_weights, cost_weights : array_like, optional
        Weights >= 0 of the components; all 1 by default (a plain sum).
    offerings : array_like, optional
        Labels of the offerings; ``0, 1, ...`` by default.

    Returns
    -------
    DeliveredValue

    Raises
    ------
    InvalidInputError
        For negative components or weights, or inconsistent shapes.

    Notes
    -----
    ``TCV = Σ_j w_j·value_j``, ``TCC = Σ_j u_j·cost_j``; ``TCDV = TCV − TCC``
    or ``TCV / TCC``. The customer is predicted to buy the offering with
    the larger TCDV.

    References
    ----------
    Kotler, P. & Keller, K. L. Marketing Management (customer delivered value).

    Examples
    --------
    >>> from custrel.clv import delivered_value
    >>> dv = delivered_value([[60, 20, 10, 10], [50, 30, 10, 5]],
    ...                      [[50, 10, 5, 5], [45, 5, 5, 5]], offerings=["a", "b"])
    >>> dv.absolute.tolist(), dv.best(), dv.compare("a", "b", form="relative")
    ([30.0, 35.0], 'b', 'b')
    """
    val = v.as_float_array(value, "value", ndim=(1, 2))
    cst = v.as_float_array(cost, "cost", ndim=(1, 2))
    if val.ndim != cst.ndim:
        raise InvalidInputError(
            f"value and cost must both be 1-D (one offering) or both 2-D, got shapes "
            f"{val.shape} and {cst.shape}"
        )
    val2, cst2 = np.atleast_2d(val), np.atleast_2d(cst)
    if val2.shape[0] != cst2.shape[0]:
        raise InvalidInputError(
            f"inconsistent lengths: value has {val2.shape[0]} offerings, cost has {cst2.shape[0]}"
        )
    v.check_range(val2, "value", low=0.0)
    v.check_range(cst2, "cost", low=0.0)
    wv = _weights(value_weights, "value_weights", val2.shape[1])
    wc = _weights(cost_weights, "cost_weights", cst2.shape[1])
    with np.errstate(over="ignore", invalid="ignore"):
        tcv = val2 @ wv
        tcc = cst2 @ wc
    v.check_sums_finite(tcv, "the weighted value", label="offering row")
    v.check_sums_finite(tcc, "the weighted cost", label="offering row")
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        rel = tcv / tcc
    over = np.isinf(rel) & (tcc > 0)
    if over.any():
        i = int(np.flatnonzero(over)[0])
        raise InvalidInputError(
            f"the relative value of offering row {i} (total value {float(tcv[i]):g} over total "
            f"cost {float(tcc[i]):g}) is beyond the float range; check the units of cost"
        )
    m = val2.shape[0]
    if offerings is not None and np.shape(offerings) != (m,):
        raise InvalidInputError(
            f"offerings must give one label per offering ({m}), got shape {np.shape(offerings)}"
        )
    labels = np.arange(m) if offerings is None else v.id_array(offerings, "offerings", m)
    return DeliveredValue(labels, tcv, tcc, tcv - tcc, rel, wv, wc)


def _weights(value: Any, name: str, n: int) -> FloatArray:
    if value is None:
        return np.ones(n)
    w = v.as_float_array(value, name, ndim=1)
    if len(w) != n:
        raise InvalidInputError(
            f"inconsistent lengths: {name} has {len(w)} weights for {n} components"
        )
    v.check_range(w, name, low=0.0)
    return w


# ---------------------------------------------------------------------------
# 2.7 acquisition funnel and the value of a retention programme
# ---------------------------------------------------------------------------


@attrs.frozen(eq=False)
class Funnel:
    """An acquisition funnel (domain notes §2.7).

    Attributes
    ----------
    stage_names : tuple of str
        The stages, in order.
    reach : float
        People reached at the top.
    conversion_rate : numpy.ndarray
        Share of the previous stage's people who enter each stage.
    people : numpy.ndarray
        People in each stage (reach × the rates so far).
    cost_per_head : numpy.ndarray
        Cost per person in each stage.
    stage_cost : numpy.ndarray
        people × cost_per_head.
    fixed_cost : float
        The cost of reaching the audience (the advertisement).
    total_cost : float
        fixed_cost + Σ stage_cost.
    customers : float
        People in the last stage.
    cost_per_customer : float
        total_cost / customers: the acquisition cost per customer.
    """

    stage_names: tuple[str, ...]
    reach: float
    conversion_rate: FloatArray = attrs.field(converter=v.freeze)
    people: FloatArray = attrs.field(converter=v.freeze)
    cost_per_head: FloatArray = attrs.field(converter=v.freeze)
    stage_cost: FloatArray = attrs.field(converter=v.freeze)
    fixed_cost: float
    total_cost: float
    customers: float
    cost_per_customer: float


def acquisition_funnel(
    reach: float,
    conversion_rate: Any,
    *,
    cost_per_head: Any = 0.0,
    fixed_cost: float = 0.0,
    stage_names: Sequence[str] | None = None,
) -> Funnel:
    """Acquisition cost per customer from a conversion funnel (domain notes §2.7).

    Parameters
    ----------
    reach : float
        People the campaign reaches (> 0).
    conversion_rate : array_like
        Per stage, the share in (0, 1] of the previous stage's people who
        go on.
    cost_per_head : float or array_like
        Per stage, the cost spent on each person in it (>= 0).
    fixed_cost : float
        The cost of reaching everyone (the advertisement).
    stage_names : sequence of str, optional
        Names of the stages; ``stage 1, stage 2, ...`` by default.

    Returns
    -------
    Funnel

    Raises
    ------
    InvalidInputError
        For rates outside (0, 1], negative costs, inconsistent lengths.

    Examples
    --------
    The textbook exercise (domain notes §2.7):

    >>> from custrel.clv import acquisition_funnel
    >>> f = acquisition_funnel(5_000_000, [1/500, 1/10, 1/20, 1/5],
    ...                        cost_per_head=[0, 0, 3, 0], fixed_cost=100)
    >>> np.round(f.people, 6).tolist(), round(f.total_cost, 6), round(f.cost_per_customer, 6)
    ([10000.0, 1000.0, 50.0, 10.0], 250.0, 25.0)
    """
    r0 = v.scalar(reach, "reach", low=0.0, low_inclusive=False)
    rates = v.as_float_array(conversion_rate, "conversion_rate", ndim=1, label="stage")
    v.check_range(
        rates,
        "conversion_rate",
        low=0.0,
        high=1.0,
        low_inclusive=False,
        label="stage",
        hint="a stage nobody enters ends the funnel",
    )
    s = len(rates)
    cph = v.as_float_array(cost_per_head, "cost_per_head", ndim=(0, 1), label="stage")
    v.check_range(cph, "cost_per_head", low=0.0, label="stage")
    if cph.ndim == 1 and len(cph) != s:
        raise InvalidInputError(
            f"inconsistent lengths: cost_per_head has {len(cph)} stages, conversion_rate has {s}"
        )
    cph = np.broadcast_to(cph, (s,)).astype(np.float64)
    fc = v.scalar(fixed_cost, "fixed_cost", low=0.0)
    if stage_names is None:
        names = tuple(f"stage {i}" for i in range(1, s + 1))
    else:
        if isinstance(stage_names, str) or len(stage_names) != s:
            raise InvalidInputError(f"stage_names must name the {s} stages, got {stage_names!r}")
        names = tuple(str(x) for x in stage_names)
    with np.errstate(under="ignore", over="ignore"):
        people = r0 * np.cumprod(rates)
        cost = people * cph
    total = fc + float(cost.sum())
    cust = float(people[-1])
    if cust == 0.0:
        stage = int(np.flatnonzero(people == 0.0)[0])
        log10 = math.log10(r0) + float(np.sum(np.log10(rates[: stage + 1])))
        raise InvalidInputError(
            f"conversion_rate leaves nobody by stage {stage}: reach {r0:g} x the rates so far "
            f"is about 1e{log10:.0f} people, below the smallest float; no customer is acquired "
            "and the cost per customer is undefined"
        )
    per_customer = total / cust
    if not (math.isfinite(total) and math.isfinite(per_customer)):
        raise InvalidInputError(
            f"the cost per customer is beyond the float range: total cost {total:g} over "
            f"{cust:g} customers; check conversion_rate and cost_per_head"
        )
    return Funnel(names, r0, rates, people, cph, cost, fc, total, cust, per_customer)


@attrs.frozen(eq=False)
class RetentionProgramme:
    """The value of a retention programme: two retention models compared.

    Attributes
    ----------
    baseline, programme : DwyerResult
        The cohort without and with the programme.
    value : float
        programme.total_present_value − baseline.total_present_value.
    value_per_customer : float
        value / n_customers.
    """

    baseline: DwyerResult
    programme: DwyerResult
    value: float
    value_per_customer: float


def retention_programme(
    margin: Any,
    *,
    baseline_retention: Any,
    programme_retention: Any,
    programme_cost: Any,
    n_customers: float = 1.0,
    baseline_cost: Any = 0.0,
    discount_rate: float = 0.0,
    timing: Timing | None = None,
) -> RetentionProgramme:
    """Value of spending on retention, as the difference of two retention models.

    Parameters
    ----------
    margin : float or array_like
        Margin per renewing customer (price − product cost), per period or
        constant.
    baseline_retention, programme_retention : float or array_like
        Renewal rates per period without and with the programme. A scalar
        baseline holds for every period of the programme.
    programme_cost, baseline_cost : float or array_like
        Cost per customer at the start of each period.
    n_customers : float
        Cohort size.
    discount_rate : float
        Per period.
    timing : {"start", "end"}
        Required when ``discount_rate`` is not 0.

    Returns
    -------
    RetentionProgramme

    Raises
    ------
    InvalidInputError
        As :func:`dwyer_retention`.

    Examples
    --------
    The textbook exercise (domain notes §2.7): margin 125 − 30 = 95; the
    programme spends 10 per customer for 50 % renewal, then 5 for 80 %;
    without it 10 % renew each year.

    >>> from custrel.clv import retention_programme
    >>> p = retention_programme(95.0, baseline_retention=0.1, programme_retention=[0.5, 0.8],
    ...                         programme_cost=[10.0, 5.0], n_customers=10,
    ...                         discount_rate=0.1, timing="end")
    >>> round(p.value, 2), round(p.value_per_customer, 2)
    (540.08, 54.01)
    """
    prog_rates = v.as_float_array(programme_retention, "programme_retention", ndim=(0, 1))
    horizon = None if prog_rates.ndim == 1 else 1
    n = len(prog_rates) if prog_rates.ndim == 1 else 1
    prog = _retention(
        prog_rates,
        margin,
        n_customers=n_customers,
        horizon=horizon,
        retention_cost=programme_cost,
        cost_per_buyer=0.0,
        acquisition_cost=0.0,
        discount_rate=discount_rate,
        timing=timing,
        names={
            "retention_rate": "programme_retention",
            "spend": "margin",
            "retention_cost": "programme_cost",
            "horizon": "programme_retention",
        },
    )
    base_rates = v.as_float_array(baseline_retention, "baseline_retention", ndim=(0, 1))
    base = _retention(
        base_rates,
        margin,
        n_customers=n_customers,
        horizon=n,
        retention_cost=baseline_cost,
        cost_per_buyer=0.0,
        acquisition_cost=0.0,
        discount_rate=discount_rate,
        timing=timing,
        names={
            "retention_rate": "baseline_retention",
            "spend": "margin",
            "retention_cost": "baseline_cost",
            "horizon": "programme_retention",
        },
    )
    value = prog.total_present_value - base.total_present_value
    return RetentionProgramme(base, prog, value, value / prog.n_customers)


# ---------------------------------------------------------------------------
# historical value per customer (the report's value column)
# ---------------------------------------------------------------------------


@attrs.frozen(eq=False)
class HistoricalValue(
    Tabular,
    columns=("customer_id", "historical_profit", "active_periods", "mean_period_profit", "clv"),
):
    """Historical profit and a simple CLV per customer.

    Attributes
    ----------
    customer_id : numpy.ndarray
        The customers, as :attr:`TransactionLog.customer_labels`.
    historical_profit : numpy.ndarray
        Σ P of the customer's rows (:meth:`TransactionLog.profit`).
    active_periods : numpy.ndarray of int64
        Periods in which the customer has at least one purchase (a period
        with returns only is not active; the returns still count in
        ``historical_profit``).
    mean_period_profit : numpy.ndarray
        historical_profit / active_periods; 0 for a customer with returns
        only (no active period: it is not expected to buy again).
    clv : numpy.ndarray
        margin × mean_period_profit × r / (1 + d − r).
    retention_rate : float
        r, the observed share of customers active in a period who are
        active again in the next one (pooled over the log).
    discount_rate : float
        d per period.
    margin : float
        The share of the profit counted as margin.
    freq : str or float
        The period.
    n_periods : int
        Periods the log spans.
    """

    customer_id: npt.NDArray[Any] = attrs.field(converter=v.freeze)
    historical_profit: FloatArray = attrs.field(converter=v.freeze)
    active_periods: IntArray = attrs.field(converter=v.freeze)
    mean_period_profit: FloatArray = attrs.field(converter=v.freeze)
    clv: FloatArray = attrs.field(converter=v.freeze)
    retention_rate: float
    discount_rate: float
    margin: float
    freq: str | float
    n_periods: int

    def customer_equity(self) -> float:
        """Σ clv over the customers."""
        return float(self.clv.sum())

    def header(self) -> str:
        """A one-paragraph statement of the model, for a report's header."""
        return (
            f"historical_profit: sum over the customer's transactions of "
            f"TV - (C1+C2+C3+C4) + IB (the amount when the log has no cost columns). "
            f"clv: margin x mean profit per active {self.freq} x r/(1+d-r) "
            f"(Dwyer's constant-retention model, future periods only, profit at period ends), "
            f"with margin={self.margin:g}, d={self.discount_rate:g} per {self.freq} and "
            f"r={self.retention_rate:.4f}, the observed share of customers active in one "
            f"{self.freq} who are active again in the next (pooled over {self.n_periods} periods)."
        )

    def rows(self) -> list[dict[str, Any]]:
        """One dict per customer: customer_id, historical_profit, clv."""
        return [
            {"customer_id": c, "historical_profit": p, "clv": x}
            for c, p, x in zip(
                self.customer_id.tolist(),
                self.historical_profit.tolist(),
                self.clv.tolist(),
                strict=True,
            )
        ]


def historical_value(
    log: TransactionLog,
    *,
    freq: str | float = "year",
    discount_rate: float = 0.1,
    margin: float = 1.0,
) -> HistoricalValue:
    """Historical profit and the CLV under a stated simple model, per customer.

    Parameters
    ----------
    log : TransactionLog
        The transactions; cost columns make the profit net of costs.
    freq : str or float
        The period of the retention rate and of the discount rate.
    discount_rate : float
        d per ``freq`` period (default 10 %).
    margin : float
        Share of the period profit counted as margin (1 when the log's
        costs already make the profit a margin; e.g. 0.3 for a log of
        amounts only with a 30 % margin).

    Returns
    -------
    HistoricalValue

    Raises
    ------
    InvalidInputError
        If the log spans a single period (no retention can be observed), the
        observed retention is 1 with ``discount_rate`` 0 (infinite value), a
        customer's profit adds up beyond the float range, or the customers x
        periods activity table exceeds the budgets (``CUSTREL_MAX_PERIODS``,
        ``CUSTREL_MAX_CELLS``; naming the time that made the span).

    Notes
    -----
    ``r = Σ_t #(active in t and t+1) / Σ_t #(active in t)`` over
    t = 1..n−1; ``CLV_i = margin·m_i·r/(1 + d − r)`` with ``m_i`` the
    customer's mean profit per active period (see :func:`constant_retention`).
    Simple on purpose: the same r for everyone, no trend; use the BTYD
    models for customer-level forecasts.

    Examples
    --------
    >>> from custrel import TransactionLog
    >>> from custrel.clv import historical_value
    >>> log = TransactionLog.from_arrays(
    ...     customer_id=[1, 1, 2, 2, 3], time=[0.0, 1.0, 0.0, 2.0, 1.0],
    ...     amount=[100.0, 120.0, 50.0, 60.0, 80.0])
    >>> h = historical_value(log, freq=1.0)
    >>> h.historical_profit.tolist(), round(h.retention_rate, 4)
    ([220.0, 110.0, 80.0], 0.25)
    >>> np.round(h.clv, 2).tolist()  # r/(1+d-r) = 0.25/0.85
    [32.35, 16.18, 23.53]
    """
    if not isinstance(log, TransactionLog):
        raise InvalidTypeError(f"log must be a TransactionLog, got {type(log).__name__}")
    d = v.discount_rate(discount_rate)
    mg = v.scalar(margin, "margin")
    k = log.n_customers
    n = v.log_periods(log, freq, name="freq", customers=k, what="the customer x period activity")
    idx = log.period_index(freq)
    if n < 2:
        raise InvalidInputError(
            f"the log spans one {freq} period; retention needs at least two (use a shorter freq)"
        )
    codes = log.customer_code
    active = np.zeros((k, n), dtype=bool)
    buys = log.is_purchase  # a period with returns only is no active period
    active[codes[buys], idx[buys]] = True
    stay = (active[:, :-1] & active[:, 1:]).sum()
    base = active[:, :-1].sum()
    r = float(stay / base) if base else 0.0
    profit: FloatArray = np.asarray(
        _numeric.bincount(codes, weights=log.profit(), minlength=k), dtype=np.float64
    )
    what = _tv_name(log) if not log.has_profit_columns else "the profit (TV - costs + IB)"
    v.check_sums_finite(profit, what, labels=log.customer_labels)
    nact = active.sum(axis=1).astype(np.int64)
    mean = np.divide(profit, nact, out=np.zeros(k), where=nact > 0)
    if r >= 1.0 + d:
        raise InvalidInputError(
            f"every customer active in one {freq} was active in the next (r={r:g}), so with "
            f"discount_rate={d:g} the simple model's value is infinite; pass discount_rate > 0"
        )
    cr = constant_retention(1.0, r, discount_rate=d, timing="end")
    with np.errstate(over="ignore", invalid="ignore"):
        clv = mg * mean * cr.clv
    if not np.all(np.isfinite(clv)):
        i = int(np.flatnonzero(~np.isfinite(clv))[0])
        raise InvalidInputError(
            f"margin={mg:g} x the mean period profit {float(mean[i]):g} of customer "
            f"{log.customer_labels[i]!r} x r/(1+d-r) = {cr.clv:g} is beyond the float range"
        )
    return HistoricalValue(log.customer_labels, profit, nact, mean, clv, r, d, mg, freq, n)


# ---------------------------------------------------------------------------
# customer-asset balance sheet between two dates (domain notes §1)
# ---------------------------------------------------------------------------


def balance_sheet_between(
    log: TransactionLog,
    start: Any,
    end: Any,
    *,
    window: str | float = "year",
    thresholds: Sequence[float] | None = None,
    classes: Sequence[str] | None = None,
    classify: Callable[[FloatArray], Any] | None = None,
) -> BalanceSheet:
    """The customer-asset balance sheet of a log between two dates.

    At each date a customer is a customer when it has a purchase in the
    ``window`` ending at that date (returns, negative amounts, are no
    purchases), and its value is its profit (:meth:`TransactionLog.profit`,
    returns included) in that window; its class follows from the value.

    Parameters
    ----------
    log : TransactionLog
        The transactions.
    start, end : date or number
        The opening and the closing date (``start < end``).
    window : str or float
        The look-back window: a unit of :meth:`TransactionLog.unit_length`
        (``"year"``, ``"month"``, ...) or a length.
    thresholds : sequence of float, optional
        Descending value limits of the classes: ``[1000, 100]`` makes three
        classes, value >= 1000, >= 100 and the rest. Required unless
        ``classify`` is given.
    classes : sequence of str, optional
        Class names, best first; by default they describe the thresholds.
    classify : callable, optional
        ``classify(value) -> class index`` (0 = best) for the customers
        present at a date, instead of thresholds; ``classes`` is then
        required.

    Returns
    -------
    BalanceSheet
        From :mod:`custrel._balance`: per class, opening + new + upgraded −
        downgraded − lost = closing, in counts and in value (``value_*``).

    Raises
    ------
    InvalidInputError
        If ``start >= end``, thresholds are not descending, or neither
        thresholds nor classify (with classes) is given.

    Examples
    --------
    >>> from custrel import TransactionLog
    >>> from custrel.clv import balance_sheet_between
    >>> log = TransactionLog.from_arrays(
    ...     customer_id=["a", "b", "a", "c", "b"], time=[1.0, 2.0, 11.0, 12.0, 13.0],
    ...     amount=[500.0, 50.0, 80.0, 700.0, 900.0])
    >>> bs = balance_sheet_between(log, 5.0, 15.0, window=10.0, thresholds=[100.0])
    >>> bs.opening.tolist(), bs.new.tolist(), bs.upgraded_in.tolist(), bs.closing.tolist()
    ([1, 1], [1, 0], [1, 0], [2, 1])
    """
    from custrel._balance import balance_sheet

    if not isinstance(log, TransactionLog):
        raise InvalidTypeError(f"log must be a TransactionLog, got {type(log).__name__}")
    t0 = log.to_time_float(start, "start")
    t1 = log.to_time_float(end, "end")
    if not t0 < t1:
        raise InvalidInputError(f"start must be before end, got start={start!r}, end={end!r}")
    w = log.unit_length(window, "window")
    if classify is None:
        if thresholds is None:
            raise InvalidInputError(
                "give thresholds (descending value limits) or classify with classes"
            )
        th = v.as_float_array(thresholds, "thresholds", ndim=1)
        if len(th) > 1 and not bool(np.all(np.diff(th) < 0)):
            raise InvalidInputError(f"thresholds must be strictly descending, got {th.tolist()!r}")
        names = (
            tuple(classes)
            if classes is not None
            else (*(f"value >= {x:g}" for x in th), f"value < {th[-1]:g}")
        )
        if len(names) != len(th) + 1:
            raise InvalidInputError(
                f"classes must name {len(th) + 1} classes for {len(th)} thresholds, "
                f"got {len(names)}"
            )

        def rule(value: FloatArray) -> IntArray:
            out: IntArray = (value[:, None] < th[None, :]).sum(axis=1).astype(np.int64)
            return out

        classifier: Callable[[FloatArray], Any] = rule
    else:
        if not callable(classify):
            raise InvalidTypeError(f"classify must be callable, got {type(classify).__name__}")
        if classes is None:
            raise InvalidInputError("classify needs classes=... naming the classes, best first")
        names = tuple(classes)
        classifier = classify
    t = log.numeric_time()
    profit = log.profit()
    buys = log.is_purchase
    k = log.n_customers
    codes = log.customer_code

    def at(date: float) -> tuple[IntArray, FloatArray]:
        inside = (t > date - w) & (t <= date)
        present = _numeric.bincount(codes[inside & buys], minlength=k) > 0
        value = np.asarray(
            _numeric.bincount(codes[inside], weights=profit[inside], minlength=k), dtype=np.float64
        )
        cls = np.full(k, -1, dtype=np.int64)
        if present.any():
            got = np.asarray(classifier(value[present]))
            cls[present] = got
        return cls, value

    b, vb = at(t0)
    a, va = at(t1)
    return balance_sheet(b, a, classes=names, value_before=vb, value_after=va)
