"""Value concentration, ABC analysis, the customer pyramid and tier migration.

A minority of customers brings most of the value (domain notes §3). This module
measures that concentration and turns it into classes that decide where a
company spends its resources:

* concentration: :func:`lorenz_curve`, :func:`gini`, :func:`top_share` and
  the profit :func:`whale_curve`, whose cumulative profit can exceed 100 %
  when some customers lose money;
* ABC analysis (:func:`abc_analysis`) by cumulative value share, by customer
  share, or with limits computed from the data (Ultsch & Lötsch 2015);
* the customer pyramid (:func:`customer_pyramid`): platinum, gold, iron and
  lead tiers by customer-count shares, by cumulative value share, by absolute
  thresholds, or by a rule learned from labelled customers
  (:func:`fit_tier_rule`), with the tier strategy table
  (:data:`TIER_STRATEGIES`) as data users can override;
* tier migration between two dates (:func:`tier_migration`) with its
  customer-asset :class:`BalanceSheet`;
* the decision scenarios of domain notes §3: :func:`key_accounts`,
  :func:`customer_priority` and :func:`expected_credit_cost`.

Every function takes one value per customer and is vectorised: one sort of
the values, then cumulative sums and :func:`numpy.bincount`.

Tie policy: customers with equal values always land in the same class or
tier. A group of tied customers that straddles a boundary joins the class its
best-ranked member reaches, so the better class can hold a little more than
its nominal share.

"Domain notes §3" is the documentation's section on value concentration and
the customer pyramid (:ref:`domain-3`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from custrel import _numeric
from custrel import _validate as v
from custrel._balance import BalanceSheet, balance_sheet
from custrel._tabular import Tabular
from custrel.errors import InvalidInputError, InvalidTypeError
from custrel.models import Tier

__all__ = [
    "ABC_CLASSES",
    "TIER_STRATEGIES",
    "ABCResult",
    "BalanceSheet",
    "KeyAccounts",
    "LorenzCurve",
    "Priority",
    "Pyramid",
    "TierMigration",
    "TierRule",
    "TierStrategy",
    "WhaleCurve",
    "abc_analysis",
    "customer_priority",
    "customer_pyramid",
    "expected_credit_cost",
    "fit_tier_rule",
    "gini",
    "key_accounts",
    "lorenz_curve",
    "tier_migration",
    "top_share",
    "whale_curve",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

#: The ABC class labels, best first.
ABC_CLASSES: tuple[str, str, str] = ("A", "B", "C")
#: Default ABC cutoffs by cumulative value share (domain notes §3: A 65 %, B 20 %).
_ABC_VALUE_CUTOFFS = (0.65, 0.85)
#: Default ABC cutoffs by cumulative customer share (A 15 %, B 20 %).
_ABC_CUSTOMER_CUTOFFS = (0.15, 0.35)
#: Default pyramid shares by customer count (domain notes §3).
_PYRAMID_SHARES = (0.05, 0.15, 0.30, 0.50)
_TIERS: tuple[Tier, ...] = tuple(Tier)
_EPS = 1e-9
#: A cumulative share within this of a cutoff counts as having reached it, so
#: that rounding in sums like 0.5 + 0.3 + 0.15 does not move a customer.
_SHARE_TOL = 1e-12


# ---------------------------------------------------------------------------
# Shared helpers
# ---------------------------------------------------------------------------


def _values(values: Any, name: str = "values") -> FloatArray:
    """One finite value per customer whose magnitudes also add up to a finite total.

    Shares, cumulative sums and class totals are all bounded by the sum of
    the magnitudes, so this one check keeps every later sum finite.
    """
    x = v.as_float_array(values, name, ndim=1)
    with np.errstate(over="ignore"):
        total = float(np.abs(x).sum())
    if not math.isfinite(total):
        raise InvalidInputError(
            f"{name} add up to more than float64 holds (the sum of their magnitudes is "
            f"beyond {np.finfo(np.float64).max:.4g}; the largest is {float(np.abs(x).max())!r} "
            f"at row {int(np.argmax(np.abs(x)))}); rescale {name} (for example to thousands)"
        )
    return x


def _ids(customer_id: Any, n: int) -> npt.NDArray[Any]:
    """Customer ids: ``0 … n-1`` when omitted, else distinct, present and of their own type."""
    if customer_id is None:
        return v.readonly(np.arange(n, dtype=np.int64))
    return v.id_array(customer_id, "customer_id", n)


def _shares(shares: Any, name: str, size: int) -> FloatArray:
    arr = v.as_float_array(shares, name, ndim=1)
    if len(arr) != size:
        raise InvalidInputError(f"{name} must have {size} entries, got {len(arr)}")
    v.check_range(arr, name, low=0.0, high=1.0)
    if abs(float(arr.sum()) - 1.0) > 1e-6:
        raise InvalidInputError(
            f"{name} must sum to 1, got {float(arr.sum())!r}; give the share of every class"
        )
    return arr


def _cutoffs(cutoffs: Any, name: str) -> FloatArray:
    arr = v.as_float_array(cutoffs, name, ndim=1)
    if len(arr) != 2:
        raise InvalidInputError(
            f"{name} must have 2 entries (the A/B and B/C boundaries), got {len(arr)}"
        )
    v.check_range(arr, name, low=0.0, high=1.0)
    if arr[0] > arr[1]:
        raise InvalidInputError(
            f"{name} must be increasing cumulative shares, got {arr.tolist()}; "
            "the A/B boundary comes before the B/C boundary"
        )
    return arr


def _top_counts(n: int, cum_shares: FloatArray) -> IntArray:
    """Customers in classes ``0..j`` by cumulative customer shares: ``ceil(c_j n)``."""
    return np.ceil(cum_shares * n - _EPS).astype(np.int64)


def _share_counts(s_desc: FloatArray, cum_shares: FloatArray) -> IntArray:
    """Customers in classes ``0..j`` by cumulative value shares.

    A customer belongs to classes ``0..j`` while the customers ranked above it
    hold less than ``c_j`` of the positive total; customers without a positive
    value belong to none of them.
    """
    before, total = _cum_before(s_desc)
    if not total > 0:
        return np.zeros(len(cum_shares), dtype=np.int64)
    npos = int(np.count_nonzero(s_desc > 0))
    m = np.searchsorted(before, cum_shares - _SHARE_TOL, side="left")
    return np.minimum(m, npos).astype(np.int64)


def _cum_before(sorted_desc: FloatArray) -> tuple[FloatArray, float]:
    """Share of the positive total held by the customers ranked before each one."""
    pos = np.maximum(sorted_desc, 0.0)
    total = float(pos.sum())
    cum = np.cumsum(pos)
    before = np.empty_like(cum)
    before[0] = 0.0
    before[1:] = cum[:-1]
    if total > 0:
        before /= total
    return before, total


def _sorted_desc(values: FloatArray) -> FloatArray:
    """The values sorted from highest to lowest (one ascending sort, reversed view)."""
    return np.sort(values)[::-1]


def _codes(x: FloatArray, s_desc: FloatArray, top: IntArray) -> IntArray:
    """Class (0 = best) of each customer from the size of the top classes.

    ``top[j]`` customers, best first, are nominally in classes ``0..j``. The
    lowest of their values is a threshold: every customer at or above it is
    in a class no worse than ``j``, so tied customers never split (a tied group
    that straddles the boundary joins the better class), and the classes follow
    from ``len(top)`` comparisons instead of an argsort.
    """
    code = np.zeros(len(x), dtype=np.int64)
    for m in top.tolist():
        if m >= 1:
            code += x < s_desc[m - 1]
        else:
            code += 1
    return code


def _group_stats(
    codes: IntArray, values: FloatArray, k: int
) -> tuple[IntArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """Counts, value sums, customer shares, value shares and means of classes 0..k-1."""
    n = len(values)
    count: IntArray = _numeric.bincount(codes, minlength=k).astype(np.int64)
    value_sum = _numeric.bincount(codes, weights=values, minlength=k).astype(np.float64)
    total = float(values.sum())
    customer_share = count / n
    with np.errstate(invalid="ignore", divide="ignore"):
        value_share = value_sum / total if total != 0 else np.full(k, np.nan)
        mean = value_sum / count
    return count, value_sum, customer_share, value_share, mean


# ---------------------------------------------------------------------------
# Concentration: Lorenz curve, Gini, top share, whale curve
# ---------------------------------------------------------------------------


def _interp_top(customer_share: FloatArray, cum_desc: FloatArray, fraction: float) -> float:
    return float(np.interp(fraction, customer_share, cum_desc))


@attrs.frozen
class LorenzCurve:
    """The Lorenz curve of non-negative customer values and its Gini coefficient.

    Attributes
    ----------
    customer_share : ndarray of float, shape (n + 1,)
        ``0, 1/n, ..., 1``: the share of customers, poorest first.
    value_share : ndarray of float, shape (n + 1,)
        The share of the total value held by those customers.
    gini : float
        The Gini coefficient, in ``[0, (n − 1)/n]``.
    total : float
        The total value.
    """

    customer_share: FloatArray = attrs.field(converter=v.freeze)
    value_share: FloatArray = attrs.field(converter=v.freeze)
    gini: float = attrs.field(converter=v.freeze)
    total: float = attrs.field(converter=v.freeze)

    def top_share(self, fraction: float = 0.2) -> float:
        """Share of the value held by the top ``fraction`` of customers.

        Interpolates linearly between customers, so a fraction that falls
        inside one customer counts that part of it.
        """
        f = v.scalar(fraction, "fraction", low=0.0, high=1.0)
        return 1.0 - float(np.interp(1.0 - f, self.customer_share, self.value_share))


def _nonnegative(values: FloatArray, name: str = "values") -> None:
    v.check_range(
        values,
        name,
        low=0.0,
        hint="the Lorenz curve and Gini need values >= 0; use whale_curve for profits with losses",
    )


def _gini_sorted(s: FloatArray, cum: FloatArray | None = None) -> float:
    """Gini of ascending values ``s``; ``cum`` is their cumulative sum if known."""
    n = len(s)
    if s[0] == s[-1]:
        return 0.0  # equal values: exactly 0, whatever the rounding
    if cum is None:
        cum = np.cumsum(s)
    total = float(cum[-1])
    # Σ_i (2i − n − 1) x_(i) = (n − 1) Σ x − 2 Σ_{i<n} C_i, with C_i the cumulative sums.
    g = ((n - 1.0) * total - 2.0 * float(cum[:-1].sum())) / (n * total)
    return min(max(g, 0.0), (n - 1.0) / n)


def lorenz_curve(values: Any) -> LorenzCurve:
    r"""Compute the Lorenz curve and Gini coefficient of customer values.

    Parameters
    ----------
    values : array_like of float, shape (n,)
        One non-negative value per customer (revenue, profit of profitable
        customers, CLV).

    Returns
    -------
    LorenzCurve

    Raises
    ------
    EmptyInputError
        If ``values`` is empty.
    InvalidInputError
        If a value is negative or not finite.

    Notes
    -----
    With ``x_(1) <= ... <= x_(n)`` the sorted values, the curve passes through
    ``(i/n, Σ_{j<=i} x_(j) / Σ x)`` and

    .. math:: G = \frac{\sum_i \sum_j |x_i - x_j|}{2 n \sum_i x_i}
              = \frac{\sum_{k=1}^{n-1} k (n - k) (x_{(k+1)} - x_{(k)})}{n \sum_i x_i},

    which is 0 when all customers hold the same value and at most
    ``(n − 1)/n < 1`` when one customer holds everything. When every value is
    0 the curve is the diagonal and ``G = 0`` (every customer holds the same).

    Examples
    --------
    >>> from custrel.pyramid import lorenz_curve
    >>> lc = lorenz_curve([1, 1, 2, 6])
    >>> lc.value_share.tolist()
    [0.0, 0.1, 0.2, 0.4, 1.0]
    >>> round(lc.gini, 3), round(lc.top_share(0.25), 2)
    (0.4, 0.6)
    """
    x = _values(values)
    _nonnegative(x)
    s = np.sort(x)
    n = len(s)
    total = float(s.sum())
    cum = np.empty(n + 1)
    cum[0] = 0.0
    np.cumsum(s, out=cum[1:])
    cshare = np.arange(n + 1, dtype=np.float64) / n
    share = cum / total if total > 0 else cshare.copy()
    return LorenzCurve(
        customer_share=v.readonly(cshare),
        value_share=v.readonly(share),
        gini=_gini_sorted(s, cum[1:]),
        total=total,
    )


def gini(values: Any) -> float:
    """Return the Gini coefficient of non-negative customer values.

    Parameters
    ----------
    values : array_like of float, shape (n,)
        One non-negative value per customer.

    Returns
    -------
    float
        ``0`` for equal values, up to ``(n − 1)/n`` when one customer holds
        everything. See :func:`lorenz_curve` for the formula.

    Raises
    ------
    EmptyInputError
        If ``values`` is empty.
    InvalidInputError
        If a value is negative or not finite.

    Examples
    --------
    >>> from custrel.pyramid import gini
    >>> gini([5, 5, 5]), round(gini([0, 0, 0, 10]), 2)
    (0.0, 0.75)
    """
    x = _values(values)
    _nonnegative(x)
    return _gini_sorted(np.sort(x))


def top_share(values: Any, fraction: float = 0.2) -> float:
    """Share of the total value held by the top ``fraction`` of customers.

    Parameters
    ----------
    values : array_like of float, shape (n,)
        One non-negative value per customer.
    fraction : float, default 0.2
        The share of customers, best first (0.2 = the top 20 %).

    Returns
    -------
    float
        In ``[0, 1]``; linear interpolation between customers, so the top
        10 % of 5 customers counts half of the best one.

    Raises
    ------
    EmptyInputError
        If ``values`` is empty.
    InvalidInputError
        If a value is negative or not finite, or ``fraction`` is outside [0, 1].

    Examples
    --------
    >>> from custrel.pyramid import top_share
    >>> top_share([80, 5, 5, 5, 5], 0.2)
    0.8
    """
    f = v.scalar(fraction, "fraction", low=0.0, high=1.0)
    return lorenz_curve(values).top_share(f)


@attrs.frozen
class WhaleCurve:
    """The cumulative-profit ("whale") curve, most profitable customers first.

    Attributes
    ----------
    customer_share : ndarray of float, shape (n + 1,)
        ``0, 1/n, ..., 1``: the share of customers, most profitable first.
    profit_share : ndarray of float, shape (n + 1,)
        Their cumulative profit as a share of the total profit; it rises above
        1 while profitable customers accumulate and falls back to 1 as
        loss-making customers are added.
    peak_share : float
        The highest point of the curve (1.5 = the profitable customers earn
        150 % of the total profit).
    peak_customer_share : float
        The share of customers at the peak (the profitable ones).
    total : float
        The total profit.
    """

    customer_share: FloatArray = attrs.field(converter=v.freeze)
    profit_share: FloatArray = attrs.field(converter=v.freeze)
    peak_share: float = attrs.field(converter=v.freeze)
    peak_customer_share: float = attrs.field(converter=v.freeze)
    total: float = attrs.field(converter=v.freeze)

    def top_share(self, fraction: float = 0.2) -> float:
        """Cumulative profit share of the top ``fraction`` of customers (may exceed 1)."""
        f = v.scalar(fraction, "fraction", low=0.0, high=1.0)
        return _interp_top(self.customer_share, self.profit_share, f)


def whale_curve(profit: Any) -> WhaleCurve:
    """Compute the profit whale curve of a customer base.

    Parameters
    ----------
    profit : array_like of float, shape (n,)
        One profit per customer; losses are negative.

    Returns
    -------
    WhaleCurve

    Raises
    ------
    EmptyInputError
        If ``profit`` is empty.
    InvalidInputError
        If a profit is not finite, or the total profit is not positive (the
        shares of a zero or negative total have no meaning).

    Notes
    -----
    Customers are sorted by profit, highest first; the curve passes through
    ``(i/n, Σ_{j<=i} π_(j) / Σ π)``. Reported figures (domain notes §3): the top
    20 % of customers can produce about 150 % of the profit while the bottom
    30 % consume half of it (Meridien Research).

    References
    ----------
    Kaplan, R. S., & Narayanan, V. G. (2001). Measuring and managing customer
    profitability. *Journal of Cost Management*, 15(5), 5-15.

    Examples
    --------
    >>> from custrel.pyramid import whale_curve
    >>> w = whale_curve([100, 60, 20, -30, -50])
    >>> w.peak_share, w.peak_customer_share
    (1.8, 0.6)
    >>> w.profit_share.tolist()
    [0.0, 1.0, 1.6, 1.8, 1.5, 1.0]
    """
    x = _values(profit, "profit")
    total = float(x.sum())
    if not total > 0:
        raise InvalidInputError(
            f"profit must have a positive total for a whale curve, got {total!r}; "
            "shares of a zero or negative total are meaningless"
        )
    s = -np.sort(-x)
    n = len(s)
    cum = np.empty(n + 1)
    cum[0] = 0.0
    np.cumsum(s, out=cum[1:])
    share = cum / total
    peak = int(np.argmax(share))
    cshare = np.arange(n + 1, dtype=np.float64) / n
    return WhaleCurve(
        customer_share=v.readonly(cshare),
        profit_share=v.readonly(share),
        peak_share=float(share[peak]),
        peak_customer_share=float(cshare[peak]),
        total=total,
    )


# ---------------------------------------------------------------------------
# ABC analysis
# ---------------------------------------------------------------------------


@attrs.frozen
class ABCResult(Tabular, columns=("customer_id", "value", "code")):
    """ABC classes of customers and the per-class summary.

    Attributes
    ----------
    customer_id : ndarray
        The customers, in input order (``0..n-1`` when no ids were given).
    value : ndarray of float
        Their values, as given.
    code : ndarray of int
        Each customer's class: 0 = A, 1 = B, 2 = C.
    method : str
        ``"value"``, ``"customers"`` or ``"data"`` (how the limits were set).
    cutoffs : tuple of float
        The cumulative shares that set the A/B and B/C limits: of value for
        ``"value"``, of customers for ``"customers"`` and ``"data"``.
    count, value_sum, customer_share, value_share, mean_value : ndarray
        Per class A, B, C: customers, total value, share of customers, share
        of the total value (nan when the total is 0), mean value (nan for an
        empty class, 0/0).
    pareto_point, break_even_point, submarginal_point : tuple of float or None
        With ``method="data"``, the points ``(customer share, value share)``
        of the ABC curve that Ultsch & Lötsch (2015) use; else ``None``.
    """

    customer_id: npt.NDArray[Any] = attrs.field(converter=v.freeze)
    value: FloatArray = attrs.field(converter=v.freeze)
    code: IntArray = attrs.field(converter=v.freeze)
    method: str = attrs.field(converter=v.freeze)
    cutoffs: tuple[float, float] = attrs.field(converter=v.freeze)
    count: IntArray = attrs.field(converter=v.freeze)
    value_sum: FloatArray = attrs.field(converter=v.freeze)
    customer_share: FloatArray = attrs.field(converter=v.freeze)
    value_share: FloatArray = attrs.field(converter=v.freeze)
    mean_value: FloatArray = attrs.field(converter=v.freeze)
    pareto_point: tuple[float, float] | None = attrs.field(default=None, converter=v.freeze)
    break_even_point: tuple[float, float] | None = attrs.field(default=None, converter=v.freeze)
    submarginal_point: tuple[float, float] | None = attrs.field(default=None, converter=v.freeze)

    def labels(self) -> npt.NDArray[np.str_]:
        """Each customer's class as ``"A"``, ``"B"`` or ``"C"``."""
        return np.asarray(ABC_CLASSES)[self.code]

    def rows(self) -> list[dict[str, Any]]:
        """One row per class: class, count, value, customer_share, value_share, mean_value."""
        return [
            {
                "class": c,
                "count": int(self.count[i]),
                "value": float(self.value_sum[i]),
                "customer_share": float(self.customer_share[i]),
                "value_share": float(self.value_share[i]),
                "mean_value": float(self.mean_value[i]),
            }
            for i, c in enumerate(ABC_CLASSES)
        ]


