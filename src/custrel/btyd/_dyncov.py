r"""Pareto/NBD with time-varying covariates (Bachmann, Meierer & Näf 2021).

While alive, customer *i* buys at the rate :math:`\lambda_i\,a_i(t)` and drops
out at the rate :math:`\mu_i\,c_i(t)`, where

.. math::

    a_i(t) = \exp(\gamma_{\mathrm{purchase}}^\top x_i(t)), \qquad
    c_i(t) = \exp(\gamma_{\mathrm{dropout}}^\top z_i(t)),

the covariates :math:`x_i(t)`, :math:`z_i(t)` are constant within each
calendar period (a week, say) and :math:`\lambda_i \sim \mathrm{Gamma}(r,
\alpha)`, :math:`\mu_i \sim \mathrm{Gamma}(s, \beta)` as in the Pareto/NBD.
Time ``t`` runs from the customer's first purchase. With the cumulative
exposures :math:`A_i(t) = \int_0^t a_i`, :math:`C_i(t) = \int_0^t c_i` (both
piecewise linear: each period is one linear piece, the *walk* of CLVTools) and
the repeat purchases at :math:`t_1, \dots, t_x`, integrating the individual
likelihood over the two gamma distributions gives

.. math::

    L_i = \frac{\Gamma(r+x)\,\alpha^r\beta^s}{\Gamma(r)}
          \prod_{j=1}^x a_i(t_j)
          \Big[(\alpha+A_i(T))^{-(r+x)}(\beta+C_i(T))^{-s}
          + s\int_{t_x}^{T} c_i(\tau)(\alpha+A_i(\tau))^{-(r+x)}
                                   (\beta+C_i(\tau))^{-(s+1)}\,d\tau\Big].

On a piece :math:`k` of length :math:`\Delta_k` with multipliers
:math:`A_k, C_k` that starts at exposures :math:`a_k, b_k`, the substitution
:math:`v = A_k(\tau - \tau_k)` turns the integral into
:math:`\rho_k^{s}\,[K(u_k, v_k) - K(u_k + A_k\Delta_k, v_k + \rho_k C_k\Delta_k)]`
with :math:`\rho_k = A_k / C_k`, :math:`u_k = \alpha + a_k`,
:math:`v_k = (\beta + b_k)\rho_k` and
:math:`K(u, v) = \int_0^\infty (u+\sigma)^{-(r+x)}(v+\sigma)^{-(s+1)}d\sigma`,
the same Gauss hypergeometric integral as the Pareto/NBD's (evaluated by the
series, continued fraction and quadrature of :mod:`custrel.btyd._pnbd_math`).
These are CLVTools' terms: on piece :math:`i` after the last purchase the
exposures are :math:`A(\tau) = \bar B_j + B_i + A_i\tau` and
:math:`C(\tau) = D_i + C_i\tau` (:math:`\bar B_j = A(t_x)`; the intercepts
``Bi()`` and ``Di()`` of its ``pnbd_dyncov`` likelihood), :math:`F_0` is the
factor in front, :math:`F_3` the first term of the bracket and
:math:`F_1 F_2` the integral. Consecutive
periods with the same covariate values form one linear piece, so a walk is
as long as its number of covariate changes, not of periods.

Given the history, :math:`\lambda_i \mid \text{alive} \sim \mathrm{Gamma}(r+x,
\alpha + A_i(T))` and :math:`\mu_i \mid \text{alive} \sim \mathrm{Gamma}(s,
\beta + C_i(T))`, so with the prediction period's covariates

.. math::

    P(\text{alive}) = \frac{(\alpha+A_i(T))^{-(r+x)}(\beta+C_i(T))^{-s}}{[\dots]},
    \qquad
    \mathrm{CET}(h) = P(\text{alive})\,\frac{r+x}{\alpha+A_i(T)}
      \int_T^{T+h} a_i(u)\Big(\frac{\beta+C_i(T)}{\beta+C_i(u)}\Big)^{s} du,

each piece of the last integral in closed form; the discounted version
(DERT over the prediction period) by Gauss-Legendre quadrature per piece.
A customer's expected repeat purchases in the first ``t`` after the first
purchase (the tracking table) are the same integral with ``x = 0``,
``A = C = 0`` and P(alive) 1: :math:`\frac{r}{\alpha}\int_0^t a_i(u)
(\beta/(\beta+C_i(u)))^s du`.

References
----------
Bachmann, P., Meierer, M. & Näf, J. (2021). The role of time-varying
contextual factors in latent attrition models for customer base analysis.
*Marketing Science* 40(4), 783-809.

Bachmann, P., Meierer, M., Näf, J. et al. CLVTools (R package, version
0.12): the ``pnbd_dyncov`` likelihood and its ``Bi()``/``Di()`` terms.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import attrs
import numpy as np
import numpy.typing as npt

from custrel import _validate as v
from custrel._numeric import bincount, gauss_legendre, hessian_from_gradient, inverse_information
from custrel.btyd import _covariates as cv
from custrel.btyd import _pnbd_math as _pm
from custrel.btyd import _threads
from custrel.btyd._base import BTYDModel
from custrel.btyd._dyncov_data import (
    DynamicCovariateData,
    _as_days,
    _day_text,
    dynamic_covariate_data,
)
from custrel.btyd._dyncov_math import (
    _by_customer,
    _chunks,
    _gradient,
    _split,
    _Terms,
    _terms,
    _walks,
)
from custrel.btyd._predictions import TrackingResult
from custrel.errors import ConvergenceError, FitWarning, InvalidInputError, InvalidTypeError

__all__ = [
    "DynamicCovariateData",
    "ParetoNBDDynCovModel",
    "dynamic_covariate_data",
    "fit_pareto_nbd_dyncov",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

_MAX_ITER = 1000  # BFGS iterations of the fit
_HESS_STEP = 1e-5  # central-difference step of the Hessian (of the analytic gradient)
_GL_NODES = 16  # Gauss-Legendre nodes per piece (discounted purchases)
_NEWTON = 4  # Newton steps that finish the BFGS search
_FLAT_EFFECT = 10.0  # |coefficient| x the column's range beyond which a fit warns
_CHUNK_CUSTOMERS = 2048  # customers per likelihood chunk (threads; fixed for reproducibility)


# ---------------------------------------------------------------------------
# The fit
# ---------------------------------------------------------------------------


def _check_design(data: DynamicCovariateData, cols: IntArray, process: str) -> FloatArray:
    """Refuse a covariate that is constant, or covariates that are collinear, over the walks.

    Returns each column's range (max - min) over the estimation period.
    """
    if cols.size == 0:
        return np.zeros(0)
    first = data._first_day.astype(np.float64)
    _, _, _, X = data._span(first, first + data.T * data.unit_days, "the estimation period")
    sub = X[:, cols]
    names = [data.covariate_names[c] for c in cols]
    for j, name in enumerate(names):
        if np.all(sub[:, j] == sub[0, j]):
            raise InvalidInputError(
                f"{process}_covariates: column {name!r} is constant ({sub[0, j]!r}) over the "
                "estimation period; its coefficient cannot be told from the base rate: drop it"
            )
    centred = sub - sub.mean(axis=0)
    scale = np.linalg.norm(centred, axis=0)
    rank = np.linalg.matrix_rank(centred / scale, tol=1e-9 * np.sqrt(sub.shape[0]))
    if rank < len(names):
        raise InvalidInputError(
            f"{process}_covariates: the columns {names!r} are collinear over the estimation "
            "period (one is a linear combination of the others and the intercept); drop one"
        )
    spread: FloatArray = sub.max(axis=0) - sub.min(axis=0)
    return spread


def _select(data: DynamicCovariateData, names: Any, process: str) -> IntArray:
    if names is None:
        return np.arange(len(data.covariate_names))
    if isinstance(names, str) or not isinstance(names, Sequence):
        raise InvalidTypeError(
            f"{process}_covariates must be a sequence of column names, got {names!r}"
        )
    idx = []
    for c in names:
        if c not in data.covariate_names:
            raise InvalidInputError(
                f"{process}_covariates: unknown column {c!r}; the table has "
                f"{list(data.covariate_names)!r}"
            )
        idx.append(data.covariate_names.index(c))
    if len(set(idx)) < len(idx):
        raise InvalidInputError(
            f"{process}_covariates must not repeat a column, got {list(names)!r}"
        )
    return np.asarray(idx, dtype=np.int64)


def _names_only(data: DynamicCovariateData, cols: IntArray) -> cv.CovariateMatrix | None:
    """A process's covariate names for the shared design (constraints, penalties)."""
    if cols.size == 0:
        return None
    names = tuple(data.covariate_names[c] for c in cols)
    return cv.CovariateMatrix(names, np.zeros((0, len(names)), order="F"))


