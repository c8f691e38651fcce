# SPDX-License-Identifier: LGPL-2.1-or-later
"""shadowcopy-writer-hooks against the real service (issue 9): a directory
in qemu-guest-agent's fsfreeze-hook.d style runs unchanged; opt-in events;
a failing or hanging freeze hook vetoes; thaw and abort come in reverse
order to every hook that got "freeze", also when the service is killed
while the hooks are frozen; parallel steps."""

import signal
import subprocess
import time
from pathlib import Path

from sctest import SHADOWCOPY, backup_steps, scaled, wait_until
from writerkit import HOOKS_WRITER, create_set, start_hooks_writer

# A hook that logs "NAME ARG $SHADOWCOPY_EVENT" and does what $1 asks of it.
LOGGING_HOOK = """#!/bin/sh
{marker}
echo "{name} $1 $SHADOWCOPY_EVENT" >>{log}
{body}
exit 0
"""


class HookDir:
    """A hook directory of the test and the log its hooks append to."""

    def __init__(self, base):
        self.dir = Path(base) / "hooks.d"
        self.dir.mkdir()
        self.log = Path(base) / "hooks.log"
        self.log.touch()

    def add(self, name, body="", marker="", text=None, mode=0o755):
        path = self.dir / name
        path.parent.mkdir(exist_ok=True)
        path.write_text(text if text is not None else
                        LOGGING_HOOK.format(name=name, log=self.log, body=body, marker=marker))
        path.chmod(mode)
        return path

    def lines(self):
        return [l.split() for l in self.log.read_text().splitlines() if l.strip()]

    def calls(self):
        """(name, argument) of every run, in order."""
        return [(l[0], l[1]) for l in self.lines()]


def writer_result(doc, w):
    for e in doc["writers"]:
        if e.get("instance_id") == w.entry()["instance_id"]:
            return e
    raise AssertionError(f"writer not in {doc['writers']}")


# A hook written for qemu-guest-agent, in the style of its mysql-flush.sh
# sample: "freeze" leaves a background process holding the application
# until "thaw" releases it through a FIFO; anything else is an error.
QEMU_HOLDER = """#!/bin/sh
# Hold the application between freeze and thaw.
FIFO={fifo}
LOG={log}

hold_until_thaw() {{
    echo "holder started" >>$LOG
    read dummy < $FIFO
    echo "holder released" >>$LOG
    rm -f $FIFO
}}

case "$1" in
    freeze)
        echo "10-holder freeze" >>$LOG
        mkfifo $FIFO || exit 1
        hold_until_thaw &
        echo "in the snapshot" >{marker}
        ;;
    thaw)
        echo "10-holder thaw" >>$LOG
        [ ! -p $FIFO ] && exit 1
        echo > $FIFO
        ;;
    *)
        exit 1
        ;;
esac
"""

QEMU_PLAIN = """#!/bin/bash
case "$1" in
    freeze|thaw) echo "20-plain $1" >>{log} ;;
    *) exit 1 ;;
esac
"""

# No "#!" line: qemu-ga's dispatcher (a shell script) runs it with sh.
QEMU_NO_SHEBANG = """case "$1" in
    freeze|thaw) echo "25-no-shebang $1" >>{log} ;;
    *) exit 1 ;;
esac
"""

NEVER_RUN = """#!/bin/sh
echo "{name} ran" >>{log}
exit 1
"""


def test_qemu_guest_agent_directory(env, volume, tmp_path):
    """qemu-ga style hooks run unchanged: "freeze" in name order before the
    snapshot, "thaw" in reverse after it; a background process a freeze hook
    leaves runs on until thaw; a script without "#!" runs with sh; backup
    files, hidden and non-executable files are skipped, as qemu-ga's
    fsfreeze-hook skips them."""
    vol = volume
    hooks = HookDir(tmp_path)
    marker = vol / "frozen-marker"
    hooks.add("10-holder", text=QEMU_HOLDER.format(fifo=tmp_path / "hold.fifo", log=hooks.log,
                                                 marker=marker))
    hooks.add("20-plain", text=QEMU_PLAIN.format(log=hooks.log))
    hooks.add("25-no-shebang", text=QEMU_NO_SHEBANG.format(log=hooks.log))
    for name in ("mysql-flush.sh.sample", "30-edit~", "40-old.dpkg-old", ".hidden",
                 "50-rpm.rpmnew"):
        hooks.add(name, text=NEVER_RUN.format(name=name, log=hooks.log))
    hooks.add("60-not-executable", text=NEVER_RUN.format(name="60", log=hooks.log), mode=0o644)
    w = start_hooks_writer(env, hooks.dir)
    _, doc = create_set(env, vol)
    assert writer_result(doc, w)["failure"] == "OK"
    wait_until(lambda: "holder released" in hooks.log.read_text(), 5, "the holder to end")
    assert hooks.log.read_text().splitlines() == [
        "10-holder freeze", "holder started", "20-plain freeze", "25-no-shebang freeze",
        "25-no-shebang thaw", "20-plain thaw", "10-holder thaw", "holder released"]
    snap = Path(doc["snapshots"][0]["location"])
    assert (snap / "frozen-marker").read_text() == "in the snapshot\n"


