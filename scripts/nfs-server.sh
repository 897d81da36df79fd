#!/usr/bin/env bash
# A throw-away NFS server on loopback for the NFS SR's tests and benchmarks: nfs-ganesha
# (user space, VFS backend; no kernel nfsd) exporting DIR/export as /export over NFSv3 and
# NFSv4.0, TCP, listening on 127.0.0.1 only.
#
#   scripts/nfs-server.sh start DIR [PORT]   start (NFS on PORT, default 20490; MOUNT on PORT+1);
#                                            prints "PID PORT" of the server when it answers
#   scripts/nfs-server.sh stop DIR [GRACE]   stop the server recorded in DIR (no-op if stopped): SIGTERM,
#                                            SIGKILL after GRACE seconds (default 10; ganesha may take
#                                            ~6 s to exit while a client stays connected; 0: at once)
#   scripts/nfs-server.sh status DIR         exit 0 while it runs
#
# Why the namespaces: ganesha will not serve NFSv3 unless it can register with a portmapper,
# and Debian's rpcbind cannot be confined to loopback. So each server gets a private mount
# namespace with its own /run, and an rpcbind in an empty network namespace that ganesha
# reaches through /run/rpcbind.sock only. Nothing global is touched; servers on different
# ports coexist. Clients (libnfs) pass nfsport=/mountport= in the URL and need no portmapper.
# Needs root and the packages of scripts/install-deps.sh (nfs-ganesha, nfs-ganesha-vfs, rpcbind).
set -euo pipefail

self=$(readlink -f "${BASH_SOURCE[0]}")
fail() { echo "nfs-server.sh: $*" >&2; exit 1; }

# A pid is alive unless gone or a zombie (an init that reaps lazily keeps zombies around).
alive() {
  local state
  [ -n "${1:-}" ] || return 1
  state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [ -n "$state" ] && [ "$state" != Z ]
}

pid_of() { cat "$1" 2>/dev/null || true; }

# SIGTERM, then SIGKILL after $2 seconds (at once when 0).
stop_pid() {
  local pid=$1 i
  alive "$pid" || return 0
  [ "$2" = 0 ] && kill -KILL "$pid" 2>/dev/null
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < $2 * 20; i++)); do alive "$pid" || return 0; sleep 0.05; done
  kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do alive "$pid" || return 0; sleep 0.05; done
  fail "pid $pid survives SIGKILL"
}

