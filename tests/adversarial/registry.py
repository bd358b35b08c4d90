"""One valid call for every public function and method of custrel.

Every callable name in ``custrel.__all__`` is either an entry here (a function, or a
class whose constructor users call) or listed in :data:`EXEMPT` with the reason; every
public method of every public class is an entry ``module.Class.method`` or exempt.
``test_registry.py`` fails when a new public name or method has neither, so new API
gets covered.

An entry knows how to build one VALID call from a :class:`Context` of small, cached,
frozen base objects (a log, fitted models, a decision matrix, ...). The arguments are
found by introspection: the entry's hand-written table gives the required (and any
interesting optional) arguments; every other parameter with a non-None default is
passed explicitly with its default so that it can be perturbed too. Builders return
fresh containers on every call (the checks edit them afterwards).
"""

from __future__ import annotations

import enum
import inspect
from collections.abc import Callable
from functools import cached_property
from typing import Any

import attrs
import numpy as np

import custrel as C

_SUBMODULES = (
    "models",
    "btyd",
    "channels",
    "clv",
    "datasets",
    "errors",
    "frames",
    "lifecycle",
    "pyramid",
    "report",
    "rfm",
)


def public_module(name: str) -> str:
    """The public submodule whose ``__all__`` exports ``name``."""
    for mod in _SUBMODULES:
        if name in getattr(C, mod).__all__:
            return mod
    if name in _plot().__all__:
        return "plot"
    return "custrel"


def _plot() -> Any:
    """custrel.plot (not re-exported by custrel; its functions are public API too)."""
    import custrel.plot

    return custrel.plot


# ================================================================ base objects


class Context:
    """Small valid base objects, built lazily once per worker (all frozen)."""

    @cached_property
    def log(self) -> C.TransactionLog:
        return C.generate_transactions(40, rng=1)

    @cached_property
    def numlog(self) -> C.TransactionLog:
        return C.TransactionLog.from_arrays(
            customer_id=np.array([1, 1, 1, 2, 2, 3, 3, 3, 4, 5]),
            time=np.array([0.0, 2.0, 6.0, 1.0, 3.0, 2.0, 5.0, 9.0, 4.0, 8.5]),
            amount=np.array([5.0, 7.0, 3.0, 10.0, 4.0, 6.0, 6.5, 8.0, 12.0, 2.0]),
        )

    @cached_property
    def sim(self) -> C.BTYDSummary:
        truth = C.BGNBDModel.from_params({"r": 0.5, "alpha": 5.0, "a": 1.5, "b": 4.0})
        return truth.simulate(200, T=52.0, rng=7)

    @cached_property
    def bgnbd(self) -> C.BGNBDModel:
        return C.fit_bgnbd(self.sim.frequency, self.sim.recency, self.sim.T)

    @cached_property
    def mbgnbd(self) -> C.MBGNBDModel:
        return C.fit_mbgnbd(self.sim.frequency, self.sim.recency, self.sim.T)

    @cached_property
    def psim(self) -> C.BTYDSummary:
        truth = C.ParetoNBDModel.from_params({"r": 0.55, "alpha": 10.6, "s": 0.61, "beta": 11.7})
        return truth.simulate(300, T=39.0, rng=11)

    @cached_property
    def pareto(self) -> C.ParetoNBDModel:
        return C.fit_pareto_nbd(self.psim.frequency, self.psim.recency, self.psim.T)

    @cached_property
    def gsim(self) -> C.BTYDSummary:
        truth = C.GGompertzNBDModel.from_params(dict(_PARAMS["GGompertzNBDModel"]))
        return truth.simulate(200, 39.0, rng=3)

    @cached_property
    def ggom(self) -> C.GGompertzNBDModel:
        return C.fit_ggomnbd(self.gsim.frequency, self.gsim.recency, self.gsim.T)

    @cached_property
    def bgbb(self) -> C.BGBBModel:
        return C.fit_bgbb(
            [0, 1, 3, 6, 2, 1], [0, 1, 5, 6, 6, 3], [6] * 6, weights=[300, 100, 120, 150, 80, 60]
        )

    @cached_property
    def gg(self) -> C.GammaGammaModel:
        x, m = GG_DATA
        return C.fit_gamma_gamma(x, m)

    @cached_property
    def summary(self) -> C.BTYDSummary:
        return C.rfm_summary(self.log, unit="week")

    @cached_property
    def holdout(self) -> C.BTYDSummary:
        return C.rfm_summary(self.numlog, period=None, calibration_end=5.0, observation_end=10.0)

    @cached_property
    def matrix(self) -> C.DecisionMatrix:
        return C.DecisionMatrix.from_arrays(
            [[200.0, 8.0, 3.0], [150.0, 9.0, 4.0], [180.0, 6.0, 5.0], [170.0, 7.0, 2.0]],
            [
                C.Criterion("sales", weight=0.5),
                C.Criterion("cost", weight=0.3, direction="cost"),
                C.Criterion("service", weight=0.2),
            ],
            candidate_id=["A", "B", "C", "D"],
        )

    @cached_property
    def markov(self) -> C.MarkovChain:
        return C.markov_chain(
            [[0.6, 0.3, 0.1], [0.2, 0.5, 0.3], [0.0, 0.0, 1.0]], ["new", "active", "lost"]
        )

    @cached_property
    def pyramid(self) -> C.Pyramid:
        return C.customer_pyramid(VALUES, customer_id=IDS)

    @cached_property
    def pyramid2(self) -> C.Pyramid:
        return C.customer_pyramid(VALUES[::-1], customer_id=IDS)

    @cached_property
    def rfmtable(self) -> C.RFMTable:
        return C.RFMTable.from_arrays(
            customer_id=list("abcdefghij"),
            recency=[1, 2, 3, 10, 20, 40, 80, 160, 320, 640],
            frequency=[20, 3, 9, 7, 1, 6, 5, 2, 8, 4],
            monetary_value=[900, 20, 400, 350, 5, 300, 250, 10, 600, 30],
        )

    @cached_property
    def rfmscores(self) -> C.RFMScores:
        return C.rfm_scores(self.rfmtable)

    @cached_property
    def rfmsegments(self) -> C.RFMSegments:
        return C.rfm_segments(self.rfmscores)

    @cached_property
    def rfmsummary(self) -> C.RFMSummary:
        return C.summarize_rfm(self.numlog, 10.0)

    @cached_property
    def stages(self) -> C.StageClassification:
        return C.classify_stages(PANEL)

    @cached_property
    def history(self) -> C.StageHistory:
        return C.stage_history(PANEL)

    @cached_property
    def patterns(self) -> C.PatternResult:
        return C.classify_patterns(PANEL, long_stability=6)

    @cached_property
    def km(self) -> C.KaplanMeierResult:
        return C.kaplan_meier(
            [1, 2, 2, 3, 5, 4],
            [True, True, False, True, False, True],
            groups=["a", "a", "b", "b", "a", "b"],
        )

    @cached_property
    def sbg(self) -> C.SBGModel:
        return C.fit_sbg([1000, 631, 468, 382, 326, 289, 262, 241])

    @cached_property
    def profit_fit(self) -> C.ProfitCurveFit:
        t = np.arange(1, 19)
        return C.fit_profit_curve(C.phase_growth(t, 0.025, 3.40), g1=24, ceiling=20.0)

    @cached_property
    def custom_fit(self) -> C.CustomCurveFit:
        t = np.arange(1, 13)
        return C.fit_custom_curve(5 + 2 * np.log(t), _log_curve, [1.0, 1.0])

    @cached_property
    def dwyer(self) -> C.DwyerResult:
        return C.dwyer_retention([0.70, 0.80, 0.85], 100.0, n_customers=1000)

    @cached_property
    def ranking(self) -> C.RankingResult:
        return C.weighted_sum(self.matrix)

    @cached_property
    def tier_rule(self) -> C.TierRule:
        return C.fit_tier_rule(TIER_ATTRS, TIER_LABELS, max_depth=2, names=["spend", "visits"])

    @cached_property
    def historical(self) -> C.HistoricalValue:
        return C.historical_value(self.numlog, freq=1.0)

    @cached_property
    def period_table(self) -> C.PeriodProfitTable:
        return C.period_profit_from_log(self.log, freq="month")

    @cached_property
    def report(self) -> C.CustomerReport:
        return C.customer_report(self.log)

    # -- this session's BTYD API: covariate, correlated and bootstrap fits (each < 0.5 s)

    @cached_property
    def bgnbd_cov(self) -> Any:
        """BG/NBD with a purchase covariate (a matrix) and a dropout one (a mapping)."""
        s = self.sim
        return C.fit_bgnbd(s.frequency, s.recency, s.T, **_covariates(len(s.frequency)))

    @cached_property
    def ggom_cov(self) -> Any:
        s = self.gsim
        return C.fit_ggomnbd(s.frequency, s.recency, s.T, **_covariates(len(s.frequency)))

    @cached_property
    def pareto_cov(self) -> Any:
        s = self.psim
        return C.fit_pareto_nbd(s.frequency, s.recency, s.T, **_covariates(len(s.frequency)))

    @cached_property
    def gg_cov(self) -> Any:
        x, m = GG_DATA
        return C.fit_gamma_gamma(x, m, covariates=_spend_covariates(len(x)))

    @cached_property
    def pareto_cor(self) -> Any:
        s = self.psim
        return C.fit_pareto_nbd_correlated(s.frequency, s.recency, s.T)

    @cached_property
    def boot(self) -> Any:
        s = self.sim
        return C.bootstrap(C.fit_bgnbd, s.frequency, s.recency, s.T, n_replications=6, rng=3)

    @cached_property
    def intervals(self) -> Any:
        return C.prediction_intervals(
            self.bgnbd, *_frt(self).values(), t=10.0, spend_model=self.gg,
            monetary_value=_a([10.0, 20.0, 30.0, 40.0, 50.0]), horizon=6, discount_rate=0.01,
        )  # fmt: skip

    @cached_property
    def delivered(self) -> C.DeliveredValue:
        return C.delivered_value(
            [[60, 20, 10, 10], [50, 30, 10, 5]],
            [[50, 10, 5, 5], [45, 5, 5, 5]],
            offerings=["a", "b"],
        )


