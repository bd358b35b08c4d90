"""Benchmark custrel.lifecycle against lifelines and straightforward Python versions.

Run: /work/venv/bin/python benchmarks/bench_lifecycle.py [--quick]

Cases (all measured in the same run):
1. stage classification of N customers x 36 periods vs a per-customer Python
   loop applying the same rules (loop timed on a subset, scaled linearly);
2. Kaplan-Meier per acquisition cohort on N customers vs lifelines'
   KaplanMeierFitter (one fit per cohort), with a check that both agree;
3. sBG fit on 100 cohorts vs a straightforward Python-loop likelihood with
   Nelder-Mead (the common recipe);
4. a Markov projection (simulation of N customers over 12 periods) vs a
   per-customer ``rng.choice`` loop (subset, scaled).
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy import optimize

from custrel.lifecycle import (
    StageRules,
    classify_stages,
    fit_sbg,
    kaplan_meier,
    markov_chain,
)


def timed(fn: Callable[[], Any], *, memory: bool = False) -> tuple[float, float, Any]:
    if memory:
        tracemalloc.start()
    t0 = time.perf_counter()
    out = fn()
    sec = time.perf_counter() - t0
    peak = 0.0
    if memory:
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    return sec, peak, out


# -- 1. stage classification ---------------------------------------------------


def loop_classify(x: np.ndarray, r: StageRules) -> np.ndarray:
    """The same rules, one customer at a time (what a user would write)."""
    out = np.empty(len(x), dtype=np.int64)
    w, g, d, e = r.window, r.growth, r.drop, r.exploration_periods
    for i, row in enumerate(x):
        nz = np.flatnonzero(row)
        if len(nz) == 0:
            out[i] = -2
            continue
        s = int(nz[0])
        seg = row[s:]
        n = len(seg)
        if n < r.min_tenure:
            out[i] = -1
            continue
        roll = [seg[max(0, j - w + 1) : j + 1].mean() for j in range(n)]
        peak, cur = max(roll), roll[-1]
        tail = seg[-min(2 * w, n) :]
        tt = np.arange(len(tail), dtype=float)
        slope = np.polyfit(tt, tail, 1)[0] if len(tail) > 1 else 0.0
        if peak <= 0:
            out[i] = 0 if n <= e else 3
            continue
        trend, level = slope * w / peak, cur / peak
        if trend >= g:
            out[i] = 1
        elif trend <= -g or level < 1 - d:
            out[i] = 3
        else:
            out[i] = 0 if n <= e else 2
    return out


def make_panel(n: int, periods: int, rng: np.random.Generator) -> np.ndarray:
    start = rng.integers(0, periods, n)
    peak_at = start + rng.integers(2, 24, n)
    t = np.arange(periods)[None, :]
    level = rng.lognormal(4, 1, n)[:, None]
    rise = np.clip((t - start[:, None] + 1) / (peak_at - start + 1)[:, None], 0, 1)
    fall = np.exp(-np.clip(t - peak_at[:, None] - 6, 0, None) * rng.uniform(0, 0.3, n)[:, None])
    x = level * rise * fall * rng.uniform(0.8, 1.2, (n, periods))
    x[t < start[:, None]] = 0.0
    return x


# -- 3. sBG -------------------------------------------------------------------


def naive_sbg(rows: list[np.ndarray]) -> tuple[float, float]:
    def nll(params: np.ndarray) -> float:
        a, b = params
        if a <= 0 or b <= 0:
            return 1e12
        ll = 0.0
        for r in rows:
            p = a / (a + b)
            s = 1 - p
            ll += (r[0] - r[1]) * np.log(p)
            for t in range(2, len(r)):
                p = p * (b + t - 2) / (a + b + t - 1)
                s -= p
                ll += (r[t - 1] - r[t]) * np.log(p)
            ll += r[-1] * np.log(s)
        return -ll

    res = optimize.minimize(
        nll,
        [1.0, 1.0],
        method="Nelder-Mead",
        options={"xatol": 1e-6, "fatol": 1e-6, "maxiter": 5000},
    )
    return float(res.x[0]), float(res.x[1])


def make_cohorts(k: int, rng: np.random.Generator) -> list[np.ndarray]:
    rows = []
    for i in range(k):
        size = int(rng.integers(500, 5000))
        theta = rng.beta(1.2, 3.5, size)
        life = rng.geometric(theta)
        length = 2 + (k - i) % 24
        rows.append(np.array([(life > t).sum() for t in range(length)], dtype=float))
    return rows


# -- 4. Markov ----------------------------------------------------------------


def loop_simulate(
    p: np.ndarray, init: np.ndarray, horizon: int, rng: np.random.Generator
) -> np.ndarray:
    out = np.empty((len(init), horizon + 1), dtype=np.int64)
    k = p.shape[0]
    for i, s in enumerate(init):
        out[i, 0] = s
        cur = s
        for t in range(1, horizon + 1):
            cur = rng.choice(k, p=p[cur])
            out[i, t] = cur
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    n = 50_000 if args.quick else 1_000_000
    sub = 2_000 if args.quick else 20_000
    rng = np.random.default_rng(2026)
    rows: list[tuple[str, str, str, str, str]] = []

    # 1. stages
    x = make_panel(n, 36, rng)
    sec, peak, res = timed(lambda: classify_stages(x), memory=True)
    sec = min(sec, timed(lambda: classify_stages(x))[0])
    r = StageRules()
    lsec, _, lres = timed(lambda: loop_classify(x[:sub], r))
    agree = np.mean(lres == res.stage_code[:sub])
    lsec_full = lsec * n / sub
    rows.append(
        (
            f"stage classification {n:,} x 36",
            f"{sec:.2f}",
            f"{peak:,.0f}",
            f"Python loop (same rules) {lsec_full:.1f} (scaled from {sub:,}; agree {agree:.1%})",
            f"{lsec_full / sec:.0f}x",
        )
    )

    # 2. Kaplan-Meier vs lifelines
    dur = rng.integers(1, 60, n).astype(float)
    obs = rng.random(n) < 0.6
    cohort = rng.integers(0, 12, n)
    sec, peak, km = timed(lambda: kaplan_meier(dur, obs, groups=cohort), memory=True)
    sec = min(sec, timed(lambda: kaplan_meier(dur, obs, groups=cohort))[0])
    try:
        import lifelines

        def ll_fit() -> list[Any]:
            return [
                lifelines.KaplanMeierFitter().fit(dur[cohort == g], obs[cohort == g])
                for g in range(12)
            ]

        lsec, _, fits = timed(ll_fit)
        diff = max(
            float(
                np.max(
                    np.abs(
                        km.curve(g).survival
                        - f.survival_function_.iloc[:, 0].loc[km.curve(g).time].to_numpy()
                    )
                )
            )
            for g, f in enumerate(fits)
        )
        rows.append(
            (
                f"Kaplan-Meier {n:,} customers, 12 cohorts",
                f"{sec:.2f}",
                f"{peak:,.0f}",
                f"lifelines {lifelines.__version__} {lsec:.2f} (max abs diff of S {diff:.1e})",
                f"{lsec / sec:.1f}x",
            )
        )
    except ImportError:
        rows.append(
            (f"Kaplan-Meier {n:,}", f"{sec:.2f}", f"{peak:,.0f}", "lifelines not installed", "-")
        )

    # 3. sBG on 100 cohorts
    cohorts = make_cohorts(100, rng)
    sec, peak, m = timed(lambda: fit_sbg(cohorts), memory=True)
    sec = min(sec, timed(lambda: fit_sbg(cohorts))[0])
    nsec, _, (na, _nb) = timed(lambda: naive_sbg(cohorts))
    rows.append(
        (
            "sBG fit, 100 cohorts",
            f"{sec:.3f}",
            f"{peak:,.1f}",
            f"Python-loop likelihood + Nelder-Mead {nsec:.2f} (alpha {na:.4f} vs {m.alpha:.4f})",
            f"{nsec / sec:.0f}x",
        )
    )

    # 4. Markov projection (simulation) over n customers, 12 periods
    p = np.array(
        [
            [0.55, 0.30, 0.10, 0.05],
            [0.20, 0.50, 0.20, 0.10],
            [0.05, 0.15, 0.50, 0.30],
            [0.00, 0.00, 0.00, 1.00],
        ]
    )
    chain = markov_chain(p, ["gold", "iron", "lead", "lost"])
    init = rng.choice(np.array(["gold", "iron", "lead"]), n)
    sec, peak, paths = timed(lambda: chain.simulate(init, 12, rng=1), memory=True)
    codes = np.array([chain.index(s) for s in ["gold", "iron", "lead"]])[
        np.searchsorted(np.array(["gold", "iron", "lead"]), init[:sub])
    ]
    lsec, _, _ = timed(lambda: loop_simulate(p, codes, 12, np.random.default_rng(1)))
    lsec_full = lsec * n / sub
    share = np.bincount(paths[:, -1], minlength=4) / n
    expect = chain.project(np.bincount(paths[:, 0], minlength=4) / n, 12)[-1]
    rows.append(
        (
            f"Markov simulation {n:,} customers x 12 periods",
            f"{sec:.2f}",
            f"{peak:,.0f}",
            (
                f"per-customer rng.choice loop {lsec_full:.1f} (scaled from {sub:,}; "
                f"max abs(share - projection) {np.max(np.abs(share - expect)):.1e})"
            ),
            f"{lsec_full / sec:.0f}x",
        )
    )
    psec, _, _ = timed(lambda: chain.project(np.bincount(paths[:, 0], minlength=4), 120))
    rows.append(
        ("Markov projection of the state counts, 120 periods", f"{psec:.4f}", "-", "-", "-")
    )

    head = ("case", "custrel s", "peak MiB", "alternative (s)", "speed-up")
    print(
        f"custrel.lifecycle benchmark, {dt.date.today()}, {platform.machine()}, 2 cores, Python {platform.python_version()}"
    )
    print()
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join("---" for _ in head) + "|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
