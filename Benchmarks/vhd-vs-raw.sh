#!/usr/bin/env bash
# Our VHD read/write path against raw fio on the same data, in the same run (issue: VHD).
# One 1 GiB data set, three targets, alternating order every round:
#   raw:     the raw file, driven by fio --ioengine=io_uring --direct=1
#   vhd:     a fully allocated dynamic VHD of ours holding the same data (image:PATH, in process)
#   chain30: a depth-30 chain over that data (29 snapshots; all data in the bottom layer)
# usage: Benchmarks/vhd-vs-raw.sh [WORKDIR] [ROUNDS] [RUNTIME]
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(readlink -m "${1:-bench-results/vhd}")
rounds=${2:-3}
runtime=${3:-5}
swift build -c release --product sm-bench --product sm-cli >/dev/null
bench=$PWD/.build/release/sm-bench
cli=$PWD/.build/release/sm-cli
export SM_REGISTRY=$work/registry.json SM_LOCK_DIR=$work/locks

# Made anew each run: the write jobs allocate in the chain's leaf and would change what
# later reads measure.
rm -rf "$work"; mkdir -p "$work/sr"
fio --name=fill --filename="$work/raw.img" --size=1g --rw=write --bs=1M --direct=1 --ioengine=io_uring >/dev/null
sr=$($cli sr-create type=file device-config:location="$work/sr" name-label=bench)
vhd=$($cli vdi-create sr-uuid="$sr" name-label=flat virtual-size=1GiB)
deep=$($cli vdi-create sr-uuid="$sr" name-label=deep virtual-size=1GiB)
$cli vdi-import uuid="$vhd" filename="$work/raw.img" format=raw
$cli vdi-import uuid="$deep" filename="$work/raw.img" format=raw
for _ in $(seq 29); do $cli vdi-snapshot uuid="$deep" >/dev/null; done
echo "$work/sr/$sr/$vhd.vhd" > "$work/vhd.path"
echo "$work/sr/$sr/$deep.vhd" > "$work/chain30.path"
vhd=$(cat "$work/vhd.path"); chain=$(cat "$work/chain30.path")

summary() { python3 -c '
import json,sys
t=sys.stdin.read(); d=json.loads(t[t.index("{"):]); j=d["jobs"][0]
r=j["read"]; w=j["write"]
io=r["iops"]+w["iops"]; bw=r["bw_bytes"]+w["bw_bytes"]
p99=max(r["clat_ns"].get("percentile",{}).get("99.000000",0), w["clat_ns"].get("percentile",{}).get("99.000000",0))
print(f"{io:.0f} {bw/2**20:.1f} {p99/1000:.0f}")'; }

common="--size=1g --direct=1 --runtime=$runtime --time_based --ramp_time=1 --output-format=json"
# Reads first, on the pristine chain; then writes (overwrites in the VHD, allocations in the
# chain's empty leaf).
specs=("--rw=randread --bs=4k --iodepth=32" "--rw=read --bs=1M --iodepth=8" "--rw=randwrite --bs=4k --iodepth=32" "--rw=write --bs=1M --iodepth=8")
for spec in "${specs[@]}"; do
  for round in $(seq 1 "$rounds"); do
    declare -A out=()
    order=(raw vhd chain30); [ $((round % 2)) -eq 0 ] && order=(chain30 vhd raw)
    for t in "${order[@]}"; do
      case $t in
        raw) out[$t]=$(fio --name=j --filename="$work/raw.img" $common $spec --ioengine=io_uring --norandommap=1 2>/dev/null | summary) ;;
        vhd) out[$t]=$($bench --name=j --filename="image:$vhd" $common $spec 2>/dev/null | summary) ;;
        chain30) out[$t]=$($bench --name=j --filename="image:$chain" $common $spec 2>/dev/null | summary) ;;
      esac
    done
    python3 -c "
raw,vhd,ch=[list(map(float,s.split())) for s in ('${out[raw]}','${out[vhd]}','${out[chain30]}')]
print(f'$spec round $round: raw fio {raw[0]:.0f} IOPS {raw[1]:.0f} MiB/s p99 {raw[2]:.0f}us | vhd {vhd[0]:.0f} IOPS p99 {vhd[2]:.0f}us | chain30 {ch[0]:.0f} IOPS p99 {ch[2]:.0f}us | vhd/raw {vhd[0]/raw[0]:.2f} chain30/vhd {ch[0]/vhd[0]:.2f}')"
  done
done
