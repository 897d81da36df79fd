#!/usr/bin/env bash
# Installs the system packages the build, the tests and the benchmarks need (Debian 12).
# Runs apt-get only when something is missing, so repeated runs cost nothing.
set -euo pipefail

packages=(
  # libraries behind CShims/
  liburing-dev libaio-dev zlib1g-dev libnfs-dev libiscsi-dev libnbd-dev pkg-config
  # real peers the tests and benchmarks run against
  qemu-utils fio libvhdi-utils libnbd-bin nbdkit
  # NFS SR tests: nfs-ganesha on loopback (scripts/nfs-server.sh), libnfs's nfs-ls/nfs-cp
  nfs-ganesha nfs-ganesha-vfs rpcbind libnfs-utils
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing: ${missing[*]}"
as_root=()
[ "$(id -u)" -eq 0 ] || as_root=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
