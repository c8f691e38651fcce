/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * writer-session.c - the writer's duties that the library carries (design.md
 * "Freeze safety" item 1; vss-model A18-A21, B4-B10): from the arrival of
 * Freeze the library holds a deadline of the writer's freeze timeout, and
 * when it passes it runs the Abort handler itself; when the connection drops,
 * it ends each backup as the service would have: Abort where one is due, then
 * BackupShutdown (T48).  The Abort handler runs at most once per backup, and
 * never once PostSnapshot was handled (B5).  It never talks to the service:
 * the service keeps its own deadlines.
 */
#include <errno.h>
#include <stdlib.h>
#include <syslog.h>

#include "time-util.h"
#include "writer-internal.h"

/* thaw_deadline_usec of a session that is not frozen. */
#define NOT_FROZEN UINT64_MAX

static struct writer_session *session_find(struct sc_writer *w, const struct sc_id *session)
{
	for (struct writer_session *s = w->sessions; s; s = s->next)
		if (sc_id_equal(&s->abort.session, session))
			return s;
	return NULL;
}

static void session_remove(struct sc_writer *w, struct writer_session *s)
{
	for (struct writer_session **p = &w->sessions; *p; p = &(*p)->next)
		if (*p == s) {
			*p = s->next;
			free(s);
			return;
		}
}

/* The record of @ev's session, created if missing; it remembers the Abort
 * the library would run: what @ev carried, less the volumes and components
 * (VSS's OnAbort gets neither). */
static struct writer_session *session_get(struct sc_writer *w, const struct sc_writer_event *ev)
{
	struct writer_session *s = session_find(w, &ev->session);

	if (s)
		return s;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->abort = (struct sc_writer_event){
		.type = SC_EVENT_ABORT,
		.session = ev->session,
		.snapshot_set_id = ev->snapshot_set_id,
		.context = ev->context,
		.backup_type = ev->backup_type,
		.select_components = ev->select_components,
	};
	s->thaw_deadline_usec = NOT_FROZEN;
	s->next = w->sessions;
	w->sessions = s;
	return s;
}

bool writer_session_is_frozen(struct sc_writer *w, const struct sc_id *session)
{
	struct writer_session *s = session_find(w, session);

	return s && !s->aborted && s->thaw_deadline_usec != NOT_FROZEN;
}

bool writer_session_skip(struct sc_writer *w, const struct sc_writer_event *ev, bool *ret_ok,
			 int *ret_failure)
{
	struct writer_session *s = session_find(w, &ev->session);

	if (!s)
		return false;
	if (ev->type == SC_EVENT_THAW && s->aborted) {
		*ret_ok = false; /* the library already ran Abort: too late to thaw */
		*ret_failure = -SC_E_WRITERERROR_TIMEOUT;
		return true;
	}
	/* A19: the handler already ran for this backup; B5: the service sent
	 * it while PostSnapshot ran, and that is handled now. */
	if (ev->type == SC_EVENT_ABORT && (s->aborted || s->post_snapshot_handled)) {
		*ret_ok = true;
		*ret_failure = 0;
		return true;
	}
	return false;
}

int writer_session_update(struct sc_writer *w, const struct sc_writer_event *ev,
			  uint64_t received_usec)
{
	struct writer_session *s;

	switch (ev->type) {
	case SC_EVENT_PREPARE_BACKUP:
	case SC_EVENT_PREPARE_SNAPSHOT:
		/* Known from here on: if the service goes, this backup is ended. */
		return session_get(w, ev) ? 0 : -ENOMEM;
	case SC_EVENT_POST_SNAPSHOT:
		s = session_get(w, ev);
		if (!s)
			return -ENOMEM;
		s->post_snapshot_handled = true;
		return 0;
	case SC_EVENT_FREEZE:
		/* Tracked even when the handler vetoed: it may have frozen
		 * part of its data, and only Abort undoes that.  The window
		 * counts from the arrival of Freeze (B9, vss-model 5). */
		s = session_get(w, ev);
		if (!s)
			return -ENOMEM;
		s->thaw_deadline_usec = received_usec + (uint64_t)w->freeze_timeout_ms * 1000u;
		return 0;
	case SC_EVENT_THAW:
		s = session_find(w, &ev->session);
		if (s)
			s->thaw_deadline_usec = NOT_FROZEN;
		return 0;
	case SC_EVENT_ABORT:
		s = session_get(w, ev);
		if (!s)
			return -ENOMEM;
		s->aborted = true;
		s->thaw_deadline_usec = NOT_FROZEN;
		return 0;
	case SC_EVENT_BACKUP_SHUTDOWN:
		s = session_find(w, &ev->session);
		if (s)
			session_remove(w, s);
		return 0;
	default:
		return 0;
	}
}

uint64_t writer_session_next_deadline(const struct sc_writer *w)
{
	uint64_t t = UINT64_MAX;

	for (const struct writer_session *s = w->sessions; s; s = s->next)
		if (!s->aborted && s->thaw_deadline_usec < t)
			t = s->thaw_deadline_usec;
	return t;
}

/* Run the Abort handler of a session (the Thaw handler when the writer set
 * none and the session is frozen, A21). */
static void session_abort(struct sc_writer *w, const struct sc_writer_event *abort, bool frozen)
{
	int failure;

	if (!writer_dispatch_abort(w, abort, frozen, &failure))
		writer_log(w, LOG_WARNING, "The Abort handler failed: %s", sc_strerror(failure));
}

int writer_session_expire(struct sc_writer *w)
{
	uint64_t now = time_now_usec();
	struct sc_writer_event abort;
	struct writer_session *s;
	int did = 0;

	/* Rescan after every handler: it may change the list (by unsubscribing). */
	for (;;) {
		for (s = w->sessions; s && (s->aborted || s->thaw_deadline_usec > now); s = s->next)
			;
		if (!s)
			return did;
		/* Marked first, so that nothing the handler does runs it again. */
		s->aborted = true;
		s->thaw_deadline_usec = NOT_FROZEN;
		abort = s->abort;
		writer_log(w, LOG_WARNING, "No Thaw within the freeze timeout of %u ms, aborting",
			   w->freeze_timeout_ms);
		session_abort(w, &abort, true);
		did = 1;
	}
}

/* End @s as the service would have: Abort unless it had one or PostSnapshot
 * was handled (B5), then BackupShutdown (B10). */
static void session_end(struct sc_writer *w, struct writer_session *s)
{
	struct sc_writer_event shutdown = s->abort;
	bool frozen = s->thaw_deadline_usec != NOT_FROZEN;
	int failure;

	if (!s->aborted && !s->post_snapshot_handled) {
		writer_log(w, LOG_WARNING, "Lost the service during a backup%s, aborting",
			   frozen ? " while frozen" : "");
		s->aborted = true;
		session_abort(w, &s->abort, frozen);
	}
	shutdown.type = SC_EVENT_BACKUP_SHUTDOWN;
	if (!writer_dispatch_run(w, &shutdown, &failure))
		writer_log(w, LOG_WARNING, "The BackupShutdown handler failed: %s",
			   sc_strerror(failure));
}

void writer_session_end_all(struct sc_writer *w)
{
	struct writer_session *s = w->sessions, *next;

	/* Detach first: the service that sent these events is gone, and
	 * whatever it was doing with these sessions ended with the connection. */
	w->sessions = NULL;
	for (; s; s = next) {
		next = s->next;
		session_end(w, s);
		free(s);
	}
}