def _gg_data() -> tuple[np.ndarray, np.ndarray]:
    truth = C.GammaGammaModel.from_params({"p": 6.25, "q": 3.74, "gamma": 15.44})
    x = np.random.default_rng(3).integers(1, 10, 300).astype(float)
    return x, np.asarray(truth.simulate(x, rng=3), dtype=float)


def _log_curve(t: Any, a: float, b: float) -> Any:
    return a + b * np.log(t)


VALUES = [500.0, 300.0, 200.0, 120.0, 100.0, 80.0, 60.0, 40.0, 20.0, -10.0]
IDS = [f"c{i}" for i in range(10)]
PANEL = [
    [0, 0, 0, 0, 0, 0, 0, 5, 5, 5],
    [0, 0, 0, 1, 2, 4, 8, 16, 32, 64],
    [5, 9, 10, 10, 10, 10, 10, 10, 10, 10],
    [10, 10, 10, 10, 10, 10, 8, 6, 4, 2],
    [9, 9, 9, 9, 9, 9, 0, 0, 0, 0],
]
TIER_ATTRS = [[900, 2], [800, 3], [300, 9], [250, 7], [40, 1], [30, 2]]
TIER_LABELS = [C.Tier.GOLD, C.Tier.GOLD, C.Tier.IRON, C.Tier.IRON, C.Tier.LEAD, C.Tier.LEAD]
RATES = {"all": 0.7, "B": 0.8, "L": 0.4, "BB": 0.85, "LB": 0.75, "BL": 0.5, "LL": 0.3}
SPEND = {"all": 100, "B": 110, "L": 90, "BB": 90, "LB": 100, "BL": 90, "LL": 50}


GG_DATA = _gg_data()


def _covariates(n: int, *, seed: int = 5) -> dict[str, Any]:
    """Covariates for n customers: a one-column purchase matrix and a dropout mapping."""
    z = np.random.default_rng(seed).normal(size=(n, 2))
    return {"purchase_covariates": z[:, :1].copy(), "dropout_covariates": {"age": z[:, 1].copy()}}


def _spend_covariates(n: int, *, seed: int = 6) -> dict[str, np.ndarray]:
    """Gamma-Gamma spend covariates for n customers, as a mapping {name: column}."""
    return {"income": np.random.default_rng(seed).normal(size=n)}


def _a(x: Any, dtype: Any = float) -> np.ndarray:
    return np.array(x, dtype=dtype)


def _frt(c: Context) -> dict[str, Any]:
    return {
        "frequency": _a([0, 1, 3, 6, 2]),
        "recency": _a([0, 5, 20, 30, 10]),
        "T": _a([30, 30, 40, 40, 25]),
    }


def _bb(c: Context) -> dict[str, Any]:  # BG/BB: discrete opportunities
    return {"frequency": _a([0, 1, 3, 6, 2]), "recency": _a([0, 1, 5, 6, 6]), "T": _a([6] * 5)}


# ===================================================================== functions

