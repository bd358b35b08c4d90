"""Threads for the BTYD models (issue 12): the same result to the last bit for every thread count.

Fits sum their log-likelihood over fixed chunks of customers and predictions
evaluate their kernels chunk by chunk (``custrel.btyd._threads``); the chunks
do not depend on the thread count, so ``threads=1, 2, 3`` must agree bit for
bit. Most tests shrink the chunk to a few hundred customers so that small
data already span many chunks.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custrel import (
    BGBBModel,
    BGNBDModel,
    GammaGammaModel,
    MBGNBDModel,
    ParetoNBDModel,
    fit_bgbb,
    fit_bgnbd,
    fit_gamma_gamma,
    fit_mbgnbd,
    fit_pareto_nbd,
)
from custrel.btyd import _threads
from custrel.btyd._ggomnbd import GGompertzNBDModel, fit_ggomnbd
from custrel.btyd._nbd import _nbd_total, _NBDData
from custrel.errors import InvalidInputError, InvalidTypeError
from same_fits import assert_same_fits

THREADS = (1, 2, 3)


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> int:
    """Chunks of 256 customers, so a few thousand customers span many chunks."""
    monkeypatch.setattr(_threads, "CHUNK", 256)
    return 256


def _same(a: Any, b: Any) -> None:
    """Equal to the last bit (NaN where NaN), shape included."""
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape
    assert np.array_equal(a, b, equal_nan=True), np.max(np.abs(a - b))


def _history(n: int, seed: int = 5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    truth = BGNBDModel.from_params({"r": 0.5, "alpha": 5.0, "a": 1.5, "b": 4.0})
    rng = np.random.default_rng(seed)
    sim = truth.simulate(n, np.round(rng.uniform(10.0, 52.0, n), 1), rng=seed)
    return sim.frequency, sim.recency, sim.T


# ---------------------------------------------------------------------------
# The helpers
# ---------------------------------------------------------------------------


def test_bounds_are_fixed_chunks_independent_of_threads() -> None:
    assert _threads.bounds(0) == [(0, 0)]
    assert _threads.bounds(5, 2) == [(0, 2), (2, 4), (4, 5)]
    assert _threads.bounds(_threads.CHUNK) == [(0, _threads.CHUNK)]
    c = _threads.CHUNK
    for n in (c + 1, 15 * c + 16_960, 40 * c - 3, 401 * c):
        got = _threads.bounds(n)
        sizes = [hi - lo for lo, hi in got]
        assert got[0][0] == 0
        assert got[-1][1] == n
        assert all(a[1] == b[0] for a, b in itertools.pairwise(got))  # no gap
        assert max(sizes) <= c  # the most a chunk may have
        assert max(sizes) - min(sizes) <= 1  # equal: 2 and 4 workers get equal rows
        assert len(got) % _threads.CHUNKS_MULTIPLE == 0
        assert len(got) < -(-n // c) + _threads.CHUNKS_MULTIPLE  # no more than that takes


@pytest.mark.parametrize("threads", THREADS)
def test_per_customer_concatenates_in_order_and_broadcasts(small_chunks: int, threads: int) -> None:
    x = np.arange(1000.0)
    out = _threads.per_customer(lambda a, b: a * 2.0 + b, x, 1.5, threads=threads)
    _same(out, x * 2.0 + 1.5)
    # tuples of results, and 0-d inputs keep their shape
    pair = _threads.per_customer(lambda a: (a, -a), x, threads=threads)
    _same(pair[1], -x)
    _same(_threads.per_customer(np.sqrt, np.float64(4.0), threads=threads), np.asarray(2.0))


def test_per_customer_never_hands_out_the_callers_memory(small_chunks: int) -> None:
    x = np.arange(10.0)
    seen: list[np.ndarray] = []

    def kernel(a: np.ndarray) -> np.ndarray:
        seen.append(a)
        a += 1.0  # a kernel that writes to its input must not reach the caller's array
        return a

    out = _threads.per_customer(kernel, x, threads=2)
    _same(x, np.arange(10.0))
    _same(out, np.arange(10.0) + 1.0)
    assert not np.shares_memory(out, x)


@pytest.mark.parametrize("threads", THREADS)
def test_customer_sum_is_the_same_for_every_thread_count(small_chunks: int, threads: int) -> None:
    rng = np.random.default_rng(0)
    v = rng.standard_normal(5000) * 1e6

    def fn(a: np.ndarray) -> tuple[float, np.ndarray]:
        return float(a.sum()), np.asarray([float((a * a).sum()), float(a.max())])

    ref = _threads.customer_sum(fn, v, threads=1)
    got = _threads.customer_sum(fn, v, threads=threads)
    assert got[0] == ref[0]
    _same(got[1], ref[1])
    assert got[0] == pytest.approx(float(v.sum()), rel=1e-12)


def test_compressed_chunks_merge_within_chunks_and_regroup_when_few(small_chunks: int) -> None:
    # 3000 rows with 4 distinct histories: merged within chunks, then once more across them
    x = np.tile([0.0, 1.0, 2.0, 3.0], 750)
    chunks = _threads.regrouped(_threads.compressed_chunks([x, x * 2.0], np.ones(3000), 2))
    assert len(chunks) == 1
    _same(chunks[0][0], [0.0, 1.0, 2.0, 3.0])
    _same(chunks[0][2], [750.0] * 4)


# ---------------------------------------------------------------------------
# Fits: threads=1, 2, 3 agree to the last bit
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("fit", [fit_bgnbd, fit_mbgnbd, fit_pareto_nbd], ids=lambda f: f.__name__)
def test_repeat_purchase_fits_are_the_same_for_every_thread_count(
    small_chunks: int, fit: Any
) -> None:
    x, tx, big_t = _history(4000)
    fits = [fit(x, tx, big_t, threads=t) for t in THREADS]
    assert_same_fits(*fits)
    assert fits[0].n_customers == 4000


def test_ggomnbd_fit_is_the_same_for_every_thread_count(small_chunks: int) -> None:
    truth = GGompertzNBDModel.from_params(
        {"r": 0.6, "alpha": 8.0, "b": 0.05, "s": 1.2, "beta": 2.0}
    )
    big_t = np.random.default_rng(21).uniform(20.0, 100.0, 1500).round()  # cohorts
    sim = truth.simulate(1500, T=big_t, rng=20)
    fits = [fit_ggomnbd(sim.frequency, sim.recency, sim.T, threads=t) for t in THREADS]
    assert_same_fits(*fits)


def test_bgbb_fit_is_the_same_for_every_thread_count(small_chunks: int) -> None:
    truth = BGBBModel.from_params({"alpha": 1.2, "beta": 0.75, "gamma": 0.66, "delta": 2.78})
    sim = truth.simulate(3000, 6, rng=3)
    fits = [fit_bgbb(sim.frequency, sim.recency, sim.T, threads=t) for t in THREADS]
    assert_same_fits(*fits)


def test_gamma_gamma_fit_is_the_same_for_every_thread_count(small_chunks: int) -> None:
    gg = GammaGammaModel.from_params({"p": 6.25, "q": 3.74, "gamma": 15.44})
    rng = np.random.default_rng(4)
    x = rng.integers(1, 8, 3000).astype(float)
    m = gg.simulate(x, rng=4)
    fits = [fit_gamma_gamma(x, m, threads=t) for t in THREADS]
    assert_same_fits(*fits)


def test_chunked_fit_finds_the_single_chunk_optimum(monkeypatch: pytest.MonkeyPatch) -> None:
    # many small chunks (merged within chunks only) against one chunk: the same maximum
    x, tx, big_t = _history(3000, seed=2)
    whole = fit_bgnbd(x, tx, big_t, threads=1)
    monkeypatch.setattr(_threads, "CHUNK", 200)
    monkeypatch.setattr(_threads, "REGROUP_CHUNKS", 0)
    chunked = fit_bgnbd(x, tx, big_t, threads=2)
    for k in whole.params:
        assert chunked.params[k] == pytest.approx(whole.params[k], rel=1e-6)
    assert chunked.log_likelihood == pytest.approx(whole.log_likelihood, rel=1e-12)


@pytest.mark.parametrize("fit", [fit_bgnbd, fit_pareto_nbd], ids=lambda f: f.__name__)
def test_warm_start_from_a_sample_finds_the_same_maximum(
    monkeypatch: pytest.MonkeyPatch, fit: Any
) -> None:
    # the 10M-customer path (a fit on a sample first) at a small scale
    x, tx, big_t = _history(6000, seed=3)
    cold = fit(x, tx, big_t, threads=1)
    monkeypatch.setattr(_threads, "SUBSAMPLE_ROWS", 1000)
    monkeypatch.setattr(_threads, "SUBSAMPLE_SIZE", 1500)
    from custrel.btyd import _pnbd_math

    monkeypatch.setattr(_pnbd_math, "_SUBSAMPLE", 1000)
    monkeypatch.setattr(_pnbd_math, "_SUBSAMPLE_SIZE", 1500)
    warm = fit(x, tx, big_t, threads=2)
    for k in cold.params:
        assert warm.params[k] == pytest.approx(cold.params[k], rel=1e-5)
        assert warm.standard_errors[k] == pytest.approx(cold.standard_errors[k], rel=1e-3)
    assert warm.log_likelihood == pytest.approx(cold.log_likelihood, rel=1e-12)


@given(n=st.integers(1, 5 * 16384 + 7))
@settings(max_examples=60)
def test_a_sample_is_cut_into_equal_chunks_that_2_and_4_workers_share_evenly(n: int) -> None:
    x = np.arange(n, dtype=np.float64)
    chunks = _threads.split_sample(x, 2 * x)
    sizes = [len(c[0]) for c in chunks]
    assert np.array_equal(np.concatenate([c[0] for c in chunks]), x)  # every row, in order
    assert np.array_equal(np.concatenate([c[1] for c in chunks]), 2 * x)
    assert max(sizes) <= _threads.SAMPLE_CHUNK
    assert max(sizes) - min(sizes) <= 1  # equal to a row
    if n > _threads.SAMPLE_CHUNK:
        assert len(chunks) % _threads.CHUNKS_MULTIPLE == 0 or len(chunks) == n
    else:
        assert len(chunks) == 1


@given(
    weights=st.lists(
        st.one_of(st.integers(1, 20).map(float), st.floats(0.01, 50.0)), min_size=1, max_size=200
    ),
    size=st.integers(1, 600),
)
def test_the_systematic_sample_draws_each_row_by_its_weight(
    weights: list[float], size: int
) -> None:
    w = np.array(weights)
    rows = np.arange(len(w), dtype=np.float64)
    (picked,), counts = _threads.systematic_sample([rows], w, size)
    assert counts.sum() == size
    assert (counts > 0).all()
    assert (np.diff(picked) > 0).all()  # rows in order, each once
    expected = w * size / w.sum()  # the points a row's share of the weight covers
    drawn = np.zeros(len(w))
    drawn[picked.astype(np.int64)] = counts
    assert (np.abs(drawn - expected) < 2.0).all()  # floor or ceil, or one over at a rounded edge


@settings(deadline=None, max_examples=80)
@given(
    weights=st.lists(st.integers(1, 30), min_size=1, max_size=300),
    cuts=st.lists(st.integers(0, 300), max_size=6),
    size=st.integers(1, 900),
)
def test_the_sample_of_chunks_is_the_sample_of_their_rows_joined(
    weights: list[int], cuts: list[int], size: int
) -> None:
    """Whole-number weights: each chunk's cumulative weights plus those before it are exact."""
    w = np.array(weights, dtype=np.float64)
    rows = np.arange(len(w), dtype=np.float64)
    edges = [0, *sorted(min(c, len(w)) for c in cuts), len(w)]  # empty chunks too
    chunks = [(rows[a:b], -rows[a:b], w[a:b]) for a, b in itertools.pairwise(edges)]
    (joined_rows, joined_neg), joined_counts = _threads.systematic_sample([rows, -rows], w, size)
    (got_rows, got_neg), got_counts = _threads.systematic_sample_of_chunks(chunks, size)
    np.testing.assert_array_equal(got_rows, joined_rows)
    np.testing.assert_array_equal(got_neg, joined_neg)
    np.testing.assert_array_equal(got_counts, joined_counts)
    assert all(
        np.array_equal(c[2], w[a:b])
        for c, (a, b) in zip(chunks, itertools.pairwise(edges), strict=True)
    )