def _abc_data_limits(
    sorted_desc: FloatArray,
) -> tuple[int, int, tuple[float, float], tuple[float, float], tuple[float, float]]:
    """A/B and B/C limits (customer counts) and the curve points of Ultsch & Lötsch (2015)."""
    n = len(sorted_desc)
    pos = np.maximum(sorted_desc, 0.0)
    total = float(pos.sum())
    x = np.arange(n + 1, dtype=np.float64) / n
    y = np.zeros(n + 1)
    if total > 0:
        np.cumsum(pos / total, out=y[1:])
    else:
        return 0, 0, (0.0, 0.0), (0.0, 0.0), (0.0, 0.0)
    pareto = int(np.argmin(x**2 + (1.0 - y) ** 2))
    # Slope of the curve on the segment ending at point i: x_(i) / mean.
    slope = np.empty(n + 1)
    slope[0] = np.inf
    slope[1:] = pos * n / total
    break_even = int(np.argmin(np.abs(slope - 1.0)))
    ab = min(pareto, break_even)
    xb = x[max(pareto, break_even)]
    sub = int(np.argmin((x - xb) ** 2 + (1.0 - y) ** 2))
    sub = max(sub, ab)
    return (
        ab,
        sub,
        (float(x[pareto]), float(y[pareto])),
        (float(x[break_even]), float(y[break_even])),
        (float(x[sub]), float(y[sub])),
    )


