"""Tests of custrel.lifecycle: stages, patterns, churn and survival, sBG, Markov migration."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from custrel import (
    ConvergenceError,
    EmptyInputError,
    InvalidInputError,
    InvalidTypeError,
    LifecyclePattern,
    StageModel,
    TransactionLog,
)
from custrel.datasets import generate_transactions, load_sample
from custrel.lifecycle import (
    LAPSED,
    STAGE_CHARACTERISTICS,
    STAGE_CORRESPONDENCES,
    StageRules,
    churn_rate,
    classify_patterns,
    classify_stages,
    fit_markov_chain,
    fit_sbg,
    kaplan_meier,
    map_stages,
    markov_chain,
    recency_chain,
    stage_correspondence,
    stage_history,
    stages_from_log,
    survival_from_log,
    value_panel,
)
from custrel.models import FOUR_STAGE, STAGE_MODELS
from strategies import transaction_logs

# ---------------------------------------------------------------------------
# Known values
# ---------------------------------------------------------------------------

# Fader & Hardie (2007), "How to project customer retention", J. Interactive
# Marketing 21(1): survivors per year of two cohorts of 1,000 customers, the
# model fitted on years 0-7.
REGULAR = [1000, 631, 468, 382, 326, 289, 262, 241]
HIGH_END = [1000, 869, 743, 653, 593, 551, 517, 491]


@pytest.mark.parametrize(
    ("survivors", "alpha", "beta", "ll"),
    [
        pytest.param(REGULAR, 0.704, 1.182, -1680.3, id="regular"),
        pytest.param(HIGH_END, 0.668, 3.806, -1611.2, id="high_end"),
    ],
)
def test_sbg_reproduces_fader_hardie_2007(
    survivors: list[int], alpha: float, beta: float, ll: float
) -> None:
    # the published estimates (alpha, beta) and maximised log-likelihoods
    m = fit_sbg(survivors)
    assert m.params["alpha"] == pytest.approx(alpha, abs=5e-4)
    assert m.params["beta"] == pytest.approx(beta, abs=5e-4)
    assert m.log_likelihood == pytest.approx(ll, abs=0.05)
    assert m.standard_errors["alpha"] > 0
    assert m.standard_errors["beta"] > 0
    # retention rises with tenure (heterogeneity sorts the loyal ones in)
    r = m.retention_rate(np.arange(1, 13))
    assert np.all(np.diff(r) > 0)


def test_sbg_derl_matches_closed_form_and_direct_sum() -> None:
    # DERL of a high-end customer who has made 7 renewals, d = 10 %: 7.530
    # (Fader & Hardie 2010, eq. 6; the same figure jdmaturen's sBG reference
    # implementation prints for this data set).
    m = fit_sbg(HIGH_END)
    derl = float(m.derl(0.10, 7))
    assert derl == pytest.approx(7.530, abs=5e-3)
    # independent check: sum_{t>=n} S(t)/S(n-1) (1+d)^-(t-n), n = 8
    n = 8
    t = np.arange(n, n + 5000, dtype=float)
    direct = np.sum(m.survival(t) / m.survival(n - 1) / 1.1 ** (t - n))
    assert derl == pytest.approx(direct, rel=1e-9)
    # DEL of a new customer: sum_{t>=0} S(t) (1+d)^-t
    t0 = np.arange(0, 5000, dtype=float)
    assert m.discounted_expected_lifetime(0.10) == pytest.approx(
        np.sum(m.survival(t0) / 1.1**t0), rel=1e-9
    )


def _simulate_cohorts(alpha: float, beta: float, sizes: list[int], lengths: list[int], seed: int):
    rng = np.random.default_rng(seed)
    rows = []
    for size, length in zip(sizes, lengths, strict=True):
        theta = rng.beta(alpha, beta, size)
        life = rng.geometric(theta)  # periods alive, T >= 1
        rows.append(np.array([(life > t).sum() for t in range(length)], dtype=float))
    return rows


def test_sbg_recovers_known_parameters_from_generated_cohorts() -> None:
    rows = _simulate_cohorts(1.5, 4.0, [20000, 20000, 20000], [12, 9, 6], seed=7)
    m = fit_sbg(rows)  # a list of cohorts of different lengths
    assert abs(m.alpha - 1.5) < 4 * m.standard_errors["alpha"]
    assert abs(m.beta - 4.0) < 4 * m.standard_errors["beta"]
    # the NaN-padded 2-D form gives the same fit
    padded = np.full((3, 12), np.nan)
    for i, r in enumerate(rows):
        padded[i, : len(r)] = r
    m2 = fit_sbg(padded)
    assert m2.alpha == pytest.approx(m.alpha, rel=1e-6)
    assert m2.log_likelihood == pytest.approx(m.log_likelihood, rel=1e-9)
    assert m.expected_lifetime() == pytest.approx((m.alpha + m.beta - 1) / (m.alpha - 1))


def test_sbg_projection_matches_held_out_generated_periods() -> None:
    # fit on the first 7 periods of a cohort generated from alpha=0.7, beta=2.5,
    # project periods 7..12 and compare with what the simulation produced
    (row,) = _simulate_cohorts(0.7, 2.5, [100_000], [13], seed=11)
    m = fit_sbg(row[:8])
    proj = m.project(12, row[0])
    np.testing.assert_allclose(proj[8:], row[8:], rtol=0.03)
    # and the truth's own projection agrees with the fitted one
    truth = m.survival(np.arange(13.0))  # fitted
    from custrel.lifecycle import SBGModel

    true_model = SBGModel({"alpha": 0.7, "beta": 2.5}, {}, np.eye(2), 0.0, (), np.ones(1), 0)
    np.testing.assert_allclose(truth, true_model.survival(np.arange(13.0)), rtol=0.03)


def test_sbg_weights_scale_a_cohort() -> None:
    # weight 2 on one cohort equals giving that cohort twice
    a = fit_sbg([REGULAR, HIGH_END], weights=[2.0, 1.0])
    b = fit_sbg([REGULAR, REGULAR, HIGH_END])
    assert a.alpha == pytest.approx(b.alpha, rel=1e-6)
    assert a.beta == pytest.approx(b.beta, rel=1e-6)
    assert a.weights.tolist() == [2.0, 1.0]


# domain notes §2.3, Dwyer's migration model: 1,000 customers, revenue over
# three years = 203,240 (the textbook's worked table).
DWYER_TOTAL = 203_240


def test_dwyer_migration_example_through_the_markov_path() -> None:
    # Dwyer's tree, straight from the table: buyers x spend per path
    tree = 1000 * (
        0.7 * 100
        + 0.7 * 0.8 * 110
        + 0.3 * 0.4 * 90
        + 0.7 * 0.8 * 0.85 * 90
        + 0.3 * 0.4 * 0.75 * 100
        + 0.7 * 0.2 * 0.5 * 90
        + 0.3 * 0.6 * 0.3 * 50
    )
    assert tree == pytest.approx(DWYER_TOTAL)
    # The Markov path (Pfeifer & Carraway 2000): states are purchase
    # histories at the start of a year, reward = buy rate x spend of that year.
    labels = ["y1", "B", "L", "BB", "LB", "BL", "LL", "end"]
    p = np.zeros((8, 8))
    p[0, 1], p[0, 2] = 0.7, 0.3
    p[1, 3], p[1, 5] = 0.8, 0.2
    p[2, 4], p[2, 6] = 0.4, 0.6
    p[3:, 7] = 1.0
    chain = markov_chain(p, labels)
    rewards = {
        "y1": 0.7 * 100,
        "B": 0.8 * 110,
        "L": 0.4 * 90,
        "BB": 0.85 * 90,
        "LB": 0.75 * 100,
        "BL": 0.5 * 90,
        "LL": 0.3 * 50,
    }
    value = chain.expected_value(rewards)
    assert 1000 * value[0] == pytest.approx(DWYER_TOTAL)
    # the same with a finite horizon of two transitions (three years)
    assert 1000 * chain.expected_value(rewards, horizon=2)[0] == pytest.approx(DWYER_TOTAL)
    # and projecting the 1,000 customers: buyers per year x spend
    proj = chain.project({"y1": 1000}, 2)
    assert proj.sum(axis=1) == pytest.approx([1000, 1000, 1000])
    r = np.array([rewards.get(s, 0.0) for s in labels])
    assert float((proj @ r).sum()) == pytest.approx(DWYER_TOTAL)


def test_recency_chain_pfeifer_carraway_value() -> None:
    # Recency chain: value from the closed form equals the long finite sum.
    chain = recency_chain([0.3, 0.2, 0.15, 0.05])
    rewards = np.array([0.3, 0.2, 0.15, 0.05, 0.0]) * 40 - 4.0 * np.array([1, 1, 1, 1, 0])
    inf = chain.expected_value(rewards, discount_rate=0.2)
    fin = chain.expected_value(rewards, discount_rate=0.2, horizon=400)
    np.testing.assert_allclose(inf, fin, rtol=1e-10)
    # lost is absorbing; from recency 4 a non-buyer is lost
    assert chain.absorbing.tolist() == [False, False, False, False, True]
    times = chain.absorption_time()
    assert times[1] > times[4] > 0
    np.testing.assert_allclose(chain.absorption_probabilities().sum(axis=1), 1.0)


def test_absorption_time_two_states() -> None:
    # geometric lifetime with churn 0.3: mean 1 / 0.3 periods (domain notes §2.8)
    chain = markov_chain([[0.7, 0.3], [0.0, 1.0]], ["active", "lost"])
    assert chain.absorption_time()["active"] == pytest.approx(1 / 0.3)


def test_fit_markov_chain_counts_and_missing() -> None:
    seq = [
        [None, "gold", "gold", "iron"],
        ["iron", "gold", None, "iron"],
        ["iron", "iron", "lost", "lost"],
    ]
    c = fit_markov_chain(seq, labels=["gold", "iron", "lost"], absorbing=["lost"])
    # gold->gold, gold->iron, iron->gold, iron->iron, iron->lost (gold->None skipped)
    np.testing.assert_allclose(c.matrix, [[0.5, 0.5, 0], [1 / 3, 1 / 3, 1 / 3], [0, 0, 1]])
    assert c.counts is not None
    assert c.counts.sum() == 6  # includes lost->lost
    assert not c.matrix.flags.writeable


def test_simulation_agrees_with_projection() -> None:
    chain = markov_chain([[0.6, 0.3, 0.1], [0.2, 0.5, 0.3], [0, 0, 1]], ["a", "b", "lost"])
    paths = chain.simulate(["a"] * 50_000, 4, rng=1)
    share = np.bincount(paths[:, 4], minlength=3) / 50_000
    expected = chain.project({"a": 1.0}, 4)[4]
    np.testing.assert_allclose(share, expected, atol=0.01)


def test_kaplan_meier_by_hand() -> None:
    # times 1, 2, 2+, 3, 5+ (+ = censored). At 1: 1 loss of 5 at risk -> 4/5;
    # at 2: 1 loss of 4 at risk (2, 2+, 3, 5+) -> 4/5 * 3/4; the censored 2+
    # leaves the risk set after 2; at 3: 1 loss of 2 -> * 1/2; at 5 only a censoring.
    km = kaplan_meier([1, 2, 2, 3, 5], [True, True, False, True, False])
    c = km.curves[0]
    np.testing.assert_allclose(c.survival, [0.8, 0.6, 0.3, 0.3])
    assert c.at_risk.tolist() == [5, 4, 2, 1]
    assert c.events.tolist() == [1, 1, 1, 0]
    assert c.censored.tolist() == [0, 1, 0, 1]
    assert c.median_lifetime() == 3.0
    np.testing.assert_allclose(c.survival_at([0.5, 2.5, 10]), [1.0, 0.6, 0.3])


def test_kaplan_meier_matches_lifelines() -> None:
    lifelines = pytest.importorskip("lifelines")
    rng = np.random.default_rng(3)
    n = 3000
    dur = rng.integers(1, 40, n).astype(float)
    obs = rng.random(n) < 0.7
    cohort = rng.integers(0, 3, n)
    for durations in (
        dur,
        dur * 0.37 + 0.25,
    ):  # whole periods (counting path) and floats (sort path)
        km = kaplan_meier(durations, obs, groups=cohort)
        for g in range(3):
            m = cohort == g
            ref = lifelines.KaplanMeierFitter().fit(durations[m], obs[m])
            sf = ref.survival_function_.iloc[:, 0]
            c = km.curve(g)
            np.testing.assert_allclose(c.survival, sf.loc[c.time].to_numpy(), rtol=1e-12)
            assert c.median_lifetime() == ref.median_survival_time_
            np.testing.assert_array_equal(
                c.at_risk, ref.event_table["at_risk"].loc[c.time].to_numpy()
            )


def test_churn_rate_by_hand_and_mean_lifetime() -> None:
    # customer 1 buys in 0, 1 (lost in 2); 2 buys in 0 (lost in 1);
    # 3 buys in 0, 2, 5 (a gap is not churn; still active at the end)
    log = TransactionLog.from_arrays(
        customer_id=[1, 1, 2, 3, 3, 3], time=[0, 1, 0, 0, 2, 5], amount=[1] * 6
    )
    r = churn_rate(log, period=1.0, inactive_periods=2)
    assert r.at_start.tolist() == [0, 3, 2, 1, 1]
    assert r.lost.tolist() == [0, 1, 1, 0, 0]
    assert np.isnan(r.churn[0])  # nobody active at the start: 0/0
    assert r.rate == pytest.approx(2 / 7)
    assert r.mean_lifetime() == pytest.approx(3.5)  # domain notes §2.8: 1 / churn


def test_survival_from_log_cohorts_and_calendar_months() -> None:
    log = TransactionLog.from_arrays(
        customer_id=["a", "a", "b", "c", "c", "d"],
        time=["2023-01-05", "2023-03-01", "2023-01-20", "2024-02-01", "2024-06-01", "2024-03-03"],
        amount=[1.0] * 6,
    )
    km = survival_from_log(log, period="month", inactive_periods=3, cohort_periods=12)
    assert km.groups.tolist() == [0, 1]
    c0 = km.curve(0)  # a: 3 months, lost; b: 1 month, lost
    assert c0.time.tolist() == [1.0, 3.0]
    assert c0.events.tolist() == [1, 1]
    c1 = km.curve(1)  # c: Feb..Jun 2024, censored (log ends in June); d: lost after March
    assert c1.events.sum() == 1
    assert c1.censored.sum() == 1


def test_stage_classification_examples() -> None:
    panel = [
        [0, 0, 0, 0, 0, 0, 0, 5, 5, 5],
        [0, 0, 0, 1, 2, 4, 8, 16, 32, 64],
        [5, 9, 10, 10, 10, 10, 10, 10, 10, 10],
        [10, 10, 10, 10, 10, 10, 8, 6, 4, 2],
        [0, 0, 0, 0, 0, 0, 0, 0, 3, 3],
        [0] * 10,
        [0, 0, 0, 0, -2, -3, -1, -2, -2, -3],
        [4, 4, 4, 4, 4, 4, 0, 0, 0, 0],
    ]
    r = classify_stages(panel, customer_id=list("abcdefgh"))
    assert r.stages().tolist() == [
        "exploration",
        "formation",
        "stability",
        "decline",
        "too_new",
        "no_activity",
        "exploration",  # only losses, young: "small or negative"
        "lapsed",  # four empty periods: ended (inactive_periods=3)
    ]
    assert r.tenure.tolist() == [3, 7, 10, 10, 2, 0, 6, 10]
    assert r.idle_periods.tolist() == [0, 0, 0, 0, 0, -1, 0, 4]
    assert r.ended().tolist() == [False] * 7 + [True]
    assert np.isnan(r.margin[4:6]).all()
    assert np.all(r.margin[:4] >= 0)
    mix = r.mix()
    assert sum(mix.values()) == pytest.approx(1.0)
    assert mix["too_new"] == pytest.approx(1 / 8)
    assert list(mix)[4:] == ["lapsed", "too_new", "no_activity"]
    assert r.active_mix()["stability"] == pytest.approx(1 / 5)
    assert r.stages_in("six_stage").tolist() == [
        "development", "growth", "maturity", "decline", "too_new", "no_activity",
        "development", "termination",
    ]  # fmt: skip
    assert r.stages_in("four_stage")[-1] == "lapsed"  # no stage for an ended relationship
    assert r.to_arrays()["idle_periods"].tolist()[-1] == 4


def _known_truth_log() -> TransactionLog:
    # Two simulated bases (BG/NBD story, generate_transactions) with a known
    # truth, 2 purchases a month each while alive, acquired in the first 40 %
    # of 2021-2023: "steady" customers practically never drop out
    # (p_drop ~ Beta(0.01, 200), mean 5e-5), "gone" ones drop out after their
    # first repeat purchase (p_drop ~ Beta(200, 1), mean 0.995), so by the end
    # of 2023 they ended at least 20 months ago.
    steady = generate_transactions(
        400, rng=3, unit="month", r=60.0, alpha=30.0, a=0.01, b=200.0,
        acquisition_window=0.4, costs=False,
    )  # fmt: skip
    gone = generate_transactions(
        400, rng=4, unit="month", r=60.0, alpha=30.0, a=200.0, b=1.0,
        acquisition_window=0.4, costs=False,
    )  # fmt: skip
    return TransactionLog.from_arrays(
        customer_id=np.concatenate([steady.customer_id, gone.customer_id + 1000]),
        time=np.concatenate([steady.time, gone.time]),
        amount=np.concatenate([steady.amount, gone.amount]),
    )


def test_stages_on_simulated_customers_with_known_dropout() -> None:
    log = _known_truth_log()
    end = "2023-12-31"
    r = stages_from_log(log, period="month", observation_end=end)
    gone = r.customer_id > 1000
    stages = r.stages()
    # ended long ago: lapsed (ended), not "declining"
    assert np.mean(stages[gone] == LAPSED) >= 0.99
    assert np.mean(r.ended()[gone]) >= 0.99
    # alive for 20+ months with steady spend (monthly sums scatter ~70 %
    # around the customer's mean): mostly stability, few read as decline
    assert np.mean(stages[~gone] == "stability") >= 0.75
    assert np.mean(stages[~gone] == "decline") <= 0.15
    assert np.mean(stages[~gone] == LAPSED) <= 0.02
    # the lapsed customers are exactly those churn_rate counts as lost (same rule)
    churn = churn_rate(log, period="month", inactive_periods=3, observation_end=end)
    assert r.counts()[LAPSED] == churn.lost.sum()
    # patterns I-IV read the same "ended": the gone ones aborted early (pattern I)
    panel = value_panel(log, period="month", observation_end=end)
    pat = classify_patterns(panel.values, customer_id=panel.customer_id)
    np.testing.assert_array_equal(pat.ended, r.ended())
    assert np.mean(pat.pattern_code[gone] == 0) >= 0.95
    # smoothing and hysteresis: far fewer stage changes than the plain rules
    plain = StageRules(gap_window=0, persistence=1, confidence=0)
    steady = panel.values[~gone]
    calm = stage_history(steady).switches().mean()
    jumpy = stage_history(steady, rules=plain).switches().mean()
    assert calm <= 0.5 * jumpy


def test_blocks_of_customers_give_the_same_stages(monkeypatch: pytest.MonkeyPatch) -> None:
    from custrel import lifecycle

    panel = value_panel(_known_truth_log(), period="month", observation_end="2023-12-31")
    whole = classify_stages(panel.values)
    hist = stage_history(panel.values)
    monkeypatch.setattr(lifecycle, "_CHUNK_CELLS", 100)  # blocks of 2 customers
    blocks = classify_stages(panel.values)
    np.testing.assert_array_equal(whole.stage_code, blocks.stage_code)
    np.testing.assert_array_equal(whole.margin, blocks.margin)
    np.testing.assert_array_equal(hist.stage_code, stage_history(panel.values).stage_code)
    np.testing.assert_array_equal(hist.stage_code[:, -1], whole.stage_code)


def test_sample_stage_mix_separates_lapsed_from_decline() -> None:
    log = load_sample()
    r = stages_from_log(log, period="month")
    counts = r.counts()
    assert counts[LAPSED] == churn_rate(log, period="month").lost.sum()
    live = r.active_mix()
    assert sum(live.values()) == pytest.approx(1.0)
    # the sample's live customers buy steadily (BG/NBD simulation): mostly stable
    assert live["stability"] >= 0.7
    assert live["decline"] <= 0.2


def test_hysteresis_holds_a_stage_through_one_noisy_period() -> None:
    x = np.array([[10.0] * 12 + [0.5], [10.0] * 10 + [0.5, 0.5, 0.5]])
    plain = StageRules(gap_window=0, persistence=1, confidence=0)
    raw = stage_history(x, rules=plain)
    held = stage_history(x, rules=StageRules(gap_window=0, confidence=0))
    assert raw.stages()[:, -1].tolist() == ["decline", "decline"]
    assert raw.stages()[1, -3] == "decline"
    assert held.stages()[0, -1] == "stability"  # one odd period does not flip it
    assert held.stages()[1, -3:].tolist() == ["stability", "decline", "decline"]  # two do
    # held against the latest reading: on the boundary
    assert classify_stages(x, rules=StageRules(gap_window=0, confidence=0)).margin[0] == 0.0
    # with the noise allowance the lasting drop counts one period later
    longer = np.array([[10.0] * 10 + [0.5] * 4])
    assert stage_history(longer).stages()[0, -2:].tolist() == ["stability", "decline"]
    # a regular every-other-period buyer: the window covers two of its gaps,
    # its zero periods are rhythm, not noise; a lasting drop to a third is decline
    sparse = np.array([[0, 12] * 12, [0, 12] * 4 + [0, 4] * 8], dtype=float)
    h = stage_history(sparse)
    assert h.stages()[0, -16:].tolist() == ["stability"] * 16
    np.testing.assert_allclose(h.smoothed[0, -6:], 6.0)
    assert h.switches().tolist()[0] == 3  # no_activity > too_new > exploration > stability
    assert h.stages()[1, -3:].tolist() == ["decline"] * 3
    # plain rules, period by period, flip the regular buyer every month
    assert stage_history(sparse, rules=plain).switches()[0] >= 10
    # lapsing is a rule on time, not a noisy reading: it applies at once
    gone = classify_stages([[10.0] * 9 + [0.0] * 3])
    assert gone.stages().tolist() == [LAPSED]
    assert gone.idle_periods.tolist() == [3]
    assert gone.margin[0] > 0


def test_stages_from_log_uses_period_sums() -> None:
    log = TransactionLog.from_arrays(
        customer_id=["a"] * 8 + ["b"] * 2,
        time=[0, 1, 2, 3, 4, 5, 6, 7, 6, 7],
        amount=[5, 9, 10, 10, 10, 10, 10, 10, 4, 4],
    )
    r = stages_from_log(log, period=1.0)
    assert r.customer_id.tolist() == ["a", "b"]
    assert r.stages().tolist() == ["stability", "too_new"]
    panel = value_panel(log, period=2.0)
    assert panel.values.tolist() == [[14, 20, 20, 20], [0, 0, 0, 8]]
    assert panel.period_start.tolist() == [0.0, 2.0, 4.0, 6.0]


def test_value_panel_calendar_months_and_observation_end() -> None:
    log = TransactionLog.from_arrays(
        customer_id=["a", "a", "b", "b"],
        time=["2024-01-31", "2024-03-01", "2024-02-10", "2024-05-02"],
        amount=[1.0, 2.0, 3.0, 4.0],
    )
    p = value_panel(log, observation_end="2024-04-15")
    assert p.values.tolist() == [[1, 0, 2, 0], [0, 3, 0, 0]]
    assert p.period_start[0] == np.datetime64("2024-01-01")
    assert p.period_start[-1] == np.datetime64("2024-04-01")


def test_patterns_i_to_iv() -> None:
    panel = [
        [3, 3, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        [1, 2, 4, 8, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        [5, 5, 5, 5, 5, 5, 5, 5, 5, 0, 0, 0, 0, 0],
        [5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 0, 0, 0],
        [5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5],  # still active
        [7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],  # one period: early abortion
    ]
    r = classify_patterns(panel, long_stability=4)
    p = r.patterns().tolist()
    assert p == [
        LifecyclePattern.EARLY_ABORTION,
        LifecyclePattern.MIDWAY,
        LifecyclePattern.PREMATURE,
        LifecyclePattern.LONG_LASTING,
        None,
        LifecyclePattern.EARLY_ABORTION,
    ]
    # read as stable from tenure 7, and so (hysteresis: persistence 2) stable from tenure 8
    assert r.stability_periods.tolist()[2:4] == [2, 4]
    r1 = classify_patterns(panel, long_stability=4, rules=StageRules(persistence=1))
    assert r1.stability_periods.tolist()[2:4] == [3, 5]
    mix = r.mix()
    assert sum(mix.values()) == pytest.approx(1.0)
    assert mix[LifecyclePattern.EARLY_ABORTION] == pytest.approx(2 / 5)
    r2 = classify_patterns(panel, long_stability=4, count_too_new_as_early=False)
    assert r2.pattern_code[5] == -1


def test_stage_models_and_mapping() -> None:
    assert set(STAGE_CORRESPONDENCES) == set(STAGE_MODELS)
    assert STAGE_CHARACTERISTICS.describe("cost", "exploration") == "highest"
    assert len(STAGE_CHARACTERISTICS.rows()) == 6
    assert map_stages(["awareness", "commitment"], "dwyer_schurr_oh", "ford").tolist() == [
        "pre_relationship",
        "long_term",
    ]
    assert map_stages(["potential", "termination"], "six_stage", "four_stage").tolist() == [
        None,
        None,
    ]
    assert map_stages(["deterioration"], "jap_ganesan", FOUR_STAGE).tolist() == ["decline"]
    mine = StageModel("mine", ("trial", "regular", "lapsing"))
    c = stage_correspondence(
        mine, {"trial": "exploration", "regular": "stability", "lapsing": "decline"}
    )
    assert map_stages(["formation", "stability"], "four_stage", c).tolist() == [
        "trial",
        "regular",
    ]
    assert map_stages(["lapsing"], c, "iacobucci_zerrillo").tolist() == ["end"]


def test_stage_history_has_no_look_ahead() -> None:
    x = np.array([[1, 2, 4, 8, 8, 8, 8, 8, 8, 4, 2]], dtype=float)
    h = stage_history(x)
    for t in range(x.shape[1]):
        assert h.stage_code[0, t] == classify_stages(x[:, : t + 1]).stage_code[0]
    mix = h.mix()
    np.testing.assert_allclose(sum(mix.values()), 1.0)


# ---------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------


@st.composite
def stochastic_matrices(draw: st.DrawFn) -> np.ndarray:
    k = draw(st.integers(2, 6))
    raw = draw(hnp.arrays(np.float64, (k, k), elements=st.floats(0.0, 1.0, allow_nan=False)))
    raw = raw + np.eye(k) * 1e-3
    return raw / raw.sum(axis=1, keepdims=True)


@given(
    st.integers(2, 5).flatmap(
        lambda k: hnp.arrays(
            np.int64,
            st.tuples(st.integers(1, 8), st.integers(2, 10)),
            elements=st.integers(0, k - 1),
        )
    )
)
def test_fitted_matrix_is_row_stochastic(states: np.ndarray) -> None:
    # every state is left at least once: append a column that moves each state on
    labels = sorted(set(states.ravel().tolist()))
    seq = np.concatenate([states, states[:, :1]], axis=1).astype(object)
    c = fit_markov_chain(seq)  # each state is followed by another in every row
    np.testing.assert_allclose(c.matrix.sum(axis=1), 1.0)
    assert np.all(c.matrix >= 0)
    assert list(c.labels) == labels


@given(stochastic_matrices(), st.integers(0, 20), st.integers(1, 10_000))
def test_projection_conserves_customers(p: np.ndarray, horizon: int, n: int) -> None:
    chain = markov_chain(p)
    init = np.zeros(chain.n_states)
    init[0] = n
    proj = chain.project(init, horizon)
    np.testing.assert_allclose(proj.sum(axis=1), n, rtol=1e-9)
    assert np.all(proj >= -1e-9)


@given(stochastic_matrices())
def test_steady_state_is_a_fixed_point(p: np.ndarray) -> None:
    pi = markov_chain(p).steady_state()
    np.testing.assert_allclose(pi @ p, pi, atol=1e-8)
    assert pi.sum() == pytest.approx(1.0)
    assert np.all(pi >= -1e-9)


@given(
    hnp.arrays(np.float64, st.integers(1, 60), elements=st.integers(0, 30).map(float)),
    st.data(),
)
def test_survival_curves_non_increasing_in_unit_interval(dur: np.ndarray, data: Any) -> None:
    obs = data.draw(hnp.arrays(np.bool_, len(dur)))
    groups = data.draw(hnp.arrays(np.int64, len(dur), elements=st.integers(0, 2)))
    km = kaplan_meier(dur, obs, groups=groups)
    for c in km.curves:
        assert np.all(np.diff(c.survival) <= 1e-15)
        assert np.all((c.survival >= 0) & (c.survival <= 1))
        assert c.n == int(c.events.sum() + c.censored.sum())
    assert sum(c.n for c in km.curves) == len(dur)


@given(st.floats(0.05, 20), st.floats(0.05, 20))
def test_sbg_survival_non_increasing(alpha: float, beta: float) -> None:
    from custrel.lifecycle import SBGModel

    m = SBGModel({"alpha": alpha, "beta": beta}, {}, np.eye(2), 0.0, (), np.ones(1), 0)
    s = m.survival(np.arange(50.0))
    assert s[0] == 1.0
    assert np.all(np.diff(s) <= 0)
    assert np.all((s >= 0) & (s <= 1))


panels = hnp.arrays(
    np.float64,
    st.tuples(st.integers(1, 12), st.integers(1, 24)),
    elements=st.sampled_from([0.0, 0.0, 1.0, 2.0, 5.0, 10.0, -3.0, 40.0]),
)


@given(panels, st.randoms(use_true_random=False))
def test_classification_does_not_depend_on_customer_order(x: np.ndarray, rnd: Any) -> None:
    perm = np.arange(len(x))
    rnd.shuffle(perm)
    a = classify_stages(x)
    b = classify_stages(x[perm])
    np.testing.assert_array_equal(a.stage_code[perm], b.stage_code)
    np.testing.assert_array_equal(a.margin[perm], b.margin)


@given(panels, st.integers(1, 4))
def test_hysteresis_keeps_each_stage_for_persistence_periods(x: np.ndarray, k: int) -> None:
    # a stage left for another of the four stages lasted at least ``persistence``
    # periods (lapsing, too-new and no-activity are not held back)
    h = stage_history(x, rules=StageRules(persistence=k)).stage_code
    for row in h:
        run = 1
        for a, b in itertools.pairwise(row.tolist()):
            if a == b:
                run += 1
                continue
            if a >= 0 and b >= 0:
                assert run >= k
            run = 1
    np.testing.assert_array_equal(
        h[:, -1], classify_stages(x, rules=StageRules(persistence=k)).stage_code
    )


# Curves built from the stage characteristics of domain notes §4 (transaction
# value row): exploration "very small" and flat early on; formation "rises
# fast"; stability "steady high" after an established tenure; decline "falls"
# from an earlier peak.
@st.composite
def stage_curves(draw: st.DrawFn) -> tuple[str, np.ndarray]:
    rules = StageRules()
    stage = draw(st.sampled_from(FOUR_STAGE.stages))
    pad = draw(st.integers(0, 12))
    level = draw(st.floats(1.0, 1e4))
    noise = draw(st.floats(0.0, 0.02))
    if stage == "exploration":
        n = draw(st.integers(rules.min_tenure, rules.exploration_periods))
        body = np.full(n, level)
    elif stage == "formation":
        n = draw(st.integers(rules.min_tenure, 24))
        q = draw(st.floats(0.1, 1.0))
        body = level * (1 + q) ** np.arange(n)
    elif stage == "stability":
        ramp = draw(st.integers(0, 6))
        # past exploration for ``persistence`` periods (the hysteresis of
        # stage_history holds the last exploration reading until then), and
        # the ramp out of the trend: the smoothed series' last 2w values span
        # 3w - 1 periods, so the plateau must be that long, plus persistence - 1
        first_stable = rules.exploration_periods + rules.persistence - ramp
        settled = 3 * rules.window - 1 + rules.persistence - 1
        flat = draw(st.integers(max(settled, first_stable), 24))
        body = np.concatenate([level * np.linspace(0.2, 1.0, ramp + 1)[:-1], np.full(flat, level)])
    else:
        hold = draw(st.integers(1, 12))
        fall = draw(st.integers(2 * rules.window, 12))
        q = draw(st.floats(0.1, 0.6))
        body = np.concatenate([np.full(hold, level), level * (1 - q) ** np.arange(1, fall + 1)])
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    body = body * (1 + noise * rng.uniform(-1, 1, len(body)))
    return stage, np.concatenate([np.zeros(pad), body])


@given(st.lists(stage_curves(), min_size=1, max_size=6))
def test_curve_from_stage_characteristics_is_classified_as_its_stage(
    curves: list[tuple[str, np.ndarray]],
) -> None:
    width = max(len(c) for _, c in curves)
    x = np.zeros((len(curves), width))
    for i, (_, c) in enumerate(curves):
        x[i, width - len(c) :] = c  # align the ends: the panel ends today
    r = classify_stages(x)
    assert r.stages().tolist() == [s for s, _ in curves]
    assert np.all(r.margin >= 0)


# ---------------------------------------------------------------------------
# Bad inputs
# ---------------------------------------------------------------------------

_LOG = TransactionLog.from_arrays(customer_id=[1, 2], time=[0.0, 3.0], amount=[1.0, 2.0])


@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        pytest.param(
            lambda: classify_stages([[1, np.nan]]),
            InvalidInputError,
            r"values must be finite, got nan at \[0, 1\]",
            id="stage-nan",
        ),
        pytest.param(
            lambda: classify_stages(np.zeros((2, 0))),
            EmptyInputError,
            "values is empty",
            id="stage-no-periods",
        ),
        pytest.param(
            lambda: classify_stages(np.zeros((2, 2, 2))),
            InvalidInputError,
            "values must be 1-D or 2-D",
            id="stage-3d",
        ),
        pytest.param(
            lambda: classify_stages([[1, 2]], customer_id=[1, 2]),
            InvalidInputError,
            "customer_id has 2 values",
            id="stage-ids",
        ),
        pytest.param(
            lambda: classify_stages([[1, 2]], rules="x"),
            InvalidTypeError,
            "rules must be a StageRules",
            id="stage-rules-type",
        ),
        pytest.param(
            lambda: StageRules(drop=1.5),
            InvalidInputError,
            r"drop must be in \(0, 1\), got 1.5",
            id="rules-drop",
        ),
        pytest.param(
            lambda: StageRules(min_tenure=1),
            InvalidInputError,
            "min_tenure must be >= 2, got 1",
            id="rules-min-tenure",
        ),
        pytest.param(
            lambda: StageRules(persistence=0),
            InvalidInputError,
            "persistence must be >= 1, got 0",
            id="rules-persistence",
        ),
        pytest.param(
            lambda: StageRules(confidence=-1.0),
            InvalidInputError,
            "confidence must be >= 0, got -1.0",
            id="rules-confidence",
        ),
        pytest.param(
            lambda: StageRules(gap_window=-0.5),
            InvalidInputError,
            "gap_window must be >= 0, got -0.5",
            id="rules-gap-window",
        ),
        pytest.param(
            lambda: StageRules(inactive_periods=0),
            InvalidInputError,
            "inactive_periods must be >= 1, got 0",
            id="rules-inactive-periods",
        ),
        pytest.param(
            lambda: map_stages(["growth"], "four_stage", "six_stage"),
            InvalidInputError,
            "'growth' at row 0, which is not a stage of 'four_stage'",
            id="map-unknown-stage",
        ),
        pytest.param(
            lambda: map_stages(["a"], "nope", "six_stage"),
            InvalidInputError,
            "source must be one of",
            id="map-unknown-model",
        ),
        pytest.param(
            lambda: stage_correspondence(StageModel("m", ("a", "b")), {"a": "exploration"}),
            InvalidInputError,
            "no entry for stage 'b'",
            id="corr-missing",
        ),
        pytest.param(
            lambda: stage_correspondence(
                StageModel("m", ("a", "b")), {"a": "decline", "b": "exploration"}
            ),
            InvalidInputError,
            "goes backwards",
            id="corr-backwards",
        ),
        pytest.param(
            lambda: stage_correspondence(StageModel("m", ("a", "b")), {"a": "x", "b": "decline"}),
            InvalidInputError,
            r"to_hub\['a'\] must be one of",
            id="corr-unknown-hub",
        ),
        pytest.param(
            lambda: value_panel(_LOG, period=1.0, value="revenue"),
            InvalidInputError,
            "value must be one of",
            id="panel-value",
        ),
        pytest.param(
            lambda: value_panel(_LOG, period=1.0, value="volume"),
            InvalidInputError,
            "needs a log with a volume column",
            id="panel-volume",
        ),
        pytest.param(
            lambda: value_panel([1, 2], period=1.0),
            InvalidTypeError,
            "log must be a TransactionLog",
            id="panel-log-type",
        ),
        pytest.param(
            lambda: churn_rate(_LOG, period=1.0, observation_end=-1.0),
            InvalidInputError,
            "observation_end -1.0 is before the first transaction",
            id="churn-end",
        ),
        pytest.param(
            lambda: churn_rate(_LOG, period=1.0, inactive_periods=0),
            InvalidInputError,
            "inactive_periods must be >= 1, got 0",
            id="churn-rule",
        ),
        pytest.param(
            lambda: classify_patterns([[1, 0]], ended=[1]),
            InvalidTypeError,
            "ended must be booleans",
            id="pattern-ended-type",
        ),
        pytest.param(
            lambda: classify_patterns([[1, 0]], ended=np.array([True, False])),
            InvalidInputError,
            r"ended has shape \(2,\)",
            id="pattern-ended-len",
        ),
        pytest.param(
            lambda: kaplan_meier([1, -2]),
            InvalidInputError,
            r"durations must be >= 0, got -2.0 at row 1",
            id="km-negative",
        ),
        pytest.param(
            lambda: kaplan_meier([1, 2], [1, 0]),
            InvalidTypeError,
            "observed must be booleans",
            id="km-observed-type",
        ),
        pytest.param(
            lambda: kaplan_meier([1, 2], [True]),
            InvalidInputError,
            "inconsistent lengths",
            id="km-lengths",
        ),
        pytest.param(
            lambda: kaplan_meier([]), EmptyInputError, "durations is empty", id="km-empty"
        ),
        pytest.param(
            lambda: fit_sbg([1000, 1100]),
            InvalidInputError,
            "survivors must not increase, got 1100.0 after 1000.0 in cohort 0 at period 1",
            id="sbg-increase",
        ),
        pytest.param(
            lambda: fit_sbg([1000]), InvalidInputError, "cohort 0 has 1 counts", id="sbg-short"
        ),
        pytest.param(
            lambda: fit_sbg([0, 0]),
            InvalidInputError,
            "cohort size must be > 0",
            id="sbg-zero-size",
        ),
        pytest.param(
            lambda: fit_sbg([1000, -5]),
            InvalidInputError,
            r"survivors\[0\] must be >= 0, got -5.0 at row 1",
            id="sbg-negative",
        ),
        pytest.param(
            lambda: fit_sbg([[1000, np.nan, 500]]),
            InvalidInputError,
            "value after NaN in cohort 0 at period 2",
            id="sbg-nan-inside",
        ),
        pytest.param(
            lambda: fit_sbg([1000, 1000, 1000]), ConvergenceError, "no churn", id="sbg-no-churn"
        ),
        pytest.param(
            # retention falls (0.5 then 0.2): sBG retention can only rise, the fit degenerates
            lambda: fit_sbg([1000, 500, 100]),
            ConvergenceError,
            "no heterogeneity in churn",
            id="sbg-diverges",
        ),
        pytest.param(
            lambda: fit_sbg(REGULAR, weights=[1.0, 2.0]),
            InvalidInputError,
            "weights has 2 values but the data has 1 rows",
            id="sbg-weights-len",
        ),
        pytest.param(
            lambda: fit_sbg("1000"), InvalidTypeError, "survivors must be numeric", id="sbg-string"
        ),
        pytest.param(
            lambda: fit_sbg(REGULAR).derl(0.1, -1),
            InvalidInputError,
            "renewals must be >= 0",
            id="sbg-derl-renewals",
        ),
        pytest.param(
            lambda: markov_chain([[0.5, 0.4], [0, 1]]),
            InvalidInputError,
            "matrix rows must sum to 1, got 0.9 in row 0",
            id="markov-not-stochastic",
        ),
        pytest.param(
            lambda: markov_chain([[1.2, -0.2], [0, 1]]),
            InvalidInputError,
            r"matrix must be in \[0, 1\], got 1.2 at \[0, 0\]",
            id="markov-range",
        ),
        pytest.param(
            lambda: markov_chain([[1.0, 0.0]]),
            InvalidInputError,
            r"matrix must be square, got shape \(1, 2\)",
            id="markov-square",
        ),
        pytest.param(
            lambda: markov_chain([[1.0]], ["a", "b"]),
            InvalidInputError,
            "labels has 2 names but matrix has 1 states",
            id="markov-labels",
        ),
        pytest.param(
            lambda: fit_markov_chain([["a", "b"]]),
            InvalidInputError,
            "state 'b' is never left",
            id="fit-never-left",
        ),
        pytest.param(
            lambda: fit_markov_chain([["a", "b", "a"]], absorbing=["b"]),
            InvalidInputError,
            "leave the absorbing state 'b' for 'a' 1 times",
            id="fit-leave-absorbing",
        ),
        pytest.param(
            lambda: fit_markov_chain([["a", "c", "a"]], labels=["a", "b"]),
            InvalidInputError,
            "unknown state 'c'",
            id="fit-unknown-label",
        ),
        pytest.param(
            lambda: fit_markov_chain([["a"]]),
            EmptyInputError,
            "at least one customer and two periods",
            id="fit-one-period",
        ),
        pytest.param(
            lambda: markov_chain([[0.5, 0.5], [0.5, 0.5]]).absorption_time(),
            InvalidInputError,
            "no absorbing state",
            id="markov-no-absorbing",
        ),
        pytest.param(
            lambda: markov_chain([[1, 0, 0], [0, 0, 1], [0, 1, 0]]).absorption_time(),
            InvalidInputError,
            "state 1 never reaches an absorbing state",
            id="markov-unreachable",
        ),
        pytest.param(
            lambda: markov_chain([[0.5, 0.5], [0, 1]]).expected_value([1.0, 1.0]),
            InvalidInputError,
            "value is infinite",
            id="markov-infinite-value",
        ),
        pytest.param(
            lambda: markov_chain([[0.5, 0.5], [0, 1]]).project([1.0], 2),
            InvalidInputError,
            "initial has 1 values but the chain has 2 states",
            id="markov-initial-len",
        ),
        pytest.param(
            lambda: markov_chain([[0.5, 0.5], [0, 1]]).project({"x": 1.0}, 2),
            InvalidInputError,
            "state must be one of",
            id="markov-initial-label",
        ),
        pytest.param(
            lambda: recency_chain([0.5, 1.5]),
            InvalidInputError,
            r"buy_rates must be in \[0, 1\], got 1.5 at row 1",
            id="recency-rate",
        ),
    ],
)
def test_bad_inputs(call: Any, exc: type[Exception], match: str) -> None:
    with pytest.raises(exc, match=match):
        call()


def test_simulate_accepts_mixed_labels() -> None:
    c = recency_chain([0.5, 0.2])
    paths = c.simulate([1, 2, "lost"], 3, rng=0)
    assert paths.shape == (3, 4)
    assert paths[2].tolist() == [2, 2, 2, 2]  # lost is absorbing
    with pytest.raises(InvalidInputError, match="unknown state 'gone' at row 1"):
        c.simulate([1, "gone"], 2)


def test_lifecycle_figures() -> None:
    pytest.importorskip("matplotlib")
    from custrel.plot import plot_stage_mix, plot_survival, plot_value_curve

    log = TransactionLog.from_arrays(
        customer_id=["a"] * 8 + ["b"] * 2,
        time=[0, 1, 2, 3, 4, 5, 6, 7, 6, 7],
        amount=[5, 9, 10, 10, 10, 10, 10, 10, 4, 4],
    )
    panel = value_panel(log, period=1.0)
    fig = plot_value_curve(panel, "a")
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels == ["formation", "stability", "too_new"]  # lifecycle order
    km = survival_from_log(log, period=1.0, inactive_periods=1)
    assert len(plot_survival(km).axes[0].get_legend().get_texts()) == len(km)
    fig = plot_stage_mix(stages_from_log(log, period=1.0))
    # empty stages are left out, the labels are words (plot_stage_mix)
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["stability", "too new"]
    with pytest.raises(InvalidInputError, match="customer is needed: the panel holds 2"):
        plot_value_curve(panel)
    with pytest.raises(InvalidInputError, match="customer 'z' is not in the panel"):
        plot_value_curve(panel, "z")
    with pytest.raises(InvalidTypeError, match="km must be a KaplanMeierResult"):
        plot_survival(panel)
    with pytest.raises(InvalidTypeError, match="stages must be a StageClassification"):
        plot_stage_mix(km)
    # labels with control characters are shown escaped: no glyph warning, still distinct
    # (adversarial suite: "Glyph 0 missing from font(s)" leaked for the label "a\x00")
    import warnings

    km2 = survival_from_log(log, period=1.0, inactive_periods=1)
    n = len(km2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = plot_survival(km2, group_labels=["a\x00", "a"][:n] + ["b"] * (n - 2))
        fig.canvas.draw()
    texts = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert texts[0].startswith("a\\x00 (n=")
    # a page-long label is cut (it froze the layout for seconds, or warned that the tight
    # layout could not be applied)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = plot_survival(km2, group_labels=["L" * 5000] * n, time_unit="w" * 5000)
        fig.canvas.draw()
    first = fig.axes[0].get_legend().get_texts()[0].get_text()
    assert first.startswith("L" * 79 + "\u2026 (n=")


@given(transaction_logs(kind="numeric", max_rows=60, max_customers=10), st.randoms())
def test_log_based_results_do_not_depend_on_row_order(log: TransactionLog, rnd: Any) -> None:
    perm = list(range(log.n_rows))
    rnd.shuffle(perm)
    shuffled = log.take(np.asarray(perm, dtype=np.int64))
    if not log.is_purchase.any():  # returns only: nobody was acquired
        with pytest.raises(EmptyInputError, match="no purchase"):
            churn_rate(log, period=7.0)
        return
    a = stages_from_log(log, period=7.0)
    b = stages_from_log(shuffled, period=7.0)
    np.testing.assert_array_equal(a.customer_id, b.customer_id)
    np.testing.assert_array_equal(a.stage_code, b.stage_code)
    ca = churn_rate(log, period=7.0, inactive_periods=2)
    cb = churn_rate(shuffled, period=7.0, inactive_periods=2)
    np.testing.assert_array_equal(ca.lost, cb.lost)
    # churn bookkeeping: nobody lost who was not there, at most everyone lost once
    assert np.all(ca.lost <= ca.at_start)
    assert ca.lost.sum() <= log.n_customers
    km = survival_from_log(log, period=7.0, inactive_periods=2, cohort_periods=4)
    # the returns rule: a customer with returns only was never acquired
    buyers = len(np.unique(log.customer_code[log.is_purchase]))
    assert sum(c.n for c in km.curves) == buyers
    for c in km.curves:
        assert np.all(np.diff(c.survival) <= 0)
        assert np.all((c.survival >= 0) & (c.survival <= 1))
    cols = a.to_arrays()
    assert set(cols) >= {"customer_id", "stage", "stage_margin", "tenure"}


def test_fit_markov_chain_missing_markers_on_plain_arrays() -> None:
    nan = float("nan")
    by_nan = fit_markov_chain(
        np.array([[nan, 1, 2, 2], [1, 1, 2, nan]]), missing=nan, absorbing=[2.0]
    )
    np.testing.assert_allclose(by_nan.matrix, [[1 / 3, 2 / 3], [0, 1]])
    by_blank = fit_markov_chain(
        np.array([["", "a", "b", "b"], ["a", "a", "b", ""]]), missing="", absorbing=["b"]
    )
    assert by_blank.labels == ("a", "b")
    np.testing.assert_allclose(by_blank.matrix, by_nan.matrix)


# ---------------------------------------------------------------------------
# issue 10: budgets before allocating, the returns rule, frozen results, the
# caller's argument names
# ---------------------------------------------------------------------------

_THREE = TransactionLog.from_arrays(
    customer_id=["a", "a", "b"], time=[0.0, 1.0, 2.0], amount=[1.0, 2.0, 3.0]
)


def _far_future_log(n: int = 200_000) -> TransactionLog:
    """A 200k-row calendar log with one mistyped 9999-01-01 date at row 17."""
    times = np.datetime64("2020-01-01", "s") + (np.arange(n) % 1000).astype("timedelta64[D]")
    times[17] = np.datetime64("9999-01-01", "s")
    return TransactionLog.from_arrays(
        customer_id=np.arange(n) % 50_000, time=times, amount=np.ones(n)
    )


ISSUE10_BAD = [
    pytest.param(
        lambda: value_panel(_THREE, period=float("nan")),
        InvalidInputError,
        "^period must be finite, got nan",
        id="panel-period-nan",
    ),
    pytest.param(
        lambda: churn_rate(_THREE, period=float("nan")),
        InvalidInputError,
        "^period must be finite",
        id="churn-period-nan",
    ),
    pytest.param(
        lambda: value_panel(_THREE, period=1.0, observation_end=1e300),
        InvalidInputError,
        "observation_end 1e\\+300 makes it span 1e\\+300 periods",
        id="panel-observation-end-1e300",
    ),
    pytest.param(
        lambda: value_panel(
            TransactionLog.from_arrays(
                customer_id=["a", "a"], time=[0.0, 1.0], amount=[1e308, 1e308]
            ),
            period=5.0,
        ),
        InvalidInputError,
        "amount of customer 'a' in period 1 adds up to inf",
        id="panel-overflow",
    ),
    pytest.param(
        lambda: markov_chain([[0.7, 0.3], [0.0, 1.0]]).expected_value([1.0, 0.0], horizon=10**12),
        InvalidInputError,
        "horizon=1,000,000,000,000",
        id="markov-horizon-budget",
    ),
    pytest.param(
        lambda: markov_chain([[0.7, 0.3], [0.0, 1.0]]).project([1.0, 0.0], 10**9),
        InvalidInputError,
        "set CUSTREL_MAX_PERIODS",
        id="markov-project-budget",
    ),
    pytest.param(
        lambda: markov_chain([[0.7, 0.3], [0.0, 1.0]]).expected_value(
            [1.0, 1.0], discount_rate=1e-300
        ),
        InvalidInputError,
        "not finite with discount_rate=1e-300",
        id="markov-tiny-discount",
    ),
    pytest.param(
        lambda: markov_chain([[0.7, 0.3], [0.0, 1.0]]).expected_value(
            [1.0, 0.0], discount_rate=-0.5
        ),
        InvalidInputError,
        "discount_rate must be >= 0 for the infinite-horizon value",
        id="markov-negative-discount",
    ),
    pytest.param(
        lambda: markov_chain([[0.7, 0.3], [0.0, 1.0]], labels=["active", None]),
        InvalidInputError,
        "labels",
        id="markov-label-None",
    ),
    pytest.param(
        lambda: markov_chain([[0.7, 0.3], [0.0, 1.0]]).index(["a"]),
        InvalidTypeError,
        "state must be one label",
        id="markov-index-list",
    ),
    pytest.param(
        lambda: fit_markov_chain([["a", "b"]], absorbing="b"),
        InvalidTypeError,
        "absorbing must be a sequence of states",
        id="markov-absorbing-string",
    ),
    pytest.param(
        lambda: kaplan_meier([1.0, 2.0, 3.0], groups=["x", None, "y"]),
        InvalidInputError,
        "groups is missing \\(None\\) at row 1",
        id="km-group-None",
    ),
    pytest.param(
        lambda: kaplan_meier([1.0, 2.0]).curve([0]),
        InvalidTypeError,
        "group must be one label",
        id="km-curve-list",
    ),
    pytest.param(
        lambda: fit_sbg([1000, 869, 743], max_iterations=10**12),
        InvalidInputError,
        "max_iterations=1,000,000,000,000",
        id="sbg-iterations-budget",
    ),
    pytest.param(
        lambda: fit_sbg([1000, 631, 468, 382, 326, 289, 262, 241]).derl(5e-324, 1),
        InvalidInputError,
        "discount_rate=5e-324 is too small",
        id="sbg-derl-tiny-rate",
    ),
    pytest.param(
        lambda: stage_correspondence(FOUR_STAGE, None),  # type: ignore[arg-type]
        InvalidTypeError,
        "to_hub must be a mapping",
        id="correspondence-None",
    ),
]


@pytest.mark.parametrize(("call", "error", "match"), ISSUE10_BAD)
def test_issue10_bad_inputs(call: Any, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        call()


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda log: value_panel(log), id="value_panel"),
        pytest.param(lambda log: stages_from_log(log), id="stages_from_log"),
    ],
)
def test_far_future_date_is_refused_within_a_second(call: Any) -> None:
    import time

    log = _far_future_log()
    start = time.perf_counter()
    with pytest.raises(
        InvalidInputError,
        match="the latest time 9999-01-01 at row 17 makes it span 95,749 months; a mistyped",
    ):
        call(log)
    assert time.perf_counter() - start < 5.0  # O(rows), not a 36 GiB panel


def test_epoch_seconds_are_refused_with_a_hint() -> None:
    log = TransactionLog.from_arrays(
        customer_id=np.arange(2000) % 500,
        time=1.6e9 + np.arange(2000) * 20000.0,
        amount=np.ones(2000),
    )
    for fn in (value_panel, stages_from_log, churn_rate, survival_from_log):
        with pytest.raises(InvalidInputError, match="look like epoch seconds"):
            fn(log, period=1.0)


def test_stages_cost_follows_changes_not_the_empty_span() -> None:
    import time

    log = TransactionLog.from_arrays(
        customer_id=[1, 1, 2, 2], time=[0.0, 1.0, 5.0, 3e5], amount=[1.0] * 4
    )
    start = time.perf_counter()
    r = stages_from_log(log, period=1.0)
    assert r.stages().tolist() == ["lapsed", "exploration"]
    assert time.perf_counter() - start < 5.0  # was 10 s with a loop over every period


def test_huge_panel_rows_read_as_scaled_ones() -> None:
    panel = np.array([[0, 0, 1, 2, 4, 8, 8, 8, 8, 8, 4, 2.0]])
    for scale in (1e200, 1e-200):
        a = stage_history(panel)
        b = stage_history(panel * scale)
        np.testing.assert_array_equal(a.stage_code, b.stage_code)
        np.testing.assert_allclose(b.smoothed / scale, a.smoothed)


def test_returns_are_no_purchases_in_churn_survival_and_stages() -> None:
    # "b" buys at 0 and returns it at 4; "c" only returns; "a" buys 0..5
    log = TransactionLog.from_arrays(
        customer_id=["a"] * 6 + ["b", "b", "c"],
        time=[0, 1, 2, 3, 4, 5, 0, 4, 2],
        amount=[5.0] * 6 + [5.0, -5.0, -3.0],
    )
    churn = churn_rate(log, period=1.0, inactive_periods=2)
    assert churn.at_start.tolist() == [0, 2, 1, 1, 1]  # "c" was never acquired
    assert churn.lost.tolist() == [0, 1, 0, 0, 0]  # "b" lost after its purchase at 0
    km = survival_from_log(log, period=1.0, inactive_periods=2)
    assert sum(c.n for c in km.curves) == 2
    stages = stages_from_log(log, period=1.0)
    codes = dict(zip(stages.customer_id.tolist(), stages.stages().tolist(), strict=True))
    assert codes["b"] == LAPSED  # the return at 4 is no sign of life
    assert codes["c"] == "no_activity"
    with pytest.raises(EmptyInputError, match="no purchase"):
        churn_rate(
            TransactionLog.from_arrays(customer_id=[1], time=[0.0], amount=[-1.0]), period=1.0
        )


def test_results_share_no_memory_with_the_callers_arrays() -> None:
    survivors = np.array([1000.0, 869, 743, 653, 593, 551, 517, 491])
    m = fit_sbg(survivors)
    survivors[1] = 0.0
    assert m.survivors[0][1] == 869.0
    assert not m.survivors[0].flags.writeable
    ids = np.array(["x", "y"])
    r = classify_stages([[1, 2, 3, 4], [4, 3, 2, 1.0]], customer_id=ids)
    ids[0] = "z"
    assert r.customer_id.tolist() == ["x", "y"]
    groups = np.array([2, 1, 2])
    km = kaplan_meier([1.0, 2.0, 3.0], groups=groups)
    groups[0] = 9
    assert km.groups.tolist() == [1, 2]
    matrix = np.array([[0.7, 0.3], [0.0, 1.0]])
    c = markov_chain(matrix)
    matrix[0, 0] = 0.0
    assert c.matrix[0, 0] == 0.7
    to_hub = {"a": "exploration", "b": "decline"}
    corr = stage_correspondence(StageModel("ab", ("a", "b")), to_hub)
    to_hub["a"] = "formation"
    assert corr.to_hub["a"] == "exploration"
    for arr in (r.customer_id, r.margin, km.groups, c.matrix, c.absorbing):
        assert not arr.flags.writeable


def _stages_on_the_full_panel(log: TransactionLog, period: float) -> Any:
    """Reference: classify the whole customers x periods panel (no settling shortcut)."""
    from custrel.lifecycle import _panel, _stage_arrays

    _, values, _, active = _panel(log, period, "amount", None, activity=True)
    return _stage_arrays(values, StageRules(), history=False, active=active)


@given(
    transaction_logs(kind="numeric", max_rows=60, max_customers=10),
    st.sampled_from([0.5, 1.0, 7.0]),
    st.floats(0.0, 400.0),
)
def test_settled_customers_read_as_on_the_full_panel(
    log: TransactionLog, period: float, far: float
) -> None:
    # one late row stretches the panel: the settled customers are read on a
    # shorter one and moved on to the end, exactly as on the full panel
    arrays = log.to_arrays()
    late = TransactionLog.from_arrays(
        customer_id=np.append(arrays["customer_id"], arrays["customer_id"][0]),
        time=np.append(arrays["time"], float(np.max(arrays["time"])) + far),
        amount=np.append(arrays["amount"], 1.0),
    )
    for lg in (log, late):
        got = stages_from_log(lg, period=period)
        ref = _stages_on_the_full_panel(lg, period)
        np.testing.assert_array_equal(got.stage_code, ref["code"])
        np.testing.assert_array_equal(got.tenure, ref["tenure"])
        np.testing.assert_array_equal(got.idle_periods, ref["idle"])
        np.testing.assert_array_equal(got.margin, ref["margin"])
        np.testing.assert_array_equal(got.level, ref["level"])
        np.testing.assert_array_equal(got.trend, ref["trend"])


def test_a_far_future_row_costs_its_customer_only() -> None:
    import time

    n = 20_000
    times = np.datetime64("2020-01-01", "s") + (np.arange(n) % 1000).astype("timedelta64[D]")
    times[17] = np.datetime64("9999-01-01", "s")
    log = TransactionLog.from_arrays(
        customer_id=np.arange(n) % 2_000, time=times, amount=np.ones(n)
    )  # 2,000 customers x 95,749 months is inside the budget
    start = time.perf_counter()
    r = stages_from_log(log)
    assert time.perf_counter() - start < 30.0  # was minutes: 1.9e8 cells classified
    assert r.counts()["lapsed"] == 1_999


def test_sbg_counts_beyond_exact_floats_are_refused() -> None:
    # adversarial finding: survivors of 1e300 overflowed the log-likelihood with a raw warning
    with pytest.raises(InvalidInputError, match=r"survivors\[0\] must be <= 9\.0072e\+15"):
        fit_sbg([1e300, 631.0, 468.0, 382.0])
