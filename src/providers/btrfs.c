/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * btrfs.c - the btrfs provider: a volume is a btrfs subvolume, a snapshot a
 * read-only snapshot of it in ".shadowcopy/<snapshot id>" at the root of the
 * mount that holds it.  A btrfs snapshot is atomic by itself, so this provider
 * never asks for a flush-and-hold: FIFREEZE on btrfs would even make the
 * snapshot ioctl sleep until the thaw (measured, design.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <linux/btrfs.h>
#include <linux/magic.h>
#include <btrfsutil.h>

#include <shadowcopy/provider.h>

#include "cleanup.h"
#include "mount-util.h"
#include "providers.h"

#define SNAPSHOT_DIR ".shadowcopy"

static int btrfs_errno(enum btrfs_util_error e)
{
	if (e == BTRFS_UTIL_OK)
		return 0;
	/* libbtrfsutil keeps the failing call's errno */
	return errno > 0 ? -errno : -EIO;
}

/* The root directory of the subvolume that contains @path (malloc'd). */
static int subvolume_root(const char *path, char **ret)
{
	_cleanup_free_ char *dir = realpath(path, NULL);
	char *slash;

	if (!dir)
		return -errno;
	for (;;) {
		if (btrfs_util_is_subvolume(dir) == BTRFS_UTIL_OK)
			break;
		slash = strrchr(dir, '/');
		if (!slash || strcmp(dir, "/") == 0)
			return -ENOENT; /* a btrfs path always lies in some subvolume */
		/* "/srv" goes on to "/", which may be the subvolume (btrfs root) */
		slash[slash == dir] = '\0';
	}
	*ret = TAKE_PTR(dir);
	return 0;
}

static int volume_identity(const char *root, char **ret)
{
	_cleanup_close_ int fd = -1;
	struct btrfs_ioctl_fs_info_args info = { 0 };
	struct sc_id fsid;
	char buf[SC_ID_STRING_MAX];
	uint64_t subvol_id;
	enum btrfs_util_error e;

	fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ioctl(fd, BTRFS_IOC_FS_INFO, &info) < 0)
		return -errno;
	e = btrfs_util_subvolume_id_fd(fd, &subvol_id);
	if (e != BTRFS_UTIL_OK)
		return btrfs_errno(e);
	memcpy(fsid.bytes, info.fsid, sizeof(fsid.bytes));
	if (asprintf(ret, "btrfs:%s:%llu", sc_id_to_string(&fsid, buf),
		     (unsigned long long)subvol_id) < 0)
		return -ENOMEM;
	return 0;
}

static int btrfs_is_volume_supported(const char *path, struct sc_provider_volume *ret,
				     char **ret_reason)
{
	struct sc_provider_volume v = { 0 };
	struct statfs sfs;
	int r;

	if (statfs(path, &sfs) < 0)
		return -errno;
	if (sfs.f_type != BTRFS_SUPER_MAGIC) {
		if (ret_reason)
			*ret_reason = strdup("not on a btrfs filesystem");
		return -SC_E_VOLUME_NOT_SUPPORTED_BY_PROVIDER;
	}
	r = subvolume_root(path, &v.root);
	if (r >= 0)
		r = volume_identity(v.root, &v.identity);
	if (r >= 0)
		r = mount_util_find(v.root, &v.filesystem, NULL, NULL);
	if (r < 0) {
		provider_volume_done(&v);
		return r;
	}
	*ret = v;
	return 0;
}

