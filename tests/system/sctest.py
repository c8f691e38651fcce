# SPDX-License-Identifier: LGPL-2.1-or-later
"""Helpers of the system tests: the real shadowcopyd on a temporary socket,
test writers as real processes, the test requester, the shadowcopy tool and a
raw-protocol client.  Every process started here is remembered and, at the
end of the test, stopped by its PID; nothing else is ever signalled.

Waiting is always polling against a deadline (wait_until), never a fixed
sleep.  Deadlines are multiplied by $SHADOWCOPY_TIME_SCALE (the sanitizer
build is slower)."""

import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / os.environ.get("SHADOWCOPY_BUILD", "build")
TIME_SCALE = float(os.environ.get("SHADOWCOPY_TIME_SCALE", "1"))

SHADOWCOPYD = BUILD / "src" / "daemon" / "shadowcopyd"
SHADOWCOPY = BUILD / "src" / "cli" / "shadowcopy"
TEST_WRITER = BUILD / "tests" / "helpers" / "test-writer"
TEST_REQUESTER = BUILD / "tests" / "helpers" / "test-requester"

# Small service deadlines so that the tests of timeouts stay quick.
HANDSHAKE_MS = 1000
IDENTIFY_MS = 2000

NULL_ID = "00000000-0000-0000-0000-000000000000"

# Configuration lines (write_config's @extra) that make shadowcopyd log each
# provider call: "provider btrfs: commit(2 snapshots): OK (1.2 ms)".
DEBUG_LOG = "\n[service]\nlog-level=debug\n"


def scaled(seconds):
    return seconds * TIME_SCALE


def wait_until(predicate, timeout, what):
    """Poll @predicate until it returns a true value, which is returned;
    fail with @what once @timeout seconds (scaled) have passed."""
    deadline = time.monotonic() + scaled(timeout)
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {scaled(timeout):.1f}s waiting for {what}")
        time.sleep(0.02)


def new_class_id():
    return str(uuid.uuid4())


def read_text(path):
    try:
        return Path(path).read_text(errors="replace")
    except OSError:
        return ""


class User:
    """An unprivileged account the tests run programs as."""

    def __init__(self, name, uid, gid):
        self.name, self.uid, self.gid = name, uid, gid

    def wrap(self, argv, groups=None):
        """@argv run as this user: no supplementary groups, or @groups (gids)."""
        cmd = ["setpriv", f"--reuid={self.uid}", f"--regid={self.gid}"]
        if groups:
            cmd.append("--groups=" + ",".join(str(g) for g in groups))
        else:
            cmd.append("--clear-groups")
        return cmd + [str(a) for a in argv]


class Processes:
    """Every process a test started, stopped by PID at the end."""

    def __init__(self):
        self.procs = []

    def start(self, argv, log_prefix, env=None, user=None, groups=None):
        argv = [str(a) for a in argv]
        if user:
            argv = user.wrap(argv, groups)
        out = open(f"{log_prefix}.out", "wb")
        err = open(f"{log_prefix}.err", "wb")
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                    env=env, close_fds=True)
        finally:
            out.close()
            err.close()
        proc.log_prefix = str(log_prefix)
        self.procs.append(proc)
        return proc

    def stop_all(self):
        for proc in reversed(self.procs):
            stop_process(proc)


def stop_process(proc, sig=signal.SIGTERM, timeout=10):
    """Signal @proc by PID (if still running) and reap it; SIGKILL after
    @timeout seconds.  Returns the exit status."""
    if proc.poll() is None:
        try:
            proc.send_signal(sig)
            return proc.wait(timeout=scaled(timeout))
        except subprocess.TimeoutExpired:
            proc.kill()
    return proc.wait()