#: function name -> builder of the valid arguments (required ones and interesting options)
FUNCTIONS: dict[str, Callable[[Context], dict[str, Any]]] = {
    # --- pyramid
    "abc_analysis": lambda c: {"values": _a(VALUES), "customer_id": np.array(IDS)},
    "customer_priority": lambda c: {
        "values": _a([6.0, 7.5, 3.0]),
        "credit_cost": _a([1.0, 0.5, 0.2]),
        "customer_id": np.array(["X", "Y", "Z"]),
    },
    "customer_pyramid": lambda c: {
        "values": _a(VALUES),
        "customer_id": np.array(IDS),
        "shares": [0.1, 0.2, 0.3, 0.4],
    },
    "expected_credit_cost": lambda c: {
        "amount": _a([10.0, 8.0]),
        "delay": _a([0.5, 0.0]),
        "financing_rate": 0.1,
        "default_probability": _a([0.1, 0.2]),
    },
    "fit_tier_rule": lambda c: {
        "attributes": _a(TIER_ATTRS),
        "tiers": list(TIER_LABELS),
        "names": ["spend", "visits"],
    },
    "gini": lambda c: {"values": _a([5.0, 1.0, 0.0, 10.0])},
    "key_accounts": lambda c: {"values": _a(VALUES), "customer_id": np.array(IDS)},
    "lorenz_curve": lambda c: {"values": _a([1.0, 1.0, 2.0, 6.0])},
    "tier_migration": lambda c: {"before": c.pyramid, "after": c.pyramid2},
    "top_share": lambda c: {"values": _a([80.0, 5.0, 5.0, 5.0, 5.0]), "fraction": 0.2},
    "whale_curve": lambda c: {"profit": _a([100.0, 60.0, 20.0, -30.0, -50.0])},
    # --- clv
    "acquisition_funnel": lambda c: {
        "reach": 5_000_000.0,
        "conversion_rate": _a([1 / 500, 1 / 10, 1 / 20, 1 / 5]),
        "cost_per_head": _a([0, 0, 3, 0]),
        "fixed_cost": 100.0,
    },
    "balance_sheet_between": lambda c: {
        "log": c.numlog,
        "start": 2.0,
        "end": 9.0,
        "window": 3.0,
        "thresholds": [8.0],
    },
    "constant_retention": lambda c: {
        "margin": 100.0,
        "retention_rate": 0.8,
        "discount_rate": 0.1,
        "horizon": 10,
        "timing": "end",
    },
    "customer_equity": lambda c: {
        "values": _a([100.0, 50.0, 25.0]),
        "groups": np.array(["a", "b", "a"]),
    },
    "delivered_value": lambda c: {
        "value": _a([[60, 20, 10, 10], [50, 30, 10, 5]]),
        "cost": _a([[50, 10, 5, 5], [45, 5, 5, 5]]),
        "offerings": ["a", "b"],
    },
    "dwyer_migration": lambda c: {
        "buy_rate": dict(RATES),
        "spend": dict(SPEND),
        "n_customers": 1000.0,
    },
    "dwyer_retention": lambda c: {
        "retention_rate": _a([0.70, 0.80, 0.85]),
        "spend": 100.0,
        "n_customers": 1000.0,
        "horizon": 3,
    },
    "event_ledger": lambda c: {
        "period": _a([1, 1, 2, 3], int),
        "revenue": _a([100, 0, 120, 0]),
        "cost": _a([60, 15, 70, 20]),
        "horizon": 5,
        "discount_rate": 0.1,
        "timing": "end",
    },
    "fit_custom_curve": lambda c: {
        "profit": 5 + 2 * np.log(np.arange(1, 13)),
        "func": _log_curve,
        "p0": [1.0, 1.0],
    },
    "fit_profit_curve": lambda c: {
        "profit": C.phase_growth(np.arange(1, 19), 0.025, 3.40),
        "g1": 24,
        "ceiling": 20.0,
    },
    "historical_value": lambda c: {"log": c.numlog, "freq": 1.0},
    "lifetime_value": lambda c: {
        "profit": _a([100.0, 100.0, 100.0]),
        "discount_rate": 0.1,
        "timing": "start",
    },
    "period_discount_rate": lambda c: {"rate": 0.1, "periods_per_year": 12.0},
    "period_profit": lambda c: {
        "volume": _a([10, 12]),
        "price": _a([5.0, 5.5]),
        "product_cost": _a([20, 24]),
        "indirect_benefit": _a([0, 3]),
    },
    "period_profit_from_log": lambda c: {"log": c.log, "freq": "month", "n_periods": 40},
    "phase_decline": lambda c: {
        "t": _a([37, 38, 39, 40, 41]),
        "g2": 34.0,
        "start_profit": 12.0,
        "h2": 0.25,
    },
    "phase_growth": lambda c: {"t": _a([1, 12, 24]), "h1": 0.025, "v0": 3.40},
    "phase_saturation": lambda c: {
        "t": _a([24, 25, 60]),
        "g1": 24.0,
        "start_profit": 17.8,
        "ceiling": 20.0,
        "speed": 0.5,
    },
    "recency_states": lambda c: {"log": c.numlog, "at": 10.0, "freq": 1.0},
    "recency_value": lambda c: {
        "recency": _a([1, 2, 5], int),
        "buy_rate": _a([0.6, 0.3, 0.1]),
        "spend": 100.0,
        "horizon": 3,
        "discount_rate": 0.05,
        "timing": "end",
    },
    "retention_programme": lambda c: {
        "margin": 95.0,
        "baseline_retention": 0.1,
        "programme_retention": _a([0.5, 0.8]),
        "programme_cost": _a([10.0, 5.0]),
        "n_customers": 10.0,
        "discount_rate": 0.1,
        "timing": "end",
    },
    # --- btyd
    "calibration_holdout_comparison": lambda c: {
        "model": c.bgnbd,
        "summary": c.holdout,
        "max_frequency": 1,
    },
    "fit_bgbb": lambda c: {**_bb(c), "weights": _a([300, 100, 120, 150, 80])},
    "fit_bgnbd": lambda c: {
        "frequency": np.array(c.sim.frequency),
        "recency": np.array(c.sim.recency),
        "T": np.array(c.sim.T),
    },
    "fit_mbgnbd": lambda c: {
        "frequency": np.array(c.sim.frequency),
        "recency": np.array(c.sim.recency),
        "T": np.array(c.sim.T),
    },
    "fit_pareto_nbd": lambda c: {
        "frequency": np.array(c.psim.frequency),
        "recency": np.array(c.psim.recency),
        "T": np.array(c.psim.T),
        "initial": {"r": 0.5, "alpha": 5.0, "s": 0.5, "beta": 10.0},
    },
    "fit_ggomnbd": lambda c: {
        "frequency": np.array(c.gsim.frequency),
        "recency": np.array(c.gsim.recency),
        "T": np.array(c.gsim.T),
    },
    "fit_gamma_gamma": lambda c: {
        "frequency": GG_DATA[0].copy(),
        "monetary_value": GG_DATA[1].copy(),
    },
    "frequency_recency_matrix": lambda c: {
        "model": c.bgnbd,
        "T": 38.86,
        "t": 1.0,
        "quantity": "probability_alive",
        "max_frequency": 3,
        "n_recency": 3,
    },
    "repeat_purchase_histogram": lambda c: {"model": c.bgnbd, "summary": c.sim, "max_frequency": 3},
    "rfm_summary": lambda c: {"log": c.log, "unit": "week", "observation_end": "2024-01-31"},
    "fit_pareto_nbd_correlated": lambda c: {
        "frequency": np.array(c.psim.frequency),
        "recency": np.array(c.psim.recency),
        "T": np.array(c.psim.T),
    },
    "delta_interval": lambda c: {
        "models": c.bgnbd,
        # (extra models, from a perturbed models=, are the caller's own business: ignored)
        "predict": lambda m, *_: m.probability_alive(*_frt(c).values()),
        "scale": "logit",
    },
    "bootstrap": lambda c: {
        "fit": C.fit_bgnbd,
        "frequency": np.array(c.sim.frequency),
        "recency": np.array(c.sim.recency),
        "T": np.array(c.sim.T),
        "n_replications": 4,
        "rng": 3,
        "max_failures": 2,
    },
    "prediction_intervals": lambda c: {
        "model": c.bgnbd,
        **_frt(c),
        "t": 10.0,
        "spend_model": c.gg,
        "monetary_value": _a([10.0, 20.0, 30.0, 40.0, 50.0]),
        "horizon": 6,
        "discount_rate": 0.01,
    },
    # --- rfm
    "rfm_scores": lambda c: {"table": c.rfmtable, "k": 3, "on_collapse": "ignore"},
    "rfm_segments": lambda c: {"scores": c.rfmscores},
    "rfm_table": lambda c: {"log": c.numlog, "analysis_date": 10.0},
    "summarize_rfm": lambda c: {"log": c.numlog, "analysis_date": 10.0},
    # --- frames
    "rfm_table_from_frame": lambda c: {"df": _frame(), "analysis_date": 10.0},
    "summarize_rfm_from_frame": lambda c: {"df": _frame(), "analysis_date": 10.0},
    "to_native": lambda c: {"result": c.rfmtable, "backend": "pandas"},
    "rfm_summary_frame": lambda c: {"frame": _frame(), "observation_end": 10.0},
    "rfm_summary_from_frame": lambda c: {"frame": _frame(), "observation_end": 10.0},
    "score_frame": lambda c: {
        "model": c.bgnbd,
        "frame": _score_frame(),
        "spend_model": c.gg,
        "horizon": 12,
        "discount_rate": 0.01,
    },
    # --- lifecycle
    "churn_rate": lambda c: {"log": c.numlog, "period": 1.0, "inactive_periods": 2},
    "classify_patterns": lambda c: {
        "values": _a(PANEL),
        "customer_id": np.array(list("abcde")),
        "long_stability": 6,
    },
    "classify_stages": lambda c: {"values": _a(PANEL), "customer_id": np.array(list("abcde"))},
    "fit_markov_chain": lambda c: {
        "states": [["new", "active", "active", "lost"], ["new", "lost", "lost", "lost"]],
        "labels": ["new", "active", "lost"],
        "absorbing": ["lost"],
    },
    "fit_sbg": lambda c: {"survivors": _a([1000, 631, 468, 382, 326, 289, 262, 241])},
    "kaplan_meier": lambda c: {
        "durations": _a([1, 2, 2, 3, 5]),
        "observed": np.array([True, True, False, True, False]),
        "groups": np.array(["a", "a", "b", "b", "a"]),
    },
    "map_stages": lambda c: {
        "stages": np.array(["exploration", "stability", "decline"]),
        "source": "four_stage",
        "target": "six_stage",
    },
    "markov_chain": lambda c: {
        "matrix": _a([[0.7, 0.3], [0.0, 1.0]]),
        "labels": ["active", "lost"],
    },
    "recency_chain": lambda c: {"buy_rates": _a([0.5, 0.2])},
    "stage_correspondence": lambda c: {
        "model": C.StageModel("mine", ("trial", "regular", "lapsing")),
        "to_hub": {"trial": "exploration", "regular": "stability", "lapsing": "decline"},
    },
    "stage_history": lambda c: {"values": _a(PANEL)},
    "stages_from_log": lambda c: {"log": c.numlog, "period": 1.0},
    "survival_from_log": lambda c: {
        "log": c.numlog,
        "period": 1.0,
        "inactive_periods": 3,
        "cohort_periods": 12,
    },
    "value_panel": lambda c: {"log": c.numlog, "period": 1.0},
    # --- channels
    "ahp_weights": lambda c: {
        "pairwise": _a([[1, 3, 5], [1 / 3, 1, 3], [1 / 5, 1 / 3, 1]]),
        "criteria": ["sales", "coverage", "service"],
    },
    "entropy_weights": lambda c: {"matrix": _a([[1, 5], [2, 5], [9, 5.5]])},
    "horizontal_comparison": lambda c: {
        "current": _a([120, 105, 99]),
        "previous": _a([100, 100, 90]),
        "candidate_id": np.array(list("ABC")),
    },
    "normalize_weights": lambda c: {"weights": _a([30, 50, 20]), "total": 100.0},
    "quota_attainment": lambda c: {
        "actual": _a([80, 45, 90]),
        "potential": _a([100, 50, 120]),
        "candidate_id": np.array(list("ABC")),
    },
    "rank": lambda c: {"matrix": c.matrix, "method": "topsis"},
    "rank_reversal": lambda c: {"matrix": c.matrix, "method": "topsis"},
    "sales_cost": lambda c: {
        "cost": _a([[30, 10], [25, 20]]),
        "units": _a([100, 150]),
        "sales": _a([500, 800]),
        "candidate_id": np.array(["A", "B"]),
    },
    "sales_forecast": lambda c: {
        "sales": _a([[100, 110, 120, 130], [90, 100, 100, 110]]),
        "traffic": _a([1000, 105]),
        "horizon": 2,
    },
    "score_bands": lambda c: {
        "values": _a([0.5e6, 1e6, 3e6, 9e6]),
        "edges": _a([1e6, 5e6]),
        "scores": _a([1, 3, 5]),
    },
    "score_likert": lambda c: {"responses": _a([[5, 4, 4], [2, 3, 1]])},
    "score_linear": lambda c: {"values": _a([50, 100, 175, 300]), "low": 100.0, "high": 200.0},
    "topsis": lambda c: {"matrix": c.matrix},
    "vertical_comparison": lambda c: {
        "current": _a([110, 90]),
        "previous": _a([100, 100]),
        "candidate_id": np.array(["A", "B"]),
    },
    "vikor": lambda c: {"matrix": c.matrix},
    "weight_sensitivity": lambda c: {"matrix": c.matrix, "grid": 50},
    "weight_stability": lambda c: {"matrix": c.matrix, "n_draws": 50, "rng": 1},
    "weighted_index": lambda c: {
        "matrix": c.matrix,
        "groups": {"outcome": ["sales", "cost"], "service": ["service"]},
        "group_weights": {"outcome": 0.7, "service": 0.3},
    },
    "weighted_product": lambda c: {"matrix": c.matrix},
    "weighted_sum": lambda c: {"matrix": c.matrix},
    # --- datasets
    "generate_transactions": lambda c: {"n_customers": 20, "rng": 3},
    "load_cdnow": lambda c: {"path": _cdnow_file()},
    "load_sample": lambda c: {},
    "sample_path": lambda c: {},
    # --- report
    "customer_report": lambda c: {"log": c.numlog, "sections": ("pyramid", "rfm")},
    # --- plot (custrel.plot: each takes a result and returns a matplotlib Figure)
    "plot_calibration_holdout": lambda c: {
        "comparison": C.calibration_holdout_comparison(c.bgnbd, c.holdout, max_frequency=1)
    },
    "plot_frequency_recency_matrix": lambda c: {
        "matrix": C.frequency_recency_matrix(c.bgnbd, T=38.86, t=1.0, max_frequency=3, n_recency=3)
    },
    "plot_lorenz": lambda c: {"curve": C.lorenz_curve([1.0, 1.0, 2.0, 6.0])},
    "plot_pyramid": lambda c: {"pyramid": c.pyramid},
    "plot_repeat_purchases": lambda c: {
        "histogram": C.repeat_purchase_histogram(c.bgnbd, c.sim, max_frequency=3)
    },
    "plot_rfm_heatmap": lambda c: {"scores": c.rfmscores},
    "plot_stage_mix": lambda c: {"stages": c.stages},
    "plot_survival": lambda c: {"km": c.km, "group_labels": ["first", "second"]},
    "plot_tracking": lambda c: {
        "tracking": c.bgnbd.expected_cumulative_transactions(c.numlog, _a(_TIMES)),
        "kind": "both",
    },
    "plot_value_curve": lambda c: {"values": C.value_panel(c.numlog, period=1.0), "customer": 1},
    # --- user-built value classes (their constructors validate)
    "Criterion": lambda c: {
        "name": "sales",
        "weight": 0.5,
        "direction": "benefit",
        "scale": (0.0, 10.0),
    },
    "KnockOut": lambda c: {"criterion": "sales", "minimum": 1.0, "maximum": 10.0},
    "Partner": lambda c: {"partner_id": "p1", "attributes": {"sales": 3.0, "cost": 2.0}},
    "Customer": lambda c: {"customer_id": "c1", "attributes": {"age": 3}},
    "Transaction": lambda c: {
        "customer_id": "c1",
        "time": 3.0,
        "amount": 10.0,
        "volume": 2.0,
        "product_cost": 4.0,
    },
    "StageModel": lambda c: {"name": "mine", "stages": ("trial", "regular", "lapsing")},
    "StageRules": lambda c: {},
    "SegmentRule": lambda c: {
        "name": "top",
        "recency": (4, 5),
        "frequency": (4, 5),
        "monetary_value": (1, 5),
    },
    "SegmentTable": lambda c: {"rules": list(C.DEFAULT_SEGMENTS.rules), "k": 5},
    "TierStrategy": lambda c: {"tier": C.Tier.GOLD, "role": "keep", "actions": ["call"]},
    "ProfitCurve": lambda c: {
        "h1": 0.025,
        "v": 3.4,
        "g1": 24.0,
        "ceiling": 20.0,
        "speed": 0.5,
        "g2": 34.0,
        "h2": 0.25,
    },
}


