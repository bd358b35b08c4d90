"""The Gamma-Gamma model of spend per transaction (Fader, Hardie & Lee 2005)."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any, ClassVar

import attrs
import numpy as np
import numpy.typing as npt

from custrel import _validate as v
from custrel._lazy import LazyModule
from custrel.btyd import _pnbd_math as _pareto_nbd
from custrel.btyd import _threads
from custrel.btyd._base import BTYDModel
from custrel.btyd._common import (
    _as_rng,
    _fit_weights,
    _gammaln,
    _initial,
    _psi,
    _warn_fit,
    _wsum,
    _wsums,
)
from custrel.errors import (
    ConvergenceError,
    FitWarning,
    InvalidInputError,
)

special = LazyModule("scipy.special")  # imported on first use (import time)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


# ---------------------------------------------------------------------------
# Gamma-Gamma spend model
# ---------------------------------------------------------------------------


def _gg_loglik(
    theta: FloatArray, x: FloatArray, m: FloatArray, w: FloatArray | None = None
) -> tuple[FloatArray, FloatArray | None]:
    ll, grads = _gg_rows(theta, x, m, gradient=w is not None)
    if w is None or grads is None:
        return ll, None
    return ll, _wsums(w, *grads)


def _gg_rows(
    theta: Any, x: FloatArray, m: FloatArray, *, gradient: bool
) -> tuple[FloatArray, tuple[FloatArray, FloatArray, FloatArray] | None]:
    """Per-row log-likelihood and (with ``gradient``) its derivatives in p, q and gamma.

    ``gamma`` may be a per-customer array (contract 4: the covariate model's
    ``gamma_i``); the derivative is then in each customer's own ``gamma_i``.
    """
    p, q, gamma = (float(t) if np.ndim(t) == 0 else np.asarray(t, dtype=np.float64) for t in theta)
    px = p * x
    log_m = np.log(m)
    log_x = np.log(x)
    log_gxm = np.log(gamma + x * m)
    ll: FloatArray = (
        _gammaln(px + q)
        - _gammaln(px)
        - _gammaln(q)
        + q * np.log(gamma)
        + (px - 1.0) * log_m
        + px * log_x
        - (px + q) * log_gxm
    )
    if not gradient:
        return ll, None
    psi_pq = _psi(px + q)
    dp = x * (psi_pq - _psi(px) + log_m + log_x - log_gxm)
    dq = psi_pq - _psi(q) + np.log(gamma) - log_gxm
    dg = q / gamma - (px + q) / (gamma + x * m)
    return ll, (dp, dq, dg)


def _check_infinite_mean(params: Any, policy: str, *, stacklevel: int) -> None:
    """Raise (policy "raise") or warn when the estimate q is <= 1 (infinite mean spend)."""
    p_hat, q_hat, g_hat = (float(val) for val in params[:3])
    if q_hat <= 1.0:
        text = (
            f"Gamma-Gamma: the estimate q = {q_hat:.4g} is <= 1 (p = {p_hat:.4g}, "
            f"gamma = {g_hat:.4g}), where the expected spend p*gamma/(q-1) is infinite: "
            "the mean spends have too heavy a tail for the model (look for outliers or "
            "returns in monetary_value)"
        )
        if policy == "raise":
            raise ConvergenceError(text + "; pass on_infinite_mean='warn' to keep the fit")
        warnings.warn(text, FitWarning, stacklevel=stacklevel)


def _as_spend(
    frequency: Any, monetary_value: Any, *, allow_scalar: bool, allow_zero: bool
) -> tuple[FloatArray, FloatArray]:
    ndim: int | tuple[int, ...] = (0, 1) if allow_scalar else 1
    x = v.as_float_array(frequency, "frequency", ndim=ndim)
    m = v.as_float_array(monetary_value, "monetary_value", ndim=ndim, finite=False)
    if allow_scalar:
        try:
            x, m = (np.array(a) for a in np.broadcast_arrays(x, m))
        except ValueError:
            raise InvalidInputError(
                f"frequency and monetary_value must have the same length, got {x.size} and {m.size}"
            ) from None
    else:
        v.check_same_length(frequency=x, monetary_value=m)
    v.check_integer_valued(x, "frequency")
    hint = "the Gamma-Gamma model needs repeat buyers; select them with BTYDSummary.repeat_buyers()"
    v.check_range(x, "frequency", low=0.0 if allow_zero else 1.0, hint="" if allow_zero else hint)
    v.check_range(
        x,
        "frequency",
        high=_pareto_nbd.MAX_FREQUENCY,
        hint="a purchase count beyond 2**53 cannot be exact",
    )
    # monetary_value may be NaN only where frequency is 0 (the mean of no purchases)
    check = x > 0
    v.check_finite(np.where(check, m, 1.0), "monetary_value")
    v.check_range(
        np.where(check, m, 1.0),
        "monetary_value",
        low=0.0,
        low_inclusive=False,
        hint="the Gamma-Gamma model needs positive mean spends",
    )
    return x, m


@attrs.frozen(eq=False, repr=False)
class GammaGammaModel(BTYDModel):
    r"""A fitted Gamma-Gamma spend model; build it with :func:`fit_gamma_gamma`.

    A customer's transaction values are Gamma(:math:`p`, :math:`\nu`) with a
    customer-specific :math:`\nu \sim \mathrm{Gamma}(q, \gamma)`, independent
    of the purchase process.

    Attributes
    ----------
    params : Mapping[str, float]
        ``p``, ``q``, ``gamma`` (``gamma`` in money units).
    log_likelihood : float
        The maximised log-likelihood (weighted sum).
    standard_errors : Mapping[str, float]
        Standard errors from the inverse Hessian.
    covariance : numpy.ndarray
        Estimated covariance matrix.
    n_customers : float
        Customers fitted on (sum of the weights).
    n_iterations : int
        Optimizer iterations.
    message : str
        The optimizer's message.
    frequency_spend_correlation : float
        Weighted Pearson correlation of frequency and mean spend in the
        fitting data; the model assumes it is close to 0.

    Notes
    -----
    .. math::

        E[Z\mid p, q, \gamma, \bar z, x] = \frac{q-1}{px+q-1}\frac{p\gamma}{q-1}
        + \frac{px}{px+q-1}\bar z = \frac{p(\gamma + x\bar z)}{px+q-1}

    a weighted mean of the population mean :math:`p\gamma/(q-1)` (infinite
    when :math:`q \le 1`) and the customer's own mean :math:`\bar z`.

    References
    ----------
    Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). RFM and CLV: using
    iso-value curves for customer base analysis. *Journal of Marketing
    Research* 42(4), 415-430.
    Fader, P. S. & Hardie, B. G. S. (2013). The Gamma-Gamma model of
    monetary value.
    """

    frequency_spend_correlation: float = float("nan")

    _param_names: ClassVar[tuple[str, ...]] = ("p", "q", "gamma")

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
            Threads to use (else ``CUSTREL_THREADS``, else every core); the
            result is the same to the last bit for any value.
        covariates : None
            Only for a model fitted with ``covariates=``; this one has none and
            refuses them.

        Returns
        -------
        numpy.ndarray
            The log density of the mean spend given the frequency.
        """
        _refuse_covariates(self, covariates)
        x, m = _as_spend(frequency, monetary_value, allow_scalar=True, allow_zero=False)
        theta = self._theta()
        out: FloatArray = _threads.per_customer(
            lambda xc, mc: _gg_loglik(theta, xc, mc)[0], x, m, threads=threads
        )
        return out

    def expected_spend(self, *, covariates: Any = None) -> float:
        """The population mean spend per transaction, p·gamma/(q - 1) (inf if q <= 1).

        ``covariates`` is only for a model fitted with them; this one refuses them.

        Examples
        --------
        >>> from custrel import GammaGammaModel
        >>> gg = GammaGammaModel.from_params({"p": 6.25, "q": 3.74, "gamma": 15.44})
        >>> round(gg.expected_spend(), 2)
        35.22
        """
        _refuse_covariates(self, covariates)
        p, q, gamma = self._theta()
        return float(p * gamma / (q - 1.0)) if q > 1.0 else float("inf")

    def conditional_expected_spend(
        self,
        frequency: Any,
        monetary_value: Any,
        *,
        threads: int | None = None,
        covariates: Any = None,
    ) -> FloatArray:
        """Expected spend per future transaction of each customer.

        Parameters
        ----------
        frequency : array_like
            Repeat purchases (>= 0).
        monetary_value : array_like
            Mean repeat spend; ignored (may be NaN) where frequency is 0,
            which gives the population mean.
        threads : int, optional
            Threads to use (else ``CUSTREL_THREADS``, else every core); the
            result is the same to the last bit for any value.
        covariates : None
            Only for a model fitted with ``covariates=``; this one has none and
            refuses them.

        Returns
        -------
        numpy.ndarray
            E[Z | frequency, monetary_value].

        Examples
        --------
        >>> from custrel.btyd import GammaGammaModel
        >>> gg = GammaGammaModel.from_params({"p": 6.25, "q": 3.74, "gamma": 15.44})
        >>> [round(float(z), 2) for z in gg.conditional_expected_spend([0, 2], [float("nan"), 22.35])]
        [35.22, 24.66]
        """
        _refuse_covariates(self, covariates)
        x, m = _as_spend(frequency, monetary_value, allow_scalar=True, allow_zero=True)
        p, q, gamma = self._theta()

        def spend(xc: FloatArray, mc: FloatArray) -> FloatArray:
            xm = np.where(xc > 0, xc * np.where(xc > 0, mc, 0.0), 0.0)
            with np.errstate(divide="ignore"):
                out: FloatArray = p * (gamma + xm) / (p * xc + q - 1.0)
            return np.where(p * xc + q - 1.0 > 0, out, np.inf)

        result: FloatArray = _threads.per_customer(spend, x, m, threads=threads)
        return result

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
        covariates : None
            Only for a model fitted with ``covariates=``; this one has none and
            refuses them.

        Returns
        -------
        numpy.ndarray
            Simulated mean spends (monetary_value).
        """
        _refuse_covariates(self, covariates)
        x = v.as_float_array(frequency, "frequency", ndim=1)
        v.check_integer_valued(x, "frequency")
        v.check_range(x, "frequency", low=1.0)
        gen = _as_rng(rng)
        p, q, gamma = self._theta()
        nu = gen.gamma(q, 1.0 / gamma, len(x))
        out: FloatArray = gen.gamma(p * x, 1.0 / (nu * x))
        return out


def _refuse_covariates(model: Any, covariates: Any) -> None:
    """Refuse covariates given to a model without them (a clear error, not a TypeError)."""
    if covariates is not None:
        raise InvalidInputError(
            f"covariates was given, but {type(model).__name__} has no covariates; leave it out "
            "(fit_gamma_gamma(..., covariates=...) returns a model that takes them)"
        )


def fit_gamma_gamma(
    frequency: Any,
    monetary_value: Any,
    *,
    weights: Any = None,
    initial: Mapping[str, float] | None = None,
    max_correlation: float = 0.3,
    on_infinite_mean: str = "raise",
    threads: int | None = None,
    covariates: Any = None,
    reg_lambda: float | None = None,
) -> GammaGammaModel:
    r"""Fit the Gamma-Gamma spend model by maximum likelihood, with or without covariates.

    Parameters
    ----------
    frequency : array_like
        Repeat purchases per customer (whole numbers >= 1: repeat buyers only).
    monetary_value : array_like
        Mean spend of the repeat purchases (> 0).
    weights : array_like, optional
        Customers per row (> 0).
    initial : Mapping[str, float], optional
        Starting values for some or all of ``p``, ``q``, ``gamma``.
    max_correlation : float
        The model assumes spend is independent of frequency; if the absolute
        (weighted Pearson) correlation of the two exceeds this, a
        :class:`~custrel.FitWarning` says so. The correlation is stored in
        :attr:`GammaGammaModel.frequency_spend_correlation` either way.
    on_infinite_mean : {"raise", "warn"}
        What to do when the estimate ``q`` is at most 1, where the mean
        spend :math:`p\gamma/(q-1)` does not exist (the spends have too
        heavy a tail for the model): ``"raise"`` (default) raises
        :class:`~custrel.ConvergenceError`; ``"warn"`` returns the model with
        a :class:`~custrel.FitWarning`, and its :meth:`~GammaGammaModel.expected_spend`
        is then ``inf`` (as is the conditional expected spend of customers
        with :math:`px + q \le 1`).
    threads : int, optional
        Cores for the likelihood sums (else ``CUSTREL_THREADS``, else every
        core): threads, or on Linux, from 40,000 distinct rows, worker
        processes forked once per fit. The result is the same to the last
        bit for any value.
    covariates : array_like or dataframe, optional
        Time-invariant covariates of the spend, one row per customer (per
        weighted row, by position): a customers x k matrix (coefficients ``x1..xk``) or a
        dataframe whose column names name the coefficients. The result is
        then a :class:`~custrel.btyd._gg_cov.GammaGammaCovariateModel` with
        :math:`\gamma_i = \gamma e^{\delta'z_i}` (so the expected spend
        :math:`p\gamma_i/(q-1)` is multiplied by :math:`e^{\delta}` per unit
        of a covariate) and ``params`` ``spend.<name>`` after ``p, q, gamma``;
        ``initial`` may also hold ``"spend.<name>"``.
    reg_lambda : float, optional
        L2 penalty on the spend coefficients: the fit maximises
        :math:`\ell/N - \lambda\lVert\delta\rVert^2` (as CLVTools'
        ``reg.lambdas`` for the purchase models).

    Returns
    -------
    GammaGammaModel
        (a ``GammaGammaCovariateModel`` with covariates).

    Raises
    ------
    InvalidInputError
        If a frequency is below 1 or not whole, a monetary value is not
        positive and finite, a weight is not positive, or the lengths differ.
    ConvergenceError
        If the optimizer fails, or (by default) the estimate of ``q`` is at
        most 1, so that the expected spend is infinite.

    Warns
    -----
    FitWarning
        When frequency and spend are correlated beyond ``max_correlation``,
        and with ``on_infinite_mean="warn"`` when ``q <= 1``.

    Notes
    -----
    Log-likelihood of the mean spend :math:`\bar z` of :math:`x` repeat
    transactions (Fader, Hardie & Lee 2005; Fader & Hardie 2013):

    .. math::

        \ell = \ln\Gamma(px+q) - \ln\Gamma(px) - \ln\Gamma(q) + q\ln\gamma
        + (px-1)\ln\bar z + px\ln x - (px+q)\ln(\gamma + x\bar z)

    maximised over the logarithms of the parameters with its analytic
    gradient.

    References
    ----------
    Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). RFM and CLV: using
    iso-value curves for customer base analysis. *Journal of Marketing
    Research* 42(4), 415-430.

    Examples
    --------
    >>> import numpy as np
    >>> from custrel import GammaGammaModel, fit_gamma_gamma
    >>> truth = GammaGammaModel.from_params({"p": 6.25, "q": 3.74, "gamma": 15.44})
    >>> x = np.random.default_rng(3).integers(1, 10, 4000).astype(float)
    >>> gg = fit_gamma_gamma(x, truth.simulate(x, rng=3))
    >>> round(gg.expected_spend(), 0)
    35.0
    """
    x, m = _as_spend(frequency, monetary_value, allow_scalar=False, allow_zero=False)
    w = _fit_weights(weights, len(x))
    limit = v.scalar(max_correlation, "max_correlation", low=0.0, high=1.0)
    policy = v.choice(on_infinite_mean, "on_infinite_mean", ("raise", "warn"))
    n_threads = _threads.resolve(threads)
    total = float(w.sum())
    # Pearson's r is scale-free: scale both columns to at most 1 so that the
    # squares cannot overflow for huge (finite) values.
    xs, ms = x / float(np.max(x)), m / float(np.max(m))
    mx, mm_s = _wsum(w, xs) / total, _wsum(w, ms) / total
    mm = _wsum(w, m / total)
    cov = _wsum(w, (xs - mx) * (ms - mm_s))
    var_x, var_m = _wsum(w, (xs - mx) ** 2), _wsum(w, (ms - mm_s) ** 2)
    corr = float(cov / np.sqrt(var_x * var_m)) if var_x > 0 and var_m > 0 else float("nan")
    if np.isfinite(corr) and abs(corr) > limit:
        warnings.warn(
            f"frequency and monetary_value are correlated (Pearson {corr:.3f}, beyond "
            f"max_correlation {limit:g}); the Gamma-Gamma model assumes independence",
            FitWarning,
            stacklevel=2,
        )
    if covariates is not None or reg_lambda is not None:
        from custrel.btyd._gg_cov import fit_validated  # it imports this module

        return fit_validated(
            x,
            m,
            w,
            covariates=covariates,
            reg_lambda=reg_lambda,
            initial=initial,
            on_infinite_mean=policy,
            correlation=corr,
            threads=n_threads,
        )
    chunks = _threads.regrouped(_threads.compressed_chunks([x, m], w, n_threads))
    names = GammaGammaModel._param_names
    x0 = _initial(initial, names, np.asarray([2.0, 3.0, max(mm, 1e-6)]))

    def chunk_total(theta: FloatArray, chunk: Any) -> tuple[float, FloatArray]:
        xc, mc, wc = chunk
        ll, grad = _gg_loglik(theta, xc, mc, wc)
        assert grad is not None
        return _wsum(wc, ll), grad

    fit = _threads.fit_chunks(
        chunk_total,
        chunks,
        x0,
        prepare=lambda c: c,
        total_weight=total,
        model="Gamma-Gamma",
        names=names,
        threads=n_threads,
        warm_start=initial is None,
    )
    _warn_fit("Gamma-Gamma", fit)
    _check_infinite_mean(fit.params, policy, stacklevel=3)
    return GammaGammaModel(
        params=dict(zip(names, fit.params.tolist(), strict=True)),
        log_likelihood=fit.log_likelihood,
        standard_errors=dict(zip(names, fit.standard_errors.tolist(), strict=True)),
        covariance=fit.covariance,
        n_customers=total,
        n_iterations=fit.n_iterations,
        message=fit.message,
        frequency_spend_correlation=corr,
    )
