# SPDX-License-Identifier: LGPL-2.1-or-later
"""Shared code of the tests of the abort rules and deadlines (issue 4,
vss-model 5 and 6): conftest's loop btrfs as volumes and the snapshots in
its .shadowcopy/; the daemon with short deadlines and [testing] switches;
writers on a volume (volume mode: a writer takes part when its file set lies
on the set's volume); the test requester's steps of a backup; what the
writers' event logs and the requester's status step say; the check that no
snapshot of a failed set remains; and a fake service that drives the writer
library event by event, for the library's own duties.

Every process is started through sctest and stopped by PID; nothing is ever
frozen (FIFREEZE): "frozen" here is a writer between Freeze and Thaw."""

import json
import os
import queue
import signal
import socket
import subprocess
import threading
import time
import uuid

import pytest

from sctest import TEST_WRITER, scaled, wait_until

# VSS_WRITER_STATE (protocol.md §7).
STABLE = 1
WAITING_FOR_BACKUP_COMPLETE = 5
FAILED_AT_PREPARE_BACKUP = 7
FAILED_AT_PREPARE_SNAPSHOT = 8
FAILED_AT_FREEZE = 9
FAILED_AT_THAW = 10
FAILED_AT_POST_SNAPSHOT = 11

# The service's deadlines in these tests (shadowcopy.conf(5) [timeouts]):
# short where a test waits for one to pass, generous elsewhere, since the
# machine may be loaded.  A test passes its own to start().
ABORT_MS = 2000
BACKUP_SHUTDOWN_MS = 2000

SNAPSHOT_DIR = ".shadowcopy"


# --- the filesystem ----------------------------------------------------------

class Fs:
    """The module's loop btrfs (conftest's `mounts`): new volumes, and what
    its .shadowcopy/ holds (where the btrfs provider puts snapshots)."""

    def __init__(self, mounts):
        self.mounts = mounts

    @property
    def mnt(self):
        return self.mounts.btrfs

    def new_volume(self):
        """A fresh subvolume: one volume of a snapshot set."""
        return self.mounts.subvolume()

    def snapshot_entries(self):
        """The names in .shadowcopy/ (snapshot ids), sorted."""
        try:
            return sorted(os.listdir(self.mnt / SNAPSHOT_DIR))
        except FileNotFoundError:
            return []


@pytest.fixture(scope="module")
def abort_fs(mounts):
    """The module's btrfs (one per module, made and removed by conftest)."""
    return Fs(mounts)


@pytest.fixture
def vol(abort_fs):
    """A fresh volume (btrfs subvolume) for one test."""
    return abort_fs.new_volume()


# --- the service -------------------------------------------------------------

def start(env, timeouts=None, testing=(), debug=True):
    """Start shadowcopyd in @env (the env_nostart fixture) and return @env:
    with more [timeouts] (key without "-ms": ms), [testing] lines
    ("provider-fail=commit", ...) and, with @debug, the log level at which
    it logs every provider call ("provider btrfs: commit(1 snapshot): OK")."""
    t = {"abort": ABORT_MS, "backup-shutdown": BACKUP_SHUTDOWN_MS}
    t.update(timeouts or {})
    extra = ["[timeouts]"] + [f"{k}-ms={v}" for k, v in t.items()] + [""]
    if debug:
        extra += ["[service]", "log-level=debug", ""]
    if testing:
        extra += ["[testing]"] + list(testing) + [""]
    env.start_daemon(extra="\n".join(extra))
    return env


def provider_calls(env, step):
    """The daemon's debug lines of provider @step ("abort", "commit", ...)."""
    return [l for l in env.daemon_log().splitlines() if f": {step}(" in l and "provider " in l]


def log_index(env, text):
    """The index of the first daemon log line holding @text, or None."""
    for i, line in enumerate(env.daemon_log().splitlines()):
        if text in line:
            return i
    return None


def now_usec():
    """CLOCK_MONOTONIC in µs, the clock of the writers' "t"."""
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000


