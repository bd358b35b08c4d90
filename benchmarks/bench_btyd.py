"""Benchmark: BTYD summaries, fits and predictions against lifetimes 0.11.3, in the same run.

lifetimes does not run under numpy 2 / pandas 3, so it is timed in a second
interpreter with compatible pins (``/work/venv-peers``: ``pip install
lifetimes==0.11.3 "numpy<2" "pandas<2.2" "scipy<1.14"``). Both sides read the
same data from one ``.npz`` file; the peer process reports its own timings
(excluding its imports and the data loading) as JSON. Without the peer
interpreter the custrel column is still printed.

Cases (issue 7):

* summary of a 1,000,000-row log (100,000 customers), plain and with a
  calibration / holdout split (lifetimes: ``summary_data_from_transaction_data``,
  ``calibration_and_holdout_data``);
* BG/NBD, Pareto/NBD, Gamma-Gamma fits on CDNOW and BG/BB on the donations;
* BG/NBD fits on 100,000 and 1,000,000 simulated customers;
* predictions for 1,000,000 customers (conditional expected purchases,
  P(alive), CLV over 12 months) with tracemalloc peak memory.

Usage: /work/venv/bin/python benchmarks/bench_btyd.py [--quick]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import tracemalloc
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import custrel
from custrel import (
    BGNBDModel,
    FitWarning,
    TransactionLog,
    fit_bgbb,
    fit_bgnbd,
    fit_gamma_gamma,
    fit_pareto_nbd,
    load_cdnow,
    rfm_summary,
)

PEER_PYTHON = os.environ.get("CUSTREL_PEER_PYTHON", "/work/venv-peers/bin/python")
SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
CDNOW_PARAMS = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}

PEER_SCRIPT = r"""
import json, sys, time, warnings
import numpy as np, pandas as pd
warnings.simplefilter("ignore")
import lifetimes
from lifetimes import BetaGeoFitter, ParetoNBDFitter, GammaGammaFitter, BetaGeoBetaBinomFitter
from lifetimes.utils import summary_data_from_transaction_data, calibration_and_holdout_data

data = np.load(sys.argv[1])
tasks = json.loads(sys.argv[2])
out = {}

def best(fn, repeat):
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter(); res = fn(); ts.append(time.perf_counter() - t0)
    return min(ts), res

if "summary" in tasks:
    df = pd.DataFrame({"customer_id": data["log_id"],
                       "date": data["log_day"].astype("datetime64[D]").astype("datetime64[ns]"),
                       "amount": data["log_amount"]})
    end = pd.Timestamp(str(data["log_end"]))
    cal = pd.Timestamp(str(data["log_cal"]))
    t, s = best(lambda: summary_data_from_transaction_data(
        df, "customer_id", "date", monetary_value_col="amount", observation_period_end=end, freq="D"), tasks["summary"])
    out["summary"] = t
    out["summary_check"] = [float(s["frequency"].sum()), float(s["T"].sum()), float(s["recency"].sum())]
    t, s = best(lambda: calibration_and_holdout_data(
        df, "customer_id", "date", calibration_period_end=cal, observation_period_end=end,
        freq="D", monetary_value_col="amount"), tasks["summary"])
    out["calibration_holdout"] = t
    out["calibration_holdout_check"] = [float(s["frequency_cal"].sum()), float(s["frequency_holdout"].sum())]

def fit_time(cls, cols, repeat, **kw):
    def run():
        m = cls(penalizer_coef=0.0)
        m.fit(*cols, **kw)
        return m
    t, m = best(run, repeat)
    return t, [float(v) for v in m.params_.values], float(m._negative_log_likelihood_) if hasattr(m, "_negative_log_likelihood_") else None

