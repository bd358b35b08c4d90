"""rfm_summary over ranges of customers: the same bytes for every ``threads``, and bounded memory.

:func:`custrel.rfm_summary` splits the customer codes into contiguous ranges
of about equal rows (at least 8 from 256k rows on, to bound the temporaries
of its sort) and summarises each range's rows, taken in input order, on its
own: in forked worker processes on Linux, on threads elsewhere. Every
comparison here is on the bytes.
"""

from __future__ import annotations

import mmap
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

import attrs
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from custrel import InvalidInputError, InvalidTypeError, TransactionLog, _parallel, rfm_summary
from custrel.btyd import BTYDSummary
from strategies import random_log, transaction_logs


@contextmanager
def workers(processes: bool) -> Iterator[None]:
    """Forked worker processes at any size (where Linux has fork), or threads only."""
    with (
        mock.patch.object(_parallel, "FORK_AVAILABLE", processes and _parallel.FORK_AVAILABLE),
        mock.patch.object(_parallel, "MIN_PROCESS_ROWS", 1),
        mock.patch.object(_parallel, "MIN_PROCESS_WORKERS", 2),
    ):
        yield


@contextmanager
def tiny_thresholds(processes: bool = True) -> Iterator[None]:
    """Split even a few rows over workers (processes, or threads as without ``fork``)."""
    with (
        mock.patch.object(_parallel, "MIN_PARALLEL_ROWS", 1),
        mock.patch.object(_parallel, "MIN_RANGE_ROWS", 1),
        workers(processes),
    ):
        yield


@contextmanager
def one_range() -> Iterator[None]:
    """The whole log as one range: the summary as it was computed before the ranges."""
    with mock.patch.object(_parallel, "plan", return_value=_parallel.Plan(1, 1, False)):
        yield


