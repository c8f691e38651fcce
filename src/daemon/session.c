/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * session.c - one requester session (one IVssBackupComponents) per requester
 * connection: its life (new, end, free), the deferred advance that runs
 * every transition of its backup, and the calls before the snapshot set
 * (vss-model 2.3): initialize, context, backup state, writer selection,
 * metadata and status.  The backup itself is in the files session.h lists.
 */
#include <assert.h>
#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include <systemd/sd-event.h>

#include "cleanup.h"
#include "json-util.h"
#include "log.h"
#include "session.h"

/* Ids a requester may name in each enable/disable list. */
#define SESSION_IDS_MAX 4096

static int session_on_kick(sd_event_source *src, void *userdata)
{
	struct session *s = userdata;

	if (hold_window_holds_back(s))
		return 0; /* nothing that writes to disk while writes are held */
	switch (s->phase) {
	case BACKUP_PREPARING:
		backup_prepare_advance(s);
		break;
	case BACKUP_SNAPSHOTTING:
		coordinator_advance(s);
		break;
	case BACKUP_COMPLETING:
		backup_complete_advance(s);
		break;
	case BACKUP_ABORTING:
		abort_advance(s);
		break;
	default:
		break;
	}
	if (s->end != END_NONE)
		(void)backup_end_advance(s); /* may free s: nothing after it */
	return 0;
}

void session_kick(struct session *s)
{
	int r;

	if (s->daemon->exiting)
		return; /* the loop is over: the sessions are freed as they are */
	r = sd_event_source_set_enabled(s->kick, SD_EVENT_ONESHOT);
	/* Cannot fail for a defer source that exists; if it ever did, the
	 * session would stall with its deadlines still running. */
	if (r < 0)
		log_error_errno(r, "Failed to schedule session work");
}

const char *session_describe(const struct session *s)
{
	static char buf[64];
	char id[SC_ID_STRING_MAX];

	snprintf(buf, sizeof(buf), "Session %s", sc_id_to_string(&s->id, id));
	return buf;
}

int session_new(struct connection *c, struct session **ret)
{
	struct session *s;
	int r;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->daemon = c->daemon;
	s->conn = c;
	s->context = SC_CTX_BACKUP; /* T04 */
	s->backup_type = SC_BT_FULL;
	r = sd_event_add_defer(c->daemon->event, &s->kick, session_on_kick, s);
	if (r >= 0)
		r = sd_event_source_set_enabled(s->kick, SD_EVENT_OFF);
	if (r < 0) {
		sd_event_source_disable_unref(s->kick);
		free(s);
		return r;
	}
	TAILQ_INSERT_TAIL(&c->daemon->sessions, s, entry);
	*ret = s;
	return 0;
}

/* Free @s now, whatever runs: at exit, and at the end of backup_end_advance(). */
struct session *session_free(struct session *s)
{
	if (!s)
		return NULL;
	history_flush(s); /* names the set: first */
	history_done(s);
	fanout_cancel(s);
	participation_cancel(s);
	gather_free(s->gather_job);
	if (s->deleting)
		delete_job_abandon(s->deleting); /* the catalog still follows it */
	if (s->set)
		s->set->window = hold_window_let_go(s->set->window);
	if (s->set && s->set->job) {
		/* The thread still uses the set: it goes with the job. */
		worker_abandon(&s->set->job->job, snapshot_set_release, s->set);
		s->set->job = NULL;
		s->set->job_timer = sd_event_source_disable_unref(s->set->job_timer);
	} else {
		snapshot_set_free(s->set);
	}
	if (s->daemon->set_owner == s)
		s->daemon->set_owner = NULL;
	for (size_t i = 0; i < s->n_writers; i++) {
		registry_identity_done(&s->writers[i].identity);
		json_decref(s->writers[i].metadata);
	}
	free(s->writers);
	components_free(s->components, s->n_components);
	free(s->enabled_classes.ids);
	free(s->disabled_classes.ids);
	free(s->disabled_instances.ids);
	free(s->error_reason);
	TAILQ_REMOVE(&s->daemon->sessions, s, entry);
	sd_event_source_disable_unref(s->kick);
	/* A backup of a thousand writers leaves ~9 MiB of freed event and
	 * history strings in the heap (docs/benchmarks.md): give it back once
	 * no backup runs. */
	if (TAILQ_EMPTY(&s->daemon->sessions))
		(void)malloc_trim(0);
	free(s);
	return NULL;
}

