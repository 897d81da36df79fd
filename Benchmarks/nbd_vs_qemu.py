#!/usr/bin/env python3
"""Our data-path daemon (sm-tapdisk) against qemu-nbd, the whole matrix of issue #6 in one run.

Every target serves the same data: one raw file filled by fio, imported into a VHD of ours
(two byte-identical copies: one for sm-tapdisk, one for qemu-nbd's vpc driver), converted to
qcow2 for qemu-nbd's qcow2 driver, and imported again under 29 snapshots (a depth-30 chain,
all data in the bottom layer) for sm-tapdisk alone (qemu has no VHD chains). The client is
always `fio --ioengine=nbd` (libnbd). Writes into empty images use fresh copies of an empty
image for every run and a bounded io_size (each 4 KiB written at most once).

Each round runs every job once on every target; the order of the targets rotates every
round so a slow spell of the shared host does not always hit the same one. Ratios are taken
per round (same job, minutes apart), then summarised as median (min-max). `raw-fio` (fio's own
io_uring engine, O_DIRECT, on the raw file holding the same data) runs in every round as the
ceiling: what the disk gives without NBD or an image format.

Placement (--pin, default "auto"): every server runs on one CPU and every fio on another, the
same for all targets. Without it this VM's scheduler tends to put the client and the server on
the same vCPU, where they take turns instead of overlapping, and the result measures that
packing more than the server (see BENCHMARKS.md). "auto" puts the servers on the CPU that
takes the disk's interrupts and the client on another; "none" leaves placement to the kernel;
"S:C" names the CPUs.

usage: nbd_vs_qemu.py WORKDIR ROUNDS RUNTIME [--size-gib N] [--jobs a,b] [--poll-us N] [--pin P] [--bin DIR]
"""
import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time

PLACEMENT = {"server": [], "client": []}  # taskset prefixes, set once from --pin

QEMU_NBD = ["qemu-nbd", "--cache=none", "--aio=io_uring", "--persistent", "--shared=8", "-t"]


def sh(*cmd, **kw):
    return subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True, **kw).stdout.strip()


class Server:
    """One NBD server process on a Unix socket; stopped by its PID."""

    def __init__(self, name, argv, socket, export):
        self.name, self.socket = name, socket
        if os.path.exists(socket):
            os.unlink(socket)
        self.log = open(socket + ".log", "w")
        self.proc = subprocess.Popen(PLACEMENT["server"] + argv, stdout=self.log, stderr=subprocess.STDOUT)
        self.uri = f"nbd+unix:///{export}?socket={socket}"
        for _ in range(200):
            if os.path.exists(socket):
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.025)
        raise SystemExit(f"{name} did not start: see {socket}.log")

    def cpu_seconds(self):
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def ours(name, work, image, poll_us, bin_dir, read_only=False):
    sock = f"{work}/{name}.sock"
    argv = [f"{bin_dir}/sm-tapdisk", "serve", "--socket", sock, "--export", "disk", image,
            "--control", f"{work}/{name}.ctl"]
    if poll_us:
        argv += ["--poll-us", str(poll_us)]
    if read_only:
        argv.append("--read-only")
    return Server(name, argv, sock, "disk")


def qemu(name, work, image, fmt):
    sock = f"{work}/{name}.sock"
    return Server(name, QEMU_NBD + ["-f", fmt, f"--socket={sock}", image], sock, "")


def fio(uri, spec, runtime, empty, raw_file=None):
    target = ([f"--filename={raw_file}", "--ioengine=io_uring", "--direct=1"] if raw_file
              else ["--ioengine=nbd", f"--uri={uri}"])
    cmd = PLACEMENT["client"] + ["fio", "--name=j", "--output-format=json"] + target + [
           f"--rw={spec['rw']}", f"--bs={spec['bs']}", f"--iodepth={spec['qd']}", "--randrepeat=0"]
    if empty:
        # Each 4 KiB at most once (fio's random map): every write lands on unwritten sectors.
        cmd += [f"--io_size={spec['io_size']}", f"--runtime={runtime * 3}"]
    else:
        cmd += ["--norandommap=1", "--time_based", f"--runtime={runtime}", "--ramp_time=1"]
    out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout
    job = json.loads(out[out.index("{"):])["jobs"][0]
    side = job["read"] if job["read"]["io_bytes"] > 0 else job["write"]
    pct = side["clat_ns"].get("percentile", {})
    return cmd, {"iops": side["iops"], "mib_s": side["bw_bytes"] / 2**20,
                 "p50_us": pct.get("50.000000", 0) / 1000, "p99_us": pct.get("99.000000", 0) / 1000,
                 "error": job.get("error", 0)}


