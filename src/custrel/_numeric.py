"""Shared numeric helpers for maximum-likelihood fits (private).

* :func:`compress_rows` merges identical data rows into weighted rows, so a
  likelihood is evaluated once per distinct row instead of once per customer;
* :func:`maximize_log_likelihood` maximises a weighted log-likelihood over
  positive parameters in log space with an analytic gradient and returns the
  estimates with standard errors from the Hessian;
* :func:`hessian_from_gradient` differentiates an analytic gradient by central
  differences.

Any module may import from here; algorithm modules never import each other.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from custrel.errors import ConvergenceError

__all__: list[str] = []


@functools.cache
def gauss_legendre(n: int) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Gauss-Legendre nodes and weights on [-1, 1], computed on first use and kept (read-only).

    Computing them costs an eigenvalue problem (about 5 ms for 160 nodes), so
    no module does it at import time.
    """
    nodes, weights = np.polynomial.legendre.leggauss(n)
    nodes.flags.writeable = False
    weights.flags.writeable = False
    return nodes, weights


FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Log-likelihood and its gradient with respect to the natural parameters,
#: both already summed over the (weighted) data.
LogLikelihoodAndGradient = Callable[[FloatArray], tuple[float, FloatArray]]

_LOG_BOUND = 30.0  # parameters live in [e^-30, e^30]: wide, but keeps exp() finite
_RUNAWAY = 16.0  # an estimate beyond e^16 or below e^-16 means no interior maximum


def compress_rows(
    columns: Sequence[FloatArray], weights: FloatArray
) -> tuple[tuple[FloatArray, ...], FloatArray, IntArray]:
    """Merge identical rows of ``columns`` and add up their weights.

    Parameters
    ----------
    columns : sequence of 1-D float arrays of equal length
        The row values; two rows are identical when every column is equal.
    weights : 1-D float array
        Per-row weights.

    Returns
    -------
    unique : tuple of arrays
        The distinct rows, one array per column, sorted lexicographically
        (first column first).
    weights : array
        The summed weight of each distinct row.
    inverse : array of int64
        For each input row, the index of its distinct row.

    Notes
    -----
    One stable :func:`numpy.argsort` per column (last column first: the
    order of :func:`numpy.lexsort`, which holds the GIL and is slower) and one
    :func:`numpy.add.reduceat`; no Python loop over rows.
    """
    n = len(weights)
    if n == 0:
        return tuple(c.copy() for c in columns), weights.copy(), np.empty(0, dtype=np.int64)
    order = lex_order(columns)
    sorted_cols = [c[order] for c in columns]
    new = np.zeros(n, dtype=bool)
    new[0] = True
    for c in sorted_cols:
        new[1:] |= c[1:] != c[:-1]
    starts = np.flatnonzero(new)
    unique = tuple(c[starts] for c in sorted_cols)
    w = np.add.reduceat(weights[order], starts)
    group = np.cumsum(new) - 1
    inverse = np.empty(n, dtype=np.int64)
    inverse[order] = group
    return unique, w, inverse


def read_only_input(a: Any) -> Any:
    """``a``, or a writeable alias of its memory where ``a`` is a read-only array.

    For numpy functions that only read an argument but convert it with
    ``PyArray_ContiguousFromAny``, whose default flags ask for a writeable
    array: they copy a read-only one (``bincount`` copies both the codes and
    the weights; ``take`` its indices). A transaction log's columns are
    read-only views, so every ``bincount`` over 10M rows copied 160 MB
    (0.030 -> 0.045 s). The alias shares the memory and goes only to such a
    function, never to a caller. Where numpy refuses a writeable alias (the
    owner itself is read-only, or not an array), ``a`` is returned and numpy
    copies as before.
    """
    if not isinstance(a, np.ndarray) or a.flags.writeable:
        return a
    alias = a.view()
    try:
        alias.flags.writeable = True
    except ValueError:
        return a
    return alias


def bincount(
    x: npt.NDArray[Any], weights: npt.NDArray[Any] | None = None, minlength: int = 0
) -> npt.NDArray[Any]:
    """:func:`numpy.bincount`, without its copies of read-only inputs (:func:`read_only_input`)."""
    w = None if weights is None else read_only_input(weights)
    return np.bincount(read_only_input(x), w, minlength=minlength)  # noqa: TID251


