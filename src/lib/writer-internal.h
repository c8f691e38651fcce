/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * writer-internal.h - the insides of struct sc_writer, shared by the files of
 * the writer role: writer.c (the object and its set-up), writer-loop.c (the
 * host's loop), writer-link.c (connection, handshake, reconnection),
 * writer-dispatch.c (events to handlers), writer-event.c (what an event
 * carries), writer-session.c (frozen sessions), writer-metadata.c (Identify).
 */
#ifndef SC_WRITER_INTERNAL_H
#define SC_WRITER_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include <shadowcopy/writer.h>

#include "wire.h"

/* Reconnection backoff (doubling), and the limit of one handshake. */
#define WRITER_BACKOFF_MIN_USEC 100000u
#define WRITER_BACKOFF_MAX_USEC 2000000u
#define WRITER_HANDSHAKE_USEC 5000000u
#define WRITER_UNSUBSCRIBE_USEC 2000000u

/* The state of the connection to the service. */
enum writer_link {
	WRITER_LINK_DOWN,        /* none; next attempt at link_deadline_usec if subscribed */
	WRITER_LINK_HELLO,       /* connected, hello sent */
	WRITER_LINK_SUBSCRIBING, /* subscribe sent */
	WRITER_LINK_UP,          /* subscribed: events flow */
};

struct writer_component {
	const char *logical_path;
	const char *name;
	bool backup_succeeded;
};

/* Strings borrow from the event's params, which outlive the handler call. */
struct sc_writer_event {
	enum sc_event type;
	struct sc_id session;
	struct sc_id snapshot_set_id;
	uint32_t context;
	enum sc_backup_type backup_type;
	bool select_components;
	const char **volumes;
	size_t n_volumes;
	struct writer_component *components;
	size_t n_components;
};

/*
 * One backup session this writer takes part in, from PrepareForBackup to
 * BackupShutdown, for the duties the library carries (design.md "Freeze
 * safety", item 1): from a successful Freeze until Thaw or Abort it holds a
 * deadline, and when that passes the library runs the Abort handler itself;
 * when the connection drops, it ends every session as the service would have:
 * Abort where one is due, then BackupShutdown.
 */
struct writer_session {
	struct writer_session *next;
	struct sc_writer_event abort;  /* the Abort to run: ids, context, backup type */
	uint64_t thaw_deadline_usec;   /* UINT64_MAX when not frozen */
	bool aborted;                  /* the Abort handler ran for this backup */
	bool post_snapshot_handled;    /* no Abort handler from then on (B5) */
};

struct writer_handler {
	sc_writer_event_handler_t fn;
	void *userdata;
};

struct sc_writer {
	/* identity, from sc_writer_initialize() */
	bool initialized;
	struct sc_id class_id;
	struct sc_id instance_id;
	char *name;
	char *instance_name;
	enum sc_usage_type usage;
	enum sc_source_type source;
	enum sc_app_level level;
	uint32_t freeze_timeout_ms;
	char *socket_path; /* NULL: chosen from the environment at subscribe */

	sc_writer_identify_handler_t identify;
	void *identify_userdata;
	struct writer_handler handlers[_SC_EVENT_MAX];
	sc_writer_log_t log;
	void *log_userdata;

	/* the handler running now, for sc_writer_set_failure() */
	bool in_handler;
	enum sc_event handler_event;
	int failure;

	/* the connection */
	bool subscribed; /* the application subscribed: keep the link up */
	enum writer_link link;
	int fd;
	struct wire wire;
	bool want_output; /* EPOLLOUT is on for fd */
	int64_t next_id;
	int64_t handshake_id;
	uint64_t link_deadline_usec; /* DOWN: next attempt; HELLO, SUBSCRIBING: give up */
	uint64_t backoff_usec;
	int link_error;              /* why the last handshake failed */

	struct writer_session *sessions;

	/* the host's view: an epoll fd holding fd and stop_fd */
	int epoll_fd;
	int stop_fd;
	bool stopping;
	pthread_t thread;
	bool thread_started;
};

/* writer.c */
void writer_log(struct sc_writer *w, int priority, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int writer_texts_check(const char *const *s, size_t n);

/* writer-link.c */
int writer_link_start(struct sc_writer *w);
void writer_link_close(struct sc_writer *w);
int writer_link_process(struct sc_writer *w, bool stop_when_up);
int writer_link_subscribe(struct sc_writer *w);
bool writer_link_has_input(const struct sc_writer *w);
int writer_link_send(struct sc_writer *w, json_t *msg);
int writer_link_unsubscribe(struct sc_writer *w);

/* writer-dispatch.c */
int writer_dispatch(struct sc_writer *w, const struct wire_message *m);
bool writer_dispatch_run(struct sc_writer *w, const struct sc_writer_event *ev, int *ret_failure);
/* Run the Abort handler for @ev; without one, the Thaw handler when @frozen
 * (A21), else succeed. */
bool writer_dispatch_abort(struct sc_writer *w, const struct sc_writer_event *ev, bool frozen,
			   int *ret_failure);

/* writer-event.c */
int writer_event_parse(enum sc_event type, json_t *params, struct sc_writer_event *ret);
void writer_event_done(struct sc_writer_event *ev);

/* writer-session.c */
bool writer_session_is_frozen(struct sc_writer *w, const struct sc_id *session);
/* Whether @ev must be answered without running a handler (a Thaw after the
 * library's own Abort; an Abort after an Abort or after PostSnapshot was
 * handled), with the answer in ret_ok and ret_failure. */
bool writer_session_skip(struct sc_writer *w, const struct sc_writer_event *ev, bool *ret_ok,
			 int *ret_failure);
/* Record what @ev, received at @received_usec, means for its session. */
int writer_session_update(struct sc_writer *w, const struct sc_writer_event *ev,
			  uint64_t received_usec);
uint64_t writer_session_next_deadline(const struct sc_writer *w);
int writer_session_expire(struct sc_writer *w);
/* The service is gone: end every session (Abort where due, BackupShutdown). */
void writer_session_end_all(struct sc_writer *w);

/* writer-metadata.c */
struct sc_writer_metadata *writer_metadata_new(void);
struct sc_writer_metadata *writer_metadata_free(struct sc_writer_metadata *m);
json_t *writer_metadata_json(const struct sc_writer_metadata *m);

#endif
