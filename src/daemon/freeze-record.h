/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * freeze-record.h - the durable record of what is about to be frozen,
 * <state-dir>/freeze-record, written before the first FIFREEZE of a
 * flush-and-hold and removed after the thaw, so that a service and a
 * guardian that both died leave behind what the next start (or
 * `shadowcopyd --recover`) must thaw.
 */
#ifndef SC_FREEZE_RECORD_H
#define SC_FREEZE_RECORD_H

#include <stddef.h>
#include <sys/types.h>
#include <jansson.h>

struct sc_id;

#define FREEZE_RECORD_NAME "freeze-record"

/* One filesystem of the record: its mount point and its st_dev. */
struct freeze_record_fs {
	const char *path;
	dev_t dev;
};

/* [{"path", "dev"}, ...] of @fs, as the record and the guardian's HOLD carry
 * them; NULL when out of memory. */
json_t *freeze_record_fs_json(const struct freeze_record_fs *fs, size_t n);

/* Called for each filesystem freeze_record_recover() thawed. */
typedef void (*freeze_record_thawed_fn)(const char *path, void *userdata);

/* freeze-record.c */
/* Write the record of set @set_id (this boot, this process, now): a
 * temporary file, fsync, rename, fsync of the directory. */
int freeze_record_write(const char *state_dir, const struct sc_id *set_id,
			const struct freeze_record_fs *fs, size_t n);
/* Remove the record (unlink, fsync of the directory); none is fine. */
int freeze_record_remove(const char *state_dir);
/* Remove the record only if it names set @set_id of service @pid: 1 when
 * removed, 0 when there was none or it names another hold. */
int freeze_record_remove_if(const char *state_dir, pid_t pid, const struct sc_id *set_id);
/* FITHAW what the record names, in reverse freeze order: each filesystem
 * of this boot whose mount point still has the recorded st_dev (EINVAL,
 * not frozen, is fine); anything else is left alone, with a warning.
 * Then remove the record.  The number thawed (0 also without a record),
 * or -errno when the record cannot be read or a filesystem failed to thaw
 * (the record is then kept for another try). */
int freeze_record_recover(const char *state_dir, freeze_record_thawed_fn thawed, void *userdata);

#endif
