# SPDX-License-Identifier: LGPL-2.1-or-later
"""The reflink-image provider under flush-and-hold (issue 5): inner XFS and
ext4 loop filesystems whose images lie on an outer XFS, written to by a
workload while their snapshots are made.  Each clone is a clean filesystem
that mounts read-only, holds every record acknowledged before the writers'
Freeze and none issued after their Thaw; two volumes of one set are cut at
one point in time; a commit slowed past the hold limit gives
HOLD_WRITES_TIMEOUT with everything thawed and nothing left."""

import array
import fcntl
import os
import re
from pathlib import Path

import pytest

from blockkit import kit, xfs, ext4, frozen  # noqa: F401 (fixtures)
from sctest import backup_steps, loop_devices_of, wait_until

FS_IOC_GETFLAGS = 0x80086601
FS_IMMUTABLE_FL = 0x10


def ok(res):
    assert res.rc == 0, res
    return res


def immutable(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        buf = array.array("l", [0])
        fcntl.ioctl(fd, FS_IOC_GETFLAGS, buf)
        return bool(buf[0] & FS_IMMUTABLE_FL)
    finally:
        os.close(fd)


def last_event(writer, name, set_id):
    found = [e for e in writer.events() if e["event"] == name and e.get("set") == set_id]
    assert found, f"the writer got no {name} for set {set_id}: {writer.event_names()}"
    return found[-1]


def test_clones_hold_what_was_acknowledged(env, kit, xfs, ext4):
    """Snapshots of an XFS and an ext4 volume under a workload: each clone
    lies in .shadowcopy/ beside its image, is read-only and immutable, is
    attached to no loop device, checks clean and mounts read-only (the XFS
    one without norecovery: its log was replayed), and holds every record
    acknowledged before the writer's Freeze and none issued after its Thaw."""
    writer = env.start_writer(file_sets=[xfs.mnt / "app", ext4.mnt / "app"])
    load = kit.start_workload(xfs.mnt / "records", ext4.mnt / "records")
    load.wait_records(20)
    for _ in range(2):
        res = ok(env.requester(*backup_steps(xfs.mnt, ext4.mnt, context="app-rollback"),
                               "backup-complete"))
        snaps = res.step("do-snapshot")["snapshots"]
        set_id = snaps[0]["snapshot_set_id"]
        freeze_t = last_event(writer, "freeze", set_id)["t"]
        thaw_t = last_event(writer, "thaw", set_id)["t"]
        steps = load.steps()
        acked = max((n for n, _, a in steps if a < freeze_t), default=0)
        load.wait_records(len(steps) + 5)  # some issued after the Thaw
        issued_after = min(n for n, i, _ in load.steps() if i > thaw_t)
        assert acked > 0
        listed = {s["snapshot_id"]: s for s in env.snapshots()}
        for vol in (xfs, ext4):
            snap = next(s for s in snaps if s["volume_root"] == str(vol.mnt))
            clone = Path(snap["location"])
            assert snap["provider"] == "reflink-image"
            assert clone == kit.outer / ".shadowcopy" / snap["snapshot_id"]
            assert listed[snap["snapshot_id"]]["location"] == str(clone)
            assert clone.stat().st_mode & 0o777 == 0o444 and immutable(clone)
            assert loop_devices_of(clone) == []
            kit.check_clone(clone, vol.fstype)
            last = kit.read_clone(clone, vol.fstype, "records")
            assert acked <= last < issued_after, (vol.fstype, acked, last, issued_after)
    assert not frozen(xfs.mnt) and not frozen(ext4.mnt)


def test_two_volumes_one_point_in_time(env, kit, xfs, ext4):
    """A workload writes each number to both volumes in turn; every set's two
    clones end at the same number, because both filesystems were frozen
    together.  The workload writes in the order the service freezes (by
    device): the first volume frozen is the first written.  Deleting a set
    removes its clones."""
    first, second = sorted((xfs, ext4), key=lambda v: v.dev)
    load = kit.start_workload(first.mnt / "seq", second.mnt / "seq")
    before = set(kit.clones())
    previous = 0
    for _ in range(4):
        load.wait_records(previous + 10)
        res = ok(env.requester(*backup_steps(first.mnt, second.mnt, context="nas-rollback")))
        snaps = res.step("do-snapshot")["snapshots"]
        lasts = {s["volume_root"]: kit.read_clone(s["location"],
                                                  xfs.fstype if s["volume_root"] == str(xfs.mnt)
                                                  else ext4.fstype, "seq")
                 for s in snaps}
        assert len(set(lasts.values())) == 1, lasts
        assert lasts[str(first.mnt)] > previous
        previous = lasts[str(first.mnt)]
        env.cli("delete", "--set", snaps[0]["snapshot_set_id"])
        assert set(kit.clones()) == before
    assert env.snapshots() == []


@pytest.mark.slow
def test_hold_limit(env_nostart, kit, xfs, ext4):
    """A commit slowed past the hold limit (hold-ms) gives HOLD_WRITES_TIMEOUT:
    both filesystems are thawed at the limit, while the commit still runs;
    the writer gets Abort; when do_snapshot_set fails nothing is left: no
    clone, no catalog row, no loop device, nothing frozen (T27, T28)."""
    env = env_nostart
    env.start_daemon(extra="\n[timeouts]\nhold-ms=500\n[testing]\nprovider-delay-ms=commit:2500\n")
    writer = env.start_writer(file_sets=[xfs.mnt / "app"])
    before = set(kit.clones())
    req = env.start_requester(*backup_steps(xfs.mnt, ext4.mnt, context="app-rollback"))
    wait_until(lambda: "were held for" in env.daemon_log(), 10, "the thaw at the hold limit")
    assert not frozen(xfs.mnt) and not frozen(ext4.mnt)
    assert req.proc.poll() is None  # the commit still sleeps: thawed before it returned
    res = req.wait()
    assert res.step("do-snapshot")["error"] == "HOLD_WRITES_TIMEOUT"
    held = re.search(r"were held for ([\d.]+) ms", env.daemon_log())
    assert held and float(held.group(1)) < 1500, env.daemon_log()
    assert "abort" in writer.event_names() and "thaw" not in writer.event_names()
    assert set(kit.clones()) == before
    assert env.snapshots() == []
    assert not frozen(xfs.mnt) and not frozen(ext4.mnt)
