"""Bad-input families and how each one perturbs a valid argument.

A valid base argument has a *kind* (read off its value: an array, a scalar, a date,
a log, ...). For every (kind, family) pair :func:`variants` lists the concrete bad
values to try; :func:`apply` builds one of them. Everything here is pure and cheap so
that the main process can draw (argument, family, variant, position) with Hypothesis
and the worker process can rebuild exactly that input.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from typing import Any

import attrs
import numpy as np

#: The bad-input families of issue 10, in the order the test ids use them.
FAMILIES: tuple[str, ...] = (
    "empty",
    "nan",
    "inf",
    "huge",
    "subnormal",
    "negative",
    "complex",
    "none",
    "string",
    "bytes",
    "object",
    "2d",
    "wrong_length",
    "mixed_ids",
    "pandas",
    "polars",
    "readonly",
)

#: Parameter names whose string/number value is a point in time.
DATE_PARAMS = frozenset(
    {
        "analysis_date",
        "observation_end",
        "calibration_end",
        "start",
        "end",
        "at",
        "origin",
        "since",
    }
)

#: Parameters never perturbed (callables, output locations, progress hooks).
SKIP_PARAMS = frozenset({"self", "cls", "func", "progress", "plots_dir", "classify", "path"})

SUBNORMAL = 5e-324
HUGE = 1e300
HUGE_INT = 10**12


def kind_of(name: str, value: Any) -> str | None:
    """The kind of a valid argument value, or None when it is not perturbed."""
    import pandas as pd

    from custrel import TransactionLog

    skipped = name in SKIP_PARAMS or (callable(value) and not isinstance(value, type))
    if skipped and not attrs.has(type(value)):
        return None
    if value is None or isinstance(value, bool | np.bool_):
        return None
    if isinstance(value, TransactionLog):
        return "log"
    if isinstance(value, np.datetime64 | pd.Timestamp | _dt.date):
        return "date"
    if isinstance(value, str):
        looks_like_date = len(value) >= 10 and value[:4].isdigit() and value[4] == "-"
        return "date" if name in DATE_PARAMS or looks_like_date else "option"
    if isinstance(value, int | float | np.integer | np.floating):
        if name in DATE_PARAMS:
            return "date"
        return "size" if isinstance(value, int | np.integer) else "scalar"
    if isinstance(value, Mapping):
        return "mapping"
    if isinstance(value, np.ndarray | list | tuple):
        arr = np.asarray(value, dtype=object) if _ragged(value) else np.asarray(value)
        if arr.ndim == 0:
            return "scalar"
        if arr.dtype.kind in "biuf" and arr.ndim == 1:
            return "array"
        if arr.dtype.kind in "biuf" and arr.ndim >= 2:
            return "matrix"
        if arr.dtype.kind == "M":
            return "dates"
        if arr.ndim == 1:
            return "ids"
        return "object"
    return "object"


def _ragged(value: Any) -> bool:
    if isinstance(value, np.ndarray):
        return False
    try:
        lens = {len(v) for v in value if isinstance(v, list | tuple)}
    except TypeError:
        return False
    return len(lens) > 1 or any(not attrs.has(type(v)) and hasattr(v, "__dict__") for v in value)


# ---------------------------------------------------------------------------------------
# variants: (kind, family) -> list of variant names; apply() interprets each name.
# ---------------------------------------------------------------------------------------

_ANY = {
    "none": ["None"],
    "string": ["str:abc"],
    "bytes": ["bytes:abc"],
    "complex": ["complex:1j"],
    "nan": ["float:nan"],
    "inf": ["float:inf", "float:-inf"],
    "huge": ["float:1e300", "int:1e12"],
    "subnormal": ["float:5e-324"],
    "negative": ["int:-1"],
    "empty": ["list:empty"],
    "object": ["objarr:wrap"],
    "2d": ["matrix:zeros22"],
    "wrong_length": ["list:twice"],
    "mixed_ids": ["list:mixed"],
    "pandas": ["pd:frame"],
    "polars": ["pl:frame"],
    "readonly": ["same"],
}

_ARRAY = {
    "empty": ["arr:empty"],
    "nan": ["elem:nan", "all:nan"],
    "inf": ["elem:inf", "elem:-inf"],
    "huge": ["elem:1e300", "elem:-1e300", "all:1e300", "elem:1e12"],
    "subnormal": ["elem:5e-324", "all:5e-324"],
    "negative": ["elem:-1", "all:-1", "elem:0"],
    "complex": ["arr:complex", "arr:complex0"],
    "none": ["None", "elem:None"],
    "string": ["str:abc", "elem:str", "arr:numstr"],
    "bytes": ["bytes:abc", "arr:bytes"],
    "object": ["arr:object"],
    "2d": ["arr:col", "arr:stack"],
    "wrong_length": ["arr:short", "arr:long"],
    "mixed_ids": ["arr:mixed"],
    "pandas": ["pd:series", "pd:series_revindex", "pd:nullable_na"],
    "polars": ["pl:series", "pl:series_null"],
    "readonly": ["arr:readonly"],
}

_IDS = {
    **_ARRAY,
    "nan": ["elem:nan", "elem:None"],
    "huge": ["elem:10**30", "elem:1e300"],
    "negative": ["elem:-1"],
    "mixed_ids": ["ids:int_str", "ids:bytes_str", "ids:nul"],
    "pandas": ["pd:series", "pd:string_na", "pd:categorical"],
    "string": ["str:abc", "elem:longstr"],
    "complex": ["elem:1j"],
    "subnormal": ["elem:5e-324"],
    "inf": ["elem:inf"],
    "2d": ["arr:col", "arr:stack"],
    "bytes": ["bytes:abc", "arr:bytes"],
}

_MATRIX = {
    "empty": ["mat:empty00", "mat:empty0k"],
    "nan": ["elem:nan"],
    "inf": ["elem:inf", "elem:-inf"],
    "huge": ["elem:1e300", "all:1e300"],
    "subnormal": ["elem:5e-324", "all:5e-324"],
    "negative": ["elem:-1"],
    "complex": ["arr:complex"],
    "none": ["None", "elem:None"],
    "string": ["str:abc", "elem:str"],
    "bytes": ["bytes:abc"],
    "object": ["arr:object"],
    "2d": ["mat:ravel", "mat:3d"],
    "wrong_length": ["mat:droprow", "mat:dropcol", "mat:ragged"],
    "mixed_ids": ["arr:mixed"],
    "pandas": ["pd:frame"],
    "polars": ["pl:frame"],
    "readonly": ["arr:readonly"],
}

_SCALAR = {
    "empty": ["scalar:empty", "str:"],
    "nan": ["float:nan"],
    "inf": ["float:inf", "float:-inf"],
    "huge": ["float:1e300", "int:1e12", "float:-1e300"],
    "subnormal": ["float:5e-324", "float:-5e-324"],
    "negative": ["int:-1", "int:0", "float:-0.5"],
    "complex": ["complex:1j", "complex:real"],
    "none": ["None"],
    "string": ["str:abc", "str:num"],
    "bytes": ["bytes:abc"],
    "object": ["scalar:object"],
    "2d": ["scalar:pair", "scalar:matrix"],
    "wrong_length": ["scalar:pair"],
    "mixed_ids": ["list:mixed"],
    "pandas": ["pd:scalar_series"],
    "polars": ["pl:scalar_series"],
    "readonly": ["same"],
}

_OPTION = {
    **_ANY,
    "empty": ["str:"],
    "string": ["str:abc", "str:upper"],
    "bytes": ["bytes:self"],
    "huge": ["str:long"],
    "pandas": ["pd:scalar_series"],
    "polars": ["pl:scalar_series"],
    "readonly": ["same"],
}

_DATE = {
    **_ANY,
    "empty": ["str:"],
    "nan": ["float:nan", "date:NaT", "date:pdNaT"],
    "huge": ["date:9999", "float:1e300", "date:0001", "int:1e12"],
    "string": ["str:abc", "date:badday"],
    "pandas": ["date:timestamp"],
    "polars": ["pl:scalar_series"],
    "readonly": ["same"],
}

_LOG = {
    **_ANY,
    "pandas": ["log:pandas"],
    "polars": ["log:polars"],
    "empty": ["log:empty"],
    # logs that are valid but extreme inside (built with from_arrays from the base log)
    "huge": ["log:amount1e308", "log:span", "float:1e300"],
    "subnormal": ["log:amount_subnormal"],
    "negative": ["log:returns_only", "log:one_return"],
    "mixed_ids": ["log:mixed_ids", "log:no_amount"],
}

_MAPPING = {
    **_ANY,
    "empty": ["map:empty"],
    "nan": ["mapval:nan"],
    "inf": ["mapval:inf"],
    "huge": ["mapval:1e300"],
    "subnormal": ["mapval:5e-324"],
    "negative": ["mapval:-1"],
    "complex": ["mapval:1j"],
    "none": ["None", "mapval:None"],
    "string": ["mapval:str"],
    "mixed_ids": ["map:intkeys"],
    "readonly": ["map:proxy"],
}

TABLES: dict[str, dict[str, list[str]]] = {
    "array": _ARRAY,
    "ids": _IDS,
    "dates": {**_IDS, "huge": ["elem:date9999"], "nan": ["elem:NaT"]},
    "matrix": _MATRIX,
    "scalar": _SCALAR,
    "size": _SCALAR,
    "option": _OPTION,
    "date": _DATE,
    "log": _LOG,
    "mapping": _MAPPING,
    "object": _ANY,
}


def variants(kind: str, family: str) -> list[str]:
    """Variant names for one (kind, family) pair (never empty)."""
    return TABLES[kind][family]


def _elem_value(spec: str) -> Any:
    table: dict[str, Any] = {
        "nan": float("nan"),
        "inf": float("inf"),
        "-inf": float("-inf"),
        "1e300": HUGE,
        "-1e300": -HUGE,
        "1e12": float(HUGE_INT),
        "5e-324": SUBNORMAL,
        "-1": -1,
        "0": 0,
        "None": None,
        "str": "x",
        "10**30": 10**30,
        "longstr": "L" * 100_000,
        "1j": 1j,
    }
    return table[spec]


def _with_elem(arr: np.ndarray, pos: int, value: Any) -> Any:
    """Copy of ``arr`` with one element replaced, upcasting only as far as needed."""
    flat_pos = pos % max(arr.size, 1)
    if isinstance(value, float) and arr.dtype.kind in "biu":
        out = arr.astype(float)
    elif isinstance(value, float | int) and arr.dtype.kind in "fc" and not isinstance(value, bool):
        out = arr.copy()
        if isinstance(value, int) and abs(value) > 2**62:
            out = arr.astype(object)
    elif value is None or isinstance(value, str) or arr.dtype.kind in "OUS":
        out = arr.astype(object)
    elif isinstance(value, int) and arr.dtype.kind in "iu" and abs(value) < 2**62:
        out = arr.copy()
    else:
        out = arr.astype(object)
    out.reshape(-1)[flat_pos] = value
    return out


def _mixed(n: int) -> np.ndarray:
    vals: list[Any] = [i // 2 + 1 if i % 2 == 0 else str(i // 2 + 1) for i in range(n)]
    return np.asarray(vals, dtype=object)


def apply(value: Any, kind: str, variant: str, pos: int) -> Any:
    """The bad value for ``variant`` built from the valid ``value`` (never mutates it)."""
    import pandas as pd
    import polars as pl

    tag, _, arg = variant.partition(":")
    if variant == "None":
        return None
    if variant == "same":
        return value
    if tag == "str":
        if arg == "num":
            return str(value)
        if arg == "upper":
            return str(value).upper()
        if arg == "long":
            return "x" * 1_000_000
        return arg
    if tag == "bytes":
        return str(value).encode() if arg == "self" else arg.encode()
    if tag == "float":
        return float(arg)
    if tag == "int":
        return int(float(arg))
    if tag == "complex":
        if arg == "real":
            return complex(float(value), 0.0)
        return 1j
    if tag == "list":
        if arg == "empty":
            return []
        if arg == "twice":
            return [value, value]
        return [1, "1", 2, "2"]
    if tag == "objarr":
        out = np.empty(1, dtype=object)
        out[0] = value
        return out
    if tag == "matrix":
        return np.zeros((2, 2))
    if tag == "pd" and arg == "frame":
        return pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]})
    if tag == "pl" and arg == "frame" and kind != "matrix":
        return pl.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]})
    if tag == "scalar":
        if arg == "empty":
            return np.array([])
        if arg == "object":
            return np.asarray(value, dtype=object)
        if arg == "pair":
            return np.asarray([value, value])
        if arg == "matrix":
            return np.asarray([[value]])
        return np.asarray(value)  # "np": a numpy 0-d array / scalar
    if tag == "pd" and arg == "scalar_series":
        return pd.Series([value])
    if tag == "pl" and arg == "scalar_series":
        return pl.Series([value])
    if tag == "date":
        table: dict[str, Any] = {
            "NaT": np.datetime64("NaT"),
            "pdNaT": pd.NaT,
            "9999": "9999-01-01",
            "0001": "0001-01-01",
            "badday": "2023-13-45",
        }
        if arg == "timestamp":
            return pd.Timestamp(value) if isinstance(value, str) else pd.Series([value])
        return table[arg]
    if tag == "log":
        if arg == "empty":
            from custrel import CustrelError

            try:
                return value.take(np.zeros(0, dtype=np.int64))
            except CustrelError:  # no empty log can be built: an empty list instead
                return []
        if arg in {"pandas", "polars"}:
            frame = value.to_frame()
            return pl.from_pandas(frame) if arg == "polars" else frame
        return _extreme_log(value, arg)
    if tag in {"map", "mapval"}:
        return _apply_mapping(value, tag, arg)
    return _apply_array(value, kind, tag, arg, pos)


def _extreme_log(log: Any, arg: str) -> Any:
    """A log built from the base log's columns with one extreme change (or [] if refused)."""
    from custrel import CustrelError, TransactionLog

    cols = {k: np.array(v) for k, v in log.to_arrays().items()}
    n = len(cols["amount"])
    if arg == "amount1e308":
        cols["customer_id"][:2] = cols["customer_id"][0]
        cols["amount"][:2] = 1e308
    elif arg == "amount_subnormal":
        cols["amount"][:] = SUBNORMAL
    elif arg == "returns_only":
        cols["amount"] = -np.abs(cols["amount"]) - 1.0
    elif arg == "one_return":
        cols["amount"][n // 2] = -abs(cols["amount"][n // 2]) - 1.0
    elif arg == "span":
        t = cols["time"]
        if t.dtype.kind == "M":
            cols["time"] = t.astype("datetime64[s]")
            cols["time"][n - 1] = np.datetime64("2199-12-31")
        else:
            cols["time"][n - 1] = t.min() + 3e5
    elif arg == "mixed_ids":
        ids = cols["customer_id"].astype(object)
        ids[::2] = [str(x) for x in ids[::2]]
        cols["customer_id"] = ids
    elif arg == "no_amount":
        cols = {"customer_id": cols["customer_id"], "time": cols["time"], "amount": None}
    try:
        return TransactionLog.from_arrays(**cols)
    except CustrelError:
        return []


def _apply_mapping(value: Mapping[Any, Any], tag: str, arg: str) -> Any:
    from types import MappingProxyType

    if tag == "map":
        if arg == "empty":
            return {}
        if arg == "proxy":
            return MappingProxyType(dict(value))
        return dict(enumerate(value.values()))  # "intkeys"
    new: Any = {
        "nan": float("nan"),
        "inf": float("inf"),
        "1e300": HUGE,
        "5e-324": SUBNORMAL,
        "-1": -1.0,
        "1j": 1j,
        "None": None,
        "str": "abc",
    }[arg]
    out = dict(value)
    if out:
        first = next(iter(out))
        old = out[first]
        if isinstance(old, list | tuple | np.ndarray) and len(old) and not isinstance(new, str):
            out[first] = [new, *list(old)[1:]]
        else:
            out[first] = new
    return out


def _apply_array(value: Any, kind: str, tag: str, arg: str, pos: int) -> Any:
    import pandas as pd
    import polars as pl

    arr = np.asarray(value, dtype=object) if _ragged(value) else np.array(value)
    n = arr.shape[0] if arr.ndim else 1
    if tag == "elem":
        if arg == "date9999":
            return _with_elem(arr.astype("datetime64[D]"), pos, np.datetime64("9999-01-01"))
        if arg == "NaT":
            return _with_elem(arr.astype("datetime64[s]"), pos, np.datetime64("NaT"))
        return _with_elem(arr, pos, _elem_value(arg))
    if tag == "all":
        fill = _elem_value(arg)
        return np.full(arr.shape, fill, dtype=float)
    if tag == "arr":
        if arg == "empty":
            return arr[:0]
        if arg == "complex":
            out = arr.astype(complex)
            out.reshape(-1)[pos % max(out.size, 1)] += 1j
            return out
        if arg == "complex0":
            return arr.astype(complex)
        if arg == "numstr":
            return np.asarray([str(x) for x in arr.reshape(-1)]).reshape(arr.shape)
        if arg == "bytes":
            return np.asarray([str(x).encode() for x in arr.reshape(-1)]).reshape(arr.shape)
        if arg == "object":
            return arr.astype(object)
        if arg == "col":
            return arr.reshape(n, -1)[:, :1] if arr.ndim > 1 else arr.reshape(-1, 1)
        if arg == "stack":
            return np.stack([arr, arr])
        if arg == "short":
            return arr[:-1]
        if arg == "long":
            return np.concatenate([arr, arr[-1:]])
        if arg == "mixed":
            return _mixed(arr.size).reshape(arr.shape)
        if arg == "readonly":
            if isinstance(value, list | tuple):  # a list's read-only form is a tuple
                return tuple(value)
            out = arr.copy()
            out.flags.writeable = False
            return out
    if tag == "ids":
        if arg == "int_str":
            return _mixed(n)
        if arg == "bytes_str":
            return np.asarray(
                [(b"a" if i % 2 == 0 else "a") if i < 2 else f"c{i}" for i in range(n)],
                dtype=object,
            )
        return np.asarray(
            ["a\x00" if i == 0 else ("a" if i == 1 else f"c{i}") for i in range(n)], dtype=object
        )
    if tag == "mat":
        if arg == "empty00":
            return np.zeros((0, 0))
        if arg == "empty0k":
            return np.zeros((0, arr.shape[1] if arr.ndim > 1 else 1))
        if arg == "ravel":
            return arr.reshape(-1)
        if arg == "3d":
            return arr[np.newaxis]
        if arg == "droprow":
            return arr[:-1]
        if arg == "dropcol":
            return arr[:, :-1] if arr.ndim > 1 else arr[:-1]
        rows = [list(r) for r in arr]
        rows[-1] = rows[-1][:-1]
        return rows
    if tag == "pd":
        if kind == "matrix":
            return pd.DataFrame(arr)
        if arg == "series_revindex":
            return pd.Series(arr, index=np.arange(n)[::-1])
        if arg == "nullable_na":
            out = pd.array(arr.astype(float), dtype="Float64")
            out[pos % n] = pd.NA
            return out
        if arg == "string_na":
            out = pd.array([str(x) for x in arr], dtype="string")
            out[pos % n] = None
            return out
        if arg == "categorical":
            try:
                return pd.Categorical(arr)
            except TypeError:  # unhashable values (logs, records): a plain Series
                return pd.Series(arr)
        return pd.Series(arr)
    if tag == "pl":
        if kind == "matrix":
            return pl.DataFrame({f"c{j}": arr[:, j].tolist() for j in range(arr.shape[1])})
        vals = arr.tolist()
        if arg == "series_null":
            vals[pos % n] = None
        return pl.Series(vals)
    msg = f"unknown variant {tag}:{arg} for kind {kind}"
    raise AssertionError(msg)


def describe(value: Any, limit: int = 60) -> str:
    """A short one-line repr of a bad value for reports."""
    try:
        text = repr(value)
    except Exception as exc:
        text = f"<unrepresentable {type(value).__name__}: {exc}>"
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return f"{type(value).__name__}({text})" if not isinstance(value, str | float | int) else text
