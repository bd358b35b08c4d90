"""Tests of custrel.rfm: the mergeable summary, the RFM table, scores and segments."""

from __future__ import annotations

import csv
import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from custrel import (
    DEFAULT_SEGMENTS,
    DIMENSIONS,
    EmptyInputError,
    InvalidInputError,
    InvalidTypeError,
    RFMCollapseWarning,
    RFMSummary,
    RFMTable,
    SegmentRule,
    SegmentTable,
    TransactionLog,
    rfm_scores,
    rfm_segments,
    rfm_table,
    summarize_rfm,
)
from strategies import transaction_logs

SEGMENT_NAMES = (
    "champions",
    "loyal",
    "potential loyalists",
    "new",
    "promising",
    "need attention",
    "about to sleep",
    "at risk",
    "can't lose them",
    "hibernating",
    "lost",
)


def small_log() -> TransactionLog:
    # Hand-made: a buys twice on 2024-03-01 (a duplicate row, kept) and returns 5 on
    # 2024-03-10; b buys on 2024-01-10 and 2024-04-02 (after the analysis date).
    return TransactionLog.from_arrays(
        customer_id=["a", "a", "b", "a", "b"],
        time=["2024-03-01", "2024-03-01", "2024-01-10", "2024-03-10", "2024-04-02"],
        amount=[20.0, 20.0, 15.0, -5.0, 99.0],
    )


def table(recency: Any, frequency: Any, monetary: Any) -> RFMTable:
    n = len(recency)
    return RFMTable.from_arrays(
        customer_id=np.arange(n),
        recency=recency,
        frequency=frequency,
        monetary_value=monetary,
    )


def assert_same_summary(a: RFMSummary, b: RFMSummary) -> None:
    assert np.array_equal(a.customer_id, b.customer_id)
    assert np.array_equal(a.first, b.first, equal_nan=True)
    assert np.array_equal(a.last, b.last, equal_nan=True)
    assert np.array_equal(a.n_transactions, b.n_transactions)
    np.testing.assert_allclose(a.total_amount, b.total_amount, rtol=1e-12, atol=1e-8)
    assert a.frequency_basis == b.frequency_basis
    assert a.n_rows_after == b.n_rows_after
    if a.frequency_basis == "days":
        assert b.n_days is not None
        assert np.array_equal(a.n_days, b.n_days)
        assert np.array_equal(a.day_customer, b.day_customer)
        assert np.array_equal(a.day_number, b.day_number)


# ---------------------------------------------------------------------------
# Known values
# ---------------------------------------------------------------------------


class TestKnownValues:
    def test_hand_made_table_at_an_analysis_date(self) -> None:
        # Analysis date 2024-03-31: a last bought 2024-03-01 (30 days; its row of
        # 2024-03-10 is a return, which is not a purchase), b 2024-01-10 (81 days);
        # b's row of 2024-04-02 is after the date, excluded and counted.
        t = rfm_table(small_log(), "2024-03-31", after="exclude")
        assert t.customer_id.tolist() == ["a", "b"]
        assert t.recency.tolist() == [30.0, 81.0]
        assert t.frequency.tolist() == [2, 1]  # the duplicate row counts, the return does not
        assert t.monetary_value.tolist() == [35.0, 15.0]  # 20 + 20 - 5: returns netted
        assert t.n_rows_after == 1
        assert t.monetary_basis == "sum"
        assert t.frequency_basis == "transactions"
        assert t.analysis_date == np.datetime64("2024-03-31", "s")

    def test_distinct_days_and_mean(self) -> None:
        # a bought on 1 distinct day (03-01 twice; 03-10 is a return): 35 per purchase day.
        t = rfm_table(
            small_log(),
            "2024-03-31",
            frequency_basis="days",
            monetary_basis="mean",
            after="exclude",
        )
        assert t.frequency.tolist() == [1, 1]
        assert t.monetary_value.tolist() == [35.0, 15.0]
        t2 = rfm_table(small_log(), "2024-03-31", monetary_basis="mean", after="exclude")
        assert t2.monetary_value.tolist() == pytest.approx([35.0 / 2, 15.0])

    def test_recency_from_the_analysis_date_not_the_last_date(self) -> None:
        # The last purchase of a is 2024-03-01 (its 2024-03-10 row is a return); at
        # 2024-06-30 recency is 121 days, not the 0 that measuring from the last date
        # in the data would give.
        log = small_log().take([0, 1, 2, 3])
        assert rfm_table(log, "2024-06-30").recency.tolist() == [121.0, 172.0]

    def test_units(self) -> None:
        t = rfm_table(small_log(), "2024-03-31", unit="week", after="exclude")
        assert t.recency.tolist() == pytest.approx([30 / 7, 81 / 7])
        numeric = TransactionLog.from_arrays(customer_id=[1, 1], time=[0.5, 2.0], amount=[1, 2])
        assert rfm_table(numeric, 6.0).recency.tolist() == [4.0]
        assert rfm_table(numeric, 6.0, unit=2.0).recency.tolist() == [2.0]

    def test_rows_at_the_analysis_date_are_included(self) -> None:
        t = rfm_table(small_log(), "2024-04-02")
        assert t.recency.tolist() == [32.0, 0.0]
        assert t.n_rows_after == 0

    def test_rows_after_the_date_are_refused_by_default(self) -> None:
        with pytest.raises(InvalidInputError, match=r"1 rows are after analysis_date .*row 4"):
            rfm_table(small_log(), "2024-03-31")

    def test_cdnow_published_summary(self, shared_data: Path) -> None:
        # Fader & Hardie's CDNOW sample summary (cdnow_customers_summary.csv): x = repeat
        # purchase days in the 39-week calibration period ending 1997-09-30, t_x and T in
        # weeks from the first purchase. So x = distinct days - 1 and recency = T - t_x.
        # The file prints T and t_x rounded to 2 decimals: hence the 0.01 tolerance.
        raw = np.loadtxt(shared_data / "CDNOW_sample.txt", dtype=str)
        log = TransactionLog.from_arrays(
            customer_id=raw[:, 1].astype(int),  # the sample's own ids, as in the summary
            time=raw[:, 2],
            amount=raw[:, 4].astype(float),
            date_format="%Y%m%d",
        )
        s = summarize_rfm(log, "1997-09-30", frequency_basis="days", after="exclude")
        with open(shared_data / "cdnow_customers_summary.csv") as fh:
            rows = list(csv.DictReader(fh))
        ids = np.array([int(r["ID"]) for r in rows])
        x = np.array([int(r["frequency"]) for r in rows])
        t_x = np.array([float(r["recency"]) for r in rows])
        big_t = np.array([float(r["T"]) for r in rows])
        assert np.array_equal(s.customer_id, ids)
        assert s.n_days is not None
        assert np.array_equal(s.n_days - 1, x)
        t = s.to_table(unit="week")
        np.testing.assert_allclose(t.recency, big_t - t_x, atol=0.01)
        assert s.n_rows_after == log.n_rows - int(s.n_transactions.sum())