def jobs_matrix(runtime):
    full = ["ours", "qemu-vpc", "qemu-qcow2", "raw-fio"]
    empty = ["ours-empty", "qemu-vpc-empty", "qemu-qcow2-empty"]
    jobs = []
    for qd in (1, 32, 128):
        jobs.append((f"randread-4k-qd{qd}", {"rw": "randread", "bs": "4k", "qd": qd}, full + ["ours-chain30"]))
    for qd in (1, 32, 128):
        jobs.append((f"randwrite-4k-qd{qd}", {"rw": "randwrite", "bs": "4k", "qd": qd}, full))
    jobs.append(("read-1m-qd8", {"rw": "read", "bs": "1M", "qd": 8}, full))
    jobs.append(("write-1m-qd8", {"rw": "write", "bs": "1M", "qd": 8}, full))
    for qd in (1, 32, 128):
        jobs.append((f"randwrite-4k-empty-qd{qd}",
                     {"rw": "randwrite", "bs": "4k", "qd": qd, "io_size": "32M"}, empty))
    return jobs


def prepare(work, size_gib, bin_dir):
    """The data set and its images; returns the paths by role."""
    cli = f"{bin_dir}/sm-cli"
    env = dict(os.environ, SM_REGISTRY=f"{work}/registry.json", SM_LOCK_DIR=f"{work}/locks")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(f"{work}/sr")
    raw = f"{work}/raw.img"
    sh("fio", "--name=fill", f"--filename={raw}", f"--size={size_gib}g", "--rw=write", "--bs=1M",
       "--iodepth=16", "--direct=1", "--ioengine=io_uring", "--output=/dev/null")
    sr = sh(cli, "sr-create", "type=file", f"device-config:location={work}/sr", "name-label=nbd-bench", env=env)
    size = f"virtual-size={size_gib}GiB"
    flat = sh(cli, "vdi-create", f"sr-uuid={sr}", "name-label=flat", size, env=env)
    deep = sh(cli, "vdi-create", f"sr-uuid={sr}", "name-label=deep", size, env=env)
    blank = sh(cli, "vdi-create", f"sr-uuid={sr}", "name-label=blank", size, env=env)
    for vdi in (flat, deep):
        sh(cli, "vdi-import", f"uuid={vdi}", f"filename={raw}", "format=raw", env=env)
    for _ in range(29):
        sh(cli, "vdi-snapshot", f"uuid={deep}", env=env)
    paths = {"ours": f"{work}/ours.vhd", "qemu-vpc": f"{work}/qemu.vhd", "qemu-qcow2": f"{work}/full.qcow2",
             "chain30": f"{work}/sr/{sr}/{deep}.vhd", "raw": raw, "empty-vhd": f"{work}/empty.vhd", "size": f"{size_gib}G"}
    for role in ("ours", "qemu-vpc"):
        shutil.copyfile(f"{work}/sr/{sr}/{flat}.vhd", paths[role])
    shutil.copyfile(f"{work}/sr/{sr}/{blank}.vhd", paths["empty-vhd"])
    sh("qemu-img", "convert", "-f", "raw", "-O", "qcow2", "-t", "none", raw, paths["qemu-qcow2"])
    for role in ("raw", "ours", "qemu-vpc", "qemu-qcow2", "chain30"):
        rewrite_in_place(paths[role])
    return paths


