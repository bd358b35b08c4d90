"""Dataframe intake, engine-side summaries and scoring through narwhals (the ``frames`` extra).

``pip install 'custrel[frames]'`` (and ``'custrel[spark]'`` for PySpark).
narwhals is imported when a function here is called, never at
``import custrel``.

* :func:`summarize_rfm_from_frame` and :func:`rfm_table_from_frame` compute the
  RFM summary inside the dataframe engine (polars lazy, duckdb, dask, Spark,
  pandas, pyarrow, ...) in one query: the checks (missing and non-finite
  values, rows after the analysis date) are aggregates of the same
  ``group_by`` that computes the summary, so the data is scanned once. Only the
  per-customer result is collected: distinct purchase days are counted in
  the engine too (only ``summarize_rfm_from_frame(..., mergeable=True)``
  collects the distinct customer-days, which a merge of slices needs).
* :func:`rfm_summary_from_frame` computes the BTYD summary of
  :func:`custrel.rfm_summary` (frequency, recency, T, monetary value and the
  holdout part) in the engine, the distinct purchase periods included, and
  collects only the compressed weighted rows (or, on request, one row per
  customer); :func:`rfm_summary_frame` returns the per-customer summary as a
  lazy frame of the engine.
* :func:`score_frame` adds per-customer predictions (expected purchases,
  P(alive), expected spend, CLV) to such a frame, computed batch by batch in
  the engine's own workers (Spark ``mapInArrow``, dask ``map_partitions``,
  polars ``map_batches``, duckdb ``map``), and returns a frame of the engine.
* :func:`to_native` turns a custrel result (anything with ``to_arrays()``)
  into a dataframe of the user's own backend.

To read a whole log into numpy instead, use
:meth:`custrel.TransactionLog.from_frame`.
"""

from __future__ import annotations

import datetime as _dt
import importlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from custrel import _numeric
from custrel import _validate as v
from custrel._ids import _factorize
from custrel.btyd import BTYDSummary, GammaGammaModel, RepeatPurchaseModel
from custrel.errors import (
    EmptyInputError,
    InvalidInputError,
    InvalidTypeError,
    MissingDependencyError,
)
from custrel.models._times import _unit_seconds, time_to_float
from custrel.rfm import (
    _FREQUENCY_BASES,
    FrequencyBasis,
    MonetaryBasis,
    RFMSummary,
    RFMTable,
    TimeKind,
    _time_scalar,
    _unique_pairs,
)

__all__ = [
    "rfm_summary_frame",
    "rfm_summary_from_frame",
    "rfm_table_from_frame",
    "score_frame",
    "summarize_rfm_from_frame",
    "to_native",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

_DAY = 86400
#: The predictions :func:`score_frame` can add, in their column order.
PREDICTIONS = ("expected_purchases", "p_alive", "expected_spend", "clv")
_SPARK = ("pyspark", "pyspark[connect]", "sqlframe")


# ---------------------------------------------------------------------------
# Engine plumbing
# ---------------------------------------------------------------------------


def _narwhals() -> Any:
    try:
        return importlib.import_module("narwhals")
    except ImportError:
        raise MissingDependencyError(
            "dataframe support needs the 'frames' extra; pip install 'custrel[frames]'"
        ) from None


def _lazy(nw: Any, df: Any, name: str = "df") -> Any:
    try:
        frame = nw.from_native(df)
    except TypeError:
        raise InvalidTypeError(
            f"{name} must be a dataframe narwhals supports (pandas, polars, pyarrow, duckdb, "
            f"dask, pyspark, ...), got {type(df).__name__}"
        ) from None
    if isinstance(frame, nw.DataFrame):
        return frame.lazy()
    if isinstance(frame, nw.LazyFrame):
        return frame
    raise InvalidTypeError(f"{name} must be a dataframe, got a series ({type(df).__name__})")


def _impl_name(lf: Any) -> str:
    return str(getattr(lf.implementation, "value", lf.implementation))


def _is_spark(lf: Any) -> bool:
    return _impl_name(lf) in _SPARK


def _check_names(**names: Any) -> None:
    """Column-name arguments must be strings (``amount_col`` may be None)."""
    for arg, value in names.items():
        if value is None and arg == "amount_col":
            continue
        if not isinstance(value, str):
            raise InvalidTypeError(
                f"{arg} must be a column name (a str), got {type(value).__name__} {value!r}"
            )


def _check_unit(value: Any, name: str, *, optional: bool) -> None:
    """A unit or period is a name, a positive number or (where allowed) None."""
    if value is None and optional:
        return
    if isinstance(value, str) or (
        isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)
    ):
        return
    allowed = "a unit name, a number" + (" or None" if optional else "")
    raise InvalidTypeError(f"{name} must be {allowed}, got {type(value).__name__} {value!r}")


def _require_columns(schema: Any, **cols: str | None) -> None:
    present = list(schema.names())
    for field, col in cols.items():
        if col is not None and col not in present:
            raise InvalidInputError(
                f"{field} column {col!r} is not in the frame; its columns are {present!r}"
            )


def _tz_hint(impl: str, col: str) -> str:
    hints = {
        "polars": f"pl.col({col!r}).dt.replace_time_zone(None) keeps the local time",
        "pandas": f"df[{col!r}].dt.tz_localize(None) keeps the local time",
        "pyarrow": "pyarrow.compute.local_timestamp(...) keeps the local time",
        "duckdb": f"select {col}::timestamp keeps the local time",
        "dask": f"ddf[{col!r}].dt.tz_localize(None) keeps the local time",
    }
    return hints.get(impl, "drop the time zone, keeping the local time")


def _time_kind_of(nw: Any, dtype: Any, col: str, impl: str) -> tuple[TimeKind, bool]:
    """The kind of a time column and whether it is a Date (no time of day)."""
    if dtype == nw.Date:
        return "datetime", True
    if isinstance(dtype, nw.Datetime) or dtype == nw.Datetime:
        # A Spark TIMESTAMP has no zone of its own: narwhals reports the session's
        # zone, and Spark reads its date and hour in that zone. So do we.
        if getattr(dtype, "time_zone", None) and impl not in _SPARK:
            raise InvalidInputError(
                f"time column {col!r} is time-zone aware ({dtype.time_zone}); make it naive "
                f"first ({_tz_hint(impl, col)})"
            )
        return "datetime", False
    if dtype.is_numeric():
        return "numeric", False
    raise InvalidInputError(
        f"time column {col!r} must hold dates or numbers, got {dtype}; parse it first "
        "(for example to_datetime)"
    )


def _flag(nw: Any, cond: Any) -> Any:
    """1.0 where ``cond`` holds, else 0.0.

    Spark cannot sum booleans, and duckdb sums integers into 128-bit
    integers; sums of float64 flags are exact below 2**53 rows everywhere.
    """
    return nw.when(cond).then(1.0).otherwise(0.0).cast(nw.Float64)


def _count(nw: Any, cond: Any) -> Any:
    """Number of rows where ``cond`` holds, as an aggregate (float64)."""
    return _flag(nw, cond).sum()


def _fdiv(nw: Any, x: Any, k: int) -> Any:
    """``floor(x / k)`` as Int64, for integers well below 2**53.

    Through a float division and ``floor`` rather than ``//``: narwhals spells
    floor division on SQL engines (duckdb) as nested ``CASE`` expressions whose
    size grows exponentially when nested, which made a query take seconds to
    plan. The float quotient is exact enough: its rounding error is far below
    ``1 / k`` for the magnitudes of calendar arithmetic.
    """
    return (x.cast(nw.Float64) / float(k)).floor().cast(nw.Int64)


def _days_from_civil(nw: Any, t: Any) -> Any:
    """Days since 1970-01-01 of a date or datetime expression, from its calendar fields.

    Portable to every engine (duckdb and Spark have no epoch accessor in
    narwhals); the algorithm of H. Hinnant, "chrono-compatible low-level date
    algorithms", for years 1 to 9999.
    """
    y0 = t.dt.year().cast(nw.Int64)
    m = t.dt.month().cast(nw.Int64)
    d = t.dt.day().cast(nw.Int64)
    early = m <= 2
    y = nw.when(early).then(y0 - 1).otherwise(y0)
    mp = nw.when(early).then(m + 9).otherwise(m - 3)  # March = 0
    era = _fdiv(nw, y, 400)
    yoe = y - era * 400
    doy = _fdiv(nw, 153 * mp + 2, 5) + d - 1
    doe = yoe * 365 + _fdiv(nw, yoe, 4) - _fdiv(nw, yoe, 100) + doy
    return era * 146097 + doe - 719468


