/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * writer-dispatch.c - from an event message to the application's handler and
 * back to the reply of docs/protocol.md §4.2: {"success", "failure",
 * "metadata"}.  Also the one place that runs handlers, so that
 * sc_writer_set_failure() knows which event it belongs to.
 */
#include <errno.h>
#include <syslog.h>

#include "cleanup.h"
#include "json-util.h"
#include "metadata.h"
#include "time-util.h"
#include "writer-internal.h"

/* The handler state is saved and restored, because an Abort that the library
 * runs itself (writer-session.c) may start inside another handler. */
struct handler_frame {
	bool in_handler;
	enum sc_event event;
	int failure;
};

static struct handler_frame frame_enter(struct sc_writer *w, enum sc_event event)
{
	struct handler_frame saved = { w->in_handler, w->handler_event, w->failure };

	w->in_handler = true;
	w->handler_event = event;
	w->failure = 0;
	return saved;
}

static void frame_leave(struct sc_writer *w, struct handler_frame saved)
{
	w->in_handler = saved.in_handler;
	w->handler_event = saved.event;
	w->failure = saved.failure;
}

static bool run_handler(struct sc_writer *w, const struct writer_handler *h,
			const struct sc_writer_event *ev, int *ret_failure)
{
	struct handler_frame saved;
	bool ok;
	int failure;

	if (!h->fn) {
		*ret_failure = 0; /* VSS's default handlers succeed */
		return true;
	}
	saved = frame_enter(w, ev->type);
	ok = h->fn(w, ev, h->userdata);
	failure = w->failure;
	frame_leave(w, saved);
	*ret_failure = failure || ok ? failure : -SC_E_WRITERERROR_NONRETRYABLE;
	return ok;
}

bool writer_dispatch_run(struct sc_writer *w, const struct sc_writer_event *ev, int *ret_failure)
{
	return run_handler(w, &w->handlers[ev->type], ev, ret_failure);
}

bool writer_dispatch_abort(struct sc_writer *w, const struct sc_writer_event *ev, bool frozen,
			   int *ret_failure)
{
	const struct writer_handler *h = &w->handlers[SC_EVENT_ABORT];

	/* A writer that set no Abort handler still gets back to normal when
	 * frozen: its Thaw logic is what undoes a freeze (A21). */
	if (!h->fn && frozen)
		h = &w->handlers[SC_EVENT_THAW];
	return run_handler(w, h, ev, ret_failure);
}

/* Answer event @id; a failure code goes with a veto and also with a success
 * after a non-fatal error (VSS lets a handler set a failure and return true). */
static int reply(struct sc_writer *w, int64_t id, bool ok, int failure, json_t *metadata)
{
	_cleanup_json_ json_t *result = NULL, *msg = NULL;

	result = json_pack("{s:b}", "success", ok);
	if (!result)
		return -ENOMEM;
	if (failure && json_set(result, "failure", json_string(sc_error_name(failure))) < 0)
		return -ENOMEM;
	if (metadata && json_set(result, "metadata", json_incref(metadata)) < 0)
		return -ENOMEM;
	msg = wire_result(true, id, TAKE_PTR(result));
	if (!msg)
		return -ENOMEM;
	return writer_link_send(w, msg);
}

static int dispatch_identify(struct sc_writer *w, int64_t id)
{
	struct sc_writer_metadata *m;
	struct handler_frame saved;
	bool ok = true;
	int r;

	m = writer_metadata_new();
	if (!m)
		return -ENOMEM;
	if (w->identify) {
		saved = frame_enter(w, SC_EVENT_IDENTIFY);
		ok = w->identify(w, m, w->identify_userdata);
		frame_leave(w, saved);
	}
	if (ok && metadata_check(writer_metadata_json(m)) < 0) {
		writer_log(w, LOG_ERR, "The Identify handler built an invalid metadata document");
		ok = false;
	}
	r = reply(w, id, ok, 0, ok ? writer_metadata_json(m) : NULL);
	if (r == -SC_E_MESSAGE_TOO_LARGE) {
		writer_log(w, LOG_ERR, "The writer metadata document is larger than the protocol allows");
		r = reply(w, id, false, 0, NULL);
	}
	writer_metadata_free(m);
	return r;
}

static int dispatch_event(struct sc_writer *w, const struct wire_message *m, enum sc_event type)
{
	_cleanup_json_ json_t *msg = NULL;
	struct sc_writer_event ev;
	uint64_t received_usec;
	int failure, r;
	bool ok;

	r = writer_event_parse(type, m->body, &ev);
	if (r == -SC_E_INVALID_MESSAGE) {
		writer_log(w, LOG_WARNING, "Malformed params in event '%s'", m->name);
		msg = wire_error(true, m->id, r, "Malformed params in event '%s'", m->name);
		return msg ? writer_link_send(w, msg) : -ENOMEM;
	}
	if (r < 0)
		return r;
	writer_log(w, LOG_DEBUG, "Event '%s'", m->name);
	received_usec = time_now_usec();
	if (writer_session_skip(w, &ev, &ok, &failure))
		; /* answered from what the library already did */
	else if (type == SC_EVENT_ABORT)
		ok = writer_dispatch_abort(w, &ev, writer_session_is_frozen(w, &ev.session),
					   &failure);
	else
		ok = writer_dispatch_run(w, &ev, &failure);
	r = writer_session_update(w, &ev, received_usec);
	writer_event_done(&ev);
	if (r < 0)
		return r;
	return reply(w, m->id, ok, failure, NULL);
}

int writer_dispatch(struct sc_writer *w, const struct wire_message *m)
{
	_cleanup_json_ json_t *msg = NULL;
	int type = sc_event_from_name(m->name);

	if (type == SC_EVENT_IDENTIFY)
		return dispatch_identify(w, m->id);
	if (type >= 0)
		return dispatch_event(w, m, (enum sc_event)type);
	/* an event of a later protocol minor version */
	msg = wire_error(true, m->id, -SC_E_UNKNOWN_METHOD, "Unknown event '%s'", m->name);
	return msg ? writer_link_send(w, msg) : -ENOMEM;
}