class TestMerge:
    def test_merge_known(self) -> None:
        log = small_log()
        whole = summarize_rfm(log, "2024-04-30", frequency_basis="days")
        parts = [
            summarize_rfm(log.take([i]), "2024-04-30", frequency_basis="days") for i in range(5)
        ]
        assert_same_summary(RFMSummary.combine(parts), whole)
        assert_same_summary(parts[0].merge(parts[1]).merge(parts[2]), RFMSummary.combine(parts[:3]))

    @given(
        log=transaction_logs(max_rows=40, max_customers=6),
        parts=st.integers(1, 4),
        data=st.data(),
        basis=st.sampled_from(["transactions", "days"]),
    )
    def test_merge_of_arbitrary_row_splits_equals_whole(
        self, log: TransactionLog, parts: int, data: st.DataObject, basis: Any
    ) -> None:
        # Rows go to parts at random (not by customer): same customer, same day may
        # be split across parts, which the distinct-day pairs must handle.
        assign = np.asarray(
            data.draw(st.lists(st.integers(0, parts - 1), min_size=log.n_rows, max_size=log.n_rows))
        )
        date = log.time.max()
        whole = summarize_rfm(log, date, frequency_basis=basis)
        summaries = [
            summarize_rfm(log.take(assign == p), date, frequency_basis=basis)
            for p in range(parts)
            if (assign == p).any()
        ]
        order = data.draw(st.permutations(range(len(summaries))))
        merged = RFMSummary.combine([summaries[i] for i in order])
        assert_same_summary(merged, whole)

    @given(log=transaction_logs(max_rows=30, max_customers=5), data=st.data())
    def test_merge_counts_rows_after_the_date(
        self, log: TransactionLog, data: st.DataObject
    ) -> None:
        t = log.numeric_time()
        cut = data.draw(st.sampled_from(sorted(set(t.tolist()))))
        date = log.time[int(np.flatnonzero(t == cut)[0])]
        split = data.draw(st.integers(0, log.n_rows))
        whole = summarize_rfm(log, date, after="exclude")
        pieces = [
            summarize_rfm(log.take(rows), date, after="exclude")
            for rows in (np.arange(split), np.arange(split, log.n_rows))
            if len(rows)
        ]
        merged = RFMSummary.combine(pieces)
        assert_same_summary(merged, whole)
        assert merged.n_rows_after == int((t > cut).sum())

    def test_to_arrays(self) -> None:
        s = summarize_rfm(small_log(), "2024-04-30", frequency_basis="days")
        cols = s.to_arrays()
        assert list(cols) == [
            "customer_id",
            "first",
            "last",
            "n_transactions",
            "total_amount",
            "n_days",
        ]
        assert cols["n_days"].tolist() == [1, 2]  # a's 03-10 row is a return, not a purchase day
        cols["total_amount"][0] = -1.0  # a copy: the summary is unchanged
        assert s.total_amount[0] == 35.0
        assert "n_days" not in summarize_rfm(small_log(), "2024-04-30").to_arrays()

    def test_merge_refuses_different_settings(self) -> None:
        log = small_log()
        a = summarize_rfm(log, "2024-04-30")
        with pytest.raises(InvalidInputError, match="different analysis dates"):
            a.merge(summarize_rfm(log, "2024-05-01"))
        with pytest.raises(InvalidInputError, match="different frequency_basis"):
            a.merge(summarize_rfm(log, "2024-04-30", frequency_basis="days"))
        numeric = TransactionLog.from_arrays(customer_id=[1], time=[1.0], amount=[1.0])
        with pytest.raises(InvalidInputError, match="different time_kind"):
            a.merge(summarize_rfm(numeric, 2.0))
        int_ids = TransactionLog.from_arrays(customer_id=[1], time=["2024-01-01"], amount=[1.0])
        with pytest.raises(InvalidInputError, match="customer ids differ in type"):
            a.merge(summarize_rfm(int_ids, "2024-04-30"))
        with pytest.raises(EmptyInputError, match="summaries is empty"):
            RFMSummary.combine([])
        with pytest.raises(InvalidTypeError, match="at position 1"):
            RFMSummary.combine([a, "x"])  # type: ignore[list-item]


class TestTableProperties:
    @given(log=transaction_logs(), data=st.data())
    def test_row_order_does_not_matter(self, log: TransactionLog, data: st.DataObject) -> None:
        perm = np.asarray(data.draw(st.permutations(range(log.n_rows))))
        date = log.time.max()
        a = summarize_rfm(log, date, frequency_basis="days")
        b = summarize_rfm(log.take(perm), date, frequency_basis="days")
        assert_same_summary(a, b)

    @given(log=transaction_logs())
    def test_table_invariants(self, log: TransactionLog) -> None:
        # the returns rule: purchases (amount >= 0) are counted, returns only netted
        buys = log.amount >= 0
        assume(buys.any())
        date = log.time.max()
        rows = rfm_table(log, date)
        days = rfm_table(log, date, frequency_basis="days", monetary_basis="mean")
        assert (rows.recency >= 0).all()
        assert (days.frequency >= 1).all()
        assert (days.frequency <= rows.frequency).all()
        assert int(rows.frequency.sum()) == int(buys.sum())
        buyers = np.isin(log.customer_code, log.customer_code[buys])
        assert rows.n_customers + rows.n_returns_only == log.n_customers
        np.testing.assert_allclose(rows.monetary_value.sum(), log.amount[buyers].sum(), atol=1e-6)
        np.testing.assert_allclose(
            days.monetary_value * days.frequency, rows.monetary_value, atol=1e-6
        )

    def test_inputs_are_not_mutated(self) -> None:
        log = small_log()
        before = log.to_arrays()
        rfm_table(log, "2024-04-30")
        after = log.to_arrays()
        for key, value in before.items():
            assert np.array_equal(value, after[key])
        t = rfm_table(log, "2024-04-30")
        with pytest.raises(ValueError, match="read-only"):
            t.recency[0] = 1.0


# ---------------------------------------------------------------------------
# Scores
# ---------------------------------------------------------------------------


