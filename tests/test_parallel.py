"""Tests of custrel._parallel and of the parallel summaries (summarize, summarize_rfm).

The parallel path splits the customer codes into ranges and reduces each
range's rows, taken in row order, in its own worker: a forked process on
Linux, a thread elsewhere (both are tested here: ``threads_only`` turns the
processes off). ``bincount`` adds each customer's values in row order either
way, so the results must equal the single-threaded ones to the last bit:
every comparison here is on the bytes. The process runner itself is tested
in tests/test_parallel_processes.py.
"""

from __future__ import annotations

import itertools
import mmap
import os
import signal
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from custrel import (
    CustomerSummary,
    InvalidInputError,
    InvalidTypeError,
    RFMSummary,
    TransactionLog,
    _parallel,
    summarize_rfm,
)
from strategies import transaction_logs


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
    """Split even a few rows over workers, so small Hypothesis logs exercise the parallel path.

    ``processes=False`` runs the ranges on threads, as on a platform without ``fork``.
    """
    with (
        mock.patch.object(_parallel, "MIN_PARALLEL_ROWS", 1),
        mock.patch.object(_parallel, "MIN_RANGE_ROWS", 1),
        workers(processes),
    ):
        yield


@contextmanager
def threads_only() -> Iterator[None]:
    """No worker processes: the ranges run on the thread pool (the non-Linux path)."""
    with mock.patch.object(_parallel, "FORK_AVAILABLE", False):
        yield


@contextmanager
def spy_plans() -> Iterator[list[_parallel.Plan]]:
    """Record the plan of every parallel run (in-line runs of one range are recorded too)."""
    seen: list[_parallel.Plan] = []
    real = _parallel.run

    def spy(fn: Any, how: _parallel.Plan) -> None:
        seen.append(how)
        real(fn, how)

    with mock.patch.object(_parallel, "run", spy):
        yield seen


def same_bytes(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, np.ndarray):
        return bool(a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes())
    return bool(a == b) or (a != a and b != b)  # nan equals nan here


def assert_same_summary(a: CustomerSummary, b: CustomerSummary) -> None:
    for name in (
        "customer_id",
        "first",
        "last",
        "n_purchases",
        "n_periods",
        "total_amount",
        "mean_amount",
        "total_profit",
        "n_returns",
        "observation_end",
        "period",
        "n_rows_after_end",
        "n_return_only_customers",
        "return_only_amount",
    ):
        assert same_bytes(getattr(a, name), getattr(b, name)), name


def assert_same_rfm(a: RFMSummary, b: RFMSummary) -> None:
    for name in (
        "customer_id",
        "first",
        "last",
        "n_transactions",
        "total_amount",
        "n_days",
        "day_customer",
        "day_number",
        "analysis_date",
        "n_rows_after",
    ):
        assert same_bytes(getattr(a, name), getattr(b, name)), name


def big_log(n: int = 250_000, k: int = 20_000, *, profit: bool = False) -> TransactionLog:
    """A log above the real threshold: skewed activity, returns, fractional amounts."""
    rng = np.random.default_rng(7)
    weights = rng.gamma(0.5, 1.0, k)
    ids = rng.choice(k, size=n, p=weights / weights.sum())
    seconds = rng.integers(0, 400 * 86400, n)
    extra: dict[str, Any] = {}
    if profit:
        extra = {"volume": rng.random(n) * 3, "unit_price": rng.random(n) * 10.0 / 3.0}
    return TransactionLog.from_arrays(
        customer_id=ids,
        time=np.datetime64("2024-01-01", "s") + seconds.astype("timedelta64[s]"),
        amount=rng.normal(20.0, 30.0, n) / 3.0,
        **extra,
    )


# --- equal to one thread, to the last bit -------------------------------------------------


