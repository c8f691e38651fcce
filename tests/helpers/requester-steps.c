/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * requester-steps.c - the steps of the test requester up to the snapshot
 * set (session, writer selection, metadata, status, waiting on long
 * operations), one table entry and one small function each, calling
 * requester.h and describing the outcome as JSON fields.  The snapshot set's
 * steps are in set-steps.c; printing and sequencing are test-requester.c's.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cleanup.h"
#include "test-requester.h"

#define USEC_PER_MSEC 1000u

int requester_steps_parse_uint(const char *s, uint64_t max, uint64_t *ret)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v > max)
		return -EINVAL;
	*ret = v;
	return 0;
}

json_t *requester_steps_id_json(const struct sc_id *id)
{
	char buf[SC_ID_STRING_MAX];

	return json_string(sc_id_to_string(id, buf));
}

static const char *async_text(int status)
{
	switch (status) {
	case SC_ASYNC_PENDING:
		return "pending";
	case SC_ASYNC_FINISHED:
		return "finished";
	case SC_ASYNC_CANCELLED:
		return "cancelled";
	default:
		return NULL;
	}
}

/* ---- session ---- */

static int step_new(struct requester_run *run, const char *arg, json_t *out)
{
	requester_steps_done(run);
	return sc_requester_new(run->socket_path, &run->r);
}

static int step_free(struct requester_run *run, const char *arg, json_t *out)
{
	requester_steps_done(run);
	return 0;
}

static int step_init(struct requester_run *run, const char *arg, json_t *out)
{
	return sc_requester_initialize_for_backup(run->r, NULL);
}

static int step_init_restore(struct requester_run *run, const char *arg, json_t *out)
{
	return sc_requester_initialize_for_restore(run->r, NULL);
}

/* context=NAME (backup, app-rollback, ...) or a number, to test refusals. */
static int step_context(struct requester_run *run, const char *arg, json_t *out)
{
	uint32_t context;
	uint64_t n;

	if (sc_context_from_name(arg, &context) < 0) {
		if (requester_steps_parse_uint(arg, UINT32_MAX, &n) < 0)
			return -EINVAL;
		context = (uint32_t)n;
	}
	return sc_requester_set_context(run->r, context);
}

static int parse_backup_type(const char *word, enum sc_backup_type *ret)
{
	static const char *const names[_SC_BT_MAX] = {
		[SC_BT_UNDEFINED] = "undefined", [SC_BT_FULL] = "full",
		[SC_BT_INCREMENTAL] = "incremental", [SC_BT_DIFFERENTIAL] = "differential",
		[SC_BT_LOG] = "log", [SC_BT_COPY] = "copy", [SC_BT_OTHER] = "other",
	};
	uint64_t n;

	for (int i = 0; i < _SC_BT_MAX; i++)
		if (strcmp(names[i], word) == 0) {
			*ret = (enum sc_backup_type)i;
			return 0;
		}
	if (requester_steps_parse_uint(word, INT32_MAX, &n) < 0)
		return -EINVAL;
	*ret = (enum sc_backup_type)n;
	return 0;
}

/* backup-state=component|volume[,TYPE][,bootable][,partial]; TYPE default full. */
static int step_backup_state(struct requester_run *run, const char *arg, json_t *out)
{
	_cleanup_free_ char *copy = strdup(arg);
	enum sc_backup_type type = SC_BT_FULL;
	bool components, bootable = false, partial = false;
	char *word, *save = NULL;

	if (!copy)
		return -ENOMEM;
	word = strtok_r(copy, ",", &save);
	if (!word || (strcmp(word, "component") != 0 && strcmp(word, "volume") != 0))
		return -EINVAL;
	components = strcmp(word, "component") == 0;
	while ((word = strtok_r(NULL, ",", &save))) {
		if (strcmp(word, "bootable") == 0)
			bootable = true;
		else if (strcmp(word, "partial") == 0)
			partial = true;
		else if (parse_backup_type(word, &type) < 0)
			return -EINVAL;
	}
	return sc_requester_set_backup_state(run->r, components, bootable, type, partial);
}

/* ID[,ID...] into a malloc'd array. */
static int parse_ids(const char *arg, struct sc_id **ret, size_t *ret_n)
{
	_cleanup_free_ char *copy = strdup(arg);
	_cleanup_free_ struct sc_id *ids = NULL;
	char *word, *save = NULL;
	size_t n = 0;

	if (!copy || !(ids = calloc(strlen(arg) / 2 + 1, sizeof(*ids))))
		return -ENOMEM;
	for (word = strtok_r(copy, ",", &save); word; word = strtok_r(NULL, ",", &save))
		if (sc_id_from_string(word, &ids[n++]) < 0)
			return -EINVAL;
	*ret = TAKE_PTR(ids);
	*ret_n = n;
	return 0;
}

