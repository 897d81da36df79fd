#!/usr/bin/env bash
# fio through our daemon on an NFS-backed VHD vs the same VHD on a local disk, with nfs-cp's raw
# NFSv3 throughput as the limit, in one run on one nfs-ganesha (scripts/nfs-server.sh, loopback).
#
#   Benchmarks/nfs-vs-local.sh [WORKDIR] [SECONDS] [ROUNDS] [fio options...]
#       defaults: /tmp/nfs-bench, 10 s per fio run, 3 rounds, --rw=randwrite --bs=64k --iodepth=16
#
# Each round runs the job on the local VHD, then on the NFS one, then nfs-cp; the medians over
# the rounds are printed last. sm-tapdisk is the release build in $SCRATCH (default .build),
# built when missing: SCRATCH=/work/main/.build-nfs keeps it apart from other builds.
# Needs root (the server's namespaces), fio with its nbd engine, qemu-img and nfs-cp.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-/tmp/nfs-bench}; secs=${2:-10}; rounds=${3:-3}; shift $(( $# > 3 ? 3 : $# )) || true
job=("$@"); [ ${#job[@]} -gt 0 ] || job=(--rw=randwrite --bs=64k --iodepth=16)
port=${NFS_BENCH_PORT:-25490}
scratch=${SCRATCH:-$root/.build}
tapdisk=${TAPDISK:-$scratch/release/sm-tapdisk}
if [ ! -x "$tapdisk" ]; then
  (cd "$root" && swift build -c release --product sm-tapdisk --scratch-path "$scratch" >/dev/null)
fi
mkdir -p "$work"
"$root/scripts/nfs-server.sh" start "$work/server" "$port" >/dev/null
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  "$root/scripts/nfs-server.sh" stop "$work/server" 0
  rm -f "$work/raw.bin" "$work/local.vhd" "$work/server/export/disk.vhd" "$work/server/export/raw.bin"
}
trap cleanup EXIT
query="nfsport=$port&mountport=$((port + 1))"

qemu-img create -q -f vpc -o subformat=dynamic "$work/server/export/disk.vhd" 1G
qemu-img create -q -f vpc -o subformat=dynamic "$work/local.vhd" 1G

serve() {  # serve SOCKET FILE
  rm -f "$1"
  "$tapdisk" serve --socket "$1" --export vdi "$2" >"$1.log" 2>&1 & pids+=($!)
  for _ in $(seq 200); do [ -S "$1" ] && return 0; sleep 0.05; done
  echo "daemon did not start for $2: $(tail -3 "$1.log")" >&2; exit 1
}
serve "$work/nfs.sock" "nfs://127.0.0.1/export/disk.vhd?$query"
serve "$work/local.sock" "$work/local.vhd"

results=$work/results.txt
: >"$results"
run_fio() {  # run_fio NAME SOCKET: MiB/s (read + write); fio's nbd engine chats on stdout, so JSON to a file
  fio --name="$1" --ioengine=nbd --uri="nbd+unix:///vdi?socket=$2" --size=1G --time_based --runtime="$secs" \
      "${job[@]}" --output-format=json --output="$work/$1.json" >/dev/null
  python3 -c 'import json,sys; j=json.load(open(sys.argv[2]))["jobs"][0]
print("%s %.1f" % (sys.argv[1], (j["read"]["bw"] + j["write"]["bw"]) / 1024))' "$1" "$work/$1.json" | tee -a "$results"
}

# The limit: a raw sequential NFSv3 upload of 256 MiB with nfs-cp (libnfs's own loop, no VHD).
head -c $((256 << 20)) /dev/urandom >"$work/raw.bin"
run_nfs_cp() {
  rm -f "$work/server/export/raw.bin"
  local start end
  start=$(date +%s.%N)
  nfs-cp "$work/raw.bin" "nfs://127.0.0.1/export/raw.bin?$query" >/dev/null
  end=$(date +%s.%N)
  python3 -c "print('nfs-cp %.1f' % (256 / ($end - $start)))" | tee -a "$results"
}

echo "fio job: ${job[*]}, ${secs} s per run, ${rounds} rounds (MiB/s)"
for ((r = 1; r <= rounds; r++)); do
  run_fio local "$work/local.sock"
  run_fio nfs "$work/nfs.sock"
  run_nfs_cp
done
python3 - "$results" <<'EOF'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    name, value = line.split()
    runs.setdefault(name, []).append(float(value))
print("median MiB/s: " + ", ".join("%s %.1f" % (n, statistics.median(v)) for n, v in runs.items()))
EOF
