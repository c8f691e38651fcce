/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * daemon.h - shadowcopyd's internal types, and the prototypes of each of its
 * files.  Everything runs on one sd-event loop, except the run function of a
 * worker job (worker.c), which touches only its job: nothing here is
 * thread-safe, and no callback is ever called from inside the call that
 * registered it.
 */
#ifndef SC_DAEMON_H
#define SC_DAEMON_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/queue.h>
#include <sys/types.h>
#include <jansson.h>

#include <shadowcopy/types.h>

#include "wire.h"

typedef struct sd_event sd_event;
typedef struct sd_event_source sd_event_source;

struct catalog;
struct catalog_snapshot;
struct connection;
struct delete_job;
struct gather;
struct guardian;
struct hold_window;
struct listener;
struct operation;
struct session;
struct writer;
struct writer_event;

#define USEC_PER_MSEC 1000ull
#define USEC_PER_SEC 1000000ull

/* Output queued for one peer beyond which the peer is cut off: a client
 * that sends requests but never reads the replies cannot grow us forever. */
#define CONNECTION_OUTPUT_MAX (4u * WIRE_MESSAGE_MAX)
/* How long a connection being closed may take to read its last replies. */
#define CONNECTION_DRAIN_USEC (5 * USEC_PER_SEC)

/* The calls the service makes to a provider (vss-model 7.2), named as in
 * provider.h; also the step names of the [testing] switches. */
enum provider_step {
	PROVIDER_BEGIN_PREPARE,
	PROVIDER_END_PREPARE,
	PROVIDER_PRE_COMMIT,
	PROVIDER_COMMIT,
	PROVIDER_POST_COMMIT,
	PROVIDER_PRE_FINAL_COMMIT,
	PROVIDER_POST_FINAL_COMMIT,
	PROVIDER_ABORT,
	PROVIDER_DELETE,
	_PROVIDER_STEP_MAX
};

/* config.c */

/* [writer-classes]: only these uids may subscribe a writer of this class. */
struct class_binding {
	struct sc_id class_id;
	uid_t *uids;
	size_t n_uids;
};

/* [testing]: make provider steps fail or wait, for the tests of the abort
 * rules.  Never set unless the configuration file says so. */
struct testing {
	int fail[_PROVIDER_STEP_MAX];            /* 0 or the error the step returns */
	uint64_t delay_usec[_PROVIDER_STEP_MAX]; /* slept before the step */
};

struct config {
	char *socket_path;
	char *writer_socket_path; /* NULL until config_finish() derives it */
	char *state_dir;
	char *group;
	unsigned max_connections;
	int log_level;            /* syslog priority */
	bool loading_file;        /* [testing] is read from the file only */
	/* [timeouts] */
	uint64_t handshake_usec;
	uint64_t identify_usec;
	uint64_t prepare_backup_usec;
	uint64_t prepare_snapshot_usec;
	uint64_t freeze_usec;      /* to answer Freeze; the writer's window bounds it too */
	uint64_t thaw_usec;
	uint64_t post_snapshot_usec;
	uint64_t backup_complete_usec;
	uint64_t backup_shutdown_usec;
	uint64_t abort_usec;
	uint64_t provider_usec;        /* each provider call outside the freeze window */
	uint64_t provider_commit_usec; /* pre_commit, commit, post_commit each */
	uint64_t hold_usec;            /* flush-and-hold, from the flush to the thaw */
	struct class_binding *bindings;
	size_t n_bindings;
	struct testing testing;
};

void config_init(struct config *c);
void config_done(struct config *c);
/* One setting, from the file or the command line ("service", "socket", path). */
int config_set(struct config *c, const char *section, const char *key, const char *value);
int config_load(struct config *c, const char *path);
/* Derive what was not given; check what depends on several settings. */
int config_finish(struct config *c);
void config_print(const struct config *c, FILE *f);
/* Whether @uid may subscribe a writer of @class_id. */
bool config_class_allows(const struct config *c, const struct sc_id *class_id, uid_t uid);
/* Whether any [testing] switch is set. */
bool config_testing(const struct config *c);

/* fs-util.c */

/* mkdir -p: missing parents get 0755, the directory itself @mode. */
int fs_mkdir_parents(const char *path, mode_t mode);

/* server.c */

/* Closed while a flush-and-hold window is open: worker threads that would
 * write to disk (deletes) wait at it (hold-window.c). */
struct hold_gate {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool closed;
};

#define HOLD_GATE_INIT { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false }

