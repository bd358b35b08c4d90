r"""Relationship lifecycle: stages, patterns, churn and survival, sBG retention, Markov migration.

Where is each customer in its relationship, and how long do relationships
last (domain notes §4 and §2.8)?

* **Stage models** (:data:`~custrel.models.FOUR_STAGE` and the five others of
  domain notes §4) are related through :data:`STAGE_CORRESPONDENCES` and
  :func:`map_stages`; users define their own with :func:`stage_correspondence`.
  The four-stage characteristics table is data: :data:`STAGE_CHARACTERISTICS`.
* **Stage classification** (:func:`classify_stages`, :func:`stage_history`,
  :func:`stages_from_log`) reads a customers × periods panel of value, profit
  or volume (:func:`value_panel` builds one from a log), smoothed over a
  window that scales with each customer's purchase gap, with hysteresis, and
  tells lapsed customers (ended relationships, :data:`LAPSED`) from
  declining ones.
* **Lifecycle patterns** I–IV of ended relationships: :func:`classify_patterns`.
* **Churn and survival**: :func:`churn_rate` (mean lifetime = 1 / churn),
  :func:`kaplan_meier` and :func:`survival_from_log` (per acquisition cohort,
  right-censored).
* **Contractual retention**: the shifted-beta-geometric model, :func:`fit_sbg`.
* **Markov migration**: :func:`fit_markov_chain`, :func:`markov_chain`,
  :func:`recency_chain` (Pfeifer & Carraway 2000).

"Domain notes §4" and "§2.8" are the documentation's sections on the
lifecycle (:ref:`domain-4`) and on retention economics (:ref:`domain-2-8`).

References
----------
- Dwyer, F. R., Schurr, P. H. & Oh, S. (1987). Developing buyer-seller
  relationships. *Journal of Marketing* 51(2), 11-27.
- Fader, P. S. & Hardie, B. G. S. (2007). How to project customer
  retention. *Journal of Interactive Marketing* 21(1), 76-90.
- Fader, P. S. & Hardie, B. G. S. (2010). Customer-base valuation in a
  contractual setting: the perils of ignoring heterogeneity. *Marketing
  Science* 29(1), 85-93.
- Pfeifer, P. E. & Carraway, R. L. (2000). Modeling customer
  relationships as Markov chains. *Journal of Interactive Marketing* 14(2),
  43-55.
- Kaplan, E. L. & Meier, P. (1958). Nonparametric estimation from
  incomplete observations. *JASA* 53(282), 457-481.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from custrel import _numeric, _parallel
from custrel import _validate as v
from custrel._ids import id_key
from custrel._lazy import LazyModule
from custrel._tabular import Tabular
from custrel.errors import ConvergenceError, EmptyInputError, InvalidInputError, InvalidTypeError
from custrel.models import (
    DWYER_SCHURR_OH,
    FORD,
    FOUR_STAGE,
    IACOBUCCI_ZERRILLO,
    JAP_GANESAN,
    SIX_STAGE,
    LifecyclePattern,
    StageModel,
    TransactionLog,
)

special = LazyModule("scipy.special")  # imported on first use (import time)

__all__ = [
    "HUB_POSITIONS",
    "LAPSED",
    "NO_ACTIVITY",
    "STAGE_CHARACTERISTICS",
    "STAGE_CORRESPONDENCES",
    "TOO_NEW",
    "ChurnResult",
    "KaplanMeierResult",
    "MarkovChain",
    "PatternResult",
    "SBGModel",
    "StageCharacteristics",
    "StageClassification",
    "StageCorrespondence",
    "StageHistory",
    "StageRules",
    "SurvivalCurve",
    "ValuePanel",
    "churn_rate",
    "classify_patterns",
    "classify_stages",
    "fit_markov_chain",
    "fit_sbg",
    "kaplan_meier",
    "map_stages",
    "markov_chain",
    "recency_chain",
    "stage_correspondence",
    "stage_history",
    "stages_from_log",
    "survival_from_log",
    "value_panel",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

#: Label of customers whose relationship is too short to judge (see :class:`StageRules`).
TOO_NEW = "too_new"
#: Label of customers without a single non-zero value in the panel.
NO_ACTIVITY = "no_activity"
#: Label of customers whose relationship has ended: no value in the last
#: ``inactive_periods`` periods (the inactivity rule of :func:`churn_rate`).
LAPSED = "lapsed"
_CODE_TOO_NEW = -1
_CODE_NO_ACTIVITY = -2
_CODE_LAPSED = -3

# ---------------------------------------------------------------------------
# The stage-characteristics table (domain notes §4) as data
# ---------------------------------------------------------------------------


def _str_tuple(value: Any) -> tuple[str, ...]:
    """A row of labels as the table's own tuple of strings (a lone string is refused)."""
    if isinstance(value, str | bytes) or not isinstance(value, Sequence | np.ndarray):
        raise InvalidTypeError(f"expected a sequence of strings, got {type(value).__name__}")
    items = value.tolist() if isinstance(value, np.ndarray) else list(value)
    if not all(isinstance(x, str) for x in items):
        raise InvalidTypeError("expected strings only, got " + repr(items))
    return tuple(items)


def _str_table(value: Any) -> tuple[tuple[str, ...], ...]:
    """Rows of strings as the table's own tuple of tuples."""
    if isinstance(value, str | bytes) or not isinstance(value, Sequence | np.ndarray):
        raise InvalidTypeError(f"cells must be rows of strings, got {type(value).__name__}")
    return tuple(_str_tuple(row) for row in value)


@attrs.frozen
class StageCharacteristics:
    """How each stage of a stage model looks, aspect by aspect (a table as data).

    Attributes
    ----------
    model : StageModel
        The stage model the columns belong to.
    aspects : tuple of str
        The rows: what is observed (volume, price, cost, ...).
    cells : tuple of tuple of str
        ``cells[i][j]`` describes aspect ``i`` in stage ``j``.

    Examples
    --------
    >>> from custrel.lifecycle import STAGE_CHARACTERISTICS as T
    >>> T.describe("profit", "stability")
    'rises slowly, then flat and high'
    >>> T.aspects[:2]
    ('volume', 'price')
    """

    model: StageModel
    aspects: tuple[str, ...] = attrs.field(converter=_str_tuple)
    cells: tuple[tuple[str, ...], ...] = attrs.field(converter=_str_table)

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.model, StageModel):
            raise InvalidTypeError(f"model must be a StageModel, got {type(self.model).__name__}")
        if len(self.cells) != len(self.aspects) or any(
            len(row) != len(self.model) for row in self.cells
        ):
            raise InvalidInputError(
                f"cells must have {len(self.aspects)} rows of {len(self.model)} descriptions"
            )

    def describe(self, aspect: str, stage: str) -> str:
        """The description of ``aspect`` in ``stage``."""
        aspect, stage = v.one_label(aspect, "aspect"), v.one_label(stage, "stage")
        if aspect not in self.aspects:
            raise InvalidInputError(f"aspect must be one of {self.aspects!r}, got {aspect!r}")
        return self.cells[self.aspects.index(aspect)][self.model.index(stage)]

    def rows(self) -> list[dict[str, str]]:
        """The table as one dict per aspect: ``{"aspect": ..., <stage>: ...}``."""
        return [
            {"aspect": a, **dict(zip(self.model.stages, row, strict=True))}
            for a, row in zip(self.aspects, self.cells, strict=True)
        ]


#: The four-stage characteristics table of domain notes §4 (what :func:`classify_stages` reads).
STAGE_CHARACTERISTICS = StageCharacteristics(
    FOUR_STAGE,
    ("volume", "price", "cost", "indirect_benefit", "transaction_value", "profit"),
    (
        ("small", "grows fast", "highest, steady", "falls"),
        ("base or below", "rising", "keeps rising", "falls"),
        ("highest", "falls clearly", "falls to a floor", "rises, below exploration"),
        (
            "none",
            "appears late",
            "clear, growing",
            "shrinks (negative if bad word of mouth)",
        ),
        ("very small", "rises fast", "steady high", "falls"),
        ("small or negative", "rises fast", "rises slowly, then flat and high", "falls"),
    ),
)

# ---------------------------------------------------------------------------
# Stage models and the mapping between them
# ---------------------------------------------------------------------------

#: The hub every stage model is mapped through: the four stages, framed by the
#: time before a relationship exists and after it has ended.
HUB_POSITIONS: tuple[str, ...] = ("before", *FOUR_STAGE.stages, "ended")


@attrs.frozen
class StageCorrespondence:
    """How the stages of one stage model line up with the four-stage hub.

    Build one with :func:`stage_correspondence`; the predefined ones are in
    :data:`STAGE_CORRESPONDENCES`.

    Attributes
    ----------
    model : StageModel
        The stage model.
    to_hub : Mapping[str, str]
        Each stage of ``model`` → a position of :data:`HUB_POSITIONS`.
    from_hub : Mapping[str, str or None]
        Each hub position → the stage of ``model`` it corresponds to, or
        ``None`` where the model has no such stage.
    """

    model: StageModel
    to_hub: Mapping[str, str] = attrs.field(converter=v.freeze)
    from_hub: Mapping[str, str | None] = attrs.field(converter=v.freeze)


def stage_correspondence(
    model: StageModel,
    to_hub: Mapping[str, str],
    *,
    from_hub: Mapping[str, str | None] | None = None,
) -> StageCorrespondence:
    """Relate a (user-defined) stage model to the four-stage hub.

    Parameters
    ----------
    model : StageModel
        The stage model, e.g. ``StageModel("mine", ("trial", "regular", "lapsing"))``.
    to_hub : Mapping[str, str]
        Every stage of ``model`` → one of :data:`HUB_POSITIONS` (``"before"``,
        ``"exploration"``, ``"formation"``, ``"stability"``, ``"decline"``,
        ``"ended"``). Hub positions must not go backwards along the model's order.
    from_hub : Mapping[str, str or None], optional
        The way back. By default each hub position maps to the *last* stage of
        the model mapped to it; a hub position no stage maps to goes to the
        nearest earlier mapped stage among the four lifecycle stages (a model
        with one "middle" stage for formation and stability maps both to
        it), and to ``None`` for ``"before"`` / ``"ended"``.

    Returns
    -------
    StageCorrespondence

    Raises
    ------
    InvalidInputError
        If a stage is missing from ``to_hub``, a hub position is unknown, or
        the positions go backwards.

    Examples
    --------
    >>> from custrel import StageModel
    >>> mine = StageModel("mine", ("trial", "regular", "lapsing"))
    >>> c = stage_correspondence(
    ...     mine, {"trial": "exploration", "regular": "stability", "lapsing": "decline"}
    ... )
    >>> c.from_hub["formation"], c.from_hub["ended"]
    ('trial', None)
    """
    if not isinstance(model, StageModel):
        raise InvalidTypeError(f"model must be a StageModel, got {type(model).__name__}")
    for name, mapping in (("to_hub", to_hub), ("from_hub", from_hub)):
        if not (isinstance(mapping, Mapping) or (name == "from_hub" and mapping is None)):
            raise InvalidTypeError(
                f"{name} must be a mapping of stage names, got {type(mapping).__name__}"
            )
    for stage in model.stages:
        if stage not in to_hub:
            raise InvalidInputError(
                f"to_hub has no entry for stage {stage!r} of {model.name!r}; map every stage"
            )
    for stage, pos in to_hub.items():
        model.index(stage)
        if pos not in HUB_POSITIONS:
            raise InvalidInputError(
                f"to_hub[{stage!r}] must be one of {HUB_POSITIONS!r}, got {pos!r}"
            )
    order = [HUB_POSITIONS.index(to_hub[s]) for s in model.stages]
    for i in range(1, len(order)):
        if order[i] < order[i - 1]:
            raise InvalidInputError(
                f"to_hub goes backwards: {model.stages[i]!r} -> {to_hub[model.stages[i]]!r} "
                f"comes before {model.stages[i - 1]!r} -> {to_hub[model.stages[i - 1]]!r}"
            )
    if from_hub is None:
        back: dict[str, str | None] = dict.fromkeys(HUB_POSITIONS)
        for stage in model.stages:
            back[to_hub[stage]] = stage
        mapped = [i for i, p in enumerate(FOUR_STAGE.stages) if back[p] is not None]
        if not mapped:
            raise InvalidInputError(
                f"to_hub must map at least one stage of {model.name!r} to one of "
                f"{FOUR_STAGE.stages!r}"
            )
        filled = dict(back)
        for i, pos in enumerate(FOUR_STAGE.stages):
            if back[pos] is None:
                earlier = [j for j in mapped if j < i]
                j = earlier[-1] if earlier else mapped[0]
                filled[pos] = back[FOUR_STAGE.stages[j]]
        back = filled
    else:
        back = dict.fromkeys(HUB_POSITIONS)
        for pos, target in from_hub.items():
            if pos not in HUB_POSITIONS:
                raise InvalidInputError(
                    f"from_hub has an unknown hub position {pos!r}; use {HUB_POSITIONS!r}"
                )
            if target is not None:
                model.index(target)
            back[pos] = target
    return StageCorrespondence(model, dict(to_hub), back)


#: The predefined stage models related to the four-stage hub (domain notes §4).
#: The correspondences follow the stage definitions of each source: the
#: six-stage "potential" and the pre-relationship / awareness stages come
#: before a relationship exists; Jap & Ganesan's decline and deterioration
#: both read as decline; Iacobucci & Zerrillo's "middle" covers formation and
#: stability.
STAGE_CORRESPONDENCES: Mapping[str, StageCorrespondence] = MappingProxyType(
    {
        c.model.name: c
        for c in (
            stage_correspondence(FOUR_STAGE, {s: s for s in FOUR_STAGE.stages}),
            stage_correspondence(
                SIX_STAGE,
                {
                    "potential": "before",
                    "development": "exploration",
                    "growth": "formation",
                    "maturity": "stability",
                    "decline": "decline",
                    "termination": "ended",
                },
            ),
            stage_correspondence(
                DWYER_SCHURR_OH,
                {
                    "awareness": "before",
                    "exploration": "exploration",
                    "expansion": "formation",
                    "commitment": "stability",
                    "dissolution": "decline",
                },
            ),
            stage_correspondence(
                FORD,
                {
                    "pre_relationship": "before",
                    "early": "exploration",
                    "development": "formation",
                    "long_term": "stability",
                    "final": "decline",
                },
            ),
            stage_correspondence(
                JAP_GANESAN,
                {
                    "exploration": "exploration",
                    "build_up": "formation",
                    "maturity": "stability",
                    "decline": "decline",
                    "deterioration": "decline",
                },
                from_hub={
                    "exploration": "exploration",
                    "formation": "build_up",
                    "stability": "maturity",
                    "decline": "decline",
                },
            ),
            stage_correspondence(
                IACOBUCCI_ZERRILLO,
                {
                    "beginning": "exploration",
                    "middle": "stability",
                    "end": "decline",
                },
                from_hub={
                    "exploration": "beginning",
                    "formation": "middle",
                    "stability": "middle",
                    "decline": "end",
                },
            ),
        )
    }
)


def _as_correspondence(model: Any, name: str) -> StageCorrespondence:
    if isinstance(model, StageCorrespondence):
        return model
    if isinstance(model, StageModel):
        model = model.name
        if model not in STAGE_CORRESPONDENCES:
            raise InvalidInputError(
                f"{name}: stage model {model!r} has no correspondence; "
                "build one with stage_correspondence() and pass it instead"
            )
    if isinstance(model, str):
        if model not in STAGE_CORRESPONDENCES:
            raise InvalidInputError(
                f"{name} must be one of {sorted(STAGE_CORRESPONDENCES)!r}, got {model!r}"
            )
        return STAGE_CORRESPONDENCES[model]
    raise InvalidTypeError(
        f"{name} must be a stage model name, StageModel or StageCorrespondence, "
        f"got {type(model).__name__}"
    )


