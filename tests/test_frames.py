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
    BGNBDModel,
    EmptyInputError,
    GammaGammaModel,
    InvalidInputError,
    InvalidTypeError,
    MissingDependencyError,
    RFMSummary,
    RFMTable,
    TransactionLog,
    rfm_scores,
    rfm_segments,
    rfm_summary,
    summarize_rfm,
)
from custrel.frames import (
    PREDICTIONS,
    rfm_summary_frame,
    rfm_summary_from_frame,
    rfm_table_from_frame,
    score_frame,
    summarize_rfm_from_frame,
    to_native,
)

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
    np.testing.assert_array_equal(a.first, b.first)  # NaT (returns only) equals NaT
    np.testing.assert_array_equal(a.last, b.last)
    assert a.first.dtype == b.first.dtype
    assert np.array_equal(a.n_transactions, b.n_transactions)
    if b.total_amount is None:
        assert a.total_amount is None
    else:
        np.testing.assert_allclose(a.total_amount, b.total_amount, rtol=1e-12, atol=1e-8)
    assert a.n_rows_after == b.n_rows_after
    assert a.analysis_date == b.analysis_date
    assert a.time_kind == b.time_kind
    if a.frequency_basis == "days":
        assert np.array_equal(a.n_days, b.n_days)
        if a.mergeable and b.mergeable:
            assert np.array_equal(a.day_customer, b.day_customer)
            assert np.array_equal(a.day_number, b.day_number)
        else:  # a's days were counted in the engine: no pairs were collected
            assert not a.mergeable
            assert a.day_customer is None
            assert a.day_number is None


