/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mount-util.h - where a path is mounted, read from the kernel's mount table
 * through libmount (never by hand-parsing /proc/self/mountinfo).
 */
#ifndef SC_MOUNT_UTIL_H
#define SC_MOUNT_UTIL_H

/* mount-util.c */
/* The mount point of the filesystem holding @path (malloc'd in *ret_target),
 * its type (*ret_fstype, malloc'd, may be NULL) and source device
 * (*ret_source, malloc'd, may be NULL).  Returns 0 or -errno. */
int mount_util_find(const char *path, char **ret_target, char **ret_fstype, char **ret_source);

#endif
