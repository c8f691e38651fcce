/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * wire.c - framing (one JSON object per line, size-limited) and the four
 * message shapes of docs/protocol.md.  Every byte from a peer goes through
 * wire_next() and wire_parse() before anyone looks at it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <shadowcopy/types.h>

#include "cleanup.h"
#include "wire.h"

/* The most one wire_read() takes from a peer that keeps sending. */
#define READ_TURN_MAX (4 * WIRE_READ_CHUNK)

void wire_init(struct wire *w, int fd)
{
	memset(w, 0, sizeof(*w));
	w->fd = fd;
	w->max = WIRE_MESSAGE_MAX;
}

void wire_done(struct wire *w)
{
	free(w->in);
	free(w->out);
	w->in = w->out = NULL;
	w->in_len = w->in_alloc = w->in_scanned = 0;
	w->out_len = w->out_alloc = w->out_off = 0;
}

static int buffer_reserve(char **buf, size_t *alloc, size_t need)
{
	size_t n;
	char *p;

	if (need <= *alloc)
		return 0;
	n = *alloc ? *alloc : 4096;
	while (n < need)
		n *= 2;
	p = realloc(*buf, n);
	if (!p)
		return -ENOMEM;
	*buf = p;
	*alloc = n;
	return 0;
}

void wire_use_scratch(struct wire *w, char *scratch, size_t size)
{
	w->scratch = scratch;
	w->scratch_size = size;
}

/* Where the next recv() goes, and how much it may take. */
static int read_target(struct wire *w, char **ret, size_t *ret_size)
{
	int r;

	if (w->scratch) {
		*ret = w->scratch;
		*ret_size = w->scratch_size;
		return 0;
	}
	r = buffer_reserve(&w->in, &w->in_alloc, w->in_len + WIRE_READ_CHUNK);
	if (r < 0)
		return r;
	*ret = w->in + w->in_len;
	*ret_size = WIRE_READ_CHUNK;
	return 0;
}

/* Count the @n bytes just received into @buf as input. */
static int read_keep(struct wire *w, const char *buf, size_t n)
{
	int r;

	if (w->scratch) {
		r = buffer_reserve(&w->in, &w->in_alloc, w->in_len + n);
		if (r < 0)
			return r;
		memcpy(w->in + w->in_len, buf, n);
	}
	w->in_len += n;
	return 0;
}

int wire_read(struct wire *w)
{
	size_t total = 0, size;
	ssize_t n;
	char *buf;
	int r;

	w->in_more = w->in_eof = false;
	/* Never buffer more than one message plus one chunk: a peer that
	 * sends an endless line is cut off by wire_next(), not by memory.
	 * READ_TURN_MAX lets the other peers of a server have their turn. */
	for (;;) {
		r = read_target(w, &buf, &size);
		if (r < 0)
			return r;
		n = recv(w->fd, buf, size, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN && total > 0)
				break;
			return -errno;
		}
		if (n == 0) {
			w->in_eof = true;
			break;
		}
		r = read_keep(w, buf, (size_t)n);
		if (r < 0)
			return r;
		total += (size_t)n;
		if (w->in_len > w->max || total >= READ_TURN_MAX) {
			w->in_more = true;
			break;
		}
		/* A stream socket's recv() takes all it holds, up to @size: a
		 * short read emptied it, and asking again only to hear EAGAIN
		 * cost a system call per message (whatever comes later wakes
		 * the caller's poll again, edge- or level-triggered). */
		if ((size_t)n < size)
			break;
	}
	return (int)total; /* at most READ_TURN_MAX + one chunk */
}

int wire_decode(const char *buf, size_t len, json_t **ret)
{
	json_error_t err;
	json_t *j;

	j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &err);
	if (!j)
		return -SC_E_INVALID_MESSAGE;
	*ret = j;
	return 0;
}

int wire_next(struct wire *w, json_t **ret)
{
	char *nl;
	size_t line_len;
	int r;

	if (w->in_len == 0)
		return 0; /* nothing buffered: w->in may be NULL */
	nl = memchr(w->in + w->in_scanned, '\n', w->in_len - w->in_scanned);
	if (!nl) {
		w->in_scanned = w->in_len;
		return w->in_len >= w->max ? -SC_E_MESSAGE_TOO_LARGE : 0;
	}
	line_len = (size_t)(nl - w->in);
	if (line_len + 1 > w->max)
		return -SC_E_MESSAGE_TOO_LARGE;
	r = wire_decode(w->in, line_len, ret);
	memmove(w->in, nl + 1, w->in_len - line_len - 1);
	w->in_len -= line_len + 1;
	w->in_scanned = 0;
	if (w->in_len == 0 && (w->scratch || w->in_alloc > 1024 * 1024)) {
		/* give back the room a big message took; with a scratch
		 * buffer, an idle peer keeps no input buffer at all */
		free(w->in);
		w->in = NULL;
		w->in_alloc = 0;
	}
	return r < 0 ? r : 1;
}

int wire_encode(json_t *msg, char **ret, size_t *ret_len)
{
	char *s;
	size_t len;

	s = json_dumps(msg, JSON_COMPACT);
	if (!s)
		return -ENOMEM;
	len = strlen(s);
	/* json_dumps allocates exactly len + 1: make room for the newline. */
	char *p = realloc(s, len + 2);
	if (!p) {
		free(s);
		return -ENOMEM;
	}
	p[len] = '\n';
	p[len + 1] = '\0';
	*ret = p;
	*ret_len = len + 1;
	return 0;
}

