#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""report.py - turn the raw data of one bench/run-all into docs/benchmarks.md
and its plot: medians and p95s, the ratios of the issue's targets (all from
the same run), and for each target whether it is met and by how much.  It
measures nothing; the hand-written analysis lives in bench/notes.md and is
copied in verbatim.

Usage: report.py RESULTS_DIR DOCS_DIR"""

import glob
import json
import math
import os
import platform
import re
import subprocess
import sys
from collections import defaultdict

COUNTS = [1, 10, 50, 100, 1000]


# ---- statistics ----

def pct(xs, p):
    """Nearest-rank percentile of a non-empty list (p in 0..100)."""
    s = sorted(xs)
    k = max(1, math.ceil(p / 100 * len(s)))
    return s[k - 1]


def med(xs):
    s = sorted(xs)
    n = len(s)
    if n == 0:
        return None
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def ms(usec):
    return None if usec is None else usec / 1000.0


def fmt(x, digits=2):
    if x is None:
        return "–"
    if x >= 100:
        return f"{x:.0f}"
    if x >= 10:
        return f"{x:.1f}"
    return f"{x:.{digits}f}"


def stat(xs_usec):
    """(median ms, p95 ms, n) of a list of microsecond values."""
    if not xs_usec:
        return (None, None, 0)
    return (ms(med(xs_usec)), ms(pct(xs_usec, 95)), len(xs_usec))


def cell(st):
    m, p, n = st
    return "–" if n == 0 else f"{fmt(m)} / {fmt(p)}"


# ---- raw data ----

def jsonl(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def writer_events(path):
    """set id -> event -> writer -> [(in, out), ...] (in order)."""
    ev = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    if not os.path.exists(path):
        return ev
    with open(path) as f:
        for line in f:
            s, e, w, t_in, t_out = line.split()
            ev[s][e][int(w)].append((int(t_in), int(t_out)))
    return ev


def stalls(path):
    """(list of (start, duration) usec, threshold usec, max usec)."""
    out, thr, mx = [], 200, None
    if not os.path.exists(path):
        return out, thr, mx
    with open(path) as f:
        for line in f:
            if line.startswith("#"):
                m = re.search(r"max_usec (\d+) threshold_usec (\d+)", line)
                mx, thr = int(m.group(1)), int(m.group(2))
            elif line.strip():
                a, b = line.split()
                out.append((int(a), int(b)))
    return out, thr, mx


def stall_per_cycle(stall_data, windows):
    """Longest write starting inside each window; the threshold when none
    was recorded (an upper bound)."""
    recs, thr, _ = stall_data
    res = []
    for t0, t1 in windows:
        inside = [d for (s, d) in recs if t0 <= s <= t1]
        res.append(max(inside) if inside else thr)
    return res


def provider_durations(log_path, provider, step):
    """The durations (usec) of one provider step, in log order."""
    pat = re.compile(rf"provider {re.escape(provider)}: {step}\(\d+ snapshots?\): OK \(([\d.]+) ms\)")
    out = []
    if not os.path.exists(log_path):
        return out
    with open(log_path) as f:
        for line in f:
            m = pat.search(line)
            if m:
                out.append(float(m.group(1)) * 1000)
    return out


def hyperfine(path):
    """name -> list of times in usec."""
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        data = json.load(f)
    return {r["command"]: [t * 1e6 for t in r["times"]] for r in data["results"]}


def stamped_cycles(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [tuple(int(x) for x in line.split()[1:3]) for line in f if line.strip()]


# ---- Shadowcopy ----

def sc_sets(results, name, n, log_name, provider):
    """Per successful set of N writers: freeze window, commit, overhead, cycle,
    full set, stall; plus how many sets failed."""
    d = f"{results}/{name}"
    cycles = jsonl(f"{d}/cycles-{n}.jsonl")
    ev = writer_events(f"{d}/writers-{n}.txt")
    ok = [c for c in cycles if c["rc"] == 0]
    r = defaultdict(list)
    r["failed"] = len(cycles) - len(ok)
    r["runs"] = len(cycles)
    windows = []
    for c in ok:
        e = ev.get(c["set"], {})
        fr = [v[0][0] for v in e.get("freeze", {}).values()]
        th = [v[0][1] for v in e.get("thaw", {}).values()]
        if len(fr) == n and len(th) == n:
            r["window"].append(max(th) - min(fr))
            r["freeze_spread"].append(max(fr) - min(fr))
        else:
            r["incomplete"].append(c["set"])
        r["cycle"].append(c["t_snapshot"] - c["t_prepared"])
        r["full"].append(c["t_complete"] - c["t_start"])
        windows.append((c["t_prepared"], c["t_snapshot"]))
    r["stall"] = stall_per_cycle(stalls(f"{d}/stall-{n}.txt"), windows)
    r["stall_max"] = stalls(f"{d}/stall-{n}.txt")[2]
    return r


def attach_commits(results, name, log_name, provider, per_n, counts):
    """The commit durations of the log, in order, matched to the successful
    sets in the order they ran (sets that failed have no commit line)."""
    commits = provider_durations(f"{results}/{name}/{log_name}", provider, "commit")
    i = 0
    for n in counts:
        r = per_n.get(n)
        if not r:
            continue
        k = r["runs"] - r["failed"]
        r["commit"] = commits[i:i + k]
        i += k
        if len(r["commit"]) == len(r["window"]):
            r["overhead"] = [w - c for w, c in zip(r["window"], r["commit"])]


def sc_abort(results, n, name="sc-btrfs"):
    """Veto (writer 0's Freeze answer) -> last Abort handled, per set."""
    d = f"{results}/{name}"
    ev = writer_events(f"{d}/writers-{n}.txt")
    out, reached = [], []
    for c in jsonl(f"{d}/abort-{n}.jsonl"):
        e = ev.get(c["set"], {})
        veto = e.get("freeze", {}).get(0)
        ab = [v[0][1] for v in e.get("abort", {}).values()]
        if veto and ab:
            out.append(max(ab) - veto[0][1])
            reached.append(len(ab))
    return out, reached


def sc_deadline(results):
    d = f"{results}/sc-deadline"
    if not os.path.exists(f"{d}/window-ms.txt"):
        return [], 0, 0
    window = int(open(f"{d}/window-ms.txt").read()) * 1000
    ev = writer_events(f"{d}/writers.txt")
    late, doubles = [], 0
    for c in jsonl(f"{d}/cycles.jsonl"):
        e = ev.get(c["set"], {})
        per = []
        for w, fr in e.get("freeze", {}).items():
            ab = e.get("abort", {}).get(w, [])
            if ab:
                per.append(ab[0][0] - (fr[0][0] + window))
                doubles += len(ab) > 1
        if per:
            late.append(max(per))
    return late, doubles, window


def rss(results):
    out = {}
    p = f"{results}/sc-btrfs/rss.txt"
    if os.path.exists(p):
        for line in open(p):
            parts = line.split()
            if len(parts) == 3:
                out[parts[0]] = (int(parts[1]), int(parts[2]))
    peak = None
    p = f"{results}/sc-btrfs/sc-btrfs-daemon-time.txt"
    if os.path.exists(p):
        m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", open(p).read())
        peak = int(m.group(1)) if m else None
    return out, peak


# ---- qemu-ga ----

def qga(results, kind, n):
    d = f"{results}/qga"
    cycles = [c for c in jsonl(f"{d}/{kind}-cycles-{n}.jsonl")]
    stamps = []
    p = f"{d}/{kind}-stamps-{n}.txt"
    if os.path.exists(p):
        stamps = [(l.split()[0], int(l.split()[1])) for l in open(p) if l.strip()]
    r = defaultdict(list)
    r["failed"] = sum(1 for c in cycles if c["rc"] != 0 or c["thaw_rc"] != 0)
    windows = []
    for c in cycles:
        if c["rc"] != 0:
            continue
        t0, t3 = c["t_start"], c["t_thawed"]
        inside = {k: t for k, t in stamps if t0 <= t <= t3}
        r["cycle"].append(t3 - t0)
        r["freeze_call"].append(c["t_frozen"] - t0)
        r["snapshot"].append(c["t_snapshot"] - c["t_frozen"])
        r["thaw_call"].append(t3 - c["t_snapshot"])
        if "freeze-first" in inside and "thaw-last" in inside:
            r["window"].append(inside["thaw-last"] - inside["freeze-first"])
        windows.append((t0, t3))
    r["stall"] = stall_per_cycle(stalls(f"{d}/{kind}-stall-{n}.txt"), windows)
    return r


# ---- the document ----

def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True).stdout.strip()
    except OSError:
        return ""


