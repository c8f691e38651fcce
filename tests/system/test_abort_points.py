# SPDX-License-Identifier: LGPL-2.1-or-later
"""abort_backup at every point from StartSnapshotSet to BackupComplete,
twice in a row each time (issue 4; vss-model A1, B1, B2, B5, B6, B13, T35,
T36, T39), and cancelling a running operation, which behaves as abort_backup
(B12).  A point "during" an operation is reached with a writer that is slow
in that event (or a slow provider commit while the writers are frozen): the
test requester starts the operation, sleeps well inside the slow part, then
aborts.  Two writers take part: "slow" (slow where the point needs it) and
"fast"; "other" never takes part."""

import pytest

from abortkit import (STABLE, assert_no_snapshot_left, backup_start, count, errors, names,
                      provider_calls, start, wait_shutdown, writer)
from abortkit import abort_fs, vol  # noqa: F401 (fixtures)
from sctest import wait_until

SLOW_MS = 1500  # the slow part
INSIDE_MS = 400  # when the abort comes, from the start of the operation

# point: (steps before the two aborts, steps after, slow writer options,
#         [testing] lines)
POINTS = {
    "after-start-set": ("set", [], {}, []),
    "after-add-volume": ("volume", [], {}, []),
    "during-prepare": ("prepare-async", ["wait"], {"delay": f"prepare_backup:{SLOW_MS}"}, []),
    "after-prepare": ("prepared", [], {}, []),
    "during-prepare-snapshot": ("do-async", ["wait"],
                                {"delay": f"prepare_snapshot:{SLOW_MS}"}, []),
    "during-freeze-window": ("do-async", ["wait"], {},
                             [f"provider-delay-ms=commit:{SLOW_MS}"]),
    "during-post-snapshot": ("do-async", ["wait"], {"delay": f"post_snapshot:{SLOW_MS}"},
                             []),
    "after-do-snapshot": ("done", ["backup-complete"], {}, []),
    "during-backup-complete": ("complete-async", ["wait"],
                               {"delay": f"backup_complete:{SLOW_MS}"}, []),
    "after-backup-complete": ("complete", [], {}, []),
}


def steps_before(kind, vol):
    """The steps of a POINTS kind, up to the aborts."""
    prepared = backup_start(vol) + ["prepare"]
    return {
        "set": backup_start(vol)[:-1],
        "volume": backup_start(vol),
        "prepare-async": backup_start(vol) + ["prepare-async", f"sleep={INSIDE_MS}"],
        "prepared": prepared,
        "do-async": prepared + ["do-snapshot-async", f"sleep={INSIDE_MS}"],
        "done": prepared + ["do-snapshot"],
        "complete-async": prepared + ["do-snapshot", "backup-complete-async",
                                      f"sleep={INSIDE_MS}"],
        "complete": prepared + ["do-snapshot", "backup-complete"],
    }[kind]


