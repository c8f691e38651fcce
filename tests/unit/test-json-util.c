/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-json-util.c - the validating getters: present, absent, null and
 * wrong-typed fields, required or not, integer ranges, ids and id arrays.
 * Does not test message shapes (test-wire.c) or documents (test-metadata.c).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <shadowcopy/types.h>

#include "cleanup.h"
#include "json-util.h"

#define ID1 "6d5e2b1a-0c3f-4b7e-9a12-3456789abcde"
#define ID2 "00000000-0000-0000-0000-000000000001"

static json_t *load(const char *text)
{
	json_t *j = json_loads(text, 0, NULL);

	assert_non_null(j);
	return j;
}

static void test_string(void **state)
{
	_cleanup_json_ json_t *o = load("{\"s\": \"x\", \"n\": 1, \"z\": null, \"e\": \"\"}");
	const char *s = "untouched";

	assert_int_equal(json_get_string(o, "s", true, &s), 0);
	assert_string_equal(s, "x");
	assert_int_equal(json_get_string(o, "e", true, &s), 0);
	assert_string_equal(s, "");
	s = "untouched";
	assert_int_equal(json_get_string(o, "missing", false, &s), 0);
	assert_int_equal(json_get_string(o, "z", false, &s), 0);
	assert_string_equal(s, "untouched");
	assert_int_equal(json_get_string(o, "missing", true, &s), -SC_E_INVALID_MESSAGE);
	assert_int_equal(json_get_string(o, "z", true, &s), -SC_E_INVALID_MESSAGE);
	assert_int_equal(json_get_string(o, "n", false, &s), -SC_E_INVALID_MESSAGE);
	assert_string_equal(s, "untouched");
	/* absent params (NULL object) read as "every field absent" */
	assert_int_equal(json_get_string(NULL, "s", false, &s), 0);
	assert_int_equal(json_get_string(NULL, "s", true, &s), -SC_E_INVALID_MESSAGE);
}

static void test_bool(void **state)
{
	_cleanup_json_ json_t *o = load("{\"t\": true, \"f\": false, \"n\": 0, \"s\": \"true\"}");
	bool b = false;

	assert_int_equal(json_get_bool(o, "t", true, &b), 0);
	assert_true(b);
	assert_int_equal(json_get_bool(o, "f", true, &b), 0);
	assert_false(b);
	b = true;
	assert_int_equal(json_get_bool(o, "missing", false, &b), 0);
	assert_true(b);
	assert_int_equal(json_get_bool(o, "missing", true, &b), -SC_E_INVALID_MESSAGE);
	assert_int_equal(json_get_bool(o, "n", true, &b), -SC_E_INVALID_MESSAGE);
	assert_int_equal(json_get_bool(o, "s", false, &b), -SC_E_INVALID_MESSAGE);
}

static void test_int(void **state)
{
	_cleanup_json_ json_t *o = load("{\"a\": 5, \"neg\": -1, \"big\": 9223372036854775807,"
					" \"real\": 5.0, \"s\": \"5\", \"b\": true}");
	int64_t v = 77;

	assert_int_equal(json_get_int(o, "a", true, 0, 10, &v), 0);
	assert_int_equal(v, 5);
	assert_int_equal(json_get_int(o, "a", true, 5, 5, &v), 0);
	v = 77;
	assert_int_equal(json_get_int(o, "a", true, 6, 10, &v), -SC_E_INVALID_MESSAGE);
	assert_int_equal(json_get_int(o, "a", true, 0, 4, &v), -SC_E_INVALID_MESSAGE);
	assert_int_equal(json_get_int(o, "neg", true, 0, 10, &v), -SC_E_INVALID_MESSAGE);
	assert_int_equal(json_get_int(o, "big", true, 0, UINT32_MAX, &v), -SC_E_INVALID_MESSAGE);
	assert_int_equal(json_get_int(o, "real", true, 0, 10, &v), -SC_E_INVALID_MESSAGE);
	assert_int_equal(json_get_int(o, "s", true, 0, 10, &v), -SC_E_INVALID_MESSAGE);
	assert_int_equal(json_get_int(o, "b", true, 0, 10, &v), -SC_E_INVALID_MESSAGE);
	assert_int_equal(v, 77);
	assert_int_equal(json_get_int(o, "missing", false, 0, 10, &v), 0);
	assert_int_equal(v, 77);
	assert_int_equal(json_get_int(o, "missing", true, 0, 10, &v), -SC_E_INVALID_MESSAGE);
	assert_int_equal(json_get_int(o, "neg", true, INT64_MIN, INT64_MAX, &v), 0);
	assert_int_equal(v, -1);
}

