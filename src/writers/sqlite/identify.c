/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * identify.c - the SQLite writer's metadata: one database component per
 * configured component, each file as database file with its "-wal" and
 * "-journal" as log files, and "-shm" excluded (SQLite rebuilds it).  Built
 * from the configuration alone, so it is the same every time.
 */
#include <stdio.h>

#include "sqlite-writer.h"
#include "writer-common.h"

static int identify_database(struct sc_writer_metadata *m, const char *component,
			     const struct sqlite_db *d)
{
	static const char *const logs[] = { "-wal", "-journal" };
	char spec[4200];
	int r;

	r = sc_writer_metadata_add_database_files(m, NULL, component, d->dir, d->base, 0);
	for (size_t i = 0; r >= 0 && i < ELEMENTS_OF(logs); i++) {
		snprintf(spec, sizeof(spec), "%s%s", d->base, logs[i]);
		r = sc_writer_metadata_add_database_log_files(m, NULL, component, d->dir, spec,
							      0);
	}
	if (r >= 0) {
		snprintf(spec, sizeof(spec), "%s-shm", d->base);
		r = sc_writer_metadata_add_exclude_files(m, d->dir, spec, false);
	}
	return r;
}

bool identify_handler(struct sc_writer *w, struct sc_writer_metadata *m, void *userdata)
{
	const struct sqlite_writer *sw = userdata;
	int r;

	r = sc_writer_metadata_set_restore_method(m, SC_RME_RESTORE_IF_CAN_REPLACE, NULL, NULL,
						  SC_WRE_NEVER, false);
	for (size_t i = 0; r >= 0 && i < sw->n_components; i++) {
		const struct sqlite_component *c = &sw->components[i];

		r = sc_writer_metadata_add_component(m, SC_CT_DATABASE, NULL, c->name, c->caption,
						     true, true, 0);
		for (size_t k = 0; r >= 0 && k < sw->n_dbs; k++)
			if (sw->dbs[k].component == i)
				r = identify_database(m, c->name, &sw->dbs[k]);
	}
	if (r < 0) {
		wlog_error_errno(r, "Failed to build the metadata");
		return false;
	}
	return true;
}
