# SPDX-License-Identifier: LGPL-2.1-or-later
"""The freeze guardian and the freeze record (issue 6, design.md "Freeze
safety" 3): whatever dies during a flush-and-hold, nothing stays frozen.
The daemon SIGKILLed during the hold: its guardian thaws within a second
and removes the record.  The guardian SIGKILLed during the hold: the
service thaws at once, the set fails with UNEXPECTED and a new guardian
runs; outside the hold its death changes nothing.  The daemon SIGSTOPped
during the hold: the guardian thaws at its deadline.  Both killed: the
record is replayed by `shadowcopyd --recover` and by the next start, which
leave alone what the record does not name on this boot and device.

The hold is made long with the [testing] commit delay of the reflink-image
provider, on inner XFS and ext4 loop filesystems (blockkit.py); whether a
filesystem is frozen is probed with FIFREEZE (EBUSY), never by writing.
Every process is signalled by the PID we started it with, or, for the
guardian, found as our daemon's child with --guardian in its command line."""

import json
import os
import re
import signal
import subprocess
import time
import uuid

import pytest

from blockkit import kit, xfs, ext4, frozen  # noqa: F401 (fixtures)
from sctest import DEBUG_LOG, SHADOWCOPYD, backup_steps, read_text, scaled, wait_until

SLOW_COMMIT = DEBUG_LOG + "[timeouts]\nhold-ms={hold}\n[testing]\nprovider-delay-ms=commit:{ms}\n"
# The guardian's deadline is the hold limit plus this (guardian.h).
MARGIN_S = 1.0


def ok(res):
    assert res.rc == 0, res
    return res


def alive(pid):
    """Whether @pid exists and is not a zombie."""
    stat = read_text(f"/proc/{pid}/stat")
    return bool(stat) and stat[stat.rfind(")") + 2:].split()[0] != "Z"


def guardians(daemon_pid):
    """The live guardians of shadowcopyd @daemon_pid: its children whose
    command line has --guardian."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        status = read_text(f"/proc/{entry}/status")
        ppid = re.search(r"^PPid:\s+(\d+)", status, re.M)
        if ppid and int(ppid.group(1)) == daemon_pid and alive(int(entry)) and \
                "--guardian" in read_text(f"/proc/{entry}/cmdline").split("\0"):
            found.append(int(entry))
    return found


def guardian_of(env, other_than=None):
    """The pid of the one guardian of env's daemon (not @other_than)."""
    def one():
        g = [p for p in guardians(env.daemon.pid) if p != other_than]
        assert len(g) <= 1, f"more than one guardian: {g}"
        return g[0] if g else None

    return wait_until(one, 5, "the guardian of shadowcopyd")


def record(env):
    return env.state_dir / "freeze-record"


def read_record(env):
    return json.loads(record(env).read_text())


def held_set(env, *volumes):
    """A set of @volumes with a writer on the first one, started in the
    background; the requester once writes are held."""
    env.start_writer(file_sets=[volumes[0] / "app"])
    req = env.start_requester(*backup_steps(*volumes, context="app-rollback"))
    wait_until(lambda: "Holding writes" in env.daemon_log(), 10, "the hold")
    return req


def time_to_thawed(start, *volumes, timeout=5):
    """Seconds from @start (time.monotonic()) until none of @volumes is frozen."""
    wait_until(lambda: not any(frozen(v.mnt) for v in volumes), timeout, "the thaw")
    return time.monotonic() - start


def kill(proc_or_pid, sig=signal.SIGKILL):
    if isinstance(proc_or_pid, int):
        os.kill(proc_or_pid, sig)
    else:
        proc_or_pid.send_signal(sig)


def recover(env):
    return subprocess.run([str(SHADOWCOPYD), "--recover", "--state-dir", str(env.state_dir),
                           "--config", str(env.config)], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=scaled(30))


def new_set_succeeds(env, *volumes):
    """A set after the trouble is made, and the filesystems are thawed."""
    res = ok(env.requester(*backup_steps(*[v.mnt for v in volumes], context="nas-rollback")))
    assert len(res.step("do-snapshot")["snapshots"]) == len(volumes)
    assert not any(frozen(v.mnt) for v in volumes)


