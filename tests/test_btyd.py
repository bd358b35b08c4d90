"""Tests of custrel.btyd: the BTYD summary, the BG/NBD family, Gamma-Gamma, BG/BB, diagnostics."""

from __future__ import annotations

import itertools
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import integrate, special, stats

from custrel import (
    BGBBModel,
    BGNBDModel,
    BTYDSummary,
    ConvergenceError,
    EmptyInputError,
    FitWarning,
    GammaGammaModel,
    InvalidInputError,
    InvalidTypeError,
    MBGNBDModel,
    TransactionLog,
    calibration_holdout_comparison,
    fit_bgbb,
    fit_bgnbd,
    fit_gamma_gamma,
    fit_mbgnbd,
    fit_pareto_nbd,
    frequency_recency_matrix,
    load_cdnow,
    repeat_purchase_histogram,
    rfm_summary,
)
from custrel.btyd import _pnbd_math as _pareto_nbd
from strategies import transaction_logs

# ---------------------------------------------------------------------------
# Reference data
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cdnow(shared_data: Path) -> BTYDSummary:
    """The CDNOW sample: 39-week calibration to 1997-09-30, holdout to 1998-06-30, weeks."""
    log = load_cdnow(shared_data / "CDNOW_sample.txt")
    return rfm_summary(log, unit="week", calibration_end="1997-09-30", observation_end="1998-06-30")


@pytest.fixture(scope="module")
def cdnow_bgnbd(cdnow: BTYDSummary) -> BGNBDModel:
    return fit_bgnbd(cdnow.frequency, cdnow.recency, cdnow.T)


@pytest.fixture(scope="module")
def donations(shared_data: Path) -> dict[str, np.ndarray]:
    d = np.genfromtxt(shared_data / "donations.csv", delimiter=",", names=True)
    return {k: np.asarray(d[k], dtype=float) for k in d.dtype.names or ()}


def _sample_order(shared_data: Path, customer_id: np.ndarray) -> np.ndarray:
    """Order of our rows by the sample's own customer number (the CSVs' ID column).

    CDNOW_sample.txt holds the master-file id in column 1 (our customer_id) and
    the sample id 1..2357 in column 2; the reference CSVs are in sample-id order.
    """
    raw = np.loadtxt(shared_data / "CDNOW_sample.txt", usecols=(0, 1), dtype=np.int64)
    master, sample = np.unique(raw, axis=0).T
    sample_id = sample[np.searchsorted(master, customer_id)]
    return np.argsort(sample_id)


# ---------------------------------------------------------------------------
# 1. The CDNOW summary against the published summaries
# ---------------------------------------------------------------------------


def test_cdnow_summary_matches_published_csv(cdnow: BTYDSummary, shared_data: Path) -> None:
    # cdnow_customers_summary_with_transactions.csv (Fader & Hardie's "x, t_x, T, zbar"
    # for the 2,357 customers of the CDNOW sample, weeks, rounded to 2 decimals)
    ref = np.genfromtxt(
        shared_data / "cdnow_customers_summary_with_transactions.csv", delimiter=",", names=True
    )
    assert len(cdnow) == 2357 == len(ref)
    o = _sample_order(shared_data, np.asarray(cdnow.customer_id))
    np.testing.assert_array_equal(cdnow.frequency[o], ref["x"])
    np.testing.assert_allclose(cdnow.recency[o], ref["t_x"], atol=0.005 + 1e-9)
    np.testing.assert_allclose(cdnow.T[o], ref["T"], atol=0.005 + 1e-9)
    assert cdnow.monetary_value is not None
    zbar = np.where(cdnow.frequency > 0, cdnow.monetary_value, 0.0)[o]
    np.testing.assert_allclose(zbar, ref["zbar"], atol=0.005 + 1e-9)
    # the other published file (lifetimes' example data) has the same three columns
    ref2 = np.genfromtxt(shared_data / "cdnow_customers_summary.csv", delimiter=",", names=True)
    np.testing.assert_array_equal(cdnow.frequency[o], ref2["frequency"])
    np.testing.assert_allclose(cdnow.recency[o], ref2["recency"], atol=0.005 + 1e-9)
    np.testing.assert_allclose(cdnow.T[o], ref2["T"], atol=0.005 + 1e-9)
    # the holdout window is the 39 weeks 1997-10-01 .. 1998-06-30
    assert cdnow.holdout_duration == pytest.approx(39.0)
    assert cdnow.n_customers_after_calibration == 0
    assert int((cdnow.frequency > 0).sum()) == 946


# ---------------------------------------------------------------------------
# 2. Published fits
# ---------------------------------------------------------------------------


def _sig3(x: float) -> float:
    return float(f"{x:.3g}")


def test_bgnbd_cdnow_published(cdnow_bgnbd: BGNBDModel) -> None:
    # Fader, Hardie & Lee (2005), Marketing Science 24(2), p. 279: on the CDNOW sample
    # (2,357 customers, 39-week calibration, weeks) r = 0.243, alpha = 4.414,
    # a = 0.793, b = 2.426, LL = -9582.4.
    p = cdnow_bgnbd.params
    assert [_sig3(p[k]) for k in ("r", "alpha", "a", "b")] == [0.243, 4.41, 0.793, 2.43]
    assert cdnow_bgnbd.log_likelihood == pytest.approx(-9582.4, abs=0.05)
    assert all(np.isfinite(list(cdnow_bgnbd.standard_errors.values())))
    # Fader, Hardie & Lee (2005), "Implementing the BG/NBD model for customer base
    # analysis in Excel": a customer with x = 2, t_x = 30.43, T = 38.86 is expected to
    # make 1.226 purchases in the next 39 weeks.
    e = cdnow_bgnbd.conditional_expected_purchases(39.0, 2, 30.43, 38.86)
    assert float(e) == pytest.approx(1.226, abs=0.0005)


def test_bgnbd_fit_on_published_summary_csv(shared_data: Path) -> None:
    # the same estimates from the rounded published summary
    ref = np.genfromtxt(shared_data / "cdnow_customers_summary.csv", delimiter=",", names=True)
    m = fit_bgnbd(ref["frequency"], ref["recency"], ref["T"])
    assert _sig3(m.params["r"]) == 0.243
    assert _sig3(m.params["b"]) == 2.43
    assert m.log_likelihood == pytest.approx(-9582.4, abs=0.1)


def test_mbgnbd_cdnow_agrees_with_lifetimes(shared_data: Path) -> None:
    # No published MBG/NBD fit on CDNOW; cross-check against lifetimes 0.11.3
    # (ModifiedBetaGeoFitter on cdnow_customers_summary.csv, run in a separate
    # numpy<2 environment): r = 0.52484, alpha = 6.18299, a = 0.89136, b = 1.61400;
    # E[X(39)] = 1.18228; for (x, t_x, T) = (2, 30.43, 38.86): P(alive) = 0.706126 and
    # 1.262671 purchases in the next 39 weeks; P(X(38.86) = 2) = 0.0868248.
    ref = np.genfromtxt(shared_data / "cdnow_customers_summary.csv", delimiter=",", names=True)
    m = fit_mbgnbd(ref["frequency"], ref["recency"], ref["T"])
    np.testing.assert_allclose(
        [m.params[k] for k in ("r", "alpha", "a", "b")],
        [0.52484, 6.18299, 0.89136, 1.61400],
        rtol=2e-4,
    )
    assert float(m.expected_purchases(39.0)) == pytest.approx(1.18228, abs=2e-5)
    assert float(m.probability_alive(2, 30.43, 38.86)) == pytest.approx(0.706126, abs=2e-5)
    assert float(m.conditional_expected_purchases(39.0, 2, 30.43, 38.86)) == pytest.approx(
        1.262671, abs=2e-5
    )
    assert float(m.probability_of_purchases(2, 38.86)) == pytest.approx(0.0868248, abs=2e-6)


def test_gamma_gamma_cdnow_published(cdnow: BTYDSummary) -> None:
    # Fader & Hardie (2013), "The Gamma-Gamma model of monetary value", on the 946
    # repeat buyers of the CDNOW sample: p = 6.25, q = 3.74, gamma = 15.44.
    # (lifetimes' documentation prints v = 15.45: it fits the mean spends rounded to
    # cents in cdnow_customers_summary_with_transactions.csv; so do we, below.)
    rb = cdnow.repeat_buyers()
    assert rb.monetary_value is not None
    gg = fit_gamma_gamma(rb.frequency, rb.monetary_value)
    assert [_sig3(gg.params[k]) for k in ("p", "q", "gamma")] == [6.25, 3.74, 15.4]
    assert round(gg.params["gamma"], 2) == 15.44
    # frequency and spend are only weakly correlated in CDNOW (the model's assumption)
    assert abs(gg.frequency_spend_correlation) < 0.2
    # the population mean p * gamma / (q - 1)
    assert gg.expected_spend() == pytest.approx(35.17, abs=0.01)


def test_gamma_gamma_rounded_csv_gives_lifetimes_figure(shared_data: Path) -> None:
    ref = np.genfromtxt(
        shared_data / "cdnow_customers_summary_with_transactions.csv", delimiter=",", names=True
    )
    rb = ref[ref["x"] > 0]
    gg = fit_gamma_gamma(rb["x"], rb["zbar"])
    assert round(gg.params["gamma"], 2) == 15.45
    # lifetimes' documentation: conditional expected average profit of customer 1
    # (x = 2, zbar = 22.35) is 24.658619
    assert float(gg.conditional_expected_spend(2, 22.35)) == pytest.approx(24.6586, abs=1e-3)


