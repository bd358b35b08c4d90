"""Pareto/NBD with time-varying covariates (custrel.btyd._dyncov; Bachmann, Meierer & Näf 2021).

Known values:
- CLVTools 0.12.1's worked example of the dynamic-covariate likelihood terms
  (tests/testthat/dyncov_LL_reference.xlsx, shipped as
  ../shared/data/clvtools_dyncov_LL_reference.xlsx): the intercepts Bi() of the
  transaction walk and Di() of the lifetime walk for one customer (x 4,
  t_x 35.11, T 57.28, d1 = d_omega = 0.854), read from the workbook's cells;
- the apparel data with a 104-week calibration: with zero coefficients the
  likelihood is the plain Pareto/NBD's, -5848.097827 at CLVTools' plain optimum
  r 1.4490, alpha 48.6361, s 0.5613, beta 46.8844 (as tests/test_btyd_correlation.py).
No published dynamic-covariate fit on the apparel data was found (CLVTools'
tests check only consistency: zero coefficients give the no-covariate
likelihood, covariates constant in time the static-covariate likelihood);
those consistency checks are here too, on the likelihood, the fit and the
predictions.
"""

from __future__ import annotations

import csv
import gzip
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custrel import (
    FitWarning,
    InvalidInputError,
    InvalidTypeError,
    ParetoNBDModel,
    fit_pareto_nbd,
)
from custrel.btyd import _pnbd_math
from custrel.btyd._dyncov import (
    DynamicCovariateData,
    ParetoNBDDynCovModel,
    dynamic_covariate_data,
    fit_pareto_nbd_dyncov,
)
from custrel.btyd._dyncov_math import _gradient, _terms, _walk_intercepts, _walks

PLAIN = {"r": 1.4490, "alpha": 48.6361, "s": 0.5613, "beta": 46.8844}
PLAIN_LL = -5848.097827
CAL_END = "2006-12-31"  # 104 weeks after the first purchase (2005-01-02)

# ---- clvtools_dyncov_LL_reference.xlsx, sheet "Bi()": t_x 35.11, d1 0.854, aux walk exp(yX)
BI_TX, BI_D1 = 35.11, 0.854
BI_WALK = [0.123, 0.234, 0.345, 0.456, 0.567, 0.678]
BI = [
    -4.31853,
    -8.3105340000000005,
    -12.413537999999999,
    -16.627541999999998,
    -20.952545999999995,
    -25.388549999999999,
]  # cells C11:C16
# ---- sheet "Di()": d_omega 0.854; (real walk, aux walk, Di for i = 1..len(aux))
DI_D = 0.854
DI_CASES = [
    ([], [0.123], [0.0]),  # D13
    ([], [0.123, 0.234], [0.0, -9.4794000000000017e-2]),  # D19:D20
    ([], [0.123, 0.234, 0.345], [0.0, -9.4794000000000017e-2, -0.30058800000000002]),
    (
        [],
        [0.123, 0.234, 0.345, 0.456],
        [0.0, -9.4794000000000017e-2, -0.30058800000000002, -0.6173820000000001],
    ),  # D34:D37
    ([1.987], [0.123], [1.5918559999999999]),  # D44
    ([1.987], [0.123, 0.234], [1.5918559999999999, 1.3860619999999999]),
    ([1.987], [0.123, 0.234, 0.345], [1.5918559999999999, 1.3860619999999999, 1.0692680000000001]),
    (
        [1.987],
        [0.123, 0.234, 0.345, 0.456],
        [1.5918559999999999, 1.3860619999999999, 1.0692680000000001, 0.64147399999999988],
    ),
    ([1.987, 1.876], [0.123], [3.3448560000000001]),  # D74
    ([1.987, 1.876], [0.123, 0.234], [3.3448560000000001, 3.0280619999999994]),
    (
        [1.987, 1.876],
        [0.123, 0.234, 0.345],
        [3.3448560000000001, 3.0280619999999994, 2.6002679999999998],
    ),
    (
        [1.987, 1.876],
        [0.123, 0.234, 0.345, 0.456],
        [3.3448560000000001, 3.0280619999999994, 2.6002679999999998, 2.0614739999999991],
    ),  # D95:D98
]


def _read(path: Path, opener: Any = open) -> dict[str, np.ndarray]:
    with opener(path, "rt", newline="") as fh:
        rows = list(csv.reader(fh))
    cols = list(zip(*rows[1:], strict=True))
    out: dict[str, np.ndarray] = {}
    for name, col in zip(rows[0], cols, strict=True):
        try:
            out[name] = np.asarray(col, dtype=np.float64)
        except ValueError:
            out[name] = np.asarray(col)
    out["Id"] = out["Id"].astype(np.int64)
    return out


@pytest.fixture(scope="module")
def apparel(shared_data: Path) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    return _read(shared_data / "apparelTrans.csv"), _read(
        shared_data / "apparelDynCov.csv.gz", gzip.open
    )


