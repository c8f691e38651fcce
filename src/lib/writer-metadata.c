/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * writer-metadata.c - the Identify builder (VSS's IVssCreateWriterMetadata):
 * builds the writer's part of the metadata document of docs/protocol.md §4.2
 * directly as JSON.  The identity part is the service's; it is not built here.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <shadowcopy/writer.h>

#include "cleanup.h"
#include "json-util.h"
#include "metadata.h"
#include "writer-internal.h"

#define COMPONENT_FLAGS_ALL \
	(SC_CF_BACKUP_RECOVERY | SC_CF_APP_ROLLBACK_RECOVERY | SC_CF_NOT_SYSTEM_STATE)

struct sc_writer_metadata {
	json_t *doc;
	json_t *index; /* component key -> component, so that lookups stay O(1) */
};

struct sc_writer_metadata *writer_metadata_new(void)
{
	struct sc_writer_metadata *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	/* VSS's defaults: restore method undefined, no schema bits, empty lists. */
	m->doc = json_pack("{s:{s:i, s:s, s:s, s:i, s:b}, s:i, s:[], s:[]}",
			   "restore_method", "method", SC_RME_UNDEFINED, "service", "",
			   "user_procedure", "", "writer_restore", SC_WRE_UNDEFINED,
			   "reboot_required", 0, "backup_schema", 0, "excludes", "components");
	m->index = json_object();
	if (!m->doc || !m->index)
		return writer_metadata_free(m);
	return m;
}

struct sc_writer_metadata *writer_metadata_free(struct sc_writer_metadata *m)
{
	if (!m)
		return NULL;
	json_decref(m->doc);
	json_decref(m->index);
	free(m);
	return NULL;
}

json_t *writer_metadata_json(const struct sc_writer_metadata *m)
{
	return m->doc;
}

/* The index key of a component: its logical path and name joined by a NUL,
 * which neither can contain. */
static char *component_key(const char *logical_path, const char *name, size_t *ret_len)
{
	size_t lp = strlen(logical_path), n = strlen(name);
	char *key = malloc(lp + n + 2);

	if (!key)
		return NULL;
	memcpy(key, logical_path, lp + 1);
	memcpy(key + lp + 1, name, n + 1);
	*ret_len = lp + 1 + n;
	return key;
}

/* The component (@logical_path, @name) in *@ret (NULL if there is none). */
static int component_find(const struct sc_writer_metadata *m, const char *logical_path,
			  const char *name, json_t **ret)
{
	_cleanup_free_ char *key = NULL;
	size_t len;

	key = component_key(logical_path, name, &len);
	if (!key)
		return -ENOMEM;
	*ret = json_object_getn(m->index, key, len);
	return 0;
}

static int component_add(struct sc_writer_metadata *m, const char *logical_path,
			 const char *name, json_t *c)
{
	_cleanup_free_ char *key = NULL;
	size_t len;

	key = component_key(logical_path, name, &len);
	if (!key)
		return -ENOMEM;
	if (json_object_setn_nocheck(m->index, key, len, c) < 0)
		return -ENOMEM;
	if (json_array_append(json_object_get(m->doc, "components"), c) < 0) {
		(void)json_object_deln(m->index, key, len); /* it is there: cannot fail */
		return -ENOMEM;
	}
	return 0;
}

SC_EXPORT int sc_writer_metadata_add_component(struct sc_writer_metadata *m,
					       enum sc_component_type type,
					       const char *logical_path, const char *name,
					       const char *caption, bool selectable,
					       bool selectable_for_restore, uint32_t flags)
{
	json_t *c;
	int r;

	if (!m || !name || name[0] == '\0' || (flags & ~(uint32_t)COMPONENT_FLAGS_ALL))
		return -EINVAL;
	if (type != SC_CT_DATABASE && type != SC_CT_FILEGROUP)
		return -EINVAL;
	if (!logical_path)
		logical_path = "";
	r = writer_texts_check((const char *[]){ logical_path, name, caption }, 3);
	if (r < 0)
		return r;
	r = component_find(m, logical_path, name, &c);
	if (r < 0)
		return r;
	if (c)
		return -SC_E_OBJECT_ALREADY_EXISTS;
	c = json_pack("{s:i, s:s, s:s, s:s, s:b, s:b, s:I, s:[], s:[], s:[]}", "type", (int)type,
		      "logical_path", logical_path, "name", name, "caption", caption ? caption : "",
		      "selectable", selectable, "selectable_for_restore", selectable_for_restore,
		      "flags", (json_int_t)flags, "files", "database_files", "log_files");
	if (!c)
		return -ENOMEM;
	r = component_add(m, logical_path, name, c);
	json_decref(c);
	return r;
}

/* Append a file set to the list @key of component (@logical_path, @name),
 * which must be of @type. */
static int add_fileset(struct sc_writer_metadata *m, enum sc_component_type type, const char *key,
		       const char *logical_path, const char *name, const char *path,
		       const char *filespec, bool recursive, uint32_t backup_type_mask)
{
	json_t *c, *f;
	int r;

	if (!m || !name || !path || path[0] == '\0' || !filespec ||
	    (backup_type_mask & ~(uint32_t)SC_FSBT_ALL))
		return -EINVAL;
	r = writer_texts_check((const char *[]){ path, filespec }, 2);
	if (r < 0)
		return r;
	r = component_find(m, logical_path ? logical_path : "", name, &c);
	if (r < 0)
		return r;
	if (!c || json_integer_value(json_object_get(c, "type")) != type)
		return -SC_E_OBJECT_NOT_FOUND;
	f = metadata_fileset(path, filespec, recursive,
			     backup_type_mask ? backup_type_mask : SC_FSBT_ALL);
	if (!f)
		return -ENOMEM;
	return json_array_append_new(json_object_get(c, key), f) < 0 ? -ENOMEM : 0;
}

SC_EXPORT int sc_writer_metadata_add_files(struct sc_writer_metadata *m, const char *logical_path,
					   const char *name, const char *path,
					   const char *filespec, bool recursive,
					   uint32_t backup_type_mask)
{
	return add_fileset(m, SC_CT_FILEGROUP, "files", logical_path, name, path, filespec,
			   recursive, backup_type_mask);
}

SC_EXPORT int sc_writer_metadata_add_database_files(struct sc_writer_metadata *m,
						    const char *logical_path, const char *name,
						    const char *path, const char *filespec,
						    uint32_t backup_type_mask)
{
	return add_fileset(m, SC_CT_DATABASE, "database_files", logical_path, name, path,
			   filespec, false, backup_type_mask);
}

SC_EXPORT int sc_writer_metadata_add_database_log_files(struct sc_writer_metadata *m,
							const char *logical_path,
							const char *name, const char *path,
							const char *filespec,
							uint32_t backup_type_mask)
{
	return add_fileset(m, SC_CT_DATABASE, "log_files", logical_path, name, path, filespec,
			   false, backup_type_mask);
}

SC_EXPORT int sc_writer_metadata_add_exclude_files(struct sc_writer_metadata *m, const char *path,
						   const char *filespec, bool recursive)
{
	json_t *f;

	int r;

	if (!m || !path || path[0] == '\0' || !filespec)
		return -EINVAL;
	r = writer_texts_check((const char *[]){ path, filespec }, 2);
	if (r < 0)
		return r;
	/* Excludes apply to every backup type: VSS has no mask for them. */
	f = metadata_fileset(path, filespec, recursive, SC_FSBT_ALL);
	if (!f)
		return -ENOMEM;
	return json_array_append_new(json_object_get(m->doc, "excludes"), f) < 0 ? -ENOMEM : 0;
}

SC_EXPORT int sc_writer_metadata_set_restore_method(struct sc_writer_metadata *m,
						    enum sc_restore_method method,
						    const char *service,
						    const char *user_procedure,
						    enum sc_writer_restore writer_restore,
						    bool reboot_required)
{
	json_t *rm;

	int r;

	if (!m || (unsigned)method >= _SC_RME_MAX || (unsigned)writer_restore >= _SC_WRE_MAX)
		return -EINVAL;
	r = writer_texts_check((const char *[]){ service, user_procedure }, 2);
	if (r < 0)
		return r;
	rm = json_pack("{s:i, s:s, s:s, s:i, s:b}", "method", (int)method, "service",
		       service ? service : "", "user_procedure",
		       user_procedure ? user_procedure : "", "writer_restore", (int)writer_restore,
		       "reboot_required", reboot_required);
	return json_set(m->doc, "restore_method", rm);
}

SC_EXPORT int sc_writer_metadata_set_backup_schema(struct sc_writer_metadata *m, uint32_t schema)
{
	if (!m)
		return -EINVAL;
	return json_set(m->doc, "backup_schema", json_integer(schema));
}
