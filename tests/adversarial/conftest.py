"""Adversarial suite: one worker pool per session and a summary at the end of the run.

Selection: ``pytest tests/adversarial -k btyd`` (every test id starts with the public
module name, e.g. ``test_bad_inputs[btyd.fit_bgnbd-nan]``).

Size: the number of inputs Hypothesis draws per (entry, family) test follows the
Hypothesis profile (``HYPOTHESIS_PROFILE``): see ``adv_worker.EXAMPLES``; override with
``CUSTREL_ADV_EXAMPLES``. ``CUSTREL_ADV_REPORT=path.json`` writes every failure.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import adv_worker
import pytest

_POOL: adv_worker.Pool | None = None


@pytest.fixture(scope="session")
def adv_pool() -> Iterator[adv_worker.Pool]:
    """The worker pool shared by every adversarial test of the session."""
    global _POOL
    _POOL = adv_worker.Pool()
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
                    "examples": adv_worker.examples_per_test(),
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
