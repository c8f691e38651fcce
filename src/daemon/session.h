/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * session.h - a requester session (one IVssBackupComponents) and the backup it
 * drives: its writers and their per-session states, its components, its
 * snapshot set, and the phase it is in.  Shared by the files of the
 * coordinator; the rest of the service sees only daemon.h.
 *
 * Every transition runs from session_advance(), a deferred event source:
 * callbacks (writer answers, finished jobs, timers) only record what
 * happened and kick it, so nothing runs deep inside another's callback and
 * a session is freed only from there.
 */
#ifndef SC_SESSION_H
#define SC_SESSION_H

#include <systemd/sd-event.h>

#include "catalog.h"
#include "daemon.h"
#include "provider-calls.h"

enum gather_state {
	GATHER_NONE,
	GATHER_RUNNING,
	GATHER_DONE,
	GATHER_CANCELLED, /* gather runs once per session, even cancelled */
};

/* The backup of a session (vss-model 2.1, 2.3; design.md "The coordinator"). */
enum backup_phase {
	BACKUP_NONE,           /* initialized, no set */
	BACKUP_SET_STARTED,    /* start_snapshot_set: volumes may be added */
	BACKUP_PREPARING,      /* prepare_for_backup running */
	BACKUP_PREPARED,
	BACKUP_SNAPSHOTTING,   /* do_snapshot_set running (coordinator.c) */
	BACKUP_SNAPSHOTS_DONE, /* do_snapshot_set succeeded */
	BACKUP_COMPLETING,     /* backup_complete running */
	BACKUP_COMPLETE,
	BACKUP_ABORTING,       /* Abort sent, providers aborting (abort.c) */
	BACKUP_ABORTED,
};

/* Where the end of a session is (backup.c). */
enum end_step {
	END_NONE,       /* the requester is still there */
	END_WAITING,    /* for the running phase, or the abort, to finish */
	END_SHUTDOWN,   /* BackupShutdown out, auto-release snapshots being deleted */
};

/* A writer that answered Identify in this session, and its part in the backup. */
struct session_writer {
	struct session *session;
	struct writer_identity identity;
	enum sc_writer_state state;  /* in this session (vss-model 4.6) */
	int failure;
	json_t *metadata;            /* its part of the metadata document */
	bool participating;          /* participation.c */
	bool involved;               /* got a backup event: Abort and BackupShutdown concern it */
	bool out;                    /* failed before Freeze or at PostSnapshot: no more
				      * events but BackupShutdown (A14, A15) */
	bool aborted;                /* got Abort: no more events but BackupShutdown (B6) */
	bool past_post_snapshot;     /* handled PostSnapshot: never Abort (B5, T35) */
	bool frozen;                 /* from Freeze sent to Thaw or Abort sent */
	struct writer_event *event;  /* outstanding */
	enum sc_event event_type;
	uint64_t sent_usec;
	sd_event_source *window;     /* the writer's freeze window (vss-model 5) */
};

/* A component added with add_component. */
struct component {
	size_t writer; /* index in session->writers */
	int type;
	char *logical_path;
	char *name;
	bool backup_succeeded;
};

/* A volume of the set, with its snapshot. */
struct set_volume {
	char *path;                        /* as the requester named it */
	const struct sc_provider *provider;
	struct sc_provider_volume volume;
	struct sc_provider_snapshot snap;  /* ids, context, volume, location */
	uint64_t created_realtime_usec;
	dev_t hold_dev;                    /* its filesystem, when its provider holds writes */
};

struct snapshot_set {
	struct sc_id id;
	struct set_volume volumes[SET_VOLUMES_MAX];
	size_t n_volumes;
	unsigned n_adding;                 /* add_to_snapshot_set calls still resolving */
	struct provider_group groups[SET_VOLUMES_MAX];
	size_t n_groups;
	struct step_job *job;              /* the provider step running */
	sd_event_source *job_timer;        /* its deadline */
	struct hold_window *window;        /* its flush-and-hold (hold-window.c), or NULL */
	bool intent_written;               /* "creating" rows are in the catalog */
	bool providers_aborting;           /* abort was started */
	bool providers_aborted;            /* abort returned */
	int abort_result;
	bool committed;                    /* do_snapshot_set succeeded */
};

/* One line of history kept in memory until it may be written (history.c). */
struct history_line {
	uint64_t realtime_usec;
	const char *kind;
	char *what;
	char *writer;
	char *writer_name;
	int state;
	int failure;
	uint64_t duration_usec;
};

struct id_list {
	struct sc_id *ids;
	size_t n;
};

struct session {
	struct daemon *daemon;
	struct connection *conn;     /* NULL once the requester has gone */
	TAILQ_ENTRY(session) entry;  /* in daemon->sessions */
	sd_event_source *kick;       /* runs session_advance() */
	bool initialized;
	bool restore;                /* initialized for restore: no set, no abort (A5, T66) */
	enum gather_state gather;
	enum backup_phase phase;
	enum end_step end;
	struct sc_id id;
	uint32_t context;
	bool context_set;
	bool backup_state_set;
	bool select_components;
	bool bootable_system_state;
	bool partial_file_support;
	int backup_type;
	bool classes_enabled; /* enable_writer_classes was called: only those take part */
	struct id_list enabled_classes;
	struct id_list disabled_classes;
	struct id_list disabled_instances;
	struct gather *gather_job;
	struct operation *gather_op;
	struct session_writer *writers;
	size_t n_writers;
	struct component *components;
	size_t n_components;
	struct snapshot_set *set;
	struct worker_job *resolving;  /* participation.c: paths being resolved */
	bool participation_known;
	struct operation *op;          /* prepare_for_backup, do_snapshot_set or backup_complete */
	unsigned pending;              /* writer events outstanding */
	int error;                     /* why the running phase fails; 0 while it does not */
	char *error_reason;            /* what the requester is told about it, or NULL */
	int step;                      /* coordinator.c: where do_snapshot_set is */
	int freeze_level;              /* coordinator.c: the level being frozen */
	uint64_t phase_start_usec;
	struct history_line *history;
	size_t n_history;
	struct delete_job *deleting;   /* backup.c: auto-release snapshots being deleted */
};

