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
from custrel import _validate as v
from custrel.btyd import _covariates as cov
from custrel.btyd import _threads
from custrel.btyd._base import RepeatPurchaseModel
from custrel.btyd._common import _as_rfm, _discounted_sum, _fit_weights, _start_rate
from custrel.btyd._nbd import BGNBDModel, _nbd_rows, fit_bgnbd
from custrel.btyd._summary import BTYDSummary
from custrel.errors import ConvergenceError, FitWarning, InvalidInputError, InvalidTypeError

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
class CovariatePredictions(cov.CovariateModel):
    """The public predictions of a repeat-purchase covariate model (private mixin).

    Each method binds ``purchase_covariates`` and ``dropout_covariates`` to
    per-customer parameters (:meth:`CovariateModel._bind`: required exactly
    for the processes with coefficients, refused otherwise) and runs the
    family's prediction on the bound copy, whose kernels see one parameter
    value per customer. Family-independent: it belongs in
    :mod:`custrel.btyd._covariates` (until then BG/NBD and GGompertz/NBD
    share it from here).
    """

    @classmethod
    def from_params(cls, params: Mapping[str, float]) -> Any:
        """A model with known parameters: the base parameters and the coefficients.

        Parameters
        ----------
        params : Mapping[str, float]
            The base parameters (> 0) and any number of coefficients named
            ``"purchase.<covariate>"`` or ``"dropout.<covariate>"``.

        Returns
        -------
        CovariateModel
            Of the class it is called on, with NaN log-likelihood and
            standard errors.

        Examples
        --------
        >>> from custrel.btyd._bgnbd_cov import BGNBDCovariateModel
        >>> m = BGNBDCovariateModel.from_params(
        ...     {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426, "purchase.vip": 0.7})
        >>> m.covariate_names["purchase"]
        ('vip',)
        >>> m.expected_purchases(39.0, purchase_covariates=[[0.0], [1.0]]).round(3).tolist()
        [1.197, 1.868]
        """
        return cls._from_named(params)

    def _aligned(self, *arrays: Any) -> tuple[list[FloatArray], Any, tuple[int, ...]]:
        """The customer columns and a copy whose ``_theta()`` is aligned with them, and the shape.

        Refuses a model with coefficients that was not bound to covariates
        (a prediction method that does not take them would otherwise predict
        as if every covariate were 0).
        """
        if self._row_params is None and any(self.covariate_names.values()):
            raise InvalidInputError(
                f"{type(self).__name__} has covariates {dict(self.covariate_names)!r}: predict "
                "with a method that takes purchase_covariates= and dropout_covariates="
            )
        rows = self._row_theta()
        cols, th = cov.align_rows(arrays, rows)  # refuses a row mismatch
        return cols, attrs.evolve(self, row_params=tuple(th)), cov.row_shape(arrays, rows)

    def _theta(self) -> FloatArray:
        """Base parameters; on a copy bound to covariates, one column per customer."""
        rows = self._row_params
        if rows is None:
            return super()._theta()
        out: FloatArray = np.stack(np.broadcast_arrays(*(np.asarray(q) for q in rows)))
        return out

    def _with(self, purchase: Any, dropout: Any, n_rows: int | None) -> Any:
        return self._bind({"purchase": purchase, "dropout": dropout}, n_rows)

    def _per_customer(
        self,
        method: Any,
        args: tuple[Any, ...],
        covariates: tuple[Any, Any],
        threads: int | None,
        **kwargs: Any,
    ) -> FloatArray:
        """``method(bound, *args, threads=threads, **kwargs)`` of the base class, chunk-aware.

        The base methods run their kernels over the fixed customer chunks of
        :mod:`custrel.btyd._threads`; a kernel there sees one chunk of the
        customers but would see every customer's parameters. Up to one chunk
        of customers the base method runs on the bound copy as it is; beyond,
        the customers (arguments with one value per customer, and the
        covariate rows) are cut into the same fixed chunks here and the base
        method runs on each with its own rows, on the shared pool: the same
        values, to the last bit, as one pass.
        """
        n = cov.customer_count(*args[-3:])  # frequency, recency, T
        bound = self._with(*covariates, n)
        if n is None or n <= _threads.CHUNK:
            out: FloatArray = method(bound, *args, threads=threads, **kwargs)
            return out
        _as_rfm(*args[-3:], allow_scalar=True)  # bad values named by their row in the whole
        if "horizon" in kwargs:  # the CLV budget is for all customers, not one chunk
            h = v.positive_int(kwargs["horizon"], "horizon")
            v.check_budget(
                float(h) * n,
                "the CLV forecast (periods x customers)",
                budget=v.max_cells(),
                culprit=f"horizon={h!r} for {n} customers",
                env="CUSTREL_MAX_CELLS",
                hint="value the customers in batches",
            )
        for name, value in (
            ("t", args[0] if len(args) > 3 else None),
            ("spend", kwargs.get("spend")),
        ):
            if value is not None:
                v.as_float_array(value, name, ndim=(0, 1))  # rows named globally
        rows = bound._row_theta()

        def piece(value: Any, lo: int, hi: int) -> Any:
            return value[lo:hi] if np.ndim(value) == 1 and np.size(value) == n else value

        def one(span: tuple[int, int]) -> FloatArray:
            lo, hi = span
            view = attrs.evolve(bound, row_params=tuple(piece(q, lo, hi) for q in rows))
            part = tuple(piece(np.asarray(a), lo, hi) for a in args)
            extra = {
                k: piece(np.asarray(val), lo, hi) if k == "spend" else val
                for k, val in kwargs.items()
            }
            res: FloatArray = method(view, *part, threads=1, **extra)
            return res

        parts = _threads.map_chunks(one, _threads.bounds(n), threads)
        joined: FloatArray = np.concatenate([np.ravel(p_) for p_ in parts])
        return joined

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
        """Each customer's log-likelihood under the fitted parameters and its covariates.

        Parameters
        ----------
        frequency, recency, T : array_like
            Summary columns (scalars broadcast).
        threads : int, optional
            Threads to use (else ``CUSTREL_THREADS``, else every core); the
            result is the same to the last bit for any value.
        purchase_covariates, dropout_covariates : array_like or dataframe
            One row per customer (required for a process with coefficients).

        Returns
        -------
        numpy.ndarray
            One log-likelihood per customer; over the fitting data their
            weighted sum is :attr:`log_likelihood`.
        """
        return self._per_customer(
            RepeatPurchaseModel.customer_log_likelihood,
            (frequency, recency, T),
            (purchase_covariates, dropout_covariates),
            threads,
        )

    def expected_purchases(
        self, t: Any, *, purchase_covariates: Any = None, dropout_covariates: Any = None
    ) -> FloatArray:
        """Expected repeat purchases in (0, t] of new customers with these covariates.

        Parameters
        ----------
        t : float or array_like
            Time since the first purchase; broadcasts against the covariate rows.
        purchase_covariates, dropout_covariates : array_like or dataframe
            One row per new customer.

        Returns
        -------
        numpy.ndarray
            E[X(t)] per row, increasing in ``t``.
        """
        bound = self._with(purchase_covariates, dropout_covariates, None)
        out: FloatArray = RepeatPurchaseModel.expected_purchases(bound, t)
        return out

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
            Threads to use; the result is the same for any value.
        purchase_covariates, dropout_covariates : array_like or dataframe
            One row per customer.

        Returns
        -------
        numpy.ndarray
            E[Y(t) | history], one per customer.
        """
        return self._per_customer(
            RepeatPurchaseModel.conditional_expected_purchases,
            (t, frequency, recency, T),
            (purchase_covariates, dropout_covariates),
            threads,
        )

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
            Threads to use; the result is the same for any value.
        purchase_covariates, dropout_covariates : array_like or dataframe
            One row per customer.

        Returns
        -------
        numpy.ndarray
            In [0, 1].
        """
        return self._per_customer(
            RepeatPurchaseModel.probability_alive,
            (frequency, recency, T),
            (purchase_covariates, dropout_covariates),
            threads,
        )

    def probability_of_purchases(
        self, n: Any, t: Any, *, purchase_covariates: Any = None, dropout_covariates: Any = None
    ) -> FloatArray:
        """Probability that a new customer with these covariates makes ``n`` purchases in (0, t].

        Parameters
        ----------
        n : int or array_like of int
            Numbers of purchases (>= 0).
        t : float or array_like
            Time since the first purchase.
        purchase_covariates, dropout_covariates : array_like or dataframe
            One row per new customer; ``n``, ``t`` and the rows broadcast.

        Returns
        -------
        numpy.ndarray
            P(X(t) = n).
        """
        bound = self._with(purchase_covariates, dropout_covariates, None)
        out: FloatArray = RepeatPurchaseModel.probability_of_purchases(bound, n, t)
        return out

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
        """Discounted value of each customer's expected future purchases, with its covariates.

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
            Threads to use; the result is the same for any value.
        purchase_covariates, dropout_covariates : array_like or dataframe
            One row per customer.

        Returns
        -------
        numpy.ndarray
            As :meth:`RepeatPurchaseModel.customer_lifetime_value`, with each
            customer's own parameters.
        """
        return self._per_customer(
            _clv,
            (frequency, recency, T),
            (purchase_covariates, dropout_covariates),
            threads,
            spend=spend,
            horizon=horizon,
            discount_rate=discount_rate,
            margin=margin,
            period=period,
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
        """Simulate customers with these covariates from the fitted parameters.

        Parameters
        ----------
        n_customers : int
            How many customers (the covariates have one row each).
        T : float or array_like
            Each customer's age at the end of the window.
        rng : numpy.random.Generator, int or None
            Randomness (an int seeds a new generator).
        purchase_covariates, dropout_covariates : array_like or dataframe
            One row per simulated customer.

        Returns
        -------
        BTYDSummary
            As :meth:`RepeatPurchaseModel.simulate`.
        """
        n = v.positive_int(n_customers, "n_customers")
        bound = self._with(purchase_covariates, dropout_covariates, n)
        out: BTYDSummary = RepeatPurchaseModel.simulate(bound, n, T, rng=rng)
        return out


def _clv(model: Any, frequency: Any, recency: Any, T: Any, *, spend: Any, **kwargs: Any) -> Any:
    """:meth:`RepeatPurchaseModel.customer_lifetime_value` with ``spend`` as a keyword."""
    return RepeatPurchaseModel.customer_lifetime_value(
        model, frequency, recency, T, spend, **kwargs
    )


@attrs.frozen(eq=False, repr=False)
class BGNBDCovariateModel(CovariatePredictions, BGNBDModel):
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
        (xr, txr, tr), view, shape = self._aligned(x, tx, big_t)
        return BGNBDModel._ll(view, xr, txr, tr).reshape(shape)

    def _alive(self, x: FloatArray, tx: FloatArray, big_t: FloatArray) -> FloatArray:
        (xr, txr, tr), view, shape = self._aligned(x, tx, big_t)
        return BGNBDModel._alive(view, xr, txr, tr).reshape(shape)

    def _expected(self, t: FloatArray) -> FloatArray:
        (tr,), view, shape = self._aligned(t)
        return BGNBDModel._expected(view, tr).reshape(shape)

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
        (nr, tr), view, shape = self._aligned(n, t)
        return BGNBDModel._pmf(view, nr, tr).reshape(shape)

    def _simulate(
        self, n_customers: int, big_t: FloatArray, rng: np.random.Generator
    ) -> tuple[FloatArray, FloatArray]:
        (tr,), view, _ = self._aligned(big_t)
        return BGNBDModel._simulate(view, n_customers, tr, rng)


def _fit_rows(
    frequency: Any, recency: Any, T: Any, weights: Any
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Validated columns, one row per customer (aligned with the covariates)."""
    x, tx, big_t = _as_rfm(frequency, recency, T)
    w = _fit_weights(weights, len(x))
    if not np.any(x > 0):
        raise InvalidInputError(
            f"frequency is 0 for all {len(x)} rows: without repeat purchases the model "
            "cannot be estimated; use a longer calibration window"
        )
    return x, tx, big_t, w


def _split_initial(
    initial: Any, names: tuple[str, ...]
) -> tuple[dict[str, float], dict[str, float]]:
    """Starting values of the base parameters and of the coefficients."""
    if initial is None:
        return {}, {}
    if not isinstance(initial, Mapping):
        raise InvalidTypeError(
            f"initial must be a mapping of parameter names to values, got {type(initial).__name__}"
        )
    base = {k: val for k, val in initial.items() if k in names}
    coefs = {str(k): val for k, val in initial.items() if k not in names}
    return base, coefs


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
    x, tx, big_t, w = _fit_rows(frequency, recency, T, weights)
    n = len(x)
    mats = {
        "purchase": None
        if purchase_covariates is None
        else cov.as_covariates(purchase_covariates, "purchase_covariates", n),
        "dropout": None
        if dropout_covariates is None
        else cov.as_covariates(dropout_covariates, "dropout_covariates", n),
    }
    design = cov.make_design(mats, constraints=constraints, reg_lambdas=reg_lambdas)
    base_init, coef_init = _split_initial(initial, _NAMES)
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
    params, se = fit.as_dicts()
    return BGNBDCovariateModel(
        params=params,
        log_likelihood=fit.log_likelihood,
        standard_errors=se,
        covariance=fit.covariance,
        n_customers=float(w.sum()),
        n_iterations=fit.n_iterations,
        message=fit.message,
        covariate_names={p: m.names for p, m in design.matrices.items()},
        constraints=design.constraints,
        reg_lambdas=design.reg_lambdas,
    )


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
