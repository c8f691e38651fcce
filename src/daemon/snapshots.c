/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * snapshots.c - what exists, as the catalog knows it: SNAPSHOT and PROVIDER
 * objects (protocol.md §6.3), get_snapshot_properties, query (T51), the
 * admin list_snapshots and list_providers, and delete_snapshots for both
 * roles (T52, T53; admin also "oldest" of a volume and "all").  Sets being
 * created are nobody's to see or delete until their do_snapshot_set ends.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "cleanup.h"
#include "json-util.h"
#include "log.h"
#include "providers.h"
#include "session.h"

/* A delete_snapshots waiting for its volume or its deletes. */
struct delete_request {
	struct daemon *daemon;
	struct operation *op;
	uint32_t context;
	struct worker_job *resolving;    /* "oldest": the volume being resolved */
	struct delete_job *deleting;
};

/* The volume of an "oldest" delete, resolved on a worker thread. */
struct volume_job {
	struct worker_job job;
	struct delete_request *request;
	char *path;
	int result;
	const struct sc_provider *provider;
	struct sc_provider_volume volume;
};

/* Which rows a walk keeps. */
struct collect {
	struct delete_job *job;
	uint32_t context;
	const char *identity; /* only this volume */
	bool oldest;          /* only the first */
};

json_t *snapshots_json(const struct catalog_snapshot *row)
{
	const struct sc_provider *p = providers_find_by_name(row->provider);
	char id[SC_ID_STRING_MAX], set[SC_ID_STRING_MAX], prov[SC_ID_STRING_MAX];
	const char *context = sc_context_name(row->context);
	struct sc_id none = { 0 };

	return json_pack("{s:s, s:s, s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:s}",
			 "snapshot_id", sc_id_to_string(&row->id, id), "snapshot_set_id",
			 sc_id_to_string(&row->set_id, set), "count", (json_int_t)row->set_count,
			 "location", row->location ? row->location : "", "original_volume",
			 row->volume_path, "volume_root", row->volume_root, "volume_identity",
			 row->volume_identity, "filesystem", row->filesystem, "provider_id",
			 sc_id_to_string(p ? &p->id : &none, prov), "provider", row->provider,
			 "context", context ? context : "unknown", "attributes",
			 (json_int_t)row->attributes, "created",
			 (json_int_t)row->created_realtime_usec, "state",
			 catalog_state_name(row->state));
}

static json_t *provider_json(const struct sc_provider *p)
{
	char id[SC_ID_STRING_MAX];

	return json_pack("{s:s, s:s, s:i, s:s, s:b}", "provider_id", sc_id_to_string(&p->id, id),
			 "name", p->name, "type", (int)p->type, "version", p->version,
			 "holds_writes", !!(p->flags & SC_PROVIDER_HOLDS_WRITES));
}

static json_t *providers_list(void)
{
	_cleanup_json_ json_t *a = json_array();

	if (!a)
		return NULL;
	for (size_t i = 0; i < providers_count(); i++)
		if (json_array_append_new(a, provider_json(providers_get(i))) < 0)
			return NULL;
	return json_pack("{s:O}", "providers", a);
}

/* Rows as SNAPSHOT objects; with @committed_only, only created ones (T51). */
struct listing {
	json_t *array;
	bool committed_only;
};

static int list_row(const struct catalog_snapshot *row, void *userdata)
{
	struct listing *l = userdata;

	if (l->committed_only && row->state != CATALOG_COMMITTED)
		return 0;
	return json_array_append_new(l->array, snapshots_json(row)) < 0 ? -ENOMEM : 0;
}

static int reply_list(struct connection *c, int64_t id, const struct sc_id *set_id,
		      uint32_t context, bool committed_only)
{
	_cleanup_json_ json_t *a = json_array();
	struct listing l = { .array = a, .committed_only = committed_only };
	int r;

	if (!a)
		return -ENOMEM;
	r = catalog_foreach(c->daemon->catalog, set_id, context, list_row, &l);
	if (r < 0)
		return r;
	connection_reply(c, id, json_pack("{s:O}", "snapshots", a));
	return 0;
}

