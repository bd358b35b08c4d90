"""Benchmark: text customer ids into codes (``TransactionLog.from_arrays``) against pandas and polars.

The id normaliser gives every row the code of its id among the sorted
distinct ids. For text ids it packs the characters into 64-bit words and
sorts integers (``custrel._ids._packed_text_codes``), where numpy's
``unique`` compares 32-bit code points. Timed, best of ``--repeat``, on the
same ids:

* custrel: ``TransactionLog.from_arrays`` of the ids (and integer times), and
  the id factorisation alone (``custrel._ids.normalize_ids``), with ``numpy.unique``
  on the fixed-width array as the way of the last release;
* pandas: ``pandas.Series(ids).factorize(sort=True)`` (a hash table, then
  the distinct ids sorted), the nearest peer to the same result;
* polars: ``Series.rank("dense")`` of a ``String`` series (what custrel's
  polars CSV engine runs), its build from the list included.

Three id forms: ``C0001234`` (8 characters, one word), ``CUST-000001234``
(14, two words sharing a prefix: one key) and 32 hexadecimal digits (four
words varying over more than 64 bits: sorted word by word). Each as a Python
list, a numpy ``str`` array and a pandas object column (``to_numpy()``).

Usage::

    python benchmarks/bench_ids.py [--rows N] [--customers K] [--repeat R] [--output FILE]
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections.abc import Callable
from typing import Any

import numpy as np

FORMS = {
    "C0001234": lambda i, rng: f"C{i:07d}",
    "CUST-000001234": lambda i, rng: f"CUST-{i:09d}",
    "32 hex digits": lambda i, rng: f"{int(rng.integers(0, 2**63)):016x}{i:016x}",
}


def best_of(fn: Callable[[], Any], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=5_000_000)
    ap.add_argument("--customers", type=int, default=500_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--output", default=None, help="append the markdown to this file")
    args = ap.parse_args(argv)

    import pandas as pd
    import polars as pl

    from custrel import TransactionLog, _ids

    n, k = args.rows, args.customers
    rng = np.random.default_rng(0)
    pick = rng.integers(0, k, n)
    times = np.arange(n, dtype=np.int64) % 1000
    lines = [
        f"### Text ids into codes: {n:,} rows, {k:,} customers ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})",
        "",
        (
            f"{os.cpu_count()} cores ({platform.machine()}), Python {platform.python_version()}, "
            f"numpy {np.__version__}, pandas {pd.__version__}, polars {pl.__version__}; "
            f"best of {args.repeat}; seconds."
        ),
        "",
        (
            "| ids | given as | custrel from_arrays | custrel ids alone | numpy.unique (last release) "
            "| pandas Series.factorize(sort=True) | polars rank('dense') | pandas / custrel ids |"
        ),
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    print("\n".join(lines), flush=True)
    for label, make in FORMS.items():
        pool = [make(i, rng) for i in range(k)]
        as_array = np.array(pool)[pick]
        # one str object per row, as read from a file (rows that shared a pool's objects made
        # every reader, pandas' too, wait on memory: 3x slower for custrel and pandas)
        as_list = as_array.tolist()
        as_object = pd.Series(as_list, dtype=object).to_numpy()
        for given, ids in (
            ("list", as_list),
            ("numpy str", as_array),
            ("pandas object", as_object),
        ):
            build = best_of(
                lambda ids=ids: TransactionLog.from_arrays(customer_id=ids, time=times), args.repeat
            )
            alone = best_of(lambda ids=ids: _ids.normalize_ids(ids), args.repeat)
            old = (
                best_of(lambda a=as_array: np.unique(a, return_inverse=True), 1)
                if given == "numpy str"
                else None
            )
            pdf = best_of(lambda ids=ids: pd.Series(ids).factorize(sort=True), args.repeat)
            pol = best_of(
                lambda ids=ids: pl.Series(ids, dtype=pl.String).rank("dense"), args.repeat
            )
            codes, labels, _ = _ids.normalize_ids(ids)
            p_codes, p_labels = pd.Series(ids).factorize(sort=True)
            assert np.array_equal(codes, p_codes)
            assert labels.tolist() == list(p_labels)
            row = (
                f"| {label} | {given} | {build:.3f} | {alone:.3f} | "
                f"{'-' if old is None else f'{old:.3f}'} | {pdf:.3f} | {pol:.3f} | {pdf / alone:.2f} |"
            )
            lines.append(row)
            print(row, flush=True)
    lines.append("")
    if args.output:
        with open(args.output, "a", encoding="utf-8") as fh:
            fh.write("\n" + "\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