def abc_analysis(
    values: Any,
    *,
    by: str = "value",
    cutoffs: Sequence[float] | None = None,
    customer_id: Any = None,
) -> ABCResult:
    """Classify customers into A, B and C by their share of the value.

    Parameters
    ----------
    values : array_like of float, shape (n,)
        One value per customer (sales, profit, CLV). Negative values are
        allowed and always land in C.
    by : {"value", "customers", "data"}, default "value"
        ``"value"``: a customer is A while the customers ranked above it hold
        less than ``cutoffs[0]`` of the value, B while they hold less than
        ``cutoffs[1]``, else C. ``"customers"``: the top ``cutoffs[0]`` of
        customers are A, up to ``cutoffs[1]`` B, the rest C. ``"data"``: the
        limits are computed from the curve (see Notes).
    cutoffs : sequence of two floats, optional
        Cumulative shares of the A/B and B/C limits. Defaults reproduce
        domain notes §3 (A ≈ 15 % of customers with 65 % of sales, B 20 % / 20 %,
        C 65 % / 15 %): ``(0.65, 0.85)`` of value for ``by="value"`` and
        ``(0.15, 0.35)`` of customers for ``by="customers"``. Not used with
        ``by="data"``.
    customer_id : array_like, optional
        Unique customer ids, kept in the result.

    Returns
    -------
    ABCResult

    Raises
    ------
    EmptyInputError
        If ``values`` is empty.
    InvalidInputError
        If a value is not finite, ``by`` is unknown, the cutoffs are not two
        increasing shares in [0, 1], or ids repeat.

    Notes
    -----
    Customers are ranked by value, highest first; tied customers never split
    across classes (the group takes the class of its best-ranked member).
    Shares of value are taken of the positive total, so loss-making or zero
    customers are always C; when no customer has a positive value, everyone is
    C with ``by="value"`` or ``by="data"``.

    ``by="data"`` follows the computed ABC analysis of Ultsch & Lötsch (2015)
    on the curve ``(i/n, cumulative value share)``: the Pareto point is the
    point closest to the ideal corner (0, 1); the break-even point is where
    the slope of the curve (a customer's value over the mean value) is
    closest to 1; A ends at the earlier of the two; B ends at the submarginal
    point, the point closest to ``(x, 1)`` where ``x`` is the later of the two.

    References
    ----------
    Ultsch, A., & Lötsch, J. (2015). Computed ABC analysis for rational
    selection of most informative variables in multivariate data. *PLoS ONE*,
    10(6), e0129767.

    Examples
    --------
    >>> from custrel.pyramid import abc_analysis
    >>> abc = abc_analysis([50, 20, 10, 8, 5, 4, 3])
    >>> abc.labels().tolist()
    ['A', 'A', 'B', 'B', 'C', 'C', 'C']
    >>> abc.count.tolist(), abc.value_share.round(2).tolist()
    ([2, 2, 3], [0.7, 0.18, 0.12])
    """
    x = _values(values)
    v.choice(by, "by", ("value", "customers", "data"))
    n = len(x)
    ids = _ids(customer_id, n)
    s = _sorted_desc(x)
    pareto = break_even = sub = None
    if by == "customers":
        cut = _cutoffs(_ABC_CUSTOMER_CUTOFFS if cutoffs is None else cutoffs, "cutoffs")
        top = _top_counts(n, cut)
    elif by == "value":
        cut = _cutoffs(_ABC_VALUE_CUTOFFS if cutoffs is None else cutoffs, "cutoffs")
        top = _share_counts(s, cut)
    else:
        if cutoffs is not None:
            raise InvalidInputError(
                "cutoffs is not used with by='data' (the limits come from the data); drop it"
            )
        ab, bc, pareto, break_even, sub = _abc_data_limits(s)
        cut = np.array([ab / n, bc / n])
        top = np.array([ab, bc], dtype=np.int64)
    code = _codes(x, s, top)
    count, value_sum, cshare, vshare, mean = _group_stats(code, x, 3)
    return ABCResult(
        customer_id=ids,
        value=v.readonly(x),
        code=v.readonly(code),
        method=by,
        cutoffs=(float(cut[0]), float(cut[1])),
        count=v.readonly(count),
        value_sum=v.readonly(value_sum),
        customer_share=v.readonly(cshare),
        value_share=v.readonly(vshare),
        mean_value=v.readonly(mean),
        pareto_point=pareto,
        break_even_point=break_even,
        submarginal_point=sub,
    )


