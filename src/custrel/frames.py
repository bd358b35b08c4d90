"""Dataframe intake and output through narwhals (the ``frames`` extra).

``pip install 'custrel[frames]'``. narwhals is imported when a function here is
called, never at ``import custrel``.

* :func:`summarize_rfm_from_frame` and :func:`rfm_table_from_frame` compute the
  RFM summary inside the dataframe engine (polars lazy, duckdb, dask, pandas,
  pyarrow, ...) with narwhals ``filter`` / ``group_by`` / ``agg``
  expressions. Only the small per-customer result (and, for distinct-day
  frequency, the distinct customer-days) is collected into numpy; the rows
  never are.
* :func:`to_native` turns a custrel result (anything with ``to_arrays()``:
  :class:`~custrel.RFMTable`, :class:`~custrel.RFMScores`,
  :class:`~custrel.RFMSegments`, :class:`~custrel.CustomerSummary`, ...) into a
  dataframe of the user's own backend.

To read a whole log into numpy instead, use
:meth:`custrel.TransactionLog.from_frame`.
"""

from __future__ import annotations

import importlib
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from custrel import _validate as v
from custrel.errors import (
    EmptyInputError,
    InvalidInputError,
    InvalidTypeError,
    MissingDependencyError,
)
from custrel.models import _factorize, time_to_float
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

__all__ = ["rfm_table_from_frame", "summarize_rfm_from_frame", "to_native"]


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
            f"dask, ...), got {type(df).__name__}"
        ) from None
    if isinstance(frame, nw.DataFrame):
        return frame.lazy()
    if isinstance(frame, nw.LazyFrame):
        return frame
    raise InvalidTypeError(f"{name} must be a dataframe, got a series ({type(df).__name__})")


def _time_kind_of(nw: Any, dtype: Any, col: str) -> tuple[TimeKind, bool]:
    """The kind of a time column and whether it is a Date (no time of day)."""
    if dtype == nw.Date:
        return "datetime", True
    if isinstance(dtype, nw.Datetime) or dtype == nw.Datetime:
        if getattr(dtype, "time_zone", None):
            raise InvalidInputError(
                f"time column {col!r} is time-zone aware ({dtype.time_zone}); convert it to "
                "naive UTC first (e.g. .dt.convert_time_zone('UTC').dt.replace_time_zone(None))"
            )
        return "datetime", False
    if dtype.is_numeric():
        return "numeric", False
    raise InvalidInputError(
        f"time column {col!r} must hold dates or numbers, got {dtype}; parse it first "
        "(e.g. .str.to_datetime())"
    )


def _to_datetime_s(arr: npt.NDArray[Any]) -> npt.NDArray[Any]:
    if arr.dtype.kind == "O":
        arr = np.asarray([np.datetime64(x, "s") for x in arr.tolist()], dtype="datetime64[s]")
    return np.asarray(arr).astype("datetime64[s]")


def _ids(arr: npt.NDArray[Any]) -> npt.NDArray[Any]:
    if arr.dtype.kind == "O" and all(isinstance(x, str) for x in arr.tolist()):
        return arr.astype(str)
    return arr


