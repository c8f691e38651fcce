/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * coordinator.c - do_snapshot_set, VSS's DoSnapshotSet (vss-model 2.4, 7.2):
 * PrepareForSnapshot, the providers' begin_prepare and end_prepare, Freeze
 * by level (front end, back end, system), pre_commit, flush-and-hold (when
 * a provider copies beneath a filesystem, hold-window.c), commit, release,
 * post_commit, Thaw, pre_final_commit, PostSnapshot, post_final_commit;
 * each step starts when the previous one has ended.  The catalog is written
 * before the first Freeze and after the last Thaw, never in between.
 * Failures go to abort.c, which applies the abort rules.
 */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include <systemd/sd-event.h>

#include "cleanup.h"
#include "log.h"
#include "session.h"

enum step {
	STEP_START,
	STEP_PARTICIPATION,
	STEP_PREPARE_SNAPSHOT,
	STEP_BEGIN_PREPARE,
	STEP_END_PREPARE,
	STEP_FREEZE,
	STEP_PRE_COMMIT,
	STEP_HOLD,
	STEP_COMMIT,
	STEP_RELEASE,
	STEP_POST_COMMIT,
	STEP_THAW,
	STEP_PRE_FINAL_COMMIT,
	STEP_POST_SNAPSHOT,
	STEP_POST_FINAL_COMMIT,
	STEP_DONE,
};

static const char *const step_names[] = {
	[STEP_START] = "start",
	[STEP_PARTICIPATION] = "participation",
	[STEP_PREPARE_SNAPSHOT] = "prepare_snapshot",
	[STEP_BEGIN_PREPARE] = "begin_prepare",
	[STEP_END_PREPARE] = "end_prepare",
	[STEP_FREEZE] = "freeze",
	[STEP_PRE_COMMIT] = "pre_commit",
	[STEP_HOLD] = "flush_and_hold",
	[STEP_COMMIT] = "commit",
	[STEP_RELEASE] = "release",
	[STEP_POST_COMMIT] = "post_commit",
	[STEP_THAW] = "thaw",
	[STEP_PRE_FINAL_COMMIT] = "pre_final_commit",
	[STEP_POST_SNAPSHOT] = "post_snapshot",
	[STEP_POST_FINAL_COMMIT] = "post_final_commit",
	[STEP_DONE] = "done",
};

static uint64_t realtime_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * USEC_PER_SEC + (uint64_t)ts.tv_nsec / 1000;
}

static bool commit_step(enum provider_step step)
{
	return step == PROVIDER_PRE_COMMIT || step == PROVIDER_COMMIT ||
	       step == PROVIDER_POST_COMMIT;
}

static void step_history(struct session *s, const struct step_job *j)
{
	for (size_t i = 0; i < j->reached; i++)
		if (j->step != PROVIDER_ABORT || j->groups[i].prepared)
			history_add(s, "provider", provider_step_name(j->step),
				    j->groups[i].provider->name, NULL, -1, j->raw[i], j->usec[i]);
}

static void on_step(struct step_job *j, void *userdata)
{
	struct session *s = userdata;
	struct snapshot_set *set = s->set;

	provider_step_log(j);
	step_history(s, j);
	set->job = NULL;
	set->job_timer = sd_event_source_disable_unref(set->job_timer);
	if (j->step == PROVIDER_END_PREPARE)
		for (size_t i = 0; i < j->reached; i++)
			set->groups[i].prepared = true; /* abort is due from now on (B13) */
	if (j->step == PROVIDER_COMMIT && j->result == 0)
		for (size_t i = 0; i < set->n_volumes; i++)
			set->volumes[i].created_realtime_usec = realtime_usec();
	if (j->step == PROVIDER_ABORT) {
		set->providers_aborted = true;
		set->abort_result = j->result;
	} else if (j->result < 0 && s->error == 0) {
		log_warning_errno(j->result, "Provider step %s failed", provider_step_name(j->step));
		s->error = j->result;
	}
	session_kick(s);
}

