"""The selection methods (private): eligibility, normalisation and the four MCDA aggregations."""

from __future__ import annotations

import types
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import numpy as np

from custrel import _validate as _val
from custrel.channels._common import (
    _MISSING,
    _SAFE_MAGNITUDE,
    NORMALIZATIONS,
    AnyArray,
    BoolArray,
    FloatArray,
    IntArray,
    Method,
    Missing,
    _column_scale,
    _iterable,
    _method_setup,
    _py,
    _rank,
    _show,
)
from custrel.channels._matrix import (
    DecisionMatrix,
    Exclusions,
    KnockOut,
)
from custrel.errors import (
    EmptyInputError,
    InvalidInputError,
    InvalidTypeError,
)

__all__: list[str] = []


@attrs.frozen(eq=False)
class _Prepared:
    ids: AnyArray
    x: FloatArray
    filled: BoolArray
    exclusions: Exclusions
    weights: FloatArray
    cost: BoolArray
    scale_lo: FloatArray
    scale_hi: FloatArray
    has_scale: BoolArray
    names: tuple[str, ...]
    unusable: BoolArray


def _rules(matrix: DecisionMatrix, rules: Sequence[KnockOut]) -> list[tuple[int, KnockOut]]:
    out = [
        (matrix._index(c.name), KnockOut(c.name, c.minimum, c.maximum))
        for c in matrix.criteria
        if c.minimum is not None or c.maximum is not None
    ]
    if isinstance(rules, KnockOut):
        rules = [rules]
    for i, r in enumerate(_iterable(rules, "rules", "a sequence of KnockOut rules")):
        if not isinstance(r, KnockOut):
            raise InvalidTypeError(
                f"rules must hold KnockOut objects, got {type(r).__name__} at position {i}"
            )
        out.append((matrix._index(r.criterion), r))
    return out