@given(
    log=transaction_logs(max_rows=60, max_customers=12),
    period=st.sampled_from([None, "week", "month", 2.5]),
    cut=st.booleans(),
    processes=st.booleans(),
)
def test_summarize_threads_equal_one_thread(
    log: TransactionLog, period: Any, cut: bool, processes: bool
) -> None:
    if isinstance(period, str) and log.time_kind == "numeric":
        period = 1.0
    end = None
    if cut:
        t = np.sort(log.numeric_time())
        end = log.time[np.argsort(log.numeric_time(), kind="stable")[len(t) // 2]]
    with tiny_thresholds(processes):
        one = log.summarize(observation_end=end, period=period, threads=1)
        for threads in (1, 2, 3, 4):
            many = log.summarize(observation_end=end, period=period, threads=threads)
            assert_same_summary(one, many)


@given(
    log=transaction_logs(max_rows=60, max_customers=12),
    basis=st.sampled_from(["transactions", "days"]),
    processes=st.booleans(),
)
def test_summarize_rfm_threads_equal_one_thread(
    log: TransactionLog, basis: Any, processes: bool
) -> None:
    t = log.numeric_time()
    date = log.time[int(np.argsort(t, kind="stable")[len(t) // 2])]
    with tiny_thresholds(processes):
        one = summarize_rfm(log, date, frequency_basis=basis, after="exclude", threads=1)
        for threads in (1, 2, 3, 4):
            many = summarize_rfm(log, date, frequency_basis=basis, after="exclude", threads=threads)
            assert_same_rfm(one, many)


def test_profit_columns_threads_equal_one_thread() -> None:
    log = big_log(profit=True)
    assert_same_summary(log.summarize(threads=1), log.summarize(threads=2))
    with threads_only():
        assert_same_summary(log.summarize(threads=1), log.summarize(threads=2))


@pytest.mark.parametrize(
    "threads", [2, 3, 4, 16], ids=["2-threads", "3-threads", "4-threads", "16-threads"]
)
@pytest.mark.parametrize("processes", [True, False], ids=["processes", "threads"])
def test_above_the_real_threshold(threads: int, processes: bool) -> None:
    log = big_log()
    with workers(processes):
        assert_same_summary(log.summarize(threads=1), log.summarize(threads=threads))
        for basis in ("transactions", "days"):
            one = summarize_rfm(log, "2025-06-01", frequency_basis=basis, threads=1)
            many = summarize_rfm(log, "2025-06-01", frequency_basis=basis, threads=threads)
            assert_same_rfm(one, many)


def test_rows_after_the_date_are_excluded_alike_in_every_range() -> None:
    log = big_log()
    for threads in (1, 2, 3):
        s = summarize_rfm(
            log, "2024-06-01", after="exclude", frequency_basis="days", threads=threads
        )
        assert_same_rfm(
            summarize_rfm(log, "2024-06-01", after="exclude", frequency_basis="days", threads=1),
            s,
        )
        assert s.n_rows_after == int(np.count_nonzero(log.time > np.datetime64("2024-06-01")))
        with pytest.raises(InvalidInputError, match=r"rows are after analysis_date.*first at row"):
            summarize_rfm(log, "2024-06-01", threads=threads)


def test_without_amounts() -> None:
    log = big_log()
    bare = TransactionLog.from_arrays(customer_id=log.customer_id, time=log.time, amount=None)
    assert_same_summary(bare.summarize(threads=1), bare.summarize(threads=2))
    assert_same_rfm(
        summarize_rfm(bare, "2025-06-01", frequency_basis="days", threads=1),
        summarize_rfm(bare, "2025-06-01", frequency_basis="days", threads=2),
    )


def test_threaded_summary_known_values() -> None:
    # Hand-made: customer 1 buys 10 and 5 on day 0, returns 2 on day 2; customer 2 buys 7
    # on day 1; customer 3 only returns (left out and counted). Split over 3 threads.
    log = TransactionLog.from_arrays(
        customer_id=[1, 1, 1, 2, 3], time=[0.0, 0.5, 2.0, 1.0, 1.5], amount=[10, 5, -2, 7, -4]
    )
    with tiny_thresholds():
        s = log.summarize(threads=3)
        r = summarize_rfm(log, 3.0, frequency_basis="days", threads=3)
    assert s.customer_id.tolist() == [1, 2]
    assert s.n_purchases.tolist() == [2, 1]
    assert s.n_periods.tolist() == [1, 1]
    assert s.total_amount is not None
    assert s.total_amount.tolist() == [13.0, 7.0]
    assert (s.n_return_only_customers, s.return_only_amount) == (1, -4.0)
    assert r.customer_id.tolist() == [1, 2, 3]
    assert r.n_transactions.tolist() == [2, 1, 0]
    assert r.n_days is not None
    assert r.n_days.tolist() == [1, 1, 0]
    assert r.total_amount.tolist() == [13.0, 7.0, -4.0]


# --- errors are the same on every thread count ---------------------------------------------


@pytest.mark.parametrize("processes", [True, False], ids=["processes", "threads"])
def test_overflowing_sum_names_the_same_customer(processes: bool) -> None:
    log = TransactionLog.from_arrays(
        customer_id=[1, 2, 2, 3, 3], time=[0.0, 1, 2, 3, 4], amount=[1, 1e308, 1e308, 1e308, 1e308]
    )
    with tiny_thresholds(processes):
        for threads in (1, 2, 3):
            with pytest.raises(InvalidInputError, match="the amount of customer 2 sums beyond"):
                log.summarize(threads=threads)
            with pytest.raises(InvalidInputError, match="customer 2 overflows float64"):
                summarize_rfm(log, 10.0, threads=threads)


@pytest.mark.parametrize("processes", [True, False], ids=["processes", "threads"])
def test_too_fine_period_is_the_same_error(processes: bool) -> None:
    log = TransactionLog.from_arrays(
        customer_id=[1, 2, 3], time=[0.0, 1e300, 5.0], amount=[1, 1, 1]
    )
    with tiny_thresholds(processes):
        for threads in (1, 3):
            with pytest.raises(InvalidInputError, match=r"period must be longer.*up to 1e\+300"):
                log.summarize(period=1e-3, threads=threads)


@pytest.mark.parametrize("processes", [True, False], ids=["processes", "threads"])
def test_far_times_refuse_distinct_days_on_every_thread_count(processes: bool) -> None:
    # two far purchases: every thread count names the first in row order (2**60, not 2**59)
    log = TransactionLog.from_arrays(
        customer_id=[1, 2, 3, 1], time=[0.0, 2.0**60, 5.0, 2.0**59], amount=[1, 1, 1, 1]
    )
    with tiny_thresholds(processes):
        for threads in (1, 2, 3):
            with pytest.raises(InvalidInputError, match=r"time 1\.15\d+e\+18 is beyond ±2\*\*53"):
                summarize_rfm(log, 2.0**61, frequency_basis="days", threads=threads)


def test_return_at_a_far_time_does_not_refuse_days() -> None:
    # a far return is not a purchase: its day is never counted, on one thread or several
    log = TransactionLog.from_arrays(
        customer_id=[1, 2, 3], time=[0.0, 2.0**60, 5.0], amount=[1, -1, 1]
    )
    with tiny_thresholds():
        one = summarize_rfm(log, 2.0**61, frequency_basis="days", threads=1)
        many = summarize_rfm(log, 2.0**61, frequency_basis="days", threads=3)
    assert_same_rfm(one, many)


# --- the thread-count control ---------------------------------------------------------------


def test_default_is_the_usable_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CUSTREL_THREADS", raising=False)
    assert _parallel.resolve_threads() == _parallel.usable_cores() >= 1
    if hasattr(os, "sched_getaffinity") and not hasattr(os, "process_cpu_count"):
        assert _parallel.usable_cores() == len(os.sched_getaffinity(0))


@pytest.mark.parametrize(
    ("env", "keyword", "expected"),
    [("3", None, 3), (" 2 ", None, 2), ("", None, None), ("1", 4, 4), ("7", 1, 1)],
    ids=["env-3", "env-padded", "env-empty-is-default", "keyword-beats-env", "keyword-1"],
)
def test_resolve_threads(
    monkeypatch: pytest.MonkeyPatch, env: str, keyword: int | None, expected: int | None
) -> None:
    monkeypatch.setenv("CUSTREL_THREADS", env)
    want = _parallel.usable_cores() if expected is None else expected
    assert _parallel.resolve_threads(keyword) == want


def test_env_one_takes_the_single_threaded_path(monkeypatch: pytest.MonkeyPatch) -> None:
    log = big_log()
    monkeypatch.setenv("CUSTREL_THREADS", "1")
    with (
        mock.patch.object(_parallel, "run_ordered", side_effect=AssertionError("threaded")),
        mock.patch.object(_parallel, "_run_forked", side_effect=AssertionError("forked")),
        mock.patch.object(_parallel, "code_ranges", side_effect=AssertionError("split")),
    ):
        log.summarize()
        summarize_rfm(log, "2025-06-01", frequency_basis="days")


def test_env_two_takes_the_parallel_path(monkeypatch: pytest.MonkeyPatch) -> None:
    log = big_log()
    monkeypatch.setenv("CUSTREL_THREADS", "2")
    with workers(processes=True), spy_plans() as seen:
        log.summarize()
        summarize_rfm(log, "2025-06-01", frequency_basis="days")
        summarize_rfm(log, "2025-06-01")
    fork = _parallel.FORK_AVAILABLE
    assert seen == [_parallel.Plan(parts=2, workers=2, processes=fork)] * 3


@pytest.mark.parametrize(
    ("threads", "expected"), [(2, 1), (3, 1), (4, 4), (8, 5)], ids=["2", "3", "4", "8"]
)
def test_plain_rfm_on_threads_splits_from_four_threads(threads: int, expected: int) -> None:
    # without worker processes (not Linux): bincount and ufunc.at hold the GIL, the split
    # measured 1.04x on 2 threads (0.89x at 30M rows), 1.27x on 4, so the plain summary
    # runs in-line below 4 threads (and in 500k rows' ranges of at least 100k rows)
    log = big_log(n=500_000)
    with threads_only(), spy_plans() as seen:
        many = summarize_rfm(log, "2025-06-01", threads=threads)
    assert [p.parts for p in seen] == [expected]
    assert not any(p.processes for p in seen)
    assert_same_rfm(summarize_rfm(log, "2025-06-01", threads=1), many)


@pytest.mark.parametrize("threads", [2, 3], ids=["2", "3"])
def test_plain_rfm_below_four_threads_runs_its_sums_aside(threads: int) -> None:
    # one range, but the bincount sums run on a second thread beside first/last (ufunc.at)
    log = big_log(n=500_000)
    real = _parallel.submit
    with threads_only(), mock.patch.object(_parallel, "submit", side_effect=real) as sub:
        many = summarize_rfm(log, "2025-06-01", threads=threads)
    assert sub.call_count == 1
    assert_same_rfm(summarize_rfm(log, "2025-06-01", threads=1), many)
    with threads_only(), mock.patch.object(_parallel, "submit", side_effect=real) as sub:
        summarize_rfm(log, "2025-06-01", threads=1)
    assert sub.call_count == 0


def test_sums_aside_with_late_rows_and_returns() -> None:
    # rows after the date: the sums computed aside over every row are dropped and the kept
    # rows reduced again; "raise" gives the one-thread error; returns are not purchases
    log = big_log(n=400_000)
    with threads_only():
        for threads in (1, 2):
            with pytest.raises(InvalidInputError, match=r"rows are after analysis_date.*row"):
                summarize_rfm(log, "2024-09-01", threads=threads)
        one = summarize_rfm(log, "2024-09-01", after="exclude", threads=1)
        two = summarize_rfm(log, "2024-09-01", after="exclude", threads=2)
    assert_same_rfm(one, two)
    assert two.n_rows_after == int(np.count_nonzero(log.time > np.datetime64("2024-09-01")))


def test_aside_error_is_raised_after_both_ended() -> None:
    done: list[str] = []

    def slow() -> None:
        import time

        time.sleep(0.05)
        done.append("aside")
        raise ValueError("aside failed")

    aside = _parallel.submit(slow)
    with pytest.raises(ValueError, match="aside failed"):
        aside.result()
    assert done == ["aside"]
    # from a pool thread it runs in-line (no task waits on the pool it runs on)
    inner = _parallel.run_ordered(lambda i: _parallel.submit(lambda: i * 10).result(), 4, threads=2)
    assert list(inner) == [0, 10, 20, 30]


@pytest.mark.skipif(not _parallel.FORK_AVAILABLE, reason="worker processes need Linux fork")
def test_plain_rfm_in_processes_splits_from_two() -> None:
    # processes share no GIL: the plain summary is split on 2 workers too
    log = big_log(n=500_000)
    with workers(processes=True), spy_plans() as seen:
        many = summarize_rfm(log, "2025-06-01", threads=2)
    assert seen == [_parallel.Plan(parts=2, workers=2, processes=True)]
    assert_same_rfm(summarize_rfm(log, "2025-06-01", threads=1), many)


def test_small_logs_run_in_line() -> None:
    log = TransactionLog.from_arrays(customer_id=[1, 2], time=[0.0, 1.0], amount=[1.0, 2.0])
    with (
        mock.patch.object(_parallel, "run_ordered", side_effect=AssertionError("threaded")),
        mock.patch.object(_parallel, "_run_forked", side_effect=AssertionError("forked")),
    ):
        log.summarize(threads=8)
        summarize_rfm(log, 2.0, threads=8)


BAD_ENV = [
    ("0", "zero"),
    ("-2", "negative"),
    ("two", "word"),
    ("1.5", "fraction"),
    ("4 threads", "trailing-text"),
]


@pytest.mark.parametrize("raw", [b[0] for b in BAD_ENV], ids=[b[1] for b in BAD_ENV])
def test_bad_env_is_refused(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    log = TransactionLog.from_arrays(customer_id=[1], time=[0.0], amount=[1.0])
    monkeypatch.setenv("CUSTREL_THREADS", raw)
    pattern = rf"environment variable CUSTREL_THREADS must be an integer >= 1.*got {raw!r}"
    with pytest.raises(InvalidInputError, match=pattern):
        log.summarize()
    with pytest.raises(InvalidInputError, match=pattern):
        summarize_rfm(log, 1.0)


BAD_KEYWORD = [
    (0, InvalidInputError, "threads must be >= 1", "zero"),
    (-3, InvalidInputError, "threads must be >= 1", "negative"),
    (2.0, InvalidTypeError, "threads must be an integer >= 1 or None, got float", "float"),
    ("2", InvalidTypeError, "threads must be an integer >= 1 or None, got str", "string"),
    (True, InvalidTypeError, "threads must be an integer >= 1 or None, got bool", "bool"),
]


@pytest.mark.parametrize(
    ("threads", "error", "message"),
    [b[:3] for b in BAD_KEYWORD],
    ids=[b[3] for b in BAD_KEYWORD],
)
def test_bad_threads_keyword_is_refused(threads: Any, error: type, message: str) -> None:
    log = TransactionLog.from_arrays(customer_id=[1], time=[0.0], amount=[1.0])
    with pytest.raises(error, match=message):
        log.summarize(threads=threads)
    with pytest.raises(error, match=message):
        summarize_rfm(log, 1.0, threads=threads)


# --- the pool and the ranges ----------------------------------------------------------------


def test_pool_is_shared_and_reused() -> None:
    first = _parallel._executor(2)
    assert _parallel._executor(2) is first
    assert _parallel._executor(1) is first  # a smaller request reuses the bigger pool


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_child_gets_a_fresh_pool() -> None:
    # a child forked after the pool started has none of its threads: it must start its own
    log = big_log()
    expected = log.summarize(threads=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # 3.12+: fork of a threaded process
        pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through its exit status
        code = 1
        try:
            if _parallel._pool is not None:  # the parent's pool, whose threads the child lacks
                os._exit(3)
            got = log.summarize(threads=2)
            code = 0 if same_bytes(got.total_amount, expected.total_amount) else 2
        finally:
            os._exit(code)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            assert os.waitstatus_to_exitcode(status) == 0
            return
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    pytest.fail("the forked child hung on the parent's thread pool")


def test_run_ordered_keeps_order_and_reraises_the_first_error() -> None:
    assert list(_parallel.run_ordered(lambda i: i * i, 5, 3)) == [0, 1, 4, 9, 16]

    def fail(i: int) -> int:
        if i >= 2:
            raise InvalidInputError(f"task {i}")
        return i

    with pytest.raises(InvalidInputError, match="task 2"):
        _parallel.run_ordered(fail, 5, 3)


@given(
    codes=st.lists(st.integers(0, 50), min_size=1, max_size=300),
    parts=st.integers(1, 9),
)
def test_code_ranges_partition_the_codes(codes: list[int], parts: int) -> None:
    arr = np.asarray(codes, dtype=np.int64)
    k = int(arr.max()) + 1
    ranges = _parallel.code_ranges(arr, k, parts)
    assert ranges[0][0] == 0
    assert ranges[-1][1] == k
    assert all(lo < hi for lo, hi in ranges)
    assert all(a[1] == b[0] for a, b in itertools.pairwise(ranges))
    assert len(ranges) <= parts
    rows = np.concatenate([_parallel.range_rows(arr, lo, hi, k) for lo, hi in ranges])
    assert np.array_equal(np.sort(rows), np.arange(len(arr)))


def test_code_ranges_balance_rows_under_skew() -> None:
    rng = np.random.default_rng(3)
    # half of the rows belong to the first 1% of the customers
    codes = np.concatenate([rng.integers(0, 1_000, 500_000), rng.integers(0, 100_000, 500_000)])
    ranges = _parallel.code_ranges(codes, 100_000, 4)
    sizes = [len(_parallel.range_rows(codes, lo, hi, 100_000)) for lo, hi in ranges]
    assert len(ranges) == 4
    assert max(sizes) < 1.2 * len(codes) / 4


@pytest.mark.parametrize("processes", [True, False], ids=["processes", "threads"])
def test_inputs_are_not_mutated(processes: bool) -> None:
    log = big_log()
    before = {k: v.copy() for k, v in log.to_arrays().items()}
    with workers(processes):
        log.summarize(threads=2)
        summarize_rfm(log, "2025-06-01", frequency_basis="days", threads=2)
    after = log.to_arrays()
    assert all(np.array_equal(before[k], after[k]) for k in before)


@pytest.mark.parametrize("processes", [True, False], ids=["processes", "threads"])
def test_results_own_their_memory(processes: bool) -> None:
    # worker processes write into an anonymous shared mapping: no result may still point into
    # it (a later fork would share it with the child), nor into the log
    log = big_log()
    with workers(processes):
        s = log.summarize(threads=2)
        r = summarize_rfm(log, "2025-06-01", frequency_basis="days", threads=2)
    for result in (s, r):
        for value in attrs_arrays(result):
            base = value
            while isinstance(base, np.ndarray) and base.base is not None:
                base = base.base
            assert not isinstance(base, mmap.mmap)
            for col in log.to_arrays().values():
                assert not np.shares_memory(value, col)


def attrs_arrays(result: Any) -> list[np.ndarray]:
    return [v for v in vars_of(result) if isinstance(v, np.ndarray)]


def vars_of(result: Any) -> list[Any]:
    import attrs

    return [getattr(result, f.name) for f in attrs.fields(type(result))]
