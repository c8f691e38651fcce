/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * writer-link.c - the writer's connection to the service: a non-blocking
 * connect, hello and subscribe as a small state machine, input and output
 * through struct wire, and reconnection with backoff when the link drops.
 * What events mean is writer-dispatch.c's business, not this file's.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <syslog.h>
#include <unistd.h>

#include "cleanup.h"
#include "client.h"
#include "json-util.h"
#include "time-util.h"
#include "writer-internal.h"

static const char *link_socket_path(const struct sc_writer *w)
{
	const char *p;

	if (w->socket_path)
		return w->socket_path;
	p = secure_getenv("SHADOWCOPY_WRITER_SOCKET");
	if (p && p[0])
		return p;
	p = secure_getenv("SHADOWCOPY_SOCKET");
	if (p && p[0])
		return p;
	return SC_DEFAULT_WRITER_SOCKET;
}

static int epoll_want_output(struct sc_writer *w, bool want)
{
	struct epoll_event e = { .events = EPOLLIN | (want ? EPOLLOUT : 0), .data.fd = w->fd };

	if (want == w->want_output)
		return 0;
	if (epoll_ctl(w->epoll_fd, EPOLL_CTL_MOD, w->fd, &e) < 0)
		return -errno;
	w->want_output = want;
	return 0;
}

void writer_link_close(struct sc_writer *w)
{
	if (w->fd >= 0) {
		/* close() alone would leave the epoll entry if the fd were shared */
		(void)epoll_ctl(w->epoll_fd, EPOLL_CTL_DEL, w->fd, NULL);
		(void)close(w->fd);
	}
	w->fd = -1;
	wire_done(&w->wire);
	w->want_output = false;
	w->link = WRITER_LINK_DOWN;
	w->link_deadline_usec = UINT64_MAX;
}

/* The link failed or was refused: close it, end the backups under way (nobody
 * will thaw us now, nor send Abort or BackupShutdown), and try again later if
 * the application is subscribed. */
static void link_fail(struct sc_writer *w, int error)
{
	bool was_up = w->link == WRITER_LINK_UP;

	w->link_error = error;
	writer_link_close(w);
	if (was_up)
		writer_log(w, LOG_WARNING, "Lost the connection to the service: %s",
			   sc_strerror(error));
	writer_session_end_all(w);
	if (!w->subscribed)
		return;
	writer_log(w, LOG_DEBUG, "Connecting again in %llu ms (%s)",
		   (unsigned long long)(w->backoff_usec / 1000), sc_strerror(error));
	w->link_deadline_usec = time_deadline_usec(w->backoff_usec);
	w->backoff_usec *= 2;
	if (w->backoff_usec > WRITER_BACKOFF_MAX_USEC)
		w->backoff_usec = WRITER_BACKOFF_MAX_USEC;
}

/* Queue @msg and write what the socket takes now; the rest goes out when
 * epoll says the socket is writable.  A failed write fails the link and is
 * not an error here: reconnection takes over. */
int writer_link_send(struct sc_writer *w, json_t *msg)
{
	int r;

	if (w->fd < 0)
		return 0;
	r = wire_queue(&w->wire, msg);
	if (r < 0)
		return r;
	r = wire_flush(&w->wire);
	if (r >= 0)
		r = epoll_want_output(w, r > 0);
	if (r < 0)
		link_fail(w, r);
	return 0;
}

/* Send a handshake request; @params is stolen. */
static int link_request(struct sc_writer *w, const char *method, json_t *params)
{
	_cleanup_json_ json_t *msg = NULL;

	if (!params)
		return -ENOMEM;
	msg = wire_request(w->next_id, method, params);
	if (!msg)
		return -ENOMEM;
	w->handshake_id = w->next_id++;
	return writer_link_send(w, msg);
}

static json_t *subscribe_params(const struct sc_writer *w)
{
	json_t *p;

	p = json_pack("{s:o, s:o, s:s, s:i, s:i, s:i, s:I}", "class_id", json_id(&w->class_id),
		      "instance_id", json_id(&w->instance_id), "name", w->name, "usage_type",
		      (int)w->usage, "source_type", (int)w->source, "level", (int)w->level,
		      "freeze_timeout_ms", (json_int_t)w->freeze_timeout_ms);
	if (p && w->instance_name && json_set(p, "instance_name", json_string(w->instance_name)) < 0)
		p = (json_decref(p), NULL);
	return p;
}

