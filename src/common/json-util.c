/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * json-util.c - typed getters that turn every malformed field into
 * INVALID_MESSAGE, and small builders for ids.
 */
#include <errno.h>
#include <stdlib.h>

#include "json-util.h"

static int field(json_t *obj, const char *key, bool required, json_t **ret)
{
	json_t *v = json_object_get(obj, key);

	if (!v || json_is_null(v)) {
		*ret = NULL;
		return required ? -SC_E_INVALID_MESSAGE : 0;
	}
	*ret = v;
	return 1;
}

int json_get_string(json_t *obj, const char *key, bool required, const char **ret)
{
	json_t *v;
	int r = field(obj, key, required, &v);

	if (r <= 0)
		return r;
	if (!json_is_string(v))
		return -SC_E_INVALID_MESSAGE;
	*ret = json_string_value(v);
	return 0;
}

int json_get_bool(json_t *obj, const char *key, bool required, bool *ret)
{
	json_t *v;
	int r = field(obj, key, required, &v);

	if (r <= 0)
		return r;
	if (!json_is_boolean(v))
		return -SC_E_INVALID_MESSAGE;
	*ret = json_is_true(v);
	return 0;
}

int json_get_int(json_t *obj, const char *key, bool required, int64_t min, int64_t max,
		 int64_t *ret)
{
	json_t *v;
	int r = field(obj, key, required, &v);

	if (r <= 0)
		return r;
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
		return -SC_E_INVALID_MESSAGE;
	*ret = json_integer_value(v);
	return 0;
}

int json_get_id(json_t *obj, const char *key, bool required, struct sc_id *ret)
{
	const char *s = NULL;
	int r = json_get_string(obj, key, required, &s);

	if (r < 0 || !s)
		return r;
	return sc_id_from_string(s, ret) < 0 ? -SC_E_INVALID_MESSAGE : 0;
}

int json_get_array(json_t *obj, const char *key, bool required, json_type type, json_t **ret)
{
	json_t *v, *item;
	size_t i;
	int r = field(obj, key, required, &v);

	if (r <= 0)
		return r;
	if (!json_is_array(v))
		return -SC_E_INVALID_MESSAGE;
	json_array_foreach(v, i, item)
		if (json_typeof(item) != type)
			return -SC_E_INVALID_MESSAGE;
	*ret = v;
	return 0;
}

int json_get_id_array(json_t *obj, const char *key, struct sc_id **ret, size_t *ret_n)
{
	json_t *a = NULL, *item;
	struct sc_id *ids;
	size_t i;
	int r;

	r = json_get_array(obj, key, true, JSON_STRING, &a);
	if (r < 0)
		return r;
	ids = calloc(json_array_size(a) + 1, sizeof(*ids));
	if (!ids)
		return -ENOMEM;
	json_array_foreach(a, i, item)
		if (sc_id_from_string(json_string_value(item), &ids[i]) < 0) {
			free(ids);
			return -SC_E_INVALID_MESSAGE;
		}
	*ret = ids;
	*ret_n = json_array_size(a);
	return 0;
}

json_t *json_id(const struct sc_id *id)
{
	char buf[SC_ID_STRING_MAX];

	return json_string(sc_id_to_string(id, buf));
}

int json_set(json_t *obj, const char *key, json_t *value)
{
	if (!value)
		return -ENOMEM;
	return json_object_set_new(obj, key, value) < 0 ? -ENOMEM : 0;
}
