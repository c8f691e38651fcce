/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * requester-internal.h - the insides of struct sc_requester and struct
 * sc_async, shared by requester.c (the session and its gathers),
 * requester-backup.c (the backup sequence), requester-query.c (snapshots and
 * providers), async.c (waiting and cancelling), writer-info.c and
 * snapshot-info.c (the documents the service answers with).
 */
#ifndef SC_REQUESTER_INTERNAL_H
#define SC_REQUESTER_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include <shadowcopy/requester.h>

/* How long a quick call (abort_backup in sc_requester_free() included), and
 * the connection with its hello, may take. */
#define REQUESTER_CALL_USEC 30000000u
#define REQUESTER_CONNECT_USEC 5000000u

struct writer_status {
	struct sc_id instance_id;
	struct sc_id class_id;
	const char *name; /* borrowed from sc_requester.status_doc */
	enum sc_writer_state state;
	int failure;
};

struct sc_requester {
	struct client *client;
	bool initialized;
	bool gather_started; /* gather_writer_metadata is once per requester */

	bool metadata_ready;
	struct sc_writer_info **writers;
	size_t n_writers;

	bool status_ready;
	json_t *status_doc;
	struct writer_status *status;
	size_t n_status;

	/* The requester's duty that sc_requester_free() carries (vss-model A8,
	 * A10): abort a backup that prepare_for_backup started, unless
	 * backup_complete or abort_backup ended it. */
	bool prepared;             /* a prepare_for_backup finished successfully */
	unsigned prepares_unknown; /* prepare_for_backups whose outcome we never saw */
	bool backup_ended;         /* backup_complete succeeded or abort_backup returned 0 */
};

/* The long operations; async.c maps each to its method and result handler. */
enum async_kind {
	ASYNC_GATHER_METADATA,
	ASYNC_GATHER_STATUS,
	ASYNC_PREPARE_FOR_BACKUP,
	ASYNC_DO_SNAPSHOT_SET,
	ASYNC_BACKUP_COMPLETE,
	_ASYNC_KIND_MAX
};

struct sc_async {
	struct sc_requester *requester;
	enum async_kind kind;
	int64_t id;
	int status; /* SC_ASYNC_PENDING, _FINISHED, _CANCELLED, or the error */
};

/* async.c */
int async_start(struct sc_requester *r, enum async_kind kind, struct sc_async **ret);

/* requester.c */
/* A quick call; @params is stolen (NULL: -ENOMEM); the result in
 * *@ret_result if non-NULL. */
int requester_call(struct sc_requester *r, const char *method, json_t *params,
		   json_t **ret_result);
/* json_pack() whose failure says why: -EINVAL (a NULL or non-UTF-8 string,
 * which the protocol cannot carry) or -ENOMEM. */
int requester_pack(json_t **ret, const char *fmt, ...);
/* The error a "failure" field names: 0 for "OK", -SC_E_UNEXPECTED for a
 * name this version does not know. */
int requester_failure(const char *name);
/* Result handlers of the long operations (async.c): called once with the
 * operation's @result and @error 0, or with its error (-SC_E_CANCELLED
 * included) and no result.  Return < 0 if the result is unusable. */
int requester_metadata_done(struct sc_requester *r, int error, json_t *result);
int requester_status_done(struct sc_requester *r, int error, json_t *result);

/* requester-backup.c */
int requester_backup_prepare_done(struct sc_requester *r, int error, json_t *result);
int requester_backup_complete_done(struct sc_requester *r, int error, json_t *result);
/* Whether sc_requester_free() must call abort_backup first. */
bool requester_backup_must_abort(const struct sc_requester *r);

/* writer-info.c */
int writer_info_new(json_t *doc, struct sc_writer_info **ret);
struct sc_writer_info *writer_info_free(struct sc_writer_info *wi);

/* snapshot-info.c */
/* A SNAPSHOT object, or an array of SNAPSHOT or PROVIDER objects
 * (protocol.md §6.3), into new infos. */
int snapshot_info_new(json_t *doc, struct sc_snapshot_info **ret);
int snapshot_info_array_new(json_t *a, struct sc_snapshot_info ***ret, size_t *ret_n);
int snapshot_info_provider_array_new(json_t *a, struct sc_provider_info ***ret, size_t *ret_n);

#endif