static inline bool session_writer_context(const struct session *s)
{
	return !(s->context & SC_ATTR_NO_WRITERS);
}

static inline uint64_t session_now(const struct session *s)
{
	uint64_t t = 0;

	(void)sd_event_now(s->daemon->event, CLOCK_MONOTONIC, &t); /* the loop runs */
	return t;
}

/* session.c */
/* "Session <id>" for logs; a static buffer, so one call per log line. */
const char *session_describe(const struct session *s);
/* Run session_advance() soon, from the loop. */
void session_kick(struct session *s);
/* The STATUS object of protocol.md §6.2. */
json_t *session_writer_status(const struct session_writer *sw);
/* STATUS of the participants whose state lies in [@first, @last]. */
json_t *session_writer_failures(const struct session *s, enum sc_writer_state first,
				enum sc_writer_state last);
/* Reply to the running operation and forget it (nothing if it is gone). */
void session_op_reply(struct session *s, json_t *result);
void session_op_fail(struct session *s, int error);
/* Take or release the system-wide lock of set creation (T11, T12). */
bool session_set_lock(struct session *s);
void session_set_unlock(struct session *s);
/* The session a connection carries. */
struct session *session_of(struct connection *c);

/* fanout.c */
/* Send @event to the writers of @s it concerns (all levels when @level is
 * 0), in parallel, each with the configured deadline, counting them in
 * s->pending.  Writers gone already fail at once.  Always kicks @s. */
void fanout_send(struct session *s, enum sc_event event, int level);
/* Forget every outstanding event of @s and stop the freeze windows. */
void fanout_cancel(struct session *s);

/* components.c */
struct component *components_free(struct component *c, size_t n);
/* @sw's added components as the "components" array of an event. */
json_t *components_json(const struct session *s, size_t writer);
/* The backup components document (save_document, catalog). */
json_t *components_document(const struct session *s);

/* participation.c */
/* Decide who takes part (protocol.md §6.3); kicks @s when known. */
int participation_start(struct session *s);
void participation_cancel(struct session *s);

/* snapshot-set.c */
struct snapshot_set *snapshot_set_free(struct snapshot_set *set);
/* snapshot_set_free() for worker_abandon(). */
void snapshot_set_release(void *set);
/* The catalog row of volume @i of the set (strings borrowed). */
void snapshot_set_row(const struct session *s, size_t i, enum catalog_state state,
		      struct catalog_snapshot *ret);
/* SNAPSHOT objects of the set (do_snapshot_set's result). */
json_t *snapshot_set_json(const struct session *s);

/* coordinator.c */
void coordinator_advance(struct session *s);
/* Run @step for the set's providers on a worker thread, with its deadline;
 * its end kicks @s.  Nothing to run (no volume) is success. */
int coordinator_provider_step(struct session *s, enum provider_step step);

/* abort.c */
/* Abandon the backup because of @error (vss-model 6): Abort to the writers
 * it concerns, the providers' abort when due; finishes in abort_advance(). */
void abort_start(struct session *s, int error);
void abort_advance(struct session *s);

/* backup.c */
/* Keep the backup components document of a persistent set in the catalog. */
void backup_store_document(struct session *s);
void backup_prepare_advance(struct session *s);
void backup_complete_advance(struct session *s);
/* The end of a session; returns true when it freed @s. */
bool backup_end_advance(struct session *s);

/* hold-window.c */
struct hold_protected;
#define HOLD_PROTECTED_MAX 6
/* The filesystems the service never freezes (hold.h): "/", and those of
 * its state directory, sockets, program and log, in @ret (room for
 * HOLD_PROTECTED_MAX); their number. */
size_t hold_window_protected(const struct config *c, struct hold_protected *ret);
/* Open the flush-and-hold window of @s's set: the filesystems of its
 * volumes whose provider holds writes are flushed and frozen on a thread,
 * under the hold limit.  No such volume: nothing happens.  The end of the
 * freeze kicks @s; a failure (a refusal, the limit) sets s->error. */
int hold_window_open(struct session *s);
/* Thaw as soon as possible: now when frozen, else when the freeze returns. */
void hold_window_release(struct session *s);
/* A freeze or a thaw of @s's set is running: the set waits for it. */
bool hold_window_busy(const struct session *s);
/* Another session's window is open: @s does nothing that writes (it is
 * kicked again when the window closes). */
bool hold_window_holds_back(const struct session *s);
/* On a worker thread: wait while a window is open. */
void hold_window_gate_wait(struct daemon *d);
/* The set or its session goes: an open window thaws and frees itself. */
struct hold_window *hold_window_let_go(struct hold_window *w);

/* history.c */
/* One line: @who is a writer instance id or a provider name (may be NULL),
 * @state a writer state or -1. */
void history_add(struct session *s, const char *kind, const char *what, const char *who,
		 const char *who_name, int state, int failure, uint64_t duration_usec);
/* Write what is kept to the catalog; never between Freeze and Thaw, nor
 * while writes are held (then the lines wait for the next flush). */
void history_flush(struct session *s);
void history_done(struct session *s);

#endif
