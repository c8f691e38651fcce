/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * operation.c - long operations (protocol.md §5): the replies a connection is
 * still owed, and the "cancel" method.  The work itself belongs to whoever
 * started the operation (a session, a writer listing); this file only ties
 * its reply to the request and tells the owner when to stop.
 */
#include <errno.h>
#include <stdlib.h>

#include "daemon.h"
#include "json-util.h"

/* Long operations one connection may have running.  Each may hold a worker
 * thread (a delete) or an Identify fan-out (a listing with metadata), so a
 * peer must not be able to start them without end; a backup needs one. */
#define OPERATIONS_PER_CONNECTION_MAX 64

int operation_new(struct connection *c, int64_t request_id, operation_cancel_fn cancel,
		  void *userdata, struct operation **ret)
{
	struct operation *op;
	size_t n = 0;

	TAILQ_FOREACH(op, &c->operations, entry)
		if (++n >= OPERATIONS_PER_CONNECTION_MAX)
			return -EAGAIN; /* try again once some have ended */
	op = calloc(1, sizeof(*op));
	if (!op)
		return -ENOMEM;
	*op = (struct operation){
		.conn = c,
		.request_id = request_id,
		.cancel = cancel,
		.userdata = userdata,
	};
	TAILQ_INSERT_TAIL(&c->operations, op, entry);
	*ret = op;
	return 0;
}

void operation_abandon(struct operation *op)
{
	TAILQ_REMOVE(&op->conn->operations, op, entry);
	free(op);
}

void operation_reply(struct operation *op, json_t *result)
{
	connection_reply(op->conn, op->request_id, result);
	operation_abandon(op);
}

void operation_fail(struct operation *op, int error)
{
	operation_fail_reason(op, error, NULL);
}

void operation_fail_reason(struct operation *op, int error, const char *reason)
{
	if (reason)
		connection_reply_error(op->conn, true, op->request_id, error, "%s: %s",
				       sc_strerror(error), reason);
	else
		connection_reply_error(op->conn, true, op->request_id, error, "%s",
				       sc_strerror(error));
	operation_abandon(op);
}

void operation_abandon_all(struct connection *c)
{
	struct operation *op;

	while ((op = TAILQ_FIRST(&c->operations))) {
		TAILQ_REMOVE(&c->operations, op, entry);
		op->cancel(op->userdata);
		free(op);
	}
}

int operation_handle_cancel(struct connection *c, const struct wire_message *m)
{
	struct operation *op;
	int64_t request;
	int r;

	r = json_get_int(m->body, "request", true, 0, INT64_MAX, &request);
	if (r < 0)
		return r;
	TAILQ_FOREACH(op, &c->operations, entry)
		if (op->request_id == request)
			break;
	if (!op) {
		connection_reply_error(c, true, m->id, -SC_E_OBJECT_NOT_FOUND,
				       "No operation of request %lld is running",
				       (long long)request);
		return 0;
	}
	/* The reply to cancel first, then the operation's own (protocol.md §5). */
	connection_reply(c, m->id, json_pack("{s:b}", "cancelled", 1));
	TAILQ_REMOVE(&c->operations, op, entry);
	op->cancel(op->userdata);
	connection_reply_error(c, true, op->request_id, -SC_E_CANCELLED,
			       "Cancelled by request %lld", (long long)m->id);
	free(op);
	return 0;
}
