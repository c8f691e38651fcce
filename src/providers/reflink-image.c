/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * reflink-image.c - the reflink-image provider: a volume is a filesystem
 * mounted from a loop device whose image file lies on a filesystem that can
 * clone files (btrfs, XFS with reflink); a snapshot is a clone (FICLONE) of
 * the image, made while the service holds writes to the filesystem inside
 * it (SC_PROVIDER_HOLDS_WRITES), in ".shadowcopy/<snapshot id>" beside the
 * image.  After the thaw an XFS clone gets its log replayed (vss-model 7.2,
 * auto-recovery); then the clone is made read-only and immutable.  It never
 * freezes anything itself and never mounts anything where it can be seen.
 */
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <linux/fs.h>
#include <linux/magic.h>

#include <shadowcopy/provider.h>

#include "cleanup.h"
#include "refusal.h"
#include "loop-util.h"
#include "mount-util.h"
#include "providers.h"

#define SNAPSHOT_DIR ".shadowcopy"
/* Which volume a clone belongs to: its identity, set before the clone has
 * a name, so that a file without it is never taken for one of ours. */
#define VOLUME_XATTR "user.shadowcopy.volume"
#define IDENTITY_MAX 128

/* The filesystems this provider knows how to bring back from a clone. */
static const char *const inner_types[] = { "xfs", "ext4", "ext3", "ext2", "btrfs" };

/* A volume's image, found from a path inside its filesystem. */
struct image {
	char *mount;      /* the mount point of the filesystem inside the image */
	char *fstype;     /* its type */
	char *device;     /* the loop device */
	struct loop_backing file;
};

/* Per snapshot, from end_prepare to post_final_commit (or abort). */
struct clone_state {
	int image_fd;
	int clone_fd;
	bool recover;     /* the clone needs its log replayed (XFS) */
};

static void image_done(struct image *img)
{
	free(img->mount);
	free(img->fstype);
	free(img->device);
	loop_util_backing_done(&img->file);
}

static bool known_inner_type(const char *fstype)
{
	for (size_t i = 0; i < ELEMENTSOF(inner_types); i++)
		if (fstype && strcmp(fstype, inner_types[i]) == 0)
			return true;
	return false;
}

/* The image file behind the loop device that @img->mount is mounted from. */
static int image_file(struct image *img, char **ret_reason)
{
	struct stat st;
	int r;

	if (!img->device || stat(img->device, &st) < 0 || !S_ISBLK(st.st_mode) ||
	    !loop_util_is_loop(st.st_rdev))
		return refusal_format(ret_reason,
				      "%s is not a filesystem on a whole loop device (%s on %s)",
				      img->mount, img->fstype ? img->fstype : "?",
				      img->device ? img->device : "?");
	r = loop_util_backing(img->device, st.st_rdev, &img->file);
	if (r < 0)
		return refusal_format(ret_reason, "Cannot read the loop device %s: %s", img->device,
				      strerror(-r));
	if (img->file.partial)
		return refusal_format(ret_reason, "%s maps only part of its file %s", img->device,
				      img->file.path);
	/* The name may be stale: the file must still be the device's file. */
	if (stat(img->file.path, &st) < 0 || st.st_dev != img->file.dev ||
	    st.st_ino != img->file.ino || !S_ISREG(st.st_mode))
		return refusal_format(ret_reason, "The image file of %s (%s) was moved or deleted",
				      img->device, img->file.path);
	return 0;
}

static int image_resolve(const char *path, struct image *ret, char **ret_reason)
{
	struct image img = { 0 };
	int r;

	r = mount_util_find(path, &img.mount, &img.fstype, &img.device);
	if (r >= 0)
		r = image_file(&img, ret_reason);
	if (r >= 0 && !known_inner_type(img.fstype))
		r = refusal_format(ret_reason, "%s is %s; reflink-image handles xfs, ext2/3/4 and btrfs",
				   img.mount, img.fstype ? img.fstype : "of an unknown type");
	if (r < 0) {
		image_done(&img);
		return r;
	}
	*ret = img;
	return 0;
}