def _prepare(
    matrix: DecisionMatrix,
    rules: Sequence[KnockOut],
    missing: str,
    weights: FloatArray | None = None,
) -> _Prepared:
    if not isinstance(matrix, DecisionMatrix):
        raise InvalidTypeError(
            f"matrix must be a DecisionMatrix, got {type(matrix).__name__}; "
            "build one with DecisionMatrix.from_arrays"
        )
    _val.choice(missing, "missing", _MISSING)
    rule_list = _rules(matrix, rules)
    w = matrix.weights if weights is None else weights
    x = matrix.scores  # read-only; copied below only when a value is filled
    all_nan = np.isnan(x)
    any_nan = bool(all_nan.any())
    if any_nan:
        x = x.copy()
    ids = matrix.candidate_id
    n, m = x.shape
    crit = matrix.criteria
    cost = np.array([c.is_cost for c in crit])
    relevant = w > 0
    for j, _ in rule_list:
        relevant[j] = True
    nan = all_nan & relevant[None, :]
    filled = np.zeros((n, m), dtype=bool)
    fail_rows: list[AnyArray] = []
    fail_rules: list[str] = []
    drop = np.zeros(n, dtype=bool)
    if nan.any():
        if missing == "raise":
            i, j = _val.first_bad(nan)
            raise InvalidInputError(
                f"scores has a missing value (nan) for candidate {_show(ids[i])} on criterion "
                f"{crit[j].name!r} at [{i}, {j}]; choose a policy: missing='exclude', "
                "'worst' or 'impute'"
            )
        if missing == "exclude":
            for j in np.flatnonzero(nan.any(axis=0)).tolist():
                rows = np.flatnonzero(nan[:, j])
                fail_rows.append(rows)
                fail_rules.extend([f"missing {crit[j].name}"] * len(rows))
            drop |= nan.any(axis=1)
        else:
            for j in np.flatnonzero(nan.any(axis=0)).tolist():
                col = x[:, j]
                obs = col[~np.isnan(col)]
                if obs.size == 0:
                    raise InvalidInputError(
                        f"criterion {crit[j].name!r} has no observed score, so missing={missing!r} "
                        "has nothing to fill from; drop the criterion or give scores"
                    )
                if missing == "impute":
                    fill = float(obs.mean())
                elif crit[j].scale is not None:
                    scale = crit[j].scale
                    assert scale is not None
                    fill = scale[1] if cost[j] else scale[0]
                else:
                    fill = float(obs.max() if cost[j] else obs.min())
                col[nan[:, j]] = fill
                filled[:, j] = nan[:, j]
    for j, rule in rule_list:
        col = x[:, j]
        bad = np.zeros(n, dtype=bool)
        if rule.minimum is not None:
            bad |= col < rule.minimum
        if rule.maximum is not None:
            bad |= col > rule.maximum
        bad &= ~np.isnan(col)
        rows = np.flatnonzero(bad)
        if rows.size:
            fail_rows.append(rows)
            fail_rules.extend([rule.name] * len(rows))
    for rows in fail_rows:
        drop[rows] = True
    if fail_rows:
        all_rows = np.concatenate(fail_rows)
        order = np.argsort(all_rows, kind="stable")
        ex = Exclusions(
            _val.readonly(ids[all_rows[order]]),
            _val.readonly(np.asarray(fail_rules, dtype=object)[order].astype(str)),
        )
    else:
        ex = Exclusions(_val.readonly(ids[:0]), _val.readonly(np.asarray([], dtype=str)))
    if drop.all():
        counts: dict[str, int] = {}
        for r in ex.rule.tolist():
            counts[r] = counts.get(r, 0) + 1
        detail = ", ".join(f"{k!r} excluded {c}" for k, c in counts.items())
        raise EmptyInputError(
            f"no candidate passes the eligibility rules ({detail}); relax a threshold"
        )
    # NaN in columns nothing reads (weight 0, no rule) would poison the
    # arithmetic through 0 * nan; they are set to 0 and flagged unusable.
    unusable: BoolArray = np.zeros(m, dtype=bool)
    if any_nan:
        unusable = np.asarray(np.isnan(x).any(axis=0))
        x[:, unusable] = np.where(np.isnan(x[:, unusable]), 0.0, x[:, unusable])
    keep = ~drop
    has_scale = np.array([c.scale is not None for c in crit])
    lo = np.array([c.scale[0] if c.scale is not None else np.nan for c in crit])
    hi = np.array([c.scale[1] if c.scale is not None else np.nan for c in crit])
    if drop.any():
        x = x[keep]
        filled = filled[keep]
        ids = ids[keep]
    return _Prepared(
        ids=ids,
        x=x,
        filled=filled,
        exclusions=ex,
        weights=np.asarray(w, dtype=np.float64),
        cost=cost,
        scale_lo=lo,
        scale_hi=hi,
        has_scale=has_scale,
        names=matrix.criterion_names,
        unusable=unusable,
    )


