"""Shared machinery of the BTYD models.

Special functions, weights, validation of the summary columns, start values and
simulation helpers.
"""

from __future__ import annotations

import types
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from custrel import _numeric
from custrel import _validate as v
from custrel._lazy import LazyModule
from custrel.errors import (
    CustrelError,
    FitWarning,
    InvalidInputError,
    InvalidTypeError,
)

special = LazyModule("scipy.special")  # imported on first use (import time)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def _gammaln(*args: Any, **kwargs: Any) -> Any:
    return special.gammaln(*args, **kwargs)


def _psi(*args: Any, **kwargs: Any) -> Any:
    return special.digamma(*args, **kwargs)


def _betaln(*args: Any, **kwargs: Any) -> Any:
    return special.betaln(*args, **kwargs)


def _wsum(w: FloatArray, values: FloatArray) -> float:
    """Weighted sum without BLAS (whose threads thrash on a busy machine)."""
    return float((w * values).sum())


def _wsums(w: FloatArray, *values: FloatArray) -> FloatArray:
    """Weighted sums of several arrays (a gradient), without BLAS."""
    return np.asarray([(w * v_).sum() for v_ in values], dtype=np.float64)


def _frozen_mapping(value: Mapping[str, float]) -> Mapping[str, float]:
    return types.MappingProxyType({str(k): float(x) for k, x in value.items()})


# ---------------------------------------------------------------------------
# Validation of the summary columns
# ---------------------------------------------------------------------------


#: Rows per task when :func:`_as_rfm` checks long columns on several threads.
_CHECK_CHUNK = 1 << 18


