/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * metadata-walk.c - a writer's metadata rebuilt as JSON from the accessor
 * functions of requester.h (sc_writer_info_*, sc_component_info_*,
 * sc_file_info_*), in the shape of protocol.md §4.2, so that tests can
 * compare it with sc_writer_info_to_json() and with what the writer sent.
 * The accessors do not expose freeze_timeout_ms, uid nor pid: absent here.
 */
#include <errno.h>

#include "cleanup.h"
#include "test-requester.h"

static json_t *walk_id(void (*get)(const struct sc_writer_info *, struct sc_id *),
		       const struct sc_writer_info *wi)
{
	char buf[SC_ID_STRING_MAX];
	struct sc_id id;

	get(wi, &id);
	return json_string(sc_id_to_string(&id, buf));
}

static json_t *walk_fileset(const struct sc_file_info *fi)
{
	return json_pack("{s:s, s:s, s:b, s:I}", "path", sc_file_info_get_path(fi), "filespec",
			 sc_file_info_get_filespec(fi), "recursive", sc_file_info_is_recursive(fi),
			 "backup_type_mask", (json_int_t)sc_file_info_get_backup_type_mask(fi));
}

static int walk_component_files(const struct sc_component_info *ci, enum sc_file_kind kind,
				json_t **ret)
{
	_cleanup_json_ json_t *a = json_array();
	const struct sc_file_info *fi;
	int r;

	if (!a)
		return -ENOMEM;
	for (size_t i = 0; i < sc_component_info_get_file_count(ci, kind); i++) {
		if ((r = sc_component_info_get_file(ci, kind, i, &fi)) < 0)
			return r;
		if (json_array_append_new(a, walk_fileset(fi)) < 0)
			return -ENOMEM;
	}
	*ret = TAKE_PTR(a);
	return 0;
}

static int walk_component(const struct sc_component_info *ci, json_t **ret)
{
	static const char *const keys[] = {
		[SC_FILE_KIND_FILES] = "files",
		[SC_FILE_KIND_DATABASE] = "database_files",
		[SC_FILE_KIND_DATABASE_LOG] = "log_files",
	};
	_cleanup_json_ json_t *c = NULL;
	json_t *files;
	int r;

	c = json_pack("{s:i, s:s, s:s, s:s, s:b, s:b, s:I}", "type",
		      (int)sc_component_info_get_type(ci), "logical_path",
		      sc_component_info_get_logical_path(ci), "name",
		      sc_component_info_get_name(ci), "caption", sc_component_info_get_caption(ci),
		      "selectable", sc_component_info_is_selectable(ci), "selectable_for_restore",
		      sc_component_info_is_selectable_for_restore(ci), "flags",
		      (json_int_t)sc_component_info_get_flags(ci));
	if (!c)
		return -ENOMEM;
	for (int kind = SC_FILE_KIND_FILES; kind <= SC_FILE_KIND_DATABASE_LOG; kind++) {
		if ((r = walk_component_files(ci, kind, &files)) < 0)
			return r;
		if (json_object_set_new(c, keys[kind], files) < 0)
			return -ENOMEM;
	}
	*ret = TAKE_PTR(c);
	return 0;
}

static json_t *walk_restore_method(const struct sc_writer_info *wi)
{
	enum sc_restore_method method;
	enum sc_writer_restore writer_restore;
	const char *service, *user_procedure;
	bool reboot;

	if (sc_writer_info_get_restore_method(wi, &method, &service, &user_procedure,
					      &writer_restore, &reboot) < 0)
		return json_null();
	return json_pack("{s:i, s:s, s:s, s:i, s:b}", "method", (int)method, "service", service,
			 "user_procedure", user_procedure, "writer_restore", (int)writer_restore,
			 "reboot_required", reboot);
}

static int walk_lists(const struct sc_writer_info *wi, json_t *doc)
{
	json_t *excludes = json_array(), *components = json_array(), *item;
	const struct sc_component_info *ci;
	const struct sc_file_info *fi;
	int r = 0;

	/* Owned by @doc from here on, so that every return below frees them. */
	if (json_object_set_new(doc, "excludes", excludes) < 0 ||
	    json_object_set_new(doc, "components", components) < 0)
		return -ENOMEM;
	for (size_t i = 0; r >= 0 && i < sc_writer_info_get_exclude_count(wi); i++) {
		r = sc_writer_info_get_exclude(wi, i, &fi);
		if (r >= 0 && json_array_append_new(excludes, walk_fileset(fi)) < 0)
			r = -ENOMEM;
	}
	for (size_t i = 0; r >= 0 && i < sc_writer_info_get_component_count(wi); i++) {
		r = sc_writer_info_get_component(wi, i, &ci);
		if (r >= 0 && (r = walk_component(ci, &item)) >= 0 &&
		    json_array_append_new(components, item) < 0)
			r = -ENOMEM;
	}
	return r;
}

int metadata_walk(const struct sc_writer_info *wi, json_t **ret)
{
	_cleanup_json_ json_t *doc = NULL;
	int r;

	doc = json_pack("{s:o, s:o, s:s, s:s, s:i, s:i, s:i, s:o, s:I}", "class_id",
			walk_id(sc_writer_info_get_class_id, wi), "instance_id",
			walk_id(sc_writer_info_get_instance_id, wi), "name",
			sc_writer_info_get_name(wi), "instance_name",
			sc_writer_info_get_instance_name(wi), "usage_type",
			(int)sc_writer_info_get_usage_type(wi), "source_type",
			(int)sc_writer_info_get_source_type(wi), "level",
			(int)sc_writer_info_get_level(wi), "restore_method",
			walk_restore_method(wi), "backup_schema",
			(json_int_t)sc_writer_info_get_backup_schema(wi));
	if (!doc)
		return -ENOMEM;
	if ((r = walk_lists(wi, doc)) < 0)
		return r;
	*ret = TAKE_PTR(doc);
	return 0;
}
