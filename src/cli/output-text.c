/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * output-text.c - the human view of the shadowcopy tool, laid out as
 * vssadmin prints it ("Writer name: '...'", "State: [1] Stable", "Contents of
 * shadow copy set ID: {...}").  It reads data the command has already
 * validated and never talks to the service.
 */
#include <ctype.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>

#include <shadowcopy/provider.h>
#include <shadowcopy/types.h>

#include "cleanup.h"
#include "output.h"

static const char *text_str(json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));

	return s ? s : "";
}

static long long text_int(json_t *obj, const char *key)
{
	return json_integer_value(json_object_get(obj, key));
}

static const char *text_yes_no(json_t *obj, const char *key)
{
	return json_is_true(json_object_get(obj, key)) ? "yes" : "no";
}

/* Text from a table indexed by an enum value, "Unknown (N)" beyond it. */
static const char *text_enum(const char *const *table, size_t n, long long value,
			     char buf[static 32])
{
	if (value >= 0 && (size_t)value < n && table[value])
		return table[value];
	snprintf(buf, 32, "Unknown (%lld)", value);
	return buf;
}

/* vssadmin's "Last error" words for a writer failure (vss-model 11.1). */
static const char *text_last_error(const char *failure)
{
	static const struct {
		const char *name, *text;
	} map[] = {
		{ "OK", "No error" },
		{ "WRITERERROR_RETRYABLE", "Retryable error" },
		{ "WRITERERROR_NONRETRYABLE", "Non-retryable error" },
		{ "WRITERERROR_TIMEOUT", "Timed out" },
		{ "WRITERERROR_INCONSISTENTSNAPSHOT", "Inconsistent shadow copy" },
		{ "WRITERERROR_OUTOFRESOURCES", "Out of resources" },
		{ "WRITER_NOT_RESPONDING", "Not responding" },
	};

	for (size_t i = 0; i < ELEMENTSOF(map); i++)
		if (strcmp(map[i].name, failure) == 0)
			return map[i].text;
	return "Unexpected error";
}

static void text_uid(json_t *entry)
{
	uid_t uid = (uid_t)text_int(entry, "uid");
	struct passwd pw, *found = NULL;
	char buf[4096];

	/* A missing user is not an error: the uid alone is still the truth. */
	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &found) == 0 && found)
		printf("   Uid: %u (%s)\n", (unsigned)uid, found->pw_name);
	else
		printf("   Uid: %u\n", (unsigned)uid);
	printf("   Pid: %lld\n", text_int(entry, "pid"));
}

static void text_fileset(json_t *f, const char *indent)
{
	printf("%sPath = %s, Filespec = %s, Recursive = %s, Backup types = 0x%llx\n", indent,
	       text_str(f, "path"), text_str(f, "filespec"), text_yes_no(f, "recursive"),
	       text_int(f, "backup_type_mask"));
}

/* A titled list of file sets; nothing at all when the list is empty. */
static void text_filesets(json_t *obj, const char *key, const char *title, const char *indent)
{
	json_t *sets = json_object_get(obj, key), *f;
	char inner[32];
	size_t i;

	if (json_array_size(sets) == 0)
		return;
	printf("%s%s:\n", indent, title);
	snprintf(inner, sizeof(inner), "%s   ", indent);
	json_array_foreach(sets, i, f)
		text_fileset(f, inner);
}

static void text_component(json_t *c)
{
	static const char *const types[_SC_CT_MAX] = {
		[SC_CT_DATABASE] = "Database",
		[SC_CT_FILEGROUP] = "File group",
	};
	char buf[32];

	printf("   Component: '%s'\n", text_str(c, "name"));
	printf("      Logical path: '%s'\n", text_str(c, "logical_path"));
	printf("      Caption: '%s'\n", text_str(c, "caption"));
	printf("      Type: %s\n", text_enum(types, _SC_CT_MAX, text_int(c, "type"), buf));
	printf("      Selectable: %s\n", text_yes_no(c, "selectable"));
	printf("      Selectable for restore: %s\n", text_yes_no(c, "selectable_for_restore"));
	printf("      Flags: 0x%llx\n", text_int(c, "flags"));
	text_filesets(c, "files", "Files", "      ");
	text_filesets(c, "database_files", "Database files", "      ");
	text_filesets(c, "log_files", "Log files", "      ");
}

