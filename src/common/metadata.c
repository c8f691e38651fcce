/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * metadata.c - validation of writer metadata documents.  The service refuses
 * an Identify answer that does not pass, so requesters only ever see
 * well-formed documents.
 */
#include <shadowcopy/types.h>

#include "json-util.h"
#include "metadata.h"

static int check_fileset(json_t *f)
{
	const char *s;
	bool b;
	int64_t mask;
	int r;

	if ((r = json_get_string(f, "path", true, &s)) < 0)
		return r;
	if (s[0] == '\0')
		return -SC_E_INVALID_MESSAGE;
	if ((r = json_get_string(f, "filespec", true, &s)) < 0)
		return r;
	if ((r = json_get_bool(f, "recursive", false, &b)) < 0)
		return r;
	return json_get_int(f, "backup_type_mask", false, 0, UINT32_MAX, &mask);
}

static int check_filesets(json_t *obj, const char *key)
{
	json_t *a = NULL, *f;
	size_t i;
	int r;

	r = json_get_array(obj, key, false, JSON_OBJECT, &a);
	if (r < 0)
		return r;
	json_array_foreach(a, i, f)
		if ((r = check_fileset(f)) < 0)
			return r;
	return 0;
}

static int check_component(json_t *c)
{
	const char *s;
	int64_t n;
	bool b;
	int r;

	if ((r = json_get_int(c, "type", true, SC_CT_DATABASE, SC_CT_FILEGROUP, &n)) < 0)
		return r;
	if ((r = json_get_string(c, "name", true, &s)) < 0)
		return r;
	if (s[0] == '\0')
		return -SC_E_INVALID_MESSAGE;
	if ((r = json_get_string(c, "logical_path", false, &s)) < 0 ||
	    (r = json_get_string(c, "caption", false, &s)) < 0 ||
	    (r = json_get_bool(c, "selectable", false, &b)) < 0 ||
	    (r = json_get_bool(c, "selectable_for_restore", false, &b)) < 0 ||
	    (r = json_get_int(c, "flags", false, 0, UINT32_MAX, &n)) < 0)
		return r;
	if ((r = check_filesets(c, "files")) < 0 || (r = check_filesets(c, "database_files")) < 0)
		return r;
	return check_filesets(c, "log_files");
}

static int check_restore_method(json_t *m)
{
	json_t *rm = json_object_get(m, "restore_method");
	const char *s;
	int64_t n;
	bool b;
	int r;

	if (!rm || json_is_null(rm))
		return 0;
	if (!json_is_object(rm))
		return -SC_E_INVALID_MESSAGE;
	if ((r = json_get_int(rm, "method", true, 0, _SC_RME_MAX - 1, &n)) < 0 ||
	    (r = json_get_string(rm, "service", false, &s)) < 0 ||
	    (r = json_get_string(rm, "user_procedure", false, &s)) < 0 ||
	    (r = json_get_int(rm, "writer_restore", false, 0, _SC_WRE_MAX - 1, &n)) < 0)
		return r;
	return json_get_bool(rm, "reboot_required", false, &b);
}

int metadata_check(json_t *m)
{
	json_t *a = NULL, *c;
	int64_t n;
	size_t i;
	int r;

	if (!json_is_object(m))
		return -SC_E_INVALID_MESSAGE;
	if ((r = check_restore_method(m)) < 0 ||
	    (r = json_get_int(m, "backup_schema", false, 0, UINT32_MAX, &n)) < 0 ||
	    (r = check_filesets(m, "excludes")) < 0)
		return r;
	if ((r = json_get_array(m, "components", false, JSON_OBJECT, &a)) < 0)
		return r;
	json_array_foreach(a, i, c)
		if ((r = check_component(c)) < 0)
			return r;
	return 0;
}

json_t *metadata_fileset(const char *path, const char *filespec, int recursive,
			 unsigned backup_type_mask)
{
	return json_pack("{s:s, s:s, s:b, s:I}", "path", path, "filespec", filespec, "recursive",
			 recursive, "backup_type_mask", (json_int_t)backup_type_mask);
}