def _data(
    apparel: Any, cov: dict[str, np.ndarray] | None = None, **kw: Any
) -> DynamicCovariateData:
    trans, dyn = apparel
    return dynamic_covariate_data(
        trans["Id"],
        trans["Date"],
        dyn if cov is None else cov,
        calibration_end=kw.pop("calibration_end", CAL_END),
        id_column="Id",
        date_column="Cov.Date",
        **kw,
    )


@pytest.fixture(scope="module")
def data(apparel: Any) -> DynamicCovariateData:
    return _data(apparel)


@pytest.fixture(scope="module")
def static_only(apparel: Any) -> dict[str, np.ndarray]:
    """The table with the two covariates that never change within a customer."""
    _, dyn = apparel
    return {k: dyn[k] for k in ("Id", "Cov.Date", "Gender", "Channel")}


def _theta(base: dict[str, float], gp: Any, gd: Any) -> np.ndarray:
    return np.concatenate([[base["r"], base["alpha"], base["s"], base["beta"]], gp, gd])


# ---------------------------------------------------------------------------
# Known values
# ---------------------------------------------------------------------------


def test_bi_intercepts_match_clvtools_workbook():
    got = _walk_intercepts(BI_WALK, [BI_D1] + [1.0] * 5, BI_TX)
    np.testing.assert_allclose(got, BI, rtol=1e-14, atol=1e-14)
    # a shorter walk gives the leading terms (the workbook's shorter cases repeat them)
    np.testing.assert_allclose(_walk_intercepts(BI_WALK[:2], [BI_D1, 1.0], BI_TX), BI[:2])


@pytest.mark.parametrize(
    ("real", "aux", "expected"), DI_CASES, ids=[f"real{len(c[0])}-aux{len(c[1])}" for c in DI_CASES]
)
def test_di_intercepts_match_clvtools_workbook(real, aux, expected):
    walk = real + aux
    got = _walk_intercepts(walk, [DI_D] + [1.0] * (len(walk) - 1), 0.0)[len(real) :]
    np.testing.assert_allclose(got, expected, rtol=1e-13, atol=1e-14)


def test_zero_coefficients_give_clvtools_plain_likelihood(data):
    w = _walks(data, np.arange(3), np.arange(3))
    ll = _terms(_theta(PLAIN, np.zeros(3), np.zeros(3)), w).ll
    assert ll.sum() == pytest.approx(PLAIN_LL, abs=1e-5)
    ref = _pnbd_math.log_likelihood(
        np.asarray(list(PLAIN.values())), data.frequency, data.recency, data.T
    )
    np.testing.assert_allclose(ll, ref, rtol=1e-12, atol=1e-12)


def test_data_preparation_matches_rfm_summary(apparel, data, shared_data):
    from custrel import TransactionLog, rfm_summary

    trans, _ = apparel
    log = TransactionLog.from_csv(
        shared_data / "apparelTrans.csv", customer_col="Id", time_col="Date", amount_col="Price"
    )
    s = rfm_summary(log, unit="week", calibration_end=np.datetime64(CAL_END))
    np.testing.assert_array_equal(data.customer_id, np.unique(trans["Id"]))
    np.testing.assert_allclose(data.frequency, s.frequency)
    np.testing.assert_allclose(data.recency, s.recency)
    np.testing.assert_allclose(data.T, s.T)


def test_time_constant_covariates_give_static_likelihood(apparel, static_only):
    d = _data(apparel, static_only)
    gp, gd = np.array([0.3, -0.4]), np.array([0.5, 0.2])
    ll = _terms(_theta(PLAIN, gp, gd), _walks(d, np.arange(2), np.arange(2))).ll
    z = np.stack([static_only["Gender"], static_only["Channel"]], axis=1)
    zc = np.zeros((d.n_customers, 2))
    zc[np.searchsorted(d.customer_id, static_only["Id"])] = z
    for key in {tuple(row) for row in zc.tolist()}:
        rows = np.flatnonzero(np.all(zc == key, axis=1))
        prm = np.array(
            [
                PLAIN["r"],
                PLAIN["alpha"] * np.exp(-np.dot(key, gp)),
                PLAIN["s"],
                PLAIN["beta"] * np.exp(-np.dot(key, gd)),
            ]
        )
        ref = _pnbd_math.log_likelihood(
            prm, data_x := d.frequency[rows], d.recency[rows], d.T[rows]
        )
        # the static form integrates over lambda_i = lambda e^{g'z}; the dynamic one keeps
        # lambda and the product of a(t_j) = e^{x g'z}: the same likelihood
        assert data_x.shape == rows.shape
        np.testing.assert_allclose(ll[rows], ref, rtol=1e-11, atol=1e-11)


def test_walks_merge_equal_periods_exactly(apparel, data):
    # High.Season changes a few times a year: the walks are runs, not weeks
    w = _walks(data, np.arange(3), np.arange(3))
    assert w.after_len.shape[1] <= 12
    np.testing.assert_allclose(
        w.after_len.sum(axis=1) + np.bincount(w.before_cust, w.before_len, minlength=600),
        data.T,
    )


