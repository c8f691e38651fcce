/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * log.h - logging for the programs (daemon, CLI, test helpers): stderr with
 * syslog priorities ("<3>" prefixes when stderr goes to the journal).
 * The library never uses this; it logs only through its callbacks.
 */
#ifndef SC_LOG_H
#define SC_LOG_H

#include <syslog.h>

/* log.c */
void log_set_max_level(int priority);
void log_set_ident(const char *ident);
int log_internal(int priority, int error, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
_Noreturn void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The _errno variants append ": <strerror>" and return -abs(error). */
#define log_debug(...) log_internal(LOG_DEBUG, 0, __VA_ARGS__)
#define log_info(...) log_internal(LOG_INFO, 0, __VA_ARGS__)
#define log_notice(...) log_internal(LOG_NOTICE, 0, __VA_ARGS__)
#define log_warning(...) log_internal(LOG_WARNING, 0, __VA_ARGS__)
#define log_error(...) log_internal(LOG_ERR, 0, __VA_ARGS__)
#define log_debug_errno(e, ...) log_internal(LOG_DEBUG, (e), __VA_ARGS__)
#define log_warning_errno(e, ...) log_internal(LOG_WARNING, (e), __VA_ARGS__)
#define log_error_errno(e, ...) log_internal(LOG_ERR, (e), __VA_ARGS__)

#endif
