"""The customer-asset balance sheet between two dates (private, shared).

A balance sheet follows customers that belong to one of ``k`` ordered classes
(0 = best .. ``k - 1`` = worst; ``-1`` = not a customer at that date) from an
opening date to a closing date, and reports per class where its customers
came from and where they went (domain notes §1)::

    opening + new + upgraded_in + downgraded_in
            - upgraded_out - downgraded_out - lost = closing

in counts and, when values are given, in value. ``pyramid`` uses it for tier
migration and ``clv`` for the customer-equity balance sheet; it imports no
algorithm module.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from custrel import _numeric
from custrel import _validate as v
from custrel.errors import InvalidInputError, InvalidTypeError

__all__ = ["BalanceSheet", "balance_sheet"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: The flows of the sheet in the order the rows show them.
FLOWS: tuple[str, ...] = (
    "opening",
    "new",
    "upgraded_in",
    "downgraded_in",
    "upgraded_out",
    "downgraded_out",
    "lost",
    "closing",
)


def _classes(value: Any) -> tuple[str, ...]:
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise InvalidTypeError(
            f"classes must be a sequence of class names, got {type(value).__name__} {value!r}"
        )
    names = tuple(str(c) for c in value)
    if not names:
        raise InvalidInputError("classes must name at least 1 class, got an empty sequence")
    if len(set(names)) != len(names):
        raise InvalidInputError(f"classes must be distinct, got {names!r}")
    return names


def _class_index(value: Any, name: str, k: int) -> IntArray:
    arr = np.asarray(value)
    if arr.dtype.kind not in "iu":
        if arr.dtype.kind == "b" or arr.dtype.kind not in "f":
            raise InvalidTypeError(
                f"{name} must hold integer class indices (0 = best .. {k - 1} = worst, "
                f"-1 = not a customer), got dtype {arr.dtype}"
            )
        f = v.as_float_array(arr, name, ndim=1, allow_empty=True)
        v.check_integer_valued(f, name)
        v.check_range(
            f,
            name,
            low=-1.0,
            high=k - 1.0,
            hint=f"use 0..{k - 1} for the {k} classes and -1 for 'not a customer'",
        )
        arr = f
    if arr.ndim != 1:
        raise InvalidInputError(f"{name} must be 1-D, got shape {arr.shape}")
    out = arr.astype(np.int64)
    bad = (out < -1) | (out > k - 1)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InvalidInputError(
            f"{name} must be in [-1, {k - 1}], got {int(out[row])} at row {row}; "
            f"use 0..{k - 1} for the {k} classes and -1 for 'not a customer'"
        )
    return out


def _value(value: Any, name: str, present: npt.NDArray[np.bool_]) -> FloatArray:
    arr = v.as_float_array(value, name, ndim=1, allow_empty=True, finite=False)
    if len(arr) != len(present):
        raise InvalidInputError(
            f"{name} has {len(arr)} values but there are {len(present)} customers"
        )
    bad = present & ~np.isfinite(arr)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InvalidInputError(
            f"{name} must be finite for every customer present at that date, "
            f"got {float(arr[row])!r} at row {row}"
        )
    return np.where(present, arr, 0.0)


@attrs.frozen
class BalanceSheet:
    """Per-class flows of customers (and their value) between two dates.

    Class ``0`` is the best class; a move to a lower index is an upgrade.
    Each count array has one entry per class, in the order of ``classes``.

    Attributes
    ----------
    classes : tuple of str
        The class names, best first.
    opening : ndarray of int
        Customers in the class at the opening date.
    new : ndarray of int
        Customers in the class at the closing date who were not customers at
        the opening date.
    upgraded_in : ndarray of int
        Customers who arrived from a worse class.
    downgraded_in : ndarray of int
        Customers who arrived from a better class.
    upgraded_out : ndarray of int
        Customers who left for a better class.
    downgraded_out : ndarray of int
        Customers who left for a worse class.
    lost : ndarray of int
        Customers of the class at the opening date who are no longer
        customers at the closing date.
    closing : ndarray of int
        Customers in the class at the closing date.
    transitions : ndarray of int, shape (k + 1, k + 1)
        Counts of customers by class at the opening date (rows) and at the
        closing date (columns); the last row and column stand for "not a
        customer", so ``transitions[k, c]`` are the new customers of class
        ``c``, ``transitions[c, k]`` its lost ones and ``transitions[k, k]``
        the rows that are customers at neither date.
    value_opening, value_new, value_upgraded_in, value_downgraded_in, \
