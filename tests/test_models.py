"""Tests of custrel.models: the domain values, TransactionLog intake and the summary."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from custrel import (
    COST_FIELDS,
    FOUR_STAGE,
    STAGE_MODELS,
    CustomerSummary,
    CustrelError,
    EmptyInputError,
    InvalidInputError,
    InvalidTypeError,
    StageModel,
    Tier,
    Transaction,
    TransactionLog,
)
from custrel.datasets import load_cdnow, load_sample
from custrel.models import _factorize
from strategies import money, transaction_logs

ENGINES = ["python", "pyarrow", "polars"]
WEEK = np.timedelta64(7 * 86400, "s")


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


def assert_summaries_equal(a: CustomerSummary, b: CustomerSummary) -> None:
    assert a.customer_id.tolist() == b.customer_id.tolist()
    np.testing.assert_array_equal(a.first, b.first)
    np.testing.assert_array_equal(a.last, b.last)
    np.testing.assert_array_equal(a.n_purchases, b.n_purchases)
    np.testing.assert_array_equal(a.n_periods, b.n_periods)
    np.testing.assert_allclose(a.total_amount, b.total_amount, rtol=1e-12, atol=1e-6)
    np.testing.assert_allclose(a.mean_amount, b.mean_amount, rtol=1e-12, atol=1e-6)
    assert a.observation_end == b.observation_end
    assert a.n_rows_after_end == b.n_rows_after_end
    assert a.n_return_only_customers == b.n_return_only_customers


def naive_summary(log: TransactionLog, period: Any) -> dict[Any, tuple[Any, ...]]:
    """Row-by-row Python version of summarize (the obvious, slow algorithm).

    The returns rule: negative amounts count toward the total only; customers
    with returns only are not in the summary.
    """
    ids = log.customer_id.tolist()
    times = log.time.tolist() if log.time_kind == "numeric" else list(log.time)
    out: dict[Any, list[Any]] = {}
    for cid, t, a in zip(ids, times, log.amount.tolist(), strict=True):
        if log.time_kind == "numeric":
            key = int(np.floor(t / period))
        else:
            d = t.astype("datetime64[D]").item()
            key = {
                "day": d.toordinal(),
                "week": (d.toordinal() - 1) // 7,  # 0001-01-01 was a Monday
                "month": d.year * 12 + d.month,
                "quarter": d.year * 4 + (d.month - 1) // 3,
                "year": d.year,
            }[period]
        rec = out.setdefault(cid, [None, None, 0, set(), 0.0])
        rec[4] += a
        if a < 0:
            continue
        rec[0] = t if rec[0] is None else min(rec[0], t)
        rec[1] = t if rec[1] is None else max(rec[1], t)
        rec[2] += 1
        rec[3].add(key)
    return {k: (r[0], r[1], r[2], len(r[3]), r[4]) for k, r in out.items() if r[2]}


@st.composite
def logs_with_costs(draw: st.DrawFn) -> TransactionLog:
    """Logs that also carry every optional column."""
    base = draw(transaction_logs())
    n = base.n_rows
    cols = {
        f: draw(st.lists(money.map(abs), min_size=n, max_size=n))
        for f in ("volume", "unit_price", *COST_FIELDS, "indirect_benefit")
    }
    return TransactionLog.from_arrays(
        customer_id=base.customer_id, time=base.time, amount=base.amount, **cols
    )


# ---------------------------------------------------------------------------
# known values
# ---------------------------------------------------------------------------


def test_transaction_value_and_profit_follow_domain_formula() -> None:
    # domain notes §2.1: TV = V·p; P = V·p − (C1 + C2 + C3 + C4) + IB.
    t = Transaction(
        "A",
        1.0,
        50.0,
        volume=10,
        unit_price=5.0,
        product_cost=20.0,
        service_cost=3.0,
        marketing_cost=2.0,
        transaction_cost=1.0,
        indirect_benefit=4.0,
    )
    assert t.transaction_value == 50.0
    assert t.total_cost == 26.0
    assert t.profit == 28.0  # 50 − 26 + 4
    # without V and p the transaction value is the amount; missing costs count 0
    assert Transaction("B", 1.0, 12.5, product_cost=2.5).profit == 10.0
    log = TransactionLog.from_records([t, Transaction("A", 2.0, 7.0, **_zero_opt())])
    assert log.transaction_value().tolist() == [50.0, 0.0]
    assert log.total_cost().tolist() == [26.0, 0.0]
    assert log.profit().tolist() == [28.0, 0.0]
    assert log.has_profit_columns
    summary = log.summarize()
    assert summary.total_profit is not None
    assert summary.total_profit.tolist() == [28.0]
    plain = TransactionLog.from_arrays(customer_id=[1], time=[1.0], amount=[2.0])
    assert plain.summarize().total_profit is None  # it would only repeat total_amount


def _zero_opt() -> dict[str, float]:
    return dict.fromkeys(("volume", "unit_price", *COST_FIELDS, "indirect_benefit"), 0.0)


def test_summary_hand_computed() -> None:
    log = TransactionLog.from_arrays(
        customer_id=["b", "a", "b", "b", "c", "a"],
        time=[
            "2024-01-05T09:00",
            "2024-01-07",
            "2024-01-05T18:30",
            "2024-02-01",
            "2024-03-15",
            "2024-01-20",
        ],
        amount=[10.0, 25.0, 5.0, -3.0, 8.0, 15.0],
    )
    s = log.summarize()
    assert s.customer_id.tolist() == ["a", "b", "c"]
    # the returns rule: b's return on 1 February nets into the value, not the counts
    assert s.n_purchases.tolist() == [2, 2, 1]
    assert s.n_returns is not None
    assert s.n_returns.tolist() == [0, 1, 0]
    assert s.n_periods.tolist() == [2, 1, 1]  # b bought twice on 5 January
    assert s.total_amount is not None
    assert s.mean_amount is not None
    assert s.total_amount.tolist() == [40.0, 12.0, 8.0]  # the return is netted
    assert s.mean_amount.tolist() == [20.0, 6.0, 8.0]
    assert s.first.astype(str).tolist() == [
        "2024-01-07T00:00:00",
        "2024-01-05T09:00:00",
        "2024-03-15T00:00:00",
    ]
    assert str(s.last[1]) == "2024-01-05T18:30:00"  # the return is not a purchase
    assert s.observation_end == np.datetime64("2024-03-15")
    assert s.totals() == {
        "customers": 3.0,
        "purchases": 5.0,
        "returns": 1.0,
        "total_amount": 60.0,
        "amount_per_customer": 20.0,
        "amount_per_purchase": 12.0,
    }
    # a window that ends in February leaves out c, and says so
    w = log.summarize(observation_end=dt.date(2024, 2, 1), period="month")
    assert w.customer_id.tolist() == ["a", "b"]
    assert w.n_periods.tolist() == [1, 1]
    assert w.n_rows_after_end == 1
    rows = list(w.rows())
    assert rows[0]["customer_id"] == "a"
    assert rows[1]["total_amount"] == 12.0


def test_summary_numeric_times_and_periods() -> None:
    log = TransactionLog.from_arrays(
        customer_id=[7, 7, 7, 9], time=[0.5, 0.9, 3.2, 2.0], amount=[1, 2, 3, 4]
    )
    s = log.summarize()  # unit periods [k, k + 1)
    assert s.n_periods.tolist() == [2, 1]
    assert s.first.tolist() == [0.5, 2.0]
    assert s.observation_end == 3.2
    assert log.summarize(period=4.0).n_periods.tolist() == [1, 1]
    assert log.summarize(period=0.25).n_periods.tolist() == [3, 1]
    assert log.summarize(observation_end=1).n_rows_after_end == 2
    # periods so fine that customer x period keys overflow: the pair-sort path
    assert log.summarize(period=1e-15).n_periods.tolist() == [3, 1]


@pytest.mark.parametrize(
    ("period", "expected"),
    [
        ("day", 6),
        ("week", 5),  # Sun 7 Jan | Mon 8 .. Sun 14 Jan | Mon 15 Jan | 31 Mar | 1 Apr
        ("month", 3),  # January, March, April
        ("quarter", 2),  # 31 March and 1 April fall in different quarters
        ("year", 1),
        (7, 3),  # 7-day blocks from the epoch (a Thursday): 4-10, 11-17 Jan, 28 Mar-3 Apr
        (0.5, 7),  # half days: the 12:00 row is in the second half of 8 January
    ],
)
def test_summary_calendar_periods(period: Any, expected: int) -> None:
    days = ["2024-01-07", "2024-01-08", "2024-01-08T12:00", "2024-01-14", "2024-01-15"]
    log = TransactionLog.from_arrays(
        customer_id=[1] * 7, time=[*days, "2024-03-31", "2024-04-01"], amount=np.ones(7)
    )
    assert log.summarize(period=period).n_periods.tolist() == [expected]


def test_cdnow_summary_matches_published_summary(shared_data: Path) -> None:
    # Fader & Hardie's CDNOW sample: 2,357 customers, 6,919 transactions; the
    # published calibration summary (cdnow_customers_summary_with_transactions.csv,
    # calibration period 1997-01-01 .. 1997-09-30, time in weeks, same-day
    # purchases counted once) gives x = repeat purchase days, t_x and T.
    log = load_cdnow(shared_data / "CDNOW_sample.txt")
    assert (log.n_rows, log.n_customers) == (6919, 2357)
    s = log.summarize(observation_end="1997-09-30")
    # the published IDs are the file's second column (the sample's own numbering)
    pairs = np.loadtxt(shared_data / "CDNOW_sample.txt", dtype=np.int64, usecols=(0, 1))
    sample_id = dict(zip(pairs[:, 0].tolist(), pairs[:, 1].tolist(), strict=True))
    order = np.argsort([sample_id[c] for c in s.customer_id.tolist()])
    pub = np.genfromtxt(
        shared_data / "cdnow_customers_summary_with_transactions.csv",
        delimiter=",",
        names=True,
    )
    np.testing.assert_array_equal((s.n_periods - 1)[order], pub["x"])
    np.testing.assert_array_equal(np.round(((s.last - s.first) / WEEK)[order], 2), pub["t_x"])
    np.testing.assert_array_equal(
        np.round(((s.observation_end - s.first) / WEEK)[order], 2), pub["T"]
    )
    assert s.n_rows_after_end == 6919 - int(s.n_purchases.sum())


def test_factorize_paths() -> None:
    codes, labels = _factorize(np.array([5, 3, 5, 9, 3]))
    assert codes.tolist() == [1, 0, 1, 2, 0]
    assert labels.tolist() == [3, 5, 9]
    codes, labels = _factorize(np.array([10**15, -4, 10**15]))  # sparse: sorted path
    assert codes.tolist() == [1, 0, 1]
    assert labels.tolist() == [-4, 10**15]
    codes, labels = _factorize(np.array([2, 3, 4, 3]))  # every id used: shifted ids
    assert codes.tolist() == [0, 1, 2, 1]
    codes, labels = _factorize(np.array(["b", "a", "b"]))
    assert (codes.tolist(), labels.tolist()) == ([1, 0, 1], ["a", "b"])


def test_log_basics_and_readonly() -> None:
    ids = np.array([3, 1, 3])
    amount = np.array([1.0, 2.0, 3.0])
    log = TransactionLog.from_arrays(customer_id=ids, time=[1.0, 2.0, 3.0], amount=amount)
    amount[0] = 99.0  # the caller's array is not the log's
    assert log.amount.tolist() == [1.0, 2.0, 3.0]
    with pytest.raises(ValueError, match="read-only"):
        log.amount[0] = 5.0
    assert log.customer_id.tolist() == [3, 1, 3]
    assert (len(log), log.n_customers, log.optional_columns) == (3, 2, ())
    assert repr(log) == "TransactionLog(n_rows=3, n_customers=2, time=1.0..3.0)"
    assert log.take([2, 0]).customer_labels.tolist() == [3]
    assert log.between(1.5, 2.5).customer_id.tolist() == [1]
    assert log.elapsed().tolist() == [0.0, 1.0, 2.0]
    assert log.period_index(2.0).tolist() == [0, 0, 1]
    assert log.to_frame("pyarrow").num_rows == 3


def test_stage_models_and_tiers() -> None:
    assert FOUR_STAGE.index("decline") == 3
    assert set(STAGE_MODELS) >= {"four_stage", "six_stage"}
    assert Tier.PLATINUM < Tier.LEAD
    with pytest.raises(InvalidInputError, match="stage must be one of"):
        FOUR_STAGE.index("growth")
    with pytest.raises(InvalidInputError, match="at least 2 stages"):
        StageModel("x", ("only",))


# ---------------------------------------------------------------------------
# round trips: records <-> arrays <-> CSV <-> dataframes
# ---------------------------------------------------------------------------


@given(logs_with_costs())
def test_records_arrays_round_trip(log: TransactionLog) -> None:
    assert TransactionLog.from_records(log.to_records()) == log
    assert TransactionLog.from_arrays(**log.to_arrays()) == log


@given(log=transaction_logs(), engine=st.sampled_from(ENGINES))
def test_csv_round_trip(log: TransactionLog, engine: str, tmp_path_factory: Any) -> None:
    path = tmp_path_factory.mktemp("csv") / "log.csv"
    log.to_csv(path, time_col="date")
    assert TransactionLog.from_csv(path, time_col="date", engine=engine) == log


@given(log=logs_with_costs())
def test_csv_round_trip_optional_columns(log: TransactionLog, tmp_path_factory: Any) -> None:
    path = tmp_path_factory.mktemp("csv") / "log.csv"
    log.to_csv(path)
    columns = {f: f for f in log.optional_columns}
    back = {e: TransactionLog.from_csv(path, columns=columns, engine=e) for e in ENGINES}
    for other in back.values():
        assert other == log


@given(log=logs_with_costs(), backend=st.sampled_from(["pandas", "polars", "pyarrow"]))
def test_frame_round_trip(log: TransactionLog, backend: str) -> None:
    frame = log.to_frame(backend)
    columns = {f: f for f in log.optional_columns}
    assert TransactionLog.from_frame(frame, columns=columns) == log


def test_frame_is_not_modified_and_lazy_frames_work() -> None:
    import pandas as pd
    import polars as pl

    df = pd.DataFrame({"c": ["x", "y"], "d": ["2024-01-02", "2024-01-01"], "a": [1.0, 2.0]})
    before = df.copy()
    log = TransactionLog.from_frame(df, customer_col="c", time_col="d", amount_col="a")
    pd.testing.assert_frame_equal(df, before)
    lazy = pl.from_pandas(df).lazy()
    assert TransactionLog.from_frame(lazy, customer_col="c", time_col="d", amount_col="a") == log


def test_csv_engines_identical_on_bundled_sample() -> None:
    logs = [load_sample(engine=e) for e in ENGINES]
    assert logs[0] == logs[1] == logs[2]
    assert logs[0].customer_labels.dtype == np.int64


@st.composite
def messy_csv_text(draw: st.DrawFn) -> str:
    """CSV text with padded fields, leading zeros, odd number spellings and bad values."""
    ids = st.sampled_from(["1", "2", "12", "-3", " 4", "007", "a", "b ", "", "  "])
    dates = st.sampled_from(
        ["2024-01-01", "2024-02-29", " 2024-03-01", "2024-01-01T10:30:00", "2023-12-31 ",
         "2024-13-01", "", "17", "yesterday"]
    )  # fmt: skip
    amounts = st.sampled_from(["1", "2.5", "-3", "1e2", " 4.25", "0.1", "1E-3", "nan", "x", ""])
    n = draw(st.integers(1, 8))
    rows = [f"{draw(ids)},{draw(dates)},{draw(amounts)}" for _ in range(n)]
    return "customer_id,time,amount\n" + "\n".join(rows) + "\n"


@given(text=messy_csv_text())
def test_engines_agree_on_messy_files(text: str, tmp_path_factory: Any) -> None:
    path = tmp_path_factory.mktemp("messy") / "m.csv"
    path.write_text(text)
    outcomes: list[Any] = []
    for engine in ENGINES:
        try:
            outcomes.append(TransactionLog.from_csv(path, engine=engine))
        except CustrelError as exc:
            outcomes.append((type(exc).__name__, str(exc)))
    assert outcomes[1] == outcomes[0]
    assert outcomes[2] == outcomes[0]


@pytest.mark.parametrize("engine", ENGINES)
def test_csv_round_trip_keeps_seconds_and_float_digits(engine: str, tmp_path: Path) -> None:
    log = TransactionLog.from_arrays(
        customer_id=["x", "y"], time=["2024-01-05T10:30:07", "2024-01-05"], amount=[0.1, 1 / 3]
    )
    path = tmp_path / "s.csv"
    log.to_csv(path)
    assert path.read_text().splitlines()[1] == "x,2024-01-05T10:30:07,0.1"
    assert TransactionLog.from_csv(path, engine=engine) == log
    numeric = TransactionLog.from_arrays(
        customer_id=[1, 2], time=[1 / 7, 2e-9], amount=[1e300, -0.0]
    )
    numeric.to_csv(path)
    assert TransactionLog.from_csv(path, engine=engine) == numeric


@pytest.mark.parametrize("engine", ENGINES)
def test_csv_engine_typing(engine: str, tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("id;when;paid\n007; 20240102 ;1.5\n7;20240101;-2\n")
    log = TransactionLog.from_csv(
        path,
        customer_col="id",
        time_col="when",
        amount_col="paid",
        delimiter=";",
        date_format="%Y%m%d",
        engine=engine,
    )
    assert log.customer_labels.tolist() == ["007", "7"]  # "007" keeps ids as text
    assert log.time.astype(str).tolist() == ["2024-01-02T00:00:00", "2024-01-01T00:00:00"]
    assert log.amount.tolist() == [1.5, -2.0]
    numeric = tmp_path / "n.csv"
    numeric.write_text("customer_id,time,amount\n12,0.5,1\n-3,2,2\n12,1e1,3\n")
    log = TransactionLog.from_csv(numeric, engine=engine)
    assert log.customer_labels.tolist() == [-3, 12]
    assert log.time.tolist() == [0.5, 2.0, 10.0]
    text = TransactionLog.from_csv(numeric, engine=engine, id_type="str")
    assert text.customer_labels.tolist() == ["-3", "12"]
    padded = tmp_path / "p.csv"
    padded.write_text(
        "customer_id,time,amount\n7,2024-01-01,1\n 7 , 2024-01-01,2\nb,2024-01-02 ,3\n"
    )
    log = TransactionLog.from_csv(padded, engine=engine)
    assert log.customer_labels.tolist() == ["7", "b"]  # " 7 " is the same customer as "7"
    assert log.customer_code.tolist() == [0, 0, 1]
    assert log.summarize().n_periods.tolist() == [1, 1]


# ---------------------------------------------------------------------------
# properties of the summary
# ---------------------------------------------------------------------------

PERIODS = {"datetime": ["day", "week", "month", "quarter", "year", 3.5], "numeric": [1.0, 2.5]}


@given(log=transaction_logs(), data=st.data())
def test_summary_matches_naive_loop(log: TransactionLog, data: st.DataObject) -> None:
    period = data.draw(st.sampled_from(PERIODS[log.time_kind][:5]))
    s = log.summarize(period=period)
    expected = naive_summary(log, period)
    assert s.customer_id.tolist() == sorted(expected)
    for i, cid in enumerate(s.customer_id.tolist()):
        first, last, n, n_periods, total = expected[cid]
        assert (s.first[i], s.last[i]) == (first, last)
        assert (s.n_purchases[i], s.n_periods[i]) == (n, n_periods)
        assert s.total_amount[i] == pytest.approx(total, abs=1e-6)


@given(log=logs_with_costs(), data=st.data())
def test_concat_of_row_split_is_the_reordered_log(log: TransactionLog, data: st.DataObject) -> None:
    mask = np.asarray(data.draw(st.lists(st.booleans(), min_size=log.n_rows, max_size=log.n_rows)))
    if mask.all() or not mask.any():
        assert TransactionLog.concat([log]) == log
        return
    joined = TransactionLog.concat([log.take(mask), log.take(~mask)])
    order = np.concatenate([np.flatnonzero(mask), np.flatnonzero(~mask)])
    assert joined == log.take(order)


@given(log=logs_with_costs(), data=st.data())
def test_total_profit_is_the_windowed_sum_of_profit(
    log: TransactionLog, data: st.DataObject
) -> None:
    end = log.time[data.draw(st.integers(0, log.n_rows - 1))]
    end_arg: Any = float(end) if log.time_kind == "numeric" else end
    s = log.summarize(observation_end=end_arg)
    kept = log.between(None, end_arg)
    expected = np.bincount(kept.customer_code, weights=kept.profit())
    buyers = np.bincount(kept.customer_code[kept.is_purchase], minlength=len(expected)) > 0
    expected = expected[buyers]  # customers with returns only are left out
    assert s.total_profit is not None
    np.testing.assert_allclose(s.total_profit, expected, rtol=1e-12, atol=1e-6)
    assert set(s.to_arrays()) >= {"total_profit", "total_amount"}


@given(log=transaction_logs(), data=st.data())
def test_row_order_does_not_change_summary(log: TransactionLog, data: st.DataObject) -> None:
    perm = data.draw(st.permutations(range(log.n_rows)))
    period = data.draw(st.sampled_from(PERIODS[log.time_kind]))
    assert_summaries_equal(
        log.summarize(period=period), log.take(np.asarray(perm)).summarize(period=period)
    )


@given(log=transaction_logs(), data=st.data())
def test_split_by_customer_and_concatenate(log: TransactionLog, data: st.DataObject) -> None:
    groups = data.draw(
        st.lists(st.integers(0, 2), min_size=log.n_customers, max_size=log.n_customers)
    )
    period = data.draw(st.sampled_from(PERIODS[log.time_kind]))
    end = log.time.max()
    whole = log.summarize(period=period)
    group_of_row = np.asarray(groups)[log.customer_code]
    parts = [log.take(group_of_row == g) for g in set(groups)]
    pieces = [p.summarize(period=period, observation_end=end) for p in parts]
    merged_ids = np.concatenate([p.customer_id for p in pieces])
    order = np.argsort(merged_ids, kind="stable")
    assert merged_ids[order].tolist() == whole.customer_id.tolist()
    for field in ("first", "last", "n_purchases", "n_periods", "n_returns", "total_amount"):
        merged = np.concatenate([getattr(p, field) for p in pieces])[order]
        np.testing.assert_array_equal(merged, getattr(whole, field))
    # a log of returns only has no purchases: its per-purchase means are 0/0 (NaN) on both sides
    assert TransactionLog.concat(parts).summarize(period=period).totals() == pytest.approx(
        whole.totals(), nan_ok=True
    )


@given(log=transaction_logs(), data=st.data())
def test_observation_end_equals_filtering(log: TransactionLog, data: st.DataObject) -> None:
    row = data.draw(st.integers(0, log.n_rows - 1))
    end = log.time[row]
    end_arg: Any = float(end) if log.time_kind == "numeric" else end
    s = log.summarize(observation_end=end_arg)
    kept = log.between(None, end_arg)
    expected = kept.summarize(observation_end=end_arg)
    assert_summaries_equal(
        s,
        CustomerSummary(
            **expected.to_arrays(),
            observation_end=expected.observation_end,
            period=expected.period,
            n_rows_after_end=log.n_rows - kept.n_rows,
            n_return_only_customers=expected.n_return_only_customers,
        ),
    )
    assert s.n_returns is not None
    in_window = s.n_purchases.sum() + s.n_returns.sum() + s.n_rows_after_end
    returns_only_rows = int(np.count_nonzero(~kept.is_purchase)) - int(s.n_returns.sum())
    assert in_window + returns_only_rows == log.n_rows
    assert bool(np.all(s.first <= s.last))
    assert bool(np.all(s.last <= s.observation_end))
    assert bool(np.all(s.n_periods <= s.n_purchases))
    assert bool(np.all(s.n_periods >= 1))


# ---------------------------------------------------------------------------
# bad input: each a CustrelError naming the column, the value and the row
# ---------------------------------------------------------------------------


def _csv(tmp: Path, text: str) -> Path:
    path = tmp / "bad.csv"
    path.write_text(text)
    return path


def _arrays(**kw: Any) -> Any:
    base: dict[str, Any] = {
        "customer_id": [1, 2, 3],
        "time": ["2024-01-01", "2024-01-02", "2024-01-03"],
        "amount": [1.0, 2.0, 3.0],
    }
    base.update(kw)
    return lambda tmp: TransactionLog.from_arrays(**base)


def _read(text: str, **kw: Any) -> Any:
    return lambda tmp: TransactionLog.from_csv(_csv(tmp, text), **kw)


def _summary(**kw: Any) -> Any:
    log = TransactionLog.from_arrays(
        customer_id=[1, 2], time=["2024-01-01", "2024-02-01"], amount=[1.0, 2.0]
    )
    return lambda tmp: log.summarize(**kw)


GOOD = "customer_id,time,amount\n"
BAD_INPUTS = [
    pytest.param(
        _read(GOOD + "1,2024-01-01,5\n", customer_col="cust"),
        InvalidInputError,
        r"column 'cust' \(customer_col\) is not in the header of .*; its columns are "
        r"\['customer_id', 'time', 'amount'\]",
        id="csv-missing-column",
    ),
    pytest.param(
        _arrays(amount=[1.0, float("nan"), 3.0]),
        InvalidInputError,
        r"amount must be finite, got nan at row 1",
        id="nan-amount",
    ),
    pytest.param(
        _arrays(amount=[1.0, 2.0, float("-inf")]),
        InvalidInputError,
        r"amount must be finite, got -inf at row 2",
        id="infinite-amount",
    ),
    pytest.param(
        _read(GOOD + "1,2024-01-01,5\n2,2024-01-02,inf\n"),
        InvalidInputError,
        r"column 'amount' must be finite, got inf at line 3",
        id="csv-infinite-amount",
    ),
    pytest.param(
        _arrays(time=["2024-01-01", "soon", "2024-01-03"]),
        InvalidInputError,
        r"time has an unparseable date 'soon' at row 1; pass date_format",
        id="unparseable-date",
    ),
    pytest.param(
        _read(GOOD + "1,2024-01-01,5\n2,2024-13-45,6\n", engine="pyarrow"),
        InvalidInputError,
        r"column 'time' has an unparseable date '2024-13-45' at line 3; pass date_format=",
        id="csv-unparseable-date",
    ),
    pytest.param(
        _arrays(time=["2024-01-01", None, "2024-01-03"]),
        InvalidInputError,
        r"time is missing \(None\) at row 1",
        id="missing-date",
    ),
    pytest.param(
        _arrays(time=np.array(["2024-01-01", "NaT", "2024-01-03"], dtype="datetime64[s]")),
        InvalidInputError,
        r"time is missing \(NaT\) at row 1",
        id="nat-date",
    ),
    pytest.param(
        _read(GOOD + "1,2024-01-01,5\n2,,6\n"),
        InvalidInputError,
        r"column 'time' is missing a value at line 3",
        id="csv-missing-date",
    ),
    pytest.param(
        _arrays(time=["20240101", "20240132", "20240103"], date_format="%Y%m%d"),
        InvalidInputError,
        r"time has a date '20240132' at row 1 that does not match date_format '%Y%m%d'",
        id="date-format-mismatch",
    ),
    pytest.param(
        _arrays(time=[dt.date(2024, 1, 1), 5, dt.date(2024, 1, 3)]),
        InvalidInputError,
        r"time mixes dates and numbers \(row 1 is 5\)",
        id="mixed-time-kinds",
    ),
    pytest.param(
        _arrays(time=["2024-01-01", "2024-01-02", 3.5]),
        InvalidInputError,
        r"time mixes dates and numbers \(row 2 is 3.5\); a log holds one kind of time",
        id="number-among-date-strings",
    ),
    pytest.param(
        _arrays(time=["2024-01-01", "2024-01", "2024-01-03"]),
        InvalidInputError,
        r"time has an unparseable date '2024-01' at row 1; dates must be full ISO 8601 dates",
        id="partial-date",
    ),
    pytest.param(
        _arrays(time=[True, False, True]),
        InvalidTypeError,
        r"time must be dates or numbers, got bool True at row 0",
        id="boolean-times",
    ),
    pytest.param(
        _arrays(volume=[1.0, -2.0, 3.0]),
        InvalidInputError,
        r"volume must be >= 0, got -2.0 at row 1; record a return as a negative amount",
        id="negative-volume",
    ),
    pytest.param(
        _arrays(customer_id=[], time=[], amount=[]),
        EmptyInputError,
        r"the log is empty: customer_id has no rows",
        id="empty-log",
    ),
    pytest.param(
        lambda tmp: TransactionLog.from_records([]),
        EmptyInputError,
        r"the log is empty: no records were given",
        id="empty-records",
    ),
    pytest.param(
        _read(GOOD),
        EmptyInputError,
        r"is empty: it has a header and no rows",
        id="csv-header-only",
    ),
    pytest.param(
        _read(GOOD, engine="python"),
        EmptyInputError,
        r"is empty: it has a header and no rows",
        id="csv-header-only-python",
    ),
    pytest.param(_read(""), EmptyInputError, r"is empty: it has no header", id="csv-empty-file"),
    pytest.param(
        _summary(observation_end="2023-12-01"),
        InvalidInputError,
        r"observation_end '2023-12-01' is before the first purchase in the log "
        r"\(2024-01-01T00:00:00\)",
        id="end-before-first-purchase",
    ),
    pytest.param(
        _summary(observation_end=3.0),
        InvalidInputError,
        r"observation_end must be a date for a log with calendar times, got 3.0",
        id="end-of-wrong-kind",
    ),
    pytest.param(
        lambda tmp: TransactionLog.from_arrays(
            customer_id=[1, 1], time=[0.0, 1e300], amount=[1.0, 2.0]
        ).summarize(period=1.0),
        InvalidInputError,
        r"period must be longer: period 1.0 splits times up to 1e\+300 into more periods",
        id="period-overflow",
    ),
    pytest.param(
        _summary(period="fortnight"),
        InvalidInputError,
        r"period must be one of 'day', 'week', 'month', 'quarter', 'year', got 'fortnight'",
        id="unknown-period",
    ),
    pytest.param(
        _read(GOOD + "1,2024-01-01,5\n2,2024-01-02,abc\n", engine="python"),
        InvalidInputError,
        r"column 'amount' has a non-numeric value 'abc' at line 3",
        id="csv-non-numeric-amount",
    ),
    pytest.param(
        _read(GOOD + "1,2024-01-01,5\n2,2024-01-02\n", engine="python"),
        InvalidInputError,
        r"line 3 of '.*bad.csv' has 2 fields, the header has 3",
        id="csv-short-row",
    ),
    pytest.param(
        lambda tmp: TransactionLog.from_csv(tmp / "nope.csv"),
        InvalidInputError,
        r"path '.*nope.csv' does not exist or is not a file",
        id="csv-no-such-file",
    ),
    pytest.param(
        _arrays(amount=[1.0, 2.0]),
        InvalidInputError,
        r"inconsistent lengths: customer_id has 3, time has 3, amount has 2",
        id="inconsistent-lengths",
    ),
    pytest.param(
        _arrays(customer_id=["a", "", "c"]),
        InvalidInputError,
        r"customer_id is missing \(empty\) at row 1",
        id="empty-customer-id",
    ),
    pytest.param(
        _arrays(customer_id=["a", None, "c"]),
        InvalidInputError,
        r"customer_id is missing \(None\) at row 1; pass missing_customer='skip' to leave",
        id="missing-customer-id",
    ),
    pytest.param(
        lambda tmp: TransactionLog.from_records(
            [Transaction("a", 1.0, 2.0, product_cost=1.0), Transaction("b", 2.0, 3.0)]
        ),
        InvalidInputError,
        r"product_cost is given for some records but missing at row 1",
        id="records-partial-column",
    ),
    pytest.param(
        lambda tmp: TransactionLog.from_records(
            [{"customer_id": 1, "time": 2.0, "amount": 1.0}, {"customer_id": 1, "time": 2.0}]
        ),
        InvalidInputError,
        r"record at row 1 is missing 'amount'; give an amount for every record or for none",
        id="record-missing-amount",
    ),
    pytest.param(
        lambda tmp: TransactionLog.from_records([("a", 1.0, 2.0)]),
        InvalidTypeError,
        r"records must be Transaction values or mappings, got tuple at row 0",
        id="record-wrong-type",
    ),
    pytest.param(
        lambda tmp: TransactionLog.from_frame(
            __import__("pandas").DataFrame({"customer_id": [1], "time": [1.0], "amt": [2.0]})
        ),
        InvalidInputError,
        r"amount column 'amount' is not in the frame; its columns are \['customer_id', 'time', 'amt'\]",
        id="frame-missing-column",
    ),
    pytest.param(
        lambda tmp: TransactionLog.from_frame(
            __import__("pandas").DataFrame(
                {"customer_id": [1, 2], "time": [1.0, 2.0], "amount": [2.0, None]}
            )
        ),
        InvalidInputError,
        r"column 'amount' is missing a value at row 1",
        id="frame-missing-amount",
    ),
    pytest.param(
        lambda tmp: TransactionLog.from_frame(
            __import__("pandas").DataFrame(
                {
                    "customer_id": __import__("pandas").array([1, None], dtype="Int64"),
                    "time": [1.0, 2.0],
                    "amount": [2.0, 3.0],
                }
            )
        ),
        InvalidInputError,
        r"customer_id is missing \(None\) at row 1",
        id="frame-missing-id",
    ),
    pytest.param(
        lambda tmp: TransactionLog.concat(
            [
                TransactionLog.from_arrays(customer_id=[1], time=[1.0], amount=[1.0]),
                TransactionLog.from_arrays(customer_id=[1], time=["2024-01-01"], amount=[1.0]),
            ]
        ),
        InvalidInputError,
        r"logs mix calendar and numeric times",
        id="concat-mixed-kinds",
    ),
    pytest.param(
        lambda tmp: TransactionLog.concat(
            [
                TransactionLog.from_arrays(customer_id=[1], time=[1.0], amount=[1.0]),
                TransactionLog.from_arrays(customer_id=["1"], time=[1.0], amount=[1.0]),
            ]
        ),
        InvalidInputError,
        r"logs mix numeric and text customer ids",
        id="concat-mixed-id-kinds",
    ),
]


@pytest.mark.parametrize(("make", "error", "match"), BAD_INPUTS)
def test_bad_input(make: Any, error: type[Exception], match: str, tmp_path: Path) -> None:
    with pytest.raises(error, match=match):
        make(tmp_path)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(
    ("body", "match"),
    [
        ("1,2024-01-01,5\n2,2024-01-02,\n", r"column 'amount' is missing a value at line 3"),
        (
            "1,2024-01-01,5\n2,2024-01-02,nan\n",
            r"column 'amount' must be finite, got nan at line 3",
        ),
        (
            "1,2024-01-01,5\n2,2024-01-02,x1\n",
            r"column 'amount' has a non-numeric value 'x1' at line 3",
        ),
        ("1,2024-01-01,5\n,2024-01-02,3\n", r"column 'customer_id' is missing \(empty\) at line 3"),
        (
            "1,2024-01-01,5\n2,someday,3\n",
            r"column 'time' has an unparseable date 'someday' at line 3",
        ),
        ("", r"is empty: it has a header and no rows"),
        (
            "1,2024-01-01,5\n  ,2024-01-02,3\n",
            r"column 'customer_id' is missing \(empty\) at line 3",
        ),
        ("1,2024-01-01,5\n2,   ,3\n", r"column 'time' is missing a value at line 3"),
        ("1,2024-01-01,5\n2,2024-01-02, \n", r"column 'amount' is missing a value at line 3"),
        ("1,2024-01-01,5\n2,17,3\n", r"column 'time' mixes dates and numbers \(line 3 is '17'\)"),
    ],
    ids=[
        "empty-amount",
        "nan-amount",
        "text-amount",
        "empty-id",
        "bad-date",
        "header-only",
        "blank-id",
        "blank-date",
        "blank-amount",
        "number-among-dates",
    ],
)
def test_bad_csv_same_message_for_every_engine(
    engine: str, body: str, match: str, tmp_path: Path
) -> None:
    with pytest.raises(InvalidInputError, match=match):
        TransactionLog.from_csv(_csv(tmp_path, GOOD + body), engine=engine)


def test_period_index_quarters_and_years_follow_the_calendar() -> None:
    # A log starting mid-quarter: 2024-03-31 is still Q1, 2024-04-01 opens Q2,
    # 2025-01-02 is four calendar quarters after Q1 2024.
    log = TransactionLog.from_arrays(
        customer_id=[1, 1, 1, 1],
        time=["2024-02-15", "2024-03-31", "2024-04-01", "2025-01-02"],
        amount=[1.0, 1.0, 1.0, 1.0],
    )
    assert log.period_index("quarter").tolist() == [0, 0, 1, 4]
    assert log.period_index("year").tolist() == [0, 0, 0, 1]
    assert log.period_index("month").tolist() == [0, 1, 2, 11]
    assert log.period_index("quarter", origin="2023-12-31").tolist() == [1, 1, 2, 5]


@given(
    log=transaction_logs(max_rows=60, max_customers=6),
    period=st.sampled_from([None, "week", "month", 2.5]),
    ranges=st.booleans(),
)
def test_summarize_with_returns_equals_the_summary_of_the_purchases(
    log: TransactionLog, period: Any, ranges: bool
) -> None:
    """Returns stay in place (masked): counts, first / last and periods are the purchases'.

    The total is every row's, added in row order.
    """
    from unittest import mock

    from custrel import _parallel

    amount = log.amount
    bought = amount >= 0
    assume(bought.any())
    if log.time_kind == "numeric" and isinstance(period, str):
        period = 1.0
    purchases = log.take(np.flatnonzero(bought))
    with (
        mock.patch.object(_parallel, "MIN_PARALLEL_ROWS", 1 if ranges else 10**12),
        mock.patch.object(_parallel, "MIN_RANGE_ROWS", 1),
    ):
        got = log.summarize(period=period, threads=3 if ranges else 1)
    want = purchases.summarize(period=period, threads=1)
    for name in ("customer_id", "first", "last", "n_purchases", "n_periods"):
        assert getattr(got, name).tobytes() == getattr(want, name).tobytes(), name
    codes = np.searchsorted(log.customer_labels, got.customer_id)
    totals = np.bincount(log.customer_code, weights=amount, minlength=len(log.customer_labels))
    assert got.total_amount is not None
    assert got.total_amount.tobytes() == totals[codes].tobytes()