def _frame() -> Any:
    import pandas as pd

    return pd.DataFrame(
        {"customer_id": [1, 2, 1, 3], "time": [1.0, 2.0, 7.0, 3.0], "amount": [5.0, 3.0, 2.0, 4.0]}
    )


def _score_frame() -> Any:
    import pandas as pd

    return pd.DataFrame(
        {
            "customer_id": ["a", "b", "c"],
            "frequency": [0.0, 2.0, 5.0],
            "recency": [0.0, 30.43, 35.0],
            "T": [38.86, 38.86, 40.0],
            "monetary_value": [float("nan"), 20.0, 31.0],
        }
    )


def _cdnow_file() -> str:
    import os
    import tempfile

    path = os.path.join(tempfile.gettempdir(), f"custrel-adv-cdnow-{os.getpid()}.txt")
    if not os.path.exists(path):
        with open(path, "w", encoding="ascii") as fh:
            fh.write(
                " 00004 0001 19970101  2   29.33\n 00004 0001 19970118  2   29.73\n"
                " 00005 0001 19970102  1   10.00\n"
            )
    return path


# ======================================================================= methods

#: class name -> the instance whose methods are driven
INSTANCES: dict[str, Callable[[Context], Any]] = {
    "ABCResult": lambda c: C.abc_analysis(VALUES, customer_id=IDS),
    "AHPResult": lambda c: C.ahp_weights([[1, 3], [1 / 3, 1]]),
    "BGBBModel": lambda c: c.bgbb,
    "BGNBDModel": lambda c: c.bgnbd,
    "MBGNBDModel": lambda c: c.mbgnbd,
    "ParetoNBDModel": lambda c: c.pareto,
    "GammaGammaModel": lambda c: c.gg,
    "GGompertzNBDModel": lambda c: c.ggom,
    "BTYDSummary": lambda c: c.summary,
    "BalanceSheet": lambda c: C.balance_sheet_between(
        c.numlog, 2.0, 9.0, window=3.0, thresholds=[8.0]
    ),
    "CLVResult": lambda c: C.lifetime_value(
        [[1.0, 2.0], [3.0, 4.0]], discount_rate=0.1, timing="end"
    ),
    "ChurnResult": lambda c: C.churn_rate(c.numlog, period=1.0, inactive_periods=2),
    "CustomCurveFit": lambda c: c.custom_fit,
    "CustomerEquity": lambda c: C.customer_equity([100.0, 50.0, 25.0], groups=["a", "b", "a"]),
    "CustomerReport": lambda c: c.report,
    "CustomerSummary": lambda c: c.log.summarize(),
    "DecisionMatrix": lambda c: c.matrix,
    "DeliveredValue": lambda c: c.delivered,
    "DwyerResult": lambda c: c.dwyer,
    "DwyerTable": lambda c: C.dwyer_migration(RATES, SPEND, n_customers=1000).table,
    "Exclusions": lambda c: (
        C.weighted_sum(c.matrix, rules=[C.KnockOut("sales", minimum=160.0)]).exclusions
    ),
    "HistoricalValue": lambda c: c.historical,
    "HoldoutComparison": lambda c: C.calibration_holdout_comparison(
        c.bgnbd, c.holdout, max_frequency=1
    ),
    "KaplanMeierResult": lambda c: c.km,
    "KeyAccounts": lambda c: C.key_accounts(VALUES, customer_id=IDS),
    "LorenzCurve": lambda c: C.lorenz_curve([1.0, 1.0, 2.0, 6.0]),
    "MarkovChain": lambda c: c.markov,
    "PatternResult": lambda c: c.patterns,
    "PeriodProfitTable": lambda c: c.period_table,
    "Priority": lambda c: C.customer_priority([6.0, 7.5, 3.0], customer_id=["X", "Y", "Z"]),
    "ProfitCurve": lambda c: c.profit_fit.curve,
    "ProfitCurveFit": lambda c: c.profit_fit,
    "Pyramid": lambda c: c.pyramid,
    "QuotaResult": lambda c: C.quota_attainment([80, 45, 90], [100, 50, 120]),
    "RFMScores": lambda c: c.rfmscores,
    "RFMSegments": lambda c: c.rfmsegments,
    "RFMSummary": lambda c: c.rfmsummary,
    "RFMTable": lambda c: c.rfmtable,
    "RankReversalResult": lambda c: C.rank_reversal(c.matrix, "topsis"),
    "RankingResult": lambda c: c.ranking,
    "RecencyStates": lambda c: C.recency_states(c.numlog, 10.0, freq=1.0),
    "RepeatPurchaseHistogram": lambda c: C.repeat_purchase_histogram(
        c.bgnbd, c.sim, max_frequency=3
    ),
    "ReportTable": lambda c: c.report.tables[0],
    "SBGModel": lambda c: c.sbg,
    "SalesForecastResult": lambda c: C.sales_forecast([[100, 110, 120, 130], [90, 100, 100, 110]]),
    "SegmentTable": lambda c: C.DEFAULT_SEGMENTS,
    "StageCharacteristics": lambda c: C.STAGE_CHARACTERISTICS,
    "StageClassification": lambda c: c.stages,
    "StageHistory": lambda c: c.history,
    "StageModel": lambda c: C.SIX_STAGE,
    "SurvivalCurve": lambda c: c.km.curves[0],
    "TierMigration": lambda c: C.tier_migration(c.pyramid, c.pyramid2),
    "TierRule": lambda c: c.tier_rule,
    "TransactionLog": lambda c: c.log,
    "WeightSensitivityResult": lambda c: C.weight_sensitivity(c.matrix, grid=50),
    "WhaleCurve": lambda c: C.whale_curve([100.0, 60.0, 20.0, -30.0, -50.0]),
    "ParetoNBDCorrelatedModel": lambda c: c.pareto_cor,
    "BootstrapResult": lambda c: c.boot,
    "IntervalResult": lambda c: C.delta_interval(
        c.bgnbd, lambda m: m.probability_alive(*_frt(c).values()), scale="logit"
    ),
    "ParameterSummary": lambda c: c.bgnbd.summary(),
    "PredictionIntervals": lambda c: c.intervals,
    "TrackingResult": lambda c: c.bgnbd.expected_cumulative_transactions(c.numlog, _a(_TIMES)),
}