static int get_row(const struct catalog_snapshot *row, void *userdata)
{
	json_t **ret = userdata;

	if (row->state == CATALOG_CREATING)
		return -SC_E_OBJECT_NOT_FOUND; /* not made yet */
	*ret = snapshots_json(row);
	return *ret ? 0 : -ENOMEM;
}

int snapshots_get_properties(struct connection *c, const struct wire_message *m)
{
	struct sc_id id;
	json_t *snap = NULL;
	int r;

	r = json_get_id(m->body, "snapshot_id", true, &id);
	if (r < 0)
		return r;
	r = catalog_get(c->daemon->catalog, &id, get_row, &snap);
	if (r < 0)
		return r;
	connection_reply(c, m->id, snap);
	return 0;
}

int snapshots_query(struct connection *c, const struct wire_message *m)
{
	struct session *s = session_of(c);
	const char *type;
	int r;

	if (!s->initialized)
		return -SC_E_BAD_STATE;
	r = json_get_string(m->body, "type", true, &type);
	if (r < 0)
		return r;
	if (strcmp(type, "providers") == 0) {
		connection_reply(c, m->id, providers_list());
		return 0;
	}
	if (strcmp(type, "snapshots") != 0)
		return -SC_E_INVALID_MESSAGE;
	return reply_list(c, m->id, NULL, s->context, true);
}

int snapshots_list(struct connection *c, const struct wire_message *m)
{
	const char *name = "all";
	struct sc_id set_id = { 0 };
	bool has_set = json_object_get(m->body, "set_id") != NULL;
	uint32_t context;
	int r;

	if ((r = json_get_id(m->body, "set_id", false, &set_id)) < 0 ||
	    (r = json_get_string(m->body, "context", false, &name)) < 0)
		return r;
	if (sc_context_from_name(name, &context) < 0)
		return -SC_E_INVALID_MESSAGE;
	return reply_list(c, m->id, has_set ? &set_id : NULL, context, false);
}

int snapshots_list_providers(struct connection *c, const struct wire_message *m)
{
	connection_reply(c, m->id, providers_list());
	return 0;
}

static struct delete_request *request_free(struct delete_request *req)
{
	if (req->resolving)
		worker_abandon(req->resolving, NULL, NULL);
	if (req->deleting)
		delete_job_abandon(req->deleting); /* the catalog still follows it */
	free(req);
	return NULL;
}

static void request_cancelled(void *userdata)
{
	request_free(userdata);
}

static void on_deleted(const struct delete_result *res, void *userdata)
{
	struct delete_request *req = userdata;
	char id[SC_ID_STRING_MAX];

	req->deleting = NULL;
	operation_reply(req->op, json_pack("{s:I, s:s, s:s}", "deleted", (json_int_t)res->deleted,
					   "non_deleted_id", sc_id_to_string(&res->non_deleted, id),
					   "failure", sc_error_name(res->failure)));
	request_free(req);
}

static int collect_row(const struct catalog_snapshot *row, void *userdata)
{
	struct collect *col = userdata;

	if (row->state == CATALOG_CREATING ||
	    (col->context != SC_CTX_ALL && row->context != col->context) ||
	    (col->identity && strcmp(row->volume_identity, col->identity) != 0) ||
	    (col->oldest && delete_job_count(col->job) > 0))
		return 0;
	return delete_job_add(col->job, row);
}

/* Delete what @col selects from @set_id's rows (all when NULL), or the
 * snapshot @id; -SC_E_OBJECT_NOT_FOUND when that is nothing (T53). */
