/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fanout.c - one backup event sent to a session's writers in parallel
 * (design.md "The coordinator"): who it concerns, its params, its deadline,
 * each answer as the writer's state and failure in this session, and the
 * writer's freeze window from Freeze to Thaw (vss-model 5, T29) with a
 * writer leaving inside it.  What the session does next is not decided here:
 * a failure that must abort the set is recorded in s->error.
 */
#include <errno.h>
#include <stdlib.h>

#include <systemd/sd-event.h>

#include "cleanup.h"
#include "json-util.h"
#include "log.h"
#include "session.h"

static uint64_t event_timeout(const struct config *c, enum sc_event event)
{
	switch (event) {
	case SC_EVENT_PREPARE_BACKUP:
		return c->prepare_backup_usec;
	case SC_EVENT_PREPARE_SNAPSHOT:
		return c->prepare_snapshot_usec;
	case SC_EVENT_FREEZE:
		return c->freeze_usec;
	case SC_EVENT_THAW:
		return c->thaw_usec;
	case SC_EVENT_POST_SNAPSHOT:
		return c->post_snapshot_usec;
	case SC_EVENT_BACKUP_COMPLETE:
		return c->backup_complete_usec;
	case SC_EVENT_BACKUP_SHUTDOWN:
		return c->backup_shutdown_usec;
	default:
		return c->abort_usec;
	}
}

/* Whom @event concerns (protocol.md §6.3, vss-model 6). */
static bool concerned(const struct session_writer *sw, enum sc_event event, int level)
{
	switch (event) {
	case SC_EVENT_ABORT: /* B5, B6; a writer that failed before Freeze is out (A14) */
		return sw->involved && !sw->out && !sw->aborted && !sw->past_post_snapshot;
	case SC_EVENT_BACKUP_SHUTDOWN: /* whatever happened (T48) */
		return sw->involved;
	case SC_EVENT_THAW:
		return sw->frozen && !sw->aborted;
	case SC_EVENT_FREEZE:
		if (sw->identity.level != level)
			return false;
		return sw->participating && !sw->out && !sw->aborted;
	default:
		return sw->participating && !sw->out && !sw->aborted;
	}
}

static json_t *volumes_json(const struct session *s)
{
	_cleanup_json_ json_t *volumes = json_array();

	if (!volumes)
		return NULL;
	for (size_t i = 0; s->set && i < s->set->n_volumes; i++)
		if (json_array_append_new(volumes, json_string(s->set->volumes[i].path)) < 0)
			return NULL;
	return TAKE_PTR(volumes);
}

/* The params of @event without any writer's components. */
static json_t *common_params(const struct session *s, enum sc_event event)
{
	char session[SC_ID_STRING_MAX], set[SC_ID_STRING_MAX];
	struct sc_id set_id = { 0 };

	/* BackupShutdown names the set only if a snapshot was made (T48). */
	if (s->set && (event != SC_EVENT_BACKUP_SHUTDOWN || s->set->committed))
		set_id = s->set->id;
	return json_pack("{s:s, s:s, s:s, s:i, s:b, s:o, s:[]}", "session",
			 sc_id_to_string(&s->id, session), "snapshot_set_id",
			 sc_id_to_string(&set_id, set), "context", sc_context_name(s->context),
			 "backup_type", s->backup_type, "select_components", s->select_components,
			 "volumes", volumes_json(s), "components");
}

/* @common (borrowed) with @sw's components: the same object for every
 * writer when the requester added no component, so that a fan-out builds
 * its params once and not once per writer. */
static json_t *writer_params(const struct session *s, const struct session_writer *sw,
			     json_t *common)
{
	json_t *p;

	if (s->n_components == 0)
		return json_incref(common);
	p = json_copy(common); /* shallow: only "components" differs */
	if (p && json_object_set_new(p, "components",
				     components_json(s, (size_t)(sw - s->writers))) < 0) {
		json_decref(p);
		return NULL;
	}
	return p;
}

static void window_stop(struct session_writer *sw)
{
	sw->frozen = false;
	sw->window = sd_event_source_disable_unref(sw->window);
}

static void record(struct session *s, struct session_writer *sw, enum sc_event event, bool ok,
		   int failure, uint64_t duration_usec)
{
	char instance[SC_ID_STRING_MAX];

	writer_events_next_state(event, ok, failure, &sw->state, &sw->failure);
	history_add(s, "event", sc_event_name(event),
		    sc_id_to_string(&sw->identity.instance_id, instance), sw->identity.name,
		    (int)sw->state, ok ? sw->failure : failure, duration_usec);
	switch (event) {
	case SC_EVENT_PREPARE_BACKUP:
	case SC_EVENT_PREPARE_SNAPSHOT:
		sw->out = !ok; /* no Abort for these (A14) */
		break;
	case SC_EVENT_FREEZE:
	case SC_EVENT_THAW:
		if (ok)
			break;
		window_stop(sw); /* the set fails: Abort follows at once */
		if (s->error == 0)
			s->error = failure; /* A2, B8 */
		break;
	case SC_EVENT_POST_SNAPSHOT:
		sw->past_post_snapshot = true; /* B5, even when it failed (A15) */
		sw->out = !ok;
		break;
	default:
		break;
	}
}