def _normalize(p: _Prepared, normalization: str, active: BoolArray) -> FloatArray:
    """Oriented normalised matrix r (higher is better); zero in inactive columns.

    Set-relative normalisations read the columns divided by their largest
    magnitude when a column is subnormal or near overflow (see
    :data:`_SAFE_MAGNITUDE`): they are invariant to it, and it keeps every
    intermediate finite.
    """
    x = p.x
    if normalization in ("minmax", "vector", "max", "sum"):
        colscale = _column_scale(x[:, active])
        if colscale is not None:
            full = np.ones(x.shape[1])
            full[active] = colscale
            x = x / full
    m = x.shape[1]
    names = p.names
    cost = p.cost
    a = np.zeros(m)
    b = np.zeros(m)
    special: list[int] = []
    act = np.flatnonzero(active)

    def need_nonneg(j: int, why: str) -> None:
        col = p.x[:, j]
        if (col < 0).any():
            i = int(np.flatnonzero(col < 0)[0])
            raise InvalidInputError(
                f"criterion {names[j]!r} has a negative score {col[i]:g} for candidate "
                f"{_show(p.ids[i])}; normalization={normalization!r} {why}"
            )

    if normalization == "none":
        b[act] = np.where(cost[act], -1.0, 1.0)
    elif normalization in ("minmax", "vector", "max", "sum"):
        xa = x[:, act]
        if normalization == "minmax":
            mn, mx = xa.min(axis=0), xa.max(axis=0)
            rng_ = mx - mn
            zero = rng_ == 0
            if zero.any():
                j = int(act[np.flatnonzero(zero)[0]])
                raise InvalidInputError(
                    f"criterion {names[j]!r} has the same value {p.x[0, j]:g} for every eligible "
                    "candidate, so min-max normalisation divides by zero; give it a fixed scale "
                    "and use normalization='scale', set its weight to 0, or drop it"
                )
            c = cost[act]
            b[act] = np.where(c, -1.0, 1.0) / rng_
            a[act] = np.where(c, mx, -mn) / rng_
        elif normalization == "vector":
            norm = np.sqrt(np.einsum("ij,ij->j", xa, xa))
            if (norm == 0).any():
                j = int(act[np.flatnonzero(norm == 0)[0]])
                raise InvalidInputError(
                    f"criterion {names[j]!r} is zero for every eligible candidate, so vector "
                    "normalisation divides by zero; set its weight to 0 or drop it"
                )
            c = cost[act]
            b[act] = np.where(c, -1.0, 1.0) / norm
            a[act] = np.where(c, 1.0, 0.0)
        elif normalization == "max":
            for j in act.tolist():
                need_nonneg(int(j), "needs scores >= 0")
            mx = xa.max(axis=0)
            if (mx == 0).any():
                j = int(act[np.flatnonzero(mx == 0)[0]])
                raise InvalidInputError(
                    f"criterion {names[j]!r} is zero for every eligible candidate, so max "
                    "normalisation divides by zero; set its weight to 0 or drop it"
                )
            c = cost[act]
            b[act] = np.where(c, -1.0, 1.0) / mx
            a[act] = np.where(c, 1.0, 0.0)
        else:  # sum
            for j in act.tolist():
                jj = int(j)
                if cost[jj]:
                    col = p.x[:, jj]
                    if (col <= 0).any():
                        i = int(np.flatnonzero(col <= 0)[0])
                        raise InvalidInputError(
                            f"cost criterion {names[jj]!r} has a score {col[i]:g} <= 0 for candidate "
                            f"{_show(p.ids[i])}; normalization='sum' uses 1/x for cost criteria "
                            "and needs scores > 0"
                        )
                    special.append(jj)
                else:
                    need_nonneg(jj, "needs scores >= 0")
            tot = xa.sum(axis=0)
            ben = ~cost[act]
            if ((tot == 0) & ben).any():
                j = int(act[np.flatnonzero((tot == 0) & ben)[0]])
                raise InvalidInputError(
                    f"criterion {names[j]!r} sums to zero over the eligible candidates, so sum "
                    "normalisation divides by zero; set its weight to 0 or drop it"
                )
            b[act] = np.where(ben, 1.0 / np.where(tot == 0, 1.0, tot), 0.0)
    elif normalization == "scale":
        missing_scale = active & ~p.has_scale
        if missing_scale.any():
            j = int(np.flatnonzero(missing_scale)[0])
            raise InvalidInputError(
                f"criterion {names[j]!r} has no fixed scale, which normalization='scale' needs; "
                "give it Criterion(scale=(low, high)) or choose another normalization"
            )
        lo, hi = p.scale_lo[act], p.scale_hi[act]
        c = cost[act]
        # (x - lo) / (hi - lo) on the scale divided by its largest end, so that
        # neither the width nor its reciprocal can overflow
        mag = np.maximum(np.abs(lo), np.abs(hi))
        width = hi / mag - lo / mag
        b[act] = np.where(c, -1.0, 1.0) / width
        a[act] = np.where(c, hi / mag, -lo / mag) / width
        scaled = np.ones(m)
        scaled[act] = mag
        x = x / scaled
    else:
        _val.choice(normalization, "normalization", NORMALIZATIONS)
    r = x * b
    r += a
    for j in special:
        col = x[:, j]
        inv = col.min() / col  # in (0, 1]: the reciprocals scaled by the smallest score
        r[:, j] = inv / inv.sum()
    return r


@attrs.frozen(eq=False)
class _Scored:
    key: FloatArray  # higher is better
    score: FloatArray
    contributions: FloatArray
    details: dict[str, FloatArray]


