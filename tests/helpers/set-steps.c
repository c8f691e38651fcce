/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * set-steps.c - the test requester's steps of the snapshot set (requester.h,
 * "the snapshot set"): components, the set and its volumes, the phases
 * prepare / do-snapshot / backup-complete, abort, snapshot properties,
 * queries, deletion and the backup components document.  One table entry
 * and one small function each; the ids they make are kept as $VARs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "test-requester.h"

/* ---- components ---- */

struct component_arg {
	struct sc_id instance_id, class_id;
	enum sc_component_type type;
	const char *logical_path, *name;
};

/* database, filegroup, or a number (so that tests can see refusals). */
static int parse_component_type(const char *word, enum sc_component_type *ret)
{
	uint64_t n;

	if (strcmp(word, "database") == 0)
		*ret = SC_CT_DATABASE;
	else if (strcmp(word, "filegroup") == 0)
		*ret = SC_CT_FILEGROUP;
	else if (requester_steps_parse_uint(word, INT32_MAX, &n) >= 0)
		*ret = (enum sc_component_type)n;
	else
		return -EINVAL;
	return 0;
}

/* "INSTANCE,CLASS,TYPE,LOGICAL_PATH,NAME", split in place; the logical path
 * may be empty and the name may hold commas. */
static int parse_component(char *arg, struct component_arg *ret)
{
	struct component_arg c;
	char *field[4];

	for (size_t i = 0; i < ELEMENTSOF(field); i++) {
		field[i] = strsep(&arg, ",");
		if (!arg)
			return -EINVAL; /* fewer than five fields */
	}
	if (sc_id_from_string(field[0], &c.instance_id) < 0 ||
	    sc_id_from_string(field[1], &c.class_id) < 0 ||
	    parse_component_type(field[2], &c.type) < 0)
		return -EINVAL;
	c.logical_path = field[3];
	c.name = arg;
	*ret = c;
	return 0;
}

static int step_add_component(struct requester_run *run, const char *arg, json_t *out)
{
	_cleanup_free_ char *copy = strdup(arg);
	struct component_arg c;

	if (!copy)
		return -ENOMEM;
	if (parse_component(copy, &c) < 0)
		return -EINVAL;
	return sc_requester_add_component(run->r, &c.instance_id, &c.class_id, c.type,
					  c.logical_path, c.name);
}

/* backup-succeeded=INSTANCE,CLASS,TYPE,LOGICAL_PATH,NAME,true|false */
static int step_backup_succeeded(struct requester_run *run, const char *arg, json_t *out)
{
	_cleanup_free_ char *copy = strdup(arg);
	struct component_arg c;
	char *comma;
	bool succeeded;

	if (!copy)
		return -ENOMEM;
	comma = strrchr(copy, ',');
	if (!comma)
		return -EINVAL;
	*comma = '\0';
	if (strcmp(comma + 1, "true") != 0 && strcmp(comma + 1, "false") != 0)
		return -EINVAL;
	succeeded = strcmp(comma + 1, "true") == 0;
	if (parse_component(copy, &c) < 0)
		return -EINVAL;
	return sc_requester_set_backup_succeeded(run->r, &c.instance_id, &c.class_id, c.type,
						 c.logical_path, c.name, succeeded);
}

/* ---- the set ---- */

static int step_start_set(struct requester_run *run, const char *arg, json_t *out)
{
	struct sc_id id;
	char name[32];
	int r;

	r = sc_requester_start_snapshot_set(run->r, &id);
	if (r < 0)
		return r;
	run->n_snapshots = 0;
	snprintf(name, sizeof(name), "SET%u", ++run->n_sets_run);
	if ((r = requester_vars_set_id(run, "SET", &id)) < 0 ||
	    (r = requester_vars_set_id(run, name, &id)) < 0)
		return r;
	return json_object_set_new(out, "set_id", requester_steps_id_json(&id)) < 0 ? -ENOMEM : 0;
}

/* PROVIDER of add-volume: an id as it is, or the name of a provider that
 * Query lists (an unknown name: PROVIDER_NOT_REGISTERED, as for an id). */
