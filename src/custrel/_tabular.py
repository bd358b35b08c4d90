"""Results with per-customer arrays as tables (private): ``to_frame`` and ``pd.DataFrame(result)``.

One mechanism for every result class that holds one array per column and one
row per customer (or per group). A class opts in with one line::

    @attrs.frozen(eq=False)
    class BTYDSummary(Tabular): ...

and its table is its ``to_arrays()`` (the columns that are present), or, for
a class without ``to_arrays``, the attributes named in a class keyword:
``class RFMTable(Tabular, columns=("customer_id", "recency", ...))``.

What a class gets:

* ``result.to_frame(backend="pandas" | "polars" | "pyarrow")``, built through
  narwhals (the ``frames`` extra; a :class:`~custrel.MissingDependencyError`
  names the extra when it or the backend is missing);
* ``pandas.DataFrame(result)``, ``polars.DataFrame(result)`` and
  ``pyarrow.table(result)`` (and duckdb's ``FROM result``).

How the constructors are reached, found by experiment with pandas 2.3,
polars 1.x and pyarrow 26: ``pandas.DataFrame(obj)`` accepts a custom object
only as a ``dict`` or as an iterable of rows. A ``collections.abc.Mapping``
is iterated as its keys (a frame of column *names*, silently wrong); it
ignores ``__dataframe__`` (the interchange protocol) and
``__arrow_c_stream__``; ``__array__`` returning a structured array gives one
column of records. So a :class:`Tabular` result iterates over its rows, as
named tuples whose fields are the column names, which pandas reads as
records; the frame is right, only slower than :meth:`Tabular.to_frame` for
millions of rows (Python objects per cell). polars and pyarrow prefer the
Arrow PyCapsule stream (``__arrow_c_stream__``), which they read column by
column without touching Python objects; a Mapping would have changed
``len(result)`` and ``in`` to mean column names, which surprises more than
row iteration does.
"""

from __future__ import annotations

import collections
import functools
import importlib
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from custrel import _validate as v
from custrel.errors import InvalidInputError, MissingDependencyError

__all__: list[str] = []

BACKENDS = ("pandas", "polars", "pyarrow")


def table_columns(result: Any) -> dict[str, npt.NDArray[Any]]:
    """The per-row columns of a result: its declared columns, else ``to_arrays()``."""
    names: tuple[str, ...] | None = getattr(type(result), "_columns", None)
    if names is not None:
        cols = {n: np.array(getattr(result, n)) for n in names if getattr(result, n) is not None}
    else:
        to_arrays = getattr(result, "to_arrays", None)
        if not callable(to_arrays):
            raise InvalidInputError(
                f"{type(result).__name__} has no per-customer columns (no to_arrays() and no "
                "declared columns)"
            )
        cols = {str(k): np.asarray(a) for k, a in to_arrays().items()}
    lengths = {len(a) for a in cols.values()}
    if len(lengths) > 1:  # pragma: no cover - a result class's own invariant
        raise InvalidInputError(
            f"the columns of {type(result).__name__} differ in length: "
            + ", ".join(f"{k}={len(a)}" for k, a in cols.items())
        )
    return cols


def _plain(arr: npt.NDArray[Any]) -> Any:
    if arr.dtype.kind == "O":
        return arr.tolist()
    if arr.dtype.kind == "M":
        return arr.astype("datetime64[us]")  # polars and pandas < 2 have no second unit
    return arr


def to_frame(result: Any, backend: str = "pandas") -> Any:
    """One row per customer, one column per per-customer field, as a dataframe.

    The function behind :meth:`Tabular.to_frame`, usable on any result with
    ``to_arrays()``.
    """
    v.choice(backend, "backend", BACKENDS)
    try:
        nw = importlib.import_module("narwhals")
    except ImportError:
        raise MissingDependencyError(
            "to_frame needs the 'frames' extra; pip install 'custrel[frames]'"
        ) from None
    data = {k: _plain(a) for k, a in table_columns(result).items()}
    try:
        importlib.import_module(backend)
    except ImportError:
        raise MissingDependencyError(
            f"to_frame(backend={backend!r}) needs {backend}; pip install {backend}"
        ) from None
    return nw.from_dict(data, backend=backend).to_native()


