/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * client.c - one blocking connection to shadowcopyd: connect, hello, and
 * request/reply by id with deadlines (poll()).  Replies to other ids and events
 * that arrive meanwhile are queued for later, never dropped.  Knows no method
 * but hello; the requester role and the shadowcopy tool build on it.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <shadowcopy/types.h>

#include "cleanup.h"
#include "client.h"
#include "json-util.h"
#include "time-util.h"
#include "wire.h"

/* How long to retry a connect() refused for a full backlog. */
#define CONNECT_RETRY_USEC 10000u

struct client {
	int fd;
	struct wire wire;
	int64_t next_id;
	json_t *queue;       /* messages received but not claimed yet, oldest first */
	int64_t *forgotten;  /* ids whose replies are dropped on arrival */
	size_t n_forgotten;
	bool eof;
	char *message;       /* message of the last error reply */
};

int client_socket_connect(const char *path, int *ret_fd)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	_cleanup_close_ int fd = -1;
	size_t len = strlen(path);

	if (len == 0)
		return -EINVAL;
	if (len >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, len + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno;
	*ret_fd = TAKE_FD(fd);
	return 0;
}

json_t *client_hello_params(const char *role, const char *client_name)
{
	char version[32];
	json_t *params;

	snprintf(version, sizeof(version), "%d.%d", SC_PROTOCOL_MAJOR, SC_PROTOCOL_MINOR);
	params = json_pack("{s:s, s:s}", "version", version, "role", role);
	if (params && client_name && json_set(params, "client", json_string(client_name)) < 0)
		params = (json_decref(params), NULL);
	return params;
}

int client_hello_check(json_t *result)
{
	const char *version = NULL;
	char *end;
	unsigned long major;

	if (json_get_string(result, "version", true, &version) < 0)
		return -SC_E_INVALID_MESSAGE;
	errno = 0;
	major = strtoul(version, &end, 10);
	if (errno != 0 || end == version || *end != '.')
		return -SC_E_INVALID_MESSAGE;
	return major == SC_PROTOCOL_MAJOR ? 0 : -SC_E_PROTOCOL_VERSION;
}

struct client *client_free(struct client *c)
{
	if (!c)
		return NULL;
	if (c->fd >= 0)
		(void)close(c->fd); /* nothing to report: we are leaving */
	wire_done(&c->wire);
	json_decref(c->queue);
	free(c->forgotten);
	free(c->message);
	free(c);
	return NULL;
}

static void client_freep(struct client **c)
{
	client_free(*c);
}

static bool forgotten_take(struct client *c, int64_t id)
{
	for (size_t i = 0; i < c->n_forgotten; i++)
		if (c->forgotten[i] == id) {
			c->forgotten[i] = c->forgotten[--c->n_forgotten];
			return true;
		}
	return false;
}

/* Queue one received message; lines we cannot use are dropped: replies
 * without an id answer nothing we sent, and nobody waits for forgotten ids. */
static int queue_push(struct client *c, json_t *msg)
{
	struct wire_message m;

	if (wire_parse(msg, &m) < 0) {
		json_decref(msg);
		return 0;
	}
	if ((m.kind == WIRE_RESULT || m.kind == WIRE_ERROR) &&
	    (!m.has_id || forgotten_take(c, m.id))) {
		json_decref(msg);
		return 0;
	}
	return json_array_append_new(c->queue, msg) < 0 ? -ENOMEM : 0;
}

/* Read what the socket has and queue every complete message.  Returns 1 if
 * something was read, 0 if nothing was there, -errno. */
static int client_receive(struct client *c)
{
	json_t *msg;
	int r, n;

	n = wire_read(&c->wire);
	if (n == -EAGAIN)
		return 0;
	if (n < 0)
		return n;
	if (n == 0)
		c->eof = true;
	while ((r = wire_next(&c->wire, &msg)) != 0) {
		if (r == -SC_E_INVALID_MESSAGE)
			continue; /* the service never sends such lines; skip it */
		if (r < 0)
			return r;
		r = queue_push(c, msg);
		if (r < 0)
			return r;
	}
	return 1;
}

/* Remove the queued message that matches and return it (1), or 0. */
static int queue_take(struct client *c, bool reply, int64_t id, json_t **ret)
{
	struct wire_message m;
	json_t *msg;
	size_t i;

	json_array_foreach(c->queue, i, msg) {
		if (wire_parse(msg, &m) < 0)
			continue;
		if (reply != (m.kind == WIRE_RESULT || m.kind == WIRE_ERROR))
			continue;
		if (reply && m.id != id)
			continue;
		*ret = json_incref(msg);
		(void)json_array_remove(c->queue, i); /* i is in range */
		return 1;
	}
	return 0;
}

/* Write pending output and wait until the socket can be read (1), or until
 * @deadline_usec (-ETIMEDOUT). */
