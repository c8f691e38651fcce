# SPDX-License-Identifier: LGPL-2.1-or-later
"""The service's edge-triggered read path (src/daemon/connection.c): what a
wake-up brings must all be read, since no new one comes for it.  Many
requests in one write, one request a byte at a time, a burst larger than
one read turn (the fairness cap re-arms), requests followed by a half-close
(answered, then the end), and peers that send and close at once."""

import json
import os
import socket
import threading
import time

from sctest import wait_until


def line(obj):
    return json.dumps(obj, separators=(",", ":")).encode() + b"\n"


def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def listing(i, **extra):
    return line({"id": i, "method": "list_writers", "params": {"metadata": False, **extra}})


def test_many_requests_in_one_write(env):
    with env.raw("requester") as c:
        c.send_bytes(b"".join(listing(i) for i in range(100, 300)))
        assert [c.recv()["id"] for _ in range(200)] == list(range(100, 300))


def test_request_split_byte_by_byte(env):
    with env.raw("requester") as c:
        for b in listing(7):
            c.send_bytes(bytes([b]))
            time.sleep(0.002)
        assert c.recv()["id"] == 7


def test_burst_over_one_read_turn(env):
    """About 2 MiB of pipelined requests: more than one read turn (256 KiB),
    every one answered, in order."""
    n = 256
    data = b"".join(listing(i, pad="p" * 8000) for i in range(n))
    with env.raw("requester") as c:
        sender = threading.Thread(target=c.send_bytes, args=(data,))
        sender.start()
        got = [c.recv(timeout=30)["id"] for _ in range(n)]
        sender.join()
    assert got == list(range(n))


def test_requests_then_half_close(env):
    """The end of the stream is acted on after the requests before it."""
    with env.raw() as c:
        c.send_bytes(line({"id": 1, "method": "hello",
                           "params": {"version": "1.0", "role": "requester"}}) + listing(2))
        c.sock.shutdown(socket.SHUT_WR)
        assert c.recv()["id"] == 1
        assert c.recv()["id"] == 2
        assert c.recv() is None


def test_send_and_close_at_once(env):
    """Fifty peers that say hello and close at once: each is closed by the
    service and it keeps serving."""
    before = open_fds(env.daemon.pid)
    for _ in range(50):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        s.connect(str(env.socket))
        s.sendall(line({"id": 1, "method": "hello",
                        "params": {"version": "1.0", "role": "requester"}}))
        s.close()
    wait_until(lambda: open_fds(env.daemon.pid) <= before, 10,
               "the service to close the fifty connections")
    with env.raw("requester") as c:
        assert "result" in c.call("list_writers", {"metadata": False})
    assert env.daemon.poll() is None
