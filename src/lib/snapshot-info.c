/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * snapshot-info.c - the objects a requester's queries return (VSS's
 * VSS_OBJECT_PROP: VSS_SNAPSHOT_PROP or VSS_PROVIDER_PROP), parsed from the
 * SNAPSHOT and PROVIDER objects of protocol.md §6.3 into fields whose strings
 * borrow from the object.  It never talks to the service.
 */
#include <errno.h>
#include <stdlib.h>

#include "json-util.h"
#include "requester-internal.h"

struct sc_snapshot_info {
	json_t *doc;
	struct sc_id id;
	struct sc_id set_id;
	struct sc_id provider_id;
	uint32_t count;
	const char *location;
	const char *original_volume;
	const char *volume_root;
	const char *provider;
	uint32_t context;
	uint32_t attributes;
	uint64_t created_usec; /* since the Unix epoch */
};

struct sc_provider_info {
	json_t *doc;
	struct sc_id id;
	const char *name;
	const char *version;
	int type;
};

static int parse_snapshot(struct sc_snapshot_info *si)
{
	const char *context = NULL;
	int64_t count = 0, attributes = 0, created = 0;
	int k;

	if ((k = json_get_id(si->doc, "snapshot_id", true, &si->id)) < 0 ||
	    (k = json_get_id(si->doc, "snapshot_set_id", true, &si->set_id)) < 0 ||
	    (k = json_get_id(si->doc, "provider_id", true, &si->provider_id)) < 0 ||
	    (k = json_get_int(si->doc, "count", true, 0, UINT32_MAX, &count)) < 0 ||
	    (k = json_get_string(si->doc, "location", true, &si->location)) < 0 ||
	    (k = json_get_string(si->doc, "original_volume", true, &si->original_volume)) < 0 ||
	    (k = json_get_string(si->doc, "volume_root", true, &si->volume_root)) < 0 ||
	    (k = json_get_string(si->doc, "provider", true, &si->provider)) < 0 ||
	    (k = json_get_string(si->doc, "context", true, &context)) < 0 ||
	    (k = json_get_int(si->doc, "attributes", true, 0, UINT32_MAX, &attributes)) < 0 ||
	    (k = json_get_int(si->doc, "created", true, 0, INT64_MAX, &created)) < 0)
		return k;
	if (sc_context_from_name(context, &si->context) < 0)
		return -SC_E_INVALID_MESSAGE;
	si->count = (uint32_t)count;
	si->attributes = (uint32_t)attributes;
	si->created_usec = (uint64_t)created;
	return 0;
}

int snapshot_info_new(json_t *doc, struct sc_snapshot_info **ret)
{
	struct sc_snapshot_info *si;
	int k;

	if (!json_is_object(doc))
		return -SC_E_INVALID_MESSAGE;
	si = calloc(1, sizeof(*si));
	if (!si)
		return -ENOMEM;
	si->doc = json_incref(doc);
	k = parse_snapshot(si);
	if (k < 0) {
		sc_snapshot_info_free(si);
		return k;
	}
	*ret = si;
	return 0;
}

SC_EXPORT struct sc_snapshot_info *sc_snapshot_info_free(struct sc_snapshot_info *si)
{
	if (!si)
		return NULL;
	json_decref(si->doc);
	free(si);
	return NULL;
}

SC_EXPORT void sc_snapshot_info_array_free(struct sc_snapshot_info **a, size_t n)
{
	if (!a)
		return;
	for (size_t i = 0; i < n; i++)
		sc_snapshot_info_free(a[i]);
	free(a);
}

int snapshot_info_array_new(json_t *a, struct sc_snapshot_info ***ret, size_t *ret_n)
{
	struct sc_snapshot_info **infos;
	json_t *doc;
	size_t i;
	int k;

	infos = calloc(json_array_size(a) + 1, sizeof(*infos));
	if (!infos)
		return -ENOMEM;
	json_array_foreach(a, i, doc) {
		k = snapshot_info_new(doc, &infos[i]);
		if (k < 0) {
			sc_snapshot_info_array_free(infos, i);
			return k;
		}
	}
	*ret = infos;
	*ret_n = json_array_size(a);
	return 0;
}

static struct sc_provider_info *provider_info_free(struct sc_provider_info *pi)
{
	if (!pi)
		return NULL;
	json_decref(pi->doc);
	free(pi);
	return NULL;
}