class RawClient:
    """A protocol client that writes and reads lines itself (docs/protocol.md),
    for the tests of bad input and of rules below the library."""

    def __init__(self, path, timeout=10):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(scaled(timeout))
        self.sock.connect(str(path))
        self.buf = b""
        self.next_id = 0
        self.events = []

    def close(self):
        self.sock.close()

    def send_bytes(self, data):
        self.sock.sendall(data)

    def send(self, obj):
        self.send_bytes(json.dumps(obj, separators=(",", ":")).encode() + b"\n")

    def request(self, method, params=None):
        """Send a request and return its id."""
        rid = self.next_id
        self.next_id += 1
        msg = {"id": rid, "method": method}
        if params is not None:
            msg["params"] = params
        self.send(msg)
        return rid

    def recv(self, timeout=10):
        """The next message (a dict); None at end of file."""
        self.sock.settimeout(scaled(timeout))
        while b"\n" not in self.buf:
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def reply(self, rid, timeout=10):
        """Wait for the reply to @rid, keeping events that arrive meanwhile."""
        while True:
            msg = self.recv(timeout)
            assert msg is not None, f"connection closed while waiting for reply {rid}"
            if "event" in msg:
                self.events.append(msg)
                continue
            if msg.get("id") == rid:
                return msg
            raise AssertionError(f"unexpected message while waiting for {rid}: {msg}")

    def call(self, method, params=None, timeout=10):
        return self.reply(self.request(method, params), timeout)

    def hello(self, role, version="1.0"):
        return self.call("hello", {"version": version, "role": role, "client": "pytest"})

    def closed_within(self, timeout):
        """True when the service closes the connection within @timeout s
        (anything it sends first is read and dropped)."""
        deadline = time.monotonic() + scaled(timeout)
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                return False
            except ConnectionResetError:
                return True
            if not chunk:
                return True
        return False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def error_name(reply):
    """The error name of a reply, or None for a result."""
    err = reply.get("error")
    return err.get("name") if isinstance(err, dict) else None


class Writer:
    """A running test writer."""

    def __init__(self, env, proc, class_id, name, instance_name, log_path, ready_path):
        self.env, self.proc = env, proc
        self.class_id, self.name, self.instance_name = class_id, name, instance_name
        self.log_path, self.ready_path = log_path, ready_path
        self.expect_clean_exit = True

    @property
    def pid(self):
        return self.proc.pid

    def events(self):
        """The events the writer logged, in order (one JSON object each)."""
        out = []
        for line in read_text(self.log_path).splitlines():
            if line.strip():
                out.append(json.loads(line))
        return out

    def event_names(self):
        return [e["event"] for e in self.events()]

    def stderr(self):
        return read_text(self.proc.log_prefix + ".err")

    def stdout(self):
        return read_text(self.proc.log_prefix + ".out")

    def ready_info(self):
        """The ready file: {"pid", "class_id", "instance_id"[, "second_subscribe"]}."""
        return json.loads(self.ready_path.read_text())

    @property
    def instance_id(self):
        return self.ready_info()["instance_id"]

    def entry(self):
        """This writer's entry in list_writers, found by its pid (or None)."""
        for w in self.env.list_writers():
            if w.get("pid") == self.pid:
                return w
        return None

    def wait_ready(self, timeout=10):
        def ready():
            if self.proc.poll() is not None:
                raise AssertionError(f"writer {self.name} exited with {self.proc.returncode}"
                                     f" before it was ready: {self.stderr()}")
            return self.ready_path.exists()

        wait_until(ready, timeout, f"writer {self.name} to subscribe")

    def stop(self):
        """SIGTERM; the test writer exits 0 on it."""
        return stop_process(self.proc)


class RequesterResult:
    def __init__(self, rc, stdout, stderr):
        self.rc, self.stdout, self.stderr = rc, stdout, stderr
        self.lines = [json.loads(l) for l in stdout.splitlines() if l.strip().startswith("{")]

    def step(self, name, nth=0):
        """The @nth output line of step @name ("gather", "metadata-get")."""
        found = [l for l in self.lines if l.get("step") == name]
        assert len(found) > nth, f"no output for step {name!r} (#{nth}): {self.stdout}"
        return found[nth]

    def __repr__(self):
        return f"<requester rc={self.rc} out={self.stdout!r} err={self.stderr!r}>"


class RequesterProcess:
    """A test requester started in the background: its steps print (and are
    flushed) one line each as they run, so a test can wait for one."""

    def __init__(self, proc):
        self.proc = proc

    @property
    def pid(self):
        return self.proc.pid

    def result(self):
        """What it printed so far (a RequesterResult; rc None while running)."""
        return RequesterResult(self.proc.poll(), read_text(self.proc.log_prefix + ".out"),
                               read_text(self.proc.log_prefix + ".err"))

    def wait_step(self, name, timeout=10):
        """The output line of step @name, once it has run."""
        def printed():
            lines = [l for l in self.result().lines if l.get("step") == name]
            if lines:
                return lines[0]
            if self.proc.poll() is not None:
                raise AssertionError(f"the requester exited without step {name!r}: "
                                     f"{self.result()}")
            return None

        return wait_until(printed, timeout, f"the requester's step {name!r}")

    def wait(self, timeout=30):
        """Wait for the end; the whole result."""
        self.proc.wait(timeout=scaled(timeout))
        return self.result()


