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
from custrel.btyd._base import RepeatPurchaseModel
from custrel.btyd._common import (
    _as_rfm,
    _discounted_sum,
    _fit_weights,
    _horizon,
    _poisson_counts,
)
from custrel.btyd._pareto_nbd import ParetoNBDModel
from custrel.btyd._summary import BTYDSummary
from custrel.errors import ConvergenceError, InvalidInputError

__all__ = ["ParetoNBDCovariateModel"]

FloatArray = npt.NDArray[np.float64]

_START_CUSTOMERS = 20_000  # rows of the no-covariate fit that gives the start

_LINKS: tuple[tuple[str, str, float], ...] = (
    ("purchase", "alpha", -1.0),
    ("dropout", "beta", -1.0),
)


@attrs.frozen(eq=False, repr=False)
class ParetoNBDCovariateModel(cv.CovariateModel, ParetoNBDModel):
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

    @classmethod
    def from_params(cls, params: Mapping[str, float]) -> Any:
        """A model with known parameters: ``r, alpha, s, beta`` and the coefficients.

        Parameters
        ----------
        params : Mapping[str, float]
            The base parameters (> 0) and any number of coefficients named
            ``"purchase.<covariate>"`` or ``"dropout.<covariate>"``.

        Returns
        -------
        ParetoNBDCovariateModel

        Examples
        --------
        >>> from custrel.btyd._pnbd_cov import ParetoNBDCovariateModel
        >>> m = ParetoNBDCovariateModel.from_params({"r": 0.55, "alpha": 10.6, "s": 0.61,
        ...     "beta": 11.7, "purchase.vip": 0.7})
        >>> m.covariate_names["purchase"]
        ('vip',)
        >>> m.expected_purchases(39.0, purchase_covariates=[[0.0], [1.0]]).round(3).tolist()
        [1.201, 2.419]
        """
        return cls._from_named(params)

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

    # -- public predictions: the covariates give per-customer parameters ---------

    def _theta_rows(self, purchase: Any, dropout: Any, n_rows: int | None) -> tuple[Any, ...]:
        return self._rows({"purchase": purchase, "dropout": dropout}, n_rows)

    def customer_log_likelihood(
        self,
        frequency: Any,
        recency: Any,
        T: Any,
        *,
        threads: int | None = None,
        purchase_covariates: Any = None,
        dropout_covariates: Any = None,
    ) -> FloatArray:
        """Each customer's log-likelihood under the fitted parameters.

        Parameters
        ----------
        frequency, recency, T : array_like
            Summary columns (scalars broadcast).
        threads : int, optional
            Threads (the result is the same for any value).
        purchase_covariates, dropout_covariates : array_like or dataframe
            One row per customer (required for a process with coefficients).

        Returns
        -------
        numpy.ndarray
            One log-likelihood per customer; over the fitting data they sum
            to :attr:`log_likelihood`.
        """
        x, tx, big_t = _as_rfm(frequency, recency, T, allow_scalar=True)
        th = self._theta_rows(purchase_covariates, dropout_covariates, cv.customer_count(x))
        return cv.per_customer_rows(_k_ll, (x, tx, big_t), th, threads)

    def expected_purchases(
        self, t: Any, *, purchase_covariates: Any = None, dropout_covariates: Any = None
    ) -> FloatArray:
        r"""Expected repeat purchases in (0, t] of a new customer with these covariates.

        Parameters
        ----------
        t : float or array_like
            Time since the first purchase; broadcasts against the covariate rows.
        purchase_covariates, dropout_covariates : array_like or dataframe
            One row per new customer.

        Returns
        -------
        numpy.ndarray
            :math:`E[X(t)] = \frac{r\beta_i}{\alpha_i(s-1)}[1 - (\beta_i/(\beta_i+t))^{s-1}]`.
        """
        tt = _horizon(t)
        th = self._theta_rows(purchase_covariates, dropout_covariates, None)
        return cv.per_customer_rows(_k_expected, (tt,), th)

    def conditional_expected_purchases(
        self,
        t: Any,
        frequency: Any,
        recency: Any,
        T: Any,
        *,
        threads: int | None = None,
        purchase_covariates: Any = None,
        dropout_covariates: Any = None,
    ) -> FloatArray:
        """Expected purchases in (T, T + t] of customers with this history and these covariates.

        Parameters
        ----------
        t : float or array_like
            Length of the forecast window (one, or one per customer).
        frequency, recency, T : array_like
            Each customer's summary.
        threads : int, optional
            Threads (the result is the same for any value).
        purchase_covariates, dropout_covariates : array_like or dataframe
            One row per customer.

        Returns
        -------
        numpy.ndarray
        """
        x, tx, big_t = _as_rfm(frequency, recency, T, allow_scalar=True)
        tt = _horizon(t)
        if tt.ndim == 1 and x.ndim == 1 and tt.shape != x.shape and tt.shape != (1,):
            raise InvalidInputError(
                f"t has {tt.shape[0]} values but there are {x.shape[0]} customers; give one "
                "forecast window, or one per customer"
            )
        th = self._theta_rows(purchase_covariates, dropout_covariates, cv.customer_count(x))
        return cv.per_customer_rows(_k_conditional, (tt, x, tx, big_t), th, threads)

    def probability_alive(
        self,
        frequency: Any,
        recency: Any,
        T: Any,
        *,
        threads: int | None = None,
        purchase_covariates: Any = None,
        dropout_covariates: Any = None,
    ) -> FloatArray:
        """Probability that each customer is still active at T.

        Parameters
        ----------
        frequency, recency, T : array_like
            Each customer's summary.
        threads : int, optional
            Threads (the result is the same for any value).
        purchase_covariates, dropout_covariates : array_like or dataframe
            One row per customer.

        Returns
        -------
        numpy.ndarray
            In [0, 1].
        """
        x, tx, big_t = _as_rfm(frequency, recency, T, allow_scalar=True)
        th = self._theta_rows(purchase_covariates, dropout_covariates, cv.customer_count(x))
        return cv.per_customer_rows(_k_alive, (x, tx, big_t), th, threads)

    def probability_of_purchases(
        self, n: Any, t: Any, *, purchase_covariates: Any = None, dropout_covariates: Any = None
    ) -> FloatArray:
        """Probability that a new customer with these covariates makes ``n`` purchases in (0, t].

        Parameters
        ----------
        n : int or array_like of int
            Numbers of purchases.
        t : float or array_like
            Time since the first purchase.
        purchase_covariates, dropout_covariates : array_like or dataframe
            One row per new customer; ``n``, ``t`` and the rows broadcast.

        Returns
        -------
        numpy.ndarray
        """
        nn = v.as_float_array(n, "n", ndim=(0, 1))
        v.check_range(nn, "n", low=0.0)
        v.check_integer_valued(nn, "n")
        tt = _horizon(t)
        th = self._theta_rows(purchase_covariates, dropout_covariates, None)
        return cv.per_customer_rows(_k_pmf, (nn, tt), th)

    def customer_lifetime_value(
        self,
        frequency: Any,
        recency: Any,
        T: Any,
        spend: Any,
        *,
        horizon: int,
        discount_rate: float,
        margin: float = 1.0,
        period: float = 1.0,
        threads: int | None = None,
        purchase_covariates: Any = None,
        dropout_covariates: Any = None,
    ) -> FloatArray:
        r"""Discounted value of each customer's expected future purchases.

        As :meth:`RepeatPurchaseModel.customer_lifetime_value` (same
        arguments, checks and budgets), with each customer's own
        :math:`\alpha_i, \beta_i`.

        Parameters
        ----------
        frequency, recency, T : array_like
            Each customer's summary.
        spend : float or array_like
            Expected spend per future purchase.
        horizon : int
            Future periods to value.
        discount_rate : float
            Per period.
        margin : float
            Share of the spend that is profit.
        period : float
            Length of a period in the model's time unit.
        threads : int, optional
            Threads (the result is the same for any value).
        purchase_covariates, dropout_covariates : array_like or dataframe
            One row per customer.

        Returns
        -------
        numpy.ndarray
        """
        x, tx, big_t = _as_rfm(frequency, recency, T, allow_scalar=True)
        th = self._theta_rows(purchase_covariates, dropout_covariates, cv.customer_count(x))
        shape = cv.row_shape((x,), th)
        sp = v.as_float_array(spend, "spend", ndim=(0, 1))
        h = v.positive_int(horizon, "horizon")
        d = v.discount_rate(discount_rate)
        mg = v.scalar(margin, "margin")
        p = v.scalar(period, "period", low=0.0, low_inclusive=False)
        size = int(np.prod(shape, dtype=np.int64))
        if sp.ndim == 1 and len(shape) == 1 and sp.shape != shape:
            raise InvalidInputError(
                f"spend has {sp.shape[0]} values but there are {size} customers; give one "
                "spend per customer or a single value"
            )
        v.check_budget(
            float(h),
            "the CLV horizon",
            budget=v.max_periods(),
            culprit=f"horizon={h!r}",
            env="CUSTREL_MAX_PERIODS",
            hint="value a shorter horizon or longer periods",
        )
        v.check_budget(
            float(h) * max(size, 1),
            "the CLV forecast (periods x customers)",
            budget=v.max_cells(),
            culprit=f"horizon={h!r} for {size} customers",
            env="CUSTREL_MAX_CELLS",
            hint="value the customers in batches",
        )
        purchases = cv.per_customer_rows(_k_discounted(h, p, d), (x, tx, big_t), th, threads)
        out: FloatArray = mg * sp * purchases
        return out

    def simulate(
        self,
        n_customers: int,
        T: Any,
        *,
        rng: np.random.Generator | int | None = None,
        purchase_covariates: Any = None,
        dropout_covariates: Any = None,
    ) -> BTYDSummary:
        """Simulate customers with these covariates from the fitted parameters.

        Parameters
        ----------
        n_customers : int
            How many customers (the covariates have one row each).
        T : float or array_like
            Each customer's age at the end of the window.
        rng : numpy.random.Generator, int or None
            Randomness.
        purchase_covariates, dropout_covariates : array_like or dataframe
            One row per simulated customer.

        Returns
        -------
        BTYDSummary
        """
        n = v.positive_int(n_customers, "n_customers")
        bound = self._bind({"purchase": purchase_covariates, "dropout": dropout_covariates}, n)
        return RepeatPurchaseModel.simulate(bound, n, T, rng=rng)


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
    x, tx, big_t = _as_rfm(frequency, recency, T)
    v.check_range(
        x,
        "frequency",
        high=_pnbd_math.MAX_FREQUENCY,
        hint="a purchase count beyond 2**53 cannot be exact",
    )
    n = x.shape[0]
    w = _fit_weights(weights, n)
    if not np.any(x > 0):
        raise InvalidInputError(
            f"frequency is 0 for all {n} rows: without repeat purchases the model "
            "cannot be estimated; use a longer calibration window"
        )
    z1 = (
        None
        if purchase_covariates is None
        else cv.as_covariates(purchase_covariates, "purchase_covariates", n)
    )
    z2 = (
        None
        if dropout_covariates is None
        else cv.as_covariates(dropout_covariates, "dropout_covariates", n)
    )
    if z1 is None and z2 is None:
        raise InvalidInputError(
            "constraints and reg_lambdas need covariates: pass purchase_covariates and/or "
            "dropout_covariates"
        )
    design = cv.make_design(
        {"purchase": z1, "dropout": z2}, constraints=constraints, reg_lambdas=reg_lambdas
    )
    names = ParetoNBDModel._param_names
    base_init = {}
    coef_init = {}
    if initial is not None:
        if not isinstance(initial, Mapping):
            raise InvalidInputError(
                f"initial must be a mapping of parameter names to values, got {type(initial).__name__}"
            )
        for key, val in initial.items():
            if key in names:
                base_init[key] = v.scalar(val, f"initial[{key!r}]", low=0.0, low_inclusive=False)
            else:
                coef_init[str(key)] = val
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
    params, se = fit.as_dicts()
    return ParetoNBDCovariateModel(
        params=params,
        log_likelihood=fit.log_likelihood,
        standard_errors=se,
        covariance=fit.covariance,
        n_customers=float(np.sum(w)),
        n_iterations=fit.n_iterations,
        message=fit.message,
        covariate_names={p: m.names for p, m in design.matrices.items()},
        constraints=design.constraints,
        reg_lambdas=dict(design.reg_lambdas),
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
