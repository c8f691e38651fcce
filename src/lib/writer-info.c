/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * writer-info.c - a writer metadata document as the requester reads it (VSS's
 * IVssExamineWriterMetadata, IVssWMComponent, IVssWMFiledesc): parsed once,
 * after metadata_check(), into arrays whose strings borrow from the document.
 * It never talks to the service.
 */
#include <errno.h>
#include <stdlib.h>

#include "cleanup.h"
#include "json-util.h"
#include "metadata.h"
#include "requester-internal.h"

struct sc_file_info {
	const char *path;
	const char *filespec;
	bool recursive;
	uint32_t backup_type_mask;
};

/* The file set lists of a component, indexed by enum sc_file_kind. */
#define COMPONENT_FILE_KINDS 3
static const char *const file_kind_keys[COMPONENT_FILE_KINDS] = {
	[SC_FILE_KIND_FILES] = "files",
	[SC_FILE_KIND_DATABASE] = "database_files",
	[SC_FILE_KIND_DATABASE_LOG] = "log_files",
};

struct sc_component_info {
	enum sc_component_type type;
	const char *logical_path;
	const char *name;
	const char *caption;
	bool selectable;
	bool selectable_for_restore;
	uint32_t flags;
	struct sc_file_info *files[COMPONENT_FILE_KINDS];
	size_t n_files[COMPONENT_FILE_KINDS];
};

struct sc_writer_info {
	json_t *doc;
	struct sc_id class_id;
	struct sc_id instance_id;
	const char *name;
	const char *instance_name;
	enum sc_usage_type usage;
	enum sc_source_type source;
	enum sc_app_level level;
	uint32_t backup_schema;
	enum sc_restore_method method;
	const char *service;
	const char *user_procedure;
	enum sc_writer_restore writer_restore;
	bool reboot_required;
	struct sc_file_info *excludes;
	size_t n_excludes;
	struct sc_component_info *components;
	size_t n_components;
};

/* The document passed metadata_check(): fields have their types already. */
static int parse_filesets(json_t *obj, const char *key, struct sc_file_info **ret,
			  size_t *ret_n)
{
	json_t *a = json_object_get(obj, key), *f;
	struct sc_file_info *files;
	int64_t mask;
	size_t i;

	if (json_array_size(a) == 0)
		return 0;
	files = calloc(json_array_size(a), sizeof(*files));
	if (!files)
		return -ENOMEM;
	json_array_foreach(a, i, f) {
		mask = SC_FSBT_ALL; /* VSS's default for a file set */
		(void)json_get_string(f, "path", true, &files[i].path);
		(void)json_get_string(f, "filespec", true, &files[i].filespec);
		(void)json_get_bool(f, "recursive", false, &files[i].recursive);
		(void)json_get_int(f, "backup_type_mask", false, 0, UINT32_MAX, &mask);
		files[i].backup_type_mask = (uint32_t)mask;
	}
	*ret = files;
	*ret_n = json_array_size(a);
	return 0;
}

static int parse_component(json_t *c, struct sc_component_info *ci)
{
	int64_t type = 0, flags = 0;
	int r;

	ci->logical_path = ci->caption = "";
	(void)json_get_int(c, "type", true, SC_CT_DATABASE, SC_CT_FILEGROUP, &type);
	(void)json_get_string(c, "logical_path", false, &ci->logical_path);
	(void)json_get_string(c, "name", true, &ci->name);
	(void)json_get_string(c, "caption", false, &ci->caption);
	(void)json_get_bool(c, "selectable", false, &ci->selectable);
	(void)json_get_bool(c, "selectable_for_restore", false, &ci->selectable_for_restore);
	(void)json_get_int(c, "flags", false, 0, UINT32_MAX, &flags);
	ci->type = (enum sc_component_type)type;
	ci->flags = (uint32_t)flags;
	for (int k = 0; k < COMPONENT_FILE_KINDS; k++) {
		r = parse_filesets(c, file_kind_keys[k], &ci->files[k], &ci->n_files[k]);
		if (r < 0)
			return r;
	}
	return 0;
}

static int parse_components(struct sc_writer_info *wi)
{
	json_t *a = json_object_get(wi->doc, "components"), *c;
	size_t i;
	int r;

	if (json_array_size(a) == 0)
		return 0;
	wi->components = calloc(json_array_size(a), sizeof(*wi->components));
	if (!wi->components)
		return -ENOMEM;
	wi->n_components = json_array_size(a);
	json_array_foreach(a, i, c) {
		r = parse_component(c, &wi->components[i]);
		if (r < 0)
			return r;
	}
	return 0;
}

