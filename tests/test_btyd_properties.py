"""Properties of every BTYD model over the whole parameter box the fits can return.

The fits stop with ``ConvergenceError`` when an estimate runs beyond e^16 or
below e^-16 (``_numeric._RUNAWAY``, ``_pareto_nbd._RUNAWAY``), so every
fitted model has its parameters in [e^-16, e^16]. Over that box, the singular
points of the closed forms (a = 1, a + b = 1, gamma = 1, s = 1) included, and
for histories from none to very long and horizons up to a million time units:
P(alive) lies in [0, 1], expectations are finite and >= 0, CLV is finite, and
the forecasts never decrease in t.
"""

from __future__ import annotations

import math
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
    RepeatPurchaseModel,
)

BOX = 16.0  # the fits' runaway bound: every estimate lies in [e^-16, e^16]

#: the singular points of the closed forms, and their near neighbours
SPECIAL = [1.0, 1.0 + 1e-12, 1.0 - 1e-9, 1.0 + 1e-4, 1.0 - 1e-3, 0.5, 2.0]


def positive() -> st.SearchStrategy[float]:
    """A parameter in the box, log-uniform, with the singular points drawn often."""
    return st.one_of(
        st.floats(-BOX, BOX).map(math.exp),
        st.sampled_from(SPECIAL),
        st.sampled_from([math.exp(-BOX), math.exp(BOX)]),
    )


CONTINUOUS = [BGNBDModel, MBGNBDModel, ParetoNBDModel]


@st.composite
def continuous_model(draw: st.DrawFn) -> RepeatPurchaseModel:
    cls = draw(st.sampled_from(CONTINUOUS))
    values = [draw(positive()) for _ in range(4)]
    if cls is not ParetoNBDModel and draw(st.booleans()):
        values[3] = max(1.0 - values[2], math.exp(-BOX))  # a + b = 1
    model: RepeatPurchaseModel = cls.from_params(dict(zip(cls._param_names, values, strict=True)))
    return model


@st.composite
def histories(draw: st.DrawFn, *, discrete: bool = False) -> tuple[Any, Any, Any]:
    """Customer histories: none, short, long, long-lapsed, very frequent."""
    n = draw(st.integers(1, 6))
    if discrete:
        big_t = np.asarray(draw(st.lists(st.integers(0, 400), min_size=n, max_size=n)), float)
        tx = np.floor(big_t * np.asarray(draw(st.lists(st.floats(0, 1), min_size=n, max_size=n))))
        x = np.floor(tx * np.asarray(draw(st.lists(st.floats(0, 1), min_size=n, max_size=n))))
        x = np.where(tx > 0, np.maximum(x, 1.0), 0.0)
        return x, tx, big_t
    big_t = np.asarray(
        draw(
            st.lists(
                st.one_of(st.floats(0.0, 100.0), st.floats(0.0, 1e6), st.just(0.0)),
                min_size=n,
                max_size=n,
            )
        )
    )
    frac = np.asarray(draw(st.lists(st.floats(0.0, 1.0), min_size=n, max_size=n)))
    x = np.asarray(
        draw(
            st.lists(st.one_of(st.integers(0, 10), st.integers(0, 20_000)), min_size=n, max_size=n)
        ),
        dtype=float,
    )
    tx = np.where(x > 0, big_t * frac, 0.0)
    return x, tx, big_t


def horizons(*, discrete: bool = False) -> st.SearchStrategy[np.ndarray[Any, Any]]:
    top = 5_000 if discrete else 1e6
    elem = st.integers(0, int(top)).map(float) if discrete else st.floats(0.0, top)
    return st.lists(elem, min_size=2, max_size=6).map(lambda v: np.sort(np.asarray(v)))


def assert_monotone(values: np.ndarray[Any, Any], axis: int = 0) -> None:
    """Non-decreasing along ``axis``, up to rounding (1e-9 relative)."""
    d = np.diff(values, axis=axis)
    scale = 1e-9 * (1.0 + np.abs(np.take(values, range(1, values.shape[axis]), axis=axis)))
    assert np.all(d >= -scale), values


def check_repeat_model(
    model: RepeatPurchaseModel, hist: tuple[Any, Any, Any], t: np.ndarray[Any, Any]
) -> None:
    x, tx, big_t = hist
    pa = model.probability_alive(x, tx, big_t)
    assert np.all(np.isfinite(pa)), pa
    assert np.all((pa >= 0.0) & (pa <= 1.0)), pa
    e = model.expected_purchases(t)
    assert np.all(np.isfinite(e)), e
    assert np.all(e >= 0.0), e
    assert_monotone(e)
    assert float(model.expected_purchases(0.0)) == 0.0
    cond = np.stack([model.conditional_expected_purchases(tt, x, tx, big_t) for tt in t])
    assert np.all(np.isfinite(cond)), cond
    assert np.all(cond >= 0.0), cond
    assert_monotone(cond, axis=0)
    clv = model.customer_lifetime_value(
        x, tx, big_t, 10.0, horizon=6, discount_rate=0.01, period=1.0
    )
    assert np.all(np.isfinite(clv)), clv
    assert np.all(clv >= 0.0), clv


