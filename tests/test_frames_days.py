"""Distinct purchase days in the engine (issue 12): custrel.frames with ``frequency_basis="days"``.

``rfm_table_from_frame(..., frequency_basis="days")`` counts each customer's
distinct purchase days inside the engine, in the same ``group_by`` as the
checks and the other aggregates (``n_unique`` of the purchase day), so one
row per customer comes back from one scan. ``summarize_rfm_from_frame`` does
the same by default: its summary has the counts but not the (customer, day)
pairs, and ``merge``/``combine`` refuse it (a day two slices share would count
twice). With ``mergeable=True`` it keeps the distinct pairs that make its
summary mergeable, put in order by one sort of a composite key. All must
equal the in-memory path (``summarize_rfm`` on a ``TransactionLog``) on every
engine.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

import attrs
import dask.dataframe as dd
import duckdb
import narwhals as nw
import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from custrel import (
    EmptyInputError,
    InvalidInputError,
    InvalidTypeError,
    RFMSummary,
    RFMTable,
    TransactionLog,
    summarize_rfm,
)
from custrel import frames as fr
from custrel.frames import rfm_table_from_frame, summarize_rfm_from_frame

# narwhals announces that its dask support moves to a separate package
pytestmark = pytest.mark.filterwarnings("ignore:Dask support is moving:FutureWarning")


def _duckdb(df: pd.DataFrame) -> Any:
    con = duckdb.connect()
    con.register("frame", df)
    return con.sql("select * from frame")


BACKENDS: dict[str, Callable[[pd.DataFrame], Any]] = {
    "pandas": lambda df: df.copy(),
    "polars": pl.from_pandas,
    "polars-lazy": lambda df: pl.from_pandas(df).lazy(),
    "pyarrow": lambda df: pa.Table.from_pandas(df, preserve_index=False),
    "duckdb": _duckdb,
    "dask": lambda df: dd.from_pandas(df, npartitions=3),
}


def frame(seed: int, n: int = 400, *, numeric: bool = False, str_ids: bool = False) -> Any:
    """Several rows per customer and day, returns (negative amounts) on some of them."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, 30, n)
    hours = rng.integers(0, 60 * 24, n)  # 60 days: many rows share a day
    time: Any = (
        hours / 24.0 - 10.0  # numeric days, negative ones included (floor, not truncation)
        if numeric
        else pd.Timestamp("2024-01-01") + pd.to_timedelta(hours, unit="h")
    )
    return pd.DataFrame(
        {
            "cust": [f"c{i:02d}" for i in ids] if str_ids else ids,
            "when": time,
            "amount": rng.normal(40, 40, n).round(2),
        }
    )


def reference(df: pd.DataFrame, date: Any, **kw: Any) -> RFMSummary:
    log = TransactionLog.from_frame(df, customer_col="cust", time_col="when")
    return summarize_rfm(log, date, frequency_basis="days", **kw)


def assert_same_summary(got: RFMSummary, ref: RFMSummary) -> None:
    """Equal to the in-memory summary; the pairs too when ``got`` kept them."""
    assert np.array_equal(got.customer_id, ref.customer_id)
    np.testing.assert_array_equal(got.first, ref.first)
    np.testing.assert_array_equal(got.last, ref.last)
    assert np.array_equal(got.n_transactions, ref.n_transactions)
    np.testing.assert_allclose(got.total_amount, ref.total_amount, rtol=1e-12, atol=1e-9)
    assert got.n_rows_after == ref.n_rows_after
    assert got.analysis_date == ref.analysis_date
    names = ("n_days", "day_customer", "day_number") if got.mergeable else ("n_days",)
    for name in names:
        a, b = getattr(got, name), getattr(ref, name)
        assert a.dtype == b.dtype == np.int64, name
        assert np.array_equal(a, b), name
    if not got.mergeable:  # counted in the engine: no pair was collected
        assert got.day_customer is None
        assert got.day_number is None


def assert_same_table(got: RFMTable, ref: RFMTable) -> None:
    assert np.array_equal(got.customer_id, ref.customer_id)
    assert np.array_equal(got.frequency, ref.frequency)
    assert np.array_equal(got.recency, ref.recency)
    np.testing.assert_allclose(got.monetary_value, ref.monetary_value, rtol=1e-12, atol=1e-9)


