# SPDX-License-Identifier: LGPL-2.1-or-later
"""Processes coming and going: a writer that dies leaves the registry; a
restarted service sees its writers come back with the same ids (the library
reconnects by itself, in every loop mode)."""

import signal
import time

import pytest

from sctest import new_class_id, scaled, wait_until
from test_identify import SMALL_METADATA


def ids(entries):
    return sorted((e["class_id"], e["instance_id"], e["pid"]) for e in entries)


def test_killed_writer_leaves(env):
    """A writer killed with SIGKILL leaves the registry; the others stay."""
    stays = env.start_writer(name="Stays")
    dies = env.start_writer(name="Dies")
    assert len(env.list_writers()) == 2
    dies.proc.send_signal(signal.SIGKILL)
    dies.proc.wait()
    dies.expect_clean_exit = False
    env.wait_writers(lambda ws: [e["pid"] for e in ws] == [stays.pid], "the dead writer to leave")
    res = env.requester("init", "gather", "metadata-count")
    assert res.step("metadata-count")["count"] == 1


def restart_and_wait(env, writers, sig=signal.SIGTERM):
    before = ids(env.list_writers())
    assert len(before) == len(writers)
    rc = env.stop_daemon(sig)
    if sig == signal.SIGTERM:
        assert rc == 0
    assert env.cli("writers", check=False).returncode == 3
    for w in writers:
        assert w.proc.poll() is None, f"writer {w.name} exited when the service went away"
    env.start_daemon()
    env.wait_writers(lambda ws: ids(ws) == before, "the writers to come back", timeout=20)
    return before


@pytest.mark.parametrize("loop", ["run", "poll", "thread"])
def test_service_restart_writers_return(env, loop):
    """After a restart of the service the writers reconnect by themselves
    with the same class and instance ids (with and without an instance
    name) and answer Identify again."""
    cls = new_class_id()
    named = env.start_writer(cls, "Named", instance_name="keep-me", metadata=SMALL_METADATA,
                             extra=["--loop", loop])
    anonymous = env.start_writer(cls, "Anonymous", extra=["--loop", loop])
    restart_and_wait(env, [named, anonymous])
    res = env.requester("init", "gather", "metadata")
    docs = res.step("metadata")["writers"]
    assert sorted(d["instance_id"] for d in docs) == sorted([named.instance_id,
                                                            anonymous.instance_id])


def test_service_crash_writers_return(env):
    """After the service dies (SIGKILL, its socket files left behind) a new
    one starts on the same paths and the writers come back."""
    writers = [env.start_writer(name=f"W{i}") for i in range(2)]
    restart_and_wait(env, writers, signal.SIGKILL)


def test_two_restarts(env):
    w = env.start_writer(instance_name="twice")
    first = restart_and_wait(env, [w])
    assert restart_and_wait(env, [w]) == first


def test_writer_started_before_service(env_nostart):
    """A writer started while the service is down fails to subscribe (the
    library reports it); the service's absence is not hidden."""
    env = env_nostart
    w = env.start_writer(wait=False)
    wait_until(lambda: w.proc.poll() is not None, 10, "the writer to give up")
    assert w.proc.returncode != 0
    assert w.stderr().strip()


def test_stop_during_gather(env):
    """SIGTERM while a gather waits for a hung writer: the daemon exits 0 at
    once, and the requester gets an error instead of waiting forever."""
    hung = env.start_writer(name="Hung", hang="identify")
    hung.expect_clean_exit = False
    with env.raw("requester") as c:
        assert "result" in c.call("initialize_for_backup", {"document": None})
        c.request("gather_writer_metadata")
        wait_until(lambda: hung.event_names() == ["identify"], 5, "Identify to reach the writer")
        start = time.monotonic()
        assert env.stop_daemon() == 0
        assert time.monotonic() - start < scaled(1.5)
        env.daemon_may_exit = True
        assert c.closed_within(5)