static int step_writer_list(struct requester_run *run, const char *arg,
			    int (*fn)(struct sc_requester *, const struct sc_id *, size_t))
{
	_cleanup_free_ struct sc_id *ids = NULL;
	size_t n;
	int r;

	if ((r = parse_ids(arg, &ids, &n)) < 0)
		return r;
	return fn(run->r, ids, n);
}

static int step_enable_class(struct requester_run *run, const char *arg, json_t *out)
{
	return step_writer_list(run, arg, sc_requester_enable_writer_classes);
}

static int step_disable_class(struct requester_run *run, const char *arg, json_t *out)
{
	return step_writer_list(run, arg, sc_requester_disable_writer_classes);
}

static int step_disable_instance(struct requester_run *run, const char *arg, json_t *out)
{
	return step_writer_list(run, arg, sc_requester_disable_writer_instances);
}

/* ---- long operations ---- */

/* Keep @a as the current operation, replacing (and freeing) the previous. */
static void async_keep(struct requester_run *run, struct sc_async *a)
{
	sc_async_free(run->async);
	run->async = a;
}

/* Add "async": the status text of @status, and return @status as an rc. */
static int async_report(int status, json_t *out)
{
	if (async_text(status))
		json_object_set_new(out, "async", json_string(async_text(status)));
	return status;
}

/* Wait for the current operation; 0 and "async" when it ended, else its error. */
static int async_finish(struct requester_run *run, json_t *out)
{
	int r = sc_async_wait(run->async, UINT64_MAX);

	return async_report(r, out) < 0 ? r : 0;
}

int requester_steps_long(struct requester_run *run,
			 int (*start)(struct sc_requester *, struct sc_async **), bool wait,
			 json_t *out)
{
	struct sc_async *a = NULL;
	int r = start(run->r, &a);

	if (r < 0)
		return r;
	async_keep(run, a);
	return wait ? async_finish(run, out) : 0;
}

static int step_gather_async(struct requester_run *run, const char *arg, json_t *out)
{
	return requester_steps_long(run, sc_requester_gather_writer_metadata, false, out);
}

static int step_status_async(struct requester_run *run, const char *arg, json_t *out)
{
	return requester_steps_long(run, sc_requester_gather_writer_status, false, out);
}

static int step_gather(struct requester_run *run, const char *arg, json_t *out)
{
	return requester_steps_long(run, sc_requester_gather_writer_metadata, true, out);
}

/* wait[=MS]: the raw sc_async_wait() result (2 finished, 1 pending, ...). */
static int step_wait(struct requester_run *run, const char *arg, json_t *out)
{
	uint64_t ms = UINT64_MAX;

	if (!run->async)
		return -EINVAL;
	if (arg && requester_steps_parse_uint(arg, UINT64_MAX / USEC_PER_MSEC, &ms) < 0)
		return -EINVAL;
	return async_report(sc_async_wait(run->async, arg ? ms * USEC_PER_MSEC : UINT64_MAX),
			    out);
}

static int step_query(struct requester_run *run, const char *arg, json_t *out)
{
	if (!run->async)
		return -EINVAL;
	return async_report(sc_async_query_status(run->async), out);
}

/* cancel: 0 cancelled now, 3 already cancelled, 2 already finished, or < 0. */
static int step_cancel(struct requester_run *run, const char *arg, json_t *out)
{
	int r;

	if (!run->async)
		return -EINVAL;
	r = sc_async_cancel(run->async);
	async_report(r == 0 ? SC_ASYNC_CANCELLED : r, out);
	return r;
}

/* ---- results ---- */

static int step_metadata_count(struct requester_run *run, const char *arg, json_t *out)
{
	size_t n;
	int r = sc_requester_get_writer_metadata_count(run->r, &n);

	if (r >= 0)
		json_object_set_new(out, "count", json_integer((json_int_t)n));
	return r;
}

