"""The checks run on every adversarial call: unchanged inputs, detached and frozen results.

* :func:`snapshot` / :func:`same` take and compare a deep, structural copy of any
  argument or result (numpy, pandas, polars, attrs values, mappings, sequences).
* :func:`mutate` edits the caller's own containers in place after the call, so that a
  result that kept a view of them shows the edit.
* :func:`audit` walks a result: arrays held by attrs values must be read-only, mappings
  must not be mutable, attrs values must be frozen, and float values must be finite
  unless an allow-list entry documents the NaN.
"""

from __future__ import annotations

import contextlib
import fnmatch
import math
from collections.abc import Mapping, MutableMapping
from typing import Any

import attrs
import numpy as np

#: (entry glob, field-path glob, reason): NaN/inf a function documents for that case.
#: Keep each reason short; an entry here is a promise in the function's docstring.
NAN_ALLOWED: tuple[tuple[str, str, str], ...] = (
    ("*", "*.standard_errors*", "NaN where the information matrix is singular (documented)"),
    ("*", "*.covariance*", "NaN where the information matrix is singular (documented)"),
    ("*.from_params", "result.log_likelihood", "a model built from parameters: NaN (documented)"),
    ("*.from_params", "result.n_customers", "a model built from parameters: NaN (documented)"),
    ("btyd.*Model.summary", "result.*[1]", "standard error column: NaN for from_params models"),
    ("*", "*.frequency_spend_correlation", "NaN for a model built from parameters (documented)"),
    ("btyd.*", "*.monetary_value", "mean repeat spend is NaN where frequency is 0 (documented)"),
    ("btyd.*", "*.holdout_monetary_value", "NaN where no holdout purchase (documented)"),
    ("pyramid.*", "*.min_value", "lowest value of an empty tier is nan (documented)"),
    ("pyramid.*", "*.value_share", "value share is nan when the total is 0 (documented)"),
    ("pyramid.*", "*.mean_value", "mean value of an empty class is nan, 0/0 (documented)"),
    ("btyd.frequency_recency_matrix", "result.values", "impossible cells are NaN (documented)"),
    ("channels.weight_sensitivity", "result.increase", "NaN: no weight change alters the winner"),
    ("channels.weight_sensitivity", "result.decrease", "NaN: no weight change alters the winner"),
    ("channels.WeightSensitivityResult.*", "*", "NaN: no weight change alters the winner"),
    ("pyramid.TierMigration.rates", "result", "rate of an empty row is nan (documented)"),
    ("*.BalanceSheet.transition_rates", "result", "rate of an empty row is nan (documented)"),
    ("lifecycle.SBGModel.expected_lifetime", "result", "inf when alpha <= 1 (documented)"),
    ("lifecycle.churn_rate", "result.churn", "NaN where nobody was active, 0/0 (documented)"),
    ("lifecycle.ChurnResult.*", "*", "NaN where nobody was active, 0/0 (documented)"),
    ("rfm.RFMSegments.summary", "result.mean_*", "empty segments have nan means (documented)"),
    ("clv.*", "*.g1", "g1 = inf: no saturation phase (documented default)"),
    ("clv.*", "*.g2", "g2 = inf: no decline phase (documented default)"),
    ("lifecycle.*", "*.margin", "NaN for too-new / no-activity customers (documented)"),
    ("lifecycle.*", "*.level", "NaN where the peak is not positive (documented)"),
    ("lifecycle.*", "*.trend", "NaN where the peak is not positive (documented)"),
    ("lifecycle.churn_rate", "result.rate", "NaN when no customer-period can be judged, 0/0"),
    ("rfm.summarize_rfm", "result.first", "NaT/nan for a customer with only returns (documented)"),
    ("rfm.summarize_rfm", "result.last", "NaT/nan for a customer with only returns (documented)"),
    ("frames.summarize_rfm_from_frame", "result.first", "as RFMSummary.first (documented)"),
    ("frames.summarize_rfm_from_frame", "result.last", "as RFMSummary.last (documented)"),
    ("rfm.RFMSummary.*", "result.first", "NaT/nan for a customer with only returns (documented)"),
    ("rfm.RFMSummary.*", "result.last", "NaT/nan for a customer with only returns (documented)"),
    ("clv.constant_retention", "result.horizon", "inf for no limit (documented)"),
    ("clv.*", "*.ceiling", "ProfitCurve ceiling: nan = unknown (documented)"),
    ("clv.*", "*.speed", "ProfitCurve speed: nan = unknown (documented)"),
    ("channels.DecisionMatrix.*", "result.scores", "NaN marks a missing score (documented)"),
    ("channels.DecisionMatrix.*", "result", "NaN marks a missing score (documented)"),
    ("channels.Partner", "result.attributes.*", "None/NaN is a missing score (documented)"),
    ("channels.sales_forecast", "result.cap", "inf where no traffic was given (documented)"),
    ("channels.SalesForecastResult.*", "*.cap", "inf where no traffic was given (documented)"),
    ("channels.vertical_comparison", "result.growth", "NaN where previous is 0 (documented)"),
    ("report.*", "*", "report values are NaN when a section is not computed (documented)"),
    ("lifecycle.*", "*.median_lifetime*", "inf when survival never falls to 0.5 (documented)"),
    ("btyd.*.probability_alive_path*", "result.*", "NaN before a customer's first purchase"),
    ("btyd.*", "*.upper", "log-scale interval unbounded: inf (documented, IntervalResult)"),
)