class Stopped:
    """shadowcopyd stopped with SIGSTOP for the `with` block, continued on
    every path out of it (a stopped daemon would hang the teardown)."""

    def __init__(self, env):
        self.env = env

    def __enter__(self):
        self.at_usec = now_usec()
        os.kill(self.env.daemon.pid, signal.SIGSTOP)
        return self

    def __exit__(self, *exc):
        os.kill(self.env.daemon.pid, signal.SIGCONT)


# --- writers -----------------------------------------------------------------

def writer(env, volume, **kw):
    """A test writer whose file set lies on @volume: it takes part in a
    volume-mode backup of @volume.  @volume None: a writer whose data lies
    elsewhere (it never takes part)."""
    if volume is None:
        volume = env.dir / f"elsewhere{env.counter + 1}"
        volume.mkdir()
    extra = ["--file-set", str(volume)] + list(kw.pop("extra", ()))
    return env.start_writer(extra=extra, **kw)


def names(w):
    return w.event_names()


def count(w, event):
    return w.event_names().count(event)


def wait_event(w, event, timeout=20, n=1):
    """Wait until @w has logged @event @n times; its events then."""
    wait_until(lambda: count(w, event) >= n, timeout,
               f"writer {w.name} to log {event} x{n} (has {w.event_names()})")
    return w.events()


def wait_shutdown(*writers, timeout=20):
    """Wait for BackupShutdown at each writer: the last event of a backup,
    so that nothing of it can still be on its way."""
    for w in writers:
        wait_event(w, "backup_shutdown", timeout)


def after(w, first, event):
    """Whether @w logged @event after its first @first."""
    ev = w.event_names()
    return first in ev and event in ev[ev.index(first) + 1:]


def first_t(w, event):
    """The "t" (CLOCK_MONOTONIC µs) of @w's first @event."""
    for e in w.events():
        if e["event"] == event:
            return e["t"]
    return None


# --- the requester -----------------------------------------------------------

def backup_start(volume, *more_volumes):
    """The steps up to the volumes of a volume-mode backup."""
    steps = ["init", "backup-state=volume", "gather", "start-set", f"add-volume={volume}"]
    return steps + [f"add-volume={v}" for v in more_volumes]


def prepared(volume, *more_volumes):
    """The steps up to a successful prepare_for_backup."""
    return backup_start(volume, *more_volumes) + ["prepare"]


def errors(res):
    return [(l["step"], l["error"]) for l in res.lines]


def error_of(res, step, nth=0):
    return res.step(step, nth)["error"]


def status(res, w, nth=-1):
    """(state, failure) of writer @w in the requester's @nth status step."""
    lines = [l for l in res.lines if l.get("step") == "status"]
    assert lines, f"no status step: {res}"
    line = lines[nth]
    assert line["error"] == "OK", line
    for entry in line["status"]:
        if entry["instance_id"] == w.instance_id:
            return entry["state"], entry["failure"]
    return None


def snapshot_ids(res):
    return [l["snapshot_id"] for l in res.lines if l.get("step") == "add-volume"
            and "snapshot_id" in l]


def listed(env):
    """shadowcopy --json list: every snapshot the service knows."""
    return json.loads(env.cli("--json", "list").stdout)["snapshots"]


def assert_no_snapshot_left(env, fs, res):
    """No snapshot of @res's set(s) remains: not in `shadowcopy --json list`,
    not in the filesystem's .shadowcopy/ (B17)."""
    ids = set(snapshot_ids(res))
    assert ids, res
    sets = {l["set_id"] for l in res.lines if l.get("step") == "start-set"}

    def gone():
        return (not ids & set(fs.snapshot_entries()) and
                not [s for s in listed(env) if s["snapshot_id"] in ids or
                     s["snapshot_set_id"] in sets])

    wait_until(gone, 20, f"the snapshots {ids} to be gone: on disk {fs.snapshot_entries()},"
               f" listed {listed(env)}")


def assert_snapshots_exist(fs, res):
    """Every snapshot of @res's sets is in .shadowcopy/."""
    ids = set(snapshot_ids(res))
    assert ids and ids <= set(fs.snapshot_entries()), (ids, fs.snapshot_entries())


