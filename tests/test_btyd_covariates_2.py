"""Tests of BG/NBD and GGompertz/NBD with time-invariant covariates.

Modules custrel.btyd._bgnbd_cov and custrel.btyd._ggomnbd_cov: known values,
the links' derivatives, zero-covariate consistency, recovery of simulated
effects, properties and bad input.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custrel import (
    BGNBDModel,
    BTYDSummary,
    ConvergenceError,
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


def _total_ll(
    family: Any,
    base: list[float],
    coefs: dict[str, Any],
    mats: dict[str, Any],
    data: tuple[Any, ...],
) -> float:
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
    theta = cov.row_theta(
        _bgnbd_cov._SPEC,
        list(FHL_BGNBD.values()),
        {"purchase": gp, "dropout": gd},
        {"purchase": z1, "dropout": z2},
    )
    ll, _ = _bgnbd_cov._row_loglik(theta, (x, tx, big_t), False)
    for i in range(3):
        e1, e2 = np.exp(-(z1[i] @ gp)), np.exp(z2[i] @ gd)
        own = BGNBDModel.from_params(
            {
                "r": FHL_BGNBD["r"],
                "alpha": FHL_BGNBD["alpha"] * e1,
                "a": FHL_BGNBD["a"] * e2,
                "b": FHL_BGNBD["b"] * e2,
            }
        )
        assert ll[i] == pytest.approx(
            float(own.customer_log_likelihood(x[i], tx[i], big_t[i])), rel=1e-12
        )


def test_ggomnbd_links_are_clvtools_form_customer_by_customer() -> None:
    # alpha_i = alpha exp(-g_p'z1), beta_i = beta exp(-g_d'z2)
    # (CLVTools ggomnbd_staticcov_alpha_i / _beta_i)
    x = np.array([0.0, 2.0, 7.0])
    tx = np.array([0.0, 30.43, 35.0])
    big_t = np.array([38.86, 38.86, 80.0])
    z1 = np.array([[1.0], [0.0], [3.0]])
    z2 = np.array([[1.0, 0.5], [0.0, -1.0], [2.0, 0.0]])
    gp, gd = np.array([0.3]), np.array([0.6, -0.4])
    theta = cov.row_theta(
        _ggomnbd_cov._SPEC,
        list(GG_TRUTH.values()),
        {"purchase": gp, "dropout": gd},
        {"purchase": z1, "dropout": z2},
    )
    ll, _ = _ggomnbd_cov._row_loglik(theta, (x, tx, big_t), False)
    for i in range(3):
        own = GGompertzNBDModel.from_params(
            {
                **GG_TRUTH,
                "alpha": GG_TRUTH["alpha"] * np.exp(-(z1[i] @ gp)),
                "beta": GG_TRUTH["beta"] * np.exp(-(z2[i] @ gd)),
            }
        )
        assert ll[i] == pytest.approx(
            float(own.customer_log_likelihood(x[i], tx[i], big_t[i])), rel=1e-12
        )


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
    _, grads = family._row_loglik(theta, (x, tx, big_t), True)
    assert grads is not None
    for k in range(len(base)):
        h = 1e-6 * theta[k]
        up = [q + h if j == k else q for j, q in enumerate(theta)]
        down = [q - h if j == k else q for j, q in enumerate(theta)]
        num = (
            family._row_loglik(up, (x, tx, big_t), False)[0]
            - family._row_loglik(down, (x, tx, big_t), False)[0]
        ) / (2.0 * h)
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
    problem = cov._Problem.of(
        family._SPEC,
        design,
        family._row_loglik,
        lambda c: c,
        (x, tx, big_t),
        rng.integers(1, 4, n).astype(float),
    )
    vec = np.concatenate([np.log(base), [0.3, -0.2, 0.4]])
    got = problem.evaluate(vec)
    assert got is not None
    grad = got[2]
    for i in range(vec.shape[0]):
        e = np.zeros_like(vec)
        e[i] = 1e-6
        up, down = problem.evaluate(vec + e), problem.evaluate(vec - e)
        assert up is not None
        assert down is not None
        assert grad[i] == pytest.approx((up[1] - down[1]) / 2e-6, rel=1e-5, abs=1e-6)


# ---------------------------------------------------------------------------
# Consistency: covariates without effect give the model without covariates
# ---------------------------------------------------------------------------


def _zero_design(n: int, lam: float) -> cov.CovariateDesign:
    zeros = np.zeros((n, 1), order="F")
    return cov.make_design(
        {
            "purchase": cov.CovariateMatrix(("z",), zeros),
            "dropout": cov.CovariateMatrix(("z",), zeros),
        },
        reg_lambdas={"purchase": lam, "dropout": lam},
    )


def test_bgnbd_all_zero_covariates_give_the_no_covariate_fit(cdnow: BTYDSummary) -> None:
    # the public fit refuses a constant column; the driver takes one. A small penalty pins
    # the (unidentified) coefficients of all-zero columns at 0 without touching the LL.
    x, tx, big_t = cdnow.frequency, cdnow.recency, cdnow.T
    plain = fit_bgnbd(x, tx, big_t)
    start = [1.3 * plain.params[k] for k in ("r", "alpha", "a", "b")]  # not the answer
    fit = cov.fit_covariates(
        _bgnbd_cov._SPEC,
        _zero_design(len(x), 0.1),
        _bgnbd_cov._row_loglik,
        (x, tx, big_t),
        np.ones(len(x)),
        start,
        model="BG/NBD",
    )
    params, se = fit.as_dicts()
    assert fit.log_likelihood == pytest.approx(plain.log_likelihood, abs=1e-6)
    for k in ("r", "alpha", "a", "b"):
        assert params[k] == pytest.approx(plain.params[k], rel=1e-4)
        assert se[k] == pytest.approx(plain.standard_errors[k], rel=1e-3)
    assert params["purchase.z"] == pytest.approx(0.0, abs=1e-9)
    assert params["dropout.z"] == pytest.approx(0.0, abs=1e-9)


@pytest.fixture(scope="module")
def gg_sim() -> tuple[Any, Any, Any]:
    truth = GGompertzNBDModel.from_params(GG_TRUTH)
    big_t = np.random.default_rng(21).uniform(20.0, 100.0, 1500).round()
    sim = truth.simulate(1500, T=big_t, rng=20)
    return sim.frequency, sim.recency, sim.T


def test_ggomnbd_all_zero_covariates_give_the_no_covariate_fit(gg_sim: tuple[Any, ...]) -> None:
    x, tx, big_t = gg_sim
    plain = fit_ggomnbd(x, tx, big_t)
    start = [1.2 * v for v in plain.params.values()]
    fit = cov.fit_covariates(
        _ggomnbd_cov._SPEC,
        _zero_design(len(x), 0.1),
        _ggomnbd_cov._row_loglik,
        (x, tx, big_t),
        np.ones(len(x)),
        start,
        model="GGompertz/NBD",
    )
    params, _ = fit.as_dicts()
    assert fit.log_likelihood == pytest.approx(plain.log_likelihood, abs=1e-5)
    for k in GG_TRUTH:
        assert params[k] == pytest.approx(plain.params[k], rel=1e-3)
    assert params["dropout.z"] == pytest.approx(0.0, abs=1e-9)


BG_COV = {**BG_TRUTH, "purchase.vip": 0.5, "purchase.age": -0.3, "dropout.vip": 0.8}
GG_COV = {**GG_TRUTH, "purchase.vip": 0.5, "purchase.age": -0.3, "dropout.vip": 0.8}


def _covariates(n: int, seed: int) -> tuple[Any, Any]:
    rng = np.random.default_rng(seed)
    z1 = np.column_stack([rng.integers(0, 2, n), rng.normal(0.0, 1.0, n)]).astype(float)
    return z1, z1[:, :1].copy()


@pytest.mark.parametrize(
    ("cls", "plain_cls", "params"),
    [
        (BGNBDCovariateModel, BGNBDModel, BG_COV),
        (GGompertzNBDCovariateModel, GGompertzNBDModel, GG_COV),
    ],
    ids=["bgnbd", "ggomnbd"],
)
def test_zero_coefficients_predict_as_the_plain_model(
    cls: Any, plain_cls: Any, params: dict[str, float]
) -> None:
    z1, z2 = _covariates(4, 1)
    model = cls.from_params(params)
    zero = model.with_params({k: (0.0 if "." in k else v) for k, v in params.items()})
    plain = plain_cls.from_params({k: v for k, v in params.items() if "." not in k})
    kw = {"purchase_covariates": z1, "dropout_covariates": z2}
    x, tx, big_t = np.array([0.0, 1.0, 4.0, 9.0]), np.array([0.0, 5.0, 30.0, 50.0]), 52.0
    pairs = [
        (zero.probability_alive(x, tx, big_t, **kw), plain.probability_alive(x, tx, big_t)),
        (
            zero.customer_log_likelihood(x, tx, big_t, **kw),
            plain.customer_log_likelihood(x, tx, big_t),
        ),
        (
            zero.conditional_expected_purchases(13.0, x, tx, big_t, **kw),
            plain.conditional_expected_purchases(13.0, x, tx, big_t),
        ),
        (
            zero.expected_purchases([5.0, 10.0, 20.0, 40.0], **kw),
            plain.expected_purchases([5.0, 10.0, 20.0, 40.0]),
        ),
        (
            zero.probability_of_purchases([0, 1, 2, 3], 26.0, **kw),
            plain.probability_of_purchases([0, 1, 2, 3], 26.0),
        ),
        (
            zero.customer_lifetime_value(x, tx, big_t, 30.0, horizon=6, discount_rate=0.01, **kw),
            plain.customer_lifetime_value(x, tx, big_t, 30.0, horizon=6, discount_rate=0.01),
        ),
    ]
    for got, want in pairs:
        np.testing.assert_allclose(got, want, rtol=1e-12)


@pytest.mark.parametrize(
    ("cls", "plain_cls", "params", "scaled"),
    [
        (
            BGNBDCovariateModel,
            BGNBDModel,
            BG_COV,
            lambda p, e1, e2: {**p, "alpha": p["alpha"] * e1, "a": p["a"] * e2, "b": p["b"] * e2},
        ),
        (
            GGompertzNBDCovariateModel,
            GGompertzNBDModel,
            GG_COV,
            lambda p, e1, e2: {**p, "alpha": p["alpha"] * e1, "beta": p["beta"] / e2},
        ),
    ],
    ids=["bgnbd", "ggomnbd"],
)
def test_predictions_are_the_plain_models_at_each_customers_parameters(
    cls: Any, plain_cls: Any, params: dict[str, float], scaled: Any
) -> None:
    z1, z2 = _covariates(3, 2)
    model = cls.from_params(params)
    kw = {"purchase_covariates": z1, "dropout_covariates": z2}
    x, tx, big_t = (
        np.array([0.0, 3.0, 8.0]),
        np.array([0.0, 20.0, 45.0]),
        np.array([30.0, 52.0, 60.0]),
    )
    base = {k: v for k, v in params.items() if "." not in k}
    alive = model.probability_alive(x, tx, big_t, **kw)
    cond = model.conditional_expected_purchases(26.0, x, tx, big_t, **kw)
    new = model.expected_purchases(26.0, **kw)
    pmf = model.probability_of_purchases(2, 26.0, **kw)
    clv = model.customer_lifetime_value(x, tx, big_t, 25.0, horizon=4, discount_rate=0.02, **kw)
    cpmf = model.conditional_probability_of_purchases(1, 10.0, x, tx, big_t, **kw)
    dert = model.discounted_expected_residual_transactions(x, tx, big_t, discount_rate=0.01, **kw)
    new_alive = model.new_customer_probability_alive(10.0, **kw)
    for i in range(3):
        e1 = np.exp(-(z1[i] @ [params["purchase.vip"], params["purchase.age"]]))
        e2 = np.exp(z2[i, 0] * params["dropout.vip"])
        own = plain_cls.from_params(scaled(base, e1, e2))
        assert alive[i] == pytest.approx(
            float(own.probability_alive(x[i], tx[i], big_t[i])), rel=1e-12
        )
        assert cond[i] == pytest.approx(
            float(own.conditional_expected_purchases(26.0, x[i], tx[i], big_t[i])), rel=1e-10
        )
        assert new[i] == pytest.approx(float(own.expected_purchases(26.0)), rel=1e-10)
        assert pmf[i] == pytest.approx(float(own.probability_of_purchases(2, 26.0)), rel=1e-10)
        assert clv[i] == pytest.approx(
            float(
                own.customer_lifetime_value(
                    x[i], tx[i], big_t[i], 25.0, horizon=4, discount_rate=0.02
                )
            ),
            rel=1e-10,
        )
        assert cpmf[i] == pytest.approx(
            float(own.conditional_probability_of_purchases(1, 10.0, x[i], tx[i], big_t[i])),
            rel=1e-10,
        )
        assert dert[i] == pytest.approx(
            float(
                own.discounted_expected_residual_transactions(
                    x[i], tx[i], big_t[i], discount_rate=0.01
                )
            ),
            rel=1e-10,
        )
        assert new_alive[i] == pytest.approx(
            float(own.new_customer_probability_alive(10.0)), rel=1e-10
        )


def test_chunked_predictions_equal_one_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    # beyond one chunk of customers the covariate rows are cut into the same chunks
    from custrel.btyd import _threads

    model = BGNBDCovariateModel.from_params(BG_COV)
    z1, z2 = _covariates(50, 3)
    kw = {"purchase_covariates": z1, "dropout_covariates": z2}
    sim = model.simulate(50, 40.0, rng=4, **kw)
    args = (sim.frequency, sim.recency, sim.T)
    whole = [
        model.probability_alive(*args, **kw),
        model.customer_log_likelihood(*args, **kw),
        model.conditional_expected_purchases(sim.T / 4, *args, **kw),
        model.customer_lifetime_value(*args, np.arange(50.0), horizon=3, discount_rate=0.01, **kw),
    ]
    monkeypatch.setattr(_threads, "CHUNK", 16)
    chunked = [
        model.probability_alive(*args, **kw, threads=2),
        model.customer_log_likelihood(*args, **kw),
        model.conditional_expected_purchases(sim.T / 4, *args, **kw),
        model.customer_lifetime_value(*args, np.arange(50.0), horizon=3, discount_rate=0.01, **kw),
    ]
    for a, b in zip(whole, chunked, strict=True):
        np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------------------
# Recovery of simulated effects: estimates within 2 standard errors
# ---------------------------------------------------------------------------


def _coverage(
    cls: Any,
    truth_params: dict[str, float],
    fit: Any,
    n: int,
    reps: int,
    t_range: tuple[float, float],
) -> tuple[dict[str, float], float]:
    truth = cls.from_params(truth_params)
    hits: dict[str, list[bool]] = {k: [] for k in truth_params}
    for seed in range(reps):
        rng = np.random.default_rng(100 + seed)
        z1, z2 = _covariates(n, 1000 + seed)
        kw = {"purchase_covariates": z1, "dropout_covariates": z2}
        big_t = rng.uniform(*t_range, n).round()
        sim = truth.simulate(n, big_t, rng=rng, **kw)
        m = fit(
            sim.frequency,
            sim.recency,
            sim.T,
            purchase_covariates=pd.DataFrame(z1, columns=["vip", "age"]),
            dropout_covariates=pd.DataFrame(z2, columns=["vip"]),
        )
        assert list(m.params) == list(truth_params)  # base names, purchase.*, dropout.*
        for k, val in truth_params.items():
            hits[k].append(abs(m.params[k] - val) <= 2.0 * m.standard_errors[k])
    per = {k: float(np.mean(h)) for k, h in hits.items()}
    return per, float(np.mean([h for hs in hits.values() for h in hs]))


def test_bgnbd_recovers_simulated_covariate_effects() -> None:
    # 20 seeded replications of 600 customers; 95 % Wald intervals
    per, pooled = _coverage(BGNBDCovariateModel, BG_COV, fit_bgnbd, 600, 20, (20.0, 100.0))
    assert pooled >= 0.9, per
    assert all(per[k] >= 0.85 for k in ("purchase.vip", "purchase.age", "dropout.vip")), per


@pytest.mark.slow
def test_ggomnbd_recovers_simulated_covariate_effects() -> None:
    # 6 seeded replications of 500 customers (each fit takes seconds: the likelihood is a
    # quadrature per customer); 95 % Wald intervals
    per, pooled = _coverage(GGompertzNBDCovariateModel, GG_COV, fit_ggomnbd, 500, 6, (20.0, 100.0))
    assert pooled >= 0.9, per
    assert all(per[k] >= 5 / 6 for k in ("purchase.vip", "purchase.age", "dropout.vip")), per


# ---------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------

_MODELS = {
    "bgnbd": BGNBDCovariateModel.from_params(BG_COV),
    "ggomnbd": GGompertzNBDCovariateModel.from_params(GG_COV),
}


@st.composite
def _histories(draw: st.DrawFn) -> tuple[Any, ...]:
    """Extreme but valid histories with covariates: up to 1e4 purchases, T up to 1e4."""
    k = draw(st.integers(1, 5))
    big_t = np.asarray(draw(st.lists(st.floats(0.0, 1e4), min_size=k, max_size=k)))
    share = np.asarray(draw(st.lists(st.floats(0.0, 1.0), min_size=k, max_size=k)))
    x = np.asarray(draw(st.lists(st.integers(0, 10_000), min_size=k, max_size=k)), dtype=float)
    tx = np.where(x > 0, big_t * share, 0.0)
    z = st.floats(-3.0, 3.0)
    z1 = np.asarray(draw(st.lists(st.tuples(z, z), min_size=k, max_size=k)))
    z2 = np.asarray(draw(st.lists(st.tuples(z), min_size=k, max_size=k)))
    return x, tx, big_t, z1, z2


@settings(deadline=None, max_examples=30)
@given(
    kind=st.sampled_from(sorted(_MODELS)),
    h=_histories(),
    t=st.lists(st.floats(0.0, 500.0), min_size=2, max_size=4),
)
def test_predictions_finite_alive_in_unit_interval_and_monotone_in_t(
    kind: str, h: tuple[Any, ...], t: list[float]
) -> None:
    model = _MODELS[kind]
    x, tx, big_t, z1, z2 = h
    kw = {"purchase_covariates": z1, "dropout_covariates": z2}
    alive = model.probability_alive(x, tx, big_t, **kw)
    assert np.all((alive >= 0.0) & (alive <= 1.0))
    assert np.all(np.isfinite(model.customer_log_likelihood(x, tx, big_t, **kw)))
    ts = sorted(t)
    cond = np.stack([model.conditional_expected_purchases(s, x, tx, big_t, **kw) for s in ts])
    new = np.stack([model.expected_purchases(s, **kw) for s in ts])
    pmf = np.stack([model.probability_of_purchases(n, ts[-1], **kw) for n in range(6)])
    assert np.all((pmf >= 0.0) & (pmf <= 1.0))
    assert np.all(pmf.sum(axis=0) <= 1.0 + 1e-9)
    for arr in (cond, new):
        assert np.all(np.isfinite(arr))
        assert np.all(arr >= 0.0)
        assert np.all(np.diff(arr, axis=0) >= -1e-9 * np.maximum(arr[1:], 1.0))


# ---------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------

_X = np.array([0.0, 1.0, 3.0, 2.0, 5.0])
_TX = np.array([0.0, 10.0, 20.0, 15.0, 30.0])
_T = np.array([40.0, 40.0, 35.0, 38.0, 40.0])
_Z = np.array([[0.0], [1.0], [0.0], [1.0], [1.0]])


def _frame(**cols: Any) -> pd.DataFrame:
    return pd.DataFrame(cols)


FIT_BAD = [
    (
        "rows-mismatch",
        {"purchase_covariates": _Z[:4]},
        InvalidInputError,
        r"purchase_covariates has 4 rows but there are 5 customers",
    ),
    (
        "nan",
        {"dropout_covariates": np.array([[0.0], [1.0], [np.nan], [1.0], [0.0]])},
        InvalidInputError,
        r"dropout_covariates must be finite, got nan at row 2, column 'x1'",
    ),
    (
        "constant",
        {"purchase_covariates": np.ones((5, 1))},
        InvalidInputError,
        r"purchase_covariates column 'x1' is constant",
    ),
    (
        "collinear",
        {"purchase_covariates": np.column_stack([_Z[:, 0], 2.0 * _Z[:, 0] + 1.0])},
        InvalidInputError,
        r"collinear",
    ),
    (
        "text-column",
        {"purchase_covariates": _frame(g=["a", "b", "a", "b", "a"])},
        InvalidTypeError,
        r"purchase_covariates column 'g' is not numeric",
    ),
    (
        "constraints-without-covariates",
        {"constraints": ["x1"]},
        InvalidInputError,
        r"constraints and reg_lambdas apply to covariate coefficients",
    ),
    (
        "reg-lambdas-without-covariates",
        {"reg_lambdas": {"purchase": 1.0}},
        InvalidInputError,
        r"constraints and reg_lambdas apply to covariate coefficients",
    ),
    (
        "constraint-not-in-both",
        {"purchase_covariates": _Z, "constraints": "x1"},
        InvalidInputError,
        r"constraints names 'x1', which is not a column of dropout_covariates",
    ),
    (
        "negative-penalty",
        {"purchase_covariates": _Z, "reg_lambdas": {"purchase": -1.0}},
        InvalidInputError,
        r"reg_lambdas\['purchase'\]",
    ),
    (
        "unknown-initial",
        {"purchase_covariates": _Z, "initial": {"purchase.nope": 0.1}},
        InvalidInputError,
        r"initial has the unknown coefficient 'purchase.nope'",
    ),
    (
        "initial-not-mapping",
        {"purchase_covariates": _Z, "initial": [1.0]},
        InvalidTypeError,
        r"initial must be a mapping",
    ),
]


@pytest.mark.parametrize("fit", [fit_bgnbd, fit_ggomnbd], ids=["bgnbd", "ggomnbd"])
@pytest.mark.parametrize(
    ("kwargs", "error", "match"), [c[1:] for c in FIT_BAD], ids=[c[0] for c in FIT_BAD]
)
def test_fit_refuses_bad_covariates(
    fit: Any, kwargs: dict[str, Any], error: type, match: str
) -> None:
    with pytest.raises(error, match=match):
        fit(_X, _TX, _T, **kwargs)


_PURCHASE_ONLY = BGNBDCovariateModel.from_params({**BG_TRUTH, "purchase.vip": 0.5})
_GG_PURCHASE_ONLY = GGompertzNBDCovariateModel.from_params({**GG_TRUTH, "purchase.vip": 0.5})

PREDICT_BAD = [
    (
        "missing-covariates",
        lambda m: m.probability_alive(_X, _TX, _T),
        InvalidInputError,
        r"purchase_covariates is required: the model was fitted with covariates \['vip'\]",
    ),
    (
        "covariates-for-a-process-without",
        lambda m: m.probability_alive(_X, _TX, _T, purchase_covariates=_Z, dropout_covariates=_Z),
        InvalidInputError,
        r"dropout_covariates was given but the model has no such covariates",
    ),
    (
        "rows-mismatch",
        lambda m: m.conditional_expected_purchases(5.0, _X, _TX, _T, purchase_covariates=_Z[:3]),
        InvalidInputError,
        r"purchase_covariates has 3 rows but there are 5 customers",
    ),
    (
        "columns-mismatch",
        lambda m: m.customer_log_likelihood(_X, _TX, _T, purchase_covariates=np.ones((5, 2))),
        InvalidInputError,
        r"purchase_covariates has 2 columns but the model has 1 covariates",
    ),
    (
        "frame-names",
        lambda m: m.probability_alive(_X, _TX, _T, purchase_covariates=_frame(other=_Z[:, 0])),
        InvalidInputError,
        r"purchase_covariates must have the fitted columns \['vip'\]; missing \['vip'\]",
    ),
    (
        "nan-in-prediction",
        lambda m: m.expected_purchases(5.0, purchase_covariates=np.array([[np.nan]])),
        InvalidInputError,
        r"purchase_covariates must be finite, got nan at row 0",
    ),
    (
        "t-rows-mismatch",
        lambda m: m.expected_purchases([1.0, 2.0, 3.0], purchase_covariates=_Z),
        InvalidInputError,
        r"the covariates have 5 rows but the .* have 3 values",
    ),
    (
        "unbound-kernel",
        lambda m: m._alive(_X, _TX, _T),
        InvalidInputError,
        r"has covariates .* predict with a method that takes purchase_covariates=",
    ),
    (
        "simulate-without",
        lambda m: m.simulate(5, 40.0, rng=1),
        InvalidInputError,
        r"purchase_covariates is required",
    ),
]


@pytest.mark.parametrize("model", [_PURCHASE_ONLY, _GG_PURCHASE_ONLY], ids=["bgnbd", "ggomnbd"])
@pytest.mark.parametrize(
    ("call", "error", "match"), [c[1:] for c in PREDICT_BAD], ids=[c[0] for c in PREDICT_BAD]
)
def test_predictions_refuse_bad_covariates(model: Any, call: Any, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        call(model)


def test_plain_model_predictions_take_no_covariates() -> None:
    # a model without covariates refuses covariate keywords with a clear error naming them
    with pytest.raises(InvalidInputError, match=r"purchase_covariates was given.*no covariates"):
        BGNBDModel.from_params(BG_TRUTH).probability_alive(_X, _TX, _T, purchase_covariates=_Z)


@pytest.mark.slow
def test_ggomnbd_covariates_on_data_in_the_pareto_nbd_limit_point_to_pareto_nbd(
    cdnow: BTYDSummary,
) -> None:
    # CDNOW shows no aging of the dropout rate (test_ggomnbd); a covariate unrelated to
    # anything does not change that, and the error says what to fit instead
    z = (np.arange(cdnow.frequency.shape[0]) % 2).astype(float)
    with pytest.raises(ConvergenceError, match=r"fit Pareto/NBD with the same covariates"):
        fit_ggomnbd(cdnow.frequency, cdnow.recency, cdnow.T, dropout_covariates=z)


# ---------------------------------------------------------------------------
# Weights, constraints, penalties, the model's table
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bg_sim() -> tuple[Any, ...]:
    model = BGNBDCovariateModel.from_params(BG_COV)
    z1, z2 = _covariates(800, 7)
    sim = model.simulate(800, 52.0, rng=8, purchase_covariates=z1, dropout_covariates=z2)
    return sim.frequency, sim.recency, sim.T, z1, z2


def test_weights_equal_repeated_rows(bg_sim: tuple[Any, ...]) -> None:
    x, tx, big_t, z1, z2 = bg_sim
    w = np.where(np.arange(x.shape[0]) % 3 == 0, 2.0, 1.0)
    rep = np.repeat(np.arange(x.shape[0]), w.astype(int))
    a = fit_bgnbd(x, tx, big_t, weights=w, purchase_covariates=z1, dropout_covariates=z2)
    b = fit_bgnbd(
        x[rep], tx[rep], big_t[rep], purchase_covariates=z1[rep], dropout_covariates=z2[rep]
    )
    assert a.n_customers == b.n_customers == float(rep.shape[0])
    assert a.log_likelihood == pytest.approx(b.log_likelihood, rel=1e-10)
    for k in a.params:
        assert a.params[k] == pytest.approx(b.params[k], rel=1e-5, abs=1e-7)


def test_constraint_and_penalty(bg_sim: tuple[Any, ...]) -> None:
    x, tx, big_t, _, z2 = bg_sim
    z = pd.DataFrame({"vip": z2[:, 0]})
    free = fit_bgnbd(x, tx, big_t, purchase_covariates=z, dropout_covariates=z)
    tied = fit_bgnbd(x, tx, big_t, purchase_covariates=z, dropout_covariates=z, constraints="vip")
    assert tied.params["purchase.vip"] == tied.params["dropout.vip"]
    assert tied.constraints == ("vip",)
    assert tied.log_likelihood <= free.log_likelihood + 1e-9  # one parameter fewer
    pen = [
        fit_bgnbd(
            x,
            tx,
            big_t,
            purchase_covariates=z,
            dropout_covariates=z,
            reg_lambdas={"purchase": lam, "dropout": lam},
        )
        for lam in (0.01, 1.0)
    ]
    sizes = [abs(m.params["purchase.vip"]) + abs(m.params["dropout.vip"]) for m in pen]
    assert sizes[1] < sizes[0] < abs(free.params["purchase.vip"]) + abs(free.params["dropout.vip"])
    assert pen[1].reg_lambdas == {"purchase": 1.0, "dropout": 1.0}


def test_summary_and_repr_name_every_coefficient(bg_sim: tuple[Any, ...]) -> None:
    x, tx, big_t, z1, z2 = bg_sim
    m = fit_bgnbd(
        x,
        tx,
        big_t,
        purchase_covariates=pd.DataFrame(z1, columns=["vip", "age"]),
        dropout_covariates=pd.DataFrame(z2, columns=["vip"]),
    )
    names = ["r", "alpha", "a", "b", "purchase.vip", "purchase.age", "dropout.vip"]
    assert list(m.params) == names
    assert list(m.standard_errors) == names
    assert m.covariance.shape == (7, 7)
    assert np.all(np.isfinite(list(m.standard_errors.values())))
    assert set(m.summary()) == set(names)
    assert "purchase.age=" in repr(m)
    per_customer = m.customer_log_likelihood(
        x, tx, big_t, purchase_covariates=z1, dropout_covariates=z2
    )
    assert float(per_customer.sum()) == pytest.approx(m.log_likelihood, rel=1e-12)
    assert m.coefficients("purchase") == {
        "vip": m.params["purchase.vip"],
        "age": m.params["purchase.age"],
    }