def _to_theta(u: FloatArray) -> FloatArray:
    out = u.copy()
    out[:4] = np.exp(u[:4])
    return out


def _polish(
    total: Any, u: FloatArray, steps: int
) -> tuple[FloatArray, float, FloatArray, FloatArray]:
    """Newton steps from BFGS's end point (at most ``steps`` of them).

    ``total(u)`` returns the log-likelihood and its gradient. BFGS can stop
    short ("precision loss"); Newton steps on the Hessian (central
    differences of the analytic gradient) finish the climb. Returns the
    point, its log-likelihood, Hessian and gradient (the Hessian gives the
    standard errors).
    """
    f, g = total(u)

    def grad(uu: FloatArray) -> FloatArray:
        out: FloatArray = total(uu)[1]
        return out

    hess = hessian_from_gradient(grad, u, step=_HESS_STEP)
    for _ in range(steps):
        if not (np.all(np.isfinite(g)) and np.all(np.isfinite(hess))):
            break
        try:
            step = np.linalg.solve(hess, -g)
        except np.linalg.LinAlgError:
            break
        moved = False
        for shrink in (1.0, 0.5, 0.25, 0.125):
            cand = u + shrink * step
            fc, gc = total(cand)
            if np.isfinite(fc) and fc >= f:
                u, f, g, moved = cand, fc, gc, True
                break
        if not moved:
            break
        hess = hessian_from_gradient(grad, u, step=_HESS_STEP)
        if float(np.max(np.abs(shrink * step))) < 1e-10:
            break
    return u, f, hess, g