CASES = [
    pytest.param(False, False, "2024-02-10", id="datetime-int-ids"),
    pytest.param(False, True, "2024-03-15", id="datetime-str-ids-no-late-rows"),
    pytest.param(True, False, 30.0, id="numeric-negative-days"),
]


@pytest.mark.parametrize(("numeric", "str_ids", "date"), CASES)
@pytest.mark.parametrize("backend", list(BACKENDS))
def test_table_days_equal_in_memory(backend: str, numeric: bool, str_ids: bool, date: Any) -> None:
    df = frame(5, numeric=numeric, str_ids=str_ids)
    ref = reference(df, date, after="exclude").to_table()
    got = rfm_table_from_frame(
        BACKENDS[backend](df),
        date,
        customer_col="cust",
        time_col="when",
        frequency_basis="days",
        after="exclude",
    )
    assert_same_table(got, ref)
    assert ref.n_customers > 10  # the frame is not trivial


@pytest.mark.parametrize("mergeable", [False, True], ids=["engine-count", "mergeable"])
@pytest.mark.parametrize(("numeric", "str_ids", "date"), CASES)
@pytest.mark.parametrize("backend", list(BACKENDS))
def test_summary_days_equal_in_memory(
    backend: str, numeric: bool, str_ids: bool, date: Any, mergeable: bool
) -> None:
    df = frame(6, numeric=numeric, str_ids=str_ids)
    ref = reference(df, date, after="exclude")
    got = summarize_rfm_from_frame(
        BACKENDS[backend](df),
        date,
        customer_col="cust",
        time_col="when",
        frequency_basis="days",
        after="exclude",
        mergeable=mergeable,
    )
    assert got.mergeable is mergeable
    assert_same_summary(got, ref)
    # to_table of either form equals the in-memory table, both monetary bases
    for basis in ("sum", "mean"):
        assert_same_table(got.to_table(monetary_basis=basis), ref.to_table(monetary_basis=basis))


@pytest.mark.parametrize("backend", ["pandas", "polars-lazy", "duckdb", "dask"])
def test_known_values(backend: str) -> None:
    # a: 3 rows on 2024-01-02 (one a return), 1 on 01-05 -> 2 purchase days
    # b: a purchase and a return on different days -> 1 purchase day
    # c: only a return -> not in the table; d: only a row after the date -> left out
    df = pd.DataFrame(
        {
            "cust": ["a", "a", "a", "a", "b", "b", "c", "d"],
            "when": pd.to_datetime(
                [
                    "2024-01-02 08:00",
                    "2024-01-02 23:59",
                    "2024-01-02 12:00",
                    "2024-01-05 00:00",
                    "2024-01-03 00:00",
                    "2024-01-04 00:00",
                    "2024-01-04 00:00",
                    "2024-02-01 00:00",
                ]
            ),
            "amount": [10.0, 5.0, -3.0, 8.0, 20.0, -20.0, -7.0, 99.0],
        }
    )
    t = rfm_table_from_frame(
        BACKENDS[backend](df),
        "2024-01-10",
        customer_col="cust",
        time_col="when",
        frequency_basis="days",
        after="exclude",
    )
    assert t.customer_id.tolist() == ["a", "b"]
    assert t.frequency.tolist() == [2, 1]
    kw: dict[str, Any] = {
        "customer_col": "cust",
        "time_col": "when",
        "frequency_basis": "days",
        "after": "exclude",
    }
    e = summarize_rfm_from_frame(BACKENDS[backend](df), "2024-01-10", **kw)
    assert e.customer_id.tolist() == ["a", "b", "c"]  # c: returns only, as in memory
    assert e.n_days.tolist() == [2, 1, 0]
    assert e.n_rows_after == 1
    assert not e.mergeable
    s = summarize_rfm_from_frame(BACKENDS[backend](df), "2024-01-10", mergeable=True, **kw)
    assert s.customer_id.tolist() == ["a", "b", "c"]  # c: returns only, kept to merge
    assert s.n_days.tolist() == [2, 1, 0]
    jan = np.datetime64("2024-01-01").astype(np.int64)
    assert (s.day_number - jan).tolist() == [1, 4, 2]
    assert s.day_customer.tolist() == [0, 0, 1]
    assert s.n_rows_after == 1


