/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * requester-internal.h - the insides of struct sc_requester and struct
 * sc_async, shared by requester.c (the calls and the results they keep),
 * async.c (waiting and cancelling) and writer-info.c (metadata documents).
 */
#ifndef SC_REQUESTER_INTERNAL_H
#define SC_REQUESTER_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include <shadowcopy/requester.h>

/* How long a quick call, and the connection with its hello, may take. */
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
};

enum async_kind {
	ASYNC_GATHER_METADATA,
	ASYNC_GATHER_STATUS,
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
int requester_take_metadata(struct sc_requester *r, json_t *result);
int requester_take_status(struct sc_requester *r, json_t *result);

/* writer-info.c */
int writer_info_new(json_t *doc, struct sc_writer_info **ret);
struct sc_writer_info *writer_info_free(struct sc_writer_info *wi);

#endif
