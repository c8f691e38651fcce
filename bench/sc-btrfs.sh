#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# sc-btrfs.sh - Shadowcopy on a loop btrfs (btrfs provider) with N writers:
# full backups with the stall probe writing, then backups whose Freeze writer
# 0 vetoes (abort propagation), and the daemon's RSS with N connected.
# Raw data only, in $RESULTS/$BENCH_NAME/ (default sc-btrfs); report.py
# computes the statistics.
# Usage: sc-btrfs.sh [N...]   (default 1 10 50 100 1000)
. "$(dirname "$0")/lib.sh"

COUNTS=("${@:-1 10 50 100 1000}")
read -r -a COUNTS <<<"${COUNTS[*]}"
RUNS=${BENCH_RUNS:-30}
RUNS_1000=${BENCH_RUNS_1000:-15}
ABORT_RUNS=${BENCH_ABORT_RUNS:-10}
PROCS=${BENCH_PROCS:-}             # writer processes; default one per writer
PROCS_1000=${BENCH_PROCS_1000:-1000}
NAME=${BENCH_NAME:-sc-btrfs}       # another name keeps a second series apart

bench_init
OUT=$RESULTS/$NAME
rm -rf "$OUT"
mkdir -p "$OUT"
make_btrfs "$T/btrfs"
VOL=$T/btrfs/vol
start_daemon "$NAME"
rss_sample "$OUT/rss.txt" 0

for n in "${COUNTS[@]}"; do
	runs=$RUNS procs=${PROCS:-$n}
	[ "$n" -ge 1000 ] && runs=$RUNS_1000 procs=$PROCS_1000
	log "shadowcopy btrfs: $n writers ($procs processes), $runs backups"
	start_writers "$n" "$procs" "$OUT/writers-$n.txt" --veto-file "$T/veto"
	rss_sample "$OUT/rss.txt" "$n"
	start_stall "$VOL/stall.dat" "$OUT/stall-$n.txt"
	# BENCH_PERF=1: profile the daemon during the backups (a diagnostic, slower)
	[ -n "${BENCH_PERF:-}" ] && spawn PERF_PID perf record -q -g -p "$SC_PID" -o "$OUT/perf-$n.data"
	run_fg "$BIN/cycle-driver" --socket "$SC_SOCK" --volume "$VOL" --provider btrfs \
		--runs "$runs" >"$OUT/cycles-$n.jsonl" || log "some backups failed ($n writers)"
	[ -n "${BENCH_PERF:-}" ] && stop_pid "$PERF_PID" 30
	touch "$T/veto"
	run_fg "$BIN/cycle-driver" --socket "$SC_SOCK" --volume "$VOL" --provider btrfs \
		--runs "$ABORT_RUNS" >"$OUT/abort-$n.jsonl" || true # every one fails: vetoed
	rm -f "$T/veto"
	stop_stall
	rss_sample "$OUT/rss.txt" "$n-after"
	stop_writers
	"$SHADOWCOPY" --socket "$SC_SOCK" delete --all >/dev/null ||
		log "could not delete every snapshot"
done
stop_daemon
cp "$RESULTS/$NAME-daemon-time.txt" "$RESULTS/$NAME-daemon.log" "$OUT/"
log "done: $OUT"
