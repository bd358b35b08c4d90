"""Benchmark custrel.lifecycle against lifelines and straightforward Python versions.

Run: /work/venv/bin/python benchmarks/bench_lifecycle.py [--quick]

Cases (all measured in the same run):
1. stage classification of N customers x 36 periods (sparse purchases, some
   lapsed) vs a per-customer, per-period Python loop applying the documented
   rules and hysteresis (loop timed on a subset, scaled linearly);
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


def _reading(seg: np.ndarray, feats: list[tuple[int, float, float, bool]], r: StageRules) -> int:
    """One stage reading of one customer at the end of ``seg`` (its values since the start)."""
    n = len(seg)
    buys = np.flatnonzero(seg)
    idle = n - 1 - int(buys[-1])
    if idle >= r.inactive_periods:
        return -3
    if n < r.min_tenure:
        return -1
    w, roll, _, _ = feats[-1]
    full = [pr for (_, _, pr, ok) in feats if ok]
    peak = max([*full, roll]) if full else roll
    if peak <= 0:
        return 0 if n <= r.exploration_periods else 3
    # raw values over the last m periods: their line and the scatter around it
    m = min(2 * w, n)
    tail, u = seg[-m:], np.arange(m, dtype=float)
    xs, xi = np.polyfit(u, tail, 1) if m >= 2 else (0.0, float(tail[0]))
    s2 = float(((tail - (xs * u + xi)) ** 2).sum() / (m - 2)) if m >= 3 else 0.0
    # trend: slope of the smoothed series over its last full windows
    mr = min(2 * w, n - w + 1)
    slope = np.polyfit(np.arange(mr), [f[1] for f in feats[-mr:]], 1)[0] if mr >= 2 else xs
    # noise over one window: w x (change of the smoothed series), full windows
    # with the same w, since the start and over the last 2w periods
    terms = [
        (j, (feats[j][0] * (feats[j][1] - feats[j - 1][1])) ** 2)
        for j in range(1, n)
        if j + 1 > feats[j][0] and feats[j][0] == feats[j - 1][0]
    ]
    for sel in (terms, [(j, q) for j, q in terms if j > n - 2 * w]):
        if sel:
            s2 = min(s2, sum(q for _, q in sel) / (2 * len(sel)))
    z = r.confidence
    sxx = float(((u - u.mean()) ** 2).sum())
    se_t = np.sqrt(s2 / sxx) * w / peak if m >= 2 else 0.0
    se_l = np.sqrt(s2 / min(w, n) + s2 / min(2 * w, n)) / peak
    g = max(r.growth, z * se_t)
    d = r.drop + z * se_l
    trend, level = slope * w / peak, roll / peak
    if trend >= g:
        return 1
    if trend < -g or level < 1 - d:
        return 3 if n >= 2 * w else 0
    return 0 if n <= r.exploration_periods else 2


def loop_classify(x: np.ndarray, r: StageRules) -> np.ndarray:
    """The documented rules, one customer and one period at a time (what a user would write)."""
    out = np.empty(len(x), dtype=np.int64)
    for i, row in enumerate(x):
        nz = np.flatnonzero(row)
        if len(nz) == 0:
            out[i] = -2
            continue
        seg_all = row[int(nz[0]) :]
        feats: list[tuple[int, float, float, bool]] = []  # window, its mean, 2w mean, full
        state, against = -2, 0
        for t in range(len(seg_all)):
            seg = seg_all[: t + 1]
            b = np.flatnonzero(seg)
            gap = (b[-1] - b[0]) / (len(b) - 1) if len(b) >= 2 else 1.0
            w = max(r.window, int(np.ceil(r.gap_window * gap - 1e-9)))
            roll = float(seg[-w:].mean())
            feats.append((w, roll, float(seg[-2 * w :].mean()), len(seg) >= 2 * w))
            raw = _reading(seg, feats, r)
            if raw >= 0 and state >= 0 and raw != state:
                against += 1
                if against < r.persistence:
                    continue
            state, against = raw, 0
        out[i] = state
    return out


def make_panel(n: int, periods: int, rng: np.random.Generator) -> np.ndarray:
    """Rise, plateau and decay with noise; sparse purchases; a third drop out (lapse)."""
    start = rng.integers(0, periods, n)
    peak_at = start + rng.integers(2, 24, n)
    t = np.arange(periods)[None, :]
    level = rng.lognormal(4, 1, n)[:, None]
    rise = np.clip((t - start[:, None] + 1) / (peak_at - start + 1)[:, None], 0, 1)
    fall = np.exp(-np.clip(t - peak_at[:, None] - 6, 0, None) * rng.uniform(0, 0.3, n)[:, None])
    x = level * rise * fall * rng.uniform(0.5, 1.5, (n, periods))
    buys = rng.random((n, periods)) < rng.uniform(0.3, 1.0, n)[:, None]
    buys[np.arange(n), np.minimum(start, periods - 1)] = True
    x = np.where(buys, x, 0.0)
    gone = (rng.random(n) < 0.33)[:, None] & (t > start[:, None] + rng.integers(1, 30, n)[:, None])
    x[gone | (t < start[:, None])] = 0.0
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
    sub = 1_000 if args.quick else 5_000
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
