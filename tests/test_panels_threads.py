"""Threads for the customer x period panels of a log (lifecycle.value_panel, stages_from_log).

Both split the work by contiguous ranges of customers: ``value_panel`` sums
each range's rows (in row order) into its own block of panel rows, and
``stages_from_log`` classifies the same blocks of customers as one thread,
several blocks per task. Panel rows are disjoint, so there is no merge
arithmetic and every comparison here is on the bytes.

(pyramid.py has no function that reads a log: its tiering works on per-customer
values, so it has no panel to split.)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from custrel import (
    InvalidInputError,
    InvalidTypeError,
    TransactionLog,
    _parallel,
    stages_from_log,
    value_panel,
)
from custrel import lifecycle as lc
from strategies import transaction_logs

STAGE_FIELDS = (
    "customer_id",
    "stage_code",
    "margin",
    "tenure",
    "level",
    "trend",
    "idle_periods",
)


@contextmanager
def tiny_thresholds() -> Iterator[None]:
    """Split even a few rows (and cells) over threads, bincount work included."""
    with (
        mock.patch.object(_parallel, "MIN_PARALLEL_ROWS", 1),
        mock.patch.object(_parallel, "MIN_RANGE_ROWS", 1),
        mock.patch.object(_parallel, "MIN_GIL_BOUND_THREADS", 2),
        mock.patch.object(lc, "_CHUNK_CELLS", 8),  # several blocks of customers
    ):
        yield


@contextmanager
def counting_tasks() -> Iterator[list[int]]:
    """Record the task counts given to the shared pool (proves the threaded path ran)."""
    seen: list[int] = []
    real = _parallel.run_ordered

    def spy(fn: Any, n_tasks: int, threads: int) -> Any:
        seen.append(n_tasks)
        return real(fn, n_tasks, threads)

    with mock.patch.object(_parallel, "run_ordered", spy):
        yield seen


def same_bytes(a: Any, b: Any) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def assert_same_panel(a: lc.ValuePanel, b: lc.ValuePanel) -> None:
    for name in ("customer_id", "values", "period_start"):
        assert same_bytes(getattr(a, name), getattr(b, name)), name


def assert_same_stages(a: lc.StageClassification, b: lc.StageClassification) -> None:
    for name in STAGE_FIELDS:
        assert same_bytes(getattr(a, name), getattr(b, name)), name


def big_log(n: int = 240_000, seed: int = 3) -> TransactionLog:
    """Above the real thresholds (200,000 rows), returns and sub-cent amounts included."""
    rng = np.random.default_rng(seed)
    k = n // 12
    weights = rng.gamma(0.7, 1.0, k)  # skewed activity: ranges must still cover everyone
    ids = rng.choice(k, size=n, p=weights / weights.sum())
    secs = rng.integers(0, 3 * 365 * 86400, n)
    amount = rng.gamma(2.0, 20.0, n) * np.where(rng.random(n) < 0.05, -1.0, 1.0)
    return TransactionLog.from_arrays(
        customer_id=ids,
        time=np.datetime64("2022-01-01", "s") + secs.astype("timedelta64[s]"),
        amount=amount,
    )


@pytest.fixture(scope="module")
def log() -> TransactionLog:
    return big_log()


# --- known values: the docstring logs, on every thread count ------------------


@pytest.mark.parametrize("threads", [1, 2, 3, 4], ids=lambda t: f"{t}-threads")
def test_value_panel_known_values(threads: int) -> None:
    log = TransactionLog.from_arrays(
        customer_id=["a", "a", "b"], time=[0.0, 2.5, 1.0], amount=[1.0, 2.0, 3.0]
    )
    with tiny_thresholds():
        p = value_panel(log, period=1.0, threads=threads)
    assert p.values.tolist() == [[1.0, 0.0, 2.0], [0.0, 3.0, 0.0]]
    assert p.customer_id.tolist() == ["a", "b"]


@pytest.mark.parametrize("threads", [1, 2, 3, 4], ids=lambda t: f"{t}-threads")
def test_stages_from_log_known_values(threads: int) -> None:
    log = TransactionLog.from_arrays(
        customer_id=["a"] * 8 + ["b"] * 2,
        time=[0, 1, 2, 3, 4, 5, 6, 7, 6, 7],
        amount=[5, 9, 10, 10, 10, 10, 10, 10, 4, 4],
    )
    with tiny_thresholds():
        r = stages_from_log(log, period=1.0, threads=threads)
    assert dict(zip(r.customer_id.tolist(), r.stages().tolist(), strict=True)) == {
        "a": "stability",
        "b": "too_new",
    }


# --- above the real thresholds: the production split, no patching -------------


@pytest.mark.parametrize("threads", [2, 3, 4, 8], ids=lambda t: f"{t}-threads")
def test_value_panel_threads_identical(log: TransactionLog, threads: int) -> None:
    one = value_panel(log, threads=1)
    with counting_tasks() as tasks:
        many = value_panel(log, threads=threads)
    assert_same_panel(one, many)
    # bincount holds the GIL: the log is split from 4 threads on, not below
    assert (max(tasks, default=1) > 1) == (threads >= _parallel.MIN_GIL_BOUND_THREADS)


@pytest.mark.parametrize("threads", [2, 3, 4], ids=lambda t: f"{t}-threads")
def test_stages_from_log_threads_identical(log: TransactionLog, threads: int) -> None:
    sub = log.take(np.arange(log.n_rows // 2))  # half the log: keeps the test quick
    one = stages_from_log(sub, threads=1)
    with counting_tasks() as tasks:
        many = stages_from_log(sub, threads=threads)
    assert_same_stages(one, many)
    assert max(tasks, default=1) > 1  # the classification ran on several tasks


def test_observation_end_and_other_values_identical(log: TransactionLog) -> None:
    end = np.datetime64("2023-06-30")
    for value in ("amount", "transaction_value"):
        one = value_panel(log, value=value, observation_end=end, threads=1)
        assert_same_panel(one, value_panel(log, value=value, observation_end=end, threads=4))


def test_environment_variable_sets_the_default(
    log: TransactionLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    one = value_panel(log, threads=1)
    monkeypatch.setenv("CUSTREL_THREADS", "4")
    with counting_tasks() as tasks:
        many = value_panel(log)
    assert_same_panel(one, many)
    assert max(tasks) > 1  # 4 threads: split (into as many ranges as 100,000-row ranges allow)
    monkeypatch.setenv("CUSTREL_THREADS", "1")
    with counting_tasks() as tasks:
        value_panel(log)
    assert max(tasks, default=1) == 1  # 1 is today's single-threaded path


# --- properties: any small log, split at tiny thresholds -----------------------


@given(
    log=transaction_logs(max_rows=60, max_customers=10),
    threads=st.integers(2, 5),
    period=st.sampled_from(["month", "week", "day"]),
)
def test_value_panel_any_log_any_threads(log: TransactionLog, threads: int, period: str) -> None:
    if log.time_kind == "numeric":
        period_arg: Any = {"month": 4.0, "week": 1.0, "day": 1.0 / 7.0}[period]
    else:
        period_arg = period
    one = value_panel(log, period=period_arg, threads=1)
    with tiny_thresholds():
        many = value_panel(log, period=period_arg, threads=threads)
    assert_same_panel(one, many)


@given(log=transaction_logs(max_rows=60, max_customers=10), threads=st.integers(2, 5))
def test_stages_any_log_any_threads(log: TransactionLog, threads: int) -> None:
    period: Any = 1.0 if log.time_kind == "numeric" else "week"
    one = stages_from_log(log, period=period, threads=1)
    with tiny_thresholds():
        many = stages_from_log(log, period=period, threads=threads)
    assert_same_stages(one, many)


@given(
    log=transaction_logs(max_rows=60, max_customers=10),
    threads=st.integers(2, 5),
    cut=st.floats(0.0, 1.0),
)
def test_observation_end_leaves_customers_out_identically(
    log: TransactionLog, threads: int, cut: float
) -> None:
    # customers whose rows all lie after the end drop out of the middle of the code ranges
    t = log.numeric_time()
    end_f = float(t.min()) + cut * float(t.max() - t.min())
    end: Any = np.datetime64(int(end_f), "s") if log.time_kind == "datetime" else end_f
    period: Any = 1.0 if log.time_kind == "numeric" else "week"
    for fn, check in ((value_panel, assert_same_panel), (stages_from_log, assert_same_stages)):
        one = fn(log, period=period, observation_end=end, threads=1)
        with tiny_thresholds():
            many = fn(log, period=period, observation_end=end, threads=threads)
        check(one, many)


# --- errors: the same message on every thread count ------------------------------


def test_overflowing_cell_names_the_same_customer_on_every_thread_count() -> None:
    log = TransactionLog.from_arrays(
        customer_id=[0, 1, 2, 2, 3, 3],
        time=[0.0, 0.0, 1.0, 1.5, 0.0, 0.5],
        amount=[1.0, 1.0, 1e308, 1e308, 1e308, 1e308],
    )
    messages = set()
    for threads in (1, 2, 3, 4):
        with tiny_thresholds(), pytest.raises(InvalidInputError, match="beyond the float64") as e:
            value_panel(log, period=1.0, threads=threads)
        messages.add(str(e.value))
    assert messages == {
        (
            "amount of customer 2 in period 2 adds up to inf: the values are finite but their "
            "sum is beyond the float64 range (about 1.8e308); check that row's units"
        )
    }


BAD_THREADS = [
    pytest.param(0, InvalidInputError, r"threads must be >= 1 .*got 0", id="zero"),
    pytest.param(-2, InvalidInputError, r"threads must be >= 1 .*got -2", id="negative"),
    pytest.param(1.5, InvalidTypeError, r"threads must be an integer .*float 1\.5", id="float"),
    pytest.param(True, InvalidTypeError, r"threads must be an integer .*bool True", id="bool"),
    pytest.param("2", InvalidTypeError, r"threads must be an integer .*str '2'", id="text"),
]


@pytest.mark.parametrize(("threads", "error", "match"), BAD_THREADS)
@pytest.mark.parametrize("fn", [value_panel, stages_from_log], ids=lambda f: f.__name__)
def test_bad_threads_refused(fn: Any, threads: Any, error: type, match: str) -> None:
    log = TransactionLog.from_arrays(customer_id=[1], time=[0.0], amount=[1.0])
    with pytest.raises(error, match=match):
        fn(log, period=1.0, threads=threads)


@pytest.mark.parametrize("raw", ["0", "two", "-1", "1.5"], ids=["zero", "word", "neg", "float"])
@pytest.mark.parametrize("fn", [value_panel, stages_from_log], ids=lambda f: f.__name__)
def test_bad_environment_variable_refused(
    fn: Any, raw: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = TransactionLog.from_arrays(customer_id=[1], time=[0.0], amount=[1.0])
    monkeypatch.setenv("CUSTREL_THREADS", raw)
    with pytest.raises(InvalidInputError, match=f"CUSTREL_THREADS must be .*got '{raw}'"):
        fn(log, period=1.0)