@pytest.mark.parametrize("point", list(POINTS))
def test_abort_backup_at_every_point(env_nostart, abort_fs, vol, point):
    """abort_backup at @point, twice: both calls succeed; the running
    operation (if any) ends CANCELLED, except backup_complete, which abort
    does not stop; who gets Abort follows vss-model 6: nobody before
    PrepareForBackup (B1) or after PostSnapshot was handled (B5, T35),
    else each participant once (A1, T36, T39), and after it nothing but
    BackupShutdown (B6); the providers abort only once they prepared (B13);
    no snapshot of an abandoned set remains (B17)."""
    before, after_steps, slow_opts, testing = POINTS[point]
    # The slow writer answers Abort only after its slow handler: give it time.
    env = start(env_nostart, timeouts={"abort": 4 * SLOW_MS}, testing=testing)
    slow = writer(env, vol, name="slow", **slow_opts)
    fast = writer(env, vol, name="fast")
    other = writer(env, None, name="other")
    res = env.requester(*steps_before(before, vol), "abort", "abort", *after_steps, "status",
                        "free")
    errs = dict(errors(res)[-(len(after_steps) + 2):])
    asyncs = {l["step"]: l.get("async") for l in res.lines}
    assert [e for s, e in errors(res) if s == "abort"] == ["OK", "OK"], res
    if after_steps == ["wait"]:
        want = "finished" if point == "during-backup-complete" else "cancelled"
        assert (errs["wait"], asyncs["wait"]) == ("OK", want), res
    if point == "after-do-snapshot":
        assert errs["backup-complete"] == "BAD_STATE", res  # B6: nothing after abort
    before_prepare = point in ("after-start-set", "after-add-volume")
    if before_prepare:
        wait_until(lambda: "test-requester) disconnected" in env.daemon_log(), 10,
                   "the requester to leave")
    else:
        wait_shutdown(slow, fast)
    # Who gets Abort: the participants, unless before PrepareForBackup or
    # past PostSnapshot.  "fast" is past it while "slow" is still in it: the
    # service sends "slow" Abort, but its library answers it without running
    # the handler, since PostSnapshot has been handled by then (B5).
    past_post_snapshot = point in ("after-do-snapshot", "during-backup-complete",
                                   "after-backup-complete")
    for w in (slow, fast):
        ev = names(w)
        if before_prepare or past_post_snapshot or point == "during-post-snapshot":
            assert "abort" not in ev, (w.name, ev)
            continue
        assert count(w, "abort") == 1, (w.name, ev)
        assert ev[ev.index("abort") + 1:] == ["backup_shutdown"], (w.name, ev)  # B6
        if point != "during-post-snapshot":
            assert "thaw" not in ev, (w.name, ev)
    if point == "during-post-snapshot":
        assert "post_snapshot" in names(fast)
    assert names(other) == ["identify"]
    # B13: the providers hear of the set only from do_snapshot_set on, and
    # abort only what they prepared.
    providers_prepared = point in ("during-freeze-window", "during-post-snapshot")
    assert bool(provider_calls(env, "abort")) == providers_prepared, env.daemon_log()
    if before_prepare or point in ("during-prepare", "after-prepare",
                                   "during-prepare-snapshot"):
        assert provider_calls(env, "begin_prepare") == []
    if not past_post_snapshot and point != "after-start-set":
        assert_no_snapshot_left(env, abort_fs, res)
    if not before_prepare and not past_post_snapshot:
        for w in (slow, fast):
            line = [l for l in res.lines if l.get("step") == "status"][-1]
            st = {e["instance_id"]: e["state"] for e in line["status"]}
            assert st[w.instance_id] in (STABLE, 5), (w.name, line)


@pytest.mark.parametrize("phase", ["prepare", "prepare-snapshot", "freeze-window",
                                   "post-snapshot", "backup-complete"])
def test_B12_cancel_behaves_as_abort(env_nostart, abort_fs, vol, phase):
    """B12: a backup can be abandoned by cancelling its running operation,
    even once the snapshot exists (post-snapshot: committed, PostSnapshot
    running).  As protocol.md §6.4 says, cancelling prepare_for_backup or
    do_snapshot_set is abort_backup: the operation ends CANCELLED, the
    participants get Abort (those past PostSnapshot excepted, B5), no
    snapshot remains, and a later abort_backup is a no-op; cancelling
    backup_complete only ends the wait (the writers have their
    BackupComplete)."""
    slow_opts, testing = {}, []
    if phase == "freeze-window":
        testing = [f"provider-delay-ms=commit:{SLOW_MS}"]
    else:
        slow_opts = {"delay": f"{phase.replace('-', '_')}:{SLOW_MS}"}
        if phase == "prepare":
            slow_opts = {"delay": f"prepare_backup:{SLOW_MS}"}
    env = start(env_nostart, timeouts={"abort": 4 * SLOW_MS}, testing=testing)
    slow = writer(env, vol, name="slow", **slow_opts)
    fast = writer(env, vol, name="fast")
    pre = backup_start(vol)
    if phase == "prepare":
        steps = pre + ["prepare-async"]
    elif phase == "backup-complete":
        steps = pre + ["prepare", "do-snapshot", "backup-complete-async"]
    else:
        steps = pre + ["prepare", "do-snapshot-async"]
    res = env.requester(*steps, f"sleep={INSIDE_MS}", "cancel", "wait", "abort", "free")
    errs = dict(errors(res)[-4:])
    asyncs = {l["step"]: l.get("async") for l in res.lines}
    assert errs["cancel"] == "OK", res
    assert errs["abort"] == "OK", res
    wait_shutdown(slow, fast)
    if phase == "backup-complete":
        assert asyncs["wait"] in ("cancelled", "finished"), res
        for w in (slow, fast):
            assert "backup_complete" in names(w) and "abort" not in names(w)
        return
    assert asyncs["wait"] == "cancelled", res
    if phase == "post-snapshot":
        # Past PostSnapshot (B5): "fast" at once; "slow" once its slow
        # handler returned, which is before its library reads the Abort.
        assert "abort" not in names(fast) and "abort" not in names(slow)
    else:
        assert count(slow, "abort") == 1, names(slow)
        assert count(fast, "abort") == 1, names(fast)
    assert_no_snapshot_left(env, abort_fs, res)
