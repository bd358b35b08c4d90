"""The Pareto/NBD model (Schmittlein, Morrison & Colombo 1987).

Its mathematics lives in :mod:`custrel.btyd._pnbd_math`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import attrs
import numpy as np
import numpy.typing as npt

from custrel._lazy import LazyModule
from custrel.btyd import _pnbd_math as _pareto_nbd
from custrel.btyd._base import RepeatPurchaseModel
from custrel.btyd._common import (
    _broadcast_customers,
    _discounted_sum,
    _fit_rows,
    _initial,
    _start_rate,
)

special = LazyModule("scipy.special")  # imported on first use (import time)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


# ---------------------------------------------------------------------------
# Pareto/NBD (the mathematics live in custrel._pareto_nbd)
# ---------------------------------------------------------------------------


@attrs.frozen(eq=False, repr=False)
class ParetoNBDModel(RepeatPurchaseModel):
    r"""A fitted Pareto/NBD model (Schmittlein, Morrison & Colombo 1987); see :func:`fit_pareto_nbd`.

    While active, a customer buys at a Poisson rate :math:`\lambda \sim
    \mathrm{Gamma}(r, \alpha)`; the active lifetime is exponential with rate
    :math:`\mu \sim \mathrm{Gamma}(s, \beta)`.

    Attributes
    ----------
    params : Mapping[str, float]
        ``r``, ``alpha``, ``s``, ``beta`` (``alpha`` and ``beta`` in the time
        unit of the data).
    log_likelihood : float
        The maximised log-likelihood (weighted sum).
    standard_errors : Mapping[str, float]
        Standard errors from the inverse Hessian.
    covariance : numpy.ndarray
        The covariance of the estimates (inverse observed information, in the
        order of ``params``).
    n_customers : float
        Customers fitted on (sum of the weights).
    n_iterations : int
        Optimizer iterations.
    message : str
        The optimizer's message.

    Notes
    -----
    The likelihood and the predictions are evaluated without the Gauss
    hypergeometric function's overflow for large frequencies and long T
    (see the module ``custrel._pareto_nbd``).

    References
    ----------
    Schmittlein, D. C., Morrison, D. G. & Colombo, R. (1987). Counting your
    customers: who are they and what will they do next? *Management Science*
    33(1), 1-24.
    Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). A note on
    implementing the Pareto/NBD model in MATLAB.
    """

    _param_names: ClassVar[tuple[str, ...]] = ("r", "alpha", "s", "beta")

    def _ll(self, x: FloatArray, tx: FloatArray, big_t: FloatArray) -> FloatArray:
        out = _pareto_nbd.log_likelihood(self._theta(), x.ravel(), tx.ravel(), big_t.ravel())
        return np.asarray(out, dtype=np.float64).reshape(x.shape)

    def _expected(self, t: FloatArray) -> FloatArray:
        out = _pareto_nbd.expected_purchases(self._theta(), t.ravel())
        return np.asarray(out, dtype=np.float64).reshape(t.shape)

    def _alive(self, x: FloatArray, tx: FloatArray, big_t: FloatArray) -> FloatArray:
        out = _pareto_nbd.probability_alive(self._theta(), x.ravel(), tx.ravel(), big_t.ravel())
        return np.asarray(out, dtype=np.float64).reshape(x.shape)

    def _conditional(
        self, t: FloatArray, x: FloatArray, tx: FloatArray, big_t: FloatArray
    ) -> FloatArray:
        # inputs are validated: the kernels of _pareto_nbd directly, on copies of the
        # broadcast columns (never on broadcast views)
        tb, xb, txb, tb2 = (a.ravel() for a in _broadcast_customers(t, x, tx, big_t))
        prm = self._theta()
        r, alpha, s, beta = (float(q) for q in prm)
        alive = _pareto_nbd._alive(prm, xb, txb, tb2)
        out = alive * (r + xb) / (alpha + tb2) * _pareto_nbd.growth(s, tb, beta + tb2)
        shape = np.broadcast_shapes(np.shape(t), np.shape(x), np.shape(tx), np.shape(big_t))
        return np.asarray(out, dtype=np.float64).reshape(shape)

    def _discounted_purchases(
        self,
        horizon: int,
        period: float,
        rate: float,
        x: FloatArray,
        tx: FloatArray,
        big_t: FloatArray,
    ) -> FloatArray:
        # P(alive) once per customer; only the closed-form growth term depends on t
        r, alpha, s, beta = (float(q) for q in self._theta())
        xr, txr, tr = x.ravel(), tx.ravel(), big_t.ravel()
        factor = _pareto_nbd._alive(self._theta(), xr, txr, tr) * (r + xr) / (alpha + tr)
        base = beta + tr
        total = _discounted_sum(
            lambda t: _pareto_nbd.growth(s, np.broadcast_to(t, base.shape), base),
            horizon,
            period,
            rate,
            base.shape,
        )
        out: FloatArray = (factor * total).reshape(x.shape)
        return out

    def _pmf(self, n: FloatArray, t: FloatArray) -> FloatArray:
        nb, tb = _broadcast_customers(n, t)
        out = _pareto_nbd.probability_of_purchases(self._theta(), nb.ravel(), tb.ravel())
        return np.asarray(out, dtype=np.float64).reshape(nb.shape)

    def _simulate(
        self, n_customers: int, big_t: FloatArray, rng: np.random.Generator
    ) -> tuple[FloatArray, FloatArray]:
        out = _pareto_nbd.simulate(self._theta(), n_customers, big_t, rng)
        return (
            np.asarray(out["frequency"], dtype=np.float64),
            np.asarray(out["recency"], dtype=np.float64),
        )


def fit_pareto_nbd(
    frequency: Any,
    recency: Any,
    T: Any,
    *,
    weights: Any = None,
    initial: Mapping[str, float] | None = None,
    threads: int | None = None,
    purchase_covariates: Any = None,
    dropout_covariates: Any = None,
    constraints: Any = None,
    reg_lambdas: Mapping[str, float] | None = None,
) -> ParetoNBDModel:
    r"""Fit the Pareto/NBD model by maximum likelihood, with or without covariates.

    Parameters
    ----------
    frequency : array_like
        Repeat purchases per customer (whole numbers >= 0).
    recency : array_like
        Age at the last purchase (0 where frequency is 0), <= T.
    T : array_like
        Age at the end of the calibration window.
    weights : array_like, optional
        Customers per row (> 0).
    initial : Mapping[str, float], optional
        Starting values for some or all of ``r``, ``alpha``, ``s``, ``beta``.
    threads : int, optional
        Cores for the likelihood sums (else ``CUSTREL_THREADS``, else every
        core): threads, or on Linux, from 40,000 distinct rows, worker
        processes forked once per fit. The result is the same to the last
        bit for any value.
    purchase_covariates, dropout_covariates : array_like or dataframe, optional
        Time-invariant covariates of the transaction and the lifetime
        process: a customers x k matrix (coefficients named ``x1..xk``) or a
        dataframe (pandas, polars, pyarrow) whose column names name the
        coefficients, one row per customer (per weighted row with
        ``weights``) in the order of ``frequency`` (by position: a
        dataframe's index is not used to align). With either, the result is a
        :class:`~custrel.btyd._pnbd_cov.ParetoNBDCovariateModel` with
        :math:`\alpha_i = \alpha e^{-\gamma_{purchase}'z_{1,i}}` and
        :math:`\beta_i = \beta e^{-\gamma_{dropout}'z_{2,i}}` and
        ``params`` ``purchase.<name>``, ``dropout.<name>`` after the base
        parameters. ``initial`` may then also hold coefficients
        (``"purchase.<name>"``, ``"constr.<name>"``).
    constraints : str or sequence of str, optional
        Covariates present in both matrices whose purchase and dropout
        coefficients are fitted as one (CLVTools' ``names.cov.constr``).
    reg_lambdas : Mapping[str, float], optional
        L2 penalties ``{"purchase": l1, "dropout": l2}`` on the coefficients
        (CLVTools' ``reg.lambdas``; the standard errors then come from the
        penalised Hessian): the fit maximises
        :math:`\ell/N - \lambda_1\lVert\gamma_{purchase}\rVert^2 - \lambda_2\lVert\gamma_{dropout}\rVert^2`.

    Returns
    -------
    ParetoNBDModel
        (a ``ParetoNBDCovariateModel`` when covariates are given).

    Raises
    ------
    InvalidInputError
        As :func:`fit_bgnbd`.
    ConvergenceError
        If the optimizer fails.

    Notes
    -----
    Identical rows are merged into weighted rows, then the likelihood of
    Fader, Hardie & Lee (2005, "A note on implementing the Pareto/NBD model
    in MATLAB"), written so that it stays finite for every customer, is
    maximised over the logarithms of the parameters.

    References
    ----------
    Schmittlein, D. C., Morrison, D. G. & Colombo, R. (1987). Counting your
    customers: who are they and what will they do next? *Management Science*
    33(1), 1-24.

    Examples
    --------
    >>> from custrel import ParetoNBDModel, fit_pareto_nbd
    >>> truth = ParetoNBDModel.from_params({"r": 0.55, "alpha": 10.6, "s": 0.61, "beta": 11.7})
    >>> sim = truth.simulate(4000, T=39.0, rng=11)
    >>> m = fit_pareto_nbd(sim.frequency, sim.recency, sim.T)
    >>> sorted(m.params)
    ['alpha', 'beta', 'r', 's']
    >>> float(m.probability_alive(0, 0.0, 0.0))
    1.0
    """
    if (
        purchase_covariates is not None
        or dropout_covariates is not None
        or constraints is not None
        or reg_lambdas is not None
    ):
        from custrel.btyd._pnbd_cov import fit_pareto_nbd_covariates  # imports this module

        return fit_pareto_nbd_covariates(
            frequency,
            recency,
            T,
            purchase_covariates=purchase_covariates,
            dropout_covariates=dropout_covariates,
            constraints=constraints,
            reg_lambdas=reg_lambdas,
            weights=weights,
            initial=initial,
            threads=threads,
        )
    # checked here (rows named as the caller's), compressed chunk by chunk in fit()
    x, tx, big_t, w, total = _fit_rows(
        frequency, recency, T, weights, max_frequency=_pareto_nbd.MAX_FREQUENCY, threads=threads
    )
    names = ParetoNBDModel._param_names
    x0 = (
        None
        if initial is None
        else _initial(
            initial,
            names,
            np.asarray([1.0, _start_rate(x, big_t, w), 1.0, _start_rate(x, big_t, w)]),
        )
    )
    fit = _pareto_nbd.fit(x, tx, big_t, w, x0=x0, threads=threads, checked=True)
    se = np.asarray(fit.standard_errors, dtype=np.float64)
    cov = np.array(fit.covariance, dtype=np.float64)
    return ParetoNBDModel(
        params=dict(zip(names, np.asarray(fit.params, dtype=np.float64).tolist(), strict=True)),
        log_likelihood=float(fit.log_likelihood),
        standard_errors=dict(zip(names, se.tolist(), strict=True)),
        covariance=cov,
        n_customers=total,
        n_iterations=int(fit.n_iterations),
        message=str(fit.message),
    )
