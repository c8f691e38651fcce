/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * session.c - one requester session (one IVssBackupComponents) per requester
 * connection: the call order of vss-model 2.3 as a small state machine, the
 * writer selection, and the writers' metadata and status for this session.
 * It ends with its connection; backup phases come in later versions.
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "daemon.h"
#include "json-util.h"
#include "log.h"

/* Ids a requester may name in each enable/disable list. */
#define SESSION_IDS_MAX 4096

enum session_state {
	SESSION_NEW,              /* before initialize_for_backup */
	SESSION_INITIALIZED,      /* context, backup state, writer selection */
	SESSION_GATHERING,        /* Identify is out */
	SESSION_GATHERED,         /* metadata and status known */
	SESSION_GATHER_CANCELLED, /* gather runs once per session, even cancelled */
};

struct id_list {
	struct sc_id *ids;
	size_t n;
};

/* A writer that answered Identify in this session. */
struct session_writer {
	struct writer_identity identity;
	enum sc_writer_state state;
	int failure;
	json_t *metadata; /* the writer's part of its document */
};

struct session {
	struct connection *conn;
	enum session_state state;
	struct sc_id id;
	uint32_t context;
	bool context_set;
	bool backup_state_set;
	bool select_components;
	bool bootable_system_state;
	bool partial_file_support;
	int backup_type;
	bool classes_enabled; /* enable_writer_classes was called: only those take part */
	struct id_list enabled_classes;
	struct id_list disabled_classes;
	struct id_list disabled_instances;
	struct gather *gather;
	struct operation *gather_op;
	struct session_writer *writers;
	size_t n_writers;
};

int session_new(struct connection *c, struct session **ret)
{
	struct session *s;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->conn = c;
	s->state = SESSION_NEW;
	s->context = SC_CTX_BACKUP; /* T04 */
	*ret = s;
	return 0;
}

struct session *session_free(struct session *s)
{
	if (!s)
		return NULL;
	/* Later versions end the backup here: Abort when one is under way and
	 * BackupShutdown to the session's writers (vss-model T48, T49). */
	if (s->gather_op)
		operation_abandon(s->gather_op);
	gather_free(s->gather);
	for (size_t i = 0; i < s->n_writers; i++) {
		registry_identity_done(&s->writers[i].identity);
		json_decref(s->writers[i].metadata);
	}
	free(s->writers);
	free(s->enabled_classes.ids);
	free(s->disabled_classes.ids);
	free(s->disabled_instances.ids);
	free(s);
	return NULL;
}

static struct session *session_of(struct connection *c)
{
	assert(c->session); /* made at hello for every requester */
	return c->session;
}

int session_initialize_for_backup(struct connection *c, const struct wire_message *m)
{
	struct session *s = session_of(c);
	json_t *document = json_object_get(m->body, "document");
	char id[SC_ID_STRING_MAX];
	int r;

	if (s->state != SESSION_NEW)
		return -SC_E_BAD_STATE; /* T01 */
	if (document && !json_is_null(document)) {
		connection_reply_error(c, true, m->id, -SC_E_INVALID_MESSAGE,
				       "document is reserved and must be null");
		return 0;
	}
	r = sc_id_random(&s->id);
	if (r < 0)
		return r;
	s->state = SESSION_INITIALIZED;
	connection_reply(c, m->id, json_pack("{s:s}", "session", sc_id_to_string(&s->id, id)));
	log_info("%s started session %s", connection_describe(c), id);
	return 0;
}

int session_set_context(struct connection *c, const struct wire_message *m)
{
	struct session *s = session_of(c);
	const char *name;
	uint32_t context;
	int r;

	if (s->state != SESSION_INITIALIZED || s->context_set)
		return -SC_E_BAD_STATE; /* T02 */
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

	if (s->state == SESSION_NEW)
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

	if (s->state == SESSION_NEW)
		return -SC_E_BAD_STATE;
	r = json_get_id_array(m->body, key, &ids, &n);
	if (r < 0)
		return r;
	if (s->state == SESSION_INITIALIZED) {
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

	if (r >= 0 && s->state == SESSION_INITIALIZED)
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
	s->gather = gather_free(s->gather);
	s->state = SESSION_GATHERED;
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
	s->gather = gather_free(s->gather);
	s->state = SESSION_GATHER_CANCELLED;
}

int session_gather_writer_metadata(struct connection *c, const struct wire_message *m)
{
	struct session *s = session_of(c);
	int r;

	if (s->state != SESSION_INITIALIZED)
		return -SC_E_BAD_STATE; /* before initialize, or a second time */
	r = operation_new(c, m->id, session_gather_cancelled, s, &s->gather_op);
	if (r < 0)
		return r;
	r = gather_start(c->daemon, session_writer_enabled, s, session_gather_done, s, &s->gather);
	if (r < 0) {
		operation_abandon(TAKE_PTR(s->gather_op));
		return r;
	}
	s->state = SESSION_GATHERING;
	return 0;
}

static json_t *session_status(const struct session_writer *sw)
{
	char class_id[SC_ID_STRING_MAX], instance_id[SC_ID_STRING_MAX];

	return json_pack("{s:s, s:s, s:s, s:i, s:s}", "instance_id",
			 sc_id_to_string(&sw->identity.instance_id, instance_id), "class_id",
			 sc_id_to_string(&sw->identity.class_id, class_id), "name",
			 sw->identity.name, "state", (int)sw->state, "failure",
			 sc_error_name(sw->failure));
}

/* A long operation by the protocol; in this version the states are already
 * known when it is called, so it answers at once. */
int session_gather_writer_status(struct connection *c, const struct wire_message *m)
{
	struct session *s = session_of(c);
	_cleanup_json_ json_t *writers = NULL;

	if (s->state != SESSION_GATHERED)
		return -SC_E_BAD_STATE;
	writers = json_array();
	if (!writers)
		return -ENOMEM;
	for (size_t i = 0; i < s->n_writers; i++)
		if (json_array_append_new(writers, session_status(&s->writers[i])) < 0)
			return -ENOMEM;
	connection_reply(c, m->id, json_pack("{s:O}", "writers", writers));
	return 0;
}