static int client_poll(struct client *c, uint64_t deadline_usec)
{
	struct pollfd p = { .fd = c->fd, .events = POLLIN };
	int r;

	r = wire_flush(&c->wire);
	if (r < 0)
		return r;
	if (r > 0)
		p.events |= POLLOUT;
	r = poll(&p, 1, time_poll_ms(deadline_usec));
	if (r < 0)
		return errno == EINTR ? 0 : -errno;
	return r == 0 ? -ETIMEDOUT : 1;
}

static int reply_decode(struct client *c, json_t *msg, json_t **ret_result, char **ret_message)
{
	_cleanup_json_ json_t *m = msg;
	struct wire_message w;
	const char *text = NULL;
	int r;

	(void)wire_parse(m, &w); /* checked when queued */
	free(c->message);
	c->message = NULL;
	if (w.kind == WIRE_RESULT) {
		*ret_result = json_incref(w.body);
		return 0;
	}
	r = wire_error_decode(w.body, &text);
	c->message = text ? strdup(text) : NULL;
	if (ret_message)
		*ret_message = c->message;
	return r;
}

static int wait_until(struct client *c, int64_t id, uint64_t deadline_usec, json_t **ret_result,
		      char **ret_message)
{
	json_t *msg;
	int r;

	for (;;) {
		if (queue_take(c, true, id, &msg) > 0)
			return reply_decode(c, msg, ret_result, ret_message);
		if (c->eof)
			return -ECONNRESET;
		r = client_receive(c);
		if (r == 0)
			r = client_poll(c, deadline_usec);
		if (r < 0)
			return r;
	}
}

int client_send(struct client *c, const char *method, json_t *params, int64_t *ret_id)
{
	_cleanup_json_ json_t *msg = NULL;
	int64_t id = c->next_id;
	int r;

	/* The message belongs to the answer of one request: forget the last one. */
	free(c->message);
	c->message = NULL;
	msg = wire_request(id, method, params);
	if (!msg)
		return -ENOMEM;
	r = wire_queue(&c->wire, msg);
	if (r < 0)
		return r;
	r = wire_flush(&c->wire); /* the rest, if any, goes out while waiting */
	if (r < 0)
		return r;
	c->next_id++;
	*ret_id = id;
	return 0;
}

int client_wait(struct client *c, int64_t id, uint64_t timeout_usec, json_t **ret_result,
		char **ret_message)
{
	return wait_until(c, id, time_deadline_usec(timeout_usec), ret_result, ret_message);
}

int client_call(struct client *c, const char *method, json_t *params, uint64_t timeout_usec,
		json_t **ret_result, char **ret_message)
{
	uint64_t deadline_usec = time_deadline_usec(timeout_usec);
	int64_t id;
	int r;

	r = client_send(c, method, params, &id);
	if (r < 0)
		return r;
	return wait_until(c, id, deadline_usec, ret_result, ret_message);
}

const char *client_last_error_message(const struct client *c)
{
	return c->message;
}

int client_forget(struct client *c, int64_t id)
{
	_cleanup_json_ json_t *msg = NULL;
	int64_t *a;

	if (queue_take(c, true, id, &msg) > 0)
		return 0;
	a = realloc(c->forgotten, (c->n_forgotten + 1) * sizeof(*a));
	if (!a)
		return -ENOMEM;
	a[c->n_forgotten++] = id;
	c->forgotten = a;
	return 0;
}

int client_next_event(struct client *c, json_t **ret)
{
	return queue_take(c, false, 0, ret);
}

/* connect() until it works, fails for good, or @deadline_usec passes: a full
 * backlog (EAGAIN) is the only reason to try again. */
static int connect_until(const char *path, uint64_t deadline_usec, int *ret_fd)
{
	int r;

	for (;;) {
		r = client_socket_connect(path, ret_fd);
		if (r != -EAGAIN)
			return r;
		if (time_now_usec() + CONNECT_RETRY_USEC > deadline_usec)
			return -ETIMEDOUT;
		(void)poll(NULL, 0, CONNECT_RETRY_USEC / 1000); /* a sleep; EINTR is fine */
	}
}

int client_connect(const char *path, const char *role, const char *client_name,
		   uint64_t timeout_usec, struct client **ret)
{
	uint64_t deadline_usec = time_deadline_usec(timeout_usec);
	_cleanup_(client_freep) struct client *c = NULL;
	_cleanup_json_ json_t *result = NULL;
	json_t *params;
	int64_t id;
	int r;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->fd = -1;
	wire_init(&c->wire, -1);
	c->queue = json_array();
	if (!c->queue)
		return -ENOMEM;
	r = connect_until(path, deadline_usec, &c->fd);
	if (r < 0)
		return r;
	c->wire.fd = c->fd;
	params = client_hello_params(role, client_name);
	if (!params)
		return -ENOMEM;
	r = client_send(c, "hello", params, &id);
	if (r < 0)
		return r;
	r = wait_until(c, id, deadline_usec, &result, NULL);
	if (r < 0)
		return r;
	r = client_hello_check(result);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(c);
	return 0;
}