/* The @index'th writer's document, by to_json or (@walk) by the accessors. */
static int metadata_one(struct requester_run *run, size_t index, bool walk, json_t **ret)
{
	const struct sc_writer_info *wi;
	_cleanup_free_ char *text = NULL;
	json_error_t error;
	int r;

	if ((r = sc_requester_get_writer_metadata(run->r, index, &wi)) < 0)
		return r;
	if (walk)
		return metadata_walk(wi, ret);
	text = sc_writer_info_to_json(wi);
	if (!text)
		return -ENOMEM;
	*ret = json_loads(text, 0, &error);
	return *ret ? 0 : -EBADMSG; /* the library wrote something that is not JSON */
}

/* $WRITERi_INSTANCE, $WRITERi_CLASS and $WRITERi_NAME of the @i'th writer. */
static int metadata_vars(struct requester_run *run, size_t i)
{
	const struct sc_writer_info *wi;
	struct sc_id id;
	char name[64];
	int r;

	if ((r = sc_requester_get_writer_metadata(run->r, i, &wi)) < 0)
		return r;
	sc_writer_info_get_instance_id(wi, &id);
	snprintf(name, sizeof(name), "WRITER%zu_INSTANCE", i);
	if ((r = requester_vars_set_id(run, name, &id)) < 0)
		return r;
	sc_writer_info_get_class_id(wi, &id);
	snprintf(name, sizeof(name), "WRITER%zu_CLASS", i);
	if ((r = requester_vars_set_id(run, name, &id)) < 0)
		return r;
	snprintf(name, sizeof(name), "WRITER%zu_NAME", i);
	return requester_vars_set(run, name, sc_writer_info_get_name(wi));
}

static int metadata_all(struct requester_run *run, bool walk, json_t *out)
{
	_cleanup_json_ json_t *writers = json_array();
	json_t *doc;
	size_t n;
	int r;

	if (!writers)
		return -ENOMEM;
	if ((r = sc_requester_get_writer_metadata_count(run->r, &n)) < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		if ((r = metadata_one(run, i, walk, &doc)) < 0)
			return r;
		if ((r = metadata_vars(run, i)) < 0) {
			json_decref(doc);
			return r;
		}
		if (json_array_append_new(writers, doc) < 0)
			return -ENOMEM;
	}
	return json_object_set_new(out, "writers", TAKE_PTR(writers)) < 0 ? -ENOMEM : 0;
}

static int step_metadata(struct requester_run *run, const char *arg, json_t *out)
{
	return metadata_all(run, false, out);
}

static int step_metadata_api(struct requester_run *run, const char *arg, json_t *out)
{
	return metadata_all(run, true, out);
}

/* metadata-get=INDEX: one writer as "writer" (T08: out of range). */
static int step_metadata_get(struct requester_run *run, const char *arg, json_t *out)
{
	json_t *doc;
	uint64_t index;
	int r;

	if (requester_steps_parse_uint(arg, SIZE_MAX, &index) < 0)
		return -EINVAL;
	if ((r = metadata_one(run, index, false, &doc)) < 0)
		return r;
	return json_object_set_new(out, "writer", doc) < 0 ? -ENOMEM : 0;
}

static int status_one(struct requester_run *run, size_t index, json_t **ret)
{
	struct sc_id instance_id, class_id;
	enum sc_writer_state state;
	const char *name;
	int failure, r;

	r = sc_requester_get_writer_status(run->r, index, &instance_id, &class_id, &name, &state,
					   &failure);
	if (r < 0)
		return r;
	*ret = json_pack("{s:o, s:o, s:s, s:i, s:s}", "instance_id",
			 requester_steps_id_json(&instance_id), "class_id",
			 requester_steps_id_json(&class_id),
			 "name", name, "state", (int)state, "failure", sc_error_name(failure));
	return *ret ? 0 : -ENOMEM;
}

/* status-list: the result of the last gather_writer_status as "status". */
static int step_status_list(struct requester_run *run, const char *arg, json_t *out)
{
	_cleanup_json_ json_t *list = json_array();
	json_t *entry;
	size_t n;
	int r;

	if (!list)
		return -ENOMEM;
	if ((r = sc_requester_get_writer_status_count(run->r, &n)) < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		if ((r = status_one(run, i, &entry)) < 0)
			return r;
		if (json_array_append_new(list, entry) < 0)
			return -ENOMEM;
	}
	return json_object_set_new(out, "status", TAKE_PTR(list)) < 0 ? -ENOMEM : 0;
}

static int step_status(struct requester_run *run, const char *arg, json_t *out)
{
	int r = requester_steps_long(run, sc_requester_gather_writer_status, true, out);

	return r < 0 ? r : step_status_list(run, arg, out);
}