static void on_answer(struct writer *w, const struct writer_event_reply *reply, void *userdata)
{
	struct session_writer *sw = userdata;
	struct session *s = sw->session;

	sw->event = NULL;
	s->pending--;
	record(s, sw, sw->event_type, reply->status == WRITER_EVENT_OK, reply->failure,
	       session_now(s) - sw->sent_usec);
	/* While answers are outstanding, a session only acts on a failure
	 * (s->error): kicking it for every answer cost a loop iteration per
	 * writer, a thousand in each fan-out to a thousand writers. */
	if (s->pending == 0 || s->error)
		session_kick(s);
}

/* The window ran out before Thaw was sent: the writer has aborted by
 * itself by now (its library keeps the same window), and the set fails. */
static int on_window(sd_event_source *src, uint64_t usec, void *userdata)
{
	struct session_writer *sw = userdata;
	struct session *s = sw->session;
	enum sc_event at = sw->event ? SC_EVENT_FREEZE : SC_EVENT_THAW;

	sw->window = sd_event_source_disable_unref(sw->window);
	log_warning("Writer '%s' was not thawed within its freeze timeout of %u ms",
		    sw->identity.name, sw->identity.freeze_timeout_ms);
	if (sw->event) {
		writer_events_cancel(sw->event);
		sw->event = NULL;
		s->pending--;
	}
	record(s, sw, at, false, -SC_E_WRITERERROR_TIMEOUT, session_now(s) - sw->sent_usec);
	session_kick(s);
	return 0;
}

static void window_start(struct session *s, struct session_writer *sw)
{
	uint64_t window = (uint64_t)sw->identity.freeze_timeout_ms * USEC_PER_MSEC;
	int r;

	sw->frozen = true;
	r = sd_event_add_time(s->daemon->event, &sw->window, CLOCK_MONOTONIC,
			      session_now(s) + window, USEC_PER_MSEC, on_window, sw);
	if (r < 0 && s->error == 0) {
		/* Never freeze without a way back: fail the set instead. */
		log_error_errno(r, "Failed to start the freeze window of writer '%s'",
				sw->identity.name);
		s->error = r;
	}
}

/* @common: the event's params without components (borrowed), or NULL
 * when they could not be built. */
static void send_one(struct session *s, struct session_writer *sw, enum sc_event event,
		     json_t *common)
{
	uint64_t now = session_now(s);
	struct writer *w;
	json_t *params;
	int r;

	if (event == SC_EVENT_THAW || event == SC_EVENT_ABORT)
		window_stop(sw);
	if (event == SC_EVENT_ABORT)
		sw->aborted = true;
	if (event != SC_EVENT_BACKUP_SHUTDOWN)
		sw->involved = true;
	w = registry_lookup(s->daemon, &sw->identity);
	if (!w && sw->state >= SC_WS_FAILED_AT_IDENTIFY)
		return; /* gone after failing: its failure stays what it was */
	if (!w)
		r = -SC_E_WRITER_NOT_RESPONDING;
	else if (!common || !(params = writer_params(s, sw, common)))
		r = -ENOMEM;
	else
		r = writer_events_send(w, event, params, now + event_timeout(s->daemon->config, event),
				       on_answer, sw, &sw->event);
	if (r < 0) {
		/* Gone, or no way to ask it: it failed this event (design.md). */
		log_warning_errno(r, "Failed to send %s to writer '%s'", sc_event_name(event),
				  sw->identity.name);
		record(s, sw, event, false, -SC_E_WRITER_NOT_RESPONDING, 0);
		return;
	}
	sw->event_type = event;
	sw->sent_usec = now;
	s->pending++;
	if (event == SC_EVENT_FREEZE)
		window_start(s, sw);
}

void fanout_send(struct session *s, enum sc_event event, int level)
{
	_cleanup_json_ json_t *common = common_params(s, event);

	for (size_t i = 0; i < s->n_writers; i++)
		if (concerned(&s->writers[i], event, level))
			send_one(s, &s->writers[i], event, common);
	session_kick(s);
}

void fanout_cancel(struct session *s)
{
	for (size_t i = 0; i < s->n_writers; i++) {
		struct session_writer *sw = &s->writers[i];

		if (sw->event)
			writer_events_cancel(sw->event);
		sw->event = NULL;
		sw->window = sd_event_source_disable_unref(sw->window);
	}
	s->pending = 0;
}

/* A writer left between Freeze and Thaw with no event outstanding (one
 * outstanding fails by itself as GONE): it has thawed or died, and the set
 * fails with WRITER_NOT_RESPONDING (design.md). */
void fanout_writer_left(struct daemon *d, const struct writer_identity *id)
{
	struct session *s;

	TAILQ_FOREACH(s, &d->sessions, entry)
		for (size_t i = 0; i < s->n_writers; i++) {
			struct session_writer *sw = &s->writers[i];

			if (!sw->frozen || sw->event ||
			    !sc_id_equal(&sw->identity.class_id, &id->class_id) ||
			    !sc_id_equal(&sw->identity.instance_id, &id->instance_id))
				continue;
			record(s, sw, SC_EVENT_THAW, false, -SC_E_WRITER_NOT_RESPONDING,
			       session_now(s) - sw->sent_usec);
			session_kick(s);
		}
}
