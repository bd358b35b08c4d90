"""Shared pieces of the channels package (private): constants, id handling, ranking, numeric guards."""

from __future__ import annotations

import types
from collections.abc import Iterable, Mapping
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from custrel import _validate as _val
from custrel.errors import (
    InvalidInputError,
    InvalidTypeError,
)

__all__: list[str] = []


FloatArray = npt.NDArray[np.float64]


IntArray = npt.NDArray[np.int64]


BoolArray = npt.NDArray[np.bool_]


AnyArray = npt.NDArray[Any]


Method = Literal["weighted_sum", "weighted_product", "topsis", "vikor"]


Missing = Literal["raise", "exclude", "worst", "impute"]


#: The selection methods :func:`rank` dispatches to.
METHODS: tuple[str, ...] = ("weighted_sum", "weighted_product", "topsis", "vikor")


#: The normalisations the scoring methods accept.
NORMALIZATIONS: tuple[str, ...] = ("none", "minmax", "vector", "sum", "max", "scale")


_DIRECTIONS = ("benefit", "cost")


_MISSING = ("raise", "exclude", "worst", "impute")


_DEFAULT_NORMALIZATION = {
    "weighted_sum": "minmax",
    "weighted_product": "sum",
    "topsis": "vector",
    "vikor": "minmax",
}


#: Saaty's random consistency index RI by matrix order n = 1 … 15
#: (Saaty 1980 for n <= 10; Saaty 1994 for 11 … 15).
RANDOM_INDEX: Mapping[int, float] = types.MappingProxyType(
    {
        1: 0.0,
        2: 0.0,
        3: 0.58,
        4: 0.90,
        5: 1.12,
        6: 1.24,
        7: 1.32,
        8: 1.41,
        9: 1.45,
        10: 1.49,
        11: 1.51,
        12: 1.48,
        13: 1.56,
        14: 1.57,
        15: 1.59,
    }
)


_TIE_RTOL = 1e-9


_TIE_ATOL = 1e-12


#: The finest bisection tolerance weight_sensitivity accepts: δ lies in [0, 1], where
#: float64 values are about 2.2e-16 apart, so a finer tolerance could never be met.
_MIN_TOL = 8.0 * float(np.finfo(np.float64).eps)


#: Most halvings one bisection may take (from a width of 1 to _MIN_TOL takes about 50).
_MAX_BISECTIONS = 200


def _opt_scalar(value: Any, name: str) -> float | None:
    return None if value is None else _val.scalar(value, name)


def _as_ids(candidate_id: Any, n: int, what: str = "scores") -> AnyArray:
    """Candidate ids: ``0 … n-1`` when omitted, else distinct, present and of their own type."""
    if candidate_id is None:
        return np.arange(n, dtype=np.int64)
    return _val.id_array(candidate_id, "candidate_id", n, what=what)


def _py(x: Any) -> Any:
    """A numpy scalar as the matching Python object (other values unchanged)."""
    return x.item() if isinstance(x, np.generic) else x


def _show(x: Any) -> str:
    return repr(_py(x))


def _iterable(value: Any, name: str, what: str) -> Iterable[Any]:
    """``value`` when it can be iterated (and is not a string), else a clear type error."""
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise InvalidTypeError(f"{name} must be {what}, got {type(value).__name__} {value!r:.60}")
    return value


def _generator(rng: Any) -> np.random.Generator:
    try:
        return _val.as_rng(rng)
    except ValueError as exc:  # numpy refuses a negative seed
        raise InvalidInputError(
            f"rng must be a Generator or a seed >= 0, got {rng!r}: {exc}"
        ) from None