static int resolve_provider(struct requester_run *run, const char *word, struct sc_id *ret)
{
	struct sc_provider_info **providers = NULL;
	size_t n = 0;
	int r;

	if (sc_id_from_string(word, ret) >= 0)
		return 0;
	r = sc_requester_query_providers(run->r, &providers, &n);
	if (r < 0)
		return r;
	r = -SC_E_PROVIDER_NOT_REGISTERED;
	for (size_t i = 0; i < n && r < 0; i++) {
		if (strcmp(sc_provider_info_get_name(providers[i]), word) != 0)
			continue;
		sc_provider_info_get_id(providers[i], ret);
		r = 0;
	}
	sc_provider_info_array_free(providers, n);
	return r;
}

/* Keep @id for do-snapshot and as $SNAPn. */
static int remember_snapshot(struct requester_run *run, const struct sc_id *id)
{
	struct sc_id *a = reallocarray(run->snapshots, run->n_snapshots + 1, sizeof(*a));
	char name[32];

	if (!a)
		return -ENOMEM;
	run->snapshots = a;
	a[run->n_snapshots++] = *id;
	snprintf(name, sizeof(name), "SNAP%u", ++run->n_snapshots_run);
	return requester_vars_set_id(run, name, id);
}

/* add-volume=PATH[,PROVIDER]: the last comma separates the provider. */
static int step_add_volume(struct requester_run *run, const char *arg, json_t *out)
{
	_cleanup_free_ char *path = strdup(arg);
	struct sc_id provider, id;
	char *comma;
	int r;

	if (!path)
		return -ENOMEM;
	comma = strrchr(path, ',');
	if (comma) {
		*comma = '\0';
		if ((r = resolve_provider(run, comma + 1, &provider)) < 0)
			return r;
		if (json_object_set_new(out, "provider_id", requester_steps_id_json(&provider)) < 0)
			return -ENOMEM;
	}
	r = sc_requester_add_to_snapshot_set(run->r, path, comma ? &provider : NULL, &id);
	if (r < 0)
		return r;
	if ((r = remember_snapshot(run, &id)) < 0)
		return r;
	return json_object_set_new(out, "snapshot_id", requester_steps_id_json(&id)) < 0 ? -ENOMEM
											  : 0;
}

/* ---- the long phases ---- */

static int step_prepare(struct requester_run *run, const char *arg, json_t *out)
{
	return requester_steps_long(run, sc_requester_prepare_for_backup, true, out);
}

static int step_prepare_async(struct requester_run *run, const char *arg, json_t *out)
{
	return requester_steps_long(run, sc_requester_prepare_for_backup, false, out);
}

static int step_do_snapshot(struct requester_run *run, const char *arg, json_t *out)
{
	int r = requester_steps_long(run, sc_requester_do_snapshot_set, true, out);

	return r < 0 ? r : set_steps_snapshots(run, out);
}

static int step_do_snapshot_async(struct requester_run *run, const char *arg, json_t *out)
{
	return requester_steps_long(run, sc_requester_do_snapshot_set, false, out);
}

static int step_backup_complete(struct requester_run *run, const char *arg, json_t *out)
{
	return requester_steps_long(run, sc_requester_backup_complete, true, out);
}

static int step_backup_complete_async(struct requester_run *run, const char *arg, json_t *out)
{
	return requester_steps_long(run, sc_requester_backup_complete, false, out);
}

static int step_abort(struct requester_run *run, const char *arg, json_t *out)
{
	return sc_requester_abort_backup(run->r);
}

/* ---- snapshots and providers ---- */

/* @si as the SNAPSHOT object of protocol.md, through sc_snapshot_info_to_json(). */
static int snapshot_json(const struct sc_snapshot_info *si, json_t **ret)
{
	_cleanup_free_ char *text = sc_snapshot_info_to_json(si);

	if (!text)
		return -ENOMEM;
	*ret = json_loads(text, 0, NULL);
	return *ret ? 0 : -EBADMSG; /* the library wrote something that is not JSON */
}

static int snapshot_props(struct requester_run *run, const struct sc_id *id, json_t **ret)
{
	struct sc_snapshot_info *si = NULL;
	int r;

	r = sc_requester_get_snapshot_properties(run->r, id, &si);
	if (r < 0)
		return r;
	r = snapshot_json(si, ret);
	sc_snapshot_info_free(si);
	return r;
}

