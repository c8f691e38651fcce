/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * wire.h - the protocol's framing and message shapes (docs/protocol.md §1-2),
 * shared by the daemon, the library and the tests.  One JSON object per line,
 * at most WIRE_MESSAGE_MAX bytes.  Knows nothing about methods or roles.
 */
#ifndef SC_WIRE_H
#define SC_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#define WIRE_MESSAGE_MAX (16u * 1024u * 1024u)
/* What one recv() asks for; a shared scratch buffer should be this big. */
#define WIRE_READ_CHUNK 65536u

/* The buffers of one connection.  The fd is owned by the caller. */
struct wire {
	int fd;
	size_t max;          /* message size limit, newline included */
	char *in;
	size_t in_len, in_alloc, in_scanned;
	char *out;
	size_t out_len, out_alloc, out_off;
	char *scratch;       /* see wire_use_scratch(); NULL: read straight into in */
	size_t scratch_size;
	bool in_more;        /* the last wire_read() stopped at its limit */
	bool in_eof;         /* the last wire_read() met the end of the stream */
};

enum wire_kind {
	WIRE_REQUEST, /* {"id", "method", "params"} */
	WIRE_EVENT,   /* {"id", "event", "params"} */
	WIRE_RESULT,  /* {"id", "result"} */
	WIRE_ERROR,   /* {"id", "error"} */
};

/* A decoded message; pointers borrow from @msg. */
struct wire_message {
	json_t *msg;
	enum wire_kind kind;
	bool has_id;          /* false for "id": null */
	int64_t id;
	const char *name;     /* method or event name */
	json_t *body;         /* params (NULL if absent), result or error */
};

/* wire.c */
void wire_init(struct wire *w, int fd);
void wire_done(struct wire *w);

/* Read through @scratch (@size bytes, the caller's, shared by many wires
 * that are read one at a time), so that the input buffer holds only what is
 * not consumed yet and is freed when empty: a server with many idle peers
 * keeps no input buffer for them. */
void wire_use_scratch(struct wire *w, char *scratch, size_t size);

/* Read what the fd has (until a read returns less than asked for, or
 * EAGAIN).  Returns > 0 bytes read, 0 at end of file, -EAGAIN, -errno.
 * After bytes were read, w->in_eof says the end of the stream followed them
 * (a short read stops before it: then a poll reports the hangup), and
 * w->in_more that the read stopped at its per-call limit (fairness to other
 * peers) with more possibly waiting: an edge-triggered caller must come
 * back for it without waiting for a new edge. */
int wire_read(struct wire *w);

/* The next complete line as a JSON value in *ret (the caller owns it).
 * Returns 1 with a message, 0 when more input is needed,
 * -SC_E_INVALID_MESSAGE for a line that is not JSON (the line is dropped),
 * -SC_E_MESSAGE_TOO_LARGE when the line exceeds the limit (the connection is
 * then unusable). */
int wire_next(struct wire *w, json_t **ret);

/* Encode @msg (borrowed) and append it to the output buffer. */
int wire_queue(struct wire *w, json_t *msg);
/* Write queued output.  Returns 0 when everything is written, 1 when some is
 * left (-EAGAIN), -errno on failure. */
int wire_flush(struct wire *w);
bool wire_has_output(const struct wire *w);

/* Encode @msg as one line ending in '\n' (malloc'd). */
int wire_encode(json_t *msg, char **ret, size_t *ret_len);
/* Decode one line (without its '\n'). */
int wire_decode(const char *buf, size_t len, json_t **ret);

/* Check @msg's shape (§2) and fill @ret.  Returns 0 or -SC_E_INVALID_MESSAGE;
 * on failure ret->has_id/ret->id still say whether an id could be read. */
int wire_parse(json_t *msg, struct wire_message *ret);

/* Builders.  They steal @params/@result and return NULL only on ENOMEM. */
json_t *wire_request(int64_t id, const char *method, json_t *params);
json_t *wire_event(int64_t id, const char *event, json_t *params);
json_t *wire_result(bool has_id, int64_t id, json_t *result);
json_t *wire_error(bool has_id, int64_t id, int error, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* The negative error an "error" object names (-SC_E_UNEXPECTED if unknown),
 * and its message in *ret_message (borrowed; may be NULL). */
int wire_error_decode(json_t *error, const char **ret_message);

#endif