def nan_allowed(entry: str, path: str) -> str | None:
    """Return the allow-list reason if a non-finite value at ``path`` is documented."""
    for entry_glob, path_glob, reason in NAN_ALLOWED:
        if fnmatch.fnmatchcase(entry, entry_glob) and fnmatch.fnmatchcase(path, path_glob):
            return reason
    return None


# --------------------------------------------------------------------------- snapshots


def snapshot(x: Any, _depth: int = 0) -> Any:
    """A deep, independent, comparable copy of ``x``."""
    import pandas as pd
    import polars as pl

    if _depth > 8:
        return ("deep", id(x))
    if isinstance(x, np.ndarray):
        return ("nd", x.dtype.str, x.shape, x.copy())
    if isinstance(x, pd.Series | pd.DataFrame | pd.Index):
        return ("pd", x.copy(deep=True))
    if isinstance(x, pd.api.extensions.ExtensionArray):
        return ("pdarr", x.copy())
    if isinstance(x, pl.Series) and x.dtype == pl.Object:
        return ("list", [("val", v) for v in x.to_list()])  # Object series never .equals
    if isinstance(x, pl.Series | pl.DataFrame):
        return ("pl", x.clone())
    if attrs.has(type(x)):
        return (
            "attrs",
            type(x),
            {f.name: snapshot(getattr(x, f.name), _depth + 1) for f in attrs.fields(type(x))},
        )
    if isinstance(x, Mapping):
        return ("map", type(x), [(k, snapshot(v, _depth + 1)) for k, v in x.items()])
    if isinstance(x, list | tuple):
        return (type(x).__name__, [snapshot(v, _depth + 1) for v in x])
    return ("val", x)


def _arrays_equal(a: np.ndarray, b: np.ndarray) -> bool:
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.dtype.kind in "fc":
        return bool(np.array_equal(a, b, equal_nan=True))
    if a.dtype.kind == "M" or a.dtype.kind == "m":
        return bool(np.array_equal(a.view("i8"), b.view("i8")))
    if a.dtype.kind == "O":
        return all(
            _val_equal(x, y)
            for x, y in zip(a.reshape(-1).tolist(), b.reshape(-1).tolist(), strict=True)
        )
    return bool(np.array_equal(a, b))


def _val_equal(a: Any, b: Any) -> bool:
    if a is b:
        return True
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if type(a) is not type(b):
        return False
    try:
        eq = a == b
        if isinstance(eq, np.ndarray):
            return _arrays_equal(np.asarray(a), np.asarray(b))
        return bool(eq)
    except Exception:
        return a is b


