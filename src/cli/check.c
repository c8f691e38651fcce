/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * check.c - the shadowcopy tool's checks of the snapshot objects it gets
 * (SNAPSHOT, PROVIDER and delete results of protocol.md §6.3 and §8), so that
 * the views can read every field they print without testing it again.  It
 * checks only the fields the views read; it prints nothing.
 */
#include <stdint.h>

#include <shadowcopy/types.h>

#include "cli.h"
#include "json-util.h"

int check_snapshot(json_t *snapshot)
{
	struct sc_id id;
	const char *s;
	int64_t n;
	int r;

	if ((r = json_get_id(snapshot, "snapshot_id", true, &id)) < 0 ||
	    (r = json_get_id(snapshot, "snapshot_set_id", true, &id)) < 0 ||
	    (r = json_get_int(snapshot, "count", true, 0, INT32_MAX, &n)) < 0 ||
	    (r = json_get_string(snapshot, "location", true, &s)) < 0 ||
	    (r = json_get_string(snapshot, "original_volume", true, &s)) < 0 ||
	    (r = json_get_id(snapshot, "provider_id", true, &id)) < 0 ||
	    (r = json_get_string(snapshot, "provider", true, &s)) < 0 ||
	    (r = json_get_string(snapshot, "context", true, &s)) < 0 ||
	    (r = json_get_int(snapshot, "attributes", true, 0, UINT32_MAX, &n)) < 0 ||
	    (r = json_get_int(snapshot, "created", true, 0, INT64_MAX, &n)) < 0)
		return r;
	/* Absent: a snapshot the service has no doubt about (committed). */
	return json_get_string(snapshot, "state", false, &s);
}

int check_provider(json_t *provider)
{
	struct sc_id id;
	const char *s;
	int64_t n;
	int r;

	if ((r = json_get_id(provider, "provider_id", true, &id)) < 0 ||
	    (r = json_get_string(provider, "name", true, &s)) < 0 ||
	    (r = json_get_int(provider, "type", true, 0, INT32_MAX, &n)) < 0)
		return r;
	return json_get_string(provider, "version", true, &s);
}

int check_delete_result(json_t *result)
{
	struct sc_id id;
	const char *s;
	int64_t n;
	int r;

	if ((r = json_get_int(result, "deleted", true, 0, INT32_MAX, &n)) < 0 ||
	    (r = json_get_id(result, "non_deleted_id", true, &id)) < 0)
		return r;
	return json_get_string(result, "failure", true, &s);
}

int check_array(json_t *result, const char *key, int (*check)(json_t *item), json_t **ret)
{
	json_t *array = NULL, *item;
	size_t i;
	int r;

	r = json_get_array(result, key, true, JSON_OBJECT, &array);
	if (r < 0)
		return r;
	json_array_foreach(array, i, item)
		if ((r = check(item)) < 0)
			return r;
	*ret = array;
	return 0;
}