def test_bgbb_donations_published(donations: dict[str, np.ndarray]) -> None:
    # Fader, Hardie & Shang (2010), Marketing Science 29(6): the 1995 cohort of 11,104
    # donors, 6 annual opportunities: alpha = 1.204, beta = 0.750, gamma = 0.657,
    # delta = 2.783, LL = -33,225.6.
    m = fit_bgbb(
        donations["frequency"],
        donations["recency"],
        donations["periods"],
        weights=donations["weights"],
    )
    p = m.params
    assert [_sig3(p[k]) for k in ("alpha", "beta", "gamma", "delta")] == [1.2, 0.75, 0.657, 2.78]
    assert [round(p[k], 3) for k in ("alpha", "beta", "gamma", "delta")] == [
        1.204,
        0.750,
        0.657,
        2.783,
    ]
    assert m.log_likelihood == pytest.approx(-33225.6, abs=0.05)
    assert m.n_customers == 11104


# ---------------------------------------------------------------------------
# 3. Likelihoods and predictions against brute-force integration
# ---------------------------------------------------------------------------


def _beta_pdf(p: float, a: float, b: float) -> float:
    return float(np.exp((a - 1) * np.log(p) + (b - 1) * np.log1p(-p) - special.betaln(a, b)))


def _gamma_pdf(lam: float, r: float, alpha: float) -> float:
    return float(stats.gamma.pdf(lam, r, scale=1.0 / alpha))


def _lam_integral(fn: Any, r: float, alpha: float) -> float:
    """E[fn(lambda)] over lambda ~ Gamma(r, alpha), by quadrature.

    On [0, 1] quad's algebraic weight lambda^(r-1) absorbs the singularity at 0.
    """
    const = np.exp(r * np.log(alpha) - special.gammaln(r))
    head = integrate.quad(
        lambda lam: fn(lam) * np.exp(-alpha * lam),
        0.0,
        1.0,
        weight="alg",
        wvar=(r - 1.0, 0.0),
        epsabs=0.0,
        epsrel=1e-11,
    )[0]
    tail = integrate.quad(
        lambda lam: fn(lam) * lam ** (r - 1.0) * np.exp(-alpha * lam),
        1.0,
        np.inf,
        epsabs=0.0,
        epsrel=1e-11,
        limit=200,
    )[0]
    return float(const * (head + tail))


def _lam_moment(x: int, s: float, r: float, alpha: float) -> float:
    """E[lambda^x exp(-lambda s)] over lambda ~ Gamma(r, alpha), by quadrature."""
    return _lam_integral(lambda lam: lam**x * np.exp(-lam * s), r, alpha)


def _p_moment(i: int, j: int, a: float, b: float) -> float:
    """E[p^i (1 - p)^j] over p ~ Beta(a, b), by quadrature."""
    # quad's algebraic weight p^(a-1) (1-p)^(b-1) absorbs the endpoint singularities
    val = integrate.quad(
        lambda p: p**i * (1 - p) ** j,
        0.0,
        1.0,
        weight="alg",
        wvar=(a - 1.0, b - 1.0),
        epsabs=0.0,
        epsrel=1e-11,
    )[0]
    return float(val / special.beta(a, b))


def _brute_nbd_ll(theta: list[float], x: int, tx: float, t: float, modified: bool) -> float:
    # the individual likelihood (1-p)^(x+m) lambda^x e^(-lambda T)
    # + [x > 0 or m] p (1-p)^(x-1+m) lambda^x e^(-lambda t_x), m = 1 for MBG/NBD,
    # integrated over lambda and p by quadrature (each term separates in lambda and p)
    r, alpha, a, b = theta
    m = int(modified)
    val = _lam_moment(x, t, r, alpha) * _p_moment(0, x + m, a, b)
    if x > 0 or modified:
        val += _lam_moment(x, tx, r, alpha) * _p_moment(1, x - 1 + m, a, b)
    return float(np.log(val))


nbd_params = st.tuples(
    st.floats(0.3, 3.0), st.floats(0.5, 10.0), st.floats(1.0, 4.0), st.floats(1.0, 6.0)
)


@st.composite
def small_customers(draw: st.DrawFn) -> tuple[int, float, float]:
    big_t = draw(st.floats(0.5, 20.0))
    x = draw(st.integers(0, 5))
    tx = 0.0 if x == 0 else draw(st.floats(0.0, big_t))
    return x, tx, big_t


@settings(max_examples=12)
@given(theta=nbd_params, cust=small_customers(), modified=st.booleans())
def test_nbd_log_likelihood_equals_integration(
    theta: tuple[float, float, float, float], cust: tuple[int, float, float], modified: bool
) -> None:
    x, tx, big_t = cust
    cls = MBGNBDModel if modified else BGNBDModel
    m = cls.from_params(dict(zip(("r", "alpha", "a", "b"), theta, strict=True)))
    got = float(m.customer_log_likelihood(x, tx, big_t))
    assert got == pytest.approx(_brute_nbd_ll(list(theta), x, tx, big_t, modified), abs=1e-6)


def test_nbd_log_likelihood_cdnow_parameters_equals_integration() -> None:
    theta = [0.243, 4.414, 0.793, 2.426]  # a < 1: an integrable singularity at p = 0
    m = BGNBDModel.from_params(dict(zip(("r", "alpha", "a", "b"), theta, strict=True)))
    for x, tx, big_t in [(0, 0.0, 38.86), (2, 30.43, 38.86), (7, 35.0, 38.0)]:
        got = float(m.customer_log_likelihood(x, tx, big_t))
        assert got == pytest.approx(_brute_nbd_ll(theta, x, tx, big_t, False), abs=1e-5)


def _expected_by_integration(theta: list[float], t: float, modified: bool) -> float:
    # E[X(t) | lambda, p] = (1 - p)^m / p * (1 - exp(-lambda p t)); over lambda in closed form
    r, alpha, a, b = theta

    def f(p: float) -> float:
        return (1 - p) ** modified / p * (1 - (alpha / (alpha + p * t)) ** r) * _beta_pdf(p, a, b)

    return float(integrate.quad(f, 0.0, 1.0, epsabs=1e-12, epsrel=1e-10)[0])


@settings(max_examples=15)
@given(theta=nbd_params, t=st.floats(0.1, 100.0), modified=st.booleans())
def test_nbd_expected_purchases_equals_integration(
    theta: tuple[float, float, float, float], t: float, modified: bool
) -> None:
    theta_l = list(theta)
    if abs(theta_l[2] - 1.0) < 1e-3:  # removable singularity at a = 1
        theta_l[2] = 1.2
    cls = MBGNBDModel if modified else BGNBDModel
    m = cls.from_params(dict(zip(("r", "alpha", "a", "b"), theta_l, strict=True)))
    assert float(m.expected_purchases(t)) == pytest.approx(
        _expected_by_integration(theta_l, t, modified), rel=1e-6, abs=1e-9
    )


def test_bgnbd_conditional_matches_textbook_formula_and_stays_finite() -> None:
    r, alpha, a, b = 0.243, 4.414, 0.793, 2.426
    m = BGNBDModel.from_params({"r": r, "alpha": alpha, "a": a, "b": b})
    x, tx, big_t, t = np.array([1.0, 3.0, 8.0]), np.array([5.0, 20.0, 30.0]), 38.86, 39.0
    # FHL (2005) eq. 10, without Euler's transformation (fine for small x)
    z = t / (alpha + big_t + t)
    num = (
        (a + b + x - 1)
        / (a - 1)
        * (
            1
            - ((alpha + big_t) / (alpha + big_t + t)) ** (r + x)
            * special.hyp2f1(r + x, b + x, a + b + x - 1, z)
        )
    )
    den = 1 + a / (b + x - 1) * ((alpha + big_t) / (alpha + tx)) ** (r + x)
    np.testing.assert_allclose(
        m.conditional_expected_purchases(t, x, tx, big_t), num / den, rtol=1e-8
    )
    # large frequencies and long T: the direct form overflows, ours stays finite
    big = m.conditional_expected_purchases(52.0, [500.0, 2000.0], [299.0, 1999.9], [300.0, 2000.0])
    assert np.all(np.isfinite(big))
    assert np.all(big > 0)
    # a very frequent, recent buyer buys at about its own rate x / T
    assert float(big[1]) == pytest.approx(52.0 * 2000 / 2000, rel=0.05)


def _brute_pmf(theta: list[float], n: int, t: float, modified: bool) -> float:
    # P(X(t) = n | lambda, p) = (1-p)^(n+m) Pois(n; lambda t)
    #   + [n > 0 or m] p (1-p)^(n-1+m) P(Pois(lambda t) >= n), integrated by quadrature
    r, alpha, a, b = theta
    m = int(modified)

    def lam_int(fn: Any) -> float:
        return _lam_integral(fn, r, alpha)

    val = lam_int(lambda lam: stats.poisson.pmf(n, lam * t)) * _p_moment(0, n + m, a, b)
    if n > 0 or modified:
        tail = lam_int(lambda lam: stats.poisson.sf(n - 1, lam * t)) if n > 0 else 1.0
        val += tail * _p_moment(1, n - 1 + m, a, b)
    return float(val)


@pytest.mark.parametrize("modified", [False, True], ids=["bgnbd", "mbgnbd"])
@pytest.mark.parametrize("n", [0, 1, 3])
def test_nbd_probability_of_purchases_equals_integration(modified: bool, n: int) -> None:
    theta = [0.8, 3.0, 1.5, 2.5]
    cls = MBGNBDModel if modified else BGNBDModel
    m = cls.from_params(dict(zip(("r", "alpha", "a", "b"), theta, strict=True)))
    assert float(m.probability_of_purchases(n, 6.0)) == pytest.approx(
        _brute_pmf(theta, n, 6.0, modified), abs=1e-7
    )
    assert float(m.probability_of_purchases(np.arange(400), 6.0).sum()) == pytest.approx(1.0)


