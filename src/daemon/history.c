/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * history.c - what happened in a backup (events per writer with outcome and
 * duration, provider calls, phases), kept in memory and written to the
 * catalog in one transaction at the end of each long operation: so never
 * between its own set's Freeze and Thaw, and never while any set holds writes.
 * Another session's writers may be frozen meanwhile; that is safe because the
 * state directory is never on a volume of a set (hold.c refuses it).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "session.h"

/* Lines kept per session between two flushes; a runaway is cut short. */
#define HISTORY_MAX 4096

static uint64_t realtime_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * USEC_PER_SEC + (uint64_t)ts.tv_nsec / 1000;
}

static void line_done(struct history_line *l)
{
	free(l->what);
	free(l->writer);
	free(l->writer_name);
}

void history_add(struct session *s, const char *kind, const char *what, const char *who,
		 const char *who_name, int state, int failure, uint64_t duration_usec)
{
	struct history_line *a, *l;

	if (s->n_history >= HISTORY_MAX)
		return;
	a = reallocarray(s->history, s->n_history + 1, sizeof(*a));
	if (!a)
		return; /* history is a record, not a reason to fail a backup */
	s->history = a;
	l = &a[s->n_history];
	*l = (struct history_line){
		.realtime_usec = realtime_usec(),
		.kind = kind,
		.what = strdup(what),
		.writer = who ? strdup(who) : NULL,
		.writer_name = who_name ? strdup(who_name) : NULL,
		.state = state,
		.failure = failure,
		.duration_usec = duration_usec,
	};
	if (!l->what) {
		line_done(l);
		return;
	}
	s->n_history++;
}

void history_done(struct session *s)
{
	for (size_t i = 0; i < s->n_history; i++)
		line_done(&s->history[i]);
	free(s->history);
	s->history = NULL;
	s->n_history = 0;
}

void history_flush(struct session *s)
{
	struct catalog_history *lines;
	int r;

	/* Sessions wait for a hold to end (hold-window.c); only one freed at
	 * exit meanwhile gets here, and its lines are lost. */
	if (s->n_history == 0 || !s->daemon->catalog || s->daemon->window)
		return;
	lines = calloc(s->n_history, sizeof(*lines));
	if (!lines) {
		log_warning_errno(ENOMEM, "Failed to write the history of session, ignoring");
		history_done(s);
		return;
	}
	for (size_t i = 0; i < s->n_history; i++)
		lines[i] = (struct catalog_history){
			.realtime_usec = s->history[i].realtime_usec,
			.kind = s->history[i].kind,
			.what = s->history[i].what,
			.writer = s->history[i].writer,
			.writer_name = s->history[i].writer_name,
			.state = s->history[i].state,
			.failure = s->history[i].failure,
			.duration_usec = s->history[i].duration_usec,
		};
	r = catalog_history_add(s->daemon->catalog, &s->id, s->set ? &s->set->id : NULL, lines,
				s->n_history);
	if (r < 0)
		log_warning_errno(r, "Failed to write the history of a backup, ignoring");
	free(lines);
	history_done(s);
}