@pytest.mark.parametrize(
    "theta",
    [
        [1.45, 48.6, 0.56, 46.9, 0.7, 0.2, 0.6, -0.5, 0.3, 0.5],
        [2.1, 120.0, 1.2, 85.0, 0.7, 0.25, 0.6, -3.0, -0.5, 0.5],
        [0.5, 5.0, 3.0, 9.0, -1.0, 0.2, 0.6, 2.0, -0.5, 0.5],
    ],
    ids=["near-plain", "seasonal-dropout", "small-alpha"],
)
def test_analytic_gradient_matches_central_differences(data, theta):
    w = _walks(data, np.arange(3), np.arange(3))
    th = np.asarray(theta)
    ll, grad = _gradient(th, w)
    assert ll == _terms(th, w).ll.sum()
    steps = 1e-6 * np.maximum(1.0, np.abs(th))
    num = [
        (_terms(th + e, w).ll.sum() - _terms(th - e, w).ll.sum()) / (2 * h)
        for e, h in zip(np.diag(steps), steps, strict=True)
    ]
    np.testing.assert_allclose(grad, num, rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------------------
# Fits
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def seasonal(data) -> ParetoNBDDynCovModel:
    return fit_pareto_nbd_dyncov(
        data,
        purchase_covariates=["High.Season", "Gender", "Channel"],
        dropout_covariates=["Gender", "Channel"],
    )


def test_no_covariates_give_the_plain_fit(data):
    m = fit_pareto_nbd_dyncov(data, purchase_covariates=[], dropout_covariates=[])
    plain = fit_pareto_nbd(data.frequency, data.recency, data.T)
    assert list(m.params) == ["r", "alpha", "s", "beta"]
    for k in plain.params:
        assert m.params[k] == pytest.approx(plain.params[k], rel=1e-4)
    assert m.log_likelihood == pytest.approx(plain.log_likelihood, abs=1e-6)


def test_time_constant_covariates_give_the_static_fit(apparel, static_only):
    d = _data(apparel, static_only)
    m = fit_pareto_nbd_dyncov(d)
    z = np.zeros((d.n_customers, 2))
    z[np.searchsorted(d.customer_id, static_only["Id"])] = np.stack(
        [static_only["Gender"], static_only["Channel"]], axis=1
    )
    static = fit_pareto_nbd(
        d.frequency, d.recency, d.T, purchase_covariates=z, dropout_covariates=z
    )
    assert m.log_likelihood == pytest.approx(static.log_likelihood, abs=1e-5)
    got = list(m.params.values())
    want = list(static.params.values())
    np.testing.assert_allclose(got, want, rtol=2e-3, atol=2e-3)
    np.testing.assert_allclose(
        list(m.standard_errors.values()), list(static.standard_errors.values()), rtol=2e-2
    )


def test_flat_direction_warns(data):
    # nobody drops out in a high-season week: dropout.High.Season runs off to about -14
    with pytest.warns(FitWarning, match=r"dropout.High.Season = .* flat in that direction"):
        m = fit_pareto_nbd_dyncov(data)
    assert m.params["dropout.High.Season"] < -8


def test_seasonal_fit_reads_the_effects(seasonal):
    assert list(seasonal.params) == [
        "r",
        "alpha",
        "s",
        "beta",
        "purchase.High.Season",
        "purchase.Gender",
        "purchase.Channel",
        "dropout.Gender",
        "dropout.Channel",
    ]
    assert seasonal.covariance.shape == (9, 9)
    se = seasonal.standard_errors
    assert all(np.isfinite(list(se.values())))
    # customers buy more in the high season: well beyond two standard errors
    assert seasonal.params["purchase.High.Season"] > 4 * se["purchase.High.Season"]
    with pytest.raises(ValueError, match="read-only"):
        seasonal.covariance[0, 0] = 1.0


# ---------------------------------------------------------------------------
# Predictions
# ---------------------------------------------------------------------------


def _zero(model: ParetoNBDDynCovModel) -> ParetoNBDDynCovModel:
    return model.with_params({**model.params, **dict.fromkeys(list(model.params)[4:], 0.0)})


def test_zero_coefficient_predictions_equal_plain_model(data, seasonal):
    m = _zero(seasonal)
    plain = ParetoNBDModel.from_params({k: m.params[k] for k in ("r", "alpha", "s", "beta")})
    np.testing.assert_allclose(
        m.probability_alive(data),
        plain.probability_alive(data.frequency, data.recency, data.T),
        rtol=1e-10,
    )
    np.testing.assert_allclose(
        m.conditional_expected_purchases(data, 52.0),
        plain.conditional_expected_purchases(52.0, data.frequency, data.recency, data.T),
        rtol=1e-9,
    )


def test_time_constant_predictions_equal_static_model(apparel, static_only):
    d = _data(apparel, static_only)
    m = ParetoNBDDynCovModel(
        params={
            **PLAIN,
            "purchase.Gender": 0.3,
            "purchase.Channel": -0.4,
            "dropout.Gender": 0.5,
            "dropout.Channel": 0.2,
        },
        log_likelihood=float("nan"),
        standard_errors={},
        covariance=np.zeros((0, 0)),
        n_customers=0.0,
        purchase_covariates=("Gender", "Channel"),
        dropout_covariates=("Gender", "Channel"),
    )
    cet = m.conditional_expected_purchases(d, 39.0)
    alive = m.probability_alive(d)
    z = np.zeros((d.n_customers, 2))
    z[np.searchsorted(d.customer_id, static_only["Id"])] = np.stack(
        [static_only["Gender"], static_only["Channel"]], axis=1
    )
    for key in {tuple(row) for row in z.tolist()}:
        rows = np.flatnonzero(np.all(z == key, axis=1))
        st_m = ParetoNBDModel.from_params(
            {
                "r": PLAIN["r"],
                "alpha": PLAIN["alpha"] * np.exp(-np.dot(key, [0.3, -0.4])),
                "s": PLAIN["s"],
                "beta": PLAIN["beta"] * np.exp(-np.dot(key, [0.5, 0.2])),
            }
        )
        args = (d.frequency[rows], d.recency[rows], d.T[rows])
        np.testing.assert_allclose(alive[rows], st_m.probability_alive(*args), rtol=1e-10)
        np.testing.assert_allclose(
            cet[rows], st_m.conditional_expected_purchases(39.0, *args), rtol=1e-9
        )


def test_discounted_purchases(data, seasonal):
    cet = seasonal.conditional_expected_purchases(data, 26.0)
    np.testing.assert_allclose(
        seasonal.discounted_expected_purchases(data, 26.0, discount_rate=0.0), cet, rtol=1e-10
    )
    d1 = seasonal.discounted_expected_purchases(data, 26.0, discount_rate=0.01)
    d2 = seasonal.discounted_expected_purchases(data, 26.0, discount_rate=0.05)
    assert np.all(d2 <= d1)
    assert np.all(d1 <= cet)
    assert np.all(d2 > 0)


def test_future_covariates_drive_the_prediction(apparel, data, seasonal):
    # the same history with the next 13 weeks all in high season, or all out of it
    _, dyn = apparel
    future = dyn["Cov.Date"].astype("datetime64[D]") >= np.datetime64(CAL_END)
    hi = {**dyn, "High.Season": np.where(future, 1.0, dyn["High.Season"])}
    lo = {**dyn, "High.Season": np.where(future, 0.0, dyn["High.Season"])}
    d_hi, d_lo = _data(apparel, hi), _data(apparel, lo)
    np.testing.assert_array_equal(
        seasonal.probability_alive(d_hi), seasonal.probability_alive(d_lo)
    )
    c_hi = seasonal.conditional_expected_purchases(d_hi, 13.0)
    c_lo = seasonal.conditional_expected_purchases(d_lo, 13.0)
    # the purchase rate is exp(purchase.High.Season) times higher in every future week
    np.testing.assert_allclose(
        c_hi / c_lo, np.exp(seasonal.params["purchase.High.Season"]), rtol=1e-12
    )
    assert seasonal.conditional_expected_purchases(data, 0.0).tolist() == [0.0] * 600


def test_prediction_needs_future_covariates(data, seasonal):
    # the table ends in December 2010: 4 years ahead is not covered
    with pytest.raises(
        InvalidInputError, match=r"no row for customer 1 and the period starting 2011"
    ):
        seasonal.conditional_expected_purchases(data, 260.0)


# ---------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------


def _toy(days: list[int], seasons: list[float], end: int) -> DynamicCovariateData:
    start = np.datetime64("2020-01-05")
    n_p = (max(end, max(days)) + 60) // 7 + 2  # the prediction periods too
    cov = {
        "customer_id": np.zeros(n_p, dtype=np.int64),
        "date": start + 7 * np.arange(n_p),
        "season": np.resize(np.asarray(seasons, dtype=np.float64), n_p),
    }
    return dynamic_covariate_data(
        np.zeros(len(days), dtype=np.int64),
        start + np.asarray(days),
        cov,
        calibration_end=start + end,
    )


@settings(max_examples=40, deadline=None)
@given(
    gaps=st.lists(st.integers(0, 60), min_size=0, max_size=40),
    tail=st.integers(0, 400),
    seasons=st.lists(st.sampled_from([0.0, 1.0, -3.0, 5.0]), min_size=1, max_size=6),
    gp=st.floats(-4, 4),
    gd=st.floats(-4, 4),
    base=st.tuples(*[st.floats(-6, 6)] * 4),
)
def test_likelihood_finite_and_alive_is_a_probability(gaps, tail, seasons, gp, gd, base):
    days = np.cumsum([0, *gaps]).tolist()
    d = _toy(days, seasons, days[-1] + tail)
    m = ParetoNBDDynCovModel(
        params={
            "r": np.exp(base[0]),
            "alpha": np.exp(base[1]),
            "s": np.exp(base[2]),
            "beta": np.exp(base[3]),
            "purchase.season": gp,
            "dropout.season": gd,
        },
        log_likelihood=float("nan"),
        standard_errors={},
        covariance=np.zeros((0, 0)),
        n_customers=0.0,
        purchase_covariates=("season",),
        dropout_covariates=("season",),
    )
    ll = m.customer_log_likelihood(d)
    assert np.all(np.isfinite(ll))
    total, grad = _gradient(m._theta_all(), _walks(d, np.arange(1), np.arange(1)))
    assert total == pytest.approx(float(ll.sum()), rel=1e-12, abs=1e-12)
    assert np.all(np.isfinite(grad))
    alive = m.probability_alive(d)
    assert np.all((alive >= 0.0) & (alive <= 1.0))
    c1 = m.conditional_expected_purchases(d, 3.0)
    c2 = m.conditional_expected_purchases(d, 7.5)
    assert np.all(np.isfinite(c2))
    assert np.all(c2 >= c1)
    assert np.all(c1 >= 0.0)


def test_row_order_of_the_table_does_not_matter(apparel, data):
    _, dyn = apparel
    rev = {k: v[::-1] for k, v in dyn.items()}
    d2 = _data(apparel, rev)
    w1 = _walks(data, np.arange(3), np.arange(3))
    w2 = _walks(d2, np.arange(3), np.arange(3))
    th = _theta(PLAIN, [0.2, 0.1, -0.1], [-0.3, 0.2, 0.1])
    np.testing.assert_array_equal(_terms(th, w1).ll, _terms(th, w2).ll)


def test_inputs_are_not_mutated_and_results_are_read_only(apparel, data):
    _, dyn = apparel
    before = dyn["High.Season"].copy()
    _data(apparel)
    np.testing.assert_array_equal(dyn["High.Season"], before)
    with pytest.raises(ValueError, match="read-only"):
        data.frequency[0] = 3.0


# ---------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------

_TRANS = {"id": [1, 1, 2], "date": ["2020-01-06", "2020-01-15", "2020-01-08"]}


def _cov(**changes: Any) -> dict[str, Any]:
    cov: dict[str, Any] = {
        "customer_id": [1, 1, 1, 2, 2, 2],
        "date": ["2020-01-06", "2020-01-13", "2020-01-20"] * 2,
        "season": [0.0, 1.0, 0.0, 0.0, 1.0, 0.0],
        "promo": [1.0, 0.0, 0.0, 0.0, 1.0, 1.0],
    }
    cov.update(changes)
    return cov


def _drop_row(i: int) -> dict[str, Any]:
    return {k: [x for j, x in enumerate(v) if j != i] for k, v in _cov().items()}


BAD_DATA = [
    (
        "missing-period",
        _drop_row(4),
        {},
        InvalidInputError,
        r"no row for customer 2 and the period starting 2020-01-13",
    ),
    (
        "nan-covariate",
        _cov(season=[0.0, np.nan, 0.0, 0.0, 1.0, 0.0]),
        {},
        InvalidInputError,
        r"covariates\['season'\] must be finite, got nan at row 1",
    ),
    (
        "duplicate-row",
        _cov(date=["2020-01-06", "2020-01-06", "2020-01-20"] * 2),
        {},
        InvalidInputError,
        r"two rows for customer 1 and the period starting 2020-01-06",
    ),
    (
        "irregular-grid",
        _cov(date=["2020-01-06", "2020-01-13", "2020-01-21"] * 2),
        {},
        InvalidInputError,
        r"regular grid .* step of 8 days after 2020-01-13",
    ),
    (
        "unknown-customer",
        _cov(customer_id=[1, 1, 1, 3, 3, 3]),
        {},
        InvalidInputError,
        r"customer 3, who has no transactions",
    ),
    (
        "no-id-column",
        {k: v for k, v in _cov().items() if k != "customer_id"},
        {},
        InvalidInputError,
        r"must have a column 'customer_id'",
    ),
    (
        "text-covariate",
        _cov(season=["a", "b", "c", "a", "b", "c"]),
        {},
        InvalidTypeError,
        r"covariates\['season'\] must be numeric",
    ),
    ("not-a-table", [[1, 2]], {}, InvalidTypeError, r"covariates must be a dataframe"),
    (
        "bad-date",
        _cov(date=["2020-01-06", "soon", "2020-01-20"] * 2),
        {},
        InvalidInputError,
        r"covariates\['date'\] must be calendar dates",
    ),
    (
        "late-first-purchase",
        _cov(),
        {"calibration_end": "2020-01-07"},
        InvalidInputError,
        r"customer 2 makes the first purchase on 2020-01-08, after",
    ),
    (
        "end-beyond-table",
        _cov(),
        {"calibration_end": "2020-02-20"},
        InvalidInputError,
        r"no row for customer 1 and the period starting 2020-01-27",
    ),
    ("bad-unit", _cov(), {"unit": "fortnight"}, InvalidInputError, r"unit must be one of"),
]


@pytest.mark.parametrize(
    ("cov", "kwargs", "error", "match"),
    [c[1:] for c in BAD_DATA],
    ids=[c[0] for c in BAD_DATA],
)
def test_bad_covariate_data(cov, kwargs, error, match):
    kw = {"calibration_end": "2020-01-20", **kwargs}
    with pytest.raises(error, match=match):
        dynamic_covariate_data(_TRANS["id"], _TRANS["date"], cov, **kw)


def test_missing_customer_in_table():
    cov = {k: v[:3] for k, v in _cov().items()}
    with pytest.raises(InvalidInputError, match=r"covariates have no rows for customer 2"):
        dynamic_covariate_data(_TRANS["id"], _TRANS["date"], cov, calibration_end="2020-01-20")


def _fit_bad(**kw: Any) -> None:
    d = dynamic_covariate_data(
        _TRANS["id"], _TRANS["date"], kw.pop("cov", _cov()), calibration_end="2020-01-20"
    )
    fit_pareto_nbd_dyncov(d, **kw)


BAD_FIT = [
    (
        "unknown-column",
        {"purchase_covariates": ["weather"]},
        InvalidInputError,
        r"purchase_covariates: unknown column 'weather'",
    ),
    (
        "repeated-column",
        {"dropout_covariates": ["season", "season"]},
        InvalidInputError,
        r"dropout_covariates must not repeat a column",
    ),
    (
        "string-not-list",
        {"purchase_covariates": "season"},
        InvalidTypeError,
        r"purchase_covariates must be a sequence of column names",
    ),
    (
        "constant-column",
        {"cov": _cov(promo=[1.0] * 6), "purchase_covariates": ["promo"]},
        InvalidInputError,
        r"column 'promo' is constant",
    ),
    (
        "collinear",
        {"cov": _cov(promo=[2.0, 4.0, 2.0, 2.0, 4.0, 2.0])},
        InvalidInputError,
        r"purchase_covariates: the columns \['season', 'promo'\] are collinear",
    ),
    (
        "bad-initial",
        {"initial": {"gamma": 1.0}},
        InvalidInputError,
        r"initial: unknown parameter 'gamma'",
    ),
]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"), [c[1:] for c in BAD_FIT], ids=[c[0] for c in BAD_FIT]
)
def test_bad_fit_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        _fit_bad(**kwargs)