def _gg_brute(theta: list[float], x: int, zbar: float) -> float:
    # zbar | nu ~ Gamma(p x, nu x) and nu ~ Gamma(q, gamma), integrated over nu
    p, q, gamma = theta

    def f(nu: float) -> float:
        return float(
            stats.gamma.pdf(zbar, p * x, scale=1.0 / (nu * x))
            * stats.gamma.pdf(nu, q, scale=1.0 / gamma)
        )

    # split at the mode of the integrand in nu so that quad sees its peak
    mode = (p * x + q - 1.0) / (gamma + x * zbar)
    edges = [0.0, 0.5 * mode, mode, 2.0 * mode, 10.0 * mode, np.inf]
    total = sum(
        integrate.quad(f, lo, hi, epsabs=0.0, epsrel=1e-12, limit=200)[0]
        for lo, hi in itertools.pairwise(edges)
    )
    return float(np.log(total))


@settings(max_examples=15)
@given(
    theta=st.tuples(st.floats(0.5, 8.0), st.floats(1.5, 6.0), st.floats(1.0, 30.0)),
    x=st.integers(1, 6),
    zbar=st.floats(1.0, 100.0),
)
def test_gamma_gamma_log_likelihood_equals_integration(
    theta: tuple[float, float, float], x: int, zbar: float
) -> None:
    gg = GammaGammaModel.from_params(dict(zip(("p", "q", "gamma"), theta, strict=True)))
    assert float(gg.customer_log_likelihood(x, zbar)) == pytest.approx(
        _gg_brute(list(theta), x, zbar), abs=1e-6
    )


def _bgbb_individual(p: float, th: float, x: int, tx: int, n: int) -> float:
    out = p**x * (1 - p) ** (n - x) * (1 - th) ** n
    for i in range(n - tx):
        out += p**x * (1 - p) ** (tx - x + i) * th * (1 - th) ** (tx + i)
    return float(out)


@settings(max_examples=6)
@given(
    theta=st.tuples(
        st.floats(1.0, 4.0), st.floats(1.0, 4.0), st.floats(1.0, 4.0), st.floats(1.0, 6.0)
    ),
    n=st.integers(1, 6),
    data=st.data(),
)
def test_bgbb_log_likelihood_equals_integration(
    theta: tuple[float, float, float, float], n: int, data: st.DataObject
) -> None:
    x = data.draw(st.integers(0, n))
    tx = 0 if x == 0 else data.draw(st.integers(x, n))
    al, be, ga, de = theta
    m = BGBBModel.from_params(dict(zip(("alpha", "beta", "gamma", "delta"), theta, strict=True)))
    val, _ = integrate.dblquad(
        lambda th, p: (
            _bgbb_individual(p, th, x, tx, n) * _beta_pdf(p, al, be) * _beta_pdf(th, ga, de)
        ),
        0.0,
        1.0,
        0.0,
        1.0,
        epsabs=1e-13,
    )
    assert float(m.customer_log_likelihood(x, tx, n)) == pytest.approx(np.log(val), abs=1e-6)


def test_bgbb_predictions_are_consistent(donations: dict[str, np.ndarray]) -> None:
    m = BGBBModel.from_params({"alpha": 1.204, "beta": 0.750, "gamma": 0.657, "delta": 2.783})
    # P(X(n) = x) sums to 1 and its mean is E[X(n)]
    k = np.arange(0, 7)
    pmf = m.probability_of_purchases(k, 6)
    assert float(pmf.sum()) == pytest.approx(1.0)
    assert float(k @ pmf) == pytest.approx(float(m.expected_purchases(6)))
    # conditional expectations, summed over the cohort, predict the next opportunities;
    # a new customer's expectation equals the sum of per-opportunity purchase probabilities
    e5 = float(m.expected_purchases(5))
    per = [
        float(k2 @ m.probability_of_purchases(k2, j))
        for j in range(1, 6)
        for k2 in [np.arange(j + 1)]
    ]
    assert per[-1] == pytest.approx(e5)
    # P(alive) in [0, 1]; those with a recent record are more likely alive
    pa = m.probability_alive(donations["frequency"], donations["recency"], donations["periods"])
    assert np.all((pa >= 0) & (pa <= 1))
    assert float(m.probability_alive(3, 6, 6)) > float(m.probability_alive(3, 3, 6))
    # expected purchases by integration over the posterior for one history
    x, tx, n, t = 2, 4, 6, 5
    al, be, ga, de = 1.204, 0.750, 0.657, 2.783

    def post(th: float, p: float) -> float:
        return _bgbb_individual(p, th, x, tx, n) * _beta_pdf(p, al, be) * _beta_pdf(th, ga, de)

    def fut(th: float, p: float) -> float:
        # alive at n (the likelihood's "alive" term) then p per opportunity while alive
        alive = p**x * (1 - p) ** (n - x) * (1 - th) ** n
        return (
            alive
            * p
            * sum((1 - th) ** j for j in range(1, t + 1))
            * _beta_pdf(p, al, be)
            * _beta_pdf(th, ga, de)
        )

    num = integrate.dblquad(fut, 0, 1, 0, 1, epsabs=1e-13)[0]
    den = integrate.dblquad(post, 0, 1, 0, 1, epsabs=1e-13)[0]
    assert float(m.conditional_expected_purchases(t, x, tx, n)) == pytest.approx(
        num / den, rel=1e-5
    )


# ---------------------------------------------------------------------------
# 4. Properties of the predictions
# ---------------------------------------------------------------------------


@st.composite
def histories(draw: st.DrawFn, n: int = 20) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    big_t = np.asarray(draw(st.lists(st.floats(0.0, 200.0), min_size=n, max_size=n)))
    x = np.asarray(draw(st.lists(st.integers(0, 300), min_size=n, max_size=n)), dtype=float)
    share = np.asarray(draw(st.lists(st.floats(0.0, 1.0), min_size=n, max_size=n)))
    tx = np.where(x > 0, big_t * share, 0.0)
    return x, tx, big_t


@settings(max_examples=40)
@given(
    theta=st.tuples(
        st.floats(0.05, 5.0), st.floats(0.1, 50.0), st.floats(0.1, 5.0), st.floats(0.1, 10.0)
    ),
    h=histories(),
    modified=st.booleans(),
)
def test_probability_alive_is_a_probability(
    theta: tuple[float, float, float, float],
    h: tuple[np.ndarray, np.ndarray, np.ndarray],
    modified: bool,
) -> None:
    cls = MBGNBDModel if modified else BGNBDModel
    m = cls.from_params(dict(zip(("r", "alpha", "a", "b"), theta, strict=True)))
    x, tx, big_t = h
    pa = m.probability_alive(x, tx, big_t)
    assert np.all((pa >= 0.0) & (pa <= 1.0))
    if not modified:
        # BG/NBD: a customer without repeat purchases (recency = 0, any T, including
        # T = recency = 0) cannot have dropped out
        assert np.all(pa[x == 0] == 1.0)
        assert float(m.probability_alive(0, 0.0, 0.0)) == 1.0
    else:
        # MBG/NBD: dropping out right after the first purchase is possible
        assert np.all(pa[x == 0] < 1.0)


@settings(max_examples=40)
@given(
    theta=st.tuples(
        st.floats(0.05, 5.0), st.floats(0.1, 50.0), st.floats(0.2, 5.0), st.floats(0.2, 10.0)
    ),
    t=st.lists(st.floats(0.0, 500.0), min_size=2, max_size=10),
    modified=st.booleans(),
)
def test_expected_purchases_nonnegative_and_increasing(
    theta: tuple[float, float, float, float], t: list[float], modified: bool
) -> None:
    if abs(theta[2] - 1.0) < 1e-2 or abs(theta[2] + theta[3] - 1.0) < 1e-2:
        return  # removable singularities of the closed form (a = 1, a + b = 1)
    cls = MBGNBDModel if modified else BGNBDModel
    m = cls.from_params(dict(zip(("r", "alpha", "a", "b"), theta, strict=True)))
    ts = np.sort(np.asarray(t))
    e = m.expected_purchases(ts)
    assert np.all(np.isfinite(e))
    assert np.all(e >= -1e-12)
    assert np.all(np.diff(e) >= -1e-9 * (1 + np.abs(e[1:])))
    assert float(m.expected_purchases(0.0)) == pytest.approx(0.0, abs=1e-12)


@settings(max_examples=30)
@given(
    theta=st.tuples(
        st.floats(0.5, 5.0), st.floats(0.5, 5.0), st.floats(0.3, 5.0), st.floats(0.3, 5.0)
    ),
    t=st.lists(st.integers(0, 60), min_size=2, max_size=8),
)
def test_bgbb_expected_purchases_nonnegative_and_increasing(
    theta: tuple[float, float, float, float], t: list[int]
) -> None:
    if abs(theta[2] - 1.0) < 1e-3:
        return
    m = BGBBModel.from_params(dict(zip(("alpha", "beta", "gamma", "delta"), theta, strict=True)))
    e = m.expected_purchases(np.sort(np.asarray(t, dtype=float)))
    assert np.all(e >= -1e-12)
    assert np.all(np.diff(e) >= -1e-12)


def test_conditional_expected_purchases_increase_with_t(cdnow_bgnbd: BGNBDModel) -> None:
    c = cdnow_bgnbd.conditional_expected_purchases([1.0, 10.0, 39.0, 100.0], 3, 20.0, 38.86)
    assert np.all(np.diff(c) > 0)
    assert float(cdnow_bgnbd.conditional_expected_purchases(0.0, 3, 20.0, 38.86)) == 0.0


# ---------------------------------------------------------------------------
# 5. Fits: weights, simulation round trip, convergence failures
# ---------------------------------------------------------------------------


def _params(m: Any) -> np.ndarray:
    return np.asarray(list(m.params.values()))


