"""Benchmark: BTYD fits and per-customer predictions on 1, 2 and all cores (issue 12).

Fits (``fit_bgnbd``, ``fit_pareto_nbd``, optionally ``fit_gamma_gamma``) and
predictions (``conditional_expected_purchases`` + ``probability_alive`` of a
Pareto/NBD and a BG/NBD model) on simulated customers, at each thread count,
against one thread in the same run. Every result is also checked to be the
same to the last bit as the one-thread result (the chunks do not depend on
the thread count).

Data: each model's own vectorised ``simulate`` with ages ``T`` in whole days
(up to two years, in weeks), so many one-time buyers share a row after
compression, as in real data; ``--ages continuous`` gives every customer its
own age (nothing to merge: the hardest case). The core count, load average, numpy and scipy
versions are recorded with the results.

Usage: python benchmarks/bench_btyd_scale.py [--sizes 1000000,10000000]
       [--threads 1,2,all] [--work bgnbd_fit,pnbd_fit,pnbd_predict,bgnbd_predict,gg_fit]
       [--one-thread-max N] [--budget SECONDS] [--ages days|continuous] [--output FILE]

``--one-thread-max`` skips thread counts below all cores for sizes above N
(the one-thread run of 10M customers is slow); ``--budget`` stops starting new
measurements after that many seconds (each finished row is written at once,
so a stopped run still leaves its rows). The environment variable
``BTYD_BENCH_SIZES`` overrides ``--sizes`` (for a tiny smoke run).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

SEED = 2026
BGNBD = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}  # CDNOW (Fader et al. 2005)
PNBD = {"r": 0.5534, "alpha": 10.5802, "s": 0.6061, "beta": 11.6562}  # CDNOW (Fader et al.)
GG = {"p": 6.25, "q": 3.74, "gamma": 15.44}


def usable_cores() -> int:
    counter = getattr(os, "process_cpu_count", None)
    if counter is not None:
        return int(counter() or 1)
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def cpu_seconds() -> float:
    """CPU time of this process and of its ended children (the fits' worker processes)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def simulate(kind: str, n: int, ages: str = "days") -> dict[str, np.ndarray]:
    """Customers of the CDNOW fits; ages in whole days up to two years (in weeks), or continuous."""
    from custrel.btyd import BGNBDModel, GammaGammaModel, ParetoNBDModel

    rng = np.random.default_rng(SEED)
    if ages == "days":
        big_t = rng.integers(7, 2 * 365, n) / 7.0
    else:  # every customer's age distinct: nothing to merge, the hardest case
        big_t = rng.uniform(1.0, 2 * 365 / 7.0, n)
    model: Any = ParetoNBDModel if kind == "pnbd" else BGNBDModel
    params = PNBD if kind == "pnbd" else BGNBD
    sim = model.from_params(params).simulate(n, big_t, rng=SEED)
    out = {"x": sim.frequency, "tx": sim.recency, "T": sim.T}
    if kind == "gg":
        x = np.maximum(sim.frequency, 1.0)
        out["gx"] = x
        out["m"] = GammaGammaModel.from_params(GG).simulate(x, rng=SEED)
    return out


def work_items(data: dict[str, dict[str, np.ndarray]]) -> dict[str, Callable[[int], Any]]:
    from custrel.btyd import (
        BGNBDModel,
        ParetoNBDModel,
        fit_bgnbd,
        fit_gamma_gamma,
        fit_pareto_nbd,
    )

    pn = ParetoNBDModel.from_params(PNBD)
    bg = BGNBDModel.from_params(BGNBD)

    def fit_values(m: Any) -> np.ndarray:
        return np.asarray([*m.params.values(), m.log_likelihood, *m.standard_errors.values()])

    def pnbd_predict(t: int) -> np.ndarray:
        d = data["pnbd"]
        e = pn.conditional_expected_purchases(52.0, d["x"], d["tx"], d["T"], threads=t)
        a = pn.probability_alive(d["x"], d["tx"], d["T"], threads=t)
        return np.concatenate([e, a])

    def bgnbd_predict(t: int) -> np.ndarray:
        d = data["bgnbd"]
        e = bg.conditional_expected_purchases(52.0, d["x"], d["tx"], d["T"], threads=t)
        a = bg.probability_alive(d["x"], d["tx"], d["T"], threads=t)
        return np.concatenate([e, a])

    return {
        "bgnbd_fit": lambda t: fit_values(
            fit_bgnbd(data["bgnbd"]["x"], data["bgnbd"]["tx"], data["bgnbd"]["T"], threads=t)
        ),
        "pnbd_fit": lambda t: fit_values(
            fit_pareto_nbd(data["pnbd"]["x"], data["pnbd"]["tx"], data["pnbd"]["T"], threads=t)
        ),
        "pnbd_predict": pnbd_predict,
        "bgnbd_predict": bgnbd_predict,
        "gg_fit": lambda t: fit_values(
            fit_gamma_gamma(data["gg"]["gx"], data["gg"]["m"], threads=t, max_correlation=1.0)
        ),
    }


LABELS = {
    "bgnbd_fit": "BG/NBD fit",
    "pnbd_fit": "Pareto/NBD fit",
    "pnbd_predict": "Pareto/NBD conditional_expected_purchases + probability_alive",
    "bgnbd_predict": "BG/NBD conditional_expected_purchases + probability_alive",
    "gg_fit": "Gamma-Gamma fit",
}
NEEDS = {
    "bgnbd_fit": "bgnbd",
    "pnbd_fit": "pnbd",
    "pnbd_predict": "pnbd",
    "bgnbd_predict": "bgnbd",
    "gg_fit": "gg",
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="1000000,10000000")
    ap.add_argument("--threads", default="1,2,all")
    ap.add_argument("--work", default="bgnbd_fit,pnbd_fit,pnbd_predict,bgnbd_predict")
    ap.add_argument("--one-thread-max", type=float, default=float("inf"))
    ap.add_argument("--budget", type=float, default=float("inf"))
    ap.add_argument("--repeat", type=int, default=1, help="best of this many runs")
    ap.add_argument("--output", default=None, help="append the markdown to this file")
    ap.add_argument(
        "--ages",
        default="days",
        choices=("days", "continuous"),
        help="customers' ages T: whole days (many shared rows) or continuous (none)",
    )
    args = ap.parse_args(argv)
    sizes_text = os.environ.get("BTYD_BENCH_SIZES") or args.sizes
    sizes = [int(float(s)) for s in sizes_text.split(",") if s.strip()]
    cores = usable_cores()
    threads = sorted({cores if t == "all" else int(t) for t in args.threads.split(",")})
    work = [w for w in args.work.split(",") if w]
    start = time.perf_counter()

    import numpy
    import scipy

    lines: list[str] = []

    def emit(line: str) -> None:
        print(line, flush=True)
        lines.append(line)
        if args.output:
            with open(args.output, "a", encoding="utf-8") as fh:
                fh.write(line + "\n")

    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    emit(f"### BTYD fits and predictions by thread count ({dt.date.today().isoformat()})")
    emit("")
    emit(
        f"{cores} usable cores ({cpu_model()}), load average {load[0]:.2f} at the start; "
        f"Python {platform.python_version()}, numpy {numpy.__version__}, "
        f"scipy {scipy.__version__}; best of {args.repeat}; ages T {args.ages}. "
        "Seconds of wall time and of CPU time (all threads and worker processes; CPU time "
        "that grows with "
        "the threads is overhead, wall time also counts waiting for a busy machine); "
        "the speed-up is the wall time of the "
        "fewest threads measured over this row's; `same` says "
        "whether the result equals the first thread count's to the last bit."
    )
    emit("")
    warm = work_items({k: simulate(k, 2000) for k in ("bgnbd", "pnbd", "gg")})
    for w in work:  # imports (scipy.optimize) and first-call costs out of the timings
        warm[w](1)
    emit("| work | customers | threads | seconds | CPU seconds | speed-up | same |")
    emit("|---|---:|---:|---:|---:|---:|---|")
    for n in sizes:
        kinds = sorted({NEEDS[w] for w in work})
        data: dict[str, dict[str, np.ndarray]] = {}
        for kind in kinds:
            t0 = time.perf_counter()
            data[kind] = simulate(kind, n, args.ages)
            print(f"# simulated {kind} {n}: {time.perf_counter() - t0:.2f} s", file=sys.stderr)
        items = work_items(data)
        for w in work:
            base: tuple[float, np.ndarray] | None = None
            for t in threads:
                if t < cores and n > args.one_thread_max and t != threads[-1]:
                    continue
                if time.perf_counter() - start > args.budget:
                    emit(f"| {LABELS[w]} | {n:,} | {t} | skipped (time budget) | | | |")
                    continue
                best, cpu = float("inf"), float("inf")
                out: Any = None
                try:
                    for _ in range(args.repeat):
                        t0, c0 = time.perf_counter(), cpu_seconds()
                        out = items[w](t)
                        best = min(best, time.perf_counter() - t0)
                        # the workers' exits are reaped by a thread: their CPU time counts
                        # once they are (os.times counts ended, reaped children only)
                        from custrel import _parallel

                        _parallel.wait_for_exits()
                        cpu = min(cpu, cpu_seconds() - c0)
                except Exception as exc:  # a benchmark row records the failure, not a traceback
                    emit(
                        f"| {LABELS[w]} | {n:,} | {t} | failed: {type(exc).__name__}: {exc} | | | |"
                    )
                    continue
                if base is None:
                    base = (best, out)
                    ratio, same = "1.00x", "-"
                else:
                    ratio = f"{base[0] / best:.2f}x"
                    same = "yes" if np.array_equal(out, base[1], equal_nan=True) else "NO"
                emit(f"| {LABELS[w]} | {n:,} | {t} | {best:.2f} | {cpu:.2f} | {ratio} | {same} |")
        del data
    emit("")
    emit(f"Total wall time {time.perf_counter() - start:.0f} s.")
    emit("")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
