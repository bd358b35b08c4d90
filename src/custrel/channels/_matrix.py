"""The channel-selection values (private): criteria, knock-out rules, partners, the decision matrix."""

from __future__ import annotations

import importlib
import math
import types
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs
import numpy as np

from custrel import _validate as _val
from custrel.channels._common import (
    _DIRECTIONS,
    AnyArray,
    BoolArray,
    FloatArray,
    _as_ids,
    _iterable,
    _opt_scalar,
    _show,
)
from custrel.errors import (
    EmptyInputError,
    InvalidInputError,
    InvalidTypeError,
    MissingDependencyError,
)

__all__: list[str] = []


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
            given: Any = self.scale
            if isinstance(given, np.ndarray):  # an array pair reads as its values
                object.__setattr__(self, "scale", tuple(given.tolist()))
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
    """A read-only copy of a partner's attributes: names to finite numbers, None or NaN (missing)."""
    if not isinstance(value, Mapping):
        raise InvalidTypeError(f"attributes must be a mapping, got {type(value).__name__}")
    out: dict[str, Any] = {}
    for key, val in value.items():
        if not isinstance(key, str):
            raise InvalidTypeError(
                f"attributes keys must be criterion names (str), got {key!r:.40}"
            )
        if val is None or (isinstance(val, float | np.floating) and math.isnan(val)):
            out[key] = val  # a missing score
        else:
            out[key] = _val.scalar(val, f"attributes[{key!r}]")
    return types.MappingProxyType(out)


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
        if id_column is not None and not isinstance(id_column, str):
            raise InvalidTypeError(
                f"id_column must be a column name (str) or None, got {type(id_column).__name__}"
            )
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
        from custrel.channels._weights import (  # _weights reads DecisionMatrix
            AHPResult,
            EntropyResult,
        )

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
            _val.id_array([cid], "candidate_id")  # refuses a missing id (None, nan, NA)
            hit = self.candidate_id == cid
            if not hit.any():
                raise InvalidInputError(f"unknown candidate_id {_show(cid)}")
            mask |= hit
        return mask


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
