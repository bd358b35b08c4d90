"""Tests of the predictions of issue 13, item 5 (custrel.btyd._predictions).

Conditional P(Y(t) = n | history), DERT, P(alive) paths, the tracking table
and plot, new-customer predictions; for BG/NBD, MBG/NBD, Pareto/NBD,
GGompertz/NBD and BG/BB.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, special

from custrel import (
    BGBBModel,
    BGNBDModel,
    EmptyInputError,
    InvalidInputError,
    InvalidTypeError,
    MBGNBDModel,
    ParetoNBDModel,
    TransactionLog,
    load_cdnow,
    rfm_summary,
)
from custrel.btyd import _predictions as pr
from custrel.btyd._ggomnbd import GGompertzNBDModel
from custrel.btyd._predictions import AlivePath, TrackingResult
from strategies import transaction_logs

# Published CDNOW fits: BG/NBD and Pareto/NBD (Fader, Hardie & Lee 2005), GGompertz/NBD
# (CLVTools' optimum, issue 13); BG/BB on the donations data (Fader, Hardie & Shang 2010).
BG = BGNBDModel.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
MBG = MBGNBDModel.from_params({"r": 0.525, "alpha": 6.183, "a": 0.891, "b": 1.614})
PN = ParetoNBDModel.from_params({"r": 0.5534, "alpha": 10.5802, "s": 0.6061, "beta": 11.6562})
GG = GGompertzNBDModel.from_params(
    {"r": 0.55313, "alpha": 10.5758, "b": 0.0000011, "s": 0.60682, "beta": 0.000013}
)
GG_AGING = GGompertzNBDModel.from_params({"r": 0.6, "alpha": 8.0, "b": 0.05, "s": 1.2, "beta": 2.0})
BB = BGBBModel.from_params({"alpha": 1.204, "beta": 0.750, "gamma": 0.657, "delta": 2.783})

# (model, history (x, t_x, T), forecast t, largest n summed)
CASES = {
    "bgnbd": (BG, (2, 30.43, 38.86), 39.0, 400),
    "bgnbd-no-repeat": (BG, (0, 0.0, 38.86), 39.0, 400),
    "mbgnbd": (MBG, (2, 30.43, 38.86), 39.0, 400),
    "mbgnbd-no-repeat": (MBG, (0, 0.0, 38.86), 39.0, 400),
    "pnbd": (PN, (2, 30.43, 38.86), 39.0, 400),
    "pnbd-heavy": (PN, (40, 38.0, 38.86), 52.0, 900),
    "ggomnbd-ridge": (GG, (2, 30.43, 38.86), 39.0, 400),
    "ggomnbd-aging": (GG_AGING, (3, 20.0, 52.0), 39.0, 200),
    "bgbb": (BB, (3, 5, 6), 5, 5),
    "bgbb-long": (BB, (4, 6, 6), 20, 20),
}


@pytest.fixture(scope="module")
def cdnow_log(shared_data: Path) -> TransactionLog:
    return load_cdnow(shared_data / "CDNOW_sample.txt")


# ---------------------------------------------------------------------------
# 1. Conditional P(Y(t) = n | x, t_x, T)
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_conditional_pmf_sums_to_one_with_the_conditional_mean(case: str) -> None:
    model, hist, t, top = CASES[case]
    n = np.arange(top + 1)
    p = model.conditional_probability_of_purchases(n, t, *hist)
    assert np.all((p >= 0.0) & (p <= 1.0))
    assert p.sum() == pytest.approx(1.0, abs=1e-9)
    mean = float((n * p).sum())
    assert mean == pytest.approx(float(model.conditional_expected_purchases(t, *hist)), rel=1e-8)


def test_conditional_pmf_bgnbd_by_direct_integration() -> None:
    # Independent of the "active customer = new customer" argument: integrate the
    # individual-level model over the joint posterior of (lambda, p) (FHL 2005, eq. 3),
    # P(Y(t)=1 | lambda, p, alive) = (1-p) e^{-lt} lt + p (1 - e^{-lt})
    r, alpha, a, b = 0.243, 4.414, 0.793, 2.426
    x, tx, big_t, t = 2, 30.43, 38.86, 39.0

    def prior(lam: float, p: float) -> float:
        return float(
            np.exp(
                r * np.log(alpha)
                + (r - 1) * np.log(lam)
                - alpha * lam
                - special.gammaln(r)
                + (a - 1) * np.log(p)
                + (b - 1) * np.log1p(-p)
                - special.betaln(a, b)
            )
        )

    def alive_part(lam: float, p: float) -> float:
        return (1 - p) ** x * lam**x * np.exp(-lam * big_t)

    def dead_part(lam: float, p: float) -> float:
        return p * (1 - p) ** (x - 1) * lam**x * np.exp(-lam * tx)

    def given_alive(lam: float, p: float) -> float:
        lt = lam * t
        return (1 - p) * np.exp(-lt) * lt + p * (-np.expm1(-lt))

    opts = {"epsabs": 1e-13, "epsrel": 1e-11}
    num = integrate.dblquad(
        lambda lam, p: prior(lam, p) * alive_part(lam, p) * given_alive(lam, p),
        0, 1, 0, np.inf, **opts,
    )[0]  # fmt: skip
    den = integrate.dblquad(
        lambda lam, p: prior(lam, p) * (alive_part(lam, p) + dead_part(lam, p)),
        0, 1, 0, np.inf, **opts,
    )[0]  # fmt: skip
    got = float(BG.conditional_probability_of_purchases(1, t, x, tx, big_t))
    assert got == pytest.approx(num / den, rel=1e-6)


def test_conditional_pmf_pareto_nbd_zero_by_direct_integration() -> None:
    # P(Y(t)=0 | lambda, mu, history) from the individual-level Pareto/NBD: alive at T
    # with weight lambda^x e^{-(lambda+mu)T}; an active customer buys nothing in t with
    # probability e^{-(l+m)t} + m/(l+m)(1 - e^{-(l+m)t}); a dead one never buys.
    r, alpha, s, beta = 0.5534, 10.5802, 0.6061, 11.6562
    x, tx, big_t, t = 2, 30.43, 38.86, 39.0

    def prior(lam: float, mu: float) -> float:
        return float(
            np.exp(
                r * np.log(alpha) + (r - 1) * np.log(lam) - alpha * lam - special.gammaln(r)
                + s * np.log(beta) + (s - 1) * np.log(mu) - beta * mu - special.gammaln(s)
            )
        )  # fmt: skip

    def alive(lam: float, mu: float) -> float:
        return lam**x * np.exp(-(lam + mu) * big_t)

    def dead(lam: float, mu: float) -> float:
        k = lam + mu
        return lam**x * mu / k * (np.exp(-k * tx) - np.exp(-k * big_t))

    def none_if_alive(lam: float, mu: float) -> float:
        k = lam + mu
        return np.exp(-k * t) + mu / k * (-np.expm1(-k * t))

    opts = {"epsabs": 1e-14, "epsrel": 1e-11}
    num = integrate.dblquad(
        lambda mu, lam: prior(lam, mu) * (alive(lam, mu) * none_if_alive(lam, mu) + dead(lam, mu)),
        0, np.inf, 0, np.inf, **opts,
    )[0]  # fmt: skip
    den = integrate.dblquad(
        lambda mu, lam: prior(lam, mu) * (alive(lam, mu) + dead(lam, mu)),
        0, np.inf, 0, np.inf, **opts,
    )[0]  # fmt: skip
    got = float(PN.conditional_probability_of_purchases(0, t, x, tx, big_t))
    assert got == pytest.approx(num / den, rel=1e-6)


def test_conditional_pmf_of_a_zero_window_is_certain_zero() -> None:
    for model, hist, _, _ in CASES.values():
        p = model.conditional_probability_of_purchases([0, 1], 0, *hist)
        assert p.tolist() == pytest.approx([1.0, 0.0], abs=1e-12)


def test_conditional_pmf_at_the_start_is_the_new_customer_pmf() -> None:
    # a customer just born (x = 0, T = 0) is alive with the prior parameters (BG/NBD, Pareto)
    n = np.arange(6)
    for model in (BG, PN, GG_AGING):
        got = model.conditional_probability_of_purchases(n, 20.0, 0, 0.0, 0.0)
        np.testing.assert_allclose(got, model.probability_of_purchases(n, 20.0), rtol=1e-9)


def test_conditional_pmf_broadcasts_n_t_and_customers() -> None:
    p = BG.conditional_probability_of_purchases(1, [10.0, 20.0], [0, 2], [0.0, 30.43], 38.86)
    assert p.shape == (2,)
    assert p[0] == pytest.approx(
        float(BG.conditional_probability_of_purchases(1, 10.0, 0, 0, 38.86))
    )


# ---------------------------------------------------------------------------
# 2. DERT
# ---------------------------------------------------------------------------


def test_pareto_dert_against_the_published_formula_with_mpmath() -> None:
    # FHL 2005 ("RFM and CLV", eq. 2): alpha^r beta^s delta^(s-1) Gamma(r+x+1)
    # Psi(s, s; delta(beta+T)) / (Gamma(r) (alpha+T)^(r+x+1) L), written with P(alive)
    r, alpha, s, beta = 0.5534, 10.5802, 0.6061, 11.6562
    delta = float(np.log1p(0.15 / 52))
    x, tx, big_t = np.array([0.0, 2.0, 10.0]), np.array([0.0, 30.43, 38.0]), 38.86
    alive = PN.probability_alive(x, tx, big_t)
    want = [
        float(a) * (r + xi) / (alpha + big_t) * (beta + big_t) ** s * delta ** (s - 1)
        * float(mpmath.hyperu(s, s, delta * (beta + big_t)))
        for a, xi in zip(alive, x, strict=True)
    ]  # fmt: skip
    got = PN.discounted_expected_residual_transactions(x, tx, big_t, discount_rate=0.15 / 52)
    np.testing.assert_allclose(got, want, rtol=1e-12)


@pytest.mark.parametrize(
    ("s", "z"),
    [
        (0.01, 1e-10),
        (0.6061, 0.13),
        (1.0, 1.0),
        (2.0, 1e-6),
        (20.0, 0.5),
        (1000.0, 50.0),
        (3.0, 1e5),
    ],
)
def test_tricomi_integral_against_mpmath(s: float, z: float) -> None:
    # scipy.special.hyperu is off by 1e-8 at (s, z) = (1.01, 10) and overflows for s >= 20
    mpmath.mp.dps = 30
    want = (
        float(mpmath.hyperu(1, 2 - s, z))
        if s < 20
        else float(
            mpmath.quad(lambda u: mpmath.exp(-z * u) * (1 + u) ** (-s), [0, 1 / s, mpmath.inf])
        )
    )
    assert float(pr.gamma_laplace(s, z)) == pytest.approx(want, rel=1e-12)


def test_dert_quadrature_equals_the_pareto_closed_form() -> None:
    # the log-t trapezoid used for BG/NBD and GGompertz/NBD, checked where a closed form exists
    p = {"r": 0.5534, "alpha": 10.5802, "s": 0.6061, "beta": 11.6562}
    x, big_t = np.array([0.0, 2.0, 30.0]), np.array([38.86, 38.86, 5.0])
    for rate in (1e-4, 0.15 / 52, 0.1, 2.0):
        delta = float(np.log1p(rate))
        quad = pr._dert_by_quadrature("pnbd", pr.posterior("pnbd", p, x, x, big_t), delta, 3)
        closed = pr.pareto_nbd_dert(p["r"], p["alpha"], p["s"], p["beta"], x, big_t, 1.0, delta)
        np.testing.assert_allclose(quad, closed, rtol=1e-9)


def test_bgnbd_dert_against_a_fine_discounted_sum() -> None:
    delta = float(np.log1p(0.15 / 52))
    tt = np.linspace(0.0, 52.0 * 150, 150_001)
    cum = BG.conditional_expected_purchases(tt, 2, 30.43, 38.86)
    mid = 0.5 * (tt[1:] + tt[:-1])
    want = float((np.diff(cum) * np.exp(-delta * mid)).sum())
    got = float(
        BG.discounted_expected_residual_transactions(2, 30.43, 38.86, discount_rate=0.15 / 52)
    )
    assert got == pytest.approx(want, rel=1e-6)


def test_bgbb_dert_against_the_published_hypergeometric_form() -> None:
    # Fader, Hardie & Shang (2010), eq. 14: B(a+x+1, b+n-x)/B(a,b) B(g, d+n+1)/(B(g,d)(1+d))
    # 2F1(1, d+n+1; g+d+n+1; 1/(1+d)) / L
    al, be, ga, de = 1.204, 0.750, 0.657, 2.783
    rate = 0.1
    for x, tx, n in ((3, 5, 6), (0, 0, 6), (6, 6, 6)):
        log_lik = float(BB.customer_log_likelihood(x, tx, n))
        term = mpmath.exp(
            mpmath.log(mpmath.beta(al + x + 1, be + n - x)) - mpmath.log(mpmath.beta(al, be))
            + mpmath.log(mpmath.beta(ga, de + n + 1)) - mpmath.log(mpmath.beta(ga, de))
            - log_lik
        ) / (1 + rate)  # fmt: skip
        want = float(term * mpmath.hyp2f1(1, de + n + 1, ga + de + n + 1, 1 / (1 + rate)))
        got = float(BB.discounted_expected_residual_transactions(x, tx, n, discount_rate=rate))
        assert got == pytest.approx(want, rel=1e-9)


def test_ggompertz_dert_equals_the_generic_quadrature() -> None:
    # the one-dimensional lifetime integral against the log-t trapezoid of E[X(t)]
    x, tx, big_t = (
        np.array([0.0, 3.0, 12.0]),
        np.array([0.0, 20.0, 50.0]),
        np.array([5.0, 52.0, 52.0]),
    )
    p = {k: GG_AGING.params[k] for k in ("r", "alpha", "b", "s", "beta")}
    for rate in (1e-4, 0.003, 0.2):
        delta = float(np.log1p(rate))
        post = pr.posterior("ggomnbd", p, x, tx, big_t)
        want = GG_AGING.probability_alive(x, tx, big_t) * pr._dert_by_quadrature(
            "ggomnbd", post, delta, 3
        )
        got = GG_AGING.discounted_expected_residual_transactions(x, tx, big_t, discount_rate=rate)
        np.testing.assert_allclose(got, want, rtol=1e-8)


def test_ggompertz_dert_on_the_ridge_is_the_pareto_dert() -> None:
    # b -> 0 with beta / b fixed is Pareto/NBD with beta_P = beta / b
    b = 1e-7
    gg = GGompertzNBDModel.from_params(
        {"r": 0.5534, "alpha": 10.5802, "b": b, "s": 0.6061, "beta": 11.6562 * b}
    )
    args = ([0, 2, 7], [0.0, 30.43, 35.0], 38.86)
    np.testing.assert_allclose(
        gg.discounted_expected_residual_transactions(*args, discount_rate=0.003),
        PN.discounted_expected_residual_transactions(*args, discount_rate=0.003),
        rtol=1e-4,
    )


def test_dert_grows_with_a_smaller_discount_rate() -> None:
    for model, hist, _, _ in CASES.values():
        d = [
            float(model.discounted_expected_residual_transactions(*hist, discount_rate=r))
            for r in (0.5, 0.05, 0.005)
        ]
        assert 0.0 <= d[0] <= d[1] <= d[2]


# ---------------------------------------------------------------------------
# 3. P(alive) paths
# ---------------------------------------------------------------------------


def test_alive_path_columns_are_the_summaries_at_each_time(cdnow_log: TransactionLog) -> None:
    times = np.asarray(["1997-02-15", "1997-06-30", "1997-09-30"], dtype="datetime64[s]")
    path = BG.probability_alive_path(cdnow_log, times)
    assert isinstance(path, AlivePath)
    for j, end in enumerate(times):
        s = rfm_summary(cdnow_log, unit="week", observation_end=end)
        rows = np.searchsorted(path.customer_id, s.customer_id)
        assert np.array_equal(path.frequency[rows, j], s.frequency)
        assert np.array_equal(path.recency[rows, j], s.recency)
        assert np.array_equal(path.T[rows, j], s.T)
        np.testing.assert_array_equal(
            path.probability_alive[rows, j], BG.probability_alive(s.frequency, s.recency, s.T)
        )
        unborn = np.setdiff1d(np.arange(path.customer_id.shape[0]), rows)
        assert np.isnan(path.probability_alive[unborn, j]).all()
    assert not path.probability_alive.flags.writeable


def test_alive_path_of_one_customer_decays_and_jumps_at_purchases() -> None:
    log = TransactionLog.from_arrays(customer_id=[7, 7, 7], time=[0.0, 5.0, 6.0])
    grid = np.arange(1.0, 30.0)
    p = PN.probability_alive_path(log, grid).probability_alive[0]
    before, after = p[grid < 5.0], p[grid > 6.0]
    assert np.all(np.diff(before) <= 0)
    assert np.all(np.diff(after) <= 0)
    assert p[grid == 6.0][0] > p[grid == 4.0][0]


@settings(max_examples=25)
@given(log=transaction_logs(kind="numeric"), model=st.sampled_from([BG, MBG, PN, GG_AGING]))
def test_alive_path_is_a_probability_or_nan_before_birth(log: TransactionLog, model: Any) -> None:
    if not bool(np.asarray(log.is_purchase).any()):
        return
    t = log.numeric_time()
    grid = np.linspace(float(t.min()), float(t.max()) + 1.0, 7)
    path = model.probability_alive_path(log, grid, period=None)
    born = ~np.isnan(path.frequency)
    assert np.array_equal(born, ~np.isnan(path.probability_alive))
    vals = path.probability_alive[born]
    assert np.all((vals >= 0.0) & (vals <= 1.0))
    assert np.all(born[:, -1])  # every customer is born by the last time


# ---------------------------------------------------------------------------
# 4. Tracking
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cdnow_tracking(cdnow_log: TransactionLog) -> TrackingResult:
    weeks = np.arange(np.datetime64("1997-01-07"), np.datetime64("1998-06-30"), 7)
    ends = np.asarray(["1997-09-30", "1998-06-30"], dtype="datetime64[D]")
    times = np.unique(np.concatenate([weeks, ends])).astype("datetime64[s]")
    return BG.expected_cumulative_transactions(cdnow_log, times, calibration_end="1997-09-30")


def test_tracking_matches_the_summaries(
    cdnow_log: TransactionLog, cdnow_tracking: TrackingResult
) -> None:
    # FHL 2005 (BG/NBD) CDNOW: 2,357 customers, 2,457 repeat transactions in the 39
    # calibration weeks and 1,882 in the 39-week holdout
    s = rfm_summary(
        cdnow_log, unit="week", calibration_end="1997-09-30", observation_end="1998-06-30"
    )
    tr = cdnow_tracking
    time = np.asarray(tr.time)
    cal = int(np.flatnonzero(time == np.datetime64("1997-09-30"))[0])
    assert tr.actual_cumulative[cal] == s.frequency.sum() == 2457
    assert tr.actual_cumulative[-1] == s.frequency.sum() + s.holdout_frequency.sum() == 2457 + 1882
    assert tr.n_customers[-1] == 2357
    # at the end of calibration each customer's age is T: the sum of E[X(T_i)]
    assert tr.expected_cumulative[cal] == pytest.approx(
        float(BG.expected_purchases(s.T).sum()), rel=1e-12
    )
    assert np.all(np.diff(tr.expected_cumulative) >= 0)
    np.testing.assert_allclose(np.cumsum(tr.expected_incremental), tr.expected_cumulative)
    # the published BG/NBD under-forecasts CDNOW's holdout a little (FHL 2005, fig. 1)
    holdout = tr.expected_cumulative[-1] - tr.expected_cumulative[cal]
    assert 1600 < holdout < 1882


def test_tracking_table_and_plot(cdnow_tracking: TrackingResult) -> None:
    pytest.importorskip("matplotlib")
    pytest.importorskip("pandas")
    from custrel.plot import plot_tracking

    frame = cdnow_tracking.to_frame()
    assert list(frame.columns) == [
        "time", "actual_incremental", "expected_incremental", "actual_cumulative",
        "expected_cumulative", "n_customers",
    ]  # fmt: skip
    fig = plot_tracking(cdnow_tracking)
    assert len(fig.axes) == 2
    fig = plot_tracking(cdnow_tracking, kind="incremental", title="weekly")
    assert fig.axes[0].get_ylabel() == "repeat transactions per period"


def test_tracking_with_covariates_of_zero_is_the_plain_model() -> None:
    cov = pytest.importorskip("custrel.btyd._pnbd_cov")
    m = cov.ParetoNBDCovariateModel._from_named(
        {
            "r": 0.5534,
            "alpha": 10.5802,
            "s": 0.6061,
            "beta": 11.6562,
            "purchase.g": 0.4,
            "dropout.g": -0.2,
        }
    )
    log = TransactionLog.from_arrays(customer_id=[1, 1, 2, 2, 3], time=[0.0, 2.0, 3.0, 9.0, 4.0])
    z = np.zeros((3, 1))
    got = m.expected_cumulative_transactions(
        log, [5.0, 10.0], purchase_covariates=z, dropout_covariates=z
    )
    want = PN.expected_cumulative_transactions(log, [5.0, 10.0])
    np.testing.assert_allclose(got.expected_cumulative, want.expected_cumulative, rtol=1e-12)


@settings(max_examples=25)
@given(log=transaction_logs(), model=st.sampled_from([BG, PN]))
def test_tracking_counts_every_repeat_occasion(log: TransactionLog, model: Any) -> None:
    if not bool(np.asarray(log.is_purchase).any()):
        return
    t = log.time
    grid = np.unique(np.concatenate([t[:: max(1, t.shape[0] // 4)], t[-1:], [t.max()]]))
    tr = model.expected_cumulative_transactions(log, grid)
    s = rfm_summary(log, observation_end=grid[-1])
    assert tr.actual_cumulative[-1] == s.frequency.sum()
    assert tr.n_customers[-1] == len(s)
    assert np.all(np.diff(tr.expected_cumulative) >= 0.0)
    assert np.all(tr.expected_incremental >= 0.0)


def test_alive_path_with_covariates_uses_each_customers_parameters() -> None:
    cov = pytest.importorskip("custrel.btyd._pnbd_cov")
    m = cov.ParetoNBDCovariateModel._from_named(
        {"r": 0.5534, "alpha": 10.5802, "s": 0.6061, "beta": 11.6562}
        | {"purchase.g": 0.4, "dropout.g": -0.2}
    )
    log = TransactionLog.from_arrays(customer_id=[1, 1, 2, 2, 3], time=[0.0, 2.0, 3.0, 9.0, 4.0])
    z = np.asarray([[0.0], [1.0], [0.0]])
    got = m.probability_alive_path(
        log, [1.0, 5.0, 12.0], purchase_covariates=z, dropout_covariates=z
    )
    shifted = ParetoNBDModel.from_params(
        {"r": 0.5534, "alpha": 10.5802 * np.exp(-0.4), "s": 0.6061, "beta": 11.6562 * np.exp(0.2)}
    )
    np.testing.assert_allclose(
        got.probability_alive[1],
        shifted.probability_alive_path(log, [1.0, 5.0, 12.0]).probability_alive[1],
    )
    np.testing.assert_allclose(
        got.probability_alive[0],
        PN.probability_alive_path(log, [1.0, 5.0, 12.0]).probability_alive[0],
    )
    with pytest.raises(InvalidInputError, match="purchase_covariates"):
        m.probability_alive_path(log, [1.0])


# ---------------------------------------------------------------------------
# 5. New customers
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "model", [BG, MBG, PN, GG_AGING], ids=["bgnbd", "mbgnbd", "pnbd", "ggomnbd"]
)
def test_new_customer_expected_purchases_is_expected_purchases(model: Any) -> None:
    t = np.asarray([0.0, 1.0, 39.0, 78.0, 1e4])
    np.testing.assert_allclose(
        model.new_customer_expected_purchases(t), model.expected_purchases(t), rtol=1e-10
    )


def test_new_customer_alive_known_values() -> None:
    t = np.asarray([0.0, 13.0, 52.0])
    # Pareto/NBD: (beta / (beta + t))^s
    np.testing.assert_allclose(
        PN.new_customer_probability_alive(t), (11.6562 / (11.6562 + t)) ** 0.6061
    )
    # GGompertz/NBD: (beta / (beta + e^{bt} - 1))^s
    np.testing.assert_allclose(
        GG_AGING.new_customer_probability_alive(t), (2.0 / (2.0 + np.exp(0.05 * t) - 1.0)) ** 1.2
    )
    # BG/BB: alive at opportunity t with probability B(gamma, delta + t) / B(gamma, delta)
    n = np.asarray([0.0, 1.0, 6.0])
    np.testing.assert_allclose(
        BB.new_customer_probability_alive(n),
        np.exp(special.betaln(0.657, 2.783 + n) - special.betaln(0.657, 2.783)),
    )
    # BG/NBD: E over p of E[(1-p)^N(t)] = E_p[(alpha / (alpha + p t))^r]; MBG/NBD times (1-p)
    for model, shift in ((BG, 0.0), (MBG, 1.0)):
        r, alpha, a, b = (model.params[k] for k in ("r", "alpha", "a", "b"))
        for tt in t:
            want = integrate.quad(
                lambda p, tt=tt, r=r, alpha=alpha, a=a, b=b, shift=shift: (1 - p) ** shift
                * (alpha / (alpha + p * tt)) ** r
                * np.exp((a - 1) * np.log(p) + (b - 1) * np.log1p(-p) - special.betaln(a, b)),
                0, 1, epsabs=1e-13, epsrel=1e-12, limit=200,
            )[0]  # fmt: skip
            assert float(model.new_customer_probability_alive(tt)) == pytest.approx(want, rel=1e-8)


def test_new_customer_with_covariates_uses_each_rows_parameters() -> None:
    cov = pytest.importorskip("custrel.btyd._bgnbd_cov")
    m = cov.BGNBDCovariateModel._from_named(
        {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426, "purchase.g": 0.5, "dropout.g": -0.3}
    )
    z = np.asarray([[0.0], [1.0]])
    shifted = BGNBDModel.from_params(
        {
            "r": 0.243,
            "alpha": 4.414 * np.exp(-0.5),
            "a": 0.793 * np.exp(-0.3),
            "b": 2.426 * np.exp(-0.3),
        }
    )
    got = m.new_customer_expected_purchases(39.0, purchase_covariates=z, dropout_covariates=z)
    np.testing.assert_allclose(
        got, [float(BG.expected_purchases(39.0)), float(shifted.expected_purchases(39.0))]
    )
    pmf = m.conditional_probability_of_purchases(
        1, 39.0, [2, 2], [30.43, 30.43], 38.86, purchase_covariates=z, dropout_covariates=z
    )
    assert pmf[1] == pytest.approx(
        float(shifted.conditional_probability_of_purchases(1, 39.0, 2, 30.43, 38.86))
    )
    dert = m.discounted_expected_residual_transactions(
        [2, 2],
        [30.43, 30.43],
        38.86,
        discount_rate=0.003,
        purchase_covariates=z,
        dropout_covariates=z,
    )
    assert dert[0] == pytest.approx(
        float(BG.discounted_expected_residual_transactions(2, 30.43, 38.86, discount_rate=0.003))
    )
    with pytest.raises(InvalidInputError, match="purchase_covariates"):
        m.new_customer_expected_purchases(39.0)


# ---------------------------------------------------------------------------
# Properties: finite on extreme histories, monotone in t
# ---------------------------------------------------------------------------

MODELS = [BG, MBG, PN, GG_AGING, GG]


@settings(max_examples=40)
@given(
    model=st.sampled_from(MODELS),
    x=st.integers(0, 5000),
    frac=st.floats(0.0, 1.0),
    big_t=st.floats(1e-3, 5e3),
    t=st.floats(0.0, 1e4),
    n=st.integers(0, 50),
)
def test_conditional_pmf_finite_on_extreme_histories(
    model: Any, x: int, frac: float, big_t: float, t: float, n: int
) -> None:
    tx = frac * big_t if x > 0 else 0.0
    p = float(model.conditional_probability_of_purchases(n, t, x, tx, big_t))
    assert 0.0 <= p <= 1.0
    d = float(model.discounted_expected_residual_transactions(x, tx, big_t, discount_rate=0.01))
    assert np.isfinite(d)
    assert d >= 0.0


@settings(max_examples=30)
@given(
    model=st.sampled_from([*MODELS, BB]),
    t=st.lists(st.integers(0, 200), min_size=2, max_size=6),
)
def test_new_customer_predictions_monotone_in_t(model: Any, t: list[int]) -> None:
    tt = np.sort(np.asarray(t, dtype=float))
    e = model.new_customer_expected_purchases(tt)
    a = model.new_customer_probability_alive(tt)
    assert np.all(np.diff(e) >= -1e-12)
    assert np.all(e >= 0)
    assert np.all(np.diff(a) <= 1e-12)
    assert np.all((a >= 0) & (a <= 1))


@settings(max_examples=20)
@given(model=st.sampled_from([BG, MBG, PN]), x=st.integers(0, 30), big_t=st.floats(1.0, 200.0))
def test_conditional_pmf_sums_to_one_property(model: Any, x: int, big_t: float) -> None:
    tx = 0.5 * big_t if x else 0.0
    n = np.arange(0, 3000)
    p = model.conditional_probability_of_purchases(n, 26.0, x, tx, big_t)
    assert p.sum() == pytest.approx(1.0, abs=1e-7)


# ---------------------------------------------------------------------------
# Bad inputs
# ---------------------------------------------------------------------------

_LOG = TransactionLog.from_arrays(customer_id=[1, 1, 2], time=[0.0, 2.0, 3.0])
_DATE_LOG = TransactionLog.from_arrays(customer_id=[1, 1], time=["2024-01-01", "2024-02-01"])

BAD: dict[str, tuple[Any, type[Exception], str]] = {
    "pmf-negative-n": (
        lambda: BG.conditional_probability_of_purchases(-1, 1.0, 0, 0, 1),
        InvalidInputError,
        "n",
    ),
    "pmf-fractional-n": (
        lambda: BG.conditional_probability_of_purchases(1.5, 1.0, 0, 0, 1),
        InvalidInputError,
        "n",
    ),
    "pmf-negative-t": (
        lambda: PN.conditional_probability_of_purchases(1, -1.0, 0, 0, 1),
        InvalidInputError,
        "t",
    ),
    "pmf-nan-t": (
        lambda: PN.conditional_probability_of_purchases(1, float("nan"), 0, 0, 1),
        InvalidInputError,
        "t",
    ),
    "pmf-lengths": (
        lambda: BG.conditional_probability_of_purchases([0, 1, 2], 1.0, [0, 1], [0, 1], 2),
        InvalidInputError,
        "n has 3",
    ),
    "pmf-recency-after-T": (
        lambda: BG.conditional_probability_of_purchases(0, 1.0, 1, 5.0, 2.0),
        InvalidInputError,
        "recency must be <= T",
    ),
    "pmf-bgbb-fractional-t": (
        lambda: BB.conditional_probability_of_purchases(0, 1.5, 1, 2, 3),
        InvalidInputError,
        "t",
    ),
    "pmf-covariates-without-model": (
        lambda: BG.conditional_probability_of_purchases(
            0, 1.0, 0, 0, 1, purchase_covariates=[[1.0]]
        ),
        InvalidInputError,
        "no covariates",
    ),
    "dert-zero-rate": (
        lambda: PN.discounted_expected_residual_transactions(0, 0, 1, discount_rate=0.0),
        InvalidInputError,
        "discount_rate",
    ),
    "dert-negative-rate": (
        lambda: BG.discounted_expected_residual_transactions(0, 0, 1, discount_rate=-0.1),
        InvalidInputError,
        "discount_rate",
    ),
    "dert-nan-rate": (
        lambda: BG.discounted_expected_residual_transactions(0, 0, 1, discount_rate=float("nan")),
        InvalidInputError,
        "discount_rate",
    ),
    "path-decreasing-times": (
        lambda: BG.probability_alive_path(_LOG, [2.0, 1.0]),
        InvalidInputError,
        "strictly increasing",
    ),
    "path-repeated-times": (
        lambda: BG.probability_alive_path(_LOG, [1.0, 1.0]),
        InvalidInputError,
        "strictly increasing",
    ),
    "path-dates-for-numbers": (
        lambda: BG.probability_alive_path(_LOG, ["2024-01-01"]),
        InvalidInputError,
        "numbers",
    ),
    "path-numbers-for-dates": (
        lambda: BG.probability_alive_path(_DATE_LOG, [1.0]),
        InvalidInputError,
        "dates",
    ),
    "path-empty-times": (
        lambda: BG.probability_alive_path(_LOG, []),
        EmptyInputError,
        "times is empty",
    ),
    "path-not-a-log": (
        lambda: BG.probability_alive_path([1, 2], [1.0]),
        InvalidTypeError,
        "log must be",
    ),
    "path-bad-period": (
        lambda: BG.probability_alive_path(_LOG, [1.0], period=True),
        InvalidTypeError,
        "period",
    ),
    "path-bgbb-fractional-age": (
        lambda: BB.probability_alive_path(_LOG, [1.5, 4.0], period=None),
        InvalidInputError,
        "whole opportunities",
    ),
    "tracking-cohort-before-all": (
        lambda: BG.expected_cumulative_transactions(_LOG, [1.0], calibration_end=-1.0),
        InvalidInputError,
        "calibration_end",
    ),
    "tracking-nan-time": (
        lambda: BG.expected_cumulative_transactions(_LOG, [1.0, float("nan")]),
        InvalidInputError,
        "times",
    ),
    "new-negative-t": (lambda: PN.new_customer_expected_purchases(-1.0), InvalidInputError, "t"),
    "new-covariates-without-model": (
        lambda: PN.new_customer_probability_alive(1.0, dropout_covariates=[[1.0]]),
        InvalidInputError,
        "no covariates",
    ),
}


@pytest.mark.parametrize("case", list(BAD), ids=list(BAD))
def test_bad_inputs(case: str) -> None:
    fn, exc, match = BAD[case]
    with pytest.raises(exc, match=match):
        fn()


def test_budgets_refuse_before_allocating(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUSTREL_MAX_CELLS", "100")
    with pytest.raises(InvalidInputError, match="CUSTREL_MAX_CELLS"):
        BG.probability_alive_path(_LOG, np.arange(1.0, 60.0))
    with pytest.raises(InvalidInputError, match="CUSTREL_MAX_CELLS"):
        PN.conditional_probability_of_purchases(np.arange(10), 1.0, 0, 0, 1)
    with pytest.raises(InvalidInputError, match="CUSTREL_MAX_CELLS"):
        BB.conditional_probability_of_purchases(0, 1000, 1, 1, 2)
    monkeypatch.setenv("CUSTREL_MAX_PERIODS", "10")
    with pytest.raises(InvalidInputError, match="CUSTREL_MAX_PERIODS"):
        BG.expected_cumulative_transactions(_LOG, np.arange(1.0, 30.0))


def test_plot_tracking_refuses_bad_arguments(cdnow_tracking: TrackingResult) -> None:
    pytest.importorskip("matplotlib")
    from custrel.plot import plot_tracking

    with pytest.raises(InvalidTypeError, match="TrackingResult"):
        plot_tracking({"time": [1.0]})
    with pytest.raises(InvalidInputError, match="kind must be one of"):
        plot_tracking(cdnow_tracking, kind="weekly")


def test_results_do_not_share_memory_with_inputs() -> None:
    times = np.asarray([1.0, 2.0, 5.0])
    path = BG.probability_alive_path(_LOG, times)
    times[0] = 99.0
    assert path.time[0] == 1.0
    assert not path.time.flags.writeable
