# SPDX-License-Identifier: LGPL-2.1-or-later
"""Shared code of the SIGKILL matrix (issue 6): one loop filesystem per
provider shared by a module (a btrfs whose subvolumes are the volumes, an
inner XFS whose image lies on an outer XFS for reflink-image); a run of one
case (two writers, a backup held at one point, one victim SIGKILLed there);
what the case then measures (time to thawed) and observes (who got Abort,
the set's result, what is left); and the checks that follow every case: no
filesystem frozen, no writer frozen, no half-made snapshot, a new set.

The kill lands at a point because the run is held there: writer "a" sleeps
in that event's handler (--delay), or, for "the hold", the provider's commit
sleeps (the [testing] switch provider-delay-ms).  "b" is a bystander.

Only loop filesystems made here are ever probed with FIFREEZE (EBUSY:
frozen; success: it was not, and it is thawed at once) or thawed.  Every
process is started through sctest and signalled by its PID; the guardian, a
child of our shadowcopyd, is found by its parent pid and its --guardian
argument.  With $SHADOWCOPY_KILL_LOG set, each case appends its
measurements there as one JSON line (measure_thaw.py makes the table of
docs/reliability.md from them)."""

import errno
import fcntl
import json
import os
import signal
import time
import uuid
from dataclasses import dataclass, field

import pytest

from blockkit import FITHAW, BlockKit
from blockkit import frozen as probe_frozen
from sctest import loop_devices_of, mount_points, read_text, scaled, wait_until

VICTIMS = ("requester", "writer", "daemon", "guardian")
POINTS = ("prepare-snapshot", "freeze", "hold", "thaw", "post-snapshot")
PROVIDERS = ("btrfs", "reflink-image")

# The writer event in which "a" sits when the kill lands (none for the hold).
EVENTS = {"prepare-snapshot": "prepare_snapshot", "freeze": "freeze", "thaw": "thaw",
          "post-snapshot": "post_snapshot"}

DELAY_MS = 700    # "a"'s handler at the point's event (again in the new set)
COMMIT_MS = 1200  # the provider's commit at "the hold"
ANSWER_MS = 100   # for the bystander's answer to reach the service
USEC = 1000000

# The service's deadlines: short where a dead peer is waited for.
TIMEOUTS = {"abort": 2000, "backup-shutdown": 2000}

# What the daemon's debug log says once the point "hold" is reached: writes
# are held (reflink-image), or pre_commit returned and commit starts now
# (btrfs, which holds nothing: its snapshot is atomic by itself).
HOLD_MARKERS = {"reflink-image": "Holding writes", "btrfs": "provider btrfs: pre_commit("}


def now_usec():
    """CLOCK_MONOTONIC in µs, the clock of the writers' "t"."""
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000


# --- freeze probes, only on our loop filesystems -----------------------------

def thaw(path):
    """FITHAW a filesystem of ours left frozen; whether it was."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fcntl.ioctl(fd, FITHAW, 0)
        return True
    except OSError as e:
        if e.errno == errno.EINVAL:  # not frozen
            return False
        raise
    finally:
        os.close(fd)


def wait_thawed(path, timeout):
    """Poll @path every ~1 ms until it is not frozen; the CLOCK_MONOTONIC µs
    of the first probe that found it thawed, or None after @timeout s."""
    deadline = time.monotonic() + scaled(timeout)
    while time.monotonic() < deadline:
        t = now_usec()
        if not probe_frozen(path):
            return t
        time.sleep(0.001)
    return None


# --- the filesystems of the module -------------------------------------------

class Target:
    """One provider's filesystem: where a case's volume lies, the
    filesystems to probe, and the provider's data on disk."""

    def __init__(self, provider, volume_fn, probe, data_dir):
        self.provider = provider
        self._volume_fn, self.probe, self.data_dir = volume_fn, probe, data_dir

    @property
    def holds_writes(self):
        return self.provider == "reflink-image"

    def volume(self):
        return self._volume_fn()

    def data(self):
        """The names in the provider's .shadowcopy/ (snapshot ids)."""
        try:
            return set(os.listdir(self.data_dir))
        except FileNotFoundError:
            return set()

    def attached(self):
        """Loop devices still backed by a file of the provider's data."""
        return [d for name in self.data() for d in loop_devices_of(self.data_dir / name)]

    def frozen_left(self):
        """Probe each filesystem; thaw and name those left frozen."""
        left = []
        for path in self.probe:
            if str(path) in mount_points() and probe_frozen(path):
                thaw(path)
                left.append(str(path))
        return left


