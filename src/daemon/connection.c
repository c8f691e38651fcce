/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * connection.c - one peer: reading and writing its lines (struct wire), the
 * hello handshake and its deadline, and dispatching requests to the file
 * that implements the method.  It knows no method beyond hello, and only this
 * file's own event handlers ever free a connection.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <systemd/sd-event.h>

#include "cleanup.h"
#include "daemon.h"
#include "json-util.h"
#include "log.h"

#define CLIENT_NAME_MAX 64

/* Every connection reads through this one buffer (the loop reads one at a
 * time), so an idle peer costs no input buffer: with a thousand writers
 * connected, per-connection 64 KiB buffers were most of the service's RSS. */
static char read_scratch[WIRE_READ_CHUNK];

static const char *const role_names[_CONNECTION_ROLE_MAX] = {
	[CONNECTION_NONE] = "client",
	[CONNECTION_WRITER] = "writer",
	[CONNECTION_REQUESTER] = "requester",
	[CONNECTION_ADMIN] = "admin",
};

#define ROLE(r) (1u << (r))
#define WRITER ROLE(CONNECTION_WRITER)
#define REQUESTER ROLE(CONNECTION_REQUESTER)
#define ADMIN ROLE(CONNECTION_ADMIN)

static const struct method {
	const char *name;
	unsigned roles;
	int (*handler)(struct connection *c, const struct wire_message *m);
} methods[] = {
	{ "subscribe", WRITER, registry_subscribe },
	{ "unsubscribe", WRITER, registry_unsubscribe },
	{ "initialize_for_backup", REQUESTER, session_initialize_for_backup },
	{ "initialize_for_restore", REQUESTER, session_initialize_for_restore },
	{ "set_context", REQUESTER, session_set_context },
	{ "set_backup_state", REQUESTER, session_set_backup_state },
	{ "enable_writer_classes", REQUESTER, session_enable_writer_classes },
	{ "disable_writer_classes", REQUESTER, session_disable_writer_classes },
	{ "disable_writer_instances", REQUESTER, session_disable_writer_instances },
	{ "gather_writer_metadata", REQUESTER, session_gather_writer_metadata },
	{ "gather_writer_status", REQUESTER, session_gather_writer_status },
	{ "add_component", REQUESTER, components_add },
	{ "start_snapshot_set", REQUESTER, snapshot_set_start },
	{ "add_to_snapshot_set", REQUESTER, snapshot_set_add },
	{ "prepare_for_backup", REQUESTER, backup_prepare_for_backup },
	{ "do_snapshot_set", REQUESTER, coordinator_do_snapshot_set },
	{ "set_backup_succeeded", REQUESTER, components_set_backup_succeeded },
	{ "backup_complete", REQUESTER, backup_complete },
	{ "abort_backup", REQUESTER, abort_backup },
	{ "get_snapshot_properties", REQUESTER, snapshots_get_properties },
	{ "query", REQUESTER, snapshots_query },
	{ "save_document", REQUESTER, components_save_document },
	{ "delete_snapshots", REQUESTER | ADMIN, snapshots_delete },
	{ "cancel", REQUESTER | ADMIN, operation_handle_cancel },
	{ "list_writers", REQUESTER | ADMIN, admin_list_writers },
	{ "list_snapshots", REQUESTER | ADMIN, snapshots_list },
	{ "list_providers", REQUESTER | ADMIN, snapshots_list_providers },
};

const char *connection_describe(const struct connection *c)
{
	static char buf[128];

	snprintf(buf, sizeof(buf), "%s (uid %u, pid %d%s%s)", role_names[c->role],
		 (unsigned)c->peer.uid, (int)c->peer.pid, c->client ? ", " : "",
		 c->client ? c->client : "");
	return buf;
}

static int connection_on_closer(sd_event_source *s, void *userdata)
{
	connection_free(userdata);
	return 0;
}

/* Called from other connections' handlers: freeing now could pull the rug
 * from under them, so the event loop does it. */
static void connection_close_later(struct connection *c)
{
	int r;

	c->dead = true;
	if (c->closer)
		return;
	r = sd_event_add_defer(c->daemon->event, &c->closer, connection_on_closer, c);
	if (r < 0) /* its next I/O event, at the latest the hangup, frees it */
		log_error_errno(r, "Failed to schedule closing %s", connection_describe(c));
}

/* Edge-triggered: sd-event dispatches one source per loop iteration, and
 * with level-triggered sockets every iteration's epoll_wait() polled again
 * every socket that was still readable or writable: when a thousand writers
 * answered an event, that was a million socket polls.  So every wake-up must
 * be used up: the reader empties the socket (or re-arms, connection_read()),
 * and EPOLLOUT is watched only while output waits after an EAGAIN.
 * @rearm forces the epoll_ctl() that re-checks the socket (sd-event never
 * skips an edge-triggered update); otherwise it is made only on a change. */
