# SPDX-License-Identifier: LGPL-2.1-or-later
# lib.sh - helpers of the guest driver (busybox sh, sourced by cases): the
# service, test writers and the test requester of the build, each case's
# result directory, and what LVM and the snapshots hold.  Nothing here
# judges a result: the host's pytest module (test_lvm_vm.py) does, from the
# files each case leaves in its directory.  Processes are stopped by PID.

SC=/sc/bin
RUN=/run/sc              # sockets and state of the service
OUT=                     # the current case's result directory
WRITERS=                 # PIDs of the test writers started
NWRITERS=0
DAEMON_PID=

now() { cut -d' ' -f1 /proc/uptime; }
log() { echo "[$(now)] $*"; }

# time_of COMMAND...: how long COMMAND took, in seconds (its output dropped).
time_of() {
	local start=$(now)
	"$@" >/dev/null 2>&1
	echo "$start $(now)" | awk '{ printf "%.2f", $2 - $1 }'
}

# wait_for SECONDS COMMAND...: poll COMMAND every 0.1 s; 1 on timeout.
wait_for() {
	local limit=$1 i=0
	shift
	while ! "$@"; do
		i=$((i + 1))
		[ $i -ge $(($limit * 10)) ] && return 1
		sleep 0.1
	done
}

# case_begin NAME: a new result directory; the case's trace goes there.
case_begin() {
	OUT=$RESULTS/$1
	mkdir -p "$OUT"
	now >"$OUT/start"
	LOG_START=$(cat $RUN/daemon.log 2>/dev/null | wc -c)
	log "case $1"
}

# case_end: what LVM holds now, what the service logged during the case,
# the duration.
case_end() {
	lvs_json >"$OUT/lvs.json" 2>&1
	tail -c +$((LOG_START + 1)) $RUN/daemon.log >"$OUT/daemon.log" 2>/dev/null
	now >"$OUT/end"
}

lvs_json() {
	lvm lvs --reportformat json -o vg_name,lv_name,lv_attr,origin,lv_tags,data_percent "$@"
}

# daemon_start [TESTING-LINE...]: shadowcopyd with small deadlines where
# the cases wait for them, debug logging (each provider call) and the
# [testing] lines given.
daemon_start() {
	mkdir -p $RUN/state
	{
		printf '[timeouts]\nhandshake-ms=10000\nidentify-ms=20000\nabort-ms=20000\n'
		printf 'backup-shutdown-ms=20000\nprovider-commit-ms=30000\n'
		printf '\n[service]\nlog-level=debug\n'
		if [ $# -gt 0 ]; then
			printf '\n[testing]\n'
			printf '%s\n' "$@"
		fi
	} >$RUN/shadowcopyd.conf
	$SC/shadowcopyd --socket $RUN/sc.sock --writer-socket $RUN/w.sock \
		--state-dir $RUN/state --config $RUN/shadowcopyd.conf >>$RUN/daemon.log 2>&1 &
	DAEMON_PID=$!
	wait_for 30 cli writers --json >/dev/null 2>&1 || log "shadowcopyd did not start"
}

daemon_stop() {
	[ -n "$DAEMON_PID" ] || return 0
	kill "$DAEMON_PID"
	wait "$DAEMON_PID"
	DAEMON_PID=
}

cli() { $SC/shadowcopy --socket $RUN/sc.sock "$@"; }

# writer NAME OPTIONS...: a test writer (events in $OUT/NAME.events),
# waited for until it has subscribed.
writer() {
	local name=$1
	shift
	$SC/test-writer --socket $RUN/w.sock --class "$(cat /proc/sys/kernel/random/uuid)" \
		--name "$name" --log "$OUT/$name.events" --ready-file "$OUT/$name.ready" "$@" \
		>"$OUT/$name.out" 2>"$OUT/$name.err" &
	WRITERS="$WRITERS $!"
	wait_for 30 test -f "$OUT/$name.ready" || log "writer $name did not subscribe"
}

writers_stop() {
	local pid
	for pid in $WRITERS; do
		kill "$pid"
		wait "$pid"
	done
	WRITERS=
}

# requester NAME STEP...: the test requester; its lines in $OUT/NAME.out,
# its exit status in $OUT/NAME.rc.
requester() {
	local name=$1
	shift
	timeout 300 $SC/test-requester --socket $RUN/sc.sock "$@" >"$OUT/$name.out" \
		2>"$OUT/$name.err"
	echo $? >"$OUT/$name.rc"
}

# requester_bg NAME STEP...: the same in the background ($! is its PID).
requester_bg() {
	local name=$1
	shift
	$SC/test-requester --socket $RUN/sc.sock "$@" >"$OUT/$name.out" 2>"$OUT/$name.err" &
}

# The steps of a volume-mode backup of the paths given, up to a
# successful do_snapshot_set (sctest.backup_steps).
backup() {
	local v steps="init backup-state=volume gather start-set"
	for v; do steps="$steps add-volume=$v"; done
	echo "$steps prepare do-snapshot"
}

# locations FILE: the snapshot locations printed in FILE, one per line.
locations() {
	grep -o '"location": *"[^"]*"' "$1" | sed 's/.*"\([^"]*\)"$/\1/' | sort -u
}

# snapshot_ids FILE: the snapshot ids add-volume printed in FILE.
snapshot_ids() {
	grep '"step":"add-volume"' "$1" | grep -o '"snapshot_id":"[^"]*"' |
		sed 's/.*"\([^"]*\)"$/\1/'
}

# read_snapshot DEVICE NAME: mount the snapshot read-only and keep what
# it holds in $OUT/NAME.files ("file: content" lines), the kernel's words
# about the mount in $OUT/NAME.dmesg and the mount's status in
# $OUT/NAME.mount.
read_snapshot() {
	local dev=$1 name=$2 opts=ro f lines
	[ "$(blkid_type "$dev")" = xfs ] && opts=ro,nouuid
	mkdir -p /snap
	lines=$(dmesg | wc -l)
	if mount -o $opts "$dev" /snap 2>"$OUT/$name.mount"; then
		echo "mounted $opts" >>"$OUT/$name.mount"
		for f in /snap/*; do
			[ -f "$f" ] && echo "${f#/snap/}: $(cat "$f")"
		done >"$OUT/$name.files"
		touch /snap/written-to-a-snapshot 2>>"$OUT/$name.mount" &&
			echo "writable" >>"$OUT/$name.mount"
		umount /snap
	fi
	dmesg | tail -n +$((lines + 1)) >"$OUT/$name.dmesg"
}

# The filesystem type on a device, from its superblock's magic.
blkid_type() {
	if [ "$(dd if="$1" bs=4 count=1 2>/dev/null)" = XFSB ]; then echo xfs; else echo other; fi
}

# frozen MOUNT: "frozen" when FIFREEZE says EBUSY (nothing is written to
# find out), else "not frozen" (it was frozen and thawed at once).
frozen() {
	if fsfreeze --freeze "$1" 2>/dev/null; then
		fsfreeze --unfreeze "$1"
		echo "not frozen"
	else
		echo "frozen"
	fi
}
