r"""Uncertainty on BTYD estimates and predictions: the delta method and the bootstrap.

* :func:`delta_interval` propagates a fitted model's parameter covariance to
  any per-customer prediction (the gradient by central differences);
* :func:`bootstrap` resamples customers with replacement and refits, and its
  :class:`BootstrapResult` gives percentile intervals of any prediction;
* :func:`prediction_intervals` is the everyday form: expected purchases,
  P(alive) and, with a Gamma-Gamma model, expected spend and CLV per
  customer, each with its interval, as one table;
* :class:`ParameterSummary` is what ``model.summary()`` returns: estimates,
  standard errors and intervals, printed as a table.

Where the two methods agree and why is in the how-to guide
``docs/howto/btyd_uncertainty.rst``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from custrel import _numeric, _parallel
from custrel import _validate as v
from custrel._lazy import LazyModule
from custrel._tabular import Tabular
from custrel.btyd import _threads
from custrel.btyd._base import BTYDModel, RepeatPurchaseModel
from custrel.btyd._common import _as_rng
from custrel.errors import (
    ConvergenceError,
    CustrelWarning,
    FitWarning,
    InvalidInputError,
    InvalidTypeError,
)

special = LazyModule("scipy.special")  # imported on first use (import time)

FloatArray = npt.NDArray[np.float64]

__all__ = [
    "BootstrapResult",
    "IntervalResult",
    "ParameterSummary",
    "PredictionIntervals",
    "bootstrap",
    "delta_interval",
    "prediction_intervals",
]

#: Relative step of the central differences: a positive parameter moves to
#: theta * exp(+-h), a coefficient by +-h * max(1, |beta|). Truncation error
#: ~h^2 = 1e-8 and rounding error ~1e-16 / h = 1e-12 of the derivative, and
#: small against the kernels' own accuracy (<= 1e-10) divided by h.
_STEP = 1e-4
#: The keyword arguments of the fit functions that hold one row per customer
#: (covariates): the bootstrap resamples them with the customers.
_PER_CUSTOMER = ("purchase_covariates", "dropout_covariates", "covariates")
_SCALES = ("linear", "log", "logit")


def _as_tuple(values: Any) -> tuple[Any, ...]:
    return tuple(values)


def _z(level: Any) -> float:
    lv = v.scalar(level, "level", low=0.0, high=1.0, low_inclusive=False, high_inclusive=False)
    return float(special.ndtri(0.5 + lv / 2.0))


def _models_tuple(models: Any, name: str = "models") -> tuple[BTYDModel, ...]:
    if isinstance(models, BTYDModel):
        return (models,)
    if (
        isinstance(models, tuple | list)
        and models
        and all(isinstance(m, BTYDModel) for m in models)
    ):
        return tuple(models)
    raise InvalidTypeError(
        f"{name} must be a fitted BTYD model (for example from fit_bgnbd) or a tuple of them, "
        f"got {type(models).__name__}"
    )


def _evaluate(
    predict: Callable[..., Any],
    models: Sequence[BTYDModel],
    shape: tuple[int, ...] | None = None,
    where: str = "",
) -> FloatArray:
    """predict(*models) as a fresh 1-D float array of the expected shape."""
    out = predict(*models)
    try:
        arr = np.array(out, dtype=np.float64, ndmin=1)  # a copy: never the caller's memory
    except (TypeError, ValueError):
        raise InvalidTypeError(
            f"predict must return numbers (one per customer), got {type(out).__name__}"
        ) from None
    if arr.ndim != 1:
        raise InvalidInputError(
            f"predict must return one value per customer (a 1-D array), got shape {np.shape(out)}"
        )
    if shape is not None and arr.shape != shape:
        raise InvalidInputError(
            f"predict returned {arr.shape[0]} values {where} but {shape[0]} at the estimate; "
            "it must return one value per customer, for the same customers every call"
        )
    return arr


# ---------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------


@attrs.frozen(eq=False)
class IntervalResult(Tabular, columns=("estimate", "standard_error", "lower", "upper")):
    """Per-customer estimates of one prediction with their intervals.

    Attributes
    ----------
    estimate : numpy.ndarray
        The prediction at the fitted parameters.
    standard_error : numpy.ndarray
        Its standard error: by the delta method, or the standard deviation
        over the bootstrap replications.
    lower, upper : numpy.ndarray
        The interval limits. On the ``"log"`` scale ``upper`` is ``inf``
        where the interval is unbounded: an estimate of 0 with a positive
        standard error, or a limit past the float range (a relative
        standard error in the hundreds, as far-out horizons give).
    level : float
        The confidence level.
    method : str
        ``"delta"`` or ``"bootstrap"``.
    scale : str
        Where the normal interval was formed (``"linear"``, ``"log"``,
        ``"logit"``), or ``"percentile"`` for the bootstrap.
    """

    estimate: FloatArray = attrs.field(converter=v.freeze)
    standard_error: FloatArray = attrs.field(converter=v.freeze)
    lower: FloatArray = attrs.field(converter=v.freeze)
    upper: FloatArray = attrs.field(converter=v.freeze)
    level: float
    method: str
    scale: str

    def __len__(self) -> int:
        return int(self.estimate.shape[0])


@attrs.frozen(eq=False)
class PredictionIntervals(Tabular):
    """Each customer's predictions with their intervals (from :func:`prediction_intervals`).

    As a table (``to_frame()``, ``pandas.DataFrame(result)``) there is one
    row per customer and, per quantity, three columns: the estimate (named
    after the quantity), ``<quantity>_lower`` and ``<quantity>_upper``.

    Attributes
    ----------
    expected_purchases : IntervalResult
        Conditional expected purchases in the next ``t`` (log scale).
    probability_alive : IntervalResult
        P(alive) (logit scale, so the limits stay in [0, 1]).
    expected_spend : IntervalResult or None
        Conditional expected spend per purchase (log scale), with a
        Gamma-Gamma model.
    clv : IntervalResult or None
        Customer lifetime value (log scale for a margin >= 0), with a
        Gamma-Gamma model and a horizon.
    level : float
        The confidence level.
    method : str
        ``"delta"`` or ``"bootstrap"``.
    """

    expected_purchases: IntervalResult
    probability_alive: IntervalResult
    expected_spend: IntervalResult | None
    clv: IntervalResult | None
    level: float
    method: str

    def quantities(self) -> dict[str, IntervalResult]:
        """The quantities present, by name."""
        out = {
            "expected_purchases": self.expected_purchases,
            "probability_alive": self.probability_alive,
        }
        if self.expected_spend is not None:
            out["expected_spend"] = self.expected_spend
        if self.clv is not None:
            out["clv"] = self.clv
        return out

    def to_arrays(self) -> dict[str, FloatArray]:
        """The table's columns: per quantity its estimate, ``_lower`` and ``_upper``."""
        cols: dict[str, FloatArray] = {}
        for name, res in self.quantities().items():
            cols[name] = np.array(res.estimate)
            cols[f"{name}_lower"] = np.array(res.lower)
            cols[f"{name}_upper"] = np.array(res.upper)
        return cols

    def __len__(self) -> int:
        return len(self.expected_purchases)


