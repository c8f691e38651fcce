/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * shadowcopy/writer.h - the writer role of libshadowcopy (VSS's CVssWriter).
 *
 * A writer is an application that owns data (a database, a mail store).  It
 * describes its files when asked (Identify) and makes them consistent around
 * the snapshot instant (PrepareForSnapshot, Freeze, Thaw, PostSnapshot, Abort).
 *
 * Use:
 *   sc_writer_new(&w);
 *   sc_writer_initialize(w, &class_id, "My DB", NULL, SC_UT_USERDATA,
 *                        SC_ST_TRANSACTEDDB, SC_APP_BACK_END, 0);
 *   sc_writer_on_identify(w, identify, data);
 *   sc_writer_on_event(w, SC_EVENT_FREEZE, freeze, data);
 *   sc_writer_on_event(w, SC_EVENT_THAW, thaw, data);
 *   sc_writer_subscribe(w);
 *   sc_writer_run(w);                 // or integrate the fd in your loop
 *
 * Threads: a struct sc_writer is used from one thread at a time.  Handlers run
 * on the thread that calls sc_writer_process() (or sc_writer_run()); with
 * sc_writer_start_thread() they run on the library's own thread.  Handlers
 * must not call sc_writer_process(), sc_writer_run() or sc_writer_free().
 *
 * Loop integration: sc_writer_get_fd() is stable for the writer's life (it
 * survives reconnections); wait for POLLIN on it or for sc_writer_get_timeout()
 * to pass, then call sc_writer_process().
 *
 * The library never installs signal handlers, never exits, never writes to
 * stderr; it logs only through a callback set with sc_writer_set_log().  It
 * reconnects by itself, with backoff, when the service restarts, keeping its
 * class id and instance id.  After fork() the child must not use the parent's
 * writer.
 */
#ifndef SHADOWCOPY_WRITER_H
#define SHADOWCOPY_WRITER_H

#include <shadowcopy/types.h>