def test_chunks_are_prepared_once_each_where_they_are_evaluated() -> None:
    prepared: list[tuple[int, int]] = []

    def prepare(chunk: tuple[np.ndarray, ...]) -> np.ndarray:
        prepared.append((os.getpid(), int(chunk[0][0])))
        return 2.0 * chunk[0]

    def total(theta: np.ndarray, data: np.ndarray) -> tuple[float, np.ndarray]:
        return float(theta[0] * data.sum()), data[:2] * theta

    chunks = [(np.arange(10.0) + 10 * i,) for i in range(6)]
    # the sums in chunk order, each chunk's data prepared by hand
    theta, theta2 = np.array([1.0, 2.0]), np.array([0.5, 1.0])
    whole = [total(theta, 2.0 * c[0]) for c in chunks]
    part = [total(theta2, 2.0 * c[0]) for c in chunks[2:5]]
    for threads in (1, 2, 3):
        prepared.clear()
        with _threads.ChunkSums([total], chunks, threads, n_rows=60, prepare=prepare) as sums:
            first = sums(theta)
            again = sums(theta2, span=(2, 5))
        assert first[0] == sum(v for v, _ in whole)
        np.testing.assert_array_equal(first[1], sum(g for _, g in whole))
        assert again[0] == sum(v for v, _ in part)
        # on threads (no processes for 60 rows): once each, in this process
        assert sorted(p for _, p in prepared) == [0, 10, 20, 30, 40, 50]
        assert {pid for pid, _ in prepared} == {os.getpid()}


