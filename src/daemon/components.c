/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * components.c - the components a requester selects (add_component,
 * set_backup_succeeded), checked against the metadata its writers gave, and
 * the backup components document built from them (save_document, and the
 * catalog's copy for persistent sets).  Who takes part because of them is
 * participation.c's business.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "json-util.h"
#include "session.h"

/* The params that name a component (protocol.md §6.3). */
struct component_ref {
	struct sc_id instance_id;
	struct sc_id class_id;
	int64_t type;
	const char *logical_path;
	const char *name;
};

struct component *components_free(struct component *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(c[i].logical_path);
		free(c[i].name);
	}
	free(c);
	return NULL;
}

static int parse_ref(json_t *p, struct component_ref *ret)
{
	int r;

	if ((r = json_get_id(p, "instance_id", true, &ret->instance_id)) < 0 ||
	    (r = json_get_id(p, "class_id", true, &ret->class_id)) < 0 ||
	    (r = json_get_int(p, "type", true, SC_CT_DATABASE, SC_CT_FILEGROUP, &ret->type)) < 0 ||
	    (r = json_get_string(p, "logical_path", true, &ret->logical_path)) < 0 ||
	    (r = json_get_string(p, "name", true, &ret->name)) < 0)
		return r;
	return 0;
}

/* The session writer @ref names, or -SC_E_OBJECT_NOT_FOUND. */
static int find_writer(const struct session *s, const struct component_ref *ref, size_t *ret)
{
	for (size_t i = 0; i < s->n_writers; i++)
		if (sc_id_equal(&s->writers[i].identity.instance_id, &ref->instance_id) &&
		    sc_id_equal(&s->writers[i].identity.class_id, &ref->class_id)) {
			*ret = i;
			return 0;
		}
	return -SC_E_OBJECT_NOT_FOUND;
}

static bool metadata_has(json_t *metadata, const struct component_ref *ref)
{
	json_t *components = json_object_get(metadata, "components"), *c;
	size_t i;

	json_array_foreach(components, i, c) {
		const char *lp = json_string_value(json_object_get(c, "logical_path"));
		const char *name = json_string_value(json_object_get(c, "name"));

		if (json_integer_value(json_object_get(c, "type")) == ref->type && lp && name &&
		    strcmp(lp, ref->logical_path) == 0 && strcmp(name, ref->name) == 0)
			return true;
	}
	return false;
}

/* The added component @ref names (its writer at @writer), or NULL.  VSS
 * keys them by instance, logical path and name (T09). */
static struct component *find_component(const struct session *s, size_t writer,
					const struct component_ref *ref)
{
	for (size_t i = 0; i < s->n_components; i++) {
		struct component *c = &s->components[i];

		if (c->writer == writer && strcmp(c->logical_path, ref->logical_path) == 0 &&
		    strcmp(c->name, ref->name) == 0)
			return c;
	}
	return NULL;
}

