"""Criterion weights (private): direct, AHP pairwise comparisons, entropy."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any, Literal

import attrs
import numpy as np

from custrel import _validate as _val
from custrel.channels._common import (
    _SAFE_MAGNITUDE,
    RANDOM_INDEX,
    FloatArray,
    _column_scale,
    _iterable,
)
from custrel.channels._matrix import (
    DecisionMatrix,
)
from custrel.errors import (
    ConsistencyWarning,
    ConvergenceError,
    InvalidInputError,
    InvalidTypeError,
)

__all__: list[str] = []


def normalize_weights(
    weights: Any, *, total: float | None = None, rtol: float = 1e-6
) -> FloatArray:
    """Validate direct weights and divide them by their sum.

    Parameters
    ----------
    weights : array_like
        Finite, >= 0, at least one positive.
    total : float, optional
        The total the weights are meant to have (1 for shares, 100 for
        percentages). When given, weights that do not add up to it within
        ``rtol`` raise instead of being rescaled silently.
    rtol : float, default 1e-6
        Relative tolerance of the ``total`` check.

    Returns
    -------
    numpy.ndarray
        The weights divided by their sum.

    Raises
    ------
    InvalidInputError
        For negative, non-finite or all-zero weights, or a sum off ``total``.

    Examples
    --------
    >>> normalize_weights([30, 50, 20], total=100).tolist()
    [0.3, 0.5, 0.2]
    >>> normalize_weights([0.3, 0.5, 0.3], total=1)
    Traceback (most recent call last):
    ...
    custrel.errors.InvalidInputError: weights sum to 1.1, expected 1 (within rtol=1e-06); fix the weights or omit total= to rescale them
    """
    w = _val.as_float_array(weights, "weights", ndim=1)
    _val.check_range(w, "weights", low=0.0, hint="weights are importances; use 0 to ignore")
    rtol = _val.scalar(rtol, "rtol", low=0.0)
    big = float(w.max())
    if big <= 0:
        raise InvalidInputError("weights are all zero; give at least one a positive weight")
    # shares are invariant to a common factor: near overflow or underflow the weights are
    # divided by the largest one first, so that their sum stays finite
    scale = 1.0 if _SAFE_MAGNITUDE[0] <= big <= _SAFE_MAGNITUDE[1] else big
    ws = w / scale if scale != 1.0 else w
    s = float(ws.sum())
    if total is not None:
        t = _val.scalar(total, "total", low=0.0, low_inclusive=False)
        if scale == 1.0:
            off = abs(s - t) > rtol * t
        else:  # compare in logs: s * scale and t / scale may not be representable
            off = abs(math.log(s) + math.log(scale) - math.log(t)) > math.log1p(rtol)
        if off:
            with np.errstate(over="ignore"):
                total_w = s * scale
            shown = f"{total_w:.6g}" if math.isfinite(total_w) else f"{s:.6g} x {scale:g}"
            raise InvalidInputError(
                f"weights sum to {shown}, expected {t:g} (within rtol={rtol:g}); "
                "fix the weights or omit total= to rescale them"
            )
    out: FloatArray = ws / s
    return out


@attrs.frozen(eq=False)
class AHPResult:
    r"""Criterion weights from AHP pairwise comparisons.

    Attributes
    ----------
    criteria : tuple of str
        Criterion names in matrix order.
    weights : numpy.ndarray
        The principal eigenvector, summing to 1.
    lambda_max : float
        Principal eigenvalue.
    consistency_index : float
        :math:`CI = (\lambda_{max} - n)/(n - 1)` (0 for n <= 2).
    random_index : float
        Saaty's RI for this n (:data:`RANDOM_INDEX`).
    consistency_ratio : float
        :math:`CR = CI/RI` (0 for n <= 2).
    max_cr : float
        The accepted maximum.
    worst_pair : tuple of int
        The judgement :math:`a_{ij}` furthest from the derived ratio
        :math:`w_i/w_j` (largest :math:`|\ln(a_{ij} w_j / w_i)|`): the first
        one to revisit when CR is too high.
    """

    criteria: tuple[str, ...] = attrs.field(converter=_val.freeze)
    weights: FloatArray = attrs.field(converter=_val.freeze)
    lambda_max: float = attrs.field(converter=_val.freeze)
    consistency_index: float = attrs.field(converter=_val.freeze)
    random_index: float = attrs.field(converter=_val.freeze)
    consistency_ratio: float = attrs.field(converter=_val.freeze)
    max_cr: float = attrs.field(converter=_val.freeze)
    worst_pair: tuple[int, int] = attrs.field(converter=_val.freeze)

    @property
    def consistent(self) -> bool:
        """Whether CR <= max_cr."""
        return self.consistency_ratio <= self.max_cr


def ahp_weights(
    pairwise: Any,
    *,
    criteria: Sequence[str] | None = None,
    max_cr: float = 0.1,
    on_inconsistent: Literal["raise", "warn"] = "raise",
    rtol: float = 1e-6,
) -> AHPResult:
    r"""Weights from Saaty's pairwise-comparison matrix, with the consistency gate.

    Parameters
    ----------
    pairwise : array_like, shape (n, n)
        :math:`a_{ij}` = how much more important criterion i is than j
        (Saaty's 1-9 scale), positive, with :math:`a_{ii} = 1` and
        :math:`a_{ji} = 1/a_{ij}`.
    criteria : sequence of str, optional
        Names; ``"c0" …`` when omitted.
    max_cr : float, default 0.1
        Saaty's threshold on the consistency ratio.
    on_inconsistent : {"raise", "warn"}, default "raise"
        What to do when CR > ``max_cr``: raise :class:`InvalidInputError`
        or emit a :class:`ConsistencyWarning` and return the result.
    rtol : float, default 1e-6
        Relative tolerance of the reciprocity check (so 1/3 typed as
        0.333333 passes).

    Returns
    -------
    AHPResult

    Raises
    ------
    InvalidInputError
        For a non-square matrix, non-positive entries, a diagonal other than
        1, a non-reciprocal pair, n > 15 (no random index), or an
        inconsistent matrix under ``on_inconsistent="raise"``.

    Notes
    -----
    The weights are the normalised principal right eigenvector;
    :math:`CI = (\lambda_{max} - n)/(n-1)`, :math:`CR = CI / RI_n` with
    Saaty's random indices.

    References
    ----------
    Saaty, T. L. (1980). The Analytic Hierarchy Process. McGraw-Hill.

    Saaty, T. L. (1994). Fundamentals of Decision Making and Priority
    Theory. RWS Publications.

    Examples
    --------
    >>> a = [[1, 3, 5], [1 / 3, 1, 3], [1 / 5, 1 / 3, 1]]
    >>> res = ahp_weights(a, criteria=["sales", "coverage", "service"])
    >>> np.round(res.weights, 3).tolist(), round(res.consistency_ratio, 3)
    ([0.637, 0.258, 0.105], 0.033)
    """
    a = _val.as_float_array(pairwise, "pairwise", ndim=2)
    n = a.shape[0]
    if a.shape[1] != n:
        raise InvalidInputError(f"pairwise must be square, got shape {a.shape}")
    if n > 15:
        raise InvalidInputError(
            f"pairwise has order {n}; Saaty's random index is tabulated up to 15 criteria, "
            "so group the criteria in a hierarchy"
        )
    _val.check_range(a, "pairwise", low=0.0, low_inclusive=False, label="row")
    rtol = _val.scalar(rtol, "rtol", low=0.0)
    d = np.diag(a)
    if (np.abs(d - 1.0) > rtol).any():
        i = int(np.flatnonzero(np.abs(d - 1.0) > rtol)[0])
        raise InvalidInputError(f"pairwise diagonal must be 1, got {d[i]:g} at [{i}, {i}]")
    # Both entries are finite and positive, so an overflowing product is +inf,
    # which the test below correctly flags as not reciprocal.
    with np.errstate(over="ignore", under="ignore"):
        prod = a * a.T
    bad = np.abs(prod - 1.0) > rtol
    if bad.any():
        i, j = _val.first_bad(bad)
        aij = float(a[i, j])
        # 1 / a[i, j] overflows for subnormal judgements: show the fraction instead.
        recip = f"{1.0 / aij:g}" if aij > 1.0 / np.finfo(np.float64).max else f"1/{aij:g}"
        raise InvalidInputError(
            f"pairwise must be reciprocal (a[j, i] = 1 / a[i, j]), got a[{i}, {j}] = {aij:g} "
            f"and a[{j}, {i}] = {a[j, i]:g}; set a[{j}, {i}] = {recip}"
        )
    max_cr = _val.scalar(max_cr, "max_cr", low=0.0)
    _val.choice(on_inconsistent, "on_inconsistent", ("raise", "warn"))
    if criteria is None:
        names = tuple(f"c{i}" for i in range(n))
    else:
        names = tuple(_iterable(criteria, "criteria", "a sequence of names"))
        if not all(isinstance(x, str) for x in names):
            raise InvalidTypeError(f"criteria must be names (str), got {names!r:.80}")
        if len(names) != n:
            raise InvalidInputError(f"criteria has {len(names)} names but pairwise has order {n}")
    # Balance first: B = D^-1 A D with D the rows' geometric means has the same
    # eigenvalues, entries near 1 for consistent judgements, and the eigenvector
    # u = D v of A. Working with log u keeps weights and ratios finite for extreme
    # (subnormal or huge) judgements.
    la = np.log(a)
    g = la.mean(axis=1)
    expo = la - g[:, None] + g[None, :]
    if np.abs(expo).max() > 700.0:
        i, j = _val.first_bad(np.abs(expo) > 700.0)
        raise InvalidInputError(
            f"pairwise judgements are too extreme to weigh: a[{i}, {j}] = {a[i, j]:g} departs "
            "from the other judgements by more than a factor of 1e300; use Saaty's 1/9 to 9 scale"
        )
    try:
        vals, vecs = np.linalg.eig(np.exp(expo))
    except np.linalg.LinAlgError as exc:  # pragma: no cover - a finite positive matrix
        raise ConvergenceError(f"pairwise: the eigen-decomposition failed: {exc}") from None
    k = int(np.argmax(vals.real))
    lam = float(vals[k].real)
    v_ = np.abs(vecs[:, k].real)
    lw = g + np.log(np.maximum(v_, np.finfo(np.float64).tiny))
    lw -= lw.max()
    w = np.exp(lw)
    total_w = w.sum()
    w = w / total_w
    lw -= math.log(total_w)
    ri = RANDOM_INDEX[n]
    ci = max(lam - n, 0.0) / (n - 1) if n > 2 else 0.0
    cr = ci / ri if n > 2 else 0.0
    dev = np.abs(la + lw[None, :] - lw[:, None])
    np.fill_diagonal(dev, -1.0)
    wi, wj = np.unravel_index(int(np.argmax(dev)), dev.shape) if n > 1 else (0, 0)
    res = AHPResult(
        criteria=names,
        weights=_val.readonly(w),
        lambda_max=lam,
        consistency_index=ci,
        random_index=ri,
        consistency_ratio=cr,
        max_cr=max_cr,
        worst_pair=(int(wi), int(wj)),
    )
    if not res.consistent:
        shown = f"{cr:.3f}" if cr < 1e6 else f"{cr:.3g}"
        msg = (
            f"pairwise consistency ratio {shown} > max_cr={max_cr:g}; revise the judgements, "
            f"starting with a[{wi}, {wj}] = {a[wi, wj]:g} ({names[wi]!r} vs {names[wj]!r}), "
            f"which the derived weights put at {math.exp(min(lw[wi] - lw[wj], 700.0)):.3g}"
        )
        if on_inconsistent == "raise":
            raise InvalidInputError(msg + ", or pass on_inconsistent='warn'")
        warnings.warn(msg, ConsistencyWarning, stacklevel=2)
    return res


@attrs.frozen(eq=False)
class EntropyResult:
    r"""Objective weights from the entropy of each criterion's scores.

    Attributes
    ----------
    criteria : tuple of str
        Criterion names.
    weights : numpy.ndarray
        :math:`w_j = d_j / \sum_k d_k`.
    entropy : numpy.ndarray
        :math:`E_j = -\sum_i p_{ij}\ln p_{ij} / \ln n` with
        :math:`p_{ij} = x_{ij}/\sum_i x_{ij}` and :math:`0 \ln 0 = 0`.
    divergence : numpy.ndarray
        :math:`d_j = 1 - E_j`.
    """

    criteria: tuple[str, ...] = attrs.field(converter=_val.freeze)
    weights: FloatArray = attrs.field(converter=_val.freeze)
    entropy: FloatArray = attrs.field(converter=_val.freeze)
    divergence: FloatArray = attrs.field(converter=_val.freeze)


def entropy_weights(matrix: DecisionMatrix | Any) -> EntropyResult:
    r"""Entropy weights: criteria whose scores vary more weigh more.

    Parameters
    ----------
    matrix : DecisionMatrix or array_like
        Scores >= 0 (raw, before orientation), at least two candidates, no
        NaN.

    Returns
    -------
    EntropyResult

    Raises
    ------
    InvalidInputError
        For negative or NaN scores, a column summing to 0, a single
        candidate, or all criteria uniform (every divergence 0).

    Notes
    -----
    pymcdm sets a column's entropy to 0 when it contains a zero; here
    :math:`0 \ln 0 = 0` (the limit), so results agree on positive data.

    References
    ----------
    Zeleny, M. (1982). Multiple Criteria Decision Making. McGraw-Hill.

    Examples
    --------
    >>> res = entropy_weights([[1, 5], [2, 5], [9, 5.5]])
    >>> np.round(res.weights, 3).tolist()
    [0.997, 0.003]
    """
    if isinstance(matrix, DecisionMatrix):
        x = np.asarray(matrix.scores)
        names = matrix.criterion_names
        label = "scores"
        _val.check_finite(x, label)
    else:
        label = "matrix"
        x = _val.as_float_array(matrix, label, ndim=2)
        names = tuple(f"c{j}" for j in range(x.shape[1]))
    n = x.shape[0]
    if n < 2:
        raise InvalidInputError("entropy weights need at least 2 candidates, got 1")
    _val.check_range(x, label, low=0.0, hint="entropy weights need scores >= 0")
    colmax = x.max(axis=0)
    if (colmax == 0).any():
        j = int(np.flatnonzero(colmax == 0)[0])
        raise InvalidInputError(
            f"criterion {names[j]!r} is zero for every candidate; entropy is undefined, drop it"
        )
    # p is invariant to a column factor: near overflow or underflow, columns are divided
    # by their largest score first so that the column sums stay finite
    colscale = _column_scale(x)
    if colscale is not None:
        x = x / colscale
    p = x / x.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        plogp = np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0)
    e = -plogp.sum(axis=0) / math.log(n)
    d = np.clip(1.0 - e, 0.0, None)  # rounding can leave -1e-16 on uniform columns
    if d.sum() <= 0:
        raise InvalidInputError(
            "every criterion is uniform across the candidates; entropy weights are undefined"
        )
    return EntropyResult(names, _val.readonly(d / d.sum()), _val.readonly(e), _val.readonly(d))