def _refuse_overflow(values: FloatArray, what: str, ids: AnyArray, hint: str) -> None:
    """Refuse a derived quantity that left float64's range although its inputs are finite.

    Ratios and differences of finite inputs (1e308 - (-1e308), 1e300 / 1e-300)
    can overflow; they are computed under ``errstate(over="ignore")`` and this
    check turns an infinity into a clear error naming the candidate.
    """
    bad = np.isinf(values)
    if bad.any():
        i = int(np.flatnonzero(bad.reshape(len(ids), -1).any(axis=1))[0])
        raise InvalidInputError(
            f"{what} of candidate {_show(ids[i])} overflows float64 (row {i}); {hint}"
        )


#: Column magnitudes inside this range are normalised as they are; outside it (subnormal
#: or near-overflow scores) each column is first divided by its largest magnitude, so
#: that ranges, norms, sums and reciprocals stay finite. Every set-relative
#: normalisation is invariant to that division, so the scores are unchanged.
_SAFE_MAGNITUDE = (1e-150, 1e150)


def _column_scale(x: FloatArray) -> FloatArray | None:
    """Per-column largest magnitude when some column needs rescaling, else None."""
    if x.size == 0:
        return None
    mag = np.maximum(np.abs(x.max(axis=0)), np.abs(x.min(axis=0)))
    low, high = _SAFE_MAGNITUDE
    if ((mag == 0) | ((mag >= low) & (mag <= high))).all():
        return None
    return np.where(mag == 0, 1.0, mag)


def _id_key(ids: AnyArray) -> IntArray:
    """Sort position of each id (falls back to matrix order for unsortable ids)."""
    try:
        _, inv = np.unique(ids, return_inverse=True)
        return np.asarray(inv, dtype=np.int64).reshape(-1)
    except TypeError:
        return np.arange(len(ids), dtype=np.int64)


def _rank(key: FloatArray, ids: AnyArray) -> tuple[IntArray, IntArray, tuple[tuple[Any, ...], ...]]:
    """Competition ranks (1 = best) of ``key`` (higher is better), order and ties."""
    n = len(key)
    idk = _id_key(ids)
    first = np.lexsort((idk, -key))
    ks = key[first]
    if n > 1:
        # the absolute tolerance shrinks with scores below 1 in magnitude (raw tiny
        # values under normalization="none" are not all ties)
        finite = np.abs(ks[np.isfinite(ks)])
        atol = _TIE_ATOL * min(1.0, float(finite.max(initial=0.0)))
        with np.errstate(over="ignore"):  # a gap beyond float64 is inf: not a tie
            gap = np.abs(np.diff(ks))
        close = gap <= atol + _TIE_RTOL * np.maximum(np.abs(ks[1:]), np.abs(ks[:-1]))
        start = np.concatenate([[True], ~close])
    else:
        start = np.ones(n, dtype=bool)
    group = np.cumsum(start) - 1
    group_start = np.flatnonzero(start)
    order = first[np.lexsort((idk[first], group))]
    rank = np.empty(n, dtype=np.int64)
    rank[order] = group_start[group] + 1
    ties: list[tuple[Any, ...]] = []
    if n > 1 and (~start).any():
        sizes = np.diff(np.append(group_start, n))
        for g in np.flatnonzero(sizes > 1):
            lo = group_start[g]
            ties.append(tuple(ids[order[lo : lo + sizes[g]]].tolist()))
    return rank, order, tuple(ties)


def _method_setup(method: str, normalization: str | None, vikor_v: float) -> tuple[str, float]:
    _val.choice(method, "method", METHODS)
    if method == "vikor":
        if normalization not in (None, "minmax"):
            raise InvalidInputError(
                f"vikor uses its own min-max normalisation, got normalization={normalization!r}"
            )
        vikor_v = _val.scalar(vikor_v, "v", low=0.0, high=1.0)
    norm = _DEFAULT_NORMALIZATION[method] if normalization is None else normalization
    _val.choice(norm, "normalization", NORMALIZATIONS)
    return norm, vikor_v


def _ids_for(candidate_id: Any, n: int, what: str) -> AnyArray:
    return _val.readonly(_as_ids(candidate_id, n, what))
