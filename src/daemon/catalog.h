/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * catalog.h - the service's durable record of snapshot sets, snapshots and
 * backup history, in SQLite (WAL, synchronous=FULL) in the state directory.
 * Intent is written before action: rows are "creating" before a provider
 * runs and "committed" after.
 */
#ifndef SC_CATALOG_H
#define SC_CATALOG_H

#include <stdbool.h>
#include <stdint.h>

#include <shadowcopy/types.h>

struct catalog;

enum catalog_state {
	CATALOG_CREATING,   /* intent written, provider may have made something */
	CATALOG_COMMITTED,  /* the snapshot exists */
	CATALOG_MISSING,    /* persistent snapshot whose data vanished */
	_CATALOG_STATE_MAX
};

struct catalog_snapshot {
	struct sc_id id;
	struct sc_id set_id;
	uint32_t context;
	uint32_t attributes;
	enum catalog_state state;
	uint64_t created_realtime_usec;
	const char *volume_path;       /* as the requester named it */
	const char *volume_root;       /* resolved */
	const char *volume_identity;
	const char *filesystem;
	const char *provider;          /* provider name */
	const char *location;          /* where the snapshot is */
	const char *session;           /* the requester session that made it (auto-release) */
	uint32_t set_count;            /* snapshots in the set at creation (T56) */
};

/* Called for each snapshot; a negative return stops the walk and is returned. */
typedef int (*catalog_snapshot_cb)(const struct catalog_snapshot *s, void *userdata);

/* catalog.c */
int catalog_open(const char *state_dir, struct catalog **ret);
struct catalog *catalog_close(struct catalog *c);

/* Record a snapshot (insert or replace) in its given state. */
int catalog_put_snapshot(struct catalog *c, const struct catalog_snapshot *s);
/* Change the state of every snapshot of @set_id. */
int catalog_set_state(struct catalog *c, const struct sc_id *set_id, enum catalog_state state);
int catalog_delete_snapshot(struct catalog *c, const struct sc_id *id);
/* Walk snapshots, oldest first; @set_id NULL for all sets; @context
 * SC_CTX_ALL for all contexts. */
int catalog_foreach(struct catalog *c, const struct sc_id *set_id, uint32_t context,
		    catalog_snapshot_cb cb, void *userdata);
/* One snapshot by id: -SC_E_OBJECT_NOT_FOUND if absent. */
int catalog_get(struct catalog *c, const struct sc_id *id, catalog_snapshot_cb cb,
		void *userdata);

/* Persistent backup components document of a set (may be NULL). */
int catalog_put_document(struct catalog *c, const struct sc_id *set_id, const char *document);

/* Backup history: one row per event a writer handled, or per phase. */
int catalog_history_add(struct catalog *c, const char *session, const struct sc_id *set_id,
			const char *what, const char *writer, int state, int failure,
			uint64_t duration_usec);

const char *catalog_state_name(enum catalog_state s);

#endif