void session_free_all(struct daemon *d)
{
	struct session *s;

	while ((s = TAILQ_FIRST(&d->sessions))) {
		if (s->conn)
			s->conn->session = NULL;
		session_free(s);
	}
}

/* The requester is gone (its operations were cancelled just before): end
 * the backup as vss-model 6 and T48-T50 say, then free, from the loop. */
void session_end(struct session *s)
{
	if (!s)
		return;
	s->conn = NULL;
	s->end = END_WAITING;
	session_kick(s);
}

struct session *session_of(struct connection *c)
{
	assert(c->session); /* made at hello for every requester */
	return c->session;
}

void session_op_reply(struct session *s, json_t *result)
{
	struct operation *op = TAKE_PTR(s->op);

	if (op)
		operation_reply(op, result);
	else
		json_decref(result);
}

void session_op_fail(struct session *s, int error)
{
	struct operation *op = TAKE_PTR(s->op);

	if (op)
		operation_fail_reason(op, error, s->error_reason);
}

bool session_set_lock(struct session *s)
{
	if (s->daemon->set_owner && s->daemon->set_owner != s)
		return false;
	s->daemon->set_owner = s;
	return true;
}

void session_set_unlock(struct session *s)
{
	if (s->daemon->set_owner == s)
		s->daemon->set_owner = NULL;
}

static int session_initialize(struct connection *c, const struct wire_message *m, bool restore)
{
	struct session *s = session_of(c);
	json_t *document = json_object_get(m->body, "document");
	char id[SC_ID_STRING_MAX];
	int r;

	if (s->initialized)
		return -SC_E_BAD_STATE; /* T01 */
	if (document && !json_is_null(document)) {
		connection_reply_error(c, true, m->id, -SC_E_INVALID_MESSAGE,
				       "document is reserved and must be null");
		return 0;
	}
	r = sc_id_random(&s->id);
	if (r < 0)
		return r;
	s->initialized = true;
	s->restore = restore;
	connection_reply(c, m->id, json_pack("{s:s}", "session", sc_id_to_string(&s->id, id)));
	log_info("%s started session %s%s", connection_describe(c), id,
		 restore ? " for restore" : "");
	return 0;
}

int session_initialize_for_backup(struct connection *c, const struct wire_message *m)
{
	return session_initialize(c, m, false);
}

/* Restore itself comes later; the session exists so that the backup-only
 * calls can answer BAD_STATE as VSS does (T66) and abort has nothing to
 * abort (A5). */
int session_initialize_for_restore(struct connection *c, const struct wire_message *m)
{
	return session_initialize(c, m, true);
}

int session_set_context(struct connection *c, const struct wire_message *m)
{
	struct session *s = session_of(c);
	const char *name;
	uint32_t context;
	int r;

	/* Once, before gather and before the set (T02). */
	if (!s->initialized || s->context_set || s->gather != GATHER_NONE ||
	    s->phase != BACKUP_NONE)
		return -SC_E_BAD_STATE;
	r = json_get_string(m->body, "context", true, &name);
	if (r < 0)
		return r;
	if (sc_context_from_name(name, &context) < 0) {
		connection_reply_error(c, true, m->id, -SC_E_INVALID_MESSAGE,
				       "Unknown context '%.64s'", name);
		return 0;
	}
	s->context = context;
	s->context_set = true;
	connection_reply(c, m->id, json_object());
	return 0;
}

