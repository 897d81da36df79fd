#!/usr/bin/env bash
# Coalesce throughput against fio and qemu-img commit, in the same run (issue #5).
#
# Per case and round, three measurements in alternating order, all O_DIRECT on this filesystem:
#   ours: `sm-cli sr-gc` coalescing a hidden 4 GiB VHD holding 1 GiB into its hidden parent
#         (chain built with sm-cli: base <- mid (1 GiB written) <- {leaf, snapshot}); the
#         figure is 1 GiB / the seconds sr-gc reports for the merge (space check, copy,
#         relink, unlink, metadata);
#   fio:  one fio run reading 1 GiB from one file while writing 1 GiB to another, with the
#         copy's request size and depth; 1 GiB / the slower job's runtime;
#   qemu: `qemu-img commit -t none` of an equivalent qcow2 chain (4 GiB, 1 GiB in the top),
#         plain (it empties the top afterwards) and with -d (it keeps the top).
# Cases: `new` (the parent holds nothing where the child wrote: the merge allocates blocks,
# fio writes a fresh file) and `overwrite` (the parent holds data there too: fio overwrites
# an existing file). Also tried once: `qemu-img commit -f vpc` on our VHD chain.
#
# usage: Benchmarks/coalesce-vs-qemu.sh [WORKDIR] [ROUNDS] [CASES]
#   SCRATCH=path   swift scratch path (default /work/main/.build-coal)
#   FIO_BS, FIO_QD fio's request size and depth (default: the coalesce's, 8m and 4)
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(readlink -m "${1:-bench-results/coalesce}")
rounds=${2:-5}
cases=${3:-"new overwrite"}
scratch=${SCRATCH:-$PWD/.build-coal}
fio_bs=${FIO_BS:-8m}
fio_qd=${FIO_QD:-4}
swift build -c release --scratch-path "$scratch" --product sm-cli >/dev/null
cli=$scratch/release/sm-cli
# No background collector or blank refill racing the timed run.
export SM_REGISTRY=$work/registry.json SM_LOCK_DIR=$work/locks SM_GC_KICK=none SM_GC_WORKER=/bin/true

rm -rf "$work"; mkdir -p "$work"
gib=$((1 << 30))
# The data: 1 GiB of random bytes at [1 GiB, 2 GiB) of a sparse 4 GiB raw file (vdi-import
# skips holes and zeros, so only that range is written).
head -c $gib /dev/urandom > "$work/data.bin"
truncate -s 4G "$work/child.raw"
dd if="$work/data.bin" of="$work/child.raw" bs=4M seek=256 conv=notrunc status=none
cp "$work/data.bin" "$work/fio-src"

now() { date +%s.%N; }
# The filesystem may discard freed space (mount -o discard) in its next journal commit: a
# setup's or a previous run's deletions are pushed out before anything is timed.
settle() { sync; sleep 1; }
mibps() { python3 -c "print(f'{$gib / 2**20 / ($1):.0f}')"; }

# ours: prints the seconds sr-gc reports for the merge.
ours() {
  local kind=$1 dir=$work/sr-$RANDOM
  mkdir -p "$dir"
  local sr vdi snap
  sr=$($cli sr-create type=file device-config:location="$dir" name-label=bench)
  vdi=$($cli vdi-create sr-uuid="$sr" name-label=v virtual-size=4GiB)
  [ "$kind" = overwrite ] && $cli vdi-import uuid="$vdi" filename="$work/child.raw" format=raw >/dev/null
  snap=$($cli vdi-snapshot uuid="$vdi")          # base: the parent
  $cli vdi-import uuid="$vdi" filename="$work/child.raw" format=raw >/dev/null
  $cli vdi-snapshot uuid="$vdi" >/dev/null       # mid: holds the 1 GiB; keeps two children
  $cli vdi-destroy uuid="$snap"                  # base now has one child: mid coalesces into it
  settle
  local out
  out=$($cli sr-gc uuid="$sr" --json)
  python3 -c "
import json,sys
d=json.loads('''$out''')
assert d['coalesced'] and d['bytes-copied']==$gib, d
print(d['seconds'])"
  $cli sr-forget uuid="$sr" >/dev/null
  rm -rf "$dir"
}

fio_copy() {
  local kind=$1
  [ "$kind" = new ] && rm -f "$work/fio-dst"
  [ "$kind" = overwrite ] && [ ! -e "$work/fio-dst" ] && cp "$work/data.bin" "$work/fio-dst"
  settle
  fio --output-format=json --direct=1 --ioengine=io_uring --bs="$fio_bs" --iodepth="$fio_qd" --size=1g \
      --name=read --rw=read --filename="$work/fio-src" \
      --name=write --rw=write --filename="$work/fio-dst" 2>/dev/null | python3 -c '
import json,sys
t=sys.stdin.read(); d=json.loads(t[t.index("{"):])
print(max(j["job_runtime"] for j in d["jobs"]) / 1000)'
}