def kill(rp):
    """SIGKILL a background requester (env.start_requester) by its PID."""
    os.kill(rp.pid, signal.SIGKILL)
    rp.proc.wait()


def writer_has_option(option):
    """Whether the built test writer has command-line @option."""
    p = subprocess.run([str(TEST_WRITER), "--help"], capture_output=True, text=True)
    return option in p.stdout


# --- a fake service, to drive the writer library event by event ---------------

NULL_ID = "00000000-0000-0000-0000-000000000000"


class FakeService:
    """A service of our own on a socket of our own, speaking protocol.md §3-4
    to one writer: it answers hello and subscribe, then sends the events a
    test asks for, in the order it asks.  This reaches cases the real service
    never produces (a second Abort, a Thaw after the writer's own timeout),
    which the writer library must still handle (vss-model A19, B7)."""

    def __init__(self, path):
        self.path = str(path)
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(self.path)
        self.listener.listen(4)
        self.conn = None
        self.replies = queue.Queue()
        self.subscribed = threading.Event()
        self.next_id = 100
        self.lock = threading.Lock()
        self.closing = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _send(self, conn, obj):
        data = json.dumps(obj, separators=(",", ":")).encode() + b"\n"
        with self.lock:
            try:
                conn.sendall(data)
            except OSError:
                pass  # the writer left: what it missed shows in its log

    def _serve(self):
        while not self.closing:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.conn = conn
            self._read(conn)

    def _read(self, conn):
        buf = b""
        while True:
            try:
                chunk = conn.recv(65536)
            except OSError:
                return
            if not chunk:
                return
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                self._handle(conn, json.loads(line))

    def _handle(self, conn, msg):
        if msg.get("method") == "hello":
            self._send(conn, {"id": msg["id"], "result": {"version": "1.0",
                                                           "server": "fake", "uid": 0,
                                                           "pid": os.getpid()}})
        elif msg.get("method") in ("subscribe", "unsubscribe"):
            self._send(conn, {"id": msg["id"], "result": {}})
            if msg["method"] == "subscribe":
                self.subscribed.set()
        elif "method" in msg:
            self._send(conn, {"id": msg["id"], "error": {"name": "UNKNOWN_METHOD",
                                                          "code": "0x80004001",
                                                          "message": "fake"}})
        else:
            self.replies.put(msg)

    def event(self, name, session, set_id=None):
        """Send event @name of backup @session; returns its id."""
        eid = self.next_id
        self.next_id += 1
        params = {"session": session, "snapshot_set_id": set_id or NULL_ID,
                  "context": "backup", "backup_type": 1, "select_components": False,
                  "volumes": [], "components": []}
        self._send(self.conn, {"id": eid, "event": name, "params": params})
        return eid

    def answer(self, eid, timeout=10):
        """The writer's answer to event @eid (its "result" or "error")."""
        deadline = time.monotonic() + scaled(timeout)
        while True:
            try:
                msg = self.replies.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no answer to event {eid} in {scaled(timeout)} s")
            if msg.get("id") == eid:
                return msg.get("result", msg.get("error"))

    def call(self, name, session, set_id=None, timeout=10):
        return self.answer(self.event(name, session, set_id), timeout)

    def drop(self):
        """Close the writer's connection (as a dead service would)."""
        self.conn.shutdown(socket.SHUT_RDWR)
        self.conn.close()

    def close(self):
        self.closing = True
        self.listener.close()
        if self.conn is not None:
            try:
                self.conn.close()
            except OSError:
                pass


@pytest.fixture
def fake(env_nostart):
    """A fake service in the test's directory (no shadowcopyd)."""
    f = FakeService(env_nostart.dir / "fake.sock")
    try:
        yield f
    finally:
        # Writers first (the env's teardown), then us: stop them now so
        # that none is left reconnecting to a closed socket.
        for w in env_nostart.writers:
            w.stop()
        f.close()


def fake_writer(env, fake, **kw):
    """A test writer subscribed to @fake."""
    w = env.start_writer(socket_path=fake.path, **kw)
    assert fake.subscribed.wait(scaled(10)), "the writer did not subscribe"
    return w


def new_session():
    return str(uuid.uuid4())
