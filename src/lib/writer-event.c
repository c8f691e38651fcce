/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * writer-event.c - what an event carries (docs/protocol.md §4.2): decoding of
 * the params into struct sc_writer_event, and the accessors handlers use.
 * Running handlers and answering are writer-dispatch.c's.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <shadowcopy/writer.h>

#include "json-util.h"
#include "writer-internal.h"

static int parse_context(json_t *params, uint32_t *ret)
{
	const char *name = NULL;
	int r;

	r = json_get_string(params, "context", false, &name);
	if (r < 0)
		return r;
	if (!name) {
		*ret = SC_CTX_BACKUP;
		return 0;
	}
	return sc_context_from_name(name, ret) < 0 ? -SC_E_INVALID_MESSAGE : 0;
}

static int parse_volumes(json_t *params, struct sc_writer_event *ev)
{
	json_t *a = NULL, *v;
	size_t i;
	int r;

	r = json_get_array(params, "volumes", false, JSON_STRING, &a);
	if (r < 0 || !a || json_array_size(a) == 0)
		return r;
	ev->volumes = calloc(json_array_size(a), sizeof(*ev->volumes));
	if (!ev->volumes)
		return -ENOMEM;
	json_array_foreach(a, i, v)
		ev->volumes[i] = json_string_value(v);
	ev->n_volumes = json_array_size(a);
	return 0;
}

static int parse_component(json_t *c, struct writer_component *ret)
{
	struct writer_component wc = { .logical_path = "" };
	int r;

	if ((r = json_get_string(c, "logical_path", false, &wc.logical_path)) < 0 ||
	    (r = json_get_string(c, "name", true, &wc.name)) < 0 ||
	    (r = json_get_bool(c, "backup_succeeded", false, &wc.backup_succeeded)) < 0)
		return r;
	*ret = wc;
	return 0;
}

static int parse_components(json_t *params, struct sc_writer_event *ev)
{
	json_t *a = NULL, *c;
	size_t i;
	int r;

	r = json_get_array(params, "components", false, JSON_OBJECT, &a);
	if (r < 0 || !a || json_array_size(a) == 0)
		return r;
	ev->components = calloc(json_array_size(a), sizeof(*ev->components));
	if (!ev->components)
		return -ENOMEM;
	json_array_foreach(a, i, c) {
		r = parse_component(c, &ev->components[i]);
		if (r < 0)
			return r;
	}
	ev->n_components = json_array_size(a);
	return 0;
}

int writer_event_parse(enum sc_event type, json_t *params, struct sc_writer_event *ret)
{
	struct sc_writer_event ev = { .type = type };
	int64_t backup_type = SC_BT_UNDEFINED;
	int r;

	if ((r = json_get_id(params, "session", false, &ev.session)) < 0 ||
	    (r = json_get_id(params, "snapshot_set_id", false, &ev.snapshot_set_id)) < 0 ||
	    (r = parse_context(params, &ev.context)) < 0 ||
	    (r = json_get_int(params, "backup_type", false, 0, _SC_BT_MAX - 1, &backup_type)) < 0 ||
	    (r = json_get_bool(params, "select_components", false, &ev.select_components)) < 0 ||
	    (r = parse_volumes(params, &ev)) < 0 || (r = parse_components(params, &ev)) < 0) {
		writer_event_done(&ev);
		return r;
	}
	ev.backup_type = (enum sc_backup_type)backup_type;
	*ret = ev;
	return 0;
}

void writer_event_done(struct sc_writer_event *ev)
{
	free(ev->volumes);
	free(ev->components);
	ev->volumes = NULL;
	ev->components = NULL;
	ev->n_volumes = ev->n_components = 0;
}

SC_EXPORT enum sc_event sc_writer_event_get_type(const struct sc_writer_event *ev)
{
	if (!ev)
		return _SC_EVENT_MAX;
	return ev->type;
}

SC_EXPORT void sc_writer_event_get_snapshot_set_id(const struct sc_writer_event *ev,
						   struct sc_id *ret)
{
	if (!ev || !ret)
		return;
	*ret = ev->snapshot_set_id;
}

SC_EXPORT uint32_t sc_writer_event_get_context(const struct sc_writer_event *ev)
{
	if (!ev)
		return SC_CTX_BACKUP;
	return ev->context;
}

SC_EXPORT enum sc_backup_type sc_writer_event_get_backup_type(const struct sc_writer_event *ev)
{
	if (!ev)
		return SC_BT_UNDEFINED;
	return ev->backup_type;
}

SC_EXPORT bool sc_writer_event_are_components_selected(const struct sc_writer_event *ev)
{
	if (!ev)
		return false;
	return ev->select_components;
}

SC_EXPORT size_t sc_writer_event_get_volume_count(const struct sc_writer_event *ev)
{
	if (!ev)
		return 0;
	return ev->n_volumes;
}

SC_EXPORT const char *sc_writer_event_get_volume(const struct sc_writer_event *ev, size_t i)
{
	if (!ev || i >= ev->n_volumes)
		return NULL;
	return ev->volumes[i];
}

SC_EXPORT size_t sc_writer_event_get_component_count(const struct sc_writer_event *ev)
{
	if (!ev)
		return 0;
	return ev->n_components;
}

SC_EXPORT int sc_writer_event_get_component(const struct sc_writer_event *ev, size_t i,
					    const char **ret_logical_path, const char **ret_name,
					    bool *ret_backup_succeeded)
{
	if (!ev)
		return -EINVAL;
	if (i >= ev->n_components)
		return -SC_E_OBJECT_NOT_FOUND;
	if (ret_logical_path)
		*ret_logical_path = ev->components[i].logical_path;
	if (ret_name)
		*ret_name = ev->components[i].name;
	if (ret_backup_succeeded)
		*ret_backup_succeeded = ev->components[i].backup_succeeded;
	return 0;
}
