/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * providers.h - the built-in providers and how the service picks one.
 */
#ifndef SC_PROVIDERS_H
#define SC_PROVIDERS_H

#include <stddef.h>

#include <shadowcopy/provider.h>

/* btrfs.c */
extern const struct sc_provider provider_btrfs;

/* reflink-image.c */
extern const struct sc_provider provider_reflink_image;

/* lvm-thin.c */
extern const struct sc_provider provider_lvm_thin;

/* providers.c */
/* Free the strings of @v (not @v itself) and clear them. */
void provider_volume_done(struct sc_provider_volume *v);
/* Fill @ret with copies of the three strings; on -ENOMEM @ret holds what was
 * copied, for provider_volume_done(). */
int provider_volume_set(struct sc_provider_volume *ret, const char *root, const char *identity,
			const char *filesystem);
size_t providers_count(void);
const struct sc_provider *providers_get(size_t i);
const struct sc_provider *providers_find_by_name(const char *name);
const struct sc_provider *providers_find_by_id(const struct sc_id *id);
/* The provider for the volume holding @path (VSS's GUID_NULL choice:
 * hardware, then software, then system providers, T18), with the volume in
 * *ret_volume.  -SC_E_VOLUME_NOT_SUPPORTED when none takes it, with each
 * provider's reason in *ret_reason (malloc'd; @ret_reason may be NULL),
 * -ENOENT when @path does not exist (the caller reports OBJECT_NOT_FOUND). */
int providers_choose(const char *path, const struct sc_provider **ret_provider,
		     struct sc_provider_volume *ret_volume, char **ret_reason);

#endif