int writer_link_start(struct sc_writer *w)
{
	struct epoll_event e = { .events = EPOLLIN };
	int fd, r;

	r = client_socket_connect(link_socket_path(w), &fd);
	if (r < 0)
		return r;
	e.data.fd = fd;
	if (epoll_ctl(w->epoll_fd, EPOLL_CTL_ADD, fd, &e) < 0) {
		r = -errno;
		(void)close(fd);
		return r;
	}
	w->fd = fd;
	wire_init(&w->wire, fd);
	w->link = WRITER_LINK_HELLO;
	w->link_deadline_usec = time_deadline_usec(WRITER_HANDSHAKE_USEC);
	r = link_request(w, "hello", client_hello_params("writer", w->name));
	if (r < 0) {
		writer_link_close(w);
		return r;
	}
	return 0;
}

/* A reply to hello or subscribe moves the handshake on; other replies are
 * late answers to a handshake we gave up on. */
static int link_handshake_reply(struct sc_writer *w, const struct wire_message *m)
{
	const char *text = NULL;
	int r = 0;

	if (w->link == WRITER_LINK_UP || m->id != w->handshake_id)
		return 0;
	if (m->kind == WIRE_ERROR)
		r = wire_error_decode(m->body, &text);
	else if (w->link == WRITER_LINK_HELLO)
		r = client_hello_check(m->body);
	if (r >= 0 && w->link == WRITER_LINK_HELLO) {
		/* set first: a failed send fails the link, which must stay down */
		w->link = WRITER_LINK_SUBSCRIBING;
		r = link_request(w, "subscribe", subscribe_params(w));
		if (r >= 0)
			return 0;
	}
	if (r < 0) {
		writer_log(w, w->subscribed ? LOG_WARNING : LOG_DEBUG, "The service refused %s: %s",
			   w->link == WRITER_LINK_HELLO ? "hello" : "subscribe",
			   text ? text : sc_strerror(r));
		link_fail(w, r);
		return 0;
	}
	if (w->subscribed)
		writer_log(w, LOG_INFO, "Subscribed again after a reconnection");
	w->link = WRITER_LINK_UP;
	w->link_deadline_usec = UINT64_MAX;
	w->backoff_usec = WRITER_BACKOFF_MIN_USEC;
	return 0;
}

static int link_reply_error(struct sc_writer *w, int64_t id, int error, const char *text)
{
	_cleanup_json_ json_t *msg = wire_error(true, id, error, "%s", text);

	return msg ? writer_link_send(w, msg) : -ENOMEM;
}

static int link_message(struct sc_writer *w, json_t *msg)
{
	struct wire_message m;

	if (wire_parse(msg, &m) < 0) {
		writer_log(w, LOG_DEBUG, "Ignoring a malformed message from the service");
		return 0;
	}
	switch (m.kind) {
	case WIRE_RESULT:
	case WIRE_ERROR:
		return link_handshake_reply(w, &m);
	case WIRE_EVENT:
		if (w->link != WRITER_LINK_UP)
			return link_reply_error(w, m.id, -SC_E_BAD_STATE, "Not subscribed");
		return writer_dispatch(w, &m);
	case WIRE_REQUEST:
		return link_reply_error(w, m.id, -SC_E_UNKNOWN_METHOD, "A writer serves no methods");
	}
	return 0;
}

/* Handle the complete messages in the input buffer; with @stop_when_up,
 * stop once subscribed so that events wait for sc_writer_process(). */
static int link_messages(struct sc_writer *w, bool stop_when_up)
{
	json_t *msg;
	int r, did = 0;

	while (w->fd >= 0 && !(stop_when_up && w->link == WRITER_LINK_UP)) {
		r = wire_next(&w->wire, &msg);
		if (r == 0)
			break;
		did = 1;
		if (r == -SC_E_INVALID_MESSAGE) {
			writer_log(w, LOG_DEBUG, "Ignoring a line from the service that is not JSON");
			continue;
		}
		if (r < 0) {
			link_fail(w, r);
			break;
		}
		r = link_message(w, msg);
		json_decref(msg);
		if (r < 0)
			return r;
	}
	return did;
}

