# SPDX-License-Identifier: LGPL-2.1-or-later
"""Helpers of the tests of the real writers (shadowcopy-writer-sqlite and
shadowcopy-writer-hooks): loop-mounted btrfs volumes made and removed by the
test, the writer daemons as processes of the test, the transfer workload
(many small transactions that move an amount between accounts, so that the
total never changes), and the check of the databases in a snapshot.

Run as a program, this file is the workload itself:
    python3 writerkit.py transfer --db A.db [--attach B.db] [--latency FILE]
It runs until SIGTERM, then prints {"commits": N, "total": T} on stdout.
Nothing here freezes a filesystem; every process is stopped by its PID."""

import argparse
import json
import os
import random
import shutil
import signal
import sqlite3
import sys
import time
from pathlib import Path

import pytest

from sctest import BUILD, Mounts, Writer, read_text, wait_until

SQLITE_WRITER = BUILD / "src" / "writers" / "sqlite" / "shadowcopy-writer-sqlite"
HOOKS_WRITER = BUILD / "src" / "writers" / "hooks" / "shadowcopy-writer-hooks"
SQLITE_CLASS = "0c6f9b52-7d1e-4a3c-8f25-9e4b1d6a7c30"
HOOKS_CLASS = "a3e1f0d4-5b27-4c8e-9d61-2f7a8c4b0e95"

ACCOUNTS = 100
OPENING_BALANCE = 1000
PYTHON = "/usr/bin/python3"


# --- loop-mounted btrfs volumes ----------------------------------------------

class WriterMounts(Mounts):
    """sctest.Mounts with a larger (sparse) btrfs: room for 50 snapshots of a
    busy database, each of which keeps its own copy of the pages rewritten
    since.  (A full btrfs makes SQLite die of SIGBUS on its mapped -shm.)"""

    BTRFS_SIZE = "1024M"


@pytest.fixture
def volumes():
    """A factory of volumes on filesystems of their own: volumes() is a new
    btrfs subvolume on a new loop-mounted btrfs, so that two of them are
    snapshotted independently (the shared `volume` fixture gives subvolumes
    of one btrfs).  Request it before env (or use the world fixture) so that
    the service is stopped before the filesystems are unmounted."""
    made = []

    def make():
        m = WriterMounts()
        made.append(m)
        return m.subvolume()

    problems = []
    try:
        yield make
    finally:
        for m in made:
            problems += m.cleanup()
    assert not problems, "; ".join(problems)


class World:
    def __init__(self, env, volumes):
        self.env, self.volume = env, volumes


@pytest.fixture
def world(volumes, env):
    """The service (env) and a volume factory, torn down in the right order."""
    return World(env, volumes)


# --- the writer daemons ----------------------------------------------------

class DaemonWriter(Writer):
    """A writer daemon of src/writers: ready once it is listed by the service."""

    def __init__(self, env, proc, class_id, name, instance_name, config):
        super().__init__(env, proc, class_id, name, instance_name, None, None)
        self.config = config

    def wait_ready(self, timeout=10):
        def ready():
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.name} exited with {self.proc.returncode}: "
                                     f"{self.stderr()}")
            return self.entry() is not None

        wait_until(ready, timeout, f"writer {self.name} to subscribe")

    def log(self):
        return self.stderr()


def start_daemon_writer(env, program, class_id, config_text, name, wait=True):
    """Start @program with a config file holding @config_text."""
    env.counter += 1
    wdir = env.dir / f"writer{env.counter}"
    wdir.mkdir()
    config = wdir / "writer.conf"
    config.write_text(config_text)
    proc = env.procs.start([program, "--config", config, "--socket", env.writer_socket],
                           wdir / "writer")
    w = DaemonWriter(env, proc, class_id, name, None, config)
    env.writers.append(w)
    if wait:
        w.wait_ready()
    return w


def sqlite_config(components, name="SQLite test", extra=""):
    """A config of the SQLite writer: @components maps a component name to
    its database paths (several: one group, committed across with ATTACH)."""
    lines = ["[writer]", f"name = {name}"] + ([extra] if extra else []) + [""]
    for comp, paths in components.items():
        lines.append(f"[component {comp}]")
        lines += [f"database = {p}" for p in paths]
        lines.append("")
    return "\n".join(lines)


