/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * lvm-command.h - running LVM's command-line tool and reading its JSON
 * reports.  Blocking calls, for providers on worker threads.
 */
#ifndef SC_LVM_COMMAND_H
#define SC_LVM_COMMAND_H

#include <stdbool.h>
#include <jansson.h>

/* What one LVM command left. */
struct lvm_output {
	char *out;      /* its stdout, NUL-terminated (malloc'd) */
	char *err;      /* its stderr, NUL-terminated (malloc'd) */
	int status;     /* its exit status; -1 when a signal ended it */
};

/* lvm-command.c */
/* Whether LVM's tool is installed (no command is run). */
bool lvm_command_available(void);
/* Run "lvm @args..." (args[0] the LVM command, e.g. "lvcreate"; NULL-ended)
 * with stdin on /dev/null, a fixed environment and a deadline.  A command
 * that @changes something is only ever sent SIGTERM at its deadline, which
 * LVM holds back while a device is suspended, and is then waited for; a
 * report is killed.  Returns 0 when it ran to its end, whatever its exit
 * status (in ret->status), -ETIMEDOUT when stopped at the deadline,
 * -ENOENT when LVM is not installed, -errno otherwise. */
int lvm_command_run(const char *const *args, bool changes, struct lvm_output *ret);
void lvm_output_done(struct lvm_output *o);
/* Run the report @args ("lvs", "-o", ..., NULL-ended; the JSON report
 * format is added) and return the rows of all its "lv" sections as one
 * JSON array (a new reference).  -EIO when the command failed; its first
 * line of stderr in *ret_error (malloc'd) when @ret_error is not NULL. */
int lvm_command_report(const char *const *args, json_t **ret_rows, char **ret_error);
/* The string field @key of report row @row, "" when absent. */
const char *lvm_row_get(json_t *row, const char *key);

#endif
