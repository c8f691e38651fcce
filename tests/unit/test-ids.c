/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-ids.c - VSS_IDs: text form and parsing (braces, case, bad input), the
 * null id, random ids and the stable ids derived from instance names.
 * Does not test ids inside JSON messages (test-json-util.c does).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <shadowcopy/types.h>

#include "cleanup.h"
#include "ids.h"

#define SAMPLE "6d5e2b1a-0c3f-4b7e-9a12-3456789abcde"

static const struct sc_id sample = { {
	0x6d, 0x5e, 0x2b, 0x1a, 0x0c, 0x3f, 0x4b, 0x7e,
	0x9a, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde,
} };

static void test_to_string(void **state)
{
	char buf[SC_ID_STRING_MAX];

	assert_ptr_equal(sc_id_to_string(&sample, buf), buf);
	assert_string_equal(buf, SAMPLE);
	assert_int_equal(strlen(buf), SC_ID_STRING_LEN);
}

static void test_parse_forms(void **state)
{
	static const char *const forms[] = {
		SAMPLE,
		"{" SAMPLE "}",
		"6D5E2B1A-0C3F-4B7E-9A12-3456789ABCDE",
		"{6D5E2B1A-0C3F-4B7E-9a12-3456789abcde}",
	};
	struct sc_id id;

	for (size_t i = 0; i < ELEMENTSOF(forms); i++) {
		memset(&id, 0, sizeof(id));
		assert_int_equal(sc_id_from_string(forms[i], &id), 0);
		assert_true(sc_id_equal(&id, &sample));
	}
}

static void test_parse_rejects(void **state)
{
	static const char *const bad[] = {
		"",
		"6d5e2b1a",
		"6d5e2b1a-0c3f-4b7e-9a12-3456789abcd",   /* one digit short */
		"6d5e2b1a-0c3f-4b7e-9a12-3456789abcdef", /* one digit long */
		"6d5e2b1a0c3f-4b7e-9a12-3456789abcdef",  /* dash moved */
		"6d5e2b1a-0c3f-4b7e-9a123-456789abcde",
		"6d5e2b1a-0c3f-4b7e-9a12_3456789abcde",
		"6d5e2b1g-0c3f-4b7e-9a12-3456789abcde", /* not hex */
		"6d5e2b1a-0c3f-4b7e-9a12-3456789abcd ",
		" 6d5e2b1a-0c3f-4b7e-9a12-3456789abcd",
		"{" SAMPLE,
		SAMPLE "}",
		"(" SAMPLE ")",
		"{{" SAMPLE "}}",
		"{" SAMPLE "}\n",
		"-6d5e2b1-0c3f-4b7e-9a12-3456789abcde",
		"+6d5e2b1a-0c3f-4b7e-9a12-3456789abcd",
		"0x6d5e2b-0c3f-4b7e-9a12-3456789abcde",
	};
	struct sc_id id, untouched;

	memset(&untouched, 0xaa, sizeof(untouched));
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		id = untouched;
		assert_int_equal(sc_id_from_string(bad[i], &id), -EINVAL);
		assert_true(sc_id_equal(&id, &untouched));
	}
	assert_int_equal(sc_id_from_string(NULL, &id), -EINVAL);
	assert_int_equal(sc_id_from_string(SAMPLE, NULL), -EINVAL);
}

static void test_null_id(void **state)
{
	static const struct sc_id zero;
	struct sc_id id;
	char buf[SC_ID_STRING_MAX];

	assert_true(sc_id_is_null(&zero));
	assert_true(sc_id_is_null(NULL));
	assert_false(sc_id_is_null(&sample));
	assert_string_equal(sc_id_to_string(&zero, buf), "00000000-0000-0000-0000-000000000000");
	assert_int_equal(sc_id_from_string("{00000000-0000-0000-0000-000000000000}", &id), 0);
	assert_true(sc_id_is_null(&id));
	id = zero;
	id.bytes[15] = 1;
	assert_false(sc_id_is_null(&id));
	assert_false(sc_id_equal(&id, &zero));
}

static void test_random(void **state)
{
	struct sc_id a, b, parsed;
	char buf[SC_ID_STRING_MAX];

	assert_int_equal(sc_id_random(&a), 0);
	assert_int_equal(sc_id_random(&b), 0);
	assert_false(sc_id_is_null(&a));
	assert_false(sc_id_equal(&a, &b));
	assert_int_equal(a.bytes[6] >> 4, 4);      /* version 4 */
	assert_int_equal(a.bytes[8] & 0xc0, 0x80); /* RFC 4122 variant */
	assert_int_equal(sc_id_from_string(sc_id_to_string(&a, buf), &parsed), 0);
	assert_true(sc_id_equal(&a, &parsed));
	for (size_t i = 0; i < SC_ID_STRING_LEN; i++)
		assert_true(buf[i] == '-' || (buf[i] >= '0' && buf[i] <= '9') ||
			    (buf[i] >= 'a' && buf[i] <= 'f'));
}

static void test_round_trip_many(void **state)
{
	struct sc_id a, parsed;
	char buf[SC_ID_STRING_MAX];

	for (int i = 0; i < 1000; i++) {
		assert_int_equal(sc_id_random(&a), 0);
		assert_int_equal(sc_id_from_string(sc_id_to_string(&a, buf), &parsed), 0);
		assert_true(sc_id_equal(&a, &parsed));
	}
}

/* Instance ids are derived from the class id and the instance name and must
 * never change: a writer restarted, on any machine or release, keeps its id.
 * The expected value below was computed once and is frozen on purpose. */
static void test_derived_stable(void **state)
{
	struct sc_id a, b, other_name, other_base, base2 = sample;
	char buf[SC_ID_STRING_MAX];

	id_derive(&sample, "instance-1", &a);
	id_derive(&sample, "instance-1", &b);
	assert_true(sc_id_equal(&a, &b));
	assert_false(sc_id_is_null(&a));
	assert_false(sc_id_equal(&a, &sample));
	id_derive(&sample, "instance-2", &other_name);
	assert_false(sc_id_equal(&a, &other_name));
	base2.bytes[0] ^= 1;
	id_derive(&base2, "instance-1", &other_base);
	assert_false(sc_id_equal(&a, &other_base));
	assert_int_equal(a.bytes[6] >> 4, 8); /* version 8: custom */
	assert_int_equal(a.bytes[8] & 0xc0, 0x80);
	assert_string_equal(sc_id_to_string(&a, buf), "c0578cda-376a-83e8-b3e9-22e4467ddfc1");
}

static void test_derived_empty_name(void **state)
{
	struct sc_id a, b;

	id_derive(&sample, "", &a);
	id_derive(&sample, "x", &b);
	assert_false(sc_id_is_null(&a));
	assert_false(sc_id_equal(&a, &b));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_to_string),
		cmocka_unit_test(test_parse_forms),
		cmocka_unit_test(test_parse_rejects),
		cmocka_unit_test(test_null_id),
		cmocka_unit_test(test_random),
		cmocka_unit_test(test_round_trip_many),
		cmocka_unit_test(test_derived_stable),
		cmocka_unit_test(test_derived_empty_name),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