_BTYD_METHODS: dict[str, Callable[[Context], dict[str, Any]]] = {
    "conditional_expected_purchases": lambda c: {"t": 10.0, **_frt(c)},
    "customer_lifetime_value": lambda c: {
        **_frt(c),
        "spend": _a([10, 20, 30, 40, 50]),
        "horizon": 12,
        "discount_rate": 0.01,
    },
    "customer_log_likelihood": _frt,
    "expected_purchases": lambda c: {"t": _a([1.0, 10.0, 52.0])},
    "from_params": lambda c: {},  # filled per class below
    "probability_alive": _frt,
    "probability_of_purchases": lambda c: {"n": 2, "t": 10.0},
    "simulate": lambda c: {"n_customers": 20, "T": 30.0, "rng": 1},
}

_PARAMS = {
    "BGNBDModel": {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426},
    "MBGNBDModel": {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426},
    "ParetoNBDModel": {"r": 0.55, "alpha": 10.6, "s": 0.61, "beta": 11.7},
    "BGBBModel": {"alpha": 1.2, "beta": 0.75, "gamma": 0.66, "delta": 2.78},
    "GammaGammaModel": {"p": 6.25, "q": 3.74, "gamma": 15.44},
    "GGompertzNBDModel": {
        "r": 0.55313,
        "alpha": 10.5758,
        "b": 0.0000011,
        "s": 0.60682,
        "beta": 0.000013,
    },
}

#: "Class.method" -> builder of the valid arguments (methods without required
#: arguments need no row: their optional arguments are passed with their defaults)
METHODS: dict[str, Callable[[Context], dict[str, Any]]] = {
    "CustomCurveFit.evaluate": lambda c: {"t": _a([1.0, 5.0, 13.0])},
    "CustomCurveFit.present_value": lambda c: {
        "horizon": 12,
        "discount_rate": 0.01,
        "timing": "end",
    },
    "DecisionMatrix.add": lambda c: {
        "other": C.DecisionMatrix.from_arrays(
            [[160.0, 5.0, 4.0]], list(c.matrix.criteria), candidate_id=["E"]
        )
    },
    "DecisionMatrix.column": lambda c: {"name": "sales"},
    "DecisionMatrix.drop": lambda c: {"candidate_id": ["A"]},
    "DecisionMatrix.from_arrays": lambda c: {
        "scores": _a([[1, 2], [2, 1]]),
        "criteria": ["a", "b"],
        "candidate_id": np.array(["X", "Y"]),
    },
    "DecisionMatrix.from_frame": lambda c: {
        "frame": _dm_frame(),
        "criteria": ["a", "b"],
        "id_column": "id",
    },
    "DecisionMatrix.from_records": lambda c: {
        "records": [{"id": "X", "a": 1.0, "b": 2.0}, {"id": "Y", "a": 2.0, "b": 1.0}],
        "criteria": ["a", "b"],
        "id_field": "id",
    },
    "DecisionMatrix.select": lambda c: {"candidate_id": ["A", "C"]},
    "DecisionMatrix.with_weights": lambda c: {"weights": _a([0.2, 0.3, 0.5])},
    "DeliveredValue.compare": lambda c: {"a": "a", "b": "b", "form": "relative"},
    "DwyerTable.row": lambda c: {"period": 3, "segment": "LB"},
    "Exclusions.rules_for": lambda c: {"candidate_id": "B"},
    "GammaGammaModel.conditional_expected_spend": lambda c: {
        "frequency": _a([1, 2, 3]),
        "monetary_value": _a([10.0, 20.0, 15.0]),
    },
    "GammaGammaModel.customer_log_likelihood": lambda c: {
        "frequency": _a([1, 2, 3]),
        "monetary_value": _a([10.0, 20.0, 15.0]),
    },
    "GammaGammaModel.simulate": lambda c: {"frequency": _a([1, 2, 3]), "rng": 1},
    "KaplanMeierResult.curve": lambda c: {"group": "a"},
    "MarkovChain.expected_value": lambda c: {
        "rewards": _a([10.0, 5.0, 0.0]),
        "discount_rate": 0.1,
        "horizon": 12,
    },
    "MarkovChain.index": lambda c: {"state": "active"},
    "MarkovChain.project": lambda c: {"initial": _a([100.0, 0.0, 0.0]), "horizon": 5},
    "MarkovChain.simulate": lambda c: {
        "initial_states": np.array(["new", "active", "new"]),
        "horizon": 5,
        "rng": 1,
    },
    "MarkovChain.steady_state": lambda c: {"initial": _a([1.0, 0.0, 0.0])},
    "ProfitCurve.evaluate": lambda c: {"t": _a([1.0, 12.0, 30.0, 40.0])},
    "ProfitCurve.from_parameters": lambda c: {
        "h1": 0.025,
        "v0": 3.4,
        "g1": 24.0,
        "ceiling": 20.0,
        "speed": 0.5,
    },
    "ProfitCurve.present_value": lambda c: {
        "start": 1,
        "horizon": 24,
        "discount_rate": 0.01,
        "timing": "end",
    },
    "ProfitCurveFit.present_value": lambda c: {
        "horizon": 24,
        "discount_rate": 0.01,
        "timing": "end",
    },
    "ProfitCurveFit.project": lambda c: {"horizon": 6},
    "RFMScores.scores": lambda c: {"dimension": "recency"},
    "RFMScores.weighted_score": lambda c: {"weights": _a([0.5, 0.3, 0.2])},
    "RFMSummary.combine": lambda c: {"summaries": [c.rfmsummary, c.rfmsummary]},
    "RFMSummary.merge": lambda c: {"other": c.rfmsummary},
    "RFMSummary.to_table": lambda c: {"monetary_basis": "sum"},
    "RFMTable.column": lambda c: {"dimension": "frequency"},
    "RFMTable.from_arrays": lambda c: {
        "customer_id": np.array(list("abc")),
        "recency": _a([1, 5, 30]),
        "frequency": _a([9, 4, 1]),
        "monetary_value": _a([500, 120, 20]),
    },
    "RankingResult.explain": lambda c: {"a": "A", "b": "B"},
    "RankingResult.top": lambda c: {"k": 2},
    "SBGModel.derl": lambda c: {"discount_rate": 0.1, "renewals": 2},
    "SBGModel.discounted_expected_lifetime": lambda c: {"discount_rate": 0.1},
    "SBGModel.project": lambda c: {"horizon": 9, "cohort_size": 1000.0},
    "SBGModel.retention_rate": lambda c: {"t": _a([1, 2, 3], int)},
    "SBGModel.survival": lambda c: {"t": _a([0, 1, 2, 3], int)},
    "StageCharacteristics.describe": lambda c: {
        "aspect": C.STAGE_CHARACTERISTICS.aspects[0],
        "stage": C.STAGE_CHARACTERISTICS.model.stages[0],
    },
    "StageClassification.stages_in": lambda c: {"target": "six_stage"},
    "StageModel.index": lambda c: {"stage": "growth"},
    "SurvivalCurve.survival_at": lambda c: {"t": _a([0.5, 2.0, 10.0])},
    "TierRule.accuracy": lambda c: {
        "attributes": _a(TIER_ATTRS),
        "tiers": _a([2, 2, 3, 3, 4, 4], int),
    },
    "TierRule.predict": lambda c: {"attributes": _a([[500, 4], [20, 1]])},
    "TransactionLog.between": lambda c: {"start": "2021-06-01", "end": "2022-06-01"},
    "TransactionLog.concat": lambda c: {"logs": [c.numlog, c.numlog]},
    "TransactionLog.elapsed": lambda c: {"unit": "week", "since": "2021-01-01"},
    "TransactionLog.from_arrays": lambda c: {
        "customer_id": np.array([1, 1, 2, 3]),
        "time": _a([0.0, 1.0, 2.0, 3.0]),
        "amount": _a([5.0, 6.0, 7.0, 8.0]),
        "volume": _a([1.0, 2.0, 1.0, 1.0]),
    },
    "TransactionLog.from_csv": lambda c: {"path": _csv_file()},
    "TransactionLog.from_frame": lambda c: {"df": _frame()},
    "TransactionLog.from_records": lambda c: {
        "records": [
            {"customer_id": 1, "time": 0.0, "amount": 5.0},
            {"customer_id": 2, "time": 1.0, "amount": 6.0},
        ]
    },
    "TransactionLog.period_index": lambda c: {"freq": "month", "origin": "2021-01-01"},
    "TransactionLog.summarize": lambda c: {"observation_end": "2024-01-31", "period": "day"},
    "TransactionLog.take": lambda c: {"rows": _a([0, 2, 5], int)},
    "TransactionLog.to_csv": lambda c: {"path": _out_file()},
    "TransactionLog.to_frame": lambda c: {"backend": "pandas"},
    "TransactionLog.to_time_float": lambda c: {"value": "2022-01-01"},
    "TransactionLog.unit_length": lambda c: {"unit": "week"},
}