def _warn_flat(names: list[str], theta: FloatArray, se: FloatArray, spread: FloatArray) -> None:
    """Warn of NaN standard errors and of coefficients that ran off along a flat likelihood."""
    if not np.all(np.isfinite(se)):
        warnings.warn(
            "Pareto/NBD with dynamic covariates: the observed information matrix is not "
            "positive definite; standard errors are NaN",
            FitWarning,
            stacklevel=3,
        )
    effect = np.abs(theta[4:]) * spread
    if np.any(effect > _FLAT_EFFECT):
        j = int(np.flatnonzero(effect > _FLAT_EFFECT)[0])
        warnings.warn(
            f"Pareto/NBD with dynamic covariates: {names[4 + j]} = {theta[4 + j]:.3g} changes its "
            f"rate by a factor of e^{effect[j]:.3g} across the column's values: the likelihood is "
            "flat in that direction (no events where the covariate takes one of its values), so "
            "the estimate and its standard error mean little; drop the covariate from that process",
            FitWarning,
            stacklevel=3,
        )


@attrs.frozen(eq=False, repr=False)
class ParetoNBDDynCovModel(BTYDModel):
    r"""A Pareto/NBD model with time-varying covariates; see :func:`fit_pareto_nbd_dyncov`.

    Attributes
    ----------
    params : Mapping[str, float]
        ``r``, ``alpha``, ``s``, ``beta``, then ``purchase.<column>`` and
        ``dropout.<column>`` coefficients (the rates are multiplied by
        ``exp(coefficient * value)`` in each period).
    log_likelihood : float
        The maximised log-likelihood.
    standard_errors : Mapping[str, float]
        Standard errors from the inverse observed information (the Hessian
        by central differences of the analytic gradient).
    covariance : numpy.ndarray
        Covariance of the estimates, in the order of ``params``.
    n_customers : float
        Customers fitted on.
    n_iterations : int
        Optimizer iterations.
    message : str
        The optimizer's message.
    purchase_covariates, dropout_covariates : tuple of str
        The covariate columns of each process.
    constraints : tuple of str
        Covariates whose purchase and dropout coefficients were fitted as one.
    reg_lambdas : Mapping[str, float]
        The L2 penalties of the fit per process (0 for none).
    """

    purchase_covariates: tuple[str, ...] = ()
    dropout_covariates: tuple[str, ...] = ()
    constraints: tuple[str, ...] = ()
    reg_lambdas: Mapping[str, float] = attrs.field(factory=dict, converter=v.freeze)

    _param_names: ClassVar[tuple[str, ...]] = ("r", "alpha", "s", "beta")

    @classmethod
    def from_params(cls, params: Mapping[str, float]) -> Any:
        """A model with known parameters, without a fit.

        Parameters
        ----------
        params : Mapping[str, float]
            ``r``, ``alpha``, ``s``, ``beta`` (> 0) and any coefficients named
            ``purchase.<column>`` and ``dropout.<column>`` (finite), which
            name the covariate columns the predictions read.

        Returns
        -------
        ParetoNBDDynCovModel
            NaN log-likelihood and standard errors, 0 customers.

        Raises
        ------
        InvalidInputError
            If a base parameter is missing or not positive, a coefficient is
            not finite, or a key is neither.
        InvalidTypeError
            If ``params`` is not a mapping or a value not a real number.

        Examples
        --------
        >>> m = ParetoNBDDynCovModel.from_params(
        ...     {"r": 1.45, "alpha": 48.6, "s": 0.56, "beta": 46.9, "purchase.High.Season": 0.7})
        >>> m.purchase_covariates, m.dropout_covariates
        (('High.Season',), ())
        """
        if not isinstance(params, Mapping):
            raise InvalidTypeError(f"params must be a mapping, got {type(params).__name__}")
        base = cls._param_names
        missing = [k for k in base if k not in params]
        other = [str(k) for k in params if k not in base]
        bad = [
            k
            for k in other
            if not k.startswith(("purchase.", "dropout.")) or not k.split(".", 1)[1]
        ]
        if missing or bad:
            raise InvalidInputError(
                f"params must name {list(base)!r} and coefficients 'purchase.<column>' or "
                "'dropout.<column>'; " + (f"missing {missing!r}" if missing else f"unknown {bad!r}")
            )
        vals = {
            k: v.scalar(params[k], f"params[{k!r}]", low=0.0, low_inclusive=False) for k in base
        }
        purchase = tuple(k.split(".", 1)[1] for k in other if k.startswith("purchase."))
        dropout = tuple(k.split(".", 1)[1] for k in other if k.startswith("dropout."))
        for k in [f"purchase.{c}" for c in purchase] + [f"dropout.{c}" for c in dropout]:
            vals[k] = v.scalar(params[k], f"params[{k!r}]")
        n_par = len(vals)
        return cls(
            params=vals,
            log_likelihood=float("nan"),
            standard_errors=dict.fromkeys(vals, float("nan")),
            covariance=np.full((n_par, n_par), np.nan),
            n_customers=0.0,
            purchase_covariates=purchase,
            dropout_covariates=dropout,
        )

    def _theta_all(self) -> FloatArray:
        keys = (
            list(self._param_names)
            + [f"purchase.{c}" for c in self.purchase_covariates]
            + [f"dropout.{c}" for c in self.dropout_covariates]
        )
        return np.asarray([self.params[k] for k in keys], dtype=np.float64)

    def _columns(self, data: Any) -> tuple[IntArray, IntArray]:
        if not isinstance(data, DynamicCovariateData):
            raise InvalidTypeError(
                "data must be a DynamicCovariateData (see dynamic_covariate_data), got "
                f"{type(data).__name__}"
            )
        return (
            _select(data, list(self.purchase_covariates), "purchase"),
            _select(data, list(self.dropout_covariates), "dropout"),
        )

    def _terms(self, data: Any) -> _Terms:
        pc, dc = self._columns(data)
        return _terms(self._theta_all(), _walks(data, pc, dc))

    def customer_log_likelihood(self, data: DynamicCovariateData) -> FloatArray:
        """Each customer's log-likelihood of the estimation-period data.

        Parameters
        ----------
        data : DynamicCovariateData
            Customers with their covariates (the columns the model was fitted on).

        Returns
        -------
        numpy.ndarray
            One value per customer, in ``data.customer_id`` order.

        Raises
        ------
        InvalidTypeError
            If ``data`` is not a :class:`DynamicCovariateData`.
        InvalidInputError
            If a fitted covariate column is missing from ``data``.

        Examples
        --------
        >>> import numpy as np
        >>> weeks = np.datetime64("2024-01-01") + 7 * np.arange(10)  # Mondays
        >>> sale = np.array([0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0])
        >>> cov = {"customer_id": np.repeat([1, 2], 10), "date": np.tile(weeks, 2),
        ...        "sale": np.tile(sale, 2)}
        >>> data = dynamic_covariate_data([1, 1, 1, 2], ["2024-01-01", "2024-01-16", "2024-01-20",
        ...                                "2024-01-03"], cov, calibration_end="2024-02-04")
        >>> m = ParetoNBDDynCovModel.from_params(
        ...     {"r": 1.0, "alpha": 5.0, "s": 1.0, "beta": 20.0, "purchase.sale": 0.7})
        >>> m.customer_log_likelihood(data).round(3).tolist()
        [-3.8, -0.738]
        """
        return v.readonly(self._terms(data).ll)

    def probability_alive(self, data: DynamicCovariateData) -> FloatArray:
        """P(alive) at the end of the estimation period, per customer.

        Parameters
        ----------
        data : DynamicCovariateData

        Returns
        -------
        numpy.ndarray
            Values in [0, 1], in ``data.customer_id`` order.

        Raises
        ------
        InvalidTypeError, InvalidInputError
            As :meth:`customer_log_likelihood`.

        Examples
        --------
        >>> import numpy as np
        >>> weeks = np.datetime64("2024-01-01") + 7 * np.arange(10)  # Mondays
        >>> sale = np.array([0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0])
        >>> cov = {"customer_id": np.repeat([1, 2], 10), "date": np.tile(weeks, 2),
        ...        "sale": np.tile(sale, 2)}
        >>> data = dynamic_covariate_data([1, 1, 1, 2], ["2024-01-01", "2024-01-16", "2024-01-20",
        ...                                "2024-01-03"], cov, calibration_end="2024-02-04")
        >>> m = ParetoNBDDynCovModel.from_params(
        ...     {"r": 1.0, "alpha": 5.0, "s": 1.0, "beta": 20.0, "purchase.sale": 0.7})
        >>> m.probability_alive(data).round(3).tolist()
        [0.868, 0.734]
        """
        t = self._terms(data)
        return v.readonly(np.clip(np.exp(t.log_alive_term - t.log_bracket), 0.0, 1.0))

    def _span_integral(
        self,
        data: DynamicCovariateData,
        cols: tuple[IntArray, IntArray],
        lo_day: FloatArray,
        hi_day: FloatArray,
        base: FloatArray,
        discount_rate: float | None,
        purpose: str,
    ) -> FloatArray:
        """Per customer: ``int_lo^hi a(u) (base / (base + C(u) - C(lo)))^s e^{-d (u-lo)} du``.

        Each piece in closed form (no discounting) or by Gauss-Legendre
        quadrature; ``base`` is ``beta`` plus the dropout exposure at ``lo``.
        """
        pc, dc = cols
        _, _, s, _, gp, gd = _split(self._theta_all(), pc.shape[0])
        n = data.n_customers
        cust, start, stop, X = data._span(lo_day, hi_day, purpose)
        length = (stop - start) / data.unit_days
        offset = (start - lo_day[cust]) / data.unit_days  # time since lo at the piece start
        ma = np.exp(X[:, pc] @ gp)
        mc = np.exp(X[:, dc] @ gd)
        inc_c = mc * length
        # dropout exposure since lo at each piece start (pieces are customer-sorted)
        count = bincount(cust, minlength=n)
        offs = np.cumsum(count) - count
        csum = np.cumsum(inc_c)
        c_before = csum - inc_c - (csum[offs[cust]] - inc_c[offs[cust]])
        q = base[cust] + c_before
        if discount_rate is None:
            l1p = np.log1p(mc * length / q)
            e = 1.0 - s
            small = np.abs(e * l1p) < 1e-8
            g = np.where(
                small, l1p * (1.0 + 0.5 * e * l1p), np.expm1(e * l1p) / np.where(small, 1.0, e)
            )
            piece = ma / mc * q * np.exp(s * (np.log(base[cust]) - np.log(q))) * g
        else:
            nodes, weights = gauss_legendre(_GL_NODES)
            tau = 0.5 * length[:, None] * (nodes[None, :] + 1.0)
            integrand = np.exp(
                s * (np.log(base[cust])[:, None] - np.log(q[:, None] + mc[:, None] * tau))
                - discount_rate * (offset[:, None] + tau)
            )
            piece = ma * 0.5 * length * (integrand @ weights)
        return _by_customer(cust, piece[:, None], n)[:, 0]

    def _prediction(
        self, data: DynamicCovariateData, t: Any, discount_rate: float | None
    ) -> FloatArray:
        horizon = v.scalar(t, "t", low=0.0)
        cols = self._columns(data)
        theta = self._theta_all()
        r, alpha, _, beta, _, _ = _split(theta, cols[0].shape[0])
        terms = _terms(theta, _walks(data, *cols))
        n = data.n_customers
        if horizon == 0.0:
            return v.readonly(np.zeros(n))
        end = data._first_day + data.T * data.unit_days
        total = self._span_integral(
            data,
            cols,
            end,
            end + horizon * data.unit_days,
            beta + terms.c_total,
            discount_rate,
            f"the prediction period of t={horizon!r}",
        )
        alive = np.exp(terms.log_alive_term - terms.log_bracket)
        out: FloatArray = alive * (r + data.frequency) / (alpha + terms.a_total) * total
        return v.readonly(out)

    def expected_cumulative_transactions(
        self, data: DynamicCovariateData, times: Any
    ) -> TrackingResult:
        r"""Expected and actual repeat transactions of the customer base by calendar period.

        The tracking table (Fader, Hardie & Lee 2005, fig. 1) with the
        customers' covariates: each customer's expected repeat purchases
        from the first purchase to the end of each period,
        :math:`\frac{r}{\alpha}\int_0^{t} a(u)\,(\beta/(\beta + C(u)))^s\,du`,
        summed over the customers born by then.

        Parameters
        ----------
        data : DynamicCovariateData
            The customers; the covariate table must reach the last time, and
            ``data`` holds every purchase given to it (also after
            ``calibration_end``), so the actual counts cover the holdout.
        times : array_like of dates
            Increasing period ends (for example each week's last day);
            purchases up to and including each day count.

        Returns
        -------
        TrackingResult
            Draw it with :func:`custrel.plot.plot_tracking`.

        Raises
        ------
        InvalidInputError
            If ``times`` are not increasing dates, too many, or beyond the
            covariate table.
        InvalidTypeError
            As :meth:`customer_log_likelihood`.

        Examples
        --------
        >>> import numpy as np
        >>> weeks = np.datetime64("2024-01-01") + 7 * np.arange(10)  # Mondays
        >>> sale = np.array([0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0])
        >>> cov = {"customer_id": np.repeat([1, 2], 10), "date": np.tile(weeks, 2),
        ...        "sale": np.tile(sale, 2)}
        >>> data = dynamic_covariate_data([1, 1, 1, 2], ["2024-01-01", "2024-01-16", "2024-01-20",
        ...                                "2024-01-03"], cov, calibration_end="2024-02-04")
        >>> m = ParetoNBDDynCovModel.from_params(
        ...     {"r": 1.0, "alpha": 5.0, "s": 1.0, "beta": 20.0, "purchase.sale": 0.7})
        >>> track = m.expected_cumulative_transactions(data, ["2024-01-14", "2024-02-04"])
        >>> track.actual_cumulative.tolist(), track.expected_cumulative.round(3).tolist()
        ([0.0, 2.0], [0.71, 2.449])
        """
        cols = self._columns(data)
        days = _as_days(np.atleast_1d(np.asarray(times)), "times")
        if days.shape[0] == 0:
            raise InvalidInputError("times must not be empty")
        if np.any(np.diff(days) <= 0):
            j = int(np.flatnonzero(np.diff(days) <= 0)[0]) + 1
            raise InvalidInputError(
                f"times must be increasing, got {_day_text(days[j])} after "
                f"{_day_text(days[j - 1])} at row {j}"
            )
        n = data.n_customers
        v.check_budget(
            float(days.shape[0]) * n,
            "the tracking table (times x customers)",
            budget=v.max_cells(),
            culprit=f"{days.shape[0]} times x {n} customers",
            env="CUSTREL_MAX_CELLS",
        )
        r, alpha, _, beta, _, _ = _split(self._theta_all(), cols[0].shape[0])
        first = data._first_day.astype(np.float64)
        expected = np.empty(days.shape[0])
        for j, day in enumerate(days):  # one pass per period (vectorised over customers)
            hi = np.maximum(first, float(day) + 1.0)
            each = self._span_integral(
                data,
                cols,
                first,
                hi,
                np.full(n, beta),
                None,
                f"the tracking period ending {_day_text(day)}",
            )
            expected[j] = r / alpha * float(np.sum(each))
        occ_c, occ_d = data._occasions
        repeat = occ_d > data._first_day[occ_c]
        pos = np.searchsorted(days, occ_d[repeat])  # the period of each repeat purchase
        actual = np.cumsum(bincount(pos, minlength=days.shape[0] + 1)[: days.shape[0]])
        born = np.searchsorted(np.sort(data._first_day), days, side="right").astype(np.float64)
        return TrackingResult(
            time=days.astype("datetime64[D]").astype("datetime64[s]"),
            actual_incremental=np.diff(actual, prepend=0).astype(np.float64),
            expected_incremental=np.diff(expected, prepend=0.0),
            actual_cumulative=actual.astype(np.float64),
            expected_cumulative=expected,
            n_customers=born,
            calibration_end=data.calibration_end,
        )

    def expected_purchases(self, data: DynamicCovariateData, t: Any) -> FloatArray:
        r"""Expected repeat purchases in the first ``t`` time units after each first purchase.

        A new customer's expectation (no history beyond the first purchase)
        with the covariates the table gives for those periods:
        :math:`\frac{r}{\alpha}\int_0^t a_i(u)\,(\beta/(\beta+C_i(u)))^s du`.

        Parameters
        ----------
        data : DynamicCovariateData
            The customers; the table must cover ``t`` after each first purchase.
        t : float
            Time since the first purchase, in ``data``'s unit (>= 0).

        Returns
        -------
        numpy.ndarray
            One value per customer, in ``data.customer_id`` order.

        Raises
        ------
        InvalidInputError
            If ``t`` is negative or not finite, or the covariates do not
            reach ``t`` after a customer's first purchase.
        InvalidTypeError
            As :meth:`customer_log_likelihood`.

        Examples
        --------
        >>> import numpy as np
        >>> weeks = np.datetime64("2024-01-01") + 7 * np.arange(10)
        >>> cov = {"customer_id": [7] * 10, "date": weeks, "sale": [0.0, 1.0] * 5}
        >>> data = dynamic_covariate_data([7], ["2024-01-01"], cov, calibration_end="2024-01-01")
        >>> m = ParetoNBDDynCovModel.from_params(
        ...     {"r": 1.0, "alpha": 5.0, "s": 1.0, "beta": 20.0, "purchase.sale": 0.7})
        >>> m.expected_purchases(data, 4.0).round(4).tolist()
        [1.0905]
        """
        horizon = v.scalar(t, "t", low=0.0)
        cols = self._columns(data)
        r, alpha, _, beta, _, _ = _split(self._theta_all(), cols[0].shape[0])
        n = data.n_customers
        if horizon == 0.0:
            return v.readonly(np.zeros(n))
        first = data._first_day.astype(np.float64)
        each = self._span_integral(
            data,
            cols,
            first,
            first + horizon * data.unit_days,
            np.full(n, beta),
            None,
            f"the {horizon!r} time units after the first purchase",
        )
        return v.readonly(r / alpha * each)

    def conditional_expected_purchases(self, data: DynamicCovariateData, t: Any) -> FloatArray:
        """Expected purchases in the ``t`` time units after the estimation period (CET).

        The covariates of those periods come from ``data``'s table, which must
        reach that far for every customer.

        Parameters
        ----------
        data : DynamicCovariateData
        t : float
            Length of the prediction period in ``data``'s unit (>= 0).

        Returns
        -------
        numpy.ndarray
            One value per customer, in ``data.customer_id`` order.

        Raises
        ------
        InvalidInputError
            If ``t`` is negative or not finite, or a customer lacks a
            covariate row for a period of the prediction period.
        InvalidTypeError
            As :meth:`customer_log_likelihood`.

        Examples
        --------
        >>> import numpy as np
        >>> weeks = np.datetime64("2024-01-01") + 7 * np.arange(10)  # Mondays
        >>> sale = np.array([0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0])
        >>> cov = {"customer_id": np.repeat([1, 2], 10), "date": np.tile(weeks, 2),
        ...        "sale": np.tile(sale, 2)}
        >>> data = dynamic_covariate_data([1, 1, 1, 2], ["2024-01-01", "2024-01-16", "2024-01-20",
        ...                                "2024-01-03"], cov, calibration_end="2024-02-04")
        >>> m = ParetoNBDDynCovModel.from_params(
        ...     {"r": 1.0, "alpha": 5.0, "s": 1.0, "beta": 20.0, "purchase.sale": 0.7})
        >>> m.conditional_expected_purchases(data, 4.0).round(3).tolist()
        [1.222, 0.353]
        """
        return self._prediction(data, t, None)

    def discounted_expected_purchases(
        self, data: DynamicCovariateData, t: Any, *, discount_rate: Any
    ) -> FloatArray:
        """Discounted expected purchases in the prediction period (DERT over ``t``).

        Each purchase at time ``T + u`` counts ``exp(-discount_rate * u)``
        (continuous compounding per time unit), so with ``discount_rate=0``
        this is :meth:`conditional_expected_purchases`.

        Parameters
        ----------
        data : DynamicCovariateData
        t : float
            Length of the prediction period (>= 0), covered by the covariates.
        discount_rate : float
            Continuous discount rate per time unit (>= 0).

        Returns
        -------
        numpy.ndarray

        Raises
        ------
        InvalidInputError
            As :meth:`conditional_expected_purchases`, or a negative rate.
        InvalidTypeError
            As :meth:`customer_log_likelihood`.

        Examples
        --------
        >>> import numpy as np
        >>> weeks = np.datetime64("2024-01-01") + 7 * np.arange(10)  # Mondays
        >>> sale = np.array([0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0])
        >>> cov = {"customer_id": np.repeat([1, 2], 10), "date": np.tile(weeks, 2),
        ...        "sale": np.tile(sale, 2)}
        >>> data = dynamic_covariate_data([1, 1, 1, 2], ["2024-01-01", "2024-01-16", "2024-01-20",
        ...                                "2024-01-03"], cov, calibration_end="2024-02-04")
        >>> m = ParetoNBDDynCovModel.from_params(
        ...     {"r": 1.0, "alpha": 5.0, "s": 1.0, "beta": 20.0, "purchase.sale": 0.7})
        >>> m.discounted_expected_purchases(data, 4.0, discount_rate=0.01).round(3).tolist()
        [1.198, 0.346]
        """
        rate = v.scalar(discount_rate, "discount_rate", low=0.0)
        return self._prediction(data, t, rate)


