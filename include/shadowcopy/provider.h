/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * shadowcopy/provider.h - the provider interface (VSS's
 * IVssSoftwareSnapshotProvider + IVssProviderCreateSnapshotSet, vss-model 7).
 *
 * A provider makes and deletes the snapshots of the volumes it supports.  It
 * is a const table of functions with an ABI version; built-in providers are
 * listed in a static table in the service, and third-party ones will be
 * dlopen()ed against the same struct (symbol "sc_provider_entry").
 *
 * Calls for one snapshot set come in the order of vss-model 7.2 (T25):
 *   begin_prepare (once per snapshot), end_prepare, [writers frozen]
 *   pre_commit, [flush-and-hold if SC_PROVIDER_HOLDS_WRITES] commit,
 *   [release] post_commit, [writers thawed] pre_final_commit,
 *   [PostSnapshot] post_final_commit
 * and abort (only after end_prepare was called, B13) on any failure from
 * then on.  Set-level calls receive the provider's snapshots of the set.
 *
 * Threads: the service calls a provider from worker threads, never from its
 * event loop.  Calls for one set come one at a time, in order; calls for
 * different sets and deletes may run at the same time on other threads, so a
 * provider must be thread-safe.  A call may block, but commit must be short
 * (< 1 s) and do no I/O to the source volumes.  Providers never log and never
 * keep state outside struct sc_provider_snapshot.
 *
 * Errors: return 0 or -errno / -SC_E_*; the allowed domain errors are those
 * of vss-model 2.5 ("provider-allowed return set"); anything else reaches the
 * requester as SC_E_UNEXPECTED_PROVIDER_ERROR (T41).
 */
#ifndef SHADOWCOPY_PROVIDER_H
#define SHADOWCOPY_PROVIDER_H

#include <shadowcopy/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SC_PROVIDER_ABI_VERSION 1

/* VSS_PROVIDER_TYPE */
enum sc_provider_type {
	SC_PROV_UNKNOWN = 0,
	SC_PROV_SYSTEM = 1,
	SC_PROV_SOFTWARE = 2,
	SC_PROV_HARDWARE = 3,
	_SC_PROV_MAX
};

/* What the service must do around a provider's commit. */
enum sc_provider_flags {
	/* The provider copies beneath the filesystem (an image, a device): the
	 * service flushes and holds writes (FIFREEZE) around its commit.  Not
	 * set for providers whose snapshot is atomic by itself (btrfs). */
	SC_PROVIDER_HOLDS_WRITES = 1 << 0,
};

/*
 * A volume the provider accepted (is_volume_supported).  Strings are
 * malloc'd by the provider and freed by the service.
 */
struct sc_provider_volume {
	char *root;        /* the volume's root directory (resolved from the user's path) */
	char *identity;    /* stable identity, e.g. "btrfs:<fs uuid>:<subvolume id>" */
	char *filesystem;  /* the mount point of the filesystem holding the volume */
};

/*
 * One snapshot of a set, as the provider sees it.  The service fills the
 * inputs; the provider fills the outputs by the end of post_final_commit.
 */
struct sc_provider_snapshot {
	/* inputs */
	struct sc_id snapshot_id;
	struct sc_id set_id;
	uint32_t context;                  /* SC_CTX_* */
	const struct sc_provider_volume *volume;
	/* outputs (malloc'd; the service frees them) */
	char *location;                    /* where the snapshot is: a directory or image file */
	/* the provider's own per-snapshot state, released by abort or post_final_commit */
	void *state;
};

/* The callback of query: one snapshot the provider finds on disk. */
typedef int (*sc_provider_query_cb)(const struct sc_id *snapshot_id, const char *location,
				    void *userdata);

struct sc_provider {
	unsigned abi_version;              /* SC_PROVIDER_ABI_VERSION */
	const char *name;                  /* "btrfs" */
	struct sc_id id;                   /* VSS provider id */
	const char *version;
	enum sc_provider_type type;
	uint32_t flags;                    /* SC_PROVIDER_* */

	/*
	 * Does this provider support the volume that contains @path?  Returns 0
	 * and fills @ret, or -SC_E_VOLUME_NOT_SUPPORTED_BY_PROVIDER with a reason
	 * (malloc'd, may be NULL) in *ret_reason, or -ENOENT etc.
	 */
	int (*is_volume_supported)(const char *path, struct sc_provider_volume *ret,
				   char **ret_reason);

	int (*begin_prepare)(struct sc_provider_snapshot *snap);
	int (*end_prepare)(struct sc_provider_snapshot *const *snaps, size_t n);
	int (*pre_commit)(struct sc_provider_snapshot *const *snaps, size_t n);
	int (*commit)(struct sc_provider_snapshot *const *snaps, size_t n);
	int (*post_commit)(struct sc_provider_snapshot *const *snaps, size_t n);
	int (*pre_final_commit)(struct sc_provider_snapshot *const *snaps, size_t n);
	int (*post_final_commit)(struct sc_provider_snapshot *const *snaps, size_t n);
	/* Undo everything of these snapshots, whatever step they reached (B14).
	 * Must not fail for snapshots that were never made. */
	int (*abort)(struct sc_provider_snapshot *const *snaps, size_t n);

	/* Delete a committed snapshot.  -SC_E_OBJECT_NOT_FOUND if it is gone. */
	int (*delete_snapshot)(const struct sc_provider_volume *volume, const struct sc_id *snapshot_id,
			       const char *location);
	/* Call @cb for each snapshot of this provider on @volume's filesystem. */
	int (*query)(const struct sc_provider_volume *volume, sc_provider_query_cb cb,
		     void *userdata);
	/* Optional (NULL when the provider keeps no state): release @snap's
	 * state without undoing anything, when the service exits in the middle
	 * of a set (what was made is removed by recovery at its next start).
	 * Called on the event loop: it must not block. */
	void (*forget_state)(struct sc_provider_snapshot *snap);
};

#ifdef __cplusplus
}
#endif

#endif
