# SPDX-License-Identifier: LGPL-2.1-or-later
"""shadowcopy-writer-sqlite against the real service on loop-mounted btrfs
volumes, with a live transfer workload (issue 9): snapshots whose databases,
copied out and opened, pass integrity_check and keep the total; one database,
and two databases on two volumes committed across with ATTACH."""

import subprocess
import time

import pytest

from sctest import TIME_SCALE, scaled
from writerkit import (SQLITE_CLASS, SQLITE_WRITER, LockHolder, Workload, check_copies,
                       copy_database, create_set, make_bank, snapshot_path,
                       start_sqlite_writer, volumes, world)  # noqa: F401 (fixtures)

# The issue asks for 50 sets; the sanitizer pass (a time scale above 1)
# makes 10, which is enough to check the writer's memory there.
SETS = 50 if TIME_SCALE <= 1 else 10


def run_sets(env, dbs, n, tmp, paths=None):
    """@n sets of the volumes of @dbs (or @paths) with the writer; each
    snapshot's databases are copied out and checked.  The totals seen."""
    totals = []
    for i in range(n):
        _, doc = create_set(env, *(paths or [db.parent for db in dbs]))
        copies = [copy_database(snapshot_path(doc, db), tmp / f"set{i}" / f"db{k}")
                  for k, db in enumerate(dbs)]
        totals.append(check_copies(copies))
    return totals


def test_transfer_one_database(world, tmp_path):
    """50 sets of a volume whose database takes transfers all the time: every
    snapshot's copy opens, passes integrity_check and keeps the total."""
    env = world.env
    vol = world.volume()
    db = vol / "bank.db"
    total = make_bank([db])
    w = start_sqlite_writer(env, {"bank": [db]})
    load = Workload(env, [db])
    totals = run_sets(env, [db], SETS, tmp_path)
    summary = load.stop()
    assert summary["total"] == total
    assert summary["commits"] > SETS
    assert totals == [total] * SETS
    log = w.log()
    assert log.count("Freeze: 1 database(s) locked") == SETS
    assert log.count("Thaw: 1 database(s) released") == SETS


def test_transfer_two_volumes_attach(world, tmp_path):
    """Two databases on two btrfs volumes, every transaction moving an amount
    from one to the other (ATTACH), grouped in one component: 50 sets of both
    volumes, and in every one the two copies together keep the total."""
    env = world.env
    a, b = world.volume(), world.volume()
    dbs = [a / "bank.db", b / "ledger.db"]
    total = make_bank(dbs)
    w = start_sqlite_writer(env, {"bank": dbs})
    load = Workload(env, dbs)
    totals = run_sets(env, dbs, SETS, tmp_path)
    summary = load.stop()
    assert summary["total"] == total
    assert totals == [total] * SETS
    assert w.log().count("Freeze: 2 database(s) locked") == SETS
    print(f"{summary['commits']} transfers during {SETS} sets")


@pytest.mark.slow  # no writer code to check in the sanitizer pass
def test_no_writers_two_volumes(world, tmp_path):
    """The same workload without the writer (create --no-writers): the two
    volumes snapshotted one after the other, and both in one set.  Each copy
    is a sound database (SQLite survives a crash-consistent snapshot) but the
    two together break the total; how often is printed (docs/writers.md)."""
    env = world.env
    a, b = world.volume(), world.volume()
    dbs = [a / "bank.db", b / "ledger.db"]
    total = make_bank(dbs)
    load = Workload(env, dbs)
    apart = together = 0
    for i in range(SETS):
        docs = [create_set(env, db.parent, no_writers=True)[1] for db in dbs]
        copies = [copy_database(snapshot_path(doc, db), tmp_path / f"apart{i}" / f"db{k}")
                  for k, (doc, db) in enumerate(zip(docs, dbs))]
        apart += check_copies(copies) != total
        _, doc = create_set(env, a, b, no_writers=True)
        copies = [copy_database(snapshot_path(doc, db), tmp_path / f"together{i}" / f"db{k}")
                  for k, db in enumerate(dbs)]
        together += check_copies(copies) != total
    summary = load.stop()
    assert summary["total"] == total
    print(f"--no-writers: total broken in {apart} of {SETS} pairs of sets, in {together} of "
          f"{SETS} sets of both volumes ({summary['commits']} transfers)")


def writer_result(doc, w):
    """The writer's entry in a create document (state, failure)."""
    for e in doc["writers"]:
        if e.get("instance_id") == w.entry()["instance_id"]:
            return e
    raise AssertionError(f"writer not in {doc['writers']}")


def test_missing_database(world):
    """A configured database that does not exist: the writer fails at
    PrepareForSnapshot with WRITERERROR_NONRETRYABLE (the set is still made:
    VSS does not abort for it), and says which file."""
    env = world.env
    vol = world.volume()
    db = vol / "missing.db"
    w = start_sqlite_writer(env, {"gone": [db]})
    rc, doc = create_set(env, vol, check=False)
    assert rc == 1
    res = writer_result(doc, w)
    assert res["state"] == 8 and res["failure"] == "WRITERERROR_NONRETRYABLE", res
    assert f"{db}: cannot use the database" in w.log()
    assert len(doc["snapshots"]) == 1


def test_locked_too_long_at_freeze(world):
    """An application that keeps the write lock past lock-timeout-ms: Freeze
    fails with WRITERERROR_TIMEOUT within that bound (no hang), the set is
    aborted and leaves no snapshot; once the lock is gone, sets work again."""
    env = world.env
    vol = world.volume()
    db = vol / "bank.db"
    make_bank([db])
    w = start_sqlite_writer(env, {"bank": [db]}, extra="lock-timeout-ms = 300")
    holder = LockHolder(env, db)
    start = time.monotonic()
    rc, doc = create_set(env, vol, check=False)
    assert time.monotonic() - start < scaled(5)
    assert rc == 1
    res = writer_result(doc, w)
    assert res["state"] == 9 and res["failure"] == "WRITERERROR_TIMEOUT", res
    assert doc["snapshots"] == [] and env.cli("--json", "list").stdout.count("location") == 0
    assert "cannot take the write lock in time" in w.log()
    holder.release()
    create_set(env, vol)


