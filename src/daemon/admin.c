/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * admin.c - the admin role (protocol.md §8): list_writers, from the registry
 * alone, or after an Identify round when metadata is asked for.  It changes
 * nothing in the registry but the states that Identify itself leaves.
 */
#include <errno.h>
#include <stdlib.h>

#include "cleanup.h"
#include "daemon.h"
#include "json-util.h"

/* A list_writers with metadata: waiting for its gather. */
struct listing {
	struct operation *op;
	struct gather *gather;
};

static json_t *writer_entry(const struct writer_identity *id, enum sc_writer_state state,
			    int failure, json_t *metadata)
{
	_cleanup_json_ json_t *entry = registry_identity_json(id);

	if (!entry || json_set(entry, "state", json_integer(state)) < 0 ||
	    json_set(entry, "failure", json_string(sc_error_name(failure))) < 0)
		return NULL;
	if (metadata && json_object_set(entry, "metadata", metadata) < 0)
		return NULL;
	return TAKE_PTR(entry);
}

static json_t *list_registry(const struct daemon *d)
{
	_cleanup_json_ json_t *writers = json_array();
	const struct writer *w;

	if (!writers)
		return NULL;
	TAILQ_FOREACH(w, &d->writers, entry)
		if (json_array_append_new(writers, writer_entry(&w->identity, w->state, w->failure,
								NULL)) < 0)
			return NULL;
	return json_pack("{s:O}", "writers", writers);
}

/* The gather's own outcome for each writer, not the registry's state, which
 * another Identify may have changed meanwhile.  Writers that left are out. */
static json_t *list_gathered(const struct gather *g)
{
	_cleanup_json_ json_t *writers = json_array();

	if (!writers)
		return NULL;
	for (size_t i = 0; i < g->n_entries; i++) {
		const struct gather_entry *e = &g->entries[i];

		if (!e->present)
			continue;
		if (json_array_append_new(writers, writer_entry(&e->identity, e->state, e->failure,
								e->metadata)) < 0)
			return NULL;
	}
	return json_pack("{s:O}", "writers", writers);
}

static struct listing *listing_free(struct listing *l)
{
	if (!l)
		return NULL;
	gather_free(l->gather);
	free(l);
	return NULL;
}

static void listing_done(struct gather *g, void *userdata)
{
	struct listing *l = userdata;
	json_t *result = list_gathered(g);

	if (result)
		operation_reply(l->op, result);
	else
		operation_fail(l->op, -ENOMEM);
	listing_free(l);
}

static void listing_cancelled(void *userdata)
{
	listing_free(userdata);
}

static int listing_start(struct connection *c, int64_t request_id)
{
	struct listing *l;
	int r;

	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	r = operation_new(c, request_id, listing_cancelled, l, &l->op);
	if (r < 0) {
		free(l);
		return r;
	}
	r = gather_start(c->daemon, NULL, NULL, listing_done, l, &l->gather);
	if (r < 0) {
		operation_abandon(l->op);
		free(l);
		return r;
	}
	return 0;
}

int admin_list_writers(struct connection *c, const struct wire_message *m)
{
	bool metadata = false;
	int r;

	r = json_get_bool(m->body, "metadata", false, &metadata);
	if (r < 0)
		return r;
	if (metadata)
		return listing_start(c, m->id);
	connection_reply(c, m->id, list_registry(c->daemon));
	return 0;
}