@attrs.frozen(eq=False, repr=False)
class ParameterSummary(Mapping[str, tuple[float, float]]):
    """Estimates, standard errors and intervals of a model's parameters.

    A read-only mapping ``{name: (estimate, standard_error)}`` (what
    ``model.summary()`` has always returned) that prints as a table with the
    interval limits.

    Attributes
    ----------
    names : tuple of str
        The parameters, in the model's order.
    estimate, standard_error, lower, upper : numpy.ndarray
        One value per parameter.
    level : float
        The confidence level of the intervals.
    method : str
        ``"wald"`` (normal, from the inverse Hessian; on the log scale for
        the positive base parameters) or ``"bootstrap"`` (percentiles of the
        refitted values, standard deviation as the standard error).
    """

    names: tuple[str, ...] = attrs.field(converter=_as_tuple)
    estimate: FloatArray = attrs.field(converter=v.freeze)
    standard_error: FloatArray = attrs.field(converter=v.freeze)
    lower: FloatArray = attrs.field(converter=v.freeze)
    upper: FloatArray = attrs.field(converter=v.freeze)
    level: float
    method: str

    @classmethod
    def wald(cls, model: BTYDModel, *, level: float = 0.95) -> ParameterSummary:
        """The Wald table of a fitted model (what :meth:`BTYDModel.summary` returns)."""
        if not isinstance(model, BTYDModel):
            raise InvalidTypeError(f"model must be a fitted BTYD model, got {type(model).__name__}")
        z = _z(level)
        names = tuple(model.params)
        est = np.asarray([model.params[k] for k in names], dtype=np.float64)
        se = np.asarray([model.standard_errors.get(k, math.nan) for k in names], dtype=np.float64)
        positive = np.asarray([k in type(model)._param_names for k in names])
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            ratio = np.exp(z * se / np.where(positive, est, 1.0))
            lower = np.where(positive, est / ratio, est - z * se)
            upper = np.where(positive, est * ratio, est + z * se)
        return cls(names, est, se, lower, upper, float(level), "wald")

    def __getitem__(self, key: str) -> tuple[float, float]:
        if not isinstance(key, str):  # (an array key would compare elementwise)
            raise KeyError(key)
        try:
            i = self.names.index(key)
        except ValueError:
            raise KeyError(key) from None
        return float(self.estimate[i]), float(self.standard_error[i])

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)

    @property
    def standard_errors(self) -> dict[str, float]:
        """Each parameter's standard error."""
        return dict(zip(self.names, self.standard_error.tolist(), strict=True))

    @property
    def intervals(self) -> dict[str, tuple[float, float]]:
        """Each parameter's interval ``(lower, upper)``."""
        return {
            k: (float(lo), float(hi))
            for k, lo, hi in zip(self.names, self.lower, self.upper, strict=True)
        }

    def to_arrays(self) -> dict[str, npt.NDArray[Any]]:
        """The table's columns: ``parameter``, ``estimate``, ``standard_error``, ``lower``, ``upper``."""
        return {
            "parameter": np.asarray(self.names, dtype=object),
            "estimate": np.array(self.estimate),
            "standard_error": np.array(self.standard_error),
            "lower": np.array(self.lower),
            "upper": np.array(self.upper),
        }

    def __str__(self) -> str:
        pct = f"{100 * self.level:g}%"
        head = ("parameter", "estimate", "std. error", f"lower {pct}", f"upper {pct}")
        rows = [
            (k, *(f"{float(x):.4g}" for x in vals))
            for k, *vals in zip(
                self.names, self.estimate, self.standard_error, self.lower, self.upper, strict=True
            )
        ]
        widths = [max(len(r[i]) for r in [head, *rows]) for i in range(5)]
        lines = [
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(r, widths, strict=True))
            )
            for r in [head, *rows]
        ]
        method = "Wald" if self.method == "wald" else "bootstrap percentile"
        return "\n".join([*lines, f"({method} intervals)"])

    def __repr__(self) -> str:
        return str(self)


# ---------------------------------------------------------------------------
# The delta method
# ---------------------------------------------------------------------------


