"""Channel-partner selection and partner performance evaluation (DOMAIN.md §5).

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

import importlib
import math
import types
import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

import attrs
import numpy as np
import numpy.typing as npt

from custrel import _validate as _val
from custrel.errors import (
    ConsistencyWarning,
    ConvergenceError,
    EmptyInputError,
    InvalidInputError,
    InvalidTypeError,
    MissingDependencyError,
)

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

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
AnyArray = npt.NDArray[Any]

Method = Literal["weighted_sum", "weighted_product", "topsis", "vikor"]
Missing = Literal["raise", "exclude", "worst", "impute"]

#: The selection methods :func:`rank` dispatches to.
METHODS: tuple[str, ...] = ("weighted_sum", "weighted_product", "topsis", "vikor")
#: The normalisations the scoring methods accept.
NORMALIZATIONS: tuple[str, ...] = ("none", "minmax", "vector", "sum", "max", "scale")
_DIRECTIONS = ("benefit", "cost")
_MISSING = ("raise", "exclude", "worst", "impute")
_DEFAULT_NORMALIZATION = {
    "weighted_sum": "minmax",
    "weighted_product": "sum",
    "topsis": "vector",
    "vikor": "minmax",
}

#: Saaty's random consistency index RI by matrix order n = 1 … 15
#: (Saaty 1980 for n <= 10; Saaty 1994 for 11 … 15).
RANDOM_INDEX: Mapping[int, float] = types.MappingProxyType(
    {
        1: 0.0,
        2: 0.0,
        3: 0.58,
        4: 0.90,
        5: 1.12,
        6: 1.24,
        7: 1.32,
        8: 1.41,
        9: 1.45,
        10: 1.49,
        11: 1.51,
        12: 1.48,
        13: 1.56,
        14: 1.57,
        15: 1.59,
    }
)

_TIE_RTOL = 1e-9
_TIE_ATOL = 1e-12
#: The finest bisection tolerance weight_sensitivity accepts: δ lies in [0, 1], where
#: float64 values are about 2.2e-16 apart, so a finer tolerance could never be met.
_MIN_TOL = 8.0 * float(np.finfo(np.float64).eps)
#: Most halvings one bisection may take (from a width of 1 to _MIN_TOL takes about 50).
_MAX_BISECTIONS = 200


# ---------------------------------------------------------------------------
# Values: criteria, partners, knock-out rules, the decision matrix
# ---------------------------------------------------------------------------


def _opt_scalar(value: Any, name: str) -> float | None:
    return None if value is None else _val.scalar(value, name)


@attrs.frozen
class Criterion:
    """One selection criterion.

    Parameters
    ----------
    name : str
        Unique name of the criterion (a column of the decision matrix).
    weight : float, default 1.0
        Importance, finite and >= 0; the methods divide all weights by their
        sum. A weight of 0 keeps the criterion for eligibility rules only.
    direction : {"benefit", "cost"}, default "benefit"
        Whether higher (benefit) or lower (cost) values are better.
    scale : tuple of float, optional
        Fixed ``(low, high)`` range of the criterion, used by
        ``normalization="scale"``: a set-independent normalisation. Scores
        outside it are rejected when the matrix is built.
    minimum, maximum : float, optional
        Hard thresholds: a candidate below ``minimum`` or above ``maximum``
        is excluded before ranking (a knock-out rule named after the
        criterion, e.g. ``"coverage >= 40"``).

    Attributes
    ----------
    name, weight, direction, scale, minimum, maximum
        As given, with numbers converted to float.

    Raises
    ------
    InvalidInputError
        For a negative or non-finite weight, an unknown direction, a scale
        with ``low >= high`` or ``minimum > maximum``.
    InvalidTypeError
        If the name is not a string.

    Examples
    --------
    >>> Criterion("price", weight=2, direction="cost", maximum=120)
    Criterion(name='price', weight=2.0, direction='cost', scale=None, minimum=None, maximum=120.0)
    """

    name: str
    weight: float = 1.0
    direction: str = "benefit"
    scale: tuple[float, float] | None = None
    minimum: float | None = None
    maximum: float | None = None

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise InvalidTypeError(
                f"criterion name must be a non-empty string, got {type(self.name).__name__} {self.name!r}"
            )
        label = f"weight of criterion {self.name!r}"
        w = _val.scalar(
            self.weight, label, low=0.0, hint="weights are importances; use 0 to ignore"
        )
        object.__setattr__(self, "weight", w)
        _val.choice(self.direction, f"direction of criterion {self.name!r}", _DIRECTIONS)
        if self.scale is not None:
            if not isinstance(self.scale, Sequence) or len(self.scale) != 2:
                raise InvalidInputError(
                    f"scale of criterion {self.name!r} must be a (low, high) pair, got {self.scale!r}"
                )
            lo = _val.scalar(self.scale[0], f"scale low of criterion {self.name!r}")
            hi = _val.scalar(self.scale[1], f"scale high of criterion {self.name!r}")
            if not lo < hi:
                raise InvalidInputError(
                    f"scale of criterion {self.name!r} must have low < high, got ({lo:g}, {hi:g})"
                )
            object.__setattr__(self, "scale", (lo, hi))
        lo_t = _opt_scalar(self.minimum, f"minimum of criterion {self.name!r}")
        hi_t = _opt_scalar(self.maximum, f"maximum of criterion {self.name!r}")
        if lo_t is not None and hi_t is not None and lo_t > hi_t:
            raise InvalidInputError(
                f"criterion {self.name!r} has minimum {lo_t:g} > maximum {hi_t:g}; no candidate could pass"
            )
        object.__setattr__(self, "minimum", lo_t)
        object.__setattr__(self, "maximum", hi_t)

    @property
    def is_cost(self) -> bool:
        """Whether lower values are better."""
        return self.direction == "cost"


@attrs.frozen
class KnockOut:
    """A knock-out eligibility rule on one criterion's raw value.

    Parameters
    ----------
    criterion : str
        Name of the criterion (column) the rule reads; its weight may be 0.
    minimum, maximum : float, optional
        The candidate is excluded when its value is below ``minimum`` or
        above ``maximum`` (at least one must be given).
    name : str, optional
        Label recorded in :class:`Exclusions`; by default
        ``"<criterion> >= <minimum>"`` and/or ``"<criterion> <= <maximum>"``.

    Attributes
    ----------
    criterion, minimum, maximum, name
        As given; ``name`` filled in when omitted.

    Examples
    --------
    >>> KnockOut("carries_competitors", maximum=0).name
    'carries_competitors <= 0'
    """

    criterion: str
    minimum: float | None = None
    maximum: float | None = None
    name: str = ""

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.criterion, str):
            raise InvalidTypeError(
                f"KnockOut criterion must be a string, got {type(self.criterion).__name__}"
            )
        if not isinstance(self.name, str):
            raise InvalidTypeError(
                f"KnockOut name must be a string, got {type(self.name).__name__}"
            )
        lo = _opt_scalar(self.minimum, f"minimum of rule on {self.criterion!r}")
        hi = _opt_scalar(self.maximum, f"maximum of rule on {self.criterion!r}")
        if lo is None and hi is None:
            raise InvalidInputError(
                f"KnockOut on {self.criterion!r} needs a minimum or a maximum, got neither"
            )
        object.__setattr__(self, "minimum", lo)
        object.__setattr__(self, "maximum", hi)
        if not self.name:
            parts = []
            if lo is not None:
                parts.append(f"{self.criterion} >= {lo:g}")
            if hi is not None:
                parts.append(f"{self.criterion} <= {hi:g}")
            object.__setattr__(self, "name", " and ".join(parts))


def _mapping_proxy(value: Mapping[str, Any]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidTypeError(f"attributes must be a mapping, got {type(value).__name__}")
    return types.MappingProxyType(dict(value))


@attrs.frozen
class Partner:
    """One candidate partner (distributor, dealer, retailer) as a record.

    Parameters
    ----------
    partner_id : hashable
        Identifier, used as the candidate id of the decision matrix.
    attributes : mapping of str to float
        The partner's value on each criterion; a criterion absent from the
        mapping, or given as None or NaN, is a missing score (see
        ``missing`` in :func:`rank`).
    name : str, optional
        Display name.

    Attributes
    ----------
    partner_id, attributes, name
        As given; ``attributes`` is a read-only copy.

    Examples
    --------
    >>> Partner("north", {"coverage": 8.0}).attributes["coverage"]
    8.0
    """

    partner_id: Any
    attributes: Mapping[str, Any] = attrs.field(converter=_mapping_proxy)
    name: str = ""

    def __attrs_post_init__(self) -> None:
        if np.ndim(self.partner_id) != 0:
            raise InvalidTypeError(
                f"partner_id must be one id, got {type(self.partner_id).__name__}"
            )
        _val.id_array([self.partner_id], "partner_id")  # refuses a missing id (None, nan, "")
        if not isinstance(self.name, str):
            raise InvalidTypeError(f"name must be a str, got {type(self.name).__name__}")


def _as_criteria(criteria: Any) -> tuple[Criterion, ...]:
    if isinstance(criteria, Criterion | str):
        criteria = [criteria]
    if not isinstance(criteria, Iterable):
        raise InvalidTypeError(
            f"criteria must be a sequence of Criterion or names, got {type(criteria).__name__}"
        )
    out: list[Criterion] = []
    for i, c in enumerate(criteria):
        if isinstance(c, Criterion):
            out.append(c)
        elif isinstance(c, str):
            out.append(Criterion(c))
        else:
            raise InvalidTypeError(
                f"criteria must hold Criterion objects or names, got {type(c).__name__} at position {i}"
            )
    if not out:
        raise EmptyInputError("criteria is empty; at least one criterion is needed")
    names = [c.name for c in out]
    seen: set[str] = set()
    for i, name in enumerate(names):
        if name in seen:
            raise InvalidInputError(
                f"criterion names must be unique, got {name!r} twice (again at position {i})"
            )
        seen.add(name)
    return tuple(out)


def _as_ids(candidate_id: Any, n: int, what: str = "scores") -> AnyArray:
    """Candidate ids: ``0 … n-1`` when omitted, else distinct, present and of their own type."""
    if candidate_id is None:
        return np.arange(n, dtype=np.int64)
    return _val.id_array(candidate_id, "candidate_id", n, what=what)


def _py(x: Any) -> Any:
    """A numpy scalar as the matching Python object (other values unchanged)."""
    return x.item() if isinstance(x, np.generic) else x


def _show(x: Any) -> str:
    return repr(_py(x))


def _iterable(value: Any, name: str, what: str) -> Iterable[Any]:
    """``value`` when it can be iterated (and is not a string), else a clear type error."""
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise InvalidTypeError(f"{name} must be {what}, got {type(value).__name__} {value!r:.60}")
    return value


def _generator(rng: Any) -> np.random.Generator:
    try:
        return _val.as_rng(rng)
    except ValueError as exc:  # numpy refuses a negative seed
        raise InvalidInputError(
            f"rng must be a Generator or a seed >= 0, got {rng!r}: {exc}"
        ) from None


def _refuse_overflow(values: FloatArray, what: str, ids: AnyArray, hint: str) -> None:
    """Refuse a derived quantity that left float64's range although its inputs are finite.

    Ratios and differences of finite inputs (1e308 - (-1e308), 1e300 / 1e-300)
    can overflow; they are computed under ``errstate(over="ignore")`` and this
    check turns an infinity into a clear error naming the candidate.
    """
    bad = np.isinf(values)
    if bad.any():
        i = int(np.flatnonzero(bad.reshape(len(ids), -1).any(axis=1))[0])
        raise InvalidInputError(
            f"{what} of candidate {_show(ids[i])} overflows float64 (row {i}); {hint}"
        )


@attrs.frozen(eq=False, repr=False)
class DecisionMatrix:
    """Candidates × criteria: the scores a selection method ranks.

    Build it with :meth:`from_arrays`, :meth:`from_records` or
    :meth:`from_frame`. NaN marks a missing score; what happens to it is
    chosen by the ``missing`` argument of the methods (the default raises).

    Parameters
    ----------
    candidate_id : array_like
        One unique id per row.
    criteria : sequence of Criterion
        One per column, with unique names.
    scores : array_like of float, shape (n_candidates, n_criteria)
        Raw values; NaN for missing, infinities rejected.

    Attributes
    ----------
    candidate_id : numpy.ndarray
        Read-only ids, one per row.
    criteria : tuple of Criterion
        The columns.
    scores : numpy.ndarray
        Read-only float64 matrix.

    Raises
    ------
    InvalidInputError
        For a shape mismatch, duplicate ids or names, infinite scores, scores
        outside a criterion's fixed scale, or weights that are all zero.
    EmptyInputError
        For a matrix without candidates or criteria.

    Examples
    --------
    >>> m = DecisionMatrix.from_arrays([[1, 2], [3, 4]], ["a", Criterion("b", weight=3)])
    >>> m.weights.tolist(), m.candidate_id.tolist()
    ([0.25, 0.75], [0, 1])
    """

    candidate_id: AnyArray
    criteria: tuple[Criterion, ...]
    scores: FloatArray

    def __attrs_post_init__(self) -> None:
        criteria = _as_criteria(self.criteria)
        x = _val.as_float_array(self.scores, "scores", ndim=2, finite=False, label="row")
        n, m = x.shape
        if n == 0:
            raise EmptyInputError("scores has no candidates; at least one row is needed")
        if m != len(criteria):
            raise InvalidInputError(
                f"scores has {m} columns but {len(criteria)} criteria were given; "
                "give one criterion per column"
            )
        inf = np.isinf(x)
        if inf.any():
            i, j = _val.first_bad(inf)
            raise InvalidInputError(
                f"scores must be finite or nan (missing), got {float(x[i, j])!r} at [{i}, {j}] "
                f"(criterion {criteria[j].name!r})"
            )
        ids = _as_ids(self.candidate_id, n)
        for j, c in enumerate(criteria):
            if c.scale is None:
                continue
            col = x[:, j]
            bad = (col < c.scale[0]) | (col > c.scale[1])
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                raise InvalidInputError(
                    f"score of candidate {_show(ids[i])} on criterion {c.name!r} is {col[i]:g}, "
                    f"outside its scale ({c.scale[0]:g}, {c.scale[1]:g}) at row {i}; "
                    "widen the scale or convert the value with a scoring function"
                )
        if sum(c.weight for c in criteria) <= 0:
            raise InvalidInputError(
                "criteria weights are all zero; give at least one criterion a positive weight"
            )
        object.__setattr__(self, "criteria", criteria)
        object.__setattr__(self, "scores", _val.readonly(x.copy()))
        object.__setattr__(self, "candidate_id", _val.readonly(ids))

    def __repr__(self) -> str:
        return (
            f"DecisionMatrix(n_candidates={self.n_candidates}, criteria={self.criterion_names!r})"
        )

    # -- constructors -------------------------------------------------------

    @classmethod
    def from_arrays(
        cls, scores: Any, criteria: Sequence[Criterion | str], candidate_id: Any = None
    ) -> DecisionMatrix:
        """Build from a 2-D array (rows candidates, columns criteria).

        Parameters
        ----------
        scores : array_like, shape (n_candidates, n_criteria)
            Raw values, NaN for missing.
        criteria : sequence of Criterion or str
            One per column; a bare name is a benefit criterion of weight 1.
        candidate_id : array_like, optional
            Unique ids; ``0 … n-1`` when omitted.

        Returns
        -------
        DecisionMatrix

        Examples
        --------
        >>> DecisionMatrix.from_arrays([[1.0]], ["x"]).scores.shape
        (1, 1)
        """
        return cls(candidate_id, tuple(_as_criteria(criteria)), scores)

    @classmethod
    def from_records(
        cls,
        records: Iterable[Partner | Mapping[str, Any]],
        criteria: Sequence[Criterion | str],
        *,
        id_field: str = "candidate_id",
    ) -> DecisionMatrix:
        """Build from :class:`Partner` objects or mappings.

        Parameters
        ----------
        records : iterable of Partner or mapping
            A mapping holds the id under ``id_field`` and one value per
            criterion name; a missing key is a missing score (NaN).
        criteria : sequence of Criterion or str
            The columns to read.
        id_field : str, default "candidate_id"
            Key of the id in mapping records.

        Returns
        -------
        DecisionMatrix

        Raises
        ------
        InvalidInputError
            If a mapping lacks ``id_field``.
        InvalidTypeError
            If a record is neither a Partner nor a mapping.

        Examples
        --------
        >>> m = DecisionMatrix.from_records(
        ...     [{"candidate_id": "a", "x": 1}, Partner("b", {"x": 2})], ["x"]
        ... )
        >>> m.candidate_id.tolist(), m.scores[:, 0].tolist()
        (['a', 'b'], [1.0, 2.0])
        """
        crit = _as_criteria(criteria)
        if not isinstance(id_field, str):
            raise InvalidTypeError(f"id_field must be a str, got {type(id_field).__name__}")
        ids: list[Any] = []
        rows: list[list[float]] = []
        for i, rec in enumerate(
            _iterable(records, "records", "an iterable of Partner or mappings")
        ):
            if isinstance(rec, Partner):
                ids.append(rec.partner_id)
                attrs_map: Mapping[str, Any] = rec.attributes
            elif isinstance(rec, Mapping):
                if id_field not in rec:
                    raise InvalidInputError(
                        f"record {i} has no {id_field!r} field; pass id_field= to name the id key"
                    )
                ids.append(rec[id_field])
                attrs_map = rec
            else:
                raise InvalidTypeError(
                    f"records must be Partner objects or mappings, got {type(rec).__name__} at row {i}"
                )
            row = []
            for c in crit:
                val = attrs_map.get(c.name, math.nan)
                row.append(math.nan if val is None else val)
            rows.append(row)
        if not rows:
            raise EmptyInputError("records is empty; at least one candidate is needed")
        ids_arr = np.empty(len(ids), dtype=object)
        ids_arr[:] = ids
        return cls(ids_arr, crit, _val.as_float_array(rows, "records", ndim=2, finite=False))

    @classmethod
    def from_frame(
        cls,
        frame: Any,
        criteria: Sequence[Criterion | str],
        *,
        id_column: str | None = "candidate_id",
    ) -> DecisionMatrix:
        """Build from any dataframe narwhals understands (``frames`` extra).

        Parameters
        ----------
        frame : dataframe
            pandas, polars, pyarrow, … (only read). Nulls become missing
            scores.
        criteria : sequence of Criterion or str
            Columns to read, one per criterion name.
        id_column : str or None, default "candidate_id"
            Column of candidate ids; ``None`` numbers the rows.

        Returns
        -------
        DecisionMatrix

        Raises
        ------
        MissingDependencyError
            If narwhals is not installed.
        InvalidInputError
            If a column is missing.
        """
        try:
            nw = importlib.import_module("narwhals")
        except ImportError:
            raise MissingDependencyError(
                "dataframe intake needs the 'frames' extra; pip install 'custrel[frames]'"
            ) from None
        try:
            df = nw.from_native(frame)
        except TypeError:
            raise InvalidTypeError(
                f"frame must be a dataframe (pandas, polars, pyarrow, ...), got "
                f"{type(frame).__name__}; for arrays use DecisionMatrix.from_arrays"
            ) from None
        if hasattr(df, "collect"):
            df = df.collect()
        crit = _as_criteria(criteria)
        present = list(df.columns)
        wanted = [c.name for c in crit] + ([id_column] if id_column is not None else [])
        for col in wanted:
            if col not in present:
                raise InvalidInputError(
                    f"column {col!r} is not in the frame; its columns are {present!r}"
                )
        cols = []
        for c in crit:
            series = df[c.name]
            raw = series.to_numpy()
            nulls = np.asarray(series.is_null().to_numpy(), dtype=bool)
            if nulls.any():  # nulls (None, pd.NA, polars null) are missing scores
                raw = np.array(raw, dtype=object)
                raw[nulls] = math.nan
            cols.append(_val.as_float_array(raw, f"column {c.name!r}", ndim=1, finite=False))
        scores = np.column_stack(cols)
        ids: Any = None if id_column is None else df[id_column].to_numpy()
        return cls(ids, crit, scores)

    # -- accessors ------------------------------------------------------------

    @property
    def n_candidates(self) -> int:
        """Number of candidates (rows)."""
        return int(self.scores.shape[0])

    @property
    def criterion_names(self) -> tuple[str, ...]:
        """Names of the criteria, in column order."""
        return tuple(c.name for c in self.criteria)

    @property
    def weights(self) -> FloatArray:
        """Criterion weights divided by their sum (read-only)."""
        w = np.array([c.weight for c in self.criteria], dtype=np.float64)
        return _val.readonly(w / w.sum())

    def column(self, name: str) -> FloatArray:
        """The raw scores of one criterion (read-only).

        Raises
        ------
        InvalidInputError
            If no criterion has this name.
        """
        return _val.readonly(self.scores[:, self._index(name)])

    def _index(self, name: str) -> int:
        if not isinstance(name, str):
            raise InvalidTypeError(
                f"a criterion name must be a str, got {type(name).__name__} {name!r:.40}"
            )
        names = self.criterion_names
        if name not in names:
            raise InvalidInputError(f"no criterion named {name!r}; the criteria are {names!r}")
        return names.index(name)

    def with_weights(self, weights: Any) -> DecisionMatrix:
        """A copy with new weights.

        Parameters
        ----------
        weights : sequence, mapping of name to weight, AHPResult or EntropyResult
            A sequence gives one weight per criterion in column order; a
            mapping changes only the named criteria.

        Returns
        -------
        DecisionMatrix

        Raises
        ------
        InvalidInputError
            For a wrong count, an unknown name or a bad weight.

        Examples
        --------
        >>> m = DecisionMatrix.from_arrays([[1, 2]], ["a", "b"])
        >>> m.with_weights({"b": 3}).weights.tolist()
        [0.25, 0.75]
        """
        if isinstance(weights, AHPResult | EntropyResult):
            if weights.criteria != self.criterion_names:
                raise InvalidInputError(
                    f"the weights are for criteria {weights.criteria!r} but the matrix has "
                    f"{self.criterion_names!r}"
                )
            weights = weights.weights
        if isinstance(weights, Mapping):
            new = {c.name: c.weight for c in self.criteria}
            for k, w in weights.items():
                self._index(k)
                new[k] = w
            values = [new[c.name] for c in self.criteria]
        else:
            arr = _val.as_float_array(weights, "weights", ndim=1, finite=False)
            if len(arr) != len(self.criteria):
                raise InvalidInputError(
                    f"weights has {len(arr)} values but the matrix has {len(self.criteria)} criteria"
                )
            values = arr.tolist()
        crit = tuple(attrs.evolve(c, weight=w) for c, w in zip(self.criteria, values, strict=True))
        return DecisionMatrix(self.candidate_id, crit, self.scores)

    def drop(self, candidate_id: Any) -> DecisionMatrix:
        """A copy without the given candidates (an id or a list of ids).

        Raises
        ------
        InvalidInputError
            If an id is unknown or no candidate would remain.
        """
        keep = ~self._mask(candidate_id)
        if not keep.any():
            raise EmptyInputError("dropping these candidates leaves none")
        return DecisionMatrix(self.candidate_id[keep], self.criteria, self.scores[keep])

    def select(self, candidate_id: Any) -> DecisionMatrix:
        """A copy with only the given candidates, in matrix order.

        Raises
        ------
        InvalidInputError
            If an id is unknown.
        """
        keep = self._mask(candidate_id)
        return DecisionMatrix(self.candidate_id[keep], self.criteria, self.scores[keep])

    def add(self, other: DecisionMatrix) -> DecisionMatrix:
        """A copy with the candidates of ``other`` (same criteria) appended.

        Raises
        ------
        InvalidInputError
            If the criteria differ or an id repeats.
        """
        if not isinstance(other, DecisionMatrix):
            raise InvalidTypeError(f"other must be a DecisionMatrix, got {type(other).__name__}")
        if other.criterion_names != self.criterion_names:
            raise InvalidInputError(
                f"other has criteria {other.criterion_names!r}, expected {self.criterion_names!r}"
            )
        ids = np.concatenate([self.candidate_id.astype(object), other.candidate_id.astype(object)])
        return DecisionMatrix(ids, self.criteria, np.vstack([self.scores, other.scores]))

    def _mask(self, candidate_id: Any) -> BoolArray:
        wanted = [candidate_id] if np.ndim(candidate_id) == 0 else list(candidate_id)
        mask = np.zeros(self.n_candidates, dtype=bool)
        for cid in wanted:
            if np.ndim(cid) != 0:
                raise InvalidTypeError(
                    f"candidate_id must be an id or a flat list of ids, got {cid!r:.60} in it"
                )
            hit = self.candidate_id == cid
            if not hit.any():
                raise InvalidInputError(f"unknown candidate_id {_show(cid)}")
            mask |= hit
        return mask


# ---------------------------------------------------------------------------
# Eligibility and missing scores
# ---------------------------------------------------------------------------


@attrs.frozen(eq=False)
class Exclusions:
    """Who was excluded before ranking, and by which rule.

    One row per (candidate, failed rule): a candidate failing two rules
    appears twice.

    Attributes
    ----------
    candidate_id : numpy.ndarray
        Excluded candidate, one per failure.
    rule : numpy.ndarray of str
        The rule it failed: a threshold name such as ``"coverage >= 40"`` or
        ``"missing <criterion>"`` under ``missing="exclude"``.
    """

    candidate_id: AnyArray = attrs.field(converter=_val.freeze)
    rule: AnyArray = attrs.field(converter=_val.freeze)

    def __len__(self) -> int:
        return len(self.rule)

    def excluded(self) -> tuple[Any, ...]:
        """Distinct excluded candidates, in matrix order."""
        seen: dict[Any, None] = {}
        for cid in self.candidate_id.tolist():
            seen.setdefault(cid, None)
        return tuple(seen)

    def rules_for(self, candidate_id: Any) -> tuple[str, ...]:
        """The rules the given candidate failed (empty if it is eligible)."""
        if np.ndim(candidate_id) != 0:
            raise InvalidTypeError(f"candidate_id must be one id, got {candidate_id!r:.60}")
        hit = self.candidate_id == candidate_id
        return tuple(str(r) for r in self.rule[hit].tolist())


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


# ---------------------------------------------------------------------------
# Normalisation and aggregation
# ---------------------------------------------------------------------------


#: Column magnitudes inside this range are normalised as they are; outside it (subnormal
#: or near-overflow scores) each column is first divided by its largest magnitude, so
#: that ranges, norms, sums and reciprocals stay finite. Every set-relative
#: normalisation is invariant to that division, so the scores are unchanged.
_SAFE_MAGNITUDE = (1e-150, 1e150)


def _column_scale(x: FloatArray) -> FloatArray | None:
    """Per-column largest magnitude when some column needs rescaling, else None."""
    if x.size == 0:
        return None
    mag = np.maximum(np.abs(x.max(axis=0)), np.abs(x.min(axis=0)))
    low, high = _SAFE_MAGNITUDE
    if ((mag == 0) | ((mag >= low) & (mag <= high))).all():
        return None
    return np.where(mag == 0, 1.0, mag)


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


def _id_key(ids: AnyArray) -> IntArray:
    """Sort position of each id (falls back to matrix order for unsortable ids)."""
    try:
        _, inv = np.unique(ids, return_inverse=True)
        return np.asarray(inv, dtype=np.int64).reshape(-1)
    except TypeError:
        return np.arange(len(ids), dtype=np.int64)


def _rank(key: FloatArray, ids: AnyArray) -> tuple[IntArray, IntArray, tuple[tuple[Any, ...], ...]]:
    """Competition ranks (1 = best) of ``key`` (higher is better), order and ties."""
    n = len(key)
    idk = _id_key(ids)
    first = np.lexsort((idk, -key))
    ks = key[first]
    if n > 1:
        # the absolute tolerance shrinks with scores below 1 in magnitude (raw tiny
        # values under normalization="none" are not all ties)
        finite = np.abs(ks[np.isfinite(ks)])
        atol = _TIE_ATOL * min(1.0, float(finite.max(initial=0.0)))
        with np.errstate(over="ignore"):  # a gap beyond float64 is inf: not a tie
            gap = np.abs(np.diff(ks))
        close = gap <= atol + _TIE_RTOL * np.maximum(np.abs(ks[1:]), np.abs(ks[:-1]))
        start = np.concatenate([[True], ~close])
    else:
        start = np.ones(n, dtype=bool)
    group = np.cumsum(start) - 1
    group_start = np.flatnonzero(start)
    order = first[np.lexsort((idk[first], group))]
    rank = np.empty(n, dtype=np.int64)
    rank[order] = group_start[group] + 1
    ties: list[tuple[Any, ...]] = []
    if n > 1 and (~start).any():
        sizes = np.diff(np.append(group_start, n))
        for g in np.flatnonzero(sizes > 1):
            lo = group_start[g]
            ties.append(tuple(ids[order[lo : lo + sizes[g]]].tolist()))
    return rank, order, tuple(ties)


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
    _val.choice(method, "method", METHODS)
    if method == "vikor":
        if normalization not in (None, "minmax"):
            raise InvalidInputError(
                f"vikor uses its own min-max normalisation, got normalization={normalization!r}"
            )
        vikor_v = _val.scalar(vikor_v, "v", low=0.0, high=1.0)
    norm = _DEFAULT_NORMALIZATION[method] if normalization is None else normalization
    _val.choice(norm, "normalization", NORMALIZATIONS)
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


# ---------------------------------------------------------------------------
# Weights
# ---------------------------------------------------------------------------


def normalize_weights(
    weights: Any, *, total: float | None = None, rtol: float = 1e-6
) -> FloatArray:
    """Validate direct weights and divide them by their sum.

    Parameters
    ----------
    weights : array_like
        Finite, >= 0, at least one positive.
    total : float, optional
        The total the weights are meant to have (1 for shares, 100 for
        percentages). When given, weights that do not add up to it within
        ``rtol`` raise instead of being rescaled silently.
    rtol : float, default 1e-6
        Relative tolerance of the ``total`` check.

    Returns
    -------
    numpy.ndarray
        The weights divided by their sum.

    Raises
    ------
    InvalidInputError
        For negative, non-finite or all-zero weights, or a sum off ``total``.

    Examples
    --------
    >>> normalize_weights([30, 50, 20], total=100).tolist()
    [0.3, 0.5, 0.2]
    >>> normalize_weights([0.3, 0.5, 0.3], total=1)
    Traceback (most recent call last):
    ...
    custrel.errors.InvalidInputError: weights sum to 1.1, expected 1 (within rtol=1e-06); fix the weights or omit total= to rescale them
    """
    w = _val.as_float_array(weights, "weights", ndim=1)
    _val.check_range(w, "weights", low=0.0, hint="weights are importances; use 0 to ignore")
    rtol = _val.scalar(rtol, "rtol", low=0.0)
    big = float(w.max())
    if big <= 0:
        raise InvalidInputError("weights are all zero; give at least one a positive weight")
    # shares are invariant to a common factor: near overflow or underflow the weights are
    # divided by the largest one first, so that their sum stays finite
    scale = 1.0 if _SAFE_MAGNITUDE[0] <= big <= _SAFE_MAGNITUDE[1] else big
    ws = w / scale if scale != 1.0 else w
    s = float(ws.sum())
    if total is not None:
        t = _val.scalar(total, "total", low=0.0, low_inclusive=False)
        if scale == 1.0:
            off = abs(s - t) > rtol * t
        else:  # compare in logs: s * scale and t / scale may not be representable
            off = abs(math.log(s) + math.log(scale) - math.log(t)) > math.log1p(rtol)
        if off:
            with np.errstate(over="ignore"):
                total_w = s * scale
            shown = f"{total_w:.6g}" if math.isfinite(total_w) else f"{s:.6g} x {scale:g}"
            raise InvalidInputError(
                f"weights sum to {shown}, expected {t:g} (within rtol={rtol:g}); "
                "fix the weights or omit total= to rescale them"
            )
    out: FloatArray = ws / s
    return out


@attrs.frozen(eq=False)
class AHPResult:
    r"""Criterion weights from AHP pairwise comparisons.

    Attributes
    ----------
    criteria : tuple of str
        Criterion names in matrix order.
    weights : numpy.ndarray
        The principal eigenvector, summing to 1.
    lambda_max : float
        Principal eigenvalue.
    consistency_index : float
        :math:`CI = (\lambda_{max} - n)/(n - 1)` (0 for n <= 2).
    random_index : float
        Saaty's RI for this n (:data:`RANDOM_INDEX`).
    consistency_ratio : float
        :math:`CR = CI/RI` (0 for n <= 2).
    max_cr : float
        The accepted maximum.
    worst_pair : tuple of int
        The judgement :math:`a_{ij}` furthest from the derived ratio
        :math:`w_i/w_j` (largest :math:`|\ln(a_{ij} w_j / w_i)|`): the first
        one to revisit when CR is too high.
    """

    criteria: tuple[str, ...] = attrs.field(converter=_val.freeze)
    weights: FloatArray = attrs.field(converter=_val.freeze)
    lambda_max: float = attrs.field(converter=_val.freeze)
    consistency_index: float = attrs.field(converter=_val.freeze)
    random_index: float = attrs.field(converter=_val.freeze)
    consistency_ratio: float = attrs.field(converter=_val.freeze)
    max_cr: float = attrs.field(converter=_val.freeze)
    worst_pair: tuple[int, int] = attrs.field(converter=_val.freeze)

    @property
    def consistent(self) -> bool:
        """Whether CR <= max_cr."""
        return self.consistency_ratio <= self.max_cr


def ahp_weights(
    pairwise: Any,
    *,
    criteria: Sequence[str] | None = None,
    max_cr: float = 0.1,
    on_inconsistent: Literal["raise", "warn"] = "raise",
    rtol: float = 1e-6,
) -> AHPResult:
    r"""Weights from Saaty's pairwise-comparison matrix, with the consistency gate.

    Parameters
    ----------
    pairwise : array_like, shape (n, n)
        :math:`a_{ij}` = how much more important criterion i is than j
        (Saaty's 1-9 scale), positive, with :math:`a_{ii} = 1` and
        :math:`a_{ji} = 1/a_{ij}`.
    criteria : sequence of str, optional
        Names; ``"c0" …`` when omitted.
    max_cr : float, default 0.1
        Saaty's threshold on the consistency ratio.
    on_inconsistent : {"raise", "warn"}, default "raise"
        What to do when CR > ``max_cr``: raise :class:`InvalidInputError`
        or emit a :class:`ConsistencyWarning` and return the result.
    rtol : float, default 1e-6
        Relative tolerance of the reciprocity check (so 1/3 typed as
        0.333333 passes).

    Returns
    -------
    AHPResult

    Raises
    ------
    InvalidInputError
        For a non-square matrix, non-positive entries, a diagonal other than
        1, a non-reciprocal pair, n > 15 (no random index), or an
        inconsistent matrix under ``on_inconsistent="raise"``.

    Notes
    -----
    The weights are the normalised principal right eigenvector;
    :math:`CI = (\lambda_{max} - n)/(n-1)`, :math:`CR = CI / RI_n` with
    Saaty's random indices.

    References
    ----------
    Saaty, T. L. (1980). The Analytic Hierarchy Process. McGraw-Hill.

    Saaty, T. L. (1994). Fundamentals of Decision Making and Priority
    Theory. RWS Publications.

    Examples
    --------
    >>> a = [[1, 3, 5], [1 / 3, 1, 3], [1 / 5, 1 / 3, 1]]
    >>> res = ahp_weights(a, criteria=["sales", "coverage", "service"])
    >>> np.round(res.weights, 3).tolist(), round(res.consistency_ratio, 3)
    ([0.637, 0.258, 0.105], 0.033)
    """
    a = _val.as_float_array(pairwise, "pairwise", ndim=2)
    n = a.shape[0]
    if a.shape[1] != n:
        raise InvalidInputError(f"pairwise must be square, got shape {a.shape}")
    if n > 15:
        raise InvalidInputError(
            f"pairwise has order {n}; Saaty's random index is tabulated up to 15 criteria, "
            "so group the criteria in a hierarchy"
        )
    _val.check_range(a, "pairwise", low=0.0, low_inclusive=False, label="row")
    rtol = _val.scalar(rtol, "rtol", low=0.0)
    d = np.diag(a)
    if (np.abs(d - 1.0) > rtol).any():
        i = int(np.flatnonzero(np.abs(d - 1.0) > rtol)[0])
        raise InvalidInputError(f"pairwise diagonal must be 1, got {d[i]:g} at [{i}, {i}]")
    prod = a * a.T
    bad = np.abs(prod - 1.0) > rtol
    if bad.any():
        i, j = _val.first_bad(bad)
        raise InvalidInputError(
            f"pairwise must be reciprocal (a[j, i] = 1 / a[i, j]), got a[{i}, {j}] = {a[i, j]:g} "
            f"and a[{j}, {i}] = {a[j, i]:g}; set a[{j}, {i}] = {1.0 / a[i, j]:g}"
        )
    max_cr = _val.scalar(max_cr, "max_cr", low=0.0)
    _val.choice(on_inconsistent, "on_inconsistent", ("raise", "warn"))
    if criteria is None:
        names = tuple(f"c{i}" for i in range(n))
    else:
        names = tuple(_iterable(criteria, "criteria", "a sequence of names"))
        if not all(isinstance(x, str) for x in names):
            raise InvalidTypeError(f"criteria must be names (str), got {names!r:.80}")
        if len(names) != n:
            raise InvalidInputError(f"criteria has {len(names)} names but pairwise has order {n}")
    # Balance first: B = D^-1 A D with D the rows' geometric means has the same
    # eigenvalues, entries near 1 for consistent judgements, and the eigenvector
    # u = D v of A. Working with log u keeps weights and ratios finite for extreme
    # (subnormal or huge) judgements.
    la = np.log(a)
    g = la.mean(axis=1)
    expo = la - g[:, None] + g[None, :]
    if np.abs(expo).max() > 700.0:
        i, j = _val.first_bad(np.abs(expo) > 700.0)
        raise InvalidInputError(
            f"pairwise judgements are too extreme to weigh: a[{i}, {j}] = {a[i, j]:g} departs "
            "from the other judgements by more than a factor of 1e300; use Saaty's 1/9 to 9 scale"
        )
    try:
        vals, vecs = np.linalg.eig(np.exp(expo))
    except np.linalg.LinAlgError as exc:  # pragma: no cover - a finite positive matrix
        raise ConvergenceError(f"pairwise: the eigen-decomposition failed: {exc}") from None
    k = int(np.argmax(vals.real))
    lam = float(vals[k].real)
    v_ = np.abs(vecs[:, k].real)
    lw = g + np.log(np.maximum(v_, np.finfo(np.float64).tiny))
    lw -= lw.max()
    w = np.exp(lw)
    total_w = w.sum()
    w = w / total_w
    lw -= math.log(total_w)
    ri = RANDOM_INDEX[n]
    ci = max(lam - n, 0.0) / (n - 1) if n > 2 else 0.0
    cr = ci / ri if n > 2 else 0.0
    dev = np.abs(la + lw[None, :] - lw[:, None])
    np.fill_diagonal(dev, -1.0)
    wi, wj = np.unravel_index(int(np.argmax(dev)), dev.shape) if n > 1 else (0, 0)
    res = AHPResult(
        criteria=names,
        weights=_val.readonly(w),
        lambda_max=lam,
        consistency_index=ci,
        random_index=ri,
        consistency_ratio=cr,
        max_cr=max_cr,
        worst_pair=(int(wi), int(wj)),
    )
    if not res.consistent:
        shown = f"{cr:.3f}" if cr < 1e6 else f"{cr:.3g}"
        msg = (
            f"pairwise consistency ratio {shown} > max_cr={max_cr:g}; revise the judgements, "
            f"starting with a[{wi}, {wj}] = {a[wi, wj]:g} ({names[wi]!r} vs {names[wj]!r}), "
            f"which the derived weights put at {math.exp(min(lw[wi] - lw[wj], 700.0)):.3g}"
        )
        if on_inconsistent == "raise":
            raise InvalidInputError(msg + ", or pass on_inconsistent='warn'")
        warnings.warn(msg, ConsistencyWarning, stacklevel=2)
    return res


@attrs.frozen(eq=False)
class EntropyResult:
    r"""Objective weights from the entropy of each criterion's scores.

    Attributes
    ----------
    criteria : tuple of str
        Criterion names.
    weights : numpy.ndarray
        :math:`w_j = d_j / \sum_k d_k`.
    entropy : numpy.ndarray
        :math:`E_j = -\sum_i p_{ij}\ln p_{ij} / \ln n` with
        :math:`p_{ij} = x_{ij}/\sum_i x_{ij}` and :math:`0 \ln 0 = 0`.
    divergence : numpy.ndarray
        :math:`d_j = 1 - E_j`.
    """

    criteria: tuple[str, ...] = attrs.field(converter=_val.freeze)
    weights: FloatArray = attrs.field(converter=_val.freeze)
    entropy: FloatArray = attrs.field(converter=_val.freeze)
    divergence: FloatArray = attrs.field(converter=_val.freeze)


def entropy_weights(matrix: DecisionMatrix | Any) -> EntropyResult:
    r"""Entropy weights: criteria whose scores vary more weigh more.

    Parameters
    ----------
    matrix : DecisionMatrix or array_like
        Scores >= 0 (raw, before orientation), at least two candidates, no
        NaN.

    Returns
    -------
    EntropyResult

    Raises
    ------
    InvalidInputError
        For negative or NaN scores, a column summing to 0, a single
        candidate, or all criteria uniform (every divergence 0).

    Notes
    -----
    pymcdm sets a column's entropy to 0 when it contains a zero; here
    :math:`0 \ln 0 = 0` (the limit), so results agree on positive data.

    References
    ----------
    Zeleny, M. (1982). Multiple Criteria Decision Making. McGraw-Hill.

    Examples
    --------
    >>> res = entropy_weights([[1, 5], [2, 5], [9, 5.5]])
    >>> np.round(res.weights, 3).tolist()
    [0.997, 0.003]
    """
    if isinstance(matrix, DecisionMatrix):
        x = np.asarray(matrix.scores)
        names = matrix.criterion_names
        label = "scores"
        _val.check_finite(x, label)
    else:
        label = "matrix"
        x = _val.as_float_array(matrix, label, ndim=2)
        names = tuple(f"c{j}" for j in range(x.shape[1]))
    n = x.shape[0]
    if n < 2:
        raise InvalidInputError("entropy weights need at least 2 candidates, got 1")
    _val.check_range(x, label, low=0.0, hint="entropy weights need scores >= 0")
    colmax = x.max(axis=0)
    if (colmax == 0).any():
        j = int(np.flatnonzero(colmax == 0)[0])
        raise InvalidInputError(
            f"criterion {names[j]!r} is zero for every candidate; entropy is undefined, drop it"
        )
    # p is invariant to a column factor: near overflow or underflow, columns are divided
    # by their largest score first so that the column sums stay finite
    colscale = _column_scale(x)
    if colscale is not None:
        x = x / colscale
    p = x / x.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        plogp = np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0)
    e = -plogp.sum(axis=0) / math.log(n)
    d = np.clip(1.0 - e, 0.0, None)  # rounding can leave -1e-16 on uniform columns
    if d.sum() <= 0:
        raise InvalidInputError(
            "every criterion is uniform across the candidates; entropy weights are undefined"
        )
    return EntropyResult(names, _val.readonly(d / d.sum()), _val.readonly(e), _val.readonly(d))


# ---------------------------------------------------------------------------
# Scoring functions
# ---------------------------------------------------------------------------


def score_linear(
    values: Any,
    low: float,
    high: float,
    *,
    direction: str = "benefit",
    scale: tuple[float, float] = (0.0, 10.0),
    saturate: bool = True,
) -> FloatArray:
    """Map a raw attribute linearly onto a score scale.

    ``low`` maps to the bottom of ``scale`` and ``high`` to the top (the
    other way round for ``direction="cost"``).

    Parameters
    ----------
    values : array_like
        Raw values (sales, coverage %, delivery days, ...).
    low, high : float
        The raw values that earn the worst and the best score (``low < high``).
    direction : {"benefit", "cost"}, default "benefit"
        For cost attributes ``low`` earns the best score.
    scale : tuple of float, default (0, 10)
        The score range.
    saturate : bool, default True
        Values beyond ``[low, high]`` get the end score (a value function
        that saturates). With False they raise instead.

    Returns
    -------
    numpy.ndarray

    Raises
    ------
    InvalidInputError
        For NaN values, ``low >= high``, or out-of-range values when
        ``saturate`` is False.

    Examples
    --------
    >>> score_linear([50, 100, 175, 300], 100, 200).tolist()
    [0.0, 0.0, 7.5, 10.0]
    >>> score_linear([2, 5], 1, 9, direction="cost").tolist()
    [8.75, 5.0]
    """
    x = _val.as_float_array(values, "values", ndim=(0, 1, 2))
    lo = _val.scalar(low, "low")
    hi = _val.scalar(high, "high")
    if not lo < hi:
        raise InvalidInputError(f"low must be < high, got low={lo:g}, high={hi:g}")
    _val.choice(direction, "direction", _DIRECTIONS)
    s0, s1 = _scale_pair(scale)
    if not saturate:
        _val.check_range(x, "values", low=lo, high=hi, hint="pass saturate=True to cap at the ends")
    with np.errstate(over="ignore"):
        if _SAFE_MAGNITUDE[0] <= max(abs(lo), abs(hi)) <= _SAFE_MAGNITUDE[1]:
            t = np.clip((x - lo) / (hi - lo), 0.0, 1.0)
        else:  # values divided by max(|lo|, |hi|): the width stays finite and nonzero
            mag = max(abs(lo), abs(hi))
            t = np.clip((x / mag - lo / mag) / (hi / mag - lo / mag), 0.0, 1.0)
    if direction == "cost":
        t = 1.0 - t
    return _on_scale(t, s0, s1)


def _on_scale(t: FloatArray, s0: float, s1: float) -> FloatArray:
    """``s0 + t (s1 - s0)`` for t in [0, 1], as a convex combination when the width overflows."""
    if math.isfinite(s1 - s0):
        out: FloatArray = s0 + t * (s1 - s0)
    else:
        out = s0 * (1.0 - t) + s1 * t
    return out


def _scale_pair(scale: Any) -> tuple[float, float]:
    if not isinstance(scale, Sequence) or len(scale) != 2:
        raise InvalidInputError(f"scale must be a (low, high) pair, got {scale!r}")
    s0 = _val.scalar(scale[0], "scale low")
    s1 = _val.scalar(scale[1], "scale high")
    if not s0 < s1:
        raise InvalidInputError(f"scale must have low < high, got ({s0:g}, {s1:g})")
    return s0, s1


def score_bands(values: Any, edges: Any, scores: Any) -> FloatArray:
    """Step scoring: the score of the band each value falls in.

    A value ``x`` with ``edges[k-1] <= x < edges[k]`` gets ``scores[k]``;
    below ``edges[0]`` it gets ``scores[0]`` and from ``edges[-1]`` on the
    last score.

    Parameters
    ----------
    values : array_like
        Raw values.
    edges : array_like
        Strictly increasing band edges.
    scores : array_like
        ``len(edges) + 1`` scores.

    Returns
    -------
    numpy.ndarray

    Raises
    ------
    InvalidInputError
        For NaN values, non-increasing edges or a wrong number of scores.

    Examples
    --------
    >>> score_bands([0.5e6, 1e6, 3e6, 9e6], [1e6, 5e6], [1, 3, 5]).tolist()
    [1.0, 3.0, 3.0, 5.0]
    """
    x = _val.as_float_array(values, "values", ndim=(0, 1, 2))
    e = _val.as_float_array(edges, "edges", ndim=1)
    s = _val.as_float_array(scores, "scores", ndim=1)
    if (e[1:] <= e[:-1]).any():
        i = int(np.flatnonzero(e[1:] <= e[:-1])[0]) + 1
        raise InvalidInputError(
            f"edges must be strictly increasing, got {e[i]:g} after {e[i - 1]:g} at row {i}"
        )
    if len(s) != len(e) + 1:
        raise InvalidInputError(
            f"scores must have len(edges) + 1 = {len(e) + 1} values, got {len(s)}"
        )
    return s[np.searchsorted(e, x, side="right")]


def score_likert(
    responses: Any, *, levels: int = 5, scale: tuple[float, float] = (0.0, 10.0)
) -> FloatArray:
    """Map Likert ratings 1 … ``levels`` linearly onto a score scale.

    A 2-D input (candidates × raters or items) is averaged over its columns.

    Parameters
    ----------
    responses : array_like of int
        Ratings in 1 … ``levels``.
    levels : int, default 5
        Number of answer levels.
    scale : tuple of float, default (0, 10)
        Score of rating 1 and of rating ``levels``.

    Returns
    -------
    numpy.ndarray
        One score per row (or per value for 1-D input).

    Raises
    ------
    InvalidInputError
        For ratings that are not whole numbers in 1 … ``levels``.

    Examples
    --------
    >>> np.round(score_likert([[5, 4, 4], [2, 3, 1]]), 3).tolist()
    [8.333, 2.5]
    """
    x = _val.as_float_array(responses, "responses", ndim=(1, 2))
    k = _val.positive_int(levels, "levels", minimum=2)
    _val.check_integer_valued(x, "responses")
    _val.check_range(x, "responses", low=1.0, high=float(k))
    s0, s1 = _scale_pair(scale)
    mean = x.mean(axis=1) if x.ndim == 2 else x
    return _on_scale((mean - 1.0) / (k - 1), s0, s1)


# ---------------------------------------------------------------------------
# Sensitivity
# ---------------------------------------------------------------------------


def _method_setup(method: str, normalization: str | None, vikor_v: float) -> tuple[str, float]:
    _val.choice(method, "method", METHODS)
    if method == "vikor":
        if normalization not in (None, "minmax"):
            raise InvalidInputError(
                f"vikor uses its own min-max normalisation, got normalization={normalization!r}"
            )
        vikor_v = _val.scalar(vikor_v, "v", low=0.0, high=1.0)
    norm = _DEFAULT_NORMALIZATION[method] if normalization is None else normalization
    _val.choice(norm, "normalization", NORMALIZATIONS)
    return norm, vikor_v


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


# ---------------------------------------------------------------------------
# Grouped weighted index (sales staff, CRM capability)
# ---------------------------------------------------------------------------


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
    gsum = np.bincount(member[member >= 0], weights=raw[member >= 0], minlength=len(gnames))
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


# ---------------------------------------------------------------------------
# Sales-volume and sales-cost analysis
# ---------------------------------------------------------------------------


def _ids_for(candidate_id: Any, n: int, what: str) -> AnyArray:
    return _val.readonly(_as_ids(candidate_id, n, what))


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


# ---------------------------------------------------------------------------
# Performance evaluation
# ---------------------------------------------------------------------------


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
