/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-metadata.c - metadata_check() on the writer metadata document of
 * protocol.md §4.2: a valid document passes, and each kind of invalid field
 * (missing, wrong type, out of range, empty) is refused.  Each bad case is the
 * valid document with one field changed or removed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <shadowcopy/types.h>

#include "cleanup.h"
#include "metadata.h"

static const char valid_doc[] =
	"{\"restore_method\": {\"method\": 2, \"service\": \"\", \"user_procedure\": \"\","
	"  \"writer_restore\": 1, \"reboot_required\": false},"
	" \"backup_schema\": 0,"
	" \"excludes\": [{\"path\": \"/var/lib/db/tmp\", \"filespec\": \"*\", \"recursive\": true,"
	"   \"backup_type_mask\": 3855}],"
	" \"components\": ["
	"  {\"type\": 1, \"logical_path\": \"\", \"name\": \"main\","
	"   \"caption\": \"Main database\","
	"   \"selectable\": true, \"selectable_for_restore\": true, \"flags\": 0, \"files\": [],"
	"   \"database_files\": [{\"path\": \"/var/lib/db\", \"filespec\": \"main.db\","
	"     \"recursive\": false, \"backup_type_mask\": 3855}],"
	"   \"log_files\": [{\"path\": \"/var/lib/db\", \"filespec\": \"main.db-wal\"}]},"
	"  {\"type\": 2, \"logical_path\": \"conf\", \"name\": \"config\","
	"   \"files\": [{\"path\": \"/etc/db\", \"filespec\": \"*.conf\", \"recursive\": true}]}"
	" ]}";

static json_t *load(const char *text)
{
	json_t *j = json_loads(text, 0, NULL);

	assert_non_null(j);
	return j;
}

/* The value at @path ("components/0/files") inside @doc, or NULL. */
static json_t *walk(json_t *doc, const char *path)
{
	_cleanup_free_ char *copy = strdup(path);
	char *save = NULL;

	assert_non_null(copy);
	for (char *seg = strtok_r(copy, "/", &save); seg && doc; seg = strtok_r(NULL, "/", &save))
		doc = json_is_array(doc) ? json_array_get(doc, strtoul(seg, NULL, 10))
					 : json_object_get(doc, seg);
	return doc;
}

/* The valid document with @key of the object at @parent replaced by @value
 * (JSON text), or removed when @value is NULL. */
static json_t *patched(const char *parent, const char *key, const char *value)
{
	json_t *doc = load(valid_doc);
	json_t *obj = parent[0] ? walk(doc, parent) : doc;

	assert_non_null(obj);
	if (value)
		assert_int_equal(json_object_set_new(obj, key, json_loads(value, JSON_DECODE_ANY,
									  NULL)), 0);
	else
		assert_int_equal(json_object_del(obj, key), 0);
	return doc;
}

static void test_valid(void **state)
{
	_cleanup_json_ json_t *doc = load(valid_doc);
	_cleanup_json_ json_t *empty = load("{}");
	_cleanup_json_ json_t *no_components = load("{\"components\": []}");

	assert_int_equal(metadata_check(doc), 0);
	assert_int_equal(metadata_check(empty), 0);
	assert_int_equal(metadata_check(no_components), 0);
}

/* Optional fields may be left out or be null. */
static void test_optional_fields(void **state)
{
	static const struct {
		const char *parent, *key;
	} optional[] = {
		{ "", "restore_method" },
		{ "", "backup_schema" },
		{ "", "excludes" },
		{ "", "components" },
		{ "restore_method", "service" },
		{ "restore_method", "user_procedure" },
		{ "restore_method", "writer_restore" },
		{ "restore_method", "reboot_required" },
		{ "components/0", "logical_path" },
		{ "components/0", "caption" },
		{ "components/0", "selectable" },
		{ "components/0", "selectable_for_restore" },
		{ "components/0", "flags" },
		{ "components/0", "files" },
		{ "components/0", "database_files" },
		{ "components/0", "log_files" },
		{ "excludes/0", "recursive" },
		{ "excludes/0", "backup_type_mask" },
	};

	for (size_t i = 0; i < ELEMENTSOF(optional); i++) {
		_cleanup_json_ json_t *absent = patched(optional[i].parent, optional[i].key, NULL);
		_cleanup_json_ json_t *null = patched(optional[i].parent, optional[i].key, "null");

		assert_int_equal(metadata_check(absent), 0);
		assert_int_equal(metadata_check(null), 0);
	}
}