def summarize_rfm_from_frame(
    df: Any,
    analysis_date: Any,
    *,
    customer_col: str = "customer_id",
    time_col: str = "time",
    amount_col: str = "amount",
    frequency_basis: FrequencyBasis = "transactions",
    after: Literal["raise", "exclude"] = "raise",
) -> RFMSummary:
    """The RFM summary of a dataframe, computed by the dataframe's own engine.

    Same definitions and result as :func:`custrel.summarize_rfm` on the same
    rows, but the grouping runs in the engine (polars lazy, duckdb, dask,
    pandas, pyarrow, ...) through narwhals; only per-customer aggregates are
    collected. The frame is only read, never modified.

    Parameters
    ----------
    df : dataframe
        Any eager or lazy frame narwhals supports.
    analysis_date : date or number
        The analysis date (a date for a datetime or date column, a number for
        a numeric one).
    customer_col, time_col, amount_col : str
        Column names. The time column holds naive datetimes, dates or
        numbers; the amount column numbers.
    frequency_basis : {"transactions", "days"}
        As in :func:`custrel.summarize_rfm`. With ``"days"`` the distinct
        (customer, day) pairs are computed by the engine and collected (they
        make the summary mergeable); their number is at most the number of
        rows, usually far fewer.
    after : {"raise", "exclude"}
        Refuse (default) or exclude and count rows after ``analysis_date``.

    Returns
    -------
    RFMSummary

    Raises
    ------
    MissingDependencyError
        If narwhals is not installed.
    InvalidTypeError
        If ``df`` is not a dataframe.
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
    Three engine queries: one ``select`` of checks (null, NaN and
    late-row counts), one ``filter(time <= analysis_date).group_by(customer)
    .agg(min, max, len, sum)``, and with ``"days"`` one ``select(customer,
    day).unique()``. Calendar days are UTC days of naive datetimes; numeric
    times use ``floor(time)``.

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
    """
    nw = _narwhals()
    v.choice(frequency_basis, "frequency_basis", _FREQUENCY_BASES)
    v.choice(after, "after", ("raise", "exclude"))
    lf = _lazy(nw, df)
    schema = lf.collect_schema()
    present = list(schema.names())
    for field, col in (("customer", customer_col), ("time", time_col), ("amount", amount_col)):
        if col not in present:
            raise InvalidInputError(
                f"{field} column {col!r} is not in the frame; its columns are {present!r}"
            )
    kind, is_date = _time_kind_of(nw, schema[time_col], time_col)
    amount_dtype = schema[amount_col]
    if not amount_dtype.is_numeric():
        raise InvalidInputError(f"amount column {amount_col!r} must be numeric, got {amount_dtype}")
    date_f = time_to_float(analysis_date, kind, "analysis_date")
    t = nw.col(time_col)
    if kind == "datetime":
        stamp = np.datetime64(round(date_f), "s").item()
        lit = nw.lit(stamp)
        # a Date column is compared as midnights
        cond_after = t.cast(nw.Datetime("us")) > lit if is_date else t > lit
    else:
        cond_after = t > nw.lit(date_f)
    amt = nw.col(amount_col)
    checks = [
        nw.len().alias("n_rows"),
        nw.col(customer_col).is_null().sum().alias("null_customer"),
        nw.col(time_col).is_null().sum().alias("null_time"),
        amt.is_null().sum().alias("null_amount"),
        cond_after.sum().alias("n_after"),
    ]
    if amount_dtype.is_float():
        checks.append((~amt.is_finite()).sum().alias("bad_amount"))
    head = lf.select(*checks).collect().to_dict(as_series=False)
    info = {k: int(val[0] or 0) for k, val in head.items()}
    if info["n_rows"] == 0:
        raise EmptyInputError("the frame has no rows")
    for key, col in (
        ("null_customer", customer_col),
        ("null_time", time_col),
        ("null_amount", amount_col),
    ):
        if info[key]:
            raise InvalidInputError(
                f"column {col!r} is missing {info[key]} values; drop or fill them first"
            )
    if info.get("bad_amount"):
        raise InvalidInputError(
            f"amount column {amount_col!r} must be finite, got {info['bad_amount']} NaN or "
            "infinite values; drop or fix them first"
        )
    n_after = info["n_after"]
    if n_after and after == "raise":
        raise InvalidInputError(
            f"{n_after} rows are after analysis_date {_time_scalar(date_f, kind)}; "
            "pass after='exclude' to leave them out, or choose a later analysis_date"
        )
    kept = lf.filter(~cond_after) if n_after else lf
    agg = (
        kept.group_by(customer_col)
        .agg(
            t.min().alias("__first"),
            t.max().alias("__last"),
            nw.len().alias("__n"),
            amt.sum().alias("__total"),
        )
        .collect()
    )
    ids = _ids(agg[customer_col].to_numpy())
    codes, labels = _factorize(ids, customer_col)
    order = np.empty(len(codes), dtype=np.int64)
    order[codes] = np.arange(len(codes))

    def column(name: str) -> npt.NDArray[Any]:
        return np.asarray(agg[name].to_numpy())[order]

    if kind == "datetime":
        first: npt.NDArray[Any] = _to_datetime_s(column("__first"))
        last: npt.NDArray[Any] = _to_datetime_s(column("__last"))
    else:
        first = column("__first").astype(np.float64)
        last = column("__last").astype(np.float64)
    day_customer = day_number = n_days = None
    if frequency_basis == "days":
        if is_date:
            day_expr = t
        elif kind == "datetime":
            day_expr = t.dt.truncate("1d")
        else:
            day_expr = t.floor().cast(nw.Int64)
        pairs = kept.select(nw.col(customer_col), day_expr.alias("__day")).unique().collect()
        pair_ids = _ids(pairs[customer_col].to_numpy())
        day_raw = np.asarray(pairs["__day"].to_numpy())
        if kind == "datetime":
            if day_raw.dtype.kind == "O":
                day_raw = np.asarray(
                    [np.datetime64(x, "D") for x in day_raw.tolist()], dtype="datetime64[D]"
                )
            days = day_raw.astype("datetime64[D]").astype(np.int64)
        else:
            days = day_raw.astype(np.int64)
        pair_codes = np.searchsorted(labels, pair_ids).astype(np.int64)
        day_customer, day_number = _unique_pairs(pair_codes, days)
        n_days = np.bincount(day_customer, minlength=len(labels)).astype(np.int64)
    return RFMSummary(
        customer_id=labels,
        first=first,
        last=last,
        n_transactions=column("__n").astype(np.int64),
        total_amount=column("__total").astype(np.float64),
        n_days=n_days,
        day_customer=day_customer,
        day_number=day_number,
        analysis_date=_time_scalar(date_f, kind),
        time_kind=kind,
        frequency_basis=frequency_basis,
        n_rows_after=n_after,
    )