static int image_identity(const struct image *img, char *buf, size_t size)
{
	int n = snprintf(buf, size, "reflink-image:%u:%u:%llu", major(img->file.dev),
			 minor(img->file.dev), (unsigned long long)img->file.ino);

	return n > 0 && (size_t)n < size ? 0 : -ENAMETOOLONG;
}

/* "<directory of the image>/.shadowcopy" (malloc'd). */
static int image_snapshot_dir(const struct image *img, char **ret)
{
	_cleanup_free_ char *copy = strdup(img->file.path);

	if (!copy || asprintf(ret, "%s/%s", dirname(copy), SNAPSHOT_DIR) < 0)
		return -ENOMEM;
	return 0;
}

/* Can the filesystem holding the image clone it?  btrfs always can; XFS
 * when made with reflink, which only a clone tells: one block of the image
 * into an unnamed file that vanishes on close.  Other types are refused by
 * type, without writing to them. */
static int probe_clone(const struct image *img, char **ret_reason)
{
	_cleanup_free_ char *dir = strdup(img->file.path), *outer = NULL, *type = NULL;
	_cleanup_close_ int src = -1, dst = -1;
	struct file_clone_range range = { 0 };
	struct statfs sfs;
	struct stat st;

	if (!dir)
		return -ENOMEM;
	if (statfs(img->file.path, &sfs) < 0)
		return -errno;
	if (sfs.f_type == BTRFS_SUPER_MAGIC)
		return 0;
	if (sfs.f_type != XFS_SUPER_MAGIC) {
		(void)mount_util_find(img->file.path, &outer, &type, NULL); /* for the reason */
		return refusal_format(ret_reason,
				      "The image %s lies on %s (%s), which cannot clone files (by its "
				      "type; reflink-image needs btrfs or XFS)",
				      img->file.path, type ? type : "a filesystem", outer ? outer : "?");
	}
	src = open(img->file.path, O_RDONLY | O_CLOEXEC);
	dst = open(dirname(dir), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (src < 0 || dst < 0 || fstat(src, &st) < 0)
		return refusal_format(ret_reason, "Cannot probe cloning beside %s: %m", img->file.path);
	range.src_fd = src;
	/* Whole blocks; a length of 0 means "to the end" (a small image). */
	range.src_length = st.st_size >= st.st_blksize ? (uint64_t)st.st_blksize : 0;
	if (ioctl(dst, FICLONERANGE, &range) < 0)
		return refusal_format(ret_reason,
				      "The image %s lies on XFS without reflink (FICLONE probe: %m)",
				      img->file.path);
	return 0;
}

static int reflink_is_volume_supported(const char *path, struct sc_provider_volume *ret,
				       char **ret_reason)
{
	struct image img = { 0 };
	char identity[IDENTITY_MAX];
	struct sc_provider_volume v = { 0 };
	int r;

	r = image_resolve(path, &img, ret_reason);
	if (r >= 0)
		r = probe_clone(&img, ret_reason);
	if (r >= 0)
		r = image_identity(&img, identity, sizeof(identity));
	if (r >= 0) {
		v.root = strdup(img.mount);
		v.filesystem = strdup(img.mount);
		v.identity = strdup(identity);
		if (!v.root || !v.filesystem || !v.identity)
			r = -ENOMEM;
	}
	image_done(&img);
	if (r < 0) {
		provider_volume_done(&v);
		return r;
	}
	*ret = v;
	return 0;
}

/* The volume's image now; it must still be the same file. */
static int volume_image(const struct sc_provider_volume *volume, struct image *ret)
{
	char identity[IDENTITY_MAX];
	struct image img;
	int r;

	r = image_resolve(volume->root, &img, NULL);
	if (r < 0)
		return r;
	r = image_identity(&img, identity, sizeof(identity));
	if (r >= 0 && strcmp(identity, volume->identity) != 0)
		r = -SC_E_VOLUME_NOT_SUPPORTED_BY_PROVIDER; /* another image is mounted there */
	if (r < 0) {
		image_done(&img);
		return r;
	}
	*ret = img;
	return 0;
}

static int reflink_begin_prepare(struct sc_provider_snapshot *snap)
{
	_cleanup_free_ char *dir = NULL;
	char id[SC_ID_STRING_MAX];
	struct image img;
	int r;

	/* Only names here: what is made is undone by abort, which comes only
	 * after end_prepare (B13). */
	r = volume_image(snap->volume, &img);
	if (r < 0)
		return r;
	r = image_snapshot_dir(&img, &dir);
	image_done(&img);
	if (r < 0)
		return r;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	free(snap->location);
	snap->location = NULL;
	if (asprintf(&snap->location, "%s/%s", dir, sc_id_to_string(&snap->snapshot_id, id)) < 0) {
		snap->location = NULL;
		return -ENOMEM;
	}
	return 0;
}

/* The empty clone at @location, which appears with its volume mark on. */
static int create_clone(const char *location, const char *identity)
{
	_cleanup_free_ char *copy = strdup(location);
	_cleanup_close_ int fd = -1;
	char proc[64];

	if (!copy)
		return -ENOMEM;
	fd = open(dirname(copy), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (fsetxattr(fd, VOLUME_XATTR, identity, strlen(identity), 0) < 0)
		return -errno;
	/* Named like O_EXCL: an existing file is never replaced. */
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if (linkat(fd, "", AT_FDCWD, location, AT_EMPTY_PATH) < 0 &&
	    linkat(AT_FDCWD, proc, AT_FDCWD, location, AT_SYMLINK_FOLLOW) < 0)
		return -errno;
	return TAKE_FD(fd);
}

static void clone_state_free(struct sc_provider_snapshot *snap)
{
	struct clone_state *st = snap->state;

	if (!st)
		return;
	if (st->image_fd >= 0)
		(void)close(st->image_fd);
	if (st->clone_fd >= 0)
		(void)close(st->clone_fd);
	free(st);
	snap->state = NULL;
}

/* Everything commit needs, open: the image and the empty clone. */
static int prepare_one(struct sc_provider_snapshot *snap)
{
	struct clone_state *st;
	struct image img;
	struct stat s;
	int r;

	r = volume_image(snap->volume, &img);
	if (r < 0)
		return r;
	st = calloc(1, sizeof(*st));
	if (!st) {
		image_done(&img);
		return -ENOMEM;
	}
	*st = (struct clone_state){ .image_fd = -1, .clone_fd = -1,
				    .recover = strcmp(img.fstype, "xfs") == 0 };
	snap->state = st;
	st->image_fd = open(img.file.path, O_RDONLY | O_CLOEXEC);
	r = st->image_fd < 0 ? -errno : 0;
	if (r >= 0 && (fstat(st->image_fd, &s) < 0 || s.st_dev != img.file.dev ||
		       s.st_ino != img.file.ino))
		r = -SC_E_VOLUME_NOT_SUPPORTED_BY_PROVIDER; /* replaced meanwhile */
	image_done(&img);
	if (r < 0)
		return r;
	st->clone_fd = create_clone(snap->location, snap->volume->identity);
	return st->clone_fd < 0 ? st->clone_fd : 0;
}

static int reflink_end_prepare(struct sc_provider_snapshot *const *snaps, size_t n)
{
	int r;

	for (size_t i = 0; i < n; i++) {
		if (!snaps[i]->location)
			return -EINVAL; /* begin_prepare did not run */
		r = prepare_one(snaps[i]);
		if (r < 0)
			return r;
	}
	return 0;
}

static int reflink_nothing(struct sc_provider_snapshot *const *snaps, size_t n)
{
	return 0;
}

/* Inside the hold: the clones only, nothing else. */
static int reflink_commit(struct sc_provider_snapshot *const *snaps, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct clone_state *st = snaps[i]->state;

		if (!st)
			return -EINVAL;
		if (ioctl(st->clone_fd, FICLONE, st->image_fd) < 0)
			return -errno;
	}
	return 0;
}

/* The XFS of a clone has the log of a frozen filesystem: replay it by
 * making the filesystem once, read-write, on a loop device of our own.
 * The new mount API makes it without attaching it anywhere, so no one sees
 * it and nothing is left mounted if we die; closing the context unmounts
 * it, closing the loop device detaches it (autoclear). */
static int recover_xfs(const char *location)
{
	_cleanup_close_ int file = -1, loop = -1, fs = -1;
	_cleanup_free_ char *node = NULL;
	int r;

	file = open(location, O_RDWR | O_CLOEXEC);
	if (file < 0)
		return -errno;
	r = loop_util_attach(file, &loop, &node);
	if (r < 0)
		return r;
	fs = fsopen("xfs", FSOPEN_CLOEXEC);
	if (fs < 0 || fsconfig(fs, FSCONFIG_SET_STRING, "source", node, 0) < 0 ||
	    fsconfig(fs, FSCONFIG_SET_FLAG, "nouuid", NULL, 0) < 0 ||
	    fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		return -errno;
	return 0;
}

/* After the thaw: the clone made durable, and recovered where needed. */
static int reflink_pre_final_commit(struct sc_provider_snapshot *const *snaps, size_t n)
{
	int r;

	for (size_t i = 0; i < n; i++) {
		struct clone_state *st = snaps[i]->state;
		bool recover;

		if (!st)
			return -EINVAL;
		if (fsync(st->clone_fd) < 0)
			return -errno;
		recover = st->recover;
		clone_state_free(snaps[i]);
		if (recover && (r = recover_xfs(snaps[i]->location)) < 0)
			return r;
	}
	return 0;
}

/* Read-only for everyone, root included: mode 0444 and, where the
 * filesystem has it, the immutable flag (as btrfs's read-only snapshots).
 * Only this provider's delete takes the flag off again. */
static int make_read_only(const char *location)
{
	_cleanup_close_ int fd = -1;
	int flags;

	fd = open(location, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fchmod(fd, 0444) < 0 || fsync(fd) < 0)
		return -errno;
	if (ioctl(fd, FS_IOC_GETFLAGS, &flags) < 0)
		return errno == ENOTTY || errno == EOPNOTSUPP ? 0 : -errno;
	flags |= FS_IMMUTABLE_FL;
	if (ioctl(fd, FS_IOC_SETFLAGS, &flags) < 0)
		return errno == ENOTTY || errno == EOPNOTSUPP ? 0 : -errno;
	return 0;
}

static int reflink_post_final_commit(struct sc_provider_snapshot *const *snaps, size_t n)
{
	int r;

	for (size_t i = 0; i < n; i++) {
		clone_state_free(snaps[i]);
		r = make_read_only(snaps[i]->location);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Whether @location is named as this provider names clones,
 * ".../.shadowcopy/<snapshot id>"; the id in *ret_id. */
static bool clone_name(const char *location, struct sc_id *ret_id)
{
	const char *slash = strrchr(location, '/');
	size_t len = strlen(SNAPSHOT_DIR);

	if (!slash || sc_id_from_string(slash + 1, ret_id) < 0 ||
	    (size_t)(slash - location) < len + 1)
		return false;
	return *(slash - len - 1) == '/' && strncmp(slash - len, SNAPSHOT_DIR, len) == 0;
}

/* Remove the clone at @location if it is one of ours, made for the volume
 * @identity; -SC_E_OBJECT_NOT_FOUND when there is none. */
static int remove_clone(const char *location, const char *identity)
{
	_cleanup_close_ int fd = -1;
	char mark[IDENTITY_MAX];
	struct sc_id id;
	ssize_t len;
	int flags;

	if (!clone_name(location, &id))
		return -EINVAL; /* not a name this provider gives */
	fd = open(location, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -SC_E_OBJECT_NOT_FOUND : -errno;
	len = fgetxattr(fd, VOLUME_XATTR, mark, sizeof(mark) - 1);
	if (len < 0 || (size_t)len != strlen(identity) || memcmp(mark, identity, len) != 0)
		return -EINVAL; /* not ours, whatever it is */
	if (ioctl(fd, FS_IOC_GETFLAGS, &flags) >= 0 && (flags & FS_IMMUTABLE_FL)) {
		flags &= ~FS_IMMUTABLE_FL;
		if (ioctl(fd, FS_IOC_SETFLAGS, &flags) < 0)
			return -errno;
	}
	if (unlink(location) < 0)
		return errno == ENOENT ? -SC_E_OBJECT_NOT_FOUND : -errno;
	return 0;
}

static int reflink_abort(struct sc_provider_snapshot *const *snaps, size_t n)
{
	int r, first = 0;

	for (size_t i = 0; i < n; i++) {
		clone_state_free(snaps[i]);
		if (!snaps[i]->location)
			continue;
		r = remove_clone(snaps[i]->location, snaps[i]->volume->identity);
		if (r < 0 && r != -SC_E_OBJECT_NOT_FOUND && first == 0)
			first = r;
	}
	return first;
}

static int reflink_delete_snapshot(const struct sc_provider_volume *volume,
				   const struct sc_id *snapshot_id, const char *location)
{
	struct sc_id id;

	/* Only ever what this provider made for this id. */
	if (!location || !clone_name(location, &id) || !sc_id_equal(&id, snapshot_id))
		return -EINVAL;
	return remove_clone(location, volume->identity);
}

/* Whether @path is a clone of the volume @identity. */
static bool is_clone_of(const char *path, const char *identity)
{
	char mark[IDENTITY_MAX];
	ssize_t len;

	len = lgetxattr(path, VOLUME_XATTR, mark, sizeof(mark) - 1);
	return len >= 0 && (size_t)len == strlen(identity) && memcmp(mark, identity, len) == 0;
}

static int query_dir(const char *dir, const char *identity, sc_provider_query_cb cb,
		     void *userdata)
{
	struct dirent *de;
	struct sc_id id;
	DIR *d;
	int r = 0;

	d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while (r >= 0 && (de = readdir(d))) {
		_cleanup_free_ char *path = NULL;

		if (sc_id_from_string(de->d_name, &id) < 0)
			continue;
		if (asprintf(&path, "%s/%s", dir, de->d_name) < 0) {
			r = -ENOMEM;
			break;
		}
		if (is_clone_of(path, identity))
			r = cb(&id, path, userdata);
	}
	closedir(d);
	return r;
}

/* The clones of a volume whose image is mounted now (the image is found
 * through its loop device). */
static int reflink_query(const struct sc_provider_volume *volume, sc_provider_query_cb cb,
			 void *userdata)
{
	_cleanup_free_ char *dir = NULL;
	struct image img;
	int r;

	r = volume_image(volume, &img);
	if (r < 0)
		return r;
	r = image_snapshot_dir(&img, &dir);
	image_done(&img);
	if (r < 0)
		return r;
	return query_dir(dir, volume->identity, cb, userdata);
}

const struct sc_provider provider_reflink_image = {
	.abi_version = SC_PROVIDER_ABI_VERSION,
	.name = "reflink-image",
	/* a fixed, random provider id */
	.id = { { 0x3e, 0x91, 0x5a, 0x0c, 0x27, 0xd4, 0x4f, 0x88, 0xa1, 0x6b, 0x52, 0xe9, 0x0d,
		  0x7c, 0x3f, 0x02 } },
	.version = "1.0",
	.type = SC_PROV_SOFTWARE,
	.flags = SC_PROVIDER_HOLDS_WRITES,
	.is_volume_supported = reflink_is_volume_supported,
	.begin_prepare = reflink_begin_prepare,
	.end_prepare = reflink_end_prepare,
	.pre_commit = reflink_nothing,
	.commit = reflink_commit,
	.post_commit = reflink_nothing,
	.pre_final_commit = reflink_pre_final_commit,
	.post_final_commit = reflink_post_final_commit,
	.abort = reflink_abort,
	.delete_snapshot = reflink_delete_snapshot,
	.query = reflink_query,
	.forget_state = clone_state_free,
};