def rewrite_in_place(path):
    """Writes every block of `path` once more with its own bytes (O_DIRECT). A fresh copy sits
    on blocks this VM's discard-mounted disk gave back to the host, and the first write to
    each costs a host allocation: measured here, randwrite QD32 ran at half speed on a fresh
    copy. Done for every target's file, so none of them pays it during a run."""
    copy = path + ".rewrite"
    sh("dd", f"if={path}", f"of={copy}", "bs=1M", "iflag=direct", "status=none")
    sh("dd", f"if={copy}", f"of={path}", "bs=1M", "oflag=direct", "conv=notrunc", "status=none")
    os.unlink(copy)


def place(pin):
    """Sets where servers and clients run (see the module's docstring)."""
    if pin == "none":
        return
    if pin == "auto":
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) < 2:
            return
        server = disk_irq_cpu(cpus) or cpus[-1]
        client = next(c for c in cpus if c != server)
    else:
        server, client = (int(x) for x in pin.split(":"))
    PLACEMENT["server"] = ["taskset", "-c", str(server)]
    PLACEMENT["client"] = ["taskset", "-c", str(client)]
    print(f"placement: servers on CPU {server}, fio on CPU {client}", flush=True)


def disk_irq_cpu(cpus):
    """The CPU that has taken most interrupts of the disk's request queues (virtio-blk, NVMe)."""
    best, most = None, 0
    try:
        lines = open("/proc/interrupts").read().splitlines()
    except OSError:
        return None
    for line in lines[1:]:
        if not (("virtio" in line and "-req" in line) or "nvme" in line):
            continue
        counts = line.split()[1:1 + len(lines[0].split())]
        for i, n in enumerate(counts):
            if n.isdigit() and i in cpus and int(n) > most:
                best, most = i, int(n)
    return best


def empty_server(target, work, paths, poll_us, bin_dir):
    """A fresh empty image and its server, for one allocating run."""
    if target == "ours-empty":
        shutil.copyfile(paths["empty-vhd"], f"{work}/e-ours.vhd")
        return ours(target, work, f"{work}/e-ours.vhd", poll_us, bin_dir)
    if target == "qemu-vpc-empty":
        shutil.copyfile(paths["empty-vhd"], f"{work}/e-qemu.vhd")
        return qemu(target, work, f"{work}/e-qemu.vhd", "vpc")
    image = f"{work}/e.qcow2"
    if os.path.exists(image):
        os.unlink(image)
    sh("qemu-img", "create", "-q", "-f", "qcow2", image, paths["size"])
    return qemu(target, work, image, "qcow2")


def median_range(values):
    if not values:
        return "-"
    return f"{statistics.median(values):.2f} ({min(values):.2f}–{max(values):.2f})"


