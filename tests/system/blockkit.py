# SPDX-License-Identifier: LGPL-2.1-or-later
"""Helpers of the block-level snapshot tests (reflink-image, flush-and-hold):
an XFS loop filesystem (the "outer" one, which can clone files) holding the
image files of inner XFS and ext4 loop filesystems; probing whether a
filesystem is frozen; a workload that appends numbered, fsync'd records; and
checking a clone (repair tools, read-only mount, its records).

A write to a frozen filesystem sleeps uninterruptibly, even through SIGKILL,
so nothing here ever writes to find out: frozen() probes with FIFREEZE
(EBUSY: frozen; success: it was not, and it is thawed at once).  Cleanup runs
on every path in this order: thaw everything of ours (through the fds kept
by freeze(), then any of our mounts still frozen), stop the workloads,
unmount the clones, the inner and the outer filesystems, detach the loop
devices backed by our images, remove the directory.  Nothing else is
touched."""

import errno
import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from sctest import loop_devices_of, mount_points, scaled, stop_process

FIFREEZE = 0xC0045877
FITHAW = 0xC0045878

# mkfs.xfs wants at least 300 MiB; images are sparse, so this costs little.
XFS_SIZE = 320 << 20
EXT4_SIZE = 64 << 20
BTRFS_SIZE = 256 << 20
MKFS = {"xfs": ["mkfs.xfs", "-q"], "ext4": ["mkfs.ext4", "-q", "-F"],
        "btrfs": ["mkfs.btrfs", "-q"]}
SIZES = {"xfs": XFS_SIZE, "ext4": EXT4_SIZE, "btrfs": BTRFS_SIZE}
OUTER_SIZE = 2048 << 20

# One record of the workload: its number and padding, 64 bytes in all.
RECORD = "{:010d} " + "r" * 52 + "\n"

# The workload, run as its own process: for n = 1, 2, ... it appends record n
# to each file in the order given, fsyncing each, and logs "n issued acked"
# (CLOCK_MONOTONIC microseconds: before the first write, after the last
# fsync) to a log on a filesystem that is never frozen.  Between two steps
# it waits while its pause file (never on a frozen filesystem either) says
# "frozen": a test writer's --touch makes it an application that its writer
# quiesces at Freeze.
WORKLOAD = r"""
import os, sys, time
log = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
pause = sys.argv[2]
fds = [os.open(p, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644) for p in sys.argv[3:]]

def paused():
    try:
        with open(pause) as f:
            return f.read().startswith("frozen")
    except FileNotFoundError:
        return False

n = 0
while True:
    while paused():
        time.sleep(0.001)
    n += 1
    issued = time.monotonic_ns() // 1000
    for fd in fds:
        os.write(fd, (%r.format(n)).encode())
        os.fsync(fd)
    acked = time.monotonic_ns() // 1000
    os.write(log, f"{n} {issued} {acked}\n".encode())
""" % RECORD


def _run(*argv, check=True):
    p = subprocess.run([str(a) for a in argv], capture_output=True, text=True,
                       stdin=subprocess.DEVNULL, timeout=scaled(60))
    if check:
        assert p.returncode == 0, f"{' '.join(map(str, argv))}: rc {p.returncode}: {p.stderr}"
    return p


def frozen(path):
    """Whether the filesystem mounted at @path is frozen: FIFREEZE fails with
    EBUSY (probed, never written).  When the probe itself froze it, FITHAW at once."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        try:
            fcntl.ioctl(fd, FIFREEZE, 0)
        except OSError as e:
            if e.errno == errno.EBUSY:
                return True
            raise
        fcntl.ioctl(fd, FITHAW, 0)
        return False
    finally:
        os.close(fd)


def read_records(path):
    """The record numbers in a workload file, checked to be 1..n in order."""
    text = Path(path).read_text() if Path(path).exists() else ""
    numbers = [int(line.split()[0]) for line in text.splitlines()]
    assert numbers == list(range(1, len(numbers) + 1)), f"records of {path} not 1..n"
    return numbers[-1] if numbers else 0


class Workload:
    """A running workload (see WORKLOAD)."""

    def __init__(self, proc, log, files):
        self.proc, self.log, self.files = proc, log, files
        self.pause_file = f"{log}.pause"

    def writer_touches(self):
        """The test writer's --touch arguments that quiesce it from Freeze to Thaw."""
        return [f"freeze:{self.pause_file}=frozen", f"thaw:{self.pause_file}=thawed"]

    def steps(self):
        """[(n, issued_usec, acked_usec)] of the records written so far."""
        out = []
        for line in Path(self.log).read_text().splitlines():
            n, issued, acked = (int(x) for x in line.split())
            out.append((n, issued, acked))
        return out

    def stop(self):
        stop_process(self.proc)

    def wait_records(self, count, timeout=10):
        deadline = time.monotonic() + scaled(timeout)
        while len(self.steps()) < count:
            assert self.proc.poll() is None, f"the workload died: {self.proc.returncode}"
            assert time.monotonic() < deadline, "the workload does not write"
            time.sleep(0.01)


class Volume:
    """An inner loop filesystem: its mount point, image and type."""

    def __init__(self, mnt, image, fstype):
        self.mnt, self.image, self.fstype = mnt, image, fstype

    @property
    def dev(self):
        return os.stat(self.mnt).st_dev