def map_stages(stages: Any, source: Any, target: Any) -> npt.NDArray[Any]:
    """Translate stage labels from one stage model to another.

    Parameters
    ----------
    stages : str or array-like of str
        Stage labels of ``source``. The classifier's :data:`TOO_NEW` and
        :data:`NO_ACTIVITY` labels pass through unchanged; :data:`LAPSED`
        maps to the target's stage for an ended relationship (six-stage
        ``"termination"``) and passes through where it has none.
    source, target : str, StageModel or StageCorrespondence
        The stage models (by name, e.g. ``"four_stage"``, or a user-defined
        correspondence).

    Returns
    -------
    numpy.ndarray of object
        The target labels, ``None`` where the target has no corresponding
        stage (e.g. four-stage has nothing for six-stage ``"potential"``).

    Raises
    ------
    InvalidInputError
        If a label is not a stage of ``source`` (naming its row).

    Notes
    -----
    Stages are mapped through :data:`HUB_POSITIONS`: ``source.to_hub`` then
    ``target.from_hub``. Where several source stages share a hub position the
    mapping is many-to-one, and the way back picks one of them (documented per
    model in :data:`STAGE_CORRESPONDENCES`).

    Examples
    --------
    >>> map_stages(["exploration", "stability", "decline"], "four_stage", "six_stage").tolist()
    ['development', 'maturity', 'decline']
    >>> map_stages("formation", "four_stage", "iacobucci_zerrillo").tolist()
    ['middle']
    """
    src = _as_correspondence(source, "source")
    dst = _as_correspondence(target, "target")
    arr = np.atleast_1d(np.asarray(stages, dtype=object))
    if arr.ndim != 1:
        raise InvalidInputError(f"stages must be 1-D, got shape {arr.shape}")
    lookup: dict[Any, Any] = {
        TOO_NEW: TOO_NEW,
        NO_ACTIVITY: NO_ACTIVITY,
        LAPSED: dst.from_hub.get("ended") or LAPSED,
    }
    for s, pos in src.to_hub.items():
        lookup[s] = dst.from_hub.get(pos)
    uniq, inv = np.unique(arr.astype(str), return_inverse=True)
    out_u = np.empty(len(uniq), dtype=object)
    for i, s in enumerate(uniq.tolist()):
        if s not in lookup:
            row = int(np.flatnonzero(inv == i)[0])
            raise InvalidInputError(
                f"stages has {s!r} at row {row}, which is not a stage of "
                f"{src.model.name!r} {src.model.stages!r}"
            )
        out_u[i] = lookup[s]
    out: npt.NDArray[Any] = out_u[inv.reshape(-1)]
    return out


# ---------------------------------------------------------------------------
# Stage classification
# ---------------------------------------------------------------------------


@attrs.frozen
class StageRules:
    r"""Thresholds of the four-stage classifier (all in the panel's own periods).

    Parameters
    ----------
    window : int
        Shortest smoothing window: level, peak and trend are read from
        rolling means over at least this many periods. Default 3.
    gap_window : float
        The window stretches to cover this many of the customer's own mean
        gaps between purchase periods, :math:`w = \max(\text{window},
        \lceil \text{gap\_window} \cdot \bar g \rceil)`, so a customer
        who buys every other month is read over 4 months, one who buys
        quarterly over 6. 0 keeps the window fixed. Default 2.
    min_tenure : int
        Customers with fewer periods since their first non-zero value are
        :data:`TOO_NEW` to judge. Default 3; at least 2.
    exploration_periods : int
        Tenure up to which a flat customer is still exploring; beyond it a
        flat customer near its peak is stable. Default 6.
    growth : float
        The trend (change over one window, as a share of the peak) above
        which value "rises fast" (formation) and below minus which it
        "falls" (decline). Default 0.15.
    drop : float
        A smoothed level below ``(1 - drop)`` × peak is decline. Default 0.3.
    inactive_periods : int
        The inactivity rule: a customer whose last ``inactive_periods``
        periods are all zero is :data:`LAPSED` (the relationship has ended),
        the same rule as :func:`churn_rate`'s ``inactive_periods``. Default 3.
    persistence : int
        Hysteresis: :func:`stage_history` (and so :func:`classify_stages`,
        its last period) keeps a customer in one of the four stages until
        this many consecutive readings disagree with it, then moves it to
        the latest reading; a single odd period does not flip the stage.
        1 follows every reading. Default 2.
    confidence : float
        Noise allowance, in standard errors: a trend counts as rising or
        falling only when it passes ``growth`` and is at least this many
        standard errors from zero, and a level counts as dropped only when
        it is below ``1 - drop`` by this many standard errors (both from the
        customer's own period-to-period noise; see :func:`classify_stages`).
        0 uses the plain thresholds. Default 2.

    Attributes
    ----------
    window, gap_window, min_tenure, exploration_periods, growth, drop
        As given.
    inactive_periods, persistence, confidence
        As given.

    Examples
    --------
    >>> weekly = StageRules(window=4, min_tenure=4, exploration_periods=26, inactive_periods=8)
    >>> classify_stages([[0, 0, 2, 2, 2, 2, 2, 2, 2, 2]], rules=weekly).stages().tolist()
    ['exploration']
    >>> classify_stages([[0, 0, 2, 2, 2, 2, 2, 2, 2, 2]]).stages().tolist()
    ['stability']
    """

    window: int = 3
    gap_window: float = 2.0
    min_tenure: int = 3
    exploration_periods: int = 6
    growth: float = 0.15
    drop: float = 0.3
    inactive_periods: int = 3
    persistence: int = 2
    confidence: float = 2.0

    def __attrs_post_init__(self) -> None:
        v.positive_int(self.window, "window")
        v.scalar(self.gap_window, "gap_window", low=0.0)
        v.positive_int(self.min_tenure, "min_tenure", minimum=2)
        v.positive_int(self.exploration_periods, "exploration_periods")
        v.scalar(self.growth, "growth", low=0.0, low_inclusive=False)
        v.scalar(self.drop, "drop", low=0.0, high=1.0, low_inclusive=False, high_inclusive=False)
        v.positive_int(self.inactive_periods, "inactive_periods")
        v.positive_int(self.persistence, "persistence")
        v.scalar(self.confidence, "confidence", low=0.0)


@attrs.frozen(eq=False)
class StageClassification(Tabular):
    """Each customer's lifecycle stage at the end of the panel, with its margin.

    Attributes
    ----------
    customer_id : numpy.ndarray
        Customer ids (0..n-1 when none were given).
    stage_code : numpy.ndarray of int64
        Index into ``model.stages``; -1 :data:`TOO_NEW`, -2 :data:`NO_ACTIVITY`,
        -3 :data:`LAPSED`.
    margin : numpy.ndarray of float64
        Distance of the customer's features to the nearest threshold that
        would change its stage, in units of that threshold (0 on a boundary,
        1 = one threshold-width inside; 0 too where hysteresis holds the
        stage against this period's reading; NaN for too-new / no-activity).
    tenure : numpy.ndarray of int64
        Periods from the first non-zero value to the end of the panel (inclusive).
    level : numpy.ndarray of float64
        Current smoothed level over the peak smoothed level; NaN where the
        peak is not positive.
    trend : numpy.ndarray of float64
        Least-squares change over one window, over the peak; NaN where the
        peak is not positive (as ``level``).
    idle_periods : numpy.ndarray of int64
        Periods since the last non-zero value (0: active in the last
        period; -1 for no activity).
    rules : StageRules
        The thresholds used.
    model : StageModel
        :data:`~custrel.models.FOUR_STAGE`.
    """

    customer_id: npt.NDArray[Any] = attrs.field(converter=v.freeze)
    stage_code: IntArray = attrs.field(converter=v.freeze)
    margin: FloatArray = attrs.field(converter=v.freeze)
    tenure: IntArray = attrs.field(converter=v.freeze)
    level: FloatArray = attrs.field(converter=v.freeze)
    trend: FloatArray = attrs.field(converter=v.freeze)
    idle_periods: IntArray = attrs.field(converter=v.freeze)
    rules: StageRules
    model: StageModel = FOUR_STAGE

    def __len__(self) -> int:
        return len(self.stage_code)

    def stages(self) -> npt.NDArray[Any]:
        """Stage names per customer (``"lapsed"`` / ``"too_new"`` / ``"no_activity"`` where so)."""
        return _code_labels(self.stage_code, self.model)

    def ended(self) -> BoolArray:
        """Whether each relationship has ended (:data:`LAPSED`) under ``rules.inactive_periods``."""
        out: BoolArray = self.stage_code == _CODE_LAPSED
        return out

    def counts(self) -> dict[str, int]:
        """Customers per stage, in lifecycle order, then lapsed, too-new and no-activity."""
        return _code_counts(self.stage_code, self.model)

    def mix(self) -> dict[str, float]:
        """Share of customers per stage (the stage mix); sums to 1."""
        counts = self.counts()
        n = sum(counts.values())
        return {k: (c / n if n else 0.0) for k, c in counts.items()}

    def active_mix(self) -> dict[str, float]:
        """Share of each of the four stages among customers in one of them (0 if none).

        Leaves out the lapsed, too-new and no-activity customers: the stage
        mix of the live, judged customer base.
        """
        counts = self.counts()
        live = {s: counts[s] for s in self.model.stages}
        n = sum(live.values())
        return {k: (c / n if n else 0.0) for k, c in live.items()}

    def stages_in(self, target: Any) -> npt.NDArray[Any]:
        """Stage names translated into another stage model (see :func:`map_stages`)."""
        return map_stages(self.stages(), "four_stage", target)

    def to_arrays(self) -> dict[str, npt.NDArray[Any]]:
        """Per-customer columns (copies) for a report.

        Keys: ``customer_id``, ``stage`` (names), ``stage_margin``, ``tenure``,
        ``level``, ``trend`` and ``idle_periods``.
        """
        return {
            "customer_id": self.customer_id.copy(),
            "stage": self.stages(),
            "stage_margin": self.margin.copy(),
            "tenure": self.tenure.copy(),
            "level": self.level.copy(),
            "trend": self.trend.copy(),
            "idle_periods": self.idle_periods.copy(),
        }


def _code_labels(codes: IntArray, model: StageModel) -> npt.NDArray[Any]:
    names = np.asarray([*model.stages, LAPSED, NO_ACTIVITY, TOO_NEW], dtype=object)
    out: npt.NDArray[Any] = names[codes]  # -1 TOO_NEW, -2 NO_ACTIVITY, -3 LAPSED
    return out


def _code_counts(codes: IntArray, model: StageModel) -> dict[str, int]:
    k = len(model)
    c = _numeric.bincount(codes.ravel() + 3, minlength=k + 3)
    out = {s: int(c[i + 3]) for i, s in enumerate(model.stages)}
    out[LAPSED] = int(c[0])
    out[TOO_NEW] = int(c[2])
    out[NO_ACTIVITY] = int(c[1])
    return out


def _check_panel(values: Any, name: str = "values") -> FloatArray:
    arr = v.as_float_array(values, name, ndim=(1, 2))
    if arr.ndim == 1:
        arr = arr.reshape(1, -1)
    if arr.shape[1] == 0:
        raise EmptyInputError(f"{name} has no periods (shape {arr.shape})")
    return arr


def _ids(customer_id: Any, n: int) -> npt.NDArray[Any]:
    if customer_id is None:
        return np.arange(n, dtype=np.int64)
    return v.id_array(customer_id, "customer_id", n, what="values")


_CHUNK_CELLS = 1 << 15  # blocks of about this many cells stay in cache (fastest on 2 cores)
#: Blocks on several threads are 4x larger and at most 8 run at once: each
#: block's Python steps hold the GIL, so small blocks or many threads contend
#: for it (stages_from_log of 3M rows on 16 cores: 32k-cell blocks 1.67x on
#: 4 threads, 1.10x on 16; 128k-cell blocks 2.19x on 4, 2.56x on 8, 2.21x on 16).
_THREAD_CHUNK_CELLS = 4 * _CHUNK_CELLS
_MAX_CLASSIFY_TASKS = 8


