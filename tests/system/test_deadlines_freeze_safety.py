# SPDX-License-Identifier: LGPL-2.1-or-later
"""A writer never stays frozen because the service hangs or dies (issue 4
item 4; design.md "Freeze safety", item 1): with shadowcopyd stopped by
SIGSTOP while its writers are frozen, each writer's library runs the Abort
handler within its freeze timeout + 1 s; with shadowcopyd SIGKILLed while
they are frozen, at once.  The writers are frozen and the daemon held there
by a slow provider step (the [testing] switch); the daemon is always
continued (SIGCONT) before the test ends."""

import os
import signal

import pytest

from abortkit import (assert_no_snapshot_left, count, first_t, names, now_usec, prepared, start,
                      Stopped, wait_event, wait_shutdown, writer)
from abortkit import abort_fs, vol  # noqa: F401 (fixtures)
from sctest import scaled, wait_until

USEC = 1000000


def frozen(*writers):
    for w in writers:
        wait_event(w, "freeze")


@pytest.mark.slow
def test_deadlines_service_stopped_while_frozen(env_nostart, abort_fs, vol):
    """shadowcopyd stopped (SIGSTOP) inside the freeze window: each writer
    aborts itself within its own freeze timeout + 1 s of its Freeze, while
    the service is still stopped, and never thaws; continued, the service
    fails the set with WRITERERROR_TIMEOUT and leaves no snapshot."""
    env = start(env_nostart, testing=["provider-delay-ms=commit:4000"])
    windows = {"a": 1500, "b": 2500}
    ws = {n: writer(env, vol, name=n, freeze_timeout_ms=ms) for n, ms in windows.items()}
    bg = env.start_requester(*prepared(vol) + ["do-snapshot"])
    frozen(*ws.values())
    with Stopped(env) as stopped:
        # Nothing has ended the freeze yet: what follows is the writers' own doing.
        assert all("abort" not in names(w) for w in ws.values()), \
            "the service aborted before it was stopped: the machine is too slow for this test"
        for w in ws.values():
            wait_event(w, "abort", timeout=5)
        continued = now_usec()
    for n, w in ws.items():
        t_freeze, t_abort = first_t(w, "freeze"), first_t(w, "abort")
        assert t_abort < continued, "the Abort came only after the service continued"
        dt = t_abort - t_freeze
        assert windows[n] * 1000 <= dt <= (windows[n] + 1000) * 1000, (n, dt)
        assert t_abort > stopped.at_usec
    bg.wait()
    assert bg.result().step("do-snapshot")["error"] == "WRITERERROR_TIMEOUT", bg.result().lines
    wait_shutdown(*ws.values())
    for w in ws.values():
        assert "thaw" not in names(w), names(w)
    assert_no_snapshot_left(env, abort_fs, bg.result())


def test_deadlines_service_killed_while_frozen(env_nostart, abort_fs, vol):
    """shadowcopyd SIGKILLed while writers are frozen (their windows are
    long): each writer aborts itself at once (the connection dropped), not
    at its freeze timeout.  The snapshot the dead service had committed is
    removed by recovery when it starts again; the writers reconnect by
    themselves and the next backup succeeds."""
    env = start(env_nostart, testing=["provider-delay-ms=post_commit:30000"])
    ws = [writer(env, vol, freeze_timeout_ms=30000) for _ in range(2)]
    bg = env.start_requester(*prepared(vol) + ["do-snapshot"])
    frozen(*ws)
    snap = bg.wait_step("add-volume")["snapshot_id"]
    wait_until(lambda: snap in abort_fs.snapshot_entries(), 10, "the commit")
    env.daemon_may_exit = True
    killed = now_usec()
    os.kill(env.daemon.pid, signal.SIGKILL)
    env.daemon.wait()
    for w in ws:
        wait_event(w, "abort", timeout=5)
        assert first_t(w, "abort") - killed < scaled(1) * USEC
        assert count(w, "abort") == 1 and "thaw" not in names(w)
    assert bg.wait().rc != 0
    assert snap in abort_fs.snapshot_entries()  # nobody removed it yet
    env.daemon_may_exit = False
    env.start_daemon(extra="[service]\nlog-level=debug\n")  # no switch now
    wait_until(lambda: snap not in abort_fs.snapshot_entries(), 10,
               "recovery to remove the dead session's snapshot")
    for w in ws:
        wait_until(lambda: w.entry() is not None, 10, "the writer to reconnect")
    res = env.requester(*prepared(vol), "do-snapshot", "backup-complete")
    assert res.rc == 0, res