def test_predictions_refuse_other_data(seasonal):
    with pytest.raises(InvalidTypeError, match="data must be a DynamicCovariateData"):
        seasonal.probability_alive((1, 2, 3))
    with pytest.raises(InvalidInputError, match="t must be"):
        seasonal.conditional_expected_purchases(
            dynamic_covariate_data(
                _TRANS["id"], _TRANS["date"], _cov(), calibration_end="2020-01-20"
            ),
            -1.0,
        )


# ---------------------------------------------------------------------------
# Tracking
# ---------------------------------------------------------------------------


def test_tracking_with_zero_coefficients_is_the_plain_expectation(apparel, data, seasonal):
    trans, _ = apparel
    times = np.datetime64("2005-01-08") + 7 * np.arange(0, 156, 13)
    m = _zero(seasonal)
    tr = m.expected_cumulative_transactions(data, times)
    plain = ParetoNBDModel.from_params({k: m.params[k] for k in ("r", "alpha", "s", "beta")})
    days = trans["Date"].astype("datetime64[D]").astype(np.int64)
    ids = trans["Id"]
    first_day = np.full(600, np.iinfo(np.int64).max)
    np.minimum.at(first_day, np.searchsorted(data.customer_id, ids), days)
    for j, t in enumerate(times.astype(np.int64)):
        age = np.clip((t + 1 - first_day) / 7.0, 0.0, None)
        want = float(np.sum(plain.expected_purchases(age)))
        assert tr.expected_cumulative[j] == pytest.approx(want, rel=1e-10)
        # actual: distinct (customer, day) repeat occasions up to and including the day
        occ = {(i, d) for i, d in zip(ids.tolist(), days.tolist(), strict=True) if d <= t}
        repeats = sum(1 for i, d in occ if d > first_day[np.searchsorted(data.customer_id, i)])
        assert tr.actual_cumulative[j] == repeats
    np.testing.assert_allclose(np.cumsum(tr.expected_incremental), tr.expected_cumulative)
    assert tr.n_customers[-1] == 600