static void text_restore_method(json_t *rm)
{
	static const char *const methods[_SC_RME_MAX] = {
		[SC_RME_UNDEFINED] = "Undefined",
		[SC_RME_RESTORE_IF_NOT_THERE] = "Restore if not there",
		[SC_RME_RESTORE_IF_CAN_REPLACE] = "Restore if can replace",
		[SC_RME_STOP_RESTORE_START] = "Stop, restore, start",
		[SC_RME_RESTORE_TO_ALTERNATE_LOCATION] = "Restore to alternate location",
		[SC_RME_RESTORE_AT_REBOOT] = "Restore at reboot",
		[SC_RME_RESTORE_AT_REBOOT_IF_CANNOT_REPLACE] = "Restore at reboot if cannot replace",
		[SC_RME_CUSTOM] = "Custom",
		[SC_RME_RESTORE_STOP_START] = "Restore, stop, start",
	};
	static const char *const writer_restore[_SC_WRE_MAX] = {
		[SC_WRE_UNDEFINED] = "Undefined",
		[SC_WRE_NEVER] = "Never",
		[SC_WRE_IF_REPLACE_FAILS] = "If replace fails",
		[SC_WRE_ALWAYS] = "Always",
	};
	char buf[32];

	printf("   Restore method: %s\n",
	       text_enum(methods, _SC_RME_MAX, text_int(rm, "method"), buf));
	if (*text_str(rm, "service"))
		printf("      Service: '%s'\n", text_str(rm, "service"));
	if (*text_str(rm, "user_procedure"))
		printf("      User procedure: '%s'\n", text_str(rm, "user_procedure"));
	printf("      Writer restore: %s\n",
	       text_enum(writer_restore, _SC_WRE_MAX, text_int(rm, "writer_restore"), buf));
	printf("      Reboot required: %s\n", text_yes_no(rm, "reboot_required"));
}

static void text_metadata(json_t *entry)
{
	json_t *m = json_object_get(entry, "metadata"), *c;
	size_t i;

	if (!json_is_object(m)) {
		printf("   Metadata: none (the writer did not answer Identify)\n");
		return;
	}
	if (json_is_object(json_object_get(m, "restore_method")))
		text_restore_method(json_object_get(m, "restore_method"));
	printf("   Backup schema: 0x%llx\n", text_int(m, "backup_schema"));
	text_filesets(m, "excludes", "Excluded files", "   ");
	json_array_foreach(json_object_get(m, "components"), i, c)
		text_component(c);
}

static void text_writer_ids(json_t *entry)
{
	printf("Writer name: '%s'\n", text_str(entry, "name"));
	printf("   Writer Id: {%s}\n", text_str(entry, "class_id"));
	printf("   Writer Instance Id: {%s}\n", text_str(entry, "instance_id"));
}

static void text_writer_state(json_t *entry)
{
	long long state = text_int(entry, "state");
	const char *state_text = sc_writer_state_text((enum sc_writer_state)state);

	printf("   State: [%lld] %s\n", state, state_text ? state_text : "Unknown");
	printf("   Last error: %s\n", text_last_error(text_str(entry, "failure")));
}

static void text_writer(json_t *entry, bool metadata)
{
	text_writer_ids(entry);
	if (*text_str(entry, "instance_name"))
		printf("   Writer Instance Name: '%s'\n", text_str(entry, "instance_name"));
	text_uid(entry);
	text_writer_state(entry);
	if (metadata)
		text_metadata(entry);
	printf("\n");
}

static int text_writers(json_t *writers, bool metadata)
{
	json_t *entry;
	size_t i;

	json_array_foreach(writers, i, entry)
		text_writer(entry, metadata);
	return 0;
}

/* ---- snapshots, providers ---- */

/* vssadmin's "Type:" for a context (vss-model 11.1); other names as they are. */
static const char *text_context(const char *context)
{
	static const struct {
		const char *name, *text;
	} map[] = {
		{ "backup", "Backup" },
		{ "file-share-backup", "FileShareBackup" },
		{ "app-rollback", "ApplicationRollback" },
		{ "nas-rollback", "NasRollback" },
	};

	for (size_t i = 0; i < ELEMENTSOF(map); i++)
		if (strcmp(map[i].name, context) == 0)
			return map[i].text;
	return context;
}

/* vssadmin's "Attributes:" words; bits without a name in hex. */
static void text_attributes(uint32_t mask, const char *indent)
{
	static const struct {
		uint32_t bit;
		const char *text;
	} map[] = {
		{ SC_ATTR_PERSISTENT, "Persistent" },
		{ SC_ATTR_NO_AUTORECOVERY, "No auto-recovery" },
		{ SC_ATTR_CLIENT_ACCESSIBLE, "Client-accessible" },
		{ SC_ATTR_NO_AUTO_RELEASE, "No auto release" },
		{ SC_ATTR_NO_WRITERS, "No writers" },
		{ SC_ATTR_EXPOSED_LOCALLY, "Exposed locally" },
		{ SC_ATTR_AUTORECOVER, "Auto recovered" },
	};
	const char *sep = "";

	printf("%sAttributes: ", indent);
	for (size_t i = 0; i < ELEMENTSOF(map); i++) {
		if (!(mask & map[i].bit))
			continue;
		printf("%s%s", sep, map[i].text);
		sep = ", ";
		mask &= ~map[i].bit;
	}
	if (mask)
		printf("%s0x%x", sep, mask);
	else if (!*sep)
		printf("None");
	printf("\n");
}

/* Microseconds since the epoch as local time. */
static void text_time(long long usec, char buf[static 64])
{
	time_t t = (time_t)(usec / 1000000);
	struct tm tm;

	if (!localtime_r(&t, &tm) || strftime(buf, 64, "%Y-%m-%d %H:%M:%S %Z", &tm) == 0)
		snprintf(buf, 64, "@%lld", usec / 1000000);
}