static int provider_info_new(json_t *doc, struct sc_provider_info **ret)
{
	struct sc_provider_info *pi;
	int64_t type = 0;
	int k;

	pi = calloc(1, sizeof(*pi));
	if (!pi)
		return -ENOMEM;
	pi->doc = json_incref(doc);
	if ((k = json_get_id(doc, "provider_id", true, &pi->id)) < 0 ||
	    (k = json_get_string(doc, "name", true, &pi->name)) < 0 ||
	    (k = json_get_string(doc, "version", true, &pi->version)) < 0 ||
	    (k = json_get_int(doc, "type", true, 0, INT32_MAX, &type)) < 0) {
		provider_info_free(pi);
		return k;
	}
	pi->type = (int)type;
	*ret = pi;
	return 0;
}

SC_EXPORT void sc_provider_info_array_free(struct sc_provider_info **a, size_t n)
{
	if (!a)
		return;
	for (size_t i = 0; i < n; i++)
		provider_info_free(a[i]);
	free(a);
}

int snapshot_info_provider_array_new(json_t *a, struct sc_provider_info ***ret, size_t *ret_n)
{
	struct sc_provider_info **infos;
	json_t *doc;
	size_t i;
	int k;

	infos = calloc(json_array_size(a) + 1, sizeof(*infos));
	if (!infos)
		return -ENOMEM;
	json_array_foreach(a, i, doc) {
		k = provider_info_new(doc, &infos[i]);
		if (k < 0) {
			sc_provider_info_array_free(infos, i);
			return k;
		}
	}
	*ret = infos;
	*ret_n = json_array_size(a);
	return 0;
}

SC_EXPORT void sc_snapshot_info_get_id(const struct sc_snapshot_info *si, struct sc_id *ret)
{
	if (si && ret)
		*ret = si->id;
}

SC_EXPORT void sc_snapshot_info_get_set_id(const struct sc_snapshot_info *si, struct sc_id *ret)
{
	if (si && ret)
		*ret = si->set_id;
}

SC_EXPORT void sc_snapshot_info_get_provider_id(const struct sc_snapshot_info *si,
						struct sc_id *ret)
{
	if (si && ret)
		*ret = si->provider_id;
}

SC_EXPORT uint32_t sc_snapshot_info_get_count(const struct sc_snapshot_info *si)
{
	return si ? si->count : 0;
}

SC_EXPORT const char *sc_snapshot_info_get_location(const struct sc_snapshot_info *si)
{
	return si ? si->location : "";
}

SC_EXPORT const char *sc_snapshot_info_get_original_volume(const struct sc_snapshot_info *si)
{
	return si ? si->original_volume : "";
}

SC_EXPORT const char *sc_snapshot_info_get_volume_root(const struct sc_snapshot_info *si)
{
	return si ? si->volume_root : "";
}

SC_EXPORT const char *sc_snapshot_info_get_provider_name(const struct sc_snapshot_info *si)
{
	return si ? si->provider : "";
}

SC_EXPORT uint32_t sc_snapshot_info_get_context(const struct sc_snapshot_info *si)
{
	return si ? si->context : 0;
}

SC_EXPORT uint32_t sc_snapshot_info_get_attributes(const struct sc_snapshot_info *si)
{
	return si ? si->attributes : 0;
}

SC_EXPORT uint64_t sc_snapshot_info_get_creation_time(const struct sc_snapshot_info *si)
{
	return si ? si->created_usec : 0;
}

SC_EXPORT char *sc_snapshot_info_to_json(const struct sc_snapshot_info *si)
{
	return si ? json_dumps(si->doc, JSON_COMPACT) : NULL;
}

SC_EXPORT void sc_provider_info_get_id(const struct sc_provider_info *pi, struct sc_id *ret)
{
	if (pi && ret)
		*ret = pi->id;
}

SC_EXPORT const char *sc_provider_info_get_name(const struct sc_provider_info *pi)
{
	return pi ? pi->name : "";
}

SC_EXPORT const char *sc_provider_info_get_version(const struct sc_provider_info *pi)
{
	return pi ? pi->version : "";
}

SC_EXPORT int sc_provider_info_get_type(const struct sc_provider_info *pi)
{
	return pi ? pi->type : 0;
}
