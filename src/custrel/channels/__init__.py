"""Channel-partner selection and partner performance evaluation (domain notes §5).

Choosing distributors and dealers is a multi-criteria decision: design the
criteria, find candidates, score them, decide. This module covers the whole
path, with what general decision-analysis libraries leave out:

* a :class:`DecisionMatrix` of candidates × :class:`Criterion` (name, weight,
  direction, optional fixed scale, optional hard thresholds), built from
  arrays, records (:class:`Partner` or mappings) or a dataframe;
* **eligibility**: knock-out rules (:class:`KnockOut` and each criterion's
  ``minimum``/``maximum``) remove candidates *before* ranking, and every
  result records who was excluded by which rule (:class:`Exclusions`);
* an explicit **missing-score policy** (``missing="raise" | "exclude" |
  "worst" | "impute"``); the default raises, so nothing is filled silently;
* **selection methods** returning a :class:`RankingResult` with each
  criterion's contribution to each score: :func:`weighted_sum` (the
  textbook's weighted, "forced" scoring), :func:`weighted_product`,
  :func:`topsis` and :func:`vikor`, with set-relative normalisations
  (min-max, vector, sum, max) beside ``"scale"``, which uses each criterion's
  fixed scale so that adding or removing a candidate cannot reverse the ranks
  of two others;
* a deterministic **tie policy**: tied candidates share the best rank of
  their group (competition ranking "1224"), are listed in the order of their
  ``candidate_id`` and are reported in :attr:`RankingResult.ties`;
* **weights**: direct (:func:`normalize_weights`), AHP pairwise comparisons
  with Saaty's consistency ratio gated at 0.1 (:func:`ahp_weights`) and
  entropy weights (:func:`entropy_weights`);
* **scoring functions** that turn raw attributes into scores
  (:func:`score_linear`, :func:`score_bands`, :func:`score_likert`);
* **sensitivity**: rank stability under seeded weight perturbation
  (:func:`weight_stability`), the smallest weight change that changes the
  winner (:func:`weight_sensitivity`) and rank reversal when a candidate is
  added or removed (:func:`rank_reversal`);
* the textbook's **sales-volume** (:func:`sales_forecast`) and **sales-cost**
  (:func:`sales_cost`) analyses, and **performance evaluation** of existing
  partners (:func:`vertical_comparison`, :func:`horizontal_comparison`,
  :func:`quota_attainment`);
* grouped weighted indices (:func:`weighted_index`) for the sales-staff
  evaluation (outcome and behaviour measures) and the CRM-capability index.

"Domain notes §5" is the documentation's section on channel partners
(:ref:`domain-5`).

Weights policy
--------------
Criterion weights are importances: they must be finite and >= 0 with at least
one positive, and every method divides them by their sum before use (all four
methods rank identically under a common rescaling of the weights). The weights
actually used are recorded in each result. Where the total matters to you (for
example weights typed in as shares of 100), pass the intended total to
:func:`normalize_weights`, which raises when they do not add up.

Examples
--------
>>> from custrel.channels import Criterion, DecisionMatrix, weighted_sum
>>> m = DecisionMatrix.from_arrays(
...     [[8, 6], [6, 9], [7, 7]],
...     [Criterion("coverage", weight=0.6), Criterion("cooperation", weight=0.4)],
...     candidate_id=["A", "B", "C"],
... )
>>> r = weighted_sum(m, normalization="none")
>>> r.ranking().tolist(), np.round(r.score, 2).tolist()
(['A', 'B', 'C'], [7.2, 7.2, 7.0])
>>> r.rank.tolist(), r.ties
([1, 1, 3], (('A', 'B'),))
>>> {k: round(d, 2) for k, d in r.explain("A", "C").items()}
{'coverage': 0.6, 'cooperation': -0.4}
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from custrel.channels import _common
from custrel.channels._evaluation import (
    HorizontalResult,
    IndexResult,
    QuotaResult,
    SalesCostResult,
    SalesForecastResult,
    VerticalResult,
    horizontal_comparison,
    quota_attainment,
    sales_cost,
    sales_forecast,
    vertical_comparison,
    weighted_index,
)
from custrel.channels._matrix import (
    Criterion,
    DecisionMatrix,
    Exclusions,
    KnockOut,
    Partner,
)
from custrel.channels._methods import (
    RankingResult,
    rank,
    topsis,
    vikor,
    weighted_product,
    weighted_sum,
)
from custrel.channels._scoring import (
    score_bands,
    score_likert,
    score_linear,
)
from custrel.channels._sensitivity import (
    RankReversalResult,
    StabilityResult,
    WeightSensitivityResult,
    rank_reversal,
    weight_sensitivity,
    weight_stability,
)
from custrel.channels._weights import (
    AHPResult,
    EntropyResult,
    ahp_weights,
    entropy_weights,
    normalize_weights,
)

# Importable from here before the module became a package (kept for callers).
from custrel.errors import ConsistencyWarning as ConsistencyWarning

__all__ = [
    "METHODS",
    "NORMALIZATIONS",
    "RANDOM_INDEX",
    "AHPResult",
    "Criterion",
    "DecisionMatrix",
    "EntropyResult",
    "Exclusions",
    "HorizontalResult",
    "IndexResult",
    "KnockOut",
    "Partner",
    "QuotaResult",
    "RankReversalResult",
    "RankingResult",
    "SalesCostResult",
    "SalesForecastResult",
    "StabilityResult",
    "VerticalResult",
    "WeightSensitivityResult",
    "ahp_weights",
    "entropy_weights",
    "horizontal_comparison",
    "normalize_weights",
    "quota_attainment",
    "rank",
    "rank_reversal",
    "sales_cost",
    "sales_forecast",
    "score_bands",
    "score_likert",
    "score_linear",
    "topsis",
    "vertical_comparison",
    "vikor",
    "weight_sensitivity",
    "weight_stability",
    "weighted_index",
    "weighted_product",
    "weighted_sum",
]

#: The selection methods :func:`rank` dispatches to.
METHODS: tuple[str, ...] = _common.METHODS
#: The normalisations the scoring methods accept.
NORMALIZATIONS: tuple[str, ...] = _common.NORMALIZATIONS
#: Saaty's random consistency index RI by matrix order n = 1 … 15
#: (Saaty 1980 for n <= 10; Saaty 1994 for 11 … 15).
RANDOM_INDEX: Mapping[int, float] = _common.RANDOM_INDEX


# The public names live in private submodules (values, methods, weights, scoring,
# sensitivity, evaluation) but belong to this module: its name is theirs in reprs,
# pickles, the reference and the docstring examples (which run in this namespace).
def _adopt(obj: object) -> None:
    if getattr(obj, "__module__", "").startswith(__name__ + "."):
        obj.__module__ = __name__
        if isinstance(obj, type):  # methods too, so that their examples run here
            for member in vars(obj).values():
                inner = getattr(member, "__func__", None) or getattr(member, "fget", None)
                for fn in (member, inner):
                    if callable(fn) and getattr(fn, "__module__", "").startswith(__name__ + "."):
                        fn.__module__ = __name__


for _name in __all__:
    _adopt(globals()[_name])
del _name
_ = np  # the docstring examples use np
