/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * writer-events.c - the one way the service asks a writer something
 * (protocol.md §4.2): send an event, wait for its answer until a deadline,
 * and report the outcome exactly once.  It records the writer's last state
 * for list_writers; which writers get which event, and what a failure means
 * for a backup, is for the callers to decide.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <systemd/sd-event.h>

#include "daemon.h"
#include "json-util.h"
#include "log.h"

struct writer_event {
	struct writer *writer;
	TAILQ_ENTRY(writer_event) entry;
	enum sc_event event;
	int64_t id; /* on the writer's connection */
	sd_event_source *timer;
	writer_event_fn callback;
	void *userdata;
};

/* The writer state machine of vss-model 4.6: the state after an event was
 * handled, and after it failed.  A failed Abort has no state of its own in
 * VSS; UNKNOWN is VSS's "indicates a writer error". */
static const enum sc_writer_state state_after[_SC_EVENT_MAX] = {
	[SC_EVENT_IDENTIFY] = SC_WS_STABLE,
	[SC_EVENT_PREPARE_BACKUP] = SC_WS_STABLE,
	[SC_EVENT_PREPARE_SNAPSHOT] = SC_WS_WAITING_FOR_FREEZE,
	[SC_EVENT_FREEZE] = SC_WS_WAITING_FOR_THAW,
	[SC_EVENT_THAW] = SC_WS_WAITING_FOR_POST_SNAPSHOT,
	[SC_EVENT_POST_SNAPSHOT] = SC_WS_WAITING_FOR_BACKUP_COMPLETE,
	[SC_EVENT_ABORT] = SC_WS_STABLE,
	[SC_EVENT_BACKUP_COMPLETE] = SC_WS_STABLE,
	[SC_EVENT_BACKUP_SHUTDOWN] = SC_WS_STABLE,
	[SC_EVENT_PRE_RESTORE] = SC_WS_STABLE,
	[SC_EVENT_POST_RESTORE] = SC_WS_STABLE,
};

static const enum sc_writer_state state_failed[_SC_EVENT_MAX] = {
	[SC_EVENT_IDENTIFY] = SC_WS_FAILED_AT_IDENTIFY,
	[SC_EVENT_PREPARE_BACKUP] = SC_WS_FAILED_AT_PREPARE_BACKUP,
	[SC_EVENT_PREPARE_SNAPSHOT] = SC_WS_FAILED_AT_PREPARE_SNAPSHOT,
	[SC_EVENT_FREEZE] = SC_WS_FAILED_AT_FREEZE,
	[SC_EVENT_THAW] = SC_WS_FAILED_AT_THAW,
	[SC_EVENT_POST_SNAPSHOT] = SC_WS_FAILED_AT_POST_SNAPSHOT,
	[SC_EVENT_ABORT] = SC_WS_UNKNOWN,
	[SC_EVENT_BACKUP_COMPLETE] = SC_WS_FAILED_AT_BACKUP_COMPLETE,
	[SC_EVENT_BACKUP_SHUTDOWN] = SC_WS_FAILED_AT_BACKUPSHUTDOWN,
	[SC_EVENT_PRE_RESTORE] = SC_WS_FAILED_AT_PRE_RESTORE,
	[SC_EVENT_POST_RESTORE] = SC_WS_FAILED_AT_POST_RESTORE,
};

void writer_events_next_state(enum sc_event event, bool ok, int failure,
			      enum sc_writer_state *state, int *last_failure)
{
	/* An Abort, answered or not, does not hide an earlier failure: the
	 * first cause is what the requester needs (vss-model 4.6, T29). */
	if (event == SC_EVENT_ABORT && *state >= SC_WS_FAILED_AT_IDENTIFY)
		return;
	if (!ok) {
		*state = state_failed[event];
		*last_failure = failure;
		return;
	}
	*state = state_after[event];
	/* 0, or a code set without a veto (protocol.md §4.2); never one set
	 * in Identify (T58). */
	*last_failure = event == SC_EVENT_IDENTIFY ? 0 : failure;
}

static void record_state(struct writer *w, enum sc_event event,
			 const struct writer_event_reply *reply)
{
	writer_events_next_state(event, reply->status == WRITER_EVENT_OK, reply->failure,
				 &w->state, &w->failure);
}

/* Unlink @e first and call back last, so the callback may do anything with
 * the writer's other events, including cancelling them. */
static void event_complete(struct writer_event *e, const struct writer_event_reply *reply)
{
	struct writer *w = e->writer;
	writer_event_fn callback = e->callback;
	void *userdata = e->userdata;

	TAILQ_REMOVE(&w->events, e, entry);
	sd_event_source_disable_unref(e->timer);
	record_state(w, e->event, reply);
	free(e);
	callback(w, reply, userdata);
}