def test_tracking_follows_the_season(data, seasonal):
    # the seasonal model's weekly expectation is higher in high-season weeks
    times = np.datetime64("2006-01-07") + 7 * np.arange(52)
    tr = seasonal.expected_cumulative_transactions(data, times)
    assert np.all(np.diff(tr.expected_cumulative) > 0)
    assert tr.expected_cumulative[-1] == pytest.approx(tr.actual_cumulative[-1], rel=0.1)


@pytest.mark.parametrize(
    ("times", "match"),
    [
        (["2006-01-07", "2006-01-07"], r"times must be increasing"),
        (["2012-01-07"], r"no row for customer 1 and the period starting 2011-01-02"),
        ([], r"times must not be empty"),
    ],
    ids=["repeated-time", "beyond-table", "empty"],
)
def test_bad_tracking_times(data, seasonal, times, match):
    with pytest.raises(InvalidInputError, match=match):
        seasonal.expected_cumulative_transactions(data, np.asarray(times, dtype="datetime64[D]"))


@pytest.mark.parametrize(
    ("params", "error", "match"),
    [
        ({"r": 1.0, "alpha": 1.0, "s": 1.0}, InvalidInputError, r"missing \['beta'\]"),
        ({**PLAIN, "gamma.x": 1.0}, InvalidInputError, r"unknown \['gamma.x'\]"),
        ({**PLAIN, "purchase.": 1.0}, InvalidInputError, r"unknown \['purchase.'\]"),
        ({**PLAIN, "r": -1.0}, InvalidInputError, r"params\['r'\]"),
        (
            {**PLAIN, "dropout.x": float("nan")},
            InvalidInputError,
            r"params\['dropout.x'\] must be finite",
        ),
        ([1.0], InvalidTypeError, r"params must be a mapping"),
    ],
    ids=["missing-base", "unknown-key", "empty-column", "negative-r", "nan-coefficient", "list"],
)
def test_bad_from_params(params, error, match):
    with pytest.raises(error, match=match):
        ParetoNBDDynCovModel.from_params(params)


