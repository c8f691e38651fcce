/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * shadowcopy/requester.h - the requester role of libshadowcopy (VSS's
 * IVssBackupComponents): the backup program's side.
 *
 * One struct sc_requester serves exactly one backup, as in VSS: after an error
 * free it and start again with a new one.  Calls out of the order of
 * vss-model 2.3 return -SC_E_BAD_STATE; the service enforces the order, so a
 * requester written in another language gets the same answers.
 *
 * Long operations (gather_writer_metadata, ...) return a struct sc_async, VSS's
 * IVssAsync: wait on it with a timeout, query it, or cancel it.  One long
 * operation runs at a time per requester.
 *
 * Threads: a requester and its asyncs are used from one thread at a time.
 * Calls block at most for the service's answer; none run callbacks.  The
 * library never installs signal handlers, exits or writes to stderr.
 * Requester calls need root or membership in the service's group.
 */
#ifndef SHADOWCOPY_REQUESTER_H
#define SHADOWCOPY_REQUESTER_H

#include <shadowcopy/types.h>

#ifdef __cplusplus
extern "C" {
#endif

struct sc_requester;
struct sc_async;
struct sc_writer_info;     /* one writer's metadata (VSS's IVssExamineWriterMetadata) */
struct sc_component_info;  /* one component of it (VSS's IVssWMComponent) */
struct sc_file_info;       /* one file set (VSS's IVssWMFiledesc) */

/* Which files of a component sc_component_info_get_file() reads. */
enum sc_file_kind {
	SC_FILE_KIND_FILES = 0,          /* file-group files */
	SC_FILE_KIND_DATABASE = 1,       /* database files */
	SC_FILE_KIND_DATABASE_LOG = 2,   /* database log files */
	SC_FILE_KIND_EXCLUDE = 3,        /* writer-level exclude list (sc_writer_info_get_exclude) */
	_SC_FILE_KIND_MAX
};

/**
 * sc_requester_new - connect to the service at @socket_path (NULL: the
 * $SHADOWCOPY_SOCKET variable, else SC_DEFAULT_SOCKET) and say hello as a
 * requester.  Returns 0; -SC_E_ACCESS_DENIED (not root nor in the group);
 * -SC_E_PROTOCOL_VERSION; -ENOENT/-ECONNREFUSED (service not running); -errno.
 */
SC_EXPORT int sc_requester_new(const char *socket_path, struct sc_requester **ret);

/**
 * sc_requester_free - end the session and free @r (VSS's Release).  Accepts
 * NULL; returns NULL.  Asyncs of @r must be freed first.
 *
 * It carries the requester's duty of vss-model A8/B18: if prepare_for_backup
 * succeeded (or its outcome is unknown: its async was freed before the reply,
 * cancelled, or lost with the connection) and neither backup_complete
 * succeeded nor abort_backup returned 0 since, free first calls abort_backup
 * and waits for its reply, at most 30 s.  Otherwise - prepare_for_backup never
 * called, or failed - it sends no abort and only closes the connection (A10,
 * A11).  Closing makes the service send BackupShutdown to the session's
 * writers and delete its auto-release snapshots.
 */
SC_EXPORT struct sc_requester *sc_requester_free(struct sc_requester *r);

/**
 * sc_requester_get_last_error_message - the service's own words for the last
 * error it answered: when the last request @r sent was answered with an error,
 * the message that came with it (e.g. why a volume was refused); NULL when
 * that answer was not an error.  Errors the library finds itself (bad
 * arguments, a lost connection) carry no message.  Valid until the next call
 * on @r; the error code, not this text, is the interface.
 */
SC_EXPORT const char *sc_requester_get_last_error_message(struct sc_requester *r);

/**
 * sc_requester_initialize_for_backup - InitializeForBackup.  @document must be
 * NULL for now.  Returns 0 or -SC_E_BAD_STATE (already initialized, T01).
 */
SC_EXPORT int sc_requester_initialize_for_backup(struct sc_requester *r, const char *document);

/**
 * sc_requester_initialize_for_restore - InitializeForRestore.  @document must
 * be NULL for now (restore itself comes later).  A restore session has no
 * snapshot set and no abort: start_snapshot_set, add_to_snapshot_set,
 * prepare_for_backup, do_snapshot_set, backup_complete and abort_backup give
 * -SC_E_BAD_STATE (T66, A5).  Returns 0 or -SC_E_BAD_STATE (already
 * initialized, T01).
 */
SC_EXPORT int sc_requester_initialize_for_restore(struct sc_requester *r, const char *document);

/**
 * sc_requester_set_context - SetContext: one of SC_CTX_*.  At most once,
 * after initialize and before gather (T02).  Returns 0, -EINVAL (unknown
 * context) or -SC_E_BAD_STATE.
 */
SC_EXPORT int sc_requester_set_context(struct sc_requester *r, uint32_t context);

/**
 * sc_requester_set_backup_state - SetBackupState.  @select_components chooses
 * component mode (true) or volume mode.  Returns 0, -EINVAL, -SC_E_BAD_STATE.
 */
SC_EXPORT int sc_requester_set_backup_state(struct sc_requester *r, bool select_components,
					    bool bootable_system_state,
					    enum sc_backup_type type, bool partial_file_support);

/**
 * sc_requester_enable_writer_classes - only these classes take part (may be
 * called several times; the lists add up).  sc_requester_disable_writer_classes
 * and sc_requester_disable_writer_instances leave out classes or instances.
 * Effective only before gather; afterwards they return 0 and change nothing
 * (T07).  Return 0, -EINVAL or -SC_E_BAD_STATE (not initialized).
 */
SC_EXPORT int sc_requester_enable_writer_classes(struct sc_requester *r, const struct sc_id *ids,
						 size_t n_ids);
SC_EXPORT int sc_requester_disable_writer_classes(struct sc_requester *r, const struct sc_id *ids,
						  size_t n_ids);
SC_EXPORT int sc_requester_disable_writer_instances(struct sc_requester *r,
						    const struct sc_id *ids, size_t n_ids);

/**
 * sc_requester_gather_writer_metadata - GatherWriterMetadata: Identify goes to
 * every subscribed, enabled writer in parallel; writers that do not answer
 * within the service's deadline are left out.  Once per requester.
 * Returns 0 and the operation in *@ret, or -SC_E_BAD_STATE.
 */
SC_EXPORT int sc_requester_gather_writer_metadata(struct sc_requester *r, struct sc_async **ret);

/**
 * sc_requester_get_writer_metadata_count - how many writers answered Identify.
 * sc_requester_get_writer_metadata - the @index'th of them, valid until @r is
 * freed.  Both -SC_E_BAD_STATE before gather has finished;
 * -SC_E_OBJECT_NOT_FOUND for an index out of range (T08).
 */
SC_EXPORT int sc_requester_get_writer_metadata_count(struct sc_requester *r, size_t *ret);
SC_EXPORT int sc_requester_get_writer_metadata(struct sc_requester *r, size_t index,
					       const struct sc_writer_info **ret);

/**
 * sc_requester_gather_writer_status - GatherWriterStatus: the state and failure
 * of every writer that answered Identify in this session, as the service
 * recorded them.  After gather_writer_metadata.  Returns 0 and the operation in
 * *@ret, or -SC_E_BAD_STATE.
 *
 * sc_requester_get_writer_status_count / sc_requester_get_writer_status - read
 * the result: for the @index'th writer its instance id, class id, name, state
 * (VSS_WRITER_STATE) and failure (0 or a negative SC_E_* error).  Strings live
 * until the next gather_writer_status or until @r is freed.  -SC_E_BAD_STATE
 * before a gather_writer_status has finished; -SC_E_OBJECT_NOT_FOUND out of range.
 */
SC_EXPORT int sc_requester_gather_writer_status(struct sc_requester *r, struct sc_async **ret);
SC_EXPORT int sc_requester_get_writer_status_count(struct sc_requester *r, size_t *ret);
SC_EXPORT int sc_requester_get_writer_status(struct sc_requester *r, size_t index,
					     struct sc_id *ret_instance_id,
					     struct sc_id *ret_class_id, const char **ret_name,
					     enum sc_writer_state *ret_state, int *ret_failure);

/* ---- the snapshot set (issue 3; protocol.md §6.3) ---- */

struct sc_snapshot_info;   /* one snapshot's properties (VSS's VSS_SNAPSHOT_PROP) */
struct sc_provider_info;   /* one provider (VSS's VSS_PROVIDER_PROP) */

/* What sc_requester_delete_snapshots() deletes (VSS_OBJECT_TYPE). */
enum sc_object_type {
	SC_OBJECT_SNAPSHOT_SET = 2,
	SC_OBJECT_SNAPSHOT = 3,
};

/**
 * sc_requester_add_component - AddComponent: include a component of a writer
 * that answered Identify (component mode; after gather, before
 * start_snapshot_set).  @logical_path may be NULL or "".
 * Returns 0, -SC_E_BAD_STATE, -SC_E_OBJECT_ALREADY_EXISTS (T09) or
 * -SC_E_OBJECT_NOT_FOUND (no such writer or component).
 */
SC_EXPORT int sc_requester_add_component(struct sc_requester *r, const struct sc_id *instance_id,
					 const struct sc_id *class_id,
					 enum sc_component_type type, const char *logical_path,
					 const char *name);

/**
 * sc_requester_start_snapshot_set - StartSnapshotSet: a new set id in *@ret
 * (T10).  Returns 0, -SC_E_BAD_STATE, or -SC_E_SNAPSHOT_SET_IN_PROGRESS while
 * another requester's set is being created (T11).
 */
SC_EXPORT int sc_requester_start_snapshot_set(struct sc_requester *r, struct sc_id *ret);

/**
 * sc_requester_add_to_snapshot_set - AddToSnapshotSet: the volume holding
 * @path, snapshotted by the provider @provider_id (NULL or null id: the
 * service chooses).  @path must be absolute (-EINVAL otherwise: a relative
 * path would be resolved in the service's directory).  The new snapshot id in
 * *@ret.  Returns 0,
 * -SC_E_BAD_STATE (T13), -SC_E_MAXIMUM_NUMBER_OF_VOLUMES_REACHED (T14),
 * -SC_E_OBJECT_NOT_FOUND (T15), -SC_E_PROVIDER_NOT_REGISTERED (T16),
 * -SC_E_VOLUME_NOT_SUPPORTED, -SC_E_VOLUME_NOT_SUPPORTED_BY_PROVIDER (T17),
 * -SC_E_OBJECT_ALREADY_EXISTS (the volume is already in the set).
 */
SC_EXPORT int sc_requester_add_to_snapshot_set(struct sc_requester *r, const char *path,
					       const struct sc_id *provider_id, struct sc_id *ret);

/**
 * sc_requester_prepare_for_backup - PrepareForBackup to the writers that take
 * part.  sc_requester_do_snapshot_set - DoSnapshotSet: PrepareForSnapshot,
 * Freeze, the providers' commit, Thaw, PostSnapshot.
 * sc_requester_backup_complete - BackupComplete.  Each returns 0 and the
 * operation in *@ret, -EINVAL, or -errno if the request could not be sent;
 * every other result, -SC_E_BAD_STATE for a call out of order included, comes
 * from sc_async_wait() (the service checks the order when the operation
 * starts).
 */
SC_EXPORT int sc_requester_prepare_for_backup(struct sc_requester *r, struct sc_async **ret);
SC_EXPORT int sc_requester_do_snapshot_set(struct sc_requester *r, struct sc_async **ret);
SC_EXPORT int sc_requester_backup_complete(struct sc_requester *r, struct sc_async **ret);

/**
 * sc_requester_set_backup_succeeded - SetBackupSucceeded for an added
 * component, after a successful do_snapshot_set.  Returns 0, -SC_E_BAD_STATE
 * or -SC_E_OBJECT_NOT_FOUND.
 */
SC_EXPORT int sc_requester_set_backup_succeeded(struct sc_requester *r,
						const struct sc_id *instance_id,
						const struct sc_id *class_id,
						enum sc_component_type type,
						const char *logical_path, const char *name,
						bool succeeded);

/**
 * sc_requester_abort_backup - AbortBackup: Abort to the writers that take part
 * and have not passed PostSnapshot; the set is abandoned.  Idempotent;
 * ignored when nothing is under way.  Returns 0 or -SC_E_BAD_STATE (not
 * initialized).
 */
SC_EXPORT int sc_requester_abort_backup(struct sc_requester *r);

/**
 * sc_requester_get_snapshot_properties - GetSnapshotProperties: a new
 * struct sc_snapshot_info in *@ret, freed with sc_snapshot_info_free().
 * Returns 0 or -SC_E_OBJECT_NOT_FOUND.
 */
SC_EXPORT int sc_requester_get_snapshot_properties(struct sc_requester *r,
						   const struct sc_id *snapshot_id,
						   struct sc_snapshot_info **ret);

/**
 * sc_requester_query_snapshots - Query(VSS_OBJECT_SNAPSHOT): the committed
 * snapshots of the session's context (all of them under SC_CTX_ALL, T51) as a
 * new array of *@ret_n infos; free with sc_snapshot_info_array_free().
 * sc_requester_query_providers - Query(VSS_OBJECT_PROVIDER): every provider;
 * free with sc_provider_info_array_free().  Both return 0 or -SC_E_BAD_STATE.
 */
SC_EXPORT int sc_requester_query_snapshots(struct sc_requester *r,
					   struct sc_snapshot_info ***ret, size_t *ret_n);
SC_EXPORT int sc_requester_query_providers(struct sc_requester *r,
					   struct sc_provider_info ***ret, size_t *ret_n);

/**
 * sc_requester_delete_snapshots - DeleteSnapshots: a snapshot or a whole set,
 * members one by one, stopping at the first failure.  Whatever the result,
 * *@ret_deleted counts the snapshots deleted and *@ret_non_deleted is the
 * failing snapshot (null id on success) (T52); both must not be NULL
 * (-EINVAL), and on errors before any deletion they are 0 and the null id.
 * Returns 0, the first failure, or -SC_E_OBJECT_NOT_FOUND for an unknown id
 * (T53).
 */
SC_EXPORT int sc_requester_delete_snapshots(struct sc_requester *r, const struct sc_id *id,
					    enum sc_object_type type, bool force,
					    size_t *ret_deleted, struct sc_id *ret_non_deleted);

/**
 * sc_requester_save_document - SaveAsXML: the backup components document as
 * JSON text (malloc'd, caller frees) in *@ret.  After do_snapshot_set.
 * Returns 0, -SC_E_BAD_STATE or -ENOMEM.
 */
SC_EXPORT int sc_requester_save_document(struct sc_requester *r, char **ret);

/* ---- struct sc_snapshot_info / sc_provider_info ---- */

SC_EXPORT struct sc_snapshot_info *sc_snapshot_info_free(struct sc_snapshot_info *si);
SC_EXPORT void sc_snapshot_info_array_free(struct sc_snapshot_info **a, size_t n);
SC_EXPORT void sc_snapshot_info_get_id(const struct sc_snapshot_info *si, struct sc_id *ret);
SC_EXPORT void sc_snapshot_info_get_set_id(const struct sc_snapshot_info *si, struct sc_id *ret);
SC_EXPORT void sc_snapshot_info_get_provider_id(const struct sc_snapshot_info *si,
						struct sc_id *ret);
/* Volumes in the set at creation (T56). */
SC_EXPORT uint32_t sc_snapshot_info_get_count(const struct sc_snapshot_info *si);
/* Where the snapshot is (VSS's device object): a read-only directory or an
 * image file, without a trailing slash. */
SC_EXPORT const char *sc_snapshot_info_get_location(const struct sc_snapshot_info *si);
SC_EXPORT const char *sc_snapshot_info_get_original_volume(const struct sc_snapshot_info *si);
/* The root of the volume the location mirrors (the btrfs subvolume holding the
 * path given): a file's path in the snapshot is the location followed by its
 * path below this root. */
SC_EXPORT const char *sc_snapshot_info_get_volume_root(const struct sc_snapshot_info *si);
SC_EXPORT const char *sc_snapshot_info_get_provider_name(const struct sc_snapshot_info *si);
SC_EXPORT uint32_t sc_snapshot_info_get_context(const struct sc_snapshot_info *si);
/* SC_ATTR_* mask (context bits included). */
SC_EXPORT uint32_t sc_snapshot_info_get_attributes(const struct sc_snapshot_info *si);
/* Creation time, microseconds since the Unix epoch. */
SC_EXPORT uint64_t sc_snapshot_info_get_creation_time(const struct sc_snapshot_info *si);
/* The whole object as the JSON of protocol.md (SNAPSHOT); malloc'd. */
SC_EXPORT char *sc_snapshot_info_to_json(const struct sc_snapshot_info *si);

SC_EXPORT void sc_provider_info_array_free(struct sc_provider_info **a, size_t n);
SC_EXPORT void sc_provider_info_get_id(const struct sc_provider_info *pi, struct sc_id *ret);
SC_EXPORT const char *sc_provider_info_get_name(const struct sc_provider_info *pi);
SC_EXPORT const char *sc_provider_info_get_version(const struct sc_provider_info *pi);
SC_EXPORT int sc_provider_info_get_type(const struct sc_provider_info *pi);

/* ---- struct sc_async (VSS's IVssAsync) ---- */

/**
 * sc_async_wait - wait at most @timeout_usec (UINT64_MAX: no limit; 0: do not
 * block, T62) for the operation.  Returns SC_ASYNC_FINISHED, SC_ASYNC_CANCELLED,
 * SC_ASYNC_PENDING (time is up; the operation goes on), or the operation's
 * error (< 0), or -errno if the connection failed.
 */
SC_EXPORT int sc_async_wait(struct sc_async *a, uint64_t timeout_usec);

/** sc_async_query_status - as sc_async_wait(a, 0). */
SC_EXPORT int sc_async_query_status(struct sc_async *a);

/**
 * sc_async_cancel - cancel the operation.  Returns 0 (cancelled now),
 * SC_ASYNC_CANCELLED (already cancelled), SC_ASYNC_FINISHED (already done,
 * T61), or the operation's error if it had failed.
 */
SC_EXPORT int sc_async_cancel(struct sc_async *a);

/** sc_async_free - free @a (the operation goes on if pending).  NULL-safe; returns NULL. */
SC_EXPORT struct sc_async *sc_async_free(struct sc_async *a);

/* ---- struct sc_writer_info: one writer's metadata document ---- */

/*
 * Strings returned below live as long as the writer info; they are never NULL
 * (empty when unset).  Index arguments out of range give -SC_E_OBJECT_NOT_FOUND.
 */
SC_EXPORT const char *sc_writer_info_get_name(const struct sc_writer_info *wi);
SC_EXPORT const char *sc_writer_info_get_instance_name(const struct sc_writer_info *wi);
SC_EXPORT void sc_writer_info_get_class_id(const struct sc_writer_info *wi, struct sc_id *ret);
SC_EXPORT void sc_writer_info_get_instance_id(const struct sc_writer_info *wi, struct sc_id *ret);
SC_EXPORT enum sc_usage_type sc_writer_info_get_usage_type(const struct sc_writer_info *wi);
SC_EXPORT enum sc_source_type sc_writer_info_get_source_type(const struct sc_writer_info *wi);
SC_EXPORT enum sc_app_level sc_writer_info_get_level(const struct sc_writer_info *wi);
SC_EXPORT uint32_t sc_writer_info_get_backup_schema(const struct sc_writer_info *wi);
SC_EXPORT int sc_writer_info_get_restore_method(const struct sc_writer_info *wi,
						enum sc_restore_method *ret_method,
						const char **ret_service,
						const char **ret_user_procedure,
						enum sc_writer_restore *ret_writer_restore,
						bool *ret_reboot_required);
SC_EXPORT size_t sc_writer_info_get_exclude_count(const struct sc_writer_info *wi);
SC_EXPORT int sc_writer_info_get_exclude(const struct sc_writer_info *wi, size_t i,
					 const struct sc_file_info **ret);
SC_EXPORT size_t sc_writer_info_get_component_count(const struct sc_writer_info *wi);
SC_EXPORT int sc_writer_info_get_component(const struct sc_writer_info *wi, size_t i,
					   const struct sc_component_info **ret);

/**
 * sc_writer_info_to_json - the whole document as the JSON text of
 * docs/protocol.md ("writer metadata").  Returns a malloc'd string the caller
 * frees, or NULL on out-of-memory.
 */
SC_EXPORT char *sc_writer_info_to_json(const struct sc_writer_info *wi);

SC_EXPORT enum sc_component_type sc_component_info_get_type(const struct sc_component_info *ci);
SC_EXPORT const char *sc_component_info_get_logical_path(const struct sc_component_info *ci);
SC_EXPORT const char *sc_component_info_get_name(const struct sc_component_info *ci);
SC_EXPORT const char *sc_component_info_get_caption(const struct sc_component_info *ci);
SC_EXPORT bool sc_component_info_is_selectable(const struct sc_component_info *ci);
SC_EXPORT bool sc_component_info_is_selectable_for_restore(const struct sc_component_info *ci);
SC_EXPORT uint32_t sc_component_info_get_flags(const struct sc_component_info *ci);
SC_EXPORT size_t sc_component_info_get_file_count(const struct sc_component_info *ci,
						  enum sc_file_kind kind);
SC_EXPORT int sc_component_info_get_file(const struct sc_component_info *ci,
					 enum sc_file_kind kind, size_t i,
					 const struct sc_file_info **ret);

SC_EXPORT const char *sc_file_info_get_path(const struct sc_file_info *fi);
SC_EXPORT const char *sc_file_info_get_filespec(const struct sc_file_info *fi);
SC_EXPORT bool sc_file_info_is_recursive(const struct sc_file_info *fi);
SC_EXPORT uint32_t sc_file_info_get_backup_type_mask(const struct sc_file_info *fi);

#ifdef __cplusplus
}
#endif

#endif
