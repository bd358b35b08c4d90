"""Tests of the worker-process runner of custrel._parallel (forked children over shared memory).

:func:`custrel._parallel.run` forks one child per worker (Linux); each writes
its ranges' results into an :class:`~custrel._parallel.Outputs` mapping
created before the fork, then leaves with ``os._exit``. These tests check
what reaches the parent: the results, a child's error (same class for
custrel's errors, else a CustrelError naming it), a child killed by a
signal, a child's warnings, the fall-back to threads when ``fork`` fails,
and that no child outlives a failed run.
"""

from __future__ import annotations

import mmap
import os
import signal
import threading
import time
import warnings
from typing import Any
from unittest import mock

import numpy as np
import pytest

from custrel import _parallel
from custrel.errors import CustrelError, InvalidInputError

pytestmark = pytest.mark.skipif(
    not _parallel.FORK_AVAILABLE, reason="worker processes need Linux fork"
)

FORKED = _parallel.Plan(parts=4, workers=4, processes=True)


def squares(how: _parallel.Plan = FORKED, n: int = 1000) -> dict[str, np.ndarray]:
    """Each task fills its quarter of two outputs; the parent gets all four quarters."""
    out = _parallel.Outputs({"x": (np.float64, n), "who": (np.int64, n)}, shared=how.processes)
    bounds = np.linspace(0, n, how.parts + 1).astype(int)

    def task(i: int) -> None:
        lo, hi = bounds[i], bounds[i + 1]
        out["x"][lo:hi] = np.arange(lo, hi, dtype=np.float64) ** 2
        out["who"][lo:hi] = os.getpid()

    _parallel.run(task, how)
    return out.release()


def _children() -> set[int]:
    """The pids of this process's children, running or unreaped (zombies), from /proc."""
    me, out = os.getpid(), set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as fh:
                stat = fh.read()
        except OSError:  # ended meanwhile
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == me:  # field 4: the parent's pid
            out.add(int(entry))
    return out


_BEFORE: set[int] = set()


@pytest.fixture(autouse=True)
def _children_before_the_test() -> None:
    """Children that other parts of the suite started (the adversarial workers, say)."""
    global _BEFORE
    _BEFORE = _children()


def no_children_left() -> bool:
    """Whether the runner left no child of its own behind, running or unreaped."""
    _parallel.wait_for_exits(timeout=30)  # Forked's workers' exits are reaped by a thread
    return _children() <= _BEFORE


def test_children_write_their_ranges() -> None:
    got = squares()
    assert np.array_equal(got["x"], np.arange(1000, dtype=np.float64) ** 2)
    # four children, one quarter each; the parent only waited
    who = got["who"].reshape(4, -1)[:, 0]
    assert os.getpid() not in who.tolist()
    assert len(set(who.tolist())) == 4
    assert no_children_left()


def test_more_ranges_than_workers_run_in_turn() -> None:
    got = squares(_parallel.Plan(parts=6, workers=2, processes=True), n=600)
    assert np.array_equal(got["x"], np.arange(600, dtype=np.float64) ** 2)
    who = got["who"].reshape(6, -1)[:, 0]
    # worker w runs ranges w, w + 2, w + 4
    assert who[0] == who[2] == who[4] != os.getpid()
    assert who[1] == who[3] == who[5] != os.getpid()
    assert who[0] != who[1]


def test_released_arrays_are_ordinary_memory() -> None:
    out = _parallel.Outputs({"a": (np.int64, 10), "b": (np.bool_, 3)}, shared=True)
    out["a"][:] = 7
    got = out.release()
    assert got["a"].tolist() == [7] * 10
    assert got["b"].dtype == np.bool_
    for arr in got.values():
        assert arr.flags.owndata
        assert arr.flags.writeable
        assert not isinstance(arr.base, mmap.mmap)
    with pytest.raises(KeyError):
        out["a"]  # released: nothing is left


def test_release_can_drop_a_scratch_array() -> None:
    out = _parallel.Outputs({"keep": (np.int64, 2), "scratch": (np.int64, 5)}, shared=True)
    out["keep"][:] = [1, 2]
    assert list(out.release(drop=("scratch",))) == ["keep"]


def test_thread_outputs_are_released_as_they_are() -> None:
    out = _parallel.Outputs({"a": (np.float64, 4)}, shared=False)
    arr = out["a"]
    assert out.release()["a"] is arr


def test_a_custrel_error_in_a_child_keeps_its_class_and_message() -> None:
    def task(i: int) -> None:
        if i == 2:
            raise InvalidInputError("range 2 is bad")

    with pytest.raises(InvalidInputError, match=r"^range 2 is bad$"):
        _parallel.run(task, FORKED)
    assert no_children_left()


