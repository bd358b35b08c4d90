"""Tests of the GGompertz/NBD model (custrel.btyd._ggomnbd): known values, limits, properties, bad input."""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, special, stats

from custrel import (
    BTYDSummary,
    ConvergenceError,
    FitWarning,
    InvalidInputError,
    InvalidTypeError,
    ParetoNBDModel,
    fit_pareto_nbd,
    load_cdnow,
    repeat_purchase_histogram,
    rfm_summary,
)
from custrel.btyd._ggomnbd import GGompertzNBDModel, fit_ggomnbd

# Bemmaor & Glady (2012), Management Science 58(5), Table 2: GGompertz/NBD on the
# CDNOW sample (2,357 customers, 39-week calibration, weeks), LL = -9594.98.
BG_TABLE2 = {"r": 0.553, "alpha": 10.578, "b": 0.0002, "s": 0.603, "beta": 0.0026}
# CLVTools' own optimum on the same data (issue 13), LL = -9594.9762.
CLVTOOLS = {"r": 0.55313, "alpha": 10.5758, "b": 0.0000011, "s": 0.60682, "beta": 0.000013}
# Fader & Hardie (2005), the Pareto/NBD fit of the same data: beta = 11.669.
PARETO_BETA = 11.669


@pytest.fixture(scope="module")
def cdnow() -> BTYDSummary:
    """The bundled CDNOW sample: 39-week calibration to 1997-09-30, weeks (as tests/test_btyd)."""
    log = load_cdnow()
    return rfm_summary(log, unit="week", calibration_end="1997-09-30", observation_end="1998-06-30")


@pytest.fixture(scope="module")
def cdnow_fit(cdnow: BTYDSummary) -> GGompertzNBDModel:
    with pytest.warns(FitWarning, match=r"Pareto/NBD limit"):
        return fit_ggomnbd(cdnow.frequency, cdnow.recency, cdnow.T)


def _ll(model: GGompertzNBDModel, data: BTYDSummary) -> float:
    return float(model.customer_log_likelihood(data.frequency, data.recency, data.T).sum())


def _model(**params: float) -> GGompertzNBDModel:
    m: GGompertzNBDModel = GGompertzNBDModel.from_params(params)
    return m


# ---------------------------------------------------------------------------
# 1. Known values: the published CDNOW fits
# ---------------------------------------------------------------------------


def test_cdnow_fit_matches_published_log_likelihood(
    cdnow_fit: GGompertzNBDModel, cdnow: BTYDSummary
) -> None:
    m = cdnow_fit
    assert len(cdnow) == 2357
    assert m.n_customers == 2357
    # Bemmaor & Glady Table 2 and CLVTools: LL = -9594.98 (-9594.9762)
    assert m.log_likelihood == pytest.approx(-9594.9762, abs=0.01)
    assert m.log_likelihood == pytest.approx(_ll(m, cdnow), abs=1e-6)
    # r, alpha and s as published (both sources agree to 3 digits)
    assert m.params["r"] == pytest.approx(0.553, abs=0.001)
    assert m.params["alpha"] == pytest.approx(10.578, abs=0.01)
    assert m.params["s"] == pytest.approx(0.606, abs=0.004)  # 0.603 (B&G), 0.60682 (CLVTools)
    # on the ridge only beta / b is identified: it is the Pareto/NBD beta
    assert m.params["beta"] / m.params["b"] == pytest.approx(PARETO_BETA, abs=0.01)
    assert m.params["b"] * 39.0 < 1e-5
    assert "Pareto/NBD limit" in m.message
    assert math.isfinite(m.standard_errors["r"])
    assert m.standard_errors["r"] == pytest.approx(0.048, abs=0.005)


