/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * main.c - shadowcopy-writer-sqlite: a writer daemon that makes SQLite
 * databases consistent in snapshot sets (see shadowcopy-writer-sqlite(8)).
 * It loads the configuration, opens the databases, subscribes and runs until
 * SIGTERM; the events are in events.c.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>

#include "sqlite-writer.h"
#include "writer-common.h"

static const struct writer_program program = {
	.name = "shadowcopy-writer-sqlite",
	.summary = "Keep SQLite databases consistent in Shadowcopy snapshot sets: checkpoint\n"
		   "their WAL before the snapshot and hold their write lock across it.",
	.default_config = "/etc/shadowcopy/writer-sqlite.conf",
};

/* Open every database now, so that the first Freeze finds them open and a
 * wrong path shows at start; a database missing now is not fatal. */
static void main_open_databases(struct sqlite_writer *sw)
{
	uint64_t deadline = now_usec() + sw->checkpoint_timeout_ms * USEC_PER_MSEC;

	for (size_t i = 0; i < sw->n_dbs; i++)
		if (database_prepare(&sw->dbs[i], deadline) < 0)
			wlog_warning("%s: not usable now, will try again at the next backup",
				     sw->dbs[i].path);
}

static int main_run(struct sqlite_writer *sw, const char *socket_path)
{
	char description[128];
	struct writer_daemon d = {
		.identity = {
			.class_id = SQLITE_WRITER_CLASS_ID,
			.name = sw->name,
			.instance_name = sw->instance,
			.usage = SC_UT_USERDATA,
			.source = SC_ST_TRANSACTEDDB,
			.level = SC_APP_BACK_END,
			.freeze_timeout_ms = sw->freeze_timeout_ms,
		},
		.description = description,
	};

	snprintf(description, sizeof(description), "%zu component(s), %zu database(s)",
		 sw->n_components, sw->n_dbs);
	events_daemon(sw, &d);
	main_open_databases(sw);
	return writer_daemon_serve(&d, socket_path);
}

int main(int argc, char **argv)
{
	struct sqlite_writer sw = {};
	struct writer_args args;
	int r;

	wlog_set_ident(program.name);
	r = writer_daemon_parse_args(&program, argc, argv, &args);
	if (r <= 0)
		return r < 0 ? WRITER_EXIT_USAGE : WRITER_EXIT_OK;
	if (config_load(&sw, args.config) < 0) {
		r = WRITER_EXIT_USAGE;
	} else if (args.check) {
		config_print(&sw);
		r = WRITER_EXIT_OK;
	} else {
		r = main_run(&sw, args.socket);
	}
	config_done(&sw);
	(void)sqlite3_shutdown(); /* releases SQLite's own allocations: clean leak checks */
	return r;
}