def fit_pareto_nbd_dyncov(
    data: DynamicCovariateData,
    *,
    purchase_covariates: Sequence[str] | None = None,
    dropout_covariates: Sequence[str] | None = None,
    constraints: Any = None,
    reg_lambdas: Any = None,
    initial: Mapping[str, float] | None = None,
    threads: Any = None,
) -> ParetoNBDDynCovModel:
    r"""Fit the Pareto/NBD model with time-varying covariates by maximum likelihood.

    Parameters
    ----------
    data : DynamicCovariateData
        Transactions and per-period covariates (:func:`dynamic_covariate_data`).
    purchase_covariates, dropout_covariates : sequence of str, optional
        The covariate columns of the purchase and dropout processes (default:
        every column; ``[]`` for none).
    constraints : str or sequence of str, optional
        Covariates in both processes whose purchase and dropout coefficients
        are one (CLVTools' ``names.cov.constr``); ``params`` still holds both,
        equal and perfectly correlated in ``covariance``.
    reg_lambdas : Mapping[str, float], optional
        L2 penalties per process, ``{"purchase": l1, "dropout": l2}``
        (CLVTools' ``reg.lambdas``): the fit maximises the mean
        log-likelihood minus ``l * sum(coefficient**2)`` of each process;
        ``log_likelihood`` reports the unpenalised value.
    initial : Mapping[str, float], optional
        Starting values for some parameters (default: the plain Pareto/NBD
        fit and zero coefficients).
    threads : int, optional
        Threads for the likelihood (else ``CUSTREL_THREADS``, else every
        usable core); fixed chunks of customers make the fit the same to the
        last bit for any count.

    Returns
    -------
    ParetoNBDDynCovModel

    Raises
    ------
    InvalidInputError
        An unknown or repeated column, a column that is constant or
        collinear with others over the estimation period, a constraint on a
        column missing from a process, or a negative penalty.
    ConvergenceError
        If the optimizer fails.

    Notes
    -----
    The likelihood of :mod:`custrel.btyd._dyncov` (Bachmann, Meierer & Näf
    2021) is maximised with BFGS over ``log r, log alpha, log s, log beta``
    and the coefficients with the analytic gradient (the derivatives of each
    piece's hypergeometric term carried through the walks; Newton steps
    finish a search BFGS stops short); standard errors come from the Hessian
    by central differences of that gradient. With all covariates zero the model is the plain
    Pareto/NBD; with covariates constant in time it is the static-covariate
    Pareto/NBD (:math:`\alpha_i = \alpha e^{-\gamma^\top z_i}`).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(7)
    >>> n = 300  # customers acquired on 2020-01-06, Pareto/NBD purchase histories over a year
    >>> rate = rng.gamma(2.0, 1 / 8.0, n)  # purchases per week
    >>> life = rng.exponential(1.0 / rng.gamma(1.0, 1 / 30.0, n))  # weeks
    >>> times = rng.exponential(1.0 / rate[:, None], (n, 40)).cumsum(axis=1)
    >>> keep = times < np.minimum(life, 52.0)[:, None]
    >>> ids = np.concatenate([np.arange(n), np.nonzero(keep)[0]])
    >>> t = np.concatenate([np.zeros(n), times[keep]])
    >>> days = np.datetime64("2020-01-06") + np.floor(t * 7).astype(int)
    >>> weeks = np.datetime64("2020-01-06") + 7 * np.arange(60)
    >>> cov = {"customer_id": np.repeat(np.arange(n), 60), "date": np.tile(weeks, n),
    ...        "season": np.tile((np.arange(60) % 13 < 4).astype(float), n)}
    >>> d = dynamic_covariate_data(ids, days, cov, calibration_end="2021-01-03")
    >>> m = fit_pareto_nbd_dyncov(d, dropout_covariates=[])
    >>> list(m.params)
    ['r', 'alpha', 's', 'beta', 'purchase.season']
    """
    if not isinstance(data, DynamicCovariateData):
        raise InvalidTypeError(
            "data must be a DynamicCovariateData (see dynamic_covariate_data), got "
            f"{type(data).__name__}"
        )
    pc = _select(data, purchase_covariates, "purchase")
    dc = _select(data, dropout_covariates, "dropout")
    spread = np.concatenate(
        [_check_design(data, pc, "purchase"), _check_design(data, dc, "dropout")]
    )
    names = (
        ["r", "alpha", "s", "beta"]
        + [f"purchase.{data.covariate_names[c]}" for c in pc]
        + [f"dropout.{data.covariate_names[c]}" for c in dc]
    )
    given: dict[int, float] = {}
    if initial is not None:
        if not isinstance(initial, Mapping):
            raise InvalidTypeError(f"initial must be a mapping, got {type(initial).__name__}")
        for k, val in initial.items():
            if k not in names:
                raise InvalidInputError(
                    f"initial: unknown parameter {k!r}; the model has {names!r}"
                )
            j = names.index(k)
            if j < 4:
                given[j] = np.log(v.scalar(val, f"initial[{k!r}]", low=0.0, low_inclusive=False))
            else:
                given[j] = v.scalar(val, f"initial[{k!r}]")
    design = cv.make_design(
        {
            "purchase": _names_only(data, pc),
            "dropout": _names_only(data, dc),
        },
        constraints=constraints,
        reg_lambdas=reg_lambdas,
    )
    # the free parameters: log r, log alpha, log s, log beta, one per unconstrained
    # coefficient and one per constraint; full coefficients = free[expand]
    expand = np.concatenate([np.arange(4), 4 + design.expand]).astype(np.int64)
    n_free = 4 + len(design.free_names)
    reg = np.concatenate(
        [
            np.full(pc.shape[0], design.reg_lambdas.get("purchase", 0.0)),
            np.full(dc.shape[0], design.reg_lambdas.get("dropout", 0.0)),
        ]
    )
    walks = _walks(data, pc, dc)
    chunks = _chunks(walks, _CHUNK_CUSTOMERS)
    n = float(data.n_customers)
    rate = float(np.mean(data.T)) / max(float(np.mean(data.frequency)), 0.1)
    start = np.array([1.0, rate, 1.0, float(np.mean(data.T)) + 1.0])
    if not all(j in given for j in range(4)):
        # the no-covariate optimum (the zero-coefficient point of this model); too few
        # customers for a plain fit keep the rough start
        with contextlib.suppress(ConvergenceError):
            start = np.asarray(_pm.fit(data.frequency, data.recency, data.T).params)
    u0 = np.concatenate([np.log(start.astype(np.float64)), np.zeros(n_free - 4)])
    for j, val in given.items():
        u0[expand[j]] = val

    def full(u: FloatArray) -> FloatArray:
        return _to_theta(u[expand])

    def total(u: FloatArray) -> tuple[float, FloatArray]:
        """Penalised log-likelihood and its gradient in the free parameters."""
        if np.any(np.abs(u) > 30.0):
            return -np.inf, np.zeros_like(u)
        theta = full(u)
        with np.errstate(all="ignore"):
            f, g = _threads.sum_chunks(lambda c: _gradient(theta, c), chunks, threads)
        coefs = theta[4:]
        f -= n * float(np.sum(reg * coefs**2))
        g[4:] -= 2.0 * n * reg * coefs
        g[:4] *= theta[:4]
        out = np.zeros(n_free)
        np.add.at(out, expand, g)
        if not (np.isfinite(f) and np.all(np.isfinite(out))):
            return -np.inf, np.zeros_like(u)
        return f, out

    def objective(u: FloatArray) -> tuple[float, FloatArray]:
        f, g = total(u)
        if not np.isfinite(f):
            return np.inf, np.zeros_like(u)
        return -f / n, -g / n

    from scipy import optimize  # imported on first fit (import custrel stays quick)

    if not np.isfinite(total(u0)[0]):
        raise ConvergenceError(
            "Pareto/NBD with dynamic covariates: the log-likelihood is not finite at the "
            f"starting values {dict(zip(names, full(u0).tolist(), strict=True))!r}; "
            "pass others with initial=..."
        )
    res = optimize.minimize(
        objective, u0, jac=True, method="BFGS", options={"maxiter": _MAX_ITER, "gtol": 1e-6}
    )
    u, _, hess, g_end = _polish(
        total, np.asarray(res.x, dtype=np.float64), 0 if res.success else _NEWTON
    )
    theta = full(u)
    f_end = float(np.sum(_terms(theta, walks).ll))  # the unpenalised log-likelihood
    g_mean = float(np.max(np.abs(g_end))) / n
    if not np.isfinite(f_end) or g_mean > 1e-4:
        raise ConvergenceError(
            f"Pareto/NBD with dynamic covariates: the optimizer did not converge: {res.message} "
            f"(after {res.nit} iterations, largest gradient {g_mean:.3g})"
        )
    if np.any(np.abs(u[:4]) > 16.0):
        j = int(np.flatnonzero(np.abs(u[:4]) > 16.0)[0])
        raise ConvergenceError(
            f"Pareto/NBD with dynamic covariates: the likelihood has no finite maximum for these "
            f"data: {names[j]} ran to {float(np.exp(u[j])):.3g}"
        )
    n_par = len(names)
    cov = np.full((n_par, n_par), np.nan)
    se = np.full(n_par, np.nan)
    cov_u = inverse_information(hess)
    if cov_u is not None:
        # d theta_full / d u_free: theta on the base rows, 1 where a coefficient is free
        jac = np.zeros((n_par, n_free))
        jac[np.arange(n_par), expand] = np.where(np.arange(n_par) < 4, theta, 1.0)
        cov = jac @ cov_u @ jac.T
        se = np.sqrt(np.diag(cov))
    _warn_flat(names, theta, se, spread)
    return ParetoNBDDynCovModel(
        params=dict(zip(names, theta.tolist(), strict=True)),
        log_likelihood=float(f_end),
        standard_errors=dict(zip(names, se.tolist(), strict=True)),
        covariance=cov,
        n_customers=n,
        n_iterations=int(res.nit),
        message=str(res.message),
        purchase_covariates=tuple(data.covariate_names[c] for c in pc),
        dropout_covariates=tuple(data.covariate_names[c] for c in dc),
        constraints=design.constraints,
        reg_lambdas=dict(design.reg_lambdas),
    )