def _seconds(nw: Any, col: str, is_date: bool, impl: str) -> Any:
    """Whole seconds since the epoch of a date or naive datetime column (Int64).

    The cheapest spelling each engine has through narwhals: ``dt.timestamp``
    (polars, pandas, pyarrow, dask), the seconds of the difference from the
    epoch (duckdb), the calendar fields (Spark, which has neither).
    """
    t = nw.col(col)
    if impl in _SPARK:
        days = _days_from_civil(nw, t)
        if is_date:
            return days * _DAY
        clock = (
            t.dt.hour().cast(nw.Int64) * 3600
            + t.dt.minute().cast(nw.Int64) * 60
            + t.dt.second().cast(nw.Int64)
        )
        return days * _DAY + clock
    if is_date:
        t = t.cast(nw.Datetime("us"))
    if impl in ("polars", "pandas", "pyarrow", "dask", "modin", "cudf"):
        return t.dt.timestamp("us") // 1_000_000
    epoch = nw.lit(_dt.datetime(1970, 1, 1))
    return (t - epoch).dt.total_seconds().cast(nw.Int64)


def _months(nw: Any, col: str) -> Any:
    t = nw.col(col)
    """Calendar months since 1970-01 (as ``datetime64[M]``)."""
    return (t.dt.year().cast(nw.Int64) - 1970) * 12 + t.dt.month().cast(nw.Int64) - 1


def _literal(nw: Any, value: float, kind: TimeKind) -> Any:
    """A time on the float scale as a literal comparable to the engine's time values."""
    if kind == "datetime" and float(value).is_integer():
        return nw.lit(int(value))
    return nw.lit(float(value))


def _np(frame: Any, name: str, dtype: Any = None) -> npt.NDArray[Any]:
    arr = frame[name].to_numpy()
    if dtype is None:
        return np.asarray(arr)
    try:
        return np.asarray(arr, dtype=dtype)
    except (TypeError, ValueError):  # Decimal sums (duckdb), None or pd.NA for no value
        return np.asarray([_float_or_nan(x) for x in arr.tolist()], dtype=dtype)


def _float_or_nan(x: Any) -> float:
    try:
        return float(x)
    except (TypeError, ValueError):
        return float("nan")


def _ids(arr: npt.NDArray[Any]) -> npt.NDArray[Any]:
    if arr.dtype.kind == "O" and all(isinstance(x, str) for x in arr.tolist()):
        return arr.astype(str)
    return arr


def _null_ids(frame: Any, col: str) -> int:
    return int(frame[col].is_null().sum())


def _times_back(values: FloatArray, kind: TimeKind) -> npt.NDArray[Any]:
    """Float times (nan for none) back to the log's kind: datetime64[s] with NaT, or float."""
    none = ~np.isfinite(values)
    if kind == "numeric":
        return np.where(none, np.nan, values)
    out = np.where(none, 0.0, values).astype(np.int64).astype("datetime64[s]")
    if none.any():
        out[none] = np.datetime64("NaT")
    return out


# ---------------------------------------------------------------------------
# The RFM summary in the engine
# ---------------------------------------------------------------------------


class _Spec:
    """The parsed columns of a transactions frame: what the queries need."""

    def __init__(
        self,
        nw: Any,
        df: Any,
        *,
        customer_col: str,
        time_col: str,
        amount_col: str | None,
    ) -> None:
        _check_names(customer_col=customer_col, time_col=time_col, amount_col=amount_col)
        self.nw = nw
        self.lf = _lazy(nw, df)
        self.eager = isinstance(nw.from_native(df), nw.DataFrame)
        schema = self.lf.collect_schema()
        _require_columns(schema, customer=customer_col, time=time_col, amount=amount_col)
        self.impl = _impl_name(self.lf)
        self.kind, self.is_date = _time_kind_of(nw, schema[time_col], time_col, self.impl)
        self.customer_col, self.time_col, self.amount_col = customer_col, time_col, amount_col
        self.amount_is_float = False
        if amount_col is not None:
            dtype = schema[amount_col]
            if not dtype.is_numeric():
                raise InvalidInputError(
                    f"amount column {amount_col!r} must be numeric, got {dtype}"
                )
            self.amount_is_float = bool(dtype.is_float())
        if self.kind == "datetime":
            self.t = _seconds(nw, time_col, self.is_date, self.impl)
        else:
            self.t = nw.col(time_col).cast(nw.Float64)
        self.amount = None if amount_col is None else nw.col(amount_col).cast(nw.Float64)
        # the returns rule: a negative amount is a return, never a purchase
        self.buy = nw.lit(True) if self.amount is None else self.amount >= 0

    def check_columns(self) -> list[Any]:
        """Row-wise 0/1 columns flagging the values every summary refuses."""
        nw = self.nw
        out = [_flag(nw, nw.col(self.time_col).is_null()).alias("__null_time")]
        if self.amount_col is not None:
            amt = nw.col(self.amount_col)
            out.append(_flag(nw, amt.is_null()).alias("__null_amount"))
            if self.amount_is_float:
                out.append(_flag(nw, ~amt.is_finite()).alias("__bad_amount"))
        return out

    @property
    def check_names(self) -> list[str]:
        names = ["__null_time"]
        if self.amount_col is not None:
            names.append("__null_amount")
            if self.amount_is_float:
                names.append("__bad_amount")
        return names

    def raise_on_checks(self, agg: Any) -> int:
        """Refuse what the check aggregates found; return the number of rows."""
        n_rows = int(_np(agg, "__rows", np.float64).sum())
        if n_rows == 0:
            raise EmptyInputError("the frame has no rows")
        nulls = [(_null_ids(agg, self.customer_col), self.customer_col)]
        nulls.append((int(_np(agg, "__null_time", np.float64).sum()), self.time_col))
        if self.amount_col is not None:
            nulls.append((int(_np(agg, "__null_amount", np.float64).sum()), self.amount_col))
        for count, col in nulls:
            if count:
                raise InvalidInputError(
                    f"column {col!r} is missing {count} values; drop or fill them first"
                )
        if self.amount_is_float:
            bad = int(_np(agg, "__bad_amount", np.float64).sum())
            if bad:
                raise InvalidInputError(
                    f"amount column {self.amount_col!r} must be finite, got {bad} NaN or "
                    "infinite values; drop or fix them first"
                )
        return n_rows

    def day(self) -> Any:
        """The day number of each row, as a float holding an integer (exact below 2**53).

        Not cast to an integer type: pandas and dask cannot cast the NaN of a
        missing time, and the query must reach its own missing-value check.
        """
        if self.kind == "datetime":
            return (self.t.cast(self.nw.Float64) / float(_DAY)).floor()
        return self.t.floor()


def _check_totals(total: FloatArray, labels: npt.NDArray[Any]) -> None:
    bad = ~np.isfinite(total)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InvalidInputError(
            f"the total amount of customer {labels[i]!r} overflows float64 (the sum of its "
            f"amounts gives {float(total[i])!r}); rescale amount (for example to thousands) "
            "before summarising"
        )