fsal_dir() {
  local f
  for f in /usr/lib/*/ganesha/libfsalvfs.so /usr/lib64/ganesha/libfsalvfs.so; do
    [ -e "$f" ] && { dirname "$f"; return 0; }
  done
  return 1
}

write_config() {
  local dir=$1 port=$2
  cat > "$dir/ganesha.conf" <<EOF
NFS_CORE_PARAM {
    Bind_addr = 127.0.0.1;
    NFS_Port = $port;
    MNT_Port = $((port + 1));
    Protocols = 3, 4;
    Enable_NLM = false;      # would need rpc.statd
    Enable_RQUOTA = false;   # would bind port 875
    Enable_UDP = false;
    mount_path_pseudo = true;   # NFSv3 mounts /export too, as NFSv4 sees it
    Plugins_Dir = "$(fsal_dir)";
}
NFS_KRB5 { Active_krb5 = false; }
NFSv4 {
    Graceless = true;           # no 90 s grace period after each start
    RecoveryRoot = "$dir/recovery";
    Only_Numeric_Owners = true;
}
EXPORT {
    Export_Id = 1;
    Path = "$dir/export";
    Pseudo = "/export";
    Protocols = 3, 4;
    Transports = TCP;
    SecType = sys;
    Squash = No_Root_Squash;
    Access_Type = RW;
    Attr_Expiration_Time = 0;   # see changes made directly under DIR/export at once
    FSAL { Name = VFS; }
}
LOG { Default_Log_Level = EVENT; }
EOF
}

# Runs inside the private mount namespace: private /run, rpcbind without a network, then
# ganesha in the foreground under this very pid (exec), so the recorded pid is ganesha's.
run_inside() {
  local dir=$1 i rpcbind
  rpcbind=$(command -v rpcbind || echo /sbin/rpcbind)
  mount -t tmpfs -o mode=0755,size=16m nfs-server-run /run
  mkdir -p /run/rpcbind
  chown _rpc: /run/rpcbind 2>/dev/null || true
  unshare --net -- "$rpcbind" -f </dev/null >>"$dir/rpcbind.log" 2>&1 &
  echo $! > "$dir/rpcbind.pid"
  for ((i = 0; i < 200; i++)); do [ -S /run/rpcbind.sock ] && break; sleep 0.05; done
  [ -S /run/rpcbind.sock ] || { echo "rpcbind did not start" >&2; exit 1; }
  exec ganesha.nfsd -F -f "$dir/ganesha.conf" -L "$dir/ganesha.log" -p "$dir/ganesha.pid" -N NIV_EVENT
}

start() {
  local dir port launcher i pid
  [ "$(id -u)" = 0 ] || fail "must run as root (ganesha's VFS backend and the namespaces need it)"
  command -v ganesha.nfsd >/dev/null && fsal_dir >/dev/null \
    || fail "nfs-ganesha is not installed: run scripts/install-deps.sh"
  mkdir -p "$1"
  dir=$(readlink -f "$1")
  port=${2:-20490}
  case "$dir" in /run/*|/var/run/*|*' '*) fail "DIR must not be under /run nor contain spaces: $dir" ;; esac
  if alive "$(pid_of "$dir/ganesha.pid")"; then fail "a server already runs for $dir"; fi
  stop_pid "$(pid_of "$dir/rpcbind.pid")" 2   # a leftover of a crashed run
  mkdir -p "$dir/export" "$dir/recovery"
  chmod 0777 "$dir/export"
  write_config "$dir" "$port"
  echo "$port" > "$dir/port"
  rm -f "$dir/ganesha.pid"
  setsid unshare --mount --propagation private -- "$self" __inside "$dir" </dev/null >"$dir/launcher.log" 2>&1 &
  launcher=$!
  echo "$launcher" > "$dir/ganesha.pid"   # the launcher execs into ganesha: same pid
  # Ready when both the MOUNT and NFS services answer a real request.
  for ((i = 0; i < 300; i++)); do
    if ! alive "$launcher"; then
      tail -n 15 "$dir/launcher.log" "$dir/ganesha.log" >&2 2>/dev/null || true
      stop_pid "$(pid_of "$dir/rpcbind.pid")" 2
      fail "ganesha exited during startup (logs in $dir)"
    fi
    if nfs-ls "nfs://127.0.0.1/export?nfsport=$port&mountport=$((port + 1))" >/dev/null 2>&1; then
      echo "$launcher $port"
      return 0
    fi
    sleep 0.1
  done
  stop "$dir"
  fail "ganesha did not answer within 30 s (logs in $dir)"
}

stop() {
  local dir
  dir=$(readlink -f "$1")
  stop_pid "$(pid_of "$dir/ganesha.pid")" "${2:-10}"
  # At once: rpcbind may sit out SIGTERM (seen: 5 s every stop), and it keeps nothing worth
  # a clean exit (its registrations live in the namespace's private /run, gone with it).
  stop_pid "$(pid_of "$dir/rpcbind.pid")" 0
  rm -f "$dir/ganesha.pid" "$dir/rpcbind.pid"
}

case "${1:-}" in
  start) [ $# -ge 2 ] || fail "usage: start DIR [PORT]"; start "$2" "${3:-}" ;;
  stop) [ $# -ge 2 ] || fail "usage: stop DIR [GRACE]"; stop "$2" "${3:-10}" ;;
  status) [ $# -eq 2 ] || fail "usage: status DIR"; alive "$(pid_of "$(readlink -f "$2")/ganesha.pid")" ;;
  __inside) run_inside "$2" ;;
  *) sed -n '2,10p' "$self" >&2; exit 2 ;;
esac
