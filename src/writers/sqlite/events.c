/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * events.c - what the SQLite writer does at each event.  PrepareForSnapshot
 * (slow work): open or reopen the selected databases and checkpoint their
 * WAL.  Freeze: take the write lock of each, always in the configured order,
 * within one deadline.  Thaw and Abort: release them, in reverse.  Between
 * Freeze and Thaw readers carry on and no transaction commits.
 */
#include "sqlite-writer.h"
#include "writer-common.h"

/* Report @failure (a negative SC_E_WRITERERROR_*) with a veto. */
static bool events_veto(struct sc_writer *w, int failure)
{
	(void)sc_writer_set_failure(w, failure); /* inside a handler: cannot fail */
	return false;
}

static bool events_selected(const struct sqlite_writer *sw, const struct sqlite_db *d)
{
	return sw->components[d->component].selected;
}

static size_t events_release(struct sqlite_writer *sw)
{
	size_t n = 0;

	for (size_t i = sw->n_dbs; i-- > 0;)
		if (sw->dbs[i].locked) {
			database_unlock(&sw->dbs[i]);
			n++;
		}
	return n;
}

static bool events_prepare_snapshot(struct sc_writer *w, const struct sc_writer_event *ev,
				    void *userdata)
{
	struct sqlite_writer *sw = userdata;
	uint64_t start = now_usec(), deadline;
	size_t n = 0;
	int r;

	if ((r = selection_update(sw, ev)) < 0)
		return events_veto(w, r);
	for (size_t i = 0; i < sw->n_dbs; i++) {
		struct sqlite_db *d = &sw->dbs[i];

		if (!events_selected(sw, d))
			continue;
		deadline = now_usec() + sw->checkpoint_timeout_ms * USEC_PER_MSEC;
		if ((r = database_prepare(d, deadline)) < 0 ||
		    (r = database_checkpoint(d, deadline)) < 0)
			return events_veto(w, r);
		n++;
	}
	wlog_info("PrepareForSnapshot: %zu database(s) checkpointed in %.1f ms", n,
		  msec_between(start, now_usec()));
	return true;
}

static bool events_freeze(struct sc_writer *w, const struct sc_writer_event *ev,
			  void *userdata)
{
	struct sqlite_writer *sw = userdata;
	uint64_t start = now_usec();
	uint64_t deadline = start + sw->lock_timeout_ms * USEC_PER_MSEC;
	size_t n = 0;
	int r;

	if ((r = selection_update(sw, ev)) < 0)
		return events_veto(w, r);
	for (size_t i = 0; i < sw->n_dbs; i++) {
		struct sqlite_db *d = &sw->dbs[i];

		if (!events_selected(sw, d))
			continue;
		/* Normally open since PrepareForSnapshot; this only checks the file. */
		if ((r = database_prepare(d, deadline)) < 0 ||
		    (r = database_lock(d, deadline)) < 0) {
			events_release(sw);
			wlog_error("Freeze failed, every lock released");
			return events_veto(w, r);
		}
		n++;
	}
	sw->frozen_usec = now_usec();
	wlog_info("Freeze: %zu database(s) locked in %.1f ms", n, msec_between(start,
									      sw->frozen_usec));
	return true;
}

static bool events_thaw(struct sc_writer *w, const struct sc_writer_event *ev, void *userdata)
{
	struct sqlite_writer *sw = userdata;
	size_t n = events_release(sw);

	wlog_info("Thaw: %zu database(s) released after %.1f ms", n,
		  msec_between(sw->frozen_usec, now_usec()));
	return true;
}

/* Also called by the library itself when the freeze window runs out or the
 * service goes away while frozen; may come several times. */
static bool events_abort(struct sc_writer *w, const struct sc_writer_event *ev, void *userdata)
{
	struct sqlite_writer *sw = userdata;
	size_t n = events_release(sw);

	wlog_info("Abort: %zu database(s) released", n);
	sw->set_id = (struct sc_id){}; /* the next set selects afresh */
	return true;
}

/* The events with nothing to do are logged, so that the log tells the whole
 * story of a backup; PrepareForBackup names its snapshot set. */
static bool events_note(struct sc_writer *w, const struct sc_writer_event *ev, void *userdata)
{
	static const char *const names[_SC_EVENT_MAX] = {
		[SC_EVENT_PREPARE_BACKUP] = "PrepareForBackup",
		[SC_EVENT_POST_SNAPSHOT] = "PostSnapshot",
		[SC_EVENT_BACKUP_COMPLETE] = "BackupComplete",
		[SC_EVENT_BACKUP_SHUTDOWN] = "BackupShutdown",
	};
	enum sc_event type = sc_writer_event_get_type(ev);
	char id[SC_ID_STRING_MAX];
	struct sc_id set_id;

	sc_writer_event_get_snapshot_set_id(ev, &set_id);
	if (type == SC_EVENT_PREPARE_BACKUP)
		wlog_info("%s: snapshot set %s", names[type], sc_id_to_string(&set_id, id));
	else
		wlog_info("%s", names[type] ? names[type] : sc_event_name(type));
	return true;
}

/* The handlers; every one gets @sw. */
void events_daemon(struct sqlite_writer *sw, struct writer_daemon *d)
{
	static const struct writer_handler handlers[] = {
		{ SC_EVENT_PREPARE_SNAPSHOT, events_prepare_snapshot },
		{ SC_EVENT_FREEZE, events_freeze },
		{ SC_EVENT_THAW, events_thaw },
		{ SC_EVENT_ABORT, events_abort },
		{ SC_EVENT_PREPARE_BACKUP, events_note },
		{ SC_EVENT_POST_SNAPSHOT, events_note },
		{ SC_EVENT_BACKUP_COMPLETE, events_note },
		{ SC_EVENT_BACKUP_SHUTDOWN, events_note },
	};

	d->identify = identify_handler;
	d->handlers = handlers;
	d->n_handlers = ELEMENTS_OF(handlers);
	d->userdata = sw;
}
