"""Bugs the adversarial suite found in the new BTYD API, each kept as a plain test.

Helper "adversarial" (issue 10's suite over this session's covariate, correlated,
uncertainty and prediction API). Each row is one failing input as found, with the
CustrelError it must give now.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import custrel as C
from custrel.errors import InvalidInputError

_BG = C.BGNBDModel.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
_BB = C.BGBBModel.from_params({"alpha": 1.2, "beta": 0.75, "gamma": 0.66, "delta": 2.78})
_PN = C.ParetoNBDModel.from_params({"r": 0.55, "alpha": 10.6, "s": 0.61, "beta": 11.7})
_Z = np.array([[0.5], [-1.0]])

# -- a plain model's prediction methods given covariate keywords -------------------------
# They raised Python's TypeError ("unexpected keyword argument"): the seven classic
# methods of RepeatPurchaseModel had no covariate keywords while the newer ones did.

_CALLS: dict[str, Callable[[Any, dict[str, Any]], Any]] = {
    "probability_alive": lambda m, kw: m.probability_alive([0, 1], [0, 2], [3, 3], **kw),
    "customer_log_likelihood": lambda m, kw: m.customer_log_likelihood(
        [0, 1], [0, 2], [3, 3], **kw
    ),
    "conditional_expected_purchases": lambda m, kw: m.conditional_expected_purchases(
        2, [0, 1], [0, 2], [3, 3], **kw
    ),
    "expected_purchases": lambda m, kw: m.expected_purchases([1, 2], **kw),
    "probability_of_purchases": lambda m, kw: m.probability_of_purchases(1, 2, **kw),
    "customer_lifetime_value": lambda m, kw: m.customer_lifetime_value(
        [0, 1], [0, 2], [3, 3], 10.0, horizon=2, discount_rate=0.1, **kw
    ),
    "simulate": lambda m, kw: m.simulate(2, 3, rng=1, **kw),
    "new_customer_expected_purchases": lambda m, kw: m.new_customer_expected_purchases(2, **kw),
    "conditional_probability_of_purchases": lambda m, kw: m.conditional_probability_of_purchases(
        1, 2, [0, 1], [0, 2], [3, 3], **kw
    ),
}

_PLAIN_CASES = [
    pytest.param(model, method, arg, id=f"{type(model).__name__}.{method}-{arg}")
    for model in (_BG, _BB, _PN)
    for method in _CALLS
    for arg in ("purchase_covariates", "dropout_covariates")
]


@pytest.mark.parametrize(("model", "method", "argument"), _PLAIN_CASES)
def test_plain_model_refuses_covariates_naming_the_argument(
    model: Any, method: str, argument: str
) -> None:
    name = type(model).__name__
    with pytest.raises(InvalidInputError, match=rf"{argument} was given, but {name} has no cov"):
        _CALLS[method](model, {argument: _Z})


@pytest.mark.parametrize("method", sorted(_CALLS))
def test_plain_model_still_predicts_without_covariates(method: str) -> None:
    out = _CALLS[method](_BG, {})
    values = out.frequency if isinstance(out, C.BTYDSummary) else np.asarray(out)
    assert np.isfinite(values).all()


def test_explicit_none_covariates_are_the_plain_call() -> None:
    plain = _BG.probability_alive([0, 1], [0, 2], [3, 3])
    none = _BG.probability_alive(
        [0, 1], [0, 2], [3, 3], purchase_covariates=None, dropout_covariates=None
    )
    np.testing.assert_array_equal(plain, none)


# -- bootstrap with covariates given as a mapping {name: column} --------------------------
# _uncertainty._take_rows read a mapping as a 0-d array: "dropout_covariates has 0 rows
# but there are 200 customers" for covariates every fit accepts.


def _sim(n: int = 200) -> Any:
    truth = C.BGNBDModel.from_params({"r": 0.5, "alpha": 5.0, "a": 1.5, "b": 4.0})
    return truth.simulate(n, T=52.0, rng=7)


def test_bootstrap_resamples_covariate_mappings_with_the_customers() -> None:
    s = _sim()
    z = np.random.default_rng(5).normal(size=(200, 2))
    as_map = C.bootstrap(
        C.fit_bgnbd, s.frequency, s.recency, s.T, n_replications=3, rng=3,
        purchase_covariates={"x1": z[:, 0]}, dropout_covariates={"age": z[:, 1]},
    )  # fmt: skip
    as_matrix = C.bootstrap(
        C.fit_bgnbd, s.frequency, s.recency, s.T, n_replications=3, rng=3,
        purchase_covariates=z[:, :1], dropout_covariates=z[:, 1:],
    )  # fmt: skip
    assert as_map.names[-2:] == ("purchase.x1", "dropout.age")
    np.testing.assert_array_equal(as_map.params, as_matrix.params)


def test_bootstrap_names_a_short_covariate_column() -> None:
    s = _sim()
    with pytest.raises(InvalidInputError, match=r"dropout_covariates\['age'\] has 5 rows but"):
        C.bootstrap(
            C.fit_bgnbd, s.frequency, s.recency, s.T, n_replications=3, rng=3,
            dropout_covariates={"age": np.zeros(5)},
        )  # fmt: skip


# -- delta-method intervals of an estimate on the edge of the parameter space -------------
# A Pareto/NBD correlation fitted at its Sarmanov bound (the bound moves with r, alpha, s,
# beta): moving alpha by 1e-4 put the correlation outside, and the model's own
# prediction_intervals raised "correlation must lie in [...]". Now the difference is
# one-sided there.

_AT_BOUND = {
    "r": 0.37244099110970064,
    "alpha": 8.270013196506094,
    "s": 0.9839953312836739,
    "beta": 32.580730569196774,
}


def _correlated_at_bound() -> Any:
    import attrs

    from custrel.btyd import _pnbd_cor as pc

    theta = np.array(list(_AT_BOUND.values()))
    top = pc._bounds(theta)[1] * pc._scale(theta)
    m = C.ParetoNBDCorrelatedModel.from_params({**_AT_BOUND, "correlation": top})
    se = [0.0738, 1.713, 1.416, 62.83, 0.0508]
    return attrs.evolve(
        m, covariance=np.diag(np.square(se)), standard_errors=dict(zip(m.params, se, strict=True))
    )


def test_prediction_intervals_of_a_correlation_at_its_bound() -> None:
    m = _correlated_at_bound()
    pi = m.prediction_intervals([0, 1, 3], [0.0, 5.0, 20.0], [30.0, 30.0, 40.0], t=10.0)
    for iv in pi.quantities().values():
        assert np.isfinite(iv.standard_error).all()
        assert (iv.lower <= iv.estimate).all()
        assert (iv.estimate <= iv.upper).all()


def test_delta_interval_inside_the_domain_stays_two_sided() -> None:
    # a prediction linear in a parameter: the central difference is exact
    s = _sim(400)
    fit = C.fit_bgnbd(s.frequency, s.recency, s.T)
    res = C.delta_interval(fit, lambda m: np.array([m.params["alpha"] * 2.0]))
    np.testing.assert_allclose(res.standard_error, [2.0 * fit.standard_errors["alpha"]], rtol=1e-9)


# -- bad-input table: inputs that raised a non-Custrel error (found by the suite) ----------

_BAD: list[tuple[str, Callable[[], Any], type[Exception], str]] = [
    # ParetoNBDCorrelatedModel.from_params read any object as a mapping (TypeError) and
    # divided by a scale factor that underflows to 0 for huge r (ZeroDivisionError)
    ("cor-params-none", lambda: C.ParetoNBDCorrelatedModel.from_params(None), C.InvalidTypeError, r"params must be a mapping, got NoneType"),
    ("cor-params-bytes", lambda: C.ParetoNBDCorrelatedModel.from_params(b"abc"), C.InvalidTypeError, r"params must be a mapping, got bytes"),
    ("cor-params-list", lambda: C.ParetoNBDCorrelatedModel.from_params([{"r": 1.0}]), C.InvalidTypeError, r"params must be a mapping, got list"),
    ("cor-huge-r", lambda: C.ParetoNBDCorrelatedModel.from_params({"r": 1e300, "alpha": 10.6, "s": 0.61, "beta": 11.7, "correlation": 0.0}), InvalidInputError, r"r=1e\+300, .* underflows to 0"),
    # ParameterSummary.wald(model=not a model): AttributeError
    ("wald-float", lambda: C.ParameterSummary.wald(1e300), C.InvalidTypeError, r"model must be a fitted BTYD model, got float"),
    ("wald-list", lambda: C.ParameterSummary.wald([_BG]), C.InvalidTypeError, r"model must be a fitted BTYD model, got list"),
    # prediction_intervals(margin=[1, "1"]): TypeError comparing a list with 0
    ("intervals-margin-list", lambda: C.prediction_intervals(_BG, [0, 1], [0, 5], [9, 9], t=1.0, margin=[1, "1", 2, "2"]), C.InvalidTypeError, r"margin must be a real number"),
    # DERT at a subnormal rate: the quadrature ran to t = inf (RuntimeWarning, OverflowError)
    ("dert-subnormal-bgnbd", lambda: _BG.discounted_expected_residual_transactions([0, 1], [0, 5], [9, 9], discount_rate=5e-324), InvalidInputError, r"discount_rate must be at least 1e-300.*got 5e-324"),
    ("dert-subnormal-pnbd", lambda: _PN.discounted_expected_residual_transactions([0, 1], [0, 5], [9, 9], discount_rate=1e-310), InvalidInputError, r"discount_rate must be at least 1e-300"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("call", "error", "match"), [c[1:] for c in _BAD], ids=[c[0] for c in _BAD]
)
def test_bad_input_gives_a_custrel_error(
    call: Callable[[], Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        call()


def test_dert_at_the_smallest_rate_is_finite() -> None:
    out = _PN.discounted_expected_residual_transactions(
        [0, 1], [0, 5], [9, 9], discount_rate=1e-300
    )
    assert np.isfinite(out).all()


def test_parameter_summary_get_with_a_non_string_key_is_the_default() -> None:
    import polars as pl

    s = C.ParameterSummary.wald(
        C.BGNBDModel.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
    )
    assert s.get(pl.Series(["r"])) is None
    assert s.get(np.array(["r"]), "none") == "none"
    assert s.get("r", "none")[0] == 0.243


# -- figures: an array where one option or one id is expected ------------------------------
# plot_tracking(kind=array) and plot_value_curve(customer=array) compared elementwise and
# raised numpy's/polars' "truth value is ambiguous" or a broadcast ValueError.


def _log() -> C.TransactionLog:
    return C.TransactionLog.from_arrays(
        customer_id=[1, 1, 2, 2], time=[0.0, 2.0, 3.0, 9.0], amount=[1.0, 2.0, 3.0, 4.0]
    )


@pytest.mark.parametrize(
    "kind",
    [np.zeros((2, 2)), np.array(["both"]), ["both"]],
    ids=["2d", "array", "list"],
)
def test_plot_tracking_refuses_a_non_string_kind(kind: Any) -> None:
    pytest.importorskip("matplotlib")
    from custrel.plot import plot_tracking

    tracking = _BG.expected_cumulative_transactions(_log(), [5.0, 10.0])
    with pytest.raises(InvalidInputError, match=r"kind must be one of \['both', 'cumulative'"):
        plot_tracking(tracking, kind=kind)


@pytest.mark.parametrize(
    "customer", [np.array([]), np.array([1, 1]), [1, "1"]], ids=["empty", "array", "mixed"]
)
def test_plot_value_curve_refuses_several_customers(customer: Any) -> None:
    pytest.importorskip("matplotlib")
    from custrel.plot import plot_value_curve

    panel = C.value_panel(_log(), period=1.0)
    with pytest.raises(C.InvalidTypeError, match=r"customer must be one customer id, got"):
        plot_value_curve(panel, customer)
    assert plot_value_curve(panel, 1) is not None


# -- a log-scale interval past the float range ---------------------------------------------
# est * exp(z * se_rel) overflowed with a RuntimeWarning (prediction_intervals(t=1e300) of a
# covariate or correlated model); the limit is now inf without a warning, as documented.


def test_log_interval_past_the_float_range_is_inf_without_a_warning() -> None:
    s = _sim(400)
    fit = C.fit_bgnbd(s.frequency, s.recency, s.T)
    a0, se = fit.params["alpha"], fit.standard_errors["alpha"]
    k = 200.0 * a0 / se  # relative standard error 200: exp(1.96 * 200) = 1e170

    res = C.delta_interval(
        fit, lambda m: np.array([1e200 * (m.params["alpha"] / a0) ** k, 1.0]), scale="log"
    )
    assert res.upper[0] == np.inf
    assert 0.0 < res.lower[0] < res.estimate[0]
    assert res.upper[1] == 1.0  # a constant: zero standard error


# -- fixed after their owners went quiet (18:20) ---------------------------------------------

_GG = C.GammaGammaModel.from_params({"p": 6.25, "q": 3.74, "gamma": 15.44})

# a plain Gamma-Gamma model given covariates=: Python's TypeError (btyd/_gamma_gamma.py)
_GG_BAD: list[tuple[str, Callable[[], Any], type[Exception], str]] = [
    ("gg-spend-covariates", lambda: _GG.conditional_expected_spend([1, 2], [10.0, 20.0], covariates=[[1.0], [2.0]]), InvalidInputError, r"covariates was given, but GammaGammaModel has no covariates"),
    ("gg-mean-covariates", lambda: _GG.expected_spend(covariates=[[1.0]]), InvalidInputError, r"covariates was given, but GammaGammaModel"),
    ("gg-ll-covariates", lambda: _GG.customer_log_likelihood([1, 2], [10.0, 20.0], covariates=[[1.0], [2.0]]), InvalidInputError, r"covariates was given"),
    ("gg-simulate-covariates", lambda: _GG.simulate([1, 2], rng=1, covariates=[[1.0], [2.0]]), InvalidInputError, r"covariates was given"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("call", "error", "match"), [c[1:] for c in _GG_BAD], ids=[c[0] for c in _GG_BAD]
)
def test_plain_gamma_gamma_refuses_covariates(
    call: Callable[[], Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        call()


def test_dert_of_a_huge_frequency_is_finite_without_a_warning() -> None:
    # _nbd._stirling_rest: zs**3 overflowed (RuntimeWarning) although its term is 0
    out = _BG.discounted_expected_residual_transactions(
        [1e300, 1.0], [5.0, 5.0], [30.0, 30.0], discount_rate=0.01
    )
    assert np.isfinite(out).all()


def test_conditional_pmf_of_a_huge_frequency_leaks_no_overflow() -> None:
    # _predictions._nbd_pmf: the rows without its second term took betaln(a + 1, 1) -
    # betaln(a, b) with the posterior b = 1e300 and overflowed exp (RuntimeWarning),
    # although the term is discarded there (adversarial suite, MBG/NBD, "huge" family)
    m = C.MBGNBDModel.from_params({"r": 0.95, "alpha": 7.31, "a": 2.04, "b": 6.89})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = m.conditional_probability_of_purchases(
            np.array([0, 1, 2, 1, 0]),
            10.0,
            np.full(5, 1e300),
            np.array([0, 5, 20, 30, 10.0]),
            np.array([30, 30, 40, 40, 25.0]),
        )
    assert np.isfinite(out).all()
    assert ((out >= 0) & (out <= 1)).all()


def test_covariate_fits_refuse_counts_beyond_2_53() -> None:
    # a frequency of 1e300 left the covariate likelihoods NaN and leaked "invalid value
    # encountered in reduce" (BG/NBD, GGompertz/NBD, the bootstrap of either)
    n = 50
    rng = np.random.default_rng(1)
    x = np.r_[np.full(3, 1e300), np.ones(n - 3)]
    cov = rng.normal(size=(n, 1))
    for fit in (C.fit_bgnbd, C.fit_ggomnbd, C.fit_pareto_nbd):
        with pytest.raises(
            InvalidInputError, match=r"frequency must be <= 9\.0072e\+15, got 1e\+300 at row 0"
        ):
            fit(x, np.full(n, 5.0), np.full(n, 30.0), purchase_covariates=cov)


def test_bootstrap_refuses_ragged_covariate_rows() -> None:
    # numpy's "inhomogeneous shape" ValueError came out of the resampling of a list of rows
    sim = C.BGNBDModel.from_params({"r": 0.5, "alpha": 5.0, "a": 1.5, "b": 4.0}).simulate(
        40, 30.0, rng=3
    )
    rows: list[list[float]] = [[0.5]] * 39 + [[0.5, 1.0]]
    with pytest.raises(
        InvalidInputError, match="purchase_covariates has rows of different lengths"
    ):
        C.bootstrap(
            C.fit_bgnbd, sim.frequency, sim.recency, sim.T, n_replications=2, rng=1,
            purchase_covariates=rows,
        )  # fmt: skip


def test_pareto_nbd_newton_steps_stop_at_the_runaway_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # one purchase count of 1e12 sent the Newton steps towards alpha = 3e-11, each with a
    # Hessian (58 Hessians, 9 s), before the same ConvergenceError; they now stop once a
    # log-parameter passes the runaway bound and leave it to the fallback
    from custrel.btyd import _pnbd_math

    sim = C.ParetoNBDModel.from_params(
        {"r": 0.55, "alpha": 10.58, "s": 0.61, "beta": 11.66}
    ).simulate(300, 39.0, rng=4)
    x = np.asarray(sim.frequency, dtype=float).copy()
    big = int(np.argmax(x))
    x[big] = 1e12
    calls = []
    real = _pnbd_math._hessian_u

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(_pnbd_math, "_hessian_u", counting)
    with pytest.raises(C.ConvergenceError, match="no finite maximum"):
        C.fit_pareto_nbd(x, sim.recency, sim.T)
    assert len(calls) < 20


def _direct_share(m: Any, x: np.ndarray, tx: np.ndarray, n: np.ndarray) -> np.ndarray:
    # every likelihood term from Beta functions (_bgbb_terms), as the fit computes it
    from scipy import special

    from custrel.btyd._bgbb import _bgbb_terms

    alpha, beta, gamma, delta = (m.params[k] for k in ("alpha", "beta", "gamma", "delta"))
    mm, g, d, xx, mask = _bgbb_terms(x, tx, n)
    terms = (
        special.betaln(alpha + xx, beta + mm)
        - special.betaln(alpha, beta)
        + special.betaln(gamma + g, delta + d)
        - special.betaln(gamma, delta)
    )
    terms = np.where(mask, terms, -np.inf)
    return np.asarray(terms[:, 0] - special.logsumexp(terms, axis=1))


@pytest.mark.parametrize("n", [6.0, 52.0, 1000.0, 100_000.0])
def test_bgbb_alive_share_by_blocks_equals_every_term_from_beta_functions(n: float) -> None:
    # BGBBModel.probability_alive_path to the year 9999 (416,000 weekly opportunities) ran
    # 8 s: a Beta function per term. Now one per block of 64, the others by the ratio of
    # successive terms, in passes: the same share (relative 1e-12)
    m = C.BGBBModel.from_params({"alpha": 1.2, "beta": 0.75, "gamma": 0.66, "delta": 2.78})
    x = np.array([0.0, 1.0, 3.0, 5.0, 5.0])
    tx = np.array([0.0, 1.0, 4.0, 5.0, 6.0])
    big_n = np.full(5, n)
    got = m._alive_share(x, tx, big_n)
    want = _direct_share(m, x, tx, big_n)
    np.testing.assert_allclose(np.exp(got), np.exp(want), rtol=1e-12, atol=0)


def test_bgbb_far_forecast_is_refused_beyond_the_cell_budget() -> None:
    m = C.BGBBModel.from_params({"alpha": 1.2, "beta": 0.75, "gamma": 0.66, "delta": 2.78})
    with pytest.raises(InvalidInputError, match="CUSTREL_MAX_CELLS"):
        m.probability_alive([1.0, 2.0], [1.0, 2.0], [1e300, 5.0])


# -- time-varying covariates (btyd/_dyncov_data.py) ------------------------------------------


def _dyn_tables() -> dict[str, Any]:
    weeks = np.datetime64("2024-01-01") + 7 * np.arange(10)
    sale = np.array([0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0])
    return {
        "customer_id": [1, 1, 1, 2],
        "date": ["2024-01-01", "2024-01-16", "2024-01-20", "2024-01-03"],
        "covariates": {
            "customer_id": np.repeat([1, 2], 10),
            "date": np.tile(weeks, 2),
            "sale": np.tile(sale, 2),
        },
        "calibration_end": "2024-02-04",
    }


_DYN_MODEL = C.ParetoNBDDynCovModel.from_params(
    {"r": 1.0, "alpha": 5.0, "s": 1.0, "beta": 20.0, "purchase.sale": 0.7}
)

_DYN_BAD: list[tuple[str, Callable[[], Any], type[Exception], str]] = [
    # a column name that is an array: unhashable / "truth value is ambiguous"
    ("id-column-array", lambda: C.dynamic_covariate_data(**_dyn_tables(), id_column=np.array(["customer_id"], dtype=object)), C.InvalidTypeError, r"id_column must be a column name \(str\), got ndarray"),
    ("date-column-2d", lambda: C.dynamic_covariate_data(**_dyn_tables(), date_column=np.zeros((2, 2))), C.InvalidTypeError, r"date_column must be a column name"),
    # a subnormal unit: recency and T inf, with a RuntimeWarning
    ("unit-subnormal", lambda: C.dynamic_covariate_data(**_dyn_tables(), unit=5e-324), InvalidInputError, r"unit=5e-324 is too small for this log: its span of 34 days"),
    # t=1e300: the period count wrapped around in the cast to int64 ("negative dimensions")
    ("expected-huge-t", lambda: _DYN_MODEL.expected_purchases(C.dynamic_covariate_data(**_dyn_tables()), 1e300), InvalidInputError, r"the covariate periods of one customer would need 1e\+300"),
    ("conditional-huge-t", lambda: _DYN_MODEL.conditional_expected_purchases(C.dynamic_covariate_data(**_dyn_tables()), 1e300), InvalidInputError, r"would need 1e\+300, more than the budget"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("call", "error", "match"), [c[1:] for c in _DYN_BAD], ids=[c[0] for c in _DYN_BAD]
)
def test_dynamic_covariate_bad_input_gives_a_custrel_error(
    call: Callable[[], Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        call()


# -- fixed after their owners went quiet (18:20) ---------------------------------------------


def _cov_model() -> Any:
    s = _sim()
    z = np.random.default_rng(5).normal(size=(200, 2))
    return C.fit_bgnbd(
        s.frequency,
        s.recency,
        s.T,
        purchase_covariates=z[:, :1],
        dropout_covariates={"age": z[:, 1]},
    )


_COV = _cov_model()
_Z5 = np.random.default_rng(5).normal(size=(5, 2))
_F5 = ([0, 1, 3, 6, 2], [0, 5, 20, 30, 10], [30, 30, 40, 40, 25])


def _huge(col: int, row: int, value: float) -> dict[str, Any]:
    z = _Z5.copy()
    z[row, col] = value
    return {"purchase_covariates": z[:, :1], "dropout_covariates": {"age": z[:, 1]}}


_COV_BAD: list[tuple[str, Callable[[], Any], type[Exception], str]] = [
    # coefficients(process=array): "truth value is ambiguous" / unhashable (btyd/_covariates.py)
    ("coefficients-array", lambda: _COV.coefficients(np.array(["purchase"], dtype=object)), InvalidInputError, r"process must be one of \['purchase', 'dropout'\]"),
    ("coefficients-2d", lambda: _COV.coefficients(np.zeros((2, 2))), InvalidInputError, r"process must be one of"),
    # huge covariates: exp(z'gamma) overflowed to inf/0 and predictions were NaN or raised
    # OverflowError (btyd/_covariates.py CovariateModel._bind)
    ("alive-huge-purchase", lambda: _COV.probability_alive(*_F5, **_huge(0, 0, 1e300)), InvalidInputError, r"purchase_covariates row 0 \(x1=1e\+300\) gives alpha = "),
    ("alive-huge-dropout", lambda: _COV.probability_alive(*_F5, **_huge(1, 4, -1e300)), InvalidInputError, r"dropout_covariates row 4 \(age=-1e\+300\) gives [ab] = "),
    ("expected-huge", lambda: _COV.expected_purchases(10.0, **{k: v[:1] if k == "purchase_covariates" else {"age": v["age"][:1]} for k, v in _huge(0, 0, 1e300).items()}), InvalidInputError, r"leave the float range"),
    # ragged rows: numpy's "inhomogeneous shape" ValueError (btyd/_covariates.py as_covariates)
    ("alive-ragged", lambda: _COV.probability_alive(*_F5, purchase_covariates=[[0.1], [0.2, 0.3], [0.1], [0.1], [0.2]], dropout_covariates={"age": _Z5[:, 1]}), InvalidInputError, r"purchase_covariates rows have different lengths"),
    # a fit on a covariate of 1e300: RuntimeWarning in the scoring step
    ("fit-huge", lambda: C.fit_bgnbd(_sim().frequency, _sim().recency, _sim().T, dropout_covariates={"age": np.r_[1e300, np.random.default_rng(1).normal(size=199)]}), InvalidInputError, r"dropout_covariates column 'age' has 1e\+300 at row 0: a fit needs covariates within"),
    # a plain Gamma-Gamma model given covariates=: Python's TypeError (btyd/_gamma_gamma.py)
    ("gg-spend-covariates", lambda: _GG.conditional_expected_spend([1, 2], [10.0, 20.0], covariates=[[1.0], [2.0]]), InvalidInputError, r"covariates was given, but GammaGammaModel has no covariates"),
    ("gg-mean-covariates", lambda: _GG.expected_spend(covariates=[[1.0]]), InvalidInputError, r"covariates was given, but GammaGammaModel"),
    ("gg-ll-covariates", lambda: _GG.customer_log_likelihood([1, 2], [10.0, 20.0], covariates=[[1.0], [2.0]]), InvalidInputError, r"covariates was given"),
    ("gg-simulate-covariates", lambda: _GG.simulate([1, 2], rng=1, covariates=[[1.0], [2.0]]), InvalidInputError, r"covariates was given"),
]  # fmt: skip

_GG = C.GammaGammaModel.from_params({"p": 6.25, "q": 3.74, "gamma": 15.44})


@pytest.mark.parametrize(
    ("call", "error", "match"), [c[1:] for c in _COV_BAD], ids=[c[0] for c in _COV_BAD]
)
def test_covariate_bad_input_gives_a_custrel_error(
    call: Callable[[], Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        call()


def test_covariate_predictions_still_work_in_range() -> None:
    out = _COV.probability_alive(*_F5, **_huge(0, 0, 3.0))
    assert np.isfinite(out).all()
    assert ((out >= 0) & (out <= 1)).all()


def test_one_history_with_several_covariate_rows_applies_to_each_row() -> None:
    # the shared covariate mixin reshaped k rows of results to the history's shape () and failed
    cov = {"purchase_covariates": _Z5[:, :1], "dropout_covariates": {"age": _Z5[:, 1]}}
    one = _COV.probability_alive(3, 20.0, 30.0, **cov)
    each = _COV.probability_alive([3] * 5, [20.0] * 5, [30.0] * 5, **cov)
    assert one.shape == (5,)
    np.testing.assert_array_equal(one, each)
    cond = _COV.conditional_expected_purchases(10.0, 3, 20.0, 30.0, **cov)
    np.testing.assert_array_equal(
        cond, _COV.conditional_expected_purchases(10.0, [3] * 5, [20.0] * 5, [30.0] * 5, **cov)
    )