def test_opt_in_and_environment(env, volume, tmp_path):
    """A hook with the marker line also gets prepare, post-snapshot and
    backup-complete, in that order around freeze and thaw; the environment
    names the event, the snapshot set and its volumes."""
    vol = volume
    hooks = HookDir(tmp_path)
    envfile = tmp_path / "env"
    hooks.add("10-aware", marker="# shadowcopy-events: prepare post-snapshot abort backup-complete",
              body=f'echo "$1 $SHADOWCOPY_SNAPSHOT_SET_ID $SHADOWCOPY_CONTEXT '
                   f'$SHADOWCOPY_VOLUMES" >>{envfile}')
    hooks.add("20-plain")
    w = start_hooks_writer(env, hooks.dir, extra=f"volume = {vol}")
    _, doc = create_set(env, vol)
    assert writer_result(doc, w)["failure"] == "OK"
    assert hooks.calls() == [("10-aware", "prepare"), ("10-aware", "freeze"),
                             ("20-plain", "freeze"), ("20-plain", "thaw"),
                             ("10-aware", "thaw"), ("10-aware", "post-snapshot"),
                             ("10-aware", "backup-complete")]
    assert all(l[1] == l[2] for l in hooks.lines())  # $SHADOWCOPY_EVENT is the word
    set_id = doc["snapshot_set_id"]
    for line in envfile.read_text().splitlines():
        assert line.split()[1:] == [set_id, "app-rollback", str(vol)]


def test_freeze_veto(env, volume, tmp_path):
    """A freeze hook that fails vetoes: the writer fails at Freeze with
    WRITERERROR_RETRYABLE, the set is aborted and leaves no snapshot, every
    hook that got "freeze" (the failed one too) gets "abort" - or "thaw",
    if it did not opt in to "abort" - in reverse order; later ones get
    nothing."""
    vol = volume
    hooks = HookDir(tmp_path)
    hooks.add("10-plain")
    hooks.add("20-aware", marker="# shadowcopy-events: abort")
    hooks.add("30-fails", body='[ "$1" = freeze ] && exit 3')
    hooks.add("40-later")
    w = start_hooks_writer(env, hooks.dir)
    rc, doc = create_set(env, vol, check=False)
    assert rc == 1 and doc["snapshots"] == []
    res = writer_result(doc, w)
    assert res["state"] == 9 and res["failure"] == "WRITERERROR_RETRYABLE", res
    assert hooks.calls() == [("10-plain", "freeze"), ("20-aware", "freeze"),
                             ("30-fails", "freeze"), ("30-fails", "thaw"),
                             ("20-aware", "abort"), ("10-plain", "thaw")]
    assert [l[2] for l in hooks.lines()[3:]] == ["abort"] * 3
    assert "30-fails: failed with exit status 3" in w.log()


HANGING_HOOK = """#!/bin/sh
echo "20-hangs $1 $SHADOWCOPY_EVENT" >>{log}
if [ "$1" = freeze ]; then
    sleep 3600 &
    echo $! >{pidfile}
    sleep 3600
fi
exit 0
"""


def test_freeze_timeout(env, volume, tmp_path):
    """A freeze hook that sleeps forever is killed at timeout-ms with its
    whole process group (its background child too), which vetoes with
    WRITERERROR_TIMEOUT; the hooks that got "freeze" get "thaw"."""
    vol = volume
    hooks = HookDir(tmp_path)
    pidfile = tmp_path / "child.pid"
    hooks.add("10-plain")
    hooks.add("20-hangs", text=HANGING_HOOK.format(log=hooks.log, pidfile=pidfile))
    w = start_hooks_writer(env, hooks.dir, extra="timeout-ms = 500")
    start = time.monotonic()
    rc, doc = create_set(env, vol, check=False)
    assert time.monotonic() - start < scaled(5)
    assert rc == 1 and doc["snapshots"] == []
    res = writer_result(doc, w)
    assert res["state"] == 9 and res["failure"] == "WRITERERROR_TIMEOUT", res
    assert hooks.calls() == [("10-plain", "freeze"), ("20-hangs", "freeze"),
                             ("20-hangs", "thaw"), ("10-plain", "thaw")]
    child = int(pidfile.read_text())
    wait_until(lambda: not Path(f"/proc/{child}").exists() or
               Path(f"/proc/{child}/stat").read_text().split()[2] == "Z", 5,
               "the hook's background child to be killed")
    assert "20-hangs: timed out after 500 ms, killing its process group" in w.log()