def _aggregate(
    method: str, r: FloatArray, w: FloatArray, vikor_v: float, *, inplace: bool = False
) -> _Scored:
    """Scores from the normalised matrix; ``inplace`` reuses ``r`` for the contributions."""
    active = w > 0
    if method == "weighted_sum":
        c = np.multiply(r, w, out=r if inplace else None)
        s = c.sum(axis=1)
        return _Scored(s, s, c, {})
    if method == "weighted_product":
        if active.all():
            if (r <= 0).any():
                return _Scored(np.empty(0), np.empty(0), np.empty((0, 0)), {"bad": r})
            c = np.log(r, out=r if inplace else None)
            c *= w
        else:
            ra = r[:, active]
            if (ra <= 0).any():
                return _Scored(np.empty(0), np.empty(0), np.empty((0, 0)), {"bad": ra})
            c = np.zeros_like(r)
            c[:, active] = np.log(ra) * w[active]
        logs = c.sum(axis=1)
        return _Scored(logs, np.exp(logs), c, {"log_score": logs})
    if method == "topsis":
        vm = np.multiply(r, w, out=r if inplace else None)
        pis = vm.max(axis=0)
        nis = vm.min(axis=0)
        # distances on vm / c when the magnitudes are subnormal or near overflow
        # (normalization="none"): the closeness is invariant to a common factor c
        mag = float(max(np.abs(pis).max(initial=0.0), np.abs(nis).max(initial=0.0)))
        c_ = mag if mag > 0 and not _SAFE_MAGNITUDE[0] <= mag <= _SAFE_MAGNITUDE[1] else 1.0
        vs, ps, ns = (vm, pis, nis) if c_ == 1.0 else (vm / c_, pis / c_, nis / c_)
        gap = vs - ps
        gap *= gap
        dp = np.sqrt(gap.sum(axis=1))
        np.subtract(vs, ns, out=gap)
        gap *= gap
        dm = np.sqrt(gap.sum(axis=1))
        del gap
        tot = dp + dm
        with np.errstate(invalid="ignore", divide="ignore"):
            s = np.where(dp == 0, 1.0, dm / np.where(tot == 0, 1.0, tot))
        if c_ != 1.0:
            with np.errstate(over="ignore"):  # a distance beyond float64 is reported as inf
                dp, dm = dp * c_, dm * c_
        return _Scored(s, s, vm, {"distance_best": dp, "distance_worst": dm})
    # vikor on min-max normalised r: best 1, worst 0 in every active column
    d = np.subtract(1.0, r, out=r if inplace else None)
    d *= w
    d[:, ~active] = 0.0
    big_s = d.sum(axis=1)
    big_r = d.max(axis=1)
    s_lo, s_hi = big_s.min(), big_s.max()
    r_lo, r_hi = big_r.min(), big_r.max()
    qs = (big_s - s_lo) / (s_hi - s_lo) if s_hi > s_lo else np.zeros_like(big_s)
    qr = (big_r - r_lo) / (r_hi - r_lo) if r_hi > r_lo else np.zeros_like(big_r)
    q = vikor_v * qs + (1.0 - vikor_v) * qr
    return _Scored(-q, q, d, {"S": big_s, "R": big_r, "Q": q})