def test_published_parameter_sets_lie_on_the_ridge(cdnow: BTYDSummary) -> None:
    clv = _model(**CLVTOOLS)
    # CLVTools' optimum reproduces its own LL (-9594.9762) to 0.01
    assert _ll(clv, cdnow) == pytest.approx(-9594.9762, abs=0.01)
    # Table 2 rounds b and beta to one and two significant digits; the LL depends on
    # their ratio (13.0 rounded instead of ~11.7), so the rounded values lose 0.8 ...
    bg = _model(**BG_TABLE2)
    assert _ll(bg, cdnow) == pytest.approx(-9595.77, abs=0.01)
    # ... while Table 2's b = 0.0002 with beta = b * 11.669 gives the published -9594.98
    bg_ratio = _model(**{**BG_TABLE2, "beta": 0.0002 * PARETO_BETA})
    assert _ll(bg_ratio, cdnow) == pytest.approx(-9594.98, abs=0.01)
    # far apart in b (0.0002 vs 0.0000011) but the predictions barely move
    x, tx, big_t = cdnow.frequency, cdnow.recency, cdnow.T
    pa_clv, pa_bg = clv.probability_alive(x, tx, big_t), bg_ratio.probability_alive(x, tx, big_t)
    assert float(np.max(np.abs(pa_clv - pa_bg))) < 0.005
    e_clv = clv.conditional_expected_purchases(39.0, x, tx, big_t)
    e_bg = bg_ratio.conditional_expected_purchases(39.0, x, tx, big_t)
    assert float(np.abs(e_clv - e_bg).sum()) / float(e_clv.sum()) < 0.005


def test_cdnow_predictions_equal_pareto_nbd(
    cdnow_fit: GGompertzNBDModel, cdnow: BTYDSummary
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FitWarning)
        pareto = fit_pareto_nbd(cdnow.frequency, cdnow.recency, cdnow.T)
    x, tx, big_t = cdnow.frequency, cdnow.recency, cdnow.T
    np.testing.assert_allclose(
        cdnow_fit.probability_alive(x, tx, big_t), pareto.probability_alive(x, tx, big_t), atol=1e-4
    )
    np.testing.assert_allclose(
        cdnow_fit.conditional_expected_purchases(39.0, x, tx, big_t),
        pareto.conditional_expected_purchases(39.0, x, tx, big_t),
        rtol=1e-3,
    )
    # shared method names: diagnostics and CLV work on this model too
    hist = repeat_purchase_histogram(cdnow_fit, cdnow)
    assert float(hist.expected.sum()) == pytest.approx(2357)
    clv = cdnow_fit.customer_lifetime_value(
        x[:20], tx[:20], big_t[:20], 30.0, horizon=3, discount_rate=0.01, period=4.0
    )
    assert np.all(np.isfinite(clv))
    assert np.all(clv >= 0)


def test_clvtools_parameters_predict_as_their_pareto_nbd_limit() -> None:
    # b T = 4e-5 over 39 weeks: CLVTools' optimum is Pareto/NBD with beta = beta / b
    m = _model(**CLVTOOLS)
    p = ParetoNBDModel.from_params(
        {"r": 0.55313, "alpha": 10.5758, "s": 0.60682, "beta": 0.000013 / 0.0000011}
    )
    x, tx = [0, 2], [0.0, 30.43]
    assert m.probability_alive(x, tx, 38.86).round(3).tolist() == [0.297, 0.869]
    np.testing.assert_allclose(
        m.probability_alive(x, tx, 38.86), p.probability_alive(x, tx, 38.86), rtol=1e-4
    )
    t = np.array([39.0, 78.0])
    assert m.expected_purchases(t).round(3).tolist() == [1.218, 1.918]
    np.testing.assert_allclose(m.expected_purchases(t), p.expected_purchases(t), rtol=1e-4)
    np.testing.assert_allclose(
        m.conditional_expected_purchases(39.0, x, tx, 38.86),
        p.conditional_expected_purchases(39.0, x, tx, 38.86),
        rtol=1e-4,
    )


