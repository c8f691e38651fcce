/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * async.c - struct sc_async (VSS's IVssAsync): a long operation is the id of
 * its request; waiting is waiting for the reply with that id, cancelling is
 * the protocol's "cancel" (docs/protocol.md §5).  What a result means is
 * requester.c's business.
 */
#include <errno.h>
#include <stdlib.h>

#include "cleanup.h"
#include "client.h"
#include "requester-internal.h"

static const char *const async_methods[] = {
	[ASYNC_GATHER_METADATA] = "gather_writer_metadata",
	[ASYNC_GATHER_STATUS] = "gather_writer_status",
};

int async_start(struct sc_requester *r, enum async_kind kind, struct sc_async **ret)
{
	struct sc_async *a;
	int64_t id;
	int k;

	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	k = client_send(r->client, async_methods[kind], NULL, &id);
	if (k < 0) {
		free(a);
		return k;
	}
	*a = (struct sc_async){ .requester = r, .kind = kind, .id = id, .status = SC_ASYNC_PENDING };
	*ret = a;
	return 0;
}

static int async_finish(struct sc_async *a, json_t *result)
{
	int r;

	if (a->kind == ASYNC_GATHER_METADATA)
		r = requester_take_metadata(a->requester, result);
	else
		r = requester_take_status(a->requester, result);
	return r < 0 ? r : SC_ASYNC_FINISHED;
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
	if (r == -SC_E_CANCELLED)
		r = SC_ASYNC_CANCELLED;
	else if (r >= 0)
		r = async_finish(a, result);
	a->status = r;
	return r;
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
	a->status = SC_ASYNC_CANCELLED;
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