for _cls in ("BGNBDModel", "MBGNBDModel", "ParetoNBDModel", "BGBBModel", "GGompertzNBDModel"):
    for _m, _b in _BTYD_METHODS.items():
        METHODS.setdefault(f"{_cls}.{_m}", _b)
    METHODS[f"{_cls}.from_params"] = lambda c, _k=_cls: {"params": dict(_PARAMS[_k])}
for _m in (
    "conditional_expected_purchases",
    "customer_lifetime_value",
    "customer_log_likelihood",
    "probability_alive",
):
    METHODS[f"BGBBModel.{_m}"] = lambda c, _f=_BTYD_METHODS[_m]: {**_f(c), **_bb(c)}
METHODS["BGBBModel.conditional_expected_purchases"] = lambda c: {"t": 5, **_bb(c)}
METHODS["BGBBModel.expected_purchases"] = lambda c: {"t": _a([1, 5, 10], int)}
METHODS["BGBBModel.probability_of_purchases"] = lambda c: {"n": 2, "t": 5}
METHODS["BGBBModel.simulate"] = lambda c: {"n_customers": 20, "T": 6, "rng": 1}
METHODS["GammaGammaModel.from_params"] = lambda c: {"params": dict(_PARAMS["GammaGammaModel"])}
METHODS["GammaGammaModel.expected_spend"] = lambda c: {}  # (the covariate model's takes rows)

# -- this session's prediction methods, on every repeat-purchase model -------------------

_TIMES = (2.0, 5.0, 10.0)  # a grid inside numlog's span (times 0..9.5, 5 customers)

_NEW_BTYD_METHODS: dict[str, Callable[[Context], dict[str, Any]]] = {
    "conditional_probability_of_purchases": lambda c: {
        "n": _a([0, 1, 2, 1, 0]),
        "t": 10.0,
        **_frt(c),
    },
    "discounted_expected_residual_transactions": lambda c: {**_frt(c), "discount_rate": 0.01},
    "expected_cumulative_transactions": lambda c: {"log": c.numlog, "times": _a(_TIMES)},
    "probability_alive_path": lambda c: {"log": c.numlog, "times": _a(_TIMES)},
    "new_customer_expected_purchases": lambda c: {"t": _a([1.0, 10.0])},
    "new_customer_probability_alive": lambda c: {"t": _a([1.0, 10.0])},
    "prediction_intervals": lambda c: {**_frt(c), "t": 10.0},
}
_NEW_BGBB_METHODS: dict[str, Callable[[Context], dict[str, Any]]] = {
    "conditional_probability_of_purchases": lambda c: {"n": _a([0, 1, 2, 1, 0]), "t": 5, **_bb(c)},
    "discounted_expected_residual_transactions": lambda c: {**_bb(c), "discount_rate": 0.01},
    "expected_cumulative_transactions": lambda c: {
        "log": c.log,
        "times": np.array(["2022-06-01", "2023-01-01"], dtype="datetime64[D]"),
        "unit": "week",
        "period": "week",
    },
    "probability_alive_path": lambda c: {
        "log": c.log,
        "times": np.array(["2022-06-01", "2023-01-01"], dtype="datetime64[D]"),
        "unit": "week",
        "period": "week",
    },
    "new_customer_expected_purchases": lambda c: {"t": _a([1, 5], int)},
    "new_customer_probability_alive": lambda c: {"t": _a([1, 5], int)},
    "prediction_intervals": lambda c: {**_bb(c), "t": 5},
}
_PARAMS["ParetoNBDCorrelatedModel"] = {**_PARAMS["ParetoNBDModel"], "correlation": 0.01}
INSTANCE_OF = {  # model class -> Context attribute of its fitted instance
    "BGNBDModel": "bgnbd",
    "MBGNBDModel": "mbgnbd",
    "ParetoNBDModel": "pareto",
    "BGBBModel": "bgbb",
    "GGompertzNBDModel": "ggom",
    "GammaGammaModel": "gg",
    "ParetoNBDCorrelatedModel": "pareto_cor",
}
for _m, _b in _BTYD_METHODS.items():
    METHODS.setdefault(f"ParetoNBDCorrelatedModel.{_m}", _b)
METHODS["ParetoNBDCorrelatedModel.from_params"] = lambda c: {
    "params": dict(_PARAMS["ParetoNBDCorrelatedModel"])
}
for _cls in (
    "BGNBDModel",
    "MBGNBDModel",
    "ParetoNBDModel",
    "BGBBModel",
    "GGompertzNBDModel",
    "ParetoNBDCorrelatedModel",
):
    for _m, _b in (_NEW_BGBB_METHODS if _cls == "BGBBModel" else _NEW_BTYD_METHODS).items():
        METHODS[f"{_cls}.{_m}"] = _b
for _cls, _attr in INSTANCE_OF.items():  # with_params: the model's own keys, other values
    METHODS[f"{_cls}.with_params"] = lambda c, _at=_attr: {
        "params": {k: v * 1.01 for k, v in getattr(c, _at).params.items()}
    }

# -- covariate models: the plain family's calls plus covariates, one row per customer -----

#: covariate model class -> (its plain family, the Context attribute of a fitted one);
#: classes not (yet) exported by custrel are skipped (their fit is still driven: +cov)
COVARIATE_MODELS = {
    "BGNBDCovariateModel": ("BGNBDModel", "bgnbd_cov"),
    "GGompertzNBDCovariateModel": ("GGompertzNBDModel", "ggom_cov"),
    "ParetoNBDCovariateModel": ("ParetoNBDModel", "pareto_cov"),
    "GammaGammaCovariateModel": ("GammaGammaModel", "gg_cov"),
}


def _rows_of(args: dict[str, Any]) -> int:
    """The customers a call's covariates must have one row for."""
    for key in ("frequency", "t", "n"):
        if key in args and np.ndim(args[key]) == 1:
            return len(args[key])
    if "n_customers" in args:
        return int(args["n_customers"])
    if "log" in args:
        return int(args["log"].n_customers)
    return 1