int session_set_backup_state(struct connection *c, const struct wire_message *m)
{
	struct session *s = session_of(c);
	bool select_components, bootable, partial;
	int64_t type;
	int r;

	/* Before prepare_for_backup: the writers learn it there. */
	if (!s->initialized || s->restore || s->phase > BACKUP_SET_STARTED)
		return -SC_E_BAD_STATE;
	if ((r = json_get_bool(m->body, "select_components", true, &select_components)) < 0 ||
	    (r = json_get_bool(m->body, "bootable_system_state", true, &bootable)) < 0 ||
	    (r = json_get_int(m->body, "backup_type", true, SC_BT_FULL, SC_BT_OTHER, &type)) < 0 ||
	    (r = json_get_bool(m->body, "partial_file_support", true, &partial)) < 0)
		return r;
	s->select_components = select_components;
	s->bootable_system_state = bootable;
	s->backup_type = (int)type;
	s->partial_file_support = partial;
	s->backup_state_set = true;
	connection_reply(c, m->id, json_object());
	return 0;
}

static bool id_list_contains(const struct id_list *l, const struct sc_id *id)
{
	for (size_t i = 0; i < l->n; i++)
		if (sc_id_equal(&l->ids[i], id))
			return true;
	return false;
}

static int id_list_add(struct id_list *l, const struct sc_id *ids, size_t n)
{
	struct sc_id *p;

	if (n > SESSION_IDS_MAX || l->n + n > SESSION_IDS_MAX)
		return -E2BIG;
	p = reallocarray(l->ids, l->n + n + 1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	l->ids = p;
	for (size_t i = 0; i < n; i++)
		if (!id_list_contains(l, &ids[i]))
			l->ids[l->n++] = ids[i];
	return 0;
}

/* enable_writer_classes, disable_writer_classes, disable_writer_instances:
 * they select writers for the gather, so after it they succeed without
 * effect (T07). */
static int session_select(struct connection *c, const struct wire_message *m, const char *key,
			  struct id_list *list)
{
	struct session *s = session_of(c);
	_cleanup_free_ struct sc_id *ids = NULL;
	size_t n;
	int r;

	if (!s->initialized)
		return -SC_E_BAD_STATE;
	r = json_get_id_array(m->body, key, &ids, &n);
	if (r < 0)
		return r;
	if (s->gather == GATHER_NONE) {
		r = id_list_add(list, ids, n);
		if (r == -E2BIG) {
			connection_reply_error(c, true, m->id, -SC_E_INVALID_MESSAGE,
					       "At most %u ids per list", SESSION_IDS_MAX);
			return 0;
		}
		if (r < 0)
			return r;
	}
	connection_reply(c, m->id, json_object());
	return 0;
}

int session_enable_writer_classes(struct connection *c, const struct wire_message *m)
{
	struct session *s = session_of(c);
	int r = session_select(c, m, "class_ids", &s->enabled_classes);

	if (r >= 0 && s->gather == GATHER_NONE)
		s->classes_enabled = true;
	return r;
}

int session_disable_writer_classes(struct connection *c, const struct wire_message *m)
{
	return session_select(c, m, "class_ids", &session_of(c)->disabled_classes);
}

int session_disable_writer_instances(struct connection *c, const struct wire_message *m)
{
	return session_select(c, m, "instance_ids", &session_of(c)->disabled_instances);
}

/* protocol.md §6.2: enable lists name the only classes that take part, then
 * disable lists remove classes and instances. */
static bool session_writer_enabled(const struct writer *w, void *userdata)
{
	const struct session *s = userdata;

	if (s->classes_enabled && !id_list_contains(&s->enabled_classes, &w->identity.class_id))
		return false;
	return !id_list_contains(&s->disabled_classes, &w->identity.class_id) &&
	       !id_list_contains(&s->disabled_instances, &w->identity.instance_id);
}

/* Keep the writers that answered Identify successfully (T06), taking their
 * identity and metadata from the gather. */
static int session_keep_writers(struct session *s, struct gather *g)
{
	s->writers = calloc(g->n_entries + 1, sizeof(*s->writers));
	if (!s->writers)
		return -ENOMEM;
	for (size_t i = 0; i < g->n_entries; i++) {
		struct gather_entry *e = &g->entries[i];
		struct session_writer *sw;

		if (!e->present || e->state != SC_WS_STABLE)
			continue;
		sw = &s->writers[s->n_writers++];
		sw->session = s;
		sw->identity = e->identity;
		memset(&e->identity, 0, sizeof(e->identity));
		sw->state = e->state;
		sw->metadata = TAKE_PTR(e->metadata);
	}
	return 0;
}

static json_t *session_documents(const struct session *s)
{
	_cleanup_json_ json_t *writers = json_array();

	if (!writers)
		return NULL;
	for (size_t i = 0; i < s->n_writers; i++)
		if (json_array_append_new(writers, gather_document(&s->writers[i].identity,
								   s->writers[i].metadata)) < 0)
			return NULL;
	return json_pack("{s:O}", "writers", writers);
}

static void session_gather_done(struct gather *g, void *userdata)
{
	struct session *s = userdata;
	struct operation *op = TAKE_PTR(s->gather_op);
	json_t *result = NULL;

	if (session_keep_writers(s, g) >= 0)
		result = session_documents(s);
	s->gather_job = gather_free(s->gather_job);
	s->gather = GATHER_DONE;
	log_info("%s gathered the metadata of %zu writers", connection_describe(s->conn),
		 s->n_writers);
	if (result)
		operation_reply(op, result);
	else
		operation_fail(op, -ENOMEM);
}

static void session_gather_cancelled(void *userdata)
{
	struct session *s = userdata;

	s->gather_op = NULL;
	s->gather_job = gather_free(s->gather_job);
	s->gather = GATHER_CANCELLED;
}

int session_gather_writer_metadata(struct connection *c, const struct wire_message *m)
{
	struct session *s = session_of(c);
	int r;

	/* Once, and before prepare_for_backup: participation depends on it. */
	if (!s->initialized || s->gather != GATHER_NONE || s->phase > BACKUP_SET_STARTED)
		return -SC_E_BAD_STATE;
	r = operation_new(c, m->id, session_gather_cancelled, s, &s->gather_op);
	if (r < 0)
		return r;
	r = gather_start(c->daemon, session_writer_enabled, s, session_gather_done, s,
			 &s->gather_job);
	if (r < 0) {
		operation_abandon(TAKE_PTR(s->gather_op));
		return r;
	}
	s->gather = GATHER_RUNNING;
	return 0;
}

json_t *session_writer_status(const struct session_writer *sw)
{
	char class_id[SC_ID_STRING_MAX], instance_id[SC_ID_STRING_MAX];

	return json_pack("{s:s, s:s, s:s, s:i, s:s}", "instance_id",
			 sc_id_to_string(&sw->identity.instance_id, instance_id), "class_id",
			 sc_id_to_string(&sw->identity.class_id, class_id), "name",
			 sw->identity.name, "state", (int)sw->state, "failure",
			 sc_error_name(sw->failure));
}

json_t *session_writer_failures(const struct session *s, enum sc_writer_state first,
				enum sc_writer_state last)
{
	_cleanup_json_ json_t *a = json_array();

	if (!a)
		return NULL;
	for (size_t i = 0; i < s->n_writers; i++) {
		const struct session_writer *sw = &s->writers[i];

		if (!sw->participating || sw->state < first || sw->state > last)
			continue;
		if (json_array_append_new(a, session_writer_status(sw)) < 0)
			return NULL;
	}
	return TAKE_PTR(a);
}

/* A long operation by the protocol; the states are known when it is
 * called, so it answers at once. */
int session_gather_writer_status(struct connection *c, const struct wire_message *m)
{
	struct session *s = session_of(c);
	_cleanup_json_ json_t *writers = NULL;

	if (s->gather != GATHER_DONE)
		return -SC_E_BAD_STATE;
	writers = json_array();
	if (!writers)
		return -ENOMEM;
	for (size_t i = 0; i < s->n_writers; i++)
		if (json_array_append_new(writers, session_writer_status(&s->writers[i])) < 0)
			return -ENOMEM;
	connection_reply(c, m->id, json_pack("{s:O}", "writers", writers));
	return 0;
}