# ---------------------------------------------------------------------------
# Recovery of known effects (seeded simulations)
# ---------------------------------------------------------------------------


def _simulate(seed: int, n: int = 500, gp: float = 0.8, gd: float = -0.7) -> DynamicCovariateData:
    """Customers with a weekly customer-specific promotion flag acting on both processes.

    r 1, alpha 6, s 1, beta 40 (weeks); purchases by thinning a Poisson process at
    the highest rate, the lifetime by inverting the piecewise linear cumulative
    dropout hazard from the first purchase.
    """
    rng = np.random.default_rng(seed)
    n_weeks = 104
    weeks = np.datetime64("2021-01-04") + 7 * np.arange(n_weeks)
    promo = (rng.random((n, n_weeks)) < 0.3).astype(float)
    start = rng.integers(0, 13, n)
    lam = rng.gamma(1.0, 1 / 6.0, n)
    mu = rng.gamma(1.0, 1 / 40.0, n)
    c = np.exp(gd * promo) * (np.arange(n_weeks)[None, :] >= start[:, None])
    cum = np.cumsum(c, axis=1)
    e = rng.exponential(1.0, n) / mu
    k = np.sum(cum < e[:, None], axis=1)  # the week in which the hazard reaches e
    rows = np.arange(n)
    before = np.where(k > 0, cum[rows, np.maximum(k - 1, 0)], 0.0)
    death = np.where(k < n_weeks, k + (e - before) / c[rows, np.minimum(k, n_weeks - 1)], np.inf)
    top = np.exp(max(gp, 0.0))
    cand = start[:, None] + rng.exponential(1.0 / (lam * top)[:, None], (n, 300)).cumsum(1)
    wk = np.minimum(np.floor(cand).astype(int), n_weeks - 1)
    keep = rng.random(cand.shape) < np.exp(gp * promo[rows[:, None], wk]) / top
    keep &= (cand < death[:, None]) & (cand < n_weeks)
    ids = np.concatenate([rows, np.nonzero(keep)[0]])
    days = weeks[0] + np.floor(7 * np.concatenate([start, cand[keep]])).astype(int)
    cov = {
        "customer_id": np.repeat(rows, n_weeks),
        "date": np.tile(weeks, n),
        "promo": promo.ravel(),
    }
    return dynamic_covariate_data(ids, days, cov, calibration_end="2022-06-26")