# ---------------------------------------------------------------------------
# 2. The Pareto/NBD limit: b -> 0 with beta / b fixed
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("b", [1e-7, 1e-9])
def test_pareto_nbd_limit(b: float) -> None:
    r, alpha, s, beta_p = 0.7, 4.0, 1.3, 9.0
    gg = _model(r=r, alpha=alpha, b=b, s=s, beta=b * beta_p)
    pn = ParetoNBDModel.from_params({"r": r, "alpha": alpha, "s": s, "beta": beta_p})
    x = np.array([0.0, 1.0, 4.0, 30.0, 2.0])
    tx = np.array([0.0, 3.0, 20.0, 35.0, 0.5])
    big_t = np.array([10.0, 39.0, 39.0, 39.0, 100.0])
    tol = 100 * b * 100.0  # the correction is O(b T)
    np.testing.assert_allclose(
        gg.customer_log_likelihood(x, tx, big_t),
        pn.customer_log_likelihood(x, tx, big_t),
        rtol=tol,
        atol=tol,
    )
    np.testing.assert_allclose(
        gg.probability_alive(x, tx, big_t), pn.probability_alive(x, tx, big_t), atol=tol + 1e-9
    )
    np.testing.assert_allclose(
        gg.conditional_expected_purchases(52.0, x, tx, big_t),
        pn.conditional_expected_purchases(52.0, x, tx, big_t),
        rtol=tol + 1e-8,
    )
    t = np.array([1.0, 39.0, 520.0])
    np.testing.assert_allclose(gg.expected_purchases(t), pn.expected_purchases(t), rtol=tol + 1e-8)


# ---------------------------------------------------------------------------
# 3. The quadrature against adaptive quadrature (scipy.integrate.quad)
# ---------------------------------------------------------------------------

PARAM_SETS = [
    {"r": 0.55, "alpha": 10.6, "b": 0.05, "s": 0.6, "beta": 0.5},
    {"r": 2.0, "alpha": 3.0, "b": 0.3, "s": 2.0, "beta": 5.0},
    {"r": 0.3, "alpha": 0.5, "b": 1e-4, "s": 0.4, "beta": 2e-3},
    {"r": 1.0, "alpha": 20.0, "b": 0.02, "s": 3.0, "beta": 40.0},
]


def _gompertz(p: dict[str, float]) -> tuple[Any, Any]:
    b, s, beta = p["b"], p["s"], p["beta"]

    def surv(t: float) -> float:
        return float((beta / (beta + math.expm1(b * t))) ** s)

    def dens(t: float) -> float:
        return float(s * b * math.exp(b * t) * beta**s / (beta + math.expm1(b * t)) ** (s + 1))

    return surv, dens


@pytest.mark.parametrize("p", PARAM_SETS)
@pytest.mark.parametrize(
    ("x", "tx", "big_t"),
    [(0, 0.0, 39.0), (3, 10.0, 39.0), (29, 2.0, 39.0), (150, 1.0, 52.0), (2, 5.0, 500.0)],
)
def test_log_likelihood_against_adaptive_quadrature(
    p: dict[str, float], x: int, tx: float, big_t: float
) -> None:
    r, alpha = p["r"], p["alpha"]
    surv, dens = _gompertz(p)
    inner = integrate.quad(
        lambda tau: (alpha + tau) ** (-(r + x)) * dens(tau),
        tx,
        big_t,
        epsabs=0,
        epsrel=1e-12,
        limit=400,
    )[0]
    first = (alpha + big_t) ** (-(r + x)) * surv(big_t)
    want = (
        special.gammaln(r + x) - special.gammaln(r) + r * math.log(alpha) + math.log(first + inner)
    )
    got = float(_model(**p).customer_log_likelihood(x, tx, big_t))
    assert got == pytest.approx(want, abs=1e-7)
    pa = float(_model(**p).probability_alive(x, tx, big_t))
    assert pa == pytest.approx(first / (first + inner), rel=1e-7, abs=1e-300)