def test_locked_at_prepare(world):
    """A rollback-journal database locked EXCLUSIVE (not even readable) when
    the writer opens it at PrepareForSnapshot: WRITERERROR_RETRYABLE after
    checkpoint-timeout-ms, and the set is made without it."""
    env = world.env
    vol = world.volume()
    db = vol / "bank.db"
    make_bank([db], journal_mode="delete")
    holder = LockHolder(env, db, "BEGIN EXCLUSIVE")
    w = start_sqlite_writer(env, {"bank": [db]}, extra="checkpoint-timeout-ms = 300")
    assert "not usable now" in w.log()
    rc, doc = create_set(env, vol, check=False)
    assert rc == 1
    res = writer_result(doc, w)
    assert res["state"] == 8 and res["failure"] == "WRITERERROR_RETRYABLE", res
    holder.release()
    _, doc = create_set(env, vol)
    assert writer_result(doc, w)["failure"] == "OK"


def test_group_outside_the_set(world):
    """A component grouping databases of two volumes, in a set of only one of
    them: WRITERERROR_INCONSISTENTSNAPSHOT (add the other volume), as VSS
    writers say it; with both volumes the set is made."""
    env = world.env
    a, b = world.volume(), world.volume()
    dbs = [a / "bank.db", b / "ledger.db"]
    make_bank(dbs)
    w = start_sqlite_writer(env, {"bank": dbs})
    rc, doc = create_set(env, a, check=False)
    assert rc == 1
    res = writer_result(doc, w)
    assert res["state"] == 8 and res["failure"] == "WRITERERROR_INCONSISTENTSNAPSHOT", res
    _, doc = create_set(env, a, b)
    assert writer_result(doc, w)["failure"] == "OK"


def test_rollback_journal_and_other_volume(world, tmp_path):
    """A database in rollback-journal mode under load: sets stay consistent.
    A component on another volume is left out of a set of this one (its
    database is neither checkpointed nor locked)."""
    env = world.env
    a, b = world.volume(), world.volume()
    db, other = a / "bank.db", b / "other.db"
    total = make_bank([db], journal_mode="delete")
    make_bank([other])
    w = start_sqlite_writer(env, {"bank": [db], "other": [other]})
    load = Workload(env, [db])
    totals = run_sets(env, [db], 5, tmp_path)
    assert load.stop()["total"] == total
    assert totals == [total] * 5
    assert w.log().count("Freeze: 1 database(s) locked") == 5


def test_identify(world):
    """Identify: one database component per configured component, with each
    file as database file, its -wal and -journal as log files and -shm
    excluded; the writer is listed with the SQLite writer's class id."""
    env = world.env
    vol = world.volume()
    one, two, three = vol / "one.db", vol / "two.db", vol / "sub" / "three.db"
    w = start_sqlite_writer(env, {"single": [one], "pair": [two, three]}, name="Apps")
    entry = [e for e in env.list_writers(metadata=True) if e["pid"] == w.pid][0]
    assert entry["class_id"] == SQLITE_CLASS and entry["name"] == "Apps"
    comps = {c["name"]: c for c in entry["metadata"]["components"]}
    assert set(comps) == {"single", "pair"}
    pair = comps["pair"]
    assert pair["type"] == 1  # SC_CT_DATABASE
    assert [(f["path"], f["filespec"]) for f in pair["database_files"]] == \
        [(str(vol), "two.db"), (str(vol / "sub"), "three.db")]
    assert [(f["path"], f["filespec"]) for f in pair["log_files"]] == \
        [(str(vol), "two.db-wal"), (str(vol), "two.db-journal"),
         (str(vol / "sub"), "three.db-wal"), (str(vol / "sub"), "three.db-journal")]
    excluded = [f["filespec"] for f in entry["metadata"]["excludes"]]
    assert excluded == ["one.db-shm", "two.db-shm", "three.db-shm"]


def run_writer(*args):
    return subprocess.run([str(SQLITE_WRITER), *map(str, args)], capture_output=True,
                          text=True, timeout=scaled(10))


def test_command_line(tmp_path):
    """--help, --version, -n (prints the configuration) and configuration
    errors (exit 2, with the file and line)."""
    assert run_writer("--help").returncode == 0
    assert run_writer("--version").stdout.startswith("shadowcopy-writer-sqlite ")
    assert run_writer("--bogus").returncode == 2
    conf = tmp_path / "w.conf"
    conf.write_text("[writer]\nlock-timeout-ms = 250\n[component c]\ndatabase = /x/y.db\n")
    p = run_writer("-n", "--config", conf)
    assert p.returncode == 0 and "lock-timeout-ms = 250" in p.stdout
    assert f"instance = {conf}" in p.stdout and "database = /x/y.db" in p.stdout
    for text, message in (("[writer]\nlock-timeout-ms = soon\n", ":2: lock-timeout-ms"),
                          ("[component c]\ndatabse = /x.db\n", ":2: unknown key 'databse'"),
                          ("[component c]\ndatabase = x.db\n", ":2: database: not an abs"),
                          ("[writer]\n", "no [component NAME] section")):
        conf.write_text(text)
        p = run_writer("-n", "--config", conf)
        assert p.returncode == 2 and message in p.stderr, (text, p.stderr)
    assert run_writer("--config", tmp_path / "none.conf").returncode == 2
