/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * providers.c - the static table of built-in providers and the automatic
 * choice of a provider for a volume (vss-model 7.3).  The order of the table
 * is the order of preference among providers of one type: btrfs first, so
 * that a btrfs subvolume gets an atomic btrfs snapshot even when its btrfs
 * lives in a loop image that reflink-image could copy as a whole, and a
 * btrfs or a loop image on a thin LV the same way before lvm-thin.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "providers.h"

static const struct sc_provider *const builtin[] = {
	&provider_btrfs,
	&provider_reflink_image,
	&provider_lvm_thin,
};

void provider_volume_done(struct sc_provider_volume *v)
{
	free(v->root);
	free(v->identity);
	free(v->filesystem);
	v->root = v->identity = v->filesystem = NULL;
}

int provider_volume_set(struct sc_provider_volume *ret, const char *root, const char *identity,
			const char *filesystem)
{
	ret->root = strdup(root);
	ret->identity = strdup(identity);
	ret->filesystem = strdup(filesystem);
	return ret->root && ret->identity && ret->filesystem ? 0 : -ENOMEM;
}

size_t providers_count(void)
{
	return ELEMENTSOF(builtin);
}

const struct sc_provider *providers_get(size_t i)
{
	return i < ELEMENTSOF(builtin) ? builtin[i] : NULL;
}

const struct sc_provider *providers_find_by_name(const char *name)
{
	for (size_t i = 0; i < ELEMENTSOF(builtin); i++)
		if (strcmp(builtin[i]->name, name) == 0)
			return builtin[i];
	return NULL;
}

const struct sc_provider *providers_find_by_id(const struct sc_id *id)
{
	for (size_t i = 0; i < ELEMENTSOF(builtin); i++)
		if (sc_id_equal(&builtin[i]->id, id))
			return builtin[i];
	return NULL;
}

/* "NAME: REASON" appended to the reasons so far (*all, malloc'd). */
static void add_reason(char **all, const char *name, const char *reason)
{
	char *s;

	if (asprintf(&s, "%s%s%s: %s", *all ? *all : "", *all ? "; " : "", name,
		     reason ? reason : "refused") < 0)
		return; /* the reason is a courtesy */
	free(*all);
	*all = s;
}

int providers_choose(const char *path, const struct sc_provider **ret_provider,
		     struct sc_provider_volume *ret_volume, char **ret_reason)
{
	static const enum sc_provider_type order[] = { SC_PROV_HARDWARE, SC_PROV_SOFTWARE,
						       SC_PROV_SYSTEM };
	_cleanup_free_ char *all = NULL;
	int r;

	for (size_t t = 0; t < ELEMENTSOF(order); t++)
		for (size_t i = 0; i < ELEMENTSOF(builtin); i++) {
			_cleanup_free_ char *reason = NULL;

			if (builtin[i]->type != order[t])
				continue;
			r = builtin[i]->is_volume_supported(path, ret_volume, &reason);
			if (r == -SC_E_VOLUME_NOT_SUPPORTED_BY_PROVIDER) {
				add_reason(&all, builtin[i]->name, reason);
				continue;
			}
			if (r < 0)
				return r;
			*ret_provider = builtin[i];
			return 0;
		}
	if (ret_reason)
		*ret_reason = TAKE_PTR(all);
	return -SC_E_VOLUME_NOT_SUPPORTED;
}