PARALLEL_HOOK = """#!/bin/sh
echo "{name} $1 start" >>{log}
[ "$1" = freeze ] && sleep 0.4
echo "{name} $1 end" >>{log}
"""


def test_parallel_step(env, volume, tmp_path):
    """The executables of a subdirectory run together, as one step between
    the steps before and after it; thaw goes through the steps backwards."""
    vol = volume
    hooks = HookDir(tmp_path)
    for name in ("10-first", "20-group/a", "20-group/b", "30-last"):
        hooks.add(name, text=PARALLEL_HOOK.format(name=name, log=hooks.log))
    w = start_hooks_writer(env, hooks.dir)
    _, doc = create_set(env, vol)
    assert writer_result(doc, w)["failure"] == "OK"
    lines = [" ".join(l) for l in hooks.lines()]
    freeze = [l for l in lines if " freeze " in l]
    assert freeze[:2] == ["10-first freeze start", "10-first freeze end"]
    assert sorted(freeze[2:4]) == ["20-group/a freeze start", "20-group/b freeze start"]
    assert sorted(freeze[4:6]) == ["20-group/a freeze end", "20-group/b freeze end"]
    assert freeze[6:] == ["30-last freeze start", "30-last freeze end"]
    thaw = [l.split()[0] for l in lines if l.endswith("thaw start")]
    assert thaw[0] == "30-last" and sorted(thaw[1:3]) == ["20-group/a", "20-group/b"] \
        and thaw[3] == "10-first"


def test_abort_after_freeze(env, volume, tmp_path):
    """A set that fails after the Freeze for another reason (the provider's
    commit fails): every hook gets "abort" or "thaw" in reverse order."""
    env.stop_daemon()
    env.start_daemon(extra="[testing]\nprovider-fail = commit\n")
    vol = volume
    hooks = HookDir(tmp_path)
    hooks.add("10-plain")
    hooks.add("20-aware", marker="# shadowcopy-events: abort")
    hooks.add("30-plain")
    start_hooks_writer(env, hooks.dir)
    rc, _ = create_set(env, vol, check=False)
    assert rc == 1
    assert hooks.calls() == [("10-plain", "freeze"), ("20-aware", "freeze"),
                             ("30-plain", "freeze"), ("30-plain", "thaw"),
                             ("20-aware", "abort"), ("10-plain", "thaw")]


def test_abort_after_thaw(env, volume, tmp_path):
    """A set that fails after the Thaw, before PostSnapshot (the provider's
    pre_final_commit fails): a hook that opted in to "abort" gets it after
    its "thaw"; a plain hook, already thawed, gets nothing more."""
    env.stop_daemon()
    env.start_daemon(extra="[testing]\nprovider-fail = pre_final_commit\n")
    vol = volume
    hooks = HookDir(tmp_path)
    hooks.add("10-plain")
    hooks.add("20-aware", marker="# shadowcopy-events: abort post-snapshot")
    start_hooks_writer(env, hooks.dir)
    rc, _ = create_set(env, vol, check=False)
    assert rc == 1
    assert hooks.calls() == [("10-plain", "freeze"), ("20-aware", "freeze"),
                             ("20-aware", "thaw"), ("10-plain", "thaw"),
                             ("20-aware", "abort")]