def kill_both_during_the_hold(env, xfs, ext4):
    """Hold writes, then SIGKILL the guardian and the daemon (stopped first,
    so that it cannot thaw when it sees its guardian die): the filesystems
    stay frozen, the record names them."""
    env.start_daemon(extra=SLOW_COMMIT.format(hold=20000, ms=5000))
    held_set(env, xfs.mnt, ext4.mnt)
    guardian = guardian_of(env)
    kill(env.daemon, signal.SIGSTOP)
    kill(guardian)
    kill(env.daemon)
    env.daemon.wait(timeout=scaled(10))
    env.daemon_may_exit = True
    wait_until(lambda: not alive(guardian), 5, "the guardian to die")
    assert frozen(xfs.mnt) and frozen(ext4.mnt)
    rec = read_record(env)
    assert {f["path"] for f in rec["filesystems"]} == {str(xfs.mnt), str(ext4.mnt)}
    env.write_config()  # no more commit delay


def test_guardian_is_a_quiet_child(env):
    """One guardian, the daemon's child, re-executed from its program with
    --guardian; its stdin, stdout and stderr are /dev/null (it never blocks
    on a pipe nor writes to a file); SIGTERM does not end it, the end of
    its daemon does."""
    daemon = env.daemon.pid
    g = guardian_of(env)
    assert os.readlink(f"/proc/{g}/exe") == os.readlink(f"/proc/{daemon}/exe")
    assert read_text(f"/proc/{g}/cmdline").split("\0")[:2] == ["shadowcopyd", "--guardian"]
    for fd in (0, 1, 2):
        assert os.readlink(f"/proc/{g}/fd/{fd}") == "/dev/null"
    kill(g, signal.SIGTERM)
    time.sleep(0.2)
    assert alive(g) and guardians(daemon) == [g]
    env.daemon_may_exit = True
    env.stop_daemon()
    wait_until(lambda: not alive(g), 5, "the guardian to exit with its daemon")


def test_daemon_killed_during_the_hold(env_nostart, kit, xfs, ext4):
    """shadowcopyd SIGKILLed while it holds writes to an XFS and an ext4:
    its guardian sees the link's end and thaws both in well under a second,
    removes the freeze record (which named both, with their devices, this
    boot and the daemon's pid) and exits.  The next start removes the
    half-made set and a new set succeeds (B17: nothing of the set stays)."""
    env = env_nostart
    env.start_daemon(extra=SLOW_COMMIT.format(hold=20000, ms=5000))
    held_set(env, xfs.mnt, ext4.mnt)
    guardian = guardian_of(env)
    rec = read_record(env)
    assert rec["pid"] == env.daemon.pid
    assert rec["boot_id"] == read_text("/proc/sys/kernel/random/boot_id").strip()
    assert {(f["path"], f["dev"]) for f in rec["filesystems"]} == \
        {(str(xfs.mnt), xfs.dev), (str(ext4.mnt), ext4.dev)}
    assert frozen(xfs.mnt) and frozen(ext4.mnt)
    start = time.monotonic()
    kill(env.daemon)
    took = time_to_thawed(start, xfs, ext4)
    print(f"time to thawed after SIGKILL of the daemon: {took * 1000:.1f} ms")
    assert took < 1.0
    wait_until(lambda: not record(env).exists(), 5, "the guardian to remove the record")
    wait_until(lambda: not alive(guardian), 5, "the guardian to exit")
    env.daemon.wait(timeout=scaled(10))
    env.write_config()
    env.start_daemon()
    wait_until(lambda: env.snapshots() == [], 10, "recovery to remove the half-made set")
    new_set_succeeds(env, xfs, ext4)


