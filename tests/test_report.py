"""The composed customer report: alignment of sections, notes, CSV output, robustness."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings

import custrel
from custrel import InvalidInputError, InvalidTypeError, TransactionLog
from custrel.report import SECTIONS, customer_report
from strategies import transaction_logs


@pytest.fixture(scope="module")
def sample_report() -> custrel.CustomerReport:
    return customer_report(custrel.datasets.load_sample())


def test_every_section_adds_aligned_columns(sample_report: custrel.CustomerReport) -> None:
    n = sample_report.n_customers
    assert n == custrel.datasets.load_sample().n_customers
    for name, values in sample_report.columns.items():
        assert len(values) == n, name
    for col in (
        "tier",
        "abc_class",
        "segment",
        "stage",
        "historical_profit",
        "clv_retention",
        "p_alive",
        "expected_purchases_next",
        "clv_bgnbd",
    ):
        assert col in sample_report.columns


def test_columns_agree_with_the_modules_they_come_from(
    sample_report: custrel.CustomerReport,
) -> None:
    log = custrel.datasets.load_sample()
    s = log.summarize()
    profit = np.bincount(log.customer_code, weights=log.profit(), minlength=log.n_customers)
    # the sample carries costs, so the pyramid tiers on profit (DOMAIN.md §3: profit, not revenue)
    assert log.has_profit_columns
    pyr = custrel.customer_pyramid(profit, customer_id=s.customer_id)
    assert sample_report.columns["tier"].tolist() == pyr.labels().tolist()
    assert sample_report.columns["total_amount"].tolist() == s.total_amount.tolist()
    np.testing.assert_allclose(sample_report.columns["historical_profit"], profit)


def test_notes_state_the_assumptions(sample_report: custrel.CustomerReport) -> None:
    text = "\n".join(sample_report.notes)
    assert "observation window ends" in text
    assert "platinum top 5 %" in text
    assert "RFM at" in text
    assert "four-stage lifecycle model" in text
    assert "clv_retention" in text


def test_csv_round_trip(sample_report: custrel.CustomerReport, tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    sample_report.to_csv(path)
    with open(path, encoding="utf-8") as fh:
        lines = [ln for ln in fh if not ln.startswith("#")]
    rows = list(csv.DictReader(lines))
    assert len(rows) == sample_report.n_customers
    assert list(rows[0]) == list(sample_report.columns)
    total = sum(float(r["total_amount"]) for r in rows)
    assert total == pytest.approx(float(np.sum(sample_report.columns["total_amount"])), rel=1e-9)


def test_observation_end_limits_every_section() -> None:
    log = custrel.datasets.load_sample()
    rep = customer_report(log, observation_end="2022-06-30")
    s = log.summarize(observation_end="2022-06-30")
    assert rep.n_customers == s.n_customers < log.n_customers
    assert rep.columns["customer_id"].tolist() == s.customer_id.tolist()


def test_short_log_reports_why_clv_is_missing() -> None:
    log = TransactionLog.from_arrays(
        customer_id=[1, 2, 1], time=[0.0, 0.0, 0.0], amount=[5.0, 3.0, 1.0]
    )
    rep = customer_report(log, sections=("value",))
    assert np.isnan(rep.columns["clv_retention"]).all()
    assert any("clv_retention not computed" in n for n in rep.notes)
    assert rep.columns["historical_profit"].tolist() == [6.0, 3.0]


@settings(max_examples=15)
@given(transaction_logs(kind="datetime", max_rows=30))
def test_report_never_fails_on_valid_logs_and_is_row_order_invariant(log: TransactionLog) -> None:
    rep = customer_report(log, sections=("value", "rfm", "pyramid"))
    perm = np.arange(log.n_rows)[::-1]
    rep2 = customer_report(log.take(perm), sections=("value", "rfm", "pyramid"))
    for name in rep.columns:
        a, b = rep.columns[name], rep2.columns[name]
        if a.dtype.kind == "f":
            np.testing.assert_allclose(a, b, rtol=1e-9, equal_nan=True)
        else:
            assert a.tolist() == b.tolist(), name


def test_format_shows_tables_and_top_customers(sample_report: custrel.CustomerReport) -> None:
    text = sample_report.format(top=3)
    assert "Top 3 customers by total_amount" in text
    assert "Customer pyramid" in text
    assert "RFM segments" in text


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        pytest.param(
            {"sections": ("nope",)},
            InvalidInputError,
            "sections must be one of",
            id="unknown-section",
        ),
        pytest.param(
            {"observation_end": "1990-01-01"},
            InvalidInputError,
            "before the first purchase",
            id="end-too-early",
        ),
    ],
)
def test_bad_arguments(kwargs: dict[str, object], error: type[Exception], match: str) -> None:
    log = custrel.datasets.load_sample()
    with pytest.raises(error, match=match):
        customer_report(log, **kwargs)  # type: ignore[arg-type]


def test_log_must_be_a_transaction_log() -> None:
    with pytest.raises(InvalidTypeError, match="log must be a TransactionLog, got list"):
        customer_report([1, 2, 3])  # type: ignore[arg-type]


def test_format_rejects_unknown_sort_column(sample_report: custrel.CustomerReport) -> None:
    with pytest.raises(InvalidInputError, match="sort_by must be one of"):
        sample_report.format(sort_by="nope")


def test_sections_constant_lists_every_section() -> None:
    assert set(SECTIONS) >= {"value", "rfm", "pyramid", "lifecycle"}


def test_btyd_columns_match_a_direct_fit(sample_report: custrel.CustomerReport) -> None:
    log = custrel.datasets.load_sample()
    s = custrel.rfm_summary(log, unit="week")
    c = s.compressed()
    bg = custrel.fit_bgnbd(c.frequency, c.recency, c.T, weights=c.weights)
    np.testing.assert_allclose(
        sample_report.columns["p_alive"], bg.probability_alive(s.frequency, s.recency, s.T)
    )
    assert ((sample_report.columns["p_alive"] >= 0) & (sample_report.columns["p_alive"] <= 1)).all()


def test_btyd_fit_that_cannot_run_becomes_a_note() -> None:
    # Nobody bought twice: BG/NBD has nothing to learn repeat behaviour from.
    log = TransactionLog.from_arrays(
        customer_id=[1, 2, 3], time=[0.0, 1.0, 2.0], amount=[5.0, 3.0, 1.0]
    )
    rep = customer_report(log, sections=("btyd",))
    assert np.isnan(rep.columns["p_alive"]).all()
    assert any("BG/NBD fit failed" in n for n in rep.notes)
