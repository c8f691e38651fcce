# SPDX-License-Identifier: LGPL-2.1-or-later
"""Long operations (protocol.md §5, VSS's IVssAsync): waiting with a
timeout, querying, cancelling (T60, T61, T62), through the library and on
the wire."""

import time

from sctest import IDENTIFY_MS, error_name, scaled

PENDING, FINISHED, CANCELLED = 1, 2, 3


def test_wait_zero_does_not_block(env):
    """T62, T60: while a gather waits for a hung writer, query and wait(0)
    return PENDING at once; a full wait returns FINISHED after the deadline."""
    hung = env.start_writer(name="Hung", hang="identify")
    hung.expect_clean_exit = False
    start = time.monotonic()
    res = env.requester("init", "gather-async", "query", "wait=0", "wait=100", "wait",
                        "metadata-count")
    elapsed = time.monotonic() - start
    assert [l["rc"] for l in res.lines[1:5]] == [0, PENDING, PENDING, PENDING], res
    assert res.step("query")["async"] == "pending"
    assert res.step("wait", 2)["rc"] == FINISHED
    assert res.step("wait", 2)["async"] == "finished"
    assert res.step("metadata-count")["count"] == 0
    assert IDENTIFY_MS / 1000 * 0.9 <= elapsed < IDENTIFY_MS / 1000 + scaled(2)


def test_cancel_running_gather(env):
    """Cancelling a running gather returns at once; the operation then
    reports CANCELLED, and cancelling again says it was already cancelled."""
    hung = env.start_writer(name="Hung", hang="identify")
    hung.expect_clean_exit = False
    start = time.monotonic()
    res = env.requester("init", "gather-async", "cancel", "wait", "cancel")
    assert time.monotonic() - start < IDENTIFY_MS / 1000, res
    assert res.step("cancel", 0)["rc"] == 0, res
    assert res.step("wait")["rc"] == CANCELLED, res
    assert res.step("cancel", 1)["rc"] == CANCELLED, res


def test_cancel_finished_gather(env):
    """T61: cancel on a finished operation returns FINISHED and changes nothing."""
    env.start_writer()
    res = env.requester("init", "gather", "cancel", "metadata-count")
    assert res.step("cancel")["rc"] == FINISHED, res
    assert res.step("metadata-count")["count"] == 1


def test_raw_cancel(env):
    """On the wire: cancel of a running gather answers {"cancelled": true} and
    the gather's own reply is the error CANCELLED; a request that is not
    running gives OBJECT_NOT_FOUND."""
    hung = env.start_writer(name="Hung", hang="identify")
    hung.expect_clean_exit = False
    with env.raw("requester") as c:
        assert "result" in c.call("initialize_for_backup", {"document": None})
        assert error_name(c.call("cancel", {"request": 99})) == "OBJECT_NOT_FOUND"
        gather = c.request("gather_writer_metadata")
        # A quick call is answered while the long one runs.
        assert "result" in c.call("list_writers")
        cancel = c.request("cancel", {"request": gather})
        replies = {}
        while len(replies) < 2:
            msg = c.recv(timeout=5)
            assert msg is not None
            replies[msg["id"]] = msg
        assert replies[cancel]["result"] == {"cancelled": True}
        assert error_name(replies[gather]) == "CANCELLED"
        assert replies[gather]["error"]["code"] == "0x0004230b"
        assert error_name(c.call("cancel", {"request": gather})) == "OBJECT_NOT_FOUND"
