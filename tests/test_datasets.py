"""Tests of custrel.datasets: the synthetic generator, the bundled sample and CDNOW."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from custrel import EmptyInputError, InvalidInputError, InvalidTypeError, TransactionLog
from custrel.datasets import (
    _SAMPLE_ARGS,
    generate_transactions,
    load_cdnow,
    load_sample,
    sample_path,
)

# ---------------------------------------------------------------------------
# generate_transactions
# ---------------------------------------------------------------------------


def first_rows(log: TransactionLog) -> np.ndarray:
    """Per customer, the row index of its first transaction (rows are in time order)."""
    first = np.full(log.n_customers, log.n_rows)
    np.minimum.at(first, log.customer_code, np.arange(log.n_rows))
    return first


def test_generator_is_seeded_and_structured() -> None:
    log = generate_transactions(500, rng=3)
    assert log == generate_transactions(500, rng=np.random.default_rng(3))
    assert log != generate_transactions(500, rng=4)
    assert log.customer_labels.tolist() == list(range(1, 501))
    assert log.time_kind == "datetime"
    t = log.time.astype(np.int64)
    assert bool(np.all(np.diff(t) >= 0))  # time order
    assert bool(np.all(t % 86400 == 0))  # whole days
    assert log.time.min() >= np.datetime64("2021-01-01")
    assert log.time.max() <= np.datetime64("2023-12-31")
    # first purchases fall in the first half of the window (acquisition_window=0.5)
    s = log.summarize()
    assert s.first.max() <= np.datetime64("2022-07-02")
    # the acquisition cost sits on each customer's first row and nowhere else
    assert log.marketing_cost is not None
    mc = np.zeros(log.n_rows)
    mc[first_rows(log)] = 10.0
    np.testing.assert_array_equal(log.marketing_cost, mc)
    assert log.volume is not None
    assert bool(np.all(log.volume >= 1))
    assert log.product_cost is not None
    assert bool(np.all(log.product_cost <= log.amount + 0.005))
    # profit is meaningful: positive overall, but some customers lose money
    per_customer = np.bincount(log.customer_code, weights=log.profit())
    assert per_customer.sum() > 0
    assert 0.05 < float(np.mean(per_customer < 0)) < 0.8


def test_generator_mean_spend_matches_gamma_gamma() -> None:
    # Gamma-Gamma (Fader & Hardie 2013): E[amount] = p * gamma / (q - 1)
    # = 6.25 * 15.44 / 2.74 = 35.22; one (first) amount per customer is iid,
    # sd about 32, so the standard error with 20,000 customers is about 0.23.
    log = generate_transactions(20_000, rng=11, costs=False)
    first = log.amount[first_rows(log)]
    assert float(first.mean()) == pytest.approx(6.25 * 15.44 / 2.74, abs=1.0)
    assert log.optional_columns == ()


def test_generator_purchase_counts_without_dropout() -> None:
    # rate ~ Gamma(400, 400) = 1 per unit (sd 0.05), dropout ~ Beta(0.001, 1000) ~ 0,
    # everyone acquired at time 0, window 10: repeats ~ Poisson(10), mean 10, SE 0.05.
    log = generate_transactions(
        5000, start=0.0, end=10.0, rng=5, acquisition_window=1e-9, r=400, alpha=400,
        a=0.001, b=1000, costs=False,
    )  # fmt: skip
    assert log.time_kind == "numeric"
    repeats = np.bincount(log.customer_code) - 1
    assert float(repeats.mean()) == pytest.approx(10.0, abs=0.25)
    assert float(repeats.var()) == pytest.approx(10.0 + 0.0025 * 100, rel=0.1)


def test_generator_dropout_is_geometric() -> None:
    # very fast buyers (100 per unit) with dropout probability ~ 0.25 (Beta(250, 750)):
    # the number of repeat purchases is Geometric(0.25) on {1, 2, ...}, mean 4, SE 0.05
    log = generate_transactions(
        5000, start=0.0, end=10.0, rng=6, r=10_000, alpha=100, a=250, b=750, costs=False
    )
    repeats = np.bincount(log.customer_code) - 1
    assert float(repeats.mean()) == pytest.approx(4.0, abs=0.25)
    assert repeats.min() >= 1


def test_generator_returns() -> None:
    log = generate_transactions(3000, rng=8, return_rate=0.2)
    first = first_rows(log)
    assert bool(np.all(log.amount[first] >= 0))  # a first purchase is never a return
    repeat = np.ones(log.n_rows, dtype=bool)
    repeat[first] = False
    # share of returns among repeat transactions: 0.2, SE about 0.004 here
    assert float(np.mean(log.amount[repeat] < 0)) == pytest.approx(0.2, abs=0.03)
    assert log.volume is not None
    assert bool(np.all(log.volume >= 1))  # returned items are counted, not negative
    assert generate_transactions(3000, rng=8, return_rate=0.0) == generate_transactions(3000, rng=8)


@given(n=st.integers(1, 40), seed=st.integers(0, 2**32 - 1), calendar=st.booleans())
def test_generator_properties(n: int, seed: int, calendar: bool) -> None:
    window: dict[str, Any] = {} if calendar else {"start": 0.0, "end": 52.0}
    log = generate_transactions(n, rng=seed, **window)
    assert log.n_customers == n
    assert log.n_rows >= n
    assert bool(np.all(np.diff(log.numeric_time()) >= 0))
    s = log.summarize()
    assert bool(np.all(s.n_purchases >= 1))


def _gen(**kw: Any) -> Any:
    return lambda: generate_transactions(**{"n_customers": 10, **kw})


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        pytest.param(_gen(n_customers=0), InvalidInputError, r"n_customers must be >= 1, got 0", id="no-customers"),
        pytest.param(_gen(n_customers=2.5), InvalidTypeError, r"n_customers must be an integer", id="float-count"),
        pytest.param(_gen(start="2024-01-01", end="2023-01-01"), InvalidInputError, r"end must be after start, got start='2024-01-01', end='2023-01-01'", id="end-before-start"),
        pytest.param(_gen(start=0.0, end="2023-01-01"), InvalidInputError, r"start and end must both be dates or both be numbers, got start=0.0 \(a number\) and end='2023-01-01' \(a date\)", id="mixed-kinds"),
        pytest.param(_gen(start=-1.0), InvalidInputError, r"start and end must both be dates or both be numbers, got start=-1.0 \(a number\) and end='2023-12-31' \(a date\)", id="number-start-default-end"),
        pytest.param(_gen(start="2021-01-01", end=52.0), InvalidInputError, r"got start='2021-01-01' \(a date\) and end=52.0 \(a number\)", id="date-start-number-end"),
        pytest.param(_gen(r=-1.0), InvalidInputError, r"r must be > 0, got -1.0", id="negative-r"),
        pytest.param(_gen(q=1.0), InvalidInputError, r"q must be > 1, got 1.0; the mean spend needs q > 1", id="q-one"),
        pytest.param(_gen(acquisition_window=0.0), InvalidInputError, r"acquisition_window must be in \(0, 1\], got 0.0", id="zero-acquisition"),
        pytest.param(_gen(return_rate=1.0), InvalidInputError, r"return_rate must be in \[0, 1\), got 1.0", id="all-returns"),
        pytest.param(_gen(unit="fortnight"), InvalidInputError, r"unit must be one of 'day', 'week'", id="bad-unit"),
        pytest.param(_gen(rng="seed"), InvalidTypeError, r"rng must be a numpy.random.Generator, an int seed or None, got str", id="bad-rng"),
        # found by the adversarial suite: numpy's ValueError "lam value too large" and a
        # MemoryError of 7 TiB came out instead of a CustrelError
        pytest.param(_gen(r=1e300), InvalidInputError, r"one customer's purchases \(its rows\) would need 3\.\d+e\+301, more than the budget of 500,000,000 \(set CUSTREL_MAX_CELLS.*r=1e\+300 and alpha=4\.414", id="huge-r"),
        pytest.param(_gen(alpha=1e-300), InvalidInputError, r"r=0\.243 and alpha=1e-300 give a customer", id="tiny-alpha"),
        pytest.param(_gen(gamma=1e300), InvalidInputError, r"p=6\.25, q=3\.74 and gamma=1e\+300 draw an amount of .*2\*\*53 cents", id="huge-gamma"),
        pytest.param(_gen(unit=5e-324), InvalidInputError, r"one customer's purchases \(its rows\) would need inf", id="subnormal-unit"),
        pytest.param(_gen(n_customers=10**12), InvalidInputError, r"the customers' draws \(10 values per customer\) would need 10,000,000,000,000.*n_customers=1000000000000", id="huge-n"),
    ],
)  # fmt: skip
def test_generator_bad_input(make: Any, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        make()


def test_generator_refuses_more_rows_than_the_cell_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    # every customer within the budget, all the rows together beyond it
    monkeypatch.setenv("CUSTREL_MAX_CELLS", "1000")
    with pytest.raises(InvalidInputError, match=r"the transactions drawn \(rows\) would need"):
        generate_transactions(10, r=5.0, alpha=1.0, a=0.01, b=100.0, rng=1)


# ---------------------------------------------------------------------------
# the bundled sample
# ---------------------------------------------------------------------------


def test_sample_is_the_generator_output() -> None:
    log = load_sample()
    assert log == generate_transactions(**_SAMPLE_ARGS)
    assert log.n_customers == 3000
    assert log.optional_columns == (
        "volume",
        "product_cost",
        "service_cost",
        "marketing_cost",
        "transaction_cost",
    )
    assert os.path.getsize(sample_path()) < 1_000_000
    assert load_sample(engine="python") == log


# ---------------------------------------------------------------------------
# CDNOW
# ---------------------------------------------------------------------------


def test_cdnow_files(shared_data: Path) -> None:
    # Fader & Hardie's CDNOW data: the master file holds the 23,570 customers of
    # the first-quarter-1997 cohort and their 69,659 transactions to June 1998;
    # the 1/10th sample 2,357 customers and 6,919 transactions.
    master = load_cdnow(shared_data / "CDNOW_master.txt")
    assert (master.n_customers, master.n_rows) == (23_570, 69_659)
    assert str(master.time.min()) == "1997-01-01T00:00:00"
    assert str(master.time.max()) == "1998-06-30T00:00:00"
    sample = load_cdnow(shared_data / "CDNOW_sample.txt")
    assert (sample.n_customers, sample.n_rows) == (2_357, 6_919)
    # first rows of the sample file: customer 4 bought 2 CDs for 29.33 on 1 Jan 1997
    assert sample.customer_id[0] == 4
    assert sample.amount[:2].tolist() == [29.33, 29.73]
    assert sample.volume is not None
    assert sample.volume[:2].tolist() == [2.0, 2.0]
    first = sample.summarize().first
    assert first.max() <= np.datetime64("1997-03-31")  # a first-quarter cohort


def test_cdnow_bundled_sample_is_the_published_file(shared_data: Path) -> None:
    # load_cdnow() with no path reads the copy shipped in the package, byte for byte
    # the sample file Fader & Hardie publish (2,357 customers, 6,919 rows).
    bundled = Path(load_cdnow.__globals__["__file__"]).parent / "data" / "CDNOW_sample.txt"
    assert bundled.read_bytes() == (shared_data / "CDNOW_sample.txt").read_bytes()
    log = load_cdnow()
    assert log == load_cdnow(shared_data / "CDNOW_sample.txt")
    assert (log.n_customers, log.n_rows) == (2_357, 6_919)


def test_cdnow_header_only_by_its_shape(tmp_path: Path) -> None:
    # The master file's header is skipped; a first data line is never taken for a
    # header, whatever letters it holds (issue 10: `1e1` and `nan` were dropped).
    p = tmp_path / "cd.txt"
    p.write_text(" customer_id  date number_of_cds  dollar_value\r\n 00001 19970101  1   11.77\r\n")
    log = load_cdnow(p)
    assert (log.n_rows, log.amount.tolist()) == (1, [11.77])
    p.write_text(" 1 19970101 1 1e1\n 2 19970102 1 3.5\n")
    log = load_cdnow(p)
    assert log.n_rows == 2
    assert log.amount.tolist() == [10.0, 3.5]
    # blank lines are not data; line numbers in messages still count them
    p.write_text("\n 1 19970101 1 2.0\n\n 2 19970102 1 x\n")
    with pytest.raises(InvalidInputError, match=r"line 4: dollars 'x' is not a number"):
        load_cdnow(p)


def test_cdnow_keeps_every_row_of_the_file(tmp_path: Path) -> None:
    # nothing dropped or merged: duplicates and zero-dollar rows are rows
    p = tmp_path / "cd.txt"
    p.write_text(" 7 19970101 1 0.00\n 7 19970101 1 0.00\n 8 19971231 12 120\n")
    log = load_cdnow(p)
    assert log.n_rows == 3
    assert log.customer_id.tolist() == [7, 7, 8]
    assert log.amount.tolist() == [0.0, 0.0, 120.0]
    assert str(log.time[2])[:10] == "1997-12-31"


def _cdnow(text: str | bytes) -> Any:
    def make(tmp: Path) -> Any:
        p = tmp / "cd.txt"
        if isinstance(text, bytes):
            p.write_bytes(text)
        else:
            p.write_text(text)
        return load_cdnow(p)

    return make


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        pytest.param(lambda tmp: load_cdnow(tmp / "none.txt"), InvalidInputError, r"does not exist", id="no-file"),
        pytest.param(lambda tmp: load_cdnow(tmp), InvalidInputError, r"is not a file", id="a-folder"),
        pytest.param(lambda tmp: load_cdnow(None), InvalidTypeError, r"path must be a str or os.PathLike, got NoneType \(None\); omit it to load the bundled CDNOW sample", id="none"),
        pytest.param(lambda tmp: load_cdnow(3), InvalidTypeError, r"path must be a str or os.PathLike, got int \(3\)", id="int"),
        pytest.param(lambda tmp: load_cdnow(b"cd.txt"), InvalidTypeError, r"got bytes", id="bytes"),
        pytest.param(lambda tmp: load_cdnow([str(tmp)]), InvalidTypeError, r"got list", id="list"),
        pytest.param(_cdnow(""), EmptyInputError, r"is empty: it has no rows", id="empty"),
        pytest.param(_cdnow("\n  \n"), EmptyInputError, r"is empty: it has no rows", id="blank-lines"),
        pytest.param(_cdnow(" customer_id  date number_of_cds  dollar_value\n"), EmptyInputError, r"is empty", id="header-only"),
        pytest.param(_cdnow(" customer_id  date number_of_cds  dollar_value\n 1 1 19970101 1 2.0\n"), InvalidInputError, r"line 1 is a header of 4 names but line 2 has 5 fields", id="header-width"),
        pytest.param(_cdnow(" 1 2 3\n"), InvalidInputError, r"line 1 has 3 fields, expected 5 \(sample: .*\) or 4 \(master: .*\): '1 2 3'", id="three-fields"),
        pytest.param(_cdnow(" 1 19970101 1 2.0\n 2 19970101 1\n"), InvalidInputError, r"line 2 has 3 fields, expected 4 \(customer id, yyyymmdd date, number of CDs, dollars\): '2 19970101 1'", id="short-line"),
        pytest.param(_cdnow(" 1 19970101 1 2.0 9\n 2 19970101 1\n"), InvalidInputError, r"line 2 has 3 fields, expected 5", id="short-line-sample"),
        pytest.param(_cdnow(" 1 19970101 1 2.0\n 2 19970101 1\n 3 19970101 1 2.0 5\n"), InvalidInputError, r"line 2 has 3 fields", id="counts-that-add-up"),
        pytest.param(_cdnow(" 1 19970101 1 2.0\n 2 19970101 1 x\n"), InvalidInputError, r"line 2: dollars 'x' is not a number: '2 19970101 1 x'", id="non-numeric"),
        pytest.param(_cdnow(" 1 19970101 1 nan\n"), InvalidInputError, r"line 1: dollars 'nan' is not finite", id="nan-first-line"),
        pytest.param(_cdnow(" 1 19970101 1 2.0\n 2 19970101 1 inf\n"), InvalidInputError, r"line 2: dollars 'inf' is not finite", id="inf"),
        pytest.param(_cdnow(" 1e1 19970101 1 2.0\n"), InvalidInputError, r"line 1: customer id '1e1' is not a whole number >= 0", id="exponent-id-first-line"),
        pytest.param(_cdnow(" 00004 00x1 19970101 1 2.0\n"), InvalidInputError, r"line 1: sample index '00x1' is not a whole number", id="sample-index"),
        pytest.param(_cdnow(" 1 19970101 1 2.0\n 2 19971301 1 3.0\n"), InvalidInputError, r"line 2: date '19971301' is not a valid yyyymmdd date", id="bad-month"),
        pytest.param(_cdnow(" 1 19970230 1 2.0\n"), InvalidInputError, r"line 1: date '19970230' is not a valid yyyymmdd date", id="feb-30"),
        pytest.param(_cdnow(" 1 1997010 1 2.0\n"), InvalidInputError, r"line 1: date '1997010' is not a valid", id="seven-digit-date"),
        pytest.param(_cdnow(" 1 99999999999999999999 1 2.0\n"), InvalidInputError, r"line 1: date '99999999999999999999' is too large", id="huge-date"),
        pytest.param(_cdnow(" 1 19970101 -1 2.0\n"), InvalidInputError, r"line 1: number of CDs '-1' is not a whole number >= 0", id="negative-cds"),
        pytest.param(_cdnow(" 1 19970101 1.5 2.0\n"), InvalidInputError, r"line 1: number of CDs '1.5' is not a whole number", id="fractional-cds"),
        pytest.param(_cdnow(" 1 19970101 1 2.0\n 2 19970101 1 2.0\xe9\n".encode("latin-1")), InvalidInputError, r"is not a CDNOW text file: byte 0xe9 at offset 35 is not ASCII", id="latin-1"),
        pytest.param(_cdnow(b"\x89PNG\r\n\x1a\n"), InvalidInputError, r"byte 0x89 at offset 0 is not ASCII", id="binary"),
    ],
)  # fmt: skip
def test_cdnow_bad_input(make: Any, error: type[Exception], match: str, tmp_path: Path) -> None:
    with pytest.raises(error, match=match):
        make(tmp_path)
