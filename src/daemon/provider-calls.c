/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * provider-calls.c - the one wrapper around provider calls: the [testing]
 * switches (delay, fail), the call's duration, and the translation of its
 * errors (vss-model 2.5, T41); and the job that runs one step of set
 * creation for every provider of a set on a worker thread.  The order of
 * the steps, and what a failure means, is coordinator.c's business.
 */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "log.h"
#include "provider-calls.h"

static const char *const step_names[_PROVIDER_STEP_MAX] = {
	[PROVIDER_BEGIN_PREPARE] = "begin_prepare",
	[PROVIDER_END_PREPARE] = "end_prepare",
	[PROVIDER_PRE_COMMIT] = "pre_commit",
	[PROVIDER_COMMIT] = "commit",
	[PROVIDER_POST_COMMIT] = "post_commit",
	[PROVIDER_PRE_FINAL_COMMIT] = "pre_final_commit",
	[PROVIDER_POST_FINAL_COMMIT] = "post_final_commit",
	[PROVIDER_ABORT] = "abort",
	[PROVIDER_DELETE] = "delete",
};

const char *provider_step_name(enum provider_step step)
{
	return step_names[step];
}

int provider_error(enum provider_step step, int r)
{
	if (r >= 0 || step == PROVIDER_ABORT)
		return r;
	switch (r) {
	case -ENOMEM:
	case -EINVAL:
	case -EACCES:
	case -EPERM:
	case -SC_E_BAD_STATE:
	case -SC_E_OBJECT_NOT_FOUND:
	case -SC_E_INSUFFICIENT_STORAGE:
	case -SC_E_VOLUME_NOT_SUPPORTED:
	case -SC_E_VOLUME_NOT_SUPPORTED_BY_PROVIDER:
	case -SC_E_MAXIMUM_NUMBER_OF_SNAPSHOTS_REACHED:
	case -SC_E_PROVIDER_VETO:
		return r;
	case -ENOSPC:
	case -EDQUOT:
		return -SC_E_INSUFFICIENT_STORAGE;
	default:
		return -SC_E_UNEXPECTED_PROVIDER_ERROR;
	}
}

static uint64_t now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * USEC_PER_SEC + (uint64_t)ts.tv_nsec / 1000;
}

static void testing_delay(const struct testing *t, enum provider_step step)
{
	struct timespec ts = {
		.tv_sec = (time_t)(t->delay_usec[step] / USEC_PER_SEC),
		.tv_nsec = (long)(t->delay_usec[step] % USEC_PER_SEC) * 1000,
	};

	/* EINTR: the rest of the time is in ts; no signal reaches us anyway. */
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* A set-level call, or begin_prepare for each snapshot of the group. */
static int call_group(enum provider_step step, struct provider_group *g)
{
	const struct sc_provider *p = g->provider;
	int r = 0;

	switch (step) {
	case PROVIDER_BEGIN_PREPARE:
		for (size_t i = 0; r >= 0 && i < g->n; i++)
			r = p->begin_prepare(g->snaps[i]);
		return r;
	case PROVIDER_END_PREPARE:
		return p->end_prepare(g->snaps, g->n);
	case PROVIDER_PRE_COMMIT:
		return p->pre_commit(g->snaps, g->n);
	case PROVIDER_COMMIT:
		return p->commit(g->snaps, g->n);
	case PROVIDER_POST_COMMIT:
		return p->post_commit(g->snaps, g->n);
	case PROVIDER_PRE_FINAL_COMMIT:
		return p->pre_final_commit(g->snaps, g->n);
	case PROVIDER_POST_FINAL_COMMIT:
		return p->post_final_commit(g->snaps, g->n);
	case PROVIDER_ABORT:
		return p->abort(g->snaps, g->n);
	default:
		return -EINVAL;
	}
}

/* The switches: a creation step is really made and then reported failed,
 * so that abort has real work to undo; abort and delete fail without
 * doing anything, as a real failure would leave things. */
static int call_group_switched(const struct testing *t, enum provider_step step,
			       struct provider_group *g)
{
	int r;

	testing_delay(t, step);
	if (t->fail[step] && step == PROVIDER_ABORT)
		return t->fail[step];
	r = call_group(step, g);
	return r < 0 ? r : t->fail[step];
}

int provider_call_delete(const struct testing *t, const struct sc_provider *p,
			 const struct sc_provider_volume *volume, const struct sc_id *id,
			 const char *location)
{
	testing_delay(t, PROVIDER_DELETE);
	if (t->fail[PROVIDER_DELETE])
		return t->fail[PROVIDER_DELETE];
	return p->delete_snapshot(volume, id, location);
}

static void step_run(struct worker_job *job)
{
	struct step_job *j = (struct step_job *)job;
	uint64_t start;

	for (size_t i = 0; i < j->n_groups; i++) {
		struct provider_group *g = &j->groups[i];

		if (j->step == PROVIDER_ABORT && !g->prepared)
			continue;
		start = now_usec();
		j->raw[i] = call_group_switched(j->testing, j->step, g);
		j->usec[i] = now_usec() - start;
		j->reached = i + 1;
		if (j->raw[i] < 0 && j->result == 0)
			j->result = provider_error(j->step, j->raw[i]);
		/* abort goes to every prepared provider whatever happens (B14) */
		if (j->result < 0 && j->step != PROVIDER_ABORT)
			break;
	}
}

static void step_done(struct worker_job *job)
{
	struct step_job *j = (struct step_job *)job;

	if (!job->abandoned)
		j->callback(j, j->userdata);
	else if (job->release)
		job->release(job->release_data);
	free(j);
}

int provider_step_start(struct daemon *d, enum provider_step step, struct provider_group *groups,
			size_t n_groups, step_job_fn callback, void *userdata,
			struct step_job **ret)
{
	struct step_job *j;
	int r;

	j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	j->job.run = step_run;
	j->job.done = step_done;
	j->testing = &d->config->testing;
	j->step = step;
	j->groups = groups;
	j->n_groups = n_groups;
	j->callback = callback;
	j->userdata = userdata;
	r = worker_start(d, &j->job);
	if (r < 0) {
		free(j);
		return r;
	}
	*ret = j;
	return 0;
}

void provider_step_log(const struct step_job *j)
{
	for (size_t i = 0; i < j->reached; i++) {
		const struct provider_group *g = &j->groups[i];

		if (j->step == PROVIDER_ABORT && !g->prepared)
			continue;
		log_debug("provider %s: %s(%zu snapshot%s): %s (%.1f ms)", g->provider->name,
			  step_names[j->step], g->n, g->n == 1 ? "" : "s", sc_error_name(j->raw[i]),
			  (double)j->usec[i] / 1000.0);
	}
}