value_upgraded_out, value_downgraded_out, value_lost, value_closing : ndarray of float or None
        The same flows in value (``None`` when no values were given). What
        leaves or opens a class is valued at the opening date
        (``value_before``: opening, upgraded_out, downgraded_out, lost); what
        arrives or closes is valued at the closing date (``value_after``:
        new, upgraded_in, downgraded_in, closing).
    value_revalued : ndarray of float or None
        The change in value of the customers who stayed in the class,
        ``Σ (value_after − value_before)`` over them, so that the value
        identity balances exactly.

    Notes
    -----
    Counts satisfy, per class,
    ``opening + new + upgraded_in + downgraded_in − upgraded_out −
    downgraded_out − lost = closing``; values satisfy the same identity with
    ``value_revalued`` added on the left, because a customer's value changes
    between the two dates even when its class does not.
    """

    classes: tuple[str, ...]
    opening: IntArray = attrs.field(converter=v.freeze)
    new: IntArray = attrs.field(converter=v.freeze)
    upgraded_in: IntArray = attrs.field(converter=v.freeze)
    downgraded_in: IntArray = attrs.field(converter=v.freeze)
    upgraded_out: IntArray = attrs.field(converter=v.freeze)
    downgraded_out: IntArray = attrs.field(converter=v.freeze)
    lost: IntArray = attrs.field(converter=v.freeze)
    closing: IntArray = attrs.field(converter=v.freeze)
    transitions: IntArray = attrs.field(converter=v.freeze)
    value_opening: FloatArray | None = attrs.field(default=None, converter=v.freeze)
    value_new: FloatArray | None = attrs.field(default=None, converter=v.freeze)
    value_upgraded_in: FloatArray | None = attrs.field(default=None, converter=v.freeze)
    value_downgraded_in: FloatArray | None = attrs.field(default=None, converter=v.freeze)
    value_upgraded_out: FloatArray | None = attrs.field(default=None, converter=v.freeze)
    value_downgraded_out: FloatArray | None = attrs.field(default=None, converter=v.freeze)
    value_lost: FloatArray | None = attrs.field(default=None, converter=v.freeze)
    value_closing: FloatArray | None = attrs.field(default=None, converter=v.freeze)
    value_revalued: FloatArray | None = attrs.field(default=None, converter=v.freeze)

    @property
    def has_value(self) -> bool:
        """Whether the sheet carries values as well as counts."""
        return self.value_opening is not None

    def transition_rates(self) -> FloatArray:
        """Row-normalised transitions: the share of each opening class that went where.

        Returns
        -------
        ndarray of float, shape (k + 1, k + 1)
            ``transitions / transitions.sum(axis=1)``; a row with no customers
            is ``nan`` (0/0), not 0.
        """
        t = self.transitions.astype(np.float64)
        totals = t.sum(axis=1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            out = t / totals
        return v.readonly(out)

    def rows(self, *, in_value: bool = False, total: bool = True) -> list[dict[str, Any]]:
        """Render the sheet as one row per class (and a total row).

        Parameters
        ----------
        in_value : bool, default False
            Show the flows in value instead of counts (needs values); a
            ``revalued`` column is added before ``closing``.
        total : bool, default True
            Append a row ``class="total"`` with the column sums.

        Returns
        -------
        list of dict
            Keys ``class``, then the flows in the order opening, new,
            upgraded_in, downgraded_in, upgraded_out, downgraded_out, lost,
            (revalued,) closing.

        Raises
        ------
        InvalidInputError
            If ``in_value`` is asked of a sheet without values.
        """
        if in_value and not self.has_value:
            raise InvalidInputError(
                "in_value=True needs a balance sheet built with value_before and value_after"
            )
        names = list(FLOWS)
        if in_value:
            names.insert(names.index("closing"), "revalued")
        cols: dict[str, npt.NDArray[Any]] = {}
        for flow in names:
            attr = f"value_{flow}" if in_value else flow
            arr = getattr(self, attr)
            cols[flow] = arr
        out: list[dict[str, Any]] = []
        for i, cls in enumerate(self.classes):
            row: dict[str, Any] = {"class": cls}
            for flow in names:
                x = cols[flow][i]
                row[flow] = float(x) if in_value else int(x)
            out.append(row)
        if total:
            row = {"class": "total"}
            for flow in names:
                s = cols[flow].sum()
                row[flow] = float(s) if in_value else int(s)
            out.append(row)
        return out

    def to_text(self, *, in_value: bool = False) -> str:
        """Return the sheet as a plain-text table (see :meth:`rows`)."""
        rows = self.rows(in_value=in_value)
        keys = list(rows[0])
        cells = [keys] + [
            [r[k] if k == "class" else (f"{r[k]:.2f}" if in_value else str(r[k])) for k in keys]
            for r in rows
        ]
        widths = [max(len(str(c[j])) for c in cells) for j in range(len(keys))]
        lines = []
        for c in cells:
            parts = [str(c[0]).ljust(widths[0])]
            parts += [str(x).rjust(w) for x, w in zip(c[1:], widths[1:], strict=True)]
            lines.append("  ".join(parts))
        return "\n".join(lines)


def balance_sheet(
    before: Any,
    after: Any,
    *,
    classes: Sequence[str],
    value_before: Any = None,
    value_after: Any = None,
) -> BalanceSheet:
    """Build the customer-asset balance sheet between two dates.

    Parameters
    ----------
    before, after : array_like of int, shape (n,)
        Each customer's class index at the opening and at the closing date:
        ``0`` is the best class, ``k - 1`` the worst, ``-1`` means "not a
        customer at that date". Row ``i`` of both arrays is the same customer.
    classes : sequence of str
        The names of the ``k`` classes, best first.
    value_before, value_after : array_like of float, shape (n,), optional
        Each customer's value at the opening and at the closing date. Give
        both or neither. Values at rows where the customer is absent at that
        date are ignored (they may be nan); elsewhere they must be finite.

    Returns
    -------
    BalanceSheet

    Raises
    ------
    InvalidTypeError
        If the class indices are not integers or ``classes`` is not a sequence.
    InvalidInputError
        If an index lies outside ``-1 .. k - 1``, the lengths differ, only
        one of the value arrays is given, or a needed value is not finite.

    Notes
    -----
    One pass: the pair ``(before, after)`` of each customer is encoded as one
    integer and counted with :func:`numpy.bincount` (weighted by the values
    for the value flows), so the cost is O(n) for n customers.

    Examples
    --------
    >>> from custrel._balance import balance_sheet
    >>> bs = balance_sheet([0, 1, 1, -1, 2], [1, 0, 1, 2, -1], classes=["A", "B", "C"])
    >>> bs.opening.tolist(), bs.closing.tolist()
    ([1, 2, 1], [1, 2, 1])
    >>> bs.new.tolist(), bs.lost.tolist(), bs.upgraded_in.tolist()
    ([0, 0, 1], [0, 0, 1], [1, 0, 0])
    """
    names = _classes(classes)
    k = len(names)
    b = _class_index(before, "before", k)
    a = _class_index(after, "after", k)
    v.check_same_length(before=b, after=a)
    if (value_before is None) != (value_after is None):
        given = "value_before" if value_after is None else "value_after"
        raise InvalidInputError(
            f"{given} was given alone; pass both value_before and value_after "
            "(the same array twice to value both dates alike)"
        )
    bi = np.where(b < 0, k, b)
    ai = np.where(a < 0, k, a)
    size = (k + 1) * (k + 1)
    code = bi * (k + 1) + ai
    t = _numeric.bincount(code, minlength=size).astype(np.int64).reshape(k + 1, k + 1)
    block = t[:k, :k]
    # Row j = class at the opening date, column c = class at the closing date;
    # j > c means a move up (to a better, lower-index class).
    up = np.tril(block, -1)
    down = np.triu(block, 1)
    fields: dict[str, Any] = {
        "opening": t[:k].sum(axis=1),
        "new": t[k, :k].copy(),
        "upgraded_in": up.sum(axis=0),
        "downgraded_in": down.sum(axis=0),
        "upgraded_out": up.sum(axis=1),
        "downgraded_out": down.sum(axis=1),
        "lost": t[:k, k].copy(),
        "closing": t[:, :k].sum(axis=0),
    }
    if value_before is not None:
        vb = _value(value_before, "value_before", b >= 0)
        va = _value(value_after, "value_after", a >= 0)
        v.check_same_length(before=b, value_before=vb, value_after=va)
        mb = _numeric.bincount(code, weights=vb, minlength=size).reshape(k + 1, k + 1)
        ma = _numeric.bincount(code, weights=va, minlength=size).reshape(k + 1, k + 1)
        fields |= {
            "value_opening": mb[:k].sum(axis=1),
            "value_new": ma[k, :k].copy(),
            "value_upgraded_in": np.tril(ma[:k, :k], -1).sum(axis=0),
            "value_downgraded_in": np.triu(ma[:k, :k], 1).sum(axis=0),
            "value_upgraded_out": np.tril(mb[:k, :k], -1).sum(axis=1),
            "value_downgraded_out": np.triu(mb[:k, :k], 1).sum(axis=1),
            "value_lost": mb[:k, k].copy(),
            "value_closing": ma[:, :k].sum(axis=0),
            "value_revalued": np.diag(ma[:k, :k]) - np.diag(mb[:k, :k]),
        }
        for key, what in (
            ("value_opening", "value_before"),
            ("value_closing", "value_after"),
            ("value_revalued", "value_after - value_before"),
        ):
            v.check_sums_finite(fields[key], what, labels=names, label="class")
    fields = {key: np.ascontiguousarray(arr) for key, arr in fields.items()}
    return BalanceSheet(classes=names, transitions=t, **fields)