static int parse_identity(struct sc_writer_info *wi)
{
	int64_t usage = 0, source = 0, level = 0;
	int r;

	wi->instance_name = "";
	if ((r = json_get_id(wi->doc, "class_id", true, &wi->class_id)) < 0 ||
	    (r = json_get_id(wi->doc, "instance_id", true, &wi->instance_id)) < 0 ||
	    (r = json_get_string(wi->doc, "name", true, &wi->name)) < 0 ||
	    (r = json_get_string(wi->doc, "instance_name", false, &wi->instance_name)) < 0 ||
	    (r = json_get_int(wi->doc, "usage_type", false, 0, _SC_UT_MAX - 1, &usage)) < 0 ||
	    (r = json_get_int(wi->doc, "source_type", false, 0, _SC_ST_MAX - 1, &source)) < 0 ||
	    (r = json_get_int(wi->doc, "level", false, 0, _SC_APP_MAX - 1, &level)) < 0)
		return r;
	wi->usage = (enum sc_usage_type)usage;
	wi->source = (enum sc_source_type)source;
	wi->level = (enum sc_app_level)level;
	return 0;
}

static void parse_writer_level(struct sc_writer_info *wi)
{
	json_t *rm = json_object_get(wi->doc, "restore_method");
	int64_t schema = 0, method = 0, writer_restore = 0;

	wi->service = wi->user_procedure = "";
	(void)json_get_int(wi->doc, "backup_schema", false, 0, UINT32_MAX, &schema);
	(void)json_get_int(rm, "method", false, 0, _SC_RME_MAX - 1, &method);
	(void)json_get_string(rm, "service", false, &wi->service);
	(void)json_get_string(rm, "user_procedure", false, &wi->user_procedure);
	(void)json_get_int(rm, "writer_restore", false, 0, _SC_WRE_MAX - 1, &writer_restore);
	(void)json_get_bool(rm, "reboot_required", false, &wi->reboot_required);
	wi->backup_schema = (uint32_t)schema;
	wi->method = (enum sc_restore_method)method;
	wi->writer_restore = (enum sc_writer_restore)writer_restore;
}

int writer_info_new(json_t *doc, struct sc_writer_info **ret)
{
	struct sc_writer_info *wi;
	int r;

	r = metadata_check(doc);
	if (r < 0)
		return r;
	wi = calloc(1, sizeof(*wi));
	if (!wi)
		return -ENOMEM;
	wi->doc = json_incref(doc);
	r = parse_identity(wi);
	if (r >= 0) {
		parse_writer_level(wi);
		r = parse_filesets(doc, "excludes", &wi->excludes, &wi->n_excludes);
	}
	if (r >= 0)
		r = parse_components(wi);
	if (r < 0) {
		writer_info_free(wi);
		return r;
	}
	*ret = wi;
	return 0;
}

struct sc_writer_info *writer_info_free(struct sc_writer_info *wi)
{
	if (!wi)
		return NULL;
	for (size_t i = 0; i < wi->n_components; i++)
		for (int k = 0; k < COMPONENT_FILE_KINDS; k++)
			free(wi->components[i].files[k]);
	free(wi->components);
	free(wi->excludes);
	json_decref(wi->doc);
	free(wi);
	return NULL;
}

SC_EXPORT const char *sc_writer_info_get_name(const struct sc_writer_info *wi)
{
	return wi ? wi->name : "";
}

SC_EXPORT const char *sc_writer_info_get_instance_name(const struct sc_writer_info *wi)
{
	return wi ? wi->instance_name : "";
}

SC_EXPORT void sc_writer_info_get_class_id(const struct sc_writer_info *wi, struct sc_id *ret)
{
	if (wi && ret)
		*ret = wi->class_id;
}

SC_EXPORT void sc_writer_info_get_instance_id(const struct sc_writer_info *wi, struct sc_id *ret)
{
	if (wi && ret)
		*ret = wi->instance_id;
}

SC_EXPORT enum sc_usage_type sc_writer_info_get_usage_type(const struct sc_writer_info *wi)
{
	return wi ? wi->usage : SC_UT_UNDEFINED;
}

SC_EXPORT enum sc_source_type sc_writer_info_get_source_type(const struct sc_writer_info *wi)
{
	return wi ? wi->source : SC_ST_UNDEFINED;
}

SC_EXPORT enum sc_app_level sc_writer_info_get_level(const struct sc_writer_info *wi)
{
	return wi ? wi->level : SC_APP_UNKNOWN;
}

