/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * catalog.c - snapshot sets, snapshots and backup history in SQLite.  Each
 * call is one statement or one transaction (WAL, synchronous=FULL; only the
 * history NORMAL), so a crash leaves the last intent on disk.  Does not talk
 * to providers: reconciling the catalog with the disks is recovery.c's.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>

#include "catalog.h"
#include "cleanup.h"

struct catalog {
	sqlite3 *db;
};

static const char *const state_names[_CATALOG_STATE_MAX] = {
	[CATALOG_CREATING] = "creating",
	[CATALOG_COMMITTED] = "committed",
	[CATALOG_MISSING] = "missing",
};

static const char schema[] =
	"PRAGMA journal_mode=WAL;"
	"PRAGMA synchronous=FULL;"
	"CREATE TABLE IF NOT EXISTS snapshots ("
	" id TEXT PRIMARY KEY, set_id TEXT NOT NULL, context INTEGER NOT NULL,"
	" attributes INTEGER NOT NULL, state TEXT NOT NULL, created_usec INTEGER NOT NULL,"
	" volume_path TEXT NOT NULL, volume_root TEXT NOT NULL, volume_identity TEXT NOT NULL,"
	" filesystem TEXT NOT NULL, provider TEXT NOT NULL, location TEXT,"
	" session TEXT, set_count INTEGER NOT NULL);"
	"CREATE INDEX IF NOT EXISTS snapshots_set ON snapshots(set_id);"
	"CREATE TABLE IF NOT EXISTS documents (set_id TEXT PRIMARY KEY, document TEXT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS history ("
	" t_usec INTEGER NOT NULL, session TEXT NOT NULL, set_id TEXT, kind TEXT NOT NULL,"
	" what TEXT NOT NULL, writer TEXT, writer_name TEXT, state INTEGER,"
	" failure TEXT NOT NULL, duration_usec INTEGER NOT NULL);"
	"CREATE INDEX IF NOT EXISTS history_session ON history(session);";

const char *catalog_state_name(enum catalog_state s)
{
	return (unsigned)s < _CATALOG_STATE_MAX ? state_names[s] : NULL;
}

static enum catalog_state state_from_name(const char *name)
{
	for (int i = 0; i < _CATALOG_STATE_MAX; i++)
		if (name && strcmp(state_names[i], name) == 0)
			return i;
	return CATALOG_CREATING; /* unknown means "not known to be complete" */
}

static int sql_error(struct catalog *c)
{
	int e = sqlite3_errcode(c->db);

	if (e == SQLITE_NOMEM)
		return -ENOMEM;
	if (e == SQLITE_FULL)
		return -ENOSPC;
	if (e == SQLITE_READONLY || e == SQLITE_PERM || e == SQLITE_AUTH)
		return -EACCES;
	return -EIO;
}