if "cdnow" in tasks:
    x, tx, T = data["cd_x"], data["cd_tx"], data["cd_T"]
    out["bgnbd_cdnow"] = fit_time(BetaGeoFitter, (x, tx, T), tasks["cdnow"])
    out["pareto_cdnow"] = fit_time(ParetoNBDFitter, (x, tx, T), max(1, tasks["cdnow"] // 3))
    rb = x > 0
    out["gg_cdnow"] = fit_time(GammaGammaFitter, (x[rb], data["cd_m"][rb]), tasks["cdnow"])
    out["bgbb_donations"] = fit_time(BetaGeoBetaBinomFitter, (data["dn_x"], data["dn_tx"], data["dn_n"], data["dn_w"]), tasks["cdnow"])

for key in ("sim100k", "sim1m"):
    if key in tasks:
        out["bgnbd_" + key] = fit_time(BetaGeoFitter, (data[key + "_x"], data[key + "_tx"], data[key + "_T"]), tasks[key])

if "predict" in tasks:
    bgf = BetaGeoFitter()
    bgf.params_ = pd.Series(dict(r=0.243, alpha=4.414, a=0.793, b=2.426))
    bgf.predict = bgf.conditional_expected_number_of_purchases_up_to_time
    x, tx, T = data["sim1m_x"], data["sim1m_tx"], data["sim1m_T"]
    t0 = time.perf_counter(); bgf.conditional_expected_number_of_purchases_up_to_time(39.0, x, tx, T)
    out["predict_expected"] = time.perf_counter() - t0
    t0 = time.perf_counter(); bgf.conditional_probability_alive(x, tx, T)
    out["predict_alive"] = time.perf_counter() - t0
    gg = GammaGammaFitter()
    gg.params_ = pd.Series(dict(p=6.25, q=3.74, v=15.44))
    m = np.where(x > 0, 30.0, 0.0)
    t0 = time.perf_counter()
    gg.customer_lifetime_value(bgf, pd.Series(x), pd.Series(tx), pd.Series(T), pd.Series(m),
                               time=12, discount_rate=0.01, freq="W")
    out["predict_clv"] = time.perf_counter() - t0

out["version"] = lifetimes.__version__
print(json.dumps(out))
"""


def best_time(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def make_log(n_rows: int, n_customers: int) -> dict[str, np.ndarray]:
    """A day-stamped log in time order: customers buy on random days over two years."""
    rng = np.random.default_rng(7)
    ids = rng.integers(0, n_customers, n_rows)
    day = np.sort(rng.integers(0, 730, n_rows))
    amount = np.round(rng.gamma(2.0, 20.0, n_rows), 2)
    return {"id": ids.astype(np.int64), "day": day.astype(np.int64), "amount": amount}


def run_peer(npz: str, tasks: dict[str, int]) -> dict[str, Any] | None:
    if not Path(PEER_PYTHON).exists():
        print(f"(no peer interpreter at {PEER_PYTHON}: lifetimes not timed)", file=sys.stderr)
        return None
    proc = subprocess.run(
        [PEER_PYTHON, "-c", PEER_SCRIPT, npz, json.dumps(tasks)],
        capture_output=True,
        text=True,
        check=False,
        timeout=3600,
    )
    if proc.returncode != 0:
        print("peer failed:\n" + proc.stderr[-3000:], file=sys.stderr)
        return None
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def fmt_params(values: Any) -> str:
    return "(" + ", ".join(f"{float(v):.4g}" for v in values) + ")"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer repeats, no 1,000,000-customer fit")
    args = ap.parse_args()
    rep = 2 if args.quick else 5
    rows: list[tuple[str, float, float | None, str]] = []
    payload: dict[str, np.ndarray] = {}
    tasks: dict[str, int] = {}

    # -- summaries of a 1,000,000-row log --------------------------------------
    raw = make_log(1_000_000, 100_000)
    base = np.datetime64("2024-01-01", "D")
    log = TransactionLog.from_arrays(
        customer_id=raw["id"],
        time=(base + raw["day"].astype("timedelta64[D]")).astype("datetime64[s]"),
        amount=raw["amount"],
    )
    end, cal = base + np.timedelta64(729, "D"), base + np.timedelta64(547, "D")
    t_sum, s = best_time(lambda: rfm_summary(log, unit="day", observation_end=end), rep)
    t_cal, sc = best_time(
        lambda: rfm_summary(log, unit="day", calibration_end=cal, observation_end=end), rep
    )
    payload.update(
        log_id=raw["id"],
        log_day=(base + raw["day"].astype("timedelta64[D]")),
        log_amount=raw["amount"],
        log_end=np.asarray(str(end)),
        log_cal=np.asarray(str(cal)),
    )
    tasks["summary"] = max(1, rep // 2)
    check = [float(s.frequency.sum()), float(s.T.sum()), float(s.recency.sum())]

    # -- CDNOW and donations ------------------------------------------------------
    cd = rfm_summary(
        load_cdnow(SHARED / "CDNOW_sample.txt"),
        unit="week",
        calibration_end="1997-09-30",
        observation_end="1998-06-30",
    )
    money = np.where(cd.frequency > 0, cd.monetary_value, 0.0)  # type: ignore[arg-type]
    dn = np.genfromtxt(SHARED / "donations.csv", delimiter=",", names=True)
    payload.update(
        cd_x=np.asarray(cd.frequency),
        cd_tx=np.asarray(cd.recency),
        cd_T=np.asarray(cd.T),
        cd_m=money,
        dn_x=dn["frequency"],
        dn_tx=dn["recency"],
        dn_n=dn["periods"],
        dn_w=dn["weights"],
    )
    tasks["cdnow"] = rep * 2
    t_bg, bg = best_time(lambda: fit_bgnbd(cd.frequency, cd.recency, cd.T), rep * 2)
    t_pn, pn = best_time(
        lambda: fit_pareto_nbd(cd.frequency, cd.recency, cd.T), max(1, (rep * 2) // 3)
    )
    rb = cd.repeat_buyers()
    t_gg, gg = best_time(lambda: fit_gamma_gamma(rb.frequency, rb.monetary_value), rep * 2)
    t_bb, bb = best_time(
        lambda: fit_bgbb(dn["frequency"], dn["recency"], dn["periods"], weights=dn["weights"]),
        rep * 2,
    )

    # -- simulated customers ------------------------------------------------------
    truth = BGNBDModel.from_params(CDNOW_PARAMS)
    sims = {"sim100k": 100_000} if args.quick else {"sim100k": 100_000, "sim1m": 1_000_000}
    sim_times: dict[str, tuple[float, Any]] = {}
    for key, n in sims.items():
        sim = truth.simulate(n, T=np.random.default_rng(1).uniform(1.0, 52.0, n).round(2), rng=2)
        payload.update(
            {
                key + "_x": np.asarray(sim.frequency),
                key + "_tx": np.asarray(sim.recency),
                key + "_T": np.asarray(sim.T),
            }
        )
        tasks[key] = 1
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FitWarning)
            sim_times[key] = best_time(
                lambda s_=sim: fit_bgnbd(s_.frequency, s_.recency, s_.T), 1 if n > 200_000 else 2
            )

    # -- predictions for 1,000,000 customers ---------------------------------------
    big = truth.simulate(
        1_000_000, T=np.random.default_rng(1).uniform(1.0, 52.0, 1_000_000).round(2), rng=3
    )
    if "sim1m_x" not in payload:
        payload.update(
            sim1m_x=np.asarray(big.frequency),
            sim1m_tx=np.asarray(big.recency),
            sim1m_T=np.asarray(big.T),
        )
    else:
        big = custrel.BTYDSummary(
            customer_id=None,
            frequency=payload["sim1m_x"],
            recency=payload["sim1m_tx"],
            T=payload["sim1m_T"],
            monetary_value=None,
            weights=np.ones(1_000_000),
        )
    tasks["predict"] = 1
    x, tx, big_t = np.asarray(big.frequency), np.asarray(big.recency), np.asarray(big.T)
    spend = np.full(len(x), 30.0)
    t_exp, _ = best_time(lambda: truth.conditional_expected_purchases(39.0, x, tx, big_t), 1)
    t_alive, _ = best_time(lambda: truth.probability_alive(x, tx, big_t), 1)
    month = 52.0 / 12.0
    t_clv, _ = best_time(
        lambda: truth.customer_lifetime_value(
            x, tx, big_t, spend, horizon=12, discount_rate=0.01, period=month
        ),
        1,
    )
    mem = []
    for n in (250_000, 500_000, 1_000_000):
        tracemalloc.start()
        truth.customer_lifetime_value(
            x[:n], tx[:n], big_t[:n], spend[:n], horizon=12, discount_rate=0.01, period=month
        )
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        mem.append((n, peak))

    with tempfile.TemporaryDirectory() as tmp:
        npz = os.path.join(tmp, "bench.npz")
        np.savez(npz, **payload)
        peer = run_peer(npz, tasks)

    def peer_t(key: str) -> float | None:
        if peer is None or key not in peer:
            return None
        val = peer[key]
        return float(val[0] if isinstance(val, list) else val)

    def peer_p(key: str) -> str:
        if peer is None or key not in peer:
            return ""
        return "; lifetimes " + fmt_params(peer[key][1])

    note_sum = "frequency/T/recency sums " + (
        "agree"
        if peer and np.allclose(peer["summary_check"], check)
        else f"custrel {check}, lifetimes {peer and peer.get('summary_check')}"
    )
    rows.append(
        ("summary, 1,000,000 rows / 100,000 customers (days)", t_sum, peer_t("summary"), note_sum)
    )
    cal_check = [float(sc.frequency.sum()), float(sc.holdout_frequency.sum())]  # type: ignore[union-attr]
    note_cal = "calibration/holdout frequency sums " + (
        "agree"
        if peer and np.allclose(peer["calibration_holdout_check"], cal_check)
        else f"custrel {cal_check}, lifetimes {peer and peer.get('calibration_holdout_check')}"
    )
    rows.append(
        ("calibration/holdout summary, same log", t_cal, peer_t("calibration_holdout"), note_cal)
    )
    rows.append(
        (
            "BG/NBD fit, CDNOW 2,357",
            t_bg,
            peer_t("bgnbd_cdnow"),
            f"custrel {fmt_params(bg.params.values())} LL {bg.log_likelihood:.2f}{peer_p('bgnbd_cdnow')}",
        )
    )
    rows.append(
        (
            "Pareto/NBD fit, CDNOW 2,357",
            t_pn,
            peer_t("pareto_cdnow"),
            f"custrel {fmt_params(pn.params.values())} LL {pn.log_likelihood:.2f}{peer_p('pareto_cdnow')}",
        )
    )
    rows.append(
        (
            "Gamma-Gamma fit, CDNOW 946 repeat buyers",
            t_gg,
            peer_t("gg_cdnow"),
            f"custrel {fmt_params(gg.params.values())}{peer_p('gg_cdnow')}",
        )
    )
    rows.append(
        (
            "BG/BB fit, donations 11,104 (22 rows)",
            t_bb,
            peer_t("bgbb_donations"),
            f"custrel {fmt_params(bb.params.values())}{peer_p('bgbb_donations')}",
        )
    )
    for key, n in sims.items():
        t, m = sim_times[key]
        rows.append(
            (
                f"BG/NBD fit, {n:,} simulated customers",
                t,
                peer_t("bgnbd_" + key),
                f"custrel {fmt_params(m.params.values())}{peer_p('bgnbd_' + key)}",
            )
        )
    rows.append(
        (
            "conditional expected purchases (39 weeks), 1,000,000",
            t_exp,
            peer_t("predict_expected"),
            "BG/NBD",
        )
    )
    rows.append(("P(alive), 1,000,000", t_alive, peer_t("predict_alive"), "BG/NBD"))
    rows.append(
        (
            "CLV, 12 months, 1,000,000",
            t_clv,
            peer_t("predict_clv"),
            "BG/NBD x spend; lifetimes: GammaGammaFitter.customer_lifetime_value",
        )
    )

    version = peer.get("version", "?") if peer else "not run"
    quick = " --quick" if args.quick else ""
    header = (
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; {platform.machine()}, "
        f"{os.cpu_count()} cores; Python {platform.python_version()}, numpy {np.__version__}; "
        f"lifetimes {version} in {PEER_PYTHON} (numpy<2, pandas<2.2), same data through one "
        "npz file. Best of several runs for small cases, one run for large ones. "
        f"Load average at the start: {os.getloadavg()[0]:.1f}. "
        f"Command: `python benchmarks/bench_btyd.py{quick}`."
    )
    lines = [
        "# BTYD benchmark",
        "",
        header,
        "",
        "| case | custrel s | lifetimes 0.11.3 s | speed-up | note |",
        "|---|---|---|---|---|",
    ]
    for name, ours, theirs, note in rows:
        ratio = f"{theirs / ours:.1f}x" if theirs else "n/a"
        theirs_s = f"{theirs:.3f}" if theirs else "not run"
        lines.append(f"| {name} | {ours:.4f} | {theirs_s} | {ratio} | {note} |")
    lines.append("")
    lines.append(
        "Peak memory of CLV (12 periods, tracemalloc): "
        + "; ".join(f"{n:,}: {p / 2**20:.0f} MiB ({p / n:.0f} B/customer)" for n, p in mem)
    )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