#ifdef __cplusplus
extern "C" {
#endif

struct sc_writer;
struct sc_writer_metadata;    /* Identify's metadata builder (VSS's IVssCreateWriterMetadata) */
struct sc_writer_event;       /* what an event carries (VSS's IVssWriterComponents et al.) */

/* Default freeze window of a writer, as VSS's dwTimeoutFreeze (T30). */
#define SC_WRITER_DEFAULT_FREEZE_TIMEOUT_MS 60000u

/**
 * sc_writer_identify_handler_t - builds the writer metadata document.
 * Return true to answer Identify; false leaves this writer out of the
 * requester's metadata and status (T06).
 */
typedef bool (*sc_writer_identify_handler_t)(struct sc_writer *w,
					     struct sc_writer_metadata *m,
					     void *userdata);

/**
 * sc_writer_event_handler_t - handles one lifecycle event.  Return true on
 * success; to veto, call sc_writer_set_failure() and return false (a false
 * return without a failure code reports SC_E_WRITERERROR_NONRETRYABLE).
 * @ev is valid only during the call.
 */
typedef bool (*sc_writer_event_handler_t)(struct sc_writer *w,
					  const struct sc_writer_event *ev,
					  void *userdata);

/** sc_writer_log_t - receives the library's log lines (syslog priorities). */
typedef void (*sc_writer_log_t)(int priority, const char *message, void *userdata);

/**
 * sc_writer_new - a new, unsubscribed writer in *@ret.
 * Returns 0, -ENOMEM, or -errno (e.g. -EMFILE from epoll or eventfd).
 * Free with sc_writer_free().
 */
SC_EXPORT int sc_writer_new(struct sc_writer **ret);

/**
 * sc_writer_free - unsubscribes (if subscribed), stops the background thread
 * (if started) and frees @w.  Accepts NULL; returns NULL.
 */
SC_EXPORT struct sc_writer *sc_writer_free(struct sc_writer *w);

/**
 * sc_writer_initialize - VSS's CVssWriter::Initialize.  Call once, before
 * sc_writer_subscribe().
 * @class_id: the writer's class (fixed per product); not null.
 * @name: display name; not NULL or empty.
 * @instance_name: NULL for a single-instance writer; otherwise a unique,
 *   persistent name per instance, from which the instance id is derived (so it
 *   is the same after a restart).  Without it the instance id is random per
 *   struct sc_writer.
 * @usage, @source: VSS_USAGE_TYPE and VSS_SOURCE_TYPE.
 * @level: the Freeze order group (front end first, then back end, then system);
 *   SC_APP_UNKNOWN is refused.
 * @freeze_timeout_ms: 0 means SC_WRITER_DEFAULT_FREEZE_TIMEOUT_MS.
 * Returns 0, -EINVAL (bad argument), or -SC_E_BAD_STATE (already initialized).
 */
SC_EXPORT int sc_writer_initialize(struct sc_writer *w, const struct sc_id *class_id,
				   const char *name, const char *instance_name,
				   enum sc_usage_type usage, enum sc_source_type source,
				   enum sc_app_level level, uint32_t freeze_timeout_ms);

/**
 * sc_writer_set_socket - connect to @path instead of $SHADOWCOPY_WRITER_SOCKET,
 * else $SHADOWCOPY_SOCKET, else SC_DEFAULT_WRITER_SOCKET.  Before subscribe.
 * Returns 0, -EINVAL, -ENOMEM or -SC_E_BAD_STATE.
 */
SC_EXPORT int sc_writer_set_socket(struct sc_writer *w, const char *path);

/** sc_writer_set_log - install a log callback (NULL removes it).  Returns 0. */
SC_EXPORT int sc_writer_set_log(struct sc_writer *w, sc_writer_log_t log, void *userdata);

/**
 * sc_writer_on_identify - set the Identify handler (required before subscribe).
 * sc_writer_on_event - set the handler of any other event.  Events without a
 * handler succeed, as VSS's default virtual methods do.  @handler NULL removes.
 * Both return 0, or -EINVAL (SC_EVENT_IDENTIFY given to sc_writer_on_event).
 */
SC_EXPORT int sc_writer_on_identify(struct sc_writer *w, sc_writer_identify_handler_t handler,
				    void *userdata);
SC_EXPORT int sc_writer_on_event(struct sc_writer *w, enum sc_event event,
				 sc_writer_event_handler_t handler, void *userdata);

/**
 * sc_writer_subscribe - connect to the service and register (VSS's Subscribe).
 * Blocks for at most a few seconds.  From then on the library keeps the
 * registration alive across service restarts by itself.
 * Returns 0; -SC_E_WRITER_ALREADY_SUBSCRIBED (T57; also when another process
 * holds the same class and instance); -SC_E_BAD_STATE (not initialized or no
 * identify handler); -SC_E_ACCESS_DENIED (the configuration binds the class
 * to another user); -ENOENT/-ECONNREFUSED (service not running); other -errno.
 */
SC_EXPORT int sc_writer_subscribe(struct sc_writer *w);

/**
 * sc_writer_unsubscribe - leave the service and close the connection.  The
 * backups under way end for this writer as on a lost connection: its Abort
 * handler runs for each one that is owed an Abort, then its BackupShutdown
 * handler (docs/writer-guide.md).  Returns 0 or -SC_E_BAD_STATE (not subscribed).
 */
SC_EXPORT int sc_writer_unsubscribe(struct sc_writer *w);

/** sc_writer_get_class_id / sc_writer_get_instance_id - the ids (after initialize). */
SC_EXPORT int sc_writer_get_class_id(const struct sc_writer *w, struct sc_id *ret);
SC_EXPORT int sc_writer_get_instance_id(const struct sc_writer *w, struct sc_id *ret);

/**
 * sc_writer_set_failure - VSS's SetWriterFailure: the failure code reported
 * with the current event's failure.  Only inside an event handler other than
 * Identify (T58); @error is one of -SC_E_WRITERERROR_* (either sign).
 * Returns 0, -EINVAL (not a writer error) or -SC_E_BAD_STATE (outside a handler
 * or inside Identify; nothing is recorded then).
 */
SC_EXPORT int sc_writer_set_failure(struct sc_writer *w, int error);

/* ---- event loop integration ---- */

/** sc_writer_get_fd - an fd to poll for POLLIN; stable for the writer's life. */
SC_EXPORT int sc_writer_get_fd(const struct sc_writer *w);

/**
 * sc_writer_get_timeout - the CLOCK_MONOTONIC time (usec) at which
 * sc_writer_process() must be called even without input, or UINT64_MAX.
 */
SC_EXPORT int sc_writer_get_timeout(const struct sc_writer *w, uint64_t *ret_usec);

/**
 * sc_writer_process - handle whatever is pending, running handlers; never
 * waits for input.  Returns > 0 if it did something, 0 if nothing, -errno on a
 * failure the writer cannot recover from by reconnecting.
 */
SC_EXPORT int sc_writer_process(struct sc_writer *w);

/**
 * sc_writer_wait - wait at most @timeout_usec (UINT64_MAX: no limit) for
 * something to process.  Returns > 0 if there is, 0 on timeout, -errno.
 */
SC_EXPORT int sc_writer_wait(struct sc_writer *w, uint64_t timeout_usec);

/**
 * sc_writer_run - process and wait until sc_writer_stop() is called (from a
 * handler or another thread).  Returns 0 or the -errno that ended it.
 */
SC_EXPORT int sc_writer_run(struct sc_writer *w);

/** sc_writer_stop - make sc_writer_run() return.  Thread-safe.  Returns 0. */
SC_EXPORT int sc_writer_stop(struct sc_writer *w);

/**
 * sc_writer_start_thread - run sc_writer_run() on a new thread; handlers then
 * run on that thread.  sc_writer_stop_thread() stops and joins it.  Between
 * the two, the caller must not call other functions on @w except
 * sc_writer_stop_thread().  Both return 0 or -errno: -EBUSY (already
 * started), -ESRCH (not started), -EDEADLK (called from the writer's thread).
 */
SC_EXPORT int sc_writer_start_thread(struct sc_writer *w);
SC_EXPORT int sc_writer_stop_thread(struct sc_writer *w);

/* ---- inside handlers: what the event carries ---- */

/** sc_writer_event_get_type - the event being handled. */
SC_EXPORT enum sc_event sc_writer_event_get_type(const struct sc_writer_event *ev);

/**
 * sc_writer_event_get_snapshot_set_id - the snapshot set of the backup (VSS's
 * GetCurrentSnapshotSetId); null id for BackupShutdown when no set was made.
 */
SC_EXPORT void sc_writer_event_get_snapshot_set_id(const struct sc_writer_event *ev,
						   struct sc_id *ret);

/** sc_writer_event_get_context - the snapshot context (SC_CTX_*). */
SC_EXPORT uint32_t sc_writer_event_get_context(const struct sc_writer_event *ev);

/** sc_writer_event_get_backup_type - VSS's GetBackupType. */
SC_EXPORT enum sc_backup_type sc_writer_event_get_backup_type(const struct sc_writer_event *ev);

/** sc_writer_event_are_components_selected - VSS's AreComponentsSelected. */
SC_EXPORT bool sc_writer_event_are_components_selected(const struct sc_writer_event *ev);

/**
 * sc_writer_event_get_volume_count / _get_volume - the volumes of the set
 * (VSS's GetCurrentVolumeArray), as the paths the requester gave.  Strings
 * live as long as @ev.
 */
SC_EXPORT size_t sc_writer_event_get_volume_count(const struct sc_writer_event *ev);
SC_EXPORT const char *sc_writer_event_get_volume(const struct sc_writer_event *ev, size_t i);

/**
 * sc_writer_event_get_component_count / _get_component - the components of
 * this writer the requester selected (logical path may be ""), and whether
 * the requester said their backup succeeded (BackupComplete only).
 * _get_component returns 0, -EINVAL or -SC_E_OBJECT_NOT_FOUND.
 */
SC_EXPORT size_t sc_writer_event_get_component_count(const struct sc_writer_event *ev);
SC_EXPORT int sc_writer_event_get_component(const struct sc_writer_event *ev, size_t i,
					    const char **ret_logical_path, const char **ret_name,
					    bool *ret_backup_succeeded);

/* ---- inside Identify: the metadata builder (VSS's IVssCreateWriterMetadata) ---- */

/**
 * sc_writer_metadata_add_component - add a component.  @logical_path may be
 * NULL or "" (top level); @name must be unique under it; @caption may be NULL.
 * @flags is a mask of SC_CF_*.  Returns 0, -EINVAL, -ENOMEM, or
 * -SC_E_OBJECT_ALREADY_EXISTS.
 */
SC_EXPORT int sc_writer_metadata_add_component(struct sc_writer_metadata *m,
					       enum sc_component_type type,
					       const char *logical_path, const char *name,
					       const char *caption, bool selectable,
					       bool selectable_for_restore, uint32_t flags);

/**
 * sc_writer_metadata_add_files - add a file set to a file-group component
 * (AddFilesToFileGroup): files matching @filespec (shell wildcards) in
 * directory @path, and below it if @recursive.  @backup_type_mask is a mask of
 * SC_FSBT_* (0 means SC_FSBT_ALL).
 * sc_writer_metadata_add_database_files / _add_database_log_files - the same
 * for a database component's data and log files.
 * All return 0, -EINVAL, -ENOMEM or -SC_E_OBJECT_NOT_FOUND (no such component,
 * or a component of the other type).
 */
SC_EXPORT int sc_writer_metadata_add_files(struct sc_writer_metadata *m, const char *logical_path,
					   const char *name, const char *path,
					   const char *filespec, bool recursive,
					   uint32_t backup_type_mask);
SC_EXPORT int sc_writer_metadata_add_database_files(struct sc_writer_metadata *m,
						    const char *logical_path, const char *name,
						    const char *path, const char *filespec,
						    uint32_t backup_type_mask);
SC_EXPORT int sc_writer_metadata_add_database_log_files(struct sc_writer_metadata *m,
							const char *logical_path,
							const char *name, const char *path,
							const char *filespec,
							uint32_t backup_type_mask);

/**
 * sc_writer_metadata_add_exclude_files - files never to back up (AddExcludeFiles).
 * Returns 0, -EINVAL or -ENOMEM.
 */
SC_EXPORT int sc_writer_metadata_add_exclude_files(struct sc_writer_metadata *m, const char *path,
						   const char *filespec, bool recursive);

/**
 * sc_writer_metadata_set_restore_method - SetRestoreMethod; @service and
 * @user_procedure may be NULL.  Returns 0, -EINVAL or -ENOMEM.
 */
SC_EXPORT int sc_writer_metadata_set_restore_method(struct sc_writer_metadata *m,
						    enum sc_restore_method method,
						    const char *service,
						    const char *user_procedure,
						    enum sc_writer_restore writer_restore,
						    bool reboot_required);

/** sc_writer_metadata_set_backup_schema - SetBackupSchema (SC_BS_* mask).  Returns 0. */
SC_EXPORT int sc_writer_metadata_set_backup_schema(struct sc_writer_metadata *m, uint32_t schema);

#ifdef __cplusplus
}
#endif

#endif
