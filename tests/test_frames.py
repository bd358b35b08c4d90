"""Tests of custrel.frames: RFM computed by the dataframe engines through narwhals."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from typing import Any

import dask.dataframe as dd
import duckdb
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
    MissingDependencyError,
    RFMSummary,
    TransactionLog,
    rfm_scores,
    rfm_segments,
    summarize_rfm,
)
from custrel.frames import rfm_table_from_frame, summarize_rfm_from_frame, to_native

# narwhals announces that its dask support moves to a separate package
# (narwhals-dask, not yet published); that notice is not ours to act on here.
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


def random_frame(seed: int, n: int = 300, *, numeric: bool = False, str_ids: bool = False) -> Any:
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, 40, n)
    hours = rng.integers(0, 120 * 24, n)
    time: Any = (
        hours / 24.0 if numeric else pd.Timestamp("2024-01-01") + pd.to_timedelta(hours, unit="h")
    )
    return pd.DataFrame(
        {
            "cust": [f"c{i:02d}" for i in ids] if str_ids else ids,
            "when": time,
            "amount": rng.normal(50, 30, n).round(2),
        }
    )


def reference(df: pd.DataFrame, date: Any, **kw: Any) -> RFMSummary:
    log = TransactionLog.from_frame(df, customer_col="cust", time_col="when")
    return summarize_rfm(log, date, **kw)


def assert_same(a: RFMSummary, b: RFMSummary) -> None:
    assert np.array_equal(a.customer_id, b.customer_id)
    assert np.array_equal(a.first, b.first)
    assert np.array_equal(a.last, b.last)
    assert a.first.dtype == b.first.dtype
    assert np.array_equal(a.n_transactions, b.n_transactions)
    np.testing.assert_allclose(a.total_amount, b.total_amount, rtol=1e-12, atol=1e-8)
    assert a.n_rows_after == b.n_rows_after
    assert a.analysis_date == b.analysis_date
    assert a.time_kind == b.time_kind
    if a.frequency_basis == "days":
        assert np.array_equal(a.n_days, b.n_days)
        assert np.array_equal(a.day_customer, b.day_customer)
        assert np.array_equal(a.day_number, b.day_number)


@pytest.mark.parametrize("backend", list(BACKENDS))
@pytest.mark.parametrize("basis", ["transactions", "days"])
@pytest.mark.parametrize(
    ("numeric", "str_ids", "date"),
    [
        pytest.param(False, False, "2024-03-15", id="datetime-int-ids"),
        pytest.param(False, True, "2024-05-01", id="datetime-str-ids"),
        pytest.param(True, False, 60.0, id="numeric-int-ids"),
    ],
)
def test_engine_summary_equals_numpy_summary(
    backend: str, basis: Any, numeric: bool, str_ids: bool, date: Any
) -> None:
    df = random_frame(7, numeric=numeric, str_ids=str_ids)
    expected = reference(df, date, frequency_basis=basis, after="exclude")
    native = BACKENDS[backend](df)
    got = summarize_rfm_from_frame(
        native,
        date,
        customer_col="cust",
        time_col="when",
        frequency_basis=basis,
        after="exclude",
    )
    assert_same(got, expected)
    assert expected.n_rows_after > 0 or date == "2024-05-01"


@pytest.mark.parametrize("backend", ["duckdb", "polars-lazy", "pandas"])
def test_date_typed_column(backend: str) -> None:
    df = random_frame(3)
    df["when"] = df["when"].dt.normalize()
    if backend == "duckdb":
        native = _duckdb(df).select('cust, cast("when" as date) as "when", amount')
    elif backend == "polars-lazy":
        native = pl.from_pandas(df).lazy().with_columns(pl.col("when").dt.date())
    else:
        native = df.assign(when=df["when"].astype("date32[pyarrow]"))
    got = summarize_rfm_from_frame(
        native,
        "2024-02-20",
        customer_col="cust",
        time_col="when",
        frequency_basis="days",
        after="exclude",
    )
    assert_same(got, reference(df, "2024-02-20", frequency_basis="days", after="exclude"))


def test_frame_is_not_modified_and_rows_are_not_collected() -> None:
    df = random_frame(1)
    before = df.copy()
    rfm_table_from_frame(df, "2024-12-31", customer_col="cust", time_col="when")
    pd.testing.assert_frame_equal(df, before)
    # a lazy polars plan stays lazy: the function only collects aggregates
    lf = pl.from_pandas(df).lazy()
    t = rfm_table_from_frame(lf, "2024-12-31", customer_col="cust", time_col="when")
    assert isinstance(lf, pl.LazyFrame)
    assert t.n_customers == df["cust"].nunique()


def test_partitions_merge_to_the_whole() -> None:
    # The per-partition use: summarise each dask partition by its own engine, merge.
    df = random_frame(11)
    ddf = dd.from_pandas(df, npartitions=4)
    parts = [
        summarize_rfm_from_frame(
            ddf.get_partition(i).compute(),
            "2024-06-01",
            customer_col="cust",
            time_col="when",
            frequency_basis="days",
        )
        for i in range(ddf.npartitions)
    ]
    whole = summarize_rfm_from_frame(
        ddf, "2024-06-01", customer_col="cust", time_col="when", frequency_basis="days"
    )
    assert_same(RFMSummary.combine(parts), whole)


@given(
    rows=st.lists(
        st.tuples(st.integers(0, 6), st.integers(0, 200), st.integers(-500, 5000)),
        min_size=1,
        max_size=40,
    ),
    cut=st.integers(0, 220),
    basis=st.sampled_from(["transactions", "days"]),
)
def test_polars_lazy_matches_numpy_property(rows: Any, cut: int, basis: Any) -> None:
    ids, hours, cents = (np.asarray(c) for c in zip(*rows, strict=True))
    df = pd.DataFrame(
        {
            "cust": ids,
            "when": pd.Timestamp("2024-01-01") + pd.to_timedelta(hours * 7, unit="h"),
            "amount": cents / 100.0,
        }
    )
    date = np.datetime64("2024-01-01") + np.timedelta64(cut * 7, "h")
    got = summarize_rfm_from_frame(
        pl.from_pandas(df).lazy(),
        date,
        customer_col="cust",
        time_col="when",
        frequency_basis=basis,
        after="exclude",
    )
    assert_same(got, reference(df, date, frequency_basis=basis, after="exclude"))


def test_rows_after_the_date_refused_by_default() -> None:
    df = random_frame(2)
    with pytest.raises(InvalidInputError, match=r"\d+ rows are after analysis_date 2024-02-01"):
        summarize_rfm_from_frame(df, "2024-02-01", customer_col="cust", time_col="when")


def test_all_rows_after_gives_an_empty_mergeable_summary() -> None:
    df = random_frame(2)
    s = summarize_rfm_from_frame(
        _duckdb(df), "2023-01-01", customer_col="cust", time_col="when", after="exclude"
    )
    assert s.n_customers == 0
    assert s.n_rows_after == len(df)
    with pytest.raises(EmptyInputError, match="no customer bought on or before"):
        s.to_table()


@pytest.mark.parametrize("backend", list(BACKENDS))
def test_to_native_round_trip(backend: str) -> None:
    df = random_frame(5)
    native = BACKENDS[backend](df)
    t = rfm_table_from_frame(native, "2024-12-31", customer_col="cust", time_col="when")
    seg = rfm_segments(rfm_scores(t, on_collapse="ignore"))
    out = to_native(seg, native)
    back = pl.from_pandas(out.compute()) if backend == "dask" else None
    if backend == "duckdb":
        back = out.pl()
    elif backend == "polars-lazy":
        assert isinstance(out, pl.LazyFrame)
        back = out.collect()
    elif backend == "pyarrow":
        assert isinstance(out, pa.Table)
        back = pl.from_arrow(out)
    elif backend == "pandas":
        assert isinstance(out, pd.DataFrame)
        back = pl.from_pandas(out)
    elif backend == "polars":
        assert isinstance(out, pl.DataFrame)
        back = out
    assert isinstance(back, pl.DataFrame)
    assert back.height == t.n_customers
    assert back["segment"].to_list() == seg.segment.tolist()
    assert back["rfm_cell"].to_list() == seg.scores.cell.tolist()
    assert np.array_equal(back["monetary_value"].to_numpy(), t.monetary_value)


def test_to_native_default_backend_is_pandas() -> None:
    t = rfm_table_from_frame(random_frame(4), "2024-12-31", customer_col="cust", time_col="when")
    out = to_native(t)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == ["customer_id", "recency", "frequency", "monetary_value"]
    assert isinstance(to_native(t, backend="polars"), pl.DataFrame)


def test_import_custrel_without_narwhals() -> None:
    code = (
        "import sys; sys.modules['narwhals'] = None\n"
        "import custrel\n"
        "from custrel.frames import summarize_rfm_from_frame\n"
        "try:\n"
        "    summarize_rfm_from_frame(None, 1.0)\n"
        "except custrel.MissingDependencyError as e:\n"
        "    print('missing:', e)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert "missing: dataframe support needs the 'frames' extra" in out
    assert MissingDependencyError.__name__ == "MissingDependencyError"


def _with_nulls() -> pd.DataFrame:
    df = random_frame(8)
    df.loc[3, "amount"] = np.nan
    return df


BAD = [
    pytest.param(
        lambda: summarize_rfm_from_frame([1, 2], 1.0),
        InvalidTypeError,
        "df must be a dataframe narwhals supports .* got list",
        id="not-a-frame",
    ),
    pytest.param(
        lambda: summarize_rfm_from_frame(random_frame(1), "2024-12-31", time_col="when"),
        InvalidInputError,
        r"customer column 'customer_id' is not in the frame; its columns are \['cust', 'when', 'amount'\]",
        id="missing-column",
    ),
    pytest.param(
        lambda: summarize_rfm_from_frame(
            random_frame(1).assign(when="2024-01-01"),
            "2024-12-31",
            customer_col="cust",
            time_col="when",
        ),
        InvalidInputError,
        "time column 'when' must hold dates or numbers, got String",
        id="string-times",
    ),
    pytest.param(
        lambda: summarize_rfm_from_frame(
            random_frame(1).assign(amount="x"), "2024-12-31", customer_col="cust", time_col="when"
        ),
        InvalidInputError,
        "amount column 'amount' must be numeric, got String",
        id="string-amounts",
    ),
    pytest.param(
        lambda: summarize_rfm_from_frame(
            _with_nulls(), "2024-12-31", customer_col="cust", time_col="when"
        ),
        InvalidInputError,
        "column 'amount' is missing 1 values; drop or fill them first",
        id="null-amount",
    ),
    pytest.param(
        lambda: summarize_rfm_from_frame(
            pl.from_pandas(random_frame(1)).with_columns(amount=pl.lit(float("inf"))),
            "2024-12-31",
            customer_col="cust",
            time_col="when",
        ),
        InvalidInputError,
        "amount column 'amount' must be finite, got 300 NaN or infinite values",
        id="inf-amount",
    ),
    pytest.param(
        lambda: summarize_rfm_from_frame(
            random_frame(1).iloc[:0], "2024-12-31", customer_col="cust", time_col="when"
        ),
        EmptyInputError,
        "the frame has no rows",
        id="empty-frame",
    ),
    pytest.param(
        lambda: summarize_rfm_from_frame(
            random_frame(1), 5.0, customer_col="cust", time_col="when"
        ),
        InvalidInputError,
        "analysis_date must be a date for a log with calendar times, got 5.0",
        id="numeric-date-for-datetime-column",
    ),
    pytest.param(
        lambda: summarize_rfm_from_frame(
            random_frame(1).assign(when=lambda d: d["when"].dt.tz_localize("Europe/Paris")),
            "2024-12-31",
            customer_col="cust",
            time_col="when",
        ),
        InvalidInputError,
        "time column 'when' is time-zone aware",
        id="tz-aware",
    ),
    pytest.param(
        lambda: summarize_rfm_from_frame(
            random_frame(1),
            "2024-12-31",
            customer_col="cust",
            time_col="when",
            frequency_basis="weeks",
        ),
        InvalidInputError,
        "frequency_basis must be one of 'transactions', 'days', got 'weeks'",
        id="bad-basis",
    ),
    pytest.param(
        lambda: to_native(object()),
        InvalidTypeError,
        "result must be a custrel result with a to_arrays",
        id="to-native-not-a-result",
    ),
    pytest.param(
        lambda: to_native(
            rfm_table_from_frame(
                random_frame(1), "2024-12-31", customer_col="cust", time_col="when"
            ),
            backend="spark",
        ),
        InvalidInputError,
        "backend must be one of 'pandas', 'polars', 'pyarrow', got 'spark'",
        id="to-native-bad-backend",
    ),
    pytest.param(
        lambda: to_native(
            rfm_table_from_frame(
                random_frame(1), "2024-12-31", customer_col="cust", time_col="when"
            ),
            pd.DataFrame(),
            backend="pandas",
        ),
        InvalidInputError,
        "give like or backend, not both",
        id="to-native-both",
    ),
]


@pytest.mark.parametrize(("call", "error", "message"), BAD)
def test_bad_inputs(call: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        call()


@pytest.mark.parametrize("backend", ["polars-lazy", "duckdb", "pandas"])
def test_summary_with_dates_to_native(backend: str) -> None:
    df = random_frame(9)
    s = summarize_rfm_from_frame(
        df, "2024-12-31", customer_col="cust", time_col="when", frequency_basis="days"
    )
    out = to_native(s, BACKENDS[backend](df))
    back = {
        "polars-lazy": lambda o: o.collect(),
        "duckdb": lambda o: o.pl(),
        "pandas": pl.from_pandas,
    }[backend](out)
    assert back.columns == [
        "customer_id",
        "first",
        "last",
        "n_transactions",
        "total_amount",
        "n_days",
    ]
    assert back["last"].dtype.is_temporal()
    assert back["n_days"].to_list() == s.n_days.tolist()
