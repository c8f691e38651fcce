# SPDX-License-Identifier: LGPL-2.1-or-later
"""The VM's kernel and initramfs, made from Debian packages without any
privilege: `apt-get download` of the cloud kernel, busybox-static, lvm2,
dmsetup, thin-provisioning-tools, e2fsprogs, xfsprogs and the libraries
they need that this machine lacks; `dpkg-deb -x`; the kernel modules of
device-mapper thin provisioning, virtio and XFS in dependency order (read
from each module's .modinfo); the libraries every program needs, found with
ldd.  The initramfs is two gzip'd cpio (newc) archives one after the other:
the base from the packages, then the project's freshly built programs and
the guest scripts (tests/vm/guest/).

Downloads are cached in <cache>/debs (a build directory, git-ignored), so
only the first run needs the network; CI starts with an empty cache and
downloads every time.  This module never runs the VM (vmrun.py does)."""

import gzip
import io
import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent
GUEST = HERE / "guest"

KERNEL_META = "linux-image-cloud-amd64"
TOOL_PACKAGES = ("busybox-static", "lvm2", "dmsetup", "thin-provisioning-tools", "e2fsprogs",
                 "xfsprogs")
# The programs taken from the packages (paths inside them), with the
# names they are also called by.
TOOLS = {
    "bin/busybox": (),
    "sbin/lvm": (),
    "sbin/dmsetup": (),
    "usr/sbin/pdata_tools": ("usr/sbin/thin_check", "usr/sbin/thin_dump"),
    "sbin/mke2fs": ("sbin/mkfs.ext4",),
    "sbin/mkfs.xfs": (),
}
# The modules asked for; what they depend on comes with them.
MODULES = ("virtio_pci", "virtio_blk", "dm-thin-pool", "dm-snapshot", "xfs")
# The project's programs (paths in the build directory), installed in /sc/bin.
PROGRAMS = ("src/daemon/shadowcopyd", "src/cli/shadowcopy", "tests/helpers/test-writer",
            "tests/helpers/test-requester")
LIBDIR = "lib/x86_64-linux-gnu"


class ImageError(Exception):
    pass


def _run(argv, cwd=None):
    p = subprocess.run([str(a) for a in argv], cwd=cwd, capture_output=True, text=True,
                       stdin=subprocess.DEVNULL)
    if p.returncode != 0:
        raise ImageError(f"{' '.join(map(str, argv))}: exit {p.returncode}: {p.stderr.strip()}")
    return p.stdout


# --- packages ------------------------------------------------------------------

def _cached_deb(debs, name):
    found = sorted(debs.glob(f"{name}_*.deb"))
    return found[-1] if found else None


def _download(debs, names):
    """The .debs of packages @names, from the cache or one apt-get download."""
    missing = [n for n in names if _cached_deb(debs, n) is None]
    if missing:
        _run(["apt-get", "download", "-q", *missing], cwd=debs)
    found = [_cached_deb(debs, n) for n in names]
    if None in found:
        raise ImageError(f"apt-get download left no .deb of {missing} in {debs}")
    return found


def _depends(deb):
    """The package names a .deb depends on (Pre-Depends and Depends; the
    first of each alternative)."""
    names = []
    for field in ("Pre-Depends", "Depends"):
        value = _run(["dpkg-deb", "-f", deb, field]).strip()
        for item in filter(None, (s.strip() for s in value.split(","))):
            names.append(re.split(r"[\s(:|]", item, maxsplit=1)[0])
    return names


def _installed(name):
    p = subprocess.run(["dpkg-query", "-W", "-f", "${Status}", name], capture_output=True,
                       text=True)
    return p.returncode == 0 and p.stdout.endswith(" installed")


def _kernel_package(debs):
    """The versioned image package the cloud kernel's metapackage names;
    offline, the one in the cache."""
    p = subprocess.run(["apt-cache", "show", "--no-all-versions", KERNEL_META],
                       capture_output=True, text=True)
    m = re.search(r"^Depends:.*?\b(linux-image-[^\s,(]+)", p.stdout, re.M)
    if m:
        return m.group(1)
    cached = sorted(debs.glob("linux-image-*-cloud-amd64_*.deb"))
    if cached:
        return cached[-1].name.split("_")[0]
    raise ImageError(f"apt-cache knows no {KERNEL_META} (apt-get update?): {p.stderr.strip()}")


def download(cache):
    """Every .deb the image needs, downloaded into @cache/debs when missing."""
    debs = cache / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    wanted = _download(debs, [_kernel_package(debs), *TOOL_PACKAGES])
    # Libraries this machine lacks; the others ldd finds here.
    libs = {dep for deb in wanted[1:] for dep in _depends(deb)
            if dep.startswith("lib") and not _installed(dep)}
    return sorted(set(wanted + _download(debs, sorted(libs))))


def extract(cache, debs):
    """All of @debs extracted into one tree, @cache/root (kept while the
    list of packages stays the same)."""
    root, stamp = cache / "root", cache / "root.stamp"
    names = "\n".join(d.name for d in debs)
    if stamp.exists() and stamp.read_text() == names and root.is_dir():
        return root
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir()
    for deb in debs:
        _run(["dpkg-deb", "-x", deb, root])
    stamp.write_text(names)
    return root


# --- the archive ---------------------------------------------------------------