def machine():
    cpu = sh("lscpu | sed -n 's/^Model name: *//p' | head -1")
    mem = sh("free -g | awk '/^Mem/ {print $2}'")
    rows = [
        ("date of the run", open(os.path.join(RESULTS, "run.txt")).read().strip()
         if os.path.exists(os.path.join(RESULTS, "run.txt")) else sh("date -u '+%Y-%m-%d %H:%M UTC'")),
        ("machine", f"{cpu}, {os.cpu_count()} vCPUs, {mem} GiB RAM"),
        ("kernel", platform.release()),
        ("OS", "Debian " + sh("cat /etc/debian_version")),
        ("tree", sh("git -C '%s' rev-parse --short HEAD" % TREE) +
         (" + uncommitted changes" if sh("git -C '%s' status --porcelain -uno" % TREE) else "")),
        ("shadowcopyd", "release build (`meson setup --buildtype=release`)"),
        ("qemu-guest-agent", sh("dpkg-query -W -f '${Version}' qemu-guest-agent")),
        ("snapper", sh("dpkg-query -W -f '${Version}' snapper")),
        ("hyperfine", sh("dpkg-query -W -f '${Version}' hyperfine")),
        ("btrfs-progs / xfsprogs", sh("dpkg-query -W -f '${Version} ' btrfs-progs xfsprogs")),
    ]
    up = os.path.join(RESULTS, "uptime.txt")
    if os.path.exists(up):
        for line in open(up):
            when, _, text = line.partition(": ")
            rows.append((f"`uptime` {when} the run", text.strip()))
    load = os.path.join(RESULTS, "load.txt")
    if os.path.exists(load):
        rows.append(("load average (1/5/15 min) at each script's start",
                     "; ".join(" ".join(l.split()[:2]) for l in open(load) if l.strip())))
    return "\n".join(f"| {k} | {v} |" for k, v in rows)