class Env:
    """One test's world: a temporary directory (short path, mode 0755, so
    that sockets fit in sun_path and another user can reach them), the
    daemon, and the processes started."""

    def __init__(self, group=None):
        self.dir = Path(tempfile.mkdtemp(prefix="sc-", dir="/tmp"))
        os.chmod(self.dir, 0o755)
        self.socket = self.dir / "sc.sock"
        self.writer_socket = self.dir / "w.sock"
        self.state_dir = self.dir / "state"
        self.config = self.dir / "shadowcopyd.conf"
        self.group = group
        self.procs = Processes()
        self.daemon = None
        self.daemon_runs = 0
        self.daemon_may_exit = False  # set by a test that ends the daemon on purpose
        self.writers = []
        self.counter = 0

    # --- the service -------------------------------------------------------

    def write_config(self, handshake_ms=HANDSHAKE_MS, identify_ms=IDENTIFY_MS,
                     writer_classes=None, extra=""):
        lines = ["[timeouts]", f"handshake-ms={handshake_ms}", f"identify-ms={identify_ms}", ""]
        if self.group:
            lines += ["[service]", f"group={self.group}", ""]
        if writer_classes:
            lines.append("[writer-classes]")
            lines += [f"{cid}={','.join(users)}" for cid, users in writer_classes.items()]
            lines.append("")
        self.config.write_text("\n".join(lines) + extra)

    def daemon_argv(self):
        return [SHADOWCOPYD, "--socket", self.socket, "--writer-socket", self.writer_socket,
                "--state-dir", self.state_dir, "--config", self.config]

    def start_daemon(self, wait=True, **config):
        if config or not self.config.exists():
            self.write_config(**config)
        self.state_dir.mkdir(exist_ok=True)
        self.daemon_runs += 1
        env = dict(os.environ)
        env.pop("NOTIFY_SOCKET", None)
        self.daemon = self.procs.start(self.daemon_argv(), self.dir / f"daemon{self.daemon_runs}",
                                       env=env)
        if wait:
            self.wait_daemon_ready()
        return self.daemon

    def wait_daemon_ready(self, timeout=10):
        def ready():
            if self.daemon.poll() is not None:
                raise AssertionError(f"shadowcopyd exited with {self.daemon.returncode}: "
                                     f"{self.daemon_log()}")
            return self.cli("writers", "--json", check=False).returncode == 0

        wait_until(ready, timeout, "shadowcopyd to answer on its socket")

    def stop_daemon(self, sig=signal.SIGTERM):
        rc = stop_process(self.daemon, sig)
        return rc

    def daemon_log(self):
        return "".join(read_text(f"{self.dir}/daemon{i}.err")
                       for i in range(1, self.daemon_runs + 1))

    # --- writers -----------------------------------------------------------

    def start_writer(self, class_id=None, name=None, instance_name=None, level=None,
                     metadata=None, fail=None, delay=None, hang=None, crash=None,
                     freeze_timeout_ms=None, socket_path=None, user=None, groups=None,
                     wait=True, file_sets=(), touch=(), extra=()):
        self.counter += 1
        n = self.counter
        class_id = class_id or new_class_id()
        name = name or f"Test Writer {n}"
        wdir = self.dir / f"writer{n}"
        wdir.mkdir()
        if user:
            os.chown(wdir, user.uid, user.gid)
        log_path, ready_path = wdir / "events.log", wdir / "ready"
        argv = [TEST_WRITER, "--socket", socket_path or self.socket, "--class", class_id,
                "--name", name, "--log", log_path, "--ready-file", ready_path]
        if instance_name is not None:
            argv += ["--instance-name", instance_name]
        if level:
            argv += ["--level", level]
        if freeze_timeout_ms:
            argv += ["--freeze-timeout-ms", str(freeze_timeout_ms)]
        if metadata is not None:
            mpath = wdir / "metadata.json"
            mpath.write_text(json.dumps(metadata))
            argv += ["--metadata", mpath]
        for opt, value in (("--fail", fail), ("--delay", delay), ("--hang", hang),
                           ("--crash", crash)):
            if value:
                argv += [opt, value]
        for path in file_sets:
            argv += ["--file-set", path]
        for when in touch:
            argv += ["--touch", when]
        argv += list(extra)
        proc = self.procs.start(argv, wdir / "writer", user=user, groups=groups)
        w = Writer(self, proc, class_id, name, instance_name, log_path, ready_path)
        self.writers.append(w)
        if wait:
            w.wait_ready()
        return w

    # --- clients -----------------------------------------------------------

    def run(self, argv, user=None, groups=None, timeout=60, env=None):
        argv = [str(a) for a in argv]
        if user:
            argv = user.wrap(argv, groups)
        return subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=scaled(timeout), env=env)

    def cli(self, *args, check=True, socket_path=None, user=None, groups=None, env=None):
        p = self.run([SHADOWCOPY, "--socket", socket_path or self.socket, *args], user=user,
                     groups=groups, env=env)
        if check:
            assert p.returncode == 0, f"shadowcopy {' '.join(args)}: rc {p.returncode}: {p.stderr}"
        return p

    def list_writers(self, metadata=False):
        args = ["writers", "--json"] + (["--metadata"] if metadata else [])
        p = self.cli(*args)
        return json.loads(p.stdout)["writers"]

    def requester(self, *steps, socket_path=None, user=None, groups=None, timeout=60,
                  stop_on_error=False):
        argv = [TEST_REQUESTER, "--socket", socket_path or self.socket]
        if stop_on_error:
            argv.append("--stop-on-error")
        p = self.run(argv + list(steps), user=user, groups=groups, timeout=timeout)
        return RequesterResult(p.returncode, p.stdout, p.stderr)

    def start_requester(self, *steps, stop_on_error=False):
        """A test requester running in the background (see RequesterProcess)."""
        self.counter += 1
        argv = [TEST_REQUESTER, "--socket", self.socket]
        if stop_on_error:
            argv.append("--stop-on-error")
        proc = self.procs.start(argv + list(steps), self.dir / f"requester{self.counter}")
        return RequesterProcess(proc)

    def snapshots(self, *args):
        """The snapshots the service keeps, as `shadowcopy list --json` prints them."""
        return json.loads(self.cli("list", "--json", *args).stdout)["snapshots"]

    def wait_sessions_ended(self, count, timeout=10):
        """Wait until the service has logged the end of @count requester
        sessions (after their BackupShutdown and auto-release deletion):
        what a session's end did not do by then, it does not do."""
        ended = re.compile(r"^shadowcopyd: Session \S+ ended$", re.M)
        wait_until(lambda: len(ended.findall(self.daemon_log())) >= count, timeout,
                   f"{count} requester sessions to end")

    def history(self, set_id):
        """The history the service keeps in its catalog of the backup that
        made set @set_id: one dict per line, in the order recorded."""
        db = sqlite3.connect(f"file:{self.state_dir}/catalog.sqlite?mode=ro", uri=True)
        try:
            db.row_factory = sqlite3.Row
            rows = db.execute("SELECT * FROM history WHERE set_id = ? ORDER BY rowid", (set_id,))
            return [dict(r) for r in rows]
        finally:
            db.close()

    def raw(self, role=None, socket_path=None):
        c = RawClient(socket_path or self.socket)
        if role:
            r = c.hello(role)
            assert "result" in r, f"hello as {role}: {r}"
        return c

    def wait_writers(self, predicate, what, timeout=10):
        """Poll list_writers until @predicate(writers) holds."""
        return wait_until(lambda: predicate(self.list_writers()), timeout, what)

    # --- the end -----------------------------------------------------------

    def cleanup(self):
        self.procs.stop_all()
        shutil.rmtree(self.dir, ignore_errors=True)


