r"""Pareto/NBD with correlated purchase and dropout rates (the Sarmanov form).

The plain Pareto/NBD model draws each customer's purchase rate
:math:`\lambda \sim \mathrm{Gamma}(r, \alpha)` and dropout rate
:math:`\mu \sim \mathrm{Gamma}(s, \beta)` independently. Following Park &
Fader (2004) and Glady, Lemmens & Croux (2015), and as CLVTools fits it with
``use.cor = TRUE``, the two gamma densities are joined by a Sarmanov density

.. math::

    f(\lambda, \mu) = g(\lambda)\, h(\mu)\,
    \bigl[1 + m\, \phi_1(\lambda)\, \phi_2(\mu)\bigr],\qquad
    \phi_1 = e^{-\lambda} - L_1,\quad \phi_2 = e^{-\mu} - L_2,

with :math:`L_1 = (\alpha / (\alpha + 1))^{r}` and
:math:`L_2 = (\beta / (\beta + 1))^{s}` (the means of :math:`e^{-\lambda}`
and :math:`e^{-\mu}`), so both margins stay the gamma densities. The density
is non-negative exactly when

.. math::

    -\frac{1}{\max(L_1 L_2,\ (1 - L_1)(1 - L_2))} \le m \le
    \frac{1}{\max(L_1 (1 - L_2),\ (1 - L_1) L_2)},

and the correlation of :math:`\lambda` and :math:`\mu` is

.. math::

    \rho = m\, \frac{\sqrt{r}}{1 + \alpha}\Bigl(\frac{\alpha}{1 + \alpha}\Bigr)^{r}
             \frac{\sqrt{s}}{1 + \beta}\Bigl(\frac{\beta}{1 + \beta}\Bigr)^{s},

which is what the model reports (as CLVTools' ``Cor(life,trans)``): ``m``
itself is not a correlation and is usually thousands of times larger.

Nothing new has to be integrated. Since :math:`e^{-\lambda} g(\lambda; r,
\alpha) = L_1\, g(\lambda; r, \alpha + 1)`, the mixing density is a signed
sum of four independent gamma pairs,

.. math::

    f = g h + m L_1 L_2 \bigl[g^{+} h^{+} - g^{+} h - g h^{+} + g h\bigr],

(:math:`g^{+}` the gamma density with scale :math:`\alpha + 1`), and every
expectation under :math:`f` (the likelihood, P(alive), the conditional
expected purchases, the purchase-count distribution) is the same signed sum
of four plain Pareto/NBD expectations with :math:`\alpha` and/or
:math:`\beta` shifted by one. In log form, with :math:`\ell_{ab}` the plain
log-likelihood at :math:`(r, \alpha + a, s, \beta + b)`,

.. math::

    \log L_i = \ell_{00} + \log\bigl(1 + m L_1 L_2
    [e^{\ell_{11} - \ell_{00}} - e^{\ell_{10} - \ell_{00}}
     - e^{\ell_{01} - \ell_{00}} + 1]\bigr),

which is evaluated with the plain model's overflow-free likelihood and its
analytic gradient. The fit searches over the log-parameters and a logit
position of ``m`` inside its bounds, so every step is a valid density.

References
----------
Park, Y.-H. & Fader, P. S. (2004). Modeling browsing behavior at multiple
websites. *Marketing Science* 23(3), 280-303.
Glady, N., Lemmens, A. & Croux, C. (2015). Unveiling the relationship
between the transaction timing, spending and dropout behavior of customers.
*International Journal of Research in Marketing* 32(1), 78-93.
Bachmann, P., Meierer, M. & Näf, J. (2021). The role of time-varying
contextual factors in latent attrition models for customer base analysis.
*Marketing Science* 40(4), 783-809 (section 3.4: the correlation in CLVTools).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import attrs
import numpy as np
import numpy.typing as npt

from custrel import _numeric
from custrel import _validate as v
from custrel.btyd import _pnbd_math as _pn
from custrel.btyd._base import RepeatPurchaseModel
from custrel.btyd._common import _broadcast_customers, _fit_rows, _initial, _start_rate
from custrel.btyd._pareto_nbd import ParetoNBDModel
from custrel.errors import ConvergenceError, InvalidInputError, InvalidTypeError

FloatArray = npt.NDArray[np.float64]

__all__ = [
    "ParetoNBDCorrelatedModel",
    "fit_pareto_nbd_correlated",
    "sarmanov_bounds",
]

# the four shifted parameter sets (alpha + a, beta + b) and their signs
_SHIFTS: tuple[tuple[float, float, float], ...] = (
    (1.0, 1.0, 1.0),
    (1.0, 0.0, -1.0),
    (0.0, 1.0, -1.0),
)
_MAX_REJECTION_ROUNDS = 200  # simulation: acceptance is at least 1/2 per round


def _log_l(theta: FloatArray) -> tuple[float, float]:
    """The logs of L1 = (alpha/(alpha+1))^r and L2 = (beta/(beta+1))^s."""
    r, alpha, s, beta = (float(q) for q in theta)
    return r * float(np.log(alpha / (alpha + 1.0))), s * float(np.log(beta / (beta + 1.0)))


def sarmanov_bounds(r: float, alpha: float, s: float, beta: float) -> tuple[float, float]:
    r"""The interval of ``m`` for which the Sarmanov density is non-negative.

    Parameters
    ----------
    r, alpha, s, beta : float
        The Pareto/NBD parameters (all > 0).

    Returns
    -------
    (float, float)
        ``(lower, upper)`` with ``lower < 0 < upper``.

    Raises
    ------
    InvalidInputError
        If a parameter is not a positive finite number.

    Examples
    --------
    >>> from custrel.btyd._pnbd_cor import sarmanov_bounds
    >>> lo, hi = sarmanov_bounds(1.449, 48.6361, 0.5613, 46.8844)
    >>> round(lo, 4), round(hi, 2)
    (-1.0422, 34.82)
    """
    theta = _check_theta({"r": r, "alpha": alpha, "s": s, "beta": beta})
    return _bounds(theta)


def _bounds(theta: FloatArray) -> tuple[float, float]:
    l1, l2 = (float(np.exp(q)) for q in _log_l(theta))
    lo = -1.0 / max(l1 * l2, (1.0 - l1) * (1.0 - l2))
    hi = 1.0 / max(l1 * (1.0 - l2), (1.0 - l1) * l2)
    return lo, hi


def _scale(theta: FloatArray) -> float:
    """The ratio rho / m: the factor that turns ``m`` into the correlation of lambda and mu."""
    r, alpha, s, beta = (float(q) for q in theta)
    a = np.sqrt(r) / (1.0 + alpha) * (alpha / (1.0 + alpha)) ** r
    b = np.sqrt(s) / (1.0 + beta) * (beta / (1.0 + beta)) ** s
    return float(a * b)


def _check_theta(params: Mapping[str, float]) -> FloatArray:
    out = np.empty(4)
    for i, name in enumerate(("r", "alpha", "s", "beta")):
        out[i] = v.scalar(params[name], name, low=0.0, low_inclusive=False)
    return out


def _shifted(theta: FloatArray, a: float, b: float) -> FloatArray:
    return np.array([theta[0], theta[1] + a, theta[2], theta[3] + b])


def _cor_parts(
    theta: FloatArray, m: float, x: FloatArray, tx: FloatArray, big_t: FloatArray, *, grad: bool
) -> tuple[FloatArray, FloatArray | None, FloatArray, FloatArray]:
    """Per-customer log-likelihood and its gradient in (r, alpha, s, beta, m).

    Also returns ``E`` (the three ratios ``exp(l_ab - l_00)`` stacked) and the
    bracket ``D`` so predictions reuse them.
    """
    ll0, g0, _, _ = _pn._parts(theta, x, tx, big_t, gradient=grad)
    ratios = []
    grads = []
    for a, b, _sign in _SHIFTS:
        ll_ab, g_ab, _, _ = _pn._parts(_shifted(theta, a, b), x, tx, big_t, gradient=grad)
        ratios.append(np.exp(ll_ab - ll0))
        grads.append(g_ab)
    e = np.stack(ratios)
    d = e[0] - e[1] - e[2] + 1.0
    log_l1, log_l2 = _log_l(theta)
    big_a = float(np.exp(log_l1 + log_l2))
    q = 1.0 + m * big_a * d
    with np.errstate(divide="ignore", invalid="ignore"):
        ll = ll0 + np.log(q)
    if not grad:
        return ll, None, e, d
    assert g0 is not None
    r, alpha, s, beta = (float(t) for t in theta)
    dlog_a = np.array(
        [
            np.log(alpha / (alpha + 1.0)),
            r / (alpha * (alpha + 1.0)),
            np.log(beta / (beta + 1.0)),
            s / (beta * (beta + 1.0)),
        ]
    )
    out = np.empty((5, x.shape[0]))
    for k in range(4):
        dd = np.zeros_like(d)
        for (_, _, sign), e_ab, g_ab in zip(_SHIFTS, e, grads, strict=True):
            assert g_ab is not None
            dd += sign * e_ab * (g_ab[k] - g0[k])
        out[k] = g0[k] + m * big_a * (dlog_a[k] * d + dd) / q
    out[4] = big_a * d / q
    return ll, out, e, d


@attrs.frozen(eq=False, repr=False)
class ParetoNBDCorrelatedModel(ParetoNBDModel):
    r"""A fitted Pareto/NBD model whose purchase and dropout rates are correlated.

    See :func:`fit_pareto_nbd_correlated` and the module notes: the rates
    follow a Sarmanov density with gamma margins, and every prediction is a
    signed sum of four plain Pareto/NBD predictions.

    Attributes
    ----------
    params : Mapping[str, float]
        ``r``, ``alpha``, ``s``, ``beta`` and ``correlation`` (the correlation
        of the purchase and dropout rates across customers; CLVTools'
        ``Cor(life,trans)``).
    log_likelihood, standard_errors, covariance, n_customers, n_iterations, message
        As :class:`ParetoNBDModel`; the covariance is the full 5 x 5 matrix.

    Examples
    --------
    >>> from custrel import ParetoNBDCorrelatedModel, ParetoNBDModel
    >>> plain = {"r": 0.55, "alpha": 10.6, "s": 0.61, "beta": 11.7}
    >>> m = ParetoNBDCorrelatedModel.from_params({**plain, "correlation": 0.0})
    >>> bool(abs(m.probability_alive(2, 30.0, 39.0)[()] -
    ...          ParetoNBDModel.from_params(plain).probability_alive(2, 30.0, 39.0)[()]) < 1e-15)
    True
    """

    _param_names: ClassVar[tuple[str, ...]] = ("r", "alpha", "s", "beta", "correlation")

    @classmethod
    def from_params(cls, params: Mapping[str, float]) -> Any:
        """A model with known parameters, without a fit.

        Parameters
        ----------
        params : Mapping[str, float]
            ``r``, ``alpha``, ``s``, ``beta`` (each > 0) and ``correlation``
            (inside the interval the Sarmanov density allows for them).

        Returns
        -------
        ParetoNBDCorrelatedModel

        Raises
        ------
        InvalidInputError
            If a parameter is missing, unknown or out of range.
        """
        if not isinstance(params, Mapping):
            raise InvalidTypeError(f"params must be a mapping, got {type(params).__name__}")
        base = {k: params[k] for k in ("r", "alpha", "s", "beta") if k in params}
        plain = ParetoNBDModel.from_params(base) if len(base) == 4 else None
        names = cls._param_names
        extra = sorted(set(params) - set(names))
        missing = [n for n in names if n not in params]
        if extra or missing or plain is None:
            raise InvalidInputError(
                f"params must name exactly {list(names)!r}; "
                + (f"missing {missing!r}" if missing else f"unknown {extra!r}")
            )
        rho = v.scalar(params["correlation"], "params['correlation']")
        model = cls._from_values([*plain._theta().tolist(), rho])
        model._checked()
        return model

    @property
    def m(self) -> float:
        """The Sarmanov coefficient ``m`` (correlation / its scale factor)."""
        theta = self._base()
        scale = _scale(theta)
        if not scale > 0.0:  # (alpha/(1+alpha))^r or (beta/(1+beta))^s underflows to 0
            raise InvalidInputError(
                f"r={theta[0]:.6g}, alpha={theta[1]:.6g}, s={theta[2]:.6g}, beta={theta[3]:.6g} "
                "are too far out for the correlated model: the factor that turns the "
                "correlation into the Sarmanov coefficient underflows to 0"
            )
        return float(self.params["correlation"]) / scale

    def _base(self) -> FloatArray:
        return np.array([float(self.params[k]) for k in ("r", "alpha", "s", "beta")])

    def _checked(self) -> tuple[FloatArray, float]:
        theta = self._base()
        m = self.m
        lo, hi = _bounds(theta)
        if not lo - 1e-12 <= m <= hi + 1e-12 or not np.isfinite(m):
            rho_lo, rho_hi = lo * _scale(theta), hi * _scale(theta)
            raise InvalidInputError(
                f"correlation must lie in [{rho_lo:.6g}, {rho_hi:.6g}] for these r, alpha, s and "
                f"beta (the Sarmanov density is negative outside), got "
                f"{float(self.params['correlation'])!r}"
            )
        return theta, m

    def _mix(self, quantity: Any, x: FloatArray, tx: FloatArray, big_t: FloatArray) -> FloatArray:
        """Posterior expectation: the signed, likelihood-weighted sum of four plain ones."""
        theta, m = self._checked()
        xr, txr, tr = x.ravel(), tx.ravel(), big_t.ravel()
        _, _, e, d = _cor_parts(theta, m, xr, txr, tr, grad=False)
        big_a = float(np.exp(sum(_log_l(theta))))
        c00 = quantity(theta)
        acc = c00.copy()
        for (a, b, sign), e_ab in zip(_SHIFTS, e, strict=True):
            acc += sign * e_ab * quantity(_shifted(theta, a, b))
        # acc = C_00 + sum(sign * e_ab * C_ab): the bracket of D with each term weighted by C
        out: FloatArray = (c00 + m * big_a * acc) / (1.0 + m * big_a * d)
        return out.reshape(x.shape)

    def _prior(self, quantity: Any) -> FloatArray:
        """Prior expectation: the same signed sum with the prior weights."""
        theta, m = self._checked()
        big_a = float(np.exp(sum(_log_l(theta))))
        c00 = quantity(theta)
        acc = c00.copy()
        for a, b, sign in _SHIFTS:
            acc += sign * quantity(_shifted(theta, a, b))
        out: FloatArray = c00 + m * big_a * acc
        return out

    # -- the predictions of btyd._predictions, as mixtures of plain models ------------
    #
    # Every one of them is an expectation over (lambda, mu): under the prior (a new
    # customer, the tracking curve) or under a customer's posterior (the conditional
    # purchase-count distribution, DERT). Both are the signed sums of four plain
    # Pareto/NBD models with alpha and/or beta shifted by one (module notes).

    def _plain_models(self) -> list[tuple[float, ParetoNBDModel]]:
        """(sign, plain model) for the terms 00, 11, 10, 01 of the mixture."""
        theta, _ = self._checked()
        out = [(1.0, ParetoNBDModel._from_values(theta))]
        for a, b, sign in _SHIFTS:
            out.append((sign, ParetoNBDModel._from_values(_shifted(theta, a, b))))
        return out

    def _prior_mix(self, values: list[FloatArray]) -> FloatArray:
        theta, m = self._checked()
        big_a = float(np.exp(sum(_log_l(theta))))
        signs = [sign for sign, _ in self._plain_models()]
        acc = sum((sign * val for sign, val in zip(signs, values, strict=True)), np.zeros(()))
        out: FloatArray = values[0] + m * big_a * acc
        return out

    def _posterior_mix(
        self, values: list[FloatArray], frequency: Any, recency: Any, T: Any
    ) -> FloatArray:
        theta, m = self._checked()
        shape = values[0].shape
        x, tx, big_t = (
            np.broadcast_to(np.asarray(q, dtype=np.float64), shape).ravel()
            for q in (frequency, recency, T)
        )
        _, _, e, d = _cor_parts(theta, m, x, tx, big_t, grad=False)
        big_a = float(np.exp(sum(_log_l(theta))))
        acc = values[0].ravel().copy()
        for (_, _, sign), e_ab, val in zip(_SHIFTS, e, values[1:], strict=True):
            acc += sign * e_ab * val.ravel()
        out: FloatArray = (values[0].ravel() + m * big_a * acc) / (1.0 + m * big_a * d)
        return out.reshape(shape)

    def conditional_probability_of_purchases(
        self, n: Any, t: Any, frequency: Any, recency: Any, T: Any, **covariates: Any
    ) -> FloatArray:
        """As :meth:`RepeatPurchaseModel.conditional_probability_of_purchases`."""
        values = [
            np.asarray(
                pm.conditional_probability_of_purchases(n, t, frequency, recency, T, **covariates)
            )
            for _, pm in self._plain_models()
        ]
        return np.clip(self._posterior_mix(values, frequency, recency, T), 0.0, 1.0)

    def discounted_expected_residual_transactions(
        self, frequency: Any, recency: Any, T: Any, *, discount_rate: float, **covariates: Any
    ) -> FloatArray:
        """As :meth:`RepeatPurchaseModel.discounted_expected_residual_transactions`."""
        values = [
            np.asarray(
                pm.discounted_expected_residual_transactions(
                    frequency, recency, T, discount_rate=discount_rate, **covariates
                )
            )
            for _, pm in self._plain_models()
        ]
        return self._posterior_mix(values, frequency, recency, T)

    def new_customer_expected_purchases(self, t: Any, **covariates: Any) -> FloatArray:
        """As :meth:`RepeatPurchaseModel.new_customer_expected_purchases`."""
        values = [
            np.asarray(pm.new_customer_expected_purchases(t, **covariates))
            for _, pm in self._plain_models()
        ]
        return self._prior_mix(values)

    def new_customer_probability_alive(self, t: Any, **covariates: Any) -> FloatArray:
        """As :meth:`RepeatPurchaseModel.new_customer_probability_alive`."""
        values = [
            np.asarray(pm.new_customer_probability_alive(t, **covariates))
            for _, pm in self._plain_models()
        ]
        return np.clip(self._prior_mix(values), 0.0, 1.0)

    def expected_cumulative_transactions(self, log: Any, times: Any, **kwargs: Any) -> Any:
        """As :meth:`RepeatPurchaseModel.expected_cumulative_transactions`."""
        parts = [
            pm.expected_cumulative_transactions(log, times, **kwargs)
            for _, pm in self._plain_models()
        ]
        inc = self._prior_mix([np.asarray(p.expected_incremental) for p in parts])
        cum = self._prior_mix([np.asarray(p.expected_cumulative) for p in parts])
        return attrs.evolve(parts[0], expected_incremental=inc, expected_cumulative=cum)

    def _ll(self, x: FloatArray, tx: FloatArray, big_t: FloatArray) -> FloatArray:
        theta, m = self._checked()
        ll, _, _, _ = _cor_parts(theta, m, x.ravel(), tx.ravel(), big_t.ravel(), grad=False)
        return np.asarray(ll, dtype=np.float64).reshape(x.shape)

    def _expected(self, t: FloatArray) -> FloatArray:
        tr = t.ravel()
        out = self._prior(lambda th: np.asarray(_pn.expected_purchases(th, tr), dtype=np.float64))
        return out.reshape(t.shape)

    def _alive(self, x: FloatArray, tx: FloatArray, big_t: FloatArray) -> FloatArray:
        xr, txr, tr = x.ravel(), tx.ravel(), big_t.ravel()
        out = self._mix(lambda th: _pn._alive(th, xr, txr, tr), x, tx, big_t)
        return np.clip(out, 0.0, 1.0)  # rounding only: each term is a probability

    def _conditional(
        self, t: FloatArray, x: FloatArray, tx: FloatArray, big_t: FloatArray
    ) -> FloatArray:
        tb, xb, txb, tb2 = (a.ravel() for a in _broadcast_customers(t, x, tx, big_t))
        shape = np.broadcast_shapes(np.shape(t), np.shape(x), np.shape(tx), np.shape(big_t))

        def plain(th: FloatArray) -> FloatArray:
            r, alpha, s, beta = (float(q) for q in th)
            alive = _pn._alive(th, xb, txb, tb2)
            return alive * (r + xb) / (alpha + tb2) * _pn.growth(s, tb, beta + tb2)

        out = self._mix(plain, xb, txb, tb2)
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
        return RepeatPurchaseModel._discounted_purchases(self, horizon, period, rate, x, tx, big_t)

    def _pmf(self, n: FloatArray, t: FloatArray) -> FloatArray:
        nb, tb = _broadcast_customers(n, t)
        nr, tr = nb.ravel(), tb.ravel()
        out = self._prior(
            lambda th: np.asarray(_pn.probability_of_purchases(th, nr, tr), dtype=np.float64)
        )
        return np.clip(out, 0.0, 1.0).reshape(nb.shape)

    def _simulate(
        self, n_customers: int, big_t: FloatArray, rng: np.random.Generator
    ) -> tuple[FloatArray, FloatArray]:
        theta, m = self._checked()
        r, alpha, s, beta = (float(q) for q in theta)
        l1, l2 = (float(np.exp(q)) for q in _log_l(theta))
        corners = (l1 * l2, -l1 * (1 - l2), -(1 - l1) * l2, (1 - l1) * (1 - l2))
        top = 1.0 + max(m * c for c in corners)
        lam = np.empty(n_customers)
        mu = np.empty(n_customers)
        filled = 0
        for _ in range(_MAX_REJECTION_ROUNDS):
            need = n_customers - filled
            if need == 0:
                break
            k = 2 * need + 16
            lk = rng.gamma(r, 1.0 / alpha, size=k)
            mk = rng.gamma(s, 1.0 / beta, size=k)
            dens = 1.0 + m * (np.exp(-lk) - l1) * (np.exp(-mk) - l2)
            keep = rng.random(k) * top < dens
            take = min(int(keep.sum()), need)
            lam[filled : filled + take] = lk[keep][:take]
            mu[filled : filled + take] = mk[keep][:take]
            filled += take
        if filled < n_customers:  # pragma: no cover - acceptance >= 1/2 per draw
            raise ConvergenceError("the Sarmanov rejection sampler did not finish")
        tv = np.broadcast_to(big_t, (n_customers,)).astype(np.float64)
        life = rng.exponential(1.0, size=n_customers) / mu
        span = np.minimum(life, tv)
        freq = rng.poisson(lam * span).astype(np.float64)
        u = rng.random(n_customers)
        with np.errstate(divide="ignore"):
            rec = np.where(freq > 0, span * u ** (1.0 / np.maximum(freq, 1.0)), 0.0)
        return freq, rec


def _total(theta: FloatArray, m: float, rows: tuple[FloatArray, ...]) -> tuple[float, FloatArray]:
    x, tx, big_t, w = rows
    ll, g, _, _ = _cor_parts(theta, m, x, tx, big_t, grad=True)
    assert g is not None
    return float(np.sum(w * ll)), np.array([float(np.sum(w * gk)) for gk in g])


def _unpack(u: FloatArray) -> tuple[FloatArray, float, FloatArray, float, float]:
    """Map u = (log r, log alpha, log s, log beta, logit of m) to theta, m and dm/du."""
    theta = np.exp(u[:4])
    log_l1, log_l2 = _log_l(theta)
    l1, l2 = float(np.exp(log_l1)), float(np.exp(log_l2))
    r, alpha, s, beta = (float(q) for q in theta)
    dl1 = l1 * np.array([np.log(alpha / (alpha + 1.0)), r / (alpha * (alpha + 1.0)), 0.0, 0.0])
    dl2 = l2 * np.array([0.0, 0.0, np.log(beta / (beta + 1.0)), s / (beta * (beta + 1.0))])
    lo_a, lo_b = l1 * l2, (1.0 - l1) * (1.0 - l2)
    if lo_a >= lo_b:
        m1, dm1 = lo_a, dl1 * l2 + l1 * dl2
    else:
        m1, dm1 = lo_b, -dl1 * (1.0 - l2) - (1.0 - l1) * dl2
    hi_a, hi_b = l1 * (1.0 - l2), (1.0 - l1) * l2
    if hi_a >= hi_b:
        m2, dm2 = hi_a, dl1 * (1.0 - l2) - l1 * dl2
    else:
        m2, dm2 = hi_b, -dl1 * l2 + (1.0 - l1) * dl2
    lo, hi = -1.0 / m1, 1.0 / m2
    dlo, dhi = dm1 / m1**2, -dm2 / m2**2
    sig = float(0.5 * (1.0 + np.tanh(0.5 * u[4])))  # logistic without overflow
    m = lo + (hi - lo) * sig
    dm_dtheta = dlo * (1.0 - sig) + dhi * sig
    dm_dv = (hi - lo) * sig * (1.0 - sig)
    return theta, m, dm_dtheta, dm_dv, sig


def _v_for(theta: FloatArray, m: float) -> float:
    lo, hi = _bounds(theta)
    p = (m - lo) / (hi - lo)
    p = min(max(p, 1e-12), 1.0 - 1e-12)
    return float(np.log(p / (1.0 - p)))


def fit_pareto_nbd_correlated(
    frequency: Any,
    recency: Any,
    T: Any,
    *,
    weights: Any = None,
    initial: Mapping[str, float] | None = None,
) -> ParetoNBDCorrelatedModel:
    r"""Fit the Pareto/NBD model with correlated purchase and dropout rates.

    The rates follow a Sarmanov density with the usual gamma margins (see
    :class:`ParetoNBDCorrelatedModel` and the notes below); the model nests
    the plain Pareto/NBD at correlation 0, so its log-likelihood is never
    below the plain fit's.

    Parameters
    ----------
    frequency, recency, T : array_like
        The calibration summary (as :func:`fit_pareto_nbd`).
    weights : array_like, optional
        Customers per row (> 0).
    initial : Mapping[str, float], optional
        Starting values for some of ``r``, ``alpha``, ``s``, ``beta`` and
        ``correlation``; by default the plain Pareto/NBD fit and correlation 0.

    Returns
    -------
    ParetoNBDCorrelatedModel
        ``params`` holds ``r``, ``alpha``, ``s``, ``beta`` and
        ``correlation``, with standard errors and the full covariance.

    Raises
    ------
    InvalidInputError
        As :func:`fit_pareto_nbd`, or for a starting correlation outside the
        admissible interval.
    ConvergenceError
        If the optimizer fails.

    Notes
    -----
    The search runs over :math:`(\log r, \log\alpha, \log s, \log\beta, v)`
    with :math:`m = m_{lo} + (m_{hi} - m_{lo})\,\sigma(v)`, so every step is
    a valid density, using the analytic gradient (the four plain
    likelihoods' gradients combined by the chain rule). Standard errors come
    from the Hessian (central differences of that gradient) mapped to
    :math:`(r, \alpha, s, \beta, \rho)` by the delta method. An estimate at
    the edge of the admissible interval (``v`` beyond ±16) is reported with
    a NaN standard error for the correlation.

    On CLVTools' apparel data (104-week calibration, weekly unit), the
    likelihood at CLVTools 0.12's published correlated estimates is
    -5850.8202, which this model reproduces; that estimate lies on the lower
    bound of ``m`` and below the plain fit (-5848.0978), whereas this fit
    finds a correlation near 0 with a log-likelihood at least the plain one.

    Examples
    --------
    >>> from custrel import ParetoNBDCorrelatedModel, fit_pareto_nbd_correlated
    >>> truth = ParetoNBDCorrelatedModel.from_params(
    ...     {"r": 1.0, "alpha": 2.0, "s": 1.0, "beta": 2.0, "correlation": 0.15})
    >>> sim = truth.simulate(3000, T=20.0, rng=3)
    >>> m = fit_pareto_nbd_correlated(sim.frequency, sim.recency, sim.T)
    >>> sorted(m.params)
    ['alpha', 'beta', 'correlation', 'r', 's']
    >>> bool(-1 < m.params["correlation"] < 1)
    True
    """
    from scipy import optimize  # imported on first fit (import custrel stays quick)

    x, tx, big_t, w, _ = _fit_rows(frequency, recency, T, weights, max_frequency=_pn.MAX_FREQUENCY)
    (x, tx, big_t), w, _ = _numeric.compress_rows([x, tx, big_t], w)  # identical rows merged
    total = float(w.sum())
    rows = (x, tx, big_t, w)
    start_rho = 0.0
    if initial is not None:
        for key in initial:
            if key not in ParetoNBDCorrelatedModel._param_names:
                raise InvalidInputError(
                    f"initial has an unknown parameter {key!r}; expected some of "
                    f"{', '.join(ParetoNBDCorrelatedModel._param_names)}"
                )
        start_rho = v.scalar(initial.get("correlation", 0.0), "initial correlation")
    base_initial = (
        None if initial is None else {k: x_ for k, x_ in initial.items() if k != "correlation"}
    )
    if base_initial:
        rate = _start_rate(x, big_t, w)
        theta0 = _initial(
            base_initial, ("r", "alpha", "s", "beta"), np.array([1.0, rate, 1.0, rate])
        )
    else:
        theta0 = np.asarray(_pn.fit(x, tx, big_t, w).params, dtype=np.float64)
    m0 = start_rho / _scale(theta0)
    lo, hi = _bounds(theta0)
    if not lo < m0 < hi:
        raise InvalidInputError(
            f"initial correlation {start_rho!r} lies outside the admissible interval "
            f"[{lo * _scale(theta0):.6g}, {hi * _scale(theta0):.6g}] for the starting parameters"
        )
    u0 = np.concatenate([np.log(theta0), [_v_for(theta0, m0)]])
    scale = 1.0 / total

    def grad_u(u: FloatArray) -> tuple[float, FloatArray]:
        theta, m, dm_dtheta, dm_dv, _ = _unpack(u)
        ll, g = _total(theta, m, rows)
        gu = np.empty(5)
        gu[:4] = theta * (g[:4] + g[4] * dm_dtheta)
        gu[4] = g[4] * dm_dv
        return ll, gu

    def objective(u: FloatArray) -> tuple[float, FloatArray]:
        if np.any(np.abs(u[:4]) > 25.0) or abs(float(u[4])) > 40.0:
            return np.inf, np.zeros_like(u)
        with np.errstate(all="ignore"):
            ll, gu = grad_u(u)
        if not np.isfinite(ll) or not np.all(np.isfinite(gu)):
            return np.inf, np.zeros_like(u)
        return -ll * scale, -gu * scale

    res = optimize.minimize(
        objective, u0, jac=True, method="BFGS", options={"maxiter": 2000, "gtol": 1e-8}
    )
    u = np.asarray(res.x, dtype=np.float64)
    f, g = objective(u)
    if not np.isfinite(f) or (not res.success and float(np.max(np.abs(g))) > 1e-4):
        raise ConvergenceError(
            f"correlated Pareto/NBD: the optimizer did not converge: {res.message} "
            f"(largest gradient {float(np.max(np.abs(g))):.3g}); pass other starting values "
            "with initial=..."
        )
    if np.any(np.abs(u[:4]) > 16.0):
        i = int(np.flatnonzero(np.abs(u[:4]) > 16.0)[0])
        name = ("r", "alpha", "s", "beta")[i]
        raise ConvergenceError(
            f"correlated Pareto/NBD: the likelihood has no finite maximum for these data: "
            f"{name} ran to {float(np.exp(u[i])):.3g}"
        )
    theta, m, _, _, _ = _unpack(u)
    rho = m * _scale(theta)
    params = np.concatenate([theta, [rho]])

    # covariance: inverse observed information in u, mapped to (theta, rho)
    hess = _numeric.hessian_from_gradient(lambda uu: grad_u(uu)[1], u, step=1e-5)
    cov = np.full((5, 5), np.nan)
    at_edge = abs(float(u[4])) > 16.0
    cov_u = _numeric.inverse_information(hess)
    if cov_u is not None:
        jac = np.zeros((5, 5))
        eps = 1e-6
        for k in range(5):  # d(theta, rho)/du by central differences of the closed forms
            du = np.zeros(5)
            du[k] = eps
            tp, mp, _, _, _ = _unpack(u + du)
            tm, mm, _, _, _ = _unpack(u - du)
            jac[:4, k] = (tp - tm) / (2 * eps)
            jac[4, k] = (mp * _scale(tp) - mm * _scale(tm)) / (2 * eps)
        cov = jac @ cov_u @ jac.T
        if at_edge:
            cov[4, :] = np.nan
            cov[:, 4] = np.nan
    se = np.sqrt(np.where(np.diag(cov) >= 0, np.diag(cov), np.nan))
    names = ParetoNBDCorrelatedModel._param_names
    return ParetoNBDCorrelatedModel(
        params=dict(zip(names, params.tolist(), strict=True)),
        log_likelihood=float(-f / scale),
        standard_errors=dict(zip(names, se.tolist(), strict=True)),
        covariance=cov,
        n_customers=total,
        n_iterations=int(res.nit),
        message=str(res.message)
        + (" (correlation at the edge of its interval)" if at_edge else ""),
    )