def verdict(value, limit, lower_is_better=True):
    if value is None:
        return "not measured"
    ok = value <= limit if lower_is_better else value >= limit
    return "**met**" if ok else "**missed**"


TREE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = ""


def main():
    global RESULTS
    results, docs = sys.argv[1], sys.argv[2]
    RESULTS = results
    L = []
    w = L.append

    sc = {n: sc_sets(results, "sc-btrfs", n, "sc-btrfs-daemon.log", "btrfs") for n in COUNTS
          if os.path.exists(f"{results}/sc-btrfs/cycles-{n}.jsonl")}
    attach_commits(results, "sc-btrfs", "sc-btrfs-daemon.log", "btrfs", sc, COUNTS)
    p10 = {n: sc_sets(results, "sc-btrfs-p10", n, "sc-btrfs-p10-daemon.log", "btrfs") for n in COUNTS
           if os.path.exists(f"{results}/sc-btrfs-p10/cycles-{n}.jsonl")}
    attach_commits(results, "sc-btrfs-p10", "sc-btrfs-p10-daemon.log", "btrfs", p10, COUNTS)
    rf_counts = [n for n in COUNTS if os.path.exists(f"{results}/sc-reflink/cycles-{n}.jsonl")]
    rf = {n: sc_sets(results, "sc-reflink", n, "sc-reflink-daemon.log", "reflink-image")
          for n in rf_counts}
    attach_commits(results, "sc-reflink", "sc-reflink-daemon.log", "reflink-image", rf, rf_counts)
    qb = {n: qga(results, "btrfs", n) for n in COUNTS
          if os.path.exists(f"{results}/qga/btrfs-cycles-{n}.jsonl")}
    qx = {n: qga(results, "xfs", n) for n in COUNTS
          if os.path.exists(f"{results}/qga/xfs-cycles-{n}.jsonl")}
    ab = {n: sc_abort(results, n) for n in sc}
    ab10 = {n: sc_abort(results, n, "sc-btrfs-p10") for n in p10}
    late, doubles, window = sc_deadline(results)
    rs, peak = rss(results)
    hf_snap = hyperfine(f"{results}/snapper/hyperfine.json")
    hf_ff = hyperfine(f"{results}/fsfreeze/hyperfine.json")
    snap_cycles = jsonl(f"{results}/snapper/cycles-10.jsonl")
    snap_full = [c["t_complete"] - c["t_start"] for c in snap_cycles if c["rc"] == 0]
    snap_stall = stall_per_cycle(stalls(f"{results}/snapper/stall.txt"),
                                 stamped_cycles(f"{results}/snapper/cycles-snapper.txt"))
    ff_windows = stamped_cycles(f"{results}/fsfreeze/cycles.txt")
    ff_loop = [b - a for a, b in ff_windows]
    ff_stall = stall_per_cycle(stalls(f"{results}/fsfreeze/stall.txt"), ff_windows)

    w("# Benchmarks: Shadowcopy side by side with qemu-guest-agent, snapper and fsfreeze\n")
    w("Generated by `bench/run-all` (raw data in `build-bench/bench-results/`, the scripts and probes in "
      "`bench/`, see `bench/README.md`). Every number below comes from **one run**; cells are "
      "**median / p95 in milliseconds** over the runs counted in the `n` column (p95 is nearest-rank, "
      "so with 10 runs or fewer it is the maximum). The machine is shared with other engineers' builds "
      "and tests; `uptime` before and after the run and the load average at each script's start are "
      "below (the 1000-writer series and qemu-ga's 1000 hooks raise it themselves).\n")
    w("## Machine and versions\n")
    w("| | |\n|---|---|")
    w(machine() + "\n")

    w("## What is measured\n")
    w("- **Writers** are `bench/probe-writer` processes (one process per writer, and in a second series "
      "ten processes holding all the writers; zero-work handlers that "
      "only take timestamps). **qemu-ga's writers** are N no-op hook scripts run by Debian's stock "
      "`/etc/qemu/fsfreeze-hook` dispatcher; the first and last hook stamp the time.")
    w("- **Freeze window**: Freeze delivered to the first writer → Thaw handled by the last (for qemu-ga: "
      "first hook's `freeze` → last hook's `thaw`).")
    w("- **Cycle** (quiesce → snapshot → resume, requester's view): Shadowcopy's `do_snapshot_set` "
      "(PrepareForSnapshot, Freeze, provider commit, Thaw, PostSnapshot); qemu-ga's "
      "`guest-fsfreeze-freeze-list` + snapshot + `guest-fsfreeze-thaw`.")
    w("- **Full set**: a whole application-consistent backup by `bench/cycle-driver` (connect, initialize, "
      "gather metadata, start set, add volume, PrepareForBackup, DoSnapshotSet, BackupComplete), "
      "context `app-rollback`.")
    w("- **Provider commit**: the service's own measurement of the provider's `commit` call (its debug log), "
      "the physical floor: a btrfs snapshot ioctl, or a FICLONE of the image.")
    w("- **Writer stall**: `bench/stall-probe` writes 4 KiB every 0.5 ms (buffered) to the volume; the "
      "longest write starting inside each cycle (0.20 means no write took 0.2 ms or more).\n")

    # ---- Shadowcopy btrfs
    w("## Shadowcopy on btrfs (btrfs provider), by number of writers\n")
    sc_table(w, sc, "writers")
    if p10:
        w("The same, with the writers in **10 processes** (`BENCH_PROCS=10`: the service sees the same "
          "number of connections and events; the machine runs 10 processes instead of N):\n")
        sc_table(w, p10, "writers in 10 processes")

    w("## qemu-guest-agent with N hook scripts (hooks only, around a btrfs snapshot)\n")
    w("| hooks | n | freeze window | freeze-list call | snapshot | thaw call | cycle | stall |")
    w("|---|---|---|---|---|---|---|---|")
    for n, r in qb.items():
        w(f"| {n} | {len(r['cycle'])} | {cell(stat(r['window']))} | {cell(stat(r['freeze_call']))} "
          f"| {cell(stat(r['snapshot']))} | {cell(stat(r['thaw_call']))} | {cell(stat(r['cycle']))} "
          f"| {cell(stat(r['stall']))} |")
    w("")

    w("## Side by side on btrfs: ratios (same run)\n")
    w("| writers / hooks | qemu-ga cycle | Shadowcopy cycle | qemu-ga ÷ Shadowcopy (medians) "
      "| qemu-ga freeze window ÷ Shadowcopy freeze window |")
    w("|---|---|---|---|---|")
    for n in sc:
        if n in qb and qb[n]["cycle"] and sc[n]["cycle"]:
            rc = med(qb[n]["cycle"]) / med(sc[n]["cycle"])
            rw = (med(qb[n]["window"]) / med(sc[n]["window"])
                  if qb[n]["window"] and sc[n]["window"] else None)
            w(f"| {n} | {fmt(ms(med(qb[n]['cycle'])))} | {fmt(ms(med(sc[n]['cycle'])))} | "
              f"**{fmt(rc, 1)}×** | {fmt(rw, 1) + '×' if rw else '–'} |")
    w("")
    w("![Freeze window and cycle time against the number of writers](benchmarks-writers.png)\n")

    w("## A full set with 10 writers against `snapper create` (btrfs)\n")
    w("| what | n | median / p95 (ms) |")
    w("|---|---|---|")
    for name, times in hf_snap.items():
        w(f"| `{name}` (hyperfine, process start included) | {len(times)} | {cell(stat(times))} |")
    w(f"| full set, requester library (`cycle-driver`, 10 writers) | {len(snap_full)} | {cell(stat(snap_full))} |")
    w(f"| stall under `snapper --no-dbus create` (longest write per snapshot) | {len(snap_stall)} "
      f"| {cell(stat(snap_stall))} |\n")

    w("## Block level: flush-and-hold (inner loop XFS, its image cloned on an outer loop XFS)\n")
    w("| what | n | cycle | freeze window | stall (longest write per cycle) |")
    w("|---|---|---|---|---|")
    for name, times in hf_ff.items():
        w(f"| `fsfreeze -f; cp --reflink; fsfreeze -u` (hyperfine, 3 processes) | {len(times)} "
          f"| {cell(stat(times))} | – | – |")
    w(f"| the same, stamped loop | {len(ff_loop)} | {cell(stat(ff_loop))} | – | {cell(stat(ff_stall))} |")
    for n, r in qx.items():
        w(f"| qemu-ga, {n} hook{'s' if n > 1 else ''}, freeze-list + FICLONE + thaw | {len(r['cycle'])} "
          f"| {cell(stat(r['cycle']))} | {cell(stat(r['window']))} | {cell(stat(r['stall']))} |")
    for n, r in rf.items():
        w(f"| Shadowcopy reflink-image, {n} writer{'s' if n > 1 else ''} (do_snapshot_set) "
          f"| {len(r['cycle'])} | {cell(stat(r['cycle']))} | {cell(stat(r['window']))} "
          f"| {cell(stat(r['stall']))} |")
    if not rf:
        w("| Shadowcopy reflink-image | 0 | not measured: the provider was not in this build | – | – |")
    w("")

    w("## Abort, deadline, memory\n")
    w("| what | n | median / p95 (ms) | detail |")
    w("|---|---|---|---|")
    for series, procs in ((ab, ""), (ab10, " in 10 processes")):
        for n, (times, reached) in series.items():
            if times:
                w(f"| abort propagation, {n} writer{'s' if n > 1 else ''}{procs}: veto answered → last "
                  f"Abort handled | {len(times)} | {cell(stat(times))} | Abort reached "
                  f"{min(reached)}–{max(reached)} of {n} |")
    if late:
        w(f"| auto-thaw lateness: Abort handled − (Freeze + {window // 1000} ms window), worst writer "
          f"per set, 10 writers | {len(late)} | {cell(stat(late))} | Abort handler ran twice for "
          f"{doubles} writer-sets (library timer, then the service's Abort) |")
    for k, (vr, hwm) in rs.items():
        what = ("idle, no writer" if k == "0" else
                f"{k[:-6]} writers, after their backups" if k.endswith("-after") else
                f"{k} writers connected")
        w(f"| daemon VmRSS / VmHWM, {what} | 1 | {vr / 1024:.1f} MiB / {hwm / 1024:.1f} MiB | |")
    if peak:
        w(f"| daemon peak RSS over the whole run (`/usr/bin/time -v`) | 1 | {peak / 1024:.1f} MiB | |")
    w("")

    targets(w, sc, p10, qb, rf, qx, ab, ab10, late, rs, hf_snap, snap_full, ff_stall)

    notes = os.path.join(os.path.dirname(os.path.abspath(__file__)), "notes.md")
    if os.path.exists(notes):
        w(open(notes).read())
    with open(os.path.join(docs, "benchmarks.md"), "w") as f:
        f.write("\n".join(L) + "\n")
    plot(results, docs, sc, qb)


