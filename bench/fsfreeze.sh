#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# fsfreeze.sh - the plain block-level baseline: fsfreeze -f on an inner loop
# XFS, cp --reflink of its image on the outer XFS, fsfreeze -u; timed by
# hyperfine, then again in a loop stamped for the stall probe writing to the
# inner XFS.  Raw data in $RESULTS/fsfreeze/.
. "$(dirname "$0")/lib.sh"

RUNS=${BENCH_FSFREEZE_RUNS:-20}

bench_init
OUT=$RESULTS/fsfreeze
rm -rf "$OUT"
mkdir -p "$OUT"
make_block "$T/inner"
CYCLE="fsfreeze -f $INNER; cp --reflink=always $INNER_IMG $OUTER/clones/hf.img; fsfreeze -u $INNER"

log "fsfreeze + cp --reflink: hyperfine, $RUNS runs"
start_stall "$INNER/stall.dat" "$OUT/stall-hyperfine.txt"
hyperfine --shell=bash --runs "$RUNS" --warmup 2 --prepare "rm -f $OUTER/clones/hf.img" \
	--export-json "$OUT/hyperfine.json" --command-name "fsfreeze+cp" "$CYCLE" >"$OUT/hyperfine.txt"
stop_stall

log "fsfreeze + cp --reflink: stamped loop, $RUNS runs"
start_stall "$INNER/stall.dat" "$OUT/stall.txt"
for ((i = 0; i < RUNS; i++)); do
	t0=$("$BIN/now")
	fsfreeze -f "$INNER"
	cp --reflink=always "$INNER_IMG" "$OUTER/clones/loop-$i.img"
	fsfreeze -u "$INNER"
	t1=$("$BIN/now")
	echo "$i $t0 $t1" >>"$OUT/cycles.txt"
	sleep 0.05
done
stop_stall
log "done: $OUT"