static int request_delete(struct delete_request *req, struct collect *col,
			  const struct sc_id *id, const struct sc_id *set_id, bool empty_ok)
{
	struct catalog *cat = req->daemon->catalog;
	int r;

	col->job = delete_job_new();
	if (!col->job)
		return -ENOMEM;
	r = id ? catalog_get(cat, id, collect_row, col)
	       : catalog_foreach(cat, set_id, SC_CTX_ALL, collect_row, col);
	if (r >= 0 && delete_job_count(col->job) == 0 && !empty_ok)
		r = -SC_E_OBJECT_NOT_FOUND;
	if (r >= 0)
		r = delete_job_start(req->daemon, col->job, true, on_deleted, req);
	if (r < 0) {
		delete_job_free(col->job);
		return r;
	}
	req->deleting = col->job;
	return 0;
}

static void volume_done(struct worker_job *job)
{
	struct volume_job *j = (struct volume_job *)job;
	struct delete_request *req = j->request;
	struct collect col = { .context = SC_CTX_ALL, .oldest = true };
	int r = j->result;

	if (!job->abandoned) {
		req->resolving = NULL;
		col.context = req->context;
		col.identity = j->volume.identity;
		if (r >= 0)
			r = request_delete(req, &col, NULL, NULL, false);
		if (r < 0) {
			operation_fail(req->op, r);
			request_free(req);
		}
	}
	free(j->path);
	provider_volume_done(&j->volume);
	free(j);
}

static void volume_run(struct worker_job *job)
{
	struct volume_job *j = (struct volume_job *)job;

	j->result = providers_choose(j->path, &j->provider, &j->volume, NULL);
	if (j->result == -ENOENT || j->result == -ENOTDIR)
		j->result = -SC_E_OBJECT_NOT_FOUND;
}

static int request_oldest(struct delete_request *req, const char *path)
{
	struct volume_job *j;
	int r;

	if (path[0] != '/')
		return -SC_E_INVALID_MESSAGE;
	j = calloc(1, sizeof(*j));
	if (!j || !(j->path = strdup(path))) {
		free(j);
		return -ENOMEM;
	}
	j->job.run = volume_run;
	j->job.done = volume_done;
	j->request = req;
	r = worker_start(req->daemon, &j->job);
	if (r < 0) {
		free(j->path);
		free(j);
		return r;
	}
	req->resolving = &j->job;
	return 0;
}

/* The forms of protocol.md §8: id + type, oldest, all. */
static int request_start(struct delete_request *req, json_t *p)
{
	struct collect col = { .context = req->context };
	const char *type = NULL, *oldest = NULL;
	struct sc_id id;
	bool all = false;
	int r;

	if ((r = json_get_string(p, "oldest", false, &oldest)) < 0 ||
	    (r = json_get_bool(p, "all", false, &all)) < 0)
		return r;
	if (oldest)
		return request_oldest(req, oldest);
	if (all)
		return request_delete(req, &col, NULL, NULL, true);
	if ((r = json_get_id(p, "id", true, &id)) < 0 ||
	    (r = json_get_string(p, "type", true, &type)) < 0)
		return r;
	if (strcmp(type, "snapshot") == 0)
		return request_delete(req, &col, &id, NULL, false);
	if (strcmp(type, "set") == 0)
		return request_delete(req, &col, NULL, &id, false);
	return -SC_E_INVALID_MESSAGE;
}

int snapshots_delete(struct connection *c, const struct wire_message *m)
{
	struct delete_request *req;
	bool force = false;
	int r;

	r = json_get_bool(m->body, "force", false, &force); /* every delete does its utmost */
	if (r < 0)
		return r;
	req = calloc(1, sizeof(*req));
	if (!req)
		return -ENOMEM;
	req->daemon = c->daemon;
	/* A requester deletes within its context (vss-model 2.3); admin, all. */
	req->context = c->role == CONNECTION_REQUESTER ? session_of(c)->context : SC_CTX_ALL;
	r = operation_new(c, m->id, request_cancelled, req, &req->op);
	if (r < 0) {
		free(req);
		return r;
	}
	r = request_start(req, m->body);
	if (r < 0) {
		operation_abandon(req->op);
		free(req);
	}
	return r;
}
