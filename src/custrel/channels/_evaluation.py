"""Performance evaluation (private): weighted indices, sales volume and cost, partner comparisons."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import attrs
import numpy as np

from custrel import _numeric
from custrel import _validate as _val
from custrel.channels._common import (
    _SAFE_MAGNITUDE,
    _TIE_ATOL,
    _TIE_RTOL,
    AnyArray,
    BoolArray,
    FloatArray,
    IntArray,
    Missing,
    _ids_for,
    _iterable,
    _rank,
    _refuse_overflow,
)
from custrel.channels._matrix import (
    DecisionMatrix,
    KnockOut,
)
from custrel.channels._methods import (
    RankingResult,
    weighted_sum,
)
from custrel.channels._weights import (
    normalize_weights,
)
from custrel.errors import (
    InvalidInputError,
    InvalidTypeError,
)

__all__: list[str] = []


@attrs.frozen(eq=False)
class IndexResult:
    r"""A two-level weighted index: criteria within groups, groups in the total.

    Attributes
    ----------
    candidate_id : numpy.ndarray
        Eligible candidates (people, partners, business units), matrix order.
    score : numpy.ndarray
        The index: :math:`\sum_g W_g \sum_{j \in g} (w_j / \sum_{k \in g} w_k) r_{ij}`.
    rank : numpy.ndarray of int
        Competition ranks, 1 = best.
    groups : tuple of str
        Group names.
    group_weights : numpy.ndarray
        :math:`W_g`, summing to 1.
    group_scores : numpy.ndarray, shape (n, n_groups)
        Each group's own weighted score (within-group weights sum to 1), on
        the same scale as ``score``.
    ranking : RankingResult
        The underlying weighted-sum ranking with the effective weights
        :math:`W_g w_j / \sum_{k \in g} w_k` and per-criterion contributions.
    """

    candidate_id: AnyArray = attrs.field(converter=_val.freeze)
    score: FloatArray = attrs.field(converter=_val.freeze)
    rank: IntArray = attrs.field(converter=_val.freeze)
    groups: tuple[str, ...] = attrs.field(converter=_val.freeze)
    group_weights: FloatArray = attrs.field(converter=_val.freeze)
    group_scores: FloatArray = attrs.field(converter=_val.freeze)
    ranking: RankingResult = attrs.field(converter=_val.freeze)


def weighted_index(
    matrix: DecisionMatrix,
    groups: Mapping[str, Sequence[str]],
    *,
    group_weights: Mapping[str, float] | None = None,
    normalization: str = "none",
    rules: Sequence[KnockOut] = (),
    missing: Missing = "raise",
) -> IndexResult:
    """A grouped weighted index, e.g. outcome vs behaviour measures of sales staff.

    Parameters
    ----------
    matrix : DecisionMatrix
        Rows are the units scored; criterion weights are the weights
        *within* their group.
    groups : mapping of str to sequence of str
        Group name → criterion names; every criterion with a positive weight
        belongs to exactly one group.
    group_weights : mapping of str to float, optional
        Weight of each group (>= 0, not all 0); equal when omitted.
    normalization : str, default "none"
        As in :func:`weighted_sum`; ``"none"`` keeps the score on the
        indicators' own common scale (e.g. 1-5 ratings), ``"scale"`` maps
        each to [0, 1] through its fixed scale.
    rules, missing
        As in :func:`weighted_sum`.

    Returns
    -------
    IndexResult

    Raises
    ------
    InvalidInputError
        For an unknown criterion, a criterion in two groups, a weighted
        criterion in no group, a group whose criteria all weigh 0, or bad
        group weights.

    Examples
    --------
    >>> m = DecisionMatrix.from_arrays(
    ...     [[8, 6, 9], [6, 9, 7]], ["sales", "visits", "skill"], ["ann", "bo"]
    ... )
    >>> res = weighted_index(
    ...     m, {"outcome": ["sales", "visits"], "behaviour": ["skill"]},
    ...     group_weights={"outcome": 0.7, "behaviour": 0.3},
    ... )
    >>> np.round(res.score, 2).tolist(), np.round(res.group_scores, 1).tolist()
    ([7.6, 7.35], [[7.0, 9.0], [7.5, 7.0]])
    """
    if not isinstance(matrix, DecisionMatrix):
        raise InvalidTypeError(f"matrix must be a DecisionMatrix, got {type(matrix).__name__}")
    if not isinstance(groups, Mapping) or not groups:
        raise InvalidInputError(
            "groups must be a non-empty mapping of group name to criterion names"
        )
    names = matrix.criterion_names
    gnames = tuple(str(g) for g in groups)
    member = np.full(len(names), -1)
    for gi, (g, cols) in enumerate(groups.items()):
        if isinstance(cols, str):
            cols = [cols]
        for c in _iterable(cols, f"groups[{g!r}]", "a sequence of criterion names"):
            j = matrix._index(c)
            if member[j] >= 0:
                raise InvalidInputError(
                    f"criterion {c!r} is in groups {gnames[member[j]]!r} and {g!r}; put it in one"
                )
            member[j] = gi
    raw = np.array([c.weight for c in matrix.criteria])
    orphan = (member < 0) & (raw > 0)
    if orphan.any():
        j = int(np.flatnonzero(orphan)[0])
        raise InvalidInputError(
            f"criterion {names[j]!r} has weight {raw[j]:g} but belongs to no group; "
            "add it to a group or set its weight to 0"
        )
    if group_weights is None:
        gw = np.ones(len(gnames))
    else:
        if not isinstance(group_weights, Mapping):
            raise InvalidTypeError("group_weights must be a mapping of group name to weight")
        unknown = [g for g in group_weights if g not in gnames]
        if unknown:
            raise InvalidInputError(f"group_weights names unknown group {unknown[0]!r}")
        gw = np.array(
            [_val.scalar(group_weights.get(g, 0.0), f"group_weights[{g!r}]") for g in gnames],
            dtype=np.float64,
        )
    gw = normalize_weights(gw)
    gsum = _numeric.bincount(member[member >= 0], weights=raw[member >= 0], minlength=len(gnames))
    dead = (gsum == 0) & (gw > 0)
    if dead.any():
        g = gnames[int(np.flatnonzero(dead)[0])]
        raise InvalidInputError(f"group {g!r} has a positive weight but all its criteria weigh 0")
    eff = np.zeros(len(names))
    ok = member >= 0
    eff[ok] = gw[member[ok]] * raw[ok] / np.where(gsum[member[ok]] == 0, 1.0, gsum[member[ok]])
    res = weighted_sum(
        matrix.with_weights(eff), normalization=normalization, rules=rules, missing=missing
    )
    gs = np.zeros((len(res.candidate_id), len(gnames)))
    for gi in range(len(gnames)):
        cols = member == gi
        if gw[gi] > 0:
            gs[:, gi] = res.contributions[:, cols].sum(axis=1) / gw[gi]
        else:
            gs[:, gi] = np.nan
    return IndexResult(
        candidate_id=res.candidate_id,
        score=res.score,
        rank=res.rank,
        groups=gnames,
        group_weights=_val.readonly(gw),
        group_scores=_val.readonly(gs),
        ranking=res,
    )


@attrs.frozen(eq=False)
class SalesForecastResult:
    """Attainable sales of each candidate from its recent sales and their trend.

    Attributes
    ----------
    candidate_id : numpy.ndarray
        Candidates, input order.
    model : str
        ``"linear"`` (sales = a + b t) or ``"loglinear"`` (ln sales = a + b t).
    horizon : int
        Periods ahead of the last observed one.
    level : float
        Coverage of the prediction interval.
    intercept, slope : numpy.ndarray
        Fitted coefficients (periods numbered 1 … p).
    growth_rate : numpy.ndarray
        Per-period growth: ``slope / fitted last value`` (linear) or
        ``exp(slope) - 1`` (log-linear).
    residual_std : numpy.ndarray
        Residual standard error (p - 2 degrees of freedom).
    forecast, lower, upper : numpy.ndarray
        Point forecast and prediction interval (log-linear: the median,
        ``exp`` of the log-scale forecast and bounds).
    cap : numpy.ndarray
        Sales the customer traffic supports (``traffic × spend_per_visit``),
        ``inf`` where no traffic was given.
    attainable : numpy.ndarray
        ``min(forecast, cap)``.
    capped : numpy.ndarray of bool
        Where the cap binds.
    """

    candidate_id: AnyArray = attrs.field(converter=_val.freeze)
    model: str = attrs.field(converter=_val.freeze)
    horizon: int = attrs.field(converter=_val.freeze)
    level: float = attrs.field(converter=_val.freeze)
    intercept: FloatArray = attrs.field(converter=_val.freeze)
    slope: FloatArray = attrs.field(converter=_val.freeze)
    growth_rate: FloatArray = attrs.field(converter=_val.freeze)
    residual_std: FloatArray = attrs.field(converter=_val.freeze)
    forecast: FloatArray = attrs.field(converter=_val.freeze)
    lower: FloatArray = attrs.field(converter=_val.freeze)
    upper: FloatArray = attrs.field(converter=_val.freeze)
    cap: FloatArray = attrs.field(converter=_val.freeze)
    attainable: FloatArray = attrs.field(converter=_val.freeze)
    capped: BoolArray = attrs.field(converter=_val.freeze)

    def ranked(self) -> AnyArray:
        """Candidate ids by attainable sales, highest first (ties by id)."""
        _, order, _ = _rank(np.asarray(self.attainable), np.asarray(self.candidate_id))
        return _val.readonly(self.candidate_id[order])


def sales_forecast(
    sales: Any,
    *,
    candidate_id: Any = None,
    model: Literal["linear", "loglinear"] = "linear",
    horizon: int = 1,
    level: float = 0.95,
    traffic: Any = None,
    spend_per_visit: Any = 1.0,
) -> SalesForecastResult:
    r"""Sales-volume analysis: trend forecast of each candidate's sales.

    Parameters
    ----------
    sales : array_like, shape (n_candidates, n_periods)
        Recent sales per period, oldest first (a 1-D array is one
        candidate). At least 3 periods; > 0 for the log-linear model.
    candidate_id : array_like, optional
        One id per row.
    model : {"linear", "loglinear"}, default "linear"
        Trend on the sales or on their logarithm (constant growth rate).
    horizon : int, default 1
        Periods ahead of the last one.
    level : float, default 0.95
        Prediction-interval coverage in (0, 1).
    traffic : array_like, optional
        Customer traffic per period of each candidate; caps the forecast.
    spend_per_visit : float or array_like, default 1.0
        Sales per unit of traffic (e.g. conversion × average ticket); the
        cap is ``traffic × spend_per_visit``.

    Returns
    -------
    SalesForecastResult

    Raises
    ------
    InvalidInputError
        For NaN or negative sales, fewer than 3 periods, non-positive sales
        under the log-linear model, negative traffic, or a forecast beyond
        float64's range.

    Notes
    -----
    Ordinary least squares per candidate, vectorised over candidates. The
    interval at :math:`t_0 = p + h` is
    :math:`\hat y \pm t_{p-2,(1+\text{level})/2}\, s \sqrt{1 + 1/p + (t_0 - \bar t)^2 / S_{tt}}`.

    References
    ----------
    Montgomery, D. C., Peck, E. A. and Vining, G. G. (2012).
    Introduction to Linear Regression Analysis, 5th ed., §2.5.

    Examples
    --------
    >>> res = sales_forecast([[100, 110, 120, 130], [90, 100, 100, 110]], traffic=[1000, 105])
    >>> res.forecast.tolist(), res.attainable.tolist()
    ([140.0, 115.0], [140.0, 105.0])
    """
    y = _val.as_float_array(sales, "sales", ndim=(1, 2))
    if y.ndim == 1:
        y = y[None, :]
    n, p = y.shape
    if p < 3:
        raise InvalidInputError(
            f"sales has {p} periods; a trend with a prediction interval needs at least 3"
        )
    _val.choice(model, "model", ("linear", "loglinear"))
    h = _val.positive_int(horizon, "horizon")
    level = _val.scalar(
        level, "level", low=0.0, high=1.0, low_inclusive=False, high_inclusive=False
    )
    if model == "loglinear":
        _val.check_range(
            y, "sales", low=0.0, low_inclusive=False, hint="the log-linear model needs sales > 0"
        )
        z = np.log(y)
    else:
        _val.check_range(y, "sales", low=0.0)
        z = y
    ids = _ids_for(candidate_id, n, "sales")
    # OLS is scale-equivariant: rows near overflow or underflow are fitted divided by
    # their largest magnitude and the fit multiplied back, so no sum overflows
    rowscale = np.ones(n)
    if model == "linear":
        mag = np.abs(z).max(axis=1)
        odd = (mag > 0) & ((mag < _SAFE_MAGNITUDE[0]) | (mag > _SAFE_MAGNITUDE[1]))
        if odd.any():
            rowscale[odd] = mag[odd]
            z = z / rowscale[:, None]
    t = np.arange(1, p + 1, dtype=np.float64)
    tbar = t.mean()
    stt = float(((t - tbar) ** 2).sum())
    zbar = z.mean(axis=1)
    slope = ((z - zbar[:, None]) * (t - tbar)).sum(axis=1) / stt
    intercept = zbar - slope * tbar
    resid = z - (intercept[:, None] + slope[:, None] * t)
    s = np.sqrt((resid**2).sum(axis=1) / (p - 2))
    t0 = p + h
    zhat = intercept + slope * t0
    from scipy import stats  # inside: scipy.stats is slow to import (contract 7)

    q = float(stats.t.ppf(0.5 + level / 2.0, p - 2))
    half = q * s * math.sqrt(1.0 + 1.0 / p + (t0 - tbar) ** 2 / stt)
    hint = "the trend leaves float64's range; rescale sales or shorten the horizon"
    with np.errstate(over="ignore"):
        if model == "loglinear":
            fc, lo, hi = np.exp(zhat), np.exp(zhat - half), np.exp(zhat + half)
            growth = np.expm1(slope)
        else:
            fc, lo, hi = zhat, zhat - half, zhat + half
            last = intercept + slope * p
            with np.errstate(divide="ignore", invalid="ignore"):
                growth = np.where(last != 0, slope / np.where(last == 0, 1.0, last), np.nan)
            fc, lo, hi = fc * rowscale, lo * rowscale, hi * rowscale
            intercept, slope, s = intercept * rowscale, slope * rowscale, s * rowscale
        for label, arr in (("the forecast", fc), ("the interval", lo), ("the interval", hi)):
            _refuse_overflow(arr, label, ids, hint)
        _refuse_overflow(np.stack([intercept, slope, s, growth], axis=1), "the fit", ids, hint)
    if traffic is None:
        cap = np.full(n, np.inf)
    else:
        tr = _val.as_float_array(traffic, "traffic", ndim=(0, 1))
        tr = np.broadcast_to(tr, (n,)) if tr.ndim == 0 else tr
        if len(tr) != n:
            raise InvalidInputError(f"traffic has {len(tr)} values but sales has {n} candidates")
        _val.check_range(tr, "traffic", low=0.0)
        spv = _val.as_float_array(spend_per_visit, "spend_per_visit", ndim=(0, 1))
        _val.check_range(spv, "spend_per_visit", low=0.0)
        if spv.ndim == 1 and len(spv) != n:
            raise InvalidInputError(
                f"spend_per_visit has {len(spv)} values but sales has {n} candidates"
            )
        with np.errstate(over="ignore"):
            cap = tr * spv
        _refuse_overflow(
            np.broadcast_to(cap, (n,)), "traffic x spend_per_visit", ids, "rescale traffic"
        )
    att = np.minimum(fc, cap)
    return SalesForecastResult(
        candidate_id=ids,
        model=model,
        horizon=h,
        level=level,
        intercept=_val.readonly(intercept),
        slope=_val.readonly(slope),
        growth_rate=_val.readonly(growth),
        residual_std=_val.readonly(s),
        forecast=_val.readonly(fc),
        lower=_val.readonly(lo),
        upper=_val.readonly(hi),
        cap=_val.readonly(np.asarray(cap, dtype=np.float64)),
        attainable=_val.readonly(att),
        capped=_val.readonly(cap < fc),
    )


@attrs.frozen(eq=False)
class SalesCostResult:
    """Sales-cost analysis of each candidate.

    Attributes
    ----------
    candidate_id : numpy.ndarray
        Candidates, input order.
    total_cost : numpy.ndarray
        Sum of the cost items.
    cost_per_unit : numpy.ndarray
        ``total_cost / units``.
    cost_per_sales : numpy.ndarray
        ``total_cost / sales`` (cost per unit of sales value).
    efficiency : numpy.ndarray
        ``sales / total_cost`` (sales per unit of cost; inf for zero cost).
    cheapest_total, cheapest_per_unit, cheapest_per_sales, most_efficient : tuple
        The best candidate(s) under each measure (several when tied).
    """

    candidate_id: AnyArray = attrs.field(converter=_val.freeze)
    total_cost: FloatArray = attrs.field(converter=_val.freeze)
    cost_per_unit: FloatArray = attrs.field(converter=_val.freeze)
    cost_per_sales: FloatArray = attrs.field(converter=_val.freeze)
    efficiency: FloatArray = attrs.field(converter=_val.freeze)
    cheapest_total: tuple[Any, ...] = attrs.field(converter=_val.freeze)
    cheapest_per_unit: tuple[Any, ...] = attrs.field(converter=_val.freeze)
    cheapest_per_sales: tuple[Any, ...] = attrs.field(converter=_val.freeze)
    most_efficient: tuple[Any, ...] = attrs.field(converter=_val.freeze)


def sales_cost(cost: Any, units: Any, sales: Any, *, candidate_id: Any = None) -> SalesCostResult:
    """Sales-cost analysis: total cost, cost per unit and per unit of sales, efficiency.

    Parameters
    ----------
    cost : array_like, shape (n,) or (n, n_items)
        Expected selling cost of each candidate (or its cost items, summed).
    units : array_like, shape (n,)
        Expected units sold (> 0).
    sales : array_like, shape (n,)
        Expected sales value (> 0).
    candidate_id : array_like, optional
        One id per candidate.

    Returns
    -------
    SalesCostResult

    Raises
    ------
    InvalidInputError
        For negative or NaN costs, non-positive units or sales,
        mismatched lengths, or a total or ratio beyond float64's range.

    Examples
    --------
    >>> res = sales_cost([[30, 10], [25, 20]], units=[100, 150], sales=[500, 800],
    ...                  candidate_id=["A", "B"])
    >>> res.total_cost.tolist(), res.cheapest_total, res.cheapest_per_unit
    ([40.0, 45.0], ('A',), ('B',))
    """
    c = _val.as_float_array(cost, "cost", ndim=(1, 2))
    _val.check_range(c, "cost", low=0.0)
    u = _val.as_float_array(units, "units", ndim=1)
    s = _val.as_float_array(sales, "sales", ndim=1)
    n = _val.check_same_length(cost=c, units=u, sales=s)
    _val.check_range(u, "units", low=0.0, low_inclusive=False)
    _val.check_range(s, "sales", low=0.0, low_inclusive=False)
    ids = _ids_for(candidate_id, n, "cost")
    hint = "rescale cost, units and sales to a common unit (for example thousands)"
    with np.errstate(over="ignore"):
        total = c.sum(axis=1) if c.ndim == 2 else c
        _refuse_overflow(total, "the total cost", ids, hint)
        cpu = total / u
        _refuse_overflow(cpu, "cost / units", ids, hint)
        cps = total / s
        _refuse_overflow(cps, "cost / sales", ids, hint)
        eff = np.where(total > 0, s / np.where(total > 0, total, 1.0), np.inf)
        _refuse_overflow(np.where(total > 0, eff, 0.0), "sales / cost", ids, hint)

    def best(key: FloatArray) -> tuple[Any, ...]:
        rk, order, _ = _rank(key, ids)
        return tuple(ids[order[rk[order] == 1]].tolist())

    return SalesCostResult(
        candidate_id=ids,
        total_cost=_val.readonly(total.copy()),
        cost_per_unit=_val.readonly(cpu),
        cost_per_sales=_val.readonly(cps),
        efficiency=_val.readonly(eff),
        cheapest_total=best(-total),
        cheapest_per_unit=best(-cpu),
        cheapest_per_sales=best(-cps),
        most_efficient=best(np.where(np.isinf(eff), np.finfo(np.float64).max, eff)),
    )


def _two_periods(current: Any, previous: Any) -> tuple[FloatArray, FloatArray, int]:
    cur = _val.as_float_array(current, "current", ndim=1)
    prev = _val.as_float_array(previous, "previous", ndim=1)
    n = _val.check_same_length(current=cur, previous=prev)
    return cur, prev, n


def _growth(cur: FloatArray, prev: FloatArray) -> FloatArray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(prev != 0, (cur - prev) / np.where(prev == 0, 1.0, np.abs(prev)), np.nan)


@attrs.frozen(eq=False)
class VerticalResult:
    """Each partner against its own previous period.

    Attributes
    ----------
    candidate_id : numpy.ndarray
        Partners, input order.
    current, previous : numpy.ndarray
        The two periods' values.
    change : numpy.ndarray
        ``current - previous``.
    growth : numpy.ndarray
        ``change / |previous|`` (NaN where previous is 0: undefined).
    declined : numpy.ndarray of bool
        ``change < 0``.
    """

    candidate_id: AnyArray = attrs.field(converter=_val.freeze)
    current: FloatArray = attrs.field(converter=_val.freeze)
    previous: FloatArray = attrs.field(converter=_val.freeze)
    change: FloatArray = attrs.field(converter=_val.freeze)
    growth: FloatArray = attrs.field(converter=_val.freeze)
    declined: BoolArray = attrs.field(converter=_val.freeze)


def vertical_comparison(current: Any, previous: Any, *, candidate_id: Any = None) -> VerticalResult:
    """Vertical comparison: each partner's sales against its previous period.

    Parameters
    ----------
    current, previous : array_like
        One value per partner (sales or another measure).
    candidate_id : array_like, optional
        Partner ids.

    Returns
    -------
    VerticalResult

    Raises
    ------
    InvalidInputError
        For NaN values, mismatched lengths, or a change or growth beyond
        float64's range.

    Examples
    --------
    >>> res = vertical_comparison([110, 90], [100, 100], candidate_id=["A", "B"])
    >>> res.growth.tolist(), res.declined.tolist()
    ([0.1, -0.1], [False, True])
    """
    cur, prev, n = _two_periods(current, previous)
    ids = _ids_for(candidate_id, n, "current")
    hint = "rescale current and previous (for example to thousands)"
    with np.errstate(over="ignore"):
        change = cur - prev
        _refuse_overflow(change, "current - previous", ids, hint)
        growth = _growth(cur, prev)
        _refuse_overflow(growth, "the growth (current - previous) / |previous|", ids, hint)
    return VerticalResult(
        candidate_id=ids,
        current=cur,
        previous=prev,
        change=change,
        growth=growth,
        declined=cur < prev,
    )


@attrs.frozen(eq=False)
class HorizontalResult:
    """Each partner's change against the group's average change.

    Attributes
    ----------
    candidate_id : numpy.ndarray
        Partners, input order.
    growth : numpy.ndarray
        Each partner's growth ``(current - previous)/|previous|``.
    group_growth : float
        The group's average growth (see ``average``).
    gap : numpy.ndarray
        ``growth - group_growth``.
    below_average : numpy.ndarray of bool
        Partners whose growth is below the group's: they need attention
        (after checking for causes outside their control).
    rank : numpy.ndarray of int
        Rank by growth, 1 = fastest.
    average : str
        ``"mean"`` (mean of the partners' growth rates) or ``"aggregate"``
        (growth of the group's total).
    """

    candidate_id: AnyArray = attrs.field(converter=_val.freeze)
    growth: FloatArray = attrs.field(converter=_val.freeze)
    group_growth: float = attrs.field(converter=_val.freeze)
    gap: FloatArray = attrs.field(converter=_val.freeze)
    below_average: BoolArray = attrs.field(converter=_val.freeze)
    rank: IntArray = attrs.field(converter=_val.freeze)
    average: str = attrs.field(converter=_val.freeze)


def horizontal_comparison(
    current: Any,
    previous: Any,
    *,
    candidate_id: Any = None,
    average: Literal["mean", "aggregate"] = "mean",
) -> HorizontalResult:
    """Horizontal comparison: each partner's growth against the group's average growth.

    Parameters
    ----------
    current, previous : array_like
        One value per partner; ``previous`` must be > 0 (growth rates).
    candidate_id : array_like, optional
        Partner ids.
    average : {"mean", "aggregate"}, default "mean"
        Group average as the mean of the partners' growth rates, or as the
        growth of the group's total (which weighs large partners more).

    Returns
    -------
    HorizontalResult

    Raises
    ------
    InvalidInputError
        For NaN values, non-positive ``previous``, mismatched lengths, or a
        growth beyond float64's range.

    Examples
    --------
    >>> res = horizontal_comparison([120, 105, 99], [100, 100, 90], candidate_id=list("ABC"))
    >>> round(res.group_growth, 4), res.below_average.tolist()
    (0.1167, [False, True, True])
    """
    cur, prev, n = _two_periods(current, previous)
    _val.check_range(prev, "previous", low=0.0, low_inclusive=False, hint="growth needs a base > 0")
    _val.choice(average, "average", ("mean", "aggregate"))
    ids = _ids_for(candidate_id, n, "current")
    hint = "rescale current and previous (for example to thousands)"
    with np.errstate(over="ignore"):
        g = cur / prev - 1.0
        _refuse_overflow(g, "the growth (current - previous) / previous", ids, hint)
        # near overflow, sums are taken of values divided by the largest magnitude
        gmax = float(np.abs(g).max())
        big = float(max(np.abs(cur).max(), prev.max()))
        if average == "mean":
            gs = gmax if gmax > _SAFE_MAGNITUDE[1] else 1.0
            gg = float((g / gs).mean()) * gs
        else:
            bs = big if big > _SAFE_MAGNITUDE[1] else 1.0
            gg = float((cur / bs).sum() / (prev / bs).sum() - 1.0)
        if not math.isfinite(gg):
            raise InvalidInputError(f"the group growth overflows float64; {hint}")
        gap = g - gg
        _refuse_overflow(gap, "growth - group growth", ids, hint)
    rk, _, _ = _rank(g, ids)
    below = gap < -(_TIE_ATOL + _TIE_RTOL * abs(gg))
    return HorizontalResult(
        candidate_id=ids,
        growth=_val.readonly(g),
        group_growth=gg,
        gap=_val.readonly(gap),
        below_average=_val.readonly(below),
        rank=_val.readonly(rk),
        average=average,
    )


@attrs.frozen(eq=False)
class QuotaResult:
    """Actual sales against each territory's potential.

    Attributes
    ----------
    candidate_id : numpy.ndarray
        Partners, input order.
    actual, potential : numpy.ndarray
        Sales and sales potential of the territory.
    attainment : numpy.ndarray
        ``actual / potential``.
    rank : numpy.ndarray of int
        Rank by attainment, 1 = highest (ties share a rank).
    order : numpy.ndarray of int
        Positions, best first.
    """

    candidate_id: AnyArray = attrs.field(converter=_val.freeze)
    actual: FloatArray = attrs.field(converter=_val.freeze)
    potential: FloatArray = attrs.field(converter=_val.freeze)
    attainment: FloatArray = attrs.field(converter=_val.freeze)
    rank: IntArray = attrs.field(converter=_val.freeze)
    order: IntArray = attrs.field(converter=_val.freeze)

    def ranking(self) -> AnyArray:
        """Partner ids, highest attainment first."""
        return _val.readonly(self.candidate_id[self.order])


def quota_attainment(actual: Any, potential: Any, *, candidate_id: Any = None) -> QuotaResult:
    """Quota comparison: actual sales / sales potential, ranked.

    Parameters
    ----------
    actual : array_like
        Sales per partner (>= 0).
    potential : array_like
        Sales potential of each partner's territory (> 0).
    candidate_id : array_like, optional
        Partner ids.

    Returns
    -------
    QuotaResult

    Raises
    ------
    InvalidInputError
        For NaN or negative sales, non-positive potential, mismatched
        lengths, or an attainment beyond float64's range.

    Examples
    --------
    >>> res = quota_attainment([80, 45, 90], [100, 50, 120], candidate_id=list("ABC"))
    >>> res.attainment.tolist(), res.ranking().tolist()
    ([0.8, 0.9, 0.75], ['B', 'A', 'C'])
    """
    a = _val.as_float_array(actual, "actual", ndim=1)
    pot = _val.as_float_array(potential, "potential", ndim=1)
    n = _val.check_same_length(actual=a, potential=pot)
    _val.check_range(a, "actual", low=0.0)
    _val.check_range(pot, "potential", low=0.0, low_inclusive=False)
    ids = _ids_for(candidate_id, n, "actual")
    with np.errstate(over="ignore"):
        att = a / pot
    _refuse_overflow(att, "actual / potential", ids, "rescale actual and potential")
    rk, order, _ = _rank(att, ids)
    return QuotaResult(
        candidate_id=ids,
        actual=a,
        potential=pot,
        attainment=att,
        rank=rk,
        order=order,
    )
