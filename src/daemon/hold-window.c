/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hold-window.c - the flush-and-hold window of a snapshot set (vss-model
 * 2.4, 7.2 steps 6-8, T27, T28): the freeze record is written and the
 * freeze guardian holds the filesystems first, then those of the set's
 * volumes whose provider holds writes are flushed and frozen on a thread,
 * the hold limit runs on the loop, and a thaw on a thread ends the window
 * on every path, a guardian lost during the hold included.  While a window
 * is open the rest of the service writes nothing to disk: other sessions
 * wait and deletes wait.  The freeze itself is hold.c's, the guardian
 * guardian.c's; the order of the steps around it is coordinator.c's.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <systemd/sd-event.h>

#include "cleanup.h"
#include "freeze-record.h"
#include "guardian.h"
#include "hold.h"
#include "log.h"
#include "session.h"

/* A failed FITHAW is tried this many times in all, this far apart. */
#define THAW_TRIES 5
#define THAW_RETRY_NSEC (100 * 1000 * 1000L)

enum window_state {
	WINDOW_GUARDING, /* recorded; the guardian is asked to hold */
	WINDOW_FREEZING, /* the flush-and-freeze job runs */
	WINDOW_HELD,     /* frozen: the commits run */
	WINDOW_THAWING,  /* the thaw job runs */
	WINDOW_CLOSED,
};

struct hold_window {
	struct daemon *daemon;
	struct session *session; /* NULL once let go: it then ends alone */
	struct hold *hold;
	struct sc_id set_id;
	enum window_state state;
	bool recorded;           /* the freeze record is written */
	bool guarded;            /* the guardian was asked to hold */
	bool thaw_due;           /* thaw as soon as the freeze returns */
	sd_event_source *limit;  /* the hold limit, from the start of the flush */
	uint64_t opened_usec;
	uint64_t held_usec;      /* when the first freeze began, once all are frozen */
	uint64_t freeze_start_usec; /* from the freeze job's thread */
	uint64_t flush_usec, freeze_usec, thaw_usec; /* how long each took, for the log */
	/* the freeze job's input: the filesystems and their devices at add time */
	char *paths[SET_VOLUMES_MAX];
	dev_t devs[SET_VOLUMES_MAX];
	size_t n_paths;
	struct hold_protected protected[HOLD_PROTECTED_MAX];
	size_t n_protected;
};

/* The freeze or the thaw, on a worker thread: it touches only w->hold. */
struct window_job {
	struct worker_job job;
	struct hold_window *window;
	int result;
	char *reason;
};

static uint64_t thread_now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * USEC_PER_SEC + (uint64_t)ts.tv_nsec / 1000;
}

static uint64_t now_usec(const struct daemon *d)
{
	uint64_t t = 0;

	(void)sd_event_now(d->event, CLOCK_MONOTONIC, &t); /* the loop runs */
	return t;
}

size_t hold_window_protected(const struct config *c, struct hold_protected *ret)
{
	size_t n = 0;

	ret[n++] = (struct hold_protected){ "/", "the root filesystem" };
	ret[n++] = (struct hold_protected){ c->state_dir, "the service's state directory" };
	ret[n++] = (struct hold_protected){ c->socket_path, "the service's socket" };
	if (c->writer_socket_path)
		ret[n++] = (struct hold_protected){ c->writer_socket_path,
						    "the service's writer socket" };
	ret[n++] = (struct hold_protected){ "/proc/self/exe", "the service's program" };
	/* A log file there would make the service's own messages wait. */
	ret[n++] = (struct hold_protected){ "/proc/self/fd/2", "the service's log" };
	return n;
}

/* The gate: threads that would write (deletes) wait while a window is open. */
static void gate_set(struct daemon *d, bool closed)
{
	(void)pthread_mutex_lock(&d->gate.lock); /* a valid, unlocked mutex */
	d->gate.closed = closed;
	if (!closed)
		(void)pthread_cond_broadcast(&d->gate.cond);
	(void)pthread_mutex_unlock(&d->gate.lock);
}

void hold_window_gate_wait(struct daemon *d)
{
	(void)pthread_mutex_lock(&d->gate.lock);
	while (d->gate.closed)
		(void)pthread_cond_wait(&d->gate.cond, &d->gate.lock);
	(void)pthread_mutex_unlock(&d->gate.lock);
}

bool hold_window_holds_back(const struct session *s)
{
	const struct hold_window *w = s->daemon->window;

	return w && w->session != s;
}

