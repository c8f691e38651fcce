/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * gather.c - Identify sent to many writers at once, with one deadline, and
 * the answers collected and validated (metadata_check) until every writer
 * has answered, failed, timed out or left.  Shared by requester sessions and
 * list_writers; what to do with the answers is theirs.
 */
#include <errno.h>
#include <stdlib.h>

#include <systemd/sd-event.h>

#include "daemon.h"
#include "log.h"
#include "metadata.h"

json_t *gather_document(const struct writer_identity *id, json_t *metadata)
{
	json_t *doc = json_copy(metadata);
	json_t *identity = registry_identity_json(id);

	/* The identity overwrites any field of the same name the writer sent:
	 * it comes from the registration, never from the answer (§4.2). */
	if (!doc || !identity || json_object_update(doc, identity) < 0) {
		json_decref(doc);
		json_decref(identity);
		return NULL;
	}
	json_decref(identity);
	return doc;
}

/* Copy the identity now: the writer may leave before the gather ends. */
static void gather_record(struct gather_entry *e, const struct writer *w,
			  enum sc_writer_state state, int failure, json_t *metadata)
{
	if (registry_identity_copy(&w->identity, &e->identity) < 0) {
		log_error_errno(ENOMEM, "Failed to record the answer of writer '%s'",
				w->identity.name);
		return;
	}
	e->present = true;
	e->state = state;
	e->failure = failure;
	e->metadata = json_incref(metadata);
}

static void gather_on_identify(struct writer *w, const struct writer_event_reply *reply,
			       void *userdata)
{
	struct gather_entry *e = userdata;
	struct gather *g = e->gather;
	json_t *metadata;

	e->event = NULL;
	if (reply->status == WRITER_EVENT_OK) {
		metadata = json_object_get(reply->result, "metadata");
		if (json_is_object(metadata) && metadata_check(metadata) >= 0) {
			gather_record(e, w, SC_WS_STABLE, 0, metadata);
		} else {
			/* An invalid document is a failed Identify, here and in
			 * the writer's state for list_writers. */
			log_warning("Writer '%s' sent invalid metadata", w->identity.name);
			w->state = SC_WS_FAILED_AT_IDENTIFY;
			w->failure = -SC_E_INVALID_XML_DOCUMENT;
			gather_record(e, w, w->state, w->failure, NULL);
		}
	} else if (reply->status != WRITER_EVENT_GONE) {
		gather_record(e, w, SC_WS_FAILED_AT_IDENTIFY, reply->failure, NULL);
	}
	if (--g->pending == 0)
		g->done(g, g->userdata); /* may free g */
}

static void gather_entry_start(struct gather *g, struct gather_entry *e, struct writer *w,
			       uint64_t deadline_usec)
{
	int r;

	e->gather = g;
	r = writer_events_send(w, SC_EVENT_IDENTIFY, NULL, deadline_usec, gather_on_identify, e,
			       &e->event);
	if (r >= 0) {
		g->pending++;
		return;
	}
	log_warning_errno(r, "Failed to send identify to writer '%s'", w->identity.name);
	gather_record(e, w, SC_WS_FAILED_AT_IDENTIFY, -SC_E_WRITER_NOT_RESPONDING, NULL);
}

static int gather_on_defer(sd_event_source *s, void *userdata)
{
	struct gather *g = userdata;

	g->defer = sd_event_source_disable_unref(g->defer);
	g->done(g, g->userdata); /* may free g */
	return 0;
}

int gather_start(struct daemon *d, gather_filter_fn filter, void *filter_data,
		 gather_done_fn done, void *userdata, struct gather **ret)
{
	struct gather *g;
	struct writer *w;
	uint64_t now;
	size_t n = 0;
	int r;

	TAILQ_FOREACH(w, &d->writers, entry)
		if (!filter || filter(w, filter_data))
			n++;
	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	*g = (struct gather){ .daemon = d, .done = done, .userdata = userdata };
	g->entries = calloc(n + 1, sizeof(*g->entries)); /* + 1: never calloc(0) */
	r = g->entries ? sd_event_now(d->event, CLOCK_MONOTONIC, &now) : -ENOMEM;
	if (r < 0) {
		gather_free(g);
		return r;
	}
	TAILQ_FOREACH(w, &d->writers, entry)
		if (!filter || filter(w, filter_data))
			gather_entry_start(g, &g->entries[g->n_entries++], w,
					   now + d->config->identify_usec);
	/* Nothing to wait for: still answer from the loop, never from here. */
	if (g->pending == 0 &&
	    (r = sd_event_add_defer(d->event, &g->defer, gather_on_defer, g)) < 0) {
		gather_free(g);
		return r;
	}
	*ret = g;
	return 0;
}

struct gather *gather_free(struct gather *g)
{
	if (!g)
		return NULL;
	for (size_t i = 0; i < g->n_entries; i++) {
		struct gather_entry *e = &g->entries[i];

		if (e->event)
			writer_events_cancel(e->event);
		registry_identity_done(&e->identity);
		json_decref(e->metadata);
	}
	free(g->entries);
	sd_event_source_disable_unref(g->defer);
	free(g);
	return NULL;
}