class Targets:
    """Made at first use and removed at the end of the module: conftest's
    loop btrfs (`mounts`) and a BlockKit (outer XFS, one inner XFS)."""

    def __init__(self, mounts):
        self.mounts = mounts
        self.kit = None
        self.made = {}

    def get(self, provider):
        if provider not in self.made:
            self.made[provider] = self._make(provider)
        return self.made[provider]

    def _make(self, provider):
        if provider == "btrfs":
            mnt = self.mounts.btrfs
            return Target(provider, self.mounts.subvolume, [mnt], mnt / ".shadowcopy")
        self.kit = BlockKit()
        self.kit.make_outer()
        inner = self.kit.volume("xfs", "xfs")
        return Target(provider, lambda: inner.mnt, [inner.mnt, self.kit.outer],
                      self.kit.outer / ".shadowcopy")

    def cleanup(self):
        return self.kit.cleanup() if self.kit else []


@pytest.fixture(scope="module")
def targets(mounts):
    t = Targets(mounts)
    try:
        yield t
    finally:
        problems = t.cleanup()
    assert not problems, "; ".join(problems)


# --- the guardian --------------------------------------------------------------

def children(pid):
    """The pids whose parent is @pid."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        stat = read_text(f"/proc/{name}/stat")
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
        fields = stat[stat.rfind(")") + 2:].split()
        if len(fields) > 1 and int(fields[1]) == pid:
            out.append(int(name))
    return out


def alive(pid):
    """Whether @pid exists and is not a zombie."""
    stat = read_text(f"/proc/{pid}/stat")
    return bool(stat) and stat[stat.rfind(")") + 2:].split()[0] != "Z"


def guardians(daemon_pid):
    """The guardian children of shadowcopyd @daemon_pid (cmdline has --guardian)."""
    return [p for p in children(daemon_pid) if alive(p) and
            "--guardian" in read_text(f"/proc/{p}/cmdline").split("\0")]


def guardian_of(env, timeout=5):
    """The pid of the one guardian of env's shadowcopyd."""
    def one():
        g = guardians(env.daemon.pid)
        assert len(g) <= 1, f"more than one guardian: {g}"
        return g[0] if g else None

    return wait_until(one, timeout, f"the guardian child of shadowcopyd (pid {env.daemon.pid},"
                      " a child with --guardian in its command line)")


# --- one case ------------------------------------------------------------------

@dataclass
class Observed:
    """What a case saw after its kill."""
    aborted: list = field(default_factory=list)   # writer names that got Abort
    result: str = None                           # do_snapshot_set's error, or None
    status: dict = field(default_factory=dict)    # name -> (state, failure) after do
    left: str = None                             # "set" or "nothing"
    fs_thawed_usec: int = None                   # kill -> filesystem thawed
    released_usec: dict = field(default_factory=dict)  # writer -> kill -> Thaw/Abort
    released_by: dict = field(default_factory=dict)    # writer -> "thaw" or "abort"
    stale_before_restart: list = field(default_factory=list)


def events_since(w, mark):
    return [e for e in w.events()[mark:] if e["event"] != "identify"]


def names_since(w, mark):
    return [e["event"] for e in events_since(w, mark)]


def frozen_after(events):
    """Whether a writer is frozen at the end of @events: a Freeze with no
    Thaw or Abort after it."""
    state = False
    for e in events:
        if e["event"] == "freeze":
            state = True
        elif e["event"] in ("thaw", "abort"):
            state = False
    return state


