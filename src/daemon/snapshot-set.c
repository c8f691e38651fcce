/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * snapshot-set.c - the snapshot set of a session before and after its
 * creation: start_snapshot_set (a fresh id and the system-wide lock, T10,
 * T11), add_to_snapshot_set (the volume resolved and its provider chosen on
 * a worker thread, T13-T17; a volume whose provider holds writes must be on
 * a filesystem the service may freeze, hold.c), and the set's snapshots as
 * catalog rows and SNAPSHOT objects.  Creating them is coordinator.c's.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <systemd/sd-event.h>

#include "cleanup.h"
#include "hold.h"
#include "json-util.h"
#include "log.h"
#include "providers.h"
#include "session.h"

/* An add_to_snapshot_set whose volume is being resolved. */
struct add_job {
	struct worker_job job;
	struct session *session;
	struct operation *op;
	char *path;
	const struct sc_provider *provider; /* named by the requester, or NULL */
	/* results */
	int result;
	char *reason;                       /* why it was refused, or NULL */
	const struct sc_provider *chosen;
	struct sc_provider_volume volume;
	dev_t hold_dev;
};

struct snapshot_set *snapshot_set_free(struct snapshot_set *set)
{
	if (!set)
		return NULL;
	sd_event_source_disable_unref(set->job_timer);
	hold_window_let_go(set->window);
	for (size_t i = 0; i < set->n_volumes; i++) {
		struct set_volume *v = &set->volumes[i];

		/* A set cut short at exit: recovery undoes it at the next start. */
		if (v->snap.state && v->provider->forget_state)
			v->provider->forget_state(&v->snap);
		free(v->path);
		provider_volume_done(&v->volume);
		free(v->snap.location);
	}
	free(set);
	return NULL;
}

void snapshot_set_release(void *set)
{
	snapshot_set_free(set);
}

int snapshot_set_start(struct connection *c, const struct wire_message *m)
{
	struct session *s = session_of(c);
	char id[SC_ID_STRING_MAX];
	struct snapshot_set *set;
	int r;

	/* Not under context "all" (T03), not in restore (T66); one set per session. */
	if (!s->initialized || s->restore || s->context == SC_CTX_ALL || s->phase != BACKUP_NONE)
		return -SC_E_BAD_STATE;
	if (!session_set_lock(s))
		return -SC_E_SNAPSHOT_SET_IN_PROGRESS; /* T11 */
	set = calloc(1, sizeof(*set));
	if (!set) {
		session_set_unlock(s);
		return -ENOMEM;
	}
	r = sc_id_random(&set->id); /* T10 */
	if (r < 0) {
		session_set_unlock(s);
		free(set);
		return r;
	}
	s->set = set;
	s->phase = BACKUP_SET_STARTED;
	connection_reply(c, m->id, json_pack("{s:s}", "snapshot_set_id",
					     sc_id_to_string(&set->id, id)));
	log_info("%s started snapshot set %s", connection_describe(c), id);
	return 0;
}

static struct add_job *add_job_free(struct add_job *j)
{
	free(j->path);
	free(j->reason);
	provider_volume_done(&j->volume);
	free(j);
	return NULL;
}

/* A volume whose filesystem would be frozen: may it be?  Refusals come
 * here, at add_to_snapshot_set, and again right before the freeze. */
static int add_check_hold(struct add_job *j)
{
	struct hold_protected protected[HOLD_PROTECTED_MAX];
	size_t n = hold_window_protected(j->job.daemon->config, protected);

	if (!(j->chosen->flags & SC_PROVIDER_HOLDS_WRITES))
		return 0;
	return hold_check(j->volume.filesystem, protected, n, &j->hold_dev, &j->reason);
}

static void add_run(struct worker_job *job)
{
	struct add_job *j = (struct add_job *)job;

	if (j->provider) {
		j->chosen = j->provider;
		j->result = j->provider->is_volume_supported(j->path, &j->volume, &j->reason);
	} else {
		j->result = providers_choose(j->path, &j->chosen, &j->volume, &j->reason);
	}
	if (j->result >= 0)
		j->result = add_check_hold(j);
	if (j->result == -ENOENT || j->result == -ENOTDIR)
		j->result = -SC_E_OBJECT_NOT_FOUND; /* T15 */
}

static bool set_has_volume(const struct snapshot_set *set, const char *identity)
{
	for (size_t i = 0; i < set->n_volumes; i++)
		if (strcmp(set->volumes[i].volume.identity, identity) == 0)
			return true;
	return false;
}

/* Add the resolved volume to the set; the reply's object in *ret. */
static int add_finish(struct session *s, struct add_job *j, json_t **ret)
{
	struct snapshot_set *set = s->set;
	char snap[SC_ID_STRING_MAX], prov[SC_ID_STRING_MAX];
	struct set_volume *v;
	int r;

	if (j->result < 0)
		return j->result;
	if (s->phase != BACKUP_SET_STARTED) /* aborted meanwhile */
		return -SC_E_BAD_STATE;
	if (set->n_volumes >= SET_VOLUMES_MAX)
		return -SC_E_MAXIMUM_NUMBER_OF_VOLUMES_REACHED;
	if (set_has_volume(set, j->volume.identity))
		return -SC_E_OBJECT_ALREADY_EXISTS;
	v = &set->volumes[set->n_volumes];
	r = sc_id_random(&v->snap.snapshot_id);
	if (r < 0)
		return r;
	*ret = json_pack("{s:s, s:s, s:s, s:s}", "snapshot_id",
			 sc_id_to_string(&v->snap.snapshot_id, snap), "provider_id",
			 sc_id_to_string(&j->chosen->id, prov), "provider", j->chosen->name,
			 "volume_root", j->volume.root);
	if (!*ret)
		return -ENOMEM;
	v->path = TAKE_PTR(j->path);
	v->provider = j->chosen;
	v->hold_dev = j->hold_dev;
	v->volume = j->volume;
	memset(&j->volume, 0, sizeof(j->volume));
	v->snap.set_id = set->id;
	v->snap.context = s->context;
	v->snap.volume = &v->volume;
	set->n_volumes++;
	return 0;
}