@pytest.mark.parametrize("p", PARAM_SETS)
@pytest.mark.parametrize("big_t", [0.0, 39.0])
@pytest.mark.parametrize("t", [0.5, 39.0, 1000.0])
def test_expectations_against_adaptive_quadrature(
    p: dict[str, float], big_t: float, t: float
) -> None:
    surv, _ = _gompertz(p)
    r, alpha = p["r"], p["alpha"]
    life = integrate.quad(
        lambda u: surv(big_t + u) / surv(big_t), 0.0, t, epsabs=0, epsrel=1e-12, limit=400
    )[0]
    m = _model(**p)
    if big_t == 0.0:
        assert float(m.expected_purchases(t)) == pytest.approx(r / alpha * life, rel=1e-8)
    x, tx = 2.0, 0.3 * big_t
    pa = float(m.probability_alive(x if big_t else 0, tx, big_t))
    got = float(m.conditional_expected_purchases(t, x if big_t else 0, tx, big_t))
    want = pa * (r + (x if big_t else 0)) / (alpha + big_t) * life
    assert got == pytest.approx(want, rel=1e-8)


@pytest.mark.parametrize("p", PARAM_SETS[:3])
def test_probability_of_purchases_sums_to_one_and_matches_quadrature(p: dict[str, float]) -> None:
    m = _model(**p)
    n = np.arange(20_000.0)
    pmf = m.probability_of_purchases(n, 39.0)
    assert float(pmf.sum()) == pytest.approx(1.0, abs=1e-8)
    surv, dens = _gompertz(p)
    r, alpha = p["r"], p["alpha"]
    for k in (0, 1, 4):

        def nbd(tau: float, k: int = k) -> float:
            return float(stats.nbinom.pmf(k, r, alpha / (alpha + tau)))

        want = (
            surv(39.0) * nbd(39.0)
            + integrate.quad(
                lambda tau: dens(tau) * nbd(tau), 0.0, 39.0, epsabs=0, epsrel=1e-12, limit=400
            )[0]
        )
        assert float(pmf[k]) == pytest.approx(want, rel=1e-7)
    # the mean of the pmf is E[X(t)]
    assert float((n * pmf).sum()) == pytest.approx(float(m.expected_purchases(39.0)), rel=1e-6)


# ---------------------------------------------------------------------------
# 4. Fitting: recovery on simulated data, gradient, frozen results
# ---------------------------------------------------------------------------


def test_fit_recovers_simulated_aging() -> None:
    truth = _model(r=0.6, alpha=8.0, b=0.05, s=1.2, beta=2.0)
    big_t = np.random.default_rng(21).uniform(20.0, 100.0, 5000).round()  # cohorts
    sim = truth.simulate(5000, T=big_t, rng=20).compressed()
    m = fit_ggomnbd(sim.frequency, sim.recency, sim.T, weights=sim.weights)
    assert m.n_customers == 5000
    assert "Pareto/NBD limit" not in m.message
    for k, want in truth.params.items():
        se = m.standard_errors[k]
        assert math.isfinite(se)
        assert se > 0
        assert abs(m.params[k] - want) < 3 * se, (k, m.params[k], want, se)


def test_weights_and_initial_values(cdnow: BTYDSummary, cdnow_fit: GGompertzNBDModel) -> None:
    c = cdnow.compressed()
    assert len(c) < len(cdnow)
    with pytest.warns(FitWarning, match=r"Pareto/NBD limit"):
        mw = fit_ggomnbd(c.frequency, c.recency, c.T, weights=c.weights)
    assert mw.n_customers == 2357
    assert mw.log_likelihood == pytest.approx(cdnow_fit.log_likelihood, abs=1e-6)
    for k in ("r", "alpha", "s"):
        assert mw.params[k] == pytest.approx(cdnow_fit.params[k], rel=1e-4)
    with pytest.warns(FitWarning, match=r"Pareto/NBD limit"):
        mi = fit_ggomnbd(
            cdnow.frequency, cdnow.recency, cdnow.T, initial={"r": 0.3, "s": 1.5, "b": 0.01}
        )
    assert mi.log_likelihood == pytest.approx(cdnow_fit.log_likelihood, abs=1e-4)
    assert mi.params["beta"] / mi.params["b"] == pytest.approx(PARETO_BETA, abs=0.01)


