/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * json-util.h - typed, validating access to the fields of protocol messages.
 * Every getter returns 0 (absent optional fields leave *ret untouched),
 * or -SC_E_INVALID_MESSAGE for a missing required field or a wrong type.
 */
#ifndef SC_JSON_UTIL_H
#define SC_JSON_UTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include <shadowcopy/types.h>

/* json-util.c */
int json_get_string(json_t *obj, const char *key, bool required, const char **ret);
int json_get_bool(json_t *obj, const char *key, bool required, bool *ret);
int json_get_int(json_t *obj, const char *key, bool required, int64_t min, int64_t max,
		 int64_t *ret);
int json_get_id(json_t *obj, const char *key, bool required, struct sc_id *ret);
/* An array whose items are all of @type (JSON_STRING, JSON_OBJECT, ...). */
int json_get_array(json_t *obj, const char *key, bool required, json_type type, json_t **ret);
/* Ids from an array of id strings into a malloc'd array. */
int json_get_id_array(json_t *obj, const char *key, struct sc_id **ret, size_t *ret_n);

/* A JSON string of @id's text form (NULL on ENOMEM). */
json_t *json_id(const struct sc_id *id);
/* Set @key of @obj to @value (stolen); returns 0 or -ENOMEM. */
int json_set(json_t *obj, const char *key, json_t *value);

#endif