def _rfm_query(spec: _Spec, date_f: float, *, days: Literal["none", "pairs", "count"]) -> Any:
    """The one query of the RFM summary: checks and aggregates per customer (or customer-day).

    Row-wise indicator columns first, then only plain sums, minima, maxima and
    (for ``days="count"``) a distinct count per group: every engine (pandas
    and dask included) runs those natively, and the rows are scanned once.

    ``days="count"`` counts each customer's distinct purchase days in the
    engine, in the same ``group_by``: ``n_unique`` of the day of each
    purchase (null on other rows, which narwhals counts as one more value on
    every engine; :func:`_rfm_collect` takes it off). On dask, whose
    narwhals ``n_unique`` adds up the distinct counts of each partition
    (wrong when a customer's rows span partitions), the same ``group_by``
    runs per (customer, day) and a second one per customer counts the
    purchase days. ``days="pairs"`` groups by (customer, day), for the
    mergeable summary's pairs.
    """
    nw = spec.nw
    c = nw.col
    late = spec.t > _literal(nw, date_f, spec.kind)
    bought = ~late & spec.buy
    cust = spec.customer_col
    cols = [
        c(cust),
        *spec.check_columns(),
        _flag(nw, late).alias("__after"),
        _flag(nw, bought).alias("__n"),
        nw.when(bought).then(spec.t).alias("__tb"),
    ]
    if spec.amount is not None:
        cols.append(nw.when(~late).then(spec.amount).otherwise(0.0).alias("__total"))
    keys = [cust]
    two_stage = days == "count" and not _n_unique_days(spec)
    if days == "pairs" or two_stage:
        cols.append(spec.day().alias("__day"))
        keys.append("__day")
    elif days == "count":
        cols.append(nw.when(bought).then(spec.day()).alias("__bday"))
    sums = [*spec.check_names, "__after", "__n"]
    aggs = [
        nw.len().alias("__rows"),
        *(c(name).sum().alias(name) for name in sums),
        c("__tb").min().alias("__first"),
        c("__tb").max().alias("__last"),
    ]
    if spec.amount is not None:
        aggs.append(c("__total").sum().alias("__total"))
    if days == "count" and not two_stage:
        aggs.append(c("__bday").n_unique().alias("__days"))
    grouped = spec.lf.select(*cols).group_by(*keys, drop_null_keys=False).agg(*aggs)
    if not two_stage:
        return grouped
    again = [c(name).sum().alias(name) for name in ["__rows", *sums, "__days"]]
    again += [c("__first").min().alias("__first"), c("__last").max().alias("__last")]
    if spec.amount is not None:
        again.append(c("__total").sum().alias("__total"))
    return (
        grouped.with_columns(_flag(nw, c("__n") > 0).alias("__days"))
        .group_by(cust, drop_null_keys=False)
        .agg(*again)
    )


def _n_unique_days(spec: _Spec) -> bool:
    """Whether the engine counts distinct days with ``n_unique`` (all but dask, see above)."""
    return spec.impl != "dask"


def _rfm_collect(
    df: Any,
    analysis_date: Any,
    *,
    customer_col: str,
    time_col: str,
    amount_col: str | None,
    frequency_basis: FrequencyBasis,
    after: Literal["raise", "exclude"],
    pairs: bool,
) -> RFMSummary:
    nw = _narwhals()
    v.choice(frequency_basis, "frequency_basis", _FREQUENCY_BASES)
    v.choice(after, "after", ("raise", "exclude"))
    spec = _Spec(nw, df, customer_col=customer_col, time_col=time_col, amount_col=amount_col)
    kind = spec.kind
    date_f = time_to_float(analysis_date, kind, "analysis_date")
    days: Literal["none", "pairs", "count"] = (
        "none" if frequency_basis == "transactions" else ("pairs" if pairs else "count")
    )
    agg = _rfm_query(spec, date_f, days=days).collect()
    spec.raise_on_checks(agg)
    n_after = int(_np(agg, "__after", np.float64).sum())
    if n_after and after == "raise":
        raise InvalidInputError(
            f"{n_after} rows are after analysis_date {_time_scalar(date_f, kind)}; "
            "pass after='exclude' to leave them out, or choose a later analysis_date"
        )
    raw_ids = _ids(agg[customer_col].to_numpy())
    n_rows = _np(agg, "__rows", np.float64)
    kept = n_rows - _np(agg, "__after", np.float64)  # exact: counts below 2**53
    n = _np(agg, "__n", np.float64)
    first = _np(agg, "__first", np.float64)
    last = _np(agg, "__last", np.float64)
    total = None if amount_col is None else _np(agg, "__total", np.float64)
    day_customer = day_number = n_days = None
    if days == "pairs":
        # rows are (customer, day) groups: reduce them per customer here
        codes, labels = _factorize(raw_ids, customer_col)
        k = len(labels)
        kept_c = _numeric.bincount(codes, weights=kept, minlength=k)
        n_c = _numeric.bincount(codes, weights=n, minlength=k)
        first_c = np.full(k, np.inf)
        last_c = np.full(k, -np.inf)
        ok = np.isfinite(first)
        np.minimum.at(first_c, codes[ok], first[ok])
        np.maximum.at(last_c, codes[ok], last[ok])
        total_c = None if total is None else _numeric.bincount(codes, weights=total, minlength=k)
        present = kept_c > 0
        remap = np.cumsum(present) - 1
        buy_day = n > 0
        day_codes = remap[codes[buy_day]]
        day_vals = _np(agg, "__day", np.float64)[buy_day].astype(np.int64)
        # the groups are distinct pairs already: one sort of a composite key
        # orders them (np.lexsort took a second for a million pairs)
        day_customer, day_number = _unique_pairs(day_codes, day_vals)
        labels, n_c, first_c, last_c = (
            labels[present],
            n_c[present],
            first_c[present],
            last_c[present],
        )
        total_c = None if total_c is None else total_c[present]
        n_days = _numeric.bincount(day_customer, minlength=len(labels)).astype(np.int64)
        ids, count, first, last, total = labels, n_c, first_c, last_c, total_c
    else:
        present = kept > 0
        codes, ids = _factorize(raw_ids[present], customer_col)
        order = np.empty(len(codes), dtype=np.int64)
        order[codes] = np.arange(len(codes))
        count = n[present][order]
        first, last = first[present][order], last[present][order]
        total = None if total is None else total[present][order]
        if days == "count":
            # n_unique counted the null day of the rows that are no purchase
            # (returns, rows after the date) as one more value: take it off
            distinct = _np(agg, "__days", np.float64)
            if _n_unique_days(spec):
                distinct = distinct - (n_rows > n)
            n_days = distinct[present][order].astype(np.int64)
            # no pairs: the summary says it is not mergeable (RFMSummary.mergeable)
    if total is not None:
        _check_totals(np.asarray(total, dtype=np.float64), ids)
    return RFMSummary(
        customer_id=ids,
        first=_times_back(first, kind),
        last=_times_back(last, kind),
        n_transactions=count.astype(np.int64),
        total_amount=total,
        n_days=n_days,
        day_customer=day_customer,
        day_number=day_number,
        analysis_date=_time_scalar(date_f, kind),
        time_kind=kind,
        frequency_basis=frequency_basis,
        n_rows_after=n_after,
    )