static const struct bad_case {
	const char *parent, *key, *value; /* value NULL: field removed */
} bad_cases[] = {
	/* restore method */
	{ "", "restore_method", "[]" },
	{ "", "restore_method", "2" },
	{ "restore_method", "method", NULL },
	{ "restore_method", "method", "-1" },
	{ "restore_method", "method", "9" },
	{ "restore_method", "method", "\"2\"" },
	{ "restore_method", "service", "1" },
	{ "restore_method", "user_procedure", "false" },
	{ "restore_method", "writer_restore", "4" },
	{ "restore_method", "writer_restore", "-1" },
	{ "restore_method", "reboot_required", "0" },
	/* writer-level fields */
	{ "", "backup_schema", "-1" },
	{ "", "backup_schema", "4294967296" },
	{ "", "backup_schema", "\"0\"" },
	{ "", "backup_schema", "1.5" },
	{ "", "excludes", "{}" },
	{ "", "excludes", "[\"/tmp\"]" },
	{ "", "components", "{}" },
	{ "", "components", "[1]" },
	/* file sets, in excludes and in each list of a component */
	{ "excludes/0", "path", NULL },
	{ "excludes/0", "path", "\"\"" },
	{ "excludes/0", "path", "7" },
	{ "excludes/0", "filespec", NULL },
	{ "excludes/0", "filespec", "[]" },
	{ "excludes/0", "recursive", "\"yes\"" },
	{ "excludes/0", "backup_type_mask", "-1" },
	{ "excludes/0", "backup_type_mask", "4294967296" },
	{ "excludes/0", "backup_type_mask", "\"3855\"" },
	{ "components/0/database_files/0", "path", NULL },
	{ "components/0/database_files/0", "filespec", "null" },
	{ "components/0/log_files/0", "path", "\"\"" },
	{ "components/0/log_files/0", "recursive", "1" },
	{ "components/1/files/0", "path", "null" },
	{ "components/1/files/0", "backup_type_mask", "true" },
	{ "components/0", "files", "[1]" },
	{ "components/0", "database_files", "{}" },
	{ "components/0", "log_files", "\"x\"" },
	/* components */
	{ "components/0", "type", NULL },
	{ "components/0", "type", "0" },
	{ "components/0", "type", "3" },
	{ "components/0", "type", "\"database\"" },
	{ "components/0", "name", NULL },
	{ "components/0", "name", "\"\"" },
	{ "components/0", "name", "5" },
	{ "components/1", "logical_path", "[]" },
	{ "components/0", "caption", "1" },
	{ "components/0", "selectable", "\"true\"" },
	{ "components/0", "selectable_for_restore", "1" },
	{ "components/0", "flags", "-1" },
	{ "components/0", "flags", "4294967296" },
	{ "components/0", "flags", "0.5" },
};

static void test_invalid_fields(void **state)
{
	for (size_t i = 0; i < ELEMENTSOF(bad_cases); i++) {
		const struct bad_case *c = &bad_cases[i];
		_cleanup_json_ json_t *doc = patched(c->parent, c->key, c->value);

		if (metadata_check(doc) != -SC_E_INVALID_MESSAGE)
			fail_msg("accepted: %s/%s = %s", c->parent, c->key,
				 c->value ? c->value : "(removed)");
	}
}

static void test_not_an_object(void **state)
{
	static const char *const bad[] = { "[]", "null", "1", "\"doc\"", "true" };

	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		_cleanup_json_ json_t *j = json_loads(bad[i], JSON_DECODE_ANY, NULL);

		assert_non_null(j);
		assert_int_equal(metadata_check(j), -SC_E_INVALID_MESSAGE);
	}
	assert_int_equal(metadata_check(NULL), -SC_E_INVALID_MESSAGE);
}

/* Unknown fields are ignored (protocol.md §1: forward compatibility). */
static void test_unknown_fields(void **state)
{
	_cleanup_json_ json_t *top = patched("", "future", "{\"x\": [1, 2]}");
	_cleanup_json_ json_t *comp = patched("components/0", "dependencies", "[]");
	_cleanup_json_ json_t *fs = patched("excludes/0", "alternate_path", "\"/alt\"");

	assert_int_equal(metadata_check(top), 0);
	assert_int_equal(metadata_check(comp), 0);
	assert_int_equal(metadata_check(fs), 0);
}

static void test_fileset_builder(void **state)
{
	_cleanup_json_ json_t *fs = metadata_fileset("/var/lib/db", "*.db", 1, SC_FSBT_ALL);
	_cleanup_json_ json_t *doc = load("{\"excludes\": []}");

	assert_non_null(fs);
	assert_string_equal(json_string_value(json_object_get(fs, "path")), "/var/lib/db");
	assert_string_equal(json_string_value(json_object_get(fs, "filespec")), "*.db");
	assert_true(json_is_true(json_object_get(fs, "recursive")));
	assert_int_equal(json_integer_value(json_object_get(fs, "backup_type_mask")), 0xF0F);
	assert_int_equal(json_array_append(json_object_get(doc, "excludes"), fs), 0);
	assert_int_equal(metadata_check(doc), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_optional_fields),
		cmocka_unit_test(test_invalid_fields),
		cmocka_unit_test(test_not_an_object),
		cmocka_unit_test(test_unknown_fields),
		cmocka_unit_test(test_fileset_builder),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
