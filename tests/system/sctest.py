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
import shutil
import signal
import socket
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
                     wait=True, extra=()):
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