def same(s1: Any, s2: Any) -> bool:
    """Whether two snapshots are equal (NaN equal to NaN)."""
    if type(s1) is not type(s2) or not isinstance(s1, tuple) or not s1 or s1[0] != s2[0]:
        return False
    tag = s1[0]
    if tag == "nd":
        return s1[1] == s2[1] and s1[2] == s2[2] and _arrays_equal(s1[3], s2[3])
    if tag == "pd":
        return type(s1[1]) is type(s2[1]) and bool(s1[1].equals(s2[1]))
    if tag == "pdarr":
        a, b = s1[1], s2[1]
        return (
            type(a) is type(b)
            and a.dtype == b.dtype
            and len(a) == len(b)
            and all(
                _val_equal(x, y) or (x is y)
                for x, y in zip(
                    [None if v is _pd_na() else v for v in a.tolist()],
                    [None if v is _pd_na() else v for v in b.tolist()],
                    strict=True,
                )
            )
        )
    if tag == "pl":
        return bool(s1[1].equals(s2[1]))
    if tag == "attrs":
        return (
            s1[1] is s2[1]
            and s1[2].keys() == s2[2].keys()
            and all(same(s1[2][k], s2[2][k]) for k in s1[2])
        )
    if tag == "map":
        return (
            s1[1] is s2[1]
            and len(s1[2]) == len(s2[2])
            and all(
                _val_equal(k1, k2) and same(v1, v2)
                for (k1, v1), (k2, v2) in zip(s1[2], s2[2], strict=True)
            )
        )
    if tag in {"list", "tuple"}:
        return len(s1[1]) == len(s2[1]) and all(
            same(a, b) for a, b in zip(s1[1], s2[1], strict=True)
        )
    if tag == "deep":
        return s1[1] == s2[1]
    return _val_equal(s1[1], s2[1])


def _pd_na() -> Any:
    import pandas as pd

    return pd.NA


def first_difference(s1: Any, s2: Any, path: str = "result") -> str:
    """The path of the first place two snapshots differ (for messages)."""
    if type(s1) is tuple and type(s2) is tuple and s1 and s2 and s1[0] == s2[0]:
        if s1[0] == "attrs" and s1[1] is s2[1]:
            for k in s1[2]:
                if k in s2[2] and not same(s1[2][k], s2[2][k]):
                    return first_difference(s1[2][k], s2[2][k], f"{path}.{k}")
        if s1[0] == "map" and len(s1[2]) == len(s2[2]):
            for (k, v1), (_, v2) in zip(s1[2], s2[2], strict=True):
                if not same(v1, v2):
                    return first_difference(v1, v2, f"{path}[{k!r}]")
        if s1[0] in {"list", "tuple"} and len(s1[1]) == len(s2[1]):
            for i, (a, b) in enumerate(zip(s1[1], s2[1], strict=True)):
                if not same(a, b):
                    return first_difference(a, b, f"{path}[{i}]")
    return path


# ----------------------------------------------------------------------------- mutation


def _scribble(arr: np.ndarray) -> None:
    k = arr.dtype.kind
    if k == "f":
        arr[...] = 123456.5
    elif k == "c":
        arr[...] = 1 + 2j
    elif k in "iu":
        arr[...] = 97
    elif k == "b":
        arr[...] = ~arr
    elif k == "U":
        arr[...] = "zz"
    elif k == "S":
        arr[...] = b"zz"
    elif k == "O":
        arr[...] = "zz"
    elif k in "Mm":
        arr[...] = arr + np.timedelta64(1, "D") if k == "M" else arr + 1


