"""Sensitivity of a ranking (private): weight stability, weight thresholds, rank reversal."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs
import numpy as np

from custrel import _validate as _val
from custrel.channels._common import (
    _MAX_BISECTIONS,
    _MIN_TOL,
    _TIE_ATOL,
    _TIE_RTOL,
    AnyArray,
    BoolArray,
    FloatArray,
    IntArray,
    Method,
    Missing,
    _generator,
    _method_setup,
    _py,
    _rank,
)
from custrel.channels._matrix import (
    DecisionMatrix,
    KnockOut,
)
from custrel.channels._methods import (
    RankingResult,
    _aggregate,
    _normalize,
    _prepare,
    _run,
    _score_matrix,
)
from custrel.errors import (
    ConvergenceError,
    InvalidInputError,
    InvalidTypeError,
)

__all__: list[str] = []


@attrs.frozen(eq=False)
class StabilityResult:
    """Rank stability under random weight perturbation.

    Attributes
    ----------
    candidate_id : numpy.ndarray
        Eligible candidates, matrix order.
    baseline_rank : numpy.ndarray of int
        Ranks with the given weights.
    rank_counts : numpy.ndarray of int, shape (n, n)
        ``rank_counts[i, r]``: draws in which candidate i had rank r + 1.
    winner_share : numpy.ndarray
        Share of draws in which each candidate ranked first (ties share).
    mean_rank : numpy.ndarray
        Mean rank over the draws.
    same_winner_share : float
        Share of draws in which the baseline winner still ranked first.
    same_ranking_share : float
        Share of draws with exactly the baseline ranks.
    n_draws : int
        Number of perturbed weight vectors.
    spread : float
        Relative perturbation: each weight times U(1 - spread, 1 + spread),
        then renormalised.
    """

    candidate_id: AnyArray = attrs.field(converter=_val.freeze)
    baseline_rank: IntArray = attrs.field(converter=_val.freeze)
    rank_counts: IntArray = attrs.field(converter=_val.freeze)
    winner_share: FloatArray = attrs.field(converter=_val.freeze)
    mean_rank: FloatArray = attrs.field(converter=_val.freeze)
    same_winner_share: float = attrs.field(converter=_val.freeze)
    same_ranking_share: float = attrs.field(converter=_val.freeze)
    n_draws: int = attrs.field(converter=_val.freeze)
    spread: float = attrs.field(converter=_val.freeze)


def weight_stability(
    matrix: DecisionMatrix,
    method: Method = "weighted_sum",
    *,
    n_draws: int = 500,
    spread: float = 0.2,
    rng: np.random.Generator | int | None = None,
    normalization: str | None = None,
    rules: Sequence[KnockOut] = (),
    missing: Missing = "raise",
    v: float = 0.5,
) -> StabilityResult:
    """How stable the ranking is when the weights are perturbed at random.

    Parameters
    ----------
    matrix : DecisionMatrix
        Candidates and criteria.
    method : str, default "weighted_sum"
        One of :data:`METHODS`.
    n_draws : int, default 500
        Number of perturbed weight vectors.
    spread : float, default 0.2
        Each weight is multiplied by an independent U(1 - spread, 1 + spread)
        factor and the vector renormalised; in [0, 1).
    rng : numpy.random.Generator, int or None
        Source of randomness (seed it for reproducible results).
    normalization, rules, missing, v
        As in :func:`rank`.

    Returns
    -------
    StabilityResult

    Raises
    ------
    InvalidInputError
        For a bad ``spread`` or ``n_draws`` (``n_draws`` × the matrix's
        cells beyond ``CUSTREL_MAX_CELLS``), or as in :func:`rank`.

    Notes
    -----
    Eligibility and normalisation are computed once (they do not depend on
    the weights; zero weights stay zero), then each draw re-aggregates.

    Examples
    --------
    >>> m = DecisionMatrix.from_arrays([[9, 1], [1, 9], [5, 5.5]], ["a", "b"], ["X", "Y", "Z"])
    >>> res = weight_stability(m, n_draws=200, rng=1)
    >>> res.same_winner_share < 1.0, res.winner_share.sum().round(6)
    (True, np.float64(1.0))
    """
    norm, vikor_v = _method_setup(method, normalization, v)
    n_draws = _val.positive_int(n_draws, "n_draws")
    spread = _val.scalar(spread, "spread", low=0.0, high=1.0, high_inclusive=False)
    gen = _generator(rng)
    p = _prepare(matrix, rules, missing)
    _val.check_budget(
        float(n_draws) * float(p.x.size),
        "the perturbation draws (n_draws x the matrix's cells)",
        budget=_val.max_cells(),
        culprit=f"n_draws={n_draws}",
        env="CUSTREL_MAX_CELLS",
        hint="use fewer draws",
    )
    w0 = p.weights
    r = _normalize(p, norm, w0 > 0)
    base = _score_matrix(p, method, norm, w0, vikor_v)
    base_rank, _, _ = _rank(base.key, p.ids)
    n = len(p.ids)
    counts = np.zeros((n, n), dtype=np.int64)
    wins = np.zeros(n)
    same_w = 0
    same_r = 0
    winner0 = base_rank == 1
    factors = gen.uniform(1.0 - spread, 1.0 + spread, size=(n_draws, len(w0)))
    ar = np.arange(n)
    for d in range(n_draws):
        w = w0 * factors[d]
        w = w / w.sum()
        sc = _aggregate(method, r, w, vikor_v)
        rk, _, _ = _rank(sc.key, p.ids)
        counts[ar, rk - 1] += 1
        top = rk == 1
        wins[top] += 1.0 / top.sum()
        same_w += int(bool((top & winner0).any()))
        same_r += int(bool((rk == base_rank).all()))
    mean_rank = (counts * (ar + 1)[None, :]).sum(axis=1) / n_draws
    return StabilityResult(
        candidate_id=_val.readonly(p.ids),
        baseline_rank=_val.readonly(base_rank),
        rank_counts=_val.readonly(counts),
        winner_share=_val.readonly(wins / n_draws),
        mean_rank=_val.readonly(mean_rank),
        same_winner_share=same_w / n_draws,
        same_ranking_share=same_r / n_draws,
        n_draws=n_draws,
        spread=spread,
    )


@attrs.frozen(eq=False)
class WeightSensitivityResult:
    """The smallest change of each criterion's weight that changes the winner.

    The weight of one criterion moves by δ while the others keep their
    proportions and the total stays 1: :math:`w_j' = w_j + δ`,
    :math:`w_k' = w_k (1 - w_j - δ)/(1 - w_j)`.

    Attributes
    ----------
    criteria : tuple of str
        Criterion names.
    weights : numpy.ndarray
        The baseline weights (sum 1).
    winner : object
        The baseline winner.
    increase : numpy.ndarray
        Smallest δ > 0 at which another candidate catches up with the winner
        (NaN when no increase up to weight 1 does).
    decrease : numpy.ndarray
        Smallest reduction (as a positive number) that does so (NaN when
        even weight 0 does not).
    winner_if_increased, winner_if_decreased : tuple
        The new winner just past each threshold (None where NaN).
    """

    criteria: tuple[str, ...] = attrs.field(converter=_val.freeze)
    weights: FloatArray = attrs.field(converter=_val.freeze)
    winner: Any = attrs.field(converter=_val.freeze)
    increase: FloatArray = attrs.field(converter=_val.freeze)
    decrease: FloatArray = attrs.field(converter=_val.freeze)
    winner_if_increased: tuple[Any, ...] = attrs.field(converter=_val.freeze)
    winner_if_decreased: tuple[Any, ...] = attrs.field(converter=_val.freeze)

    def smallest(self) -> FloatArray:
        """Per criterion, the smaller of ``increase`` and ``decrease`` (NaN if neither)."""
        both = np.vstack([self.increase, self.decrease])
        out = np.full(len(self.criteria), np.nan)
        ok = ~np.isnan(both).all(axis=0)
        out[ok] = np.nanmin(both[:, ok], axis=0)
        return out

    def most_sensitive(self) -> str | None:
        """The criterion whose weight needs the smallest change (None if none can)."""
        s = self.smallest()
        if np.isnan(s).all():
            return None
        return self.criteria[int(np.nanargmin(s))]


def weight_sensitivity(
    matrix: DecisionMatrix,
    method: Method = "weighted_sum",
    *,
    normalization: str | None = None,
    rules: Sequence[KnockOut] = (),
    missing: Missing = "raise",
    v: float = 0.5,
    grid: int = 200,
    tol: float = 1e-9,
    include_zero_weight: bool = False,
) -> WeightSensitivityResult:
    """For each criterion, the smallest weight change that changes the winner.

    Parameters
    ----------
    matrix : DecisionMatrix
        Candidates and criteria.
    method : str, default "weighted_sum"
        One of :data:`METHODS`.
    normalization, rules, missing, v
        As in :func:`rank`.
    grid : int, default 200
        Points scanned in each direction before bisection.
    tol : float, default 1e-9
        Bisection tolerance on δ, at least ``8 × float64 eps`` (about
        1.8e-15): δ lies in [0, 1], so a finer tolerance could never be met.
    include_zero_weight : bool, default False
        Also scan criteria of weight 0 (by default NaN: they are outside the
        scoring model, typically columns read only by knock-out rules).

    Returns
    -------
    WeightSensitivityResult

    Raises
    ------
    InvalidInputError
        As in :func:`rank`; for ``tol`` below its floor, or a scan (``grid``
        × criteria × candidates) beyond the cell budget
        (``CUSTREL_MAX_CELLS``).
    ConvergenceError
        If a bisection does not reach ``tol`` within 200 halvings (it
        cannot with a valid ``tol``; the cap guards the loop).

    Notes
    -----
    The scan finds the first grid point at which another candidate scores at
    least as well as the winner, then bisects to the crossing. Under the
    weighted sum scores are linear in δ, so the threshold is exact; a change
    narrower than a grid step can be missed by the other methods. When the
    baseline winner is tied, both thresholds are 0. A criterion with the
    same value for every candidate cannot change the winner (NaN).

    Examples
    --------
    >>> m = DecisionMatrix.from_arrays(
    ...     [[8, 4], [5, 7]], [Criterion("a", weight=0.6), Criterion("b", weight=0.4)],
    ...     ["X", "Y"], )
    >>> res = weight_sensitivity(m, normalization="none")
    >>> np.round(res.decrease, 4).tolist(), res.winner_if_decreased
    ([0.1, nan], ('Y', None))
    """
    norm, vikor_v = _method_setup(method, normalization, v)
    grid = _val.positive_int(grid, "grid", minimum=2)
    tol = _val.scalar(
        tol,
        "tol",
        low=_MIN_TOL,
        hint="δ lies in [0, 1], where float64 cannot resolve steps finer than about 2e-16",
    )
    p = _prepare(matrix, rules, missing)
    w0 = p.weights
    m = len(w0)
    _val.check_budget(
        2.0 * grid * m * float(p.x.size),
        "the sensitivity scan (2 x grid x criteria x the matrix's cells)",
        budget=_val.max_cells(),
        culprit=f"grid={grid}",
        env="CUSTREL_MAX_CELLS",
        hint="use a coarser grid",
    )
    base = _score_matrix(p, method, norm, w0, vikor_v)
    rk, order, _ = _rank(base.key, p.ids)
    win = int(order[0])
    winner = _py(p.ids[win])
    inc = np.full(m, np.nan)
    dec = np.full(m, np.nan)
    new_inc: list[Any] = [None] * m
    new_dec: list[Any] = [None] * m
    n = len(p.ids)
    if n == 1:
        return WeightSensitivityResult(
            p.names, _val.readonly(w0.copy()), winner, inc, dec, tuple(new_inc), tuple(new_dec)
        )
    if (rk == 1).sum() > 1:
        other = _py(p.ids[order[1]])
        return WeightSensitivityResult(
            p.names,
            _val.readonly(w0.copy()),
            winner,
            _val.readonly(np.zeros(m)),
            _val.readonly(np.zeros(m)),
            (other,) * m,
            (other,) * m,
        )
    r_base = _normalize(p, norm, w0 > 0)

    for j in range(m):
        if w0[j] >= 1.0 or (w0[j] == 0 and not include_zero_weight):
            continue
        col = p.x[:, j]
        if p.unusable[j] or col.max() == col.min():
            continue
        if w0[j] > 0:
            r = r_base
        else:
            act = w0 > 0
            act[j] = True
            r = _normalize(p, norm, act)

        def weights_at(delta: float, j: int = j) -> FloatArray:
            w = w0 * ((1.0 - w0[j] - delta) / (1.0 - w0[j]))
            w[j] = w0[j] + delta
            return np.asarray(np.clip(w, 0.0, None), dtype=np.float64)

        def challenger(delta: float, r: FloatArray = r) -> int | None:
            sc = _aggregate(method, r, weights_at(delta), vikor_v)
            if "bad" in sc.details:
                return None
            key = sc.key
            others = key.copy()
            others[win] = -np.inf
            best = int(np.argmax(others))
            k_w = key[win]
            close = abs(key[best] - k_w) <= _TIE_ATOL + _TIE_RTOL * abs(k_w)
            return best if key[best] >= k_w or close else None

        for sign, out, who in ((1.0, inc, new_inc), (-1.0, dec, new_dec)):
            limit = (1.0 - w0[j]) if sign > 0 else w0[j]
            if limit <= 0:
                continue
            steps = np.linspace(0.0, limit, grid + 1)[1:]
            prev = 0.0
            for s in steps:
                c = challenger(sign * s)
                if c is not None:
                    lo_, hi_ = prev, float(s)
                    for _ in range(_MAX_BISECTIONS):
                        mid = 0.5 * (lo_ + hi_)
                        if hi_ - lo_ <= tol or not lo_ < mid < hi_:
                            break
                        if challenger(sign * mid) is None:
                            lo_ = mid
                        else:
                            hi_ = mid
                    else:
                        raise ConvergenceError(
                            f"weight_sensitivity: the bisection on the weight of criterion "
                            f"{p.names[j]!r} did not reach tol={tol:g} in {_MAX_BISECTIONS} "
                            "halvings; pass a larger tol"
                        )
                    out[j] = hi_
                    who[j] = _py(p.ids[c])
                    break
                prev = float(s)
    return WeightSensitivityResult(
        p.names,
        _val.readonly(w0.copy()),
        winner,
        _val.readonly(inc),
        _val.readonly(dec),
        tuple(new_inc),
        tuple(new_dec),
    )


@attrs.frozen(eq=False)
class RankReversalResult:
    """Rank changes among the other candidates when one is removed or added.

    One scenario per eligible candidate removed, and one per candidate of
    ``add`` added.

    Attributes
    ----------
    change : tuple of str
        ``"remove"`` or ``"add"`` per scenario.
    candidate_id : tuple
        The candidate removed or added.
    reversed_pairs : numpy.ndarray of int
        Pairs of the other candidates whose strict order flipped.
    winner_changed : numpy.ndarray of bool
        Whether the winner among the other candidates changed (for a
        removal: whether the winner changed although it was not removed;
        for an addition: whether a previous candidate other than the
        baseline winner took first place, ignoring the newcomer).
    pairs : tuple of tuple
        Per scenario, the reversed pairs ``(a, b)`` where a was ahead of b
        before and is behind it after.
    errors : tuple of str or None
        Per scenario, the error message when the method cannot rank the
        changed set (e.g. a criterion left with zero range under min-max, or
        every candidate excluded); its counts are then 0 and False.
    """

    change: tuple[str, ...] = attrs.field(converter=_val.freeze)
    candidate_id: tuple[Any, ...] = attrs.field(converter=_val.freeze)
    reversed_pairs: IntArray = attrs.field(converter=_val.freeze)
    winner_changed: BoolArray = attrs.field(converter=_val.freeze)
    pairs: tuple[tuple[tuple[Any, Any], ...], ...] = attrs.field(converter=_val.freeze)
    errors: tuple[str | None, ...] = attrs.field(converter=_val.freeze)

    def any_reversal(self) -> bool:
        """Whether any scenario reversed a pair or changed the winner."""
        return bool(self.reversed_pairs.any() or self.winner_changed.any())


def rank_reversal(
    matrix: DecisionMatrix,
    method: Method = "weighted_sum",
    *,
    add: DecisionMatrix | None = None,
    normalization: str | None = None,
    rules: Sequence[KnockOut] = (),
    missing: Missing = "raise",
    v: float = 0.5,
) -> RankReversalResult:
    """Report whether removing or adding one candidate reorders the others.

    Set-relative normalisations and VIKOR's ideal points depend on who is in
    the set, so a weak candidate can swap two strong ones (rank reversal).
    ``normalization="scale"`` under the weighted sum or product cannot.

    Parameters
    ----------
    matrix : DecisionMatrix
        Candidates and criteria.
    method : str, default "weighted_sum"
        One of :data:`METHODS`.
    add : DecisionMatrix, optional
        Extra candidates (same criteria), each added alone in turn.
    normalization, rules, missing, v
        As in :func:`rank`.

    Returns
    -------
    RankReversalResult

    Raises
    ------
    InvalidInputError
        As in :func:`rank`, or if ``add`` has other criteria or repeats ids.

    Notes
    -----
    Each scenario reruns the whole pipeline (eligibility, missing policy,
    normalisation), so the cost is that of n + k rankings: meant for
    shortlists, not for a million candidates.

    Examples
    --------
    >>> m = DecisionMatrix.from_arrays(
    ...     [[10, 1], [1, 10], [5.6, 5.6]], ["a", "b"], ["X", "Y", "Z"]
    ... )
    >>> res = rank_reversal(m, "topsis", normalization="minmax")
    >>> res.change, res.reversed_pairs.tolist()
    (('remove', 'remove', 'remove'), [0, 0, 0])
    """
    _, vikor_v = _method_setup(method, normalization, v)
    base = _run(matrix, method, normalization, rules, missing, vikor_v)
    base_pos = {
        cid: int(r) for cid, r in zip(base.candidate_id.tolist(), base.rank.tolist(), strict=True)
    }
    changes: list[str] = []
    cids: list[Any] = []
    counts: list[int] = []
    wchanged: list[bool] = []
    pairs_all: list[tuple[tuple[Any, Any], ...]] = []
    errors: list[str | None] = []
    base_winners = {cid for cid, r in base_pos.items() if r == 1}

    def compare(new: RankingResult, skip: Any) -> tuple[int, bool, tuple[tuple[Any, Any], ...]]:
        new_pos = dict(zip(new.candidate_id.tolist(), new.rank.tolist(), strict=True))
        common = [c for c in base_pos if c in new_pos and c != skip]
        b = np.array([base_pos[c] for c in common])
        a = np.array([new_pos[c] for c in common])
        flip = (b[:, None] < b[None, :]) & (a[:, None] > a[None, :])
        ii, jj = np.nonzero(flip)
        pr = tuple((common[i], common[j]) for i, j in zip(ii.tolist(), jj.tolist(), strict=True))
        if common:
            best_new = min(a)
            new_winners = {c for c, r in zip(common, a.tolist(), strict=True) if r == best_new}
            old_common = {c for c in base_winners if c in common}
            changed = bool(old_common) and not (old_common & new_winners)
        else:
            changed = False
        return len(pr), changed, pr

    def record(changed: DecisionMatrix, change: str, cid: Any) -> None:
        changes.append(change)
        cids.append(cid)
        try:
            new = _run(changed, method, normalization, rules, missing, vikor_v)
        except InvalidInputError as exc:  # includes EmptyInputError
            counts.append(0)
            wchanged.append(False)
            pairs_all.append(())
            errors.append(str(exc))
            return
        k, flag, pr = compare(new, cid)
        counts.append(k)
        wchanged.append(flag)
        pairs_all.append(pr)
        errors.append(None)

    for cid in base.candidate_id.tolist():
        if base.candidate_id.size < 2:
            break
        record(matrix.drop(cid), "remove", cid)
    if add is not None:
        if not isinstance(add, DecisionMatrix):
            raise InvalidTypeError(f"add must be a DecisionMatrix, got {type(add).__name__}")
        for cid in add.candidate_id.tolist():
            record(matrix.add(add.select(cid)), "add", cid)
    return RankReversalResult(
        change=tuple(changes),
        candidate_id=tuple(cids),
        reversed_pairs=_val.readonly(np.asarray(counts, dtype=np.int64)),
        winner_changed=_val.readonly(np.asarray(wchanged, dtype=bool)),
        pairs=tuple(pairs_all),
        errors=tuple(errors),
    )
