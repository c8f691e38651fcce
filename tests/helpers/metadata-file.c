/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * metadata-file.c - the test writer's --metadata FILE: the writer's part of a
 * metadata document (protocol.md §4.2) in JSON, replayed through the public
 * builder (sc_writer_metadata_*) so that tests can check the round trip.
 * It does not validate beyond what the builder can express.
 *
 * Absent fields take the builder's defaults: strings "" (caption NULL),
 * booleans false, numbers 0 (a backup_type_mask of 0 is SC_FSBT_ALL).  The
 * builder cannot express a recursive database or log file set, nor the mask
 * of an exclude: such a file is refused, and exclude masks are ignored.
 */
#include <errno.h>
#include <stdio.h>

#include "cleanup.h"
#include "test-writer.h"

struct fileset {
	const char *path, *filespec;
	int recursive;
	json_int_t mask;
};

struct component {
	json_int_t type, flags;
	const char *logical_path, *name, *caption;
	int selectable, selectable_for_restore;
	json_t *files, *database_files, *log_files;
};

static int metadata_file_error(json_t *what, const char *problem)
{
	_cleanup_free_ char *text = json_dumps(what, JSON_COMPACT | JSON_ENCODE_ANY);

	fprintf(stderr, "test-writer: --metadata: %s in %s\n", problem, text ? text : "?");
	return -EINVAL;
}

/* An optional list must be a list: json_array_foreach() would skip anything else. */
static int metadata_file_check_array(json_t *parent, json_t *a)
{
	return !a || json_is_array(a) ? 0 : metadata_file_error(parent, "a list expected");
}

static int fileset_parse(json_t *f, bool can_recurse, struct fileset *ret)
{
	json_error_t error;

	*ret = (struct fileset){ .filespec = "" };
	if (json_unpack_ex(f, &error, 0, "{s:s, s?s, s?b, s?I}", "path", &ret->path, "filespec",
			   &ret->filespec, "recursive", &ret->recursive, "backup_type_mask",
			   &ret->mask) < 0)
		return metadata_file_error(f, error.text);
	if (ret->recursive && !can_recurse)
		return metadata_file_error(f, "a database file set cannot recurse");
	return 0;
}

static int component_parse(json_t *c, struct component *ret)
{
	json_error_t error;

	*ret = (struct component){ .logical_path = "" };
	if (json_unpack_ex(c, &error, 0, "{s:I, s?s, s:s, s?s, s?b, s?b, s?I, s?o, s?o, s?o}",
			   "type", &ret->type, "logical_path", &ret->logical_path, "name",
			   &ret->name, "caption", &ret->caption, "selectable", &ret->selectable,
			   "selectable_for_restore", &ret->selectable_for_restore, "flags",
			   &ret->flags, "files", &ret->files, "database_files",
			   &ret->database_files, "log_files", &ret->log_files) < 0)
		return metadata_file_error(c, error.text);
	return 0;
}

static int fileset_add(struct sc_writer_metadata *m, const struct component *c, int kind,
		       const struct fileset *f)
{
	switch (kind) {
	case 0:
		return sc_writer_metadata_add_files(m, c->logical_path, c->name, f->path,
						    f->filespec, f->recursive, f->mask);
	case 1:
		return sc_writer_metadata_add_database_files(m, c->logical_path, c->name, f->path,
							     f->filespec, f->mask);
	default:
		return sc_writer_metadata_add_database_log_files(m, c->logical_path, c->name,
								 f->path, f->filespec, f->mask);
	}
}

/* One component and its file sets; with @m NULL only check them. */
static int component_apply(json_t *obj, struct sc_writer_metadata *m)
{
	json_t *sets[3], *f;
	struct component c;
	struct fileset fs;
	size_t i;
	int r;

	if ((r = component_parse(obj, &c)) < 0)
		return r;
	if (m && (r = sc_writer_metadata_add_component(m, c.type, c.logical_path, c.name,
							c.caption, c.selectable,
							c.selectable_for_restore, c.flags)) < 0)
		return r;
	sets[0] = c.files, sets[1] = c.database_files, sets[2] = c.log_files;
	for (int kind = 0; kind < 3; kind++) {
		if ((r = metadata_file_check_array(obj, sets[kind])) < 0)
			return r;
		json_array_foreach(sets[kind], i, f) {
			if ((r = fileset_parse(f, kind == 0, &fs)) < 0)
				return r;
			if (m && (r = fileset_add(m, &c, kind, &fs)) < 0)
				return r;
		}
	}
	return 0;
}

static int restore_method_apply(json_t *rm, struct sc_writer_metadata *m)
{
	const char *service = NULL, *user_procedure = NULL;
	json_int_t method = 0, writer_restore = 0;
	int reboot = 0;
	json_error_t error;

	if (!rm)
		return 0;
	if (json_unpack_ex(rm, &error, 0, "{s:I, s?s, s?s, s?I, s?b}", "method", &method,
			   "service", &service, "user_procedure", &user_procedure,
			   "writer_restore", &writer_restore, "reboot_required", &reboot) < 0)
		return metadata_file_error(rm, error.text);
	if (!m)
		return 0;
	return sc_writer_metadata_set_restore_method(m, method, service, user_procedure,
						     writer_restore, reboot);
}

/* The whole document; with @m NULL only check it. */
static int metadata_file_apply(json_t *doc, struct sc_writer_metadata *m)
{
	json_t *rm = NULL, *excludes = NULL, *components = NULL, *item;
	json_int_t schema = 0;
	json_error_t error;
	struct fileset fs;
	size_t i;
	int r;

	if (json_unpack_ex(doc, &error, 0, "{s?o, s?I, s?o, s?o}", "restore_method", &rm,
			   "backup_schema", &schema, "excludes", &excludes, "components",
			   &components) < 0)
		return metadata_file_error(doc, error.text);
	if ((r = metadata_file_check_array(doc, excludes)) < 0 ||
	    (r = metadata_file_check_array(doc, components)) < 0)
		return r;
	if ((r = restore_method_apply(rm, m)) < 0)
		return r;
	if (m && (r = sc_writer_metadata_set_backup_schema(m, schema)) < 0)
		return r;
	json_array_foreach(excludes, i, item) {
		if ((r = fileset_parse(item, true, &fs)) < 0)
			return r;
		if (m && (r = sc_writer_metadata_add_exclude_files(m, fs.path, fs.filespec,
								    fs.recursive)) < 0)
			return r;
	}
	json_array_foreach(components, i, item)
		if ((r = component_apply(item, m)) < 0)
			return r;
	return 0;
}

int metadata_file_load(const char *path, json_t **ret)
{
	_cleanup_json_ json_t *doc = NULL;
	json_error_t error;
	int r;

	doc = json_load_file(path, JSON_REJECT_DUPLICATES, &error);
	if (!doc) {
		fprintf(stderr, "test-writer: %s:%d: %s\n", path, error.line, error.text);
		return -EINVAL;
	}
	r = metadata_file_apply(doc, NULL);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(doc);
	return 0;
}

int metadata_file_build(json_t *doc, struct sc_writer_metadata *m)
{
	return metadata_file_apply(doc, m);
}
