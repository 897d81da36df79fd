#!/usr/bin/env bash
# sm-bench and fio run the same job on the same raw file, alternating, and the IOPS and
# bandwidth ratios are printed per round. Both emit fio's JSON, so one parser reads both.
# usage: Benchmarks/sm-bench-vs-fio.sh [FILE] [ROUNDS] [RUNTIME]
set -euo pipefail
cd "$(dirname "$0")/.."
file=${1:-bench-results/agree.img}
rounds=${2:-3}
runtime=${3:-5}
mkdir -p "$(dirname "$file")"
swift build -c release --product sm-bench >/dev/null
bench=.build/release/sm-bench
[ -f "$file" ] || fio --name=fill --filename="$file" --size=1g --rw=write --bs=1M --direct=1 --ioengine=io_uring >/dev/null

jobs=(
  "--rw=randread --bs=4k --iodepth=32"
  "--rw=write --bs=1M --iodepth=8"
)
common="--filename=$file --size=1g --direct=1 --runtime=$runtime --time_based --ramp_time=1"
summary() { python3 -c '
import json,sys
d=json.load(sys.stdin); j=d["jobs"][0]
io=j["read"]["iops"]+j["write"]["iops"]; bw=j["read"]["bw_bytes"]+j["write"]["bw_bytes"]
print(f"{io:.0f} {bw:.0f}")'; }
for spec in "${jobs[@]}"; do
  for round in $(seq 1 "$rounds"); do
    run_ours() { ours=$($bench --name=j $common $spec --output-format=json 2>/dev/null | summary); }
    run_fio() { theirs=$(fio --name=j $common $spec --ioengine=io_uring --norandommap=1 --output-format=json 2>/dev/null | sed -n '/^{/,$p' | summary); }
    # Alternate who goes first, so warm-up and drift hit both alike.
    if [ $((round % 2)) -eq 1 ]; then run_ours; run_fio; else run_fio; run_ours; fi
    python3 -c "
o=list(map(float,'$ours'.split())); t=list(map(float,'$theirs'.split()))
print(f'$spec round $round: sm-bench {o[0]:.0f} IOPS {o[1]/2**20:.1f} MiB/s | fio {t[0]:.0f} IOPS {t[1]/2**20:.1f} MiB/s | ratio IOPS {o[0]/t[0]:.2f} BW {o[1]/t[1]:.2f}')"
  done
done