@pytest.mark.parametrize("backend", list(BACKENDS))
@pytest.mark.parametrize("basis", ["transactions", "days", "days-mergeable"])
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
    mergeable = basis == "days-mergeable"
    basis = "days" if mergeable else basis
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
        mergeable=mergeable,
    )
    assert_same(got, expected)
    assert got.mergeable == (basis == "transactions" or mergeable)
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
            mergeable=True,
        )
        for i in range(ddf.npartitions)
    ]
    whole = summarize_rfm_from_frame(
        ddf,
        "2024-06-01",
        customer_col="cust",
        time_col="when",
        frequency_basis="days",
        mergeable=True,
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
        r"time column 'when' is time-zone aware \(Europe/Paris\); make it naive first "
        r"\(df\['when'\]\.dt\.tz_localize\(None\) keeps the local time\)",
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


# ---------------------------------------------------------------------------
# The engine-side BTYD summary (rfm_summary_from_frame, rfm_summary_frame)
# ---------------------------------------------------------------------------


def purchases_frame(seed: int, n: int = 400, *, numeric: bool = False) -> pd.DataFrame:
    """Purchases only (amounts >= 0)."""
    rng = np.random.default_rng(seed)
    hours = rng.integers(0, 200 * 24, n)
    time: Any = (
        hours / 24.0 if numeric else pd.Timestamp("2024-01-01") + pd.to_timedelta(hours, unit="h")
    )
    return pd.DataFrame(
        {
            "cust": rng.integers(0, 60, n),
            "when": time,
            "amount": np.abs(rng.normal(50, 30, n)).round(2),
        }
    )


BTYD_CASES = [
    pytest.param({}, id="defaults"),
    pytest.param({"period": "week", "unit": "day"}, id="weeks-from-first-purchase"),
    pytest.param({"period": "month"}, id="calendar-months"),
    pytest.param({"period": None}, id="exact-times"),
    pytest.param({"calibration_end": "2024-05-01", "observation_end": "2024-06-30"}, id="holdout"),
    pytest.param(
        {"period": 3.5, "unit": "day", "calibration_end": "2024-04-01"}, id="number-period"
    ),
]


def assert_same_btyd(got: Any, ref: Any) -> None:
    for name in ("customer_id", "frequency", "recency", "T", "weights", "holdout_frequency"):
        a, b = getattr(got, name), getattr(ref, name)
        assert (a is None) == (b is None), name
        if b is not None:
            np.testing.assert_array_equal(a, b, err_msg=name)  # to the last bit
    for name in ("monetary_value", "holdout_monetary_value"):
        a, b = getattr(got, name), getattr(ref, name)
        assert (a is None) == (b is None), name
        if b is not None:  # sums in the engine's order: equal to rounding
            np.testing.assert_allclose(a, b, rtol=1e-12, err_msg=name)
    for name in (
        "n_customers_returns_only",
        "n_returns",
        "holdout_duration",
        "unit",
        "period",
        "calibration_end",
        "observation_end",
        "n_rows_after_end",
        "n_customers_after_calibration",
    ):
        assert getattr(got, name) == getattr(ref, name), name


@pytest.mark.parametrize("backend", ["pandas", "polars-lazy", "duckdb", "dask"])
@pytest.mark.parametrize("kw", BTYD_CASES)
def test_btyd_summary_in_the_engine_equals_rfm_summary(backend: str, kw: dict[str, Any]) -> None:
    df = purchases_frame(3)
    ref = rfm_summary(TransactionLog.from_frame(df, customer_col="cust", time_col="when"), **kw)
    native = BACKENDS[backend](df)
    got = rfm_summary_from_frame(
        native, customer_col="cust", time_col="when", per_customer=True, **kw
    )
    assert_same_btyd(got, ref)
    compressed = rfm_summary_from_frame(native, customer_col="cust", time_col="when", **kw)
    assert_same_btyd(compressed, ref.compressed())


@pytest.mark.parametrize("backend", ["pandas", "polars-lazy", "duckdb", "dask"])
@pytest.mark.parametrize("kw", BTYD_CASES)
def test_btyd_summary_with_returns_equals_rfm_summary(backend: str, kw: dict[str, Any]) -> None:
    # contract 1 on both sides: about 5% of the rows are returns (negative amounts)
    df = random_frame(21, n=400)
    assert (df["amount"] < 0).any()
    ref = rfm_summary(TransactionLog.from_frame(df, customer_col="cust", time_col="when"), **kw)
    native = BACKENDS[backend](df)
    got = rfm_summary_from_frame(
        native, customer_col="cust", time_col="when", per_customer=True, **kw
    )
    assert_same_btyd(got, ref)
    compressed = rfm_summary_from_frame(native, customer_col="cust", time_col="when", **kw)
    assert_same_btyd(compressed, ref.compressed())


@pytest.mark.parametrize("backend", ["polars-lazy", "duckdb"])
def test_btyd_summary_numeric_times_and_no_amount(backend: str) -> None:
    df = purchases_frame(5, numeric=True)
    log = TransactionLog.from_frame(df, customer_col="cust", time_col="when")
    for kw in ({}, {"period": 2.0, "calibration_end": 120.0}, {"observation_end": 150.0}):
        ref = rfm_summary(log, **kw)
        got = rfm_summary_from_frame(
            BACKENDS[backend](df), customer_col="cust", time_col="when", per_customer=True, **kw
        )
        assert_same_btyd(got, ref)
    frequency_only = rfm_summary_from_frame(
        BACKENDS[backend](df), customer_col="cust", time_col="when", amount_col=None
    )
    assert frequency_only.monetary_value is None
    np.testing.assert_array_equal(frequency_only.frequency, rfm_summary(log).compressed().frequency)


def test_btyd_summary_returns_rule() -> None:
    # contract 1: a return is netted from the spend but is not a purchase occasion;
    # a customer with returns only is left out (and counted where the summary has the field)
    df = pd.DataFrame(
        {
            "customer_id": [
                "buy-return",
                "buy-return",
                "repeat",
                "repeat",
                "repeat",
                "only-return",
            ],
            "time": [0.0, 0.0, 0.0, 2.0, 3.0, 1.0],
            "amount": [40.0, -40.0, 10.0, 30.0, -20.0, -5.0],
        }
    )
    s = rfm_summary_from_frame(pl.from_pandas(df).lazy(), per_customer=True, observation_end=4.0)
    assert s.customer_id.tolist() == ["buy-return", "repeat"]
    assert s.n_customers_returns_only == 1
    assert s.n_returns == 2
    assert s.frequency.tolist() == [0.0, 1.0]
    assert s.recency.tolist() == [0.0, 2.0]
    assert s.T.tolist() == [4.0, 4.0]
    # the repeat spend is the net of what followed the first purchase: 30 - 20
    assert np.isnan(s.monetary_value[0])
    assert s.monetary_value[1] == 10.0


def test_btyd_summary_frame_is_lazy_and_feeds_scoring() -> None:
    df = purchases_frame(8)
    lf = pl.from_pandas(df).lazy()
    out = rfm_summary_frame(lf, customer_col="cust", time_col="when", calibration_end="2024-05-01")
    assert isinstance(out, pl.LazyFrame)
    assert out.collect_schema().names() == [
        "cust",
        "frequency",
        "recency",
        "T",
        "monetary_value",
        "holdout_frequency",
        "holdout_monetary_value",
    ]
    ref = rfm_summary(
        TransactionLog.from_frame(df, customer_col="cust", time_col="when"),
        calibration_end="2024-05-01",
    )
    got = out.sort("cust").collect()
    assert got["cust"].to_list() == ref.customer_id.tolist()
    np.testing.assert_allclose(got["recency"].to_numpy(), ref.recency, rtol=1e-15)
    np.testing.assert_allclose(got["T"].to_numpy(), ref.T, rtol=1e-15)
    assert isinstance(rfm_summary_frame(df, customer_col="cust", time_col="when"), pd.DataFrame)


def test_days_table_counts_days_in_the_engine() -> None:
    df = random_frame(12)
    native = _duckdb(df)
    t = rfm_table_from_frame(
        native, "2024-12-31", customer_col="cust", time_col="when", frequency_basis="days"
    )
    expected = reference(df, "2024-12-31", frequency_basis="days").to_table()
    np.testing.assert_array_equal(t.frequency, expected.frequency)
    np.testing.assert_array_equal(t.recency, expected.recency)
    np.testing.assert_allclose(t.monetary_value, expected.monetary_value, rtol=1e-12)


# ---------------------------------------------------------------------------
# Scoring in the engine (score_frame)
# ---------------------------------------------------------------------------

BGNBD = BGNBDModel.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
GG = GammaGammaModel.from_params({"p": 6.25, "q": 3.74, "gamma": 15.44})


def summary_table(seed: int = 4, n: int = 500) -> pd.DataFrame:
    sim = BGNBD.simulate(n, T=39.0, rng=seed)
    rng = np.random.default_rng(seed)
    money = np.where(sim.frequency > 0, rng.gamma(6.0, 5.0, len(sim.frequency)), np.nan)
    return pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(len(sim.frequency))],
            "frequency": sim.frequency,
            "recency": sim.recency,
            "T": sim.T,
            "monetary_value": money,
        }
    )


