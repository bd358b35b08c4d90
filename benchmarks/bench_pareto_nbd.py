"""Benchmark: custrel's Pareto/NBD against lifetimes 0.11.3, measured in the same run.

Usage::

    /work/venv/bin/python benchmarks/bench_pareto_nbd.py [--quick]

lifetimes does not import under numpy 2 / pandas 3, so it runs in a second
virtual environment with compatible pins (``/work/venv-peers`` if present,
else ``/work/venv-pareto-peers``: ``pip install lifetimes==0.11.3
"numpy<2" "pandas<2.2" "scipy<1.14"``) as a subprocess that reads the same
data from an ``.npz`` file and reports its own timings as JSON. Both sides
time only the fit (or the prediction), not the imports.

Cases: the CDNOW sample (2,357 customers), and 100,000 and 1,000,000
customers simulated from the CDNOW estimates with ages spread uniformly over
20-52 weeks and continuous recency, so that almost no two customers share
``(x, t_x, T)`` (the worst case for row compression). ``--quick`` skips the
1,000,000-customer lifetimes fit (about four minutes).

Long histories with ``beta >> alpha``: 20,000 customers with ages spread over
100-1,000 weeks, simulated from parameters with ``beta/alpha`` of 100 and
200. There the hypergeometric argument is near 1; the current code takes the
``z -> 1 - z`` transformation, the previous code (the series in ``z``, then
Gauss's continued fraction) is still selectable by setting
``_pareto_nbd._W_SWITCH = 0`` and is timed in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import textwrap
import time
import tracemalloc
from pathlib import Path

# Both sides run with single-threaded BLAS: on a shared two-core machine
# OpenBLAS worker threads only spin (set before numpy is imported).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

from custrel.btyd import _pnbd_math as pn

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "cdnow_customers_summary.csv"
PARAMS = np.array([0.5534, 10.5802, 0.6061, 11.6562])

PEER_SCRIPT = textwrap.dedent(
    """
    import json, sys, time, warnings
    import numpy as np
    warnings.filterwarnings("ignore")
    from lifetimes import ParetoNBDFitter
    import lifetimes
    d = np.load(sys.argv[1])
    task = sys.argv[2]
    x, t_x, T = d["x"], d["t_x"], d["T"]
    out = {"version": lifetimes.__version__}
    if task == "fit":
        repeats = int(sys.argv[3])
        best = float("inf")
        for _ in range(repeats):
            t0 = time.perf_counter()
            f = ParetoNBDFitter().fit(x, t_x, T)
            best = min(best, time.perf_counter() - t0)
        out["seconds"] = best
        out["params"] = [float(f.params_[k]) for k in ("r", "alpha", "s", "beta")]
    else:
        import pandas as pd
        f = ParetoNBDFitter()
        f.params_ = pd.Series(dict(zip(("r", "alpha", "s", "beta"), d["params"])))
        t0 = time.perf_counter()
        f.conditional_probability_alive(x, t_x, T)
        out["alive"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        f.conditional_expected_number_of_purchases_up_to_time(39.0, x, t_x, T)
        out["cond"] = time.perf_counter() - t0
    print(json.dumps(out))
    """
)


def peer_python() -> Path | None:
    for venv in ("/work/venv-peers", "/work/venv-pareto-peers"):
        exe = Path(venv) / "bin" / "python"
        if exe.exists():
            return exe
    return None


def run_peer(data: dict[str, np.ndarray], task: str, *extra: str) -> dict[str, object] | None:
    exe = peer_python()
    if exe is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        npz = Path(tmp) / "data.npz"
        np.savez(npz, **data)
        script = Path(tmp) / "peer.py"
        script.write_text(PEER_SCRIPT)
        env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
        proc = subprocess.run(
            [str(exe), str(script), str(npz), task, *extra],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
    if proc.returncode != 0:
        print(f"lifetimes failed: {proc.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
        return None
    result: dict[str, object] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def best_of(fn: object, repeats: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()  # type: ignore[operator]
        best = min(best, time.perf_counter() - t0)
    return best, out


def simulated(n: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(2024)
    T = rng.uniform(20.0, 52.0, n)
    sim = pn.simulate(PARAMS, n, T, rng=rng)
    return {"x": sim["frequency"], "t_x": sim["recency"], "T": sim["T"]}


def long_history(params: np.ndarray, n: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(2025)
    T = rng.uniform(100.0, 1000.0, n)
    sim = pn.simulate(params, n, T, rng=rng)
    return {"x": sim["frequency"], "t_x": sim["recency"], "T": sim["T"]}


def fmt_params(p: object) -> str:
    return "(" + ", ".join(f"{v:.4g}" for v in p) + ")"  # type: ignore[attr-defined]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--quick", action="store_true", help="skip the 1,000,000-customer lifetimes fit"
    )
    args = parser.parse_args()
    rows: list[str] = []

    def row(case: str, ours: float, peer: float | None, note: str) -> None:
        ratio = f"{peer / ours:.1f}x" if peer else "n/a"
        peer_s = f"{peer:.3f}" if peer else "not run"
        rows.append(f"| {case} | {ours:.3f} | {peer_s} | {ratio} | {note} |")
        print(rows[-1], flush=True)

    print("| case | custrel s | lifetimes 0.11.3 s | speed-up | note |")
    print("|---|---|---|---|---|")

    d = np.genfromtxt(DATA, delimiter=",", names=True)
    cdnow = {"x": d["frequency"], "t_x": d["recency"], "T": d["T"]}
    ours_t, fit = best_of(lambda: pn.fit(cdnow["x"], cdnow["t_x"], cdnow["T"]), 7)
    peer = run_peer(cdnow, "fit", "3")
    note = f"custrel {fmt_params(fit.params)} LL {fit.log_likelihood:.2f}"  # type: ignore[attr-defined]
    if peer:
        note += f"; lifetimes {fmt_params(peer['params'])}"
    row("fit, CDNOW 2,357 customers", ours_t, peer["seconds"] if peer else None, note)  # type: ignore[arg-type]

    for n in (100_000, 1_000_000):
        data = simulated(n)
        ours_t, fit = best_of(
            lambda data=data: pn.fit(data["x"], data["t_x"], data["T"]), 2 if n < 10**6 else 1
        )
        skip = args.quick and n >= 10**6
        peer = None if skip else run_peer(data, "fit", "1")
        note = f"custrel {fmt_params(fit.params)}"  # type: ignore[attr-defined]
        if peer:
            note += f"; lifetimes {fmt_params(peer['params'])}"
        row(f"fit, {n:,} simulated customers", ours_t, peer["seconds"] if peer else None, note)  # type: ignore[arg-type]

    for long_params in ((0.8, 5.0, 0.7, 500.0), (0.55, 10.0, 0.6, 2000.0)):
        data = long_history(np.array(long_params), 20_000)
        ours_t, fit = best_of(lambda data=data: pn.fit(data["x"], data["t_x"], data["T"]), 3)
        switch = pn._W_SWITCH
        pn._W_SWITCH = 0.0  # the previous path: series in z, then the continued fraction
        try:
            old_t, old_fit = best_of(lambda data=data: pn.fit(data["x"], data["t_x"], data["T"]), 3)
        finally:
            pn._W_SWITCH = switch
        peer = run_peer(data, "fit", "1")
        note = (
            f"previous code {old_t:.3f} s ({old_t / ours_t:.1f}x slower, same estimates: "
            f"{bool(np.allclose(old_fit.params, fit.params, rtol=1e-8))}); "  # type: ignore[attr-defined]
            f"custrel {fmt_params(fit.params)}"  # type: ignore[attr-defined]
        )
        if peer:
            ll_peer = float(
                np.sum(
                    pn.log_likelihood(np.array(peer["params"]), data["x"], data["t_x"], data["T"])
                )
            )
            note += (
                f"; lifetimes {fmt_params(peer['params'])}; LL custrel "
                f"{fit.log_likelihood:.1f}, at lifetimes' estimates {ll_peer:.1f}"  # type: ignore[attr-defined]
            )
        row(
            f"fit, 20,000 customers over 100-1,000 weeks, true {fmt_params(long_params)}",
            ours_t,
            peer["seconds"] if peer else None,  # type: ignore[arg-type]
            note,
        )

    data = simulated(1_000_000)
    x, t_x, T = data["x"], data["t_x"], data["T"]
    t_alive, _ = best_of(lambda: pn.probability_alive(PARAMS, x, t_x, T), 2)
    t_cond, _ = best_of(lambda: pn.conditional_expected_purchases(PARAMS, 39.0, x, t_x, T), 2)
    peer = run_peer({**data, "params": PARAMS}, "predict")
    row("P(alive), 1,000,000 customers", t_alive, peer["alive"] if peer else None, "")  # type: ignore[arg-type]
    row(
        "conditional expected purchases (39 weeks), 1,000,000 customers",
        t_cond,
        peer["cond"] if peer else None,
        "",
    )  # type: ignore[arg-type]

    mem = []
    for n in (250_000, 500_000, 1_000_000):
        sl = slice(0, n)
        tracemalloc.start()
        pn.conditional_expected_purchases(PARAMS, 39.0, x[sl], t_x[sl], T[sl])
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        mem.append(f"{n:,}: {peak / 2**20:.0f} MiB ({peak / n:.0f} B/customer)")
    rows.append("")
    rows.append("Peak memory of conditional expected purchases (tracemalloc): " + "; ".join(mem))
    print(rows[-1])

    header = (
        f"# Pareto/NBD benchmark\n\n"
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {platform.machine()}, "
        f"{os.cpu_count()} cores; Python {platform.python_version()}, numpy {np.__version__}; "
        f"lifetimes 0.11.3 in {peer_python()} (numpy<2); both with OPENBLAS_NUM_THREADS=1. "
        "Best of several runs for small cases, "
        "one run for 1,000,000 customers. Command: `python benchmarks/bench_pareto_nbd.py"
        f"{' --quick' if args.quick else ''}`.\n\n"
        "| case | custrel s | lifetimes 0.11.3 s | speed-up | note |\n|---|---|---|---|---|\n"
    )
    out = ROOT / "benchmarks" / "results" / "pareto_nbd.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(header + "\n".join(rows) + "\n")
    print(f"written {out}")


if __name__ == "__main__":
    main()