@pytest.mark.slow
def test_guardian_killed_during_the_hold(env_nostart, kit, xfs, ext4):
    """The guardian SIGKILLed while writes are held: nothing guards the hold
    any more, so the service thaws at once (not when the slow commit
    returns) and the set fails with UNEXPECTED, an internal failure of the
    service after PrepareForSnapshot: the writer gets Abort, never Thaw (A4,
    B7), and nothing of the set is left (B17).  A new guardian runs, and
    the next set succeeds."""
    env = env_nostart
    env.start_daemon(extra=SLOW_COMMIT.format(hold=20000, ms=3000))
    writer_req = held_set(env, xfs.mnt, ext4.mnt)
    guardian = guardian_of(env)
    start = time.monotonic()
    kill(guardian)
    took = time_to_thawed(start, xfs, ext4)
    assert took < 1.0
    assert writer_req.proc.poll() is None  # the commit still sleeps
    res = writer_req.wait()
    assert res.step("do-snapshot")["error"] == "UNEXPECTED", res
    writer = env.writers[0]
    assert "abort" in writer.event_names() and "thaw" not in writer.event_names()
    assert "died while writes were held" in env.daemon_log()
    new = guardian_of(env, other_than=guardian)
    assert new != guardian
    assert not record(env).exists()
    assert env.snapshots() == []
    new_set_succeeds(env, xfs, ext4)


@pytest.mark.slow
def test_guardian_killed_outside_the_hold(env_nostart, kit, xfs, ext4):
    """The guardian SIGKILLed before the hold (during end_prepare) and after
    it (during post_final_commit) changes nothing for the set: it succeeds,
    its hold guarded by the guardian started in place of the first."""
    env = env_nostart
    env.start_daemon(extra=DEBUG_LOG + "[testing]\nprovider-delay-ms=end_prepare:1500\n"
                     "provider-delay-ms=post_final_commit:1500\n")
    req = env.start_requester(*backup_steps(xfs.mnt, ext4.mnt, context="nas-rollback"))
    wait_until(lambda: "begin_prepare" in env.daemon_log(), 10, "begin_prepare")
    first = guardian_of(env)
    kill(first)
    second = guardian_of(env, other_than=first)
    wait_until(lambda: "were held for" in env.daemon_log(), 10, "the hold's end")
    kill(second)
    res = ok(req.wait())
    assert len(res.step("do-snapshot")["snapshots"]) == 2
    guardian_of(env, other_than=second)
    assert env.daemon_log().count("died, starting another") == 2
    assert not frozen(xfs.mnt) and not frozen(ext4.mnt)


@pytest.mark.slow
def test_guardian_dead_before_it_answered(env_nostart, kit, xfs, ext4):
    """A guardian that dies before it answers the hold (stopped, then
    killed) is replaced and the new one is asked: the hold starts only once
    a live guardian holds the filesystems, and the set succeeds."""
    env = env_nostart
    env.start_daemon(extra=DEBUG_LOG + "[testing]\nprovider-delay-ms=end_prepare:1000\n")
    req = env.start_requester(*backup_steps(xfs.mnt, ext4.mnt, context="nas-rollback"))
    wait_until(lambda: "begin_prepare" in env.daemon_log(), 10, "begin_prepare")
    stopped = guardian_of(env)
    kill(stopped, signal.SIGSTOP)
    wait_until(lambda: "Asked the freeze guardian to hold" in env.daemon_log(), 10, "the ask")
    time.sleep(0.3)
    assert "Holding writes" not in env.daemon_log()
    assert not frozen(xfs.mnt) and not frozen(ext4.mnt)
    kill(stopped)
    res = ok(req.wait())
    assert len(res.step("do-snapshot")["snapshots"]) == 2
    guardian_of(env, other_than=stopped)