def test_the_sample_of_a_million_customers_splits_evenly() -> None:
    # the benchmark's BG/NBD sample: 54,336 rows were 3 x 16,384 + 5,184
    sizes = [len(c[0]) for c in _threads.split_sample(np.zeros(54_336))]
    assert sizes == [13_584] * 4


# ---------------------------------------------------------------------------
# Predictions: threads=1, 2, 3 agree with each other and with the kernel on all rows
# ---------------------------------------------------------------------------

MODELS = [
    BGNBDModel.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}),
    MBGNBDModel.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}),
    ParetoNBDModel.from_params({"r": 0.5534, "alpha": 10.5802, "s": 0.6061, "beta": 11.6562}),
    GGompertzNBDModel.from_params({"r": 0.55, "alpha": 10.6, "b": 0.05, "s": 0.6, "beta": 1.0}),
]


@pytest.mark.parametrize("model", MODELS, ids=lambda m: type(m).__name__)
def test_predictions_are_the_same_for_every_thread_count(small_chunks: int, model: Any) -> None:
    x, tx, big_t = _history(1200, seed=6)
    runs = [
        [
            model.customer_log_likelihood(x, tx, big_t, threads=t),
            model.probability_alive(x, tx, big_t, threads=t),
            model.conditional_expected_purchases(13.0, x, tx, big_t, threads=t),
            model.conditional_expected_purchases(big_t / 4.0, x, tx, big_t, threads=t),
            model.customer_lifetime_value(
                x, tx, big_t, 30.0, horizon=3, discount_rate=0.01, period=4.0, threads=t
            ),
        ]
        for t in THREADS
    ]
    for other in runs[1:]:
        for a, b in zip(runs[0], other, strict=True):
            _same(a, b)
    # and the same as the model's kernels on all rows at once
    _same(runs[0][0], model._ll(x, tx, big_t))
    _same(runs[0][1], model._alive(x, tx, big_t))
    _same(runs[0][2], model._conditional(np.asarray(13.0), x, tx, big_t))


