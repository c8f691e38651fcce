#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# qga.sh - qemu-guest-agent side by side: Debian's qemu-ga with N no-op hook
# scripts (the stock dispatcher) as the N writers, (1) hooks only around a
# btrfs snapshot, (2) freezing an inner loop XFS around a reflink clone of
# its image, with the stall probe writing.  The agent runs chrooted in a
# private mount namespace whose only mounts are a tmpfs, /proc and (2) the
# inner XFS, and qga-cycle checks that before it sends anything, so neither
# its freeze nor its global thaw can reach another filesystem.
# Raw data in $RESULTS/qga/.  Usage: qga.sh [N...]  (default 1 10 50 100 1000)
. "$(dirname "$0")/lib.sh"

COUNTS=("${@:-1 10 50 100 1000}")
read -r -a COUNTS <<<"${COUNTS[*]}"
BLOCK_COUNTS=(${BENCH_QGA_BLOCK_COUNTS:-1 10})

runs_for() {
	case $1 in
	1 | 10) echo "${BENCH_QGA_RUNS:-20}" ;;
	50 | 100) echo "${BENCH_QGA_RUNS_100:-8}" ;;
	*) echo "${BENCH_QGA_RUNS_1000:-2}" ;;
	esac
}

# Copy a program and its libraries into the jail at the same paths.
jail_copy() {
	local f
	for f in "$1" $(ldd "$1" 2>/dev/null | grep -o '/[^ ]*'); do
		[ -e "$J$f" ] || cp -L --parents "$f" "$J"
	done
}

make_jail() {
	J=$T/jail
	mkdir -p "$J"
	mount -t tmpfs -o mode=0755,size=64m bench-jail "$J"
	UNDO+=("umount $J")
	local p
	for p in /usr/sbin/qemu-ga /usr/bin/dash /usr/bin/dirname /usr/bin/date; do
		jail_copy "$p"
	done
	cp "$BIN/now" "$J/now"
	mkdir -p "$J/bin" "$J/dev" "$J/proc" "$J/state" "$J/mnt" "$J/hooks/fsfreeze-hook.d"
	ln -s /usr/bin/dash "$J/bin/sh"
	mknod -m 0666 "$J/dev/null" c 1 3
	# the stock dispatcher, logging into the jail instead of /var/log
	sed 's|^LOGFILE=.*|LOGFILE=/hooks/hook.log|' /etc/qemu/fsfreeze-hook >"$J/hooks/fsfreeze-hook"
	chmod 0755 "$J/hooks/fsfreeze-hook"
}

# N hooks; the first stamps "<arg>-first" and the last "<arg>-last".
set_hooks() {
	local n=$1 d=$J/hooks/fsfreeze-hook.d i body
	rm -f "$d"/* "$J/hooks/stamps.log" "$J/hooks/hook.log"
	for ((i = 0; i < n; i++)); do
		body='exit 0'
		if ((n == 1)); then
			body='/now "$1-first" /hooks/stamps.log; exec /now "$1-last" /hooks/stamps.log'
		elif ((i == 0)); then
			body='exec /now "$1-first" /hooks/stamps.log'
		elif ((i == n - 1)); then
			body='exec /now "$1-last" /hooks/stamps.log'
		fi
		printf '#!/bin/sh\n%s\n' "$body" >"$d/$(printf %04d "$i")"
		chmod 0755 "$d/$(printf %04d "$i")"
	done
}

start_agent() {
	rm -f "$J/qga.sock"
	spawn QGA_PID unshare -m --propagation private -- /bin/sh -c \
		'mount -t proc proc "$1/proc" && exec chroot "$1" /usr/sbin/qemu-ga \
		-m unix-listen -p /qga.sock -t /state -f /qga.pid -l /qga.log \
		-F/hooks/fsfreeze-hook -b guest-fsfreeze-freeze,guest-shutdown,guest-exec' sh "$J"
	wait_file "$J/qga.sock" 10
}

stop_agent() { stop_pid "$QGA_PID" 5; }

bench_init
OUT=$RESULTS/qga
rm -rf "$OUT"
mkdir -p "$OUT"
qemu-ga --version >"$OUT/version.txt" 2>&1
make_jail
make_btrfs "$T/btrfs"
mkdir -p "$T/btrfs/snaps"

# (1) hooks only around a btrfs snapshot: the agent sees no filesystem at all
start_agent
for n in "${COUNTS[@]}"; do
	log "qemu-ga btrfs: $n hooks, $(runs_for "$n") cycles"
	set_hooks "$n"
	start_stall "$T/btrfs/vol/stall.dat" "$OUT/btrfs-stall-$n.txt"
	run_fg "$BIN/qga-cycle" --socket "$J/qga.sock" --agent-pid "$QGA_PID" --hooks-only /no-mount \
		--btrfs "$T/btrfs/vol" --dest "$T/btrfs/snaps" --runs "$(runs_for "$n")" \
		>"$OUT/btrfs-cycles-$n.jsonl"
	stop_stall
	cp "$J/hooks/stamps.log" "$OUT/btrfs-stamps-$n.txt"
done
stop_agent

# (2) block level: the agent freezes the inner XFS (and sees nothing else)
make_block "$J/mnt/inner"
start_agent
for n in "${BLOCK_COUNTS[@]}"; do
	log "qemu-ga xfs: $n hooks, $(runs_for "$n") cycles"
	set_hooks "$n"
	start_stall "$INNER/stall.dat" "$OUT/xfs-stall-$n.txt"
	run_fg "$BIN/qga-cycle" --socket "$J/qga.sock" --agent-pid "$QGA_PID" --freeze /mnt/inner \
		--clone "$INNER_IMG" --dest "$OUTER/clones" --runs "$(runs_for "$n")" \
		>"$OUT/xfs-cycles-$n.jsonl"
	stop_stall
	cp "$J/hooks/stamps.log" "$OUT/xfs-stamps-$n.txt"
	rm -f "$OUTER/clones"/*
done
stop_agent
log "done: $OUT"
