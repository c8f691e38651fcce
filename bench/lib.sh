# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash
# lib.sh - shared helpers of the benchmark scripts (sourced, never run):
# a private temp dir, loop filesystems made in it, our own processes started
# and stopped by PID, shadowcopyd on private sockets, and one cleanup trap
# that thaws through kept fds before it unmounts.  It measures nothing.

set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TREE=$(cd "$BENCH_DIR/.." && pwd)
BUILD=${SHADOWCOPY_BUILD:-$TREE/build-bench}
BIN=$BUILD/bench
SHADOWCOPYD=$BUILD/src/daemon/shadowcopyd
SHADOWCOPY=$BUILD/src/cli/shadowcopy
RESULTS=${BENCH_RESULTS:-$BUILD/bench-results}

T=""             # this script's temp dir
PIDS=()          # processes we started, stopped in reverse order
UNDO=()          # "umount DIR", "detach DEV", "snapper-config NAME": undone in reverse
THAW_FDS=()      # fds kept open on filesystems that may be frozen

log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

bench_init() {
	[ "$(id -u)" = 0 ] || die "benchmarks run as root (loop devices, mounts)"
	[ -x "$BIN/probe-writer" ] || die "probes not built: run bench/build.sh"
	mkdir -p "$RESULTS"
	T=$(mktemp -d /tmp/sc-bench7-XXXXXX)
	# the machine may be shared: keep its load with the data
	echo "$(basename "$0") $(cut -d' ' -f1-3 /proc/loadavg)" >>"$RESULTS/load.txt"
	trap bench_cleanup EXIT
	trap 'exit 130' INT TERM
}

# spawn VAR CMD...: start CMD in the background, remember its PID, set VAR
# to it (no command substitution: the job must be a child of this shell).
spawn() {
	local -n _pid_var=$1
	shift
	"$@" &
	_pid_var=$!
	PIDS+=($!)
}

# Forget a PID we have reaped, so that cleanup never signals a reused one.
forget_pid() {
	local i
	for i in "${!PIDS[@]}"; do
		[ "${PIDS[i]}" = "$1" ] && unset 'PIDS[i]'
	done
	PIDS=("${PIDS[@]}")
}

# Stop one of our processes by PID (TERM, then KILL after $2 seconds).
stop_pid() {
	local pid=$1 grace=${2:-10} i
	if kill -TERM "$pid" 2>/dev/null; then
		for ((i = 0; i < grace * 20; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.05
		done
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
	forget_pid "$pid"
}

# run_fg CMD...: run CMD as one of our processes and wait for it, so that a
# TERM to the script reaches the cleanup at once; returns CMD's status.
run_fg() {
	local pid rc=0
	spawn pid "$@"
	wait "$pid" || rc=$?
	forget_pid "$pid"
	return $rc
}

wait_file() {
	local f=$1 secs=${2:-60} i
	for ((i = 0; i < secs * 20; i++)); do
		[ -e "$f" ] && return 0
		sleep 0.05
	done
	die "timed out waiting for $f"
}

# loop_image FILE SIZE: attach a new sparse image; the device in $LOOP_DEV
# (not printed: a command substitution would lose it from UNDO).
loop_image() {
	truncate -s "$2" "$1"
	LOOP_DEV=$(losetup --find --show "$1")
	UNDO+=("detach $LOOP_DEV")
}

mount_fs() {
	mkdir -p "$2"
	mount -o noatime "$1" "$2"
	UNDO+=("umount $2")
}

# A loop btrfs at DIR with a subvolume DIR/vol.
make_btrfs() {
	loop_image "$T/btrfs.img" 2G
	mkfs.btrfs -q -f "$LOOP_DEV" >/dev/null
	mount_fs "$LOOP_DEV" "$1"
	btrfs -q subvolume create "$1/vol"
}

# A loop XFS (reflink) at DIR.
make_xfs() {
	loop_image "$1.img" "$2"
	mkfs.xfs -q -f -m reflink=1 "$LOOP_DEV"
	mount_fs "$LOOP_DEV" "$1"
}

# Keep an fd on a filesystem we may freeze, so cleanup can thaw it.
keep_thaw_fd() {
	local fd
	exec {fd}<"$1"
	THAW_FDS+=("$fd")
}

# FITHAW through the fds we kept; EINVAL just means "not frozen".
thaw_kept_fds() {
	local fd
	for fd in "${THAW_FDS[@]}"; do
		fsfreeze -u "/proc/$$/fd/$fd" 2>/dev/null
	done
	return 0
}

undo_one() {
	local i
	case $1 in
	umount) umount "$2" 2>/dev/null || umount -l "$2" ;;
	snapper-config) snapper --no-dbus -c "$2" delete-config ;;
	detach)
		# the filesystem may release the device a moment after umount
		for i in 1 2 3 4 5 6 7 8 9 10; do
			losetup -d "$2" 2>/dev/null && return 0
			sleep 0.2
		done
		log "could not detach $2"
		;;
	esac
}