def expected_scores(df: pd.DataFrame, horizon: int = 12, period: float = 52 / 12) -> Any:
    x, r, t, m = (df[c].to_numpy() for c in ("frequency", "recency", "T", "monetary_value"))
    spend = GG.conditional_expected_spend(x, m)
    return {
        "expected_purchases": BGNBD.conditional_expected_purchases(horizon * period, x, r, t),
        "p_alive": BGNBD.probability_alive(x, r, t),
        "expected_spend": spend,
        "clv": BGNBD.customer_lifetime_value(
            x, r, t, spend, horizon=horizon, discount_rate=0.01, margin=0.3, period=period
        ),
    }


SCORE_BACKENDS: dict[str, Callable[[pd.DataFrame], Any]] = {
    **BACKENDS,
    "duckdb": lambda df: duckdb.from_df(df),
}
LAZY_TYPES = {"polars-lazy": pl.LazyFrame, "dask": dd.DataFrame, "duckdb": duckdb.DuckDBPyRelation}


def _collect(out: Any, backend: str) -> pd.DataFrame:
    if backend == "polars-lazy":
        return out.collect().to_pandas()
    if backend == "polars":
        return out.to_pandas()
    if backend == "pyarrow":
        return out.to_pandas()
    if backend == "duckdb":
        return out.df()
    if backend == "dask":
        return out.compute()
    return out


@pytest.mark.parametrize("backend", list(SCORE_BACKENDS))
def test_score_frame_agrees_with_in_memory_predictions(backend: str) -> None:
    df = summary_table()
    native = SCORE_BACKENDS[backend](df)
    out = score_frame(
        BGNBD, native, spend_model=GG, horizon=12, period=52 / 12, discount_rate=0.01, margin=0.3
    )
    if backend in LAZY_TYPES:
        assert isinstance(out, LAZY_TYPES[backend])
    got = _collect(out, backend).sort_values("customer_id", key=lambda s: s.str[1:].astype(int))
    assert list(got.columns) == [*df.columns, *PREDICTIONS]
    for name, values in expected_scores(df).items():
        np.testing.assert_allclose(got[name].to_numpy(), values, rtol=1e-12, err_msg=name)
    pd.testing.assert_frame_equal(
        got[list(df.columns)].reset_index(drop=True), df, check_dtype=False
    )


