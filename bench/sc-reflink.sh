#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# sc-reflink.sh - Shadowcopy at block level: the reflink-image provider on an
# inner loop XFS whose image lives on an outer loop XFS (the service flushes,
# holds the inner XFS with FIFREEZE and clones the image), N writers, the
# stall probe writing to the inner XFS.  Raw data in $RESULTS/sc-reflink/.
# Usage: sc-reflink.sh [N...]   (default 1 10 100)
. "$(dirname "$0")/lib.sh"

COUNTS=("${@:-1 10 100}")
read -r -a COUNTS <<<"${COUNTS[*]}"
RUNS=${BENCH_REFLINK_RUNS:-20}

bench_init
OUT=$RESULTS/sc-reflink
rm -rf "$OUT"
mkdir -p "$OUT"
make_block "$T/inner"
VOL=$INNER
start_daemon sc-reflink
"$SHADOWCOPY" --socket "$SC_SOCK" providers >"$OUT/providers.txt"
grep -q reflink-image "$OUT/providers.txt" || die "no reflink-image provider in this build"

for n in "${COUNTS[@]}"; do
	log "shadowcopy reflink-image: $n writers, $RUNS backups"
	start_writers "$n" "$n" "$OUT/writers-$n.txt"
	start_stall "$VOL/stall.dat" "$OUT/stall-$n.txt"
	run_fg "$BIN/cycle-driver" --socket "$SC_SOCK" --volume "$VOL" --provider reflink-image \
		--runs "$RUNS" >"$OUT/cycles-$n.jsonl" || log "some backups failed ($n writers)"
	stop_stall
	stop_writers
	"$SHADOWCOPY" --socket "$SC_SOCK" delete --all >/dev/null ||
		log "could not delete every snapshot"
done
stop_daemon
cp "$RESULTS/sc-reflink-daemon.log" "$OUT/"
log "done: $OUT"