def _raw_stages(
    x: FloatArray, rules: StageRules, active: BoolArray | None = None
) -> dict[str, Any]:
    """Stage reading at the end of every period, before hysteresis (all (n, T) arrays).

    ``active`` marks the periods with a purchase (default: a non-zero value);
    a log's returns move the value, never the activity.
    """
    n, t_len = x.shape
    tt = np.arange(t_len, dtype=np.int64)
    nz = x != 0 if active is None else active
    started = np.logical_or.accumulate(nz, axis=1)
    first = np.where(nz.any(axis=1), nz.argmax(axis=1), t_len).astype(np.int64)
    tenure = np.maximum(tt[None, :] - first[:, None] + 1, 0)
    last = np.maximum.accumulate(np.where(nz, tt[None, :], -1), axis=1)
    idle = np.where(started, tt[None, :] - last, -1)
    # smoothing window per customer and period: covers gap_window mean gaps
    cnt = np.cumsum(nz, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        gap = np.where(cnt >= 2, (last - first[:, None]) / np.maximum(cnt - 1, 1), 1.0)
    w = np.maximum(rules.window, np.ceil(rules.gap_window * gap - 1e-9)).astype(np.int64)
    # rolling means of the last w periods inside the relationship (partial at
    # its start: the divisor is min(w, tenure)); values before the start are 0
    csum = np.zeros((n, t_len + 1))
    np.cumsum(x, axis=1, out=csum[:, 1:])
    hi = tt[None, :] + 1
    lo = np.maximum(hi - w, 0)
    wsum = csum[:, 1:] - np.take_along_axis(csum, lo, axis=1)
    denom = np.maximum(np.minimum(w, tenure), 1)
    roll = wsum / denom
    # the peak: the largest full-window mean so far (a lone first purchase in a
    # partial window does not set it), or the current mean when that is larger
    # (over the longer trend window 2w: a sustained peak, not one lucky window)
    wp = 2 * w
    psum = csum[:, 1:] - np.take_along_axis(csum, np.maximum(hi - wp, 0), axis=1)
    proll = psum / np.maximum(np.minimum(wp, tenure), 1)
    full = started & (tenure >= wp)
    peak = np.maximum(
        np.maximum.accumulate(np.where(full, proll, -np.inf), axis=1),
        np.where(started, roll, -np.inf),
    )
    # trend: least-squares slope of the smoothed series over its last
    # m = min(2w, tenure) periods; noise: the raw values' scatter around their
    # own line over the same periods. Running sums, centred on the current period.
    m = np.maximum(np.minimum(2 * w, tenure), 1)
    lo2 = hi - m
    mf = m.astype(np.float64)
    s1 = -(mf - 1.0) * mf / 2.0
    sxx = mf * mf * (mf * mf - 1.0) / 12.0  # m * sum((u - mean u)^2)
    safe_sxx = np.where(m >= 2, sxx, 1.0)

    def window_sums(y: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        cum = np.zeros((n, t_len + 1))
        np.cumsum(y, axis=1, out=cum[:, 1:])
        ys = cum[:, 1:] - np.take_along_axis(cum, lo2, axis=1)
        np.cumsum(y * tt[None, :], axis=1, out=cum[:, 1:])
        tys = cum[:, 1:] - np.take_along_axis(cum, lo2, axis=1) - tt[None, :] * ys
        np.cumsum(y * y, axis=1, out=cum[:, 1:])
        yys = cum[:, 1:] - np.take_along_axis(cum, lo2, axis=1)
        return ys, tys, yys

    xsum, txsum, xxsum = window_sums(x)
    # the smoothed series over its full windows only (a partial window at the
    # start is a running mean, which halves a slope): mr = min(2w, tenure - w + 1)
    mr = np.minimum(2 * w, tenure - w + 1)
    smooth = mr >= 2
    m = np.where(smooth, mr, m)
    lo2 = hi - np.maximum(m, 1)
    mrf = m.astype(np.float64)
    ysum, tysum, _ = window_sums(roll)
    with np.errstate(invalid="ignore", divide="ignore"):
        rs1 = -(mrf - 1.0) * mrf / 2.0
        rsxx = np.where(m >= 2, mrf * mrf * (mrf * mrf - 1.0) / 12.0, 1.0)
        xslope = np.where(mf >= 2, (mf * txsum - s1 * xsum) / safe_sxx, 0.0)
        slope = np.where(smooth, (mrf * tysum - rs1 * ysum) / rsxx, xslope)
        # per-period noise: the scatter around the line (m - 2 degrees of
        # freedom; 0 below 3 periods) ...
        ssr = np.maximum(xxsum - xsum * xsum / mf - xslope * xslope * sxx / mf, 0.0)
        s2 = np.where(mf >= 3, ssr / np.maximum(mf - 2.0, 1.0), 0.0)
        # ... or, if smaller, half the mean squared change over one window,
        # w x (change of the smoothed series), since the start (between two
        # full windows: partial ones at the start are running means): a step
        # or a steep curve inflates the scatter, and a buyer with a regular
        # rhythm (zero every other month) has a flat smoothed series, so its
        # zero periods are not noise
        both_full = (tenure[:, 1:] > w[:, 1:]) & (w[:, 1:] == w[:, :-1])
        dsum = np.zeros((n, t_len))
        np.cumsum(
            np.where(both_full, (w[:, 1:] * np.diff(roll, axis=1)) ** 2, 0.0),
            axis=1,
            out=dsum[:, 1:],
        )
        dcnt = np.zeros((n, t_len))
        np.cumsum(both_full, axis=1, out=dcnt[:, 1:])
        s2d = np.where(dcnt > 0, dsum / (2.0 * np.maximum(dcnt, 1.0)), np.inf)
        # ... and the same over the last 2w periods only (the noise now, after
        # an old step has left the window; the long one dilutes a recent step)
        lo3 = np.maximum(tt[None, :] - 2 * w + 1, 0)
        dsum = dsum - np.take_along_axis(dsum, lo3, axis=1)
        dcnt = dcnt - np.take_along_axis(dcnt, lo3, axis=1)
        s2d = np.minimum(s2d, np.where(dcnt > 0, dsum / (2.0 * np.maximum(dcnt, 1.0)), np.inf))
        s2 = np.minimum(s2, s2d)
        pos = peak > 0
        safe_peak = np.where(pos, peak, 1.0)
        level = np.where(pos, roll / safe_peak, np.nan)
        trend = np.where(pos, slope * w / safe_peak, np.nan)
        # standard errors of the trend and of the level (the current smoothed
        # value and the peak, which averages twice as long), as shares of the peak
        se_trend = np.sqrt(s2 * mf / safe_sxx) * w / safe_peak
        se_level = np.sqrt(s2 / denom + s2 / np.maximum(np.minimum(wp, tenure), 1)) / safe_peak
    z = rules.confidence
    g = np.maximum(rules.growth, z * se_trend)
    d = rules.drop + z * se_level
    e, k = rules.exploration_periods, rules.inactive_periods
    young = tenure <= e
    with np.errstate(invalid="ignore"):
        up = (trend - g) / g  # > 0: rises fast
        down = (-g - trend) / g  # > 0: falls
        low = ((1.0 - d) - level) / rules.drop  # > 0: below (1 - drop) x peak, clearly
        old = (tenure - e - 0.5) / (e + 0.5)  # > 0: past exploration
        stale = (idle - k + 0.5) / (k - 0.5) if k > 1 else idle - 0.5  # > 0: lapsed
        est = (tenure - wp + 0.5) / wp  # > 0: a full peak window behind it (established)
    rising = pos & (up >= 0)
    falling = pos & ~rising & ((down > 0) | (low > 0))
    declining = falling & (est > 0)
    unsettled = falling & ~declining  # falls before any sustained peak: still exploring
    flat = pos & ~rising & ~falling
    code = np.full((n, t_len), 2, dtype=np.int64)
    code[rising] = 1
    code[declining] = 3
    code[(flat & young) | unsettled] = 0
    with np.errstate(invalid="ignore"):
        margin = np.where(rising, up, np.nan)
        margin = np.where(
            declining, np.minimum(np.minimum(np.maximum(down, low), -up), est), margin
        )
        margin = np.where(unsettled, np.minimum(-up, -est), margin)
        fm = np.minimum(np.minimum(-up, -down), -low)
        margin = np.where(flat & young, np.minimum(fm, -old), margin)
        margin = np.where(flat & ~young, np.minimum(fm, old), margin)
    # no positive value yet: small or negative (exploration) while young, else decline
    nonpos = started & ~pos
    code = np.where(nonpos, np.where(young, 0, 3), code)
    margin = np.where(nonpos, np.abs(old), margin)
    margin = np.minimum(margin, -stale)  # distance to lapsing
    lapsed = started & (idle >= k)
    too_new = started & ~lapsed & (tenure < rules.min_tenure)
    code[too_new] = _CODE_TOO_NEW
    code[lapsed] = _CODE_LAPSED
    code[~started] = _CODE_NO_ACTIVITY
    margin = np.where(lapsed, stale, margin)
    margin[too_new | ~started] = np.nan
    return {
        "code": code,
        "margin": margin,
        "tenure": tenure,
        "level": level,
        "trend": trend,
        "idle": idle,
        "smoothed": roll,
    }


def _hysteresis(code: IntArray, margin: FloatArray, persistence: int) -> None:
    """Hold each customer's stage until ``persistence`` readings in a row disagree with it.

    Works in place on the (n, T) arrays; the customer then moves to the
    latest reading. Only moves between the four stages are held back;
    lapsing, too-new and no-activity follow the data at once.
    """
    t_len = code.shape[1]
    if persistence <= 1 or t_len < 2:
        return
    # the periods where some reading changes: between two of them, once every
    # customer follows its reading, nothing moves, so the loop jumps over
    # them (a log with a long empty span costs its changes, not its span)
    changes = np.flatnonzero((code[:, 1:] != code[:, :-1]).any(axis=0)) + 1
    state = code[:, 0].copy()
    against = np.zeros(len(code), dtype=np.int64)
    t = 1
    while t < t_len:  # each pass handles a change or a held reading: at most 2 x t_len passes
        raw = code[:, t]
        if np.array_equal(raw, state):
            against[:] = 0
            nxt = int(np.searchsorted(changes, t, side="right"))
            if nxt == len(changes):
                break
            t = int(changes[nxt])
            continue
        differs = (raw >= 0) & (state >= 0) & (raw != state)
        against = np.where(differs, against + 1, 0)
        hold = differs & (against < persistence)
        state = np.where(hold, state, raw)
        against[~hold] = 0
        margin[hold, t] = 0.0
        code[:, t] = state
        t += 1


def _stage_arrays(
    x: FloatArray,
    rules: StageRules,
    *,
    history: bool,
    active: BoolArray | None = None,
    threads: int = 1,
) -> dict[str, Any]:
    """Classify in blocks of customers; the full history or only the last period.

    The readings are ratios (to the customer's peak and noise), so a row
    whose values are so large (or small) that their squares would leave the
    float range is read scaled to its largest magnitude, the same stages
    without an overflow; its smoothed series is scaled back.

    With ``threads`` > 1 larger blocks are classified on the shared pool,
    contiguous runs of blocks per task, and joined in block order. A
    customer's reading depends on its own row only, through the same
    element-wise operations and row-wise cumulative sums (no reduction across
    rows, no transcendental function whose vector path could round
    differently), so the result is identical to one thread, to the last bit.
    """
    n, t_len = x.shape
    top = np.max(np.abs(x), axis=1)
    scaled = (top > 1e100) | ((top > 0) & (top < 1e-100))
    if scaled.any():
        x = x.copy()
        x[scaled] /= top[scaled, None]
    tasks = min(_parallel.n_parts(n * t_len, threads), _MAX_CLASSIFY_TASKS)
    rows = max(1, (_CHUNK_CELLS if tasks <= 1 else _THREAD_CHUNK_CELLS) // t_len)
    starts = list(range(0, n, rows))  # blocks of customers, to bound memory
    tasks = min(tasks, len(starts))

    def classify(lo: int) -> dict[str, Any]:
        block = None if active is None else active[lo : lo + rows]
        r = _raw_stages(x[lo : lo + rows], rules, block)
        _hysteresis(r["code"], r["margin"], rules.persistence)
        if not history:
            del r["smoothed"]
        # copies: a view of the last column would keep the whole block alive
        return r if history else {key: a[:, -1].copy() for key, a in r.items()}

    if tasks <= 1:
        parts = [classify(lo) for lo in starts]
    else:
        runs = np.array_split(np.asarray(starts, dtype=np.int64), tasks)
        got = _parallel.run_ordered(
            lambda i: [classify(int(lo)) for lo in runs[i]], len(runs), tasks
        )
        parts = [r for run in got for r in run]
    out = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
    if history and scaled.any():
        out["smoothed"][scaled] *= top[scaled, None]
    return out


def _rules(rules: Any) -> StageRules:
    if rules is None:
        return StageRules()
    if not isinstance(rules, StageRules):
        raise InvalidTypeError(f"rules must be a StageRules, got {type(rules).__name__}")
    return rules


def classify_stages(
    values: Any,
    *,
    customer_id: Any = None,
    rules: StageRules | None = None,
) -> StageClassification:
    r"""Classify each customer's lifecycle stage (four-stage model) at the end of a panel.

    Parameters
    ----------
    values : array-like, shape (customers, periods) or (periods,)
        Per-period transaction value, profit or volume, oldest period
        first; zero where the customer did nothing, including the periods
        before it was acquired (use 0, not NaN). All values finite.
    customer_id : array-like, optional
        One id per row (defaults to 0..n-1).
    rules : StageRules, optional
        Thresholds; the defaults are documented in :class:`StageRules`.

    Returns
    -------
    StageClassification

    Raises
    ------
    InvalidInputError
        If ``values`` is not 1-D/2-D or holds NaN / infinity (naming the cell).
    EmptyInputError
        If there are no customers or no periods.

    Notes
    -----
    The relationship starts at a customer's first non-zero value; its tenure
    :math:`n` counts the periods from there to the end of the panel and its
    idle time :math:`i` the periods since the last non-zero value.
    Purchases are sparse (a customer who buys every other month has a zero
    every other month), so the stage is read from a smoothed series: the
    rolling mean over :math:`w = \max(\text{window}, \lceil
    \text{gap\_window} \cdot \bar g\rceil)` periods, :math:`\bar g` the
    customer's mean gap between purchase periods so far. The current level
    :math:`L` is the last rolling mean; the peak :math:`P` is the largest
    mean over a full :math:`2w`-period window since the start (a sustained
    peak, not one lucky window or a lone first purchase), or :math:`L` when
    that is larger (so :math:`L \le P`); the trend :math:`g` is the
    least-squares slope of the smoothed series over its last :math:`2w`
    full-window values (of the raw values while there are fewer than two),
    times :math:`w`, over :math:`P` (the change over one window as a share
    of the peak). The customer's per-period noise :math:`s^2` is the
    smallest of: the scatter of the last :math:`2w` raw values around their
    line, and half the mean squared change over one window,
    :math:`(w \Delta L)^2 / 2`, since the start and over the last :math:`2w`
    periods. A step or a steep curve inflates the scatter; a regular
    every-other-month buyer has a flat smoothed series, so its zero months
    are rhythm, not noise. With :math:`z` = ``confidence``, the trend's
    standard error is :math:`\sigma_g = s w / (P \sqrt{S_{tt}})` and the
    level's :math:`\sigma_L = (s / P) \sqrt{1/w + 1/(2w)}`. The table of domain
    notes §4 (:data:`STAGE_CHARACTERISTICS`) turns into rules applied in this
    order:

    ======================  ==========================================
    stage                   rule
    ======================  ==========================================
    lapsed                  :math:`i \ge` ``inactive_periods`` (ended)
    too new                 :math:`n <` ``min_tenure``
    formation               rises fast: :math:`g \ge \max(`\ ``growth``,
                            :math:`z\sigma_g)`
    decline                 falls: :math:`g \le -\max(`\ ``growth``,
                            :math:`z\sigma_g)`, or :math:`L/P < 1 -`
                            ``drop`` :math:`- z\sigma_L`; once
                            :math:`n \ge 2w` (a sustained peak to fall
                            from)
    exploration             falls before :math:`n \ge 2w`; otherwise,
                            while :math:`n \le` ``exploration_periods``
                            (small, flat, early)
    stability               otherwise: highest, steady, established
    ======================  ==========================================

    On a clean curve (:math:`s = 0`) these are the plain thresholds; on
    noisy, sparse spending a wobble has to be larger than the customer's
    own noise before it counts as growth or decline.

    Lapsed is the inactivity rule of :func:`churn_rate` (same
    ``inactive_periods``), so the lapsed customers are exactly the ones
    ``churn_rate`` counts as lost: their relationship has ended and they
    are not "in decline", which is reserved for customers still buying, less.
    A customer whose peak is not positive (only losses: "small or negative")
    is in exploration while young and in decline after.

    Hysteresis: the rules are read at the end of every period (as
    :func:`stage_history`), and a customer stays in one of the four stages
    until ``persistence`` readings in a row disagree with it, then moves to
    the latest reading (lapsing, too-new and no-activity apply at once). The
    result is the last period of that history.

    The margin is the smallest distance of :math:`g`, :math:`L/P`, :math:`n`
    and :math:`i` to the thresholds that bound the chosen stage, each in
    units of its threshold (``growth``, ``drop``, ``exploration_periods`` or
    :math:`2w`, ``inactive_periods``; a stage other than lapsed is bounded by
    lapsing too): a confidence score that is 0 on a boundary, and
    0 where hysteresis holds the stage against the latest reading.
    Everything is vectorised over customers (a loop over periods only); the
    order of the rows does not matter.

    Examples
    --------
    >>> panel = [
    ...     [0, 0, 0, 0, 0, 0, 0, 5, 5, 5],  # 3 periods old, flat
    ...     [0, 0, 0, 1, 2, 4, 8, 16, 32, 64],  # growing fast
    ...     [5, 9, 10, 10, 10, 10, 10, 10, 10, 10],  # at its peak, steady
    ...     [10, 10, 10, 10, 10, 10, 8, 6, 4, 2],  # falling from its peak
    ...     [0, 0, 0, 0, 0, 0, 0, 0, 3, 3],  # two periods: too new
    ...     [9, 0, 9, 0, 9, 0, 9, 0, 9, 9],  # every other period: steady
    ...     [9, 9, 9, 9, 9, 9, 0, 0, 0, 0],  # nothing for 4 periods: lapsed
    ... ]
    >>> r = classify_stages(panel)
    >>> r.stages().tolist()  # doctest: +NORMALIZE_WHITESPACE
    ['exploration', 'formation', 'stability', 'decline', 'too_new', 'stability',
     'lapsed']
    >>> r.counts()["lapsed"], r.ended().tolist()[-2:]
    (1, [False, True])
    """
    x = _check_panel(values)
    ru = _rules(rules)
    ids = _ids(customer_id, len(x))
    a = _stage_arrays(x, ru, history=False)
    return StageClassification(
        ids, a["code"], a["margin"], a["tenure"], a["level"], a["trend"], a["idle"], ru
    )


@attrs.frozen(eq=False)
class StageHistory:
    """The stage each customer was in at the end of every period of a panel.

    Attributes
    ----------
    customer_id : numpy.ndarray
        Customer ids.
    stage_code : numpy.ndarray of int64, shape (customers, periods)
        As :attr:`StageClassification.stage_code`, classified from the data
        up to and including each period (with the hysteresis of
        :class:`StageRules`).
    smoothed : numpy.ndarray of float64, shape (customers, periods)
        The smoothed value the stages are read from: the rolling mean over
        the customer's window at each period (0 before the first value).
    rules : StageRules
        The thresholds used.
    model : StageModel
        :data:`~custrel.models.FOUR_STAGE`.
    """

    customer_id: npt.NDArray[Any] = attrs.field(converter=v.freeze)
    stage_code: IntArray = attrs.field(converter=v.freeze)
    smoothed: FloatArray = attrs.field(converter=v.freeze)
    rules: StageRules
    model: StageModel = FOUR_STAGE

    def stages(self) -> npt.NDArray[Any]:
        """Stage names, shape (customers, periods)."""
        return _code_labels(self.stage_code, self.model)

    def mix(self) -> dict[str, FloatArray]:
        """Per period, the share of customers in each stage (each period sums to 1)."""
        n = self.stage_code.shape[0]
        out: dict[str, FloatArray] = {}
        for i, s in enumerate(self.model.stages):
            out[s] = (self.stage_code == i).sum(axis=0) / n
        out[LAPSED] = (self.stage_code == _CODE_LAPSED).sum(axis=0) / n
        out[TOO_NEW] = (self.stage_code == _CODE_TOO_NEW).sum(axis=0) / n
        out[NO_ACTIVITY] = (self.stage_code == _CODE_NO_ACTIVITY).sum(axis=0) / n
        return out

    def switches(self) -> IntArray:
        """Per customer, how often the stage changed between consecutive periods."""
        c = self.stage_code
        out: IntArray = (c[:, 1:] != c[:, :-1]).sum(axis=1).astype(np.int64)
        return out


def stage_history(
    values: Any,
    *,
    customer_id: Any = None,
    rules: StageRules | None = None,
) -> StageHistory:
    """Classify every customer at the end of every period (no look-ahead).

    Parameters
    ----------
    values : array-like, shape (customers, periods)
        As for :func:`classify_stages`.
    customer_id : array-like, optional
        One id per row.
    rules : StageRules, optional
        Thresholds.

    Returns
    -------
    StageHistory

    Raises
    ------
    InvalidInputError, EmptyInputError
        As :func:`classify_stages`.

    Notes
    -----
    Column ``t`` is :func:`classify_stages` of the panel cut after period
    ``t``: the stage a manager would have seen then. The features of every
    period come from running sums in one vectorised pass; the hysteresis
    (a stage is left only after ``rules.persistence`` disagreeing readings
    in a row) is one loop over periods, not customers.

    Examples
    --------
    >>> h = stage_history([[1, 2, 4, 8, 8, 8, 8, 8, 8, 8, 4, 2, 0, 0, 0]])
    >>> h.stages()[0].tolist()  # doctest: +NORMALIZE_WHITESPACE
    ['too_new', 'too_new', 'formation', 'formation', 'formation', 'formation',
     'formation', 'formation', 'formation', 'formation', 'stability', 'stability',
     'stability', 'decline', 'lapsed']
    >>> h.switches().tolist()
    [4]
    """
    x = _check_panel(values)
    ru = _rules(rules)
    ids = _ids(customer_id, len(x))
    a = _stage_arrays(x, ru, history=True)
    return StageHistory(ids, a["code"], a["smoothed"], ru)


@attrs.frozen(eq=False)
class ValuePanel:
    """Per-customer, per-period sums of a log column (customers × periods).

    Attributes
    ----------
    customer_id : numpy.ndarray
        The customer ids (sorted, as the log's).
    values : numpy.ndarray of float64, shape (customers, periods)
        Sum of the chosen value per customer and period; 0 where nothing happened.
    period_start : numpy.ndarray
        Start time of each period (``datetime64[s]`` or float, as the log).
    period : str or float
        The period length used.
    value : str
        Which value was summed.
    """

    customer_id: npt.NDArray[Any] = attrs.field(converter=v.freeze)
    values: FloatArray = attrs.field(converter=v.freeze)
    period_start: npt.NDArray[Any] = attrs.field(converter=v.freeze)
    period: str | float
    value: str


_VALUES = ("amount", "transaction_value", "profit", "volume")


def _log_periods(
    log: TransactionLog, period: str | float, observation_end: Any, *, panel: bool
) -> tuple[IntArray, int, BoolArray]:
    """Period index of each row (from the log's first period), number of periods, kept rows.

    The span (and, for a customers x periods ``panel``, its cells) is checked
    against the budgets of :func:`custrel._validate.log_periods` before
    anything is allocated, naming the time that made it so.
    """
    if not isinstance(log, TransactionLog):
        raise InvalidTypeError(f"log must be a TransactionLog, got {type(log).__name__}")
    t = log.numeric_time()
    end = None
    if observation_end is not None:
        end = log.to_time_float(observation_end, "observation_end")
        if end < float(t.min()):
            raise InvalidInputError(
                f"observation_end {observation_end!r} is before the first transaction in the log"
            )
    n_periods = v.log_periods(
        log,
        period,
        end=end,
        customers=log.n_customers if panel else 0,
        what="the customer x period panel" if panel else "the churn periods",
    )
    idx = log.period_index(period)
    keep = np.ones(log.n_rows, dtype=bool) if end is None else t <= end
    return idx, n_periods, keep


def value_panel(
    log: TransactionLog,
    *,
    period: str | float = "month",
    value: str = "amount",
    observation_end: Any = None,
    threads: int | None = None,
) -> ValuePanel:
    """Sum a log per customer and period into a customers × periods panel.

    Parameters
    ----------
    log : TransactionLog
        The transactions.
    period : str or float
        Period length (see :meth:`TransactionLog.period_index`); ``"month"``
        by default (use a number for numeric-time logs).
    value : {"amount", "transaction_value", "profit", "volume"}
        What to sum (domain notes §2.1).
    observation_end : date or number, optional
        Last time observed (inclusive); later rows are left out. Defaults to
        the log's last time. Periods run from the log's first period to the
        one containing ``observation_end``.
    threads : int, optional
        How many threads to use: by default the environment variable
        ``CUSTREL_THREADS`` (an integer >= 1), else every core this process
        may use; 1 runs on one thread. Logs under 200,000 rows always run on
        one thread. The panel does not depend on it (see Notes).

    Returns
    -------
    ValuePanel

    Raises
    ------
    InvalidInputError
        For an unknown ``value``, a ``"volume"`` the log lacks, an
        ``observation_end`` before the first transaction, sums of finite
        values beyond the float range (naming the customer and period), or a
        panel wider than the budgets (``CUSTREL_MAX_PERIODS`` periods,
        ``CUSTREL_MAX_CELLS`` customers x periods): checked from the log's
        earliest and latest times before anything is allocated, naming the
        time that made the span (a mistyped far-future date, epoch seconds
        read with ``period=1.0``) and its row; if ``threads`` is below 1 or
        ``CUSTREL_THREADS`` is not an integer >= 1.
    InvalidTypeError
        If ``threads`` is not an integer.

    Notes
    -----
    One ``numpy.bincount`` of the (customer, period) cells. With several
    threads each thread sums the rows of one contiguous range of customers,
    taken in row order, into its own block of panel rows: a cell adds the
    same values in the same order as on one thread, so the panel is
    identical to the single-threaded one, to the last bit, with no merge.
    ``bincount`` holds the GIL, so the log is split only from 4 threads on.

    Examples
    --------
    >>> from custrel import TransactionLog
    >>> log = TransactionLog.from_arrays(
    ...     customer_id=["a", "a", "b"], time=[0.0, 2.5, 1.0], amount=[1.0, 2.0, 3.0]
    ... )
    >>> value_panel(log, period=1.0).values.tolist()
    [[1.0, 0.0, 2.0], [0.0, 3.0, 0.0]]
    """
    labels, values, starts, _active = _panel(
        log, period, value, observation_end, activity=False, threads=threads
    )
    return ValuePanel(labels, values, starts, period, value)


def _panel_rows(
    codes: IntArray,
    idx: IntArray,
    col: FloatArray,
    buys: BoolArray | None,
    k: int,
    n_periods: int,
) -> tuple[FloatArray, BoolArray, BoolArray | None]:
    """The panel rows of customers ``0..k-1``: values, who has a row, purchase cells (or None)."""
    key = codes * n_periods + idx
    flat = _numeric.bincount(key, weights=col, minlength=k * n_periods)
    values: FloatArray = np.asarray(flat, dtype=np.float64).reshape(k, n_periods)
    present = _numeric.bincount(codes, minlength=k) > 0
    active = None
    if buys is not None:
        active = (_numeric.bincount(key[buys], minlength=k * n_periods) > 0).reshape(k, n_periods)
    return values, present, active


#: Whether the panel's sums count as GIL-bound work (split from 4 threads on).
_PANEL_GIL_BOUND = True


def _panel_by_ranges(
    log: TransactionLog,
    codes: IntArray,
    idx: IntArray,
    col: FloatArray,
    buys: BoolArray | None,
    n_periods: int,
    value: str,
    parts: int,
    threads: int,
) -> tuple[FloatArray, BoolArray, BoolArray | None]:
    """The panel rows of the customers with a row, summed by ranges of customer codes.

    Each task sums its range's rows (in row order) into its own block, checks
    the block's sums (the first range with an overflow names the same
    customer and period as one thread would) and writes its customers' rows
    into their place in the output: no merge, no second pass.

    Threads, not the forked workers of :func:`custrel._parallel.run`: with
    workers writing the panel into shared memory, ``value_panel`` of 5M rows
    on 16 cores ran 0.73x to 0.93x the speed of one thread (the fork and the
    copy of the panel out of shared memory cost more than ``bincount``'s
    GIL), on threads 1.32x to 1.40x from 4 threads on.
    """
    k = log.n_customers
    present = _numeric.bincount(codes, minlength=k) > 0
    before = np.concatenate([[0], np.cumsum(present)])  # output row of each code
    m = int(before[-1])
    values: FloatArray = np.empty((m, n_periods))
    active = None if buys is None else np.empty((m, n_periods), dtype=bool)
    ranges = _parallel.code_ranges(codes, k, parts)
    labels = log.customer_labels

    def task(i: int) -> None:
        lo, hi = ranges[i]
        c, i_, x, b = _parallel.take_range(codes, lo, hi, k, idx, col, buys)
        block, here, act = _panel_rows(c, i_, x, b, hi - lo, n_periods)
        v.check_sums_finite(block, value, labels=labels[lo:hi])
        at = slice(int(before[lo]), int(before[hi]))
        values[at] = block[here]
        if active is not None and act is not None:
            active[at] = act[here]

    _parallel.run_ordered(task, len(ranges), threads)
    return values, present, active


def _panel(
    log: TransactionLog,
    period: str | float,
    value: str,
    observation_end: Any,
    *,
    activity: bool,
    threads: int | None = 1,
) -> tuple[npt.NDArray[Any], FloatArray, npt.NDArray[Any], BoolArray | None]:
    """The value panel's customers, values and period starts; with ``activity`` the purchase cells.

    A purchase cell holds at least one purchase row (amount >= 0): a period
    with only returns moves the value, never the activity (the returns rule).
    With several threads, contiguous ranges of customer codes are summed on
    the shared pool into disjoint blocks of panel rows (identical to one
    thread: each cell adds the same rows in the same order).
    """
    v.choice(value, "value", _VALUES)
    n_threads = _parallel.resolve_threads(threads)
    idx, n_periods, keep = _log_periods(log, period, observation_end, panel=True)
    col = _value_column(log, value)
    codes = log.customer_code
    buys = log.is_purchase
    if not keep.all():
        idx, col, codes, buys = idx[keep], col[keep], codes[keep], buys[keep]
    k = log.n_customers
    # bincount holds the GIL: split from MIN_GIL_BOUND_THREADS threads on
    parts = _parallel.n_parts(len(codes), n_threads, gil_bound=_PANEL_GIL_BOUND)
    if parts <= 1:
        values, present, active = _panel_rows(
            codes, idx, col, buys if activity else None, k, n_periods
        )
        v.check_sums_finite(values, value, labels=log.customer_labels)
        values = values[present]
        if active is not None:
            active = active[present]
    else:
        values, present, active = _panel_by_ranges(
            log, codes, idx, col, buys if activity else None, n_periods, value, parts, n_threads
        )
    t0 = log.numeric_time().min()
    if log.time_kind == "datetime" and period in ("month", "quarter", "year"):
        step = {"month": 1, "quarter": 3, "year": 12}[str(period)]
        m0 = np.datetime64(int(t0), "s").astype("datetime64[M]")
        if period == "year":
            m0 = m0.astype("datetime64[Y]").astype("datetime64[M]")
        starts: npt.NDArray[Any] = (
            m0 + np.arange(n_periods) * step * np.timedelta64(1, "M")
        ).astype("datetime64[s]")
    else:
        unit = log.unit_length(period, "period")
        if log.time_kind == "datetime" and period == "day":
            t0 = np.floor(t0 / 86400.0) * 86400.0
        s = t0 + np.arange(n_periods) * unit
        starts = s.astype(np.int64).astype("datetime64[s]") if log.time_kind == "datetime" else s
    return log.customer_labels[present], values, starts, active


def stages_from_log(
    log: TransactionLog,
    *,
    period: str | float = "month",
    value: str = "amount",
    observation_end: Any = None,
    rules: StageRules | None = None,
    threads: int | None = None,
) -> StageClassification:
    """Each customer's lifecycle stage from a transaction log.

    Sums ``value`` per customer and ``period`` (:func:`value_panel`) and
    classifies the panel (:func:`classify_stages`).

    Parameters
    ----------
    log : TransactionLog
        The transactions.
    period : str or float
        Period length; ``"month"`` by default.
    value : {"amount", "transaction_value", "profit", "volume"}
        What the stages are read from.
    observation_end : date or number, optional
        The date the stages are judged at (default: the log's last time).
    rules : StageRules, optional
        Thresholds in periods of ``period``.
    threads : int, optional
        How many threads classify the customers: by default the environment
        variable ``CUSTREL_THREADS`` (an integer >= 1), else every core this
        process may use; 1 runs on one thread. The result does not depend on
        it: each thread classifies the same blocks of customers as one
        thread would, and the blocks are joined in order.

    Returns
    -------
    StageClassification
        One row per customer, in the order of ``log.customer_labels``.

    Raises
    ------
    InvalidInputError
        As :func:`value_panel`.
    InvalidTypeError
        If ``log`` is not a :class:`~custrel.TransactionLog` or ``threads``
        is not an integer.

    Notes
    -----
    Only purchases make a period active (the returns rule): a period whose
    rows are all returns (negative amounts) moves the value but is no sign
    of life, so a customer who only returned something has no activity and
    one whose last row is a return lapses from its last purchase. The
    hysteresis loop visits only the periods where some reading changes, and a
    customer whose reading has settled (lapsed, its smoothing windows empty)
    is read on a panel that ends there and moved on to the last period
    exactly (only tenure, idle time and the lapsing margin grow), so one
    far-future row costs its own customer, not every customer, the span.

    Examples
    --------
    >>> from custrel import TransactionLog
    >>> log = TransactionLog.from_arrays(
    ...     customer_id=["a"] * 8 + ["b"] * 2,
    ...     time=[0, 1, 2, 3, 4, 5, 6, 7, 6, 7],
    ...     amount=[5, 9, 10, 10, 10, 10, 10, 10, 4, 4],
    ... )
    >>> r = stages_from_log(log, period=1.0)
    >>> dict(zip(r.customer_id.tolist(), r.stages().tolist()))
    {'a': 'stability', 'b': 'too_new'}
    """
    ru = _rules(rules)
    v.choice(value, "value", _VALUES)
    n_threads = _parallel.resolve_threads(threads)
    idx, n_periods, keep = _log_periods(log, period, observation_end, panel=True)
    col = _value_column(log, value)
    codes, buys = log.customer_code, log.is_purchase
    if not keep.all():
        idx, col, codes, buys = idx[keep], col[keep], codes[keep], buys[keep]
    k = log.n_customers
    present = _numeric.bincount(codes, minlength=k) > 0
    # Where each customer's reading settles: after its last row, once the
    # window (w, from its purchase gap) has emptied three times over and the
    # inactivity rule has fired, every later period reads "lapsed" with the
    # same level and trend and only tenure and idle time grow. Those customers
    # are read on the panel up to the latest such point and moved on to the
    # end exactly, so an empty span (a far-future date) costs nothing for them.
    last_row = np.full(k, -1, dtype=np.int64)
    np.maximum.at(last_row, codes, idx)
    cells = _numeric.sorted_unique(codes[buys] * n_periods + idx[buys])
    cc, ci = cells // n_periods, cells % n_periods
    cnt = _numeric.bincount(cc, minlength=k)
    first = np.full(k, n_periods, dtype=np.int64)
    np.minimum.at(first, cc, ci)
    last = np.full(k, -1, dtype=np.int64)
    np.maximum.at(last, cc, ci)
    gap = np.where(cnt >= 2, (last - first) / np.maximum(cnt - 1, 1), 1.0)
    w = np.maximum(ru.window, np.ceil(ru.gap_window * gap)).astype(np.int64) + 1
    settled = last_row + 3 * w + ru.inactive_periods + 3
    early = present & (settled < n_periods - 1)
    width = int(settled[early].max()) + 1 if early.any() else n_periods
    out: dict[str, Any] = {}
    where_present = np.cumsum(present) - 1
    for group, cols in ((early, width), (present & ~early, n_periods)):
        if not group.any():
            continue
        pos = np.cumsum(group) - 1
        rows = group[codes]
        key = pos[codes[rows]] * cols + idx[rows]
        m = int(group.sum())
        values = np.asarray(
            _numeric.bincount(key, weights=col[rows], minlength=m * cols), dtype=np.float64
        ).reshape(m, cols)
        v.check_sums_finite(values, value, labels=log.customer_labels[group])
        active = (_numeric.bincount(key[buys[rows]], minlength=m * cols) > 0).reshape(m, cols)
        a = _stage_arrays(values, ru, history=False, active=active, threads=n_threads)
        if cols < n_periods:  # move the settled readings on to the last period
            lapsed = a["code"] == _CODE_LAPSED
            shift = n_periods - cols
            a["tenure"][lapsed] += shift
            a["idle"][lapsed] += shift
            idle, kk = a["idle"][lapsed], ru.inactive_periods
            a["margin"][lapsed] = (idle - kk + 0.5) / (kk - 0.5) if kk > 1 else idle - 0.5
        at = where_present[group]
        for name, arr in a.items():
            if name not in out:
                out[name] = np.empty(int(present.sum()), dtype=arr.dtype)
            out[name][at] = arr
    return StageClassification(
        log.customer_labels[present],
        out["code"],
        out["margin"],
        out["tenure"],
        out["level"],
        out["trend"],
        out["idle"],
        ru,
    )


def _value_column(log: TransactionLog, value: str) -> FloatArray:
    """The per-row values a panel sums (domain notes §2.1)."""
    if value == "volume":
        if log.volume is None:
            raise InvalidInputError("value 'volume' needs a log with a volume column")
        return log.volume
    out: FloatArray = getattr(log, value)() if value != "amount" else log.amount
    return out


# ---------------------------------------------------------------------------
# Lifecycle patterns I–IV
# ---------------------------------------------------------------------------


@attrs.frozen(eq=False)
class PatternResult(
    Tabular, columns=("customer_id", "ended", "pattern_code", "stability_periods", "last_active")
):
    """Lifecycle pattern (I–IV) of each customer whose relationship ended.

    Attributes
    ----------
    customer_id : numpy.ndarray
        Customer ids.
    ended : numpy.ndarray of bool
        Whether the relationship has ended.
    pattern_code : numpy.ndarray of int64
        0..3 for patterns I..IV; -1 where the relationship has not ended or
        was never judged (ended before ``min_tenure``, counted as I only when
        ``count_too_new_as_early`` was set).
    stability_periods : numpy.ndarray of int64
        Periods spent in stability before the end.
    last_active : numpy.ndarray of int64
        Index of the last period with a non-zero value (-1 if none).
    """

    customer_id: npt.NDArray[Any] = attrs.field(converter=v.freeze)
    ended: BoolArray = attrs.field(converter=v.freeze)
    pattern_code: IntArray = attrs.field(converter=v.freeze)
    stability_periods: IntArray = attrs.field(converter=v.freeze)
    last_active: IntArray = attrs.field(converter=v.freeze)

    def patterns(self) -> npt.NDArray[Any]:
        """Per customer the :class:`~custrel.models.LifecyclePattern`, or ``None``."""
        names = np.asarray([*list(LifecyclePattern), None], dtype=object)
        out: npt.NDArray[Any] = names[self.pattern_code]
        return out

    def mix(self) -> dict[LifecyclePattern, float]:
        """Share of each pattern among the classified ended relationships (0 if none)."""
        c = _numeric.bincount(self.pattern_code[self.pattern_code >= 0], minlength=4)
        n = int(c.sum())
        return {p: (float(c[i]) / n if n else 0.0) for i, p in enumerate(LifecyclePattern)}


def classify_patterns(
    values: Any,
    *,
    customer_id: Any = None,
    ended: Any = None,
    inactive_periods: int | None = None,
    long_stability: int = 12,
    rules: StageRules | None = None,
    count_too_new_as_early: bool = True,
) -> PatternResult:
    """Lifecycle pattern I–IV of every ended relationship, and the pattern mix.

    Parameters
    ----------
    values : array-like, shape (customers, periods)
        As for :func:`classify_stages`.
    customer_id : array-like, optional
        One id per row.
    ended : array-like of bool, optional
        Which relationships have ended. By default a relationship has ended
        when its last ``inactive_periods`` periods are all zero: exactly the
        customers :func:`classify_stages` labels :data:`LAPSED`.
    inactive_periods : int, optional
        The inactivity rule used when ``ended`` is not given; defaults to
        ``rules.inactive_periods`` (3), as :func:`churn_rate`.
    long_stability : int
        Periods of stability from which an ending counts as "late in
        stability" (IV) rather than "early" (III). Default 12.
    rules : StageRules, optional
        Thresholds of the stage classifier.
    count_too_new_as_early : bool
        A relationship that ended before the classifier could judge it
        (shorter than ``min_tenure``) is an early abortion (I) when True
        (the default), unclassified (-1) when False.

    Returns
    -------
    PatternResult

    Raises
    ------
    InvalidInputError
        For a bad panel, a wrong-length ``ended`` or bad integers.

    Notes
    -----
    domain notes §4 names the patterns by the stage the relationship ended in:
    I early abortion (exploration), II midway (formation), III premature
    (early in stability), IV long-lasting (late in stability). Read on a
    per-period :func:`stage_history` up to the last active period, the
    furthest stage a customer reached decides: never past exploration → I;
    reached formation, never stability → II; reached stability → III when it
    lasted fewer than ``long_stability`` periods, else IV. A relationship
    that went through decline before ending is therefore judged by the
    stability that preceded the decline.

    Examples
    --------
    >>> panel = [
    ...     [3, 3, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    ...     [1, 2, 4, 8, 16, 0, 0, 0, 0, 0, 0, 0],
    ...     [5, 5, 5, 5, 5, 5, 5, 5, 5, 0, 0, 0],
    ...     [5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5],
    ... ]
    >>> r = classify_patterns(panel, long_stability=6)
    >>> [p.value if p else None for p in r.patterns()]
    ['I', 'II', 'III', None]
    >>> r.mix()[LifecyclePattern.EARLY_ABORTION]
    0.3333333333333333
    """
    x = _check_panel(values)
    n, t_len = x.shape
    ids = _ids(customer_id, n)
    ru = _rules(rules)
    k = v.positive_int(
        ru.inactive_periods if inactive_periods is None else inactive_periods,
        "inactive_periods",
    )
    long_s = v.positive_int(long_stability, "long_stability")
    nz = x != 0
    any_nz = nz.any(axis=1)
    last = np.where(any_nz, t_len - 1 - nz[:, ::-1].argmax(axis=1), -1).astype(np.int64)
    if ended is None:
        end = any_nz & (last <= t_len - 1 - k)
    else:
        end = np.asarray(ended)
        if end.dtype != bool:
            raise InvalidTypeError(f"ended must be booleans, got dtype {end.dtype}")
        if end.shape != (n,):
            raise InvalidInputError(f"ended has shape {end.shape} but values has {n} customers")
        end = end & any_nz
    hist = stage_history(x, rules=ru).stage_code
    upto = np.arange(t_len)[None, :] <= last[:, None]
    h = np.where(upto, hist, -1)
    furthest = h.max(axis=1)  # decline (3) counts via the stability before it
    n_stab = ((h == 2) & upto).sum(axis=1).astype(np.int64)
    reached_stab = n_stab > 0
    reached_form = ((h == 1) & upto).any(axis=1)
    code = np.full(n, -1, dtype=np.int64)
    judged = furthest >= 0
    code[judged] = 0
    code[judged & reached_form] = 1
    code[judged & reached_stab] = 2
    code[judged & reached_stab & (n_stab >= long_s)] = 3
    if count_too_new_as_early:
        code[~judged & any_nz] = 0
    code[~end] = -1
    return PatternResult(ids, end, code, n_stab, last)


# ---------------------------------------------------------------------------
# Churn and survival from a log
# ---------------------------------------------------------------------------


@attrs.frozen(eq=False)
class ChurnResult:
    """Churn per period under an inactivity rule (domain notes §2.8).

    Attributes
    ----------
    period : numpy.ndarray of int64
        Period numbers (0 = the log's first period) whose churn can be judged.
    at_start : numpy.ndarray of int64
        Customers active at the start of each period.
    lost : numpy.ndarray of int64
        Customers lost in each period.
    churn : numpy.ndarray of float64
        ``lost / at_start``; NaN where nobody was active (0/0).
    rate : float
        Pooled churn: total lost / total customer-periods at start; NaN (0/0)
        when no customer-period can be judged (a log shorter than the
        inactivity rule).
    inactive_periods : int
        The inactivity rule.
    """

    period: IntArray = attrs.field(converter=v.freeze)
    at_start: IntArray = attrs.field(converter=v.freeze)
    lost: IntArray = attrs.field(converter=v.freeze)
    churn: FloatArray = attrs.field(converter=v.freeze)
    rate: float
    inactive_periods: int

    def mean_lifetime(self) -> float:
        """Mean lifetime in periods, 1 / churn (domain notes §2.8); inf when churn is 0."""
        return float("inf") if self.rate == 0 else 1.0 / self.rate

    def retention_rate(self) -> float:
        """1 − churn."""
        return 1.0 - self.rate


def _customer_periods(
    log: TransactionLog, period: str | float, observation_end: Any, inactive_periods: int
) -> tuple[IntArray, IntArray, int, BoolArray]:
    """Acquisition and last-purchase period per customer, last period, lost flag.

    Only purchases count (the returns rule): a return is no sign of life, and a
    customer with returns only was never acquired.
    """
    idx, n_periods, keep = _log_periods(log, period, observation_end, panel=False)
    codes = log.customer_code
    keep = keep & log.is_purchase
    if not keep.any():
        raise EmptyInputError(
            "the log has no purchase on or before the observation end: every row there is a "
            "return (a negative amount), so no customer was acquired"
        )
    if not keep.all():
        idx, codes = idx[keep], codes[keep]
    k = log.n_customers
    first = np.full(k, np.iinfo(np.int64).max, dtype=np.int64)
    last = np.full(k, -1, dtype=np.int64)
    np.minimum.at(first, codes, idx)
    np.maximum.at(last, codes, idx)
    present = last >= 0
    first, last = first[present], last[present]
    end_period = n_periods - 1
    lost = last + inactive_periods <= end_period
    return first, last, end_period, lost


def churn_rate(
    log: TransactionLog,
    *,
    period: str | float = "month",
    inactive_periods: int = 3,
    observation_end: Any = None,
) -> ChurnResult:
    r"""Churn per period from a transaction log, with a stated inactivity rule.

    Parameters
    ----------
    log : TransactionLog
        The transactions.
    period : str or float
        Period length; ``"month"`` by default (a number for numeric logs).
    inactive_periods : int
        The inactivity rule: a customer is lost once ``inactive_periods``
        whole periods pass without a purchase; the loss is dated in the first
        period after its last purchase. Default 3.
    observation_end : date or number, optional
        End of observation (default: the log's last time).

    Returns
    -------
    ChurnResult

    Raises
    ------
    InvalidInputError
        For a bad ``inactive_periods`` or ``observation_end``, or more periods
        than ``CUSTREL_MAX_PERIODS`` (naming the time that made the span).
    EmptyInputError
        If no purchase lies on or before the observation end (returns only).

    Notes
    -----
    Only purchases count (returns are no sign of life: custrel's returns
    rule): acquisition is a customer's first purchase and loss is dated
    from its last purchase; a customer with returns only is never acquired.
    In a non-contractual setting nobody announces leaving, so loss is
    inferred: a customer whose last purchase is in period :math:`p` is lost
    in period :math:`p + 1` if periods :math:`p + 1 .. p + k` are observed
    and empty. A customer who came back after a gap was never lost ("lost for
    good"). Churn can only be judged for periods :math:`t \le E - k + 1`
    (:math:`E` the last period); later periods are left out. Active at the
    start of :math:`t`: acquired before :math:`t` and not yet lost. The pooled
    rate is total losses over total customer-periods at risk, and the mean
    lifetime is its inverse (domain notes §2.8).

    Examples
    --------
    >>> from custrel import TransactionLog
    >>> log = TransactionLog.from_arrays(
    ...     customer_id=[1, 1, 2, 3, 3, 3],
    ...     time=[0, 1, 0, 0, 2, 5],
    ...     amount=[1, 1, 1, 1, 1, 1],
    ... )
    >>> r = churn_rate(log, period=1.0, inactive_periods=2)
    >>> r.period.tolist(), r.at_start.tolist(), r.lost.tolist()
    ([0, 1, 2, 3, 4], [0, 3, 2, 1, 1], [0, 1, 1, 0, 0])
    >>> round(r.rate, 3), round(r.mean_lifetime(), 2)
    (0.286, 3.5)
    """
    k = v.positive_int(inactive_periods, "inactive_periods")
    first, last, end_period, lost = _customer_periods(log, period, observation_end, k)
    n_judged = max(end_period - k + 2, 0)  # periods 0 .. E-k+1
    loss_period = last[lost] + 1
    acq = _numeric.bincount(first, minlength=end_period + 2)
    gone = _numeric.bincount(loss_period, minlength=end_period + 2)
    acquired_before = np.concatenate([[0], np.cumsum(acq)[:-1]])
    lost_before = np.concatenate([[0], np.cumsum(gone)[:-1]])
    at_start = (acquired_before - lost_before)[:n_judged].astype(np.int64)
    lost_t = gone[:n_judged].astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        churn = lost_t / at_start
    exposure = int(at_start.sum())
    rate = float(lost_t.sum() / exposure) if exposure else float("nan")
    return ChurnResult(np.arange(n_judged, dtype=np.int64), at_start, lost_t, churn, rate, k)


@attrs.frozen(eq=False)
class SurvivalCurve:
    """A Kaplan–Meier survival curve of one group.

    Attributes
    ----------
    time : numpy.ndarray of float64
        Distinct times with an event or a censoring, ascending.
    at_risk, events, censored : numpy.ndarray of int64
        Customers at risk just before each time, lost at it, censored at it.
    survival : numpy.ndarray of float64
        Estimated probability of surviving past each time.
    n : int
        Group size.
    """

    time: FloatArray = attrs.field(converter=v.freeze)
    at_risk: IntArray = attrs.field(converter=v.freeze)
    events: IntArray = attrs.field(converter=v.freeze)
    censored: IntArray = attrs.field(converter=v.freeze)
    survival: FloatArray = attrs.field(converter=v.freeze)
    n: int

    def survival_at(self, t: Any) -> FloatArray:
        """S(t), the step function evaluated at ``t`` (1 before the first time)."""
        tt = v.as_float_array(t, "t", ndim=(0, 1))
        pos = np.searchsorted(self.time, tt, side="right")
        full = np.concatenate([[1.0], self.survival])
        out: FloatArray = np.asarray(full[pos], dtype=np.float64)
        return out

    def median_lifetime(self) -> float:
        """The first time where S(t) ≤ 0.5; inf when the curve never gets there."""
        hit = np.flatnonzero(self.survival <= 0.5)
        return float(self.time[hit[0]]) if len(hit) else float("inf")


@attrs.frozen(eq=False)
class KaplanMeierResult:
    """Kaplan–Meier curves per group (e.g. per acquisition cohort).

    Attributes
    ----------
    groups : numpy.ndarray
        The group labels, sorted (a single ``0`` when no groups were given).
    curves : tuple of SurvivalCurve
        One curve per group.
    """

    groups: npt.NDArray[Any] = attrs.field(converter=v.freeze)
    curves: tuple[SurvivalCurve, ...]

    def __len__(self) -> int:
        return len(self.curves)

    def curve(self, group: Any) -> SurvivalCurve:
        """The curve of one group."""
        group = v.one_label(group, "group")
        key = id_key(group)
        for i, label in enumerate(self.groups.tolist()):
            if id_key(label) == key:
                return self.curves[i]
        raise InvalidInputError(f"group {group!r} is not one of {self.groups.tolist()!r}")

    def median_lifetime(self) -> FloatArray:
        """Median lifetime per group (inf where a curve stays above 0.5)."""
        return np.asarray([c.median_lifetime() for c in self.curves], dtype=np.float64)


def kaplan_meier(
    durations: Any,
    observed: Any = None,
    *,
    groups: Any = None,
) -> KaplanMeierResult:
    r"""Kaplan–Meier survival curves with right-censoring, per group.

    Parameters
    ----------
    durations : array-like of float
        Per customer, time from acquisition to loss (or to censoring); >= 0.
    observed : array-like of bool, optional
        True where the loss was observed, False where the customer was still
        active at the end of observation (right-censored). Default all True.
    groups : array-like, optional
        A group (e.g. acquisition cohort) per customer; one curve per group.

    Returns
    -------
    KaplanMeierResult

    Raises
    ------
    InvalidInputError
        For negative or non-finite durations or mismatched lengths.

    Notes
    -----
    :math:`\hat S(t) = \prod_{t_i \le t} (1 - d_i / n_i)` with :math:`d_i`
    losses at :math:`t_i` and :math:`n_i` customers still at risk just
    before it (censored customers leave the risk set after their time) (Kaplan & Meier 1958).
    One lexicographic sort of (group, time), counts per distinct time by
    ``add.reduceat``, and a cumulative product per group. Matches
    ``lifelines.KaplanMeierFitter`` (tests cross-check it).

    Examples
    --------
    >>> km = kaplan_meier([1, 2, 2, 3, 5], [True, True, False, True, False])
    >>> c = km.curves[0]
    >>> c.time.tolist(), np.round(c.survival, 3).tolist()
    ([1.0, 2.0, 3.0, 5.0], [0.8, 0.6, 0.3, 0.3])
    >>> c.median_lifetime()
    3.0
    """
    d = v.as_float_array(durations, "durations", ndim=1)
    v.check_range(d, "durations", low=0.0)
    n = len(d)
    if observed is None:
        obs = np.ones(n, dtype=bool)
    else:
        obs = np.asarray(observed)
        if obs.dtype != bool:
            raise InvalidTypeError(f"observed must be booleans, got dtype {obs.dtype}")
        if obs.ndim != 1:
            raise InvalidInputError(f"observed must be 1-D, got shape {obs.shape}")
        v.check_same_length(durations=d, observed=obs)
    if groups is None:
        labels: npt.NDArray[Any] = np.zeros(1, dtype=np.int64)
        gcode = np.zeros(n, dtype=np.int64)
    else:
        labels, gcode = v.group_codes(groups, "groups", n, what="durations")
    return _km(d, obs, gcode, labels)


def _km(
    d: FloatArray, obs: BoolArray, gcode: IntArray, labels: npt.NDArray[Any]
) -> KaplanMeierResult:
    n_groups = len(labels)
    gsize = _numeric.bincount(gcode, minlength=n_groups)
    top = float(d.max())
    span = int(top) + 1
    if top < 2**31 and n_groups * span <= max(4 * len(d), 1 << 20) and np.all(d == np.floor(d)):
        # whole-number durations (periods): count per (group, time) cell, no sort
        key = gcode * span + d.astype(np.int64)
        tot = _numeric.bincount(key, minlength=n_groups * span)
        evc = _numeric.bincount(key[obs], minlength=n_groups * span)
        cells = np.flatnonzero(tot)
        grp = (cells // span).astype(np.int64)
        times = (cells % span).astype(np.float64)
        size = tot[cells]
        ev = evc[cells]
        before = np.cumsum(size) - size  # customers in earlier cells overall
    else:
        order = np.lexsort((d, gcode))
        ds, gs, os_ = d[order], gcode[order], obs[order]
        new = np.empty(len(ds), dtype=bool)
        new[0] = True
        new[1:] = (ds[1:] != ds[:-1]) | (gs[1:] != gs[:-1])
        starts = np.flatnonzero(new)
        grp = gs[starts]
        times = ds[starts]
        size = np.diff(np.append(starts, len(ds)))
        ev = np.add.reduceat(os_.astype(np.int64), starts)
        before = starts
    cens = size - ev
    # at risk: customers of the group with time >= t = group size - those before
    gfirst = np.concatenate([[0], np.cumsum(gsize)[:-1]])
    at_risk = gsize[grp] - (before - gfirst[grp])
    factor = 1.0 - ev / at_risk
    gstart_idx = np.searchsorted(grp, np.arange(len(labels)), side="left")
    bounds = np.append(gstart_idx, len(grp))
    # the product per group (a loop over groups, not customers): cumprod keeps
    # S exact where it should be (0.75 * 2/3 is 0.5, the median test is <= 0.5)
    surv = np.empty(len(factor))
    for i in range(n_groups):
        lo, hi = bounds[i], bounds[i + 1]
        surv[lo:hi] = np.cumprod(factor[lo:hi])
    curves = tuple(
        SurvivalCurve(
            times[bounds[i] : bounds[i + 1]],
            at_risk[bounds[i] : bounds[i + 1]].astype(np.int64),
            ev[bounds[i] : bounds[i + 1]].astype(np.int64),
            cens[bounds[i] : bounds[i + 1]].astype(np.int64),
            surv[bounds[i] : bounds[i + 1]],
            int(gsize[i]),
        )
        for i in range(n_groups)
    )
    return KaplanMeierResult(labels, curves)


def survival_from_log(
    log: TransactionLog,
    *,
    period: str | float = "month",
    inactive_periods: int = 3,
    cohort_periods: int = 12,
    observation_end: Any = None,
) -> KaplanMeierResult:
    r"""Survival curves per acquisition cohort from a log (right-censored Kaplan–Meier).

    Parameters
    ----------
    log : TransactionLog
        The transactions.
    period : str or float
        Period length: lifetimes are counted in these periods (``"month"``).
    inactive_periods : int
        The inactivity rule of :func:`churn_rate`.
    cohort_periods : int
        Consecutive acquisition periods pooled into one cohort (12 months =
        yearly cohorts by default). The cohort label is the number of the
        cohort, 0 for the customers acquired in the log's first periods.
    observation_end : date or number, optional
        End of observation (default: the log's last time).

    Returns
    -------
    KaplanMeierResult
        Groups are cohort numbers; times are lifetimes in periods.

    Raises
    ------
    InvalidInputError
        As :func:`churn_rate`, or for a bad ``cohort_periods``.

    Notes
    -----
    A customer acquired in period :math:`a` whose last purchase is in
    period :math:`p` lived :math:`p + 1 - a` periods. Under the inactivity
    rule the loss is observed when :math:`p + k \le E`; otherwise the
    customer is censored at :math:`p + 1 - a`, the time it is known to have
    been active for.

    Examples
    --------
    >>> from custrel import TransactionLog
    >>> log = TransactionLog.from_arrays(
    ...     customer_id=[1, 1, 2, 3, 3, 4], time=[0, 3, 0, 1, 9, 2], amount=[1] * 6
    ... )
    >>> km = survival_from_log(log, period=1.0, inactive_periods=3, cohort_periods=12)
    >>> c = km.curves[0]
    >>> c.time.tolist(), c.events.tolist(), np.round(c.survival, 2).tolist()
    ([1.0, 4.0, 9.0], [2, 1, 0], [0.5, 0.25, 0.25])
    """
    k = v.positive_int(inactive_periods, "inactive_periods")
    cp = v.positive_int(cohort_periods, "cohort_periods")
    first, last, _end, lost = _customer_periods(log, period, observation_end, k)
    dur = (last + 1 - first).astype(np.float64)
    cohort = first // cp
    labels, gcode = np.unique(cohort, return_inverse=True)
    return _km(dur, lost, gcode.reshape(-1).astype(np.int64), labels)


# ---------------------------------------------------------------------------
# The shifted-beta-geometric model (Fader & Hardie 2007)
# ---------------------------------------------------------------------------


def _sbg_parse(survivors: Any) -> list[FloatArray]:
    if isinstance(survivors, str | bytes):
        raise InvalidTypeError(f"survivors must be numeric, got the string {survivors!r}")
    if isinstance(survivors, Sequence) and len(survivors) and not np.isscalar(survivors[0]):
        rows = [
            v.as_float_array(r, f"survivors[{i}]", ndim=1, finite=False)
            for i, r in enumerate(survivors)
        ]
    else:
        arr = v.as_float_array(survivors, "survivors", ndim=(1, 2), finite=False)
        rows = [arr] if arr.ndim == 1 else list(arr)
    if not rows:
        raise EmptyInputError("survivors is empty; give at least one cohort")
    out = []
    for i, r in enumerate(rows):
        nan = np.isnan(r)
        if nan.any():
            j = int(np.argmax(nan))
            if not nan[j:].all():
                raise InvalidInputError(
                    f"survivors has a value after NaN in cohort {i} at period {int(np.flatnonzero(~nan[j:])[0]) + j}; "
                    "NaN only pads the end of shorter cohorts"
                )
            r = r[:j]
        if len(r) < 2:
            raise InvalidInputError(
                f"survivors cohort {i} has {len(r)} counts; needs the cohort size and at least one more"
            )
        v.check_finite(r, f"survivors[{i}]")
        v.check_range(r, f"survivors[{i}]", low=0.0)
        v.check_range(
            r,
            f"survivors[{i}]",
            high=2.0**53,
            hint="customer counts above 2**53 are not held exactly (their log-likelihood overflows)",
        )
        if r[0] <= 0:
            raise InvalidInputError(
                f"survivors cohort {i} starts with {float(r[0])!r}; the cohort size must be > 0"
            )
        inc = np.flatnonzero(np.diff(r) > 0)
        if len(inc):
            j = int(inc[0]) + 1
            raise InvalidInputError(
                f"survivors must not increase, got {float(r[j])!r} after {float(r[j - 1])!r} in cohort {i} at period {j}"
            )
        out.append(r)
    return out


def _sbg_stats(
    rows: list[FloatArray], w: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Churn counts at t = 1..T and right-censored counts at t, pooled over cohorts.

    Cohorts share the likelihood terms of equal t, so the likelihood costs
    O(longest cohort), not O(cohorts x periods).
    """
    t_max = max(len(r) for r in rows)
    ne = np.zeros(t_max)
    nc = np.zeros(t_max)
    for r, wi in zip(rows, w, strict=True):
        ne[1 : len(r)] += wi * (r[:-1] - r[1:])
        nc[len(r) - 1] += wi * r[-1]
    t = np.arange(t_max, dtype=np.float64)
    ev, cen = ne > 0, nc > 0
    return t[ev], ne[ev], t[cen], nc[cen]


def _sbg_ll(
    a: float, b: float, te: FloatArray, ne: FloatArray, tc: FloatArray, nc: FloatArray
) -> tuple[float, FloatArray]:
    """Log-likelihood and gradient in (alpha, beta)."""
    # log P(T = t) = lnB(a + 1, b + t - 1) - lnB(a, b); log S(t) = lnB(a, b + t) - lnB(a, b)
    base = special.betaln(a, b)
    ll = float(
        np.dot(ne, special.betaln(a + 1, b + te - 1) - base)
        + np.dot(nc, special.betaln(a, b + tc) - base)
    )
    ps = special.digamma
    n_tot = ne.sum() + nc.sum()
    # d lnB(x, y)/dx = psi(x) - psi(x + y)
    g_base = np.array([ps(a) - ps(a + b), ps(b) - ps(a + b)])
    ae, be = a + 1, b + te - 1
    ac, bc = a, b + tc
    ga = np.dot(ne, ps(ae) - ps(ae + be)) + np.dot(nc, ps(ac) - ps(ac + bc))
    gb = np.dot(ne, ps(be) - ps(ae + be)) + np.dot(nc, ps(bc) - ps(ac + bc))
    grad = np.array([ga, gb]) - n_tot * g_base
    return ll, grad


def _sbg_hessian(
    a: float, b: float, te: FloatArray, ne: FloatArray, tc: FloatArray, nc: FloatArray
) -> FloatArray:
    """Hessian of the log-likelihood in (alpha, beta), from trigamma functions."""

    def t1(z: Any) -> Any:
        return special.polygamma(1, z)

    n_tot = ne.sum() + nc.sum()
    ae, be = a + 1, b + te - 1
    ac, bc = a, b + tc
    h_base = np.array(
        [
            [t1(a) - t1(a + b), -t1(a + b)],
            [-t1(a + b), t1(b) - t1(a + b)],
        ]
    )
    haa = np.dot(ne, t1(ae) - t1(ae + be)) + np.dot(nc, t1(ac) - t1(ac + bc))
    hbb = np.dot(ne, t1(be) - t1(ae + be)) + np.dot(nc, t1(bc) - t1(ac + bc))
    hab = -np.dot(ne, t1(ae + be)) - np.dot(nc, t1(ac + bc))
    out: FloatArray = np.array([[haa, hab], [hab, hbb]]) - n_tot * h_base
    return out


#: |log alpha|, |log beta| beyond this (1e6) means the Beta mixing distribution
#: has collapsed to a point: no heterogeneity for the sBG to describe.
_SBG_MAX_LOG = float(np.log(1e6))


def _newton_2d(
    fun: Any, hess: Any, z0: FloatArray, max_iter: int, bound: float = 20.0
) -> tuple[FloatArray, int, float]:
    """Minimise with Levenberg-damped Newton steps on an analytic Hessian, z in [-bound, bound].

    Returns the point, the iterations used and the largest gradient component
    there (NaN is reported for a point stuck on the bound, which the caller
    treats as divergence).
    """
    z = np.clip(np.asarray(z0, dtype=np.float64), -bound, bound)
    f, g = fun(z)
    lam = 1e-6
    it = 0
    for it in range(1, max_iter + 1):  # noqa: B007 - the count is reported
        if float(np.max(np.abs(g))) < 1e-11:
            break
        h = hess(z)
        if not (np.all(np.isfinite(h)) and np.all(np.isfinite(g))):
            raise ConvergenceError(
                f"sBG fit hit a non-finite likelihood at log-params {z.tolist()}"
            )
        shift = max(lam, 1e-10 - float(np.linalg.eigvalsh(h)[0]))
        moved = False
        while shift < 1e12:
            step = np.linalg.solve(h + shift * np.eye(len(z)), g)
            z_new = np.clip(z - step, -bound, bound)
            f_new, g_new = fun(z_new)
            if np.isfinite(f_new) and f_new <= f:
                moved = float(np.max(np.abs(z_new - z))) > 1e-13
                z, f, g = z_new, f_new, g_new
                lam = max(shift / 10.0, 1e-12)
                break
            shift *= 10.0
        if not moved:
            break
    on_bound = bool(np.any(np.abs(z) >= bound - 0.1))
    return z, it, float("nan") if on_bound else float(np.max(np.abs(g)))


@attrs.frozen(eq=False)
class SBGModel:
    r"""A fitted shifted-beta-geometric (sBG) retention model.

    Each customer churns at the end of any period with its own probability
    :math:`\theta`, and :math:`\theta \sim \mathrm{Beta}(\alpha, \beta)`
    across customers (Fader & Hardie 2007).

    Attributes
    ----------
    params : Mapping[str, float]
        ``{"alpha": ..., "beta": ...}``.
    standard_errors : Mapping[str, float]
        Asymptotic standard errors (inverse observed information).
    covariance : numpy.ndarray, shape (2, 2)
        Covariance of (alpha, beta).
    log_likelihood : float
        At the optimum (with the weights applied).
    survivors : tuple of numpy.ndarray
        The cohorts fitted (customers at the start of each period).
    weights : numpy.ndarray
        Per-cohort weights used.
    n_iterations : int
        Optimizer iterations.

    Examples
    --------
    >>> m = fit_sbg([1000, 869, 743, 653, 593, 551, 517, 491])  # Fader & Hardie (2007)
    >>> np.round(m.survival([1, 7]), 3).tolist(), round(float(m.derl(0.10, 7)), 2)
    ([0.851, 0.489], 7.53)
    """

    params: Mapping[str, float] = attrs.field(converter=v.freeze)
    standard_errors: Mapping[str, float] = attrs.field(converter=v.freeze)
    covariance: FloatArray = attrs.field(converter=v.freeze)
    log_likelihood: float
    survivors: tuple[FloatArray, ...] = attrs.field(converter=v.freeze)
    weights: FloatArray = attrs.field(converter=v.freeze)
    n_iterations: int

    @property
    def alpha(self) -> float:
        """α of the Beta distribution of churn probabilities."""
        return self.params["alpha"]

    @property
    def beta(self) -> float:
        """β of the Beta distribution of churn probabilities."""
        return self.params["beta"]

    def survival(self, t: Any) -> FloatArray:
        r"""S(t) = B(α, β + t) / B(α, β): share of a cohort still active after ``t`` periods."""
        tt = v.as_float_array(t, "t", ndim=(0, 1))
        v.check_range(tt, "t", low=0.0)
        out: FloatArray = np.exp(
            special.betaln(self.alpha, self.beta + tt) - special.betaln(self.alpha, self.beta)
        )
        return out

    def retention_rate(self, t: Any) -> FloatArray:
        r"""r_t = (β + t − 1) / (α + β + t − 1): share of period t−1's survivors who renew at t (t ≥ 1)."""
        tt = v.as_float_array(t, "t", ndim=(0, 1))
        v.check_range(tt, "t", low=1.0)
        out: FloatArray = (self.beta + tt - 1.0) / (self.alpha + self.beta + tt - 1.0)
        return out

    def project(self, horizon: int, cohort_size: float = 1.0) -> FloatArray:
        """Expected customers active at the start of periods 0..``horizon`` (the first is ``cohort_size``)."""
        h = _markov_horizon(horizon, 1)
        size = v.scalar(cohort_size, "cohort_size", low=0.0)
        out: FloatArray = size * self.survival(np.arange(h + 1, dtype=np.float64))
        return out

    def expected_lifetime(self) -> float:
        r"""E[T] = Σ_{t≥0} S(t) = (α + β − 1)/(α − 1) periods when α > 1, else inf."""
        a, b = self.alpha, self.beta
        return (a + b - 1.0) / (a - 1.0) if a > 1.0 else float("inf")

    def discounted_expected_lifetime(self, discount_rate: float) -> float:
        r"""DEL = ₂F₁(1, β; α + β; 1/(1 + d)): discounted periods of a new customer (first undiscounted)."""
        d = v.discount_rate(discount_rate)
        if d <= 0:
            raise InvalidInputError(
                f"discount_rate must be > 0 here, got {d!r}; use expected_lifetime()"
            )
        out = float(special.hyp2f1(1.0, self.beta, self.alpha + self.beta, 1.0 / (1.0 + d)))
        return float(_sbg_finite(np.asarray(out), d))

    def derl(self, discount_rate: float, renewals: Any) -> FloatArray:
        r"""Discounted expected residual lifetime of a customer who has made ``renewals`` renewals.

        .. math::

           \mathrm{DERL}(d \mid n-1) = \frac{B(\alpha, \beta + n)}{B(\alpha, \beta + n - 1)}
           \, {}_2F_1\!\left(1, \beta + n; \alpha + \beta + n; \tfrac{1}{1+d}\right)

        with :math:`n - 1` = ``renewals``, evaluated just before the next
        renewal decision, whose payment is undiscounted (Fader & Hardie
        2010, eq. 6). Multiply by the value per period to get the
        residual lifetime value.
        """
        d = v.discount_rate(discount_rate)
        if d <= 0:
            raise InvalidInputError(f"discount_rate must be > 0, got {d!r}")
        r = v.as_float_array(renewals, "renewals", ndim=(0, 1))
        v.check_range(r, "renewals", low=0.0)
        n = r + 1.0
        a, b = self.alpha, self.beta
        ratio = np.exp(special.betaln(a, b + n) - special.betaln(a, b + n - 1.0))
        out: FloatArray = ratio * special.hyp2f1(1.0, b + n, a + b + n, 1.0 / (1.0 + d))
        return _sbg_finite(out, d)


def _sbg_finite(out: FloatArray, d: float) -> FloatArray:
    """Refuse a discounted lifetime that is infinite at this rate (alpha <= 1, d -> 0)."""
    if not np.all(np.isfinite(out)):
        raise InvalidInputError(
            f"discount_rate={d!r} is too small: with alpha <= 1 the undiscounted lifetime is "
            "infinite, and at this rate the discounted one is beyond the float range; pass a "
            "larger discount_rate"
        )
    return out


def fit_sbg(
    survivors: Any,
    *,
    weights: Any = None,
    initial: tuple[float, float] = (1.0, 1.0),
    max_iterations: int = 500,
) -> SBGModel:
    r"""Fit the shifted-beta-geometric retention model by maximum likelihood.

    Parameters
    ----------
    survivors : array-like
        Customers still active at the start of each period, the cohort size
        first: ``[1000, 631, 468, ...]``. Several cohorts as a 2-D array,
        one row per cohort, shorter cohorts padded at the end with NaN, or
        as a list of 1-D arrays of different lengths.
    weights : array-like, optional
        One positive weight per cohort; each cohort's counts are multiplied
        by it (e.g. to weight recent cohorts more). Default 1.
    initial : (float, float)
        Starting (alpha, beta).
    max_iterations : int
        Optimizer iteration limit.

    Returns
    -------
    SBGModel

    Raises
    ------
    InvalidInputError
        For negative, increasing or non-finite counts, NaN inside a cohort,
        a cohort with fewer than two counts or a zero cohort size.
    ConvergenceError
        If the optimizer fails (with its message) or the information matrix
        is singular (e.g. nobody churned).

    Notes
    -----
    With :math:`n_t` customers at the start of period :math:`t`, the
    :math:`n_{t-1} - n_t` lost at :math:`t` contribute
    :math:`\log P(T = t) = \ln B(\alpha + 1, \beta + t - 1) - \ln B(\alpha, \beta)`
    and the :math:`n_T` still active after the last period
    :math:`\log S(T) = \ln B(\alpha, \beta + T) - \ln B(\alpha, \beta)`.
    Maximised over :math:`(\log\alpha, \log\beta)` with L-BFGS-B and the
    analytic (digamma) gradient; standard errors from the analytic
    (trigamma) Hessian.

    References
    ----------
    Fader, P. S. & Hardie, B. G. S. (2007). How to project customer
    retention. *Journal of Interactive Marketing* 21(1), 76-90.

    Examples
    --------
    >>> regular = [1000, 631, 468, 382, 326, 289, 262, 241]  # Fader & Hardie (2007)
    >>> m = fit_sbg(regular)
    >>> round(m.alpha, 3), round(m.beta, 3), round(m.log_likelihood, 1)
    (0.704, 1.182, -1680.3)
    >>> np.round(m.project(9, 1000)[-2:], 1).tolist()
    [220.1, 204.4]
    """
    rows = _sbg_parse(survivors)
    w = v.weights_array(weights, len(rows))
    start = v.as_float_array(initial, "initial", ndim=1)
    if len(start) != 2:
        raise InvalidInputError(f"initial must be (alpha, beta), got {initial!r}")
    a0 = v.scalar(float(start[0]), "initial alpha", low=0.0, low_inclusive=False)
    b0 = v.scalar(float(start[1]), "initial beta", low=0.0, low_inclusive=False)
    iters = v.positive_int(max_iterations, "max_iterations")
    v.check_budget(
        iters, "max_iterations", budget=v.max_periods(), culprit=f"max_iterations={iters:,}",
        env="CUSTREL_MAX_PERIODS", hint="the fit converges in tens of iterations",
    )  # fmt: skip
    te, ne, tc, nc = _sbg_stats(rows, w)
    if ne.sum() <= 0:
        raise ConvergenceError("survivors show no churn at all; the sBG model cannot be fitted")
    scale = ne.sum() + nc.sum()

    def fun(z: FloatArray) -> tuple[float, FloatArray]:
        a, b = float(np.exp(z[0])), float(np.exp(z[1]))
        ll, g = _sbg_ll(a, b, te, ne, tc, nc)
        return -ll / scale, -g * np.array([a, b]) / scale

    def hess(z: FloatArray) -> FloatArray:
        th = np.exp(z)
        _ll, g = _sbg_ll(float(th[0]), float(th[1]), te, ne, tc, nc)
        h = _sbg_hessian(float(th[0]), float(th[1]), te, ne, tc, nc)
        out: FloatArray = -(h * np.outer(th, th) + np.diag(g * th)) / scale
        return out

    z, n_iter, gmax = _newton_2d(fun, hess, np.log([a0, b0]), iters)
    if np.isnan(gmax) or np.any(np.abs(z) > _SBG_MAX_LOG):
        raise ConvergenceError(
            "sBG fit diverged (alpha or beta grows without bound): the survivors show no "
            "heterogeneity in churn, so a plain geometric model (constant retention) fits"
        )
    if gmax > 1e-6:
        raise ConvergenceError(
            f"sBG fit did not converge in {n_iter} iterations (largest gradient {gmax:.2e}); "
            "raise max_iterations or try another initial"
        )
    a, b = float(np.exp(z[0])), float(np.exp(z[1]))
    ll, _g = _sbg_ll(a, b, te, ne, tc, nc)
    h = _sbg_hessian(a, b, te, ne, tc, nc)
    try:
        cov = np.linalg.inv(-h)
    except np.linalg.LinAlgError as exc:
        raise ConvergenceError(f"sBG information matrix is singular: {exc}") from None
    se = np.sqrt(np.where(np.diag(cov) > 0, np.diag(cov), np.nan))
    return SBGModel(
        {"alpha": a, "beta": b},
        {"alpha": float(se[0]), "beta": float(se[1])},
        cov,
        ll,
        list(rows),
        w,
        n_iter,
    )


# ---------------------------------------------------------------------------
# Markov migration (Pfeifer & Carraway 2000)
# ---------------------------------------------------------------------------


#: Transition probabilities at or below this count as "no edge" when classifying states.
_EDGE = 1e-12


@attrs.frozen(eq=False)
class MarkovChain:
    """A discrete-time Markov chain over customer states (tiers, stages, recency, ...).

    Build one with :func:`fit_markov_chain` (from observed state sequences),
    :func:`markov_chain` (from a given matrix) or :func:`recency_chain`.

    Attributes
    ----------
    labels : tuple
        The states, in matrix order.
    matrix : numpy.ndarray, shape (k, k)
        Row-stochastic transition matrix: ``matrix[i, j]`` = P(next = j | now = i).
    absorbing : numpy.ndarray of bool
        States that, once entered, are never left (e.g. "lost").
    counts : numpy.ndarray or None
        Observed transition counts when fitted from data.

    Examples
    --------
    >>> c = markov_chain([[0.8, 0.15, 0.05], [0.3, 0.5, 0.2], [0, 0, 1]], ["gold", "iron", "lost"])
    >>> np.round(c.project({"gold": 100}, 2)[-1], 1).tolist()
    [68.5, 19.5, 12.0]
    >>> np.round(c.expected_value({"gold": 50, "iron": 10}, discount_rate=0.1), 1).tolist()
    [256.7, 146.7, 0.0]
    """

    labels: tuple[Any, ...]
    matrix: FloatArray = attrs.field(converter=v.freeze)
    absorbing: BoolArray = attrs.field(converter=v.freeze)
    counts: FloatArray | None = attrs.field(default=None, converter=v.freeze)

    @property
    def n_states(self) -> int:
        """Number of states."""
        return len(self.labels)

    def index(self, state: Any) -> int:
        """Matrix position of ``state``."""
        state = v.one_label(state, "state")
        try:
            return self.labels.index(state)
        except ValueError:
            raise InvalidInputError(
                f"state must be one of {list(self.labels)!r}, got {state!r}"
            ) from None

    def _initial(self, initial: Any) -> FloatArray:
        if isinstance(initial, Mapping):
            x = np.zeros(self.n_states)
            for s, c in initial.items():
                x[self.index(s)] = v.scalar(c, f"initial[{s!r}]", low=0.0)
        else:
            x = v.as_float_array(initial, "initial", ndim=1)
            if len(x) != self.n_states:
                raise InvalidInputError(
                    f"initial has {len(x)} values but the chain has {self.n_states} states"
                )
            v.check_range(x, "initial", low=0.0)
        with np.errstate(over="ignore"):
            total = float(x.sum())
        if not np.isfinite(total):
            raise InvalidInputError(
                "initial adds up beyond the float range (about 1.8e308); give shares or "
                "smaller counts"
            )
        return x

    def project(self, initial: Any, horizon: int) -> FloatArray:
        """Expected customers (or shares) per state after 0..``horizon`` periods.

        ``initial`` is a count or share per state (an array in label order or a
        mapping label → count). Row ``t`` of the result is ``initial @ P^t``;
        every row sums to the initial total (customers are conserved).
        """
        x = self._initial(initial)
        h = _markov_horizon(horizon, self.n_states)
        out = np.empty((h + 1, self.n_states))
        out[0] = x
        for t in range(1, h + 1):
            out[t] = out[t - 1] @ self.matrix
        return out

    def steady_state(self, initial: Any = None) -> FloatArray:
        r"""The long-run distribution :math:`\pi = \pi P`, :math:`\sum \pi = 1`.

        Parameters
        ----------
        initial : array-like or Mapping, optional
            Where customers start (counts or shares per state). It matters
            only when the chain has several closed classes (e.g. two
            absorbing states); by default customers start spread evenly.

        Returns
        -------
        numpy.ndarray
            A stationary distribution: each closed class's own (unique)
            stationary distribution, weighted by the probability of ending
            in that class from ``initial``. Transient states get 0.

        Notes
        -----
        Closed classes come from the transitive closure of the transition
        graph (probabilities below 1e-12 count as 0 there); absorption into them from the transient states uses the
        fundamental matrix :math:`(I - Q)^{-1}`.
        """
        k = self.n_states
        x0 = np.full(k, 1.0 / k) if initial is None else self._initial(initial)
        if x0.sum() <= 0:
            raise InvalidInputError("initial must have a positive total")
        x0 = x0 / x0.sum()
        reach = (self.matrix > _EDGE) | np.eye(k, dtype=bool)
        for _ in range(max(1, int(np.ceil(np.log2(k))) + 1)):
            reach = (reach.astype(np.int64) @ reach.astype(np.int64)) > 0
        recurrent = np.all(~reach | reach.T, axis=1)
        trans = np.flatnonzero(~recurrent)
        pi = np.zeros(k)
        seen = np.zeros(k, dtype=bool)
        if len(trans):
            q = self.matrix[np.ix_(trans, trans)]
            fund = np.linalg.inv(np.eye(len(trans)) - q)
        for i in np.flatnonzero(recurrent):
            if seen[i]:
                continue
            cls = np.flatnonzero(reach[i] & recurrent)
            seen[cls] = True
            sub = self.matrix[np.ix_(cls, cls)]
            m = len(cls)
            a = np.vstack([sub.T - np.eye(m), np.ones((1, m))])
            rhs = np.zeros(m + 1)
            rhs[-1] = 1.0
            pc = np.clip(np.linalg.lstsq(a, rhs, rcond=None)[0], 0.0, None)
            mass = x0[cls].sum()
            if len(trans):
                into = fund @ self.matrix[np.ix_(trans, cls)].sum(axis=1)
                mass += float(x0[trans] @ into)
            pi[cls] = mass * pc / pc.sum()
        out: FloatArray = pi / pi.sum()
        return out

    def _transient(self) -> tuple[IntArray, FloatArray]:
        if not self.absorbing.any():
            raise InvalidInputError("the chain has no absorbing state; declare one (e.g. 'lost')")
        reach = self.absorbing.copy()
        for _ in range(self.n_states):
            grown = reach | (self.matrix[:, reach] > _EDGE).any(axis=1)
            if np.array_equal(grown, reach):
                break
            reach = grown
        if not reach.all():
            i = int(np.flatnonzero(~reach)[0])
            raise InvalidInputError(
                f"state {self.labels[i]!r} never reaches an absorbing state, so its "
                "absorption time is infinite"
            )
        tr = np.flatnonzero(~self.absorbing).astype(np.int64)
        q = self.matrix[np.ix_(tr, tr)]
        fund = np.asarray(np.linalg.inv(np.eye(len(tr)) - q), dtype=np.float64)
        return tr, fund

    def absorption_time(self) -> dict[Any, float]:
        r"""Expected periods until absorption from each non-absorbing state: :math:`t = (I - Q)^{-1} \mathbf 1`."""
        tr, fund = self._transient()
        t = fund.sum(axis=1)
        return {self.labels[i]: float(t[j]) for j, i in enumerate(tr)}

    def absorption_probabilities(self) -> FloatArray:
        r"""P(absorbed in each absorbing state | start state): :math:`(I - Q)^{-1} R`, rows = non-absorbing states."""
        tr, fund = self._transient()
        ab = np.flatnonzero(self.absorbing)
        out: FloatArray = fund @ self.matrix[np.ix_(tr, ab)]
        return out

    def expected_value(
        self, rewards: Any, *, discount_rate: float = 0.0, horizon: int | None = None
    ) -> FloatArray:
        r"""Expected discounted value per starting state (Pfeifer & Carraway 2000).

        .. math::

           V = \sum_{t=0}^{T} \left[(1 + d)^{-1} P\right]^t R,
           \quad V_\infty = \left[I - (1 + d)^{-1} P\right]^{-1} R

        ``rewards`` is the net contribution received in each state per
        period (e.g. buy probability × margin − contact cost); the reward of
        the first period is undiscounted. ``horizon`` is the number of
        transitions after the first period (``None``: infinite). With no
        discounting an infinite horizon needs every absorbing state to have
        reward 0 and every other state to be transient.
        """
        r = self._initial_rewards(rewards)
        d = v.discount_rate(discount_rate)
        m = self.matrix / (1.0 + d)
        if horizon is not None:
            h = _markov_horizon(horizon, 1)
            val: FloatArray = r.copy()
            term: FloatArray = r.copy()
            for _ in range(h):
                term = np.asarray(m @ term, dtype=np.float64)
                val = val + term
            return _finite_value(val, "horizon", horizon)
        if d < 0:
            raise InvalidInputError(
                f"discount_rate must be >= 0 for the infinite-horizon value, got {d!r}: a negative "
                "rate grows every later period and the sum has no limit; pass a horizon"
            )
        if d > 0:
            try:
                with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                    val = np.asarray(np.linalg.solve(np.eye(self.n_states) - m, r), np.float64)
            except np.linalg.LinAlgError:
                val = np.full(self.n_states, np.inf)
            return _finite_value(val, "discount_rate", discount_rate)
        if self.absorbing.any() and np.any(r[self.absorbing] != 0):
            raise InvalidInputError(
                "with discount_rate 0 and no horizon the value is infinite: an absorbing state "
                "has a non-zero reward; pass discount_rate > 0 or a horizon"
            )
        tr, fund = self._transient()
        val = np.zeros(self.n_states)
        val[tr] = fund @ r[tr]
        return val

    def _initial_rewards(self, rewards: Any) -> FloatArray:
        if isinstance(rewards, Mapping):
            x = np.zeros(self.n_states)
            for s, c in rewards.items():
                x[self.index(s)] = v.scalar(c, f"rewards[{s!r}]")
            return x
        x = v.as_float_array(rewards, "rewards", ndim=1)
        if len(x) != self.n_states:
            raise InvalidInputError(
                f"rewards has {len(x)} values but the chain has {self.n_states} states"
            )
        return x

    def simulate(
        self, initial_states: Any, horizon: int, *, rng: np.random.Generator | int | None = None
    ) -> IntArray:
        """Simulate each customer's path; returns state indices, shape (customers, horizon + 1).

        ``initial_states`` are labels (one per customer). Vectorised over
        customers: one uniform draw and one search in the cumulative row per
        customer and period.
        """
        gen = v.as_rng(rng)
        init = (
            initial_states
            if isinstance(initial_states, np.ndarray)
            else np.asarray(initial_states, dtype=object)
        )
        h = _markov_horizon(horizon, init.size)
        codes = _encode(init.ravel(), self.labels, "initial_states")
        cum = np.cumsum(self.matrix, axis=1)
        cum[:, -1] = 1.0
        k = self.n_states
        flat = (cum + np.arange(k)[:, None]).ravel()
        out = np.empty((len(codes), h + 1), dtype=np.int64)
        out[:, 0] = codes
        cur = codes
        for t in range(1, h + 1):
            u = gen.random(len(cur))
            nxt = np.searchsorted(flat, cur + u, side="right") - cur * k
            cur = np.minimum(nxt, k - 1).astype(np.int64)
            out[:, t] = cur
        return out


def _markov_horizon(horizon: Any, rows: int) -> int:
    """Validate a chain's ``horizon`` against the period budget (and ``rows`` x periods cells)."""
    h = v.positive_int(horizon, "horizon", minimum=0)
    hint = "pass horizon=None for the infinite-horizon value" if rows == 1 else ""
    v.check_budget(
        h, "horizon", budget=v.max_periods(), culprit=f"horizon={h:,}",
        env="CUSTREL_MAX_PERIODS", hint=hint,
    )  # fmt: skip
    v.check_budget(
        float(h + 1) * max(rows, 1), f"the result ({rows:,} rows x horizon + 1 periods)",
        budget=v.max_cells(), culprit=f"horizon={h:,}", env="CUSTREL_MAX_CELLS",
    )  # fmt: skip
    return h


def _finite_value(val: FloatArray, name: str, given: Any) -> FloatArray:
    """Refuse an expected value that left the float range, naming the argument that made it so."""
    if not np.all(np.isfinite(val)):
        i = int(np.flatnonzero(~np.isfinite(val))[0])
        raise InvalidInputError(
            f"the expected value of state {i} is not finite with {name}={given!r}: the "
            "discounted rewards add up beyond the float range; pass a larger discount_rate "
            "or a shorter horizon"
        )
    return np.asarray(val, dtype=np.float64)


def _encode(values: npt.NDArray[Any], labels: tuple[Any, ...], name: str) -> IntArray:
    lookup = {lab: i for i, lab in enumerate(labels)}
    if values.dtype == object and _all_str(values):
        values = values.astype(str)
    try:
        uniq, inv = np.unique(values, return_inverse=True)
    except TypeError:  # labels of mixed types (e.g. 1, 2, "lost") do not sort
        inv = np.empty(len(values), dtype=np.int64)
        seen: dict[Any, int] = {}
        for row, item in enumerate(values.tolist()):
            inv[row] = seen.setdefault(item, len(seen))
        uniq = np.empty(len(seen), dtype=object)
        uniq[:] = list(seen)
    codes_u = np.empty(len(uniq), dtype=np.int64)
    for i, u in enumerate(uniq.tolist()):
        if u not in lookup:
            row = int(np.flatnonzero(inv.reshape(-1) == i)[0])
            raise InvalidInputError(
                f"{name} has an unknown state {u!r} at row {row}; states are {list(labels)!r}"
            )
        codes_u[i] = lookup[u]
    out: IntArray = codes_u[inv.reshape(-1)]
    return out


def _all_str(values: npt.NDArray[Any]) -> bool:
    return all(isinstance(x, str) for x in values[: min(len(values), 1000)].tolist())


def _check_stochastic(m: FloatArray, name: str) -> None:
    v.check_finite(m, name)
    v.check_range(m, name, low=0.0, high=1.0)
    s = m.sum(axis=1)
    bad = np.flatnonzero(np.abs(s - 1.0) > 1e-9)
    if len(bad):
        i = int(bad[0])
        raise InvalidInputError(f"{name} rows must sum to 1, got {float(s[i])!r} in row {i}")


def _state_labels(labels: Any) -> tuple[Any, ...]:
    """A chain's state labels: distinct, none missing (None, NaN, ""), one per state, as a tuple."""
    return tuple(v.id_array(labels, "labels").tolist())


def markov_chain(matrix: Any, labels: Sequence[Any] | None = None) -> MarkovChain:
    """A Markov chain from a given transition matrix.

    Parameters
    ----------
    matrix : array-like, shape (k, k)
        Row-stochastic: entries in [0, 1], rows summing to 1.
    labels : sequence, optional
        State names (default 0..k-1).

    Returns
    -------
    MarkovChain
        States whose row is the unit vector on themselves are absorbing.

    Raises
    ------
    InvalidInputError
        If the matrix is not square or not row-stochastic (naming the row),
        or the labels do not match.

    Examples
    --------
    >>> c = markov_chain([[0.7, 0.3], [0.0, 1.0]], ["active", "lost"])
    >>> c.absorbing.tolist(), round(c.absorption_time()["active"], 3)
    ([False, True], 3.333)
    """
    m = v.as_float_array(matrix, "matrix", ndim=2)
    if m.shape[0] != m.shape[1]:
        raise InvalidInputError(f"matrix must be square, got shape {m.shape}")
    _check_stochastic(m, "matrix")
    labs = tuple(range(m.shape[0])) if labels is None else _state_labels(labels)
    if len(labs) != m.shape[0]:
        raise InvalidInputError(f"labels has {len(labs)} names but matrix has {m.shape[0]} states")
    absorbing = np.diag(m) == 1.0
    return MarkovChain(labs, m.copy(), absorbing)


def fit_markov_chain(
    states: Any,
    *,
    labels: Sequence[Any] | None = None,
    absorbing: Sequence[Any] | npt.NDArray[Any] = (),
    missing: Any = None,
) -> MarkovChain:
    """Estimate a transition matrix from per-period state assignments.

    Parameters
    ----------
    states : array-like, shape (customers, periods)
        Each customer's state (any labels: tiers, stages, recency classes)
        in each period, oldest first. Cells equal to ``missing`` (e.g. before
        acquisition) are skipped: a transition is counted only between two
        consecutive non-missing periods.
    labels : sequence, optional
        All states in the order wanted (default: sorted labels seen).
    absorbing : sequence
        States to treat as absorbing (e.g. ``["lost"]``): their row is the
        unit vector; a transition out of one in the data is an error.
    missing : object, optional
        The marker of missing cells: ``None`` by default, or e.g. ``-1``,
        ``""`` or ``float("nan")``.

    Returns
    -------
    MarkovChain
        Maximum-likelihood estimate: counts of i → j over counts out of i.

    Raises
    ------
    InvalidInputError
        If a state is never left and not declared absorbing (its row would
        be 0/0), a label is unknown, or the data leave an absorbing state.

    Examples
    --------
    >>> seq = [["new", "active", "active", "lost"], ["new", "lost", "lost", "lost"]]
    >>> c = fit_markov_chain(seq, labels=["new", "active", "lost"], absorbing=["lost"])
    >>> c.matrix.tolist()
    [[0.0, 0.5, 0.5], [0.0, 0.5, 0.5], [0.0, 0.0, 1.0]]
    """
    arr = np.asarray(states)
    if arr.dtype.kind not in "biufUSO":
        arr = np.asarray(states, dtype=object)
    if arr.ndim != 2:
        raise InvalidInputError(f"states must be 2-D (customers, periods), got shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] < 2:
        raise EmptyInputError(
            f"states needs at least one customer and two periods, got shape {arr.shape}"
        )
    flat = arr.ravel()
    nan_marker = isinstance(missing, float) and missing != missing
    if flat.dtype != object:  # plain arrays: vectorised
        if missing is None:
            is_missing = np.zeros(flat.size, dtype=bool)
        elif nan_marker:
            is_missing = np.isnan(flat) if flat.dtype.kind == "f" else np.zeros(flat.size, bool)
        else:
            is_missing = np.asarray(flat == missing, dtype=bool).reshape(flat.shape)
    else:
        is_missing = np.fromiter(
            (
                x is None
                if missing is None
                else (isinstance(x, float) and x != x)
                if nan_marker
                else (x is missing or x == missing)
                for x in flat.tolist()
            ),
            dtype=bool,
            count=flat.size,
        )
    seen = flat[~is_missing]
    if labels is None:
        try:
            labs = tuple(sorted(set(seen.tolist())))
        except TypeError:
            raise InvalidTypeError(
                "states mix label types that cannot be sorted; pass labels"
            ) from None
    else:
        labs = _state_labels(labels)
    if isinstance(absorbing, np.ndarray) and absorbing.ndim == 1:
        absorbing = absorbing.tolist()
    if isinstance(absorbing, str | bytes) or not isinstance(absorbing, Sequence | set | frozenset):
        raise InvalidTypeError(
            f"absorbing must be a sequence of states, got {type(absorbing).__name__} "
            f"{absorbing!r}; pass e.g. ['lost']"
        )
    absorbing = [v.one_label(a, "absorbing") for a in absorbing]
    for a in absorbing:
        if a not in labs:
            raise InvalidInputError(f"absorbing state {a!r} is not one of {list(labs)!r}")
    k = len(labs)
    flat_codes = np.full(flat.size, -1, dtype=np.int64)
    flat_codes[~is_missing] = _encode(seen, labs, "states")
    codes = flat_codes.reshape(arr.shape)
    src, dst = codes[:, :-1].ravel(), codes[:, 1:].ravel()
    ok = (src >= 0) & (dst >= 0)
    counts = (
        _numeric.bincount(src[ok] * k + dst[ok], minlength=k * k).reshape(k, k).astype(np.float64)
    )
    ab = np.zeros(k, dtype=bool)
    for a in absorbing:
        i = labs.index(a)
        ab[i] = True
        leave = counts[i].copy()
        leave[i] = 0
        if leave.any():
            j = int(np.flatnonzero(leave)[0])
            raise InvalidInputError(
                f"states leave the absorbing state {a!r} for {labs[j]!r} {int(leave[j])} times; "
                "remove it from absorbing"
            )
    out_n = counts.sum(axis=1)
    for i in range(k):
        if not ab[i] and out_n[i] == 0:
            raise InvalidInputError(
                f"state {labs[i]!r} is never left in the data, so its transitions are unknown; "
                "declare it absorbing or add data"
            )
    with np.errstate(invalid="ignore", divide="ignore"):
        m = counts / np.where(out_n > 0, out_n, 1.0)[:, None]
    m[ab] = 0.0
    m[ab, np.flatnonzero(ab)] = 1.0
    ab = ab | (np.diag(m) == 1.0)
    return MarkovChain(labs, m, ab, counts)


def recency_chain(
    buy_rates: Any,
    *,
    lost: bool = True,
) -> MarkovChain:
    r"""The recency Markov chain of Pfeifer & Carraway (2000).

    State :math:`i` (1..k) is "last purchase :math:`i` periods ago"; a
    customer in state :math:`i` buys with probability ``buy_rates[i-1]``
    and moves to state 1, else to :math:`i + 1`.

    Parameters
    ----------
    buy_rates : array-like of float in [0, 1]
        Purchase probability per recency state.
    lost : bool
        True (default): after state :math:`k` a customer who does not buy
        is ``"lost"`` (an absorbing state, labelled ``"lost"``). False: he
        stays in state :math:`k`.

    Returns
    -------
    MarkovChain
        Labels ``1..k`` (and ``"lost"``).

    Raises
    ------
    InvalidInputError
        If a rate lies outside [0, 1] (naming its position).

    Examples
    --------
    >>> c = recency_chain([0.5, 0.2])
    >>> c.labels
    (1, 2, 'lost')
    >>> c.matrix.tolist()
    [[0.5, 0.5, 0.0], [0.2, 0.0, 0.8], [0.0, 0.0, 1.0]]
    """
    p = v.as_float_array(buy_rates, "buy_rates", ndim=1)
    v.check_probability(p, "buy_rates")
    k = len(p)
    size = k + 1 if lost else k
    m = np.zeros((size, size))
    m[:k, 0] = p
    for i in range(k - 1):
        m[i, i + 1] = 1.0 - p[i]
    if lost:
        m[k - 1, k] = 1.0 - p[k - 1]
        m[k, k] = 1.0
        labels: tuple[Any, ...] = (*range(1, k + 1), "lost")
    else:
        m[k - 1, k - 1] += 1.0 - p[k - 1]
        labels = tuple(range(1, k + 1))
    absorbing = np.diag(m) == 1.0
    return MarkovChain(labels, m, absorbing)
