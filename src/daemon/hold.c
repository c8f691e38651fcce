/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hold.c - flush-and-hold: syncfs, FIFREEZE in device order keeping an fd of
 * each filesystem, FITHAW in reverse through those fds; and the refusals
 * (a filesystem that holds the service itself, one frozen by someone else).
 * Blocking calls for a worker thread or a guardian process; it never logs,
 * never waits on a clock and never decides when to thaw.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/fs.h>

#include <shadowcopy/types.h>

#include "cleanup.h"
#include "hold.h"
#include "refusal.h"

struct hold *hold_new(void)
{
	return calloc(1, sizeof(struct hold));
}

struct hold *hold_free(struct hold *h)
{
	if (!h)
		return NULL;
	for (size_t i = 0; i < h->n; i++) {
		free(h->fs[i].path);
		(void)close(h->fs[i].fd);
	}
	free(h->fs);
	free(h);
	return NULL;
}

/* Refuse the filesystem @dev (mounted at @path) if it holds one of @protected. */
static int check_protected(dev_t dev, const char *path, const struct hold_protected *protected,
			   size_t n, char **ret_reason)
{
	struct stat st;

	for (size_t i = 0; i < n; i++) {
		/* Gone (a socket not made yet) means it is on no filesystem. */
		if (stat(protected[i].path, &st) < 0 || st.st_dev != dev)
			continue;
		return refusal_format(ret_reason, "%s holds %s (%s): the service never freezes it", path,
				      protected[i].what, protected[i].path);
	}
	return 0;
}

static int open_mount(const char *path, struct stat *ret_st)
{
	_cleanup_close_ int fd = -1;

	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, ret_st) < 0)
		return -errno;
	return TAKE_FD(fd);
}

int hold_check(const char *path, const struct hold_protected *protected, size_t n_protected,
	       dev_t *ret_dev, char **ret_reason)
{
	_cleanup_close_ int fd = -1;
	struct stat st;
	int r;

	fd = open_mount(path, &st);
	if (fd < 0)
		return fd;
	r = check_protected(st.st_dev, path, protected, n_protected, ret_reason);
	if (r < 0)
		return r;
	/* Flushed first, the probe holds writes only for an instant. */
	if (syncfs(fd) < 0)
		return -errno;
	if (ioctl(fd, FIFREEZE, 0) < 0) {
		if (errno == EBUSY)
			return refusal_format(ret_reason, "%s is frozen already, not by this service",
					      path);
		return refusal_format(ret_reason, "%s cannot be frozen: %s", path, strerror(errno));
	}
	if (ioctl(fd, FITHAW, 0) < 0)
		return -errno;
	*ret_dev = st.st_dev;
	return 0;
}

int hold_add(struct hold *h, const char *path, dev_t expected,
	     const struct hold_protected *protected, size_t n_protected, char **ret_reason)
{
	_cleanup_close_ int fd = -1;
	struct hold_fs *a;
	struct stat st;
	int r;

	fd = open_mount(path, &st);
	if (fd == -ENOMEM)
		return fd;
	if (fd < 0)
		return refusal_format(ret_reason, "Cannot open %s: %s", path, strerror(-fd));
	if (st.st_dev != expected)
		return refusal_format(ret_reason, "%s is no longer the filesystem that was added", path);
	r = check_protected(st.st_dev, path, protected, n_protected, ret_reason);
	if (r < 0)
		return r;
	for (size_t i = 0; i < h->n; i++)
		if (h->fs[i].dev == st.st_dev)
			return 0; /* a second FIFREEZE would fail with EBUSY */
	a = reallocarray(h->fs, h->n + 1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	h->fs = a;
	a[h->n] = (struct hold_fs){ .path = strdup(path), .dev = st.st_dev, .fd = fd };
	if (!a[h->n].path)
		return -ENOMEM;
	TAKE_FD(fd);
	h->n++;
	return 0;
}

int hold_flush(struct hold *h, char **ret_reason)
{
	for (size_t i = 0; i < h->n; i++)
		if (syncfs(h->fs[i].fd) < 0) {
			int e = errno;

			if (asprintf(ret_reason, "Flushing %s failed: %s", h->fs[i].path,
				     strerror(e)) < 0)
				*ret_reason = NULL;
			return -e;
		}
	return 0;
}

static int compare_dev(const void *a, const void *b)
{
	const struct hold_fs *x = a, *y = b;

	return x->dev < y->dev ? -1 : x->dev > y->dev;
}

int hold_freeze(struct hold *h, char **ret_reason)
{
	/* One order for everyone, so that two holders never wait on each other. */
	qsort(h->fs, h->n, sizeof(*h->fs), compare_dev);
	for (size_t i = 0; i < h->n; i++) {
		if (atomic_load(&h->stop))
			return -ECANCELED;
		if (ioctl(h->fs[i].fd, FIFREEZE, 0) < 0) {
			if (errno == EBUSY)
				return refusal_format(ret_reason,
						      "%s is frozen already, not by this service",
						      h->fs[i].path);
			return refusal_format(ret_reason, "%s cannot be frozen: %s", h->fs[i].path,
					      strerror(errno));
		}
		h->fs[i].frozen = true;
	}
	return 0;
}

int hold_thaw(struct hold *h)
{
	int first = 0;

	for (size_t i = h->n; i-- > 0;) {
		if (!h->fs[i].frozen)
			continue;
		/* EINVAL: not frozen any more; someone thawed it for us. */
		if (ioctl(h->fs[i].fd, FITHAW, 0) < 0 && errno != EINVAL) {
			if (first == 0)
				first = -errno;
			continue;
		}
		h->fs[i].frozen = false;
	}
	return first;
}

void hold_assume_frozen(struct hold *h)
{
	qsort(h->fs, h->n, sizeof(*h->fs), compare_dev);
	for (size_t i = 0; i < h->n; i++)
		h->fs[i].frozen = true;
}

bool hold_frozen(const struct hold *h)
{
	for (size_t i = 0; i < h->n; i++)
		if (h->fs[i].frozen)
			return true;
	return false;
}
