/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * abort.c - the service's side of the abort rules (vss-model 6): abort_backup
 * (A1, B2, B3, T37, T39, A16), and every failure that abandons a backup:
 * Abort to the writers it concerns (not those that failed before Freeze or
 * handled PostSnapshot, A14, B5; never twice, B6), the providers' abort once
 * end_prepare was called (B13, T40), no snapshot of a failed set left (B17).
 * Which failures abandon a backup is decided where they happen.
 */
#include <errno.h>
#include <stdlib.h>

#include "log.h"
#include "session.h"

void abort_start(struct session *s, int error)
{
	if (s->phase == BACKUP_ABORTING || s->phase == BACKUP_ABORTED)
		return;
	if (s->error == 0)
		s->error = error;
	log_notice("%s abandons its backup: %s", session_describe(s), sc_error_name(s->error));
	/* Events still out are forgotten: Abort supersedes them. */
	fanout_cancel(s);
	participation_cancel(s);
	hold_window_release(s); /* held writes go first, before the writers hear */
	s->phase = BACKUP_ABORTING;
	s->phase_start_usec = session_now(s);
	fanout_send(s, SC_EVENT_ABORT, 0);
}

static bool providers_prepared(const struct snapshot_set *set)
{
	for (size_t i = 0; i < set->n_groups; i++)
		if (set->groups[i].prepared)
			return true;
	return false;
}

/* The catalog's rows of a set that was not made: removed when nothing of
 * it can remain, else kept "creating" for recovery to clean at start-up. */
static void forget_rows(struct session *s)
{
	struct snapshot_set *set = s->set;
	int r;

	if (!set->intent_written || set->committed)
		return;
	if (providers_prepared(set) && set->abort_result < 0) {
		log_error_errno(set->abort_result,
				"Provider abort failed; the set's snapshots are left to recovery");
		return;
	}
	for (size_t i = 0; i < set->n_volumes; i++) {
		r = catalog_delete_snapshot(s->daemon->catalog, &set->volumes[i].snap.snapshot_id);
		if (r < 0 && r != -SC_E_OBJECT_NOT_FOUND)
			log_warning_errno(r, "Failed to remove a snapshot row, ignoring");
	}
	set->intent_written = false;
}

static void abort_finish(struct session *s)
{
	history_add(s, "phase", "abort", NULL, NULL, -1, s->error,
		    session_now(s) - s->phase_start_usec);
	if (s->set)
		forget_rows(s);
	session_set_unlock(s); /* T12: a failed set frees the way too */
	s->phase = BACKUP_ABORTED;
	history_flush(s);
	session_op_fail(s, s->error);
}

void abort_advance(struct session *s)
{
	struct snapshot_set *set = s->set;
	int r;

	/* A provider call must return before its abort (B15); the reply
	 * waits for the thaw too, so that nothing is frozen when it comes. */
	if (s->pending || s->resolving || (set && set->job) || hold_window_busy(s))
		return;
	if (set && !set->committed && !set->providers_aborting && providers_prepared(set)) {
		set->providers_aborting = true;
		r = coordinator_provider_step(s, PROVIDER_ABORT);
		if (r < 0) {
			set->providers_aborted = true;
			set->abort_result = log_error_errno(r, "Failed to start the providers' abort");
		}
		if (set->job)
			return;
	}
	abort_finish(s);
}

int abort_backup(struct connection *c, const struct wire_message *m)
{
	struct session *s = session_of(c);

	if (!s->initialized || s->restore)
		return -SC_E_BAD_STATE; /* B3; restore has no abort (A5) */
	switch (s->phase) {
	case BACKUP_SET_STARTED:
		/* No writer has heard of the set: it is dropped (B1). */
		session_set_unlock(s);
		s->phase = BACKUP_ABORTED;
		break;
	case BACKUP_PREPARING:
	case BACKUP_PREPARED:
	case BACKUP_SNAPSHOTTING:
	case BACKUP_SNAPSHOTS_DONE:
		abort_start(s, -SC_E_CANCELLED); /* A1; after PostSnapshot nobody gets it (T35) */
		break;
	default:
		break; /* nothing under way, or aborted already (B2, T37, T39, A16) */
	}
	connection_reply(c, m->id, json_object());
	return 0;
}