class Cpio:
    """A cpio archive in the "newc" format the kernel unpacks."""

    def __init__(self):
        self.out = io.BytesIO()
        self.ino = 1
        self.dirs = set()

    def _entry(self, name, mode, data=b""):
        fields = [self.ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name) + 1, 0]
        self.ino += 1
        head = b"070701" + b"".join(b"%08X" % f for f in fields) + name.encode() + b"\0"
        self.out.write(head + b"\0" * (-len(head) % 4))
        self.out.write(data + b"\0" * (-len(data) % 4))

    def dir(self, name):
        name = name.strip("/")
        if not name or name in self.dirs:
            return
        self.dir(os.path.dirname(name))
        self.dirs.add(name)
        self._entry(name, stat.S_IFDIR | 0o755)

    def file(self, name, data, mode=0o755):
        name = name.strip("/")
        self.dir(os.path.dirname(name))
        self._entry(name, stat.S_IFREG | mode, data)

    def symlink(self, name, target):
        name = name.strip("/")
        self.dir(os.path.dirname(name))
        self._entry(name, stat.S_IFLNK | 0o777, target.encode())

    def gzipped(self):
        self._entry("TRAILER!!!", 0)
        return gzip.compress(self.out.getvalue(), compresslevel=6)


def _libraries(programs, search):
    """The shared libraries @programs need (ldd, looking in @search first):
    {path in the guest: file here}."""
    env = dict(os.environ, LD_LIBRARY_PATH=":".join(str(s) for s in search))
    libs = {}
    for prog in programs:
        p = subprocess.run(["ldd", str(prog)], capture_output=True, text=True, env=env)
        if "not a dynamic executable" in p.stdout + p.stderr:
            continue  # busybox-static
        if p.returncode != 0:
            raise ImageError(f"ldd {prog}: {p.stderr.strip()}")
        for line in p.stdout.splitlines():
            line = line.strip()
            if "not found" in line:
                raise ImageError(f"{prog} needs a library found nowhere: {line}")
            m = re.match(r"(\S+) => (/\S+) \(", line) or re.match(r"(/\S+) \(", line)
            if not m:
                continue  # linux-vdso
            if m.lastindex == 2:
                libs[f"{LIBDIR}/{m.group(1)}"] = Path(m.group(2))
            else:
                libs[m.group(1).lstrip("/")] = Path(m.group(1))
    return libs


def _modinfo_depends(ko):
    m = re.search(rb"\0depends=([^\0]*)\0", b"\0" + ko.read_bytes())
    return [d for d in m.group(1).decode().split(",") if d] if m else []


def modules(root):
    """The module files to load, in load order, from the extracted kernel."""
    releases = sorted(p.name for p in (root / "lib/modules").iterdir())
    if len(releases) != 1:
        raise ImageError(f"expected one kernel in {root}/lib/modules: {releases}")
    release = releases[0]
    by_name = {}
    for ko in (root / "lib/modules" / release).rglob("*.ko"):
        by_name[ko.stem.replace("-", "_")] = ko
    order, seen = [], set()

    def visit(name):
        key = name.replace("-", "_")
        if key in seen:
            return
        seen.add(key)
        if key not in by_name:
            raise ImageError(f"module {name} is not in {release}")
        for dep in _modinfo_depends(by_name[key]):
            visit(dep)
        order.append(by_name[key])

    for name in MODULES:
        visit(name)
    return order


def _kernel(root):
    found = sorted((root / "boot").glob("vmlinuz-*"))
    if not found:
        raise ImageError(f"no kernel in {root}/boot")
    return found[-1]


def _base_archive(root, module_files):
    c = Cpio()
    for d in ("dev", "proc", "sys", "run", "tmp", "mnt", "etc/lvm", "run/lock/lvm"):
        c.dir(d)
    progs = []
    for path, aliases in TOOLS.items():
        src = root / path
        if not src.is_file():
            raise ImageError(f"{path} is not in the extracted packages")
        c.file(path, src.read_bytes())
        progs.append(src)
        for alias in aliases:
            c.symlink(alias, os.path.basename(path))
    c.symlink("bin/sh", "busybox")
    search = [root / LIBDIR, root / "usr" / LIBDIR]
    for guest_path, host_file in sorted(_libraries(progs, search).items()):
        c.file(guest_path, host_file.read_bytes())
    names = []
    for ko in module_files:
        rel = ko.relative_to(root)
        c.file(str(rel), ko.read_bytes(), 0o644)
        names.append("/" + str(rel))
    c.file("etc/modules.load", ("\n".join(names) + "\n").encode(), 0o644)
    c.file("etc/lvm/lvm.conf", (GUEST / "lvm.conf").read_bytes(), 0o644)
    return c.gzipped()


def _project_archive(build):
    c = Cpio()
    progs = []
    for path in PROGRAMS:
        src = build / path
        if not src.is_file():
            raise ImageError(f"not built: {src}")
        c.file(f"sc/bin/{src.name}", src.read_bytes())
        progs.append(src)
    for guest_path, host_file in sorted(_libraries(progs, []).items()):
        c.file(guest_path, host_file.read_bytes())
    for script in sorted(GUEST.iterdir()):
        if script.name == "init":
            c.file("init", script.read_bytes())
        elif script.name != "lvm.conf":
            c.file(f"sc/guest/{script.name}", script.read_bytes())
    return c.gzipped()


def build(build_dir, cache):
    """Make the kernel and initramfs; returns (kernel, initrd) paths.  The
    project's programs come from @build_dir, the packages from @cache."""
    debs = download(cache)
    root = extract(cache, debs)
    initrd = cache / "initrd.img"
    # The kernel unpacks both, in order: a library in both archives is the
    # project's.
    initrd.write_bytes(_base_archive(root, modules(root)) + _project_archive(build_dir))
    return _kernel(root), initrd
