#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Run the SIGKILL matrix (test_kill_matrix.py) a few times and write its
table, with the median time to thawed of every case, into
docs/reliability.md between its two marker lines.  Each run is a plain
pytest run with $SHADOWCOPY_KILL_LOG set: every case appends what it saw
there (killkit.Case.record).  Run as root from anywhere:

    tests/system/measure_thaw.py [--runs 5] [--build build] [--doc docs/reliability.md]

Nothing here signals or freezes anything itself; the tests do, on their own
loop filesystems."""

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
BEGIN = "<!-- BEGIN kill-matrix table (tests/system/measure_thaw.py) -->"
END = "<!-- END kill-matrix table -->"

sys.path.insert(0, str(HERE))
from killkit import POINTS, PROVIDERS, VICTIMS  # noqa: E402
from test_kill_matrix import describe  # noqa: E402


def loadavg():
    return Path("/proc/loadavg").read_text().split()[:3]


def cpu_model():
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.machine()


def run_matrix(build, log, pytest_args):
    env = dict(os.environ, SHADOWCOPY_BUILD=build, SHADOWCOPY_KILL_LOG=str(log))
    argv = ["/usr/bin/python3", "-m", "pytest", "-q", "-p", "no:cacheprovider",
            "test_kill_matrix.py"] + pytest_args
    p = subprocess.run(argv, cwd=HERE, env=env, capture_output=True, text=True)
    tail = p.stdout.strip().splitlines()[-1:] or ["(no output)"]
    print(f"  pytest: {tail[0]}", flush=True)
    return p.returncode


def ms(usec):
    return f"{usec / 1000:.1f}"


def cell_time(entries):
    """Median (min-max) of the time to thawed over the runs that measured it,
    what released the writers ("by Thaw": the set went on) and the median
    time to the filesystem thawed, when one was frozen."""
    times = [e["time_to_thawed_usec"] for e in entries if e["time_to_thawed_usec"] is not None]
    if not times:
        return "nothing frozen"
    med = statistics.median(times)
    cell = f"**{ms(med)}** ({ms(min(times))}–{ms(max(times))})" if len(times) > 1 else ms(med)
    by = {how for e in entries for how in e.get("released_by", {}).values()}
    fs = [e["fs_thawed_usec"] for e in entries if e["fs_thawed_usec"] is not None]
    if fs:
        cell += f"; filesystem {ms(statistics.median(fs))}"
    return cell + (" by Thaw" if by == {"thaw"} else "")


def cell_expected(entries):
    """The expected outcome, and what a killed service left until its restart."""
    stale = any(e.get("stale_before_restart") for e in entries)
    e = entries[0]
    note = "; a half-made snapshot on disk until the restart removed it" if stale else ""
    return describe(e["provider"], e["victim"], e["point"]) + note


def cell_outcome(entries):
    passed = sum(1 for e in entries if e["passed"])
    if passed == len(entries):
        return f"passes ({passed}/{len(entries)})"
    bad = next(e for e in entries if not e["passed"])
    why = "; ".join(bad.get("differences") or []) or "a check failed (see the test's output)"
    return f"**FAILS** ({len(entries) - passed}/{len(entries)}): {why}"


def table(entries):
    by_case = defaultdict(list)
    for e in entries:
        by_case[(e["provider"], e["victim"], e["point"])].append(e)
    rows = ["| provider | victim | killed at | expected outcome | frozen at the kill "
            "| time to thawed, ms: median (min–max) | runs |",
            "|---|---|---|---|---|---|---|"]
    for p in PROVIDERS:
        for v in VICTIMS:
            for t in POINTS:
                es = by_case.get((p, v, t))
                if not es:
                    rows.append(f"| {p} | {v} | {t} | (not run) | | | |")
                    continue
                frozen = ", ".join(es[0]["frozen_at_kill"]) or "nothing"
                rows.append(f"| {p} | {v} | {t} | {cell_expected(es)} | {frozen} "
                            f"| {cell_time(es)} | {cell_outcome(es)} |")
    return rows


def write_doc(doc, rows, header):
    text = doc.read_text()
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{doc}: the marker lines are missing ({BEGIN!r} ... {END!r})")
    before, rest = text.split(BEGIN, 1)
    after = rest.split(END, 1)[1]
    doc.write_text(before + BEGIN + "\n" + "\n".join(header + [""] + rows) + "\n" + END + after)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--build", default="build", help="the build directory (relative to the root)")
    ap.add_argument("--doc", default=str(ROOT / "docs" / "reliability.md"))
    ap.add_argument("--log", help="keep the cases' JSON lines here")
    ap.add_argument("--from-log", help="only make the table from an earlier --log")
    ap.add_argument("pytest_args", nargs="*", help="more pytest arguments (after --)")
    args = ap.parse_args()

    if args.from_log:
        log = Path(args.from_log)
    else:
        log = Path(args.log) if args.log else Path(tempfile.mkstemp(suffix=".jsonl")[1])
        log.write_text("")
        meta = {"date": datetime.date.today().isoformat(), "runs": args.runs,
                "kernel": platform.release(), "cpus": os.cpu_count(), "cpu": cpu_model(),
                "time_scale": os.environ.get("SHADOWCOPY_TIME_SCALE", "1"),
                "load_before": loadavg()}
        for i in range(args.runs):
            print(f"run {i + 1}/{args.runs}", flush=True)
            run_matrix(args.build, log, args.pytest_args)
        meta["load_after"] = loadavg()
        with open(log, "a") as f:
            f.write(json.dumps({"meta": meta}) + "\n")
    lines = [json.loads(l) for l in log.read_text().splitlines() if l.strip()]
    if not args.log and not args.from_log:
        log.unlink()
    meta = next(l["meta"] for l in lines if "meta" in l)
    entries = [l for l in lines if "meta" not in l]
    header = [
        f"Measured {meta['date']} with `tests/system/measure_thaw.py --runs {meta['runs']}`: "
        f"Linux {meta['kernel']}, {meta['cpus']} × {meta['cpu']}, "
        f"SHADOWCOPY_TIME_SCALE={meta['time_scale']}, load average (1, 5, 15 min) "
        f"{' / '.join(meta['load_before'])} before and {' / '.join(meta['load_after'])} after "
        "(other work ran on the machine meanwhile).",
    ]
    write_doc(Path(args.doc), table(entries), header)
    print(f"wrote {args.doc}")


if __name__ == "__main__":
    main()