bool hold_window_busy(const struct session *s)
{
	const struct hold_window *w = s->set ? s->set->window : NULL;

	return w && w->state != WINDOW_HELD && w->state != WINDOW_CLOSED;
}

/* Nothing is frozen any more: the guardian lets go, the record goes. */
static void window_unguard(struct hold_window *w)
{
	int r;

	if (w->guarded)
		guardian_release(w->daemon->guardian);
	w->guarded = false;
	if (!w->recorded)
		return;
	r = freeze_record_remove(w->daemon->config->state_dir);
	if (r < 0)
		log_warning_errno(r, "Failed to remove the freeze record, ignoring");
	w->recorded = false;
}

static struct hold_window *window_free(struct hold_window *w)
{
	window_unguard(w);
	sd_event_source_disable_unref(w->limit);
	hold_free(w->hold);
	for (size_t i = 0; i < w->n_paths; i++)
		free(w->paths[i]);
	free(w);
	return NULL;
}

/* The set fails because of the window (the first cause wins). */
static void window_fail(struct hold_window *w, int error, char *reason)
{
	struct session *s = w->session;

	if (!s || s->error != 0) {
		free(reason);
		return;
	}
	s->error = error;
	free(s->error_reason);
	s->error_reason = reason;
	session_kick(s);
}

/* Everything is thawed: the rest of the service may write again. */
static void window_closed(struct hold_window *w)
{
	struct daemon *d = w->daemon;
	struct session *s;

	w->state = WINDOW_CLOSED;
	w->limit = sd_event_source_disable_unref(w->limit);
	window_unguard(w);
	if (w->held_usec)
		log_info("Writes to %zu filesystem%s were held for %.1f ms (flush %.1f ms, freeze "
			 "%.1f ms, thaw %.1f ms)", w->hold->n, w->hold->n == 1 ? "" : "s",
			 (double)(now_usec(d) - w->held_usec) / USEC_PER_MSEC,
			 (double)w->flush_usec / USEC_PER_MSEC,
			 (double)w->freeze_usec / USEC_PER_MSEC,
			 (double)w->thaw_usec / USEC_PER_MSEC);
	d->window = NULL;
	gate_set(d, false);
	delete_job_resume_parked(d);
	TAILQ_FOREACH(s, &d->sessions, entry)
		session_kick(s); /* those held back, and the owner */
	if (!w->session)
		window_free(w);
}

static void window_job_done(struct worker_job *job);

static void thaw_run(struct worker_job *job)
{
	static const struct timespec pause = { .tv_nsec = THAW_RETRY_NSEC };
	struct window_job *j = (struct window_job *)job;
	uint64_t start = thread_now_usec();

	j->result = hold_thaw(j->window->hold);
	/* A filesystem that refused to thaw is tried again (only those). */
	for (int i = 1; j->result < 0 && i < THAW_TRIES; i++) {
		(void)nanosleep(&pause, NULL);
		j->result = hold_thaw(j->window->hold);
	}
	j->window->thaw_usec = thread_now_usec() - start;
}

static void start_thaw(struct hold_window *w)
{
	struct window_job *j;
	int r = -ENOMEM;

	w->state = WINDOW_THAWING;
	w->limit = sd_event_source_disable_unref(w->limit); /* the hold has ended */
	j = calloc(1, sizeof(*j));
	if (j) {
		*j = (struct window_job){ .job.run = thaw_run, .job.done = window_job_done,
					  .window = w };
		r = worker_start(w->daemon, &j->job);
	}
	if (r >= 0)
		return;
	free(j);
	/* No thread: a thaw on the loop beats a filesystem left frozen. */
	log_error_errno(r, "Failed to start the thaw job, thawing on the event loop");
	r = hold_thaw(w->hold);
	if (r < 0)
		log_error_errno(r, "FAILED TO THAW a filesystem of the snapshot set");
	window_closed(w);
}

static void release(struct hold_window *w)
{
	if (w->state == WINDOW_GUARDING) {
		window_closed(w); /* nothing frozen yet */
	} else if (w->state == WINDOW_FREEZING) {
		w->thaw_due = true;
		atomic_store(&w->hold->stop, true);
	} else if (w->state == WINDOW_HELD) {
		start_thaw(w);
	}
}

static int on_limit(sd_event_source *src, uint64_t usec, void *userdata)
{
	struct hold_window *w = userdata;
	bool flushing = w->state == WINDOW_GUARDING || w->state == WINDOW_FREEZING;

	w->limit = sd_event_source_disable_unref(w->limit);
	log_error("Writes were held longer than the limit (%llu ms) while %s: thawing",
		  (unsigned long long)(w->daemon->config->hold_usec / USEC_PER_MSEC),
		  flushing ? "flushing and freezing" : "the providers committed");
	window_fail(w, flushing ? -SC_E_FLUSH_WRITES_TIMEOUT : -SC_E_HOLD_WRITES_TIMEOUT, NULL);
	release(w);
	return 0;
}