class TestScores:
    def test_quantile_scores_known(self) -> None:
        # 10 distinct values, k = 5: two customers per score; recency reversed.
        t = table(np.arange(10.0), np.arange(1, 11), np.arange(10.0) * 10)
        s = rfm_scores(t)
        assert s.recency_score.tolist() == [5, 5, 4, 4, 3, 3, 2, 2, 1, 1]
        assert s.frequency_score.tolist() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
        assert s.cell.tolist()[:2] == ["511", "511"]
        assert s.cell.tolist()[-1] == "155"
        assert s.score.tolist() == [7, 7, 8, 8, 9, 9, 10, 10, 11, 11]
        assert s.methods == dict.fromkeys(DIMENSIONS, "quantile")
        # the 0.2 quantile of 1..10 is 2.8 (linear interpolation)
        assert s.cut_points["frequency"] == pytest.approx((2.8, 4.6, 6.4, 8.2))

    def test_ties_never_split(self) -> None:
        # 4 customers with frequency 1, then 2, 3, 4, 5, 6: equal-count binning would
        # split the four ties over scores 1 and 2; here they all get 1.
        t = table(np.arange(10.0), [1, 1, 1, 1, 2, 3, 4, 5, 6, 7], np.arange(10.0))
        s = rfm_scores(t, on_collapse="ignore")
        assert s.frequency_score.tolist()[:4] == [1, 1, 1, 1]
        assert len(set(s.frequency_score[:4].tolist())) == 1

    def test_heavily_tied_frequency_is_reported(self) -> None:
        # 80 % of customers bought once: the 0.2..0.8 quantiles are all 1, so the
        # one-time buyers get 1 and every repeat buyer gets 5 (they are the top fifth).
        freq = [1] * 80 + [2] * 10 + [3] * 6 + [7] * 4
        t = table(np.arange(100.0), freq, np.arange(100.0))
        with pytest.warns(RFMCollapseWarning, match=r"frequency uses 2 of 5 levels \(1, 5\)"):
            s = rfm_scores(t)
        assert s.levels_used()["frequency"] == (1, 5)
        assert s.collapsed() == ("frequency",)
        assert set(s.frequency_score[:80].tolist()) == {1}
        assert set(s.frequency_score[80:].tolist()) == {5}
        assert "frequency=2/5" in repr(s)
        with pytest.raises(InvalidInputError, match="80% of customers share the value 1"):
            rfm_scores(t, on_collapse="raise")
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert rfm_scores(t, on_collapse="ignore").collapsed() == ("frequency",)

    def test_user_thresholds(self) -> None:
        # Bins are right-closed: recency <= 30 -> level 1 -> score 5 (reversed).
        t = table([0, 30, 31, 400], [1, 2, 3, 10], [10, 50, 100, 1000])
        s = rfm_scores(
            t,
            thresholds={"recency": [30, 90, 180, 365], "frequency": [1, 2, 4, 8]},
            on_collapse="ignore",
        )
        assert s.recency_score.tolist() == [5, 5, 4, 1]
        assert s.frequency_score.tolist() == [1, 2, 3, 5]
        assert s.methods["recency"] == "thresholds"
        assert s.methods["monetary_value"] == "quantile"
        assert s.cut_points["recency"] == (30.0, 90.0, 180.0, 365.0)

    def test_cut_points_rescore_new_data_on_the_same_scale(self) -> None:
        rng = np.random.default_rng(3)
        t = table(rng.uniform(0, 300, 50), rng.integers(1, 20, 50), rng.gamma(2, 50, 50))
        s = rfm_scores(t, on_collapse="ignore")
        again = rfm_scores(
            t,
            thresholds={d: list(s.cut_points[d] or ()) for d in DIMENSIONS},
            on_collapse="ignore",
        )
        assert np.array_equal(again.cell, s.cell)

    def test_nested_scoring(self) -> None:
        # Recency splits 8 customers into 2 groups of 4 (k=2); within each group the
        # frequency median splits again, and monetary within each (R, F) pair.
        t = table(
            [1, 2, 3, 4, 10, 20, 30, 40],
            [1, 2, 3, 4, 10, 20, 30, 40],
            [5, 1, 5, 1, 5, 1, 5, 1],
        )
        s = rfm_scores(t, k=2, nested=True, on_collapse="ignore")
        assert s.recency_score.tolist() == [2, 2, 2, 2, 1, 1, 1, 1]
        assert s.frequency_score.tolist() == [1, 1, 2, 2, 1, 1, 2, 2]
        assert s.monetary_score.tolist() == [2, 1, 2, 1, 2, 1, 2, 1]
        assert s.cut_points["frequency"] is None
        assert s.methods["frequency"] == "nested quantile"
        independent = rfm_scores(t, k=2, on_collapse="ignore")
        assert independent.frequency_score.tolist() == [1, 1, 1, 1, 2, 2, 2, 2]

    def test_weighted_score(self) -> None:
        t = table([1, 50], [5, 1], [100, 1])
        s = rfm_scores(t, k=2)
        assert s.weighted_score((2, 1, 1)).tolist() == [2.0, 1.0]
        assert s.weighted_score((1, 0, 0)).tolist() == [2.0, 1.0]

    @given(
        values=hnp.arrays(
            np.float64,
            st.integers(1, 60),
            elements=st.floats(0, 1000, allow_nan=False).map(lambda x: round(x, 0)),
        ),
        k=st.integers(2, 9),
    )
    def test_score_properties(self, values: Any, k: int) -> None:
        freq = np.floor(values / 100) + 1
        t = table(values, freq, values - 500)
        s = rfm_scores(t, k=k, on_collapse="ignore")
        for dim in DIMENSIONS:
            sc = s.scores(dim)
            x = np.asarray(t.column(dim), dtype=float)
            assert ((sc >= 1) & (sc <= k)).all()
            # equal values, equal scores; the order of values is kept (recency reversed)
            order = np.argsort(x, kind="stable")
            xs, ss = x[order], sc[order]
            same = xs[1:] == xs[:-1]
            assert (ss[1:][same] == ss[:-1][same]).all()
            step = np.diff(ss)
            assert (step <= 0).all() if dim == "recency" else (step >= 0).all()
        assert set(np.unique(s.cell).tolist()) <= {
            f"{a}{b}{c}" for a in range(1, k + 1) for b in range(1, k + 1) for c in range(1, k + 1)
        }
        assert np.array_equal(s.score, s.recency_score + s.frequency_score + s.monetary_score)

    @given(
        values=hnp.arrays(
            np.float64,
            st.integers(2, 80),
            elements=st.floats(-1e4, 1e4, allow_nan=False, allow_subnormal=False),
            unique=True,
        ),
        k=st.integers(2, 9),
    )
    def test_agrees_with_pandas_qcut_when_edges_are_distinct(self, values: Any, k: int) -> None:
        # The pandas recipe: pd.qcut(x, k, labels=False) + 1 (recency: k - that).
        # Where qcut works (distinct edges) custrel gives the same levels.
        try:
            expected = pd.qcut(values, k, labels=False) + 1
        except ValueError:  # duplicate edges: qcut refuses, see the next test
            return
        t = table(np.abs(values), np.arange(1, len(values) + 1), values)
        s = rfm_scores(t, k=k, on_collapse="ignore")
        # pandas finds the quantile position (n-1)j/k in floating point; where it is a
        # whole number, pandas' edge can be an ulp below the data value and that one
        # customer goes one level up. custrel computes the position exactly.
        edges = np.asarray(s.cut_points["monetary_value"])
        on_edge = np.isin(values, edges)
        assert np.array_equal(s.monetary_score[~on_edge], expected[~on_edge])
        assert (expected[on_edge] - s.monetary_score[on_edge] <= 1).all()
        assert (expected[on_edge] - s.monetary_score[on_edge] >= 0).all()

    def test_where_the_pandas_recipes_differ(self) -> None:
        # Heavily tied data: plain qcut fails on duplicate edges; the common workaround
        # qcut(rank(method="first")) splits ties (equal frequency, different scores);
        # duplicates="drop" renumbers densely. custrel gives ties one score, keeps
        # the quantile meaning (repeat buyers are the top fifth: 5) and reports it.
        freq = pd.Series([1] * 8 + [2, 3])
        with pytest.raises(ValueError, match="Bin edges must be unique"):
            pd.qcut(freq, 5, labels=False)
        first = pd.qcut(freq.rank(method="first"), 5, labels=False) + 1
        assert first[:8].nunique() == 4  # the 8 one-time buyers get scores 1..4
        dropped = pd.qcut(freq, 5, labels=False, duplicates="drop") + 1
        assert dropped.tolist() == [1] * 8 + [2, 2]
        t = table(np.arange(10.0), freq.to_numpy(), np.arange(10.0))
        s = rfm_scores(t, on_collapse="ignore")
        assert s.frequency_score.tolist() == [1] * 8 + [5, 5]