static void add_done(struct worker_job *job)
{
	struct add_job *j = (struct add_job *)job;
	struct session *s = j->session;
	json_t *result = NULL;
	int r;

	if (job->abandoned) {
		add_job_free(j);
		return;
	}
	s->set->n_adding--;
	r = add_finish(s, j, &result);
	if (r < 0 && j->result < 0 && j->reason)
		log_info("%s: volume %s refused: %s", session_describe(s), j->path, j->reason);
	if (r < 0)
		operation_fail_reason(j->op, r, j->result < 0 ? j->reason : NULL);
	else
		operation_reply(j->op, result);
	add_job_free(j);
}

/* The requester cancelled or left: the thread finishes alone. */
static void add_cancelled(void *userdata)
{
	struct add_job *j = userdata;

	j->session->set->n_adding--;
	worker_abandon(&j->job, NULL, NULL);
}

/* The provider the requester named (by id first), or NULL for "choose". */
static int named_provider(json_t *p, const struct sc_provider **ret)
{
	struct sc_id id = { 0 };
	const char *name = NULL;
	int r;

	if ((r = json_get_id(p, "provider_id", false, &id)) < 0 ||
	    (r = json_get_string(p, "provider", false, &name)) < 0)
		return r;
	*ret = NULL;
	if (!sc_id_is_null(&id))
		*ret = providers_find_by_id(&id);
	else if (name)
		*ret = providers_find_by_name(name);
	else
		return 0;
	return *ret ? 0 : -SC_E_PROVIDER_NOT_REGISTERED; /* T16 */
}

static int add_start(struct connection *c, const struct wire_message *m, const char *path,
		     const struct sc_provider *provider)
{
	struct session *s = session_of(c);
	struct add_job *j;
	int r;

	j = calloc(1, sizeof(*j));
	if (!j || !(j->path = strdup(path))) {
		free(j);
		return -ENOMEM;
	}
	j->job.run = add_run;
	j->job.done = add_done;
	j->session = s;
	j->provider = provider;
	r = operation_new(c, m->id, add_cancelled, j, &j->op);
	if (r >= 0 && (r = worker_start(c->daemon, &j->job)) < 0)
		operation_abandon(j->op);
	if (r < 0) {
		add_job_free(j);
		return r;
	}
	s->set->n_adding++;
	return 0;
}

int snapshot_set_add(struct connection *c, const struct wire_message *m)
{
	struct session *s = session_of(c);
	const struct sc_provider *provider;
	const char *path;
	int r;

	/* Volumes are fixed at prepare_for_backup: participation depends on them. */
	if (s->phase != BACKUP_SET_STARTED)
		return -SC_E_BAD_STATE; /* T13 */
	if ((r = json_get_string(m->body, "volume", true, &path)) < 0 ||
	    (r = named_provider(m->body, &provider)) < 0)
		return r;
	if (path[0] != '/') {
		connection_reply_error(c, true, m->id, -SC_E_INVALID_MESSAGE,
				       "volume must be an absolute path");
		return 0;
	}
	if (s->set->n_volumes + s->set->n_adding >= SET_VOLUMES_MAX)
		return -SC_E_MAXIMUM_NUMBER_OF_VOLUMES_REACHED; /* T14 */
	return add_start(c, m, path, provider);
}

void snapshot_set_row(const struct session *s, size_t i, enum catalog_state state,
		      struct catalog_snapshot *ret)
{
	const struct set_volume *v = &s->set->volumes[i];

	*ret = (struct catalog_snapshot){
		.id = v->snap.snapshot_id,
		.set_id = s->set->id,
		.context = s->context,
		.attributes = s->context, /* a context is its attribute bits */
		.state = state,
		.created_realtime_usec = v->created_realtime_usec,
		.volume_path = v->path,
		.volume_root = v->volume.root,
		.volume_identity = v->volume.identity,
		.filesystem = v->volume.filesystem,
		.provider = v->provider->name,
		.location = v->snap.location,
		.session = s->id,
		.set_count = (uint32_t)s->set->n_volumes,
	};
}

json_t *snapshot_set_json(const struct session *s)
{
	_cleanup_json_ json_t *a = json_array();
	struct catalog_snapshot row;

	if (!a)
		return NULL;
	for (size_t i = 0; i < s->set->n_volumes; i++) {
		snapshot_set_row(s, i, CATALOG_COMMITTED, &row);
		if (json_array_append_new(a, snapshots_json(&row)) < 0)
			return NULL;
	}
	return TAKE_PTR(a);
}
