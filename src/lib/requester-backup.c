/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * requester-backup.c - the backup sequence of struct sc_requester (VSS's
 * AddComponent to BackupComplete, AbortBackup, SaveAsXML): each call checks
 * its arguments and goes to the service, which enforces the order.  Of the
 * answers the library keeps only what sc_requester_free() needs to abort a
 * prepared backup (vss-model A8, A10).
 */
#include <errno.h>
#include <stdlib.h>

#include "cleanup.h"
#include "json-util.h"
#include "requester-internal.h"

/* The params that name one component (add_component, set_backup_succeeded). */
static int component_params(const struct sc_id *instance_id, const struct sc_id *class_id,
			    enum sc_component_type type, const char *logical_path,
			    const char *name, json_t **ret)
{
	char instance[SC_ID_STRING_MAX], class[SC_ID_STRING_MAX];

	if (!instance_id || !class_id || !name || name[0] == '\0')
		return -EINVAL; /* a component always has a name (metadata.c) */
	if (type != SC_CT_DATABASE && type != SC_CT_FILEGROUP)
		return -EINVAL;
	return requester_pack(ret, "{s:s, s:s, s:i, s:s, s:s}", "instance_id",
			      sc_id_to_string(instance_id, instance), "class_id",
			      sc_id_to_string(class_id, class), "type", (int)type, "logical_path",
			      logical_path ? logical_path : "", "name", name);
}

SC_EXPORT int sc_requester_add_component(struct sc_requester *r, const struct sc_id *instance_id,
					 const struct sc_id *class_id,
					 enum sc_component_type type, const char *logical_path,
					 const char *name)
{
	json_t *params;
	int k;

	if (!r)
		return -EINVAL;
	k = component_params(instance_id, class_id, type, logical_path, name, &params);
	if (k < 0)
		return k;
	return requester_call(r, "add_component", params, NULL);
}

SC_EXPORT int sc_requester_start_snapshot_set(struct sc_requester *r, struct sc_id *ret)
{
	_cleanup_json_ json_t *result = NULL;
	struct sc_id id;
	int k;

	if (!r || !ret)
		return -EINVAL;
	k = requester_call(r, "start_snapshot_set", json_object(), &result);
	if (k < 0)
		return k;
	k = json_get_id(result, "snapshot_set_id", true, &id);
	if (k < 0)
		return k;
	*ret = id;
	return 0;
}

SC_EXPORT int sc_requester_add_to_snapshot_set(struct sc_requester *r, const char *path,
					       const struct sc_id *provider_id, struct sc_id *ret)
{
	_cleanup_json_ json_t *result = NULL;
	json_t *params;
	struct sc_id id;
	int k;

	/* A relative path would be resolved in the service's directory, not
	 * in the caller's. */
	if (!r || !path || path[0] != '/' || !ret)
		return -EINVAL;
	k = requester_pack(&params, "{s:s}", "volume", path);
	if (k < 0)
		return k;
	if (provider_id && !sc_id_is_null(provider_id) &&
	    json_set(params, "provider_id", json_id(provider_id)) < 0) {
		json_decref(params);
		return -ENOMEM;
	}
	k = requester_call(r, "add_to_snapshot_set", params, &result);
	if (k < 0)
		return k;
	k = json_get_id(result, "snapshot_id", true, &id);
	if (k < 0)
		return k;
	*ret = id;
	return 0;
}

SC_EXPORT int sc_requester_prepare_for_backup(struct sc_requester *r, struct sc_async **ret)
{
	int k;

	if (!r || !ret)
		return -EINVAL;
	k = async_start(r, ASYNC_PREPARE_FOR_BACKUP, ret);
	if (k < 0)
		return k;
	r->prepares_unknown++; /* until its reply comes, if ever */
	return 0;
}

int requester_backup_prepare_done(struct sc_requester *r, int error, json_t *result)
{
	/* Only a PrepareForBackup that the service failed lets free skip
	 * abort_backup (A10): one that was cancelled, or whose reply a broken
	 * connection lost, may have reached writers. */
	if (error == 0 || (error <= -SC_ERROR_BASE && error != -SC_E_CANCELLED))
		r->prepares_unknown--;
	if (error == 0)
		r->prepared = true;
	return 0;
}

SC_EXPORT int sc_requester_do_snapshot_set(struct sc_requester *r, struct sc_async **ret)
{
	if (!r || !ret)
		return -EINVAL;
	return async_start(r, ASYNC_DO_SNAPSHOT_SET, ret);
}

SC_EXPORT int sc_requester_backup_complete(struct sc_requester *r, struct sc_async **ret)
{
	if (!r || !ret)
		return -EINVAL;
	return async_start(r, ASYNC_BACKUP_COMPLETE, ret);
}

int requester_backup_complete_done(struct sc_requester *r, int error, json_t *result)
{
	if (error == 0)
		r->backup_ended = true;
	return 0;
}

bool requester_backup_must_abort(const struct sc_requester *r)
{
	return (r->prepared || r->prepares_unknown > 0) && !r->backup_ended;
}

SC_EXPORT int sc_requester_set_backup_succeeded(struct sc_requester *r,
						const struct sc_id *instance_id,
						const struct sc_id *class_id,
						enum sc_component_type type,
						const char *logical_path, const char *name,
						bool succeeded)
{
	json_t *params;
	int k;

	if (!r)
		return -EINVAL;
	k = component_params(instance_id, class_id, type, logical_path, name, &params);
	if (k < 0)
		return k;
	if (json_set(params, "succeeded", json_boolean(succeeded)) < 0) {
		json_decref(params);
		return -ENOMEM;
	}
	return requester_call(r, "set_backup_succeeded", params, NULL);
}

SC_EXPORT int sc_requester_abort_backup(struct sc_requester *r)
{
	int k;

	if (!r)
		return -EINVAL;
	k = requester_call(r, "abort_backup", json_object(), NULL);
	if (k < 0)
		return k;
	r->backup_ended = true;
	return 0;
}

SC_EXPORT int sc_requester_save_document(struct sc_requester *r, char **ret)
{
	_cleanup_json_ json_t *result = NULL;
	json_t *document;
	char *text;
	int k;

	if (!r || !ret)
		return -EINVAL;
	k = requester_call(r, "save_document", json_object(), &result);
	if (k < 0)
		return k;
	document = json_object_get(result, "document");
	if (!json_is_object(document))
		return -SC_E_INVALID_MESSAGE;
	text = json_dumps(document, JSON_COMPACT);
	if (!text)
		return -ENOMEM;
	*ret = text;
	return 0;
}