SC_EXPORT uint32_t sc_writer_info_get_backup_schema(const struct sc_writer_info *wi)
{
	return wi ? wi->backup_schema : 0;
}

SC_EXPORT int sc_writer_info_get_restore_method(const struct sc_writer_info *wi,
						enum sc_restore_method *ret_method,
						const char **ret_service,
						const char **ret_user_procedure,
						enum sc_writer_restore *ret_writer_restore,
						bool *ret_reboot_required)
{
	if (!wi)
		return -EINVAL;
	if (ret_method)
		*ret_method = wi->method;
	if (ret_service)
		*ret_service = wi->service;
	if (ret_user_procedure)
		*ret_user_procedure = wi->user_procedure;
	if (ret_writer_restore)
		*ret_writer_restore = wi->writer_restore;
	if (ret_reboot_required)
		*ret_reboot_required = wi->reboot_required;
	return 0;
}

SC_EXPORT size_t sc_writer_info_get_exclude_count(const struct sc_writer_info *wi)
{
	return wi ? wi->n_excludes : 0;
}

SC_EXPORT int sc_writer_info_get_exclude(const struct sc_writer_info *wi, size_t i,
					 const struct sc_file_info **ret)
{
	if (!wi || !ret)
		return -EINVAL;
	if (i >= wi->n_excludes)
		return -SC_E_OBJECT_NOT_FOUND;
	*ret = &wi->excludes[i];
	return 0;
}

SC_EXPORT size_t sc_writer_info_get_component_count(const struct sc_writer_info *wi)
{
	return wi ? wi->n_components : 0;
}

SC_EXPORT int sc_writer_info_get_component(const struct sc_writer_info *wi, size_t i,
					   const struct sc_component_info **ret)
{
	if (!wi || !ret)
		return -EINVAL;
	if (i >= wi->n_components)
		return -SC_E_OBJECT_NOT_FOUND;
	*ret = &wi->components[i];
	return 0;
}

SC_EXPORT char *sc_writer_info_to_json(const struct sc_writer_info *wi)
{
	if (!wi)
		return NULL;
	return json_dumps(wi->doc, JSON_COMPACT);
}

SC_EXPORT enum sc_component_type sc_component_info_get_type(const struct sc_component_info *ci)
{
	return ci ? ci->type : SC_CT_UNDEFINED;
}

SC_EXPORT const char *sc_component_info_get_logical_path(const struct sc_component_info *ci)
{
	return ci ? ci->logical_path : "";
}

SC_EXPORT const char *sc_component_info_get_name(const struct sc_component_info *ci)
{
	return ci ? ci->name : "";
}

SC_EXPORT const char *sc_component_info_get_caption(const struct sc_component_info *ci)
{
	return ci ? ci->caption : "";
}

SC_EXPORT bool sc_component_info_is_selectable(const struct sc_component_info *ci)
{
	return ci ? ci->selectable : false;
}

SC_EXPORT bool sc_component_info_is_selectable_for_restore(const struct sc_component_info *ci)
{
	return ci ? ci->selectable_for_restore : false;
}

SC_EXPORT uint32_t sc_component_info_get_flags(const struct sc_component_info *ci)
{
	return ci ? ci->flags : 0;
}

SC_EXPORT size_t sc_component_info_get_file_count(const struct sc_component_info *ci,
						  enum sc_file_kind kind)
{
	if (!ci || (unsigned)kind >= COMPONENT_FILE_KINDS)
		return 0;
	return ci->n_files[kind];
}

SC_EXPORT int sc_component_info_get_file(const struct sc_component_info *ci,
					 enum sc_file_kind kind, size_t i,
					 const struct sc_file_info **ret)
{
	if (!ci || !ret || (unsigned)kind >= COMPONENT_FILE_KINDS)
		return -EINVAL;
	if (i >= ci->n_files[kind])
		return -SC_E_OBJECT_NOT_FOUND;
	*ret = &ci->files[kind][i];
	return 0;
}

SC_EXPORT const char *sc_file_info_get_path(const struct sc_file_info *fi)
{
	return fi ? fi->path : "";
}

SC_EXPORT const char *sc_file_info_get_filespec(const struct sc_file_info *fi)
{
	return fi ? fi->filespec : "";
}

SC_EXPORT bool sc_file_info_is_recursive(const struct sc_file_info *fi)
{
	return fi ? fi->recursive : false;
}

SC_EXPORT uint32_t sc_file_info_get_backup_type_mask(const struct sc_file_info *fi)
{
	return fi ? fi->backup_type_mask : 0;
}