def sc_table(w, sc, what):
    w(f"| {what} | n | freeze window | provider commit | window − commit | Freeze fan-out spread "
      "| cycle (do_snapshot_set) | full set | stall (longest write) | failed runs |")
    w("|---|---|---|---|---|---|---|---|---|---|")
    for n, r in sc.items():
        w(f"| {n} | {len(r['window'])} | {cell(stat(r['window']))} | {cell(stat(r['commit']))} "
          f"| {cell(stat(r['overhead']))} | {cell(stat(r['freeze_spread']))} | {cell(stat(r['cycle']))} "
          f"| {cell(stat(r['full']))} | {cell(stat(r['stall']))} | {r['failed']} of {r['runs']} |")
    w("")


def targets(w, sc, p10, qb, rf, qx, ab, ab10, late, rs, hf_snap, snap_full, ff_stall):
    w("## Targets of issue 7 (this run)\n")
    w("Why each is met or missed, and what would close it, is under \"Each target\" below.\n")
    w("| target | measured | verdict |")
    w("|---|---|---|")
    if 50 in sc and 50 in qb and sc[50]["cycle"] and qb[50]["cycle"]:
        ratio = med(qb[50]["cycle"]) / med(sc[50]["cycle"])
        w(f"| 50 writers on btrfs: cycle ≥ 50× shorter than qemu-ga's with 50 hooks "
          f"| {fmt(ms(med(qb[50]['cycle'])))} ms ÷ {fmt(ms(med(sc[50]['cycle'])))} ms = {fmt(ratio, 1)}× "
          f"| {verdict(ratio, 50, False)}{'' if ratio >= 50 else f' by {fmt(50 / ratio, 1)}×'} |")
    for n, slack in ((100, 1000), (1000, 10000)):
        r = sc.get(n)
        if r and r["overhead"]:
            m, p = med(r["overhead"]), pct(r["overhead"], 95)
            q = p10.get(n, {}).get("overhead")
            also = f" (writers in 10 processes: {fmt(ms(med(q)))} ms median)" if q else ""
            w(f"| freeze window at {n} writers ≤ commit + {slack // 1000} ms "
              f"| window − commit {fmt(ms(m))} ms median, {fmt(ms(p))} ms p95{also} "
              f"| median {verdict(m, slack)}{'' if m <= slack else f' by {fmt(ms(m - slack))} ms'}, "
              f"p95 {verdict(p, slack)} |")
    sn = hf_snap.get("snapper --no-dbus create")
    cli = hf_snap.get("shadowcopy create (10 writers)")
    if sn and snap_full:
        r1 = med(snap_full) / med(sn)
        w(f"| full set with 10 writers no slower than `snapper create` "
          f"| library {fmt(ms(med(snap_full)))} ms vs snapper {fmt(ms(med(sn)))} ms ({fmt(r1, 2)}×)"
          f"{f'; CLI {fmt(ms(med(cli)))} ms ({fmt(med(cli) / med(sn), 2)}×)' if cli else ''} "
          f"| library {verdict(r1, 1.0)}{f', CLI {verdict(med(cli) / med(sn), 1.0)}' if cli else ''} |")
    best = None
    for n, r in rf.items():
        if r["stall"]:
            v = (med(r["stall"]), pct(r["stall"], 95), n)
            best = v if best is None or n == 10 else best
    if best:
        ref = f"fsfreeze {fmt(ms(med(ff_stall)))}" if ff_stall else ""
        for n, r in qx.items():
            if r["stall"]:
                ref += f", qemu-ga {fmt(ms(med(r['stall'])))}"
                break
        w(f"| block-level writer stall ≤ 10 ms | {fmt(ms(best[0]))} ms median, {fmt(ms(best[1]))} ms p95 "
          f"({best[2]} writers) vs {ref} ms | median {verdict(best[0], 10000)}, p95 "
          f"{verdict(best[1], 10000)} |")
    else:
        w("| block-level writer stall ≤ 10 ms | not measured (no reflink-image provider) | not measured |")
    if 100 in ab and ab[100][0]:
        t = ab[100][0]
        t10 = ab10.get(100, ([], []))[0]
        also = f" (writers in 10 processes: {fmt(ms(med(t10)))} ms median)" if t10 else ""
        w(f"| abort reaches 100 writers in ≤ 2 ms | {fmt(ms(med(t)))} ms median, {fmt(ms(pct(t, 95)))} ms p95{also} "
          f"| median {verdict(med(t), 2000)}{'' if med(t) <= 2000 else f' by {fmt(med(t) / 2000, 1)}×'}, "
          f"p95 {verdict(pct(t, 95), 2000)} |")
    if late:
        w(f"| deadline-driven auto-thaw ≤ 50 ms late | worst {fmt(ms(max(late)))} ms | {verdict(max(late), 50000)} |")
    if "1000" in rs:
        vr, hwm = rs["1000"]
        after = rs.get("1000-after", (vr, hwm))
        w(f"| daemon RSS ≤ 20 MB with 1000 writers connected | {vr / 1024:.1f} MiB connected, "
          f"{after[1] / 1024:.1f} MiB peak after backups | connected {verdict(vr / 1024, 20)}"
          f"{'' if vr / 1024 <= 20 else f' by {vr / 1024 - 20:.1f} MiB'}, "
          f"peak {verdict(after[1] / 1024, 20)} |")
    w("")


