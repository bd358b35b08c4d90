"""The public API: one name, one object; nothing heavy at import time."""

from __future__ import annotations

import importlib
import subprocess
import sys

import custrel

MODULES = [
    "btyd",
    "channels",
    "clv",
    "datasets",
    "errors",
    "frames",
    "lifecycle",
    "models",
    "pyramid",
    "report",
    "rfm",
]


def test_top_level_all_is_the_union_of_the_modules() -> None:
    union: set[str] = set()
    for name in MODULES:
        union |= set(importlib.import_module(f"custrel.{name}").__all__)
    assert set(custrel.__all__) == union
    assert custrel.__all__ == sorted(custrel.__all__)


def test_no_public_name_means_two_different_things() -> None:
    owners: dict[str, tuple[str, object]] = {}
    for name in MODULES:
        module = importlib.import_module(f"custrel.{name}")
        for member in module.__all__:
            obj = getattr(module, member)
            if member in owners:
                other, other_obj = owners[member]
                assert obj is other_obj, (
                    f"{member} is exported by {other} and {name} as different objects"
                )
            owners[member] = (name, obj)
            assert getattr(custrel, member) is obj


def test_import_pulls_in_no_optional_dependency() -> None:
    code = (
        "import sys, custrel; "
        "heavy = [m for m in ('pandas', 'polars', 'pyarrow', 'narwhals', 'matplotlib', 'duckdb', "
        "'dask', 'lifelines', 'pymcdm') if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