def test_bgbb_predictions_are_the_same_for_every_thread_count(small_chunks: int) -> None:
    m = BGBBModel.from_params({"alpha": 1.2, "beta": 0.75, "gamma": 0.66, "delta": 2.78})
    sim = m.simulate(1500, 6, rng=9)
    x, tx, n = sim.frequency, sim.recency, sim.T
    runs = [
        [
            m.customer_log_likelihood(x, tx, n, threads=t),
            m.probability_alive(x, tx, n, threads=t),
            m.conditional_expected_purchases(5, x, tx, n, threads=t),
        ]
        for t in THREADS
    ]
    for other in runs[1:]:
        for a, b in zip(runs[0], other, strict=True):
            _same(a, b)


def test_gamma_gamma_predictions_are_the_same_for_every_thread_count(small_chunks: int) -> None:
    gg = GammaGammaModel.from_params({"p": 6.25, "q": 3.74, "gamma": 15.44})
    rng = np.random.default_rng(1)
    x = rng.integers(1, 9, 1000).astype(float)
    m = rng.gamma(2.0, 15.0, 1000)
    spend = [gg.conditional_expected_spend(x, m, threads=t) for t in THREADS]
    ll = [gg.customer_log_likelihood(x, m, threads=t) for t in THREADS]
    for t in range(1, len(THREADS)):
        _same(spend[0], spend[t])
        _same(ll[0], ll[t])
    # the documented example still holds through the chunked path
    assert [round(float(z), 2) for z in gg.conditional_expected_spend([0, 2], [np.nan, 22.35])] == [
        35.22,
        24.66,
    ]