def plot(results, docs, sc, qb):
    dat = os.path.join(results, "plot.dat")
    with open(dat, "w") as f:
        f.write("# writers sc_window sc_cycle qga_window qga_cycle (ms, medians)\n")
        for n in COUNTS:
            vals = [ms(med(sc[n]["window"])) if n in sc and sc[n]["window"] else None,
                    ms(med(sc[n]["cycle"])) if n in sc and sc[n]["cycle"] else None,
                    ms(med(qb[n]["window"])) if n in qb and qb[n]["window"] else None,
                    ms(med(qb[n]["cycle"])) if n in qb and qb[n]["cycle"] else None]
            f.write(f"{n} " + " ".join("NaN" if v is None else f"{v:.3f}" for v in vals) + "\n")
    png = os.path.join(docs, "benchmarks-writers.png")
    script = f"""
set terminal pngcairo size 900,560 font "DejaVu Sans,10"
set output '{png}'
set title "Freeze window and cycle time against the number of writers (btrfs, medians)"
set logscale xy
set xlabel "writers (Shadowcopy) / hook scripts (qemu-ga)"
set ylabel "milliseconds"
set key top left
set termoption noenhanced
set format y "%g"
set grid
set xrange [0.8:1300]
plot '{dat}' using 1:2 with linespoints lw 2 pt 7 title "Shadowcopy freeze window", \\
     '{dat}' using 1:3 with linespoints lw 2 pt 5 title "Shadowcopy cycle (do_snapshot_set)", \\
     '{dat}' using 1:4 with linespoints lw 2 pt 9 dt 2 title "qemu-ga freeze window (first hook to last hook)", \\
     '{dat}' using 1:5 with linespoints lw 2 pt 11 dt 2 title "qemu-ga cycle (freeze-list, snapshot, thaw)"
"""
    subprocess.run(["gnuplot"], input=script, text=True, check=True)


if __name__ == "__main__":
    main()