def start_sqlite_writer(env, components, name="SQLite test", extra="", wait=True):
    return start_daemon_writer(env, SQLITE_WRITER, SQLITE_CLASS,
                               sqlite_config(components, name, extra), name, wait)


def start_hooks_writer(env, directory, name="Hooks test", extra="", wait=True):
    text = f"[writer]\nname = {name}\ndirectory = {directory}\n{extra}\n"
    return start_daemon_writer(env, HOOKS_WRITER, HOOKS_CLASS, text, name, wait)


# --- snapshot sets ---------------------------------------------------------

def create_set(env, *paths, no_writers=False, check=True):
    """shadowcopy --json create: (exit status, the JSON document or None)."""
    args = ["--json", "create"] + (["--no-writers"] if no_writers else []) + \
        [str(p) for p in paths]
    p = env.cli(*args, check=False)
    if check:
        assert p.returncode == 0, f"create {paths}: rc {p.returncode}: {p.stderr} {p.stdout}"
    try:
        doc = json.loads(p.stdout)
    except ValueError:
        doc = None
    return p.returncode, doc


def snapshot_path(doc, live_path):
    """Where the file @live_path of a volume is in the set @doc."""
    live = Path(live_path)
    for s in doc["snapshots"]:
        root = Path(s["volume_root"])
        if live == root or root in live.parents:
            return Path(s["location"]) / live.relative_to(root)
    raise AssertionError(f"{live_path} is on no volume of the set: {doc['snapshots']}")


def copy_database(src, dest_dir):
    """Copy a database and its -wal and -journal (not -shm: SQLite rebuilds
    it) out of a snapshot, as a backup program would.  The copy's path."""
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-journal"):
        f = Path(str(src) + suffix)
        if f.exists():
            shutil.copyfile(f, dest_dir / (Path(src).name + suffix))
    return dest_dir / Path(src).name


def check_copies(paths):
    """Open the copied databases (the first as main, the others attached, as
    the application does), run PRAGMA integrity_check on each and return the
    total of all accounts."""
    con = sqlite3.connect(str(paths[0]), isolation_level=None)
    try:
        names = ["main"]
        for i, p in enumerate(paths[1:]):
            con.execute(f"ATTACH DATABASE ? AS aux{i}", (str(p),))
            names.append(f"aux{i}")
        total = 0
        for n in names:
            result = con.execute(f"PRAGMA {n}.integrity_check").fetchall()
            assert result == [("ok",)], f"{n} in {paths}: integrity_check: {result}"
            total += con.execute(f"SELECT sum(balance) FROM {n}.accounts").fetchone()[0]
        return total
    finally:
        con.close()


def make_bank(paths, journal_mode="wal"):
    """One accounts table per database file; the total is what must survive."""
    for p in paths:
        con = sqlite3.connect(str(p), isolation_level=None)
        con.execute(f"PRAGMA journal_mode={journal_mode}")
        con.execute("CREATE TABLE accounts (id INTEGER PRIMARY KEY, balance INTEGER NOT NULL)")
        con.executemany("INSERT INTO accounts VALUES (?, ?)",
                        [(i, OPENING_BALANCE) for i in range(ACCOUNTS)])
        con.close()
    return ACCOUNTS * OPENING_BALANCE * len(paths)


# --- the workload ----------------------------------------------------------

class Workload:
    """The transfer workload as a process of the test."""

    def __init__(self, env, paths, latency=None, poll_ms=None):
        env.counter += 1
        self.prefix = env.dir / f"workload{env.counter}"
        argv = [PYTHON, Path(__file__).resolve(), "transfer", "--db", paths[0]]
        for p in paths[1:]:
            argv += ["--attach", p]
        if latency:
            argv += ["--latency", latency]
        if poll_ms is not None:
            argv += ["--poll-ms", str(poll_ms)]
        self.proc = env.procs.start(argv, self.prefix)
        self.err = Path(f"{self.prefix}.err")
        wait_until(self.started, 10, "the workload to commit")

    def started(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"workload exited: {read_text(self.err)}")
        return "committing" in read_text(self.err)

    def stop(self):
        """SIGTERM; its summary {"commits", "total"}."""
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=30)
        assert rc == 0, f"workload exited {rc}: {read_text(self.err)}"
        return json.loads(read_text(f"{self.prefix}.out"))