def test_score_frame_without_spend_model_adds_purchases_and_p_alive() -> None:
    df = summary_table(n=50).drop(columns="monetary_value")
    out = score_frame(BGNBD, df, horizon=3)
    assert list(out.columns[-2:]) == ["expected_purchases", "p_alive"]
    one = score_frame(BGNBD, pl.from_pandas(df).lazy(), predictions=["p_alive"]).collect()
    np.testing.assert_allclose(one["p_alive"].to_numpy(), out["p_alive"].to_numpy(), rtol=1e-15)


def test_score_frame_does_not_modify_its_input() -> None:
    df = summary_table(n=30)
    before = df.copy()
    score_frame(BGNBD, df, spend_model=GG)
    pd.testing.assert_frame_equal(df, before)


SCORE_BAD = [
    pytest.param(
        lambda: score_frame(GG, summary_table(n=5)),  # type: ignore[arg-type]
        InvalidTypeError,
        "model must be a fitted repeat-purchase model",
        id="spend-model-as-model",
    ),
    pytest.param(
        lambda: score_frame(BGNBD, summary_table(n=5), spend_model=BGNBD),  # type: ignore[arg-type]
        InvalidTypeError,
        "spend_model must be a GammaGammaModel",
        id="wrong-spend-model",
    ),
    pytest.param(
        lambda: score_frame(BGNBD, summary_table(n=5), predictions=["clv"]),
        InvalidInputError,
        r"predictions \['clv'\] need a spend model; pass spend_model=",
        id="clv-without-spend-model",
    ),
    pytest.param(
        lambda: score_frame(BGNBD, summary_table(n=5), predictions=["churn"]),
        InvalidInputError,
        "predictions must be one of 'expected_purchases', 'p_alive', 'expected_spend', 'clv', "
        "got 'churn'",
        id="unknown-prediction",
    ),
    pytest.param(
        lambda: score_frame(BGNBD, summary_table(n=5), predictions="p_alive"),
        InvalidTypeError,
        "predictions must be a sequence of names, got the string 'p_alive'",
        id="prediction-string",
    ),
    pytest.param(
        lambda: score_frame(BGNBD, summary_table(n=5), predictions=["p_alive", "p_alive"]),
        InvalidInputError,
        "predictions must not repeat a name",
        id="repeated-prediction",
    ),
    pytest.param(
        lambda: score_frame(BGNBD, summary_table(n=5).drop(columns="T")),
        InvalidInputError,
        r"T column 'T' is not in the frame",
        id="missing-T",
    ),
    pytest.param(
        lambda: score_frame(BGNBD, summary_table(n=5).assign(recency="x")),
        InvalidInputError,
        "column 'recency' must be numeric, got String",
        id="text-recency",
    ),
    pytest.param(
        lambda: score_frame(BGNBD, summary_table(n=5).assign(p_alive=1.0)),
        InvalidInputError,
        r"the frame already has columns \['p_alive'\]",
        id="column-clash",
    ),
    pytest.param(
        lambda: score_frame(BGNBD, summary_table(n=5), horizon=0),
        InvalidInputError,
        "horizon must be >= 1, got 0",
        id="zero-horizon",
    ),
    pytest.param(
        lambda: score_frame(BGNBD, summary_table(n=5), horizon=10**9),
        InvalidInputError,
        "the horizon would need 1,000,000,000, more than the budget",
        id="horizon-over-budget",
    ),
    pytest.param(
        lambda: score_frame(BGNBD, summary_table(n=5), period=-1.0),
        InvalidInputError,
        "period",
        id="negative-period",
    ),
    pytest.param(
        lambda: score_frame(BGNBD, [1, 2]),
        InvalidTypeError,
        "frame must be a pandas, polars, pyarrow, duckdb, dask or pyspark dataframe, got list",
        id="not-a-frame",
    ),
]


