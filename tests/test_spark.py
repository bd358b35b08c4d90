"""custrel.frames on PySpark (local mode): summaries, scoring, results back, the how-to page.

Skipped, with the reason, where pyspark is not installed (the README's test
command does not install it); ``.ci/run`` installs the ``spark`` extra and
runs this file as its own step. One local[2] session serves the module.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("pyspark", reason="pyspark is not installed (pip install 'custrel[spark]')")

from pyspark.sql import SparkSession

from custrel import (
    BGNBDModel,
    GammaGammaModel,
    InvalidInputError,
    TransactionLog,
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

ROOT = Path(__file__).resolve().parents[1]

# narwhals announces that its dask support moves to a separate package; not ours to act on.
pytestmark = pytest.mark.filterwarnings("ignore:Dask support is moving:FutureWarning")


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # executors run this Python
    session = (
        SparkSession.builder.master("local[2]")
        .appName("custrel-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def transactions(seed: int, n: int = 300, *, returns: bool = True) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    amount = rng.normal(50, 30, n).round(2)
    return pd.DataFrame(
        {
            "cust": rng.integers(0, 40, n),
            "when": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 150 * 24, n), "h"),
            "amount": amount if returns else np.abs(amount),
        }
    )


def _log(df: pd.DataFrame) -> TransactionLog:
    return TransactionLog.from_frame(df, customer_col="cust", time_col="when")


@pytest.mark.parametrize("basis", ["transactions", "days", "days-mergeable"])
def test_rfm_summary_on_spark_equals_numpy(spark: Any, basis: Any) -> None:
    mergeable = basis == "days-mergeable"
    basis = "days" if mergeable else basis
    df = transactions(1)
    got = summarize_rfm_from_frame(
        spark.createDataFrame(df),
        "2024-04-15",
        customer_col="cust",
        time_col="when",
        frequency_basis=basis,
        after="exclude",
        mergeable=mergeable,
    )
    ref = summarize_rfm(_log(df), "2024-04-15", frequency_basis=basis, after="exclude")
    np.testing.assert_array_equal(got.customer_id, ref.customer_id)
    np.testing.assert_array_equal(got.first, ref.first)
    np.testing.assert_array_equal(got.last, ref.last)
    np.testing.assert_array_equal(got.n_transactions, ref.n_transactions)
    np.testing.assert_allclose(got.total_amount, ref.total_amount, rtol=1e-12)
    assert got.n_rows_after == ref.n_rows_after > 0
    if basis == "days":
        np.testing.assert_array_equal(got.n_days, ref.n_days)
        assert got.mergeable is mergeable
    if mergeable:
        np.testing.assert_array_equal(got.day_customer, ref.day_customer)
        np.testing.assert_array_equal(got.day_number, ref.day_number)


def test_rfm_table_counts_days_in_spark(spark: Any) -> None:
    df = transactions(2)
    got = rfm_table_from_frame(
        spark.createDataFrame(df),
        "2024-12-31",
        customer_col="cust",
        time_col="when",
        frequency_basis="days",
    )
    ref = summarize_rfm(_log(df), "2024-12-31", frequency_basis="days").to_table()
    np.testing.assert_array_equal(got.customer_id, ref.customer_id)
    np.testing.assert_array_equal(got.frequency, ref.frequency)
    np.testing.assert_array_equal(got.recency, ref.recency)


def test_date_and_numeric_time_columns(spark: Any) -> None:
    df = transactions(3)
    days = spark.createDataFrame(df).selectExpr("cust", "cast(`when` as date) as `when`", "amount")
    got = summarize_rfm_from_frame(
        days, "2024-12-31", customer_col="cust", time_col="when", frequency_basis="days"
    )
    ref = summarize_rfm(
        _log(df.assign(when=df["when"].dt.normalize())), "2024-12-31", frequency_basis="days"
    )
    np.testing.assert_array_equal(got.last, ref.last)
    np.testing.assert_array_equal(got.n_days, ref.n_days)
    numeric = df.assign(when=(df["when"] - pd.Timestamp("2024-01-01")).dt.total_seconds() / 86400)
    got_n = summarize_rfm_from_frame(
        spark.createDataFrame(numeric), 200.0, customer_col="cust", time_col="when"
    )
    ref_n = summarize_rfm(_log(numeric), 200.0)
    np.testing.assert_array_equal(got_n.first, ref_n.first)


def test_timestamp_without_time_zone(spark: Any) -> None:
    df = transactions(4)
    ntz = spark.createDataFrame(df).selectExpr(
        "cust", "cast(`when` as timestamp_ntz) as `when`", "amount"
    )
    got = summarize_rfm_from_frame(ntz, "2024-12-31", customer_col="cust", time_col="when")
    np.testing.assert_array_equal(got.first, summarize_rfm(_log(df), "2024-12-31").first)


@pytest.mark.parametrize(
    "kw",
    [
        pytest.param({}, id="defaults"),
        pytest.param({"period": "week", "unit": "day"}, id="weeks"),
        pytest.param({"period": "month"}, id="months"),
        pytest.param({"period": None}, id="exact-times"),
        pytest.param(
            {"calibration_end": "2024-04-01", "observation_end": "2024-05-15"}, id="holdout"
        ),
    ],
)
def test_btyd_summary_on_spark_equals_rfm_summary(spark: Any, kw: dict[str, Any]) -> None:
    df = transactions(5, returns=False)
    sdf = spark.createDataFrame(df)
    ref = rfm_summary(_log(df), **kw)
    got = rfm_summary_from_frame(sdf, customer_col="cust", time_col="when", per_customer=True, **kw)
    for name in ("customer_id", "frequency", "recency", "T", "holdout_frequency"):
        a, b = getattr(got, name), getattr(ref, name)
        assert (a is None) == (b is None)
        if b is not None:
            np.testing.assert_array_equal(a, b, err_msg=name)
    np.testing.assert_allclose(got.monetary_value, ref.monetary_value, rtol=1e-12)
    assert got.n_customers_after_calibration == ref.n_customers_after_calibration
    assert got.holdout_duration == ref.holdout_duration
    compressed = rfm_summary_from_frame(sdf, customer_col="cust", time_col="when", **kw)
    expected = ref.compressed()
    for name in ("frequency", "recency", "T", "weights"):
        np.testing.assert_array_equal(getattr(compressed, name), getattr(expected, name))


def test_score_frame_runs_in_the_executors_and_agrees(spark: Any) -> None:
    df = transactions(6, returns=False)
    bgnbd = BGNBDModel.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
    gg = GammaGammaModel.from_params({"p": 6.25, "q": 3.74, "gamma": 15.44})
    summary = rfm_summary_frame(spark.createDataFrame(df), customer_col="cust", time_col="when")
    scored = score_frame(bgnbd, summary, spend_model=gg, horizon=6, discount_rate=0.02)
    assert type(scored).__name__ == "DataFrame"
    assert scored.columns[-4:] == list(PREDICTIONS)
    got = scored.toPandas().sort_values("cust")
    ref = rfm_summary(_log(df))
    spend = gg.conditional_expected_spend(ref.frequency, ref.monetary_value)
    np.testing.assert_allclose(
        got["clv"].to_numpy(),
        bgnbd.customer_lifetime_value(
            ref.frequency, ref.recency, ref.T, spend, horizon=6, discount_rate=0.02
        ),
        rtol=1e-12,
    )
    np.testing.assert_allclose(
        got["p_alive"].to_numpy(),
        bgnbd.probability_alive(ref.frequency, ref.recency, ref.T),
        rtol=1e-12,
    )


def test_to_native_like_a_spark_frame(spark: Any) -> None:
    df = transactions(7)
    sdf = spark.createDataFrame(df)
    table = rfm_table_from_frame(sdf, "2024-12-31", customer_col="cust", time_col="when")
    out = to_native(table, sdf)
    assert out.sparkSession is sdf.sparkSession
    back = out.toPandas()
    assert back["customer_id"].tolist() == table.customer_id.tolist()
    np.testing.assert_array_equal(back["recency"].to_numpy(), table.recency)


def test_bad_input_message_on_spark(spark: Any) -> None:
    df = transactions(8)
    sdf = spark.createDataFrame(df).selectExpr(
        "cust", "`when`", "case when cust = 3 then null else amount end as amount"
    )
    with pytest.raises(InvalidInputError, match=r"column 'amount' is missing \d+ values"):
        summarize_rfm_from_frame(sdf, "2024-12-31", customer_col="cust", time_col="when")


def _page_blocks(page: Path) -> list[str]:
    """The ``.. code-block:: python`` bodies of a page, dedented, in order."""
    lines = page.read_text(encoding="utf-8").splitlines()
    blocks, i = [], 0
    while i < len(lines):
        if re.match(r"^\.\. code-block:: python\s*$", lines[i]):
            i += 1
            body = []
            while i < len(lines) and (not lines[i].strip() or lines[i].startswith("   ")):
                body.append(lines[i][4:])
                i += 1
            blocks.append("\n".join(body).strip() + "\n")
        else:
            i += 1
    return blocks


def test_howto_page_runs(spark: Any, tmp_path: Path) -> None:
    # The page's code blocks, in order, in one fresh interpreter started in an empty
    # folder (its own Spark session: the JVM resolves relative paths from its start
    # folder, so the page cannot share this module's session), as a reader pastes them.
    blocks = _page_blocks(ROOT / "docs" / "howto" / "spark_clv.rst")
    assert len(blocks) == 4
    assert blocks[-1].strip() == "spark.stop()"
    code = "\n".join(blocks)
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable}
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-6000:]
    assert "clv" in result.stdout  # the top-five table was printed
    written = pd.read_parquet(tmp_path / "clv.parquet")
    assert len(written) == 2357  # every CDNOW customer
    assert written["clv"].notna().all()
    assert written["p_alive"].between(0, 1).all()
    assert list(written.columns[-4:]) == list(PREDICTIONS)