def any_negative(values: npt.NDArray[Any] | None) -> bool:
    """Whether some value is negative (amounts: a return, in the total, never a purchase).

    One ``min()``, no mask of every row: logs usually have no returns.
    """
    return values is not None and values.shape[0] > 0 and bool(values.min() < 0)


def unique_inverse(x: npt.NDArray[Any]) -> tuple[npt.NDArray[Any], npt.NDArray[np.intp]]:
    """``numpy.unique(x, return_inverse=True)`` of a 1-D array; by its runs where it is sorted.

    A fit's compressed chunks come sorted by frequency (:func:`compress_rows`
    orders rows by their first column), and ``unique`` sorts them again: 0.2 ms
    of a chunk's 0.3 ms of preparation. Sorted input (checked; NaN never
    passes) gives the same values and inverse from one comparison of
    neighbours instead.
    """
    n = x.shape[0]
    if n < 2 or not bool((x[1:] >= x[:-1]).all()):
        values, inverse = np.unique(x, return_inverse=True)
        return values, inverse.reshape(-1).astype(np.intp, copy=False)
    change = np.empty(n, dtype=bool)
    change[0] = True
    np.not_equal(x[1:], x[:-1], out=change[1:])
    inverse = np.cumsum(change, dtype=np.intp)
    inverse -= 1
    return x[change], inverse


