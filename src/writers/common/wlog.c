/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * wlog.c - the writer daemons' logger: one line per call on stderr, with a
 * syslog priority prefix when stderr is the journal (JOURNAL_STREAM), else
 * with the program name; and the callback that routes libshadowcopy's log
 * lines there.  Debug lines are dropped.  No files, no syslog socket.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "writer-common.h"

static const char *ident = "shadowcopy-writer";

void wlog_set_ident(const char *name)
{
	ident = name;
}

__attribute__((format(printf, 3, 0)))
static void wlog_write(int priority, int error, const char *fmt, va_list ap)
{
	char line[4096];
	int n;

	n = vsnprintf(line, sizeof(line), fmt, ap);
	if (n < 0)
		return;
	if (error != 0 && (size_t)n < sizeof(line))
		snprintf(line + n, sizeof(line) - (size_t)n, ": %s", sc_strerror(error));
	if (getenv("JOURNAL_STREAM"))
		fprintf(stderr, "<%d>%s\n", priority, line);
	else
		fprintf(stderr, "%s: %s\n", ident, line);
}

int wlog_internal(int priority, int error, const char *fmt, ...)
{
	va_list ap;

	if (priority <= LOG_INFO) {
		va_start(ap, fmt);
		wlog_write(priority, error, fmt, ap);
		va_end(ap);
	}
	return error < 0 ? error : -error;
}

void wlog_library(int priority, const char *message, void *userdata)
{
	wlog_internal(priority, 0, "libshadowcopy: %s", message);
}