/* What the set's requester sees of a failed flush or freeze. */
static int freeze_error(int r)
{
	if (r == -ENOMEM || r == -SC_E_VOLUME_NOT_SUPPORTED_BY_PROVIDER)
		return r;
	return -SC_E_FLUSH_WRITES_TIMEOUT;
}

static void freeze_run(struct worker_job *job)
{
	struct window_job *j = (struct window_job *)job;
	struct hold_window *w = j->window;
	uint64_t start = thread_now_usec(), flushed;
	int r = 0;

	/* The refusals again, right before the freeze: mounts change. */
	for (size_t i = 0; r >= 0 && i < w->n_paths; i++)
		r = hold_add(w->hold, w->paths[i], w->devs[i], w->protected, w->n_protected,
			     &j->reason);
	if (r >= 0)
		r = hold_flush(w->hold, &j->reason);
	flushed = thread_now_usec();
	if (r >= 0)
		r = hold_freeze(w->hold, &j->reason);
	w->freeze_start_usec = flushed;
	w->flush_usec = flushed - start;
	w->freeze_usec = thread_now_usec() - flushed;
	j->result = r;
}

static void freeze_done(struct hold_window *w, struct window_job *j)
{
	w->state = WINDOW_HELD;
	if (j->result == -ECANCELED) {
		free(TAKE_PTR(j->reason)); /* the limit passed: already failed */
	} else if (j->result < 0) {
		log_error_errno(j->result, "Flush-and-hold failed: %s",
				j->reason ? j->reason : sc_strerror(j->result));
		window_fail(w, freeze_error(j->result), TAKE_PTR(j->reason));
		w->thaw_due = true;
	} else {
		w->held_usec = w->freeze_start_usec;
		/* The log is on a filesystem never frozen (hold_window_protected). */
		log_debug("Holding writes to %zu filesystem%s", w->hold->n,
			  w->hold->n == 1 ? "" : "s");
	}
	if (w->thaw_due || !w->session) {
		if (hold_frozen(w->hold))
			start_thaw(w);
		else
			window_closed(w);
		return;
	}
	session_kick(w->session);
}

static void window_job_done(struct worker_job *job)
{
	struct window_job *j = (struct window_job *)job;
	struct hold_window *w = j->window;

	if (w->state == WINDOW_FREEZING) {
		freeze_done(w, j);
	} else {
		if (j->result < 0)
			log_error_errno(j->result,
					"FAILED TO THAW a filesystem of the snapshot set");
		window_closed(w);
	}
	free(j->reason);
	free(j);
}

/* The filesystems to hold: those of the volumes whose provider asks for it. */
static int window_collect(struct hold_window *w, const struct snapshot_set *set)
{
	for (size_t i = 0; i < set->n_volumes; i++) {
		const struct set_volume *v = &set->volumes[i];

		if (!(v->provider->flags & SC_PROVIDER_HOLDS_WRITES))
			continue;
		w->paths[w->n_paths] = strdup(v->volume.filesystem);
		if (!w->paths[w->n_paths])
			return -ENOMEM;
		w->devs[w->n_paths++] = v->hold_dev;
	}
	return 0;
}

static int start_freeze(struct hold_window *w)
{
	struct window_job *j;
	int r;

	j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	*j = (struct window_job){ .job.run = freeze_run, .job.done = window_job_done, .window = w };
	r = worker_start(w->daemon, &j->job);
	if (r < 0) {
		free(j);
		return r;
	}
	w->state = WINDOW_FREEZING;
	return 0;
}

/* What the set's requester sees of a hold the guardian would not take. */
static int guardian_error(int r)
{
	if (r == -ENOMEM || r == -SC_E_VOLUME_NOT_SUPPORTED_BY_PROVIDER)
		return r;
	return -SC_E_UNEXPECTED;
}

/* The hold can go on no longer: the set fails, and what is frozen thaws. */
static void window_abandon(struct hold_window *w, int error, const char *reason)
{
	char *copy = reason ? strdup(reason) : NULL;

	if (w->state == WINDOW_GUARDING || w->state == WINDOW_FREEZING ||
	    w->state == WINDOW_HELD) {
		window_fail(w, error, copy);
		release(w);
	} else {
		free(copy); /* thawing already: the set goes on */
	}
}

