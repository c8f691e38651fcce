# SPDX-License-Identifier: LGPL-2.1-or-later
"""Snapshot sets that mix providers (issue 5): two reflink-image volumes (an
XFS and an ext4 inside images on an outer XFS) and a btrfs subvolume.  The
service picks each provider by itself; the two block-level volumes are held
together; the set is all or nothing (a failing step leaves no member); a
delete removes every member."""

import json
import re
import subprocess

import pytest

from blockkit import kit, xfs, ext4, frozen  # noqa: F401 (fixtures)
from sctest import backup_steps


def ok(res):
    assert res.rc == 0, res
    return res


def btrfs_snapshots(mounts):
    d = mounts.btrfs / ".shadowcopy"
    return sorted(p.name for p in d.iterdir()) if d.exists() else []


def test_providers_listed(env):
    """The three providers are software providers; only reflink-image holds
    writes (lvm-thin's lvcreate freezes the filesystem itself)."""
    providers = json.loads(env.cli("providers", "--json").stdout)["providers"]
    assert [(p["name"], p["type"], p["holds_writes"]) for p in providers] == \
        [("btrfs", 2, False), ("reflink-image", 2, True), ("lvm-thin", 2, False)]


def test_btrfs_in_an_image(env, kit):
    """A btrfs inside an image on XFS: the service chooses btrfs for it (an
    atomic snapshot, no freeze); reflink-image takes it when named, and its
    clone checks clean."""
    inner = kit.volume("btrfs", "btrfs")
    auto = ok(env.requester(*backup_steps(inner.mnt, context="nas-rollback")))
    assert auto.step("do-snapshot")["snapshots"][0]["provider"] == "btrfs"
    assert "were held" not in env.daemon_log()
    named = ok(env.requester(*backup_steps(f"{inner.mnt},reflink-image",
                                           context="nas-rollback")))
    snap = named.step("do-snapshot")["snapshots"][0]
    assert snap["provider"] == "reflink-image" and "were held" in env.daemon_log()
    p = subprocess.run(["btrfs", "check", "--readonly", snap["location"]], capture_output=True,
                       text=True)
    assert p.returncode == 0, p.stderr
    env.cli("delete", "--all")


def test_mixed_set(env, kit, xfs, ext4, mounts, volume):
    """btrfs for the subvolume, reflink-image for the loop filesystems; one
    hold for both of these; the delete of the set removes all three."""
    before = (set(kit.clones()), set(btrfs_snapshots(mounts)))
    res = ok(env.requester(*backup_steps(volume, xfs.mnt, ext4.mnt, context="nas-rollback")))
    snaps = {s["volume_root"]: s for s in res.step("do-snapshot")["snapshots"]}
    assert snaps[str(volume)]["provider"] == "btrfs"
    assert snaps[str(xfs.mnt)]["provider"] == "reflink-image"
    assert snaps[str(ext4.mnt)]["provider"] == "reflink-image"
    assert all(s["count"] == 3 for s in snaps.values())
    assert len(re.findall(r"Writes to 2 filesystems were held", env.daemon_log())) == 1
    assert snaps[str(volume)]["snapshot_id"] in btrfs_snapshots(mounts)
    assert {snaps[str(xfs.mnt)]["snapshot_id"], snaps[str(ext4.mnt)]["snapshot_id"]} <= \
        set(kit.clones())
    env.cli("delete", "--set", snaps[str(volume)]["snapshot_set_id"])
    assert (set(kit.clones()), set(btrfs_snapshots(mounts))) == before
    assert env.snapshots() == []


@pytest.mark.parametrize("step", ["commit", "post_final_commit"])
def test_mixed_set_fails_whole(env_nostart, kit, xfs, ext4, mounts, volume, step):
    """A provider step that fails (after doing its work) fails the whole set:
    no member is left, in the catalog or on disk, and nothing stays frozen."""
    env = env_nostart
    env.start_daemon(extra=f"\n[testing]\nprovider-fail={step}\n")
    before = (set(kit.clones()), set(btrfs_snapshots(mounts)))
    res = env.requester(*backup_steps(volume, xfs.mnt, ext4.mnt, context="nas-rollback"))
    assert res.step("do-snapshot")["error"] == "UNEXPECTED_PROVIDER_ERROR", res
    assert (set(kit.clones()), set(btrfs_snapshots(mounts))) == before
    assert env.snapshots() == []
    assert not frozen(xfs.mnt) and not frozen(ext4.mnt)