@attrs.frozen(eq=False)
class RankingResult:
    """A ranking of the eligible candidates by one selection method.

    Attributes
    ----------
    method : str
        ``"weighted_sum"``, ``"weighted_product"``, ``"topsis"`` or ``"vikor"``.
    normalization : str
        The normalisation used (VIKOR: always ``"minmax"``, its own).
    candidate_id : numpy.ndarray
        The eligible candidates, in matrix order.
    criteria : tuple of str
        Criterion names, in column order.
    weights : numpy.ndarray
        The weights used, summing to 1.
    score : numpy.ndarray
        The method's own score per candidate: weighted sum, weighted product,
        TOPSIS closeness (higher is better) or VIKOR's Q (lower is better).
    higher_is_better : bool
        Direction of ``score`` (False for VIKOR only).
    rank : numpy.ndarray of int
        Competition rank, 1 = best; tied candidates share the best rank of
        their group and the next rank skips (1, 2, 2, 4).
    order : numpy.ndarray of int
        Positions into ``candidate_id``, best first; within a tie, by
        ``candidate_id`` (matrix order for ids that cannot be sorted).
    contributions : numpy.ndarray, shape (n_candidates, n_criteria)
        Each criterion's term in the method's aggregation: ``w_j r_ij`` for
        the weighted sum (rows add up to the score), ``w_j ln r_ij`` for the
        weighted product (rows add up to ln score), the weighted normalised
        value ``v_ij = w_j r_ij`` for TOPSIS, and the weighted regret
        ``w_j (1 - r_ij)`` for VIKOR (rows add up to S). Zero for criteria of
        weight 0.
    details : mapping of str to numpy.ndarray
        Method internals: TOPSIS ``distance_best``, ``distance_worst``;
        VIKOR ``S``, ``R``, ``Q`` and ``compromise`` (bool, the compromise
        set); weighted product ``log_score``.
    ties : tuple of tuple
        Groups of tied candidates (scores equal within a relative 1e-9),
        best group first.
    exclusions : Exclusions
        Candidates removed before ranking and the rule each failed.
    missing : str
        The missing-score policy applied.
    filled : numpy.ndarray of bool
        True where a missing score was filled (``"worst"`` or ``"impute"``).
    """

    method: str = attrs.field(converter=_val.freeze)
    normalization: str = attrs.field(converter=_val.freeze)
    candidate_id: AnyArray = attrs.field(converter=_val.freeze)
    criteria: tuple[str, ...] = attrs.field(converter=_val.freeze)
    weights: FloatArray = attrs.field(converter=_val.freeze)
    score: FloatArray = attrs.field(converter=_val.freeze)
    higher_is_better: bool = attrs.field(converter=_val.freeze)
    rank: IntArray = attrs.field(converter=_val.freeze)
    order: IntArray = attrs.field(converter=_val.freeze)
    contributions: FloatArray = attrs.field(converter=_val.freeze)
    details: Mapping[str, AnyArray] = attrs.field(converter=_val.freeze)
    ties: tuple[tuple[Any, ...], ...] = attrs.field(converter=_val.freeze)
    exclusions: Exclusions = attrs.field(converter=_val.freeze)
    missing: str = attrs.field(converter=_val.freeze)
    filled: BoolArray = attrs.field(converter=_val.freeze)

    def ranking(self) -> AnyArray:
        """Candidate ids, best first (ties by id)."""
        return _val.readonly(self.candidate_id[self.order])

    def winner(self) -> Any:
        """The first-ranked candidate (the first by id if several tie; see :attr:`ties`)."""
        return _py(self.candidate_id[self.order[0]])

    def top(self, k: int) -> AnyArray:
        """The ``k`` best candidates, best first."""
        k = _val.positive_int(k, "k")
        return self.ranking()[:k]

    def _pos(self, candidate_id: Any) -> int:
        if np.ndim(candidate_id) != 0:
            raise InvalidTypeError(f"candidate must be one id, got {candidate_id!r:.60}")
        hit = np.flatnonzero(self.candidate_id == candidate_id)
        if hit.size == 0:
            excluded = candidate_id in self.exclusions.excluded()
            why = " (it was excluded before ranking)" if excluded else ""
            raise InvalidInputError(f"candidate {_show(candidate_id)} is not in the ranking{why}")
        return int(hit[0])

    def explain(self, a: Any, b: Any) -> dict[str, float]:
        """Per-criterion difference of contributions, candidate ``a`` minus ``b``.

        For the weighted sum the values add up to ``score[a] - score[b]``:
        positive entries are the criteria on which ``a`` gained.

        Raises
        ------
        InvalidInputError
            If either candidate is not ranked.
        """
        diff = self.contributions[self._pos(a)] - self.contributions[self._pos(b)]
        return dict(zip(self.criteria, (float(d) for d in diff), strict=True))

    def table(self) -> dict[str, AnyArray]:
        """Columns in rank order: ``candidate_id``, ``rank``, ``score`` and one per criterion.

        Ready for ``pandas.DataFrame(result.table())``.
        """
        o = self.order
        out: dict[str, AnyArray] = {
            "candidate_id": self.candidate_id[o],
            "rank": self.rank[o],
            "score": self.score[o],
        }
        for j, name in enumerate(self.criteria):
            out[name] = self.contributions[o, j]
        return out


def _vikor_compromise(q: FloatArray, big_s: FloatArray, big_r: FloatArray) -> BoolArray:
    n = len(q)
    comp = np.zeros(n, dtype=bool)
    order = np.argsort(q, kind="stable")
    if n == 1:
        comp[order[0]] = True
        return comp
    dq = 1.0 / (n - 1)
    a1 = order[0]
    c1 = q[order[1]] - q[a1] >= dq
    c2 = big_s[a1] <= big_s.min() or big_r[a1] <= big_r.min()
    if c1 and c2:
        comp[a1] = True
    elif not c1:
        comp[order[q[order] - q[a1] < dq]] = True
    else:
        comp[order[:2]] = True
    return comp