static void connection_update_io(struct connection *c, bool rearm)
{
	uint32_t events = EPOLLET, current = 0;
	int r;

	if (!c->draining)
		events |= EPOLLIN | EPOLLRDHUP;
	if (wire_has_output(&c->wire))
		events |= EPOLLOUT;
	r = sd_event_source_get_io_events(c->io, &current);
	if (r >= 0 && current == events && !rearm)
		return;
	r = sd_event_source_set_io_events(c->io, events);
	if (r < 0) {
		log_warning_errno(r, "Failed to watch %s, closing", connection_describe(c));
		connection_close_later(c);
	}
}

int connection_send(struct connection *c, json_t *msg)
{
	int r;

	if (!msg)
		return -ENOMEM;
	if (c->dead || c->draining) {
		json_decref(msg);
		return -ENOTCONN;
	}
	r = wire_queue(&c->wire, msg);
	json_decref(msg);
	if (r < 0)
		return r;
	if (c->wire.out_len - c->wire.out_off > CONNECTION_OUTPUT_MAX) {
		log_warning("%s does not read its replies, closing", connection_describe(c));
		connection_close_later(c);
		return -ENOBUFS;
	}
	/* Write now rather than on the next EPOLLOUT: a fan-out to a
	 * thousand writers would otherwise take a thousand loop iterations. */
	r = wire_flush(&c->wire);
	if (r < 0) {
		log_debug_errno(r, "Failed to write to %s", connection_describe(c));
		connection_close_later(c); /* the message is lost with the peer */
		return 0;
	}
	connection_update_io(c, false);
	return 0;
}

void connection_reply(struct connection *c, int64_t id, json_t *result)
{
	int r;

	if (!result) {
		connection_reply_error(c, true, id, -ENOMEM, "Out of memory");
		return;
	}
	r = connection_send(c, wire_result(true, id, result));
	if (r == -SC_E_MESSAGE_TOO_LARGE || r == -ENOMEM)
		connection_reply_error(c, true, id, -SC_E_UNEXPECTED,
				       "Failed to send the reply: %s", sc_strerror(r));
}

