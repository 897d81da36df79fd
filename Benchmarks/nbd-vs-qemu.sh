#!/usr/bin/env bash
# Issue #6's benchmark in one command: our data-path daemon (sm-tapdisk) against qemu-nbd
# (--cache=none --aio=io_uring; vpc on the same VHD, qcow2 on the same data), plus a
# depth-30 VHD chain against depth 1, all through fio --ioengine=nbd, and raw fio on the same
# data as the disk's ceiling. Servers and fio run on separate CPUs (--pin none to not place
# them). The matrix, the image preparation and the summary are in nbd_vs_qemu.py.
# usage: Benchmarks/nbd-vs-qemu.sh [WORKDIR] [ROUNDS] [RUNTIME] [nbd_vs_qemu.py options...]
#   e.g. Benchmarks/nbd-vs-qemu.sh bench-results/nbd 3 5
#        Benchmarks/nbd-vs-qemu.sh bench-results/nbd 3 5 --jobs randread-4k-qd32,randwrite-4k-empty-qd32
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-bench-results/nbd}; rounds=${2:-3}; runtime=${3:-5}
shift $(( $# < 3 ? $# : 3 ))
scratch=${SCRATCH:-.build}
swift build -c release --scratch-path "$scratch" --product sm-tapdisk --product sm-cli >/dev/null
exec python3 Benchmarks/nbd_vs_qemu.py "$work" "$rounds" "$runtime" --bin "$PWD/$scratch/release" "$@"