def summarize_rfm_from_frame(
    df: Any,
    analysis_date: Any,
    *,
    customer_col: str = "customer_id",
    time_col: str = "time",
    amount_col: str | None = "amount",
    frequency_basis: FrequencyBasis = "transactions",
    after: Literal["raise", "exclude"] = "raise",
    mergeable: bool = False,
) -> RFMSummary:
    """The RFM summary of a dataframe, computed by the dataframe's own engine.

    Same definitions and result as :func:`custrel.summarize_rfm` on the same
    rows (returns included: a negative amount reduces the total but is not a
    purchase), but the grouping runs in the engine (polars lazy, duckdb, dask,
    Spark, pandas, pyarrow, ...) through narwhals; only per-customer
    aggregates are collected. The frame is only read, never modified.

    Parameters
    ----------
    df : dataframe
        Any eager or lazy frame narwhals supports.
    analysis_date : date or number
        The analysis date (a date for a datetime or date column, a number for
        a numeric one).
    customer_col, time_col : str
        Column names. The time column holds naive datetimes, dates or
        numbers (a Spark ``TIMESTAMP`` is read in the session's time zone,
        as Spark shows it).
    amount_col : str or None
        The amount column (numbers), or None for a log without money (the
        summary then has no ``total_amount``).
    frequency_basis : {"transactions", "days"}
        As in :func:`custrel.summarize_rfm`. With ``"days"`` the engine
        counts each customer's distinct purchase days (see ``mergeable``).
    after : {"raise", "exclude"}
        Refuse (default) or exclude and count rows after ``analysis_date``.
    mergeable : bool, default False
        Only matters with ``frequency_basis="days"`` (a summary of
        transactions is always mergeable). False (default): the engine
        counts the distinct days in the same query as everything else and
        one row per customer comes back; the summary has ``n_days`` but no
        (customer, day) pairs, so :attr:`custrel.RFMSummary.mergeable` is
        False and :meth:`~custrel.RFMSummary.merge` /
        :meth:`~custrel.RFMSummary.combine` refuse it (a day that two
        slices share would count twice). True: the engine returns the
        distinct (customer, day) pairs (about one row per purchase day, on
        large data several times slower) and the summary merges exactly
        with others, e.g. the summaries of partitions or of daily loads.

        Why False by default: the point of an engine is that the data stays
        in it, and summarising everything in one call is the common case;
        an engine that holds the whole log can summarise the union itself.
        Merging is the exception (slices summarised apart, then combined),
        and the refusal says to pass ``mergeable=True``: a wrong count is
        never returned, only a clear error.

    Returns
    -------
    RFMSummary

    Raises
    ------
    MissingDependencyError
        If narwhals is not installed.
    InvalidTypeError
        If ``df`` is not a dataframe, or ``mergeable`` is not a bool.
    InvalidInputError
        If a column is missing or of the wrong type, holds missing or
        non-finite values (lazy engines have no row order, so the message
        gives their number, not a row), or rows are after the analysis date
        with ``after="raise"``.
    EmptyInputError
        If the frame has no rows. (When every row is after the analysis
        date, the summary is empty but counts them, as
        :func:`custrel.summarize_rfm`.)

    Notes
    -----
    One engine query: ``group_by(customer).agg(...)`` whose aggregates are
    both the checks (null, NaN and late-row counts per customer, summed
    afterwards) and the summary (conditional ``min``, ``max``, counts and
    sums), so the rows are scanned once. With ``"days"`` the same
    ``group_by`` counts the distinct purchase days (``n_unique``; on dask,
    whose ``n_unique`` through narwhals adds up the counts of its
    partitions, a second ``group_by`` over the (customer, day) groups of the
    same query). With ``mergeable=True`` the group key is (customer, day)
    instead, and the pairs are put in order by one sort of a composite key,
    as :func:`custrel.summarize_rfm` does. Calendar days are the days of the
    naive datetimes; numeric times use ``floor(time)``.

    Examples
    --------
    >>> import polars as pl
    >>> from custrel.frames import summarize_rfm_from_frame
    >>> lf = pl.LazyFrame({"customer_id": [1, 2, 1], "time": [1.0, 2.0, 7.0], "amount": [5.0, 3.0, 2.0]})
    >>> s = summarize_rfm_from_frame(lf, 10.0)
    >>> s.n_transactions.tolist(), s.total_amount.tolist()
    ([2, 1], [7.0, 3.0])
    >>> s.to_table().recency.tolist()
    [3.0, 8.0]

    Distinct purchase days, counted by the engine; ``mergeable=True`` keeps
    the (customer, day) pairs so that summaries of slices combine:

    >>> lf = pl.LazyFrame({"customer_id": [1, 1, 1], "time": [1.2, 1.7, 3.0], "amount": [5.0, 3.0, 2.0]})
    >>> d = summarize_rfm_from_frame(lf, 10.0, frequency_basis="days")
    >>> d.n_days.tolist(), d.mergeable
    ([2], False)
    >>> m = summarize_rfm_from_frame(lf, 10.0, frequency_basis="days", mergeable=True)
    >>> m.n_days.tolist(), m.mergeable, m.merge(m).n_days.tolist()
    ([2], True, [2])
    """
    if not isinstance(mergeable, bool | np.bool_):
        raise InvalidTypeError(f"mergeable must be True or False, got {mergeable!r}")
    return _rfm_collect(
        df,
        analysis_date,
        customer_col=customer_col,
        time_col=time_col,
        amount_col=amount_col,
        frequency_basis=frequency_basis,
        after=after,
        pairs=bool(mergeable),
    )


def rfm_table_from_frame(
    df: Any,
    analysis_date: Any,
    *,
    customer_col: str = "customer_id",
    time_col: str = "time",
    amount_col: str | None = "amount",
    frequency_basis: FrequencyBasis = "transactions",
    monetary_basis: MonetaryBasis = "sum",
    unit: str | float | None = None,
    after: Literal["raise", "exclude"] = "raise",
) -> RFMTable:
    """Recency, frequency and monetary value of a dataframe, computed by its engine.

    Equal to ``summarize_rfm_from_frame(df, analysis_date, ...).to_table(
    monetary_basis=..., unit=...)``, but with ``frequency_basis="days"`` the
    distinct purchase days are counted in the engine, in the same
    ``group_by`` as the checks and the other aggregates (``n_unique`` of the
    purchase day; on dask, whose ``n_unique`` through narwhals adds up the
    counts of its partitions, a second ``group_by`` over the (customer, day)
    groups of the same query), so the rows are scanned once and only one row
    per customer is collected. See :func:`summarize_rfm_from_frame` for the
    parameters and :func:`custrel.rfm_table` for the definitions.

    Returns
    -------
    RFMTable

    Raises
    ------
    MissingDependencyError, InvalidTypeError, InvalidInputError, EmptyInputError
        As :func:`summarize_rfm_from_frame`.

    Examples
    --------
    >>> import duckdb
    >>> from custrel.frames import rfm_table_from_frame
    >>> rel = duckdb.sql(
    ...     "select * from (values ('a', date '2024-01-01', 10.0), ('a', date '2024-01-20', 5.0),"
    ...     " ('b', date '2024-01-25', 7.5)) t(customer_id, time, amount)"
    ... )
    >>> t = rfm_table_from_frame(rel, "2024-01-31")
    >>> t.customer_id.tolist(), t.recency.tolist(), t.monetary_value.tolist()
    (['a', 'b'], [11.0, 6.0], [15.0, 7.5])
    """
    summary = _rfm_collect(
        df,
        analysis_date,
        customer_col=customer_col,
        time_col=time_col,
        amount_col=amount_col,
        frequency_basis=frequency_basis,
        after=after,
        pairs=False,
    )
    return summary.to_table(monetary_basis=monetary_basis, unit=unit)


# ---------------------------------------------------------------------------
# The BTYD summary in the engine
# ---------------------------------------------------------------------------


class _BTYDPlan:
    """The lazy per-customer BTYD summary and what was learnt on the way."""

    def __init__(self, spec: _Spec, per_customer: Any, meta: dict[str, Any]) -> None:
        self.spec = spec
        self.per_customer = per_customer
        self.meta = meta


def _time_value(value: float, kind: TimeKind) -> Any:
    return np.datetime64(int(value), "s") if kind == "datetime" else value


def _month_of(value: float) -> int:
    return int(np.datetime64(int(value), "s").astype("datetime64[M]").astype(np.int64))


