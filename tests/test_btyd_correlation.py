"""Pareto/NBD with correlated purchase and dropout rates (Sarmanov form, custrel.btyd._pnbd_cor).

Known values: CLVTools' apparel data (104-week calibration, weekly unit). The
plain Pareto/NBD reaches LL -5848.097827 at r 1.4490, alpha 48.6361, s 0.5613,
beta 46.8844; CLVTools 0.12.1's correlated fit (use.cor = TRUE) reports
r 1.47049, alpha 48.5546, s 0.246187, beta 11.2052, Cor(life,trans)
-0.000994712 and LL -5850.8201910257 -- below the plain optimum, because its
``m`` sits on the lower Sarmanov bound. The likelihood at those estimates is the
formula check; the fit here must do at least as well as the plain model.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custrel import (
    ConvergenceError,
    InvalidInputError,
    ParetoNBDCorrelatedModel,
    ParetoNBDModel,
    TransactionLog,
    fit_pareto_nbd,
    fit_pareto_nbd_correlated,
    rfm_summary,
)
from custrel.btyd._pnbd_cor import _bounds, _cor_parts, _scale, sarmanov_bounds

PLAIN = {"r": 1.4490, "alpha": 48.6361, "s": 0.5613, "beta": 46.8844}
PLAIN_LL = -5848.097827
CLVTOOLS = {
    "r": 1.4704880102238511,
    "alpha": 48.554568945269587,
    "s": 0.24618673896477541,
    "beta": 11.205184518564876,
    "correlation": -0.00099471169403474993,
}
CLVTOOLS_LL = -5850.8201910257267


@pytest.fixture(scope="module")
def apparel(shared_data: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    log = TransactionLog.from_csv(
        shared_data / "apparelTrans.csv", customer_col="Id", time_col="Date", amount_col="Price"
    )
    first = np.asarray(log.time).min()
    s = rfm_summary(log, unit="week", calibration_end=first + np.timedelta64(104 * 7, "D"))
    return s.frequency, s.recency, s.T


@pytest.fixture(scope="module")
def fitted(apparel: tuple[np.ndarray, ...]) -> ParetoNBDCorrelatedModel:
    return fit_pareto_nbd_correlated(*apparel)


def _theta(p: dict[str, float]) -> np.ndarray:
    return np.array([p[k] for k in ("r", "alpha", "s", "beta")])


# -- known values -------------------------------------------------------------


def test_plain_likelihood_reproduces_clvtools_data_preparation(apparel):
    m = ParetoNBDModel.from_params(PLAIN)
    assert m.customer_log_likelihood(*apparel).sum() == pytest.approx(PLAIN_LL, abs=1e-5)


def test_likelihood_at_clvtools_correlated_estimates(apparel):
    model = ParetoNBDCorrelatedModel.from_params(CLVTOOLS)
    assert model.customer_log_likelihood(*apparel).sum() == pytest.approx(CLVTOOLS_LL, abs=1e-8)


def test_clvtools_estimate_sits_on_the_lower_bound_of_m():
    model = ParetoNBDCorrelatedModel.from_params(CLVTOOLS)
    lo, _ = sarmanov_bounds(*(CLVTOOLS[k] for k in ("r", "alpha", "s", "beta")))
    assert model.m == pytest.approx(lo, rel=1e-3)


def test_fit_is_never_below_the_plain_fit(apparel, fitted):
    plain = fit_pareto_nbd(*apparel)
    assert fitted.log_likelihood >= plain.log_likelihood - 1e-6
    assert fitted.log_likelihood > CLVTOOLS_LL
    # the correlation is small on these data (CLVTools' vignette: "very close to zero")
    assert abs(fitted.params["correlation"]) < 0.05
    assert list(fitted.params) == ["r", "alpha", "s", "beta", "correlation"]
    assert fitted.covariance.shape == (5, 5)


# -- nesting: correlation 0 is the plain model --------------------------------


def test_zero_correlation_equals_plain_model(apparel):
    x, tx, big_t = apparel
    plain = ParetoNBDModel.from_params(PLAIN)
    cor = ParetoNBDCorrelatedModel.from_params({**PLAIN, "correlation": 0.0})
    np.testing.assert_allclose(
        cor.customer_log_likelihood(x, tx, big_t),
        plain.customer_log_likelihood(x, tx, big_t),
        rtol=1e-14,
    )
    np.testing.assert_allclose(
        cor.probability_alive(x, tx, big_t), plain.probability_alive(x, tx, big_t), rtol=1e-14
    )
    np.testing.assert_allclose(
        cor.conditional_expected_purchases(26.0, x, tx, big_t),
        plain.conditional_expected_purchases(26.0, x, tx, big_t),
        rtol=1e-13,
    )
    np.testing.assert_allclose(
        cor.expected_purchases([1.0, 52.0]), plain.expected_purchases([1.0, 52.0]), rtol=1e-14
    )
    np.testing.assert_allclose(
        cor.probability_of_purchases([0, 1, 5], 52.0),
        plain.probability_of_purchases([0, 1, 5], 52.0),
        rtol=1e-13,
    )


# -- the formulas ----------------------------------------------------------------


def test_analytic_gradient_matches_differences(apparel):
    x, tx, big_t = apparel
    theta = _theta(PLAIN)
    m = 0.4
    _, g, _, _ = _cor_parts(theta, m, x, tx, big_t, grad=True)
    assert g is not None
    for k in range(5):
        eps = 1e-6
        up, down = theta.copy(), theta.copy()
        mu, md = m, m
        if k < 4:
            up[k] += eps
            down[k] -= eps
        else:
            mu += eps
            md -= eps
        num = (
            _cor_parts(up, mu, x, tx, big_t, grad=False)[0].sum()
            - _cor_parts(down, md, x, tx, big_t, grad=False)[0].sum()
        ) / (2 * eps)
        assert g[k].sum() == pytest.approx(num, rel=1e-5, abs=1e-6), k


def test_bounds_match_their_formula():
    theta = _theta(PLAIN)
    l1 = (theta[1] / (1 + theta[1])) ** theta[0]
    l2 = (theta[3] / (1 + theta[3])) ** theta[2]
    lo, hi = _bounds(theta)
    assert lo == pytest.approx(-1 / max(l1 * l2, (1 - l1) * (1 - l2)))
    assert hi == pytest.approx(1 / max(l1 * (1 - l2), (1 - l1) * l2))
    assert lo < 0 < hi


def test_correlation_is_m_times_its_scale():
    model = ParetoNBDCorrelatedModel.from_params({**PLAIN, "correlation": 1e-4})
    assert model.m * _scale(_theta(PLAIN)) == pytest.approx(1e-4)


def test_pmf_sums_to_one_and_its_mean_is_the_expected_purchases():
    model = ParetoNBDCorrelatedModel.from_params(
        {"r": 1.0, "alpha": 2.0, "s": 1.0, "beta": 2.0, "correlation": 0.15}
    )
    n = np.arange(0, 400)
    p = model.probability_of_purchases(n, 10.0)
    assert p.sum() == pytest.approx(1.0, abs=1e-9)
    assert (n * p).sum() == pytest.approx(float(model.expected_purchases(10.0)), rel=1e-8)


def test_simulation_has_the_model_correlation_sign():
    """Positive correlation: fast buyers also leave fast, so fewer purchases than independent."""
    base = {"r": 1.0, "alpha": 2.0, "s": 1.0, "beta": 2.0}
    pos = ParetoNBDCorrelatedModel.from_params({**base, "correlation": 0.2})
    neg = ParetoNBDCorrelatedModel.from_params({**base, "correlation": -0.1})
    sp = pos.simulate(40_000, 20.0, rng=5)
    sn = neg.simulate(40_000, 20.0, rng=5)
    # expected purchases are the model's own: simulation agrees with the closed form
    assert sp.frequency.mean() == pytest.approx(float(pos.expected_purchases(20.0)), rel=0.05)
    assert sn.frequency.mean() == pytest.approx(float(neg.expected_purchases(20.0)), rel=0.05)
    assert sp.frequency.mean() < sn.frequency.mean()


def test_fit_recovers_a_positive_correlation():
    truth = ParetoNBDCorrelatedModel.from_params(
        {"r": 1.0, "alpha": 2.0, "s": 1.0, "beta": 2.0, "correlation": 0.15}
    )
    sim = truth.simulate(20_000, 20.0, rng=11)
    fit = fit_pareto_nbd_correlated(sim.frequency, sim.recency, sim.T)
    se = fit.standard_errors["correlation"]
    assert np.isfinite(se)
    assert abs(fit.params["correlation"] - 0.15) < 3 * se
    assert fit.params["correlation"] > 0


def test_weights_equal_repeated_rows():
    truth = ParetoNBDCorrelatedModel.from_params(
        {"r": 1.0, "alpha": 2.0, "s": 1.0, "beta": 2.0, "correlation": 0.1}
    )
    sim = truth.simulate(400, 20.0, rng=2)
    x, tx, big_t = sim.frequency, sim.recency, sim.T
    w = np.where(np.arange(400) % 3 == 0, 2.0, 1.0)
    rep = np.repeat(np.arange(400), w.astype(int))
    a = fit_pareto_nbd_correlated(x, tx, big_t, weights=w)
    b = fit_pareto_nbd_correlated(x[rep], tx[rep], big_t[rep])
    for k in a.params:
        assert a.params[k] == pytest.approx(b.params[k], rel=1e-4, abs=1e-6), k


# -- properties --------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    x=st.integers(0, 5000),
    frac=st.floats(0.0, 1.0),
    big_t=st.floats(0.01, 2000.0),
    rho=st.floats(-1.0, 1.0),
)
def test_predictions_are_finite_and_probabilities_bounded(x, frac, big_t, rho):
    theta = _theta(PLAIN)
    lo, hi = _bounds(theta)
    m = lo + (hi - lo) * (rho + 1.0) / 2.0
    model = ParetoNBDCorrelatedModel.from_params({**PLAIN, "correlation": m * _scale(theta)})
    tx = frac * big_t if x > 0 else 0.0
    alive = model.probability_alive(x, tx, big_t)
    assert np.all(np.isfinite(alive))
    assert np.all((alive >= 0) & (alive <= 1))
    c1 = model.conditional_expected_purchases(1.0, x, tx, big_t)
    c2 = model.conditional_expected_purchases(10.0, x, tx, big_t)
    assert np.isfinite(c1)
    assert np.isfinite(c2)
    assert 0 <= c1 <= c2
    assert np.isfinite(model.customer_log_likelihood(x, tx, big_t))


# -- bad input ---------------------------------------------------------------


BAD_PARAMS = [
    pytest.param({**PLAIN, "correlation": 0.5}, "correlation must lie in", id="outside-bounds"),
    pytest.param(dict(PLAIN), "missing", id="no-correlation"),
    pytest.param({**PLAIN, "correlation": 0.0, "m": 1.0}, "unknown", id="unknown-key"),
    pytest.param({**PLAIN, "r": -1.0, "correlation": 0.0}, "r", id="negative-r"),
    pytest.param({**PLAIN, "correlation": float("nan")}, "correlation", id="nan-correlation"),
]


@pytest.mark.parametrize(("params", "match"), BAD_PARAMS)
def test_bad_params(params, match):
    with pytest.raises(InvalidInputError, match=match):
        ParetoNBDCorrelatedModel.from_params(params)


BAD_FITS = [
    pytest.param(
        {"initial": {"rho": 0.1}}, InvalidInputError, "unknown parameter", id="initial-unknown"
    ),
    pytest.param(
        {"initial": {"correlation": 5.0}},
        InvalidInputError,
        "outside the admissible interval",
        id="initial-correlation-outside",
    ),
    pytest.param({"weights": [1.0, 1.0]}, InvalidInputError, "weights", id="weights-length"),
]


@pytest.mark.parametrize(("kwargs", "error", "match"), BAD_FITS)
def test_bad_fit_arguments(apparel, kwargs, error, match):
    with pytest.raises(error, match=match):
        fit_pareto_nbd_correlated(*apparel, **kwargs)


def test_bad_data_is_refused_like_the_plain_fit():
    with pytest.raises(InvalidInputError, match="recency"):
        fit_pareto_nbd_correlated([1, 2], [5.0, 30.0], [10.0, 20.0])
    with pytest.raises(InvalidInputError, match="frequency is 0"):
        fit_pareto_nbd_correlated([0, 0], [0.0, 0.0], [10.0, 20.0])


def test_no_heterogeneity_is_a_convergence_error():
    with pytest.raises((ConvergenceError, InvalidInputError)):
        fit_pareto_nbd_correlated([1, 1, 1, 1], [5.0, 5.0, 5.0, 5.0], [10.0, 10.0, 10.0, 10.0])


# -- the predictions lifetimes users expect (btyd._predictions), as mixtures ----------

RHO_MODEL = {"r": 1.0, "alpha": 2.0, "s": 1.0, "beta": 2.0, "correlation": 0.15}


def test_conditional_pmf_sums_to_one_with_the_conditional_mean():
    model = ParetoNBDCorrelatedModel.from_params(RHO_MODEL)
    x, tx, big_t = np.array([0.0, 3.0, 12.0]), np.array([0.0, 4.0, 18.0]), np.array([20.0] * 3)
    n = np.arange(0, 300)[:, None]
    p = np.stack(
        [model.conditional_probability_of_purchases(k, 10.0, x, tx, big_t) for k in n[:, 0]]
    )
    np.testing.assert_allclose(p.sum(axis=0), 1.0, atol=1e-8)
    np.testing.assert_allclose(
        (n * p).sum(axis=0), model.conditional_expected_purchases(10.0, x, tx, big_t), rtol=1e-7
    )


def test_mixture_predictions_at_zero_correlation_equal_the_plain_model(shared_data):
    plain = ParetoNBDModel.from_params(PLAIN)
    cor = ParetoNBDCorrelatedModel.from_params({**PLAIN, "correlation": 0.0})
    x, tx, big_t = [0, 2, 7], [0.0, 30.0, 50.0], [60.0, 60.0, 60.0]
    np.testing.assert_allclose(
        cor.conditional_probability_of_purchases(1, 26.0, x, tx, big_t),
        plain.conditional_probability_of_purchases(1, 26.0, x, tx, big_t),
        rtol=1e-12,
    )
    np.testing.assert_allclose(
        cor.discounted_expected_residual_transactions(x, tx, big_t, discount_rate=0.01),
        plain.discounted_expected_residual_transactions(x, tx, big_t, discount_rate=0.01),
        rtol=1e-12,
    )
    np.testing.assert_allclose(
        cor.new_customer_expected_purchases([1.0, 52.0]),
        plain.new_customer_expected_purchases([1.0, 52.0]),
        rtol=1e-12,
    )
    np.testing.assert_allclose(
        cor.new_customer_probability_alive([1.0, 52.0]),
        plain.new_customer_probability_alive([1.0, 52.0]),
        rtol=1e-12,
    )
    log = TransactionLog.from_csv(
        shared_data / "apparelTrans.csv", customer_col="Id", time_col="Date", amount_col="Price"
    )
    times = np.datetime64("2005-01-02") + np.arange(1, 6) * np.timedelta64(70, "D")
    a = cor.expected_cumulative_transactions(log, times, unit="week")
    b = plain.expected_cumulative_transactions(log, times, unit="week")
    np.testing.assert_allclose(a.expected_cumulative, b.expected_cumulative, rtol=1e-12)
    np.testing.assert_array_equal(a.actual_cumulative, b.actual_cumulative)
    path = cor.probability_alive_path(log.take(np.arange(40)), times, unit="week")
    want = plain.probability_alive_path(log.take(np.arange(40)), times, unit="week")
    np.testing.assert_allclose(path.probability_alive, want.probability_alive, rtol=1e-12)


def test_new_customer_expectation_is_the_unconditional_one():
    model = ParetoNBDCorrelatedModel.from_params(RHO_MODEL)
    np.testing.assert_allclose(
        model.new_customer_expected_purchases([1.0, 10.0]),
        model.expected_purchases([1.0, 10.0]),
        rtol=1e-10,
    )
