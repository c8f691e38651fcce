/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * output-json.c - the machine view of the shadowcopy tool: the service's own
 * data (docs/protocol.md) as one JSON document with sorted keys, so scripts
 * get the names the protocol defines.  No text, no derived fields.
 */
#include <errno.h>
#include <stdio.h>

#include "cleanup.h"
#include "output.h"

/* Print @obj on stdout: an object the command received or built whole. */
static int print_object(json_t *obj)
{
	if (json_dumpf(obj, stdout, JSON_INDENT(2) | JSON_SORT_KEYS) < 0)
		return -EIO;
	return putchar('\n') == EOF ? -EIO : 0;
}

/* Print {"@key": @value} on stdout. */
static int print_document(const char *key, json_t *value)
{
	_cleanup_json_ json_t *root = json_pack("{s:O}", key, value);

	if (!root)
		return -ENOMEM;
	return print_object(root);
}

static int output_json_writers(json_t *writers, bool metadata)
{
	return print_document("writers", writers);
}

static int output_json_snapshots(json_t *snapshots)
{
	return print_document("snapshots", snapshots);
}

static int output_json_providers(json_t *providers)
{
	return print_document("providers", providers);
}

const struct output output_json = {
	.writers = output_json_writers,
	.snapshots = output_json_snapshots,
	.providers = output_json_providers,
	.deleted = print_object,
	.created = print_object,
};
