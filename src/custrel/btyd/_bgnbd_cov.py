r"""BG/NBD with time-invariant covariates (CLVTools' ``bgnbd`` with static covariates).

Customer *i* has covariates :math:`z_{1,i}` for the purchase process and
:math:`z_{2,i}` for the dropout process (a customers x k matrix each, either
may be absent). Its parameters are

.. math::

    \alpha_i = \alpha\, e^{-\gamma_{\mathrm{purchase}}' z_{1,i}}, \qquad
    a_i = a\, e^{\gamma_{\mathrm{dropout}}' z_{2,i}}, \qquad
    b_i = b\, e^{\gamma_{\mathrm{dropout}}' z_{2,i}},

and ``r`` is common to all customers. This is the form of CLVTools
(``bgnbd_staticcov_LL_ind`` and ``bgnbd_staticcov_alpha_i / _a_i / _b_i``
in its C++ sources, 0.12: "alpha_i: alpha0 * exp(-cov.trans *
cov.params.trans), a_i: a0 * exp(cov.life * cov.param.life), b_i: b0 *
exp(cov.life * cov.param.life)"), following Fader & Hardie (2007). Given
:math:`(\alpha_i, a_i, b_i)` a customer's likelihood and every prediction
are the BG/NBD ones (Fader, Hardie & Lee 2005) with these parameters.

Reading the coefficients
------------------------
* :math:`\gamma_{\mathrm{purchase}} > 0` lowers :math:`\alpha_i`, so it
  raises the mean purchase rate :math:`r/\alpha_i` by the factor
  :math:`e^{\gamma}` per unit of the covariate.
* The dropout coefficients scale :math:`a_i` and :math:`b_i` alike, so the
  *mean* dropout probability after a purchase, :math:`a/(a+b)`, is the same
  for every customer: a covariate changes only how concentrated the dropout
  probabilities are around it (:math:`a_i + b_i` is the Beta distribution's
  precision). :math:`\gamma_{\mathrm{dropout}} > 0` makes the customers'
  dropout probabilities more alike (fewer very loyal and fewer very fickle
  customers). This is CLVTools' choice; it is not a shift of the mean
  dropout probability, and a data set with little dropout heterogeneity
  (large ``a`` and ``b``) identifies these coefficients poorly.

The log-likelihood's derivatives by each customer's own parameters come
from :func:`custrel.btyd._nbd._nbd_rows`; the fit
(:func:`custrel.btyd._covariates.fit_covariates`) chains them through the
links above.

References
----------
Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). "Counting your
customers" the easy way: an alternative to the Pareto/NBD model.
*Marketing Science* 24(2), 275-284.

Fader, P. S. & Hardie, B. G. S. (2007). Incorporating time-invariant
covariates into the Pareto/NBD and BG/NBD models.
http://brucehardie.com/notes/019/

Bachmann, P., Meierer, M. & Näf, J. CLVTools (R package, version 0.12),
``bgnbd`` with ``SetStaticCovariates``.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import attrs
import numpy as np
import numpy.typing as npt

from custrel import _numeric
from custrel.btyd import _covariates as cov
from custrel.btyd._common import _discounted_sum, _start_rate
from custrel.btyd._nbd import BGNBDModel, _nbd_rows, fit_bgnbd
from custrel.errors import ConvergenceError, FitWarning

__all__ = ["BGNBDCovariateModel"]

FloatArray = npt.NDArray[np.float64]

_NAMES = ("r", "alpha", "a", "b")
_LINKS: tuple[tuple[str, str, float], ...] = (
    ("purchase", "alpha", -1.0),
    ("dropout", "a", 1.0),
    ("dropout", "b", 1.0),
)
_SPEC = cov.CovariateSpec(_NAMES, _LINKS)


def _row_loglik(
    theta: Sequence[Any], data: Any, gradient: bool
) -> tuple[FloatArray, Sequence[FloatArray] | None]:
    """Per-row BG/NBD log-likelihood and its derivatives by each row's (r, alpha, a, b)."""
    x, tx, big_t = data
    return _nbd_rows(theta, x, tx, big_t, modified=False, grad=gradient)


