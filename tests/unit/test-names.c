/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-names.c - the text of the enums: writer states (names and the words
 * vssadmin prints), event wire names, context names, the library version.
 * Does not test error names (test-errors.c does).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <shadowcopy/types.h>

#include "cleanup.h"

static const char *const state_names[] = {
	"UNKNOWN",
	"STABLE",
	"WAITING_FOR_FREEZE",
	"WAITING_FOR_THAW",
	"WAITING_FOR_POST_SNAPSHOT",
	"WAITING_FOR_BACKUP_COMPLETE",
	"FAILED_AT_IDENTIFY",
	"FAILED_AT_PREPARE_BACKUP",
	"FAILED_AT_PREPARE_SNAPSHOT",
	"FAILED_AT_FREEZE",
	"FAILED_AT_THAW",
	"FAILED_AT_POST_SNAPSHOT",
	"FAILED_AT_BACKUP_COMPLETE",
	"FAILED_AT_PRE_RESTORE",
	"FAILED_AT_POST_RESTORE",
	"FAILED_AT_BACKUPSHUTDOWN",
};

/* protocol.md §7: what `shadowcopy writers` prints after "State: [N]". */
static const char *const state_texts[] = {
	"Unknown",
	"Stable",
	"Waiting for freeze",
	"Frozen",
	"Waiting for post snapshot",
	"Waiting for completion",
};

static void test_writer_states(void **state)
{
	assert_int_equal(ELEMENTSOF(state_names), _SC_WS_MAX);
	assert_int_equal(SC_WS_STABLE, 1);
	assert_int_equal(SC_WS_FAILED_AT_PREPARE_SNAPSHOT, 8);
	assert_int_equal(SC_WS_FAILED_AT_BACKUPSHUTDOWN, 15);
	for (int s = 0; s < _SC_WS_MAX; s++) {
		const char *text = s < (int)ELEMENTSOF(state_texts) ? state_texts[s] : "Failed";

		assert_string_equal(sc_writer_state_name(s), state_names[s]);
		assert_string_equal(sc_writer_state_text(s), text);
	}
	assert_null(sc_writer_state_name(_SC_WS_MAX));
	assert_null(sc_writer_state_text(_SC_WS_MAX));
	assert_null(sc_writer_state_name((enum sc_writer_state)-1));
	assert_null(sc_writer_state_text((enum sc_writer_state)1000));
}

static const char *const event_names[] = {
	"identify", "prepare_backup", "prepare_snapshot", "freeze", "thaw", "post_snapshot",
	"abort", "backup_complete", "backup_shutdown", "pre_restore", "post_restore",
};

static void test_events(void **state)
{
	assert_int_equal(ELEMENTSOF(event_names), _SC_EVENT_MAX);
	for (int e = 0; e < _SC_EVENT_MAX; e++) {
		assert_string_equal(sc_event_name(e), event_names[e]);
		assert_int_equal(sc_event_from_name(event_names[e]), e);
	}
	assert_null(sc_event_name(_SC_EVENT_MAX));
	assert_null(sc_event_name((enum sc_event)-1));
	assert_int_equal(sc_event_from_name(NULL), -EINVAL);
	assert_int_equal(sc_event_from_name(""), -EINVAL);
	assert_int_equal(sc_event_from_name("Identify"), -EINVAL);
	assert_int_equal(sc_event_from_name("freeze "), -EINVAL);
	assert_int_equal(sc_event_from_name("backupshutdown"), -EINVAL);
}

static void test_contexts(void **state)
{
	static const struct {
		uint32_t value;
		const char *name;
	} contexts[] = {
		{ 0x00, "backup" },
		{ 0x10, "file-share-backup" },
		{ 0x19, "nas-rollback" },
		{ 0x09, "app-rollback" },
		{ 0xffffffffu, "all" },
	};
	uint32_t c;

	for (size_t i = 0; i < ELEMENTSOF(contexts); i++) {
		assert_string_equal(sc_context_name(contexts[i].value), contexts[i].name);
		c = 12345;
		assert_int_equal(sc_context_from_name(contexts[i].name, &c), 0);
		assert_int_equal(c, contexts[i].value);
	}
	assert_int_equal(SC_CTX_BACKUP, 0x00);
	assert_int_equal(SC_CTX_APP_ROLLBACK, 0x09);
	assert_null(sc_context_name(0x01));
	assert_null(sc_context_name(0x1234));
	c = 12345;
	assert_int_equal(sc_context_from_name("Backup", &c), -EINVAL);
	assert_int_equal(sc_context_from_name("", &c), -EINVAL);
	assert_int_equal(sc_context_from_name("client-accessible", &c), -EINVAL);
	assert_int_equal(c, 12345);
	assert_int_equal(sc_context_from_name(NULL, &c), -EINVAL);
	assert_int_equal(sc_context_from_name("backup", NULL), -EINVAL);
}

static void test_version(void **state)
{
	char expected[32];

	snprintf(expected, sizeof(expected), "%d.%d.%d", SC_VERSION_MAJOR, SC_VERSION_MINOR,
		 SC_VERSION_PATCH);
	assert_string_equal(sc_version(), expected);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_writer_states),
		cmocka_unit_test(test_events),
		cmocka_unit_test(test_contexts),
		cmocka_unit_test(test_version),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