# ---------------------------------------------------------------------------
# Tier strategies (domain notes §3)
# ---------------------------------------------------------------------------


def _str_tuple(values: Iterable[str]) -> tuple[str, ...]:
    if isinstance(values, str) or not isinstance(values, Iterable):
        raise InvalidTypeError(
            f"actions must be a sequence of str, got {type(values).__name__} {values!r:.40}"
        )
    out = tuple(values.tolist() if isinstance(values, np.ndarray) else values)
    bad = [a for a in out if not isinstance(a, str)]
    if bad:
        raise InvalidTypeError(f"actions must be a sequence of str, got {bad[0]!r:.40}")
    return out


@attrs.frozen
class TierStrategy:
    """What to do with the customers of one pyramid tier.

    Attributes
    ----------
    tier : Tier
        The tier.
    role : str
        The tier's role in the customer base (key, secondary key, ordinary,
        small).
    actions : tuple of str
        The recommended actions, most important first.
    """

    tier: Tier = attrs.field(converter=v.freeze)
    role: str = attrs.field(converter=v.freeze)
    actions: tuple[str, ...] = attrs.field(converter=_str_tuple)

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.tier, Tier):
            raise InvalidTypeError(
                f"tier must be a Tier (Tier.PLATINUM .. Tier.LEAD), got "
                f"{type(self.tier).__name__} {self.tier!r:.40}"
            )
        if not isinstance(self.role, str):
            raise InvalidTypeError(f"role must be a str, got {type(self.role).__name__}")


#: The tier strategy table of domain notes §3. Override it by passing your own
#: mapping (``{**TIER_STRATEGIES, Tier.LEAD: TierStrategy(...)}``) to
#: :meth:`Pyramid.rows`.
TIER_STRATEGIES: Mapping[Tier, TierStrategy] = MappingProxyType(
    {
        Tier.PLATINUM: TierStrategy(
            Tier.PLATINUM,
            "key account",
            (
                "concentrate resources",
                "regular visits",
                "ask for feedback",
                "fast complaint handling",
                "dedicated service unit",
            ),
        ),
        Tier.GOLD: TierStrategy(
            Tier.GOLD,
            "key account (secondary)",
            (
                "concentrate resources",
                "regular visits",
                "ask for feedback",
                "fast complaint handling",
                "motivate to climb to platinum",
            ),
        ),
        Tier.IRON: TierStrategy(
            Tier.IRON,
            "ordinary",
            (
                "develop those with upgrade potential",
                "cheaper service for those without",
            ),
        ),
        Tier.LEAD: TierStrategy(
            Tier.LEAD,
            "small",
            (
                "serve cheaply (the long tail adds up)",
                "drop bad (loss-making) customers",
            ),
        ),
    }
)


def _check_strategies(strategies: Mapping[Tier, TierStrategy]) -> None:
    if not isinstance(strategies, Mapping):
        raise InvalidTypeError(
            f"strategies must be a mapping from Tier to TierStrategy, got {type(strategies).__name__}"
        )
    missing = [t.name for t in _TIERS if t not in strategies]
    if missing:
        raise InvalidInputError(
            f"strategies has no entry for tier {', '.join(missing)}; "
            "start from {**TIER_STRATEGIES, ...} to override only some tiers"
        )
    for t in _TIERS:
        if not isinstance(strategies[t], TierStrategy):
            raise InvalidTypeError(
                f"strategies[{t.name}] must be a TierStrategy, got {type(strategies[t]).__name__}"
            )


# ---------------------------------------------------------------------------
# Learned tier rule: a small CART tree in numpy
# ---------------------------------------------------------------------------


@attrs.frozen
class TierRule:
    """A depth-limited decision tree that assigns pyramid tiers from attributes.

    Fit it with :func:`fit_tier_rule`; nodes are stored in flat arrays (node 0
    is the root).

    Attributes
    ----------
    names : tuple of str
        The attribute names, one per column.
    feature : ndarray of int
        Per node, the column it splits on (-1 for a leaf).
    threshold : ndarray of float
        Per node, the split: rows with ``x[feature] <= threshold`` go left
        (0 for a leaf, which does not split).
    left, right : ndarray of int
        Per node, the child nodes (-1 for a leaf).
    tier : ndarray of int
        Per node, the majority tier (1 = platinum .. 4 = lead) of its
        training customers; ties go to the better tier.
    counts : ndarray of int, shape (nodes, 4)
        Per node, the training customers of each tier.
    max_depth : int
        The depth limit used.
    training_accuracy : float
        The share of training customers the rule puts in their own tier.
    """

    names: tuple[str, ...] = attrs.field(converter=v.freeze)
    feature: IntArray = attrs.field(converter=v.freeze)
    threshold: FloatArray = attrs.field(converter=v.freeze)
    left: IntArray = attrs.field(converter=v.freeze)
    right: IntArray = attrs.field(converter=v.freeze)
    tier: IntArray = attrs.field(converter=v.freeze)
    counts: IntArray = attrs.field(converter=v.freeze)
    max_depth: int = attrs.field(converter=v.freeze)
    training_accuracy: float = attrs.field(converter=v.freeze)

    def _attributes(self, attributes: Any) -> FloatArray:
        x = v.as_float_array(attributes, "attributes", ndim=(1, 2))
        if x.ndim == 1:
            x = x.reshape(-1, 1)
        if x.shape[1] != len(self.names):
            raise InvalidInputError(
                f"attributes has {x.shape[1]} columns but the rule was fitted on "
                f"{len(self.names)} ({', '.join(self.names)})"
            )
        return x

    def predict(self, attributes: Any) -> IntArray:
        """Tier (1 = platinum .. 4 = lead) of each row of ``attributes``.

        Parameters
        ----------
        attributes : array_like of float, shape (n, p)
            The same columns, in the same order, as at fitting.

        Returns
        -------
        ndarray of int
        """
        x = self._attributes(attributes)
        node = np.zeros(len(x), dtype=np.int64)
        rows = np.arange(len(x))
        for _ in range(self.max_depth):
            f = self.feature[node]
            inner = f >= 0
            if not inner.any():
                break
            go_left = np.zeros(len(x), dtype=bool)
            go_left[inner] = x[rows[inner], f[inner]] <= self.threshold[node[inner]]
            node = np.where(inner, np.where(go_left, self.left[node], self.right[node]), node)
        return v.readonly(self.tier[node].copy())

    def accuracy(self, attributes: Any, tiers: Any) -> float:
        """Share of customers whose known tier the rule reproduces (for validation)."""
        y = _tier_labels(tiers, "tiers")
        pred = self.predict(attributes)
        v.check_same_length(attributes=pred, tiers=y)
        return float(np.mean(pred == y))

    def rules(self) -> list[str]:
        """The rule as readable lines, one per leaf: ``if ... then TIER``."""
        out: list[str] = []
        stack: list[tuple[int, list[str]]] = [(0, [])]
        while stack:
            node, conds = stack.pop()
            if self.feature[node] < 0:
                c = self.counts[node]
                total = int(c.sum())
                tier = Tier(int(self.tier[node]))
                purity = c[tier - 1] / total if total else float("nan")
                head = "if " + " and ".join(conds) if conds else "always"
                out.append(f"{head} then {tier.name} (n={total}, {purity:.0%} {tier.name})")
                continue
            name = self.names[int(self.feature[node])]
            thr = f"{float(self.threshold[node]):.6g}"
            stack.append((int(self.right[node]), [*conds, f"{name} > {thr}"]))
            stack.append((int(self.left[node]), [*conds, f"{name} <= {thr}"]))
        return out

    def to_text(self) -> str:
        """The rules joined by newlines."""
        return "\n".join(self.rules())