static int on_step_deadline(sd_event_source *src, uint64_t usec, void *userdata)
{
	struct session *s = userdata;

	s->set->job_timer = sd_event_source_disable_unref(s->set->job_timer);
	/* The call cannot be stopped: the set fails now (the writers are
	 * thawed by Abort) and the providers abort once it has returned. */
	log_error("Provider step %s did not return in time", provider_step_name(s->set->job->step));
	if (s->error == 0)
		s->error = -SC_E_UNEXPECTED_PROVIDER_ERROR;
	session_kick(s);
	return 0;
}

int coordinator_provider_step(struct session *s, enum provider_step step)
{
	const struct config *c = s->daemon->config;
	struct snapshot_set *set = s->set;
	uint64_t timeout = commit_step(step) ? c->provider_commit_usec : c->provider_usec;
	int r;

	if (set->n_groups == 0)
		return 0;
	r = provider_step_start(s->daemon, step, set->groups, set->n_groups, on_step, s, &set->job);
	if (r < 0)
		return r;
	r = sd_event_add_time(s->daemon->event, &set->job_timer, CLOCK_MONOTONIC,
			      session_now(s) + timeout, USEC_PER_MSEC, on_step_deadline, s);
	if (r < 0) /* no deadline: the call runs, and nothing waits for it in vain */
		log_warning_errno(r, "Failed to arm the deadline of provider step %s, ignoring",
				  provider_step_name(step));
	return 0;
}

/* One group per provider, in the order volumes were added. */
static void build_groups(struct snapshot_set *set)
{
	for (size_t i = 0; i < set->n_volumes; i++) {
		struct set_volume *v = &set->volumes[i];
		size_t g;

		for (g = 0; g < set->n_groups; g++)
			if (set->groups[g].provider == v->provider)
				break;
		if (g == set->n_groups)
			set->groups[set->n_groups++].provider = v->provider;
		set->groups[g].snaps[set->groups[g].n++] = &v->snap;
	}
}

/* The set's rows in @state, in one transaction. */
static int write_rows(struct session *s, enum catalog_state state)
{
	struct catalog_snapshot rows[SET_VOLUMES_MAX];

	for (size_t i = 0; i < s->set->n_volumes; i++)
		snapshot_set_row(s, i, state, &rows[i]);
	return catalog_put_snapshots(s->daemon->catalog, rows, s->set->n_volumes);
}

/* Intent before action: the rows exist before any provider runs. */
static int begin_prepare(struct session *s)
{
	int r;

	build_groups(s->set);
	if (s->set->n_volumes == 0)
		return 0;
	r = write_rows(s, CATALOG_CREATING);
	if (r < 0)
		return log_error_errno(r, "Failed to record the snapshot set in the catalog");
	s->set->intent_written = true;
	return coordinator_provider_step(s, PROVIDER_BEGIN_PREPARE);
}

static int step_begin(struct session *s)
{
	switch (s->step) {
	case STEP_PARTICIPATION:
		return participation_start(s);
	case STEP_PREPARE_SNAPSHOT:
		fanout_send(s, SC_EVENT_PREPARE_SNAPSHOT, 0);
		return 0;
	case STEP_BEGIN_PREPARE:
		return begin_prepare(s);
	case STEP_END_PREPARE:
		return coordinator_provider_step(s, PROVIDER_END_PREPARE);
	case STEP_FREEZE:
		s->freeze_level = SC_APP_FRONT_END; /* then back end, then system (T24) */
		fanout_send(s, SC_EVENT_FREEZE, s->freeze_level);
		return 0;
	case STEP_PRE_COMMIT:
		return coordinator_provider_step(s, PROVIDER_PRE_COMMIT);
	case STEP_HOLD:
		return hold_window_open(s);
	case STEP_COMMIT:
		return coordinator_provider_step(s, PROVIDER_COMMIT);
	case STEP_RELEASE:
		hold_window_release(s); /* T27: before any post_commit */
		return 0;
	case STEP_POST_COMMIT:
		return coordinator_provider_step(s, PROVIDER_POST_COMMIT);
	case STEP_THAW:
		fanout_send(s, SC_EVENT_THAW, 0);
		return 0;
	case STEP_PRE_FINAL_COMMIT:
		return coordinator_provider_step(s, PROVIDER_PRE_FINAL_COMMIT);
	case STEP_POST_SNAPSHOT:
		fanout_send(s, SC_EVENT_POST_SNAPSHOT, 0);
		return 0;
	case STEP_POST_FINAL_COMMIT:
		return coordinator_provider_step(s, PROVIDER_POST_FINAL_COMMIT);
	default:
		return 0;
	}
}

