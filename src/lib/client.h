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

#endif