@pytest.mark.parametrize(("call", "error", "message"), SCORE_BAD)
def test_score_frame_bad_inputs(call: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        call()


BTYD_BAD = [
    pytest.param(
        lambda: rfm_summary_from_frame(
            purchases_frame(1), customer_col="cust", time_col="when", calibration_end="2030-01-01"
        ),
        InvalidInputError,
        "calibration_end '2030-01-01' is after observation_end",
        id="calibration-after-end",
    ),
    pytest.param(
        lambda: rfm_summary_from_frame(
            purchases_frame(1), customer_col="cust", time_col="when", calibration_end="2020-01-01"
        ),
        InvalidInputError,
        "calibration_end '2020-01-01' is before the first purchase in the frame",
        id="calibration-before-first",
    ),
    pytest.param(
        lambda: rfm_summary_from_frame(
            purchases_frame(1), customer_col="cust", time_col="when", observation_end="2020-01-01"
        ),
        InvalidInputError,
        "observation_end '2020-01-01' is before the first purchase",
        id="end-before-first",
    ),
    pytest.param(
        lambda: rfm_summary_from_frame(
            purchases_frame(1), customer_col="cust", time_col="when", unit="fortnight"
        ),
        InvalidInputError,
        "unit must be one of 'day', 'week', 'month', 'quarter', 'year', got 'fortnight'",
        id="bad-unit",
    ),
    pytest.param(
        lambda: rfm_summary_from_frame(
            purchases_frame(1, numeric=True), customer_col="cust", time_col="when", period="week"
        ),
        InvalidInputError,
        "period must be a number .* for a log with numeric times, got 'week'",
        id="calendar-period-numeric-times",
    ),
    pytest.param(
        lambda: rfm_summary_from_frame(
            purchases_frame(1).assign(amount=-1.0), customer_col="cust", time_col="when"
        ),
        EmptyInputError,
        "the frame has no purchase: every amount in 'amount' is negative",
        id="returns-only",
    ),
    pytest.param(
        lambda: rfm_summary_from_frame(
            pl.from_pandas(purchases_frame(1)).with_columns(
                cust=pl.when(pl.col("cust") == 3).then(None).otherwise(pl.col("cust"))
            ),
            customer_col="cust",
            time_col="when",
        ),
        InvalidInputError,
        r"column 'cust' is missing \d+ values; drop or fill them first",
        id="null-customer",
    ),
    pytest.param(
        lambda: rfm_summary_from_frame(
            purchases_frame(1).iloc[:0], customer_col="cust", time_col="when"
        ),
        EmptyInputError,
        "the frame has no rows",
        id="empty",
    ),
    pytest.param(
        lambda: rfm_summary_from_frame(purchases_frame(1), time_col="when"),
        InvalidInputError,
        "customer column 'customer_id' is not in the frame",
        id="missing-column",
    ),
]


# from the adversarial harness: non-string column names, units and backends
BTYD_BAD += [
    pytest.param(
        lambda: rfm_summary_frame(
            purchases_frame(1), customer_col="cust", time_col=np.array(["when"])
        ),
        InvalidTypeError,
        r"time_col must be a column name \(a str\), got ndarray",
        id="array-time-col",
    ),
    pytest.param(
        lambda: rfm_table_from_frame(purchases_frame(1), "2024-12-31", customer_col=None),  # type: ignore[arg-type]
        InvalidTypeError,
        "customer_col must be a column name \\(a str\\), got NoneType None",
        id="none-customer-col",
    ),
    pytest.param(
        lambda: rfm_summary_from_frame(
            purchases_frame(1), customer_col="cust", time_col="when", period=pd.Series(["day"])
        ),
        InvalidTypeError,
        "period must be a unit name, a number or None, got Series",
        id="series-period",
    ),
    pytest.param(
        lambda: score_frame(BGNBD, summary_table(n=5), recency_col=pd.Series(["recency"])),
        InvalidTypeError,
        "recency_col must be a column name",
        id="series-recency-col",
    ),
    pytest.param(
        lambda: to_native(
            RFMTable.from_arrays(customer_id=[1], recency=[1], frequency=[1], monetary_value=[1]),
            backend=np.zeros((2, 2)),
        ),
        InvalidInputError,
        "backend must be one of 'pandas', 'polars', 'pyarrow', got array",
        id="array-backend",
    ),
]


@pytest.mark.parametrize(("call", "error", "message"), BTYD_BAD)
def test_btyd_summary_bad_inputs(call: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        call()