class BlockKit:
    """The outer XFS and its inner filesystems, in one temporary directory."""

    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="sc-blk-", dir="/tmp"))
        os.chmod(self.dir, 0o755)
        self.images = []
        self.mounted = []      # our mount points, in mount order
        self.freeze_fds = {}   # path -> fd kept by freeze()
        self.procs = []
        self.outer = None
        self.volumes = {}

    def make_outer(self):
        self.outer = self._loop("outer.img", OUTER_SIZE, "xfs", self.dir, "outer")

    def _loop(self, name, size, fstype, where, mnt_name):
        """A @size image @name in @where with a new @fstype, mounted at @mnt_name."""
        image, mnt = where / name, self.dir / mnt_name
        self.images.append(image)
        with open(image, "wb") as f:
            f.truncate(size)
        _run(*MKFS[fstype], image)
        mnt.mkdir()
        _run("mount", "-o", "loop", image, mnt)
        self.mounted.append(mnt)
        return mnt

    def volume(self, name, fstype):
        """An inner filesystem of @fstype, its image on the outer XFS (made once)."""
        if name not in self.volumes:
            mnt = self._loop(f"{name}.img", SIZES[fstype], fstype, self.outer, name)
            self.volumes[name] = Volume(mnt, self.outer / f"{name}.img", fstype)
        return self.volumes[name]

    def clones(self):
        """The files in the outer filesystem's .shadowcopy directory."""
        d = self.outer / ".shadowcopy"
        return sorted(p.name for p in d.iterdir()) if d.exists() else []

    # --- freezing, for the refusal tests ---------------------------------------

    def freeze(self, path):
        """Freeze the filesystem at @path ourselves, keeping the fd to thaw it."""
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        fcntl.ioctl(fd, FIFREEZE, 0)
        self.freeze_fds[str(path)] = fd

    def thaw(self, path):
        fd = self.freeze_fds.pop(str(path))
        try:
            fcntl.ioctl(fd, FITHAW, 0)
        finally:
            os.close(fd)

    # --- workloads and clones --------------------------------------------------

    def start_workload(self, *files):
        """The workload appending to @files, in that order."""
        fd, log = tempfile.mkstemp(prefix="workload-", suffix=".log", dir=self.dir)
        os.close(fd)
        with open(f"{log}.err", "wb") as err:
            proc = subprocess.Popen([sys.executable, "-c", WORKLOAD, log, f"{log}.pause",
                                     *files],
                                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=err)
        self.procs.append(proc)
        return Workload(proc, log, files)

    def check_clone(self, clone, fstype):
        """A clone is a clean filesystem: its repair tool finds nothing."""
        if fstype == "xfs":
            p = _run("xfs_repair", "-n", clone, check=False)
        else:
            p = _run("e2fsck", "-fn", clone, check=False)
        assert p.returncode == 0, f"{clone} is not clean: {p.stdout}{p.stderr}"

    def read_clone(self, clone, fstype, name):
        """Mount @clone read-only (XFS with nouuid: its original is mounted),
        return the last record number of file @name in it, and unmount."""
        mnt = Path(tempfile.mkdtemp(prefix="clone-", dir=self.dir))
        opts = "ro,loop,nouuid" if fstype == "xfs" else "ro,loop"
        _run("mount", "-o", opts, clone, mnt)
        self.mounted.append(mnt)
        try:
            return read_records(mnt / name)
        finally:
            _run("umount", mnt)
            self.mounted.remove(mnt)
            mnt.rmdir()

    # --- the end -----------------------------------------------------------------

    def _thaw_all(self, problems):
        for path in list(self.freeze_fds):
            try:
                self.thaw(path)
            except OSError as e:
                problems.append(f"thaw {path}: {e}")
        for mnt in self.mounted:
            try:
                if str(mnt) in mount_points() and frozen(mnt):
                    problems.append(f"{mnt} was left frozen; thawed")
                    fd = os.open(mnt, os.O_RDONLY | os.O_DIRECTORY)
                    try:
                        fcntl.ioctl(fd, FITHAW, 0)
                    finally:
                        os.close(fd)
            except OSError as e:
                problems.append(f"probe {mnt}: {e}")

    def _unmount(self, mnt, problems):
        deadline = time.monotonic() + scaled(10)
        while str(mnt) in mount_points():
            p = _run("umount", mnt, check=False)
            if p.returncode == 0:
                return
            if time.monotonic() > deadline:
                problems.append(f"umount {mnt}: {p.stderr.strip()}; detached lazily")
                _run("umount", "-l", mnt, check=False)
                return
            time.sleep(0.1)

    def cleanup(self):
        """Undo everything; the problems seen (an empty list when clean)."""
        problems = []
        self._thaw_all(problems)
        for proc in self.procs:
            stop_process(proc)
        for mnt in reversed(self.mounted):
            self._unmount(mnt, problems)
        for image in reversed(self.images):
            for dev in loop_devices_of(image):  # only ours: backed by our image
                _run("losetup", "-d", dev, check=False)
        self.mounted = []
        shutil.rmtree(self.dir, ignore_errors=True)
        return problems


@pytest.fixture(scope="module")
def kit():
    """The module's outer XFS with its inner filesystems (BlockKit)."""
    if os.geteuid() != 0:
        pytest.skip("system tests run as root")
    k = BlockKit()
    try:
        k.make_outer()
        yield k
    finally:
        problems = k.cleanup()
    assert not problems, "; ".join(problems)


@pytest.fixture
def xfs(kit):
    return kit.volume("xfs", "xfs")


@pytest.fixture
def ext4(kit):
    return kit.volume("ext4", "ext4")
