/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * recovery.c - the catalog reconciled with the disks at start-up (design.md
 * "Catalog and recovery"): snapshots still "creating" are removed with their
 * provider, auto-release snapshots (whose sessions all died with the old
 * service) are deleted, persistent ones stay listed, "missing" when their
 * provider no longer finds them.  The provider calls run on worker threads.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <systemd/sd-event.h>

#include "catalog.h"
#include "log.h"
#include "providers.h"
#include "session.h"

/* A persistent snapshot whose existence is checked. */
struct check_item {
	struct sc_id id;
	const struct sc_provider *provider;
	struct sc_provider_volume volume;
	enum catalog_state state;   /* in the catalog */
	bool found;
};

struct check_job {
	struct worker_job job;
	struct recovery *recovery;
	struct check_item *items;
	size_t n_items;
};

struct recovery {
	struct daemon *daemon;
	recovery_done_fn done;
	struct delete_job *deletes;
	struct check_job *checks;
	unsigned running;
	size_t n_deleted;
};

static struct check_job *check_job_free(struct check_job *j)
{
	if (!j)
		return NULL;
	for (size_t i = 0; i < j->n_items; i++)
		provider_volume_done(&j->items[i].volume);
	free(j->items);
	free(j);
	return NULL;
}

static int check_add(struct check_job *j, const struct catalog_snapshot *row)
{
	struct check_item *a, *it;

	a = reallocarray(j->items, j->n_items + 1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	j->items = a;
	it = &a[j->n_items++];
	*it = (struct check_item){
		.id = row->id,
		.provider = providers_find_by_name(row->provider),
		.state = row->state,
	};
	return provider_volume_set(&it->volume, row->volume_root, row->volume_identity,
				   row->filesystem);
}

static int sort_row(const struct catalog_snapshot *row, void *userdata)
{
	struct recovery *rec = userdata;
	bool persistent = row->context & SC_ATTR_NO_AUTO_RELEASE;

	if (row->state == CATALOG_CREATING || !persistent)
		return delete_job_add(rec->deletes, row);
	return check_add(rec->checks, row);
}

static int found_cb(const struct sc_id *snapshot_id, const char *location, void *userdata)
{
	struct check_item *it = userdata;

	if (sc_id_equal(snapshot_id, &it->id))
		it->found = true;
	return 0;
}

static void check_run(struct worker_job *job)
{
	struct check_job *j = (struct check_job *)job;

	for (size_t i = 0; i < j->n_items; i++) {
		struct check_item *it = &j->items[i];

		/* A failed query (a filesystem not mounted) leaves it not found. */
		if (it->provider)
			(void)it->provider->query(&it->volume, found_cb, it);
	}
}

static void recovery_step_done(struct recovery *rec)
{
	if (--rec->running > 0)
		return;
	rec->done(rec->daemon);
	free(rec);
}

static void check_done(struct worker_job *job)
{
	struct check_job *j = (struct check_job *)job;
	struct recovery *rec = j->recovery;
	char id[SC_ID_STRING_MAX];

	for (size_t i = 0; i < j->n_items; i++) {
		struct check_item *it = &j->items[i];
		enum catalog_state now = it->found ? CATALOG_COMMITTED : CATALOG_MISSING;

		if (now == it->state)
			continue;
		log_notice("Persistent snapshot %s is %s", sc_id_to_string(&it->id, id),
			   now == CATALOG_MISSING ? "missing" : "back");
		if (catalog_set_state(job->daemon->catalog, &it->id, now) < 0)
			log_warning("Failed to mark snapshot %s %s, ignoring", id,
				    catalog_state_name(now));
	}
	check_job_free(j);
	recovery_step_done(rec);
}

static void on_deleted(const struct delete_result *res, void *userdata)
{
	struct recovery *rec = userdata;

	log_info("Recovery deleted %zu half-made or auto-release snapshots%s", res->deleted,
		 res->failure ? " (some could not be)" : "");
	recovery_step_done(rec);
}

/* Best effort: what cannot start now is tried again at the next start. */
static void recovery_run_jobs(struct recovery *rec)
{
	int r = 0;

	rec->running = 1; /* held until both are started */
	if (delete_job_count(rec->deletes) > 0 &&
	    (r = delete_job_start(rec->daemon, rec->deletes, false, on_deleted, rec)) >= 0)
		rec->running++;
	else
		delete_job_free(rec->deletes);
	if (r < 0)
		log_error_errno(r, "Failed to start deleting half-made snapshots");
	rec->deletes = NULL;
	r = 0;
	if (rec->checks->n_items > 0 && (r = worker_start(rec->daemon, &rec->checks->job)) >= 0)
		rec->running++;
	else
		check_job_free(rec->checks);
	if (r < 0)
		log_error_errno(r, "Failed to start checking persistent snapshots");
	rec->checks = NULL;
	recovery_step_done(rec);
}

int recovery_start(struct daemon *d, recovery_done_fn done)
{
	struct recovery *rec;
	int r;

	rec = calloc(1, sizeof(*rec));
	if (!rec)
		return -ENOMEM;
	rec->daemon = d;
	rec->done = done;
	rec->deletes = delete_job_new();
	rec->checks = calloc(1, sizeof(*rec->checks));
	r = rec->deletes && rec->checks ? 0 : -ENOMEM;
	if (r >= 0) {
		rec->checks->job.run = check_run;
		rec->checks->job.done = check_done;
		rec->checks->recovery = rec;
		r = catalog_foreach(d->catalog, NULL, SC_CTX_ALL, sort_row, rec);
	}
	if (r >= 0) {
		recovery_run_jobs(rec);
		return 0;
	}
	delete_job_free(rec->deletes);
	check_job_free(rec->checks);
	free(rec);
	return r;
}
