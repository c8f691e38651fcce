/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * loop-util.h - loop devices: which file backs one, and attaching a file to
 * a free one.  Blocking calls, for providers on worker threads.
 */
#ifndef SC_LOOP_UTIL_H
#define SC_LOOP_UTIL_H

#include <stdbool.h>
#include <sys/types.h>

/* The file behind a loop device. */
struct loop_backing {
	char *path;     /* as the kernel names it (malloc'd) */
	dev_t dev;      /* the file's device and inode, from the loop driver */
	ino_t ino;
	bool partial;   /* the device maps part of the file (an offset or a size limit) */
};

/* loop-util.c */
/* Whether @rdev is a whole loop device (not a partition of one). */
bool loop_util_is_loop(dev_t rdev);
/* The backing file of the loop device @rdev, opened at @node.  -ENXIO when
 * it backs nothing, -errno otherwise. */
int loop_util_backing(const char *node, dev_t rdev, struct loop_backing *ret);
void loop_util_backing_done(struct loop_backing *b);
/* Attach @file_fd (read-write) to a free loop device that detaches itself
 * when its last user closes it (autoclear).  The device's fd and its node
 * path (malloc'd) in *ret_fd and *ret_node. */
int loop_util_attach(int file_fd, int *ret_fd, char **ret_node);

#endif
