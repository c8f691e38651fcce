# SPDX-License-Identifier: LGPL-2.1-or-later
"""The README's main job, demo/run: run against the build under test from a
copy of the source tree (as a fresh clone would have it, with its build
directory already built, and SHADOWCOPY_SKIP_APT=1), it must succeed and
leave no mount, loop device or process behind."""

import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import pytest

from sctest import BUILD, ROOT, mount_points, read_text, scaled


def loop_backing_files():
    """Loop device -> its backing file, for every attached loop device."""
    p = subprocess.run(["losetup", "--list", "--noheadings", "--output", "NAME,BACK-FILE"],
                       capture_output=True, text=True)
    return dict(line.split(None, 1) for line in p.stdout.splitlines() if len(line.split()) == 2)


def processes_mentioning(text):
    """PIDs (other than ours) whose command line mentions @text."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            if text in read_text(entry / "cmdline").replace("\0", " "):
                pids.append(int(entry.name))
    return pids


def copy_tree(dest):
    """The source tree without its build directories, .git and .state; its
    build directory is the one under test."""
    def ignore(directory, names):
        if Path(directory) != ROOT:
            return []
        return [n for n in names if n.startswith("build") or n in (".git", ".state")]

    shutil.copytree(ROOT, dest, symlinks=True, ignore=ignore)
    (dest / "build").symlink_to(BUILD.resolve())


@pytest.mark.slow
def test_demo_run():
    """`bash demo/run` exits 0 (it checks the snapshot itself) and leaves
    nothing mounted, attached or running, nor its state directory."""
    if os.geteuid() != 0:
        pytest.skip("demo/run runs as root")
    # demo/run builds first: on a stale build that would change the programs
    # under the other tests' feet (or fail half-way through someone's edit).
    p = subprocess.run(["ninja", "-C", str(BUILD), "-n"], capture_output=True, text=True)
    if "no work to do" not in p.stdout:
        pytest.skip(f"{BUILD} is not up to date: build it first")
    base = Path(tempfile.mkdtemp(prefix="sc-demo-", dir="/tmp"))
    tree = base / "tree"
    proc = None
    try:
        copy_tree(tree)
        env = dict(os.environ, SHADOWCOPY_SKIP_APT="1")
        env.pop("SHADOWCOPY_SOCKET", None)
        proc = subprocess.Popen(["bash", "demo/run"], cwd=tree, env=env, text=True,
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, start_new_session=True)
        out, _ = proc.communicate(timeout=scaled(240))
        assert proc.returncode == 0, out  # the script checks what the snapshot holds
        assert not [m for m in mount_points() if m.startswith(str(base))]
        assert not [d for d, f in loop_backing_files().items() if f.startswith(str(base))]
        assert processes_mentioning(str(base)) == []
        assert not (tree / ".state" / "demo").exists()
    finally:
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # its own session: only what it started
            proc.wait()
        for pid in processes_mentioning(str(base)):
            os.kill(pid, signal.SIGKILL)
        for mnt in sorted((m for m in mount_points() if m.startswith(str(base))), reverse=True):
            subprocess.run(["umount", "-l", mnt], capture_output=True)
        for dev, f in loop_backing_files().items():
            if f.startswith(str(base)):
                subprocess.run(["losetup", "-d", dev], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)