def test_service_killed_while_frozen(env, volume, tmp_path):
    """shadowcopyd killed (SIGKILL) while the hooks are frozen: the writer's
    library runs the Abort handler itself, and every frozen hook gets
    "abort" ("thaw" for those that did not opt in), in reverse order."""
    env.stop_daemon()
    env.start_daemon(extra="[testing]\nprovider-delay-ms = commit:5000\n")
    vol = volume
    hooks = HookDir(tmp_path)
    hooks.add("10-plain")
    hooks.add("20-group/aware", marker="# shadowcopy-events: abort")
    hooks.add("30-plain")
    w = start_hooks_writer(env, hooks.dir)
    create = subprocess.Popen([str(SHADOWCOPY), "--socket", str(env.socket), "create",
                               str(vol)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: len(hooks.calls()) == 3, 10, "every hook to be frozen")
        env.daemon.send_signal(signal.SIGKILL)
        env.daemon.wait()
        env.daemon_may_exit = True
        wait_until(lambda: len(hooks.calls()) == 6, 10, "every hook to be aborted")
    finally:
        create.kill()
        create.wait()
    assert hooks.calls()[3:] == [("30-plain", "thaw"), ("20-group/aware", "abort"),
                                 ("10-plain", "thaw")]
    assert [l[2] for l in hooks.lines()[3:]] == ["abort"] * 3
    assert w.proc.poll() is None  # the writer lives on, waiting for the service


def test_writer_stopped_while_frozen(env, volume, tmp_path):
    """SIGTERM to the writer while its hooks are frozen (systemctl stop): it
    runs "abort" ("thaw") on them in reverse before it unsubscribes and
    exits 0; the set fails."""
    env.stop_daemon()
    env.start_daemon(extra="[testing]\nprovider-delay-ms = commit:2000\n")
    hooks = HookDir(tmp_path)
    hooks.add("10-plain")
    hooks.add("20-aware", marker="# shadowcopy-events: abort")
    w = start_hooks_writer(env, hooks.dir)
    create = subprocess.Popen([str(SHADOWCOPY), "--socket", str(env.socket), "create",
                               str(volume)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: len(hooks.calls()) == 2, 10, "every hook to be frozen")
        w.proc.send_signal(signal.SIGTERM)
        assert w.proc.wait(timeout=scaled(10)) == 0
        assert create.wait(timeout=scaled(20)) == 1
    finally:
        if create.poll() is None:
            create.kill()
            create.wait()
    assert hooks.calls()[2:] == [("20-aware", "abort"), ("10-plain", "thaw")]


def run_writer(*args):
    return subprocess.run([str(HOOKS_WRITER), *map(str, args)], capture_output=True,
                          text=True, timeout=scaled(10))


def test_command_line(tmp_path):
    assert run_writer("--help").returncode == 0
    conf = tmp_path / "hooks.conf"
    conf.write_text("[writer]\ndirectory = /etc/qemu/fsfreeze-hook.d\ntimeout-ms = 900\n")
    p = run_writer("-n", "--config", conf)
    assert p.returncode == 0
    assert "directory = /etc/qemu/fsfreeze-hook.d\ntimeout-ms = 900\n" in p.stdout
    assert "volume = /\n" in p.stdout
    conf.write_text("[writer]\ntimeout = 9\n")
    p = run_writer("-n", "--config", conf)
    assert p.returncode == 2 and ":2: unknown key 'timeout'" in p.stderr
    assert run_writer("--config", tmp_path / "missing.conf").returncode == 2


def test_backup_shutdown_of_another_backup_thaws_nothing(env, volume, tmp_path):
    """vss-model 4.3: a BackupShutdown may belong to another backup than the
    one whose hooks are frozen.  Requester A finishes its set and stays
    connected (copying); B's set freezes the hooks; A leaves, so the writer
    gets A's BackupShutdown in the middle of B's commit: it must not thaw
    B's hooks.  They thaw at B's Thaw, with B's set id."""
    env.stop_daemon()
    env.start_daemon(extra="[testing]\nprovider-delay-ms = commit:2000\n")
    hooks = HookDir(tmp_path)
    hooks.add("10-plain", body='echo "$SHADOWCOPY_SNAPSHOT_SET_ID" >>' + str(tmp_path / "ids"))
    start_hooks_writer(env, hooks.dir)
    first = env.start_requester(*backup_steps(volume), "backup-complete", "sleep=60000")
    first.wait_step("backup-complete", timeout=30)
    second = subprocess.Popen([str(SHADOWCOPY), "--socket", str(env.socket), "--json", "create",
                               str(volume)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
    try:
        wait_until(lambda: hooks.calls().count(("10-plain", "freeze")) == 2, 20,
                   "the second set's freeze")
        first.proc.kill()  # A leaves: BackupShutdown of A's backup, B still frozen
        time.sleep(scaled(0.5))
        assert hooks.calls()[-1] == ("10-plain", "freeze"), hooks.calls()
        out, err = second.communicate(timeout=scaled(60))
    finally:
        if second.poll() is None:
            second.kill()
            second.wait()
    assert second.returncode == 0, err
    assert hooks.calls()[-1] == ("10-plain", "thaw"), hooks.calls()
    ids = (tmp_path / "ids").read_text().split()
    assert ids[-1] == ids[-2] != ids[0], ids  # B's thaw names B's set