def _as_rfm(
    frequency: Any,
    recency: Any,
    T: Any,
    *,
    discrete: bool = False,
    allow_scalar: bool = False,
    threads: Any = None,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Validate (frequency, recency, T) and broadcast them to one shape.

    Columns of :data:`custrel._parallel.MIN_PARALLEL_ROWS` rows or more, on
    several ``threads``, are checked chunk by chunk on the shared pool
    (:func:`_rows_pass`; the checks are ufunc loops, which release the GIL):
    10M customers' checks took 0.12 s of a prediction's serial part. Only
    input that passes is taken from there; any other is checked again below,
    in-line, which names its first bad row exactly as on one thread.
    """
    fast = _as_rfm_on_threads(frequency, recency, T, discrete, threads)
    if fast is not None:
        return fast
    ndim: int | tuple[int, ...] = (0, 1) if allow_scalar else 1
    x = v.as_float_array(frequency, "frequency", ndim=ndim)
    tx = v.as_float_array(recency, "recency", ndim=ndim)
    big_t = v.as_float_array(T, "T", ndim=ndim)
    if allow_scalar:
        if not x.shape == tx.shape == big_t.shape:
            try:
                x, tx, big_t = (np.array(a) for a in np.broadcast_arrays(x, tx, big_t))
            except ValueError:
                raise InvalidInputError(
                    f"frequency, recency and T must have the same length, got "
                    f"{x.size}, {tx.size} and {big_t.size}"
                ) from None
    else:
        v.check_same_length(frequency=x, recency=tx, T=big_t)
    v.check_range(x, "frequency", low=0.0)
    v.check_integer_valued(x, "frequency")
    v.check_range(tx, "recency", low=0.0)
    v.check_range(big_t, "T", low=0.0)
    bad = tx > big_t
    if bad.any():
        i = v.first_bad(bad)
        raise InvalidInputError(
            f"recency must be <= T, got recency {float(tx[i])!r} > T {float(big_t[i])!r} "
            f"at {v.where(i)}; recency is the age at the last purchase, T the age at the end"
        )
    bad = (x == 0) & (tx > 0)
    if bad.any():
        i = v.first_bad(bad)
        raise InvalidInputError(
            f"recency must be 0 where frequency is 0, got recency {float(tx[i])!r} at "
            f"{v.where(i)}; a customer without repeat purchases has recency 0"
        )
    if discrete:
        v.check_integer_valued(tx, "recency")
        v.check_integer_valued(big_t, "T")
        bad = (x > tx) & (x > 0)
        if bad.any():
            i = v.first_bad(bad)
            raise InvalidInputError(
                f"frequency must be <= recency for discrete opportunities, got frequency "
                f"{float(x[i])!r} > recency {float(tx[i])!r} at {v.where(i)}; recency is the "
                "number of the opportunity with the last transaction"
            )
    return x, tx, big_t


def _as_rfm_on_threads(
    frequency: Any, recency: Any, T: Any, discrete: bool, threads: Any
) -> tuple[FloatArray, FloatArray, FloatArray] | None:
    """:func:`_as_rfm` of long 1-D columns that pass every check, on threads; else None."""
    from custrel import _parallel

    try:
        n = len(frequency)
    except TypeError:  # a scalar, or an object without a length: the in-line path
        return None
    if n < _parallel.MIN_PARALLEL_ROWS or _parallel.on_pool():  # nested work runs in-line
        return None
    n_threads = _parallel.resolve_threads(threads)
    if n_threads <= 1:
        return None
    sources: list[FloatArray | None] = []  # float64 arrays, copied chunk by chunk below
    columns: list[FloatArray] = []
    for value, name in ((frequency, "frequency"), (recency, "recency"), (T, "T")):
        if type(value) is np.ndarray and value.dtype == np.float64 and value.ndim == 1:
            sources.append(value)
            columns.append(np.empty(value.shape[0]))
            continue
        try:
            columns.append(v.as_float_array(value, name, ndim=1, finite=False))
        except CustrelError:  # raised again, in its place, by the in-line checks
            return None
        sources.append(None)
    x, tx, big_t = columns
    if not x.shape == tx.shape == big_t.shape:
        return None

    def chunk_passes(i: int) -> bool:
        rows = slice(i * _CHECK_CHUNK, (i + 1) * _CHECK_CHUNK)
        for source, column in zip(sources, columns, strict=True):
            if source is not None:
                np.copyto(column[rows], source[rows])
        return _rows_pass(x[rows], tx[rows], big_t[rows], discrete)

    passed = _parallel.run_ordered(chunk_passes, -(-n // _CHECK_CHUNK), n_threads)
    return (x, tx, big_t) if all(passed) else None


def _rows_pass(x: FloatArray, tx: FloatArray, big_t: FloatArray, discrete: bool) -> bool:
    """Whether these rows pass every check of :func:`_as_rfm` (the verdict only, no message)."""
    if not (np.isfinite(x).all() and np.isfinite(tx).all() and np.isfinite(big_t).all()):
        return False
    if (x < 0).any() or (tx < 0).any() or (big_t < 0).any():
        return False
    if (x != np.round(x)).any() or (tx > big_t).any() or ((x == 0) & (tx > 0)).any():
        return False
    if discrete:
        if (tx != np.round(tx)).any() or (big_t != np.round(big_t)).any():
            return False
        if ((x > tx) & (x > 0)).any():
            return False
    return True


def _horizon(t: Any, name: str = "t", *, discrete: bool = False) -> FloatArray:
    arr = v.as_float_array(t, name, ndim=(0, 1))
    v.check_range(arr, name, low=0.0)
    if discrete:
        v.check_integer_valued(arr, name)
    return arr


def _fit_weights(weights: Any, n: int) -> FloatArray:
    return v.weights_array(weights, n)


def _initial(
    initial: Mapping[str, float] | None, names: tuple[str, ...], default: FloatArray
) -> FloatArray:
    if initial is None:
        return default
    if not isinstance(initial, Mapping):
        raise InvalidTypeError(
            f"initial must be a mapping of parameter names to values, got {type(initial).__name__}"
        )
    unknown = sorted(set(initial) - set(names))
    if unknown:
        raise InvalidInputError(
            f"initial has unknown parameter {unknown[0]!r}; the parameters are {list(names)!r}"
        )
    out = default.copy()
    for i, name in enumerate(names):
        if name in initial:
            out[i] = v.scalar(initial[name], f"initial[{name!r}]", low=0.0, low_inclusive=False)
    return out


def _warn_fit(model: str, fit: _numeric.MaximumLikelihood) -> None:
    if not np.all(np.isfinite(fit.standard_errors)):
        warnings.warn(
            f"{model}: the observed information matrix is not positive definite; "
            "standard errors are NaN",
            FitWarning,
            stacklevel=3,
        )


# ---------------------------------------------------------------------------
# Fitted models: shared fields and methods
# ---------------------------------------------------------------------------


def _readonly_matrix(arr: Any) -> FloatArray:
    return v.readonly(np.asarray(arr, dtype=np.float64))


def _psi_diff(x: FloatArray, t: FloatArray) -> FloatArray:
    """psi(x + t) - psi(x) for x > 0, t >= 0, without cancellation for large x.

    For x >= 1000 from the asymptotic series psi(x) = ln x - 1/(2x) - 1/(12x^2)
    + 1/(120x^4) - ..., each difference written in closed form (the next term
    is below 1e-18 relative); below, directly.
    """
    xb, tb = np.broadcast_arrays(x, t)
    big = xb >= 1000.0
    xs = np.where(big, xb, 1000.0)
    y = xs + tb
    q = tb / xs / y  # t / (x (x + t)) = 1/x - 1/(x + t)
    q2 = q * (2.0 / y + q)  # 1/x^2 - 1/(x + t)^2
    asym = np.log1p(tb / xs) + 0.5 * q + q2 / 12.0 - q2 * ((1.0 / xs) ** 2 + (1.0 / y) ** 2) / 120.0
    out: FloatArray = np.where(big, asym, _psi(xb + tb) - _psi(np.where(big, 1.0, xb)))
    return out


_BGBB_SHORT = 32  # BG/BB windows up to this many opportunities are summed term by term


def _discounted_sum(
    future: Any, horizon: int, period: float, rate: float, shape: tuple[int, ...]
) -> FloatArray:
    """sum_k (future(k p) - future((k-1) p)) / (1 + rate)^k for k = 1..horizon.

    ``horizon`` has been checked against the period budget by the caller, so
    the loop is bounded. A discount factor that overflows (a negative rate
    over a long horizon) raises instead of returning inf.
    """
    total = np.zeros(shape)
    prev = np.zeros(shape)
    log_growth = -np.log1p(rate)
    for k in range(1, horizon + 1):
        cum = np.asarray(future(np.asarray(k * period)), dtype=np.float64)
        with np.errstate(over="ignore"):
            factor = np.exp(k * log_growth)
        if not np.isfinite(factor):
            raise InvalidInputError(
                f"discount_rate {rate!r} over horizon {horizon} discounts by a factor beyond "
                "the float range; use a discount_rate >= 0 or a shorter horizon"
            )
        total += (cum - prev) * factor
        prev = cum
    if not np.all(np.isfinite(total)):
        raise InvalidInputError(
            f"the discounted value over horizon {horizon} with discount_rate {rate!r} exceeds "
            "the float range; use a larger discount_rate or a shorter horizon"
        )
    return total


def _as_rng(rng: Any) -> np.random.Generator:
    """:func:`_validate.as_rng`, with numpy's refusal of a seed turned into InvalidInputError."""
    try:
        return v.as_rng(rng)
    except (ValueError, TypeError, OverflowError) as exc:
        if isinstance(exc, CustrelError):
            raise
        raise InvalidInputError(
            f"rng must be a numpy.random.Generator, a non-negative int seed or None, got "
            f"{rng!r} ({exc})"
        ) from None


def _geometric(p: FloatArray, rng: np.random.Generator) -> FloatArray:
    """Trials up to and including the first success (>= 1), as floats; inf where p = 0."""
    u = 1.0 - rng.random(p.shape[0])  # in (0, 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        k = np.floor(np.log(u) / np.log1p(-np.minimum(p, 1.0))) + 1.0
    out: FloatArray = np.where(p >= 1.0, 1.0, np.where(p <= 0.0, np.inf, np.maximum(k, 1.0)))
    return out


_MAX_SIMULATED_RATE = 1e15  # Poisson means beyond this are not simulated


def _poisson_counts(mean: FloatArray, rng: np.random.Generator, big_t: FloatArray) -> FloatArray:
    """Poisson draws, refusing means numpy cannot draw (naming T, which made them so)."""
    top = float(np.max(mean)) if mean.shape[0] else 0.0
    if not top <= _MAX_SIMULATED_RATE:
        i = int(np.argmax(mean))
        raise InvalidInputError(
            f"T {float(big_t[i])!r} at row {i} gives an expected {top:.3g} purchases in the "
            f"simulation, more than {_MAX_SIMULATED_RATE:.0e}; simulate a shorter window"
        )
    out: FloatArray = rng.poisson(mean).astype(np.float64)
    return out


def _broadcast_customers(*arrays: FloatArray) -> tuple[FloatArray, ...]:
    """Broadcast per-customer columns (scalars allowed) to one shape."""
    return tuple(np.array(a) for a in np.broadcast_arrays(*arrays))


def _fit_rows(
    frequency: Any,
    recency: Any,
    T: Any,
    weights: Any,
    *,
    discrete: bool = False,
    max_frequency: float | None = None,
    threads: Any = None,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, float]:
    """The fitting data checked, not compressed: x, t_x, T, w and the total weight.

    (``btyd._threads.compressed_chunks`` merges identical rows chunk by
    chunk; :func:`custrel._numeric.compress_rows` merges them all at once.)
    """
    x, tx, big_t = _as_rfm(frequency, recency, T, discrete=discrete, threads=threads)
    if max_frequency is not None:  # checked before compression, so the row is the caller's
        v.check_range(
            x, "frequency", high=max_frequency, hint="a purchase count beyond 2**53 cannot be exact"
        )
    w = _fit_weights(weights, len(x))
    if not np.any(x > 0):
        raise InvalidInputError(
            f"frequency is 0 for all {len(x)} rows: without repeat purchases the model "
            "cannot be estimated; use a longer calibration window"
        )
    return x, tx, big_t, w, float(w.sum())


def _start_rate(x: FloatArray, big_t: FloatArray, w: FloatArray) -> float:
    """A scale-aware start for a rate parameter: total time over total purchases."""
    return _start_rate_of_chunks([(x, big_t, w)])


def _start_rate_of_chunks(chunks: Sequence[tuple[FloatArray, FloatArray, FloatArray]]) -> float:
    """:func:`_start_rate` of ``(x, T, w)`` chunks, their sums added in chunk order (no join)."""
    time = sum(_wsum(w, big_t) for _, big_t, w in chunks)
    count = sum(_wsum(w, x) for x, _, w in chunks)
    if time <= 0.0:
        return 1.0
    return time / max(count, 0.1 * sum(float(w.sum()) for _, _, w in chunks), 1e-12)