def _gradients(
    predict: Callable[..., Any],
    models: tuple[BTYDModel, ...],
    estimate: FloatArray,
    divisor: FloatArray,
) -> FloatArray:
    """Var of predict / divisor by g' Sigma g, summed over the models (independent fits).

    Dividing the gradient by the estimate before squaring keeps the relative
    variance of a tiny prediction (a P(alive) of 1e-186) from underflowing to 0.
    """
    var = np.zeros(estimate.shape)
    for mi, model in enumerate(models):
        names = list(model.params)
        cov = np.asarray(model.covariance, dtype=np.float64)
        label = type(model).__name__
        if cov.shape != (len(names), len(names)):  # pragma: no cover - a model's invariant
            raise InvalidInputError(
                f"the covariance of the {label} is {cov.shape[0]} x {cov.shape[1]} but it has "
                f"{len(names)} parameters"
            )
        if not np.all(np.isfinite(cov)):
            diag = np.diag(cov)
            bad = [names[i] for i in range(len(names)) if not np.isfinite(diag[i])]
            detail = (
                f"the variance of {bad!r} is not finite"
                if bad
                else "covariances between its parameters are missing"
            )
            raise InvalidInputError(
                f"the covariance of the {label} has non-finite entries ({detail}: a model from "
                "from_params, or a fit whose information matrix is singular there); the delta "
                "method needs the full covariance matrix of a fit: use the bootstrap "
                "(method='bootstrap') for this model"
            )
        base = set(type(model)._param_names)
        grad = np.empty((len(names), estimate.shape[0]))
        for j, name in enumerate(names):
            theta = float(model.params[name])
            if name in base:
                lo, hi = theta * math.exp(-_STEP), theta * math.exp(_STEP)
            else:
                d = _STEP * max(1.0, abs(theta))
                lo, hi = theta - d, theta + d
            # An estimate on the edge of the parameter space (a Pareto/NBD correlation at
            # its Sarmanov bound, which moves with the other parameters) leaves the domain on
            # one side: there the difference is one-sided, from the estimate itself.
            points: list[tuple[float, FloatArray]] = []
            refused: InvalidInputError | None = None
            for val in (lo, hi):
                try:
                    moved = model.with_params({**model.params, name: val})
                    ms = (*models[:mi], moved, *models[mi + 1 :])
                    at = f"with {name}={val:.6g}"
                    points.append((val, _evaluate(predict, ms, estimate.shape, at)))
                except InvalidInputError as exc:
                    if refused is not None:
                        raise
                    refused = exc
            if refused is not None:
                points.insert(0 if points[0][0] > theta else 1, (theta, estimate))
            (lo, values0), (hi, values1) = points
            values = [values0, values1]
            g = (values[1] - values[0]) / (hi - lo)
            if not np.all(np.isfinite(g)):
                i = v.first_bad(~np.isfinite(g))[0]
                raise InvalidInputError(
                    f"predict is not finite or not smooth near the estimate: moving {name} of "
                    f"the {label} from {theta:.6g} by a relative 1e-4 gives "
                    f"{values[0][i]!r} and {values[1][i]!r} at row {i}; the delta method needs "
                    "a prediction that is differentiable in the parameters"
                )
            grad[j] = g / divisor
        var += np.einsum("in,ij,jn->n", grad, cov, grad)
    return var


