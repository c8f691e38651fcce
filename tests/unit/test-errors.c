/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-errors.c - the error table of types.h: numbers, names, HRESULTs and
 * messages of every SC_E_*, and the errno side of the same functions.
 * Does not test how errors travel on the wire (test-wire.c does).
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <shadowcopy/types.h>

#include "cleanup.h"

struct expected_error {
	const char *name;
	int number;
	uint32_t hresult;
	const char *message;
};

static const struct expected_error table[] = {
#define ENTRY_(n, num, hr, msg) { #n, num, hr, msg },
	SC_ERROR_MAP(ENTRY_)
#undef ENTRY_
};

static void test_numbers_and_names_unique(void **state)
{
	for (size_t i = 0; i < ELEMENTSOF(table); i++) {
		assert_true(table[i].number >= SC_ERROR_BASE);
		assert_true(table[i].name[0] != '\0');
		for (size_t j = i + 1; j < ELEMENTSOF(table); j++) {
			assert_int_not_equal(table[i].number, table[j].number);
			assert_string_not_equal(table[i].name, table[j].name);
		}
	}
}

/* HRESULTs are unique except where protocol.md §9 maps two of our errors on
 * one generic COM code. */
static bool hresult_may_repeat(uint32_t hr)
{
	return hr == 0x80070057u || hr == 0x80004001u;
}

static void test_hresults_unique(void **state)
{
	for (size_t i = 0; i < ELEMENTSOF(table); i++) {
		if (hresult_may_repeat(table[i].hresult))
			continue;
		for (size_t j = i + 1; j < ELEMENTSOF(table); j++)
			assert_int_not_equal(table[i].hresult, table[j].hresult);
	}
}

static void test_table_round_trip(void **state)
{
	for (size_t i = 0; i < ELEMENTSOF(table); i++) {
		const struct expected_error *e = &table[i];

		assert_string_equal(sc_error_name(-e->number), e->name);
		assert_string_equal(sc_error_name(e->number), e->name);
		assert_int_equal(sc_error_from_name(e->name), -e->number);
		assert_int_equal(sc_error_hresult(-e->number), e->hresult);
		assert_int_equal(sc_error_hresult(e->number), e->hresult);
		assert_string_equal(sc_strerror(-e->number), e->message);
		assert_string_equal(sc_strerror(e->number), e->message);
	}
}

/* Spot checks against VSS's own numbers (vss-model 2.5). */
static void test_vss_values(void **state)
{
	assert_int_equal(sc_error_hresult(-SC_E_BAD_STATE), 0x80042301u);
	assert_int_equal(sc_error_hresult(-SC_E_OBJECT_NOT_FOUND), 0x80042308u);
	assert_int_equal(sc_error_hresult(-SC_E_WRITER_NOT_RESPONDING), 0x80042319u);
	assert_int_equal(sc_error_hresult(-SC_E_WRITER_ALREADY_SUBSCRIBED), 0x8004231au);
	assert_int_equal(sc_error_hresult(-SC_E_WRITERERROR_RETRYABLE), 0x800423f3u);
	assert_int_equal(sc_error_hresult(-SC_E_WRITERERROR_NONRETRYABLE), 0x800423f4u);
	assert_int_equal(sc_error_hresult(-SC_E_ACCESS_DENIED), 0x80070005u);
	assert_int_equal(sc_error_hresult(-SC_E_CANCELLED), 0x0004230bu);
	assert_int_equal(SC_E_BAD_STATE, 4097);
}

static void test_errno_names(void **state)
{
	assert_string_equal(sc_error_name(-EACCES), "EACCES");
	assert_string_equal(sc_error_name(EACCES), "EACCES");
	assert_string_equal(sc_error_name(-ENOENT), "ENOENT");
	assert_string_equal(sc_error_name(-ETIMEDOUT), "ETIMEDOUT");
	assert_int_equal(sc_error_from_name("EACCES"), -EACCES);
	assert_int_equal(sc_error_from_name("ENOMEM"), -ENOMEM);
	assert_int_equal(sc_error_from_name("ECONNREFUSED"), -ECONNREFUSED);
	assert_string_equal(sc_error_name(0), "OK");
	assert_string_equal(sc_strerror(0), "Success");
	assert_string_equal(sc_strerror(-EACCES), strerror(EACCES));
}

static void test_unknown_names(void **state)
{
	assert_int_equal(sc_error_from_name(NULL), 0);
	assert_int_equal(sc_error_from_name(""), 0);
	assert_int_equal(sc_error_from_name("E"), 0);
	assert_int_equal(sc_error_from_name("EWHATEVER"), 0);
	assert_int_equal(sc_error_from_name("bad_state"), 0);
	assert_int_equal(sc_error_from_name("OK"), 0);
	assert_string_equal(sc_error_name(-4096), "UNKNOWN");
	assert_string_equal(sc_error_name(-99999), "UNKNOWN");
	assert_string_equal(sc_error_name(-SC_ERROR_BASE + 1), "UNKNOWN");
}

static void test_errno_hresults(void **state)
{
	assert_int_equal(sc_error_hresult(0), 0);
	assert_int_equal(sc_error_hresult(-EACCES), 0x80070005u);
	assert_int_equal(sc_error_hresult(-EPERM), 0x80070005u);
	assert_int_equal(sc_error_hresult(-ENOMEM), 0x8007000eu);
	assert_int_equal(sc_error_hresult(-EINVAL), 0x80070057u);
	assert_int_equal(sc_error_hresult(EINVAL), 0x80070057u);
	assert_int_equal(sc_error_hresult(-EIO), 0x80004005u);
	assert_int_equal(sc_error_hresult(-ENOENT), 0x80004005u);
	assert_int_equal(sc_error_hresult(-99999), 0x80004005u);
}

static void test_strerror_never_null(void **state)
{
	static const int extremes[] = {
		INT_MIN, INT_MIN + 1, INT_MAX, -65536, 65536, -SC_ERROR_BASE,
	};

	for (int e = -5000; e <= 5000; e++) {
		assert_non_null(sc_strerror(e));
		assert_non_null(sc_error_name(e));
	}
	for (size_t i = 0; i < ELEMENTSOF(extremes); i++) {
		assert_non_null(sc_strerror(extremes[i]));
		assert_non_null(sc_error_name(extremes[i]));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_numbers_and_names_unique),
		cmocka_unit_test(test_hresults_unique),
		cmocka_unit_test(test_table_round_trip),
		cmocka_unit_test(test_vss_values),
		cmocka_unit_test(test_errno_names),
		cmocka_unit_test(test_unknown_names),
		cmocka_unit_test(test_errno_hresults),
		cmocka_unit_test(test_strerror_never_null),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