bench_cleanup() {
	local rc=$? i
	trap - EXIT
	set +e
	# thaw first: a process writing to a frozen filesystem cannot be stopped
	thaw_kept_fds
	for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
		stop_pid "${PIDS[i]}" 5
		thaw_kept_fds # whatever the stopped process may have frozen meanwhile
	done
	thaw_kept_fds
	for fd in "${THAW_FDS[@]}"; do
		exec {fd}<&-
	done
	for ((i = ${#UNDO[@]} - 1; i >= 0; i--)); do
		undo_one ${UNDO[i]}
	done
	[ -n "$T" ] && rm -rf --one-file-system "$T"
	exit $rc
}

# ---- shadowcopyd ----

# start_daemon NAME [extra config lines...]: a daemon on private sockets in
# $T/NAME, under /usr/bin/time -v (peak RSS at exit in $RESULTS).
start_daemon() {
	local name=$1
	shift
	SC_DIR=$T/$name
	mkdir -p "$SC_DIR"
	SC_SOCK=$SC_DIR/sc.sock
	SC_WSOCK=$SC_DIR/writer.sock
	{
		printf '[service]\nsocket = %s\nwriter-socket = %s\nstate-dir = %s/state\n' \
			"$SC_SOCK" "$SC_WSOCK" "$SC_DIR"
		printf 'group = root\nmax-connections = 8192\nlog-level = debug\n'
		for line in "$@"; do printf '%s\n' "$line"; done
	} >"$SC_DIR/sc.conf"
	ulimit -n "$(ulimit -Hn)"
	spawn SC_TIME_PID /usr/bin/time -v -o "$RESULTS/$name-daemon-time.txt" \
		"$SHADOWCOPYD" --config "$SC_DIR/sc.conf" 2>"$RESULTS/$name-daemon.log"
	local i
	for ((i = 0; i < 200; i++)); do
		SC_PID=$(awk '{print $1}' "/proc/$SC_TIME_PID/task/$SC_TIME_PID/children" 2>/dev/null)
		[ -n "$SC_PID" ] && [ -S "$SC_SOCK" ] &&
			"$SHADOWCOPY" --socket "$SC_SOCK" providers >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	die "shadowcopyd did not start (see $RESULTS/$name-daemon.log)"
}

stop_daemon() {
	stop_pid "$SC_PID" 10
	wait "$SC_TIME_PID" 2>/dev/null || true
}

# rss_sample FILE LABEL: the daemon's VmRSS and VmHWM (kB).
rss_sample() {
	awk -v l="$2" '/^VmRSS|^VmHWM/ {v[$1] = $2} END {print l, v["VmRSS:"], v["VmHWM:"]}' \
		"/proc/$SC_PID/status" >>"$1"
}

# start_writers N PROCS OUT [extra probe-writer args]: waits until subscribed.
start_writers() {
	local n=$1 procs=$2 out=$3
	shift 3
	rm -f "$T/writers.ready"
	spawn WRITERS_PID "$BIN/probe-writer" --socket "$SC_WSOCK" --path "$VOL" \
		--writers "$n" --procs "$procs" --out "$out" --ready "$T/writers.ready" "$@"
	wait_file "$T/writers.ready" 120
}

stop_writers() { stop_pid "$WRITERS_PID" 60; }

# start_stall FILE OUT: the 4 KiB / 0.5 ms writer on the volume.
start_stall() {
	rm -f "$T/stall.ready"
	spawn STALL_PID "$BIN/stall-probe" --file "$1" --out "$2" --ready "$T/stall.ready"
	wait_file "$T/stall.ready" 10
}

stop_stall() { stop_pid "$STALL_PID" 30; }

# ---- block level: an outer loop XFS (reflink) holding the image of an inner
# loop XFS; snapshots clone the image, the inner filesystem is what freezes ----

# make_block INNER_MOUNTPOINT: sets OUTER, INNER_IMG, INNER; keeps a thaw fd.
make_block() {
	OUTER=$T/outer
	make_xfs "$OUTER" 3G
	mkdir -p "$OUTER/clones"
	INNER_IMG=$OUTER/inner.img
	loop_image "$INNER_IMG" 512M
	mkfs.xfs -q -f "$LOOP_DEV"
	INNER=$1
	mount_fs "$LOOP_DEV" "$INNER"
	keep_thaw_fd "$INNER"
}