/* What a step leaves to do once everything in it has answered. */
static int step_end(struct session *s)
{
	uint64_t now = session_now(s);
	/* The hold's phases are recorded only when there was a hold. */
	bool hold_step = s->step == STEP_HOLD || s->step == STEP_RELEASE;
	int r = 0;

	if (s->step != STEP_START && (!hold_step || s->set->window))
		history_add(s, "phase", step_names[s->step], NULL, NULL, -1, 0,
			    now - s->phase_start_usec);
	s->phase_start_usec = now;
	/* The provider chose where the snapshots go: recorded before Freeze,
	 * so that recovery finds them whatever happens next. */
	if (s->step == STEP_BEGIN_PREPARE && s->set->n_volumes > 0) {
		r = write_rows(s, CATALOG_CREATING);
		if (r < 0)
			log_error_errno(r, "Failed to record the snapshot set in the catalog");
	}
	return r;
}

static void finish(struct session *s)
{
	json_t *result;
	int r;

	r = write_rows(s, CATALOG_COMMITTED);
	if (r < 0) {
		s->error = log_error_errno(r, "Failed to record the snapshots in the catalog");
		return; /* aborted: a snapshot the catalog does not know must not stay */
	}
	s->set->committed = true;
	if (s->context & SC_ATTR_PERSISTENT)
		backup_store_document(s);
	session_set_unlock(s); /* T12 */
	s->phase = BACKUP_SNAPSHOTS_DONE;
	history_flush(s);
	log_info("%s created its snapshot set: %zu snapshots", session_describe(s),
		 s->set->n_volumes);
	result = json_pack("{s:o, s:o}", "snapshots", snapshot_set_json(s), "writer_failures",
			   session_writer_failures(s, SC_WS_FAILED_AT_PREPARE_SNAPSHOT,
						   SC_WS_FAILED_AT_POST_SNAPSHOT));
	session_op_reply(s, result);
}

void coordinator_advance(struct session *s)
{
	int r;

	for (;;) {
		if (s->error) {
			abort_start(s, s->error);
			return;
		}
		if (s->pending || s->set->job || s->resolving || hold_window_busy(s))
			return;
		if (s->step == STEP_FREEZE && s->freeze_level > SC_APP_SYSTEM) {
			fanout_send(s, SC_EVENT_FREEZE, --s->freeze_level);
			continue;
		}
		r = step_end(s);
		if (r >= 0 && ++s->step == STEP_DONE) {
			finish(s);
			if (s->error == 0)
				return;
			continue;
		}
		if (r >= 0)
			r = step_begin(s);
		if (r < 0)
			s->error = r;
	}
}

static void coordinator_cancelled(void *userdata)
{
	struct session *s = userdata;

	/* Cancelling DoSnapshotSet is AbortBackup (vss-model 10). */
	s->op = NULL;
	if (s->error == 0)
		s->error = -SC_E_CANCELLED;
	session_kick(s);
}

int coordinator_do_snapshot_set(struct connection *c, const struct wire_message *m)
{
	struct session *s = session_of(c);
	int r;

	if (!s->set || (s->phase != BACKUP_SET_STARTED && s->phase != BACKUP_PREPARED) ||
	    s->set->n_adding > 0)
		return -SC_E_BAD_STATE;
	if (session_writer_context(s) && s->gather != GATHER_DONE)
		return -SC_E_BAD_STATE; /* T21 */
	r = operation_new(c, m->id, coordinator_cancelled, s, &s->op);
	if (r < 0)
		return r;
	s->phase = BACKUP_SNAPSHOTTING;
	s->step = STEP_START;
	s->error = 0;
	s->phase_start_usec = session_now(s);
	log_info("%s creates its snapshot set (%zu volumes)", connection_describe(c),
		 s->set->n_volumes);
	session_kick(s);
	return 0;
}