def rfm_table_from_frame(
    df: Any,
    analysis_date: Any,
    *,
    customer_col: str = "customer_id",
    time_col: str = "time",
    amount_col: str = "amount",
    frequency_basis: FrequencyBasis = "transactions",
    monetary_basis: MonetaryBasis = "sum",
    unit: str | float | None = None,
    after: Literal["raise", "exclude"] = "raise",
) -> RFMTable:
    """Recency, frequency and monetary value of a dataframe, computed by its engine.

    ``summarize_rfm_from_frame(df, analysis_date, ...).to_table(monetary_basis=..., unit=...)``:
    see :func:`summarize_rfm_from_frame` for the parameters and
    :func:`custrel.rfm_table` for the definitions.

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
    summary = summarize_rfm_from_frame(
        df,
        analysis_date,
        customer_col=customer_col,
        time_col=time_col,
        amount_col=amount_col,
        frequency_basis=frequency_basis,
        after=after,
    )
    return summary.to_table(monetary_basis=monetary_basis, unit=unit)


def to_native(result: Any, like: Any = None, *, backend: str | None = None) -> Any:
    """A custrel result as a dataframe of the user's backend.

    Parameters
    ----------
    result : object with ``to_arrays()``
        :class:`~custrel.RFMTable`, :class:`~custrel.RFMScores`,
        :class:`~custrel.RFMSegments`, :class:`~custrel.CustomerSummary`, ...
    like : dataframe, optional
        A frame whose backend to use: pandas, polars (eager or lazy),
        pyarrow, duckdb or dask. A lazy input gives a lazy result.
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
        name = backend or "pandas"
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
