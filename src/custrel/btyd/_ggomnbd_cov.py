r"""GGompertz/NBD with time-invariant covariates (CLVTools' ``ggomnbd`` with static covariates).

Customer *i* has covariates :math:`z_{1,i}` for the purchase process and
:math:`z_{2,i}` for the lifetime (dropout) process. Its parameters are

.. math::

    \alpha_i = \alpha\, e^{-\gamma_{\mathrm{purchase}}' z_{1,i}}, \qquad
    \beta_i = \beta\, e^{-\gamma_{\mathrm{dropout}}' z_{2,i}},

and ``r``, ``b``, ``s`` are common to all customers. This is the form of
CLVTools (``ggomnbd_staticcov_alpha_i``: "alpha0 * exp(-cov.trans *
cov.params.trans)", ``ggomnbd_staticcov_beta_i``: "beta0 * exp(-cov.life
* cov.parama.life)", C++ sources of version 0.12), the analogue of
Fader & Hardie's (2007) Pareto/NBD form. Given :math:`(\alpha_i,
\beta_i)` a customer's likelihood and every prediction are the
GGompertz/NBD ones (Bemmaor & Glady 2012) with these parameters.

Reading the coefficients
------------------------
* :math:`\gamma_{\mathrm{purchase}} > 0` lowers :math:`\alpha_i`: the mean
  purchase rate :math:`r/\alpha_i` grows by :math:`e^{\gamma}` per unit of
  the covariate.
* :math:`\gamma_{\mathrm{dropout}} > 0` lowers :math:`\beta_i`, the rate of
  the Gamma distribution of the Gompertz scale :math:`\eta`: the hazard of
  dropping out, :math:`\eta\, b\, e^{b t}`, grows by :math:`e^{\gamma}` on
  average (:math:`E[\eta] = s/\beta_i`), so lifetimes are shorter.

The fit starts from the no-covariate GGompertz/NBD fit and, where that
start fails or ends at the edge :math:`s, \beta \to \infty` (no lifetime
heterogeneity: a second maximum of this likelihood), also from the default
start, keeping the better optimum. Where the no-covariate fit lies in the
Pareto/NBD limit (:math:`b \to 0`: the pooled data show no aging of the
dropout rate) only the default start is tried; if ``b`` cannot be
estimated with the covariates either, the
:class:`~custrel.ConvergenceError` points to Pareto/NBD with covariates,
which is that limit.

References
----------
Bemmaor, A. C. & Glady, N. (2012). Modeling purchasing behavior with sudden
"death": a flexible customer lifetime model. *Management Science* 58(5),
1012-1021.

Fader, P. S. & Hardie, B. G. S. (2007). Incorporating time-invariant
covariates into the Pareto/NBD and BG/NBD models.
http://brucehardie.com/notes/019/

Bachmann, P., Meierer, M. & Näf, J. CLVTools (R package, version 0.12),
``ggomnbd`` with ``SetStaticCovariates``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import attrs
import numpy as np
import numpy.typing as npt

from custrel import _numeric
from custrel.btyd import _covariates as cov
from custrel.btyd._ggomnbd import _NAMES, GGompertzNBDModel, _chunked_rows, _maximize, _starts
from custrel.errors import ConvergenceError

__all__ = ["GGompertzNBDCovariateModel"]

FloatArray = npt.NDArray[np.float64]

_LINKS: tuple[tuple[str, str, float], ...] = (
    ("purchase", "alpha", -1.0),
    ("dropout", "beta", -1.0),
)
_SPEC = cov.CovariateSpec(_NAMES, _LINKS)
_S_EDGE = 1e3  # s beyond this: the Gamma mixing of the lifetimes is all but gone (CV < 3 %)


def _row_loglik(
    theta: Sequence[Any], data: Any, gradient: bool
) -> tuple[FloatArray, Sequence[FloatArray] | None]:
    """Per-row GGompertz/NBD log-likelihood and its derivatives by each row's parameters."""
    x, tx, big_t = data
    ll, _, g = _chunked_rows(theta, x, tx, big_t, grad=gradient)
    if g is None:
        return ll, None
    return ll, [g[:, k] for k in range(len(_NAMES))]