def _with_covariates(
    cls: str, method: str, base: Callable[[Context], dict[str, Any]]
) -> Callable[[Context], dict[str, Any]]:
    def build(c: Context) -> dict[str, Any]:
        args = base(c)
        sig = inspect.signature(getattr(getattr(C, cls), method))
        n = _rows_of(args)
        takes_options = any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values())
        if "purchase_covariates" in sig.parameters or (takes_options and "Gamma" not in cls):
            args.update(_covariates(n))
        elif "covariates" in sig.parameters:
            args["covariates"] = _spend_covariates(n)
        return args

    return build


for _cls, (_plain, _attr) in COVARIATE_MODELS.items():
    if _cls not in C.__all__:
        continue
    INSTANCES[_cls] = lambda c, _at=_attr: getattr(c, _at)
    for _qual, _b in list(METHODS.items()):
        if _qual.startswith(f"{_plain}.") and not _qual.endswith((".from_params", ".with_params")):
            _m = _qual.split(".", 1)[1]
            METHODS[f"{_cls}.{_m}"] = _with_covariates(_cls, _m, _b)
    METHODS[f"{_cls}.from_params"] = lambda c, _at=_attr: {"params": dict(getattr(c, _at).params)}
    METHODS[f"{_cls}.with_params"] = lambda c, _at=_attr: {
        "params": {k: v * 1.01 for k, v in getattr(c, _at).params.items()}
    }
    METHODS[f"{_cls}.coefficients"] = lambda c, _cl=_cls: {
        "process": "spend" if _cl == "GammaGammaCovariateModel" else "purchase"
    }

# -- the uncertainty API's results ---------------------------------------------------------

METHODS.update(
    {
        "BootstrapResult.interval": lambda c: {
            "predict": lambda m: m.conditional_expected_purchases(10.0, *_frt(c).values()),
            "level": 0.9,
        },
        "ParameterSummary.get": lambda c: {"key": "r"},
        "ParameterSummary.wald": lambda c: {"model": c.bgnbd, "level": 0.9},
    }
)


def _dm_frame() -> Any:
    import pandas as pd

    return pd.DataFrame({"id": ["X", "Y"], "a": [1.0, 2.0], "b": [2.0, 1.0]})


def _csv_file() -> str:
    import os
    import tempfile

    path = os.path.join(tempfile.gettempdir(), f"custrel-adv-log-{os.getpid()}.csv")
    if not os.path.exists(path):
        with open(path, "w", encoding="ascii") as fh:
            fh.write(
                "customer_id,time,amount\na,2024-01-01,5.0\nb,2024-01-03,7.5\na,2024-02-01,3.0\n"
            )
    return path


def _out_file() -> str:
    import os
    import tempfile

    return os.path.join(tempfile.gettempdir(), f"custrel-adv-out-{os.getpid()}.csv")


# ============================================== time-varying covariates (when exported)


def _dyn_tables(n: int = 80, weeks: int = 26, seed: int = 3) -> dict[str, Any]:
    """A Pareto/NBD-like log (weekly, ids 0..n-1) and a weekly 'sale' covariate table."""
    rng = np.random.default_rng(seed)
    periods = weeks + 16  # covariates run 16 weeks past calibration_end (predictions)
    grid = np.datetime64("2024-01-01") + 7 * np.arange(periods)
    sale = (np.arange(periods) % 4 >= 2).astype(float)
    lam = rng.gamma(0.8, 1 / 4.0, n)  # purchases per week
    mu = rng.gamma(0.8, 1 / 30.0, n)  # dropouts per week
    ids: list[int] = []
    days: list[int] = []
    for i in range(n):  # (a bounded loop: purchases stop at the window's end)
        start = float(rng.integers(0, 8)) * 7
        end = min(start + rng.exponential(1 / mu[i]) * 7, 7.0 * (weeks - 1))
        t, times = start, [start]
        while (t := t + rng.exponential(1 / lam[i]) * 7) <= end:
            times.append(t)
        ids += [i] * len(times)
        days += [int(x) for x in times]
    return {
        "customer_id": np.array(ids),
        "date": (np.datetime64("2024-01-01") + np.array(days)).astype("datetime64[D]"),
        "covariates": {
            "customer_id": np.repeat(np.arange(n), periods),
            "date": np.tile(grid, n),
            "sale": np.tile(sale, n),
        },
        "calibration_end": str(grid[weeks - 1]),
    }


_DYN_PARAMS = {"r": 0.94, "alpha": 4.77, "s": 5.05, "beta": 203.0, "purchase.sale": 0.08}


def _dyn_data(c: Context) -> Any:
    if "dyn" not in c.__dict__:
        c.__dict__["dyn"] = C.dynamic_covariate_data(**_dyn_tables())
    return c.__dict__["dyn"]


def _dyn_model(c: Context) -> Any:
    """A fitted model (about 1 s: r 0.94, alpha 4.8, s 5.0, beta 203, sale 0.08 / 0.55)."""
    if "dyn_model" not in c.__dict__:
        c.__dict__["dyn_model"] = C.fit_pareto_nbd_dyncov(_dyn_data(c))
    return c.__dict__["dyn_model"]


if "dynamic_covariate_data" in C.__all__:
    FUNCTIONS["dynamic_covariate_data"] = lambda c: _dyn_tables()
if "fit_pareto_nbd_dyncov" in C.__all__:
    FUNCTIONS["fit_pareto_nbd_dyncov"] = lambda c: {
        "data": _dyn_data(c),
        "purchase_covariates": ["sale"],
        "dropout_covariates": ["sale"],
    }
if "ParetoNBDDynCovModel" in C.__all__:
    INSTANCES["ParetoNBDDynCovModel"] = _dyn_model
    METHODS.update(
        {
            "ParetoNBDDynCovModel.customer_log_likelihood": lambda c: {"data": _dyn_data(c)},
            "ParetoNBDDynCovModel.probability_alive": lambda c: {"data": _dyn_data(c)},
            "ParetoNBDDynCovModel.expected_purchases": lambda c: {
                "data": _dyn_data(c),
                "t": 10.0,
            },
            "ParetoNBDDynCovModel.conditional_expected_purchases": lambda c: {
                "data": _dyn_data(c),
                "t": 10.0,
            },
            "ParetoNBDDynCovModel.discounted_expected_purchases": lambda c: {
                "data": _dyn_data(c),
                "t": 10.0,
                "discount_rate": 0.01,
            },
            "ParetoNBDDynCovModel.expected_cumulative_transactions": lambda c: {
                "data": _dyn_data(c),
                "times": np.array(["2024-03-01", "2024-06-01"], dtype="datetime64[D]"),
            },
            "ParetoNBDDynCovModel.from_params": lambda c: {"params": dict(_DYN_PARAMS)},
            "ParetoNBDDynCovModel.with_params": lambda c: {
                "params": {k: v * 1.01 for k, v in _dyn_model(c).params.items()}
            },
        }
    )
if "DynamicCovariateData" in C.__all__:
    INSTANCES["DynamicCovariateData"] = _dyn_data


# ======================================================================= variants


def _bootstrap(
    fit: Callable[..., Any],
    frequency: Any,
    recency: Any,
    T: Any,
    *,
    n_replications: int = 200,
    rng: Any = None,
    weights: Any = None,
    max_failures: int | None = None,
    threads: int | None = None,
    **fit_kwargs: Any,
) -> Any:
    """``bootstrap(fit, *columns, ...)`` with the columns named, so each is perturbed."""
    return C.bootstrap(
        fit,
        frequency,
        recency,
        T,
        n_replications=n_replications,
        rng=rng,
        weights=weights,
        max_failures=max_failures,
        threads=threads,
        **fit_kwargs,
    )


#: public function -> the callable the suite calls instead (same arguments, but named)
TARGETS: dict[str, Callable[..., Any]] = {"bootstrap": _bootstrap}


def _pnbd_constrained(c: Context) -> dict[str, Any]:
    z = np.random.default_rng(8).normal(size=(len(c.psim.frequency), 2))
    return {
        "frequency": np.array(c.psim.frequency),
        "recency": np.array(c.psim.recency),
        "T": np.array(c.psim.T),
        "purchase_covariates": z.copy(),
        "dropout_covariates": z[:, :1].copy(),
        "constraints": ["x1"],
    }


