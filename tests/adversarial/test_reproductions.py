"""The explicit reproductions of issue 10, one plain test each (readable ids).

These are the acceptance tests for the fixes: each must give a clear CustrelError or
the right finite answer (see ``adv_reproductions.CASES``). None is marked xfail; the
open ones are listed in /work/notes/adversarial_failures.md until their owners fix them.
"""

from __future__ import annotations

from typing import Any

import adv_reproductions as rp
import pytest


@pytest.mark.parametrize("case", sorted(rp.CASES))
def test_reproduction(case: str, adv_pool: Any) -> None:
    verdict = adv_pool.request({"op": "repro", "name": case})
    key = f"repro:{case}"
    adv_pool.calls[key] += 1
    if verdict["status"] in {"fail", "harness"}:
        problem = f"[repro] {case}: {'; '.join(verdict['problems'])}"
        adv_pool.fails[key].append(problem)
        pytest.fail(problem, pytrace=False)