@attrs.frozen(eq=False, repr=False)
class GGompertzNBDCovariateModel(cov.CovariatePredictions, GGompertzNBDModel):
    r"""A fitted GGompertz/NBD model with time-invariant covariates; see :func:`~custrel.fit_ggomnbd`.

    Attributes
    ----------
    params : Mapping[str, float]
        ``r``, ``alpha``, ``b``, ``s``, ``beta``, then
        ``purchase.<covariate>`` and ``dropout.<covariate>`` for each
        covariate.
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
    :math:`\alpha_i = \alpha e^{-\gamma_{\mathrm{purchase}}'z_{1,i}}` and
    :math:`\beta_i = \beta e^{-\gamma_{\mathrm{dropout}}'z_{2,i}}`
    (CLVTools' static-covariate GGompertz/NBD; the module
    ``custrel.btyd._ggomnbd_cov`` says how to read the coefficients). Every
    prediction method takes ``purchase_covariates=`` and
    ``dropout_covariates=`` (one row per customer, the fitted columns; a
    dataframe's columns are matched by name), required exactly for the
    processes the model has coefficients for.

    Examples
    --------
    >>> import numpy as np
    >>> from custrel.btyd._ggomnbd_cov import GGompertzNBDCovariateModel
    >>> m = GGompertzNBDCovariateModel.from_params({"r": 0.6, "alpha": 8.0, "b": 0.05,
    ...     "s": 1.2, "beta": 2.0, "dropout.vip": -0.5})
    >>> m.probability_alive([3, 3], [45.0, 45.0], 52.0,
    ...                     dropout_covariates=np.array([[0.0], [1.0]])).round(3).tolist()
    [0.626, 0.654]
    """

    _links: ClassVar[tuple[tuple[str, str, float], ...]] = _LINKS

    def _ll(self, x: FloatArray, tx: FloatArray, big_t: FloatArray) -> FloatArray:
        return self._on_rows(GGompertzNBDModel._ll, x, tx, big_t)

    def _alive(self, x: FloatArray, tx: FloatArray, big_t: FloatArray) -> FloatArray:
        return self._on_rows(GGompertzNBDModel._alive, x, tx, big_t)

    def _expected(self, t: FloatArray) -> FloatArray:
        return self._on_rows(GGompertzNBDModel._expected, t)

    def _conditional(
        self, t: FloatArray, x: FloatArray, tx: FloatArray, big_t: FloatArray
    ) -> FloatArray:
        return self._on_rows(GGompertzNBDModel._conditional, t, x, tx, big_t)

    def _pmf(self, n: FloatArray, t: FloatArray) -> FloatArray:
        return self._on_rows(GGompertzNBDModel._pmf, n, t)

    def _simulate(
        self, n_customers: int, big_t: FloatArray, rng: np.random.Generator
    ) -> tuple[FloatArray, FloatArray]:
        (tr,), view, _ = self._aligned(big_t)
        return GGompertzNBDModel._simulate(view, n_customers, tr, rng)


def fit_ggomnbd_covariates(
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
) -> GGompertzNBDCovariateModel:
    """The covariate fit behind :func:`~custrel.fit_ggomnbd` (its arguments, documented there)."""
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
    fit: cov.CovariateFit | None = None
    first_error: ConvergenceError | None = None
    starts, limit = _start(x, tx, big_t, w, base_init)
    for start in starts:  # at most two fits, see _start
        try:
            got = cov.fit_covariates(
                _SPEC,
                design,
                _row_loglik,
                (x, tx, big_t),
                w,
                start,
                model="GGompertz/NBD with covariates",
                initial_coefficients=coef_init,
            )
        except ConvergenceError as err:
            first_error = first_error or err
            continue
        if fit is None or got.objective > fit.objective:
            fit = got
        if float(fit.params[3]) <= _S_EDGE:  # an interior optimum: no second start
            break
    if fit is None:
        assert first_error is not None
        if limit is not None:
            raise ConvergenceError(
                f"{first_error}. Without covariates these data are fitted best in the "
                f"Pareto/NBD limit (b -> 0 with beta / b = {limit:.4g}): they show no aging of "
                "the dropout rate, so b may not be identified; fit Pareto/NBD with the same "
                "covariates (fit_pareto_nbd(..., purchase_covariates=..., "
                "dropout_covariates=...)), which is that limit"
            ) from None
        raise first_error
    out: GGompertzNBDCovariateModel = GGompertzNBDCovariateModel._from_fit(fit, design, w)
    return out


def _start(
    x: FloatArray, tx: FloatArray, big_t: FloatArray, w: FloatArray, base_init: dict[str, float]
) -> tuple[list[list[float]], float | None]:
    """Starting points (the no-covariate fit, the default start) and the Pareto/NBD limit's beta / b.

    The likelihood can have a second maximum at the edge ``s, beta -> inf``
    (no lifetime heterogeneity), which a fit started at the no-covariate
    optimum may reach while the data do show heterogeneity; where that fit
    fails or ends there (``s`` above ``_S_EDGE``), the covariate fit starts
    again from the default point (``r = s = 1``, ``b = 1 / max(T)``) and
    keeps the better optimum. Where the no-covariate fit is in the
    Pareto/NBD limit (``b`` at its floor) only the default point is used:
    the covariates may show the aging that the pooled data hide; the limit's
    ``beta / b`` is returned for the message if that fit fails too. Given
    starting values make one start.
    """
    (xc, txc, tc), wc, _ = _numeric.compress_rows([x, tx, big_t], w)
    total = float(wc.sum())
    starts = _starts(xc, tc, wc, base_init or None)
    default = [float(q) for q in starts[0]]
    if base_init:
        return [default], None
    plain = None
    for x0 in starts:  # at most len(_START_BT) fits; the next only if one fails
        try:
            plain = _maximize(xc, txc, tc, wc, x0, total)
            break
        except ConvergenceError:
            continue
    if plain is None:  # the covariates may identify what the plain model cannot
        return [default], None
    if plain.at_floor:
        return [default], float(plain.params[4] / plain.params[2])
    return [[float(q) for q in plain.params], default], None
