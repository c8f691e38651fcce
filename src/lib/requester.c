/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * requester.c - struct sc_requester (VSS's IVssBackupComponents): the session
 * from new to free, its settings and its gathers.  Every call that changes
 * the session goes to the service, which enforces the order of vss-model 2.3;
 * the results of gathers are kept here and read locally.  The backup sequence
 * is requester-backup.c's, waiting for long operations async.c's.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "client.h"
#include "json-util.h"
#include "requester-internal.h"

static void metadata_clear(struct sc_requester *r)
{
	for (size_t i = 0; i < r->n_writers; i++)
		writer_info_free(r->writers[i]);
	free(r->writers);
	r->writers = NULL;
	r->n_writers = 0;
}

static void status_clear(struct sc_requester *r)
{
	free(r->status);
	json_decref(r->status_doc);
	r->status = NULL;
	r->status_doc = NULL;
	r->n_status = 0;
}

SC_EXPORT struct sc_requester *sc_requester_free(struct sc_requester *r)
{
	if (!r)
		return NULL;
	/* A8/B18: a prepared backup that nothing ended is aborted, and we wait
	 * for the service to say so.  If that fails there is nothing more to
	 * do: the service aborts it too when the connection closes. */
	if (requester_backup_must_abort(r))
		(void)sc_requester_abort_backup(r);
	client_free(r->client); /* closing the connection ends the session */
	metadata_clear(r);
	status_clear(r);
	free(r);
	return NULL;
}

SC_EXPORT const char *sc_requester_get_last_error_message(struct sc_requester *r)
{
	return r ? client_last_error_message(r->client) : NULL;
}

SC_EXPORT int sc_requester_new(const char *socket_path, struct sc_requester **ret)
{
	struct sc_requester *r;
	int k;

	if (!ret)
		return -EINVAL;
	if (!socket_path)
		socket_path = secure_getenv("SHADOWCOPY_SOCKET");
	if (!socket_path || socket_path[0] == '\0')
		socket_path = SC_DEFAULT_SOCKET;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	k = client_connect(socket_path, "requester", program_invocation_short_name,
			   REQUESTER_CONNECT_USEC, &r->client);
	if (k < 0) {
		sc_requester_free(r);
		return k;
	}
	*ret = r;
	return 0;
}

int requester_call(struct sc_requester *r, const char *method, json_t *params,
		   json_t **ret_result)
{
	_cleanup_json_ json_t *result = NULL;
	int k;

	if (!params)
		return -ENOMEM;
	k = client_call(r->client, method, params, REQUESTER_CALL_USEC, &result, NULL);
	if (k < 0)
		return k;
	if (ret_result)
		*ret_result = TAKE_PTR(result);
	return 0;
}

int requester_pack(json_t **ret, const char *fmt, ...)
{
	json_error_t error;
	json_t *v;
	va_list ap;

	va_start(ap, fmt);
	v = json_vpack_ex(&error, 0, fmt, ap);
	va_end(ap);
	if (!v)
		return json_error_code(&error) == json_error_out_of_memory ? -ENOMEM : -EINVAL;
	*ret = v;
	return 0;
}

int requester_failure(const char *name)
{
	int error = sc_error_from_name(name);

	if (error == 0 && strcmp(name, "OK") != 0)
		return -SC_E_UNEXPECTED; /* a name from a later version */
	return error;
}

SC_EXPORT int sc_requester_initialize_for_backup(struct sc_requester *r, const char *document)
{
	int k;

	if (!r || document)
		return -EINVAL; /* importing a backup components document comes later */
	k = requester_call(r, "initialize_for_backup", json_pack("{s:n}", "document"), NULL);
	if (k < 0)
		return k;
	r->initialized = true;
	return 0;
}

SC_EXPORT int sc_requester_initialize_for_restore(struct sc_requester *r, const char *document)
{
	int k;

	if (!r || document)
		return -EINVAL; /* loading a saved document comes with restore */
	k = requester_call(r, "initialize_for_restore", json_pack("{s:n}", "document"), NULL);
	if (k < 0)
		return k;
	r->initialized = true;
	return 0;
}

SC_EXPORT int sc_requester_set_context(struct sc_requester *r, uint32_t context)
{
	const char *name = sc_context_name(context);

	if (!r || !name)
		return -EINVAL;
	return requester_call(r, "set_context", json_pack("{s:s}", "context", name), NULL);
}

SC_EXPORT int sc_requester_set_backup_state(struct sc_requester *r, bool select_components,
					    bool bootable_system_state,
					    enum sc_backup_type type, bool partial_file_support)
{
	if (!r || type <= SC_BT_UNDEFINED || type >= _SC_BT_MAX)
		return -EINVAL;
	return requester_call(r, "set_backup_state",
			      json_pack("{s:b, s:b, s:i, s:b}", "select_components",
					select_components, "bootable_system_state",
					bootable_system_state, "backup_type", (int)type,
					"partial_file_support", partial_file_support),
			      NULL);
}

static int requester_call_ids(struct sc_requester *r, const char *method, const char *key,
			      const struct sc_id *ids, size_t n_ids)
{
	json_t *a;

	if (!r || (!ids && n_ids > 0))
		return -EINVAL;
	a = json_array();
	for (size_t i = 0; a && i < n_ids; i++)
		if (json_array_append_new(a, json_id(&ids[i])) < 0)
			a = (json_decref(a), NULL);
	return requester_call(r, method, a ? json_pack("{s:o}", key, a) : NULL, NULL);
}

SC_EXPORT int sc_requester_enable_writer_classes(struct sc_requester *r, const struct sc_id *ids,
						 size_t n_ids)
{
	return requester_call_ids(r, "enable_writer_classes", "class_ids", ids, n_ids);
}

SC_EXPORT int sc_requester_disable_writer_classes(struct sc_requester *r, const struct sc_id *ids,
						  size_t n_ids)
{
	return requester_call_ids(r, "disable_writer_classes", "class_ids", ids, n_ids);
}

SC_EXPORT int sc_requester_disable_writer_instances(struct sc_requester *r,
						    const struct sc_id *ids, size_t n_ids)
{
	return requester_call_ids(r, "disable_writer_instances", "instance_ids", ids, n_ids);
}

SC_EXPORT int sc_requester_gather_writer_metadata(struct sc_requester *r, struct sc_async **ret)
{
	int k;

	if (!r || !ret)
		return -EINVAL;
	/* The service says the same; knowing it here makes the call itself
	 * fail, as VSS's does, instead of the async. */
	if (!r->initialized || r->gather_started)
		return -SC_E_BAD_STATE;
	k = async_start(r, ASYNC_GATHER_METADATA, ret);
	if (k < 0)
		return k;
	r->gather_started = true;
	return 0;
}

static int take_metadata(struct sc_requester *r, json_t *result)
{
	struct sc_writer_info **writers;
	json_t *a = NULL, *doc;
	size_t i;
	int k;

	k = json_get_array(result, "writers", true, JSON_OBJECT, &a);
	if (k < 0)
		return k;
	writers = calloc(json_array_size(a) + 1, sizeof(*writers));
	if (!writers)
		return -ENOMEM;
	metadata_clear(r);
	r->writers = writers;
	json_array_foreach(a, i, doc) {
		k = writer_info_new(doc, &r->writers[i]);
		if (k < 0) {
			metadata_clear(r);
			return k;
		}
		r->n_writers++;
	}
	r->metadata_ready = true;
	return 0;
}

int requester_metadata_done(struct sc_requester *r, int error, json_t *result)
{
	return error < 0 ? 0 : take_metadata(r, result);
}

SC_EXPORT int sc_requester_get_writer_metadata_count(struct sc_requester *r, size_t *ret)
{
	if (!r || !ret)
		return -EINVAL;
	if (!r->metadata_ready)
		return -SC_E_BAD_STATE;
	*ret = r->n_writers;
	return 0;
}

SC_EXPORT int sc_requester_get_writer_metadata(struct sc_requester *r, size_t index,
					       const struct sc_writer_info **ret)
{
	if (!r || !ret)
		return -EINVAL;
	if (!r->metadata_ready)
		return -SC_E_BAD_STATE;
	if (index >= r->n_writers)
		return -SC_E_OBJECT_NOT_FOUND; /* T08 */
	*ret = r->writers[index];
	return 0;
}

SC_EXPORT int sc_requester_gather_writer_status(struct sc_requester *r, struct sc_async **ret)
{
	if (!r || !ret)
		return -EINVAL;
	if (!r->metadata_ready)
		return -SC_E_BAD_STATE;
	return async_start(r, ASYNC_GATHER_STATUS, ret);
}

static int parse_status(json_t *s, struct writer_status *ret)
{
	struct writer_status ws = { 0 };
	const char *failure = NULL;
	int64_t state = 0;
	int k;

	if ((k = json_get_id(s, "instance_id", true, &ws.instance_id)) < 0 ||
	    (k = json_get_id(s, "class_id", true, &ws.class_id)) < 0 ||
	    (k = json_get_string(s, "name", true, &ws.name)) < 0 ||
	    (k = json_get_int(s, "state", true, 0, _SC_WS_MAX - 1, &state)) < 0 ||
	    (k = json_get_string(s, "failure", true, &failure)) < 0)
		return k;
	ws.state = (enum sc_writer_state)state;
	ws.failure = requester_failure(failure);
	*ret = ws;
	return 0;
}

static int take_status(struct sc_requester *r, json_t *result)
{
	_cleanup_free_ struct writer_status *status = NULL;
	json_t *a = NULL, *s;
	size_t i;
	int k;

	k = json_get_array(result, "writers", true, JSON_OBJECT, &a);
	if (k < 0)
		return k;
	status = calloc(json_array_size(a) + 1, sizeof(*status));
	if (!status)
		return -ENOMEM;
	json_array_foreach(a, i, s) {
		k = parse_status(s, &status[i]);
		if (k < 0)
			return k;
	}
	status_clear(r);
	r->status = TAKE_PTR(status);
	r->n_status = json_array_size(a);
	r->status_doc = json_incref(result);
	r->status_ready = true;
	return 0;
}

int requester_status_done(struct sc_requester *r, int error, json_t *result)
{
	return error < 0 ? 0 : take_status(r, result);
}

SC_EXPORT int sc_requester_get_writer_status_count(struct sc_requester *r, size_t *ret)
{
	if (!r || !ret)
		return -EINVAL;
	if (!r->status_ready)
		return -SC_E_BAD_STATE;
	*ret = r->n_status;
	return 0;
}

SC_EXPORT int sc_requester_get_writer_status(struct sc_requester *r, size_t index,
					     struct sc_id *ret_instance_id,
					     struct sc_id *ret_class_id, const char **ret_name,
					     enum sc_writer_state *ret_state, int *ret_failure)
{
	const struct writer_status *s;

	if (!r)
		return -EINVAL;
	if (!r->status_ready)
		return -SC_E_BAD_STATE;
	if (index >= r->n_status)
		return -SC_E_OBJECT_NOT_FOUND;
	s = &r->status[index];
	if (ret_instance_id)
		*ret_instance_id = s->instance_id;
	if (ret_class_id)
		*ret_class_id = s->class_id;
	if (ret_name)
		*ret_name = s->name;
	if (ret_state)
		*ret_state = s->state;
	if (ret_failure)
		*ret_failure = s->failure;
	return 0;
}
