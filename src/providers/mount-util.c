/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mount-util.c - mount point lookup with libmount.  Reads the mount table
 * afresh on every call: volumes are resolved rarely and mounts change.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <libmount/libmount.h>

#include "cleanup.h"
#include "mount-util.h"

static void mnt_unref_tablep(struct libmnt_table **t)
{
	mnt_unref_table(*t);
}

static int strdup_or_null(const char *s, char **ret)
{
	*ret = NULL;
	if (!s)
		return 0;
	*ret = strdup(s);
	return *ret ? 0 : -ENOMEM;
}

int mount_util_find(const char *path, char **ret_target, char **ret_fstype, char **ret_source)
{
	_cleanup_(mnt_unref_tablep) struct libmnt_table *tb = NULL;
	_cleanup_free_ char *real = NULL, *target = NULL, *fstype = NULL, *source = NULL;
	struct libmnt_fs *fs;
	int r;

	real = realpath(path, NULL);
	if (!real)
		return -errno;
	tb = mnt_new_table_from_file("/proc/self/mountinfo");
	if (!tb)
		return -errno ? -errno : -EIO;
	/* The last mount over a path is the one that is visible. */
	fs = mnt_table_find_mountpoint(tb, real, MNT_ITER_BACKWARD);
	if (!fs)
		return -ENOENT;
	fs = mnt_table_find_target(tb, mnt_fs_get_target(fs), MNT_ITER_BACKWARD);
	if (!fs)
		return -ENOENT;
	if ((r = strdup_or_null(mnt_fs_get_target(fs), &target)) < 0 ||
	    (r = strdup_or_null(mnt_fs_get_fstype(fs), &fstype)) < 0 ||
	    (r = strdup_or_null(mnt_fs_get_srcpath(fs), &source)) < 0)
		return r;
	if (!target)
		return -ENOENT;
	*ret_target = TAKE_PTR(target);
	if (ret_fstype)
		*ret_fstype = TAKE_PTR(fstype);
	if (ret_source)
		*ret_source = TAKE_PTR(source);
	return 0;
}