bool writer_link_has_input(const struct sc_writer *w)
{
	return w->fd >= 0 && w->wire.in_len > w->wire.in_scanned &&
	       memchr(w->wire.in + w->wire.in_scanned, '\n', w->wire.in_len - w->wire.in_scanned);
}

/* Read, handle what came, write what is pending.  Messages that arrived
 * before an end of file are handled before the link is failed. */
static int link_io(struct sc_writer *w, bool stop_when_up)
{
	int n, r;

	n = wire_read(&w->wire);
	r = link_messages(w, stop_when_up);
	if (r < 0)
		return r;
	if (w->fd < 0)
		return 1;
	if (n == 0 || (n < 0 && n != -EAGAIN)) {
		link_fail(w, n == 0 ? -ECONNRESET : n);
		return 1;
	}
	if (wire_has_output(&w->wire)) {
		int f = wire_flush(&w->wire);

		f = f < 0 ? f : epoll_want_output(w, f > 0);
		if (f < 0)
			link_fail(w, f);
	}
	return n > 0 || r > 0;
}

int writer_link_process(struct sc_writer *w, bool stop_when_up)
{
	int r;

	if (w->link_deadline_usec <= time_now_usec()) {
		if (w->link != WRITER_LINK_DOWN) {
			link_fail(w, -ETIMEDOUT); /* the handshake took too long */
			return 1;
		}
		r = writer_link_start(w);
		if (r < 0) {
			link_fail(w, r);
			return 1;
		}
	}
	if (w->fd < 0)
		return 0;
	return link_io(w, stop_when_up);
}

static int link_poll(struct sc_writer *w, uint64_t deadline_usec)
{
	struct pollfd p = { .fd = w->fd, .events = POLLIN };

	if (wire_has_output(&w->wire))
		p.events |= POLLOUT;
	if (poll(&p, 1, time_poll_ms(deadline_usec)) < 0 && errno != EINTR)
		return -errno;
	return 0;
}

int writer_link_subscribe(struct sc_writer *w)
{
	int r;

	r = writer_link_start(w);
	if (r < 0)
		return r;
	while (w->link != WRITER_LINK_UP) {
		if (w->link == WRITER_LINK_DOWN)
			return w->link_error;
		r = link_poll(w, w->link_deadline_usec);
		if (r >= 0)
			r = writer_link_process(w, true);
		if (r < 0) {
			writer_link_close(w);
			return r;
		}
	}
	return 0;
}

/* Wait for the reply to request @id, skipping everything else: events that
 * come now go unanswered, as the connection closes right after. */
static void link_wait_reply(struct sc_writer *w, int64_t id, uint64_t deadline_usec)
{
	struct wire_message m;
	json_t *msg;
	int r, n;

	while (time_now_usec() < deadline_usec) {
		if (link_poll(w, deadline_usec) < 0 || wire_flush(&w->wire) < 0)
			return;
		n = wire_read(&w->wire);
		if (n == 0 || (n < 0 && n != -EAGAIN))
			return;
		while ((r = wire_next(&w->wire, &msg)) != 0) {
			if (r == -SC_E_INVALID_MESSAGE)
				continue;
			if (r < 0)
				return;
			r = wire_parse(msg, &m) >= 0 && m.has_id && m.id == id &&
			    (m.kind == WIRE_RESULT || m.kind == WIRE_ERROR);
			json_decref(msg);
			if (r)
				return;
		}
	}
}

int writer_link_unsubscribe(struct sc_writer *w)
{
	_cleanup_json_ json_t *msg = NULL;
	int64_t id = w->next_id;
	int r = 0;

	/* Closing alone would unsubscribe too, but waiting for the answer
	 * means the registry has forgotten us when this returns. */
	if (w->link == WRITER_LINK_UP) {
		msg = wire_request(id, "unsubscribe", NULL);
		r = msg ? wire_queue(&w->wire, msg) : -ENOMEM;
		w->next_id++;
		if (r >= 0)
			link_wait_reply(w, id, time_deadline_usec(WRITER_UNSUBSCRIBE_USEC));
	}
	writer_link_close(w);
	writer_session_end_all(w);
	w->backoff_usec = WRITER_BACKOFF_MIN_USEC;
	return r;
}
