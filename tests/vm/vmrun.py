# SPDX-License-Identifier: LGPL-2.1-or-later
"""Boot the test VM once: qemu with software emulation (TCG; KVM fails on
the machines this runs on), the kernel and initramfs of vmimage.py, a
sparse disk for LVM's physical volume and a second one the guest writes its
results to as a raw tar.  No privilege is needed: the disks are files.
Everything lives in one run directory, made afresh each time; the qemu
process is the only one started and is stopped by its PID."""

import io
import shutil
import subprocess
import tarfile
import time
from pathlib import Path

PV_SIZE = 1 << 30        # sparse: costs only what LVM writes
RESULTS_SIZE = 64 << 20
MEMORY_MB = 1024


def qemu():
    """The qemu binary, or None when it is not installed."""
    return shutil.which("qemu-system-x86_64")


def boot(kernel, initrd, run_dir, cmdline="", timeout=300):
    """Boot the VM and wait for it to power off; returns (console text,
    {name: bytes} of the results tar, seconds the VM ran)."""
    run_dir = Path(run_dir)
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    pv, results = run_dir / "pv.img", run_dir / "results.img"
    for path, size in ((pv, PV_SIZE), (results, RESULTS_SIZE)):
        with open(path, "wb") as f:
            f.truncate(size)
    console = run_dir / "console.log"
    argv = [qemu(), "-accel", "tcg", "-cpu", "max", "-smp", "2", "-m", str(MEMORY_MB),
            "-nographic", "-no-reboot", "-nodefaults", "-serial", "stdio",
            "-kernel", kernel, "-initrd", initrd,
            "-append", f"console=ttyS0 panic=-1 quiet {cmdline}".strip(),
            "-drive", f"file={pv},format=raw,if=virtio,cache=unsafe",
            "-drive", f"file={results},format=raw,if=virtio,cache=unsafe"]
    start = time.monotonic()
    with open(console, "wb") as out:
        proc = subprocess.Popen([str(a) for a in argv], stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise AssertionError(f"the VM did not power off within {timeout} s; console: "
                                 f"{console.read_text(errors='replace')[-4000:]}")
    seconds = time.monotonic() - start
    text = console.read_text(errors="replace")
    files = read_results(results)
    for name, data in files.items():  # for people: the results, readable
        path = run_dir / "results" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return text, files, seconds


def read_results(image):
    """The files of the tar the guest wrote to the start of @image."""
    files = {}
    data = Path(image).read_bytes()
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
            for member in tar:
                if member.isfile():
                    files[member.name.removeprefix("./")] = tar.extractfile(member).read()
    except tarfile.ReadError:
        pass  # the guest wrote nothing: the console says why
    return files
