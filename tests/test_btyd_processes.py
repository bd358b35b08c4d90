"""BTYD fits in worker processes (issue 12): the same result to the last bit as threads and one thread.

A fit's likelihood sums run in worker processes forked once per fit
(``custrel.btyd._threads.ChunkSums`` over ``custrel._parallel.Forked``) on
Linux from 2 threads and enough rows. These tests lower the thresholds so
small data take that path, and compare it with threads and with one thread.
"""

from __future__ import annotations

import os
import signal
import threading
import warnings
from collections.abc import Iterator
from typing import Any
from unittest import mock

import numpy as np
import pytest

from custrel import (
    BGBBModel,
    BGNBDModel,
    GammaGammaModel,
    _parallel,
    fit_bgbb,
    fit_bgnbd,
    fit_gamma_gamma,
    fit_mbgnbd,
    fit_pareto_nbd,
)
from custrel.btyd import _pnbd_math, _threads
from custrel.errors import CustrelError, InvalidInputError
from same_fits import assert_same_fits

pytestmark = pytest.mark.skipif(
    not _parallel.FORK_AVAILABLE, reason="worker processes need Linux fork"
)


@pytest.fixture
def forked(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Small chunks, processes from any size; yields the worker counts of the evaluators made."""
    monkeypatch.setattr(_threads, "CHUNK", 256)
    monkeypatch.setattr(_threads, "SAMPLE_CHUNK", 256)
    monkeypatch.setattr(_threads, "MIN_PROCESS_ROWS", 1)
    made: list[int] = []
    real = _parallel.Forked.__init__

    def spy(self: Any, *args: Any, **kwargs: Any) -> None:
        real(self, *args, **kwargs)
        made.append(self.workers)

    with mock.patch.object(_parallel.Forked, "__init__", spy):
        yield made


def _history(n: int, seed: int = 5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    truth = BGNBDModel.from_params({"r": 0.5, "alpha": 5.0, "a": 1.5, "b": 4.0})
    rng = np.random.default_rng(seed)
    sim = truth.simulate(n, rng.uniform(10.0, 52.0, n), rng=seed)
    return sim.frequency, sim.recency, sim.T


def _no_children_left() -> bool:
    _parallel.wait_for_exits(timeout=30)  # the workers' exits are reaped by a thread
    try:
        return os.waitpid(-1, os.WNOHANG) == (0, 0)  # children, none ended unreaped
    except ChildProcessError:
        return True  # no children at all


@pytest.mark.parametrize("fit", [fit_bgnbd, fit_mbgnbd, fit_pareto_nbd], ids=lambda f: f.__name__)
def test_fits_in_processes_equal_threads_and_one_thread(forked: list[int], fit: Any) -> None:
    x, tx, big_t = _history(3000)
    one = fit(x, tx, big_t, threads=1)
    assert forked == []  # one thread: no processes
    for threads in (2, 3):
        in_processes = fit(x, tx, big_t, threads=threads)
        assert_same_fits(one, in_processes)
    assert forked
    assert max(forked) == 3
    with mock.patch.dict(_parallel.PROCESSES_FOR, {"btyd_fit": False}):
        forked.clear()
        assert_same_fits(one, fit(x, tx, big_t, threads=2))
        assert forked == []
    assert _no_children_left()


def test_bgbb_and_gamma_gamma_fits_in_processes(forked: list[int]) -> None:
    sim = BGBBModel.from_params(
        {"alpha": 1.2, "beta": 0.75, "gamma": 0.66, "delta": 2.78}
    ).simulate(3000, 6, rng=3)
    assert_same_fits(
        fit_bgbb(sim.frequency, sim.recency, sim.T, threads=1),
        fit_bgbb(sim.frequency, sim.recency, sim.T, threads=2),
    )
    gg = GammaGammaModel.from_params({"p": 6.25, "q": 3.74, "gamma": 15.44})
    x = np.random.default_rng(4).integers(1, 8, 3000).astype(float)
    m = gg.simulate(x, rng=4)
    assert_same_fits(fit_gamma_gamma(x, m, threads=1), fit_gamma_gamma(x, m, threads=2))
    assert forked


@pytest.mark.parametrize("fit", [fit_bgnbd, fit_pareto_nbd], ids=lambda f: f.__name__)
def test_warm_start_sample_fits_in_processes(
    forked: list[int], monkeypatch: pytest.MonkeyPatch, fit: Any
) -> None:
    monkeypatch.setattr(_threads, "SUBSAMPLE_ROWS", 1000)
    monkeypatch.setattr(_threads, "SUBSAMPLE_SIZE", 1000)  # a sample when over 4,000 customers
    monkeypatch.setattr(_pnbd_math, "_SUBSAMPLE", 1000)
    monkeypatch.setattr(_pnbd_math, "_SUBSAMPLE_SIZE", 1500)
    x, tx, big_t = _history(6000, seed=3)
    one = fit(x, tx, big_t, threads=1)
    spans: list[tuple[int, int, int]] = []  # (first task, end, tasks) of each run in workers
    real_run = _parallel.Forked.run

    def run(self: Any, command: int, theta: Any, span: Any = None) -> Any:
        if self.workers > 1:
            lo, hi = (0, self._n_tasks) if span is None else span
            spans.append((lo, hi, self._n_tasks))
        return real_run(self, command, theta, span)

    with mock.patch.object(_parallel.Forked, "run", run):
        assert_same_fits(one, fit(x, tx, big_t, threads=2))
    assert len(forked) == 1  # one set of workers for the samples and all rows
    assert len({(lo, hi) for lo, hi, _ in spans}) >= 2  # each fit sums its own chunks there
    assert all(hi - lo < n for lo, hi, n in spans)
    assert _no_children_left()


def test_forked_runs_a_span_of_its_tasks_over_every_worker() -> None:
    with _parallel.Forked([_square], 9, 3) as ev:
        theta = np.arange(3.0)
        for lo, hi in [(0, 9), (2, 7), (4, 5), (6, 6), (0, 1)]:
            got = ev.run(0, theta, (lo, hi))
            assert [g.tolist() for g in got] == [[i, *(theta * i).tolist()] for i in range(lo, hi)]
        with pytest.raises(CustrelError, match="not among the 9 tasks"):
            ev.run(0, theta, (3, 10))


# --- the evaluator itself ------------------------------------------------------------------------


def _square(i: int, theta: np.ndarray) -> np.ndarray:
    return np.asarray([i, *(theta * i)], dtype=np.float64)


def test_forked_returns_every_task_in_order_for_many_inputs() -> None:
    with _parallel.Forked([_square, lambda i, th: np.asarray([th.sum() + i])], 7, 3) as ev:
        assert ev.workers == 3
        for k in range(5):
            theta = np.arange(4.0) + k
            got = ev.run(0, theta)
            assert [g.tolist() for g in got] == [[i, *(theta * i).tolist()] for i in range(7)]
            assert [g.tolist() for g in ev.run(1, theta)] == [
                [float(theta.sum() + i)] for i in range(7)
            ]
    assert _no_children_left()
    ev.close()  # idempotent


def _state(pid: int) -> str | None:
    """A process's state letter from /proc (Z: ended, not reaped), None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


def test_close_returns_before_the_exits_and_a_thread_reaps_every_child() -> None:
    real_waitpid, waits = os.waitpid, []

    def waitpid(pid: int, options: int) -> tuple[int, int]:
        waits.append((pid, threading.get_ident()))
        return real_waitpid(pid, options)

    with mock.patch.object(os, "waitpid", waitpid):
        with _parallel.Forked([_square], 6, 3) as ev:
            pids = list(ev._children)
            assert len(pids) == 2
            assert all(_state(p) not in (None, "Z") for p in pids)
            ev.run(0, np.arange(2.0))
        _parallel.wait_for_exits(timeout=30)
    # each child waited for once, by its own pid, and not on the caller's thread
    assert sorted(pid for pid, _ in waits) == sorted(pids)
    assert threading.get_ident() not in {thread for _, thread in waits}
    assert [_state(p) for p in pids] == [None, None]  # exited and reaped: no zombie left
    with pytest.raises(ChildProcessError):
        os.waitpid(pids[0], os.WNOHANG)


def test_a_childs_error_is_raised_in_the_parent_and_the_parent_goes_on_alone() -> None:
    def bad(i: int, theta: np.ndarray) -> np.ndarray:
        if i == 1 and os.getpid() != parent:  # task 1 runs in the first child
            raise InvalidInputError("task 1 refused")
        return np.asarray([float(i)])

    parent = os.getpid()
    with _parallel.Forked([bad], 4, 2) as ev:
        with pytest.raises(InvalidInputError, match="task 1 refused"):
            ev.run(0, np.zeros(1))
        assert ev.workers == 1  # the children ended; the parent evaluates every task now
        assert [g.tolist() for g in ev.run(0, np.zeros(1))] == [[0.0], [1.0], [2.0], [3.0]]
    assert _no_children_left()


def test_a_childs_warning_is_reissued_in_the_parent() -> None:
    def warn(i: int, theta: np.ndarray) -> np.ndarray:
        warnings.warn(f"careful in task {i}", RuntimeWarning, stacklevel=1)
        return np.asarray([float(i)])

    with _parallel.Forked([warn], 2, 2) as ev, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ev.run(0, np.zeros(1))
    texts = sorted(str(c.message) for c in caught)
    assert texts == ["careful in task 0", "careful in task 1"]


def test_a_child_that_dies_is_reported() -> None:
    def die(i: int, theta: np.ndarray) -> np.ndarray:
        if i == 1:
            os.kill(os.getpid(), signal.SIGKILL)
        return np.asarray([float(i)])

    with (
        _parallel.Forked([die], 2, 2) as ev,
        pytest.raises(CustrelError, match="worker process ended while evaluating"),
    ):
        ev.run(0, np.zeros(1))
    assert _no_children_left()


def test_a_result_wider_than_the_shared_slot_is_refused() -> None:
    wide = np.zeros(_parallel.RESULT_WIDTH + 1)
    with (
        _parallel.Forked([lambda i, th: wide], 2, 2) as ev,
        pytest.raises(CustrelError, match=r"a task returned 65 values \(at most 64\)"),
    ):
        ev.run(0, np.zeros(1))


def test_without_fork_the_parent_evaluates_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_fork() -> int:
        raise OSError("no more processes")

    monkeypatch.setattr(os, "fork", no_fork)
    with _parallel.Forked([_square], 5, 4) as ev:
        assert ev.workers == 1
        assert [g[0] for g in ev.run(0, np.ones(2))] == [0.0, 1.0, 2.0, 3.0, 4.0]


def test_children_evaluate_under_the_callers_errstate() -> None:
    def overflow(i: int, theta: np.ndarray) -> np.ndarray:
        return np.asarray([float(np.exp(theta[0]))])

    with _parallel.Forked([overflow], 2, 2) as ev:
        with np.errstate(over="ignore"), warnings.catch_warnings():
            warnings.simplefilter("error")
            assert [g.tolist() for g in ev.run(0, np.asarray([1000.0]))] == [[np.inf]] * 2
        with np.errstate(over="raise"), pytest.raises(FloatingPointError, match="overflow"):
            ev.run(0, np.asarray([1000.0]))


def test_ggomnbd_fit_in_processes(forked: list[int]) -> None:
    from custrel.btyd._ggomnbd import GGompertzNBDModel, fit_ggomnbd

    truth = GGompertzNBDModel.from_params(
        {"r": 0.6, "alpha": 8.0, "b": 0.05, "s": 1.2, "beta": 2.0}
    )
    big_t = np.random.default_rng(21).uniform(20.0, 100.0, 1500).round()
    sim = truth.simulate(1500, T=big_t, rng=20)
    one = fit_ggomnbd(sim.frequency, sim.recency, sim.T, threads=1)
    two = fit_ggomnbd(sim.frequency, sim.recency, sim.T, threads=2)
    assert_same_fits(one, two)
    assert forked


def test_predictions_in_processes_equal_one_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    # from MIN_PROCESS_WORKERS workers a prediction's chunks run in forked processes
    from custrel import ParetoNBDModel

    monkeypatch.setattr(_threads, "CHUNK", 256)
    x, tx, big_t = _history(3000)
    models = [
        BGNBDModel.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}),
        ParetoNBDModel.from_params({"r": 0.55, "alpha": 10.58, "s": 0.61, "beta": 11.66}),
    ]
    runs: list[Any] = []
    real = _parallel.run

    def spy(fn: Any, how: _parallel.Plan) -> None:
        runs.append(how)
        real(fn, how)

    for model in models:
        one = [
            model.conditional_expected_purchases(10.0, x, tx, big_t, threads=1),
            model.probability_alive(x, tx, big_t, threads=1),
        ]
        with mock.patch.object(_parallel, "run", spy):
            four = [
                model.conditional_expected_purchases(10.0, x, tx, big_t, threads=4),
                model.probability_alive(x, tx, big_t, threads=4),
            ]
        for a, b in zip(one, four, strict=True):
            assert a.tobytes() == b.tobytes()
            assert b.flags.writeable
    assert runs
    assert all(p.processes for p in runs)
    assert _no_children_left()


def test_each_worker_prepares_the_chunks_it_evaluates(forked: list[int]) -> None:
    parent = os.getpid()
    prepared: list[int] = []  # the parent's list: a child appends to its own copy

    def prepare(chunk: tuple[np.ndarray, ...]) -> np.ndarray:
        prepared.append(int(chunk[0][0]))
        return 2.0 * chunk[0]

    def total(theta: np.ndarray, data: np.ndarray) -> tuple[float, np.ndarray]:
        in_child = float(os.getpid() != parent)
        return float(theta[0] * data.sum()), np.array([in_child, 1.0])

    chunks = [(np.arange(10.0) + 10 * i,) for i in range(6)]
    with _threads.ChunkSums([total], chunks, 2, n_rows=60, prepare=prepare) as sums:
        assert sums.processes == 2
        for _ in range(3):
            value, (by_children, evaluated) = sums(np.array([1.0]))
            assert value == sum(2.0 * c[0].sum() for c in chunks)
            assert (by_children, evaluated) == (3.0, 6.0)
    assert forked == [2]
    assert prepared == [0, 20, 40]  # the parent's tasks 0, 2, 4, once each; 1, 3, 5 in the child
    assert _no_children_left()