def test_gradient_matches_finite_differences() -> None:
    from custrel.btyd._ggomnbd import _rows

    rng = np.random.default_rng(5)
    big_t = rng.uniform(5, 60, 200)
    x = rng.integers(0, 40, 200).astype(float)
    tx = np.where(x > 0, big_t * rng.uniform(0, 1, 200), 0.0)
    for theta in (
        [0.55, 10.6, 0.05, 0.6, 0.5],
        [2.0, 3.0, 0.3, 2.0, 5.0],
        [0.5, 10.0, 1e-6, 0.6, 1e-5],
    ):
        th = np.asarray(theta)
        _, _, g = _rows(th, x, tx, big_t, grad=True)
        assert g is not None
        for i in range(5):
            e = np.zeros(5)
            e[i] = th[i] * 1e-6
            up = _rows(th + e, x, tx, big_t, grad=False)[0].sum()
            down = _rows(th - e, x, tx, big_t, grad=False)[0].sum()
            assert th[i] * g[:, i].sum() == pytest.approx(
                th[i] * (up - down) / (2 * e[i]), abs=1e-5
            )


def test_model_is_frozen_and_owns_its_arrays(cdnow_fit: GGompertzNBDModel) -> None:
    with pytest.raises(TypeError):
        cdnow_fit.params["r"] = 1.0  # type: ignore[index]
    assert not cdnow_fit.covariance.flags.writeable
    with pytest.raises(AttributeError):
        cdnow_fit.log_likelihood = 0.0  # type: ignore[misc]
    x = np.array([1.0, 2.0])
    tx = np.array([3.0, 4.0])
    big_t = np.array([10.0, 10.0])
    before = (x.copy(), tx.copy(), big_t.copy())
    out = cdnow_fit.probability_alive(x, tx, big_t)
    assert not np.shares_memory(out, x)
    for a, b in zip((x, tx, big_t), before, strict=True):
        np.testing.assert_array_equal(a, b)
    assert repr(cdnow_fit).startswith("GGompertzNBDModel(r=0.5533")
    assert set(cdnow_fit.summary()) == {"r", "alpha", "b", "s", "beta"}


def test_simulation_respects_the_window() -> None:
    m = _model(r=0.6, alpha=8.0, b=0.05, s=1.2, beta=2.0)
    sim = m.simulate(500, T=30.0, rng=1)
    assert np.all(sim.recency <= sim.T)
    assert np.all((sim.frequency == 0) == (sim.recency == 0))
    assert float(sim.frequency.mean()) == pytest.approx(float(m.expected_purchases(30.0)), rel=0.2)


# ---------------------------------------------------------------------------
# 5. Properties over the parameter box the fit can return
# ---------------------------------------------------------------------------

BOX = 16.0


def positive() -> st.SearchStrategy[float]:
    return st.one_of(
        st.floats(-BOX, BOX).map(math.exp),
        st.sampled_from([1.0, 0.5, 2.0, math.exp(-BOX), math.exp(BOX)]),
    )


@st.composite
def histories(draw: st.DrawFn) -> tuple[Any, Any, Any]:
    n = draw(st.integers(1, 5))
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


def _monotone(values: np.ndarray[Any, Any], axis: int = 0) -> None:
    d = np.diff(values, axis=axis)
    scale = 1e-9 * (1.0 + np.abs(np.take(values, range(1, values.shape[axis]), axis=axis)))
    assert np.all(d >= -scale), values


@settings(deadline=None)
@given(
    params=st.tuples(positive(), positive(), positive(), positive(), positive()),
    hist=histories(),
    t=st.lists(st.floats(0.0, 1e6), min_size=2, max_size=5).map(lambda v: np.sort(np.asarray(v))),
)
def test_predictions_finite_bounded_and_monotone(
    params: tuple[float, ...], hist: tuple[Any, Any, Any], t: np.ndarray[Any, Any]
) -> None:
    m = _model(**dict(zip(("r", "alpha", "b", "s", "beta"), params, strict=True)))
    x, tx, big_t = hist
    ll = m.customer_log_likelihood(x, tx, big_t)
    assert np.all(np.isfinite(ll) | (ll == -np.inf)), ll
    pa = m.probability_alive(x, tx, big_t)
    assert np.all(np.isfinite(pa)), pa
    assert np.all((pa >= 0.0) & (pa <= 1.0)), pa
    e = m.expected_purchases(t)
    assert np.all(np.isfinite(e)), e
    assert np.all(e >= 0.0), e
    _monotone(e)
    assert float(m.expected_purchases(0.0)) == 0.0
    cond = np.stack([m.conditional_expected_purchases(tt, x, tx, big_t) for tt in t])
    assert np.all(np.isfinite(cond)), cond
    assert np.all(cond >= 0.0), cond
    _monotone(cond, axis=0)