# ---------------------------------------------------------------------------
# Segments
# ---------------------------------------------------------------------------


def all_cells(k: int) -> Any:
    g = np.arange(1, k + 1)
    r, f, m = np.meshgrid(g, g, g, indexing="ij")
    return r.ravel(), f.ravel(), m.ravel()


class TestSegments:
    def test_default_table_is_a_partition_of_the_125_triples(self) -> None:
        cov = DEFAULT_SEGMENTS.coverage()
        assert cov.gaps == ()
        assert cov.overlaps == ()
        assert cov.is_partition
        assert sum(r.n_cells for r in DEFAULT_SEGMENTS.rules) == 125
        assert DEFAULT_SEGMENTS.names() == SEGMENT_NAMES

    @pytest.mark.parametrize("k", range(2, 10))
    def test_default_table_covers_every_triple_of_any_k(self, k: int) -> None:
        r, f, m = all_cells(k)
        t = table(np.arange(len(r), dtype=float), np.ones(len(r)), np.zeros(len(r)))
        s = rfm_scores(
            t,
            k=k,
            thresholds={
                "recency": np.arange(1, k) - 0.5,
                "frequency": np.arange(1, k) + 0.5,
                "monetary_value": np.arange(1, k) + 0.5,
            },
            on_collapse="ignore",
        )
        # forge the full grid of triples through the thresholds: recency value x has
        # level x+1 -> score k - x, so feed recency k - r.
        t = table(k - r, f, m)
        s = rfm_scores(t, k=k, thresholds=dict(s.cut_points), on_collapse="ignore")
        assert np.array_equal(s.recency_score, r)
        assert np.array_equal(s.frequency_score, f)
        seg = rfm_segments(s)
        assert seg.n_other == 0
        assert sum(seg.counts().values()) == k**3

    def test_known_segments(self) -> None:
        t = table(
            [1, 1, 1, 1, 5, 5, 5, 5, 5],
            [5, 5, 1, 2, 5, 5, 1, 1, 3],
            [5, 1, 1, 1, 5, 1, 1, 1, 1],
        )
        cuts = {
            "recency": [1, 2, 3, 4],
            "frequency": [1, 2, 3, 4],
            "monetary_value": [1, 2, 3, 4],
        }
        s = rfm_scores(t, thresholds=cuts, on_collapse="ignore")
        # recency 1 -> score 5, recency 5 -> score 1
        assert s.cell.tolist() == ["555", "551", "511", "521", "155", "151", "111", "111", "131"]
        seg = rfm_segments(s)
        assert seg.segment.tolist() == [
            "champions",
            "loyal",
            "new",
            "potential loyalists",
            "can't lose them",
            "at risk",
            "lost",
            "lost",
            "at risk",
        ]
        counts = seg.counts()
        assert counts["lost"] == 2
        assert counts["hibernating"] == 0
        summary = seg.summary()
        lost = summary["segment"].tolist().index("lost")
        assert summary["customers"][lost] == 2
        assert summary["share"].sum() == pytest.approx(1.0)
        hib = summary["segment"].tolist().index("hibernating")
        assert np.isnan(summary["mean_recency"][hib])

    def test_user_table_with_a_gap_reports_other(self) -> None:
        rules = [("recent", (2, 2), (1, 2), (1, 2)), ("old high", 1, 2, (1, 2))]
        t = table([1, 9, 9, 1], [1, 1, 5, 5], [1, 1, 5, 5])
        s = rfm_scores(t, k=2, on_collapse="ignore")
        seg = rfm_segments(s, rules)
        assert seg.gaps == ("111", "112")
        assert seg.segment.tolist() == ["recent", "other", "old high", "recent"]
        assert seg.n_other == 1
        assert seg.names == ("recent", "old high", "other")
        assert seg.counts() == {"recent": 2, "old high": 1, "other": 1}
        assert "n_other=1" in repr(seg)
        seg2 = rfm_segments(s, rules, other="unassigned")
        assert seg2.n_other == 1
        assert "unassigned" in seg2.segment.tolist()

    def test_overlapping_rules(self) -> None:
        rules = SegmentTable([("a", (1, 2), (1, 2), (1, 2)), ("b", 2, 2, 2)], k=2)
        assert rules.coverage().overlaps == (("222", ("a", "b")),)
        s = rfm_scores(table([1, 9], [5, 1], [5, 1]), k=2)
        with pytest.raises(InvalidInputError, match=r"overlap in 1 cells \(222: a, b\)"):
            rfm_segments(s, rules)
        seg = rfm_segments(s, rules, overlap="first")
        assert seg.segment.tolist() == ["a", "a"]
        assert seg.overlaps == (("222", ("a", "b")),)

    def test_scale_mapping(self) -> None:
        # k = 3 scores against the 1..5 default: s' = 1 + floor(5 (s - 1) / 3): 1, 2, 4
        t = table([1, 50, 100], [9, 5, 1], [900, 50, 1])
        s = rfm_scores(t, k=3)
        assert s.cell.tolist() == ["333", "222", "111"]
        assert rfm_segments(s).segment.tolist() == ["champions", "hibernating", "lost"]

    @given(log=transaction_logs(max_rows=60, max_customers=20), k=st.integers(2, 9))
    def test_every_customer_in_exactly_one_segment(self, log: TransactionLog, k: int) -> None:
        assume((log.amount >= 0).any())
        t = rfm_table(log, log.time.max())
        seg = rfm_segments(rfm_scores(t, k=k, on_collapse="ignore"))
        assert len(seg.segment) == t.n_customers
        assert sum(seg.counts().values()) == t.n_customers
        assert set(seg.segment.tolist()) <= set(SEGMENT_NAMES)
        assert seg.n_other == 0

    def test_describe_lists_every_rule(self) -> None:
        text = DEFAULT_SEGMENTS.describe()
        assert text.splitlines()[0].split() == ["segment", "R", "F", "M", "cells"]
        assert len(text.splitlines()) == len(DEFAULT_SEGMENTS.rules) + 1
        assert "can't lose them      1-2  4-5  4-5      8" in text


