/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-writer.h - the test writer's configuration and state, shared by its
 * files: test-writer.c (subscription, loop, signals), writer-options.c,
 * writer-behaviour.c (the handlers and their switches), event-log.c,
 * metadata-file.c and touch.c.
 */
#ifndef SC_TEST_WRITER_H
#define SC_TEST_WRITER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include <shadowcopy/writer.h>

/* What the writer does when it receives one event. */
struct behaviour {
	uint64_t delay_usec; /* sleep this long first */
	bool crash;          /* then SIGKILL itself */
	bool hang;           /* or never return */
	bool fail;           /* or veto ... */
	int failure;         /* ... with this -SC_E_WRITERERROR_* (0: none given) */
	bool no_handler;     /* --no-handler: leave the library's default */
};

/* What each installed handler gets as userdata: the writer, and the event
 * the handler was installed for (the library may run the Thaw handler for an
 * Abort, A21; the log says so). */
struct handler_context {
	struct test_writer *tw;
	enum sc_event event;
};

/* One --touch WHEN:FILE[=TEXT]: a file written at an event. */
struct touch {
	enum sc_event event;
	bool after;       /* once the handler has returned, by the touch thread */
	char *path;       /* malloc'd; TEXT, if given, follows in the same block */
	const char *text; /* NULL: a JSON line saying when */
	unsigned pending; /* "after" writes due; under touches.lock */
};

struct touches {
	struct touch *list;
	size_t n;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t thread;
	bool started;  /* the thread runs (only if an "after" touch exists) */
	bool stopping; /* under lock */
};

enum loop_mode {
	LOOP_RUN,    /* sc_writer_run() */
	LOOP_POLL,   /* poll() on sc_writer_get_fd(), sc_writer_process() */
	LOOP_THREAD, /* sc_writer_start_thread() */
};

struct test_writer {
	/* options */
	const char *socket_path;
	struct sc_id class_id;
	bool have_class;
	const char *name;
	const char *instance_name;
	int usage, source, level;
	uint32_t freeze_timeout_ms;
	const char *metadata_path;
	const char **file_sets; /* --file-set PATH, one file-group component each */
	size_t n_file_sets;
	struct touches touches;
	const char *log_path;
	const char *ready_path;
	bool print_ids;
	bool subscribe_twice;
	enum loop_mode loop;
	struct behaviour behaviour[_SC_EVENT_MAX];
	struct handler_context handlers[_SC_EVENT_MAX];

	/* state */
	struct sc_writer *w;
	json_t *metadata;  /* the --metadata document, or NULL */
	int log_fd;        /* --log, or -1 */
	int stop_fd;       /* eventfd: SIGTERM/SIGINT arrived */
	atomic_bool terminating;
	char instance_id[SC_ID_STRING_MAX];
};

/* writer-options.c */
/* Exit statuses of the test writer besides EXIT_SUCCESS and EXIT_FAILURE. */
#define WRITER_OPTIONS_USAGE 2
#define WRITER_OPTIONS_PROCEED (-1) /* not an exit status: go on */
/* Returns WRITER_OPTIONS_PROCEED, or the exit status (help shown, usage error). */
int writer_options_parse(int argc, char **argv, struct test_writer *tw);

/* writer-behaviour.c */
int behaviour_install(struct test_writer *tw);

/* event-log.c */
int event_log_open(const char *path, int *ret_fd);
/* CLOCK_MONOTONIC in microseconds: the "t" of the log lines. */
uint64_t event_log_now_usec(void);
/* @handler: the event whose handler runs (differs from @event only when the
 * library runs one handler for another event). */
void event_log_write(struct test_writer *tw, enum sc_event event, enum sc_event handler,
		     const struct sc_writer_event *ev);

/* touch.c */
/* Parse and keep one --touch argument: 0 or -EINVAL / -ENOMEM. */
int touch_add(struct test_writer *tw, const char *arg);
/* Start the thread of the "after" touches, if there are any. */
int touch_start(struct test_writer *tw);
/* Inside the handler of @event: write its touches now (@after false), or
 * hand its "after" touches to the thread (@after true, the handler's last act). */
void touch_event(struct test_writer *tw, enum sc_event event, bool after);
/* Write what is still due, stop the thread, free the list. */
void touch_done(struct test_writer *tw);

/* metadata-file.c */
int metadata_file_load(const char *path, json_t **ret);
int metadata_file_build(json_t *doc, struct sc_writer_metadata *m);

#endif