def _score_matrix(
    p: _Prepared, method: str, normalization: str, w: FloatArray, vikor_v: float
) -> _Scored:
    r = _normalize(p, normalization, w > 0)
    sc = _aggregate(method, r, w, vikor_v, inplace=True)
    if "bad" in sc.details:
        act = np.flatnonzero(w > 0)
        i, jj = _val.first_bad(r[:, act] <= 0)
        j = int(act[jj])
        raise InvalidInputError(
            f"weighted_product needs normalised scores > 0, but criterion {p.names[j]!r} gives "
            f"{r[i, j]:g} for candidate {_show(p.ids[i])} under normalization={normalization!r}; "
            "use normalization='sum' or 'max' on positive data, or a fixed scale that excludes 0"
        )
    return sc


def _run(
    matrix: DecisionMatrix,
    method: str,
    normalization: str | None,
    rules: Sequence[KnockOut],
    missing: str,
    vikor_v: float,
) -> RankingResult:
    norm, vikor_v = _method_setup(method, normalization, vikor_v)
    p = _prepare(matrix, rules, missing)
    sc = _score_matrix(p, method, norm, p.weights, vikor_v)
    rank, order, ties = _rank(sc.key, p.ids)
    details: dict[str, AnyArray] = dict(sc.details)
    if method == "vikor":
        details["compromise"] = _vikor_compromise(sc.score, details["S"], details["R"])
    ro = {k: _val.readonly(np.asarray(val)) for k, val in details.items()}
    return RankingResult(
        method=method,
        normalization=norm,
        candidate_id=_val.readonly(p.ids),
        criteria=p.names,
        weights=_val.readonly(p.weights.copy()),
        score=_val.readonly(sc.score),
        higher_is_better=method != "vikor",
        rank=_val.readonly(rank),
        order=_val.readonly(order),
        contributions=_val.readonly(sc.contributions),
        details=types.MappingProxyType(ro),
        ties=ties,
        exclusions=p.exclusions,
        missing=missing,
        filled=_val.readonly(p.filled),
    )


def weighted_sum(
    matrix: DecisionMatrix,
    *,
    normalization: str = "minmax",
    rules: Sequence[KnockOut] = (),
    missing: Missing = "raise",
) -> RankingResult:
    r"""Weighted ("forced") scoring: rank by :math:`\sum_j w_j r_{ij}`.

    Parameters
    ----------
    matrix : DecisionMatrix
        Candidates and criteria.
    normalization : {"minmax", "none", "vector", "sum", "max", "scale"}, default "minmax"
        How raw scores become comparable, oriented so higher is better:

        * ``"none"``: scores already on a common scale (the textbook's
          forced scoring); a cost criterion contributes ``-w x``;
        * ``"minmax"``: ``(x - min)/(max - min)``, cost ``(max - x)/(max - min)``;
        * ``"vector"``: ``x/‖x‖``, cost ``1 - x/‖x‖``;
        * ``"sum"``: ``x/Σx``, cost ``(1/x)/Σ(1/x)``;
        * ``"max"``: ``x/max``, cost ``1 - x/max``;
        * ``"scale"``: each criterion's fixed scale ``(lo, hi)``:
          ``(x - lo)/(hi - lo)``, cost ``(hi - x)/(hi - lo)``. It does not
          depend on the other candidates, so adding or removing one never
          reverses the order of two others.

        The set-relative ones (all but ``none`` and ``scale``) use the
        eligible candidates only.
    rules : sequence of KnockOut, optional
        Knock-out rules applied, with each criterion's own ``minimum`` and
        ``maximum``, before ranking; the failures are recorded in
        ``result.exclusions``.
    missing : {"raise", "exclude", "worst", "impute"}, default "raise"
        Policy for NaN scores in criteria with a positive weight or a rule:
        raise an error; exclude the candidate (rule ``"missing <name>"``);
        fill with the worst observed value (the scale's worst end when the
        criterion has a fixed scale); or fill with the mean of the observed
        values. Filling happens before the knock-out rules are applied.

    Returns
    -------
    RankingResult
        ``score`` is the weighted sum; ``contributions[i, j] = w_j r_ij``.

    Raises
    ------
    InvalidInputError
        For NaN scores under ``missing="raise"``, a criterion with zero range
        under min-max, negative values under sum or max, a criterion without
        a scale under ``"scale"``, or no eligible candidate (EmptyInputError).

    Notes
    -----
    Weights are divided by their sum, so with ``normalization="none"`` the
    score is the weighted average on the scores' own scale. Ties are
    reported in ``result.ties`` and ranked as described in
    :class:`RankingResult`.

    References
    ----------
    Fishburn, P. C. (1967). Additive utilities with incomplete product
    set. Operations Research 15, 537-542.

    Examples
    --------
    >>> m = DecisionMatrix.from_arrays(
    ...     [[200, 8], [150, 9], [180, 6]],
    ...     [Criterion("sales"), Criterion("cost", direction="cost")],
    ...     candidate_id=["A", "B", "C"],
    ... )
    >>> r = weighted_sum(m)
    >>> r.ranking().tolist(), np.round(r.score, 3).tolist()
    (['C', 'A', 'B'], [0.667, 0.0, 0.8])
    """
    return _run(matrix, "weighted_sum", normalization, rules, missing, 0.5)