# ---------------------------------------------------------------------------
# Bad inputs
# ---------------------------------------------------------------------------

T3 = table([1, 2, 3], [1, 2, 3], [1, 2, 3])

BAD = [
    pytest.param(
        lambda: summarize_rfm("log", "2024-01-01"),  # type: ignore[arg-type]
        InvalidTypeError,
        "log must be a TransactionLog, got str",
        id="log-not-a-log",
    ),
    pytest.param(
        lambda: summarize_rfm(small_log(), 5.0),
        InvalidInputError,
        "analysis_date must be a date for a log with calendar times, got 5.0",
        id="numeric-date-for-calendar-log",
    ),
    pytest.param(
        lambda: summarize_rfm(small_log(), "2024-13-45"),
        InvalidInputError,
        "analysis_date has an unparseable date '2024-13-45'",
        id="unparseable-date",
    ),
    pytest.param(
        lambda: rfm_table(small_log(), "2023-01-01", after="exclude"),
        EmptyInputError,
        r"no customer bought on or before analysis_date 2023-01-01T00:00:00 \(5 rows are after it\)",
        id="all-rows-after",
    ),
    pytest.param(
        lambda: summarize_rfm(small_log(), "2024-12-31", frequency_basis="orders"),  # type: ignore[arg-type]
        InvalidInputError,
        "frequency_basis must be one of 'transactions', 'days', got 'orders'",
        id="bad-frequency-basis",
    ),
    pytest.param(
        lambda: summarize_rfm(small_log(), "2024-12-31", after="drop"),  # type: ignore[arg-type]
        InvalidInputError,
        "after must be one of 'raise', 'exclude', got 'drop'",
        id="bad-after",
    ),
    pytest.param(
        lambda: rfm_table(small_log(), "2024-12-31", monetary_basis="median"),  # type: ignore[arg-type]
        InvalidInputError,
        "monetary_basis must be one of 'sum', 'mean', got 'median'",
        id="bad-monetary-basis",
    ),
    pytest.param(
        lambda: rfm_table(small_log(), "2024-12-31", unit="fortnight"),
        InvalidInputError,
        "unit must be one of 'day', 'week', 'month', 'quarter', 'year', got 'fortnight'",
        id="bad-unit",
    ),
    pytest.param(
        lambda: rfm_table(
            TransactionLog.from_arrays(customer_id=[1], time=[1.0], amount=[1.0]), 5.0, unit="day"
        ),
        InvalidInputError,
        "unit must be a number \\(the period length\\) for a log with numeric times, got 'day'",
        id="calendar-unit-for-numeric-log",
    ),
    pytest.param(
        lambda: summarize_rfm(
            TransactionLog.from_arrays(customer_id=[1], time=[1.0], amount=[1.0]), "2024-01-01"
        ),
        InvalidInputError,
        "analysis_date must be a number for a log with numeric times, got '2024-01-01'",
        id="date-for-numeric-log",
    ),
    pytest.param(
        lambda: table([1, -2], [1, 1], [1, 1]),
        InvalidInputError,
        r"recency must be >= 0, got -2.0 at row 1",
        id="negative-recency",
    ),
    pytest.param(
        lambda: table([1, 2], [1, 0], [1, 1]),
        InvalidInputError,
        r"frequency must be >= 1, got 0.0 at row 1",
        id="zero-frequency",
    ),
    pytest.param(
        lambda: table([1, 2], [1, 1.5], [1, 1]),
        InvalidInputError,
        r"frequency must be whole numbers, got 1.5 at row 1",
        id="fractional-frequency",
    ),
    pytest.param(
        lambda: table([1, 2], [1, 1], [1, float("nan")]),
        InvalidInputError,
        r"monetary_value must be finite, got nan at row 1",
        id="nan-monetary",
    ),
    pytest.param(
        lambda: RFMTable.from_arrays(
            customer_id=["a", "b", "a"],
            recency=[1, 2, 3],
            frequency=[1, 1, 1],
            monetary_value=[1, 1, 1],
        ),
        InvalidInputError,
        r"customer_id must be distinct, got 'a' at rows 0 and 2",
        id="duplicate-customer",
    ),
    pytest.param(
        lambda: RFMTable.from_arrays(customer_id=[], recency=[], frequency=[], monetary_value=[]),
        EmptyInputError,
        "customer_id is empty",
        id="empty-table",
    ),
    pytest.param(
        lambda: RFMTable.from_arrays(
            customer_id=[1, 2], recency=[1], frequency=[1, 1], monetary_value=[1, 1]
        ),
        InvalidInputError,
        "inconsistent lengths: customer_id has 2, recency has 1",
        id="length-mismatch",
    ),
    pytest.param(
        lambda: rfm_scores("t"),  # type: ignore[arg-type]
        InvalidTypeError,
        "table must be an RFMTable, got str",
        id="scores-not-a-table",
    ),
    pytest.param(lambda: rfm_scores(T3, k=1), InvalidInputError, "k must be >= 2, got 1", id="k-1"),
    pytest.param(
        lambda: rfm_scores(T3, k=10),
        InvalidInputError,
        r"k must be <= 9 \(a cell writes one digit per score\), got 10",
        id="k-10",
    ),
    pytest.param(
        lambda: rfm_scores(T3, k=2.0),  # type: ignore[arg-type]
        InvalidTypeError,
        "k must be an integer, got float 2.0",
        id="k-float",
    ),
    pytest.param(
        lambda: rfm_scores(T3, thresholds={"r": [1, 2, 3, 4]}),
        InvalidInputError,
        "thresholds has an unknown dimension 'r'",
        id="threshold-unknown-dimension",
    ),
    pytest.param(
        lambda: rfm_scores(T3, thresholds={"recency": [1, 2, 3]}),
        InvalidInputError,
        r"thresholds\['recency'\] must hold k - 1 = 4 cut points, got 3",
        id="threshold-count",
    ),
    pytest.param(
        lambda: rfm_scores(T3, thresholds={"frequency": [1, 3, 3, 4]}),
        InvalidInputError,
        r"thresholds\['frequency'\] must be strictly increasing, got 3.0 after 3.0 at position 2",
        id="threshold-not-increasing",
    ),
    pytest.param(
        lambda: rfm_scores(T3, thresholds=[1, 2, 3, 4]),  # type: ignore[arg-type]
        InvalidTypeError,
        "thresholds must be a mapping",
        id="thresholds-not-mapping",
    ),
    pytest.param(
        lambda: rfm_scores(T3, thresholds={"recency": [1, 2, float("inf"), 4]}),
        InvalidInputError,
        r"thresholds\['recency'\] must be finite, got inf at position 2",
        id="threshold-inf",
    ),
    pytest.param(
        lambda: rfm_scores(T3, nested=1),  # type: ignore[arg-type]
        InvalidTypeError,
        "nested must be True or False, got 1",
        id="nested-not-bool",
    ),
    pytest.param(
        lambda: rfm_scores(T3, on_collapse="shout"),  # type: ignore[arg-type]
        InvalidInputError,
        "on_collapse must be one of 'warn', 'ignore', 'raise', got 'shout'",
        id="bad-on-collapse",
    ),
    pytest.param(
        lambda: SegmentRule("x", (3, 2), 1, 1),
        InvalidInputError,
        r"segment 'x': recency range must satisfy 1 <= low <= high, got \(3, 2\)",
        id="rule-reversed-range",
    ),
    pytest.param(
        lambda: SegmentRule("x", (1, 2), "a", 1),  # type: ignore[arg-type]
        InvalidTypeError,
        "a score range must be an int or a \\(low, high\\) pair, got 'a'",
        id="rule-bad-range",
    ),
    pytest.param(
        lambda: SegmentRule("", 1, 1, 1),
        InvalidInputError,
        "a segment name must be a non-empty string",
        id="rule-empty-name",
    ),
    pytest.param(
        lambda: SegmentTable([("x", (1, 6), 1, 1)], k=5),
        InvalidInputError,
        r"segment 'x': recency range \(1, 6\) goes beyond k = 5",
        id="rule-beyond-k",
    ),
    pytest.param(
        lambda: SegmentTable([], k=5),
        EmptyInputError,
        "rules is empty",
        id="rules-empty",
    ),
    pytest.param(
        lambda: SegmentTable(["champions"], k=5),
        InvalidTypeError,
        "rules must be SegmentRule values, mappings or .* at position 0",
        id="rule-not-a-rule",
    ),
    pytest.param(
        lambda: rfm_segments(rfm_scores(T3, k=3), other="lost"),
        InvalidInputError,
        "other label 'lost' is also a segment name",
        id="other-clashes",
    ),
    pytest.param(
        lambda: rfm_segments("s"),  # type: ignore[arg-type]
        InvalidTypeError,
        "scores must be an RFMScores",
        id="segments-not-scores",
    ),
    pytest.param(
        lambda: rfm_scores(T3, k=3).weighted_score((1, 1)),
        InvalidInputError,
        r"weights must hold 3 values \(R, F, M\), got 2",
        id="weights-length",
    ),
    pytest.param(
        lambda: rfm_scores(T3, k=3).weighted_score((0, 0, 0)),
        InvalidInputError,
        "weights must not all be 0",
        id="weights-zero",
    ),
]


