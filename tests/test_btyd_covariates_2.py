"""Tests of BG/NBD and GGompertz/NBD with time-invariant covariates.

Modules custrel.btyd._bgnbd_cov and custrel.btyd._ggomnbd_cov: known values,
the links' derivatives, zero-covariate consistency, recovery of simulated
effects, properties and bad input.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest

from custrel import (
    BGNBDModel,
    BTYDSummary,
    ConvergenceError,
    FitWarning,
    InvalidInputError,
    InvalidTypeError,
    fit_bgnbd,
    load_cdnow,
    rfm_summary,
)
from custrel.btyd import _bgnbd_cov, _ggomnbd_cov
from custrel.btyd import _covariates as cov
from custrel.btyd._bgnbd_cov import BGNBDCovariateModel
from custrel.btyd._ggomnbd import GGompertzNBDModel, fit_ggomnbd
from custrel.btyd._ggomnbd_cov import GGompertzNBDCovariateModel

# Known values. No published CLVTools fit of bgnbd() or ggomnbd() with static covariates
# on the apparel data was found: CLVTools' own correctness tests
# (tests/testthat/test_correctness_bgnbd.R, test_correctness_ggomnbd.R, version 0.12) hold
# only the no-covariate optima, and its documentation prints no covariate estimates. The
# known values below are those published no-covariate optima, reached through the
# covariate likelihood with covariates whose effect is zero, and the links' definition
# checked customer by customer against the plain models.
#
# Fader, Hardie & Lee (2005), BG/NBD on the CDNOW sample: LL = -9582.4.
FHL_BGNBD = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
# CLVTools' GGompertz/NBD optimum on the same data: LL = -9594.9762.
CLVTOOLS_GG = {"r": 0.55313, "alpha": 10.5758, "b": 0.0000011, "s": 0.60682, "beta": 0.000013}

BG_TRUTH = {"r": 0.8, "alpha": 6.0, "a": 1.0, "b": 3.0}
GG_TRUTH = {"r": 0.6, "alpha": 8.0, "b": 0.05, "s": 1.2, "beta": 2.0}


@pytest.fixture(scope="module")
def cdnow() -> BTYDSummary:
    """The bundled CDNOW sample: 39-week calibration to 1997-09-30, weeks (as tests/test_btyd)."""
    log = load_cdnow()
    return rfm_summary(log, unit="week", calibration_end="1997-09-30", observation_end="1998-06-30")


def _design(**mats: Any) -> cov.CovariateDesign:
    """A design from raw matrices (no identifiability checks: zero columns allowed)."""
    built = {
        p: None if m is None else cov.CovariateMatrix(tuple(f"z{j}" for j in range(m.shape[1])), m)
        for p, m in mats.items()
    }
    return cov.make_design(built)


def _total_ll(family: Any, base: list[float], coefs: dict[str, Any], mats: dict[str, Any],
              data: tuple[Any, ...]) -> float:
    theta = cov.row_theta(family._SPEC, base, coefs, mats)
    ll, _ = family._row_loglik(theta, data, False)
    return float(np.sum(ll))


# ---------------------------------------------------------------------------
# Known values
# ---------------------------------------------------------------------------


def test_bgnbd_covariate_likelihood_reproduces_the_published_cdnow_optimum(
    cdnow: BTYDSummary,
) -> None:
    # FHL (2005): LL = -9582.4 at r 0.243, alpha 4.414, a 0.793, b 2.426. Zero covariates
    # with any coefficients leave every customer at the base parameters.
    n = cdnow.frequency.shape[0]
    data = (cdnow.frequency, cdnow.recency, cdnow.T)
    mats = {"purchase": np.zeros((n, 2)), "dropout": np.zeros((n, 1))}
    coefs = {"purchase": np.array([0.7, -1.3]), "dropout": np.array([2.5])}
    ll = _total_ll(_bgnbd_cov, list(FHL_BGNBD.values()), coefs, mats, data)
    assert ll == pytest.approx(-9582.4, abs=0.05)
    plain = BGNBDModel.from_params(FHL_BGNBD).customer_log_likelihood(*data).sum()
    assert ll == pytest.approx(float(plain), rel=1e-13)


def test_ggomnbd_covariate_likelihood_reproduces_clvtools_cdnow_optimum(
    cdnow: BTYDSummary,
) -> None:
    # CLVTools' GGompertz/NBD optimum on CDNOW: LL = -9594.9762
    n = cdnow.frequency.shape[0]
    data = (cdnow.frequency, cdnow.recency, cdnow.T)
    mats = {"purchase": np.zeros((n, 1)), "dropout": np.zeros((n, 2))}
    coefs = {"purchase": np.array([0.4]), "dropout": np.array([-0.9, 3.0])}
    ll = _total_ll(_ggomnbd_cov, list(CLVTOOLS_GG.values()), coefs, mats, data)
    assert ll == pytest.approx(-9594.9762, abs=0.01)


def test_bgnbd_links_are_clvtools_form_customer_by_customer() -> None:
    # alpha_i = alpha exp(-g_p'z1), a_i = a exp(g_d'z2), b_i = b exp(g_d'z2)
    # (CLVTools bgnbd_staticcov_alpha_i / _a_i / _b_i)
    x = np.array([0.0, 2.0, 7.0])
    tx = np.array([0.0, 30.43, 35.0])
    big_t = np.array([38.86, 38.86, 40.0])
    z1 = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, -1.0]])
    z2 = np.array([[1.0], [0.0], [-0.5]])
    gp, gd = np.array([0.4, -0.2]), np.array([0.7])
    theta = cov.row_theta(_bgnbd_cov._SPEC, list(FHL_BGNBD.values()),
                          {"purchase": gp, "dropout": gd}, {"purchase": z1, "dropout": z2})
    ll, _ = _bgnbd_cov._row_loglik(theta, (x, tx, big_t), False)
    for i in range(3):
        e1, e2 = np.exp(-(z1[i] @ gp)), np.exp(z2[i] @ gd)
        own = BGNBDModel.from_params({
            "r": FHL_BGNBD["r"], "alpha": FHL_BGNBD["alpha"] * e1,
            "a": FHL_BGNBD["a"] * e2, "b": FHL_BGNBD["b"] * e2,
        })
        assert ll[i] == pytest.approx(float(own.customer_log_likelihood(x[i], tx[i], big_t[i])),
                                      rel=1e-12)


def test_ggomnbd_links_are_clvtools_form_customer_by_customer() -> None:
    # alpha_i = alpha exp(-g_p'z1), beta_i = beta exp(-g_d'z2)
    # (CLVTools ggomnbd_staticcov_alpha_i / _beta_i)
    x = np.array([0.0, 2.0, 7.0])
    tx = np.array([0.0, 30.43, 35.0])
    big_t = np.array([38.86, 38.86, 80.0])
    z1 = np.array([[1.0], [0.0], [3.0]])
    z2 = np.array([[1.0, 0.5], [0.0, -1.0], [2.0, 0.0]])
    gp, gd = np.array([0.3]), np.array([0.6, -0.4])
    theta = cov.row_theta(_ggomnbd_cov._SPEC, list(GG_TRUTH.values()),
                          {"purchase": gp, "dropout": gd}, {"purchase": z1, "dropout": z2})
    ll, _ = _ggomnbd_cov._row_loglik(theta, (x, tx, big_t), False)
    for i in range(3):
        own = GGompertzNBDModel.from_params({
            **GG_TRUTH, "alpha": GG_TRUTH["alpha"] * np.exp(-(z1[i] @ gp)),
            "beta": GG_TRUTH["beta"] * np.exp(-(z2[i] @ gd)),
        })
        assert ll[i] == pytest.approx(float(own.customer_log_likelihood(x[i], tx[i], big_t[i])),
                                      rel=1e-12)


# ---------------------------------------------------------------------------
# Derivatives: analytic against central differences
# ---------------------------------------------------------------------------


def _history(rng: np.random.Generator, n: int) -> tuple[Any, Any, Any]:
    x = rng.poisson(2.0, n).astype(float)
    big_t = rng.uniform(10.0, 80.0, n).round(1)
    tx = np.where(x > 0, (big_t * rng.uniform(0.05, 1.0, n)).round(2), 0.0)
    return x, tx, big_t


@pytest.mark.parametrize(
    ("family", "base"),
    [(_bgnbd_cov, list(BG_TRUTH.values())), (_ggomnbd_cov, list(GG_TRUTH.values()))],
    ids=["bgnbd", "ggomnbd"],
)
def test_row_derivatives_by_each_customers_parameters(family: Any, base: list[float]) -> None:
    rng = np.random.default_rng(5)
    x, tx, big_t = _history(rng, 40)
    theta = [b * np.exp(rng.normal(0.0, 0.3, 40)) for b in base]  # per-customer parameters
    ll, grads = family._row_loglik(theta, (x, tx, big_t), True)
    assert grads is not None
    for k in range(len(base)):
        h = 1e-6 * theta[k]
        up = [q + h if j == k else q for j, q in enumerate(theta)]
        down = [q - h if j == k else q for j, q in enumerate(theta)]
        num = (family._row_loglik(up, (x, tx, big_t), False)[0]
               - family._row_loglik(down, (x, tx, big_t), False)[0]) / (2.0 * h)
        np.testing.assert_allclose(grads[k], num, rtol=2e-5, atol=1e-7)


@pytest.mark.parametrize(
    ("family", "base"),
    [(_bgnbd_cov, list(BG_TRUTH.values())), (_ggomnbd_cov, list(GG_TRUTH.values()))],
    ids=["bgnbd", "ggomnbd"],
)
def test_gradient_through_the_links_matches_differences(family: Any, base: list[float]) -> None:
    rng = np.random.default_rng(6)
    n = 60
    x, tx, big_t = _history(rng, n)
    z1 = np.column_stack([rng.integers(0, 2, n), rng.normal(size=n)]).astype(float)
    z2 = rng.normal(size=(n, 1))
    design = _design(purchase=z1, dropout=z2)
    problem = cov._Problem.of(family._SPEC, design, family._row_loglik, lambda c: c,
                              (x, tx, big_t), rng.integers(1, 4, n).astype(float))
    vec = np.concatenate([np.log(base), [0.3, -0.2, 0.4]])
    got = problem.evaluate(vec)
    assert got is not None
    grad = got[2]
    for i in range(vec.shape[0]):
        e = np.zeros_like(vec)
        e[i] = 1e-6
        up, down = problem.evaluate(vec + e), problem.evaluate(vec - e)
        assert up is not None and down is not None
        assert grad[i] == pytest.approx((up[1] - down[1]) / 2e-6, rel=1e-5, abs=1e-6)