/* "<filesystem>/.shadowcopy", created if missing; malloc'd in *ret. */
static int snapshot_dir(const struct sc_provider_volume *v, bool create, char **ret)
{
	_cleanup_free_ char *dir = NULL;

	if (asprintf(&dir, "%s/%s", strcmp(v->filesystem, "/") ? v->filesystem : "",
		     SNAPSHOT_DIR) < 0)
		return -ENOMEM;
	if (create && mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	*ret = TAKE_PTR(dir);
	return 0;
}

static int snapshot_path(const struct sc_provider_volume *v, const struct sc_id *id, char **ret)
{
	_cleanup_free_ char *dir = NULL;
	char buf[SC_ID_STRING_MAX];
	int r;

	r = snapshot_dir(v, false, &dir);
	if (r < 0)
		return r;
	if (asprintf(ret, "%s/%s", dir, sc_id_to_string(id, buf)) < 0)
		return -ENOMEM;
	return 0;
}

static int btrfs_begin_prepare(struct sc_provider_snapshot *snap)
{
	_cleanup_free_ char *dir = NULL;
	int r;

	/* Everything that touches the disk happens here, before any freeze. */
	r = snapshot_dir(snap->volume, true, &dir);
	if (r < 0)
		return r;
	free(snap->location);
	return snapshot_path(snap->volume, &snap->snapshot_id, &snap->location);
}

static int btrfs_nothing(struct sc_provider_snapshot *const *snaps, size_t n)
{
	return 0;
}

static int btrfs_commit(struct sc_provider_snapshot *const *snaps, size_t n)
{
	enum btrfs_util_error e;

	for (size_t i = 0; i < n; i++) {
		e = btrfs_util_create_snapshot(snaps[i]->volume->root, snaps[i]->location,
					       BTRFS_UTIL_CREATE_SNAPSHOT_READ_ONLY, NULL, NULL);
		if (e != BTRFS_UTIL_OK)
			return btrfs_errno(e);
	}
	return 0;
}

/* Delete @location if it is one of our snapshots; gone already is fine. */
static int delete_location(const char *location)
{
	enum btrfs_util_error e;

	e = btrfs_util_is_subvolume(location);
	if (e == BTRFS_UTIL_ERROR_STATFS_FAILED || e == BTRFS_UTIL_ERROR_STAT_FAILED)
		return errno == ENOENT ? -SC_E_OBJECT_NOT_FOUND : btrfs_errno(e);
	if (e != BTRFS_UTIL_OK)
		return -SC_E_OBJECT_NOT_FOUND; /* not a subvolume: never ours */
	e = btrfs_util_delete_subvolume(location, 0);
	return btrfs_errno(e);
}

static int btrfs_abort(struct sc_provider_snapshot *const *snaps, size_t n)
{
	int r, first = 0;

	for (size_t i = 0; i < n; i++) {
		if (!snaps[i]->location)
			continue;
		r = delete_location(snaps[i]->location);
		if (r < 0 && r != -SC_E_OBJECT_NOT_FOUND && first == 0)
			first = r;
	}
	return first;
}

static int btrfs_delete_snapshot(const struct sc_provider_volume *volume,
				 const struct sc_id *snapshot_id, const char *location)
{
	_cleanup_free_ char *expected = NULL;
	int r;

	/* Only ever delete what this provider would have made for this id. */
	r = snapshot_path(volume, snapshot_id, &expected);
	if (r < 0)
		return r;
	if (!location || strcmp(location, expected) != 0)
		return -EINVAL;
	return delete_location(location);
}

static int btrfs_query(const struct sc_provider_volume *volume, sc_provider_query_cb cb,
		       void *userdata)
{
	_cleanup_free_ char *dir = NULL;
	struct dirent *de;
	struct sc_id id;
	DIR *d;
	int r;

	r = snapshot_dir(volume, false, &dir);
	if (r < 0)
		return r;
	d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	r = 0;
	while (r >= 0 && (de = readdir(d))) {
		_cleanup_free_ char *path = NULL;

		if (sc_id_from_string(de->d_name, &id) < 0)
			continue;
		if (asprintf(&path, "%s/%s", dir, de->d_name) < 0) {
			r = -ENOMEM;
			break;
		}
		if (btrfs_util_is_subvolume(path) == BTRFS_UTIL_OK)
			r = cb(&id, path, userdata);
	}
	closedir(d);
	return r;
}

const struct sc_provider provider_btrfs = {
	.abi_version = SC_PROVIDER_ABI_VERSION,
	.name = "btrfs",
	/* a fixed, random provider id */
	.id = { { 0x5c, 0x0b, 0x7f, 0x31, 0x8a, 0x2e, 0x4b, 0x6d, 0x9e, 0x10, 0x3f, 0x4a, 0x71,
		  0xb2, 0xc8, 0x01 } },
	.version = "1.0",
	.type = SC_PROV_SOFTWARE,
	.flags = 0,
	.is_volume_supported = btrfs_is_volume_supported,
	.begin_prepare = btrfs_begin_prepare,
	.end_prepare = btrfs_nothing,
	.pre_commit = btrfs_nothing,
	.commit = btrfs_commit,
	.post_commit = btrfs_nothing,
	.pre_final_commit = btrfs_nothing,
	.post_final_commit = btrfs_nothing,
	.abort = btrfs_abort,
	.delete_snapshot = btrfs_delete_snapshot,
	.query = btrfs_query,
};
