"""Tests of custrel.pyramid: concentration, ABC, the customer pyramid, migration, scenarios."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from tests.strategies import value_arrays

from custrel import Tier
from custrel.errors import EmptyInputError, InvalidInputError, InvalidTypeError
from custrel.pyramid import (
    TIER_STRATEGIES,
    BalanceSheet,
    TierStrategy,
    abc_analysis,
    customer_priority,
    customer_pyramid,
    expected_credit_cost,
    fit_tier_rule,
    gini,
    key_accounts,
    lorenz_curve,
    tier_migration,
    top_share,
    whale_curve,
)

# ---------------------------------------------------------------------------
# Known values
# ---------------------------------------------------------------------------

# domain notes §3, ABC analysis: A = about 15 % of customers with 65 % of sales,
# B = 20 % / 20 %, C = 65 % / 15 %. A hand-made base of 100 customers with
# exactly those figures (total 39,000: 15 x 1,690, 20 x 390, 65 x 90).
ABC_BASE = np.array([1690.0] * 15 + [390.0] * 20 + [90.0] * 65)


@pytest.mark.parametrize("by", ["value", "customers"])
def test_abc_default_reproduces_domain_figures(by: str) -> None:
    rng = np.random.default_rng(1)
    values = rng.permutation(ABC_BASE)
    abc = abc_analysis(values, by=by)
    assert abc.count.tolist() == [15, 20, 65]
    np.testing.assert_allclose(abc.customer_share, [0.15, 0.20, 0.65])
    np.testing.assert_allclose(abc.value_share, [0.65, 0.20, 0.15])
    assert set(abc.labels()[values == 1690.0]) == {"A"}
    assert set(abc.labels()[values == 90.0]) == {"C"}


def test_abc_boundary_customer_belongs_to_the_better_class() -> None:
    # Hand-made: total 100; customers above 20 hold 50 % < 65 %, so 20 is A.
    abc = abc_analysis([50, 20, 10, 8, 5, 4, 3])
    assert abc.labels().tolist() == ["A", "A", "B", "B", "C", "C", "C"]
    assert abc.cutoffs == (0.65, 0.85)
    assert abc.rows()[0] == {
        "class": "A",
        "count": 2,
        "value": 70.0,
        "customer_share": 2 / 7,
        "value_share": 0.7,
        "mean_value": 35.0,
    }


def test_abc_data_driven_limits_hand_computed() -> None:
    # Ultsch & Lötsch (2015) computed ABC on a hand-made curve, total 100, n = 7:
    # points (i/7, 0 .5 .75 .85 .91 .95 .98 1). Distance² to (0, 1) is smallest
    # at i = 2 (0.0816 + 0.0625 = 0.144): the Pareto point. Slopes x_i·n/total
    # are 3.5 1.75 0.7 0.42 ...; closest to 1 is 0.7 (point 3): break-even.
    # A ends at min(2, 3) = 2; the submarginal point is the point closest to
    # (3/7, 1): i = 3 (0 + 0.0225). So A = {50, 25}, B = {10}, C = the rest.
    abc = abc_analysis([4, 50, 2, 25, 10, 6, 3], by="data")
    assert abc.labels().tolist() == ["C", "A", "C", "A", "B", "C", "C"]
    assert abc.pareto_point == pytest.approx((2 / 7, 0.75))
    assert abc.break_even_point == pytest.approx((3 / 7, 0.85))
    assert abc.submarginal_point == pytest.approx((3 / 7, 0.85))
    assert abc.cutoffs == pytest.approx((2 / 7, 3 / 7))


def test_abc_negative_values_are_c() -> None:
    abc = abc_analysis([100.0, -5.0, 0.0, 1.0], cutoffs=(0.99, 1.0))
    assert abc.labels().tolist() == ["A", "C", "C", "B"]


def test_gini_known_values() -> None:
    # Hand-made: mean absolute difference Σ|xi - xj| / (2 n² mean) for [1, 1, 2, 6]
    # is 32 / (2 · 16 · 2.5) = 0.4.
    assert gini([1, 1, 2, 6]) == pytest.approx(0.4)
    assert gini([3.0] * 7) == 0.0
    assert gini([0, 0, 0, 10]) == pytest.approx(0.75)  # (n - 1)/n
    assert gini([0.0, 0.0]) == 0.0  # nothing to share: every customer holds the same


def test_lorenz_curve_known_values() -> None:
    lc = lorenz_curve([6, 1, 2, 1])
    assert lc.customer_share.tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert lc.value_share.tolist() == pytest.approx([0.0, 0.1, 0.2, 0.4, 1.0])
    assert lc.total == 10.0
    assert lc.top_share(0.25) == pytest.approx(0.6)
    assert lc.top_share(0.125) == pytest.approx(0.3)  # half of the best customer


def test_top_share_80_20() -> None:
    # Hand-made 80/20 base: 20 customers of 100 hold 80 %.
    values = np.array([4.0] * 20 + [0.25] * 80)
    assert top_share(values, 0.2) == pytest.approx(0.8)
    assert top_share(values, 0.0) == 0.0
    assert top_share(values, 1.0) == pytest.approx(1.0)


def test_whale_curve_meridien_figures() -> None:
    # domain notes §3 (Meridien Research): the top 20 % of customers produce ~150 %
    # of the profit while the bottom 30 % consume half of it. Hand-made base of
    # 10 customers: 2 x 75, 5 x 0, 3 x -50/3; total profit 100.
    profit = np.array([0, 75, 0, -50 / 3, 0, 0, -50 / 3, 75, 0, -50 / 3])
    w = whale_curve(profit)
    assert w.total == pytest.approx(100.0)
    assert w.top_share(0.2) == pytest.approx(1.5)
    assert w.peak_share == pytest.approx(1.5)
    assert w.peak_customer_share == pytest.approx(0.2)
    # the bottom 30 % consume half of the profit: the curve falls from 1.5 to 1.0
    assert w.top_share(0.7) - w.top_share(1.0) == pytest.approx(0.5)
    assert w.profit_share[-1] == pytest.approx(1.0)


def test_pyramid_default_shares_on_100_customers() -> None:
    # domain notes §3: platinum = top 5 %, gold = next 15 %, iron = next 30 %,
    # lead = the remaining 50 %; platinum + gold are the key accounts.
    values = np.random.default_rng(7).permutation(np.arange(1.0, 101.0))
    p = customer_pyramid(values)
    assert p.count.tolist() == [5, 15, 30, 50]
    assert p.customer_share.tolist() == [0.05, 0.15, 0.30, 0.50]
    assert set(values[p.tier == Tier.PLATINUM]) == {96.0, 97.0, 98.0, 99.0, 100.0}
    assert int(p.key_accounts().sum()) == 20
    # value shares: platinum 490 / 5050, gold 1275 / 5050 (81..95)
    assert p.value_sum[0] == 490.0
    assert p.value_sum[1] == sum(range(81, 96))
    assert p.mean_value[3] == pytest.approx(25.5)
    assert p.min_value.tolist() == [96.0, 81.0, 51.0, 1.0]


def test_pyramid_ties_never_split() -> None:
    # Hand-made: 20 customers, platinum nominally 1 (5 %), but the best two tie.
    values = np.array([9.0, 9.0, *np.arange(8.0, -10.0, -1.0)])
    p = customer_pyramid(values)
    assert p.tier[:2].tolist() == [Tier.PLATINUM, Tier.PLATINUM]
    # gold nominally ranks 2..4 (ceil(0.2·20) = 4): a tie straddling rank 4
    values2 = np.array([10.0, 9.0, 8.0, 7.0, 7.0, 7.0, *np.arange(-14.0, 0.0)])
    p2 = customer_pyramid(values2, losses_to_lead=False)
    assert p2.tier[3:6].tolist() == [Tier.GOLD] * 3
    assert p2.count.tolist()[:2] == [1, 5]


def test_pyramid_losses_are_lead() -> None:
    # domain notes §3 (Zeithaml, Rust & Lemon 2001): every loss-making customer is
    # lead whatever the shares say. Here half the shares would make -1 iron.
    p = customer_pyramid([10.0, -1.0], shares=(0.5, 0.5, 0.0, 0.0))
    assert p.tiers() == [Tier.PLATINUM, Tier.LEAD]
    p_off = customer_pyramid([10.0, -1.0], shares=(0.5, 0.5, 0.0, 0.0), losses_to_lead=False)
    assert p_off.tiers() == [Tier.PLATINUM, Tier.GOLD]


def test_pyramid_by_value_share() -> None:
    # Hand-made, total 100: customers above 30 hold 40 % < 50 %, so 30 is platinum.
    p = customer_pyramid([40, 30, 15, 10, 5], by="value", shares=(0.5, 0.3, 0.15, 0.05))
    assert p.labels().tolist() == ["platinum", "platinum", "gold", "iron", "lead"]
    assert p.value_share.tolist() == pytest.approx([0.7, 0.15, 0.1, 0.05])


def test_pyramid_by_threshold_and_strategies() -> None:
    p = customer_pyramid([500, 150, 149.99, 50, 49, -3], by="threshold", thresholds=[400, 150, 50])
    assert p.tier.tolist() == [1, 2, 3, 3, 4, 4]
    rows = p.rows()
    assert rows[0]["tier"] == "platinum"
    assert rows[0]["role"] == "key account"
    assert "dedicated service unit" in rows[0]["actions"]
    assert "drop bad" in rows[3]["actions"]
    mine = {**TIER_STRATEGIES, Tier.LEAD: TierStrategy(Tier.LEAD, "small", ["self-service"])}
    assert p.rows(strategies=mine)[3]["actions"] == "self-service"
    assert "role" not in p.rows(strategies=None)[0]
    text = p.to_text()
    assert text.splitlines()[1].startswith("platinum")


def test_pyramid_empty_tier_mean_is_nan() -> None:
    p = customer_pyramid([5.0, 4.0], by="threshold", thresholds=[10, 4.5, 1])
    assert p.count.tolist() == [0, 1, 1, 0]
    assert math.isnan(p.mean_value[0])
    assert math.isnan(p.min_value[3])
    assert p.customer_share[0] == 0.0


def test_pyramid_matches_pandas_qcut_recipe_on_distinct_values() -> None:
    # Cross-check: the usual pandas recipe ranks customers (method="first") and
    # cuts the ranks at the cumulative shares. On distinct values and n a
    # multiple of 20 both agree; on ties the recipe splits tied customers
    # (rank "first"), which custrel never does.
    rng = np.random.default_rng(3)
    values = rng.permutation(rng.normal(100, 30, 1000))
    ranks = pd.Series(values).rank(method="first", ascending=False)
    recipe = pd.qcut(ranks, [0, 0.05, 0.2, 0.5, 1.0], labels=[1, 2, 3, 4]).astype(int)
    p = customer_pyramid(values, losses_to_lead=False)
    assert np.array_equal(p.tier, recipe.to_numpy())


def test_fit_tier_rule_known_tree() -> None:
    spend = [[900, 2], [800, 3], [300, 9], [250, 7], [40, 1], [30, 2]]
    tiers = [Tier.GOLD, Tier.GOLD, Tier.IRON, Tier.IRON, Tier.LEAD, Tier.LEAD]
    rule = fit_tier_rule(spend, tiers, max_depth=2, names=["spend", "visits"])
    assert rule.rules() == [
        "if spend <= 145 then LEAD (n=2, 100% LEAD)",
        "if spend > 145 and spend <= 550 then IRON (n=2, 100% IRON)",
        "if spend > 145 and spend > 550 then GOLD (n=2, 100% GOLD)",
    ]
    assert rule.training_accuracy == 1.0
    assert rule.accuracy([[1000, 1], [10, 5]], [2, 4]) == 1.0
    # depth 1 can only separate one group
    shallow = fit_tier_rule(spend, tiers, max_depth=1)
    assert len(shallow.rules()) == 2
    assert shallow.training_accuracy == pytest.approx(4 / 6)
    # applied to unlabelled customers through the pyramid
    p = customer_pyramid([950.0, 20.0], by="rule", rule=rule, attributes=[[950, 2], [20, 1]])
    assert p.tiers() == [Tier.GOLD, Tier.LEAD]


def test_fit_tier_rule_pure_node_is_a_leaf() -> None:
    rule = fit_tier_rule([1.0, 2.0, 3.0], [3, 3, 3])
    assert rule.rules() == ["always then IRON (n=3, 100% IRON)"]
    assert rule.predict([[0.0], [5.0]]).tolist() == [3, 3]


def test_fit_tier_rule_min_leaf() -> None:
    x = [[1.0], [2.0], [3.0], [4.0]]
    rule = fit_tier_rule(x, [1, 4, 4, 4], min_leaf=2)
    assert all("n=2" in r for r in rule.rules())


def test_tier_migration_balance_sheet() -> None:
    thr = [80, 40, 20]
    p1 = customer_pyramid(
        [90, 50, 10, 30], by="threshold", thresholds=thr, customer_id=list("abcd")
    )
    p2 = customer_pyramid(
        [45, 85, 30, 25], by="threshold", thresholds=thr, customer_id=list("abde")
    )
    m = tier_migration(p1, p2)
    assert m.customer_id.tolist() == ["a", "b", "c", "d", "e"]
    assert m.tier_before.tolist() == [1, 2, 4, 3, 0]
    assert m.tier_after.tolist() == [2, 1, 0, 3, 3]
    assert m.status().tolist() == ["downgraded", "upgraded", "lost", "stayed", "new"]
    assert m.change().tolist() == [-1, 1, 0, 0, 0]
    assert (m.upgrades, m.downgrades, m.new, m.lost) == (1, 1, 1, 1)
    bs = m.balance
    assert isinstance(bs, BalanceSheet)
    assert bs.classes == ("platinum", "gold", "iron", "lead")
    assert bs.opening.tolist() == [1, 1, 1, 1]
    assert bs.closing.tolist() == [1, 1, 2, 0]
    assert bs.value_lost is not None
    assert bs.value_lost.tolist() == [0.0, 0.0, 0.0, 10.0]
    assert bs.value_revalued is not None
    assert bs.value_revalued.tolist() == [0.0, 0.0, 0.0, 0.0]  # d: 30 -> 30
    assert m.transitions[4].tolist() == [0, 0, 1, 0, 0]
    assert m.rates()[0].tolist() == [0.0, 1.0, 0.0, 0.0, 0.0]


def test_object_ids_are_read_as_strings() -> None:
    p = customer_pyramid([1.0, 2.0], customer_id=np.array(["a", "b"], dtype=object))
    assert p.customer_id.dtype.kind == "U"
    with pytest.raises(InvalidInputError, match=r"got 7 at rows 0 and 3"):
        customer_pyramid([1.0, 2.0, 3.0, 4.0], customer_id=[7, 8, 9, 7])


def test_tier_migration_integer_ids() -> None:
    p1 = customer_pyramid([5.0, 1.0], customer_id=[10, 20])
    p2 = customer_pyramid([1.0, 5.0], customer_id=[10, 30])
    m = tier_migration(p1, p2)
    assert m.customer_id.tolist() == [10, 20, 30]
    assert m.status().tolist() == ["downgraded", "lost", "new"]


# Scenario (a), domain notes §3: 100 customers, 18 of them give 80 of 100 million.
def test_scenario_a_key_accounts() -> None:
    rng = np.random.default_rng(11)
    top = rng.dirichlet(np.ones(18)) * 40 + 40 / 18  # 18 values summing to 80, each > 2.2
    rest = rng.dirichlet(np.ones(82)) * 10 + 10 / 82  # 82 values summing to 20, each < 0.4
    sales = rng.permutation(np.concatenate([top, rest]))
    ka = key_accounts(sales, customer_id=np.arange(100) + 1000)
    assert ka.count == 18
    assert ka.value_share == pytest.approx(0.8)
    assert ka.customer_share == 0.18
    assert set(sales[ka.is_key]) == set(top)
    assert len(ka.ids()) == 18
    # a fixed 80/20 pyramid instead takes the top 20 customers
    assert int(customer_pyramid(sales).key_accounts().sum()) == 20


# Scenario (b): X orders 60 million for 6 million profit, Y 50 million for 7.5.
def test_scenario_b_profit_not_revenue() -> None:
    ids = ["X", "Y"]
    assert customer_priority([60.0, 50.0], customer_id=ids).order().tolist() == ["X", "Y"]
    by_profit = customer_priority([6.0, 7.5], customer_id=ids)
    assert by_profit.order().tolist() == ["Y", "X"]
    assert by_profit.rank.tolist() == [2, 1]


# Scenario (c): X orders 10 million but pays half a year late, Y 8 million on time.
def test_scenario_c_value_net_of_credit_cost() -> None:
    # With a 10 % annual cost of money, paying half a year late costs
    # 10 · (1 − 1.1^−0.5) = 0.4654 million.
    cost = expected_credit_cost([10.0, 8.0], delay=[0.5, 0.0], financing_rate=0.10)
    assert cost.tolist() == pytest.approx([10 * (1 - 1.1**-0.5), 0.0])
    # On revenue X still looks first; on profit (10 % margin) net of the credit
    # cost Y goes first: 1.0 − 0.465 = 0.535 < 0.8.
    ids = ["X", "Y"]
    assert customer_priority([10.0, 8.0], credit_cost=cost, customer_id=ids).order()[0] == "X"
    pr = customer_priority([1.0, 0.8], credit_cost=cost, customer_id=ids)
    assert pr.order().tolist() == ["Y", "X"]
    assert pr.net_value.tolist() == pytest.approx([1.0 - 0.46537, 0.8], abs=1e-5)


def test_expected_credit_cost_default_risk() -> None:
    # Hand-made: 2 % default with 60 % loss on 100: 1.2 expected loss; no delay.
    assert expected_credit_cost([100.0], default_probability=0.02, loss_given_default=0.6)[
        0
    ] == pytest.approx(1.2)
    both = expected_credit_cost([100.0], delay=1.0, financing_rate=0.1, default_probability=0.5)
    assert both[0] == pytest.approx(50 + 50 * (1 - 1 / 1.1))


def test_priority_ties_share_rank() -> None:
    pr = customer_priority([3.0, 5.0, 3.0, 1.0])
    assert pr.rank.tolist() == [2, 1, 2, 4]
    assert pr.order().tolist() == [1, 0, 2, 3]


def test_results_are_read_only_and_inputs_untouched() -> None:
    values = np.array([3.0, 1.0, 2.0])
    p = customer_pyramid(values)
    abc = abc_analysis(values)
    assert values.tolist() == [3.0, 1.0, 2.0]
    for arr in (p.tier, p.value, p.count, abc.code, lorenz_curve(values).value_share):
        assert not arr.flags.writeable
    with pytest.raises(AttributeError):
        p.method = "x"  # type: ignore[misc]


# ---------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------

METHODS: list[dict[str, Any]] = [
    {"by": "customers"},
    {"by": "customers", "shares": (0.1, 0.2, 0.3, 0.4)},
    {"by": "value", "shares": (0.5, 0.3, 0.15, 0.05)},
    {"by": "threshold", "thresholds": (1000.0, 100.0, 0.0)},
]


def _check_monotone(values: np.ndarray, tiers: np.ndarray) -> None:
    order = np.argsort(-values, kind="stable")
    s, t = values[order], tiers[order]
    assert np.all(np.diff(t) >= 0), "a higher value landed in a lower tier"
    tied = s[1:] == s[:-1]
    assert np.all(t[1:][tied] == t[:-1][tied]), "tied values were split"


@given(value_arrays(), st.sampled_from(METHODS), st.booleans())
def test_pyramid_partition_shares_monotone(
    values: np.ndarray, method: dict[str, Any], losses: bool
) -> None:
    p = customer_pyramid(values, losses_to_lead=losses, **method)
    assert set(np.unique(p.tier)) <= {1, 2, 3, 4}
    assert p.count.sum() == len(values)
    assert np.array_equal(p.count, np.bincount(p.tier - 1, minlength=4))
    assert p.customer_share.sum() == pytest.approx(1.0)
    if values.sum() != 0:
        assert p.value_share.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(p.value_sum.sum(), values.sum(), rtol=1e-9, atol=1e-6)
    _check_monotone(values, p.tier)
    if losses:
        assert np.all(p.tier[values < 0] == Tier.LEAD)


@given(value_arrays(min_size=2), st.sampled_from(METHODS), st.randoms(use_true_random=False))
def test_pyramid_row_order_invariant(values: np.ndarray, method: dict[str, Any], rnd: Any) -> None:
    perm = np.arange(len(values))
    rnd.shuffle(perm)
    a = customer_pyramid(values, **method)
    b = customer_pyramid(values[perm], **method)
    assert np.array_equal(a.tier[perm], b.tier)
    assert np.array_equal(a.count, b.count)


@given(value_arrays(), st.sampled_from(["value", "customers", "data"]))
def test_abc_partition_monotone(values: np.ndarray, by: str) -> None:
    abc = abc_analysis(values, by=by)
    assert abc.count.sum() == len(values)
    assert abc.customer_share.sum() == pytest.approx(1.0)
    if values.sum() != 0:
        assert abc.value_share.sum() == pytest.approx(1.0)
    _check_monotone(values, abc.code)


@given(
    value_arrays(min_size=2),
    st.sampled_from(["value", "customers", "data"]),
    st.randoms(use_true_random=False),
)
def test_abc_row_order_invariant(values: np.ndarray, by: str, rnd: Any) -> None:
    perm = np.arange(len(values))
    rnd.shuffle(perm)
    assert np.array_equal(
        abc_analysis(values, by=by).code[perm], abc_analysis(values[perm], by=by).code
    )


@given(value_arrays(nonnegative=True))
def test_gini_bounds_and_mean_difference_formula(values: np.ndarray) -> None:
    g = gini(values)
    assert 0.0 <= g < 1.0
    total = values.sum()
    if total > 0:
        n = len(values)
        mad = np.abs(values[:, None] - values[None, :]).sum() / (2 * n * total)
        assert g == pytest.approx(mad, abs=1e-9)
    lc = lorenz_curve(values)
    assert np.all(lc.value_share <= lc.customer_share + 1e-12)
    assert np.all(np.diff(lc.value_share) >= -1e-15)


@given(st.floats(0, 1e6, allow_nan=False), st.integers(1, 50))
def test_gini_zero_for_equal_values(x: float, n: int) -> None:
    assert gini(np.full(n, x)) == 0.0


@given(value_arrays(nonnegative=True), st.floats(0, 1), st.floats(0, 1))
def test_top_share_monotone(values: np.ndarray, f1: float, f2: float) -> None:
    lo, hi = sorted((f1, f2))
    a, b = top_share(values, lo), top_share(values, hi)
    assert -1e-12 <= a <= b + 1e-12 <= 1 + 2e-12


@given(value_arrays())
def test_whale_curve_ends_at_one(values: np.ndarray) -> None:
    if not values.sum() > 0:
        return
    w = whale_curve(values)
    assert w.profit_share[-1] == pytest.approx(1.0)
    assert w.peak_share >= 1.0 - 1e-12
    assert np.all(np.diff(w.customer_share) > 0)


@given(value_arrays(), st.floats(0.01, 1.0))
def test_key_accounts_minimal(values: np.ndarray, target: float) -> None:
    if not (values > 0).any():
        return
    ka = key_accounts(values, value_share=target)
    assert ka.value_share >= target - 1e-9
    keys = values[ka.is_key]
    assert keys.min() > 0
    # dropping the weakest tie group of key accounts falls short of the target
    total = values[values > 0].sum()
    rest = keys[keys > keys.min()].sum() / total
    assert rest < target + 1e-9
    _check_monotone(values, (~ka.is_key).astype(int))


@st.composite
def _labelled(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    n = draw(st.integers(1, 30))
    p = draw(st.integers(1, 3))
    x = draw(hnp.arrays(np.float64, (n, p), elements=st.integers(0, 9).map(float)))
    y = draw(hnp.arrays(np.int64, n, elements=st.integers(1, 4)))
    return x, y


@given(_labelled(), st.integers(1, 4), st.randoms(use_true_random=False))
def test_tier_rule_properties(data: tuple[np.ndarray, np.ndarray], depth: int, rnd: Any) -> None:
    x, y = data
    rule = fit_tier_rule(x, y, max_depth=depth)
    pred = rule.predict(x)
    assert set(np.unique(pred)) <= {1, 2, 3, 4}
    assert rule.training_accuracy == pytest.approx(float(np.mean(pred == y)))
    assert len(rule.rules()) <= 2**depth
    # leaves account for every training customer exactly once
    leaves = rule.feature < 0
    assert rule.counts[leaves].sum() == len(y)
    perm = np.arange(len(y))
    rnd.shuffle(perm)
    assert fit_tier_rule(x[perm], y[perm], max_depth=depth).rules() == rule.rules()


@given(value_arrays(min_size=1, max_size=30), value_arrays(min_size=1, max_size=30))
def test_migration_balances(v1: np.ndarray, v2: np.ndarray) -> None:
    p1 = customer_pyramid(v1, customer_id=np.arange(len(v1)))
    p2 = customer_pyramid(v2, customer_id=np.arange(len(v2)) + 5)
    m = tier_migration(p1, p2)
    bs = m.balance
    lhs = bs.opening + bs.new + bs.upgraded_in + bs.downgraded_in
    assert np.array_equal(lhs - bs.upgraded_out - bs.downgraded_out - bs.lost, bs.closing)
    assert np.array_equal(bs.opening, p1.count)
    assert np.array_equal(bs.closing, p2.count)
    assert bs.value_closing is not None
    np.testing.assert_allclose(bs.value_closing, p2.value_sum, atol=1e-6)
    status = m.status()
    assert (status == "new").sum() == m.new
    assert (status == "lost").sum() == m.lost
    assert (status == "upgraded").sum() == m.upgrades


# ---------------------------------------------------------------------------
# Bad inputs
# ---------------------------------------------------------------------------

_RULE = fit_tier_rule([[1.0, 2.0], [3.0, 4.0]], [1, 4])
_P = customer_pyramid([1.0, 2.0], customer_id=[1, 2])
_PS = customer_pyramid([1.0, 2.0], customer_id=["a", "b"])

BAD: list[tuple[str, Callable[[], object], type[Exception], str]] = [
    ("gini-empty", lambda: gini([]), EmptyInputError, r"values is empty"),
    (
        "gini-nan",
        lambda: gini([1.0, np.nan]),
        InvalidInputError,
        r"values must be finite, got nan at row 1",
    ),
    (
        "gini-negative",
        lambda: gini([1.0, -2.0]),
        InvalidInputError,
        r"values must be >= 0, got -2.0 at row 1; .*whale_curve",
    ),
    ("gini-2d", lambda: gini([[1.0]]), InvalidInputError, r"values must be 1-D"),
    ("gini-text", lambda: gini("abc"), InvalidTypeError, r"values must be numeric"),
    (
        "lorenz-negative",
        lambda: lorenz_curve([-1.0]),
        InvalidInputError,
        r"values must be >= 0, got -1.0 at row 0",
    ),
    (
        "top-share-fraction",
        lambda: top_share([1.0], 1.5),
        InvalidInputError,
        r"fraction must be in \[0, 1\], got 1.5",
    ),
    (
        "top-share-fraction-type",
        lambda: top_share([1.0], "x"),
        InvalidTypeError,
        r"fraction must be a real number",
    ),
    (
        "whale-nonpositive",
        lambda: whale_curve([1.0, -3.0]),
        InvalidInputError,
        r"profit must have a positive total .* got -2.0",
    ),
    (
        "whale-inf",
        lambda: whale_curve([1.0, np.inf]),
        InvalidInputError,
        r"profit must be finite, got inf at row 1",
    ),
    (
        "abc-by",
        lambda: abc_analysis([1.0], by="pareto"),
        InvalidInputError,
        r"by must be one of 'value', 'customers', 'data', got 'pareto'",
    ),
    (
        "abc-cutoffs-order",
        lambda: abc_analysis([1.0], cutoffs=(0.8, 0.5)),
        InvalidInputError,
        r"cutoffs must be increasing cumulative shares, got \[0.8, 0.5\]",
    ),
    (
        "abc-cutoffs-len",
        lambda: abc_analysis([1.0], cutoffs=(0.5,)),
        InvalidInputError,
        r"cutoffs must have 2 entries",
    ),
    (
        "abc-cutoffs-range",
        lambda: abc_analysis([1.0], cutoffs=(0.5, 1.5)),
        InvalidInputError,
        r"cutoffs must be in \[0, 1\], got 1.5 at row 1",
    ),
    (
        "abc-data-cutoffs",
        lambda: abc_analysis([1.0], by="data", cutoffs=(0.5, 0.8)),
        InvalidInputError,
        r"cutoffs is not used with by='data'",
    ),
    (
        "abc-dup-id",
        lambda: abc_analysis([1.0, 2.0, 3.0], customer_id=["a", "b", "a"]),
        InvalidInputError,
        r"customer_id must be distinct, got 'a' at rows 0 and 2",
    ),
    (
        "pyramid-shares-sum",
        lambda: customer_pyramid([1.0], shares=(0.1, 0.1, 0.1, 0.1)),
        InvalidInputError,
        r"shares must sum to 1, got 0.4",
    ),
    (
        "pyramid-shares-len",
        lambda: customer_pyramid([1.0], shares=(0.5, 0.5)),
        InvalidInputError,
        r"shares must have 4 entries, got 2",
    ),
    (
        "pyramid-shares-negative",
        lambda: customer_pyramid([1.0], shares=(-0.1, 0.6, 0.3, 0.2)),
        InvalidInputError,
        r"shares must be in \[0, 1\], got -0.1 at row 0",
    ),
    (
        "pyramid-value-no-shares",
        lambda: customer_pyramid([1.0], by="value"),
        InvalidInputError,
        r"by='value' needs shares",
    ),
    (
        "pyramid-threshold-missing",
        lambda: customer_pyramid([1.0], by="threshold"),
        InvalidInputError,
        r"by='threshold' needs thresholds",
    ),
    (
        "pyramid-threshold-order",
        lambda: customer_pyramid([1.0], by="threshold", thresholds=[1, 5, 0]),
        InvalidInputError,
        r"thresholds must be strictly decreasing",
    ),
    (
        "pyramid-threshold-len",
        lambda: customer_pyramid([1.0], by="threshold", thresholds=[1]),
        InvalidInputError,
        r"thresholds must have 3 entries",
    ),
    (
        "pyramid-foreign-option",
        lambda: customer_pyramid([1.0], thresholds=[3, 2, 1]),
        InvalidInputError,
        r"thresholds is not used with by='customers'; drop it",
    ),
    (
        "pyramid-by",
        lambda: customer_pyramid([1.0], by="rfm"),
        InvalidInputError,
        r"by must be one of",
    ),
    (
        "pyramid-rule-missing",
        lambda: customer_pyramid([1.0], by="rule"),
        InvalidInputError,
        r"by='rule' needs rule",
    ),
    (
        "pyramid-rule-type",
        lambda: customer_pyramid([1.0], by="rule", rule="x", attributes=[[1.0]]),
        InvalidTypeError,
        r"rule must be a TierRule, got str",
    ),  # type: ignore[arg-type]
    (
        "pyramid-rule-columns",
        lambda: customer_pyramid([1.0], by="rule", rule=_RULE, attributes=[[1.0, 2.0, 3.0]]),
        InvalidInputError,
        r"attributes has 3 columns but the rule was fitted on 2 \(x0, x1\)",
    ),
    (
        "pyramid-rule-rows",
        lambda: customer_pyramid([1.0], by="rule", rule=_RULE, attributes=[[1.0, 2.0], [1.0, 2.0]]),
        InvalidInputError,
        r"attributes has 2 rows but values has 1",
    ),
    (
        "pyramid-losses-flag",
        lambda: customer_pyramid([1.0], losses_to_lead=1),
        InvalidTypeError,
        r"losses_to_lead must be True or False",
    ),  # type: ignore[arg-type]
    (
        "pyramid-id-length",
        lambda: customer_pyramid([1.0, 2.0], customer_id=[1]),
        InvalidInputError,
        r"customer_id has 1 values but values has 2",
    ),
    ("pyramid-empty", lambda: customer_pyramid([]), EmptyInputError, r"values is empty"),
    (
        "strategies-missing",
        lambda: _P.rows(strategies={Tier.LEAD: TIER_STRATEGIES[Tier.LEAD]}),
        InvalidInputError,
        r"strategies has no entry for tier PLATINUM, GOLD, IRON",
    ),
    (
        "strategies-type",
        lambda: _P.rows(strategies=[1]),
        InvalidTypeError,
        r"strategies must be a mapping",
    ),  # type: ignore[arg-type]
    (
        "rule-tier-range",
        lambda: fit_tier_rule([[1.0]], [5]),
        InvalidInputError,
        r"tiers must be tiers 1..4, got 5 at row 0; 1 = PLATINUM",
    ),
    (
        "rule-tier-type",
        lambda: fit_tier_rule([[1.0]], ["gold"]),
        InvalidTypeError,
        r"tiers must hold Tier members or their integer values",
    ),
    (
        "rule-tier-fraction",
        lambda: fit_tier_rule([[1.0]], [1.5]),
        InvalidInputError,
        r"tiers must be whole numbers, got 1.5 at row 0",
    ),
    (
        "rule-lengths",
        lambda: fit_tier_rule([[1.0], [2.0]], [1]),
        InvalidInputError,
        r"inconsistent lengths: attributes has 2, tiers has 1",
    ),
    (
        "rule-depth",
        lambda: fit_tier_rule([[1.0]], [1], max_depth=0),
        InvalidInputError,
        r"max_depth must be >= 1, got 0",
    ),
    (
        "rule-names",
        lambda: fit_tier_rule([[1.0, 2.0]], [1], names=["a"]),
        InvalidInputError,
        r"names has 1 entries but attributes has 2 columns",
    ),
    (
        "rule-attr-nan",
        lambda: fit_tier_rule([[1.0, np.nan]], [1]),
        InvalidInputError,
        r"attributes must be finite, got nan at \[0, 1\]",
    ),
    (
        "migration-type",
        lambda: tier_migration(_P, [1, 2]),
        InvalidTypeError,
        r"after must be a Pyramid, got list",
    ),  # type: ignore[arg-type]
    (
        "migration-id-kinds",
        lambda: tier_migration(_P, _PS),
        InvalidTypeError,
        r"customer_id kinds differ",
    ),
    (
        "key-share-zero",
        lambda: key_accounts([1.0], value_share=0.0),
        InvalidInputError,
        r"value_share must be in \(0, 1\], got 0.0",
    ),
    (
        "key-no-positive",
        lambda: key_accounts([-1.0, 0.0]),
        InvalidInputError,
        r"values must include a positive value",
    ),
    (
        "credit-negative-amount",
        lambda: expected_credit_cost([-1.0]),
        InvalidInputError,
        r"amount must be >= 0, got -1.0 at row 0",
    ),
    (
        "credit-probability",
        lambda: expected_credit_cost([1.0], default_probability=1.5),
        InvalidInputError,
        r"default_probability must be in \[0, 1\], got 1.5 at row 0",
    ),
    (
        "credit-delay-length",
        lambda: expected_credit_cost([1.0, 2.0], delay=[1.0]),
        InvalidInputError,
        r"inconsistent lengths: amount has 2, delay has 1",
    ),
    (
        "credit-delay-negative",
        lambda: expected_credit_cost([1.0], delay=-1.0),
        InvalidInputError,
        r"delay must be >= 0, got -1.0 at row 0",
    ),
    (
        "credit-rate",
        lambda: expected_credit_cost([1.0], financing_rate=-0.1),
        InvalidInputError,
        r"financing_rate must be >= 0, got -0.1",
    ),
    (
        "credit-lgd",
        lambda: expected_credit_cost([1.0], loss_given_default=2.0),
        InvalidInputError,
        r"loss_given_default must be in \[0, 1\], got 2.0",
    ),
    (
        "priority-cost-negative",
        lambda: customer_priority([1.0], credit_cost=[-1.0]),
        InvalidInputError,
        r"credit_cost must be >= 0, got -1.0 at row 0",
    ),
    (
        "priority-cost-length",
        lambda: customer_priority([1.0], credit_cost=[1.0, 2.0]),
        InvalidInputError,
        r"inconsistent lengths: values has 1, credit_cost has 2",
    ),
]


@pytest.mark.parametrize(("call", "exc", "match"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_inputs(call: Callable[[], object], exc: type[Exception], match: str) -> None:
    with pytest.raises(exc, match=match):
        call()


# ---------------------------------------------------------------------------
# Figures (plot extra)
# ---------------------------------------------------------------------------


def test_figures_draw_and_save(tmp_path: Any) -> None:
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    from custrel.plot import plot_lorenz, plot_pyramid

    values = np.random.default_rng(0).lognormal(3.0, 1.0, 200)
    figs = [
        plot_pyramid(customer_pyramid(values), title="mine"),
        plot_lorenz(lorenz_curve(values)),
        plot_lorenz(whale_curve(values - 20.0)),
    ]
    try:
        assert figs[0].axes[0].get_title() == "mine"
        labels = [t.get_text() for t in figs[0].axes[0].texts]
        assert labels[0].startswith("platinum: 10 customers (5%)")
        assert figs[1].axes[0].get_title().startswith("Lorenz curve (Gini 0.")
        assert "peak" in figs[2].axes[0].get_legend().get_texts()[2].get_text()
        for i, fig in enumerate(figs):
            out = tmp_path / f"fig{i}.png"
            fig.savefig(out)
            assert out.stat().st_size > 1000
    finally:
        for fig in figs:
            plt.close(fig)


@pytest.mark.parametrize(
    ("name", "arg", "match"),
    [
        ("plot_pyramid", [1, 2], r"pyramid must be a Pyramid \(from customer_pyramid\), got list"),
        ("plot_lorenz", [1, 2], r"curve must be a LorenzCurve or a WhaleCurve, got list"),
    ],
    ids=["pyramid-type", "lorenz-type"],
)
def test_figures_bad_inputs(name: str, arg: Any, match: str) -> None:
    pytest.importorskip("matplotlib")
    import custrel.plot

    with pytest.raises(InvalidTypeError, match=match):
        getattr(custrel.plot, name)(arg)


# ---------------------------------------------------------------------------
# Issue 10: frozen results, ids, overflow, complex
# ---------------------------------------------------------------------------

_FROZEN = {
    "abc_analysis": lambda v: abc_analysis(v),
    "customer_pyramid": lambda v: customer_pyramid(v),
    "key_accounts": lambda v: key_accounts(v),
    "lorenz_curve": lambda v: lorenz_curve(v),
    "whale_curve": lambda v: whale_curve(v),
    "customer_priority": lambda v: customer_priority(v, credit_cost=v / 10.0),
    "ids": lambda v: abc_analysis([3.0, 2.0, 1.0], customer_id=v.astype(np.int64)),
}


@pytest.mark.parametrize("call", list(_FROZEN.values()), ids=list(_FROZEN))
def test_results_do_not_change_when_the_caller_edits_the_input(call: Any) -> None:
    # issue 10: `v = np.array([50., 20, 10]); r = abc_analysis(v); v[0] = -999` changed r.value[0]
    v = np.array([50.0, 20.0, 10.0])
    r = call(v)
    arrays = {
        a.name: np.array(getattr(r, a.name), copy=True)
        for a in r.__attrs_attrs__
        if isinstance(getattr(r, a.name), np.ndarray)
    }
    assert arrays
    v[0] = -999.0
    for name, before in arrays.items():
        now = getattr(r, name)
        assert np.array_equal(now, before, equal_nan=True), name
        assert not now.flags.writeable, name


@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        pytest.param(
            lambda: gini([1e308, 1e308]),
            InvalidInputError,
            r"values add up to more than float64 holds .* rescale values",
            id="gini-overflow",
        ),
        pytest.param(
            lambda: abc_analysis([1e308, 1e308, 5.0]),
            InvalidInputError,
            r"values add up to more than float64 holds",
            id="abc-overflow",
        ),
        pytest.param(
            lambda: whale_curve([1e308, -1e308]),
            InvalidInputError,
            r"profit add up to more than float64 holds",
            id="whale-overflow",
        ),
        pytest.param(
            lambda: customer_priority([-1e308, 1.0], credit_cost=[1e308, 0.0]),
            InvalidInputError,
            r"values - credit_cost overflows float64 at row 0",
            id="priority-overflow",
        ),
        pytest.param(
            lambda: gini(np.array([1 + 1j, 2, 3])),
            InvalidTypeError,
            r"values must be real numbers, got complex values",
            id="gini-complex",
        ),
        pytest.param(
            lambda: abc_analysis([1.0, 2.0, 3.0], customer_id=["a", None, "b"]),
            InvalidInputError,
            r"customer_id is missing \(None\) at row 1",
            id="id-none",
        ),
        pytest.param(
            lambda: customer_pyramid([1.0, 2.0], customer_id=[float("nan"), 1.0]),
            InvalidInputError,
            r"customer_id is missing \(nan\) at row 0",
            id="id-nan",
        ),
        pytest.param(
            lambda: customer_pyramid([1.0, 2.0], customer_id=pd.array(["a", None], dtype="string")),
            InvalidInputError,
            r"customer_id is missing \(<NA>\) at row 1",
            id="id-pd-na",
        ),
    ],
)
def test_issue_10_bad_inputs(call: Callable[[], object], exc: type[Exception], match: str) -> None:
    with pytest.raises(exc, match=match):
        call()


def test_ids_keep_their_type() -> None:
    # issue 10: 1 and "1" are two customers, not one merged id
    r = abc_analysis([3.0, 2.0], customer_id=[1, "1"])
    assert r.customer_id.tolist() == [1, "1"]
    with pytest.raises(InvalidInputError, match=r"customer_id has an id with a NUL character"):
        customer_pyramid([3.0, 2.0], customer_id=["a\x00", "a"])


def test_ragged_tiers_are_a_type_error() -> None:
    with pytest.raises(InvalidTypeError, match=r"tiers must be a 1-D sequence of tiers 1\.\.4"):
        fit_tier_rule([[1.0], [2.0]], [1, [2, 3]])


def test_tier_strategy_validates_its_fields() -> None:
    s = TierStrategy(Tier.GOLD, "key", np.array(["call", "visit"]))
    assert s.actions == ("call", "visit")
    with pytest.raises(InvalidTypeError, match=r"actions must be a sequence of str"):
        TierStrategy(Tier.GOLD, "key", None)  # type: ignore[arg-type]
    with pytest.raises(InvalidTypeError, match=r"tier must be a Tier"):
        TierStrategy(np.array([2, 2]), "key", ())  # type: ignore[arg-type]
    with pytest.raises(InvalidTypeError, match=r"role must be a str"):
        TierStrategy(Tier.GOLD, math.inf, ())  # type: ignore[arg-type]
    rule = fit_tier_rule([[1.0], [2.0], [3.0], [4.0]], [1, 2, 3, 4])
    assert np.isfinite(rule.threshold).all()  # leaves hold 0, not nan


def test_tiers_as_an_object_array_of_members() -> None:
    tiers = np.array([Tier.PLATINUM, Tier.GOLD, Tier.IRON, Tier.LEAD], dtype=object)
    rule = fit_tier_rule([[4.0], [3.0], [2.0], [1.0]], tiers)
    assert rule.predict([[4.0], [1.0]]).tolist() == [1, 4]


def test_tier_rule_splits_extreme_attributes_without_overflow() -> None:
    x = [[1e308], [-1e308], [5e-324], [1e-323]]
    rule = fit_tier_rule(x, [1, 4, 3, 2])
    assert np.isfinite(rule.threshold).all()
    assert rule.predict(x).tolist() == [1, 4, 3, 2]
