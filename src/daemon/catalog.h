/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * catalog.h - the service's durable record of snapshot sets, snapshots and
 * backup history, in SQLite (WAL, synchronous=FULL) in the state directory.
 * Intent is written before action: rows are "creating" before a provider
 * runs and "committed" after.  Used from the event loop only.
 */
#ifndef SC_CATALOG_H
#define SC_CATALOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <shadowcopy/types.h>

struct catalog;

enum catalog_state {
	CATALOG_CREATING,   /* intent written, provider may have made something */
	CATALOG_COMMITTED,  /* the snapshot exists */
	CATALOG_MISSING,    /* persistent snapshot whose data vanished */
	_CATALOG_STATE_MAX
};

/* One snapshot row.  Strings are borrowed: from the caller when writing,
 * from the statement (valid during the callback) when reading. */
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
	const char *filesystem;        /* mount point of the volume's filesystem */
	const char *provider;          /* provider name */
	const char *location;          /* where the snapshot is; NULL before begin_prepare */
	struct sc_id session;          /* the requester session that made it */
	uint32_t set_count;            /* snapshots in the set at creation (T56) */
};

/* One line of a backup's history: an event a writer handled, a provider
 * call, or a phase of the sequence. */
struct catalog_history {
	uint64_t realtime_usec;
	const char *kind;              /* "event", "provider", "phase" */
	const char *what;              /* event, provider step or phase name */
	const char *writer;            /* writer instance id, or provider name; may be NULL */
	const char *writer_name;       /* may be NULL */
	int state;                     /* writer state after it, or -1 */
	int failure;                   /* 0 or the error */
	uint64_t duration_usec;
};

/* Called for each snapshot; a negative return stops the walk and is returned. */
typedef int (*catalog_snapshot_cb)(const struct catalog_snapshot *s, void *userdata);

/* catalog.c */
int catalog_open(const char *state_dir, struct catalog **ret);
struct catalog *catalog_close(struct catalog *c);

/* Write @n rows (insert or replace) in one transaction: all or none. */
int catalog_put_snapshots(struct catalog *c, const struct catalog_snapshot *rows, size_t n);
/* The state of one snapshot. */
int catalog_set_state(struct catalog *c, const struct sc_id *id, enum catalog_state state);
/* -SC_E_OBJECT_NOT_FOUND when there is no such row.  The set's document
 * goes with its last snapshot. */
int catalog_delete_snapshot(struct catalog *c, const struct sc_id *id);
/* Walk snapshots, oldest first; @set_id NULL for all sets; @context
 * SC_CTX_ALL for all contexts. */
int catalog_foreach(struct catalog *c, const struct sc_id *set_id, uint32_t context,
		    catalog_snapshot_cb cb, void *userdata);
/* One snapshot by id: -SC_E_OBJECT_NOT_FOUND if absent. */
int catalog_get(struct catalog *c, const struct sc_id *id, catalog_snapshot_cb cb,
		void *userdata);

/* The backup components document of a persistent set (JSON text). */
int catalog_put_document(struct catalog *c, const struct sc_id *set_id, const char *document);

/* Append @n history lines of @session (and @set_id, may be NULL) in one
 * transaction. */
int catalog_history_add(struct catalog *c, const struct sc_id *session, const struct sc_id *set_id,
			const struct catalog_history *lines, size_t n);

const char *catalog_state_name(enum catalog_state s);

#endif
