# SPDX-License-Identifier: LGPL-2.1-or-later
"""The snapshot commands of the shadowcopy tool on real btrfs: create (with
writers, --no-writers, --exclude-writer), list, delete (an id, --set,
--oldest, --all), providers; --json of each; usage errors and --help."""

import json
import subprocess
from pathlib import Path

import pytest

from sctest import NULL_ID, SHADOWCOPY

SEQUENCE = ["identify", "prepare_backup", "prepare_snapshot", "freeze", "thaw", "post_snapshot",
            "backup_complete", "backup_shutdown"]
BACKUP_TYPE_COPY = 5
APP_ROLLBACK_ATTRIBUTES = 0x1 | 0x8         # PERSISTENT | NO_AUTO_RELEASE
NAS_ROLLBACK_ATTRIBUTES = 0x1 | 0x8 | 0x10  # ... | NO_WRITERS


def create_json(env, *args):
    p = env.cli("create", "--json", *map(str, args))
    return json.loads(p.stdout)


def ids(snapshots):
    return [s["snapshot_id"] for s in snapshots]


# --- create ---------------------------------------------------------------------

def test_create(env, volume):
    """`shadowcopy create PATH` exits 0 and prints the set id, the snapshot's
    id and where it is; the writer whose files are on the volume went
    through the whole backup (context app-rollback, a copy backup), and the
    snapshot is a persistent one that outlives the command."""
    w = env.start_writer(name="App", file_sets=[volume])
    (volume / "data.txt").write_text("data")
    p = env.cli("create", str(volume))
    [snap] = env.snapshots()
    for text in (snap["snapshot_set_id"], snap["snapshot_id"], snap["location"], str(volume),
                 "App"):
        assert text in p.stdout, (text, p.stdout)
    assert snap["context"] == "app-rollback"
    assert snap["attributes"] == APP_ROLLBACK_ATTRIBUTES
    assert (Path(snap["location"]) / "data.txt").read_text() == "data"
    env.wait_sessions_ended(1)
    assert w.event_names() == SEQUENCE
    for e in w.events()[1:]:
        assert e["context"] == "app-rollback" and e["backup_type"] == BACKUP_TYPE_COPY, e
        assert e["set"] == snap["snapshot_set_id"] and e["volumes"] == [str(volume)], e


def test_create_json(env, mounts):
    """`create --json` with two paths on two volumes: one set, one snapshot
    per volume, each counting two, and the writers with their state."""
    vols = [mounts.subvolume(), mounts.subvolume()]
    w = env.start_writer(file_sets=[vols[1]])
    out = create_json(env, *vols)
    assert out["context"] == "app-rollback"
    snaps = out["snapshots"]
    assert [s["original_volume"] for s in snaps] == [str(v) for v in vols]
    assert {s["snapshot_set_id"] for s in snaps} == {out["snapshot_set_id"]}
    assert {s["count"] for s in snaps} == {2}
    assert ids(snaps) == ids(env.snapshots())
    assert [(x["instance_id"], x["failure"]) for x in out["writers"]] == [(w.instance_id, "OK")]


