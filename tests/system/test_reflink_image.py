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
    load.stop()
    assert not frozen(xfs.mnt) and not frozen(ext4.mnt)


def two_volume_sets(env, kit, first, second, load, count, context):
    """Make @count sets of @first and @second while @load runs; yield the
    last record number of the workload's file in each clone, (first,
    second), deleting each set."""
    before = set(kit.clones())
    for _ in range(count):
        load.wait_records(len(load.steps()) + 10)
        steps = backup_steps(first.mnt, second.mnt, context=context)
        res = ok(env.requester(*steps, *(["backup-complete"] if context == "app-rollback"
                                        else [])))
        snaps = {s["volume_root"]: s for s in res.step("do-snapshot")["snapshots"]}
        yield tuple(kit.read_clone(snaps[str(v.mnt)]["location"], v.fstype, f.name)
                    for v, f in zip((first, second), load.files))
        env.cli("delete", "--set", snaps[str(first.mnt)]["snapshot_set_id"])
        assert set(kit.clones()) == before
    assert env.snapshots() == []


def test_two_volumes_one_point_in_time(env, kit, xfs, ext4):
    """A workload writes each number to both volumes in turn, without a
    writer.  Both filesystems are frozen together (the first written is the
    first frozen: the service freezes by device), so every set's clones are
    one cut of that workload: the first volume holds the same number as the
    second, or the next one when the cut fell between the two writes of a
    step; never an older one, as two snapshots one after the other would
    give.  Deleting a set removes its clones."""
    first, second = sorted((xfs, ext4), key=lambda v: v.dev)
    load = kit.start_workload(first.mnt / "in-step", second.mnt / "in-step")
    previous = 0
    for a, b in two_volume_sets(env, kit, first, second, load, 4, "nas-rollback"):
        assert a - b in (0, 1) and b > previous, (a, b)
        previous = b
    load.stop()


def test_two_volumes_same_number_with_a_writer(env, kit, xfs, ext4):
    """The same workload quiesced by its writer between Freeze and Thaw (it
    waits between steps while its pause file says so; the writer's Freeze
    handler gives it time to finish its step): every set's two clones end at
    the same number."""
    first, second = sorted((xfs, ext4), key=lambda v: v.dev)
    load = kit.start_workload(first.mnt / "quiesced", second.mnt / "quiesced")
    env.start_writer(file_sets=load.files, delay="freeze:100", touch=load.writer_touches())
    previous = 0
    for a, b in two_volume_sets(env, kit, first, second, load, 3, "app-rollback"):
        assert a == b and b > previous, (a, b)
        previous = b
    load.stop()


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