def test_another_error_in_a_child_is_a_custrel_error_naming_it() -> None:
    def task(i: int) -> None:
        if i == 3:
            _ = 1 // (i - 3)

    with pytest.raises(CustrelError, match="a worker process failed: ZeroDivisionError: "):
        _parallel.run(task, FORKED)


def test_memory_error_in_a_child_stays_a_memory_error() -> None:
    def task(i: int) -> None:
        if i == 1:
            raise MemoryError("no room for range 1")

    with pytest.raises(MemoryError, match="no room for range 1"):
        _parallel.run(task, FORKED)


def test_the_first_failing_worker_is_reported() -> None:
    def task(i: int) -> None:
        if i in (2, 3):
            raise InvalidInputError(f"range {i}")

    with pytest.raises(InvalidInputError, match=r"^range 2$"):
        _parallel.run(task, FORKED)


def test_a_child_killed_by_a_signal_is_an_error() -> None:
    def task(i: int) -> None:
        if i == 1:
            os.kill(os.getpid(), signal.SIGKILL)

    with pytest.raises(CustrelError, match=r"stopped by signal SIGKILL.*fewer threads"):
        _parallel.run(task, FORKED)
    assert no_children_left()


def test_a_child_that_leaves_without_a_message_is_an_error() -> None:
    def task(i: int) -> None:
        if i == 1:
            os._exit(5)

    with pytest.raises(CustrelError, match="exited with status 5"):
        _parallel.run(task, FORKED)


def test_a_failing_parent_stops_its_children() -> None:
    # the fourth worker cannot be forked, so its range runs in the parent, and fails there
    real = os.fork
    calls: list[int] = []

    def fork_three() -> int:
        calls.append(1)
        if len(calls) > 3:
            raise BlockingIOError(11, "Resource temporarily unavailable")
        return real()

    started = time.monotonic()

    def task(i: int) -> None:
        if i == 3:
            raise InvalidInputError("parent failed")
        time.sleep(60)  # the children would run long: they are killed, not waited for

    with (
        mock.patch.object(os, "fork", fork_three),
        pytest.raises(InvalidInputError, match="parent failed"),
    ):
        _parallel.run(task, FORKED)
    assert time.monotonic() - started < 30
    assert no_children_left()


def test_warnings_in_a_child_reach_the_parent() -> None:
    def task(i: int) -> None:
        if i == 2:
            warnings.warn("range 2 looks odd", RuntimeWarning, stacklevel=1)

    with pytest.warns(RuntimeWarning, match="range 2 looks odd"):
        _parallel.run(task, FORKED)


def test_a_child_warning_is_an_error_where_warnings_are_errors() -> None:
    def task(i: int) -> None:
        if i == 1:
            with np.errstate(divide="warn"):  # whatever numpy's error state the suite left
                np.log(np.zeros(1))  # numpy's RuntimeWarning: divide by zero

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(RuntimeWarning, match="divide by zero"):
            _parallel.run(task, FORKED)


def test_fork_failure_falls_back_to_threads() -> None:
    real = os.fork
    calls = []

    def fork_once() -> int:
        calls.append(1)
        if len(calls) > 1:
            raise BlockingIOError(11, "Resource temporarily unavailable")
        return real()

    with mock.patch.object(os, "fork", fork_once):
        got = squares()
    assert np.array_equal(got["x"], np.arange(1000, dtype=np.float64) ** 2)
    who = got["who"].reshape(4, -1)[:, 0]
    assert who[0] != os.getpid()  # the one child that started
    assert who[1] == who[2] == who[3] == os.getpid()  # the others ran on the parent's threads
    assert no_children_left()


def test_no_fork_at_all_runs_on_threads() -> None:
    with mock.patch.object(os, "fork", side_effect=OSError(12, "Cannot allocate memory")):
        got = squares()
    assert set(got["who"].tolist()) == {os.getpid()}


def test_fork_in_a_threaded_process_does_not_warn() -> None:
    # Python 3.12+ warns (DeprecationWarning) on fork() while other threads run; the runner
    # silences exactly that around its fork, so warnings-as-errors does not break it
    stop = threading.Event()
    other = threading.Thread(target=stop.wait, daemon=True)
    other.start()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            got = squares()
    finally:
        stop.set()
        other.join()
    assert got["x"][-1] == 999.0**2


def test_children_do_not_flush_the_parents_stdio(capfd: pytest.CaptureFixture[str]) -> None:
    print("buffered once", end="")  # still in the parent's buffer when the children fork
    squares()
    print()
    out, _ = capfd.readouterr()
    assert out.count("buffered once") == 1