/* The guardian's deadline passed: the service (stopped, or hung) did not
 * end the hold in time.  As for the hold limit, only later. */
static void on_expired(struct hold_window *w, int thawed)
{
	if (thawed < 0)
		log_error_errno(thawed, "The freeze guardian failed to thaw at its deadline");
	else
		log_error("The freeze guardian thawed at its deadline: the service did not end "
			  "the hold in time");
	window_abandon(w, w->state == WINDOW_FREEZING ? -SC_E_FLUSH_WRITES_TIMEOUT
						     : -SC_E_HOLD_WRITES_TIMEOUT, NULL);
}

static void on_guardian(enum guardian_event event, int error, const char *reason, void *userdata)
{
	struct hold_window *w = userdata;
	int r;

	switch (event) {
	case GUARDIAN_HELD:
		r = start_freeze(w);
		if (r < 0)
			window_abandon(w, r, NULL);
		break;
	case GUARDIAN_REFUSED:
		w->guarded = false; /* it holds nothing */
		log_error_errno(error, "The freeze guardian refused the hold: %s",
				reason ? reason : sc_strerror(error));
		window_abandon(w, guardian_error(error), reason);
		break;
	case GUARDIAN_LOST:
		w->guarded = false;
		if (w->state == WINDOW_THAWING)
			log_notice("The service was thawing already: the set goes on");
		else
			log_error("Nothing guards the held writes any more: thawing, the set fails");
		window_abandon(w, error, reason);
		break;
	case GUARDIAN_EXPIRED:
		on_expired(w, error);
		break;
	}
}

/* Intent before action: the record is on disk and the guardian holds the
 * filesystems before anything is frozen. */
static int window_guard(struct hold_window *w)
{
	const struct config *c = w->daemon->config;
	struct freeze_record_fs fs[SET_VOLUMES_MAX];
	int r;

	for (size_t i = 0; i < w->n_paths; i++)
		fs[i] = (struct freeze_record_fs){ w->paths[i], w->devs[i] };
	r = freeze_record_write(c->state_dir, &w->set_id, fs, w->n_paths);
	if (r < 0)
		return log_error_errno(r, "Failed to write the freeze record in '%s'",
				       c->state_dir);
	w->recorded = true;
	r = guardian_hold(w->daemon->guardian, &w->set_id, c->state_dir, fs, w->n_paths,
			  w->opened_usec + c->hold_usec + GUARDIAN_MARGIN_USEC, on_guardian, w);
	if (r < 0)
		return log_error_errno(r, "Failed to ask the freeze guardian to hold");
	w->guarded = true;
	w->state = WINDOW_GUARDING;
	log_debug("Asked the freeze guardian to hold %zu filesystem%s", w->n_paths,
		  w->n_paths == 1 ? "" : "s");
	return 0;
}

static int window_start(struct hold_window *w)
{
	const struct config *c = w->daemon->config;
	int r;

	r = sd_event_add_time(w->daemon->event, &w->limit, CLOCK_MONOTONIC,
			      w->opened_usec + c->hold_usec, USEC_PER_MSEC, on_limit, w);
	if (r < 0)
		return r;
	r = window_guard(w);
	return r == -ENOMEM ? r : r < 0 ? -SC_E_UNEXPECTED : 0;
}

int hold_window_open(struct session *s)
{
	struct daemon *d = s->daemon;
	struct hold_window *w;
	int r;

	w = calloc(1, sizeof(*w));
	if (!w || !(w->hold = hold_new())) {
		free(w);
		return -ENOMEM;
	}
	w->daemon = d;
	w->session = s;
	w->set_id = s->set->id;
	w->opened_usec = now_usec(d);
	w->n_protected = hold_window_protected(d->config, w->protected);
	r = window_collect(w, s->set);
	if (r >= 0 && w->n_paths == 0) {
		window_free(w);
		return 0; /* nothing copies beneath a filesystem: no window */
	}
	if (r >= 0)
		r = window_start(w);
	if (r < 0) {
		window_free(w);
		return r;
	}
	s->set->window = w;
	d->window = w;
	gate_set(d, true);
	return 0;
}

void hold_window_release(struct session *s)
{
	if (s->set && s->set->window)
		release(s->set->window);
}

struct hold_window *hold_window_let_go(struct hold_window *w)
{
	if (!w)
		return NULL;
	if (w->state == WINDOW_CLOSED)
		return window_free(w);
	w->session = NULL;
	release(w);
	return NULL;
}