def _btyd_plan(
    frame: Any,
    *,
    customer_col: str,
    time_col: str,
    amount_col: str | None,
    unit: str | float | None,
    period: str | float | None,
    observation_end: Any,
    calibration_end: Any,
    money: bool = True,
) -> _BTYDPlan:
    nw = _narwhals()
    _check_unit(unit, "unit", optional=True)
    _check_unit(period, "period", optional=True)
    spec = _Spec(nw, frame, customer_col=customer_col, time_col=time_col, amount_col=amount_col)
    kind = spec.kind
    numeric = kind == "numeric"
    if unit is None:
        unit = 1.0 if numeric else "week"
    unit_len = _unit_seconds(unit, kind, "unit")
    if numeric and period == "day":
        period = None
    if period is not None:
        period_len = _unit_seconds(period, kind, "period")
    end_given = (
        None if observation_end is None else time_to_float(observation_end, kind, "observation_end")
    )
    cal_given = (
        None if calibration_end is None else time_to_float(calibration_end, kind, "calibration_end")
    )
    # query 1: the checks and the bounds (the origin of week and numeric periods)
    t, buy = spec.t, spec.buy
    bounds = [
        nw.len().cast(nw.Int64).alias("__rows"),
        *(
            col.sum().alias(name)
            for col, name in zip(spec.check_columns(), spec.check_names, strict=True)
        ),
        _count(nw, nw.col(customer_col).is_null()).alias("__null_customer"),
        nw.when(buy).then(t).min().alias("__tmin"),
        t.max().alias("__tmax"),
    ]
    if end_given is not None:
        bounds.append(_count(nw, t > _literal(nw, end_given, kind)).alias("__after"))
    head = spec.lf.select(*bounds).collect()
    info = {name: _np(head, name, np.float64)[0] for name in head.columns}
    if not info["__rows"]:
        raise EmptyInputError("the frame has no rows")
    for key, col in (
        ("__null_customer", customer_col),
        ("__null_time", time_col),
        ("__null_amount", amount_col),
    ):
        if info.get(key):
            raise InvalidInputError(
                f"column {col!r} is missing {int(info[key])} values; drop or fill them first"
            )
    if info.get("__bad_amount"):
        raise InvalidInputError(
            f"amount column {amount_col!r} must be finite, got {int(info['__bad_amount'])} NaN "
            "or infinite values; drop or fix them first"
        )
    if not np.isfinite(info["__tmin"]):
        raise EmptyInputError(
            f"the frame has no purchase: every amount in {amount_col!r} is negative (returns)"
        )
    t_min = float(info["__tmin"])
    end = float(info["__tmax"]) if end_given is None else end_given
    n_after = int(info.get("__after", 0))
    if end < t_min:
        raise InvalidInputError(
            f"observation_end {observation_end!r} is before the first purchase in the frame "
            f"({_time_value(t_min, kind)})"
        )
    if cal_given is None:
        cal = end
    else:
        cal = cal_given
        if cal > end:
            raise InvalidInputError(
                f"calibration_end {calibration_end!r} is after observation_end "
                f"{_time_value(end, kind)}; the holdout window would be empty"
            )
        if cal < t_min:
            raise InvalidInputError(
                f"calibration_end {calibration_end!r} is before the first purchase in the frame "
                f"({_time_value(t_min, kind)}); no customer has a calibration history"
            )
    # period numbers: absolute where the calendar fixes them (only differences
    # matter), else counted from the first purchase as TransactionLog.period_index
    ratio = 0.0
    if period is None:
        p_expr = t
        in_holdout = t > _literal(nw, cal, kind)
        cal_p = end_p = 0
    else:
        ratio = period_len / unit_len
        if kind == "datetime" and period in ("month", "quarter", "year"):
            per = {"month": 1, "quarter": 3, "year": 12}[str(period)]
            p_expr = _fdiv(nw, _months(nw, time_col), per)
            cal_p, end_p = _month_of(cal) // per, _month_of(end) // per
        elif kind == "datetime" and period == "day":
            p_expr = _fdiv(nw, t, _DAY)
            cal_p, end_p = int(np.floor(cal / _DAY)), int(np.floor(end / _DAY))
        else:
            v.check_budget(
                (end - t_min) / period_len,
                "counting periods from the first purchase to observation_end",
                budget=v.max_periods(),
                culprit=f"period={period!r} is too short for the span",
                env="CUSTREL_MAX_PERIODS",
            )
            p_expr = ((t - nw.lit(t_min)) / nw.lit(period_len)).floor().cast(nw.Int64)
            cal_p = int(np.floor((cal - t_min) / period_len))
            end_p = int(np.floor((end - t_min) / period_len))
        in_holdout = p_expr > nw.lit(cal_p)
    rows = spec.lf
    if n_after:
        rows = rows.filter(t <= _literal(nw, end, kind))
    c = nw.col
    cols = [
        c(customer_col),
        p_expr.alias("__p"),
        _flag(nw, in_holdout).alias("__h"),
        _flag(nw, buy).alias("__b"),
        _flag(nw, ~buy).alias("__r"),
    ]
    stage_aggs = [c("__b").sum().alias("__nb"), c("__r").sum().alias("__nr")]
    if spec.amount is not None:
        cols.append(spec.amount.alias("__a"))
        stage_aggs.append(c("__a").sum().alias("__s"))
    # one group per (customer, window, period): the distinct periods, by the engine
    periods = rows.select(*cols).group_by(customer_col, "__h", "__p").agg(*stage_aggs)
    cal_buy = (c("__h") == 0) & (c("__nb") > 0)
    hold_buy = (c("__h") == 1) & (c("__nb") > 0)
    money = money and spec.amount is not None
    if money:
        # the first occasion's spend needs each customer's first period beside every cell
        firsts = periods.filter(cal_buy).group_by(customer_col).agg(c("__p").min().alias("__fp"))
        cells = periods.join(firsts, on=customer_col, how="left")
        first_p = c("__fp")
    else:  # no join: the first period is a plain minimum
        cells, first_p = periods, nw.when(cal_buy).then(c("__p"))
    marks = [
        c(customer_col),
        c("__nb"),
        c("__nr"),
        first_p.alias("__fp"),
        _flag(nw, cal_buy).alias("__ncal"),
        _flag(nw, hold_buy).alias("__nhold"),
        nw.when(cal_buy).then(c("__p")).alias("__lp"),
    ]
    aggs = [
        c("__ncal").sum().alias("__ncal"),
        c("__nhold").sum().alias("__nhold"),
        c("__nb").sum().alias("__nbuy"),
        c("__nr").sum().alias("__nret"),
        c("__fp").min().alias("__fp"),
        c("__lp").max().alias("__lp"),
    ]
    if money:
        marks += [
            nw.when(c("__h") == 0).then(c("__s")).otherwise(0.0).alias("__tcal"),
            nw.when((c("__h") == 0) & (c("__p") == c("__fp")))
            .then(c("__s"))
            .otherwise(0.0)
            .alias("__sfirst"),
            nw.when(c("__h") == 1).then(c("__s")).otherwise(0.0).alias("__shold"),
        ]
        aggs += [c(name).sum().alias(name) for name in ("__tcal", "__sfirst", "__shold")]
    per = cells.select(*marks).group_by(customer_col).agg(*aggs)
    # recency and T before the change of unit: exact integers (or the numeric
    # log's own float differences), so that equal customers group together;
    # the unit is applied in numpy, with rfm_summary's own operations
    span = (c("__lp") - c("__fp")).cast(nw.Float64)
    if period is None:
        age = nw.lit(float(cal)) - c("__fp").cast(nw.Float64)
        scale: tuple[Any, float] = (np.divide, unit_len)
        recency, big_t = span / nw.lit(unit_len), age / nw.lit(unit_len)
    else:
        age = (nw.lit(cal_p) - c("__fp")).cast(nw.Float64)
        scale = (np.multiply, ratio)
        recency, big_t = span * nw.lit(ratio), age * nw.lit(ratio)
    out = [
        nw.col(customer_col),
        nw.when(c("__ncal") > 0)
        .then(0)
        .otherwise(nw.when(c("__nbuy") > 0).then(1).otherwise(2))
        .cast(nw.Int64)
        .alias("__status"),
        (c("__ncal") - 1).cast(nw.Float64).alias("frequency"),
        recency.alias("recency"),
        big_t.alias("T"),
        span.alias("__span"),
        age.alias("__age"),
        c("__nret").alias("__nret"),
    ]
    if money:
        out.append(
            nw.when(c("__ncal") > 1)
            .then((c("__tcal") - c("__sfirst")) / (c("__ncal") - 1).cast(nw.Float64))
            .alias("monetary_value")
        )
    holdout = calibration_end is not None
    if holdout:
        out.append(c("__nhold").cast(nw.Float64).alias("holdout_frequency"))
        if money:
            out.append(
                nw.when(c("__nhold") > 0)
                .then(c("__shold") / c("__nhold").cast(nw.Float64))
                .alias("holdout_monetary_value")
            )
    h_dur = (end - cal) / unit_len if period is None else (end_p - cal_p) * ratio
    meta = {
        "unit": unit,
        "period": period,
        "calibration_end": _time_value(cal, kind),
        "observation_end": _time_value(end, kind),
        "n_rows_after_end": n_after,
        "holdout_duration": h_dur if holdout else None,
        "holdout": holdout,
        "scale": scale,
    }
    return _BTYDPlan(spec, per.select(*out), meta)