def _tier_labels(tiers: Any, name: str) -> IntArray:
    try:
        arr = np.asarray(tiers)
    except (TypeError, ValueError) as exc:  # ragged or odd input
        raise InvalidTypeError(f"{name} must be a 1-D sequence of tiers 1..4: {exc}") from None
    if arr.dtype.kind == "O":  # Tier members (an IntEnum) in an object array
        items = arr.tolist() if arr.ndim == 1 else []
        if items and all(
            isinstance(t, int) and not isinstance(t, bool) and abs(t) < 2**62 for t in items
        ):
            arr = np.asarray([int(t) for t in items], dtype=np.int64)
    if arr.dtype.kind not in "iuf" or arr.dtype.kind == "b":
        raise InvalidTypeError(
            f"{name} must hold Tier members or their integer values 1..4, got dtype {arr.dtype}"
        )
    f = v.as_float_array(arr, name, ndim=1)
    v.check_integer_valued(f, name)
    bad = (f < 1) | (f > 4)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InvalidInputError(
            f"{name} must be tiers 1..4, got {f[row]:g} at row {row}; "
            "1 = PLATINUM, 2 = GOLD, 3 = IRON, 4 = LEAD"
        )
    return f.astype(np.int64)


def _gini_impurity(counts: npt.NDArray[Any], total: npt.NDArray[Any]) -> FloatArray:
    with np.errstate(invalid="ignore", divide="ignore"):
        p = counts / total[..., None]
    out: FloatArray = np.nan_to_num(1.0 - (p * p).sum(axis=-1))
    return out


def _best_split(x: FloatArray, onehot: IntArray, min_leaf: int) -> tuple[int, float, float] | None:
    """The (feature, threshold, weighted impurity) of the best split, or None."""
    m = len(x)
    best: tuple[int, float, float] | None = None
    total = onehot.sum(axis=0)
    for j in range(x.shape[1]):
        order = np.argsort(x[:, j], kind="stable")
        xs = x[order, j]
        cum = np.cumsum(onehot[order], axis=0)[:-1]  # left counts after position i
        nl = np.arange(1, m, dtype=np.float64)
        nr = m - nl
        valid = (xs[1:] > xs[:-1]) & (nl >= min_leaf) & (nr >= min_leaf)
        if not valid.any():
            continue
        imp = (nl * _gini_impurity(cum, nl) + nr * _gini_impurity(total - cum, nr)) / m
        imp = np.where(valid, imp, np.inf)
        i = int(np.argmin(imp))
        if best is None or imp[i] < best[2] - 1e-12:
            best = (j, _midpoint(float(xs[i]), float(xs[i + 1])), float(imp[i]))
    return best


def _midpoint(a: float, b: float) -> float:
    """A split between a < b: their mean, without overflow, never b itself."""
    mid = a / 2.0 + b / 2.0 if abs(a) > 1e300 or abs(b) > 1e300 else (a + b) / 2.0
    return mid if a <= mid < b else a


def fit_tier_rule(
    attributes: Any,
    tiers: Any,
    *,
    max_depth: int = 3,
    min_leaf: int = 1,
    names: Sequence[str] | None = None,
) -> TierRule:
    """Learn a tiering rule (a small decision tree) from labelled customers.

    Parameters
    ----------
    attributes : array_like of float, shape (n, p)
        Numeric attributes of the labelled customers (recency, frequency,
        spend, region code, ...); a 1-D array is one attribute.
    tiers : array_like of Tier or int, shape (n,)
        Their known tiers (1 = platinum .. 4 = lead).
    max_depth : int, default 3
        The depth limit; at most ``2**max_depth`` rules.
    min_leaf : int, default 1
        The fewest training customers a leaf may hold.
    names : sequence of str, optional
        The attribute names used when the rules are printed
        (default ``x0, x1, ...``).

    Returns
    -------
    TierRule
        Apply it to unlabelled customers with :meth:`TierRule.predict` or
        ``customer_pyramid(values, by="rule", rule=..., attributes=...)``;
        validate it on held-out labelled customers with
        :meth:`TierRule.accuracy`.

    Raises
    ------
    EmptyInputError
        If there are no customers.
    InvalidInputError
        If an attribute is not finite, a tier is outside 1..4, lengths differ,
        or ``names`` does not name every column.
    InvalidTypeError
        If tiers are not numbers.

    Notes
    -----
    CART with the Gini impurity ``1 − Σ_k p_k²``: at each node every split
    between two distinct values of every attribute is scored at once from
    cumulative class counts over the sorted attribute, and the split with the
    lowest weighted impurity is kept if it lowers the impurity. Ties between
    splits go to the first attribute and the lowest threshold, so the rule
    does not depend on the order of the rows. The tree is the
    "learned rule" route to a pyramid of domain notes §3: choose the classes,
    extract the attributes, learn, validate, apply.

    References
    ----------
    Breiman, L., Friedman, J. H., Olshen, R. A., & Stone, C. J. (1984).
    *Classification and Regression Trees*. Wadsworth.

    Examples
    --------
    >>> from custrel import Tier
    >>> from custrel.pyramid import fit_tier_rule
    >>> spend = [[900, 2], [800, 3], [300, 9], [250, 7], [40, 1], [30, 2]]
    >>> tiers = [Tier.GOLD, Tier.GOLD, Tier.IRON, Tier.IRON, Tier.LEAD, Tier.LEAD]
    >>> rule = fit_tier_rule(spend, tiers, max_depth=2, names=["spend", "visits"])
    >>> print(rule.to_text())
    if spend <= 145 then LEAD (n=2, 100% LEAD)
    if spend > 145 and spend <= 550 then IRON (n=2, 100% IRON)
    if spend > 145 and spend > 550 then GOLD (n=2, 100% GOLD)
    >>> rule.predict([[500, 4], [20, 1]]).tolist()
    [3, 4]
    """
    x = v.as_float_array(attributes, "attributes", ndim=(1, 2))
    if x.ndim == 1:
        x = x.reshape(-1, 1)
    y = _tier_labels(tiers, "tiers")
    v.check_same_length(attributes=x, tiers=y)
    depth = v.positive_int(max_depth, "max_depth", minimum=1)
    leaf = v.positive_int(min_leaf, "min_leaf", minimum=1)
    p = x.shape[1]
    if names is None:
        label = tuple(f"x{j}" for j in range(p))
    else:
        if isinstance(names, str) or not isinstance(names, Sequence):
            raise InvalidTypeError(f"names must be a sequence of str, got {type(names).__name__}")
        label = tuple(str(s) for s in names)
        if len(label) != p:
            raise InvalidInputError(
                f"names has {len(label)} entries but attributes has {p} columns"
            )
    onehot = np.zeros((len(y), 4), dtype=np.int64)
    onehot[np.arange(len(y)), y - 1] = 1

    feature: list[int] = []
    threshold: list[float] = []
    left: list[int] = []
    right: list[int] = []
    tier: list[int] = []
    counts: list[npt.NDArray[np.int64]] = []

    def new_node(idx: IntArray) -> int:
        c = onehot[idx].sum(axis=0)
        feature.append(-1)
        threshold.append(0.0)  # a leaf does not split
        left.append(-1)
        right.append(-1)
        tier.append(int(np.argmax(c)) + 1)
        counts.append(c)
        return len(feature) - 1

    root = new_node(np.arange(len(y)))
    stack: list[tuple[int, IntArray, int]] = [(root, np.arange(len(y)), 0)]
    while stack:
        node, idx, d = stack.pop()
        c = counts[node]
        if d >= depth or np.count_nonzero(c) <= 1 or len(idx) < 2 * leaf:
            continue
        split = _best_split(x[idx], onehot[idx], leaf)
        parent = float(_gini_impurity(c[None, :], np.array([float(len(idx))]))[0])
        if split is None or split[2] >= parent - 1e-12:
            continue
        j, thr, _ = split
        go_left = x[idx, j] <= thr
        li = new_node(idx[go_left])
        ri = new_node(idx[~go_left])
        feature[node], threshold[node], left[node], right[node] = j, thr, li, ri
        stack.append((ri, idx[~go_left], d + 1))
        stack.append((li, idx[go_left], d + 1))

    rule = TierRule(
        names=label,
        feature=v.readonly(np.asarray(feature, dtype=np.int64)),
        threshold=v.readonly(np.asarray(threshold, dtype=np.float64)),
        left=v.readonly(np.asarray(left, dtype=np.int64)),
        right=v.readonly(np.asarray(right, dtype=np.int64)),
        tier=v.readonly(np.asarray(tier, dtype=np.int64)),
        counts=v.readonly(np.vstack(counts)),
        max_depth=depth,
        training_accuracy=0.0,
    )
    acc = float(np.mean(rule.predict(x) == y))
    return attrs.evolve(rule, training_accuracy=acc)


# ---------------------------------------------------------------------------
# The customer pyramid
# ---------------------------------------------------------------------------


