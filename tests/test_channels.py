"""Tests of custrel.channels: partner selection and performance evaluation.

domain notes §5 gives the methods but no worked numbers, so the known values
below are small matrices computed by hand (the arithmetic is in the comments),
published textbook examples for AHP and TOPSIS conventions, and cross-checks
against pymcdm on random matrices.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from custrel import channels as ch
from custrel.channels import Criterion, DecisionMatrix, KnockOut, Partner
from custrel.errors import (
    CustrelError,
    EmptyInputError,
    InvalidInputError,
    InvalidTypeError,
)

pymcdm = pytest.importorskip("pymcdm")

# ---------------------------------------------------------------------------
# Helpers and strategies
# ---------------------------------------------------------------------------


def _matrix(x: Any, weights: Any, cost: Any = None, ids: Any = None) -> DecisionMatrix:
    x = np.asarray(x, dtype=float)
    m = x.shape[1]
    cost = np.zeros(m, dtype=bool) if cost is None else np.asarray(cost)
    crit = [
        Criterion(f"c{j}", weight=float(weights[j]), direction="cost" if cost[j] else "benefit")
        for j in range(m)
    ]
    return DecisionMatrix.from_arrays(x, crit, ids)


@st.composite
def problems(draw: st.DrawFn, *, min_n: int = 2, max_n: int = 7, max_m: int = 4) -> Any:
    """Small decision problems: integer scores 1..50, positive integer weights."""
    n = draw(st.integers(min_n, max_n))
    m = draw(st.integers(1, max_m))
    x = draw(hnp.arrays(np.float64, (n, m), elements=st.integers(1, 50).map(float)))
    w = draw(hnp.arrays(np.float64, m, elements=st.integers(1, 10).map(float)))
    cost = draw(hnp.arrays(np.bool_, m))
    return x, w, cost


METHOD_NORMS = [
    ("weighted_sum", "minmax"),
    ("weighted_sum", "vector"),
    ("weighted_sum", "sum"),
    ("weighted_sum", "max"),
    ("weighted_product", "sum"),
    ("topsis", "vector"),
    ("topsis", "minmax"),
    ("vikor", None),
]


def _ranks_by_id(res: ch.RankingResult) -> dict[Any, int]:
    return dict(zip(res.candidate_id.tolist(), res.rank.tolist(), strict=True))


# ---------------------------------------------------------------------------
# Decision matrix
# ---------------------------------------------------------------------------


def test_matrix_is_frozen_readonly_and_copies_input() -> None:
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    m = DecisionMatrix.from_arrays(x, ["a", "b"], ["p", "q"])
    x[0, 0] = 99.0
    assert m.scores[0, 0] == 1.0
    with pytest.raises(ValueError, match="read-only"):
        m.scores[0, 0] = 5.0
    assert m.criterion_names == ("a", "b")
    assert m.column("b").tolist() == [2.0, 4.0]


def test_matrix_from_records_and_partners_missing_key_is_nan() -> None:
    recs = [
        Partner("north", {"sales": 10, "coverage": 5}, name="North Ltd"),
        {"candidate_id": "south", "sales": 8},
    ]
    m = DecisionMatrix.from_records(recs, ["sales", "coverage"])
    assert m.candidate_id.tolist() == ["north", "south"]
    assert m.scores[0].tolist() == [10.0, 5.0]
    assert math.isnan(m.scores[1, 1])


@pytest.mark.parametrize("backend", ["pandas", "polars"])
def test_matrix_from_frame(backend: str) -> None:
    lib = pytest.importorskip(backend)
    df = lib.DataFrame({"candidate_id": ["a", "b"], "x": [1.0, 2.0], "y": [3.0, None]})
    m = DecisionMatrix.from_frame(df, ["x", Criterion("y", direction="cost")])
    assert m.candidate_id.tolist() == ["a", "b"]
    assert m.scores[0].tolist() == [1.0, 3.0]
    assert math.isnan(m.scores[1, 1])


def test_with_weights_drop_select_add() -> None:
    m = _matrix([[1, 2], [3, 4], [5, 6]], [1, 1], ids=["a", "b", "c"])
    assert m.with_weights([1, 3]).weights.tolist() == [0.25, 0.75]
    assert m.with_weights({"c1": 3}).weights.tolist() == [0.25, 0.75]
    assert m.drop("b").candidate_id.tolist() == ["a", "c"]
    assert m.select(["c", "a"]).candidate_id.tolist() == ["a", "c"]
    extra = _matrix([[7, 8]], [1, 1], ids=["d"])
    assert m.add(extra).candidate_id.tolist() == ["a", "b", "c", "d"]


# ---------------------------------------------------------------------------
# Known values on hand-computed matrices
# ---------------------------------------------------------------------------


def test_weighted_sum_forced_scoring_known_values() -> None:
    # Textbook forced scoring: scores already on 1-10, weights 0.4/0.3/0.3.
    # A: 0.4*8 + 0.3*6 + 0.3*7 = 7.1; B: 0.4*6 + 0.3*9 + 0.3*8 = 7.5;
    # C: 0.4*9 + 0.3*5 + 0.3*5 = 6.6.
    crit = [Criterion("sales", 0.4), Criterion("coverage", 0.3), Criterion("cooperation", 0.3)]
    m = DecisionMatrix.from_arrays([[8, 6, 7], [6, 9, 8], [9, 5, 5]], crit, ["A", "B", "C"])
    r = ch.weighted_sum(m, normalization="none")
    np.testing.assert_allclose(r.score, [7.1, 7.5, 6.6])
    assert r.ranking().tolist() == ["B", "A", "C"]
    assert r.rank.tolist() == [2, 1, 3]
    np.testing.assert_allclose(r.contributions.sum(axis=1), r.score)
    expl = r.explain("B", "A")
    np.testing.assert_allclose(sum(expl.values()), 0.4)
    np.testing.assert_allclose(expl["coverage"], 0.9)
    assert r.ties == ()


def test_weighted_sum_minmax_with_cost_known_values() -> None:
    # sales (benefit) 200/150/180 -> min-max 1, 0, 0.6;
    # cost (cost) 8/9/6 -> (9 - x)/3 = 1/3, 0, 1; equal weights.
    m = DecisionMatrix.from_arrays(
        [[200, 8], [150, 9], [180, 6]],
        [Criterion("sales"), Criterion("cost", direction="cost")],
        ["A", "B", "C"],
    )
    r = ch.weighted_sum(m)
    np.testing.assert_allclose(r.score, [2 / 3, 0.0, 0.8])
    assert r.winner() == "C"


def test_topsis_hand_computed() -> None:
    # X=(7,9), Y=(8,7), Z=(9,6), w=(.5,.5), vector normalisation:
    # ‖a‖=sqrt(194), ‖b‖=sqrt(166); v_X=(.2513,.3493), v_Y=(.2872,.2717),
    # v_Z=(.3231,.2329); ideal (.3231,.3493), anti-ideal (.2513,.2329).
    # C_X = .1164/(.0718+.1164) = .6185; C_Y = .0529/(.0855+.0529) = .3820;
    # C_Z = .0718/(.1164+.0718) = .3815.
    m = DecisionMatrix.from_arrays([[7, 9], [8, 7], [9, 6]], ["a", "b"], ["X", "Y", "Z"])
    r = ch.topsis(m)
    x = np.array([[7, 9], [8, 7], [9, 6]], dtype=float)
    v = 0.5 * x / np.sqrt((x**2).sum(axis=0))
    dp = np.sqrt(((v - v.max(0)) ** 2).sum(1))
    dm = np.sqrt(((v - v.min(0)) ** 2).sum(1))
    np.testing.assert_allclose(r.score, dm / (dp + dm))
    np.testing.assert_allclose(r.score, [0.6185, 0.3820, 0.3815], atol=5e-4)
    np.testing.assert_allclose(r.details["distance_best"], dp)


def test_topsis_cost_flip_equals_classic_min_ideal() -> None:
    # Classic TOPSIS keeps cost columns as v and takes min as the ideal; the
    # 1 - r flip used here gives identical distances.
    rng = np.random.default_rng(3)
    x = rng.uniform(1, 10, size=(6, 3))
    w = np.array([0.5, 0.3, 0.2])
    cost = np.array([False, True, False])
    r = ch.topsis(_matrix(x, w, cost))
    v = w * x / np.sqrt((x**2).sum(axis=0))
    ideal = np.where(cost, v.min(0), v.max(0))
    anti = np.where(cost, v.max(0), v.min(0))
    dp = np.sqrt(((v - ideal) ** 2).sum(1))
    dm = np.sqrt(((v - anti) ** 2).sum(1))
    np.testing.assert_allclose(r.score, dm / (dp + dm))


def test_vikor_hand_computed() -> None:
    # X=(7,9), Y=(8,7), Z=(9,4), w=(.5,.5): d_X=(.5,0), d_Y=(.25,.2),
    # d_Z=(0,.5); S=(.5,.45,.5), R=(.5,.25,.5); Q=(1,0,1).
    # Y: Q(a2)-Q(a1)=1 >= 1/(n-1)=.5 and Y best by S -> compromise {Y}.
    m = DecisionMatrix.from_arrays([[7, 9], [8, 7], [9, 4]], ["a", "b"], ["X", "Y", "Z"])
    r = ch.vikor(m)
    np.testing.assert_allclose(r.details["S"], [0.5, 0.45, 0.5])
    np.testing.assert_allclose(r.details["R"], [0.5, 0.25, 0.5])
    np.testing.assert_allclose(r.score, [1.0, 0.0, 1.0])
    assert not r.higher_is_better
    assert r.winner() == "Y"
    assert r.details["compromise"].tolist() == [False, True, False]
    assert r.ties == (("X", "Z"),)
    assert r.rank.tolist() == [2, 1, 2]
    np.testing.assert_allclose(r.contributions.sum(axis=1), r.details["S"])


def test_weighted_product_known_values() -> None:
    # sum normalisation: a: 2/6, 4/6; b: 4/5, 1/5; equal weights:
    # X = sqrt(1/3 * 4/5) = .5164, Y = sqrt(2/3 * 1/5) = .3651.
    m = DecisionMatrix.from_arrays([[2.0, 4.0], [4.0, 1.0]], ["a", "b"], ["X", "Y"])
    r = ch.weighted_product(m)
    np.testing.assert_allclose(r.score, [math.sqrt(4 / 15), math.sqrt(2 / 15)])
    np.testing.assert_allclose(np.exp(r.contributions.sum(axis=1)), r.score)


def test_ties_are_reported_and_ordered_by_id() -> None:
    m = DecisionMatrix.from_arrays([[5.0], [7.0], [5.0], [7.0]], ["x"], ["d", "c", "b", "a"])
    r = ch.weighted_sum(m, normalization="none")
    assert r.ranking().tolist() == ["a", "c", "b", "d"]
    assert r.rank.tolist() == [3, 1, 3, 1]
    assert r.ties == (("a", "c"), ("b", "d"))
    assert r.winner() == "a"


def test_scale_normalisation_and_table() -> None:
    crit = [Criterion("rating", scale=(1, 5)), Criterion("days", direction="cost", scale=(0, 10))]
    m = DecisionMatrix.from_arrays([[5, 2], [3, 0]], crit, ["A", "B"])
    r = ch.weighted_sum(m, normalization="scale")
    # A: .5*(4/4) + .5*(8/10) = .9; B: .5*(2/4) + .5*1 = .75
    np.testing.assert_allclose(r.score, [0.9, 0.75])
    t = r.table()
    assert t["candidate_id"].tolist() == ["A", "B"]
    np.testing.assert_allclose(t["days"], [0.4, 0.5])


# ---------------------------------------------------------------------------
# Eligibility and missing scores
# ---------------------------------------------------------------------------


def test_knockout_rules_record_who_and_why() -> None:
    crit = [
        Criterion("sales", minimum=100),
        Criterion("coverage", weight=2),
        Criterion("competitors", weight=0),
    ]
    m = DecisionMatrix.from_arrays(
        [[150, 5, 0], [90, 9, 1], [120, 7, 1], [200, 4, 0]], crit, ["A", "B", "C", "D"]
    )
    r = ch.weighted_sum(m, rules=[KnockOut("competitors", maximum=0, name="exclusive")])
    assert set(r.candidate_id.tolist()) == {"A", "D"}
    assert r.exclusions.excluded() == ("B", "C")
    assert r.exclusions.rules_for("B") == ("sales >= 100", "exclusive")
    assert r.exclusions.rules_for("C") == ("exclusive",)
    assert r.exclusions.rules_for("A") == ()
    with pytest.raises(InvalidInputError, match="excluded before ranking"):
        r.explain("A", "B")


def test_all_excluded_raises_with_counts() -> None:
    m = DecisionMatrix.from_arrays([[1.0], [2.0]], [Criterion("x", minimum=5)])
    with pytest.raises(EmptyInputError, match=r"'x >= 5' excluded 2"):
        ch.weighted_sum(m)


@pytest.mark.parametrize(
    ("policy", "expected_b"),
    [("worst", 1.0), ("impute", 2.0)],  # observed b column: 1, 3 -> worst 1, mean 2
)
def test_missing_fill_policies(policy: str, expected_b: float) -> None:
    m = DecisionMatrix.from_arrays([[1, 1], [2, np.nan], [3, 3]], ["a", "b"], ["P", "Q", "R"])
    r = ch.weighted_sum(m, normalization="none", missing=policy)  # type: ignore[arg-type]
    np.testing.assert_allclose(r.score[1], 0.5 * 2 + 0.5 * expected_b)
    assert r.filled.tolist() == [[False, False], [False, True], [False, False]]


def test_missing_worst_uses_scale_end_and_exclude_records_rule() -> None:
    # Q's missing cost score takes the scale's worst end, 10 (not the worst
    # observed, 3): a 2/10 = .2, b (10 - 10)/10 = 0 -> .5 * .2 = .1.
    crit = [Criterion("a", scale=(0, 10)), Criterion("b", direction="cost", scale=(0, 10))]
    m = DecisionMatrix.from_arrays([[1, 1], [2, np.nan], [3, 3]], crit, ["P", "Q", "R"])
    r = ch.weighted_sum(m, normalization="scale", missing="worst")
    assert r.score[1] == pytest.approx(0.1)
    ex = ch.weighted_sum(m, normalization="vector", missing="exclude")
    assert ex.exclusions.rules_for("Q") == ("missing b",)
    assert "Q" not in ex.candidate_id.tolist()


def test_missing_in_unused_zero_weight_column_is_ignored() -> None:
    crit = [Criterion("a"), Criterion("note", weight=0)]
    m = DecisionMatrix.from_arrays([[1, np.nan], [2, 5]], crit)
    r = ch.weighted_sum(m, normalization="none")
    np.testing.assert_allclose(r.score, [1.0, 2.0])
    assert r.contributions[:, 1].tolist() == [0.0, 0.0]


# ---------------------------------------------------------------------------
# Weights
# ---------------------------------------------------------------------------


def test_ahp_consistent_matrix_exact() -> None:
    # A perfectly consistent matrix a_ij = w_i/w_j with w = (4, 2, 1)/7:
    # lambda_max = n = 3, CI = CR = 0.
    a = [[1, 2, 4], [0.5, 1, 2], [0.25, 0.5, 1]]
    res = ch.ahp_weights(a, criteria=["x", "y", "z"])
    np.testing.assert_allclose(res.weights, [4 / 7, 2 / 7, 1 / 7])
    assert res.lambda_max == pytest.approx(3.0)
    assert res.consistency_ratio == pytest.approx(0.0, abs=1e-12)
    assert res.random_index == 0.58
    assert res.consistent


def test_ahp_saaty_three_criteria_example() -> None:
    # Common textbook example (1, 3, 5 / 1/3, 1, 3 / 1/5, 1/3, 1):
    # w = (.637, .258, .105), lambda_max = 3.0385, CI = .0193, CR = .033.
    a = [[1, 3, 5], [1 / 3, 1, 3], [1 / 5, 1 / 3, 1]]
    res = ch.ahp_weights(a)
    np.testing.assert_allclose(res.weights, [0.637, 0.258, 0.105], atol=5e-4)
    assert res.lambda_max == pytest.approx(3.0385, abs=5e-4)
    assert res.consistency_ratio == pytest.approx(0.033, abs=5e-4)


def test_ahp_gate_raises_or_warns() -> None:
    # Intransitive judgements: x > y > z but z > x.
    a = [[1, 5, 1 / 5], [1 / 5, 1, 5], [5, 1 / 5, 1]]
    with pytest.raises(InvalidInputError, match=r"consistency ratio .* > max_cr=0.1"):
        ch.ahp_weights(a)
    with pytest.warns(ch.ConsistencyWarning, match="revise the judgements"):
        res = ch.ahp_weights(a, on_inconsistent="warn")
    assert not res.consistent
    assert res.consistency_ratio > 0.1


def test_ahp_weights_feed_the_matrix() -> None:
    m = _matrix([[1, 2, 3], [3, 2, 1]], [1, 1, 1])
    res = ch.ahp_weights([[1, 2, 4], [0.5, 1, 2], [0.25, 0.5, 1]], criteria=["c0", "c1", "c2"])
    np.testing.assert_allclose(m.with_weights(res).weights, res.weights)
    with pytest.raises(InvalidInputError, match="weights are for criteria"):
        m.with_weights(ch.ahp_weights([[1, 2], [0.5, 1]]))


def test_normalize_weights_total_check() -> None:
    np.testing.assert_allclose(ch.normalize_weights([1, 1, 2]), [0.25, 0.25, 0.5])
    np.testing.assert_allclose(ch.normalize_weights([25, 25, 50], total=100), [0.25, 0.25, 0.5])
    with pytest.raises(InvalidInputError, match=r"weights sum to 0\.9, expected 1"):
        ch.normalize_weights([0.3, 0.3, 0.3], total=1)


@pytest.mark.parametrize("seed", range(5))
def test_entropy_weights_match_pymcdm(seed: int) -> None:
    x = np.random.default_rng(seed).uniform(1, 100, size=(8, 4))
    ours = ch.entropy_weights(x)
    np.testing.assert_allclose(ours.weights, pymcdm.weights.entropy_weights(x), rtol=1e-10)
    np.testing.assert_allclose(ours.divergence, 1 - ours.entropy)


def test_entropy_zero_entries_use_limit() -> None:
    # pymcdm gives a column with a zero entropy 0 (weight maximal); the limit
    # 0 ln 0 = 0 gives [0, 1] -> p = (0, 1): E = 0 too, but (0, .5, .5) differs.
    res = ch.entropy_weights([[0.0, 1.0], [1.0, 1.0], [1.0, 2.0]])
    p = np.array([0.0, 0.5, 0.5])
    e0 = -(p[1:] * np.log(p[1:])).sum() / math.log(3)
    np.testing.assert_allclose(res.entropy[0], e0)


# ---------------------------------------------------------------------------
# Scoring functions
# ---------------------------------------------------------------------------


def test_scoring_functions() -> None:
    np.testing.assert_allclose(ch.score_linear([0, 50, 100, 150], 0, 100), [0, 5, 10, 10])
    np.testing.assert_allclose(
        ch.score_linear([1, 3], 1, 5, direction="cost", scale=(1, 5)), [5, 3]
    )
    with pytest.raises(InvalidInputError, match="values must be in"):
        ch.score_linear([150], 0, 100, saturate=False)
    np.testing.assert_allclose(ch.score_bands([0, 10, 25, 99], [10, 50], [1, 2, 3]), [1, 2, 2, 3])
    np.testing.assert_allclose(ch.score_likert([1, 3, 5], scale=(0, 100)), [0, 50, 100])


# ---------------------------------------------------------------------------
# Sensitivity
# ---------------------------------------------------------------------------


def test_weight_sensitivity_linear_exact() -> None:
    # X = 8(.6-d) + 4(.4+d) = 6.4 - 4d; Y = 5(.6-d) + 7(.4+d) = 5.8 + 2d:
    # equal at d = 0.1 (lower a by .1, or raise b by .1).
    crit = [Criterion("a", 0.6), Criterion("b", 0.4)]
    m = DecisionMatrix.from_arrays([[8, 4], [5, 7]], crit, ["X", "Y"])
    res = ch.weight_sensitivity(m, normalization="none")
    assert res.winner == "X"
    assert res.decrease[0] == pytest.approx(0.1, abs=1e-8)
    assert res.increase[1] == pytest.approx(0.1, abs=1e-8)
    assert math.isnan(res.increase[0])
    assert math.isnan(res.decrease[1])
    assert res.winner_if_decreased == ("Y", None)
    assert res.most_sensitive() in ("a", "b")
    np.testing.assert_allclose(res.smallest(), [0.1, 0.1], atol=1e-8)


@pytest.mark.parametrize(("method", "norm"), METHOD_NORMS)
def test_weight_sensitivity_threshold_really_flips(method: str, norm: str | None) -> None:
    x = np.array([[9, 2, 5], [3, 9, 6], [6, 6, 4], [5, 4, 9]], dtype=float)
    m = _matrix(x, [3, 2, 1], ids=list("ABCD"))
    res = ch.weight_sensitivity(m, method, normalization=norm)  # type: ignore[arg-type]
    base = ch.rank(m, method, normalization=norm)  # type: ignore[arg-type]
    w0 = base.weights
    for j in range(3):
        for delta, sign in ((res.increase[j], 1), (res.decrease[j], -1)):
            if math.isnan(delta):
                continue
            for d, changed in ((delta * 0.98, False), (min(delta * 1.02, 1.0), True)):
                w = w0 * (1 - w0[j] - sign * d) / (1 - w0[j])
                w[j] = w0[j] + sign * d
                w = np.clip(w, 0, None)
                if w.sum() == 0 or (w == 0).sum() > (w0 == 0).sum():
                    continue
                r = ch.rank(m.with_weights(w), method, normalization=norm)  # type: ignore[arg-type]
                top = set(r.candidate_id[r.rank == 1].tolist())
                assert (top != {base.winner()}) == changed, (method, j, sign, d)


def test_weight_stability_seeded_and_consistent() -> None:
    m = DecisionMatrix.from_arrays([[9, 1], [1, 9], [5, 5.5]], ["a", "b"], ["X", "Y", "Z"])
    a = ch.weight_stability(m, n_draws=300, rng=7)
    b = ch.weight_stability(m, n_draws=300, rng=7)
    np.testing.assert_array_equal(a.rank_counts, b.rank_counts)
    assert a.rank_counts.sum(axis=1).tolist() == [300, 300, 300]
    assert a.winner_share.sum() == pytest.approx(1.0)
    assert 0 < a.same_winner_share < 1
    # spread 0: nothing moves
    z = ch.weight_stability(m, n_draws=20, spread=0.0, rng=1)
    assert z.same_ranking_share == 1.0


def test_rank_reversal_minmax_vs_fixed_scale() -> None:
    # Without W: minmax a (3..10) -> A 0, B 4/7, C 1; b (5..9) -> 1, .5, 0:
    # B .536 > C .5.  Adding W=(0, 1), dominated by all: a (0..10) -> .3,
    # .7, 1; b (1..9) -> 1, .75, .5: C .75 > B .725. A weak newcomer swaps
    # B and C. On the fixed scale (0..10) it cannot.
    crit = [Criterion("a", scale=(0, 10)), Criterion("b", scale=(0, 10))]
    m = DecisionMatrix.from_arrays([[3, 9], [7, 7], [10, 5]], crit, ["A", "B", "C"])
    weak = DecisionMatrix.from_arrays([[0, 1]], crit, ["W"])
    rr = ch.rank_reversal(m, "weighted_sum", add=weak, normalization="minmax")
    assert rr.change[-1] == "add"
    assert rr.pairs[-1] == (("B", "C"),)
    assert rr.winner_changed[-1]
    assert rr.any_reversal()
    fixed = ch.rank_reversal(m, "weighted_sum", add=weak, normalization="scale")
    assert not fixed.any_reversal()


@given(problems(min_n=3), st.integers(0, 50), st.integers(0, 50))
def test_fixed_scale_adding_weak_candidate_never_reverses(prob: Any, wa: int, wb: int) -> None:
    x, w, cost = prob
    m = x.shape[1]
    crit = [
        Criterion(f"c{j}", float(w[j]), "cost" if cost[j] else "benefit", scale=(0, 60))
        for j in range(m)
    ]
    mat = DecisionMatrix.from_arrays(x, crit)
    newcomer = np.array([[wa, wb, wa, wb][:m]], dtype=float)
    add = DecisionMatrix.from_arrays(newcomer, crit, [10_000])
    for method in ("weighted_sum", "weighted_product"):
        if method == "weighted_product":
            sc = np.where(cost, 60 - np.vstack([x, newcomer]), np.vstack([x, newcomer]))
            if (sc <= 0).any():
                continue
        rr = ch.rank_reversal(mat, method, add=add, normalization="scale")  # type: ignore[arg-type]
        assert rr.reversed_pairs.sum() == 0


# ---------------------------------------------------------------------------
# Hypothesis properties from the issue
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "norm"), METHOD_NORMS)
@given(prob=problems(), factor=st.floats(0.01, 100.0))
def test_scaling_weights_changes_nothing(
    method: str, norm: str | None, prob: Any, factor: float
) -> None:
    x, w, cost = prob
    assume(np.ptp(x, axis=0).all())
    a = ch.rank(_matrix(x, w, cost), method, normalization=norm)  # type: ignore[arg-type]
    b = ch.rank(_matrix(x, w * factor, cost), method, normalization=norm)  # type: ignore[arg-type]
    np.testing.assert_allclose(a.score, b.score, rtol=1e-9, atol=1e-12)
    assert a.rank.tolist() == b.rank.tolist()


@pytest.mark.parametrize("norm", ["none", "minmax", "vector", "sum", "max"])
@given(prob=problems(), data=st.data())
def test_dominated_never_outranks_dominating_weighted_sum(
    norm: str, prob: Any, data: st.DataObject
) -> None:
    x, w, cost = prob
    assume(np.ptp(x, axis=0).all())
    n, m = x.shape
    i, k = data.draw(st.sampled_from([(i, k) for i in range(n) for k in range(n) if i != k]))
    # make row k dominated by row i: worse or equal on every criterion
    steps = data.draw(hnp.arrays(np.float64, m, elements=st.integers(0, 5).map(float)))
    x = x.copy()
    x[k] = np.where(cost, x[i] + steps, np.maximum(x[i] - steps, 0.5))
    assume(np.ptp(x, axis=0).all())
    r = ch.weighted_sum(_matrix(x, w, cost), normalization=norm)
    assert r.rank[i] <= r.rank[k]


@pytest.mark.parametrize(("method", "norm"), METHOD_NORMS)
@given(prob=problems(), extra=st.lists(st.integers(-5, 50), min_size=7, max_size=7))
def test_zero_weight_criterion_changes_nothing(
    method: str, norm: str | None, prob: Any, extra: list[int]
) -> None:
    x, w, cost = prob
    assume(np.ptp(x, axis=0).all())
    n = x.shape[0]
    x2 = np.column_stack([x, np.asarray(extra[:n], dtype=float)])
    a = ch.rank(_matrix(x, w, cost), method, normalization=norm)  # type: ignore[arg-type]
    b = ch.rank(
        _matrix(x2, [*w, 0.0], [*cost, False]),
        method,  # type: ignore[arg-type]
        normalization=norm,
    )
    np.testing.assert_allclose(a.score, b.score, rtol=1e-12)
    assert a.rank.tolist() == b.rank.tolist()
    assert (b.contributions[:, -1] == 0).all()


@given(prob=problems(), threshold=st.integers(1, 50))
def test_excluded_never_ranked(prob: Any, threshold: int) -> None:
    x, w, cost = prob
    crit = [
        Criterion(
            f"c{j}",
            float(w[j]),
            "cost" if cost[j] else "benefit",
            minimum=float(threshold) if j == 0 else None,
        )
        for j in range(x.shape[1])
    ]
    m = DecisionMatrix.from_arrays(x, crit)
    if (x[:, 0] < threshold).all():
        with pytest.raises(EmptyInputError):
            ch.weighted_sum(m, normalization="none")
        return
    r = ch.weighted_sum(m, normalization="none")
    excluded = set(r.exclusions.excluded())
    assert excluded == set(np.flatnonzero(x[:, 0] < threshold).tolist())
    assert excluded.isdisjoint(r.candidate_id.tolist())
    assert excluded.isdisjoint(r.ranking().tolist())


@pytest.mark.parametrize(("method", "norm"), METHOD_NORMS)
@given(prob=problems(), data=st.data())
def test_candidate_order_does_not_matter(
    method: str, norm: str | None, prob: Any, data: st.DataObject
) -> None:
    x, w, cost = prob
    assume(np.ptp(x, axis=0).all())
    n = x.shape[0]
    perm = np.asarray(data.draw(st.permutations(range(n))))
    ids = np.array([f"id{i}" for i in range(n)])
    a = ch.rank(_matrix(x, w, cost, ids), method, normalization=norm)  # type: ignore[arg-type]
    b = ch.rank(_matrix(x[perm], w, cost, ids[perm]), method, normalization=norm)  # type: ignore[arg-type]
    assert _ranks_by_id(a) == _ranks_by_id(b)
    assert a.ranking().tolist() == b.ranking().tolist()
    assert a.ties == b.ties


# ---------------------------------------------------------------------------
# Cross-checks against pymcdm on random matrices
# ---------------------------------------------------------------------------


def _random_problem(seed: int) -> tuple[Any, Any, Any]:
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(4, 30)), int(rng.integers(2, 8))
    x = rng.uniform(1.0, 100.0, size=(n, m))
    w = rng.dirichlet(np.ones(m))
    types = rng.choice([1, -1], size=m)
    return x, w, types


def _pymcdm_order(method: Any, x: Any, w: Any, types: Any) -> Any:
    with warnings.catch_warnings():
        # pymcdm's own advice about dominant alternatives, not a custrel warning
        warnings.simplefilter("ignore", UserWarning)
        pref = method(x, w, types)
    return pref, np.argsort(-pref if method._reverse_ranking else pref, kind="stable")


@pytest.mark.parametrize("seed", range(12))
def test_cross_check_pymcdm(seed: int) -> None:
    from pymcdm import methods as pm
    from pymcdm import normalizations as pn

    x, w, types = _random_problem(seed)
    m = _matrix(x, w, types == -1)
    cases = [
        # (ours, pymcdm) — same definitions, so scores agree, not only ranks
        (ch.topsis(m), pm.TOPSIS(pn.vector_normalization)),
        (ch.topsis(m, normalization="minmax"), pm.TOPSIS()),
        (ch.vikor(m), pm.VIKOR()),
        (ch.weighted_sum(m, normalization="sum"), pm.WSM()),
        (ch.weighted_sum(m, normalization="minmax"), pm.WSM(pn.minmax_normalization)),
        (ch.weighted_sum(m, normalization="max"), pm.WSM(pn.max_normalization)),
        (ch.weighted_product(m, normalization="sum"), pm.WPM()),
    ]
    for ours, theirs in cases:
        pref, order = _pymcdm_order(theirs, x, w, types)
        np.testing.assert_allclose(ours.score, pref, rtol=1e-9, err_msg=ours.method)
        assert ours.order.tolist() == order.tolist(), ours.method


def test_cross_check_vikor_differs_in_degenerate_q() -> None:
    # Where the definitions differ: when all S are equal pymcdm divides 0/0
    # (nan Q); here that term is 0, so Q stays defined.
    x = np.array([[1.0, 3.0], [3.0, 1.0]])
    r = ch.vikor(_matrix(x, [0.5, 0.5]))
    assert np.isfinite(r.score).all()
    with np.errstate(invalid="ignore", divide="ignore"):
        theirs = pymcdm.methods.VIKOR()(x, np.array([0.5, 0.5]), np.array([1, 1]))
    assert np.isnan(theirs).all()


# ---------------------------------------------------------------------------
# Grouped index (sales staff, CRM capability)
# ---------------------------------------------------------------------------


def test_weighted_index_staff_outcome_behaviour() -> None:
    # ann: outcome (8+6)/2 = 7, behaviour 9 -> .7*7 + .3*9 = 7.6
    # bo:  outcome (6+9)/2 = 7.5, behaviour 7 -> .7*7.5 + .3*7 = 7.35
    m = DecisionMatrix.from_arrays(
        [[8, 6, 9], [6, 9, 7]], ["sales", "visits", "skill"], ["ann", "bo"]
    )
    res = ch.weighted_index(
        m,
        {"outcome": ["sales", "visits"], "behaviour": ["skill"]},
        group_weights={"outcome": 0.7, "behaviour": 0.3},
    )
    np.testing.assert_allclose(res.score, [7.6, 7.35])
    np.testing.assert_allclose(res.group_scores, [[7.0, 9.0], [7.5, 7.0]])
    np.testing.assert_allclose(res.ranking.weights, [0.35, 0.35, 0.3])
    assert res.rank.tolist() == [1, 2]


# ---------------------------------------------------------------------------
# Sales volume, sales cost, performance
# ---------------------------------------------------------------------------


def test_sales_forecast_linear_matches_regression_formula() -> None:
    y = np.array([[12.0, 15.0, 14.0, 18.0, 21.0], [30.0, 28.0, 29.0, 25.0, 24.0]])
    res = ch.sales_forecast(y, horizon=2, level=0.9, candidate_id=["a", "b"])
    t = np.arange(1, 6.0)
    for i in range(2):
        b, a = np.polyfit(t, y[i], 1)
        s = np.sqrt(((y[i] - (a + b * t)) ** 2).sum() / 3)
        t0 = 7.0
        half = 2.3533634 * s * math.sqrt(1 + 1 / 5 + (t0 - 3) ** 2 / 10)  # t_{3, .95}
        assert res.slope[i] == pytest.approx(b)
        assert res.forecast[i] == pytest.approx(a + b * t0)
        assert res.upper[i] - res.forecast[i] == pytest.approx(half, rel=1e-6)
    # a rises to 24.4 at t = 7, b falls to about 21.2
    assert res.ranked().tolist() == ["a", "b"]


def test_sales_forecast_loglinear_and_traffic_cap() -> None:
    y = [[100.0, 110.0, 121.0, 133.1]]  # +10 % a period exactly
    res = ch.sales_forecast(y, model="loglinear", traffic=[100.0], spend_per_visit=1.2)
    assert res.growth_rate[0] == pytest.approx(0.1)
    assert res.forecast[0] == pytest.approx(146.41)
    assert res.cap[0] == pytest.approx(120.0)
    assert res.attainable[0] == pytest.approx(120.0)
    assert res.capped.tolist() == [True]
    assert res.lower[0] == pytest.approx(146.41)  # perfect fit: zero-width interval


def test_sales_cost_analysis() -> None:
    # A: 40 total, 40/100 = .4 per unit, 40/500 = .08 per sales, 12.5 efficiency
    # B: 45 total, .3 per unit, 45/800 = .05625, 17.78
    res = ch.sales_cost([[30, 10], [25, 20]], [100, 150], [500, 800], candidate_id=["A", "B"])
    np.testing.assert_allclose(res.cost_per_unit, [0.4, 0.3])
    np.testing.assert_allclose(res.efficiency, [12.5, 800 / 45])
    assert res.cheapest_total == ("A",)
    assert res.cheapest_per_unit == ("B",)
    assert res.cheapest_per_sales == ("B",)
    assert res.most_efficient == ("B",)
    tie = ch.sales_cost([10, 10], [1, 1], [5, 5], candidate_id=["y", "x"])
    assert tie.cheapest_total == ("x", "y")


def test_performance_comparisons() -> None:
    v = ch.vertical_comparison([110, 90, 5], [100, 100, 0], candidate_id=list("ABC"))
    np.testing.assert_allclose(v.change, [10, -10, 5])
    assert v.declined.tolist() == [False, True, False]
    assert math.isnan(v.growth[2])
    # growth .2, .05, .1 -> mean .11667; aggregate 324/290 - 1 = .11724
    h = ch.horizontal_comparison([120, 105, 99], [100, 100, 90], candidate_id=list("ABC"))
    assert h.group_growth == pytest.approx(0.35 / 3)
    assert h.below_average.tolist() == [False, True, True]
    assert h.rank.tolist() == [1, 3, 2]
    agg = ch.horizontal_comparison([120, 105, 99], [100, 100, 90], average="aggregate")
    assert agg.group_growth == pytest.approx(324 / 290 - 1)
    q = ch.quota_attainment([80, 45, 90], [100, 50, 120], candidate_id=list("ABC"))
    np.testing.assert_allclose(q.attainment, [0.8, 0.9, 0.75])
    assert q.ranking().tolist() == ["B", "A", "C"]


# ---------------------------------------------------------------------------
# Bad inputs
# ---------------------------------------------------------------------------

_OK = [[1.0, 2.0], [3.0, 4.0]]


def _crit(**kw: Any) -> Any:
    return lambda: Criterion("x", **kw)


BAD_INPUTS = [
    pytest.param(
        _crit(weight=-1),
        InvalidInputError,
        r"weight of criterion 'x' must be >= 0, got -1.0",
        id="negative-weight",
    ),
    pytest.param(
        _crit(weight=float("nan")),
        InvalidInputError,
        r"weight of criterion 'x' must be finite",
        id="nan-weight",
    ),
    pytest.param(
        _crit(direction="up"),
        InvalidInputError,
        r"direction of criterion 'x' must be one of",
        id="bad-direction",
    ),
    pytest.param(
        _crit(scale=(5, 1)),
        InvalidInputError,
        r"must have low < high, got \(5, 1\)",
        id="inverted-scale",
    ),
    pytest.param(
        _crit(minimum=5, maximum=1), InvalidInputError, r"minimum 5 > maximum 1", id="min-above-max"
    ),
    pytest.param(
        lambda: Criterion(3),
        InvalidTypeError,
        r"criterion name must be a non-empty string",
        id="name-not-str",
    ),
    pytest.param(
        lambda: KnockOut("x"),
        InvalidInputError,
        r"needs a minimum or a maximum",
        id="empty-knockout",
    ),
    pytest.param(
        lambda: DecisionMatrix.from_arrays(_OK, [Criterion("a", 0), Criterion("b", 0)]),
        InvalidInputError,
        r"weights are all zero",
        id="all-zero-weights",
    ),
    pytest.param(
        lambda: DecisionMatrix.from_arrays(_OK, ["a"]),
        InvalidInputError,
        r"2 columns but 1 criteria",
        id="column-count",
    ),
    pytest.param(
        lambda: DecisionMatrix.from_arrays(_OK, ["a", "a"]),
        InvalidInputError,
        r"criterion names must be unique, got 'a'",
        id="duplicate-criterion",
    ),
    pytest.param(
        lambda: DecisionMatrix.from_arrays(_OK, ["a", "b"], ["p", "p"]),
        InvalidInputError,
        r"candidate_id must be distinct, got 'p' at rows 0 and 1",
        id="duplicate-id",
    ),
    pytest.param(
        lambda: DecisionMatrix.from_arrays([[1.0, np.inf]], ["a", "b"]),
        InvalidInputError,
        r"finite or nan \(missing\), got inf at \[0, 1\]",
        id="inf-score",
    ),
    pytest.param(
        lambda: DecisionMatrix.from_arrays([[11.0]], [Criterion("a", scale=(0, 10))]),
        InvalidInputError,
        r"is 11, outside its scale \(0, 10\)",
        id="outside-scale",
    ),
    pytest.param(
        lambda: DecisionMatrix.from_arrays(np.empty((0, 2)), ["a", "b"]),
        EmptyInputError,
        r"scores is empty",
        id="no-candidates",
    ),
    pytest.param(
        lambda: DecisionMatrix.from_arrays([[1.0]], []),
        EmptyInputError,
        r"criteria is empty",
        id="no-criteria",
    ),
    pytest.param(
        lambda: DecisionMatrix.from_arrays([["a"]], ["x"]),
        InvalidTypeError,
        r"scores must be numeric",
        id="text-scores",
    ),
    pytest.param(
        lambda: ch.weighted_sum(
            DecisionMatrix.from_arrays([[1.0, np.nan], [2.0, 3.0]], ["a", "b"], ["p", "q"])
        ),
        InvalidInputError,
        r"missing value \(nan\) for candidate 'p' on criterion 'b' at \[0, 1\]; choose a policy",
        id="nan-score",
    ),
    pytest.param(
        lambda: ch.weighted_sum(DecisionMatrix.from_arrays([[1.0, 5.0], [2.0, 5.0]], ["a", "b"])),
        InvalidInputError,
        r"criterion 'b' has the same value 5 for every eligible candidate, so min-max",
        id="zero-range-minmax",
    ),
    pytest.param(
        lambda: ch.vikor(DecisionMatrix.from_arrays([[1.0, 5.0], [2.0, 5.0]], ["a", "b"])),
        InvalidInputError,
        r"criterion 'b' has the same value 5",
        id="zero-range-vikor",
    ),
    pytest.param(
        lambda: ch.weighted_sum(
            DecisionMatrix.from_arrays([[-1.0], [2.0]], ["a"]), normalization="sum"
        ),
        InvalidInputError,
        r"criterion 'a' has a negative score -1 for candidate 0",
        id="negative-under-sum",
    ),
    pytest.param(
        lambda: ch.weighted_sum(
            DecisionMatrix.from_arrays([[1.0], [2.0]], ["a"]), normalization="scale"
        ),
        InvalidInputError,
        r"criterion 'a' has no fixed scale",
        id="scale-without-scale",
    ),
    pytest.param(
        lambda: ch.weighted_product(
            DecisionMatrix.from_arrays([[1.0], [2.0]], ["a"]), normalization="minmax"
        ),
        InvalidInputError,
        r"weighted_product needs normalised scores > 0, but criterion 'a' gives 0",
        id="product-zero",
    ),
    pytest.param(
        lambda: ch.weighted_sum(
            DecisionMatrix.from_arrays([[1.0], [2.0]], ["a"]), normalization="zscore"
        ),
        InvalidInputError,
        r"normalization must be one of",
        id="unknown-normalization",
    ),
    pytest.param(
        lambda: ch.weighted_sum(DecisionMatrix.from_arrays([[1.0], [2.0]], ["a"]), missing="drop"),  # type: ignore[arg-type]
        InvalidInputError,
        r"missing must be one of",
        id="unknown-missing-policy",
    ),
    pytest.param(
        lambda: ch.weighted_sum(
            DecisionMatrix.from_arrays([[1.0], [2.0]], ["a"]), rules=[KnockOut("zz", minimum=1)]
        ),
        InvalidInputError,
        r"no criterion named 'zz'",
        id="rule-unknown-criterion",
    ),
    pytest.param(
        lambda: ch.weighted_sum([[1.0]]),
        InvalidTypeError,
        r"matrix must be a DecisionMatrix",
        id="matrix-not-matrix",
    ),  # type: ignore[arg-type]
    pytest.param(
        lambda: ch.rank(DecisionMatrix.from_arrays([[1.0], [2.0]], ["a"]), "electre"),
        InvalidInputError,
        r"method must be one of",
        id="unknown-method",
    ),  # type: ignore[arg-type]
    pytest.param(
        lambda: ch.vikor(DecisionMatrix.from_arrays([[1.0], [2.0]], ["a"]), v=1.5),
        InvalidInputError,
        r"v must be in \[0, 1\], got 1.5",
        id="vikor-v",
    ),
    pytest.param(
        lambda: ch.ahp_weights([[1, 3], [3, 1]]),
        InvalidInputError,
        r"must be reciprocal .* a\[0, 1\] = 3 and a\[1, 0\] = 3; set a\[1, 0\] = 0.333333",
        id="ahp-non-reciprocal",
    ),
    pytest.param(
        lambda: ch.ahp_weights([[2, 1], [1, 1]]),
        InvalidInputError,
        r"diagonal must be 1, got 2 at \[0, 0\]",
        id="ahp-diagonal",
    ),
    pytest.param(
        lambda: ch.ahp_weights([[1, 0], [0, 1]]),
        InvalidInputError,
        r"pairwise must be > 0, got 0.0 at \[0, 1\]",
        id="ahp-zero",
    ),
    pytest.param(
        lambda: ch.ahp_weights([[1, 2, 3]]),
        InvalidInputError,
        r"pairwise must be square",
        id="ahp-not-square",
    ),
    pytest.param(
        lambda: ch.ahp_weights(np.ones((16, 16))),
        InvalidInputError,
        r"order 16",
        id="ahp-too-large",
    ),
    pytest.param(
        lambda: ch.normalize_weights([1, -1]),
        InvalidInputError,
        r"weights must be >= 0, got -1.0 at row 1",
        id="direct-negative",
    ),
    pytest.param(
        lambda: ch.normalize_weights([0, 0]),
        InvalidInputError,
        r"weights are all zero",
        id="direct-all-zero",
    ),
    pytest.param(
        lambda: ch.normalize_weights([1, float("nan")]),
        InvalidInputError,
        r"weights must be finite, got nan at row 1",
        id="direct-nan",
    ),
    pytest.param(
        lambda: ch.entropy_weights([[1.0, 2.0]]),
        InvalidInputError,
        r"at least 2 candidates",
        id="entropy-one-row",
    ),
    pytest.param(
        lambda: ch.entropy_weights([[1.0, -2.0], [1.0, 2.0]]),
        InvalidInputError,
        r"matrix must be >= 0, got -2.0 at \[0, 1\]",
        id="entropy-negative",
    ),
    pytest.param(
        lambda: ch.entropy_weights([[1.0, 2.0], [1.0, 2.0]]),
        InvalidInputError,
        r"every criterion is uniform",
        id="entropy-uniform",
    ),
    pytest.param(
        lambda: ch.score_linear([1.0], 5, 5),
        InvalidInputError,
        r"low must be < high",
        id="linear-empty-range",
    ),
    pytest.param(
        lambda: ch.score_bands([1.0], [5, 3], [1, 2, 3]),
        InvalidInputError,
        r"edges must be strictly increasing",
        id="bands-order",
    ),
    pytest.param(
        lambda: ch.score_bands([1.0], [5], [1, 2, 3]),
        InvalidInputError,
        r"scores must have len\(edges\) \+ 1 = 2",
        id="bands-count",
    ),
    pytest.param(
        lambda: ch.score_likert([1, 6]),
        InvalidInputError,
        r"responses must be in \[1, 5\], got 6.0 at row 1",
        id="likert-range",
    ),
    pytest.param(
        lambda: ch.score_likert([1.5]),
        InvalidInputError,
        r"responses must be whole numbers",
        id="likert-fraction",
    ),
    pytest.param(
        lambda: ch.sales_forecast([[1.0, 2.0]]),
        InvalidInputError,
        r"needs at least 3",
        id="forecast-two-periods",
    ),
    pytest.param(
        lambda: ch.sales_forecast([[1.0, 0.0, 2.0]], model="loglinear"),
        InvalidInputError,
        r"sales must be > 0, got 0.0 at \[0, 1\]",
        id="forecast-log-zero",
    ),
    pytest.param(
        lambda: ch.sales_forecast([[1.0, np.nan, 2.0]]),
        InvalidInputError,
        r"sales must be finite, got nan",
        id="forecast-nan",
    ),
    pytest.param(
        lambda: ch.sales_forecast([[1.0, 2.0, 3.0]], traffic=[-1.0]),
        InvalidInputError,
        r"traffic must be >= 0",
        id="forecast-negative-traffic",
    ),
    pytest.param(
        lambda: ch.sales_cost([1.0], [0.0], [1.0]),
        InvalidInputError,
        r"units must be > 0, got 0.0 at row 0",
        id="cost-zero-units",
    ),
    pytest.param(
        lambda: ch.sales_cost([1.0, 2.0], [1.0], [1.0]),
        InvalidInputError,
        r"inconsistent lengths",
        id="cost-lengths",
    ),
    pytest.param(
        lambda: ch.horizontal_comparison([1.0], [0.0]),
        InvalidInputError,
        r"previous must be > 0",
        id="horizontal-zero-base",
    ),
    pytest.param(
        lambda: ch.quota_attainment([1.0], [0.0]),
        InvalidInputError,
        r"potential must be > 0",
        id="quota-zero-potential",
    ),
    pytest.param(
        lambda: ch.weighted_index(
            DecisionMatrix.from_arrays([[1.0, 2.0]], ["a", "b"]), {"g": ["a"]}
        ),
        InvalidInputError,
        r"criterion 'b' has weight 1 but belongs to no group",
        id="index-orphan",
    ),
    pytest.param(
        lambda: ch.weighted_index(
            DecisionMatrix.from_arrays([[1.0, 2.0]], ["a", "b"]), {"g": ["a", "b"], "h": ["b"]}
        ),
        InvalidInputError,
        r"criterion 'b' is in groups 'g' and 'h'",
        id="index-two-groups",
    ),
    pytest.param(
        lambda: ch.weight_stability(DecisionMatrix.from_arrays([[1.0], [2.0]], ["a"]), spread=1.0),
        InvalidInputError,
        r"spread must be in \[0, 1\), got 1.0",
        id="stability-spread",
    ),
    pytest.param(
        lambda: ch.weight_stability(DecisionMatrix.from_arrays([[1.0], [2.0]], ["a"]), rng="x"),  # type: ignore[arg-type]
        InvalidTypeError,
        r"rng must be a numpy.random.Generator",
        id="stability-rng",
    ),
]


@pytest.mark.parametrize(("call", "exc", "match"), BAD_INPUTS)
def test_bad_inputs(call: Any, exc: type[Exception], match: str) -> None:
    with pytest.raises(exc, match=match) as info:
        call()
    assert isinstance(info.value, CustrelError)


def test_tie_policy_differs_from_pymcdm_average_ranks() -> None:
    # Where the definitions differ: pymcdm ranks ties by their average
    # position (1.5, 1.5, 3); custrel gives them the best rank of the group
    # (1, 1, 3) and lists them in `ties`, ordered by candidate_id.
    x = np.array([[2.0, 1.0], [1.0, 2.0], [0.5, 0.5]])
    ours = ch.weighted_sum(_matrix(x, [1, 1]), normalization="none")
    assert ours.rank.tolist() == [1, 1, 3]
    assert ours.ties == ((0, 1),)
    pref, _ = _pymcdm_order(pymcdm.methods.WSM(), x, np.array([0.5, 0.5]), np.array([1, 1]))
    assert pymcdm.methods.WSM().rank(pref).tolist() == [1.5, 1.5, 3.0]


def test_ties_within_rounding_are_ties() -> None:
    # 0.1 + 0.2 != 0.3 in floating point; scores equal up to rounding tie.
    m = DecisionMatrix.from_arrays([[0.1, 0.2], [0.3, 0.0]], ["a", "b"], ["p", "q"])
    r = ch.weighted_sum(m.with_weights([1, 1]), normalization="none")
    assert r.ties == (("p", "q"),)
    assert r.rank.tolist() == [1, 1]


def test_rank_reversal_records_scenarios_the_method_cannot_rank() -> None:
    # Removing C leaves column b constant (5, 5): min-max cannot normalise it.
    m = DecisionMatrix.from_arrays([[1, 5], [2, 5], [3, 1]], ["a", "b"], ["A", "B", "C"])
    rr = ch.rank_reversal(m, normalization="minmax")
    assert rr.errors[:2] == (None, None)
    assert rr.errors[2] is not None
    assert "criterion 'b' has the same value 5" in rr.errors[2]
    assert rr.reversed_pairs[2] == 0


def test_weight_sensitivity_zero_weight_criteria_opt_in() -> None:
    crit = [Criterion("a"), Criterion("b", weight=0)]
    m = DecisionMatrix.from_arrays([[9, 1], [8, 9]], crit, ["X", "Y"])
    default = ch.weight_sensitivity(m, normalization="none")
    assert math.isnan(default.increase[1])
    opt = ch.weight_sensitivity(m, normalization="none", include_zero_weight=True)
    # X = 9(1-d) + d, Y = 8(1-d) + 9d: equal at d = 1/9
    assert opt.increase[1] == pytest.approx(1 / 9, abs=1e-8)
    assert opt.winner_if_increased[1] == "Y"


def test_mixed_type_ids_are_kept_as_given() -> None:
    # numpy would coerce [1, "x"] to the strings "1", "x"; the ids stay as given,
    # and unsortable ids fall back to matrix order inside ties.
    m = DecisionMatrix.from_arrays([[2.0], [2.0], [1.0]], ["a"], [1, "x", 2.5])
    r = ch.weighted_sum(m, normalization="none")
    assert r.candidate_id.tolist() == [1, "x", 2.5]
    assert r.ties == ((1, "x"),)
    assert r.winner() == 1


# ---------------------------------------------------------------------------
# Issue 10: frozen results, ids, subnormal / near-overflow scores, loops
# ---------------------------------------------------------------------------

_FROZEN_CALLS = {
    "vertical_comparison": lambda v: ch.vertical_comparison(v, np.array([1.0, 2.0, 3.0])),
    "quota_attainment": lambda v: ch.quota_attainment(v, np.array([100.0, 100.0, 100.0])),
    "horizontal_comparison": lambda v: ch.horizontal_comparison(v, np.array([1.0, 2.0, 3.0])),
    "sales_cost": lambda v: ch.sales_cost(v, [1.0, 2.0, 3.0], [5.0, 5.0, 5.0]),
    "sales_forecast": lambda v: ch.sales_forecast(np.stack([v, v + 1.0])),
    "weighted_sum": lambda v: ch.weighted_sum(
        DecisionMatrix.from_arrays(np.stack([v, [3.0, 1.0, 2.0]], axis=1), ["a", "b"])
    ),
    "topsis-ids": lambda v: ch.topsis(
        DecisionMatrix.from_arrays([[1.0], [3.0], [2.0]], ["a"], candidate_id=v.astype(np.int64))
    ),
}


@pytest.mark.parametrize("call", list(_FROZEN_CALLS.values()), ids=list(_FROZEN_CALLS))
def test_results_do_not_change_when_the_caller_edits_the_input(call: Any) -> None:
    # issue 10: `v = np.array([50., 20, 10]); r = f(v); v[0] = -999` changed r
    v = np.array([50.0, 20.0, 10.0])
    r = call(v)
    before = {
        a.name: np.array(getattr(r, a.name), copy=True)
        for a in r.__attrs_attrs__
        if isinstance(getattr(r, a.name), np.ndarray)
    }
    v[0] = -999.0
    for name, value in before.items():
        now = getattr(r, name)
        assert np.array_equal(now, value, equal_nan=True), name
        assert not now.flags.writeable, name


def test_result_mappings_and_sequences_are_read_only() -> None:
    m = DecisionMatrix.from_arrays([[1.0, 2.0], [2.0, 1.0], [3.0, 3.0]], ["a", "b"])
    r = ch.topsis(m)
    with pytest.raises(TypeError):
        r.details["distance_best"] = np.zeros(3)  # type: ignore[index]
    assert not r.details["distance_best"].flags.writeable
    built = ch.VerticalResult(
        [1, 2], [1.0, 2.0], [1.0, 1.0], [0.0, 1.0], [0.0, 1.0], [False, False]
    )
    assert isinstance(built.candidate_id, tuple)  # lists become tuples


@pytest.mark.parametrize(
    ("ids", "match"),
    [
        pytest.param([math.nan, 1.0, 2.0], r"candidate_id is missing \(nan\) at row 0", id="nan"),
        pytest.param([None, "x", "y"], r"candidate_id is missing \(None\) at row 0", id="none"),
        pytest.param(
            ["x", "", "y"], r"candidate_id is missing \(\w+\) at row 1", id="empty-string"
        ),
        pytest.param([1, 2, 1], r"candidate_id must be distinct, got 1 at rows 0 and 2", id="dup"),
        pytest.param([[1], [2], [3]], r"candidate_id must be 1-D", id="nested"),
    ],
)
def test_candidate_ids_missing_or_repeated_are_refused(ids: Any, match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        DecisionMatrix.from_arrays([[1.0], [2.0], [3.0]], ["a"], ids)


def test_candidate_ids_keep_their_type() -> None:
    # 1 and "1" are two candidates; bytes and NUL ids are refused, as in every id
    # (the one id normaliser, custrel._ids): b"a" and "a", "a\x00" and "a" would print alike
    m = DecisionMatrix.from_arrays([[1.0], [2.0]], ["a"], [1, "1"])
    assert m.candidate_id.tolist() == [1, "1"]
    with pytest.raises(InvalidTypeError, match=r"candidate_id holds bytes"):
        DecisionMatrix.from_arrays([[1.0], [2.0]], ["a"], [b"a", "a"])
    with pytest.raises(InvalidInputError, match=r"candidate_id has an id with a NUL character"):
        DecisionMatrix.from_arrays([[1.0], [2.0]], ["a"], ["a\x00", "a"])
    assert ch.weighted_sum(m).winner() == "1"
    assert DecisionMatrix.from_arrays([[1.0], [2.0]], ["a"], [7, 9]).candidate_id.dtype == np.int64


_SCALE_CASES = [
    (meth, norm)
    for meth in ch.METHODS
    for norm in (None, "none", "minmax", "vector", "sum", "max")
    if not (meth == "vikor" and norm not in (None, "minmax"))
    and not (meth == "weighted_product" and norm in ("none", "minmax", "vector", "max"))
]


@pytest.mark.parametrize("factor", [1e-310, 5e-320, 1e300], ids=["subnormal", "tiny", "huge"])
@pytest.mark.parametrize(("method", "normalization"), _SCALE_CASES, ids=str)
def test_scores_are_finite_and_scale_invariant_for_extreme_magnitudes(
    method: str, normalization: str | None, factor: float
) -> None:
    # issue 10: subnormal criterion values gave nan or inf MCDA scores
    x = np.array([[4.0, 3.0], [2.0, 1.0], [3.0, 2.0], [1.0, 4.0]])
    crit = ["a", Criterion("b", weight=2.0, direction="cost")]
    base = ch.rank(DecisionMatrix.from_arrays(x, crit), method, normalization=normalization)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scaled = ch.rank(
            DecisionMatrix.from_arrays(x * factor, crit), method, normalization=normalization
        )
    assert np.isfinite(scaled.score).all()
    assert scaled.rank.tolist() == base.rank.tolist()
    if normalization != "none":  # set-relative normalisations ignore the common factor
        np.testing.assert_allclose(
            scaled.score, base.score, rtol=1e-6 if factor < 1e-300 else 1e-12
        )


def test_topsis_without_normalisation_on_huge_values() -> None:
    x = np.array([[1e308, 3e307], [-1e308, 1e308], [5e307, -1e308]])
    m = DecisionMatrix.from_arrays(x, ["a", "b"])
    ref = ch.topsis(DecisionMatrix.from_arrays(x / 1e300, ["a", "b"]), normalization="none")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = ch.topsis(m, normalization="none")
    np.testing.assert_allclose(r.score, ref.score, rtol=1e-12)


def test_weights_entropy_and_ahp_at_extreme_magnitudes() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert ch.normalize_weights([1e308, 1e308, 0.0]).tolist() == [0.5, 0.5, 0.0]
        assert ch.normalize_weights([1e-310, 3e-310]).tolist() == pytest.approx([0.25, 0.75])
        e = ch.entropy_weights([[1e308, 1.0], [1e307, 2.0], [5e307, 9.0]])
        ref = ch.entropy_weights([[10.0, 1.0], [1.0, 2.0], [5.0, 9.0]])
        np.testing.assert_allclose(e.weights, ref.weights, rtol=1e-12)
        ahp = ch.ahp_weights([[1, 1e-300], [1e300, 1]])
        assert ahp.weights.tolist() == pytest.approx([1e-300, 1.0], rel=1e-9)
        assert ch.score_linear([0.0, 5e307], -1e308, 1e308).tolist() == [5.0, 7.5]
    with pytest.raises(InvalidInputError, match=r"weights sum to 2 x 1e\+308, expected 1"):
        ch.normalize_weights([1e308, 1e308], total=1.0)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        pytest.param(
            lambda: ch.sales_cost([1e308, 1.0], [1e-300, 1.0], [1.0, 1.0], candidate_id=["A", "B"]),
            r"cost / units of candidate 'A' overflows float64 \(row 0\)",
            id="cost-per-unit",
        ),
        pytest.param(
            lambda: ch.vertical_comparison([1e308, 1.0], [-1e308, 1.0]),
            r"current - previous of candidate 0 overflows float64",
            id="vertical-change",
        ),
        pytest.param(
            lambda: ch.quota_attainment([1.0, 1e308], [1.0, 1e-300]),
            r"actual / potential of candidate 1 overflows float64",
            id="quota",
        ),
        pytest.param(
            lambda: ch.horizontal_comparison([1e308, 1.0], [1e-300, 1.0]),
            r"the growth .* of candidate 0 overflows float64",
            id="horizontal",
        ),
        pytest.param(
            lambda: ch.sales_forecast([[1e307, 1e308, 1.7e308]], horizon=5),
            r"the forecast of candidate 0 overflows float64",
            id="forecast",
        ),
        pytest.param(
            lambda: ch.ahp_weights([[1, 1e-300, 1e300], [1e300, 1, 1], [1e-300, 1, 1]]),
            r"pairwise consistency ratio 8\.62e\+199 > max_cr=0\.1",
            id="ahp-extreme",
        ),
    ],
)
def test_overflowing_derived_values_are_refused(call: Any, match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        call()


def test_weight_sensitivity_refuses_an_unreachable_tol_and_a_huge_grid() -> None:
    # issue 10: weight_sensitivity(m, tol=1e-17) never returned
    m = DecisionMatrix.from_arrays(
        [[8, 4], [5, 7]], [Criterion("a", weight=0.6), Criterion("b", weight=0.4)], ["X", "Y"]
    )
    with pytest.raises(InvalidInputError, match=r"tol must be >= 1\.77636e-15, got 1e-17"):
        ch.weight_sensitivity(m, tol=1e-17)
    res = ch.weight_sensitivity(m, tol=8 * np.finfo(np.float64).eps, normalization="none")
    assert res.decrease[0] == pytest.approx(0.1, abs=1e-8)  # ties within a relative 1e-9
    with pytest.raises(InvalidInputError, match=r"grid=1000000000000; use a coarser grid"):
        ch.weight_sensitivity(m, grid=10**12)
    with pytest.raises(InvalidInputError, match=r"n_draws=1000000000000; use fewer draws"):
        ch.weight_stability(m, n_draws=10**12)


def test_scipy_stats_is_imported_inside_functions_only() -> None:
    # contract 7: heavy scipy submodules stay out of module import time
    import ast
    import pathlib

    import custrel

    root = pathlib.Path(custrel.__file__).parent
    files = [root / "pyramid.py", root / "rfm.py", *sorted((root / "channels").glob("*.py"))]
    for path in files:
        name = path.name
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if isinstance(node, ast.ImportFrom | ast.Import):
                mods = (
                    [node.module or ""]
                    if isinstance(node, ast.ImportFrom)
                    else [a.name for a in node.names]
                )
                assert not any(mod.startswith("scipy") for mod in mods), (name, mods)


def test_from_frame_reads_nulls_as_missing_and_refuses_text() -> None:
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"candidate_id": ["a", "b"], "x": pd.array([1, None], dtype="Int64")})
    assert DecisionMatrix.from_frame(df, ["x"]).scores[:, 0].tolist()[0] == 1.0
    assert np.isnan(DecisionMatrix.from_frame(df, ["x"]).scores[1, 0])
    text = pd.DataFrame({"candidate_id": ["a", "b"], "x": ["u", "v"]})
    with pytest.raises(InvalidTypeError, match=r"column 'x' must be numeric"):
        DecisionMatrix.from_frame(text, ["x"])
    missing_id = pd.DataFrame({"candidate_id": ["a", None], "x": [1.0, 2.0]})
    with pytest.raises(InvalidInputError, match=r"candidate_id is missing \(\w+\) at row 1"):
        DecisionMatrix.from_frame(missing_id, ["x"])


_M3 = DecisionMatrix.from_arrays([[1, 2], [2, 1], [3, 3]], ["a", "b"], ["x", "y", "z"])


@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        pytest.param(
            lambda: ch.rank(_M3, rules=5),
            InvalidTypeError,
            r"rules must be a sequence of KnockOut",
            id="rules-int",
        ),
        pytest.param(
            lambda: DecisionMatrix.from_records(None, ["a"]),  # type: ignore[arg-type]
            InvalidTypeError,
            r"records must be an iterable",
            id="records-none",
        ),
        pytest.param(
            lambda: ch.ahp_weights([[1, 2], [0.5, 1]], criteria=3),  # type: ignore[arg-type]
            InvalidTypeError,
            r"criteria must be a sequence of names",
            id="ahp-criteria-int",
        ),
        pytest.param(
            lambda: ch.ahp_weights([[1, 2], [0.5, 1]], rtol=None),  # type: ignore[arg-type]
            InvalidTypeError,
            r"rtol must be a real number",
            id="ahp-rtol-none",
        ),
        pytest.param(
            lambda: ch.normalize_weights([1, 2], total=3, rtol="x"),  # type: ignore[arg-type]
            InvalidTypeError,
            r"rtol must be a real number",
            id="weights-rtol-str",
        ),
        pytest.param(
            lambda: ch.weighted_index(_M3, {"g": 1}),  # type: ignore[dict-item]
            InvalidTypeError,
            r"groups\['g'\] must be a sequence of criterion names",
            id="index-group-int",
        ),
        pytest.param(
            lambda: ch.weighted_index(_M3, {"g": ["a"], "h": ["b"]}, group_weights={"g": "x"}),  # type: ignore[dict-item]
            InvalidTypeError,
            r"group_weights\['g'\] must be a real number",
            id="index-group-weight-str",
        ),
        pytest.param(
            lambda: ch.weight_stability(_M3, n_draws=3, rng=-1),
            InvalidInputError,
            r"rng must be a Generator or a seed >= 0, got -1",
            id="negative-seed",
        ),
        pytest.param(
            lambda: ch.weighted_sum(_M3).explain(["x", "y"], "z"),
            InvalidTypeError,
            r"candidate must be one id",
            id="explain-list",
        ),
    ],
)
def test_wrong_argument_types_are_custrel_errors(
    call: Any, exc: type[Exception], match: str
) -> None:
    # issue 10, item 5: TypeError / ValueError from inside numpy became CustrelError subclasses
    with pytest.raises(exc, match=match):
        call()


@pytest.mark.parametrize(
    ("call", "match"),
    [
        pytest.param(
            lambda: _M3.column(["a"]), r"a criterion name must be a str", id="column-list"
        ),  # type: ignore[arg-type]
        pytest.param(
            lambda: _M3.select(np.array([["x", "y"], ["x", "y"]])),
            r"a flat list of ids",
            id="select-2d",
        ),
        pytest.param(
            lambda: DecisionMatrix.from_frame([1, 2], ["a"]),
            r"frame must be a dataframe",
            id="frame-list",
        ),
        pytest.param(
            lambda: DecisionMatrix.from_records([{"id": 1, "a": 1}], ["a"], id_field=["id"]),  # type: ignore[arg-type]
            r"id_field must be a str",
            id="records-id-field-list",
        ),
        pytest.param(
            lambda: ch.weighted_sum(_M3).exclusions.rules_for(["x"]),
            r"candidate_id must be one id",
            id="rules-for-list",
        ),
        pytest.param(
            lambda: KnockOut("a", minimum=1, name=3),
            r"KnockOut name must be a string",
            id="knockout-name",
        ),  # type: ignore[arg-type]
        pytest.param(
            lambda: Partner(None, {"a": 1.0}), r"partner_id is missing", id="partner-none"
        ),
        pytest.param(
            lambda: Partner(math.inf, {"a": 1.0}), r"partner_id must be finite", id="partner-inf"
        ),
        pytest.param(
            lambda: Partner("p", {"a": 1.0}, name=np.array([""])),
            r"name must be a str",
            id="partner-name",
        ),  # type: ignore[arg-type]
    ],
)
def test_adversarial_argument_shapes(call: Any, match: str) -> None:
    with pytest.raises(CustrelError, match=match):
        call()


def test_adversarial_values_and_partners() -> None:
    assert Criterion("s", scale=np.array([0.0, 10.0])).scale == (0.0, 10.0)
    assert math.isnan(Partner("p", {"a": math.nan}).attributes["a"])  # nan: a missing score
    with pytest.raises(InvalidInputError, match=r"attributes\['a'\] must be finite, got inf"):
        Partner("p", {"a": math.inf})
    with pytest.raises(InvalidTypeError, match=r"attributes\['a'\] must be a real number"):
        Partner("p", {"a": "high"})
    with pytest.raises(InvalidInputError, match=r"candidate_id is missing"):
        _M3.select([None, "x"])
    pd = pytest.importorskip("pandas")
    with pytest.raises(InvalidInputError, match=r"candidate_id is missing"):
        _M3.select(pd.array([None, "x"], dtype="string"))
    with pytest.raises(InvalidTypeError, match=r"id_column must be a column name"):
        DecisionMatrix.from_frame(pd.DataFrame({"a": [1.0]}), ["a"], id_column=["a"])  # type: ignore[arg-type]


def test_score_scale_given_as_an_array() -> None:
    assert ch.score_linear([5.0], 0, 10, scale=np.array([0.0, 100.0])).tolist() == [50.0]
    assert ch.score_likert([3], scale=np.array([0.0, 1.0])).tolist() == [0.5]


@pytest.mark.parametrize(
    ("a", "match"),
    [
        pytest.param(
            [[1.0, 4.94e-324], [1.0, 1.0]], r"set a\[1, 0\] = 1/4\.94066e-324", id="subnormal"
        ),
        pytest.param(
            [[1.0, 1e300], [1e300, 1.0]], r"set a\[1, 0\] = 1e-300", id="product-overflows"
        ),
    ],
)
def test_ahp_weights_extreme_non_reciprocal(a: list[list[float]], match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        ch.ahp_weights(a)