def rfm_summary_frame(
    frame: Any,
    *,
    customer_col: str = "customer_id",
    time_col: str = "time",
    amount_col: str | None = "amount",
    unit: str | float | None = None,
    period: str | float | None = "day",
    observation_end: Any = None,
    calibration_end: Any = None,
) -> Any:
    """The per-customer BTYD summary as a lazy frame of the input's engine.

    One row per customer with a purchase in the calibration window:
    ``customer_col``, ``frequency``, ``recency``, ``T`` and (with an amount
    column) ``monetary_value``; with ``calibration_end`` also
    ``holdout_frequency`` and ``holdout_monetary_value``. Definitions of
    :func:`custrel.rfm_summary`. One small query runs at once (the checks
    and the first and last times); the summary itself is a lazy plan that
    runs when the result is collected or written (a polars ``LazyFrame``, a
    duckdb relation, a dask or Spark DataFrame; pandas and pyarrow are eager).
    Feed it to :func:`score_frame`.

    Parameters
    ----------
    frame : dataframe
        Transactions, one row per line, in any eager or lazy frame narwhals
        supports (pandas, polars, pyarrow, duckdb, dask, pyspark, ...).
    customer_col, time_col : str
        Column names. The time column holds naive datetimes, dates or
        numbers (a Spark ``TIMESTAMP`` is read in the session's time zone).
    amount_col : str or None
        The amount column, or None for a frequency-only summary (no monetary
        value). A negative amount is a return: it is netted from the spend
        but is not a purchase occasion.
    unit, period, observation_end, calibration_end
        As in :func:`custrel.rfm_summary`: the same definitions of periods,
        unit, T, monetary value and the holdout window.

    Returns
    -------
    dataframe
        Of the input's backend (lazy where the backend is). Rows are in no
        particular order; a missing monetary value (a customer without
        repeat purchases) is null.

    Raises
    ------
    MissingDependencyError, InvalidTypeError, InvalidInputError, EmptyInputError
        As :func:`rfm_summary_from_frame`.

    Examples
    --------
    >>> import polars as pl
    >>> from custrel.frames import rfm_summary_frame
    >>> lf = pl.LazyFrame({"customer_id": [1, 1, 2], "time": [0.0, 3.0, 1.0], "amount": [5.0, 7.0, 2.0]})
    >>> out = rfm_summary_frame(lf, observation_end=4.0)
    >>> out.sort("customer_id").collect().rows()
    [(1, 1.0, 3.0, 4.0, 7.0), (2, 0.0, 0.0, 3.0, None)]
    """
    plan = _btyd_plan(
        frame,
        customer_col=customer_col,
        time_col=time_col,
        amount_col=amount_col,
        unit=unit,
        period=period,
        observation_end=observation_end,
        calibration_end=calibration_end,
    )
    nw = plan.spec.nw
    keep = plan.per_customer.filter(nw.col("__status") == 0).drop(
        "__status", "__span", "__age", "__nret"
    )
    return keep.to_native() if not plan.spec.eager else keep.collect().to_native()


def rfm_summary_from_frame(
    frame: Any,
    *,
    customer_col: str = "customer_id",
    time_col: str = "time",
    amount_col: str | None = "amount",
    unit: str | float | None = None,
    period: str | float | None = "day",
    observation_end: Any = None,
    calibration_end: Any = None,
    per_customer: bool = False,
) -> BTYDSummary:
    """The BTYD summary of a transactions frame, computed by the frame's own engine.

    Equal to :func:`custrel.rfm_summary` of the same rows read into a
    :class:`~custrel.TransactionLog` (its ``.compressed()`` by default), but
    the merging into periods, the distinct-period counts, frequency, recency,
    T, monetary value and the holdout part are computed inside the engine
    (polars lazy, duckdb, dask, Spark, pandas, ...), and only the result is
    collected: by default the compressed rows, one per distinct
    (frequency, recency, T) with the number of customers as weight — all
    that :func:`custrel.fit_bgnbd` and its kin need, a few thousand rows
    however many customers there are.

    Parameters
    ----------
    frame : dataframe
        Transactions, one row per line, in any eager or lazy frame narwhals
        supports (pandas, polars, pyarrow, duckdb, dask, pyspark, ...).
    customer_col, time_col : str
        Column names. The time column holds naive datetimes, dates or
        numbers (a Spark ``TIMESTAMP`` is read in the session's time zone).
    amount_col : str or None
        The amount column, or None for a frequency-only summary (no monetary
        value). A negative amount is a return: it is netted from the spend
        but is not a purchase occasion.
    unit, period, observation_end, calibration_end
        As in :func:`custrel.rfm_summary`: the same definitions of periods,
        unit, T, monetary value and the holdout window.
    per_customer : bool
        Collect one row per customer (with ``customer_id``, the monetary value
        and the holdout columns) instead of the compressed rows.

    Returns
    -------
    BTYDSummary
        ``rfm_summary(log).compressed()`` or, with ``per_customer=True``,
        ``rfm_summary(log)``. Sums of amounts are added in the engine's
        order, so monetary values may differ from the in-memory summary in
        the last bits.

    Raises
    ------
    MissingDependencyError
        If narwhals is not installed.
    InvalidTypeError
        If ``frame`` is not a dataframe.
    InvalidInputError
        If a column is missing, of the wrong type or holds missing or
        non-finite values; on a bad unit or period; if ``calibration_end`` is
        after ``observation_end`` or before the first purchase.
    EmptyInputError
        If the frame has no rows, or no purchase falls in the calibration
        window.

    Notes
    -----
    Two engine queries: one ``select`` of the checks and of the first and
    last times (the origin of week and numeric periods), then the summary:
    ``group_by(customer, window, period)`` (the distinct purchase periods),
    a join with each customer's first calibration period (for the spend of
    the first purchase, which the monetary value leaves out), a
    ``group_by(customer)``, and for the compressed result a
    ``group_by(frequency, recency, T)`` with the customer counts.

    Examples
    --------
    >>> import polars as pl
    >>> from custrel.frames import rfm_summary_from_frame
    >>> lf = pl.LazyFrame({"customer_id": [1, 1, 2, 3], "time": [0.0, 3.0, 1.0, 1.0],
    ...                    "amount": [5.0, 7.0, 2.0, 4.0]})
    >>> s = rfm_summary_from_frame(lf, observation_end=4.0)
    >>> s.frequency.tolist(), s.recency.tolist(), s.T.tolist(), s.weights.tolist()
    ([0.0, 1.0], [0.0, 3.0], [3.0, 4.0], [2.0, 1.0])
    """
    plan = _btyd_plan(
        frame,
        customer_col=customer_col,
        time_col=time_col,
        amount_col=amount_col,
        unit=unit,
        period=period,
        observation_end=observation_end,
        calibration_end=calibration_end,
        money=per_customer,  # the compressed rows have no monetary column
    )
    nw = plan.spec.nw
    meta = plan.meta
    keys = ["__status", "frequency", "__span", "__age"]
    if per_customer:
        got = plan.per_customer.drop("recency", "T").collect()
    else:
        got = (
            plan.per_customer.group_by(*keys, drop_null_keys=False)
            .agg(nw.len().alias("__w"), nw.col("__nret").sum().alias("__nret"))
            .collect()
        )
    status = _np(got, "__status", np.float64).astype(np.int64)
    weight = np.ones(len(status)) if per_customer else _np(got, "__w", np.float64)
    n_late = int(weight[status == 1].sum())
    n_returns_only = int(weight[status == 2].sum())
    ok = status == 0
    n_returns = int(_np(got, "__nret", np.float64)[ok].sum())
    if not ok.any():
        raise EmptyInputError("no purchase falls in the calibration window")
    f, span, age = (_np(got, k, np.float64)[ok] for k in ("frequency", "__span", "__age"))
    op, factor = meta["scale"]
    r, big_t = op(span, factor), op(age, factor)
    common: dict[str, Any] = {
        "unit": meta["unit"],
        "period": meta["period"],
        "calibration_end": meta["calibration_end"],
        "observation_end": meta["observation_end"],
        "n_rows_after_end": meta["n_rows_after_end"],
        "n_customers_after_calibration": n_late,
        "holdout_duration": meta["holdout_duration"],
    }
    common.update(_present_fields(n_customers_returns_only=n_returns_only, n_returns=n_returns))
    if not per_customer:
        from custrel import _numeric

        (fu, ru, tu), w, _ = _numeric.compress_rows([f, r, big_t], weight[ok])
        return BTYDSummary(
            customer_id=None,
            frequency=fu,
            recency=ru,
            T=tu,
            monetary_value=None,
            weights=w,
            **common,
        )
    codes, labels = _factorize(_ids(got[customer_col].to_numpy())[ok], customer_col)
    order = np.empty(len(codes), dtype=np.int64)
    order[codes] = np.arange(len(codes))

    def col(name: str) -> FloatArray | None:
        if name not in got.columns:
            return None
        values: FloatArray = _np(got, name, np.float64)[ok][order]
        return values

    return BTYDSummary(
        customer_id=labels,
        frequency=f[order],
        recency=r[order],
        T=big_t[order],
        monetary_value=col("monetary_value"),
        weights=np.ones(len(labels)),
        holdout_frequency=col("holdout_frequency"),
        holdout_monetary_value=col("holdout_monetary_value"),
        **common,
    )