static void test_id(void **state)
{
	_cleanup_json_ json_t *o = load("{\"a\": \"" ID1 "\", \"u\": \"{6D5E2B1A-0C3F-4B7E-9A12-"
					"3456789ABCDE}\", \"bad\": \"nope\", \"n\": 3}");
	struct sc_id id, a, untouched;

	memset(&untouched, 0xaa, sizeof(untouched));
	assert_int_equal(json_get_id(o, "a", true, &a), 0);
	assert_int_equal(json_get_id(o, "u", true, &id), 0);
	assert_true(sc_id_equal(&a, &id));
	id = untouched;
	assert_int_equal(json_get_id(o, "bad", true, &id), -SC_E_INVALID_MESSAGE);
	assert_int_equal(json_get_id(o, "n", true, &id), -SC_E_INVALID_MESSAGE);
	assert_int_equal(json_get_id(o, "missing", true, &id), -SC_E_INVALID_MESSAGE);
	assert_int_equal(json_get_id(o, "missing", false, &id), 0);
	assert_true(sc_id_equal(&id, &untouched));
}

static void test_array(void **state)
{
	_cleanup_json_ json_t *o = load("{\"s\": [\"a\", \"b\"], \"mixed\": [\"a\", 1],"
					" \"empty\": [], \"obj\": {}, \"objs\": [{}, {}]}");
	json_t *a = NULL;

	assert_int_equal(json_get_array(o, "s", true, JSON_STRING, &a), 0);
	assert_int_equal(json_array_size(a), 2);
	assert_int_equal(json_get_array(o, "objs", true, JSON_OBJECT, &a), 0);
	assert_int_equal(json_get_array(o, "empty", true, JSON_OBJECT, &a), 0);
	assert_int_equal(json_array_size(a), 0);
	a = NULL;
	assert_int_equal(json_get_array(o, "mixed", true, JSON_STRING, &a), -SC_E_INVALID_MESSAGE);
	assert_int_equal(json_get_array(o, "s", true, JSON_OBJECT, &a), -SC_E_INVALID_MESSAGE);
	assert_int_equal(json_get_array(o, "obj", true, JSON_OBJECT, &a), -SC_E_INVALID_MESSAGE);
	assert_int_equal(json_get_array(o, "missing", true, JSON_OBJECT, &a),
			 -SC_E_INVALID_MESSAGE);
	assert_int_equal(json_get_array(o, "missing", false, JSON_OBJECT, &a), 0);
	assert_null(a);
}

static void test_id_array(void **state)
{
	_cleanup_json_ json_t *o = load("{\"ids\": [\"" ID1 "\", \"{" ID2 "}\"], \"empty\": [],"
					" \"bad\": [\"" ID1 "\", \"x\"], \"num\": [1],"
					" \"s\": \"" ID1 "\"}");
	_cleanup_free_ struct sc_id *ids = NULL, *none = NULL;
	struct sc_id expected, sentinel;
	struct sc_id *ret = &sentinel;
	size_t n = 99;

	assert_int_equal(json_get_id_array(o, "ids", &ids, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(sc_id_from_string(ID1, &expected), 0);
	assert_true(sc_id_equal(&ids[0], &expected));
	assert_int_equal(sc_id_from_string(ID2, &expected), 0);
	assert_true(sc_id_equal(&ids[1], &expected));
	assert_int_equal(json_get_id_array(o, "empty", &none, &n), 0);
	assert_int_equal(n, 0);
	assert_non_null(none);
	n = 99;
	assert_int_equal(json_get_id_array(o, "bad", &ret, &n), -SC_E_INVALID_MESSAGE);
	assert_int_equal(json_get_id_array(o, "num", &ret, &n), -SC_E_INVALID_MESSAGE);
	assert_int_equal(json_get_id_array(o, "s", &ret, &n), -SC_E_INVALID_MESSAGE);
	assert_int_equal(json_get_id_array(o, "missing", &ret, &n), -SC_E_INVALID_MESSAGE);
	assert_ptr_equal(ret, &sentinel);
	assert_int_equal(n, 99);
}

static void test_builders(void **state)
{
	_cleanup_json_ json_t *o = json_object();
	_cleanup_json_ json_t *s = NULL;
	struct sc_id id;

	assert_int_equal(sc_id_from_string("{6D5E2B1A-0C3F-4B7E-9A12-3456789ABCDE}", &id), 0);
	s = json_id(&id);
	assert_non_null(s);
	assert_string_equal(json_string_value(s), ID1);
	assert_int_equal(json_set(o, "k", json_integer(3)), 0);
	assert_int_equal(json_integer_value(json_object_get(o, "k")), 3);
	assert_int_equal(json_set(o, "k", json_string("v")), 0);
	assert_string_equal(json_string_value(json_object_get(o, "k")), "v");
	assert_int_equal(json_set(o, "k", NULL), -ENOMEM);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_string),
		cmocka_unit_test(test_bool),
		cmocka_unit_test(test_int),
		cmocka_unit_test(test_id),
		cmocka_unit_test(test_array),
		cmocka_unit_test(test_id_array),
		cmocka_unit_test(test_builders),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