@attrs.frozen(eq=False, repr=False)
class BGNBDCovariateModel(cov.CovariatePredictions, BGNBDModel):
    r"""A fitted BG/NBD model with time-invariant covariates; see :func:`~custrel.fit_bgnbd`.

    Attributes
    ----------
    params : Mapping[str, float]
        ``r``, ``alpha``, ``a``, ``b``, then ``purchase.<covariate>`` (the
        :math:`\gamma_{\mathrm{purchase}}`) and ``dropout.<covariate>`` (the
        :math:`\gamma_{\mathrm{dropout}}`) for each covariate.
    log_likelihood : float
        The maximised log-likelihood (weighted sum; without the penalty).
    standard_errors : Mapping[str, float]
        Standard errors of every entry of ``params``.
    covariance : numpy.ndarray
        Estimated covariance of the estimates, in ``params`` order.
    n_customers : float
        Customers fitted on (sum of the weights).
    n_iterations : int
        Optimizer iterations.
    message : str
        The optimizer's message.
    covariate_names : Mapping[str, tuple of str]
        The covariates of ``"purchase"`` and ``"dropout"``.
    constraints : tuple of str
        Covariates whose purchase and dropout coefficients were held equal.
    reg_lambdas : Mapping[str, float]
        The L2 penalties of the fit.

    Notes
    -----
    :math:`\alpha_i = \alpha e^{-\gamma_{\mathrm{purchase}}'z_{1,i}}`,
    :math:`a_i = a e^{\gamma_{\mathrm{dropout}}'z_{2,i}}`,
    :math:`b_i = b e^{\gamma_{\mathrm{dropout}}'z_{2,i}}` (CLVTools' static
    covariate BG/NBD; the module ``custrel.btyd._bgnbd_cov`` says how to read
    the coefficients). Every prediction method takes
    ``purchase_covariates=`` and ``dropout_covariates=`` (one row per
    customer, the fitted columns; a dataframe's columns are matched by
    name), required exactly for the processes the model has coefficients
    for, and predicts with the BG/NBD formulas at each customer's
    parameters.

    Examples
    --------
    >>> import numpy as np
    >>> from custrel.btyd._bgnbd_cov import BGNBDCovariateModel
    >>> m = BGNBDCovariateModel.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793,
    ...     "b": 2.426, "purchase.vip": 0.7, "dropout.vip": 0.5})
    >>> vip = np.array([[0.0], [1.0]])
    >>> m.probability_alive([2, 2], [30.43, 30.43], 38.86, purchase_covariates=vip,
    ...                     dropout_covariates=vip).round(3).tolist()
    [0.727, 0.695]
    """

    _links: ClassVar[tuple[tuple[str, str, float], ...]] = _LINKS

    def _ll(self, x: FloatArray, tx: FloatArray, big_t: FloatArray) -> FloatArray:
        return self._on_rows(BGNBDModel._ll, x, tx, big_t)

    def _alive(self, x: FloatArray, tx: FloatArray, big_t: FloatArray) -> FloatArray:
        return self._on_rows(BGNBDModel._alive, x, tx, big_t)

    def _expected(self, t: FloatArray) -> FloatArray:
        return self._on_rows(BGNBDModel._expected, t)

    def _conditional(
        self, t: FloatArray, x: FloatArray, tx: FloatArray, big_t: FloatArray
    ) -> FloatArray:
        (tt, xr, txr, tr), view, shape = self._aligned(t, x, tx, big_t)
        alive = BGNBDModel._alive(view, xr, txr, tr)
        out: FloatArray = alive * BGNBDModel._alive_expected(view, tt, xr, tr)
        return out.reshape(shape)

    def _discounted_purchases(
        self,
        horizon: int,
        period: float,
        rate: float,
        x: FloatArray,
        tx: FloatArray,
        big_t: FloatArray,
    ) -> FloatArray:
        # an active customer's forecast depends on (x, T) and its parameters only: one
        # evaluation per distinct (x, T, alpha_i, a_i, b_i) and period (customers who share
        # their covariates share their parameters), then P(alive) per customer
        (xr, txr, tr), view, shape = self._aligned(x, tx, big_t)
        rows = view._row_theta()
        linked = [i for i, q in enumerate(rows) if np.ndim(q)]
        (xu, tu, *pu), _, inv = _numeric.compress_rows(
            [xr, tr, *(rows[i] for i in linked)], np.ones(xr.size)
        )
        distinct = list(rows)
        for j, i in enumerate(linked):
            distinct[i] = pu[j]
        uview = attrs.evolve(view, row_params=tuple(distinct))
        total = _discounted_sum(
            lambda t: BGNBDModel._alive_expected(uview, t, xu, tu), horizon, period, rate, xu.shape
        )
        out: FloatArray = BGNBDModel._alive(view, xr, txr, tr) * total[inv]
        return out.reshape(shape)

    def _pmf(self, n: FloatArray, t: FloatArray) -> FloatArray:
        return self._on_rows(BGNBDModel._pmf, n, t)

    def _simulate(
        self, n_customers: int, big_t: FloatArray, rng: np.random.Generator
    ) -> tuple[FloatArray, FloatArray]:
        (tr,), view, _ = self._aligned(big_t)
        return BGNBDModel._simulate(view, n_customers, tr, rng)


def fit_bgnbd_covariates(
    frequency: Any,
    recency: Any,
    T: Any,
    *,
    weights: Any = None,
    initial: Mapping[str, float] | None = None,
    purchase_covariates: Any = None,
    dropout_covariates: Any = None,
    constraints: Any = None,
    reg_lambdas: Any = None,
) -> BGNBDCovariateModel:
    """The covariate fit behind :func:`~custrel.fit_bgnbd` (its arguments, documented there)."""
    x, tx, big_t, w, design = cov.fit_data(
        frequency,
        recency,
        T,
        weights,
        {"purchase": purchase_covariates, "dropout": dropout_covariates},
        constraints=constraints,
        reg_lambdas=reg_lambdas,
    )
    base_init, coef_init = cov.split_initial(initial, _NAMES)
    start = _start(x, tx, big_t, w, base_init)
    fit = cov.fit_covariates(
        _SPEC,
        design,
        _row_loglik,
        (x, tx, big_t),
        w,
        start,
        model="BG/NBD with covariates",
        initial_coefficients=coef_init,
    )
    out: BGNBDCovariateModel = BGNBDCovariateModel._from_fit(fit, design, w)
    return out


def _start(
    x: FloatArray, tx: FloatArray, big_t: FloatArray, w: FloatArray, base_init: dict[str, float]
) -> list[float]:
    """Base starting values: the no-covariate fit (with any given ones), else a default."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FitWarning)
            plain = fit_bgnbd(x, tx, big_t, weights=w, initial=base_init or None)
        start = dict(plain.params)
    except ConvergenceError:
        start = {"r": 1.0, "alpha": _start_rate(x, big_t, w), "a": 1.0, "b": 1.0}
    start.update(base_init)
    return [float(start[k]) for k in _NAMES]
