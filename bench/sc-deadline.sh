#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# sc-deadline.sh - how late a deadline-driven auto-thaw fires: 10 writers
# with a 300 ms freeze window, the btrfs commit slowed to 1 s by the
# service's [testing] switch, so every set fails by the window; each
# writer's Abort is compared with its Freeze + 300 ms.  Raw data in
# $RESULTS/sc-deadline/.
. "$(dirname "$0")/lib.sh"

RUNS=${BENCH_DEADLINE_RUNS:-5}
WINDOW_MS=300

bench_init
OUT=$RESULTS/sc-deadline
rm -rf "$OUT"
mkdir -p "$OUT"
make_btrfs "$T/btrfs"
VOL=$T/btrfs/vol
start_daemon sc-deadline '[testing]' 'provider-delay-ms = commit:1000'
start_writers 10 10 "$OUT/writers.txt" --freeze-timeout-ms "$WINDOW_MS"
log "shadowcopy deadline: 10 writers, ${WINDOW_MS} ms window, $RUNS backups"
run_fg "$BIN/cycle-driver" --socket "$SC_SOCK" --volume "$VOL" --provider btrfs --runs "$RUNS" \
	--pause-ms 1500 >"$OUT/cycles.jsonl" || true # every one fails: the window runs out
echo "$WINDOW_MS" >"$OUT/window-ms.txt"
stop_writers
stop_daemon
cp "$RESULTS/sc-deadline-daemon.log" "$OUT/"
log "done: $OUT"