struct daemon {
	sd_event *event;
	const struct config *config;
	struct listener *control;
	struct listener *writer_listener;
	bool have_group;
	gid_t group_gid;
	TAILQ_HEAD(connection_list, connection) connections;
	unsigned n_connections;
	TAILQ_HEAD(writer_list, writer) writers; /* in subscription order */
	TAILQ_HEAD(session_list, session) sessions; /* live and ending */
	struct session *set_owner; /* whose set is being created (vss-model 2.6) */
	struct catalog *catalog;
	int worker_pipe[2];        /* finished jobs, from worker threads to the loop */
	sd_event_source *worker_io;
	unsigned n_jobs;           /* started and not yet delivered */
	sd_event_source *recovery_timer;
	struct guardian *guardian;  /* the freeze guardian (guardian.c) */
	struct hold_window *window; /* the flush-and-hold window open, if any */
	struct hold_gate gate;
	struct delete_job *parked;  /* deletes finished during a window, delivered after it */
	bool serving;
	bool exiting;
};

/* What the kernel says about a peer, and what it may do. */
struct peer {
	uid_t uid;
	gid_t gid;
	pid_t pid;
	bool privileged;  /* root, or in the configured group */
	bool writer_only; /* came in through the writer socket */
};

int server_start(struct daemon *d);
void server_stop(struct daemon *d);

/* connection.c */

enum connection_role {
	CONNECTION_NONE, /* before hello */
	CONNECTION_WRITER,
	CONNECTION_REQUESTER,
	CONNECTION_ADMIN,
	_CONNECTION_ROLE_MAX
};

struct connection {
	struct daemon *daemon;
	TAILQ_ENTRY(connection) entry;
	int fd;
	struct wire wire;
	struct peer peer;
	enum connection_role role;
	char *client;            /* the name the peer gave in hello, for logs */
	sd_event_source *io;
	sd_event_source *timer;  /* handshake deadline, then drain deadline */
	sd_event_source *closer; /* pending close from outside our own handlers */
	bool draining;           /* no more input; close once the output is out */
	bool dead;               /* closing without writing anything more */
	int64_t next_event_id;
	struct writer *writer;   /* writer role, while subscribed */
	struct session *session; /* requester role */
	TAILQ_HEAD(operation_list, operation) operations;
};

/* Takes @fd in all cases. */
int connection_new(struct daemon *d, int fd, const struct peer *peer);
struct connection *connection_free(struct connection *c);
void connection_free_all(struct daemon *d);
/* Queue @msg (stolen; NULL means ENOMEM) for the peer.  Never frees anything:
 * a peer over its output limit is closed later, from the event loop. */
int connection_send(struct connection *c, json_t *msg);
/* Replies to request @id: @result is stolen (NULL means ENOMEM).  A reply
 * that cannot be queued is logged; there is nothing more a caller could do. */
