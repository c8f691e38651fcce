/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * database.c - one SQLite database file as the writer sees it: a connection
 * held open between backups (reopened when the file was replaced), the WAL
 * checkpoint of PrepareForSnapshot, and the write lock (BEGIN IMMEDIATE) held
 * from Freeze to Thaw.  Every wait is bounded by a deadline; every failure is
 * logged here once and returned as the VSS writer failure it amounts to.
 * It never changes a database's content (a checkpoint only moves committed
 * pages from the WAL into it) nor its journal mode.
 */
#include <errno.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sqlite-writer.h"
#include "writer-common.h"

/* How often a wait for a lock looks again: short, so that a busy application
 * with brief gaps between its transactions does not starve the writer. */
#define BUSY_POLL_USEC 100u

/* SQLite's busy handler: wait in short steps until the deadline. */
static int database_busy(void *userdata, int count)
{
	const struct sqlite_db *d = userdata;
	uint64_t now = now_usec(), step = BUSY_POLL_USEC;

	if (now >= d->deadline_usec)
		return 0;
	if (d->deadline_usec - now < step)
		step = d->deadline_usec - now;
	(void)usleep((useconds_t)step); /* EINTR only shortens one step */
	return 1;
}

/* The VSS writer failure a SQLite result code amounts to.  @busy is what a
 * lock still held by someone else at the deadline means in this phase. */
static int database_failure(int rc, int busy)
{
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return busy;
	case SQLITE_NOMEM:
	case SQLITE_FULL:
		return -SC_E_WRITERERROR_OUTOFRESOURCES;
	default: /* CANTOPEN, NOTADB, CORRUPT, READONLY, PERM, IOERR...: a person must look */
		return -SC_E_WRITERERROR_NONRETRYABLE;
	}
}

static int database_sqlite_error(struct sqlite_db *d, int rc, int busy, const char *what)
{
	wlog_error("%s: %s: %s (%s)", d->path, what,
		   d->conn ? sqlite3_errmsg(d->conn) : sqlite3_errstr(rc), sqlite3_errstr(rc));
	return database_failure(rc, busy);
}

void database_close(struct sqlite_db *d)
{
	/* sqlite3_close_v2() releases every lock, even of an open transaction. */
	(void)sqlite3_close_v2(d->conn); /* accepts NULL; only SQLITE_OK with _v2 */
	d->conn = NULL;
	d->locked = false;
}

/* The file as it is now: missing or not a file is a configuration problem. */
static int database_stat(struct sqlite_db *d, struct stat *ret)
{
	if (stat(d->path, ret) < 0) {
		wlog_error_errno(-errno, "%s: cannot use the database", d->path);
		return -SC_E_WRITERERROR_NONRETRYABLE;
	}
	if (!S_ISREG(ret->st_mode)) {
		wlog_error("%s: not a regular file", d->path);
		return -SC_E_WRITERERROR_NONRETRYABLE;
	}
	return 0;
}

/* Open a connection and read the schema, which checks that the file is a
 * database and that a read lock can be had before @deadline_usec. */
static int database_connect(struct sqlite_db *d, uint64_t deadline_usec)
{
	struct stat st;
	int rc, r;

	database_close(d);
	if ((r = database_stat(d, &st)) < 0)
		return r;
	rc = sqlite3_open_v2(d->path, &d->conn, SQLITE_OPEN_READWRITE, NULL);
	if (rc != SQLITE_OK) {
		r = database_sqlite_error(d, rc, -SC_E_WRITERERROR_RETRYABLE, "cannot open");
		database_close(d);
		return r;
	}
	(void)sqlite3_extended_result_codes(d->conn, 1);
	(void)sqlite3_busy_handler(d->conn, database_busy, d);
	d->deadline_usec = deadline_usec;
	rc = sqlite3_exec(d->conn, "SELECT count(*) FROM sqlite_schema", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		r = database_sqlite_error(d, rc, -SC_E_WRITERERROR_RETRYABLE,
					  "cannot read (locked by the application?)");
		database_close(d);
		return r;
	}
	if (sqlite3_db_readonly(d->conn, "main") == 1) {
		wlog_error("%s: opened read-only: the writer needs write access to hold the "
			   "write lock", d->path);
		database_close(d);
		return -SC_E_WRITERERROR_NONRETRYABLE;
	}
	d->dev = st.st_dev;
	d->ino = st.st_ino;
	return 0;
}