int set_steps_snapshots(struct requester_run *run, json_t *out)
{
	_cleanup_json_ json_t *list = json_array();
	json_t *s;
	int r;

	if (!list)
		return -ENOMEM;
	for (size_t i = 0; i < run->n_snapshots; i++) {
		if ((r = snapshot_props(run, &run->snapshots[i], &s)) < 0)
			return r;
		if (json_array_append_new(list, s) < 0)
			return -ENOMEM;
	}
	return json_object_set_new(out, "snapshots", TAKE_PTR(list)) < 0 ? -ENOMEM : 0;
}

static int step_props(struct requester_run *run, const char *arg, json_t *out)
{
	struct sc_id id;
	json_t *s;
	int r;

	if (sc_id_from_string(arg, &id) < 0)
		return -EINVAL;
	if ((r = snapshot_props(run, &id, &s)) < 0)
		return r;
	return json_object_set_new(out, "snapshot", s) < 0 ? -ENOMEM : 0;
}

static int step_query_snapshots(struct requester_run *run, const char *arg, json_t *out)
{
	_cleanup_json_ json_t *list = json_array();
	struct sc_snapshot_info **infos = NULL;
	json_t *s;
	size_t n = 0;
	int r;

	if (!list)
		return -ENOMEM;
	r = sc_requester_query_snapshots(run->r, &infos, &n);
	for (size_t i = 0; r >= 0 && i < n; i++)
		if ((r = snapshot_json(infos[i], &s)) >= 0 && json_array_append_new(list, s) < 0)
			r = -ENOMEM;
	sc_snapshot_info_array_free(infos, n);
	if (r < 0)
		return r;
	return json_object_set_new(out, "snapshots", TAKE_PTR(list)) < 0 ? -ENOMEM : 0;
}

/* One provider as protocol.md's PROVIDER (less holds_writes, which the API
 * does not tell), and as $PROVIDERi_ID and $PROVIDERi_NAME. */
static int provider_json(struct requester_run *run, size_t i, const struct sc_provider_info *pi,
			 json_t *list)
{
	struct sc_id id;
	char name[64];
	int r;

	sc_provider_info_get_id(pi, &id);
	snprintf(name, sizeof(name), "PROVIDER%zu_ID", i);
	if ((r = requester_vars_set_id(run, name, &id)) < 0)
		return r;
	snprintf(name, sizeof(name), "PROVIDER%zu_NAME", i);
	if ((r = requester_vars_set(run, name, sc_provider_info_get_name(pi))) < 0)
		return r;
	return json_array_append_new(
		       list, json_pack("{s:o, s:s, s:i, s:s}", "provider_id",
				       requester_steps_id_json(&id), "name",
				       sc_provider_info_get_name(pi), "type",
				       sc_provider_info_get_type(pi), "version",
				       sc_provider_info_get_version(pi))) < 0
		       ? -ENOMEM
		       : 0;
}

static int step_query_providers(struct requester_run *run, const char *arg, json_t *out)
{
	_cleanup_json_ json_t *list = json_array();
	struct sc_provider_info **infos = NULL;
	size_t n = 0;
	int r;

	if (!list)
		return -ENOMEM;
	r = sc_requester_query_providers(run->r, &infos, &n);
	for (size_t i = 0; r >= 0 && i < n; i++)
		r = provider_json(run, i, infos[i], list);
	sc_provider_info_array_free(infos, n);
	if (r < 0)
		return r;
	return json_object_set_new(out, "providers", TAKE_PTR(list)) < 0 ? -ENOMEM : 0;
}

/* delete=ID[,set][,force]: "deleted" and "non_deleted_id" whatever the rc (T52). */
static int step_delete(struct requester_run *run, const char *arg, json_t *out)
{
	_cleanup_free_ char *copy = strdup(arg);
	enum sc_object_type type = SC_OBJECT_SNAPSHOT;
	struct sc_id id, non_deleted = {};
	char *word, *save = NULL;
	size_t deleted = 0;
	bool force = false;
	int r;

	if (!copy)
		return -ENOMEM;
	word = strtok_r(copy, ",", &save);
	if (!word || sc_id_from_string(word, &id) < 0)
		return -EINVAL;
	while ((word = strtok_r(NULL, ",", &save))) {
		if (strcmp(word, "set") == 0)
			type = SC_OBJECT_SNAPSHOT_SET;
		else if (strcmp(word, "force") == 0)
			force = true;
		else
			return -EINVAL;
	}
	r = sc_requester_delete_snapshots(run->r, &id, type, force, &deleted, &non_deleted);
	if (json_object_set_new(out, "deleted", json_integer((json_int_t)deleted)) < 0 ||
	    json_object_set_new(out, "non_deleted_id", requester_steps_id_json(&non_deleted)) < 0)
		return -ENOMEM;
	return r;
}