def test_weighted_and_expanded_data_give_the_same_fit(donations: dict[str, np.ndarray]) -> None:
    d = donations
    w = d["weights"].astype(int)
    weighted = fit_bgbb(d["frequency"], d["recency"], d["periods"], weights=d["weights"])
    expanded = fit_bgbb(
        np.repeat(d["frequency"], w), np.repeat(d["recency"], w), np.repeat(d["periods"], w)
    )
    np.testing.assert_allclose(_params(weighted), _params(expanded), rtol=1e-5)
    assert weighted.log_likelihood == pytest.approx(expanded.log_likelihood, rel=1e-10)


@settings(max_examples=8)
@given(
    rows=st.lists(
        st.tuples(
            st.integers(0, 6),
            st.floats(0.0, 1.0),
            st.sampled_from([20.0, 30.0, 39.0]),
            st.integers(1, 4),
        ),
        min_size=25,
        max_size=40,
    ),
    modified=st.booleans(),
)
def test_weighted_and_expanded_nbd_fits_agree(
    rows: list[tuple[int, float, float, int]], modified: bool
) -> None:
    x = np.asarray([r[0] for r in rows], dtype=float)
    big_t = np.asarray([r[2] for r in rows])
    tx = np.where(x > 0, np.round(np.asarray([r[1] for r in rows]) * big_t, 1), 0.0)
    w = np.asarray([r[3] for r in rows])
    assume(bool(np.any(x > 0)))
    fit = fit_mbgnbd if modified else fit_bgnbd
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FitWarning)
            a = fit(x, tx, big_t, weights=w)
            b = fit(np.repeat(x, w), np.repeat(tx, w), np.repeat(big_t, w))
    except ConvergenceError:
        return  # tiny random samples may not identify the model; both paths see the same data
    assert a.log_likelihood == pytest.approx(b.log_likelihood, rel=1e-9, abs=1e-7)


def test_compressed_summary_gives_the_same_fit(cdnow: BTYDSummary, cdnow_bgnbd: BGNBDModel) -> None:
    c = cdnow.compressed()
    assert len(c) < len(cdnow)
    assert c.n_customers == 2357
    m = fit_bgnbd(c.frequency, c.recency, c.T, weights=c.weights)
    np.testing.assert_allclose(_params(m), _params(cdnow_bgnbd), rtol=1e-5)


@pytest.mark.parametrize(
    ("cls", "fit", "truth"),
    [
        (BGNBDModel, fit_bgnbd, {"r": 0.6, "alpha": 4.0, "a": 1.2, "b": 3.0}),
        (MBGNBDModel, fit_mbgnbd, {"r": 0.6, "alpha": 4.0, "a": 1.2, "b": 3.0}),
        (BGBBModel, fit_bgbb, {"alpha": 1.2, "beta": 0.75, "gamma": 0.66, "delta": 2.8}),
    ],
    ids=["bgnbd", "mbgnbd", "bgbb"],
)
def test_simulated_data_is_fitted_back(cls: Any, fit: Any, truth: dict[str, float]) -> None:
    model = cls.from_params(truth)
    discrete = cls is BGBBModel
    sim = model.simulate(20000, T=6.0 if discrete else 52.0, rng=2024)
    assert np.all(sim.recency <= sim.T)
    c = sim.compressed()
    got = fit(c.frequency, c.recency, c.T, weights=c.weights)
    for k, true in truth.items():
        # within 4 standard errors of the truth
        assert abs(got.params[k] - true) < 4 * got.standard_errors[k], (k, got.params[k], true)


def test_gamma_gamma_simulated_data_is_fitted_back() -> None:
    truth = {"p": 6.25, "q": 3.74, "gamma": 15.44}
    gg = GammaGammaModel.from_params(truth)
    x = np.random.default_rng(5).integers(1, 8, 20000).astype(float)
    got = fit_gamma_gamma(x, gg.simulate(x, rng=5))
    for k, true in truth.items():
        assert abs(got.params[k] - true) < 4 * got.standard_errors[k]


def test_simulation_is_seeded() -> None:
    m = BGNBDModel.from_params({"r": 0.6, "alpha": 4.0, "a": 1.2, "b": 3.0})
    a, b = m.simulate(100, 30.0, rng=1), m.simulate(100, 30.0, rng=1)
    np.testing.assert_array_equal(a.frequency, b.frequency)
    np.testing.assert_array_equal(a.recency, b.recency)


def test_simulated_histogram_matches_probability_of_purchases() -> None:
    m = BGNBDModel.from_params({"r": 0.6, "alpha": 4.0, "a": 1.2, "b": 3.0})
    sim = m.simulate(40000, 20.0, rng=3)
    p = m.probability_of_purchases(np.arange(4), 20.0)
    freq = np.bincount(sim.frequency.astype(int), minlength=4)[:4] / 40000
    assert np.all(np.abs(freq - p) < 4 * np.sqrt(p * (1 - p) / 40000) + 1e-4)


def test_fit_raises_convergence_error_when_optimizer_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        class Res:
            x = np.log(np.asarray([1.0, 1.0, 1.0, 1.0]))
            success = False
            message = "ABNORMAL: simulated failure"
            nit = 3

        return Res()

    from scipy import optimize  # _numeric imports it inside the fit, from this module

    monkeypatch.setattr(optimize, "minimize", broken)
    with pytest.raises(ConvergenceError, match="simulated failure"):
        fit_bgnbd([0, 1, 2, 5], [0, 3, 5, 9], [10, 10, 10, 10])


def test_fit_raises_convergence_error_when_the_data_cannot_identify_the_model() -> None:
    # one customer: the likelihood keeps rising as the dropout parameters grow
    with pytest.raises(ConvergenceError, match=r"BG/NBD: the likelihood has no finite maximum"):
        fit_bgnbd([3], [2.0], [5.0])
    # identical spends: no heterogeneity for the Gamma-Gamma mixing distribution
    with pytest.raises(
        ConvergenceError, match=r"Gamma-Gamma: the likelihood has no finite maximum"
    ):
        fit_gamma_gamma([1, 1], [5.0, 5.0])


def test_fit_raises_convergence_error_on_nonfinite_start() -> None:
    with pytest.raises(ConvergenceError, match="not finite at the starting values"):
        fit_bgnbd([0, 1, 2], [0, 3, 5], [10, 10, 10], initial={"r": 1e300, "alpha": 1e-300})


def test_gamma_gamma_warns_on_correlated_frequency_and_spend() -> None:
    rng = np.random.default_rng(0)
    x = rng.integers(1, 11, 600).astype(float)
    spend = rng.gamma(6.0, (20.0 + 4.0 * x) / 6.0)  # mean spend grows with frequency
    with pytest.warns(
        FitWarning, match=r"correlated \(Pearson 0\.546, beyond max_correlation 0\.3\)"
    ):
        gg = fit_gamma_gamma(x, spend)
    assert gg.frequency_spend_correlation == pytest.approx(0.546, abs=5e-4)
    # a looser limit accepts the same data silently
    fit_gamma_gamma(x, spend, max_correlation=0.6)


# ---------------------------------------------------------------------------
# 6. CLV and spend
# ---------------------------------------------------------------------------


def test_clv_is_the_discounted_sum_of_period_purchases(cdnow_bgnbd: BGNBDModel) -> None:
    m = cdnow_bgnbd
    x, tx, big_t = np.array([0.0, 2.0, 7.0]), np.array([0.0, 30.43, 35.0]), np.array([38.86] * 3)
    spend = np.array([35.0, 24.66, 40.0])
    month = 52.0 / 12.0
    clv = m.customer_lifetime_value(
        x, tx, big_t, spend, horizon=12, discount_rate=0.01, margin=0.3, period=month
    )
    cum = np.stack([m.conditional_expected_purchases(k * month, x, tx, big_t) for k in range(13)])
    manual = 0.3 * spend * (np.diff(cum, axis=0) / 1.01 ** np.arange(1, 13)[:, None]).sum(axis=0)
    np.testing.assert_allclose(clv, manual, rtol=1e-12)
    # without discounting: margin x spend x expected purchases over the horizon
    flat = m.customer_lifetime_value(
        x, tx, big_t, spend, horizon=12, discount_rate=0.0, period=month
    )
    np.testing.assert_allclose(flat, spend * cum[-1], rtol=1e-12)
    assert np.all(clv < flat)


def test_conditional_expected_spend_shrinks_towards_population_mean() -> None:
    gg = GammaGammaModel.from_params({"p": 6.25, "q": 3.74, "gamma": 15.44})
    pop = gg.expected_spend()
    z = gg.conditional_expected_spend([0, 1, 10, 100], [np.nan, 80.0, 80.0, 80.0])
    assert float(z[0]) == pytest.approx(pop)
    assert pop < z[1] < z[2] < z[3] < 80.0
    assert (
        GammaGammaModel.from_params({"p": 1.0, "q": 0.5, "gamma": 2.0}).expected_spend() == np.inf
    )


# ---------------------------------------------------------------------------
# 7. The summary
# ---------------------------------------------------------------------------