static void text_snapshot(json_t *s, const char *indent)
{
	const char *state = text_str(s, "state");
	char inner[32];

	snprintf(inner, sizeof(inner), "%s   ", indent);
	printf("%sShadow Copy ID: {%s}\n", indent, text_str(s, "snapshot_id"));
	printf("%sOriginal Volume: %s\n", inner, text_str(s, "original_volume"));
	printf("%sShadow Copy Location: %s\n", inner, text_str(s, "location"));
	printf("%sProvider: '%s'\n", inner, text_str(s, "provider"));
	printf("%sType: %s\n", inner, text_context(text_str(s, "context")));
	text_attributes((uint32_t)text_int(s, "attributes"), inner);
	/* Absent or "committed": the normal case, which vssadmin does not print. */
	if (*state && strcmp(state, "committed") != 0)
		printf("%sState: %c%s\n", inner, toupper((unsigned char)state[0]), state + 1);
}

/* The set of the @first'th snapshot with all its members, in list order. */
static void text_set(json_t *snapshots, size_t first)
{
	json_t *head = json_array_get(snapshots, first), *s;
	const char *set = text_str(head, "snapshot_set_id");
	char when[64];
	size_t i;

	text_time(text_int(head, "created"), when);
	printf("Contents of shadow copy set ID: {%s}\n", set);
	printf("   Contained %lld shadow copies at creation time: %s\n", text_int(head, "count"),
	       when);
	json_array_foreach(snapshots, i, s)
		if (i >= first && strcmp(text_str(s, "snapshot_set_id"), set) == 0)
			text_snapshot(s, "      ");
	printf("\n");
}

/* Whether a snapshot before the @index'th is of the same set. */
static bool text_set_seen(json_t *snapshots, size_t index)
{
	const char *set = text_str(json_array_get(snapshots, index), "snapshot_set_id");

	for (size_t i = 0; i < index; i++)
		if (strcmp(text_str(json_array_get(snapshots, i), "snapshot_set_id"), set) == 0)
			return true;
	return false;
}

static int text_snapshots(json_t *snapshots)
{
	if (json_array_size(snapshots) == 0) {
		printf("No items found that satisfy the query.\n");
		return 0;
	}
	for (size_t i = 0; i < json_array_size(snapshots); i++)
		if (!text_set_seen(snapshots, i))
			text_set(snapshots, i);
	return 0;
}

static int text_providers(json_t *providers)
{
	static const char *const types[_SC_PROV_MAX] = {
		[SC_PROV_UNKNOWN] = "Unknown",
		[SC_PROV_SYSTEM] = "System",
		[SC_PROV_SOFTWARE] = "Software",
		[SC_PROV_HARDWARE] = "Hardware",
	};
	json_t *p;
	char buf[32];
	size_t i;

	json_array_foreach(providers, i, p) {
		printf("Provider name: '%s'\n", text_str(p, "name"));
		printf("   Provider type: %s\n",
		       text_enum(types, _SC_PROV_MAX, text_int(p, "type"), buf));
		printf("   Provider Id: {%s}\n", text_str(p, "provider_id"));
		printf("   Version: %s\n\n", text_str(p, "version"));
	}
	return 0;
}

static int text_deleted(json_t *result)
{
	long long n = text_int(result, "deleted");

	printf("Deleted %lld shadow %s.\n", n, n == 1 ? "copy" : "copies");
	return 0;
}

/* ---- create ---- */

/*
 * Whether a writer of create's report took part: the service moves every
 * writer that takes part out of Stable by the end of DoSnapshotSet (to
 * "Waiting for completion", or a failure), and leaves the others alone.
 */
static bool text_took_part(json_t *w)
{
	return text_int(w, "state") != SC_WS_STABLE || strcmp(text_str(w, "failure"), "OK") != 0;
}

/* "Writers not involved: 'a', 'b'", after a set was made (see above). */
static void text_bystanders(json_t *writers)
{
	bool any = false;
	json_t *w;
	size_t i;

	json_array_foreach(writers, i, w) {
		if (text_took_part(w))
			continue;
		printf("%s'%s'", any ? ", " : "Writers not involved: ", text_str(w, "name"));
		any = true;
	}
	if (any)
		printf("\n");
}

static int text_created(json_t *report)
{
	json_t *snapshots = json_object_get(report, "snapshots");
	json_t *writers = json_object_get(report, "writers"), *x;
	size_t i;

	if (json_array_size(snapshots) > 0) {
		printf("Successfully created shadow copy set {%s}\n",
		       text_str(report, "snapshot_set_id"));
		json_array_foreach(snapshots, i, x)
			text_snapshot(x, "   ");
		printf("\n");
	}
	json_array_foreach(writers, i, x) {
		if (!text_took_part(x))
			continue;
		text_writer_ids(x);
		text_writer_state(x);
		printf("\n");
	}
	if (json_array_size(snapshots) > 0)
		text_bystanders(writers);
	return 0;
}

const struct output output_text = {
	.writers = text_writers,
	.snapshots = text_snapshots,
	.providers = text_providers,
	.deleted = text_deleted,
	.created = text_created,
};