def _expit(y: FloatArray) -> FloatArray:
    """1 / (1 + e^-y) without underflow to 0 before the float range ends.

    scipy's expit gives 0 from y = -710 on (e^710 overflows), where the value
    (4e-309) still exists; a P(alive) of 1e-318 needs it.
    """
    with np.errstate(over="ignore", under="ignore"):
        e = np.exp(-np.abs(y))
    out: FloatArray = np.where(y >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    return out


def _normal_interval(
    est: FloatArray, sd: FloatArray, z: float, scale: str
) -> tuple[FloatArray, FloatArray]:
    """The interval limits from ``sd``.

    ``sd`` is the standard error of ``est`` on the linear scale or where
    ``est`` is 0, else that of ``log(est)`` (the relative standard error).
    """
    if scale == "linear":
        return est - z * sd, est + z * sd
    if scale == "log":
        inside = est > 0
        with np.errstate(over="ignore"):  # past the float range the limit is unbounded: inf
            ratio = np.exp(z * sd)
            upper = np.where(inside, est * ratio, np.where(sd > 0, np.inf, 0.0))
        lower = np.where(inside, est / ratio, 0.0)
        return lower, upper
    inside = (est > 0) & (est < 1)
    safe = np.where(inside, est, 0.5)
    logit = np.log(safe) - np.log1p(-safe)
    s = np.where(inside, sd, 0.0) / (1.0 - safe)  # se / (est (1 - est))
    lo_in, hi_in = _expit(logit - z * s), _expit(logit + z * s)
    lower = np.where(inside, lo_in, np.where(sd > 0, 0.0, est))
    upper = np.where(inside, hi_in, np.where(sd > 0, 1.0, est))
    return lower, upper


def delta_interval(
    models: Any,
    predict: Callable[..., Any],
    *,
    level: float = 0.95,
    scale: str = "linear",
) -> IntervalResult:
    r"""Per-customer intervals of a prediction by the delta method.

    Parameters
    ----------
    models : BTYDModel or tuple of BTYDModel
        The fitted model(s); ``predict`` receives them in this order. Two
        models (a repeat-purchase model and a Gamma-Gamma model, for CLV)
        are independent fits: their joint covariance is block-diagonal.
    predict : callable
        ``predict(*models) -> array``: one value per customer (a scalar is
        one customer). Called at the estimate and twice per parameter.
    level : float
        Confidence level, in (0, 1).
    scale : {"linear", "log", "logit"}
        Where the normal interval is formed: ``"log"`` for positive
        quantities (counts, spend, CLV: the limits stay positive),
        ``"logit"`` for probabilities (the limits stay in [0, 1]).

    Returns
    -------
    IntervalResult
        ``estimate``, ``standard_error``, ``lower``, ``upper`` per customer.

    Raises
    ------
    InvalidTypeError
        If ``models`` is not a model or tuple of models, or ``predict``
        returns something that is not numbers.
    InvalidInputError
        If ``level`` is not in (0, 1), ``scale`` is unknown, ``predict``
        returns a 2-D array, changes its length between calls, or returns a
        non-finite value (or one outside [0, inf) for ``"log"``, [0, 1] for
        ``"logit"``), or a model's covariance has non-finite entries (a
        model built with ``from_params``, a Pareto/NBD fit that reports
        standard errors only).

    Notes
    -----
    With :math:`\hat\theta` the estimates and :math:`\Sigma` their
    covariance (the inverse observed information, natural scale),

    .. math::

        \widehat{\mathrm{Var}}\,f(\hat\theta) = g^\top \Sigma\, g,
        \qquad g = \partial f / \partial\theta \big|_{\hat\theta},

    with :math:`g` by central differences: a positive parameter moves to
    :math:`\theta e^{\pm h}` (the fit's own log-parameterisation, where a
    step never leaves the domain), a covariate coefficient by
    :math:`\pm h\max(1, |\beta|)`, :math:`h = 10^{-4}`; the quotient is
    taken over the actual change of :math:`\theta`, so it is exact for a
    prediction linear in a parameter. The interval is
    :math:`f \pm z\,\mathrm{se}` on the chosen scale, mapped back
    (:math:`\mathrm{se}_{\log} = \mathrm{se}/f`,
    :math:`\mathrm{se}_{\mathrm{logit}} = \mathrm{se}/(f(1-f))`). A
    prediction on the edge of its range (P(alive) exactly 1 for a BG/NBD
    customer without repeat purchases, a count of exactly 0) with zero
    standard error has the point as its interval; with a positive standard
    error the whole range.

    Examples
    --------
    >>> from custrel import BGNBDModel, fit_bgnbd
    >>> from custrel.btyd._uncertainty import delta_interval
    >>> truth = BGNBDModel.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
    >>> sim = truth.simulate(2000, 39.0, rng=1)
    >>> m = fit_bgnbd(sim.frequency, sim.recency, sim.T)
    >>> res = delta_interval(m, lambda m: m.params["r"])
    >>> bool(abs(res.standard_error[0] - m.standard_errors["r"]) < 1e-9)
    True
    >>> alive = delta_interval(m, lambda m: m.probability_alive([1, 5], [10.0, 30.0], 39.0),
    ...                        scale="logit")
    >>> bool(((alive.lower >= 0) & (alive.upper <= 1)).all())
    True
    """
    ms = _models_tuple(models)
    if not callable(predict):
        raise InvalidTypeError(f"predict must be callable, got {type(predict).__name__}")
    z = _z(level)
    sc = v.choice(scale, "scale", _SCALES)
    est = _evaluate(predict, ms)
    bad = ~np.isfinite(est)
    if bad.any():
        i = v.first_bad(bad)[0]
        raise InvalidInputError(
            f"predict returned {float(est[i])!r} at row {i} at the estimate; the delta method "
            "needs finite predictions"
        )
    if sc == "log" and np.any(est < 0):
        i = v.first_bad(est < 0)[0]
        raise InvalidInputError(
            f"scale='log' needs predictions >= 0, got {float(est[i])!r} at row {i}; use "
            "scale='linear'"
        )
    if sc == "logit" and np.any((est < 0) | (est > 1)):
        i = v.first_bad((est < 0) | (est > 1))[0]
        raise InvalidInputError(
            f"scale='logit' needs predictions in [0, 1], got {float(est[i])!r} at row {i}; use "
            "scale='linear' or 'log'"
        )
    divisor = np.where((est > 0) & (sc != "linear"), est, 1.0)
    var = _gradients(predict, ms, est, divisor)
    sd = np.sqrt(np.maximum(var, 0.0))  # g' Sigma g >= 0 but for rounding near 0
    lower, upper = _normal_interval(est, sd, z, sc)
    se = sd * divisor
    return IntervalResult(est, se, lower, upper, float(level), "delta", sc)


# ---------------------------------------------------------------------------
# The bootstrap
# ---------------------------------------------------------------------------


def _fit_models(result: Any) -> tuple[BTYDModel, ...]:
    if isinstance(result, BTYDModel):
        return (result,)
    if isinstance(result, tuple) and result and all(isinstance(m, BTYDModel) for m in result):
        return result
    raise InvalidTypeError(
        f"fit must return a fitted BTYD model or a tuple of them, got {type(result).__name__}"
    )


def _take_rows(value: Any, rows: npt.NDArray[np.intp], name: str, n: int) -> Any:
    """The given rows of a per-customer argument (array, mapping or dataframe)."""
    if isinstance(value, Mapping):  # covariates as {name: column}: each column's rows
        return {key: _take_rows(col, rows, f"{name}[{key!r}]", n) for key, col in value.items()}
    if hasattr(value, "columns") and not isinstance(value, np.ndarray):
        try:
            import narwhals as nw
        except ImportError:  # pragma: no cover - a dataframe implies the frames extra
            raise InvalidTypeError(
                f"{name} is a dataframe: resampling it needs the 'frames' extra; "
                "pip install 'custrel[frames]', or pass a numpy array"
            ) from None
        frame = nw.from_native(value, eager_only=True)
        if len(frame) != n:
            raise InvalidInputError(f"{name} has {len(frame)} rows but there are {n} customers")
        return frame[rows.tolist()].to_native()
    try:
        arr = np.asarray(value)
    except ValueError:  # ragged rows (lists of different lengths)
        raise InvalidInputError(
            f"{name} has rows of different lengths: give one row of covariates per customer, "
            "all of one length"
        ) from None
    if arr.ndim == 0 or arr.shape[0] != n:
        raise InvalidInputError(
            f"{name} has {arr.shape[0] if arr.ndim else 0} rows but there are {n} customers"
        )
    return arr[rows]


@attrs.frozen(eq=False, repr=False)
class BootstrapResult:
    """Refits of a model on customers resampled with replacement (from :func:`bootstrap`).

    Attributes
    ----------
    model : BTYDModel or tuple of BTYDModel
        The fit on the data as given (the point estimate).
    models : tuple
        The successful replications' fits, each as ``fit`` returned it.
    names : tuple of str
        The parameters (``"<Model>.<name>"`` when ``fit`` returns several
        models).
    params : numpy.ndarray
        One row per successful replication, one column per name.
    n_replications : int
        Replications run (successful or not).
    n_failures : int
        Replications whose fit raised (their resample could not be fitted).
    failures : tuple of str
        Their error messages, in replication order.
    warnings : tuple of str
        The warnings the refits gave (reported once, as one
        :class:`~custrel.FitWarning`).
    """

    model: Any
    models: tuple[Any, ...] = attrs.field(converter=_as_tuple)
    names: tuple[str, ...] = attrs.field(converter=_as_tuple)
    params: FloatArray = attrs.field(converter=v.freeze)
    n_replications: int
    n_failures: int
    failures: tuple[str, ...] = attrs.field(converter=_as_tuple)
    warnings: tuple[str, ...] = attrs.field(converter=_as_tuple, default=())

    def __repr__(self) -> str:
        return (
            f"BootstrapResult({len(self.models)} of {self.n_replications} replications, "
            f"{self.n_failures} failed, parameters {list(self.names)!r})"
        )

    @property
    def standard_errors(self) -> dict[str, float]:
        """Each parameter's standard deviation over the replications."""
        sd = np.std(self.params, axis=0, ddof=1)
        return dict(zip(self.names, sd.tolist(), strict=True))

    @property
    def covariance(self) -> FloatArray:
        """The parameters' covariance over the replications (in ``names`` order)."""
        out: FloatArray = np.atleast_2d(np.cov(self.params, rowvar=False))
        return out

    def _point(self) -> tuple[BTYDModel, ...]:
        return _fit_models(self.model)

    def summary(self, *, level: float = 0.95) -> ParameterSummary:
        """The parameters' bootstrap standard errors and percentile intervals.

        Parameters
        ----------
        level : float
            Confidence level, in (0, 1).

        Returns
        -------
        ParameterSummary
            Estimates from the fit on the data as given.
        """
        _z(level)
        est = np.concatenate([[m.params[k] for k in m.params] for m in self._point()])
        lo, hi = np.quantile(self.params, [0.5 - level / 2.0, 0.5 + level / 2.0], axis=0)
        sd = np.std(self.params, axis=0, ddof=1)
        return ParameterSummary(self.names, est, sd, lo, hi, float(level), "bootstrap")

    def interval(self, predict: Callable[..., Any], *, level: float = 0.95) -> IntervalResult:
        """Percentile intervals of a per-customer prediction over the replications.

        Parameters
        ----------
        predict : callable
            ``predict(*models) -> array`` with one value per customer,
            called with the model(s) of each replication and of the point
            estimate.
        level : float
            Confidence level, in (0, 1).

        Returns
        -------
        IntervalResult
            ``estimate`` (at the point estimate), ``standard_error`` (the
            standard deviation over the replications) and the
            ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles.

        Raises
        ------
        InvalidInputError
            If ``level`` is not in (0, 1), or ``predict`` returns a 2-D
            array, changes its length between calls, or a non-finite value.
        """
        _z(level)
        if not callable(predict):
            raise InvalidTypeError(f"predict must be callable, got {type(predict).__name__}")
        est = _evaluate(predict, self._point())
        draws = np.empty((len(self.models), est.shape[0]))
        for i, ms in enumerate(self.models):
            draws[i] = _evaluate(predict, _fit_models(ms), est.shape, f"in replication {i}")
        bad = ~np.isfinite(draws)
        if bad.any() or not np.all(np.isfinite(est)):
            i, j = v.first_bad(bad) if bad.any() else (-1, v.first_bad(~np.isfinite(est))[0])
            raise InvalidInputError(
                "predict returned a non-finite value "
                + (f"in replication {i}" if i >= 0 else "at the estimate")
                + f" at row {j}; percentile intervals need finite predictions"
            )
        lo, hi = np.quantile(draws, [0.5 - level / 2.0, 0.5 + level / 2.0], axis=0)
        sd = np.std(draws, axis=0, ddof=1)
        return IntervalResult(est, sd, lo, hi, float(level), "bootstrap", "percentile")


def bootstrap(
    fit: Callable[..., Any],
    *columns: Any,
    n_replications: int = 200,
    rng: np.random.Generator | int | None = None,
    weights: Any = None,
    max_failures: int | None = None,
    threads: int | None = None,
    **fit_kwargs: Any,
) -> BootstrapResult:
    r"""Refit a model on customers resampled with replacement.

    Parameters
    ----------
    fit : callable
        A fit function, such as :func:`~custrel.fit_bgnbd` or
        :func:`~custrel.fit_gamma_gamma`, or any callable
        ``fit(*columns, weights=..., **fit_kwargs)`` that returns a model or
        a tuple of models.
    *columns : array_like
        The per-customer columns ``fit`` takes (``frequency, recency, T``;
        ``frequency, monetary_value``), one row per customer or per
        weighted row.
    n_replications : int
        Refits (>= 2; 200 or more for 95 % percentile intervals).
    rng : numpy.random.Generator, int or None
        Randomness; the same seed gives the same replications whatever
        ``threads`` is.
    weights : array_like, optional
        Customers per row (> 0); ones by default.
    max_failures : int, optional
        How many replications may fail to fit (a
        :class:`~custrel.ConvergenceError`, or a resample the fit refuses,
        such as one without repeat purchases) before the bootstrap gives up;
        by default a tenth of ``n_replications``. Failed replications are
        recorded, not replaced.
    threads : int, optional
        Threads that run the replications (default ``CUSTREL_THREADS``,
        else every usable core); the result does not depend on it. Above
        65,536 distinct rows the replications run one after another and
        each fit uses the threads itself.
    **fit_kwargs
        Passed to ``fit``; ``purchase_covariates``, ``dropout_covariates``
        and ``covariates`` (one row per customer: arrays or dataframes) are
        resampled with the customers.

    Returns
    -------
    BootstrapResult
        The fit on the data as given, the refits and their parameters.

    Raises
    ------
    InvalidTypeError
        If ``fit`` is not callable or does not return a model.
    InvalidInputError
        If no column is given, the columns or a per-customer keyword differ
        in length, ``n_replications`` is below 2 or beyond the period budget
        (``CUSTREL_MAX_PERIODS``), ``max_failures`` is out of range, or a
        weight is not positive.
    ConvergenceError
        If the fit on the data as given fails, or more than
        ``max_failures`` replications do.

    Warns
    -----
    FitWarning
        Once, when refits warned (their messages are in
        :attr:`BootstrapResult.warnings`); the fit on the data as given
        warns as it always does.

    Notes
    -----
    Each replication draws as many customers as the weights add up to
    (rounded), with replacement: a multinomial draw of each row's count,
    probabilities ``weights / sum(weights)``, which for rows that stand for
    ``w`` identical customers is exactly the customer bootstrap. Without
    per-customer keywords identical rows are merged first, so a replication
    costs one multinomial draw over the distinct rows and one fit on the
    rows drawn (with their counts as weights). Replication ``i`` draws from
    its own generator, spawned from ``rng`` in order, so threads change
    nothing.

    Examples
    --------
    >>> from custrel import BGNBDModel, fit_bgnbd
    >>> from custrel.btyd._uncertainty import bootstrap
    >>> truth = BGNBDModel.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
    >>> sim = truth.simulate(2000, 39.0, rng=1)
    >>> boot = bootstrap(fit_bgnbd, sim.frequency, sim.recency, sim.T, n_replications=20, rng=7)
    >>> boot.params.shape, boot.n_failures
    ((20, 4), 0)
    >>> iv = boot.interval(lambda m: m.expected_purchases(39.0))
    >>> bool(iv.lower[0] < iv.estimate[0] < iv.upper[0])
    True
    """
    if not callable(fit):
        raise InvalidTypeError(f"fit must be callable (a fit function), got {type(fit).__name__}")
    if not columns:
        raise InvalidInputError(
            "bootstrap needs the fit's data columns, for example "
            "bootstrap(fit_bgnbd, frequency, recency, T)"
        )
    cols = [
        v.as_float_array(c, f"columns[{i}]", ndim=1, finite=False) for i, c in enumerate(columns)
    ]
    n = cols[0].shape[0]
    for i, c in enumerate(cols):
        if c.shape[0] != n:
            raise InvalidInputError(
                f"columns[{i}] has {c.shape[0]} values but columns[0] has {n}; every column "
                "needs one value per customer"
            )
    n_rep = v.positive_int(n_replications, "n_replications", minimum=2)
    v.check_budget(
        float(n_rep),
        "the bootstrap replications",
        budget=v.max_periods(),
        culprit=f"n_replications={n_rep}",
        env="CUSTREL_MAX_PERIODS",
    )
    limit = (
        n_rep // 10
        if max_failures is None
        else v.positive_int(max_failures, "max_failures", minimum=0)
    )
    if limit > n_rep - 2:
        raise InvalidInputError(
            f"max_failures must leave at least 2 replications, got {limit} of {n_rep}"
        )
    n_threads = _parallel.resolve_threads(threads)
    gen = _as_rng(rng)
    w = v.weights_array(weights, n)
    per_customer = {k: fit_kwargs[k] for k in _PER_CUSTOMER if fit_kwargs.get(k) is not None}
    fixed = {k: val for k, val in fit_kwargs.items() if k not in per_customer}
    everyone = np.arange(n)
    for k, val in per_customer.items():
        _take_rows(val, everyone[:1], k, n)  # checks the row count before any fit
    point = fit(*columns, weights=weights, **fit_kwargs)
    point_models = _fit_models(point)
    if not per_customer:  # identical customers are one row with their count
        merged, w, _ = _numeric.compress_rows(cols, w)
        cols = list(merged)
    if w.shape[0] > _threads.CHUNK:
        # a fit on this many rows spreads its own chunks over the shared pool; replications
        # on that pool too would wait on tasks queued behind themselves (a deadlock)
        n_threads = 1
    total = float(w.sum())
    n_draw = max(1, round(total))
    prob = w / total
    children = np.random.SeedSequence(int(gen.integers(0, 2**63 - 1))).spawn(n_rep)

    def replicate(i: int) -> tuple[Any, str | None]:
        counts = np.random.default_rng(children[i]).multinomial(n_draw, prob)
        rows = np.flatnonzero(counts)
        kw = {k: _take_rows(val, rows, k, n) for k, val in per_customer.items()}
        try:
            out = fit(
                *(c[rows] for c in cols), weights=counts[rows].astype(np.float64), **fixed, **kw
            )
        except (ConvergenceError, InvalidInputError) as exc:
            return None, f"replication {i}: {exc}"
        return out, None

    n_tasks = min(n_threads, n_rep)
    bounds = np.linspace(0, n_rep, n_tasks + 1).astype(int)

    def block(j: int) -> list[tuple[Any, str | None]]:
        return [replicate(i) for i in range(bounds[j], bounds[j + 1])]

    # The refits' own warnings (a FitWarning on one resample) are collected and reported
    # once, as one FitWarning with their count; other warnings are passed on unchanged.
    # catch_warnings changes process-wide state, so it wraps all threads' work at once.
    with warnings.catch_warnings(record=True) as caught:
        warnings.filterwarnings("always", category=CustrelWarning)
        done = [r for part in _parallel.run_ordered(block, n_tasks, n_threads) for r in part]
    ours = tuple(str(rec.message) for rec in caught if issubclass(rec.category, CustrelWarning))
    for rec in caught:
        if not issubclass(rec.category, CustrelWarning):
            warnings.warn_explicit(rec.message, rec.category, rec.filename, rec.lineno)
    if ours:
        warnings.warn(
            f"bootstrap: the refits warned {len(ours)} time(s) (see BootstrapResult.warnings); "
            f"the first: {ours[0]}",
            FitWarning,
            stacklevel=2,
        )
    failures = tuple(msg for _, msg in done if msg is not None)
    fits = tuple(out for out, msg in done if msg is None)
    if len(failures) > limit:
        raise ConvergenceError(
            f"bootstrap: {len(failures)} of {n_rep} replications failed to fit, more than "
            f"max_failures={limit}; the first: {failures[0]}"
        )
    names: list[str] = []
    for m in point_models:
        prefix = f"{type(m).__name__}." if len(point_models) > 1 else ""
        names.extend(prefix + k for k in m.params)
    rows_out = []
    for out in fits:
        ms = _fit_models(out)
        rows_out.append([m.params[k] for m in ms for k in m.params])
    return BootstrapResult(
        point,
        fits,
        names,
        np.asarray(rows_out, dtype=np.float64),
        n_rep,
        len(failures),
        failures,
        ours,
    )


# ---------------------------------------------------------------------------
# The everyday form
# ---------------------------------------------------------------------------


def prediction_intervals(
    model: RepeatPurchaseModel,
    frequency: Any,
    recency: Any,
    T: Any,
    *,
    t: float,
    level: float = 0.95,
    method: str = "delta",
    bootstrap: BootstrapResult | None = None,
    spend_model: BTYDModel | None = None,
    monetary_value: Any = None,
    spend_bootstrap: BootstrapResult | None = None,
    horizon: int | None = None,
    discount_rate: float | None = None,
    margin: float = 1.0,
    period: float = 1.0,
    purchase_covariates: Any = None,
    dropout_covariates: Any = None,
    spend_covariates: Any = None,
) -> PredictionIntervals:
    r"""Each customer's predictions with intervals: purchases, P(alive), spend, CLV.

    Parameters
    ----------
    model : RepeatPurchaseModel
        A fitted BG/NBD, MBG/NBD, Pareto/NBD, GGompertz/NBD or BG/BB model.
    frequency, recency, T : array_like
        Each customer's summary.
    t : float
        Forecast window of the expected purchases (the model's time unit).
    level : float
        Confidence level, in (0, 1).
    method : {"delta", "bootstrap"}
        The delta method from the covariance of the fit(s), or percentiles
        over the refits in ``bootstrap`` (and ``spend_bootstrap``).
    bootstrap : BootstrapResult, optional
        With ``method="bootstrap"``: refits of ``model`` from
        :func:`bootstrap`.
    spend_model : GammaGammaModel, optional
        Adds the expected spend per purchase (needs ``monetary_value``) and,
        with ``horizon`` and ``discount_rate``, the CLV.
    monetary_value : array_like, optional
        Each customer's mean repeat spend (ignored where frequency is 0).
    spend_bootstrap : BootstrapResult, optional
        With ``method="bootstrap"`` and a ``spend_model``: its refits.
        Replication ``i`` of the two is paired (the fits are independent,
        as the model assumes), over as many as both have.
    horizon : int, optional
        CLV periods.
    discount_rate, margin, period
        As :meth:`RepeatPurchaseModel.customer_lifetime_value`.
    purchase_covariates, dropout_covariates : array_like or dataframe, optional
        For a covariate model: each customer's covariates, passed to its
        prediction methods (required exactly when the model has
        coefficients for that process).
    spend_covariates : array_like or dataframe, optional
        For a Gamma-Gamma covariate model: passed as its ``covariates=``.

    Returns
    -------
    PredictionIntervals
        Per quantity an :class:`IntervalResult`; as a table one row per
        customer with ``<quantity>``, ``<quantity>_lower`` and
        ``<quantity>_upper`` columns.

    Raises
    ------
    InvalidTypeError
        If ``model`` is not a repeat-purchase model, ``spend_model`` not a
        Gamma-Gamma model, or a bootstrap argument not a
        :class:`BootstrapResult` of such models.
    InvalidInputError
        If ``method`` is unknown, the bootstrap it needs is missing, a
        column is invalid, ``monetary_value`` is missing with a
        ``spend_model``, only one of ``horizon`` and ``discount_rate`` is
        given, or (delta) a covariance has non-finite entries.

    Notes
    -----
    The delta intervals are normal on the log scale for purchases, spend
    and CLV (positive, right-skewed) and on the logit scale for P(alive),
    so no limit leaves the quantity's range; the bootstrap's are the
    percentiles of the refits' predictions. A CLV interval combines both
    fits: their covariance is block-diagonal (delta) or their refits are
    paired (bootstrap).

    Examples
    --------
    >>> from custrel import BGNBDModel, fit_bgnbd
    >>> from custrel.btyd._uncertainty import prediction_intervals
    >>> truth = BGNBDModel.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
    >>> sim = truth.simulate(2000, 39.0, rng=1)
    >>> m = fit_bgnbd(sim.frequency, sim.recency, sim.T)
    >>> pi = prediction_intervals(m, [0, 2, 7], [0.0, 30.4, 35.0], 39.0, t=39.0)
    >>> sorted(pi.to_arrays())[:3]
    ['expected_purchases', 'expected_purchases_lower', 'expected_purchases_upper']
    >>> bool((pi.probability_alive.upper <= 1).all())
    True
    """
    from custrel.btyd._gamma_gamma import GammaGammaModel

    if not isinstance(model, RepeatPurchaseModel):
        raise InvalidTypeError(
            f"model must be a fitted repeat-purchase model (BG/NBD, Pareto/NBD, ...), got "
            f"{type(model).__name__}"
        )
    how = v.choice(method, "method", ("delta", "bootstrap"))
    _z(level)
    margin = v.scalar(margin, "margin")
    if spend_model is not None and not isinstance(spend_model, GammaGammaModel):
        raise InvalidTypeError(
            f"spend_model must be a GammaGammaModel, got {type(spend_model).__name__}"
        )
    if spend_model is not None and monetary_value is None:
        raise InvalidInputError("a spend_model needs monetary_value (each customer's mean spend)")
    if (horizon is None) != (discount_rate is None):
        raise InvalidInputError(
            "the CLV needs both horizon and discount_rate (give both, or neither for no CLV)"
        )
    # covariates go to the models' prediction methods only when given (contract 3: a
    # covariate model requires them, a plain model takes no such keyword)
    cov_kw = {
        k: val
        for k, val in (
            ("purchase_covariates", purchase_covariates),
            ("dropout_covariates", dropout_covariates),
        )
        if val is not None
    }
    spend_kw = {} if spend_covariates is None else {"covariates": spend_covariates}
    # validate the columns once, at the boundary
    model.probability_alive(frequency, recency, T, **cov_kw)
    if spend_model is not None:
        spend_model.conditional_expected_spend(frequency, monetary_value, **spend_kw)

    def purchases(m: RepeatPurchaseModel, *_: Any) -> Any:
        return m.conditional_expected_purchases(t, frequency, recency, T, **cov_kw)

    def alive(m: RepeatPurchaseModel, *_: Any) -> Any:
        return m.probability_alive(frequency, recency, T, **cov_kw)

    def spend(m: Any, gg: GammaGammaModel) -> Any:
        return gg.conditional_expected_spend(frequency, monetary_value, **spend_kw)

    def clv(m: RepeatPurchaseModel, gg: GammaGammaModel) -> Any:
        assert horizon is not None
        assert discount_rate is not None
        return m.customer_lifetime_value(
            frequency,
            recency,
            T,
            gg.conditional_expected_spend(frequency, monetary_value, **spend_kw),
            horizon=horizon,
            discount_rate=discount_rate,
            margin=unit_margin,
            period=period,
            **cov_kw,
        )

    # The CLV is proportional to the margin, and so is its interval on either scale: it
    # is computed for a margin of +1 or -1 and scaled (a margin of -1e300 gave NaN bounds
    # from differences of overflowing values).
    unit_margin = 1.0 if margin >= 0 else -1.0
    with_clv = spend_model is not None and horizon is not None
    clv_scale = "log" if margin >= 0 else "linear"
    results: dict[str, IntervalResult | None] = {"expected_spend": None, "clv": None}
    if how == "delta":
        results["expected_purchases"] = delta_interval(model, purchases, level=level, scale="log")
        results["probability_alive"] = delta_interval(model, alive, level=level, scale="logit")
        if spend_model is not None:
            pair = (model, spend_model)
            results["expected_spend"] = delta_interval(pair, spend, level=level, scale="log")
            if with_clv:
                results["clv"] = delta_interval(pair, clv, level=level, scale=clv_scale)
    else:
        boot = _check_bootstrap(bootstrap, "bootstrap", type(model))
        sboot = None
        if spend_model is not None:
            sboot = _check_bootstrap(spend_bootstrap, "spend_bootstrap", GammaGammaModel)
        results["expected_purchases"] = _single(boot, model).interval(purchases, level=level)
        results["probability_alive"] = _single(boot, model).interval(alive, level=level)
        if spend_model is not None and sboot is not None:
            paired = _paired(boot, sboot, model, spend_model)
            results["expected_spend"] = paired.interval(spend, level=level)
            if with_clv:
                results["clv"] = paired.interval(clv, level=level)
    if results["clv"] is not None:
        results["clv"] = _scaled(results["clv"], abs(margin))
    exp, alv = results["expected_purchases"], results["probability_alive"]
    assert exp is not None
    assert alv is not None
    return PredictionIntervals(
        exp, alv, results["expected_spend"], results["clv"], float(level), how
    )


def _scaled(result: IntervalResult, factor: float) -> IntervalResult:
    """The interval of ``factor`` times the quantity (``factor >= 0``); refused if it overflows."""
    with np.errstate(over="ignore", invalid="ignore"):
        fields = {
            name: np.asarray(getattr(result, name)) * factor
            for name in ("estimate", "standard_error", "lower", "upper")
        }
    if not all(np.all(np.isfinite(f)) for f in fields.values()):
        raise InvalidInputError(
            f"margin={factor:.3g} (in size) makes the customer lifetime values overflow float64; "
            "give the margin in a larger unit"
        )
    return attrs.evolve(
        result,
        estimate=fields["estimate"],
        standard_error=fields["standard_error"],
        lower=fields["lower"],
        upper=fields["upper"],
    )


def _check_bootstrap(boot: Any, name: str, cls: type) -> BootstrapResult:
    if boot is None:
        raise InvalidInputError(
            f"method='bootstrap' needs {name}=bootstrap(fit, ...): the refits to take the "
            "percentiles over"
        )
    if not isinstance(boot, BootstrapResult):
        raise InvalidTypeError(f"{name} must be a BootstrapResult, got {type(boot).__name__}")
    if not all(isinstance(m, cls) for m in boot.models):
        raise InvalidTypeError(
            f"{name} must hold refits of a {cls.__name__} (one model per replication)"
        )
    return boot


def _single(boot: BootstrapResult, model: BTYDModel) -> BootstrapResult:
    """The refits with ``model`` as the point estimate."""
    return attrs.evolve(boot, model=model)


def _paired(
    boot: BootstrapResult, sboot: BootstrapResult, model: BTYDModel, spend_model: BTYDModel
) -> BootstrapResult:
    k = min(len(boot.models), len(sboot.models))
    pairs = tuple(zip(boot.models[:k], sboot.models[:k], strict=True))
    params = np.concatenate([boot.params[:k], sboot.params[:k]], axis=1)
    names = tuple(f"{type(model).__name__}.{x}" for x in boot.names) + tuple(
        f"{type(spend_model).__name__}.{x}" for x in sboot.names
    )
    return BootstrapResult(
        (model, spend_model),
        pairs,
        names,
        params,
        min(boot.n_replications, sboot.n_replications),
        0,
        (),
    )