def test_known_effects_are_recovered():
    z = []
    for seed in range(4):
        m = fit_pareto_nbd_dyncov(_simulate(seed))
        for key, truth in (("purchase.promo", 0.8), ("dropout.promo", -0.7)):
            z.append((m.params[key] - truth) / m.standard_errors[key])
    z_abs = np.abs(z)
    assert np.all(z_abs < 3.0), z
    assert np.mean(z_abs < 2.0) >= 0.75, z


def test_new_customer_expectation(data, seasonal):
    m = _zero(seasonal)
    plain = ParetoNBDModel.from_params({k: m.params[k] for k in ("r", "alpha", "s", "beta")})
    np.testing.assert_allclose(m.expected_purchases(data, 30.0), plain.expected_purchases(30.0))
    e1 = seasonal.expected_purchases(data, 10.0)
    e2 = seasonal.expected_purchases(data, 30.0)
    assert np.all(e2 > e1)
    assert seasonal.expected_purchases(data, 0.0).tolist() == [0.0] * 600
    with pytest.raises(InvalidInputError, match=r"t must be"):
        seasonal.expected_purchases(data, float("nan"))


# ---------------------------------------------------------------------------
# Constraints and penalties (as CLVTools' names.cov.constr and reg.lambdas)
# ---------------------------------------------------------------------------


def _static_z(d: DynamicCovariateData, table: dict[str, np.ndarray]) -> np.ndarray:
    z = np.zeros((d.n_customers, 2))
    z[np.searchsorted(d.customer_id, table["Id"])] = np.stack(
        [table["Gender"], table["Channel"]], axis=1
    )
    return z


