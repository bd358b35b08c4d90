"""The base classes of every BTYD model.

:class:`BTYDModel` and :class:`RepeatPurchaseModel` (predictions, simulation, the shared API).
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from typing import Any, ClassVar

import attrs
import numpy as np
import numpy.typing as npt

from custrel import _validate as v
from custrel._lazy import LazyModule
from custrel.btyd import _threads
from custrel.btyd._common import (
    _as_rfm,
    _as_rng,
    _broadcast_customers,
    _discounted_sum,
    _frozen_mapping,
    _horizon,
    _readonly_matrix,
)
from custrel.btyd._summary import BTYDSummary
from custrel.errors import (
    ConvergenceError,
    InvalidInputError,
    InvalidTypeError,
)

special = LazyModule("scipy.special")  # imported on first use (import time)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


#: Smallest DERT discount rate: its quadrature spans t up to 100 / ln(1 + rate) time units.
_MIN_DERT_RATE = 1e-300


def _refuse_covariates(model: Any, purchase_covariates: Any, dropout_covariates: Any) -> None:
    """Refuse covariates given to a model without covariates (a clear error, not a TypeError)."""
    for name, value in (
        ("purchase_covariates", purchase_covariates),
        ("dropout_covariates", dropout_covariates),
    ):
        if value is not None:
            raise InvalidInputError(
                f"{name} was given, but {type(model).__name__} has no covariates; leave it out "
                f"(a fit given {name}= returns a covariate model that takes them)"
            )


@attrs.frozen(eq=False, repr=False)
class BTYDModel:
    """Base of the fitted BTYD models: the fields and methods they all share.

    Build a model with a ``fit_*`` function, or with :meth:`from_params` from
    known parameters.

    Attributes
    ----------
    params : Mapping[str, float]
        The estimates, by the papers' parameter names (read-only).
    log_likelihood : float
        The maximised log-likelihood (weighted sum over customers); NaN for a
        model built from known parameters.
    standard_errors : Mapping[str, float]
        Standard errors from the inverse Hessian of the log-likelihood.
    covariance : numpy.ndarray
        Estimated covariance matrix of the estimates, in the order of ``params``.
    n_customers : float
        Customers the model was fitted on (the sum of the weights).
    n_iterations : int
        Optimizer iterations.
    message : str
        The optimizer's message.
    """

    params: Mapping[str, float] = attrs.field(converter=_frozen_mapping)
    log_likelihood: float
    standard_errors: Mapping[str, float] = attrs.field(converter=_frozen_mapping)
    covariance: FloatArray = attrs.field(converter=_readonly_matrix)
    n_customers: float
    n_iterations: int = 0
    message: str = ""

    _param_names: ClassVar[tuple[str, ...]] = ()

    def __repr__(self) -> str:
        ps = ", ".join(f"{k}={self.params[k]:.4g}" for k in self._param_names)
        return (
            f"{type(self).__name__}({ps}, log_likelihood={self.log_likelihood:.6g}, "
            f"n_customers={self.n_customers:g})"
        )

    def _theta(self) -> FloatArray:
        return np.asarray([self.params[k] for k in self._param_names], dtype=np.float64)

    @classmethod
    def _from_values(
        cls, values: Any, *, log_likelihood: float = float("nan"), n_customers: float = 0.0
    ) -> Any:
        vals = np.asarray(values, dtype=np.float64)
        k = len(cls._param_names)
        return cls(
            params=dict(zip(cls._param_names, vals.tolist(), strict=True)),
            log_likelihood=log_likelihood,
            standard_errors=dict.fromkeys(cls._param_names, float("nan")),
            covariance=np.full((k, k), np.nan),
            n_customers=n_customers,
        )

    @classmethod
    def from_params(cls, params: Mapping[str, float]) -> Any:
        """A model with known parameters (for example published ones), without a fit.

        Parameters
        ----------
        params : Mapping[str, float]
            Every parameter of the model by its name, each > 0.

        Returns
        -------
        BTYDModel
            The model of the class it is called on, with NaN log-likelihood
            and standard errors and 0 customers.

        Examples
        --------
        >>> from custrel import BGNBDModel
        >>> BGNBDModel.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}).params["b"]
        2.426

        Raises
        ------
        InvalidInputError
            If a parameter is missing, unknown or not positive.
        """
        if not isinstance(params, Mapping):
            raise InvalidTypeError(f"params must be a mapping, got {type(params).__name__}")
        names = cls._param_names
        extra = sorted(set(params) - set(names))
        missing = [n for n in names if n not in params]
        if extra or missing:
            raise InvalidInputError(
                f"params must name exactly {list(names)!r}; "
                + (f"missing {missing!r}" if missing else f"unknown {extra!r}")
            )
        vals = [v.scalar(params[n], f"params[{n!r}]", low=0.0, low_inclusive=False) for n in names]
        return cls._from_values(vals)

    def with_params(self, params: Mapping[str, float]) -> Any:
        """A copy of this model with other parameter values (everything else kept).

        The delta method and the bootstrap of :mod:`custrel.btyd` predict
        through it, and so can a user exploring "what if" values: every
        prediction method reads the parameters from :attr:`params` only.

        Parameters
        ----------
        params : Mapping[str, float]
            A value for every key of :attr:`params` (no more, no fewer): the
            base parameters (> 0) and any covariate coefficients (finite).

        Returns
        -------
        BTYDModel
            A model of the same class whose :attr:`params` hold the new
            values, in this model's order. ``log_likelihood``,
            ``standard_errors``, ``covariance`` and the rest are this
            model's: they describe the fit, not the new values.

        Raises
        ------
        InvalidTypeError
            If ``params`` is not a mapping or a value is not a real number.
        InvalidInputError
            If a key is missing or unknown, a value is not finite, or a base
            parameter is not positive.

        Examples
        --------
        >>> from custrel import BGNBDModel
        >>> m = BGNBDModel.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
        >>> m2 = m.with_params({**m.params, "r": 0.3})
        >>> m2.params["r"], m.params["r"]
        (0.3, 0.243)
        """
        if not isinstance(params, Mapping):
            raise InvalidTypeError(f"params must be a mapping, got {type(params).__name__}")
        extra = sorted(str(k) for k in set(params) - set(self.params))
        missing = [k for k in self.params if k not in params]
        if extra or missing:
            raise InvalidInputError(
                f"params must name exactly the model's parameters {list(self.params)!r}; "
                + (f"missing {missing!r}" if missing else f"unknown {extra!r}")
            )
        base = set(self._param_names)
        values = {
            k: v.scalar(params[k], f"params[{k!r}]", low=0.0, low_inclusive=False)
            if k in base
            else v.scalar(params[k], f"params[{k!r}]")
            for k in self.params
        }
        return attrs.evolve(self, params=values)

    def summary(self, *, level: float = 0.95) -> Any:
        """Each parameter's estimate, standard error and Wald interval, as a table.

        Parameters
        ----------
        level : float
            Confidence level of the intervals, in (0, 1).

        Returns
        -------
        ParameterSummary
            A read-only mapping ``{name: (estimate, se)}`` (as before) that
            prints as a table with the interval limits; ``lower`` and
            ``upper`` map each name to its limits. A positive (base)
            parameter's interval is normal on the log scale,
            ``estimate * exp(±z se / estimate)``, so it stays positive;
            a covariate coefficient's is ``estimate ± z se``.

        Raises
        ------
        InvalidInputError
            If ``level`` is not in (0, 1).

        Examples
        --------
        >>> from custrel import GammaGammaModel
        >>> gg = GammaGammaModel.from_params({"p": 6.25, "q": 3.74, "gamma": 15.44})
        >>> gg.summary()["p"]
        (6.25, nan)
        """
        from custrel.btyd._uncertainty import ParameterSummary

        return ParameterSummary.wald(self, level=level)


@attrs.frozen(eq=False, repr=False)
class RepeatPurchaseModel(BTYDModel, abc.ABC):
    """Base of the repeat-purchase models (BG/NBD, MBG/NBD, Pareto/NBD, BG/BB).

    They share one set of prediction methods, so diagnostics, CLV and
    reports work with any of them.

    Attributes
    ----------
    params, log_likelihood, standard_errors, covariance, n_customers, n_iterations, message
        As :class:`BTYDModel`.
    """

    _discrete: ClassVar[bool] = False

    # -- model-specific kernels (vectorised; inputs already validated) --------

    @abc.abstractmethod
    def _ll(self, x: FloatArray, tx: FloatArray, big_t: FloatArray) -> FloatArray:
        """Model-specific kernel; each model defines it."""

    @abc.abstractmethod
    def _expected(self, t: FloatArray) -> FloatArray:
        """Model-specific kernel; each model defines it."""

    @abc.abstractmethod
    def _alive(self, x: FloatArray, tx: FloatArray, big_t: FloatArray) -> FloatArray:
        """Model-specific kernel; each model defines it."""

    @abc.abstractmethod
    def _conditional(
        self, t: FloatArray, x: FloatArray, tx: FloatArray, big_t: FloatArray
    ) -> FloatArray:
        """Model-specific kernel; each model defines it."""

    @abc.abstractmethod
    def _pmf(self, n: FloatArray, t: FloatArray) -> FloatArray:
        """Model-specific kernel; each model defines it."""

    @abc.abstractmethod
    def _simulate(
        self, n_customers: int, big_t: FloatArray, rng: np.random.Generator
    ) -> tuple[FloatArray, FloatArray]:
        """Model-specific kernel; each model defines it."""

    # -- public predictions ----------------------------------------------------

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
            Threads to use (else ``CUSTREL_THREADS``, else every core); the
            result is the same to the last bit for any value.
        purchase_covariates, dropout_covariates : None
            Only for covariate models (a fit given ``purchase_covariates=`` or
            ``dropout_covariates=``); this model has none and refuses them.

        Returns
        -------
        numpy.ndarray
            One log-likelihood per customer; their (weighted) sum over the
            fitting data is :attr:`log_likelihood`.

        Examples
        --------
        >>> from custrel import BGNBDModel
        >>> m = BGNBDModel.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
        >>> round(float(m.customer_log_likelihood(2, 30.43, 38.86)), 3)
        -9.459
        """
        _refuse_covariates(self, purchase_covariates, dropout_covariates)
        x, tx, big_t = _as_rfm(
            frequency, recency, T, discrete=self._discrete, allow_scalar=True, threads=threads
        )
        out: FloatArray = _threads.per_customer(self._ll, x, tx, big_t, threads=threads)
        return out

    def expected_purchases(
        self, t: Any, *, purchase_covariates: Any = None, dropout_covariates: Any = None
    ) -> FloatArray:
        """Expected repeat purchases in (0, t] of a new customer, E[X(t)].

        Parameters
        ----------
        t : float or array_like
            Time since the first purchase, in the model's time unit (a whole
            number of opportunities for BG/BB).
        purchase_covariates, dropout_covariates : None
            Only for covariate models (a fit given ``purchase_covariates=`` or
            ``dropout_covariates=``); this model has none and refuses them.

        Returns
        -------
        numpy.ndarray
            Non-negative, increasing in ``t``, 0 at ``t = 0``.

        Examples
        --------
        >>> from custrel import BGNBDModel
        >>> m = BGNBDModel.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
        >>> m.expected_purchases([39.0, 78.0]).round(3).tolist()
        [1.197, 1.861]
        """
        _refuse_covariates(self, purchase_covariates, dropout_covariates)
        tt = _horizon(t, discrete=self._discrete)
        return self._expected(tt)

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
        """Expected purchases in (T, T + t] of customers with the given history.

        Parameters
        ----------
        t : float or array_like
            Length of the forecast window (broadcasts against the customers).
        frequency, recency, T : array_like
            Each customer's summary.
        threads : int, optional
            Threads to use (else ``CUSTREL_THREADS``, else every core); the
            result is the same to the last bit for any value.
        purchase_covariates, dropout_covariates : None
            Only for covariate models (a fit given ``purchase_covariates=`` or
            ``dropout_covariates=``); this model has none and refuses them.

        Returns
        -------
        numpy.ndarray
            E[Y(t) | frequency, recency, T], one per customer.

        Examples
        --------
        >>> from custrel import BGNBDModel
        >>> m = BGNBDModel.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
        >>> m.conditional_expected_purchases(39.0, [0, 2], [0.0, 30.43], [38.86, 38.86]).round(3).tolist()
        [0.195, 1.226]
        """
        _refuse_covariates(self, purchase_covariates, dropout_covariates)
        x, tx, big_t = _as_rfm(
            frequency, recency, T, discrete=self._discrete, allow_scalar=True, threads=threads
        )
        tt = _horizon(t, discrete=self._discrete)
        if tt.ndim == 1 and x.ndim == 1 and tt.shape != x.shape and tt.shape != (1,):
            raise InvalidInputError(
                f"t has {tt.shape[0]} values but there are {x.shape[0]} customers; give one "
                "forecast window, or one per customer"
            )
        out: FloatArray = _threads.per_customer(
            self._conditional, tt, x, tx, big_t, threads=threads
        )
        return out

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
            Threads to use (else ``CUSTREL_THREADS``, else every core); the
            result is the same to the last bit for any value.
        purchase_covariates, dropout_covariates : None
            Only for covariate models (a fit given ``purchase_covariates=`` or
            ``dropout_covariates=``); this model has none and refuses them.

        Returns
        -------
        numpy.ndarray
            P(alive | frequency, recency, T) in [0, 1].

        Examples
        --------
        >>> from custrel import BGNBDModel
        >>> m = BGNBDModel.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
        >>> m.probability_alive([0, 2, 2], [0.0, 30.43, 5.0], 38.86).round(3).tolist()
        [1.0, 0.727, 0.124]
        """
        _refuse_covariates(self, purchase_covariates, dropout_covariates)
        x, tx, big_t = _as_rfm(
            frequency, recency, T, discrete=self._discrete, allow_scalar=True, threads=threads
        )
        out: FloatArray = _threads.per_customer(self._alive, x, tx, big_t, threads=threads)
        return out

    def probability_of_purchases(
        self, n: Any, t: Any, *, purchase_covariates: Any = None, dropout_covariates: Any = None
    ) -> FloatArray:
        """Probability that a new customer makes exactly ``n`` repeat purchases in (0, t].

        Parameters
        ----------
        n : int or array_like of int
            Numbers of purchases (>= 0).
        t : float or array_like
            Time since the first purchase (broadcasts against ``n``).
        purchase_covariates, dropout_covariates : None
            Only for covariate models (a fit given ``purchase_covariates=`` or
            ``dropout_covariates=``); this model has none and refuses them.

        Returns
        -------
        numpy.ndarray
            P(X(t) = n); summed over all ``n`` it is 1.

        Examples
        --------
        >>> from custrel import BGNBDModel
        >>> m = BGNBDModel.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
        >>> m.probability_of_purchases([0, 1, 2], 39.0).round(3).tolist()
        [0.574, 0.199, 0.085]
        """
        _refuse_covariates(self, purchase_covariates, dropout_covariates)
        nn = v.as_float_array(n, "n", ndim=(0, 1))
        v.check_range(nn, "n", low=0.0)
        v.check_integer_valued(nn, "n")
        tt = _horizon(t, discrete=self._discrete)
        return self._pmf(nn, tt)

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

        Parameters
        ----------
        frequency, recency, T : array_like
            Each customer's summary.
        spend : float or array_like
            Expected spend per future purchase, per customer (for example
            :meth:`GammaGammaModel.conditional_expected_spend`).
        horizon : int
            Number of future periods to value.
        discount_rate : float
            Discount rate per period (0.01 is 1 % a period; > -1).
        margin : float
            Share of the spend that is profit (1 values revenue).
        period : float
            Length of one period in the model's time unit (for example
            ``52 / 12`` weeks for months); a whole number for BG/BB.
        threads : int, optional
            Threads to use (else ``CUSTREL_THREADS``, else every core); the
            result is the same to the last bit for any value.
        purchase_covariates, dropout_covariates : None
            Only for covariate models (a fit given ``purchase_covariates=`` or
            ``dropout_covariates=``); this model has none and refuses them.

        Returns
        -------
        numpy.ndarray
            CLV per customer.

        Raises
        ------
        InvalidInputError
            If a column is invalid, ``spend`` has neither one value nor one
            per customer, ``horizon`` exceeds the period budget
            (``CUSTREL_MAX_PERIODS``, default 1,000,000) or ``horizon`` times
            the customers exceeds the cell budget (``CUSTREL_MAX_CELLS``), or
            the discounting leaves the float range (a negative rate over a
            long horizon).

        Notes
        -----
        .. math::

            \mathrm{CLV} = m\,\bar s \sum_{k=1}^{H}
            \frac{E[Y(k\,p)] - E[Y((k-1)\,p)]}{(1+d)^{k}}

        with :math:`E[Y(\cdot)]` the conditional expected purchases, cash
        flows at the end of each period (as in lifetimes). One pass per
        period, vectorised over customers: memory proportional to the number
        of customers.

        Examples
        --------
        >>> from custrel import BGNBDModel
        >>> m = BGNBDModel.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
        >>> m.customer_lifetime_value([0, 2], [0.0, 30.43], 38.86, [35.17, 24.66], horizon=12,
        ...                           discount_rate=0.01, margin=0.3, period=52 / 12).round(2).tolist()
        [2.5, 10.86]
        """
        _refuse_covariates(self, purchase_covariates, dropout_covariates)
        x, tx, big_t = _as_rfm(
            frequency, recency, T, discrete=self._discrete, allow_scalar=True, threads=threads
        )
        s = v.as_float_array(spend, "spend", ndim=(0, 1))
        h = v.positive_int(horizon, "horizon")
        d = v.discount_rate(discount_rate)
        mg = v.scalar(margin, "margin")
        p = v.scalar(period, "period", low=0.0, low_inclusive=False)
        if self._discrete and p != round(p):
            raise InvalidInputError(
                f"period must be a whole number of opportunities for BG/BB, got {p!r}"
            )
        if s.ndim == 1 and x.ndim == 1 and s.shape != x.shape:
            raise InvalidInputError(
                f"spend has {s.shape[0]} values but there are {x.size} customers; give one "
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
            float(h) * max(x.size, 1),
            "the CLV forecast (periods x customers)",
            budget=v.max_cells(),
            culprit=f"horizon={h!r} for {x.size} customers",
            env="CUSTREL_MAX_CELLS",
            hint="value the customers in batches",
        )
        x, tx, big_t, s = _broadcast_customers(x, tx, big_t, s)
        purchases = _threads.per_customer(
            lambda xc, txc, tc: self._discounted_purchases(h, p, d, xc, txc, tc),
            x,
            tx,
            big_t,
            threads=threads,
        )
        out: FloatArray = mg * s * purchases
        return out

    def _discounted_purchases(
        self,
        horizon: int,
        period: float,
        rate: float,
        x: FloatArray,
        tx: FloatArray,
        big_t: FloatArray,
    ) -> FloatArray:
        """Sum over periods of the discounted expected purchases in each period."""
        return _discounted_sum(
            lambda t: self._conditional(t, x, tx, big_t), horizon, period, rate, x.shape
        )

    def simulate(
        self,
        n_customers: int,
        T: Any,
        *,
        rng: np.random.Generator | int | None = None,
        purchase_covariates: Any = None,
        dropout_covariates: Any = None,
    ) -> BTYDSummary:
        """Simulate customers from the fitted parameters.

        Parameters
        ----------
        n_customers : int
            How many customers.
        T : float or array_like
            Each customer's age at the end of the window (a scalar applies to
            all); whole opportunities for BG/BB.
        rng : numpy.random.Generator, int or None
            Randomness (an int seeds a new generator).
        purchase_covariates, dropout_covariates : None
            Only for covariate models (a fit given ``purchase_covariates=`` or
            ``dropout_covariates=``); this model has none and refuses them.

        Returns
        -------
        BTYDSummary
            ``frequency``, ``recency``, ``T`` and unit weights, ids ``0..n-1``;
            no monetary values.

        Raises
        ------
        InvalidInputError
            If ``n_customers`` exceeds the cell budget, a BG/BB ``T`` the
            period budget, a ``T`` would give more than 1e15 expected
            purchases, or ``rng`` is a seed numpy refuses.

        Examples
        --------
        >>> from custrel import BGNBDModel
        >>> m = BGNBDModel.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
        >>> sim = m.simulate(3, 39.0, rng=1)
        >>> sim.frequency.tolist(), sim.recency.round(2).tolist()
        ([0.0, 11.0, 0.0], [0.0, 13.02, 0.0])
        """
        _refuse_covariates(self, purchase_covariates, dropout_covariates)
        n = v.positive_int(n_customers, "n_customers")
        v.check_budget(
            float(n),
            "the simulation",
            budget=v.max_cells(),
            culprit=f"n_customers={n}",
            env="CUSTREL_MAX_CELLS",
            hint="simulate in batches",
        )
        big_t = v.as_float_array(T, "T", ndim=(0, 1))
        v.check_range(big_t, "T", low=0.0)
        if self._discrete:
            v.check_integer_valued(big_t, "T")
            top = float(np.max(big_t))
            v.check_budget(
                top,
                "the simulated opportunities",
                budget=v.max_periods(),
                culprit=f"T={top:g}",
                env="CUSTREL_MAX_PERIODS",
            )
        if big_t.ndim == 1 and len(big_t) != n:
            raise InvalidInputError(f"T has {len(big_t)} values but n_customers is {n}")
        big_t = np.broadcast_to(big_t, (n,)).astype(np.float64)
        gen = _as_rng(rng)
        with np.errstate(over="ignore"):
            x, tx = self._simulate(n, big_t, gen)
        if not (np.all(np.isfinite(x)) and np.all(np.isfinite(tx))):  # pragma: no cover - guarded
            raise ConvergenceError("the simulation produced non-finite values")
        return BTYDSummary(
            customer_id=np.arange(n),
            frequency=x,
            recency=tx,
            T=big_t,
            monetary_value=None,
            weights=np.ones(n),
        )

    # -- predictions lifetimes users expect (formulas in btyd._predictions) -----

    def conditional_probability_of_purchases(
        self,
        n: Any,
        t: Any,
        frequency: Any,
        recency: Any,
        T: Any,
        *,
        purchase_covariates: Any = None,
        dropout_covariates: Any = None,
    ) -> FloatArray:
        r"""Probability of exactly ``n`` purchases in (T, T + t] given each customer's history.

        Parameters
        ----------
        n : int or array_like of int
            Numbers of purchases (>= 0).
        t : float or array_like
            Length of the forecast window (whole opportunities for BG/BB).
        frequency, recency, T : array_like
            Each customer's summary. ``n``, ``t`` and the customers
            broadcast against each other (one value, or one per customer).
        purchase_covariates, dropout_covariates : array_like or dataframe, optional
            A covariate model's covariates, one row per customer; refused by
            a model without covariates.

        Returns
        -------
        numpy.ndarray
            :math:`P(Y(t) = n \mid x, t_x, T)`; summed over all ``n`` it is
            1, and its mean is :meth:`conditional_expected_purchases`.

        Raises
        ------
        InvalidInputError
            If a column is invalid, ``n`` is negative or not whole, the
            lengths differ, or covariates are given to a model without them.

        Notes
        -----
        An active customer's future is a new customer's with updated
        parameters (BG/NBD :math:`(r+x, \alpha+T, a, b+x)`, Pareto/NBD
        :math:`(r+x, \alpha+T, s, \beta+T)`, ...; see
        ``custrel.btyd._predictions``), so with :math:`\pi` = P(alive)

        .. math::

            P(Y(t)=n \mid x, t_x, T) = \pi\,P_{\text{new}}(X(t)=n) + (1-\pi)\,[n=0],

        the mixture that Fader, Hardie & Lee's notes on the conditional PMF
        of the BG/NBD (2007) and Pareto/NBD (2006) expand in closed form.

        Examples
        --------
        >>> from custrel import BGNBDModel
        >>> m = BGNBDModel.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
        >>> m.conditional_probability_of_purchases([0, 1, 2], 39.0, 2, 30.43, 38.86).round(3).tolist()
        [0.445, 0.239, 0.144]
        """
        from custrel.btyd import _predictions as pr

        nn = v.as_float_array(n, "n", ndim=(0, 1))
        v.check_range(nn, "n", low=0.0)
        v.check_integer_valued(nn, "n")
        tt = _horizon(t, discrete=self._discrete)
        x, tx, big_t = _as_rfm(frequency, recency, T, discrete=self._discrete, allow_scalar=True)
        pr.same_rows(n=nn, t=tt, customers=x)
        return pr.conditional_pmf(
            self, nn, tt, x, tx, big_t, purchase_covariates, dropout_covariates
        )

    def discounted_expected_residual_transactions(
        self,
        frequency: Any,
        recency: Any,
        T: Any,
        *,
        discount_rate: float,
        purchase_covariates: Any = None,
        dropout_covariates: Any = None,
    ) -> FloatArray:
        r"""Discounted expected residual transactions (DERT) of each customer.

        The present value of all future repeat transactions, unbounded in
        time: multiplied by the margin per transaction it is the residual
        CLV (Fader, Hardie & Lee 2005, "RFM and CLV").

        Parameters
        ----------
        frequency, recency, T : array_like
            Each customer's summary.
        discount_rate : float
            Discount rate per time unit of the model (> 0; 0.01 is 1 % a
            week for a model in weeks; BG/BB: per opportunity). Continuous
            models discount continuously at :math:`\delta = \ln(1 + d)`, so
            a cash flow at time ``t`` counts :math:`(1 + d)^{-t}`.
        purchase_covariates, dropout_covariates : array_like or dataframe, optional
            A covariate model's covariates, one row per customer.

        Returns
        -------
        numpy.ndarray
            DERT per customer (>= 0).

        Raises
        ------
        InvalidInputError
            If a column is invalid or ``discount_rate`` is not positive or
            below 1e-300 (the sum would run past the float range).

        Notes
        -----
        With :math:`\pi` = P(alive) and the active customer's parameters:

        * Pareto/NBD (FHL 2005, eq. 2):
          :math:`\pi\,\frac{r+x}{\alpha+T}\,(\beta+T)\,J(s, \delta(\beta+T))`,
          :math:`J(s, z) = z^{s-1}U(s, s; z) = \int_0^\infty e^{-zu}(1+u)^{-s}du`
          (Tricomi's function), summed by the trapezoidal rule in
          :math:`\log u` because ``scipy.special.hyperu`` loses up to 1e-8
          and overflows for :math:`s \gtrsim 20`;
        * BG/NBD, MBG/NBD, GGompertz/NBD: no closed form;
          :math:`\pi\int_0^\infty \delta e^{-\delta t} E_{\text{new}}[X(t)]\,dt`
          by the trapezoidal rule in :math:`\log t` (exact to about 1e-12;
          the tests check it against the Pareto/NBD closed form);
        * BG/BB (Fader, Hardie & Shang 2010, eq. 14): the sum over future
          opportunities :math:`\sum_{i\ge1} E[\text{transaction at } n+i]/(1+d)^i`.

        Examples
        --------
        >>> from custrel import ParetoNBDModel
        >>> m = ParetoNBDModel.from_params({"r": 0.5534, "alpha": 10.5802, "s": 0.6061, "beta": 11.6562})
        >>> m.discounted_expected_residual_transactions([0, 2], [0.0, 30.43], 38.86,
        ...     discount_rate=0.15 / 52).round(2).tolist()
        [0.46, 6.23]
        """
        from custrel.btyd import _predictions as pr

        x, tx, big_t = _as_rfm(frequency, recency, T, discrete=self._discrete, allow_scalar=True)
        d = v.scalar(discount_rate, "discount_rate", low=0.0, low_inclusive=False)
        if d < _MIN_DERT_RATE:  # the quadrature spans t up to 100 / delta: past float range
            raise InvalidInputError(
                f"discount_rate must be at least {_MIN_DERT_RATE:g}: the DERT sums about "
                f"100 / discount_rate time units, beyond the float range below it; got {d!r}"
            )
        return pr.dert(
            self, x, tx, big_t, float(np.log1p(d)), d, purchase_covariates, dropout_covariates
        )

    def probability_alive_path(
        self,
        log: Any,
        times: Any,
        *,
        unit: str | float | None = None,
        period: Any = "day",
        purchase_covariates: Any = None,
        dropout_covariates: Any = None,
    ) -> Any:
        """Each customer's P(alive) at each time of a calendar grid, from the history so far.

        Parameters
        ----------
        log : TransactionLog or dataframe
            The transactions (as :func:`~custrel.rfm_summary` reads them).
        times : array_like
            Strictly increasing times of the log's kind (dates for a
            calendar log, numbers for a numeric one).
        unit, period : optional
            As :func:`~custrel.rfm_summary`: the model's time unit (default
            ``"week"`` for calendar logs) and the merging of purchases in one
            period into one (default ``"day"``).
        purchase_covariates, dropout_covariates : array_like or dataframe, optional
            A covariate model's covariates, one row per customer of the log
            (sorted ids, as :func:`~custrel.rfm_summary` lists them).

        Returns
        -------
        AlivePath
            ``probability_alive[i, j]`` from customer ``i``'s history up to
            ``times[j]`` (exactly the summary ``rfm_summary(log,
            observation_end=times[j])`` gives); NaN before the first purchase.

        Raises
        ------
        InvalidInputError
            If the times are not increasing or of the wrong kind, or
            customers x times exceeds the cell budget (``CUSTREL_MAX_CELLS``).

        Examples
        --------
        >>> from custrel import BGNBDModel, TransactionLog
        >>> m = BGNBDModel.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
        >>> log = TransactionLog.from_arrays(customer_id=[1, 1, 2], time=[0.0, 2.0, 3.0])
        >>> path = m.probability_alive_path(log, [1.0, 2.0, 10.0])
        >>> path.probability_alive.round(3).tolist()
        [[1.0, 0.754, 0.528], [nan, nan, 1.0]]
        """
        from custrel.btyd import _predictions as pr

        return pr.alive_path(
            self, log, times, unit, period, purchase_covariates, dropout_covariates
        )

    def expected_cumulative_transactions(
        self,
        log: Any,
        times: Any,
        *,
        unit: str | float | None = None,
        period: Any = "day",
        calibration_end: Any = None,
        purchase_covariates: Any = None,
        dropout_covariates: Any = None,
    ) -> Any:
        r"""Expected and actual repeat transactions of the whole base by calendar period.

        The tracking table: each customer enters at the first purchase
        :math:`b_i` and is expected to make :math:`E[X(t - b_i)]` repeat
        purchases by time :math:`t`; summed over the customers and compared
        with the repeat transactions in the log.

        Parameters
        ----------
        log : TransactionLog or dataframe
            The transactions (as :func:`~custrel.rfm_summary` reads them).
        times : array_like
            Strictly increasing period ends (dates for a calendar log).
        unit, period : optional
            As :func:`~custrel.rfm_summary`.
        calibration_end : date or float, optional
            Track only the cohort whose first purchase is up to this time
            (the customers the model was fitted on); default every customer.
        purchase_covariates, dropout_covariates : array_like or dataframe, optional
            A covariate model's covariates, one row per customer of the log
            (sorted ids, as :func:`~custrel.rfm_summary` lists them).

        Returns
        -------
        TrackingResult
            Per time: actual and expected incremental and cumulative repeat
            transactions and the customers born so far; a table
            (``.to_frame()``) and the input of
            :func:`custrel.plot.plot_tracking`.

        Raises
        ------
        InvalidInputError
            If the times are not increasing or of the wrong kind, or the
            forecast exceeds the cell budget.

        Examples
        --------
        >>> from custrel import BGNBDModel, TransactionLog
        >>> m = BGNBDModel.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
        >>> log = TransactionLog.from_arrays(customer_id=[1, 1, 2, 2], time=[0.0, 2.0, 3.0, 9.0])
        >>> tr = m.expected_cumulative_transactions(log, [5.0, 10.0])
        >>> tr.actual_cumulative.tolist(), tr.expected_cumulative.round(3).tolist()
        ([1.0, 2.0], [0.343, 0.753])
        """
        from custrel.btyd import _predictions as pr

        return pr.tracking(
            self, log, times, unit, period, calibration_end, purchase_covariates, dropout_covariates
        )

    def new_customer_expected_purchases(
        self, t: Any, *, purchase_covariates: Any = None, dropout_covariates: Any = None
    ) -> FloatArray:
        """Expected repeat purchases in (0, t] of a customer whose first purchase is today.

        Parameters
        ----------
        t : float or array_like
            Time since the first purchase (whole opportunities for BG/BB).
        purchase_covariates, dropout_covariates : array_like or dataframe, optional
            A covariate model's covariates, one row per new customer
            (broadcast against ``t``).

        Returns
        -------
        numpy.ndarray
            :math:`E[X(t)]`, the first purchase (today) not counted: all
            purchases are one more. Without covariates this is
            :meth:`expected_purchases`.

        Examples
        --------
        >>> from custrel import BGNBDModel
        >>> m = BGNBDModel.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
        >>> m.new_customer_expected_purchases([39.0, 78.0]).round(3).tolist()
        [1.197, 1.861]
        """
        from custrel.btyd import _predictions as pr

        tt = _horizon(t, discrete=self._discrete)
        return pr.new_customer(self, tt, "expected", purchase_covariates, dropout_covariates)

    def new_customer_probability_alive(
        self, t: Any, *, purchase_covariates: Any = None, dropout_covariates: Any = None
    ) -> FloatArray:
        """Probability that a customer whose first purchase is today is still active at ``t``.

        Parameters
        ----------
        t : float or array_like
            Time since the first purchase (BG/BB: active at opportunity ``t``).
        purchase_covariates, dropout_covariates : array_like or dataframe, optional
            A covariate model's covariates, one row per new customer.

        Returns
        -------
        numpy.ndarray
            The survival function of the model's lifetime, 1 at ``t = 0``
            (MBG/NBD: :math:`b/(a+b)`, the drop-out at the first purchase),
            non-increasing.

        Examples
        --------
        >>> from custrel import ParetoNBDModel
        >>> m = ParetoNBDModel.from_params({"r": 0.5534, "alpha": 10.5802, "s": 0.6061, "beta": 11.6562})
        >>> m.new_customer_probability_alive([0.0, 52.0]).round(3).tolist()
        [1.0, 0.357]
        """
        from custrel.btyd import _predictions as pr

        tt = _horizon(t, discrete=self._discrete)
        return pr.new_customer(self, tt, "alive", purchase_covariates, dropout_covariates)

    def prediction_intervals(
        self, frequency: Any, recency: Any, T: Any, *, t: float, **options: Any
    ) -> Any:
        """Each customer's predictions with intervals (see :func:`custrel.prediction_intervals`).

        Parameters
        ----------
        frequency, recency, T : array_like
            Each customer's summary.
        t : float
            Forecast window of the expected purchases.
        **options
            Every other keyword of :func:`custrel.prediction_intervals`
            (``level``, ``method``, ``bootstrap``, ``spend_model``, ...).

        Returns
        -------
        PredictionIntervals
            Estimates with lower and upper limits per customer.

        Raises
        ------
        InvalidInputError
            As :func:`custrel.prediction_intervals`.

        Examples
        --------
        >>> from custrel import BGNBDModel, fit_bgnbd
        >>> sim = BGNBDModel.from_params({"r": 0.24, "alpha": 4.4, "a": 0.79, "b": 2.4}).simulate(
        ...     2000, T=39.0, rng=1)
        >>> m = fit_bgnbd(sim.frequency, sim.recency, sim.T)
        >>> pi = m.prediction_intervals([0, 4], [0.0, 30.0], [39.0, 39.0], t=10.0)
        >>> bool((pi.probability_alive.lower <= pi.probability_alive.upper).all())
        True
        """
        from custrel.btyd._uncertainty import prediction_intervals

        return prediction_intervals(self, frequency, recency, T, t=t, **options)