@settings(deadline=None, max_examples=25)
@given(
    x=st.lists(st.integers(0, 20_000), min_size=1, max_size=4),
    frac=st.floats(0.0, 1.0),
    big_t=st.floats(0.0, 1e6),
)
def test_extreme_histories_on_the_cdnow_fit(x: list[int], frac: float, big_t: float) -> None:
    m = _model(**CLVTOOLS)
    xs = np.asarray(x, dtype=float)
    tx = np.where(xs > 0, frac * big_t, 0.0)
    pa = m.probability_alive(xs, tx, big_t)
    assert np.all((pa >= 0) & (pa <= 1))
    assert np.all(np.isfinite(m.conditional_expected_purchases(52.0, xs, tx, big_t)))
    assert np.all(np.isfinite(m.customer_log_likelihood(xs, tx, big_t)))


# ---------------------------------------------------------------------------
# 6. Bad inputs
# ---------------------------------------------------------------------------

_GOOD = ([0, 2, 1], [0.0, 10.0, 3.0], [20.0, 20.0, 20.0])


def _fit(**kw: Any) -> Any:
    args = {"frequency": _GOOD[0], "recency": _GOOD[1], "T": _GOOD[2], **kw}
    return fit_ggomnbd(args.pop("frequency"), args.pop("recency"), args.pop("T"), **args)


BAD_FITS = [
    pytest.param(
        {"frequency": [0, -1, 1]},
        InvalidInputError,
        r"frequency must be >= 0",
        id="negative-frequency",
    ),
    pytest.param(
        {"frequency": [0, 1.5, 1]},
        InvalidInputError,
        r"frequency must be whole numbers, got 1\.5 at row 1",
        id="fractional-frequency",
    ),
    pytest.param(
        {"recency": [0.0, 30.0, 3.0]},
        InvalidInputError,
        r"recency must be <= T, got recency 30\.0 > T 20\.0 at row 1",
        id="recency-beyond-T",
    ),
    pytest.param(
        {"recency": [1.0, 10.0, 3.0]},
        InvalidInputError,
        r"recency must be 0 where frequency is 0",
        id="recency-without-purchases",
    ),
    pytest.param(
        {"T": [20.0, float("nan"), 20.0]},
        InvalidInputError,
        r"T must be finite, got nan at row 1",
        id="nan-T",
    ),
    pytest.param({"T": [20.0, 20.0]}, InvalidInputError, r"same length", id="length-mismatch"),
    pytest.param(
        {"frequency": [0, 0, 0], "recency": [0.0, 0.0, 0.0]},
        InvalidInputError,
        r"frequency is 0 for all 3 rows",
        id="no-repeat-buyers",
    ),
    pytest.param(
        {"weights": [1.0, 0.0, 1.0]}, InvalidInputError, r"weights must be > 0", id="zero-weight"
    ),
    pytest.param(
        {"initial": {"gamma": 1.0}},
        InvalidInputError,
        r"initial has unknown parameter 'gamma'",
        id="unknown-initial",
    ),
    pytest.param(
        {"initial": {"b": -1.0}},
        InvalidInputError,
        r"initial\['b'\] must be > 0",
        id="negative-initial",
    ),
    pytest.param(
        {"initial": [1.0, 2.0]},
        InvalidTypeError,
        r"initial must be a mapping",
        id="initial-not-mapping",
    ),
    pytest.param(
        {"frequency": "abc"},
        (InvalidInputError, InvalidTypeError),
        r"frequency",
        id="text-frequency",
    ),
]