@contextmanager
def collected_queries() -> Iterator[list[Any]]:
    """The frames returned by the engine for each RFM query (to see what comes back)."""
    seen: list[Any] = []
    real = fr._rfm_query

    def spy(*args: Any, **kwargs: Any) -> Any:
        query = real(*args, **kwargs)
        seen.append(query)
        return query

    with mock.patch.object(fr, "_rfm_query", spy):
        yield seen


def test_table_counts_days_in_the_engine_one_row_per_customer() -> None:
    df = frame(7, n=2000)
    lf = pl.from_pandas(df).lazy()
    with collected_queries() as queries:
        t = rfm_table_from_frame(
            lf, "2024-12-31", customer_col="cust", time_col="when", frequency_basis="days"
        )
    (query,) = queries
    back = query.collect()
    assert len(back) == df["cust"].nunique() == t.n_customers  # not one row per (customer, day)
    plan = query.to_native().explain(optimized=False)
    assert plan.count("AGGREGATE") == 1  # one group_by: no second pass over (customer, day)


def test_one_scan_one_collect() -> None:
    """The checks and the aggregates come back from one query (one collect of the frame)."""
    df = frame(8)
    calls: list[int] = []
    real = nw.LazyFrame.collect

    def counting(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(self, *args, **kwargs)

    for fn in (rfm_table_from_frame, summarize_rfm_from_frame):
        calls.clear()
        with mock.patch.object(nw.LazyFrame, "collect", counting):
            fn(
                _duckdb(df),
                "2024-12-31",
                customer_col="cust",
                time_col="when",
                frequency_basis="days",
            )
        assert len(calls) == 1, fn.__name__
    calls.clear()
    with mock.patch.object(nw.LazyFrame, "collect", counting):
        summarize_rfm_from_frame(
            _duckdb(df),
            "2024-12-31",
            customer_col="cust",
            time_col="when",
            frequency_basis="days",
            mergeable=True,
        )
    assert len(calls) == 1


def test_pairs_merge_across_partitions() -> None:
    df = frame(9, n=600)
    ddf = dd.from_pandas(df, npartitions=4)
    parts = [
        summarize_rfm_from_frame(
            pl.from_pandas(ddf.get_partition(i).compute()),
            "2024-12-31",
            customer_col="cust",
            time_col="when",
            frequency_basis="days",
            mergeable=True,
        )
        for i in range(ddf.npartitions)
    ]
    assert_same_summary(RFMSummary.combine(parts), reference(df, "2024-12-31"))


@given(
    rows=st.lists(
        st.tuples(st.integers(0, 5), st.integers(0, 24 * 20), st.integers(-3000, 9000)),
        min_size=1,
        max_size=50,
    ),
    cut=st.integers(0, 24 * 22),
    backend=st.sampled_from(["polars-lazy", "duckdb", "pandas", "dask"]),
    mergeable=st.booleans(),
)
def test_any_frame_days_equal_in_memory(rows: Any, cut: int, backend: str, mergeable: bool) -> None:
    ids, hours, cents = (np.asarray(c) for c in zip(*rows, strict=True))
    df = pd.DataFrame(
        {
            "cust": ids,
            "when": pd.Timestamp("2024-01-01") + pd.to_timedelta(hours, unit="h"),
            "amount": cents / 100.0,
        }
    )
    date = np.datetime64("2024-01-01") + np.timedelta64(cut, "h")
    ref = reference(df, date, after="exclude")
    native = BACKENDS[backend](df)
    kw: dict[str, Any] = {
        "customer_col": "cust",
        "time_col": "when",
        "frequency_basis": "days",
        "after": "exclude",
    }
    got = summarize_rfm_from_frame(native, date, mergeable=mergeable, **kw)
    assert_same_summary(got, ref)
    if (ref.n_transactions > 0).any():
        assert_same_table(rfm_table_from_frame(native, date, **kw), ref.to_table())
        assert_same_table(got.to_table(), ref.to_table())


BAD = [
    pytest.param(
        lambda: pd.DataFrame({"cust": [1, None], "when": [1.0, 2.0], "amount": [1.0, 2.0]}),
        InvalidInputError,
        r"column 'cust' is missing 1 values",
        id="null-id",
    ),
    pytest.param(
        lambda: pd.DataFrame({"cust": [1, 2], "when": [1.0, None], "amount": [1.0, 2.0]}),
        InvalidInputError,
        r"column 'when' is missing 1 values",
        id="null-time",
    ),
    pytest.param(
        lambda: pd.DataFrame(
            {"cust": [1, 2], "when": pd.to_datetime(["2024-01-01", None]), "amount": [1.0, 2.0]}
        ),
        InvalidInputError,
        r"column 'when' is missing 1 values",
        id="null-datetime",
    ),
    pytest.param(
        lambda: pd.DataFrame({"cust": [1, 2], "when": [1.0, 2.0], "amount": [np.inf, 2.0]}),
        InvalidInputError,
        r"amount column 'amount' must be finite, got 1 NaN or infinite",
        id="inf-amount",
    ),
    pytest.param(
        lambda: pd.DataFrame({"cust": [1, 2], "when": [1.0, 20.0], "amount": [1.0, 2.0]}),
        InvalidInputError,
        r"1 rows are after analysis_date 10\.0",
        id="late-row-refused",
    ),
    pytest.param(
        lambda: pd.DataFrame({"cust": [], "when": [], "amount": []}).astype(float),
        EmptyInputError,
        "the frame has no rows",
        id="empty",
    ),
]


@pytest.mark.parametrize(("make", "error", "match"), BAD)
@pytest.mark.parametrize(
    "fn", [rfm_table_from_frame, summarize_rfm_from_frame], ids=lambda f: f.__name__
)
def test_bad_frames_refused(fn: Any, make: Any, error: type, match: str) -> None:
    # pandas and dask once failed on the null time with a raw IntCastingNaNError
    date: Any = 10.0 if make()["when"].dtype.kind != "M" else "2024-01-05"
    for backend in ("pandas", "polars-lazy", "duckdb", "dask"):
        with pytest.raises(error, match=match):
            fn(
                BACKENDS[backend](make()),
                date,
                customer_col="cust",
                time_col="when",
                frequency_basis="days",
            )


# ---------------------------------------------------------------------------
# The engine-counted summary is refused by merge; mergeable=True keeps the pairs
# ---------------------------------------------------------------------------

_KW: dict[str, Any] = {"customer_col": "cust", "time_col": "when", "frequency_basis": "days"}
REFUSED = r"counted its distinct purchase days in the engine.*summarise the union.*mergeable=True"


@pytest.mark.parametrize("backend", list(BACKENDS))
def test_engine_counted_summary_refused_by_merge(backend: str) -> None:
    # two halves share customers and days: merging their counts would count shared days twice
    df = frame(10, n=300)
    halves = [df.iloc[:150], df.iloc[150:]]
    counted = [summarize_rfm_from_frame(BACKENDS[backend](h), "2024-12-31", **_KW) for h in halves]
    kept = [
        summarize_rfm_from_frame(BACKENDS[backend](h), "2024-12-31", mergeable=True, **_KW)
        for h in halves
    ]
    assert [s.mergeable for s in counted + kept] == [False, False, True, True]
    assert "mergeable=False" in repr(counted[0])
    with pytest.raises(InvalidInputError, match=r"summary at position 0: it " + REFUSED):
        counted[0].merge(counted[1])
    with pytest.raises(InvalidInputError, match=r"summary at position 1: it " + REFUSED):
        kept[0].merge(counted[1])
    with pytest.raises(InvalidInputError, match=r"summary at position 2: it " + REFUSED):
        RFMSummary.combine([kept[0], kept[1], counted[0]])
    assert RFMSummary.combine([counted[0]]) is counted[0]  # one summary: nothing merged
    whole = reference(df, "2024-12-31")
    assert_same_summary(kept[0].merge(kept[1]), whole)
    # the sum of the halves' counts is not the whole's count: the refusal is needed
    shared = np.union1d(counted[0].customer_id, counted[1].customer_id)
    assert len(shared) < len(counted[0]) + len(counted[1])
    summed = np.zeros(len(whole), np.int64)
    for s in counted:
        summed[np.searchsorted(whole.customer_id, s.customer_id)] += s.n_days
    assert (summed > whole.n_days).any()


def test_table_path_summary_is_never_merged_silently() -> None:
    # rfm_table_from_frame's own summary once carried empty pairs: merged, it gave 0 days
    df = frame(11, n=200)
    inner = fr._rfm_collect(
        _duckdb(df),
        "2024-12-31",
        amount_col="amount",
        after="raise",
        pairs=False,
        **_KW,
    )
    assert inner.day_customer is None
    assert inner.day_number is None
    assert not inner.mergeable
    with pytest.raises(InvalidInputError, match=REFUSED):
        inner.merge(inner)


@pytest.mark.parametrize("backend", ["polars-lazy", "duckdb", "dask"])
def test_engine_summary_collects_one_row_per_customer(backend: str) -> None:
    df = frame(12, n=3000)
    n_customers = df["cust"].nunique()
    n_pairs = len(df.assign(day=df["when"].dt.floor("D"))[["cust", "day"]].drop_duplicates())
    assert n_pairs > 10 * n_customers  # the pairs would be many more rows
    for mergeable, rows in ((False, n_customers), (True, n_pairs)):
        with collected_queries() as queries:
            s = summarize_rfm_from_frame(
                BACKENDS[backend](df), "2024-12-31", mergeable=mergeable, **_KW
            )
        (query,) = queries
        assert len(query.collect()) == rows, mergeable
        assert s.n_customers == n_customers
    if backend == "polars-lazy":
        with collected_queries() as queries:
            summarize_rfm_from_frame(pl.from_pandas(df).lazy(), "2024-12-31", **_KW)
        plan = queries[0].to_native().explain(optimized=False)
        assert plan.count("AGGREGATE") == 1  # one group_by, counts by n_unique


@pytest.mark.parametrize("value", ["yes", 1, None], ids=["str", "int", "none"])
def test_mergeable_must_be_a_bool(value: Any) -> None:
    with pytest.raises(InvalidTypeError, match=f"mergeable must be True or False, got {value!r}"):
        summarize_rfm_from_frame(frame(1, n=20), "2024-12-31", mergeable=value, **_KW)


def _fields(**change: Any) -> dict[str, Any]:
    s = summarize_rfm(
        TransactionLog.from_arrays(customer_id=[1, 1, 2], time=[1.0, 1.5, 3.0], amount=[1, 2, 3]),
        5.0,
        frequency_basis="days",
    )
    fields = {name: getattr(s, name) for name in attrs.fields_dict(RFMSummary)}
    return {**fields, **change}


BAD_SUMMARIES = [
    pytest.param(
        {"n_days": None},
        r"n_days must be given exactly when frequency_basis='days', got "
        r"frequency_basis='days' with n_days None",
        id="days-without-counts",
    ),
    pytest.param(
        {"frequency_basis": "transactions", "day_customer": None, "day_number": None},
        r"n_days must be given exactly when frequency_basis='days', got "
        r"frequency_basis='transactions' with n_days given",
        id="counts-without-days",
    ),
    pytest.param(
        {"frequency_basis": "transactions", "n_days": None},
        r"day_customer and day_number must be given together, and only when "
        r"frequency_basis='days', got frequency_basis='transactions'",
        id="pairs-without-days",
    ),
    pytest.param(
        {"day_number": None},
        r"given together.*day_customer given and day_number None",
        id="one-pair-field",
    ),
    pytest.param(
        {"day_number": np.array([1, 2, 3], np.int64)},
        r"day_customer and day_number must have the same length, got 2 and 3",
        id="pair-lengths-differ",
    ),
]


@pytest.mark.parametrize(("change", "match"), BAD_SUMMARIES)
def test_bad_summary_fields_refused(change: dict[str, Any], match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        RFMSummary(**_fields(**change))


def test_summary_without_pairs_is_valid_and_unmergeable() -> None:
    s = RFMSummary(**_fields(day_customer=None, day_number=None))
    assert not s.mergeable
    assert s.to_table().frequency.tolist() == [1, 1]  # customer 1: two rows on one day
    with pytest.raises(InvalidInputError, match=REFUSED):
        RFMSummary.combine([s, s])
