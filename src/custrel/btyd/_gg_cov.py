r"""The Gamma-Gamma spend model with time-invariant covariates.

The Gamma-Gamma model (Fader, Hardie & Lee 2005; Fader & Hardie 2013): a
customer's transaction values are :math:`\mathrm{Gamma}(p, \nu_i)` (shape,
rate), so the customer's mean spend is :math:`p/\nu_i`, and across customers
:math:`\nu_i \sim \mathrm{Gamma}(q, \gamma)`. The covariates act on the
scale of that heterogeneity, as in the Pareto/NBD covariate model, where they
act on the rate parameter :math:`\alpha` of the purchase-rate distribution
(Fader & Hardie 2007):

.. math::

    \gamma_i = \gamma \exp(\delta' z_i).

Why this form: :math:`\gamma` is the only scale parameter of the model (in
money units; :math:`p` and :math:`q` are shapes), and
:math:`E[p/\nu_i] = p\gamma_i/(q-1)`, so a coefficient multiplies the
expected spend per transaction by :math:`e^{\delta}` per unit of its
covariate, with no change to the shape of the spend distribution or to the
weight :math:`px/(px+q-1)` a customer's own mean receives in the
conditional expectation; :math:`\delta = 0` gives the plain model. It is
equivalent to :math:`\nu_i = \nu\,e^{-\delta'z_i}` with :math:`\nu` a
:math:`\mathrm{Gamma}(q, \gamma)` variable. The likelihood of the mean spend
:math:`\bar z` of :math:`x` purchases is the plain model's with
:math:`\gamma_i` for :math:`\gamma`, and

.. math::

    E[Z \mid x, \bar z, z_i] = \frac{p(\gamma_i + x\bar z)}{px + q - 1}.

CLVTools fits the Gamma-Gamma model without covariates; this extension is
custrel's own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import attrs
import numpy as np
import numpy.typing as npt

from custrel import _validate as v
from custrel.btyd import _covariates as cv
from custrel.btyd._common import _as_rng
from custrel.btyd._gamma_gamma import (
    GammaGammaModel,
    _as_spend,
    _check_infinite_mean,
    _gg_rows,
)
from custrel.errors import InvalidInputError, InvalidTypeError

__all__ = ["GammaGammaCovariateModel"]

FloatArray = npt.NDArray[np.float64]

_LINKS: tuple[tuple[str, str, float], ...] = (("spend", "gamma", 1.0),)


@attrs.frozen(eq=False, repr=False)
class GammaGammaCovariateModel(cv.CovariateModel, GammaGammaModel):
    r"""A Gamma-Gamma spend model with covariates; see :func:`fit_gamma_gamma`.

    Attributes
    ----------
    params : Mapping[str, float]
        ``p``, ``q``, ``gamma``, then ``spend.<covariate>`` (the
        coefficients :math:`\delta`).
    log_likelihood, standard_errors, covariance, n_customers, n_iterations, message
        As :class:`GammaGammaModel` (standard errors and covariance for
        every parameter).
    frequency_spend_correlation : float
        As :class:`GammaGammaModel`.
    covariate_names : Mapping[str, tuple of str]
        ``{"spend": (...)}``.
    reg_lambdas : Mapping[str, float]
        ``{"spend": lambda}``, the penalty of the fit.

    Notes
    -----
    :math:`\gamma_i = \gamma e^{\delta'z_i}`: one unit of a covariate
    multiplies the expected spend per transaction :math:`p\gamma_i/(q-1)` by
    :math:`e^{\delta}` (see the module :mod:`custrel.btyd._gg_cov` for the
    reasoning). Every method takes ``covariates=`` (one row per customer; a
    dataframe's columns are matched by name).
    """

    _links: ClassVar[tuple[tuple[str, str, float], ...]] = _LINKS

    @classmethod
    def from_params(cls, params: Mapping[str, float]) -> Any:
        """A model with known parameters: ``p, q, gamma`` and ``spend.<covariate>`` entries.

        Parameters
        ----------
        params : Mapping[str, float]

        Returns
        -------
        GammaGammaCovariateModel

        Examples
        --------
        >>> from custrel.btyd._gg_cov import GammaGammaCovariateModel
        >>> gg = GammaGammaCovariateModel.from_params(
        ...     {"p": 6.25, "q": 3.74, "gamma": 15.44, "spend.online": 0.2})
        >>> gg.expected_spend(covariates=[[0.0], [1.0]]).round(2).tolist()
        [35.22, 43.02]
        """
        return cls._from_named(params)

    def _gammas(self, covariates: Any, n_rows: int | None) -> tuple[float, float, Any]:
        p, q, gamma = self._rows({"spend": covariates}, n_rows)
        return float(p), float(q), gamma

    def customer_log_likelihood(
        self,
        frequency: Any,
        monetary_value: Any,
        *,
        threads: int | None = None,
        covariates: Any = None,
    ) -> FloatArray:
        """Each repeat buyer's log-likelihood of its mean spend.

        Parameters
        ----------
        frequency : array_like
            Repeat purchases (>= 1).
        monetary_value : array_like
            Mean repeat spend (> 0).
        threads : int, optional
            Threads (the result is the same for any value).
        covariates : array_like or dataframe
            One row per customer.

        Returns
        -------
        numpy.ndarray
        """
        x, m = _as_spend(frequency, monetary_value, allow_scalar=True, allow_zero=False)
        th = self._gammas(covariates, cv.customer_count(x))
        return cv.per_customer_rows(_k_ll, (x, m), th, threads)

    def expected_spend(self, *, covariates: Any = None) -> Any:
        """The mean spend per transaction of customers with these covariates, p·gamma_i/(q - 1).

        Parameters
        ----------
        covariates : array_like or dataframe
            One row per customer (type of customer).

        Returns
        -------
        numpy.ndarray
            ``inf`` where ``q <= 1``.
        """
        p, q, gamma = self._gammas(covariates, None)
        if q <= 1.0:
            return np.full(np.shape(gamma), np.inf)
        out: FloatArray = np.asarray(p * np.asarray(gamma) / (q - 1.0), dtype=np.float64)
        return out

    def conditional_expected_spend(
        self,
        frequency: Any,
        monetary_value: Any,
        *,
        threads: int | None = None,
        covariates: Any = None,
    ) -> FloatArray:
        r"""Expected spend per future transaction of each customer.

        Parameters
        ----------
        frequency : array_like
            Repeat purchases (>= 0).
        monetary_value : array_like
            Mean repeat spend; ignored (may be NaN) where frequency is 0.
        threads : int, optional
            Threads (the result is the same for any value).
        covariates : array_like or dataframe
            One row per customer.

        Returns
        -------
        numpy.ndarray
            :math:`p(\gamma_i + x\bar z)/(px + q - 1)`.
        """
        x, m = _as_spend(frequency, monetary_value, allow_scalar=True, allow_zero=True)
        th = self._gammas(covariates, cv.customer_count(x))
        return cv.per_customer_rows(_k_spend, (x, m), th, threads)

    def simulate(
        self,
        frequency: Any,
        *,
        rng: np.random.Generator | int | None = None,
        covariates: Any = None,
    ) -> FloatArray:
        """Simulate each customer's mean spend over its ``frequency`` repeat purchases.

        Parameters
        ----------
        frequency : array_like
            Repeat purchases per customer (>= 1).
        rng : numpy.random.Generator, int or None
            Randomness.
        covariates : array_like or dataframe
            One row per customer.

        Returns
        -------
        numpy.ndarray
        """
        x = v.as_float_array(frequency, "frequency", ndim=1)
        v.check_integer_valued(x, "frequency")
        v.check_range(x, "frequency", low=1.0)
        p, q, gamma = self._gammas(covariates, x.shape[0])
        gen = _as_rng(rng)
        nu = gen.gamma(q, 1.0 / np.broadcast_to(gamma, x.shape), x.shape[0])
        out: FloatArray = gen.gamma(p * x, 1.0 / (nu * x))
        return out


def _k_ll(th: Any, x: FloatArray, m: FloatArray) -> FloatArray:
    return _gg_rows(th, x, m, gradient=False)[0]


def _k_spend(th: Any, x: FloatArray, m: FloatArray) -> FloatArray:
    p, q, gamma = th
    xm = np.where(x > 0, x * np.where(x > 0, m, 0.0), 0.0)
    with np.errstate(divide="ignore"):
        out = p * (gamma + xm) / (p * x + q - 1.0)
    res: FloatArray = np.where(p * x + q - 1.0 > 0, out, np.inf)
    return res


def fit_validated(
    x: FloatArray,
    m: FloatArray,
    w: FloatArray,
    *,
    covariates: Any,
    reg_lambda: Any,
    initial: Mapping[str, float] | None,
    on_infinite_mean: str,
    correlation: float,
    threads: int | None = None,
) -> GammaGammaCovariateModel:
    """The covariate fit of :func:`fit_gamma_gamma` on its validated columns (private)."""
    if covariates is None:
        raise InvalidInputError("reg_lambda needs covariates: pass covariates=")
    z = cv.as_covariates(covariates, "covariates", x.shape[0])
    design = cv.make_design({"spend": z}, reg_lambdas=reg_lambda, reg_argument="reg_lambda")
    names = GammaGammaModel._param_names
    start = [2.0, 3.0, max(float(np.sum(w * m) / np.sum(w)), 1e-6)]
    coef_init: dict[str, float] = {}
    if initial is not None:
        if not isinstance(initial, Mapping):
            raise InvalidTypeError(
                "initial must be a mapping of parameter names to values, got "
                f"{type(initial).__name__}"
            )
        for key, val in initial.items():
            if key in names:
                start[names.index(key)] = v.scalar(
                    val, f"initial[{key!r}]", low=0.0, low_inclusive=False
                )
            else:
                coef_init[str(key)] = val
    coef_init = cv.check_initial(design, coef_init)
    fit = cv.fit_covariates(
        GammaGammaCovariateModel._spec(),
        design,
        _row_loglik,
        (x, m),
        w,
        start,
        model="Gamma-Gamma with covariates",
        initial_coefficients=coef_init,
        threads=threads,
    )
    _check_infinite_mean(fit.params, on_infinite_mean, stacklevel=4)
    out: GammaGammaCovariateModel = GammaGammaCovariateModel._from_fit(
        fit, design, w, frequency_spend_correlation=correlation
    )
    return out


def _row_loglik(theta: cv.Theta, data: Any, gradient: bool) -> tuple[FloatArray, Any]:
    x, m = data
    return _gg_rows(theta, x, m, gradient=gradient)