def same_bytes(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return bool(
            isinstance(a, np.ndarray)
            and isinstance(b, np.ndarray)
            and a.dtype == b.dtype
            and a.shape == b.shape
            and a.tobytes() == b.tobytes()
        )
    return bool(a == b) or (a != a and b != b)  # None == None; nan equals nan here


def assert_same(a: BTYDSummary, b: BTYDSummary) -> None:
    for field in attrs.fields(BTYDSummary):
        assert same_bytes(getattr(a, field.name), getattr(b, field.name)), field.name


def big_log(n: int = 300_000, k: int = 30_000, *, money: bool = True) -> TransactionLog:
    """Skewed activity, several rows a day, returns (when money), two years of seconds."""
    rng = np.random.default_rng(11)
    weights = rng.gamma(0.5, 1.0, k)
    ids = rng.choice(k, size=n, p=weights / weights.sum())
    seconds = rng.integers(0, 730 * 86400, n)
    return TransactionLog.from_arrays(
        customer_id=ids,
        time=np.datetime64("2024-01-01", "s") + seconds.astype("timedelta64[s]"),
        amount=rng.normal(20.0, 30.0, n) / 3.0 if money else None,
    )


OPTIONS = [
    {},
    {"period": None},
    {"period": "month", "unit": "month"},
    {"calibration_end": "2025-01-01"},
    {"calibration_end": "2025-01-01", "observation_end": "2025-09-30", "period": None},
    {"observation_end": "2024-03-01", "period": 2.5},
]
OPTION_IDS = ["day", "exact-times", "month", "holdout", "holdout-exact-cut", "cut-2.5-days"]


# --- the same bytes for every thread count ------------------------------------------------


@given(
    log=transaction_logs(max_rows=60, max_customers=12),
    period=st.sampled_from([None, "day", "week", "month", 3.0]),
    cut=st.sampled_from([None, 0.3, 0.7]),
    holdout=st.sampled_from([None, 0.2, 0.5]),
    processes=st.booleans(),
)
def test_threads_equal_one_thread(
    log: TransactionLog, period: Any, cut: Any, holdout: Any, processes: bool
) -> None:
    if log.time_kind == "numeric" and isinstance(period, str):
        period = 0.5
    if not log.is_purchase.any():
        return  # refused on every thread count (tests/test_btyd.py)
    order = np.argsort(log.numeric_time(), kind="stable")
    end = None if cut is None else log.time[order[int(cut * (len(order) - 1))]]
    cal = None
    if holdout is not None:
        cal = log.time[order[int(holdout * (len(order) - 1))]]
    kwargs = {"period": period, "observation_end": end, "calibration_end": cal}
    with one_range():
        one = outcome(log, kwargs, 1)
    with tiny_thresholds(processes):
        for threads in (1, 2, 3, 4):
            got = outcome(log, kwargs, threads)
            if isinstance(one, BTYDSummary) and isinstance(got, BTYDSummary):
                assert_same(one, got)
            else:  # the same refusal on every thread count
                assert (type(got), str(got)) == (type(one), str(one))


def outcome(log: TransactionLog, kwargs: dict[str, Any], threads: int) -> Any:
    """The summary, or the InvalidInputError that refuses these options."""
    try:
        return rfm_summary(log, threads=threads, **kwargs)
    except InvalidInputError as exc:
        return exc


@pytest.mark.parametrize("kwargs", OPTIONS, ids=OPTION_IDS)
@pytest.mark.parametrize("processes", [True, False], ids=["processes", "threads"])
def test_above_the_real_threshold(kwargs: dict[str, Any], processes: bool) -> None:
    log = big_log()
    with one_range():
        whole = rfm_summary(log, **kwargs)
    with workers(processes):
        for threads in (1, 2, 3, 4):
            assert_same(whole, rfm_summary(log, threads=threads, **kwargs))


def test_without_money() -> None:
    log = big_log(money=False)
    with one_range():
        whole = rfm_summary(log, calibration_end="2025-06-01")
    assert whole.monetary_value is None
    for threads in (1, 2, 3):
        assert_same(whole, rfm_summary(log, calibration_end="2025-06-01", threads=threads))


def test_known_values_split_over_ranges() -> None:
    # Hand-made, split into 3 ranges of customers: a buys on days 0, 0 (one occasion), 2 and 5;
    # b buys once on day 1 and returns on day 3; c only returns; d buys on day 4 only.
    log = TransactionLog.from_arrays(
        customer_id=["a", "a", "b", "c", "a", "b", "d", "a"],
        time=[0.0, 0.0, 1.0, 1.5, 2.0, 3.0, 4.0, 5.0],
        amount=[10.0, 5.0, 8.0, -3.0, 7.0, -8.0, 2.0, 9.0],
    )
    with tiny_thresholds():
        s = rfm_summary(log, observation_end=6.0, threads=3)
    assert s.customer_id.tolist() == ["a", "b", "d"]
    assert s.frequency.tolist() == [2.0, 0.0, 0.0]
    assert s.recency.tolist() == [5.0, 0.0, 0.0]
    assert s.T.tolist() == [6.0, 5.0, 2.0]
    assert s.monetary_value is not None
    assert s.monetary_value[0] == 8.0  # (7 + 9) / 2: the first occasion (15) left out
    assert (s.n_customers_returns_only, s.n_returns) == (1, 1)


# --- memory ----------------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs", OPTIONS[:4], ids=OPTION_IDS[:4])
@pytest.mark.parametrize("money", [True, False], ids=["money", "no-money"])
def test_peak_memory_is_below_twice_the_columns(kwargs: dict[str, Any], money: bool) -> None:
    # the issue measured about 6x (+1.42 GB for 10M rows); the ranges bound the sort's
    # temporaries to those of one range (tracemalloc sees numpy's allocations)
    log = big_log(n=400_000, k=40_000, money=money)
    columns = log.customer_code.nbytes + log.time.nbytes + (log.amount.nbytes if money else 0)
    rfm_summary(log, threads=1, **kwargs)  # warm caches and lazy imports outside the trace
    tracemalloc.start()
    try:
        rfm_summary(log, threads=1, **kwargs)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak <= 2.0 * columns, f"peak {peak / columns:.2f}x the input columns"


@pytest.mark.parametrize(("money", "bound"), [(True, 1.6), (False, 0.5)], ids=["money", "no-money"])
def test_plain_summary_allocates_no_copy_of_the_columns(money: bool, bound: float) -> None:
    """No copy of the log's columns in bincount, in units of the codes' bytes.

    Measured: 0.33x without amounts (int32 offsets of the times, per-customer
    arrays), 1.45x with a quarter of them returns (one copy of the times with
    the returns masked, the returns' codes). numpy's bincount, copying the
    read-only columns, made them 1.32x and 4.02x; taking the purchases'
    codes and times apart, 2.77x.
    """
    from custrel import summarize_rfm

    log = big_log(n=400_000, k=40_000, money=money)
    date = np.datetime64("2030-01-01", "s")
    summarize_rfm(log, date, threads=1)
    tracemalloc.start()
    try:
        summarize_rfm(log, date, threads=1)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < bound * log.customer_code.nbytes, f"peak {peak / log.customer_code.nbytes:.2f}x"


# --- the thread-count control and the results' memory ----------------------------------------


def test_env_one_runs_in_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUSTREL_THREADS", "1")
    with (
        mock.patch.object(_parallel, "run_ordered", side_effect=AssertionError("threaded")),
        mock.patch.object(_parallel, "_run_forked", side_effect=AssertionError("forked")),
    ):
        rfm_summary(big_log())


def test_env_two_uses_two_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUSTREL_THREADS", "2")
    seen: list[_parallel.Plan] = []
    real = _parallel.run

    def spy(fn: Any, how: _parallel.Plan) -> None:
        seen.append(how)
        real(fn, how)

    with workers(processes=True), mock.patch.object(_parallel, "run", spy):
        rfm_summary(big_log())
    assert seen == [_parallel.Plan(parts=8, workers=2, processes=_parallel.FORK_AVAILABLE)]


BAD_THREADS = [
    (0, InvalidInputError, "threads must be >= 1", "zero"),
    (-1, InvalidInputError, "threads must be >= 1", "negative"),
    (1.5, InvalidTypeError, "threads must be an integer >= 1 or None, got float", "float"),
    ("2", InvalidTypeError, "threads must be an integer >= 1 or None, got str", "string"),
    (True, InvalidTypeError, "threads must be an integer >= 1 or None, got bool", "bool"),
]


@pytest.mark.parametrize(
    ("threads", "error", "message"), [b[:3] for b in BAD_THREADS], ids=[b[3] for b in BAD_THREADS]
)
def test_bad_threads_are_refused(threads: Any, error: type, message: str) -> None:
    log = TransactionLog.from_arrays(customer_id=[1], time=[0.0], amount=[1.0])
    with pytest.raises(error, match=message):
        rfm_summary(log, threads=threads)


@pytest.mark.parametrize("raw", ["0", "two", "1.5"], ids=["zero", "word", "fraction"])
def test_bad_env_is_refused(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    log = TransactionLog.from_arrays(customer_id=[1], time=[0.0], amount=[1.0])
    monkeypatch.setenv("CUSTREL_THREADS", raw)
    with pytest.raises(InvalidInputError, match=rf"CUSTREL_THREADS must be an integer.*{raw!r}"):
        rfm_summary(log)


@pytest.mark.parametrize("processes", [True, False], ids=["processes", "threads"])
def test_results_own_their_memory_and_inputs_stay(processes: bool) -> None:
    log = big_log()
    before = {k: v.copy() for k, v in log.to_arrays().items()}
    with workers(processes):
        s = rfm_summary(log, calibration_end="2025-06-01", threads=2)
    for field in attrs.fields(BTYDSummary):
        value = getattr(s, field.name)
        if not isinstance(value, np.ndarray):
            continue
        base = value
        while isinstance(base, np.ndarray) and base.base is not None:
            base = base.base
        assert not isinstance(base, mmap.mmap), field.name
        for col in log.to_arrays().values():
            assert not np.shares_memory(value, col)
    after = log.to_arrays()
    assert all(np.array_equal(before[k], after[k]) for k in before)


# --- first / last of many customers as int32 offsets (custrel._numeric.group_min_max) -----------

_INT64 = np.iinfo(np.int64)


@given(
    k=st.integers(1, 30),
    rows=st.lists(st.tuples(st.integers(0, 29), st.integers(0, 2**62)), max_size=60),
    span=st.sampled_from([1, 2**31 - 2, 2**31 - 1, 2**31, 2**62]),
    prior=st.booleans(),
    above=st.sampled_from([None, 0, 1, 2**31]),
    narrowed=st.booleans(),
    excluded=st.one_of(st.none(), st.lists(st.booleans(), min_size=60, max_size=60)),
    floats=st.booleans(),
)
def test_group_min_max_narrowed_is_the_plain_reduction(
    k: int,
    rows: list[tuple[int, int]],
    span: int,
    prior: bool,
    above: int | None,
    narrowed: bool,
    excluded: list[bool] | None,
    floats: bool,
) -> None:
    """int32 offsets give ufunc.at's first and last exactly, spans too wide for them included.

    ``upper`` (a bound the caller knows, from the maximum itself up) changes nothing, and
    rows ``exclude``-d (in place, narrowed or not) are as if left out.
    """
    from custrel import _numeric

    codes = np.array([c % k for c, _ in rows], dtype=np.intp)
    base = -(2**40)
    values = np.array([base + v % (span + 1) for _, v in rows], dtype=np.int64)
    if len(values):
        values[0] = base + span  # the span wanted, from base up
    if floats:  # numeric times: never narrowed
        values = values.astype(np.float64)
    exclude = None if excluded is None else np.array(excluded[: len(values)], dtype=bool)
    none_first, none_last = (np.inf, -np.inf) if floats else (_INT64.max, _INT64.min)
    base_first = np.full(k, none_first, dtype=values.dtype)
    base_last = np.full(k, none_last, dtype=values.dtype)
    if prior:  # earlier values already in place are kept where smaller / larger
        base_first[::2], base_last[::2] = 5, -5
    want_first, want_last = base_first.copy(), base_last.copy()
    kept = slice(None) if exclude is None else ~exclude
    np.minimum.at(want_first, codes[kept], values[kept])
    np.maximum.at(want_last, codes[kept], values[kept])
    got_first, got_last = base_first.copy(), base_last.copy()
    codes_before, values_before = codes.copy(), values.copy()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_numeric, "NARROW_MIN_GROUPS", 1 if narrowed else 10**9)
        upper = None
        if above is not None and len(values):
            upper = values.max() + min(above, _INT64.max - int(values.max()))
        _numeric.group_min_max(codes, values, got_first, got_last, upper=upper, exclude=exclude)
    np.testing.assert_array_equal(got_first, want_first)
    np.testing.assert_array_equal(got_last, want_last)
    np.testing.assert_array_equal(codes, codes_before)  # the inputs untouched
    np.testing.assert_array_equal(values, values_before)


def test_summarize_rfm_of_many_customers_is_the_same_narrowed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from custrel import _numeric, summarize_rfm

    log = random_log(5000, 700, seed=5, start="2020-01-01", seconds=10**8)
    plain = summarize_rfm(log, "2024-01-01", threads=1)
    plain_table = log.summarize(period=1.0)  # a numeric period: first / last by ufunc.at
    monkeypatch.setattr(_numeric, "NARROW_MIN_GROUPS", 1)
    narrowed = summarize_rfm(log, "2024-01-01", threads=1)
    narrowed_table = log.summarize(period=1.0)
    for name in ("customer_id", "first", "last", "n_transactions", "total_amount"):
        np.testing.assert_array_equal(getattr(narrowed, name), getattr(plain, name))
    for name in ("customer_id", "first", "last", "n_purchases", "n_periods", "total_amount"):
        np.testing.assert_array_equal(getattr(narrowed_table, name), getattr(plain_table, name))
