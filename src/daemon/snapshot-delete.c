/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * snapshot-delete.c - deleting committed snapshots (DeleteSnapshots, the end
 * of a session's auto-release snapshots, recovery): the provider calls one
 * by one on a worker thread, then the catalog rows of those deleted, on the
 * loop, whether or not anyone still waits for the result.  While writes
 * are held (hold-window.c) a delete waits before each snapshot, and its
 * rows wait for the window to close.  Which snapshots to delete is the
 * caller's choice.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "provider-calls.h"
#include "providers.h"
#include "session.h"

struct delete_item {
	struct sc_id id;
	char *provider;
	struct sc_provider_volume volume;
	char *location;
	int result;        /* 0 deleted (or gone already) */
	bool attempted;
};

struct delete_job {
	struct worker_job job;
	const struct testing *testing;
	struct delete_item *items;
	size_t n_items;
	bool stop_at_failure; /* DeleteSnapshots stops at the first failure (T52) */
	delete_done_fn done;
	void *userdata;
	struct delete_job *next_parked; /* in daemon->parked */
};

struct delete_job *delete_job_free(struct delete_job *j)
{
	if (!j)
		return NULL;
	for (size_t i = 0; i < j->n_items; i++) {
		free(j->items[i].provider);
		provider_volume_done(&j->items[i].volume);
		free(j->items[i].location);
	}
	free(j->items);
	free(j);
	return NULL;
}

struct delete_job *delete_job_new(void)
{
	return calloc(1, sizeof(struct delete_job));
}

size_t delete_job_count(const struct delete_job *j)
{
	return j->n_items;
}

static char *strdup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

int delete_job_add(struct delete_job *j, const struct catalog_snapshot *row)
{
	struct delete_item *a, *it;

	a = reallocarray(j->items, j->n_items + 1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	j->items = a;
	it = &a[j->n_items++];
	*it = (struct delete_item){
		.id = row->id,
		.provider = strdup(row->provider),
		.location = strdup_or_null(row->location),
	};
	if (!it->provider || (row->location && !it->location) ||
	    provider_volume_set(&it->volume, row->volume_root, row->volume_identity,
				row->filesystem) < 0)
		return -ENOMEM; /* the item is freed with the job */
	return 0;
}

static int delete_one(const struct testing *t, struct delete_item *it)
{
	const struct sc_provider *p = providers_find_by_name(it->provider);
	int r;

	if (!p)
		return -SC_E_PROVIDER_NOT_REGISTERED;
	if (!it->location)
		return 0; /* begin_prepare never said where: nothing was made */
	r = provider_call_delete(t, p, &it->volume, &it->id, it->location);
	if (r == -SC_E_OBJECT_NOT_FOUND)
		return 0; /* gone already: what a delete wants */
	return provider_error(PROVIDER_DELETE, r);
}

static void delete_run(struct worker_job *job)
{
	struct delete_job *j = (struct delete_job *)job;

	for (size_t i = 0; i < j->n_items; i++) {
		hold_window_gate_wait(job->daemon);
		j->items[i].attempted = true;
		j->items[i].result = delete_one(j->testing, &j->items[i]);
		if (j->items[i].result < 0 && j->stop_at_failure)
			break;
	}
}

static void delete_deliver(struct delete_job *j)
{
	struct worker_job *job = &j->job;
	struct delete_result res = { 0 };
	char id[SC_ID_STRING_MAX];
	int r;

	for (size_t i = 0; i < j->n_items; i++) {
		struct delete_item *it = &j->items[i];

		if (!it->attempted)
			break;
		if (it->result < 0) {
			log_warning_errno(it->result, "Failed to delete snapshot %s",
					  sc_id_to_string(&it->id, id));
			if (res.failure == 0) {
				res.failure = it->result;
				res.non_deleted = it->id;
			}
			continue;
		}
		res.deleted++;
		log_info("Deleted snapshot %s", sc_id_to_string(&it->id, id));
		r = catalog_delete_snapshot(job->daemon->catalog, &it->id);
		if (r < 0 && r != -SC_E_OBJECT_NOT_FOUND)
			log_warning_errno(r, "Failed to remove snapshot %s from the catalog, ignoring",
					  id);
	}
	if (!job->abandoned)
		j->done(&res, j->userdata);
	delete_job_free(j);
}

static void delete_done(struct worker_job *job)
{
	struct delete_job *j = (struct delete_job *)job;

	if (job->daemon->window) {
		j->next_parked = job->daemon->parked; /* the order among them is free */
		job->daemon->parked = j;
		return;
	}
	delete_deliver(j);
}

void delete_job_resume_parked(struct daemon *d)
{
	struct delete_job *j;

	while ((j = d->parked)) {
		d->parked = j->next_parked;
		delete_deliver(j);
	}
}

int delete_job_start(struct daemon *d, struct delete_job *j, bool stop_at_failure,
		     delete_done_fn done, void *userdata)
{
	j->job.run = delete_run;
	j->job.done = delete_done;
	j->testing = &d->config->testing;
	j->stop_at_failure = stop_at_failure;
	j->done = done;
	j->userdata = userdata;
	return worker_start(d, &j->job);
}

void delete_job_abandon(struct delete_job *j)
{
	worker_abandon(&j->job, NULL, NULL);
}