@pytest.mark.slow
def test_daemon_stopped_during_the_hold(env_nostart, kit, xfs, ext4):
    """shadowcopyd SIGSTOPped while it holds writes: its guardian thaws both
    filesystems at its deadline (the hold limit plus its margin, T28).
    Continued, the service fails the set with HOLD_WRITES_TIMEOUT, thaws
    (nothing left to do), removes the record, and makes the next set."""
    env = env_nostart
    hold_ms = 2000
    env.start_daemon(extra=SLOW_COMMIT.format(hold=hold_ms, ms=1000))
    req = held_set(env, xfs.mnt, ext4.mnt)
    kill(env.daemon, signal.SIGSTOP)
    try:
        start = time.monotonic()
        took = time_to_thawed(start, xfs, ext4, timeout=10)
        assert hold_ms / 1000 - 0.5 < took < hold_ms / 1000 + MARGIN_S + 1, took
        assert record(env).exists()  # the stopped service removes it itself
    finally:
        kill(env.daemon, signal.SIGCONT)
    res = req.wait()
    assert res.step("do-snapshot")["error"] == "HOLD_WRITES_TIMEOUT", res
    assert "thawed at its deadline" in env.daemon_log()
    wait_until(lambda: not record(env).exists(), 5, "the record to go")
    assert not frozen(xfs.mnt) and not frozen(ext4.mnt)
    new_set_succeeds(env, xfs, ext4)


@pytest.mark.slow
def test_both_killed_recover(env_nostart, kit, xfs, ext4):
    """The daemon and its guardian both SIGKILLed during the hold: the
    filesystems stay frozen; `shadowcopyd --recover` thaws both, prints one
    line for each, removes the record and exits 0; run again it finds
    nothing and says nothing."""
    env = env_nostart
    kill_both_during_the_hold(env, xfs, ext4)
    p = recover(env)
    assert p.returncode == 0, p.stderr
    first, second = sorted((xfs, ext4), key=lambda v: v.dev, reverse=True)
    assert p.stdout.splitlines() == [f"Thawed {first.mnt}", f"Thawed {second.mnt}"]
    assert not frozen(xfs.mnt) and not frozen(ext4.mnt)
    assert not record(env).exists()
    p = recover(env)
    assert p.returncode == 0 and p.stdout == "", p


@pytest.mark.slow
def test_both_killed_restart(env_nostart, kit, xfs, ext4):
    """The daemon and its guardian both SIGKILLed during the hold: a plain
    start of shadowcopyd thaws what the record names before it serves, and
    a new set succeeds."""
    env = env_nostart
    kill_both_during_the_hold(env, xfs, ext4)
    env.start_daemon()
    log = env.daemon_log()
    thawed, ready = log.find(f"Thawed {xfs.mnt}"), log.rfind("ready")
    assert 0 <= thawed < ready and f"Thawed {ext4.mnt}" in log, log
    assert not record(env).exists()
    new_set_succeeds(env, xfs, ext4)


def test_record_not_ours_is_left_alone(env_nostart, kit, xfs):
    """A record of another boot, or naming a mount point whose device is no
    longer the one recorded, or not JSON at all, thaws nothing (a filesystem
    frozen by someone else stays frozen) and is removed.  One that names
    the filesystem on this boot thaws it."""
    env = env_nostart
    env.write_config()
    env.state_dir.mkdir()
    boot = read_text("/proc/sys/kernel/random/boot_id").strip()

    def write(boot_id, dev):
        record(env).write_text(json.dumps({
            "version": 1, "boot_id": boot_id, "pid": 1, "set_id": str(uuid.uuid4()),
            "time_usec": 0, "filesystems": [{"path": str(xfs.mnt), "dev": dev}]}))

    kit.freeze(xfs.mnt)
    try:
        for boot_id, dev in ((str(uuid.uuid4()), xfs.dev), (boot, xfs.dev + 1)):
            write(boot_id, dev)
            p = recover(env)
            assert p.returncode == 0 and p.stdout == "", p
            assert "left alone" in p.stderr
            assert frozen(xfs.mnt) and not record(env).exists()
        record(env).write_text("{not json")
        p = recover(env)
        assert p.returncode == 0 and p.stdout == "" and not record(env).exists(), p
        assert frozen(xfs.mnt)
        write(boot, xfs.dev)
        p = recover(env)
        assert p.returncode == 0 and p.stdout == f"Thawed {xfs.mnt}\n", p
        assert not frozen(xfs.mnt) and not record(env).exists()
    finally:
        if frozen(xfs.mnt):
            kit.thaw(xfs.mnt)
        else:
            os.close(kit.freeze_fds.pop(str(xfs.mnt)))