# qemu-img commit: plain (it then empties the top image, as our coalesce deletes the merged
# one), or with the extra flags given (-d keeps the top: less work than ours).
qemu_commit() {
  local kind=$1 base=$work/base.qcow2 top=$work/top.qcow2
  shift
  rm -f "$base" "$top"
  qemu-img create -q -f qcow2 "$base" 4G
  [ "$kind" = overwrite ] && qemu-io -f qcow2 -t none -c "write -q -P 0x11 1G 1G" "$base" >/dev/null
  qemu-img create -q -f qcow2 -b "$base" -F qcow2 "$top"
  qemu-io -f qcow2 -t none -c "write -q -P 0x22 1G 1G" "$top" >/dev/null
  local t0 t1
  settle
  t0=$(now); qemu-img commit -q -t none "$@" "$top"; t1=$(now)
  python3 -c "print($t1 - $t0)"
}

# qemu's vpc driver and a differencing VHD: tried once, reported as is.
vpc_try() {
  local dir=$work/sr-vpc sr vdi mid
  mkdir -p "$dir"
  sr=$($cli sr-create type=file device-config:location="$dir" name-label=vpc)
  vdi=$($cli vdi-create sr-uuid="$sr" name-label=v virtual-size=4GiB)
  $cli vdi-snapshot uuid="$vdi" >/dev/null
  $cli vdi-import uuid="$vdi" filename="$work/child.raw" format=raw >/dev/null
  local leaf=$dir/$sr/$vdi.vhd
  echo "qemu-img commit -f vpc on our differencing VHD:"
  qemu-img commit -q -t none -d -f vpc "$leaf" 2>&1 | sed 's/^/  /' || true
  $cli sr-forget uuid="$sr" >/dev/null
  rm -rf "$dir"
}

median() { python3 -c "import statistics,sys; v=[float(x) for x in sys.argv[1:]]; print(f'{statistics.median(v):.0f} ({min(v):.0f}-{max(v):.0f})')" "$@"; }
median2() { python3 -c "import statistics,sys; v=[float(x) for x in sys.argv[1:]]; print(f'{statistics.median(v):.2f} ({min(v):.2f}-{max(v):.2f})')" "$@"; }

echo "$(date -u +%FT%TZ) $(uname -r), load: $(cut -d' ' -f1-3 /proc/loadavg), fio bs=$fio_bs iodepth=$fio_qd"
for kind in $cases; do
  o=(); f=(); q=(); d=(); rf=(); rq=(); rd=()
  for round in $(seq 1 "$rounds"); do
    order=(ours fio qemu qemud); [ $((round % 2)) -eq 0 ] && order=(qemud qemu fio ours)
    declare -A s=()
    for t in "${order[@]}"; do
      case $t in
        ours) s[$t]=$(ours "$kind") ;;
        fio) s[$t]=$(fio_copy "$kind") ;;
        qemu) s[$t]=$(qemu_commit "$kind") ;;
        qemud) s[$t]=$(qemu_commit "$kind" -d) ;;
      esac
    done
    mo=$(mibps "${s[ours]}"); mf=$(mibps "${s[fio]}"); mq=$(mibps "${s[qemu]}"); md=$(mibps "${s[qemud]}")
    ratio() { python3 -c "print(f'{$1 / $2:.2f}')"; }
    echo "$kind round $round: ours $mo MiB/s, fio read+write $mf, qemu-img commit $mq, commit -d $md;" \
         "ours/fio $(ratio "$mo" "$mf"), ours/commit $(ratio "$mo" "$mq"), ours/commit -d $(ratio "$mo" "$md")"
    o+=("$mo"); f+=("$mf"); q+=("$mq"); d+=("$md")
    rf+=("$(ratio "$mo" "$mf")"); rq+=("$(ratio "$mo" "$mq")"); rd+=("$(ratio "$mo" "$md")")
  done
  echo "$kind medians (min-max), MiB/s: ours $(median "${o[@]}"), fio $(median "${f[@]}"), qemu-img commit $(median "${q[@]}"), commit -d $(median "${d[@]}")"
  echo "$kind ratios, median (min-max): ours/fio $(median2 "${rf[@]}"), ours/commit $(median2 "${rq[@]}"), ours/commit -d $(median2 "${rd[@]}")"
done
vpc_try
