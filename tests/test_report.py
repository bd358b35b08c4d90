"""The composed customer report: alignment of sections, notes, CSV output, robustness."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given, settings

import custrel
from custrel import EmptyInputError, InvalidInputError, InvalidTypeError, TransactionLog
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
    # the sample carries costs, so the pyramid tiers on profit (domain notes §3: profit, not revenue)
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
    assume(bool((np.asarray(log.amount) >= 0).any()))  # returns only: see the next test
    rep = customer_report(log, sections=("value", "rfm", "pyramid"))
    perm = np.arange(log.n_rows)[::-1]
    rep2 = customer_report(log.take(perm), sections=("value", "rfm", "pyramid"))
    for name in rep.columns:
        a, b = rep.columns[name], rep2.columns[name]
        if a.dtype.kind == "f":
            np.testing.assert_allclose(a, b, rtol=1e-9, equal_nan=True)
        else:
            assert a.tolist() == b.tolist(), name


def test_log_of_returns_only_is_a_clear_error() -> None:
    log = TransactionLog.from_arrays(customer_id=[1, 2], time=[0.0, 1.0], amount=[-5.0, -3.0])
    with pytest.raises(EmptyInputError, match="no purchases in the window: every row up to 1"):
        customer_report(log)


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


# --- the terminal report reads: 100 columns, notes after the tables, failures in place ---


def test_terminal_report_fits_100_columns(sample_report: custrel.CustomerReport) -> None:
    text = sample_report.format(top=20)
    assert max(len(line) for line in text.splitlines()) <= 100


def test_long_and_awkward_ids_do_not_widen_the_report() -> None:
    ids = ["x" * 300, "line\nbreak", "tab\there", "=1+1"]
    log = TransactionLog.from_arrays(
        customer_id=ids, time=[0.0, 1.0, 2.0, 3.0], amount=[9.0, 8.0, 7.0, 6.0]
    )
    text = customer_report(log, sections=("pyramid", "rfm")).format()
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 100
    assert any("line\\nbreak" in line for line in lines)  # shown escaped, one line per row
    assert any("…" in line and "xxxx" in line for line in lines)  # clipped, not dropped


def test_notes_are_short_and_come_after_the_tables(
    sample_report: custrel.CustomerReport,
) -> None:
    text = sample_report.format()
    assert text.index("Totals") < text.index("Top 10 customers") < text.index("Notes\n-----")
    notes_part = text[text.index("Notes\n-----") :]
    assert len(notes_part) < 1200
    # the full wording stays in the report's notes (the sidecar and HTML carry it)
    assert any("Dwyer" in n for n in sample_report.notes)
    assert "Dwyer" not in text


def test_failed_section_says_so_in_place() -> None:
    log = TransactionLog.from_arrays(
        customer_id=[1, 2, 3], time=[0.0, 1.0, 2.0], amount=[5.0, 3.0, 1.0]
    )
    rep = customer_report(log, sections=("pyramid", "btyd"))
    text = rep.format()
    title = "Probabilistic model (BTYD) fits"
    assert title in text
    after = text[text.index(title) :].splitlines()
    assert after[2].startswith("not computed: BG/NBD fit failed: frequency is 0")
    failed = [t for t in rep.tables if t.failed]
    assert [t.title for t in failed] == [title]
    assert "BG/NBD fit failed" in failed[0].message


def test_returns_are_netted_and_counted() -> None:
    log = TransactionLog.from_arrays(
        customer_id=["a", "a", "b"], time=[0.0, 1.0, 2.0], amount=[30.0, -30.0, 5.0]
    )
    rep = customer_report(log, sections=("pyramid",))
    assert rep.columns["total_amount"].tolist() == [0.0, 5.0]
    totals = dict(rep.tables[0].rows)
    assert totals["returns netted (negative amounts)"] == 1
    assert any("1 return netted (30.00)" in n for n in rep.short_notes)


# --- warnings per call: no process-global filters, no leaks between threads ---


def test_report_in_threads_keeps_other_threads_warnings_out() -> None:
    import contextlib
    import threading
    import warnings

    log = custrel.datasets.load_sample()
    before = list(warnings.filters)
    stop = threading.Event()
    reports: list[custrel.CustomerReport] = []
    errors: list[BaseException] = []

    def noisy() -> None:
        # no catch_warnings here either: that would itself swap the process-wide filters
        for _ in range(10**7):  # bounded; stops when the reports are done
            if stop.is_set():
                break
            # pytest's filterwarnings=error turns the warning into an exception
            with contextlib.suppress(UserWarning):
                warnings.warn("noise from another thread", UserWarning, stacklevel=1)

    def work() -> None:
        try:
            reports.append(customer_report(log, sections=("rfm", "pyramid", "btyd")))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    noise = [threading.Thread(target=noisy) for _ in range(3)]
    workers = [threading.Thread(target=work) for _ in range(8)]
    for t in noise + workers:
        t.start()
    for t in workers:
        t.join()
    stop.set()
    for t in noise:
        t.join()
    assert not errors
    assert len(reports) == 8
    for rep in reports:
        assert not any("noise" in n for n in rep.notes)
        assert rep.notes == reports[0].notes
        np.testing.assert_array_equal(rep.columns["p_alive"], reports[0].columns["p_alive"])
    assert warnings.filters == before


# --- one mistyped far-future date ---


def test_far_future_date_is_refused_naming_row_and_date() -> None:
    n = 2000
    time = np.datetime64("2023-01-01") + np.arange(n).astype("timedelta64[h]")
    time[1234] = np.datetime64("9999-01-01")
    log = TransactionLog.from_arrays(customer_id=np.arange(n) % 300, time=time, amount=np.ones(n))
    with pytest.raises(InvalidInputError, match=r"row 1234: .*latest date 9999-01-01"):
        customer_report(log)
    # ending the window before it is the documented way out
    rep = customer_report(log, observation_end="2023-06-01", sections=("lifecycle",))
    assert rep.n_customers == 300


def test_span_check_costs_milliseconds() -> None:
    import time as clock

    from custrel.report import span_problem

    n = 200_000
    t = np.datetime64("2022-01-01") + (np.arange(n) % 700).astype("timedelta64[D]")
    t[123_456] = np.datetime64("9999-01-01")
    log = TransactionLog.from_arrays(customer_id=np.arange(n) % 20_000, time=t, amount=np.ones(n))
    start = clock.perf_counter()
    problem = span_problem(log)
    assert clock.perf_counter() - start < 1.0
    assert problem is not None
    assert (problem.row, problem.text) == (123_456, "9999-01-01")
    assert span_problem(log.take(np.flatnonzero(np.arange(n) != 123_456))) is None


def test_html_report_is_self_contained() -> None:
    pytest.importorskip("matplotlib")
    plt = pytest.importorskip("matplotlib.pyplot")
    rep = customer_report(custrel.datasets.load_sample(), figures=True)
    assert plt.get_fignums() == []  # figures are not attached to pyplot: nothing leaks
    page = rep.to_html()
    assert page.startswith("<!DOCTYPE html>")
    assert page.count('src="data:image/png;base64,') == len(rep.figures) == 6
    for bad in ("http://", "https://", "<script", "<link", "@import", "url("):
        assert bad not in page
    assert "@media print" in page
    assert "Top 20 customers" in page


def test_epoch_second_times_are_refused_naming_the_unit() -> None:
    n = 2000
    t = 1.7e9 + np.arange(n) * 3600.0  # epoch seconds over about three months
    log = TransactionLog.from_arrays(customer_id=np.arange(n) % 500, time=t, amount=np.ones(n))
    with pytest.raises(InvalidInputError, match=r"look like epoch seconds, so give dates"):
        customer_report(log)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        pytest.param(
            lambda r: r.to_html(top=np.array([])),
            InvalidTypeError,
            "top must be an integer",
            id="html-top-array",
        ),
        pytest.param(
            lambda r: r.to_html(title=3),
            InvalidTypeError,
            "title must be a string",
            id="html-title-int",
        ),
        pytest.param(
            lambda r: r.to_csv(neutralize="no"),
            InvalidTypeError,
            "neutralize must be True or False",
            id="csv-neutralize-str",
        ),
        pytest.param(
            lambda r: r.to_csv(path=5),
            InvalidTypeError,
            "path must be a file path",
            id="csv-path-int",
        ),
        pytest.param(
            lambda r: r.save(b"x.csv"),
            InvalidTypeError,
            "path must be a file path",
            id="save-bytes",
        ),
        pytest.param(
            lambda r: r.format(width=5),
            InvalidInputError,
            "width must be >= 20",
            id="format-narrow",
        ),
        pytest.param(
            lambda r: r.format(sort_by=1),
            InvalidTypeError,
            "sort_by must be a string",
            id="format-sort-int",
        ),
        pytest.param(
            lambda r: r.to_frame("spark"),
            InvalidInputError,
            "backend must be one of",
            id="frame-backend",
        ),
    ],
)
def test_report_methods_refuse_bad_arguments(
    sample_report: custrel.CustomerReport, call: Any, error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        call(sample_report)
