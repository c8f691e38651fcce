/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * selection.c - which components take part in a backup: in component mode
 * those the requester selected; in volume mode those with a database on one
 * of the set's volumes.  A component whose files lie partly outside the set
 * cannot be snapshotted consistently: WRITERERROR_INCONSISTENTSNAPSHOT, as
 * VSS writers answer.  It opens no database.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sqlite-writer.h"
#include "writer-common.h"

static void selection_by_components(struct sqlite_writer *sw, const struct sc_writer_event *ev)
{
	size_t n = sc_writer_event_get_component_count(ev);
	const char *logical_path, *name;
	bool succeeded;

	for (size_t i = 0; i < n; i++) {
		if (sc_writer_event_get_component(ev, i, &logical_path, &name, &succeeded) < 0)
			continue;
		if (logical_path && logical_path[0])
			continue; /* ours are all at the top level */
		for (size_t k = 0; k < sw->n_components; k++)
			if (strcmp(sw->components[k].name, name) == 0)
				sw->components[k].selected = true;
	}
}

/* Whether component @c lies on the volumes: 1 wholly, 0 not at all. */
static int selection_component_on(const struct sqlite_writer *sw, size_t c, const dev_t *devs,
				  size_t n_devs)
{
	bool some = false, all = true;
	int r;

	for (size_t i = 0; i < sw->n_dbs; i++) {
		if (sw->dbs[i].component != c)
			continue;
		r = database_on_volume(&sw->dbs[i], devs, n_devs);
		if (r < 0)
			return wlog_error_errno(r, "%s: cannot tell its volume", sw->dbs[i].path);
		some = some || r;
		all = all && r;
	}
	if (some && !all) {
		wlog_error("Component '%s' has databases outside the snapshot set: add their "
			   "volumes to it", sw->components[c].name);
		return -SC_E_WRITERERROR_INCONSISTENTSNAPSHOT;
	}
	return some;
}

static int selection_by_volumes(struct sqlite_writer *sw, const struct sc_writer_event *ev)
{
	size_t n = sc_writer_event_get_volume_count(ev), n_devs = 0;
	struct stat st;
	dev_t *devs;
	int r = 0;

	if (n == 0) { /* nothing to compare with: take part wholly */
		for (size_t k = 0; k < sw->n_components; k++)
			sw->components[k].selected = true;
		return 0;
	}
	if (!(devs = calloc(n, sizeof(*devs))))
		return -SC_E_WRITERERROR_OUTOFRESOURCES;
	for (size_t i = 0; i < n; i++)
		if (stat(sc_writer_event_get_volume(ev, i), &st) == 0)
			devs[n_devs++] = st.st_dev;
	for (size_t k = 0; k < sw->n_components && r >= 0; k++) {
		r = selection_component_on(sw, k, devs, n_devs);
		sw->components[k].selected = r > 0;
	}
	free(devs);
	if (r == -SC_E_WRITERERROR_INCONSISTENTSNAPSHOT)
		return r;
	return r < 0 ? -SC_E_WRITERERROR_NONRETRYABLE : 0;
}

/*
 * Select the components of the backup @ev belongs to, once per snapshot set:
 * Freeze keeps what PrepareForSnapshot chose.  Returns 0 or a negative
 * SC_E_WRITERERROR_* (already logged).
 */
int selection_update(struct sqlite_writer *sw, const struct sc_writer_event *ev)
{
	struct sc_id set_id;
	int r;

	sc_writer_event_get_snapshot_set_id(ev, &set_id);
	if (!sc_id_is_null(&set_id) && sc_id_equal(&set_id, &sw->set_id))
		return 0;
	for (size_t k = 0; k < sw->n_components; k++)
		sw->components[k].selected = false;
	if (sc_writer_event_are_components_selected(ev)) {
		selection_by_components(sw, ev);
		r = 0;
	} else {
		r = selection_by_volumes(sw, ev);
	}
	if (r >= 0)
		sw->set_id = set_id;
	return r;
}
