/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * async.c - struct sc_async (VSS's IVssAsync): a long operation is the id of
 * its request; waiting is waiting for the reply with that id, cancelling is
 * the protocol's "cancel" (docs/protocol.md §5).  What a reply means is the
 * business of the operation's result handler, never of this file.
 */
#include <errno.h>
#include <stdlib.h>

#include "cleanup.h"
#include "client.h"
#include "requester-internal.h"

struct async_op {
	const char *method;
	int (*done)(struct sc_requester *r, int error, json_t *result);
};

static const struct async_op async_ops[_ASYNC_KIND_MAX] = {
	[ASYNC_GATHER_METADATA] = { "gather_writer_metadata", requester_metadata_done },
	[ASYNC_GATHER_STATUS] = { "gather_writer_status", requester_status_done },
	[ASYNC_PREPARE_FOR_BACKUP] = { "prepare_for_backup", requester_backup_prepare_done },
	[ASYNC_DO_SNAPSHOT_SET] = { "do_snapshot_set", NULL },
	[ASYNC_BACKUP_COMPLETE] = { "backup_complete", requester_backup_complete_done },
};

int async_start(struct sc_requester *r, enum async_kind kind, struct sc_async **ret)
{
	struct sc_async *a;
	int64_t id;
	int k;

	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	k = client_send(r->client, async_ops[kind].method, NULL, &id);
	if (k < 0) {
		free(a);
		return k;
	}
	*a = (struct sc_async){
		.requester = r, .kind = kind, .id = id, .status = SC_ASYNC_PENDING
	};
	*ret = a;
	return 0;
}

/* The operation ended: @error 0 with its @result, or its error.  Tell its
 * handler once, and keep the status every later wait returns. */
static int async_finish(struct sc_async *a, int error, json_t *result)
{
	const struct async_op *op = &async_ops[a->kind];
	int k = 0;

	if (op->done)
		k = op->done(a->requester, error, result);
	if (error == -SC_E_CANCELLED)
		a->status = SC_ASYNC_CANCELLED;
	else if (error < 0)
		a->status = error;
	else
		a->status = k < 0 ? k : SC_ASYNC_FINISHED;
	return a->status;
}

SC_EXPORT int sc_async_wait(struct sc_async *a, uint64_t timeout_usec)
{
	_cleanup_json_ json_t *result = NULL;
	int r;

	if (!a)
		return -EINVAL;
	if (a->status != SC_ASYNC_PENDING)
		return a->status;
	r = client_wait(a->requester->client, a->id, timeout_usec, &result, NULL);
	if (r == -ETIMEDOUT)
		return SC_ASYNC_PENDING; /* the operation goes on (T62) */
	return async_finish(a, r, result);
}

SC_EXPORT int sc_async_query_status(struct sc_async *a)
{
	return sc_async_wait(a, 0);
}

SC_EXPORT int sc_async_cancel(struct sc_async *a)
{
	_cleanup_json_ json_t *result = NULL;
	json_t *params;
	int r;

	if (!a)
		return -EINVAL;
	/* A reply that has come already decides (T61). */
	r = sc_async_wait(a, 0);
	if (r != SC_ASYNC_PENDING)
		return r;
	params = json_pack("{s:I}", "request", (json_int_t)a->id);
	if (!params)
		return -ENOMEM;
	r = client_call(a->requester->client, "cancel", params, REQUESTER_CALL_USEC, &result, NULL);
	if (r == -SC_E_OBJECT_NOT_FOUND) /* it finished meanwhile: its reply is on its way */
		return sc_async_wait(a, REQUESTER_CALL_USEC);
	if (r < 0)
		return r;
	/* The operation's own reply will be CANCELLED: nobody needs it. */
	r = client_forget(a->requester->client, a->id);
	if (r < 0)
		return r;
	(void)async_finish(a, -SC_E_CANCELLED, NULL);
	return 0;
}

SC_EXPORT struct sc_async *sc_async_free(struct sc_async *a)
{
	if (!a)
		return NULL;
	if (a->status == SC_ASYNC_PENDING)
		(void)client_forget(a->requester->client, a->id); /* ENOMEM: it stays queued */
	free(a);
	return NULL;
}
