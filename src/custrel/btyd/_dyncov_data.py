"""Input of the Pareto/NBD with time-varying covariates: a long table per customer per period.

:func:`dynamic_covariate_data` validates a transaction log and CLVTools'
``data.dyncov`` table (customer id, period start, one column per covariate)
into a :class:`DynamicCovariateData`, from which :mod:`custrel.btyd._dyncov`
builds each customer's covariate walk.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from custrel import _numeric
from custrel import _validate as v
from custrel.errors import InvalidInputError, InvalidTypeError

__all__ = ["DynamicCovariateData", "dynamic_covariate_data"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

_UNITS = {"day": 1.0, "week": 7.0}


# ---------------------------------------------------------------------------
# Input: the long covariate table, validated
# ---------------------------------------------------------------------------


def _as_days(values: Any, name: str) -> IntArray:
    """Calendar dates (ISO text, datetime64, pandas/pyarrow dates) as day numbers."""
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise InvalidInputError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if arr.dtype.kind in "OUS":
        try:
            days = arr.astype("datetime64[D]")
        except (ValueError, TypeError) as exc:
            raise InvalidInputError(f"{name} must be calendar dates: {exc}") from None
    elif arr.dtype.kind == "M":
        days = arr.astype("datetime64[D]")
        if np.any(days.astype(arr.dtype) != arr):
            row = int(np.flatnonzero(days.astype(arr.dtype) != arr)[0])
            raise InvalidInputError(f"{name} must be whole days, got {arr[row]} at row {row}")
    else:
        raise InvalidTypeError(f"{name} must be calendar dates, got dtype {arr.dtype}")
    nat = np.isnat(days)
    if nat.any():
        row = int(np.flatnonzero(nat)[0])
        raise InvalidInputError(f"{name} must not be missing, got {arr[row]!r} at row {row}")
    out: IntArray = days.astype(np.int64)
    return out


def _day_text(day: int | np.integer) -> str:
    return str(np.datetime64(int(day), "D"))


def _columns(table: Any) -> list[str]:
    cols = getattr(table, "columns", None)
    if cols is None and isinstance(table, Mapping):
        cols = list(table.keys())
    if cols is None:
        raise InvalidTypeError(
            "covariates must be a dataframe or a mapping of column name to values, "
            f"got {type(table).__name__}"
        )
    return [str(c) for c in cols]


def _unit_days(unit: Any) -> float:
    if isinstance(unit, str):
        if unit not in _UNITS:
            raise InvalidInputError(f"unit must be one of {sorted(_UNITS)} or days, got {unit!r}")
        return _UNITS[unit]
    return v.scalar(unit, "unit", low=0.0, low_inclusive=False)


@attrs.frozen(eq=False)
class DynamicCovariateData:
    """Transactions and per-period covariates prepared for :func:`fit_pareto_nbd_dyncov`.

    Built by :func:`dynamic_covariate_data`; read-only.

    Attributes
    ----------
    customer_id : numpy.ndarray
        The customers, sorted (the row order of every per-customer result).
    frequency, recency, T : numpy.ndarray
        Repeat purchases (distinct purchase days after the first) up to
        ``calibration_end``, the age at the last of them and the age at
        ``calibration_end``, in ``unit``.
    covariate_names : tuple of str
        The covariate columns of the table, in its order.
    calibration_end : numpy.datetime64
        Last day of the estimation period (its purchases count; T ends at its start).
    unit_days : float
        Days per time unit.
    period_days : int
        Length of a covariate period (the spacing of the table's dates).
    """

    customer_id: npt.NDArray[Any] = attrs.field(converter=v.freeze)
    frequency: FloatArray = attrs.field(converter=v.freeze)
    recency: FloatArray = attrs.field(converter=v.freeze)
    T: FloatArray = attrs.field(converter=v.freeze)
    covariate_names: tuple[str, ...]
    calibration_end: np.datetime64
    unit_days: float
    period_days: int
    _first_day: IntArray = attrs.field(converter=v.freeze, repr=False)
    _grid_start: int = attrs.field(repr=False)
    _cube: FloatArray = attrs.field(converter=v.freeze, repr=False)  # customers x periods x k
    _have: BoolArray = attrs.field(converter=v.freeze, repr=False)  # customers x periods
    _repeat_sums: FloatArray = attrs.field(converter=v.freeze, repr=False)  # customers x k
    _occasions: tuple[IntArray, IntArray] = attrs.field(converter=v.freeze, repr=False)

    @property
    def n_customers(self) -> int:
        """Number of customers."""
        return int(self.customer_id.shape[0])

    def _span(
        self, lo_day: FloatArray, hi_day: FloatArray, purpose: str
    ) -> tuple[IntArray, FloatArray, FloatArray, FloatArray]:
        """The periods overlapping ``[lo, hi)`` (days) per customer, in time order.

        Returns ``(customer, start_day, end_day, X)`` with the period clipped
        to the span; refuses a customer without a row for a period it needs.
        """
        n = self.n_customers
        g0, L = self._grid_start, self.period_days
        widest = float(np.max((hi_day - lo_day) / L, initial=0.0))
        v.check_budget(  # before the periods become integers (1e300 would wrap around)
            widest,
            "the covariate periods of one customer",
            budget=v.max_periods(),
            culprit=f"{purpose}",
            env="CUSTREL_MAX_PERIODS",
        )
        p_lo = np.floor((lo_day - g0) / L).astype(np.int64)
        p_hi = np.ceil((hi_day - g0) / L).astype(np.int64) - 1
        count = np.where(hi_day > lo_day, p_hi - p_lo + 1, 0)
        total = float(np.sum(count))
        v.check_budget(
            total * max(len(self.covariate_names), 1),
            "the covariate walks",
            budget=v.max_cells(),
            culprit=f"{n} customers over up to {int(np.max(count, initial=0))} periods",
            env="CUSTREL_MAX_CELLS",
        )
        cust = np.repeat(np.arange(n), count)
        offs = np.cumsum(count) - count
        p = p_lo[cust] + (np.arange(cust.shape[0]) - offs[cust])
        n_p = self._have.shape[1]
        inside = (p >= 0) & (p < n_p)
        ok = inside.copy()
        ok[inside] = self._have[cust[inside], p[inside]]
        if not ok.all():
            e = int(np.flatnonzero(~ok)[0])
            i = int(cust[e])
            raise InvalidInputError(
                f"covariates have no row for customer {v._fmt(self.customer_id[i])} and the period "
                f"starting {_day_text(g0 + int(p[e]) * L)}, needed for {purpose}; every customer "
                "needs one row per period from the period of its first purchase to the end of "
                "the estimation period (and of any prediction period)"
            )
        start = np.maximum(g0 + p * L, lo_day[cust]).astype(np.float64)
        end = np.minimum(g0 + (p + 1) * L, hi_day[cust]).astype(np.float64)
        return cust, start, end, self._cube[cust, p]


def dynamic_covariate_data(
    customer_id: Any,
    date: Any,
    covariates: Any,
    *,
    calibration_end: Any,
    id_column: str = "customer_id",
    date_column: str = "date",
    unit: str | float = "week",
) -> DynamicCovariateData:
    """Validate a transaction log and a long table of per-period covariates.

    Parameters
    ----------
    customer_id, date : array_like
        The transactions: customer ids and purchase dates (ISO text or
        ``datetime64``). Purchases of one customer on one day count once.
    covariates : dataframe or Mapping[str, array_like]
        One row per customer per covariate period (CLVTools' ``data.dyncov``):
        the customer id, the date the period starts (the dates form a
        regular grid, for example weekly) and one numeric column per
        covariate.
    calibration_end : date
        Last day of the estimation period: purchases up to and including it
        count (as :func:`~custrel.rfm_summary`); ``T`` is measured to its
        start.
    id_column, date_column : str
        Names of the id and period-start columns of ``covariates``.
    unit : {"week", "day"} or float
        Time unit of recency, T and the parameters (or days per unit).

    Returns
    -------
    DynamicCovariateData

    Raises
    ------
    InvalidInputError
        A missing or unknown id, a date that is not a date, a table whose
        dates are not a regular grid, a repeated (customer, period) row, a
        missing or non-finite covariate value, a customer whose first
        purchase is after ``calibration_end`` or who lacks a covariate row
        for a period from the first purchase to ``calibration_end``, or a
        customer in one input but not the other.
    InvalidTypeError
        If ``covariates`` is not a table or a column is not numeric.

    Examples
    --------
    >>> import numpy as np
    >>> cov = {"customer_id": [1, 1, 1, 2, 2, 2],
    ...        "date": ["2020-01-06", "2020-01-13", "2020-01-20"] * 2,
    ...        "season": [0.0, 1.0, 0.0, 0.0, 1.0, 0.0]}
    >>> d = dynamic_covariate_data([1, 1, 2], ["2020-01-06", "2020-01-15", "2020-01-08"], cov,
    ...                            calibration_end="2020-01-27")
    >>> d.frequency.tolist(), d.T.tolist()
    ([1.0, 0.0], [3.0, 2.7142857142857144])
    """
    unit_days = _unit_days(unit)
    days = _as_days(date, "date")
    labels, codes = v.group_codes(customer_id, "customer_id", days.shape[0], what="date")
    if days.shape[0] == 0:
        raise InvalidInputError("customer_id and date must not be empty")
    end_day = int(_as_days(np.asarray([calibration_end]), "calibration_end")[0])
    span_days = float(max(int(days.max()), end_day) - int(days.min()))
    with np.errstate(over="ignore"):
        span = span_days / unit_days
    if not span <= 1e15:  # (recency and T in units would lose all precision, or be inf)
        raise InvalidInputError(
            f"unit={unit!r} is too small for this log: its span of {span_days:g} days would be "
            f"{span:.3g} units, beyond 1e+15; pass a larger unit"
        )
    n = labels.shape[0]
    cols = _columns(covariates)
    for arg, c in (("id_column", id_column), ("date_column", date_column)):
        if not isinstance(c, str):  # (an array would compare elementwise)
            raise InvalidTypeError(f"{arg} must be a column name (str), got {type(c).__name__}")
    for c in (id_column, date_column):
        if c not in cols:
            raise InvalidInputError(f"covariates must have a column {c!r}, got columns {cols!r}")
    names = tuple(c for c in cols if c not in (id_column, date_column))
    if not names:
        raise InvalidInputError("covariates must have at least one covariate column")
    cov_days = _as_days(covariates[date_column], f"covariates[{date_column!r}]")
    m = cov_days.shape[0]
    cov_ids = np.asarray(covariates[id_column])
    if cov_ids.shape != (m,):
        raise InvalidInputError(
            f"covariates[{id_column!r}] must have {m} rows, got {cov_ids.shape}"
        )
    values = np.empty((m, len(names)))
    for j, c in enumerate(names):
        raw = covariates[c]
        arr = np.asarray(raw)
        if arr.dtype.kind not in "biuf":
            raise InvalidTypeError(f"covariates[{c!r}] must be numeric, got dtype {arr.dtype}")
        col = v.as_float_array(arr.astype(np.float64), f"covariates[{c!r}]", ndim=1)
        if col.shape[0] != m:
            raise InvalidInputError(f"covariates[{c!r}] must have {m} rows, got {col.shape[0]}")
        v.check_finite(col, f"covariates[{c!r}]")
        values[:, j] = col
    # the customers of the table, matched to the transactions' customers
    tab_labels, tab_codes = v.group_codes(cov_ids, f"covariates[{id_column!r}]", m, what="rows")
    try:
        pos = np.searchsorted(labels, tab_labels)
    except TypeError:
        raise InvalidInputError(
            f"covariates[{id_column!r}] and customer_id must hold ids of the same type"
        ) from None
    pos_c = np.minimum(pos, n - 1)
    known = labels[pos_c] == tab_labels
    if not np.all(known):
        bad = tab_labels[int(np.flatnonzero(~known)[0])]
        raise InvalidInputError(
            f"covariates[{id_column!r}] has customer {v._fmt(bad)}, who has no transactions"
        )
    if tab_labels.shape[0] < n:
        have_any = np.zeros(n, dtype=bool)
        have_any[pos_c] = True
        bad = labels[int(np.flatnonzero(~have_any)[0])]
        raise InvalidInputError(f"covariates have no rows for customer {v._fmt(bad)}")
    row_cust = pos_c[tab_codes]
    # the grid of period starts
    grid = _numeric.sorted_unique(cov_days)
    if grid.shape[0] < 2:
        raise InvalidInputError(
            f"covariates[{date_column!r}] must hold at least two period starts (a regular grid), "
            f"got {grid.shape[0]}"
        )
    steps = np.diff(grid)
    period = int(steps[0])
    if np.any(steps != period):
        k = int(np.flatnonzero(steps != period)[0])
        raise InvalidInputError(
            f"covariates[{date_column!r}] must be a regular grid of period starts, got a step of "
            f"{int(steps[k])} days after {_day_text(grid[k])} where the first step is {period} days"
        )
    g0 = int(grid[0])
    n_p = grid.shape[0]
    v.check_budget(
        float(n) * n_p * len(names),
        "the customer x period x covariate table",
        budget=v.max_cells(),
        culprit=f"{n} customers x {n_p} periods x {len(names)} covariates",
        env="CUSTREL_MAX_CELLS",
    )
    p = (cov_days - g0) // period
    key = row_cust * n_p + p
    order = np.argsort(key, kind="stable")
    dup = np.flatnonzero(key[order][1:] == key[order][:-1])
    if dup.size:
        r1, r2 = int(order[dup[0]]), int(order[dup[0] + 1])
        raise InvalidInputError(
            f"covariates has two rows for customer {v._fmt(cov_ids[r1])} and the period starting "
            f"{_day_text(cov_days[r1])} (rows {min(r1, r2)} and {max(r1, r2)})"
        )
    cube = np.zeros((n, n_p, len(names)))
    have = np.zeros((n, n_p), dtype=bool)
    cube[row_cust, p] = values
    have[row_cust, p] = True
    # transactions: distinct days, the first purchase, the calibration history
    first = np.full(n, np.iinfo(np.int64).max)
    np.minimum.at(first, codes, days)
    late = first > end_day
    if late.any():
        i = int(np.flatnonzero(late)[0])
        raise InvalidInputError(
            f"customer {v._fmt(labels[i])} makes the first purchase on {_day_text(first[i])}, after "
            f"calibration_end {_day_text(end_day)}; keep only customers acquired in the "
            "estimation period"
        )
    # every purchase occasion (distinct customer-day), the holdout included (tracking)
    every = _numeric.sorted_unique(codes * np.int64(1 << 31) + (days - int(first.min())))
    all_c = every // (1 << 31)
    all_d = every % (1 << 31) + int(first.min())
    cal = days <= end_day
    pair = _numeric.sorted_unique(codes[cal] * np.int64(1 << 31) + (days[cal] - int(first.min())))
    pc = pair // (1 << 31)
    pd = pair % (1 << 31) + int(first.min())
    rep = pd > first[pc]
    freq = _numeric.bincount(pc[rep], minlength=n).astype(np.float64)
    last = first.copy()
    np.maximum.at(last, pc, pd)
    recency = (last - first) / unit_days
    big_t = (end_day - first) / unit_days
    # covariates at each repeat purchase (the product of a(t_j) in the likelihood)
    rp = (pd[rep] - g0) // period
    rc = pc[rep]
    ok = (rp >= 0) & (rp < n_p)
    ok[ok] = have[rc[ok], rp[ok]]
    if not ok.all():
        e = int(np.flatnonzero(~ok)[0])
        raise InvalidInputError(
            f"covariates have no row for customer {v._fmt(labels[int(rc[e])])} and the period of its "
            f"purchase on {_day_text(pd[rep][e])}"
        )
    sums = np.zeros((n, len(names)))
    np.add.at(sums, rc, cube[rc, rp])
    data = DynamicCovariateData(
        customer_id=np.array(labels, copy=True),
        frequency=freq,
        recency=recency,
        T=big_t,
        covariate_names=names,
        calibration_end=np.datetime64(end_day, "D"),
        unit_days=unit_days,
        period_days=period,
        first_day=first,
        grid_start=g0,
        cube=cube,
        have=have,
        repeat_sums=sums,
        occasions=(all_c, all_d),
    )
    # every customer covers its estimation period
    data._span(first.astype(np.float64), np.full(n, float(end_day)), "the estimation period")
    return data