@given(log=transaction_logs(kind="datetime"))
def test_summary_counts_purchase_days(log: TransactionLog) -> None:
    # the returns rule: negative amounts are netted into value but are never purchases
    purchase = log.amount >= 0
    if not purchase.any():
        with pytest.raises(EmptyInputError, match="no purchase"):
            rfm_summary(log, unit="day")
        return
    s = rfm_summary(log, unit="day")
    day = log.period_index("day")
    ids, freq, value_first, total = [], [], [], []
    for i in range(log.n_customers):
        mine = log.customer_code == i
        days = np.unique(day[mine & purchase])
        if len(days) == 0:
            continue  # returns only: left out
        ids.append(log.customer_labels[i])
        freq.append(len(days) - 1)
        value_first.append(log.amount[mine & (day == days[0])].sum())
        total.append(log.amount[mine].sum())
    np.testing.assert_array_equal(s.customer_id, np.asarray(ids, dtype=object))
    np.testing.assert_array_equal(s.frequency, freq)
    assert s.n_customers_returns_only == log.n_customers - len(ids)
    assert s.n_returns == int(
        np.count_nonzero(~purchase & np.isin(log.customer_labels[log.customer_code], ids))
    )
    assert np.all(s.recency <= s.T)
    assert np.all(s.recency[s.frequency == 0] == 0)
    assert np.all(np.isnan(s.monetary_value[s.frequency == 0]))  # type: ignore[index]
    # recency and T in whole days (dates without time of day)
    np.testing.assert_array_equal(s.recency, np.round(s.recency))
    # row order does not matter
    rev = log.take(np.arange(log.n_rows)[::-1])
    s2 = rfm_summary(rev, unit="day")
    np.testing.assert_array_equal(s2.frequency, s.frequency)
    np.testing.assert_array_equal(s2.T, s.T)
    np.testing.assert_allclose(s2.monetary_value, s.monetary_value)  # type: ignore[arg-type]
    # value of repeat buyers: the first purchase day's net + frequency x mean repeat value
    # = net value (returns on other days included); without repeat purchases there is no
    # mean repeat value (NaN)
    rep = s.frequency > 0
    repeat = s.frequency[rep] * s.monetary_value[rep]  # type: ignore[index]
    np.testing.assert_allclose(
        np.asarray(value_first)[rep] + repeat, np.asarray(total)[rep], atol=1e-6
    )
    c = s.compressed()
    assert c.n_customers == len(s)


@given(log=transaction_logs(kind="datetime"), cut=st.integers(0, 400))
def test_calibration_and_holdout_add_up(log: TransactionLog, cut: int) -> None:
    first = np.datetime64("2023-01-01", "D")
    end = log.time.max().astype("datetime64[D]")
    # returns are not purchases: the calibration starts at the first purchase, not the first row
    assume(bool(log.is_purchase.any()))
    first_purchase = log.time[log.is_purchase].min().astype("datetime64[D]")
    cal_end = max(first + np.timedelta64(cut, "D"), first_purchase)
    if cal_end > end:
        cal_end = end
    whole = rfm_summary(log, unit="day")
    split = rfm_summary(log, unit="day", calibration_end=cal_end, observation_end=end)
    assert split.holdout_frequency is not None
    keep = np.isin(whole.customer_id, split.customer_id)
    # purchase days in calibration + holdout = purchase days overall
    np.testing.assert_array_equal(
        split.frequency + 1 + split.holdout_frequency, whole.frequency[keep] + 1
    )
    assert split.n_customers_after_calibration == int((~keep).sum())
    assert split.holdout_duration == pytest.approx(float((end - cal_end) / np.timedelta64(1, "D")))


def test_summary_of_numeric_log_without_merging() -> None:
    log = TransactionLog.from_arrays(
        customer_id=[1, 1, 1, 2], time=[0.5, 2.0, 2.0, 3.0], amount=[1.0, 2.0, 3.0, 4.0]
    )
    s = rfm_summary(log, observation_end=10.0)
    assert s.period is None
    assert s.frequency.tolist() == [1.0, 0.0]  # identical instants are one purchase
    assert s.recency.tolist() == [1.5, 0.0]
    assert s.T.tolist() == [9.5, 7.0]
    assert s.monetary_value is not None
    assert s.monetary_value[0] == 5.0
    # periods of length 2 from the first time (0.5): 0.5 and 2.0 fall in one period
    s2 = rfm_summary(log, observation_end=10.0, period=2.0, unit=2.0)
    assert s2.frequency.tolist() == [0.0, 0.0]
    assert s2.T.tolist() == [4.0, 3.0]


def test_summary_months_and_rows_after_end() -> None:
    log = TransactionLog.from_arrays(
        customer_id=["a", "a", "a", "b"],
        time=["2024-01-03", "2024-01-30", "2024-03-05", "2024-06-01"],
        amount=[1.0, 2.0, 3.0, 4.0],
    )
    s = rfm_summary(log, unit="month", period="month", observation_end="2024-04-15")
    assert s.frequency.tolist() == [1.0]  # January merged, March is one repeat month
    assert s.recency.tolist() == [2.0]
    assert s.T.tolist() == [3.0]
    assert s.n_rows_after_end == 1


# ---------------------------------------------------------------------------
# 8. Diagnostics
# ---------------------------------------------------------------------------


def test_diagnostics_on_cdnow(cdnow: BTYDSummary, cdnow_bgnbd: BGNBDModel) -> None:
    hist = repeat_purchase_histogram(cdnow_bgnbd, cdnow, max_frequency=7)
    assert float(hist.actual.sum()) == pytest.approx(2357)
    assert float(hist.expected.sum()) == pytest.approx(2357)
    # FHL (2005, fig. 2): the model tracks the histogram closely (1,411 zeros in the data)
    assert hist.actual[0] == 1411
    assert np.all(np.abs(hist.expected - hist.actual) < 0.15 * hist.actual + 25)
    comp = calibration_holdout_comparison(cdnow_bgnbd, cdnow, max_frequency=7)
    assert float(comp.n_customers.sum()) == 2357
    # FHL (2005, fig. 4): conditional expectations track the holdout means
    assert comp.mean_absolute_error() < 0.3
    assert np.all(np.diff(comp.predicted) > 0)
    fr = frequency_recency_matrix(
        cdnow_bgnbd, 38.86, quantity="probability_alive", max_frequency=10, n_recency=11
    )
    assert fr.values.shape == (11, 11)
    assert np.all(np.isnan(fr.values[0, 1:]))
    assert fr.values[0, 0] == 1.0
    ok = fr.values[1:]
    assert np.all((ok >= 0) & (ok <= 1))
    # for a given frequency, the more recent the last purchase the more likely alive
    assert np.all(np.diff(ok, axis=1) > 0)
    ep = frequency_recency_matrix(cdnow_bgnbd, 38.86, t=10.0)
    assert np.all(ep.values[1:, -1][1:] > ep.values[1:, -1][:-1])


def test_frequency_recency_matrix_for_bgbb() -> None:
    m = BGBBModel.from_params({"alpha": 1.204, "beta": 0.750, "gamma": 0.657, "delta": 2.783})
    fr = frequency_recency_matrix(m, 6, quantity="probability_alive", max_frequency=6)
    assert fr.recency.tolist() == [0, 1, 2, 3, 4, 5, 6]
    assert np.isnan(fr.values[3, 2])  # 3 transactions cannot end at opportunity 2
    assert not np.isnan(fr.values[3, 3])


# ---------------------------------------------------------------------------
# 9. Bad inputs
# ---------------------------------------------------------------------------

GOOD = {"frequency": [0, 1, 2], "recency": [0.0, 2.0, 5.0], "T": [6.0, 6.0, 6.0]}


def _with(**kw: Any) -> dict[str, Any]:
    return {**GOOD, **kw}


BAD_FITS = [
    (
        "recency>T",
        fit_bgnbd,
        _with(recency=[0.0, 7.0, 5.0]),
        {},
        InvalidInputError,
        r"recency must be <= T, got recency 7\.0 > T 6\.0 at row 1",
    ),
    (
        "negative-frequency",
        fit_bgnbd,
        _with(frequency=[0, -1, 2]),
        {},
        InvalidInputError,
        r"frequency must be >= 0, got -1\.0 at row 1",
    ),
    (
        "non-integer-frequency",
        fit_mbgnbd,
        _with(frequency=[0, 1.5, 2]),
        {},
        InvalidInputError,
        r"frequency must be whole numbers, got 1\.5 at row 1",
    ),
    (
        "nan-recency",
        fit_bgnbd,
        _with(recency=[0.0, np.nan, 5.0]),
        {},
        InvalidInputError,
        r"recency must be finite, got nan at row 1",
    ),
    (
        "inf-T",
        fit_bgnbd,
        _with(T=[6.0, np.inf, 6.0]),
        {},
        InvalidInputError,
        r"T must be finite, got inf at row 1",
    ),
    (
        "empty",
        fit_bgnbd,
        {"frequency": [], "recency": [], "T": []},
        {},
        EmptyInputError,
        r"frequency is empty",
    ),
    (
        "zero-weight",
        fit_bgnbd,
        GOOD,
        {"weights": [1.0, 0.0, 2.0]},
        InvalidInputError,
        r"weights must be > 0, got 0\.0 at row 1",
    ),
    (
        "weights-length",
        fit_bgnbd,
        GOOD,
        {"weights": [1.0, 2.0]},
        InvalidInputError,
        r"weights has 2 values but the data has 3 rows",
    ),
    ("lengths", fit_bgnbd, _with(T=[6.0, 6.0]), {}, InvalidInputError, r"inconsistent lengths"),
    (
        "recency-without-repeat",
        fit_bgnbd,
        _with(recency=[1.0, 2.0, 5.0]),
        {},
        InvalidInputError,
        r"recency must be 0 where frequency is 0, got recency 1\.0 at row 0",
    ),
    (
        "no-repeat-purchases",
        fit_bgnbd,
        _with(frequency=[0, 0, 0], recency=[0.0, 0.0, 0.0]),
        {},
        InvalidInputError,
        r"frequency is 0 for all 3 rows: without repeat purchases",
    ),
    (
        "string-frequency",
        fit_bgnbd,
        _with(frequency="abc"),
        {},
        InvalidTypeError,
        r"frequency must be numeric",
    ),
    (
        "unknown-initial",
        fit_bgnbd,
        GOOD,
        {"initial": {"s": 1.0}},
        InvalidInputError,
        r"initial has unknown parameter 's'",
    ),
    (
        "bgbb-fractional-T",
        fit_bgbb,
        {"frequency": [0, 1], "recency": [0, 1], "T": [6, 6.5]},
        {},
        InvalidInputError,
        r"T must be whole numbers, got 6\.5 at row 1",
    ),
    (
        "bgbb-frequency>recency",
        fit_bgbb,
        {"frequency": [0, 3], "recency": [0, 2], "T": [6, 6]},
        {},
        InvalidInputError,
        r"frequency must be <= recency .* at row 1",
    ),
    (
        "bgbb-negative-frequency",
        fit_bgbb,
        {"frequency": [0, -1], "recency": [0, 2], "T": [6, 6]},
        {},
        InvalidInputError,
        r"frequency must be >= 0",
    ),
]


