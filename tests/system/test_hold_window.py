# SPDX-License-Identifier: LGPL-2.1-or-later
"""The flush-and-hold window around the rest of the service (issue 5): while
writes are held nothing else of the service writes to disk (another
session's delete waits for the thaw); the service thaws before it exits on
SIGTERM; a service killed after the thaw leaves a half-made clone that the
next start removes.  The commit is slowed by the [testing] switch so that
the window stays open long enough to act in it."""

import re
import signal

import pytest

from blockkit import kit, xfs, ext4, frozen  # noqa: F401 (fixtures)
from sctest import DEBUG_LOG, backup_steps, loop_devices_of, wait_until

SLOW_COMMIT = DEBUG_LOG + "[timeouts]\nhold-ms=20000\n[testing]\nprovider-delay-ms=commit:{ms}\n"


def ok(res):
    assert res.rc == 0, res
    return res


def held_set(env, *volumes):
    """Start a set of @volumes with a writer on the first one; return the
    requester once the service holds writes (its debug log says so)."""
    env.start_writer(file_sets=[volumes[0] / "app"])
    req = env.start_requester(*backup_steps(*volumes, context="app-rollback"))
    wait_until(lambda: "Holding writes" in env.daemon_log(), 10, "the hold")
    return req


@pytest.mark.slow
def test_other_sessions_wait_for_the_thaw(env_nostart, kit, xfs, mounts, volume):
    """A delete asked for while another session holds writes is done, and
    answered, only after the thaw."""
    env = env_nostart
    env.start_daemon(extra=SLOW_COMMIT.format(ms=1500))
    made = ok(env.requester(*backup_steps(volume, context="nas-rollback")))
    snap_id = made.step("do-snapshot")["snapshots"][0]["snapshot_id"]
    req = held_set(env, xfs.mnt)
    env.cli("delete", snap_id)
    log = env.daemon_log()
    held, deleted = log.find("were held for"), log.find(f"Deleted snapshot {snap_id}")
    assert 0 <= held < deleted, log
    ok(req.wait())


@pytest.mark.slow
def test_sigterm_thaws_first(env_nostart, kit, xfs, ext4):
    """SIGTERM during the hold: the filesystems are thawed at once, not when
    the slow commit returns, and the service then exits cleanly."""
    env = env_nostart
    env.start_daemon(extra=SLOW_COMMIT.format(ms=2500))
    held_set(env, xfs.mnt, ext4.mnt)
    env.daemon_may_exit = True
    env.stop_daemon(signal.SIGTERM)
    assert env.daemon.returncode == 0
    held = re.search(r"were held for ([\d.]+) ms", env.daemon_log())
    assert held and float(held.group(1)) < 2000, env.daemon_log()
    assert not frozen(xfs.mnt) and not frozen(ext4.mnt)


@pytest.mark.slow
def test_restart_removes_half_made_clones(env_nostart, kit, xfs, ext4):
    """Killed after the thaw, before the set was complete: the next start
    removes its clones (recovery), and no loop device is left."""
    env = env_nostart
    env.start_daemon(extra="\n[testing]\nprovider-delay-ms=pre_final_commit:5000\n")
    before = set(kit.clones())
    env.start_requester(*backup_steps(xfs.mnt, ext4.mnt, context="nas-rollback"))
    wait_until(lambda: "were held for" in env.daemon_log(), 10, "the thaw")
    wait_until(lambda: len(set(kit.clones()) - before) == 2, 10, "the clones")
    made = set(kit.clones()) - before
    env.stop_daemon(signal.SIGKILL)
    assert not frozen(xfs.mnt) and not frozen(ext4.mnt)
    env.write_config()
    env.start_daemon()
    wait_until(lambda: set(kit.clones()) == before, 10, "recovery to remove the clones")
    assert env.snapshots() == []
    for name in made:
        assert loop_devices_of(kit.outer / ".shadowcopy" / name) == []