static int step_save_document(struct requester_run *run, const char *arg, json_t *out)
{
	_cleanup_free_ char *text = NULL;
	json_t *doc;
	int r;

	r = sc_requester_save_document(run->r, &text);
	if (r < 0)
		return r;
	doc = json_loads(text, 0, NULL);
	if (!doc)
		return -EBADMSG; /* the library wrote something that is not JSON */
	return json_object_set_new(out, "document", doc) < 0 ? -ENOMEM : 0;
}

static const struct step steps[] = {
	{ "add-component", STEP_ARG_REQUIRED, true, step_add_component,
	  "=INSTANCE,CLASS,TYPE,LOGICAL_PATH,NAME",
	  "add_component; TYPE database, filegroup or N; LOGICAL_PATH may be empty" },
	{ "start-set", STEP_ARG_NONE, true, step_start_set, "",
	  "start_snapshot_set: \"set_id\"; sets $SET and $SETn (n-th of the run)" },
	{ "add-volume", STEP_ARG_REQUIRED, true, step_add_volume, "=PATH[,PROVIDER]",
	  "add_to_snapshot_set: \"snapshot_id\"; sets $SNAPn (n-th of the run, from 1).\n"
	  "      PROVIDER: an id, or a name looked up with query_providers" },
	{ "prepare", STEP_ARG_NONE, true, step_prepare, "", "prepare_for_backup and wait" },
	{ "prepare-async", STEP_ARG_NONE, true, step_prepare_async, "",
	  "start prepare_for_backup" },
	{ "do-snapshot", STEP_ARG_NONE, true, step_do_snapshot, "",
	  "do_snapshot_set and wait, then \"snapshots\": the properties of the\n"
	  "      snapshots this session's set was given" },
	{ "do-snapshot-async", STEP_ARG_NONE, true, step_do_snapshot_async, "",
	  "start do_snapshot_set" },
	{ "backup-succeeded", STEP_ARG_REQUIRED, true, step_backup_succeeded,
	  "=INSTANCE,CLASS,TYPE,LOGICAL_PATH,NAME,true|false", "set_backup_succeeded" },
	{ "backup-complete", STEP_ARG_NONE, true, step_backup_complete, "",
	  "backup_complete and wait" },
	{ "backup-complete-async", STEP_ARG_NONE, true, step_backup_complete_async, "",
	  "start backup_complete" },
	{ "abort", STEP_ARG_NONE, true, step_abort, "", "abort_backup" },
	{ "props", STEP_ARG_REQUIRED, true, step_props, "=SNAPSHOT_ID",
	  "get_snapshot_properties as \"snapshot\" (sc_snapshot_info_to_json)" },
	{ "query-snapshots", STEP_ARG_NONE, true, step_query_snapshots, "",
	  "query_snapshots as \"snapshots\"" },
	{ "query-providers", STEP_ARG_NONE, true, step_query_providers, "",
	  "query_providers as \"providers\"; sets $PROVIDERi_ID, $PROVIDERi_NAME (from 0)" },
	{ "delete", STEP_ARG_REQUIRED, true, step_delete, "=ID[,set][,force]",
	  "delete_snapshots (a snapshot, or a set with ',set'): \"deleted\" and\n"
	  "      \"non_deleted_id\", whatever the rc" },
	{ "save-document", STEP_ARG_NONE, true, step_save_document, "",
	  "save_document as \"document\"" },
};

const struct step *set_steps_find(const char *name)
{
	for (size_t i = 0; i < ELEMENTSOF(steps); i++)
		if (strcmp(steps[i].name, name) == 0)
			return &steps[i];
	return NULL;
}

void set_steps_help(void)
{
	printf("\nSteps of the snapshot set:\n");
	for (size_t i = 0; i < ELEMENTSOF(steps); i++)
		printf("  %s%s\n      %s\n", steps[i].name, steps[i].synopsis, steps[i].help);
}