@attrs.frozen
class Pyramid(Tabular, columns=("customer_id", "value", "tier")):
    """Customers in the four pyramid tiers and the per-tier summary.

    Attributes
    ----------
    customer_id : ndarray
        The customers, in input order (``0..n-1`` when no ids were given).
    value : ndarray of float
        Their values, as given.
    tier : ndarray of int
        Each customer's tier as the :class:`~custrel.models.Tier` value
        (1 = platinum, 2 = gold, 3 = iron, 4 = lead).
    method : str
        ``"customers"``, ``"value"``, ``"threshold"`` or ``"rule"``.
    count : ndarray of int, shape (4,)
        Customers per tier, platinum first.
    value_sum : ndarray of float, shape (4,)
        Total value per tier.
    customer_share : ndarray of float, shape (4,)
        Share of the customers per tier (sums to 1).
    value_share : ndarray of float, shape (4,)
        Share of the total value per tier (sums to 1; nan when the total is
        0). With loss-making customers the lead share is negative and the
        other shares can exceed 1 together.
    mean_value : ndarray of float, shape (4,)
        Mean value per tier (nan for an empty tier, 0/0).
    min_value : ndarray of float, shape (4,)
        The lowest value in each tier (nan for an empty tier): the effective
        thresholds.
    """

    customer_id: npt.NDArray[Any] = attrs.field(converter=v.freeze)
    value: FloatArray = attrs.field(converter=v.freeze)
    tier: IntArray = attrs.field(converter=v.freeze)
    method: str = attrs.field(converter=v.freeze)
    count: IntArray = attrs.field(converter=v.freeze)
    value_sum: FloatArray = attrs.field(converter=v.freeze)
    customer_share: FloatArray = attrs.field(converter=v.freeze)
    value_share: FloatArray = attrs.field(converter=v.freeze)
    mean_value: FloatArray = attrs.field(converter=v.freeze)
    min_value: FloatArray = attrs.field(converter=v.freeze)

    def tiers(self) -> list[Tier]:
        """Each customer's tier as a :class:`~custrel.models.Tier` member."""
        return [Tier(t) for t in self.tier.tolist()]

    def labels(self) -> npt.NDArray[np.str_]:
        """Each customer's tier name in lower case (``"platinum"`` .. ``"lead"``)."""
        return np.asarray(["", *(t.name.lower() for t in _TIERS)])[self.tier]

    def key_accounts(self) -> BoolArray:
        """Whether each customer is a key account (platinum or gold, domain notes §3)."""
        return v.readonly(self.tier <= Tier.GOLD)

    def rows(
        self, *, strategies: Mapping[Tier, TierStrategy] | None = TIER_STRATEGIES
    ) -> list[dict[str, Any]]:
        """The per-tier summary table, platinum first.

        Parameters
        ----------
        strategies : mapping from Tier to TierStrategy, optional
            The strategy table to attach (default :data:`TIER_STRATEGIES`);
            ``None`` leaves the role and actions out.

        Returns
        -------
        list of dict
            Keys ``tier``, ``count``, ``customer_share``, ``value``,
            ``value_share``, ``mean_value``, ``min_value`` and, with
            strategies, ``role`` and ``actions`` (joined by "; ").
        """
        if strategies is not None:
            _check_strategies(strategies)
        out: list[dict[str, Any]] = []
        for i, t in enumerate(_TIERS):
            row: dict[str, Any] = {
                "tier": t.name.lower(),
                "count": int(self.count[i]),
                "customer_share": float(self.customer_share[i]),
                "value": float(self.value_sum[i]),
                "value_share": float(self.value_share[i]),
                "mean_value": float(self.mean_value[i]),
                "min_value": float(self.min_value[i]),
            }
            if strategies is not None:
                row["role"] = strategies[t].role
                row["actions"] = "; ".join(strategies[t].actions)
            out.append(row)
        return out

    def to_text(self) -> str:
        """The per-tier summary as a plain-text table."""
        head = f"{'tier':<9}{'count':>9}{'cust %':>9}{'value':>14}{'value %':>9}{'mean':>12}"
        lines = [head]
        lines.extend(
            f"{r['tier']:<9}{r['count']:>9d}{100 * r['customer_share']:>9.1f}"
            f"{r['value']:>14.2f}{100 * r['value_share']:>9.1f}{r['mean_value']:>12.2f}"
            for r in self.rows(strategies=None)
        )
        return "\n".join(lines)


def _thresholds(thresholds: Any) -> FloatArray:
    arr = v.as_float_array(thresholds, "thresholds", ndim=1)
    if len(arr) != 3:
        raise InvalidInputError(
            f"thresholds must have 3 entries (the lowest platinum, gold and iron values), "
            f"got {len(arr)}"
        )
    if not (arr[0] > arr[1] > arr[2]):
        raise InvalidInputError(
            f"thresholds must be strictly decreasing (platinum > gold > iron), got {arr.tolist()}"
        )
    return arr


def customer_pyramid(
    values: Any,
    *,
    by: str = "customers",
    shares: Sequence[float] | None = None,
    thresholds: Sequence[float] | None = None,
    rule: TierRule | None = None,
    attributes: Any = None,
    losses_to_lead: bool = True,
    customer_id: Any = None,
) -> Pyramid:
    """Place customers in the platinum, gold, iron and lead tiers of the pyramid.

    Parameters
    ----------
    values : array_like of float, shape (n,)
        One value per customer (profit, revenue, CLV); losses are negative.
    by : {"customers", "value", "threshold", "rule"}, default "customers"
        ``"customers"``: by shares of the customer count, best first.
        ``"value"``: by cumulative shares of the value (a customer is in the
        first tier whose cumulative share the customers ranked above it have
        not yet reached). ``"threshold"``: by absolute value thresholds.
        ``"rule"``: by a learned :class:`TierRule` applied to ``attributes``.
    shares : sequence of four floats, optional
        The shares of platinum, gold, iron and lead (summing to 1). For
        ``by="customers"`` the default is domain notes §3's
        ``(0.05, 0.15, 0.30, 0.50)``: platinum + gold are the top 20 %, the
        key accounts of the 80/20 rule. ``by="value"`` needs them given, for
        example ``(0.5, 0.3, 0.15, 0.05)``.
    thresholds : sequence of three floats, optional
        For ``by="threshold"``: the lowest value of platinum, gold and iron,
        strictly decreasing; lower values are lead.
    rule : TierRule, optional
        For ``by="rule"``: the rule from :func:`fit_tier_rule`.
    attributes : array_like, shape (n, p), optional
        For ``by="rule"``: the customers' attributes, columns as at fitting.
    losses_to_lead : bool, default True
        Put every customer with a negative value in lead whatever the shares
        say (Zeithaml, Rust & Lemon 2001: lead customers cost more than they
        bring). Applies to every method.
    customer_id : array_like, optional
        Unique customer ids, kept in the result (used by
        :func:`tier_migration` to match customers across dates).

    Returns
    -------
    Pyramid

    Raises
    ------
    EmptyInputError
        If ``values`` is empty.
    InvalidInputError
        If a value is not finite, ``by`` is unknown, an option of another
        method is given, shares do not sum to 1, thresholds are not
        decreasing, or ids repeat.

    Notes
    -----
    Customers are ranked by value, highest first. By customer shares, the
    first ``ceil(c_j n)`` ranks are in tiers up to ``j`` (``c_j`` the
    cumulative share), so the best customer is always platinum. Ties in value
    never split across tiers: a tied group that straddles a boundary joins
    the tier its best-ranked member reaches. By value shares, shares are of
    the positive total; customers with no positive value are lead. With
    ``"customers"``, ``"value"`` and ``"threshold"``, a customer with a higher
    value is never in a lower tier.

    References
    ----------
    Zeithaml, V. A., Rust, R. T., & Lemon, K. N. (2001). The customer
    pyramid: creating and serving profitable customers. *California
    Management Review*, 43(4), 118-142.

    Examples
    --------
    >>> from custrel.pyramid import customer_pyramid
    >>> values = [500, 300, 200, 120, 100, 80, 60, 40, 20, -10]
    >>> p = customer_pyramid(values)
    >>> p.labels().tolist()[:5]
    ['platinum', 'gold', 'iron', 'iron', 'iron']
    >>> p.count.tolist(), p.value_share.round(3).tolist()
    ([1, 1, 3, 5], [0.355, 0.213, 0.298, 0.135])
    >>> customer_pyramid(values, by="threshold", thresholds=[400, 150, 50]).count.tolist()
    [1, 2, 4, 3]
    """
    x = _values(values)
    v.choice(by, "by", ("customers", "value", "threshold", "rule"))
    n = len(x)
    ids = _ids(customer_id, n)
    given = {"shares": shares, "thresholds": thresholds, "rule": rule, "attributes": attributes}
    allowed = {
        "customers": {"shares"},
        "value": {"shares"},
        "threshold": {"thresholds"},
        "rule": {"rule", "attributes"},
    }[by]
    for key, val in given.items():
        if val is not None and key not in allowed:
            raise InvalidInputError(f"{key} is not used with by={by!r}; drop it")
    if by in ("customers", "value"):
        if shares is None and by == "value":
            raise InvalidInputError(
                "by='value' needs shares, the value shares of platinum, gold, iron and lead, "
                "for example shares=(0.5, 0.3, 0.15, 0.05)"
            )
        sh = _shares(_PYRAMID_SHARES if shares is None else shares, "shares", 4)
        cum = np.cumsum(sh)[:3]
        s = _sorted_desc(x)
        top = _top_counts(n, cum) if by == "customers" else _share_counts(s, cum)
        tier = _codes(x, s, top) + 1
    elif by == "threshold":
        if thresholds is None:
            raise InvalidInputError(
                "by='threshold' needs thresholds, the lowest platinum, gold and iron values"
            )
        thr = _thresholds(thresholds)
        tier = 4 - np.searchsorted(thr[::-1], x, side="right").astype(np.int64)
    else:
        if rule is None or attributes is None:
            raise InvalidInputError(
                "by='rule' needs rule (from fit_tier_rule) and attributes (one row per customer)"
            )
        if not isinstance(rule, TierRule):
            raise InvalidTypeError(f"rule must be a TierRule, got {type(rule).__name__}")
        tier = np.array(rule.predict(attributes), dtype=np.int64)
        if len(tier) != n:
            raise InvalidInputError(
                f"attributes has {len(tier)} rows but values has {n}; give one row per customer"
            )
    if not isinstance(losses_to_lead, bool):
        raise InvalidTypeError(
            f"losses_to_lead must be True or False, got {type(losses_to_lead).__name__}"
        )
    if losses_to_lead:
        tier = np.where(x < 0, int(Tier.LEAD), tier)
    tier = tier.astype(np.int64)
    count, value_sum, cshare, vshare, mean = _group_stats(tier - 1, x, 4)
    min_value = np.full(4, np.inf)
    np.minimum.at(min_value, tier - 1, x)
    min_value[count == 0] = np.nan
    return Pyramid(
        customer_id=ids,
        value=v.readonly(x),
        tier=v.readonly(tier),
        method=by,
        count=v.readonly(count),
        value_sum=v.readonly(value_sum),
        customer_share=v.readonly(cshare),
        value_share=v.readonly(vshare),
        mean_value=v.readonly(mean),
        min_value=v.readonly(min_value),
    )