@pytest.mark.parametrize(("kw", "exc", "match"), BAD_FITS)
def test_fit_bad_inputs(kw: dict[str, Any], exc: Any, match: str) -> None:
    with pytest.raises(exc, match=match):
        _fit(**kw)


_M = GGompertzNBDModel.from_params(CLVTOOLS)

BAD_PREDICTIONS = [
    pytest.param(
        lambda: _M.expected_purchases(-1.0),
        InvalidInputError,
        r"t must be >= 0",
        id="negative-horizon",
    ),
    pytest.param(
        lambda: _M.expected_purchases(float("inf")),
        InvalidInputError,
        r"t must be finite",
        id="infinite-horizon",
    ),
    pytest.param(
        lambda: _M.conditional_expected_purchases(float("nan"), 1, 2.0, 5.0),
        InvalidInputError,
        r"t must be finite",
        id="nan-horizon",
    ),
    pytest.param(
        lambda: _M.probability_alive(1, 6.0, 5.0),
        InvalidInputError,
        r"recency must be <= T",
        id="alive-recency-beyond-T",
    ),
    pytest.param(
        lambda: _M.probability_alive(-1, 0.0, 5.0),
        InvalidInputError,
        r"frequency must be >= 0",
        id="alive-negative-frequency",
    ),
    pytest.param(
        lambda: _M.conditional_expected_purchases(5.0, [1, 2], [1.0, 2.0, 3.0], 5.0),
        InvalidInputError,
        r"same length",
        id="conditional-lengths",
    ),
    pytest.param(
        lambda: _M.conditional_expected_purchases([1.0, 2.0], [1, 2, 3], [1.0, 2.0, 3.0], 5.0),
        InvalidInputError,
        r"t has 2 values but there are 3 customers",
        id="horizons-vs-customers",
    ),
    pytest.param(
        lambda: _M.probability_of_purchases([1.0, 2.0], [1.0, 2.0, 3.0]),
        InvalidInputError,
        r"n has 2 values but t has 3",
        id="pmf-lengths",
    ),
    pytest.param(
        lambda: _M.probability_of_purchases(-1, 5.0),
        InvalidInputError,
        r"n must be >= 0",
        id="pmf-negative-n",
    ),
    pytest.param(
        lambda: GGompertzNBDModel.from_params({"r": 1.0}),
        InvalidInputError,
        r"params must name exactly",
        id="params-missing",
    ),
    pytest.param(
        lambda: GGompertzNBDModel.from_params({**CLVTOOLS, "b": 0.0}),
        InvalidInputError,
        r"params\['b'\] must be > 0",
        id="params-zero-b",
    ),
    pytest.param(
        lambda: GGompertzNBDModel.from_params([1.0] * 5),  # type: ignore[arg-type]
        InvalidTypeError,
        r"params must be a mapping",
        id="params-not-mapping",
    ),
]


@pytest.mark.parametrize(("call", "exc", "match"), BAD_PREDICTIONS)
def test_prediction_bad_inputs(call: Any, exc: Any, match: str) -> None:
    with pytest.raises(exc, match=match):
        call()


def test_budget_refuses_huge_quadrature(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUSTREL_MAX_CELLS", "1000")
    with pytest.raises(InvalidInputError, match=r"CUSTREL_MAX_CELLS"):
        _M.expected_purchases(np.linspace(0, 10, 100))
    with pytest.raises(InvalidInputError, match=r"CUSTREL_MAX_CELLS"):
        _M.conditional_expected_purchases(10.0, np.ones(100), np.ones(100), np.full(100, 5.0))


def test_fit_without_interior_maximum_raises() -> None:
    # every customer identical: no heterogeneity, r and alpha run off together
    with pytest.raises(ConvergenceError, match=r"GGompertz/NBD"):
        fit_ggomnbd([1, 1, 1, 1], [5.0, 5.0, 5.0, 5.0], [10.0, 10.0, 10.0, 10.0])