int wire_queue(struct wire *w, json_t *msg)
{
	_cleanup_free_ char *line = NULL;
	size_t len;
	int r;

	r = wire_encode(msg, &line, &len);
	if (r < 0)
		return r;
	if (len > w->max)
		return -SC_E_MESSAGE_TOO_LARGE;
	if (!wire_has_output(w)) {
		/* Nothing waits: the encoded line becomes the buffer, no copy
		 * (wire_flush() frees it once it is out). */
		free(w->out);
		w->out = TAKE_PTR(line);
		w->out_len = w->out_alloc = len;
		w->out_off = 0;
		return 0;
	}
	if (w->out_off > 0) {
		/* a peer that reads slowly: keep only what is still unsent */
		memmove(w->out, w->out + w->out_off, w->out_len - w->out_off);
		w->out_len -= w->out_off;
		w->out_off = 0;
	}
	r = buffer_reserve(&w->out, &w->out_alloc, w->out_len + len);
	if (r < 0)
		return r;
	memcpy(w->out + w->out_len, line, len);
	w->out_len += len;
	return 0;
}

bool wire_has_output(const struct wire *w)
{
	return w->out_off < w->out_len;
}

int wire_flush(struct wire *w)
{
	ssize_t n;

	while (w->out_off < w->out_len) {
		n = send(w->fd, w->out + w->out_off, w->out_len - w->out_off,
			 MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return 1;
			return -errno;
		}
		w->out_off += (size_t)n;
	}
	/* An idle peer keeps no output buffer. */
	free(w->out);
	w->out = NULL;
	w->out_off = w->out_len = w->out_alloc = 0;
	return 0;
}

static int parse_id(json_t *msg, struct wire_message *ret)
{
	json_t *id = json_object_get(msg, "id");

	ret->has_id = false;
	ret->id = -1;
	if (!id || json_is_null(id))
		return 0;
	if (!json_is_integer(id) || json_integer_value(id) < 0)
		return -SC_E_INVALID_MESSAGE;
	ret->has_id = true;
	ret->id = json_integer_value(id);
	return 0;
}

int wire_parse(json_t *msg, struct wire_message *ret)
{
	json_t *v;

	memset(ret, 0, sizeof(*ret));
	ret->msg = msg;
	if (!json_is_object(msg))
		return -SC_E_INVALID_MESSAGE;
	if (parse_id(msg, ret) < 0)
		return -SC_E_INVALID_MESSAGE;
	if ((v = json_object_get(msg, "method")) || (v = json_object_get(msg, "event"))) {
		if (!json_is_string(v) || !ret->has_id)
			return -SC_E_INVALID_MESSAGE;
		ret->kind = json_object_get(msg, "method") ? WIRE_REQUEST : WIRE_EVENT;
		ret->name = json_string_value(v);
		ret->body = json_object_get(msg, "params");
		if (ret->body && !json_is_object(ret->body))
			return -SC_E_INVALID_MESSAGE;
		return 0; /* absent params: body is NULL, which jansson's getters accept */
	}
	if ((v = json_object_get(msg, "result"))) {
		ret->kind = WIRE_RESULT;
		ret->body = v;
		return json_is_object(v) ? 0 : -SC_E_INVALID_MESSAGE;
	}
	if ((v = json_object_get(msg, "error"))) {
		ret->kind = WIRE_ERROR;
		ret->body = v;
		return json_is_object(v) ? 0 : -SC_E_INVALID_MESSAGE;
	}
	return -SC_E_INVALID_MESSAGE;
}

json_t *wire_request(int64_t id, const char *method, json_t *params)
{
	return json_pack("{s:I, s:s, s:o}", "id", (json_int_t)id, "method", method,
			 "params", params ? params : json_object());
}

json_t *wire_event(int64_t id, const char *event, json_t *params)
{
	return json_pack("{s:I, s:s, s:o}", "id", (json_int_t)id, "event", event,
			 "params", params ? params : json_object());
}

json_t *wire_result(bool has_id, int64_t id, json_t *result)
{
	return json_pack("{s:o, s:o}", "id", has_id ? json_integer(id) : json_null(), "result",
			 result ? result : json_object());
}

json_t *wire_error(bool has_id, int64_t id, int error, const char *fmt, ...)
{
	char message[1024], code[16];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	snprintf(code, sizeof(code), "0x%08x", sc_error_hresult(error));
	return json_pack("{s:o, s:{s:s, s:s, s:s}}", "id",
			 has_id ? json_integer(id) : json_null(), "error", "name",
			 sc_error_name(error), "code", code, "message", message);
}

int wire_error_decode(json_t *error, const char **ret_message)
{
	json_t *name = json_object_get(error, "name");
	json_t *message = json_object_get(error, "message");
	int r;

	if (ret_message)
		*ret_message = json_is_string(message) ? json_string_value(message) : NULL;
	r = json_is_string(name) ? sc_error_from_name(json_string_value(name)) : 0;
	return r < 0 ? r : -SC_E_UNEXPECTED;
}