static int on_deadline(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct writer_event *e = userdata;
	const struct writer_event_reply reply = {
		.status = WRITER_EVENT_TIMEOUT,
		.failure = -SC_E_WRITER_NOT_RESPONDING,
	};

	log_warning("Writer '%s' did not answer %s in time", e->writer->identity.name,
		    sc_event_name(e->event));
	event_complete(e, &reply);
	return 0;
}

int writer_events_send(struct writer *w, enum sc_event event, json_t *params,
		       uint64_t deadline_usec, writer_event_fn callback, void *userdata,
		       struct writer_event **ret)
{
	struct writer_event *e;
	int r;

	if (w->leaving) {
		json_decref(params);
		return -SC_E_WRITER_NOT_RESPONDING;
	}
	e = calloc(1, sizeof(*e));
	if (!e) {
		json_decref(params);
		return -ENOMEM;
	}
	*e = (struct writer_event){
		.writer = w,
		.event = event,
		.id = w->conn->next_event_id++,
		.callback = callback,
		.userdata = userdata,
	};
	r = sd_event_add_time(w->daemon->event, &e->timer, CLOCK_MONOTONIC, deadline_usec,
			      USEC_PER_MSEC, on_deadline, e);
	if (r >= 0)
		r = connection_send(w->conn, wire_event(e->id, sc_event_name(event), params));
	else
		json_decref(params);
	if (r < 0) {
		sd_event_source_disable_unref(e->timer);
		free(e);
		return r;
	}
	TAILQ_INSERT_TAIL(&w->events, e, entry);
	*ret = e;
	return 0;
}

void writer_events_cancel(struct writer_event *e)
{
	TAILQ_REMOVE(&e->writer->events, e, entry);
	sd_event_source_disable_unref(e->timer);
	free(e);
}

/* Only the failure codes a writer may set (vss-model 4.4); an unknown or
 * missing one is WRITERERROR_NONRETRYABLE (protocol.md §4.2). */
static int writer_failure(const char *name)
{
	int r = sc_error_from_name(name);

	if (r <= -SC_E_WRITERERROR_PARTIAL_FAILURE && r >= -SC_E_WRITERERROR_RECOVERY_FAILED)
		return r;
	return -SC_E_WRITERERROR_NONRETRYABLE;
}

static void parse_answer(const struct writer *w, const struct wire_message *m,
			 struct writer_event_reply *ret)
{
	const char *failure = NULL;
	bool success;

	*ret = (struct writer_event_reply){
		.status = WRITER_EVENT_FAILED,
		.failure = -SC_E_WRITERERROR_NONRETRYABLE,
	};
	if (m->kind == WIRE_ERROR) {
		(void)wire_error_decode(m->body, &ret->message); /* any error is a failure */
		return;
	}
	if (json_get_bool(m->body, "success", true, &success) < 0 ||
	    json_get_string(m->body, "failure", false, &failure) < 0 ||
	    json_get_string(m->body, "message", false, &ret->message) < 0) {
		log_warning("Writer '%s' sent a malformed answer, counting it as a failure",
			    w->identity.name);
		return;
	}
	if (success) {
		ret->status = WRITER_EVENT_OK;
		ret->failure = failure && strcmp(failure, "OK") != 0 ? writer_failure(failure) : 0;
		ret->result = m->body;
	} else if (failure) {
		ret->failure = writer_failure(failure);
	}
}

void writer_events_handle_reply(struct writer *w, const struct wire_message *m)
{
	struct writer_event_reply reply;
	struct writer_event *e;

	if (!m->has_id) {
		log_debug("Writer '%s' reported an error about a message of ours, ignoring",
			  w->identity.name);
		return;
	}
	TAILQ_FOREACH(e, &w->events, entry)
		if (e->id == m->id)
			break;
	if (!e) {
		log_debug("Writer '%s' answered event %lld, which is not outstanding, ignoring",
			  w->identity.name, (long long)m->id);
		return;
	}
	parse_answer(w, m, &reply);
	/* Not its message: a writer's own text stays out of our logs. */
	if (reply.status != WRITER_EVENT_OK)
		log_info("Writer '%s' failed %s: %s", w->identity.name, sc_event_name(e->event),
			 sc_error_name(reply.failure));
	event_complete(e, &reply);
}

void writer_events_fail_all(struct writer *w)
{
	const struct writer_event_reply reply = {
		.status = WRITER_EVENT_GONE,
		.failure = -SC_E_WRITER_NOT_RESPONDING,
	};
	struct writer_event *e;

	while ((e = TAILQ_FIRST(&w->events)))
		event_complete(e, &reply);
}