def test_create_relative_path(env, volume):
    """A relative PATH is the one below the tool's working directory."""
    (volume / "sub").mkdir()
    p = subprocess.run([str(SHADOWCOPY), "--socket", str(env.socket), "--json", "create", "sub"],
                       cwd=volume, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    [snap] = json.loads(p.stdout)["snapshots"]
    assert snap["volume_root"] == str(volume)
    assert snap["original_volume"] == f"{volume}/sub"


def test_create_two_paths_on_one_volume(env, volume):
    """Two PATHs on one volume make one snapshot of it (the service says the
    second is already in the set, OBJECT_ALREADY_EXISTS, and the tool goes on)."""
    (volume / "a").mkdir()
    (volume / "b").mkdir()
    out = create_json(env, volume / "a", volume / "b")
    [snap] = out["snapshots"]
    assert snap["volume_root"] == str(volume)
    assert ids(out["snapshots"]) == ids(env.snapshots())


def test_create_no_writers(env, volume):
    """`create --no-writers`: context nas-rollback; the writers get nothing,
    not even Identify."""
    w = env.start_writer(file_sets=[volume])
    out = create_json(env, "--no-writers", volume)
    assert out["context"] == "nas-rollback"
    [snap] = out["snapshots"]
    assert snap["attributes"] == NAS_ROLLBACK_ATTRIBUTES
    assert out.get("writers", []) == []
    env.wait_sessions_ended(1)
    assert w.event_names() == []


def test_create_exclude_writer(env, volume):
    """`--exclude-writer CLASS` leaves that class out (no event at all);
    the other writer on the volume takes part."""
    excluded = env.start_writer(name="Excluded", file_sets=[volume])
    also_excluded = env.start_writer(excluded.class_id, name="Same class", file_sets=[volume])
    kept = env.start_writer(name="Kept", file_sets=[volume])
    out = create_json(env, "--exclude-writer", excluded.class_id, volume)
    assert [x["instance_id"] for x in out["writers"]] == [kept.instance_id]
    env.wait_sessions_ended(1)
    assert kept.event_names() == SEQUENCE
    assert excluded.event_names() == also_excluded.event_names() == []


def test_create_unsupported_volume(env, mounts):
    """A path no provider supports: exit 1, a message naming it, no snapshot."""
    p = env.cli("create", str(mounts.tmpfs), check=False)
    assert p.returncode == 1
    assert str(mounts.tmpfs) in p.stderr and "VOLUME_NOT_SUPPORTED" in p.stderr
    assert env.snapshots() == []


def test_create_writer_failure(env, volume):
    """A writer that vetoes Freeze fails the command (exit 1) and no
    snapshot is left."""
    env.start_writer(file_sets=[volume], fail="freeze")
    p = env.cli("create", str(volume), check=False)
    assert p.returncode == 1, (p.stdout, p.stderr)
    assert p.stderr.strip()
    assert env.snapshots() == []


# --- list -----------------------------------------------------------------------------

def test_list(env, mounts):
    """`list` prints every snapshot with its set, location and volume, oldest
    first; `list --set ID` only that set's; --json gives the same ids."""
    vols = [mounts.subvolume(), mounts.subvolume()]
    first = create_json(env, "--no-writers", vols[0])
    second = create_json(env, "--no-writers", *vols)
    p = env.cli("list")
    positions = []
    for snap in first["snapshots"] + second["snapshots"]:
        for text in (snap["snapshot_id"], snap["snapshot_set_id"], snap["location"]):
            assert text in p.stdout, (text, p.stdout)
        positions.append(p.stdout.index(snap["snapshot_id"]))
    assert positions == sorted(positions)
    assert ids(env.snapshots()) == ids(first["snapshots"] + second["snapshots"])

    p = env.cli("list", "--set", second["snapshot_set_id"])
    assert first["snapshots"][0]["snapshot_id"] not in p.stdout
    assert all(s["snapshot_id"] in p.stdout for s in second["snapshots"])
    assert ids(env.snapshots("--set", second["snapshot_set_id"])) == ids(second["snapshots"])


def test_list_empty(env):
    p = env.cli("list")
    assert p.stdout.strip()  # says that there is nothing
    assert env.snapshots() == []


# --- delete ---------------------------------------------------------------------------

def delete_json(env, *args):
    return json.loads(env.cli("delete", "--json", *args).stdout)


def test_delete_id(env, mounts):
    """`delete ID` deletes that snapshot only; an unknown id exits 1."""
    vols = [mounts.subvolume(), mounts.subvolume()]
    snaps = create_json(env, "--no-writers", *vols)["snapshots"]
    env.cli("delete", snaps[0]["snapshot_id"])
    assert not Path(snaps[0]["location"]).exists()
    assert ids(env.snapshots()) == [snaps[1]["snapshot_id"]]
    p = env.cli("delete", snaps[0]["snapshot_id"], check=False)
    assert p.returncode == 1 and p.stderr.strip()


def test_delete_set(env, mounts):
    """`delete --set ID --json`: the set's members, counted, none failing."""
    vols = [mounts.subvolume(), mounts.subvolume()]
    doomed = create_json(env, "--no-writers", *vols)
    kept = create_json(env, "--no-writers", vols[0])
    out = delete_json(env, "--set", doomed["snapshot_set_id"])
    assert out == {"deleted": 2, "non_deleted_id": NULL_ID, "failure": "OK"}
    assert ids(env.snapshots()) == ids(kept["snapshots"])
    for snap in doomed["snapshots"]:
        assert not Path(snap["location"]).exists()


def test_delete_oldest(env, mounts):
    """`delete --oldest PATH` deletes the oldest snapshot of the volume that
    holds PATH, and nothing of other volumes."""
    vol, other = mounts.subvolume(), mounts.subvolume()
    (vol / "dir").mkdir()
    other_snap = create_json(env, "--no-writers", other)["snapshots"][0]
    oldest, newer = (create_json(env, "--no-writers", vol)["snapshots"][0] for _ in range(2))
    out = delete_json(env, "--oldest", f"{vol}/dir")
    assert out["deleted"] == 1 and out["non_deleted_id"] == NULL_ID
    assert ids(env.snapshots()) == [other_snap["snapshot_id"], newer["snapshot_id"]]
    assert not Path(oldest["location"]).exists()


def test_delete_oldest_relative_path(env, volume):
    """`delete --oldest PATH` with a relative PATH, as create takes one."""
    create_json(env, "--no-writers", volume)
    p = subprocess.run([str(SHADOWCOPY), "--socket", str(env.socket), "delete", "--oldest", "."],
                       cwd=volume, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert env.snapshots() == []


def test_delete_all(env, mounts):
    """`delete --all` deletes every snapshot of every context."""
    vols = [mounts.subvolume(), mounts.subvolume()]
    env.start_writer(file_sets=vols)
    made = create_json(env, vols[0])["snapshots"] + create_json(env, "--no-writers",
                                                                *vols)["snapshots"]
    out = delete_json(env, "--all")
    assert out == {"deleted": 3, "non_deleted_id": NULL_ID, "failure": "OK"}
    assert env.snapshots() == []
    for snap in made:
        assert not Path(snap["location"]).exists()


def test_delete_text(env, volume):
    """Without --json, delete says how many it deleted."""
    create_json(env, "--no-writers", volume)
    p = env.cli("delete", "--all")
    assert "1" in p.stdout


# --- providers --------------------------------------------------------------------------

def test_providers(env):
    """`providers` lists the btrfs provider: software, does not hold writes."""
    providers = json.loads(env.cli("providers", "--json").stdout)["providers"]
    [prov] = [p for p in providers if p["name"] == "btrfs"]
    assert prov["type"] == 2  # VSS_PROV_SOFTWARE
    assert prov["holds_writes"] is False
    text = env.cli("providers").stdout
    assert "btrfs" in text and prov["provider_id"] in text


# --- the command line -------------------------------------------------------------------

def run(*argv):
    return subprocess.run([str(SHADOWCOPY), *argv], capture_output=True, text=True, timeout=30,
                          stdin=subprocess.DEVNULL)


def test_help_lists_commands():
    p = run("--help")
    assert p.returncode == 0
    for command in ("create", "list", "delete", "providers", "writers"):
        assert command in p.stdout, command


@pytest.mark.parametrize("command", ["create", "list", "delete", "providers"])
def test_command_help(command):
    p = run(command, "--help")
    assert p.returncode == 0
    assert "--json" in p.stdout


@pytest.mark.parametrize("argv", [["create"], ["create", "--no-such-option", "/"],
                                  ["create", "--exclude-writer", "not-an-id", "/"],
                                  ["delete"], ["delete", "not-an-id"],
                                  ["delete", "--set"], ["delete", "--all", "--oldest", "/"],
                                  ["list", "extra"], ["list", "--set", "not-an-id"],
                                  ["providers", "extra"]],
                         ids=lambda a: " ".join(a))
def test_usage_errors(argv):
    """Exit status 2 and a message for a bad command line (create without
    PATH, delete without a target, ...), before any connection."""
    p = run("--socket", "/nonexistent/sc.sock", *argv)
    assert p.returncode == 2, (p.stdout, p.stderr)
    assert p.stderr.strip()
    assert not p.stdout.strip()