@settings(deadline=None)
@given(model=continuous_model(), hist=histories(), t=horizons())
def test_continuous_models_stay_finite_and_bounded(
    model: RepeatPurchaseModel, hist: tuple[Any, Any, Any], t: np.ndarray[Any, Any]
) -> None:
    check_repeat_model(model, hist, t)


@settings(deadline=None)
@given(
    params=st.tuples(positive(), positive(), positive(), positive()),
    hist=histories(discrete=True),
    t=horizons(discrete=True),
)
def test_bgbb_stays_finite_and_bounded(
    params: tuple[float, float, float, float],
    hist: tuple[Any, Any, Any],
    t: np.ndarray[Any, Any],
) -> None:
    model = BGBBModel.from_params(dict(zip(BGBBModel._param_names, params, strict=True)))
    check_repeat_model(model, hist, t)


@settings(deadline=None)
@given(
    params=st.tuples(positive(), positive(), positive()),
    x=st.lists(st.integers(0, 10_000), min_size=1, max_size=6),
    spend=st.lists(st.floats(1e-6, 1e9), min_size=6, max_size=6),
)
def test_gamma_gamma_spend_finite_where_the_mean_exists(
    params: tuple[float, float, float], x: list[int], spend: list[float]
) -> None:
    gg = GammaGammaModel.from_params(dict(zip(("p", "q", "gamma"), params, strict=True)))
    p, q, _ = params
    xs = np.asarray(x, dtype=float)
    m = np.asarray(spend[: len(x)])
    got = gg.conditional_expected_spend(xs, m)
    exists = p * xs + q > 1.0
    assert np.all(np.isfinite(got[exists]))
    assert np.all(got[exists] > 0.0)
    assert np.all(got[~exists] == np.inf)  # documented: no mean spend there
    if q > 1.0:
        assert math.isfinite(gg.expected_spend())
        assert gg.expected_spend() > 0.0
    else:
        assert gg.expected_spend() == math.inf


# ---------------------------------------------------------------------------
# The singular points themselves: the limits, not NaN
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("cls", [BGNBDModel, MBGNBDModel])
@pytest.mark.parametrize("b", [0.3, 2.0, 50.0])
def test_nbd_a_equal_one_is_the_limit(cls: Any, b: float) -> None:
    t = np.array([0.5, 5.0, 50.0, 5000.0])
    at = cls.from_params({"r": 0.8, "alpha": 3.0, "a": 1.0, "b": b})
    lo = cls.from_params({"r": 0.8, "alpha": 3.0, "a": 1.0 - 1e-6, "b": b})
    hi = cls.from_params({"r": 0.8, "alpha": 3.0, "a": 1.0 + 1e-6, "b": b})
    mid = 0.5 * (lo.expected_purchases(t) + hi.expected_purchases(t))
    np.testing.assert_allclose(at.expected_purchases(t), mid, rtol=1e-7)
    c = at.conditional_expected_purchases(t, 3, 4.0, 9.0)
    c_mid = 0.5 * (
        lo.conditional_expected_purchases(t, 3, 4.0, 9.0)
        + hi.conditional_expected_purchases(t, 3, 4.0, 9.0)
    )
    np.testing.assert_allclose(c, c_mid, rtol=1e-7)


def test_bgnbd_a_equal_one_known_value() -> None:
    # a = 1, b = 2, r = 1, alpha = 1, t = 1: E[X(1)] = E[(1 - 1/(1+p))/p] over Beta(1, 2)
    # = int_0^1 2 (1 - p) / (1 + p) dp = 4 log 2 - 2
    m = BGNBDModel.from_params({"r": 1.0, "alpha": 1.0, "a": 1.0, "b": 2.0})
    assert float(m.expected_purchases(1.0)) == pytest.approx(4 * math.log(2) - 2, rel=1e-12)


@pytest.mark.parametrize("gamma", [1.0, 1.0 + 1e-13, 1.0 - 1e-8, 250.0, 900.0])
def test_bgbb_gamma_one_and_large_gamma_are_exact(gamma: float) -> None:
    # sum_{i=1}^{t} E[(1 - theta)^i], theta ~ Beta(gamma, delta + n), term by term
    from scipy import special

    m = BGBBModel.from_params({"alpha": 1.2, "beta": 0.75, "gamma": gamma, "delta": 2.5})
    for n, t in [(0, 1), (0, 40), (6, 40), (6, 200), (1000, 60)]:
        i = np.arange(1, t + 1)
        want = np.exp(special.betaln(gamma, 2.5 + n + i) - special.betaln(gamma, 2.5 + n)).sum()
        got = float(m._future(np.asarray(float(t)), np.asarray(float(n))))
        assert got == pytest.approx(want, rel=1e-9)


def test_bgbb_expected_purchases_gamma_one_known_value() -> None:
    # gamma = delta = alpha = beta = 1: E[X(t)] = 1/2 sum_i E[(1-theta)^i] = 1/2 sum_i 1/(i+1)
    m = BGBBModel.from_params({"alpha": 1.0, "beta": 1.0, "gamma": 1.0, "delta": 1.0})
    got = m.expected_purchases([1.0, 10.0])
    want = [0.25, 0.5 * sum(1.0 / (i + 1) for i in range(1, 11))]
    np.testing.assert_allclose(got, want, rtol=1e-12)