@pytest.mark.parametrize(
    ("n_rows", "threads", "kwargs", "expected"),
    [
        (100, 8, {}, (1, 1, False)),
        (10**6, 1, {}, (1, 1, False)),
        (10**6, 2, {}, (2, 2, True)),
        (10**6, 4, {"gil_bound": True}, (4, 4, True)),
        (10**6, 16, {}, (10, 10, True)),
        (10**6, 1, {"min_parts": 8}, (8, 1, False)),
        (10**6, 3, {"min_parts": 8}, (9, 3, True)),
        (10**6, 2, {"processes": False}, (2, 2, False)),
        (10**6, 2, {"processes": False, "gil_bound": True}, (1, 1, False)),
        (500_000, 2, {}, (2, 2, False)),
        (500_000, 2, {"gil_bound": True}, (1, 1, False)),
    ],
    ids=[
        "small-log",
        "one-thread",
        "two",
        "gil-bound-in-processes",
        "range-rows-limit",
        "min-parts-one-worker",
        "min-parts-multiple-of-workers",
        "threads",
        "threads-gil-bound",
        "below-the-process-rows-threads",
        "below-the-process-rows-gil-bound",
    ],
)
def test_plan(n_rows: int, threads: int, kwargs: dict[str, Any], expected: tuple[Any, ...]) -> None:
    with (  # the table's thresholds
        mock.patch.object(_parallel, "MIN_PROCESS_ROWS", 10**6),
        mock.patch.object(_parallel, "MIN_PROCESS_WORKERS", 2),
    ):
        assert tuple(_parallel.plan(n_rows, threads, **kwargs)) == expected


@pytest.mark.parametrize(
    ("threads", "expected"), [(2, False), (3, False), (4, True), (16, True)], ids=str
)
def test_processes_from_four_workers(threads: int, expected: bool) -> None:
    # on 2 cores processes were no faster than threads (page faults, the copy out)
    rows = _parallel.MIN_PROCESS_ROWS
    assert _parallel.plan(rows, threads).processes is expected
    assert not _parallel.plan(rows - 1, 16).processes


def test_select_range_counts_the_rows_before() -> None:
    codes = np.array([3, 0, 2, 1, 3, 2, 0], dtype=np.int64)
    for lo, hi in [(0, 2), (2, 3), (3, 4), (1, 4)]:
        rows, before = _parallel.select_range(codes, lo, hi, 4)
        assert rows.tolist() == np.flatnonzero((codes >= lo) & (codes < hi)).tolist()
        assert before == int(np.count_nonzero(codes < lo))


def test_a_reduction_can_be_put_on_threads() -> None:
    # PROCESSES_FOR decides per reduction; on threads the GIL-bound rule applies again
    rows = _parallel.MIN_PROCESS_ROWS
    assert _parallel.plan(rows, 4, reduction="summarize_rfm", gil_bound=True).processes
    with mock.patch.dict(_parallel.PROCESSES_FOR, {"summarize_rfm": False}):
        how = _parallel.plan(rows, 3, reduction="summarize_rfm", gil_bound=True)
        assert tuple(how) == (1, 1, False)
        assert _parallel.plan(rows, 4, reduction="summarize").processes
    assert set(_parallel.PROCESSES_FOR) == {
        "summarize",
        "summarize_rfm",
        "summarize_rfm_days",
        "rfm_summary",
        "btyd_fit",  # btyd._threads.ChunkSums: a fit's likelihood sums
        "btyd_predict",  # btyd._threads.per_customer, from 4 workers
    }


def test_children_reaped_elsewhere_still_report() -> None:
    # with SIGCHLD ignored the kernel reaps the children itself: waitpid finds none, and the
    # runner tells a finished worker from one that ended early by its done flag
    old = signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    try:
        got = squares()
        assert np.array_equal(got["x"], np.arange(1000, dtype=np.float64) ** 2)

        def task(i: int) -> None:
            if i == 2:
                os._exit(3)

        with pytest.raises(CustrelError, match="ended before finishing"):
            _parallel.run(task, FORKED)
    finally:
        signal.signal(signal.SIGCHLD, old)


@pytest.mark.parametrize("threads", [1, 3], ids=["in-line", "threads"])
def test_concat_equals_numpy(threads: int) -> None:
    parts = [np.arange(5), np.arange(0), np.arange(3_000_000, dtype=np.int64)]
    with mock.patch.object(_parallel, "_COPY_BYTES", 1 << 20):  # several pieces per part
        got = _parallel.concat(parts, threads)
    assert got.dtype == np.int64
    assert np.array_equal(got, np.concatenate(parts))