/* ---- pacing ---- */

static int step_sleep(struct requester_run *run, const char *arg, json_t *out)
{
	struct timespec ts;
	uint64_t ms;

	if (requester_steps_parse_uint(arg, UINT32_MAX, &ms) < 0)
		return -EINVAL;
	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000;
	while (nanosleep(&ts, &ts) < 0)
		if (errno != EINTR)
			return -errno;
	return 0;
}

static const struct step steps[] = {
	{ "new", STEP_ARG_NONE, false, step_new, "",
	  "connect a new requester (frees the old one)" },
	{ "free", STEP_ARG_NONE, false, step_free, "", "free the requester: the session ends" },
	{ "init", STEP_ARG_NONE, true, step_init, "", "initialize_for_backup" },
	{ "init-restore", STEP_ARG_NONE, true, step_init_restore, "", "initialize_for_restore" },
	{ "context", STEP_ARG_REQUIRED, true, step_context, "=NAME|N", "set_context" },
	{ "backup-state", STEP_ARG_REQUIRED, true, step_backup_state,
	  "=component|volume[,TYPE][,bootable][,partial]",
	  "set_backup_state (TYPE full, incremental, ..., or N; default full)" },
	{ "enable-class", STEP_ARG_REQUIRED, true, step_enable_class, "=ID[,ID...]",
	  "enable_writer_classes" },
	{ "disable-class", STEP_ARG_REQUIRED, true, step_disable_class, "=ID[,ID...]",
	  "disable_writer_classes" },
	{ "disable-instance", STEP_ARG_REQUIRED, true, step_disable_instance, "=ID[,ID...]",
	  "disable_writer_instances" },
	{ "gather", STEP_ARG_NONE, true, step_gather, "", "gather_writer_metadata and wait" },
	{ "gather-async", STEP_ARG_NONE, true, step_gather_async, "",
	  "start gather_writer_metadata" },
	{ "status", STEP_ARG_NONE, true, step_status, "",
	  "gather_writer_status, wait, then status-list" },
	{ "status-async", STEP_ARG_NONE, true, step_status_async, "",
	  "start gather_writer_status" },
	{ "status-list", STEP_ARG_NONE, true, step_status_list, "",
	  "the last gather_writer_status as \"status\"" },
	{ "wait", STEP_ARG_OPTIONAL, true, step_wait, "[=MS]",
	  "sc_async_wait on the latest long operation (rc 1 pending, 2 finished,\n"
	  "      3 cancelled)" },
	{ "query", STEP_ARG_NONE, true, step_query, "",
	  "sc_async_query_status of the latest long operation" },
	{ "cancel", STEP_ARG_NONE, true, step_cancel, "",
	  "sc_async_cancel of the latest long operation (rc 0 cancelled now,\n"
	  "      2 finished, 3 cancelled before)" },
	{ "metadata", STEP_ARG_NONE, true, step_metadata, "",
	  "every writer's sc_writer_info_to_json() as \"writers\"; sets $WRITERi_INSTANCE,\n"
	  "      $WRITERi_CLASS, $WRITERi_NAME (i from 0, in metadata order)" },
	{ "metadata-api", STEP_ARG_NONE, true, step_metadata_api, "",
	  "the same, rebuilt from the accessor functions (and the same variables)" },
	{ "metadata-count", STEP_ARG_NONE, true, step_metadata_count, "",
	  "get_writer_metadata_count as \"count\"" },
	{ "metadata-get", STEP_ARG_REQUIRED, true, step_metadata_get, "=INDEX",
	  "one writer's metadata as \"writer\"" },
	{ "sleep", STEP_ARG_REQUIRED, false, step_sleep, "=MS", "sleep" },
};

const struct step *requester_steps_find(const char *name)
{
	for (size_t i = 0; i < ELEMENTSOF(steps); i++)
		if (strcmp(steps[i].name, name) == 0)
			return &steps[i];
	return set_steps_find(name);
}

void requester_steps_help(void)
{
	printf("Steps of the session, the writers and long operations:\n");
	for (size_t i = 0; i < ELEMENTSOF(steps); i++)
		printf("  %s%s\n      %s\n", steps[i].name, steps[i].synopsis, steps[i].help);
	set_steps_help();
}

void requester_steps_done(struct requester_run *run)
{
	run->async = sc_async_free(run->async);
	run->r = sc_requester_free(run->r);
	free(run->snapshots);
	run->snapshots = NULL;
	run->n_snapshots = 0;
}