void connection_reply(struct connection *c, int64_t id, json_t *result);
void connection_reply_error(struct connection *c, bool has_id, int64_t id, int error,
			    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* For logs: "requester (uid 0, pid 345, backup-tool)"; a static buffer, so
 * one call per log line. */
const char *connection_describe(const struct connection *c);

/* operation.c */

/* A long operation (protocol.md §5): its reply comes later and it can be
 * cancelled.  The owner gets @cancel when the peer cancels it or goes away,
 * and must then stop the work and forget the operation. */
typedef void (*operation_cancel_fn)(void *userdata);

struct operation {
	struct connection *conn;
	TAILQ_ENTRY(operation) entry;
	int64_t request_id;
	operation_cancel_fn cancel;
	void *userdata;
};

int operation_new(struct connection *c, int64_t request_id, operation_cancel_fn cancel,
		  void *userdata, struct operation **ret);
/* Send the operation's reply (@result stolen) and free it. */
void operation_reply(struct operation *op, json_t *result);
void operation_fail(struct operation *op, int error);
/* The same, the message followed by @reason (may be NULL). */
void operation_fail_reason(struct operation *op, int error, const char *reason);
/* Free it without a reply and without calling its cancel function. */
void operation_abandon(struct operation *op);
/* The peer left: cancel every operation of @c, no replies. */
void operation_abandon_all(struct connection *c);
int operation_handle_cancel(struct connection *c, const struct wire_message *m);

/* registry.c */

/* Who a writer is, as given at subscribe and seen on its socket. */
struct writer_identity {
	struct sc_id class_id;
	struct sc_id instance_id;
	char *name;
	char *instance_name; /* NULL when not given */
	int usage_type;
	int source_type;
	int level;
	uint32_t freeze_timeout_ms;
	uid_t uid;
	pid_t pid;
};

struct writer {
	struct daemon *daemon;
	struct connection *conn;
	TAILQ_ENTRY(writer) entry;
	struct writer_identity identity;
	enum sc_writer_state state; /* as of the last event handled */
	int failure;                /* 0 or the failure of that event */
	bool leaving;               /* no new events: it is being removed */
	TAILQ_HEAD(writer_event_list, writer_event) events;
};

int registry_subscribe(struct connection *c, const struct wire_message *m);
/* The subscribed writer with @id's class and instance, or NULL. */
struct writer *registry_lookup(struct daemon *d, const struct writer_identity *id);
int registry_unsubscribe(struct connection *c, const struct wire_message *m);
/* Remove @w and fail its outstanding events; frees @w. */
void registry_remove(struct writer *w);
int registry_identity_copy(const struct writer_identity *src, struct writer_identity *ret);
void registry_identity_done(struct writer_identity *id);
/* The identity fields of protocol.md §4.2 and §8 as a new object. */
json_t *registry_identity_json(const struct writer_identity *id);

/* writer-events.c */

enum writer_event_status {
	WRITER_EVENT_OK,      /* answered success */
	WRITER_EVENT_FAILED,  /* answered failure (or an error) */
	WRITER_EVENT_TIMEOUT, /* no answer before the deadline */
	WRITER_EVENT_GONE,    /* unsubscribed or disconnected first */
};

struct writer_event_reply {
	enum writer_event_status status;
	int failure;         /* 0 when OK; a -SC_E_WRITERERROR_* from the writer;
			      * -SC_E_WRITER_NOT_RESPONDING for TIMEOUT and GONE */
	const char *message; /* the writer's words, or NULL */
	json_t *result;      /* OK: the whole result object (borrowed) */
};

/* Called exactly once per event sent, unless the event is cancelled first.
 * @w is valid during the call (also for GONE) and must not be freed by it. */
typedef void (*writer_event_fn)(struct writer *w, const struct writer_event_reply *reply,
				void *userdata);

/* Send @event with @params (stolen; NULL for {}) to @w, to be answered by
 * @deadline_usec (CLOCK_MONOTONIC).  On success *ret identifies the event
 * until @callback runs or writer_events_cancel() is called; on failure
 * @callback is never called. */
int writer_events_send(struct writer *w, enum sc_event event, json_t *params,
		       uint64_t deadline_usec, writer_event_fn callback, void *userdata,
		       struct writer_event **ret);
/* The writer state machine of vss-model 4.6: @state and @last_failure after
 * @event succeeded (@ok) or failed with @failure. */
void writer_events_next_state(enum sc_event event, bool ok, int failure,
			      enum sc_writer_state *state, int *last_failure);
/* Forget @e: its callback will not be called; a late answer is ignored. */
void writer_events_cancel(struct writer_event *e);
/* A result or error arrived on the writer's connection. */
void writer_events_handle_reply(struct writer *w, const struct wire_message *m);
/* Complete every outstanding event of @w as GONE. */
void writer_events_fail_all(struct writer *w);

/* gather.c */

struct gather_entry {
	struct gather *gather;
	struct writer_event *event;       /* while the writer has not answered */
	bool present;                     /* false: the writer left first */
	struct writer_identity identity;  /* copied when the answer came */
	enum sc_writer_state state;       /* STABLE or FAILED_AT_IDENTIFY */
	int failure;
	json_t *metadata;                 /* the writer's part, when STABLE */
};

typedef bool (*gather_filter_fn)(const struct writer *w, void *userdata);
typedef void (*gather_done_fn)(struct gather *g, void *userdata);

struct gather {
	struct daemon *daemon;
	struct gather_entry *entries; /* in subscription order */
	size_t n_entries;
	size_t pending;
	sd_event_source *defer; /* completes a gather that sent nothing */
	gather_done_fn done;
	void *userdata;
};

/* Send Identify to every writer @filter accepts (all when NULL), with the
 * configured identify deadline.  @done is called once, from the event loop,
 * when each has answered, failed, timed out or left; it may free the gather. */
int gather_start(struct daemon *d, gather_filter_fn filter, void *filter_data,
		 gather_done_fn done, void *userdata, struct gather **ret);
struct gather *gather_free(struct gather *g);
/* The writer metadata document of protocol.md §4.2. */
json_t *gather_document(const struct writer_identity *id, json_t *metadata);

/* worker.c */

/* A job for a worker thread.  @run touches only the job; @done runs on the
 * loop afterwards and frees it.  An abandoned job's done only frees, and
 * calls @release on what its thread was using. */
struct worker_job {
	struct daemon *daemon;
	void (*run)(struct worker_job *j);
	void (*done)(struct worker_job *j);
	bool abandoned;
	void (*release)(void *data);
	void *release_data;
};

int worker_setup(struct daemon *d);
void worker_teardown(struct daemon *d);
/* Start @j on a thread of its own.  On failure nothing runs. */
int worker_start(struct daemon *d, struct worker_job *j);
void worker_abandon(struct worker_job *j, void (*release)(void *), void *release_data);

/* provider-calls.c */

const char *provider_step_name(enum provider_step step);

/* snapshot-delete.c */

struct delete_result {
	size_t deleted;
	struct sc_id non_deleted; /* the first that failed, or the null id */
	int failure;              /* its error, or 0 */
};

typedef void (*delete_done_fn)(const struct delete_result *res, void *userdata);

struct delete_job *delete_job_new(void);
struct delete_job *delete_job_free(struct delete_job *j);
/* Copy @row into the job. */
int delete_job_add(struct delete_job *j, const struct catalog_snapshot *row);
size_t delete_job_count(const struct delete_job *j);
/* Delete the snapshots one by one on a thread (stopping at the first
 * failure if asked), remove their rows, then call @done.  On failure the
 * caller still owns @j. */
int delete_job_start(struct daemon *d, struct delete_job *j, bool stop_at_failure,
		     delete_done_fn done, void *userdata);
/* Nobody waits any more; the rows of what it deleted still go. */
void delete_job_abandon(struct delete_job *j);
/* A flush-and-hold window closed: finish the deletes that waited for it. */
void delete_job_resume_parked(struct daemon *d);

/* snapshots.c */

/* The SNAPSHOT object of protocol.md §6.3. */
json_t *snapshots_json(const struct catalog_snapshot *row);
int snapshots_get_properties(struct connection *c, const struct wire_message *m);
int snapshots_query(struct connection *c, const struct wire_message *m);
int snapshots_list(struct connection *c, const struct wire_message *m);
int snapshots_list_providers(struct connection *c, const struct wire_message *m);
int snapshots_delete(struct connection *c, const struct wire_message *m);

/* recovery.c */

typedef void (*recovery_done_fn)(struct daemon *d);
/* Reconcile the catalog with the disks; @done runs on the loop when it is
 * over (never from inside this call). */
int recovery_start(struct daemon *d, recovery_done_fn done);

/* session.c */

int session_new(struct connection *c, struct session **ret);
/* The requester left: end its backup by the rules, then free it. */
void session_end(struct session *s);
struct session *session_free(struct session *s);
/* At exit: free every session at once, sending nothing. */
void session_free_all(struct daemon *d);
int session_initialize_for_backup(struct connection *c, const struct wire_message *m);
int session_initialize_for_restore(struct connection *c, const struct wire_message *m);
int session_set_context(struct connection *c, const struct wire_message *m);
int session_set_backup_state(struct connection *c, const struct wire_message *m);
int session_enable_writer_classes(struct connection *c, const struct wire_message *m);
int session_disable_writer_classes(struct connection *c, const struct wire_message *m);
int session_disable_writer_instances(struct connection *c, const struct wire_message *m);
int session_gather_writer_metadata(struct connection *c, const struct wire_message *m);
int session_gather_writer_status(struct connection *c, const struct wire_message *m);

/* components.c */

int components_add(struct connection *c, const struct wire_message *m);
int components_set_backup_succeeded(struct connection *c, const struct wire_message *m);
int components_save_document(struct connection *c, const struct wire_message *m);

/* snapshot-set.c */

int snapshot_set_start(struct connection *c, const struct wire_message *m);
int snapshot_set_add(struct connection *c, const struct wire_message *m);

/* backup.c */

int backup_prepare_for_backup(struct connection *c, const struct wire_message *m);
int backup_complete(struct connection *c, const struct wire_message *m);

/* coordinator.c */

int coordinator_do_snapshot_set(struct connection *c, const struct wire_message *m);

/* abort.c */

int abort_backup(struct connection *c, const struct wire_message *m);

/* fanout.c */

/* A writer left the registry: if it was between Freeze and Thaw of a
 * backup, that backup fails (design.md). */
void fanout_writer_left(struct daemon *d, const struct writer_identity *id);

/* admin.c */

int admin_list_writers(struct connection *c, const struct wire_message *m);

#endif