void connection_reply_error(struct connection *c, bool has_id, int64_t id, int error,
			    const char *fmt, ...)
{
	char message[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	(void)connection_send(c, wire_error(has_id, id, error, "%s", message));
}

static void connection_drop_roles(struct connection *c)
{
	/* Operations first: cancelling them is what the session's end
	 * builds on (a running do_snapshot_set is aborted). */
	operation_abandon_all(c);
	session_end(TAKE_PTR(c->session));
	if (c->writer)
		registry_remove(c->writer);
}

/* Stop reading, end the roles at once, and close when the last replies are
 * out (or after CONNECTION_DRAIN_USEC). */
static void connection_shutdown(struct connection *c)
{
	int r;

	if (c->draining)
		return;
	c->draining = true; /* first: nothing the ending roles cause is queued */
	connection_drop_roles(c);
	r = sd_event_source_set_time_relative(c->timer, CONNECTION_DRAIN_USEC);
	if (r >= 0)
		r = sd_event_source_set_enabled(c->timer, SD_EVENT_ONESHOT);
	if (r < 0) {
		log_warning_errno(r, "Failed to arm the drain timer of %s", connection_describe(c));
		connection_close_later(c);
		return;
	}
	connection_update_io(c, false);
}

static void connection_refuse(struct connection *c, const struct wire_message *m, int error,
			      const char *why)
{
	log_notice("Refusing %s: %s", connection_describe(c), why);
	connection_reply_error(c, true, m->id, error, "%s", why);
	connection_shutdown(c);
}

static int parse_version(const char *s, unsigned long *ret_major)
{
	unsigned long major;
	char *end;

	if (!isdigit((unsigned char)s[0]))
		return -EINVAL;
	errno = 0;
	major = strtoul(s, &end, 10);
	if (errno != 0 || *end != '.' || !isdigit((unsigned char)end[1]))
		return -EINVAL;
	(void)strtoul(end + 1, &end, 10); /* any minor is accepted */
	if (errno != 0 || *end != '\0')
		return -EINVAL;
	*ret_major = major;
	return 0;
}

static int role_from_name(const char *name)
{
	for (int r = CONNECTION_WRITER; r < _CONNECTION_ROLE_MAX; r++)
		if (strcmp(role_names[r], name) == 0)
			return r;
	return -EINVAL;
}

/* The client's name as logs may show it: short and printable. */
static char *client_name(const char *s)
{
	size_t n = strnlen(s, CLIENT_NAME_MAX);
	char *p = strndup(s, n);

	for (size_t i = 0; p && i < n; i++)
		if (!isprint((unsigned char)p[i]))
			p[i] = '?';
	return p;
}

static int connection_start_role(struct connection *c, const struct wire_message *m, int role,
				 const char *client)
{
	char version[32];
	int r;

	if (client && !(c->client = client_name(client)))
		return -ENOMEM;
	if (role == CONNECTION_REQUESTER && (r = session_new(c, &c->session)) < 0)
		return r;
	c->role = role;
	(void)sd_event_source_set_enabled(c->timer, SD_EVENT_OFF); /* cannot fail for OFF */
	snprintf(version, sizeof(version), "%d.%d", SC_PROTOCOL_MAJOR, SC_PROTOCOL_MINOR);
	connection_reply(c, m->id,
			 json_pack("{s:s, s:s+, s:I, s:I}", "version", version, "server",
				   "shadowcopyd ", sc_version(), "uid", (json_int_t)c->peer.uid,
				   "pid", (json_int_t)c->peer.pid));
	log_info("Hello from %s", connection_describe(c));
	return 0;
}

static int connection_hello(struct connection *c, const struct wire_message *m)
{
	const char *version, *role_name, *client = NULL;
	unsigned long major;
	int role, r;

	if (c->role != CONNECTION_NONE) {
		connection_reply_error(c, true, m->id, -SC_E_BAD_STATE, "hello was already done");
		return 0;
	}
	if ((r = json_get_string(m->body, "version", true, &version)) < 0 ||
	    (r = json_get_string(m->body, "role", true, &role_name)) < 0 ||
	    (r = json_get_string(m->body, "client", false, &client)) < 0)
		return r;
	if (parse_version(version, &major) < 0) {
		connection_reply_error(c, true, m->id, -SC_E_INVALID_MESSAGE,
				       "version must be \"MAJOR.MINOR\"");
		return 0;
	}
	if (major != SC_PROTOCOL_MAJOR) {
		connection_refuse(c, m, -SC_E_PROTOCOL_VERSION, "this service speaks protocol 1.x");
		return 0;
	}
	role = role_from_name(role_name);
	if (role < 0) {
		connection_reply_error(c, true, m->id, -SC_E_INVALID_MESSAGE,
				       "role must be writer, requester or admin");
		return 0;
	}
	if (c->peer.writer_only && role != CONNECTION_WRITER)
		connection_refuse(c, m, -SC_E_ACCESS_DENIED,
				  "the writer socket accepts only writers");
	else if (role != CONNECTION_WRITER && !c->peer.privileged)
		connection_refuse(c, m, -SC_E_ACCESS_DENIED,
				  "requester and admin need root or the service's group");
	else
		return connection_start_role(c, m, role, client);
	return 0;
}

static const struct method *method_find(const char *name)
{
	for (size_t i = 0; i < ELEMENTSOF(methods); i++)
		if (strcmp(methods[i].name, name) == 0)
			return &methods[i];
	return NULL;
}

static void connection_dispatch(struct connection *c, const struct wire_message *m)
{
	const struct method *method;
	int r;

	if (strcmp(m->name, "hello") == 0) {
		r = connection_hello(c, m);
	} else if (c->role == CONNECTION_NONE) {
		connection_reply_error(c, true, m->id, -SC_E_BAD_STATE,
				       "The first request must be hello");
		return;
	} else if (!(method = method_find(m->name))) {
		connection_reply_error(c, true, m->id, -SC_E_UNKNOWN_METHOD,
				       "Unknown method '%.64s'", m->name);
		return;
	} else if (!(method->roles & ROLE(c->role))) {
		connection_reply_error(c, true, m->id, -SC_E_ACCESS_DENIED,
				       "%s is not a method of the %s role", method->name,
				       role_names[c->role]);
		return;
	} else {
		r = method->handler(c, m);
	}
	if (r < 0)
		connection_reply_error(c, true, m->id, r, "%s", sc_strerror(r));
}

static void connection_process(struct connection *c, json_t *msg)
{
	struct wire_message m;

	if (wire_parse(msg, &m) < 0) {
		connection_reply_error(c, m.has_id, m.id, -SC_E_INVALID_MESSAGE,
				       "Not a request, result or error message");
		return;
	}
	switch (m.kind) {
	case WIRE_REQUEST:
		connection_dispatch(c, &m);
		break;
	case WIRE_EVENT:
		connection_reply_error(c, true, m.id, -SC_E_INVALID_MESSAGE,
				       "Only the service sends events");
		break;
	case WIRE_RESULT:
	case WIRE_ERROR:
		/* Answers to events; anything else answers nothing we asked. */
		if (c->writer)
			writer_events_handle_reply(c->writer, &m);
		break;
	}
}

static void connection_process_input(struct connection *c)
{
	while (!c->draining && !c->dead) {
		_cleanup_json_ json_t *msg = NULL;
		int r = wire_next(&c->wire, &msg);

		if (r == 0)
			return;
		if (r == -SC_E_MESSAGE_TOO_LARGE) {
			log_warning("%s sent a line over %u bytes, closing", connection_describe(c),
				    WIRE_MESSAGE_MAX);
			connection_reply_error(c, false, 0, r,
					       "A message may have at most %u bytes",
					       WIRE_MESSAGE_MAX);
			connection_shutdown(c);
			return;
		}
		if (r < 0)
			connection_reply_error(c, false, 0, -SC_E_INVALID_MESSAGE,
					       "Not a JSON object on one line");
		else
			connection_process(c, msg);
	}
}

static void connection_hangup(struct connection *c, int r)
{
	if (r < 0)
		log_debug_errno(r, "Failed to read from %s", connection_describe(c));
	if (c->role != CONNECTION_NONE)
		log_info("%s disconnected", connection_describe(c));
	connection_shutdown(c);
}

/* Edge-triggered (connection_update_io()): what is not read now gets no new
 * wake-up, so the end of the stream is acted on here, after the messages
 * that came before it, and a read cut short for fairness re-arms.  @hangup:
 * the peer has closed or shut down its side (EPOLLHUP, EPOLLRDHUP) or the
 * socket failed, so what was read is all there will be (wire_read() stops
 * at a short read, before it sees the end). */
static void connection_read(struct connection *c, bool hangup)
{
	int r = wire_read(&c->wire);

	if (r == -EAGAIN && !hangup)
		return;
	if (r == 0 || (r < 0 && r != -EAGAIN)) {
		connection_hangup(c, r);
		return;
	}
	if (r > 0)
		connection_process_input(c);
	if (c->dead || c->draining)
		return;
	if (c->wire.in_more) /* epoll reports the hangup again, if any */
		connection_update_io(c, true);
	else if (c->wire.in_eof || hangup)
		connection_hangup(c, 0);
}

static int connection_on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct connection *c = userdata;
	int r;

	if (!c->dead && !c->draining && (revents & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
		connection_read(c, revents & (EPOLLRDHUP | EPOLLHUP | EPOLLERR));
	if (c->dead) {
		connection_free(c);
		return 0;
	}
	r = wire_flush(&c->wire);
	if (r < 0)
		log_debug_errno(r, "Failed to write to %s", connection_describe(c));
	if (r < 0 || (r == 0 && c->draining)) {
		connection_free(c);
		return 0;
	}
	connection_update_io(c, false);
	return 0;
}

static int connection_on_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct connection *c = userdata;

	if (c->draining)
		log_debug("%s did not read its last replies in time", connection_describe(c));
	else
		log_notice("%s did not say hello in time, closing", connection_describe(c));
	connection_free(c);
	return 0;
}

int connection_new(struct daemon *d, int fd, const struct peer *peer)
{
	struct connection *c;
	int r;

	c = calloc(1, sizeof(*c));
	if (!c) {
		(void)close(fd); /* nothing was sent on it */
		return log_error_errno(ENOMEM, "Failed to accept a connection");
	}
	c->daemon = d;
	c->fd = fd;
	c->peer = *peer;
	wire_init(&c->wire, fd);
	wire_use_scratch(&c->wire, read_scratch, sizeof(read_scratch));
	TAILQ_INIT(&c->operations);
	TAILQ_INSERT_TAIL(&d->connections, c, entry);
	d->n_connections++;
	r = sd_event_add_io(d->event, &c->io, fd, EPOLLIN | EPOLLRDHUP | EPOLLET, connection_on_io,
			    c);
	if (r >= 0)
		r = sd_event_add_time_relative(d->event, &c->timer, CLOCK_MONOTONIC,
					       d->config->handshake_usec, USEC_PER_MSEC,
					       connection_on_timer, c);
	if (r < 0) {
		connection_free(c);
		return log_error_errno(r, "Failed to set up a connection");
	}
	log_debug("New connection from uid %u, pid %d", (unsigned)peer->uid, (int)peer->pid);
	return 0;
}

struct connection *connection_free(struct connection *c)
{
	if (!c)
		return NULL;
	c->dead = true; /* nothing more is queued while the roles end */
	connection_drop_roles(c);
	TAILQ_REMOVE(&c->daemon->connections, c, entry);
	c->daemon->n_connections--;
	sd_event_source_disable_unref(c->io);
	sd_event_source_disable_unref(c->timer);
	sd_event_source_disable_unref(c->closer);
	wire_done(&c->wire);
	(void)close(c->fd); /* whatever was not sent is lost with the peer */
	free(c->client);
	free(c);
	return NULL;
}

void connection_free_all(struct daemon *d)
{
	struct connection *c;

	while ((c = TAILQ_FIRST(&d->connections)))
		connection_free(c);
}
