"""Every public function and method through every bad-input family.

``test_valid_call[<entry>]``: the registry's valid call succeeds, its result is frozen,
finite, read-only and detached from the caller's arrays.

``test_bad_inputs[<entry>-<family>]``: Hypothesis picks the argument, the variant of
the family and the element position; each input must give a CustrelError or a finite,
frozen, detached result, leave the inputs unchanged, and finish within the CPU limit.
All inputs of one test run (no shrinking); the failure lists every bad input.
"""

from __future__ import annotations

import zlib
from typing import Any

import adv_perturb as pt
import pytest
import registry
from adv_worker import examples_per_test
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

ENTRY_NAMES = sorted(registry.ENTRIES)
CASES = [(e, f) for e in ENTRY_NAMES if registry.ENTRIES[e].has_parameters() for f in pt.FAMILIES]

_META: dict[str, Any] = {}


def _meta(pool: Any, entry: str) -> list[tuple[str, str, int]]:
    if entry not in _META:
        answer = pool.request({"op": "meta", "entry": entry})
        if answer["status"] != "ok":
            pytest.fail(f"{entry}: could not build the valid call: {answer['problems']}")
        _META[entry] = [tuple(p) for p in answer["params"]]
    return _META[entry]  # type: ignore[no-any-return]


def _record(pool: Any, entry: str, verdict: dict[str, Any], what: str) -> str | None:
    pool.calls[entry] += 1
    if verdict["status"] in {"fail", "harness"}:
        line = f"{what}: {'; '.join(verdict['problems'])}"
        pool.fails[entry].append(line)
        return line
    return None


@pytest.mark.parametrize("entry", ENTRY_NAMES)
def test_valid_call(entry: str, adv_pool: Any) -> None:
    verdict = adv_pool.request({"op": "valid", "entry": entry})
    if verdict["status"] in {"ok", "error", "fail"}:
        adv_pool.valid_problems[entry] = list(verdict["problems"])
    problem = _record(adv_pool, entry, verdict, f"[valid] {entry}(valid call)")
    assert problem is None, problem


@pytest.mark.parametrize(("entry", "family"), CASES, ids=[f"{e}-{f}" for e, f in CASES])
def test_bad_inputs(entry: str, family: str, adv_pool: Any) -> None:
    params = _meta(adv_pool, entry)
    if not params:
        pytest.skip(f"{entry} has no data argument to perturb")
    # rotate so that ci's few examples start on different arguments per test
    shift = zlib.crc32(f"{entry}-{family}".encode()) % len(params)
    params = params[shift:] + params[:shift]
    failures: list[str] = []
    tried: set[tuple[str, str, int]] = set()

    @settings(
        max_examples=examples_per_test(),
        database=None,
        deadline=None,
        phases=(Phase.explicit, Phase.generate),
        suppress_health_check=list(HealthCheck),
    )
    @given(st.data())
    def run(data: st.DataObject) -> None:
        name, kind, n = data.draw(st.sampled_from(params), label="argument")
        variant = data.draw(st.sampled_from(pt.variants(kind, family)), label="variant")
        pos = data.draw(st.sampled_from(sorted({0, n // 2, max(n - 1, 0)})), label="position")
        if (name, variant, pos) in tried or variant == "same":
            return  # "same" repeats the valid call (test_valid_call covers it)
        tried.add((name, variant, pos))
        verdict = adv_pool.request(
            {
                "op": "call",
                "entry": entry,
                "param": name,
                "kind": kind,
                "family": family,
                "variant": variant,
                "pos": pos,
                "known": adv_pool.valid_problems.get(entry),
            }
        )
        problem = _record(
            adv_pool,
            entry,
            verdict,
            f"[{family}] {entry}({verdict.get('input', name + ':' + variant)})",
        )
        if problem:
            failures.append(problem)
        if "advisory" in verdict:
            adv_pool.advisories[entry].append(f"[{family}] {entry}: {verdict['advisory']}")

    run()
    assert not failures, "\n".join(failures)