# ---------------------------------------------------------------------------
# Tier migration
# ---------------------------------------------------------------------------


@attrs.frozen
class TierMigration(Tabular, columns=("customer_id", "tier_before", "tier_after")):
    """How customers moved between pyramid tiers from one date to another.

    Attributes
    ----------
    customer_id : ndarray
        Every customer present at either date, sorted.
    tier_before, tier_after : ndarray of int
        Their tiers (1 = platinum .. 4 = lead) at each date; 0 = not a
        customer at that date.
    balance : BalanceSheet
        The customer-asset balance sheet per tier, in counts and in value.
        Its ``transitions`` matrix has the tiers platinum..lead and then
        "not a customer" as rows (before) and columns (after).
    """

    customer_id: npt.NDArray[Any] = attrs.field(converter=v.freeze)
    tier_before: IntArray = attrs.field(converter=v.freeze)
    tier_after: IntArray = attrs.field(converter=v.freeze)
    balance: BalanceSheet = attrs.field(converter=v.freeze)

    @property
    def transitions(self) -> IntArray:
        """Counts by tier before (rows) and after (columns); index 4 = not a customer."""
        return self.balance.transitions

    def rates(self) -> FloatArray:
        """Transition rates: each row of :attr:`transitions` divided by its total (nan if 0)."""
        return self.balance.transition_rates()

    def change(self) -> IntArray:
        """Tiers climbed per customer: positive = upgrade, negative = downgrade.

        0 for customers new or lost (see :meth:`status`).
        """
        both = (self.tier_before > 0) & (self.tier_after > 0)
        return v.readonly(np.where(both, self.tier_before - self.tier_after, 0))

    def status(self) -> npt.NDArray[np.str_]:
        """Per customer: ``"new"``, ``"lost"``, ``"upgraded"``, ``"downgraded"`` or ``"stayed"``."""
        out = np.full(len(self.tier_before), "stayed", dtype="<U10")
        ch = self.change()
        out[ch > 0] = "upgraded"
        out[ch < 0] = "downgraded"
        out[self.tier_before == 0] = "new"
        out[self.tier_after == 0] = "lost"
        return out

    @property
    def upgrades(self) -> int:
        """Customers who moved to a better tier."""
        return int(self.balance.upgraded_out.sum())

    @property
    def downgrades(self) -> int:
        """Customers who moved to a worse tier."""
        return int(self.balance.downgraded_out.sum())

    @property
    def new(self) -> int:
        """Customers present only at the later date."""
        return int(self.balance.new.sum())

    @property
    def lost(self) -> int:
        """Customers present only at the earlier date."""
        return int(self.balance.lost.sum())


def tier_migration(before: Pyramid, after: Pyramid) -> TierMigration:
    """Compare two pyramids of the same customer base at two dates.

    Parameters
    ----------
    before, after : Pyramid
        The pyramids at the earlier and the later date, built with
        ``customer_id`` so that customers can be matched; a customer missing
        from one of them was not a customer at that date.

    Returns
    -------
    TierMigration
        With the transition matrix (counts and rates), the upgrades,
        downgrades, new and lost customers, and the balance sheet
        ``opening + new + upgraded − downgraded − lost = closing`` per tier in
        counts and in value (domain notes §1). Outflows and the opening balance
        are valued with ``before.value``, inflows and the closing balance with
        ``after.value``; the value change of customers who stay in a tier is
        the sheet's ``value_revalued``.

    Raises
    ------
    InvalidTypeError
        If an argument is not a :class:`Pyramid` or the two id kinds differ
        (numbers against strings).

    Examples
    --------
    >>> from custrel.pyramid import customer_pyramid, tier_migration
    >>> p1 = customer_pyramid([90, 50, 10], by="threshold", thresholds=[80, 40, 20],
    ...                       customer_id=["a", "b", "c"])
    >>> p2 = customer_pyramid([45, 85, 30], by="threshold", thresholds=[80, 40, 20],
    ...                       customer_id=["a", "b", "d"])
    >>> m = tier_migration(p1, p2)
    >>> m.status().tolist()
    ['downgraded', 'upgraded', 'lost', 'new']
    >>> m.upgrades, m.downgrades, m.new, m.lost
    (1, 1, 1, 1)
    >>> m.balance.closing.tolist()
    [1, 1, 1, 0]
    """
    for name, p in (("before", before), ("after", after)):
        if not isinstance(p, Pyramid):
            raise InvalidTypeError(f"{name} must be a Pyramid, got {type(p).__name__}")
    ib, ia = before.customer_id, after.customer_id
    if (ib.dtype.kind in "US") != (ia.dtype.kind in "US"):
        raise InvalidTypeError(
            f"customer_id kinds differ: before has {ib.dtype}, after has {ia.dtype}; "
            "use the same ids at both dates"
        )
    ids = _numeric.sorted_unique(np.concatenate([ib, ia]))
    m = len(ids)
    pos_b = np.searchsorted(ids, ib)
    pos_a = np.searchsorted(ids, ia)
    tb = np.zeros(m, dtype=np.int64)
    ta = np.zeros(m, dtype=np.int64)
    tb[pos_b] = before.tier
    ta[pos_a] = after.tier
    vb = np.zeros(m)
    va = np.zeros(m)
    vb[pos_b] = before.value
    va[pos_a] = after.value
    sheet = balance_sheet(
        tb - 1,
        ta - 1,
        classes=[t.name.lower() for t in _TIERS],
        value_before=vb,
        value_after=va,
    )
    return TierMigration(
        customer_id=v.readonly(ids),
        tier_before=v.readonly(tb),
        tier_after=v.readonly(ta),
        balance=sheet,
    )


# ---------------------------------------------------------------------------
# Decision scenarios (domain notes §3)
# ---------------------------------------------------------------------------