def native_frame(cols: dict[str, npt.NDArray[Any]], backend: str) -> Any:
    """Columns as a dataframe of ``backend`` built by that library itself (no narwhals).

    The frame owns its data; datetimes become microseconds for polars (it
    has no seconds unit) and fixed-width text becomes Python strings.
    """
    v.choice(backend, "backend", BACKENDS)
    try:
        module = importlib.import_module(backend)
    except ImportError:
        raise MissingDependencyError(
            f"backend {backend!r} is not installed; pip install {backend}"
        ) from None
    out: dict[str, npt.NDArray[Any]] = {}
    for name, arr in cols.items():
        a = np.array(arr, copy=True)
        if a.dtype.kind == "M" and backend == "polars":
            a = a.astype("datetime64[us]")
        if a.dtype.kind in "US":
            a = a.astype(object)
        out[name] = a
    if backend == "pyarrow":
        return module.table(out)
    return module.DataFrame(out)


@functools.lru_cache(maxsize=128)
def _row_type(name: str, fields: tuple[str, ...]) -> Any:
    return collections.namedtuple(name, fields, rename=True)


def iter_rows(result: Any) -> Iterator[Any]:
    """The rows of a result as named tuples (what ``pandas.DataFrame(result)`` reads)."""
    cols = table_columns(result)
    row = _row_type(f"{type(result).__name__}Row", tuple(cols))
    return map(row._make, zip(*(a.tolist() for a in cols.values()), strict=True))


def arrow_stream(result: Any, requested_schema: Any = None) -> Any:
    """The result's table as an Arrow PyCapsule stream (pyarrow, else polars, builds it)."""
    data = {k: _plain(a) for k, a in table_columns(result).items()}
    try:
        pa = importlib.import_module("pyarrow")
    except ImportError:
        try:
            pl = importlib.import_module("polars")
        except ImportError:
            raise MissingDependencyError(
                "reading a result through the Arrow stream needs pyarrow or polars; "
                "pip install 'custrel[frames]' pyarrow"
            ) from None
        return pl.DataFrame(data).__arrow_c_stream__(requested_schema)
    return pa.table(data).__arrow_c_stream__(requested_schema)


class Tabular:
    """Mixin: a result with per-customer arrays, readable as a table.

    Gives :meth:`to_frame`, row iteration (so ``pandas.DataFrame(result)``
    works) and the Arrow stream protocol (so ``polars.DataFrame(result)`` and
    ``pyarrow.table(result)`` work). The columns are ``to_arrays()``, or the
    attributes named by the ``columns=`` class keyword.

    Examples
    --------
    >>> import attrs
    >>> import numpy as np
    >>> import pandas as pd
    >>> from custrel._tabular import Tabular
    >>> @attrs.frozen
    ... class Scores(Tabular, columns=("customer_id", "score")):
    ...     customer_id: np.ndarray
    ...     score: np.ndarray
    >>> s = Scores(np.array(["a", "b"]), np.array([0.5, 0.25]))
    >>> pd.DataFrame(s)
      customer_id  score
    0           a   0.50
    1           b   0.25
    >>> s.to_frame("polars").shape
    (2, 2)
    """

    __slots__ = ()
    _columns: ClassVar[tuple[str, ...] | None] = None

    def __init_subclass__(cls, columns: Sequence[str] | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if columns is not None:  # attrs re-creates slotted classes without the keyword
            cls._columns = tuple(columns)

    def to_frame(self, backend: str = "pandas") -> Any:
        """One row per customer, one column per per-customer field.

        Parameters
        ----------
        backend : {"pandas", "polars", "pyarrow"}
            The dataframe library (default pandas).

        Returns
        -------
        pandas.DataFrame, polars.DataFrame or pyarrow.Table
            Copies of the result's arrays (the result stays read-only).

        Raises
        ------
        InvalidInputError
            On an unknown backend.
        MissingDependencyError
            If narwhals (the ``frames`` extra) or the backend is not installed.
        """
        return to_frame(self, backend)

    def __iter__(self) -> Iterator[Any]:
        """The rows, as named tuples of the column values."""
        return iter_rows(self)

    def __arrow_c_stream__(self, requested_schema: Any = None) -> Any:
        """The table as an Arrow C stream (read by polars, pyarrow, duckdb)."""
        return arrow_stream(self, requested_schema)