def weighted_product(
    matrix: DecisionMatrix,
    *,
    normalization: str = "sum",
    rules: Sequence[KnockOut] = (),
    missing: Missing = "raise",
) -> RankingResult:
    r"""Weighted product model: rank by :math:`\prod_j r_{ij}^{w_j}`.

    Parameters
    ----------
    matrix : DecisionMatrix
        Candidates and criteria.
    normalization : str, default "sum"
        As in :func:`weighted_sum`; the normalised scores of positively
        weighted criteria must all be > 0 (``"sum"`` and ``"max"`` on
        positive data, or ``"scale"`` with no score at the worst end).
    rules, missing
        As in :func:`weighted_sum`.

    Returns
    -------
    RankingResult
        ``score`` is the product; ``contributions[i, j] = w_j ln r_ij`` add
        up to ``ln score`` (kept in ``details["log_score"]`` and used for the
        ranking, so tiny products do not underflow into ties).

    Raises
    ------
    InvalidInputError
        If a normalised score is <= 0, or as in :func:`weighted_sum`.

    References
    ----------
    Triantaphyllou, E. (2000). Multi-criteria decision making methods:
    a comparative study. Kluwer, ch. 2.

    Examples
    --------
    >>> m = DecisionMatrix.from_arrays([[2.0, 4.0], [4.0, 1.0]], ["a", "b"], ["X", "Y"])
    >>> r = weighted_product(m)
    >>> r.winner(), np.round(r.score, 3).tolist()
    ('X', [0.516, 0.365])
    """
    return _run(matrix, "weighted_product", normalization, rules, missing, 0.5)


def topsis(
    matrix: DecisionMatrix,
    *,
    normalization: str = "vector",
    rules: Sequence[KnockOut] = (),
    missing: Missing = "raise",
) -> RankingResult:
    r"""TOPSIS: closeness to the ideal candidate.

    With :math:`v_{ij} = w_j r_{ij}`, the ideal :math:`v^+_j = \max_i v_{ij}`
    and anti-ideal :math:`v^-_j = \min_i v_{ij}`, the score is
    :math:`C_i = D^-_i / (D^+_i + D^-_i)` where :math:`D^\pm_i` are the
    Euclidean distances to :math:`v^\pm`.

    Parameters
    ----------
    matrix : DecisionMatrix
        Candidates and criteria.
    normalization : str, default "vector"
        As in :func:`weighted_sum` (Hwang and Yoon use vector normalisation;
        a cost column is flipped to ``1 - r``, which leaves the distances of
        the classic formulation unchanged).
    rules, missing
        As in :func:`weighted_sum`.

    Returns
    -------
    RankingResult
        ``score`` is the closeness in [0, 1]; ``contributions`` holds
        :math:`v_{ij}`; ``details`` the two distances.

    Raises
    ------
    InvalidInputError
        As in :func:`weighted_sum`.

    Notes
    -----
    A candidate at the ideal (:math:`D^+ = 0`) scores 1, which also covers
    the degenerate case of candidates identical on every criterion.

    References
    ----------
    Hwang, C. L. and Yoon, K. (1981). Multiple Attribute Decision
    Making. Springer, pp. 128-140.

    Examples
    --------
    >>> m = DecisionMatrix.from_arrays(
    ...     [[7, 9], [8, 7], [9, 6]], ["a", "b"], ["X", "Y", "Z"]
    ... )
    >>> np.round(topsis(m).score, 3).tolist()
    [0.619, 0.382, 0.381]
    """
    return _run(matrix, "topsis", normalization, rules, missing, 0.5)