# ---------------------------------------------------------------------------
# Properties: random histories, random chunking, any thread count
# ---------------------------------------------------------------------------

histories = st.integers(1, 400).flatmap(
    lambda n: st.tuples(
        st.lists(st.integers(0, 30), min_size=n, max_size=n),
        st.lists(st.floats(0.0, 1.0), min_size=n, max_size=n),
        st.lists(st.floats(0.01, 100.0), min_size=n, max_size=n),
    )
)


def _columns(data: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    xs, share, big_t = (np.asarray(c, dtype=np.float64) for c in data)
    tx = np.where(xs > 0, share * big_t, 0.0)
    return xs, tx, big_t


@settings(deadline=None, max_examples=30)
@given(data=histories, chunk=st.integers(1, 64), threads=st.integers(2, 4))
def test_bgnbd_likelihood_sum_and_predictions_do_not_depend_on_threads(
    data: Any, chunk: int, threads: int
) -> None:
    x, tx, big_t = _columns(data)
    theta = np.asarray([0.243, 4.414, 0.793, 2.426])
    parts = _threads.split(x, tx, big_t, np.ones(x.shape[0]), chunk=chunk)
    datas = [_NBDData.of(*p) for p in parts]
    one = _threads.sum_chunks(lambda d: _nbd_total(theta, d, modified=False), datas, 1)
    many = _threads.sum_chunks(lambda d: _nbd_total(theta, d, modified=False), datas, threads)
    assert one[0] == many[0]
    _same(one[1], many[1])
    whole = _nbd_total(theta, _NBDData.of(x, tx, big_t, np.ones(x.shape[0])), modified=False)
    assert one[0] == pytest.approx(whole[0], rel=1e-10, abs=1e-9)
    m = MODELS[0]
    _same(m.probability_alive(x, tx, big_t, threads=threads), m._alive(x, tx, big_t))


@settings(deadline=None, max_examples=15)
@given(data=histories, threads=st.integers(2, 4))
def test_pareto_nbd_predictions_do_not_depend_on_threads(data: Any, threads: int) -> None:
    x, tx, big_t = _columns(data)
    m = MODELS[2]
    old = _threads.CHUNK
    _threads.CHUNK = 37  # hypothesis forbids function-scoped fixtures: restored below
    try:
        one = m.conditional_expected_purchases(10.0, x, tx, big_t, threads=1)
        many = m.conditional_expected_purchases(10.0, x, tx, big_t, threads=threads)
    finally:
        _threads.CHUNK = old
    _same(one, many)
    _same(one, m._conditional(np.asarray(10.0), x, tx, big_t))


# ---------------------------------------------------------------------------
# Bad thread counts: one table
# ---------------------------------------------------------------------------

_M = MODELS[0]
_GG = GammaGammaModel.from_params({"p": 6.25, "q": 3.74, "gamma": 15.44})
_CALLS: dict[str, Callable[[Any], Any]] = {
    "fit_bgnbd": lambda t: fit_bgnbd([0, 1, 2], [0, 3, 5], [10, 10, 10], threads=t),
    "fit_pareto_nbd": lambda t: fit_pareto_nbd([0, 1, 2], [0, 3, 5], [10, 10, 10], threads=t),
    "fit_gamma_gamma": lambda t: fit_gamma_gamma([1, 2, 3], [5.0, 6.0, 5.5], threads=t),
    "probability_alive": lambda t: _M.probability_alive([1], [2.0], [5.0], threads=t),
    "conditional_expected_purchases": lambda t: _M.conditional_expected_purchases(
        1.0, [1], [2.0], [5.0], threads=t
    ),
    "customer_log_likelihood": lambda t: _M.customer_log_likelihood(1, 2.0, 5.0, threads=t),
    "customer_lifetime_value": lambda t: _M.customer_lifetime_value(
        [1], [2.0], [5.0], 1.0, horizon=2, discount_rate=0.0, threads=t
    ),
    "conditional_expected_spend": lambda t: _GG.conditional_expected_spend([1], [5.0], threads=t),
}

BAD_THREADS = [
    pytest.param(
        0, InvalidInputError, r"threads must be >= 1 \(1 runs on one thread\), got 0", id="zero"
    ),
    pytest.param(-2, InvalidInputError, r"threads must be >= 1 .*got -2", id="negative"),
    pytest.param(
        1.5, InvalidTypeError, r"threads must be an integer >= 1 or None, got float 1.5", id="float"
    ),
    pytest.param(
        "2", InvalidTypeError, r"threads must be an integer >= 1 or None, got str '2'", id="text"
    ),
    pytest.param(True, InvalidTypeError, r"threads must be an integer .*got bool True", id="bool"),
]


@pytest.mark.parametrize("call", sorted(_CALLS))
@pytest.mark.parametrize(("threads", "error", "match"), BAD_THREADS)
def test_bad_thread_counts_are_refused(call: str, threads: Any, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        _CALLS[call](threads)


@pytest.mark.parametrize("value", ["0", "many", "-1", "1.5"])
def test_bad_custrel_threads_is_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("CUSTREL_THREADS", value)
    with pytest.raises(
        InvalidInputError, match=rf"CUSTREL_THREADS must be an integer >= 1.*{value!r}"
    ):
        _M.probability_alive([1], [2.0], [5.0])
    with pytest.raises(InvalidInputError, match="CUSTREL_THREADS"):
        fit_bgnbd([0, 1, 2], [0, 3, 5], [10, 10, 10])


def test_custrel_threads_sets_the_default(
    monkeypatch: pytest.MonkeyPatch, small_chunks: int
) -> None:
    x, tx, big_t = _history(1000, seed=1)
    monkeypatch.setenv("CUSTREL_THREADS", "1")
    one = _M.probability_alive(x, tx, big_t)
    monkeypatch.setenv("CUSTREL_THREADS", "3")
    _same(_M.probability_alive(x, tx, big_t), one)


def test_nested_use_of_the_pool_runs_inline_instead_of_waiting_forever(small_chunks: int) -> None:
    # a fit inside a task of the shared pool (as a pooled bootstrap would run it): its chunks
    # must not queue behind the task that waits for them
    x, tx, big_t = _history(2000, seed=4)
    direct = fit_bgnbd(x, tx, big_t, threads=2)
    nested = _threads.map_chunks(lambda c: fit_bgnbd(x, tx, big_t, threads=2), [0, 1], threads=2)
    for m in nested:
        assert_same_fits(direct, m)


def test_the_pool_threads_carry_the_prefix_the_nesting_guard_looks_for() -> None:
    import threading

    names = _threads.map_chunks(lambda c: threading.current_thread().name, [0, 1, 2], threads=2)
    assert all(n.startswith(_threads._POOL_PREFIX) for n in names), names


@pytest.mark.parametrize("model", MODELS[:2], ids=lambda m: type(m).__name__)
def test_bgnbd_forecast_once_per_distinct_history_equals_the_per_customer_one(model: Any) -> None:
    # ages in whole weeks repeat: the forecast is computed once per distinct (x, T) pair
    x, tx, _ = _history(3000, seed=12)
    big_t = np.maximum(np.ceil(tx), 1.0) + np.random.default_rng(12).integers(0, 20, 3000)
    assert np.unique(big_t).shape[0] * 4 <= big_t.shape[0]  # the shared-pair path
    got = model._conditional(np.asarray(26.0), x, tx, big_t)
    direct = model._alive(x, tx, big_t) * model._alive_expected(np.asarray(26.0), x, big_t)
    _same(got, direct)
    _same(model.conditional_expected_purchases(26.0, x, tx, big_t, threads=2), direct)


# --- the summary columns' checks on threads (btyd._common._as_rfm) ------------------------------

_CELL = st.sampled_from([0.0, 1.0, 2.0, 3.5, 7.0, 40.0, -1.0, 2.5, float("nan"), float("inf")])


@settings(deadline=None, max_examples=200)
@given(
    rows=st.lists(st.tuples(_CELL, _CELL, _CELL), min_size=1, max_size=40),
    valid_first=st.booleans(),
    discrete=st.booleans(),
    threads=st.integers(2, 4),
)
def test_checks_on_threads_accept_and_refuse_exactly_as_in_line(
    rows: list[tuple[float, float, float]], valid_first: bool, discrete: bool, threads: int
) -> None:
    """Chunked checks pass only what the in-line checks pass, and a refusal names the same row."""
    from custrel import _parallel
    from custrel.btyd import _common

    x, tx, big_t = (np.array(c) for c in zip(*rows, strict=True))
    if valid_first:  # valid columns, so that acceptance is exercised too
        x, tx = np.nan_to_num(x, posinf=4.0), np.nan_to_num(tx, posinf=6.0)
        x, tx, big_t = np.floor(np.abs(x) % 5), np.abs(tx) % 9, np.abs(tx) % 9 + 3.0
        tx = np.where(x == 0, 0.0, np.round(tx) if discrete else tx)
        x = np.minimum(x, tx) if discrete else x
        big_t = np.round(big_t)
    calls: list[int] = []
    real_pass = _common._rows_pass

    def counted(*args: Any) -> bool:
        calls.append(1)
        return real_pass(*args)

    def outcome(n_threads: int) -> Any:
        try:
            got = _common._as_rfm(x, tx, big_t, discrete=discrete, threads=n_threads)
        except InvalidInputError as err:
            return str(err)
        return [a.tolist() for a in got]

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_parallel, "MIN_PARALLEL_ROWS", 1)
        mp.setattr(_common, "_CHECK_CHUNK", 3)
        mp.setattr(_common, "_rows_pass", counted)
        one = outcome(1)
        assert not calls  # one thread: in-line only
        many = outcome(threads)
    assert str(many) == str(one)  # NaN-safe comparison of the values, or the same message
    assert calls  # the chunked checks ran
    if valid_first and not isinstance(one, str):
        assert len(calls) == -(-len(rows) // 3)


def test_checks_on_threads_return_fresh_arrays(monkeypatch: pytest.MonkeyPatch) -> None:
    from custrel import _parallel
    from custrel.btyd import _common

    monkeypatch.setattr(_parallel, "MIN_PARALLEL_ROWS", 1)
    x, tx, big_t = np.array([1.0, 0.0, 2.0]), np.array([3.0, 0.0, 5.0]), np.array([9.0, 4.0, 6.0])
    got = _common._as_rfm(x, tx, big_t, threads=2)
    for mine, theirs in zip(got, (x, tx, big_t), strict=True):
        assert not np.shares_memory(mine, theirs)
        np.testing.assert_array_equal(mine, theirs)
    # other inputs are converted first: a list, integers, a read-only view
    frozen = big_t.copy()
    frozen.flags.writeable = False
    mixed = _common._as_rfm(x.tolist(), tx.astype(np.float32), frozen[::1], threads=2)
    for mine, theirs in zip(mixed, (x, tx, big_t), strict=True):
        assert mine.dtype == np.float64
        np.testing.assert_array_equal(mine, theirs)


@settings(deadline=None, max_examples=60)
@given(
    counts=st.lists(st.integers(0, 40), min_size=1100, max_size=1300),
    big=st.sampled_from([0.0, 1.0, 0.5, -1.0, 32768.0, float("nan")]),
    seed=st.integers(0, 2**16),
)
def test_lex_order_is_numpys_lexsort_with_whole_number_columns(
    counts: list[int], big: float, seed: int
) -> None:
    """The int16 radix path of lex_order gives lexsort's permutation (and is left for other values)."""
    from custrel import _numeric

    rng = np.random.default_rng(seed)
    x = np.array(counts, dtype=np.float64)
    x[rng.integers(0, x.shape[0])] += big  # a fraction, a negative, too large or NaN: no int16
    tx = np.round(rng.uniform(0, 5, x.shape[0]), 1)
    big_t = np.floor(rng.uniform(0, 3, x.shape[0]))  # whole numbers: int16 too
    np.testing.assert_array_equal(_numeric.lex_order([x, tx, big_t]), np.lexsort((big_t, tx, x)))


_SPECIAL = [0.0, -0.0, 5e-324, 1e-300, 0.5, 1.0, 1 / 7, 2 / 7, 32767.5, 1e6, float("inf")]


@settings(deadline=None, max_examples=60)
@given(
    picks=st.lists(st.integers(0, len(_SPECIAL) - 1), min_size=1100, max_size=1300),
    odd=st.sampled_from([None, -1.0, -1e-300, float("nan")]),
    seed=st.integers(0, 2**16),
)
def test_lex_order_is_numpys_lexsort_with_fractional_columns(
    picks: list[int], odd: float | None, seed: int
) -> None:
    """Non-negative floats sort as their bits (int64), -0.0 as 0.0; negatives and NaN as floats."""
    from custrel import _numeric

    rng = np.random.default_rng(seed)
    tx = np.array([_SPECIAL[i] for i in picks])  # ties, -0.0 beside 0.0, subnormals, inf
    if odd is not None:
        tx[rng.integers(0, tx.shape[0])] = odd
    x = rng.integers(0, 3, tx.shape[0]).astype(np.float64)
    big_t = rng.choice(np.array([-0.0, 0.0, 1 / 7, 3.5]), tx.shape[0])
    before = (tx.copy(), big_t.copy())
    np.testing.assert_array_equal(_numeric.lex_order([x, tx, big_t]), np.lexsort((big_t, tx, x)))
    np.testing.assert_array_equal(_numeric.lex_order([tx, big_t]), np.lexsort((big_t, tx)))
    # the inputs are not changed (the -0.0 fix works on a copy)
    for got, was in zip((tx, big_t), before, strict=True):
        np.testing.assert_array_equal(np.signbit(got), np.signbit(was))
