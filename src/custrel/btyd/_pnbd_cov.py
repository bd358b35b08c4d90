r"""The Pareto/NBD model with time-invariant covariates (Fader & Hardie 2007; CLVTools).

Customer *i*'s purchase rate is :math:`\lambda_i \sim \mathrm{Gamma}(r,
\alpha_i)` and its dropout rate :math:`\mu_i \sim \mathrm{Gamma}(s, \beta_i)`
with

.. math::

    \alpha_i = \alpha \exp(-\gamma_{purchase}' z_{1,i}), \qquad
    \beta_i = \beta \exp(-\gamma_{dropout}' z_{2,i}),

so :math:`E[\lambda_i] = r/\alpha_i = (r/\alpha)\,e^{\gamma_{purchase}'z_{1,i}}`:
a coefficient multiplies the mean purchase (or dropout) rate by
:math:`e^{\gamma}` per unit of its covariate. Everything else is the plain
Pareto/NBD model with :math:`\alpha_i, \beta_i` in place of
:math:`\alpha, \beta`, so the likelihood and the predictions are the same
kernels (:mod:`custrel.btyd._pnbd_math`) called with per-customer parameters.
The fitting machinery is :mod:`custrel.btyd._covariates`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import attrs
import numpy as np
import numpy.typing as npt

from custrel import _validate as v
from custrel.btyd import _covariates as cv
from custrel.btyd import _pnbd_math
from custrel.btyd._common import (
    _discounted_sum,
    _poisson_counts,
)
from custrel.btyd._pareto_nbd import ParetoNBDModel
from custrel.errors import ConvergenceError, InvalidInputError

__all__ = ["ParetoNBDCovariateModel"]

FloatArray = npt.NDArray[np.float64]

_START_CUSTOMERS = 20_000  # rows of the no-covariate fit that gives the start

_LINKS: tuple[tuple[str, str, float], ...] = (
    ("purchase", "alpha", -1.0),
    ("dropout", "beta", -1.0),
)


@attrs.frozen(eq=False, repr=False)
class ParetoNBDCovariateModel(cv.CovariatePredictions, ParetoNBDModel):
    r"""A Pareto/NBD model with time-invariant covariates; see :func:`fit_pareto_nbd`.

    Attributes
    ----------
    params : Mapping[str, float]
        ``r``, ``alpha``, ``s``, ``beta``, then ``purchase.<covariate>`` and
        ``dropout.<covariate>`` (the coefficients :math:`\gamma`).
    log_likelihood : float
        The maximised log-likelihood (without the penalty of ``reg_lambdas``).
    standard_errors : Mapping[str, float]
        From the inverse Hessian, every parameter.
    covariance : numpy.ndarray
        Covariance of the estimates in ``params`` order.
    n_customers, n_iterations, message
        As :class:`ParetoNBDModel`.
    covariate_names : Mapping[str, tuple of str]
        ``{"purchase": (...), "dropout": (...)}``: the covariates of each
        process (a process without covariates is absent).
    constraints : tuple of str
        Covariates whose purchase and dropout coefficients were fitted equal.
    reg_lambdas : Mapping[str, float]
        The L2 penalties of the fit.

    Notes
    -----
    .. math::

        \alpha_i = \alpha e^{-\gamma_{purchase}'z_{1,i}}, \qquad
        \beta_i = \beta e^{-\gamma_{dropout}'z_{2,i}}

    (Fader & Hardie 2007; CLVTools' ``pnbd`` with static covariates). A
    positive purchase coefficient raises the purchase rate: one unit of the
    covariate multiplies :math:`E[\lambda] = r/\alpha_i` by
    :math:`e^{\gamma}`; a positive dropout coefficient likewise multiplies
    the mean dropout rate :math:`s/\beta_i` (shorter lifetimes).

    Every prediction method takes ``purchase_covariates=`` and
    ``dropout_covariates=`` (one row per customer; a dataframe's columns are
    matched by name), required exactly for the processes that have
    coefficients.

    References
    ----------
    Fader, P. S. & Hardie, B. G. S. (2007). Incorporating time-invariant
    covariates into the Pareto/NBD and BG/NBD models.
    http://brucehardie.com/notes/019/
    """

    _links: ClassVar[tuple[tuple[str, str, float], ...]] = _LINKS

    # -- the family kernels on this model's own (bound) parameters ----------------
    # (RepeatPurchaseModel's other methods call these; an unbound model with
    # coefficients refuses them, see CovariateModel._row_theta)

    def _ll(self, x: FloatArray, tx: FloatArray, big_t: FloatArray) -> FloatArray:
        return _bound(self, _k_ll, x, tx, big_t)

    def _expected(self, t: FloatArray) -> FloatArray:
        return _bound(self, _k_expected, t)

    def _alive(self, x: FloatArray, tx: FloatArray, big_t: FloatArray) -> FloatArray:
        return _bound(self, _k_alive, x, tx, big_t)

    def _conditional(
        self, t: FloatArray, x: FloatArray, tx: FloatArray, big_t: FloatArray
    ) -> FloatArray:
        return _bound(self, _k_conditional, t, x, tx, big_t)

    def _discounted_purchases(
        self,
        horizon: int,
        period: float,
        rate: float,
        x: FloatArray,
        tx: FloatArray,
        big_t: FloatArray,
    ) -> FloatArray:
        return _bound(self, _k_discounted(horizon, period, rate), x, tx, big_t)

    def _pmf(self, n: FloatArray, t: FloatArray) -> FloatArray:
        return _bound(self, _k_pmf, n, t)

    def _simulate(
        self, n_customers: int, big_t: FloatArray, rng: np.random.Generator
    ) -> tuple[FloatArray, FloatArray]:
        r, alpha, s, beta = self._row_theta()
        lam = rng.gamma(r, 1.0 / np.asarray(alpha), size=n_customers)
        mu = rng.gamma(s, 1.0 / np.asarray(beta), size=n_customers)
        life = rng.exponential(1.0, size=n_customers) / np.maximum(mu, np.finfo(np.float64).tiny)
        active = np.minimum(life, big_t)
        freq = _poisson_counts(lam * active, rng, big_t)
        u = rng.random(n_customers)
        with np.errstate(divide="ignore"):
            rec = np.where(freq > 0, active * u ** (1.0 / np.maximum(freq, 1.0)), 0.0)
        return freq, rec


# ---------------------------------------------------------------------------
# Kernels: theta = (r, alpha, s, beta) with per-row alpha_i, beta_i (chunks)
# ---------------------------------------------------------------------------


def _k_ll(th: Any, x: FloatArray, tx: FloatArray, big_t: FloatArray) -> FloatArray:
    out: FloatArray = _pnbd_math._parts(th, x, tx, big_t, gradient=False)[0]
    return out


def _k_expected(th: Any, t: FloatArray) -> FloatArray:
    r, alpha, s, beta = th
    out: FloatArray = r / alpha * _pnbd_math.growth(s, t, np.asarray(beta, dtype=np.float64))
    return out


def _k_alive(th: Any, x: FloatArray, tx: FloatArray, big_t: FloatArray) -> FloatArray:
    return _pnbd_math._alive(th, x, tx, big_t)


def _k_conditional(
    th: Any, t: FloatArray, x: FloatArray, tx: FloatArray, big_t: FloatArray
) -> FloatArray:
    r, alpha, s, beta = th
    alive = _pnbd_math._alive(th, x, tx, big_t)
    out: FloatArray = alive * (r + x) / (alpha + big_t) * _pnbd_math.growth(s, t, beta + big_t)
    return out


def _k_discounted(horizon: int, period: float, rate: float) -> Any:
    """The discounted expected purchases over ``horizon`` periods (P(alive) once per customer)."""

    def kernel(th: Any, x: FloatArray, tx: FloatArray, big_t: FloatArray) -> FloatArray:
        r, alpha, s, beta = th
        factor = _pnbd_math._alive(th, x, tx, big_t) * (r + x) / (alpha + big_t)
        base = np.asarray(beta + big_t, dtype=np.float64)
        total = _discounted_sum(
            lambda t: _pnbd_math.growth(s, np.broadcast_to(t, base.shape), base),
            horizon,
            period,
            rate,
            base.shape,
        )
        out: FloatArray = factor * total
        return out

    return kernel


def _k_pmf(th: Any, n: FloatArray, t: FloatArray) -> FloatArray:
    return _pnbd_math._pmf(th, n, t)


def _bound(model: ParetoNBDCovariateModel, kernel: Any, *arrays: FloatArray) -> FloatArray:
    """A kernel on the model's own parameters (bound per-row ones, or the base ones)."""
    th = model._row_theta()
    cols, rows = cv.align_rows(arrays, th)
    out = np.asarray(kernel(rows, *cols), dtype=np.float64)
    return out.reshape(cv.row_shape(arrays, th))


def fit_pareto_nbd_covariates(
    frequency: Any,
    recency: Any,
    T: Any,
    *,
    purchase_covariates: Any = None,
    dropout_covariates: Any = None,
    constraints: Any = None,
    reg_lambdas: Any = None,
    weights: Any = None,
    initial: Mapping[str, float] | None = None,
    threads: int | None = None,
) -> ParetoNBDCovariateModel:
    """Fit the Pareto/NBD model with covariates (the body of :func:`fit_pareto_nbd`'s covariate path).

    See :func:`custrel.fit_pareto_nbd` for the parameters.
    """
    x, tx, big_t, w, design = cv.fit_data(
        frequency,
        recency,
        T,
        weights,
        {"purchase": purchase_covariates, "dropout": dropout_covariates},
        constraints=constraints,
        reg_lambdas=reg_lambdas,
        check=_check_frequency,
    )
    n = x.shape[0]
    names = ParetoNBDModel._param_names
    base_init, coef_init = cv.split_initial(initial, names, error=InvalidInputError)
    for key, val in base_init.items():
        base_init[key] = v.scalar(val, f"initial[{key!r}]", low=0.0, low_inclusive=False)
    coef_init = cv.check_initial(design, coef_init)
    # the no-covariate fit gives the start (on every k-th customer of a large data set:
    # the covariate fit refines it on a subsample anyway)
    stride = max(1, n // _START_CUSTOMERS)
    try:
        start = np.asarray(
            _pnbd_math.fit(
                x[::stride], tx[::stride], big_t[::stride], w[::stride], threads=threads
            ).params,
            dtype=np.float64,
        )
    except (ConvergenceError, InvalidInputError):
        start = _pnbd_math._start(x, big_t, w)
    for i, name in enumerate(names):
        if name in base_init:
            start[i] = base_init[name]
    fit = cv.fit_covariates(
        ParetoNBDCovariateModel._spec(),
        design,
        _row_loglik,
        (x, tx, big_t),
        w,
        start.tolist(),
        model="Pareto/NBD with covariates",
        prepare=_prepare,
        initial_coefficients=coef_init,
        threads=threads,
    )
    out: ParetoNBDCovariateModel = ParetoNBDCovariateModel._from_fit(fit, design, w)
    return out


def _check_frequency(x: FloatArray) -> None:
    v.check_range(
        x,
        "frequency",
        high=_pnbd_math.MAX_FREQUENCY,
        hint="a purchase count beyond 2**53 cannot be exact",
    )


def _prepare(columns: Sequence[FloatArray]) -> Any:
    x, tx, big_t = columns
    return x, tx, big_t, np.unique(x, return_inverse=True), _pnbd_math._stack(x, tx, big_t)


def _row_loglik(theta: cv.Theta, data: Any, gradient: bool) -> tuple[FloatArray, Any]:
    x, tx, big_t, unique_x, stacked = data
    prm: Any = theta
    ll, grads, _, _ = _pnbd_math._parts(
        prm, x, tx, big_t, gradient=gradient, unique_x=unique_x, stacked=stacked
    )
    return ll, grads
