/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * log.c - the programs' logger: one line per call on stderr, prefixed with a
 * syslog priority when stderr is the journal (JOURNAL_STREAM), else with the
 * program name.  Not used by the library.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <shadowcopy/types.h>

#include "log.h"

static int max_level = LOG_INFO;
static const char *ident = "shadowcopy";

void log_set_max_level(int priority)
{
	max_level = priority;
}

void log_set_ident(const char *name)
{
	ident = name;
}

__attribute__((format(printf, 3, 0)))
static void log_write(int priority, int error, const char *fmt, va_list ap)
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

int log_internal(int priority, int error, const char *fmt, ...)
{
	va_list ap;

	if (priority <= max_level) {
		va_start(ap, fmt);
		log_write(priority, error, fmt, ap);
		va_end(ap);
	}
	return error < 0 ? error : -error;
}

void fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_write(LOG_CRIT, 0, fmt, ap);
	va_end(ap);
	exit(EXIT_FAILURE);
}