def mutate(x: Any, _depth: int = 0) -> None:
    """Edit the caller's own mutable containers in place (never attrs values)."""
    import pandas as pd

    if _depth > 4:
        return
    if isinstance(x, np.ndarray):
        if x.flags.writeable and x.size:
            with contextlib.suppress(TypeError, ValueError, OverflowError):
                _scribble(x)
    elif isinstance(x, pd.Series):
        if len(x):
            _scribble_pandas(x)
    elif isinstance(x, pd.DataFrame):
        for col in x.columns:
            _scribble_pandas(x[col])
    elif isinstance(x, list):
        for i, v in enumerate(x):
            if isinstance(v, list | np.ndarray | dict):
                mutate(v, _depth + 1)
            elif isinstance(v, bool):
                x[i] = not v
            elif isinstance(v, int | float):
                x[i] = v + 17
            elif isinstance(v, str):
                x[i] = v + "zz"
    elif isinstance(x, MutableMapping):
        for k, v in list(x.items()):
            if isinstance(v, list | np.ndarray | dict):
                mutate(v, _depth + 1)
            elif isinstance(v, int | float) and not isinstance(v, bool):
                x[k] = v + 17
    elif isinstance(x, tuple):
        for v in x:
            mutate(v, _depth + 1)


def _scribble_pandas(s: Any) -> None:
    import warnings

    values = s.values
    if isinstance(values, np.ndarray):
        if values.flags.writeable:
            with contextlib.suppress(TypeError, ValueError, OverflowError):
                _scribble(values)
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with contextlib.suppress(TypeError, ValueError):
            s.iloc[:] = s.iloc[::-1].to_numpy()


# ---------------------------------------------------------------------------- the audit


def audit(entry: str, result: Any) -> list[str]:
    """Problems with a result: writable arrays, mutable mappings, unfrozen values, NaN."""
    problems: list[str] = []
    seen: set[int] = set()
    _audit(entry, result, "result", held=False, problems=problems, seen=seen, depth=0)
    return problems


def _finite_problem(entry: str, path: str, bad: str, problems: list[str]) -> None:
    if nan_allowed(entry, path) is None:
        problems.append(f"non-finite value ({bad}) at {path}")


def _audit(
    entry: str,
    x: Any,
    path: str,
    *,
    held: bool,
    problems: list[str],
    seen: set[int],
    depth: int,
) -> None:
    import pandas as pd

    if depth > 8 or len(problems) > 5:
        return
    if isinstance(x, float | np.floating | complex | np.complexfloating):
        if not np.isfinite(x):
            _finite_problem(entry, path, repr(x), problems)
        return
    if isinstance(x, str | bytes | int | np.integer | bool | np.bool_) or x is None:
        return
    if id(x) in seen:
        return
    seen.add(id(x))
    if isinstance(x, np.ndarray):
        if held and x.flags.writeable:
            problems.append(f"writable array at {path}")
        if x.dtype.kind in "fc" and x.size and not np.isfinite(x).all():
            bad = "nan" if np.isnan(x).any() else "inf"
            _finite_problem(entry, path, f"{bad} in {x.dtype} array", problems)
        return
    if isinstance(x, pd.Series | pd.DataFrame):
        return
    if attrs.has(type(x)):
        fields = attrs.fields(type(x))
        if fields and not _is_frozen(x, fields[0].name):
            problems.append(f"{type(x).__name__} at {path} is not frozen")
        for f in fields:
            _audit(
                entry,
                getattr(x, f.name),
                f"{path}.{f.name}",
                held=True,
                problems=problems,
                seen=seen,
                depth=depth + 1,
            )
        return
    if isinstance(x, Mapping):
        if held and isinstance(x, MutableMapping):
            problems.append(f"mutable {type(x).__name__} at {path}")
        for k, v in x.items():
            _audit(
                entry, v, f"{path}.{k}", held=held, problems=problems, seen=seen, depth=depth + 1
            )
        return
    if isinstance(x, list | tuple):
        if held and isinstance(x, list):
            problems.append(f"mutable list at {path}")
        for i, v in enumerate(x[:1000]):
            _audit(
                entry, v, f"{path}[{i}]", held=held, problems=problems, seen=seen, depth=depth + 1
            )


def _is_frozen(x: Any, name: str) -> bool:
    old = getattr(x, name)
    try:
        setattr(x, name, old)
    except (attrs.exceptions.FrozenInstanceError, AttributeError):
        return True
    return False