@attrs.frozen
class KeyAccounts(Tabular, columns=("customer_id", "is_key")):
    """The smallest set of best customers that brings a target share of the value.

    Attributes
    ----------
    customer_id : ndarray
        The customers, in input order.
    is_key : ndarray of bool
        Whether each customer is a key account.
    count : int
        The number of key accounts.
    customer_share : float
        Their share of the customers.
    value_share : float
        Their share of the total value (of the positive total when some
        values are negative).
    target : float
        The value share asked for.
    """

    customer_id: npt.NDArray[Any] = attrs.field(converter=v.freeze)
    is_key: BoolArray = attrs.field(converter=v.freeze)
    count: int = attrs.field(converter=v.freeze)
    customer_share: float = attrs.field(converter=v.freeze)
    value_share: float = attrs.field(converter=v.freeze)
    target: float = attrs.field(converter=v.freeze)

    def ids(self) -> npt.NDArray[Any]:
        """The ids of the key accounts, in input order."""
        return self.customer_id[self.is_key]


def key_accounts(values: Any, *, value_share: float = 0.8, customer_id: Any = None) -> KeyAccounts:
    """Find the key accounts: the fewest best customers that bring ``value_share`` of the value.

    Parameters
    ----------
    values : array_like of float, shape (n,)
        One value (sales, profit) per customer.
    value_share : float, default 0.8
        The share of the value the key accounts must bring together (the
        "80" of 80/20).
    customer_id : array_like, optional
        Unique customer ids.

    Returns
    -------
    KeyAccounts

    Raises
    ------
    EmptyInputError
        If ``values`` is empty.
    InvalidInputError
        If a value is not finite, no value is positive, or ``value_share`` is
        outside (0, 1].

    Notes
    -----
    Customers are ranked by value; a customer is a key account while the
    customers above it bring less than ``value_share`` of the positive total.
    Tied customers are kept together. Scenario (a) of domain notes §3: among 100
    customers, 18 bring 80 of 100 million in sales; they, not a fixed top
    20 %, are the key accounts.

    Examples
    --------
    >>> from custrel.pyramid import key_accounts
    >>> sales = [80 / 18] * 18 + [20 / 82] * 82      # million
    >>> ka = key_accounts(sales)
    >>> ka.count, round(ka.value_share, 2), ka.customer_share
    (18, 0.8, 0.18)
    """
    x = _values(values)
    target = v.scalar(value_share, "value_share", low=0.0, high=1.0, low_inclusive=False)
    n = len(x)
    ids = _ids(customer_id, n)
    total = float(np.maximum(x, 0.0).sum())
    if not total > 0:
        raise InvalidInputError(
            "values must include a positive value to find key accounts, got none"
        )
    s = _sorted_desc(x)
    top = _share_counts(s, np.array([target]))
    is_key = _codes(x, s, top) == 0
    kv = float(np.maximum(x[is_key], 0).sum())
    count = int(is_key.sum())
    return KeyAccounts(
        customer_id=ids,
        is_key=v.readonly(is_key),
        count=count,
        customer_share=count / n,
        value_share=kv / total,
        target=target,
    )


def _per_customer(value: Any, name: str, n: int) -> FloatArray:
    """A scalar broadcast to every customer, or one value per customer."""
    arr = v.as_float_array(value, name, ndim=(0, 1))
    if arr.ndim == 0:
        return np.full(n, float(arr))
    return arr


def expected_credit_cost(
    amount: Any,
    *,
    delay: Any = 0.0,
    financing_rate: float = 0.0,
    default_probability: Any = 0.0,
    loss_given_default: float = 1.0,
) -> FloatArray:
    """Expected cost of granting credit on an order: late payment and default.

    Parameters
    ----------
    amount : array_like of float, shape (n,)
        The amount owed per customer (order value), >= 0.
    delay : float or array_like, default 0
        How late the customer pays, in the periods of ``financing_rate``
        (0.5 = half a year for an annual rate), >= 0.
    financing_rate : float, default 0
        The firm's cost of money per period, >= 0.
    default_probability : float or array_like, default 0
        Probability the customer never pays, in [0, 1].
    loss_given_default : float, default 1
        Share of the amount lost on default, in [0, 1].

    Returns
    -------
    ndarray of float
        ``pd·lgd·A + (1 − pd·lgd)·A·(1 − (1 + r)^(−delay))``: the expected
        loss plus the financing cost of the part that is paid, late.

    Raises
    ------
    EmptyInputError
        If ``amount`` is empty.
    InvalidInputError
        If an argument is outside its range or lengths differ.

    Notes
    -----
    Scenario (c) of domain notes §3: customer X orders 10 million but pays half
    a year late, Y orders 8 million and pays on time. What X's order is worth
    is its profit minus this cost (see :func:`customer_priority`).

    Examples
    --------
    >>> from custrel.pyramid import expected_credit_cost
    >>> expected_credit_cost([10.0, 8.0], delay=[0.5, 0.0], financing_rate=0.1).round(3).tolist()
    [0.465, 0.0]
    """
    a = _values(amount, "amount")
    v.check_range(a, "amount", low=0.0)
    n = len(a)
    d = _per_customer(delay, "delay", n)
    pd_ = _per_customer(default_probability, "default_probability", n)
    v.check_same_length(amount=a, delay=d, default_probability=pd_)
    v.check_range(d, "delay", low=0.0)
    v.check_probability(pd_, "default_probability")
    r = v.scalar(financing_rate, "financing_rate", low=0.0)
    lgd = v.scalar(loss_given_default, "loss_given_default", low=0.0, high=1.0)
    loss = pd_ * lgd
    financing = -np.expm1(-d * math.log1p(r))
    out: FloatArray = loss * a + (1.0 - loss) * a * financing
    return out


@attrs.frozen
class Priority(Tabular, columns=("customer_id", "net_value", "rank")):
    """Customers in the order they should be served when capacity is short.

    Attributes
    ----------
    customer_id : ndarray
        The customers, in input order.
    net_value : ndarray of float
        Each customer's value net of its credit cost (the value when no cost
        was given).
    rank : ndarray of int
        1 = served first; equal net values share a rank (the lowest).
    """

    customer_id: npt.NDArray[Any] = attrs.field(converter=v.freeze)
    net_value: FloatArray = attrs.field(converter=v.freeze)
    rank: IntArray = attrs.field(converter=v.freeze)

    def order(self) -> npt.NDArray[Any]:
        """The customer ids, first to serve first (ties keep input order)."""
        return self.customer_id[np.argsort(self.rank, kind="stable")]


def customer_priority(values: Any, *, credit_cost: Any = None, customer_id: Any = None) -> Priority:
    """Rank customers for scarce capacity by value, net of expected credit cost.

    Parameters
    ----------
    values : array_like of float, shape (n,)
        The value of each customer's order: its **profit**, not its revenue
        (scenario (b) of domain notes §3).
    credit_cost : array_like of float, shape (n,), optional
        The expected credit cost of each order, for example from
        :func:`expected_credit_cost` (scenario (c)); subtracted from
        ``values``.
    customer_id : array_like, optional
        Unique customer ids (default ``0..n-1``).

    Returns
    -------
    Priority

    Raises
    ------
    EmptyInputError
        If ``values`` is empty.
    InvalidInputError
        If a value or cost is not finite, a cost is negative, lengths differ
        or ids repeat.

    Examples
    --------
    Scenario (b): X orders 60 million for 6 million profit, Y 50 million for
    7.5 million. By profit, Y goes first:

    >>> from custrel.pyramid import customer_priority
    >>> customer_priority([6.0, 7.5], customer_id=["X", "Y"]).order().tolist()
    ['Y', 'X']
    """
    x = _values(values)
    n = len(x)
    ids = _ids(customer_id, n)
    if credit_cost is not None:
        c = v.as_float_array(credit_cost, "credit_cost", ndim=1)
        v.check_same_length(values=x, credit_cost=c)
        v.check_range(c, "credit_cost", low=0.0)
        with np.errstate(over="ignore"):
            net = x - c
        if not np.isfinite(net).all():
            row = int(np.flatnonzero(~np.isfinite(net))[0])
            raise InvalidInputError(
                f"values - credit_cost overflows float64 at row {row} ({float(x[row])!r} - "
                f"{float(c[row])!r}); rescale values and credit_cost"
            )
    else:
        net = x.copy()
    # rank = 1 + the number of customers with a strictly higher net value
    asc = np.sort(net)
    rank = (n - np.searchsorted(asc, net, side="right") + 1).astype(np.int64)
    return Priority(customer_id=ids, net_value=v.readonly(net), rank=v.readonly(rank))