@pytest.mark.parametrize(("call", "error", "message"), BAD)
def test_bad_inputs(call: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        call()


@given(
    values=hnp.arrays(
        np.float64, st.integers(1, 50), elements=st.floats(-1e6, 1e6, allow_nan=False)
    ),
    k=st.integers(2, 9),
)
def test_quantile_edges_match_numpy(values: Any, k: int) -> None:
    from custrel.rfm import _quantile_edges

    np.testing.assert_allclose(
        _quantile_edges(values, k), np.quantile(values, np.arange(1, k) / k), rtol=1e-12, atol=1e-6
    )


class TestHeatmap:
    def scores(self) -> Any:
        t = table([1, 1, 9, 9, 9], [5, 5, 1, 1, 1], [100, 50, 10, 20, 30])
        cuts = {"recency": [5], "frequency": [2], "monetary_value": [40]}
        return rfm_scores(t, k=2, thresholds=cuts, on_collapse="ignore")

    def test_counts_and_means(self, tmp_path: Path) -> None:
        from custrel.plot import plot_rfm_heatmap

        s = self.scores()  # cells: 22x (2 customers), 11x (3 customers)
        fig = plot_rfm_heatmap(s)
        grid = fig.axes[0].images[0].get_array()
        # rows = frequency score, columns = recency score
        assert grid[1, 1] == 2
        assert grid[0, 0] == 3
        assert bool(grid.mask[0, 1])  # empty cells stay blank
        assert bool(grid.mask[1, 0])
        assert sorted(t.get_text() for t in fig.axes[0].texts) == ["2", "3"]
        means = plot_rfm_heatmap(rfm_segments(s), value="mean_monetary_value")
        m = means.axes[0].images[0].get_array()
        assert m[1, 1] == pytest.approx(75.0)
        assert m[0, 0] == pytest.approx(20.0)
        share = plot_rfm_heatmap(s, x="monetary_value", value="share")
        assert sorted(t.get_text() for t in share.axes[0].texts) == ["40%", "60%"]
        fig.savefig(tmp_path / "rfm.png")
        assert (tmp_path / "rfm.png").stat().st_size > 1000

    @pytest.mark.parametrize(
        ("kwargs", "error", "message"),
        [
            pytest.param(
                {"x": "recency", "y": "recency"},
                InvalidInputError,
                "x and y must be different",
                id="same-axes",
            ),
            pytest.param(
                {"value": "median"}, InvalidInputError, "value must be one of", id="bad-value"
            ),
            pytest.param({"x": "r"}, InvalidInputError, "x must be one of 'recency'", id="bad-x"),
        ],
    )
    def test_bad_inputs(self, kwargs: Any, error: type[Exception], message: str) -> None:
        from custrel.plot import plot_rfm_heatmap

        with pytest.raises(error, match=message):
            plot_rfm_heatmap(self.scores(), **kwargs)

    def test_not_scores(self) -> None:
        from custrel.plot import plot_rfm_heatmap

        with pytest.raises(
            InvalidTypeError, match="scores must be an RFMScores or RFMSegments, got RFMTable"
        ):
            plot_rfm_heatmap(T3)  # type: ignore[arg-type]


def test_collapse_with_fewer_customers_than_levels_says_so() -> None:
    t = table([1, 2], [1, 3], [5, 6])
    with pytest.warns(
        RFMCollapseWarning, match=r"recency uses 2 of 5 levels \(1, 5\) \(only 2 customers\)"
    ):
        s = rfm_scores(t)
    assert s.recency_score.tolist() == [5, 1]
    assert s.recency_score.flags.writeable is False
    assert s.cell.flags.writeable is False


@given(
    values=hnp.arrays(
        np.float64,
        st.integers(1, 80),
        elements=st.floats(0, 50, allow_nan=False).map(lambda x: round(x, 0)),
    ),
    k=st.integers(2, 5),
)
def test_nested_scores_never_split_ties_within_a_group(values: Any, k: int) -> None:
    rng = np.random.default_rng(len(values))
    t = table(rng.permutation(values), values + 1, np.round(values / 3))
    s = rfm_scores(t, k=k, nested=True, on_collapse="ignore")
    for sc in (s.recency_score, s.frequency_score, s.monetary_score):
        assert ((sc >= 1) & (sc <= k)).all()
    # within one recency score, equal frequency gives equal frequency score
    key_f = s.recency_score * 1000 + t.frequency
    for key in np.unique(key_f):
        assert len(set(s.frequency_score[key_f == key].tolist())) == 1
    key_m = (s.recency_score * 10 + s.frequency_score) * 10_000 + t.monetary_value
    for key in np.unique(key_m):
        assert len(set(s.monetary_score[key_m == key].tolist())) == 1


# ---------------------------------------------------------------------------
# Issue 10 / issue 11: frozen results, the returns rule, logs without money, overflow
# ---------------------------------------------------------------------------


class TestReturnsRule:
    # contract 1: a negative amount is a return: it nets the value, never counts as a
    # purchase, never sets recency (last) or first purchase, nor a purchase day
    def test_buy_once_and_return_it(self) -> None:
        log = TransactionLog.from_arrays(
            customer_id=["a", "a"], time=[1.0, 3.0], amount=[50.0, -50.0]
        )
        s = summarize_rfm(log, 5.0, frequency_basis="days")
        assert s.n_transactions.tolist() == [1]
        assert s.n_days is not None
        assert s.n_days.tolist() == [1]
        assert s.total_amount is not None
        assert s.total_amount.tolist() == [0.0]
        assert s.first.tolist() == [1.0]
        assert s.last.tolist() == [1.0]
        t = s.to_table()
        assert (t.recency.tolist(), t.frequency.tolist(), t.monetary_value.tolist()) == (
            [4.0],
            [1],
            [0.0],
        )

    def test_returns_only_customers_are_left_out_and_counted(self) -> None:
        log = TransactionLog.from_arrays(
            customer_id=["a", "b", "b"], time=[1.0, 2.0, 3.0], amount=[10.0, -4.0, -6.0]
        )
        s = summarize_rfm(log, 5.0)
        assert s.customer_id.tolist() == ["a", "b"]  # kept, so that slices merge exactly
        assert s.n_transactions.tolist() == [1, 0]
        assert np.isnan(s.first[1])
        assert np.isnan(s.last[1])
        t = rfm_table(log, 5.0)
        assert t.customer_id.tolist() == ["a"]
        assert t.n_returns_only == 1
        with pytest.raises(EmptyInputError, match=r"1 customers have returns only"):
            rfm_table(log.take([1, 2]), 5.0)

    def test_zero_amounts_are_purchases(self) -> None:
        log = TransactionLog.from_arrays(customer_id=[1, 1], time=[1.0, 2.0], amount=[0.0, 0.0])
        assert rfm_table(log, 2.0).frequency.tolist() == [2]

    def test_merge_with_returns_equals_the_whole(self) -> None:
        # a purchase in one slice and a later return in another: the merged summary
        # keeps the purchase's time as last purchase and nets the value
        log = TransactionLog.from_arrays(
            customer_id=[1, 1, 2, 2],
            time=["2024-01-01", "2024-01-09", "2024-01-02", "2024-01-03"],
            amount=[30.0, -10.0, -5.0, 8.0],
        )
        whole = summarize_rfm(log, "2024-01-10", frequency_basis="days")
        parts = [
            summarize_rfm(log.take([i]), "2024-01-10", frequency_basis="days") for i in range(4)
        ]
        assert_same_summary(RFMSummary.combine(parts), whole)
        assert whole.last.tolist() == [
            np.datetime64("2024-01-01", "s").item(),
            np.datetime64("2024-01-03", "s").item(),
        ]


class TestWithoutAmounts:
    # contract 3: a log without money gives recency and frequency; money is refused clearly
    def test_recency_and_frequency_without_amounts(self) -> None:
        log = TransactionLog.from_arrays(customer_id=[1, 1, 2], time=[0.0, 1.0, 2.0], amount=None)
        t = rfm_table(log, 3.0)
        assert t.frequency.tolist() == [2, 1]
        assert t.recency.tolist() == [2.0, 1.0]
        assert t.monetary_value is None
        assert "monetary_value" not in t.to_arrays()
        s = summarize_rfm(log, 3.0)
        assert s.total_amount is None
        merged = RFMSummary.combine([summarize_rfm(log.take([i]), 3.0) for i in range(3)])
        assert merged.n_transactions.tolist() == [2, 1]

    def test_money_is_refused_clearly(self) -> None:
        log = TransactionLog.from_arrays(customer_id=[1, 1, 2], time=[0.0, 1.0, 2.0], amount=None)
        t = rfm_table(log, 3.0)
        with pytest.raises(
            InvalidInputError, match=r"table has no monetary_value \(its log has no amount"
        ):
            rfm_scores(t)
        with pytest.raises(InvalidInputError, match=r"has no monetary_value"):
            t.column("monetary_value")
        with_money = TransactionLog.from_arrays(customer_id=[1], time=[0.0], amount=[1.0])
        with pytest.raises(InvalidInputError, match=r"a log with amounts and one without"):
            summarize_rfm(log, 3.0).merge(summarize_rfm(with_money, 3.0))


def _two_huge() -> TransactionLog:
    return TransactionLog.from_arrays(
        customer_id=["big", "big", "small"], time=[0.0, 1.0, 2.0], amount=[1e308, 1e308, 5.0]
    )


@pytest.mark.parametrize(
    ("call", "match"),
    [
        pytest.param(
            lambda: rfm_table(_two_huge(), 3.0),
            r"the total amount of customer 'big' overflows float64 .*rescale amount",
            id="rfm_table",
        ),
        pytest.param(
            lambda: summarize_rfm(_two_huge(), 3.0),
            r"the total amount of customer 'big' overflows float64",
            id="summarize_rfm",
        ),
        pytest.param(
            lambda: summarize_rfm(_two_huge().take([0]), 3.0).merge(
                summarize_rfm(_two_huge().take([1, 2]), 3.0)
            ),
            r"customer 'big' overflows float64 \(merging the summaries",
            id="merge",
        ),
        pytest.param(
            lambda: summarize_rfm(
                TransactionLog.from_arrays(customer_id=[1], time=[1e300], amount=[1.0]),
                1e300,
                frequency_basis="days",
            ),
            r"time 1e\+300 is beyond ±2\*\*53",
            id="days-beyond-2**53",
        ),
        pytest.param(
            lambda: RFMTable.from_arrays(
                customer_id=[float("nan"), 1.0],
                recency=[1, 2],
                frequency=[1, 1],
                monetary_value=[1, 1],
            ),
            r"customer_id is missing \(nan\) at row 0",
            id="from_arrays-nan-id",
        ),
        pytest.param(
            lambda: RFMTable.from_arrays(
                customer_id=["a", None], recency=[1, 2], frequency=[1, 1], monetary_value=[1, 1]
            ),
            r"customer_id is missing \(None\) at row 1",
            id="from_arrays-none-id",
        ),
        pytest.param(
            lambda: RFMTable.from_arrays(
                customer_id=[[1], [2]], recency=[1, 2], frequency=[1, 1], monetary_value=[1, 1]
            ),
            r"customer_id must be 1-D",
            id="from_arrays-2d-id",
        ),
    ],
)
def test_issue_10_bad_inputs(call: Any, match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        call()


def test_ids_keep_their_type_and_results_are_frozen() -> None:
    # issue 10: 1 and "1" are two customers; cut_points and methods were plain dicts
    t = RFMTable.from_arrays(
        customer_id=[1, "1", 2, 3],
        recency=[1, 2, 3, 4],
        frequency=[1, 2, 3, 4],
        monetary_value=[1, 2, 3, 4],
    )
    assert t.customer_id.tolist() == [1, "1", 2, 3]
    s = rfm_scores(t, k=2)
    with pytest.raises(TypeError):
        s.cut_points["recency"] = (1.0,)  # type: ignore[index]
    with pytest.raises(TypeError):
        s.methods["recency"] = "x"  # type: ignore[index]
    r = np.array([1.0, 2.0, 3.0, 4.0])
    t2 = RFMTable.from_arrays(
        customer_id=np.arange(4), recency=r, frequency=[1, 1, 1, 1], monetary_value=r
    )
    r[0] = 99.0
    assert t2.recency[0] == 1.0
    assert t2.monetary_value is not None
    assert t2.monetary_value[0] == 1.0


@pytest.mark.parametrize(
    ("call", "match"),
    [
        pytest.param(
            lambda: RFMSummary.combine(3), r"summaries must be an iterable", id="combine-int"
        ),  # type: ignore[arg-type]
        pytest.param(
            lambda: SegmentTable(None),
            r"rules must be an iterable of segment rules",
            id="rules-none",
        ),  # type: ignore[arg-type]
    ],
)
def test_wrong_argument_types_are_custrel_errors(call: Any, match: str) -> None:
    with pytest.raises(InvalidTypeError, match=match):
        call()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        pytest.param({"unit": math.inf}, r"unit must be finite, got inf", id="unit-inf"),
        pytest.param({"unit": "fortnight"}, r"unit must be one of", id="unit-unknown"),
        pytest.param(
            {"frequency": [1e300]},
            r"frequency must be <= 9\.0072e\+15, got 1e\+300",
            id="frequency-huge",
        ),
    ],
)
def test_from_arrays_checks_unit_and_frequency(kwargs: dict[str, Any], match: str) -> None:
    args: dict[str, Any] = {
        "customer_id": [1],
        "recency": [1.0],
        "frequency": [1],
        "monetary_value": [1.0],
    }
    with pytest.raises(InvalidInputError, match=match):
        RFMTable.from_arrays(**{**args, **kwargs})


@given(
    pairs=st.lists(st.tuples(st.integers(0, 9), st.integers(0, 9)), min_size=1, max_size=50),
    code_scale=st.sampled_from([1, 70_000, 2**40]),
    day_scale=st.sampled_from([1, 70_000, 2**21]),
)
def test_unique_pairs_on_uint32_int64_and_lexsort_keys(
    pairs: list[tuple[int, int]], code_scale: int, day_scale: int
) -> None:
    """The distinct (customer, day) pairs in order, whatever the key's width."""
    from custrel.rfm import _unique_pairs

    codes = np.array([c * code_scale for c, _ in pairs], dtype=np.int64)
    days = np.array([d * day_scale - 5 for _, d in pairs], dtype=np.int64)
    want = sorted(set(zip(codes.tolist(), days.tolist(), strict=True)))
    got_codes, got_days = _unique_pairs(codes, days)
    assert list(zip(got_codes.tolist(), got_days.tolist(), strict=True)) == want
    assert got_codes.dtype == np.int64
    assert got_days.dtype == np.int64
