/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * loop-util.c - loop devices through the loop driver's own interfaces: the
 * backing file of a device (LOOP_GET_STATUS64 for its identity, sysfs for
 * its full name), and attaching a file to a free device (loop-control,
 * LOOP_CONFIGURE) with autoclear, so that nothing is left attached when its
 * user dies.  It never detaches a device it did not attach.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <linux/loop.h>
#include <linux/major.h>

#include "cleanup.h"
#include "loop-util.h"

/* Another attacher may take a free device between our two calls. */
#define ATTACH_TRIES 16

bool loop_util_is_loop(dev_t rdev)
{
	char path[64];

	if (major(rdev) != LOOP_MAJOR)
		return false;
	/* A partition of a loop device (partscan) lives under the same major. */
	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/partition", major(rdev), minor(rdev));
	return access(path, F_OK) < 0;
}

/* The first line of a sysfs file, without its newline (malloc'd). */
static int read_line(const char *path, char **ret)
{
	_cleanup_free_ char *line = NULL;
	size_t size = 0;
	ssize_t n;
	FILE *f;

	f = fopen(path, "re");
	if (!f)
		return -errno;
	n = getline(&line, &size, f);
	fclose(f);
	if (n < 0)
		return -ENXIO; /* empty: nothing attached */
	if (n > 0 && line[n - 1] == '\n')
		line[n - 1] = '\0';
	*ret = TAKE_PTR(line);
	return 0;
}

int loop_util_backing(const char *node, dev_t rdev, struct loop_backing *ret)
{
	_cleanup_close_ int fd = -1;
	struct loop_info64 info;
	char path[96];
	char *name = NULL;
	int r;

	fd = open(node, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ioctl(fd, LOOP_GET_STATUS64, &info) < 0)
		return -errno; /* ENXIO: no file attached */
	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/loop/backing_file", major(rdev),
		 minor(rdev));
	/* lo_file_name is cut at 64 bytes; sysfs has the whole name. */
	r = read_line(path, &name);
	if (r < 0)
		return r;
	*ret = (struct loop_backing){
		.path = name,
		.dev = (dev_t)info.lo_device,
		.ino = (ino_t)info.lo_inode,
		.partial = info.lo_offset != 0 || info.lo_sizelimit != 0,
	};
	return 0;
}

void loop_util_backing_done(struct loop_backing *b)
{
	free(b->path);
	b->path = NULL;
}

/* Attach @file_fd to the free device @n; -EBUSY when someone was quicker. */
static int attach_to(int n, int file_fd, int *ret_fd, char **ret_node)
{
	_cleanup_close_ int fd = -1;
	struct loop_config config = {
		.fd = (unsigned)file_fd,
		.info.lo_flags = LO_FLAGS_AUTOCLEAR,
	};
	char *node;

	if (asprintf(&node, "/dev/loop%d", n) < 0)
		return -ENOMEM;
	fd = open(node, O_RDWR | O_CLOEXEC);
	if (fd < 0 || ioctl(fd, LOOP_CONFIGURE, &config) < 0) {
		int e = errno;

		free(node);
		return -e;
	}
	*ret_fd = TAKE_FD(fd);
	*ret_node = node;
	return 0;
}

int loop_util_attach(int file_fd, int *ret_fd, char **ret_node)
{
	_cleanup_close_ int control = -1;
	int n, r = -EBUSY;

	control = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	if (control < 0)
		return -errno;
	for (int i = 0; i < ATTACH_TRIES && r == -EBUSY; i++) {
		n = ioctl(control, LOOP_CTL_GET_FREE);
		if (n < 0)
			return -errno;
		r = attach_to(n, file_fd, ret_fd, ret_node);
	}
	return r;
}
