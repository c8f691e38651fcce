/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * backup.c - the backup around the snapshot set: prepare_for_backup
 * (PrepareForBackup to the writers that take part), backup_complete, the
 * document kept for persistent sets, and the end of a session (vss-model
 * 2.1 step 15, T48-T50): the abort its requester owed, BackupShutdown, and
 * its auto-release snapshots deleted.  DoSnapshotSet is coordinator.c's.
 */
#include <errno.h>
#include <stdlib.h>

#include "cleanup.h"
#include "log.h"
#include "session.h"

/* prepare_for_backup: first who takes part, then PrepareForBackup. */
enum { PREPARE_PARTICIPATION, PREPARE_SENT };

void backup_store_document(struct session *s)
{
	_cleanup_json_ json_t *doc = components_document(s);
	_cleanup_free_ char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	int r;

	r = text ? catalog_put_document(s->daemon->catalog, &s->set->id, text) : -ENOMEM;
	if (r < 0)
		log_warning_errno(r, "Failed to store the backup components document, ignoring");
}

static void prepare_cancelled(void *userdata)
{
	struct session *s = userdata;

	/* It may have reached writers: as abort_backup (A8). */
	s->op = NULL;
	if (s->error == 0)
		s->error = -SC_E_CANCELLED;
	session_kick(s);
}

int backup_prepare_for_backup(struct connection *c, const struct wire_message *m)
{
	struct session *s = session_of(c);
	int r;

	/* T19, T22; gather first: it says who may take part. */
	if (!s->backup_state_set || s->phase != BACKUP_SET_STARTED || !session_writer_context(s) ||
	    s->gather != GATHER_DONE || s->set->n_adding > 0)
		return -SC_E_BAD_STATE;
	r = operation_new(c, m->id, prepare_cancelled, s, &s->op);
	if (r < 0)
		return r;
	r = participation_start(s);
	if (r < 0) {
		operation_abandon(TAKE_PTR(s->op));
		return r;
	}
	s->phase = BACKUP_PREPARING;
	s->step = PREPARE_PARTICIPATION;
	s->error = 0;
	s->phase_start_usec = session_now(s);
	return 0;
}

void backup_prepare_advance(struct session *s)
{
	if (s->error) {
		abort_start(s, s->error);
		return;
	}
	if (s->pending || s->resolving)
		return;
	if (s->step == PREPARE_PARTICIPATION) {
		s->step = PREPARE_SENT;
		fanout_send(s, SC_EVENT_PREPARE_BACKUP, 0);
		return;
	}
	history_add(s, "phase", "prepare_backup", NULL, NULL, -1, 0,
		    session_now(s) - s->phase_start_usec);
	history_flush(s);
	s->phase = BACKUP_PREPARED;
	/* A veto here aborts nothing: the requester decides (vss-model 4.3). */
	session_op_reply(s, json_pack("{s:o}", "writer_failures",
				      session_writer_failures(s, SC_WS_FAILED_AT_PREPARE_BACKUP,
							      SC_WS_FAILED_AT_PREPARE_BACKUP)));
}

static void complete_cancelled(void *userdata)
{
	struct session *s = userdata;

	/* The writers have their BackupComplete: only the wait ends (B12). */
	s->op = NULL;
}

int backup_complete(struct connection *c, const struct wire_message *m)
{
	struct session *s = session_of(c);
	int r;

	if (!session_writer_context(s) || s->phase != BACKUP_SNAPSHOTS_DONE)
		return -SC_E_BAD_STATE; /* T22, B11 */
	r = operation_new(c, m->id, complete_cancelled, s, &s->op);
	if (r < 0)
		return r;
	s->phase = BACKUP_COMPLETING;
	s->phase_start_usec = session_now(s);
	/* To those with an added component (component mode, T44), or every
	 * participant (volume mode); not to those out of the backup. */
	fanout_send(s, SC_EVENT_BACKUP_COMPLETE, 0);
	return 0;
}

void backup_complete_advance(struct session *s)
{
	if (s->pending)
		return;
	history_add(s, "phase", "backup_complete", NULL, NULL, -1, 0,
		    session_now(s) - s->phase_start_usec);
	s->phase = BACKUP_COMPLETE;
	if (s->context & SC_ATTR_PERSISTENT)
		backup_store_document(s); /* now with backup_succeeded */
	history_flush(s);
	session_op_reply(s, json_pack("{s:o}", "writer_failures",
				      session_writer_failures(s, SC_WS_FAILED_AT_BACKUP_COMPLETE,
							      SC_WS_FAILED_AT_BACKUP_COMPLETE)));
}

static void on_deleted(const struct delete_result *res, void *userdata)
{
	struct session *s = userdata;

	s->deleting = NULL;
	session_kick(s);
}

static int collect(const struct catalog_snapshot *row, void *userdata)
{
	return delete_job_add(userdata, row);
}

/* Auto-release snapshots go with their session (T48-T50). */
static void delete_auto_release(struct session *s)
{
	struct delete_job *j;
	int r;

	if (!s->set || !s->set->committed || (s->context & SC_ATTR_NO_AUTO_RELEASE))
		return;
	j = delete_job_new();
	r = j ? catalog_foreach(s->daemon->catalog, &s->set->id, SC_CTX_ALL, collect, j) : -ENOMEM;
	if (r >= 0 && delete_job_count(j) == 0) {
		delete_job_free(j);
		return;
	}
	if (r >= 0)
		r = delete_job_start(s->daemon, j, false, on_deleted, s);
	if (r < 0) {
		/* Recovery deletes them at the next start. */
		log_error_errno(r, "Failed to delete the auto-release snapshots of a session");
		delete_job_free(j);
		return;
	}
	s->deleting = j;
}

/* The requester is gone: what it owed first (A8, B18), then BackupShutdown
 * to its writers whether or not BackupComplete went (T48, T49). */
static bool end_waiting(struct session *s)
{
	switch (s->phase) {
	case BACKUP_SET_STARTED:
		session_set_unlock(s);
		s->phase = BACKUP_ABORTED;
		break;
	case BACKUP_PREPARED:
	case BACKUP_SNAPSHOTS_DONE:
		abort_start(s, -SC_E_CANCELLED);
		return false;
	case BACKUP_PREPARING:
	case BACKUP_SNAPSHOTTING:
	case BACKUP_COMPLETING:
	case BACKUP_ABORTING:
		return false; /* they end by themselves (the first two aborted) */
	default:
		break;
	}
	return s->pending == 0;
}

bool backup_end_advance(struct session *s)
{
	if (s->end == END_WAITING) {
		if (!end_waiting(s))
			return false;
		s->end = END_SHUTDOWN;
		fanout_send(s, SC_EVENT_BACKUP_SHUTDOWN, 0);
		delete_auto_release(s);
		return false;
	}
	if (s->pending || s->deleting)
		return false;
	if (s->initialized)
		log_info("%s ended", session_describe(s));
	session_free(s);
	return true;
}