static int append(struct session *s, size_t writer, const struct component_ref *ref)
{
	struct component *a, *c;

	a = reallocarray(s->components, s->n_components + 1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	s->components = a;
	c = &a[s->n_components];
	*c = (struct component){
		.writer = writer,
		.type = (int)ref->type,
		.logical_path = strdup(ref->logical_path),
		.name = strdup(ref->name),
	};
	if (!c->logical_path || !c->name) {
		free(c->logical_path);
		free(c->name);
		return -ENOMEM;
	}
	s->n_components++;
	return 0;
}

int components_add(struct connection *c, const struct wire_message *m)
{
	struct session *s = session_of(c);
	struct component_ref ref;
	size_t writer;
	int r;

	/* After gather, before the set; component mode of a writer context. */
	if (s->gather != GATHER_DONE || s->phase != BACKUP_NONE || !session_writer_context(s) ||
	    !s->select_components)
		return -SC_E_BAD_STATE;
	r = parse_ref(m->body, &ref);
	if (r < 0)
		return r;
	r = find_writer(s, &ref, &writer);
	if (r >= 0 && !metadata_has(s->writers[writer].metadata, &ref))
		r = -SC_E_OBJECT_NOT_FOUND;
	if (r >= 0 && find_component(s, writer, &ref))
		r = -SC_E_OBJECT_ALREADY_EXISTS;
	if (r >= 0)
		r = append(s, writer, &ref);
	if (r < 0)
		return r;
	connection_reply(c, m->id, json_object());
	return 0;
}

int components_set_backup_succeeded(struct connection *c, const struct wire_message *m)
{
	struct session *s = session_of(c);
	struct component_ref ref;
	struct component *comp;
	size_t writer;
	bool succeeded;
	int r;

	/* After a successful do_snapshot_set, before backup_complete (B11). */
	if (s->phase != BACKUP_SNAPSHOTS_DONE)
		return -SC_E_BAD_STATE;
	if ((r = parse_ref(m->body, &ref)) < 0 ||
	    (r = json_get_bool(m->body, "succeeded", true, &succeeded)) < 0)
		return r;
	r = find_writer(s, &ref, &writer);
	if (r < 0)
		return r;
	comp = find_component(s, writer, &ref);
	if (!comp || comp->type != ref.type)
		return -SC_E_OBJECT_NOT_FOUND;
	comp->backup_succeeded = succeeded;
	connection_reply(c, m->id, json_object());
	return 0;
}

json_t *components_json(const struct session *s, size_t writer)
{
	_cleanup_json_ json_t *a = json_array();

	if (!a)
		return NULL;
	for (size_t i = 0; i < s->n_components; i++) {
		const struct component *c = &s->components[i];

		if (c->writer != writer)
			continue;
		if (json_array_append_new(a, json_pack("{s:s, s:s, s:b}", "logical_path",
							c->logical_path, "name", c->name,
							"backup_succeeded",
							c->backup_succeeded)) < 0)
			return NULL;
	}
	return TAKE_PTR(a);
}

static json_t *component_entry(const struct session *s, const struct component *c)
{
	const struct writer_identity *id = &s->writers[c->writer].identity;
	char instance[SC_ID_STRING_MAX], class[SC_ID_STRING_MAX];

	return json_pack("{s:s, s:s, s:i, s:s, s:s, s:b}", "instance_id",
			 sc_id_to_string(&id->instance_id, instance), "class_id",
			 sc_id_to_string(&id->class_id, class), "type", c->type, "logical_path",
			 c->logical_path, "name", c->name, "backup_succeeded", c->backup_succeeded);
}

/* The metadata documents of the writers that took part. */
static json_t *writers_json(const struct session *s)
{
	_cleanup_json_ json_t *a = json_array();

	if (!a)
		return NULL;
	for (size_t i = 0; i < s->n_writers; i++) {
		const struct session_writer *sw = &s->writers[i];

		if (sw->participating &&
		    json_array_append_new(a, gather_document(&sw->identity, sw->metadata)) < 0)
			return NULL;
	}
	return TAKE_PTR(a);
}

json_t *components_document(const struct session *s)
{
	_cleanup_json_ json_t *components = json_array();
	char session[SC_ID_STRING_MAX], set[SC_ID_STRING_MAX];

	if (!components)
		return NULL;
	for (size_t i = 0; i < s->n_components; i++)
		if (json_array_append_new(components, component_entry(s, &s->components[i])) < 0)
			return NULL;
	return json_pack("{s:s, s:s, s:s, s:i, s:b, s:b, s:b, s:s, s:o, s:O, s:o}", "session",
			 sc_id_to_string(&s->id, session), "context", sc_context_name(s->context),
			 "mode", s->select_components ? "component" : "volume", "backup_type",
			 s->backup_type, "select_components", s->select_components,
			 "bootable_system_state", s->bootable_system_state,
			 "partial_file_support", s->partial_file_support, "snapshot_set_id",
			 sc_id_to_string(&s->set->id, set), "snapshots", snapshot_set_json(s),
			 "components", components, "writers", writers_json(s));
}

int components_save_document(struct connection *c, const struct wire_message *m)
{
	struct session *s = session_of(c);
	json_t *doc;

	/* Writers may change it until PostSnapshot (vss-model 2.1). */
	if (!s->set || !s->set->committed)
		return -SC_E_BAD_STATE;
	doc = components_document(s);
	if (!doc)
		return -ENOMEM;
	connection_reply(c, m->id, json_pack("{s:o}", "document", doc));
	return 0;
}