def release(events):
    """The "t" and name of the first Thaw or Abort after the last Freeze."""
    last = max(i for i, e in enumerate(events) if e["event"] == "freeze")
    return next((e["t"], e["event"]) for e in events[last + 1:]
                if e["event"] in ("thaw", "abort"))


class Case:
    """One case of the matrix: @victim SIGKILLed at @point with @target's
    provider, in @env (the env_nostart fixture)."""

    def __init__(self, env, target, victim, point):
        self.env, self.target, self.victim, self.point = env, target, victim, point
        self.provider = target.provider
        self.event = EVENTS.get(point)
        self.classes = {"a": str(uuid.uuid4()), "b": str(uuid.uuid4())}
        self.writers = {}
        self.marks = {}
        self.requester = None
        self.kill_usec = None
        self.guardian = None
        self.obs = Observed()
        self.differences = []  # from the expected outcome (the test's)

    # --- setting up ----------------------------------------------------------

    def config(self, testing):
        lines = ["[timeouts]"] + [f"{k}-ms={v}" for k, v in TIMEOUTS.items()]
        lines += ["", "[service]", "log-level=debug", ""]
        if testing and self.point == "hold":
            lines += ["[testing]", f"provider-delay-ms=commit:{int(scaled(COMMIT_MS))}", ""]
        return "\n".join(lines)

    def start_daemon(self, testing=True):
        self.env.start_daemon(extra=self.config(testing))

    def start_writer(self, name, delay=True):
        opts = {}
        if name == "a" and delay and self.event:
            opts["delay"] = f"{self.event}:{int(scaled(DELAY_MS))}"
        w = self.env.start_writer(class_id=self.classes[name], name=name, instance_name=name,
                                  file_sets=[self.volume / f"data-{name}"], **opts)
        self.writers[name] = w
        return w

    def backup_steps(self):
        return ["init", "context=app-rollback", "backup-state=volume", "gather", "start-set",
                f"add-volume={self.volume},{self.provider}", "prepare"]

    def setup(self):
        self.volume = self.target.volume()
        self.data_before = self.target.data()
        self.start_daemon()
        for name in ("a", "b"):
            self.start_writer(name)

    # --- landing the kill ------------------------------------------------------

    def wait_point(self):
        a, b = self.writers["a"], self.writers["b"]
        if self.event:
            for w in (a, b):
                wait_until(lambda: self.event in names_since(w, self.marks[w.name]), 20,
                           f"writer {w.name} to get {self.event}")
            # b logs the event as its handler starts: give its answer time
            # to reach the service ("a" sits in its handler much longer).
            time.sleep(scaled(ANSWER_MS) / 1000)
            return
        for w in (a, b):
            wait_until(lambda: "freeze" in names_since(w, self.marks[w.name]), 20,
                       f"writer {w.name} to be frozen")
        marker = HOLD_MARKERS[self.provider]
        wait_until(lambda: marker in self.env.daemon_log(), 20, f"'{marker}' in the log")
        if self.target.holds_writes:
            assert probe_frozen(self.target.probe[0]), "the hold did not freeze the volume"

    def victim_pid(self):
        if self.victim == "requester":
            return self.requester.pid
        if self.victim == "writer":
            self.writers["a"].expect_clean_exit = False
            return self.writers["a"].pid
        if self.victim == "daemon":
            self.env.daemon_may_exit = True
            return self.env.daemon.pid
        return self.guardian

    def kill(self):
        pid = self.victim_pid()
        self.kill_usec = now_usec()
        os.kill(pid, signal.SIGKILL)
        if self.victim == "requester":
            self.requester.proc.wait()
        elif self.victim == "writer":
            self.writers["a"].proc.wait()
        elif self.victim == "daemon":
            self.env.daemon.wait()

    def run(self):
        """Set up, start the backup, kill the victim at the point and
        measure; the observations in self.obs."""
        self.setup()
        if self.victim in ("guardian", "daemon"):
            self.guardian = guardian_of(self.env) if self.victim == "guardian" else \
                (guardians(self.env.daemon.pid) or [None])[0]
        self.marks = {n: len(w.events()) for n, w in self.writers.items()}
        self.requester = self.env.start_requester(*self.backup_steps(), "do-snapshot",
                                                  "status")
        self.wait_point()
        self.kill()
        self.measure()
        self.settle()
        return self.obs

    # --- after the kill ----------------------------------------------------------

    def survivors(self):
        return [w for n, w in self.writers.items() if not (self.victim == "writer" and n == "a")]

    def idle_frozen_at_kill(self):
        """The surviving writers frozen and not inside a handler at the kill:
        both at the hold, "b" at Freeze ("a" sits in its own Freeze handler
        and hears of the end only when that returns)."""
        if self.point == "hold":
            return self.survivors()
        if self.point == "freeze":
            return [self.writers["b"]]
        return []

    def measure(self):
        if self.target.holds_writes and self.point == "hold":
            t = wait_thawed(self.target.probe[0], 3)
            if t is None:
                thaw(self.target.probe[0])
                raise AssertionError(f"{self.target.probe[0]} still frozen 3 s after the kill;"
                                     " thawed by the test")
            self.obs.fs_thawed_usec = max(0, t - self.kill_usec)
        for w in self.idle_frozen_at_kill():
            wait_until(lambda: not frozen_after(events_since(w, self.marks[w.name])), 10,
                       f"writer {w.name} to be thawed or aborted")
            t, how = release(events_since(w, self.marks[w.name]))
            self.obs.released_usec[w.name] = max(0, t - self.kill_usec)
            self.obs.released_by[w.name] = how

    def time_to_thawed_usec(self):
        """From the kill to the filesystem thawed and the last writer that was
        frozen (and idle) released; None when nothing was frozen."""
        times = list(self.obs.released_usec.values())
        if self.obs.fs_thawed_usec is not None:
            times.append(self.obs.fs_thawed_usec)
        return max(times) if times else None

    def settle(self):
        """Wait for the end of the killed backup as far as it can end, and
        record who got Abort, the set's result and the writers' states."""
        res = None
        if self.victim != "requester":
            res = self.requester.wait(timeout=30)
            line = [l for l in res.lines if l.get("step") == "do-snapshot"]
            self.obs.result = line[0]["error"] if line else f"no do-snapshot line: {res}"
            statuses = [l for l in res.lines if l.get("step") == "status" and "status" in l]
            if statuses:
                by_id = {e["instance_id"]: (e["state"], e["failure"])
                         for e in statuses[-1]["status"]}
                self.obs.status = {n: by_id.get(w.instance_id)
                                   for n, w in self.writers.items()}
        if self.victim != "daemon":
            for w in self.survivors():
                wait_until(lambda: "backup_shutdown" in names_since(w, self.marks[w.name]), 20,
                           f"BackupShutdown at writer {w.name}")
        else:
            self.wait_handler_done()
        self.obs.aborted = sorted(n for n, w in self.writers.items()
                                  if "abort" in names_since(w, self.marks[n]))
        self.set_ids = self.snapshot_ids()

    def wait_handler_done(self):
        """With no service left to send BackupShutdown, wait until "a" has
        left its delayed handler (what its library does then, it does at
        once)."""
        a = self.writers["a"]
        started = [e["t"] for e in events_since(a, self.marks["a"]) if e["event"] == self.event]
        if not started:
            return
        end = started[0] + int(scaled(DELAY_MS + 300)) * 1000
        while now_usec() < end:
            time.sleep(0.01)

    def snapshot_ids(self):
        lines = self.requester.result().lines
        return {l["snapshot_id"] for l in lines if l.get("step") == "add-volume"
                and "snapshot_id" in l}

    # --- the checks after every case -------------------------------------------

    def check_nothing_frozen(self):
        left = self.target.frozen_left()
        assert not left, f"left frozen (thawed by the test now): {left}"

    def check_no_writer_frozen(self):
        for w in self.survivors():
            wait_until(lambda: not frozen_after(events_since(w, self.marks[w.name])), 10,
                       f"writer {w.name} to leave its freeze: {names_since(w, 0)}")

    def check_guardian_replaced(self):
        """After a guardian kill: the service runs a new one."""
        if self.victim != "guardian":
            return
        new = wait_until(lambda: [g for g in guardians(self.env.daemon.pid)
                                  if g != self.guardian], 5,
                         "shadowcopyd to start a new guardian")
        self.env.guardians_seen.update(new)

    def restart_if_killed(self):
        """After a daemon kill: its guardian must be gone, then a new start."""
        if self.victim != "daemon":
            return
        if self.guardian is not None:
            wait_until(lambda: not alive(self.guardian), 5,
                       f"the dead daemon's guardian (pid {self.guardian}) to exit")
        self.obs.stale_before_restart = sorted(self.target.data() - self.data_before)
        self.env.daemon_may_exit = False
        self.start_daemon(testing=False)

    def check_what_is_left(self, left):
        """Catalog and provider data agree: no half-made snapshot; the set's
        snapshots are there (committed) when @left is "set", else nowhere."""
        ids = self.set_ids
        assert ids, f"the requester printed no snapshot id: {self.requester.result()}"

        def agreed():
            listed = {s["snapshot_id"]: s for s in self.env.snapshots()}
            data = self.target.data() - self.data_before
            if any(s["state"] != "committed" for s in listed.values()):
                return False
            if left == "set":
                return ids <= set(listed) and data == ids
            return not (ids & set(listed)) and not data

        try:
            wait_until(agreed, 15, f"catalog and provider data to show {left!r} of set {ids}")
        except AssertionError as e:
            raise AssertionError(f"{e}: listed {self.env.snapshots()}, on disk "
                                 f"{self.target.data() - self.data_before}") from None
        self.obs.left = left
        assert self.target.attached() == [], self.target.attached()

    def new_set(self):
        """A new set with the same writers (reconnected; "a" started again
        with its identity when it was the victim) succeeds; it is then
        deleted, as is what the case left."""
        if self.victim == "writer":
            self.start_writer("a", delay=False)
        ws = list(self.writers.values())
        self.env.wait_writers(lambda listed: {w.pid for w in ws} <= {x.get("pid") for x in listed},
                              "the writers to be subscribed", timeout=15)
        marks = {w.name: len(w.events()) for w in ws}
        res = self.env.requester(*self.backup_steps(), "do-snapshot", "backup-complete")
        assert res.rc == 0, f"the new set failed: {res}"
        for w in ws:
            ev = [e["event"] for e in w.events()[marks[w.name]:] if e["event"] != "identify"]
            assert ["freeze", "thaw", "post_snapshot"] == [e for e in ev if e in
                                                           ("freeze", "thaw", "post_snapshot",
                                                            "abort")], (w.name, ev)
        self.env.cli("delete", "--all")
        assert self.target.data() - self.data_before == set()

    def frozen_at_kill(self):
        """What was frozen when the kill landed, for the table."""
        what = [w.name for w in self.idle_frozen_at_kill()]
        if self.point == "freeze" and self.victim != "writer":
            what.append("a (in its Freeze handler)")
        if self.target.holds_writes and self.point == "hold":
            what.insert(0, "the filesystem")
        return what

    def record(self, expected, passed):
        """Append this case's measurements to $SHADOWCOPY_KILL_LOG."""
        path = os.environ.get("SHADOWCOPY_KILL_LOG")
        if not path:
            return
        entry = {"provider": self.provider, "victim": self.victim, "point": self.point,
                 "passed": passed, "differences": self.differences,
                 "frozen_at_kill": self.frozen_at_kill(),
                 "expected": expected, "aborted": self.obs.aborted, "result": self.obs.result,
                 "left": self.obs.left, "fs_thawed_usec": self.obs.fs_thawed_usec,
                 "released_usec": self.obs.released_usec,
                 "released_by": self.obs.released_by,
                 "time_to_thawed_usec": self.time_to_thawed_usec(),
                 "stale_before_restart": self.obs.stale_before_restart}
        with open(path, "a") as f:
            f.write(json.dumps(entry) + "\n")

