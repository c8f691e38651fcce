/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * client.h - a client's connection to shadowcopyd: connect, hello, and
 * request/reply over the wire codec.  Internal to libshadowcopy and linked
 * statically into the shadowcopy tool (for the admin methods, which are not
 * part of the public API).  Blocking calls with deadlines; events that arrive
 * while waiting for a reply are queued for the caller.
 */
#ifndef SC_CLIENT_H
#define SC_CLIENT_H

#include <stdint.h>
#include <jansson.h>

struct client;

/* client.c */
/* Connect to @path, say hello with @role ("writer", "requester", "admin"),
 * all within @timeout_usec.  Returns 0, or -errno / -SC_E_* (ACCESS_DENIED,
 * PROTOCOL_VERSION) from the service. */
int client_connect(const char *path, const char *role, const char *client_name,
		   uint64_t timeout_usec, struct client **ret);
struct client *client_free(struct client *c);

/* Send request @method with @params (stolen; NULL for {}); its id in *ret_id. */
int client_send(struct client *c, const char *method, json_t *params, int64_t *ret_id);
/* Wait at most @timeout_usec (UINT64_MAX: forever) for the reply to @id.
 * Returns 0 with the result object in *ret_result (caller owns it), the
 * service's error (< 0; message in *ret_message if non-NULL, valid until the
 * next call), or -ETIMEDOUT (the reply may still come later). */
int client_wait(struct client *c, int64_t id, uint64_t timeout_usec, json_t **ret_result,
		char **ret_message);
/* client_send + client_wait. */
int client_call(struct client *c, const char *method, json_t *params, uint64_t timeout_usec,
		json_t **ret_result, char **ret_message);
/* The message of the service's answer to the last request sent, if that
 * answer was an error; NULL otherwise.  Valid until the next request. */
const char *client_last_error_message(const struct client *c);
/* Drop the reply to @id whenever it arrives: nobody will wait for it. */
int client_forget(struct client *c, int64_t id);
/* Take the oldest queued event or request the service sent (the caller owns
 * it).  Returns 1 with a message, 0 when none is queued. */
int client_next_event(struct client *c, json_t **ret);

/* The pieces of the handshake, for the writer, which drives its own
 * non-blocking connection: a non-blocking, close-on-exec socket connected to
 * @path (AF_UNIX connects at once or fails: -ENOENT, -ECONNREFUSED, -EAGAIN
 * when the backlog is full), the params of hello, and the check of hello's
 * result (-SC_E_PROTOCOL_VERSION for another major version). */
int client_socket_connect(const char *path, int *ret_fd);
json_t *client_hello_params(const char *role, const char *client_name);
int client_hello_check(json_t *result);

#endif
