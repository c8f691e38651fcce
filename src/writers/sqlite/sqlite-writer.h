/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sqlite-writer.h - the SQLite writer: its configuration (components of one
 * or more database files), the databases it holds open, and the event
 * handlers.  Includes only public headers, SQLite and libc.
 */
#ifndef SC_SQLITE_WRITER_H
#define SC_SQLITE_WRITER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <shadowcopy/writer.h>

struct sqlite3;

/* The writer class of every SQLite writer (fixed, as VSS's writer ids are). */
#define SQLITE_WRITER_CLASS_ID "0c6f9b52-7d1e-4a3c-8f25-9e4b1d6a7c30"

#define SQLITE_DEFAULT_FREEZE_TIMEOUT_MS 20000u
#define SQLITE_DEFAULT_LOCK_TIMEOUT_MS 5000u
#define SQLITE_DEFAULT_CHECKPOINT_TIMEOUT_MS 1000u

/* One database file, with the connection held open between backups. */
struct sqlite_db {
	char *path;                /* absolute, as configured */
	char *dir;                 /* its directory and file name, for Identify */
	char *base;
	size_t component;          /* index in sqlite_writer.components */
	struct sqlite3 *conn;      /* NULL until first needed, or after a failure */
	dev_t dev;                 /* the file @conn has open */
	ino_t ino;
	uint64_t deadline_usec;    /* how long the busy handler may wait now */
	bool locked;               /* BEGIN IMMEDIATE in force */
};

/* A component: one database, or several an application commits across. */
struct sqlite_component {
	char *name;
	char *caption;             /* NULL: none */
	bool selected;             /* takes part in the current backup */
};

struct sqlite_writer {
	/* configuration */
	char *name;
	char *instance;
	uint32_t freeze_timeout_ms;
	uint32_t lock_timeout_ms;
	uint32_t checkpoint_timeout_ms;
	struct sqlite_component *components;
	size_t n_components;
	struct sqlite_db *dbs;     /* every file, in lock order */
	size_t n_dbs;
	/* run time */
	struct sc_id set_id;       /* the set the selection was made for */
	uint64_t frozen_usec;      /* when the last lock was taken */
};

/* config.c */
int config_load(struct sqlite_writer *sw, const char *path);
void config_print(const struct sqlite_writer *sw);
void config_done(struct sqlite_writer *sw);

/* database.c */
int database_prepare(struct sqlite_db *d, uint64_t deadline_usec);
int database_checkpoint(struct sqlite_db *d, uint64_t deadline_usec);
int database_lock(struct sqlite_db *d, uint64_t deadline_usec);
void database_unlock(struct sqlite_db *d);
void database_close(struct sqlite_db *d);
int database_on_volume(const struct sqlite_db *d, const dev_t *volumes, size_t n_volumes);

/* selection.c */
int selection_update(struct sqlite_writer *sw, const struct sc_writer_event *ev);

/* identify.c */
bool identify_handler(struct sc_writer *w, struct sc_writer_metadata *m, void *userdata);

/* events.c */
struct writer_daemon;
void events_daemon(struct sqlite_writer *sw, struct writer_daemon *d);

#endif
