/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * names.c - text for the enums of types.h: writer states, events, contexts,
 * and the library version.  The wire names live here and nowhere else.
 */
#include <errno.h>
#include <string.h>

#include <shadowcopy/types.h>

#include "cleanup.h"

#define STR_(x) #x
#define STR(x) STR_(x)

SC_EXPORT const char *sc_version(void)
{
	return STR(SC_VERSION_MAJOR) "." STR(SC_VERSION_MINOR) "." STR(SC_VERSION_PATCH);
}

static const char *const writer_state_names[_SC_WS_MAX] = {
	[SC_WS_UNKNOWN] = "UNKNOWN",
	[SC_WS_STABLE] = "STABLE",
	[SC_WS_WAITING_FOR_FREEZE] = "WAITING_FOR_FREEZE",
	[SC_WS_WAITING_FOR_THAW] = "WAITING_FOR_THAW",
	[SC_WS_WAITING_FOR_POST_SNAPSHOT] = "WAITING_FOR_POST_SNAPSHOT",
	[SC_WS_WAITING_FOR_BACKUP_COMPLETE] = "WAITING_FOR_BACKUP_COMPLETE",
	[SC_WS_FAILED_AT_IDENTIFY] = "FAILED_AT_IDENTIFY",
	[SC_WS_FAILED_AT_PREPARE_BACKUP] = "FAILED_AT_PREPARE_BACKUP",
	[SC_WS_FAILED_AT_PREPARE_SNAPSHOT] = "FAILED_AT_PREPARE_SNAPSHOT",
	[SC_WS_FAILED_AT_FREEZE] = "FAILED_AT_FREEZE",
	[SC_WS_FAILED_AT_THAW] = "FAILED_AT_THAW",
	[SC_WS_FAILED_AT_POST_SNAPSHOT] = "FAILED_AT_POST_SNAPSHOT",
	[SC_WS_FAILED_AT_BACKUP_COMPLETE] = "FAILED_AT_BACKUP_COMPLETE",
	[SC_WS_FAILED_AT_PRE_RESTORE] = "FAILED_AT_PRE_RESTORE",
	[SC_WS_FAILED_AT_POST_RESTORE] = "FAILED_AT_POST_RESTORE",
	[SC_WS_FAILED_AT_BACKUPSHUTDOWN] = "FAILED_AT_BACKUPSHUTDOWN",
};

/* The words vssadmin prints (vss-model 11.1); every failure is "Failed". */
static const char *const writer_state_texts[_SC_WS_MAX] = {
	[SC_WS_UNKNOWN] = "Unknown",
	[SC_WS_STABLE] = "Stable",
	[SC_WS_WAITING_FOR_FREEZE] = "Waiting for freeze",
	[SC_WS_WAITING_FOR_THAW] = "Frozen",
	[SC_WS_WAITING_FOR_POST_SNAPSHOT] = "Waiting for post snapshot",
	[SC_WS_WAITING_FOR_BACKUP_COMPLETE] = "Waiting for completion",
};

SC_EXPORT const char *sc_writer_state_name(enum sc_writer_state s)
{
	if ((unsigned)s >= _SC_WS_MAX)
		return NULL;
	return writer_state_names[s];
}

SC_EXPORT const char *sc_writer_state_text(enum sc_writer_state s)
{
	if ((unsigned)s >= _SC_WS_MAX)
		return NULL;
	return s >= SC_WS_FAILED_AT_IDENTIFY ? "Failed" : writer_state_texts[s];
}

static const char *const event_names[_SC_EVENT_MAX] = {
	[SC_EVENT_IDENTIFY] = "identify",
	[SC_EVENT_PREPARE_BACKUP] = "prepare_backup",
	[SC_EVENT_PREPARE_SNAPSHOT] = "prepare_snapshot",
	[SC_EVENT_FREEZE] = "freeze",
	[SC_EVENT_THAW] = "thaw",
	[SC_EVENT_POST_SNAPSHOT] = "post_snapshot",
	[SC_EVENT_ABORT] = "abort",
	[SC_EVENT_BACKUP_COMPLETE] = "backup_complete",
	[SC_EVENT_BACKUP_SHUTDOWN] = "backup_shutdown",
	[SC_EVENT_PRE_RESTORE] = "pre_restore",
	[SC_EVENT_POST_RESTORE] = "post_restore",
};

SC_EXPORT const char *sc_event_name(enum sc_event e)
{
	if ((unsigned)e >= _SC_EVENT_MAX)
		return NULL;
	return event_names[e];
}

SC_EXPORT int sc_event_from_name(const char *name)
{
	if (!name)
		return -EINVAL;
	for (int e = 0; e < _SC_EVENT_MAX; e++)
		if (strcmp(event_names[e], name) == 0)
			return e;
	return -EINVAL;
}

static const struct {
	uint32_t context;
	const char *name;
} contexts[] = {
	{ SC_CTX_BACKUP, "backup" },
	{ SC_CTX_FILE_SHARE_BACKUP, "file-share-backup" },
	{ SC_CTX_NAS_ROLLBACK, "nas-rollback" },
	{ SC_CTX_APP_ROLLBACK, "app-rollback" },
	{ SC_CTX_ALL, "all" },
};

SC_EXPORT const char *sc_context_name(uint32_t context)
{
	for (size_t i = 0; i < ELEMENTSOF(contexts); i++)
		if (contexts[i].context == context)
			return contexts[i].name;
	return NULL;
}

SC_EXPORT int sc_context_from_name(const char *name, uint32_t *ret)
{
	if (!name || !ret)
		return -EINVAL;
	for (size_t i = 0; i < ELEMENTSOF(contexts); i++)
		if (strcmp(contexts[i].name, name) == 0) {
			*ret = contexts[i].context;
			return 0;
		}
	return -EINVAL;
}
