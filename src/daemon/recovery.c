/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * recovery.c - the catalog reconciled with the disks at start-up (design.md
 * "Catalog and recovery"): snapshots still "creating" are removed with their
 * provider, auto-release snapshots (whose sessions all died with the old
 * service) are deleted, persistent ones stay listed, "missing" when their
 * provider no longer finds them.  What cannot be looked at now (its
 * filesystem is not mounted) is not decided: it is kept for the next start.
 * Looking runs on a worker thread, deleting on another (snapshot-delete.c).
 */
#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "catalog.h"
#include "cleanup.h"
#include "daemon.h"
#include "log.h"
#include "providers.h"

/* One snapshot of the catalog, as it was at start-up. */
struct item {
	struct sc_id id;
	char *provider;             /* its name in the catalog */
	struct sc_provider_volume volume;
	char *location;             /* NULL: begin_prepare never said where */
	enum catalog_state state;
	bool to_delete;             /* half-made, or auto-release */
	bool found;                 /* persistent: its provider finds it */
	bool reachable;             /* to delete: where it would be can be looked at */
};

/* The survey of every snapshot, on a worker thread, then the deletes. */
struct recovery {
	struct worker_job job;
	recovery_done_fn done;
	struct item *items;
	size_t n_items;
};

static struct recovery *recovery_free(struct recovery *rec)
{
	if (!rec)
		return NULL;
	for (size_t i = 0; i < rec->n_items; i++) {
		free(rec->items[i].provider);
		provider_volume_done(&rec->items[i].volume);
		free(rec->items[i].location);
	}
	free(rec->items);
	free(rec);
	return NULL;
}

static int item_add(const struct catalog_snapshot *row, void *userdata)
{
	struct recovery *rec = userdata;
	struct item *a, *it;

	a = reallocarray(rec->items, rec->n_items + 1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	rec->items = a;
	it = &a[rec->n_items++];
	*it = (struct item){
		.id = row->id,
		.provider = strdup(row->provider),
		.location = row->location ? strdup(row->location) : NULL,
		.state = row->state,
		.to_delete = row->state == CATALOG_CREATING ||
			     !(row->context & SC_ATTR_NO_AUTO_RELEASE),
	};
	if (!it->provider || (row->location && !it->location) ||
	    provider_volume_set(&it->volume, row->volume_root, row->volume_identity,
				row->filesystem) < 0)
		return -ENOMEM; /* the item is freed with the rest */
	return 0;
}

static int found_cb(const struct sc_id *snapshot_id, const char *location, void *userdata)
{
	struct item *it = userdata;

	if (sc_id_equal(snapshot_id, &it->id))
		it->found = true;
	return 0;
}

/* Whether the directory a snapshot would be in is there: a filesystem not
 * mounted (yet) hides it, and then "not found" would mean nothing. */
static bool location_reachable(const char *location)
{
	_cleanup_free_ char *dir = NULL;
	struct stat st;

	if (!location)
		return true; /* nothing was made */
	dir = strdup(location);
	return dir && stat(dirname(dir), &st) == 0 && S_ISDIR(st.st_mode);
}

static void survey_run(struct worker_job *job)
{
	struct recovery *rec = (struct recovery *)job;

	for (size_t i = 0; i < rec->n_items; i++) {
		struct item *it = &rec->items[i];
		const struct sc_provider *p = providers_find_by_name(it->provider);

		if (it->to_delete)
			it->reachable = location_reachable(it->location);
		else if (p)
			/* A failed query (a filesystem not mounted) leaves it not found. */
			(void)p->query(&it->volume, found_cb, it);
	}
}

static void mark(struct daemon *d, const struct item *it, enum catalog_state state)
{
	char id[SC_ID_STRING_MAX];

	if (state == it->state)
		return;
	log_notice("Persistent snapshot %s is %s", sc_id_to_string(&it->id, id),
		   state == CATALOG_MISSING ? "missing" : "back");
	if (catalog_set_state(d->catalog, &it->id, state) < 0)
		log_warning("Failed to mark snapshot %s %s, ignoring", id, catalog_state_name(state));
}

/* A snapshot to delete that cannot be looked at stays for the next start;
 * a committed one is listed as missing meanwhile. */
static void keep(struct daemon *d, const struct item *it)
{
	char id[SC_ID_STRING_MAX];

	log_notice("Cannot reach %s snapshot %s at %s (not mounted?), keeping it for the next "
		   "start", it->state == CATALOG_CREATING ? "half-made" : "auto-release",
		   sc_id_to_string(&it->id, id), it->location);
	if (it->state == CATALOG_COMMITTED &&
	    catalog_set_state(d->catalog, &it->id, CATALOG_MISSING) < 0)
		log_warning("Failed to mark snapshot %s missing, ignoring", id);
}

static int sort_item(struct daemon *d, const struct item *it, struct delete_job *deletes)
{
	struct catalog_snapshot row = {
		.id = it->id,
		.provider = it->provider,
		.location = it->location,
		.volume_root = it->volume.root,
		.volume_identity = it->volume.identity,
		.filesystem = it->volume.filesystem,
	};

	if (!it->to_delete)
		mark(d, it, it->found ? CATALOG_COMMITTED : CATALOG_MISSING);
	else if (!it->reachable)
		keep(d, it);
	else
		return delete_job_add(deletes, &row);
	return 0;
}

static void finish(struct recovery *rec)
{
	struct daemon *d = rec->job.daemon;
	recovery_done_fn done = rec->done;

	recovery_free(rec);
	done(d);
}

static void on_deleted(const struct delete_result *res, void *userdata)
{
	log_info("Recovery deleted %zu half-made or auto-release snapshots%s", res->deleted,
		 res->failure ? " (some could not be)" : "");
	finish(userdata);
}

/* Best effort: what cannot be deleted now is tried again at the next start. */
static void survey_done(struct worker_job *job)
{
	struct recovery *rec = (struct recovery *)job;
	struct daemon *d = job->daemon;
	struct delete_job *deletes = delete_job_new();
	int r = deletes ? 0 : -ENOMEM;

	for (size_t i = 0; r >= 0 && i < rec->n_items; i++)
		r = sort_item(d, &rec->items[i], deletes);
	if (r >= 0 && !d->exiting && delete_job_count(deletes) > 0 &&
	    (r = delete_job_start(d, deletes, false, on_deleted, rec)) >= 0)
		return;
	if (r < 0)
		log_error_errno(r, "Failed to delete half-made and auto-release snapshots");
	delete_job_free(deletes);
	finish(rec);
}

int recovery_start(struct daemon *d, recovery_done_fn done)
{
	struct recovery *rec;
	int r;

	rec = calloc(1, sizeof(*rec));
	if (!rec)
		return -ENOMEM;
	rec->job.run = survey_run;
	rec->job.done = survey_done;
	rec->done = done;
	r = catalog_foreach(d->catalog, NULL, SC_CTX_ALL, item_add, rec);
	if (r >= 0)
		r = worker_start(d, &rec->job);
	if (r < 0)
		recovery_free(rec);
	return r;
}