def sorted_unique(x: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """``numpy.unique(x)`` of a 1-D array, by a sort where numpy would hash.

    numpy 2.3+ finds the distinct values of integers without a sort, in a hash
    table: 1M distinct int64 values took 0.60 s against 0.05 s for a sort and
    one comparison of neighbours (numpy 2.4, 2-core test machine). Integers,
    booleans and strings take the sort; other kinds (floats, with their NaN
    rule) go to ``numpy.unique``, which sorts them. 64-bit integers spanning
    less than 2**32 (composite customer-period keys, say) are sorted as
    32-bit offsets from their minimum: half the bytes (10M keys 0.66 ->
    0.39 s), the same values.
    """
    if x.dtype.kind not in "biuUS":
        return np.unique(x)
    lo = None
    if x.dtype.kind in "iu" and x.dtype.itemsize == 8 and x.shape[0] >= 1 << 16:
        lo, hi = x.min(), x.max()
        if int(hi) - int(lo) < 2**32:
            s = np.empty(x.shape[0], dtype=np.uint32)
            np.subtract(x, lo, out=s, casting="unsafe")
            s.sort()
        else:
            lo = None
    if lo is None:
        s = np.sort(x)
    if s.shape[0] < 2:
        return s
    keep = np.empty(s.shape[0], dtype=bool)
    keep[0] = True
    np.not_equal(s[1:], s[:-1], out=keep[1:])
    if lo is None:
        return s[keep]
    out = s[keep].astype(x.dtype)
    out += lo
    return out


def lex_order(columns: Sequence[FloatArray]) -> npt.NDArray[np.intp]:
    """``numpy.lexsort(columns[::-1])`` (first column first) by stable argsorts, last column first.

    The same permutation as :func:`numpy.lexsort` (both are stable), but
    stable ``argsort`` releases the GIL and is faster (0.70 s against 1.07 s
    for three columns of 1M rows).
    """
    order: npt.NDArray[np.intp] = np.argsort(_sort_key(columns[-1]), kind="stable")
    for c in reversed(columns[:-1]):
        order = order[np.argsort(_sort_key(c)[order], kind="stable")]
    return order


#: Groups from which :func:`group_min_max` reduces int64 values as int32 offsets: with
#: more groups the per-group arrays (8 bytes each) outgrow the caches, and the random
#: read-modify-write of ``ufunc.at`` waits on memory. Measured on the 2-core test machine,
#: 10M rows, the plain RFM summary's kernels (sums, then first / last), medians of 15
#: interleaved runs, int64 -> int32: 30k groups 0.073 -> 0.082 s (the conversion does not
#: pay), 300k 0.100 -> 0.099 s (0.077 -> 0.062 s with the sums on a second thread), 1M
#: 0.150 -> 0.120 s (0.128 -> 0.091 s); first and last alone of 2M groups 0.33 -> 0.15 s.
NARROW_MIN_GROUPS = 1 << 18
_INT32_MAX = np.iinfo(np.int32).max


def group_min_max(
    codes: npt.NDArray[np.intp],
    values: npt.NDArray[Any],
    first: npt.NDArray[Any],
    last: npt.NDArray[Any],
    *,
    upper: Any = None,
    exclude: npt.NDArray[np.bool_] | None = None,
) -> None:
    """``first[c] = min(first[c], values of group c)`` and ``last`` likewise with max, in place.

    ``minimum.at`` / ``maximum.at``; int64 values spanning less than 2**31
    (calendar seconds over 68 years) are reduced as int32 offsets from their
    minimum when there are :data:`NARROW_MIN_GROUPS` groups or more (half
    the memory per group), then widened back: the same result exactly.
    ``upper``, when the caller knows one, is a value no less than every
    value (their maximum, say), which saves a pass over them. Rows where
    ``exclude`` is true take no part (returns, in the RFM summary): as
    offsets they are given the "no value" of each reduction in turn, so the
    codes are not copied (and the values only once, where not narrowed).
    Each narrowed table is allocated just before its pass, the maximum's
    after the minimum's, so that it is still in the cache when its pass
    starts (plain ``summarize_rfm`` of 10M rows on 2 threads, where the
    sums' thread shares the cache: 0.100-0.103 -> 0.085-0.097 s).
    """
    k = first.shape[0]
    n = values.shape[0]
    if n and values.dtype == np.int64 and k >= NARROW_MIN_GROUPS:
        lo = int(values.min())
        hi = int(values.max()) if upper is None else int(upper)
        if hi - lo < _INT32_MAX:  # INT32_MAX itself stays free for "no value"
            offsets = np.empty(n, dtype=np.int32)
            np.subtract(values, lo, out=offsets, casting="unsafe")
            low = np.full(k, _INT32_MAX, dtype=np.int32)
            if exclude is not None:
                np.putmask(offsets, exclude, _INT32_MAX)
            np.minimum.at(low, codes, offsets)
            if exclude is not None:
                np.putmask(offsets, exclude, -1)
            high = np.full(k, -1, dtype=np.int32)
            np.maximum.at(high, codes, offsets)
            del offsets
            seen = high >= 0
            wide = low.astype(np.int64)
            wide += lo
            np.minimum(first, wide, out=first, where=seen)
            np.add(high, lo, out=wide, dtype=np.int64)
            np.maximum(last, wide, out=last, where=seen)
            return
    if exclude is None:
        np.minimum.at(first, codes, values)
        np.maximum.at(last, codes, values)
        return
    # one copy of the values, its excluded rows set to each reduction's identity in turn
    top, bottom = (
        (np.inf, -np.inf)
        if values.dtype.kind == "f"
        else (np.iinfo(values.dtype).max, np.iinfo(values.dtype).min)
    )
    masked = values.copy()
    np.putmask(masked, exclude, top)
    np.minimum.at(first, codes, masked)
    np.putmask(masked, exclude, bottom)
    np.maximum.at(last, codes, masked)


def _sort_key(column: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """The column, or integers in the same order (whole numbers as int16, else float bits).

    Whole numbers in 0..32767 become int16; numpy's stable sort of 16-bit
    integers is a radix sort: for the purchase counts of 65,536 customers
    0.24 ms against 1.8 ms as float64. Other non-negative floats (recency
    and ages in weeks) sort as their bits read as int64, which order them as
    their values do (IEEE 754); the stable sort of int64 skips the float
    comparison's NaN rule: 65,536 recencies 3.1 -> 2.1 ms. ``-0.0`` is made
    ``0.0`` first (its bits would sort before every positive value). Equal
    values stay equal and the order is the same, so the permutation is too.
    """
    if column.dtype.kind != "f" or column.shape[0] < 1024:
        return column
    lo, hi = float(column.min()), float(column.max())
    if not lo >= 0.0:  # negative, or NaN
        return column
    if hi <= 32767.0 and bool((column == np.floor(column)).all()):
        return column.astype(np.int16)
    if column.dtype.itemsize != 8:
        return column
    bits: npt.NDArray[Any] = np.add(column, 0.0).view(np.int64)  # a copy: -0.0 -> 0.0
    return bits


def hessian_from_gradient(
    gradient: Callable[[FloatArray], FloatArray],
    x: FloatArray,
    *,
    step: float = 1e-5,
    at_x: FloatArray | None = None,
) -> FloatArray:
    """Hessian by central differences of an analytic gradient, symmetrised.

    The step is relative: ``step * max(1, |x_i|)``. Given ``at_x`` (the
    gradient at ``x``), forward differences instead: half the gradient
    evaluations, truncation error of order ``step`` instead of ``step**2``.
    """
    k = len(x)
    h = np.empty((k, k))
    for i in range(k):
        e = np.zeros(k)
        e[i] = step * max(1.0, abs(float(x[i])))
        if at_x is None:
            h[i] = (gradient(x + e) - gradient(x - e)) / (2.0 * e[i])
        else:
            h[i] = (gradient(x + e) - at_x) / e[i]
    return 0.5 * (h + h.T)


def inverse_information(hess: FloatArray) -> FloatArray | None:
    """``(-hess)^{-1}`` by Cholesky: the covariance of estimates in the coordinates of ``hess``.

    None where ``-hess`` is not finite or not positive definite (no interior
    maximum); the caller reports NaN standard errors then.
    """
    info = -hess
    if not np.all(np.isfinite(info)):
        return None
    try:
        chol = np.linalg.cholesky(info)
    except np.linalg.LinAlgError:
        return None
    inv_chol = np.linalg.inv(chol)
    out: FloatArray = inv_chol.T @ inv_chol
    return out


@attrs.frozen
class MaximumLikelihood:
    """Outcome of :func:`maximize_log_likelihood` (private).

    Attributes
    ----------
    params : ndarray
        The estimates, natural scale.
    log_likelihood : float
        The maximised (weighted) log-likelihood.
    standard_errors : ndarray
        Square roots of the diagonal of the inverse observed information,
        natural scale (NaN where the information matrix is not positive
        definite).
    covariance : ndarray
        The estimated covariance matrix of the estimates, natural scale.
    n_iterations : int
        Optimizer iterations.
    message : str
        The optimizer's message.
    inverse_hessian : ndarray or None
        BFGS's estimate of the inverse Hessian of the mean objective in
        log-parameters at the end (a warm start for a fit on more data).
    """

    params: FloatArray
    log_likelihood: float
    standard_errors: FloatArray
    covariance: FloatArray
    n_iterations: int
    message: str
    inverse_hessian: FloatArray | None = None


def _warm(inverse_hessian: FloatArray | None) -> dict[str, FloatArray]:
    """BFGS's ``hess_inv0`` option for a symmetric positive definite warm start, else none."""
    if inverse_hessian is None or not np.all(np.isfinite(inverse_hessian)):
        return {}
    sym = 0.5 * (inverse_hessian + inverse_hessian.T)
    try:
        np.linalg.cholesky(sym)
    except np.linalg.LinAlgError:
        return {}
    return {"hess_inv0": sym}


def maximize_log_likelihood(
    loglik: LogLikelihoodAndGradient,
    x0: FloatArray,
    *,
    total_weight: float,
    model: str,
    names: Sequence[str] = (),
    max_iterations: int = 2000,
    inverse_hessian: FloatArray | None = None,
    standard_errors: bool = True,
    forward_hessian: bool = False,
) -> MaximumLikelihood:
    """Maximise a log-likelihood over positive parameters.

    The search runs over ``u = log(theta)`` with BFGS and the analytic
    gradient (chain rule: ``dLL/du = theta * dLL/dtheta``), on the mean
    log-likelihood per unit weight so that tolerances do not depend on the
    data size. Standard errors come from the observed information: the
    Hessian of the total log-likelihood in ``u`` by central differences of
    the analytic gradient, inverted, and mapped back by the delta method
    (``se(theta_i) = theta_i * se(u_i)``; at the optimum the gradient is
    zero, so this equals the inverse Hessian in ``theta``).

    ``inverse_hessian`` (the :attr:`MaximumLikelihood.inverse_hessian` of a
    fit of the same model on a sample of the data, started from its
    estimates) starts BFGS with that curvature, so a fit on all the data
    needs only a few iterations; ``standard_errors=False`` skips the Hessian
    (NaN standard errors), for such a preliminary fit. ``forward_hessian``
    takes the Hessian by forward differences (4 gradients for 4 parameters
    instead of 8; relative error about 1e-5, for large data where each
    gradient is costly).

    Raises
    ------
    ConvergenceError
        If the optimizer reports failure with a gradient that is not close to
        zero, the log-likelihood is not finite at the start or the end, or an
        estimate runs off beyond e^16 or below e^-16 (the likelihood has no
        interior maximum: the data cannot identify the model).
    """
    scale = 1.0 / total_weight

    last: dict[bytes, tuple[float, FloatArray]] = {}  # BFGS starts where the check below did

    def objective(u: FloatArray) -> tuple[float, FloatArray]:
        key = np.asarray(u, dtype=np.float64).tobytes()
        if key in last:
            f_last, g_last = last[key]
            return f_last, g_last.copy()
        if np.any(np.abs(u) > _LOG_BOUND):
            return np.inf, np.zeros_like(u)
        theta = np.exp(u)
        ll, grad = loglik(theta)
        if not np.isfinite(ll) or not np.all(np.isfinite(grad)):
            return np.inf, np.zeros_like(u)
        out = (-ll * scale, -grad * theta * scale)
        last.clear()
        last[key] = (out[0], out[1].copy())
        return out

    from scipy import optimize  # imported on first fit (import custrel stays quick)

    u0 = np.log(np.asarray(x0, dtype=np.float64))
    f0, _ = objective(u0)
    if not np.isfinite(f0):
        raise ConvergenceError(
            f"{model}: the log-likelihood is not finite at the starting values {np.exp(u0)!r}; "
            "pass other starting values with initial=..., or check the scale of the data "
            "(frequency, recency and T, or the monetary values)"
        )
    # BFGS rather than L-BFGS-B: the latter's compiled core calls multithreaded
    # BLAS on tiny matrices, which costs milliseconds per iteration on a busy
    # machine; BFGS on 3-4 parameters is a handful of numpy operations.
    res = optimize.minimize(
        objective,
        u0,
        jac=True,
        method="BFGS",
        options={"maxiter": max_iterations, "gtol": 1e-7} | _warm(inverse_hessian),
    )
    u = np.asarray(res.x, dtype=np.float64)
    # BFGS's last evaluation is at res.x (the objective is deterministic): no repeat
    if hasattr(res, "fun") and hasattr(res, "jac"):
        f, g = float(res.fun), np.asarray(res.jac, dtype=np.float64)
    else:
        f, g = objective(u)
    message = str(res.message)
    if not np.isfinite(f):
        raise ConvergenceError(
            f"{model}: the fit failed ({message}); the log-likelihood is not finite"
        )
    runaway = np.flatnonzero(np.abs(u) > _RUNAWAY)
    if len(runaway):
        i = int(runaway[0])
        name = names[i] if i < len(names) else f"parameter {i}"
        raise ConvergenceError(
            f"{model}: the likelihood has no finite maximum for these data: {name} ran to "
            f"{float(np.exp(u[i])):.3g} ({message}); the data cannot identify the model "
            "(too few customers, no repeat purchases, or no heterogeneity between customers)"
        )
    if not res.success and float(np.max(np.abs(g))) > 1e-4:
        raise ConvergenceError(
            f"{model}: the optimizer did not converge: {message} "
            f"(after {res.nit} iterations, largest gradient {float(np.max(np.abs(g))):.3g}); "
            "check the data or pass other starting values with initial=..."
        )
    theta = np.exp(u)
    ll_total = -f / scale
    hess_inv = getattr(res, "hess_inv", None)
    inv_h = None if hess_inv is None else np.asarray(hess_inv, dtype=np.float64)
    if not standard_errors:
        k = len(u)
        return MaximumLikelihood(
            params=theta,
            log_likelihood=float(ll_total),
            standard_errors=np.full(k, np.nan),
            covariance=np.full((k, k), np.nan),
            n_iterations=int(res.nit),
            message=message,
            inverse_hessian=inv_h,
        )

    def total_grad_u(uu: FloatArray) -> FloatArray:
        th = np.exp(uu)
        _, gr = loglik(th)
        out: FloatArray = gr * th
        return out

    if forward_hessian:
        hess = hessian_from_gradient(total_grad_u, u, step=1e-5, at_x=-g / scale)
    else:
        hess = hessian_from_gradient(total_grad_u, u, step=1e-5)
    covariance = np.full((len(u), len(u)), np.nan)
    se = np.full(len(u), np.nan)
    cov_u = inverse_information(hess)
    if cov_u is not None:
        covariance = cov_u * np.outer(theta, theta)
        se = np.sqrt(np.diag(covariance))
    return MaximumLikelihood(
        params=theta,
        log_likelihood=float(ll_total),
        standard_errors=se,
        covariance=covariance,
        n_iterations=int(res.nit),
        message=message,
        inverse_hessian=inv_h,
    )