def _present_fields(**values: int) -> dict[str, int]:
    """The counts that this version of BTYDSummary has fields for."""
    import attrs

    names = {a.name for a in attrs.fields(BTYDSummary)}
    return {k: val for k, val in values.items() if k in names}


# ---------------------------------------------------------------------------
# Scoring in the engine's workers
# ---------------------------------------------------------------------------


class _Scorer:
    """A picklable function from per-customer columns to prediction columns."""

    def __init__(
        self,
        model: RepeatPurchaseModel,
        spend_model: GammaGammaModel | None,
        predictions: tuple[str, ...],
        cols: tuple[str, str, str, str | None],
        *,
        horizon: int,
        period: float,
        discount_rate: float,
        margin: float,
    ) -> None:
        self.model, self.spend_model, self.predictions = model, spend_model, predictions
        self.cols = cols
        self.horizon, self.period = horizon, period
        self.discount_rate, self.margin = discount_rate, margin

    def __call__(self, get: Callable[[str], Any]) -> dict[str, FloatArray]:
        fcol, rcol, tcol, mcol = self.cols
        x = np.asarray(get(fcol), dtype=np.float64)
        tx = np.asarray(get(rcol), dtype=np.float64)
        big_t = np.asarray(get(tcol), dtype=np.float64)
        out: dict[str, FloatArray] = {}
        m = self.model
        if "expected_purchases" in self.predictions:
            out["expected_purchases"] = m.conditional_expected_purchases(
                self.horizon * self.period, x, tx, big_t
            )
        if "p_alive" in self.predictions:
            out["p_alive"] = m.probability_alive(x, tx, big_t)
        spend = None
        if self.spend_model is not None and mcol is not None:
            money = np.asarray(get(mcol), dtype=np.float64)
            spend = self.spend_model.conditional_expected_spend(x, money)
            if "expected_spend" in self.predictions:
                out["expected_spend"] = spend
        if "clv" in self.predictions:
            out["clv"] = m.customer_lifetime_value(
                x,
                tx,
                big_t,
                spend,
                horizon=self.horizon,
                discount_rate=self.discount_rate,
                margin=self.margin,
                period=self.period,
            )
        return {k: np.asarray(out[k], dtype=np.float64) for k in self.predictions}

    def pandas(self, df: Any) -> Any:
        new = self(lambda name: df[name].to_numpy(dtype=np.float64, na_value=np.nan))
        return df.assign(**new)

    def polars(self, df: Any) -> Any:
        pl = importlib.import_module("polars")
        new = self(lambda name: df.get_column(name).cast(pl.Float64).to_numpy())
        return df.with_columns(*(pl.Series(k, val) for k, val in new.items()))

    def arrow(self, batch: Any) -> Any:
        pa = importlib.import_module("pyarrow")
        names = list(batch.schema.names)

        def get(name: str) -> FloatArray:
            col = batch.column(names.index(name)).cast(pa.float64())
            return np.asarray(col.to_numpy(zero_copy_only=False), dtype=np.float64)

        new = self(get)
        arrays = [*batch.columns, *(pa.array(val) for val in new.values())]
        return type(batch).from_arrays(arrays, names=[*names, *new])

    def arrow_batches(self, batches: Iterator[Any]) -> Iterator[Any]:
        for batch in batches:
            yield self.arrow(batch)