@pytest.mark.parametrize(
    "kwargs",
    [{"constraints": ["Gender"]}, {"reg_lambdas": {"purchase": 0.05, "dropout": 0.2}}],
    ids=["constraint", "penalty"],
)
def test_constraints_and_penalties_match_the_static_fit(apparel, static_only, kwargs):
    d = _data(apparel, static_only)
    m = fit_pareto_nbd_dyncov(d, **kwargs)
    pd = pytest.importorskip("pandas")
    z = pd.DataFrame(_static_z(d, static_only), columns=["Gender", "Channel"])
    static = fit_pareto_nbd(
        d.frequency, d.recency, d.T, purchase_covariates=z, dropout_covariates=z, **kwargs
    )
    assert list(m.params) == list(static.params)
    assert m.log_likelihood == pytest.approx(static.log_likelihood, abs=1e-5)
    np.testing.assert_allclose(
        list(m.params.values()), list(static.params.values()), rtol=2e-3, atol=2e-3
    )
    np.testing.assert_allclose(
        list(m.standard_errors.values()), list(static.standard_errors.values()), rtol=2e-2
    )


def test_constraint_makes_one_coefficient(data):
    m = fit_pareto_nbd_dyncov(
        data,
        purchase_covariates=["High.Season", "Gender"],
        dropout_covariates=["Gender"],
        constraints="Gender",
    )
    assert m.params["purchase.Gender"] == m.params["dropout.Gender"]
    i, j = list(m.params).index("purchase.Gender"), list(m.params).index("dropout.Gender")
    assert m.covariance[i, j] == pytest.approx(m.covariance[i, i])
    assert m.constraints == ("Gender",)
    free = fit_pareto_nbd_dyncov(
        data, purchase_covariates=["High.Season", "Gender"], dropout_covariates=["Gender"]
    )
    assert m.log_likelihood <= free.log_likelihood + 1e-8


def test_penalty_shrinks_the_coefficients(data):
    kw = {"purchase_covariates": ["High.Season", "Gender"], "dropout_covariates": ["Gender"]}
    free = fit_pareto_nbd_dyncov(data, **kw)
    pen = fit_pareto_nbd_dyncov(data, reg_lambdas={"purchase": 1.0, "dropout": 1.0}, **kw)
    assert abs(pen.params["purchase.High.Season"]) < abs(free.params["purchase.High.Season"])
    assert pen.log_likelihood < free.log_likelihood
    assert dict(pen.reg_lambdas) == {"purchase": 1.0, "dropout": 1.0}


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (
            {"constraints": ["High.Season"], "dropout_covariates": ["Gender"]},
            InvalidInputError,
            r"constraints names 'High.Season', which is not a column of dropout_covariates",
        ),
        ({"reg_lambdas": {"purchase": -1.0}}, InvalidInputError, r"reg_lambdas\['purchase'\]"),
        ({"reg_lambdas": {"spend": 1.0}}, InvalidInputError, r"unknown process 'spend'"),
        ({"reg_lambdas": 1.0}, InvalidTypeError, r"reg_lambdas must be a mapping"),
    ],
    ids=["constraint-one-process", "negative-penalty", "unknown-process", "float-penalty"],
)
def test_bad_constraints_and_penalties(data, kwargs, error, match):
    with pytest.raises(error, match=match):
        fit_pareto_nbd_dyncov(data, **kwargs)


def test_dataframe_input_equals_mapping(apparel, data, shared_data):
    pd = pytest.importorskip("pandas")
    trans = pd.read_csv(shared_data / "apparelTrans.csv", parse_dates=["Date"])
    dyn = pd.read_csv(shared_data / "apparelDynCov.csv.gz", parse_dates=["Cov.Date"])
    d = dynamic_covariate_data(
        trans["Id"],
        trans["Date"],
        dyn,
        calibration_end=pd.Timestamp(CAL_END),
        id_column="Id",
        date_column="Cov.Date",
    )
    np.testing.assert_array_equal(d.customer_id, data.customer_id)
    np.testing.assert_array_equal(d.frequency, data.frequency)
    np.testing.assert_array_equal(d.T, data.T)
    th = _theta(PLAIN, [0.2, 0.1, -0.1], [-0.3, 0.2, 0.1])
    np.testing.assert_array_equal(
        _terms(th, _walks(d, np.arange(3), np.arange(3))).ll,
        _terms(th, _walks(data, np.arange(3), np.arange(3))).ll,
    )


def test_threads_give_the_same_fit_to_the_last_bit(data, monkeypatch):
    from custrel.btyd import _dyncov

    monkeypatch.setattr(_dyncov, "_CHUNK_CUSTOMERS", 128)  # 5 chunks of the 600 customers
    kw = {"purchase_covariates": ["High.Season"], "dropout_covariates": ["Gender"]}
    one = fit_pareto_nbd_dyncov(data, threads=1, **kw)
    two = fit_pareto_nbd_dyncov(data, threads=2, **kw)
    assert dict(one.params) == dict(two.params)
    assert one.log_likelihood == two.log_likelihood
    # and the chunked sum is the whole likelihood
    from custrel.btyd._dyncov_math import _chunks

    w = _walks(data, np.arange(3), np.arange(3))
    th = _theta(PLAIN, [0.2, 0.1, -0.1], [-0.3, 0.2, 0.1])
    parts = [_gradient(th, c) for c in _chunks(w, 128)]
    whole = _gradient(th, w)
    assert sum(p[0] for p in parts) == pytest.approx(whole[0], rel=1e-13)
    np.testing.assert_allclose(sum(p[1] for p in parts), whole[1], rtol=1e-10)
