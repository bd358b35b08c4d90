"""Test configuration: Hypothesis profiles, paths to the reference data, the adversarial pool.

This is the only conftest.py: pytest's --doctest-modules imports every
``conftest.py`` under the name ``conftest``, so a second one (the adversarial
suite's) clashed with this one in a whole-suite run. The adversarial suite's
worker pool and closing summary live here; its modules stay in
tests/adversarial (``pytest tests/adversarial -k btyd``).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "dev", max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "ci",
    max_examples=100,
    deadline=None,
    derandomize=True,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
#: Long runs (scheduled, not per push): many more examples, no deadline, random seeds.
#: The adversarial suite reads the profile name too (tests/adversarial/adv_worker.py).
settings.register_profile(
    "nightly",
    max_examples=1000,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

#: ../shared/data beside the repository (CI clones the repo next to shared/).
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Directory of the reference data sets; tests that need it skip loudly if absent."""
    if not SHARED_DATA.is_dir():
        pytest.fail(f"reference data not found at {SHARED_DATA}: clone next to shared/")
    return SHARED_DATA


# The adversarial suite (tests/adversarial): one worker pool per session and a summary
# at the end of the run. Selection: ``pytest tests/adversarial -k btyd`` (every test id
# starts with the public module name, e.g. ``test_bad_inputs[btyd.fit_bgnbd-nan]``).
# Size: see ``adv_worker.EXAMPLES`` (``HYPOTHESIS_PROFILE``; ``CUSTREL_ADV_EXAMPLES``
# overrides); ``CUSTREL_ADV_REPORT=path.json`` writes every failure.
# ---------------------------------------------------------------------------

_ADV_DIR = Path(__file__).resolve().parent / "adversarial"


def _adv_worker() -> Any:
    """The adversarial suite's worker module (imported only when that suite runs)."""
    if str(_ADV_DIR) not in sys.path:
        sys.path.insert(0, str(_ADV_DIR))
    import adv_worker

    return adv_worker


_POOL: Any = None


@pytest.fixture(scope="session")
def adv_pool() -> Iterator[Any]:
    """The worker pool shared by every adversarial test of the session."""
    global _POOL
    _POOL = _adv_worker().Pool()
    yield _POOL
    _POOL.close()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Counts for the closing note: functions covered, inputs tried, failures by module."""
    pool = _POOL
    if pool is None or not pool.calls:
        return
    tr = terminalreporter
    entries = {k for k in pool.calls if not k.startswith("repro:")}
    failing = {k: v for k, v in pool.fails.items() if v}
    n_inputs = sum(pool.calls.values())
    n_fail = sum(len(v) for v in failing.values())
    tr.write_sep("=", "custrel adversarial summary")
    tr.write_line(f"functions and methods covered: {len(entries)}")
    tr.write_line(
        f"inputs tried: {n_inputs} (worker restarts after timeouts/crashes: {pool.restarts})"
    )
    tr.write_line(f"failing inputs: {n_fail} in {len(failing)} functions/reproductions")
    by_module: dict[str, int] = {}
    for k, v in failing.items():
        mod = k.split(".", 1)[0] if not k.startswith("repro:") else "reproductions"
        by_module[mod] = by_module.get(mod, 0) + len(v)
    for mod in sorted(by_module):
        tr.write_line(f"  {mod}: {by_module[mod]} failing inputs")
    path = os.environ.get("CUSTREL_ADV_REPORT")
    if path:
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(
                {
                    "covered": sorted(entries),
                    "inputs": n_inputs,
                    "profile": os.environ.get("HYPOTHESIS_PROFILE", "dev"),
                    "examples": _adv_worker().examples_per_test(),
                    "calls": dict(pool.calls),
                    "failures": failing,
                    "restarts": pool.restarts,
                    "advisories": dict(pool.advisories),
                },
                fh,
                indent=1,
                sort_keys=True,
            )
        tr.write_line(f"failure list written to {path}")