def vikor(
    matrix: DecisionMatrix,
    *,
    v: float = 0.5,
    rules: Sequence[KnockOut] = (),
    missing: Missing = "raise",
) -> RankingResult:
    r"""VIKOR: compromise ranking by group utility and individual regret.

    With :math:`f^*_j, f^-_j` the best and worst value of criterion j,
    :math:`d_{ij} = w_j (f^*_j - f_{ij})/(f^*_j - f^-_j)`,
    :math:`S_i = \sum_j d_{ij}`, :math:`R_i = \max_j d_{ij}` and
    :math:`Q_i = v (S_i - S^*)/(S^- - S^*) + (1 - v)(R_i - R^*)/(R^- - R^*)`;
    lower Q is better.

    Parameters
    ----------
    matrix : DecisionMatrix
        Candidates and criteria.
    v : float, default 0.5
        Weight of the group-utility strategy, in [0, 1].
    rules, missing
        As in :func:`weighted_sum`.

    Returns
    -------
    RankingResult
        ``score`` is Q (``higher_is_better`` False); ``contributions`` holds
        :math:`d_{ij}`; ``details`` has ``S``, ``R``, ``Q`` and
        ``compromise``, the compromise set under Opricovic's conditions of
        acceptable advantage (:math:`Q(a_2) - Q(a_1) \ge 1/(n-1)`) and
        acceptable stability (:math:`a_1` also best by S or R).

    Raises
    ------
    InvalidInputError
        For a positively weighted criterion with the same value for every
        eligible candidate (:math:`f^* = f^-`), or as in :func:`weighted_sum`.

    Notes
    -----
    When all S (or all R) are equal, their term of Q is 0 instead of 0/0.

    References
    ----------
    Opricovic, S. and Tzeng, G.-H. (2004). Compromise solution by MCDM
    methods: a comparative analysis of VIKOR and TOPSIS. European Journal
    of Operational Research 156, 445-455.

    Examples
    --------
    >>> m = DecisionMatrix.from_arrays(
    ...     [[7, 9], [8, 7], [9, 4]], ["a", "b"], ["X", "Y", "Z"]
    ... )
    >>> r = vikor(m)
    >>> r.ranking().tolist(), np.round(r.score, 3).tolist()
    (['Y', 'X', 'Z'], [1.0, 0.0, 1.0])
    >>> np.round(r.details["S"], 3).tolist(), r.details["compromise"].tolist()
    ([0.5, 0.45, 0.5], [False, True, False])
    """
    return _run(matrix, "vikor", None, rules, missing, v)


def rank(
    matrix: DecisionMatrix,
    method: Method = "weighted_sum",
    *,
    normalization: str | None = None,
    rules: Sequence[KnockOut] = (),
    missing: Missing = "raise",
    v: float = 0.5,
) -> RankingResult:
    """Rank with the named method (dispatcher used by the sensitivity tools).

    Parameters
    ----------
    matrix : DecisionMatrix
        Candidates and criteria.
    method : {"weighted_sum", "weighted_product", "topsis", "vikor"}
        The selection method.
    normalization : str, optional
        Defaults to the method's own default (min-max, sum, vector; VIKOR
        accepts only its own min-max).
    rules, missing
        As in :func:`weighted_sum`.
    v : float, default 0.5
        VIKOR's strategy weight.

    Returns
    -------
    RankingResult

    Examples
    --------
    >>> m = DecisionMatrix.from_arrays([[1, 2], [2, 1]], ["a", Criterion("b", weight=2)])
    >>> rank(m, "topsis").winner()
    0
    """
    return _run(matrix, method, normalization, rules, missing, v)
