/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fs-util.c - the directories the service needs (socket directory, state
 * directory), created when missing.  Existing directories are left as they
 * are: their owner and mode are the administrator's choice.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cleanup.h"
#include "daemon.h"

static int mkdir_one(const char *path, mode_t mode)
{
	struct stat st;

	if (mkdir(path, mode) == 0)
		return 0;
	if (errno != EEXIST)
		return -errno;
	if (stat(path, &st) < 0)
		return -errno;
	return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

int fs_mkdir_parents(const char *path, mode_t mode)
{
	_cleanup_free_ char *p = strdup(path);
	char *slash;
	int r;

	if (!p)
		return -ENOMEM;
	if (p[0] == '\0')
		return -EINVAL;
	/* Each parent in turn: cut the string at the slash, create, restore. */
	for (slash = strchr(p + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		r = mkdir_one(p, 0755);
		*slash = '/';
		if (r < 0)
			return r;
	}
	return mkdir_one(p, mode);
}
