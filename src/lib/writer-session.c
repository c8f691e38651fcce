/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * writer-session.c - the writer side of freeze safety (design.md "Freeze
 * safety", item 1): from Freeze until Thaw or Abort of a backup session the
 * library holds a deadline of the writer's freeze timeout; when it passes, or
 * the connection drops, it runs the Abort handler itself (VSS's dwTimeoutFreeze).
 * It never talks to the service; the service keeps its own deadlines.
 */
#include <errno.h>
#include <stdlib.h>
#include <syslog.h>

#include "time-util.h"
#include "writer-internal.h"

/* A session that the library aborted by itself keeps this deadline until the
 * service's Thaw, Abort or BackupShutdown for it arrives. */
#define SESSION_ABORTED UINT64_MAX

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

static int session_frozen(struct sc_writer *w, const struct sc_writer_event *ev)
{
	struct writer_session *s = session_find(w, &ev->session);

	if (!s) {
		s = calloc(1, sizeof(*s));
		if (!s)
			return -ENOMEM;
		s->next = w->sessions;
		w->sessions = s;
	}
	/* The Abort the library would run carries what Freeze carried, less
	 * the volumes and components (VSS's OnAbort gets neither). */
	s->abort = (struct sc_writer_event){
		.type = SC_EVENT_ABORT,
		.session = ev->session,
		.snapshot_set_id = ev->snapshot_set_id,
		.context = ev->context,
		.backup_type = ev->backup_type,
		.select_components = ev->select_components,
	};
	s->thaw_deadline_usec = time_deadline_usec((uint64_t)w->freeze_timeout_ms * 1000u);
	return 0;
}

bool writer_session_timed_out(struct sc_writer *w, const struct sc_writer_event *ev)
{
	struct writer_session *s;

	if (ev->type != SC_EVENT_THAW)
		return false;
	s = session_find(w, &ev->session);
	return s && s->thaw_deadline_usec == SESSION_ABORTED;
}

int writer_session_update(struct sc_writer *w, const struct sc_writer_event *ev)
{
	struct writer_session *s;

	switch (ev->type) {
	case SC_EVENT_FREEZE:
		/* Tracked even when the handler vetoed: it may have frozen
		 * part of its data, and only Abort undoes that. */
		return session_frozen(w, ev);
	case SC_EVENT_THAW:
	case SC_EVENT_ABORT:
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
		if (s->thaw_deadline_usec < t)
			t = s->thaw_deadline_usec;
	return t;
}

static void session_abort(struct sc_writer *w, const struct sc_writer_event *abort)
{
	int failure;

	if (!writer_dispatch_run(w, abort, &failure))
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
		for (s = w->sessions; s && s->thaw_deadline_usec > now; s = s->next)
			;
		if (!s)
			return did;
		s->thaw_deadline_usec = SESSION_ABORTED;
		abort = s->abort;
		writer_log(w, LOG_WARNING, "No Thaw within the freeze timeout of %u ms, aborting",
			   w->freeze_timeout_ms);
		session_abort(w, &abort);
		did = 1;
	}
}

void writer_session_abort_all(struct sc_writer *w)
{
	struct writer_session *s = w->sessions, *next;

	/* Detach first: the service that sent Freeze is gone, and whatever it
	 * was doing with these sessions ended with the connection. */
	w->sessions = NULL;
	for (; s; s = next) {
		next = s->next;
		if (s->thaw_deadline_usec != SESSION_ABORTED) {
			writer_log(w, LOG_WARNING, "Lost the service while frozen, aborting");
			session_abort(w, &s->abort);
		}
		free(s);
	}
}
