#!/usr/bin/env bash
# The scale benchmark on a lent many-core machine (issue 12), in one run of under 240 s.
#
# Part 1: summarize_rfm (plain and distinct days), TransactionLog.summarize and
#   rfm_summary on ROWS rows (default 10M), on 1, 2 and all cores, custrel with its
#   worker processes and with threads only, against polars and duckdb.
# Part 2: summarize (and plain summarize_rfm) of BIG_ROWS rows (default 100M, 10M
#   customers) against polars group_by, on all cores (the issue's target: within 1.5x).
#
# Writes the markdown to "$OUT/scale_16core.md" (and the runs' logs next to it). Needs no
# network: python (the repo's .venv, polars, duckdb and pyarrow installed) is $PYTHON or
# `python`. Every part has a deadline (bench_scale.py --deadline skips what would start
# late and says so in the table) and a hard timeout, so the script ends in time even if
# the machine is slower than expected. Rehearse small:
#   OUT=/tmp/scale ROWS=200000 BIG_ROWS=400000 bash benchmarks/device_scale.sh
set -u
OUT=${OUT:?set OUT to the folder for the results}
PY=${PYTHON:-python}
ROWS=${ROWS:-10000000}
BIG_ROWS=${BIG_ROWS:-100000000}
BUDGET=${BUDGET:-230}
cd "$(dirname "$0")/.." || exit 1
mkdir -p "$OUT"
md="$OUT/scale_16core.md"
start=$(date +%s)
elapsed() { echo $(( $(date +%s) - start )); }
{
    echo "## The summaries on $(nproc) cores (benchmarks/device_scale.sh)"
    echo
    echo "Machine: $(nproc) usable cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo);"
    echo "$(${PY} -c 'import sys, numpy, polars, duckdb; print(f"Python {sys.version.split()[0]}, numpy {numpy.__version__}, polars {polars.__version__}, duckdb {duckdb.__version__}")' 2>&1)."
    echo
} > "$md"

# part 1: about 55% of the budget
part1=$(( BUDGET * 55 / 100 ))
timeout -k 5 $(( part1 + 15 )) "$PY" benchmarks/bench_scale.py --rows "$ROWS" \
    --threads 1,2,all --repeat 2 --engines custrel,custrel-threads,custrel-processes,polars,duckdb \
    --deadline "$part1" --title "### Part 1: $ROWS rows" --output "$md" \
    > "$OUT/scale_part1.log" 2>&1
status=$?
[ $status -eq 0 ] || echo "Part 1 ended with status $status after $(elapsed) s (log: scale_part1.log)." >> "$md"

# part 2: what is left
left=$(( BUDGET - $(elapsed) - 10 ))
if [ $left -gt 30 ]; then
    timeout -k 5 $(( left + 5 )) "$PY" benchmarks/bench_scale.py --rows "$BIG_ROWS" \
        --threads all --repeat 2 --engines custrel,polars --cases plain,summarize \
        --deadline $(( left - 5 )) --title "### Part 2: $BIG_ROWS rows on all cores" \
        --output "$md" > "$OUT/scale_part2.log" 2>&1
    status=$?
    [ $status -eq 0 ] || echo "Part 2 ended with status $status after $(elapsed) s (log: scale_part2.log)." >> "$md"
else
    echo "Part 2 skipped: only $left s left." >> "$md"
fi
echo >> "$md"
echo "device_scale.sh took $(elapsed) s." >> "$md"
cat "$md"
