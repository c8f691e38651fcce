#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# snapper.sh - snapper side by side on a loop btrfs: `snapper --no-dbus
# create` (crash-consistent, no quiesce) against a full application-
# consistent Shadowcopy set with 10 writers (the requester driver, and the
# `shadowcopy create` tool under hyperfine), then a stamped snapper loop with
# the stall probe writing.  Raw data in $RESULTS/snapper/.
. "$(dirname "$0")/lib.sh"

RUNS=${BENCH_SNAPPER_RUNS:-30}

bench_init
OUT=$RESULTS/snapper
rm -rf "$OUT"
mkdir -p "$OUT"
snapper --version | head -1 >"$OUT/version.txt"
make_btrfs "$T/btrfs"
VOL=$T/btrfs/vol
CFG=scbench$$
snapper --no-dbus -c "$CFG" create-config -f btrfs "$VOL"
UNDO+=("snapper-config $CFG")
snapper --no-dbus -c "$CFG" set-config TIMELINE_CREATE=no NUMBER_CLEANUP=no \
	EMPTY_PRE_POST_CLEANUP=no TIMELINE_CLEANUP=no
start_daemon snapper
start_writers 10 10 "$OUT/writers-10.txt"

log "requester driver: 10 writers, $RUNS full sets"
run_fg "$BIN/cycle-driver" --socket "$SC_SOCK" --volume "$VOL" --provider btrfs --runs "$RUNS" \
	>"$OUT/cycles-10.jsonl"

log "hyperfine: snapper --no-dbus create vs shadowcopy create, $RUNS runs each"
hyperfine -N --runs "$RUNS" --warmup 3 --export-json "$OUT/hyperfine.json" \
	-n "snapper --no-dbus create" "snapper --no-dbus -c $CFG create" \
	-n "shadowcopy create (10 writers)" "$SHADOWCOPY --socket $SC_SOCK create $VOL" \
	-n "shadowcopy create --no-writers" "$SHADOWCOPY --socket $SC_SOCK create --no-writers $VOL" \
	>"$OUT/hyperfine.txt"

log "snapper: stamped loop with the stall probe, 20 runs"
start_stall "$VOL/stall.dat" "$OUT/stall.txt"
for ((i = 0; i < 20; i++)); do
	t0=$("$BIN/now")
	snapper --no-dbus -c "$CFG" create
	t1=$("$BIN/now")
	echo "$i $t0 $t1" >>"$OUT/cycles-snapper.txt"
	sleep 0.05
done
stop_stall
stop_writers
"$SHADOWCOPY" --socket "$SC_SOCK" delete --all >/dev/null || log "could not delete every snapshot"
stop_daemon
log "done: $OUT"