#: second valid calls of a public function or method, for options that change the path
#: it takes (covariate fits, bootstrap intervals): "name+what" -> (public name, builder)
VARIANTS: dict[str, tuple[str, Callable[[Context], dict[str, Any]]]] = {
    "fit_bgnbd+cov": (
        "fit_bgnbd",
        lambda c: {**FUNCTIONS["fit_bgnbd"](c), **_covariates(len(c.sim.frequency))},
    ),
    "fit_ggomnbd+cov": (
        "fit_ggomnbd",
        lambda c: {
            **FUNCTIONS["fit_ggomnbd"](c),
            **_covariates(len(c.gsim.frequency)),
            "reg_lambdas": {"purchase": 0.5, "dropout": 0.5},
        },
    ),
    "fit_pareto_nbd+cov": ("fit_pareto_nbd", _pnbd_constrained),
    "fit_gamma_gamma+cov": (
        "fit_gamma_gamma",
        lambda c: {
            **FUNCTIONS["fit_gamma_gamma"](c),
            "covariates": _spend_covariates(len(GG_DATA[0])),
            "reg_lambda": 0.1,
        },
    ),
    "bootstrap+cov": (
        "bootstrap",
        lambda c: {**FUNCTIONS["bootstrap"](c), **_covariates(len(c.sim.frequency))},
    ),
    "delta_interval+pair": (
        "delta_interval",
        lambda c: {
            "models": (c.bgnbd, c.gg),
            "predict": lambda m, g, *_: (
                m.conditional_expected_purchases(10.0, *_frt(c).values())
                * g.conditional_expected_spend(_a([1, 1, 3, 6, 2]), _a([10, 20, 30, 40, 50]))
            ),
            "scale": "log",
        },
    ),
    "prediction_intervals+bootstrap": (
        "prediction_intervals",
        lambda c: {
            "model": c.bgnbd,
            **_frt(c),
            "t": 10.0,
            "method": "bootstrap",
            "bootstrap": c.boot,
        },
    ),
    "prediction_intervals+cov": (
        "prediction_intervals",
        lambda c: {"model": c.bgnbd_cov, **_frt(c), "t": 10.0, **_covariates(5)},
    ),
    "BGNBDModel.expected_cumulative_transactions+calendar": (
        "BGNBDModel.expected_cumulative_transactions",
        lambda c: {
            "log": c.log,
            "times": np.array(["2022-06-01", "2023-01-01"], dtype="datetime64[D]"),
            "unit": "week",
            "calibration_end": "2022-01-01",
        },
    ),
    "BGNBDModel.probability_alive_path+calendar": (
        "BGNBDModel.probability_alive_path",
        lambda c: {
            "log": c.log,
            "times": np.array(["2022-06-01", "2023-01-01"], dtype="datetime64[D]"),
            "unit": "week",
        },
    ),
}


# ======================================================================== exempt

_ABSTRACT = "abstract base class: its methods are driven through each concrete model"
_RESULT = (
    "result value built by library functions (its constructor is not an entry "
    "point); its public methods are driven"
)

#: public names (or "Class.method") that are not driven, with the reason
EXEMPT: dict[str, str] = {
    "BTYDModel": _ABSTRACT,
    "RepeatPurchaseModel": _ABSTRACT,
    "TransactionLog": "constructor takes internal codes; users call from_arrays/from_frame/"
    "from_csv/from_records (driven)",
    "DecisionMatrix": "constructor holds validated arrays; users call from_arrays/from_frame/"
    "from_records (driven)",
    "MarkovChain": "built by markov_chain / fit_markov_chain / recency_chain (driven)",
    "CustomerReport.save": "writes files at the given path (the path is not perturbed)",
    "TransactionLog.to_csv": "writes a file at the given path (the path is not perturbed); "
    "driven by the CLI tests",
}


def _public_methods(cls: type) -> list[str]:
    out = []
    for m in dir(cls):
        if m.startswith("_"):
            continue
        static = inspect.getattr_static(cls, m)
        if isinstance(static, property) or not callable(getattr(cls, m)):
            continue
        if attrs.has(cls) and m in {"evolve"}:
            continue
        out.append(m)
    return out


def public_names() -> dict[str, Any]:
    """Every public callable name -> object (functions and classes; not errors/enums)."""
    out: dict[str, Any] = {}
    for name in C.__all__:
        obj = getattr(C, name)
        if not callable(obj):
            continue
        if isinstance(obj, type) and (issubclass(obj, BaseException | Warning | enum.Enum)):
            continue
        out[name] = obj
    for name in _plot().__all__:  # the figures: custrel.plot.plot_*
        out[name] = getattr(_plot(), name)
    return out


def required_method_names() -> list[str]:
    """``Class.method`` for every public method of every public class."""
    names: list[str] = []
    for name, obj in public_names().items():
        if isinstance(obj, type) and name not in {"BTYDModel", "RepeatPurchaseModel"}:
            names.extend(f"{name}.{m}" for m in _public_methods(obj))
    return names


# ========================================================================= entries


@attrs.frozen
class Entry:
    """One valid call: the callable and its arguments, built from a Context."""

    name: str
    target: Callable[[Context], Any]
    args: Callable[[Context], dict[str, Any]]
    unbound: Any = None

    def has_parameters(self) -> bool:
        """Whether the signature has any argument the suite could perturb."""
        import adv_perturb as pt

        try:
            sig = inspect.signature(self.unbound)
        except (TypeError, ValueError):
            return True
        return any(
            p.name not in pt.SKIP_PARAMS and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
            for p in sig.parameters.values()
        )

    def build(self, ctx: Context) -> tuple[Any, dict[str, Any]]:
        fn = self.target(ctx)
        args = dict(self.args(ctx))
        try:
            sig = inspect.signature(fn)
        except (TypeError, ValueError):
            return fn, args
        import adv_perturb as pt

        for p in sig.parameters.values():
            if p.name in args or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                continue
            if p.name == "threads":  # passed explicitly so that it is perturbed too
                args[p.name] = 2
                continue
            if p.default is p.empty or p.default is None or p.name in pt.SKIP_PARAMS:
                continue
            if isinstance(p.default, float) and not np.isfinite(p.default):
                continue
            args[p.name] = p.default
        return fn, args


def _class_attr(cls: type, method: str) -> Callable[[Context], Any]:
    def target(ctx: Context) -> Any:
        return getattr(cls, method)

    return target


def _instance_attr(name: str, method: str) -> Callable[[Context], Any]:
    def target(ctx: Context) -> Any:
        return getattr(INSTANCES[name](ctx), method)

    return target


def _build_entries() -> dict[str, Entry]:
    entries: dict[str, Entry] = {}
    names = public_names()
    for name, builder in FUNCTIONS.items():
        if name not in names:
            continue  # reported by test_registry (a name that is no longer public)
        obj = names[name]
        key = f"{public_module(name)}.{name}"
        call = TARGETS.get(name, obj)
        entries[key] = Entry(key, lambda c, _o=call: _o, builder, obj)
    for variant, (name, builder) in VARIANTS.items():
        base = name.split(".", 1)[0]
        if base in names:  # else reported through FUNCTIONS / METHODS
            key = f"{public_module(base)}.{variant}"
            if "." in name:
                cls, m = name.split(".", 1)
                target = _instance_attr(cls, m)
                entries[key] = Entry(key, target, builder, getattr(names[cls], m))
            else:
                call = TARGETS.get(name, names[name])
                entries[key] = Entry(key, lambda c, _o=call: _o, builder, names[name])
    for name in sorted(names):
        obj = names[name]
        if not isinstance(obj, type) or name in {"BTYDModel", "RepeatPurchaseModel"}:
            continue
        for m in _public_methods(obj):
            qual = f"{name}.{m}"
            if qual in EXEMPT:
                continue
            key = f"{public_module(name)}.{qual}"
            is_class_method = isinstance(inspect.getattr_static(obj, m), classmethod | staticmethod)
            if is_class_method:
                target = _class_attr(obj, m)
            elif name in INSTANCES:
                target = _instance_attr(name, m)
            else:
                continue  # reported by test_registry
            entries[key] = Entry(key, target, METHODS.get(qual, lambda c: {}), getattr(obj, m))
    return entries


ENTRIES: dict[str, Entry] = _build_entries()


def describe_params(entry: str, ctx: Context) -> dict[str, Any]:
    """Perturbable parameters of an entry: [(name, kind, length)] (worker side)."""
    import adv_perturb as pt

    _fn, args = ENTRIES[entry].build(ctx)
    params = []
    for name, value in args.items():
        kind = pt.kind_of(name, value)
        if kind is None:
            continue
        if kind in {"array", "ids", "dates", "matrix"} and len(value) == 0:
            kind = "object"
        n = len(value) if kind in {"array", "ids", "dates", "matrix"} else 1
        params.append((name, kind, n))
    return {"status": "ok", "params": params}


def entry_module(entry: str) -> str:
    """The public module an entry belongs to (the first part of its name)."""
    return entry.split(".", 1)[0]