def summarise(records, jobs):
    by = {}
    for r in records:
        by.setdefault((r["job"], r["target"]), []).append(r)
    print("\n| job | target | IOPS median (min–max) | MiB/s | clat p50 / p99 µs (median) | server CPU % |")
    print("|---|---|---|---|---|---|")
    for name, _, targets in jobs:
        for t in targets:
            rs = by.get((name, t), [])
            if not rs:
                continue
            iops = [r["iops"] for r in rs]
            med = lambda k: statistics.median(r[k] for r in rs)
            cpu = "-" if t == "raw-fio" else f"{med('cpu_pct'):.0f}"
            print(f"| {name} | {t} | {statistics.median(iops):,.0f} ({min(iops):,.0f}–{max(iops):,.0f}) | "
                  f"{med('mib_s'):,.1f} | {med('p50_us'):,.0f} / {med('p99_us'):,.0f} | {cpu} |")
    print("\n| job | ours / qemu-nbd vpc | ours / qemu-nbd qcow2 | depth 30 / depth 1 | p99 ours / qemu vpc "
          "| ours / raw fio | qemu vpc / raw fio |")
    print("|---|---|---|---|---|---|---|")
    for name, _, targets in jobs:
        rounds = {}
        for r in records:
            if r["job"] == name:
                rounds.setdefault(r["round"], {})[r["target"]] = r
        ratio = lambda a, b, k="iops": [x[a][k] / x[b][k] for x in rounds.values() if a in x and b in x and x[b][k]]
        mine = targets[0]
        print(f"| {name} | {median_range(ratio(mine, targets[1]))} | {median_range(ratio(mine, targets[2]))} | "
              f"{median_range(ratio('ours-chain30', 'ours')) if 'ours-chain30' in targets else '-'} | "
              f"{median_range(ratio(mine, targets[1], 'p99_us'))} | "
              f"{median_range(ratio(mine, 'raw-fio'))} | {median_range(ratio(targets[1], 'raw-fio'))} |")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("work")
    p.add_argument("rounds", type=int)
    p.add_argument("runtime", type=int)
    p.add_argument("--size-gib", type=int, default=1)
    p.add_argument("--jobs", default="", help="comma-separated job names (default: all)")
    p.add_argument("--poll-us", type=int, default=0)
    p.add_argument("--pin", default="auto", help='"auto", "none" or SERVER_CPU:CLIENT_CPU')
    p.add_argument("--bin", required=True)
    p.add_argument("--reuse", action="store_true", help="keep WORKDIR's images from a previous run")
    a = p.parse_args()
    work = os.path.abspath(a.work)
    place(a.pin)
    jobs = jobs_matrix(a.runtime)
    if a.jobs:
        wanted = set(a.jobs.split(","))
        jobs = [j for j in jobs if j[0] in wanted]
    if a.reuse and os.path.exists(f"{work}/paths.json"):
        paths = json.load(open(f"{work}/paths.json"))
        paths.setdefault("raw", f"{work}/raw.img")
    else:
        paths = prepare(work, a.size_gib, a.bin)
        json.dump(paths, open(f"{work}/paths.json", "w"))
        # Let the host write back the freshly made images before the first measurement.
        os.sync()
        time.sleep(5)
    servers = {}
    try:
        servers["ours"] = ours("ours", work, paths["ours"], a.poll_us, a.bin)
        servers["ours-chain30"] = ours("ours-chain30", work, paths["chain30"], a.poll_us, a.bin, read_only=True)
        servers["qemu-vpc"] = qemu("qemu-vpc", work, paths["qemu-vpc"], "vpc")
        servers["qemu-qcow2"] = qemu("qemu-qcow2", work, paths["qemu-qcow2"], "qcow2")
        results = open(f"{work}/results.jsonl", "a")
        records = []
        for rnd in range(1, a.rounds + 1):
            print(f"round {rnd}: loadavg {open('/proc/loadavg').read().split()[:3]}", flush=True)
            for name, spec, targets in jobs:
                shift = (rnd - 1) % len(targets)
                for t in targets[shift:] + targets[:shift]:
                    empty = t.endswith("-empty")
                    if t == "raw-fio":
                        cmd, m = fio(None, spec, a.runtime, False, raw_file=paths["raw"])
                        m["cpu_pct"], server_argv = 0, "-"
                    else:
                        server = empty_server(t, work, paths, a.poll_us, a.bin) if empty else servers[t]
                        try:
                            cpu0, t0 = server.cpu_seconds(), time.monotonic()
                            cmd, m = fio(server.uri, spec, a.runtime, empty)
                            m["cpu_pct"] = 100 * (server.cpu_seconds() - cpu0) / (time.monotonic() - t0)
                        finally:
                            if empty:
                                server.stop()
                        server_argv = " ".join(server.proc.args)
                    rec = dict(m, round=rnd, job=name, target=t, loadavg=open("/proc/loadavg").read().split()[0],
                               fio=" ".join(cmd), server=server_argv)
                    records.append(rec)
                    results.write(json.dumps(rec) + "\n")
                    results.flush()
                    print(f"  {name:26} {t:18} {m['iops']:>10,.0f} IOPS {m['mib_s']:>8,.1f} MiB/s "
                          f"p99 {m['p99_us']:>8,.0f} µs cpu {m['cpu_pct']:3.0f}%"
                          + (f" ERROR {m['error']}" if m["error"] else ""), flush=True)
        print(f"end: loadavg {open('/proc/loadavg').read().split()[:3]}")
        summarise(records, jobs)
    finally:
        for s in servers.values():
            s.stop()


if __name__ == "__main__":
    sys.exit(main())