@pytest.mark.parametrize(
    ("fit", "kwargs", "extra", "error", "match"),
    [pytest.param(*row[1:], id=row[0]) for row in BAD_FITS],
)
def test_bad_fit_inputs(
    fit: Any, kwargs: dict[str, Any], extra: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        fit(kwargs["frequency"], kwargs["recency"], kwargs["T"], **extra)


BAD_OTHER = [
    (
        "gg-zero-frequency",
        lambda: fit_gamma_gamma([0, 1], [10.0, 12.0]),
        InvalidInputError,
        r"frequency must be >= 1, got 0\.0 at row 0; the Gamma-Gamma model needs repeat buyers",
    ),
    (
        "gg-negative-spend",
        lambda: fit_gamma_gamma([1, 2], [10.0, -1.0]),
        InvalidInputError,
        r"monetary_value must be > 0, got -1\.0 at row 1",
    ),
    (
        "gg-nan-spend",
        lambda: fit_gamma_gamma([1, 2], [10.0, np.nan]),
        InvalidInputError,
        r"monetary_value must be finite, got nan at row 1",
    ),
    (
        "gg-zero-weight",
        lambda: fit_gamma_gamma([1, 2], [10.0, 11.0], weights=[0, 1]),
        InvalidInputError,
        r"weights must be > 0, got 0\.0 at row 0",
    ),
    (
        "gg-correlation-limit",
        lambda: fit_gamma_gamma([1, 2], [10.0, 11.0], max_correlation=2.0),
        InvalidInputError,
        r"max_correlation must be in \[0, 1\], got 2\.0",
    ),
    (
        "summary-not-a-log",
        lambda: rfm_summary([1, 2, 3]),
        InvalidTypeError,
        r"log must be a TransactionLog or a dataframe, got list",
    ),
    (
        "summary-calibration-after-end",
        lambda: rfm_summary(_LOG, calibration_end="2024-03-01", observation_end="2024-02-01"),
        InvalidInputError,
        r"calibration_end '2024-03-01' is after observation_end",
    ),
    (
        "summary-calibration-before-first",
        lambda: rfm_summary(_LOG, calibration_end="2023-03-01"),
        InvalidInputError,
        r"calibration_end '2023-03-01' is before the first purchase",
    ),
    (
        "summary-bad-unit",
        lambda: rfm_summary(_LOG, unit="fortnight"),
        InvalidInputError,
        r"unit must be one of",
    ),
    (
        "summary-end-before-first",
        lambda: rfm_summary(_LOG, observation_end="2023-01-01"),
        InvalidInputError,
        r"observation_end '2023-01-01' is before the first purchase",
    ),
    (
        "predict-negative-t",
        lambda: _M.expected_purchases(-1.0),
        InvalidInputError,
        r"t must be >= 0, got -1\.0",
    ),
    (
        "predict-recency>T",
        lambda: _M.probability_alive([1, 2], [3.0, 9.0], [5.0, 5.0]),
        InvalidInputError,
        r"recency must be <= T, got recency 9\.0 > T 5\.0 at row 1",
    ),
    (
        "predict-fractional-n",
        lambda: _M.probability_of_purchases(1.5, 3.0),
        InvalidInputError,
        r"n must be a whole number, got 1\.5",
    ),
    (
        "clv-horizon",
        lambda: _M.customer_lifetime_value(1, 2.0, 5.0, 10.0, horizon=0, discount_rate=0.1),
        InvalidInputError,
        r"horizon must be >= 1, got 0",
    ),
    (
        "clv-discount",
        lambda: _M.customer_lifetime_value(1, 2.0, 5.0, 10.0, horizon=3, discount_rate=-1.0),
        InvalidInputError,
        r"discount_rate must be > -1, got -1\.0",
    ),
    (
        "clv-bgbb-period",
        lambda: _B.customer_lifetime_value(1, 2, 5, 10.0, horizon=3, discount_rate=0.1, period=0.5),
        InvalidInputError,
        r"period must be a whole number of opportunities",
    ),
    (
        "from-params-missing",
        lambda: BGNBDModel.from_params({"r": 1.0}),
        InvalidInputError,
        r"params must name exactly",
    ),
    (
        "from-params-negative",
        lambda: BGNBDModel.from_params({"r": 1.0, "alpha": -1.0, "a": 1.0, "b": 1.0}),
        InvalidInputError,
        r"params\['alpha'\] must be > 0, got -1\.0",
    ),
    (
        "simulate-T-length",
        lambda: _M.simulate(3, [1.0, 2.0]),
        InvalidInputError,
        r"T has 2 values but n_customers is 3",
    ),
    (
        "simulate-rng",
        lambda: _M.simulate(3, 1.0, rng="seed"),
        InvalidTypeError,
        r"rng must be a numpy.random.Generator",
    ),
    (
        "matrix-model",
        lambda: frequency_recency_matrix(
            GammaGammaModel.from_params({"p": 1.0, "q": 2.0, "gamma": 1.0}), 5.0
        ),
        InvalidTypeError,
        r"model must be a fitted BG/NBD",
    ),
    (
        "matrix-quantity",
        lambda: frequency_recency_matrix(_M, 5.0, quantity="clv"),
        InvalidInputError,
        r"quantity must be one of",
    ),
    (
        "holdout-missing",
        lambda: calibration_holdout_comparison(_M, rfm_summary(_LOG)),
        InvalidInputError,
        r"summary has no holdout window",
    ),
]

_LOG = TransactionLog.from_arrays(
    customer_id=[1, 1, 2], time=["2024-01-01", "2024-01-20", "2024-01-10"], amount=[5.0, 6.0, 7.0]
)
_M = BGNBDModel.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
_B = BGBBModel.from_params({"alpha": 1.204, "beta": 0.750, "gamma": 0.657, "delta": 2.783})


@pytest.mark.parametrize(
    ("call", "error", "match"), [pytest.param(*row[1:], id=row[0]) for row in BAD_OTHER]
)
def test_bad_inputs(call: Any, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        call()


def test_inputs_are_not_mutated() -> None:
    sim = _M.simulate(300, 30.0, rng=8)
    x, tx, big_t = np.array(sim.frequency), np.array(sim.recency), np.array(sim.T)
    copies = (x.copy(), tx.copy(), big_t.copy())
    _M.conditional_expected_purchases(3.0, x, tx, big_t)
    _M.customer_lifetime_value(x, tx, big_t, 10.0, horizon=3, discount_rate=0.01)
    fit_bgnbd(x, tx, big_t)
    for a, b in zip((x, tx, big_t), copies, strict=True):
        np.testing.assert_array_equal(a, b)


def test_fitted_models_are_frozen(cdnow_bgnbd: BGNBDModel) -> None:
    with pytest.raises(AttributeError):
        cdnow_bgnbd.log_likelihood = 0.0  # type: ignore[misc]
    with pytest.raises(TypeError):
        cdnow_bgnbd.params["r"] = 1.0  # type: ignore[index]
    assert not cdnow_bgnbd.covariance.flags.writeable
    assert "r=0.2426" in repr(cdnow_bgnbd)


# ---------------------------------------------------------------------------
# 10. The Pareto/NBD wrapper (its mathematics are tested in test_pareto_nbd.py)
# ---------------------------------------------------------------------------


def test_pareto_nbd_cdnow_published(cdnow: BTYDSummary) -> None:
    # Fader & Hardie (2005), "A note on implementing the Pareto/NBD model in MATLAB":
    # on the CDNOW sample r = 0.553, alpha = 10.578, s = 0.606, beta = 11.669,
    # LL = -9594.98.
    m = fit_pareto_nbd(cdnow.frequency, cdnow.recency, cdnow.T)
    assert [_sig3(m.params[k]) for k in ("r", "alpha", "s", "beta")] == [0.553, 10.6, 0.606, 11.7]
    assert m.log_likelihood == pytest.approx(-9594.98, abs=0.01)
    assert m.n_customers == 2357
    # the wrapper forwards to the private module with the same parameters
    theta = np.asarray([m.params[k] for k in ("r", "alpha", "s", "beta")])
    x, tx, big_t = cdnow.frequency[:50], cdnow.recency[:50], cdnow.T[:50]
    np.testing.assert_array_equal(
        m.probability_alive(x, tx, big_t), _pareto_nbd.probability_alive(theta, x, tx, big_t)
    )
    np.testing.assert_array_equal(
        m.conditional_expected_purchases(39.0, x, tx, big_t),
        _pareto_nbd.conditional_expected_purchases(theta, 39.0, x, tx, big_t),
    )
    assert float(m.customer_log_likelihood(x, tx, big_t) @ np.ones(50)) == pytest.approx(
        float(_pareto_nbd.log_likelihood(theta, x, tx, big_t).sum())
    )
    # shared method names: the diagnostics and CLV work on any repeat-purchase model
    hist = repeat_purchase_histogram(m, cdnow)
    assert float(hist.expected.sum()) == pytest.approx(2357)
    clv = m.customer_lifetime_value(x, tx, big_t, 30.0, horizon=3, discount_rate=0.01, period=4.0)
    assert np.all(clv >= 0)
    # a customer observed just now (T = recency) is certainly alive
    assert float(m.probability_alive(0, 0.0, 0.0)) == pytest.approx(1.0)
    assert float(m.probability_alive(5, 20.0, 20.0)) == pytest.approx(1.0)
    sim = m.simulate(200, 39.0, rng=4)
    assert np.all(sim.recency <= sim.T)


def test_pareto_nbd_bad_inputs() -> None:
    with pytest.raises(
        InvalidInputError, match=r"recency must be <= T, got recency 7\.0 > T 6\.0 at row 1"
    ):
        fit_pareto_nbd([0, 1], [0.0, 7.0], [6.0, 6.0])
    with pytest.raises(InvalidInputError, match=r"weights must be > 0"):
        fit_pareto_nbd([0, 1], [0.0, 5.0], [6.0, 6.0], weights=[1.0, 0.0])


# ---------------------------------------------------------------------------
# 11. Figures (the plot extra)
# ---------------------------------------------------------------------------


def test_diagnostic_figures(cdnow: BTYDSummary, cdnow_bgnbd: BGNBDModel) -> None:
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    from custrel.plot import (
        plot_calibration_holdout,
        plot_frequency_recency_matrix,
        plot_repeat_purchases,
    )

    hist = repeat_purchase_histogram(cdnow_bgnbd, cdnow)
    fig = plot_repeat_purchases(hist)
    bars = fig.axes[0].patches
    assert len(bars) == 2 * len(hist.frequency)
    assert bars[0].get_height() == pytest.approx(1411)
    assert fig.axes[0].get_xticklabels()[-1].get_text() == "7+"
    comp = calibration_holdout_comparison(cdnow_bgnbd, cdnow)
    fig2 = plot_calibration_holdout(comp)
    np.testing.assert_allclose(fig2.axes[0].lines[1].get_ydata(), comp.predicted)
    fr = frequency_recency_matrix(cdnow_bgnbd, 38.86, quantity="probability_alive", max_frequency=5)
    fig3 = plot_frequency_recency_matrix(fr)
    assert "P(alive)" in fig3.axes[0].get_title()
    for f in (fig, fig2, fig3):
        plt.close(f)
    with pytest.raises(InvalidTypeError, match="histogram must be a RepeatPurchaseHistogram"):
        plot_repeat_purchases(comp)  # type: ignore[arg-type]
    with pytest.raises(InvalidTypeError, match="matrix must be a FrequencyRecencyMatrix"):
        plot_frequency_recency_matrix(hist)  # type: ignore[arg-type]
    with pytest.raises(InvalidTypeError, match="comparison must be a HoldoutComparison"):
        plot_calibration_holdout(fr)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------
# Issue 10 and 11 reproductions: finite answers, budgets, error types, rfm_summary
# ---------------------------------------------------------------------------


def test_bgnbd_fit_on_its_own_simulation_predicts_finite_values() -> None:
    # issue 10: a fit on data simulated from BG/NBD itself (a = 19.3, b = 0.424) returned
    # a model (a near 1e6) that predicted NaN for all 300 customers
    truth = BGNBDModel.from_params({"r": 1.0, "alpha": 0.116, "a": 19.3, "b": 0.424})
    sim = truth.simulate(300, 10.0, rng=815)
    m = fit_bgnbd(sim.frequency, sim.recency, sim.T)
    assert m.params["a"] > 1e4  # the regime the closed form cannot evaluate
    cond = m.conditional_expected_purchases(10.0, sim.frequency, sim.recency, sim.T)
    assert np.all(np.isfinite(cond))
    assert np.all(cond >= 0.0)
    e = m.expected_purchases([1.0, 10.0, 100.0])
    assert np.all(np.isfinite(e))
    assert np.all(np.diff(e) > 0)
    clv = m.customer_lifetime_value(
        sim.frequency, sim.recency, sim.T, 20.0, horizon=12, discount_rate=0.01
    )
    assert np.all(np.isfinite(clv))
    # nearly every customer keeps buying about 1/p ~ 1 more time: E[X(inf)] = (a+b-1)/(a-1)
    a, b = m.params["a"], m.params["b"]
    assert float(m.expected_purchases(1e6)) == pytest.approx((a + b - 1) / (a - 1), rel=1e-6)


def test_nbd_quadrature_agrees_with_the_closed_form_where_both_hold() -> None:
    from custrel.btyd._nbd import _nbd_future_closed, _nbd_future_quadrature

    rng = np.random.default_rng(3)
    n = 400
    r, alpha, b = np.exp(rng.uniform(-3, 2.5, (3, n)))
    a = np.exp(rng.uniform(-2, 2.5, n))
    a = np.where(np.abs(a - 1.0) < 0.05, a + 0.1, a)
    t = np.exp(rng.uniform(-3, 6, n))
    ok = (a + b - 1.0 > 0.5) & (np.abs(a + b - 1.0 - r) < 20)
    closed = _nbd_future_closed(t[ok], r[ok], alpha[ok], a[ok], b[ok])
    quad = _nbd_future_quadrature(np.log(t[ok] / alpha[ok]), r[ok], a[ok], b[ok])
    np.testing.assert_allclose(quad, closed, rtol=1e-9)


def test_bgbb_probability_alive_of_a_fit_is_a_probability() -> None:
    # issue 10: f = [299, 911]; fit_bgbb(f, f, f) gave P(alive) = 1.00000015. A customer
    # who bought at every opportunity up to n is alive with (delta+n)/(gamma+delta+n)
    f = [299.0, 911.0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FitWarning)
        m = fit_bgbb(f, f, f)
    pa = m.probability_alive(f, f, f)
    g, d = m.params["gamma"], m.params["delta"]
    np.testing.assert_allclose(pa, [(d + n) / (g + d + n) for n in f], rtol=1e-12)
    assert np.all(pa <= 1.0)


def test_gamma_gamma_q_below_one_raises_or_warns() -> None:
    truth = GammaGammaModel.from_params({"p": 2.0, "q": 0.7, "gamma": 10.0})
    x = np.random.default_rng(1).integers(1, 6, 2000).astype(float)
    spend = truth.simulate(x, rng=1)
    with pytest.raises(ConvergenceError, match=r"q = 0\.667 is <= 1.*on_infinite_mean='warn'"):
        fit_gamma_gamma(x, spend, max_correlation=1.0)
    with pytest.warns(FitWarning, match=r"q = 0\.667 is <= 1"):
        gg = fit_gamma_gamma(x, spend, max_correlation=1.0, on_infinite_mean="warn")
    assert gg.expected_spend() == np.inf


def test_clv_spend_per_customer_and_budgeted_horizon() -> None:
    got = _M.customer_lifetime_value(
        [0, 2], [0.0, 30.43], 38.86, [35.17, 24.66], horizon=3, discount_rate=0.01
    )
    one = _M.customer_lifetime_value(2, 30.43, 38.86, 24.66, horizon=3, discount_rate=0.01)
    assert float(got[1]) == pytest.approx(float(one))


def test_bgbb_simulation_recovers_its_parameters() -> None:
    # the simulation draws the last purchase and the earlier ones without a loop over
    # opportunities; a fit on 100,000 simulated donors finds the parameters again
    truth = {"alpha": 1.204, "beta": 0.750, "gamma": 0.657, "delta": 2.783}
    sim = BGBBModel.from_params(truth).simulate(100_000, 6, rng=5).compressed()
    m = fit_bgbb(sim.frequency, sim.recency, sim.T, weights=sim.weights)
    for k, val in truth.items():
        assert m.params[k] == pytest.approx(val, rel=0.15)


_P = BGNBDModel.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
_PN = _pareto_nbd  # the module (its ParetoNBDModel lives in custrel)


def _pareto() -> Any:
    from custrel import ParetoNBDModel

    return ParetoNBDModel.from_params({"r": 0.55, "alpha": 10.6, "s": 0.61, "beta": 11.7})


BAD_ISSUE_10 = [
    (
        "pareto-clv-horizon-10**12",
        lambda: _pareto().customer_lifetime_value(
            [1], [2.0], [5.0], 10.0, horizon=10**12, discount_rate=0.01
        ),
        InvalidInputError,
        (
            r"the CLV horizon would need 1,000,000,000,000, more than the budget of 1,000,000 "
            r"\(set CUSTREL_MAX_PERIODS to raise the budget\): horizon=1000000000000"
        ),
    ),
    (
        "clv-horizon-beyond-any-int",
        lambda: _M.customer_lifetime_value(1, 2.0, 5.0, 10.0, horizon=10**30, discount_rate=0.0),
        InvalidInputError,
        r"the CLV horizon would need 1e\+30",
    ),
    (
        "bgbb-simulate-T-1e300",
        lambda: _B.simulate(3, T=1e300),
        InvalidInputError,
        r"the simulated opportunities would need 1e\+300, more than the budget .*: T=1e\+300",
    ),
    (
        "simulate-n-customers-10**30",
        lambda: _M.simulate(10**30, 5.0),
        InvalidInputError,
        r"the simulation would need 1e\+30.*n_customers=",
    ),
    (
        "simulate-T-too-long-for-poisson",
        lambda: _M.simulate(5, 1e300, rng=1),
        InvalidInputError,
        r"T 1e\+300 at row \d gives an expected .* purchases in the simulation",
    ),
    (
        "simulate-negative-seed",
        lambda: _B.simulate(5, 6, rng=-1),
        InvalidInputError,
        r"rng must be .*got -1",
    ),
    (
        "clv-spend-wrong-length",
        lambda: _M.customer_lifetime_value(
            [1, 2], [2.0, 3.0], [5.0, 5.0], [10.0, 20.0, 30.0], horizon=3, discount_rate=0.01
        ),
        InvalidInputError,
        r"spend has 3 values but there are 2 customers",
    ),
    (
        "conditional-t-wrong-length",
        lambda: _M.conditional_expected_purchases([1.0, 2.0], [1, 2, 3], [1.0, 1.0, 1.0], 5.0),
        InvalidInputError,
        r"t has 2 values but there are 3 customers",
    ),
    (
        "clv-negative-rate-overflows",
        lambda: _M.customer_lifetime_value(5, 4.0, 5.0, 10.0, horizon=2000, discount_rate=-0.5),
        InvalidInputError,
        r"discount_rate -0\.5 over horizon 2000 discounts by a factor beyond the float range",
    ),
    (
        "matrix-T-1e300",
        lambda: frequency_recency_matrix(_M, 1e300),
        InvalidInputError,
        r"the frequency x recency grid would need .*pass a smaller max_frequency",
    ),
    (
        "histogram-max-frequency-huge",
        lambda: repeat_purchase_histogram(_M, rfm_summary(_LOG), max_frequency=10**12),
        InvalidInputError,
        r"the histogram bins would need 1,000,000,000,001.*max_frequency=1000000000000",
    ),
    (
        "holdout-max-frequency-huge",
        lambda: calibration_holdout_comparison(
            _M, rfm_summary(_LOG, calibration_end="2024-01-12"), max_frequency=10**30
        ),
        InvalidInputError,
        r"the frequency groups would need 1e\+30",
    ),
    (
        "bgbb-likelihood-terms",
        lambda: _B.customer_log_likelihood([1], [1], [10**12]),
        InvalidInputError,
        r"the BG/BB likelihood terms .* would need .*T - recency = 999999999999",
    ),
    (
        "gg-on-infinite-mean-unknown",
        lambda: fit_gamma_gamma([1, 2], [10.0, 12.0], on_infinite_mean="ignore"),
        InvalidInputError,
        r"on_infinite_mean must be one of 'raise', 'warn', got 'ignore'",
    ),
    (
        "summary-period-nan",
        lambda: rfm_summary(_LOG, period=float("nan")),
        InvalidInputError,
        r"period must be finite, got nan",
    ),
    (
        "summary-period-object-array",
        lambda: rfm_summary(_LOG, period=np.array([1, 2], dtype=object)),
        InvalidTypeError,
        r"period must be a period name, a number or None, got ndarray",
    ),
    (
        "summary-column-name-with-a-log",
        lambda: rfm_summary(_LOG, amount_col="amount"),
        InvalidInputError,
        r"amount_col names a dataframe column, but log is a TransactionLog",
    ),
    (
        "summary-returns-only",
        lambda: rfm_summary(
            TransactionLog.from_arrays(customer_id=[1, 2], time=[0.0, 1.0], amount=[-5.0, -1.0])
        ),
        EmptyInputError,
        r"log has no purchase: all 2 rows are returns or cancellations",
    ),
    (
        "pareto-start-not-finite-names-initial",
        lambda: fit_pareto_nbd([1, 2, 0], [1.0, 2.0, 0.0], [3.0, 3.0, 3.0], initial={"r": 1e300}),
        ConvergenceError,
        r"pass other starting values with initial=",
    ),
]


@pytest.mark.parametrize(
    ("call", "error", "match"), [pytest.param(*row[1:], id=row[0]) for row in BAD_ISSUE_10]
)
def test_issue_10_bad_inputs(call: Any, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        call()


def test_pareto_fit_without_interior_maximum_fails_fast() -> None:
    # found by the adversarial suite: on BG/NBD data the Pareto/NBD estimates of s and
    # beta run off together, where the continued fraction needed 1,000 steps per
    # element (30 s); the trapezoidal rule takes over for very large a
    truth = BGNBDModel.from_params({"r": 0.5, "alpha": 5.0, "a": 1.5, "b": 4.0})
    s = truth.simulate(200, T=52.0, rng=7)
    with pytest.raises(ConvergenceError, match="no interior maximum"):
        fit_pareto_nbd(
            s.frequency, s.recency, s.T, initial={"r": 0.5, "alpha": 5.0, "s": 0.5, "beta": 10.0}
        )


# -- issue 11: rfm_summary from dataframes, without money, with returns --------------------


def test_rfm_summary_buy_and_return_is_one_occasion_of_net_value_zero() -> None:
    log = TransactionLog.from_arrays(
        customer_id=["buyer", "buyer", "again", "again", "again", "refund"],
        time=[0.0, 0.0, 0.0, 2.0, 3.0, 1.0],
        amount=[30.0, -30.0, 10.0, 8.0, -8.0, -4.0],
    )
    s = rfm_summary(log, period=None, observation_end=5.0)
    assert s.customer_id.tolist() == ["again", "buyer"]
    # "buyer": one purchase occasion (net 0), no repeat; "again": the return at 3.0 is not
    # a purchase but nets the repeat value of 8 to 0
    np.testing.assert_array_equal(s.frequency, [1.0, 0.0])
    np.testing.assert_array_equal(s.recency, [2.0, 0.0])
    np.testing.assert_array_equal(s.T, [5.0, 5.0])
    np.testing.assert_array_equal(s.monetary_value, [0.0, np.nan])
    assert s.n_customers_returns_only == 1  # "refund"
    assert s.n_returns == 2


def test_rfm_summary_reads_dataframes_with_and_without_money() -> None:
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(
        {
            "cust": ["a", "a", "a", "b", "c"],
            "day": [0.0, 2.0, 5.0, 1.0, 4.0],
            "paid": [10.0, 4.0, 6.0, 3.0, -2.0],
        }
    )
    before = df.copy()
    s = rfm_summary(df, customer_col="cust", time_col="day", amount_col="paid", period=None)
    assert s.customer_id.tolist() == ["a", "b"]
    np.testing.assert_array_equal(s.frequency, [2.0, 0.0])
    np.testing.assert_array_equal(s.monetary_value, [5.0, np.nan])
    assert s.n_customers_returns_only == 1
    bare = rfm_summary(df, customer_col="cust", time_col="day", period=None)
    assert bare.monetary_value is None
    # without money every row is a purchase: "c" is a customer
    assert bare.customer_id.tolist() == ["a", "b", "c"]
    pd.testing.assert_frame_equal(df, before)
    # a frequency-only fit works on the summary without money
    sim = _M.simulate(500, 30.0, rng=3)
    money_free = pd.DataFrame(
        {"customer_id": np.repeat(np.arange(3), 2), "time": [0.0, 1.0, 0.0, 3.0, 0.0, 0.0]}
    )
    assert rfm_summary(money_free, period=None).monetary_value is None
    fit_bgnbd(sim.frequency, sim.recency, sim.T)


def test_rfm_summary_reads_polars() -> None:
    pl = pytest.importorskip("polars")
    df = pl.DataFrame(
        {"customer_id": [1, 1, 2], "time": [0.0, 3.0, 1.0], "amount": [5.0, 7.0, 1.0]}
    )
    s = rfm_summary(df, amount_col="amount", period=None)
    np.testing.assert_array_equal(s.frequency, [1.0, 0.0])
    np.testing.assert_array_equal(s.monetary_value, [7.0, np.nan])


def test_rfm_summary_of_a_log_without_money() -> None:
    log = TransactionLog.from_arrays(customer_id=[1, 1, 2], time=[0.0, 2.0, 1.0], amount=None)
    s = rfm_summary(log, period=None)
    assert s.monetary_value is None
    np.testing.assert_array_equal(s.frequency, [1.0, 0.0])
    assert s.compressed().n_customers == 2.0


# -- issue 10: huge counts and times, subnormal units (adversarial suite) -------------------


def _pareto_data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from custrel import ParetoNBDModel

    s = ParetoNBDModel.from_params({"r": 0.55, "alpha": 10.6, "s": 0.61, "beta": 11.7}).simulate(
        300, T=39.0, rng=11
    )
    return np.array(s.frequency), np.array(s.recency), np.array(s.T)


@pytest.mark.parametrize(
    ("fit", "match"),
    [
        pytest.param(
            lambda: fit_gamma_gamma(np.full(20, 1e300), np.arange(1.0, 21.0)),
            r"frequency must be <= 9\.0072e\+15, got 1e\+300 at row 0; .*2\*\*53",
            id="gamma-gamma-frequency-1e300",
        ),
        pytest.param(
            lambda: fit_pareto_nbd(np.r_[1e300, _pareto_data()[0][1:]], *_pareto_data()[1:]),
            r"frequency must be <= 9\.0072e\+15, got 1e\+300 at row 0",
            id="pareto-frequency-1e300",
        ),
    ],
)
def test_fits_refuse_counts_beyond_2_53(fit: Any, match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        fit()


def test_gamma_gamma_correlation_check_is_range_safe() -> None:
    # squares of 1e300 spends overflowed ("overflow encountered in square/dot")
    x = np.arange(1.0, 21.0)
    with pytest.raises(ConvergenceError):
        fit_gamma_gamma(x, np.full(20, 1e300))


@pytest.mark.parametrize("where", ["one", "all"])
def test_pareto_fit_with_huge_T_leaks_no_warning(where: str) -> None:
    f, r, T = _pareto_data()
    T = np.r_[1e300, T[1:]] if where == "one" else np.full_like(T, 1e300)
    ini = {"r": 0.5, "alpha": 5.0, "s": 0.5, "beta": 10.0}
    try:  # filterwarnings=error turns any leaked RuntimeWarning into a failure
        m = fit_pareto_nbd(f, r, T, initial=ini)
    except ConvergenceError:
        return
    assert all(np.isfinite(list(m.params.values())))


@pytest.mark.parametrize("unit", [5e-324, 1e-300])
def test_rfm_summary_refuses_a_unit_too_small_for_the_log(unit: float) -> None:
    log = TransactionLog.from_arrays(
        customer_id=["a", "a", "b"], time=[0.0, 3.0, 1.0], amount=[1.0, 2.0, 3.0]
    )
    with pytest.raises(InvalidInputError, match=r"unit=.* is too small for this log"):
        rfm_summary(log, unit=unit)
    assert rfm_summary(log, unit=1e-10).recency.tolist() == [3e10, 0.0]
