/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * requester-query.c - what a requester asks about snapshots and providers
 * (VSS's GetSnapshotProperties, Query, DeleteSnapshots): quick calls whose
 * answers become snapshot-info.c's objects.  Nothing is cached: every call
 * asks the service again.
 */
#include <errno.h>
#include <stdlib.h>

#include "cleanup.h"
#include "json-util.h"
#include "requester-internal.h"

SC_EXPORT int sc_requester_get_snapshot_properties(struct sc_requester *r,
						   const struct sc_id *snapshot_id,
						   struct sc_snapshot_info **ret)
{
	_cleanup_json_ json_t *result = NULL;
	char id[SC_ID_STRING_MAX];
	int k;

	if (!r || !snapshot_id || !ret)
		return -EINVAL;
	k = requester_call(r, "get_snapshot_properties",
			   json_pack("{s:s}", "snapshot_id", sc_id_to_string(snapshot_id, id)),
			   &result);
	if (k < 0)
		return k;
	return snapshot_info_new(result, ret);
}

/* Query(): the array named @type ("snapshots", "providers") of the result. */
static int query(struct sc_requester *r, const char *type, json_t **ret)
{
	_cleanup_json_ json_t *result = NULL;
	json_t *a = NULL;
	int k;

	k = requester_call(r, "query", json_pack("{s:s}", "type", type), &result);
	if (k < 0)
		return k;
	k = json_get_array(result, type, true, JSON_OBJECT, &a);
	if (k < 0)
		return k;
	*ret = json_incref(a);
	return 0;
}

SC_EXPORT int sc_requester_query_snapshots(struct sc_requester *r,
					   struct sc_snapshot_info ***ret, size_t *ret_n)
{
	_cleanup_json_ json_t *a = NULL;
	int k;

	if (!r || !ret || !ret_n)
		return -EINVAL;
	k = query(r, "snapshots", &a);
	if (k < 0)
		return k;
	return snapshot_info_array_new(a, ret, ret_n);
}

SC_EXPORT int sc_requester_query_providers(struct sc_requester *r,
					   struct sc_provider_info ***ret, size_t *ret_n)
{
	_cleanup_json_ json_t *a = NULL;
	int k;

	if (!r || !ret || !ret_n)
		return -EINVAL;
	k = query(r, "providers", &a);
	if (k < 0)
		return k;
	return snapshot_info_provider_array_new(a, ret, ret_n);
}

/* The counts of a delete_snapshots result, and the failure it names. */
static int delete_result(json_t *result, size_t *ret_deleted, struct sc_id *ret_non_deleted)
{
	struct sc_id non_deleted = { 0 };
	const char *failure = NULL;
	int64_t deleted = 0;
	int k;

	if ((k = json_get_int(result, "deleted", true, 0, UINT32_MAX, &deleted)) < 0 ||
	    (k = json_get_id(result, "non_deleted_id", false, &non_deleted)) < 0 ||
	    (k = json_get_string(result, "failure", true, &failure)) < 0)
		return k;
	*ret_deleted = (size_t)deleted;
	*ret_non_deleted = non_deleted;
	return requester_failure(failure);
}

/* Unlike other calls, this one writes its outputs whatever the result, as
 * VSS's does: a set is deleted member by member, and the caller must learn
 * how far it went (T52). */
SC_EXPORT int sc_requester_delete_snapshots(struct sc_requester *r, const struct sc_id *id,
					    enum sc_object_type type, bool force,
					    size_t *ret_deleted, struct sc_id *ret_non_deleted)
{
	_cleanup_json_ json_t *result = NULL;
	char text[SC_ID_STRING_MAX];
	int k;

	if (!ret_deleted || !ret_non_deleted)
		return -EINVAL;
	*ret_deleted = 0;
	*ret_non_deleted = (struct sc_id){ 0 };
	if (!r || !id || (type != SC_OBJECT_SNAPSHOT && type != SC_OBJECT_SNAPSHOT_SET))
		return -EINVAL;
	k = requester_call(r, "delete_snapshots",
			   json_pack("{s:s, s:s, s:b}", "id", sc_id_to_string(id, text), "type",
				     type == SC_OBJECT_SNAPSHOT ? "snapshot" : "set", "force",
				     force),
			   &result);
	if (k < 0)
		return k;
	return delete_result(result, ret_deleted, ret_non_deleted);
}
