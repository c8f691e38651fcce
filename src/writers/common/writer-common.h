/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * writer-common.h - what the writer daemons share: logging to stderr, the
 * command line, the main loop and INI value parsing.  Like the writers, it
 * uses only the public headers of libshadowcopy and libc.
 */
#ifndef SC_WRITER_COMMON_H
#define SC_WRITER_COMMON_H

#include <stdbool.h>
#include <stdint.h>
#include <syslog.h>
#include <time.h>

#include <shadowcopy/writer.h>

#define USEC_PER_MSEC 1000ull
#define USEC_PER_SEC 1000000ull

#define ELEMENTS_OF(a) (sizeof(a) / sizeof((a)[0]))

/* Exit statuses of every writer daemon (documented in their man pages). */
#define WRITER_EXIT_OK 0
#define WRITER_EXIT_FAILURE 1
#define WRITER_EXIT_USAGE 2

static inline uint64_t now_usec(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts); /* cannot fail for CLOCK_MONOTONIC */
	return (uint64_t)ts.tv_sec * USEC_PER_SEC + (uint64_t)ts.tv_nsec / 1000u;
}

/* Milliseconds, with one decimal, between two CLOCK_MONOTONIC times. */
static inline double msec_between(uint64_t from_usec, uint64_t to_usec)
{
	return to_usec > from_usec ? (double)(to_usec - from_usec) / 1000.0 : 0.0;
}

/* wlog.c */
void wlog_set_ident(const char *ident);
int wlog_internal(int priority, int error, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void wlog_library(int priority, const char *message, void *userdata);

/* The _errno variants append ": <message of error>" and return -abs(error). */
#define wlog_debug(...) wlog_internal(LOG_DEBUG, 0, __VA_ARGS__)
#define wlog_info(...) wlog_internal(LOG_INFO, 0, __VA_ARGS__)
#define wlog_warning(...) wlog_internal(LOG_WARNING, 0, __VA_ARGS__)
#define wlog_error(...) wlog_internal(LOG_ERR, 0, __VA_ARGS__)
#define wlog_warning_errno(e, ...) wlog_internal(LOG_WARNING, (e), __VA_ARGS__)
#define wlog_error_errno(e, ...) wlog_internal(LOG_ERR, (e), __VA_ARGS__)

/* writer-daemon.c */
struct writer_program {
	const char *name;           /* "shadowcopy-writer-sqlite" */
	const char *summary;        /* one line for --help */
	const char *default_config; /* the config file without --config */
};

struct writer_args {
	const char *config;
	const char *socket;         /* NULL: the library's default */
	bool check;                 /* -n: check the configuration and exit */
};

struct writer_identity {
	const char *class_id;
	const char *name;
	const char *instance_name;
	enum sc_usage_type usage;
	enum sc_source_type source;
	enum sc_app_level level;
	uint32_t freeze_timeout_ms;
};

/* One event and its handler. */
struct writer_handler {
	enum sc_event event;
	sc_writer_event_handler_t handler;
};

/* A writer daemon as writer_daemon_serve() runs it; every handler gets @userdata. */
struct writer_daemon {
	struct writer_identity identity;
	sc_writer_identify_handler_t identify;
	const struct writer_handler *handlers;
	size_t n_handlers;
	void *userdata;
	const char *description; /* for the log once subscribed: "hooks in /etc/..." */
};

int writer_daemon_parse_args(const struct writer_program *prog, int argc, char **argv,
			     struct writer_args *ret);
/* Subscribe @d on @socket_path (NULL: the library's default) and process its
 * events until SIGTERM or SIGINT, then unsubscribe.  Returns WRITER_EXIT_*. */
int writer_daemon_serve(const struct writer_daemon *d, const char *socket_path);

/* config-value.c */
int config_value_ms(const char *value, uint32_t *ret);
int config_value_absolute_path(const char *value, char **ret);
char *config_value_instance(const char *instance, const char *config_path);

#endif
