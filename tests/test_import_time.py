"""``import custrel`` stays light: no heavy module at import time, a loose time guard.

Not a wall-clock benchmark: the modules a plain ``import custrel`` loads are
checked by name (scipy.stats alone costs about a second), and the import time
is compared with ``import numpy`` in the same kind of fresh process, with a
generous ratio so a loaded machine does not fail it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

#: Modules that must be imported only inside the functions that use them.
HEAVY = (
    "scipy.special",  # 0.3 s of scipy's array-API layer: custrel._lazy defers it
    "scipy.stats",
    "scipy.optimize",
    "scipy.integrate",
    "scipy.interpolate",
    "pandas",
    "polars",
    "pyarrow",
    "matplotlib",
    "narwhals",
    "duckdb",
    "dask",
)

_PROBE = """
import json, sys, time
start = time.perf_counter()
import {module}
elapsed = time.perf_counter() - start
print(json.dumps({{"elapsed": elapsed, "modules": sorted(sys.modules)}}))
"""


def _fresh_import(module: str) -> tuple[float, list[str]]:
    # As after `pip install`, which compiles the bytecode: a session that sets
    # PYTHONDONTWRITEBYTECODE would otherwise time the compiler, not the import.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE.format(module=module)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        env=env,
    )
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    return float(out["elapsed"]), list(out["modules"])


@pytest.mark.parametrize("module", ["custrel", "custrel.cli"])
def test_import_loads_no_heavy_module(module: str) -> None:
    _elapsed, modules = _fresh_import(module)
    loaded = sorted(m for m in modules if m in HEAVY)
    assert loaded == [], f"import {module} loads {loaded}; import them where they are used"


def test_import_time_is_a_small_multiple_of_numpy() -> None:
    _fresh_import("custrel")  # writes the bytecode an installed package would have
    numpy_time = min(_fresh_import("numpy")[0] for _ in range(3))
    custrel_time = min(_fresh_import("custrel")[0] for _ in range(3))
    # custrel needs numpy and attrs (0.2 s here, numpy 0.1 s); 0.3 s is the target
    assert custrel_time < 5.0 * numpy_time + 0.1, (custrel_time, numpy_time)


def test_version_flag_answers_quickly() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "custrel", "--version"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert proc.returncode == 0
    assert proc.stdout.startswith("custrel ")