/*
 * Make sure a connection to the file now at the path is open: a database
 * replaced since (a restore, a rename) gets a new connection, so that the
 * lock of Freeze is taken on the file the application uses.
 */
int database_prepare(struct sqlite_db *d, uint64_t deadline_usec)
{
	struct stat st;
	int r;

	if ((r = database_stat(d, &st)) < 0) {
		database_close(d);
		return r;
	}
	if (d->conn && st.st_dev == d->dev && st.st_ino == d->ino)
		return 0;
	if (d->conn)
		wlog_info("%s: the file was replaced, reopening it", d->path);
	return database_connect(d, deadline_usec);
}

/*
 * PrepareForSnapshot's slow work: copy the WAL into the database first without
 * blocking anyone (PASSIVE), then truncate it (TRUNCATE), which waits for
 * readers and writers until @deadline_usec.  A checkpoint that cannot finish
 * is not a failure: the WAL is part of the component and goes into the
 * snapshot with the database.  A database not in WAL mode has nothing to do.
 */
int database_checkpoint(struct sqlite_db *d, uint64_t deadline_usec)
{
	int rc, wal_frames = -1, done = -1;

	d->deadline_usec = deadline_usec;
	rc = sqlite3_wal_checkpoint_v2(d->conn, "main", SQLITE_CHECKPOINT_PASSIVE, &wal_frames,
				       &done);
	if (rc == SQLITE_OK && wal_frames < 0)
		return 0;
	if (rc == SQLITE_OK || (rc & 0xff) == SQLITE_BUSY)
		rc = sqlite3_wal_checkpoint_v2(d->conn, "main", SQLITE_CHECKPOINT_TRUNCATE,
					       &wal_frames, &done);
	if ((rc & 0xff) == SQLITE_BUSY) {
		wlog_warning("%s: the WAL could not be truncated in time (readers or writers "
			     "kept it busy), its frames go into the snapshot", d->path);
		return 0;
	}
	if (rc != SQLITE_OK)
		return database_sqlite_error(d, rc, -SC_E_WRITERERROR_RETRYABLE,
					     "checkpoint failed");
	return 0;
}

/*
 * Take the write lock: no transaction commits on this database until
 * database_unlock(), while readers carry on.  An application that still holds
 * it at @deadline_usec makes this fail with WRITERERROR_TIMEOUT.
 */
int database_lock(struct sqlite_db *d, uint64_t deadline_usec)
{
	int rc;

	if (d->locked)
		return 0;
	d->deadline_usec = deadline_usec;
	rc = sqlite3_exec(d->conn, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return database_sqlite_error(d, rc, -SC_E_WRITERERROR_TIMEOUT,
					     "cannot take the write lock in time");
	d->locked = true;
	return 0;
}

/* Release the write lock; if even ROLLBACK fails, closing the connection
 * releases it (the connection is reopened at the next backup). */
void database_unlock(struct sqlite_db *d)
{
	int rc;

	if (!d->locked)
		return;
	rc = sqlite3_exec(d->conn, "ROLLBACK", NULL, NULL, NULL);
	d->locked = false;
	if (rc != SQLITE_OK) {
		wlog_warning("%s: ROLLBACK failed (%s), closing the connection", d->path,
			     sqlite3_errstr(rc));
		database_close(d);
	}
}

/*
 * Whether the database lies on one of the volumes, given as the st_dev of
 * their paths: a btrfs subvolume has a device number of its own, and any
 * other filesystem one per mount.  A missing file counts by its directory.
 * Returns 1, 0, or -errno when neither can be looked at.
 */
int database_on_volume(const struct sqlite_db *d, const dev_t *volumes, size_t n_volumes)
{
	struct stat st;

	if (stat(d->path, &st) < 0 && stat(d->dir, &st) < 0)
		return -errno;
	for (size_t i = 0; i < n_volumes; i++)
		if (volumes[i] == st.st_dev)
			return 1;
	return 0;
}
