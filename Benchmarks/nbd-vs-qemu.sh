#!/usr/bin/env bash
# One command: our data-path daemon (sm-tapdisk) against qemu-nbd serving the same VHD,
# measured by sm-bench's compare mode through fio's NBD job options (libnbd clients).
# Two identical copies of one image, so both servers can be written to.
# usage: Benchmarks/nbd-vs-qemu.sh [WORKDIR] [ROUNDS] [RUNTIME] [JOB OPTIONS...]
#   default job: --rw=randread --bs=4k --iodepth=32
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(readlink -m "${1:-bench-results/nbd}"); rounds=${2:-3}; runtime=${3:-5}
shift $(( $# < 3 ? $# : 3 ))
job=("$@"); [ ${#job[@]} -gt 0 ] || job=(--rw=randread --bs=4k --iodepth=32)
swift build -c release --product sm-bench --product sm-tapdisk --product sm-cli >/dev/null
bin=$PWD/.build/release
export SM_REGISTRY=$work/registry.json SM_LOCK_DIR=$work/locks

rm -rf "$work"; mkdir -p "$work/sr"
fio --name=fill --filename="$work/raw.img" --size=1g --rw=write --bs=1M --direct=1 --ioengine=io_uring >/dev/null
sr=$("$bin/sm-cli" sr-create type=file device-config:location="$work/sr" name-label=nbd-bench)
vdi=$("$bin/sm-cli" vdi-create sr-uuid="$sr" name-label=disk virtual-size=1GiB)
"$bin/sm-cli" vdi-import uuid="$vdi" filename="$work/raw.img" format=raw
cp --sparse=always "$work/sr/$sr/$vdi.vhd" "$work/ours.vhd"
cp --sparse=always "$work/sr/$sr/$vdi.vhd" "$work/qemu.vhd"

pids=()
stop() { for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done; }
trap stop EXIT
"$bin/sm-tapdisk" serve --socket "$work/ours.sock" --export disk "$work/ours.vhd" >"$work/ours.log" 2>&1 &
pids+=($!)
qemu-nbd -f vpc --cache=none --aio=io_uring --socket="$work/qemu.sock" --persistent --shared=8 "$work/qemu.vhd" >"$work/qemu.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -S "$work/ours.sock" ] && [ -S "$work/qemu.sock" ] && break; sleep 0.05; done

# qemu-nbd first: the ratio column then reads "ours / qemu-nbd".
"$bin/sm-bench" --compare="nbd+unix:///?socket=$work/qemu.sock,nbd+unix:///disk?socket=$work/ours.sock" \
    --rounds="$rounds" --name=nbd --runtime="$runtime" --time_based --ramp_time=1 "${job[@]}"