int catalog_open(const char *state_dir, struct catalog **ret)
{
	_cleanup_free_ char *path = NULL;
	struct catalog *c;
	int r;

	if (asprintf(&path, "%s/catalog.sqlite", state_dir) < 0)
		return -ENOMEM;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	if (sqlite3_open_v2(path, &c->db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK ||
	    sqlite3_exec(c->db, schema, NULL, NULL, NULL) != SQLITE_OK) {
		r = c->db ? sql_error(c) : -ENOMEM;
		catalog_close(c);
		return r;
	}
	(void)sqlite3_busy_timeout(c->db, 5000); /* only we write; cheap insurance */
	*ret = c;
	return 0;
}

struct catalog *catalog_close(struct catalog *c)
{
	if (!c)
		return NULL;
	(void)sqlite3_close(c->db); /* statements are always finalized before */
	free(c);
	return NULL;
}

static void bind_id(sqlite3_stmt *st, int i, const struct sc_id *id)
{
	char buf[SC_ID_STRING_MAX];

	if (id)
		sqlite3_bind_text(st, i, sc_id_to_string(id, buf), -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, i);
}

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
	if (s)
		sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

static int prepare(struct catalog *c, const char *sql, sqlite3_stmt **ret)
{
	return sqlite3_prepare_v2(c->db, sql, -1, ret, NULL) == SQLITE_OK ? 0 : sql_error(c);
}

/* Run a prepared statement to completion and finalize it. */
static int step_done(struct catalog *c, sqlite3_stmt *st)
{
	int r = sqlite3_step(st) == SQLITE_DONE ? 0 : sql_error(c);

	sqlite3_finalize(st);
	return r;
}

/* Run @st once (then reset it for the next row): 0 or the error. */
static int step_reset(struct catalog *c, sqlite3_stmt *st)
{
	int r = sqlite3_step(st) == SQLITE_DONE ? 0 : sql_error(c);

	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return r;
}

static int exec(struct catalog *c, const char *sql)
{
	return sqlite3_exec(c->db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : sql_error(c);
}

/* COMMIT when @r >= 0, else ROLLBACK; returns the first failure. */
static int transaction_end(struct catalog *c, int r)
{
	if (r >= 0)
		return exec(c, "COMMIT");
	(void)exec(c, "ROLLBACK"); /* the failure that made us roll back is what counts */
	return r;
}

static void bind_snapshot(sqlite3_stmt *st, const struct catalog_snapshot *s)
{
	bind_id(st, 1, &s->id);
	bind_id(st, 2, &s->set_id);
	sqlite3_bind_int64(st, 3, s->context);
	sqlite3_bind_int64(st, 4, s->attributes);
	bind_text(st, 5, catalog_state_name(s->state));
	sqlite3_bind_int64(st, 6, (sqlite3_int64)s->created_realtime_usec);
	bind_text(st, 7, s->volume_path);
	bind_text(st, 8, s->volume_root);
	bind_text(st, 9, s->volume_identity);
	bind_text(st, 10, s->filesystem);
	bind_text(st, 11, s->provider);
	bind_text(st, 12, s->location);
	bind_id(st, 13, &s->session);
	sqlite3_bind_int64(st, 14, s->set_count);
}

int catalog_put_snapshots(struct catalog *c, const struct catalog_snapshot *rows, size_t n)
{
	sqlite3_stmt *st;
	int r;

	r = exec(c, "BEGIN IMMEDIATE");
	if (r < 0)
		return r;
	r = prepare(c,
		    "INSERT OR REPLACE INTO snapshots VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9,"
		    " ?10, ?11, ?12, ?13, ?14)",
		    &st);
	for (size_t i = 0; r >= 0 && i < n; i++) {
		bind_snapshot(st, &rows[i]);
		r = step_reset(c, st);
	}
	sqlite3_finalize(st); /* NULL when prepare failed: a no-op */
	return transaction_end(c, r);
}

int catalog_set_state(struct catalog *c, const struct sc_id *id, enum catalog_state state)
{
	sqlite3_stmt *st;
	int r;

	r = prepare(c, "UPDATE snapshots SET state = ?1 WHERE id = ?2", &st);
	if (r < 0)
		return r;
	bind_text(st, 1, catalog_state_name(state));
	bind_id(st, 2, id);
	return step_done(c, st);
}

int catalog_delete_snapshot(struct catalog *c, const struct sc_id *id)
{
	sqlite3_stmt *st;
	int r;

	r = prepare(c, "DELETE FROM snapshots WHERE id = ?1", &st);
	if (r < 0)
		return r;
	bind_id(st, 1, id);
	/* One transaction: one sync of the WAL instead of two. */
	r = exec(c, "BEGIN IMMEDIATE");
	if (r >= 0)
		r = step_done(c, st);
	else
		sqlite3_finalize(st);
	if (r >= 0 && sqlite3_changes(c->db) == 0)
		r = -SC_E_OBJECT_NOT_FOUND;
	/* A set whose last snapshot went takes its document along. */
	if (r >= 0)
		r = exec(c, "DELETE FROM documents WHERE set_id NOT IN (SELECT set_id FROM snapshots)");
	return transaction_end(c, r);
}

static const char *column_text(sqlite3_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(st, i);
}

static void row_to_snapshot(sqlite3_stmt *st, struct catalog_snapshot *s)
{
	memset(s, 0, sizeof(*s));
	(void)sc_id_from_string(column_text(st, 0), &s->id); /* we wrote it: valid */
	(void)sc_id_from_string(column_text(st, 1), &s->set_id);
	s->context = (uint32_t)sqlite3_column_int64(st, 2);
	s->attributes = (uint32_t)sqlite3_column_int64(st, 3);
	s->state = state_from_name(column_text(st, 4));
	s->created_realtime_usec = (uint64_t)sqlite3_column_int64(st, 5);
	s->volume_path = column_text(st, 6);
	s->volume_root = column_text(st, 7);
	s->volume_identity = column_text(st, 8);
	s->filesystem = column_text(st, 9);
	s->provider = column_text(st, 10);
	s->location = column_text(st, 11);
	(void)sc_id_from_string(column_text(st, 12), &s->session);
	s->set_count = (uint32_t)sqlite3_column_int64(st, 13);
}

static int walk(struct catalog *c, sqlite3_stmt *st, catalog_snapshot_cb cb, void *userdata,
		bool *ret_found)
{
	struct catalog_snapshot s;
	bool found = false;
	int e, r = 0;

	while ((e = sqlite3_step(st)) == SQLITE_ROW) {
		found = true;
		row_to_snapshot(st, &s);
		r = cb(&s, userdata);
		if (r < 0)
			break;
	}
	if (r >= 0 && e != SQLITE_DONE)
		r = sql_error(c);
	sqlite3_finalize(st);
	*ret_found = found;
	return r < 0 ? r : 0;
}

int catalog_foreach(struct catalog *c, const struct sc_id *set_id, uint32_t context,
		    catalog_snapshot_cb cb, void *userdata)
{
	sqlite3_stmt *st;
	bool found;
	int r;

	r = prepare(c,
		    "SELECT * FROM snapshots WHERE (?1 IS NULL OR set_id = ?1)"
		    " AND (?2 = 4294967295 OR context = ?2) ORDER BY created_usec, set_id, rowid",
		    &st);
	if (r < 0)
		return r;
	bind_id(st, 1, set_id);
	sqlite3_bind_int64(st, 2, context);
	return walk(c, st, cb, userdata, &found);
}

int catalog_get(struct catalog *c, const struct sc_id *id, catalog_snapshot_cb cb,
		void *userdata)
{
	sqlite3_stmt *st;
	bool found;
	int r;

	r = prepare(c, "SELECT * FROM snapshots WHERE id = ?1", &st);
	if (r < 0)
		return r;
	bind_id(st, 1, id);
	r = walk(c, st, cb, userdata, &found);
	if (r >= 0 && !found)
		return -SC_E_OBJECT_NOT_FOUND;
	return r;
}

int catalog_put_document(struct catalog *c, const struct sc_id *set_id, const char *document)
{
	sqlite3_stmt *st;
	int r;

	r = prepare(c, "INSERT OR REPLACE INTO documents VALUES (?1, ?2)", &st);
	if (r < 0)
		return r;
	bind_id(st, 1, set_id);
	bind_text(st, 2, document);
	return step_done(c, st);
}

static void bind_history(sqlite3_stmt *st, const struct catalog_history *h)
{
	sqlite3_bind_int64(st, 1, (sqlite3_int64)h->realtime_usec);
	bind_text(st, 4, h->kind);
	bind_text(st, 5, h->what);
	bind_text(st, 6, h->writer);
	bind_text(st, 7, h->writer_name);
	if (h->state >= 0)
		sqlite3_bind_int(st, 8, h->state);
	bind_text(st, 9, sc_error_name(h->failure));
	sqlite3_bind_int64(st, 10, (sqlite3_int64)h->duration_usec);
}

int catalog_history_add(struct catalog *c, const struct sc_id *session, const struct sc_id *set_id,
			const struct catalog_history *lines, size_t n)
{
	sqlite3_stmt *st;
	int r;

	/* History is not what recovery relies on: its commit does not wait
	 * for the disk (synchronous=NORMAL keeps the database consistent but
	 * may lose the last lines to a power cut).  It is written inside a
	 * backup's phases, where a sync cost up to 7 ms on a busy machine.
	 * The snapshot rows stay FULL: intent before action. */
	r = exec(c, "PRAGMA synchronous=NORMAL; BEGIN IMMEDIATE");
	if (r < 0) {
		(void)exec(c, "PRAGMA synchronous=FULL"); /* cannot fail outside a transaction */
		return r;
	}
	r = prepare(c, "INSERT INTO history VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)", &st);
	for (size_t i = 0; r >= 0 && i < n; i++) {
		bind_history(st, &lines[i]);
		bind_id(st, 2, session);
		bind_id(st, 3, set_id);
		r = step_reset(c, st);
	}
	sqlite3_finalize(st);
	r = transaction_end(c, r);
	(void)exec(c, "PRAGMA synchronous=FULL"); /* as above */
	return r;
}