def score_frame(
    model: RepeatPurchaseModel,
    frame: Any,
    *,
    spend_model: GammaGammaModel | None = None,
    predictions: Sequence[str] | None = None,
    horizon: int = 12,
    period: float = 1.0,
    discount_rate: float = 0.0,
    margin: float = 1.0,
    frequency_col: str = "frequency",
    recency_col: str = "recency",
    T_col: str = "T",
    monetary_col: str = "monetary_value",
) -> Any:
    """Per-customer predictions added to a frame, computed in the engine's own workers.

    The frame holds one row per customer with the columns of a BTYD summary
    (for example :func:`rfm_summary_frame`); the result is the same frame
    with one float column per prediction, of the same engine and as lazy as
    the input: Spark ``mapInArrow`` (executors), dask ``map_partitions``,
    polars ``LazyFrame.map_batches``, duckdb ``DuckDBPyRelation.map``; pandas,
    polars and pyarrow data frames are scored at once. Nothing is collected
    to the driver: 100M customers are scored batch by batch where they are.

    Parameters
    ----------
    model : RepeatPurchaseModel
        A fitted repeat-purchase model (:func:`custrel.fit_bgnbd`,
        :func:`custrel.fit_pareto_nbd`, ...).
    frame : dataframe
        pandas, polars (eager or lazy), pyarrow, duckdb, dask or pyspark.
    spend_model : GammaGammaModel, optional
        A fitted Gamma-Gamma model; needed for ``expected_spend`` and ``clv``.
    predictions : sequence of str, optional
        Which columns to add, among ``"expected_purchases"`` (in the next
        ``horizon * period`` time units), ``"p_alive"``, ``"expected_spend"``
        (per future purchase) and ``"clv"`` (discounted value of the next
        ``horizon`` periods, :meth:`RepeatPurchaseModel.customer_lifetime_value`).
        Default: all four with a ``spend_model``, the first two without.
    horizon : int
        Number of future periods (default 12).
    period : float
        Length of one period in the model's time unit (``52 / 12`` for
        months of a weekly model).
    discount_rate : float
        Discount rate per period for the CLV (default 0).
    margin : float
        Share of the spend that is profit, for the CLV (default 1).
    frequency_col, recency_col, T_col, monetary_col : str
        The summary's columns (the monetary column only for spend and CLV).

    Returns
    -------
    dataframe
        The input's columns and the prediction columns (float64).

    Raises
    ------
    MissingDependencyError
        If narwhals is not installed.
    InvalidTypeError
        If ``model`` or ``spend_model`` is not a fitted model of the right
        kind, or ``frame`` is not a supported dataframe.
    InvalidInputError
        On an unknown or repeated prediction, a missing or non-numeric
        column, a prediction that needs ``spend_model`` without one, or a bad
        ``horizon``, ``period``, ``discount_rate`` or ``margin``. Bad values
        in the rows (a negative frequency, ...) raise the model's own error
        inside the engine's workers, with the row counted within its batch.

    Examples
    --------
    >>> import polars as pl
    >>> from custrel import BGNBDModel
    >>> from custrel.frames import score_frame
    >>> m = BGNBDModel.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
    >>> lf = pl.LazyFrame({"customer_id": ["a", "b"], "frequency": [0.0, 2.0],
    ...                    "recency": [0.0, 30.43], "T": [38.86, 38.86]})
    >>> out = score_frame(m, lf, horizon=39)
    >>> out.collect()["expected_purchases"].round(3).to_list()
    [0.195, 1.226]
    """
    nw = _narwhals()
    _check_names(
        frequency_col=frequency_col, recency_col=recency_col, T_col=T_col, monetary_col=monetary_col
    )
    if not isinstance(model, RepeatPurchaseModel):
        raise InvalidTypeError(
            "model must be a fitted repeat-purchase model (fit_bgnbd, fit_pareto_nbd, ...), "
            f"got {type(model).__name__}"
        )
    if spend_model is not None and not isinstance(spend_model, GammaGammaModel):
        raise InvalidTypeError(
            f"spend_model must be a GammaGammaModel (fit_gamma_gamma), got "
            f"{type(spend_model).__name__}"
        )
    chosen: tuple[str, ...]
    if predictions is None:
        chosen = PREDICTIONS if spend_model is not None else PREDICTIONS[:2]
    else:
        if isinstance(predictions, str):
            raise InvalidTypeError(
                f"predictions must be a sequence of names, got the string {predictions!r}; "
                f"write ({predictions!r},)"
            )
        chosen = tuple(predictions)
        for name in chosen:
            v.choice(name, "predictions", PREDICTIONS)
        if len(set(chosen)) != len(chosen):
            raise InvalidInputError(f"predictions must not repeat a name, got {chosen!r}")
        if not chosen:
            raise InvalidInputError("predictions must name at least one prediction")
    needs_spend = [p for p in chosen if p in ("expected_spend", "clv")]
    if needs_spend and spend_model is None:
        raise InvalidInputError(
            f"predictions {needs_spend!r} need a spend model; pass spend_model=fit_gamma_gamma(...) "
            "or leave them out of predictions"
        )
    h = v.positive_int(horizon, "horizon")
    v.check_budget(
        h,
        "the horizon",
        budget=v.max_periods(),
        culprit=f"horizon={h}",
        env="CUSTREL_MAX_PERIODS",
    )
    p = v.scalar(period, "period", low=0.0, low_inclusive=False)
    d = v.discount_rate(discount_rate)
    mg = v.scalar(margin, "margin")
    native = nw.from_native(frame) if _supported(nw, frame) else None
    if native is None:
        raise InvalidTypeError(
            "frame must be a pandas, polars, pyarrow, duckdb, dask or pyspark dataframe, "
            f"got {type(frame).__name__}"
        )
    schema = native.collect_schema()
    need = {"frequency": frequency_col, "recency": recency_col, "T": T_col}
    if needs_spend:
        need["monetary"] = monetary_col
    _require_columns(schema, **need)
    for col in need.values():
        if not schema[col].is_numeric():
            raise InvalidInputError(f"column {col!r} must be numeric, got {schema[col]}")
    clash = [name for name in chosen if name in schema.names()]
    if clash:
        raise InvalidInputError(
            f"the frame already has columns {clash!r}; drop or rename them before scoring"
        )
    scorer = _Scorer(
        model,
        spend_model,
        chosen,
        (frequency_col, recency_col, T_col, monetary_col if needs_spend else None),
        horizon=h,
        period=p,
        discount_rate=d,
        margin=mg,
    )
    impl = _impl_name(native)
    if impl in _SPARK:
        return _score_spark(scorer, frame)
    if impl == "polars":
        pl = importlib.import_module("polars")
        if isinstance(frame, pl.LazyFrame):
            out_schema = dict(frame.collect_schema())
            out_schema.update(dict.fromkeys(chosen, pl.Float64))
            return frame.map_batches(scorer.polars, schema=out_schema, streamable=True)
        return scorer.polars(frame)
    if impl == "pandas":
        return scorer.pandas(frame)
    if impl == "pyarrow":
        return scorer.arrow(frame)
    if impl == "dask":
        meta = frame._meta.assign(**{name: np.float64(0.0) for name in chosen})
        return frame.map_partitions(scorer.pandas, meta=meta)
    if impl == "duckdb":
        duckdb = importlib.import_module("duckdb")
        types = dict(zip(frame.columns, frame.types, strict=True))
        types.update(dict.fromkeys(chosen, duckdb.sqltype("DOUBLE")))
        return frame.map(scorer.pandas, schema=types)
    raise InvalidTypeError(
        f"frame must be a pandas, polars, pyarrow, duckdb, dask or pyspark dataframe, got {impl}"
    )


def _supported(nw: Any, frame: Any) -> bool:
    try:
        nw.from_native(frame)
    except TypeError:
        return False
    return True


def _score_spark(scorer: _Scorer, sdf: Any) -> Any:
    types = importlib.import_module("pyspark.sql.types")
    fields = [*sdf.schema.fields]
    fields += [types.StructField(name, types.DoubleType(), True) for name in scorer.predictions]
    return sdf.mapInArrow(scorer.arrow_batches, types.StructType(fields))


# ---------------------------------------------------------------------------
# Results back to the user's backend
# ---------------------------------------------------------------------------


def to_native(result: Any, like: Any = None, *, backend: str | None = None) -> Any:
    """A custrel result as a dataframe of the user's backend.

    Parameters
    ----------
    result : object with ``to_arrays()``
        :class:`~custrel.RFMTable`, :class:`~custrel.RFMScores`,
        :class:`~custrel.RFMSegments`, :class:`~custrel.CustomerSummary`, ...
    like : dataframe, optional
        A frame whose backend to use: pandas, polars (eager or lazy),
        pyarrow, duckdb, dask or pyspark. A lazy input gives a lazy result
        (for Spark, a DataFrame of ``like``'s session).
    backend : {"pandas", "polars", "pyarrow"}, optional
        The backend when ``like`` is not given (default ``"pandas"``).

    Returns
    -------
    dataframe
        One row per customer, one column per field of ``result.to_arrays()``.

    Raises
    ------
    InvalidTypeError
        If ``result`` has no ``to_arrays`` method.
    InvalidInputError
        If both ``like`` and ``backend`` are given, or the backend is unknown.
    MissingDependencyError
        If narwhals or the backend library is not installed.

    Examples
    --------
    >>> import polars as pl
    >>> from custrel import RFMTable
    >>> from custrel.frames import to_native
    >>> t = RFMTable.from_arrays(customer_id=[1, 2], recency=[3, 4], frequency=[1, 2], monetary_value=[5, 6])
    >>> to_native(t, pl.LazyFrame({"x": [0]})).collect().shape
    (2, 4)
    """
    to_arrays = getattr(result, "to_arrays", None)
    if not callable(to_arrays):
        raise InvalidTypeError(
            f"result must be a custrel result with a to_arrays() method, got {type(result).__name__}"
        )
    if like is not None and backend is not None:
        raise InvalidInputError("give like or backend, not both")
    nw = _narwhals()
    cols: dict[str, Any] = dict(to_arrays())
    if like is None:
        name = "pandas" if backend is None else backend
        v.choice(name, "backend", ("pandas", "polars", "pyarrow"))
        return _eager(nw, cols, name)
    frame = _lazy_or_eager(nw, like)
    impl = frame.implementation
    if isinstance(frame, nw.DataFrame):
        return _eager(nw, cols, impl)
    if impl.is_polars():
        return _eager(nw, cols, "polars").lazy()
    if impl.is_duckdb():
        duckdb = importlib.import_module("duckdb")
        table = _eager(nw, cols, "pyarrow")
        return duckdb.from_arrow(table)
    if impl.is_dask():
        dd = importlib.import_module("dask.dataframe")
        return dd.from_pandas(_eager(nw, cols, "pandas"), npartitions=1)
    if _impl_name(frame) in _SPARK:
        # a Spark frame belongs to a session: build the result in like's session
        return like.sparkSession.createDataFrame(_eager(nw, cols, "pandas"))
    return nw.from_native(_eager(nw, cols, "pyarrow")).lazy(backend=impl).to_native()


def _lazy_or_eager(nw: Any, like: Any) -> Any:
    try:
        return nw.from_native(like)
    except TypeError:
        raise InvalidTypeError(
            f"like must be a dataframe narwhals supports, got {type(like).__name__}"
        ) from None


def _column(arr: npt.NDArray[Any]) -> Any:
    if arr.dtype.kind == "O":
        return arr.tolist()
    if arr.dtype.kind == "M":
        return arr.astype("datetime64[us]")  # polars has no second resolution
    return arr


def _eager(nw: Any, cols: dict[str, Any], backend: Any) -> Any:
    data = {k: _column(np.asarray(x)) for k, x in cols.items()}
    try:
        return nw.from_dict(data, backend=backend).to_native()
    except ImportError:
        raise MissingDependencyError(f"backend {backend!r} is not installed") from None