class LockHolder:
    """An application that takes a lock of a database and keeps it until
    stopped: "BEGIN IMMEDIATE" (writes wait, reads go on) or "BEGIN
    EXCLUSIVE" (in rollback-journal mode, reads wait too)."""

    def __init__(self, env, db, begin="BEGIN IMMEDIATE"):
        env.counter += 1
        self.prefix = env.dir / f"lock{env.counter}"
        code = ("import sqlite3, sys, time\n"
                "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
                f"c.execute({begin!r})\n"
                "print('locked', flush=True)\n"
                "time.sleep(3600)\n")
        self.proc = env.procs.start([PYTHON, "-c", code, db], self.prefix)
        wait_until(self.locked, 10, "the application to take its lock")

    def locked(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"lock holder exited: {read_text(f'{self.prefix}.err')}")
        return "locked" in read_text(f"{self.prefix}.out")

    def release(self):
        self.proc.kill()
        self.proc.wait()


def _connect(paths, timeout):
    con = sqlite3.connect(paths[0], isolation_level=None, timeout=timeout)
    con.execute("PRAGMA synchronous=NORMAL")
    for i, p in enumerate(paths[1:]):
        con.execute(f"ATTACH DATABASE ? AS aux{i}", (p,))
    return con, ["main"] + [f"aux{i}" for i in range(len(paths) - 1)]


def _begin(con, poll_s):
    """BEGIN IMMEDIATE, waiting for the lock: with SQLite's busy timeout, or
    (@poll_s) by trying again every @poll_s seconds, which measures the wait
    without the coarse steps of SQLite's own busy handler."""
    while True:
        try:
            con.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as e:
            if poll_s is None or "locked" not in str(e):
                raise
            time.sleep(poll_s)


def transfer_main(args):
    stop = []
    signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
    poll_s = args.poll_ms / 1000.0 if args.poll_ms is not None else None
    con, schemas = _connect([args.db] + args.attach, 0 if poll_s is not None else 60)
    rnd = random.Random(os.getpid())
    samples = []
    commits = 0
    print("committing", file=sys.stderr, flush=True)
    while not stop:
        # With several databases every transaction touches two of them.
        src, dst = rnd.sample(schemas, 2) if len(schemas) > 1 else (schemas[0], schemas[0])
        a, b, amount = rnd.randrange(ACCOUNTS), rnd.randrange(ACCOUNTS), rnd.randint(1, 50)
        t0 = time.monotonic_ns()
        _begin(con, poll_s)
        t1 = time.monotonic_ns()
        con.execute(f"UPDATE {src}.accounts SET balance = balance - ? WHERE id = ?", (amount, a))
        con.execute(f"UPDATE {dst}.accounts SET balance = balance + ? WHERE id = ?", (amount, b))
        con.execute("COMMIT")
        commits += 1
        if args.latency:
            samples.append((t0, t1 - t0, time.monotonic_ns() - t0))
    total = sum(con.execute(f"SELECT sum(balance) FROM {s}.accounts").fetchone()[0]
                for s in schemas)
    con.close()
    if args.latency:
        with open(args.latency, "w") as f:
            f.writelines(f"{s} {w} {c}\n" for s, w, c in samples)
    print(json.dumps({"commits": commits, "total": total}), flush=True)


def main():
    parser = argparse.ArgumentParser(description="the transfer workload of the writer tests")
    sub = parser.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("transfer", help="move amounts between accounts until SIGTERM")
    t.add_argument("--db", required=True)
    t.add_argument("--attach", action="append", default=[])
    t.add_argument("--latency", help="write 'start_ns lock_wait_ns total_ns' per transaction")
    t.add_argument("--poll-ms", type=float, help="retry a busy BEGIN every N ms (no busy timeout)")
    args = parser.parse_args()
    transfer_main(args)


if __name__ == "__main__":
    main()