# --- filesystems made for the tests ------------------------------------------

def mount_points():
    """The mount points of this mount namespace (/proc/self/mountinfo)."""
    points = set()
    for line in read_text("/proc/self/mountinfo").splitlines():
        fields = line.split()
        if len(fields) > 4:
            points.add(re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[4]))
    return points


def loop_devices_of(image):
    """The loop devices backed by @image (losetup -j)."""
    p = subprocess.run(["losetup", "-j", str(image)], capture_output=True, text=True)
    return [line.split(":", 1)[0] for line in p.stdout.splitlines() if line.strip()]


class Mounts:
    """The filesystems a test module makes, all in one temporary directory:
    a loop-mounted btrfs whose subvolumes the tests create, and on request a
    tmpfs and a small loop-mounted ext4.  cleanup() unmounts exactly what
    was mounted here (a btrfs holding read-only snapshots unmounts fine),
    detaches its loop devices and removes the images; no other mount is
    ever touched."""

    BTRFS_SIZE = "384M"  # above mkfs.btrfs's minimum; room for 64-volume sets

    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="sc-fs-", dir="/tmp"))
        os.chmod(self.dir, 0o755)
        self.mounted = []  # our mount points, in mount order
        self.images = []
        self.made = {}
        self.counter = 0

    def _run(self, *argv):
        p = subprocess.run([str(a) for a in argv], capture_output=True, text=True,
                           stdin=subprocess.DEVNULL, timeout=scaled(60))
        assert p.returncode == 0, f"{' '.join(map(str, argv))}: {p.stderr}"
        return p.stdout

    def _loop(self, name, size, mkfs, image_dir=None):
        image, mnt = (image_dir or self.dir) / f"{name}.img", self.dir / name
        self.images.append(image)
        with open(image, "wb") as f:
            f.truncate(int(size[:-1]) << 20)
        self._run(*mkfs, image)
        mnt.mkdir()
        self._run("mount", "-o", "loop", image, mnt)
        self.mounted.append(mnt)
        return mnt

    def _once(self, kind, make):
        if kind not in self.made:
            self.made[kind] = make()
        return self.made[kind]

    @property
    def btrfs(self):
        """The btrfs mount point (made at first use)."""
        return self._once("btrfs", lambda: self._loop("btrfs", self.BTRFS_SIZE,
                                                       ["mkfs.btrfs", "-q"]))

    @property
    def ext4(self):
        """An ext4 mount point (made at first use).  Its image lies on the
        tmpfs, which cannot clone files: no provider supports it, wherever
        /tmp is."""
        return self._once("ext4", lambda: self._loop("ext4", "16M", ["mkfs.ext4", "-q", "-F"],
                                                     image_dir=self.tmpfs))

    @property
    def tmpfs(self):
        def make():
            mnt = self.dir / "tmpfs"
            mnt.mkdir()
            self._run("mount", "-t", "tmpfs", "-o", "size=48m", "sc-test", mnt)
            self.mounted.append(mnt)
            return mnt

        return self._once("tmpfs", make)

    def subvolume(self, name="vol"):
        """A new btrfs subvolume (a volume of its own) with a unique path."""
        self.counter += 1
        path = self.btrfs / f"{name}{self.counter}"
        self._run("btrfs", "subvolume", "create", path)
        return path

    def cleanup(self):
        """Undo everything; the problems seen (an empty list when clean)."""
        problems = []
        for mnt in reversed(self.mounted):
            deadline = time.monotonic() + scaled(10)
            while str(mnt) in mount_points():
                p = subprocess.run(["umount", str(mnt)], capture_output=True, text=True)
                if p.returncode == 0:
                    break
                if time.monotonic() > deadline:
                    problems.append(f"umount {mnt}: {p.stderr.strip()}; detached lazily")
                    subprocess.run(["umount", "-l", str(mnt)], capture_output=True)
                    break
                time.sleep(0.1)
        for image in self.images:
            for dev in loop_devices_of(image):  # only ours: backed by our image
                subprocess.run(["losetup", "-d", dev], capture_output=True)
        self.mounted = []
        shutil.rmtree(self.dir, ignore_errors=True)
        return problems


WRITERLESS_CONTEXTS = ("file-share-backup", "nas-rollback")


def backup_steps(*volumes, context=None):
    """The test requester's steps of a volume-mode backup of @volumes up to a
    successful do_snapshot_set (the caller adds backup-complete, free, ...);
    in a writer-less @context, without the writers' steps."""
    volumes = [f"add-volume={v}" for v in volumes]
    if context in WRITERLESS_CONTEXTS:
        return ["init", f"context={context}", "start-set", *volumes, "do-snapshot"]
    steps = ["init"] + ([f"context={context}"] if context else [])
    return steps + ["backup-state=volume", "gather", "start-set", *volumes, "prepare",
                    "do-snapshot"]
